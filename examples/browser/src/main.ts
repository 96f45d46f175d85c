/**
 * The browser demo: trains the MNIST MLP (784-256-128-10, batch norm, dropout 0.2, Adam) on WebGPU,
 * or on the CPU backend when WebGPU is missing, with live charts, gradient health, predictions on
 * test digits and a benchmark panel.
 *
 * URL options (for people and for the browser test): backend=auto|webgpu|cpu, batch=N, lr=X,
 * seed=N, steps=N (stop after N steps), autostart=1, evalEvery=N, healthEvery=N.
 */
import './style.css';
import {
  init, Trainer, batches, crossEntropy, tidy, subset, seededPermutation, describeMlp,
} from 'webgrad';
import type { BackendName, Dataset, HealthReport, MlpSpec, Tensor, TrainConfig, Batch } from 'webgrad';
import { loadDigits } from './digits.js';
import { LiveChart } from './charts.js';
import { renderHealth } from './health-panel.js';
import { DigitGrid } from './digits-grid.js';
import { runBenchmarks, renderBench } from './bench.js';
import type { BenchRow } from './bench.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const num = (name: string, fallback: number): number => {
  const v = Number(params.get(name));
  return params.has(name) && Number.isFinite(v) && v > 0 ? v : fallback;
};

const MODEL: MlpSpec = { inputs: 784, hidden: [256, 128], outputs: 10, activation: 'relu', batchNorm: true, dropout: 0.2, init: 'he' };
const GRID_DIGITS = 40;

/** What the page has done, for people (the panels) and for the browser test (window.webgradDemo). */
export interface DemoState {
  ready: boolean;
  backend: BackendName | null;
  adapter: string | null;
  fallbackReason: string | null;
  running: boolean;
  step: number;
  epoch: number;
  /** Training loss of each step. */
  losses: number[];
  test: { step: number; loss: number; accuracy: number }[];
  health: HealthReport | null;
  gridCorrect: number | null;
  bench: BenchRow[] | null;
  error: string | null;
}

const state: DemoState = {
  ready: false, backend: null, adapter: null, fallbackReason: null, running: false, step: 0, epoch: 0,
  losses: [], test: [], health: null, gridCorrect: null, bench: null, error: null,
};
(window as unknown as { webgradDemo: DemoState }).webgradDemo = state;

const startBtn = $<HTMLButtonElement>('start');
const stopBtn = $<HTMLButtonElement>('stop');
const resetBtn = $<HTMLButtonElement>('reset');
const benchBtn = $<HTMLButtonElement>('bench-run');
const batchSel = $<HTMLSelectElement>('batch');
const lrSel = $<HTMLSelectElement>('lr');
if (params.has('batch')) selectValue(batchSel, String(num('batch', 128)));
if (params.has('lr')) selectValue(lrSel, String(num('lr', 0.001)));

function selectValue(sel: HTMLSelectElement, value: string): void {
  if (!Array.from(sel.options).some((o) => o.value === value)) sel.add(new Option(value, value));
  sel.value = value;
}

function showError(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  state.error = message;
  const el = $('error');
  el.textContent = `Error: ${message}`;
  el.hidden = false;
  console.error(e);
}

function setStatus(text: string): void {
  $('status').textContent = text;
}

// ---- backend ------------------------------------------------------------------------------

async function startBackend(): Promise<void> {
  const wanted = (params.get('backend') ?? 'auto') as BackendName | 'auto';
  const banner = $('backend');
  const hasGpu = 'gpu' in navigator && (navigator as { gpu?: unknown }).gpu !== undefined;
  if (wanted !== 'cpu' && !hasGpu) {
    // No WebGPU in this browser at all: say so plainly rather than as an adapter failure.
    await init({ backend: 'cpu' });
    state.fallbackReason = 'this browser does not expose WebGPU (navigator.gpu is missing)';
  } else {
    const r = await init({ backend: wanted });
    state.fallbackReason = r.fallbackReason;
    state.adapter = r.adapter;
  }
  state.backend = state.adapter ? 'webgpu' : 'cpu';
  if (state.backend === 'webgpu') {
    banner.className = 'backend ok';
    banner.replaceChildren('WebGPU · adapter: ', Object.assign(document.createElement('strong'), { id: 'adapter', textContent: state.adapter }));
  } else {
    banner.className = 'backend fallback';
    const why = wanted === 'cpu' ? 'the CPU backend was requested (?backend=cpu)' : state.fallbackReason ?? 'unknown reason';
    banner.replaceChildren(
      Object.assign(document.createElement('strong'), { textContent: 'No WebGPU: training on the CPU backend (slow). ' }),
      Object.assign(document.createElement('span'), { id: 'adapter', textContent: `Reason: ${why}` }),
    );
  }
}

// ---- training -----------------------------------------------------------------------------

let data: { train: Dataset; test: Dataset } | null = null;
let grid: DigitGrid | null = null;
let gridSet: Dataset | null = null;
let trainer: Trainer | null = null;
let epochBatches: Generator<Batch> | null = null;
let stopRequested = false;
let stopAt = Number.POSITIVE_INFINITY;

const lossChart = new LiveChart($('loss-chart'), [
  { label: 'train loss', color: 'rgba(37, 99, 235, 0.35)', width: 1 },
  { label: 'train (smoothed)', color: '#1d4ed8', width: 2 },
  { label: 'test loss', color: '#dc2626', width: 2, points: true },
], { yLabel: 'cross-entropy' });
const accChart = new LiveChart($('acc-chart'), [
  { label: 'train batch (smoothed)', color: '#059669', width: 2 },
  { label: 'test', color: '#dc2626', width: 2, points: true },
], { yLabel: 'accuracy (%)', yRange: [0, 100] });
let lossEma: number | null = null;
let accEma: number | null = null;

function config(): TrainConfig {
  return {
    epochs: 1_000_000, batchSize: Number(batchSel.value), lr: Number(lrSel.value), optimizer: 'adam', momentum: 0,
    weightDecay: 0, seed: num('seed', 1), model: MODEL,
  };
}

function newTrainer(): Trainer {
  trainer?.dispose();
  const t = new Trainer(config(), data!, state.backend!);
  $('model').textContent = `${describeMlp(MODEL)}; Adam, lr ${t.config.lr}, batch ${t.config.batchSize}. ${data!.train.n} training digits, ${data!.test.n} test digits.`;
  epochBatches = null;
  state.step = 0;
  state.epoch = 0;
  state.losses = [];
  state.test = [];
  state.health = null;
  lossEma = null;
  accEma = null;
  lossChart.clear();
  accChart.clear();
  grid?.clear();
  return t;
}

function nextBatch(t: Trainer): Batch {
  for (;;) {
    epochBatches ??= batches(data!.train, state.epoch, { batchSize: t.config.batchSize, shuffle: true, seed: t.config.seed, dropLast: true, device: t.device });
    const n = epochBatches.next();
    if (!n.done) return n.value;
    epochBatches = null;
    state.epoch++;
  }
}

/** Host-side batch accuracy from the logits (read back together with the loss). */
function batchAccuracy(logits: Float32Array | Float64Array | Int32Array | Uint8Array, labels: Int32Array, classes: number): number {
  let correct = 0;
  for (let r = 0; r < labels.length; r++) {
    let best = 0;
    for (let j = 1; j < classes; j++) if (logits[r * classes + j]! > logits[r * classes + best]!) best = j;
    if (best === labels[r]) correct++;
  }
  return correct / labels.length;
}

async function trainStep(t: Trainer): Promise<void> {
  const batch = nextBatch(t);
  const step = state.step + 1;
  const healthEvery = num('healthEvery', 25);
  const recordHealth = step === 1 || step % healthEvery === 0;
  let out: { loss: Tensor; logits: Tensor } | null = null;
  try {
    out = tidy(() => {
      const logits = t.model.forward(batch.x);
      const l = crossEntropy(logits, batch.y);
      l.backward();
      if (recordHealth) t.monitor.snapshot();
      t.optimizer.step();
      return { loss: l.detach(), logits: logits.detach() };
    });
    if (recordHealth) {
      state.health = await t.monitor.record(step, batch.x);
      renderHealth($('health'), $('health-verdict'), state.health);
    }
    t.optimizer.zeroGrad();
    const value = await out.loss.item();
    const acc = batchAccuracy(await out.logits.data(), (await batch.y.data()) as Int32Array, 10);
    if (!Number.isFinite(value)) throw new Error(`the loss became ${value} at step ${step}; press Reset and try a smaller learning rate`);
    state.step = step;
    state.losses.push(value);
    lossEma = lossEma === null ? value : 0.9 * lossEma + 0.1 * value;
    accEma = accEma === null ? acc : 0.9 * accEma + 0.1 * acc;
    lossChart.push(step, [value, lossEma, null]);
    accChart.push(step, [100 * accEma, null]);
    $('stat-step').textContent = String(step);
    $('stat-epoch').textContent = `${state.epoch + 1}`;
    $('stat-loss').textContent = lossEma.toFixed(4);
  } finally {
    out?.loss.dispose();
    out?.logits.dispose();
    batch.x.dispose();
    batch.y.dispose();
  }
}

async function evaluate(t: Trainer): Promise<void> {
  setStatus('Evaluating on the test digits…');
  const r = await t.evaluate(data!.test);
  state.test.push({ step: state.step, loss: r.loss, accuracy: r.accuracy });
  lossChart.push(state.step, [null, null, r.loss]);
  accChart.push(state.step, [null, 100 * r.accuracy]);
  $('stat-acc').textContent = `${(100 * r.accuracy).toFixed(1)}%`;
  const predicted = await t.predict(gridSet!, gridSet!.n);
  state.gridCorrect = grid!.show(predicted);
  const score = $('digits-score');
  score.textContent = `${state.gridCorrect}/${gridSet!.n} right`;
  score.className = `badge ${state.gridCorrect >= 0.9 * gridSet!.n ? 'good' : 'neutral'}`;
}

async function run(): Promise<void> {
  if (state.running || !data) return;
  if (state.step >= stopAt) stopAt = Number.POSITIVE_INFINITY;
  state.running = true;
  stopRequested = false;
  setButtons();
  try {
    trainer ??= newTrainer();
    const t = trainer;
    const evalEvery = num('evalEvery', 100);
    let lastEval = state.step;
    let windowStart = performance.now();
    let windowSteps = 0;
    while (!stopRequested && state.step < stopAt) {
      await trainStep(t);
      windowSteps++;
      const elapsed = performance.now() - windowStart;
      if (elapsed > 1000 || windowSteps === 1) {
        $('stat-speed').textContent = ((windowSteps * t.config.batchSize) / (elapsed / 1000)).toFixed(0);
        if (elapsed > 1000) {
          windowStart = performance.now();
          windowSteps = 0;
        }
      }
      setStatus(`Training… step ${state.step}`);
      if (state.step - lastEval >= evalEvery) {
        await evaluate(t);
        lastEval = state.step;
      }
      // Let the page paint between steps (the CPU backend never yields on its own).
      await new Promise((r) => setTimeout(r, 0));
    }
    if (state.step > lastEval) await evaluate(t);
    setStatus(`Stopped after step ${state.step}.`);
  } catch (e) {
    showError(e);
    setStatus('Stopped by an error.');
  } finally {
    state.running = false;
    setButtons();
  }
}

function setButtons(): void {
  const busy = state.running || benchRunning;
  startBtn.disabled = !data || busy;
  startBtn.textContent = state.step > 0 ? 'Continue' : 'Start';
  stopBtn.disabled = !state.running;
  resetBtn.disabled = !data || busy;
  benchBtn.disabled = !data || busy;
  batchSel.disabled = busy || state.step > 0;
  lrSel.disabled = busy || state.step > 0;
}

startBtn.addEventListener('click', () => void run());
stopBtn.addEventListener('click', () => {
  stopRequested = true;
  stopAt = Number.POSITIVE_INFINITY;
  setStatus('Stopping after this step…');
});
resetBtn.addEventListener('click', () => {
  trainer = newTrainer();
  $('stat-step').textContent = '0';
  $('stat-epoch').textContent = '0';
  for (const id of ['stat-loss', 'stat-acc', 'stat-speed']) $(id).textContent = '–';
  setStatus('Reset: a freshly initialised model.');
  setButtons();
});

// ---- benchmarks ---------------------------------------------------------------------------

let benchRunning = false;
benchBtn.addEventListener('click', async () => {
  if (benchRunning || state.running || !data) return;
  benchRunning = true;
  setButtons();
  const devices: BackendName[] = state.backend === 'webgpu' ? ['webgpu', 'cpu'] : ['cpu'];
  try {
    const cfg = { ...config(), batchSize: 64 };
    state.bench = await runBenchmarks(devices, cfg, data.train, (rows, what) => renderBench($('bench'), rows, devices, what));
  } catch (e) {
    showError(e);
  } finally {
    benchRunning = false;
    setButtons();
  }
});

// ---- start --------------------------------------------------------------------------------

async function main(): Promise<void> {
  await startBackend();
  data = await loadDigits(new URL('digits.bin', document.baseURI).href);
  const pick = seededPermutation(data.test.n, 7, 0).slice(0, GRID_DIGITS);
  gridSet = subset(data.test, pick, 'grid');
  grid = new DigitGrid($('digits'), gridSet);
  trainer = newTrainer();
  state.ready = true;
  setButtons();
  setStatus('Ready. Press Start.');
  if (params.has('steps')) stopAt = num('steps', 10);
  if (params.get('autostart') === '1') void run();
}

main().catch(showError);
