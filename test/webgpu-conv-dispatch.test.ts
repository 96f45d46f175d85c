/**
 * What the host code of the WebGPU convolutions (src/backend/webgpu/conv.ts) dispatches for each
 * design and pass: the kernel, the op name, the workgroup counts and the uniforms, derived here from
 * the shapes (every design computes the same values, so a wrong branch, a rounding-down division
 * or a wrong slice count shows only there). Dispatches are recorded dry (nothing compiled or run;
 * helpers/dispatch-recorder.ts); the values of every design are compared with the CPU in
 * webgpu-conv-paths. Also the split of tiled dispatches at the device's workgroup limit (a context
 * with a smaller limit), the empty cases and the operand refusals. Written against the mutants
 * StrykerJS left alive (WEBGRAD_MUTATE_SCOPE=webgpu-fused). No adapter is a failure (beforeAll throws).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONV_DIRECT_WG } from '../shaders/conv2d.js';
import { CONV_WINDOW_WG } from '../shaders/conv-window.js';
import type { Conv2dGeometry, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight } from '../src/backend/webgpu/conv.js';
import type { KernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { recordDispatches, type DispatchRec } from './helpers/dispatch-recorder.js';
import { withKernelChoice } from './helpers/with-kernel-choice.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const zeros = (len: number): Storage => gpu.upload(new Float32Array(len), 'float32');

interface Spec { n: number; cin: number; h: number; w: number; cout: number; k: number; pad?: number; stride?: number; groups?: number }
function geo(s: Spec): Conv2dGeometry {
  const [pad, stride] = [s.pad ?? 0, s.stride ?? 1];
  const out = (x: number): number => Math.floor((x + 2 * pad - s.k) / stride) + 1;
  return {
    n: s.n, cin: s.cin, h: s.h, w: s.w, cout: s.cout, kh: s.k, kw: s.k, hout: out(s.h), wout: out(s.w),
    strideH: stride, strideW: stride, padH: pad, padW: pad, dilationH: 1, dilationW: 1, groups: s.groups ?? 1,
  };
}
const sizes = (g: Conv2dGeometry) => ({ x: g.n * g.cin * g.h * g.w, w: g.cout * (g.cin / g.groups) * g.kh * g.kw, y: g.n * g.cout * g.hout * g.wout });

type Pass = 'fwd' | 'fwd+bias' | 'dx' | 'dw';
/** Runs one pass on zero operands of the right sizes with `ctx`, recording its dispatches dry. */
function run(g: Conv2dGeometry, pass: Pass, choice: KernelChoice = {}, ctx: WebGPUBackend = gpu, words = 24): DispatchRec[] {
  const s = sizes(g);
  const { out, recs } = recordDispatches(gpu, () => withKernelChoice(choice, () => {
    if (pass === 'dx') return conv2dBackwardInput(ctx, zeros(s.y), zeros(s.w), g);
    if (pass === 'dw') return conv2dBackwardWeight(ctx, zeros(s.x), zeros(s.y), g);
    return conv2d(ctx, zeros(s.x), zeros(s.w), pass === 'fwd+bias' ? zeros(g.cout) : null, g);
  }), true, words);
  gpu.release(out);
  return recs;
}
/** The geometry uniforms (CONV_GEOMETRY in shaders/conv2d.ts), in their declared order. */
const geoWords = (g: Conv2dGeometry): number[] => [g.n, g.cin, g.h, g.w, g.cout, g.kh, g.kw, g.hout, g.wout, g.strideH, g.strideW, g.padH, g.padW, g.dilationH, g.dilationW, g.cin / g.groups, g.cout / g.groups];
/** A context whose device allows only `max` workgroups per dimension. */
const limited = (max: number): WebGPUBackend => Object.create(gpu, { limits: { value: { ...gpu.limits, maxComputeWorkgroupsPerDimension: max } } }) as WebGPUBackend;

describe('webgpu conv: forward dispatches', () => {
  it('pointwise: the matmul, then the channel bias over every output (one invocation each, 256 per workgroup)', () => {
    const g = geo({ n: 3, cin: 8, h: 10, w: 11, cout: 6, k: 1 }); // y: 3·6·110 = 1980 elements
    const recs = run(g, 'fwd+bias');
    expect(recs.map((r) => r.op)).toEqual(['matmul', 'conv2d']);
    expect(recs[0]!.name.startsWith('matmul')).toBe(true);
    expect(recs[1]).toMatchObject({ name: 'conv2d:channel-bias', groups: [Math.ceil(1980 / 256)] });
    expect(recs[1]!.u32.slice(0, 3)).toEqual([1980, 110, 6]);
    expect(run(g, 'fwd').map((r) => r.op)).toEqual(['matmul']);
  });

  it('window: channel blocks of 4, blocks of 4 pixels, spans of blocks, one invocation per (image, row, chunk, group, channel block)', () => {
    // 6 output channels: 2 blocks of 4; 9 columns: 3 pixel blocks; a forced span of 2: 2 chunks.
    const g = geo({ n: 2, cin: 8, h: 9, w: 9, cout: 6, k: 3, pad: 1 });
    const [r] = run(g, 'fwd+bias', { convWindowSpan: 2 });
    const total = 2 * 9 * 2 * 1 * 2;
    expect(r).toMatchObject({ op: 'conv2d', name: 'conv2d:window:fwd:bias:3x3:cb4', groups: [Math.ceil(total / CONV_WINDOW_WG)] });
    // total, cBlocks, groups, wq, span, chunks, inC, inCG, inH, inW, outC, outCG, outH, outW, padH, padW, wsJ, wsC, wGroup
    expect(r!.u32.slice(0, 19)).toEqual([total, 2, 1, 3, 2, 2, 8, 8, 9, 9, 6, 6, 9, 9, 1, 1, 72, 9, 432]);
  });

  it('window span on this software adapter: the whole row for reductions up to 36 (channels · taps), else one block', () => {
    const spanChunks = (cin: number): number[] => run(geo({ n: 1, cin, h: 9, w: 9, cout: 4, k: 3, pad: 1 }), 'fwd')[0]!.u32.slice(3, 6);
    expect(gpu.softwareAdapter).toBe(true);
    expect(spanChunks(4)).toEqual([3, 3, 1]); // 4·9 = 36: wq 3, span 3, 1 chunk
    expect(spanChunks(5)).toEqual([3, 1, 3]); // 5·9 = 45: span 1, 3 chunks
  });

  it('direct: one invocation per 4 output pixels of a row (64 per workgroup), with the geometry', () => {
    const g = geo({ n: 2, cin: 5, h: 9, w: 9, cout: 3, k: 3, pad: 1 });
    const [r] = run(g, 'fwd');
    const total = 2 * 3 * 9 * 3;
    expect(r).toMatchObject({ op: 'conv2d', name: 'conv2d:direct:fwd:nobias', groups: [Math.ceil(total / CONV_DIRECT_WG)] });
    expect(r!.u32.slice(0, 18)).toEqual([total, ...geoWords(g)]);
  });

  it('gemm: 4-pixel row blocks × 4-channel column blocks per invocation, on 4×4 workgroups here and 8×8 on a GPU; one z per group', () => {
    // Stride 2 keeps the window kernels off; 20 channels per group: 5 column blocks, 2 workgroups.
    const g = geo({ n: 2, cin: 8, h: 13, w: 13, cout: 40, k: 3, stride: 2, groups: 2 }); // 6×6 out: 2·6·2 = 24 row blocks
    const [r] = run(g, 'fwd+bias');
    expect(r).toMatchObject({ op: 'conv2d', name: 'conv2d:gemm:fwd:bias:4x4', wg: '4x4x1', groups: [6, 2, 2] });
    expect(r!.u32.slice(0, 19)).toEqual([0, 24, ...geoWords(g)]);
    const hw = Object.create(gpu, { softwareAdapter: { value: false } }) as WebGPUBackend;
    expect(run(g, 'fwd', {}, hw)[0]).toMatchObject({ name: 'conv2d:gemm:fwd:nobias:8x8', groups: [3, 1, 2] });
  });
});

describe('webgpu conv: input-gradient dispatches', () => {
  it('window: blocks of 8 input channels where a group has 8 or more, the flipped padding', () => {
    const g = geo({ n: 1, cin: 8, h: 7, w: 7, cout: 4, k: 3, pad: 0 }); // dy 5×5 padded by 2 back to 7×7
    const [r] = run(g, 'dx', { convWindowSpan: 1 });
    expect(r).toMatchObject({ op: 'conv2dBackwardInput', name: 'conv2d:window:dx:nobias:3x3:cb8' });
    const total = 1 * 7 * 2 * 1 * 1;
    expect(r!.u32.slice(0, 16)).toEqual([total, 1, 1, 2, 1, 2, 4, 4, 5, 5, 8, 8, 7, 7, 2, 2]);
  });

  it('direct for fewer than 4 input channels per group: one invocation per 4 input pixels of a row', () => {
    const g = geo({ n: 2, cin: 3, h: 9, w: 10, cout: 8, k: 3, pad: 1 });
    const [r] = run(g, 'dx');
    const total = 2 * 3 * 9 * 3;
    expect(r).toMatchObject({ op: 'conv2dBackwardInput', name: 'conv2d:direct:dx', groups: [Math.ceil(total / CONV_DIRECT_WG)] });
    expect(r!.u32.slice(0, 18)).toEqual([total, ...geoWords(g)]);
  });

  it('gemm: row blocks of the input, column blocks of its channels per group', () => {
    const g = geo({ n: 1, cin: 40, h: 13, w: 13, cout: 8, k: 3, stride: 2, groups: 2 }); // 20 input channels per group
    const [r] = run(g, 'dx');
    expect(r).toMatchObject({ op: 'conv2dBackwardInput', name: 'conv2d:gemm:dx:4x4', groups: [Math.ceil(13 * 4 / 4), 2, 2] });
    expect(r!.u32.slice(0, 2)).toEqual([0, 13 * 4]);
  });

  it('pointwise: the matmul alone (and for the weight gradient, one per image, summed over the images)', () => {
    const g = geo({ n: 2, cin: 4, h: 5, w: 5, cout: 4, k: 1 });
    expect(run(g, 'dx').map((r) => [r.op, r.name.startsWith('matmul')])).toEqual([['matmul', true]]);
    expect(run(g, 'dw').map((r) => [r.op, r.name.startsWith('matmul')])).toEqual([['matmul', true], ['reduce sum', false]]);
    expect(run({ ...g, n: 1 }, 'dw').map((r) => r.op)).toEqual(['matmul']);
  });

  it('the window kernels forced: the weight gradient (which has none) keeps its own design by shape', () => {
    const forced = { convPath: 'window' } as const;
    expect(run(geo({ n: 1, cin: 4, h: 5, w: 5, cout: 4, k: 1 }), 'dw', forced)[0]!.name.startsWith('matmul')).toBe(true);
    expect(run(geo({ n: 1, cin: 4, h: 5, w: 5, cout: 2, k: 3 }), 'dw', forced)[0]!.name).toBe('conv2d:direct:dw');
  });
});

describe('webgpu conv: weight-gradient dispatches', () => {
  it('direct: slices of at least 64 output pixels, about 16384 invocations, then a sum over the slices', () => {
    // ws = 2·1·9 = 18; 512 pixels: min(⌈16384/18⌉ = 911, ⌈512/64⌉ = 8) = 8 slices of 64.
    const small = run(geo({ n: 2, cin: 1, h: 16, w: 16, cout: 2, k: 3, pad: 1 }), 'dw');
    expect(small.map((r) => r.op)).toEqual(['conv2dBackwardWeight', 'reduce sum']);
    expect(small[0]).toMatchObject({ name: 'conv2d:direct:dw', groups: [1] });
    expect(small[0]!.u32.slice(0, 2)).toEqual([8 * 18, 64]);
    // ws = 2·16·9 = 288; 4096 pixels: min(⌈16384/288⌉ = 57, 64) = 57 slices of ⌈4096/57⌉ = 72.
    const big = run(geo({ n: 4, cin: 16, h: 32, w: 32, cout: 2, k: 3, pad: 1 }), 'dw');
    expect(big[0]!.u32.slice(0, 2)).toEqual([57 * 288, 72]);
    expect(big[0]!.groups).toEqual([Math.ceil(57 * 288 / 256)]);
    // 16 pixels: one slice, nothing to sum.
    const one = run(geo({ n: 1, cin: 1, h: 4, w: 4, cout: 2, k: 3, pad: 1 }), 'dw');
    expect(one.map((r) => [r.op, r.u32[0], r.u32[1]])).toEqual([['conv2dBackwardWeight', 18, 16]]);
  });

  it('gemm: blocks of (channel · tap) × output channel per group, slices on z, at most the device limit over the groups', () => {
    // cinG 4 · 9 taps = 36: 9 row blocks; coutG 8: 2 column blocks; 2 groups: 36 blocks in all, so
    // ⌈16384/36⌉ = 456 slices of ⌈32768/456⌉ = 72 pixels (⌈32768/64⌉ = 512 is more).
    const g = geo({ n: 8, cin: 8, h: 64, w: 64, cout: 16, k: 3, pad: 1, groups: 2 });
    const recs = run(g, 'dw');
    expect(recs.map((r) => r.op)).toEqual(['conv2dBackwardWeight', 'reduce sum']);
    expect(recs[0]).toMatchObject({ name: 'conv2d:gemm:dw:4x4', groups: [3, 1, 456 * 2] });
    expect(recs[0]!.u32.slice(0, 4)).toEqual([0, 9, 2, 72]);
    // A device with 8 workgroups on z: 4 slices per group.
    const [r] = run(g, 'dw', {}, limited(8));
    expect(r!.groups).toEqual([3, 1, 8]);
    expect(r!.u32.slice(0, 4)).toEqual([0, 9, 2, 32768 / 4]);
  });
});

describe('webgpu conv: tiled dispatches at the device limit', () => {
  // Stride 2 gemm forward, one group, 4 channels: 1 column block; row blocks = hout · ⌈wout/4⌉.
  const tiled = (hout: number, cout = 4, groups = 1): Conv2dGeometry => geo({ n: 1, cin: 4 * groups, h: 2 * hout + 1, w: 7, cout, k: 3, stride: 2, groups });

  it('x split into runs of at most the limit, each with its offset; exactly the limit on y and z is allowed', () => {
    const split = (hout: number): number[][] => run(tiled(hout), 'fwd', {}, limited(2)).map((r) => [r.u32[0]!, ...r.groups]);
    expect(split(16)).toEqual([[0, 2, 1, 1], [2, 2, 1, 1]]); // 16 row blocks: 4 workgroups
    expect(split(12)).toEqual([[0, 2, 1, 1], [2, 1, 1, 1]]); // 12: 3
    expect(run(tiled(4, 64, 2), 'fwd', {}, limited(2))[0]!.groups).toEqual([1, 2, 2]);
  });

  it('more workgroups than the limit on y or z: refused with the counts', () => {
    expect(() => run(tiled(4, 36), 'fwd', {}, limited(2))).toThrow("webgpu: conv2d: needs 3 × 1 workgroups on y × z, more than the device's 2");
    expect(() => run(tiled(4, 12, 3), 'fwd', {}, limited(2))).toThrow("webgpu: conv2d: needs 1 × 3 workgroups on y × z, more than the device's 2");
  });
});
