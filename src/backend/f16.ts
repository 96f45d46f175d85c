/**
 * IEEE 754 binary16 (float16) on the host: rounding a number to the nearest float16 (ties to even,
 * overflow to ±Infinity, subnormals kept, NaN kept) as torch.float16 stores it, and the bit
 * patterns the WebGPU backend uploads and reads back (array<f16> in WGSL).
 *
 * Why hand-written: Math.f16round is not in every engine webgrad runs on (Node 20 lacks it), and a
 * conversion through Float32Array first would round twice.
 */
import { WebgradError } from '../errors.js';

/** The largest finite float16. */
export const F16_MAX = 65504;
/** The smallest positive normal float16, 2^-14. */
export const F16_MIN_NORMAL = 2 ** -14;
/** The smallest positive subnormal float16, 2^-24 (the quantum below 2^-14). */
export const F16_MIN_SUBNORMAL = 2 ** -24;
/** Half-way between 65504 and 65536: this and above round to Infinity (ties to even picks 2^16). */
const OVERFLOW_TIE = 65520;

/** Nearest integer to q ≥ 0, ties to even. q is below 2^53, so q − floor(q) is exact. */
function roundHalfEven(q: number): number {
  const f = Math.floor(q);
  const d = q - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** floor(log2(a)) for a finite a > 0, exact (Math.log2 may be off by one near powers of two). */
function exponentOf(a: number): number {
  let e = Math.floor(Math.log2(a));
  while (2 ** e > a) e--;
  while (2 ** (e + 1) <= a) e++;
  return e;
}

/** The float16 nearest to x (round to nearest, ties to even), as a number. */
export function roundToF16(x: number): number {
  if (Number.isNaN(x) || x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  if (a >= OVERFLOW_TIE) return x > 0 ? Infinity : -Infinity;
  // Below 2^-14 the spacing is 2^-24 (subnormals); above, 2^(e-10) for a in [2^e, 2^(e+1)).
  const quantum = a < F16_MIN_NORMAL ? F16_MIN_SUBNORMAL : 2 ** (exponentOf(a) - 10);
  const r = roundHalfEven(a / quantum) * quantum; // power-of-two scaling: exact
  return x < 0 ? -r : r; // −0 for tiny negatives, like PyTorch
}

/** Rounds every element of `data` to float16 in place. */
export function roundArrayToF16(data: Float32Array | Float64Array): void {
  for (let i = 0; i < data.length; i++) data[i] = roundToF16(data[i]!);
}

/** The binary16 bit pattern of the float16 nearest to x (NaN becomes the quiet NaN 0x7e00). */
export function f16Bits(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const r = roundToF16(x);
  const sign = r < 0 || Object.is(r, -0) ? 0x8000 : 0;
  const a = Math.abs(r);
  if (a === Infinity) return sign | 0x7c00;
  if (a < F16_MIN_NORMAL) return sign | (a / F16_MIN_SUBNORMAL); // subnormal (or zero): exponent field 0
  const e = exponentOf(a);
  return sign | ((e + 15) << 10) | ((a / 2 ** e - 1) * 1024);
}

/** The value of a binary16 bit pattern. */
export function f16FromBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  if (exp === 0) return sign * frac * F16_MIN_SUBNORMAL;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Bit patterns of `values` rounded to float16, padded to an even count (GPU buffers hold whole 4-byte words). */
export function encodeF16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length + (values.length % 2));
  for (let i = 0; i < values.length; i++) out[i] = f16Bits(values[i]!);
  return out;
}

/** The first `length` float16 values of `bits`, widened (exactly) to float32. */
export function decodeF16(bits: Uint16Array, length: number): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = f16FromBits(bits[i]!);
  return out;
}

/**
 * Fused and structured kernels (routines: softmax, losses, batch norm, optimizers, indexing, conv)
 * are float32/float64 only; a float16 input is refused on both backends alike, naming the routine.
 * Cast to float32 first (autocast does this for the losses, as PyTorch's does).
 */
export function refuseHalfRoutine(backend: string, name: string, inputs: object): void {
  for (const [arg, s] of Object.entries(inputs)) {
    const list: unknown[] = Array.isArray(s) ? s : [s];
    for (const v of list) {
      if (v !== null && typeof v === 'object' && 'dtype' in v && v.dtype === 'float16') {
        throw new WebgradError(`${name}: ${arg} is float16, which the ${backend} backend's ${name} kernel does not support; cast it to float32 first`);
      }
    }
  }
}
