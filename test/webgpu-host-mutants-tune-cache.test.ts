/**
 * Where the tunes keep their records and which records are trusted (src/backend/webgpu/tune-cache.ts):
 * parseTuneRecord case by case, the per-user cache folder and its file names (FNV-1a of the
 * adapter), the atomic write and its failures, the localStorage store and the store of a runtime
 * with neither. Written against the mutants StrykerJS left alive there (WEBGRAD_MUTATE_SCOPE=
 * webgpu-tune); no adapter needed. Every test runs in a temporary XDG_CACHE_HOME.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeCacheDir, nodeCacheFile, parseTuneRecord, TUNE_CACHE_VERSION, tuneStore, type TuneCacheRules } from '../src/backend/webgpu/tune-cache.js';

const home = mkdtempSync(join(tmpdir(), 'webgrad-tune-cache-mutants-'));
const saved = { xdg: process.env.XDG_CACHE_HOME };
beforeAll(() => {
  process.env.XDG_CACHE_HOME = home;
});
afterEach(() => {
  vi.unstubAllGlobals();
  process.env.XDG_CACHE_HOME = home;
});
afterAll(() => {
  if (saved.xdg === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = saved.xdg;
  rmSync(home, { recursive: true, force: true });
});

const RULES: TuneCacheRules = {
  patterns: ['NT', 'NN'],
  allowed: [{ design: 'blocked', shape: [4, 4] }, { design: 'tiled', shape: [8, 8] }, { design: 'tiled', shape: [16, 4] }] as TuneCacheRules['allowed'],
  maxInvocations: 64,
  designs: 'blocked,tiled',
};
const A = 'vendor / arch / device';
const rec = (choices: unknown, top: Record<string, unknown> = {}): string =>
  JSON.stringify({ version: TUNE_CACHE_VERSION, adapter: A, designs: 'blocked,tiled', choices, ...top });
const GOOD = { NT: { design: 'blocked', shape: [4, 4] }, NN: { design: 'tiled', shape: [8, 8] } };

describe('parseTuneRecord', () => {
  it('returns the choices of a good record, in the rules’ pattern order, as fresh objects', () => {
    const raw = rec({ NN: GOOD.NN, NT: GOOD.NT });
    const got = parseTuneRecord(raw, A, RULES)!;
    expect(got).toEqual(GOOD);
    expect(Object.keys(got)).toEqual(['NT', 'NN']);
    // Exactly maxInvocations (8·8 = 64) is allowed.
    expect(parseTuneRecord(rec({ NT: { design: 'tiled', shape: [16, 4] }, NN: GOOD.NN }), A, RULES)).toEqual({ NT: { design: 'tiled', shape: [16, 4] }, NN: GOOD.NN });
    expect(parseTuneRecord(rec(GOOD), A, { ...RULES, maxInvocations: 63 })).toBeNull();
  });

  it('refuses each kind of bad record', () => {
    const bad: [string, string][] = [
      ['not JSON', '{"version":'],
      ['null', 'null'],
      ['a number', '7'],
      ['another version', rec(GOOD, { version: TUNE_CACHE_VERSION - 1 })],
      ['another adapter', rec(GOOD, { adapter: 'other' })],
      ['another design set', rec(GOOD, { designs: 'tiled,blocked' })],
      ['choices null', rec(null)],
      ['choices an array', rec([GOOD.NT, GOOD.NN])],
      ['a pattern missing', rec({ NT: GOOD.NT })],
      ['a pattern renamed', rec({ NT: GOOD.NT, TT: GOOD.NN })],
      ['an extra pattern', rec({ ...GOOD, TN: GOOD.NT })],
      ['a choice null', rec({ ...GOOD, NN: null })],
      ['a choice without its design', rec({ ...GOOD, NN: { shape: [8, 8] } })],
      ['a choice with a third field', rec({ ...GOOD, NN: { ...GOOD.NN, why: 'x' } })],
      ['a shape of three numbers', rec({ ...GOOD, NT: { design: 'blocked', shape: [4, 4, 1] } })],
      ['a shape of one number', rec({ ...GOOD, NT: { design: 'blocked', shape: [4] } })],
      ['a shape that is an object', rec({ ...GOOD, NT: { design: 'blocked', shape: { 0: 4, 1: 4, length: 2 } } })],
      ['a design with a shape of another', rec({ ...GOOD, NT: { design: 'blocked', shape: [8, 8] } })],
      ['an unknown design', rec({ ...GOOD, NT: { design: 'magic', shape: [4, 4] } })],
      ['x and y swapped', rec({ ...GOOD, NT: { design: 'tiled', shape: [4, 16] } })],
      ['x not allowed with that y', rec({ ...GOOD, NT: { design: 'blocked', shape: [2, 4] } })],
      ['y not allowed with that x', rec({ ...GOOD, NT: { design: 'blocked', shape: [4, 2] } })],
    ];
    for (const [why, raw] of bad) expect(parseTuneRecord(raw, A, RULES), why).toBeNull();
  });
});

describe('the Node store', () => {
  it('file names: <kind>-tune-<FNV-1a of the adapter, 8 hex digits>.json in $XDG_CACHE_HOME/webgrad', async () => {
    expect(await nodeCacheDir()).toBe(join(home, 'webgrad'));
    expect(await nodeCacheFile('abc')).toBe(join(home, 'webgrad', 'matmul-tune-1a47e90b.json'));
    expect(await nodeCacheFile('a305', 'reduce')).toBe(join(home, 'webgrad', 'reduce-tune-0fa1f076.json'));
    expect(await nodeCacheFile('abc', 'batchnorm')).toBe(join(home, 'webgrad', 'batchnorm-tune-1a47e90b.json'));
  });

  it('the folder: an absolute XDG_CACHE_HOME, else ~/.cache', async () => {
    // os.homedir(), not $HOME: StrykerJS runs the suites in worker threads, whose process.env is their own copy.
    const dotCache = join(homedir(), '.cache', 'webgrad');
    process.env.XDG_CACHE_HOME = 'rel/cache';
    expect(await nodeCacheDir()).toBe(dotCache);
    process.env.XDG_CACHE_HOME = '';
    expect(await nodeCacheDir()).toBe(dotCache);
    delete process.env.XDG_CACHE_HOME;
    expect(await nodeCacheDir()).toBe(dotCache);
    expect(await nodeCacheFile('abc', 'reduce')).toBe(join(dotCache, 'reduce-tune-1a47e90b.json'));
    process.env.XDG_CACHE_HOME = join(home, 'x');
    expect(await nodeCacheDir()).toBe(join(home, 'x', 'webgrad'));
  });

  it('writes a private file in a private folder, atomically, per kind; reads it back; a missing one is null', async () => {
    const xdg = join(home, 'w');
    process.env.XDG_CACHE_HOME = xdg;
    const store = tuneStore('batchnorm');
    expect(store.where).toBe('the per-user cache folder ($XDG_CACHE_HOME/webgrad or ~/.cache/webgrad)');
    expect(await store.get('dev')).toBeNull();
    await store.set('dev', '{"a":1}');
    const dir = join(xdg, 'webgrad');
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const file = (await nodeCacheFile('dev', 'batchnorm'))!;
    expect(readdirSync(dir)).toEqual([file.slice(dir.length + 1)]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}');
    expect(await store.get('dev')).toBe('{"a":1}');
    expect(await tuneStore('matmul').get('dev')).toBeNull();
    expect(await tuneStore().get('dev')).toBeNull();
    await tuneStore().set('dev', 'm');
    expect(await tuneStore('matmul').get('dev')).toBe('m');
  });

  it('a write that fails leaves no temporary file and does not throw', async () => {
    // The file's place is taken by a non-empty folder: the rename fails after the temporary file was written.
    const xdg = join(home, 'r');
    process.env.XDG_CACHE_HOME = xdg;
    const file = (await nodeCacheFile('dev'))!;
    mkdirSync(join(file, 'inside'), { recursive: true });
    await expect(tuneStore().set('dev', 'value')).resolves.toBeUndefined();
    expect(readdirSync(join(xdg, 'webgrad'))).toEqual([file.slice(join(xdg, 'webgrad').length + 1)]);
    // The folder's place is taken by a file: nothing is written.
    const blocked = join(home, 'b');
    mkdirSync(blocked);
    writeFileSync(join(blocked, 'webgrad'), 'not a folder');
    process.env.XDG_CACHE_HOME = blocked;
    await expect(tuneStore().set('dev', 'value')).resolves.toBeUndefined();
    expect(readdirSync(blocked)).toEqual(['webgrad']);
    expect(await tuneStore().get('dev')).toBeNull();
  });
});

describe('the browser and bare stores', () => {
  it('localStorage, under webgrad-<kind>-tune:<adapter>; its failures cost only the cache', async () => {
    const items = new Map<string, string>();
    vi.stubGlobal('localStorage', {
      getItem: (k: string) => items.get(k) ?? null,
      setItem: (k: string, v: string) => void items.set(k, v),
    });
    const store = tuneStore('reduce');
    expect(store.where).toBe('localStorage');
    await store.set('dev', 'v1');
    await tuneStore().set('dev', 'v2');
    expect([...items]).toEqual([['webgrad-reduce-tune:dev', 'v1'], ['webgrad-matmul-tune:dev', 'v2']]);
    expect(await store.get('dev')).toBe('v1');
    expect(await tuneStore('matmul').get('dev')).toBe('v2');
    vi.stubGlobal('localStorage', {
      getItem: () => {
        throw new Error('denied');
      },
      setItem: () => {
        throw new Error('quota');
      },
    });
    const failing = tuneStore();
    await expect(failing.set('dev', 'v')).resolves.toBeUndefined();
    await expect(failing.get('dev')).resolves.toBeNull();
  });

  it('a runtime with neither keeps nothing', async () => {
    vi.stubGlobal('process', { versions: {}, env: {} });
    const store = tuneStore();
    const dir = nodeCacheDir();
    const file = nodeCacheFile('dev');
    // No process at all, or one without versions: the same.
    vi.stubGlobal('process', undefined);
    const bare = tuneStore();
    vi.stubGlobal('process', {});
    const odd = tuneStore();
    vi.unstubAllGlobals();
    expect([bare.where, odd.where]).toEqual(['nowhere', 'nowhere']);
    expect(store.where).toBe('nowhere');
    expect(await dir).toBeNull();
    expect(await file).toBeNull();
    await store.set('dev', 'v');
    expect(await store.get('dev')).toBeNull();
  });
});
