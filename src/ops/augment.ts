/**
 * Random translation of a batch of images, the data augmentation of `webgrad train --model cnn`:
 * each image moves by its own whole-pixel offset (dx, dy) in [−s, s]², zero filled (as PyTorch's
 * pad-then-random-crop). Runs on the tensor's device with existing kernels: two uniform draws per
 * image from the Philox stream, then out[b] = Sy[b] · x[b] · Sx[b] with one-hot shift matrices
 * built by comparing an offset table with the drawn offsets (two small batched matmuls, no host
 * loop, no readback). Drawing from the global stream, like dropout, makes a checkpoint's
 * (seed, offset) reproduce the same shifts after a resume.
 */
import type { Tensor } from '../tensor.js';
import { fail, shapeStr } from '../errors.js';
import { tidy } from '../lifetime.js';
import { checkFloat, checkTensor } from './checks.js';
import { arange, castTo, rand } from './creation.js';
import { eq, mul, sub } from './binary.js';
import { matmul } from './matmul.js';

export interface RandomShiftOptions {
  /** A fixed seed (the draw then starts at offset 0 of that seed's stream); default: the global stream. */
  seed?: number;
}

/** Offsets in −s..s (whole numbers held in x's float dtype), one per image: floor(u·(2s+1)) − s. */
function offsets(x: Tensor, s: number, seed: number | undefined): Tensor {
  const u = rand([x.shape[0]!, 1, 1, 1], { dtype: x.dtype, device: x.device, ...(seed === undefined ? {} : { seed }) });
  // u·(2s+1) ≥ 0, so the cast's truncation is floor; u < 1 keeps it below 2s+1.
  return sub(castTo(castTo(mul(u, 2 * s + 1), 'int32'), x.dtype), s);
}

/**
 * `x` [B, C, H, W] with image b translated by (dx_b, dy_b), |dx|, |dy| ≤ maxShift: out[b, c, i, j]
 * = x[b, c, i + dy_b, j + dx_b], zero where that falls outside. All channels of an image move
 * together. maxShift 0 returns x unchanged (no draw).
 */
export function randomShift(x: Tensor, maxShift: number, options: RandomShiftOptions = {}): Tensor {
  const op = 'randomShift';
  checkTensor(op, 'input', x);
  checkFloat(op, 'input', x);
  if (x.rank !== 4) fail(op, `input must be [B, C, H, W], got ${shapeStr(x.shape)}`);
  const [b, , h, w] = x.shape as [number, number, number, number];
  if (!Number.isInteger(maxShift) || maxShift < 0 || maxShift >= Math.min(h, w)) {
    fail(op, `maxShift must be an integer in [0, ${Math.min(h, w)}) for ${h}×${w} images, got ${String(maxShift)}`);
  }
  const seed = options.seed;
  // The columns' offsets use seed + 1, so the seed must leave room for it.
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 53 - 1)) fail(op, `seed must be an integer in [0, 2^53 − 1), got ${String(seed)}`);
  if (maxShift === 0 || b === 0) return x;
  return tidy(() => {
    // Drawn in this order (rows, then columns) so a seed fixes both.
    const dy = offsets(x, maxShift, seed);
    const dx = offsets(x, maxShift, seed === undefined ? undefined : seed + 1);
    // gap(n)[p, q] = q − p. Sy[b, i, k] = 1 where k = i + dy_b picks row i + dy_b;
    // Sx[b, k, j] = 1 where k = j + dx_b (gap[j, k] transposed) picks column j + dx_b.
    const gap = (n: number): Tensor => {
      const r = arange(0, n, 1, { dtype: x.dtype, device: x.device });
      return sub(r.reshape([1, 1, 1, n]), r.reshape([1, 1, n, 1]));
    };
    const sy = eq(gap(h), dy);
    const sx = eq(gap(w).transpose(-2, -1), dx);
    return matmul(matmul(sy, x), sx);
  });
}
