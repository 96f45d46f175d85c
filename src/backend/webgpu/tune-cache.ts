/**
 * Where the matmul autotune keeps its result between runs, and how a stored result is trusted.
 *
 * Node: one JSON file per adapter in a per-user cache folder, `$XDG_CACHE_HOME/webgrad` or else
 * `~/.cache/webgrad` (created with mode 0700), never a fixed name in the shared temp folder, where
 * another user could plant a file. Browsers: localStorage, as before. Elsewhere: nowhere.
 *
 * A stored result is only a speed hint, so anything doubtful is ignored (and the caller re-tunes
 * and rewrites it): text that is not JSON, another version of the format (stale), another adapter,
 * a result tuned over another set of designs, missing or extra access patterns, a shape that is not
 * one the tune could have chosen. The key is thus adapter + driver (in the adapter's description) +
 * design set + format version. A write
 * goes to a temporary file in the same folder and is renamed over the old one, so a reader (another
 * process) sees the old file or the new one, never half of one. Failing to read or write only costs
 * a re-tune.
 */

export type TuneShape = [number, number];
/** A design and its workgroup shape, as the tune stores it per access pattern. */
export interface TuneChoice {
  design: string;
  shape: TuneShape;
}

/**
 * Bumped when the format or the matmul kernels change, so older results are stale. 3: a choice is
 * a design and a shape (version 2 stored shapes only). 4: the record names the design set it chose
 * from (a result tuned without a design cannot say that design loses). 5: the transposed-A pattern
 * is timed at a weight gradient's shape (k = the batch) and finalists are re-timed.
 */
export const TUNE_CACHE_VERSION = 5;

export interface TuneRecord {
  version: number;
  adapter: string;
  /** The designs the tune chose among, comma-separated, as TuneCacheRules.designs. */
  designs: string;
  choices: Record<string, TuneChoice>;
}

export interface TuneCacheRules {
  /** The access-pattern keys a complete result has, exactly. */
  patterns: readonly string[];
  /** Design-and-shape pairs the tune can choose; anything else is refused. */
  allowed: readonly TuneChoice[];
  /** Largest x·y the device runs in one workgroup. */
  maxInvocations: number;
  /** The current design set; a record tuned over another set is stale. */
  designs: string;
}

/** The choices of a stored result when it is well-formed, current and for this adapter; else null. */
export function parseTuneRecord(raw: string, adapter: string, rules: TuneCacheRules): Record<string, TuneChoice> | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  // Stryker disable next-line BlockStatement: equivalent, without the early return v stays undefined and the next line returns null
  } catch {
    return null;
  }
  if (!isPlainObject(v)) return null;
  if (v['version'] !== TUNE_CACHE_VERSION || v['adapter'] !== adapter || v['designs'] !== rules.designs) return null;
  const choices = v['choices'];
  if (!isPlainObject(choices)) return null;
  const keys = Object.keys(choices);
  // Stryker disable next-line MethodExpression: equivalent with 'some', the loop below returns null for any pattern missing from choices
  if (keys.length !== rules.patterns.length || !rules.patterns.every((p) => keys.includes(p))) return null;
  const out: Record<string, TuneChoice> = {};
  for (const p of rules.patterns) {
    const c = choices[p];
    if (!isPlainObject(c) || Object.keys(c).length !== 2) return null;
    const design = c['design'];
    const s = c['shape'];
    if (typeof design !== 'string') return null;
    if (!Array.isArray(s) || s.length !== 2) return null;
    const [x, y] = s as unknown[];
    // Stryker disable next-line LogicalOperator: equivalent, a non-integer x or y matches no allowed shape (all integers) on the next line
    if (!Number.isInteger(x) || !Number.isInteger(y)) return null;
    if (!rules.allowed.some((a) => a.design === design && a.shape[0] === x && a.shape[1] === y)) return null;
    if ((x as number) * (y as number) > rules.maxInvocations) return null;
    out[p] = { design, shape: [x as number, y as number] };
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

export interface TuneStore {
  /** Where it lives, for messages and tests. */
  readonly where: string;
  get(adapter: string): Promise<string | null>;
  set(adapter: string, value: string): Promise<void>;
}

function hashKey(s: string): string {
  // FNV-1a, 32 bits: a file name per adapter; the adapter string inside the file is what is checked.
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

type NodeEnv = { versions?: { node?: string }; env?: Record<string, string | undefined>; pid?: number };

function nodeProcess(): NodeEnv | undefined {
  const p = (globalThis as { process?: NodeEnv }).process;
  return typeof p?.versions?.node === 'string' ? p : undefined;
}

const nodeOnly = (s: string): Promise<unknown> => import(/* @vite-ignore */ /* webpackIgnore: true */ s);

/** The per-user cache folder in Node: $XDG_CACHE_HOME/webgrad, else ~/.cache/webgrad (null if neither is known). */
export async function nodeCacheDir(): Promise<string | null> {
  const proc = nodeProcess();
  if (!proc) return null;
  const path = (await nodeOnly('node:path')) as typeof import('node:path');
  const xdg = proc.env?.['XDG_CACHE_HOME'];
  // The XDG spec says a relative path is invalid and must be ignored.
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'webgrad');
  const os = (await nodeOnly('node:os')) as typeof import('node:os');
  // Stryker disable next-line StringLiteral: equivalent, the initial value is overwritten, or the catch returns null without reading it
  let home = '';
  try {
    home = os.homedir();
  } catch {
    return null;
  }
  return home ? path.join(home, '.cache', 'webgrad') : null;
}

/**
 * Which tune a record belongs to: each kind has its own files (`<kind>-tune-<hash>.json`) and
 * localStorage keys, so the batch-norm and reduce records are never named as matmul ones.
 */
export type TuneKind = 'matmul' | 'batchnorm' | 'reduce';

/** The file a Node process keeps an adapter's result in. */
export async function nodeCacheFile(adapter: string, kind: TuneKind = 'matmul'): Promise<string | null> {
  const dir = await nodeCacheDir();
  if (!dir) return null;
  const path = (await nodeOnly('node:path')) as typeof import('node:path');
  return path.join(dir, `${kind}-tune-${hashKey(adapter)}.json`);
}

function nodeStore(kind: TuneKind): TuneStore {
  return {
    where: 'the per-user cache folder ($XDG_CACHE_HOME/webgrad or ~/.cache/webgrad)',
    async get(adapter) {
      const file = await nodeCacheFile(adapter, kind);
      if (!file) return null;
      const fs = (await nodeOnly('node:fs')) as typeof import('node:fs');
      try {
        return fs.readFileSync(file, 'utf8');
      } catch {
        return null;
      }
    },
    async set(adapter, value) {
      const file = await nodeCacheFile(adapter, kind);
      if (!file) return;
      const fs = (await nodeOnly('node:fs')) as typeof import('node:fs');
      const path = (await nodeOnly('node:path')) as typeof import('node:path');
      // Stryker disable next-line LogicalOperator,OptionalChaining,MethodExpression: equivalent, any name in the same folder unused by another writer serves (pid and random part only make it unique)
      const tmp = `${file}.${nodeProcess()?.pid ?? 0}.${Math.random().toString(36).slice(2)}.tmp`;
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
        fs.writeFileSync(tmp, value, { mode: 0o600 });
        fs.renameSync(tmp, file);
      } catch {
        // A read-only or full disk only costs a re-tune next time; leave no temporary file behind.
        try {
          // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, without force a missing file throws into the empty catch around it
          fs.rmSync(tmp, { force: true });
        } catch {
          /* nothing more to do */
        }
      }
    },
  };
}

/** Where tune results persist: localStorage in browsers, the per-user cache folder in Node, else nowhere. */
export function tuneStore(kind: TuneKind = 'matmul'): TuneStore {
  const ls = (globalThis as { localStorage?: Storage }).localStorage;
  if (ls) {
    const key = (adapter: string) => `webgrad-${kind}-tune:${adapter}`;
    return {
      where: 'localStorage',
      get: async (adapter) => {
        try {
          return ls.getItem(key(adapter));
        } catch {
          return null;
        }
      },
      set: async (adapter, value) => {
        try {
          ls.setItem(key(adapter), value);
        } catch {
          /* quota or privacy mode: only costs a re-tune */
        }
      },
    };
  }
  if (nodeProcess()) return nodeStore(kind);
  return { where: 'nowhere', get: async () => null, set: async () => undefined };
}
