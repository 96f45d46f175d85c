/**
 * The safety net for tensors dropped without dispose(), always on.
 *
 * - Every user tensor is registered with a FinalizationRegistry. When the garbage collector finds
 *   one unreachable and undisposed, it is queued, and its storage and tape node are released at
 *   the next safe point where the engine reclaims (below), so `memory()` never changes behind a
 *   program's back. Debug mode warns about each one and releases it at once, so the leak is seen.
 * - JavaScript collects when *its* heap is under pressure, and GPU buffers are invisible to it: a
 *   loop that leaks small JS objects holding large GPU buffers could run the device out before the
 *   collector runs. So the engine watches its own counters (live tensors and bytes) and, past a
 *   threshold that doubles with the baseline, asks for a collection at the next async safe point
 *   (`await t.data()`, `item()`, `array()`, the DataLoader's `for await`): a full GC where one is
 *   available (`globalThis.gc`; in Node the engine obtains it as Jest's leak detector does), then one
 *   macrotask turn so the finalizers run. A step is never stalled: nothing happens inside an op.
 * - A fully synchronous loop cannot be helped by any of this (finalizers only run between tasks),
 *   so the engine also watches live tensors across backward() calls and warns once, outside debug
 *   mode, when they grow steadily with nothing reclaimed, naming the remedies.
 */
import { engine } from './engine.js';
import { shapeStr } from './errors.js';
import type { StorageRef } from './storage-ref.js';
import type { Node } from './autograd/node.js';

/** What the registry releases when a tensor is collected undisposed (kept current by the tensor). */
export interface ReclaimRecord {
  ref: StorageRef | null;
  node: Node | null;
  readonly id: number;
  readonly shape: readonly number[];
}

export interface ReclaimStats {
  /** Tensors garbage-collected without dispose() whose storage the engine released. */
  reclaimedTensors: number;
  /** Collections the engine asked for at safe points because its memory grew. */
  collections: number;
  /** Whether the steady-growth warning was printed. */
  growthWarned: boolean;
}

const stats: ReclaimStats = { reclaimedTensors: 0, collections: 0, growthWarned: false };

/** Tensors found unreachable by the collector, released at the next safe point (see `reclaimPoint`). */
const pending: ReclaimRecord[] = [];

function release(record: ReclaimRecord): void {
  const { ref, node } = record;
  record.ref = null;
  record.node = null;
  if (!ref || ref.released) return;
  engine.liveTensors--;
  stats.reclaimedTensors++;
  try {
    node?.release();
    ref.release();
  } catch {
    // The storage belonged to a backend that is gone (device lost or replaced): nothing to free.
  }
}

const registry = new FinalizationRegistry<ReclaimRecord>((record) => {
  if (!record.ref || record.ref.released) return;
  if (engine.debug) {
    // Debug mode: say so at once, and release at once, so the leak is seen where it happens.
    console.warn(`webgrad (debug): tensor #${record.id} of shape ${shapeStr(record.shape)} was garbage-collected without dispose(); releasing its storage. Use tidy(), dispose() or \`using\`.`);
    release(record);
    return;
  }
  // Otherwise only at a safe point the engine chooses: memory() does not change under a program's
  // feet whenever the collector happens to run, only when the engine reclaims on purpose.
  pending.push(record);
});

/** Registers a new user tensor; `record` must not reference the tensor itself. */
export function registerTensor(t: object, record: ReclaimRecord): void {
  registry.register(t, record, t);
}

/** A disposed tensor needs no safety net. */
export function unregisterTensor(t: object): void {
  registry.unregister(t);
}

/** Counters of the safety net (for tests and `memory()`). */
export function reclaimStats(): Readonly<ReclaimStats> {
  return stats;
}

// ---- pressure: ask for a collection at the next async safe point ----

/** Live tensors and bytes right after the last collection: growth is measured from there. */
let baseTensors = 0;
let baseBytes = 0;
const MIN_TENSOR_GROWTH = 1024;
const MIN_BYTE_GROWTH = 64 * 2 ** 20;
/** The collector, once found (null: none available here; undefined: not looked for yet). */
let collector: (() => void) | null | undefined;
let collecting: Promise<void> | null = null;
/** Macrotask turns to wait for the finalizers after a collection that found nothing yet. */
const MAX_TURNS = 8;
/** The growth watch asks for one collection before it warns (below). */
let collectionWanted = false;

/** True when memory grew enough since the last collection that one is worth its cost. */
export function underPressure(): boolean {
  return (
    engine.liveTensors - baseTensors >= Math.max(MIN_TENSOR_GROWTH, baseTensors) ||
    engine.liveBytes - baseBytes >= Math.max(MIN_BYTE_GROWTH, baseBytes)
  );
}

/** One macrotask turn (finalizers run between tasks, never inside a microtask chain). */
function nextTask(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => void };
  if (typeof g.setImmediate === 'function') return new Promise((resolve) => g.setImmediate!(resolve));
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * `globalThis.gc` when the host exposes it; in Node, the same function obtained the way Jest's leak
 * detector does (expose it to a fresh context). Browsers expose none: there the engine relies on
 * the browser's own collector and the macrotask turn.
 */
async function findCollector(): Promise<(() => void) | null> {
  const g = globalThis as { gc?: () => void; process?: { versions?: { node?: string } } };
  if (typeof g.gc === 'function') return g.gc;
  if (typeof g.process?.versions?.node !== 'string') return null;
  try {
    const nodeOnly = (s: string): Promise<unknown> => import(/* @vite-ignore */ /* webpackIgnore: true */ s);
    const v8 = (await nodeOnly('node:v8')) as typeof import('node:v8');
    const vm = (await nodeOnly('node:vm')) as typeof import('node:vm');
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/**
 * A safe point: if memory grew past the threshold, collect and let the finalizers run before
 * returning. Cheap (one comparison) when there is no pressure.
 */
export function reclaimPoint(): Promise<void> | void {
  if (collecting) return collecting;
  if (!underPressure() && !collectionWanted) return;
  collectionWanted = false;
  collecting = (async () => {
    try {
      if (collector === undefined) collector = await findCollector();
      // Some may be queued already (the collector runs on its own too); wait for this collection's.
      const queued = pending.length;
      collector?.();
      stats.collections++;
      // The finalizers run in tasks of their own after the collection (in Node, queued behind the
      // event loop's current phase): wait a few turns until they have delivered something.
      for (let turn = 0; turn < MAX_TURNS && (turn === 0 || pending.length === queued); turn++) await nextTask();
      for (const record of pending.splice(0)) release(record);
    } finally {
      baseTensors = engine.liveTensors;
      baseBytes = engine.liveBytes;
      collecting = null;
    }
  })();
  return collecting;
}

// ---- steady growth across steps: warn once ----

/** backward() calls per sample of the live-tensor count. */
const WINDOW = 100;
/** Consecutive windows of growth (with nothing reclaimed) before the warning. */
const WINDOWS_TO_WARN = 5;
/** Growth per window that counts as growth (0.1 tensor per step). */
const MIN_WINDOW_GROWTH = 10;

let ticks = 0;
let lastSample = -1;
let streak = 0;
let reclaimedAtSample = 0;
let liveAtStreakStart = 0;
let askedAtStreak = false;

/** Called once per backward(): the step boundary of a training loop. */
export function stepTick(): void {
  if (++ticks % WINDOW !== 0) return;
  const live = engine.liveTensors;
  const reclaimed = stats.reclaimedTensors - reclaimedAtSample;
  reclaimedAtSample = stats.reclaimedTensors;
  if (lastSample >= 0 && live - lastSample >= MIN_WINDOW_GROWTH && reclaimed === 0) {
    if (streak === 0) liveAtStreakStart = lastSample;
    streak++;
  } else {
    streak = 0;
  }
  lastSample = live;
  if (streak === 0) askedAtStreak = false;
  if (streak >= WINDOWS_TO_WARN && !stats.growthWarned && !engine.debug) {
    // Before warning, ask for one collection at the next safe point: a loop that awaits is then
    // reclaimed (and the streak ends); a loop that never reaches one gets the warning a window later.
    if (!askedAtStreak) {
      askedAtStreak = true;
      collectionWanted = true;
      return;
    }
    stats.growthWarned = true;
    const steps = streak * WINDOW;
    console.warn(
      `webgrad: live tensors grew from ${liveAtStreakStart} to ${live} over the last ${steps} backward() calls ` +
        `(about ${((live - liveAtStreakStart) / steps).toFixed(1)} per step) and none was reclaimed: tensors made in each step are never disposed. ` +
        'Wrap the step in tidy(() => { ... }) or dispose() what you no longer need (the loss and the outputs); ' +
        'a loop that awaits (a DataLoader, or `await loss.item()` every few steps) lets webgrad reclaim unreachable tensors by itself. ' +
        'setDebug(true) names each leaked tensor. (This warning is printed once.)',
    );
  }
}

/** @internal Tests: forget the growth history and the warned flag. */
export function resetReclaimWatch(): void {
  ticks = 0;
  lastSample = -1;
  streak = 0;
  askedAtStreak = false;
  collectionWanted = false;
  reclaimedAtSample = stats.reclaimedTensors;
  stats.growthWarned = false;
  baseTensors = engine.liveTensors;
  baseBytes = engine.liveBytes;
}
