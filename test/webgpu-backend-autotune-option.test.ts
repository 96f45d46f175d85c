/**
 * `WebGPUBackend.create`'s `autotune` option: by default the three tunes (matmul, batch norm,
 * reduce) run at start, each with the backend and the adapter's description, and their choices are
 * the backend's; `autotune: false` runs none of them and leaves every choice table empty (the shape
 * rules). The tunes themselves are replaced here by recording stand-ins, so this checks the wiring
 * in backend.ts in milliseconds; the real tunes are checked in webgpu-host-mutants-tune,
 * autotune-cache, reduce-tune and batchnorm-tune. No adapter is a failure, never a skip.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { WebGPUBackend as Backend } from '../src/backend/webgpu/backend.js';

const calls = vi.hoisted(() => [] as { tune: string; backend: unknown; adapterInfo: string }[]);
const CHOICES = vi.hoisted(() => ({
  matmul: new Map([['NN:mlp', { design: 'stand-in matmul choice' }]]),
  batchNorm: new Map([['bn:stand-in', 'tiled']]),
  reduce: new Map([['sum:stand-in', 'tree']]),
}));

vi.mock('../src/backend/webgpu/matmul-tune.js', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  tuneMatmul: async (backend: unknown, adapterInfo: string) => {
    calls.push({ tune: 'matmul', backend, adapterInfo });
    return CHOICES.matmul;
  },
}));
vi.mock('../src/backend/webgpu/batchnorm-tune.js', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  tuneBatchNorm: async (backend: unknown, adapterInfo: string) => {
    calls.push({ tune: 'batchNorm', backend, adapterInfo });
    return CHOICES.batchNorm;
  },
}));
vi.mock('../src/backend/webgpu/reduce-tune.js', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  tuneReduce: async (backend: unknown, adapterInfo: string) => {
    calls.push({ tune: 'reduce', backend, adapterInfo });
    return CHOICES.reduce;
  },
}));

const { WebGPUBackend } = await import('../src/backend/webgpu/backend.js');

let gpu: Backend | undefined;
beforeEach(() => {
  calls.length = 0;
});
afterEach(() => {
  gpu?.destroy();
  gpu = undefined;
});

describe('webgpu backend: the autotune option at start', () => {
  it('by default runs the matmul, batch-norm and reduce tunes once each, on this backend and adapter, and keeps their choices', async () => {
    gpu = await WebGPUBackend.create();
    expect(calls.map((c) => c.tune)).toEqual(['matmul', 'batchNorm', 'reduce']);
    for (const c of calls) {
      expect(c.backend).toBe(gpu);
      expect(c.adapterInfo).toBe(gpu.adapterInfo);
    }
    expect(gpu.matmulChoices).toBe(CHOICES.matmul);
    expect(gpu.batchNormChoices).toBe(CHOICES.batchNorm);
    expect(gpu.reduceChoices).toBe(CHOICES.reduce);
  });

  it('autotune: true is the default spelled out', async () => {
    gpu = await WebGPUBackend.create({ autotune: true });
    expect(calls.map((c) => c.tune)).toEqual(['matmul', 'batchNorm', 'reduce']);
    expect(gpu.reduceChoices).toBe(CHOICES.reduce);
  });

  it('autotune: false runs no tune and leaves every choice table empty (the shape rules decide)', async () => {
    gpu = await WebGPUBackend.create({ autotune: false });
    expect(calls).toEqual([]);
    expect(gpu.matmulChoices.size).toBe(0);
    expect(gpu.batchNormChoices.size).toBe(0);
    expect(gpu.reduceChoices.size).toBe(0);
  });
});
