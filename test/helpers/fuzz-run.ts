/**
 * Running a fuzz plan (see fuzz-graph.ts) on a backend, and judging a device's run against the
 * float64 CPU reference.
 *
 * The tolerance (see `judge`, and the comment at the top of test/fuzz.test.ts) comes from a
 * *simulated-rounding* estimate: the float64 reference is run again a few times with float32-sized
 * errors injected where a float32 kernel rounds (after every inexact op, into the terms of every
 * sum and matmul, inside softmax, into the fused activation derivatives), each kinked op held on
 * the reference's branch, so the spread of those runs around the reference measures how much
 * float32 rounding this particular graph amplifies, cancellations included, forward and backward.
 */
import type { BackendName, DType } from '../../src/backend/types.js';
import type { Tensor, TensorLike } from '../../src/tensor.js';
import { tidy } from '../../src/lifetime.js';
import {
  abs, add, clamp, div, exp, expand, gelu, leakyRelu, log, logSoftmax, matmul, max, maximum, mean, minimum, mul, neg,
  permute, pow, relu, relu6, reshape, sigmoid, softmax, softplus, sqrt, square, sub, sum, tanh, tensor, transpose,
} from '../../src/index.js';
import { EPS32, findMismatch, poison, type Tol } from './compare.js';
import { maxAbs, sizeOf } from './random-data.js';
import { leafValues, lossWeights, stepStr, type Plan, type Ref, type Step } from './fuzz-graph.js';

// ---------------------------------------------------------------------------------------------
// Simulated rounding.

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** A pseudo-random number in [-1, 1) that depends only on (value, key): equal values get equal errors, as under rounding. */
function keyedNoise(v: number, key: number): number {
  f64[0] = v;
  let h = Math.imul(u32[0]! ^ key, 0x9e3779b1) ^ Math.imul((u32[1]! + key) | 0, 0x85ebca6b);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 31 - 1;
}

/** Ops whose float32 result is exact (no rounding to simulate). */
const EXACT_OPS: ReadonlySet<Step['op']> = new Set([
  'leaf', 'neg', 'abs', 'relu', 'relu6', 'clamp', 'maximum', 'minimum', 'max', 'reshape', 'permute', 'transpose', 'expand', 'scale',
]);

/** The relative error simulated per rounding: one float32 ulp (twice the unit roundoff). */
const U_REL = EPS32;
/**
 * Absolute errors on top, where WGSL specifies an absolute bound: log (2^-21 near 1) and tanh
 * (inherited from exp: about one ulp of 1, whatever |tanh x|, e.g. tanh(1e-7) gives 1.19e-7 on lavapipe).
 */
const U_ABS: Partial<Record<Step['op'], number>> = { log: 2 ** -21, tanh: 2 ** -23 };
/**
 * Activations whose fused float32 derivative carries an absolute error of about one ulp of the
 * incoming gradient (σ' = s(1 − s) and tanh' = 1 − t² from a rounded s or t: 0 once s or t rounds
 * to 1, as in PyTorch; gelu' = Φ(x) + xφ(x) cancels near x ≈ −0.75).
 */
const GRAD_ABS_OPS: ReadonlySet<Step['op']> = new Set(['sigmoid', 'tanh', 'gelu', 'softplus']);

/** Terms a float32 reduction sums exactly whatever the order: small multiples of a power of two. */
const exactTerm = (v: number, quantum: number, limit: number): boolean => Number.isInteger(v * quantum) && Math.abs(v) <= limit;

const cpu64 = (values: Float64Array, shape: readonly number[]): Tensor => tensor(values, { shape, dtype: 'float64', device: 'cpu' });

/**
 * One op's result with a simulated rounding: x·(1 + u·ξ(x)) (ξ in [-1, 1), keyed by the value)
 * unless float32 holds x exactly, plus U_ABS[op]·ξ'. As a multiplication, the simulated error also
 * scales the gradient flowing back through this op, which stands in for the backward's rounding.
 * With `input` (an activation's input), the backward also gets an absolute error u·ξ''·dy, added
 * as c ⊙ (input − detach(input)): zero forward, c·dy backward.
 */
async function perturbOutput(t: Tensor, key: number, op: Step['op'], input?: Tensor): Promise<Tensor> {
  const v = await t.data();
  const f = new Float64Array(v.length);
  const a = new Float64Array(v.length);
  const uAbs = U_ABS[op] ?? 0;
  let anyF = false;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    const exact = Math.fround(x) === x; // tanh(0), log(1), 2·0.5: correctly rounded, any float32 kernel gets these
    f[i] = exact ? 1 : 1 + U_REL * keyedNoise(x, key);
    a[i] = exact ? 0 : uAbs * keyedNoise(x, key ^ 0x5f3759df);
    anyF ||= f[i] !== 1;
  }
  let out = anyF ? mul(t, cpu64(f, t.shape)) : t;
  if (uAbs > 0) out = add(out, cpu64(a, t.shape));
  if (input && GRAD_ABS_OPS.has(op)) {
    const c = Float64Array.from(v, (x) => U_REL * keyedNoise(x, key ^ 0x2c1b3c6d));
    out = add(out, mul(sub(input, input.detach()), cpu64(c, t.shape)));
  }
  return out;
}

/**
 * The terms of a length-K reduction, each with a simulated relative error √K·ulp: the rounding
 * of the partial sums, written as a perturbation of the terms (fl(Σxᵢ) = Σxᵢ(1+θᵢ), |θᵢ| ≤ K·u).
 */
async function perturbTerms(t: Tensor, key: number, k: number, exact: (v: number) => boolean): Promise<Tensor> {
  const v = await t.data();
  const f = new Float64Array(v.length);
  let any = false;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    f[i] = exact(x) ? 1 : 1 + Math.sqrt(k) * U_REL * keyedNoise(x, key);
    any ||= f[i] !== 1;
  }
  return any ? mul(t, cpu64(f, t.shape)) : t;
}

/**
 * softmax / logSoftmax with simulated rounding, written out in primitives (z = x − max(x),
 * e = exp(z), S = Σe, then e / S or z − log S) so the forward rounds like a float32 kernel (a
 * log-softmax near 0 is z − log S, off by an ulp of log S). The fused backward, g = y·(dy − Σ y·dy)
 * or dy − p·Σdy (p = e^y), cancels where one y is ≈ 1; the rounding of its inner sum, about
 * √K·u·|y_j·dy_j| per term, is not the gradient of any perturbed forward, so it is added as a
 * term that is zero forward: T_j = c_j·Σ_i w_i·(x_i − detach(x_i)) with c = √K·u·ξ·(y or 1) and
 * w = y or p, which adds w_i·Σ_j c_j·dy_j to the gradient of x_i.
 */
async function simulatedSoftmax(x: Tensor, axis: number, isLog: boolean, key: number): Promise<Tensor> {
  const k = reducedCount(x.shape, axis);
  const m = max(x.detach(), axis, true);
  const z = await perturbOutput(sub(x, m), key ^ 1, 'sub');
  const e = await perturbOutput(exp(z), key ^ 2, 'exp');
  const s = await perturbOutput(sum(await perturbTerms(e, key ^ 3, k, () => false), axis, true), key ^ 4, 'sum');
  const out = isLog
    ? await perturbOutput(sub(z, await perturbOutput(log(s), key ^ 6, 'log')), key ^ 7, 'sub')
    : await perturbOutput(div(e, s), key ^ 5, 'div');
  const y = await out.data();
  const w = Float64Array.from(y, (v) => (isLog ? Math.exp(v) : v));
  const c = Float64Array.from(y, (v) => Math.sqrt(k) * U_REL * keyedNoise(v, key ^ 0x3c6ef372) * (isLog ? 1 : v));
  const inner = sum(mul(sub(x, x.detach()), cpu64(w, x.shape)), axis, true);
  return add(out, mul(inner, cpu64(c, x.shape)));
}

// ---------------------------------------------------------------------------------------------
// Running a plan.

export interface RunOptions {
  device: BackendName;
  dtype: DType;
  /** Simulated rounding with this key (CPU float64 runs only); needs `branches`. */
  salt?: number;
  /**
   * The reference run's values: with them, every kinked op takes the branch the reference took
   * (see lockedStep), so simulated rounding never moves a gradient across a kink.
   */
  branches?: readonly Float64Array[];
  /** Compute the leaves' gradients (default true). */
  grad?: boolean;
  /** Leaf values to use instead of the plan's (by step index). */
  leaves?: ReadonlyMap<number, Float64Array>;
}

export interface RunResult {
  /** Every step's value (row-major, as float64). */
  values: Float64Array[];
  /** Each leaf's gradient, by step index. */
  grads: Map<number, Float64Array>;
  loss: number;
}

function reducedCount(shape: readonly number[], axis: number | null): number {
  if (axis === null || shape.length === 0) return sizeOf(shape);
  return shape[(axis + shape.length) % shape.length]!;
}

function applyStep(s: Step, v: (i: number) => Tensor): Tensor {
  const r = (x: Ref): TensorLike => ('v' in x ? v(x.v) : x.s);
  switch (s.op) {
    case 'leaf': throw new Error('applyStep: leaf');
    case 'neg': return neg(v(s.x));
    case 'exp': return exp(v(s.x));
    case 'log': return log(v(s.x));
    case 'sqrt': return sqrt(v(s.x));
    case 'abs': return abs(v(s.x));
    case 'square': return square(v(s.x));
    case 'sigmoid': return sigmoid(v(s.x));
    case 'tanh': return tanh(v(s.x));
    case 'relu': return relu(v(s.x));
    case 'relu6': return relu6(v(s.x));
    case 'softplus': return softplus(v(s.x));
    case 'pow': return pow(v(s.x), s.p);
    case 'clamp': return clamp(v(s.x), s.lo, s.hi);
    case 'leakyRelu': return leakyRelu(v(s.x), s.slope);
    case 'gelu': return gelu(v(s.x), s.approximate);
    case 'scale': return mul(v(s.x), s.factor);
    case 'add': return add(r(s.a), r(s.b));
    case 'sub': return sub(r(s.a), r(s.b));
    case 'mul': return mul(r(s.a), r(s.b));
    case 'div': return div(r(s.a), r(s.b));
    case 'maximum': return maximum(r(s.a), r(s.b));
    case 'minimum': return minimum(r(s.a), r(s.b));
    case 'sum': return sum(v(s.x), s.axis ?? undefined, s.keepdim);
    case 'mean': return mean(v(s.x), s.axis ?? undefined, s.keepdim);
    case 'max': return max(v(s.x), s.axis ?? undefined, s.keepdim);
    case 'reshape': return reshape(v(s.x), s.shape);
    case 'permute': return permute(v(s.x), s.perm);
    case 'transpose': return transpose(v(s.x), s.dim0, s.dim1);
    case 'expand': return expand(v(s.x), s.shape);
    case 'matmul': return matmul(v(s.a), v(s.b));
    case 'softmax': return softmax(v(s.x), s.axis);
    case 'logSoftmax': return logSoftmax(v(s.x), s.axis);
  }
}

/**
 * A kinked op evaluated on the branch the reference took at each element (`branches`: the
 * reference's values), as x·m + c with constant m and c: relu → m = [x > 0]; leakyRelu → m = 1 or
 * the slope; abs → m = sign x; relu6 and clamp → m = 1 inside the bounds (inclusive for clamp, as
 * its gradient), c = the bound outside; maximum/minimum → the winner, ½ each on a tie (a scalar
 * operand: [x ≥ s] or [x ≤ s], as maxScalar's gradient); max → Σ x·mask/ties. Values are the op's
 * own (up to the rounding being simulated) and the gradient is the engine's rule on the reference's
 * branch. Null for the other ops.
 */
function lockedStep(plan: Plan, i: number, get: (j: number) => Tensor, branches: readonly Float64Array[]): Tensor | null {
  const s = plan.steps[i]!;
  const shape = plan.info[i]!.shape;
  const lin = (x: Tensor, m: Float64Array, c?: Float64Array): Tensor => {
    const y = mul(x, cpu64(m, x.shape));
    return c ? add(y, cpu64(c, x.shape)) : y;
  };
  switch (s.op) {
    case 'relu':
      return lin(get(s.x), Float64Array.from(branches[s.x]!, (v) => (v > 0 ? 1 : 0)));
    case 'leakyRelu':
      return lin(get(s.x), Float64Array.from(branches[s.x]!, (v) => (v > 0 ? 1 : s.slope)));
    case 'abs':
      return lin(get(s.x), Float64Array.from(branches[s.x]!, Math.sign));
    case 'relu6': {
      const r = branches[s.x]!;
      return lin(get(s.x), Float64Array.from(r, (v) => (v > 0 && v < 6 ? 1 : 0)), Float64Array.from(r, (v) => (v >= 6 ? 6 : 0)));
    }
    case 'clamp': {
      const r = branches[s.x]!;
      const lo = s.lo ?? -Infinity;
      const hi = s.hi ?? Infinity;
      return lin(get(s.x), Float64Array.from(r, (v) => (v >= lo && v <= hi ? 1 : 0)), Float64Array.from(r, (v) => (v < lo ? lo : v > hi ? hi : 0)));
    }
    case 'maximum': case 'minimum': {
      const wins = (p: number, q: number): number => (s.op === 'maximum' ? (p > q ? 1 : p === q ? 0.5 : 0) : p < q ? 1 : p === q ? 0.5 : 0);
      if (!('v' in s.a) || !('v' in s.b)) {
        // A scalar operand: maxScalar / minScalar, whose gradient passes ties to the tensor.
        const [t, c] = 'v' in s.a ? [s.a.v, (s.b as { s: number }).s] : [(s.b as { v: number }).v, s.a.s];
        const m = Float64Array.from(branches[t]!, (v) => (s.op === 'maximum' ? (v >= c ? 1 : 0) : v <= c ? 1 : 0));
        return lin(get(t), m, Float64Array.from(m, (w) => (1 - w) * c));
      }
      const n = sizeOf(shape);
      const ia = broadcastIndex(plan.info[s.a.v]!.shape, shape);
      const ib = broadcastIndex(plan.info[s.b.v]!.shape, shape);
      const ra = branches[s.a.v]!;
      const rb = branches[s.b.v]!;
      const ma = Float64Array.from({ length: n }, (_, j) => wins(ra[ia[j]!]!, rb[ib[j]!]!));
      return add(mul(get(s.a.v), cpu64(ma, shape)), mul(get(s.b.v), cpu64(ma.map((w) => 1 - w), shape)));
    }
    case 'max': {
      const xShape = plan.info[s.x]!.shape;
      const r = branches[s.x]!;
      const w = new Float64Array(r.length);
      const { outer, len, inner } = slices(xShape, s.axis);
      for (let o = 0; o < outer; o++) {
        for (let k = 0; k < inner; k++) {
          let m = -Infinity;
          let ties = 0;
          for (let l = 0; l < len; l++) m = Math.max(m, r[(o * len + l) * inner + k]!);
          for (let l = 0; l < len; l++) if (r[(o * len + l) * inner + k] === m) ties++;
          for (let l = 0; l < len; l++) if (r[(o * len + l) * inner + k] === m) w[(o * len + l) * inner + k] = 1 / ties;
        }
      }
      return sum(mul(get(s.x), cpu64(w, xShape)), s.axis ?? undefined, s.keepdim);
    }
    default:
      return null;
  }
}

/** A reduction over `axis` (every axis when null) as [outer, len, inner]. */
function slices(shape: readonly number[], axis: number | null): { outer: number; len: number; inner: number } {
  if (axis === null || shape.length === 0) return { outer: 1, len: sizeOf(shape), inner: 1 };
  const ax = (axis + shape.length) % shape.length;
  return { outer: sizeOf(shape.slice(0, ax)), len: shape[ax]!, inner: sizeOf(shape.slice(ax + 1)) };
}

/**
 * Runs the plan on one backend (every tensor disposed before returning): the values of every step
 * and, unless grad is false, the gradient of loss = Σ sum(sink · W) for every leaf.
 */
export async function runPlan(plan: Plan, opts: RunOptions): Promise<RunResult> {
  const { device, dtype, salt } = opts;
  if (salt !== undefined && (device !== 'cpu' || dtype !== 'float64' || !opts.branches)) throw new Error('runPlan: simulated rounding needs the float64 CPU backend and the reference branches');
  if (device !== 'cpu') poison(device, plan.info.map((i) => sizeOf(i.shape)));
  return tidy(async () => {
    const vals: Tensor[] = [];
    const leaves = new Map<number, Tensor>();
    for (const [i, s] of plan.steps.entries()) {
      const shape = plan.info[i]!.shape;
      if (s.op === 'leaf') {
        const t = tensor(opts.leaves?.get(i) ?? leafValues(s), { shape, dtype, device, requiresGrad: opts.grad !== false });
        leaves.set(i, t);
        vals.push(t);
        continue;
      }
      const key = (salt ?? 0) ^ Math.imul(i + 1, 0x27d4eb2f);
      let get = (j: number): Tensor => vals[j]!;
      if (salt !== undefined && (s.op === 'sum' || s.op === 'mean' || s.op === 'matmul')) {
        const terms = new Map<number, Tensor>();
        if (s.op === 'matmul') {
          const k = plan.info[s.a]!.shape.at(-1)!;
          const q = (v: number): boolean => exactTerm(v, 16, 8);
          terms.set(s.a, await perturbTerms(vals[s.a]!, key, k, q));
          if (s.b !== s.a) terms.set(s.b, await perturbTerms(vals[s.b]!, key ^ 1, k, q));
        } else {
          terms.set(s.x, await perturbTerms(vals[s.x]!, key, reducedCount(plan.info[s.x]!.shape, s.axis), (v) => exactTerm(v, 256, 64)));
        }
        get = (j) => terms.get(j) ?? vals[j]!;
      }
      let out: Tensor;
      if (salt !== undefined && (s.op === 'softmax' || s.op === 'logSoftmax')) {
        out = await simulatedSoftmax(vals[s.x]!, s.axis, s.op === 'logSoftmax', key);
      } else {
        out = (opts.branches && lockedStep(plan, i, get, opts.branches)) || applyStep(s, get);
        if (salt !== undefined && !EXACT_OPS.has(s.op)) out = await perturbOutput(out, key ^ 0x165667b1, s.op, 'x' in s ? vals[s.x] : undefined);
      }
      if (out.shape.join() !== shape.join()) {
        throw new Error(`v${i} = ${stepStr(s)} on ${device}: shape [${out.shape.join(',')}], the plan expects [${shape.join(',')}]`);
      }
      vals.push(out);
    }
    const values: Float64Array[] = [];
    for (const t of vals) values.push(Float64Array.from(await t.data()));
    let loss: Tensor | null = null;
    for (const sink of plan.sinks) {
      const w = tensor(lossWeights(plan, sink), { shape: plan.info[sink]!.shape, dtype, device });
      const term = sum(mul(vals[sink]!, w));
      loss = loss ? add(loss, term) : term;
    }
    const grads = new Map<number, Float64Array>();
    if (opts.grad !== false) {
      loss!.backward();
      for (const [i, t] of leaves) {
        if (!t.grad) throw new Error(`runPlan on ${device}: leaf v${i} got no gradient`);
        if (t.grad.shape.join() !== t.shape.join()) throw new Error(`runPlan on ${device}: the gradient of leaf v${i} has shape [${t.grad.shape.join(',')}], the leaf [${t.shape.join(',')}]`);
        grads.set(i, Float64Array.from(await t.grad.data()));
      }
    }
    return { values, grads, loss: (await loss!.data())[0]! };
  });
}

// ---------------------------------------------------------------------------------------------
// Branch signatures: which side of its kink every kinked op took, per element.

/** For each element of `out`, the flat index of the element of a broadcast input of shape `inp`. */
function broadcastIndex(inp: readonly number[], out: readonly number[]): Int32Array {
  const n = sizeOf(out);
  const idx = new Int32Array(n);
  const lead = out.length - inp.length;
  const strides: number[] = new Array<number>(out.length).fill(0);
  let acc = 1;
  for (let d = inp.length - 1; d >= 0; d--) {
    strides[d + lead] = inp[d] === 1 ? 0 : acc;
    acc *= inp[d]!;
  }
  for (let i = 0; i < n; i++) {
    let rem = i;
    let j = 0;
    for (let d = out.length - 1; d >= 0; d--) {
      j += (rem % out[d]!) * strides[d]!;
      rem = Math.floor(rem / out[d]!);
    }
    idx[i] = j;
  }
  return idx;
}

/**
 * The branch each kinked op took, per element, in one run: sign(x) for relu, leakyRelu and abs (whose
 * gradients differ at 0 and on each side); the sides of both bounds for relu6 and clamp; sign(a − b)
 * for maximum and minimum (ties split the gradient); and, for max, which elements equal their
 * slice's maximum. Two runs whose signatures agree differentiate the same branch everywhere.
 */
export function signatures(plan: Plan, values: readonly Float64Array[]): string {
  const parts: string[] = [];
  const sign = (x: number): number => (x > 0 ? 1 : x < 0 ? -1 : x === 0 ? 0 : 9);
  for (const [i, s] of plan.steps.entries()) {
    let sig: number[] | null = null;
    switch (s.op) {
      case 'relu': case 'leakyRelu': case 'abs':
        sig = Array.from(values[s.x]!, sign);
        break;
      case 'relu6':
        sig = Array.from(values[s.x]!, (x) => sign(x) + 3 * sign(x - 6));
        break;
      case 'clamp':
        sig = Array.from(values[s.x]!, (x) => (s.lo === null ? 0 : sign(x - s.lo)) + 3 * (s.hi === null ? 0 : sign(x - s.hi)));
        break;
      case 'maximum': case 'minimum': {
        const out = plan.info[i]!.shape;
        const pick = (r: Ref): ((j: number) => number) => {
          if (!('v' in r)) return () => r.s;
          const idx = broadcastIndex(plan.info[r.v]!.shape, out);
          const v = values[r.v]!;
          return (j) => v[idx[j]!]!;
        };
        const a = pick(s.a);
        const b = pick(s.b);
        sig = Array.from({ length: sizeOf(out) }, (_, j) => sign(a(j) - b(j)));
        break;
      }
      case 'max': {
        const x = values[s.x]!;
        const { outer, len, inner } = slices(plan.info[s.x]!.shape, s.axis);
        sig = new Array<number>(x.length).fill(0);
        for (let o = 0; o < outer; o++) {
          for (let n = 0; n < inner; n++) {
            let m = -Infinity;
            for (let l = 0; l < len; l++) m = Math.max(m, x[(o * len + l) * inner + n]!);
            for (let l = 0; l < len; l++) if (x[(o * len + l) * inner + n] === m) sig[(o * len + l) * inner + n] = 1;
          }
        }
        break;
      }
      default:
        break;
    }
    if (sig) parts.push(`${i}:${sig.join(',')}`);
  }
  return parts.join('|');
}

/** The first step (and element) where two runs' branches differ, for messages. */
export function firstBranchDifference(plan: Plan, a: string, b: string): string {
  const pa = a.split('|');
  const pb = b.split('|');
  for (let k = 0; k < pa.length; k++) {
    if (pa[k] === pb[k]) continue;
    const [step, sa] = pa[k]!.split(':') as [string, string];
    const sb = pb[k]!.split(':')[1]!;
    const ea = sa.split(',');
    const eb = sb.split(',');
    const e = ea.findIndex((x, j) => x !== eb[j]);
    return `v${step} = ${stepStr(plan.steps[Number(step)]!)}, element ${e}`;
  }
  return 'none';
}

// ---------------------------------------------------------------------------------------------
// Judging a run.

/** Relative tolerance on every element. */
export const RTOL = 1e-3;
/** How far beyond the simulated-rounding spread a device may stray. */
export const SPREAD_FACTOR = 32;
/** Absolute floor (subnormals a GPU may flush to zero, amplified). */
export const ABS_FLOOR = 1e-30;

export interface Reference {
  ref: RunResult;
  /** The simulated-rounding runs. */
  sims: RunResult[];
}

/**
 * |got − ref| ≤ RTOL·|ref| + atol per element, with one atol per tensor:
 * SPREAD_FACTOR · (largest deviation of a simulated-rounding run from the reference, over the tensor)
 * + 16·eps32·depth·max|ref| (a few ulps per op along the chain, for graphs whose simulation is exact)
 * + ABS_FLOOR.
 */
export function toleranceFor(ref: Float64Array, sims: readonly Float64Array[], depth: number): Tol {
  let spread = 0;
  for (const p of sims) {
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs(p[i]! - ref[i]!);
      if (Number.isFinite(d) && d > spread) spread = d;
    }
  }
  return { rtol: RTOL, atol: ABS_FLOOR + SPREAD_FACTOR * spread + 16 * EPS32 * Math.max(1, depth) * maxAbs(ref) };
}

/** The largest |got − ref| / (atol + rtol·|ref|) over finite elements: how much of the tolerance a run used. */
function toleranceUsed(got: ArrayLike<number>, ref: ArrayLike<number>, tol: Tol): number {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i]!;
    if (!Number.isFinite(r)) continue;
    const u = Math.abs(got[i]! - r) / (tol.atol + tol.rtol * Math.abs(r));
    if (u > worst) worst = u;
  }
  return worst;
}

function mismatchMessage(what: string, got: ArrayLike<number>, ref: ArrayLike<number>, shape: readonly number[], tol: Tol): string | null {
  if (got.length !== ref.length) return `${what}: ${got.length} elements, expected ${ref.length}`;
  const m = findMismatch(got, ref, shape, tol);
  if (!m) return null;
  return `${what}: ${m.count} of ${ref.length} elements differ; first at flat ${m.index} [${m.coords.join(', ')}]: ` +
    `got ${m.got}, expected ${m.expected} (|diff| ${Math.abs(m.got - m.expected).toExponential(3)} > ${m.limit.toExponential(3)}; ` +
    `rtol ${tol.rtol}, atol ${tol.atol.toExponential(3)})`;
}

export interface Verdict {
  /** Whether the gradients were compared (false: the device took another branch at a kink, see `ambiguity`). */
  gradsCompared: boolean;
  ambiguity: string | null;
  /** The largest fraction of its tolerance any compared element used. */
  used: number;
}

/**
 * Compares a device run with the reference: every step's value, then, when the device took the
 * reference's branch at every kink, every leaf's gradient. Throws on the first mismatch.
 */
export function judge(plan: Plan, r: Reference, got: RunResult, device: string): Verdict {
  const { ref, sims } = r;
  let used = 0;
  for (const [i, s] of plan.steps.entries()) {
    const info = plan.info[i]!;
    const tol = toleranceFor(ref.values[i]!, sims.map((p) => p.values[i]!), info.depth);
    const msg = mismatchMessage(`forward v${i} = ${stepStr(s)} ${JSON.stringify(info.shape)} on ${device}`, got.values[i]!, ref.values[i]!, info.shape, tol);
    if (msg) throw new Error(msg);
    used = Math.max(used, toleranceUsed(got.values[i]!, ref.values[i]!, tol));
  }
  const refSig = signatures(plan, ref.values);
  const gotSig = signatures(plan, got.values);
  if (gotSig !== refSig) {
    return { gradsCompared: false, ambiguity: firstBranchDifference(plan, refSig, gotSig), used };
  }
  const depth = 2 * Math.max(...plan.info.map((i) => i.depth)) + 2;
  for (const [leaf, g] of ref.grads) {
    const shape = plan.info[leaf]!.shape;
    const tol = toleranceFor(g, sims.map((p) => p.grads.get(leaf)!), depth);
    const msg = mismatchMessage(`gradient of leaf v${leaf} ${JSON.stringify(shape)} on ${device}`, got.grads.get(leaf)!, g, shape, tol);
    if (msg) throw new Error(msg);
    used = Math.max(used, toleranceUsed(got.grads.get(leaf)!, g, tol));
  }
  return { gradsCompared: true, ambiguity: null, used };
}

/**
 * The reference run and `n` simulated-rounding runs of a plan (CPU, float64).
 *
 * The simulated runs evaluate kinked ops through lockedStep, the test's own statement of each rule
 * (values and gradients), not the engine's. So that a disagreement between the two (an engine rule
 * that drops ties, say) cannot pass as rounding spread and widen the tolerance to cover itself,
 * the locked rules are first run without simulated rounding: an independent float64 reference that
 * must agree with the engine's float64 run to float64 precision, or the plan fails here.
 */
export async function reference(plan: Plan, n: number, salt: number): Promise<Reference> {
  const ref = await runPlan(plan, { device: 'cpu', dtype: 'float64' });
  const locked = await runPlan(plan, { device: 'cpu', dtype: 'float64', branches: ref.values });
  const f64 = (r: Float64Array): Tol => ({ rtol: 1e-9, atol: 1e-300 + 1e-10 * maxAbs(r) });
  for (const [i, s] of plan.steps.entries()) {
    const msg = mismatchMessage(`forward v${i} = ${stepStr(s)}: the engine vs the independent (locked) rule`, ref.values[i]!, locked.values[i]!, plan.info[i]!.shape, f64(locked.values[i]!));
    if (msg) throw new Error(msg);
  }
  for (const [leaf, g] of locked.grads) {
    const msg = mismatchMessage(`gradient of leaf v${leaf}: the engine's rules vs the independent (locked) rules`, ref.grads.get(leaf)!, g, plan.info[leaf]!.shape, f64(g));
    if (msg) throw new Error(msg);
  }
  const sims: RunResult[] = [];
  for (let k = 0; k < n; k++) {
    sims.push(await runPlan(plan, { device: 'cpu', dtype: 'float64', salt: (salt + Math.imul(k + 1, 0x61c88647)) >>> 0, branches: ref.values }));
  }
  return { ref, sims };
}

