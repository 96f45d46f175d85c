/**
 * jax-js (@jax-js/jax) on its WebGPU device. jax-js looks for `navigator.gpu` (and reads
 * `navigator.userAgent`) when `init('webgpu')` runs; setupWebGPU() provides both.
 *
 * jax-js is lazy and reference counted: an op records a pending kernel, and an Array whose last
 * reference is dropped before it is read never runs its kernel. So a timed repetition submits each
 * of its k results explicitly (see opCase) and reads the last one back; every argument passed to a
 * jax-js function is consumed, hence the `.ref`s.
 */
import type { CnnModel, CnnParams, CnnSpec, ConvSpec, GradCase, MlpData, MlpModel, MlpParams, MlpSpec, OpCase, Peer, PoolSpec } from './types.js';
import { JaxCnn, jaxConv2d, jaxMaxPool } from './jaxjs-conv.js';
import { forLibrary, packageVersion, transpose } from '../common.js';

type Jax = typeof import('@jax-js/jax');
type JArray = import('@jax-js/jax').Array;


function f32(a: ArrayLike<number>): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

export function jaxjsPeer(): Peer {
  let jax: Jax;
  const notes: string[] = [];
  let adapter: string | null = null;

  async function upload(a: Float32Array, shape: number[]): Promise<JArray> {
    const arr = jax.numpy.array(a).reshape(shape);
    await arr.blockUntilReady();
    return arr;
  }

  /**
   * k ops, each dispatched as soon as it is made (gpuBuffer() prepares and submits an array's
   * pending kernels without waiting for the GPU, the nearest thing to JAX's asynchronous dispatch),
   * then the last one read back. Without the explicit submit, jax-js would drop the k - 1 results
   * that are disposed unread and run only the last.
   */
  function opCase(make: () => JArray, inputs: JArray[]): OpCase {
    return {
      async run(k: number): Promise<Float32Array> {
        for (let i = 0; i < k - 1; i++) {
          const out = make();
          await out.ref.gpuBuffer();
          out.dispose();
        }
        return f32(await make().data()); // data() consumes the array
      },
      dispose(): void {
        for (const t of inputs) t.dispose();
      },
    };
  }

  type Params = { [K in keyof MlpParams]: JArray };
  type State = { rm1: JArray; rv1: JArray; rm2: JArray; rv2: JArray };

  class JaxMlp implements MlpModel {
    readonly how =
      'pure functions over a params pytree: one jit(trainStep), where trainStep = valueAndGrad(lossFn, { hasAux: true }) ' +
      '(aux = new batch-norm running stats) + SGD momentum written with tree.map (momentum buffers in a pytree; ' +
      '@jax-js/optax is not on npm); lossFn: np.dot + bias, batch norm from np.mean/np.var_, nn.relu, dropout via ' +
      'random.bernoulli + np.where (a fresh random.key per step), nn.logSoftmax · one-hot';
    private p: Params;
    private m: Params;
    private s: State;
    private readonly x: JArray;
    private readonly y: JArray;
    private seed = 1;
    private readonly step: (p: Params, m: Params, s: State, x: JArray, y: JArray, key: JArray) => [Params, Params, State, JArray];
    private readonly stepFn: { dispose(): void };

    constructor(private readonly spec: MlpSpec, init: MlpParams, data: MlpData) {
      const np = jax.numpy;
      const [d0, d1, d2, d3] = spec.sizes;
      const arr = (a: Float32Array, shape: number[]): JArray => np.array(a).reshape(shape);
      const params = (): Params => ({
        w1: arr(transpose(init.w1, d1, d0), [d0, d1]), b1: arr(init.b1, [d1]), g1: arr(init.g1, [d1]), be1: arr(init.be1, [d1]),
        w2: arr(transpose(init.w2, d2, d1), [d1, d2]), b2: arr(init.b2, [d2]), g2: arr(init.g2, [d2]), be2: arr(init.be2, [d2]),
        w3: arr(transpose(init.w3, d3, d2), [d2, d3]), b3: arr(init.b3, [d3]),
      });
      this.p = params();
      const shapes: Record<keyof MlpParams, number[]> = {
        w1: [d0, d1], b1: [d1], g1: [d1], be1: [d1], w2: [d1, d2], b2: [d2], g2: [d2], be2: [d2], w3: [d2, d3], b3: [d3],
      };
      this.m = Object.fromEntries(Object.entries(shapes).map(([k, shape]) => [k, np.zeros(shape)])) as Params;
      this.s = { rm1: np.zeros([d1]), rv1: np.ones([d1]), rm2: np.zeros([d2]), rv2: np.ones([d2]) };
      this.x = arr(data.x, [spec.batch, d0]);
      const oneHot = new Float32Array(spec.batch * d3);
      data.labels.forEach((l, i) => { oneHot[i * d3 + l] = 1; });
      this.y = arr(oneHot, [spec.batch, d3]);

      const { nn, random, lax, tree, valueAndGrad, jit } = jax;
      const { eps, bnMomentum: mom, batch: n, dropout: rate, lr, momentum } = spec;
      const batchNorm = (h: JArray, g: JArray, b: JArray): [JArray, JArray, JArray] => {
        const mean = np.mean(h.ref, 0);
        const variance = np.var_(h.ref, 0);
        const y = h.sub(mean.ref).div(np.sqrt(variance.ref.add(eps))).mul(g).add(b);
        return [y, mean, variance];
      };
      const dropout = (h: JArray, key: JArray): JArray => {
        const keep = random.bernoulli(key, 1 - rate, h.shape);
        return np.where(keep, h.mul(1 / (1 - rate)), 0);
      };
      const lossFn = (p: Params, s: State, x: JArray, y: JArray, key: JArray): [JArray, State] => {
        let k1: JArray | null = null;
        let k2: JArray | null = null;
        if (rate > 0) [k1, k2] = random.split(key, 2) as unknown as [JArray, JArray];
        else key.dispose();
        const [h1, m1, v1] = batchNorm(np.dot(x, p.w1).add(p.b1), p.g1, p.be1);
        let a1 = nn.relu(h1);
        if (k1) a1 = dropout(a1, k1);
        const [h2, m2, v2] = batchNorm(np.dot(a1, p.w2).add(p.b2), p.g2, p.be2);
        let a2 = nn.relu(h2);
        if (k2) a2 = dropout(a2, k2);
        const logits = np.dot(a2, p.w3).add(p.b3);
        const loss = nn.logSoftmax(logits).mul(y).sum().mul(-1 / n);
        const unbiased = n / (n - 1);
        const next: State = {
          rm1: s.rm1.mul(1 - mom).add(lax.stopGradient(m1).mul(mom)),
          rv1: s.rv1.mul(1 - mom).add(lax.stopGradient(v1).mul(mom * unbiased)),
          rm2: s.rm2.mul(1 - mom).add(lax.stopGradient(m2).mul(mom)),
          rv2: s.rv2.mul(1 - mom).add(lax.stopGradient(v2).mul(mom * unbiased)),
        };
        return [loss, next];
      };
      const trainStep = (p: Params, m: Params, s: State, x: JArray, y: JArray, key: JArray): [Params, Params, State, JArray] => {
        const [[loss, next], g] = valueAndGrad(lossFn, { hasAux: true })(tree.ref(p), s, x, y, key) as unknown as [[JArray, State], Params];
        const m2 = tree.map((mi: JArray, gi: JArray) => mi.mul(momentum).add(gi), m, g) as Params;
        const p2 = tree.map((pi: JArray, mi: JArray) => pi.sub(mi.mul(lr)), p, tree.ref(m2)) as Params;
        return [p2, m2, next, loss];
      };
      const compiled = jit(trainStep as never) as unknown as ((...a: unknown[]) => [Params, Params, State, JArray]) & { dispose(): void };
      this.stepFn = compiled;
      this.step = (p, m, s, x, y, key) => compiled(p, m, s, x, y, key);
    }

    async steps(k: number): Promise<number> {
      let last: JArray | null = null;
      for (let i = 0; i < k; i++) {
        last?.dispose();
        const key = jax.random.key(this.seed++);
        [this.p, this.m, this.s, last] = this.step(this.p, this.m, this.s, this.x.ref, this.y.ref, key);
      }
      return (await last!.data())[0]!;
    }

    async params(): Promise<MlpParams> {
      const [d0, d1, d2, d3] = this.spec.sizes;
      const r = async (a: JArray): Promise<Float32Array> => f32(await a.ref.data());
      const p = this.p;
      return {
        w1: transpose(await r(p.w1), d0, d1), b1: await r(p.b1), g1: await r(p.g1), be1: await r(p.be1),
        w2: transpose(await r(p.w2), d1, d2), b2: await r(p.b2), g2: await r(p.g2), be2: await r(p.be2),
        w3: transpose(await r(p.w3), d2, d3), b3: await r(p.b3),
      };
    }

    dispose(): void {
      jax.tree.dispose(this.p);
      jax.tree.dispose(this.m);
      jax.tree.dispose(this.s);
      this.x.dispose();
      this.y.dispose();
      this.stepFn.dispose();
    }
  }

  const peer: Peer = {
    id: 'jaxjs',
    label: 'jax-js (WebGPU)',
    version: `@jax-js/jax ${packageVersion('@jax-js/jax')}`,
    cpu: false,
    async init(): Promise<void> {
      forLibrary('jax-js');
      jax = await import('@jax-js/jax');
      const devices = await jax.init('webgpu');
      if (!devices.includes('webgpu')) throw new Error(`jax-js init('webgpu') found no WebGPU device (devices: ${devices.join(', ')})`);
      jax.defaultDevice('webgpu');
      const dev = jax.getWebGPUDevice() as GPUDevice & { adapterInfo?: GPUAdapterInfo };
      const info = dev.adapterInfo;
      adapter = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ') : null;
    },
    adapterInfo: () => adapter,
    async matmul(n: number, a: Float32Array, b: Float32Array): Promise<OpCase> {
      const ta = await upload(a, [n, n]);
      const tb = await upload(b, [n, n]);
      return opCase(() => jax.numpy.matmul(ta.ref, tb.ref), [ta, tb]);
    },
    async relu(x: Float32Array): Promise<OpCase> {
      const tx = await upload(x, [x.length]);
      return opCase(() => jax.nn.relu(tx.ref), [tx]);
    },
    async tinyAdd(a: Float32Array, b: Float32Array): Promise<OpCase> {
      const ta = await upload(a, [a.length]);
      const tb = await upload(b, [b.length]);
      return opCase(() => ta.ref.add(tb.ref), [ta, tb]);
    },
    async mlp(spec: MlpSpec, init: MlpParams, data: MlpData): Promise<MlpModel> {
      return new JaxMlp(spec, init, data);
    },
    async conv2d(spec: ConvSpec, x: Float32Array, weight: Float32Array, g: Float32Array, backward: boolean): Promise<GradCase> {
      return jaxConv2d(jax, spec, x, weight, g, backward);
    },
    async maxPool(spec: PoolSpec, x: Float32Array, g: Float32Array): Promise<GradCase> {
      return jaxMaxPool(jax, spec, x, g);
    },
    async cnn(spec: CnnSpec, init: CnnParams, data: MlpData): Promise<CnnModel> {
      return new JaxCnn(jax, spec, init, data);
    },
    notes: () => notes,
  };
  return peer;
}
