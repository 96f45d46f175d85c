/**
 * Random small op graphs for the fuzz suite (test/fuzz.test.ts).
 *
 * fast-check generates a *recipe* (a base shape, 1-3 leaves described relative to it, 1-6 macro
 * ops made of small integers). `buildPlan` interprets any recipe deterministically into a valid
 * *plan*: a list of primitive engine ops with concrete operands, axes, shapes and scalars. Because
 * every recipe is valid, fast-check can shrink freely (drop ops, zero the integers, shrink the base
 * shape) and the shrunk recipe still builds a graph; the plan is what failure messages print.
 *
 * Magnitudes are kept in float32's comfortable range statically: each value carries a bound on
 * |value|, and an op that could push it past MAG_LIMIT first scales its operand by a power of two
 * (an exact multiplication, printed as `scale`).
 */
import fc from 'fast-check';
import { prng, sizeOf } from './random-data.js';

// ---------------------------------------------------------------------------------------------
// Recipes (what fast-check generates and shrinks).

/** Leaf value distributions. The first is what shrinking tends to. */
export const DISTS = ['uniform', 'ties', 'tiny', 'large'] as const;
export type DistName = (typeof DISTS)[number];

/** Macro ops, simplest first (shrinking moves an op towards the front of this list). */
export const MACRO_OPS = [
  'add', 'sub', 'mul', 'div', 'maximum', 'minimum',
  'neg', 'exp', 'log', 'sqrt', 'abs', 'square', 'pow', 'clamp',
  'sigmoid', 'tanh', 'relu', 'relu6', 'leakyRelu', 'gelu', 'softplus',
  'sum', 'mean', 'max', 'reshape', 'transpose', 'permute', 'expand', 'matmul', 'softmax', 'logSoftmax',
] as const;
export type MacroOp = (typeof MACRO_OPS)[number];

/** Ops whose derivative has a kink or a jump somewhere: left out of the finite-difference property. */
export const KINKED_MACROS: ReadonlySet<MacroOp> = new Set<MacroOp>(['maximum', 'minimum', 'abs', 'clamp', 'relu', 'relu6', 'leakyRelu', 'max']);
export const SMOOTH_MACROS: readonly MacroOp[] = MACRO_OPS.filter((m) => !KINKED_MACROS.has(m));

export interface LeafRecipe {
  /** How many leading dims of the base shape to drop (at most all but one; 3 drops every dim). */
  drop: number;
  /** Bits 2i and 2i+1 both set: dimension i (of the kept ones) becomes 1 (a quarter of the time). */
  ones: number;
  dist: DistName;
  /** 0: plain; 1: about a quarter exact zeros; 2: many exact ties (copies of other elements). */
  spice: number;
  seed: number;
}

export interface OpRecipe {
  op: MacroOp;
  /** Which value is the (first) input: 0 is the most recent. */
  a: number;
  /** Second operand / variant. */
  b: number;
  /** Parameter (axis, exponent, bounds, a seed for shapes and permutations, ...). */
  c: number;
}

export interface Recipe {
  base: number[];
  leaves: LeafRecipe[];
  ops: OpRecipe[];
  /** Seeds the loss weights and the right operands matmul creates. */
  seed: number;
}

export interface RecipeOptions {
  ops?: readonly MacroOp[];
  maxOps?: number;
  maxDim?: number;
}

export function recipeArb(opts: RecipeOptions = {}): fc.Arbitrary<Recipe> {
  const ops = opts.ops ?? MACRO_OPS;
  const leaf = fc.record({
    drop: fc.constantFrom(0, 0, 0, 0, 1, 1, 2, 3),
    ones: fc.nat(63),
    dist: fc.constantFrom(...DISTS),
    spice: fc.nat(2),
    seed: fc.nat(),
  });
  const op = fc.record({ op: fc.constantFrom(...ops), a: fc.nat(7), b: fc.nat(7), c: fc.nat(63) });
  return fc.record({
    // Rank 1-3 (rank-0 leaves come from dropping every dim, rank-0 values from reductions); `size: 'max'` keeps fast-check's
    // small-value bias from making most graphs scalar.
    base: fc.array(fc.noBias(fc.integer({ min: 1, max: opts.maxDim ?? 9 })), { minLength: 1, maxLength: 3, size: 'max' }),
    leaves: fc.array(leaf, { minLength: 1, maxLength: 3 }),
    ops: fc.array(op, { minLength: 1, maxLength: opts.maxOps ?? 6 }),
    seed: fc.nat(),
  });
}

// ---------------------------------------------------------------------------------------------
// Plans (primitive engine ops with everything concrete).

/** An operand: a value of the plan or a plain number. */
export type Ref = { v: number } | { s: number };

export type UnaryName = 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'square' | 'sigmoid' | 'tanh' | 'relu' | 'relu6' | 'softplus';
export type BinaryName = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'minimum';

export type Step =
  | { op: 'leaf'; shape: number[]; dist: DistName; spice: number; seed: number }
  | { op: UnaryName; x: number }
  | { op: 'pow'; x: number; p: number }
  | { op: 'clamp'; x: number; lo: number | null; hi: number | null }
  | { op: 'leakyRelu'; x: number; slope: number }
  | { op: 'gelu'; x: number; approximate: 'none' | 'tanh' }
  /** x · 2^k: exact, inserted to keep magnitudes bounded. */
  | { op: 'scale'; x: number; factor: number }
  | { op: BinaryName; a: Ref; b: Ref }
  | { op: 'sum' | 'mean' | 'max'; x: number; axis: number | null; keepdim: boolean }
  | { op: 'reshape'; x: number; shape: number[] }
  | { op: 'permute'; x: number; perm: number[] }
  | { op: 'transpose'; x: number; dim0: number; dim1: number }
  | { op: 'expand'; x: number; shape: number[] }
  | { op: 'matmul'; a: number; b: number }
  | { op: 'softmax' | 'logSoftmax'; x: number; axis: number };

export interface ValueInfo {
  shape: number[];
  /** A static bound on |value|. */
  bound: number;
  /** Primitive ops on the longest path from a leaf. */
  depth: number;
}

export interface Plan {
  steps: Step[];
  info: ValueInfo[];
  /** Values no later step reads: the loss is Σ sum(sink · W_sink) over them, so every leaf reaches it. */
  sinks: number[];
  /** Seeds the loss weights. */
  seed: number;
  /** The macro ops the recipe asked for that did not apply (shape too small or too big). */
  skipped: string[];
  /** Whether no step has a kink (relu, abs, clamp, max, ...): what the finite-difference property needs. */
  smooth: boolean;
}

/** Largest static |value| bound allowed before an op scales its operand down. */
export const MAG_LIMIT = 1e4;
/** Largest tensor a step may produce. */
export const MAX_SIZE = 2048;
const MAX_RANK = 4;

const DIST_BOUND: Record<DistName, number> = { uniform: 3, ties: 2, tiny: 0.01, large: 50 };

const CLAMP_BOUNDS: readonly [number | null, number | null][] = [
  [-1, 1], [0, null], [null, 0.5], [-0.5, 2], [0, 0], [-3, -1],
];
const SCALARS = [0.5, -1.5, 2, 0, 3] as const;

function broadcast(a: readonly number[], b: readonly number[]): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** The shape a leaf takes: the base shape less `drop` leading dims, with the `ones` dims set to 1. */
export function leafShape(base: readonly number[], l: LeafRecipe): number[] {
  const kept = base.slice(l.drop >= 3 ? base.length : Math.min(l.drop, Math.max(0, base.length - 1)));
  return kept.map((d, i) => (((l.ones >> (2 * i)) & 3) === 3 ? 1 : d));
}

function factorize(n: number): number[] {
  const out: number[] = [];
  for (let p = 2; p * p <= n; p++) while (n % p === 0) { out.push(p); n /= p; }
  if (n > 1) out.push(n);
  return out;
}

function shuffled<T>(xs: readonly T[], rnd: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Interprets a recipe as a plan. `smoothOnly` swaps the kinked guards (abs, clamp) for smooth ones. */
export function buildPlan(r: Recipe, smoothOnly = false): Plan {
  const steps: Step[] = [];
  const info: ValueInfo[] = [];
  const skipped: string[] = [];
  const push = (s: Step, shape: number[], bound: number, inputs: number[]): number => {
    steps.push(s);
    info.push({ shape, bound, depth: inputs.length === 0 ? 0 : 1 + Math.max(...inputs.map((i) => info[i]!.depth)) });
    return steps.length - 1;
  };
  const shapeOf = (v: number): number[] => info[v]!.shape;
  const boundOf = (v: number): number => info[v]!.bound;
  /** Scales v down by a power of two so its bound is at most `target`. */
  const tame = (v: number, target: number): number => {
    const b = boundOf(v);
    if (b <= target) return v;
    const factor = 2 ** -Math.ceil(Math.log2(b / target));
    return push({ op: 'scale', x: v, factor }, shapeOf(v), b * factor, [v]);
  };
  const unary = (op: UnaryName, x: number, bound: number): number => push({ op, x }, shapeOf(x), bound, [x]);

  for (const l of r.leaves) {
    const shape = leafShape(r.base, l);
    push({ op: 'leaf', shape, dist: l.dist, spice: l.spice, seed: l.seed }, shape, DIST_BOUND[l.dist], []);
  }
  const wRnd = prng(r.seed ^ 0x2545f491);

  for (const o of r.ops) {
    const n = steps.length;
    const x = n - 1 - (o.a % n);
    const xs = shapeOf(x);
    const rank = xs.length;
    const size = sizeOf(xs);
    const skip = (why: string): void => void skipped.push(`${o.op} of v${x} ${JSON.stringify(xs)}: ${why}`);
    switch (o.op) {
      case 'add': case 'sub': case 'mul': case 'div': case 'maximum': case 'minimum': {
        // The second operand: a plain number (c % 4 === 0), or a value that broadcasts with x.
        if (o.c % 4 === 0) {
          const s = SCALARS[(o.c >> 2) % SCALARS.length]!;
          if (o.op === 'div' && s === 0) { skip('division by the scalar 0'); break; }
          const flip = (o.c & 32) !== 0 && o.op !== 'div'; // s − x, s·x, max(s, x): the scalar first
          const b = boundOf(x);
          const bound = o.op === 'mul' ? b * Math.abs(s) : o.op === 'div' ? b / Math.abs(s) : b + Math.abs(s);
          const step: Step = { op: o.op, a: flip ? { s } : { v: x }, b: flip ? { v: x } : { s } };
          push(step, xs, bound, [x]);
          break;
        }
        const cands: number[] = [];
        for (let j = n - 1; j >= 0; j--) {
          const bs = broadcast(xs, shapeOf(j));
          if (j === x || (bs && bs.length <= MAX_RANK && sizeOf(bs) <= MAX_SIZE)) cands.push(j);
        }
        let y = cands[o.b % cands.length]!; // x itself always qualifies
        const outShape = broadcast(xs, shapeOf(y))!;
        const swap = (o.c & 32) !== 0;
        let a = x;
        if (o.op === 'mul') {
          a = tame(a, Math.sqrt(MAG_LIMIT));
          if (y === x) y = a;
          else y = tame(y, Math.sqrt(MAG_LIMIT));
          push({ op: 'mul', a: { v: swap ? y : a }, b: { v: swap ? a : y } }, outShape, boundOf(a) * boundOf(y), [a, y]);
        } else if (o.op === 'div') {
          // a / (|y| + 0.5), or a / (y² + 0.5) for the smooth property: never near 0.
          a = tame(a, MAG_LIMIT / 2);
          let g: number;
          if (smoothOnly) {
            const t = tame(y, 64);
            g = unary('square', t, boundOf(t) ** 2);
          } else {
            g = unary('abs', y, boundOf(y));
          }
          const d = push({ op: 'add', a: { v: g }, b: { s: 0.5 } }, shapeOf(g), boundOf(g) + 0.5, [g]);
          push({ op: 'div', a: { v: a }, b: { v: d } }, outShape, 2 * boundOf(a), [a, d]);
        } else {
          const bound = o.op === 'add' || o.op === 'sub' ? boundOf(a) + boundOf(y) : Math.max(boundOf(a), boundOf(y));
          push({ op: o.op, a: { v: swap ? y : a }, b: { v: swap ? a : y } }, outShape, bound, [a, y]);
        }
        break;
      }
      case 'neg': case 'abs': case 'relu':
        unary(o.op, x, boundOf(x));
        break;
      case 'sigmoid': case 'tanh':
        unary(o.op, x, 1);
        break;
      case 'relu6':
        unary(o.op, x, 6);
        break;
      case 'softplus':
        unary(o.op, x, boundOf(x) + 1);
        break;
      case 'exp': {
        // exp of a clamped input (a scaled one for the smooth property): at most e^4.
        const t = smoothOnly
          ? tame(x, 4)
          : push({ op: 'clamp', x, lo: -4, hi: 4 }, xs, Math.min(4, boundOf(x)), [x]);
        unary('exp', t, Math.exp(Math.min(4, boundOf(t))));
        break;
      }
      case 'log': case 'sqrt': {
        // Of |x| + 0.1 (x² + 0.1 for the smooth property).
        let g: number;
        if (smoothOnly) {
          const t = tame(x, 64);
          g = unary('square', t, boundOf(t) ** 2);
        } else {
          g = unary('abs', x, boundOf(x));
        }
        const d = push({ op: 'add', a: { v: g }, b: { s: 0.1 } }, shapeOf(g), boundOf(g) + 0.1, [g]);
        unary(o.op, d, o.op === 'log' ? Math.max(2.31, Math.log(boundOf(d))) : Math.sqrt(boundOf(d)));
        break;
      }
      case 'square': {
        const t = tame(x, Math.sqrt(MAG_LIMIT));
        unary('square', t, boundOf(t) ** 2);
        break;
      }
      case 'pow': {
        const p = o.c % 2 === 0 ? 2 : 3;
        const t = tame(x, MAG_LIMIT ** (1 / p));
        push({ op: 'pow', x: t, p }, xs, boundOf(t) ** p, [t]);
        break;
      }
      case 'clamp': {
        const [lo, hi] = CLAMP_BOUNDS[o.c % CLAMP_BOUNDS.length]!;
        const bound = lo !== null && hi !== null ? Math.max(Math.abs(lo), Math.abs(hi)) : Math.max(boundOf(x), Math.abs(lo ?? hi!));
        push({ op: 'clamp', x, lo, hi }, xs, bound, [x]);
        break;
      }
      case 'leakyRelu':
        push({ op: 'leakyRelu', x, slope: o.c % 2 === 0 ? 0.01 : 0.2 }, xs, boundOf(x), [x]);
        break;
      case 'gelu':
        push({ op: 'gelu', x, approximate: o.c % 2 === 0 ? 'none' : 'tanh' }, xs, boundOf(x), [x]);
        break;
      case 'sum': case 'mean': case 'max': {
        // One axis (negative when b & 2), or every axis when c % 5 === 4.
        const all = o.c % 5 === 4;
        const axis = all ? null : rank === 0 ? (o.b & 2 ? -1 : 0) : (o.c % rank) - (o.b & 2 ? rank : 0);
        const keepdim = (o.b & 1) === 1;
        const k = all ? size : rank === 0 ? 1 : xs[(axis! + rank) % rank]!;
        const t = o.op === 'sum' ? tame(x, MAG_LIMIT / k) : x;
        const outShape = all
          ? (keepdim ? xs.map(() => 1) : [])
          : rank === 0 ? [] : xs.flatMap((d, i) => (i === (axis! + rank) % rank ? (keepdim ? [1] : []) : [d]));
        push({ op: o.op, x: t, axis, keepdim }, outShape, o.op === 'sum' ? boundOf(t) * k : boundOf(t), [t]);
        break;
      }
      case 'reshape': {
        const rnd = prng(o.c * 7919 + 17);
        const target = size === 1 && o.c % 3 === 0 ? 0 : 1 + (o.c % 4);
        const dims: number[] = new Array<number>(target).fill(1);
        if (target > 0) for (const p of factorize(size)) dims[Math.floor(rnd() * target)]! *= p;
        push({ op: 'reshape', x, shape: dims }, dims, boundOf(x), [x]);
        break;
      }
      case 'transpose': {
        if (rank < 2) { skip('rank < 2'); break; }
        const dim0 = o.c % rank;
        let dim1 = (o.b + 1 + dim0) % rank;
        if (dim1 === dim0) dim1 = (dim0 + 1) % rank;
        const out = [...xs];
        [out[dim0], out[dim1]] = [out[dim1]!, out[dim0]!];
        // Negative dims half the time.
        push({ op: 'transpose', x, dim0: o.b & 1 ? dim0 - rank : dim0, dim1 }, out, boundOf(x), [x]);
        break;
      }
      case 'permute': {
        if (rank < 1) { skip('rank 0'); break; }
        const perm = shuffled(xs.map((_, i) => i), prng(o.c * 104729 + 3));
        push({ op: 'permute', x, perm }, perm.map((p) => xs[p]!), boundOf(x), [x]);
        break;
      }
      case 'expand': {
        const rnd = prng(o.c * 31337 + 5);
        const out = xs.map((d) => (d === 1 ? 1 + Math.floor(rnd() * 4) : d));
        if ((o.b & 1 || out.every((d, i) => d === xs[i])) && out.length < MAX_RANK) out.unshift(2 + (o.b >> 1) % 2);
        if (sizeOf(out) > MAX_SIZE) { skip(`${JSON.stringify(out)} too big`); break; }
        push({ op: 'expand', x, shape: out }, out, boundOf(x), [x]);
        break;
      }
      case 'matmul': {
        let a = x;
        if (rank < 2) a = push({ op: 'reshape', x, shape: rank === 0 ? [1, 1] : [1, size] }, rank === 0 ? [1, 1] : [1, size], boundOf(x), [x]);
        const as = shapeOf(a);
        const m = as[as.length - 2]!;
        const k = as[as.length - 1]!;
        const nCols = 1 + (o.c % 7);
        const batch = as.slice(0, -2);
        // Right operand: [k, n], the same batch dims, or a broadcasting leading 1 (a new batch of 2 when there is none).
        const variant = o.b % 3;
        const bShape = variant === 0 || (variant === 1 && batch.length === 0)
          ? [k, nCols]
          : variant === 1 ? [...batch, k, nCols] : batch.length > 0 ? [1, k, nCols] : [2, k, nCols];
        const outShape = [...(broadcast(batch, bShape.slice(0, -2)) ?? batch), m, nCols];
        if (sizeOf(outShape) > MAX_SIZE || outShape.length > MAX_RANK) { skip('too big'); break; }
        const dist = DISTS[(o.c >> 3) % DISTS.length]!;
        const bLeaf = push({ op: 'leaf', shape: bShape, dist, spice: 0, seed: Math.floor(wRnd() * 2 ** 31) }, bShape, DIST_BOUND[dist], []);
        const lim = Math.sqrt(MAG_LIMIT / k);
        const ta = tame(a, lim);
        const tb = tame(bLeaf, lim);
        push({ op: 'matmul', a: ta, b: tb }, outShape, boundOf(ta) * boundOf(tb) * k, [ta, tb]);
        break;
      }
      case 'softmax': case 'logSoftmax': {
        if (rank < 1) { skip('rank 0'); break; }
        const axis = (o.c % rank) - (o.b & 2 ? rank : 0);
        const len = xs[(axis + rank) % rank]!;
        push({ op: o.op, x, axis }, xs, o.op === 'softmax' ? 1 : 2 * boundOf(x) + Math.log(len) + 1, [x]);
        break;
      }
    }
  }

  const read = new Set<number>();
  for (const s of steps) for (const v of inputsOf(s)) read.add(v);
  const sinks = steps.map((_, i) => i).filter((i) => !read.has(i));
  const smooth = steps.every((s) => !KINKED_STEPS.has(s.op));
  return { steps, info, sinks, seed: r.seed, skipped, smooth };
}

const KINKED_STEPS: ReadonlySet<Step['op']> = new Set(['maximum', 'minimum', 'abs', 'clamp', 'relu', 'relu6', 'leakyRelu', 'max']);

/** The values a step reads. */
export function inputsOf(s: Step): number[] {
  switch (s.op) {
    case 'leaf': return [];
    case 'add': case 'sub': case 'mul': case 'div': case 'maximum': case 'minimum':
      return [s.a, s.b].flatMap((r) => ('v' in r ? [r.v] : []));
    case 'matmul': return [s.a, s.b];
    default: return [s.x];
  }
}

// ---------------------------------------------------------------------------------------------
// Leaf values and loss weights.

/** A leaf's values (float32-representable), reproducible from its step. */
export function leafValues(s: Extract<Step, { op: 'leaf' }>): Float64Array {
  const n = sizeOf(s.shape);
  const rnd = prng(s.seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = rnd();
    switch (s.dist) {
      case 'uniform': out[i] = -3 + 6 * u; break;
      case 'ties': out[i] = -2 + 0.5 * Math.floor(u * 9); break; // multiples of 0.5 in [-2, 2]
      case 'tiny': out[i] = (-1 + 2 * u) * 0.01; break;
      case 'large': out[i] = -50 + 100 * u; break;
    }
  }
  if (s.spice === 1) for (let i = 0; i < n; i++) if (rnd() < 0.25) out[i] = 0;
  if (s.spice === 2 && n > 1) for (let i = 0; i < n; i++) if (rnd() < 0.4) out[i] = out[Math.floor(rnd() * n)]!;
  for (let i = 0; i < n; i++) out[i] = Math.fround(out[i]!);
  return out;
}

/** The loss weight of a sink: fixed values in [-1, 1], float32-representable. */
export function lossWeights(plan: Plan, sink: number): Float64Array {
  const rnd = prng((plan.seed ^ Math.imul(sink + 1, 0x9e3779b1)) >>> 0);
  return Float64Array.from({ length: sizeOf(plan.info[sink]!.shape) }, () => Math.fround(-1 + 2 * rnd()));
}

// ---------------------------------------------------------------------------------------------
// Printing.

const refStr = (r: Ref): string => ('v' in r ? `v${r.v}` : String(r.s));
const shp = (s: readonly number[]): string => `[${s.join(',')}]`;

export function stepStr(s: Step): string {
  switch (s.op) {
    case 'leaf': return `leaf ${s.dist}${s.spice === 1 ? '+zeros' : s.spice === 2 ? '+ties' : ''} seed=${s.seed}`;
    case 'add': case 'sub': case 'mul': case 'div': case 'maximum': case 'minimum': return `${s.op}(${refStr(s.a)}, ${refStr(s.b)})`;
    case 'pow': return `pow(v${s.x}, ${s.p})`;
    case 'clamp': return `clamp(v${s.x}, ${s.lo}, ${s.hi})`;
    case 'leakyRelu': return `leakyRelu(v${s.x}, ${s.slope})`;
    case 'gelu': return `gelu(v${s.x}, '${s.approximate}')`;
    case 'scale': return `mul(v${s.x}, ${s.factor})  /* exact rescale */`;
    case 'sum': case 'mean': case 'max': return `${s.op}(v${s.x}, ${s.axis === null ? 'undefined' : s.axis}, ${s.keepdim})`;
    case 'reshape': return `reshape(v${s.x}, ${shp(s.shape)})`;
    case 'permute': return `permute(v${s.x}, ${shp(s.perm)})`;
    case 'transpose': return `transpose(v${s.x}, ${s.dim0}, ${s.dim1})`;
    case 'expand': return `expand(v${s.x}, ${shp(s.shape)})`;
    case 'matmul': return `matmul(v${s.a}, v${s.b})`;
    case 'softmax': case 'logSoftmax': return `${s.op}(v${s.x}, ${s.axis})`;
    default: return `${s.op}(v${s.x})`;
  }
}

function valuesStr(v: ArrayLike<number>, max = 24): string {
  const xs = Array.from(v).slice(0, max).map((x) => (Number.isInteger(x) ? String(x) : x.toPrecision(9)));
  return `[${xs.join(', ')}${v.length > max ? `, … (${v.length})` : ''}]`;
}

/** The plan as numbered lines of code, leaf values and loss included. */
export function planStr(plan: Plan): string {
  const lines = plan.steps.map((s, i) => {
    const line = `  v${i}: ${shp(plan.info[i]!.shape).padEnd(10)} = ${stepStr(s)}`;
    return s.op === 'leaf' ? `${line}\n        values ${valuesStr(leafValues(s))}` : line;
  });
  lines.push(`  loss = ${plan.sinks.map((i) => `sum(v${i} · W${i})`).join(' + ')}   (W from seed ${plan.seed})`);
  if (plan.skipped.length > 0) lines.push(`  (not applied: ${plan.skipped.join('; ')})`);
  return lines.join('\n');
}
