/**
 * Compute pipelines cached by key, shader modules by source string, and the explicit layouts every
 * kernel shares: binding 0 is the kernel's uniform parameters (a slot in the
 * batcher's arena), bindings 1..inputs are read-only storage, binding inputs+1 is the output.
 */

import type { DeviceHealth } from './device.js';

export interface KernelLayout {
  /** Small integer identifying the layout in bind-group cache keys. */
  readonly id: number;
  readonly inputs: number;
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
  private readonly layouts: KernelLayout[] = [];
  pipelinesCreated = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly health: DeviceHealth,
  ) {}

  layout(inputs: number): KernelLayout {
    const cached = this.layouts[inputs];
    if (cached) return cached;
    const entries: GPUBindGroupLayoutEntry[] = [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
    ];
    for (let i = 0; i < inputs; i++) {
      entries.push({ binding: 1 + i, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } });
    }
    entries.push({ binding: 1 + inputs, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } });
    const bindGroupLayout = this.device.createBindGroupLayout({ entries, label: `webgrad ${inputs}-input layout` });
    const pipelineLayout = this.device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] });
    const layout: KernelLayout = { id: inputs, inputs, bindGroupLayout, pipelineLayout };
    this.layouts[inputs] = layout;
    return layout;
  }

  /**
   * The pipeline for `key`; `source` is called only on a miss. The key must identify the source and
   * the override constants (callers build it from the op, dtype and specialisation flags).
   */
  get(key: string, inputs: number, source: () => string, constants?: Record<string, number>): Kernel {
    const hit = this.pipelines.get(key);
    if (hit) return hit;
    const code = source();
    const layout = this.layout(inputs);
    this.device.pushErrorScope('validation');
    let module = this.modules.get(code);
    if (!module) {
      module = this.device.createShaderModule({ code, label: key });
      this.modules.set(code, module);
    }
    const compute: GPUProgrammableStage = { module, entryPoint: 'main' };
    if (constants) compute.constants = constants;
    const pipeline = this.device.createComputePipeline({ layout: layout.pipelineLayout, compute, label: key });
    this.pipelinesCreated++;
    this.device.popErrorScope().then(
      (err) => {
        if (err) this.health.record(`${err.message}\n--- WGSL of pipeline '${key}' ---\n${code}`, key);
      },
      () => undefined,
    );
    const kernel: Kernel = { pipeline, layout, key };
    this.pipelines.set(key, kernel);
    return kernel;
  }
}
