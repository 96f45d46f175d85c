/**
 * precompile(fn): on WebGPU it creates every pipeline fn needs (asynchronously) and runs none of
 * it, so the real step that follows creates no pipeline; existing tensors, optimizer moments,
 * batch-norm running statistics and the random stream are unchanged; tensors made inside fn are
 * placeholders whose use is refused; an async fn, a nested call and a throwing fn are handled with
 * the mode restored. On the CPU backend fn is not called.
 *
 * This file's worker has its own device and pipeline cache, so the first test sees cold pipelines.
 */
import { expect, it } from 'vitest';
import * as wg from '../src/index.js';
import type { BackendName } from '../src/backend/types.js';
import { engine, getBackend } from '../src/engine.js';
import type { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { describeEachBackend } from './helpers/backends.js';
import { expectError } from './helpers/expect-error.js';

interface Run {
  model: wg.nn.Sequential;
  opt: wg.optim.Adam;
  x: wg.Tensor;
  y: wg.Tensor;
}

/** A small net with every kind of training kernel: fused Linear+GELU, batch norm, dropout, Adam, clipping. */
function build(device: BackendName): Run {
  wg.manualSeed(3);
  const model = new wg.nn.Sequential(
    new wg.nn.Linear(5, 7, { device }), new wg.nn.BatchNorm1d(7, { device }), new wg.nn.GELU(), new wg.nn.Dropout(0.25),
    new wg.nn.Linear(7, 3, { device }),
  );
  const opt = new wg.optim.Adam(model.parameters(), { lr: 0.05 });
  const x = wg.randn([6, 5], { device });
  const y = wg.tensor([0, 1, 2, 0, 1, 2], { dtype: 'int32', device });
  return { model, opt, x, y };
}

/** One training step, synchronous (no read): what a page runs under precompile. */
function step(r: Run): void {
  wg.tidy(() => {
    const loss = wg.crossEntropy(r.model.forward(r.x), r.y);
    loss.backward();
  });
  wg.optim.clipGradNorm(r.model.parameters(), 1).dispose();
  r.opt.step();
}

async function values(ts: Iterable<wg.Tensor>): Promise<number[][]> {
  const out: number[][] = [];
  for (const t of ts) out.push(Array.from(await t.data()));
  return out;
}

function dispose(r: Run): void {
  r.opt.zeroGrad();
  r.opt.dispose();
  r.model.dispose();
  wg.dispose([r.x, r.y]);
}

describeEachBackend('precompile', (device) => {
  if (device === 'webgpu') {
    const gpu = (): WebGPUBackend => getBackend('webgpu') as WebGPUBackend;

    it('creates every pipeline a training step needs and dispatches nothing; the real step then creates none', async () => {
      const real = build(device);
      const throwaway = build(device);
      const weightsBefore = await values(throwaway.model.parameters());
      await gpu().sync();
      const before = gpu().stats();
      const r = await wg.precompile(() => step(throwaway), { device });
      const after = gpu().stats();
      // Cold cache: the step needs many pipelines, and each of its dispatches was skipped.
      expect(r.backend).toBe('webgpu');
      expect(r.pipelines).toBeGreaterThan(5);
      expect(r.dispatchesSkipped).toBeGreaterThan(r.pipelines);
      expect(after.pipelinesCreated - before.pipelinesCreated).toBe(r.pipelines);
      expect([after.dispatches, after.submits]).toEqual([before.dispatches, before.submits]);
      // The throwaway's parameters were not touched on the device (its step's dispatches never ran)...
      expect(await values(throwaway.model.parameters())).toEqual(weightsBefore);
      // ...and its gradients, made inside fn, are placeholders: no values to read.
      const grad = throwaway.model.parameters()[0]!.grad!;
      await expectError(() => grad.data(), [/made inside precompile/, /holds no values/]);
      dispose(throwaway);
      // The real step finds every pipeline cached, and it does real work.
      const created = gpu().stats().pipelinesCreated;
      const w0 = await values([real.model.parameters()[0]!]);
      step(real);
      const w1 = await values([real.model.parameters()[0]!]);
      expect(gpu().stats().pipelinesCreated).toBe(created);
      expect(w1).not.toEqual(w0);
      // Precompiling the same step again: nothing left to compile.
      const again = build(device);
      expect((await wg.precompile(() => step(again), { device })).pipelines).toBe(0);
      dispose(again);
      dispose(real);
    });

    it('leaves parameters, optimizer moments, batch-norm statistics and the random stream unchanged', async () => {
      const r = build(device);
      step(r); // moments and running statistics exist and are non-zero
      r.opt.zeroGrad();
      const modelBefore = await values(r.model.stateDict().values());
      const optBefore = await values(r.opt.stateDict().tensors.values());
      const random = { seed: engine.seed, offset: engine.randomOffset };
      const batches = r.model.stateDict().get('1.num_batches_tracked')!;
      await wg.precompile(() => step(r), { device });
      // The counter is the same tensor with its own value (an in-place update inside fn is skipped).
      expect(r.model.stateDict().get('1.num_batches_tracked')).toBe(batches);
      expect(await values(r.model.stateDict().values())).toEqual(modelBefore);
      expect(await values(r.opt.stateDict().tensors.values())).toEqual(optBefore);
      expect({ seed: engine.seed, offset: engine.randomOffset }).toEqual(random);
      // The model and optimizer stay usable: a real step after it updates the weights.
      r.opt.zeroGrad();
      step(r);
      expect(await values(r.model.parameters())).not.toEqual(modelBefore.slice(0, r.model.parameters().length));
      dispose(r);
    });

    it('overlapping calls compile a pipeline once; each resolves only once its pipelines are cached', async () => {
      const a = wg.tensor([[1, -2, 3]], { device });
      const fn = (): void => {
        wg.tidy(() => {
          wg.cumsum(wg.softplus(a), 1);
        });
      };
      const first = wg.precompile(fn, { device });
      const second = wg.precompile(fn, { device });
      const r2 = await second;
      // The second found the first's compilations in flight and waited for them instead of starting its own.
      expect(r2.pipelines).toBe(0);
      const created = gpu().stats().pipelinesCreated;
      const out = wg.cumsum(wg.softplus(a), 1);
      const want = [1, -2, 3].map((v) => Math.log1p(Math.exp(v))).reduce<number[]>((acc, v) => [...acc, (acc.at(-1) ?? 0) + v], []);
      Array.from(await out.data()).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
      expect(gpu().stats().pipelinesCreated).toBe(created);
      expect((await first).pipelines).toBeGreaterThan(0);
      wg.dispose([a, out]);
    });

    it('optimizer state first created inside fn is a placeholder: the next real step is refused, not run on garbage (hence the throwaway copy)', async () => {
      wg.manualSeed(5);
      const model = new wg.nn.Linear(4, 2, { device });
      const opt = new wg.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 }); // velocity made at the first step
      const x = wg.randn([3, 4], { device });
      const run = (): void => {
        wg.tidy(() => model.forward(x).square().mean().backward());
        opt.step();
      };
      await wg.precompile(run, { device });
      opt.zeroGrad();
      const before = await values(model.parameters());
      wg.tidy(() => model.forward(x).square().mean().backward());
      expect(() => opt.step()).toThrow(/made inside precompile/);
      expect(await values(model.parameters())).toEqual(before);
      opt.zeroGrad();
      opt.dispose();
      model.dispose();
      x.dispose();
    });

    it('refuses reads of placeholders after fn, and their use as inputs; disposing them is fine', async () => {
      const a = wg.tensor([1, 2, 3], { device });
      let made: wg.Tensor | null = null;
      await wg.precompile(() => {
        made = a.mul(2);
      }, { device });
      const t = made! as wg.Tensor;
      await expectError(() => t.data(), /made inside precompile/);
      await expectError(() => t.add(1), [/made inside precompile/, /make it again outside precompile/]);
      t.dispose();
      expect(Array.from(await a.mul(2).data())).toEqual([2, 4, 6]);
      a.dispose();
    });

    it('refuses an async fn and a nested call; a throwing fn rethrows; the mode is restored every time', async () => {
      const a = wg.tensor([1, 2], { device });
      await expectError(() => wg.precompile(async () => {
        await Promise.resolve();
      }, { device }), /fn must be synchronous/);
      let inner: Promise<unknown> | null = null;
      await wg.precompile(() => {
        inner = wg.precompile(() => undefined, { device });
      }, { device });
      await expectError(() => inner!, /cannot be nested/);
      await expect(wg.precompile(() => {
        throw new Error('boom');
      }, { device })).rejects.toThrow('boom');
      await expectError(() => wg.precompile(null as unknown as () => void, { device }), /fn must be a function, got null/);
      // Out of the mode: ops run and read for real.
      const d0 = gpu().stats().dispatches;
      expect(Array.from(await a.add(1).data())).toEqual([2, 3]);
      expect(gpu().stats().dispatches).toBeGreaterThan(d0);
      expect(gpu().compileOnly).toBeNull();
      a.dispose();
    });
  } else {
    it('on the CPU backend there is nothing to compile: fn is not called', async () => {
      let called = false;
      const r = await wg.precompile(() => {
        called = true;
      }, { device });
      expect(r).toEqual({ backend: 'cpu', pipelines: 0, dispatchesSkipped: 0 });
      expect(called).toBe(false);
    });
  }
});
