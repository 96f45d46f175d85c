/**
 * GFLOP/s of the WebGPU matmul at 256, 512 and 1024 (square, float32): median of 5 timed runs after
 * a warm-up, each run timed from encoding to the end of a readback of the result.
 *
 *   npx tsx bench/matmul-probe.ts [sizes...]
 */
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import type { MatmulArgs } from '../src/backend/types.js';

const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0);
const be = await WebGPUBackend.create();
console.log(`adapter: ${be.adapterInfo}`);

function rand(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.random() * 2 - 1;
  return out;
}

for (const s of sizes.length ? sizes : [256, 512, 1024]) {
  const a = be.upload(rand(s * s), 'float32');
  const b = be.upload(rand(s * s), 'float32');
  const args: MatmulArgs = { batch: 1, m: s, k: s, n: s, transA: false, transB: false, aBatchStride: 0, bBatchStride: 0 };
  const once = async (): Promise<number> => {
    const t0 = performance.now();
    const c = be.matmul(a, b, args);
    await be.read(c);
    const t = performance.now() - t0;
    be.release(c);
    return t;
  };
  await once(); // warm-up: pipeline compile, buffer allocation
  const times: number[] = [];
  for (let i = 0; i < 5; i++) times.push(await once());
  times.sort((x, y) => x - y);
  const ms = times[2]!;
  const gflops = (2 * s * s * s) / (ms * 1e6);
  console.log(`matmul ${s}x${s}x${s}: ${gflops.toFixed(2)} GFLOP/s (median ${ms.toFixed(1)} ms of 5; min ${times[0]!.toFixed(1)}, max ${times[4]!.toFixed(1)})`);
  be.release(a);
  be.release(b);
}
be.destroy();
