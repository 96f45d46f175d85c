/**
 * A tensor's string form, as PyTorch prints it: `tensor([[ 0.1000, -2.0000], ...], ...)` with 4
 * decimals (or `1.` for whole numbers, or `1.0000e+05` over a wide range), right-aligned columns,
 * and past 1,000 elements only the 3 first and last entries of each dimension around "...".
 *
 * Reading is async, and toString() cannot wait, so the values shown are those of the last read
 * (`data()`, `array()`, `item()`, `print()`): each read keeps the abbreviated part (at most a few
 * hundred numbers) next to the storage. A storage an optimizer updates in place forgets them.
 */
import type { DType, TypedArray } from './backend/types.js';
import { shapeStr } from './errors.js';

/** PyTorch's print options (torch.set_printoptions defaults). */
const PRECISION = 4;
const THRESHOLD = 1000;
const EDGE_ITEMS = 3;
const LINE_WIDTH = 80;

/** Node's util.inspect hook, without importing node:util (the module stays browser-safe). */
export const inspectSymbol: unique symbol = Symbol.for('nodejs.util.inspect.custom') as never;

/** The part of a tensor's values that is printed: a nested list with null where "..." goes. */
type Picked = number | null | Picked[];

interface Remembered {
  shape: readonly number[];
  /** What is printed; worked out at the first print (a read must stay cheap: most are never printed). */
  picked: Picked | null;
  /** A copy of the values until `picked` is made (small tensors only; null once picked). */
  values: TypedArray | null;
  summarized: boolean;
}

function pickedOf(r: Remembered): Picked {
  if (r.picked === null) {
    r.picked = pick(r.values!, r.shape, r.summarized);
    r.values = null;
  }
  return r.picked;
}

const remembered = new WeakMap<object, Remembered>();

function pick(values: TypedArray, shape: readonly number[], summarize: boolean): Picked {
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const go = (dim: number, offset: number): Picked => {
    if (dim === shape.length) return Number(values[offset]);
    const n = shape[dim]!;
    const at = (i: number): Picked => go(dim + 1, offset + i * strides[dim]!);
    if (summarize && n > 2 * EDGE_ITEMS) {
      const head = Array.from({ length: EDGE_ITEMS }, (_, i) => at(i));
      const tail = Array.from({ length: EDGE_ITEMS }, (_, i) => at(n - EDGE_ITEMS + i));
      return [...head, null, ...tail];
    }
    return Array.from({ length: n }, (_, i) => at(i));
  };
  return go(0, 0);
}

/** Called by every read: keeps what toString() will show. `key` is the storage read from. */
export function rememberValues(key: object, shape: readonly number[], values: TypedArray): void {
  const summarized = values.length > THRESHOLD;
  // Up to THRESHOLD values are copied (the caller owns `values` and may change them) and picked
  // only if printed; a larger tensor's few edge values are picked now.
  if (summarized) remembered.set(key, { shape: [...shape], picked: pick(values, shape, true), values: null, summarized });
  else remembered.set(key, { shape: [...shape], picked: null, values: values.slice(), summarized });
}

/** An in-place update changed the storage: what was read no longer holds. */
export function forgetValues(key: object): void {
  remembered.delete(key);
}

function flatten(p: Picked, into: number[] = []): number[] {
  if (typeof p === 'number') into.push(p);
  else if (Array.isArray(p)) for (const q of p) flatten(q, into);
  return into;
}

/** Chooses one number format for all the values shown, as PyTorch's _Formatter does. */
function makeFormatter(values: number[], floating: boolean): (v: number) => string {
  if (!floating) return (v) => String(v);
  const special = (v: number): string | null => (Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : null);
  const finite = values.filter((v) => Number.isFinite(v));
  const nonzero = finite.filter((v) => v !== 0).map(Math.abs);
  const intMode = finite.every((v) => Number.isInteger(v));
  const max = nonzero.length ? Math.max(...nonzero) : 0;
  const min = nonzero.length ? Math.min(...nonzero) : 0;
  const wide = nonzero.length > 0 && (max / min > 1000 || max > 1e8);
  const sci = nonzero.length > 0 && (wide || (!intMode && min < 1e-4));
  const fmt = (v: number): string => {
    const s = special(v);
    if (s !== null) return s;
    if (sci) {
      // JS writes 1.0000e+5; Python (and PyTorch) 1.0000e+05.
      return v.toExponential(PRECISION).replace(/e([+-])(\d)$/, 'e$10$2');
    }
    if (intMode) return `${v.toFixed(0)}.`;
    return v.toFixed(PRECISION);
  };
  return fmt;
}

function body(p: Picked, indent: number, fmt: (v: number) => string, width: number, rank: number): string {
  const pad = (s: string): string => ' '.repeat(Math.max(0, width - s.length)) + s;
  if (typeof p === 'number') return pad(fmt(p));
  if (!Array.isArray(p)) return '...';
  if (rank === 1) {
    const items = p.map((v) => (v === null ? ' ...' : pad(fmt(v as number))));
    const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent) / (width + 2)));
    const lines: string[] = [];
    for (let i = 0; i < items.length; i += perLine) lines.push(items.slice(i, i + perLine).join(', '));
    return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
  }
  const slices = p.map((q) => (q === null ? '...' : body(q, indent + 1, fmt, width, rank - 1)));
  return `[${slices.join(`,${'\n'.repeat(rank - 1)}${' '.repeat(indent + 1)}`)}]`;
}

/** The values part of the string form, PyTorch's layout (indent 7 = "tensor(".length). */
function formatValues(r: Remembered, dtype: DType): string {
  const floating = dtype.startsWith('float');
  const picked = pickedOf(r);
  const fmt = makeFormatter(flatten(picked), floating);
  const width = Math.max(0, ...flatten(picked).map((v) => fmt(v).length));
  if (r.shape.length > 0 && r.shape.some((d) => d === 0)) return '[]';
  return body(picked, 7, fmt, width, r.shape.length);
}

export interface Printable {
  readonly id: number;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly device: string;
  readonly requiresGrad: boolean;
}

/**
 * `tensor([[1., 2.], [3., 4.]], shape=[2, 2], dtype=float32, device='webgpu')` once read, or
 * `tensor(<values not read: await t.print()>, shape=..., ...)` before; `key` is the storage (null
 * when disposed).
 */
export function formatTensor(t: Printable, key: object | null): string {
  if (key === null) return `tensor(<disposed>, id=${t.id}, shape=${shapeStr(t.shape)})`;
  const suffix = `shape=${shapeStr(t.shape)}, dtype=${t.dtype}, device='${t.device}'${t.requiresGrad ? ', requiresGrad=true' : ''}`;
  const r = remembered.get(key);
  const values = r && r.shape.join() === t.shape.join() ? formatValues(r, t.dtype) : '<values not read: await t.print()>';
  return `tensor(${values}, ${suffix})`;
}
