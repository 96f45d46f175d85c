/**
 * The op suite's parity subset, run IN THE PAGE: each op on the WebGPU backend and on the CPU
 * reference backend in the same page, from the same float32 inputs, compared element by element.
 * Publishes window.parityReport (read by test/browser/webgpu-browser.test.ts) and a table.
 */
import {
  init, tensor, tidy, dispose, matmul, add, mul, div, relu, sigmoid, gelu, tanh, exp, log, sum, max, mean,
  softmax, logSoftmax, linear, batchNorm, dropout, crossEntropy, transpose,
} from 'webgrad';
import type { Tensor } from 'webgrad';
import { PARITY_CASES } from '../parity-cases.js';
import type { ParityCaseName, ParityReport, ParityResult } from '../parity-cases.js';

type Device = 'cpu' | 'webgpu';
interface Tol { atol: number; rtol: number }
interface Input { shape: number[]; data: Float32Array | Int32Array; grad?: boolean }
interface Case {
  name: ParityCaseName;
  inputs: () => Input[];
  run: (xs: Tensor[]) => Tensor[];
  /** 'bits': float32 bit patterns must be identical. */
  tol: Tol | 'bits';
}

// A small seeded generator for the host-side inputs (mulberry32).
let state = 12345;
function uniform(): number {
  state = (state + 0x6d2b79f5) | 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const size = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);
const U = (shape: number[], lo = -1, hi = 1, grad = false): Input =>
  ({ shape, data: Float32Array.from({ length: size(shape) }, () => lo + (hi - lo) * uniform()), grad });
const labels = (n: number, classes: number): Input => ({ shape: [n], data: Int32Array.from({ length: n }, () => Math.floor(uniform() * classes)) });

const ARITH: Tol = { atol: 1e-6, rtol: 1e-6 };
const TRANS: Tol = { atol: 2e-5, rtol: 2e-5 };
const RED: Tol = { atol: 1e-4, rtol: 1e-4 };

const CASES: Case[] = [
  { name: 'matmul [17,33]x[33,65]', inputs: () => [U([17, 33]), U([33, 65])], run: ([a, b]) => [matmul(a!, b!)], tol: RED },
  { name: 'matmul batched [3,9,65]x[3,65,17]', inputs: () => [U([3, 9, 65]), U([3, 65, 17])], run: ([a, b]) => [matmul(a!, b!)], tol: RED },
  { name: 'matmul transposed a.T @ b [33,17]', inputs: () => [U([33, 17]), U([33, 9])], run: ([a, b]) => [matmul(transpose(a!), b!)], tol: RED },
  { name: 'add broadcast [17,33]+[33]', inputs: () => [U([17, 33]), U([33])], run: ([a, b]) => [add(a!, b!)], tol: ARITH },
  { name: 'mul broadcast [3,1,5]*[4,5]', inputs: () => [U([3, 1, 5]), U([4, 5])], run: ([a, b]) => [mul(a!, b!)], tol: ARITH },
  { name: 'div broadcast [17,33]/[17,1]', inputs: () => [U([17, 33]), U([17, 1], 0.5, 2)], run: ([a, b]) => [div(a!, b!)], tol: ARITH },
  { name: 'relu [257]', inputs: () => [U([257], -3, 3)], run: ([x]) => [relu(x!)], tol: { atol: 0, rtol: 0 } },
  {
    name: 'sigmoid [3,65] incl. ±100',
    inputs: () => {
      const x = U([3, 65], -8, 8);
      x.data[0] = 100;
      x.data[1] = -100;
      return [x];
    },
    run: ([x]) => [sigmoid(x!)],
    tol: TRANS,
  },
  { name: 'gelu [3,65]', inputs: () => [U([3, 65], -4, 4)], run: ([x]) => [gelu(x!)], tol: { atol: 1e-4, rtol: 1e-4 } },
  { name: 'tanh [3,65]', inputs: () => [U([3, 65], -6, 6)], run: ([x]) => [tanh(x!)], tol: TRANS },
  { name: 'exp/log chain [65]', inputs: () => [U([65], 0.1, 3)], run: ([x]) => [exp(x!), log(x!)], tol: TRANS },
  { name: 'sum over axis 0 [33,17]', inputs: () => [U([33, 17])], run: ([x]) => [sum(x!, 0)], tol: RED },
  { name: 'sum over axes [0,2] [3,17,5]', inputs: () => [U([3, 17, 5])], run: ([x]) => [sum(x!, [0, 2])], tol: RED },
  { name: 'max over axis -1 keepdim [17,33]', inputs: () => [U([17, 33])], run: ([x]) => [max(x!, -1, true)], tol: { atol: 0, rtol: 0 } },
  { name: 'mean over all [9,65]', inputs: () => [U([9, 65])], run: ([x]) => [mean(x!)], tol: RED },
  { name: 'softmax axis -1 [17,33]', inputs: () => [U([17, 33], -5, 5)], run: ([x]) => [softmax(x!, -1)], tol: TRANS },
  { name: 'logSoftmax axis 0 [9,10]', inputs: () => [U([9, 10], -5, 5)], run: ([x]) => [logSoftmax(x!, 0)], tol: TRANS },
  {
    name: 'linear + relu (fused) [17,33]->[65]',
    inputs: () => [U([17, 33]), U([65, 33]), U([65])],
    run: ([x, w, b]) => [linear(x!, w!, b!, { activation: 'relu' })],
    tol: RED,
  },
  {
    name: 'batchNorm training [33,17] (+ running stats)',
    inputs: () => [U([33, 17], -2, 3), { shape: [17], data: new Float32Array(17) }, { shape: [17], data: new Float32Array(17).fill(1) }, U([17], 0.5, 1.5), U([17])],
    run: ([x, rm, rv, w, b]) => [batchNorm(x!, rm!, rv!, w!, b!, { training: true }), rm!, rv!],
    tol: RED,
  },
  {
    name: 'dropout p=0.3 bit-exact vs CPU [1000]',
    inputs: () => [U([1000], -3, 3)],
    run: ([x]) => [dropout(x!, 0.3, { seed: 2024 })],
    tol: 'bits',
  },
  { name: 'crossEntropy [33,10]', inputs: () => [U([33, 10], -3, 3), labels(33, 10)], run: ([z, y]) => [crossEntropy(z!, y!)], tol: TRANS },
  {
    name: 'backward: MLP linear-relu-linear-crossEntropy grads',
    inputs: () => [U([17, 33]), U([65, 33], -0.3, 0.3, true), U([65], -0.3, 0.3, true), U([10, 65], -0.3, 0.3, true), U([10], -0.3, 0.3, true), labels(17, 10)],
    run: ([x, w1, b1, w2, b2, y]) => {
      const h = relu(linear(x!, w1!, b1!));
      crossEntropy(linear(h, w2!, b2!), y!).backward();
      return [w1!.grad!, b1!.grad!, w2!.grad!, b2!.grad!];
    },
    tol: RED,
  },
];

function upload(inputs: Input[], device: Device): Tensor[] {
  return inputs.map((i) => tensor(i.data, { shape: i.shape, device, ...(i.grad ? { requiresGrad: true } : {}) }));
}

async function runOn(c: Case, inputs: Input[], device: Device): Promise<(Float32Array | Int32Array)[]> {
  const xs = upload(inputs, device);
  try {
    const outs = tidy(() => c.run(xs));
    const values: (Float32Array | Int32Array)[] = [];
    for (const o of outs) values.push((await o.data()) as Float32Array | Int32Array);
    dispose(outs.filter((o) => !xs.includes(o)));
    return values;
  } finally {
    dispose(xs);
  }
}

function compare(c: Case, got: ArrayLike<number>[], want: ArrayLike<number>[]): ParityResult {
  let maxError = 0;
  let bad: string | null = null;
  if (got.length !== want.length) return { name: c.name, pass: false, maxError: NaN, detail: `${got.length} outputs on WebGPU, ${want.length} on CPU` };
  for (let o = 0; o < want.length; o++) {
    const g = got[o]!;
    const w = want[o]!;
    if (g.length !== w.length) return { name: c.name, pass: false, maxError: NaN, detail: `output ${o}: ${g.length} values on WebGPU, ${w.length} on CPU` };
    if (c.tol === 'bits') {
      const gb = new Uint32Array(Float32Array.from(g).buffer);
      const wb = new Uint32Array(Float32Array.from(w).buffer);
      for (let i = 0; i < wb.length; i++) {
        maxError = Math.max(maxError, Math.abs(g[i]! - w[i]!));
        if (gb[i] !== wb[i] && !bad) bad = `output ${o}[${i}]: WebGPU ${g[i]} (0x${gb[i]!.toString(16)}) vs CPU ${w[i]} (0x${wb[i]!.toString(16)})`;
      }
      continue;
    }
    for (let i = 0; i < w.length; i++) {
      const err = Math.abs(g[i]! - w[i]!);
      if (!(err <= c.tol.atol + c.tol.rtol * Math.abs(w[i]!))) {
        if (!bad) bad = `output ${o}[${i}]: WebGPU ${g[i]} vs CPU ${w[i]} (|error| ${err.toExponential(2)} > ${c.tol.atol} + ${c.tol.rtol}·|CPU|)`;
      }
      maxError = Math.max(maxError, Number.isNaN(err) ? Infinity : err);
    }
  }
  return { name: c.name, pass: bad === null, maxError, detail: bad ?? (c.tol === 'bits' ? 'bit-identical' : `within ${c.tol.atol} + ${c.tol.rtol}·|CPU|`) };
}

function row(r: ParityResult): void {
  const tr = document.createElement('tr');
  for (const [text, cls] of [[r.name, ''], [r.pass ? 'pass' : 'FAIL', r.pass ? 'pass' : 'fail'], [r.maxError.toExponential(2), ''], [r.detail, '']] as const) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  document.getElementById('rows')!.appendChild(tr);
}

const report: ParityReport = { done: false, adapter: null, noWebGPU: null, results: [], error: null, seconds: 0 };
(window as unknown as { parityReport: ParityReport }).parityReport = report;

async function main(): Promise<void> {
  const started = performance.now();
  const missing = PARITY_CASES.filter((n) => !CASES.some((c) => c.name === n));
  if (missing.length) throw new Error(`parity page: no case for ${missing.join(', ')}`);
  const adapterEl = document.getElementById('adapter')!;
  try {
    const r = await init({ backend: 'webgpu' });
    report.adapter = r.adapter;
    adapterEl.textContent = `WebGPU adapter: ${r.adapter}`;
  } catch (e) {
    report.noWebGPU = 'gpu' in navigator ? (e instanceof Error ? e.message : String(e)) : 'navigator.gpu is missing';
    adapterEl.textContent = `No WebGPU adapter: ${report.noWebGPU}`;
    return;
  }
  for (const c of CASES) {
    const inputs = c.inputs();
    let result: ParityResult;
    try {
      const want = await runOn(c, inputs, 'cpu');
      const got = await runOn(c, inputs, 'webgpu');
      result = compare(c, got, want);
    } catch (e) {
      result = { name: c.name, pass: false, maxError: NaN, detail: `threw: ${e instanceof Error ? e.message : String(e)}` };
    }
    report.results.push(result);
    row(result);
  }
  report.seconds = (performance.now() - started) / 1000;
}

main()
  .catch((e: unknown) => {
    report.error = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  })
  .finally(() => {
    report.done = true;
  });
