/**
 * select (cond ? a : b, elementwise over equal lengths) and the strided write (the inverse of the
 * strided gather in strided.ts). Both move u32 bit patterns, so one pipeline serves float32 and
 * int32 values; select's condition is tested on its bits (NaN true, ±0 false) so no driver's
 * float comparison semantics matter.
 */
import { WG_1D, type WgslScalar } from './common.js';
import { stridedIndexWgsl, stridedUniforms } from './strided.js';
import { defineKernel, kernelFamily } from './program.js';

const U32_READ = { type: 'u32', access: 'read' } as const;
const U32_OUT = { type: 'u32', access: 'read_write' } as const;

/** condType: the element type the condition's bits are tested as. */
export const selectKernel = kernelFamily((condType: WgslScalar) => {
  const test = condType === 'f32' ? '(C[i] & 0x7fffffffu) != 0u' : 'C[i] != 0u';
  return defineKernel({
    name: `select:${condType}`,
    bindings: { C: U32_READ, A: U32_READ, B: U32_READ, out: U32_OUT },
    uniforms: { n: 'u32' },
    workgroupSize: WG_1D,
    body: `  if (i >= P.n) { return; }
  out[i] = select(B[i], A[i], ${test});`,
  });
});

/** out[offset + Σ c_d·strides[d]] = S[i] over the source's `rank` (collapsed) axes; writes `out` in place. */
export const stridedWriteKernel = kernelFamily((rank: number) =>
  defineKernel({
    name: `stridedwrite:${rank}`,
    bindings: { S: U32_READ, out: U32_OUT },
    uniforms: stridedUniforms(rank),
    workgroupSize: WG_1D,
    body: () => `  if (i >= P.n) { return; }
${stridedIndexWgsl(rank)}  out[u32(idx)] = S[i];`,
  }),
);
