/** What the kernel files need from the backend: the batcher, pipelines, and checked storages. */

import type { DType, Storage } from '../types.js';
import type { Batcher } from './batcher.js';
import type { DeviceAsserts } from './device-asserts.js';
import type { DeviceLimits, SubgroupSupport } from './device.js';
import type { PipelineCache } from './pipeline-cache.js';
import type { GpuStorage } from './storage.js';
import type { MatmulChoice } from './matmul.js';

export interface KernelContext {
  readonly device: GPUDevice;
  readonly limits: DeviceLimits;
  readonly batcher: Batcher;
  readonly pipelines: PipelineCache;
  /** The adapter is a CPU implementation (lavapipe, SwiftShader): kernels pick CPU-friendly shapes. */
  readonly softwareAdapter: boolean;
  /** The device's subgroup sizes when it has 'subgroups' (subgroup kernel designs may run), else null. */
  readonly subgroups?: SubgroupSupport | null;
  /** Matmul design and workgroup shape per access pattern, from the autotune (empty: the defaults). */
  readonly matmulChoices: ReadonlyMap<string, MatmulChoice>;
  /** Batch-norm reduction design per (reduction, row bucket), from the tune (batchnorm-tune.ts); absent or empty: the rule. */
  readonly batchNormChoices?: ReadonlyMap<string, 'column' | 'tiled'>;
  /** Reduce and softmax design per shape bucket, from the tune (reduce-tune.ts); absent or empty: the shape rules. */
  readonly reduceChoices?: ReadonlyMap<string, 'loop' | 'tree' | 'subgroup'>;
  /** Device-side checks reported by the next read (cross-entropy labels, errorIfNonfinite). */
  readonly asserts: DeviceAsserts;
  /** A new storage for a kernel's output (may reuse a buffer released in the open batch). */
  output(length: number, dtype: DType, op: string): GpuStorage;
  /** Checks that `s` is a live storage of this backend and returns it typed. */
  input(s: Storage, op: string): GpuStorage;
  /** Returns a storage's buffer to the pool (intermediates of multi-pass kernels). */
  releaseStorage(s: GpuStorage): void;
}

/** The 32-bit pattern of a scalar parameter in the element type (f32 bits, or an i32). */
export function scalarBits(value: number, dtype: DType): number {
  if (dtype === 'int32') return (Math.trunc(value) | 0) >>> 0;
  const f = new Float32Array([value]);
  return new Uint32Array(f.buffer)[0]!;
}
