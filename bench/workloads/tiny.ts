/**
 * Latency of the smallest useful GPU round trip: add two 4-element tensors already on the device
 * and read the sum back, µs per round trip (k = 1: one op, one readback per repetition). The raw
 * WebGPU peer does the same with preallocated buffers, pipeline and bind group: the floor.
 */
import type { CheckResult, Entry, Row } from '../report.js';
import { compareCase, failedEntries, type Prepared, type WorkloadContext } from './context.js';

const A = new Float32Array([1, 2, 3, 4]);
const B = new Float32Array([10, 20, 30, 40]);

function checkTiny(c: Float32Array): CheckResult {
  const want = [11, 22, 33, 44];
  const ok = c.length === 4 && want.every((v, i) => c[i] === v);
  return { ok, maxErr: ok ? 0 : Infinity, tol: 0, detail: ok ? 'exactly [11, 22, 33, 44]' : `got [${Array.from(c).join(', ')}], expected [11, 22, 33, 44]` };
}

export async function tinyWorkload(ctx: WorkloadContext, reps: number): Promise<Row[]> {
  ctx.log('tiny add + readback');
  const row: Row = { workload: 'tiny-add', case: '4 elements', title: 'add 4 + readback', unit: 'µs', higherIsBetter: false, entries: failedEntries(ctx) };
  await compareCase(ctx, row, 'tiny add', async (peer): Promise<Prepared | Entry> => {
    if (!peer.tinyAdd) return { status: 'n/a' };
    const c = await peer.tinyAdd(A, B);
    try {
      const after = c.hostEncodeUs
        ? async (e: Entry): Promise<void> => {
          const runs: number[] = [];
          for (let r = 0; r < 5; r++) runs.push(await c.hostEncodeUs!(200));
          runs.sort((x, y) => x - y);
          e.note = `host encode (issuing add, no read): ${runs[2]!.toFixed(1)} µs per op = per dispatch (median of 5 x 200)`;
        }
        : undefined;
      return { run: (k) => c.run(k), check: checkTiny(await c.run(1)), dispose: () => c.dispose(), ...(after ? { after } : {}) };
    } catch (e) {
      await c.dispose();
      throw e;
    }
  }, { ...ctx.timing, warmup: 20, reps, minReps: Math.min(reps, 30), targetMs: 0, maxK: 1 }, (ms) => ms * 1000);
  return [row];
}
