/**
 * A node of the define-by-run tape: which op made a tensor, from which inputs, and what its gradient
 * rule needs. Nodes are reference-counted (by the tensor they produced and by the nodes downstream),
 * so a graph that is never differentiated still releases its saved tensors when its tensors are
 * disposed.
 */
import type { Tensor } from '../tensor.js';
import type { OpName, OpSaved } from './rules.js';
import { engine } from '../engine.js';
import { WebgradError } from '../errors.js';

/** Where an input's gradient goes: into an upstream node, or into a leaf's `.grad`. */
export interface GradTarget {
  node: Node | null;
  leaf: Tensor | null;
  shape: readonly number[];
}

export class Node<K extends OpName = OpName> {
  private refs = 1;

  constructor(
    readonly op: K,
    readonly targets: readonly (GradTarget | null)[],
    private savedData: OpSaved[K] | null,
    private readonly savedTensors: Tensor[],
  ) {}

  /** What the rule needs; throws once backward has consumed it (unless retainGraph) or the graph was released. */
  get saved(): OpSaved[K] {
    if (this.savedData === null) {
      throw new WebgradError(
        `backward: the graph through '${this.op}' was already freed by an earlier backward(); ` +
          'call backward({ retainGraph: true }) the first time to differentiate twice',
      );
    }
    return this.savedData;
  }

  retain(): this {
    this.refs++;
    return this;
  }

  /** Drops one reference; a node reaching zero releases its inputs (iteratively: graphs can be deep). */
  release(): void {
    const stack: Node[] = [this];
    while (stack.length > 0) {
      const node = stack.pop()!;
      // Stryker disable next-line ConditionalExpression: a guard; a node reaches 0 only after its last holder let go, so it is never released again
      if (node.refs === 0) continue;
      node.refs--;
      if (node.refs === 0) {
        node.freeSaved();
        for (const t of node.targets) if (t?.node) stack.push(t.node);
      }
    }
  }

  /** Drops what the rule needed; the node stays in the graph so a second backward can say why it fails. */
  freeSaved(): void {
    for (const t of this.savedTensors) t.dispose();
    this.savedTensors.length = 0;
    this.savedData = null;
  }
}

/** True when an op on these inputs must be recorded. */
export function needsGrad(inputs: readonly Tensor[]): boolean {
  return engine.gradEnabled && inputs.some((t) => t.requiresGrad);
}

/**
 * Records `out = op(inputs)` on the tape. `save` turns tensors the rule needs into internal handles
 * that keep their storage alive after the user disposes the originals.
 */
export function record<K extends OpName>(
  op: K,
  inputs: readonly Tensor[],
  out: Tensor,
  makeSaved: (save: (t: Tensor) => Tensor) => OpSaved[K],
  owned: readonly Tensor[] = [],
): Tensor {
  if (!needsGrad(inputs)) return out;
  // `owned`: tensors handed to the node outright (a custom op's forward), disposed when it frees its saved tensors.
  const savedTensors: Tensor[] = [...owned];
  const save = (t: Tensor): Tensor => {
    const handle = t._internalHandle();
    savedTensors.push(handle);
    return handle;
  };
  const targets = inputs.map((t): GradTarget | null => {
    if (!t.requiresGrad) return null;
    if (t._node) return { node: t._node.retain(), leaf: null, shape: t.shape };
    return { node: null, leaf: t, shape: t.shape };
  });
  out._node = new Node(op, targets, makeSaved(save), savedTensors) as unknown as Node;
  out.requiresGrad = true;
  return out;
}
