/** Host side of the Philox4x32-10 draws (uniform, normal, raw bits). */

import { RANDOM_WG, randomShader, randomValuesPerBlock } from '../../../shaders/philox.js';
import type { DType, RandomKind } from '../types.js';
import { Params, type KernelContext } from './context.js';
import type { GpuStorage } from './storage.js';

const TWO32 = 4294967296;

function checkU53(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`webgpu: random: ${what} must be a non-negative safe integer, got ${v}`);
}

export function random(ctx: KernelContext, kind: RandomKind, length: number, seed: number, offset: number, dtype: DType): GpuStorage {
  const name = `random ${kind}`;
  checkU53('seed', seed);
  checkU53('offset', offset);
  if (kind === 'bits' ? dtype !== 'int32' : dtype !== 'float32') {
    throw new Error(`webgpu: ${name} produces ${kind === 'bits' ? 'int32' : 'float32'}, got dtype ${dtype}`);
  }
  const out = ctx.output(length, dtype, name);
  if (length === 0) return out;
  // Values per Philox block: block q holds stream words 4q..4q+3 (uniform, bits), or normals 2q, 2q+1.
  const per = randomValuesPerBlock(kind);
  const q0 = Math.floor(offset / per);
  const skip = offset - q0 * per;
  const threads = Math.ceil((skip + length) / per);
  const p = new Params(7);
  p.u32.set([length, threads, q0 % TWO32, Math.floor(q0 / TWO32), skip, seed % TWO32, Math.floor(seed / TWO32)]);
  const kernel = ctx.pipelines.get(`random:${kind}`, 0, () => randomShader(kind));
  ctx.batcher.dispatch(name, kernel, [out.buffer], p.u32, Math.ceil(threads / RANDOM_WG));
  return out;
}
