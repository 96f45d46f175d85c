/**
 * The routine table: every fused or structured kernel a backend supplies beyond the core verbs
 * (batch norm, softmax and cross-entropy, optimizer steps, dropout, indexing, scans, convolution,
 * pooling), each with NAMED storages in, named parameters and a typed result.
 *
 * An op calls `backend.routine('softmax', { x }, { rows, cols, log })`; each backend supplies a
 * `RoutineTable` (a mapped type over `RoutineName`), so a routine added here without its CPU or its
 * WebGPU implementation is a compile error, as the unary and gradient tables are. Adding a routine
 * never grows the Backend interface.
 */
import type { ArgReduceOp, IndexLayout, Storage } from './types.js';
import type { AdamStepOptions, OutputGradActivation, SgdStepOptions } from './fused-types.js';

/**
 * Geometry of a 2-D convolution in PyTorch's layouts: x [n, cin, h, w] (NCHW), weight
 * [cout, cin / groups, kh, kw] (OIHW), out [n, cout, hout, wout]. Every field is a validated
 * non-negative integer (stride, dilation, groups >= 1); hout/wout follow PyTorch's formula.
 */
export interface Conv2dGeometry {
  n: number; cin: number; h: number; w: number;
  cout: number; kh: number; kw: number;
  hout: number; wout: number;
  strideH: number; strideW: number;
  padH: number; padW: number;
  dilationH: number; dilationW: number;
  groups: number;
}

/**
 * Geometry of a 2-D pooling over x [planes, h, w] -> [planes, hout, wout] (planes = N·C). Window
 * (oh, ow) covers rows oh·strideH − padH ... + kh − 1 (clipped to the input), or, when `adaptive`,
 * rows floor(oh·h / hout) ... ceil((oh + 1)·h / hout) − 1 (PyTorch's adaptive windows; kernel,
 * stride and padding are then ignored).
 */
export interface Pool2dGeometry {
  planes: number; h: number; w: number; hout: number; wout: number;
  kh: number; kw: number; strideH: number; strideW: number; padH: number; padW: number;
  adaptive: boolean;
  /** avg only: divide by kh·kw (padding counted) instead of the number of elements inside the input. */
  countIncludePad: boolean;
}

/** One routine's contract: the storages it reads (or writes in place), its parameters, its result. */
interface Routine<Inputs, Params, Result> {
  inputs: Inputs;
  params: Params;
  result: Result;
}

/** [outer, length, inner]: the view of a tensor whose middle axis a routine works along. */
interface AxisView { outer: number; length: number; inner: number }
/** A row-major matrix [rows, cols] whose last axis a softmax normalises. */
interface Rows { rows: number; cols: number; log: boolean }
/** Batch norm over x viewed as [n, c] (statistics per column). */
interface Columns { n: number; c: number }
/** Batch norm over NCHW x viewed as [n, c, hw] (statistics per channel, over its n·hw elements). */
interface Planes { n: number; c: number; hw: number }

export interface RoutineSpec {
  // ---- fused training pieces (WebGPU: webgpu/fused/*.ts; CPU: cpu/{activation-output,dropout,batchnorm,softmax,optimizer}.ts) ----

  /** dy·f'(x) computed from y = f(x). leakyRelu needs a positive slope `param` (so sign(y) = sign(x)). */
  activationGradFromOutput: Routine<{ y: Storage; dy: Storage }, { op: OutputGradActivation; param: number }, Storage>;
  /**
   * Inverted dropout: out_i = x_i · (u_i >= p ? 1/(1-p) : 0) with u_i = the Philox uniform of word
   * (offset + i) under `seed`. The mask is regenerated, never stored: applied to dy with the same
   * (seed, offset) it is the backward.
   */
  dropout: Routine<{ x: Storage }, { p: number; seed: number; offset: number }, Storage>;
  /**
   * dropout that also returns its keep mask, bit-packed: bit (i mod 32) of int32 word floor(i / 32)
   * is set iff element i was kept (ceil(n / 32) words; bits past n are 0). `out` is bit-identical to
   * dropout's with the same (p, seed, offset).
   */
  dropoutWithMask: Routine<{ x: Storage }, { p: number; seed: number; offset: number }, { out: Storage; mask: Storage }>;
  /** The dropout backward from a stored mask: out_i = mask bit i ? dy_i·(1/(1−p)) : 0. */
  dropoutApplyMask: Routine<{ dy: Storage; mask: Storage }, { p: number }, Storage>;
  /** Per-column mean and biased variance of x viewed as [n, c]. */
  batchNormStats: Routine<{ x: Storage }, Columns, { mean: Storage; variance: Storage }>;
  /** y = (x − mean)·rsqrt(variance + eps)·gamma + beta over [n, c]; gamma and beta are null without affine. */
  batchNormApply: Routine<
    { x: Storage; mean: Storage; variance: Storage; gamma: Storage | null; beta: Storage | null },
    Columns & { eps: number },
    Storage
  >;
  /**
   * Backward of batch norm in training mode (statistics from this batch), fused:
   * dx = gamma·rstd/n · (n·dy − Σdy − x̂·Σ(dy·x̂)), dgamma = Σ dy·x̂, dbeta = Σ dy (sums over rows).
   */
  batchNormBackward: Routine<
    { x: Storage; dy: Storage; mean: Storage; variance: Storage; gamma: Storage | null },
    Columns & { eps: number },
    { dx: Storage; dgamma: Storage; dbeta: Storage }
  >;
  /**
   * In place, the running statistics' step towards the batch's (one kernel for both vectors, each
   * [c]): runningMean = keep·runningMean + momentum·mean; runningVar = keep·runningVar + varScale·variance
   * (keep = 1 − momentum; varScale = momentum·count/(count − 1) unbiases the variance, as PyTorch).
   */
  batchNormRunningStats: Routine<
    { runningMean: Storage; runningVar: Storage; mean: Storage; variance: Storage },
    { c: number; keep: number; momentum: number; varScale: number },
    void
  >;
  /** batchNormStats on NCHW x [n, c, hw] (BatchNorm2d): per-channel mean and biased variance over n·hw, no permute. */
  batchNorm2dStats: Routine<{ x: Storage }, Planes, { mean: Storage; variance: Storage }>;
  /** batchNormApply on NCHW x [n, c, hw]: channel j = (i / hw) mod c. */
  batchNorm2dApply: Routine<
    { x: Storage; mean: Storage; variance: Storage; gamma: Storage | null; beta: Storage | null },
    Planes & { eps: number },
    Storage
  >;
  /** batchNormBackward on NCHW [n, c, hw]: the sums run over each channel's n·hw elements. */
  batchNorm2dBackward: Routine<
    { x: Storage; dy: Storage; mean: Storage; variance: Storage; gamma: Storage | null },
    Planes & { eps: number },
    { dx: Storage; dgamma: Storage; dbeta: Storage }
  >;
  /** softmax, or logSoftmax when `log`, along the last axis of x viewed as [rows, cols]; max subtracted first. */
  softmax: Routine<{ x: Storage }, Rows, Storage>;
  /** Gradient of softmax (dx = y·(dy − Σ dy·y)) or of logSoftmax (dx = dy − exp(y)·Σ dy) from the output y. */
  softmaxGrad: Routine<{ y: Storage; dy: Storage }, Rows, Storage>;
  /**
   * Per-row loss −log softmax(logits)[label] over [n, c] with int32 labels [n], stable (log-sum-exp
   * with the max subtracted). A label outside [0, c) gives NaN for its row and is an error: thrown
   * here by the CPU backend, recorded on the device and thrown by the next read on WebGPU.
   */
  softmaxCrossEntropy: Routine<{ logits: Storage; labels: Storage }, Columns, Storage>;
  /** (softmax(logits) − onehot(label))·dLoss[row], over [n, c]; dLoss has n elements. */
  softmaxCrossEntropyGrad: Routine<{ logits: Storage; labels: Storage; dLoss: Storage }, Columns, Storage>;
  /** In place, PyTorch's SGD: g = grad + wd·param; buf = momentum·buf + (1−dampening)·g; g = nesterov ? g + momentum·buf : buf; param −= lr·g. */
  sgdStep: Routine<{ param: Storage; grad: Storage; velocity: Storage | null }, SgdStepOptions, void>;
  /**
   * In place, sgdStep on each (params[k], grads[k], velocities[k]) with the same options (WebGPU:
   * several parameters per dispatch). The three lists have the same length.
   */
  sgdStepMany: Routine<{ params: readonly Storage[]; grads: readonly Storage[]; velocities: readonly (Storage | null)[] }, SgdStepOptions, void>;
  /** In place, PyTorch's Adam / AdamW (bias-corrected moments m and v). */
  adamStep: Routine<{ param: Storage; grad: Storage; m: Storage; v: Storage }, AdamStepOptions, void>;

  // ---- selection, indexing, scans (webgpu/core-ops.ts; cpu/core-ops.ts) ----

  /**
   * Index (int32) of the largest / smallest element along the middle axis of x viewed as
   * [outer, length, inner] -> [outer, inner]; the first on ties, and the first NaN if any (as
   * PyTorch). length must be at least 1.
   */
  argReduce: Routine<{ x: Storage }, AxisView & { op: ArgReduceOp }, Storage>;
  /**
   * out[o, c, i] = x[o, idx, i] with x viewed as [outer, length, inner], out as [outer, count,
   * inner], idx from int32 `indices` laid out as `layout` says. An index outside [0, length)
   * gives NaN (float) or 0 (int32).
   */
  gather: Routine<{ x: Storage; indices: Storage }, AxisView & { layout: IndexLayout; count: number }, Storage>;
  /**
   * The adjoint of gather: out [outer, length, inner] starts at 0 and receives src[o, c, i] at
   * [o, idx, i]; repeated indices accumulate in ascending c (deterministic on every backend);
   * indices outside [0, length) are skipped.
   */
  scatterAdd: Routine<{ src: Storage; indices: Storage }, AxisView & { layout: IndexLayout; count: number }, Storage>;
  /** Elementwise cond ? a : b over equal-length storages; cond is any dtype, true where non-zero (NaN is true). */
  select: Routine<{ cond: Storage; a: Storage; b: Storage }, Record<string, never>, Storage>;
  /**
   * In place: dst[offset + Σ ij·strides[j]] = src[i0..ik] (src contiguous of shape srcShape). The
   * inverse of the core `strided` verb; the addressed positions must be distinct. Serves slice
   * gradients, pad, cat.
   */
  stridedWrite: Routine<{ dst: Storage; src: Storage }, { srcShape: readonly number[]; strides: readonly number[]; offset: number }, void>;
  /** Inclusive prefix sum along the middle axis of [outer, length, inner]; from the end when `reverse`. */
  cumsum: Routine<{ x: Storage }, AxisView & { reverse: boolean }, Storage>;

  // ---- convolution and pooling (webgpu/conv.ts; cpu/conv.ts) ----

  /** out = conv2d(x, weight) (+ bias [cout] when given), as torch.nn.functional.conv2d. */
  conv2d: Routine<{ x: Storage; weight: Storage; bias: Storage | null }, Conv2dGeometry, Storage>;
  /** dx [n, cin, h, w] from dy [n, cout, hout, wout]: the transposed convolution with the same weight. */
  conv2dBackwardInput: Routine<{ dy: Storage; weight: Storage }, Conv2dGeometry, Storage>;
  /** dweight [cout, cin / groups, kh, kw] = Σ over n, hout, wout of dy · x (the input window). */
  conv2dBackwardWeight: Routine<{ x: Storage; dy: Storage }, Conv2dGeometry, Storage>;
  /**
   * Max pooling: the values and the int32 index (the flat ih·w + iw position within the plane, as
   * PyTorch's return_indices) of the first largest element of each window in row-major order; a
   * NaN wins (the last one in the window, as PyTorch 1.13). Every window holds an input element.
   */
  maxPool2d: Routine<{ x: Storage }, Pool2dGeometry, { values: Storage; indices: Storage }>;
  /** dx [planes, h, w]: each dy goes to the element its index names (summed where windows overlap, in window order). */
  maxPool2dBackward: Routine<{ dy: Storage; indices: Storage }, Pool2dGeometry, Storage>;
  /** Average pooling (and adaptive average pooling when g.adaptive). */
  avgPool2d: Routine<{ x: Storage }, Pool2dGeometry, Storage>;
  /** dx [planes, h, w] of avgPool2d: each input element sums dy / divisor over the windows holding it. */
  avgPool2dBackward: Routine<{ dy: Storage }, Pool2dGeometry, Storage>;
}

export type RoutineName = keyof RoutineSpec;
export type RoutineInputs<K extends RoutineName> = RoutineSpec[K]['inputs'];
export type RoutineParams<K extends RoutineName> = RoutineSpec[K]['params'];
export type RoutineResult<K extends RoutineName> = RoutineSpec[K]['result'];

/** One backend's implementation of routine K, given that backend's kernel context. */
export type RoutineImpl<Ctx, K extends RoutineName> = (ctx: Ctx, inputs: RoutineInputs<K>, params: RoutineParams<K>) => RoutineResult<K>;

/** What each backend supplies: every routine, or the backend fails to compile. */
export type RoutineTable<Ctx> = { readonly [K in RoutineName]: RoutineImpl<Ctx, K> };

/** Looks a routine up by a name that may come from untyped code; a clear error for an unknown one. */
export function routineFrom<Ctx, K extends RoutineName>(table: RoutineTable<Ctx>, backend: string, name: K): RoutineImpl<Ctx, K> {
  if (!Object.prototype.hasOwnProperty.call(table, name)) throw new Error(`${backend}.routine: unknown routine '${String(name)}'`);
  return table[name];
}
