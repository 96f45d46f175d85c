/**
 * The lab's whole configuration, its URL form and the one-click presets. Pure (no DOM, no webgrad),
 * so the URL round trip is testable anywhere: `toParams(fromParams(p))` keeps every knob, and a
 * value out of range falls back to its default instead of breaking the page.
 */

export const ACTIVATIONS = ['sigmoid', 'tanh', 'relu', 'relu6', 'leakyRelu', 'gelu'] as const;
export const INITS = ['naive', 'xavier', 'he'] as const;
export const CLIPS = ['off', 'norm', 'value'] as const;
export const OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;
export const DATASETS = ['spiral', 'circles', 'xor', 'digits'] as const;
/** The network: the knob-built MLP, or (digits only) the CNN of `webgrad train --model cnn`. */
export const MODELS = ['mlp', 'cnn'] as const;

export type LabActivation = (typeof ACTIVATIONS)[number];
export type LabInit = (typeof INITS)[number];
export type LabClip = (typeof CLIPS)[number];
export type LabOptimizer = (typeof OPTIMIZERS)[number];
export type LabDataset = (typeof DATASETS)[number];
export type LabModel = (typeof MODELS)[number];

export interface LabConfig {
  dataset: LabDataset;
  /** 'cnn' applies to the digits only; on a 2-D set the MLP is trained whatever this says. */
  model: LabModel;
  activation: LabActivation;
  init: LabInit;
  /** Standard deviation of the naive N(0, σ²) initialisation. */
  sigma: number;
  /** Hidden layers. */
  depth: number;
  width: number;
  batchNorm: boolean;
  /** Probability of zeroing a hidden unit in training. */
  dropout: number;
  clip: LabClip;
  /** Max global norm (clip = norm) or max |g| (clip = value). */
  clipAt: number;
  l1: number;
  l2: number;
  lr: number;
  optimizer: LabOptimizer;
  batch: number;
  seed: number;
}

export const DEFAULTS: Readonly<LabConfig> = {
  dataset: 'spiral', model: 'mlp', activation: 'relu', init: 'he', sigma: 0.1, depth: 4, width: 16, batchNorm: false, dropout: 0,
  clip: 'off', clipAt: 1, l1: 0, l2: 0, lr: 0.01, optimizer: 'adam', batch: 64, seed: 1,
};

export const LIMITS = {
  depth: [1, 20], width: [2, 256], dropout: [0, 0.9], sigma: [1e-6, 10], clipAt: [1e-6, 1e6],
  l1: [0, 1], l2: [0, 1], lr: [1e-6, 100], batch: [2, 512], seed: [0, 2 ** 31 - 1],
} as const;

/** URL parameter of each knob (short, stable: a link written today must work tomorrow). */
export const URL_KEYS: Record<keyof LabConfig, string> = {
  dataset: 'data', model: 'model', activation: 'act', init: 'init', sigma: 'sigma', depth: 'depth', width: 'width', batchNorm: 'bn',
  dropout: 'dropout', clip: 'clip', clipAt: 'clipAt', l1: 'l1', l2: 'l2', lr: 'lr', optimizer: 'opt', batch: 'batch', seed: 'seed',
};

const INTEGER_KEYS = new Set<keyof LabConfig>(['depth', 'width', 'batch', 'seed']);

function pick<T extends string>(options: readonly T[], value: string | null, fallback: T): T {
  return value !== null && (options as readonly string[]).includes(value) ? (value as T) : fallback;
}

function number(key: keyof typeof LIMITS, value: string | null, fallback: number, integer: boolean): number {
  if (value === null || value.trim() === '') return fallback;
  const v = Number(value);
  const [lo, hi] = LIMITS[key];
  if (!Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v))) return fallback;
  return v;
}

/** Reads a configuration from URL parameters; anything missing or invalid takes its default. */
export function fromParams(p: URLSearchParams, base: LabConfig = DEFAULTS): LabConfig {
  const get = (k: keyof LabConfig): string | null => p.get(URL_KEYS[k]);
  const num = (k: keyof typeof LIMITS & keyof LabConfig): number => number(k, get(k), base[k] as number, INTEGER_KEYS.has(k));
  return {
    dataset: pick(DATASETS, get('dataset'), base.dataset),
    model: pick(MODELS, get('model'), base.model),
    activation: pick(ACTIVATIONS, get('activation'), base.activation),
    init: pick(INITS, get('init'), base.init),
    sigma: num('sigma'),
    depth: num('depth'),
    width: num('width'),
    batchNorm: get('batchNorm') === null ? base.batchNorm : get('batchNorm') === '1',
    dropout: num('dropout'),
    clip: pick(CLIPS, get('clip'), base.clip),
    clipAt: num('clipAt'),
    l1: num('l1'),
    l2: num('l2'),
    lr: num('lr'),
    optimizer: pick(OPTIMIZERS, get('optimizer'), base.optimizer),
    batch: num('batch'),
    seed: num('seed'),
  };
}

/** Writes every knob into `p` (other parameters, such as backend, are left alone). */
export function toParams(c: LabConfig, p: URLSearchParams = new URLSearchParams()): URLSearchParams {
  for (const key of Object.keys(URL_KEYS) as (keyof LabConfig)[]) {
    const v = c[key];
    p.set(URL_KEYS[key], typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  }
  return p;
}

export function sameConfig(a: LabConfig, b: LabConfig): boolean {
  return (Object.keys(URL_KEYS) as (keyof LabConfig)[]).every((k) => a[k] === b[k]);
}

/** True when this configuration trains the CNN (the digits with model = cnn). */
export function usesCnn(c: LabConfig): boolean {
  return c.model === 'cnn' && c.dataset === 'digits';
}

export type Verdict = 'healthy' | 'vanishing' | 'exploding';

export interface Preset {
  id: string;
  title: string;
  /** What to look at while it runs. */
  watch: string;
  config: LabConfig;
  /** The run stops here; the preset's verdict shows within these steps. */
  steps: number;
  expect: Verdict;
}

const deep = { dataset: 'spiral', depth: 12, width: 16, dropout: 0, l1: 0, l2: 0, batch: 64, seed: 1, sigma: 0.1, clipAt: 1 } as const;

export const PRESETS: readonly Preset[] = [
  {
    id: 'vanishing', title: 'Sigmoid, naive init, 12 layers → vanishing',
    watch: 'Watch the heat map: every layer is darker than the one after it, and the first layer gets almost no gradient; the histograms sit at σ = ½ and the loss stays flat.',
    config: { ...DEFAULTS, ...deep, activation: 'sigmoid', init: 'naive', batchNorm: false, clip: 'off', optimizer: 'sgd', lr: 0.1 },
    steps: 10, expect: 'vanishing',
  },
  {
    id: 'healthy', title: 'ReLU, He init, batch norm → healthy',
    watch: 'Watch the heat map: one even band across all 13 layers; the first-to-last ratio stays near 1 and the loss falls.',
    config: { ...DEFAULTS, ...deep, activation: 'relu', init: 'he', batchNorm: true, clip: 'off', optimizer: 'adam', lr: 0.01 },
    steps: 10, expect: 'healthy',
  },
  {
    id: 'exploding', title: 'No clipping, large learning rate → exploding',
    watch: 'Plain SGD at lr 30: the first step overshoots, the weight norms and update ratios jump by orders of magnitude, the loss shoots up, and within a few steps the gradients overflow to Inf/NaN (red in the heat map).',
    config: { ...DEFAULTS, ...deep, activation: 'relu', init: 'he', batchNorm: false, clip: 'off', optimizer: 'sgd', lr: 30 },
    steps: 10, expect: 'exploding',
  },
  {
    id: 'clipped', title: 'The same with clipping (global norm ≤ 0.01)',
    watch: 'The same network and learning rate, but the gradient is rescaled to a global norm of at most 0.01, so no step is longer than lr × 0.01 = 0.3: the weight norms stay put, the gradients stay finite and the verdict does not turn to exploding.',
    config: { ...DEFAULTS, ...deep, activation: 'relu', init: 'he', batchNorm: false, clip: 'norm', clipAt: 0.01, optimizer: 'sgd', lr: 30 },
    steps: 12, expect: 'healthy',
  },
];
