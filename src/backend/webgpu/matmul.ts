/** Host side of batched matmul with the fused bias + activation epilogue. */

import {
  MATMUL_BLOCK,
  MATMUL_WG_SOFTWARE,
  MATMUL_WG_X,
  MATMUL_WG_Y,
  matmulBiasKernel,
  matmulKernel,
  type MatmulVariant,
} from '../../../shaders/matmul.js';
import { matmulTiledBiasKernel, matmulTiledKernel, tiledWorkgroupBytes } from '../../../shaders/matmul-tiled.js';
import { matmulWideBiasKernel, matmulWideKernel, type WideBlock } from '../../../shaders/matmul-wide.js';
import { matmulSubgroupBiasKernel, matmulSubgroupKernel } from '../../../shaders/matmul-subgroup.js';
import { matmulSgRowsBiasKernel, matmulSgRowsKernel } from '../../../shaders/matmul-sgrows.js';
import { matmulTiledDbBiasKernel, matmulTiledDbKernel, tiledDbWorkgroupBytes } from '../../../shaders/matmul-tiled-db.js';
import type { SubgroupSupport } from './device.js';
import { DEFAULT_LEAKY_RELU_SLOPE } from '../../../shaders/kernel-types.js';
import type { MatmulArgs, Storage } from '../types.js';
import type { KernelContext } from './context.js';
import { dispatchKernel } from './dispatch.js';
import { kernelChoice } from './kernel-choice.js';
import type { GpuStorage } from './storage.js';

/**
 * Workgroup shape per variant. On software drivers (a workgroup runs as a loop over SIMD batches
 * on one CPU thread) the best shape depends on the access pattern; measured on lavapipe at the MLP
 * training shapes (128x784x512, 128x512x512, 512x128x784): B read transposed in place (a linear
 * layer's forward) is fastest with 4x4 (7.1-8.4 GFLOP/s vs 5.4-7.1 for wider shapes); B read
 * row-major (the dX = dY·W backward) needs a wider x so adjacent invocations read adjacent
 * columns: 16x4 gave 7.9 GFLOP/s against 5.0 with 4x4; A read transposed (dW = dYᵀ·X) varies
 * little (5.2-6.3), 4x4 being as good as any. GPUs get 8x8 (two 32-wide waves). These are the
 * defaults; the autotune (matmul-tune.ts) replaces them per adapter when it measures better.
 */
export function defaultWorkgroupShape(software: boolean, transA: boolean, transB: boolean): WorkgroupShape {
  if (!software) return [MATMUL_WG_X, MATMUL_WG_Y];
  if (!transA && !transB) return [16, 4];
  return [MATMUL_WG_SOFTWARE, MATMUL_WG_SOFTWARE];
}

/**
 * What a matmul runs where nothing is forced and no tune result exists (autotune off, or before it
 * has run), and the incumbent the tune must beat by its margin. On software adapters whose subgroup
 * size is fixed (lavapipe 8, SwiftShader 4), the blocks that share A's loads across a subgroup
 * (SGROWS_DESIGNS): in alternating sweeps (2026-12-04, `bench/matmul-probe.ts --sweep --rounds=5`,
 * the MLP's three products and 1024) the 16x4 block on 8x2 invocations ran 1.4-2.8x wide8x8 on
 * lavapipe, and on SwiftShader the 8x8 block on 4x4 ran 1.1-1.5x it. Elsewhere on software the 8x8
 * register block with 4x4 invocations: fastest or within 8 % of the fastest of the designs before
 * (2026-12-04) at those products on both drivers; a short tune on a shared 2-core machine is too
 * noisy to find such a design reliably by itself. GPUs keep the blocked kernel until measured.
 */
export function defaultMatmulChoice(software: boolean, transA: boolean, transB: boolean, subgroups?: SubgroupSupport | null): MatmulChoice {
  if (!software) return { design: 'blocked', shape: defaultWorkgroupShape(false, transA, transB) };
  // Stryker disable next-line StringLiteral: subgroupLanes treats every design but 'subgroup' and 'subgroupBc' alike, '' included
  const lanes = subgroupLanes(subgroups, 'sgRows8x8');
  if (lanes === 8) return { design: 'sgRows16x4', shape: [8, 2] };
  if (lanes === 4) return { design: 'sgRows8x8', shape: [4, 4] };
  return { design: 'wide8x8', shape: [4, 4] };
}

/** Invocations of a matmul workgroup on x (columns of C) and y (rows). */
export type WorkgroupShape = [number, number];

/**
 * The wide register-blocked designs (shaders/matmul-wide.ts) and the block of C each invocation
 * computes: 8x4, 4x8 and 8x8 blocks (more multiply-adds per load); 16x4, the tile for A read
 * transposed (dW = dYᵀ·X: a k step of its 16 rows is one 64-byte line), offered to the autotune for
 * the transposed-A products only (it computes any product; the tests run it on all four).
 */
export const WIDE_DESIGNS = {
  wide8x4: { rows: 8, cols: 4 },
  wide4x8: { rows: 4, cols: 8 },
  wide8x8: { rows: 8, cols: 8 },
  transA16x4: { rows: 16, cols: 4 },
} as const satisfies Record<string, WideBlock>;
type WideDesign = keyof typeof WIDE_DESIGNS;

/**
 * The wide blocks whose subgroup lanes share their loads of A (shaders/matmul-sgrows.ts), for
 * drivers where a load that differs between lanes is a gather (lavapipe, SwiftShader): the lanes of
 * a subgroup hold the same rows. Only where the subgroup size is fixed at 4, 8 or 16. Measured
 * against 8x4, 16x8 and 32x4 blocks too (2026-12-04): those were never the fastest on either
 * software driver (the larger ones spill their accumulators).
 */
export const SGROWS_DESIGNS = {
  sgRows8x8: { rows: 8, cols: 8 },
  sgRows16x4: { rows: 16, cols: 4 },
} as const satisfies Record<string, WideBlock>;
type SgRowsDesign = keyof typeof SGROWS_DESIGNS;

/**
 * Kernel designs (all compute the same sums; only speed differs): 'blocked' is the register-blocked
 * kernel without workgroup memory (shaders/matmul.ts), best on software drivers; 'tiled' stages
 * K-slabs of A and B in workgroup memory (shaders/matmul-tiled.ts), the usual design on GPUs;
 * 'tiledDb' the same tiles with vec4 global loads and two slabs per operand, staging the next while
 * computing the current (shaders/matmul-tiled-db.ts); the wide designs above; 'subgroup' and
 * 'subgroupBc' share A/B loads across a subgroup by shuffles (shaders/matmul-subgroup.ts): the
 * first for any subgroup size, the second unrolled over a size the adapter fixes (min = max ≤ 16),
 * both only on a device with 'subgroups' (designAvailable); 'tiledDb8x8', tiledDb with an 8x8 block per
 * invocation (tiles up to 128x128: 64 multiply-adds per four vec4 reads of workgroup memory), the
 * register-heavy tile for GPUs, which the tune tries on hardware adapters only (patternDesigns).
 */
export const MATMUL_DESIGNS = [
  'blocked',
  'tiled',
  ...(Object.keys(WIDE_DESIGNS) as WideDesign[]),
  'tiledDb',
  'tiledDb8x8',
  'subgroup',
  'subgroupBc',
  ...(Object.keys(SGROWS_DESIGNS) as SgRowsDesign[]),
] as const;
export type MatmulDesign = (typeof MATMUL_DESIGNS)[number];

const isWide = (d: MatmulDesign): d is WideDesign => d in WIDE_DESIGNS;
const isSgRows = (d: MatmulDesign): d is SgRowsDesign => d in SGROWS_DESIGNS;

/** Largest fixed subgroup size the unrolled 'subgroupBc' form is generated for (code size). */
export const SUBGROUP_UNROLL_MAX = 16;

/**
 * The lanes the subgroup kernel is generated for: 0 (a loop over the subgroup_size builtin) for
 * 'subgroup'; the adapter's fixed size for 'subgroupBc'; null where the design cannot run.
 */
export function subgroupLanes(subgroups: SubgroupSupport | null | undefined, design: 'subgroup' | 'subgroupBc' | SgRowsDesign): number | null {
  if (!subgroups) return null;
  if (design === 'subgroup') return 0;
  const { minSize, maxSize } = subgroups;
  if (minSize !== maxSize || minSize > SUBGROUP_UNROLL_MAX) return null;
  // The row-sharing kernels broadcast in steps of 4 k.
  return design === 'subgroupBc' || minSize % 4 === 0 ? minSize : null;
}

const usesSubgroups = (d: MatmulDesign): d is 'subgroup' | 'subgroupBc' | SgRowsDesign => d === 'subgroup' || d === 'subgroupBc' || isSgRows(d);

/** Whether this device can run a design at all (the subgroup designs need the 'subgroups' feature). */
export function designAvailable(ctx: { subgroups?: SubgroupSupport | null }, design: MatmulDesign): boolean {
  return usesSubgroups(design) ? subgroupLanes(ctx.subgroups, design) !== null : true;
}

/** Rows and columns of C one invocation computes in a design. */
export function designBlock(d: MatmulDesign): { rows: number; cols: number } {
  if (isWide(d)) return WIDE_DESIGNS[d];
  if (isSgRows(d)) return SGROWS_DESIGNS[d];
  if (d === 'tiledDb8x8') return { rows: 8, cols: 8 };
  return { rows: MATMUL_BLOCK, cols: MATMUL_BLOCK };
}

/** What runs a product: a design and its workgroup shape. */
export interface MatmulChoice {
  design: MatmulDesign;
  shape: WorkgroupShape;
}

/** Whether the device can run `design` with `shape` (invocations and workgroup memory). */
export function choiceFits(limits: { maxComputeInvocationsPerWorkgroup: number; maxComputeWorkgroupStorageSize: number }, c: MatmulChoice): boolean {
  const [x, y] = c.shape;
  if (x * y > limits.maxComputeInvocationsPerWorkgroup) return false;
  if (c.design === 'tiled') return tiledWorkgroupBytes(x, y) <= limits.maxComputeWorkgroupStorageSize;
  if (c.design === 'tiledDb') return tiledDbWorkgroupBytes(x, y) <= limits.maxComputeWorkgroupStorageSize;
  if (c.design === 'tiledDb8x8') return tiledDbWorkgroupBytes(x, y, 8) <= limits.maxComputeWorkgroupStorageSize;
  return true;
}

/** Outputs per batch (m·n) from which a product takes the tune's large class (matmul-tune.ts, LARGE_OUTPUTS). */
export const LARGE_PRODUCT_OUTPUTS = 2048 * 2048;

/** The key of an access pattern in the tuned-shape table. */
export function patternKey(transA: boolean, transB: boolean): string {
  return `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;
}

/**
 * `choice` overrides the design and shape (the autotune uses it); then a design or shape forced by
 * the test hook (kernel-choice.ts); otherwise the backend's tuned choice for this access pattern,
 * or the register-blocked kernel with the measured default shape above.
 */
export function matmul(ctx: KernelContext, as: Storage, bs: Storage, args: MatmulArgs, choice?: MatmulChoice): GpuStorage {
  const a = ctx.input(as, 'matmul');
  const b = ctx.input(bs, 'matmul');
  const bias = args.bias ? ctx.input(args.bias, 'matmul') : null;
  const { batch, m, k, n, transA, transB, aBatchStride, bBatchStride } = args;
  for (const s of bias ? [a, b, bias] : [a, b]) {
    if (s.dtype !== 'float32') throw new Error(`webgpu: matmul supports float32 tensors only, got ${s.dtype}`);
  }
  const needA = batch > 0 && m * k > 0 ? (batch - 1) * aBatchStride + m * k : 0;
  const needB = batch > 0 && k * n > 0 ? (batch - 1) * bBatchStride + k * n : 0;
  if (a.length < needA) throw new Error(`webgpu: matmul: A has ${a.length} elements, the arguments need ${needA}`);
  if (b.length < needB) throw new Error(`webgpu: matmul: B has ${b.length} elements, the arguments need ${needB}`);
  if (bias && bias.length !== n) throw new Error(`webgpu: matmul: bias has ${bias.length} elements, expected n = ${n}`);

  const out = ctx.output(batch * m * n, 'float32', 'matmul');
  if (batch * m * n === 0) return out;

  const v: MatmulVariant = {
    transA,
    transB,
    vecA: (transA ? m % 4 === 0 : k % 4 === 0) && aBatchStride % 4 === 0,
    vecB: (transB ? k % 4 === 0 : n % 4 === 0) && bBatchStride % 4 === 0,
    vecC: n % 4 === 0,
    bias: bias !== null,
    activation: args.activation ?? 'none',
  };
  const forced = kernelChoice();
  // The large class (hardware adapters' tune only) for products of at least 2048² outputs.
  const tuned = (m * n >= LARGE_PRODUCT_OUTPUTS ? ctx.matmulChoices.get(`${patternKey(transA, transB)}:large`) : undefined) ?? ctx.matmulChoices.get(patternKey(transA, transB));
  // Nothing forced or tuned: the adapter's default. A forced shape alone keeps the blocked kernel.
  const pick = choice ?? (forced.matmulDesign || forced.matmulShape || tuned ? undefined : defaultMatmulChoice(ctx.softwareAdapter, transA, transB, ctx.subgroups));
  // Stryker disable next-line StringLiteral: '' is no other design either: it takes the blocked branch and block below, as 'blocked' does
  const design = pick?.design ?? forced.matmulDesign ?? tuned?.design ?? 'blocked';
  const [wgX, wgY] = pick?.shape ?? forced.matmulShape ?? tuned?.shape ?? defaultWorkgroupShape(ctx.softwareAdapter, transA, transB);
  const alpha = args.alpha ?? DEFAULT_LEAKY_RELU_SLOPE;
  const lanes = usesSubgroups(design) ? subgroupLanes(ctx.subgroups, design) : 0;
  if (lanes === null) {
    const has = ctx.subgroups ? `subgroup sizes ${ctx.subgroups.minSize}..${ctx.subgroups.maxSize}` : "no 'subgroups' feature";
    throw new Error(`webgpu: matmul: design '${design}' cannot run on this device (${has})`);
  }

  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  const block = designBlock(design);
  const gx = Math.ceil(n / (block.cols * wgX));
  const gy = Math.ceil(m / (block.rows * wgY));
  if (gx > max) throw new Error(`webgpu: matmul: n = ${n} needs ${gx} workgroups on x, more than the device's ${max}`);
  const name = v.activation === 'none' && !v.bias ? 'matmul' : `matmul+${v.bias ? 'bias+' : ''}${v.activation}`;
  for (let z0 = 0; z0 < batch; z0 += max) {
    for (let y0 = 0; y0 < gy; y0 += max) {
      const values = { m, k, n, aBatchStride, bBatchStride, yOff: y0, zOff: z0, alpha };
      const groups = [gx, Math.min(max, gy - y0), Math.min(max, batch - z0)] as const;
      if (isWide(design)) {
        const wide = WIDE_DESIGNS[design];
        if (bias) {
          const buffers = { A: a.buffer, B: b.buffer, BIAS: bias.buffer, C: out.buffer };
          dispatchKernel(ctx, name, matmulWideBiasKernel(v, wide, wgX, wgY), buffers, values, groups);
        } else {
          dispatchKernel(ctx, name, matmulWideKernel(v, wide, wgX, wgY), { A: a.buffer, B: b.buffer, C: out.buffer }, values, groups);
        }
      } else if (isSgRows(design)) {
        const block = SGROWS_DESIGNS[design];
        if (bias) {
          const buffers = { A: a.buffer, B: b.buffer, BIAS: bias.buffer, C: out.buffer };
          dispatchKernel(ctx, name, matmulSgRowsBiasKernel(v, block, lanes, wgX, wgY), buffers, values, groups);
        } else {
          dispatchKernel(ctx, name, matmulSgRowsKernel(v, block, lanes, wgX, wgY), { A: a.buffer, B: b.buffer, C: out.buffer }, values, groups);
        }
      } else if (design === 'subgroup' || design === 'subgroupBc') {
        if (bias) {
          const buffers = { A: a.buffer, B: b.buffer, BIAS: bias.buffer, C: out.buffer };
          dispatchKernel(ctx, name, matmulSubgroupBiasKernel(v, lanes, wgX, wgY), buffers, values, groups);
        } else {
          dispatchKernel(ctx, name, matmulSubgroupKernel(v, lanes, wgX, wgY), { A: a.buffer, B: b.buffer, C: out.buffer }, values, groups);
        }
      } else if (design === 'tiledDb' || design === 'tiledDb8x8') {
        const tileBlock = design === 'tiledDb8x8' ? 8 : 4;
        if (bias) {
          const buffers = { A: a.buffer, B: b.buffer, BIAS: bias.buffer, C: out.buffer };
          dispatchKernel(ctx, name, matmulTiledDbBiasKernel(v, wgX, wgY, tileBlock), buffers, values, groups);
        } else {
          dispatchKernel(ctx, name, matmulTiledDbKernel(v, wgX, wgY, tileBlock), { A: a.buffer, B: b.buffer, C: out.buffer }, values, groups);
        }
      } else if (design === 'tiled') {
        if (bias) {
          const buffers = { A: a.buffer, B: b.buffer, BIAS: bias.buffer, C: out.buffer };
          dispatchKernel(ctx, name, matmulTiledBiasKernel(v, wgX, wgY), buffers, values, groups);
        } else {
          dispatchKernel(ctx, name, matmulTiledKernel(v, wgX, wgY), { A: a.buffer, B: b.buffer, C: out.buffer }, values, groups);
        }
      } else if (bias) {
        const buffers = { A: a.buffer, B: b.buffer, BIAS: bias.buffer, C: out.buffer };
        dispatchKernel(ctx, name, matmulBiasKernel(v, wgX, wgY), buffers, values, groups);
      } else {
        dispatchKernel(ctx, name, matmulKernel(v, wgX, wgY), { A: a.buffer, B: b.buffer, C: out.buffer }, values, groups);
      }
    }
  }
  return out;
}
