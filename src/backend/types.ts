/**
 * The narrow waist: every kernel a backend must supply. An op in src/ops/ checks its arguments,
 * computes the output shape and calls exactly these; the backends never see Tensors or autograd.
 *
 * A backend that lacks a kernel fails to compile (`implements Backend`), and the per-op tables
 * inside each backend are mapped types over the op-name unions below, so adding a UnaryOp without
 * its CPU formula and its WGSL expression is a compile error too.
 */

import type { TrainingKernels } from './fused-types.js';
export {
  ACTIVATION_GRAD_OPS,
  BINARY_OPS,
  REDUCE_OPS,
  UNARY_OPS,
  type ActivationGradOp,
  type ArgReduceOp,
  type BinaryOp,
  type DType,
  type EpilogueActivation,
  type IndexLayout,
  type RandomKind,
  type ReduceOp,
  type UnaryOp,
} from '../../shaders/kernel-types.js';
import type {
  ActivationGradOp,
  ArgReduceOp,
  BinaryOp,
  DType,
  EpilogueActivation,
  IndexLayout,
  RandomKind,
  ReduceOp,
  UnaryOp,
} from '../../shaders/kernel-types.js';

export type BackendName = 'cpu' | 'webgpu';

/** The typed array that holds (or is read back from) a tensor of each dtype. */
export type DataFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : Int32Array;
export type TypedArray = Float32Array | Float64Array | Int32Array;

/** An opaque handle to a block of elements owned by one backend. */
export interface Storage {
  readonly backend: BackendName;
  readonly dtype: DType;
  /** Number of elements. */
  readonly length: number;
}



export interface MatmulArgs {
  /** Number of independent products. */
  batch: number;
  m: number;
  k: number;
  n: number;
  /** A is stored [batch?, k, m] when true, else [batch?, m, k]. */
  transA: boolean;
  /** B is stored [batch?, n, k] when true, else [batch?, k, n]. */
  transB: boolean;
  /** Elements between consecutive batch matrices; 0 broadcasts one matrix over the batch. */
  aBatchStride: number;
  bBatchStride: number;
  /** Optional row vector of length n added to every output row (fused epilogue). */
  bias?: Storage;
  activation?: EpilogueActivation;
  /** Slope for leakyRelu. */
  alpha?: number;
}


/** The kernels of the core tensor ops (selection, indexing, scans); part of the Backend interface. */
export interface CoreOpKernels {
  /**
   * Index (int32) of the largest / smallest element along the middle axis of x viewed as
   * [outer, length, inner] -> [outer, inner]; the first on ties, and the first NaN if any (as
   * PyTorch). length must be at least 1.
   */
  argReduce(op: ArgReduceOp, x: Storage, outer: number, length: number, inner: number): Storage;
  /**
   * out[o, c, i] = x[o, idx, i] with x viewed as [outer, length, inner], out as [outer, count,
   * inner], idx from int32 `indices` laid out as `layout` says. An index outside [0, length)
   * gives NaN (float) or 0 (int32).
   */
  gather(x: Storage, indices: Storage, layout: IndexLayout, outer: number, length: number, inner: number, count: number): Storage;
  /**
   * The adjoint of gather: out [outer, length, inner] starts at 0 and receives src[o, c, i] at
   * [o, idx, i]; repeated indices accumulate in ascending c (deterministic on every backend);
   * indices outside [0, length) are skipped.
   */
  scatterAdd(src: Storage, indices: Storage, layout: IndexLayout, outer: number, length: number, inner: number, count: number): Storage;
  /** Elementwise cond ? a : b over equal-length storages; cond is any dtype, true where non-zero (NaN is true). */
  select(cond: Storage, a: Storage, b: Storage): Storage;
  /**
   * In place: dst[offset + Σ ij·strides[j]] = src[i0..ik] (src contiguous of shape srcShape). The
   * inverse of `strided`; the addressed positions must be distinct. Serves slice gradients, pad, cat.
   */
  stridedWrite(dst: Storage, src: Storage, srcShape: readonly number[], strides: readonly number[], offset: number): void;
  /** Inclusive prefix sum along the middle axis of [outer, length, inner]; from the end when `reverse`. */
  cumsum(x: Storage, outer: number, length: number, inner: number, reverse: boolean): Storage;
}

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

/** The convolution and pooling kernels; part of the Backend interface. */
export interface ConvKernels {
  /** out = conv2d(x, weight) (+ bias [cout] when given), as torch.nn.functional.conv2d. */
  conv2d(x: Storage, weight: Storage, bias: Storage | null, g: Conv2dGeometry): Storage;
  /** dx [n, cin, h, w] from dy [n, cout, hout, wout]: the transposed convolution with the same weight. */
  conv2dBackwardInput(dy: Storage, weight: Storage, g: Conv2dGeometry): Storage;
  /** dweight [cout, cin / groups, kh, kw] = Σ over n, hout, wout of dy · x (the input window). */
  conv2dBackwardWeight(x: Storage, dy: Storage, g: Conv2dGeometry): Storage;
  /**
   * Max pooling: the values and the int32 index (the flat ih·w + iw position within the plane, as
   * PyTorch's return_indices) of the first largest element of each window in row-major order; a
   * NaN wins (the last one in the window, as PyTorch 1.13). Every window holds an input element.
   */
  maxPool2d(x: Storage, g: Pool2dGeometry): { values: Storage; indices: Storage };
  /** dx [planes, h, w]: each dy goes to the element its index names (summed where windows overlap, in window order). */
  maxPool2dBackward(dy: Storage, indices: Storage, g: Pool2dGeometry): Storage;
  /** Average pooling (and adaptive average pooling when g.adaptive). */
  avgPool2d(x: Storage, g: Pool2dGeometry): Storage;
  /** dx [planes, h, w] of avgPool2d: each input element sums dy / divisor over the windows holding it. */
  avgPool2dBackward(dy: Storage, g: Pool2dGeometry): Storage;
}

export interface Backend extends TrainingKernels, CoreOpKernels, ConvKernels {
  readonly name: BackendName;

  // ---- memory ----
  /** Copies host data into a new storage. */
  upload(data: TypedArray, dtype: DType): Storage;
  /** Reads a storage back; the only way data leaves a backend. */
  read(storage: Storage): Promise<TypedArray>;
  /** Returns a storage's memory to the backend (pool); the handle must not be used again. */
  release(storage: Storage): void;
  /** Bytes the backend holds outside live storages (its pool), and bytes it ever allocated. */
  memoryStats(): BackendMemoryStats;
  /** Submits pending work (no-op where work is synchronous). */
  flush(): void;
  /** Submits pending work and waits while more than a few submits are unfinished (bounds work in flight). */
  settle?(): Promise<void>;
  /** Debug mode on or off (extra validation where a backend has any). */
  setDebug?(on: boolean): void;
  /**
   * Element 0 of the float storage x must be finite, else a WebgradError with `message(value)`
   * (`op` names the caller). The CPU backend throws here; WebGPU tests it on the device and throws
   * at the next read() of any storage, so the check costs no readback.
   */
  assertFinite(x: Storage, op: string, message: (value: number) => string): void;

  // ---- kernels ----
  fill(length: number, value: number, dtype: DType): Storage;
  cast(x: Storage, dtype: DType): Storage;
  unary(op: UnaryOp, x: Storage, param: number): Storage;
  /** dy · f'(x) for an activation f, elementwise; x and dy have the same length. */
  activationGrad(op: ActivationGradOp, x: Storage, dy: Storage, param: number): Storage;
  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage;
  /**
   * Reduces the middle axis of x viewed as [outer, length, inner] to [outer, inner].
   * Every reduction over one axis of any shape maps onto this.
   */
  reduce(op: ReduceOp, x: Storage, outer: number, length: number, inner: number): Storage;
  /**
   * A strided gather: out (contiguous, shape outShape) [i0..ik] = x[offset + Σ ij·strides[j]].
   * Serves transpose/permute (permuted strides) and broadcastTo (stride 0) with one kernel.
   */
  strided(x: Storage, outShape: readonly number[], strides: readonly number[], offset: number): Storage;
  matmul(a: Storage, b: Storage, args: MatmulArgs): Storage;
  /** Philox4x32-10 draw: value i is a pure function of (seed, offset + i). */
  random(kind: RandomKind, length: number, seed: number, offset: number, dtype: DType): Storage;
}

export interface BackendMemoryStats {
  /** Bytes held by the backend's pool for reuse (not in any live storage). */
  pooledBytes: number;
  /** Bytes ever allocated from the device or host by this backend. */
  allocatedBytes: number;
  /** Number of device buffers ever created. */
  buffersCreated: number;
}

export function bytesPerElement(dtype: DType): number {
  return dtype === 'float64' ? 8 : 4;
}

export function typedArrayFor(dtype: DType, length: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(length);
    case 'float64': return new Float64Array(length);
    case 'int32': return new Int32Array(length);
  }
}
