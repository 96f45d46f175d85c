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
 * timeline before the batch's commands, and would overwrite data they have yet to read. Such
 * buffers wait in `releasedThisBatch` and join the free lists at submit.
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

export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private releasedThisBatch: GPUBuffer[] = [];
  private pooled = 0;
  allocatedBytes = 0;
  buffersCreated = 0;

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
      const b = list.pop()!;
      this.pooled -= b.size;
      return b;
    }
    if (purpose === 'output') {
      const rb = this.releasedThisBatch;
      for (let i = rb.length - 1; i >= 0; i--) {
        if (rb[i]!.size === cls) {
          const b = rb[i]!;
          rb[i] = rb[rb.length - 1]!;
          rb.pop();
          this.pooled -= b.size;
          return b;
        }
      }
    }
    const b = this.device.createBuffer({ size: cls, usage: this.usage, label: `${this.label} ${cls}B` });
    this.allocatedBytes += cls;
    this.buffersCreated++;
    return b;
  }

  /** Returns a buffer; `batchOpen` true while unsubmitted commands may still use it. */
  release(buffer: GPUBuffer, batchOpen: boolean): void {
    this.pooled += buffer.size;
    if (batchOpen) {
      this.releasedThisBatch.push(buffer);
    } else {
      this.toFree(buffer);
    }
  }

  /** Called when the batch has been submitted: buffers released during it may now take uploads. */
  onSubmit(): void {
    for (const b of this.releasedThisBatch) this.toFree(b);
    this.releasedThisBatch = [];
  }

  private toFree(buffer: GPUBuffer): void {
    let list = this.free.get(buffer.size);
    if (!list) {
      list = [];
      this.free.set(buffer.size, list);
    }
    list.push(buffer);
  }

  /** Destroys every free buffer (those released in the open batch stay until it is submitted). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const b of list) {
        this.pooled -= b.size;
        b.destroy();
      }
    }
    this.free.clear();
  }

  destroy(): void {
    this.trim();
    for (const b of this.releasedThisBatch) b.destroy();
    this.releasedThisBatch = [];
    this.pooled = 0;
  }
}
