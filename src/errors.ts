/** Errors that name the op, the argument and what was expected, thrown where the user made the mistake. */
export class WebgradError extends Error {
  override name = 'WebgradError';
}

export function fail(op: string, message: string): never {
  throw new WebgradError(`${op}: ${message}`);
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
