// Where model files come from: a local folder (Node), a base URL laid out like a Hugging Face repo
// (`${base}/config.json`, `${base}/model.safetensors`, e.g. https://huggingface.co/<repo>/resolve/main), or
// files already in memory. All three answer the same `read(file)` so the loader does not care which it has.

import { parseConfig, type ModelConfig } from '../config.js';
import { AbortedError, ConfigError, Seq2SeqError, SourceError, WeightsError } from '../errors.js';
import { hasNodeApis } from '../platform.js';
import { dequantizingStore } from './int8.js';
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
}

/** `{ 'config.json': string | object | bytes, 'model.safetensors': bytes, ... }` */
export type InMemoryFiles = Readonly<Record<string, string | ArrayBuffer | ArrayBufferView | object | undefined>>;
export type SourceInput = string | URL | InMemoryFiles | ModelSource;

const CHUNK = 16 << 20; // folder reads in 16 MiB steps so progress and abort work on big files

const errMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

function abortedError(signal: AbortSignal | undefined, e?: unknown): AbortedError | undefined {
  if (signal?.aborted || (e instanceof Error && e.name === 'AbortError')) {
    return new AbortedError('loading the model was aborted', { cause: signal?.reason ?? e });
  }
  return undefined;
}

function checkAbort(signal: AbortSignal | undefined): void {
  const e = abortedError(signal);
  if (e) throw e;
}

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
    const isDir = await fs.stat(base).then((s) => s.isDirectory(), () => false);
    throw new SourceError(isDir ? `${file} not found in folder ${shown} (${path})`
      : `folder ${shown} does not exist (looking for ${file})`, { cause: e });
  };
  return {
    description: `folder ${shown}`,
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

export interface UrlSourceOptions {
  /** Defaults to the global fetch. */
  readonly fetch?: typeof fetch;
  /** Extra request options, e.g. an Authorization header for gated repos. */
  readonly init?: RequestInit;
}

export function urlSource(base: string | URL, options: UrlSourceOptions = {}): ModelSource {
  const root = String(base).replace(/\/+$/, '');
  return {
    description: `URL ${root}`,
    async read(file, opts = {}) {
      const url = `${root}/${file}`;
      const doFetch = options.fetch ?? globalThis.fetch;
      let res: Response;
      try {
        res = await doFetch(url, { ...options.init, signal: opts.signal });
      } catch (e) {
        throw abortedError(opts.signal, e) ?? new SourceError(`GET ${url} failed: ${errMessage(e)}`, { cause: e });
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
        // 404/410 mean "no such file"; anything else (401/403 gated repo, 5xx) is a failure even for optional files.
        const absent = res.status === 404 || res.status === 410;
        if (absent && opts.optional) return undefined;
        throw new SourceError(absent ? `${file} not found: GET ${url} answered ${status}` : `GET ${url} answered ${status}`);
      }
      return readBody(res, file, url, opts);
    },
  };
}

async function readBody(res: Response, file: string, url: string, opts: ReadOptions): Promise<Uint8Array> {
  // With Content-Encoding the header counts compressed bytes while the body stream yields decoded ones.
  const encoding = res.headers.get('content-encoding');
  const length = res.headers.get('content-length');
  const total = length !== null && /^\d+$/.test(length) && (!encoding || encoding === 'identity') ? Number(length) : undefined;
  opts.onProgress?.({ file, loaded: 0, total });
  let out = new Uint8Array(total ?? 1 << 20);
  let loaded = 0;
  try {
    if (!res.body) {
      out = new Uint8Array(await res.arrayBuffer());
      loaded = out.length;
      opts.onProgress?.({ file, loaded, total });
    } else {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (loaded + value.length > out.length) {
          const grown = new Uint8Array(Math.max(out.length * 2, loaded + value.length));
          grown.set(out.subarray(0, loaded));
          out = grown;
        }
        out.set(value, loaded);
        loaded += value.length;
        opts.onProgress?.({ file, loaded, total });
      }
    }
  } catch (e) {
    throw abortedError(opts.signal, e) ??
      new SourceError(`downloading ${url} failed after ${loaded} bytes: ${errMessage(e)}`, { cause: e });
  }
  if (total !== undefined && loaded !== total) {
    throw new SourceError(`download of ${url} is incomplete: got ${loaded} of ${total} bytes`);
  }
  return loaded === out.length ? out : out.slice(0, loaded);
}

function isArrayBuffer(v: unknown): v is ArrayBuffer {
  const tag = Object.prototype.toString.call(v);
  return tag === '[object ArrayBuffer]' || tag === '[object SharedArrayBuffer]';
}

export function memorySource(files: InMemoryFiles): ModelSource {
  return {
    description: 'in-memory model files',
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

/** Strings are URLs when they start with http(s):// or blob:, folders otherwise (URLs anywhere but Node). */
export function toModelSource(input: SourceInput): ModelSource {
  if (typeof input === 'string') {
    return /^(https?:\/\/|blob:)/i.test(input) || !hasNodeApis() ? urlSource(input) : folderSource(input);
  }
  if (input instanceof URL) return input.protocol === 'file:' ? folderSource(input) : urlSource(input);
  const maybe = input as Partial<ModelSource>;
  if (typeof maybe.read === 'function' && typeof maybe.description === 'string') return input as ModelSource;
  if (typeof input !== 'object' || input === null) throw new SourceError(`not a model source: ${String(input)}`);
  return memorySource(input as InMemoryFiles);
}

export interface LoadedModelFiles {
  readonly config: ModelConfig;
  readonly rawConfig: Record<string, unknown>;
  readonly rawGenerationConfig: Record<string, unknown> | undefined;
  readonly weights: TensorStore;
}

export interface LoadOptions {
  readonly onProgress?: ProgressCallback;
  readonly signal?: AbortSignal;
}

/**
 * Reads config.json (required), generation_config.json (optional) and the weights (model.safetensors, or the
 * shards listed by model.safetensors.index.json). The config is validated before the weights are read, so a
 * wrong or unsupported model fails before a large download.
 */
export async function loadModelFiles(input: SourceInput, options: LoadOptions = {}): Promise<LoadedModelFiles> {
  const source = toModelSource(input);
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

// Same preference as from_pretrained: model.safetensors, else the sharded index.
async function readWeights(source: ModelSource, opts: LoadOptions): Promise<TensorStore> {
  checkAbort(opts.signal);
  const single = source.openTensors
    ? await source.openTensors('model.safetensors', { ...opts, optional: true })
    : await readSafetensors(source, 'model.safetensors', { ...opts, optional: true });
  if (single) return closingOnError(single, () => dequantizingStore(single));
  const index = await readJson(source, 'model.safetensors.index.json', opts, true);
  if (!index) {
    try {
      await source.read('model.safetensors', opts); // not optional: throws the source's precise "not found"
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      throw new SourceError(`${e.message} (nor model.safetensors.index.json; only safetensors weights are read, ` +
        'not pytorch_model.bin)', { cause: e });
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
