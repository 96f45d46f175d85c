/**
 * GFLOP/s of the WebGPU matmul, float32, median of 5 timed runs after a warm-up, each run timed
 * from encoding to the end of a readback of the result.
 *
 *   npx tsx bench/matmul-probe.ts [sizes...]            square products as the autotune chose
 *   npx tsx bench/matmul-probe.ts --sweep [--pattern=NN|NT|TN|TT] [--designs=a,b] [--rounds=3] [MxKxN ...]
 *       every design and workgroup shape of the autotune's candidate list, forced one at a time
 *       (rounds alternate between candidates, so load drift hits all alike); default 1024x1024x1024
 *   --products=K  also the time per product without the readback, for GPUs, where
 *       reading a 64 MB result back costs more than computing it: each round times 1 and K products
 *       queued back to back with one readback of the last, and reports (t_K - t_1) / (K - 1)
 *   --patterns=NN,NT,TN  (with --sweep) several patterns in one process, each on every MxKxN given
 */
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { forceKernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import type { MatmulChoice } from '../src/backend/webgpu/matmul.js';
import { tuneCandidates } from '../src/backend/webgpu/matmul-tune.js';
import type { MatmulArgs, Storage } from '../src/backend/types.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
const sweep = argv.includes('--sweep');
const patterns = (flag('patterns') ?? flag('pattern') ?? 'NN').split(',');
const products = Number(flag('products') ?? 0);
const designs = flag('designs')?.split(',');
const rounds = Number(flag('rounds') ?? 3);
const dims = argv
  .filter((a) => !a.startsWith('--'))
  .map((a) => (a.includes('x') ? a.split('x').map(Number) : [Number(a), Number(a), Number(a)]) as [number, number, number]);
const be = await WebGPUBackend.create({ autotune: !sweep });
console.log(`adapter: ${be.adapterInfo}`);
if (!sweep) for (const [p, c] of be.matmulChoices) console.log(`tuned ${p}: ${c.design} ${c.shape.join('x')}`);

function rand(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.random() * 2 - 1;
  return out;
}

/** Milliseconds for `count` products queued back to back and one readback of the last. */
async function once(a: Storage, b: Storage, args: MatmulArgs, choice?: MatmulChoice, count = 1): Promise<number> {
  const restore = choice ? forceKernelChoice({ matmulDesign: choice.design, matmulShape: choice.shape }) : () => {};
  try {
    const t0 = performance.now();
    let c = be.matmul(a, b, args);
    for (let i = 1; i < count; i++) {
      be.release(c);
      c = be.matmul(a, b, args);
    }
    await be.read(c);
    const t = performance.now() - t0;
    be.release(c);
    return t;
  } finally {
    restore();
  }
}

const median = (t: number[]) => [...t].sort((x, y) => x - y)[Math.floor(t.length / 2)]!;

for (const pattern of patterns) for (const [m, k, n] of dims.length ? dims : sweep ? [[1024, 1024, 1024] as const] : [[256, 256, 256], [512, 512, 512], [1024, 1024, 1024]] as const) {
  const transA = pattern[0] === 'T';
  const transB = pattern[1] === 'T';
  const a = be.upload(rand(m * k), 'float32');
  const b = be.upload(rand(k * n), 'float32');
  const args: MatmulArgs = { batch: 1, m, k, n, transA, transB, aBatchStride: 0, bBatchStride: 0 };
  const gf = (ms: number) => ((2 * m * k * n) / (ms * 1e6)).toFixed(2);
  if (!sweep) {
    await once(a, b, args); // warm-up: pipeline compile, buffer allocation
    const times: number[] = [];
    const marginal: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t1 = await once(a, b, args);
      times.push(t1);
      if (products > 1) marginal.push(((await once(a, b, args, undefined, products)) - t1) / (products - 1));
    }
    const without = products > 1 ? `; without the readback ${gf(median(marginal))} GFLOP/s (${median(marginal).toFixed(3)} ms each of ${products} queued)` : '';
    console.log(`matmul ${m}x${k}x${n} ${pattern}: ${gf(median(times))} GFLOP/s (median ${median(times).toFixed(1)} ms of 5)${without}`);
  } else {
    const all = tuneCandidates(be, { transA, transB }).filter((c) => !designs || designs.includes(c.design));
    const times = all.map((): number[] => []);
    const marginal = all.map((): number[] => []);
    for (const c of all) await once(a, b, args, c);
    for (let r = 0; r < rounds; r++) {
      for (const [i, c] of all.entries()) {
        const t1 = await once(a, b, args, c);
        times[i]!.push(t1);
        if (products > 1) marginal[i]!.push((await once(a, b, args, c, products)) - t1);
      }
    }
    const rows = all.map((c, i) => ({ c, ms: median(times[i]!), each: products > 1 ? median(marginal[i]!) / (products - 1) : NaN }));
    rows.sort((x, y) => (products > 1 ? x.each - y.each : x.ms - y.ms));
    for (const { c, ms, each } of rows) {
      const without = products > 1 ? `; without the readback ${gf(each)} GFLOP/s (${each.toFixed(3)} ms each of ${products} queued)` : '';
      console.log(`${m}x${k}x${n} ${pattern} ${c.design} ${c.shape.join('x')}: ${gf(ms)} GFLOP/s with the readback (${ms.toFixed(2)} ms)${without}`);
    }
  }
  be.release(a);
  be.release(b);
}
be.destroy();
