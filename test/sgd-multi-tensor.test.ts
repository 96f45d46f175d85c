/**
 * SGD's multi-tensor step (SGD.updateGroup → the sgdStepMany routine) through the public API, on
 * every backend: a parameter that gets its first gradient on a later step starts its momentum
 * buffer from that gradient (PyTorch's first step), while the others continue theirs, though all
 * are updated in one routine call per first-step flag. Expected values are PyTorch's update
 * written out in float64 here (float32 tolerance).
 */
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { optim, sum, mul, tensor, tidy } from '../src/index.js';

describeEachBackend('SGD multi-tensor step', (device) => {
  it('momentum buffers start at each parameter\'s own first gradient (a parameter joining on step 2)', async () => {
    const lr = 0.1;
    const mom = 0.9;
    const wd = 0.01;
    // Dampening: the first step (buf = g, undamped) differs from a zero buffer's (1 − d)·g.
    const damp = 0.25;
    const init = [[0.5, -1, 2, 0.25, 3], [1, 2, 3], [-0.5, 0.75, 1.5, -2]];
    const coef = [[1, 2, 3, 4, 5], [-1, 0.5, 2], [3, -2, 1, 0.5]];
    const params = init.map((v) => tensor(v, { device, requiresGrad: true }));
    const opt = new optim.SGD(params, { lr, momentum: mom, weightDecay: wd, dampening: damp });
    // Reference state (float64): p, buf (null until the first gradient).
    const ref = init.map((v) => ({ p: [...v], buf: null as number[] | null }));
    for (let step = 1; step <= 3; step++) {
      // Step 1: parameter 1 gets no gradient (it is not in the loss).
      const used = step === 1 ? [0, 2] : [0, 1, 2];
      tidy(() => {
        let loss = sum(mul(params[used[0]!]!, tensor(coef[used[0]!]!, { device })));
        for (const k of used.slice(1)) loss = loss.add(sum(mul(params[k]!, tensor(coef[k]!, { device }))));
        loss.backward();
      });
      opt.step();
      opt.zeroGrad();
      for (const k of used) {
        const r = ref[k]!;
        const g = coef[k]!.map((c, i) => c + wd * r.p[i]!);
        r.buf = r.buf === null ? g : r.buf.map((b, i) => mom * b + (1 - damp) * g[i]!);
        r.p = r.p.map((p, i) => p - lr * r.buf![i]!);
      }
      for (let k = 0; k < 3; k++) {
        const got = Array.from(await params[k]!.data());
        got.forEach((v, i) => expect(Math.abs(v - ref[k]!.p[i]!), `step ${step} param ${k}[${i}]: ${v} vs ${ref[k]!.p[i]}`).toBeLessThan(1e-5 * Math.max(1, Math.abs(ref[k]!.p[i]!))));
      }
    }
    opt.dispose();
    for (const p of params) p.dispose();
  });
});
