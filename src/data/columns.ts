/**
 * Columns of user data for batching: any number of arrays that share their first dimension (the
 * examples), e.g. features and class labels, features and float regression targets, or images,
 * masks and weights. A batch gathers the same rows from every column.
 */
import type { BackendName, DType, TypedArray } from '../backend/types.js';
import { typedArrayFor } from '../backend/types.js';
import { fail, shapeStr } from '../errors.js';
import { tensor } from '../ops/creation.js';
import type { NestedArray, Tensor } from '../tensor.js';

/**
 * One column: a typed array (one value per example; Int32Array gives int32, anything else
 * float32), nested number arrays (`[[x0, x1], [x2, x3], ...]`, first dimension = examples), or a
 * flat buffer with its shape (and optionally its dtype).
 */
export type Column =
  | TypedArray
  | readonly NestedArray[]
  | { readonly values: ArrayLike<number>; readonly shape: readonly number[]; readonly dtype?: DType };

/** A column flattened once: row-major values, the shape of one example, its dtype. */
export interface PreparedColumn {
  values: ArrayLike<number>;
  rows: number;
  rowShape: number[];
  rowSize: number;
  dtype: DType;
}

function nestedShape(data: NestedArray, op: string, col: number): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0] as NestedArray;
  }
  if (typeof level !== 'number') fail(op, `column ${col}: expected numbers in the nested arrays, got ${typeof level}`);
  return shape;
}

function flattenNested(data: readonly NestedArray[], shape: readonly number[], op: string, col: number): Float64Array {
  const out = new Float64Array(shape.reduce((a, b) => a * b, 1));
  let k = 0;
  const walk = (node: NestedArray, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof node !== 'number') fail(op, `column ${col}: expected a number at ${path}, got ${Array.isArray(node) ? 'an array' : typeof node}`);
      out[k++] = node;
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[dim]) {
      fail(op, `column ${col}: ragged nested array: ${path} should be an array of length ${shape[dim]} (inferred shape ${shapeStr(shape)})`);
    }
    node.forEach((child, i) => walk(child, dim + 1, `${path}[${i}]`));
  };
  walk(data as NestedArray, 0, 'data');
  return out;
}

function isTyped(c: unknown): c is TypedArray {
  return ArrayBuffer.isView(c) && !(c instanceof DataView);
}

/** Checks and flattens the columns once; every column must have the same number of examples. */
export function prepareColumns(columns: readonly Column[], op: string): PreparedColumn[] {
  if (!Array.isArray(columns) || columns.length === 0) fail(op, 'expected a non-empty array of columns (e.g. [features, targets])');
  const prepared = columns.map((c, i): PreparedColumn => {
    if (isTyped(c)) {
      return { values: c, rows: c.length, rowShape: [], rowSize: 1, dtype: c instanceof Int32Array ? 'int32' : 'float32' };
    }
    if (Array.isArray(c)) {
      const shape = nestedShape(c as NestedArray, op, i);
      const values = flattenNested(c, shape, op, i);
      return { values, rows: shape[0]!, rowShape: shape.slice(1), rowSize: shape.slice(1).reduce((a, b) => a * b, 1), dtype: 'float32' };
    }
    if (c && typeof c === 'object' && 'values' in c && 'shape' in c) {
      const shape = [...c.shape];
      if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 0)) fail(op, `column ${i}: shape must list non-negative integers, the first being the examples; got ${shapeStr(shape)}`);
      const size = shape.reduce((a, b) => a * b, 1);
      if (c.values.length !== size) fail(op, `column ${i}: ${c.values.length} values do not fill shape ${shapeStr(shape)} (${size} values)`);
      const dtype = c.dtype ?? (c.values instanceof Int32Array ? 'int32' : 'float32');
      return { values: c.values, rows: shape[0]!, rowShape: shape.slice(1), rowSize: shape.slice(1).reduce((a, b) => a * b, 1), dtype };
    }
    return fail(op, `column ${i}: expected a typed array, nested number arrays or { values, shape }, got ${c === null ? 'null' : typeof c}`);
  });
  const n = prepared[0]!.rows;
  prepared.forEach((p, i) => {
    if (p.rows !== n) fail(op, `column ${i} has ${p.rows} examples but column 0 has ${n}; every column needs one entry per example`);
  });
  return prepared;
}

/** The rows `order[start .. start+size)` of a column as a tensor of shape [size, ...rowShape]. */
export function gatherRows(c: PreparedColumn, order: ArrayLike<number>, start: number, size: number, device?: BackendName): Tensor {
  const out = typedArrayFor(c.dtype, size * c.rowSize);
  for (let i = 0; i < size; i++) {
    const r = order[start + i]!;
    const from = r * c.rowSize;
    if (c.rowSize === 1) out[i] = c.values[from]!;
    else for (let j = 0; j < c.rowSize; j++) out[i * c.rowSize + j] = c.values[from + j]!;
  }
  return tensor(out, { shape: [size, ...c.rowShape], dtype: c.dtype, ...(device ? { device } : {}) });
}
