/**
 * The bench's host-encode figure (bench/peers/webgrad.ts hostEncodeUs, reported in the tiny row's
 * note): issuing n ops without a read is timed, the GPU work is then finished, and nothing leaks.
 * Only that the figure is a real measurement is checked here (positive and finite), never its size.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import * as wg from '../src/index.js';
import { webgradPeer, webgpuBackend } from '../bench/peers/webgrad.js';
import { requireWebGPU, webgpuAvailability } from './helpers/backends.js';

describe('bench: host encode time per dispatch', () => {
  let gpu = false;
  beforeAll(async () => {
    const a = await webgpuAvailability();
    gpu = a.available;
    if (!a.available && requireWebGPU) throw new Error(`WebGPU is required here (CI) but no adapter was found: ${a.reason}`);
  });

  it('webgrad (WebGPU) reports µs per op; the ops were issued (dispatches counted) and released', async (ctx) => {
    if (!gpu) ctx.skip();
    const c = await webgradPeer('webgpu').tinyAdd!(new Float32Array([1, 2, 3, 4]), new Float32Array([10, 20, 30, 40]));
    const live = wg.memory().liveTensors;
    const d0 = webgpuBackend().stats().dispatches;
    const us = await c.hostEncodeUs!(25);
    expect(Number.isFinite(us) && us > 0).toBe(true);
    expect(webgpuBackend().stats().dispatches - d0).toBe(25);
    expect(webgpuBackend().stats().pendingSubmits).toBe(0);
    expect(wg.memory().liveTensors).toBe(live);
    await c.dispose();
  });

  it('the CPU reference peer offers no host-encode figure', async () => {
    const c = await webgradPeer('cpu').tinyAdd!(new Float32Array([1, 2, 3, 4]), new Float32Array([10, 20, 30, 40]));
    expect(c.hostEncodeUs).toBeUndefined();
    await c.dispose();
  });
});
