/**
 * The floor, written directly against the WebGPU API with everything preallocated (buffers,
 * pipeline, bind group, staging buffer):
 * - tiny add: one round trip = encode a dispatch and a copy to the staging buffer, submit,
 *   mapAsync, read 16 bytes, unmap. No library can do less.
 * - relu: a vec4 kernel (4 elements per invocation, 256 invocations per workgroup); k dispatches in
 *   one command buffer, then the output copied to the staging buffer and mapped, like the libraries'
 *   repetitions. A reference for what this adapter's memory system allows, not a library.
 */
import type { OpCase, Peer } from './types.js';
import { dawnGpu, forLibrary, packageVersion } from '../common.js';

const SHADER = /* wgsl */ `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < arrayLength(&c)) { c[id.x] = a[id.x] + b[id.x]; }
}`;

const RELU_SHADER = /* wgsl */ `
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4<f32>>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x < arrayLength(&y)) { y[id.x] = max(x[id.x], vec4<f32>(0.0)); }
}`;


export function rawWebgpuPeer(): Peer {
  let device: GPUDevice;
  let adapter: string | null = null;
  return {
    id: 'raw-webgpu',
    label: 'raw WebGPU (floor)',
    version: `webgpu (Dawn) ${packageVersion('webgpu')}`,
    cpu: false,
    async init(): Promise<void> {
      forLibrary('raw-webgpu');
      const a = await dawnGpu().requestAdapter();
      if (!a) throw new Error('requestAdapter() returned null');
      const info = (a as { info?: GPUAdapterInfo }).info;
      adapter = info ? [info.vendor, info.architecture, info.description].filter(Boolean).join(' / ') : null;
      device = await a.requestDevice();
    },
    adapterInfo: () => adapter,
    async tinyAdd(av: Float32Array, bv: Float32Array): Promise<OpCase> {
      const bytes = av.byteLength;
      const storage = (data: Float32Array | null): GPUBuffer => {
        const buf = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
        if (data) device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, data.byteLength);
        return buf;
      };
      const a = storage(av);
      const b = storage(bv);
      const c = storage(null);
      const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const module = device.createShaderModule({ code: SHADER });
      const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [a, b, c].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      const once = async (): Promise<Float32Array> => {
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        pass.dispatchWorkgroups(1);
        pass.end();
        enc.copyBufferToBuffer(c, 0, staging, 0, bytes);
        device.queue.submit([enc.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        const out = new Float32Array(staging.getMappedRange().slice(0));
        staging.unmap();
        return out;
      };
      return {
        async run(k: number): Promise<Float32Array> {
          let out = await once();
          for (let i = 1; i < k; i++) out = await once();
          return out;
        },
        dispose(): void {
          for (const buf of [a, b, c, staging]) buf.destroy();
        },
      };
    },
    async relu(xv: Float32Array): Promise<OpCase> {
      if (xv.length % 1024 !== 0) throw new Error('raw relu: length must be a multiple of 1024');
      const bytes = xv.byteLength;
      const x = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(x, 0, xv.buffer, xv.byteOffset, bytes);
      const y = device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
      const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      const module = device.createShaderModule({ code: RELU_SHADER });
      const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [x, y].map((buffer, binding) => ({ binding, resource: { buffer } })),
      });
      const groups = xv.length / 4 / 256;
      return {
        async run(k: number): Promise<Float32Array> {
          const enc = device.createCommandEncoder();
          const pass = enc.beginComputePass();
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, bindGroup);
          for (let i = 0; i < k; i++) pass.dispatchWorkgroups(groups);
          pass.end();
          enc.copyBufferToBuffer(y, 0, staging, 0, bytes);
          device.queue.submit([enc.finish()]);
          await staging.mapAsync(GPUMapMode.READ);
          const out = new Float32Array(staging.getMappedRange().slice(0));
          staging.unmap();
          return out;
        },
        dispose(): void {
          for (const buf of [x, y, staging]) buf.destroy();
        },
      };
    },
    destroy(): void {
      device?.destroy();
    },
  };
}
