/**
 * float32 matmul C = A·B, square n×n, GFLOP/s = 2n³ / time. Inputs uniform in [-1, 1) from a fixed
 * seed. Checked on a sample of C (random entries plus the four corners) against a float64 dot
 * product in plain JS, relative to Σ|a||b| (the scale of the rounding error of any summation order).
 */
import { uniform, rng } from '../common.js';
import type { CheckResult, Entry, Row } from '../report.js';
import { compareCase, failedEntries, type Prepared, type WorkloadContext } from './context.js';

export function checkMatmulSample(n: number, a: Float32Array, b: Float32Array, c: Float32Array, samples = 64): CheckResult {
  if (c.length !== n * n) return { ok: false, detail: `result has ${c.length} elements, expected ${n * n}` };
  const r = rng(n * 7919 + 1);
  const pos: [number, number][] = [[0, 0], [0, n - 1], [n - 1, 0], [n - 1, n - 1]];
  while (pos.length < samples) pos.push([Math.floor(r() * n), Math.floor(r() * n)]);
  const tol = 2 * n * 2 ** -24;
  let maxErr = 0;
  let worst = '';
  for (const [i, j] of pos) {
    let s = 0;
    let mag = 0;
    for (let k = 0; k < n; k++) {
      const p = a[i * n + k]! * b[k * n + j]!;
      s += p;
      mag += Math.abs(p);
    }
    const got = c[i * n + j]!;
    const err = Number.isFinite(got) ? Math.abs(got - s) / (mag || 1) : Infinity;
    if (err > maxErr) {
      maxErr = err;
      worst = `C[${i},${j}] = ${got}, expected ${s.toPrecision(8)}`;
    }
  }
  return {
    ok: maxErr <= tol,
    maxErr,
    tol,
    detail: `${pos.length} sampled entries vs float64 JS dot products: max error ${maxErr.toExponential(2)} of Σ|a·b| (tolerance ${tol.toExponential(2)})${maxErr > tol ? `; worst ${worst}` : ''}`,
  };
}

/** `onRow` gets each size's row as soon as it is measured, so that a run cut short keeps it. */
export async function matmulWorkload(ctx: WorkloadContext, sizes: number[], onRow?: (row: Row) => void): Promise<Row[]> {
  const rows: Row[] = [];
  for (const n of sizes) {
    ctx.log(`matmul ${n}x${n}x${n}`);
    const a = uniform(n * n, 1000 + n);
    const b = uniform(n * n, 2000 + n);
    const row: Row = { workload: 'matmul', case: `${n}x${n}x${n}`, title: `matmul ${n}`, unit: 'GFLOP/s', higherIsBetter: true, entries: failedEntries(ctx) };
    await compareCase(ctx, row, `matmul ${n}`, async (peer): Promise<Prepared | Entry> => {
      if (!peer.matmul) return { status: 'n/a' };
      if (peer.maxMatmul !== undefined && n > peer.maxMatmul) {
        return { status: 'skipped', reason: `${peer.label} skipped above n=${peer.maxMatmul}: its float64 JS loops would take minutes per product` };
      }
      const c = await peer.matmul(n, a, b);
      try {
        // The first call (pipeline compilation included) is the one checked.
        return { run: (k) => c.run(k), check: checkMatmulSample(n, a, b, await c.run(1)), dispose: () => c.dispose() };
      } catch (e) {
        await c.dispose();
        throw e;
      }
    }, { ...ctx.timing, warmup: 1 }, (ms) => (2 * n ** 3) / (ms * 1e6));
    rows.push(row);
    onRow?.(row);
  }
  return rows;
}
