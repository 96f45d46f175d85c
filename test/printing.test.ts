/**
 * Printing, checked against real PyTorch (test/fixtures/printing.json, made by
 * make_print_fixtures.py): a tensor's values part is PyTorch's str(tensor) character for character
 * (formats, alignment, wrapping at 80 columns, summaries with "..."); the suffix names shape, dtype
 * and device; a module prints as PyTorch's print(model); summary() counts parameters per layer.
 */
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import { describeEachBackend } from './helpers/backends.js';
import type { BackendName, DType } from '../src/backend/types.js';
import * as wg from '../src/index.js';

interface Case { name: string; values: (number | string)[]; shape: number[]; dtype: DType; torch: string }
const fixtures = JSON.parse(readFileSync('test/fixtures/printing.json', 'utf8')) as { tensors: Case[]; module: string };
const num = (v: number | string): number => (typeof v === 'number' ? v : v === 'nan' ? NaN : v === 'inf' ? Infinity : -Infinity);

/** PyTorch's values part: what sits between "tensor(" and its suffix. */
const torchBody = (s: string): string => s.replace(/^tensor\(/, '').replace(/(, dtype=torch\.\w+)?\)$/, '');
const ourBody = (s: string): string => {
  const m = /^tensor\(([\s\S]*), shape=\[[^\]]*\], dtype=\w+, device='\w+'(, requiresGrad=true)?\)$/.exec(s);
  if (!m) throw new Error(`not a tensor string: ${s}`);
  return m[1]!;
};

describeEachBackend('printing', (device: BackendName) => {
  it.each(fixtures.tensors.map((c) => [c.name, c] as const))('%s prints as PyTorch does', async (_name, c) => {
    const t = wg.tensor(c.values.map(num), { shape: c.shape, dtype: c.dtype, device });
    await t.data();
    const s = t.toString();
    expect(ourBody(s)).toBe(torchBody(c.torch));
    expect(s.endsWith(`shape=[${c.shape.join(', ')}], dtype=${c.dtype}, device='${device}')`)).toBe(true);
    t.dispose();
  });

  it('before a read: shape, dtype, device and how to see the values; console.log and util.inspect show the same', async () => {
    const t = wg.tensor([[1, 2], [3, 4]], { device, requiresGrad: true });
    expect(String(t)).toBe(`tensor(<values not read: await t.print()>, shape=[2, 2], dtype=float32, device='${device}', requiresGrad=true)`);
    expect(inspect(t)).toBe(String(t));
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await t.print();
      expect(log).toHaveBeenCalledWith(`tensor([[1., 2.],\n        [3., 4.]], shape=[2, 2], dtype=float32, device='${device}', requiresGrad=true)`);
    } finally {
      log.mockRestore();
    }
    expect(inspect(t)).toContain('[3., 4.]');
    t.dispose();
    expect(String(t)).toMatch(/^tensor\(<disposed>, id=\d+, shape=\[2, 2\]\)$/);
  });

  it('an optimizer step forgets the printed values of the parameters it updates in place', async () => {
    const w = wg.tensor([1, 2], { device, requiresGrad: true });
    await w.data();
    expect(String(w)).toContain('[1., 2.]');
    const opt = new wg.optim.SGD([w], { lr: 0.5 });
    wg.tidy(() => w.mul(w).sum().backward());
    opt.step();
    expect(String(w)).toContain('<values not read');
    await w.data();
    expect(String(w)).toContain('[0., 0.]');
    opt.dispose();
    w.dispose();
  });
});

describe('module printing', () => {
  const build = (): wg.nn.Module => new wg.nn.Sequential(
    new wg.nn.Linear(784, 256), new wg.nn.BatchNorm1d(256), new wg.nn.ReLU(), new wg.nn.Dropout(0.2), new wg.nn.Linear(256, 10, { bias: false }),
    new wg.nn.LeakyReLU(0.1), new wg.nn.GELU('tanh'), new wg.nn.Sigmoid(), new wg.nn.ReLU6(), new wg.nn.Sequential(new wg.nn.Tanh(), new wg.nn.Linear(3, 2)),
    new wg.nn.BatchNorm1d(8, { eps: 1e-3, momentum: 0.01, affine: false, trackRunningStats: false }),
  );

  it("prints its architecture exactly as PyTorch's print(model)", () => {
    const m = build();
    expect(String(m)).toBe(fixtures.module);
    expect(inspect(m)).toBe(fixtures.module);
    m.dispose();
  });

  it('a custom module prints its children and its own extraRepr', () => {
    class Block extends wg.nn.Module {
      readonly fc = this.registerModule('fc', new wg.nn.Linear(4, 2));
      override extraRepr(): string { return 'residual=True'; }
      forward(x: wg.Tensor): wg.Tensor { return this.fc.forward(x); }
    }
    const m = new Block();
    expect(String(m)).toBe('Block(\n  residual=True\n  (fc): Linear(in_features=4, out_features=2, bias=True)\n)');
    m.dispose();
  });

  it('summary() counts parameters per layer and in total', () => {
    const m = new wg.nn.Sequential(new wg.nn.Linear(784, 256), new wg.nn.BatchNorm1d(256), new wg.nn.ReLU(), new wg.nn.Linear(256, 10, { bias: false }));
    const s = m.summary();
    const rows = s.split('\n');
    expect(rows[0]).toMatch(/^Layer\s+Type\s+Parameters\s+Count$/);
    expect(rows).toContainEqual(expect.stringMatching(/^0\s+Linear\s+weight \[256, 784\], bias \[256\]\s+200,960$/));
    expect(rows).toContainEqual(expect.stringMatching(/^1\s+BatchNorm1d\s+weight \[256\], bias \[256\]\s+512$/));
    expect(rows).toContainEqual(expect.stringMatching(/^2\s+ReLU\s+-\s+0$/));
    expect(rows).toContainEqual(expect.stringMatching(/^3\s+Linear\s+weight \[10, 256\]\s+2,560$/));
    // 784*256 + 256 + 2*256 + 256*10, the same as sum(p.numel() for p in model.parameters()) in PyTorch.
    expect(s).toContain('Total parameters: 204,032');
    expect(s).toContain('Trainable parameters: 204,032');
    m.parameters()[0]!.requiresGrad = false;
    expect(m.summary()).toContain('Non-trainable parameters: 200,704');
    m.dispose();
  });
});
