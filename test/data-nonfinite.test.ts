/**
 * Non-finite input is refused at load: a float IDX image file holding NaN or ±Inf names the file
 * and the first bad element (image, row, column); validateDataset refuses non-finite features from
 * any source, naming the row and feature.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMnistDir } from '../src/data/mnist-node.js';
import { validateDataset } from '../src/data/dataset.js';
import { expectErrorSync } from './helpers/expect-error.js';

/** IDX bytes of big-endian float32 (type 0x0d) or u8 (0x08) elements. */
function idx(type: 'u8' | 'f32', dims: number[], values: ArrayLike<number>): Uint8Array {
  const size = type === 'u8' ? 1 : 4;
  const out = new Uint8Array(4 + 4 * dims.length + size * values.length);
  const view = new DataView(out.buffer);
  out[2] = type === 'u8' ? 0x08 : 0x0d;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const body = 4 + 4 * dims.length;
  for (let i = 0; i < values.length; i++) {
    if (type === 'u8') out[body + i] = values[i]!;
    else view.setFloat32(body + 4 * i, values[i]!, false);
  }
  return out;
}

const root = mkdtempSync(join(tmpdir(), 'webgrad-nonfinite-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Four MNIST files; the training images are float32 [3, 2, 3] with `bad` written at `at`. */
function writeFloatMnist(bad: number | null, at: number): string {
  const dir = mkdtempSync(join(root, 'd'));
  const pixels = Array.from({ length: 18 }, (_, i) => i * 10);
  if (bad !== null) pixels[at] = bad;
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), idx('f32', [3, 2, 3], pixels));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx('u8', [3], [1, 2, 3]));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx('f32', [1, 2, 3], [0, 1, 2, 3, 4, 5]));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx('u8', [1], [4]));
  return dir;
}

/** The refusal's message; the shared helper checks it is a WebgradError and that nothing leaked. */
function refusal(fn: () => unknown): string {
  return expectErrorSync(fn, []).message;
}

describe('non-finite input is refused at load', () => {
  it('a float IDX file without NaN or Inf loads', () => {
    const { train } = loadMnistDir(writeFloatMnist(null, 0));
    expect(train.n).toBe(3);
    expect(train.x[17]).toBeCloseTo(170 / 255, 6);
  });

  for (const [name, bad] of [['NaN', Number.NaN], ['Infinity', Infinity], ['-Infinity', -Infinity]] as const) {
    it(`a float IDX image file with ${name} at element 10 names the file and image 1, row 1, column 1`, () => {
      const dir = writeFloatMnist(bad, 10);
      const message = refusal(() => loadMnistDir(dir));
      expect(message).toContain(join(dir, 'train-images-idx3-ubyte'));
      expect(message).toContain(`non-finite pixel value ${name} at element 10 (image 1, row 1, column 1)`);
    });
  }

  it('the first bad element is named when there are several', () => {
    const dir = mkdtempSync(join(root, 'd'));
    const pixels = Array.from({ length: 18 }, () => 1);
    pixels[16] = Number.NaN;
    pixels[4] = Infinity;
    writeFileSync(join(dir, 'train-images-idx3-ubyte'), idx('f32', [3, 2, 3], pixels));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx('u8', [3], [1, 2, 3]));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte'), idx('u8', [1, 2, 3], [0, 1, 2, 3, 4, 5]));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), idx('u8', [1], [4]));
    expect(refusal(() => loadMnistDir(dir))).toContain('value Infinity at element 4 (image 0, row 1, column 1)');
  });

  it('validateDataset refuses a NaN feature from any source, naming the row and feature', () => {
    const x = new Float32Array([0, 1, 2, 3, 4, Number.NaN]);
    const message = refusal(() => validateDataset({ x, labels: new Int32Array([0, 1, 2]), n: 3, features: 2, classes: 3, source: 'my.csv' }));
    expect(message).toMatch(/dataset 'my\.csv': feature value NaN at index 5 \(row 2, feature 1\) is not finite/);
  });
});
