// The Node file cache of Hub downloads, in huggingface_hub's own layout, so that a model downloaded by Python
// (transformers, huggingface-cli) loads here without the network and the other way round:
//
//   <cache>/models--<owner>--<name>/
//     blobs/<etag>                   the file's bytes, named by the Hub's etag (sha256 for LFS files, the git blob
//                                    id for others; sha256 of the bytes when a mirror sends no etag)
//     snapshots/<commit>/<file>      a relative symlink to ../../blobs/<etag> (a copy where symlinks fail)
//     refs/<revision>                the commit a branch or tag resolved to when last asked
//     .no_exist/<commit>/<file>      an empty file: the Hub said this file does not exist at that commit
//
// <cache> is the cacheDir option, else HF_HUB_CACHE, else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
// else ~/.cache/huggingface/hub (huggingface_hub's order). Files are read from the snapshot folder through
// folderSource, so weights are read tensor by tensor from the file, never whole into memory.
//
// When the network is asked (see hub.ts for who decides): a commit-hash revision is read from the cache without
// asking; a branch or tag is asked once per file (as huggingface_hub does), and a blob already cached is not
// downloaded again (the Hub's answer names it before the redirect to the CDN). Offline (HF_HUB_OFFLINE=1,
// `offline: true`, or a failed connection): refs/<revision> → snapshots/<commit>/<file>; optional files the cache
// does not have count as absent, as transformers treats them offline.
// Node-only (dynamically imported by hub.ts; the browser build leaves it out): node: modules imported in functions.

import { HubError, SourceError } from '../errors.js';
import { envVar } from '../platform.js';
import { bodyLength, errMessage, streamBody } from './http.js';
import { isCommitHash, type HubClient } from './hub.js';
import { folderSource, type ModelSource, type ReadOptions } from './source.js';

/** huggingface_hub's HF_HUB_CACHE default. */
export async function defaultHubCacheDir(): Promise<string> {
  const { homedir } = await import('node:os');
  const { join } = await import('node:path');
  const expand = (p: string) => (p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p);
  const hub = envVar('HF_HUB_CACHE') || envVar('HUGGINGFACE_HUB_CACHE');
  if (hub) return expand(hub);
  return join(expand(envVar('HF_HOME') || join(envVar('XDG_CACHE_HOME') || join(homedir(), '.cache'), 'huggingface')), 'hub');
}

/** A path component from a server header (etag, commit): refused if it could leave its folder. */
const safeName = (s: string | undefined) => (s && /^[\w.-]+$/.test(s) && s !== '.' && s !== '..' ? s : undefined);

type Cached = { dir: string; downloaded: boolean } | 'absent';

export async function fileCachedHubSource(client: HubClient, cacheDir?: string): Promise<ModelSource> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const { createHash, randomBytes } = await import('node:crypto');
  const root = cacheDir ?? (await defaultHubCacheDir());
  const repo = path.join(root, `models--${client.id.split('/').join('--')}`);
  client.cacheWhere = `the cache ${repo}`;

  const exists = (p: string) => fs.stat(p).then(() => true, () => false);
  const snapshot = (commit: string) => path.join(repo, 'snapshots', commit);
  const blob = (etag: string) => path.join(repo, 'blobs', etag);
  const writeFailed = (what: string, e: unknown) => new SourceError(`cannot write ${what} in the Hub cache ${root} ` +
    `(${errMessage(e)}): make it writable, or set HF_HUB_CACHE (or the cacheDir option) to a folder that is`, { cause: e });

  async function readRef(revision: string): Promise<string | undefined> {
    if (isCommitHash(revision)) return revision;
    try {
      return safeName((await fs.readFile(path.join(repo, 'refs', revision), 'utf8')).trim());
    } catch {
      return undefined;
    }
  }

  async function writeRef(revision: string, commit: string): Promise<void> {
    if (isCommitHash(revision) || (await readRef(revision)) === commit) return;
    const ref = path.join(repo, 'refs', revision);
    try {
      await fs.mkdir(path.dirname(ref), { recursive: true });
      const tmp = `${ref}.${randomBytes(6).toString('hex')}.tmp`;
      await fs.writeFile(tmp, commit);
      await fs.rename(tmp, ref);
    } catch (e) {
      throw writeFailed(`refs/${revision}`, e);
    }
  }

  /** What the cache alone knows of a file at a revision. */
  async function fromCache(file: string, revision: string): Promise<Cached | undefined> {
    const commit = await readRef(revision);
    if (!commit) return undefined;
    if (await exists(path.join(snapshot(commit), file))) return { dir: snapshot(commit), downloaded: false };
    if (await exists(path.join(repo, '.no_exist', commit, file))) return 'absent';
    return undefined;
  }

  /** snapshots/<commit>/<file> → the blob, as huggingface_hub links it. */
  async function link(commit: string, file: string, etag: string): Promise<void> {
    const target = path.join(snapshot(commit), file);
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
      await fs.rm(target, { force: true });
      try {
        await fs.symlink(path.relative(path.dirname(target), blob(etag)), target);
      } catch (e) {
        if ((e as { code?: string }).code === 'EEXIST') return; // another process linked it meanwhile
        await fs.copyFile(blob(etag), target); // no symlinks here (Windows without developer mode)
      }
    } catch (e) {
      throw writeFailed(`snapshots/${commit}/${file}`, e);
    }
  }

  /** Streams the body into blobs/ (under a temporary name until complete); returns the blob's name. */
  async function download(res: Response, url: string, file: string, etag: string | undefined, size: number | undefined,
    opts: ReadOptions): Promise<string> {
    const tmp = blob(`${etag ?? 'download'}.${randomBytes(6).toString('hex')}.incomplete`);
    let handle: import('node:fs/promises').FileHandle;
    try {
      await fs.mkdir(path.dirname(tmp), { recursive: true });
      handle = await fs.open(tmp, 'w');
    } catch (e) {
      await res.body?.cancel().catch(() => undefined);
      throw writeFailed('blobs/', e);
    }
    const hash = etag ? undefined : createHash('sha256');
    try {
      await streamBody(res, file, url, opts, async (chunk) => {
        hash?.update(chunk);
        for (let at = 0; at < chunk.length;) at += (await handle.write(chunk, at, chunk.length - at)).bytesWritten;
      }, bodyLength(res) ?? size);
      await handle.close();
      const name = etag ?? hash!.digest('hex');
      await fs.rename(tmp, blob(name));
      return name;
    } catch (e) {
      await handle.close().catch(() => undefined);
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      throw e;
    }
  }

  /** Brings one file into the cache if it is not there (or says it does not exist). */
  async function ensure(file: string, opts: ReadOptions): Promise<Cached> {
    const offlineAnswer = async (notFound: () => HubError) => {
      const c = await fromCache(file, client.pinned ?? client.revision);
      if (c) return c;
      if (opts.optional) return 'absent';
      throw notFound();
    };
    if (client.offline) return offlineAnswer(() => client.notCachedError(file));
    if (client.unreachable) return offlineAnswer(() => client.unreachableError(file, client.url(file), client.unreachable!.cause));
    const revision = client.pinned ?? client.revision;
    if (isCommitHash(revision)) {
      const c = await fromCache(file, revision);
      if (c && (c !== 'absent' || opts.optional)) return c; // a required file known absent: let the Hub say why
    }
    let answer;
    try {
      answer = await client.get(file, opts, async (meta) => {
        const etag = safeName(meta.etag);
        return etag !== undefined && safeName(meta.commit) !== undefined && exists(blob(etag));
      });
    } catch (e) {
      if (!(e instanceof HubError) || e.reason !== 'Offline') throw e;
      client.unreachable = e;
      return offlineAnswer(() => e);
    }
    const commit = safeName(answer.meta.commit) ?? revision; // a mirror without X-Repo-Commit: by revision name
    await writeRef(client.revision, commit);
    if (answer.kind === 'absent') {
      if (safeName(answer.meta.commit)) {
        const marker = path.join(repo, '.no_exist', commit, file);
        await fs.mkdir(path.dirname(marker), { recursive: true }).then(() => fs.writeFile(marker, '')).catch(() => undefined);
      }
      if (opts.optional) return 'absent';
      throw answer.error;
    }
    if (answer.kind === 'skipped') {
      await link(commit, file, safeName(answer.meta.etag)!);
      return { dir: snapshot(commit), downloaded: false };
    }
    const name = await download(answer.res, answer.url, file, safeName(answer.meta.etag), answer.meta.size, opts);
    await link(commit, file, name);
    return { dir: snapshot(commit), downloaded: true };
  }

  async function via<T>(file: string, opts: ReadOptions, read: (folder: ModelSource, o: ReadOptions) => Promise<T>): Promise<T | undefined> {
    const got = await ensure(file, opts);
    if (got === 'absent') {
      if (opts.optional) return undefined;
      throw client.error('EntryNotFound', file, 404, `${client.id} (revision ${client.revision}) has no file ${file} ` +
        `(as the Hub said before: ${path.join(repo, '.no_exist')})`);
    }
    // a file just downloaded has had its progress events; reading it back from disk adds none
    return read(folderSource(got.dir), got.downloaded ? { ...opts, onProgress: undefined } : opts);
  }

  return {
    get description() { return client.description; },
    read: (file, opts = {}) => via(file, opts, (f, o) => f.read(file, o)).then((b) => b ?? undefined),
    openTensors: (file, opts = {}) => via(file, opts, (f, o) => f.openTensors!(file, o)).then((s) => s ?? undefined),
  };
}
