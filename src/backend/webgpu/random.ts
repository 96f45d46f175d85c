/** Host side of the Philox4x32-10 draws (uniform, normal, raw bits). */

import { RANDOM_WG, randomKernel, randomValuesPerBlock } from '../../../shaders/philox.js';
import type { DType, RandomKind } from '../types.js';
import type { KernelContext } from './context.js';
import { dispatchKernel } from './dispatch.js';
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
  const values = { n: length, threads, q0lo: q0 % TWO32, q0hi: Math.floor(q0 / TWO32), skip, keylo: seed % TWO32, keyhi: Math.floor(seed / TWO32) };
  dispatchKernel(ctx, name, randomKernel(kind), { out: out.buffer }, values, Math.ceil(threads / RANDOM_WG));
  return out;
}
