// Where model files come from: a local folder (Node), a base URL laid out like a Hugging Face repo
// (`${base}/config.json`, `${base}/model.safetensors`, e.g. https://huggingface.co/<repo>/resolve/main), a
// Hugging Face Hub id (hub.ts), or files already in memory. All answer the same `read(file)` so the loader does
// not care which it has; toModelSource decides which a string is (see there) and checks every file read for
// being a Git LFS pointer (lfs.ts).

import { parseConfig, type ModelConfig } from '../config.js';
import { ConfigError, Seq2SeqError, SourceError, WeightsError } from '../errors.js';
import { hasNodeApis } from '../platform.js';
import { checkAbort, errMessage, urlSource } from './http.js';
import { hubSource, hubSourceTried, isHubId, type HubOptions } from './hub.js';
import { checkNotLfsPointer, guardLfs, LFS_POINTER_MAX } from './lfs.js';
import { dequantizingStore } from './int8.js';
import { PYTORCH_INDEX, PYTORCH_WEIGHTS, readPytorchWeights } from './pytorch_source.js';
import { headerLength, mergeShards, SafeTensors, type TensorStore } from './safetensors.js';

export interface FileProgress {
  readonly file: string;
  readonly loaded: number;
  /** Undefined when the server sends no usable Content-Length. */
  readonly total: number | undefined;
}
export type ProgressCallback = (e: FileProgress) => void;

export interface ReadOptions {
  readonly onProgress?: ProgressCallback;
  readonly signal?: AbortSignal;
  /** Resolve to undefined instead of throwing when the file does not exist. */
  readonly optional?: boolean;
}

export interface ModelSource {
  /** Names the source in error messages. */
  readonly description: string;
  /** The file's bytes; undefined only for an absent file read with `optional`. */
  read(file: string, options?: ReadOptions): Promise<Uint8Array | undefined>;
  /**
   * Optional: a safetensors file whose tensors are read when asked for (and straight into their destination),
   * instead of the whole file into one buffer first; undefined for an absent file read with `optional`. The
   * caller closes the store. A folder in Node has it: a model's weights then never exist twice in memory.
   */
  openTensors?(file: string, options?: ReadOptions): Promise<SafeTensors | undefined>;
  /** Optional: the names of the files it has, for error messages (a folder, in-memory files). */
  list?(): Promise<string[]>;
}

/** `{ 'config.json': string | object | bytes, 'model.safetensors': bytes, ... }` */
export type InMemoryFiles = Readonly<Record<string, string | ArrayBuffer | ArrayBufferView | object | undefined>>;
export type SourceInput = string | URL | InMemoryFiles | ModelSource;

export { urlSource, type UrlSourceOptions } from './http.js';

const CHUNK = 16 << 20; // folder reads in 16 MiB steps so progress and abort work on big files

export function folderSource(dir: string | URL): ModelSource {
  const shown = String(dir);
  // Dynamic imports so that a browser bundle of this module does not pull in Node built-ins.
  const nodeOnly = async <T>(load: () => Promise<T>): Promise<T> => {
    try {
      return await load();
    } catch (e) {
      throw new SourceError(`reading folder ${shown} needs Node.js file access (${errMessage(e)}); ` +
        'pass a URL or in-memory files instead', { cause: e });
    }
  };
  const locate = async (file: string) => {
    const base = typeof dir === 'string' ? dir : await nodeOnly(async () => (await import('node:url')).fileURLToPath(dir));
    return { base, path: `${base.replace(/[\\/]+$/, '') || base}/${file}` };
  };
  /** Maps a failed open to the error users should see; undefined when the file is absent and optional. */
  const openFailed = async (e: unknown, file: string, base: string, path: string, optional?: boolean) => {
    if ((e as { code?: string }).code !== 'ENOENT') throw new SourceError(`cannot open ${path}: ${errMessage(e)}`, { cause: e });
    if (optional) return undefined;
    const fs = await import('node:fs/promises');
    const names = await fs.readdir(base).catch(() => undefined);
    if (names === undefined) throw new SourceError(`folder ${shown} does not exist (looking for ${file})${notAFolderHint(shown)}`, { cause: e });
    const has = names.length === 0 ? 'it is empty' : `it has ${names.slice(0, 20).join(', ')}${names.length > 20 ? `, ... (${names.length})` : ''}`;
    throw new SourceError(`${file} not found in folder ${shown} (${path}); ${has}`, { cause: e });
  };
  return {
    description: `folder ${shown}`,
    async list() {
      const { base } = await locate('');
      const fs = await nodeOnly(() => import('node:fs/promises'));
      return (await fs.readdir(base, { withFileTypes: true })).filter((d) => !d.isDirectory()).map((d) => d.name);
    },
    async read(file, opts = {}) {
      const { base, path } = await locate(file);
      const fs = await nodeOnly(() => import('node:fs/promises'));
      let handle: import('node:fs/promises').FileHandle;
      try {
        handle = await fs.open(path, 'r');
      } catch (e) {
        return openFailed(e, file, base, path, opts.optional);
      }
      try {
        const stat = await handle.stat();
        if (!stat.isFile()) throw new SourceError(`${path} is not a regular file`);
        const out = new Uint8Array(stat.size);
        let loaded = 0;
        opts.onProgress?.({ file, loaded, total: stat.size });
        while (loaded < stat.size) {
          checkAbort(opts.signal);
          const { bytesRead } = await handle.read(out, loaded, Math.min(CHUNK, stat.size - loaded), loaded);
          if (bytesRead === 0) throw new SourceError(`${path} ended after ${loaded} of ${stat.size} bytes while being read`);
          loaded += bytesRead;
          opts.onProgress?.({ file, loaded, total: stat.size });
        }
        return out;
      } catch (e) {
        if (e instanceof Seq2SeqError) throw e;
        throw new SourceError(`cannot read ${path}: ${errMessage(e)}`, { cause: e });
      } finally {
        await handle.close();
      }
    },

    // Synchronous reads: each tensor is copied from the page cache into the (already touched) wasm memory that
    // packs it. Reading the whole file into a fresh buffer first costs a page fault per 4 KiB, on a VM ~1 µs
    // each: for a Marian-size model that was ~0.4 s of a 0.9 s load, and the file's bytes twice in memory.
    async openTensors(file, opts = {}) {
      const { base, path } = await locate(file);
      const fs = await nodeOnly(() => import('node:fs'));
      let fd: number;
      try {
        fd = fs.openSync(path, 'r');
      } catch (e) {
        return openFailed(e, file, base, path, opts.optional);
      }
      let open = true;
      const close = () => { if (open) { open = false; fs.closeSync(fd); } };
      try {
        const stat = fs.fstatSync(fd);
        if (!stat.isFile()) throw new SourceError(`${path} is not a regular file`);
        const size = stat.size;
        if (size <= LFS_POINTER_MAX) { // a Git LFS pointer in place of the weights: say so, not "bad header"
          const all = new Uint8Array(size);
          if (fs.readSync(fd, all, 0, size, 0) === size) checkNotLfsPointer(all, file, `folder ${shown}`);
        }
        let loaded = 0;
        const readAt = (pos: number, dst: Uint8Array) => {
          if (!open) throw new SourceError(`${path} was read after the model finished loading (the store is closed)`);
          checkAbort(opts.signal);
          for (let got = 0; got < dst.length;) {
            let n: number;
            try {
              n = fs.readSync(fd, dst, got, dst.length - got, pos + got);
            } catch (e) {
              throw new SourceError(`cannot read ${path}: ${errMessage(e)}`, { cause: e });
            }
            if (n === 0) throw new SourceError(`${path} ended at byte ${pos + got} of ${size} while being read (changed on disk?)`);
            got += n;
          }
          loaded = Math.min(size, loaded + dst.length);
          opts.onProgress?.({ file, loaded, total: size });
        };
        opts.onProgress?.({ file, loaded: 0, total: size });
        const first = new Uint8Array(Math.min(8, size));
        readAt(0, first);
        const head = new Uint8Array(8 + headerLength(first, size, file));
        readAt(0, head);
        loaded = head.length;
        const store = SafeTensors.fromReader(head, size, {
          read: readAt,
          close: () => {
            if (open) opts.onProgress?.({ file, loaded: size, total: size }); // tensors never asked for count as read
            close();
          },
        }, file);
        return store;
      } catch (e) {
        close();
        throw e;
      }
    },
  };
}

function isArrayBuffer(v: unknown): v is ArrayBuffer {
  const tag = Object.prototype.toString.call(v);
  return tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]';
}

export function memorySource(files: InMemoryFiles): ModelSource {
  return {
    description: 'in-memory model files',
    async list() {
      return Object.keys(files).filter((k) => files[k] !== undefined && files[k] !== null);
    },
    async read(file, opts = {}) {
      const v = Object.hasOwn(files, file) ? files[file] : undefined;
      if (v === undefined || v === null) {
        if (opts.optional) return undefined;
        throw new SourceError(`${file} is missing from the in-memory model files (given: ${Object.keys(files).join(', ') || 'none'})`);
      }
      // Text and parsed objects only make sense for JSON files; weights must be bytes.
      const json = file.endsWith('.json');
      let bytes: Uint8Array;
      if (isArrayBuffer(v)) bytes = new Uint8Array(v);
      else if (ArrayBuffer.isView(v)) bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      else if (json && typeof v === 'string') bytes = new TextEncoder().encode(v);
      else if (json && typeof v === 'object') bytes = new TextEncoder().encode(jsonText(file, v));
      else throw new SourceError(`in-memory ${file} must be ${json ? 'a string, an object or bytes' : 'an ArrayBuffer or Uint8Array'}, got ${typeof v}`);
      opts.onProgress?.({ file, loaded: bytes.length, total: bytes.length });
      return bytes;
    },
  };
}

/** An in-memory JSON file given as an object, as text; ConfigError when it is not JSON (cyclic, a BigInt). */
function jsonText(file: string, v: object): string {
  try {
    return JSON.stringify(v);
  } catch (e) {
    throw new ConfigError(`in-memory ${file} is an object that cannot be written as JSON: ${errMessage(e)}`, { cause: e });
  }
}

/**
 * What a string names, "existing folder wins":
 *  - http(s):// and blob: strings are URLs, everywhere;
 *  - in Node (and Deno): a path that exists is a folder; otherwise a Hugging Face Hub id when it can be one
 *    ("name" or "owner/name", see isHubId), else a folder (whose error then says it does not exist);
 *  - elsewhere (browsers, Workers): "owner/name" is a Hub id, anything else a URL (relative to the page:
 *    write "./owner/name" for a folder on your own server).
 * A URL object is a folder for file: URLs, else a URL. Every source comes back checked for LFS pointers.
 */
export function toModelSource(input: SourceInput, options: HubOptions = {}): ModelSource {
  if (typeof input === 'string') {
    if (/^(https?:\/\/|blob:)/i.test(input)) return guardLfs(urlSource(input));
    if (!hasNodeApis()) return guardLfs(input.includes('/') && isHubId(input) ? hubSource(input, options) : urlSource(input));
    return guardLfs(isHubId(input) ? folderOrHub(input, options) : folderSource(input));
  }
  if (input instanceof URL) return guardLfs(input.protocol === 'file:' ? folderSource(input) : urlSource(input));
  const maybe = input as Partial<ModelSource>;
  if (typeof maybe.read === 'function' && typeof maybe.description === 'string') return guardLfs(input as ModelSource);
  if (typeof input !== 'object' || input === null) throw new SourceError(`not a model source: ${String(input)}`);
  return guardLfs(memorySource(input as InMemoryFiles));
}

/** A folder when the path exists, else the Hub model of that id (decided at the first read). */
function folderOrHub(input: string, options: HubOptions): ModelSource {
  let chosen: ModelSource | undefined;
  let deciding: Promise<ModelSource> | undefined;
  const decide = () => (deciding ??= (async () => {
    const fs = await import('node:fs/promises');
    // only "no such path" means "not a folder": a folder we may not read should fail as a folder
    const missing = await fs.stat(input).then(() => false, (e: { code?: string }) => e?.code === 'ENOENT' || e?.code === 'ENOTDIR');
    chosen = missing ? hubSourceTried(input, options, input) : folderSource(input);
    return chosen;
  })());
  return {
    get description() { return chosen?.description ?? `${input} (a folder if one exists, else a Hub id)`; },
    async read(file, opts) { return (await decide()).read(file, opts); },
    async openTensors(file, opts) {
      const s = await decide();
      return s.openTensors ? s.openTensors(file, opts) : readSafetensors(s, file, opts ?? {});
    },
    async list() { return (await decide()).list?.() ?? []; },
  };
}

/** For a folder that does not exist: what the string might have meant instead. */
function notAFolderHint(shown: string): string {
  const rest = shown.replace(/^\.[\\/]/, '');
  if (rest !== shown && isHubId(rest)) return `; to download the Hub model ${rest}, pass "${rest}" (without "./")`;
  if (!/^([\\/~]|\.{1,2}[\\/]|[A-Za-z]:)/.test(shown) && !isHubId(shown)) {
    return `; "${shown}" is not a Hub id either (a Hub id is "name" or "owner/name" of letters, digits, "-", "_" ` +
      'and "."), so it was read as a folder path';
  }
  return '';
}

export interface LoadedModelFiles {
  readonly config: ModelConfig;
  readonly rawConfig: Record<string, unknown>;
  readonly rawGenerationConfig: Record<string, unknown> | undefined;
  readonly weights: TensorStore;
}

export interface LoadOptions extends HubOptions {
  readonly onProgress?: ProgressCallback;
  readonly signal?: AbortSignal;
}

/**
 * Reads config.json (required), generation_config.json (optional) and the weights (model.safetensors, or the
 * shards listed by model.safetensors.index.json). The config is validated before the weights are read, so a
 * wrong or unsupported model fails before a large download.
 */
export async function loadModelFiles(input: SourceInput, options: LoadOptions = {}): Promise<LoadedModelFiles> {
  const source = toModelSource(input, options);
  const rawConfig = (await readJson(source, 'config.json', options, false))!;
  const rawGenerationConfig = await readJson(source, 'generation_config.json', options, true);
  const config = parseConfig(rawConfig, rawGenerationConfig);
  const weights = await readWeights(source, options);
  return { config, rawConfig, rawGenerationConfig, weights };
}

async function readJson(source: ModelSource, file: string, opts: LoadOptions, optional: boolean) {
  checkAbort(opts.signal);
  const bytes = await source.read(file, { ...opts, optional });
  if (bytes === undefined) return undefined;
  // The shard index describes weights; the other JSON files are configuration.
  const Err = file.endsWith('.safetensors.index.json') ? WeightsError : ConfigError;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Err(`${file} from ${source.description} is not valid JSON: ${errMessage(e)}`, { cause: e });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Err(`${file} from ${source.description} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

// Same preference as from_pretrained: model.safetensors, else the sharded index, else pytorch_model.bin or its
// index (pytorch_source.ts).
async function readWeights(source: ModelSource, opts: LoadOptions): Promise<TensorStore> {
  checkAbort(opts.signal);
  const single = source.openTensors
    ? await source.openTensors('model.safetensors', { ...opts, optional: true })
    : await readSafetensors(source, 'model.safetensors', { ...opts, optional: true });
  if (single) return closingOnError(single, () => dequantizingStore(single));
  const index = await readJson(source, 'model.safetensors.index.json', opts, true);
  if (!index) {
    const bin = await readPytorchWeights(source, opts);
    if (bin) return bin;
    try {
      await source.read('model.safetensors', opts); // not optional: throws the source's precise "not found"
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      throw new SourceError(`${e.message} (nor model.safetensors.index.json, ${PYTORCH_WEIGHTS} or ${PYTORCH_INDEX})`, { cause: e });
    }
    throw new SourceError(`model.safetensors from ${source.description} vanished while loading`);
  }
  const map = index.weight_map;
  if (typeof map !== 'object' || map === null || Array.isArray(map)) {
    throw new WeightsError('model.safetensors.index.json: "weight_map" must be an object of tensor name → shard file');
  }
  const shards: Record<string, SafeTensors> = Object.create(null); // file names are keys: "__proto__" must not be special
  try {
    for (const file of new Set(Object.values(map as Record<string, unknown>))) {
      if (typeof file !== 'string' || file.includes('..')) {
        throw new WeightsError(`model.safetensors.index.json names an invalid shard file ${JSON.stringify(file)}`);
      }
      checkAbort(opts.signal);
      shards[file] = (source.openTensors ? await source.openTensors(file, opts) : await readSafetensors(source, file, opts))!;
    }
    return dequantizingStore(mergeShards(index, shards));
  } catch (e) {
    for (const s of Object.values(shards)) s.close();
    throw e;
  }
}

function closingOnError<T>(store: TensorStore, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    store.close?.();
    throw e;
  }
}

async function readSafetensors(source: ModelSource, file: string, opts: ReadOptions): Promise<SafeTensors | undefined> {
  const bytes = await source.read(file, opts);
  return bytes && SafeTensors.parse(bytes, file);
}
