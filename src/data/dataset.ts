/** An in-memory classification dataset: flat float32 features [n, features] and int32 labels [n]. */
import { WebgradError } from '../errors.js';

export interface Dataset {
  /** Row-major features, n × features values (pixels scaled to [0, 1]). */
  x: Float32Array;
  labels: Int32Array;
  n: number;
  features: number;
  classes: number;
  /** Image side for pictures (28 for MNIST), when the rows are square images. */
  imageSize?: number;
  /** Where the data came from, for messages and metadata. */
  source: string;
}

/** Checks a dataset's invariants once at load, so training never meets a bad label or a NaN/Inf feature on the GPU. */
export function validateDataset(d: Dataset): Dataset {
  const where = `dataset '${d.source}'`;
  if (d.x.length !== d.n * d.features) throw new WebgradError(`${where}: ${d.x.length} feature values for ${d.n} rows of ${d.features}`);
  if (d.labels.length !== d.n) throw new WebgradError(`${where}: ${d.labels.length} labels for ${d.n} rows`);
  for (let i = 0; i < d.x.length; i++) {
    const v = d.x[i]!;
    if (!Number.isFinite(v)) throw new WebgradError(`${where}: feature value ${v} at index ${i} (row ${Math.floor(i / d.features)}, feature ${i % d.features}) is not finite; NaN or Inf input would train to a NaN model`);
  }
  for (let i = 0; i < d.n; i++) {
    const l = d.labels[i]!;
    if (!(l >= 0 && l < d.classes)) throw new WebgradError(`${where}: label ${l} at row ${i} is outside the ${d.classes} classes [0, ${d.classes})`);
  }
  return d;
}

/** Rows `indices` of a dataset as a new dataset. */
export function subset(d: Dataset, indices: ArrayLike<number>, source = d.source): Dataset {
  const n = indices.length;
  const x = new Float32Array(n * d.features);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = indices[i]!;
    x.set(d.x.subarray(r * d.features, (r + 1) * d.features), i * d.features);
    labels[i] = d.labels[r]!;
  }
  return { ...d, x, labels, n, source };
}
