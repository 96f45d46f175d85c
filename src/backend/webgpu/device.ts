/**
 * Finding a WebGPU device: `navigator.gpu` in browsers, Dawn (the npm package `webgpu`) in Node.
 * Node-only modules (`webgpu`, `node:fs`) are reached through dynamic `import()` only, so nothing
 * Node-specific is pulled into a browser bundle.
 */

import { WebgradError } from '../../errors.js';

export interface AcquireDeviceOptions {
  powerPreference?: GPUPowerPreference;
  /** Options passed to Dawn's `create()` in Node, e.g. ['backend=vulkan', 'adapter=llvmpipe']. */
  dawnOptions?: string[];
  /**
   * Request 'shader-f16' (float16 tensors) when the adapter offers it; default true. False runs
   * the device without it, as on an adapter that lacks it (float16 then throws a clear error).
   */
  shaderF16?: boolean;
  /**
   * Request 'subgroups' when the adapter offers it; default true. It only adds kernel designs the
   * autotune and the tests may choose (subgroup matmul and reductions); false runs without them.
   */
  subgroups?: boolean;
}

/** The adapter's subgroup sizes when the device was created with 'subgroups'; null otherwise. */
export interface SubgroupSupport {
  minSize: number;
  maxSize: number;
}

/** The limits the backend relies on, as granted to the device. */
export interface DeviceLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupsPerDimension: number;
  minUniformBufferOffsetAlignment: number;
  maxUniformBufferBindingSize: number;
  maxStorageBuffersPerShaderStage: number;
}

/**
 * The last asynchronous failure of a device: an uncaptured (validation, out-of-memory, internal)
 * error, or the loss of the device. The backend checks it on every call and throws.
 */
export class DeviceHealth {
  /** Name of the op whose commands were encoded most recently; errors are attributed to it. */
  lastOp = '(none)';
  lastError: { message: string; op: string } | null = null;
  lost: { reason: string; message: string } | null = null;

  watch(device: GPUDevice): void {
    device.lost.then(
      (info) => {
        this.lost = { reason: String(info.reason), message: info.message };
      },
      () => undefined,
    );
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.record(ev.error.message);
    };
  }

  record(message: string, op: string = this.lastOp): void {
    this.lastError = { message, op };
  }

  /** Throws if the device was lost or an error was recorded since the last check (which clears it). */
  check(): void {
    if (this.lost) {
      throw new WebgradError(
        `webgpu: the device was lost (reason: ${this.lost.reason}${this.lost.message ? `; ${this.lost.message}` : ''}); ` +
          `every call on this backend and its tensors fails now; call \`await init({ backend: 'webgpu' })\` for a fresh device (and reload from a checkpoint)`,
      );
    }
    const e = this.lastError;
    if (e) {
      this.lastError = null;
      throw new WebgradError(`webgpu: a GPU error was reported after encoding op '${e.op}': ${e.message}`);
    }
  }
}

export interface AcquiredDevice {
  device: GPUDevice;
  /** One line: vendor, architecture, device, description as the adapter reports them. */
  adapterInfo: string;
  limits: DeviceLimits;
  health: DeviceHealth;
  /** The device was created with 'shader-f16': float16 tensors are available. */
  shaderF16: boolean;
  /** The device was created with 'subgroups' (the sizes as the adapter reports them), or null. */
  subgroups: SubgroupSupport | null;
}

interface DawnModule {
  create(options: string[]): GPU;
  globals: object;
}

let dawnGpu: GPU | null = null;
// Stryker disable next-line StringLiteral: equivalent, the key is compared only once dawnGpu is set, and then it was set with it
let dawnGpuOptionsKey = '';

async function nodeGpu(options: string[]): Promise<GPU> {
  const key = options.join('\u0000');
  if (dawnGpu && key === dawnGpuOptionsKey) return dawnGpu;
  let mod: DawnModule;
  try {
    mod = (await importNodeOnly('webgpu')) as DawnModule;
  } catch (e) {
    throw new WebgradError(
      `webgpu: no navigator.gpu, and the npm package 'webgpu' (Dawn for Node) could not be loaded: ` +
        `${e instanceof Error ? e.message : String(e)}. Install it with 'npm install webgpu'.`,
    );
  }
  if (!dawnGpu) Object.assign(globalThis, mod.globals);
  dawnGpu = mod.create(options);
  dawnGpuOptionsKey = key;
  return dawnGpu;
}

/**
 * A dynamic import that bundlers (Vite, Rollup, esbuild, webpack) do not follow: the specifier is
 * a variable, so Dawn and `node:fs` never enter a browser bundle. Only called on the Node path.
 */
function importNodeOnly(specifier: string): Promise<unknown> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** Lists the Vulkan driver manifests the loader would consider, for the no-adapter message. */
async function describeVulkanDrivers(): Promise<string> {
  try {
    const fs = (await importNodeOnly('node:fs')) as typeof import('node:fs');
    const parts: string[] = [];
    for (const dir of ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d']) {
      // Stryker disable next-line ArrayDeclaration: equivalent, the initial value is overwritten, or the catch continues without reading it
      let files: string[] = [];
      try {
        files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
      } catch {
        parts.push(`${dir} does not exist`);
        continue;
      }
      parts.push(files.length ? `${dir} holds ${files.join(', ')}` : `${dir} is empty`);
    }
    const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
    for (const v of ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES']) {
      const value = env[v];
      if (!value) continue;
      const files = value.split(':').filter((f) => f.length > 0);
      const missing = files.filter((f) => !fs.existsSync(f));
      parts.push(`${v}=${value}${missing.length ? ` (missing: ${missing.join(', ')})` : ''}`);
    }
    if (!env['VK_ICD_FILENAMES'] && !env['VK_DRIVER_FILES']) parts.push('VK_ICD_FILENAMES and VK_DRIVER_FILES are unset');
    return parts.join('; ');
  } catch {
    return 'the Vulkan driver folders could not be listed';
  }
}

async function noAdapterError(node: boolean): Promise<WebgradError> {
  if (!node) {
    return new WebgradError(
      'webgpu: navigator.gpu.requestAdapter() returned no adapter. The browser has WebGPU disabled or no usable GPU; ' +
        'in Chromium try --enable-unsafe-webgpu (headless Chromium runs WebGPU on its built-in SwiftShader with that flag).',
    );
  }
  const drivers = await describeVulkanDrivers();
  return new WebgradError(
    `webgpu: no WebGPU adapter was found. Tried Dawn (the npm package 'webgpu') on its Vulkan backend; ` +
      `Vulkan drivers seen: ${drivers}. Dawn needs a Vulkan driver it accepts; without a GPU use a software one: ` +
      `Debian 12's default Mesa 22 lavapipe (lvp_icd.json from bookworm's mesa-vulkan-drivers) is rejected by Dawn, ` +
      `so run 'sudo bash scripts/install-vulkan-driver.sh' (installs Mesa 25 lavapipe from bookworm-backports, found without any variable), ` +
      `or install SwiftShader from Debian's chromium-common package ('apt-get install --no-install-recommends chromium-common libvulkan1') ` +
      `and set VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json in the shell before starting Node.`,
  );
}

function adapterInfoString(adapter: GPUAdapter): string {
  const info = (adapter as { info?: GPUAdapterInfo }).info;
  if (!info) return 'unknown adapter';
  const fields = [info.vendor, info.architecture, info.device, info.description].filter((s) => s); // drops undefined and empty fields
  return fields.length ? fields.join(' / ') : 'unknown adapter';
}

export async function acquireDevice(options: AcquireDeviceOptions = {}): Promise<AcquiredDevice> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  const node = isNode() && !nav?.gpu;
  const gpu = nav?.gpu ?? (node ? await nodeGpu(options.dawnOptions ?? []) : undefined);
  if (!gpu) throw await noAdapterError(false);

  const adapter = await gpu.requestAdapter(options.powerPreference ? { powerPreference: options.powerPreference } : undefined);
  if (!adapter) throw await noAdapterError(node);

  const a = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: a.maxStorageBufferBindingSize,
    maxBufferSize: a.maxBufferSize,
    maxComputeWorkgroupStorageSize: a.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: a.maxComputeInvocationsPerWorkgroup,
    maxStorageBuffersPerShaderStage: a.maxStorageBuffersPerShaderStage,
  };
  const wantF16 = (options.shaderF16 ?? true) && adapter.features.has('shader-f16');
  const wantSubgroups = (options.subgroups ?? true) && adapter.features.has('subgroups');
  const requiredFeatures: GPUFeatureName[] = [];
  if (wantF16) requiredFeatures.push('shader-f16');
  if (wantSubgroups) requiredFeatures.push('subgroups');
  const device = await adapter.requestDevice({ requiredLimits, ...(requiredFeatures.length > 0 ? { requiredFeatures } : {}) });
  const d = device.limits;
  const limits: DeviceLimits = {
    maxStorageBufferBindingSize: d.maxStorageBufferBindingSize,
    maxBufferSize: d.maxBufferSize,
    maxComputeWorkgroupStorageSize: d.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: d.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupsPerDimension: d.maxComputeWorkgroupsPerDimension,
    minUniformBufferOffsetAlignment: d.minUniformBufferOffsetAlignment,
    maxUniformBufferBindingSize: d.maxUniformBufferBindingSize,
    maxStorageBuffersPerShaderStage: d.maxStorageBuffersPerShaderStage,
  };
  const health = new DeviceHealth();
  health.watch(device);
  return {
    device,
    adapterInfo: adapterInfoString(adapter),
    limits,
    health,
    shaderF16: device.features.has('shader-f16'),
    subgroups: device.features.has('subgroups') ? subgroupSizes(adapter.info) : null,
  };
}

/** subgroupMinSize/subgroupMaxSize are newer than some typings; 4..128 when the adapter omits them (WGSL's bounds). */
function subgroupSizes(info: GPUAdapterInfo): SubgroupSupport {
  const sizes = info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  return { minSize: sizes.subgroupMinSize ?? 4, maxSize: sizes.subgroupMaxSize ?? 128 };
}
