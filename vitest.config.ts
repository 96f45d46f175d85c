import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Software Vulkan drivers compile pipelines slowly; the sizes in tests are small, the clock generous.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Two cores: more workers only contend for them (and each would start its own WebGPU device).
    maxWorkers: 2,
    reporters: ['default'],
  },
});
