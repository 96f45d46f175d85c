/**
 * Running one op case on the float64 CPU reference and on a device in float32 (or int32), and
 * comparing outputs and gradients. Used by the op suite; every case draws its own seeded inputs.
 */
import { describe, expect, it } from 'vitest';
import type { BackendName, DType } from '../../src/backend/types.js';
import { Tensor } from '../../src/tensor.js';
import { memory, tidy, dispose } from '../../src/lifetime.js';
import { tensor } from '../../src/ops/creation.js';
import { mul } from '../../src/ops/binary.js';
import { sum } from '../../src/ops/reduce.js';
import { assertClose, ARITH, EPS32, poison, type Tol } from './compare.js';
import { BASE_SEED, draw, maxAbs, prng, sizeOf, U, type Dist } from './random-data.js';

export interface InputSpec {
  shape: number[];
  dist: Dist;
  /** An int32 input (compared exactly on every backend). */
  int?: boolean;
}

export interface CaseCtx {
  inputs: Float64Array[];
  shapes: number[][];
  outShape: number[];
}

export interface OpCase {
  name: string;
  inputs: InputSpec[];
  run: (...xs: Tensor[]) => Tensor;
  /** Output tolerance (default ARITH); a function of the inputs for reductions and matmul. */
  tol?: Tol | ((c: CaseCtx) => Tol);
  /** Whether the output is int32 (default: when every input is int32). */
  outInt?: boolean;
  /** Compare gradients too (default: when every input is floating point). */
  grad?: boolean;
  /** Base tolerance for gradients (default {atol 1e-6, rtol 1e-5}). */
  gradTol?: Tol;
  /**
   * Per input, how many terms are summed into each gradient element (default: the broadcast
   * factor outSize / inputSize). Scales the gradient tolerance like a reduction's.
   */
  gradK?: number[];
  /**
   * An independent JS oracle for the output (flat, row-major), used on top of the CPU reference
   * so the CPU run checks something too (int ops, casts, comparisons).
   */
  oracle?: (...xs: Float64Array[]) => ArrayLike<number>;
}

/** A per-case seed derived from the base seed and the case's name (stable when cases are added). */
export function caseSeed(name: string): number {
  let h = 2166136261 ^ BASE_SEED;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return h >>> 0;
}

export function drawInputs(c: OpCase, seed: number): Float64Array[] {
  const rnd = prng(seed);
  return c.inputs.map((s) => draw(s.dist, sizeOf(s.shape), rnd, s.int ? 'int32' : 'float32'));
}

function makeInputs(c: OpCase, host: Float64Array[], device: BackendName, floatDtype: DType, requiresGrad: boolean): Tensor[] {
  return c.inputs.map((s, i) =>
    tensor(host[i]!, { shape: s.shape, dtype: s.int ? 'int32' : floatDtype, device, requiresGrad: requiresGrad && !s.int }),
  );
}

function resolveTol(c: OpCase, ctx: CaseCtx): Tol {
  if (!c.tol) return ARITH;
  return typeof c.tol === 'function' ? c.tol(ctx) : c.tol;
}

export function isDifferentiable(c: OpCase): boolean {
  return c.grad ?? c.inputs.every((s) => !s.int);
}

/** Fails the test if the body leaves tensors or storages alive. */
export async function expectNoLeak(what: string, body: () => Promise<void>): Promise<void> {
  const before = memory();
  await body();
  const after = memory();
  expect({ liveTensors: after.liveTensors, liveStorages: after.liveStorages, liveBytes: after.liveBytes }, `${what}: leaked`).toEqual({
    liveTensors: before.liveTensors, liveStorages: before.liveStorages, liveBytes: before.liveBytes,
  });
}

/** Forward: device (float32/int32, poisoned pool) vs CPU float64 reference (and the oracle, if any). */
export async function checkForward(c: OpCase, device: BackendName, seed: number): Promise<void> {
  const host = drawInputs(c, seed);
  const label = `${c.name} on ${device} (seed ${seed})`;
  const outInt = c.outInt ?? c.inputs.every((s) => s.int);

  // Reference.
  const refIn = makeInputs(c, host, 'cpu', 'float64', false);
  let ref: Float64Array;
  let outShape: number[];
  try {
    const refOut = tidy(() => c.run(...refIn));
    try {
      expect(refOut.dtype, `${label}: reference dtype`).toBe(outInt ? 'int32' : 'float64');
      ref = Float64Array.from(await refOut.data());
      outShape = [...refOut.shape];
    } finally {
      refOut.dispose();
    }
  } finally {
    dispose(refIn);
  }

  const ctx: CaseCtx = { inputs: host, shapes: c.inputs.map((s) => s.shape), outShape };
  if (c.oracle) assertClose(`${label}: CPU reference vs JS oracle`, ref, c.oracle(...host), outShape, outInt ? { atol: 0, rtol: 0 } : ARITH);

  // Device under test, after poisoning the pool with NaN buffers of the sizes it will allocate.
  poison(device, [sizeOf(outShape), ...c.inputs.map((s) => sizeOf(s.shape))]);
  const devIn = makeInputs(c, host, device, 'float32', false);
  try {
    const out = tidy(() => c.run(...devIn));
    try {
      expect(out.shape, `${label}: shape`).toEqual(outShape);
      expect(out.dtype, `${label}: dtype`).toBe(outInt ? 'int32' : 'float32');
      expect(out.device, `${label}: device`).toBe(device);
      const got = await out.data();
      assertClose(label, got, ref, outShape, outInt ? { atol: 0, rtol: 0 } : resolveTol(c, ctx));
      if (c.oracle) assertClose(`${label}: vs JS oracle`, got, c.oracle(...host), outShape, outInt ? { atol: 0, rtol: 0 } : resolveTol(c, ctx));
    } finally {
      out.dispose();
    }
  } finally {
    dispose(devIn);
  }
}

interface GradResult {
  grads: (Float64Array | null)[];
}

async function runGrad(c: OpCase, host: Float64Array[], w: Float64Array, outShape: number[], device: BackendName, dtype: DType): Promise<GradResult> {
  const xs = makeInputs(c, host, device, dtype, true);
  try {
    const W = tensor(w, { shape: outShape, dtype, device });
    try {
      const loss = tidy(() => sum(mul(c.run(...xs), W)));
      try {
        loss.backward();
      } finally {
        loss.dispose();
      }
    } finally {
      W.dispose();
    }
    const grads: (Float64Array | null)[] = [];
    for (const x of xs) {
      if (x.grad) {
        expect(x.grad.shape, `${c.name}: grad shape`).toEqual(x.shape);
        expect(x.grad.dtype, `${c.name}: grad dtype`).toBe(dtype);
        expect(x.grad.device, `${c.name}: grad device`).toBe(device);
      }
      grads.push(x.grad ? Float64Array.from(await x.grad.data()) : null);
    }
    return { grads };
  } finally {
    dispose(xs); // disposes each .grad too
  }
}

/**
 * Gradients: loss = sum(op(inputs) · W) with fixed random W; backward on the device in float32 and
 * on the CPU in float64; each input's .grad compared within a tolerance scaled by how many terms
 * are summed into it.
 */
export async function checkGrad(c: OpCase, device: BackendName, seed: number): Promise<void> {
  const host = drawInputs(c, seed);
  const label = `grad of ${c.name} on ${device} (seed ${seed})`;
  // The output shape, from a plain forward run on the CPU.
  const probeIn = makeInputs(c, host, 'cpu', 'float64', false);
  const probe = tidy(() => c.run(...probeIn));
  const outShape = [...probe.shape];
  probe.dispose();
  dispose(probeIn);
  const w = draw(U(-1, 1), sizeOf(outShape), prng(seed ^ 0x5bd1e995));

  const ref = await runGrad(c, host, w, outShape, 'cpu', 'float64');
  const sizes = [sizeOf(outShape), ...c.inputs.map((s) => sizeOf(s.shape))];
  poison(device, sizes);
  const got = await runGrad(c, host, w, outShape, device, 'float32');
  const base = c.gradTol ?? { atol: 1e-6, rtol: 1e-5 };
  c.inputs.forEach((s, i) => {
    const r = ref.grads[i]!;
    const g = got.grads[i]!;
    expect(r, `${label}: the CPU reference gave no gradient for input ${i}`).not.toBeNull();
    expect(g, `${label}: no gradient for input ${i}`).not.toBeNull();
    const k = c.gradK?.[i] ?? Math.max(1, sizeOf(outShape) / sizeOf(s.shape));
    const tol: Tol = { atol: base.atol + 16 * Math.sqrt(k) * EPS32 * maxAbs(r), rtol: base.rtol };
    assertClose(`${label}: input ${i} [${s.shape.join(', ')}]`, g, r, s.shape, tol);
  });
}

/**
 * The forward and gradient blocks every op suite runs per backend: one test per case, each with
 * its own seed in the name, each checked for leaks.
 */
export function describeOpCases(cases: readonly OpCase[], device: BackendName, gradTitle = 'gradients of sum(op(x)·W)'): void {
  describe('forward', () => {
    for (const c of cases) {
      const seed = caseSeed(c.name);
      it(`${c.name} · seed ${seed}`, async () => {
        await expectNoLeak(c.name, () => checkForward(c, device, seed));
      });
    }
  });
  describe(gradTitle, () => {
    for (const c of cases.filter(isDifferentiable)) {
      const seed = caseSeed(c.name);
      it(`${c.name} · seed ${seed}`, async () => {
        await expectNoLeak(`grad of ${c.name}`, () => checkGrad(c, device, seed));
      });
    }
  });
}

/** A tensor's values as a plain array; the tensor is disposed. */
export async function readAndDispose(t: Tensor): Promise<number[]> {
  try {
    return Array.from(await t.data());
  } finally {
    t.dispose();
  }
}
