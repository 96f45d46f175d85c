/**
 * safetensors: bit-exact round trips (float32 NaN payloads, -0, denormals; float64; int32; empty
 * and rank-0 tensors), the 8-byte alignment of the data, interchange with an independent minimal
 * reader and with a hand-built file laid out as the reference (Rust/PyTorch) writer does, a clear
 * refusal of every kind of corruption, and a model saved and loaded back bit-identically.
 */
import { describe, expect, it } from 'vitest';
import { encodeSafetensors, decodeSafetensors } from '../src/io/safetensors.js';
import type { NamedArray } from '../src/io/safetensors.js';
import { tensorsToSafetensors, safetensorsToTensors } from '../src/io/state-io.js';
import { buildMlp } from '../src/train/mlp.js';
import type { MlpSpec } from '../src/train/mlp.js';
import { engine } from '../src/engine.js';
import { manualSeed, randn } from '../src/ops/creation.js';
import { noGrad } from '../src/lifetime.js';
import { expectErrorSync } from './helpers/expect-error.js';
import type { BackendName, TypedArray } from '../src/backend/types.js';
import type { Tensor } from '../src/tensor.js';
import { describeEachBackend } from './helpers/backends.js';

const f32bits = (bits: number[]): Float32Array => new Float32Array(Uint32Array.from(bits).buffer);
const bytesOf = (a: TypedArray): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const hex = (a: TypedArray): string => Buffer.from(bytesOf(a)).toString('hex');

function arrays(entries: [string, NamedArray][]): Map<string, NamedArray> {
  return new Map(entries);
}

/** An independent minimal reader: u64 LE header length, JSON header, raw little-endian data. */
function minimalRead(file: Uint8Array): { header: Record<string, any>; dataStart: number; headerLen: number } {
  const lo = file[0]! | (file[1]! << 8) | (file[2]! << 16) | (file[3]! << 24);
  const hi = file[4]! | (file[5]! << 8) | (file[6]! << 16) | (file[7]! << 24);
  expect(hi).toBe(0);
  const headerLen = lo >>> 0;
  const header = JSON.parse(Buffer.from(file.subarray(8, 8 + headerLen)).toString('utf8')) as Record<string, any>;
  return { header, dataStart: 8 + headerLen, headerLen };
}

/** A safetensors file built by hand from a header object (key order as given) and a data section. */
function handBuilt(header: Record<string, unknown>, data: Uint8Array, pad = true): Uint8Array {
  let json = JSON.stringify(header);
  if (pad) while ((8 + Buffer.byteLength(json)) % 8 !== 0) json += ' ';
  const h = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

/** A refused file: a WebgradError naming the file, with nothing leaked (the shared helper checks memory()). */
function expectRefused(fn: () => unknown, ...patterns: RegExp[]): void {
  expectErrorSync(fn, [/not a valid safetensors file/, /bad\.safetensors/, ...patterns]);
}

const SPECIAL_F32 = f32bits([
  0x7fc00000, // canonical quiet NaN
  0x7fc12345, // quiet NaN with a payload
  0xffc00001, // negative NaN with a payload
  0x7f800001, // signalling NaN
  0x80000000, // -0
  0x00000001, // smallest denormal
  0x807fffff, // largest negative denormal
  0x7f800000, // +Inf
  0xff800000, // -Inf
  0x3dcccccd, // 0.1f
  0x7f7fffff, // max float
]);

describe('safetensors encode/decode', () => {
  it('round-trips float32 bit-exactly, NaN payloads, -0 and denormals included', () => {
    const file = encodeSafetensors(arrays([['w', { dtype: 'float32', shape: [11], data: SPECIAL_F32 }]]));
    const back = decodeSafetensors(file).arrays.get('w')!;
    expect(back.dtype).toBe('float32');
    expect(back.shape).toEqual([11]);
    expect(back.data).toBeInstanceOf(Float32Array);
    expect(hex(back.data)).toBe(hex(SPECIAL_F32));
  });

  it('round-trips float64 (with a NaN payload), int32, empty tensors and rank 0', () => {
    const f64 = new Float64Array([Math.PI, -0, 5e-324, Number.MAX_VALUE, -Infinity, 0]);
    new DataView(f64.buffer).setBigUint64(5 * 8, 0x7ff800000000beefn, true);
    const input = arrays([
      ['d', { dtype: 'float64', shape: [2, 3], data: f64 }],
      ['i', { dtype: 'int32', shape: [2, 2], data: Int32Array.from([0, -1, 2 ** 31 - 1, -(2 ** 31)]) }],
      ['empty', { dtype: 'float32', shape: [0], data: new Float32Array(0) }],
      ['empty2d', { dtype: 'int32', shape: [3, 0], data: new Int32Array(0) }],
      ['scalar', { dtype: 'float32', shape: [], data: Float32Array.from([-2.5]) }],
      ['scalar64', { dtype: 'float64', shape: [], data: Float64Array.from([1e300]) }],
    ]);
    const { arrays: out, metadata } = decodeSafetensors(encodeSafetensors(input, { k: 'v', json: '{"a":[1,2]}' }));
    expect(metadata).toEqual({ k: 'v', json: '{"a":[1,2]}' });
    expect([...out.keys()].sort()).toEqual([...input.keys()].sort());
    for (const [name, a] of input) {
      const b = out.get(name)!;
      expect(b.dtype, name).toBe(a.dtype);
      expect(b.shape, name).toEqual(a.shape);
      expect(b.data.constructor, name).toBe(a.data.constructor);
      expect(hex(b.data), name).toBe(hex(a.data));
    }
  });

  it('encodes only the viewed part of a typed array that is a subarray', () => {
    const big = Float32Array.from([1, 2, 3, 4, 5, 6]);
    const file = encodeSafetensors(arrays([['v', { dtype: 'float32', shape: [2], data: big.subarray(2, 4) }]]));
    expect(Array.from(decodeSafetensors(file).arrays.get('v')!.data)).toEqual([3, 4]);
  });

  it('decodes from a view into a larger buffer and copies the data out (no aliasing)', () => {
    const file = encodeSafetensors(arrays([['a', { dtype: 'int32', shape: [2], data: Int32Array.from([7, 8]) }]]));
    const big = new Uint8Array(file.length + 3);
    big.set(file, 3);
    const view = big.subarray(3);
    const a = decodeSafetensors(view).arrays.get('a')!;
    expect(Array.from(a.data)).toEqual([7, 8]);
    view.fill(0xff);
    expect(Array.from(a.data)).toEqual([7, 8]);
  });

  it('decodes a Node Buffer (what readFileSync returns) to the right tensors', () => {
    // Buffer#slice is a view, not a copy, so `new Float32Array(bytes.slice(a, b).buffer)` would see
    // the whole underlying ArrayBuffer (the file, or Node's shared allocation pool).
    const file = encodeSafetensors(arrays([
      ['a', { dtype: 'float32', shape: [2], data: Float32Array.of(1, 2) }],
      ['b', { dtype: 'int32', shape: [3], data: Int32Array.of(3, 4, 5) }],
    ]));
    for (const buf of [Buffer.from(file), Buffer.concat([Buffer.alloc(8), Buffer.from(file)]).subarray(8)]) {
      const out = decodeSafetensors(buf).arrays;
      expect(out.get('a')!.data.length).toBe(2);
      expect(Array.from(out.get('a')!.data)).toEqual([1, 2]);
      expect(Array.from(out.get('b')!.data)).toEqual([3, 4, 5]);
    }
  });

  it('pads the header with spaces so the data starts 8-byte aligned', () => {
    for (let nameLen = 1; nameLen <= 9; nameLen++) {
      const name = 'x'.repeat(nameLen);
      const file = encodeSafetensors(arrays([[name, { dtype: 'float32', shape: [1], data: Float32Array.of(1) }]]), nameLen % 2 ? {} : { m: 'y'.repeat(nameLen) });
      const { dataStart, headerLen } = minimalRead(file);
      expect(dataStart % 8, name).toBe(0);
      expect(file.length).toBe(8 + headerLen + 4);
      const json = Buffer.from(file.subarray(8, dataStart)).toString('utf8');
      expect(json.trimEnd().endsWith('}')).toBe(true);
      expect(/^ *$/.test(json.slice(json.trimEnd().length))).toBe(true);
    }
  });

  it('writes a file an independent minimal reader parses (sorted names, contiguous offsets, little-endian data)', () => {
    const w = Float32Array.from([1.5, -2, 3.25, 0.1]);
    const idx = Int32Array.from([-3, 258]);
    const d = Float64Array.from([Math.E]);
    const file = encodeSafetensors(arrays([
      ['z.weight', { dtype: 'float32', shape: [2, 2], data: w }],
      ['a.index', { dtype: 'int32', shape: [2], data: idx }],
      ['m.double', { dtype: 'float64', shape: [], data: d }],
    ]), { format: 'pt' });
    const { header, dataStart } = minimalRead(file);
    expect(header.__metadata__).toEqual({ format: 'pt' });
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(names.sort()).toEqual(['a.index', 'm.double', 'z.weight']);
    expect(header['a.index']).toEqual({ dtype: 'I32', shape: [2], data_offsets: [0, 8] });
    expect(header['m.double']).toEqual({ dtype: 'F64', shape: [], data_offsets: [8, 16] });
    expect(header['z.weight']).toEqual({ dtype: 'F32', shape: [2, 2], data_offsets: [16, 32] });
    expect(file.length - dataStart).toBe(32);
    const dv = new DataView(file.buffer, file.byteOffset + dataStart);
    expect([dv.getInt32(0, true), dv.getInt32(4, true)]).toEqual([-3, 258]);
    expect(dv.getFloat64(8, true)).toBe(Math.E);
    expect([0, 1, 2, 3].map((i) => dv.getFloat32(16 + 4 * i, true))).toEqual(Array.from(w));
  });

  it('decodes a hand-built file laid out as the reference writer does (__metadata__ first, data ordered by dtype then name)', () => {
    // The Rust safetensors writer puts __metadata__ first and orders the data by alignment, then name.
    const data = new Uint8Array(8 + 2 * 8 + 6 * 4 + 4);
    const dv = new DataView(data.buffer);
    dv.setFloat64(0, -1.25, true); // bias64 [1]
    dv.setFloat64(8, 2 ** -1074, true); // h.weight [2] (denormal, then 0)
    dv.setFloat64(16, 0, true);
    [0.5, -0.5, 1, -1, 2, -2].forEach((v, i) => dv.setFloat32(24 + 4 * i, v, true)); // layer.weight [2, 3]
    dv.setInt32(48, 123456, true); // steps []
    const file = handBuilt({
      __metadata__: { format: 'pt' },
      bias64: { dtype: 'F64', shape: [1], data_offsets: [0, 8] },
      'h.weight': { dtype: 'F64', shape: [2], data_offsets: [8, 24] },
      'layer.weight': { dtype: 'F32', shape: [2, 3], data_offsets: [24, 48] },
      steps: { dtype: 'I32', shape: [], data_offsets: [48, 52] },
    }, data);
    const { arrays: out, metadata } = decodeSafetensors(file);
    expect(metadata).toEqual({ format: 'pt' });
    expect(out.get('bias64')).toEqual({ dtype: 'float64', shape: [1], data: Float64Array.of(-1.25) });
    expect(Array.from(out.get('h.weight')!.data)).toEqual([2 ** -1074, 0]);
    expect(out.get('layer.weight')!.shape).toEqual([2, 3]);
    expect(Array.from(out.get('layer.weight')!.data)).toEqual([0.5, -0.5, 1, -1, 2, -2]);
    expect(out.get('steps')).toEqual({ dtype: 'int32', shape: [], data: Int32Array.of(123456) });
  });

  it('decodes an unpadded header and one without __metadata__', () => {
    const data = new Uint8Array(4);
    new DataView(data.buffer).setFloat32(0, 7, true);
    const file = handBuilt({ t: { dtype: 'F32', shape: [1, 1], data_offsets: [0, 4] } }, data, false);
    const { arrays: out, metadata } = decodeSafetensors(file);
    expect(metadata).toEqual({});
    expect(Array.from(out.get('t')!.data)).toEqual([7]);
  });

  it('round-trips an empty tensor that shares its offset with the next tensor (integer-like names)', () => {
    // Names sort as strings ("10" < "9"), so "10" (empty) gets offsets [0, 0] and "9" [0, 8]; JSON
    // objects list integer-like keys numerically, so the decoder meets "9" first. An empty span
    // overlaps nothing, so this file is valid and must decode.
    const input = arrays([
      ['9', { dtype: 'float32', shape: [2], data: Float32Array.of(1, 2) }],
      ['10', { dtype: 'float32', shape: [0], data: new Float32Array(0) }],
    ]);
    const out = decodeSafetensors(encodeSafetensors(input)).arrays;
    expect(Array.from(out.get('9')!.data)).toEqual([1, 2]);
    expect(out.get('10')!.shape).toEqual([0]);
  });
});

describe('safetensors refuses corrupt files with a clear message', () => {
  const good = encodeSafetensors(arrays([
    ['a', { dtype: 'float32', shape: [2, 2], data: Float32Array.of(1, 2, 3, 4) }],
    ['b', { dtype: 'int32', shape: [3], data: Int32Array.of(5, 6, 7) }],
  ]), { note: 'x' });
  const decode = (bytes: Uint8Array) => () => decodeSafetensors(bytes, 'bad.safetensors');
  const header = (over: Record<string, unknown>) => handBuilt({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, ...over }, new Uint8Array(16));

  it('accepts the uncorrupted file', () => {
    expect(decodeSafetensors(good, 'bad.safetensors').arrays.size).toBe(2);
    expect(decodeSafetensors(header({}), 'x').arrays.get('a')!.shape).toEqual([2]);
  });

  it('truncated before the end of the 8-byte length', () => {
    for (const n of [0, 1, 7]) expectRefused(decode(good.subarray(0, n)), new RegExp(`only ${n} bytes`), /truncated/);
  });

  it('header length beyond the file (cut inside the header, or a huge length)', () => {
    const { headerLen } = minimalRead(good);
    expectRefused(decode(good.subarray(0, 8 + headerLen - 5)), /header length \d+ exceeds/);
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
    expectRefused(decode(huge), /exceeds/);
  });

  it('invalid JSON, invalid UTF-8, and a header that is not an object', () => {
    const bad = good.slice();
    bad[8] = 'x'.charCodeAt(0);
    expectRefused(decode(bad), /not valid JSON/);
    const utf = good.slice();
    utf[9] = 0xff;
    expectRefused(decode(utf), /not valid JSON/);
    expectRefused(decode(handBuilt([1, 2] as unknown as Record<string, unknown>, new Uint8Array(0))), /not a JSON object/);
  });

  it('an unsupported or missing dtype, naming the tensor', () => {
    expectRefused(decode(header({ h: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] } })), /'h' has unsupported dtype "BF16"/);
    expectRefused(decode(header({ h: { shape: [1], data_offsets: [8, 12] } })), /'h' has unsupported dtype/);
  });

  it('an invalid shape or invalid data_offsets', () => {
    expectRefused(decode(header({ h: { dtype: 'F32', shape: [-1], data_offsets: [8, 12] } })), /'h' has an invalid shape/);
    expectRefused(decode(header({ h: { dtype: 'F32', shape: [1.5], data_offsets: [8, 12] } })), /'h' has an invalid shape/);
    expectRefused(decode(header({ h: { dtype: 'F32', shape: [1], data_offsets: [8] } })), /'h' has invalid data_offsets/);
    expectRefused(decode(header({ h: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } })), /'h' has invalid data_offsets/);
  });

  it('offsets that do not match the shape', () => {
    expectRefused(decode(header({ h: { dtype: 'F32', shape: [2], data_offsets: [8, 12] } })), /'h' of shape \[2\] needs 8 bytes but its offsets span 4/);
    expectRefused(decode(header({ h: { dtype: 'F32', shape: [1], data_offsets: [12, 8] } })), /'h'.*needs 4 bytes but its offsets span -4/);
  });

  it('data beyond the end of the file (a truncated data section)', () => {
    expectRefused(decode(good.subarray(0, good.length - 1)), /'b' ends at byte 28 of a 27-byte data section/);
    expectRefused(decode(header({ h: { dtype: 'F32', shape: [4], data_offsets: [8, 24] } })), /'h' ends at byte 24 of a 16-byte data section/);
  });

  it('overlapping tensors', () => {
    expectRefused(decode(header({ h: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } })), /'h' overlaps 'a'|'a' overlaps 'h'/);
    expectRefused(decode(header({ h: { dtype: 'I32', shape: [2], data_offsets: [0, 8] } })), /overlaps/);
  });
});

const SPEC: MlpSpec = { inputs: 6, hidden: [5, 4], outputs: 3, activation: 'relu', batchNorm: true, dropout: 0, init: 'he' };

function buildOn(device: BackendName, seed: number) {
  manualSeed(seed);
  const prev = engine.defaultBackend;
  engine.defaultBackend = device;
  try {
    return buildMlp(SPEC);
  } finally {
    engine.defaultBackend = prev;
  }
}

async function stateHex(state: ReadonlyMap<string, Tensor>): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [name, t] of state) out.set(name, `${t.dtype}[${t.shape.join(',')}]@${t.device}:${hex(await t.data())}`);
  return out;
}

describeEachBackend('model save and load', (device) => {
  it('loads back onto a fresh model bit-identically (parameters and batch-norm buffers)', async () => {
    const model = buildOn(device, 1);
    // Move the batch-norm running statistics away from their initial values.
    noGrad(() => {
      const x = randn([8, 6], { device, seed: 3 });
      model.forward(x).dispose();
      x.dispose();
    });
    const saved = await stateHex(model.stateDict());
    const bytes = await tensorsToSafetensors(model.stateDict(), { architecture: JSON.stringify(SPEC) });

    const fresh = buildOn(device, 2);
    const before = await stateHex(fresh.stateDict());
    expect(before.get('0.weight')).not.toBe(saved.get('0.weight'));

    const { tensors, metadata } = safetensorsToTensors(bytes, 'model.safetensors', device);
    expect(JSON.parse(metadata.architecture!)).toEqual(SPEC);
    expect([...tensors.keys()].sort()).toEqual([...saved.keys()].sort());
    fresh.loadStateDict(tensors);
    for (const t of tensors.values()) t.dispose();
    expect(await stateHex(fresh.stateDict())).toEqual(saved);
    model.dispose();
    fresh.dispose();
  });
});
