/**
 * The matmul autotune cache (issue 10, item 7): kept in a per-user cache folder, validated on read
 * (anything malformed, stale, planted or for another adapter is ignored and rewritten), written
 * atomically. Every test runs in a temporary XDG_CACHE_HOME.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSoftwareAdapter, WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { acquireDevice } from '../src/backend/webgpu/device.js';
import {
  nodeCacheDir,
  nodeCacheFile,
  parseTuneRecord,
  TUNE_CACHE_VERSION,
  tuneStore,
  type TuneCacheRules,
} from '../src/backend/webgpu/tune-cache.js';
import { requireWebGPU } from './helpers/backends.js';
import { designAvailable, MATMUL_DESIGNS } from '../src/backend/webgpu/matmul.js';

/** The design set a current record names (on a device with every design available). */
const DESIGNS = MATMUL_DESIGNS.join(',');

const home = mkdtempSync(join(tmpdir(), 'webgrad-xdg-'));
const savedXdg = process.env.XDG_CACHE_HOME;
beforeAll(() => {
  process.env.XDG_CACHE_HOME = home;
});
afterAll(() => {
  if (savedXdg === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = savedXdg;
  rmSync(home, { recursive: true, force: true });
});

/** A blocked-design choice, and a tiled one (what a record stores per access pattern). */
const B = (x: unknown, y: unknown, ...more: unknown[]) => ({ design: 'blocked', shape: [x, y, ...more] });
const T = (x: number, y: number) => ({ design: 'tiled', shape: [x, y] });
const RULES: TuneCacheRules = {
  patterns: ['NT', 'NN', 'TN'],
  allowed: [B(4, 4), B(8, 4), B(16, 4), B(8, 8), T(8, 8), T(16, 16)] as unknown as TuneCacheRules['allowed'],
  maxInvocations: 256,
  designs: DESIGNS,
};
const ADAPTER = 'test vendor / test arch / test device';
const GOOD = { NT: B(4, 4), NN: B(16, 4), TN: T(8, 8) };
const good = (choices: Record<string, unknown> = GOOD, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ version: TUNE_CACHE_VERSION, adapter: ADAPTER, designs: DESIGNS, choices, ...extra });

describe('parseTuneRecord: only a well-formed, current record for this adapter is used', () => {
  it('accepts a good record', () => {
    expect(parseTuneRecord(good(), ADAPTER, RULES)).toEqual(GOOD);
    expect(parseTuneRecord(good({ NT: T(16, 16), NN: B(8, 8), TN: B(4, 4) }), ADAPTER, RULES)).toEqual({ NT: T(16, 16), NN: B(8, 8), TN: B(4, 4) });
  });

  it('ignores corrupt, stale, planted and foreign records', () => {
    const bad: [string, string][] = [
      ['truncated JSON', good().slice(0, 30)],
      ['not JSON', 'garbage \u0000\u0001'],
      ['empty', ''],
      ['null', 'null'],
      ['an array', '[1, 2]'],
      ['stale: the version-1 format', JSON.stringify({ version: 1, shapes: { NT: [4, 4], NN: [16, 4], TN: [8, 8] } })],
      ['stale: the version-2 format (shapes only)', JSON.stringify({ version: 2, adapter: ADAPTER, shapes: { NT: [4, 4], NN: [16, 4], TN: [8, 8] } })],
      ['the version-2 shapes under the current version', JSON.stringify({ version: TUNE_CACHE_VERSION, adapter: ADAPTER, shapes: { NT: [4, 4], NN: [16, 4], TN: [8, 8] } })],
      ['an unknown design', good({ NT: { design: 'magic', shape: [4, 4] }, NN: B(16, 4), TN: T(8, 8) })],
      ['a shape allowed for another design only', good({ NT: T(4, 4), NN: B(16, 4), TN: T(8, 8) })],
      ['a choice with an extra field', good({ NT: { ...B(4, 4), x: 1 }, NN: B(16, 4), TN: T(8, 8) })],
      ['a choice that is a bare shape', good({ NT: [4, 4], NN: B(16, 4), TN: T(8, 8) })],
      ['stale: another version', good(undefined, { version: TUNE_CACHE_VERSION + 1 })],
      ['another adapter', good(undefined, { adapter: 'some other GPU' })],
      ['tuned over another design set', good(undefined, { designs: 'blocked,tiled' })],
      ['no design set', good(undefined, { designs: undefined })],
      ['stale: the version-3 format (no design set)', JSON.stringify({ version: 3, adapter: ADAPTER, choices: GOOD })],
      ['a missing pattern', good({ NT: B(4, 4), NN: B(16, 4) })],
      ['an extra pattern', good({ ...GOOD, TT: B(4, 4) })],
      ['planted: a shape the tune never picks', good({ NT: B(64, 64), NN: B(16, 4), TN: T(8, 8) })],
      ['planted: too many invocations', good().replace('[8,8]', '[32,32]')],
      ['a shape of three numbers', good({ NT: B(4, 4, 1), NN: B(16, 4), TN: T(8, 8) })],
      ['a fractional shape', good({ NT: B(4.5, 4), NN: B(16, 4), TN: T(8, 8) })],
      ['strings for numbers', good({ NT: B('4', '4'), NN: B(16, 4), TN: T(8, 8) })],
      ['choices not an object', good(undefined, { choices: [[4, 4]] })],
    ];
    for (const [why, raw] of bad) expect(parseTuneRecord(raw, ADAPTER, RULES), why).toBeNull();
    // Max invocations is checked even for a shape on the allowed list.
    expect(parseTuneRecord(good(), ADAPTER, { ...RULES, maxInvocations: 32 })).toBeNull();
  });
});

describe('the cache file', () => {
  it('lives in $XDG_CACHE_HOME/webgrad, else ~/.cache/webgrad, never the shared temp folder', async () => {
    expect(await nodeCacheDir()).toBe(join(home, 'webgrad'));
    const file = (await nodeCacheFile(ADAPTER))!;
    expect(file.startsWith(join(home, 'webgrad') + '/')).toBe(true);
    const savedHome = process.env.HOME;
    try {
      // A relative XDG_CACHE_HOME is invalid (XDG spec) and ignored.
      process.env.XDG_CACHE_HOME = 'relative/cache';
      process.env.HOME = join(home, 'home');
      expect(await nodeCacheDir()).toBe(join(home, 'home', '.cache', 'webgrad'));
      delete process.env.XDG_CACHE_HOME;
      expect(await nodeCacheDir()).toBe(join(home, 'home', '.cache', 'webgrad'));
    } finally {
      process.env.XDG_CACHE_HOME = home;
      if (savedHome === undefined) delete process.env.HOME;
      else process.env.HOME = savedHome;
    }
  });

  it('is written atomically into a private folder, leaving no temporary file', async () => {
    const store = tuneStore();
    await store.set(ADAPTER, good());
    const file = (await nodeCacheFile(ADAPTER))!;
    expect(readFileSync(file, 'utf8')).toBe(good());
    const dir = join(home, 'webgrad');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // Many writers at once: the file is always one whole record.
    const records = Array.from({ length: 20 }, (_, i) => good(GOOD, { n: i }));
    await Promise.all(records.map((r) => store.set(ADAPTER, r)));
    expect(records).toContain(readFileSync(file, 'utf8'));
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(await store.get(ADAPTER)).toBe(readFileSync(file, 'utf8'));
    rmSync(file);
  });

  it('a write that cannot happen costs nothing but the cache', async () => {
    const store = tuneStore();
    // The cache folder's place is taken by a file: mkdir fails, set() must not throw.
    const blocked = mkdtempSync(join(tmpdir(), 'webgrad-xdg-blocked-'));
    writeFileSync(join(blocked, 'webgrad'), 'not a folder');
    process.env.XDG_CACHE_HOME = blocked;
    try {
      await expect(store.set(ADAPTER, good())).resolves.toBeUndefined();
      expect(await store.get(ADAPTER)).toBeNull();
    } finally {
      process.env.XDG_CACHE_HOME = home;
      rmSync(blocked, { recursive: true, force: true });
    }
  });
});

describe('a bad cache file does not break matmul: it is ignored and rewritten', () => {
  let available = false;
  let adapter = '';
  let file = '';
  /** This device's design set: without 'subgroups' (or a fixed size ≤ 16) fewer designs run. */
  let deviceDesigns = '';
  beforeAll(async () => {
    try {
      const d = await acquireDevice();
      adapter = d.adapterInfo;
      deviceDesigns = MATMUL_DESIGNS.filter((x) => designAvailable(d, x)).join(',');
      d.device.destroy();
      available = true;
      file = (await nodeCacheFile(adapter))!;
      mkdirSync(join(home, 'webgrad'), { recursive: true, mode: 0o700 });
    } catch (e) {
      if (requireWebGPU) throw e;
      console.warn(`autotune-cache: no WebGPU adapter, device tests skipped: ${e instanceof Error ? e.message : String(e)}`);
    }
  });

  /** Starts a backend with autotune, checks a matmul against a plain loop, returns its choices. */
  async function startAndCheck(): Promise<Map<string, unknown>> {
    const gpu = await WebGPUBackend.create({ autotune: true });
    try {
      const m = 19, k = 23, n = 17;
      const a = Float32Array.from({ length: m * k }, (_, i) => ((i * 7) % 13) - 6);
      const b = Float32Array.from({ length: k * n }, (_, i) => ((i * 5) % 11) - 5);
      const sa = gpu.upload(a, 'float32');
      const sb = gpu.upload(b, 'float32');
      for (const [transA, transB] of [[false, false], [false, true], [true, false]] as const) {
        // Same data, read as transposed where asked: the reference indexes the same way.
        const at = (i: number, p: number) => (transA ? a[p * m + i]! : a[i * k + p]!);
        const bt = (p: number, j: number) => (transB ? b[j * k + p]! : b[p * n + j]!);
        const out = gpu.matmul(sa, sb, { batch: 1, m, k, n, transA, transB, aBatchStride: 0, bBatchStride: 0 });
        const got = await gpu.read(out);
        gpu.release(out);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let want = 0;
            for (let p = 0; p < k; p++) want += at(i, p) * bt(p, j);
            expect(got[i * n + j], `matmul ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} [${i}, ${j}]`).toBe(want);
          }
        }
      }
      gpu.release(sa);
      gpu.release(sb);
      return new Map([...gpu.matmulChoices].map(([key, c]) => [key, { design: c.design, shape: [...c.shape] }]));
    } finally {
      gpu.destroy();
    }
  }

  const cases: [string, () => string][] = [
    ['corrupt', () => '{"version": 2, "adapter": "' + adapter.slice(0, 3)],
    ['planted with a wrong shape', () => JSON.stringify({ version: TUNE_CACHE_VERSION, adapter, designs: deviceDesigns, choices: { NT: B(64, 64), NN: B(64, 64), TN: T(64, 64) } })],
    ['stale (the version-1 format in use before)', () => JSON.stringify({ version: 1, shapes: { NT: [4, 4], NN: [16, 4], TN: [4, 4] } })],
    ['stale (tuned over another design set)', () => JSON.stringify({ version: TUNE_CACHE_VERSION, adapter, designs: 'blocked,tiled', choices: { NT: B(8, 8), NN: T(16, 8), TN: T(16, 4) } })],
  ];
  for (const [what, content] of cases) {
    it(`a ${what} file`, async (ctx) => {
      if (!available) ctx.skip();
      writeFileSync(file, content());
      const shapes = await startAndCheck();
      const rewritten = readFileSync(file, 'utf8');
      expect(rewritten).not.toBe(content());
      const parsed = JSON.parse(rewritten) as { version: number; adapter: string; designs: string; choices: Record<string, { design: string; shape: number[] }> };
      expect(parsed.version).toBe(TUNE_CACHE_VERSION);
      expect(parsed.designs).toBe(deviceDesigns);
      expect(parsed.adapter).toBe(adapter);
      expect(new Map(Object.entries(parsed.choices))).toEqual(shapes);
      for (const c of Object.values(parsed.choices)) expect(c.shape[0]! * c.shape[1]!).toBeLessThanOrEqual(256);
    }, 300_000);
  }

  it('a good file is used as it is, without re-tuning', async (ctx) => {
    if (!available) ctx.skip();
    // Shapes the tune could pick but that are unlikely to be what it would measure: proves the file is read.
    // A hardware adapter's record also holds the large-product class (tunePatterns).
    const large = isSoftwareAdapter(adapter) ? {} : { 'NT:large': T(8, 8), 'NN:large': B(4, 8), 'TN:large': T(16, 16) };
    const choices = { NT: B(8, 8), NN: T(16, 8), TN: T(16, 4), ...large };
    const record = JSON.stringify({ version: TUNE_CACHE_VERSION, adapter, designs: deviceDesigns, choices });
    writeFileSync(file, record);
    const before = statSync(file).mtimeMs;
    const shapes = await startAndCheck();
    expect(shapes).toEqual(new Map<string, unknown>(Object.entries(choices)));
    expect(readFileSync(file, 'utf8')).toBe(record);
    expect(statSync(file).mtimeMs).toBe(before);
  }, 300_000);
});
