/**
 * The WebGPU convolutions (src/backend/webgpu/conv.ts) on empty operands and wrong ones: an empty
 * output is allocated under the op name with nothing dispatched; an empty input or weight with a
 * non-empty output is one zero fill (no convolution kernel); operands of the wrong length or dtype
 * are refused with the op, the argument and what was expected. Dispatches are recorded dry
 * (helpers/dispatch-recorder.ts), the op names given to ctx.input/ctx.output by a recording
 * context. Written against the mutants StrykerJS left alive (WEBGRAD_MUTATE_SCOPE=webgpu-fused).
 * No adapter is a failure (beforeAll throws).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conv2dGeometry, Storage } from '../src/backend/types.js';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { conv2d, conv2dBackwardInput, conv2dBackwardWeight } from '../src/backend/webgpu/conv.js';
import { recordDispatches } from './helpers/dispatch-recorder.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const zeros = (len: number): Storage => gpu.upload(new Float32Array(len), 'float32');
const ints = (len: number): Storage => gpu.upload(new Int32Array(len), 'int32');

/** 3×3 stride 1 (kernel `k`, padding `pad`): hout = h + 2·pad − k + 1. */
function geo(n: number, cin: number, h: number, cout: number, k = 3, pad = 0): Conv2dGeometry {
  const out = h + 2 * pad - k + 1;
  return { n, cin, h, w: h, cout, kh: k, kw: k, hout: out, wout: out, strideH: 1, strideW: 1, padH: pad, padW: pad, dilationH: 1, dilationW: 1, groups: 1 };
}
const sizes = (g: Conv2dGeometry) => ({ x: g.n * g.cin * g.h * g.w, w: g.cout * g.cin * g.kh * g.kw, y: g.n * g.cout * g.hout * g.wout });

type Pass = 'fwd' | 'dx' | 'dw';
/** One pass on zero operands, dry: the output's length and dtype, the dispatches as `op kernel`, the op names given to input/output. */
function run(g: Conv2dGeometry, pass: Pass): { length: number; dtype: string; recs: string[]; names: string[] } {
  const names = new Set<string>();
  const ctx = Object.create(gpu, {
    output: { value: (len: number, dt: 'float32', op: string) => (names.add(`out ${op}`), gpu.output(len, dt, op)) },
    input: { value: (st: Storage, op: string) => (names.add(`in ${op}`), gpu.input(st, op)) },
  }) as WebGPUBackend;
  const s = sizes(g);
  const { out, recs } = recordDispatches(gpu, () => {
    if (pass === 'dx') return conv2dBackwardInput(ctx, zeros(s.y), zeros(s.w), g);
    if (pass === 'dw') return conv2dBackwardWeight(ctx, zeros(s.x), zeros(s.y), g);
    return conv2d(ctx, zeros(s.x), zeros(s.w), null, g);
  }, true);
  gpu.release(out);
  return { length: out.length, dtype: out.dtype, recs: recs.map((r) => `${r.op} ${r.name.split(':')[0]}`), names: [...names] };
}

describe('webgpu conv: empty operands', () => {
  it('an empty output: allocated under the op name, nothing dispatched, though x and the weight are not empty', () => {
    const noPixels = geo(1, 4, 2, 4); // 2×2 input, 3×3 kernel: 0×0 output
    expect(run(noPixels, 'fwd')).toEqual({ length: 0, dtype: 'float32', recs: [], names: ['in conv2d', 'out conv2d'] });
    expect(run(geo(0, 4, 5, 4), 'dx')).toEqual({ length: 0, dtype: 'float32', recs: [], names: ['in conv2dBackwardInput', 'out conv2dBackwardInput'] });
    expect(run(geo(1, 4, 5, 0), 'dw')).toEqual({ length: 0, dtype: 'float32', recs: [], names: ['in conv2dBackwardWeight', 'out conv2dBackwardWeight'] });
  });

  it('an empty input, dy or weight under a non-empty output: one zero fill, no convolution kernel', () => {
    const fill = (length: number, op: string) => ({ length, dtype: 'float32', recs: ['fill fill'], names: [`in ${op}`, 'out fill'] });
    const noInput = geo(1, 4, 0, 4, 1, 1); // 0×0 input padded by 1, 1×1 kernel: 2×2 output
    expect(run(noInput, 'fwd')).toEqual(fill(16, 'conv2d'));
    expect(run(noInput, 'dw')).toEqual(fill(16, 'conv2dBackwardWeight'));
    const noPixels = geo(1, 4, 2, 4); // dy empty, x not
    expect(run(noPixels, 'dx')).toEqual(fill(16, 'conv2dBackwardInput'));
    expect(run(noPixels, 'dw')).toEqual(fill(144, 'conv2dBackwardWeight'));
    const noTaps = geo(1, 4, 3, 4, 0); // a 0×0 kernel (the backend takes the geometry as given): 4×4 output of zeros
    expect(run(noTaps, 'fwd')).toEqual(fill(64, 'conv2d'));
    expect(run(noTaps, 'dx')).toEqual(fill(36, 'conv2dBackwardInput'));
  });
});

describe('webgpu conv: empty input with a bias', () => {
  it('every output is its channel\'s bias, as on the CPU (and in PyTorch): no input channels, or a 0×0 input padded', async () => {
    const cpu = new CpuBackend();
    for (const g of [geo(2, 0, 3, 3, 1), geo(1, 4, 0, 3, 1, 1)]) {
      const s = sizes(g);
      const bias = new Float32Array([1.5, -2, 0.25]);
      const want = cpu.read(cpu.routine('conv2d', { x: cpu.upload(new Float64Array(s.x), 'float64'), weight: cpu.upload(new Float64Array(s.w), 'float64'), bias: cpu.upload(Float64Array.from(bias), 'float64') }, g));
      const y = conv2d(gpu, zeros(s.x), zeros(s.w), gpu.upload(bias, 'float32'), g);
      const got = await gpu.read(y);
      gpu.release(y);
      expect(got.length).toBe(s.y);
      // Independent of either backend: channel c of every image is bias[c].
      const plane = g.hout * g.wout;
      expect(Array.from(got)).toEqual(Array.from({ length: s.y }, (_, i) => bias[Math.floor(i / plane) % g.cout]!));
      expect(Array.from(got)).toEqual(Array.from(await want));
    }
  });
});

describe('webgpu conv and pooling: a float16 operand', () => {
  it('is refused naming the op, the argument and float32 (not the float64 message)', () => {
    if (!gpu.shaderF16) throw new Error('this adapter has no shader-f16: CI\'s lavapipe has it, so the float16 refusal is tested there');
    const g = geo(1, 2, 4, 3);
    const half = gpu.upload(new Float32Array(32), 'float16');
    expect(() => conv2d(gpu, half, zeros(54), null, g)).toThrow('webgpu: conv2d: x must be float32, got float16');
    gpu.release(half);
  });
});

describe('webgpu conv: refused operands', () => {
  const g = geo(1, 2, 4, 3); // x 32, weight 54, y 12
  it('the wrong length: the op, the argument, its length and the expected one', () => {
    expect(() => conv2d(gpu, zeros(31), zeros(54), null, g)).toThrow('webgpu: conv2d: x has 31 elements, expected 32');
    expect(() => conv2d(gpu, zeros(32), zeros(55), null, g)).toThrow('webgpu: conv2d: weight has 55 elements, expected 54');
    expect(() => conv2d(gpu, zeros(32), zeros(54), zeros(2), g)).toThrow('webgpu: conv2d: bias has 2 elements, expected 3');
    expect(() => conv2dBackwardInput(gpu, zeros(11), zeros(54), g)).toThrow('webgpu: conv2dBackwardInput: dy has 11 elements, expected 12');
    expect(() => conv2dBackwardInput(gpu, zeros(12), zeros(53), g)).toThrow('webgpu: conv2dBackwardInput: weight has 53 elements, expected 54');
    expect(() => conv2dBackwardWeight(gpu, zeros(33), zeros(12), g)).toThrow('webgpu: conv2dBackwardWeight: x has 33 elements, expected 32');
    expect(() => conv2dBackwardWeight(gpu, zeros(32), zeros(13), g)).toThrow('webgpu: conv2dBackwardWeight: dy has 13 elements, expected 12');
  });

  it('int32 operands: the op, the argument and float32', () => {
    expect(() => conv2d(gpu, ints(32), zeros(54), null, g)).toThrow('webgpu: conv2d: x must be float32, got int32');
    expect(() => conv2d(gpu, zeros(32), zeros(54), ints(3), g)).toThrow('webgpu: conv2d: bias must be float32, got int32');
    expect(() => conv2dBackwardWeight(gpu, zeros(32), ints(12), g)).toThrow('webgpu: conv2dBackwardWeight: dy must be float32, got int32');
  });
});
