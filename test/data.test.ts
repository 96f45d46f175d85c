/**
 * Data: the IDX parser on hand-built bytes (u8, i32, f32 big-endian) and its refusals, reading
 * plain and gzipped IDX files, loading a folder of four MNIST-format files, the embedded digits'
 * deterministic split, the seeded permutation and the mini-batch generator.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseIdx } from '../src/data/idx.js';
import { readIdxFile, loadMnistDir, loadEmbeddedDigits } from '../src/data/mnist-node.js';
import { subset } from '../src/data/dataset.js';
import type { Dataset } from '../src/data/dataset.js';
import { seededPermutation, batches } from '../src/data/loader.js';
import { expectErrorSync } from './helpers/expect-error.js';

const TYPE = { u8: 0x08, i32: 0x0c, f32: 0x0d } as const;

/** IDX bytes: 0, 0, type code, rank, big-endian u32 dims, then big-endian elements. */
function idx(type: keyof typeof TYPE, dims: number[], values: ArrayLike<number>): Uint8Array {
  const size = type === 'u8' ? 1 : 4;
  const out = new Uint8Array(4 + 4 * dims.length + size * values.length);
  const view = new DataView(out.buffer);
  out[2] = TYPE[type];
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  const body = 4 + 4 * dims.length;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (type === 'u8') out[body + i] = v;
    else if (type === 'i32') view.setInt32(body + 4 * i, v, false);
    else view.setFloat32(body + 4 * i, v, false);
  }
  return out;
}

const tmpRoot = mkdtempSync(join(tmpdir(), 'webgrad-data-'));
afterAll(() => rmSync(tmpRoot, { recursive: true, force: true }));
function freshDir(): string {
  return mkdtempSync(join(tmpRoot, 'd'));
}

/** Expects `fn` to throw a WebgradError whose message matches (or contains) every pattern, with nothing leaked. */
function expectRefused(fn: () => unknown, ...patterns: (RegExp | string)[]): void {
  const asRegExp = (p: RegExp | string): RegExp => (typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : p);
  expectErrorSync(fn, patterns.map(asRegExp));
}

describe('parseIdx', () => {
  it('reads u8 images [2, 2, 3] in row-major order', () => {
    const values = Array.from({ length: 12 }, (_, i) => i * 20 + 3);
    const r = parseIdx(idx('u8', [2, 2, 3], values));
    expect(r.dims).toEqual([2, 2, 3]);
    expect(r.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(r.data)).toEqual(values);
  });

  it('reads u8 data from a view into a larger buffer (non-zero byteOffset)', () => {
    const bytes = idx('u8', [3], [7, 8, 9]);
    const big = new Uint8Array(bytes.length + 5);
    big.set(bytes, 5);
    const r = parseIdx(big.subarray(5));
    expect(r.dims).toEqual([3]);
    expect(Array.from(r.data)).toEqual([7, 8, 9]);
  });

  it('reads big-endian int32 (including negatives and extremes)', () => {
    const values = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 123456789];
    const r = parseIdx(idx('i32', [2, 3], values));
    expect(r.dims).toEqual([2, 3]);
    expect(r.data).toBeInstanceOf(Int32Array);
    expect(Array.from(r.data)).toEqual(values);
  });

  it('reads big-endian float32 bit-exactly', () => {
    const values = Float32Array.from([0.1, -2.5, 3.4e38, 1e-45, -0, Infinity]);
    const r = parseIdx(idx('f32', [6], values));
    expect(r.data).toBeInstanceOf(Float32Array);
    expect(Array.from(r.data)).toEqual(Array.from(values));
    expect(Object.is(r.data[4], -0)).toBe(true);
  });

  it('reads a rank-1 label file and a rank-0 scalar', () => {
    expect(Array.from(parseIdx(idx('u8', [4], [9, 0, 3, 7])).data)).toEqual([9, 0, 3, 7]);
    const scalar = parseIdx(idx('i32', [], [42]));
    expect(scalar.dims).toEqual([]);
    expect(Array.from(scalar.data)).toEqual([42]);
  });

  it('refuses data truncated by one byte, naming the source and both sizes', () => {
    const bytes = idx('u8', [2, 2, 3], new Array(12).fill(1));
    expectRefused(() => parseIdx(bytes.subarray(0, bytes.length - 1), 'images.idx'), 'images.idx', /need 28 bytes but the file has 27/);
  });

  it('refuses trailing bytes', () => {
    const bytes = idx('u8', [2], [1, 2]);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expectRefused(() => parseIdx(longer, 'x'), /need 10 bytes but the file has 11/);
  });

  it('refuses a truncated header and files shorter than the magic', () => {
    expectRefused(() => parseIdx(new Uint8Array([0, 0, 8])), /only 3 bytes/);
    expectRefused(() => parseIdx(idx('u8', [2, 2, 3], new Array(12).fill(0)).subarray(0, 10), 'f'), /truncated header/);
  });

  it('refuses a bad magic number and an unknown type code', () => {
    const bytes = idx('u8', [2], [1, 2]);
    bytes[0] = 1;
    expectRefused(() => parseIdx(bytes, 'bad.idx'), 'bad.idx', /bad magic number/);
    const unknown = idx('u8', [2], [1, 2]);
    unknown[2] = 0x0a;
    expectRefused(() => parseIdx(unknown), /unknown element type code 0xa/);
  });

  it('refuses gzipped bytes that were not decompressed, hinting at gzip', () => {
    const gz = gzipSync(idx('u8', [2], [1, 2]));
    expectRefused(() => parseIdx(gz, 'train.gz'), 'train.gz', /bad magic/, /gzip/);
  });
});

describe('readIdxFile', () => {
  it('reads a plain file and a .gz file to the same result', () => {
    const dir = freshDir();
    const bytes = idx('i32', [2, 2], [5, -6, 7, -8]);
    writeFileSync(join(dir, 'a-idx2-int'), bytes);
    writeFileSync(join(dir, 'a-idx2-int.gz'), gzipSync(bytes));
    const plain = readIdxFile(join(dir, 'a-idx2-int'));
    const gz = readIdxFile(join(dir, 'a-idx2-int.gz'));
    expect(gz.dims).toEqual([2, 2]);
    expect(Array.from(gz.data)).toEqual([5, -6, 7, -8]);
    expect(Array.from(plain.data)).toEqual(Array.from(gz.data));
  });

  it('reads i8 files (signed bytes) from disk, plain and gzipped', () => {
    // readFileSync and gunzipSync return Node Buffers, whose slice() is a view: the parser must
    // not reinterpret the whole underlying ArrayBuffer.
    const dir = freshDir();
    const bytes = idx('u8', [4], [0, 1, 0x7f, 0xff]);
    bytes[2] = 0x09; // i8
    writeFileSync(join(dir, 's-idx1-i8'), bytes);
    writeFileSync(join(dir, 's-idx1-i8.gz'), gzipSync(bytes));
    for (const name of ['s-idx1-i8', 's-idx1-i8.gz']) {
      const r = readIdxFile(join(dir, name));
      expect(r.data, name).toBeInstanceOf(Int8Array);
      expect(Array.from(r.data), name).toEqual([0, 1, 127, -1]);
    }
    expect(Array.from(parseIdx(Buffer.from(bytes)).data)).toEqual([0, 1, 127, -1]);
  });

  it('names the file when it is missing, or gzipped but truncated', () => {
    const dir = freshDir();
    expectRefused(() => readIdxFile(join(dir, 'nope')), 'file not found', join(dir, 'nope'));
    const gz = gzipSync(idx('u8', [100], new Array(100).fill(3)));
    const path = join(dir, 'cut.gz');
    writeFileSync(path, gz.subarray(0, gz.length - 10));
    expectRefused(() => readIdxFile(path), path, /gzipped but does not decompress/);
  });
});

/** Writes the four MNIST files (tiny: 3 train images 2×2, 2 test images), optionally gzipped. */
function writeMnist(dir: string, o: { gzip?: boolean; trainLabels?: number[]; skip?: string } = {}): void {
  const files: Record<string, Uint8Array> = {
    'train-images-idx3-ubyte': idx('u8', [3, 2, 2], [0, 255, 51, 102, 1, 2, 3, 4, 255, 255, 0, 0]),
    'train-labels-idx1-ubyte': idx('u8', [3], o.trainLabels ?? [7, 0, 9]),
    't10k-images-idx3-ubyte': idx('u8', [2, 2, 2], [10, 20, 30, 40, 50, 60, 70, 80]),
    't10k-labels-idx1-ubyte': idx('u8', [2], [3, 5]),
  };
  for (const [name, bytes] of Object.entries(files)) {
    if (name === o.skip) continue;
    writeFileSync(join(dir, o.gzip ? `${name}.gz` : name), o.gzip ? gzipSync(bytes) : bytes);
  }
}

describe('loadMnistDir', () => {
  for (const gzip of [false, true]) {
    it(`loads four ${gzip ? 'gzipped ' : ''}IDX files: shapes, labels, pixels / 255`, () => {
      const dir = freshDir();
      writeMnist(dir, { gzip });
      const { train, test } = loadMnistDir(dir);
      expect([train.n, train.features, train.imageSize, train.classes]).toEqual([3, 4, 2, 10]);
      expect([test.n, test.features]).toEqual([2, 4]);
      expect(Array.from(train.labels)).toEqual([7, 0, 9]);
      expect(Array.from(test.labels)).toEqual([3, 5]);
      const expected = Float32Array.from([0, 255, 51, 102, 1, 2, 3, 4, 255, 255, 0, 0], (v) => v / 255);
      expect(Array.from(train.x)).toEqual(Array.from(expected));
      expect(Array.from(test.x)).toEqual(Array.from(Float32Array.from([10, 20, 30, 40, 50, 60, 70, 80], (v) => v / 255)));
      expect(Math.max(...train.x)).toBe(1);
    });
  }

  it('names the missing file and the folder', () => {
    const dir = freshDir();
    writeMnist(dir, { skip: 't10k-labels-idx1-ubyte' });
    expectRefused(() => loadMnistDir(dir), 't10k-labels-idx1-ubyte', dir);
  });

  it('refuses a label >= 10, naming the row', () => {
    const dir = freshDir();
    writeMnist(dir, { trainLabels: [1, 12, 3] });
    expectRefused(() => loadMnistDir(dir), /label 12 at row 1/);
  });

  it('refuses images and labels of different counts', () => {
    const dir = freshDir();
    writeMnist(dir, { skip: 'train-labels-idx1-ubyte' });
    writeFileSync(join(dir, 'train-labels-idx1-ubyte'), idx('u8', [2], [1, 2]));
    expectRefused(() => loadMnistDir(dir), /has 3 images but .* has 2 labels/);
  });
});

describe('loadEmbeddedDigits', () => {
  const a = loadEmbeddedDigits();
  const b = loadEmbeddedDigits();

  it('gives about 8000 training and 2000 test digits, 28×28 in [0, 1], all classes', () => {
    expect(a.train.n).toBeGreaterThan(7500);
    expect(a.train.n).toBeLessThan(8500);
    expect(a.test.n).toBeGreaterThan(1800);
    expect(a.test.n).toBeLessThan(2200);
    for (const d of [a.train, a.test]) {
      expect(d.features).toBe(784);
      expect(d.imageSize).toBe(28);
      expect(d.x.length).toBe(d.n * 784);
      let lo = Infinity, hi = -Infinity;
      for (const v of d.x) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      expect(lo).toBe(0);
      expect(hi).toBeLessThanOrEqual(1);
      expect(hi).toBeGreaterThan(0.9);
      expect(new Set(d.labels).size).toBe(10);
    }
  });

  it('is deterministic (same rows and labels twice)', () => {
    expect(b.train.n).toBe(a.train.n);
    expect(b.test.n).toBe(a.test.n);
    expect(Buffer.from(b.train.x.buffer).equals(Buffer.from(a.train.x.buffer))).toBe(true);
    expect(Buffer.from(b.test.x.buffer).equals(Buffer.from(a.test.x.buffer))).toBe(true);
    expect(Array.from(b.train.labels)).toEqual(Array.from(a.train.labels));
    expect(Array.from(b.test.labels)).toEqual(Array.from(a.test.labels));
  });

  it('has disjoint train and test sets (no image appears in both)', () => {
    const key = (d: Dataset, i: number): string => Buffer.from(d.x.buffer, i * 784 * 4, 784 * 4).toString('base64');
    const trainKeys = new Set<string>();
    for (let i = 0; i < a.train.n; i++) trainKeys.add(key(a.train, i));
    let shared = 0;
    for (let i = 0; i < a.test.n; i++) if (trainKeys.has(key(a.test, i))) shared++;
    expect(shared).toBe(0);
  });
});

describe('seededPermutation', () => {
  it('is a permutation of [0, n)', () => {
    for (const n of [0, 1, 2, 17, 1000]) {
      const p = seededPermutation(n, 5, 0);
      expect(p.length).toBe(n);
      expect(Array.from(p).sort((x, y) => x - y)).toEqual(Array.from({ length: n }, (_, i) => i));
    }
  });

  it('is deterministic per (seed, offset) and differs across offsets (epochs) and seeds', () => {
    const n = 200;
    const p = Array.from(seededPermutation(n, 7, 0));
    expect(Array.from(seededPermutation(n, 7, 0))).toEqual(p);
    expect(Array.from(seededPermutation(n, 7, n))).not.toEqual(p);
    expect(Array.from(seededPermutation(n, 8, 0))).not.toEqual(p);
    expect(Array.from(seededPermutation(n, 7, n))).toEqual(Array.from(seededPermutation(n, 7, n)));
  });
});

describe('batches', () => {
  /** A dataset whose single feature is the row index, so batches reveal which rows they hold. */
  const n = 23;
  const data: Dataset = {
    x: Float32Array.from({ length: n }, (_, i) => i),
    labels: Int32Array.from({ length: n }, (_, i) => i % 10),
    n, features: 1, classes: 10, source: 'rows',
  };

  async function epochRows(epoch: number, o: { batchSize: number; shuffle: boolean; dropLast?: boolean }): Promise<{ rows: number[]; sizes: number[] }> {
    const rows: number[] = [];
    const sizes: number[] = [];
    for (const b of batches(data, epoch, { ...o, seed: 11 })) {
      expect(b.x.shape).toEqual([b.size, 1]);
      expect(b.y.shape).toEqual([b.size]);
      const xs = Array.from(await b.x.data());
      const ys = Array.from(await b.y.data());
      xs.forEach((r, i) => expect(ys[i]).toBe(r % 10)); // labels travel with their rows
      rows.push(...xs);
      sizes.push(b.size);
      b.x.dispose();
      b.y.dispose();
    }
    return { rows, sizes };
  }

  it('covers every row exactly once per epoch, shuffled differently per epoch', async () => {
    const e0 = await epochRows(0, { batchSize: 5, shuffle: true });
    const e1 = await epochRows(1, { batchSize: 5, shuffle: true });
    expect(e0.sizes).toEqual([5, 5, 5, 5, 3]);
    for (const e of [e0, e1]) expect([...e.rows].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(e1.rows).not.toEqual(e0.rows);
    expect((await epochRows(0, { batchSize: 5, shuffle: true })).rows).toEqual(e0.rows);
  });

  it('keeps the order without shuffle', async () => {
    expect((await epochRows(3, { batchSize: 10, shuffle: false })).rows).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it('dropLast drops only the short final batch', async () => {
    const e = await epochRows(0, { batchSize: 5, shuffle: true, dropLast: true });
    expect(e.sizes).toEqual([5, 5, 5, 5]);
    expect(new Set(e.rows).size).toBe(20);
    const exact = await epochRows(0, { batchSize: 23, shuffle: false, dropLast: true });
    expect(exact.sizes).toEqual([23]);
  });

  it('refuses a non-positive batch size', () => {
    expectRefused(() => batches(data, 0, { batchSize: 0, shuffle: false, seed: 0 }).next(), /batchSize must be a positive integer/);
  });

  it('subset picks rows in the given order', () => {
    const s = subset(data, [4, 0, 22]);
    expect(s.n).toBe(3);
    expect(Array.from(s.x)).toEqual([4, 0, 22]);
    expect(Array.from(s.labels)).toEqual([4, 0, 2]);
  });
});
