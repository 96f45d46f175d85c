/**
 * Tensor: a shape, a dtype and a reference to backend storage, plus the autograd fields.
 * Methods are thin wrappers over the op functions in src/ops/, so `a.add(b)` and `add(a, b)` are
 * the same code path.
 */
import { DEFAULT_LEAKY_RELU_SLOPE, type Backend, type BackendName, type DType, type Storage, type TypedArray } from './backend/types.js';
import { engine, getBackend, trackInScope, untrack } from './engine.js';
import { StorageRef } from './storage-ref.js';
import type { Node } from './autograd/node.js';
import { runBackward } from './autograd/backward.js';
import type { BackwardOptions } from './autograd/backward.js';
import { fail, shapeStr } from './errors.js';
import { sizeOf } from './shape.js';
import { watchResult } from './numerics.js';
import * as binary from './ops/binary.js';
import * as unary from './ops/unary.js';
import * as reduce from './ops/reduce.js';
import * as shapeOps from './ops/shape-ops.js';
import * as mm from './ops/matmul.js';
import * as softmaxOps from './ops/softmax.js';
import { castTo, onesLike, fromData } from './ops/creation.js';
import * as indexOps from './ops/index-ops.js';
import * as joinOps from './ops/join-ops.js';
import * as stats from './ops/stats.js';
import { registerTensor, unregisterTensor, reclaimPoint, stepTick } from './reclaim.js';
import type { ReclaimRecord } from './reclaim.js';
import { notePlacement } from './placement.js';
import { formatTensor, rememberValues, forgetValues, inspectSymbol } from './format.js';
import { compileOnlyActive } from './backend/webgpu/precompile.js';

/** A nested array of numbers, as `tensor()` accepts and `array()` returns. */
export type NestedArray = number | NestedArray[];

let nextTensorId = 0;

export type TensorLike = Tensor | number;

export class Tensor {
  readonly id = nextTensorId++;
  /** Whether operations on this tensor are recorded for backward. */
  requiresGrad = false;
  /** The accumulated gradient after `backward()`; owned by this tensor and disposed with it. */
  grad: Tensor | null = null;
  private ref: StorageRef | null;
  /** @internal Handles the tape keeps are not user tensors: not counted, not scoped. */
  private readonly internal: boolean;
  /** What the reclaim registry releases if this tensor is collected undisposed (kept in step with _assign and _node). */
  private reclaimRecord: ReclaimRecord | null = null;
  private node: Node | null = null;

  /** @internal Use the creation functions (`tensor`, `zeros`, ...) instead. */
  constructor(ref: StorageRef, readonly shape: readonly number[], internal = false) {
    this.ref = ref;
    this.internal = internal;
    if (!internal) {
      engine.liveTensors++;
      trackInScope(this);
      this.reclaimRecord = { ref, node: null, id: this.id, shape };
      registerTensor(this, this.reclaimRecord);
      notePlacement(this, ref.backend.name);
    }
  }

  /** @internal The tape node that produced this tensor (null for leaves and untracked results). */
  get _node(): Node | null {
    return this.node;
  }
  set _node(node: Node | null) {
    this.node = node;
    if (this.reclaimRecord) this.reclaimRecord.node = node;
  }

  /** @internal Wraps a fresh storage from a kernel; `op` names the op that made it (for the numerics guard). */
  static _fromStorage(backend: Backend, storage: Storage, shape: readonly number[], op: string): Tensor {
    watchResult(backend, storage, shape, op); // the numerics guard, when enabled
    return new Tensor(new StorageRef(backend, storage), Object.freeze([...shape]));
  }

  /** @internal A new tensor over the same storage (reshape is free). */
  _view(shape: readonly number[]): Tensor {
    return new Tensor(this._storageRef('reshape').retain(), Object.freeze([...shape]));
  }

  /** @internal A handle sharing this storage, kept by the tape after the user disposes this tensor. */
  _internalHandle(): Tensor {
    return new Tensor(this._storageRef('autograd').retain(), this.shape, true);
  }

  /** @internal Throws a clear error if this tensor was disposed. */
  _storageRef(op: string): StorageRef {
    if (!this.ref) fail(op, `tensor #${this.id} (shape ${shapeStr(this.shape)}) was disposed and cannot be used`);
    return this.ref;
  }

  /** @internal The backend storage, checked alive. */
  _storage(op: string): Storage {
    const ref = this._storageRef(op);
    if (op.endsWith('.step')) forgetValues(ref); // an optimizer writes it in place: printed values go stale
    return ref.storage;
  }

  get dtype(): DType {
    return this._storageRef('dtype').storage.dtype;
  }
  get backend(): Backend {
    return this._storageRef('backend').backend;
  }
  get device(): BackendName {
    return this.backend.name;
  }
  get size(): number {
    return sizeOf(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  get isDisposed(): boolean {
    return this.ref === null;
  }

  /** Releases this tensor's storage reference (and its gradient). Safe to call twice. */
  dispose(): void {
    if (!this.ref) return;
    this.ref.release();
    this.ref = null;
    this._node?.release();
    this._node = null;
    this.grad?.dispose();
    this.grad = null;
    if (!this.internal) {
      engine.liveTensors--;
      untrack(this);
      unregisterTensor(this);
      this.reclaimRecord = null;
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal Swaps in new contents (used by optimizers for in-place parameter updates). */
  _assign(value: Tensor): void {
    const ref = this._storageRef('assign');
    const src = value._storageRef('assign');
    if (src.backend !== ref.backend) fail('assign', `value lives on '${src.backend.name}' but the tensor on '${ref.backend.name}'`);
    if (sizeOf(value.shape) !== this.size || src.storage.dtype !== ref.storage.dtype) {
      fail('assign', `expected a ${this.dtype} value of shape ${shapeStr(this.shape)}, got ${value.dtype} ${shapeStr(value.shape)}`);
    }
    // precompile(fn): the value was never computed (a placeholder); the tensor keeps its own.
    if (compileOnlyActive() && ref.backend.name === 'webgpu') return;
    src.retain();
    ref.release();
    this.ref = src;
    if (this.reclaimRecord) this.reclaimRecord.ref = src;
  }

  // ---- reading ----
  /** Reads the values back (async: nothing forces a synchronous GPU readback). */
  async data(): Promise<TypedArray> {
    const ref = this._storageRef('data');
    ref.retain(); // keep the storage alive across the await even if disposed meanwhile
    try {
      await reclaimPoint(); // an async safe point: tensors dropped without dispose() are reclaimed here under pressure
      const values = await ref.backend.read(ref.storage);
      rememberValues(ref, this.shape, values); // what toString() shows from now on
      return values;
    } finally {
      ref.release();
    }
  }

  /** Reads the values as nested arrays in this tensor's shape. */
  async array(): Promise<NestedArray> {
    const flat = Array.from(await this.data());
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return flat[offset]!;
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /** The single value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) fail('item', `expected a tensor with one element, got shape ${shapeStr(this.shape)}`);
    return (await this.data())[0]!;
  }

  /** Copies this tensor to another backend. */
  async to(backend: BackendName): Promise<Tensor> {
    const target = getBackend(backend);
    const values = await this.data();
    return fromData(values, this.shape, this.dtype, target);
  }

  // ---- autograd ----
  /** A tensor sharing this one's values, cut from the graph. */
  detach(): Tensor {
    return this._view(this.shape);
  }

  /** Marks this tensor as a leaf whose gradient backward() should compute. Returns this. */
  requiresGrad_(flag = true): this {
    if (flag && !this.dtype.startsWith('float')) fail('requiresGrad', `only floating-point tensors can require gradients, got ${this.dtype}`);
    this.requiresGrad = flag;
    return this;
  }

  /**
   * Computes gradients of this tensor with respect to every leaf that requires grad.
   * A non-scalar tensor needs the upstream `gradient` (same shape), as in PyTorch.
   */
  backward(gradient?: Tensor | BackwardOptions, options: BackwardOptions = {}): void {
    this._storageRef('backward');
    if (gradient !== undefined && !(gradient instanceof Tensor)) {
      options = gradient;
      gradient = undefined;
    }
    if (!this.requiresGrad) {
      fail('backward', 'this tensor does not require grad: no input of the computation had requiresGrad set (or it ran under noGrad)');
    }
    let seed: Tensor;
    if (gradient) {
      if (gradient.isDisposed) fail('backward', `gradient (tensor #${gradient.id}) was disposed and cannot be used`);
      // A seed of another dtype or backend would silently turn every .grad into it (int32 grads, or grads on another device).
      if (gradient.backend !== this.backend) {
        fail('backward', `gradient lives on '${gradient.device}' but the tensor on '${this.device}'${gradient.device === this.device ? ' (an earlier device, replaced since)' : `; move it with \`await gradient.to('${this.device}')\``}`);
      }
      if (gradient.dtype !== this.dtype) fail('backward', `gradient has dtype ${gradient.dtype} but the tensor has dtype ${this.dtype}; convert it with .cast('${this.dtype}')`);
      if (gradient.shape.join() !== this.shape.join()) {
        fail('backward', `gradient has shape ${shapeStr(gradient.shape)} but the tensor has shape ${shapeStr(this.shape)}`);
      }
      seed = gradient._view(gradient.shape);
    } else {
      if (this.size !== 1) {
        fail('backward', `grad can be implicitly created only for scalar outputs; this tensor has shape ${shapeStr(this.shape)}, so pass a gradient of that shape`);
      }
      seed = onesLike(this);
    }
    untrack(seed);
    runBackward(this, seed, binary.add, options);
    stepTick(); // one backward() per training step: where steady growth of live tensors is noticed
  }

  // ---- op methods (same code as the free functions) ----
  add(b: TensorLike): Tensor { return binary.add(this, b); }
  sub(b: TensorLike): Tensor { return binary.sub(this, b); }
  mul(b: TensorLike): Tensor { return binary.mul(this, b); }
  div(b: TensorLike): Tensor { return binary.div(this, b); }
  maximum(b: TensorLike): Tensor { return binary.maximum(this, b); }
  minimum(b: TensorLike): Tensor { return binary.minimum(this, b); }
  eq(b: TensorLike): Tensor { return binary.eq(this, b); }
  gt(b: TensorLike): Tensor { return binary.gt(this, b); }
  ge(b: TensorLike): Tensor { return binary.ge(this, b); }
  lt(b: TensorLike): Tensor { return binary.lt(this, b); }
  le(b: TensorLike): Tensor { return binary.le(this, b); }
  neg(): Tensor { return unary.neg(this); }
  exp(): Tensor { return unary.exp(this); }
  log(): Tensor { return unary.log(this); }
  sqrt(): Tensor { return unary.sqrt(this); }
  abs(): Tensor { return unary.abs(this); }
  square(): Tensor { return unary.square(this); }
  pow(exponent: number): Tensor { return unary.pow(this, exponent); }
  clamp(min: number | null, max: number | null): Tensor { return unary.clamp(this, min, max); }
  sigmoid(): Tensor { return unary.sigmoid(this); }
  tanh(): Tensor { return unary.tanh(this); }
  relu(): Tensor { return unary.relu(this); }
  relu6(): Tensor { return unary.relu6(this); }
  leakyRelu(negativeSlope = DEFAULT_LEAKY_RELU_SLOPE): Tensor { return unary.leakyRelu(this, negativeSlope); }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor { return unary.gelu(this, approximate); }
  softplus(): Tensor { return unary.softplus(this); }
  sum(axis?: number | number[], keepdim = false): Tensor { return reduce.sum(this, axis, keepdim); }
  mean(axis?: number | number[], keepdim = false): Tensor { return reduce.mean(this, axis, keepdim); }
  max(axis?: number | number[], keepdim = false): Tensor { return reduce.max(this, axis, keepdim); }
  reshape(shape: readonly number[]): Tensor { return shapeOps.reshape(this, shape); }
  flatten(): Tensor { return shapeOps.reshape(this, [this.size]); }
  transpose(dim0 = -2, dim1 = -1): Tensor { return shapeOps.transpose(this, dim0, dim1); }
  get T(): Tensor { return shapeOps.transpose(this, -2, -1); }
  permute(perm: readonly number[]): Tensor { return shapeOps.permute(this, perm); }
  expand(shape: readonly number[]): Tensor { return shapeOps.expand(this, shape); }
  matmul(b: Tensor): Tensor { return mm.matmul(this, b); }
  softmax(axis = -1): Tensor { return softmaxOps.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return softmaxOps.logSoftmax(this, axis); }
  cast(dtype: DType): Tensor { return castTo(this, dtype); }
  // Core ops (issue 12): same code as the free functions.
  argmax(axis?: number, keepdim = false): Tensor { return indexOps.argmax(this, axis, keepdim); }
  argmin(axis?: number, keepdim = false): Tensor { return indexOps.argmin(this, axis, keepdim); }
  min(axis?: number | number[], keepdim = false): Tensor { return indexOps.min(this, axis, keepdim); }
  var(axis?: number | number[], options?: stats.VarOptions): Tensor { return stats.variance(this, axis, options); }
  std(axis?: number | number[], options?: stats.VarOptions): Tensor { return stats.std(this, axis, options); }
  cumsum(axis: number): Tensor { return stats.cumsum(this, axis); }
  slice(axis: number, start?: number, stop?: number, step?: number): Tensor { return joinOps.slice(this, axis, start, stop, step); }
  narrow(axis: number, start: number, length: number): Tensor { return joinOps.narrow(this, axis, start, length); }
  gather(axis: number, index: Tensor): Tensor { return indexOps.gather(this, axis, index); }
  indexSelect(axis: number, index: Tensor): Tensor { return indexOps.indexSelect(this, axis, index); }

  /**
   * Shape, dtype and device, and the values (abbreviated like PyTorch's) once they have been read;
   * `await t.print()` reads and prints them.
   */
  toString(): string {
    return formatTensor(this, this.ref);
  }

  /** What Node's console.log and util.inspect show. */
  [inspectSymbol](): string {
    return this.toString();
  }

  /** Reads the values and prints the tensor (console.log), PyTorch-style. */
  async print(): Promise<void> {
    await this.data();
    console.log(this.toString());
  }
}
