/**
 * GPU buffers pooled by size class.
 *
 * Size classes: 256 B minimum, then four classes per power of two (2^k, 1.25·2^k, 1.5·2^k,
 * 1.75·2^k, each a multiple of 256 B). Pure powers of two waste up to half of every buffer;
 * exact 256-byte multiples only reuse a buffer for the identical size. Quarter-octave classes
 * bound the waste at 25% (under 256 B for buffers below 1 KiB) while tensors of slightly
 * different sizes (a batch of 33 rows and one of 32) still share buffers. A class above the
 * binding limit falls back to the exact size rounded to 256 B (or 4 B), so a tensor that fits the
 * limit is never refused because of rounding.
 *
 * Reuse rule: a buffer released while the current command batch is unsubmitted may still be read
 * by those unsubmitted commands. It may be handed out again as a kernel *output* in the same batch
 * (commands execute in order, so the new writes come after the old reads), but it must not be the
 * target of `queue.writeBuffer` until the batch is submitted: writeBuffer runs on the queue
 * timeline before the batch's commands, and would overwrite data they have yet to read. Each free
 * buffer remembers the batch it was released in, and an upload skips those of the open batch.
 *
 * Stable identity: a request takes the free buffer of its class created first (lowest serial),
 * whatever order buffers were released in and wherever the batch boundaries fall. A training step
 * starts with the same set of free buffers every step and allocates in the same order, so it gets
 * the same buffers every step from the second one on; the bind-group cache relies on that to find
 * its bind groups again (no bind group created per step). A last-in-first-out list also repeats,
 * but only after the release order has cycled the stack through: measured on the MLP of
 * test/run-ahead.test.ts, about 150 steps and 1,300 extra bind groups before it settled.
 */

export type BufferPurpose = 'output' | 'upload';

const MIN_CLASS = 256;

export function sizeClass(bytes: number, maxBytes: number = Infinity): number {
  if (bytes <= MIN_CLASS) return MIN_CLASS;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = Math.max(p / 4, MIN_CLASS);
  let cls = Math.ceil(bytes / step) * step;
  if (cls > maxBytes) cls = Math.ceil(bytes / MIN_CLASS) * MIN_CLASS;
  if (cls > maxBytes) cls = Math.ceil(bytes / 4) * 4;
  return cls;
}

interface FreeBuffer {
  buffer: GPUBuffer;
  /** Creation serial: lists are sorted by it, highest first, so the lowest is at the end. */
  serial: number;
  /** The batch serial it was released in, or -1 when no batch was open. */
  batch: number;
}

export class BufferPool {
  private readonly free = new Map<number, FreeBuffer[]>();
  private readonly serials = new WeakMap<GPUBuffer, number>();
  /** Serial of the open batch; advanced at each submit. */
  private batchSerial = 0;
  private pooled = 0;
  allocatedBytes = 0;
  buffersCreated = 0;
  buffersDestroyed = 0;
  /** Called before a pooled buffer is destroyed (the batcher drops bind groups that bind it). */
  onDestroy: ((buffer: GPUBuffer) => void) | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: number,
    private readonly maxBytes: number,
    private readonly label: string,
  ) {}

  get pooledBytes(): number {
    return this.pooled;
  }

  /**
   * A buffer of at least `bytes` bytes. An 'upload' never gets a buffer released during the open
   * batch; an 'output' may.
   */
  acquire(bytes: number, purpose: BufferPurpose): GPUBuffer {
    const cls = sizeClass(bytes, this.maxBytes);
    const list = this.free.get(cls);
    if (list && list.length > 0) {
      let i = list.length - 1;
      if (purpose === 'upload') while (i >= 0 && list[i]!.batch === this.batchSerial) i--;
      if (i >= 0) {
        const { buffer } = list[i]!;
        list.splice(i, 1);
        this.pooled -= buffer.size;
        return buffer;
      }
    }
    const b = this.device.createBuffer({ size: cls, usage: this.usage, label: `${this.label} ${cls}B` });
    this.allocatedBytes += cls;
    this.buffersCreated++;
    this.serials.set(b, this.buffersCreated);
    return b;
  }

  /** Returns a buffer; `batchOpen` true while unsubmitted commands may still use it. */
  release(buffer: GPUBuffer, batchOpen: boolean): void {
    this.pooled += buffer.size;
    let list = this.free.get(buffer.size);
    if (!list) {
      list = [];
      this.free.set(buffer.size, list);
    }
    const serial = this.serials.get(buffer) ?? 0;
    // Keep the list sorted by serial, highest first (lists are short: buffers of one size class).
    let i = list.length;
    while (i > 0 && list[i - 1]!.serial < serial) i--;
    list.splice(i, 0, { buffer, serial, batch: batchOpen ? this.batchSerial : -1 });
  }

  /** Called when the batch has been submitted: buffers released during it may now take uploads. */
  onSubmit(): void {
    this.batchSerial++;
  }

  /** Destroys every free buffer not released in the open batch (those stay until it is submitted). */
  trim(): void {
    for (const [cls, list] of this.free) {
      const keep = list.filter((f) => f.batch === this.batchSerial);
      for (const f of list) {
        if (f.batch === this.batchSerial) continue;
        this.pooled -= f.buffer.size;
        this.destroyBuffer(f.buffer);
      }
      if (keep.length > 0) this.free.set(cls, keep);
      else this.free.delete(cls);
    }
  }

  private destroyBuffer(b: GPUBuffer): void {
    this.onDestroy?.(b);
    b.destroy();
    this.buffersDestroyed++;
  }

  destroy(): void {
    for (const list of this.free.values()) for (const f of list) this.destroyBuffer(f.buffer);
    this.free.clear();
    this.pooled = 0;
  }
}
