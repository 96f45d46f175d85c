/**
 * TensorFlow.js 4.22 on its WebGPU backend (@tensorflow/tfjs-core + @tensorflow/tfjs-backend-webgpu).
 * In Node the backend registers itself only if `navigator.gpu` exists when it is imported, so it is
 * imported here, after setupWebGPU() installed navigator. The union package @tensorflow/tfjs is
 * loaded too, only because it is what registers the gradient functions in Node. Default flags
 * everywhere, except that the
 * tiny-op case turns WEBGPU_CPU_FORWARD off while it runs (see tinyAdd).
 */
import type { CnnModel, CnnParams, CnnSpec, ConvSpec, GradCase, MlpData, MlpModel, MlpParams, MlpSpec, OpCase, Peer, PoolSpec } from './types.js';
import { tfjsCnn, tfjsConv2d, tfjsMaxPool } from './tfjs-conv.js';
import { forLibrary, median, now, packageVersion, transpose } from '../common.js';

type TF = typeof import('@tensorflow/tfjs-core');
type Tensor = import('@tensorflow/tfjs-core').Tensor;
type Variable = import('@tensorflow/tfjs-core').Variable;


function f32(a: ArrayLike<number>): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

export function tfjsPeer(): Peer {
  let tf: TF;
  const notes: string[] = [];
  let adapter: string | null = null;

  function opCase(make: () => Tensor, inputs: Tensor[]): OpCase {
    return {
      async run(k: number): Promise<Float32Array> {
        let last: Tensor | null = null;
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
  }

  class TfMlp implements MlpModel {
    readonly how =
      'variables + tf.train.momentum(lr, 0.9).minimize(lossFn, true, vars) (minimize = tf.variableGrads + applyGradients); ' +
      'lossFn: tf.matMul + bias, tf.moments + tf.batchNorm (running stats updated with assign), tf.relu, tf.dropout, ' +
      'tf.losses.softmaxCrossEntropy on one-hot labels. Eager. Not tf.layers: its BatchNormalization and loss differ in ' +
      'details (epsilon, probability-space cross-entropy) from the other peers, and minimize() is what tf.layers runs inside';
    private readonly v: Record<keyof MlpParams, Variable>;
    private readonly running: Variable[];
    private readonly opt: ReturnType<TF['train']['momentum']>;
    private readonly x: Tensor;
    private readonly y: Tensor;

    constructor(private readonly spec: MlpSpec, init: MlpParams, data: MlpData) {
      const [d0, d1, d2, d3] = spec.sizes;
      const variable = (a: Float32Array, shape: number[], name: string): Variable => tf.variable(tf.tensor(a, shape), true, `bench_${name}_${Math.random().toString(36).slice(2)}`);
      this.v = {
        w1: variable(transpose(init.w1, d1, d0), [d0, d1], 'w1'), b1: variable(init.b1, [d1], 'b1'),
        g1: variable(init.g1, [d1], 'g1'), be1: variable(init.be1, [d1], 'be1'),
        w2: variable(transpose(init.w2, d2, d1), [d1, d2], 'w2'), b2: variable(init.b2, [d2], 'b2'),
        g2: variable(init.g2, [d2], 'g2'), be2: variable(init.be2, [d2], 'be2'),
        w3: variable(transpose(init.w3, d3, d2), [d2, d3], 'w3'), b3: variable(init.b3, [d3], 'b3'),
      };
      this.running = [tf.variable(tf.zeros([d1]), false), tf.variable(tf.ones([d1]), false), tf.variable(tf.zeros([d2]), false), tf.variable(tf.ones([d2]), false)];
      this.opt = tf.train.momentum(spec.lr, spec.momentum);
      this.x = tf.tensor2d(data.x, [spec.batch, d0]);
      const labels = tf.tensor1d(data.labels, 'int32');
      this.y = tf.cast(tf.oneHot(labels, d3), 'float32');
      labels.dispose();
    }

    private bn(h: Tensor, gamma: Variable, beta: Variable, rm: Variable, rv: Variable): Tensor {
      const { mean, variance } = tf.moments(h, 0);
      const n = this.spec.batch;
      const m = this.spec.bnMomentum;
      rm.assign(tf.tidy(() => tf.add(tf.mul(rm, 1 - m), tf.mul(mean, m))));
      rv.assign(tf.tidy(() => tf.add(tf.mul(rv, 1 - m), tf.mul(variance, (m * n) / (n - 1)))));
      return tf.batchNorm(h, mean, variance, beta, gamma, this.spec.eps);
    }

    private loss(): Tensor {
      const v = this.v;
      const [rm1, rv1, rm2, rv2] = this.running as [Variable, Variable, Variable, Variable];
      const p = this.spec.dropout;
      let h = tf.relu(this.bn(tf.add(tf.matMul(this.x, v.w1), v.b1), v.g1, v.be1, rm1, rv1));
      if (p > 0) h = tf.dropout(h, p);
      h = tf.relu(this.bn(tf.add(tf.matMul(h, v.w2), v.b2), v.g2, v.be2, rm2, rv2));
      if (p > 0) h = tf.dropout(h, p);
      const logits = tf.add(tf.matMul(h, v.w3), v.b3);
      return tf.losses.softmaxCrossEntropy(this.y, logits);
    }

    async steps(k: number): Promise<number> {
      const vars = Object.values(this.v);
      let last: Tensor | null = null;
      for (let i = 0; i < k; i++) {
        last?.dispose();
        last = this.opt.minimize(() => this.loss() as import('@tensorflow/tfjs-core').Scalar, true, vars);
      }
      const out = (await last!.data())[0]!;
      last!.dispose();
      return out;
    }

    async params(): Promise<MlpParams> {
      const [d0, d1, d2, d3] = this.spec.sizes;
      const r = async (t: Tensor): Promise<Float32Array> => f32(await t.data());
      const v = this.v;
      return {
        w1: transpose(await r(v.w1), d0, d1), b1: await r(v.b1), g1: await r(v.g1), be1: await r(v.be1),
        w2: transpose(await r(v.w2), d1, d2), b2: await r(v.b2), g2: await r(v.g2), be2: await r(v.be2),
        w3: transpose(await r(v.w3), d2, d3), b3: await r(v.b3),
      };
    }

    /** Kernels TF.js runs per step (tf.profile). */
    async profile(n: number): Promise<unknown> {
      const vars = Object.values(this.v);
      const info = await tf.profile(() => {
        for (let i = 0; i < n; i++) this.opt.minimize(() => this.loss() as import('@tensorflow/tfjs-core').Scalar, false, vars);
      });
      return { steps: n, kernelsPerStep: info.kernels.length / n, newTensors: info.newTensors };
    }

    dispose(): void {
      for (const t of Object.values(this.v)) t.dispose();
      for (const t of this.running) t.dispose();
      this.opt.dispose();
      this.x.dispose();
      this.y.dispose();
    }
  }

  const peer: Peer = {
    id: 'tfjs',
    label: 'TF.js (WebGPU)',
    version: `@tensorflow/tfjs-core ${packageVersion('@tensorflow/tfjs-core')} + @tensorflow/tfjs-backend-webgpu ${packageVersion('@tensorflow/tfjs-backend-webgpu')} (+ @tensorflow/tfjs ${packageVersion('@tensorflow/tfjs')} for its gradients)`,
    cpu: false,
    async init(): Promise<void> {
      forLibrary('tfjs');
      tf = await import('@tensorflow/tfjs-core');
      // tfjs-core alone registers no gradient functions (its register_all_gradients is shipped only as
      // extensionless ESM, which Node cannot load); the union package's Node bundle registers them
      // (and the CPU and WebGL backends, unused here) on the same tfjs-core instance.
      await import('@tensorflow/tfjs');
      await import('@tensorflow/tfjs-backend-webgpu');
      if (!tf.findBackendFactory('webgpu')) {
        throw new Error('the TF.js WebGPU backend did not register (it checks navigator.gpu when imported)');
      }
      const ok = await tf.setBackend('webgpu');
      if (!ok || tf.getBackend() !== 'webgpu') throw new Error(`tf.setBackend('webgpu') failed (backend is ${tf.getBackend()})`);
      await tf.ready();
      const info = (tf.backend() as unknown as { adapterInfo?: { vendor?: string; architecture?: string } }).adapterInfo;
      adapter = info ? [info.vendor, info.architecture].filter(Boolean).join(' / ') : null;
    },
    adapterInfo: () => adapter,
    async matmul(n: number, a: Float32Array, b: Float32Array): Promise<OpCase> {
      const ta = tf.tensor2d(a, [n, n]);
      const tb = tf.tensor2d(b, [n, n]);
      return opCase(() => tf.matMul(ta, tb), [ta, tb]);
    },
    async relu(x: Float32Array): Promise<OpCase> {
      const tx = tf.tensor1d(x);
      return opCase(() => tf.relu(tx), [tx]);
    },
    /**
     * With default flags (WEBGPU_CPU_FORWARD=true) TF.js computes ops on inputs smaller than
     * 1000 elements that are not on the GPU yet on the CPU, so a 4-element add never reaches the
     * GPU. That default is timed once and put in a note; the row measures the GPU round trip, with
     * the flag off while this case runs.
     */
    async tinyAdd(a: Float32Array, b: Float32Array): Promise<OpCase> {
      const ta = tf.tensor1d(a);
      const tb = tf.tensor1d(b);
      const times: number[] = [];
      for (let i = 0; i < 60; i++) {
        const t0 = now();
        const c = tf.add(ta, tb);
        await c.data();
        c.dispose();
        if (i >= 10) times.push(now() - t0);
      }
      notes.push(`tiny add with default flags (WEBGPU_CPU_FORWARD on: computed on the CPU, no GPU work): median ${(median(times) * 1000).toFixed(0)} µs; the table's figure has the flag off so the add runs on the GPU`);
      const env = tf.env();
      const before = env.getBool('WEBGPU_CPU_FORWARD');
      env.set('WEBGPU_CPU_FORWARD', false);
      const inner = opCase(() => tf.add(ta, tb), [ta, tb]);
      return {
        run: (k) => inner.run(k),
        dispose(): void {
          inner.dispose();
          env.set('WEBGPU_CPU_FORWARD', before);
        },
      };
    },
    async mlp(spec: MlpSpec, init: MlpParams, data: MlpData): Promise<MlpModel> {
      return new TfMlp(spec, init, data);
    },
    async conv2d(spec: ConvSpec, x: Float32Array, weight: Float32Array, g: Float32Array, backward: boolean): Promise<GradCase> {
      return tfjsConv2d(tf, spec, x, weight, g, backward);
    },
    async maxPool(spec: PoolSpec, x: Float32Array, g: Float32Array): Promise<GradCase> {
      return tfjsMaxPool(tf, spec, x, g);
    },
    async cnn(spec: CnnSpec, init: CnnParams, data: MlpData): Promise<CnnModel> {
      return tfjsCnn(tf, spec, init, data);
    },
    notes: () => notes,
  };
  return peer;
}
