/**
 * The batcher's completion bookkeeping (src/backend/webgpu/batcher.ts) on a recording stand-in
 * device: a submit whose completion promise rejects (a lost device never finishes its work) counts
 * as finished, so `pendingSubmits` drops and no throttle waits forever; completions reported out
 * of order never move the count back; and every command encoder carries the batch's label (it names
 * the batch in validation messages and GPU captures). A real device is brought up first because the
 * host code reads WebGPU's global constants, which Dawn installs; no adapter is a failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batcher } from '../src/backend/webgpu/batcher.js';
import { DeviceHealth, type DeviceLimits } from '../src/backend/webgpu/device.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import type { Kernel, KernelLayout } from '../src/backend/webgpu/pipeline-cache.js';
import { asGpu, fakeDevice, type FakeBuffer } from './helpers/fake-gpu-device.js';

let gpu: WebGPUBackend | null = null;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const layout: KernelLayout = { id: 1, access: [], bindGroupLayout: {} as GPUBindGroupLayout, pipelineLayout: {} as GPUPipelineLayout };
const kernel: Kernel = { pipeline: {} as GPUComputePipeline, layout, key: 'k1' };
const limits: DeviceLimits = {
  maxStorageBufferBindingSize: 1 << 27,
  maxBufferSize: 1 << 28,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupsPerDimension: 65535,
  minUniformBufferOffsetAlignment: 256,
  maxUniformBufferBindingSize: 65536,
  maxStorageBuffersPerShaderStage: 8,
};
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

function batcherWithSubmits(count: number, maxPendingSubmits = 4): { b: Batcher; f: ReturnType<typeof fakeDevice> } {
  const f = fakeDevice();
  const b = new Batcher(f.device, new DeviceHealth(), limits, [], { maxPendingSubmits });
  const buf = asGpu({ size: 4 } as FakeBuffer);
  for (let i = 0; i < count; i++) {
    b.dispatch('op', kernel, [buf], Uint8Array.of(i), 1);
    b.flush();
  }
  return { b, f };
}

describe('webgpu host: Batcher completion', () => {
  it('a rejected completion (lost device) counts as finished: the count drops, in queue order', async () => {
    const { b, f } = batcherWithSubmits(3);
    expect(b.pendingSubmits).toBe(3);
    f.workFailed[1]!(new Error('device lost'));
    await tick();
    // The second submit "finishing" means the first has too.
    expect(b.pendingSubmits).toBe(1);
    f.workDone[0]!();
    await tick();
    expect(b.pendingSubmits).toBe(1);
  });

  it('a throttle waiting on a submit whose completion rejects returns, and waits for the rest as usual', async () => {
    const { b, f } = batcherWithSubmits(3, 1);
    const t = b.throttle(0);
    f.workFailed[0]!(new Error('device lost'));
    await tick();
    f.workDone[1]!();
    await tick();
    f.workDone[2]!();
    await t;
    expect(b.pendingSubmits).toBe(0);
    expect(b.stats.throttleWaits).toBe(1);
    // Nothing left in flight: the next throttle returns at once without counting a wait.
    await b.throttle(0);
    expect(b.stats.throttleWaits).toBe(1);
  });

  it('a throttle whose oldest submit finishes waits on for the next one while above the bound', async () => {
    const { b, f } = batcherWithSubmits(4, 1);
    const t = b.throttle(1);
    let returned = false;
    void t.then(() => (returned = true));
    f.workDone[0]!();
    await tick();
    expect(returned).toBe(false);
    expect(b.pendingSubmits).toBe(3);
    f.workDone[1]!();
    await tick();
    expect(returned).toBe(false);
    f.workDone[2]!();
    await t;
    expect(b.pendingSubmits).toBe(1);
  });

  it("every command encoder is labelled 'webgrad batch', for dispatches and for copies", () => {
    const f = fakeDevice();
    const b = new Batcher(f.device, new DeviceHealth(), limits, []);
    b.dispatch('op', kernel, [asGpu({ size: 4 } as FakeBuffer)], Uint8Array.of(1), 1);
    b.flush();
    b.copyEncoder();
    b.flush();
    expect(f.encoderLabels).toEqual(['webgrad batch', 'webgrad batch']);
  });
});
