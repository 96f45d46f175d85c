/**
 * The normal draw's cos(2 pi h) (shaders/philox.ts, philox_cos2pi) against Math.cos in float64, on
 * the device. WGSL lets the built-in cos be off by 2^-11, and SwiftShader's was: its randn missed
 * the CPU's values by 6e-5. The kernel's own octant reduction and polynomials must stay within a few
 * float32 ulps of 1 everywhere, octant boundaries included (h is always a multiple of 2^-24).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { PHILOX_WGSL } from '../shaders/philox.js';
import { defineKernel } from '../shaders/program.js';
import { testData } from './helpers/kernel-harness.js';

const cos2pi = defineKernel({
  name: 'test-philox-cos2pi',
  bindings: { h: { type: 'f32', access: 'read' }, out: { type: 'f32', access: 'read_write' } },
  uniforms: { n: 'u32' },
  workgroupSize: 64,
  helpers: PHILOX_WGSL,
  body: `  if (i >= P.n) { return; }
  out[i] = philox_cos2pi(h[i]);`,
});

const ULP = 2 ** -24;
/**
 * |error| allowed: 3 units of 2^-24 (three ulps of values just below 1), for the rounding of 2 pi b
 * to float32 and Horner's roundings; both software drivers' worst was 8.8e-8 (1.5 such units).
 */
const TOL = 3 * ULP;

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

async function run(hs: Float32Array): Promise<Float32Array> {
  const h = gpu.input(gpu.upload(hs, 'float32'), 'test');
  const out = gpu.input(gpu.upload(new Float32Array(hs.length).fill(Number.NaN), 'float32'), 'test');
  const kernel = gpu.pipelines.program(cos2pi);
  gpu.batcher.dispatch('test', kernel, cos2pi.order({ h: h.buffer, out: out.buffer }), cos2pi.pack({ n: hs.length }), Math.ceil(hs.length / 64));
  const got = (await gpu.read(out)) as Float32Array;
  gpu.release(h);
  gpu.release(out);
  return got;
}

function worst(hs: Float32Array, got: Float32Array): { h: number; err: number } {
  let w = { h: 0, err: 0 };
  hs.forEach((h, i) => {
    const err = Math.abs(got[i]! - Math.cos(2 * Math.PI * h));
    if (!(err <= w.err)) w = { h, err };
  });
  return w;
}

describe('webgpu: the normal draw cos(2 pi h)', () => {
  it('is within a few ulps of Math.cos at and around every octant boundary', async () => {
    const hs: number[] = [];
    for (const edge of [0, 0.125, 0.25, 0.375, 0.5]) {
      for (let k = -40; k <= 40; k++) {
        for (const sign of [1, -1]) {
          const h = sign * (edge + k * ULP);
          if (Math.abs(h) <= 0.5) hs.push(h);
        }
      }
    }
    const x = Float32Array.from(hs);
    const w = worst(x, await run(x));
    expect(w.err, `worst at h = ${w.h}`).toBeLessThanOrEqual(TOL);
  });

  it('is within a few ulps of Math.cos over 65,536 random multiples of 2^-24 in [-1/2, 1/2)', async () => {
    const { rand } = testData(2024);
    const x = Float32Array.from(rand(65_536, 0, 1), (u) => (Math.floor(u * 2 ** 24) - 2 ** 23) * ULP);
    const got = await run(x);
    const w = worst(x, got);
    expect(w.err, `worst at h = ${w.h}`).toBeLessThanOrEqual(TOL);
    // Exact where the answer is: cos(0) = 1, cos(±pi) = -1.
    const ends = await run(Float32Array.from([0, -0.5, 0.5]));
    expect(Array.from(ends)).toEqual([1, -1, -1]);
  });
});
