/**
 * Where the MLP training step's GPU time goes, kernel by kernel (no timestamp queries needed, so it
 * works on lavapipe and SwiftShader alike):
 *
 *   npx tsx bench/step-profile.ts [--reps=20] [--steps=3] [--skip=matmul]   (skip: kernels whose key starts so are not replayed)
 *   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json npx tsx bench/step-profile.ts
 *
 * It runs the bench's webgrad MLP step (bench/workloads/mlp.ts spec) a few times, then records every
 * dispatch of one step (kernel, buffers, uniform bytes, workgroups) as the batcher encodes it. Each
 * recorded dispatch is then replayed alone `reps` times in one submit (its own bind group and
 * uniform buffer), timed from submit to onSubmittedWorkDone, minus an empty submit's time. In-place
 * kernels (optimizer updates) change their buffers when replayed; the figures are for timing only.
 * Also prints the host time to encode one step (JS only, no GPU wait) per dispatch.
 */
import { dawnGpu, now, setupWebGPU } from './common.js';
import { webgpuBackend, webgradPeer } from './peers/webgrad.js';
import { MLP_SPEC, mlpData, mlpInit } from './workloads/mlp.js';
import type { Kernel } from '../src/backend/webgpu/pipeline-cache.js';
import type { Workgroups } from '../src/backend/webgpu/batcher.js';

interface Recorded {
  op: string;
  kernel: Kernel;
  buffers: GPUBuffer[];
  params: Uint8Array;
  workgroups: [number, number, number];
}

function arg(name: string, dflt: number): number {
  const a = process.argv.find((s) => s.startsWith(`--${name}=`));
  return a ? Number(a.split('=')[1]) : dflt;
}

async function main(): Promise<void> {
  const reps = arg('reps', 20);
  const steps = arg('steps', 3);
  await setupWebGPU();
  void dawnGpu;
  const peer = webgradPeer('webgpu');
  await peer.init();
  const be = webgpuBackend();
  console.log(`adapter: ${be.adapterInfo}`);
  const model = await peer.mlp!(MLP_SPEC, mlpInit(MLP_SPEC), mlpData(MLP_SPEC));
  await model.steps(steps);
  const device = be.device;
  const batcher = be.batcher;
  const rec: Recorded[] = [];
  const orig = batcher.dispatch.bind(batcher);
  batcher.dispatch = (op: string, kernel: Kernel, buffers: readonly GPUBuffer[], params: ArrayBufferView, workgroups: Workgroups): void => {
    const wg = typeof workgroups === 'number' ? batcher.fold(workgroups) : workgroups;
    rec.push({ op, kernel, buffers: [...buffers], params: new Uint8Array(params.buffer.slice(params.byteOffset, params.byteOffset + params.byteLength)), workgroups: [...wg] as [number, number, number] });
    orig(op, kernel, buffers, params, workgroups);
  };
  await model.steps(1);
  batcher.dispatch = orig;
  const s0 = be.stats();
  const e0 = now();
  const n = 10;
  for (let i = 0; i < n; i++) await model.steps(1);
  const plain = (now() - e0) / n;
  const s1 = be.stats();
  console.log(`step: ${plain.toFixed(1)} ms plain (loss read each step), ${rec.length} dispatches, ${((s1.bindGroupsCreated - s0.bindGroupsCreated) / n).toFixed(1)} bind groups created/step`);

  const submitAndWait = async (enc: GPUCommandEncoder): Promise<number> => {
    const t = now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    return now() - t;
  };
  const empty: number[] = [];
  for (let i = 0; i < 10; i++) empty.push(await submitAndWait(device.createCommandEncoder()));
  empty.sort((a, b) => a - b);
  const base = empty[5]!;
  const rows: { op: string; key: string; ms: number; wg: string }[] = [];
  const skip = process.argv.find((s) => s.startsWith('--skip='))?.split('=')[1];
  for (const r of rec) {
    if (skip && r.kernel.key.startsWith(skip)) continue;
    const ub = device.createBuffer({ size: Math.max(16, Math.ceil(r.params.byteLength / 16) * 16), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const padded = new Uint8Array(ub.size);
    padded.set(r.params);
    device.queue.writeBuffer(ub, 0, padded);
    const bg = device.createBindGroup({
      layout: r.kernel.layout.bindGroupLayout,
      entries: [{ binding: 0, resource: { buffer: ub } }, ...r.buffers.map((buffer, i) => ({ binding: 1 + i, resource: { buffer } }))],
    });
    const times: number[] = [];
    for (let t = 0; t < 3; t++) {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      pass.setPipeline(r.kernel.pipeline);
      pass.setBindGroup(0, bg);
      for (let i = 0; i < reps; i++) pass.dispatchWorkgroups(...r.workgroups);
      pass.end();
      times.push(await submitAndWait(enc));
    }
    times.sort((a, b) => a - b);
    rows.push({ op: r.op, key: r.kernel.key, ms: Math.max(0, times[1]! - base) / reps, wg: r.workgroups.join('x') });
    ub.destroy();
  }
  const total = rows.reduce((s, r) => s + r.ms, 0);
  console.log(`sum of per-dispatch GPU times: ${total.toFixed(2)} ms (empty submit ${base.toFixed(2)} ms)`);
  console.log('\n# in step order');
  rows.forEach((r, i) => console.log(`${String(i).padStart(3)} ${r.ms.toFixed(3).padStart(8)} ms  ${r.op.padEnd(22)} ${r.wg.padEnd(12)} ${r.key.slice(0, 90)}`));
  const byKey = new Map<string, { ms: number; n: number }>();
  for (const r of rows) {
    const k = r.key.split(/[|(]/)[0]!;
    const e = byKey.get(k) ?? { ms: 0, n: 0 };
    e.ms += r.ms;
    e.n++;
    byKey.set(k, e);
  }
  console.log('\n# by kernel family');
  for (const [k, e] of [...byKey].sort((a, b) => b[1].ms - a[1].ms)) console.log(`${e.ms.toFixed(2).padStart(8)} ms  ${String(e.n).padStart(3)}x  ${k}`);

  // Host encode time per dispatch: steps encoded back to back without any wait.
  await be.sync();
  const h0 = now();
  const hs = 20;
  const d0 = be.stats().dispatches;
  const { trainStep } = await import('./peers/webgrad-steps.js');
  for (let i = 0; i < hs; i++) trainStep(model as never).dispose();
  const hostMs = (now() - h0) / hs;
  const dps = (be.stats().dispatches - d0) / hs;
  await be.sync();
  console.log(`\nhost encode: ${hostMs.toFixed(2)} ms/step, ${dps} dispatches/step, ${((hostMs * 1000) / dps).toFixed(1)} µs/dispatch`);
  await model.dispose();
  process.exit(0);
}

void main();
