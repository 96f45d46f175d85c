/**
 * Device-side assertions: kernels that record the first failed check since the last read into a
 * small persistent buffer of slots (4 u32 words each: set, then three words of detail), so a check
 * costs no readback. The host reads the slots with the next read of any tensor (see
 * src/backend/webgpu/device-asserts.ts). A slot already set is left alone: the first failure wins.
 */

import { defineKernel } from './program.js';

/** Slot indices in the assert buffer. */
export const ASSERT_SLOT = { labels: 0, nonFinite: 1 } as const;
export type AssertSlotName = keyof typeof ASSERT_SLOT;
export const ASSERT_WORDS_PER_SLOT = 4;
export const ASSERT_SLOT_COUNT = 2;

/** Invocations of the label-check workgroup. */
export const LABEL_CHECK_WG = 256;

const SLOTS = { type: 'u32', access: 'read_write' } as const;

/**
 * Class labels (i32) must lie in [0, classes). One workgroup: each invocation finds the first bad
 * row of its stride, a tree minimum picks the first bad row overall, which is recorded with its
 * label: slot words [1, row, label (i32 bits), classes]. S is the assert buffer.
 */
export const labelCheckKernel = defineKernel({
  name: 'assert-labels',
  bindings: { L: { type: 'i32', access: 'read' }, S: SLOTS },
  uniforms: { n: 'u32', classes: 'u32' },
  workgroupSize: LABEL_CHECK_WG,
  helpers: `var<workgroup> first: array<u32, ${LABEL_CHECK_WG}>;`,
  body: () => {
    const base = ASSERT_SLOT.labels * ASSERT_WORDS_PER_SLOT;
    return `  var bad = 0xffffffffu;
  for (var r = lid; r < P.n; r = r + ${LABEL_CHECK_WG}u) {
    let l = L[r];
    if (l < 0 || u32(l) >= P.classes) { bad = r; break; }
  }
  first[lid] = bad;
  for (var s = ${LABEL_CHECK_WG / 2}u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (lid < s) { first[lid] = min(first[lid], first[lid + s]); }
  }
  workgroupBarrier();
  let row = first[0];
  if (lid == 0u && row != 0xffffffffu && S[${base}u] == 0u) {
    S[${base}u] = 1u;
    S[${base + 1}u] = row;
    S[${base + 2}u] = bitcast<u32>(L[row]);
    S[${base + 3}u] = P.classes;
  }`;
  },
});

/** Element 0 of X (f32) must be finite (tested on the exponent bits). Slot words: [1, bits of X[0]]. */
export const finiteCheckKernel = defineKernel({
  name: 'assert-finite',
  bindings: { X: { type: 'f32', access: 'read' }, S: SLOTS },
  uniforms: {},
  workgroupSize: 1,
  body: () => {
    const base = ASSERT_SLOT.nonFinite * ASSERT_WORDS_PER_SLOT;
    return `  let u = bitcast<u32>(X[0]);
  if ((u & 0x7f800000u) == 0x7f800000u && S[${base}u] == 0u) {
    S[${base}u] = 1u;
    S[${base + 1}u] = u;
  }`;
  },
});
