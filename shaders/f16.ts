/**
 * float16 kernels (WGSL `enable f16;`, device feature 'shader-f16'): conversions between f32 and
 * f16 storage, and matmul of f16 operands with f32 accumulation (as torch.float16 matmul on CUDA:
 * products and sums in f32, one rounding of the result).
 *
 * Every other op on float16 tensors widens to f32, runs the f32 kernel and rounds the result once
 * (src/backend/webgpu/f16.ts), which is what PyTorch's f16 elementwise ops and reductions compute.
 */

import { defineKernel, kernelFamily } from './program.js';

/** The two element types a conversion kernel moves between. */
export type HalfCastType = 'f32' | 'f16';

/**
 * f32 → f16 with the out-of-range cases decided on the bits: WGSL leaves a runtime conversion of a
 * value beyond f16's range unspecified, while PyTorch gives ±inf from 65520 up (the tie between
 * 65504 and 2^16 rounds to even, to 2^16) and keeps NaN. In range, f16() rounds to nearest even on
 * the drivers tested against the PyTorch fixture (test/float16.test.ts).
 */
export const TO_F16_WGSL = /* wgsl */ `
fn to_f16(v: f32) -> f16 {
  let u = bitcast<u32>(v);
  let mag = u & 0x7fffffffu;
  // Built from u at run time: a constant NaN or Inf f16 is a shader-creation error in WGSL.
  let sign = (u >> 16u) & 0x8000u;
  if (mag > 0x7f800000u) { return bitcast<vec2<f16>>(sign | 0x7e00u).x; }
  if (mag >= 0x477ff000u) { return bitcast<vec2<f16>>(sign | 0x7c00u).x; }
  return f16(v);
}`;

export const halfCastKernel = kernelFamily((from: HalfCastType, to: HalfCastType) =>
  defineKernel({
    name: `cast16:${from}:${to}`,
    bindings: { x: { type: from, access: 'read' }, out: { type: to, access: 'read_write' } },
    uniforms: { n: 'u32' },
    workgroupSize: 256,
    helpers: TO_F16_WGSL,
    body: `  if (i >= P.n) { return; }\n  out[i] = ${to === 'f16' ? 'to_f16(f32(x[i]))' : 'f32(x[i])'};`,
  }),
);

/** Side of the square tile of C one workgroup computes (one invocation per element). */
export const MATMUL_F16_TILE = 16;

const MATMUL_UNIFORMS = { m: 'u32', k: 'u32', n: 'u32', aBatchStride: 'u32', bBatchStride: 'u32', zOff: 'u32' } as const;

/**
 * C[z] = A[z]·B[z] (+ bias) with A, B, bias and C in f16; tiles of A and B are widened to f32 in
 * workgroup memory and the dot products accumulate in f32. transA/transB read A [k, m] and
 * B [n, k] in place. Rows/columns past m, n, k load zeros, so edges need no special case.
 */
function matmulF16Parts(transA: boolean, transB: boolean, bias: boolean) {
  const T = MATMUL_F16_TILE;
  const aAt = transA ? 'ka * P.m + row' : 'row * P.k + ka';
  const bAt = transB ? 'col * P.k + kb' : 'kb * P.n + col';
  const common = {
    name: `matmul16:${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}${bias ? ':bias' : ''}`,
    uniforms: MATMUL_UNIFORMS,
    workgroupSize: [T, T, 1] as const,
    helpers: `${TO_F16_WGSL}
var<workgroup> As: array<f32, ${T * T}>;
var<workgroup> Bs: array<f32, ${T * T}>;`,
    body: `  let tx = lid % ${T}u;
  let ty = lid / ${T}u;
  let row = wid.y * ${T}u + ty;
  let col = wid.x * ${T}u + tx;
  let z = wid.z + P.zOff;
  let aBase = z * P.aBatchStride;
  let bBase = z * P.bBatchStride;
  var acc = 0.0;
  for (var t = 0u; t < P.k; t += ${T}u) {
    let ka = t + tx;
    var av = 0.0;
    if (row < P.m && ka < P.k) { av = f32(A[aBase + ${aAt}]); }
    As[ty * ${T}u + tx] = av;
    let kb = t + ty;
    var bv = 0.0;
    if (kb < P.k && col < P.n) { bv = f32(B[bBase + ${bAt}]); }
    Bs[ty * ${T}u + tx] = bv;
    workgroupBarrier();
    for (var q = 0u; q < ${T}u; q++) { acc += As[ty * ${T}u + q] * Bs[q * ${T}u + tx]; }
    workgroupBarrier();
  }
  if (row < P.m && col < P.n) {
    ${bias ? 'acc += f32(BIAS[col]);' : ''}
    C[z * P.m * P.n + row * P.n + col] = to_f16(acc);
  }`,
  };
  return common;
}

export const matmulF16Kernel = kernelFamily((transA: boolean, transB: boolean) =>
  defineKernel({
    ...matmulF16Parts(transA, transB, false),
    bindings: { A: { type: 'f16', access: 'read' }, B: { type: 'f16', access: 'read' }, C: { type: 'f16', access: 'read_write' } },
  }),
);

export const matmulF16BiasKernel = kernelFamily((transA: boolean, transB: boolean) =>
  defineKernel({
    ...matmulF16Parts(transA, transB, true),
    bindings: { A: { type: 'f16', access: 'read' }, B: { type: 'f16', access: 'read' }, BIAS: { type: 'f16', access: 'read' }, C: { type: 'f16', access: 'read_write' } },
  }),
);
