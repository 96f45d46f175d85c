/**
 * Philox4x32-10, the counter-based generator behind every random draw in webgrad, in u32
 * arithmetic only. The WGSL twin (shaders/) implements exactly the same specification and a test
 * compares the two word for word, so any change here must be made there too.
 *
 * SPECIFICATION (the WGSL twin must match)
 * - Constants: multipliers M0 = 0xD2511F53, M1 = 0xCD9E8D57; Weyl key increments
 *   W0 = 0x9E3779B9, W1 = 0xBB67AE85; 10 rounds.
 * - Round, on counter (c0, c1, c2, c3) and key (k0, k1):
 *     hi0, lo0 = mulhilo(M0, c0)      (high and low u32 words of the 64-bit product)
 *     hi1, lo1 = mulhilo(M1, c2)
 *     counter  = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
 *   and key += (W0, W1) mod 2^32 after each of the first 9 rounds (i.e. before rounds 2..10),
 *   as Random123's philox4x32_10.
 * - Seed: an integer in [0, 2^53). key = (seed mod 2^32, floor(seed / 2^32)).
 * - Stream: word g (an integer in [0, 2^53)) is lane (g mod 4) of
 *     philox(counter = (q mod 2^32, floor(q / 2^32), 0, 0), key)   where q = floor(g / 4).
 * - uniform: value i of a draw at `offset` is (w >>> 8) * 2^-24 with w = word (offset + i);
 *   in [0, 1) and exactly representable in float32.
 * - normal: value i (j = offset + i) uses words 2j and 2j+1 (w0, w1):
 *     u1 = ((w0 >>> 8) + 1) * 2^-24   in (0, 1]   (never 0, so the log is finite)
 *     u2 = (w1 >>> 8) * 2^-24         in [0, 1)
 *     z  = sqrt(-2 ln u1) * cos(2π u2)             (Box-Muller, cosine branch only)
 * - bits: the raw words, bit-cast to int32 (w | 0).
 */

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const ROUNDS = 10;

const TWO_32 = 0x1_0000_0000;
const TWO_53 = 2 ** 53;
const TWO_NEG_24 = 2 ** -24;

/**
 * High u32 word of the 64-bit product of two u32s, by 16-bit splitting so every partial product
 * (< 2^32) is exact; this is the same computation the WGSL twin does in u32.
 */
export function mulhi32(a: number, b: number): number {
  const al = a & 0xffff, ah = a >>> 16;
  const bl = b & 0xffff, bh = b >>> 16;
  const ll = Math.imul(al, bl) >>> 0;
  const lh = Math.imul(al, bh) >>> 0;
  const hl = Math.imul(ah, bl) >>> 0;
  const hh = Math.imul(ah, bh) >>> 0;
  // Carry out of the middle 32 bits: (ll >> 16) + low halves of the cross terms (< 3·2^16).
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  return (hh + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
}

/** One Philox4x32-10 block: 4 output words for a 4-word counter and a 2-word key (all u32). */
export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
): [number, number, number, number] {
  let c0 = counter[0] >>> 0, c1 = counter[1] >>> 0, c2 = counter[2] >>> 0, c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0, k1 = key[1] >>> 0;
  for (let r = 0; r < ROUNDS; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
  }
  return [c0, c1, c2, c3];
}

function checkInt53(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= TWO_53) {
    throw new RangeError(`${fn}: ${name} must be an integer in [0, 2^53), got ${v}`);
  }
}

/** The key for a seed: (seed mod 2^32, floor(seed / 2^32)). */
function keyOf(fn: string, seed: number): [number, number] {
  checkInt53(fn, 'seed', seed);
  return [seed % TWO_32, Math.floor(seed / TWO_32)];
}

function checkRange(fn: string, offset: number, length: number, limit: number): void {
  checkInt53(fn, 'offset', offset);
  checkInt53(fn, 'length', length);
  if (offset + length > limit) {
    throw new RangeError(`${fn}: offset + length must be at most 2^${Math.log2(limit)}, got ${offset} + ${length}`);
  }
}

/** Stream words offset .. offset+length-1 of the generator seeded with `seed`. */
export function philoxWords(seed: number, offset: number, length: number): Uint32Array {
  const key = keyOf('philoxWords', seed);
  checkRange('philoxWords', offset, length, TWO_53);
  const out = new Uint32Array(length);
  // Walk block by block; each 4-word block is computed once and its needed lanes copied out.
  let i = 0;
  while (i < length) {
    const g = offset + i;
    const q = Math.floor(g / 4);
    const block = philox4x32([q % TWO_32, Math.floor(q / TWO_32), 0, 0], key);
    for (let lane = g % 4; lane < 4 && i < length; lane++, i++) out[i] = block[lane]!;
  }
  return out;
}

/** (w >>> 8) · 2^-24: 24 random bits as a float in [0, 1), exact in float32. */
export function uniformFromWord(w: number): number {
  return (w >>> 8) * TWO_NEG_24;
}

/** Uniform [0, 1) values; value i comes from stream word offset + i. */
export function philoxUniform(seed: number, offset: number, length: number): Float64Array {
  const words = philoxWords(seed, offset, length);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) out[i] = uniformFromWord(words[i]!);
  return out;
}

/** Standard normal values (Box-Muller); value i (j = offset + i) comes from words 2j and 2j+1. */
export function philoxNormal(seed: number, offset: number, length: number): Float64Array {
  keyOf('philoxNormal', seed);
  // Word 2j must stay below 2^53, so offset + length is bounded by 2^52.
  checkRange('philoxNormal', offset, length, 2 ** 52);
  const words = philoxWords(seed, 2 * offset, 2 * length);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    const u1 = ((words[2 * i]! >>> 8) + 1) * TWO_NEG_24;
    const u2 = (words[2 * i + 1]! >>> 8) * TWO_NEG_24;
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}
