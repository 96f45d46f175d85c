/**
 * Tensors made before `init()`: they land on the CPU backend (the only one there is yet), and
 * then fail to mix with the WebGPU tensors made after `await init()`. The engine does not move them
 * (a tensor's device is fixed when it is made, as in PyTorch); it says so once, at the first WebGPU
 * tensor, if any of them are still alive, naming how many, their shapes and the remedy.
 */
import { engine } from './engine.js';
import { shapeStr } from './errors.js';

interface Placed {
  readonly shape: readonly number[];
  readonly isDisposed: boolean;
}

/** The first tensors made while no WebGPU backend existed (a bounded list: CPU-only programs make millions). */
const early: WeakRef<Placed>[] = [];
const MAX_TRACKED = 1000;
let done = false;

/** Called for every new user tensor. */
export function notePlacement(t: Placed, device: string): void {
  if (done) return;
  if (device !== 'webgpu') {
    if (!engine.backends.has('webgpu') && early.length < MAX_TRACKED) early.push(new WeakRef(t));
    return;
  }
  done = true;
  const alive = early.map((r) => r.deref()).filter((x): x is Placed => x !== undefined && !x.isDisposed);
  early.length = 0;
  if (alive.length === 0) return;
  const shapes = alive.slice(0, 4).map((x) => shapeStr(x.shape)).join(', ');
  console.warn(
    `webgrad: ${alive.length} tensor${alive.length === 1 ? '' : 's'} made before \`await init()\` (shapes ${shapes}${alive.length > 4 ? ', ...' : ''}) ` +
      "live on the CPU backend, and ops mixing them with WebGPU tensors will fail. Create tensors and models after `await init()`, " +
      "or move them with `await t.to('webgpu')`. (This warning is printed once.)",
  );
}
