/**
 * The narrow waist: every kernel a backend must supply. An op in src/ops/ checks its arguments,
 * computes the output shape and calls exactly these; the backends never see Tensors or autograd.
 *
 * Memory, a few core verbs, and one `routine` verb for every fused or structured kernel (the typed
 * table in routines.ts), so this interface stays on one screen however many kernels exist.
 *
 * A backend that lacks a verb fails to compile (`implements Backend`); a backend's routine table
 * and its per-op tables are mapped types over the name unions (RoutineName, UnaryOp...), so adding
 * a routine or a UnaryOp without its CPU and its WebGPU implementation is a compile error too.
 */

import type { RoutineInputs, RoutineName, RoutineParams, RoutineResult } from './routines.js';
export type { Conv2dGeometry, Pool2dGeometry, RoutineName } from './routines.js';
export {
  ACTIVATION_GRAD_OPS,
  DEFAULT_LEAKY_RELU_SLOPE,
  INT32_UNARY_OPS,
  isActivationGradOp,
  isInt32UnaryOp,
  type Int32UnaryOp,
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
  BinaryOp,
  DType,
  EpilogueActivation,
  RandomKind,
  ReduceOp,
  UnaryOp,
} from '../../shaders/kernel-types.js';

export type BackendName = 'cpu' | 'webgpu';

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

export interface Backend {
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
   * (`op` names the caller). CPU throws here; WebGPU tests it on the device and throws at the next read().
   */
  assertFinite(x: Storage, op: string, message: (value: number) => string): void;
  // ---- core verbs ----
  fill(length: number, value: number, dtype: DType): Storage;
  cast(x: Storage, dtype: DType): Storage;
  unary(op: UnaryOp, x: Storage, param: number): Storage;
  /** dy · f'(x) for an activation f, elementwise; x and dy have the same length. */
  activationGrad(op: ActivationGradOp, x: Storage, dy: Storage, param: number): Storage;
  /** Elementwise with NumPy broadcasting of a and b to outShape. */
  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage;
  /** Reduces the middle axis of x viewed as [outer, length, inner] to [outer, inner]. */
  reduce(op: ReduceOp, x: Storage, outer: number, length: number, inner: number): Storage;
  /** A strided gather: out (contiguous, outShape)[i0..ik] = x[offset + Σ ij·strides[j]] (transpose, broadcast). */
  strided(x: Storage, outShape: readonly number[], strides: readonly number[], offset: number): Storage;
  matmul(a: Storage, b: Storage, args: MatmulArgs): Storage;
  /** Philox4x32-10 draw: value i is a pure function of (seed, offset + i). */
  random(kind: RandomKind, length: number, seed: number, offset: number, dtype: DType): Storage;
  /** Every fused or structured kernel (batch norm, softmax, optimizers, indexing, conv...): see routines.ts. */
  routine<K extends RoutineName>(name: K, inputs: RoutineInputs<K>, params: RoutineParams<K>): RoutineResult<K>;
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
  return dtype === 'float64' ? 8 : dtype === 'float16' ? 2 : 4;
}

export function typedArrayFor(dtype: DType, length: number): TypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(length);
    case 'float64': return new Float64Array(length);
    case 'int32': return new Int32Array(length);
    // float16 values live on the host as float32 (exact widening), as a readback returns them.
    case 'float16': return new Float32Array(length);
  }
}
