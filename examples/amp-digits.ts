/**
 * float32 vs mixed precision (autocast + GradScaler) on the bundled MNIST digits, same seed, same
 * model (784-256-128-10 ReLU MLP, Adam lr 1e-3, batch 128): prints held-out accuracy of both.
 *
 *   npx tsx examples/amp-digits.ts [epochs=5] [backend=webgpu|cpu]
 */
import * as wg from '../src/index.js';
import { buildMlp } from '../src/train/mlp.js';
import { loadEmbeddedDigits } from '../src/data/mnist-node.js';
import type { Dataset } from '../src/data/dataset.js';

const SEED = 7;

async function accuracy(model: wg.nn.Module, d: Dataset, device: wg.BackendName, amp: boolean): Promise<number> {
  model.eval();
  let correct = 0;
  for (const b of wg.batches(d, 0, { batchSize: 500, shuffle: false, seed: 0, device })) {
    const pred = wg.noGrad(() => (amp ? wg.amp.autocast(() => model.forward(b.x)) : model.forward(b.x)).cast('float32').argmax(1));
    const [p, y] = [await pred.data(), await b.y.data()];
    for (let i = 0; i < b.size; i++) if (p[i] === y[i]) correct++;
    wg.dispose([pred, b.x, b.y]);
  }
  model.train();
  return (100 * correct) / d.n;
}

async function run(amp: boolean, epochs: number, device: wg.BackendName, data: { train: Dataset; test: Dataset }): Promise<{ acc: number; skipped: number; scale: number; loss: number }> {
  wg.manualSeed(SEED);
  const model = buildMlp({ inputs: 784, hidden: [256, 128], outputs: 10, activation: 'relu', batchNorm: false, dropout: 0, init: 'he' });
  const opt = new wg.optim.Adam(model.parameters(), { lr: 1e-3 });
  const scaler = new wg.amp.GradScaler({ enabled: amp });
  let skipped = 0;
  let last = NaN;
  for (let epoch = 0; epoch < epochs; epoch++) {
    for (const b of wg.batches(data.train, epoch, { batchSize: 128, shuffle: true, seed: SEED, device })) {
      opt.zeroGrad();
      const loss = amp ? wg.amp.autocast(() => wg.crossEntropy(model.forward(b.x), b.y)) : wg.crossEntropy(model.forward(b.x), b.y);
      const scaled = scaler.scale(loss);
      scaled.backward();
      if (!(await scaler.step(opt))) skipped++;
      scaler.update();
      last = await loss.item();
      wg.dispose([loss, scaled, b.x, b.y]);
    }
  }
  return { acc: await accuracy(model, data.test, device, amp), skipped, scale: scaler.getScale(), loss: last };
}

async function main(): Promise<void> {
  const epochs = Number(process.argv[2] ?? 5);
  const device = (process.argv[3] ?? 'webgpu') as wg.BackendName;
  const started = await wg.init({ backend: device === 'webgpu' ? 'webgpu' : 'cpu', autotune: false });
  const data = loadEmbeddedDigits();
  console.log(`backend ${started.backend} (${started.adapter ?? 'cpu'}), train ${data.train.n}, test ${data.test.n}, epochs ${epochs}, ${new Date().toISOString()}`);
  const f32 = await run(false, epochs, device, data);
  console.log(`float32:         held-out accuracy ${f32.acc.toFixed(2)}%  (last loss ${f32.loss.toFixed(4)})`);
  const mixed = await run(true, epochs, device, data);
  console.log(`mixed precision: held-out accuracy ${mixed.acc.toFixed(2)}%  (last loss ${mixed.loss.toFixed(4)}, skipped steps ${mixed.skipped}, final scale ${mixed.scale})`);
  console.log(`difference: ${(mixed.acc - f32.acc).toFixed(2)} points`);
}

void main();
