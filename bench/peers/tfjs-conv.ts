/**
 * TF.js's conv2d, max-pool and CNN-step cases. TF.js's native layouts are NHWC activations and
 * HWIO filters (its WebGPU conv kernels are written for them), so inputs are converted on the host
 * before anything is timed and results converted back for the check. Gradients come from
 * tf.valueAndGrads with the upstream gradient as dy; the training step is
 * tf.train.momentum(...).minimize (tf.variableGrads + applyGradients), as in the MLP row.
 */
import type { CnnModel, CnnParams, CnnSpec, ConvOut, ConvSpec, GradCase, MlpData, PoolSpec } from './types.js';
import { cnnFinalSize } from '../workloads/cnn.js';

type TF = typeof import('@tensorflow/tfjs-core');
type Tensor = import('@tensorflow/tfjs-core').Tensor;
type Tensor4D = import('@tensorflow/tfjs-core').Tensor4D;
type Variable = import('@tensorflow/tfjs-core').Variable;
type Scalar = import('@tensorflow/tfjs-core').Scalar;

function f32(a: ArrayLike<number>): Float32Array {
  return a instanceof Float32Array ? a : Float32Array.from(a);
}

/** [a, b, c, d] row-major → the axes reordered by `perm` (out axis i = in axis perm[i]). */
export function permute4(src: Float32Array, shape: readonly [number, number, number, number], perm: readonly [number, number, number, number]): Float32Array {
  const out = new Float32Array(src.length);
  const inStride = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
  const os = perm.map((p) => shape[p]!) as [number, number, number, number];
  let o = 0;
  for (let a = 0; a < os[0]; a++) for (let b = 0; b < os[1]; b++) for (let c = 0; c < os[2]; c++) for (let d = 0; d < os[3]; d++) {
    out[o++] = src[a * inStride[perm[0]]! + b * inStride[perm[1]]! + c * inStride[perm[2]]! + d * inStride[perm[3]]!]!;
  }
  return out;
}
const NCHW_TO_NHWC = [0, 2, 3, 1] as const;
const NHWC_TO_NCHW = [0, 3, 1, 2] as const;
const OIHW_TO_HWIO = [2, 3, 1, 0] as const;
const HWIO_TO_OIHW = [3, 2, 0, 1] as const;

function gradCase(tf: TF, make: () => Tensor[], toTorch: ((a: Float32Array) => Float32Array)[], inputs: Tensor[]): GradCase {
  return {
    async run(k: number): Promise<ConvOut> {
      let last: Tensor[] = [];
      for (let i = 0; i < k; i++) {
        tf.dispose(last);
        last = make();
      }
      const [y, dx, dw] = await Promise.all(last.map(async (t, i) => toTorch[i]!(f32(await t.data()))));
      tf.dispose(last);
      return { y: y!, ...(dx ? { dx } : {}), ...(dw ? { dw } : {}) };
    },
    dispose(): void {
      tf.dispose(inputs);
    },
  };
}

export function tfjsConv2d(tf: TF, s: ConvSpec, x: Float32Array, weight: Float32Array, g: Float32Array, backward: boolean): GradCase {
  if (2 * s.pad !== s.k - 1) throw new Error(`only 'same' padding is set up here (pad ${s.pad}, kernel ${s.k})`);
  const ho = s.h, wo = s.w;
  const tx = tf.tensor4d(permute4(x, [s.n, s.cin, s.h, s.w], NCHW_TO_NHWC), [s.n, s.h, s.w, s.cin]);
  const tw = tf.tensor4d(permute4(weight, [s.cout, s.cin, s.k, s.k], OIHW_TO_HWIO), [s.k, s.k, s.cin, s.cout]);
  const yBack = (a: Float32Array): Float32Array => permute4(a, [s.n, ho, wo, s.cout], NHWC_TO_NCHW);
  if (!backward) return gradCase(tf, () => [tf.conv2d(tx, tw, 1, 'same')], [yBack], [tx, tw]);
  const tg = tf.tensor4d(permute4(g, [s.n, s.cout, ho, wo], NCHW_TO_NHWC), [s.n, ho, wo, s.cout]);
  const f = tf.valueAndGrads((a: Tensor, b: Tensor) => tf.conv2d(a as Tensor4D, b as Tensor4D, 1, 'same'));
  return gradCase(tf, () => {
    const { value, grads } = f([tx, tw], tg);
    return [value, grads[0]!, grads[1]!];
  }, [
    yBack,
    (a) => permute4(a, [s.n, s.h, s.w, s.cin], NHWC_TO_NCHW),
    (a) => permute4(a, [s.k, s.k, s.cin, s.cout], HWIO_TO_OIHW),
  ], [tx, tw, tg]);
}

export function tfjsMaxPool(tf: TF, s: PoolSpec, x: Float32Array, g: Float32Array): GradCase {
  const ho = Math.floor(s.h / s.k), wo = Math.floor(s.w / s.k);
  const tx = tf.tensor4d(permute4(x, [s.n, s.c, s.h, s.w], NCHW_TO_NHWC), [s.n, s.h, s.w, s.c]);
  const tg = tf.tensor4d(permute4(g, [s.n, s.c, ho, wo], NCHW_TO_NHWC), [s.n, ho, wo, s.c]);
  const f = tf.valueAndGrads((a: Tensor) => tf.maxPool(a as Tensor4D, s.k, s.k, 'valid'));
  return gradCase(tf, () => {
    const { value, grads } = f([tx], tg);
    return [value, grads[0]!];
  }, [
    (a) => permute4(a, [s.n, ho, wo, s.c], NHWC_TO_NCHW),
    (a) => permute4(a, [s.n, s.h, s.w, s.c], NHWC_TO_NCHW),
  ], [tx, tg]);
}

/** The head's weight: PyTorch [classes, C·S·S] with features in (c, h, w) order ↔ TF.js [S·S·C, classes] in (h, w, c) order. */
function headToTf(w: Float32Array, classes: number, c: number, s: number): Float32Array {
  // [classes, C, S, S] → [S, S, C, classes]
  return permute4(w, [classes, c, s, s], [2, 3, 1, 0]);
}
function headFromTf(w: Float32Array, classes: number, c: number, s: number): Float32Array {
  // [S, S, C, classes] → [classes, C, S, S]
  return permute4(w, [s, s, c, classes], [3, 2, 0, 1]);
}

export class TfCnn implements CnnModel {
  readonly how =
    'NHWC variables + tf.train.momentum(lr, 0.9).minimize(lossFn, true, vars); lossFn: per block tf.conv2d(x, w, 1, \'same\'), ' +
    'tf.moments over N, H, W + tf.batchNorm (running stats updated with assign), tf.relu, tf.maxPool(2, 2, \'valid\'); then reshape, ' +
    'tf.matMul + bias, tf.losses.softmaxCrossEntropy on one-hot labels. Eager';
  private readonly conv: Variable[];
  private readonly gamma: Variable[];
  private readonly beta: Variable[];
  private readonly fcW: Variable;
  private readonly fcB: Variable;
  private readonly running: [Variable, Variable][];
  private readonly opt: ReturnType<TF['train']['momentum']>;
  private readonly x: Tensor4D;
  private readonly y: Tensor;

  constructor(private readonly tf: TF, private readonly spec: CnnSpec, init: CnnParams, data: MlpData) {
    const tag = Math.random().toString(36).slice(2);
    const v = (a: Float32Array, shape: number[], name: string): Variable => tf.variable(tf.tensor(a, shape), true, `bench_cnn_${name}_${tag}`);
    const k = spec.kernel;
    let cin = 1;
    this.conv = spec.channels.map((c, i) => {
      const w = v(permute4(init.conv[i]!, [c, cin, k, k], OIHW_TO_HWIO), [k, k, cin, c], `conv${i}`);
      cin = c;
      return w;
    });
    this.gamma = spec.channels.map((c, i) => v(init.gamma[i]!, [c], `gamma${i}`));
    this.beta = spec.channels.map((c, i) => v(init.beta[i]!, [c], `beta${i}`));
    const s = cnnFinalSize(spec);
    this.fcW = v(headToTf(init.fcW, spec.classes, cin, s), [s * s * cin, spec.classes], 'fcW');
    this.fcB = v(init.fcB, [spec.classes], 'fcB');
    this.running = spec.channels.map((c) => [tf.variable(tf.zeros([c]), false), tf.variable(tf.ones([c]), false)]);
    this.opt = tf.train.momentum(spec.lr, spec.momentum);
    this.x = tf.tensor4d(data.x, [spec.batch, spec.imageSize, spec.imageSize, 1]); // one channel: NCHW and NHWC coincide
    const labels = tf.tensor1d(data.labels, 'int32');
    this.y = tf.cast(tf.oneHot(labels, spec.classes), 'float32');
    labels.dispose();
  }

  private loss(): Scalar {
    const tf = this.tf;
    const { eps, bnMomentum: m } = this.spec;
    let h: Tensor4D = this.x;
    this.spec.channels.forEach((_, i) => {
      const z = tf.conv2d(h, this.conv[i] as unknown as Tensor4D, 1, 'same');
      const { mean, variance } = tf.moments(z, [0, 1, 2]);
      const n = z.shape[0] * z.shape[1] * z.shape[2];
      const [rm, rv] = this.running[i]!;
      rm.assign(tf.tidy(() => tf.add(tf.mul(rm, 1 - m), tf.mul(mean, m))));
      rv.assign(tf.tidy(() => tf.add(tf.mul(rv, 1 - m), tf.mul(variance, (m * n) / (n - 1)))));
      const a = tf.relu(tf.batchNorm(z, mean, variance, this.beta[i]!, this.gamma[i]!, eps));
      h = tf.maxPool(a as Tensor4D, 2, 2, 'valid') as Tensor4D;
    });
    const flat = tf.reshape(h, [this.spec.batch, -1]);
    const logits = tf.add(tf.matMul(flat, this.fcW), this.fcB);
    return tf.losses.softmaxCrossEntropy(this.y, logits) as Scalar;
  }

  private vars(): Variable[] {
    return [...this.conv, ...this.gamma, ...this.beta, this.fcW, this.fcB];
  }

  async steps(k: number): Promise<number> {
    const vars = this.vars();
    let last: Tensor | null = null;
    for (let i = 0; i < k; i++) {
      last?.dispose();
      last = this.opt.minimize(() => this.loss(), true, vars);
    }
    const out = (await last!.data())[0]!;
    last!.dispose();
    return out;
  }

  async params(): Promise<CnnParams> {
    const r = async (t: Tensor): Promise<Float32Array> => f32(await t.data());
    const k = this.spec.kernel;
    const conv: Float32Array[] = [];
    let cin = 1;
    for (const [i, c] of this.spec.channels.entries()) {
      conv.push(permute4(await r(this.conv[i]!), [k, k, cin, c], HWIO_TO_OIHW));
      cin = c;
    }
    return {
      conv,
      gamma: await Promise.all(this.gamma.map(r)),
      beta: await Promise.all(this.beta.map(r)),
      fcW: headFromTf(await r(this.fcW), this.spec.classes, cin, cnnFinalSize(this.spec)),
      fcB: await r(this.fcB),
    };
  }

  dispose(): void {
    this.tf.dispose([...this.vars(), ...this.running.flat(), this.x, this.y]);
    this.opt.dispose();
  }
}

export function tfjsCnn(tf: TF, spec: CnnSpec, init: CnnParams, data: MlpData): CnnModel {
  return new TfCnn(tf, spec, init, data);
}
