/**
 * Finding a device and the compile-only session (src/backend/webgpu/device.ts, precompile.ts) on
 * stand-ins: a navigator.gpu or a Dawn module (vi.mock of 'webgpu') whose adapter and device record
 * what they were asked; a device whose createComputePipelineAsync settles when the test says. Exact
 * messages, limits and features requested, the Dawn instance reused per option set, the health
 * checks, the sessions' sharing of pipelines in flight. Written against the mutants StrykerJS left
 * alive there (WEBGRAD_MUTATE_SCOPE=webgpu-tune); no adapter needed (the real device is in
 * webgpu-backend.test.ts, init-concurrency.test.ts and precompile.test.ts).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readdirSync } from 'node:fs';
import { acquireDevice, DeviceHealth } from '../src/backend/webgpu/device.js';
import { CompileSession, compileOnlyActive, isPlaceholder, markPlaceholder, placeholderError } from '../src/backend/webgpu/precompile.js';
import type { GpuStorage } from '../src/backend/webgpu/storage.js';
import { WebgradError } from '../src/errors.js';

/** The stand-in Dawn: create() calls, and the GPU it hands out. */
const dawn = vi.hoisted(() => ({
  creates: [] as string[][],
  globalsRead: 0,
  gpu: null as unknown,
}));
vi.mock('webgpu', () => ({
  create: (options: string[]) => {
    dawn.creates.push(options);
    return dawn.gpu;
  },
  get globals() {
    return {
      get __webgradTestGlobal() {
        dawn.globalsRead++;
        return dawn.globalsRead;
      },
    };
  },
}));

afterEach(() => {
  vi.unstubAllGlobals();
  vi.unstubAllEnvs();
});

const ADAPTER_LIMITS = {
  maxStorageBufferBindingSize: 1 << 30,
  maxBufferSize: 2 ** 31,
  maxComputeWorkgroupStorageSize: 32768,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxStorageBuffersPerShaderStage: 16,
  maxComputeWorkgroupsPerDimension: 999,
};

interface Asked {
  adapterOptions: unknown[];
  device: GPUDeviceDescriptor[];
}

/** A GPU whose adapter has `features` and `info`; the device it gives has the requested features and limits a little different from the adapter's. */
function standInGpu(features: string[], info: Partial<GPUAdapterInfo> & { subgroupMinSize?: number; subgroupMaxSize?: number } | undefined, asked: Asked) {
  return {
    requestAdapter: async (o?: unknown) => {
      asked.adapterOptions.push(o);
      return {
        limits: ADAPTER_LIMITS,
        features: new Set(features),
        info,
        requestDevice: async (d: GPUDeviceDescriptor) => {
          asked.device.push(d);
          return {
            limits: {
              maxStorageBufferBindingSize: 11, maxBufferSize: 12, maxComputeWorkgroupStorageSize: 13, maxComputeInvocationsPerWorkgroup: 14,
              maxComputeWorkgroupsPerDimension: 15, minUniformBufferOffsetAlignment: 16, maxUniformBufferBindingSize: 17, maxStorageBuffersPerShaderStage: 18,
              maxBindGroups: 99,
            },
            features: new Set((d.requiredFeatures ?? []) as string[]),
            lost: new Promise(() => undefined),
            onuncapturederror: null,
          };
        },
      };
    },
  };
}

describe('acquireDevice on a stand-in navigator.gpu', () => {
  const INFO = { vendor: 'V', architecture: '', device: 'D', description: 'Desc', subgroupMinSize: 8, subgroupMaxSize: 32 };

  it('requests the adapter’s limits and the features it offers, and reports the device’s', async () => {
    const asked: Asked = { adapterOptions: [], device: [] };
    vi.stubGlobal('navigator', { gpu: standInGpu(['shader-f16', 'subgroups', 'timestamp-query'], INFO, asked) });
    const d = await acquireDevice({ powerPreference: 'low-power' });
    expect(asked.adapterOptions).toEqual([{ powerPreference: 'low-power' }]);
    expect(asked.device).toEqual([{
      requiredLimits: {
        maxStorageBufferBindingSize: 1 << 30, maxBufferSize: 2 ** 31, maxComputeWorkgroupStorageSize: 32768,
        maxComputeInvocationsPerWorkgroup: 1024, maxStorageBuffersPerShaderStage: 16,
      },
      requiredFeatures: ['shader-f16', 'subgroups'],
    }]);
    expect(d.limits).toEqual({
      maxStorageBufferBindingSize: 11, maxBufferSize: 12, maxComputeWorkgroupStorageSize: 13, maxComputeInvocationsPerWorkgroup: 14,
      maxComputeWorkgroupsPerDimension: 15, minUniformBufferOffsetAlignment: 16, maxUniformBufferBindingSize: 17, maxStorageBuffersPerShaderStage: 18,
    });
    expect(d.adapterInfo).toBe('V / D / Desc');
    expect(d.shaderF16).toBe(true);
    expect(d.subgroups).toEqual({ minSize: 8, maxSize: 32 });
    expect(d.health).toBeInstanceOf(DeviceHealth);
    // The health watches this device: an uncaptured error is recorded.
    (d.device as unknown as { onuncapturederror: (e: unknown) => void }).onuncapturederror({ error: { message: 'boom' } });
    expect(d.health.lastError).toEqual({ message: 'boom', op: '(none)' });
  });

  it('no power preference: requestAdapter gets no options; features turned off or absent are not requested', async () => {
    const asked: Asked = { adapterOptions: [], device: [] };
    vi.stubGlobal('navigator', { gpu: standInGpu(['shader-f16', 'subgroups'], { vendor: 'V', subgroupMaxSize: 64 }, asked) });
    const a = await acquireDevice({ shaderF16: false });
    expect(asked.adapterOptions).toEqual([undefined]);
    expect(asked.device[0]!.requiredFeatures).toEqual(['subgroups']);
    expect([a.shaderF16, a.subgroups]).toEqual([false, { minSize: 4, maxSize: 64 }]);
    const b = await acquireDevice({ subgroups: false });
    expect(asked.device[1]!.requiredFeatures).toEqual(['shader-f16']);
    expect([b.shaderF16, b.subgroups]).toEqual([true, null]);
    const c = await acquireDevice({ subgroups: false, shaderF16: false });
    expect('requiredFeatures' in asked.device[2]!).toBe(false);
    expect([c.shaderF16, c.subgroups, c.adapterInfo]).toEqual([false, null, 'V']);
    // An adapter without the features: nothing requested even by default.
    vi.stubGlobal('navigator', { gpu: standInGpu([], { vendor: '', architecture: '', device: '', description: '' }, asked) });
    const e = await acquireDevice();
    expect('requiredFeatures' in asked.device[3]!).toBe(false);
    expect([e.shaderF16, e.subgroups, e.adapterInfo]).toEqual([false, null, 'unknown adapter']);
    // No subgroup sizes in the info: WGSL's bounds. An adapter with no info at all: 'unknown adapter'.
    vi.stubGlobal('navigator', { gpu: standInGpu(['subgroups'], {}, asked) });
    const f = await acquireDevice();
    expect([f.adapterInfo, f.subgroups]).toEqual(['unknown adapter', { minSize: 4, maxSize: 128 }]);
    vi.stubGlobal('navigator', { gpu: standInGpu([], undefined, asked) });
    expect((await acquireDevice()).adapterInfo).toBe('unknown adapter');
  });

  it('no adapter in a browser: the browser’s message', async () => {
    vi.stubGlobal('navigator', { gpu: { requestAdapter: async () => null } });
    await expect(acquireDevice()).rejects.toThrow(
      new WebgradError(
        'webgpu: navigator.gpu.requestAdapter() returned no adapter. The browser has WebGPU disabled or no usable GPU; ' +
          'in Chromium try --enable-unsafe-webgpu (headless Chromium runs WebGPU on its built-in SwiftShader with that flag).',
      ),
    );
  });

  it('neither navigator.gpu nor Node: the same message, nothing tried', async () => {
    vi.stubGlobal('navigator', {});
    vi.stubGlobal('process', { versions: {} });
    const p = acquireDevice();
    vi.stubGlobal('process', {});
    const p2 = acquireDevice();
    vi.stubGlobal('process', undefined);
    const p3 = acquireDevice();
    vi.unstubAllGlobals();
    await expect(p).rejects.toThrow(/^webgpu: navigator.gpu.requestAdapter\(\) returned no adapter\./);
    await expect(p2).rejects.toThrow(/^webgpu: navigator.gpu.requestAdapter\(\) returned no adapter\./);
    await expect(p3).rejects.toThrow(/^webgpu: navigator.gpu.requestAdapter\(\) returned no adapter\./);
    expect(dawn.creates).toEqual([]);
  });
});

describe('acquireDevice in Node (a stand-in Dawn module)', () => {
  it('one Dawn instance per option set; its globals installed once; no adapter: the Vulkan drivers seen', async () => {
    const asked: Asked = { adapterOptions: [], device: [] };
    dawn.gpu = standInGpu([], { vendor: 'N' }, asked);
    await acquireDevice({ dawnOptions: ['backend=vulkan'] });
    await acquireDevice({ dawnOptions: ['backend=vulkan'] });
    expect(dawn.creates).toEqual([['backend=vulkan']]);
    expect((globalThis as { __webgradTestGlobal?: number }).__webgradTestGlobal).toBe(1);
    await acquireDevice({ dawnOptions: ['backend=vulkan', 'x'] });
    await acquireDevice();
    await acquireDevice();
    expect(dawn.creates).toEqual([['backend=vulkan'], ['backend=vulkan', 'x'], []]);
    // The option list is compared whole, not joined into one string.
    await acquireDevice({ dawnOptions: ['backend=vulkanx'] });
    await acquireDevice({ dawnOptions: ['backend=vulkan', 'x'] });
    expect(dawn.creates.length).toBe(5);
    expect(dawn.globalsRead).toBe(1);
    expect(asked.device.length).toBe(7);

    dawn.gpu = { requestAdapter: async () => null };
    vi.stubEnv('VK_ICD_FILENAMES', '/nonexistent/a.json:/usr/share/vulkan/icd.d/lvp_icd.json:');
    vi.stubEnv('VK_DRIVER_FILES', '');
    const err = await acquireDevice({ dawnOptions: ['n1'] }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(WebgradError);
    const dirs: string[] = [];
    for (const dir of ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d']) {
      let files: string[] | null = null;
      try {
        files = readdirSync(dir).filter((f) => f.endsWith('.json'));
      } catch {
        files = null;
      }
      dirs.push(files === null ? `${dir} does not exist` : files.length ? `${dir} holds ${files.join(', ')}` : `${dir} is empty`);
    }
    const lvp = dirs[0]!.includes('lvp_icd.json');
    const drivers = `${dirs.join('; ')}; VK_ICD_FILENAMES=/nonexistent/a.json:/usr/share/vulkan/icd.d/lvp_icd.json: (missing: /nonexistent/a.json${lvp ? '' : ', /usr/share/vulkan/icd.d/lvp_icd.json'})`;
    expect((err as Error).message).toBe(
      `webgpu: no WebGPU adapter was found. Tried Dawn (the npm package 'webgpu') on its Vulkan backend; ` +
        `Vulkan drivers seen: ${drivers}. Dawn needs a Vulkan driver it accepts; without a GPU use a software one: ` +
        `Debian 12's default Mesa 22 lavapipe (lvp_icd.json from bookworm's mesa-vulkan-drivers) is rejected by Dawn, ` +
        `so run 'sudo bash scripts/install-vulkan-driver.sh' (installs Mesa 25 lavapipe from bookworm-backports, found without any variable), ` +
        `or install SwiftShader from Debian's chromium-common package ('apt-get install --no-install-recommends chromium-common libvulkan1') ` +
        `and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json in the shell before starting Node.`,
    );
    // VK_DRIVER_FILES is listed too; with neither set, that is said.
    vi.stubEnv('VK_ICD_FILENAMES', '');
    vi.stubEnv('VK_DRIVER_FILES', '/nonexistent/b.json:/nonexistent/c.json');
    const err2 = (await acquireDevice({ dawnOptions: ['n2'] }).catch((e: unknown) => e)) as Error;
    expect(err2.message).toContain(`Vulkan drivers seen: ${dirs.join('; ')}; VK_DRIVER_FILES=/nonexistent/b.json:/nonexistent/c.json (missing: /nonexistent/b.json, /nonexistent/c.json). Dawn needs`);
    vi.stubEnv('VK_DRIVER_FILES', '');
    const err3 = (await acquireDevice({ dawnOptions: ['n3'] }).catch((e: unknown) => e)) as Error;
    expect(err3.message).toContain(`Vulkan drivers seen: ${dirs.join('; ')}; VK_ICD_FILENAMES and VK_DRIVER_FILES are unset. Dawn needs`);
  });
});

describe('DeviceHealth', () => {
  it('records uncaptured errors against the last op; check() throws once and clears; a loss throws every time', async () => {
    let lose: (info: { reason: unknown; message: string }) => void = () => undefined;
    const device = { lost: new Promise((r) => (lose = r)), onuncapturederror: null as null | ((e: unknown) => void) };
    const h = new DeviceHealth();
    h.watch(device as unknown as GPUDevice);
    expect(() => h.check()).not.toThrow();
    h.lastOp = 'matmul';
    device.onuncapturederror!({ error: { message: 'out of memory' } });
    expect(h.lastError).toEqual({ message: 'out of memory', op: 'matmul' });
    h.record('explicit', 'conv');
    expect(() => h.check()).toThrow(new WebgradError("webgpu: a GPU error was reported after encoding op 'conv': explicit"));
    expect(h.lastError).toBeNull();
    expect(() => h.check()).not.toThrow();
    lose({ reason: 'destroyed', message: 'gone' });
    await Promise.resolve();
    await Promise.resolve();
    expect(h.lost).toEqual({ reason: 'destroyed', message: 'gone' });
    const lost =
      "webgpu: the device was lost (reason: destroyed; gone); every call on this backend and its tensors fails now; call `await init({ backend: 'webgpu' })` for a fresh device (and reload from a checkpoint)";
    expect(() => h.check()).toThrow(new WebgradError(lost));
    expect(() => h.check()).toThrow(new WebgradError(lost));
    // No message: no '; ', and the reason as a string.
    const h2 = new DeviceHealth();
    h2.watch({ lost: Promise.resolve({ reason: undefined, message: '' }) } as unknown as GPUDevice);
    await Promise.resolve();
    await Promise.resolve();
    expect(h2.lost).toEqual({ reason: 'undefined', message: '' });
    expect(() => h2.check()).toThrow(/^webgpu: the device was lost \(reason: undefined\); every call/);
    // A rejected lost promise is ignored.
    const h3 = new DeviceHealth();
    h3.watch({ lost: Promise.reject(new Error('x')) } as unknown as GPUDevice);
    await Promise.resolve();
    await Promise.resolve();
    expect(h3.lost).toBeNull();
  });
});

describe('CompileSession', () => {
  /** A device whose async compiles settle by hand, counting them. */
  function compilingDevice() {
    const pending: { key: string; resolve: (p: unknown) => void; reject: (e: unknown) => void }[] = [];
    const device = {
      createComputePipelineAsync(d: GPUComputePipelineDescriptor) {
        return new Promise((resolve, reject) => pending.push({ key: String(d.label), resolve, reject }));
      },
    };
    return { device: device as unknown as GPUDevice, pending };
  }
  const desc = (key: string) => ({ label: key }) as unknown as GPUComputePipelineDescriptor;
  const flushMicrotasks = () => new Promise((r) => setTimeout(r, 0));

  it('counts active sessions; marks placeholders; names the op in the placeholder error', () => {
    expect(compileOnlyActive()).toBe(false);
    const f = compilingDevice();
    const a = new CompileSession(f.device);
    const b = new CompileSession(f.device);
    a.setActive(true);
    b.setActive(true);
    expect(compileOnlyActive()).toBe(true);
    a.setActive(false);
    expect(compileOnlyActive()).toBe(true);
    b.setActive(false);
    expect(compileOnlyActive()).toBe(false);
    expect([a.dispatchesSkipped, a.uploadsSkipped, a.readsRefused, a.pipelines]).toEqual([0, 0, 0, 0]);
    const s = {} as GpuStorage;
    expect(isPlaceholder(s)).toBe(false);
    expect(markPlaceholder(s)).toBe(s);
    expect(isPlaceholder(s)).toBe(true);
    expect(isPlaceholder({} as GpuStorage)).toBe(false);
    const e = placeholderError('matmul');
    expect(e).toBeInstanceOf(WebgradError);
    expect(e.message).toBe('matmul: this tensor was made inside precompile(fn), which compiles kernels without running them, so it holds no values; make it again outside precompile');
  });

  it('a key is compiled once per device, shared by overlapping sessions, adopted when ready', async () => {
    const f = compilingDevice();
    const adopted: unknown[] = [];
    const s1 = new CompileSession(f.device);
    const stub = s1.compile('k', desc('k'), (p) => adopted.push(['s1', p]));
    expect(Object.isFrozen(stub)).toBe(true);
    expect(stub.label).toBe("precompile stand-in for 'k'");
    expect(s1.compile('k', desc('k'), () => adopted.push('again'))).toBe(stub);
    expect(s1.pipelines).toBe(1);
    // A second session while 'k' is in flight: its own stand-in, no second compile.
    const s2 = new CompileSession(f.device);
    const stub2 = s2.compile('k', desc('k'), (p) => adopted.push(['s2', p]));
    expect(stub2).not.toBe(stub);
    expect(stub2.label).toBe("precompile stand-in for 'k'");
    expect(s2.pipelines).toBe(0);
    // Another device compiles its own.
    const g = compilingDevice();
    const s3 = new CompileSession(g.device);
    s3.compile('k', desc('k'), () => undefined);
    expect([f.pending.length, g.pending.length, s3.pipelines]).toEqual([1, 1, 1]);
    let done1 = false;
    let done2 = false;
    void s1.done().then(() => (done1 = true));
    void s2.done().then(() => (done2 = true));
    await flushMicrotasks();
    expect([done1, done2]).toEqual([false, false]);
    f.pending[0]!.resolve('PIPELINE');
    await flushMicrotasks();
    expect([done1, done2]).toEqual([true, true]);
    expect(adopted).toEqual([['s1', 'PIPELINE']]);
    // Once settled, a later session compiles the key anew.
    const s4 = new CompileSession(f.device);
    s4.compile('k', desc('k'), () => undefined);
    expect([s4.pipelines, f.pending.length]).toEqual([1, 2]);
    g.pending[0]!.resolve('P');
    f.pending[1]!.resolve('P');
    await expect(s4.done()).resolves.toBeUndefined();
  });

  it('failures are reported by done(), each with its key, and do not block a later compile', async () => {
    const f = compilingDevice();
    const s = new CompileSession(f.device);
    s.compile('a', desc('a'), () => undefined);
    s.compile('b', desc('b'), () => undefined);
    s.compile('c', desc('c'), () => undefined);
    f.pending[0]!.reject(new Error('bad WGSL'));
    f.pending[1]!.resolve('ok');
    f.pending[2]!.reject('lost');
    await expect(s.done()).rejects.toThrow(new WebgradError("precompile: 2 pipeline(s) failed to compile: 'a': bad WGSL; 'c': lost"));
    const t = new CompileSession(f.device);
    t.compile('a', desc('a'), () => undefined);
    expect(f.pending.length).toBe(4);
  });
});
