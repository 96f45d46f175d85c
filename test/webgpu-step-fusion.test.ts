/**
 * The training-step kernels that cut the MLP step's non-matmul time (issue 15, item 5), each against
 * the CPU reference on awkward shapes, the GPU pool poisoned (NaN for floats, INT_POISON for int32)
 * before each run so an unwritten element shows up:
 *  - dropoutWithMask: the forward that also stores the keep mask bit-packed (bit-identical output
 *    to the plain dropout, the same mask words as the CPU), and dropoutApplyMask, the backward that
 *    reads it instead of running Philox again; both the vec4 and the scalar kernels;
 *  - sgdStepMany: several parameters per dispatch (multi-tensor SGD), every flag, over several
 *    steps, against the CPU's one-parameter sgdStep; packs split at the binding limit and at a
 *    buffer bound twice.
 * No adapter is a FAILURE here (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backend/cpu/backend.js';
import type { Backend, Storage } from '../src/backend/types.js';
import type { SgdStepOptions } from '../src/backend/fused-types.js';
import { SGD_MANY_MAX_ELEMENTS } from '../src/backend/webgpu/fused/optimizer.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { assertBitsEqual, assertClose, INT_POISON, maxAbs, poisonPool, testData } from './helpers/kernel-harness.js';
import { expectErrorSync } from './helpers/expect-error.js';
import { philoxWords } from '../src/random/philox.js';

const INTERNAL = { type: Error };

let gpu: WebGPUBackend;
const cpu = new CpuBackend();
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const { rand } = testData(4111);

/** Pipelines the backend has built whose key starts with `prefix` (names only). */
function pipelines(prefix: string): string[] {
  const map = (gpu.pipelines as unknown as { pipelines: Map<string, unknown> }).pipelines;
  return [...new Set([...map.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.split('|')[0]!))].sort();
}

const words = (n: number) => Math.ceil(n / 32);

/** The expected mask from the Philox stream itself (independent of either backend's kernel). */
function streamMask(n: number, p: number, seed: number, offset: number): Int32Array {
  const w = philoxWords(seed, offset, n);
  const m = new Int32Array(words(n));
  for (let i = 0; i < n; i++) if ((w[i]! >>> 8) * 2 ** -24 >= p) m[i >>> 5] |= 1 << (i & 31);
  return m;
}

function asInts(a: ArrayLike<number>): Int32Array {
  return Int32Array.from(a);
}

function expectWordsEqual(what: string, got: Int32Array, expected: Int32Array): void {
  expect(got.length, `${what}: words`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (got[i] !== expected[i]) throw new Error(`${what}: word ${i} is 0x${(got[i]! >>> 0).toString(16)}, expected 0x${(expected[i]! >>> 0).toString(16)}`);
  }
}

async function readF32(be: Backend, s: Storage): Promise<Float32Array> {
  return Float32Array.from(await be.read(s));
}

describe('webgpu dropoutWithMask: the forward that stores its mask', () => {
  // Lengths around the 4-element Philox block, the 32-element mask word and the 64-invocation
  // workgroup; offsets that start mid-block (skip 1..3), at a block, and with a carrying counter.
  const LENGTHS = [1, 3, 4, 31, 32, 33, 100, 257, 2052, 2049];
  const OFFSETS = [0, 1, 3, 4, 6, 4 * (2 ** 32 - 2) + 1, 2 ** 34];
  it('out is bit-identical to dropout and to the CPU; mask words equal the CPU and the Philox stream', async () => {
    let cases = 0;
    for (const n of LENGTHS) {
      for (const offset of OFFSETS) {
        const p = [0.5, 0.1, 0.9, 1 / 3][cases % 4]!;
        const seed = 1000 + cases;
        const what = `dropoutWithMask [${n}] offset ${offset} p ${p}`;
        const x = rand(n, -3, 3, [Number.NaN, Number.POSITIVE_INFINITY, -0]);
        const cx = cpu.upload(x, 'float32');
        const ce = cpu.routine('dropoutWithMask', { x: cx }, { p, seed, offset });
        const expectedOut = await readF32(cpu, ce.out);
        const expectedMask = asInts(await cpu.read(ce.mask));
        expectWordsEqual(`${what}: CPU mask vs stream`, expectedMask, streamMask(n, p, seed, offset));
        poisonPool(gpu, [n]);
        poisonPool(gpu, [words(n)], 'int32');
        const gx = gpu.upload(x, 'float32');
        const g = gpu.routine('dropoutWithMask', { x: gx }, { p, seed, offset });
        const plain = gpu.routine('dropout', { x: gx }, { p, seed, offset });
        assertBitsEqual(`${what}: out`, await readF32(gpu, g.out), expectedOut);
        assertBitsEqual(`${what}: plain dropout`, await readF32(gpu, plain), expectedOut);
        expectWordsEqual(`${what}: mask`, asInts(await gpu.read(g.mask)), expectedMask);
        for (const s of [gx, g.out, g.mask, plain]) gpu.release(s);
        cases++;
      }
    }
    expect(cases).toBe(LENGTHS.length * OFFSETS.length);
    // Both forward designs ran: vec4 (offset and length multiples of 4) and scalar.
    expect(pipelines('dropout:mask')).toEqual(['dropout:mask', 'dropout:mask:v4']);
    expect(pipelines('dropout|').length + pipelines('dropout:v4').length).toBe(2);
  });

  it('a length past one workgroup of mask words with the poison-bit pattern in the pool', async () => {
    // 64 invocations × 32 elements = 2048 per workgroup: 3 workgroups, the last partial.
    const n = 2048 * 2 + 37;
    const x = rand(n, -1, 1);
    const ce = cpu.routine('dropoutWithMask', { x: cpu.upload(x, 'float32') }, { p: 0.25, seed: 9, offset: 2 });
    poisonPool(gpu, [words(n)], 'int32');
    expect(INT_POISON).not.toBe(0);
    const g = gpu.routine('dropoutWithMask', { x: gpu.upload(x, 'float32') }, { p: 0.25, seed: 9, offset: 2 });
    expectWordsEqual('mask', asInts(await gpu.read(g.mask)), asInts(await cpu.read(ce.mask)));
    assertBitsEqual('out', await readF32(gpu, g.out), await readF32(cpu, ce.out));
  });

  it('an element whose uniform equals p is kept, one grid step above p dropped (vec4 and scalar kernels)', async () => {
    for (const n of [40, 41]) {
      const seed = 31;
      const offset = 5;
      const w = philoxWords(seed, offset, n);
      for (const i of [0, 6, 33]) {
        const k = w[i]! >>> 8;
        for (const [p, kept] of [[k * 2 ** -24, true], [(k + 1) * 2 ** -24, false]] as const) {
          const g = gpu.routine('dropoutWithMask', { x: gpu.upload(new Float32Array(n).fill(1), 'float32') }, { p, seed, offset });
          const m = asInts(await gpu.read(g.mask));
          expect(((m[i >>> 5]! >>> (i & 31)) & 1) === 1, `[${n}] element ${i} at p = u${kept ? '' : ' + 2^-24'}: mask bit`).toBe(kept);
          expect((await readF32(gpu, g.out))[i] !== 0, `[${n}] element ${i}: out`).toBe(kept);
        }
      }
    }
  });

  it('checks its arguments, naming the routine', () => {
    const x = gpu.upload(new Float32Array(4), 'float32');
    expectErrorSync(() => gpu.routine('dropoutWithMask', { x }, { p: 1, seed: 0, offset: 0 }), /dropoutWithMask: p must be in \[0, 1\)/, INTERNAL);
    expectErrorSync(() => gpu.routine('dropoutWithMask', { x }, { p: 0.5, seed: -1, offset: 0 }), /dropoutWithMask: seed/, INTERNAL);
    const xi = gpu.upload(new Int32Array(4), 'int32');
    expectErrorSync(() => gpu.routine('dropoutWithMask', { x: xi }, { p: 0.5, seed: 0, offset: 0 }), /float32/, INTERNAL);
  });
});

describe('webgpu dropoutApplyMask: the backward from the stored mask', () => {
  it('matches the CPU bit for bit (vec4 and scalar kernels), NaN and Inf in dy kept only where kept', async () => {
    let cases = 0;
    for (const n of [1, 5, 32, 33, 64, 260, 1029, 4096]) {
      for (const p of [0.5, 0.2]) {
        const mask = streamMask(n, p, 77 + n, 3);
        // Bits past n set in the last word must not matter (the contract leaves them 0; a kernel
        // that read past n would write past its output).
        const dy = rand(n, -2, 2, [Number.NaN, Number.NEGATIVE_INFINITY, -0]);
        const expected = await readF32(cpu, cpu.routine('dropoutApplyMask', { dy: cpu.upload(dy, 'float32'), mask: cpu.upload(mask, 'int32') }, { p }));
        // The CPU agrees with the definition: kept ⇒ dy·f32(1/(1−p)), dropped ⇒ 0.
        const scale = Math.fround(1 / (1 - p));
        for (let i = 0; i < n; i++) {
          const kept = ((mask[i >>> 5]! >>> (i & 31)) & 1) === 1;
          expect(Object.is(expected[i], kept ? Math.fround(dy[i]! * scale) : 0), `cpu element ${i}`).toBe(true);
        }
        poisonPool(gpu, [n]);
        const got = await readF32(gpu, gpu.routine('dropoutApplyMask', { dy: gpu.upload(dy, 'float32'), mask: gpu.upload(mask, 'int32') }, { p }));
        assertBitsEqual(`dropoutApplyMask [${n}] p ${p}`, got, expected);
        cases++;
      }
    }
    expect(cases).toBe(16);
    expect(pipelines('dropout-apply')).toEqual(['dropout-apply', 'dropout-apply:v4']);
  });

  it('refuses a mask of the wrong length or dtype, naming the routine and the mask', () => {
    const dy = gpu.upload(new Float32Array(33), 'float32');
    expectErrorSync(() => gpu.routine('dropoutApplyMask', { dy, mask: gpu.upload(new Int32Array(1), 'int32') }, { p: 0.5 }), /dropoutApplyMask: mask must be 2 int32 words for 33 elements, got 1 int32/, INTERNAL);
    expectErrorSync(() => gpu.routine('dropoutApplyMask', { dy, mask: gpu.upload(new Float32Array(2), 'float32') }, { p: 0.5 }), /dropoutApplyMask: mask must be 2 int32 words/, INTERNAL);
    expect(() => cpu.routine('dropoutApplyMask', { dy: cpu.upload(new Float32Array(33), 'float32'), mask: cpu.upload(new Int32Array(3), 'int32') }, { p: 0.5 })).toThrow(/cpu\.dropoutApplyMask: mask must be 2 int32 words for 33 elements/);
  });
});

describe('webgpu sgdStepMany: multi-tensor SGD', () => {
  // Lengths: vec4 and scalar segments mixed, one longer than a workgroup, one of a single element,
  // and one past SGD_MANY_MAX_ELEMENTS (its own dedicated dispatch).
  const LENGTHS = [1029, 4, 10, 1, SGD_MANY_MAX_ELEMENTS + 4, 2048, 33, 256, 3, 516, 7];
  const large = LENGTHS.filter((n) => n > SGD_MANY_MAX_ELEMENTS).length;
  const CONFIGS: (Omit<SgdStepOptions, 'lr' | 'firstStep'> & { velocity: boolean })[] = [
    { momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, velocity: true },
    { momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 1e-3, velocity: true },
    { momentum: 0.5, dampening: 0.2, nesterov: false, weightDecay: 0.05, velocity: true },
    { momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.01, velocity: false },
  ];
  for (const cfg of CONFIGS) {
    it(`${LENGTHS.length} parameters, momentum ${cfg.momentum} nesterov ${cfg.nesterov} dampening ${cfg.dampening} wd ${cfg.weightDecay}: 3 steps equal the CPU's sgdStep on each`, async () => {
      const p0 = LENGTHS.map((n) => rand(n, -1, 1));
      const cp = p0.map((p) => cpu.upload(p, 'float32'));
      const cv = LENGTHS.map((n) => cpu.upload(new Float32Array(n), 'float32'));
      const gp = p0.map((p) => gpu.upload(p, 'float32'));
      const gv = LENGTHS.map((n) => gpu.upload(new Float32Array(n), 'float32'));
      for (let step = 1; step <= 3; step++) {
        const grads = LENGTHS.map((n) => rand(n, -1, 1));
        const options: SgdStepOptions = { ...cfg, lr: 0.1 / step, firstStep: step === 1 };
        LENGTHS.forEach((_, k) => cpu.routine('sgdStep', { param: cp[k]!, grad: cpu.upload(grads[k]!, 'float32'), velocity: cfg.velocity ? cv[k]! : null }, options));
        const gg = grads.map((g) => gpu.upload(g, 'float32'));
        const before = gpu.stats().dispatches;
        gpu.routine('sgdStepMany', { params: gp, grads: gg, velocities: cfg.velocity ? gv : LENGTHS.map(() => null) }, options);
        const dispatches = gpu.stats().dispatches - before;
        // The large one alone; the small ones at least 2 per dispatch (WebGPU guarantees 8
        // storage bindings per stage).
        expect(large).toBe(1);
        expect(dispatches, 'dispatches').toBeLessThanOrEqual(large + Math.ceil((LENGTHS.length - large) / 2));
        expect(dispatches).toBeGreaterThan(large);
        for (const g of gg) gpu.release(g);
        for (let k = 0; k < LENGTHS.length; k++) {
          const ep = Float32Array.from(await cpu.read(cp[k]!));
          const tol = (e: Float32Array) => ({ atol: 2e-6 * Math.max(1, maxAbs(e)), rtol: 1e-6 });
          assertClose(`step ${step} param ${k} [${LENGTHS[k]}]`, await readF32(gpu, gp[k]!), ep, tol(ep));
          if (cfg.velocity) {
            const ev = Float32Array.from(await cpu.read(cv[k]!));
            assertClose(`step ${step} velocity ${k} [${LENGTHS[k]}]`, await readF32(gpu, gv[k]!), ev, tol(ev));
          }
        }
      }
      for (const s of [...gp, ...gv]) gpu.release(s);
    });
  }

  it('mixed vec4 and scalar segments each built their own layout', () => {
    const built = pipelines('sgd:many');
    expect(built.some((k) => /^sgd:many:momentum:[vs]*v[vs]*s|^sgd:many:momentum:[vs]*s[vs]*v/.test(k)), built.join(', ')).toBe(true);
    expect(built.some((k) => k.startsWith('sgd:many:plain:'))).toBe(true);
    // The large parameter took the dedicated kernels.
    expect(pipelines('sgd:momentum:v4')).toEqual(['sgd:momentum:v4']);
    expect(pipelines('sgd:plain:v4')).toEqual(['sgd:plain:v4']);
  });

  it('a gradient shared by two parameters (one buffer bound twice) splits the pack and stays correct', async () => {
    const n = 12;
    const a0 = rand(n, -1, 1);
    const b0 = rand(n, -1, 1);
    const g = rand(n, -1, 1);
    const o: SgdStepOptions = { lr: 0.5, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, firstStep: true };
    const ca = cpu.upload(a0, 'float32');
    const cb = cpu.upload(b0, 'float32');
    const cg = cpu.upload(g, 'float32');
    cpu.routine('sgdStep', { param: ca, grad: cg, velocity: cpu.upload(new Float32Array(n), 'float32') }, o);
    cpu.routine('sgdStep', { param: cb, grad: cg, velocity: cpu.upload(new Float32Array(n), 'float32') }, o);
    const ga = gpu.upload(a0, 'float32');
    const gb = gpu.upload(b0, 'float32');
    const gg = gpu.upload(g, 'float32');
    const before = gpu.stats().dispatches;
    gpu.routine('sgdStepMany', { params: [ga, gb], grads: [gg, gg], velocities: [gpu.upload(new Float32Array(n), 'float32'), gpu.upload(new Float32Array(n), 'float32')] }, o);
    expect(gpu.stats().dispatches - before).toBe(2);
    assertBitsEqual('param a', await readF32(gpu, ga), Float32Array.from(await cpu.read(ca)));
    assertBitsEqual('param b', await readF32(gpu, gb), Float32Array.from(await cpu.read(cb)));
  });

  it('refuses mismatched lists and a parameter that is its own gradient, naming which', () => {
    const p = gpu.upload(new Float32Array(4), 'float32');
    const q = gpu.upload(new Float32Array(4), 'float32');
    const o: SgdStepOptions = { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0, firstStep: false };
    expectErrorSync(() => gpu.routine('sgdStepMany', { params: [p, q], grads: [q], velocities: [null, null] }, o), /sgdStepMany: params, grads and velocities must have the same length, got 2, 1 and 2/, INTERNAL);
    expectErrorSync(() => gpu.routine('sgdStepMany', { params: [p, q], grads: [q, q], velocities: [null, null] }, o), /sgdStepMany: param 1 and grad 1 must be different storages/, INTERNAL);
    expectErrorSync(() => gpu.routine('sgdStepMany', { params: [p], grads: [gpu.upload(new Float32Array(5), 'float32')], velocities: [null] }, o), /sgdStepMany: grad 0 has 5 elements, expected 4/, INTERNAL);
  });
});
