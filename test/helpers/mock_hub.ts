// A local stand-in for the Hugging Face Hub (no network in tests): two HTTP servers on 127.0.0.1, the Hub and
// its CDN on another port, answering the way huggingface.co does for GET <hub>/<id>/resolve/<revision>/<file>:
//   - LFS files (weights, *.spm, *.model): 302 to the CDN (absolute Location, another origin) with X-Repo-Commit,
//     X-Linked-Etag (sha256), X-Linked-Size and ETag; the CDN serves the bytes, in chunks
//   - other files: 200 with the bytes, ETag (git blob id) and X-Repo-Commit
//   - a renamed repo: 307 to its new name with a relative Location
//   - errors with X-Error-Code and X-Error-Message: RepoNotFound (401 without a valid token, 404 with one, as
//     the Hub hides private repos), GatedRepo (401 without a token, 403 with one not granted), RevisionNotFound
//     (404), EntryNotFound (404, with X-Repo-Commit)
//   - CORS as the Hub sends it (any origin, its X-* headers exposed), so that pages on another origin can use it
// Every request is logged with the host it reached and its Authorization header.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MockRepo {
  files: Record<string, Uint8Array | string>;
  /** Revisions other than 'main' and the commit itself (tags, branches) that resolve to this commit. */
  revisions?: string[];
  /** 'private': RepoNotFound without a valid token; 'gated': GatedRepo unless the token is in `granted`. */
  access?: 'public' | 'private' | 'gated';
  granted?: string[];
  /** Answer plain 401/403 without X-Error-Code (as a mirror or a proxy might). */
  plainAuthErrors?: boolean;
  /** Served from another id: a 307 with a relative Location. */
  renamedTo?: string;
}

export interface HubRequest {
  readonly host: 'hub' | 'cdn';
  readonly path: string;
  readonly auth: string | undefined;
}

export interface MockHub {
  readonly url: string;
  readonly cdnUrl: string;
  readonly requests: HubRequest[];
  readonly repos: Record<string, MockRepo>;
  /** Valid tokens (any repo they may see). */
  readonly tokens: Set<string>;
  commitOf(id: string): string;
  /** 'redirect-loop': every resolve answers 302 to itself. */
  mode: 'normal' | 'redirect-loop' | 'error-500';
  close(): Promise<void>;
}

const LFS = /\.(safetensors|bin|spm|model|gz)$/;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** git's blob id, as the Hub's ETag for non-LFS files. */
const gitBlob = (b: Uint8Array) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
const bytesOf = (v: Uint8Array | string) => (typeof v === 'string' ? new TextEncoder().encode(v) : v);

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'x-repo-commit, x-error-code, x-error-message, etag, x-linked-etag, x-linked-size, content-length',
};

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(CORS)) res.setHeader(k, v);
    if (req.method === 'OPTIONS') {
      return void res.writeHead(204, { 'access-control-allow-headers': 'authorization', 'access-control-allow-methods': 'GET' }).end();
    }
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function startMockHub(repos: Record<string, MockRepo>, tokens: string[] = []): Promise<MockHub> {
  const requests: HubRequest[] = [];
  const blobs = new Map<string, Uint8Array>();
  const commitOf = (id: string) => createHash('sha1').update(`commit of ${id}`).digest('hex');

  const cdn = await listen(async (req, res) => {
    requests.push({ host: 'cdn', path: req.url ?? '', auth: req.headers.authorization });
    const body = blobs.get((req.url ?? '').split('/').at(-1)!);
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': String(body.length), 'content-type': 'application/octet-stream' });
    for (let i = 0; i < body.length; i += 64 << 10) { // several chunks: several progress events
      res.write(body.subarray(i, i + (64 << 10)));
      await new Promise((r) => setTimeout(r, 1));
    }
    res.end();
  });

  const hub: MockHub = {
    url: '', cdnUrl: cdn.url, requests, repos, tokens: new Set(tokens), commitOf, mode: 'normal',
    async close() {
      for (const s of [server, cdn.server]) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    },
  };

  const { server, url } = await listen((req, res) => {
    const path = decodeURI((req.url ?? '').split('?')[0]!);
    requests.push({ host: 'hub', path, auth: req.headers.authorization });
    const fail = (status: number, code: string | undefined, message: string, extra: Record<string, string> = {}) =>
      void res.writeHead(status, { ...(code ? { 'x-error-code': code, 'x-error-message': message } : {}), ...extra }).end(message);
    if (hub.mode === 'error-500') return fail(500, undefined, 'Internal Error');
    const at = path.indexOf('/resolve/');
    if (at < 0) return fail(404, undefined, 'Not Found');
    const id = path.slice(1, at);
    const [rev, ...rest] = path.slice(at + '/resolve/'.length).split('/');
    const file = rest.join('/');
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const validToken = token !== undefined && hub.tokens.has(token);
    if (hub.mode === 'redirect-loop') return void res.writeHead(302, { location: req.url }).end();
    const repo = repos[id];
    if (!repo) return fail(validToken ? 404 : 401, 'RepoNotFound', 'Repository not found');
    if (repo.renamedTo) return void res.writeHead(307, { location: `/${repo.renamedTo}/resolve/${rev}/${file}` }).end();
    if (repo.access === 'private' && !validToken) {
      return repo.plainAuthErrors ? fail(401, undefined, 'Unauthorized') : fail(401, 'RepoNotFound', 'Repository not found');
    }
    if (repo.access === 'gated' && !(validToken && repo.granted?.includes(token!))) {
      if (repo.plainAuthErrors) return fail(validToken ? 403 : 401, undefined, 'Forbidden');
      return fail(validToken ? 403 : 401, 'GatedRepo', `Access to model ${id} is restricted.`);
    }
    const commit = commitOf(id);
    if (rev !== 'main' && rev !== commit && !repo.revisions?.includes(rev!)) return fail(404, 'RevisionNotFound', 'Invalid rev id');
    const content = repo.files[file];
    if (content === undefined) return fail(404, 'EntryNotFound', 'Entry not found', { 'x-repo-commit': commit });
    const body = bytesOf(content);
    if (LFS.test(file)) {
      const oid = sha256(body);
      blobs.set(oid, body);
      return void res.writeHead(302, {
        location: `${cdn.url}/repos/${id}/${oid}`, 'x-repo-commit': commit, 'x-linked-etag': `"${oid}"`,
        'x-linked-size': String(body.length), etag: `"${oid}"`,
      }).end();
    }
    res.writeHead(200, { 'content-length': String(body.length), etag: `"${gitBlob(body)}"`, 'x-repo-commit': commit });
    res.end(body);
  });
  (hub as { url: string }).url = url;
  return hub;
}

/** An http URL on 127.0.0.1 where nothing listens (a port just freed; fetch refuses "bad ports" such as 1). */
export async function closedUrl(): Promise<string> {
  const { server, url } = await listen(() => undefined);
  await new Promise((r) => server.close(r));
  return url;
}
