/**
 * Every WebGPU kernel is declared once with defineKernel (shaders/program.ts), which generates its
 * bindings and its uniform struct. This scan keeps it so: a hand-written `@binding(` or
 * `struct Params` anywhere in shaders/ or src/backend/webgpu/ outside the generator fails here.
 * Also: the generator's atomic bindings (the bucketed scatterAdd's histogram).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { defineKernel } from '../shaders/program.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The generator itself: the one place bindings and the params struct are written. */
const GENERATOR = 'shaders/program.ts';
const MARKERS = ['@binding(', 'struct Params'];

function tsFiles(dir: string, recursive: boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(join(ROOT, rel)).isDirectory()) {
      if (recursive) out.push(...tsFiles(rel, true));
    } else if (name.endsWith('.ts')) {
      out.push(rel);
    }
  }
  return out;
}

/** Files (relative to the repository root) holding a hand-written binding or params struct, with the marker found. */
function handWritten(files: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const f of files) {
    if (f === GENERATOR) continue;
    const src = readFileSync(join(ROOT, f), 'utf8');
    const marker = MARKERS.find((m) => src.includes(m));
    if (marker) found.set(f, marker);
  }
  return found;
}

const scanned = [...tsFiles('shaders', false), ...tsFiles('src/backend/webgpu', true)];

describe('kernel declarations', () => {
  it('scans the shader and WebGPU host folders (nested ones included)', () => {
    expect(scanned).toContain(GENERATOR);
    expect(scanned).toContain('shaders/matmul.ts');
    expect(scanned).toContain('src/backend/webgpu/fused/batchnorm.ts');
  });

  it('no hand-written @binding or struct Params outside shaders/program.ts', () => {
    const found = handWritten(scanned);
    const violations = [...found].map(([f, m]) => `${f}: ${m}`);
    expect(violations).toEqual([]);
  });

});

describe('atomic bindings', () => {
  const decl = {
    name: 'test-atomic',
    uniforms: { n: 'u32' },
    workgroupSize: 64,
    body: '  if (i < P.n) { atomicAdd(&counts[0], 1); }',
  } as const;

  it('declares an array of atomics for a read_write binding', () => {
    const prog = defineKernel({ ...decl, bindings: { counts: { type: 'atomic<i32>', access: 'read_write' } } });
    expect(prog.wgsl()).toContain('@group(0) @binding(1) var<storage, read_write> counts: array<atomic<i32>>;');
    expect(prog.access).toEqual(['read_write']);
  });

  it('refuses a read-only atomic binding (WGSL has no read-only atomics)', () => {
    expect(() => defineKernel({ ...decl, bindings: { counts: { type: 'atomic<u32>', access: 'read' } } })).toThrow(/atomic binding 'counts' must be read_write/);
  });
});
