/**
 * init() under concurrency and with bad options (issue 10, items 1 and 5): two init() calls at
 * once give one device; a backend or device name that does not exist is refused with a
 * WebgradError naming the option and the allowed values; float64 on WebGPU and a missing adapter
 * are WebgradErrors too.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as wg from '../src/index.js';
import { engine, getBackend } from '../src/engine.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { acquireDevice } from '../src/backend/webgpu/device.js';
import { requireWebGPU } from './helpers/backends.js';
import { expectError, expectErrorSync } from './helpers/expect-error.js';

/** Whether this machine has an adapter at all (checked once, without init()). */
async function hasAdapter(): Promise<boolean> {
  try {
    const { device } = await acquireDevice();
    device.destroy();
    return true;
  } catch (e) {
    if (requireWebGPU) throw e;
    console.warn(`init-concurrency: no WebGPU adapter, device tests skipped: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
}

describe('init() concurrency', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    engine.defaultBackend = 'cpu';
  });

  it('two concurrent init() calls bring up one device and both get it', async (ctx) => {
    if (!(await hasAdapter())) ctx.skip();
    expect(engine.backends.has('webgpu')).toBe(false);
    const create = vi.spyOn(WebGPUBackend, 'create');
    const [a, b, c] = await Promise.all([
      wg.init({ backend: 'webgpu', autotune: false }),
      wg.init({ backend: 'webgpu', autotune: false }),
      wg.init({ backend: 'auto', autotune: false }),
    ]);
    expect(create).toHaveBeenCalledTimes(1);
    const gpu = getBackend('webgpu') as WebGPUBackend;
    expect(create.mock.results[0]!.type).toBe('return');
    expect(await create.mock.results[0]!.value).toBe(gpu);
    for (const r of [a, b, c]) {
      expect(r.backend).toBe('webgpu');
      expect(r.adapter).toBe(gpu.adapterInfo);
    }
    // The one device works.
    const t = wg.tensor([1, 2, 3], { device: 'webgpu' });
    const doubled = t.mul(2);
    expect(Array.from(await doubled.data())).toEqual([2, 4, 6]);
    doubled.dispose();
    // A later init() keeps it.
    await wg.init({ backend: 'webgpu' });
    expect(getBackend('webgpu')).toBe(gpu);
    expect(create).toHaveBeenCalledTimes(1);
    t.dispose();
  });

  it('a failed start is not remembered: the next init() tries again', async () => {
    const prev = engine.backends.get('webgpu');
    engine.backends.delete('webgpu');
    const create = vi.spyOn(WebGPUBackend, 'create').mockRejectedValueOnce(new Error('simulated: no adapter'));
    try {
      const [a, b] = await Promise.all([wg.init({ backend: 'auto' }), wg.init({ backend: 'auto' })]);
      expect(create).toHaveBeenCalledTimes(1);
      expect(a.backend).toBe('cpu');
      expect(b.backend).toBe('cpu');
      expect(a.fallbackReason).toMatch(/simulated/);
      create.mockRejectedValueOnce(new Error('simulated again'));
      await expect(wg.init({ backend: 'webgpu' })).rejects.toThrow(/simulated again/);
      expect(create).toHaveBeenCalledTimes(2);
    } finally {
      if (prev) engine.backends.set('webgpu', prev);
    }
  });
});

describe('init() and device options are checked at the call', () => {
  it("init({ backend: 'cuda' }) names the option and the allowed values, and changes nothing", async () => {
    const before = engine.defaultBackend;
    await expectError(() => wg.init({ backend: 'cuda' as never }), /^init: backend must be one of 'auto', 'webgpu', 'cpu', got 'cuda'$/);
    expect(engine.defaultBackend).toBe(before);
  });

  it('unknown init options and a non-boolean autotune are refused', async () => {
    await expectError(() => wg.init({ backnd: 'webgpu' } as never), /init: unknown option 'backnd'; the options are backend, autotune/);
    await expectError(() => wg.init({ backend: 'cpu', autotune: 'yes' } as never), /init: autotune must be true or false, got yes/);
    await expectError(() => wg.init('webgpu' as never), /^init: /);
  });

  it("the device option 'gpu' names the option and the allowed values", () => {
    for (const make of [() => wg.ones([2], { device: 'gpu' as never }), () => wg.tensor([1], { device: 'cuda' as never })]) {
      expectErrorSync(make, /device must be one of 'cpu', 'webgpu', got '(gpu|cuda)'/);
    }
  });

  it('float64 on WebGPU is a WebgradError', async (ctx) => {
    if (!(await hasAdapter())) ctx.skip();
    await wg.init({ backend: 'webgpu', autotune: false });
    engine.defaultBackend = 'cpu';
    expectErrorSync(() => wg.zeros([3], { dtype: 'float64', device: 'webgpu' }), /does not support float64; use float32, or the cpu backend/);
  });

  it('a missing adapter is a WebgradError', async () => {
    const g = globalThis as { navigator?: unknown };
    const had = Object.getOwnPropertyDescriptor(g, 'navigator');
    Object.defineProperty(g, 'navigator', { value: { gpu: { requestAdapter: async () => null } }, configurable: true, writable: true });
    try {
      await expectError(() => acquireDevice(), /returned no adapter/);
    } finally {
      if (had) Object.defineProperty(g, 'navigator', had);
      else delete g.navigator;
    }
  });
});
