/** Host side of activationGradFromOutput: dy·f'(x) from y = f(x). */

import { activationGradFromOutputShader } from '../../../../shaders/activation-output.js';
import { WG_1D } from '../../../../shaders/common.js';
import { OUTPUT_GRAD_ACTIVATIONS, type OutputGradActivation } from '../../training-types.js';
import type { Storage } from '../../types.js';
import { Params, scalarBits, type KernelContext } from '../context.js';
import type { GpuStorage } from '../storage.js';
import { f32Input } from './kernels.js';

export function activationGradFromOutput(ctx: KernelContext, op: OutputGradActivation, ys: Storage, dys: Storage, param: number): GpuStorage {
  const name = `activationGradFromOutput ${op}`;
  if (!(OUTPUT_GRAD_ACTIVATIONS as readonly string[]).includes(op)) throw new Error(`webgpu: activationGradFromOutput: unknown activation '${String(op)}'`);
  const y = f32Input(ctx, ys, name, 'y', ys.length);
  const dy = f32Input(ctx, dys, name, 'dy', y.length);
  const out = ctx.output(y.length, 'float32', name);
  if (y.length === 0) return out;
  const kernel = ctx.pipelines.get(`actgrad-out:${op}`, 2, () => activationGradFromOutputShader(op));
  const p = new Params(2);
  p.u32[0] = y.length;
  p.u32[1] = scalarBits(param, 'float32');
  ctx.batcher.dispatch(name, kernel, [y.buffer, dy.buffer, out.buffer], p.u32, Math.ceil(y.length / WG_1D));
  return out;
}
