/**
 * The safetensors format (read by PyTorch, JAX, Hugging Face): an 8-byte little-endian header
 * length, a JSON header mapping each name to {dtype, shape, data_offsets} plus optional
 * string metadata, then the raw little-endian bytes. Pure bytes in and out, so it works in
 * browsers too; the format is small enough that a dependency would cost more than it saves.
 */
import { WebgradError } from '../errors.js';
import { decodeF16, encodeF16 } from '../backend/f16.js';
import type { DType, TypedArray } from '../backend/types.js';

export interface NamedArray {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

const TO_ST: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32', float16: 'F16' };
const FROM_ST: Record<string, DType> = { F32: 'float32', F64: 'float64', I32: 'int32', I64: 'int32', F16: 'float16' };
/** Bytes per element as stored in the file (I64 is narrowed to int32 on reading). */
const FILE_BYTES: Record<string, number> = { F32: 4, F64: 8, I32: 4, I64: 8, F16: 2 };
const BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4, float16: 2 };

/** Encodes named arrays (stored in name order) with string metadata. */
export function encodeSafetensors(arrays: ReadonlyMap<string, NamedArray>, metadata: Record<string, string> = {}): Uint8Array {
  const names = [...arrays.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const a = arrays.get(name)!;
    const bytes = a.data.length * BYTES[a.dtype];
    header[name] = { dtype: TO_ST[a.dtype], shape: a.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned (as the reference implementation does).
  json += ' '.repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const a = arrays.get(name)!;
    // Typed arrays are little-endian on every platform webgrad runs on (x86, ARM); copy byte-exact.
    // float16 values are held widened on the host; the file stores their binary16 bits.
    const words = a.dtype === 'float16' ? encodeF16(a.data).subarray(0, a.data.length) : a.data;
    const src = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
    out.set(src, pos);
    pos += src.length;
  }
  return out;
}

export interface DecodedSafetensors {
  arrays: Map<string, NamedArray>;
  metadata: Record<string, string>;
}

/** Decodes and fully validates a safetensors file; `source` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors data'): DecodedSafetensors {
  const bad = (why: string): never => {
    throw new WebgradError(`loadSafetensors: ${source} is not a valid safetensors file: ${why}`);
  };
  if (bytes.length < 8) bad(`only ${bytes.length} bytes (truncated)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen > bytes.length - 8) bad(`header length ${headerLen} exceeds the file's ${bytes.length} bytes (truncated or corrupt)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen))) as Record<string, unknown>;
  } catch (e) {
    return bad(`the header is not valid JSON (${e instanceof Error ? e.message : e})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('the header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const rawMeta = Object.hasOwn(header, '__metadata__') ? header.__metadata__ : {};
  if (typeof rawMeta !== 'object' || rawMeta === null || Array.isArray(rawMeta)) bad(`__metadata__ must be an object of strings, got ${JSON.stringify(rawMeta)}`);
  for (const [k, v] of Object.entries(rawMeta as object)) if (typeof v !== 'string') bad(`__metadata__ '${k}' must be a string, got ${JSON.stringify(v)}`);
  const metadata = rawMeta as Record<string, string>;
  const arrays = new Map<string, NamedArray>();
  const spans: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    // A null or non-object entry would otherwise crash on property access.
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) bad(`'${name}' must be an object {dtype, shape, data_offsets}, got ${JSON.stringify(entry)}`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const stDtype = String(e.dtype);
    const dtype = (Object.hasOwn(FROM_ST, stDtype) ? FROM_ST[stDtype] : undefined) ?? bad(`'${name}' has unsupported dtype ${JSON.stringify(e.dtype)} (webgrad reads F16, F32, F64, I32, and I64 within the int32 range)`);
    const elemBytes = FILE_BYTES[stDtype]!;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) bad(`'${name}' has an invalid shape ${JSON.stringify(e.shape)}`);
    const shape = e.shape as number[];
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0)) bad(`'${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    const [begin, end] = offs as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end - begin !== count * elemBytes) bad(`'${name}' of shape [${shape.join(', ')}] needs ${count * elemBytes} bytes but its offsets span ${end - begin}`);
    if (end > dataLen) bad(`'${name}' ends at byte ${end} of a ${dataLen}-byte data section (truncated)`);
    spans.push([begin, end, name]);
    // A copy into a fresh buffer (a Node Buffer's slice is a view into a shared pool, and the typed array needs alignment).
    const copy = new Uint8Array(bytes.subarray(dataStart + begin, dataStart + end));
    const data = stDtype === 'I64' ? narrowInt64(copy, name, bad)
      : dtype === 'float16' ? decodeF16(new Uint16Array(copy.buffer), count)
      : dtype === 'float32' ? new Float32Array(copy.buffer) : dtype === 'float64' ? new Float64Array(copy.buffer) : new Int32Array(copy.buffer);
    arrays.set(name, { dtype, shape, data });
  }
  // Empty tensors occupy no bytes and may share an offset with anything.
  const filled = spans.filter(([b, e]) => e > b).sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < filled.length; i++) {
    if (filled[i]![0] < filled[i - 1]![1]) bad(`'${filled[i]![2]}' overlaps '${filled[i - 1]![2]}'`);
  }
  return { arrays, metadata };
}

/**
 * PyTorch writes integer buffers (batch norm's num_batches_tracked) as int64; webgrad has no int64,
 * so values are narrowed to int32, refusing any that would not survive the trip.
 */
function narrowInt64(bytes: Uint8Array, name: string, bad: (why: string) => never): Int32Array {
  const src = new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8);
  const out = new Int32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    if (v > 2147483647n || v < -2147483648n) bad(`'${name}' is I64 and element ${i} (${v}) is outside the int32 range webgrad can hold`);
    out[i] = Number(v);
  }
  return out;
}
