/** Batched matrix product with optional transposes, broadcast batches and a bias+activation epilogue. */
import { DEFAULT_LEAKY_RELU_SLOPE, type EpilogueActivation, type MatmulArgs, type TypedArray } from '../types.js';
import { UNARY } from './unary.js';

/** The epilogue activation as a function (reusing the unary table), or undefined for none. */
export function epilogueFn(activation: EpilogueActivation | undefined, alpha: number | undefined): ((v: number) => number) | undefined {
  if (activation === undefined || activation === 'none') return undefined;
  const f = UNARY[activation];
  const p = alpha ?? DEFAULT_LEAKY_RELU_SLOPE;
  return (v) => f(v, p);
}

/**
 * out[b, i, j] = act(Σ_p A[b, i, p]·B[b, p, j] + bias[j]), accumulated in float64.
 * A[b, i, p] lives at aBatchStride·b + (transA ? p·m + i : i·k + p), and
 * B[b, p, j] at bBatchStride·b + (transB ? j·k + p : p·n + j).
 * Loop order i-p-j: the innermost loop walks a row of B and a row of the accumulator.
 */
export function matmulKernel(a: TypedArray, b: TypedArray, out: TypedArray, args: MatmulArgs, bias: TypedArray | undefined): void {
  const { batch, m, k, n, transA, transB, aBatchStride, bBatchStride } = args;
  const act = epilogueFn(args.activation, args.alpha);
  // B's element steps: along p (down a column of the logical B) and along j (across a row).
  const bStepP = transB ? 1 : n;
  const bStepJ = transB ? k : 1;
  const acc = new Float64Array(n);
  for (let bt = 0; bt < batch; bt++) {
    const aBase = bt * aBatchStride;
    const bBase = bt * bBatchStride;
    for (let i = 0; i < m; i++) {
      acc.fill(0);
      for (let p = 0; p < k; p++) {
        const aip = a[aBase + (transA ? p * m + i : i * k + p)]!;
        const bRow = bBase + p * bStepP;
        for (let j = 0; j < n; j++) acc[j]! += aip * b[bRow + j * bStepJ]!;
      }
      const outRow = (bt * m + i) * n;
      for (let j = 0; j < n; j++) {
        let v = acc[j]!;
        if (bias) v += bias[j]!;
        out[outRow + j] = act ? act(v) : v;
      }
    }
  }
}
