/**
 * The reduce and softmax designs side by side on one adapter (the measurement behind
 * reduce-tune.ts): for each case each design ('loop', 'tree', 'subgroup') is forced
 * (kernel-choice.ts) and timed from encoding to onSubmittedWorkDone over `reps` back-to-back ops;
 * rounds alternate the designs so load on a shared machine hits all of them alike. Prints the
 * median per design, its ratio to the shape rule's design, and the minimum.
 *
 *   npx tsx bench/reduce-designs.ts [rounds] [--case=SUBSTRING]
 */
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { forceKernelChoice, type KernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import { rowMode } from '../src/backend/webgpu/fused/softmax.js';
import { ruleReducePath } from '../src/backend/webgpu/reduce.js';
import type { Storage } from '../src/backend/types.js';
import { loadavg } from 'node:os';

const args = process.argv.slice(2);
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 7);
const caseFilter = args.find((a) => a.startsWith('--case='))?.slice(7) ?? '';
const be = await WebGPUBackend.create({ autotune: false });
console.log(`adapter: ${be.adapterInfo}; subgroups ${JSON.stringify(be.subgroups)}; ${new Date().toISOString()}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}; median of ${rounds} alternating rounds`);

type Design = 'loop' | 'tree' | 'subgroup';
interface Case {
  name: string;
  size: number;
  rule: Design;
  force: (d: Design) => KernelChoice;
  run: (x: Storage) => Storage;
}
const reduceCase = (outer: number, len: number, inner: number, op: 'sum' | 'max' = 'sum'): Case => ({
  name: `reduce ${op} [${outer}, ${len}, ${inner}]`,
  size: outer * len * inner,
  rule: ruleReducePath(outer, len, inner),
  force: (d) => ({ reducePath: d }),
  run: (x) => be.reduce(op, x, outer, len, inner),
});
const softmaxCase = (rows: number, cols: number): Case => ({
  name: `softmax [${rows}, ${cols}]`,
  size: rows * cols,
  rule: rowMode(cols).kind,
  force: (d) => ({ softmaxPath: d }),
  run: (x) => be.routine('softmax', { x }, { rows, cols, log: false }),
});

const CASES: Case[] = [
  reduceCase(2048, 512, 1), // reduce-row:mid
  reduceCase(16, 65536, 1), // reduce-row:long
  reduceCase(16, 65536, 1, 'max'),
  reduceCase(1, 1 << 20, 1),
  reduceCase(1, 4096, 64), // reduce-col:few
  reduceCase(1, 256, 2048), // reduce-col:many
  reduceCase(1, 128, 512), // the MLP's bias gradient
  softmaxCase(1024, 256), // softmax:mid
  softmaxCase(64, 4096), // softmax:long
  softmaxCase(128, 1000),
];
const DESIGNS: Design[] = be.subgroups ? ['loop', 'tree', 'subgroup'] : ['loop', 'tree'];
const REPS = 5;

async function time(c: Case, x: Storage, d: Design): Promise<number> {
  const restore = forceKernelChoice(c.force(d));
  try {
    const t0 = performance.now();
    for (let r = 0; r < REPS; r++) be.release(c.run(x));
    be.flush();
    await be.device.queue.onSubmittedWorkDone();
    return (performance.now() - t0) / REPS;
  } finally {
    restore();
  }
}

for (const c of CASES) {
  if (!c.name.includes(caseFilter)) continue;
  const x = be.upload(Float32Array.from({ length: c.size }, () => Math.random() * 2 - 1), 'float32');
  const times = Object.fromEntries(DESIGNS.map((d) => [d, [] as number[]])) as Record<Design, number[]>;
  for (const d of DESIGNS) await time(c, x, d); // compile and warm up
  for (let r = 0; r < rounds; r++) for (const d of DESIGNS) times[d].push(await time(c, x, d));
  const med = (t: number[]) => [...t].sort((a, b) => a - b)[Math.floor(t.length / 2)]!;
  const base = med(times[c.rule]);
  const cols = DESIGNS.map((d) => `${d} ${med(times[d]).toFixed(2)} ms (×${(med(times[d]) / base).toFixed(2)}, min ${Math.min(...times[d]).toFixed(2)})`);
  console.log(`${c.name.padEnd(30)} rule ${c.rule.padEnd(5)} | ${cols.join(' | ')}`);
  be.release(x);
}
console.log(`load after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}; ${new Date().toISOString()}`);
be.destroy();
