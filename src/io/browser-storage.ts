/**
 * Saving models in browsers: IndexedDB (persists across page loads) and a file download, plus
 * TF.js-style URLs ('indexeddb://name', 'downloads://name', http(s) for loading). Whatever is
 * stored is the same safetensors bytes `save` returns, so a model saved in a page loads in Node or
 * PyTorch. IndexedDB and `document` are looked up on globalThis when called (nothing at import,
 * so this module is safe to import in Node) or passed in, which is how the tests inject fakes.
 */
import { WebgradError, fail } from '../errors.js';
import { save, load } from './safetensors-api.js';
import type { TensorsOrModule, LoadOptions, Loaded } from './safetensors-api.js';

export interface IndexedDBOptions {
  /** Database name (default 'webgrad'); models live in its object store 'models'. */
  database?: string;
  /** The IDBFactory to use (default: globalThis.indexedDB). */
  indexedDB?: IDBFactory;
}

const STORE = 'models';

/** What one IndexedDB record holds: the safetensors bytes and when they were written. */
interface StoredModel {
  format: 'safetensors';
  bytes: Uint8Array;
  savedAt: string;
}

function factory(op: string, options: IndexedDBOptions): IDBFactory {
  const f = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!f) fail(op, 'IndexedDB is not available here (a browser provides globalThis.indexedDB; in Node use saveFile/loadFile from webgrad/node, or pass options.indexedDB)');
  return f;
}

function checkKey(op: string, key: unknown): string {
  if (typeof key !== 'string' || key === '') fail(op, `the model name must be a non-empty string, got ${JSON.stringify(key)}`);
  return key;
}

function openDb(op: string, options: IndexedDBOptions): Promise<IDBDatabase> {
  const f = factory(op, options);
  return new Promise((resolve, reject) => {
    const req = f.open(options.database ?? 'webgrad', 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new WebgradError(`${op}: could not open IndexedDB database '${options.database ?? 'webgrad'}': ${req.error?.message ?? 'unknown error'}`));
    req.onblocked = () => reject(new WebgradError(`${op}: IndexedDB database '${options.database ?? 'webgrad'}' is blocked by another open connection`));
  });
}

/** Runs one request in a transaction; resolves when the transaction completes (writes are then durable). */
async function withStore<T>(op: string, options: IndexedDBOptions, mode: IDBTransactionMode, fn: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb(op, options);
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      const failed = (): void => reject(new WebgradError(`${op}: IndexedDB ${mode} failed: ${tx.error?.message ?? req.error?.message ?? 'aborted'}`));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = failed;
      tx.onabort = failed;
    });
  } finally {
    db.close();
  }
}

/** Saves tensors or a module's state under `name` in IndexedDB (replacing an earlier save). */
export async function saveToIndexedDB(name: string, tensors: TensorsOrModule, metadata?: Record<string, string>, options: IndexedDBOptions = {}): Promise<void> {
  const key = checkKey('saveToIndexedDB', name);
  factory('saveToIndexedDB', options); // fail before reading any tensor back
  const bytes = await save(tensors, metadata);
  const record: StoredModel = { format: 'safetensors', bytes, savedAt: new Date().toISOString() };
  await withStore('saveToIndexedDB', options, 'readwrite', (s) => s.put(record, key));
}

/** Loads what saveToIndexedDB stored under `name` (validated like any safetensors file). */
export async function loadFromIndexedDB(name: string, options: IndexedDBOptions & LoadOptions = {}): Promise<Loaded> {
  const key = checkKey('loadFromIndexedDB', name);
  const record = await withStore<unknown>('loadFromIndexedDB', options, 'readonly', (s) => s.get(key));
  if (record === undefined) fail('loadFromIndexedDB', `no model named '${key}' in IndexedDB database '${options.database ?? 'webgrad'}'`);
  const bytes = (record as Partial<StoredModel> | null)?.bytes;
  if (!(bytes instanceof Uint8Array)) fail('loadFromIndexedDB', `the IndexedDB record '${key}' was not written by saveToIndexedDB`);
  return load(bytes, options.device ? { device: options.device } : {}, `IndexedDB model '${key}'`);
}

export async function deleteFromIndexedDB(name: string, options: IndexedDBOptions = {}): Promise<void> {
  const key = checkKey('deleteFromIndexedDB', name);
  await withStore('deleteFromIndexedDB', options, 'readwrite', (s) => s.delete(key));
}

/** The names of the models saved in IndexedDB. */
export async function listIndexedDB(options: IndexedDBOptions = {}): Promise<string[]> {
  const keys = await withStore('listIndexedDB', options, 'readonly', (s) => s.getAllKeys());
  return keys.map(String);
}

/**
 * Offers the safetensors bytes as a file download in a browser ('.safetensors' is appended when
 * missing). `options.document` defaults to globalThis.document.
 */
export async function download(filename: string, tensors: TensorsOrModule, metadata?: Record<string, string>, options: { document?: Document } = {}): Promise<void> {
  const name = checkKey('download', filename);
  const doc = options.document ?? (globalThis as { document?: Document }).document;
  if (!doc) fail('download', 'there is no document to download from (browsers only; in Node use saveFile from webgrad/node)');
  const bytes = await save(tensors, metadata);
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = doc.createElement('a');
  a.href = url;
  a.download = name.endsWith('.safetensors') ? name : `${name}.safetensors`;
  a.click();
  // Revoking synchronously can cancel the download in some browsers; give the click a moment.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * TF.js-style destinations: 'indexeddb://name' or 'downloads://name'. (Node files: saveFile in
 * webgrad/node.)
 */
export async function saveTo(url: string, tensors: TensorsOrModule, metadata?: Record<string, string>, options: IndexedDBOptions & { document?: Document } = {}): Promise<void> {
  const [scheme, rest] = splitUrl('saveTo', url);
  if (scheme === 'indexeddb') return saveToIndexedDB(rest, tensors, metadata, options);
  if (scheme === 'downloads') return download(rest, tensors, metadata, options.document ? { document: options.document } : {});
  return fail('saveTo', `unsupported destination '${url}' (expected indexeddb://name or downloads://name)`);
}

/** Loads from 'indexeddb://name' or an http(s) URL (fetched). */
export async function loadFrom(url: string, options: IndexedDBOptions & LoadOptions = {}): Promise<Loaded> {
  const [scheme, rest] = splitUrl('loadFrom', url);
  if (scheme === 'indexeddb') return loadFromIndexedDB(rest, options);
  if (scheme === 'http' || scheme === 'https') {
    const res = await fetch(url);
    if (!res.ok) fail('loadFrom', `fetching ${url} failed: HTTP ${res.status}`);
    return load(new Uint8Array(await res.arrayBuffer()), options.device ? { device: options.device } : {}, url);
  }
  return fail('loadFrom', `unsupported source '${url}' (expected indexeddb://name or an http(s) URL; a downloaded file is read with load(bytes))`);
}

function splitUrl(op: string, url: unknown): [string, string] {
  const m = typeof url === 'string' ? /^([a-z]+):\/\/(.+)$/.exec(url) : null;
  if (!m) fail(op, `expected a URL such as 'indexeddb://my-model', got ${JSON.stringify(url)}`);
  return [m[1]!, m[2]!];
}
