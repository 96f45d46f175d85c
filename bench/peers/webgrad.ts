/**
 * webgrad through its public API (src/index.ts), on the WebGPU backend or on the CPU reference
 * backend. Both share the engine: `init({ backend: 'webgpu' })` once, and the CPU peer places every
 * tensor with `device: 'cpu'`. The WebGPU backend object itself is reached only for `stats()` and
 * `sync()` in the training-step profile.
 */
import { readFileSync } from 'node:fs';
import * as wg from '../../src/index.js';
import { trainStep, trainSteps } from './webgrad-steps.js';
import { engine } from '../../src/engine.js';
import type { WebGPUBackend } from '../../src/backend/webgpu/backend.js';
import type { CnnModel, CnnParams, CnnSpec, ConvSpec, GradCase, MlpData, MlpModel, MlpParams, MlpSpec, OpCase, Peer, PoolSpec } from './types.js';
import { WebgradCnn, webgradConv2d, webgradMaxPool } from './webgrad-conv.js';
import { forLibrary, now } from '../common.js';

const nn = wg.nn;
type Device = 'webgpu' | 'cpu';

let initialised: Promise<wg.InitResult> | null = null;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    return `webgrad ${pkg.version}`;
  } catch {
    return 'webgrad';
  }
}

function f32(a: ArrayLike<number>): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

export function webgpuBackend(): WebGPUBackend {
  const be = engine.backends.get('webgpu');
  if (!be) throw new Error('webgrad: the webgpu backend is not initialised');
  return be as unknown as WebGPUBackend;
}

/** One case: k ops back to back (each earlier result disposed at once, as a user would), the last one read. */
function opCase(make: () => wg.Tensor, inputs: wg.Tensor[], device: Device): OpCase {
  const c: OpCase = {
    async run(k: number): Promise<Float32Array> {
      let last: wg.Tensor | null = null;
      for (let i = 0; i < k; i++) {
        last?.dispose();
        last = make();
      }
      const out = f32(await last!.data());
      last!.dispose();
      return out;
    },
    dispose(): void {
      for (const t of inputs) t.dispose();
    },
  };
  if (device === 'webgpu') {
    c.hostEncodeUs = async (n: number): Promise<number> => {
      const t0 = now();
      for (let i = 0; i < n; i++) make().dispose();
      const us = ((now() - t0) * 1000) / n;
      await webgpuBackend().sync();
      return us;
    };
  }
  return c;
}

class WebgradMlp implements MlpModel {
  readonly how: string;
  readonly model: wg.nn.Sequential;
  readonly opt: wg.optim.SGD;
  readonly x: wg.Tensor;
  readonly y: wg.Tensor;

  constructor(private readonly device: Device, spec: MlpSpec, init: MlpParams, data: MlpData) {
    this.how = device === 'webgpu'
      ? 'nn.Sequential(Linear, BatchNorm1d, ReLU, Dropout, Linear, BatchNorm1d, ReLU, Dropout, Linear); each step ' +
        'tidy(() => { crossEntropy(model.forward(x), y).backward(); opt.step(); }), then opt.zeroGrad(); optim.SGD with momentum 0.9. ' +
        'Eager, no graph capture; the WebGPU backend encodes dispatches lazily into few submits'
      : 'the same webgrad code with every tensor on the CPU reference backend (float64 arithmetic, plain loops)';
    const o = { device };
    const [d0, d1, d2, d3] = spec.sizes;
    const bn = { device, eps: spec.eps, momentum: spec.bnMomentum };
    this.model = new nn.Sequential(
      new nn.Linear(d0, d1, o), new nn.BatchNorm1d(d1, bn), new nn.ReLU(), new nn.Dropout(spec.dropout),
      new nn.Linear(d1, d2, o), new nn.BatchNorm1d(d2, bn), new nn.ReLU(), new nn.Dropout(spec.dropout),
      new nn.Linear(d2, d3, o),
    );
    const t = (a: Float32Array, shape: number[]): wg.Tensor => wg.tensor(a, { shape, device });
    const state = new Map<string, wg.Tensor>([
      ['0.weight', t(init.w1, [d1, d0])], ['0.bias', t(init.b1, [d1])],
      ['1.weight', t(init.g1, [d1])], ['1.bias', t(init.be1, [d1])],
      ['4.weight', t(init.w2, [d2, d1])], ['4.bias', t(init.b2, [d2])],
      ['5.weight', t(init.g2, [d2])], ['5.bias', t(init.be2, [d2])],
      ['8.weight', t(init.w3, [d3, d2])], ['8.bias', t(init.b3, [d3])],
    ]);
    this.model.loadStateDict(state, { strict: false });
    for (const v of state.values()) v.dispose();
    this.model.train();
    this.opt = new wg.optim.SGD(this.model.parameters(), { lr: spec.lr, momentum: spec.momentum });
    this.x = wg.tensor(data.x, { shape: [spec.batch, d0], device });
    this.y = wg.tensor(data.labels, { shape: [spec.batch], dtype: 'int32', device });
  }

  steps(k: number): Promise<number> {
    return trainSteps(this, k);
  }

  async params(): Promise<MlpParams> {
    const s = this.model.stateDict();
    const get = async (name: string): Promise<Float32Array> => f32(await s.get(name)!.data());
    return {
      w1: await get('0.weight'), b1: await get('0.bias'), g1: await get('1.weight'), be1: await get('1.bias'),
      w2: await get('4.weight'), b2: await get('4.bias'), g2: await get('5.weight'), be2: await get('5.bias'),
      w3: await get('8.weight'), b3: await get('8.bias'),
    };
  }

  /**
   * Where a step's time goes (WebGPU only): backend counters per step over `n` plain steps, then
   * `n` steps with a sync after each part (forward+loss, backward, optimizer, loss readback),
   * separating the host's encoding time from the wait for the GPU.
   */
  async profile(n: number): Promise<unknown> {
    const be = webgpuBackend();
    // n steps once before counting: a batch of n steps needs bind-group entries for each of its
    // steps' dropout parameters the first time (per new n), which is not the steady state.
    await this.steps(n);
    await be.sync();
    const s0 = be.stats();
    const m0 = be.memoryStats();
    const t0 = now();
    await this.steps(n);
    const plainMs = (now() - t0) / n;
    const s1 = be.stats();
    const m1 = be.memoryStats();
    const per = (a: number, b: number): number => Number(((b - a) / n).toFixed(2));
    // Encoding only: n steps with no readback or sync, then one sync (host cost of issuing a step).
    const e0 = now();
    for (let i = 0; i < n; i++) trainStep(this).dispose();
    const encodeMs = (now() - e0) / n;
    await be.sync();
    const parts = { forwardEncode: 0, forwardWait: 0, backwardEncode: 0, backwardWait: 0, optimizerEncode: 0, optimizerWait: 0, readback: 0 };
    for (let i = 0; i < n; i++) {
      await wg.tidy(async () => {
        let t = now();
        const lap = (): number => { const d = now() - t; t = now(); return d; };
        const loss = nn.crossEntropy(this.model.forward(this.x), this.y);
        parts.forwardEncode += lap();
        await be.sync();
        parts.forwardWait += lap();
        loss.backward();
        parts.backwardEncode += lap();
        await be.sync();
        parts.backwardWait += lap();
        this.opt.step();
        parts.optimizerEncode += lap();
        await be.sync();
        parts.optimizerWait += lap();
        await loss.item();
        parts.readback += lap();
      });
      this.opt.zeroGrad();
    }
    const partsMs = Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Number((v / n).toFixed(2))]));
    return {
      steps: n,
      msPerStepPlain: Number(plainMs.toFixed(2)),
      msPerStepHostEncodingOnly: Number(encodeMs.toFixed(2)),
      usPerDispatchHostEncoding: Number(((encodeMs * 1000) / Math.max(1, (s1.dispatches - s0.dispatches) / n)).toFixed(1)),
      perStep: {
        submits: per(s0.submits, s1.submits),
        dispatches: per(s0.dispatches, s1.dispatches),
        pipelinesCreated: per(s0.pipelinesCreated, s1.pipelinesCreated),
        bindGroupsCreated: per(s0.bindGroupsCreated, s1.bindGroupsCreated),
        buffersCreated: per(m0.buffersCreated, m1.buffersCreated),
      },
      pipelinesInCacheTotal: s1.pipelinesCreated,
      msPerPartWithSyncs: partsMs,
      note: 'perStep counts come from the plain steps (one loss readback per ' + n + ' steps); msPerPartWithSyncs adds a sync after each part, so it is slower than the plain step',
    };
  }

  dispose(): void {
    this.model.dispose();
    this.opt.dispose();
    this.x.dispose();
    this.y.dispose();
  }
}

export function webgradPeer(device: Device): Peer {
  const notes: string[] = [];
  const peer: Peer = {
    id: device === 'webgpu' ? 'webgrad' : 'webgrad-cpu',
    label: device === 'webgpu' ? 'webgrad (WebGPU)' : 'webgrad (CPU reference)',
    version: version(),
    cpu: device === 'cpu',
    ...(device === 'cpu' ? { maxMatmul: 1024 } : {}),
    async init(): Promise<void> {
      // The CPU backend is always registered; only the WebGPU one needs starting.
      if (device === 'cpu') return;
      forLibrary('webgrad');
      initialised ??= wg.init({ backend: 'webgpu' });
      const r = await initialised;
      if (r.backend !== 'webgpu') throw new Error(`webgrad init fell back to ${r.backend}: ${r.fallbackReason}`);
    },
    adapterInfo(): string | null {
      return device === 'webgpu' ? webgpuBackend().adapterInfo : null;
    },
    async matmul(n: number, a: Float32Array, b: Float32Array): Promise<OpCase> {
      const ta = wg.tensor(a, { shape: [n, n], device });
      const tb = wg.tensor(b, { shape: [n, n], device });
      return opCase(() => wg.matmul(ta, tb), [ta, tb], device);
    },
    async relu(x: Float32Array): Promise<OpCase> {
      const tx = wg.tensor(x, { shape: [x.length], device });
      return opCase(() => wg.relu(tx), [tx], device);
    },
    async tinyAdd(a: Float32Array, b: Float32Array): Promise<OpCase> {
      const ta = wg.tensor(a, { shape: [a.length], device });
      const tb = wg.tensor(b, { shape: [b.length], device });
      return opCase(() => wg.add(ta, tb), [ta, tb], device);
    },
    async mlp(spec: MlpSpec, init: MlpParams, data: MlpData): Promise<MlpModel> {
      return new WebgradMlp(device, spec, init, data);
    },
    async conv2d(spec: ConvSpec, x: Float32Array, weight: Float32Array, g: Float32Array, backward: boolean): Promise<GradCase> {
      return webgradConv2d(device, spec, x, weight, g, backward);
    },
    async maxPool(spec: PoolSpec, x: Float32Array, g: Float32Array): Promise<GradCase> {
      return webgradMaxPool(device, spec, x, g);
    },
    async cnn(spec: CnnSpec, init: CnnParams, data: MlpData): Promise<CnnModel> {
      return new WebgradCnn(device, spec, init, data);
    },
    notes: () => notes,
  };
  return peer;
}
