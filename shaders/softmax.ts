/**
 * Row-wise kernels over x viewed as [rows, cols] (the last axis): softmax / logSoftmax, their
 * gradients from the output, and softmax cross-entropy with int32 labels (loss and gradient).
 *
 * Three shapes of kernel, chosen on the host (fused/softmax.ts):
 *  - 'loop': one invocation per row looping over its columns (short rows; no workgroup memory).
 *  - 'tree': one workgroup of `wg` invocations per row (wg <= cols); invocations stride through the
 *    row and a tree reduction in workgroup memory combines them, for the max and for the sum.
 *  - 'subgroup': the tree's workgroups, but the partials are combined after one barrier by the
 *    subgroup holding invocation 0 (subgroupFinal of reduce.ts; needs the 'subgroups' feature).
 *    The max goes through order keys, so a NaN in the row still makes the row NaN.
 * Both dispatch linearly over a grid folded into 2-D when it exceeds 65535 workgroups.
 *
 * Stable: the row max is subtracted before exp (log-sum-exp). A label outside [0, cols) makes its
 * row NaN (loss and gradient); the NaN is bit-cast from a private variable so no constant
 * expression is ever NaN (that would be a shader-creation error).
 */

import { FLOAT_BITS_WGSL, WG_1D } from './common.js';
import { defineKernel, kernelFamily } from './program.js';
import { SUBGROUP_MAX_WGSL, subgroupFinal } from './reduce.js';

export type RowMode = { kind: 'loop' } | { kind: 'tree' | 'subgroup'; wg: number };

/** Key fragment of a mode, for pipeline cache keys. */
export function rowModeKey(mode: RowMode): string {
  return mode.kind === 'loop' ? 'loop' : `${mode.kind}${mode.wg}`;
}

/** First statements of main: the row this invocation (loop) or workgroup (tree) handles, and its offset. */
function rowStart(mode: RowMode): string {
  if (mode.kind === 'loop') {
    return `  let row = (wid.x + wid.y * nwg.x) * ${WG_1D}u + lid;
  if (row >= P.rows) { return; }
  let o = row * P.cols;`;
  }
  const first = mode.kind === 'subgroup' ? '\n  let sg_first = subgroupMin(lid) == 0u;' : '';
  return `  let row = wid.x + wid.y * nwg.x;
  if (row >= P.rows) { return; }${first}
  let o = row * P.cols;`;
}

function shared(mode: RowMode): string {
  if (mode.kind === 'loop') return '';
  const sg = mode.kind === 'subgroup' ? `${SUBGROUP_MAX_WGSL}\nvar<workgroup> sh_r: f32;\n` : '';
  return `${sg}var<workgroup> sh: array<f32, ${mode.wg}>;`;
}

/** Declares `name` = the max or sum over the row of term(j) (a WGSL expression in u32 j). */
function rowReduce(mode: RowMode, name: string, op: 'max' | 'sum', term: (j: string) => string): string {
  // max_f propagates NaN (bit tests): a row holding NaN is NaN throughout, as in PyTorch.
  const combine = (a: string, b: string) => (op === 'max' ? `max_f(${a}, ${b})` : `${a} + ${b}`);
  if (mode.kind === 'loop') {
    const init = op === 'max' ? term('0u') : '0.0';
    const first = op === 'max' ? '1u' : '0u';
    return `
  var ${name} = ${init};
  for (var j = ${first}; j < P.cols; j = j + 1u) { ${name} = ${combine(name, term('j'))}; }`;
  }
  const wg = mode.wg;
  // wg <= cols, so every invocation has at least one element: start from it (no -inf needed).
  const partials = `
  var ${name}_acc = ${term('lid')};
  for (var j = lid + ${wg}u; j < P.cols; j = j + ${wg}u) { ${name}_acc = ${combine(`${name}_acc`, term('j'))}; }
  sh[lid] = ${name}_acc;`;
  if (mode.kind === 'subgroup') {
    // The first subgroup's reads of sh end before the second barrier; sh_r is next written only
    // after the next reduction's first barrier, so no third barrier is needed.
    return `${partials}
  workgroupBarrier();${subgroupFinal(op, 'f32', wg, (k) => `sh[${k}]`, (r) => `sh_r = ${r};`)}
  workgroupBarrier();
  let ${name} = sh_r;`;
  }
  return `${partials}
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    workgroupBarrier();
    if (lid < s) { sh[lid] = ${combine('sh[lid]', 'sh[lid + s]')}; }
  }
  workgroupBarrier();
  let ${name} = sh[0];
  workgroupBarrier();`;
}

/** Runs body (statements in u32 j) for every column of the row. */
function forEachColumn(mode: RowMode, body: string): string {
  if (mode.kind === 'loop') return `\n  for (var j = 0u; j < P.cols; j = j + 1u) { ${body} }`;
  return `\n  for (var j = lid; j < P.cols; j = j + ${mode.wg}u) { ${body} }`;
}

const NAN_WGSL = `var<private> ROW_NAN_BITS: u32 = 0x7fc00000u;`;

const F32_READ = { type: 'f32', access: 'read' } as const;
const F32_OUT = { type: 'f32', access: 'read_write' } as const;
const I32_READ = { type: 'i32', access: 'read' } as const;
const ROWS_COLS = { rows: 'u32', cols: 'u32' } as const;

/** The mode from its primitive parts (kernelFamily keys by primitive arguments). */
function modeOf(wg: number): RowMode {
  return wg === 0 ? { kind: 'loop' } : wg > 0 ? { kind: 'tree', wg } : { kind: 'subgroup', wg: -wg };
}
/** 0 for the loop mode, the tree's workgroup size, or minus the subgroup mode's. */
function modeWg(mode: RowMode): number {
  return mode.kind === 'loop' ? 0 : mode.kind === 'tree' ? mode.wg : -mode.wg;
}
function wgOf(mode: RowMode): number {
  return mode.kind === 'loop' ? WG_1D : mode.wg;
}

const softmaxFamily = kernelFamily((log: boolean, treeWg: number) => {
  const mode = modeOf(treeWg);
  const write = log ? 'out[o + j] = (X[o + j] - m) - lse;' : 'out[o + j] = exp(X[o + j] - m) / s;';
  return defineKernel({
    name: `softmax:${log ? 'log' : 'exp'}:${rowModeKey(mode)}`,
    bindings: { X: F32_READ, out: F32_OUT },
    uniforms: ROWS_COLS,
    workgroupSize: wgOf(mode),
    subgroups: mode.kind === 'subgroup',
    helpers: () => `${FLOAT_BITS_WGSL}\n${shared(mode)}`,
    body: () => `${rowStart(mode)}${rowReduce(mode, 'm', 'max', (j) => `X[o + ${j}]`)}${rowReduce(mode, 's', 'sum', (j) => `exp(X[o + ${j}] - m)`)}
  let lse = log(s);${forEachColumn(mode, write)}`,
  });
});

/** softmax or logSoftmax over rows of [rows, cols]. */
export function softmaxKernel(log: boolean, mode: RowMode) {
  return softmaxFamily(log, modeWg(mode));
}

const softmaxGradFamily = kernelFamily((log: boolean, treeWg: number) => {
  const mode = modeOf(treeWg);
  const term = log ? (j: string) => `DY[o + ${j}]` : (j: string) => `DY[o + ${j}] * Y[o + ${j}]`;
  const write = log ? 'out[o + j] = DY[o + j] - exp(Y[o + j]) * s;' : 'out[o + j] = Y[o + j] * (DY[o + j] - s);';
  return defineKernel({
    name: `softmax-grad:${log ? 'log' : 'exp'}:${rowModeKey(mode)}`,
    bindings: { Y: F32_READ, DY: F32_READ, out: F32_OUT },
    uniforms: ROWS_COLS,
    workgroupSize: wgOf(mode),
    subgroups: mode.kind === 'subgroup',
    helpers: () => `${FLOAT_BITS_WGSL}\n${shared(mode)}`,
    body: () => `${rowStart(mode)}${rowReduce(mode, 's', 'sum', term)}${forEachColumn(mode, write)}`,
  });
});

/** dx = y·(dy − Σ dy·y), or dx = dy − exp(y)·Σ dy for logSoftmax. */
export function softmaxGradKernel(log: boolean, mode: RowMode) {
  return softmaxGradFamily(log, modeWg(mode));
}

const LABEL_WGSL = `
  let label = L[row];
  let valid = label >= 0 && u32(label) < P.cols;
  let lab = select(0u, u32(label), valid);
  let qnan = bitcast<f32>(ROW_NAN_BITS);`;

const sceFamily = kernelFamily((treeWg: number) => {
  const mode = modeOf(treeWg);
  const store = `out[row] = select(qnan, (m + log(s)) - X[o + lab], valid);`;
  return defineKernel({
    name: `sce:${rowModeKey(mode)}`,
    bindings: { X: F32_READ, L: I32_READ, out: F32_OUT },
    uniforms: ROWS_COLS,
    workgroupSize: wgOf(mode),
    subgroups: mode.kind === 'subgroup',
    helpers: () => `${NAN_WGSL}\n${FLOAT_BITS_WGSL}\n${shared(mode)}`,
    body: () => `${rowStart(mode)}${LABEL_WGSL}${rowReduce(mode, 'm', 'max', (j) => `X[o + ${j}]`)}${rowReduce(mode, 's', 'sum', (j) => `exp(X[o + ${j}] - m)`)}
  ${mode.kind === 'loop' ? store : `if (lid == 0u) { ${store} }`}`,
  });
});

/** loss[row] = max + log Σ exp(x − max) − x[label]; out has `rows` elements. */
export function softmaxCrossEntropyKernel(mode: RowMode) {
  return sceFamily(modeWg(mode));
}

const sceGradFamily = kernelFamily((treeWg: number) => {
  const mode = modeOf(treeWg);
  const write = `out[o + j] = select(qnan, (exp(X[o + j] - m) / s - select(0.0, 1.0, j == lab)) * d, valid);`;
  return defineKernel({
    name: `sce-grad:${rowModeKey(mode)}`,
    bindings: { X: F32_READ, L: I32_READ, DL: F32_READ, out: F32_OUT },
    uniforms: ROWS_COLS,
    workgroupSize: wgOf(mode),
    subgroups: mode.kind === 'subgroup',
    helpers: () => `${NAN_WGSL}\n${FLOAT_BITS_WGSL}\n${shared(mode)}`,
    body: () => `${rowStart(mode)}${LABEL_WGSL}
  let d = DL[row];${rowReduce(mode, 'm', 'max', (j) => `X[o + ${j}]`)}${rowReduce(mode, 's', 'sum', (j) => `exp(X[o + ${j}] - m)`)}${forEachColumn(mode, write)}`,
  });
});

/** (softmax(x) − onehot(label))·dLoss[row]; DL has `rows` elements. */
export function softmaxCrossEntropyGradKernel(mode: RowMode) {
  return sceGradFamily(modeWg(mode));
}
