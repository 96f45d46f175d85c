/**
 * The numerics guard names the op that made the first non-finite result, and lists the shapes of
 * the tensors that op checked: for the ops in src/ops beyond the elementwise ones, forward and
 * backward, each result is named after its own op (conv2d, 'conv2d (backward)', 'embed' for the
 * window read back out of a cat/pad gradient, ...). A NaN made before the guard is switched on is
 * fed in, and the offender is read before it is switched off. Written from the mutation-testing
 * survivors: these names are where the guard's report comes from, and nothing else shows them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as wg from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { castTo } from '../src/ops/creation.js';
import { f64, i32 } from './helpers/cpu-tensors.js';

afterEach(() => wg.setNumericsCheck(false));

/** Runs fn with the guard on and returns the first offender's op and input shapes. */
async function offender(fn: () => unknown): Promise<{ op: string; inputShapes: number[][] } | null> {
  wg.setNumericsCheck(true);
  try {
    fn();
    const o = await wg.checkNumerics();
    return o && { op: o.op, inputShapes: o.inputShapes };
  } finally {
    wg.setNumericsCheck(false);
  }
}

const nanAt = (shape: number[], at = 0): Tensor => {
  const n = shape.reduce((p, d) => p * d, 1);
  return wg.tensor(Array.from({ length: n }, (_, i) => (i === at ? NaN : i / 10)), { ...f64, shape });
};

describe('numerics guard names, forward', () => {
  it('creation and casts', async () => {
    expect(await offender(() => wg.tensor([1, NaN], f64))).toEqual({ op: 'tensor (uploaded data)', inputShapes: [] });
    expect(await offender(() => wg.full([2], Infinity, f64))).toEqual({ op: 'full', inputShapes: [] });
    const x = nanAt([2]);
    expect(await offender(() => castTo(x, 'float32'))).toEqual({ op: 'cast', inputShapes: [] });
    x.dispose();
  });

  it('shape, join and index ops', async () => {
    const x = nanAt([2, 3]);
    const cond = wg.tensor([1, 0, 1], f64);
    const idx = wg.tensor([0, 0], i32);
    const g = wg.tensor([[0, 0, 0]], i32);
    const cases: [() => unknown, string, number[][]][] = [
      [() => wg.permute(x, [1, 0]), 'permute', [[2, 3]]],
      [() => wg.transpose(x), 'permute', [[2, 3]]],
      [() => wg.expand(x, [2, 2, 3]), 'expand', [[2, 3]]],
      [() => wg.clone(x), 'clone', [[2, 3]]],
      [() => wg.where(cond, x, 0), 'where', [[3], [2, 3]]],
      [() => wg.slice(x, 1, 0, 2), 'slice', [[2, 3]]],
      [() => wg.narrow(x, 0, 0, 1), 'narrow', [[2, 3]]],
      [() => wg.split(x, 1), 'split', [[2, 3]]],
      [() => wg.cat([x, x]), 'cat', [[2, 3]]],
      [() => wg.pad(x, [1, 1]), 'pad', [[2, 3]]],
      [() => wg.indexSelect(x, 0, idx), 'indexSelect', [[2, 3], [2]]],
      [() => wg.gather(x, 0, g), 'gather', [[2, 3], [1, 3]]],
      [() => wg.maxDim(x, 1), 'maxDim', [[2, 3]]],
      [() => wg.minDim(x, 1), 'minDim', [[2, 3]]],
      [() => wg.cumsum(x, 1), 'cumsum', [[2, 3]]],
    ];
    for (const [fn, op, shapes] of cases) expect(await offender(fn), op).toEqual({ op, inputShapes: shapes });
    wg.dispose([x, cond, idx, g]);
  });

  it('conv, pooling, matmul, linear, batch norm and dropout', async () => {
    const x = nanAt([1, 2, 4, 4]);
    const w = wg.zeros([3, 2, 3, 3], f64);
    const m = nanAt([2, 3]);
    const mw = wg.zeros([4, 3], f64);
    const rows = nanAt([4, 2]);
    const cases: [() => unknown, string, number[][]][] = [
      [() => wg.conv2d(x, w), 'conv2d', [[1, 2, 4, 4], [3, 2, 3, 3]]],
      [() => wg.maxPool2d(x, 2), 'maxPool2d', [[1, 2, 4, 4]]],
      [() => wg.avgPool2d(x, 2), 'avgPool2d', [[1, 2, 4, 4]]],
      [() => wg.adaptiveAvgPool2d(x, 2), 'adaptiveAvgPool2d', [[1, 2, 4, 4]]],
      [() => wg.matmul(m, wg.zeros([3, 2], f64)), 'matmul', [[2, 3], [3, 2]]],
      [() => wg.linear(m, mw), 'linear', [[2, 3], [4, 3]]],
      [() => wg.batchNorm(rows, null, null, null, null, { training: true }), 'batchNorm', [[4, 2]]],
      [() => wg.batchNorm2d(x, null, null, null, null, { training: true }), 'batchNorm2d', [[1, 2, 4, 4]]],
      [() => wg.dropout(m, 0.5, { seed: 1 }), 'dropout', [[2, 3]]],
    ];
    for (const [fn, op, shapes] of cases) expect(await offender(fn), op).toEqual({ op, inputShapes: shapes });
    wg.dispose([x, w, m, mw, rows]);
  });
});

describe('numerics guard names, backward', () => {
  /** Forward with the guard off, then the backward with an all-NaN upstream gradient under the guard. */
  async function backwardOffender(forward: () => Tensor): Promise<string | undefined> {
    const y = forward();
    const dy = wg.full([...y.shape], NaN, f64); // NaN everywhere: inside every input's window and every dropout mask
    const o = await offender(() => y.backward(dy));
    wg.dispose([y, dy]);
    return o?.op;
  }
  const leaf = (shape: number[]): Tensor => wg.zeros(shape, f64).add(0.5).requiresGrad_(true);

  it('each gradient rule names its result', async () => {
    const fixedImg = wg.zeros([1, 2, 4, 4], f64);
    const cond = wg.tensor([1, 0, 1], f64);
    const wl = wg.zeros([4, 3], f64);
    const cases: [() => Tensor, string][] = [
      [() => wg.conv2d(leaf([1, 2, 4, 4]), leaf([3, 2, 3, 3])), 'conv2d (backward)'],
      [() => wg.conv2d(fixedImg, leaf([3, 2, 3, 3])), 'conv2d (backward)'],
      [() => wg.maxPool2d(leaf([1, 2, 4, 4]), 2), 'maxPool2d (backward)'],
      [() => wg.avgPool2d(leaf([1, 2, 4, 4]), 2), 'avgPool2d (backward)'],
      [() => wg.adaptiveAvgPool2d(leaf([1, 2, 4, 4]), 3), 'avgPool2d (backward)'],
      [() => wg.where(cond, leaf([2, 3]), 0), 'where (backward)'],
      [() => wg.slice(leaf([2, 3]), 1, 1), 'slice (backward)'],
      [() => wg.cat([cond.reshape([1, 3]), leaf([2, 3])]), 'embed'],
      [() => wg.pad(leaf([2, 3]), [1, 0]), 'embed'],
      [() => wg.gather(leaf([2, 3]), 1, wg.tensor([[0], [1]], i32)), 'gather (backward)'],
      [() => wg.cumsum(leaf([2, 3]), 1), 'cumsum (backward)'],
      [() => wg.dropout(leaf([2, 3]), 0.5, { seed: 2 }), 'dropout (backward)'],
      [() => wg.linear(leaf([2, 3]), wl, null, { activation: 'relu' }), 'linear (backward)'],
      [() => wg.batchNorm(leaf([4, 2]), null, null, null, null, { training: true }), 'batchNorm (backward)'],
      [() => wg.batchNorm2d(leaf([1, 2, 4, 4]), null, null, null, null, { training: true }), 'batchNorm2d (backward)'],
    ];
    for (const [forward, op] of cases) expect(await backwardOffender(forward), op).toBe(op);
    wg.dispose([fixedImg, cond, wl]);
  });
});
