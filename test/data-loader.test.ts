/**
 * DataLoader and `batches` over columns: any arrays sharing their first dimension (features with
 * float regression targets, several inputs, int32 labels), seeded shuffles, dropLast, sync and async
 * iteration, and clear errors for data that does not line up.
 */
import { describe, expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { DataLoader, batches } from '../src/index.js';
import { expectErrorSync } from './helpers/expect-error.js';

const n = 10;
// Row r: features [r, 10r], a float target r/4 + 0.5, an int label r % 3: each batch is checkable row by row.
const features = Array.from({ length: n }, (_, r) => [r, 10 * r]);
const targets = Float32Array.from({ length: n }, (_, r) => r / 4 + 0.5);
const labels = Int32Array.from({ length: n }, (_, r) => r % 3);

async function rowsOf(batch: wg.Tensor[]): Promise<number[]> {
  const [x, y, l] = batch as [wg.Tensor, wg.Tensor, wg.Tensor];
  const xs = Array.from(await x.data());
  const ys = Array.from(await y.data());
  const ls = Array.from(await l.data());
  const rows = ys.map((_, i) => xs[2 * i]!);
  // Every column holds the same rows, in the same order.
  rows.forEach((r, i) => {
    expect(xs[2 * i + 1]).toBe(10 * r);
    expect(ys[i]).toBe(r / 4 + 0.5);
    expect(ls[i]).toBe(r % 3);
  });
  return rows;
}

describe('DataLoader', () => {
  it('yields one tensor per column (float targets, int labels), shapes [batch, ...row shape]', async () => {
    const loader = new DataLoader([features, targets, labels], { batchSize: 4 });
    expect(loader.length).toBe(3);
    const seen: number[][] = [];
    for (const batch of loader) {
      const [x, y, l] = batch;
      expect(x.dtype).toBe('float32');
      expect(y.dtype).toBe('float32');
      expect(l.dtype).toBe('int32');
      expect(x.shape[1]).toBe(2);
      expect(y.shape).toEqual([x.shape[0]]);
      seen.push(await rowsOf(batch));
      wg.dispose(batch);
    }
    expect(seen).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  });

  it('shuffles with a seed: every row once per epoch, a new order each epoch, the same orders for the same seed', async () => {
    const orders = async (seed: number): Promise<number[][]> => {
      const loader = new DataLoader([features, targets, labels], { batchSize: 3, shuffle: true, seed });
      const epochs: number[][] = [];
      for (let e = 0; e < 2; e++) {
        const order: number[] = [];
        for await (const batch of loader) {
          order.push(...(await rowsOf(batch)));
          wg.dispose(batch);
        }
        epochs.push(order);
      }
      expect(loader.epoch).toBe(2);
      return epochs;
    };
    const a = await orders(7);
    for (const order of a) expect([...order].sort((p, q) => p - q)).toEqual(Array.from({ length: n }, (_, i) => i));
    expect(a[0]).not.toEqual(a[1]);
    expect(a[0]).not.toEqual(Array.from({ length: n }, (_, i) => i));
    expect(await orders(7)).toEqual(a);
    expect(await orders(8)).not.toEqual(a);
  });

  it('dropLast drops the short last batch', () => {
    const loader = new DataLoader([targets], { batchSize: 4, dropLast: true });
    expect(loader.length).toBe(2);
    const sizes = [...loader].map(([y]) => {
      const s = y.shape[0];
      y.dispose();
      return s;
    });
    expect(sizes).toEqual([4, 4]);
  });

  it('takes flat buffers with a shape and dtype, and puts batches on the chosen device', async () => {
    const images = { values: Float32Array.from({ length: n * 6 }, (_, i) => i), shape: [n, 2, 3] };
    const ids = { values: Array.from({ length: n }, (_, i) => i), shape: [n], dtype: 'int32' as const };
    const [img, id] = new DataLoader([images, ids], { batchSize: 2, device: 'cpu' })[Symbol.iterator]().next().value!;
    expect(img.shape).toEqual([2, 2, 3]);
    expect(img.device).toBe('cpu');
    expect(id.dtype).toBe('int32');
    expect(Array.from(await img.data())).toEqual(Array.from({ length: 12 }, (_, i) => i));
    wg.dispose([img, id]);
  });

  it('refuses data that does not line up, naming the column', () => {
    // Each a WebgradError with memory() unchanged (the shared helper).
    expectErrorSync(() => new DataLoader([features, Float32Array.from([1, 2])], { batchSize: 2 }), /column 1 has 2 examples but column 0 has 10/);
    expectErrorSync(() => new DataLoader([[[1, 2], [3]]], { batchSize: 2 }), /column 0: ragged nested array/);
    expectErrorSync(() => new DataLoader([{ values: [1, 2, 3], shape: [2, 2] }], { batchSize: 2 }), /3 values do not fill shape \[2, 2\]/);
    expectErrorSync(() => new DataLoader([targets], { batchSize: 0 }), /batchSize must be a positive integer/);
    expectErrorSync(() => new DataLoader([], { batchSize: 2 }), /non-empty array of columns/);
  });
});

describe('batches over columns', () => {
  it('gives the same batches as the DataLoader for the same seed and epoch (regression targets)', async () => {
    const o = { batchSize: 4, shuffle: true, seed: 3 };
    const fromBatches: number[] = [];
    for (const b of batches([features, targets, labels], 1, o)) {
      fromBatches.push(...(await rowsOf(b)));
      wg.dispose(b);
    }
    const loader = new DataLoader([features, targets, labels], o);
    loader.epoch = 1;
    const fromLoader: number[] = [];
    for (const b of loader) {
      fromLoader.push(...(await rowsOf(b)));
      wg.dispose(b);
    }
    expect(fromBatches).toEqual(fromLoader);
    expect(fromBatches).toHaveLength(n);
  });

  it('trains a linear regression with float targets (loss falls)', async () => {
    // y = 3 x0 - 2 x1 + 1, learnt with mse from mini-batches.
    const xs = Array.from({ length: 64 }, (_, i) => [Math.sin(i), Math.cos(3 * i)]);
    const ys = Float32Array.from(xs, ([a, b]) => 3 * a! - 2 * b! + 1);
    const model = new wg.nn.Linear(2, 1);
    const opt = new wg.optim.SGD(model.parameters(), { lr: 0.1 });
    const loader = new DataLoader([xs, ys], { batchSize: 16, shuffle: true, seed: 1 });
    const epochLoss = async (): Promise<number> => {
      let total = 0;
      for await (const [x, y] of loader) {
        const loss = wg.tidy(() => {
          opt.zeroGrad();
          const l = wg.mse(model.forward(x).reshape([-1]), y);
          l.backward();
          opt.step();
          return l;
        });
        total += await loss.item();
        wg.dispose([x, y, loss]);
      }
      return total / loader.length;
    };
    const first = await epochLoss();
    let last = first;
    for (let e = 0; e < 30; e++) last = await epochLoss();
    expect(last).toBeLessThan(first / 20);
    opt.dispose();
    model.dispose();
  });
});
