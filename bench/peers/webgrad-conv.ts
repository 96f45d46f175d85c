/**
 * webgrad's conv2d, max-pool and CNN-step cases for the harness, through the public API, on the
 * WebGPU backend or the CPU reference. The CNN is the CLI's own builder (src/train/cnn.ts) without
 * dropout, loaded with the shared initial parameters under PyTorch's state-dict names.
 */
import * as wg from '../../src/index.js';
import { trainSteps } from './webgrad-steps.js';
import { engine } from '../../src/engine.js';
import { buildCnn } from '../../src/train/cnn.js';
import type { CnnModel, CnnParams, CnnSpec, ConvOut, ConvSpec, GradCase, MlpData, PoolSpec } from './types.js';

type Device = 'webgpu' | 'cpu';
const nn = wg.nn;

function f32(a: ArrayLike<number>): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

/**
 * k passes of `make` back to back (each earlier pass's outputs disposed at once, as a training loop
 * would), then every output of the last one read back.
 */
function gradCase(make: () => wg.Tensor[], inputs: wg.Tensor[]): GradCase {
  return {
    async run(k: number): Promise<ConvOut> {
      let last: wg.Tensor[] = [];
      for (let i = 0; i < k; i++) {
        for (const t of last) t.dispose();
        last = make();
      }
      const [y, dx, dw] = await Promise.all(last.map(async (t) => f32(await t.data())));
      for (const t of last) t.dispose();
      return { y: y!, ...(dx ? { dx } : {}), ...(dw ? { dw } : {}) };
    },
    dispose(): void {
      for (const t of inputs) t.dispose();
    },
  };
}

/** Takes a leaf's gradient out of it (so the next backward starts afresh, nothing accumulates). */
function takeGrad(t: wg.Tensor): wg.Tensor {
  const g = t.grad;
  if (!g) throw new Error('backward left no gradient');
  t.grad = null;
  return g;
}

export function webgradConv2d(device: Device, s: ConvSpec, x: Float32Array, weight: Float32Array, g: Float32Array, backward: boolean): GradCase {
  const tx = wg.tensor(x, { shape: [s.n, s.cin, s.h, s.w], device });
  const tw = wg.tensor(weight, { shape: [s.cout, s.cin, s.k, s.k], device });
  if (!backward) return gradCase(() => [wg.conv2d(tx, tw, null, { padding: s.pad })], [tx, tw]);
  tx.requiresGrad_();
  tw.requiresGrad_();
  const ho = s.h + 2 * s.pad - s.k + 1;
  const wo = s.w + 2 * s.pad - s.k + 1;
  const tg = wg.tensor(g, { shape: [s.n, s.cout, ho, wo], device });
  return gradCase(() => {
    const y = wg.conv2d(tx, tw, null, { padding: s.pad });
    y.backward(tg);
    return [y, takeGrad(tx), takeGrad(tw)];
  }, [tx, tw, tg]);
}

export function webgradMaxPool(device: Device, s: PoolSpec, x: Float32Array, g: Float32Array): GradCase {
  const tx = wg.tensor(x, { shape: [s.n, s.c, s.h, s.w], device }).requiresGrad_();
  const tg = wg.tensor(g, { shape: [s.n, s.c, Math.floor(s.h / s.k), Math.floor(s.w / s.k)], device });
  return gradCase(() => {
    const y = wg.maxPool2d(tx, s.k);
    y.backward(tg);
    return [y, takeGrad(tx)];
  }, [tx, tg]);
}

/** Index of each layer in buildCnn's Sequential: ToImage, then 4 per block (conv, bn, relu, pool), Flatten, Linear. */
function layerNames(blocks: number): { conv: (i: number) => string; bn: (i: number) => string; fc: string } {
  return { conv: (i) => String(1 + 4 * i), bn: (i) => String(2 + 4 * i), fc: String(1 + 4 * blocks + 1) };
}

export class WebgradCnn implements CnnModel {
  readonly how: string;
  readonly model: wg.nn.Sequential;
  readonly opt: wg.optim.SGD;
  readonly x: wg.Tensor;
  readonly y: wg.Tensor;
  private readonly names: ReturnType<typeof layerNames>;

  constructor(private readonly device: Device, private readonly spec: CnnSpec, init: CnnParams, data: MlpData) {
    this.how = device === 'webgpu'
      ? 'buildCnn() of src/train/cnn.ts (the CLI\'s --model cnn: nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Linear) without dropout; ' +
        'each step tidy(() => { crossEntropy(model.forward(x), y).backward(); opt.step(); }), then opt.zeroGrad(); optim.SGD momentum 0.9. Eager'
      : 'the same webgrad code with every tensor on the CPU reference backend (float64 arithmetic, plain loops)';
    if (spec.kernel !== 3) throw new Error('buildCnn has 3×3 convolutions only');
    const prev = engine.defaultBackend;
    engine.defaultBackend = device; // buildCnn places its parameters on the default backend
    try {
      this.model = buildCnn({ kind: 'cnn', imageSize: spec.imageSize, channels: [...spec.channels], outputs: spec.classes, dropout: 0 });
    } finally {
      engine.defaultBackend = prev;
    }
    this.names = layerNames(spec.channels.length);
    const t = (a: Float32Array, shape: number[]): wg.Tensor => wg.tensor(a, { shape, device });
    const state = new Map<string, wg.Tensor>();
    let cin = 1;
    spec.channels.forEach((c, i) => {
      state.set(`${this.names.conv(i)}.weight`, t(init.conv[i]!, [c, cin, spec.kernel, spec.kernel]));
      state.set(`${this.names.bn(i)}.weight`, t(init.gamma[i]!, [c]));
      state.set(`${this.names.bn(i)}.bias`, t(init.beta[i]!, [c]));
      cin = c;
    });
    state.set(`${this.names.fc}.weight`, t(init.fcW, [spec.classes, init.fcW.length / spec.classes]));
    state.set(`${this.names.fc}.bias`, t(init.fcB, [spec.classes]));
    this.model.loadStateDict(state, { strict: false });
    for (const v of state.values()) v.dispose();
    this.model.train();
    this.opt = new wg.optim.SGD(this.model.parameters(), { lr: spec.lr, momentum: spec.momentum });
    this.x = wg.tensor(data.x, { shape: [spec.batch, spec.imageSize ** 2], device });
    this.y = wg.tensor(data.labels, { shape: [spec.batch], dtype: 'int32', device });
  }

  steps(k: number): Promise<number> {
    return trainSteps(this, k);
  }

  async params(): Promise<CnnParams> {
    const s = this.model.stateDict();
    const get = async (name: string): Promise<Float32Array> => f32(await s.get(name)!.data());
    const n = this.spec.channels.length;
    const each = (f: (i: number) => string): Promise<Float32Array[]> => Promise.all(Array.from({ length: n }, (_, i) => get(f(i))));
    return {
      conv: await each((i) => `${this.names.conv(i)}.weight`),
      gamma: await each((i) => `${this.names.bn(i)}.weight`),
      beta: await each((i) => `${this.names.bn(i)}.bias`),
      fcW: await get(`${this.names.fc}.weight`),
      fcB: await get(`${this.names.fc}.bias`),
    };
  }

  dispose(): void {
    this.model.dispose();
    this.opt.dispose();
    this.x.dispose();
    this.y.dispose();
  }
}
