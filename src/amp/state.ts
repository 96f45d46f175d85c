/**
 * Whether autocast is on: a leaf module (no imports) so the ops that consult it (linear, the
 * losses) can import it without a cycle.
 */
let depth = 0;

/** True inside `autocast(fn)`. */
export function autocastEnabled(): boolean {
  return depth > 0;
}

/** @internal Enters (+1) or leaves (−1) an autocast region; regions nest. */
export function autocastDepth(delta: 1 | -1): void {
  depth = Math.max(0, depth + delta);
}
