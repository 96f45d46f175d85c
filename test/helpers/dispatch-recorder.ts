/**
 * Records what a WebGPU backend's host code dispatches: op name, kernel name and workgroup size
 * (from the pipeline key, shaders/program.ts: `name|bindings|uniforms|workgroup[|sg]`), whether a
 * BIAS binding is declared, the workgroup counts and the first uniforms as u32. The batcher's
 * dispatch is spied on and still runs; with `dry`, nothing is compiled or run (the pipeline cache
 * and the batcher are stubbed for the call, so outputs hold no values), for checks of the choice only.
 */
import { vi } from 'vitest';
import type { WebGPUBackend } from '../../src/backend/webgpu/backend.js';

export interface DispatchRec { op: string; name: string; wg: string; bias: boolean; groups: number[]; u32: number[] }

export function recordDispatches<T>(gpu: WebGPUBackend, f: () => T, dry = false, words = 5): { out: T; recs: DispatchRec[] } {
  const inner = gpu as unknown as { batcher: { dispatch: (...a: unknown[]) => void }; pipelines: { program: (p: { key: string }) => unknown } };
  const spy = vi.spyOn(inner.batcher, 'dispatch');
  const prog = vi.spyOn(inner.pipelines, 'program');
  if (dry) {
    spy.mockImplementation(() => undefined);
    prog.mockImplementation((p) => ({ key: p.key, pipeline: null, layout: null }));
  }
  try {
    const out = f();
    const recs = spy.mock.calls.map(([op, kernel, , params, groups]) => {
      const key = (kernel as { key: string }).key.split('|');
      const p = params as ArrayBufferView;
      const g = typeof groups === 'number' ? [groups] : [...(groups as number[])];
      return { op: op as string, name: key[0]!, wg: key[3]!, bias: key[1]!.includes('BIAS:'), groups: g, u32: Array.from(new Uint32Array(p.buffer, p.byteOffset, Math.min(words, p.byteLength / 4))) };
    });
    return { out, recs };
  } finally {
    spy.mockRestore();
    prog.mockRestore();
  }
}
