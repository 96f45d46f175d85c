/**
 * The correctness checks behind bench/'s conv, max-pool and CNN rows (a figure counts only after
 * its check passed, so the checks must pass right answers and refuse wrong ones), and the layout
 * conversion the TF.js peer relies on. Right answers come from webgrad's float64 CPU backend.
 */
import { describe, expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { checkConv, checkMaxPool, convWorkload } from '../bench/workloads/conv.js';
import type { Row } from '../bench/report.js';
import { cnnInit, compareCnnTraces, CNN_SPEC } from '../bench/workloads/cnn.js';
import { permute4 } from '../bench/peers/tfjs-conv.js';
import { uniform } from '../bench/common.js';
import type { ConvOut, ConvSpec, PoolSpec } from '../bench/peers/types.js';

const S: ConvSpec = { n: 2, cin: 3, h: 5, w: 6, cout: 4, k: 3, pad: 1 };
const x = uniform(S.n * S.cin * S.h * S.w, 1);
const w = uniform(S.cout * S.cin * 9, 2);
const g = uniform(S.n * S.cout * S.h * S.w, 3);

async function convOnCpu(weight: Float32Array): Promise<ConvOut> {
  const tx = wg.tensor(x, { shape: [S.n, S.cin, S.h, S.w], device: 'cpu' }).requiresGrad_();
  const tw = wg.tensor(weight, { shape: [S.cout, S.cin, 3, 3], device: 'cpu' }).requiresGrad_();
  const y = wg.conv2d(tx, tw, null, { padding: 1 });
  y.backward(wg.tensor(g, { shape: y.shape as number[], device: 'cpu' }));
  const out = { y: Float32Array.from(await y.data()), dx: Float32Array.from(await tx.grad!.data()), dw: Float32Array.from(await tw.grad!.data()) };
  for (const t of [tx, tw, y]) t.dispose();
  return out;
}

describe('bench checks', () => {
  it('checkConv passes a right conv and its gradients, refuses a wrong one', async () => {
    const right = await convOnCpu(w);
    const ok = checkConv(S, x, w, g, right, true);
    expect(ok.ok, ok.detail).toBe(true);
    // dx off by 0.1 %: far above float32 rounding of 36-term sums.
    expect(checkConv(S, x, w, g, { ...right, dx: right.dx!.map((v) => v * 1.001) }, true).ok).toBe(false);
    // A conv missing one kernel tap (its weight zeroed): y and both gradients are wrong.
    const tapless = w.map((v, i) => (i % 9 === 8 ? 0 : v));
    const wrong = await convOnCpu(tapless);
    const r = checkConv(S, x, w, g, wrong, true);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/worst y\[/);
    // Forward only: dx and dw are not looked at.
    expect(checkConv(S, x, w, g, { y: right.y }, false).ok).toBe(true);
    expect(checkConv(S, x, w, g, { y: right.y.subarray(1) }, false).ok).toBe(false);
  });

  it('checkMaxPool is exact: the max and the gradient at its index', async () => {
    const p: PoolSpec = { n: 2, c: 3, h: 4, w: 6, k: 2 };
    const px = uniform(p.n * p.c * p.h * p.w, 4);
    const pg = uniform(p.n * p.c * 2 * 3, 5);
    const tx = wg.tensor(px, { shape: [p.n, p.c, p.h, p.w], device: 'cpu' }).requiresGrad_();
    const y = wg.maxPool2d(tx, 2);
    y.backward(wg.tensor(pg, { shape: y.shape as number[], device: 'cpu' }));
    const right = { y: Float32Array.from(await y.data()), dx: Float32Array.from(await tx.grad!.data()) };
    expect(checkMaxPool(p, px, pg, right).ok).toBe(true);
    const moved = right.dx.slice();
    const at = moved.findIndex((v) => v !== 0);
    moved[at === 0 ? 1 : at - 1] = moved[at]!; // the gradient also at a neighbour that is not the max
    expect(checkMaxPool(p, px, pg, { ...right, dx: moved }).ok).toBe(false);
    expect(checkMaxPool(p, px, pg, { y: right.y.map((v) => v + 1e-6), dx: right.dx }).ok).toBe(false);
    tx.dispose();
    y.dispose();
  });

  it('permute4 converts NCHW ↔ NHWC and OIHW ↔ HWIO and back', () => {
    const a = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i);
    const nhwc = permute4(a, [2, 3, 4, 5], [0, 2, 3, 1]);
    // element (n=1, c=2, h=3, w=4) of NCHW sits at ((1·4 + 3)·5 + 4)·3 + 2 in NHWC
    expect(nhwc[((1 * 4 + 3) * 5 + 4) * 3 + 2]).toBe(a[((1 * 3 + 2) * 4 + 3) * 5 + 4]);
    expect(permute4(nhwc, [2, 4, 5, 3], [0, 3, 1, 2])).toEqual(a);
    const hwio = permute4(a, [2, 3, 4, 5], [2, 3, 1, 0]);
    expect(permute4(hwio, [4, 5, 3, 2], [3, 2, 0, 1])).toEqual(a);
  });

  it('compareCnnTraces passes the reference itself and refuses a different update', () => {
    const init = cnnInit(CNN_SPEC);
    const step = (scale: number) => ({
      conv: init.conv.map((c) => c.map((v) => v * (1 + 0.01 * scale))),
      gamma: init.gamma.map((c) => c.map((v) => v + 0.01 * scale)),
      beta: init.beta,
      fcW: init.fcW,
      fcB: init.fcB,
    });
    const ref = { losses: [2.3, 2.2] as [number, number], params: step(1) };
    expect(compareCnnTraces(init, ref, ref).ok).toBe(true);
    expect(compareCnnTraces(init, ref, { ...ref, params: step(1.1) }).ok).toBe(false); // updates 10 % off
    expect(compareCnnTraces(init, ref, { ...ref, losses: [2.3, 2.21] }).ok).toBe(false);
  });

  it('convWorkload hands every row (the max-pool row too) to onRow as it is measured', async () => {
    const seen: Row[] = [];
    const timing = { warmup: 1, reps: 1, minReps: 1, targetMs: 1, maxK: 1, budgetMs: 1, timeoutMs: 1000 };
    const rows = await convWorkload({ peers: [], failed: new Map(), timing, large: false, log: () => {} }, (r) => seen.push(r));
    expect(seen.map((r) => r.workload)).toEqual(['conv2d-fwd', 'conv2d-fwd-bwd', 'conv2d-fwd', 'conv2d-fwd-bwd', 'maxpool-fwd-bwd']);
    expect(rows).toEqual(seen);
  });
});
