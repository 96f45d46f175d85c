/**
 * The README's code is true: each block marked "quoted from <file>" is that file, character for
 * character, and the files run: the canonical training loop learns, and the minimal Node program
 * fits its line. (The minimal Vite page is built and run in Chromium by
 * test/browser/use-vite-page.test.ts.)
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const readme = readFileSync('README.md', 'utf8');
const quoted = [...readme.matchAll(/<!-- quoted from (\S+) [^\n]*-->\n```\w+\n([\s\S]*?)\n```/g)].map((m) => ({ file: m[1]!, code: m[2]! }));

function runExample(file: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 240_000 });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`${file} exited with ${r.status}:\n${out}`);
  return r.stdout;
}

describe('README examples', () => {
  it('quotes the example files exactly (the training loop, the Node program, the Vite page)', () => {
    expect(quoted.map((q) => q.file).sort()).toEqual(['examples/use/node-app/main.mjs', 'examples/use/train-loop.ts', 'examples/use/vite-app/main.ts']);
    for (const q of quoted) expect(q.code, `README block for ${q.file}`).toBe(readFileSync(q.file, 'utf8').replace(/\n$/, ''));
  });

  it("the README's training loop runs and learns (loss falls, the model and the probabilities print)", () => {
    const out = runExample('examples/use/train-loop.ts');
    expect(out).toContain('Sequential(\n  (0): Linear(in_features=2, out_features=32, bias=True)\n  (1): ReLU()');
    const losses = [...out.matchAll(/^epoch (\d+): loss ([\d.]+)$/gm)].map((m) => Number(m[2]));
    expect(losses).toHaveLength(15);
    expect(losses[14]!).toBeLessThan(losses[0]! / 4);
    expect(losses[14]!).toBeLessThan(0.15);
    // The probabilities of the three probe points: class 1, class 0, class 1.
    const probs = /tensor\(\[\[([^\]]+)\],\s+\[([^\]]+)\],\s+\[([^\]]+)\]\], shape=\[3, 2\], dtype=float32, device='(cpu|webgpu)'\)/.exec(out);
    expect(probs, out).not.toBeNull();
    const rows = probs!.slice(1, 4).map((r) => r.split(',').map(Number));
    expect(rows[0]![1]).toBeGreaterThan(0.9);
    expect(rows[1]![0]).toBeGreaterThan(0.9);
    expect(rows[2]![1]).toBeGreaterThan(0.9);
    // argmax-based accuracy over the 1,024 training points.
    const accuracy = /^accuracy: ([\d.]+) %$/m.exec(out);
    expect(accuracy, out).not.toBeNull();
    expect(Number(accuracy![1])).toBeGreaterThan(90);
  });

  it('the minimal Node program runs and fits y = 2x - 1', () => {
    const out = runExample('examples/use/node-app/main.mjs');
    expect(out).toMatch(/^backend: (cpu|webgpu)/);
    const w = /tensor\(\[\[\s*([-\d.e+]+)\]\], shape=\[1, 1\]/.exec(out);
    const b = /tensor\(\[\s*([-\d.e+]+)\], shape=\[1\]/.exec(out);
    expect(Number(w?.[1])).toBeCloseTo(2, 2);
    expect(Number(b?.[1])).toBeCloseTo(-1, 2);
  });
});
