/**
 * Reverse-mode differentiation over the recorded nodes: reverse topological order from the root,
 * gradients summed where a node feeds several consumers, accumulated into leaves' `.grad`.
 */
import type { Tensor } from '../tensor.js';
import { Node } from './node.js';
import type { GradTarget } from './node.js';
import { gradRule } from './rules.js';
import type { OpName, OpSaved, GradRule } from './rules.js';
import { engine, popScope, pushScope, untrack } from '../engine.js';
import { fail, shapeStr } from '../errors.js';
import { sameShape } from '../shape.js';

export interface BackwardOptions {
  /** Keep saved tensors so the graph can be differentiated again. */
  retainGraph?: boolean;
}

function topoOrder(root: Node): Node[] {
  // Stryker disable next-line ArrayDeclaration: a stray non-node entry has no gradient mapped to it and is skipped
  const order: Node[] = [];
  const seen = new Set<Node>();
  // Iterative DFS: deep networks would overflow a recursive walk.
  const stack: [Node, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    // Stryker disable next-line EqualityOperator: with <=, the extra step reads targets[length] (undefined) and pushes nothing
    if (i < node.targets.length) {
      top[1]++;
      const next = node.targets[i]?.node;
      if (next && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order.reverse();
}

/** Runs one rule in its own scope, so the intermediates it creates are disposed at once. */
function applyRule<K extends OpName>(node: Node<K>, dy: Tensor): (Tensor | null)[] {
  const rule: GradRule<K> = gradRule(node.op);
  const needs = node.targets.map((t) => t !== null);
  const frame = pushScope();
  // Stryker disable next-line ArrayDeclaration: read only when the rule threw, and popScope ignores what is not a tracked tensor
  let grads: (Tensor | null)[] = [];
  try {
    grads = rule(dy, node.saved as OpSaved[K], needs);
  } finally {
    // Stryker disable next-line MethodExpression,ConditionalExpression: nulls in the kept set are ignored by popScope
    popScope(frame, new Set(grads.filter((g): g is Tensor => g !== null)));
  }
  return grads;
}

function accumulate(map: Map<Node, Tensor>, node: Node, g: Tensor, add: (a: Tensor, b: Tensor) => Tensor): void {
  const prev = map.get(node);
  if (!prev) {
    map.set(node, g);
    return;
  }
  try {
    map.set(node, add(prev, g));
    prev.dispose();
  } finally {
    g.dispose(); // if add threw, prev is still in the map and runBackward's cleanup disposes it
  }
}

function accumulateLeaf(target: GradTarget, g: Tensor, add: (a: Tensor, b: Tensor) => Tensor): void {
  const leaf = target.leaf!;
  if (leaf.isDisposed) {
    g.dispose();
    return;
  }
  if (leaf.grad) {
    const old = leaf.grad;
    try {
      leaf.grad = add(old, g);
      old.dispose();
    } finally {
      g.dispose(); // if add threw, the leaf keeps its old gradient
    }
  } else {
    leaf.grad = g;
  }
  // A gradient belongs to its leaf, not to the tidy scope that happened to run backward.
  untrack(leaf.grad);
}

export function runBackward(
  root: Tensor,
  seed: Tensor,
  add: (a: Tensor, b: Tensor) => Tensor,
  options: BackwardOptions = {},
): void {
  const rootNode = root._node;
  if (!rootNode) {
    // A leaf: its gradient is the seed itself (accumulateLeaf disposes it if accumulating throws).
    accumulateLeaf({ node: null, leaf: root, shape: root.shape }, seed, add);
    return;
  }
  const order = topoOrder(rootNode);
  try {
    for (const n of order) void n.saved; // a freed node throws its clear "already freed" error here, before any work
  } catch (e) {
    seed.dispose();
    throw e;
  }
  const grads = new Map<Node, Tensor>([[rootNode, seed]]);
  const wasEnabled = engine.gradEnabled;
  engine.gradEnabled = false;
  try {
    for (const node of order) {
      const dy = grads.get(node);
      if (!dy) continue;
      grads.delete(node);
      let inputGrads: (Tensor | null)[];
      try {
        inputGrads = applyRule(node, dy);
      } finally {
        dy.dispose(); // also when the rule throws (a lost device, a failed kernel): nothing leaks
      }
      try {
        node.targets.forEach((target, i) => {
          const g = inputGrads[i];
          inputGrads[i] = null; // handed over below: the cleanup must not dispose it twice
          if (!target || !g) {
            g?.dispose();
            return;
          }
          if (!sameShape(g.shape, target.shape)) {
            g.dispose();
            fail('backward', `internal: rule '${node.op}' gave a gradient of shape ${shapeStr(g.shape)} for an input of shape ${shapeStr(target.shape)}`);
          }
          if (target.node) accumulate(grads, target.node, g, add);
          else accumulateLeaf(target, g, add);
        });
      } finally {
        for (const g of inputGrads) g?.dispose();
      }
      if (!options.retainGraph) node.freeSaved();
    }
  } finally {
    engine.gradEnabled = wasEnabled;
    for (const g of grads.values()) g.dispose();
  }
}
