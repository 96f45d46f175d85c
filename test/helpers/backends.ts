/**
 * The backends the shared suites run on: the CPU reference always, WebGPU when an adapter exists.
 * Under CI (CI=true) or WEBGRAD_REQUIRE_WEBGPU=1 a missing adapter FAILS the run; elsewhere the
 * WebGPU tests are reported as skipped with a loud banner (never silently).
 */
import { beforeAll, beforeEach, describe } from 'vitest';
import type { BackendName } from '../../src/backend/types.js';
import { init } from '../../src/init.js';
import { engine } from '../../src/engine.js';

export const requireWebGPU = process.env.CI === 'true' || process.env.WEBGRAD_REQUIRE_WEBGPU === '1';

export interface WebGPUAvailability {
  available: boolean;
  reason: string | null;
  adapter: string | null;
}

let cached: Promise<WebGPUAvailability> | null = null;

/**
 * Brings up the WebGPU backend once per test file (worker), keeping 'cpu' the default device. No
 * autotune: the tests run the default matmul shapes (test/webgpu-kernel-paths forces every other),
 * never one picked by timing or read from a cache other processes write.
 */
export function webgpuAvailability(): Promise<WebGPUAvailability> {
  cached ??= (async () => {
    try {
      const r = await init({ backend: 'webgpu', autotune: false });
      engine.defaultBackend = 'cpu';
      return { available: true, reason: null, adapter: r.adapter };
    } catch (e) {
      engine.defaultBackend = 'cpu';
      const reason = e instanceof Error ? e.message : String(e);
      if (!requireWebGPU) {
        const bar = '!'.repeat(78);
        console.warn(`\n${bar}\n!! WebGPU tests NOT RUN (no adapter). ${reason}\n!! Set CI=true or WEBGRAD_REQUIRE_WEBGPU=1 to make this a failure.\n${bar}\n`);
      }
      return { available: false, reason, adapter: null };
    }
  })();
  return cached;
}

export const SUITE_BACKENDS: readonly BackendName[] = ['cpu', 'webgpu'];

/**
 * Defines `fn`'s tests once per backend. The WebGPU block fails in beforeAll when an adapter is
 * required and missing, and otherwise skips each test visibly.
 */
export function describeEachBackend(title: string, fn: (device: BackendName) => void): void {
  for (const device of SUITE_BACKENDS) {
    describe(`${title} [${device}]`, () => {
      if (device === 'webgpu') {
        let available = false;
        beforeAll(async () => {
          const a = await webgpuAvailability();
          available = a.available;
          if (!a.available && requireWebGPU) throw new Error(`WebGPU is required here (CI) but no adapter was found: ${a.reason}`);
        });
        beforeEach((ctx) => {
          if (!available) ctx.skip();
        });
      }
      fn(device);
    });
  }
}
