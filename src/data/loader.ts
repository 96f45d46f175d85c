/**
 * Mini-batches with a seeded shuffle: the order of epoch e is a pure function of (seed, e), drawn
 * from the same Philox stream as everything else, so a resumed run sees the same batches.
 */
import type { Dataset } from './dataset.js';
import { philoxWords } from '../random/philox.js';
import { tensor } from '../ops/creation.js';
import type { Tensor } from '../tensor.js';
import type { BackendName } from '../backend/types.js';
import { fail } from '../errors.js';
import { DataLoader } from './data-loader.js';
import type { BatchOf } from './data-loader.js';
import type { Column } from './columns.js';

/** Where shuffles start in a seed's Philox stream. */
export const SHUFFLE_STREAM_OFFSET = 2 ** 50;

/** A Fisher–Yates permutation of [0, n) from Philox words of (seed, offset). */
export function seededPermutation(n: number, seed: number, offset: number): Int32Array {
  const perm = Int32Array.from({ length: n }, (_, i) => i);
  const words = philoxWords(seed, offset, n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor((words[i]! / 2 ** 32) * (i + 1));
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}

export interface Batch {
  x: Tensor;
  y: Tensor;
  size: number;
}

export interface BatchOptions {
  batchSize: number;
  shuffle: boolean;
  seed: number;
  /** Drop a last batch smaller than batchSize (keeps batch-norm statistics meaningful). */
  dropLast?: boolean;
  device?: BackendName;
}

/**
 * The batches of one epoch (tensors created lazily, one batch at a time; the caller disposes them).
 * Given a classification Dataset it yields `{ x, y, size }` with int32 labels; given columns (any
 * arrays sharing their first dimension: features and float regression targets, or several inputs)
 * it yields one tensor per column, `[x, y, ...]`.
 */
export function batches(d: Dataset, epoch: number, o: BatchOptions): Generator<Batch>;
export function batches<C extends readonly Column[]>(columns: C, epoch: number, o: BatchOptions): Generator<BatchOf<C>>;
export function batches(d: Dataset | readonly Column[], epoch: number, o: BatchOptions): Generator<Batch> | Generator<Tensor[]> {
  if (!o || !Number.isInteger(o.batchSize) || o.batchSize <= 0) fail('batches', `batchSize must be a positive integer, got ${o?.batchSize}`);
  if (Array.isArray(d)) {
    const loader = new DataLoader(d, { batchSize: o.batchSize, shuffle: o.shuffle, dropLast: o.dropLast ?? false, seed: o.seed, ...(o.device ? { device: o.device } : {}) });
    return loader.epochBatches(epoch) as Generator<Tensor[]>;
  }
  return datasetBatches(d as Dataset, epoch, o);
}

function* datasetBatches(d: Dataset, epoch: number, o: BatchOptions): Generator<Batch> {
  // Each epoch reads its own range of the seed's stream, far above the words that initialisation and
  // dropout draw from the start of the same seed's stream (2^50 words in), so the two never overlap.
  const order = o.shuffle ? seededPermutation(d.n, o.seed, SHUFFLE_STREAM_OFFSET + epoch * d.n) : Int32Array.from({ length: d.n }, (_, i) => i);
  const device = o.device ? { device: o.device } : {};
  for (let start = 0; start < d.n; start += o.batchSize) {
    const size = Math.min(o.batchSize, d.n - start);
    if (size < o.batchSize && o.dropLast) break;
    const x = new Float32Array(size * d.features);
    const y = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const r = order[start + i]!;
      x.set(d.x.subarray(r * d.features, (r + 1) * d.features), i * d.features);
      y[i] = d.labels[r]!;
    }
    yield { x: tensor(x, { shape: [size, d.features], ...device }), y: tensor(y, { shape: [size], ...device }), size };
  }
}
