/**
 * Shared host pieces of the training kernels: checks, and pipelines whose layout has several
 * writable bindings (in-place optimizer states, kernels with two outputs).
 *
 * PipelineCache's layouts have one writable binding (the output, last). Kernels here that need
 * more use `multiOutputKernel`: binding 0 the uniform slot (as everywhere),
 * bindings 1..inputs read-only storage, then `outputs` read_write storage bindings; buffers are
 * passed to Batcher.dispatch in that order. Layouts and pipelines are cached per PipelineCache (so
 * per device) and counted in its pipelinesCreated. Layout ids start at 256, away from the
 * PipelineCache's ids (its input counts), since the batcher keys bind groups by layout id.
 */

import type { Storage } from '../../types.js';
import type { KernelContext } from '../context.js';
import type { Kernel, KernelLayout, PipelineCache } from '../pipeline-cache.js';
import type { GpuStorage } from '../storage.js';

interface MultiOutputCache {
  layouts: Map<string, KernelLayout>;
  kernels: Map<string, Kernel>;
}

const caches = new WeakMap<PipelineCache, MultiOutputCache>();

function cacheFor(pipelines: PipelineCache): MultiOutputCache {
  let c = caches.get(pipelines);
  if (!c) {
    c = { layouts: new Map(), kernels: new Map() };
    caches.set(pipelines, c);
  }
  return c;
}

function multiOutputLayout(ctx: KernelContext, inputs: number, outputs: number): KernelLayout {
  const cache = cacheFor(ctx.pipelines);
  const lkey = `${inputs}:${outputs}`;
  const hit = cache.layouts.get(lkey);
  if (hit) return hit;
  const entries: GPUBindGroupLayoutEntry[] = [
    { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
  ];
  for (let i = 0; i < inputs; i++) {
    entries.push({ binding: 1 + i, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } });
  }
  for (let o = 0; o < outputs; o++) {
    entries.push({ binding: 1 + inputs + o, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } });
  }
  const label = `webgrad ${inputs}-input ${outputs}-output layout`;
  const bindGroupLayout = ctx.device.createBindGroupLayout({ entries, label });
  const pipelineLayout = ctx.device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout], label });
  const layout: KernelLayout = { id: 256 + inputs * 16 + outputs, inputs, bindGroupLayout, pipelineLayout };
  cache.layouts.set(lkey, layout);
  return layout;
}

/**
 * The pipeline for `key` with `inputs` read-only and `outputs` read_write storage bindings;
 * `source` is called only on a miss. One output goes through the shared PipelineCache.
 */
export function multiOutputKernel(ctx: KernelContext, key: string, inputs: number, outputs: number, source: () => string): Kernel {
  if (outputs === 1) return ctx.pipelines.get(key, inputs, source);
  const cache = cacheFor(ctx.pipelines);
  const hit = cache.kernels.get(key);
  if (hit) return hit;
  const layout = multiOutputLayout(ctx, inputs, outputs);
  // Shader or pipeline validation errors reach the device's uncapturederror handler (DeviceHealth),
  // which reports them on the next call, attributed to the op encoded last.
  const module = ctx.device.createShaderModule({ code: source(), label: key });
  const pipeline = ctx.device.createComputePipeline({ layout: layout.pipelineLayout, compute: { module, entryPoint: 'main' }, label: key });
  ctx.pipelines.pipelinesCreated++;
  const kernel: Kernel = { pipeline, layout, key };
  cache.kernels.set(key, kernel);
  return kernel;
}

/** A float32 operand of `length` elements (after the context's liveness and backend checks). */
export function f32Input(ctx: KernelContext, s: Storage, op: string, name: string, length: number): GpuStorage {
  const g = ctx.input(s, op);
  if (g.dtype !== 'float32') throw new Error(`webgpu: ${op}: ${name} must be float32 (the webgpu backend's training kernels are float32 only), got ${g.dtype}`);
  if (g.length !== length) throw new Error(`webgpu: ${op}: ${name} has ${g.length} elements, expected ${length}`);
  return g;
}

/** Checks a count argument (rows, columns): a non-negative integer. */
export function checkCount(op: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new Error(`webgpu: ${op}: ${name} must be a non-negative integer, got ${v}`);
}

/** WebGPU forbids binding one buffer twice when a binding is writable: in-place operands must be distinct. */
export function checkDistinct(op: string, named: readonly (readonly [string, GpuStorage | null])[]): void {
  for (let a = 0; a < named.length; a++) {
    for (let b = a + 1; b < named.length; b++) {
      const [na, sa] = named[a]!;
      const [nb, sb] = named[b]!;
      if (sa && sb && sa.buffer === sb.buffer) throw new Error(`webgpu: ${op}: ${na} and ${nb} must be different storages (both are bound, one writable)`);
    }
  }
}
