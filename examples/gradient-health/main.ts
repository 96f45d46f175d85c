/**
 * Vanishing gradients and their cures, in numbers: a 12-hidden-layer MLP trained on the embedded
 * digits four ways (sigmoid + naive init, sigmoid + Xavier, ReLU + He, ReLU + He + batch norm),
 * printing every layer's gradient norm at a few steps.
 *
 *   npx tsx examples/gradient-health/main.ts [--backend cpu|webgpu|auto] [--steps N]
 */
import { parseArgs } from 'node:util';
import { init } from '../../src/init.js';
import { loadEmbeddedDigits } from '../../src/data/mnist-node.js';
import { subset } from '../../src/data/dataset.js';
import { runGradientStudy, formatStudy } from '../../src/train/study.js';

const { values } = parseArgs({ options: { backend: { type: 'string' }, steps: { type: 'string' } } });
const backend = (values.backend ?? 'auto') as 'cpu' | 'webgpu' | 'auto';
const steps = Number(values.steps ?? 60);

const started = await init({ backend });
console.log(`gradient health study on ${started.backend}${started.adapter ? ` (${started.adapter})` : ''}`);
if (started.fallbackReason) console.log(`(no WebGPU: ${started.fallbackReason})`);
const { train } = loadEmbeddedDigits();
const data = subset(train, Array.from({ length: 2048 }, (_, i) => i * 3));
const recordAt = [1, Math.max(2, Math.round(steps / 2)), steps];
const results = await runGradientStudy(data, { depth: 12, width: 64, batchSize: 64, recordAt, lr: 0.05, seed: 3, device: started.backend });
console.log('Gradient norm of each Linear layer\'s weights (input layer first):');
console.log(formatStudy(results));
