/**
 * Module: the base of every layer, as in PyTorch. A module owns parameters (trainable leaves),
 * buffers (state such as batch norm's running statistics) and child modules, each registered
 * under a name so that `namedParameters()` and `stateDict()` use dotted paths ("0.weight").
 */
import { Tensor } from '../tensor.js';
import { fail, shapeStr } from '../errors.js';
import { noGrad } from '../lifetime.js';
import { keep } from '../lifetime.js';
import { clone } from '../ops/shape-ops.js';

export abstract class Module {
  private readonly params = new Map<string, Tensor>();
  private readonly buffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();
  /** True in training mode (dropout active, batch norm uses batch statistics). */
  training = true;

  abstract forward(x: Tensor): Tensor;

  /** Shorthand for forward. */
  call(x: Tensor): Tensor {
    return this.forward(x);
  }

  protected registerParameter(name: string, t: Tensor): Tensor {
    this.params.set(name, keep(t.requiresGrad_(true)));
    return t;
  }

  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.buffers.set(name, keep(t));
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Direct children in registration order. */
  modules(): Module[] {
    return [...this.children.values()];
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.children) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [name, p] of m.params) yield [path ? `${path}.${name}` : name, p];
    }
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [name, b] of m.buffers) yield [path ? `${path}.${name}` : name, b];
    }
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Parameters and buffers by dotted name (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values into this module's parameters and buffers. Every name and shape is checked
   * before anything is changed, so a mismatched state leaves the module as it was.
   */
  loadStateDict(state: ReadonlyMap<string, Tensor>, options: { strict?: boolean } = {}): void {
    checkStateMap('loadStateDict', state);
    const own = this.stateDict();
    const strict = options.strict ?? true;
    const problems: string[] = [];
    for (const [name, t] of own) {
      const src = state.get(name);
      if (!src) {
        if (strict) problems.push(`missing '${name}'`);
        continue;
      }
      if (src.shape.join() !== t.shape.join()) problems.push(`'${name}' has shape ${shapeStr(src.shape)} but the model expects ${shapeStr(t.shape)}`);
      else if (src.dtype !== t.dtype) problems.push(`'${name}' has dtype ${src.dtype} but the model expects ${t.dtype}`);
      else if (src.device !== t.device) problems.push(`'${name}' lives on '${src.device}' but the model on '${t.device}' (move it with await t.to('${t.device}'))`);
    }
    if (strict) for (const name of state.keys()) if (!own.has(name)) problems.push(`unexpected '${name}'`);
    if (problems.length > 0) fail('loadStateDict', `the state does not fit this model: ${problems.join('; ')}`);
    noGrad(() => {
      for (const [name, t] of own) {
        const src = state.get(name);
        if (!src) continue;
        // A private copy: optimizers update parameters in place and must not write into the caller's tensors.
        const copy = clone(src);
        t._assign(copy);
        copy.dispose();
      }
    });
  }

  /** Disposes every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.stateDict()) t.dispose();
  }
}

/**
 * A state must be a Map of name → Tensor (what stateDict() and safetensors.load() return). A plain
 * object or plain arrays would otherwise fail deep inside with a TypeError, or be half-applied.
 */
export function checkStateMap(op: string, state: unknown): asserts state is ReadonlyMap<string, Tensor> {
  if (!(state instanceof Map)) {
    const what = state === null ? 'null' : Array.isArray(state) ? 'an array' : typeof state === 'object' ? 'a plain object' : typeof state;
    fail(op, `state must be a Map of name → Tensor (as stateDict() and safetensors.load() return), got ${what}${what === 'a plain object' ? '; wrap it with new Map(Object.entries(obj)) and make each value a tensor' : ''}`);
  }
  for (const [name, t] of state as Map<unknown, unknown>) {
    if (typeof name !== 'string') fail(op, `state names must be strings, got ${typeof name}`);
    if (!(t instanceof Tensor)) {
      fail(op, `state '${String(name)}' must be a Tensor, got ${Array.isArray(t) ? 'a plain array' : ArrayBuffer.isView(t) ? 'a typed array' : t === null ? 'null' : typeof t} (convert it with tensor(...))`);
    }
  }
}
