/**
 * PyTorch interop, both ways, against files made by real PyTorch 1.13
 * (test/fixtures/make_torch_interop.py; CI reads only the committed files):
 *
 * - torch → webgrad: torch_mlp.safetensors is a torch.nn.Sequential state_dict (BatchNorm1d's
 *   running_mean, running_var and int64 num_batches_tracked included); it loads strictly into the
 *   webgrad MLP of the same architecture and gives torch's eval logits, on every backend.
 * - webgrad → torch: webgrad_mlp.safetensors, webgrad_adam.safetensors and webgrad_mlp.json are
 *   written by this test (WEBGRAD_UPDATE_FIXTURES=1) and checked by the Python script: strict
 *   load_state_dict, torch's logits = webgrad's, and torch.optim.Adam continuing from webgrad's
 *   exp_avg / exp_avg_sq gives webgrad's next parameters. Without the variable, the test recomputes
 *   them and checks that the committed files are still what webgrad writes.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import { assertClose } from './helpers/compare.js';
import { expectNoLeak } from './helpers/oracle.js';
import type { BackendName } from '../src/backend/types.js';
import { engine } from '../src/engine.js';
import { buildMlp } from '../src/train/mlp.js';
import type { MlpSpec } from '../src/train/mlp.js';
import { crossEntropy, manualSeed, nn, noGrad, optim, randn, safetensors, tensor, tidy } from '../src/index.js';
import type { Tensor } from '../src/tensor.js';
import { dispose } from '../src/lifetime.js';

const here = (name: string): URL => new URL(`./fixtures/${name}`, import.meta.url);
interface Arr { shape: number[]; values: number[] }

function onDevice<T>(device: BackendName, fn: () => T): T {
  const prev = engine.defaultBackend;
  engine.defaultBackend = device;
  try {
    return fn();
  } finally {
    engine.defaultBackend = prev;
  }
}

const TORCH = JSON.parse(readFileSync(here('torch_mlp.json'), 'utf8')) as { spec: MlpSpec; keys: string[]; x: Arr; logits: Arr };

describeEachBackend('PyTorch → webgrad: a torch.nn.Sequential state_dict (safetensors)', (device) => {
  it('loads strictly into the same webgrad MLP (num_batches_tracked I64 → int32) and reproduces torch\'s eval logits', async () => {
    await expectNoLeak('torch → webgrad', async () => {
      const model = onDevice(device, () => buildMlp(TORCH.spec));
      expect([...model.stateDict().keys()].sort()).toEqual([...TORCH.keys].sort());
      const meta = safetensors.loadModel(model, readFileSync(here('torch_mlp.safetensors')), { strict: true });
      expect(meta.producer).toMatch(/^torch 1\.13/);
      const bn = model.at(1) as nn.BatchNorm1d;
      expect(bn.numBatchesTracked!.dtype).toBe('int32');
      expect(Array.from(await bn.numBatchesTracked!.data())).toEqual([3]);
      model.eval();
      const x = tensor(TORCH.x.values, { shape: TORCH.x.shape, device });
      const logits = noGrad(() => model.forward(x));
      assertClose('logits', Array.from(await logits.data()), TORCH.logits.values, TORCH.logits.shape, { atol: 2e-5, rtol: 1e-4 });
      dispose([x, logits]);
      model.dispose();
    });
  });
});

// ---------------------------------------------------------------------------------------------
// webgrad → torch

const SPEC: MlpSpec = { inputs: 10, hidden: [12, 6], outputs: 3, activation: 'relu', batchNorm: true, dropout: 0.2, init: 'he' };

interface WebgradRef { spec: MlpSpec; x: Arr; logits: Arr; batch: { shape: number[]; x: number[]; labels: number[] }; afterStep: Record<string, Arr> }

async function arr(t: Tensor): Promise<Arr> {
  return { shape: [...t.shape], values: Array.from(await t.data()) };
}

/** A webgrad MLP trained 4 Adam steps (train mode: dropout, batch statistics), its files, then one more step in eval mode. */
async function webgradSide(): Promise<{ model: Uint8Array; adam: Uint8Array; ref: WebgradRef }> {
  manualSeed(3);
  const model = onDevice('cpu', () => buildMlp(SPEC));
  const opt = new optim.Adam(model.parameters(), { lr: 0.01 });
  const labelsOf = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => (i * 7 + seed) % SPEC.outputs);
  const stepOn = (x: Tensor, labels: number[]): void => {
    opt.zeroGrad();
    const y = tensor(labels, { dtype: 'int32' });
    const loss = tidy(() => crossEntropy(model.forward(x), y));
    loss.backward();
    dispose([loss, y]);
    opt.step();
  };
  model.train();
  for (let s = 0; s < 4; s++) {
    const x = randn([8, SPEC.inputs], { seed: 100 + s });
    stepOn(x, labelsOf(8, s));
    x.dispose();
  }
  model.eval();
  const x = randn([5, SPEC.inputs], { seed: 200 });
  const logits = noGrad(() => model.forward(x));
  const modelBytes = await safetensors.save(model, { architecture: JSON.stringify(SPEC), framework: 'webgrad' });
  const state = opt.stateDict();
  const adamBytes = await safetensors.save(state.tensors, { optimizer: JSON.stringify({ step: state.step, lr: state.lr }) });
  const bx = randn([6, SPEC.inputs], { seed: 300 });
  const blabels = labelsOf(6, 5);
  stepOn(bx, blabels);
  const afterStep: Record<string, Arr> = {};
  for (const [name, t] of model.stateDict()) afterStep[name] = await arr(t);
  const ref: WebgradRef = { spec: SPEC, x: await arr(x), logits: await arr(logits), batch: { shape: [...bx.shape], x: Array.from(await bx.data()), labels: blabels }, afterStep };
  dispose([x, logits, bx]);
  opt.dispose();
  model.dispose();
  return { model: modelBytes, adam: adamBytes, ref };
}

describe('webgrad → PyTorch: the files make_torch_interop.py loads with strict=True', () => {
  it('webgrad_mlp.safetensors, webgrad_adam.safetensors and webgrad_mlp.json are what webgrad writes now', async () => {
    const fresh = await webgradSide();
    if (process.env.WEBGRAD_UPDATE_FIXTURES === '1') {
      writeFileSync(here('webgrad_mlp.safetensors'), fresh.model);
      writeFileSync(here('webgrad_adam.safetensors'), fresh.adam);
      writeFileSync(here('webgrad_mlp.json'), `${JSON.stringify({ generator: 'test/torch-interop.test.ts (WEBGRAD_UPDATE_FIXTURES=1)', ...fresh.ref })}\n`);
    }
    const TOL = { atol: 1e-6, rtol: 1e-5 };
    for (const [file, bytes] of [['webgrad_mlp.safetensors', fresh.model], ['webgrad_adam.safetensors', fresh.adam]] as const) {
      const committed = safetensors.load(readFileSync(here(file)), { device: 'cpu' });
      const now = safetensors.load(bytes, { device: 'cpu' });
      expect([...committed.tensors.keys()].sort(), file).toEqual([...now.tensors.keys()].sort());
      expect(committed.metadata, file).toEqual(now.metadata);
      for (const [name, t] of now.tensors) {
        const c = committed.tensors.get(name)!;
        expect(c.dtype, `${file} ${name}`).toBe(t.dtype);
        assertClose(`${file} ${name}`, Array.from(await c.data()), Array.from(await t.data()), [...t.shape], TOL);
      }
      dispose([...committed.tensors.values(), ...now.tensors.values()]);
    }
    // PyTorch's names: the batch-norm buffers and Adam's per-parameter state.
    const names = [...safetensors.load(fresh.adam, { device: 'cpu' }).tensors].map(([k, t]) => (t.dispose(), k));
    expect(new Set(names.map((k) => k.split('.')[1]))).toEqual(new Set(['exp_avg', 'exp_avg_sq']));
    const ref = JSON.parse(readFileSync(here('webgrad_mlp.json'), 'utf8')) as WebgradRef;
    expect(Object.keys(ref.afterStep)).toContain('1.num_batches_tracked');
    assertClose('logits', fresh.ref.logits.values, ref.logits.values, ref.logits.shape, TOL);
    for (const [name, a] of Object.entries(fresh.ref.afterStep)) assertClose(`after step: ${name}`, a.values, ref.afterStep[name]!.values, a.shape, TOL);
  });
});
