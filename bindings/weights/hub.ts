// Models by Hugging Face Hub id: `loadModel('Helsinki-NLP/opus-mt-en-de', { revision, hubUrl, token })`.
//
// Each file a loader asks for is GET <hub>/<id>/resolve/<revision>/<file>, as huggingface_hub's hf_hub_download
// does it: redirects followed by hand (the Hub answers 302 to its CDN for LFS files, 307 to the new name of a
// renamed repo; relative and absolute Locations), the token sent only to the Hub's own origin, and the Hub's
// X-Repo-Commit / X-Linked-Etag / ETag / X-Error-Code headers read from its own answer before any redirect. The
// first answer pins the commit: the other files of one load come from that commit even if the branch moves.
//
// Settings, as huggingface_hub reads them: the endpoint is `hubUrl`, else HF_ENDPOINT, else https://huggingface.co
// (a mirror serving the same URL layout works); the token is `token`, else HF_TOKEN (sent as
// `Authorization: Bearer`); `offline`, else HF_HUB_OFFLINE=1, means cached files only.
//
// Where files are kept: in Node, huggingface_hub's own cache layout (hub_cache.node.ts), so a model downloaded by
// Python is found here and the other way round; elsewhere (browsers, Deno, Workers) OPFS or the Cache API
// through cache.ts, keyed by the resolve URL (so by revision).
//
// Errors are HubErrors (SourceError) whose `reason` is the Hub's X-Error-Code where it sent one, with a message
// that names the model and the file and says what to do.

import { HubError, InputError, SourceError, type HubErrorReason } from '../errors.js';
import { envVar, isNodeJs } from '../platform.js';
import { cachingSource, type ModelCacheOptions } from './cache.js';
import { abortedError, errMessage, readBody } from './http.js';
import type { ModelSource, ReadOptions } from './source.js';

export interface HubOptions {
  /** Branch, tag or commit hash (default 'main'). */
  readonly revision?: string;
  /** The Hub or a mirror with its URL layout (default: the HF_ENDPOINT environment variable, else https://huggingface.co). */
  readonly hubUrl?: string;
  /** Access token for gated and private models (default: the HF_TOKEN environment variable); false: send none. */
  readonly token?: string | false;
  /** Node: the file cache folder (default HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub); null: no
   *  file cache (then the Cache API where there is one, as in browsers). */
  readonly cacheDir?: string | null;
  /** Only cached files, never the network (default: the HF_HUB_OFFLINE environment variable). */
  readonly offline?: boolean;
}

export interface HubSourceOptions extends HubOptions, ModelCacheOptions {
  /** Defaults to the global fetch. */
  readonly fetch?: typeof fetch;
}

export const DEFAULT_HUB = 'https://huggingface.co';
const MAX_REDIRECTS = 10;

/**
 * huggingface_hub's validate_repo_id: "name" or "owner/name", each of letters, digits, "_", "-", "." starting and
 * ending with a letter, digit or "_" (the name at most 96 characters), no "--" or "..", not ending in ".git".
 */
export function isHubId(s: string): boolean {
  const part = '[A-Za-z0-9_](?:[\\w.-]*[A-Za-z0-9_])?';
  return new RegExp(`^(?:${part}/)?${part}$`).test(s) && s.split('/').at(-1)!.length <= 96 &&
    !s.includes('--') && !s.includes('..') && !s.endsWith('.git');
}

export const isCommitHash = (s: string) => /^[0-9a-f]{40}$/.test(s);

/** huggingface_hub's _is_true. */
const isTrue = (v: string | undefined) => v !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(v.toUpperCase());

/** What the Hub said about a file: the commit it resolved to, the blob's etag (sha256 for LFS files), its size. */
export interface FileMeta {
  commit?: string;
  etag?: string;
  size?: number;
}

export type HubAnswer =
  | { readonly kind: 'body'; readonly res: Response; readonly url: string; readonly meta: FileMeta }
  | { readonly kind: 'absent'; readonly meta: FileMeta; readonly error: HubError }
  | { readonly kind: 'skipped'; readonly meta: FileMeta };

/** One Hub repo at one revision: URLs, requests, what each answer means. Shared by the Node and the web cache. */
export class HubClient {
  readonly endpoint: string;
  readonly revision: string;
  readonly token: string | undefined;
  private readonly tokenFrom: string;
  readonly offline: boolean;
  readonly offlineFrom: string;
  /** The commit the first answer resolved the revision to; later files are asked for at it. */
  pinned: string | undefined;
  /** Set by the first network failure: later files go straight to the cache. */
  unreachable: HubError | undefined;
  /** Where cached copies live, for messages. */
  cacheWhere = 'no cache';
  /** Set when a string was tried as a folder first (toModelSource): said in front of "no such model" errors. */
  triedFolder: string | undefined;

  /** Called as a plain function: browsers refuse `fetch` called as a method of another object ("Illegal invocation"). */
  private readonly doFetch: typeof fetch;

  constructor(readonly id: string, options: HubSourceOptions) {
    const f = options.fetch;
    this.doFetch = (input, init) => (f ?? globalThis.fetch)(input, init);
    if (typeof id !== 'string' || !isHubId(id)) {
      throw new InputError(`${JSON.stringify(id)} is not a Hugging Face Hub id ("name" or "owner/name": letters, digits, ` +
        '"-", "_" and ".", e.g. "Helsinki-NLP/opus-mt-en-de")');
    }
    const rev = options.revision ?? 'main';
    if (typeof rev !== 'string' || rev === '' || rev.startsWith('/') || rev.includes('\\') || rev.split('/').includes('..')) {
      throw new InputError(`revision must be a branch, tag or commit hash, got ${JSON.stringify(rev)}`);
    }
    this.revision = rev;
    const endpoint = options.hubUrl ?? envVar('HF_ENDPOINT') ?? DEFAULT_HUB;
    if (typeof endpoint !== 'string' || !/^https?:\/\/[^/]/i.test(endpoint)) {
      throw new InputError(`hubUrl (or HF_ENDPOINT) must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
    }
    this.endpoint = endpoint.replace(/\/+$/, '');
    if (options.token !== undefined && options.token !== false && typeof options.token !== 'string') {
      throw new InputError(`token must be a string (or false for none), got ${typeof options.token}`);
    }
    if (options.token === false || options.token === '') {
      this.token = undefined;
      this.tokenFrom = 'nowhere';
    } else if (typeof options.token === 'string') {
      this.token = options.token;
      this.tokenFrom = 'the token option';
    } else {
      this.token = envVar('HF_TOKEN') || envVar('HUGGING_FACE_HUB_TOKEN') || undefined;
      this.tokenFrom = envVar('HF_TOKEN') ? 'HF_TOKEN' : 'HUGGING_FACE_HUB_TOKEN';
    }
    this.offline = options.offline ?? isTrue(envVar('HF_HUB_OFFLINE'));
    this.offlineFrom = options.offline !== undefined ? 'offline: true' : 'HF_HUB_OFFLINE is set';
  }

  get description(): string {
    return `Hub model ${this.id} (revision ${this.revision}${this.endpoint === DEFAULT_HUB ? '' : `, ${this.endpoint}`})`;
  }

  url(file: string, revision = this.pinned ?? this.revision): string {
    checkFileName(file);
    return `${this.endpoint}/${this.id}/resolve/${encodeURIComponent(revision)}/${file.split('/').map(encodeURIComponent).join('/')}`;
  }

  /** Remembers the commit of the first answer (when the revision is a branch or tag). */
  pin(meta: FileMeta): void {
    if (meta.commit && isCommitHash(meta.commit) && !isCommitHash(this.revision)) this.pinned ??= meta.commit;
  }

  /**
   * GET one file, following redirects. `skip(meta)` is asked once the Hub's own answer is in (before following a
   * redirect to the CDN): true stops there (the Node cache already has that blob). A missing file is 'absent'
   * (EntryNotFound, or a 404 without error code from a plain mirror); every other failure throws a HubError.
   */
  async get(file: string, opts: ReadOptions, skip?: (meta: FileMeta) => boolean | Promise<boolean>): Promise<HubAnswer> {
    let url = this.url(file);
    const hubOrigin = new URL(this.endpoint).origin;
    const meta: FileMeta = {};
    for (let hop = 0; ; hop++) {
      const fromHub = new URL(url).origin === hubOrigin;
      const headers: Record<string, string> = {};
      // like requests and browsers, credentials go only to the Hub itself, never to the CDN it redirects to
      if (this.token && fromHub) headers.authorization = `Bearer ${this.token}`;
      let res: Response;
      try {
        res = await this.doFetch(url, { headers, redirect: 'manual', signal: opts.signal });
        // browsers hide redirects from 'manual' (an opaque answer): let fetch follow them there
        if (res.type === 'opaqueredirect') res = await this.doFetch(url, { headers, redirect: 'follow', signal: opts.signal });
      } catch (e) {
        throw abortedError(opts.signal, e) ?? this.unreachableError(file, url, e);
      }
      if (fromHub) readMeta(res, meta);
      const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
      if (location !== null) {
        await res.body?.cancel().catch(() => undefined);
        this.pin(meta);
        if (await skip?.(meta)) return { kind: 'skipped', meta };
        if (hop >= MAX_REDIRECTS) {
          throw this.error('HttpError', file, res.status, `the Hub (${this.endpoint}) redirected ${file} of ${this.id} more than ${MAX_REDIRECTS} times (last to ${location})`);
        }
        url = new URL(location, url).href;
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        const error = this.httpError(res, file, url);
        if (error.reason === 'EntryNotFound') return { kind: 'absent', meta, error };
        throw error;
      }
      this.pin(meta);
      if (meta.size === undefined) {
        const len = res.headers.get('content-length');
        if (len !== null && /^\d+$/.test(len) && !res.headers.get('content-encoding')) meta.size = Number(len);
      }
      if (await skip?.(meta)) {
        await res.body?.cancel().catch(() => undefined);
        return { kind: 'skipped', meta };
      }
      return { kind: 'body', res, url, meta };
    }
  }

  private howToPassToken(): string {
    return `loadModel('${this.id}', { token: 'hf_...' }), --token on the command line, or the HF_TOKEN environment ` +
      `variable (tokens: ${this.endpoint}/settings/tokens)`;
  }

  error(reason: HubErrorReason, file: string | undefined, status: number | undefined, message: string, cause?: unknown): HubError {
    const prefixed = this.triedFolder !== undefined && (reason === 'RepoNotFound' || (reason === 'Unauthorized' && !this.token))
      ? `"${this.triedFolder}" is not a folder here (${cwd()}), so it was tried as a Hub id: ${message}` : message;
    return new HubError(prefixed, { reason, status, repo: this.id, file }, cause === undefined ? undefined : { cause });
  }

  /** The Hub's error answer as a HubError, by X-Error-Code where it sent one, else by status. */
  httpError(res: Response, file: string, url: string): HubError {
    const code = res.headers.get('x-error-code') ?? '';
    const said = res.headers.get('x-error-message');
    const status = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
    const tail = said ? ` (the Hub says: ${said})` : '';
    const page = `${this.endpoint}/${this.id}`;
    const e = (reason: HubErrorReason, message: string) => this.error(reason, file, res.status, message + tail);
    if (code === 'RepoNotFound') {
      return e('RepoNotFound', `no model ${this.id} on ${this.endpoint} (${status}, RepoNotFound): check the id ` +
        `(owner/name, as in the model page's address ${page})` + (this.token
        ? `; if it exists, the token sent (from ${this.tokenFrom}) has no access to it`
        : `. A private or gated model needs a token: ${this.howToPassToken()}`));
    }
    if (code === 'GatedRepo') {
      return this.token
        ? e('GatedRepo', `access to the gated model ${this.id} is not granted to this token (${status}, GatedRepo, ` +
          `for ${file}): accept the model's conditions at ${page} with the token's account (some need the authors' ` +
          'approval), then retry')
        : e('GatedRepo', `${this.id} is a gated model: downloading ${file} needs a token (${status}, GatedRepo). Accept ` +
          `its conditions at ${page} while logged in, then pass a token of that account: ${this.howToPassToken()}`);
    }
    if (code === 'RevisionNotFound') {
      return e('RevisionNotFound', `${this.id} has no revision "${this.revision}" (${status}, RevisionNotFound): pass a ` +
        `branch, tag or full commit hash that exists (default "main"; history: ${page}/commits/main)`);
    }
    if (code === 'EntryNotFound' || (res.status === 404 && !code)) {
      return e('EntryNotFound', `${this.id} (revision ${this.revision}) has no file ${file} ` +
        `(${status}${code ? `, ${code}` : ''}: ${url})`);
    }
    if (res.status === 401) {
      return this.token
        ? e('Unauthorized', `the Hub (${this.endpoint}) refused the token (from ${this.tokenFrom}) for ${this.id}: ${status} ` +
          `for ${file}. Check that it is a valid token with read access (${this.endpoint}/settings/tokens)`)
        : e('Unauthorized', `${this.id} needs a token: the Hub (${this.endpoint}) answered ${status} for ${file}, so the ` +
          `model is private or gated (or does not exist). Pass one: ${this.howToPassToken()}`);
    }
    if (res.status === 403) {
      return e('Forbidden', `the Hub (${this.endpoint}) answered ${status} for ${file} of ${this.id}: ` + (this.token
        ? `the token (from ${this.tokenFrom}) has no read access to this model (a fine-grained token needs it granted)`
        : `it needs a token with access: ${this.howToPassToken()}`));
    }
    return e('HttpError', `the Hub (${this.endpoint}) answered ${status} for ${file} of ${this.id} (${url})`);
  }

  unreachableError(file: string, url: string, cause: unknown): HubError {
    return this.error('Offline', file, undefined, `cannot reach ${this.endpoint} to download ${file} of ${this.id} ` +
      `(GET ${url} failed: ${causeText(cause)}), and ${this.cacheWhere} has no copy of it: you seem to be offline. ` +
      'Connect and retry; a model loaded once before loads offline from the cache (HF_HUB_OFFLINE=1 skips the ' +
      'network), and a folder with the model\'s files loads without it.', cause);
  }

  notCachedError(file: string): HubError {
    return this.error('NotCached', file, undefined, `${this.offlineFrom} (cached files only), and ${file} of ${this.id} ` +
      `(revision ${this.revision}) is not in ${this.cacheWhere}: load the model once online (without ` +
      `${this.offlineFrom === 'offline: true' ? 'offline: true' : 'HF_HUB_OFFLINE'}) to cache it, or load a folder with its files`);
  }
}

function cwd(): string {
  try {
    return typeof process !== 'undefined' && typeof process.cwd === 'function' ? process.cwd() : '.';
  } catch {
    return '.';
  }
}

/** Node's fetch hides the reason in `cause` ("fetch failed" ← "connect ECONNREFUSED 127.0.0.1:1"). */
function causeText(e: unknown): string {
  const inner = (e as { cause?: unknown })?.cause;
  return inner instanceof Error || (inner && typeof inner === 'object' && 'message' in inner)
    ? `${errMessage(e)}: ${(inner as { code?: string; message: string }).code ?? (inner as { message: string }).message}`
    : errMessage(e);
}

/** File names a loader asks for: relative, no "..", no backslashes (they become URL paths and cache paths). */
function checkFileName(file: string): void {
  if (typeof file !== 'string' || file === '' || file.startsWith('/') || file.includes('\\') || file.split('/').some((p) => p === '..' || p === '' || p === '.')) {
    throw new SourceError(`not a file name in a model repo: ${JSON.stringify(file)}`);
  }
}

/** huggingface_hub's _normalize_etag: no W/ prefix, no quotes. */
const normalizeEtag = (etag: string | null) => (etag ? etag.replace(/^W\//, '').replace(/^"(.*)"$/, '$1') : undefined);

function readMeta(res: Response, meta: FileMeta): void {
  meta.commit ??= res.headers.get('x-repo-commit') ?? undefined;
  meta.etag ??= normalizeEtag(res.headers.get('x-linked-etag')) ?? normalizeEtag(res.headers.get('etag'));
  const size = res.headers.get('x-linked-size');
  if (meta.size === undefined && size !== null && /^\d+$/.test(size)) meta.size = Number(size);
}

/** The source behind the web caches: each file downloaded into memory. */
function networkSource(client: HubClient): ModelSource {
  return {
    description: client.description,
    async read(file, opts = {}) {
      const got = await client.get(file, opts);
      if (got.kind === 'absent') {
        if (opts.optional) return undefined;
        throw got.error;
      }
      if (got.kind === 'skipped') throw new SourceError(`${file}: download skipped`); // no skip given: cannot happen
      return readBody(got.res, file, got.url, opts);
    },
  };
}

/**
 * The files of a Hub model, downloaded on first use and kept (see the top of this file). `loadModel(id)` and the
 * other loaders make one from a string Hub id; call it yourself to pass cache options (`cacheName`, `storage`).
 */
export function hubSource(id: string, options: HubSourceOptions = {}): ModelSource {
  return hubSourceTried(id, options, undefined);
}

/** hubSource for a string that was tried as a folder first (toModelSource): "no such model" errors say so. */
export function hubSourceTried(id: string, options: HubSourceOptions, triedFolder: string | undefined): ModelSource {
  const client = new HubClient(id, options);
  client.triedFolder = triedFolder;
  if (isNodeJs() && options.cacheDir !== null) {
    // The Node file cache: loaded on first use (a Node-only module, left out of the browser build).
    let opened: Promise<ModelSource> | undefined;
    const open = () => (opened ??= import('./hub_cache.node.js').then((m) => m.fileCachedHubSource(client, options.cacheDir ?? undefined)));
    return {
      get description() { return client.description; },
      async read(file, opts) { return (await open()).read(file, opts); },
      async openTensors(file, opts) { return (await open()).openTensors!(file, opts); },
    };
  }
  const root = `${client.endpoint}/${client.id}/resolve/${encodeURIComponent(client.revision)}`;
  const name = options.cacheName ?? 'wasm-seq2seq-models';
  client.cacheWhere = options.storage === 'none' ? 'no cache (storage: none)' : `this runtime's model cache (${name})`;
  return cachingSource(root, networkSource(client), client.description, {
    ...options, offline: client.offline, notCached: (file) => client.notCachedError(file),
  });
}
