/**
 * The benchmark panel: matmul GFLOP/s at 256 and 512 and one training step of the MNIST MLP, on
 * each backend in use. Every timed run ends with a readback, so queued GPU work is inside the time.
 */
import { randn, matmul, crossEntropy, tidy, Trainer, batches } from 'webgrad';
import type { BackendName, Dataset, Tensor, TrainConfig } from 'webgrad';

export interface BenchResult {
  /** Median milliseconds of one operation. */
  ms: number;
  /** The workload's rate: GFLOP/s for matmul, examples/s for the training step. */
  rate: number;
  runs: number;
}

export interface BenchRow {
  workload: string;
  unit: string;
  results: Partial<Record<BackendName, BenchResult>>;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** One warm-up, then timed runs until about `budgetMs` have passed (at least 3, at most 15). */
async function measure(run: () => Promise<void>, budgetMs = 600): Promise<{ ms: number; runs: number }> {
  await run();
  const times: number[] = [];
  const started = performance.now();
  while (times.length < 3 || (times.length < 15 && performance.now() - started < budgetMs)) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), runs: times.length };
}

async function matmulBench(n: number, device: BackendName): Promise<BenchResult> {
  const a = randn([n, n], { device, seed: 1 });
  const b = randn([n, n], { device, seed: 2 });
  try {
    const { ms, runs } = await measure(async () => {
      const c = matmul(a, b);
      await c.data();
      c.dispose();
    });
    return { ms, rate: (2 * n * n * n) / (ms * 1e6), runs };
  } finally {
    a.dispose();
    b.dispose();
  }
}

async function trainStepBench(config: TrainConfig, data: Dataset, device: BackendName): Promise<BenchResult> {
  const trainer = new Trainer(config, { train: data, test: data }, device);
  const first = batches(data, 0, { batchSize: config.batchSize, shuffle: false, seed: 0, device }).next();
  if (first.done) throw new Error('bench: not enough data for one batch');
  const { x, y } = first.value;
  try {
    const { ms, runs } = await measure(async () => {
      const loss: Tensor = tidy(() => {
        const l = crossEntropy(trainer.model.forward(x), y);
        l.backward();
        trainer.optimizer.step();
        return l.detach();
      });
      trainer.optimizer.zeroGrad();
      await loss.data();
      loss.dispose();
    });
    return { ms, rate: config.batchSize / (ms / 1000), runs };
  } finally {
    x.dispose();
    y.dispose();
    trainer.dispose();
  }
}

/** Runs every workload on every device, calling `onProgress` after each measurement. */
export async function runBenchmarks(
  devices: BackendName[], config: TrainConfig, data: Dataset, onProgress: (rows: BenchRow[], what: string) => void,
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [
    { workload: 'matmul 256×256×256', unit: 'GFLOP/s', results: {} },
    { workload: 'matmul 512×512×512', unit: 'GFLOP/s', results: {} },
    { workload: `MLP training step (batch ${config.batchSize})`, unit: 'examples/s', results: {} },
  ];
  for (const device of devices) {
    for (const [i, n] of [[0, 256], [1, 512]] as const) {
      onProgress(rows, `${rows[i]!.workload} on ${device}…`);
      rows[i]!.results[device] = await matmulBench(n, device);
    }
    onProgress(rows, `${rows[2]!.workload} on ${device}…`);
    rows[2]!.results[device] = await trainStepBench(config, data, device);
  }
  onProgress(rows, 'done');
  return rows;
}

export function renderBench(root: HTMLElement, rows: BenchRow[], devices: BackendName[], status: string): void {
  const table = document.createElement('table');
  table.className = 'bench-table';
  const head = table.createTHead().insertRow();
  const names: Record<BackendName, string> = { webgpu: 'WebGPU', cpu: 'CPU backend' };
  for (const h of ['workload', ...devices.map((d) => names[d]), ...(devices.length > 1 ? ['WebGPU ÷ CPU'] : [])]) {
    const th = document.createElement('th');
    th.textContent = h;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const r of rows) {
    const tr = body.insertRow();
    tr.insertCell().textContent = r.workload;
    for (const d of devices) {
      const res = r.results[d];
      const td = tr.insertCell();
      td.className = 'num';
      td.textContent = res ? `${res.rate >= 100 ? res.rate.toFixed(0) : res.rate.toFixed(2)} ${r.unit} (${res.ms.toFixed(1)} ms)` : '…';
    }
    if (devices.length > 1) {
      const g = r.results.webgpu;
      const c = r.results.cpu;
      const td = tr.insertCell();
      td.className = 'num';
      td.textContent = g && c ? `${(g.rate / c.rate).toFixed(1)}×` : '…';
    }
  }
  const note = document.createElement('p');
  note.className = 'muted small';
  note.textContent = status === 'done' ? 'Done. Timings vary with the adapter: a software adapter (SwiftShader) is far slower than a GPU.' : `Running ${status}`;
  root.replaceChildren(table, note);
}
