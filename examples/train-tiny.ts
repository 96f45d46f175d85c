/**
 * The main job for now: a small MLP learns a 3-arm spiral on the GPU (or on the CPU reference when no
 * WebGPU adapter exists, saying why). Run with `npm start`.
 *
 * It uses only the tensor API: parameters are leaf tensors with requiresGrad, the loss is a
 * log-softmax cross-entropy, and SGD updates run under noGrad.
 */
import * as wg from '../src/index.js';

const CLASSES = 3;
const POINTS_PER_CLASS = 100;
const HIDDEN = 64;
const STEPS = 300;
const LR = 0.5;

/** A deterministic 3-arm spiral (CS231n's toy problem): 2-D points, integer labels. */
function spiral(seed: number): { x: number[]; labels: number[] } {
  let s = seed >>> 0;
  const noise = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 0.4;
  };
  const x: number[] = [];
  const labels: number[] = [];
  for (let c = 0; c < CLASSES; c++) {
    for (let i = 0; i < POINTS_PER_CLASS; i++) {
      const r = i / POINTS_PER_CLASS;
      const t = c * 4 + r * 4 + noise();
      x.push(r * Math.sin(t), r * Math.cos(t));
      labels.push(c);
    }
  }
  return { x, labels };
}

async function main(): Promise<void> {
  const started = await wg.init({ backend: 'auto' });
  if (started.backend === 'webgpu') {
    console.log(`webgrad: training on WebGPU (${started.adapter})`);
  } else {
    console.log('webgrad: NO WebGPU adapter, so this run uses the CPU reference backend instead.');
    console.log(started.fallbackReason ?? '');
    console.log('');
  }

  const { x, labels } = spiral(7);
  const n = labels.length;
  const inputs = wg.tensor(x, { shape: [n, 2] });
  const oneHot = wg.tensor(labels.flatMap((l) => Array.from({ length: CLASSES }, (_, c) => (c === l ? 1 : 0))), { shape: [n, CLASSES] });

  // He-style initialisation from the seeded Philox stream.
  wg.manualSeed(42);
  const param = (shape: number[], fanIn: number): wg.Tensor =>
    wg.tidy(() => wg.randn(shape).mul(Math.sqrt(2 / fanIn))).requiresGrad_();
  const w1 = param([2, HIDDEN], 2);
  const b1 = wg.zeros([HIDDEN]).requiresGrad_();
  const w2 = param([HIDDEN, HIDDEN], HIDDEN);
  const b2 = wg.zeros([HIDDEN]).requiresGrad_();
  const w3 = param([HIDDEN, CLASSES], HIDDEN);
  const b3 = wg.zeros([CLASSES]).requiresGrad_();
  const params = [w1, b1, w2, b2, w3, b3];

  const forward = (): wg.Tensor => inputs.matmul(w1).add(b1).relu().matmul(w2).add(b2).relu().matmul(w3).add(b3);

  const t0 = performance.now();
  for (let step = 1; step <= STEPS; step++) {
    const loss = wg.tidy(() => {
      const logits = forward();
      const l = logits.logSoftmax(-1).mul(oneHot).sum().mul(-1 / n);
      l.backward();
      wg.noGrad(() => {
        for (const p of params) {
          p._assign(p.sub(p.grad!.mul(LR)));
          p.grad!.dispose();
          p.grad = null;
        }
      });
      return l;
    });
    if (step === 1 || step % 50 === 0) console.log(`step ${String(step).padStart(3)}  loss ${(await loss.item()).toFixed(4)}`);
    loss.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;

  const predicted = wg.noGrad(() => wg.tidy(() => {
    const logits = forward();
    return logits.eq(logits.max(-1, true)).mul(oneHot).sum();
  }));
  const correct = await predicted.item();
  predicted.dispose();
  console.log(`accuracy on the training spiral: ${((100 * correct) / n).toFixed(1)}% (${STEPS} steps in ${seconds.toFixed(2)} s on ${started.backend})`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
