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
import { acquireDevice, type AcquireDeviceOptions, type DeviceHealth, type DeviceLimits, type SubgroupSupport } from './device.js';
import * as ew from './elementwise.js';
import { matmul } from './matmul.js';
import { tuneMatmul } from './matmul-tune.js';
import { tuneBatchNorm } from './batchnorm-tune.js';
import { tuneReduce } from './reduce-tune.js';
import type { BatchNormPath } from './fused/batchnorm.js';
import type { MatmulChoice } from './matmul.js';
import { PipelineCache } from './pipeline-cache.js';
import { isPlaceholder, markPlaceholder, placeholderError, type CompileSession } from './precompile.js';
import { random } from './random.js';
import { reduce } from './reduce.js';
import { GpuStorage } from './storage.js';
import { strided } from './strided.js';
import { WebgradError } from '../../errors.js';
import { routineFrom, type RoutineInputs, type RoutineName, type RoutineParams, type RoutineResult } from '../routines.js';
import { WEBGPU_ROUTINES } from './routines.js';
import * as half from './f16.js';
import { decodeF16, encodeF16, refuseHalfRoutine } from '../f16.js';
import { DEFAULT_LEAKY_RELU_SLOPE } from '../../../shaders/kernel-types.js';

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

/** Whether an adapter (by its description) is a CPU Vulkan driver: lavapipe/llvmpipe or SwiftShader. */
export function isSoftwareAdapter(adapterInfo: string): boolean {
  return /llvmpipe|lavapipe|swiftshader|software/i.test(adapterInfo);
}

export class WebGPUBackend implements Backend, KernelContext {
  readonly name = 'webgpu' as const;
  readonly batcher: Batcher;
  readonly pipelines: PipelineCache;
  readonly softwareAdapter: boolean;
  /** Checks recorded on the device (labels, errorIfNonfinite), reported by the next read. */
  readonly asserts: DeviceAsserts;
  matmulChoices: ReadonlyMap<string, MatmulChoice> = new Map();
  batchNormChoices: ReadonlyMap<string, BatchNormPath> = new Map();
  /** Reduce and softmax designs per shape bucket, from the tune (reduce-tune.ts); empty: the shape rules. */
  reduceChoices: ReadonlyMap<string, 'loop' | 'tree' | 'subgroup'> = new Map();
  private readonly pool: BufferPool;
  private readonly staging: BufferPool;
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    readonly adapterInfo: string,
    readonly limits: DeviceLimits,
    private readonly health: DeviceHealth,
    options: WebGPUBackendOptions,
    /** The device has 'shader-f16', so float16 tensors can live on it. */
    readonly shaderF16: boolean,
    /** The device has 'subgroups' (with the adapter's sizes): subgroup kernel designs may run. */
    readonly subgroups: SubgroupSupport | null,
  ) {
    this.softwareAdapter = isSoftwareAdapter(adapterInfo);
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
    const { device, adapterInfo, limits, health, shaderF16, subgroups } = await acquireDevice(options);
    const backend = new WebGPUBackend(device, adapterInfo, limits, health, options, shaderF16, subgroups);
    if (options.autotune ?? true) backend.matmulChoices = await tuneMatmul(backend, adapterInfo);
    if (options.autotune ?? true) backend.batchNormChoices = await tuneBatchNorm(backend, adapterInfo);
    if (options.autotune ?? true) backend.reduceChoices = await tuneReduce(backend, adapterInfo);
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
    if (dtype === 'float16' && !this.shaderF16) {
      throw new WebgradError(
        `${op}: float16 needs the WebGPU feature 'shader-f16', which this device lacks (adapter: ${this.adapterInfo}); ` +
          'use float32 here, or the cpu backend for float16',
      );
    }
  }

  private newStorage(length: number, dtype: DType, op: string, purpose: 'output' | 'upload'): GpuStorage {
    this.checkDType(dtype, op);
    if (!Number.isInteger(length) || length < 0) throw new Error(`webgpu: ${op}: invalid length ${length}`);
    // float16 elements are 2 bytes, rounded up to whole 4-byte words (binding sizes must be).
    const bytes = dtype === 'float16' ? Math.ceil(length / 2) * 4 : length * 4;
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
    // Stryker disable next-line StringLiteral: equivalent, the pool tells only 'upload' apart (any other purpose may reuse a buffer of the open batch)
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
    let src: Float32Array | Int32Array | Uint16Array;
    if (dtype === 'float16') src = encodeF16(data); // each given number rounded once
    else if (dtype === 'float32') src = data instanceof Float32Array ? data : Float32Array.from(data);
    // Int32Array.from applies ToInt32: truncates toward zero and wraps modulo 2^32 (NaN and ±Infinity give 0).
    else src = data instanceof Int32Array ? data : Int32Array.from(data);
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
    // Stryker disable next-line StringLiteral: equivalent, the pool tells only 'upload' apart
    const staging = this.staging.acquire(bytes, 'output');
    const encoder = this.batcher.copyEncoder();
    encoder.copyBufferToBuffer(s.buffer, 0, staging, 0, bytes);
    // Device-side checks recorded since the last read travel in the same submission.
    const checks = this.asserts.pending ? this.takeChecks(encoder) : null;
    // Untracked: this read follows its own submit (the mapping below), which saves a completion callback per read.
    const serial = this.batcher.flush(false);
    if (checks) this.asserts.reset();
    try {
      await Promise.all([staging.mapAsync(GPUMapMode.READ, 0, bytes), checks?.staging.mapAsync(GPUMapMode.READ, 0, this.asserts.bytes)]);
      this.batcher.completedThrough(serial);
    } catch (e) {
      this.health.check();
      throw new Error(`webgpu: read: mapping the staging buffer failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    const mapped = staging.getMappedRange(0, bytes);
    // Both copy out of the mapped range before it is unmapped.
    if (s.dtype === 'float16') out.set(decodeF16(new Uint16Array(mapped, 0, s.length), s.length));
    else new Uint8Array(out.buffer).set(new Uint8Array(mapped));
    staging.unmap();
    this.staging.release(staging, false);
    this.health.check();
    if (checks) {
      const words = new Uint32Array(checks.staging.getMappedRange(0, this.asserts.bytes).slice(0));
      checks.staging.unmap();
      this.staging.release(checks.staging, false);
      const failure = DeviceAsserts.failure(words, checks.taken);
      if (failure) throw failure;
    }
    return out;
  }

  /** Copies the device-check slots into a staging buffer with `encoder`, taking the checks recorded so far. */
  private takeChecks(encoder: GPUCommandEncoder): { staging: GPUBuffer; taken: ReturnType<DeviceAsserts['take']> } {
    // Stryker disable next-line StringLiteral: equivalent, the pool tells only 'upload' apart
    const staging = this.staging.acquire(this.asserts.bytes, 'output');
    return { staging, taken: this.asserts.take(encoder, staging) };
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
    // Stryker disable next-line ConditionalExpression: equivalent, destroying the pools, caches and device again is harmless
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
    if (x.dtype !== 'float16') return this.asserts.checkFinite(this, op, x, message);
    const wide = half.widen(this, x, op);
    this.asserts.checkFinite(this, op, wide, message);
    this.releaseStorage(wide);
  }

  // ---- kernels ----

  fill(length: number, value: number, dtype: DType): Storage {
    this.check();
    this.checkDType(dtype, 'fill');
    if (dtype === 'float16') return half.narrow(this, ew.fill(this, length, value, 'float32'), 'fill', true);
    return ew.fill(this, length, value, dtype);
  }

  cast(x: Storage, dtype: DType): Storage {
    this.check();
    this.checkDType(dtype, 'cast');
    if (dtype === 'float16' || x.dtype === 'float16') return half.castHalf(this, x, dtype);
    return ew.cast(this, x, dtype);
  }

  unary(op: UnaryOp, x: Storage, param: number): Storage {
    this.check();
    if (x.dtype === 'float16') return half.viaFloat32(this, `unary ${op}`, [x], ([w]) => ew.unary(this, op, w!, param));
    return ew.unary(this, op, x, param);
  }

  activationGrad(op: ActivationGradOp, x: Storage, dy: Storage, param: number): Storage {
    this.check();
    if (x.dtype === 'float16') return half.viaFloat32(this, `activationGrad ${op}`, [x, dy], ([w, d]) => ew.activationGrad(this, op, w!, d!, param));
    return ew.activationGrad(this, op, x, dy, param);
  }

  binary(op: BinaryOp, a: Storage, aShape: readonly number[], b: Storage, bShape: readonly number[], outShape: readonly number[]): Storage {
    this.check();
    if (a.dtype === 'float16') return half.viaFloat32(this, `binary ${op}`, [a, b], ([wa, wb]) => ew.binary(this, op, wa!, aShape, wb!, bShape, outShape));
    return ew.binary(this, op, a, aShape, b, bShape, outShape);
  }

  reduce(op: ReduceOp, x: Storage, outer: number, length: number, inner: number): Storage {
    this.check();
    // Sums of f16 accumulate in f32 and round once, as torch.sum on float16.
    if (x.dtype === 'float16') return half.viaFloat32(this, `reduce ${op}`, [x], ([w]) => reduce(this, op, w!, outer, length, inner));
    return reduce(this, op, x, outer, length, inner);
  }

  strided(x: Storage, outShape: readonly number[], strides: readonly number[], offset: number): Storage {
    this.check();
    if (x.dtype === 'float16') return half.viaFloat32(this, 'strided', [x], ([w]) => strided(this, w!, outShape, strides, offset));
    return strided(this, x, outShape, strides, offset);
  }

  matmul(a: Storage, b: Storage, args: MatmulArgs): Storage {
    this.check();
    if (a.dtype === 'float16') return this.matmulHalf(a, b, args);
    return matmul(this, a, b, args);
  }

  /** f16 matmul (+ bias); an epilogue activation runs after the rounding, as torch's linear then act. */
  private matmulHalf(a: Storage, b: Storage, args: MatmulArgs): Storage {
    const { activation = 'none', alpha = DEFAULT_LEAKY_RELU_SLOPE, ...plain } = args;
    const y = half.matmulHalf(this, a, b, plain);
    if (activation === 'none') return y;
    const act = this.unary(activation, y, alpha);
    this.releaseStorage(y);
    return act;
  }

  random(kind: RandomKind, length: number, seed: number, offset: number, dtype: DType): Storage {
    this.check();
    this.checkDType(dtype, `random ${kind}`);
    if (dtype === 'float16') return half.narrow(this, random(this, kind, length, seed, offset, 'float32'), `random ${kind}`, true);
    return random(this, kind, length, seed, offset, dtype);
  }

  // ---- routines (table in routines.ts) ----

  routine<K extends RoutineName>(name: K, inputs: RoutineInputs<K>, params: RoutineParams<K>): RoutineResult<K> {
    this.check();
    refuseHalfRoutine('webgpu', name, inputs);
    return routineFrom(WEBGPU_ROUTINES, 'webgpu', name)(this, inputs, params);
  }
}
