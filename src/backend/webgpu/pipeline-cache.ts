/**
 * The one cache of compute pipelines (by key), shader modules (by source string) and explicit
 * layouts (by the access of their storage bindings). Binding 0 of every layout is the kernel's
 * uniform parameters (a slot of the batcher's bind-group cache), then storage bindings in order:
 * read-only or read_write. Every kernel is declared with defineKernel (shaders/program.ts), which
 * brings its key, source and binding accesses; `program(prog)` is the only way in.
 */

import type { Access, BindingDecls, KernelProgram, UniformDecls } from '../../../shaders/program.js';
import type { DeviceHealth } from './device.js';
import type { CompileSession } from './precompile.js';

export interface KernelLayout {
  /** Small integer identifying the layout in bind-group cache keys (unique per cache). */
  readonly id: number;
  /** Access of each storage binding (binding 1 + index). */
  readonly access: readonly Access[];
  readonly bindGroupLayout: GPUBindGroupLayout;
  readonly pipelineLayout: GPUPipelineLayout;
}

export interface Kernel {
  readonly pipeline: GPUComputePipeline;
  readonly layout: KernelLayout;
  readonly key: string;
}

export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, Kernel>();
  private readonly layouts = new Map<string, KernelLayout>();
  pipelinesCreated = 0;
  /** Set during precompile (precompile.ts): a miss is compiled asynchronously and joins the cache when ready. */
  compileOnly: CompileSession | null = null;

  constructor(
    private readonly device: GPUDevice,
    private readonly health: DeviceHealth,
  ) {}

  /** The layout whose storage bindings have these accesses, in binding order. */
  layoutFor(access: readonly Access[]): KernelLayout {
    const sig = access.map((a) => (a === 'read' ? 'r' : 'w')).join('');
    const cached = this.layouts.get(sig);
    if (cached) return cached;
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
    ];
    access.forEach((a, i) => {
      entries.push({ binding: 1 + i, visibility: GPUShaderStage.COMPUTE, buffer: { type: a === 'read' ? 'read-only-storage' : 'storage' } });
    });
    const label = `webgrad layout ${sig}`;
    const bindGroupLayout = this.device.createBindGroupLayout({ entries, label });
    const pipelineLayout = this.device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout], label });
    const layout: KernelLayout = { id: this.layouts.size, access: [...access], bindGroupLayout, pipelineLayout };
    this.layouts.set(sig, layout);
    return layout;
  }

  /** The pipeline of a declared kernel (shaders/program.ts); its key names its interface. */
  program<B extends BindingDecls, U extends UniformDecls>(prog: KernelProgram<B, U>): Kernel {
    return this.build(prog.key, prog.access, () => prog.wgsl());
  }

  /** The pipeline for `key` with storage bindings of these accesses; `source` is called only on a miss. */
  private build(key: string, access: readonly Access[], source: () => string): Kernel {
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    const code = source();
    const layout = this.layoutFor(access);
    this.device.pushErrorScope('validation');
    let module = this.modules.get(code);
    if (!module) {
      module = this.device.createShaderModule({ code, label: key });
      this.modules.set(code, module);
    }
    const compute: GPUProgrammableStage = { module, entryPoint: 'main' };
    const descriptor: GPUComputePipelineDescriptor = { layout: layout.pipelineLayout, compute, label: key };
    const adopt = (p: GPUComputePipeline): void => {
      this.pipelines.set(key, { pipeline: p, layout, key });
      this.pipelinesCreated++;
    };
    const pipeline = this.compileOnly?.compile(key, descriptor, adopt) ?? this.device.createComputePipeline(descriptor);
    if (!this.compileOnly) adopt(pipeline);
    this.device.popErrorScope().then(
      (err) => {
        if (err) this.health.record(`${err.message}\n--- WGSL of pipeline '${key}' ---\n${code}`, key);
      },
      () => undefined,
    );
    return { pipeline, layout, key };
  }
}
