/**
 * `webgrad train`: argument parsing (defaults, each bad option named), --help, one end-to-end run
 * of the real binary (WebGPU when an adapter exists or CI requires one, else the CPU backend)
 * writing the model, checkpoint, metrics and chart, resuming from that checkpoint, and a missing
 * data folder reported in one line without a stack trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseTrainArgs } from '../src/cli/main.js';
import { decodeSafetensors } from '../src/io/safetensors.js';
import { readCheckpointMeta } from '../src/train/checkpoint.js';
import { WebgradError } from '../src/errors.js';
import { requireWebGPU, webgpuAvailability } from './helpers/backends.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'webgrad.mjs');

function webgrad(args: string[], timeoutMs = 180_000) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, FORCE_COLOR: '0' } });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', error: r.error };
}

const STACK = /^\s+at .+[(:]\d+/m;

const tmpRoot = mkdtempSync(join(tmpdir(), 'webgrad-cli-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));

describe('parseTrainArgs', () => {
  it('defaults', () => {
    const o = parseTrainArgs([])!;
    expect(o).toMatchObject({
      config: {
        epochs: 10, batchSize: 128, lr: 1e-3, optimizer: 'adam', momentum: 0.9, weightDecay: 0, seed: 1,
        model: { inputs: 784, hidden: [256, 128], outputs: 10, activation: 'relu', batchNorm: true, dropout: 0.2, init: 'he' },
      },
      backend: 'auto', data: null, out: 'out', resume: null,
    });
    expect(parseTrainArgs(['--optimizer', 'sgd'])!.config.lr).toBe(0.05);
  });

  it('reads every option', () => {
    const o = parseTrainArgs(['--epochs', '3', '--batch-size', '32', '--lr', '0.01', '--optimizer', 'sgd', '--backend', 'cpu', '--seed', '0', '--data', 'd', '--out', 'o', '--resume', 'r.safetensors'])!;
    expect(o.config).toMatchObject({ epochs: 3, batchSize: 32, lr: 0.01, optimizer: 'sgd', seed: 0 });
    expect([o.backend, o.data, o.out, o.resume]).toEqual(['cpu', 'd', 'o', 'r.safetensors']);
    expect(parseTrainArgs(['--epochs=2'])!.config.epochs).toBe(2);
  });

  it('--help and -h give null (print usage)', () => {
    expect(parseTrainArgs(['--help'])).toBeNull();
    expect(parseTrainArgs(['-h'])).toBeNull();
  });

  const bad: [string[], RegExp][] = [
    [['--epochs=-1'], /--epochs must be a positive integer, got '-1'/],
    [['--epochs', '0'], /--epochs must be a positive integer, got '0'/],
    [['--epochs', '1.5'], /--epochs must be a positive integer/],
    [['--epochs', 'ten'], /--epochs must be a positive integer, got 'ten'/],
    [['--batch-size', '0'], /--batch-size must be a positive integer/],
    [['--optimizer', 'rmsprop'], /--optimizer must be adam or sgd, got 'rmsprop'/],
    [['--lr', '0'], /--lr must be a positive number, got '0'/],
    [['--lr=-0.1'], /--lr must be a positive number/],
    [['--lr', 'fast'], /--lr must be a positive number, got 'fast'/],
    [['--lr', 'Infinity'], /--lr must be a positive number/],
    [['--backend', 'metal'], /--backend must be webgpu, cpu or auto, got 'metal'/],
    [['--seed=-3'], /--seed must be a non-negative integer/],
  ];
  for (const [argv, re] of bad) {
    it(`refuses ${argv.join(' ')}`, () => {
      let caught: unknown = null;
      try {
        parseTrainArgs(argv);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(WebgradError);
      expect((caught as Error).message).toMatch(re);
    });
  }

  it('a negative number given as a separate argument, or an unknown option, is refused naming the option', () => {
    expect(() => parseTrainArgs(['--epochs', '-1'])).toThrow(/--epochs/);
    expect(() => parseTrainArgs(['--bogus'])).toThrow(/--bogus/);
  });
});

describe('the webgrad binary', () => {
  it('train --help prints the usage and exits 0', () => {
    const r = webgrad(['train', '--help'], 60_000);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/usage: webgrad train \[options\]/);
    for (const opt of ['--epochs', '--batch-size', '--lr', '--optimizer', '--backend', '--seed', '--data', '--out', '--resume']) expect(r.stdout).toContain(opt);
  });

  it('an unknown command prints the usage and exits 2', () => {
    const r = webgrad(['frobnicate'], 60_000);
    expect(r.status).toBe(2);
    expect(r.stdout).toMatch(/Commands: train/);
  });

  it('--data /nonexistent exits 1 with one message naming the missing file, no stack trace', () => {
    const r = webgrad(['train', '--backend', 'cpu', '--epochs', '1', '--data', '/nonexistent', '--out', join(tmpRoot, 'nodata')], 60_000);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^error: .*train-images-idx3-ubyte.* not found in \/nonexistent/m);
    expect(r.stderr).not.toMatch(STACK);
  });

  it('a bad option value exits 1 naming the option, without a stack trace', () => {
    const r = webgrad(['train', '--epochs', '0'], 60_000);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: train: --epochs must be a positive integer, got '0'/m);
    expect(r.stderr).not.toMatch(STACK);
  });

  for (const args of [['train', '--bogus'], ['train', '--epochs', '-1']]) {
    it(`${args.join(' ')} (rejected by node's parseArgs) exits non-zero naming the option, without a stack trace`, () => {
      const r = webgrad(args, 60_000);
      expect(r.status).not.toBe(0);
      expect(r.status).not.toBeNull();
      expect(r.stderr).toContain(args[1]);
      expect(r.stderr, `printed a stack trace:\n${r.stderr}`).not.toMatch(STACK);
    });
  }
});

describe('webgrad train end to end', () => {
  let backend: 'webgpu' | 'cpu' = 'cpu';
  beforeAll(async () => {
    const a = await webgpuAvailability();
    if (!a.available && requireWebGPU) throw new Error(`WebGPU is required here (CI) but no adapter was found: ${a.reason}`);
    backend = a.available ? 'webgpu' : 'cpu';
  });

  it('trains one epoch, writes model, checkpoint, metrics and chart, then resumes to epoch 2', () => {
    const out = join(tmpRoot, 'run');
    const r = webgrad(['train', '--epochs', '1', '--backend', backend, '--out', out]);
    expect(r.error, String(r.error)).toBeUndefined();
    expect(r.status, `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(backend === 'webgpu' ? /device: WebGPU/ : /device: the CPU reference backend/);
    expect(r.stdout).toMatch(/epoch 1\/1 {2}loss/);

    // Copies into plain Uint8Arrays (as readFileBytes does): see the Buffer test in safetensors.test.ts.
    const read = (p: string): Uint8Array => new Uint8Array(readFileSync(p));
    const model = decodeSafetensors(read(join(out, 'model.safetensors')), 'model.safetensors');
    expect(model.metadata.format).toBe('webgrad-model-1');
    expect(JSON.parse(model.metadata.architecture!)).toEqual({ inputs: 784, hidden: [256, 128], outputs: 10, activation: 'relu', batchNorm: true, dropout: 0.2, init: 'he' });
    expect(model.arrays.get('0.weight')!.shape).toEqual([256, 784]);
    expect(model.arrays.get('1.running_mean')!.shape).toEqual([256]);
    expect(model.arrays.get('1.num_batches_tracked')!.shape).toEqual([]);
    for (const [name, a] of model.arrays) for (const v of a.data) if (!Number.isFinite(v)) throw new Error(`${name} holds ${v}`);

    const ckptPath = join(out, 'checkpoint.safetensors');
    const meta = readCheckpointMeta(read(ckptPath), ckptPath);
    expect(meta.epoch).toBe(1);
    expect(meta.config.epochs).toBe(1);

    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.device).toBe(backend);
    expect(metrics.epochs.length).toBe(1);
    expect(metrics.epochs[0].epoch).toBe(1);
    expect(metrics.finalTestAccuracy).toBeGreaterThan(0.85);
    expect(metrics.finalTestAccuracy).toBe(metrics.epochs[0].testAccuracy);
    expect(readFileSync(join(out, 'metrics.svg'), 'utf8').startsWith('<svg')).toBe(true);

    const r2 = webgrad(['train', '--resume', ckptPath, '--epochs', '2', '--backend', backend, '--out', out]);
    expect(r2.status, `stdout:\n${r2.stdout}\nstderr:\n${r2.stderr}`).toBe(0);
    expect(r2.stdout).toContain(`resumed from ${ckptPath} after epoch 1`);
    expect(r2.stdout).toMatch(/epoch 2\/2 {2}loss/);
    expect(r2.stdout).not.toMatch(/epoch 1\/2/);
    const metrics2 = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics2.epochs.map((e: { epoch: number }) => e.epoch)).toEqual([1, 2]);
    expect(metrics2.epochs[0].loss).toBe(metrics.epochs[0].loss);
    expect(metrics2.epochs[0].testAccuracy).toBe(metrics.epochs[0].testAccuracy);
    expect(metrics2.finalTestAccuracy).toBeGreaterThan(0.85);
    expect(readCheckpointMeta(read(ckptPath), ckptPath).epoch).toBe(2);
    expect(existsSync(join(out, 'model.safetensors'))).toBe(true);
  }, 400_000);
});
