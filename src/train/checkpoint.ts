/**
 * Checkpoints: everything a run needs to continue exactly — model parameters and buffers,
 * optimizer state, the random stream's position, epoch and metrics — in one safetensors file.
 * Tensors are named "model.<name>" and "optim.<key>"; the rest is JSON in the metadata.
 * Loading validates the whole file and the shapes against the model before changing anything.
 */
import type { Tensor } from '../tensor.js';
import { engine } from '../engine.js';
import { tensorsToSafetensors, safetensorsToTensors } from '../io/state-io.js';
import type { Trainer, TrainConfig, EpochMetrics } from './trainer.js';
import { buildOptimizer } from './trainer.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { DType } from '../backend/types.js';
import { zeros } from '../ops/creation.js';
import { WebgradError, shapeStr } from '../errors.js';

export const CHECKPOINT_FORMAT = 'webgrad-checkpoint-1';

export interface CheckpointMeta {
  format: string;
  config: TrainConfig;
  epoch: number;
  history: EpochMetrics[];
  random: { seed: number; offset: number };
  optimizer: { step: number; lr: number };
}

/** JSON has no NaN or Infinity (metrics may hold them): tag them so they survive a round trip. */
function encodeNonFinite(_key: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? { $number: String(v) } : v;
}
function decodeNonFinite(_key: string, v: unknown): unknown {
  return v !== null && typeof v === 'object' && Object.keys(v).length === 1 && typeof (v as { $number?: unknown }).$number === 'string'
    ? Number((v as { $number: string }).$number)
    : v;
}

export async function encodeCheckpoint(trainer: Trainer): Promise<Uint8Array> {
  const tensors = new Map<string, Tensor>();
  for (const [name, t] of trainer.model.stateDict()) tensors.set(`model.${name}`, t);
  const opt = trainer.optimizer.stateDict();
  for (const [key, t] of opt.tensors) tensors.set(`optim.${key}`, t);
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    config: trainer.config,
    epoch: trainer.epoch,
    history: trainer.history,
    random: { seed: engine.seed, offset: engine.randomOffset },
    optimizer: { step: opt.step, lr: opt.lr },
  };
  return tensorsToSafetensors(tensors, { webgrad: JSON.stringify(meta, encodeNonFinite) });
}

/** Reads a checkpoint's metadata (validating the file and every metadata field) without touching any model. */
export function readCheckpointMeta(bytes: Uint8Array, source: string): CheckpointMeta {
  const { tensors, metadata } = safetensorsToTensors(bytes, source, 'cpu');
  for (const t of tensors.values()) t.dispose();
  return parseMeta(metadata, source);
}

const OPTIMIZERS = ['adam', 'sgd'] as const;
const ACTIVATIONS = ['relu', 'relu6', 'sigmoid', 'tanh', 'leakyRelu', 'gelu'] as const;
const INITS = ['default', 'he', 'xavier', 'naive'] as const;

type Check = (v: unknown) => boolean;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isNat: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0;
const isPosInt: Check = (v) => Number.isSafeInteger(v) && (v as number) > 0;
const isFiniteNum: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const oneOf = (list: readonly string[]): Check => (v) => typeof v === 'string' && list.includes(v);

/**
 * Every field the restore (or the CLI) reads, checked for type and range, so a malformed file is
 * refused before anything is changed instead of failing halfway with a TypeError.
 */
function validateMeta(meta: Record<string, unknown>, source: string): void {
  const bad = (field: string, expected: string): never => {
    const value = field.split('.').reduce<unknown>((o, k) => (isObject(o) ? o[k] : undefined), meta);
    throw new WebgradError(`resume: ${source} has malformed webgrad metadata: '${field}' should be ${expected}, got ${JSON.stringify(value) ?? 'nothing'}`);
  };
  const need = (obj: unknown, path: string, fields: Record<string, [Check, string]>): void => {
    if (!isObject(obj)) bad(path, 'an object');
    for (const [k, [ok, expected]] of Object.entries(fields)) if (!ok((obj as Record<string, unknown>)[k])) bad(`${path}.${k}`, expected);
  };
  if (!isNat(meta.epoch)) bad('epoch', 'a non-negative integer');
  if (!Array.isArray(meta.history) || !meta.history.every((h) => isObject(h) && isNat(h.epoch))) bad('history', 'an array of per-epoch metrics');
  need(meta.random, 'random', { seed: [(v) => isNat(v) && (v as number) < 2 ** 53, 'an integer in [0, 2^53)'], offset: [isNat, 'a non-negative integer'] });
  need(meta.optimizer, 'optimizer', { step: [isNat, 'a non-negative integer'], lr: [(v) => isFiniteNum(v) && (v as number) >= 0, 'a non-negative number'] });
  need(meta.config, 'config', {
    epochs: [isPosInt, 'a positive integer'], batchSize: [isPosInt, 'a positive integer'], lr: [(v) => isFiniteNum(v) && (v as number) > 0, 'a positive number'],
    optimizer: [oneOf(OPTIMIZERS), `one of ${OPTIMIZERS.join(', ')}`], momentum: [(v) => isFiniteNum(v) && (v as number) >= 0, 'a non-negative number'],
    weightDecay: [(v) => isFiniteNum(v) && (v as number) >= 0, 'a non-negative number'], seed: [(v) => isNat(v) && (v as number) < 2 ** 53, 'an integer in [0, 2^53)'],
  });
  const model = (meta.config as Record<string, unknown>).model;
  if (isObject(model) && model.kind === 'cnn') {
    need(model, 'config.model', {
      imageSize: [isPosInt, 'a positive integer'], outputs: [isPosInt, 'a positive integer'],
      channels: [(v) => Array.isArray(v) && v.length > 0 && v.every(isPosInt), 'a non-empty array of positive integers'],
      dropout: [(v) => isFiniteNum(v) && (v as number) >= 0 && (v as number) < 1, 'a number in [0, 1)'],
      // Optional (absent in checkpoints from before the augmentation existed).
      shift: [(v) => v === undefined || (isNat(v) && (v as number) < (model.imageSize as number)), 'absent or an integer in [0, imageSize)'],
      // Optional (absent in checkpoints from before the head could have hidden layers).
      hidden: [(v) => v === undefined || (Array.isArray(v) && v.every(isPosInt)), 'absent or an array of positive integers'],
    });
    return;
  }
  need(model, 'config.model', {
    inputs: [isPosInt, 'a positive integer'], outputs: [isPosInt, 'a positive integer'],
    hidden: [(v) => Array.isArray(v) && v.every(isPosInt), 'an array of positive integers'],
    activation: [oneOf(ACTIVATIONS), `one of ${ACTIVATIONS.join(', ')}`], batchNorm: [(v) => typeof v === 'boolean', 'true or false'],
    dropout: [(v) => isFiniteNum(v) && (v as number) >= 0 && (v as number) < 1, 'a number in [0, 1)'], init: [oneOf(INITS), `one of ${INITS.join(', ')}`],
  });
}

function parseMeta(metadata: Record<string, string>, source: string): CheckpointMeta {
  let meta: unknown;
  try {
    meta = JSON.parse(metadata.webgrad ?? 'null', decodeNonFinite);
  } catch {
    throw new WebgradError(`resume: ${source} has unreadable webgrad metadata`);
  }
  if (!isObject(meta) || meta.format !== CHECKPOINT_FORMAT) throw new WebgradError(`resume: ${source} is not a webgrad checkpoint (format ${JSON.stringify(isObject(meta) ? meta.format : undefined)}, expected ${CHECKPOINT_FORMAT})`);
  validateMeta(meta, source);
  return meta as unknown as CheckpointMeta;
}

interface Expected { shape: readonly number[]; dtype: DType }

/**
 * The state entries this trainer's optimizer keeps after a step, learned from the optimizer itself:
 * a throwaway copy (same kind and options) over zero parameters of the same shapes on the CPU takes
 * one step, and its state dict lists every entry with its shape and dtype. Nothing here hard-codes
 * the state names (exp_avg, momentum_buffer, ...), so a renamed or new entry is checked the same way.
 */
function expectedOptimizerState(trainer: Trainer): Map<string, Expected> {
  const params = trainer.model.parameters().map((p) => zeros(p.shape, { dtype: p.dtype, device: 'cpu' }).requiresGrad_());
  let probe: Optimizer | null = null;
  try {
    probe = buildOptimizer(trainer.config, params);
    for (const p of params) p.grad = zeros(p.shape, { dtype: p.dtype, device: 'cpu' });
    probe.step();
    return new Map([...probe.stateDict().tensors].map(([key, t]) => [key, { shape: [...t.shape], dtype: t.dtype }]));
  } finally {
    probe?.dispose();
    for (const p of params) p.dispose(); // disposes its grad too
  }
}

/** Checks the checkpoint's model tensors against the model: names, shapes, dtypes. */
function checkModelState(trainer: Trainer, model: Map<string, Tensor>, source: string): void {
  const own = trainer.model.stateDict();
  for (const [name, t] of own) {
    const src = model.get(name);
    if (!src) throw new WebgradError(`resume: ${source} is missing the model tensor 'model.${name}' ${shapeStr(t.shape)}`);
    if (src.shape.join() !== t.shape.join()) throw new WebgradError(`resume: ${source}: '${name}' has shape ${shapeStr(src.shape)} but the model expects ${shapeStr(t.shape)}`);
    if (src.dtype !== t.dtype) throw new WebgradError(`resume: ${source}: '${name}' has dtype ${src.dtype} but the model expects ${t.dtype}`);
  }
  for (const name of model.keys()) if (!own.has(name)) throw new WebgradError(`resume: ${source} holds 'model.${name}', which this model does not have`);
}

/** Checks the checkpoint's optimizer tensors against what the optimizer keeps (see expectedOptimizerState). */
function checkOptimizerState(trainer: Trainer, optim: Map<string, Tensor>, step: number, source: string): void {
  // Before the first step an optimizer may hold no state at all.
  if (step === 0 && optim.size === 0) return;
  const expected = expectedOptimizerState(trainer);
  const name = trainer.config.optimizer;
  for (const [key, e] of expected) {
    const t = optim.get(key);
    if (!t) throw new WebgradError(`resume: ${source} is missing the optimizer tensor 'optim.${key}' ${shapeStr(e.shape)} that the '${name}' optimizer keeps after step ${step}; the file is incomplete`);
    if (t.shape.join() !== e.shape.join()) throw new WebgradError(`resume: ${source}: optimizer state '${key}' has shape ${shapeStr(t.shape)} but the '${name}' optimizer expects ${shapeStr(e.shape)}`);
    if (t.dtype !== e.dtype) throw new WebgradError(`resume: ${source}: optimizer state '${key}' has dtype ${t.dtype} but the '${name}' optimizer expects ${e.dtype}`);
  }
  for (const key of optim.keys()) {
    if (!expected.has(key)) throw new WebgradError(`resume: ${source} holds an optimizer tensor 'optim.${key}' that the '${name}' optimizer does not keep`);
  }
}

/**
 * Restores a trainer built from the checkpoint's config. Everything — metadata, model tensors,
 * optimizer tensors — is validated first; only then is anything changed, so a bad checkpoint
 * leaves the trainer (and the global random stream) exactly as it was.
 */
export function restoreCheckpoint(trainer: Trainer, bytes: Uint8Array, source: string): void {
  const { tensors, metadata } = safetensorsToTensors(bytes, source, trainer.device);
  try {
    const meta = parseMeta(metadata, source);
    // Optimizer state only makes sense for the optimizer that wrote it (shapes alone would let Adam's
    // moments load into SGD's momentum).
    if (meta.config.optimizer !== trainer.config.optimizer) {
      throw new WebgradError(`resume: ${source} was written by the '${meta.config.optimizer}' optimizer, but this run uses '${trainer.config.optimizer}'`);
    }
    const model = new Map<string, Tensor>();
    const optim = new Map<string, Tensor>();
    for (const [name, t] of tensors) {
      if (name.startsWith('model.')) model.set(name.slice(6), t);
      else if (name.startsWith('optim.')) optim.set(name.slice(6), t);
      else throw new WebgradError(`resume: ${source} holds an unexpected tensor '${name}'`);
    }
    checkModelState(trainer, model, source);
    checkOptimizerState(trainer, optim, meta.optimizer.step, source);
    // Validated: from here on nothing is expected to throw.
    trainer.model.loadStateDict(model);
    trainer.optimizer.loadStateDict({ step: meta.optimizer.step, lr: meta.optimizer.lr, tensors: optim });
    trainer.epoch = meta.epoch;
    trainer.history.splice(0, trainer.history.length, ...meta.history);
    engine.seed = meta.random.seed;
    engine.randomOffset = meta.random.offset;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}
