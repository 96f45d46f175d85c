/**
 * jax-js's conv2d, max-pool and CNN-step cases, written as a JAX user would: lax.conv (NCHW, OIHW,
 * PyTorch's layouts), lax.reduceWindow with np.max for max-pooling, vjp for the backward pass with
 * a given upstream gradient, and one jit per case. jax-js is lazy and reference counted (see
 * jaxjs.ts): every output of an untimed-away pass is submitted explicitly (gpuBuffer) before it is
 * dropped, and every argument handed to a jax-js function is consumed, hence the `.ref`s.
 */
import type { CnnModel, CnnParams, CnnSpec, ConvOut, ConvSpec, GradCase, MlpData, PoolSpec } from './types.js';

type Jax = typeof import('@jax-js/jax');
type JArray = import('@jax-js/jax').Array;
type Compiled = ((...a: JArray[]) => JArray[]) & { dispose(): void };

function f32(a: ArrayLike<number>): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

function gradCase(fn: Compiled, inputs: JArray[]): GradCase {
  return {
    async run(k: number): Promise<ConvOut> {
      for (let i = 0; i < k - 1; i++) {
        const outs = fn(...inputs.map((t) => t.ref));
        for (const o of outs) await o.ref.gpuBuffer();
        for (const o of outs) o.dispose();
      }
      const outs = fn(...inputs.map((t) => t.ref));
      const [y, dx, dw] = await Promise.all(outs.map(async (o) => f32(await o.data()))); // data() consumes
      return { y: y!, ...(dx ? { dx } : {}), ...(dw ? { dw } : {}) };
    },
    dispose(): void {
      for (const t of inputs) t.dispose();
      fn.dispose();
    },
  };
}

async function upload(jax: Jax, a: Float32Array, shape: number[]): Promise<JArray> {
  const arr = jax.numpy.array(a).reshape(shape);
  await arr.blockUntilReady();
  return arr;
}

export async function jaxConv2d(jax: Jax, s: ConvSpec, x: Float32Array, weight: Float32Array, g: Float32Array, backward: boolean): Promise<GradCase> {
  const { lax, jit, vjp } = jax;
  const pad: [number, number][] = [[s.pad, s.pad], [s.pad, s.pad]];
  const conv = (a: JArray, b: JArray): JArray => lax.conv(a, b, [1, 1], pad);
  const tx = await upload(jax, x, [s.n, s.cin, s.h, s.w]);
  const tw = await upload(jax, weight, [s.cout, s.cin, s.k, s.k]);
  if (!backward) return gradCase(jit((a: JArray, b: JArray) => [conv(a, b)]) as unknown as Compiled, [tx, tw]);
  const ho = s.h + 2 * s.pad - s.k + 1;
  const wo = s.w + 2 * s.pad - s.k + 1;
  const tg = await upload(jax, g, [s.n, s.cout, ho, wo]);
  const step = (a: JArray, b: JArray, gy: JArray): JArray[] => {
    const [y, back] = vjp(conv, [a, b]) as unknown as [JArray, ((c: JArray) => [JArray, JArray]) & { dispose(): void }];
    const [dx, dw] = back(gy);
    back.dispose();
    return [y, dx, dw];
  };
  return gradCase(jit(step) as unknown as Compiled, [tx, tw, tg]);
}

export async function jaxMaxPool(jax: Jax, s: PoolSpec, x: Float32Array, g: Float32Array): Promise<GradCase> {
  const { lax, jit, vjp, numpy: np } = jax;
  const pool = (a: JArray): JArray => lax.reduceWindow(a, (w: JArray) => np.max(w), [s.k, s.k], [s.k, s.k]);
  const tx = await upload(jax, x, [s.n, s.c, s.h, s.w]);
  const tg = await upload(jax, g, [s.n, s.c, Math.floor(s.h / s.k), Math.floor(s.w / s.k)]);
  const step = (a: JArray, gy: JArray): JArray[] => {
    const [y, back] = vjp(pool, [a]) as unknown as [JArray, ((c: JArray) => [JArray]) & { dispose(): void }];
    const [dx] = back(gy);
    back.dispose();
    return [y, dx];
  };
  return gradCase(jit(step) as unknown as Compiled, [tx, tg]);
}

// Type aliases, not interfaces: jax-js's pytree type needs their implicit index signature.
type Params = { conv: JArray[]; gamma: JArray[]; beta: JArray[]; fcW: JArray; fcB: JArray };
type State = { mean: JArray[]; var: JArray[] };

export class JaxCnn implements CnnModel {
  readonly how =
    'pure functions over a params pytree: one jit(trainStep), trainStep = valueAndGrad(lossFn, { hasAux: true }) (aux = new ' +
    'batch-norm running stats) + SGD momentum with tree.map; lossFn: per block lax.conv (NCHW), batch norm from np.mean/np.var_ over ' +
    'N, H, W, nn.relu, lax.reduceWindow(np.max, 2×2); then reshape, np.dot + bias, nn.logSoftmax · one-hot';
  private p: Params;
  private m: Params;
  private s: State;
  private readonly x: JArray;
  private readonly y: JArray;
  private readonly compiled: ((...a: unknown[]) => [Params, Params, State, JArray]) & { dispose(): void };

  constructor(private readonly jax: Jax, private readonly spec: CnnSpec, init: CnnParams, data: MlpData) {
    const { numpy: np, nn, lax, tree, valueAndGrad, jit } = jax;
    const k = spec.kernel;
    const arr = (a: Float32Array, shape: number[]): JArray => np.array(a).reshape(shape);
    let cin = 1;
    const convShapes = spec.channels.map((c) => {
      const shape = [c, cin, k, k];
      cin = c;
      return shape;
    });
    const features = init.fcW.length / spec.classes;
    // The head as [features, classes] (np.dot(h, W)); features stay in PyTorch's (c, h, w) order.
    const fcT = new Float32Array(init.fcW.length);
    for (let o = 0; o < spec.classes; o++) for (let f = 0; f < features; f++) fcT[f * spec.classes + o] = init.fcW[o * features + f]!;
    this.p = {
      conv: init.conv.map((w, i) => arr(w, convShapes[i]!)),
      gamma: init.gamma.map((g) => arr(g, [g.length])),
      beta: init.beta.map((b) => arr(b, [b.length])),
      fcW: arr(fcT, [features, spec.classes]),
      fcB: arr(init.fcB, [spec.classes]),
    };
    this.m = {
      conv: convShapes.map((shape) => np.zeros(shape)),
      gamma: spec.channels.map((c) => np.zeros([c])),
      beta: spec.channels.map((c) => np.zeros([c])),
      fcW: np.zeros([features, spec.classes]),
      fcB: np.zeros([spec.classes]),
    };
    this.s = { mean: spec.channels.map((c) => np.zeros([c])), var: spec.channels.map((c) => np.ones([c])) };
    this.x = arr(data.x, [spec.batch, 1, spec.imageSize, spec.imageSize]);
    const oneHot = new Float32Array(spec.batch * spec.classes);
    data.labels.forEach((l, i) => { oneHot[i * spec.classes + l] = 1; });
    this.y = arr(oneHot, [spec.batch, spec.classes]);

    const { eps, bnMomentum: mom, batch, lr, momentum } = spec;
    const pad = k >> 1;
    const lossFn = (p: Params, s: State, x: JArray, y: JArray): [JArray, State] => {
      let h = x;
      const next: State = { mean: [], var: [] };
      spec.channels.forEach((c, i) => {
        const z = lax.conv(h, p.conv[i]!, [1, 1], [[pad, pad], [pad, pad]]);
        const n = batch * z.shape[2]! * z.shape[3]!; // values per channel (the running variance is unbiased)
        const mean = np.mean(z.ref, [0, 2, 3], { keepdims: true });
        const variance = np.var_(z.ref, [0, 2, 3], { keepdims: true });
        const norm = z.sub(mean.ref).div(np.sqrt(variance.ref.add(eps)));
        const a = nn.relu(norm.mul(p.gamma[i]!.reshape([1, c, 1, 1])).add(p.beta[i]!.reshape([1, c, 1, 1])));
        h = lax.reduceWindow(a, (w: JArray) => np.max(w), [2, 2], [2, 2]);
        next.mean.push(s.mean[i]!.mul(1 - mom).add(lax.stopGradient(mean.reshape([c])).mul(mom)));
        next.var.push(s.var[i]!.mul(1 - mom).add(lax.stopGradient(variance.reshape([c])).mul((mom * n) / (n - 1))));
      });
      const logits = np.dot(h.reshape([batch, -1]), p.fcW).add(p.fcB);
      const loss = nn.logSoftmax(logits).mul(y).sum().mul(-1 / batch);
      return [loss, next];
    };
    const trainStep = (p: Params, m: Params, s: State, x: JArray, y: JArray): [Params, Params, State, JArray] => {
      const [[loss, next], g] = valueAndGrad(lossFn, { hasAux: true })(tree.ref(p), s, x, y) as unknown as [[JArray, State], Params];
      const m2 = tree.map((mi: JArray, gi: JArray) => mi.mul(momentum).add(gi), m, g) as Params;
      const p2 = tree.map((pi: JArray, mi: JArray) => pi.sub(mi.mul(lr)), p, tree.ref(m2)) as Params;
      return [p2, m2, next, loss];
    };
    this.compiled = jit(trainStep as never) as unknown as typeof this.compiled;
  }

  async steps(k: number): Promise<number> {
    let last: JArray | null = null;
    for (let i = 0; i < k; i++) {
      last?.dispose();
      [this.p, this.m, this.s, last] = this.compiled(this.p, this.m, this.s, this.x.ref, this.y.ref);
    }
    return (await last!.data())[0]!;
  }

  async params(): Promise<CnnParams> {
    const r = async (a: JArray): Promise<Float32Array> => f32(await a.ref.data());
    const features = this.p.fcW.shape[0]!;
    const classes = this.spec.classes;
    const fcT = await r(this.p.fcW);
    const fcW = new Float32Array(fcT.length);
    for (let o = 0; o < classes; o++) for (let f = 0; f < features; f++) fcW[o * features + f] = fcT[f * classes + o]!;
    return {
      conv: await Promise.all(this.p.conv.map(r)),
      gamma: await Promise.all(this.p.gamma.map(r)),
      beta: await Promise.all(this.p.beta.map(r)),
      fcW,
      fcB: await r(this.p.fcB),
    };
  }

  dispose(): void {
    this.jax.tree.dispose(this.p);
    this.jax.tree.dispose(this.m);
    this.jax.tree.dispose(this.s);
    this.x.dispose();
    this.y.dispose();
    this.compiled.dispose();
  }
}
