/**
 * The public saving API: wg.safetensors.save / load / loadModel (Map, object or Module in; bytes
 * out), saveFile / loadFile / loadModelFile in webgrad/node, and the browser destinations
 * (IndexedDB, downloads, 'indexeddb://' / 'downloads://' / http URLs) driven here through minimal
 * in-test fakes of IndexedDB and document (a real-browser run belongs to the browser tests).
 * Plus the refusals: bad arguments, a null header entry, I64 outside int32, plain objects.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveObjectURL } from 'node:buffer';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectNoLeak } from './helpers/oracle.js';
import { manualSeed, nn, safetensors, zeros, WebgradError } from '../src/index.js';
import { saveFile, loadFile, loadModelFile } from '../src/node.js';
import type { Tensor } from '../src/tensor.js';

function mlp(): nn.Sequential {
  return new nn.Sequential(new nn.Linear(4, 5), new nn.BatchNorm1d(5), new nn.ReLU(), new nn.Linear(5, 2));
}

async function snapshot(m: nn.Module): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of m.stateDict()) out[k] = Array.from(await t.data());
  return out;
}

/** A safetensors file from a header object and a data section, laid out as the format says. */
function handBuilt(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const h = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function disposeAll(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}

describe('wg.safetensors: save, load, loadModel', () => {
  it('a module, a Map and a plain object of the same tensors save to the same bytes, and load back bit-exactly', async () => {
    await expectNoLeak('round trip', async () => {
      manualSeed(1);
      const a = mlp();
      const fromModule = await safetensors.save(a, { note: 'hi' });
      const fromMap = await safetensors.save(a.stateDict(), { note: 'hi' });
      const fromObject = await safetensors.save(Object.fromEntries(a.stateDict()), { note: 'hi' });
      expect(Buffer.from(fromMap).equals(Buffer.from(fromModule))).toBe(true);
      expect(Buffer.from(fromObject).equals(Buffer.from(fromModule))).toBe(true);
      const { tensors, metadata } = safetensors.load(fromModule);
      expect(metadata).toEqual({ note: 'hi' });
      expect([...tensors.keys()].sort()).toEqual([...a.stateDict().keys()].sort());
      expect(tensors.get('1.num_batches_tracked')!.dtype).toBe('int32');
      disposeAll(tensors);
      manualSeed(2);
      const b = mlp();
      expect(await snapshot(b)).not.toEqual(await snapshot(a));
      expect(safetensors.loadModel(b, fromModule.buffer as ArrayBuffer)).toEqual({ note: 'hi' }); // an ArrayBuffer works too
      expect(await snapshot(b)).toEqual(await snapshot(a));
      a.dispose();
      b.dispose();
    });
  });

  it('bad arguments to save are WebgradErrors at the call', async () => {
    const t = zeros([2]);
    const gone = zeros([2]);
    gone.dispose();
    await expect(safetensors.save([t] as never)).rejects.toThrow(/safetensors\.save: expected a Map or object of named tensors, or a Module, got an array/);
    await expect(safetensors.save({ w: [1, 2] } as never)).rejects.toThrow(/safetensors\.save: 'w' must be a Tensor, got a plain array/);
    await expect(safetensors.save({ __metadata__: t })).rejects.toThrow(/invalid tensor name "__metadata__"/);
    await expect(safetensors.save({ w: gone })).rejects.toThrow(/'w' was disposed/);
    await expect(safetensors.save({ w: t }, { epoch: 3 } as never)).rejects.toThrow(/metadata 'epoch' must be a string/);
    await expect(safetensors.save({ w: t })).resolves.toBeInstanceOf(Uint8Array);
    t.dispose();
  });

  it('load: a null header entry, a non-string metadata value, or a non-bytes argument is refused clearly', () => {
    const bytes = handBuilt({ w: null }, new Uint8Array(0));
    expect(() => safetensors.load(bytes)).toThrow(WebgradError);
    expect(() => safetensors.load(bytes)).toThrow(/not a valid safetensors file: 'w' must be an object \{dtype, shape, data_offsets\}, got null/);
    expect(() => safetensors.load(handBuilt({ w: 3 }, new Uint8Array(0)))).toThrow(/'w' must be an object/);
    expect(() => safetensors.load(handBuilt({ __metadata__: { a: 1 } }, new Uint8Array(0)))).toThrow(/__metadata__ 'a' must be a string, got 1/);
    expect(() => safetensors.load(handBuilt({ __metadata__: null }, new Uint8Array(0)))).toThrow(/__metadata__ must be an object of strings/);
    expect(() => safetensors.load('abc' as never)).toThrow(/safetensors\.load: expected a Uint8Array or ArrayBuffer/);
  });

  it('I64 (PyTorch\'s integer buffers) reads as int32; a value outside int32 is refused', async () => {
    const data = new Uint8Array(new BigInt64Array([3n, -7n]).buffer);
    const { tensors } = safetensors.load(handBuilt({ n: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, data));
    expect(tensors.get('n')!.dtype).toBe('int32');
    expect(Array.from(await tensors.get('n')!.data())).toEqual([3, -7]);
    disposeAll(tensors);
    const big = new Uint8Array(new BigInt64Array([2n ** 31n]).buffer);
    expect(() => safetensors.load(handBuilt({ n: { dtype: 'I64', shape: [], data_offsets: [0, 8] } }, big))).toThrow(/'n' is I64 and element 0 \(2147483648\) is outside the int32 range/);
    expect(() => safetensors.load(handBuilt({ n: { dtype: 'I64', shape: [2], data_offsets: [0, 8] } }, big))).toThrow(/needs 16 bytes but its offsets span 8/);
  });

  it('loadModel with a mismatched file throws naming the tensor and leaves the module as it was, holding nothing', async () => {
    await expectNoLeak('loadModel mismatch', async () => {
      const small = new nn.Sequential(new nn.Linear(4, 3));
      const bytes = await safetensors.save(small);
      const m = mlp();
      const before = await snapshot(m);
      expect(() => safetensors.loadModel(m, bytes)).toThrow(/loadStateDict: the state does not fit this model: '0\.weight' has shape \[3, 4\] but the model expects \[5, 4\]/);
      expect(await snapshot(m)).toEqual(before);
      expect(() => safetensors.loadModel({} as never, bytes)).toThrow(/safetensors\.loadModel: expected a Module/);
      small.dispose();
      m.dispose();
    });
  });

  it('Module.loadStateDict refuses a plain object or plain arrays with a clear error, changing nothing', async () => {
    const m = mlp();
    const before = await snapshot(m);
    const plain = Object.fromEntries(m.stateDict());
    expect(() => m.loadStateDict(plain as never)).toThrow(WebgradError);
    expect(() => m.loadStateDict(plain as never)).toThrow(/loadStateDict: state must be a Map of name → Tensor .* got a plain object; wrap it with new Map\(Object\.entries\(obj\)\)/);
    const arrays = new Map(Object.entries(before));
    expect(() => m.loadStateDict(arrays as never)).toThrow(/loadStateDict: state '0\.weight' must be a Tensor, got a plain array/);
    expect(() => m.loadStateDict(null as never)).toThrow(/got null/);
    expect(await snapshot(m)).toEqual(before);
    m.dispose();
  });
});

describe('webgrad/node: saveFile, loadFile, loadModelFile', () => {
  it('writes atomically and reads back; a missing file is a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'webgrad-st-'));
    try {
      manualSeed(3);
      const a = mlp();
      const path = join(dir, 'model.safetensors');
      await saveFile(a, path, { architecture: 'mlp' });
      expect(readdirSync(dir)).toEqual(['model.safetensors']);
      const { tensors, metadata } = loadFile(path);
      expect(metadata).toEqual({ architecture: 'mlp' });
      expect(Array.from(await tensors.get('0.weight')!.data())).toEqual(Array.from(await a.stateDict().get('0.weight')!.data()));
      disposeAll(tensors);
      manualSeed(4);
      const b = mlp();
      expect(loadModelFile(b, path)).toEqual({ architecture: 'mlp' });
      expect(await snapshot(b)).toEqual(await snapshot(a));
      expect(() => loadFile(join(dir, 'nope.safetensors'))).toThrow(/loadFile: file not found: .*nope\.safetensors/);
      await expect(saveFile(a, '' as never)).rejects.toThrow(/saveFile: path must be a non-empty string/);
      a.dispose();
      b.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Browser destinations, through fakes: just enough of IndexedDB's request/transaction API (async
// callbacks, structured clone of stored values) and of document.createElement('a').click().

type Cb = (() => void) | null;
class FakeRequest<T> {
  result!: T;
  error: DOMException | null = null;
  onsuccess: Cb = null;
  onerror: Cb = null;
  onupgradeneeded: Cb = null;
  onblocked: Cb = null;
}
class FakeTransaction {
  oncomplete: Cb = null;
  onerror: Cb = null;
  onabort: Cb = null;
  error: DOMException | null = null;
  constructor(private readonly data: Map<IDBValidKey, unknown>) {}
  private run<T>(fn: () => T): FakeRequest<T> {
    const r = new FakeRequest<T>();
    setTimeout(() => {
      r.result = fn();
      r.onsuccess?.();
      setTimeout(() => this.oncomplete?.());
    });
    return r;
  }
  objectStore(): unknown {
    return {
      put: (v: unknown, k: IDBValidKey) => this.run(() => (this.data.set(k, structuredClone(v)), k)),
      get: (k: IDBValidKey) => this.run(() => structuredClone(this.data.get(k))),
      delete: (k: IDBValidKey) => this.run(() => void this.data.delete(k)),
      getAllKeys: () => this.run(() => [...this.data.keys()].sort()),
    };
  }
}
class FakeDb {
  readonly stores = new Map<string, Map<IDBValidKey, unknown>>();
  closed = 0;
  objectStoreNames = { contains: (n: string) => this.stores.has(n) };
  createObjectStore(n: string): void {
    this.stores.set(n, new Map());
  }
  transaction(name: string): FakeTransaction {
    const s = this.stores.get(name);
    if (!s) throw new DOMException(`no store ${name}`, 'NotFoundError');
    return new FakeTransaction(s);
  }
  close(): void {
    this.closed++;
  }
}
class FakeIndexedDB {
  readonly dbs = new Map<string, FakeDb>();
  constructor(private readonly broken = false) {}
  open(name: string): FakeRequest<FakeDb> {
    const r = new FakeRequest<FakeDb>();
    setTimeout(() => {
      if (this.broken) {
        r.error = new DOMException('quota exceeded', 'QuotaExceededError');
        r.onerror?.();
        return;
      }
      let db = this.dbs.get(name);
      const fresh = !db;
      if (!db) this.dbs.set(name, (db = new FakeDb()));
      r.result = db;
      if (fresh) r.onupgradeneeded?.();
      r.onsuccess?.();
    });
    return r;
  }
}
const asFactory = (f: FakeIndexedDB): IDBFactory => f as unknown as IDBFactory;

function fakeDocument(): { doc: Document; clicks: Promise<{ download: string; bytes: Uint8Array }>[] } {
  const clicks: Promise<{ download: string; bytes: Uint8Array }>[] = [];
  const doc = {
    createElement: () => {
      const a = {
        href: '', download: '',
        click() {
          const blob = resolveObjectURL(a.href);
          clicks.push((async () => ({ download: a.download, bytes: new Uint8Array(await blob!.arrayBuffer()) }))());
        },
      };
      return a;
    },
  };
  return { doc: doc as unknown as Document, clicks };
}

describe('browser saving (fake IndexedDB and document; the real-browser run is the browser tests\' job)', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('saveToIndexedDB / listIndexedDB / loadFromIndexedDB / deleteFromIndexedDB round-trip a model; the connection is closed each time', async () => {
    await expectNoLeak('IndexedDB', async () => {
      const idb = new FakeIndexedDB();
      const opts = { indexedDB: asFactory(idb) };
      manualSeed(5);
      const a = mlp();
      await safetensors.saveToIndexedDB('digits-mlp', a, { epoch: '3' }, opts);
      await safetensors.saveToIndexedDB('other', { w: a.stateDict().get('0.bias')! }, undefined, opts);
      expect(await safetensors.listIndexedDB(opts)).toEqual(['digits-mlp', 'other']);
      const { tensors, metadata } = await safetensors.loadFromIndexedDB('digits-mlp', opts);
      expect(metadata).toEqual({ epoch: '3' });
      manualSeed(6);
      const b = mlp();
      b.loadStateDict(tensors);
      disposeAll(tensors);
      expect(await snapshot(b)).toEqual(await snapshot(a));
      await safetensors.deleteFromIndexedDB('other', opts);
      expect(await safetensors.listIndexedDB(opts)).toEqual(['digits-mlp']);
      await expect(safetensors.loadFromIndexedDB('other', opts)).rejects.toThrow(/loadFromIndexedDB: no model named 'other' in IndexedDB database 'webgrad'/);
      const db = idb.dbs.get('webgrad')!;
      expect(db.closed).toBe(7);
      // A record someone else wrote under that name.
      db.stores.get('models')!.set('foreign', { hello: 1 });
      await expect(safetensors.loadFromIndexedDB('foreign', opts)).rejects.toThrow(/the IndexedDB record 'foreign' was not written by saveToIndexedDB/);
      a.dispose();
      b.dispose();
    });
  });

  it('globalThis.indexedDB is used when none is passed; without one, or when it fails, a clear error', async () => {
    const m = new nn.Linear(2, 2);
    await expect(safetensors.saveToIndexedDB('x', m)).rejects.toThrow(/saveToIndexedDB: IndexedDB is not available here/);
    await expect(safetensors.saveToIndexedDB('', m, undefined, { indexedDB: asFactory(new FakeIndexedDB()) })).rejects.toThrow(/model name must be a non-empty string/);
    await expect(safetensors.saveToIndexedDB('x', m, undefined, { indexedDB: asFactory(new FakeIndexedDB(true)) })).rejects.toThrow(/could not open IndexedDB database 'webgrad': quota exceeded/);
    const idb = new FakeIndexedDB();
    vi.stubGlobal('indexedDB', idb);
    await safetensors.saveTo('indexeddb://via-url', m, undefined, { database: 'mine' });
    expect([...idb.dbs.keys()]).toEqual(['mine']);
    const { tensors } = await safetensors.loadFrom('indexeddb://via-url', { database: 'mine' });
    expect(Array.from(await tensors.get('weight')!.data())).toEqual(Array.from(await m.weight.data()));
    disposeAll(tensors);
    m.dispose();
  });

  it('download / saveTo("downloads://...") offer the safetensors bytes as a file; no document is a clear error', async () => {
    const m = new nn.Linear(3, 2);
    const { doc, clicks } = fakeDocument();
    await safetensors.download('weights', m, { a: 'b' }, { document: doc });
    vi.stubGlobal('document', doc);
    await safetensors.saveTo('downloads://second.safetensors', m);
    expect(clicks.length).toBe(2);
    const [first, second] = await Promise.all(clicks);
    expect(first!.download).toBe('weights.safetensors');
    expect(second!.download).toBe('second.safetensors');
    const { tensors, metadata } = safetensors.load(first!.bytes);
    expect(metadata).toEqual({ a: 'b' });
    expect(Array.from(await tensors.get('bias')!.data())).toEqual(Array.from(await m.bias!.data()));
    disposeAll(tensors);
    vi.unstubAllGlobals();
    await expect(safetensors.download('w', m)).rejects.toThrow(/download: there is no document to download from/);
    m.dispose();
  });

  it('URLs: an http(s) source is fetched; unknown schemes and downloads:// as a source are refused', async () => {
    const m = new nn.Linear(2, 1);
    const bytes = await safetensors.save(m);
    const fetched: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      fetched.push(url);
      return url.endsWith('missing') ? new Response('', { status: 404 }) : new Response(bytes as Uint8Array<ArrayBuffer>);
    });
    const { tensors } = await safetensors.loadFrom('https://example.test/model.safetensors');
    expect([...tensors.keys()].sort()).toEqual(['bias', 'weight']);
    disposeAll(tensors);
    await expect(safetensors.loadFrom('https://example.test/missing')).rejects.toThrow(/loadFrom: fetching https:\/\/example\.test\/missing failed: HTTP 404/);
    expect(fetched).toEqual(['https://example.test/model.safetensors', 'https://example.test/missing']);
    await expect(safetensors.loadFrom('downloads://x')).rejects.toThrow(/loadFrom: unsupported source 'downloads:\/\/x'/);
    await expect(safetensors.saveTo('file://x', m)).rejects.toThrow(/saveTo: unsupported destination 'file:\/\/x'/);
    await expect(safetensors.saveTo('model', m)).rejects.toThrow(/saveTo: expected a URL such as 'indexeddb:\/\/my-model'/);
    m.dispose();
  });
});
