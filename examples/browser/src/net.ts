/**
 * The lab's network and its training step, built from the library's public API only (nn, optim,
 * GradientHealthMonitor). No DOM here, so the same code runs in Node for quick experiments.
 *
 * The forward pass runs the Sequential layer by layer (fusing Linear + activation exactly as
 * Sequential.forward does), so the page can keep each hidden activation for its histograms.
 */
import {
  nn, optim, GradientHealthMonitor, tidy, noGrad, crossEntropy, softmax, manualSeed, tensor, zeros, buildCnn, DEFAULT_CNN,
} from 'webgrad';
import type { BackendName, CnnSpec, Dataset, HealthReport, Tensor } from 'webgrad';
import { usesCnn } from './config.js';
import type { LabConfig, Verdict } from './config.js';

export function verdictOf(r: HealthReport): Verdict {
  return r.exploding ? 'exploding' : r.vanishing ? 'vanishing' : 'healthy';
}

function activation(c: LabConfig): nn.Module {
  switch (c.activation) {
    case 'sigmoid': return new nn.Sigmoid();
    case 'tanh': return new nn.Tanh();
    case 'relu': return new nn.ReLU();
    case 'relu6': return new nn.ReLU6();
    case 'leakyRelu': return new nn.LeakyReLU(0.01);
    case 'gelu': return new nn.GELU();
  }
}

function initialise(layer: nn.Linear, c: LabConfig, head: boolean): void {
  const w = layer.weight;
  if (c.init === 'naive') nn.init.normal_(w, 0, c.sigma);
  // He suits the ReLU family; the output layer has no activation after it, so it gets Xavier.
  else if (c.init === 'he' && !head) nn.init.kaimingNormal_(w, { nonlinearity: c.activation === 'leakyRelu' ? 'leakyRelu' : 'relu', a: 0.01 });
  else nn.init.xavierNormal_(w);
  if (layer.bias) nn.init.zeros_(layer.bias);
}

/** Linear → [BatchNorm1d] → activation → [Dropout] per hidden layer, then a Linear head. */
export function buildNet(c: LabConfig, inputs: number, classes: number, device: BackendName): nn.Sequential {
  manualSeed(c.seed);
  const layers: nn.Module[] = [];
  let width = inputs;
  for (let i = 0; i < c.depth; i++) {
    const linear = new nn.Linear(width, c.width, { device });
    initialise(linear, c, false);
    layers.push(linear);
    if (c.batchNorm) layers.push(new nn.BatchNorm1d(c.width, { device }));
    layers.push(activation(c));
    if (c.dropout > 0) layers.push(new nn.Dropout(c.dropout));
    width = c.width;
  }
  const head = new nn.Linear(width, classes, { device });
  initialise(head, c, true);
  layers.push(head);
  return new nn.Sequential(...layers);
}

/** The CNN of `webgrad train --model cnn` (DEFAULT_CNN), with the Dropout p knob before its head. */
export function cnnSpec(c: LabConfig, inputs: number, classes: number): CnnSpec {
  return { ...DEFAULT_CNN, imageSize: Math.round(Math.sqrt(inputs)), outputs: classes, dropout: c.dropout };
}

/** The configuration's network: the knob-built MLP, or the CNN for the digits (on the default device, which is `device`). */
export function buildModel(c: LabConfig, inputs: number, classes: number, device: BackendName): nn.Sequential {
  if (!usesCnn(c)) return buildNet(c, inputs, classes, device);
  // buildCnn's layers take the default device: the page's backend (init made it the default).
  manualSeed(c.seed);
  return buildCnn(cnnSpec(c, inputs, classes));
}

/** Runs a Sequential layer by layer; with `keepActivations`, also returns each activation's output. */
export function forwardLayers(model: nn.Sequential, x: Tensor, keepActivations: boolean): { out: Tensor; activations: Tensor[] } {
  const activations: Tensor[] = [];
  let h = x;
  for (let i = 0; i < model.length; i++) {
    const layer = model.at(i);
    const next = i + 1 < model.length ? model.at(i + 1) : null;
    let activated: boolean;
    if (layer instanceof nn.Linear && next instanceof nn.Activation && next.fusable) {
      h = layer.forwardFused(h, next.fusable, next.negativeSlope);
      activated = true;
      i++;
    } else {
      h = layer.forward(h);
      activated = layer instanceof nn.Activation;
    }
    if (keepActivations && activated) activations.push(h);
  }
  return { out: h, activations };
}

export interface StepResult {
  step: number;
  loss: number;
  accuracy: number;
  /** The health report, on steps that record one (and on any step whose loss is not finite). */
  health: HealthReport | null;
  /** Each hidden layer's activations for this batch, row-major [batch, width], on recorded steps. */
  activations: Float32Array[] | null;
}

function argmaxAccuracy(logits: ArrayLike<number>, labels: ArrayLike<number>, classes: number): number {
  let correct = 0;
  for (let r = 0; r < labels.length; r++) {
    let best = 0;
    for (let j = 1; j < classes; j++) if (logits[r * classes + j]! > logits[r * classes + best]!) best = j;
    if (best === labels[r]) correct++;
  }
  return labels.length ? correct / labels.length : NaN;
}

/** One model, its optimizer and monitor, trained step by step. */
export class LabNet {
  readonly model: nn.Sequential;
  readonly optimizer: optim.Optimizer;
  readonly monitor: GradientHealthMonitor;
  private readonly weights: Tensor[];
  step = 0;

  constructor(readonly config: LabConfig, readonly inputs: number, readonly classes: number, readonly device: BackendName) {
    this.model = buildModel(config, inputs, classes, device);
    const params = this.model.parameters();
    // L1/L2 act on the weights of Linear and Conv2d layers (not biases or batch norm's γ, β).
    this.weights = this.model.modules().filter((m): m is nn.Linear | nn.Conv2d => m instanceof nn.Linear || m instanceof nn.Conv2d).map((l) => l.weight);
    this.optimizer = config.optimizer === 'adam'
      ? new optim.Adam(params, { lr: config.lr })
      : new optim.SGD(params, { lr: config.lr, momentum: config.optimizer === 'momentum' ? 0.9 : 0 });
    this.monitor = new GradientHealthMonitor(this.model);
  }

  /**
   * The device half of a training step, synchronous and without reads: forward, loss (+ penalties),
   * backward, clipping, the monitor's snapshot, the optimizer update. Returns the unread loss,
   * logits and (if asked) activations.
   */
  encodeStep(x: Tensor, y: Tensor, record: { health: boolean; activations: boolean }): { loss: Tensor; logits: Tensor; activations: Tensor[] } {
    const c = this.config;
    this.model.train();
    const out = tidy(() => {
      const { out: logits, activations } = forwardLayers(this.model, x, record.activations);
      const loss = crossEntropy(logits, y);
      let total = loss;
      // Penalties on the Linear weights (not biases or batch norm's γ, β), added to the loss.
      if (c.l1 > 0) total = total.add(optim.l1Penalty(this.weights, c.l1));
      if (c.l2 > 0) total = total.add(optim.l2Penalty(this.weights, c.l2));
      total.backward();
      return { loss: loss.detach(), logits: logits.detach(), activations: activations.map((a) => a.detach()) };
    });
    try {
      if (c.clip === 'norm') optim.clipGradNorm(this.model.parameters(), c.clipAt).dispose();
      if (c.clip === 'value') optim.clipGradValue(this.model.parameters(), c.clipAt);
      if (record.health) this.monitor.snapshot();
      this.optimizer.step();
    } catch (e) {
      out.loss.dispose();
      out.logits.dispose();
      for (const a of out.activations) a.dispose();
      throw e;
    }
    return out;
  }

  /**
   * The kernels of a run, encoded without a read, in parts small enough to be short tasks: the
   * page runs each part under its own `precompile` on a throwaway copy, so the real run finds every
   * pipeline compiled. The inputs are zeros of the real shapes (inside precompile they are never
   * uploaded). This part: a recorded training step and its health measurement.
   */
  warmUpStep(batch: number): void {
    const x = zeros([batch, this.inputs], { device: this.device });
    const y = zeros([batch], { dtype: 'int32', device: this.device });
    const out = this.encodeStep(x, y, { health: true, activations: true });
    const m = this.monitor.measure(x);
    for (const t of [out.loss, out.logits, ...out.activations, ...m.values, ...m.dead.map(([, d]) => d), x, y]) t.dispose();
    this.optimizer.zeroGrad();
  }

  /** The other part: an eval-mode forward, loss and softmax on `rows` rows (kernels may depend on sizes). */
  warmUpEval(rows: number): void {
    if (rows <= 0) return;
    this.model.eval();
    const xe = zeros([rows, this.inputs], { device: this.device });
    const ye = zeros([rows], { dtype: 'int32', device: this.device });
    try {
      noGrad(() => tidy(() => {
        const l = this.model.forward(xe);
        crossEntropy(l, ye, 'sum');
        softmax(l, 1);
      }));
    } finally {
      xe.dispose();
      ye.dispose();
      this.model.train();
    }
  }

  /** Trains on one batch. Reads back the loss and logits (one small readback), plus health when asked. */
  async trainStep(x: Tensor, y: Tensor, labels: Int32Array, record: { health: boolean; activations: boolean }): Promise<StepResult> {
    const step = this.step + 1;
    const out = this.encodeStep(x, y, record);
    try {
      let health = record.health ? await this.monitor.record(step, x) : null;
      const loss = await out.loss.item();
      // A diverged step always gets a report: the non-finite gradient norms are the verdict.
      if (!Number.isFinite(loss) && !health) health = await this.monitor.record(step, x);
      const accuracy = argmaxAccuracy(await out.logits.data() as Float32Array, labels, this.classes);
      const activations = record.activations ? await Promise.all(out.activations.map(async (a) => (await a.data()) as Float32Array)) : null;
      this.optimizer.zeroGrad();
      this.step = step;
      return { step, loss, accuracy, health, activations };
    } finally {
      out.loss.dispose();
      out.logits.dispose();
      for (const a of out.activations) a.dispose();
    }
  }

  /** Accuracy and mean loss on a dataset, in eval mode. */
  async evaluate(d: Dataset): Promise<{ accuracy: number; loss: number; predicted: Int32Array }> {
    this.model.eval();
    try {
      const predicted = new Int32Array(d.n);
      let lossSum = 0;
      for (let start = 0; start < d.n; start += 500) {
        const n = Math.min(500, d.n - start);
        const x = tensor(d.x.subarray(start * d.features, (start + n) * d.features), { shape: [n, d.features], device: this.device });
        const y = tensor(d.labels.subarray(start, start + n), { shape: [n], device: this.device });
        const [logits, loss] = noGrad(() => tidy(() => {
          const l = this.model.forward(x);
          return [l, crossEntropy(l, y, 'sum')] as const;
        }));
        x.dispose();
        y.dispose();
        const values = (await logits.data()) as Float32Array;
        lossSum += await loss.item();
        logits.dispose();
        loss.dispose();
        for (let r = 0; r < n; r++) {
          let best = 0;
          for (let j = 1; j < this.classes; j++) if (values[r * this.classes + j]! > values[r * this.classes + best]!) best = j;
          predicted[start + r] = best;
        }
      }
      let correct = 0;
      for (let i = 0; i < d.n; i++) if (predicted[i] === d.labels[i]) correct++;
      return { accuracy: correct / d.n, loss: lossSum / d.n, predicted };
    } finally {
      this.model.train();
    }
  }

  /** P(class 1) on a side × side grid over [lo, hi]² (rows from the top, y decreasing), in eval mode. */
  async boundary(side: number, lo: number, hi: number): Promise<Float32Array> {
    const pts = new Float32Array(side * side * 2);
    for (let r = 0; r < side; r++) {
      for (let col = 0; col < side; col++) {
        const i = r * side + col;
        pts[2 * i] = lo + ((col + 0.5) / side) * (hi - lo);
        pts[2 * i + 1] = hi - ((r + 0.5) / side) * (hi - lo);
      }
    }
    this.model.eval();
    try {
      const x = tensor(pts, { shape: [side * side, 2], device: this.device });
      const p = noGrad(() => tidy(() => softmax(this.model.forward(x), 1)));
      x.dispose();
      const values = (await p.data()) as Float32Array;
      p.dispose();
      const out = new Float32Array(side * side);
      for (let i = 0; i < out.length; i++) out[i] = values[i * this.classes + 1]!;
      return out;
    } finally {
      this.model.train();
    }
  }

  dispose(): void {
    this.monitor.dispose();
    this.optimizer.zeroGrad();
    this.optimizer.dispose();
    this.model.dispose();
  }
}
