/**
 * The WebGPU backend: float32 and int32 tensors in pooled GPU buffers, kernels encoded lazily into
 * one command batch (see batcher.ts), readback through pooled staging buffers.
 */

import {
  typedArrayFor,
  type ActivationGradOp,
  type Backend,
  type BackendMemoryStats,
  type BinaryOp,
  type DType,
  type MatmulArgs,
  type RandomKind,
  type ReduceOp,
  type Storage,
  type TypedArray,
  type UnaryOp,
} from '../types.js';
import { Batcher, type BatcherOptions, type BatcherStats } from './batcher.js';
import { BufferPool } from './buffer-pool.js';
import type { KernelContext } from './context.js';
import { DeviceAsserts } from './device-asserts.js';
import { acquireDevice, type AcquireDeviceOptions, type DeviceHealth, type DeviceLimits } from './device.js';
import * as ew from './elementwise.js';
import { matmul } from './matmul.js';
import { tuneMatmul } from './matmul-tune.js';
import { PipelineCache } from './pipeline-cache.js';
import { isPlaceholder, markPlaceholder, placeholderError, type CompileSession } from './precompile.js';
import { random } from './random.js';
import { reduce } from './reduce.js';
import { GpuStorage } from './storage.js';
import { strided } from './strided.js';
import * as core from './core-ops.js';
import * as conv from './conv.js';
import type { ArgReduceOp, Conv2dGeometry, IndexLayout, Pool2dGeometry } from '../types.js';
import { activationGradFromOutput } from './training/activation-output.js';
import { batchNormApply, batchNormBackward, batchNormStats } from './training/batchnorm.js';
import { dropout } from './training/dropout.js';
import { adamStep, sgdStep } from './training/optimizer.js';
import { softmax, softmaxCrossEntropy, softmaxCrossEntropyGrad, softmaxGrad } from './training/softmax.js';
import { WebgradError } from '../../errors.js';
import type { AdamStepOptions, OutputGradActivation, SgdStepOptions } from '../training-types.js';

export { GpuStorage };

export interface WebGPUBackendOptions extends AcquireDeviceOptions, BatcherOptions {
  /** Tune the matmul workgroup shape for this adapter at start (cached across runs); default true. */
  autotune?: boolean;
}

export const FLOAT64_UNSUPPORTED = 'webgpu backend does not support float64; use float32, or the cpu backend for float64';

export interface WebGPUStats extends BatcherStats {
  pipelinesCreated: number;
  /** Device buffers created (storage pool, staging pool, uniform slots). */
  buffersCreated: number;
}

export class WebGPUBackend implements Backend, KernelContext {
  readonly name = 'webgpu' as const;
  readonly batcher: Batcher;
  readonly pipelines: PipelineCache;
  readonly softwareAdapter: boolean;
  /** Checks recorded on the device (labels, errorIfNonfinite), reported by the next read. */
  readonly asserts: DeviceAsserts;
  matmulShapes: ReadonlyMap<string, [number, number]> = new Map();
  private readonly pool: BufferPool;
  private readonly staging: BufferPool;
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: string,
    readonly limits: DeviceLimits,
    private readonly health: DeviceHealth,
    options: WebGPUBackendOptions,
  ) {
    this.softwareAdapter = /llvmpipe|lavapipe|swiftshader|software/i.test(adapterInfo);
    const maxBind = limits.maxStorageBufferBindingSize;
    this.pool = new BufferPool(
      device,
      GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      maxBind,
      'webgrad storage',
    );
    this.staging = new BufferPool(device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, limits.maxBufferSize, 'webgrad staging');
    this.pipelines = new PipelineCache(device, health);
    this.batcher = new Batcher(device, health, limits, [this.pool], options);
    this.asserts = new DeviceAsserts(device);
    // A destroyed buffer must not stay bound in a cached bind group (it would be kept alive there).
    this.pool.onDestroy = (b) => this.batcher.forgetBuffer(b);
  }

  static async create(options: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
    const { device, adapterInfo, limits, health } = await acquireDevice(options);
    const backend = new WebGPUBackend(device, adapterInfo, limits, health, options);
    if (options.autotune ?? true) backend.matmulShapes = await tuneMatmul(backend, adapterInfo);
    return backend;
  }

  /** The active precompile session (src/precompile.ts), or null: set on the cache and the batcher together. */
  get compileOnly(): CompileSession | null {
    return this.pipelines.compileOnly;
  }

  set compileOnly(session: CompileSession | null) {
    this.pipelines.compileOnly = session;
    this.batcher.compileOnly = session;
  }

  // ---- checks and allocation (KernelContext) ----

  private check(): void {
    if (this.destroyed) throw new Error('webgpu: this backend was destroyed; call `await init({ backend: \'webgpu\' })` for a fresh device');
    this.health.check();
  }

  private checkDType(dtype: DType, op: string): void {
    if (dtype === 'float64') throw new WebgradError(`${op}: ${FLOAT64_UNSUPPORTED}`);
  }

  private newStorage(length: number, dtype: DType, op: string, purpose: 'output' | 'upload'): GpuStorage {
    this.checkDType(dtype, op);
    if (!Number.isInteger(length) || length < 0) throw new Error(`webgpu: ${op}: invalid length ${length}`);
    const bytes = length * 4;
    const max = this.limits.maxStorageBufferBindingSize;
    if (bytes > max) {
      throw new WebgradError(
        `webgpu: ${op}: a ${dtype} tensor of ${length} elements needs ${bytes} bytes, more than this device's ` +
          `maxStorageBufferBindingSize of ${max} bytes`,
      );
    }
    const s = new GpuStorage(dtype, length, this.pool.acquire(bytes, purpose), bytes);
    return this.compileOnly ? markPlaceholder(s) : s;
  }

  output(length: number, dtype: DType, op: string): GpuStorage {
    return this.newStorage(length, dtype, op, 'output');
  }

  input(s: Storage, op: string): GpuStorage {
    const g = this.storageOf(s, op);
    if (!this.compileOnly && isPlaceholder(g)) throw placeholderError(op);
    return g;
  }

  /** `s` as a live storage of this backend (a placeholder of precompile included: it can be released). */
  private storageOf(s: Storage, op: string): GpuStorage {
    if (!(s instanceof GpuStorage)) {
      throw new Error(`webgpu: ${op}: got a storage of the '${s.backend}' backend; move the tensor to webgpu first`);
    }
    if (s.released) throw new Error(`webgpu: ${op}: this storage was released; a released tensor cannot be used again`);
    this.checkDType(s.dtype, op);
    return s;
  }

  releaseStorage(s: GpuStorage): void {
    this.pool.release(s.detach(), this.batcher.open);
  }

  // ---- memory ----

  upload(data: TypedArray, dtype: DType): Storage {
    this.check();
    const s = this.newStorage(data.length, dtype, 'upload', 'upload');
    if (data.length === 0) return s;
    if (this.compileOnly) {
      // A placeholder: nothing reaches the queue in compile-only mode.
      this.compileOnly.uploadsSkipped++;
      return s;
    }
    let src: Float32Array | Int32Array;
    if (dtype === 'float32') src = data instanceof Float32Array ? data : Float32Array.from(data);
    else src = data instanceof Int32Array ? data : Int32Array.from(data, (v) => Math.trunc(v) | 0);
    this.device.queue.writeBuffer(s.buffer, 0, src.buffer, src.byteOffset, s.byteSize);
    return s;
  }

  async read(storage: Storage): Promise<TypedArray> {
    this.check();
    if (this.compileOnly) {
      this.compileOnly.readsRefused++;
      throw new WebgradError('read: precompile(fn) compiles kernels without running them, so nothing can be read inside fn; read after it resolves');
    }
    // A read is an await point: hold the work in flight to the bound before adding to it.
    if (this.batcher.pendingSubmits > this.batcher.submitLimit) {
      await this.batcher.throttle();
      this.check();
    }
    const s = this.input(storage, 'read');
    const out = typedArrayFor(s.dtype, s.length);
    if (s.length === 0) return out;
    const bytes = s.byteSize;
    const staging = this.staging.acquire(bytes, 'output');
    const encoder = this.batcher.copyEncoder();
    encoder.copyBufferToBuffer(s.buffer, 0, staging, 0, bytes);
    // Device-side checks recorded since the last read travel in the same submission.
    const checks = this.asserts.pending ? this.staging.acquire(this.asserts.bytes, 'output') : null;
    const taken = checks ? this.asserts.take(encoder, checks) : null;
    const serial = this.batcher.flush(false);
    if (checks) this.asserts.reset();
    try {
      await Promise.all([staging.mapAsync(GPUMapMode.READ, 0, bytes), checks?.mapAsync(GPUMapMode.READ, 0, this.asserts.bytes)]);
      this.batcher.completedThrough(serial);
    } catch (e) {
      this.health.check();
      throw new Error(`webgpu: read: mapping the staging buffer failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    new Uint8Array(out.buffer).set(new Uint8Array(staging.getMappedRange(0, bytes)));
    staging.unmap();
    this.staging.release(staging, false);
    this.health.check();
    if (checks && taken) {
      const words = new Uint32Array(checks.getMappedRange(0, this.asserts.bytes).slice(0));
      checks.unmap();
      this.staging.release(checks, false);
      const failure = DeviceAsserts.failure(words, taken);
      if (failure) throw failure;
    }
    return out;
  }

  release(storage: Storage): void {
    const s = this.storageOf(storage, 'release');
    if (this.destroyed) return;
    this.releaseStorage(s);
  }

  memoryStats(): BackendMemoryStats {
    return {
      pooledBytes: this.pool.pooledBytes + this.staging.pooledBytes,
      allocatedBytes: this.pool.allocatedBytes + this.staging.allocatedBytes + this.batcher.uniformBytes + this.asserts.bytes,
      // + 1: the persistent device-asserts buffer.
      buffersCreated: this.pool.buffersCreated + this.staging.buffersCreated + this.batcher.uniformBuffers + 1,
    };
  }

  /** True once the device was lost or this backend destroyed: only a fresh backend can continue. */
  get unusable(): boolean {
    return this.destroyed || this.health.lost !== null;
  }

  /** Debug mode: validation error scopes around each submit (see Batcher.errorScopes). */
  setDebug(on: boolean): void {
    this.batcher.errorScopes = on;
  }

  /**
   * Counters for tests and benchmarks: submits, dispatches, bind groups created/evicted/cached,
   * submits pending on the GPU (now and at most), pipelines and buffers created.
   */
  stats(): WebGPUStats {
    return {
      ...this.batcher.stats,
      pipelinesCreated: this.pipelines.pipelinesCreated,
      buffersCreated: this.memoryStats().buffersCreated,
    };
  }

  flush(): void {
    this.check();
    this.batcher.flush();
  }

  /** Destroys pooled buffers not held by live storages (after submitting the open batch). */
  trimPool(): void {
    this.check();
    this.batcher.flush();
    // Bind groups that bind a destroyed buffer are dropped as it goes (pool.onDestroy).
    this.pool.trim();
    this.staging.trim();
  }

  /** Waits until the GPU has finished all submitted work (surfacing any error it reported). */
  async sync(): Promise<void> {
    this.check();
    await this.batcher.throttle(0);
    await this.device.queue.onSubmittedWorkDone();
    this.health.check();
  }

  /**
   * Submits what is encoded and waits only while more than `maxPendingSubmits` submits are
   * unfinished on the GPU: the await point that bounds the work in flight of a loop that never
   * reads back. Returns at once when the GPU keeps up.
   */
  async settle(): Promise<void> {
    this.check();
    await this.batcher.throttle();
    this.health.check();
  }

  /** Frees every GPU resource and the device; the backend is unusable afterwards. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.pool.destroy();
    this.staging.destroy();
    this.batcher.destroy();
    this.asserts.destroy();
    this.device.destroy();
  }

  assertFinite(x: Storage, op: string, message: (value: number) => string): void {
    this.check();
    this.asserts.checkFinite(this, op, x, message);
  }

  // ---- kernels ----

  fill(length: number, value: number, dtype: DType): Storage {
    this.check();
    this.checkDType(dtype, 'fill');
    return ew.fill(this, length, value, dtype);
  }

  cast(x: Storage, dtype: DType): Storage {
    this.check();
    this.checkDType(dtype, 'cast');
    return ew.cast(this, x, dtype);
  }

  unary(op: UnaryOp, x: Storage, param: number): Storage {
    this.check();
    return ew.unary(this, op, x, param);
  }

  activationGrad(op: ActivationGradOp, x: Storage, dy: Storage, param: number): Storage {
    this.check();
    return ew.activationGrad(this, op, x, dy, param);
  }

  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage {
    this.check();
    return ew.binary(this, op, a, aShape, b, bShape, outShape);
  }

  reduce(op: ReduceOp, x: Storage, outer: number, length: number, inner: number): Storage {
    this.check();
    return reduce(this, op, x, outer, length, inner);
  }

  strided(x: Storage, outShape: readonly number[], strides: readonly number[], offset: number): Storage {
    this.check();
    return strided(this, x, outShape, strides, offset);
  }

  matmul(a: Storage, b: Storage, args: MatmulArgs): Storage {
    this.check();
    return matmul(this, a, b, args);
  }

  random(kind: RandomKind, length: number, seed: number, offset: number, dtype: DType): Storage {
    this.check();
    this.checkDType(dtype, `random ${kind}`);
    return random(this, kind, length, seed, offset, dtype);
  }

  // ---- training kernels (float32; see training/ and ../training-types.ts) ----

  activationGradFromOutput(op: OutputGradActivation, y: Storage, dy: Storage, param: number): Storage {
    this.check();
    return activationGradFromOutput(this, op, y, dy, param);
  }

  dropout(x: Storage, p: number, seed: number, offset: number): Storage {
    this.check();
    return dropout(this, x, p, seed, offset);
  }

  batchNormStats(x: Storage, n: number, c: number): { mean: Storage; variance: Storage } {
    this.check();
    return batchNormStats(this, x, n, c);
  }

  batchNormApply(x: Storage, mean: Storage, variance: Storage, gamma: Storage | null, beta: Storage | null, n: number, c: number, eps: number): Storage {
    this.check();
    return batchNormApply(this, x, mean, variance, gamma, beta, n, c, eps);
  }

  batchNormBackward(x: Storage, dy: Storage, mean: Storage, variance: Storage, gamma: Storage | null, n: number, c: number, eps: number): { dx: Storage; dgamma: Storage; dbeta: Storage } {
    this.check();
    return batchNormBackward(this, x, dy, mean, variance, gamma, n, c, eps);
  }

  softmax(x: Storage, rows: number, cols: number, log: boolean): Storage {
    this.check();
    return softmax(this, x, rows, cols, log);
  }

  softmaxGrad(y: Storage, dy: Storage, rows: number, cols: number, log: boolean): Storage {
    this.check();
    return softmaxGrad(this, y, dy, rows, cols, log);
  }

  softmaxCrossEntropy(logits: Storage, labels: Storage, n: number, c: number): Storage {
    this.check();
    return softmaxCrossEntropy(this, logits, labels, n, c);
  }

  softmaxCrossEntropyGrad(logits: Storage, labels: Storage, dLoss: Storage, n: number, c: number): Storage {
    this.check();
    return softmaxCrossEntropyGrad(this, logits, labels, dLoss, n, c);
  }

  sgdStep(param: Storage, grad: Storage, velocity: Storage | null, options: SgdStepOptions): void {
    this.check();
    sgdStep(this, param, grad, velocity, options);
  }

  adamStep(param: Storage, grad: Storage, m: Storage, v: Storage, options: AdamStepOptions): void {
    this.check();
    adamStep(this, param, grad, m, v, options);
  }

  // ---- core-op kernels (see core-ops.ts) ----

  argReduce(op: ArgReduceOp, x: Storage, outer: number, length: number, inner: number): Storage {
    this.check();
    return core.argReduce(this, op, x, outer, length, inner);
  }

  gather(x: Storage, indices: Storage, layout: IndexLayout, outer: number, length: number, inner: number, count: number): Storage {
    this.check();
    return core.gather(this, x, indices, layout, outer, length, inner, count);
  }

  scatterAdd(src: Storage, indices: Storage, layout: IndexLayout, outer: number, length: number, inner: number, count: number): Storage {
    this.check();
    return core.scatterAdd(this, src, indices, layout, outer, length, inner, count);
  }

  select(cond: Storage, a: Storage, b: Storage): Storage {
    this.check();
    return core.select(this, cond, a, b);
  }

  stridedWrite(dst: Storage, src: Storage, srcShape: readonly number[], strides: readonly number[], offset: number): void {
    this.check();
    core.stridedWrite(this, dst, src, srcShape, strides, offset);
  }

  cumsum(x: Storage, outer: number, length: number, inner: number, reverse: boolean): Storage {
    this.check();
    return core.cumsum(this, x, outer, length, inner, reverse);
  }

  // ---- convolution and pooling kernels (see conv.ts) ----

  conv2d(x: Storage, weight: Storage, bias: Storage | null, g: Conv2dGeometry): Storage {
    this.check();
    return conv.conv2d(this, x, weight, bias, g);
  }

  conv2dBackwardInput(dy: Storage, weight: Storage, g: Conv2dGeometry): Storage {
    this.check();
    return conv.conv2dBackwardInput(this, dy, weight, g);
  }

  conv2dBackwardWeight(x: Storage, dy: Storage, g: Conv2dGeometry): Storage {
    this.check();
    return conv.conv2dBackwardWeight(this, x, dy, g);
  }

  maxPool2d(x: Storage, g: Pool2dGeometry): { values: Storage; indices: Storage } {
    this.check();
    return conv.maxPool2d(this, x, g);
  }

  maxPool2dBackward(dy: Storage, indices: Storage, g: Pool2dGeometry): Storage {
    this.check();
    return conv.maxPool2dBackward(this, dy, indices, g);
  }

  avgPool2d(x: Storage, g: Pool2dGeometry): Storage {
    this.check();
    return conv.avgPool2d(this, x, g);
  }

  avgPool2dBackward(dy: Storage, g: Pool2dGeometry): Storage {
    this.check();
    return conv.avgPool2dBackward(this, dy, g);
  }
}
