/**
 * The bench's MLP training step (bench/workloads/mlp.ts) with every matmul forced to one design and
 * workgroup shape, the variants alternating round by round in one process (so load drift hits all
 * alike): 2 warm-up steps, then 8 timed steps per variant and round; prints each variant's median.
 *
 *   npx tsx bench/step-ab.ts [design:XxY,design:XxY,...] [rounds]
 *   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json npx tsx bench/step-ab.ts wide8x8:4x4,sgRows8x8:4x4 5
 */
import { setupWebGPU, now } from './common.js';
import { webgradPeer } from './peers/webgrad.js';
import { MLP_SPEC, mlpData, mlpInit } from './workloads/mlp.js';
import { forceKernelChoice } from '../src/backend/webgpu/kernel-choice.js';
import type { MatmulDesign } from '../src/backend/webgpu/matmul.js';

const variants = (process.argv[2] ?? 'wide8x8:4x4,sgRows8x8:4x4,sgRows16x4:8x2').split(',').map((s) => {
  const [d, sh] = s.split(':');
  return { label: s, design: d as MatmulDesign, shape: sh!.split('x').map(Number) as [number, number] };
});
const rounds = Number(process.argv[3] ?? 5);
await setupWebGPU();
const peer = webgradPeer('webgpu');
await peer.init();
const model = await peer.mlp!(MLP_SPEC, mlpInit(MLP_SPEC), mlpData(MLP_SPEC));
const times = variants.map((): number[] => []);
for (let r = -1; r < rounds; r++) {
  for (const [i, v] of variants.entries()) {
    const undo = forceKernelChoice({ matmulDesign: v.design, matmulShape: v.shape });
    try {
      await model.steps(2);
      const t0 = now();
      await model.steps(8);
      if (r >= 0) times[i]!.push((now() - t0) / 8);
    } finally { undo(); }
  }
}
for (const [i, v] of variants.entries()) {
  const t = [...times[i]!].sort((a, b) => a - b);
  console.log(`${v.label}: median ${t[Math.floor(t.length / 2)]!.toFixed(1)} ms/step  (${t.map((x) => x.toFixed(0)).join(' ')})`);
}
process.exit(0);
