/**
 * clipGradNorm when gradients explode (scaled norms, normType 2 / 1 / Infinity, errorIfNonfinite)
 * against PyTorch (test/fixtures/nan_numerics.json, `clip`), and the device-side checks that report
 * at the next read: crossEntropy's out-of-range labels and errorIfNonfinite on WebGPU.
 *
 * The expected clip values are PyTorch's float64 results (the exact norms), rounded to float32:
 * PyTorch 1.13 in float32 squares without scaling, so its norm of [1e20, 1e20, 0] is Inf and of
 * [1e-30, 1e-30, 0] is 0 (recorded in the fixture as float32Norm); webgrad's float32 gives the true norms.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { expectNoLeak } from './helpers/oracle.js';
import type { BackendName } from '../src/backend/types.js';
import type { Tensor } from '../src/tensor.js';
import { crossEntropy, optim, tensor, zeros } from '../src/index.js';
import { dispose } from '../src/lifetime.js';
import { expectError, expectErrorSync } from './helpers/expect-error.js';

type Enc = number | string;
function dec(v: Enc): number {
  if (typeof v === 'number') return v;
  const named: Record<string, number> = { NaN: Number.NaN, Infinity: Infinity, '-Infinity': -Infinity, '-0': -0 };
  const n = named[v];
  if (n === undefined) throw new Error(`fixture: unknown value ${v}`);
  return n;
}

interface ClipCase { name: string; grads: Enc[][]; normType: Enc; maxNorm: number; norm: Enc; clipped: Enc[][]; float32Norm: Enc }
const CLIP = (JSON.parse(readFileSync(new URL('./fixtures/nan_numerics.json', import.meta.url), 'utf8')) as {
  clip: { cases: ClipCase[]; errorIfNonfinite: Record<string, string | null> };
}).clip;

/** NaN is NaN, ±Inf exact, else within rtol of the float32-rounded expected value. */
function near(actual: number, expected: number, rtol: number): boolean {
  const e = Math.fround(expected);
  if (Number.isNaN(e)) return Number.isNaN(actual);
  if (!Number.isFinite(e)) return actual === e;
  return Math.abs(actual - e) <= rtol * Math.abs(e) + 1e-45;
}

function params(grads: number[][], device: BackendName): Tensor[] {
  return grads.map((g) => {
    const p = zeros([g.length], { dtype: 'float32', device }).requiresGrad_(true);
    p.grad = tensor(g, { dtype: 'float32', device });
    return p;
  });
}

it('the fixture shows why scaling matters: PyTorch float32 overflows and underflows where float64 does not', () => {
  const huge = CLIP.cases.find((c) => c.name === 'huge [1e20, 1e20, 0] norm 2.0')!;
  const tiny = CLIP.cases.find((c) => c.name === 'tiny [1e-30, 1e-30, 0] norm 2.0')!;
  expect([dec(huge.float32Norm), dec(tiny.float32Norm)]).toEqual([Infinity, 0]);
  expect(Math.abs(dec(huge.norm) / (Math.SQRT2 * 1e20) - 1)).toBeLessThan(1e-6);
  expect(Math.abs(dec(tiny.norm) / (Math.SQRT2 * 1e-30) - 1)).toBeLessThan(1e-6);
});

describeEachBackend('clipGradNorm with scaling, normType and errorIfNonfinite', (device) => {
  const rtol = device === 'cpu' ? 1e-6 : 2e-6;

  for (const c of CLIP.cases) {
    it(`${c.name} (maxNorm ${c.maxNorm}): norm and clipped gradients as PyTorch float64`, async () => {
      await expectNoLeak(c.name, async () => {
        const ps = params(c.grads.map((g) => g.map(dec)), device);
        const normType = dec(c.normType);
        const norm = optim.clipGradNorm(ps, c.maxNorm, { normType });
        const got = (await norm.data())[0]!;
        expect(near(got, dec(c.norm), rtol), `norm: got ${got}, PyTorch (float64) ${dec(c.norm)}`).toBe(true);
        for (const [i, p] of ps.entries()) {
          const g = Array.from(await p.grad!.data());
          const e = c.clipped[i]!.map(dec);
          const bad = g.map((v, j) => (near(v, e[j]!, rtol) ? null : `[${j}] got ${v}, PyTorch ${e[j]}`)).filter((x) => x);
          expect(bad, `param ${i} gradient after clipping`).toEqual([]);
        }
        dispose([norm, ...ps]);
      });
    });
  }

  it('gradients below maxNorm are left exactly as they were', async () => {
    const g = [0.1, -0.2, 3e-7, 1e20];
    const ps = params([g], device);
    const norm = optim.clipGradNorm(ps, 1e21);
    expect(Array.from(await ps[0]!.grad!.data())).toEqual(g.map(Math.fround));
    dispose([norm, ...ps]);
  });

  it('normType other than 1, 2 or Infinity is refused at the call', () => {
    const ps = params([[1, 2]], device);
    expectErrorSync(() => optim.clipGradNorm(ps, 1, { normType: 3 }), /clipGradNorm: normType must be 1, 2 or Infinity, got 3/);
    dispose(ps);
  });

  it('errorIfNonfinite: finite norms pass, even [1e20, 1e20] (PyTorch float32 would see Inf)', async () => {
    expect(CLIP.errorIfNonfinite.finite).toBeNull();
    const ps = params([[1e20, 1e20]], device);
    const norm = optim.clipGradNorm(ps, 1, { errorIfNonfinite: true });
    expect(Math.abs((await norm.data())[0]! / (Math.SQRT2 * 1e20) - 1)).toBeLessThan(1e-6);
    dispose([norm, ...ps]);
  });

  for (const [kind, g] of [['Inf', [1, Infinity]], ['NaN', [Number.NaN, 1]]] as const) {
    it(`errorIfNonfinite with a${kind === 'Inf' ? 'n' : ''} ${kind} gradient throws (PyTorch: "${CLIP.errorIfNonfinite[kind]!.slice(0, 40)}...")`, async () => {
      expect(CLIP.errorIfNonfinite[kind]).toMatch(/non-finite/);
      const ps = params([[...g]], device);
      const message = /clipGradNorm: the total norm of order 2 of the gradients is (NaN|Infinity), so it cannot be clipped/;
      if (device === 'cpu') {
        // At the call, with the gradients unchanged.
        expectErrorSync(() => optim.clipGradNorm(ps, 1, { errorIfNonfinite: true }), message);
        expect(Array.from(await ps[0]!.grad!.data())).toEqual([...g]);
      } else {
        // On the device: no sync at the call; the next read (of anything) throws, once.
        const norm = optim.clipGradNorm(ps, 1, { errorIfNonfinite: true });
        const other = tensor([1, 2, 3], { device });
        await expectError(() => other.data(), message);
        expect(Array.from(await other.data())).toEqual([1, 2, 3]);
        dispose([norm, other]);
      }
      dispose(ps);
    });
  }

  it('without errorIfNonfinite a non-finite norm is returned, not thrown (PyTorch default)', async () => {
    const ps = params([[1, Infinity]], device);
    const norm = optim.clipGradNorm(ps, 1);
    expect((await norm.data())[0]).toBe(Infinity);
    dispose([norm, ...ps]);
  });
});

describeEachBackend('crossEntropy with a label outside [0, C)', (device) => {
  const logits = (n: number, c: number) => tensor(Array.from({ length: n * c }, (_, i) => Math.sin(i)), { shape: [n, c], device });

  it('is reported naming the op, the label and its row (CPU: at the call; WebGPU: at the next read)', async () => {
    const x = logits(4, 3);
    const labels = tensor([0, 2, 7, -1], { shape: [4], dtype: 'int32', device });
    if (device === 'cpu') {
      expectErrorSync(() => crossEntropy(x, labels), /label 7 at row 2 is outside the 3 classes/);
    } else {
      const loss = crossEntropy(x, labels); // no readback here
      await expectError(() => loss.data(), /crossEntropy: label 7 at row 2 is outside the 3 classes \[0, 3\)/);
      // Reported once: the flag is cleared, and a valid call reads normally afterwards.
      const ok = crossEntropy(x, tensor([0, 1, 2, 0], { shape: [4], dtype: 'int32', device }), 'none');
      expect(Array.from(await ok.data()).every(Number.isFinite)).toBe(true);
      dispose([loss, ok]);
    }
    dispose([x, labels]);
  });

  it('on WebGPU: the first bad row among many (rows past one workgroup stride), found in a loop that never reads', async () => {
    if (device === 'cpu') return;
    await expectNoLeak('labels', async () => {
      const n = 1000;
      const c = 10;
      const x = logits(n, c);
      const good = tensor(Array.from({ length: n }, (_, i) => i % c), { shape: [n], dtype: 'int32', device });
      const badLabels = Array.from({ length: n }, (_, i) => i % c);
      badLabels[900] = -3;
      badLabels[700] = 10;
      const bad = tensor(badLabels, { shape: [n], dtype: 'int32', device });
      const losses: Tensor[] = [];
      for (let step = 0; step < 5; step++) losses.push(crossEntropy(x, step === 3 ? bad : good));
      await expectError(() => losses[4]!.data(), /crossEntropy: label 10 at row 700 is outside the 10 classes/);
      expect(Number.isFinite((await losses[0]!.data())[0])).toBe(true);
      dispose([x, good, bad, ...losses]);
    });
  });
});
