// Keep downloaded model files in the browser, so that a second visit (or a reload offline) loads the model
// without the network: `cachedUrlSource(base)` answers like `urlSource(base)`, but serves each file from a
// local copy when it has one and stores what it downloads.
//
// Where the copies live ('auto' picks the first that works):
//   'opfs'   the Origin Private File System (navigator.storage.getDirectory(), files written with
//            createWritable(), which commits atomically on close): Chromium, Firefox, recent Safari
//   'cache'  the Cache API (caches.open(cacheName)), keyed by the file's absolute http(s) URL: every browser
//            in a secure context (https, localhost, 127.0.0.1), Web Workers, Deno
//   'none'   neither is usable (insecure context, some private modes): files are simply downloaded
// Files the server does not have (404/410 for optional files such as tokenizer.json) are remembered too, so
// an offline load does not stop at a file it never needed. A failure to read or write a copy (quota, private
// mode) never fails the load: the file is downloaded instead and `onCacheError` is told.
//
// Copies are used as they are, without asking the server again: point `base` at an immutable revision
// (e.g. huggingface.co/<repo>/resolve/<commit>) or change `cacheName` when the files change; `clear()`
// deletes this base URL's copies. `cachingSource` is the same over any downloading source: the Hub source
// (hub.ts) keeps its files this way outside Node, keyed by `<hub>/<id>/resolve/<revision>/<file>`.

import { AbortedError, SourceError } from '../errors.js';
import { urlSource, type UrlSourceOptions } from './http.js';
import type { ModelSource, ReadOptions } from './source.js';

export type ModelCacheStorage = 'opfs' | 'cache' | 'none';

export interface ModelCacheOptions {
  /** Cache API cache name / OPFS folder name (default 'wasm-seq2seq-models'). */
  readonly cacheName?: string;
  /** 'auto' (default): OPFS where the runtime can write files there, else the Cache API, else no copies. */
  readonly storage?: 'auto' | ModelCacheStorage;
  /** Called when reading or storing a copy fails; the load goes on over the network. Default: console.warn. */
  readonly onCacheError?: (error: unknown, file: string) => void;
}

export interface CachedUrlSourceOptions extends UrlSourceOptions, ModelCacheOptions {}

export interface CachedModelSource extends ModelSource {
  /** The storage in use, decided on first use ('none' when no storage works here). */
  storage(): Promise<ModelCacheStorage>;
  /** Files answered from local copies (incl. remembered absent files), in order. */
  readonly hits: string[];
  /** Files fetched from the network, in order. */
  readonly misses: string[];
  /** Delete the copies of every file under this base URL. */
  clear(): Promise<void>;
}

const ABSENT = Symbol('absent');
type Stored = Uint8Array | typeof ABSENT | null;

interface Store {
  readonly kind: ModelCacheStorage;
  get(file: string): Promise<Stored>;
  put(file: string, value: Uint8Array | typeof ABSENT): Promise<void>;
  clear(): Promise<void>;
}

const LENGTH_HEADER = 'x-wasm-seq2seq-length';
const ABSENT_HEADER = 'x-wasm-seq2seq-absent';

function absoluteBase(base: string | URL): string {
  const raw = String(base).replace(/\/+$/, '');
  try {
    const here = (globalThis as { location?: { href?: string } }).location?.href;
    return new URL(raw, here).href.replace(/\/+$/, '');
  } catch {
    return raw;
  }
}

async function cacheApiStore(root: string, cacheName: string): Promise<Store | null> {
  if (typeof caches === 'undefined' || !/^https?:/i.test(root)) return null;
  const cache = await caches.open(cacheName);
  const key = (file: string) => `${root}/${file}`;
  return {
    kind: 'cache',
    async get(file) {
      const res = await cache.match(key(file));
      if (!res) return null;
      if (res.headers.get(ABSENT_HEADER) === '1') return ABSENT;
      const bytes = new Uint8Array(await res.arrayBuffer());
      if (String(bytes.length) !== res.headers.get(LENGTH_HEADER)) {   // a torn or foreign entry: fetch again
        await cache.delete(key(file));
        return null;
      }
      return bytes;
    },
    async put(file, value) {
      const headers: Record<string, string> = value === ABSENT
        ? { [ABSENT_HEADER]: '1' }
        : { 'content-type': 'application/octet-stream', [LENGTH_HEADER]: String(value.length) };
      await cache.put(key(file), new Response(value === ABSENT ? null : (value as Uint8Array<ArrayBuffer>), { headers }));
    },
    async clear() {
      for (const req of await cache.keys()) if (req.url.startsWith(`${root}/`)) await cache.delete(req);
    },
  };
}

// FNV-1a, 32 bits: folder names for base URLs (which may be long or hold characters OPFS names refuse).
function hash(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

function isNotFound(e: unknown): boolean {
  return (e as { name?: string })?.name === 'NotFoundError';
}

async function opfsStore(root: string, cacheName: string): Promise<Store | null> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (typeof storage?.getDirectory !== 'function' || typeof FileSystemFileHandle === 'undefined' ||
      typeof (FileSystemFileHandle.prototype as { createWritable?: unknown }).createWritable !== 'function') return null;
  const top = await (await storage.getDirectory()).getDirectoryHandle(cacheName, { create: true });
  const dirName = `${root.replace(/^[a-z]+:\/\//i, '').replace(/[^\w.-]+/g, '_').slice(-80)}-${hash(root)}`;
  const dir = await top.getDirectoryHandle(dirName, { create: true });
  const dataName = (file: string) => `f-${encodeURIComponent(file)}`;
  const absentName = (file: string) => `a-${encodeURIComponent(file)}`;
  const remove = (name: string) => dir.removeEntry(name).catch((e) => { if (!isNotFound(e)) throw e; });
  return {
    kind: 'opfs',
    async get(file) {
      try {
        const blob = await (await dir.getFileHandle(dataName(file))).getFile();
        return new Uint8Array(await blob.arrayBuffer());
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      try {
        await dir.getFileHandle(absentName(file));
        return ABSENT;
      } catch (e) {
        if (!isNotFound(e)) throw e;
        return null;
      }
    },
    async put(file, value) {
      if (value === ABSENT) {
        await dir.getFileHandle(absentName(file), { create: true });
        return;
      }
      const handle = await dir.getFileHandle(dataName(file), { create: true });
      // createWritable() writes a swap file that replaces the file only on close(): no torn copies.
      const w = await handle.createWritable();
      try {
        await w.write(value as Uint8Array<ArrayBuffer>);
        await w.close();
      } catch (e) {
        await w.abort().catch(() => undefined);
        await remove(dataName(file));
        throw e;
      }
      await remove(absentName(file));
    },
    async clear() {
      await top.removeEntry(dirName, { recursive: true }).catch((e) => { if (!isNotFound(e)) throw e; });
    },
  };
}

/**
 * A URL model source that keeps each downloaded file in OPFS or the Cache API and reads it from there next
 * time (offline included). Use it wherever a base URL goes: `Phonemizer.load(cachedUrlSource(url))`,
 * `loadModel(cachedUrlSource(url), ...)`.
 */
export function cachedUrlSource(base: string | URL, options: CachedUrlSourceOptions = {}): CachedModelSource {
  const root = absoluteBase(base);
  return cachingSource(root, urlSource(base, options), `URL ${root}`, options);
}

/**
 * What cachedUrlSource is, over any source that downloads: `network` answers the files that have no local copy,
 * `root` (an absolute http(s) URL) keys the copies. The Hub source (hub.ts) uses it in browsers, Deno and Workers.
 * `offline`: only copies are read; a file without one is `notCached(file)`'s error (or undefined when optional).
 */
export function cachingSource(root: string, network: ModelSource, shown: string,
  options: ModelCacheOptions & { offline?: boolean; notCached?: (file: string) => Error } = {}): CachedModelSource {
  const cacheName = options.cacheName ?? 'wasm-seq2seq-models';
  const wanted = options.storage ?? 'auto';
  const report = options.onCacheError ??
    ((e: unknown, file: string) => console.warn(`wasm-seq2seq: model cache (${cacheName}) failed for ${file}:`, e));
  const hits: string[] = [];
  const misses: string[] = [];

  let opened: Promise<Store | null> | undefined;
  const open = () => (opened ??= (async () => {
    const order = wanted === 'auto' ? ['opfs', 'cache'] : [wanted];
    for (const kind of order) {
      try {
        const store = kind === 'opfs' ? await opfsStore(root, cacheName) : kind === 'cache' ? await cacheApiStore(root, cacheName) : null;
        if (store) return store;
      } catch (e) {
        report(e, `(opening ${kind} storage)`);
      }
    }
    return null;
  })());

  return {
    description: `${shown} (cached in ${cacheName})`,
    hits,
    misses,
    async storage() {
      return (await open())?.kind ?? 'none';
    },
    async clear() {
      await (await open())?.clear();
    },
    async read(file: string, opts: ReadOptions = {}) {
      if (opts.signal?.aborted) throw new AbortedError('loading the model was aborted', { cause: opts.signal.reason });
      const store = await open();
      if (store) {
        let stored: Stored = null;
        try {
          stored = await store.get(file);
        } catch (e) {
          report(e, file);
        }
        if (stored === ABSENT && opts.optional) {
          hits.push(file);
          return undefined;
        }
        if (stored instanceof Uint8Array) {
          hits.push(file);
          opts.onProgress?.({ file, loaded: 0, total: stored.length });
          opts.onProgress?.({ file, loaded: stored.length, total: stored.length });
          return stored;
        }
      }
      if (options.offline) {
        if (opts.optional) return undefined;
        throw options.notCached?.(file) ?? new SourceError(`${file} is not in the cache (${cacheName}) and the source is offline`);
      }
      const bytes = await network.read(file, opts);
      misses.push(file);
      if (store) {
        try {
          await store.put(file, bytes ?? ABSENT);
        } catch (e) {
          report(e, file);
        }
      }
      return bytes;
    },
  };
}
