/**
 * The bind-group cache is bounded, reuses uniform slots correctly when it evicts, and drops every
 * bind group of a buffer the pool destroys (a cached bind group must not keep a released buffer
 * alive forever). Runs on its own small-cache backend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import type { Storage } from '../src/backend/types.js';
import { requireWebGPU } from './helpers/backends.js';

const CACHE = 64;

describe('bind-group cache', () => {
  let gpu: WebGPUBackend | null = null;
  beforeAll(async () => {
    try {
      gpu = await WebGPUBackend.create({ autotune: false, maxBindGroups: CACHE });
    } catch (e) {
      if (requireWebGPU) throw e;
      console.warn(`bind-group-cache: no WebGPU adapter, tests skipped: ${e instanceof Error ? e.message : String(e)}`);
    }
  });
  afterAll(() => gpu?.destroy());

  it('stays within its bound, and evicting mid-batch gives the right values', async (ctx) => {
    if (!gpu) ctx.skip();
    const g = gpu!;
    const x = g.upload(Float32Array.from([1, 2, 3, 4, 5]), 'float32');
    g.flush();
    const s0 = g.stats();
    // 200 dispatches with distinct outputs and parameters in what would be one batch: the cache
    // (64) fills with entries the open batch uses, so it must submit and then reuse their slots.
    const outs: Storage[] = [];
    for (let i = 0; i < 200; i++) outs.push(g.unary('addScalar', x, i));
    const s1 = g.stats();
    expect(s1.bindGroupsCached).toBeLessThanOrEqual(CACHE);
    expect(s1.bindGroupsEvicted - s0.bindGroupsEvicted).toBeGreaterThan(0);
    expect(s1.submits - s0.submits).toBeGreaterThan(0);
    for (let i = 0; i < 200; i++) {
      expect(Array.from(await g.read(outs[i]!)), `output ${i}`).toEqual([1 + i, 2 + i, 3 + i, 4 + i, 5 + i]);
    }
    for (const o of outs) g.release(o);
    g.release(x);
  });

  it('drops the bind groups of buffers the pool destroys', async (ctx) => {
    if (!gpu) ctx.skip();
    const g = gpu!;
    g.trimPool();
    const x = g.upload(Float32Array.from([1, 2, 3]), 'float32');
    const outs: Storage[] = [];
    for (let i = 0; i < 10; i++) outs.push(g.unary('mulScalar', x, i + 2));
    await g.read(outs[9]!);
    expect(g.stats().bindGroupsCached).toBeGreaterThanOrEqual(10);
    for (const o of outs) g.release(o);
    g.release(x);
    // Every cached bind group binds one of these buffers; destroying them must leave none.
    g.trimPool();
    expect(g.stats().bindGroupsCached).toBe(0);
    // And the backend still works with fresh buffers.
    const y = g.upload(Float32Array.from([1, 2, 3]), 'float32');
    const z = g.unary('mulScalar', y, 4);
    expect(Array.from(await g.read(z))).toEqual([4, 8, 12]);
    g.release(y);
    g.release(z);
  });

  it('a repeated identical dispatch in one batch shares its bind group', async (ctx) => {
    if (!gpu) ctx.skip();
    const g = gpu!;
    const x = g.upload(Float32Array.from([1, 2, 3]), 'float32');
    g.flush();
    const warm = g.unary('neg', x, 0);
    g.release(warm);
    await g.read(x);
    const s0 = g.stats();
    // The output buffer is released and handed out again: the same buffers and parameters each time.
    for (let i = 0; i < 20; i++) g.release(g.unary('neg', x, 0));
    await g.read(x);
    expect(g.stats().bindGroupsCreated - s0.bindGroupsCreated).toBe(0);
    g.release(x);
  });
});
