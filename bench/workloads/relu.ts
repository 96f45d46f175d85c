/**
 * relu over 4M float32 elements (4·2²⁰), GB/s = 8 bytes per element (one read, one write) / time.
 * Every repetition reads the last output back in full (16 MiB), so k relus per repetition (about
 * 400 ms of work, at most 16) amortise that copy; k is in the details table. Checked exactly: relu
 * is max(x, 0) bit for bit.
 */
import { uniform } from '../common.js';
import type { CheckResult, Entry, Row } from '../report.js';
import { compareCase, failedEntries, type Prepared, type WorkloadContext } from './context.js';

export const RELU_ELEMENTS = 4 * 1024 * 1024;

export function checkRelu(x: Float32Array, y: Float32Array): CheckResult {
  if (y.length !== x.length) return { ok: false, detail: `result has ${y.length} elements, expected ${x.length}` };
  let bad = 0;
  let first = -1;
  for (let i = 0; i < x.length; i++) {
    const want = x[i]! > 0 ? x[i]! : 0;
    if (y[i] !== want) {
      bad++;
      if (first < 0) first = i;
    }
  }
  return bad === 0
    ? { ok: true, maxErr: 0, tol: 0, detail: `all ${x.length} elements equal max(x, 0) exactly` }
    : { ok: false, detail: `${bad} of ${x.length} elements differ from max(x, 0); first at ${first}: got ${y[first]}, expected ${Math.max(x[first]!, 0)}` };
}

export async function reluWorkload(ctx: WorkloadContext, n = RELU_ELEMENTS): Promise<Row[]> {
  ctx.log(`relu ${n}`);
  const x = uniform(n, 3000);
  const row: Row = { workload: 'relu', case: `${n}`, title: `relu ${n / 2 ** 20}M`, unit: 'GB/s', higherIsBetter: true, entries: failedEntries(ctx) };
  await compareCase(ctx, row, 'relu', async (peer): Promise<Prepared | Entry> => {
    if (!peer.relu) return { status: 'n/a' };
    const c = await peer.relu(x);
    try {
      return { run: (k) => c.run(k), check: checkRelu(x, await c.run(1)), dispose: () => c.dispose() };
    } catch (e) {
      await c.dispose();
      throw e;
    }
  }, { ...ctx.timing, warmup: 2, targetMs: 400, maxK: 16 }, (ms) => (8 * n) / (ms * 1e6));
  return [row];
}
