/**
 * Issue 10, item 4: every file-system failure of `webgrad train` is one line naming the path and
 * the problem, exit 1, no stack trace; --out is checked before training; one run per --out (a pid
 * lock, stale locks replaced); train/test image sizes and float labels checked before the first
 * epoch; a lost device tells the user how to resume.
 *
 * Tests run as root, which ignores permission bits, so "read-only" and "disk full" use tmpfs mounts
 * (read-only; 64 KiB) when mount is permitted. Where it is not, read-only falls back to /sys (the
 * kernel refuses mkdir there: EPERM or EROFS) and disk full to an injected ENOSPC through the
 * CLI's write hook, run in-process; each test says which one it used.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { parseTrainArgs, trainCommand } from '../src/cli/main.js';
import { acquireOutLock, processAlive, LOCK_NAME } from '../src/cli/lock.js';
import { WebgradError } from '../src/errors.js';
import { getBackend } from '../src/engine.js';
import { init } from '../src/init.js';
import type { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { requireWebGPU, webgpuAvailability } from './helpers/backends.js';
import { expectError } from './helpers/expect-error.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'webgrad.mjs');
const STACK = /^\s+at .+[(:]\d+/m;

function webgrad(args: string[], timeoutMs = 120_000) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, FORCE_COLOR: '0' } });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** One line on stderr, `error: ...`, exit 1, no stack trace. */
function expectOneLineError(r: ReturnType<typeof webgrad>, ...patterns: RegExp[]): string {
  const err = r.stderr.split('\n').filter((l) => l.trim() !== '' && !/^Warning: maxDynamic/.test(l) && !/XDG_RUNTIME_DIR/.test(l));
  expect(r.status, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(1);
  expect(err.length, `expected one line on stderr, got:\n${r.stderr}`).toBe(1);
  expect(err[0]).toMatch(/^error: /);
  expect(r.stderr).not.toMatch(STACK);
  for (const p of patterns) expect(err[0]).toMatch(p);
  return err[0]!;
}

const tmpRoot = mkdtempSync(join(tmpdir(), 'webgrad-cli-files-'));
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) spawnSync('umount', [m]);
  rmSync(tmpRoot, { recursive: true, force: true });
});

/** Mounts a tmpfs (as root); null when mount is not permitted here. */
function tryMount(options: string): string | null {
  const dir = mkdtempSync(join(tmpRoot, 'mnt-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  mounts.push(dir);
  return dir;
}

/** IDX bytes: u8 images [n, rows, cols] or labels [n] (u8, or f32 when given fractions). */
function idx(dims: number[], values: ArrayLike<number>, type: 'u8' | 'f32' = 'u8'): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  header[2] = type === 'u8' ? 0x08 : 0x0d;
  header[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const body = new Uint8Array(values.length * (type === 'u8' ? 1 : 4));
  const bv = new DataView(body.buffer);
  for (let i = 0; i < values.length; i++) {
    if (type === 'u8') body[i] = values[i]!;
    else bv.setFloat32(4 * i, values[i]!, false);
  }
  const out = new Uint8Array(header.length + body.length);
  out.set(header);
  out.set(body, header.length);
  return out;
}

/** A tiny MNIST-format folder: 96 training and 32 test images of side `side` (test side may differ). */
function tinyData(name: string, opts: { side?: number; testSide?: number; floatLabels?: boolean } = {}): string {
  const dir = join(tmpRoot, name);
  mkdirSync(dir, { recursive: true });
  const side = opts.side ?? 8;
  let s = 17;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const write = (stem: string, n: number, sideHere: number) => {
    const labels = Array.from({ length: n }, (_, i) => i % 10);
    const pixels = Array.from({ length: n * sideHere * sideHere }, (_, j) => Math.floor(rnd() * 64) + 16 * labels[Math.floor(j / (sideHere * sideHere))]!);
    writeFileSync(join(dir, `${stem}-images-idx3-ubyte`), idx([n, sideHere, sideHere], pixels));
    const labelValues = opts.floatLabels && stem === 'train' ? labels.map((l, i) => (i === 5 ? 2.5 : l)) : labels;
    // gzip the test labels, as the MNIST downloads are
    const labelBytes = idx([n], labelValues, opts.floatLabels && stem === 'train' ? 'f32' : 'u8');
    writeFileSync(join(dir, stem === 'train' ? 'train-labels-idx1-ubyte' : 't10k-labels-idx1-ubyte.gz'), stem === 'train' ? labelBytes : gzipSync(labelBytes));
  };
  write('train', 96, side);
  write('t10k', 32, opts.testSide ?? side);
  return dir;
}

const COMMON = ['--backend', 'cpu', '--batch-size', '16'];

describe('webgrad train: file-system failures are one line, exit 1, no stack trace', () => {
  const data = tinyData('digits');

  it('a tiny dataset trains end to end (the fixture the other tests rely on works)', () => {
    const out = join(tmpRoot, 'ok');
    const r = webgrad(['train', ...COMMON, '--epochs', '1', '--data', data, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/MLP 64-256-128-10/);
    expect(readdirSync(out).sort()).toEqual(['checkpoint.safetensors', 'metrics.json', 'metrics.svg', 'model.safetensors']);
  });

  it('--resume naming a folder', () => {
    expectOneLineError(webgrad(['train', ...COMMON, '--data', data, '--resume', tmpRoot, '--out', join(tmpRoot, 'r1')]), /resume: /, new RegExp(`${tmpRoot} is a folder, not a file`));
  });

  it('--out naming an existing file', () => {
    const file = join(tmpRoot, 'a-file');
    writeFileSync(file, 'x');
    expectOneLineError(webgrad(['train', ...COMMON, '--data', data, '--out', file]), new RegExp(`--out ${file} is an existing file, not a folder`));
  });

  it('--out under a file (ENOTDIR)', () => {
    const file = join(tmpRoot, 'another-file');
    writeFileSync(file, 'x');
    expectOneLineError(webgrad(['train', ...COMMON, '--data', data, '--out', join(file, 'out')]), /cannot (create|use) .*--out/, new RegExp(file), /ENOTDIR/);
  });

  it('--out on a read-only file system: refused before loading data or training', () => {
    const ro = tryMount('ro,size=64k');
    const target = ro ? join(ro, 'out') : '/sys/webgrad-test-out';
    console.log(`read-only --out: ${ro ? 'a read-only tmpfs mount' : '/sys (mount not permitted here)'}`);
    const line = expectOneLineError(webgrad(['train', ...COMMON, '--data', data, '--out', target]), new RegExp(target), ro ? /read-only \(EROFS\)/ : /EROFS|EPERM|EACCES/);
    expect(line).toMatch(/--out/);
  });

  it('--out on a read-only mount whose folder exists: the write test refuses it before training', async () => {
    const ro = tryMount('ro,size=64k');
    if (!ro) {
      console.log('(mount not permitted: EROFS injected through the write hook instead)');
      const out = join(tmpRoot, 'ro-injected');
      const erofs = () => {
        throw Object.assign(new Error(`EROFS: read-only file system, open '${out}'`), { code: 'EROFS', syscall: 'open', path: out });
      };
      await expectError(() => trainCommand([...COMMON, '--data', data, '--out', out], { writeFile: erofs }), [/cannot write in the --out folder/, /EROFS/]);
      return;
    }
    const r = webgrad(['train', ...COMMON, '--data', data, '--out', ro]);
    expectOneLineError(r, new RegExp(`^error: train: cannot write in the --out folder ${ro}: the file system is read-only \\(EROFS\\)$`));
    expect(r.stdout).not.toMatch(/epoch 1/);
  });

  it('disk full while writing the checkpoint: one line naming the file, nothing half-written left', async () => {
    const small = tryMount('size=64k');
    if (small) {
      const out = join(small, 'out');
      const r = webgrad(['train', ...COMMON, '--epochs', '1', '--data', data, '--out', out]);
      expectOneLineError(r, new RegExp(`cannot write ${join(out, 'checkpoint.safetensors')}`), /no space left .*ENOSPC/);
      expect(readdirSync(out)).toEqual([]); // no temporary file, no lock left behind
      return;
    }
    console.log('(mount not permitted: disk full injected through the write hook)');
    const out = join(tmpRoot, 'full');
    const full = (path: string) => {
      if (path.endsWith('checkpoint.safetensors')) throw new WebgradError(`cannot write ${path}: no space left on the device (disk full) (ENOSPC); any earlier version of the file is intact`);
    };
    await expectError(() => trainCommand([...COMMON, '--epochs', '1', '--data', data, '--out', out], { writeFile: full }), [/checkpoint\.safetensors/, /ENOSPC/]);
  });

  it('a write failure of the probe (injected EROFS) is reported before any data is loaded', async () => {
    const out = join(tmpRoot, 'inj');
    const erofs = () => {
      throw Object.assign(new Error(`EROFS: read-only file system, open '${out}/x'`), { code: 'EROFS', syscall: 'open', path: out });
    };
    const e = await expectError(() => trainCommand([...COMMON, '--data', '/nonexistent', '--out', out], { writeFile: erofs }), [/cannot write in the --out folder/, /read-only \(EROFS\)/]);
    expect(e.message).not.toMatch(/nonexistent/); // the output was checked before the data
    expect(e.message.includes('\n')).toBe(false);
  });
});

describe('webgrad train: data checked before the first epoch', () => {
  it('train and test images of different sizes', () => {
    const dir = tinyData('mixed', { side: 8, testSide: 6 });
    const r = webgrad(['train', ...COMMON, '--data', dir, '--out', join(tmpRoot, 'mixed-out')]);
    expectOneLineError(r, /training images are 8×8/, /test images are 6×6/);
    expect(r.stdout).not.toMatch(/epoch 1/);
  });

  it('float values in an IDX label file are refused, not truncated', () => {
    const dir = tinyData('floats', { floatLabels: true });
    expectOneLineError(webgrad(['train', ...COMMON, '--data', dir, '--out', join(tmpRoot, 'floats-out')]), /label 2\.5 at index 5 is not an integer/, /train-labels-idx1-ubyte/);
  });

  it('a checkpoint for another image size is refused before training', () => {
    const big = tinyData('big', { side: 10 });
    const out = join(tmpRoot, 'big-out');
    expect(webgrad(['train', ...COMMON, '--epochs', '1', '--data', big, '--out', out]).status).toBe(0);
    const r = webgrad(['train', ...COMMON, '--epochs', '2', '--data', tinyData('small8'), '--resume', join(out, 'checkpoint.safetensors'), '--out', join(tmpRoot, 'big-out-2')]);
    expectOneLineError(r, /holds a model for 100 inputs/, /8×8/);
  });

  it('--seed is range-checked when parsed', async () => {
    await expectError(() => parseTrainArgs(['--seed', String(2 ** 53)]), [/--seed must be a non-negative integer below 2\^53/, /9007199254740992/]);
    await expectError(() => parseTrainArgs(['--seed', '1e300']), [/--seed/]);
    expect(parseTrainArgs(['--seed', String(2 ** 53 - 1)])!.config.seed).toBe(2 ** 53 - 1);
  });
});

describe('one webgrad train per --out folder', () => {
  const data = tinyData('lockdata');

  it('the lock API: a live owner refuses, a dead owner is replaced, release removes only our lock', async () => {
    const dir = mkdtempSync(join(tmpRoot, 'lock-'));
    const sleeper = spawn('sleep', ['60']);
    try {
      const live = sleeper.pid!;
      expect(processAlive(live)).toBe(true);
      const held = acquireOutLock(dir, live);
      await expectError(() => acquireOutLock(dir), [/in use by another webgrad train \(pid \d+\)/, new RegExp(LOCK_NAME)]);
      held.release();
      expect(existsSync(join(dir, LOCK_NAME))).toBe(false);
    } finally {
      sleeper.kill();
    }
    // A dead process's pid: run one to completion and reuse its pid.
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(gone.stdout.trim());
    expect(processAlive(deadPid)).toBe(false);
    writeFileSync(join(dir, LOCK_NAME), `${deadPid}\n`);
    const mine = acquireOutLock(dir);
    expect(mine.replacedPid).toBe(deadPid);
    mine.release();
    expect(existsSync(join(dir, LOCK_NAME))).toBe(false);
  });

  it('two webgrad train processes with the same --out: the second refuses; SIGTERM on the first releases the lock', async () => {
    const out = join(tmpRoot, 'shared-out');
    // The first run has far more epochs than it can finish while the second starts; it is killed below.
    const first = spawn(process.execPath, [BIN, 'train', ...COMMON, '--epochs', '100000', '--data', data, '--out', out], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let firstOut = '';
    first.stdout.on('data', (b) => (firstOut += String(b)));
    const exited = new Promise<number | null>((r) => first.on('exit', (code) => r(code)));
    try {
      // Wait until the first run holds the lock and has finished an epoch (a checkpoint exists).
      while (!existsSync(join(out, 'checkpoint.safetensors'))) {
        if (first.exitCode !== null) throw new Error(`the first run ended early:\n${firstOut}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const r = webgrad(['train', ...COMMON, '--epochs', '1', '--data', data, '--out', out]);
      expectOneLineError(r, new RegExp(`--out folder ${out} is in use by another webgrad train \\(pid ${first.pid}\\)`));
      expect(existsSync(join(out, 'model.safetensors'))).toBe(false); // the second wrote nothing
    } finally {
      first.kill('SIGTERM');
    }
    expect(await exited).toBe(143);
    expect(existsSync(join(out, LOCK_NAME))).toBe(false);
  });

  it('a stale lock from a dead process is detected and replaced by the binary', () => {
    const out = join(tmpRoot, 'stale-out');
    mkdirSync(out, { recursive: true });
    const gone = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    writeFileSync(join(out, LOCK_NAME), gone.stdout);
    const r = webgrad(['train', ...COMMON, '--epochs', '1', '--data', data, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`replaced a stale lock left by pid ${gone.stdout.trim()}`));
    expect(existsSync(join(out, LOCK_NAME))).toBe(false);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
  });
});

describe('a device lost during webgrad train', () => {
  it('ends with one paragraph telling the user to rerun with --resume and the checkpoint path', async () => {
    const gpu = await webgpuAvailability();
    if (!gpu.available) {
      expect(requireWebGPU).toBe(false);
      return;
    }
    const data = tinyData('lost');
    const out = join(tmpRoot, 'lost-out');
    const lose = (epoch: number) => {
      if (epoch === 1) (getBackend('webgpu') as WebGPUBackend).device.destroy();
    };
    try {
      const e = await expectError(() => trainCommand(['--backend', 'webgpu', '--batch-size', '16', '--epochs', '3', '--data', data, '--out', out], { afterEpoch: lose }), [
        /WebGPU device was lost during epoch 2/,
        new RegExp(`--resume ${join(out, 'checkpoint.safetensors')}`),
      ]);
      expect(e.message).not.toMatch(/await init/);
      expect(e.message.includes('\n')).toBe(false);
      expect(existsSync(join(out, 'model.safetensors'))).toBe(false);
      expect(existsSync(join(out, LOCK_NAME))).toBe(false);
    } finally {
      await init({ backend: 'webgpu', autotune: false }); // the suites run the default kernels, never a timing-based choice
      await init({ backend: 'cpu' });
    }
  });
});
