/**
 * The 'subgroups' device feature: requested when the adapter offers it (both software drivers do:
 * lavapipe with 8 lanes, SwiftShader with 4), reported with the adapter's sizes, and left off with
 * `subgroups: false`. The subgroup kernel designs (matmul, reductions) key on `backend.subgroups`.
 * No adapter is a FAILURE here (create throws), never a skip.
 */
import { describe, expect, it } from 'vitest';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';

describe('webgpu device: the subgroups feature', () => {
  it('is requested when the adapter offers it, with sizes in WGSL\'s 4..128', async () => {
    const gpu = await WebGPUBackend.create({ autotune: false });
    try {
      const offered = /llvmpipe|lavapipe|swiftshader/i.test(gpu.adapterInfo);
      if (offered) expect(gpu.subgroups).not.toBeNull();
      expect(gpu.device.features.has('subgroups')).toBe(gpu.subgroups !== null);
      if (gpu.subgroups) {
        expect(gpu.subgroups.minSize).toBeGreaterThanOrEqual(4);
        expect(gpu.subgroups.maxSize).toBeLessThanOrEqual(128);
        expect(gpu.subgroups.minSize).toBeLessThanOrEqual(gpu.subgroups.maxSize);
      }
    } finally {
      gpu.destroy();
    }
  });

  it('is left off with subgroups: false', async () => {
    const gpu = await WebGPUBackend.create({ autotune: false, subgroups: false });
    try {
      expect(gpu.subgroups).toBeNull();
      expect(gpu.device.features.has('subgroups')).toBe(false);
    } finally {
      gpu.destroy();
    }
  });
});
