/**
 * Command batching: one lazily created command encoder with one open compute pass. A kernel encodes
 * its dispatch and returns at once; the batch is submitted on `flush()`, before a readback, when
 * the pending dispatches exceed a bound, or when the uniform arena is full.
 *
 * Uniform parameters live in an arena: a CPU-side ArrayBuffer of slots aligned to the device's
 * minUniformBufferOffsetAlignment, copied with one `queue.writeBuffer` into a single GPU uniform
 * buffer right before the batch is submitted, and bound at its slot's offset. Reusing the same GPU
 * buffer for every batch is safe: queue operations are ordered, so the writeBuffer for batch N+1
 * lands after batch N's commands have consumed the old contents.
 */

import type { BufferPool } from './buffer-pool.js';
import type { DeviceHealth, DeviceLimits } from './device.js';
import type { Kernel } from './pipeline-cache.js';

export type Workgroups = number | readonly [number, number, number];

export interface BatcherOptions {
  /** Submit once this many dispatches are pending. */
  maxPendingDispatches?: number;
  /** Bytes of uniform arena per batch. */
  arenaBytes?: number;
  /** Wrap each submit in a validation error scope (debug mode); default off. */
  errorScopes?: boolean;
}

export interface BatcherStats {
  submits: number;
  dispatches: number;
  bindGroupsCreated: number;
}

const MAX_BIND_GROUPS = 4096;

export class Batcher {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  /** Commands were encoded since the last submit (dispatches or copies). */
  private dirty = false;
  private readonly arena: ArrayBuffer;
  private readonly arenaU8: Uint8Array;
  /** What the GPU uniform buffer holds (a prefix of `uploadedBytes` bytes). */
  private readonly uploaded: Uint8Array;
  private uploadedBytes = 0;
  private arenaUsed = 0;
  private readonly uniformBuffer: GPUBuffer;
  private readonly align: number;
  private readonly maxPending: number;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private batchOps: string[] = [];
  readonly stats: BatcherStats = { submits: 0, dispatches: 0, bindGroupsCreated: 0 };
  /**
   * Debug mode: an error scope per submit names the batch's ops in a validation error. Off by
   * default because each scope costs a promise round trip per submit (it doubled the tiny-op
   * round trip); `uncapturederror` still reports every error, attributed to the last op encoded.
   */
  errorScopes: boolean;

  constructor(
    private readonly device: GPUDevice,
    private readonly health: DeviceHealth,
    private readonly limits: DeviceLimits,
    private readonly pools: readonly BufferPool[],
    options: BatcherOptions = {},
  ) {
    this.maxPending = options.maxPendingDispatches ?? 256;
    this.errorScopes = options.errorScopes ?? false;
    this.align = Math.max(limits.minUniformBufferOffsetAlignment, 16);
    const bytes = Math.max(options.arenaBytes ?? 65536, this.align * 4);
    this.arena = new ArrayBuffer(bytes);
    this.arenaU8 = new Uint8Array(this.arena);
    this.uploaded = new Uint8Array(bytes);
    this.uniformBuffer = device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: 'webgrad uniform arena',
    });
  }

  /** Bytes of the uniform arena's GPU buffer (counted by the backend's memory stats). */
  get uniformBytes(): number {
    return this.uniformBuffer.size;
  }

  /** True while commands are encoded but not submitted. */
  get open(): boolean {
    return this.dirty;
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(b, id);
    }
    return id;
  }

  private currentPass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'webgrad batch' });
    if (!this.pass) this.pass = this.encoder.beginComputePass();
    return this.pass;
  }

  /** The batch's encoder with no pass open, for copies; they run in order with the dispatches. */
  copyEncoder(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'webgrad batch' });
    this.dirty = true;
    return this.encoder;
  }

  /** Splits a linear workgroup count into (x, y) within the per-dimension limit. */
  fold(count: number): [number, number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (count <= max) return [count, 1, 1];
    const y = Math.ceil(count / max);
    if (y > max) throw new Error(`webgpu: a dispatch of ${count} workgroups exceeds ${max}² (maxComputeWorkgroupsPerDimension squared)`);
    return [Math.ceil(count / y), y, 1];
  }

  /**
   * Encodes one dispatch. `buffers` are the inputs followed by the output, in binding order;
   * `params` are the bytes of the kernel's uniform struct.
   */
  dispatch(op: string, kernel: Kernel, buffers: readonly GPUBuffer[], params: ArrayBufferView, workgroups: Workgroups): void {
    const size = Math.ceil(Math.max(params.byteLength, 16) / 16) * 16;
    let offset = Math.ceil(this.arenaUsed / this.align) * this.align;
    if (offset + size > this.arena.byteLength) {
      this.flush();
      offset = 0;
    }
    this.arenaU8.set(new Uint8Array(params.buffer, params.byteOffset, params.byteLength), offset);
    this.arenaUsed = offset + size;

    // The uniform slot's offset is baked into the bind group rather than passed as a dynamic offset:
    // dynamic uniform offsets measured ~80 µs more per dispatch on lavapipe, and the offsets repeat
    // from one training step (or one repeated op) to the next, so these bind groups are reused.
    const layout = kernel.layout;
    let key = `${layout.id}|${offset}|${size}`;
    for (const b of buffers) key += `|${this.bufferId(b)}`;
    let bg = this.bindGroups.get(key);
    if (!bg) {
      if (this.bindGroups.size >= MAX_BIND_GROUPS) this.bindGroups.clear();
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniformBuffer, offset, size } }];
      buffers.forEach((buffer, i) => entries.push({ binding: 1 + i, resource: { buffer } }));
      bg = this.device.createBindGroup({ layout: layout.bindGroupLayout, entries });
      this.bindGroups.set(key, bg);
      this.stats.bindGroupsCreated++;
    }

    const [x, y, z] = typeof workgroups === 'number' ? this.fold(workgroups) : workgroups;
    const pass = this.currentPass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bg);
    pass.dispatchWorkgroups(x, y, z);
    this.dirty = true;
    this.pending++;
    this.stats.dispatches++;
    this.health.lastOp = op;
    if (this.errorScopes) this.batchOps.push(op);
    if (this.pending >= this.maxPending) this.flush();
  }

  /**
   * True when the GPU uniform buffer already holds this batch's parameters: a training step or a
   * repeated op writes the same uniforms in the same order every time, and skipping the upload
   * saves a staging copy per submit.
   */
  private arenaUnchanged(): boolean {
    if (this.arenaUsed > this.uploadedBytes) return false;
    const a = this.arenaU8;
    const b = this.uploaded;
    for (let i = 0; i < this.arenaUsed; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /** Forgets cached bind groups (after pool buffers were destroyed). */
  clearBindGroups(): void {
    this.bindGroups.clear();
  }

  /** Submits the open batch, if any. */
  flush(): void {
    if (!this.dirty) return;
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    const encoder = this.encoder!;
    this.encoder = null;
    if (this.arenaUsed > 0 && !this.arenaUnchanged()) {
      this.device.queue.writeBuffer(this.uniformBuffer, 0, this.arena, 0, this.arenaUsed);
      this.uploaded.set(this.arenaU8.subarray(0, this.arenaUsed));
      this.uploadedBytes = Math.max(this.uploadedBytes, this.arenaUsed);
    }
    const ops = this.batchOps;
    if (this.errorScopes) {
      this.device.pushErrorScope('validation');
      this.device.queue.submit([encoder.finish()]);
      this.device.popErrorScope().then(
        (err) => {
          if (err) {
            const last = ops.length ? ops[ops.length - 1]! : '(copy)';
            const distinct = [...new Set(ops)].join(', ');
            this.health.record(`${err.message} (the batch held ${ops.length} dispatches of: ${distinct})`, last);
          }
        },
        () => undefined,
      );
    } else {
      this.device.queue.submit([encoder.finish()]);
    }
    this.batchOps = [];
    this.arenaUsed = 0;
    this.pending = 0;
    this.dirty = false;
    this.stats.submits++;
    for (const p of this.pools) p.onSubmit();
  }

  destroy(): void {
    this.bindGroups.clear();
    this.uniformBuffer.destroy();
  }
}
