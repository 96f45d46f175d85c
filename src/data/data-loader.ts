/**
 * DataLoader: mini-batches over user arrays, like PyTorch's DataLoader over a TensorDataset.
 *
 * ```ts
 * const loader = new DataLoader([features, targets], { batchSize: 32, shuffle: true, dropLast: true });
 * for await (const [x, y] of loader) { ... }   // or a plain `for ... of`
 * ```
 *
 * Each pass over the loader is one epoch; with `shuffle` the order of epoch e is a pure function of
 * (seed, e) (the same seeded Philox permutation as `batches`). Batches are fresh tensors the caller
 * owns (dispose them, or run the step in `tidy`). The async iteration is also a safe point where
 * the engine reclaims tensors dropped without dispose() when memory has grown.
 */
import type { BackendName } from '../backend/types.js';
import { engine } from '../engine.js';
import { fail } from '../errors.js';
import { reclaimPoint } from '../reclaim.js';
import type { Tensor } from '../tensor.js';
import { gatherRows, prepareColumns } from './columns.js';
import type { Column, PreparedColumn } from './columns.js';
import { SHUFFLE_STREAM_OFFSET, seededPermutation } from './loader.js';

export interface DataLoaderOptions {
  batchSize: number;
  /** Reshuffle at every epoch (default false). */
  shuffle?: boolean;
  /** Drop a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Seed of the shuffle (default: the global seed set by manualSeed). */
  seed?: number;
  /** Backend of the batch tensors (default: the one chosen by init()). */
  device?: BackendName;
}

/** One tensor per column, in the order the columns were given. */
export type BatchOf<C extends readonly Column[]> = { [K in keyof C]: Tensor };

export class DataLoader<C extends readonly Column[] = readonly Column[]> implements Iterable<BatchOf<C>>, AsyncIterable<BatchOf<C>> {
  private readonly columns: PreparedColumn[];
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  readonly device: BackendName | undefined;
  /** The epoch the next pass will run (passes count up from 0; set it to resume). */
  epoch = 0;

  constructor(columns: C, options: DataLoaderOptions) {
    const o = options ?? ({} as DataLoaderOptions);
    if (!Number.isInteger(o.batchSize) || o.batchSize <= 0) fail('DataLoader', `batchSize must be a positive integer, got ${String(o.batchSize)}`);
    if (o.seed !== undefined && !Number.isInteger(o.seed)) fail('DataLoader', `seed must be an integer, got ${String(o.seed)}`);
    this.columns = prepareColumns(columns, 'DataLoader');
    this.batchSize = o.batchSize;
    this.shuffle = o.shuffle ?? false;
    this.dropLast = o.dropLast ?? false;
    this.seed = o.seed ?? engine.seed;
    this.device = o.device;
  }

  /** Examples in the data. */
  get size(): number {
    return this.columns[0]!.rows;
  }

  /** Batches per epoch. */
  get length(): number {
    return this.dropLast ? Math.floor(this.size / this.batchSize) : Math.ceil(this.size / this.batchSize);
  }

  /** The batches of one epoch (lazily: one batch's tensors exist at a time unless you keep them). */
  *epochBatches(epoch: number): Generator<BatchOf<C>> {
    const n = this.size;
    const order = this.shuffle ? seededPermutation(n, this.seed, SHUFFLE_STREAM_OFFSET + epoch * n) : Int32Array.from({ length: n }, (_, i) => i);
    for (let start = 0; start < n; start += this.batchSize) {
      const size = Math.min(this.batchSize, n - start);
      if (size < this.batchSize && this.dropLast) break;
      const made: Tensor[] = [];
      try {
        for (const c of this.columns) made.push(gatherRows(c, order, start, size, this.device));
      } catch (e) {
        for (const t of made) t.dispose();
        throw e;
      }
      yield made as unknown as BatchOf<C>;
    }
  }

  [Symbol.iterator](): Iterator<BatchOf<C>> {
    return this.epochBatches(this.epoch++);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<BatchOf<C>> {
    for (const batch of this.epochBatches(this.epoch++)) {
      yield batch;
      await reclaimPoint();
    }
  }
}
