/**
 * Dropout's keep/drop test at the exact threshold, on every backend: element i is kept iff its
 * uniform u_i = (w_i >> 8)·2^-24 (Philox word w_i of the stream) satisfies u_i >= p, so that with
 * u on the 2^-24 grid P(keep) = 1 − p exactly for p on the grid (as PyTorch's bernoulli(1 − p)).
 * Random inputs almost never land on the threshold, so p is set to an element's own u: that
 * element must be kept, and dropped when p is one grid step higher. A flipped comparison (> for >=)
 * fails here.
 */
import { expect, it } from 'vitest';
import type { BackendName } from '../src/backend/types.js';
import { getBackend } from '../src/engine.js';
import { philoxWords } from '../src/random/philox.js';
import { describeEachBackend } from './helpers/backends.js';

const SEED = 77;
const OFFSET = 5; // not a multiple of 4: the element's word is not lane 0 of its Philox block
const N = 41;
const TWO24 = 2 ** 24;

async function run(device: BackendName, p: number): Promise<Float32Array> {
  const be = getBackend(device);
  const x = be.upload(new Float32Array(N).fill(1), 'float32');
  const y = be.routine('dropout', { x }, { p, seed: SEED, offset: OFFSET });
  const out = Float32Array.from(await be.read(y));
  be.release(x);
  be.release(y);
  return out;
}

describeEachBackend('dropout at the exact threshold', (device) => {
  it('an element whose uniform equals p is kept; one grid step above p it is dropped', async () => {
    const words = philoxWords(SEED, OFFSET, N);
    let checked = 0;
    for (const i of [0, 3, 17, 40]) {
      const k = words[i]! >>> 8;
      expect(k).toBeGreaterThan(0);
      const atThreshold = await run(device, k / TWO24);
      expect(atThreshold[i], `element ${i}, u = p = ${k}·2^-24: kept`).toBe(Math.fround(1 / (1 - k / TWO24)));
      const above = await run(device, (k + 1) / TWO24);
      expect(above[i], `element ${i}, u = p − 2^-24: dropped`).toBe(0);
      // Every other element follows the same rule at both p.
      for (let j = 0; j < N; j++) {
        const u = (words[j]! >>> 8) / TWO24;
        expect(atThreshold[j] !== 0, `element ${j} at p = ${k}·2^-24`).toBe(u >= k / TWO24);
        expect(above[j] !== 0, `element ${j} at p = ${k + 1}·2^-24`).toBe(u >= (k + 1) / TWO24);
      }
      checked++;
    }
    expect(checked).toBe(4);
  });
});
