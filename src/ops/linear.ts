/**
 * A fully connected layer in one dispatch: y = act(x·Wᵀ + b), with W stored [out, in] as in
 * PyTorch (the kernel reads it transposed in place). The gradient recovers act' from the saved
 * output, so the pre-activation is never stored.
 */
import { DEFAULT_LEAKY_RELU_SLOPE, type EpilogueActivation } from '../backend/types.js';
import { OUTPUT_GRAD_ACTIVATIONS } from '../backend/fused-types.js';
import type { OutputGradActivation } from '../backend/fused-types.js';
import { Tensor } from '../tensor.js';
import { record } from '../autograd/node.js';
import type { GradRules } from '../autograd/rules.js';
import { fail, shapeStr } from '../errors.js';
import { checkFloat, checkSameBackend, checkSameDtype, checkTensor } from './checks.js';
import { matmulT } from './matmul.js';
import { sum } from './reduce.js';
import { applyUnary } from './unary.js';
import { reshape } from './shape-ops.js';
import { autocastEnabled } from '../amp/state.js';
import { castGrad } from '../amp/cast.js';
import { tidy } from '../lifetime.js';

export type LinearActivation = 'none' | OutputGradActivation | 'gelu';

const FUSABLE: ReadonlySet<string> = new Set<string>(['none', ...OUTPUT_GRAD_ACTIVATIONS]);

export interface LinearOptions {
  activation?: LinearActivation;
  /** Negative slope for leakyRelu (must be positive to fuse; default 0.01). */
  negativeSlope?: number;
}

/** act(x·weightᵀ + bias) for x [..., in], weight [out, in], bias [out] or null. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null, options: LinearOptions = {}): Tensor {
  const op = 'linear';
  checkTensor(op, 'input', x);
  checkTensor(op, 'weight', weight);
  checkFloat(op, 'input', x);
  checkSameBackend(op, x, weight);
  // Under autocast a float32 layer takes float32 or float16 input (the previous layer's output).
  if (autocastEnabled() && weight.dtype === 'float32' && (x.dtype === 'float32' || x.dtype === 'float16')) {
    return autocastLinear(x, weight, bias, options);
  }
  checkSameDtype(op, x, weight);
  if (weight.rank !== 2) fail(op, `weight must be 2-D [out, in], got ${shapeStr(weight.shape)}`);
  const [outF, inF] = weight.shape as [number, number];
  if (x.rank < 1 || x.shape[x.rank - 1] !== inF) fail(op, `input's last dimension must be ${inF} (weight ${shapeStr(weight.shape)}), got input ${shapeStr(x.shape)}`);
  if (bias) {
    checkTensor(op, 'bias', bias);
    checkSameBackend(op, x, bias);
    checkSameDtype(op, x, bias);
    if (bias.rank !== 1 || bias.shape[0] !== outF) fail(op, `bias must have shape [${outF}], got ${shapeStr(bias.shape)}`);
  }
  const activation = options.activation ?? 'none';
  const slope = options.negativeSlope ?? DEFAULT_LEAKY_RELU_SLOPE;
  if (activation === 'leakyRelu' && !(slope > 0)) fail(op, `negativeSlope must be positive for a fused leakyRelu, got ${slope}`);
  if (!FUSABLE.has(activation)) {
    // gelu's derivative needs its input, so it runs as a separate op after the fused matmul+bias.
    if (activation !== 'gelu') fail(op, `unknown activation '${String(activation)}'`);
    const pre = linear(x, weight, bias);
    const y = applyUnary('gelu', 'linear', pre);
    pre.dispose();
    return y;
  }
  const rows = x.size / inF;
  const leading = x.shape.slice(0, -1);
  const storage = x.backend.matmul(x._storage(op), weight._storage(op), {
    batch: 1, m: rows, k: inF, n: outF, transA: false, transB: true, aBatchStride: 0, bBatchStride: 0,
    activation: activation as EpilogueActivation, alpha: slope,
    ...(bias ? { bias: bias._storage(op) } : {}),
  });
  const out = Tensor._fromStorage(x.backend, storage, [...leading, outF], op);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record('linear', inputs, out, (save) => ({
    // Stryker disable next-line ConditionalExpression,EqualityOperator: hasBias is informational; linear's gradient rule reads needs[2], not hasBias
    x: save(x), weight: save(weight), y: save(out), activation: activation as 'none' | OutputGradActivation, slope, hasBias: bias !== null,
  }));
}

/**
 * Under autocast: the product in float16 (f32 accumulation) from float16 copies of x, weight and
 * bias, made with casts autograd sees through, so the float32 weights get float32 gradients. The
 * activation runs as its own op on the float16 result (as torch's linear then act): the fused
 * output-gradient routine is float32 only.
 */
function autocastLinear(x: Tensor, weight: Tensor, bias: Tensor | null, options: LinearOptions): Tensor {
  const activation = options.activation ?? 'none';
  const slope = options.negativeSlope ?? DEFAULT_LEAKY_RELU_SLOPE;
  if (!FUSABLE.has(activation) && activation !== 'gelu') fail('linear', `unknown activation '${String(activation)}'`);
  return tidy(() => {
    // The float16 call checks shapes and the activation name like any other.
    const y = linear(castGrad(x, 'float16'), castGrad(weight, 'float16'), bias ? castGrad(bias, 'float16') : null);
    return activation === 'none' ? y : applyUnary(activation, 'linear', y, activation === 'leakyRelu' ? slope : 0);
  });
}

export const linearGrads: GradRules<'linear'> = {
  linear: (dy, { x, weight, y, activation, slope }, needs) => {
    const inF = weight.shape[1]!;
    const outF = weight.shape[0]!;
    const dPre = activation === 'none'
      ? dy
      : Tensor._fromStorage(dy.backend, dy.backend.routine('activationGradFromOutput', { y: y._storage('linear'), dy: dy._storage('linear') }, { op: activation, param: slope }), dy.shape, 'linear (backward)');
    const d2 = reshape(dPre, [dPre.size / outF, outF]);
    const x2 = reshape(x, [x.size / inF, inF]);
    const dx = needs[0] ? reshape(matmulT(d2, weight, false, false, 'linear'), x.shape) : null;
    const dw = needs[1] ? matmulT(d2, x2, true, false, 'linear') : null;
    const db = needs[2] ? sum(d2, 0) : null;
    return [dx, dw, db];
  },
};
