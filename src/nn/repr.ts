/**
 * How a module prints: its architecture exactly as PyTorch's `print(model)` writes it (children as
 * `(name): Child(...)`, each layer's `extra_repr` in PyTorch's words and Python's spelling of
 * numbers and booleans, so the two can be compared line by line), and `summary()`: a table of
 * parameter counts per layer.
 *
 * The layers are recognised by their fields, not imported: module.ts calls this file, and layers.ts
 * extends module.ts, so importing the layer classes here would make an import cycle.
 */
import type { Tensor } from '../tensor.js';

/** What this file needs of a Module (structural, to keep the dependency one-way). */
export interface Describable {
  readonly training: boolean;
  extraRepr(): string;
  namedChildren(): Iterable<[string, Describable]>;
  namedParameters(prefix?: string): Iterable<[string, Tensor]>;
  namedOwnParameters(): Iterable<[string, Tensor]>;
  namedOwnBuffers(): Iterable<[string, Tensor]>;
}

/** Python's repr of a float: 1e-05, 0.1, 1.0. */
export function pyFloat(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'nan' : v > 0 ? 'inf' : '-inf';
  if (v !== 0 && (Math.abs(v) < 1e-4 || Math.abs(v) >= 1e16)) {
    const [mant, exp] = v.toExponential().split('e') as [string, string];
    const sign = exp.startsWith('-') ? '-' : '+';
    const digits = exp.replace(/^[+-]/, '').padStart(2, '0');
    return `${mant}e${sign}${digits}`;
  }
  return Number.isInteger(v) ? `${v}.0` : String(v);
}

const pyBool = (b: boolean): string => (b ? 'True' : 'False');

type Fields = Record<string, unknown>;
const num = (m: Fields, k: string): number | undefined => (typeof m[k] === 'number' ? (m[k] as number) : undefined);

/** PyTorch's extra_repr for the built-in layers, recognised by their fields. */
export function defaultExtraRepr(module: object): string {
  const m = module as Fields;
  const inF = num(m, 'inFeatures');
  const outF = num(m, 'outFeatures');
  if (inF !== undefined && outF !== undefined) return `in_features=${inF}, out_features=${outF}, bias=${pyBool(m['bias'] != null)}`;
  const nf = num(m, 'numFeatures');
  const eps = num(m, 'eps');
  const momentum = num(m, 'momentum');
  if (nf !== undefined && eps !== undefined && momentum !== undefined) {
    const affine = m['weight'] != null;
    const tracking = typeof (module as Partial<Describable>).namedOwnBuffers === 'function' && [...(module as Describable).namedOwnBuffers()].length > 0;
    return `${nf}, eps=${pyFloat(eps)}, momentum=${pyFloat(momentum)}, affine=${pyBool(affine)}, track_running_stats=${pyBool(tracking)}`;
  }
  const p = num(m, 'p');
  if (p !== undefined) return `p=${pyFloat(p)}, inplace=False`;
  const slope = num(m, 'negativeSlope');
  if (slope !== undefined) return `negative_slope=${pyFloat(slope)}`;
  if (m['approximate'] === 'none' || m['approximate'] === 'tanh') return `approximate='${m['approximate'] as string}'`;
  return '';
}

function indentRest(s: string, spaces: number): string {
  const lines = s.split('\n');
  return [lines[0], ...lines.slice(1).map((l) => ' '.repeat(spaces) + l)].join('\n');
}

/** PyTorch's Module.__repr__. */
export function moduleRepr(m: Describable): string {
  const name = (m as object).constructor.name;
  const extra = m.extraRepr();
  const lines = extra ? extra.split('\n') : [];
  for (const [key, child] of m.namedChildren()) lines.push(`(${key}): ${indentRest(moduleRepr(child), 2)}`);
  let main = `${name}(`;
  const hasChildren = [...m.namedChildren()].length > 0;
  if (lines.length > 0) {
    if (lines.length === 1 && !hasChildren) main += extra;
    else main += `\n  ${lines.join('\n  ')}\n`;
  }
  return `${main})`;
}

export interface SummaryRow {
  /** Dotted path ("0", "net.1"), "" for the root. */
  name: string;
  type: string;
  /** Parameters the layer holds itself (not its children's), with their shapes. */
  params: number;
  shapes: string[];
  trainable: number;
}

/** One row per module that holds parameters of its own, then the totals. */
export function summaryRows(m: Describable): { rows: SummaryRow[]; total: number; trainable: number } {
  const rows: SummaryRow[] = [];
  const walk = (mod: Describable, path: string): void => {
    const own = [...mod.namedOwnParameters()];
    const type = (mod as object).constructor.name;
    const children = [...mod.namedChildren()];
    if (own.length > 0 || children.length === 0) {
      rows.push({
        name: path,
        type,
        params: own.reduce((a, [, p]) => a + p.size, 0),
        shapes: own.map(([k, p]) => `${k} [${p.shape.join(', ')}]`),
        trainable: own.reduce((a, [, p]) => a + (p.requiresGrad ? p.size : 0), 0),
      });
    }
    for (const [k, child] of children) walk(child, path ? `${path}.${k}` : k);
  };
  walk(m, '');
  return { rows, total: rows.reduce((a, r) => a + r.params, 0), trainable: rows.reduce((a, r) => a + r.trainable, 0) };
}

const thousands = (n: number): string => n.toLocaleString('en-US');

/** A printable table: layer, type, parameter shapes, count; then total and trainable counts. */
export function summary(m: Describable): string {
  const { rows, total, trainable } = summaryRows(m);
  const table = [['Layer', 'Type', 'Parameters', 'Count'], ...rows.map((r) => [r.name || '(root)', r.type, r.shapes.join(', ') || '-', thousands(r.params)])];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  const line = (row: string[]): string => row.map((cell, c) => (c === 3 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  const rule = '-'.repeat(widths.reduce((a, w) => a + w, 0) + 2 * (widths.length - 1));
  return [line(table[0]!), rule, ...table.slice(1).map(line), rule, `Total parameters: ${thousands(total)}`, `Trainable parameters: ${thousands(trainable)}`, `Non-trainable parameters: ${thousands(total - trainable)}`].join('\n');
}
