import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Software Vulkan drivers compile pipelines slowly; the sizes in tests are small, the clock generous.
    // A fresh machine has an empty Mesa shader cache: there, tests that compile many pipelines took
    // 90–121 s under CI load (fresh-ci, 2026-12-04), against a few seconds with the cache warm.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    // Two cores: more workers only contend for them (and each would start its own WebGPU device).
    maxWorkers: 2,
    reporters: ['default'],
  },
});
