/** Host side of activationGradFromOutput: dy·f'(x) from y = f(x). */

import { activationGradFromOutputKernel } from '../../../../shaders/activation-output.js';
import { WG_1D } from '../../../../shaders/common.js';
import { OUTPUT_GRAD_ACTIVATIONS, type OutputGradActivation } from '../../fused-types.js';
import type { Storage } from '../../types.js';
import { scalarBits, type KernelContext } from '../context.js';
import { dispatchKernel } from '../dispatch.js';
import type { GpuStorage } from '../storage.js';
import { f32Input } from './kernels.js';

export function activationGradFromOutput(ctx: KernelContext, op: OutputGradActivation, ys: Storage, dys: Storage, param: number): GpuStorage {
  const name = `activationGradFromOutput ${op}`;
  if (!(OUTPUT_GRAD_ACTIVATIONS as readonly string[]).includes(op)) throw new Error(`webgpu: activationGradFromOutput: unknown activation '${String(op)}'`);
  const y = f32Input(ctx, ys, name, 'y', ys.length);
  const dy = f32Input(ctx, dys, name, 'dy', y.length);
  const out = ctx.output(y.length, 'float32', name);
  if (y.length === 0) return out;
  // Stryker disable next-line StringLiteral: scalarBits treats every dtype but 'int32' as float32, '' included
  const values = { n: y.length, bits: scalarBits(param, 'float32') };
  dispatchKernel(ctx, name, activationGradFromOutputKernel(op), { Y: y.buffer, DY: dy.buffer, out: out.buffer }, values, Math.ceil(y.length / WG_1D));
  return out;
}
