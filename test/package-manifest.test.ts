/**
 * What package.json promises users (the slow end-to-end check, packing, an offline install and
 * consumer type-checks, is `npm run check:package`): Dawn and the CLI's extras are optional peers,
 * never installed for library users, yet installed in a checkout; the source maps carry their
 * sources; `webgrad/node` has a types path for moduleResolution node10; README links resolve.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface Manifest {
  dependencies?: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  exports: Record<string, { types?: string }>;
  typesVersions: Record<string, Record<string, string[]>>;
  scripts: Record<string, string>;
}
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as Manifest;
const optionalPeers = ['webgpu', 'mnist', 'vega', 'vega-lite', 'cli-progress'];

describe('package.json', () => {
  it('Dawn (webgpu, 132 MB) and the CLI extras are optional peer dependencies, not dependencies', () => {
    for (const name of optionalPeers) {
      expect(pkg.dependencies?.[name], name).toBeUndefined();
      expect(pkg.peerDependencies[name], name).toBeDefined();
      expect(pkg.peerDependenciesMeta[name]?.optional, name).toBe(true);
      // The checkout's own tests and CLI need them: `npm ci` installs dev dependencies.
      expect(pkg.devDependencies[name], name).toBe(pkg.peerDependencies[name]);
    }
    expect(Object.keys(pkg.dependencies ?? {})).toEqual([]);
  });

  it("gives 'webgrad/node' a types path under node10 resolution (typesVersions) matching the exports map", () => {
    expect(pkg.typesVersions['*']!['node']).toEqual([pkg.exports['./node']!.types]);
    expect(pkg.scripts['check:package']).toBe('node scripts/check-package.mjs');
  });

  it('emits source maps that carry their sources (the package has no src/)', () => {
    const text = readFileSync('tsconfig.build.json', 'utf8').replace(/^\s*\/\/.*$/gm, '');
    const build = JSON.parse(text) as { compilerOptions: { sourceMap?: boolean; inlineSources?: boolean } };
    expect(build.compilerOptions.sourceMap).toBe(true);
    expect(build.compilerOptions.inlineSources).toBe(true);
  });
});

describe('README', () => {
  it('every relative link and image points at a file of the repository', () => {
    const readme = readFileSync('README.md', 'utf8');
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^(https?:|#|mailto:)/.test(l));
    expect(links.length).toBeGreaterThan(2);
    for (const l of links) expect(existsSync(l.split('#')[0]!), l).toBe(true);
  });
});
