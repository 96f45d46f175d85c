/**
 * The gradient rule table. Every recorded op name has an entry in `OpSaved` (what its rule needs)
 * and a rule in the table below, which is a mapped type over the op names: an op added without a
 * gradient rule does not compile.
 *
 * Rules are written with ops, so they run on the tensor's own backend. The table is built on first
 * use because the op modules import the tape, which imports this file.
 */
import type { Tensor } from '../tensor.js';
import type { DifferentiableUnaryOp } from '../ops/unary.js';
import { binaryGrads } from '../ops/binary.js';
import { unaryGrads } from '../ops/unary.js';
import { reduceGrads } from '../ops/reduce.js';
import { shapeGrads } from '../ops/shape-ops.js';
import { matmulGrads } from '../ops/matmul.js';
import { linearGrads } from '../ops/linear.js';
import { dropoutGrads } from '../ops/dropout.js';
import { batchNormGrads } from '../ops/batchnorm.js';
import { batchNorm2dGrads } from '../ops/batchnorm2d.js';
import { softmaxGrads } from '../ops/softmax.js';
import { lossGrads } from '../ops/loss.js';
import type { OutputGradActivation } from '../backend/fused-types.js';
import type { IndexLayout } from '../backend/types.js';
import { indexGrads } from '../ops/index-ops.js';
import { joinGrads, type Window } from '../ops/join-ops.js';
import { statsGrads } from '../ops/stats.js';
import { customGrads, type CustomSaved } from './custom.js';
import { convGrads } from '../ops/conv.js';
import type { Conv2dGeometry, Pool2dGeometry } from '../backend/types.js';

export interface OpSaved {
  add: { aShape: readonly number[]; bShape: readonly number[] };
  sub: { aShape: readonly number[]; bShape: readonly number[] };
  mul: { a: Tensor; b: Tensor };
  div: { a: Tensor; b: Tensor };
  maximum: { a: Tensor; b: Tensor };
  minimum: { a: Tensor; b: Tensor };
  unary: { op: DifferentiableUnaryOp; x: Tensor; y: Tensor; param: number };
  sum: { inShape: readonly number[]; keptShape: readonly number[] };
  max: { x: Tensor; yKept: Tensor; keptShape: readonly number[] };
  reshape: { inShape: readonly number[] };
  permute: { perm: readonly number[] };
  expand: { inShape: readonly number[] };
  matmul: { a: Tensor; b: Tensor; transA: boolean; transB: boolean };
  linear: { x: Tensor; weight: Tensor; y: Tensor; activation: 'none' | OutputGradActivation; slope: number; hasBias: boolean };
  dropout: { p: number; mask: Tensor };
  batchNorm: { x: Tensor; mean: Tensor; variance: Tensor; weight: Tensor | null; hasBias: boolean; eps: number };
  batchNorm2d: { x: Tensor; mean: Tensor; variance: Tensor; weight: Tensor | null; hasBias: boolean; eps: number };
  softmax: { y: Tensor; log: boolean };
  crossEntropy: { logits: Tensor; labels: Tensor };
  gather: { indices: Tensor; layout: IndexLayout; outer: number; length: number; inner: number; count: number; inShape: readonly number[] };
  where: { cond: Tensor };
  slice: { inShape: readonly number[]; window: Window };
  embed: { windows: readonly Window[] };
  cumsum: { outer: number; length: number; inner: number };
  custom: CustomSaved;
  conv2d: { x: Tensor; weight: Tensor; geometry: Conv2dGeometry };
  maxPool2d: { indices: Tensor; geometry: Pool2dGeometry; inShape: readonly number[] };
  avgPool2d: { geometry: Pool2dGeometry; inShape: readonly number[] };
}

export type OpName = keyof OpSaved;

/** Given the output's gradient, the gradients of the inputs (null where an input needs none). */
export type GradRule<K extends OpName> = (
  dy: Tensor,
  saved: OpSaved[K],
  needs: readonly boolean[],
) => (Tensor | null)[];

export type GradRules<K extends OpName> = { [P in K]: GradRule<P> };

let table: GradRules<OpName> | null = null;

export function gradRule<K extends OpName>(op: K): GradRule<K> {
  table ??= {
    ...binaryGrads, ...unaryGrads, ...reduceGrads, ...shapeGrads, ...matmulGrads,
    ...linearGrads, ...dropoutGrads, ...batchNormGrads, ...batchNorm2dGrads, ...softmaxGrads, ...lossGrads,
    ...indexGrads, ...joinGrads, ...statsGrads, ...customGrads, ...convGrads,
  };
  return table[op];
}
