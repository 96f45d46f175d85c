/** `wg.safetensors`: bytes (save, load, loadModel) and browser storage (IndexedDB, downloads, URLs). */
export { save, load, loadModel } from './safetensors-api.js';
export type { TensorsOrModule, LoadOptions, Loaded } from './safetensors-api.js';
export { saveToIndexedDB, loadFromIndexedDB, deleteFromIndexedDB, listIndexedDB, download, saveTo, loadFrom } from './browser-storage.js';
export type { IndexedDBOptions } from './browser-storage.js';
