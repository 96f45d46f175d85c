/**
 * Central-difference gradient check on the float64 CPU backend.
 *
 * For f: inputs → tensor, the checked scalar is L = sum(f(x) · W) with a fixed random W (so every
 * output element's gradient counts, with distinct weights). The analytic gradient comes from
 * backward(); the numeric one, for every element j of every input, is
 * (L(x + h·e_j) − L(x − h·e_j)) / 2h. An element fails when
 * |analytic − numeric| > tol · max(1, |numeric|).
 */
import { Tensor } from '../../src/tensor.js';
import { tensor } from '../../src/ops/creation.js';
import { mul } from '../../src/ops/binary.js';
import { sum } from '../../src/ops/reduce.js';
import { dispose, noGrad, tidy } from '../../src/lifetime.js';
import { draw, prng, sizeOf, U } from './random-data.js';

export interface GradcheckInput {
  shape: number[];
  values: ArrayLike<number>;
}

export interface GradcheckOptions {
  /** Step of the central difference (default 1e-6). */
  h?: number;
  /** Largest accepted error relative to max(1, |numeric|) (default 1e-6). */
  tol?: number;
  /** Seed of the output weights W. */
  seed?: number;
}

export interface GradcheckFailure {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
  error: number;
}

export interface GradcheckResult {
  ok: boolean;
  /** The largest error seen (relative to max(1, |numeric|)). */
  maxError: number;
  /** How many elements were checked. */
  checked: number;
  failures: GradcheckFailure[];
  /** The analytic gradients, per input (zeros where backward produced none). */
  analytic: Float64Array[];
  numeric: Float64Array[];
}

function leaf(input: GradcheckInput, values: ArrayLike<number>, requiresGrad: boolean): Tensor {
  return tensor(Float64Array.from(values), { shape: input.shape, dtype: 'float64', device: 'cpu', requiresGrad });
}

/** Runs the check and reports; never throws for a mismatch (see assertGradcheck). */
export async function gradcheck(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: GradcheckInput[],
  options: GradcheckOptions = {},
): Promise<GradcheckResult> {
  const h = options.h ?? 1e-6;
  const tol = options.tol ?? 1e-6;
  for (const [i, x] of inputs.entries()) {
    if (x.values.length !== sizeOf(x.shape)) throw new Error(`gradcheck: input ${i} has ${x.values.length} values for shape [${x.shape.join(', ')}]`);
  }

  // W, from a forward run's output shape.
  const probe = inputs.map((x) => leaf(x, x.values, false));
  const probeOut = tidy(() => fn(...probe));
  const outShape = [...probeOut.shape];
  if (probeOut.dtype !== 'float64') throw new Error(`gradcheck: f returned ${probeOut.dtype}, expected float64`);
  probeOut.dispose();
  dispose(probe);
  const wValues = draw(U(-1, 1), sizeOf(outShape), prng(options.seed ?? 0x9e3779b9), 'float64');
  const W = tensor(wValues, { shape: outShape, dtype: 'float64', device: 'cpu' });

  try {
    // Analytic.
    const xs = inputs.map((x) => leaf(x, x.values, true));
    const analytic: Float64Array[] = [];
    try {
      const loss = tidy(() => sum(mul(fn(...xs), W)));
      try {
        loss.backward();
      } finally {
        loss.dispose();
      }
      for (const [i, x] of xs.entries()) {
        if (x.grad && x.grad.shape.join() !== x.shape.join()) {
          throw new Error(`gradcheck: input ${i}'s grad has shape [${x.grad.shape.join(', ')}], expected [${x.shape.join(', ')}]`);
        }
        analytic.push(x.grad ? Float64Array.from(await x.grad.data()) : new Float64Array(x.size));
      }
    } finally {
      dispose(xs);
    }

    // Numeric.
    const lossAt = async (values: ArrayLike<number>[]): Promise<number> => {
      const t = noGrad(() => tidy(() => sum(mul(fn(...inputs.map((x, i) => leaf(x, values[i]!, false))), W))));
      try {
        return await t.item();
      } finally {
        t.dispose();
      }
    };
    const numeric: Float64Array[] = [];
    const failures: GradcheckFailure[] = [];
    let maxError = 0;
    let checked = 0;
    const base = inputs.map((x) => Float64Array.from(x.values));
    for (let i = 0; i < inputs.length; i++) {
      const num = new Float64Array(base[i]!.length);
      for (let j = 0; j < num.length; j++) {
        const v = base[i]![j]!;
        base[i]![j] = v + h;
        const plus = await lossAt(base);
        base[i]![j] = v - h;
        const minus = await lossAt(base);
        base[i]![j] = v;
        num[j] = (plus - minus) / (2 * h);
        const a = analytic[i]![j]!;
        const error = Math.abs(a - num[j]!) / Math.max(1, Math.abs(num[j]!));
        checked++;
        if (!(error <= tol)) failures.push({ input: i, index: j, analytic: a, numeric: num[j]!, error });
        if (!(error <= maxError)) maxError = error;
      }
      numeric.push(num);
    }
    return { ok: failures.length === 0 && checked > 0, maxError, checked, failures, analytic, numeric };
  } finally {
    W.dispose();
  }
}

/** gradcheck, throwing a message that lists the worst elements when it fails. */
export async function assertGradcheck(
  what: string,
  fn: (...xs: Tensor[]) => Tensor,
  inputs: GradcheckInput[],
  options: GradcheckOptions = {},
): Promise<GradcheckResult> {
  const r = await gradcheck(fn, inputs, options);
  if (!r.ok) {
    const worst = [...r.failures].sort((a, b) => b.error - a.error).slice(0, 5)
      .map((f) => `input ${f.input}[${f.index}]: analytic ${f.analytic}, numeric ${f.numeric} (error ${f.error.toExponential(2)})`);
    throw new Error(
      `gradcheck of ${what}: ${r.failures.length} of ${r.checked} elements exceed tol ${options.tol ?? 1e-6} ` +
        `(max error ${r.maxError.toExponential(2)}):\n  ${worst.join('\n  ')}`,
    );
  }
  return r;
}
