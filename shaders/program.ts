/**
 * One declaration per WebGPU kernel: its storage bindings (element type and access), its uniforms
 * by name and type, its workgroup size and its WGSL body. Everything that must agree between the
 * shader and the host is generated from that one object:
 *  - the `@group(0) @binding(n)` declarations (binding 0 is the uniform struct `P`, then the
 *    storage bindings in declaration order, each a `var` named after its key);
 *  - the uniform `struct Params` with WGSL's alignment rules, and `pack(values)`, which writes the
 *    values by name at the same offsets (a missing or misspelled name is a TypeScript error);
 *  - the bind group layout signature and the pipeline cache key.
 *
 * Why: before this, each kernel's contract was written twice (a WGSL struct in shaders/, positional
 * `p.u32[i] = ...` writes in the host file) with nothing tying the copies together, so a misplaced
 * field was a silent wrong result. This module is a leaf: it imports nothing from src/.
 */

export type ScalarType = 'u32' | 'i32' | 'f32';
export type VectorType = `vec2<${ScalarType}>` | `vec3<${ScalarType}>` | `vec4<${ScalarType}>`;
/** `length` scalars stored as array<vec4<T>, ceil(length / 4)> (uniform arrays need a 16-byte stride). */
export interface UniformArray {
  readonly array: ScalarType;
  readonly length: number;
}
export type UniformType = ScalarType | VectorType | UniformArray;
export type UniformDecls = Readonly<Record<string, UniformType>>;

export type Access = 'read' | 'read_write';
/** Element type of an array of atomics (integer counters; the binding must be read_write). */
export type AtomicType = 'atomic<i32>' | 'atomic<u32>';
/** IEEE binary16 storage (WGSL `enable f16;`, which needs the device feature 'shader-f16'). */
export type HalfType = 'f16' | 'vec2<f16>' | 'vec4<f16>';
export interface BindingDecl {
  /** Element type of the array<...> the binding holds. */
  readonly type: ScalarType | VectorType | AtomicType | HalfType;
  readonly access: Access;
}
export type BindingDecls = Readonly<Record<string, BindingDecl>>;

/** The host value of a uniform: a number for a scalar, numbers for a vector or array. */
export type UniformValue<T extends UniformType> = T extends ScalarType ? number : readonly number[];
export type UniformValues<U extends UniformDecls> = { readonly [K in keyof U]: UniformValue<U[K]> };
/** The buffers of a dispatch, by binding name. */
export type BindingBuffers<B extends BindingDecls, Buf> = { readonly [K in keyof B]: Buf };

export type WorkgroupSize = number | readonly [number, number, number];

export interface KernelDecl<B extends BindingDecls, U extends UniformDecls> {
  /** Identifies the specialisation (op, element type, flags): the cache key starts with it. */
  readonly name: string;
  readonly bindings: B;
  readonly uniforms: U;
  readonly workgroupSize: WorkgroupSize;
  /**
   * Statements of `fn main`. In scope: `gid`, `wid`, `nwg` (vec3<u32>) and `lid` (local index);
   * with a one-dimensional workgroup size also `i`, the linear invocation id over a dispatch folded
   * into (x, y) workgroups. A function is called only when the pipeline is built.
   */
  readonly body: string | (() => string);
  /** Module-scope WGSL placed before `main` (helper functions, workgroup arrays). */
  readonly helpers?: string | (() => string);
  /**
   * Uses subgroup builtins (WGSL `enable subgroups;`, which needs the device feature 'subgroups'):
   * `main` then also has `sgid` (subgroup_invocation_id) and `sgsize` (subgroup_size) in scope.
   */
  readonly subgroups?: boolean;
}

/** One uniform's place in the struct. */
export interface UniformField {
  readonly name: string;
  readonly type: UniformType;
  readonly wgsl: string;
  readonly offset: number;
  readonly size: number;
  readonly align: number;
}

export interface KernelProgram<B extends BindingDecls, U extends UniformDecls> {
  readonly decl: KernelDecl<B, U>;
  /** Pipeline cache key: the name plus the binding and uniform signatures. */
  readonly key: string;
  /** Access of each storage binding, in binding order (binding 1 + index); the layout signature. */
  readonly access: readonly Access[];
  readonly bindingNames: readonly (keyof B & string)[];
  readonly fields: readonly UniformField[];
  /** Bytes of the uniform struct (a multiple of 16). */
  readonly uniformBytes: number;
  /** The complete WGSL module (built on first use). */
  wgsl(): string;
  /** The uniform bytes with every value at its WGSL offset. */
  pack(values: UniformValues<U>): Uint32Array;
  /** The buffers in binding order (what Batcher.dispatch takes). */
  order<Buf>(buffers: BindingBuffers<B, Buf>): Buf[];
}

const SCALARS: readonly string[] = ['u32', 'i32', 'f32'];

function scalarOf(t: UniformType): ScalarType {
  if (typeof t === 'object') return t.array;
  if (SCALARS.includes(t)) return t as ScalarType;
  return t.slice(5, 8) as ScalarType;
}

/** WGSL type, size and alignment (WGSL §13.4, uniform address space). */
function fieldShape(name: string, t: UniformType): { wgsl: string; size: number; align: number; lanes: number } {
  if (typeof t === 'object') {
    if (!Number.isInteger(t.length) || t.length < 1) throw new Error(`kernel uniform ${name}: array length must be a positive integer, got ${t.length}`);
    const slots = Math.ceil(t.length / 4);
    return { wgsl: `array<vec4<${t.array}>, ${slots}>`, size: 16 * slots, align: 16, lanes: t.length };
  }
  if (SCALARS.includes(t)) return { wgsl: t, size: 4, align: 4, lanes: 1 };
  const n = Number(t[3]);
  return { wgsl: t, size: 4 * n, align: n === 2 ? 8 : 16, lanes: n };
}

const IDENT = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Names the generated code uses itself. */
const RESERVED = new Set(['P', 'Params', 'main', 'gid', 'wid', 'nwg', 'lid', 'i', 'sgid', 'sgsize']);

function checkName(kernel: string, what: string, name: string): void {
  if (!IDENT.test(name) || RESERVED.has(name)) throw new Error(`kernel ${kernel}: ${what} name '${name}' is not a usable WGSL identifier`);
}

/** Lays out the uniform struct; exported for the tests. */
export function layoutUniforms(uniforms: UniformDecls): { fields: UniformField[]; bytes: number } {
  const fields: UniformField[] = [];
  let offset = 0;
  let maxAlign = 16;
  for (const [name, type] of Object.entries(uniforms)) {
    const s = fieldShape(name, type);
    offset = Math.ceil(offset / s.align) * s.align;
    fields.push({ name, type, wgsl: s.wgsl, offset, size: s.size, align: s.align });
    offset += s.size;
    maxAlign = Math.max(maxAlign, s.align);
  }
  return { fields, bytes: Math.max(16, Math.ceil(offset / maxAlign) * maxAlign) };
}

function typeKey(t: UniformType): string {
  return typeof t === 'object' ? `${t.array}[${t.length}]` : t;
}

export function defineKernel<const B extends BindingDecls, const U extends UniformDecls>(decl: KernelDecl<B, U>): KernelProgram<B, U> {
  const bindingNames = Object.keys(decl.bindings) as (keyof B & string)[];
  for (const b of bindingNames) {
    checkName(decl.name, 'binding', b);
    const d = decl.bindings[b]!;
    if (d.type.startsWith('atomic') && d.access !== 'read_write') throw new Error(`kernel ${decl.name}: atomic binding '${b}' must be read_write`);
  }
  for (const u of Object.keys(decl.uniforms)) checkName(decl.name, 'uniform', u);
  const access = bindingNames.map((b) => decl.bindings[b]!.access);
  const { fields, bytes } = layoutUniforms(decl.uniforms);
  const wg = decl.workgroupSize;
  const wgCount = typeof wg === 'number' ? wg : wg[0] * wg[1] * wg[2];
  if (!Number.isInteger(wgCount) || wgCount < 1) throw new Error(`kernel ${decl.name}: bad workgroup size ${String(wg)}`);
  const bindSig = bindingNames.map((b) => `${b}:${decl.bindings[b]!.type}:${decl.bindings[b]!.access === 'read' ? 'r' : 'rw'}`).join(',');
  const uniSig = fields.map((f) => `${f.name}:${typeKey(f.type)}`).join(',');
  const key = `${decl.name}|${bindSig}|${uniSig}|${typeof wg === 'number' ? wg : wg.join('x')}`;

  let source: string | null = null;
  const wgsl = (): string => {
    if (source !== null) return source;
    const members = fields.length ? fields.map((f) => `${f.name}: ${f.wgsl}`).join(', ') : '_unused: u32';
    const lines = [`struct Params { ${members} }`, '@group(0) @binding(0) var<uniform> P: Params;'];
    bindingNames.forEach((b, k) => {
      const d = decl.bindings[b]!;
      lines.push(`@group(0) @binding(${k + 1}) var<storage, ${d.access}> ${b}: array<${d.type}>;`);
    });
    const helpers = typeof decl.helpers === 'function' ? decl.helpers() : (decl.helpers ?? '');
    const body = typeof decl.body === 'function' ? decl.body() : decl.body;
    const size = typeof wg === 'number' ? `${wg}` : wg.join(', ');
    // global_invocation_id is what drivers compute anyway; deriving i from workgroup_id and
    // local_invocation_index measured ~2x slower on lavapipe for memory-bound kernels.
    const linear = typeof wg === 'number' ? `  let i = gid.x + gid.y * (nwg.x * ${wg}u);\n` : '';
    // A binding of f16 elements needs the extension, declared before anything else in the module.
    let enable = bindingNames.some((b) => decl.bindings[b]!.type.includes('f16')) ? 'enable f16;\n' : '';
    if (decl.subgroups) enable += 'enable subgroups;\n';
    const sg = decl.subgroups ? ',\n        @builtin(subgroup_invocation_id) sgid: u32, @builtin(subgroup_size) sgsize: u32' : '';
    source = `${enable}${helpers}
${lines.join('\n')}

@compute @workgroup_size(${size})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32${sg}) {
${linear}${body}
}
`;
    return source;
  };

  // The per-field facts pack() needs, worked out once: pack runs on every dispatch, and building
  // a DataView, a closure and a list per field there cost several µs of the tiny-op round trip.
  const plan = fields.map((f) => {
    const lanes = fieldShape(f.name, f.type).lanes;
    const array = typeof f.type === 'object';
    return { name: f.name, type: f.type, word: f.offset / 4, kind: scalarOf(f.type), lanes, array, scalar: !array && lanes === 1 };
  });
  const words = bytes / 4;
  const mismatch = (p: (typeof plan)[number], v: number | readonly number[]): Error =>
    new Error(`kernel ${decl.name}: uniform '${p.name}' (${typeKey(p.type)}) got ${typeof v === 'number' ? 'a number' : `${v.length} values`}`);

  const pack = (values: UniformValues<U>): Uint32Array => {
    // Little-endian words, as the DataView writes were (every WebGPU host is little-endian).
    const u32 = new Uint32Array(words);
    const f32 = new Float32Array(u32.buffer);
    const given = values as Readonly<Record<string, number | readonly number[]>>;
    for (const p of plan) {
      const v = given[p.name];
      if (v === undefined) throw new Error(`kernel ${decl.name}: uniform '${p.name}' has no value`);
      if (typeof v === 'number') {
        if (!p.scalar) throw mismatch(p, v);
        if (p.kind === 'f32') f32[p.word] = v;
        else u32[p.word] = p.kind === 'i32' ? v | 0 : v >>> 0;
        continue;
      }
      if (p.scalar || (p.array ? v.length > p.lanes : v.length !== p.lanes)) throw mismatch(p, v);
      for (let k = 0; k < v.length; k++) {
        const x = v[k]!;
        if (p.kind === 'f32') f32[p.word + k] = x;
        else u32[p.word + k] = p.kind === 'i32' ? x | 0 : x >>> 0;
      }
    }
    // Every given name is a declared uniform (counting is enough: each declared one was found).
    let count = 0;
    for (const name in given) if (Object.prototype.hasOwnProperty.call(given, name)) count++;
    if (count !== plan.length) {
      for (const name of Object.keys(given)) {
        if (!(name in decl.uniforms)) throw new Error(`kernel ${decl.name}: unknown uniform '${name}'`);
      }
    }
    return u32;
  };

  const order = <Buf>(buffers: BindingBuffers<B, Buf>): Buf[] =>
    bindingNames.map((b) => {
      const buf = buffers[b];
      if (buf === undefined) throw new Error(`kernel ${decl.name}: no buffer for binding '${b}'`);
      return buf;
    });

  return { decl, key, access, bindingNames, fields, uniformBytes: bytes, wgsl, pack, order };
}

/**
 * Memoizes a declaration function by its (primitive) arguments, so a specialisation's program (its
 * layout and key) is computed once, not per dispatch.
 */
export function kernelFamily<A extends readonly (string | number | boolean)[], R>(declare: (...args: A) => R): (...args: A) => R {
  const cache = new Map<string, R>();
  return (...args: A): R => {
    const k = args.join('|');
    let r = cache.get(k);
    if (r === undefined) {
      r = declare(...args);
      cache.set(k, r);
    }
    return r;
  };
}
