/**
 * Gradient health: per-layer gradient norms, weight-update ratios and dead ReLU units, with flags
 * for vanishing gradients (norms collapsing layer over layer toward the input) and exploding ones
 * (growing toward the input, or non-finite). The classic remedies — ReLU, He/Xavier init, batch
 * norm, clipping, a smaller learning rate — show up directly in these numbers.
 *
 * Everything is computed on the device; `record` reads back one small vector per call.
 */
import type { Tensor } from '../tensor.js';
import type { Module } from '../nn/module.js';
import { Linear, Sequential, Activation } from '../nn/layers.js';
import { noGrad, tidy, keep } from '../lifetime.js';
import { sum, max } from '../ops/reduce.js';
import { square, sqrt, abs } from '../ops/unary.js';
import { gt, maximum, mul, div } from '../ops/binary.js';
import { tensor } from '../ops/creation.js';

export interface LayerHealth {
  /** The Linear layer's parameter name, e.g. "0.weight". */
  name: string;
  gradNorm: number;
  weightNorm: number;
  /** ‖Δw‖/‖w‖ of the last optimizer step (NaN until a step was observed). */
  updateRatio: number;
  /** Fraction of this layer's units that output zero for every example of the probe batch (ReLU family only; NaN otherwise). */
  deadFraction: number;
}

/** The unread results of `measure`: what `record` reads into a report. */
export interface HealthMeasurement {
  /** Per Linear layer: gradient norm, weight norm, update ratio (three scalars each, in layer order). */
  values: Tensor[];
  /** Per ReLU-family layer, the fraction of dead units (a scalar). */
  dead: [Linear, Tensor][];
}

export interface HealthReport {
  step: number;
  layers: LayerHealth[];
  /**
   * Gradient norm of the first layer over that of the last: ≪ 1 means vanishing, ≫ 1 exploding.
   * NaN (0/0) for a network with no gradient in its first and last layers, which is flagged vanishing.
   */
  firstToLastRatio: number;
  vanishing: boolean;
  exploding: boolean;
}

/** First-to-last ratios beyond these are flagged (two orders of magnitude, either way). */
export const VANISHING_RATIO = 1e-2;
export const EXPLODING_RATIO = 1e2;

/**
 * ‖t‖₂ computed as m·‖t/m‖₂ with m = max|t|, so float32 neither underflows for tiny gradients
 * (1e-25, as a vanishing sigmoid stack produces) nor overflows for huge ones.
 */
function norm(t: Tensor): Tensor {
  return tidy(() => {
    const m = max(abs(t));
    // An all-zero tensor has norm 0, not 0/0. The floor is float32's smallest NORMAL number: drivers
    // may flush subnormals (SwiftShader turned the former 1e-38 into 0, and the ratio into NaN).
    const safe = maximum(m, 2 ** -126);
    return mul(sqrt(sum(square(div(t, safe)))), m);
  });
}

export class GradientHealthMonitor {
  private readonly linears: { name: string; layer: Linear }[] = [];
  private before: Tensor[] | null = null;
  readonly history: HealthReport[] = [];

  constructor(private readonly model: Module) {
    for (const [path, m] of model.namedModules()) {
      if (m instanceof Linear) this.linears.push({ name: path ? `${path}.weight` : 'weight', layer: m });
    }
  }

  /** Call before optimizer.step() on steps you will record: keeps a copy of the weights for the update ratio. */
  snapshot(): void {
    this.dropSnapshot();
    this.before = noGrad(() => this.linears.map(({ layer }) => keep(layer.weight.mul(1))));
  }

  private dropSnapshot(): void {
    for (const t of this.before ?? []) t.dispose();
    this.before = null;
  }

  /**
   * Records the gradient norms (the gradients must still be present: call after backward and, if a
   * snapshot was taken, after optimizer.step()). `probe` is a batch to count dead units on.
   */
  async record(step: number, probe?: Tensor): Promise<HealthReport> {
    const m = this.measure(probe);
    const dead = new Map<Linear, number>();
    const numbers: number[] = [];
    try {
      for (const [layer, t] of m.dead) dead.set(layer, await t.item());
      for (const t of m.values) numbers.push(await t.item());
    } finally {
      for (const t of m.values) t.dispose();
      for (const [, t] of m.dead) t.dispose();
    }
    this.dropSnapshot();
    return this.report(step, numbers, dead);
  }

  /**
   * The device half of `record`: encodes every kernel a report needs (norms, update ratios, dead
   * units on `probe`) and returns the results unread. Synchronous, so `precompile` can compile a
   * report's kernels ahead of time. Dispose what it returns if you do not read it with `record`.
   */
  measure(probe?: Tensor): HealthMeasurement {
    const dead = probe ? this.deadFractions(probe) : [];
    const values = noGrad(() => tidy(() => {
      const parts: Tensor[] = [];
      this.linears.forEach(({ layer }, i) => {
        parts.push(layer.weight.grad ? norm(layer.weight.grad) : tensor([NaN], { device: layer.weight.device }).reshape([]));
        parts.push(norm(layer.weight));
        const prev = this.before?.[i];
        parts.push(prev ? norm(layer.weight.sub(prev)).div(norm(prev)) : tensor([NaN], { device: layer.weight.device }).reshape([]));
      });
      return parts;
    }));
    return { values, dead };
  }

  private report(step: number, numbers: number[], dead: Map<Linear, number>): HealthReport {
    const layers = this.linears.map(({ name, layer }, i) => ({
      name,
      gradNorm: numbers[3 * i]!,
      weightNorm: numbers[3 * i + 1]!,
      updateRatio: numbers[3 * i + 2]!,
      deadFraction: dead.get(layer) ?? NaN,
    }));
    const first = layers[0]?.gradNorm ?? NaN;
    const last = layers[layers.length - 1]?.gradNorm ?? NaN;
    const ratio = first / last;
    const nonFinite = layers.some((l) => !Number.isFinite(l.gradNorm));
    const report: HealthReport = {
      step,
      layers,
      firstToLastRatio: ratio,
      // No gradient in the first and last layers (0/0, e.g. every unit dead) is the limit of vanishing.
      vanishing: (Number.isFinite(ratio) && ratio < VANISHING_RATIO) || (first === 0 && last === 0),
      exploding: nonFinite || ratio > EXPLODING_RATIO,
    };
    this.history.push(report);
    return report;
  }

  /**
   * Runs the model layer by layer in eval mode without recording (so no dropout draws move the
   * random stream) and measures, after each ReLU-family activation, the fraction of units that
   * are zero for the whole batch.
   */
  private deadFractions(probe: Tensor): [Linear, Tensor][] {
    if (!(this.model instanceof Sequential)) return [];
    const wasTraining = this.model.training;
    this.model.eval();
    const fractions: [Linear, Tensor][] = [];
    try {
      noGrad(() => {
        let h = probe;
        let lastLinear: Linear | null = null;
        for (let i = 0; i < this.model.modules().length; i++) {
          const layer = (this.model as Sequential).at(i);
          const out = layer.forward(h);
          if (layer instanceof Linear) lastLinear = layer;
          if (layer instanceof Activation && lastLinear && ['relu', 'relu6', 'leakyRelu'].includes(layer.fusable ?? '')) {
            // A unit is dead when it is not positive for any example. tidy: the comparison, the
            // per-unit maxima and the partial sums are temporaries; only the fraction survives.
            fractions.push([lastLinear, tidy(() => {
              const alive = max(gt(out, 0), 0);
              return sum(alive).mul(-1 / alive.size).add(1);
            })]);
          }
          if (h !== probe) h.dispose();
          h = out;
        }
        if (h !== probe) h.dispose();
      });
    } catch (e) {
      for (const [, t] of fractions) t.dispose();
      throw e;
    } finally {
      this.model.train(wasTraining);
    }
    return fractions;
  }

  dispose(): void {
    this.dropSnapshot();
  }
}

/** A plain-text table of one report (layers from input to output). */
export function formatHealth(r: HealthReport): string {
  const fmt = (v: number): string => (Number.isFinite(v) ? v.toExponential(2) : String(v));
  const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : '-');
  const rows = r.layers.map((l) => `  ${l.name.padEnd(12)} ${fmt(l.gradNorm).padStart(10)} ${fmt(l.weightNorm).padStart(10)} ${fmt(l.updateRatio).padStart(10)} ${pct(l.deadFraction).padStart(8)}`);
  const verdict = r.exploding ? 'EXPLODING gradients' : r.vanishing ? 'VANISHING gradients' : 'healthy';
  return [
    `  ${'layer'.padEnd(12)} ${'grad norm'.padStart(10)} ${'weight'.padStart(10)} ${'update'.padStart(10)} ${'dead'.padStart(8)}`,
    ...rows,
    `  first/last gradient ratio ${fmt(r.firstToLastRatio)}: ${verdict}`,
  ].join('\n');
}
