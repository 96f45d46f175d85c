/**
 * The op suite for convolution and pooling (issue 12, part 2): every case runs on each backend in
 * float32 (pool poisoned with NaN first, so an unwritten element fails) against the float64 CPU
 * reference, and the gradients of sum(op(x)·W) too. Shapes are awkward on purpose: odd sizes,
 * output widths that are not a multiple of the forward kernel's 4-wide register block, stride 2,
 * padding, dilation 2, groups 2, depthwise, 1×1, a weight gradient large enough to be split into
 * slices, NaN inputs.
 */
import { describeEachBackend } from './helpers/backends.js';
import { describeOpCases, type CaseCtx, type OpCase } from './helpers/oracle.js';
import { reductionTol, type Tol } from './helpers/compare.js';
import { FIXED, GRID, U, maxAbs, prng, type Dist } from './helpers/random-data.js';
import {
  adaptiveAvgPool2d, avgPool2d, batchNorm2d, conv2d, dropout, flatten, maxPool2d, maxPool2dWithIndices, relu, type Conv2dOptions,
} from '../src/index.js';

const sh = (s: readonly number[]): string => `[${s.join(',')}]`;
const f = (shape: number[], dist: Dist = U()): { shape: number[]; dist: Dist } => ({ shape, dist });

/** Uniform values with NaN at the given flat positions. */
function withNaN(n: number, at: number[], seed: number): Dist {
  const r = prng(seed);
  const v = Array.from({ length: n }, () => Math.fround(-2 + 4 * r()));
  for (const p of at) v[p] = Number.NaN;
  return FIXED(v);
}

const CASES: OpCase[] = [];
const add_ = (c: OpCase): void => void CASES.push(c);

interface ConvSpec { x: number[]; w: number[]; bias: boolean; o: Conv2dOptions; what: string; xDist?: Dist }
const CONVS: ConvSpec[] = [
  { what: 'plain 3x3, width 13', x: [2, 3, 11, 15], w: [5, 3, 3, 3], bias: true, o: {} },
  { what: 'stride 2 pad 1, odd sizes', x: [3, 4, 17, 9], w: [6, 4, 3, 3], bias: true, o: { stride: 2, padding: 1 } },
  { what: 'dilation 2 pad 2', x: [2, 3, 13, 12], w: [4, 3, 3, 3], bias: false, o: { dilation: 2, padding: 2 } },
  { what: 'groups 2, rect kernel, stride (2,1), pad (0,1)', x: [2, 4, 9, 10], w: [6, 2, 3, 2], bias: true, o: { groups: 2, stride: [2, 1], padding: [0, 1] } },
  { what: 'depthwise 3x3 stride 2 pad 1', x: [2, 5, 15, 15], w: [5, 1, 3, 3], bias: true, o: { groups: 5, stride: 2, padding: 1 } },
  { what: 'depthwise multiplier 2 (cout = 2·cin)', x: [1, 3, 8, 7], w: [6, 1, 3, 3], bias: false, o: { groups: 3, padding: 1 } },
  { what: '1x1', x: [3, 7, 5, 9], w: [4, 7, 1, 1], bias: true, o: {} },
  { what: 'output 1x1 (kernel = input)', x: [4, 2, 5, 5], w: [3, 2, 5, 5], bias: true, o: {} },
  { what: 'dilation (2,3) stride 3 pad (3,1)', x: [2, 2, 14, 16], w: [3, 2, 2, 3], bias: true, o: { dilation: [2, 3], stride: 3, padding: [3, 1] } },
  { what: 'MNIST-like 8x28x28 -> 16 (weight grad in slices)', x: [4, 8, 28, 28], w: [16, 8, 3, 3], bias: true, o: { padding: 1 } },
  { what: 'NaN in the input propagates', x: [1, 2, 6, 7], w: [3, 2, 3, 3], bias: true, o: { padding: 1 }, xDist: withNaN(84, [8, 50], 3) },
];

function convGeometry(s: ConvSpec): { k: number; coutG: number; pixels: number } {
  const g = s.o.groups ?? 1;
  const [n, , h, w] = s.x as [number, number, number, number];
  const [cout, cinG, kh, kw] = s.w as [number, number, number, number];
  const pair = (v: number | readonly [number, number] | undefined, d: number): [number, number] => (v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : [v[0], v[1]]);
  const [sh_, sw] = pair(s.o.stride, 1);
  const [ph, pw] = pair(s.o.padding, 0);
  const [dh, dw] = pair(s.o.dilation, 1);
  const hout = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh_) + 1;
  const wout = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  return { k: cinG * kh * kw, coutG: cout / g, pixels: n * hout * wout };
}

for (const s of CONVS) {
  const { k, coutG, pixels } = convGeometry(s);
  const tol = (c: CaseCtx): Tol => reductionTol(k + 1, maxAbs(c.inputs[0]!) * maxAbs(c.inputs[1]!) + (s.bias ? maxAbs(c.inputs[2]!) : 0));
  const inputs = [f(s.x, s.xDist ?? U()), f(s.w), ...(s.bias ? [f([s.w[0]!])] : [])];
  const gradK = [coutG * s.w[2]! * s.w[3]!, pixels, pixels];
  add_({
    name: `conv2d ${s.what} x${sh(s.x)} w${sh(s.w)}${s.bias ? ' +bias' : ''}`, inputs, tol, gradK, grad: s.xDist === undefined,
    run: (x, w, b) => conv2d(x!, w!, b ?? null, s.o),
  });
}
// conv → relu → conv: the input gradient of the second conv feeds the weight gradient of the first.
add_({
  name: 'conv2d chain: conv(3→4, s2) → relu → conv(4→2, groups 2)', inputs: [f([2, 3, 10, 9]), f([4, 3, 3, 3]), f([2, 2, 2, 2])],
  tol: (c) => reductionTol(27 * 8, 27 * maxAbs(c.inputs[0]!) * maxAbs(c.inputs[1]!) * maxAbs(c.inputs[2]!)),
  gradK: [4 * 9 * 8, 2 * 16 * 8, 2 * 4 * 4 * 27],
  run: (x, w1, w2) => conv2d(relu(conv2d(x!, w1!, null, { stride: 2, padding: 1 })), w2!, null, { groups: 2 }),
});

// Max pooling: GRID values make exact ties, so the "first maximum gets the gradient" rule is exercised.
const POOLS: [number[], number | [number, number], { stride?: number | [number, number]; padding?: number | [number, number] }][] = [
  [[2, 3, 8, 7], 2, {}],
  [[2, 2, 17, 9], 3, { stride: 2, padding: 1 }],
  [[1, 3, 9, 11], [3, 2], { stride: 1, padding: [1, 0] }],
  [[3, 1, 5, 5], 5, {}],
  [[2, 4, 28, 28], 2, {}],
];
for (const [s, k, o] of POOLS) {
  const what = `${sh(s)} k ${JSON.stringify(k)} ${JSON.stringify(o)}`;
  add_({ name: `maxPool2d ${what}`, inputs: [f(s)], run: (x) => maxPool2d(x!, k, o), tol: { atol: 0, rtol: 0 } });
  add_({ name: `maxPool2d ${what} (ties)`, inputs: [f(s, GRID(-1, 1, 0.5))], run: (x) => maxPool2d(x!, k, o), tol: { atol: 0, rtol: 0 } });
  add_({ name: `maxPool2d indices ${what} (ties)`, inputs: [f(s, GRID(-1, 1, 0.5))], run: (x) => maxPool2dWithIndices(x!, k, o).indices, outInt: true, grad: false });
  for (const countIncludePad of [true, false]) {
    add_({ name: `avgPool2d ${what} countIncludePad ${countIncludePad}`, inputs: [f(s)], run: (x) => avgPool2d(x!, k, { ...o, countIncludePad }), tol: (c) => reductionTol(25, maxAbs(c.inputs[0]!)) });
  }
}
add_({ name: 'maxPool2d with NaN (the last NaN of a window wins)', inputs: [f([1, 2, 6, 7], withNaN(84, [8, 9, 40, 83], 5))], run: (x) => maxPool2d(x!, 2, { stride: 1 }), tol: { atol: 0, rtol: 0 }, grad: false });
add_({ name: 'maxPool2d indices with NaN', inputs: [f([1, 2, 6, 7], withNaN(84, [8, 9, 40, 83], 5))], run: (x) => maxPool2dWithIndices(x!, 2, { stride: 1 }).indices, outInt: true, grad: false });
for (const [s, o] of [[[2, 3, 7, 5], 1], [[2, 2, 7, 5], [3, 2]], [[1, 2, 10, 9], 4], [[1, 1, 3, 4], [5, 6]], [[4, 16, 7, 7], 1]] as [number[], number | [number, number]][]) {
  add_({ name: `adaptiveAvgPool2d ${sh(s)} -> ${JSON.stringify(o)}`, inputs: [f(s)], run: (x) => adaptiveAvgPool2d(x!, o), tol: (c) => reductionTol(s[2]! * s[3]!, maxAbs(c.inputs[0]!)) });
}
add_({ name: 'flatten [3,4,5,2] from 1', inputs: [f([3, 4, 5, 2])], run: (x) => flatten(x!, 1), tol: { atol: 0, rtol: 0 } });
add_({ name: 'flatten [3,4,5,2] axes 1..2', inputs: [f([3, 4, 5, 2])], run: (x) => flatten(x!, 1, 2), tol: { atol: 0, rtol: 0 } });
// Dropout on a 4-D tensor: the same Philox mask on every backend (seeded), survivors scaled by 1/(1−p).
add_({ name: 'dropout on [2,3,5,7] p 0.3 seeded', inputs: [f([2, 3, 5, 7])], run: (x) => dropout(x!, 0.3, { seed: 1234 }) });

// BatchNorm2d (functional): training statistics over N·H·W per channel, and eval with running statistics.
for (const s of [[4, 3, 5, 7], [2, 5, 9, 1], [1, 2, 3, 3]] as number[][]) {
  add_({
    name: `batchNorm2d train ${sh(s)} with weight and bias`, inputs: [f(s, U(-2, 3)), f([s[1]!], U(0.5, 2)), f([s[1]!])],
    run: (x, w, b) => batchNorm2d(x!, null, null, w!, b!, { training: true }), tol: (c) => reductionTol(s[0]! * s[2]! * s[3]!, 4 * maxAbs(c.inputs[1]!)),
    gradTol: { atol: 1e-5, rtol: 1e-4 },
  });
}
add_({
  name: 'batchNorm2d eval [3,4,5,6] with running statistics', inputs: [f([3, 4, 5, 6]), f([4]), f([4], U(0.5, 2)), f([4]), f([4])],
  run: (x, m, v, w, b) => batchNorm2d(x!, m!, v!, w!, b!, { training: false }), tol: { atol: 1e-6, rtol: 1e-5 },
  gradTol: { atol: 1e-5, rtol: 1e-4 },
});

describeEachBackend('conv and pooling suite', (device) => {
  describeOpCases(CASES, device);
});
