/**
 * Device-side assertions, host side. Checks whose data lives on the device (cross-entropy labels,
 * clipGradNorm's errorIfNonfinite) run as tiny kernels that record the first failure since the last
 * read into one persistent buffer of slots (shaders/asserts.ts). Every read() copies that buffer in
 * the same submission as the data it reads (no extra sync) and throws a WebgradError naming the op
 * and the bad value when a slot is set; the slots are then cleared. Like the numerics guard, a check
 * never costs a readback of its own; unlike it, it is always on, and a loop that never reads holds
 * one record per slot, not one per step.
 */

import {
  ASSERT_SLOT, ASSERT_SLOT_COUNT, ASSERT_WORDS_PER_SLOT, finiteCheckKernel, labelCheckKernel, type AssertSlotName,
} from '../../../shaders/asserts.js';
import { WebgradError } from '../../errors.js';
import type { Storage } from '../types.js';
import type { KernelContext } from './context.js';
import { dispatchKernel } from './dispatch.js';

const BYTES = ASSERT_SLOT_COUNT * ASSERT_WORDS_PER_SLOT * 4;

export class DeviceAsserts {
  readonly buffer: GPUBuffer;
  /** Per slot, how to word its failure (from the first check recorded since the last read). */
  private readonly describe = new Map<AssertSlotName, (words: Uint32Array) => string>();
  private readonly zeros = new Uint32Array(BYTES / 4);

  constructor(private readonly device: GPUDevice) {
    this.buffer = device.createBuffer({
      size: BYTES,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label: 'webgrad device asserts',
    });
  }

  get bytes(): number {
    return BYTES;
  }

  /** True when a check was recorded since the last read, so the next read must look at the slots. */
  get pending(): boolean {
    return this.describe.size > 0;
  }

  /**
   * int32 labels [n] must lie in [0, classes); `op` names the user-facing op in the error
   * ("crossEntropy: label 12 at row 3 is outside the 10 classes [0, 10)").
   */
  checkLabels(ctx: KernelContext, op: string, labels: Storage, n: number, classes: number): void {
    if (n === 0) return;
    const l = ctx.input(labels, op);
    dispatchKernel(ctx, `${op} label check`, labelCheckKernel, { L: l.buffer, S: this.buffer }, { n, classes }, 1);
    if (!this.describe.has('labels')) {
      this.describe.set('labels', (w) => {
        const label = new Int32Array(w.buffer, w.byteOffset + 8, 1)[0]!;
        return `${op}: label ${label} at row ${w[1]} is outside the ${w[3]} classes [0, ${w[3]}) (checked on the device; reported at the first read after the call)`;
      });
    }
  }

  /** Element 0 of the float32 `x` must be finite; `message(value)` words the error. */
  checkFinite(ctx: KernelContext, op: string, x: Storage, message: (value: number) => string): void {
    const s = ctx.input(x, op);
    dispatchKernel(ctx, `${op} finite check`, finiteCheckKernel, { X: s.buffer, S: this.buffer }, {}, 1);
    if (!this.describe.has('nonFinite')) {
      this.describe.set('nonFinite', (w) => message(new Float32Array(w.buffer, w.byteOffset + 4, 1)[0]!));
    }
  }

  /**
   * Called by read() with the batch's copy encoder: copies the slots into `staging` (same submission
   * as the data read) and hands over the checks recorded so far. read() calls reset() right after
   * the submit, so later checks start from clear slots.
   */
  take(encoder: GPUCommandEncoder, staging: GPUBuffer): Map<AssertSlotName, (words: Uint32Array) => string> {
    encoder.copyBufferToBuffer(this.buffer, 0, staging, 0, BYTES);
    const taken = new Map(this.describe);
    this.describe.clear();
    return taken;
  }

  /** Zeroes the slots (queued after the submit that copied them). */
  reset(): void {
    this.device.queue.writeBuffer(this.buffer, 0, this.zeros);
  }

  /** The error for the first set slot of `words` (a mapped copy of the buffer), if any. */
  static failure(words: Uint32Array, taken: Map<AssertSlotName, (words: Uint32Array) => string>): WebgradError | null {
    for (const [name, describe] of taken) {
      const base = ASSERT_SLOT[name] * ASSERT_WORDS_PER_SLOT;
      const slot = words.subarray(base, base + ASSERT_WORDS_PER_SLOT);
      if (slot[0] !== 0) return new WebgradError(describe(slot));
    }
    return null;
  }

  destroy(): void {
    this.buffer.destroy();
  }
}
