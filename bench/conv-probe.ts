/**
 * Timings of the WebGPU convolution kernels (forward, input gradient, weight gradient) at the shapes
 * of issue 12 and of `webgrad train --model cnn`, plus one CNN training step: median of `reps` timed
 * runs after a warm-up, each timed from encoding to the end of a readback of the result.
 *
 *   npx tsx bench/conv-probe.ts [reps] [--step]     (--step: the training step only)
 */
import * as wg from '../src/index.js';
import { engine } from '../src/engine.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import type { Conv2dGeometry, Storage } from '../src/backend/types.js';
import { median } from './common.js';
import { geom, rand } from './conv-cases.js';
import { alternatingRounds, timeReadback } from './measure.js';
import { buildCnn, DEFAULT_CNN } from '../src/train/cnn.js';

const reps = Number(process.argv[2] ?? 5) || 5;
const stepOnly = process.argv.includes('--step');
const r = await wg.init({ backend: 'webgpu' });
if (r.backend !== 'webgpu') throw new Error(`no WebGPU: ${r.fallbackReason}`);
const be = engine.backends.get('webgpu') as WebGPUBackend;
console.log(`adapter: ${be.adapterInfo}; ${new Date().toISOString()}; median of ${reps}`);

/** The median of `reps` timed calls after one untimed call (bench/measure.ts). */
async function medianOf(once: () => Promise<number>): Promise<number> {
  return median((await alternatingRounds([once], reps))[0]!);
}

const CASES: [string, Conv2dGeometry][] = [
  ['[128,1,28,28]->32 3x3 p1', geom(128, 1, 28, 32, 3, 1)],
  ['[128,32,14,14]->64 3x3 p1', geom(128, 32, 14, 64, 3, 1)],
  ['cli cnn [128,1,28,28]->16 3x3 p1', geom(128, 1, 28, 16, 3, 1)],
  ['cli cnn [128,16,14,14]->32 3x3 p1', geom(128, 16, 14, 32, 3, 1)],
  ['depthwise [128,32,14,14] 3x3 p1 g32', geom(128, 32, 14, 32, 3, 1, 1, 32)],
  ['1x1 [128,32,14,14]->64', geom(128, 32, 14, 64, 1, 0)],
];

for (const [name, g] of stepOnly ? [] : CASES) {
  const x = be.upload(rand(g.n * g.cin * g.h * g.w), 'float32');
  const w = be.upload(rand(g.cout * (g.cin / g.groups) * g.kh * g.kw), 'float32');
  const dy = be.upload(rand(g.n * g.cout * g.hout * g.wout), 'float32');
  const flop = 2 * g.n * g.cout * g.hout * g.wout * (g.cin / g.groups) * g.kh * g.kw;
  const time = (f: () => Storage) => medianOf(() => timeReadback(be, f));
  const parts: [string, () => Storage][] = [
    ['fwd', () => be.routine('conv2d', { x: x, weight: w, bias: null }, g)],
    ['dx', () => be.routine('conv2dBackwardInput', { dy: dy, weight: w }, g)],
    ['dw', () => be.routine('conv2dBackwardWeight', { x: x, dy: dy }, g)],
  ];
  const line: string[] = [];
  for (const [p, f] of parts) {
    const ms = await time(f);
    line.push(`${p} ${ms.toFixed(1)} ms (${(flop / (ms * 1e6)).toFixed(2)} GFLOP/s)`);
  }
  console.log(`${name}: ${line.join('; ')}`);
  for (const s of [x, w, dy]) be.release(s);
}

// One training step of the CLI's CNN at batch 128: forward, cross-entropy, backward, SGD, loss read back.
const batch = 128;
wg.manualSeed(1);
const model = buildCnn(DEFAULT_CNN);
model.train();
const opt = new wg.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
const xs = wg.tensor(Float32Array.from(rand(batch * 784), (v) => (v + 1) / 2), { shape: [batch, 784] });
const ys = wg.tensor(Int32Array.from({ length: batch }, (_, i) => i % 10), { shape: [batch], dtype: 'int32' });
const stepMs = await medianOf(async () => {
  const t0 = performance.now();
  const loss = wg.tidy(() => {
    const l = wg.nn.crossEntropy(model.forward(xs), ys);
    l.backward();
    opt.step();
    return l;
  });
  opt.zeroGrad();
  await loss.item();
  loss.dispose();
  return performance.now() - t0;
});
console.log(`cnn train step (batch ${batch}, ${DEFAULT_CNN.channels.join('-')}): ${stepMs.toFixed(1)} ms = ${((batch * 1000) / stepMs).toFixed(0)} examples/s`);
be.destroy();
