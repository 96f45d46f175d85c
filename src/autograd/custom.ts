/**
 * User-defined gradients, in the style of tf.customGrad: the forward runs without recording and
 * returns its value together with the function that maps the output's gradient to the inputs'.
 *
 *   const clippedExp = customGrad((x: Tensor) => {
 *     const y = x.exp();
 *     return { value: y, grad: (dy) => [dy.mul(y).clamp(-1, 1)] };
 *   });
 *
 * Lifetime: everything the forward creates (and the views of the inputs it is given) is owned by
 * the recorded node, so the backward closure can use any of it even after the user disposed the
 * inputs or the output, or a tidy scope ended. The node releases it after backward (unless
 * retainGraph) or when the graph is disposed. When nothing is recorded (noGrad, or no input
 * requires grad) it is disposed at once, as in tidy.
 */
import { Tensor } from '../tensor.js';
import type { Backend, DType } from '../backend/types.js';
import { engine, popScope, pushScope, untrack } from '../engine.js';
import { fail, shapeStr } from '../errors.js';
import { sameShape } from '../shape.js';
import { needsGrad, record } from './node.js';
import type { GradRules } from './rules.js';

/** The gradients of the inputs: one per tensor argument (or one per argument); null means zero. */
export type CustomGradients = Tensor | readonly (Tensor | null | undefined)[];

export interface CustomGradResult {
  /** The forward's output. */
  value: Tensor;
  /**
   * Given the gradient of `value` (same shape), the gradients of the tensor arguments, in order.
   * `needs[i]` says whether tensor argument i requires a gradient (its entry may be null if not).
   * Runs without recording: the custom op cannot be differentiated twice.
   */
  grad: (dy: Tensor, needs: readonly boolean[]) => CustomGradients;
}

export interface CustomGradOptions {
  /** Named in error messages (default 'customGrad'). */
  name?: string;
}

interface InputMeta {
  shape: readonly number[];
  dtype: DType;
  backend: Backend;
  /** Position among all the arguments (non-tensor ones included). */
  argIndex: number;
}

/** What the 'custom' rule needs: the user's backward and the inputs it must match. */
export interface CustomSaved {
  name: string;
  grad: CustomGradResult['grad'];
  inputs: readonly InputMeta[];
  argCount: number;
}

/**
 * Wraps `forward` into an op whose backward is the user's `grad`. Only top-level Tensor arguments
 * are inputs of the gradient; other arguments (numbers, options) are passed through and ignored.
 */
export function customGrad<A extends unknown[]>(
  forward: (...args: A) => CustomGradResult,
  options: CustomGradOptions = {},
): (...args: A) => Tensor {
  const name = options.name ?? 'customGrad';
  const op = `customGrad '${name}'`;
  return (...args: A): Tensor => {
    const tensorArgs: Tensor[] = [];
    const metas: InputMeta[] = [];
    args.forEach((a, i) => {
      if (a instanceof Tensor) {
        const ref = a._storageRef(`${op} (argument ${i})`); // a disposed input fails here, before any work
        tensorArgs.push(a);
        metas.push({ shape: a.shape, dtype: ref.storage.dtype, backend: ref.backend, argIndex: i });
      }
    });
    const recording = needsGrad(tensorArgs);

    const wasEnabled = engine.gradEnabled;
    engine.gradEnabled = false;
    const frame = pushScope();
    let out: Tensor;
    try {
      // The forward sees views of the inputs: the closure may keep them after the user disposes the originals.
      const inner = args.map((a) => (a instanceof Tensor ? a._view(a.shape) : a)) as A;
      const result: unknown = forward(...inner);
      if (!isResult(result)) fail(op, 'the forward must return { value: Tensor, grad: (dy) => gradients }');
      result.value._storageRef(`${op} (value)`);
      if (recording && !result.value.dtype.startsWith('float')) {
        fail(op, `the forward's value must be floating-point to be differentiated, got ${result.value.dtype}`);
      }
      // The caller gets its own view: its node is set on it, and disposing it cannot break the closure.
      out = result.value._view(result.value.shape);
      if (recording) {
        const owned = [...frame.tensors].filter((t) => t !== out);
        popScope(frame, new Set(frame.tensors));
        for (const t of owned) untrack(t);
        const saved: CustomSaved = { name, grad: result.grad, inputs: metas, argCount: args.length };
        engine.gradEnabled = wasEnabled;
        return record('custom', tensorArgs, out, () => saved, owned);
      }
    } catch (e) {
      popScope(frame, new Set());
      throw e;
    } finally {
      engine.gradEnabled = wasEnabled;
    }
    popScope(frame, new Set([out]));
    return out;
  };
}

function isResult(r: unknown): r is CustomGradResult {
  if (!r || typeof r !== 'object') return false;
  const o = r as { value?: unknown; grad?: unknown };
  return o.value instanceof Tensor && typeof o.grad === 'function';
}

/** Checks the user's gradients and hands back fresh views (the originals may be dy, saved tensors or outside tensors). */
function customRule(dy: Tensor, saved: CustomSaved, needs: readonly boolean[]): (Tensor | null)[] {
  const op = `customGrad '${saved.name}' (backward)`;
  const returned: unknown = saved.grad(dy, needs);
  const list: readonly unknown[] = returned instanceof Tensor ? [returned] : Array.isArray(returned) ? returned : fail(
    op, `the gradient function must return a Tensor or an array of gradients, got ${describe(returned)}`,
  );
  const n = saved.inputs.length;
  let perInput: readonly unknown[];
  if (list.length === n) perInput = list;
  else if (list.length === saved.argCount) perInput = saved.inputs.map((m) => list[m.argIndex]);
  else {
    fail(op, `the gradient function returned ${list.length} gradient(s), expected ${n} (one per tensor argument)` +
      (saved.argCount !== n ? ` or ${saved.argCount} (one per argument)` : ''));
  }
  const grads = saved.inputs.map((m, i): Tensor | null => {
    const g = perInput[i];
    const where = `gradient for input ${i}${m.argIndex !== i ? ` (argument ${m.argIndex})` : ''}`;
    if (g === null || g === undefined) return null;
    if (!(g instanceof Tensor)) fail(op, `${where} must be a Tensor or null, got ${describe(g)}`);
    if (g.isDisposed) fail(op, `${where} (tensor #${g.id}) was disposed`);
    if (g.backend !== m.backend) fail(op, `${where} lives on '${g.device}' but the input on '${m.backend.name}'`);
    if (g.dtype !== m.dtype) fail(op, `${where} has dtype ${g.dtype} but the input has dtype ${m.dtype}`);
    if (!sameShape(g.shape, m.shape)) fail(op, `${where} has shape ${shapeStr(g.shape)} but the input has shape ${shapeStr(m.shape)}`);
    return g;
  });
  return grads.map((g, i) => (g && needs[i] ? g._view(g.shape) : null));
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? (v.constructor?.name ?? 'an object') : typeof v;
}

export const customGrads: GradRules<'custom'> = { custom: customRule };
