/**
 * The host side of the fused optimizer steps on WebGPU (src/backend/webgpu/fused/optimizer.ts):
 * which kernel each step dispatches (plain or momentum, vec4 or scalar, the packed multi-tensor
 * kernel and how parameters are packed into it), its flags and lane counts, the op names, and the
 * refusals with their messages. The update values of every kernel are compared with the CPU in
 * webgpu-sgd-vec4, webgpu-step-fusion and webgpu-training; one packed step is checked here too.
 * Written against the mutants StrykerJS left alive (WEBGRAD_MUTATE_SCOPE=webgpu-fused).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage } from '../src/backend/types.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { adamStep, SGD_MANY_MAX_ELEMENTS, sgdStep, sgdStepMany } from '../src/backend/webgpu/fused/optimizer.js';
import { SGD_FIRST_STEP, SGD_NESTEROV } from '../shaders/optimizer.js';
import { recordDispatches, type DispatchRec } from './helpers/dispatch-recorder.js';

let gpu: WebGPUBackend;
beforeAll(async () => {
  gpu = await WebGPUBackend.create({ autotune: false });
});
afterAll(() => gpu?.destroy());

const f32 = (xs: ArrayLike<number>): Storage => gpu.upload(Float32Array.from(xs), 'float32');
const zeros = (n: number): Storage => f32(new Float32Array(n));
const dry = (f: () => void): DispatchRec[] => recordDispatches(gpu, f, true).recs;
const sgd = { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, firstStep: false };

describe('webgpu sgdStep', () => {
  it('vec4 where the length is a multiple of 4 (n counts vec4 lanes); momentum only with a velocity and momentum ≠ 0', () => {
    const one = (n: number, vel: boolean, o = sgd) => dry(() => sgdStep(gpu, zeros(n), zeros(n), vel ? zeros(n) : null, o)).map((r) => [r.op, r.name, r.groups[0], r.u32[0], r.u32[1]]);
    expect(one(2048, false)).toEqual([['sgdStep', 'sgd:plain:v4', 2, 512, 0]]);
    expect(one(257, false)).toEqual([['sgdStep', 'sgd:plain', 2, 257, 0]]);
    expect(one(8, true, { ...sgd, nesterov: true })).toEqual([['sgdStep', 'sgd:momentum:v4', 1, 2, SGD_NESTEROV]]);
    expect(one(7, true, { ...sgd, firstStep: true, nesterov: true })).toEqual([['sgdStep', 'sgd:momentum', 1, 7, SGD_NESTEROV | SGD_FIRST_STEP]]);
    expect(one(7, true, { ...sgd, momentum: 0 })).toEqual([['sgdStep', 'sgd:plain', 1, 7, 0]]);
    expect(one(0, true)).toEqual([]);
  });

  it('refusals: lengths and distinct operands; a velocity is not checked when momentum is 0', () => {
    const p = zeros(2);
    expect(() => sgdStep(gpu, p, zeros(3), null, sgd)).toThrow('webgpu: sgdStep: grad has 3 elements, expected 2');
    expect(() => sgdStep(gpu, p, zeros(2), zeros(3), sgd)).toThrow('webgpu: sgdStep: velocity has 3 elements, expected 2');
    expect(() => sgdStep(gpu, p, p, null, sgd)).toThrow('webgpu: sgdStep: param and grad must be different storages');
    expect(() => sgdStep(gpu, p, zeros(2), p, sgd)).toThrow('webgpu: sgdStep: param and velocity must be different storages');
    expect(dry(() => sgdStep(gpu, p, zeros(2), zeros(3), { ...sgd, momentum: 0 })).length).toBe(1);
  });
});

describe('webgpu sgdStepMany: packing into the multi-tensor kernel', () => {
  const many = (ctx: WebGPUBackend, lens: number[], vel: (k: number) => boolean, o = sgd) =>
    dry(() => sgdStepMany(ctx, lens.map(zeros), lens.map(zeros), lens.map((n, k) => (vel(k) ? zeros(n) : null)), o));

  it('momentum parameters first, then plain; lanes per segment (v: vec4, s: scalar); at most 6 segments', () => {
    const r = many(gpu, [8, 3, 5, 12], (k) => k % 2 === 0);
    expect(r.map((x) => [x.op, x.name, x.groups[0]])).toEqual([['sgdStepMany', 'sgd:many:momentum:vs', 1], ['sgdStepMany', 'sgd:many:plain:sv', 1]]);
    const seven = many(gpu, [1, 2, 3, 4, 5, 6, 7], () => false);
    expect(seven.map((x) => x.name)).toEqual(['sgd:many:plain:sssvss', 'sgd:many:plain:s']);
    // Lanes: 601 scalar + 1024/4 = 857 -> 4 workgroups of 256.
    expect(many(gpu, [601, 1024], () => false).map((x) => [x.name, x.groups[0]])).toEqual([['sgd:many:plain:sv', 4]]);
  });

  it('large parameters get their own kernel; one small one left: its own kernel; empty ones are skipped', () => {
    const big = SGD_MANY_MAX_ELEMENTS + 4;
    expect(many(gpu, [big, 4, 6], () => false).map((x) => [x.op, x.name])).toEqual([['sgdStepMany', 'sgd:plain:v4'], ['sgdStepMany', 'sgd:many:plain:vs']]);
    expect(many(gpu, [SGD_MANY_MAX_ELEMENTS, 4], () => false).map((x) => x.name)).toEqual(['sgd:many:plain:vv']);
    expect(many(gpu, [big, 5], () => true).map((x) => x.name)).toEqual(['sgd:momentum:v4', 'sgd:momentum']);
    expect(many(gpu, [0, 5, 0], () => false).map((x) => x.name)).toEqual(['sgd:plain']);
    expect(many(gpu, [0, 0], () => false)).toEqual([]);
    expect(many(gpu, [4, 4], () => true, { ...sgd, momentum: 0 }).map((x) => x.name)).toEqual(['sgd:many:plain:vv']);
  });

  it('segments per dispatch bounded by the storage-buffer limit; a buffer bound twice starts a new dispatch', () => {
    const small = Object.create(gpu, { limits: { value: { maxStorageBuffersPerShaderStage: 8 } } }) as WebGPUBackend;
    expect(many(small, [1, 1, 1, 1, 1], () => false).map((x) => x.name)).toEqual(['sgd:many:plain:ssss', 'sgd:many:plain:s']);
    expect(many(small, [1, 1, 1], () => true).map((x) => x.name)).toEqual(['sgd:many:momentum:ss', 'sgd:many:momentum:s']);
    const tiny = Object.create(gpu, { limits: { value: { maxStorageBuffersPerShaderStage: 2 } } }) as WebGPUBackend;
    expect(many(tiny, [1, 1], () => true).map((x) => x.name)).toEqual(['sgd:many:momentum:s', 'sgd:many:momentum:s']);
    const a = zeros(3);
    const shared = dry(() => sgdStepMany(gpu, [a, zeros(3)], [zeros(3), a], [null, null], sgd));
    expect(shared.map((x) => x.name)).toEqual(['sgd:many:plain:s', 'sgd:many:plain:s']);
  });

  it('packed steps compute each parameter’s update', async () => {
    const ps = [f32([1, 2, 3]), f32([4, 5, 6, 7])];
    const gs = [f32([1, 1, 1]), f32([2, 2, 2, 2])];
    const r = recordDispatches(gpu, () => sgdStepMany(gpu, ps, gs, [null, null], { ...sgd, momentum: 0, lr: 0.5 }));
    expect(r.recs.map((x) => x.name)).toEqual(['sgd:many:plain:sv']);
    expect([Array.from(await gpu.read(ps[0]!)), Array.from(await gpu.read(ps[1]!))]).toEqual([[0.5, 1.5, 2.5], [3, 4, 5, 6]]);
  });

  it('refusals name the list index', () => {
    expect(() => sgdStepMany(gpu, [zeros(1)], [], [null], sgd)).toThrow('webgpu: sgdStepMany: params, grads and velocities must have the same length, got 1, 0 and 1');
    expect(() => sgdStepMany(gpu, [zeros(1)], [zeros(1)], [], sgd)).toThrow('webgpu: sgdStepMany: params, grads and velocities must have the same length, got 1, 1 and 0');
    expect(() => sgdStepMany(gpu, [zeros(1), zeros(2)], [zeros(1), zeros(3)], [null, null], sgd)).toThrow('webgpu: sgdStepMany: grad 1 has 3 elements, expected 2');
    expect(() => sgdStepMany(gpu, [zeros(2)], [zeros(2)], [zeros(1)], sgd)).toThrow('webgpu: sgdStepMany: velocity 0 has 1 elements, expected 2');
    const p = zeros(2);
    expect(() => sgdStepMany(gpu, [p], [p], [null], sgd)).toThrow('webgpu: sgdStepMany: param 0 and grad 0 must be different storages');
    expect(() => sgdStepMany(gpu, [gpu.upload(Int32Array.from([1]), 'int32')], [zeros(1)], [null], sgd)).toThrow('webgpu: sgdStepMany: param 0 must be float32');
  });
});

describe('webgpu adamStep', () => {
  const adam = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5, decoupled: true, biasCorrection1: 0.1, biasCorrection2: 0.001 };
  it('one dispatch named adamStep over n (decoupled flag passed); none when empty; refusals', () => {
    const r = dry(() => adamStep(gpu, zeros(300), zeros(300), zeros(300), zeros(300), adam));
    expect(r.map((x) => [x.op, x.name, x.groups[0], x.u32[0], x.u32[1]])).toEqual([['adamStep', 'adam', 2, 300, 1]]);
    expect(dry(() => adamStep(gpu, zeros(3), zeros(3), zeros(3), zeros(3), { ...adam, decoupled: false }))[0]!.u32[1]).toBe(0);
    expect(dry(() => adamStep(gpu, zeros(0), zeros(0), zeros(0), zeros(0), adam))).toEqual([]);
    const p = zeros(2);
    expect(() => adamStep(gpu, p, zeros(3), zeros(2), zeros(2), adam)).toThrow('webgpu: adamStep: grad has 3 elements, expected 2');
    expect(() => adamStep(gpu, p, zeros(2), zeros(3), zeros(2), adam)).toThrow('webgpu: adamStep: m has 3 elements, expected 2');
    expect(() => adamStep(gpu, p, zeros(2), zeros(2), zeros(3), adam)).toThrow('webgpu: adamStep: v has 3 elements, expected 2');
    expect(() => adamStep(gpu, p, zeros(2), p, zeros(2), adam)).toThrow('webgpu: adamStep: param and m must be different storages');
    const m = zeros(2);
    expect(() => adamStep(gpu, p, zeros(2), m, m, adam)).toThrow('webgpu: adamStep: m and v must be different storages');
    expect(() => adamStep(gpu, gpu.upload(Int32Array.from([1]), 'int32'), zeros(1), zeros(1), zeros(1), adam)).toThrow('webgpu: adamStep: param must be float32');
  });
});
