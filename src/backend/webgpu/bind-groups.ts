/**
 * The bind-group cache, and the uniform slots the cached bind groups point at.
 *
 * Why a cache at all: WebGPU has no way to free a bind group; Dawn and the Vulkan driver release
 * its descriptor set only when the JavaScript wrapper is garbage-collected. One new bind group per
 * dispatch (about 80 per training step of a small MLP) exhausted lavapipe's descriptor pools and
 * crashed the process (SIGSEGV) after about a thousand steps of a loop that never read anything
 * back. So in the steady state no bind group is created: a training step binds the same buffers
 * to the same kernels every step, and finds its bind groups here.
 *
 * Each entry owns a uniform slot (its own range of a uniform "page" buffer) baked into the bind
 * group, so the key needs no arena offset and repeats from step to step however the steps fall
 * across submits. Parameters are written into the slot's CPU mirror; only slots whose bytes
 * changed are uploaded at submit (one `writeBuffer` per page, over the changed range). An entry
 * holds one set of parameters per batch, because its slot is uploaded once, before all of the
 * batch's commands run: a second dispatch with the same layout and buffers in one batch shares the
 * entry if its parameters are the same bytes, and otherwise takes the next occurrence (`key#1`,
 * ...). Writing a slot for batch N+1 while batch N is still on the GPU is safe: `writeBuffer` is
 * ordered after batch N's submit on the queue timeline.
 *
 * Bounded: at most `maxEntries` entries; past that the least recently used entries not used by
 * the open batch are dropped (their slots reused). An entry holds its buffers (a bind group keeps
 * them alive in the driver), so when the pool destroys a buffer every entry that binds it is
 * dropped at once (`forgetBuffer`).
 */

import type { KernelLayout } from './pipeline-cache.js';

/** Bytes per uniform page buffer (the guaranteed maxUniformBufferBindingSize). */
const PAGE_BYTES = 65536;

interface Slot {
  page: number;
  offset: number;
  /** Bytes reserved (a multiple of the offset alignment). */
  bytes: number;
}

interface Entry {
  readonly key: string;
  readonly bindGroup: GPUBindGroup;
  readonly slot: Slot;
  readonly buffers: readonly GPUBuffer[];
  /** Serial of the batch that last used it. */
  batch: number;
}

export interface BindGroupStats {
  bindGroupsCreated: number;
  bindGroupsEvicted: number;
  bindGroupsCached: number;
  uniformPages: number;
}

export class BindGroupCache {
  private readonly entries = new Map<string, Entry>();
  private readonly byBuffer = new Map<GPUBuffer, Set<Entry>>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private readonly pages: GPUBuffer[] = [];
  private readonly mirrors: Uint8Array[] = [];
  /** Per page: the changed byte range [lo, hi) not yet uploaded. */
  private readonly dirtyLo: number[] = [];
  private readonly dirtyHi: number[] = [];
  private pageUsed = 0;
  private readonly freeSlots = new Map<number, Slot[]>();
  created = 0;
  evicted = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly align: number,
    readonly maxEntries: number,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get uniformBytes(): number {
    return this.pages.length * PAGE_BYTES;
  }

  get pageCount(): number {
    return this.pages.length;
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(b, id);
    }
    return id;
  }

  /**
   * The bind group for one dispatch in batch `batch`, with `params` written to its uniform slot.
   * Returns null when the cache is full of entries the open batch uses (the caller submits and
   * asks again).
   */
  bind(layout: KernelLayout, buffers: readonly GPUBuffer[], params: ArrayBufferView, batch: number): GPUBindGroup | null {
    const size = Math.ceil(Math.max(params.byteLength, 16) / 16) * 16;
    let base = `${layout.id}|${size}`;
    for (const b of buffers) base += `|${this.bufferId(b)}`;
    let entry: Entry | undefined;
    for (let n = 0; ; n++) {
      const key = n === 0 ? base : `${base}#${n}`;
      entry = this.entries.get(key);
      if (!entry) {
        entry = this.create(key, layout, buffers, size, batch) ?? undefined;
        if (!entry) return null;
        break;
      }
      if (entry.batch !== batch) {
        // Most recently used goes last: eviction takes from the front.
        this.entries.delete(key);
        this.entries.set(key, entry);
        break;
      }
      // Already used in this batch: shareable only if the parameters are the same bytes.
      if (this.holds(entry.slot, params)) return entry.bindGroup;
    }
    entry.batch = batch;
    this.write(entry.slot, params);
    return entry.bindGroup;
  }

  private create(key: string, layout: KernelLayout, buffers: readonly GPUBuffer[], size: number, batch: number): Entry | null {
    if (this.entries.size >= this.maxEntries && !this.evict(batch)) return null;
    const slot = this.allocSlot(Math.ceil(size / this.align) * this.align);
    const page = this.pages[slot.page]!;
    const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: page, offset: slot.offset, size } }];
    buffers.forEach((buffer, i) => entries.push({ binding: 1 + i, resource: { buffer } }));
    const bindGroup = this.device.createBindGroup({ layout: layout.bindGroupLayout, entries });
    this.created++;
    const entry: Entry = { key, bindGroup, slot, buffers: [...buffers], batch };
    this.entries.set(key, entry);
    for (const b of buffers) {
      let set = this.byBuffer.get(b);
      if (!set) {
        set = new Set();
        this.byBuffer.set(b, set);
      }
      set.add(entry);
    }
    return entry;
  }

  /** Drops the least recently used eighth of the entries not used by batch `batch`; false if none could go. */
  private evict(batch: number): boolean {
    const target = Math.max(1, this.maxEntries >> 3);
    let dropped = 0;
    for (const entry of this.entries.values()) {
      if (dropped >= target) break;
      if (entry.batch === batch) continue;
      this.drop(entry);
      dropped++;
    }
    return dropped > 0;
  }

  private drop(entry: Entry): void {
    if (this.entries.get(entry.key) !== entry) return;
    this.entries.delete(entry.key);
    for (const b of entry.buffers) {
      const set = this.byBuffer.get(b);
      if (!set) continue;
      set.delete(entry);
      if (set.size === 0) this.byBuffer.delete(b);
    }
    let list = this.freeSlots.get(entry.slot.bytes);
    if (!list) {
      list = [];
      this.freeSlots.set(entry.slot.bytes, list);
    }
    list.push(entry.slot);
    this.evicted++;
  }

  /**
   * Drops every entry that binds `buffer` (called before the pool destroys it), so no cached bind
   * group keeps a destroyed buffer alive or gets used with it. The caller makes sure no unsubmitted
   * command uses the buffer.
   */
  forgetBuffer(buffer: GPUBuffer): void {
    const set = this.byBuffer.get(buffer);
    if (!set) return;
    for (const entry of [...set]) this.drop(entry);
    this.byBuffer.delete(buffer);
  }

  private allocSlot(bytes: number): Slot {
    const reuse = this.freeSlots.get(bytes)?.pop();
    if (reuse) return reuse;
    if (this.pages.length === 0 || this.pageUsed + bytes > PAGE_BYTES) {
      this.pages.push(
        this.device.createBuffer({ size: PAGE_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'webgrad uniform slots' }),
      );
      this.mirrors.push(new Uint8Array(PAGE_BYTES));
      this.dirtyLo.push(PAGE_BYTES);
      this.dirtyHi.push(0);
      this.pageUsed = 0;
    }
    const slot: Slot = { page: this.pages.length - 1, offset: this.pageUsed, bytes };
    this.pageUsed += bytes;
    return slot;
  }

  private holds(slot: Slot, params: ArrayBufferView): boolean {
    const src = new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
    const mirror = this.mirrors[slot.page]!;
    for (let i = 0; i < src.length; i++) if (mirror[slot.offset + i] !== src[i]) return false;
    return true;
  }

  /** Copies params into the slot's mirror, marking the bytes that changed for upload. */
  private write(slot: Slot, params: ArrayBufferView): void {
    const src = new Uint8Array(params.buffer, params.byteOffset, params.byteLength);
    const mirror = this.mirrors[slot.page]!;
    const at = slot.offset;
    let lo = -1;
    let hi = -1;
    for (let i = 0; i < src.length; i++) {
      if (mirror[at + i] !== src[i]) {
        if (lo < 0) lo = i;
        hi = i + 1;
        mirror[at + i] = src[i]!;
      }
    }
    if (lo < 0) return;
    const p = slot.page;
    this.dirtyLo[p] = Math.min(this.dirtyLo[p]!, at + (lo & ~3));
    this.dirtyHi[p] = Math.max(this.dirtyHi[p]!, at + ((hi + 3) & ~3));
  }

  /** Uploads the changed slot bytes; called right before the batch is submitted. */
  upload(): void {
    for (let p = 0; p < this.pages.length; p++) {
      const lo = this.dirtyLo[p]!;
      const hi = this.dirtyHi[p]!;
      if (hi <= lo) continue;
      const m = this.mirrors[p]!;
      this.device.queue.writeBuffer(this.pages[p]!, lo, m.buffer, m.byteOffset + lo, hi - lo);
      this.dirtyLo[p] = PAGE_BYTES;
      this.dirtyHi[p] = 0;
    }
  }

  destroy(): void {
    this.entries.clear();
    this.byBuffer.clear();
    for (const p of this.pages) p.destroy();
    this.pages.length = 0;
  }

  stats(): BindGroupStats {
    return { bindGroupsCreated: this.created, bindGroupsEvicted: this.evicted, bindGroupsCached: this.entries.size, uniformPages: this.pages.length };
  }
}
