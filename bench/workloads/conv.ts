/**
 * conv2d and max-pool rows, in PyTorch's layouts (NCHW activations, OIHW weights; a peer with
 * another native layout converts on the host, untimed). Per shape two rows: the forward pass alone,
 * and forward + backward (input and weight gradients for a fixed upstream gradient g, as one
 * training step needs them). One max-pool 2×2 row, forward + input gradient. ms per pass; every
 * repetition reads back all of the last pass's outputs (y, dx, dw).
 *
 * Checks (on the first call, before any time counts): conv on sampled entries of y, dx and dw
 * (random positions plus the borders, where padding matters) against float64 sums in plain JS,
 * relative to the sum of |terms| (the scale of the rounding error of any summation order);
 * max-pool exactly, everywhere (a max and a copied gradient involve no rounding).
 */
import { rng, uniform } from '../common.js';
import type { ConvOut, ConvSpec, GradCase, Peer, PoolSpec } from '../peers/types.js';
import type { CheckResult, Entry, Row } from '../report.js';
import { compareCase, failedEntries, type Prepared, type WorkloadContext } from './context.js';

/** The two CNN-sized shapes of issue 12: a first layer and a second layer at batch 128. */
export const CONV_SPECS: ConvSpec[] = [
  { n: 128, cin: 1, h: 28, w: 28, cout: 32, k: 3, pad: 1 },
  { n: 128, cin: 32, h: 14, w: 14, cout: 64, k: 3, pad: 1 },
];
/** The first block's pooling: 32 channels at 28×28 → 14×14. */
export const POOL_SPEC: PoolSpec = { n: 128, c: 32, h: 28, w: 28, k: 2 };

export function convLabel(s: ConvSpec): string {
  return `[${s.n},${s.cin},${s.h},${s.w}]→${s.cout}, ${s.k}×${s.k} pad ${s.pad}`;
}

function outSize(s: ConvSpec): [number, number] {
  return [s.h + 2 * s.pad - s.k + 1, s.w + 2 * s.pad - s.k + 1];
}

/** Multiply-adds of one forward pass (the backward does two more products of the same size). */
export function convMacs(s: ConvSpec): number {
  const [ho, wo] = outSize(s);
  return s.n * s.cout * ho * wo * s.cin * s.k * s.k;
}

interface Sum {
  value: number;
  mag: number;
  terms: number;
}

/** Samples of one result tensor: flat indices, random plus the first and last rows and columns of some planes. */
function samplePositions(shape: [number, number, number, number], seed: number, count: number): number[] {
  const [a, b, c, d] = shape;
  const r = rng(seed);
  const pick = (m: number): number => Math.floor(r() * m);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    let y = pick(c);
    let x = pick(d);
    if (i % 4 === 0) y = i % 8 === 0 ? 0 : c - 1; // a quarter on the top or bottom border
    if (i % 4 === 1) x = i % 8 === 1 ? 0 : d - 1; // a quarter on the left or right border
    out.push(((pick(a) * b + pick(b)) * c + y) * d + x);
  }
  return out;
}

function checkSamples(what: string, got: Float32Array | undefined, expectedLength: number, positions: number[], exact: (i: number) => Sum): { maxErr: number; tol: number; line: string } {
  if (!got) return { maxErr: Infinity, tol: 0, line: `${what}: missing` };
  if (got.length !== expectedLength) return { maxErr: Infinity, tol: 0, line: `${what} has ${got.length} elements, expected ${expectedLength}` };
  // The tolerance depends on the number of terms, the same for every sample of one tensor.
  let maxErr = 0;
  let tol = 0;
  let worst = '';
  for (const i of positions) {
    const s = exact(i);
    tol = 2 * s.terms * 2 ** -24;
    const err = Number.isFinite(got[i]!) ? Math.abs(got[i]! - s.value) / (s.mag || 1) : Infinity;
    if (err >= maxErr) {
      maxErr = err;
      worst = `${what}[${i}] = ${got[i]}, expected ${s.value.toPrecision(8)}`;
    }
  }
  return { maxErr, tol, line: `${what}: ${positions.length} samples, max error ${maxErr.toExponential(2)} of Σ|terms| (tol ${tol.toExponential(2)})${maxErr > tol ? `; worst ${worst}` : ''}` };
}

/** Checks y (and dx, dw when given) of a stride-1 conv against float64 sums at sampled positions. */
export function checkConv(s: ConvSpec, x: Float32Array, wt: Float32Array, g: Float32Array, out: ConvOut, backward: boolean): CheckResult {
  const [ho, wo] = outSize(s);
  const { n, cin, h, w, cout, k, pad } = s;
  const X = (b: number, c: number, i: number, j: number): number => (i < 0 || j < 0 || i >= h || j >= w ? 0 : x[((b * cin + c) * h + i) * w + j]!);
  const W = (o: number, c: number, p: number, q: number): number => wt[((o * cin + c) * k + p) * k + q]!;
  const G = (b: number, o: number, i: number, j: number): number => (i < 0 || j < 0 || i >= ho || j >= wo ? 0 : g[((b * cout + o) * ho + i) * wo + j]!);
  const parts = [
    checkSamples('y', out.y, n * cout * ho * wo, samplePositions([n, cout, ho, wo], 11, 48), (idx) => {
      const j = idx % wo, i = Math.floor(idx / wo) % ho, o = Math.floor(idx / (wo * ho)) % cout, b = Math.floor(idx / (wo * ho * cout));
      let value = 0, mag = 0;
      for (let c = 0; c < cin; c++) for (let p = 0; p < k; p++) for (let q = 0; q < k; q++) {
        const t = X(b, c, i + p - pad, j + q - pad) * W(o, c, p, q);
        value += t;
        mag += Math.abs(t);
      }
      return { value, mag, terms: cin * k * k };
    }),
  ];
  if (backward) {
    parts.push(checkSamples('dx', out.dx, n * cin * h * w, samplePositions([n, cin, h, w], 12, 48), (idx) => {
      const j = idx % w, i = Math.floor(idx / w) % h, c = Math.floor(idx / (w * h)) % cin, b = Math.floor(idx / (w * h * cin));
      let value = 0, mag = 0;
      for (let o = 0; o < cout; o++) for (let p = 0; p < k; p++) for (let q = 0; q < k; q++) {
        const t = G(b, o, i - p + pad, j - q + pad) * W(o, c, p, q);
        value += t;
        mag += Math.abs(t);
      }
      return { value, mag, terms: cout * k * k };
    }));
    parts.push(checkSamples('dw', out.dw, cout * cin * k * k, samplePositions([cout, cin, k, k], 13, 24), (idx) => {
      const q = idx % k, p = Math.floor(idx / k) % k, c = Math.floor(idx / (k * k)) % cin, o = Math.floor(idx / (k * k * cin));
      let value = 0, mag = 0;
      for (let b = 0; b < n; b++) for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
        const t = G(b, o, i, j) * X(b, c, i + p - pad, j + q - pad);
        value += t;
        mag += Math.abs(t);
      }
      return { value, mag, terms: n * ho * wo };
    }));
  }
  const ok = parts.every((p) => p.maxErr <= p.tol);
  const worst = parts.reduce((m, p) => Math.max(m, p.maxErr / (p.tol || 1)), 0);
  return { ok, maxErr: worst, tol: 1, detail: `vs float64 JS sums: ${parts.map((p) => p.line).join('; ')}` };
}

/** Max-pool (kernel = stride, no padding) forward and input gradient, checked exactly everywhere. */
export function checkMaxPool(s: PoolSpec, x: Float32Array, g: Float32Array, out: ConvOut): CheckResult {
  const { n, c, h, w, k } = s;
  const ho = Math.floor(h / k), wo = Math.floor(w / k);
  if (out.y.length !== n * c * ho * wo) return { ok: false, detail: `y has ${out.y.length} elements, expected ${n * c * ho * wo}` };
  if (!out.dx || out.dx.length !== x.length) return { ok: false, detail: `dx has ${out.dx?.length ?? 0} elements, expected ${x.length}` };
  const dx = new Float32Array(x.length);
  let bad = 0;
  let first = '';
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < ho; i++) for (let j = 0; j < wo; j++) {
      let best = -Infinity, at = -1;
      for (let a = 0; a < k; a++) for (let b = 0; b < k; b++) {
        const idx = (p * h + i * k + a) * w + j * k + b;
        if (x[idx]! > best) { best = x[idx]!; at = idx; }
      }
      const o = (p * ho + i) * wo + j;
      dx[at] = g[o]!;
      if (out.y[o] !== best && !bad++) first = `y[${o}] = ${out.y[o]}, expected ${best}`;
    }
  }
  for (let i = 0; i < dx.length; i++) if (out.dx[i] !== dx[i] && !bad++) first = `dx[${i}] = ${out.dx[i]}, expected ${dx[i]}`;
  return { ok: bad === 0, maxErr: bad, tol: 0, detail: `exact, all ${out.y.length} outputs and ${dx.length} input gradients vs a JS max-pool (inputs without ties)${bad ? `: ${bad} differ, first ${first}` : ''}` };
}

async function prepared(c: GradCase, check: (o: ConvOut) => CheckResult): Promise<Prepared> {
  try {
    return { run: (k) => c.run(k), check: check(await c.run(1)), dispose: () => c.dispose() };
  } catch (e) {
    await c.dispose();
    throw e;
  }
}

/** `onRow` sees each row as soon as it is measured (run.ts writes a partial report: these rows are slow on software adapters). */
export async function convWorkload(ctx: WorkloadContext, onRow: (row: Row) => void = () => {}): Promise<Row[]> {
  const rows: Row[] = [];
  const timing = { ...ctx.timing, warmup: 1, targetMs: 250, maxK: 16, minReps: 3 };
  for (const [si, s] of CONV_SPECS.entries()) {
    const [ho, wo] = outSize(s);
    const x = uniform(s.n * s.cin * s.h * s.w, 300 + si);
    const wt = uniform(s.cout * s.cin * s.k * s.k, 400 + si, -1 / Math.sqrt(s.cin * s.k * s.k), 1 / Math.sqrt(s.cin * s.k * s.k));
    const g = uniform(s.n * s.cout * ho * wo, 500 + si);
    const gflop = (2 * convMacs(s)) / 1e9;
    for (const backward of [false, true]) {
      const what = `conv2d ${convLabel(s)} ${backward ? 'forward+backward' : 'forward'}`;
      ctx.log(what);
      const row: Row = {
        workload: backward ? 'conv2d-fwd-bwd' : 'conv2d-fwd',
        case: `${s.n}x${s.cin}x${s.h}x${s.w}->${s.cout} k${s.k} p${s.pad}`,
        title: `conv2d ${s.cin}→${s.cout} @${s.h}² ${backward ? 'fwd+bwd' : 'fwd'}`,
        unit: 'ms', higherIsBetter: false, entries: failedEntries(ctx),
        notes: [`${what}, batch ${s.n}, stride 1, no bias; ${backward ? `y, dx and dw for a fixed upstream gradient (${(3 * gflop).toFixed(2)} GFLOP per pass)` : `${gflop.toFixed(2)} GFLOP per pass`}; all outputs read back each repetition`],
      };
      await compareCase(ctx, row, what, async (peer: Peer): Promise<Prepared | Entry> => {
        if (!peer.conv2d) return { status: 'n/a' };
        return prepared(await peer.conv2d(s, x, wt, g, backward), (o) => checkConv(s, x, wt, g, o, backward));
      }, timing, (ms) => ms);
      rows.push(row);
      onRow(row);
    }
  }
  const p = POOL_SPEC;
  const what = `max-pool ${p.k}×${p.k} [${p.n},${p.c},${p.h},${p.w}] forward+backward`;
  ctx.log(what);
  const x = uniform(p.n * p.c * p.h * p.w, 600); // continuous values: no ties, so every library's tie rule agrees
  const g = uniform(p.n * p.c * Math.floor(p.h / p.k) * Math.floor(p.w / p.k), 601);
  const row: Row = {
    workload: 'maxpool-fwd-bwd', case: `${p.n}x${p.c}x${p.h}x${p.w} k${p.k}`, title: `max-pool 2×2 ${p.c}ch @${p.h}² fwd+bwd`,
    unit: 'ms', higherIsBetter: false, entries: failedEntries(ctx),
    notes: [`${what}: y and dx for a fixed upstream gradient, both read back each repetition`],
  };
  await compareCase(ctx, row, what, async (peer: Peer): Promise<Prepared | Entry> => {
    if (!peer.maxPool) return { status: 'n/a' };
    return prepared(await peer.maxPool(p, x, g), (o) => checkMaxPool(p, x, g, o));
  }, timing, (ms) => ms);
  rows.push(row);
  onRow(row);
  return rows;
}
