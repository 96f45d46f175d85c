/**
 * webgrad lab: a network trained in the page, with live knobs (every one in the URL), per-layer
 * gradient health, activation histograms, the decision boundary of 2-D sets, and one-click presets
 * of the classic vanishing/exploding experiments.
 *
 * Training runs one step per slice and yields to the page between steps, so the knobs stay live.
 * Page options besides the knobs: backend=auto|webgpu|cpu, steps=N (stop there), autostart=1,
 * healthEvery=N (record gradient health every N steps), evalEvery=N, preset=<id>, precompile=0 (no
 * kernel warm-up before a run; for measuring what it changes).
 */
import './style.css';
import { describeCnn, init, precompile, seededPermutation, subset, tensor } from 'webgrad';
import type { BackendName, Dataset, HealthReport } from 'webgrad';
import { PRESETS, fromParams, sameConfig, usesCnn } from './config.js';
import type { LabConfig, Preset, Verdict } from './config.js';
import { LabNet, cnnSpec, verdictOf } from './net.js';
import type { StepResult } from './net.js';
import { toyDataset } from './toy-data.js';
import { loadDigits } from './digits.js';
import { readKnobs, urlFor, watchKnobs, writeKnobs } from './knobs.js';
import { LiveChart } from './views/charts.js';
import { GradientHeatmap } from './views/heatmap.js';
import { drawHistograms } from './views/histograms.js';
import { drawBoundary, BOUNDARY_RANGE, BOUNDARY_SIDE } from './views/boundary.js';
import { renderHealth, clearHealth } from './views/health-table.js';
import { DigitGrid } from './views/digits-grid.js';
import { runBenchmarks, renderBench } from './bench.js';
import type { BenchRow } from './bench.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const option = (name: string, fallback: number): number => {
  const v = Number(params.get(name));
  return params.has(name) && Number.isInteger(v) && v > 0 ? v : fallback;
};

/** What the page has done, for people (the panels) and for the browser tests (window.webgradLab). */
export interface LabState {
  ready: boolean;
  backend: BackendName | null;
  adapter: string | null;
  fallbackReason: string | null;
  config: LabConfig;
  /** The preset last clicked (cleared by any knob change). */
  preset: string | null;
  running: boolean;
  step: number;
  losses: number[];
  test: { step: number; loss: number; accuracy: number }[];
  health: HealthReport | null;
  verdict: Verdict | null;
  /** Steps at which health was recorded (the heat map's columns). */
  healthSteps: number[];
  /** Why training stopped on its own (a non-finite loss), or null. */
  diverged: string | null;
  /** Hidden layers in the last histogram. */
  histogramLayers: number;
  boundaryDrawn: boolean;
  gridCorrect: number | null;
  bench: BenchRow[] | null;
  error: string | null;
  /** Delay from each input event to its handler while training ran (ms), and the long tasks seen. */
  inputDelays: number[];
  longTasks: number[];
  /** Times a configuration was built (knob changes, presets, Reset). */
  builds: number;
  /** The last build's precompile: pipelines compiled ahead of the run (0 on the CPU backend), and how long it took. */
  warmUp: { pipelines: number; dispatchesSkipped: number; ms: number } | null;
}

const state: LabState = {
  ready: false, backend: null, adapter: null, fallbackReason: null, config: fromParams(params), preset: null,
  running: false, step: 0, losses: [], test: [], health: null, verdict: null, healthSteps: [], diverged: null,
  histogramLayers: 0, boundaryDrawn: false, gridCorrect: null, bench: null, error: null, inputDelays: [], longTasks: [], builds: 0, warmUp: null,
};
(window as unknown as { webgradLab: LabState }).webgradLab = state;

const startBtn = $<HTMLButtonElement>('start');
const stopBtn = $<HTMLButtonElement>('stop');
const resetBtn = $<HTMLButtonElement>('reset');
const benchBtn = $<HTMLButtonElement>('bench-run');

function showError(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  state.error = message;
  const el = $('error');
  el.textContent = `Error: ${message}`;
  el.hidden = false;
  console.error(e);
}

const setStatus = (text: string): void => {
  $('status').textContent = text;
};

// ---- backend ------------------------------------------------------------------------------

async function startBackend(): Promise<void> {
  const wanted = (params.get('backend') ?? 'auto') as BackendName | 'auto';
  const hasGpu = 'gpu' in navigator && (navigator as { gpu?: unknown }).gpu !== undefined;
  let why: string;
  if (wanted !== 'cpu' && !hasGpu) {
    await init({ backend: 'cpu' });
    state.fallbackReason = 'this browser does not expose WebGPU (navigator.gpu is missing)';
    why = 'This browser does not offer WebGPU.';
  } else {
    const r = await init({ backend: wanted });
    state.fallbackReason = r.fallbackReason;
    state.adapter = r.adapter;
    why = wanted === 'cpu' ? 'The link asks for the CPU backend.' : 'No WebGPU adapter is available here (the GPU may be blocked or unsupported).';
  }
  state.backend = state.adapter ? 'webgpu' : 'cpu';
  const banner = $('backend');
  const subtitle = $('subtitle');
  if (state.backend === 'webgpu') {
    banner.className = 'backend ok';
    banner.replaceChildren('WebGPU · adapter: ', Object.assign(document.createElement('strong'), { id: 'adapter', textContent: state.adapter }));
    subtitle.textContent = 'A neural network trained in this page on WebGPU compute shaders. Change a knob and watch its gradients.';
  } else {
    // End users get a plain sentence; the technical reason stays in window.webgradLab.fallbackReason.
    banner.className = 'backend fallback';
    banner.replaceChildren(
      Object.assign(document.createElement('strong'), { textContent: 'No WebGPU: training on the CPU backend (slower). ' }),
      Object.assign(document.createElement('span'), { id: 'adapter', textContent: why }),
    );
    subtitle.textContent = 'A neural network trained in this page on webgrad’s CPU backend (WebGPU is not available here). Change a knob and watch its gradients.';
  }
}

// ---- data ---------------------------------------------------------------------------------

let digits: { train: Dataset; test: Dataset } | null = null;
let digitsLoading: Promise<{ train: Dataset; test: Dataset }> | null = null;
let gridSet: Dataset | null = null;
let grid: DigitGrid | null = null;

function getDigits(): Promise<{ train: Dataset; test: Dataset }> {
  digitsLoading ??= loadDigits(new URL('digits.bin', document.baseURI).href).then((d) => {
    digits = d;
    gridSet = subset(d.test, seededPermutation(d.test.n, 7, 0).slice(0, 40), 'grid');
    grid = new DigitGrid($('digits'), gridSet);
    return d;
  });
  return digitsLoading;
}

async function dataFor(c: LabConfig): Promise<{ train: Dataset; test: Dataset }> {
  return c.dataset === 'digits' ? getDigits() : toyDataset(c.dataset, c.seed);
}

/** Mini-batches of one epoch in a seeded order, with the labels kept on the host for accuracy. */
// Shuffles read their own region of the seed's Philox stream (2^40 words in), far from the words
// that initialisation and dropout draw from its start.
function* epochBatches(d: Dataset, batch: number, seed: number, epoch: number, device: BackendName): Generator<{ x: ReturnType<typeof tensor>; y: ReturnType<typeof tensor>; labels: Int32Array }> {
  const order = seededPermutation(d.n, seed, 2 ** 40 + epoch * d.n);
  const size = Math.min(batch, d.n);
  for (let start = 0; start + size <= d.n; start += size) {
    const x = new Float32Array(size * d.features);
    const labels = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const r = order[start + i]!;
      x.set(d.x.subarray(r * d.features, (r + 1) * d.features), i * d.features);
      labels[i] = d.labels[r]!;
    }
    yield { x: tensor(x, { shape: [size, d.features], device }), y: tensor(labels, { shape: [size], device }), labels };
  }
}

// ---- views --------------------------------------------------------------------------------

const lossChart = new LiveChart($('loss-chart'), [
  { label: 'train loss', color: 'rgba(37, 99, 235, 0.35)', width: 1 },
  { label: 'smoothed', color: '#1d4ed8', width: 2 },
  { label: 'test loss', color: '#dc2626', width: 2, points: true },
], { yLabel: 'cross-entropy', log: true });
const accChart = new LiveChart($('acc-chart'), [
  { label: 'train batch (smoothed)', color: '#059669', width: 2 },
  { label: 'test', color: '#dc2626', width: 2, points: true },
], { yLabel: 'accuracy (%)', zoom: [0, 100] });
const heatmap = new GradientHeatmap($<HTMLCanvasElement>('heatmap'), $('heat-legend'));
(window as unknown as { webgradLabViews: unknown }).webgradLabViews = { lossChart, accChart, heatmap };

let lastActivations: Float32Array[] | null = null;
let lastActivationStep: number | null = null;
let lastBoundary: Float32Array | null = null;

function drawDataPanel(): void {
  const toy = state.config.dataset !== 'digits';
  $('data-heading').textContent = toy ? 'Decision boundary' : 'Test digits';
  $('boundary').hidden = !toy;
  $('boundary-note').hidden = !toy;
  $('digits').hidden = toy;
  $('digits-score').hidden = toy;
  if (toy) drawBoundary($<HTMLCanvasElement>('boundary'), lastBoundary, train?.train ?? null);
}

/** The CNN's blocks use ReLU whatever the Activation knob says. */
const histogramActivation = (): LabConfig['activation'] => (usesCnn(state.config) ? 'relu' : state.config.activation);

function redrawCanvases(): void {
  drawHistograms($<HTMLCanvasElement>('histograms'), histogramActivation(), lastActivations, lastActivationStep);
  heatmap.draw();
  drawDataPanel();
}
let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(redrawCanvases, 100);
});

/** Every panel back to its empty state: nothing of the previous run stays on screen. */
function clearViews(): void {
  state.step = 0;
  state.losses = [];
  state.test = [];
  state.health = null;
  state.verdict = null;
  state.healthSteps = [];
  state.diverged = null;
  state.histogramLayers = 0;
  state.boundaryDrawn = false;
  state.gridCorrect = null;
  lastActivations = null;
  lastActivationStep = null;
  lastBoundary = null;
  lossEma = null;
  accEma = null;
  lossChart.clear();
  accChart.clear();
  heatmap.clear();
  clearHealth($('health'), $('health-verdict'));
  grid?.clear();
  const score = $('digits-score');
  score.textContent = 'not evaluated';
  score.className = 'badge';
  $('stat-step').textContent = '0';
  for (const id of ['stat-loss', 'stat-acc', 'stat-speed']) $(id).textContent = '–';
  redrawCanvases();
}

// ---- training -----------------------------------------------------------------------------

let net: LabNet | null = null;
let train: { train: Dataset; test: Dataset } | null = null;
let batchIter: ReturnType<typeof epochBatches> | null = null;
let epoch = 0;
let loop: Promise<void> | null = null;
let stopRequested = false;
let stopAt = option('steps', Number.POSITIVE_INFINITY);
let lossEma: number | null = null;
let accEma: number | null = null;

function describe(c: LabConfig, d: Dataset): string {
  const opt = c.optimizer === 'adam' ? 'Adam' : c.optimizer === 'momentum' ? 'SGD + momentum' : 'SGD';
  const init = c.init === 'naive' ? `naive N(0, ${c.sigma}²)` : c.init === 'he' ? 'He' : 'Xavier';
  const extras = [c.batchNorm ? 'batch norm' : '', c.dropout > 0 ? `dropout ${c.dropout}` : '',
    c.clip !== 'off' ? `clip by ${c.clip} ${c.clipAt}` : '', c.l1 > 0 ? `L1 ${c.l1}` : '', c.l2 > 0 ? `L2 ${c.l2}` : ''].filter(Boolean);
  if (usesCnn(c)) {
    const cnn = `${describeCnn(cnnSpec(c, d.features, d.classes))}${extras.filter((e) => !e.startsWith('batch norm') && !e.startsWith('dropout')).map((e) => `, ${e}`).join('')}`;
    return `${cnn}; ${opt} lr ${c.lr}, batch ${c.batch}. ${d.n} training digits.`;
  }
  return `${d.features}-${Array.from({ length: c.depth }, () => c.width).join('-')}-${d.classes} MLP, ${c.activation}, ${init} init${extras.length ? `, ${extras.join(', ')}` : ''}; ${opt} lr ${c.lr}, batch ${c.batch}. ${d.n} training ${c.dataset === 'digits' ? 'digits' : 'points'}.`;
}

/** A fresh network for the current configuration, with every view emptied. */
async function rebuild(): Promise<void> {
  net?.dispose();
  net = null;
  const c = state.config;
  train = await dataFor(c);
  batchIter = null;
  epoch = 0;
  clearViews();
  net = new LabNet(c, train.train.features, train.train.classes, state.backend!);
  state.builds++;
  $('model').textContent = describe(c, train.train);
  await warmUp(c, train);
}

/** The row counts the page evaluates at (test chunks of 500, the digit grid or the boundary grid): kernels may depend on them. */
function evalRows(c: LabConfig, d: { train: Dataset; test: Dataset }): number[] {
  const rows: number[] = [];
  for (let start = 0; start < d.test.n; start += 500) rows.push(Math.min(500, d.test.n - start));
  rows.push(c.dataset === 'digits' ? (gridSet?.n ?? 0) : BOUNDARY_SIDE * BOUNDARY_SIDE);
  return rows;
}

/**
 * Compiles every GPU pipeline the run will need before it starts, without blocking the page: the
 * construction, one step (with its health record) and the evaluations of a throwaway copy of the
 * network each run under `precompile`, which creates the pipelines asynchronously and runs none of
 * the kernels. The parts run as separate tasks (the page can handle input between them) and compile
 * together. The copy is thrown away because precompile does not roll back host-side state (the
 * optimizer's step count). On the CPU backend there is nothing to compile and precompile calls
 * nothing.
 */
async function warmUp(c: LabConfig, d: { train: Dataset; test: Dataset }): Promise<void> {
  state.warmUp = null;
  // precompile=0 turns it off, to measure the difference (test/browser/lab-warmup-cnn.test.ts).
  if (params.get('precompile') === '0') return;
  const t0 = performance.now();
  if (state.backend === 'webgpu') setStatus('Compiling the GPU kernels of this configuration…');
  const device = state.backend!;
  const holder: { copy: LabNet | null } = { copy: null };
  const parts: (() => void)[] = [
    () => {
      holder.copy = new LabNet(c, d.train.features, d.train.classes, device);
    },
    () => holder.copy?.warmUpStep(Math.min(c.batch, d.train.n)),
    ...[...new Set(evalRows(c, d))].map((rows) => () => holder.copy?.warmUpEval(rows)),
  ];
  const compiled: ReturnType<typeof precompile>[] = [];
  try {
    for (const part of parts) {
      compiled.push(precompile(part, { device }));
      await yieldToPage();
    }
  } finally {
    holder.copy?.dispose();
  }
  const results = await Promise.all(compiled);
  state.warmUp = {
    pipelines: results.reduce((n, r) => n + r.pipelines, 0),
    dispatchesSkipped: results.reduce((n, r) => n + r.dispatchesSkipped, 0),
    ms: performance.now() - t0,
  };
}

function nextBatch(): { x: ReturnType<typeof tensor>; y: ReturnType<typeof tensor>; labels: Int32Array } {
  for (;;) {
    batchIter ??= epochBatches(train!.train, state.config.batch, state.config.seed, epoch, state.backend!);
    const n = batchIter.next();
    if (!n.done) return n.value;
    batchIter = null;
    epoch++;
  }
}

const healthEvery = (): number => option('healthEvery', state.config.dataset === 'digits' ? 5 : 1);
const evalEvery = (): number => option('evalEvery', state.config.dataset === 'digits' ? 50 : 10);

function showStep(r: StepResult): void {
  state.step = r.step;
  state.losses.push(r.loss);
  if (Number.isFinite(r.loss)) lossEma = lossEma === null ? r.loss : 0.9 * lossEma + 0.1 * r.loss;
  if (Number.isFinite(r.accuracy)) accEma = accEma === null ? r.accuracy : 0.9 * accEma + 0.1 * r.accuracy;
  lossChart.push(r.step, [r.loss, lossEma, null]);
  accChart.push(r.step, [accEma === null ? null : 100 * accEma, null]);
  $('stat-step').textContent = String(r.step);
  $('stat-loss').textContent = Number.isFinite(r.loss) ? (lossEma ?? r.loss).toPrecision(4) : String(r.loss);
  if (r.health) {
    state.health = r.health;
    state.verdict = verdictOf(r.health);
    state.healthSteps.push(r.step);
    heatmap.push(r.health);
    renderHealth($('health'), $('health-verdict'), r.health);
  }
  if (r.activations) {
    lastActivations = r.activations;
    lastActivationStep = r.step;
    state.histogramLayers = r.activations.length;
    drawHistograms($<HTMLCanvasElement>('histograms'), histogramActivation(), r.activations, r.step);
  }
}

async function evaluate(n: LabNet): Promise<void> {
  const d = train!;
  const r = await n.evaluate(d.test);
  state.test.push({ step: state.step, loss: r.loss, accuracy: r.accuracy });
  lossChart.push(state.step, [null, null, r.loss]);
  accChart.push(state.step, [null, 100 * r.accuracy]);
  $('stat-acc').textContent = `${(100 * r.accuracy).toFixed(1)}%`;
  if (state.config.dataset === 'digits' && gridSet && grid) {
    const g = await n.evaluate(gridSet);
    state.gridCorrect = grid.show(g.predicted);
    const score = $('digits-score');
    score.textContent = `${state.gridCorrect}/${gridSet.n} right`;
    score.className = `badge ${state.gridCorrect >= 0.9 * gridSet.n ? 'good' : 'neutral'}`;
  } else {
    lastBoundary = await n.boundary(BOUNDARY_SIDE, BOUNDARY_RANGE[0], BOUNDARY_RANGE[1]);
    state.boundaryDrawn = true;
    drawDataPanel();
  }
}

/** Lets the page handle input and paint; training continues in the next slice. */
const yieldToPage = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

async function trainLoop(): Promise<void> {
  state.running = true;
  stopRequested = false;
  setButtons();
  let lastEval = state.step;
  let windowStart = performance.now();
  let windowSteps = 0;
  try {
    if (!net) await rebuild();
    const n = net!;
    while (!stopRequested && state.step < stopAt && !state.diverged) {
      const b = nextBatch();
      const step = state.step + 1;
      const record = step === 1 || step % healthEvery() === 0 || step === stopAt;
      let r: StepResult;
      try {
        r = await n.trainStep(b.x, b.y, b.labels, { health: record, activations: record });
      } finally {
        b.x.dispose();
        b.y.dispose();
      }
      showStep(r);
      windowSteps++;
      const elapsed = performance.now() - windowStart;
      if (elapsed > 1000) {
        $('stat-speed').textContent = ((1000 * windowSteps) / elapsed).toFixed(1);
        windowStart = performance.now();
        windowSteps = 0;
      }
      if (!Number.isFinite(r.loss)) {
        state.diverged = `the loss became ${r.loss} at step ${r.step}`;
        setStatus(`Diverged at step ${r.step}: the loss is ${r.loss}. Lower the learning rate or turn on clipping.`);
        break;
      }
      setStatus(`Training… step ${state.step}`);
      if (state.step - lastEval >= evalEvery()) {
        await evaluate(n);
        lastEval = state.step;
      }
      await yieldToPage();
    }
    if (!state.diverged) {
      if (state.step > lastEval || state.test.length === 0) await evaluate(n);
      setStatus(stopRequested ? `Stopped after step ${state.step}.` : `Done: ${state.step} steps.`);
    }
  } catch (e) {
    showError(e);
    setStatus('Stopped by an error.');
  } finally {
    state.running = false;
    setButtons();
  }
}

function run(): Promise<void> {
  if (!loop) {
    if (state.step >= stopAt) stopAt = Number.POSITIVE_INFINITY;
    loop = trainLoop().finally(() => {
      loop = null;
    });
  }
  return loop;
}

/** Stops the run (after its current step) and waits for it. */
async function halt(): Promise<void> {
  stopRequested = true;
  await loop;
}

// Configuration changes are applied one after another, in the order they were made.
let applying: Promise<void> = Promise.resolve();

/** Sets a configuration: URL and knobs at once; the network is rebuilt and, if it was training (or `start`), restarted. */
function applyConfig(next: LabConfig, opts: { start?: boolean; steps?: number; preset?: string | null } = {}): Promise<void> {
  const wasRunning = state.running;
  state.config = next;
  state.preset = opts.preset ?? null;
  writeKnobs(next);
  const url = new URL(urlFor(next, location.href));
  // A preset link names the preset; once a knob moves away from it, the link holds only the knobs.
  if (opts.preset) url.searchParams.set('preset', opts.preset);
  else url.searchParams.delete('preset');
  history.replaceState(null, '', url);
  setStatus(wasRunning ? 'Restarting with the new settings…' : 'Rebuilding…');
  applying = applying.then(async () => {
    await halt();
    if (!sameConfig(next, state.config)) return; // a later change supersedes this one
    stopAt = opts.steps ?? option('steps', Number.POSITIVE_INFINITY);
    try {
      await rebuild();
    } catch (e) {
      showError(e);
      return;
    }
    setButtons();
    if (opts.start ?? wasRunning) void run();
    else setStatus('Ready. Press Start.');
  });
  return applying;
}

function setButtons(): void {
  const busy = state.running || benchRunning;
  startBtn.disabled = !state.ready || busy;
  startBtn.textContent = state.step > 0 ? 'Continue' : 'Start';
  stopBtn.disabled = !state.running;
  resetBtn.disabled = !state.ready || benchRunning;
  benchBtn.disabled = !state.ready || busy;
}

function showPreset(p: Preset | null): void {
  const watch = $('watch');
  watch.hidden = p === null;
  if (p) watch.replaceChildren(Object.assign(document.createElement('strong'), { textContent: `${p.title}. ` }), p.watch);
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('button.preset'))) b.setAttribute('aria-pressed', String(b.dataset.preset === p?.id));
}

watchKnobs($<HTMLFormElement>('knobs'), () => state.config, (c) => {
  showPreset(null);
  void applyConfig(c);
});
for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('button.preset'))) {
  b.addEventListener('click', () => {
    const p = PRESETS.find((x) => x.id === b.dataset.preset)!;
    showPreset(p);
    void applyConfig({ ...p.config }, { start: true, steps: p.steps, preset: p.id });
  });
}
startBtn.addEventListener('click', () => void run());
stopBtn.addEventListener('click', () => {
  stopRequested = true;
  setStatus('Stopping after this step…');
});
resetBtn.addEventListener('click', () => {
  // Reset stops: the same configuration (and preset, with its step bound), freshly initialised, not started.
  const preset = PRESETS.find((p) => p.id === state.preset);
  void applyConfig(readKnobs(state.config), { start: false, preset: preset?.id ?? null, ...(preset ? { steps: preset.steps } : {}) })
    .then(() => setStatus('Reset: a freshly initialised network. Press Start.'));
});
$('copy-link').addEventListener('click', () => {
  const shown = (): void => setStatus(`Link to this experiment: ${location.href}`);
  if (navigator.clipboard) navigator.clipboard.writeText(location.href).then(() => setStatus('Link copied.'), shown);
  else shown();
});

// Responsiveness, measured rather than assumed: input-to-handler delay and long tasks while training.
for (const type of ['pointerdown', 'keydown', 'input', 'change', 'click'] as const) {
  document.addEventListener(type, (e) => {
    if (state.running) state.inputDelays.push(performance.now() - e.timeStamp);
  }, { capture: true });
}
try {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) if (state.running) state.longTasks.push(entry.duration);
  }).observe({ type: 'longtask', buffered: false });
} catch {
  // longtask entries are not supported everywhere; the delays above still are.
}

// ---- benchmarks ---------------------------------------------------------------------------

let benchRunning = false;
benchBtn.addEventListener('click', async () => {
  if (benchRunning || state.running) return;
  benchRunning = true;
  setButtons();
  const devices: BackendName[] = state.backend === 'webgpu' ? ['webgpu', 'cpu'] : ['cpu'];
  try {
    const d = await getDigits();
    const model = { inputs: 784, hidden: [256, 128], outputs: 10, activation: 'relu', batchNorm: true, dropout: 0.2, init: 'he' } as const;
    const cfg = { epochs: 1, batchSize: 64, lr: 1e-3, optimizer: 'adam', momentum: 0, weightDecay: 0, seed: 1, model } as const;
    state.bench = await runBenchmarks(devices, { ...cfg, model: { ...model, hidden: [...model.hidden] } }, d.train, (rows, what) => renderBench($('bench'), rows, devices, what));
  } catch (e) {
    showError(e);
  } finally {
    benchRunning = false;
    setButtons();
  }
});

// ---- start --------------------------------------------------------------------------------

async function main(): Promise<void> {
  writeKnobs(state.config);
  drawDataPanel();
  await startBackend();
  const preset = PRESETS.find((p) => p.id === params.get('preset')) ?? null;
  if (preset) {
    showPreset(preset);
    state.config = { ...preset.config };
    state.preset = preset.id;
    writeKnobs(state.config);
    if (!params.has('steps')) stopAt = preset.steps;
  }
  history.replaceState(null, '', urlFor(state.config, location.href));
  await rebuild();
  state.ready = true;
  setButtons();
  setStatus('Ready. Press Start, or try a preset.');
  if (params.get('autostart') === '1') void run();
}

main().catch(showError);
