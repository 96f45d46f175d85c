/**
 * Packaging for bundlers: the main entry ('webgrad' → src/index.ts → dist/src/index.js) reaches no
 * Node-only module through static imports or literal dynamic imports, the exports map points at
 * what `npm run build` emits (with .d.ts), and 'webgrad/node' holds the Node helpers.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from './harness.js';

/** Every module reachable from `entry` through static imports/re-exports and import('literal'). */
function reachable(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const queue = [entry];
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    const code = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const specs = [
      ...code.matchAll(/^\s*(?:import|export)\s(?!type\s)[^;]*?from\s*['"]([^'"]+)['"]/gm),
      ...code.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm),
      // Literal dynamic imports (not type queries such as typeof import('x')).
      ...code.matchAll(/(?<!typeof\s*)\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1]!);
    seen.set(file, specs);
    for (const s of specs) {
      if (s.startsWith('.')) queue.push(resolve(dirname(file), s.replace(/\.js$/, '.ts')));
    }
  }
  return seen;
}

describe('package: browser-safe entry and exports map', () => {
  it("reaches no Node-only module from 'webgrad' (src/index.ts)", () => {
    const graph = reachable(join(repoRoot, 'src', 'index.ts'));
    expect(graph.size).toBeGreaterThan(20);
    const offenders: string[] = [];
    for (const [file, specs] of graph) {
      for (const s of specs) if (!s.startsWith('.')) offenders.push(`${relative(repoRoot, file)} imports '${s}'`);
    }
    expect(offenders).toEqual([]);
    for (const file of graph.keys()) expect(relative(repoRoot, file)).not.toMatch(/-node\.ts$|src\/node\.ts$|src\/cli\//);
  });

  it('maps . and ./node to the build output with types', () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      exports: Record<string, Record<string, string> | string>; sideEffects: boolean; type: string;
    };
    expect(pkg.type).toBe('module');
    expect(pkg.sideEffects).toBe(false);
    const main = pkg.exports['.'] as Record<string, string>;
    const node = pkg.exports['./node'] as Record<string, string>;
    expect(Object.keys(main)[0]).toBe('types'); // types first, as TypeScript requires
    expect(Object.keys(node)[0]).toBe('types');
    // Each target is what tsc emits for a source file (rootDir '.', outDir 'dist').
    for (const [target, source] of [[main.types, 'src/index.ts'], [main.import, 'src/index.ts'], [node.types, 'src/node.ts'], [node.default, 'src/node.ts']] as const) {
      expect(target!.replace(/^\.\/dist\//, '').replace(/\.d\.ts$|\.js$/, '.ts')).toBe(source);
      expect(existsSync(join(repoRoot, source))).toBe(true);
    }
  });

  it("'webgrad/node' exports the Node helpers", async () => {
    const mod = await import('../../src/node.js');
    for (const name of ['loadMnistDir', 'loadEmbeddedDigits', 'readIdxFile', 'writeFileAtomic', 'encodeCheckpoint', 'restoreCheckpoint']) {
      expect(typeof (mod as Record<string, unknown>)[name], name).toBe('function');
    }
  });
});
