/**
 * The IDX format of MNIST and Fashion-MNIST: a magic number (two zero bytes, a type code, the
 * number of dimensions), big-endian u32 dimensions, then the data. Pure parsing of bytes, so it
 * works in browsers too; reading files (and gunzip) lives in idx-node.ts.
 */
import { WebgradError } from '../errors.js';

export interface IdxArray {
  dims: number[];
  /** Elements in row-major order (u8 data as Uint8Array, others as their typed arrays). */
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPES: Record<number, { name: string; bytes: number }> = {
  0x08: { name: 'u8', bytes: 1 },
  0x09: { name: 'i8', bytes: 1 },
  0x0b: { name: 'i16', bytes: 2 },
  0x0c: { name: 'i32', bytes: 4 },
  0x0d: { name: 'f32', bytes: 4 },
  0x0e: { name: 'f64', bytes: 8 },
};

/** Parses IDX bytes; `source` (a file name) goes into every error message. */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  const bad = (why: string): never => {
    throw new WebgradError(`readIdx: ${source} is not a valid IDX file: ${why}`);
  };
  if (bytes.length < 4) bad(`only ${bytes.length} bytes`);
  if (bytes[0] !== 0 || bytes[1] !== 0) bad(`bad magic number (first bytes ${bytes[0]}, ${bytes[1]}; expected 0, 0 — is it still gzipped?)`);
  const type = TYPES[bytes[2]!] ?? bad(`unknown element type code 0x${bytes[2]!.toString(16)}`);
  const rank = bytes[3]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) bad(`truncated header (${bytes.length} bytes for ${rank} dimensions)`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * type.bytes;
  if (bytes.length !== expected) bad(`dimensions [${dims.join(', ')}] need ${expected} bytes but the file has ${bytes.length} (truncated or corrupt)`);
  const body = headerBytes;
  switch (type.name) {
    case 'u8':
      return { dims, data: bytes.slice(body, expected) };
    case 'i8':
      return { dims, data: new Int8Array(bytes.buffer, bytes.byteOffset + body, count).slice() };
    default: {
      // Multi-byte values are big-endian in IDX.
      const read = { i16: (o: number) => view.getInt16(o, false), i32: (o: number) => view.getInt32(o, false), f32: (o: number) => view.getFloat32(o, false), f64: (o: number) => view.getFloat64(o, false) }[type.name as 'i16']!;
      const out = type.name === 'i16' ? new Int16Array(count) : type.name === 'i32' ? new Int32Array(count) : type.name === 'f32' ? new Float32Array(count) : new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = read(body + i * type.bytes);
      return { dims, data: out };
    }
  }
}

/**
 * Class labels from an IDX array: every value must be an integer (a float label such as 2.7 is a
 * corrupt or wrong file, and truncating it would train on wrong classes silently).
 */
export function idxLabels(a: IdxArray, source = 'IDX labels'): Int32Array {
  const out = new Int32Array(a.data.length);
  for (let i = 0; i < a.data.length; i++) {
    const v = a.data[i]!;
    if (!Number.isInteger(v) || Math.abs(v) > 2 ** 31 - 1) throw new WebgradError(`readIdx: ${source}: label ${v} at index ${i} is not an integer class index (a label file holds integers; is this an image file?)`);
    out[i] = v;
  }
  return out;
}
