/**
 * Optimizer base: parameter groups (each with its own hyperparameters, as PyTorch's
 * param_groups), per-parameter state tensors under PyTorch's names ("0.exp_avg",
 * "3.momentum_buffer", parameters numbered across groups in order), the step count, and a state
 * dict that is validated completely before anything changes.
 */
import { Tensor } from '../tensor.js';
import { fail, shapeStr } from '../errors.js';
import { keep } from '../lifetime.js';
import { zeros } from '../ops/creation.js';
import { clone } from '../ops/shape-ops.js';

/** Hyperparameters every group has. Schedulers change `lr` (and OneCycleLR the momentum). */
export interface GroupHyper {
  lr: number;
  /** The lr a scheduler started from (PyTorch's initial_lr); set by the first scheduler. */
  initialLr?: number;
}

/** A value a group hyperparameter may take (what survives a JSON round trip in a checkpoint). */
export type HyperValue = number | boolean | number[];

/** One parameter group: its parameters and its (mutable) hyperparameters. */
export type ParamGroup<H extends GroupHyper> = H & { readonly params: readonly Tensor[] };

/** A group as passed to a constructor: `{ params, ...overrides }`, e.g. `{ params: biases, weightDecay: 0 }`. */
export type ParamGroupSpec<O> = { params: Iterable<Tensor> } & Partial<O>;

/** What an optimizer constructor takes: parameters, or parameter groups. */
export type Params<O> = Iterable<Tensor> | Iterable<ParamGroupSpec<O>>;

/** A parameter of a group with its gradient and its index across groups (Optimizer.updateGroup). */
export interface GroupItem {
  readonly param: Tensor;
  readonly grad: Tensor;
  readonly index: number;
}

export interface OptimizerState {
  step: number;
  /** The first group's lr (what a single-group optimizer uses). */
  lr: number;
  /** Every group's hyperparameters, without params (PyTorch's param_groups); optional when loading. */
  paramGroups?: Record<string, HyperValue>[];
  /** Per-parameter state tensors, keyed "<param index>.<name>" (e.g. "0.exp_avg", "1.momentum_buffer"). */
  tensors: Map<string, Tensor>;
  /**
   * Updates each parameter has received (PyTorch's per-parameter 'step'; a parameter without a
   * gradient on a step is not counted). Optional when loading: absent, every parameter gets `step`.
   */
  paramSteps?: number[];
}

function isTensorList(items: unknown[]): items is Tensor[] {
  return items.every((x) => x instanceof Tensor);
}

export abstract class Optimizer<H extends GroupHyper = GroupHyper> {
  /** Every parameter, numbered across groups in order (the index used in state keys). */
  readonly params: readonly Tensor[];
  readonly paramGroups: ParamGroup<H>[];
  /** Steps taken so far. */
  stepCount = 0;
  /** Updates per parameter (Adam's bias correction uses these, as PyTorch's per-parameter step). */
  // Stryker disable next-line ArrayDeclaration: equivalent, the constructor assigns one entry per parameter
  protected paramSteps: number[] = [];
  protected readonly state = new Map<string, Tensor>();
  /** The per-parameter state names this optimizer keeps (PyTorch's names). */
  protected abstract readonly stateNames: readonly string[];

  /**
   * `defaults` are the constructor's options; each group overrides any of them. `validate` checks
   * a group's hyperparameters (it runs for every group here and for every loaded state).
   */
  constructor(params: Params<Partial<H>>, defaults: H, readonly name: string) {
    const items: unknown[] = params !== null && typeof params === 'object' && Symbol.iterator in params ? [...(params as Iterable<unknown>)] : fail(name, `params must be an iterable of tensors or of parameter groups, got ${params === null ? 'null' : typeof params}`);
    let specs: { params: unknown; [k: string]: unknown }[];
    if (isTensorList(items)) specs = [{ params: items }];
    else if (items.every((g) => g !== null && typeof g === 'object' && !(g instanceof Tensor) && 'params' in g)) specs = items as { params: unknown }[];
    else specs = fail(name, 'params must be all tensors, or all parameter groups ({ params, ...options }); got a mix or something else');
    const seen = new Map<Tensor, string>();
    const groups: ParamGroup<H>[] = [];
    specs.forEach((spec, gi) => {
      const list = spec.params instanceof Tensor ? [spec.params] : spec.params !== null && typeof spec.params === 'object' && Symbol.iterator in spec.params ? [...(spec.params as Iterable<unknown>)] : fail(name, `group ${gi}: params must be an iterable of tensors`);
      list.forEach((p, i) => {
        const where = specs.length > 1 ? `group ${gi}, parameter ${i}` : `parameter ${i}`;
        if (!(p instanceof Tensor)) fail(name, `${where} is not a Tensor (got ${Array.isArray(p) ? 'an array' : typeof p})`);
        if (p.isDisposed) fail(name, `${where} was disposed`);
        if (!p.requiresGrad) fail(name, `${where} (shape ${shapeStr(p.shape)}) does not require grad`);
        // PyTorch raises too: a duplicate would be updated twice per step.
        const first = seen.get(p);
        if (first) fail(name, `${where} is the same tensor as ${first}; each parameter may appear only once`);
        seen.set(p, where);
      });
      const { params: _omit, ...overrides } = spec;
      for (const key of Object.keys(overrides)) {
        if (!(key in defaults) && key !== 'initialLr') fail(name, `group ${gi} has an unknown option '${key}' (known: ${Object.keys(defaults).join(', ')})`);
      }
      const hyper = { ...defaults, ...overrides } as H;
      this.validate(hyper, specs.length > 1 ? `group ${gi}: ` : '');
      groups.push(Object.assign(hyper, { params: list as Tensor[] }));
    });
    if (seen.size === 0) fail(name, 'got an empty parameter list');
    this.paramGroups = groups;
    this.params = groups.flatMap((g) => g.params);
    this.paramSteps = this.params.map(() => 0);
  }

  /**
   * Throws (naming `where` and the option) if a group's hyperparameters are invalid. lr = 0 is
   * allowed, at construction as in a schedule (PyTorch refuses only lr < 0): it freezes a group.
   */
  protected validate(h: H, where: string): void {
    checkNonNegative(this.name, `${where}lr`, h.lr);
  }

  /** The first group's lr; setting it sets every group's (the single-group case, and old code). */
  get lr(): number {
    return this.paramGroups[0]!.lr;
  }
  set lr(v: number) {
    for (const g of this.paramGroups) g.lr = v;
  }

  /** Applies one update from the parameters' current `.grad` (parameters without a grad are skipped). */
  step(): void {
    // Checked for every parameter and group before any update, so a bad value changes nothing.
    this.params.forEach((p, i) => {
      if (p.isDisposed) fail(`${this.name}.step`, `parameter ${i} (shape ${shapeStr(p.shape)}) was disposed; a parameter must outlive its optimizer`);
    });
    this.paramGroups.forEach((g, gi) => this.validate(g, this.paramGroups.length > 1 ? `group ${gi}: ` : ''));
    this.stepCount++;
    let index = 0;
    for (const g of this.paramGroups) {
      const items: GroupItem[] = [];
      for (const p of g.params) {
        if (p.grad) {
          this.paramSteps[index]!++;
          items.push({ param: p, grad: p.grad, index });
        }
        index++;
      }
      if (items.length > 0) this.updateGroup(items, g);
    }
  }

  protected abstract update(param: Tensor, grad: Tensor, index: number, group: ParamGroup<H>): void;

  /**
   * Updates a group's parameters that have a gradient (in order). One `update` each here; an
   * optimizer with a multi-tensor kernel updates several per call instead.
   */
  protected updateGroup(items: readonly GroupItem[], group: ParamGroup<H>): void {
    for (const { param, grad, index } of items) this.update(param, grad, index, group);
  }

  /** Clears every parameter's gradient. */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** A state tensor for a parameter, created as zeros on first use. */
  protected stateFor(index: number, name: string): { t: Tensor; fresh: boolean } {
    const key = `${index}.${name}`;
    let t = this.state.get(key);
    const fresh = !t;
    if (!t) {
      const p = this.params[index]!;
      t = keep(zeros(p.shape, { dtype: p.dtype, device: p.device }));
      this.state.set(key, t);
    }
    return { t, fresh };
  }

  stateDict(): OptimizerState {
    const paramGroups = this.paramGroups.map((g) => {
      const { params: _omit, ...hyper } = g;
      return JSON.parse(JSON.stringify(hyper)) as Record<string, HyperValue>;
    });
    return { step: this.stepCount, lr: this.lr, paramGroups, tensors: new Map(this.state), paramSteps: [...this.paramSteps] };
  }

  /**
   * Restores state saved by stateDict (copying the tensors). Everything is checked first — step,
   * lr, group hyperparameters, and each tensor's key, shape, dtype and backend — so a bad state
   * throws and leaves the optimizer as it was.
   */
  loadStateDict(s: OptimizerState): void {
    const op = `${this.name}.loadStateDict`;
    if (s === null || typeof s !== 'object') fail(op, `expected { step, lr, tensors }, got ${s === null ? 'null' : typeof s}`);
    if (!Number.isInteger(s.step) || s.step < 0) fail(op, `step must be a non-negative integer, got ${String(s.step)}`);
    checkNonNegative(op, 'lr', s.lr);
    if (!(s.tensors instanceof Map)) fail(op, `tensors must be a Map of "<param index>.<name>" → Tensor, got ${Array.isArray(s.tensors) ? 'an array' : typeof s.tensors}`);
    const groups = s.paramGroups === undefined ? null : this.checkGroups(op, s.paramGroups);
    if (s.paramSteps !== undefined) {
      const ps: unknown = s.paramSteps;
      if (!Array.isArray(ps) || ps.length !== this.params.length || !ps.every((v) => Number.isInteger(v) && v >= 0 && v <= s.step)) {
        fail(op, `paramSteps must hold ${this.params.length} integers in [0, step = ${s.step}], got ${JSON.stringify(ps)}`);
      }
    }
    for (const [key, t] of s.tensors as Map<unknown, unknown>) {
      const m = typeof key === 'string' ? /^(\d+)\.(.+)$/.exec(key) : null;
      if (!m) fail(op, `state key ${JSON.stringify(key)} is not "<param index>.<name>"`);
      const index = Number(m[1]);
      const p = this.params[index];
      if (!this.stateNames.includes(m[2]!)) fail(op, `state '${key}': ${this.name} keeps no '${m[2]}' (it keeps ${this.stateNames.join(', ')})`);
      if (!(t instanceof Tensor)) fail(op, `state '${key}' must be a Tensor, got ${Array.isArray(t) ? 'a plain array' : t === null ? 'null' : typeof t}`);
      if (t.isDisposed) fail(op, `state '${key}' was disposed`);
      if (!p) fail(op, `state '${key}' names parameter ${index}, but there is no such parameter (there are ${this.params.length})`);
      if (p.shape.join() !== t.shape.join()) fail(op, `state '${key}' of shape ${shapeStr(t.shape)} does not match parameter ${index} of shape ${shapeStr(p.shape)}`);
      if (t.dtype !== p.dtype) fail(op, `state '${key}' has dtype ${t.dtype} but parameter ${index} is ${p.dtype}`);
      if (t.device !== p.device) fail(op, `state '${key}' lives on '${t.device}' but parameter ${index} on '${p.device}' (move it with await t.to('${p.device}'))`);
    }
    // Copy first: `s` may hold this optimizer's own live tensors (loadStateDict(stateDict())).
    const copies = [...(s.tensors as Map<string, Tensor>)].map(([key, t]) => [key, keep(clone(t))] as const);
    for (const t of this.state.values()) t.dispose();
    this.state.clear();
    for (const [key, t] of copies) this.state.set(key, t);
    this.stepCount = s.step;
    this.paramSteps = s.paramSteps ? [...s.paramSteps] : this.params.map(() => s.step);
    if (groups) groups.forEach((h, i) => Object.assign(this.paramGroups[i]!, h));
    else this.lr = s.lr;
  }

  /** Validates saved group hyperparameters against this optimizer's groups; returns them merged. */
  private checkGroups(op: string, saved: unknown): H[] {
    if (!Array.isArray(saved) || saved.length !== this.paramGroups.length) {
      fail(op, `paramGroups must be an array of ${this.paramGroups.length} group(s), got ${Array.isArray(saved) ? `${saved.length}` : typeof saved}`);
    }
    return saved.map((h: unknown, i) => {
      const cur = this.paramGroups[i]!;
      if (h === null || typeof h !== 'object') fail(op, `paramGroups[${i}] must be an object, got ${h === null ? 'null' : typeof h}`);
      for (const [k, v] of Object.entries(h)) {
        const mine = (cur as unknown as Record<string, unknown>)[k];
        const sameKind = k === 'initialLr' ? typeof v === 'number' : Array.isArray(mine) ? Array.isArray(v) && v.length === mine.length && v.every((x) => typeof x === 'number') : typeof v === typeof mine;
        if (k === 'params' || !(k in cur || k === 'initialLr') || !sameKind) fail(op, `paramGroups[${i}].${k} = ${JSON.stringify(v)} does not fit this ${this.name}`);
      }
      const { params: _omit, ...hyper } = cur;
      const merged = { ...hyper, ...(h as object) } as unknown as H;
      this.validate(merged, `paramGroups[${i}].`);
      return merged;
    });
  }

  dispose(): void {
    for (const t of this.state.values()) t.dispose();
    this.state.clear();
  }
}

export function checkPositive(op: string, name: string, v: number): void {
  // Number.isFinite is false for every non-number, so no typeof check is needed.
  if (!(v > 0) || !Number.isFinite(v)) fail(op, `${name} must be a positive finite number, got ${String(v)}`);
}

export function checkNonNegative(op: string, name: string, v: number): void {
  if (!(v >= 0) || !Number.isFinite(v)) fail(op, `${name} must be a non-negative finite number, got ${String(v)}`);
}
