/**
 * conv2d, the pools and flatten where the conv suites leave a gap: every refusal's full message
 * (op, argument, expected), the geometry of asymmetric stride/padding/dilation with groups against
 * a direct float64 loop (PyTorch's definition), countIncludePad, adaptive windows, max-pool indices
 * and which inputs get gradients. CPU, float64. Written from the mutation-testing survivors.
 */
import { describe, expect, it } from 'vitest';
import { expectErrorSync } from './helpers/expect-error.js';
import { adaptiveAvgPool2d, avgPool2d, conv2d, flatten, maxPool2d, maxPool2dWithIndices, tensor, zeros } from '../src/index.js';
import type { Tensor } from '../src/index.js';
import { dispose } from '../src/lifetime.js';
import { bad, f32, f64, i32, seq, vals } from './helpers/cpu-tensors.js';

/** PyTorch's conv2d written out: out[b, o, i, j] = bias[o] + Σ x[b, g·cinG + c, i·sh − ph + p·dh, j·sw − pw + q·dw]·w[o, c, p, q]. */
function referenceConv(
  x: number[], [n, cin, h, w]: number[], wt: number[], [cout, cinG, kh, kw]: number[], bias: number[] | null,
  [sh, sw]: number[], [ph, pw]: number[], [dh, dw]: number[], groups: number,
): { shape: number[]; values: number[] } {
  const hout = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1;
  const wout = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  const coutG = cout / groups;
  const values: number[] = [];
  for (let b = 0; b < n; b++) for (let o = 0; o < cout; o++) for (let i = 0; i < hout; i++) for (let j = 0; j < wout; j++) {
    let acc = bias ? bias[o]! : 0;
    const g = Math.floor(o / coutG);
    for (let c = 0; c < cinG; c++) for (let p = 0; p < kh; p++) for (let q = 0; q < kw; q++) {
      const ih = i * sh - ph + p * dh;
      const iw = j * sw - pw + q * dw;
      if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
      acc += x[((b * cin + g * cinG + c) * h + ih) * w + iw]! * wt[((o * cinG + c) * kh + p) * kw + q]!;
    }
    values.push(acc);
  }
  return { shape: [n, cout, hout, wout], values };
}

describe('conv2d refusals', () => {
  it('name the op, the argument and what was expected', () => {
    const x = zeros([1, 4, 5, 5], f64);
    const w = zeros([2, 4, 3, 3], f64);
    const xi = zeros([1, 4, 5, 5], i32);
    const w32 = zeros([2, 4, 3, 3], f32);
    const x3 = zeros([4, 5, 5], f64);
    const w2 = zeros([2, 4], f64);
    const wG = zeros([2, 2, 1, 1], f64);
    const w3 = zeros([3, 2, 1, 1], f64);
    const wEmpty = zeros([2, 4, 0, 1], f64);
    const wEmptyW = zeros([2, 4, 1, 0], f64);
    const b3 = zeros([3], f64);
    const b12 = zeros([1, 2], f64);
    const b21 = zeros([2, 1], f64);
    const b32 = zeros([2], f32);
    const msg = (m: string): RegExp => new RegExp(`^conv2d: ${m.replace(/[[\]()×.|/]/g, '\\$&')}$`);
    expectErrorSync(() => conv2d(bad(null), w), msg('input must be a Tensor, got null'));
    expectErrorSync(() => conv2d(xi, w), msg('input must be a floating-point tensor, got int32'));
    expectErrorSync(() => conv2d(x3, w), msg('input must be 4-D [N, C, H, W], got shape [4, 5, 5]'));
    expectErrorSync(() => conv2d(x, bad(2)), msg('weight must be a Tensor, got number'));
    expectErrorSync(() => conv2d(x, w32), msg("dtype mismatch: float64 and float32; convert one with .cast('float64')"));
    expectErrorSync(() => conv2d(x, w2), msg('weight must be 4-D [Cout, Cin / groups, kh, kw], got shape [2, 4]'));
    expectErrorSync(() => conv2d(x, w, null, { stride: 0 }), msg('stride must be an integer >= 1 or a pair of them, got 0'));
    expectErrorSync(() => conv2d(x, w, null, { stride: [1, 0] }), msg('stride must be an integer >= 1 or a pair of them, got [1,0]'));
    expectErrorSync(() => conv2d(x, w, null, { stride: bad([1]) }), msg('stride must be an integer >= 1 or a pair of them, got [1]'));
    expectErrorSync(() => conv2d(x, w, null, { stride: bad([1, 1, 1]) }), msg('stride must be an integer >= 1 or a pair of them, got [1,1,1]'));
    expectErrorSync(() => conv2d(x, w, null, { stride: bad('ab') }), msg('stride must be an integer >= 1 or a pair of them, got "ab"'));
    expectErrorSync(() => conv2d(x, w, null, { stride: 1.5 }), msg('stride must be an integer >= 1 or a pair of them, got 1.5'));
    expectErrorSync(() => conv2d(x, w, null, { stride: bad('2') }), msg('stride must be an integer >= 1 or a pair of them, got "2"'));
    expectErrorSync(() => conv2d(x, w, null, { padding: -1 }), msg('padding must be an integer >= 0 or a pair of them, got -1'));
    expectErrorSync(() => conv2d(x, w, null, { padding: [0, -1] }), msg('padding must be an integer >= 0 or a pair of them, got [0,-1]'));
    expectErrorSync(() => conv2d(x, w, null, { dilation: 0 }), msg('dilation must be an integer >= 1 or a pair of them, got 0'));
    expectErrorSync(() => conv2d(x, w, null, { groups: 0 }), msg('groups must be a positive integer, got 0'));
    expectErrorSync(() => conv2d(x, w, null, { groups: 1.5 }), msg('groups must be a positive integer, got 1.5'));
    expectErrorSync(() => conv2d(x, w, null, { groups: 3 }), msg('input channels (4) must be divisible by groups (3)'));
    expectErrorSync(() => conv2d(x, w3, null, { groups: 2 }), msg("weight's output channels (3) must be divisible by groups (2)"));
    expectErrorSync(() => conv2d(x, wG, null, { groups: 1 }), msg('weight [2, 2, 1, 1] expects 2 input channels with groups 1, but input [1, 4, 5, 5] has 4'));
    expectErrorSync(() => conv2d(x, w, null, { groups: 2 }), msg('weight [2, 4, 3, 3] expects 8 input channels with groups 2, but input [1, 4, 5, 5] has 4'));
    expectErrorSync(() => conv2d(x, wEmpty), msg("weight's kernel size must be at least 1×1, got 0×1"));
    expectErrorSync(() => conv2d(x, wEmptyW), msg("weight's kernel size must be at least 1×1, got 1×0"));
    expectErrorSync(() => conv2d(x, w, bad(1)), msg('bias must be a Tensor, got number'));
    expectErrorSync(() => conv2d(x, w, b32), msg("dtype mismatch: float64 and float32; convert one with .cast('float64')"));
    expectErrorSync(() => conv2d(x, w, b3), msg('bias must have shape [2], got [3]'));
    expectErrorSync(() => conv2d(x, w, b12), msg('bias must have shape [2], got [1, 2]'));
    expectErrorSync(() => conv2d(x, w, b21), msg('bias must have shape [2], got [2, 1]'));
    expectErrorSync(() => conv2d(x, w, null, { dilation: [3, 1] }), msg('the output would be -1×3: input 5×5 with padding 0,0 is smaller than the dilated kernel 7×3'));
    expectErrorSync(() => conv2d(x, w, null, { dilation: [1, 3], padding: [1, 0] }), msg('the output would be 5×-1: input 5×5 with padding 1,0 is smaller than the dilated kernel 3×7'));
    expectErrorSync(() => conv2d(x, w, null, { dilation: [3, 1], stride: 2 }), msg('the output would be 0×2: input 5×5 with padding 0,0 is smaller than the dilated kernel 7×3'));
    expectErrorSync(() => conv2d(x, w, null, { dilation: [1, 3], stride: 2 }), msg('the output would be 2×0: input 5×5 with padding 0,0 is smaller than the dilated kernel 3×7'));
    dispose([x, w, xi, w32, x3, w2, wG, w3, wEmpty, wEmptyW, b3, b12, b21, b32]);
  });
});

describe('conv2d geometry', () => {
  it('matches the direct loop for asymmetric stride, padding and dilation, with groups and bias', async () => {
    const xShape = [2, 4, 6, 7];
    const wShape = [6, 2, 3, 2];
    const xv = seq(2 * 4 * 6 * 7, (i) => ((i * 37) % 23) / 7 - 1.5);
    const wv = seq(6 * 2 * 3 * 2, (i) => ((i * 11) % 13) / 5 - 1.2);
    const bv = [0.5, -1, 2, 0.25, -0.75, 1.5];
    const x = tensor(xv, { ...f64, shape: xShape });
    const w = tensor(wv, { ...f64, shape: wShape });
    const b = tensor(bv, f64);
    const configs: { stride: [number, number]; padding: [number, number]; dilation: [number, number]; groups: number; bias: boolean }[] = [
      { stride: [2, 1], padding: [1, 0], dilation: [1, 2], groups: 2, bias: true },
      { stride: [1, 3], padding: [0, 2], dilation: [2, 1], groups: 2, bias: false },
      { stride: [3, 2], padding: [2, 1], dilation: [1, 3], groups: 2, bias: true },
    ];
    for (const c of configs) {
      const y = conv2d(x, w, c.bias ? b : null, c);
      const ref = referenceConv(xv, xShape, wv, wShape, c.bias ? bv : null, c.stride, c.padding, c.dilation, c.groups);
      expect(y.shape).toEqual(ref.shape);
      const got = await vals(y);
      got.forEach((v, i) => expect(v).toBeCloseTo(ref.values[i]!, 10));
      dispose(y);
    }
    // Scalars apply to both axes; an undefined bias is no bias.
    const y = conv2d(x, zeros([4, 4, 2, 2], f64), undefined, { stride: 2, padding: 1, dilation: 2 });
    expect(y.shape).toEqual([2, 4, 3, 4]);
    // One group: every input channel reaches every output channel.
    const w1 = tensor(seq(2 * 4 * 1 * 1, (i) => i + 1), { ...f64, shape: [2, 4, 1, 1] });
    const y1 = conv2d(x, w1);
    const ref1 = referenceConv(xv, xShape, seq(8, (i) => i + 1), [2, 4, 1, 1], null, [1, 1], [0, 0], [1, 1], 1);
    (await vals(y1)).forEach((v, i) => expect(v).toBeCloseTo(ref1.values[i]!, 10));
    dispose([x, w, b, y, w1, y1]);
  });

  it('gives the gradient to each input that needs it; the bias gets dy summed over N, H and W', async () => {
    const x = tensor(seq(1 * 1 * 3 * 3, (i) => i), { ...f64, shape: [1, 1, 3, 3] }).requiresGrad_(true);
    const w = tensor([1, 2, 3, 4], { ...f64, shape: [2, 1, 1, 2] });
    const b = tensor([0, 0], f64).requiresGrad_(true);
    const y = conv2d(x, w, b);
    expect(y.shape).toEqual([1, 2, 3, 2]);
    y.backward(tensor(seq(12, (i) => i + 1), { ...f64, shape: [1, 2, 3, 2] }));
    expect(w.grad).toBeNull();
    expect(await vals(b.grad!)).toEqual([21, 57]);
    // dx[i, j] = Σ_o Σ_q dy[o, i, j − q]·w[o, q]
    expect(await vals(x.grad!)).toEqual([22, 56, 36, 30, 76, 48, 38, 96, 60]);
    dispose([x, w, b, y]);
  });
});

describe('pooling', () => {
  it('refusals name the op and the argument', () => {
    const x = zeros([1, 1, 4, 4], f64);
    const xi = zeros([1, 1, 4, 4], i32);
    const x2 = zeros([4, 4], f64);
    const x1 = zeros([1, 4], f64);
    const e1 = zeros([1, 1, 0, 2], f64);
    const e2 = zeros([1, 1, 2, 0], f64);
    const msg = (op: string, m: string): RegExp => new RegExp(`^${op}: ${m.replace(/[[\]()×.|/]/g, '\\$&')}$`);
    expectErrorSync(() => maxPool2d(bad(undefined), 2), msg('maxPool2d', 'input must be a Tensor, got undefined'));
    expectErrorSync(() => maxPool2d(xi, 2), msg('maxPool2d', 'input must be a floating-point tensor, got int32'));
    expectErrorSync(() => maxPool2d(x2, 2), msg('maxPool2d', 'input must be 4-D [N, C, H, W], got shape [4, 4]'));
    expectErrorSync(() => maxPool2d(x, 0), msg('maxPool2d', 'kernelSize must be an integer >= 1 or a pair of them, got 0'));
    expectErrorSync(() => maxPool2d(x, 2, { stride: 0 }), msg('maxPool2d', 'stride must be an integer >= 1 or a pair of them, got 0'));
    expectErrorSync(() => maxPool2d(x, 2, { padding: -1 }), msg('maxPool2d', 'padding must be an integer >= 0 or a pair of them, got -1'));
    expectErrorSync(() => maxPool2d(x, 3, { padding: [2, 0] }), msg('maxPool2d', 'padding (2, 0) must be at most half the kernel size (3, 3)'));
    expectErrorSync(() => maxPool2d(x, [2, 3], { padding: [1, 2] }), msg('maxPool2d', 'padding (1, 2) must be at most half the kernel size (2, 3)'));
    expectErrorSync(() => maxPool2d(x, [5, 2]), msg('maxPool2d', 'the output would be 0×2: input 4×4 with padding 0,0 is smaller than the kernel 5×2'));
    expectErrorSync(() => avgPool2d(x, [2, 5], { padding: [1, 0] }), msg('avgPool2d', 'the output would be 3×0: input 4×4 with padding 1,0 is smaller than the kernel 2×5'));
    expectErrorSync(() => avgPool2d(x, 2, { countIncludePad: bad(1) }), msg('avgPool2d', 'countIncludePad must be a boolean, got 1'));
    expectErrorSync(() => adaptiveAvgPool2d(bad('x'), 1), msg('adaptiveAvgPool2d', 'input must be a Tensor, got string'));
    expectErrorSync(() => adaptiveAvgPool2d(x1, 1), msg('adaptiveAvgPool2d', 'input must be 4-D [N, C, H, W], got shape [1, 4]'));
    expectErrorSync(() => adaptiveAvgPool2d(x, 0), msg('adaptiveAvgPool2d', 'outputSize must be an integer >= 1 or a pair of them, got 0'));
    expectErrorSync(() => adaptiveAvgPool2d(e1, 1), msg('adaptiveAvgPool2d', 'input must have non-empty spatial dimensions, got shape [1, 1, 0, 2]'));
    expectErrorSync(() => adaptiveAvgPool2d(e2, 1), msg('adaptiveAvgPool2d', 'input must have non-empty spatial dimensions, got shape [1, 1, 2, 0]'));
    dispose([x, xi, x2, x1, e1, e2]);
  });

  it('max pooling: asymmetric windows, padding up to half the kernel, PyTorch indices and the gradient', async () => {
    // x[i, j] = 10·i + j on a 4×5 plane, so a window's maximum is its bottom-right element.
    const x = tensor(seq(20, (k) => 10 * Math.floor(k / 5) + (k % 5)), { ...f64, shape: [1, 1, 4, 5] }).requiresGrad_(true);
    const { values, indices } = maxPool2dWithIndices(x, [2, 3], { stride: [2, 1], padding: [1, 1] });
    expect(values.shape).toEqual([1, 1, 3, 5]);
    expect(await vals(values)).toEqual([1, 2, 3, 4, 4, 21, 22, 23, 24, 24, 31, 32, 33, 34, 34]);
    expect(await vals(indices)).toEqual([1, 2, 3, 4, 4, 11, 12, 13, 14, 14, 16, 17, 18, 19, 19]);
    values.sum().backward();
    expect(await vals(x.grad!)).toEqual([0, 1, 1, 1, 2, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 0, 1, 1, 1, 2]);
    // The default stride is the kernel size.
    const y = maxPool2d(x, 2);
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect(await vals(y)).toEqual([11, 13, 31, 33]);
    dispose([x, values, indices, y]);
  });

  it('average pooling counts the padding unless countIncludePad is false', async () => {
    const x = tensor(seq(9, (k) => k + 1), { ...f64, shape: [1, 1, 3, 3] });
    const withPad = avgPool2d(x, 2, { stride: 2, padding: 1 });
    expect(withPad.shape).toEqual([1, 1, 2, 2]);
    expect(await vals(withPad)).toEqual([1 / 4, 5 / 4, 11 / 4, 28 / 4]);
    const without = avgPool2d(x, 2, { stride: 2, padding: 1, countIncludePad: false });
    expect(await vals(without)).toEqual([1, 5 / 2, 11 / 2, 7]);
    const explicit = avgPool2d(x, 2, { stride: 2, padding: 1, countIncludePad: true });
    expect(await vals(explicit)).toEqual([1 / 4, 5 / 4, 11 / 4, 28 / 4]);
    const strided = avgPool2d(x, [1, 3], { stride: [2, 1] });
    expect(strided.shape).toEqual([1, 1, 2, 1]);
    expect(await vals(strided)).toEqual([2, 8]);
    dispose([x, withPad, without, explicit, strided]);
  });

  it('adaptive average pooling averages rows floor(i·H/Hout) .. ceil((i+1)·H/Hout) − 1', async () => {
    const x = tensor(seq(2 * 3 * 5, (k) => k), { ...f64, shape: [2, 1, 3, 5] }).requiresGrad_(true);
    const y = adaptiveAvgPool2d(x, [2, 3]);
    expect(y.shape).toEqual([2, 1, 2, 3]);
    // Rows {0,1},{1,2}; columns {0,1},{1,2,3},{3,4}.
    const plane = (o: number): number[] => [3 + o, 4.5 + o, 6 + o, 8 + o, 9.5 + o, 11 + o];
    expect(await vals(y)).toEqual([...plane(0), ...plane(15)]);
    const g = adaptiveAvgPool2d(x, 1);
    expect(g.shape).toEqual([2, 1, 1, 1]);
    expect(await vals(g)).toEqual([7, 22]);
    g.sum().backward();
    expect(await vals(x.grad!)).toEqual(seq(30, () => 1 / 15));
    // One row or one column is a valid plane.
    const row = tensor([1, 2, 6], { ...f64, shape: [1, 1, 1, 3] });
    const r1 = adaptiveAvgPool2d(row, [1, 2]);
    expect(await vals(r1)).toEqual([1.5, 4]);
    const col = tensor([1, 2, 6], { ...f64, shape: [1, 1, 3, 1] });
    const c1 = adaptiveAvgPool2d(col, 1);
    expect(await vals(c1)).toEqual([3]);
    dispose([row, r1, col, c1]);
    dispose([x, y, g]);
  });
});

describe('flatten', () => {
  it('merges startDim..endDim (negative dims count from the end); a scalar becomes [1]', async () => {
    const x = zeros([2, 3, 4, 5], f64);
    expect(flatten(x).shape).toEqual([120]);
    expect(flatten(x, 1).shape).toEqual([2, 60]);
    expect(flatten(x, 1, 2).shape).toEqual([2, 12, 5]);
    expect(flatten(x, -3, -2).shape).toEqual([2, 12, 5]);
    expect(flatten(x, 2, 2).shape).toEqual([2, 3, 4, 5]);
    expect(flatten(x, 0, 0).shape).toEqual([2, 3, 4, 5]);
    const s = tensor(4, f64);
    const f = flatten(s);
    expect(f.shape).toEqual([1]);
    expect(await vals(f)).toEqual([4]);
    const e = zeros([2, 0, 3], f64);
    expect(flatten(e, 1).shape).toEqual([2, 0]);
    expectErrorSync(() => flatten(bad(1)), /^flatten: input must be a Tensor, got number$/);
    expectErrorSync(() => flatten(x, 2, 1), /^flatten: startDim \(2\) must not come after endDim \(1\) for rank 4$/);
    expectErrorSync(() => flatten(x, -1, 0), /^flatten: startDim \(-1\) must not come after endDim \(0\) for rank 4$/);
    expectErrorSync(() => flatten(x, 4), /^flatten: axis 4 is out of range for a tensor of rank 4/);
    dispose([x, s, f, e]);
  });
});
