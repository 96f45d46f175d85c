/**
 * What the host code of the WebGPU poolings (src/backend/webgpu/conv.ts) dispatches: one invocation
 * per output (per input for the gathering max-pool dx and the avg-pool dx), 256 per workgroup;
 * the one-per-window max-pool dx exactly where the windows tile the input; nothing for an empty
 * output, a zero fill for an empty dy; outputs and operands under the op name. Dispatches are
 * recorded dry (helpers/dispatch-recorder.ts); values are compared with the CPU in
 * webgpu-conv-paths and webgpu-backend. Written against the mutants StrykerJS left alive
 * (WEBGRAD_MUTATE_SCOPE=webgpu-fused). No adapter is a failure (beforeAll throws).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool2dGeometry, Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { avgPool2d, avgPool2dBackward, maxPool2d, maxPool2dBackward, poolTiles } from '../src/backend/webgpu/conv.js';
import { recordDispatches } from './helpers/dispatch-recorder.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const zeros = (len: number): Storage => gpu.upload(new Float32Array(len), 'float32');
const ints = (len: number): Storage => gpu.upload(new Int32Array(len), 'int32');

/** 2×2 windows, stride 2, no padding: 3 planes of 8×10 → 4×5, windows tiling the input. */
const tiling: Pool2dGeometry = { planes: 3, h: 8, w: 10, hout: 4, wout: 5, kh: 2, kw: 2, strideH: 2, strideW: 2, padH: 0, padW: 0, adaptive: false, countIncludePad: false };
const pool = (o: Partial<Pool2dGeometry>): Pool2dGeometry => ({ ...tiling, ...o });

type Op = 'max' | 'maxBack' | 'avg' | 'avgBack';
/** One pooling op on zero operands, dry: output outputs and dtypes, dispatches as [op, kernel, workgroups, total], op names given to input/output. */
function run(g: Pool2dGeometry, op: Op) {
  const names = new Set<string>();
  const ctx = Object.create(gpu, {
    output: { value: (len: number, dt: 'float32', o: string) => (names.add(`out ${o}`), gpu.output(len, dt, o)) },
    input: { value: (st: Storage, o: string) => (names.add(`in ${o}`), gpu.input(st, o)) },
  }) as WebGPUBackend;
  const [nIn, nOut] = [g.planes * g.h * g.w, g.planes * g.hout * g.wout];
  const { out, recs } = recordDispatches(gpu, () => {
    if (op === 'max') { const r = maxPool2d(ctx, zeros(nIn), g); return [r.values, r.indices]; }
    if (op === 'avg') return [avgPool2d(ctx, zeros(nIn), g)];
    if (op === 'maxBack') return [maxPool2dBackward(ctx, zeros(nOut), ints(nOut), g)];
    return [avgPool2dBackward(ctx, zeros(nOut), g)];
  }, true);
  for (const s of out) gpu.release(s);
  return { outputs: out.map((s) => `${s.length} ${s.dtype}`), recs: recs.map((r) => [r.op, r.name, r.groups[0], r.u32[0]]), names: [...names] };
}

describe('webgpu pooling: dispatches', () => {
  it('windows tile the input only without adaptive windows or padding, with strides equal to the kernel covering every row and column', () => {
    expect(poolTiles(tiling)).toBe(true);
    const off: Partial<Pool2dGeometry>[] = [{ adaptive: true }, { strideH: 1 }, { strideW: 1 }, { padH: 1 }, { padW: 1 }, { h: 9 }, { w: 11 }];
    expect(off.map((o) => poolTiles(pool(o)))).toEqual(off.map(() => false));
  });

  it('forward: one invocation per output, 256 per workgroup; values and int32 indices for max', () => {
    const big = pool({ planes: 30 }); // 600 outputs
    expect(run(big, 'max')).toEqual({ outputs: ['600 float32', '600 int32'], recs: [['maxPool2d', 'pool:max', 3, 600]], names: ['in maxPool2d', 'out maxPool2d'] });
    expect(run(big, 'avg')).toEqual({ outputs: ['600 float32'], recs: [['avgPool2d', 'pool:avg', 3, 600]], names: ['in avgPool2d', 'out avgPool2d'] });
  });

  it('max-pool dx: one invocation per window where the windows tile, else one per input element', () => {
    const big = pool({ planes: 30 }); // 2400 inputs, 600 outputs
    expect(run(big, 'maxBack')).toEqual({ outputs: ['2400 float32'], recs: [['maxPool2dBackward', 'pool:max:backward:tiled', 3, 600]], names: ['in maxPool2dBackward', 'out maxPool2dBackward'] });
    const overlapping = pool({ planes: 30, strideH: 1, hout: 7 }); // 2100 outputs
    expect(run(overlapping, 'maxBack').recs).toEqual([['maxPool2dBackward', 'pool:max:backward', 10, 2400]]);
    expect(run(big, 'avgBack')).toEqual({ outputs: ['2400 float32'], recs: [['avgPool2dBackward', 'pool:avg:backward', 10, 2400]], names: ['in avgPool2dBackward', 'out avgPool2dBackward'] });
  });

  it('no outputs: empty results under the op name, nothing dispatched; dx of no outputs: one zero fill', () => {
    const none = pool({ planes: 0 });
    expect(run(none, 'max')).toEqual({ outputs: ['0 float32', '0 int32'], recs: [], names: ['in maxPool2d', 'out maxPool2d'] });
    expect(run(none, 'avg')).toEqual({ outputs: ['0 float32'], recs: [], names: ['in avgPool2d', 'out avgPool2d'] });
    expect(run(none, 'maxBack')).toEqual({ outputs: ['0 float32'], recs: [], names: ['in maxPool2dBackward', 'out maxPool2dBackward'] });
    expect(run(none, 'avgBack')).toEqual({ outputs: ['0 float32'], recs: [], names: ['in avgPool2dBackward', 'out avgPool2dBackward'] });
    const noWindows = pool({ hout: 0, wout: 0 }); // 240 inputs, no outputs
    expect(run(noWindows, 'maxBack')).toEqual({ outputs: ['240 float32'], recs: [['fill', 'fill:f32:v4', 1, 60]], names: ['in maxPool2dBackward', 'out fill'] });
    expect(run(noWindows, 'avgBack').recs).toEqual([['fill', 'fill:f32:v4', 1, 60]]);
  });

  it('refused operands: the op, the argument and what was expected', () => {
    expect(() => maxPool2d(gpu, zeros(239), tiling)).toThrow('webgpu: maxPool2d: x has 239 elements, expected 240');
    expect(() => avgPool2d(gpu, zeros(241), tiling)).toThrow('webgpu: avgPool2d: x has 241 elements, expected 240');
    expect(() => maxPool2dBackward(gpu, zeros(59), ints(60), tiling)).toThrow('webgpu: maxPool2dBackward: dy has 59 elements, expected 60');
    expect(() => maxPool2dBackward(gpu, zeros(60), zeros(60), tiling)).toThrow('webgpu: maxPool2dBackward: indices must be int32, got float32');
    expect(() => avgPool2dBackward(gpu, zeros(61), tiling)).toThrow('webgpu: avgPool2dBackward: dy has 61 elements, expected 60');
  });
});
