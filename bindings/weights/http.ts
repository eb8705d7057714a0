// Model files over HTTP: `urlSource(base)` (a base URL laid out like a Hugging Face repo, `${base}/config.json`),
// and the response-body reader it shares with the Hub source (hub.ts): byte progress, abort, and a check that
// the body is as long as the server said. The low-level helpers every source uses (abort, error text) live here
// too, so that source.ts, cache.ts and hub.ts share them without importing one another in a circle.

import { AbortedError, SourceError } from '../errors.js';
import type { ModelSource, ReadOptions } from './source.js';

export const errMessage = (e: unknown) => (e instanceof Error ? e.message : String(e));

export function abortedError(signal: AbortSignal | undefined, e?: unknown): AbortedError | undefined {
  if (signal?.aborted || (e instanceof Error && e.name === 'AbortError')) {
    return new AbortedError('loading the model was aborted', { cause: signal?.reason ?? e });
  }
  return undefined;
}

export function checkAbort(signal: AbortSignal | undefined): void {
  const e = abortedError(signal);
  if (e) throw e;
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

/** The body's length from Content-Length, when it counts the bytes the stream yields (no Content-Encoding). */
export function bodyLength(res: Response): number | undefined {
  const encoding = res.headers.get('content-encoding');
  const length = res.headers.get('content-length');
  return length !== null && /^\d+$/.test(length) && (!encoding || encoding === 'identity') ? Number(length) : undefined;
}

/**
 * Streams a response body to `sink` chunk by chunk with progress events (`total` from Content-Length), and fails
 * with SourceError when the body ends short of it. Returns the byte count.
 */
export async function streamBody(res: Response, file: string, url: string, opts: ReadOptions,
  sink: (chunk: Uint8Array) => void | Promise<void>, total = bodyLength(res)): Promise<number> {
  opts.onProgress?.({ file, loaded: 0, total });
  let loaded = 0;
  try {
    if (!res.body) {
      const all = new Uint8Array(await res.arrayBuffer());
      await sink(all);
      loaded = all.length;
      opts.onProgress?.({ file, loaded, total });
    } else {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        await sink(value);
        loaded += value.length;
        opts.onProgress?.({ file, loaded, total });
      }
    }
  } catch (e) {
    if (e instanceof SourceError) throw e;
    throw abortedError(opts.signal, e) ??
      new SourceError(`downloading ${url} failed after ${loaded} bytes: ${errMessage(e)}`, { cause: e });
  }
  if (total !== undefined && loaded !== total) {
    throw new SourceError(`download of ${url} is incomplete: got ${loaded} of ${total} bytes`);
  }
  return loaded;
}

/** The whole body in memory (see streamBody). */
export async function readBody(res: Response, file: string, url: string, opts: ReadOptions, total = bodyLength(res)): Promise<Uint8Array> {
  let out = new Uint8Array(total ?? 1 << 20);
  let at = 0;
  const loaded = await streamBody(res, file, url, opts, (value) => {
    if (at + value.length > out.length) {
      const grown = new Uint8Array(Math.max(out.length * 2, at + value.length));
      grown.set(out.subarray(0, at));
      out = grown;
    }
    out.set(value, at);
    at += value.length;
  }, total);
  return loaded === out.length ? out : out.slice(0, loaded);
}
