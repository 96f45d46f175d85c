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
import { WebgradError } from '../errors.js';

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

/** Reads a checkpoint's metadata (validating the file) without touching any model. */
export function readCheckpointMeta(bytes: Uint8Array, source: string): CheckpointMeta {
  const { tensors, metadata } = safetensorsToTensors(bytes, source, 'cpu');
  for (const t of tensors.values()) t.dispose();
  return parseMeta(metadata, source);
}

function parseMeta(metadata: Record<string, string>, source: string): CheckpointMeta {
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(metadata.webgrad ?? 'null', decodeNonFinite) as CheckpointMeta;
  } catch {
    throw new WebgradError(`resume: ${source} has unreadable webgrad metadata`);
  }
  if (!meta || meta.format !== CHECKPOINT_FORMAT) throw new WebgradError(`resume: ${source} is not a webgrad checkpoint (format ${JSON.stringify(meta?.format)}, expected ${CHECKPOINT_FORMAT})`);
  return meta;
}

/**
 * Restores a trainer built from the checkpoint's config. Shapes are checked (by loadStateDict and
 * the optimizer) before anything changes, so a mismatched checkpoint leaves the trainer as it was.
 */
export function restoreCheckpoint(trainer: Trainer, bytes: Uint8Array, source: string): void {
  const { tensors, metadata } = safetensorsToTensors(bytes, source, trainer.device);
  try {
    const meta = parseMeta(metadata, source);
    // Optimizer state only makes sense for the optimizer that wrote it (shapes alone would let Adam's
    // moments load into SGD's momentum). Model shapes are checked tensor by tensor below.
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
    // Validate the optimizer state against the parameters first; loadStateDict validates the model.
    const params = trainer.model.parameters();
    for (const [key, t] of optim) {
      const p = params[Number(key.split('.')[0])];
      if (!p || p.shape.join() !== t.shape.join()) {
        throw new WebgradError(`resume: ${source}: optimizer state '${key}' [${t.shape.join(', ')}] does not match the model's parameter ${key.split('.')[0]}${p ? ` [${p.shape.join(', ')}]` : ''}`);
      }
    }
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
