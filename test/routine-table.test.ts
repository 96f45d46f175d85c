/**
 * The routine table (src/backend/routines.ts): both backends supply every routine (a missing one
 * is a compile error, checked here with @ts-expect-error, which `npm test`'s tsc step enforces),
 * routines take named inputs and parameters, and an unknown name from untyped code is refused.
 */
import { describe, expect, it } from 'vitest';
import type { RoutineName, RoutineTable } from '../src/backend/routines.js';
import { CPU_ROUTINES, type CpuContext } from '../src/backend/cpu/routines.js';
import { WEBGPU_ROUTINES } from '../src/backend/webgpu/routines.js';
import type { KernelContext } from '../src/backend/webgpu/context.js';
import { CpuBackend } from '../src/backend/cpu/backend.js';

describe('routine table', () => {
  it('a table missing a routine does not type-check, on either backend', () => {
    const { softmax: _cpuSoftmax, ...cpuWithoutSoftmax } = CPU_ROUTINES;
    // @ts-expect-error softmax is missing: not a RoutineTable
    const cpu: RoutineTable<CpuContext> = cpuWithoutSoftmax;
    const { conv2d: _gpuConv, ...gpuWithoutConv } = WEBGPU_ROUTINES;
    // @ts-expect-error conv2d is missing: not a RoutineTable
    const gpu: RoutineTable<KernelContext> = gpuWithoutConv;
    expect(Object.keys(cpu)).not.toContain('softmax');
    expect(Object.keys(gpu)).not.toContain('conv2d');
  });

  it('both backends supply the same routines', () => {
    expect(Object.keys(WEBGPU_ROUTINES).sort()).toEqual(Object.keys(CPU_ROUTINES).sort());
    expect(Object.keys(CPU_ROUTINES)).toContain('batchNormBackward' satisfies RoutineName);
  });

  it('takes named inputs and parameters; positional or misspelled ones do not type-check', async () => {
    const be = new CpuBackend();
    const x = be.upload(Float32Array.from([1, 2, 3, 4, 5, 6]), 'float32');
    const y = be.routine('softmax', { x }, { rows: 2, cols: 3, log: true });
    const out = await be.read(y);
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expect(out[0]).toBeCloseTo(1 - lse, 6);
    expect(out[5]).toBeCloseTo(3 - lse, 6);
    // @ts-expect-error 'colls' is not a parameter of softmax (and 'cols' is missing)
    expect(() => be.routine('softmax', { x }, { rows: 2, colls: 3, log: true })).toThrow();
    // @ts-expect-error softmax's input is named x
    expect(() => be.routine('softmax', { input: x }, { rows: 2, cols: 3, log: true })).toThrow();
  });

  it('refuses an unknown routine name from untyped code, naming it', () => {
    const be = new CpuBackend();
    const x = be.upload(new Float32Array(2), 'float32');
    expect(() => be.routine('softmaxx' as RoutineName, { x } as never, {} as never)).toThrow(/cpu\.routine: unknown routine 'softmaxx'/);
    // Not an own property of the table: inherited names are refused too.
    expect(() => be.routine('toString' as RoutineName, { x } as never, {} as never)).toThrow(/unknown routine 'toString'/);
  });

  it('refuses an optional operand (gamma, beta, velocity) whose dtype differs from x (param), naming the routine, the argument and the dtype expected', () => {
    const be = new CpuBackend();
    const [n, c, hw] = [2, 3, 2];
    const x = be.upload(new Float64Array(n * c * hw).fill(1), 'float64');
    const stat = be.upload(new Float64Array(c).fill(1), 'float64');
    const ok = be.upload(new Float64Array(c).fill(1), 'float64');
    for (const dtype of ['float32', 'int32'] as const) {
      const other = be.upload(new Float32Array(c).fill(1), dtype);
      const msg = (routine: string, arg: string) => new RegExp(`^cpu\\.${routine}: ${arg} must have x's dtype float64, got ${dtype}$`);
      const x1 = be.upload(new Float64Array(n * c).fill(1), 'float64');
      const apply = (gamma: typeof ok | null, beta: typeof ok | null) => be.routine('batchNormApply', { x: x1, mean: stat, variance: stat, gamma, beta }, { n, c, eps: 1e-5 });
      expect(() => apply(other, ok)).toThrow(msg('batchNormApply', 'gamma'));
      expect(() => apply(ok, other)).toThrow(msg('batchNormApply', 'beta'));
      expect(() => apply(null, other)).toThrow(msg('batchNormApply', 'beta'));
      expect(() => be.routine('batchNormBackward', { x: x1, dy: x1, mean: stat, variance: stat, gamma: other }, { n, c, eps: 1e-5 })).toThrow(msg('batchNormBackward', 'gamma'));
      const apply2d = (gamma: typeof ok | null, beta: typeof ok | null) => be.routine('batchNorm2dApply', { x, mean: stat, variance: stat, gamma, beta }, { n, c, hw, eps: 1e-5 });
      expect(() => apply2d(other, ok)).toThrow(msg('batchNorm2dApply', 'gamma'));
      expect(() => apply2d(ok, other)).toThrow(msg('batchNorm2dApply', 'beta'));
      expect(() => be.routine('batchNorm2dBackward', { x, dy: x, mean: stat, variance: stat, gamma: other }, { n, c, hw, eps: 1e-5 })).toThrow(msg('batchNorm2dBackward', 'gamma'));
      const param = be.upload(new Float64Array(c), 'float64');
      const sgd = { lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, firstStep: true };
      expect(() => be.routine('sgdStep', { param, grad: ok, velocity: other }, sgd)).toThrow(new RegExp(`^cpu\\.sgdStep: velocity must have param's dtype float64, got ${dtype}$`));
    }
    // Matching dtypes run.
    expect(be.routine('batchNorm2dApply', { x, mean: stat, variance: stat, gamma: ok, beta: ok }, { n, c, hw, eps: 1e-5 }).dtype).toBe('float64');
  });
});
