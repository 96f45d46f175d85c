/**
 * One full training step of the small CNN of `webgrad train --model cnn` (src/train/cnn.ts, without
 * its dropout so that every library computes the same step): on a batch of 128 28×28 images,
 * conv 3×3 (padding 1, no bias) → BatchNorm2d → ReLU → max-pool 2×2, twice, then Linear, softmax
 * cross-entropy, SGD with momentum 0.9. ms per step (k steps per repetition, then the last loss
 * read back).
 *
 * Every peer starts from the same parameters (PyTorch's default init from a fixed seed) and the
 * same batch. The check runs first: two steps, compared with webgrad's CPU reference backend
 * (float64 arithmetic): both losses and the updates of every parameter (relative L2 error).
 */
import { errorMessage, rng, withTimeout } from '../common.js';
import type { CnnParams, CnnSpec, MlpData, Peer, PeerId } from '../peers/types.js';
import type { CheckResult, Entry, Row } from '../report.js';
import { compareCase, failedEntries, type Prepared, type WorkloadContext } from './context.js';

export const CNN_SPEC: CnnSpec = { batch: 128, imageSize: 28, channels: [16, 32], classes: 10, kernel: 3, lr: 0.05, momentum: 0.9, eps: 1e-5, bnMomentum: 0.1 };

/** Side of the feature map after the conv blocks (each halves it). */
export function cnnFinalSize(spec: CnnSpec): number {
  let s = spec.imageSize;
  for (let i = 0; i < spec.channels.length; i++) s = Math.floor(s / 2);
  return s;
}

export function cnnInit(spec: CnnSpec, seed = 42): CnnParams {
  const r = rng(seed);
  // PyTorch's default for Conv2d and Linear: uniform(±1/√fan_in) (kaiming_uniform with a = √5).
  const u = (n: number, fanIn: number): Float32Array => {
    const bound = 1 / Math.sqrt(fanIn);
    return Float32Array.from({ length: n }, () => (r() * 2 - 1) * bound);
  };
  const conv: Float32Array[] = [];
  let cin = 1;
  for (const c of spec.channels) {
    conv.push(u(c * cin * spec.kernel ** 2, cin * spec.kernel ** 2));
    cin = c;
  }
  const features = cin * cnnFinalSize(spec) ** 2;
  return {
    conv,
    gamma: spec.channels.map((c) => new Float32Array(c).fill(1)),
    beta: spec.channels.map((c) => new Float32Array(c)),
    fcW: u(spec.classes * features, features),
    fcB: u(spec.classes, features),
  };
}

export function cnnData(spec: CnnSpec, seed = 8): MlpData {
  const r = rng(seed);
  const x = Float32Array.from({ length: spec.batch * spec.imageSize ** 2 }, () => r());
  const labels = Int32Array.from({ length: spec.batch }, () => Math.floor(r() * spec.classes));
  return { x, labels };
}

function flat(p: CnnParams): [string, Float32Array][] {
  return [
    ...p.conv.map((a, i): [string, Float32Array] => [`conv${i + 1}.weight`, a]),
    ...p.gamma.map((a, i): [string, Float32Array] => [`bn${i + 1}.weight`, a]),
    ...p.beta.map((a, i): [string, Float32Array] => [`bn${i + 1}.bias`, a]),
    ['fc.weight', p.fcW],
    ['fc.bias', p.fcB],
  ];
}

interface Trace {
  losses: [number, number];
  params: CnnParams;
}

async function checkRun(peer: Peer, spec: CnnSpec, init: CnnParams, data: MlpData): Promise<Trace> {
  const model = await peer.cnn!(spec, init, data);
  try {
    const l1 = await model.steps(1);
    const l2 = await model.steps(1);
    return { losses: [l1, l2], params: await model.params() };
  } finally {
    await model.dispose();
  }
}

export function compareCnnTraces(init: CnnParams, ref: Trace, got: Trace): CheckResult {
  const lossErr = Math.max(...ref.losses.map((l, i) => Math.abs(got.losses[i]! - l) / Math.max(Math.abs(l), 1e-6)));
  const p0 = flat(init);
  const r = flat(ref.params);
  const g = flat(got.params);
  let num = 0;
  let den = 0;
  let worstName = '';
  let worstRel = 0;
  for (let t = 0; t < p0.length; t++) {
    const [name, a0] = p0[t]!;
    const ra = r[t]![1];
    const ga = g[t]![1];
    if (ga.length !== ra.length) return { ok: false, detail: `parameter ${name} has ${ga.length} elements, expected ${ra.length}` };
    let tn = 0;
    let td = 0;
    for (let i = 0; i < ra.length; i++) {
      const dr = ra[i]! - a0[i]!;
      const dg = Number.isFinite(ga[i]!) ? ga[i]! - a0[i]! : Infinity;
      tn += (dg - dr) ** 2;
      td += dr ** 2;
    }
    num += tn;
    den += td;
    const rel = Math.sqrt(tn / Math.max(td, 1e-30));
    if (!(rel <= worstRel)) {
      worstRel = rel;
      worstName = name;
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
    detail: `2 steps vs webgrad CPU (float64): losses ${got.losses.map((l) => l.toFixed(5)).join(', ')} (ref ${ref.losses.map((l) => l.toFixed(5)).join(', ')}; ` +
      `rel. error ${lossErr.toExponential(2)}, tol ${lossTol}); parameter updates rel. L2 error ${updateErr.toExponential(2)} (tol ${updateTol}); worst tensor ${worstName} (${worstRel.toExponential(2)})`,
  };
}

export interface CnnResult {
  rows: Row[];
  how: Partial<Record<PeerId, string>>;
}

export function describeCnnSpec(spec: CnnSpec): string {
  const blocks = spec.channels.map((c) => `conv${spec.kernel}×${spec.kernel}(${c})-BN-ReLU-maxpool2`).join(' → ');
  return `CNN ${spec.imageSize}×${spec.imageSize}×1: ${blocks} → linear(${spec.classes}), batch ${spec.batch}, softmax cross-entropy, SGD lr ${spec.lr} momentum ${spec.momentum}`;
}

export async function cnnWorkload(ctx: WorkloadContext, reference: Peer, spec: CnnSpec = CNN_SPEC): Promise<CnnResult> {
  ctx.log(`CNN training step: ${describeCnnSpec(spec)}`);
  const init = cnnInit(spec);
  const data = cnnData(spec);
  const row: Row = {
    workload: 'cnn-train-step', case: `${spec.channels.join('-')} batch ${spec.batch}`, title: 'CNN train step', unit: 'ms/step', higherIsBetter: false,
    entries: failedEntries(ctx),
    notes: [`${describeCnnSpec(spec)} (the CLI's --model cnn without its dropout)`],
  };
  const how: Partial<Record<PeerId, string>> = {};
  let ref: Trace;
  try {
    ref = await withTimeout(checkRun(reference, spec, init, data), ctx.timing.timeoutMs * 4, 'the CPU reference');
    ctx.log(`  reference (webgrad CPU) losses ${ref.losses.map((l) => l.toFixed(5)).join(', ')}`);
  } catch (e) {
    const reason = `the CPU reference could not run: ${errorMessage(e)}`;
    for (const p of ctx.peers) row.entries[p.id] = { status: 'failed', reason };
    return { rows: [row], how };
  }
  await compareCase(ctx, row, 'CNN step', async (peer): Promise<Prepared | Entry> => {
    if (!peer.cnn) return { status: 'n/a' };
    const check: CheckResult = peer === reference || peer.id === 'webgrad-cpu'
      ? { ok: true, maxErr: 0, tol: 0, detail: `is the reference (float64 CPU backend); its 2 check steps gave losses ${ref.losses.map((l) => l.toFixed(5)).join(', ')}` }
      : compareCnnTraces(init, ref, await checkRun(peer, spec, init, data));
    const model = await peer.cnn(spec, init, data);
    how[peer.id] = model.how;
    let lastLoss = NaN;
    return {
      check,
      run: async (k) => { lastLoss = await model.steps(k); },
      dispose: () => model.dispose(),
      after: async (e) => {
        if (!Number.isFinite(lastLoss)) {
          e.status = 'wrong';
          e.check = { ok: false, detail: `the timed run ended with loss ${lastLoss}` };
          return;
        }
        e.note = `loss after all timed steps: ${lastLoss.toFixed(4)}`;
      },
    };
  }, { ...ctx.timing, warmup: 1, targetMs: 250, maxK: 10, minReps: 3 }, (ms) => ms);
  return { rows: [row], how };
}
