/**
 * Every convolution design side by side on one adapter, the measurement behind the shape rule of
 * src/backend/webgpu/conv.ts: for each case and pass, each design that applies is forced
 * (kernel-choice.ts) and timed from encoding to the end of a readback; rounds alternate the designs
 * so that load on a shared machine hits all of them alike. Prints the median per design and its
 * minimum (the least disturbed by load).
 *
 *   npx tsx bench/conv-designs.ts [rounds] [--only=fwd,dx,dw] [--case=SUBSTRING]
 */
import * as wg from '../src/index.js';
import { engine } from '../src/engine.js';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { convPath, isPointwise, windowApplies } from '../src/backend/webgpu/conv.js';
import { forceKernelChoice, type KernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import type { Conv2dGeometry, Storage } from '../src/backend/types.js';
import { median } from './common.js';
import { geom, rand } from './conv-cases.js';
import { alternatingRounds, timeReadback } from './measure.js';

const args = process.argv.slice(2);
const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 5);
const only = (args.find((a) => a.startsWith('--only='))?.slice(7) ?? 'fwd,dx,dw').split(',');
const caseFilter = args.find((a) => a.startsWith('--case='))?.slice(7) ?? '';
const r = await wg.init({ backend: 'webgpu' });
if (r.backend !== 'webgpu') throw new Error(`no WebGPU: ${r.fallbackReason}`);
const be = engine.backends.get('webgpu') as WebGPUBackend;
console.log(`adapter: ${be.adapterInfo}; ${new Date().toISOString()}; median of ${rounds} alternating rounds`);

const CASES: [string, Conv2dGeometry][] = [
  ['bench [128,1,28,28]->32', geom(128, 1, 28, 32, 3, 1)],
  ['bench [128,32,14,14]->64', geom(128, 32, 14, 64, 3, 1)],
  ['cli [128,1,28,28]->16', geom(128, 1, 28, 16, 3, 1)],
  ['cli [128,16,14,14]->32', geom(128, 16, 14, 32, 3, 1)],
  ['[128,4,14,14]->4', geom(128, 4, 14, 4, 3, 1)],
];

type Pass = 'fwd' | 'dx' | 'dw';
const DESIGNS: [string, KernelChoice][] = [
  ['direct', { convPath: 'direct' }],
  ['gemm', { convPath: 'gemm' }],
  ['window cb4', { convPath: 'window', convWindowBlock: 4 }],
  ['window cb8', { convPath: 'window', convWindowBlock: 8 }],
  ['window cb4 row', { convPath: 'window', convWindowBlock: 4, convWindowSpan: Infinity }],
  ['window cb4 span1', { convPath: 'window', convWindowBlock: 4, convWindowSpan: 1 }],
];

for (const [name, g] of CASES) {
  if (!name.includes(caseFilter)) continue;
  const x = be.upload(rand(g.n * g.cin * g.h * g.w), 'float32');
  const w = be.upload(rand(g.cout * (g.cin / g.groups) * g.kh * g.kw), 'float32');
  const dy = be.upload(rand(g.n * g.cout * g.hout * g.wout), 'float32');
  const run: Record<Pass, () => Storage> = {
    fwd: () => be.routine('conv2d', { x, weight: w, bias: null }, g),
    dx: () => be.routine('conv2dBackwardInput', { dy, weight: w }, g),
    dw: () => be.routine('conv2dBackwardWeight', { x, dy }, g),
  };
  for (const pass of only as Pass[]) {
    const designs = DESIGNS.filter(([d]) => !d.startsWith('window') || windowApplies(g, pass));
    if (isPointwise(g)) continue;
    const once = (choice: KernelChoice) => async (): Promise<number> => {
      const restore = forceKernelChoice(choice);
      try {
        return await timeReadback(be, run[pass]);
      } finally {
        restore();
      }
    };
    const times = await alternatingRounds(designs.map(([, c]) => once(c)), rounds);
    const picked = convPath(g, pass);
    console.log(`${name} ${pass} (rule: ${picked}): ${designs.map(([d], i) => `${d} ${median(times[i]!).toFixed(1)} (min ${Math.min(...times[i]!).toFixed(1)})`).join(' | ')} ms`);
  }
  for (const s of [x, w, dy]) be.release(s);
}
be.destroy();
