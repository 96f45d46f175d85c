/**
 * The kernel declaration generator (shaders/program.ts): struct layout with WGSL alignment, packing
 * by name, the generated bindings, the cache key, and one real dispatch of a declared kernel with
 * mixed uniform types and two writable bindings.
 *
 * No adapter is a FAILURE in the GPU block (beforeAll throws), never a skip.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebGPUBackend } from '../src/backend/webgpu/backend.js';
import { defineKernel, layoutUniforms } from '../shaders/program.js';

const f32Bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0]!;

describe('uniform layout', () => {
  it('aligns scalars to 4, vec2 to 8, vec3/vec4/arrays to 16, and rounds the struct to 16', () => {
    const { fields, bytes } = layoutUniforms({
      a: 'u32',
      b: 'vec2<f32>',
      c: 'f32',
      d: 'vec4<i32>',
      e: 'i32',
      f: 'vec3<f32>',
      g: 'f32',
      h: { array: 'u32', length: 5 },
      k: 'u32',
    });
    const at = Object.fromEntries(fields.map((x) => [x.name, [x.offset, x.size]]));
    expect(at).toEqual({
      a: [0, 4],
      b: [8, 8], // vec2 aligned to 8: padding after a
      c: [16, 4],
      d: [32, 16], // vec4 aligned to 16
      e: [48, 4],
      f: [64, 12], // vec3 aligned to 16, size 12
      g: [76, 4], // a scalar fits in a vec3's tail
      h: [80, 32], // 5 scalars in 2 vec4 slots
      k: [112, 4],
    });
    expect(bytes).toBe(128);
    expect(layoutUniforms({}).bytes).toBe(16);
  });
});

const prog = defineKernel({
  name: 'test-axpy',
  bindings: { x: { type: 'f32', access: 'read' }, idx: { type: 'i32', access: 'read' }, out: { type: 'f32', access: 'read_write' }, aux: { type: 'u32', access: 'read_write' } },
  uniforms: { n: 'u32', off: 'vec2<i32>', alpha: 'f32', scale: 'vec4<f32>', shape: { array: 'u32', length: 3 }, tail: 'i32' },
  workgroupSize: 64,
  body: `  if (i >= P.n) { return; }
  out[i] = P.alpha * x[i] + P.scale.z + f32(idx[i] + P.off.y) + f32(P.shape[0].z);
  aux[i] = u32(P.tail) + P.shape[0].y;`,
});

describe('defineKernel', () => {
  it('packs each value at its field offset in its type, by name', () => {
    const words = prog.pack({ n: 7, off: [-3, 5], alpha: 0.5, scale: [1, 2, 3.25, 4], shape: [10, 20, 30], tail: -1 });
    expect(words.length * 4).toBe(prog.uniformBytes);
    const off = Object.fromEntries(prog.fields.map((f) => [f.name, f.offset / 4]));
    expect(words[off.n!]).toBe(7);
    expect(words[off.off!]).toBe(-3 >>> 0);
    expect(words[off.off! + 1]).toBe(5);
    expect(words[off.alpha!]).toBe(f32Bits(0.5));
    expect([...words.subarray(off.scale!, off.scale! + 4)]).toEqual([1, 2, 3.25, 4].map(f32Bits));
    expect([...words.subarray(off.shape!, off.shape! + 3)]).toEqual([10, 20, 30]);
    expect(words[off.tail!]).toBe(0xffffffff);
  });

  it('generates the struct and one binding per declared buffer, in order, with its access', () => {
    const src = prog.wgsl();
    expect(src).toContain('struct Params { n: u32, off: vec2<i32>, alpha: f32, scale: vec4<f32>, shape: array<vec4<u32>, 1>, tail: i32 }');
    expect(src).toContain('@group(0) @binding(0) var<uniform> P: Params;');
    expect(src).toContain('@group(0) @binding(1) var<storage, read> x: array<f32>;');
    expect(src).toContain('@group(0) @binding(2) var<storage, read> idx: array<i32>;');
    expect(src).toContain('@group(0) @binding(3) var<storage, read_write> out: array<f32>;');
    expect(src).toContain('@group(0) @binding(4) var<storage, read_write> aux: array<u32>;');
    expect(src).toContain('@workgroup_size(64)');
    expect(prog.access).toEqual(['read', 'read', 'read_write', 'read_write']);
    expect(prog.order({ aux: 'd', out: 'c', x: 'a', idx: 'b' })).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keys the pipeline by name, bindings, uniforms and workgroup size', () => {
    const again = defineKernel({ ...prog.decl });
    expect(again.key).toBe(prog.key);
    const otherType = defineKernel({ ...prog.decl, bindings: { ...prog.decl.bindings, x: { type: 'i32', access: 'read' } } });
    const otherUniform = defineKernel({ ...prog.decl, uniforms: { ...prog.decl.uniforms, shape: { array: 'u32', length: 5 } } });
    const otherWg = defineKernel({ ...prog.decl, workgroupSize: 128 });
    const keys = new Set([prog.key, otherType.key, otherUniform.key, otherWg.key]);
    expect(keys.size).toBe(4);
  });

  it('rejects wrong values at run time too (arrays too long, a vector of the wrong width, unknown names)', () => {
    const ok = { n: 1, off: [0, 0], alpha: 1, scale: [0, 0, 0, 0], shape: [1, 2, 3], tail: 0 };
    expect(() => prog.pack({ ...ok, shape: [1, 2, 3, 4] })).toThrow(/shape/);
    expect(() => prog.pack({ ...ok, off: [1, 2, 3] })).toThrow(/off/);
    const withExtra = { ...ok, extra: 1 };
    expect(() => prog.pack(withExtra)).toThrow(/unknown uniform 'extra'/);
    expect(() => defineKernel({ ...prog.decl, uniforms: { P: 'u32' } })).toThrow(/not a usable/);
  });

  it('makes a missing or misspelled uniform a compile error', () => {
    // Each call below must fail to type-check (tsc runs over test/): if the typing regresses, the
    // expect-error directive itself becomes the error. At run time pack throws as well.
    // @ts-expect-error 'alpah' is not a declared uniform (and 'alpha' is missing)
    expect(() => prog.pack({ n: 1, off: [0, 0], alpah: 1, scale: [0, 0, 0, 0], shape: [1], tail: 0 })).toThrow(/alpha/);
    // @ts-expect-error 'tail' is missing
    expect(() => prog.pack({ n: 1, off: [0, 0], alpha: 1, scale: [0, 0, 0, 0], shape: [1] })).toThrow(/tail/);
    // @ts-expect-error a scalar uniform takes a number, not an array
    expect(() => prog.pack({ n: [1], off: [0, 0], alpha: 1, scale: [0, 0, 0, 0], shape: [1], tail: 0 })).toThrow(/'n'/);
    // @ts-expect-error a binding name that is not declared
    expect(() => prog.order({ x: 1, idx: 2, out: 3, aux: 4, extra: 5 })).not.toThrow();
  });
});

describe('[webgpu] a declared kernel dispatched', () => {
  let gpu: WebGPUBackend;
  beforeAll(async () => {
    gpu = await WebGPUBackend.create();
  });
  afterAll(() => gpu?.destroy());

  it('reads every uniform where the host packed it and writes both read_write bindings', async () => {
    const n = 100;
    const xs = Float32Array.from({ length: n }, (_, i) => i * 0.25 - 3);
    const is = Int32Array.from({ length: n }, (_, i) => (i % 7) - 3);
    const x = gpu.input(gpu.upload(xs, 'float32'), 'test');
    const idx = gpu.input(gpu.upload(is, 'int32'), 'test');
    // Outputs one element longer than n: the last must stay as written (the kernel stops at P.n).
    const out = gpu.input(gpu.upload(new Float32Array(n + 1).fill(-99), 'float32'), 'test');
    const aux = gpu.input(gpu.upload(new Int32Array(n + 1).fill(-99), 'int32'), 'test');
    const kernel = gpu.pipelines.program(prog);
    expect(kernel.layout.access).toEqual(prog.access);
    const values = { n, off: [-100, 2], alpha: 1.5, scale: [9, 9, 0.75, 9], shape: [5, 40, 1000], tail: 3 };
    gpu.batcher.dispatch('test', kernel, prog.order({ x: x.buffer, idx: idx.buffer, out: out.buffer, aux: aux.buffer }), prog.pack(values), Math.ceil(n / 64));
    const o = (await gpu.read(out)) as Float32Array;
    const a = (await gpu.read(aux)) as Int32Array;
    for (let i = 0; i < n; i++) {
      expect(o[i]).toBeCloseTo(1.5 * xs[i]! + 0.75 + (is[i]! + 2) + 1000, 4);
      expect(a[i]).toBe(43);
    }
    expect(o[n]).toBe(-99);
    expect(a[n]).toBe(-99);
    // A second program with the same accesses shares the layout (one layout cache).
    const same = defineKernel({ ...prog.decl, name: 'test-axpy-2' });
    expect(gpu.pipelines.program(same).layout).toBe(kernel.layout);
  });
});

describe('shaders/ is a leaf folder', () => {
  it('imports nothing outside shaders/ (src/backend re-exports what both need)', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const dir = new URL('../shaders/', import.meta.url);
    const outside: string[] = [];
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const src = readFileSync(new URL(f, dir), 'utf8');
      for (const m of src.matchAll(/\bfrom\s+'([^']+)'/g)) if (!m[1]!.startsWith('./')) outside.push(`${f}: ${m[1]}`);
    }
    expect(outside).toEqual([]);
  });
});
