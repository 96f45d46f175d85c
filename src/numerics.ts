/**
 * The numerics guard: an opt-in mode that finds the first op producing NaN or ±Inf.
 *
 * WGSL may assume values are finite (spec §15.7.2), so NaN propagation cannot be relied on to
 * reach the loss. Instead every floating-point result is tested explicitly on its own backend
 * (isNonFinite — an exponent-bit test — reduced with max into one flag) as it is produced; the
 * flags stay on the device until `checkNumerics()` reads them, so checking costs two small
 * dispatches per op and one batch of readbacks per check, not a sync per op.
 */
import type { Backend, Storage } from './backend/types.js';
import { WebgradError, shapeStr } from './errors.js';

export interface NumericsOffender {
  /** The op that produced the first non-finite value (as named in errors, e.g. 'log', 'matmul'). */
  op: string;
  /** Shapes of the op's tensor arguments, in the order they were checked. */
  inputShapes: number[][];
  /** Shape of the result that held the non-finite value. */
  outputShape: number[];
  /** Position of the op among those checked since the last checkNumerics(). */
  index: number;
}

export class NonFiniteError extends WebgradError {
  override name = 'NonFiniteError';
  constructor(readonly offender: NumericsOffender) {
    super(`numerics check: op '${offender.op}' (#${offender.index} since the last check) produced NaN or Inf in its result of shape ${shapeStr(offender.outputShape)}; its inputs had shapes ${offender.inputShapes.map(shapeStr).join(', ') || '(none)'}`);
  }
}

interface PendingFlag {
  backend: Backend;
  flag: Storage;
  op: string;
  inputShapes: number[][];
  outputShape: number[];
}

/** The input shapes an op's argument checks recorded for its current call. */
interface OpInputs {
  shapes: number[][];
  tensorIds: number[];
  /** Set once a result of this op was made; the op's next argument check starts a new call. */
  used: boolean;
}

class NumericsState {
  enabled = false;
  /** Per op name, so an op that runs other ops before making its result keeps its own shapes. */
  inputs = new Map<string, OpInputs>();
  pending: PendingFlag[] = [];
}

const state = new NumericsState();

/** Turns the numerics guard on or off (off by default; it adds work to every op). */
export function setNumericsCheck(on: boolean): void {
  state.enabled = on;
  if (!on) discardFlags();
}

export function numericsCheckEnabled(): boolean {
  return state.enabled;
}

/** @internal Called by argument checks: one input shape of `op`, reported with its results. */
export function noteOpInput(op: string, tensorId: number, shape: readonly number[]): void {
  if (!state.enabled) return;
  let call = state.inputs.get(op);
  if (!call || call.used) {
    call = { shapes: [], tensorIds: [], used: false };
    state.inputs.set(op, call);
  }
  if (call.tensorIds.includes(tensorId)) return; // an op may check the same argument twice
  call.tensorIds.push(tensorId);
  call.shapes.push([...shape]);
}

/**
 * @internal Called for every new result with the name of the op that made it (given where the
 * result is created, so no inference from which argument check ran last): queues a device-side
 * finiteness flag for it.
 */
export function watchResult(backend: Backend, storage: Storage, shape: readonly number[], op: string): void {
  if (!state.enabled || !storage.dtype.startsWith('float') || storage.length === 0) return;
  // Every result of one call shares its input shapes (batch norm makes three).
  const call = state.inputs.get(op);
  if (call) call.used = true;
  const bad = backend.unary('isNonFinite', storage, 0);
  const flag = backend.reduce('max', bad, 1, storage.length, 1);
  backend.release(bad);
  state.pending.push({ backend, flag, op, inputShapes: call?.shapes ?? [], outputShape: [...shape] });
}

function discardFlags(): void {
  for (const p of state.pending) p.backend.release(p.flag);
  state.pending = [];
  state.inputs.clear();
}

/**
 * Reads the flags queued since the last call and returns the first offending op, or null when
 * every result was finite. Clears the queue either way.
 */
export async function checkNumerics(): Promise<NumericsOffender | null> {
  const pending = state.pending;
  state.pending = [];
  try {
    const values = await Promise.all(pending.map((p) => p.backend.read(p.flag)));
    const i = values.findIndex((v) => v[0]! > 0);
    if (i < 0) return null;
    const p = pending[i]!;
    return { op: p.op, inputShapes: p.inputShapes, outputShape: p.outputShape, index: i };
  } finally {
    for (const p of pending) p.backend.release(p.flag);
  }
}

/** Like checkNumerics, but throws a NonFiniteError naming the first offending op. */
export async function assertFinite(): Promise<void> {
  const offender = await checkNumerics();
  if (offender) throw new NonFiniteError(offender);
}

