/**
 * Matmul throughput of each WebGPU peer with the readback taken out, for GPUs, where reading a
 * 4096² result back (64 MB) can cost more than computing it and so hides the kernels in the main
 * table. Each round times, per peer in turn, one product and then K products queued back to back,
 * each ending with one readback of the last result: the readback cancels in (t_K − t_1) / (K − 1).
 * Medians over rounds; the first result of each peer is checked against float64 dot products.
 *
 *   npx tsx bench/matmul-queued.ts [--sizes=1024,2048,4096] [--products=8] [--rounds=5] [--peers=webgrad,tfjs,jaxjs]
 */
import { errorMessage, median, now, setupWebGPU, uniform } from './common.js';
import type { Peer } from './peers/types.js';
import { checkMatmulSample } from './workloads/matmul.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: string) => argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? fallback;
const sizes = flag('sizes', '1024,2048,4096').split(',').map(Number);
const products = Number(flag('products', '8'));
const rounds = Number(flag('rounds', '5'));
const wanted = flag('peers', 'webgrad,tfjs,jaxjs').split(',');
if (!(products >= 2)) throw new Error(`matmul-queued: --products must be at least 2, got ${flag('products', '8')}`);

await setupWebGPU();
const makers: Record<string, () => Promise<Peer>> = {
  webgrad: async () => (await import('./peers/webgrad.js')).webgradPeer('webgpu'),
  tfjs: async () => (await import('./peers/tfjs.js')).tfjsPeer(),
  jaxjs: async () => (await import('./peers/jaxjs.js')).jaxjsPeer(),
};
const peers: Peer[] = [];
for (const id of wanted) {
  const make = makers[id];
  if (!make) throw new Error(`matmul-queued: unknown peer '${id}' (webgrad, tfjs, jaxjs)`);
  const p = await make();
  try {
    await p.init();
    peers.push(p);
    console.log(`${p.label}: ${p.adapterInfo?.() ?? '?'}`);
  } catch (e) {
    console.log(`${p.label}: FAILED to start: ${errorMessage(e)}`);
  }
}

const timed = async (run: () => Promise<unknown>): Promise<number> => {
  const t0 = now();
  await run();
  return now() - t0;
};

for (const n of sizes) {
  const a = uniform(n * n, 1000 + n);
  const b = uniform(n * n, 2000 + n);
  const gflops = (ms: number) => (2 * n ** 3) / (ms * 1e6);
  const cases = [];
  for (const p of peers) {
    if (!p.matmul) continue;
    const c = await p.matmul(n, a, b);
    const check = checkMatmulSample(n, a, b, await c.run(1));
    if (!check.ok) throw new Error(`matmul-queued: ${p.label} matmul ${n} is wrong: ${check.detail}`);
    cases.push({ p, c, single: [] as number[], each: [] as number[] });
  }
  for (let r = 0; r < rounds; r++) {
    for (const x of cases) {
      const t1 = await timed(() => x.c.run(1));
      const tK = await timed(() => x.c.run(products));
      x.single.push(t1);
      x.each.push((tK - t1) / (products - 1));
    }
  }
  const best = Math.max(...cases.filter((x) => x.p.id !== 'webgrad').map((x) => gflops(median(x.each))));
  for (const x of cases) {
    const g = gflops(median(x.each));
    const vs = x.p.id === 'webgrad' && Number.isFinite(best) ? ` (${(g / best).toFixed(2)}× the best other peer)` : '';
    console.log(`matmul ${n} ${x.p.label}: ${g.toFixed(0)} GFLOP/s without the readback (median of ${rounds}, ${products} queued)${vs}; one product with its readback ${gflops(median(x.single)).toFixed(0)} GFLOP/s`);
    await x.c.dispose();
  }
}
process.exit(0);
