/**
 * Command batching: one lazily created command encoder with one open compute pass. A kernel encodes
 * its dispatch and returns at once; the batch is submitted on `flush()`, before a readback, or when
 * the pending dispatches exceed a bound.
 *
 * Bind groups and their uniform parameters come from the BindGroupCache (bind-groups.ts): nothing
 * is created per dispatch in the steady state, and the changed uniform bytes are uploaded once per
 * submit.
 *
 * Work in flight: every submit is followed by `onSubmittedWorkDone`, so the batcher knows how many
 * submits the GPU has not finished (`pendingSubmits`). Ops are synchronous and cannot wait, so the
 * wait happens at the asynchronous points: `throttle()` (called by reads, `sync()` and the public
 * `settle()`) submits and then waits for the oldest submits until at most `maxPendingSubmits` remain.
 */

import { BindGroupCache, type BindGroupStats } from './bind-groups.js';
import type { BufferPool } from './buffer-pool.js';
import type { DeviceHealth, DeviceLimits } from './device.js';
import type { Kernel } from './pipeline-cache.js';
import type { CompileSession } from './precompile.js';

export type Workgroups = number | readonly [number, number, number];

export interface BatcherOptions {
  /** Submit once this many dispatches are pending. */
  maxPendingDispatches?: number;
  /** Submits the GPU may have unfinished before `throttle()` waits for the oldest; default 4. */
  maxPendingSubmits?: number;
  /** Bind groups kept in the cache (each holds a uniform slot); default 4096. */
  maxBindGroups?: number;
  /** Wrap each submit in a validation error scope (debug mode); default off. */
  errorScopes?: boolean;
}

export interface BatcherStats extends BindGroupStats {
  submits: number;
  dispatches: number;
  /** Submits not yet reported finished by the GPU (as seen by JavaScript). */
  pendingSubmits: number;
  /** The most submits ever pending right after a submit. */
  maxPendingSubmits: number;
  /** Times `throttle()` had to wait for the GPU. */
  throttleWaits: number;
}

interface InFlight {
  serial: number;
  done: Promise<void>;
}

export class Batcher {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  /** Commands were encoded since the last submit (dispatches or copies). */
  private dirty = false;
  /** Serial of the open (unsubmitted) batch; bind-group entries record the batch that used them. */
  private batchSerial = 1;
  private readonly maxPending: number;
  readonly submitLimit: number;
  private readonly bindGroups: BindGroupCache;
  private batchOps: string[] = [];
  private submitted = 0;
  private completed = 0;
  private readonly inFlight: InFlight[] = [];
  private counters = { submits: 0, dispatches: 0, maxPendingSubmits: 0, throttleWaits: 0 };
  /**
   * Debug mode: an error scope per submit names the batch's ops in a validation error. Off by
   * default because each scope costs a promise round trip per submit (it doubled the tiny-op
   * round trip); `uncapturederror` still reports every error, attributed to the last op encoded.
   */
  errorScopes: boolean;
  /** Set during precompile (precompile.ts): dispatches are counted there and not encoded. */
  compileOnly: CompileSession | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly health: DeviceHealth,
    private readonly limits: DeviceLimits,
    private readonly pools: readonly BufferPool[],
    options: BatcherOptions = {},
  ) {
    this.maxPending = options.maxPendingDispatches ?? 256;
    this.submitLimit = Math.max(1, options.maxPendingSubmits ?? 4);
    this.errorScopes = options.errorScopes ?? false;
    const align = Math.max(limits.minUniformBufferOffsetAlignment, 16);
    this.bindGroups = new BindGroupCache(device, align, Math.max(64, options.maxBindGroups ?? 4096));
  }

  /** Bytes of the uniform slot buffers (counted by the backend's memory stats). */
  get uniformBytes(): number {
    return this.bindGroups.uniformBytes;
  }

  /** Uniform slot buffers created so far. */
  get uniformBuffers(): number {
    return this.bindGroups.pageCount;
  }

  /** True while commands are encoded but not submitted. */
  get open(): boolean {
    return this.dirty;
  }

  /** Submits the GPU has not reported finished yet. */
  get pendingSubmits(): number {
    return this.submitted - this.completed;
  }

  get stats(): BatcherStats {
    return { ...this.counters, pendingSubmits: this.pendingSubmits, ...this.bindGroups.stats() };
  }

  /** The open batch's encoder, created on first use (its label names the batch in validation messages and captures). */
  private batchEncoder(): GPUCommandEncoder {
    return (this.encoder ??= this.device.createCommandEncoder({ label: 'webgrad batch' }));
  }

  private currentPass(): GPUComputePassEncoder {
    return (this.pass ??= this.batchEncoder().beginComputePass());
  }

  /** The batch's encoder with no pass open, for copies; they run in order with the dispatches. */
  copyEncoder(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    const encoder = this.batchEncoder();
    this.dirty = true;
    return encoder;
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
    if (this.compileOnly) {
      this.compileOnly.dispatchesSkipped++;
      return;
    }
    const [x, y, z] = typeof workgroups === 'number' ? this.fold(workgroups) : workgroups;
    let bg = this.bindGroups.bind(kernel.layout, buffers, params, this.batchSerial);
    if (!bg) {
      // Every cached bind group is used by the open batch: submit it, then entries can be reused.
      this.flush();
      bg = this.bindGroups.bind(kernel.layout, buffers, params, this.batchSerial)!;
    }
    const pass = this.currentPass();
    pass.setPipeline(kernel.pipeline);
    pass.setBindGroup(0, bg);
    pass.dispatchWorkgroups(x, y, z);
    this.dirty = true;
    this.pending++;
    this.counters.dispatches++;
    this.health.lastOp = op;
    if (this.errorScopes) this.batchOps.push(op);
    if (this.pending >= this.maxPending) this.flush();
  }

  /**
   * Drops the cached bind groups that bind `buffer`; the pool calls it before destroying a buffer
   * (only buffers no unsubmitted command uses are destroyed).
   */
  forgetBuffer(buffer: GPUBuffer): void {
    this.bindGroups.forgetBuffer(buffer);
  }

  /**
   * Submits the open batch, if any. `tracked` false: the caller follows this submit itself (a read
   * awaits its mapping, which completes only after this submit and every earlier one) and reports
   * it with `completedThrough`; one fewer asynchronous completion per read keeps readback latency low.
   * Returns the submit's serial (0 when nothing was submitted).
   */
  flush(tracked = true): number {
    if (!this.dirty) return 0;
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    const encoder = this.encoder!;
    this.encoder = null;
    this.bindGroups.upload();
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
    const serial = tracked ? this.track() : ++this.submitted;
    this.batchOps = [];
    this.pending = 0;
    this.dirty = false;
    this.batchSerial++;
    this.counters.submits++;
    for (const p of this.pools) p.onSubmit();
    return serial;
  }

  /** The submit `serial` (and, queue order being kept, every earlier one) is known to be finished. */
  completedThrough(serial: number): void {
    if (serial > this.completed) this.completed = serial;
    while (this.inFlight.length > 0 && this.inFlight[0]!.serial <= this.completed) this.inFlight.shift();
  }

  /** Follows one submit to completion, so `pendingSubmits` and `throttle()` know the GPU's progress. */
  private track(): number {
    const serial = ++this.submitted;
    // Queue completions are in order: this one finishing means every earlier one has too. A lost
    // device rejects instead and never finishes: that counts as done too, so no throttle waits
    // forever (the calls after it throw the loss).
    const finished = (): void => this.completedThrough(serial);
    const done = this.device.queue.onSubmittedWorkDone().then(finished, finished);
    this.inFlight.push({ serial, done });
    const pending = this.pendingSubmits;
    if (pending > this.counters.maxPendingSubmits) this.counters.maxPendingSubmits = pending;
    return serial;
  }

  /**
   * Submits the open batch and waits until at most `max` submits are unfinished on the GPU (the
   * oldest first). This is where a loop that never reads back is held to a bounded amount of work
   * in flight: ops are synchronous, so the wait has to be at an `await`.
   */
  async throttle(max: number = this.submitLimit): Promise<void> {
    this.flush();
    let waited = false;
    while (this.pendingSubmits > max && this.inFlight.length > 0) {
      waited = true;
      // The oldest's completion (completedThrough) takes it and every earlier submit off the list. A
      // lost or destroyed device may never report the work done: stop waiting then (the caller's
      // next check throws the loss).
      const lost = await Promise.race([this.inFlight[0]!.done.then(() => false), this.device.lost.then(() => true)]);
      if (lost) break;
    }
    if (waited) this.counters.throttleWaits++;
  }

  destroy(): void {
    this.bindGroups.destroy();
  }
}
