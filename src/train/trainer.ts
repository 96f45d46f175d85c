/**
 * The training loop behind `webgrad train`: mini-batches with a seeded shuffle, cross-entropy,
 * SGD or Adam, per-epoch metrics read back once per epoch (never per step), gradient health at
 * the end of each epoch, and a complete, resumable state (model, optimizer, random stream).
 */
import type { Tensor } from '../tensor.js';
import type { BackendName } from '../backend/types.js';
import type { Dataset } from '../data/dataset.js';
import { batches } from '../data/loader.js';
import { buildMlp, describeMlp } from './mlp.js';
import type { MlpSpec } from './mlp.js';
import { buildCnn, describeCnn, isCnnSpec, type CnnSpec } from './cnn.js';
import type { Sequential } from '../nn/layers.js';
import type { Optimizer } from '../optim/optimizer.js';
import { SGD } from '../optim/sgd.js';
import { Adam } from '../optim/adam.js';
import { OneCycleLR } from '../optim/one-cycle.js';
import { crossEntropy } from '../ops/loss.js';
import { tidy, noGrad, keep } from '../lifetime.js';
import { engine, settle } from '../engine.js';
import { manualSeed, arange } from '../ops/creation.js';
import { eq, mul, add } from '../ops/binary.js';
import { max, sum } from '../ops/reduce.js';
import { isNonFinite } from '../ops/unary.js';
import { GradientHealthMonitor } from './health.js';
import type { HealthReport } from './health.js';
import { WebgradError } from '../errors.js';
import { checkNumerics, numericsCheckEnabled, NonFiniteError } from '../numerics.js';

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: 'adam' | 'sgd';
  /** SGD momentum (ignored by Adam). */
  momentum: number;
  weightDecay: number;
  seed: number;
  /**
   * 'onecycle': torch.optim.lr_scheduler.OneCycleLR over the whole run (peak `lr`, stepped after
   * every batch, Adam's beta1 or SGD's momentum cycled too); absent or 'constant': a fixed `lr`.
   */
  schedule?: 'constant' | 'onecycle';
  /** An MLP (the default of `webgrad train`) or, with kind 'cnn', the small CNN of cnn.ts. */
  model: MlpSpec | CnnSpec;
}

export interface EpochMetrics {
  epoch: number;
  loss: number;
  trainAccuracy: number;
  testAccuracy: number;
  testLoss: number;
  examplesPerSecond: number;
  seconds: number;
  health: HealthReport | null;
}

/** Thrown when the loss stops being finite: training stops before anything is written. */
export class NonFiniteLossError extends WebgradError {
  override name = 'NonFiniteLossError';
}

/** Counts of correct predictions (argmax = label) as a scalar tensor, computed on the device. */
function correctCount(logits: Tensor, labels: Tensor): Tensor {
  return tidy(() => {
    const classes = logits.shape[1]!;
    const predicted = eq(logits, max(logits, 1, true));
    const oneHot = eq(labels.reshape([-1, 1]).cast(logits.dtype), arange(0, classes, 1, { dtype: logits.dtype, device: logits.device }).reshape([1, classes]));
    return sum(mul(predicted, oneHot));
  });
}

/** The optimizer a configuration asks for (also used to learn which state entries a checkpoint must hold). */
export function buildOptimizer(config: TrainConfig, params: Tensor[]): Optimizer {
  return config.optimizer === 'adam'
    ? new Adam(params, { lr: config.lr, weightDecay: config.weightDecay })
    : new SGD(params, { lr: config.lr, momentum: config.momentum, weightDecay: config.weightDecay });
}

export class Trainer {
  readonly model: Sequential;
  readonly optimizer: Optimizer;
  /** The lr schedule, or null for a constant lr. */
  readonly scheduler: OneCycleLR | null;
  readonly monitor: GradientHealthMonitor;
  /** Epochs completed so far. */
  epoch = 0;
  readonly history: EpochMetrics[] = [];

  constructor(
    readonly config: TrainConfig,
    readonly data: { train: Dataset; test: Dataset },
    readonly device: BackendName,
  ) {
    if (!Number.isInteger(config.batchSize) || config.batchSize <= 0) throw new WebgradError(`train: batchSize must be a positive integer, got ${config.batchSize}`);
    if (config.batchSize > data.train.n) {
      throw new WebgradError(`train: batchSize ${config.batchSize} is larger than the ${data.train.n} training examples (the last incomplete batch is dropped, so an epoch would have no step)`);
    }
    manualSeed(config.seed);
    const prev = engine.defaultBackend;
    engine.defaultBackend = device;
    try {
      this.model = isCnnSpec(config.model) ? buildCnn(config.model) : buildMlp(config.model);
    } finally {
      engine.defaultBackend = prev;
    }
    this.optimizer = buildOptimizer(config, this.model.parameters());
    const schedule = config.schedule ?? 'constant';
    if (schedule !== 'constant' && schedule !== 'onecycle') throw new WebgradError(`train: schedule must be 'constant' or 'onecycle', got ${JSON.stringify(schedule)}`);
    this.scheduler = schedule === 'onecycle' ? new OneCycleLR(this.optimizer, config.lr, { totalSteps: config.epochs * this.stepsPerEpoch }) : null;
    this.monitor = new GradientHealthMonitor(this.model);
  }

  describe(): string {
    const lr = this.scheduler ? `OneCycle lr (peak ${this.config.lr}, ${this.config.epochs} epochs)` : `lr ${this.config.lr}`;
    return `${isCnnSpec(this.config.model) ? describeCnn(this.config.model) : describeMlp(this.config.model)}; ${this.config.optimizer} ${lr}, batch ${this.config.batchSize}, seed ${this.config.seed}`;
  }

  /**
   * Puts the schedule at the step where this epoch starts. The schedule is a closed form of the
   * step count, so after a restored checkpoint (or a larger --epochs) this gives the lr (and beta1
   * or momentum) an uninterrupted run has at that step.
   */
  private syncSchedule(): void {
    const s = this.scheduler;
    const at = this.epoch * this.stepsPerEpoch;
    if (!s || s.lastEpoch === at) return;
    s.lastEpoch = at - 1;
    s.step();
  }

  get stepsPerEpoch(): number {
    return Math.floor(this.data.train.n / this.config.batchSize);
  }

  /** One epoch. `onStep(done, total)` is called after each step (for a progress bar). */
  async runEpoch(onStep?: (done: number, total: number) => void): Promise<EpochMetrics> {
    const epoch = this.epoch + 1;
    const started = performance.now();
    this.syncSchedule();
    this.model.train();
    let lossSum: Tensor | null = null;
    let correct: Tensor | null = null;
    let seen = 0;
    const total = this.stepsPerEpoch;
    let health: HealthReport | null = null;
    let step = 0;
    // dropLast: a tiny final batch would give batch norm meaningless statistics.
    for (const batch of batches(this.data.train, epoch - 1, { batchSize: this.config.batchSize, shuffle: true, seed: this.config.seed, dropLast: true, device: this.device })) {
      step++;
      const last = step === total;
      tidy(() => {
        const logits = this.model.forward(batch.x);
        const loss = crossEntropy(logits, batch.y);
        loss.backward();
        if (last) this.monitor.snapshot();
        this.optimizer.step();
        this.scheduler?.step();
        // Running totals stay on the device: no readback inside the epoch.
        noGrad(() => {
          const l = add(mul(loss.detach(), batch.size), lossSum ?? 0);
          const c = add(correctCount(logits.detach(), batch.y), correct ?? 0);
          lossSum?.dispose();
          correct?.dispose();
          lossSum = keep(l);
          correct = keep(c);
        });
      });
      // Under the numerics guard, stop at the first op of this step that produced NaN or Inf.
      if (numericsCheckEnabled()) await this.stopIfNonFinite(epoch, step);
      if (last) health = await this.monitor.record((epoch - 1) * total + step, batch.x);
      this.optimizer.zeroGrad();
      seen += batch.size;
      batch.x.dispose();
      batch.y.dispose();
      onStep?.(step, total);
      // Bounded work in flight: a long epoch never reads back, so let the GPU catch up to a few submits.
      await settle();
    }
    const loss = (await (lossSum as Tensor | null)?.item() ?? NaN) / seen;
    const trainCorrect = (await (correct as Tensor | null)?.item()) ?? 0;
    (lossSum as Tensor | null)?.dispose();
    (correct as Tensor | null)?.dispose();
    const seconds = (performance.now() - started) / 1000;
    if (!Number.isFinite(loss)) {
      throw new NonFiniteLossError(`train: the loss became ${loss} during epoch ${epoch} (lr ${this.optimizer.lr}); stopping without writing a checkpoint. Try a smaller learning rate or gradient clipping; run with the numerics check (--check-numerics, or setNumericsCheck(true)) to find the first op that produced it.`);
    }
    await this.stopIfStateNonFinite(epoch);
    const test = await this.evaluate(this.data.test);
    this.epoch = epoch;
    const metrics: EpochMetrics = {
      epoch, loss, trainAccuracy: trainCorrect / seen, testAccuracy: test.accuracy, testLoss: test.loss,
      examplesPerSecond: seen / seconds, seconds, health,
    };
    this.history.push(metrics);
    return metrics;
  }

  /**
   * Every floating-point parameter and buffer tested for NaN/Inf on the device, with one readback
   * (a second only to name the culprit). A finite loss proves nothing on WebGPU: WGSL may drop NaN
   * semantics, so NaN inputs can leave a finite loss beside NaN weights.
   */
  private async stopIfStateNonFinite(epoch: number): Promise<void> {
    const named = [...this.model.stateDict()].filter(([, t]) => t.dtype.startsWith('float'));
    if (named.length === 0) return;
    const flags = noGrad(() => tidy(() => named.map(([, t]) => keep(max(isNonFinite(t).reshape([-1]))))));
    try {
      const total = noGrad(() => tidy(() => flags.reduce<Tensor | null>((acc, f) => (acc ? add(acc, f) : f.mul(1)), null)!));
      let any: number;
      try {
        any = await total.item();
      } finally {
        total.dispose();
      }
      if (any === 0) return;
      const bad: string[] = [];
      for (let i = 0; i < named.length; i++) if ((await flags[i]!.item()) > 0) bad.push(`'${named[i]![0]}'`);
      throw new NonFiniteLossError(`train: after epoch ${epoch}, ${bad.join(', ')} ${bad.length === 1 ? 'holds' : 'hold'} NaN or Inf (lr ${this.optimizer.lr}); stopping without writing a checkpoint or model. Check the data for NaN/Inf values, try a smaller learning rate or gradient clipping, or run with the numerics check (--check-numerics) to find the first op that produced it.`);
    } finally {
      for (const f of flags) f.dispose();
    }
  }

  private async stopIfNonFinite(epoch: number, step: number): Promise<void> {
    const offender = await checkNumerics();
    if (offender) {
      throw new NonFiniteLossError(`train: epoch ${epoch}, step ${step}: ${new NonFiniteError(offender).message}; stopping without writing a checkpoint`);
    }
  }

  /** Accuracy and mean loss on a dataset, in eval mode, one readback at the end. */
  async evaluate(d: Dataset): Promise<{ accuracy: number; loss: number }> {
    this.model.eval();
    let lossSum: Tensor | null = null;
    let correct: Tensor | null = null;
    try {
      for (const batch of batches(d, 0, { batchSize: 500, shuffle: false, seed: 0, device: this.device })) {
        noGrad(() => tidy(() => {
          const logits = this.model.forward(batch.x);
          const l = add(crossEntropy(logits, batch.y, 'sum'), lossSum ?? 0);
          const c = add(correctCount(logits, batch.y), correct ?? 0);
          lossSum?.dispose();
          correct?.dispose();
          lossSum = keep(l);
          correct = keep(c);
        }));
        batch.x.dispose();
        batch.y.dispose();
      }
      const loss = ((await (lossSum as Tensor | null)?.item()) ?? NaN) / d.n;
      const accuracy = ((await (correct as Tensor | null)?.item()) ?? 0) / d.n;
      return { accuracy, loss };
    } finally {
      (lossSum as Tensor | null)?.dispose();
      (correct as Tensor | null)?.dispose();
      this.model.train();
    }
  }

  /** Predicted classes for the first `count` rows of a dataset (for demos and pictures). */
  async predict(d: Dataset, count: number): Promise<Int32Array> {
    this.model.eval();
    try {
      const first = batches(d, 0, { batchSize: Math.min(count, d.n), shuffle: false, seed: 0, device: this.device }).next();
      if (first.done) return new Int32Array(0);
      const { x, y } = first.value;
      const logits = noGrad(() => this.model.forward(x));
      const values = await logits.data();
      logits.dispose();
      x.dispose();
      y.dispose();
      const c = d.classes;
      return Int32Array.from({ length: values.length / c }, (_, r) => {
        let best = 0;
        for (let j = 1; j < c; j++) if (values[r * c + j]! > values[r * c + best]!) best = j;
        return best;
      });
    } finally {
      this.model.train();
    }
  }

  dispose(): void {
    this.monitor.dispose();
    this.optimizer.dispose();
    this.model.dispose();
  }
}
