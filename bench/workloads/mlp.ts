/**
 * One full training step of an MLP 784-512-512-10 on a batch of 128: Linear → BatchNorm1d → ReLU →
 * Dropout(0.5), twice, then Linear, softmax cross-entropy, SGD with momentum 0.9. ms per step
 * (k steps per repetition, then the last loss read back).
 *
 * Every peer starts from the same parameters (PyTorch's default Linear init from a fixed seed) and
 * the same batch. The check runs first: two steps with dropout off (the libraries' dropout masks come
 * from different generators, so they cannot agree), compared with webgrad's CPU reference backend
 * (float64 arithmetic): both losses, and the parameter updates of all ten tensors.
 */
import { errorMessage, rng, withTimeout } from '../common.js';
import type { MlpData, MlpParams, MlpSpec, Peer, PeerId } from '../peers/types.js';
import type { CheckResult, Entry, Row } from '../report.js';
import { compareCase, failedEntries, type Prepared, type WorkloadContext } from './context.js';

export const MLP_SPEC: MlpSpec = { batch: 128, sizes: [784, 512, 512, 10], dropout: 0.5, lr: 0.05, momentum: 0.9, eps: 1e-5, bnMomentum: 0.1 };

export function mlpInit(spec: MlpSpec, seed = 42): MlpParams {
  const r = rng(seed);
  const [d0, d1, d2, d3] = spec.sizes;
  const u = (n: number, fanIn: number): Float32Array => {
    const bound = 1 / Math.sqrt(fanIn);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (r() * 2 - 1) * bound;
    return out;
  };
  return {
    w1: u(d1 * d0, d0), b1: u(d1, d0), g1: new Float32Array(d1).fill(1), be1: new Float32Array(d1),
    w2: u(d2 * d1, d1), b2: u(d2, d1), g2: new Float32Array(d2).fill(1), be2: new Float32Array(d2),
    w3: u(d3 * d2, d2), b3: u(d3, d2),
  };
}

export function mlpData(spec: MlpSpec, seed = 7): MlpData {
  const r = rng(seed);
  const [d0, , , d3] = spec.sizes;
  const x = new Float32Array(spec.batch * d0);
  for (let i = 0; i < x.length; i++) x[i] = r(); // pixel-like values in [0, 1)
  const labels = new Int32Array(spec.batch);
  for (let i = 0; i < labels.length; i++) labels[i] = Math.floor(r() * d3);
  return { x, labels };
}

interface Trace {
  losses: [number, number];
  params: MlpParams;
}

async function checkRun(peer: Peer, spec: MlpSpec, init: MlpParams, data: MlpData): Promise<Trace> {
  const model = await peer.mlp!({ ...spec, dropout: 0 }, init, data);
  try {
    const l1 = await model.steps(1);
    const l2 = await model.steps(1);
    return { losses: [l1, l2], params: await model.params() };
  } finally {
    await model.dispose();
  }
}

export function compareTraces(init: MlpParams, ref: Trace, got: Trace): CheckResult {
  const lossErr = Math.max(...ref.losses.map((l, i) => Math.abs(got.losses[i]! - l) / Math.max(Math.abs(l), 1e-6)));
  let num = 0;
  let den = 0;
  let maxAbs = 0;
  let worst = '';
  for (const name of Object.keys(init) as (keyof MlpParams)[]) {
    const p0 = init[name];
    const r = ref.params[name];
    const g = got.params[name];
    if (g.length !== r.length) return { ok: false, detail: `parameter ${name} has ${g.length} elements, expected ${r.length}` };
    for (let i = 0; i < r.length; i++) {
      const dr = r[i]! - p0[i]!;
      const dg = g[i]! - p0[i]!;
      num += (dg - dr) ** 2;
      den += dr ** 2;
      const e = Number.isFinite(g[i]!) ? Math.abs(g[i]! - r[i]!) : Infinity;
      if (e > maxAbs) {
        maxAbs = e;
        worst = `${name}[${i}]`;
      }
    }
  }
  const updateErr = Math.sqrt(num / Math.max(den, 1e-30));
  const lossTol = 1e-3;
  const updateTol = 2e-2;
  const ok = lossErr <= lossTol && updateErr <= updateTol && Number.isFinite(updateErr);
  return {
    ok,
    maxErr: Math.max(lossErr / lossTol, updateErr / updateTol),
    tol: 1,
    detail: `2 steps, dropout off, vs webgrad CPU (float64): losses ${got.losses.map((l) => l.toFixed(5)).join(', ')} (ref ${ref.losses.map((l) => l.toFixed(5)).join(', ')}; ` +
      `rel. error ${lossErr.toExponential(2)}, tol ${lossTol}); parameter updates rel. L2 error ${updateErr.toExponential(2)} (tol ${updateTol}); max |Δparam| ${maxAbs.toExponential(2)} at ${worst}`,
  };
}

export interface MlpResult {
  rows: Row[];
  profiles: Record<string, unknown>;
  /** How each peer's step is written (MlpModel.how). */
  how: Partial<Record<PeerId, string>>;
}

export async function mlpWorkload(ctx: WorkloadContext, reference: Peer, spec: MlpSpec = MLP_SPEC): Promise<MlpResult> {
  ctx.log(`MLP ${spec.sizes.join('-')} training step, batch ${spec.batch}`);
  const init = mlpInit(spec);
  const data = mlpData(spec);
  const row: Row = {
    workload: 'mlp-train-step', case: `${spec.sizes.join('-')} batch ${spec.batch}`, title: 'MLP train step', unit: 'ms/step', higherIsBetter: false,
    entries: failedEntries(ctx),
    notes: [`MLP ${spec.sizes.join('-')}, batch ${spec.batch}, batch norm + ReLU + dropout ${spec.dropout} per hidden layer, softmax cross-entropy, SGD lr ${spec.lr} momentum ${spec.momentum}`],
  };
  const profiles: Record<string, unknown> = {};
  const how: Partial<Record<PeerId, string>> = {};
  let ref: Trace;
  try {
    ref = await withTimeout(checkRun(reference, spec, init, data), ctx.timing.timeoutMs * 2, 'the CPU reference');
    ctx.log(`  reference (webgrad CPU, dropout off) losses ${ref.losses.map((l) => l.toFixed(5)).join(', ')}`);
  } catch (e) {
    const reason = `the CPU reference could not run: ${errorMessage(e)}`;
    for (const p of ctx.peers) row.entries[p.id] = { status: 'failed', reason };
    return { rows: [row], profiles, how };
  }
  await compareCase(ctx, row, 'MLP step', async (peer): Promise<Prepared | Entry> => {
    if (!peer.mlp) return { status: 'n/a' };
    const check: CheckResult = peer === reference || peer.id === 'webgrad-cpu'
      ? { ok: true, maxErr: 0, tol: 0, detail: `is the reference (float64 CPU backend); its 2 check steps (dropout off) gave losses ${ref.losses.map((l) => l.toFixed(5)).join(', ')}` }
      : compareTraces(init, ref, await checkRun(peer, spec, init, data));
    const model = await peer.mlp(spec, init, data);
    how[peer.id] = model.how;
    let lastLoss = NaN;
    return {
      check,
      run: async (k) => { lastLoss = await model.steps(k); },
      dispose: () => model.dispose(),
      after: async (e) => {
        if (!Number.isFinite(lastLoss)) {
          e.status = 'wrong';
          e.check = { ok: false, detail: `the timed run (dropout ${spec.dropout}) ended with loss ${lastLoss}` };
          return;
        }
        e.note = `loss after all timed steps (dropout on): ${lastLoss.toFixed(4)}`;
        if (model.profile && !peer.cpu) profiles[peer.id] = await model.profile(peer.id === 'webgrad' ? 5 : 2);
      },
    };
  }, { ...ctx.timing, warmup: 2, targetMs: 250, maxK: 10, minReps: 3 }, (ms) => ms);
  return { rows: [row], profiles, how };
}
