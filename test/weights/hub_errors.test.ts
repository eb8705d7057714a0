// What a user is told when a Hub download fails (each X-Error-Code, 401/403 with and without a token, offline,
// HF_HUB_OFFLINE without a cache), and how a string is taken: an existing folder wins, else a Hub id in Node.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { HubError, InputError, SourceError } from '../../bindings/errors.js';
import { loadModel } from '../../bindings/model/load.js';
import { hubSource } from '../../bindings/weights/hub.js';
import { loadModelFiles, toModelSource } from '../../bindings/weights/source.js';
import { closedUrl, startMockHub, type MockHub } from '../helpers/mock_hub.js';
import { textModelFiles } from '../helpers/textmodel.js';

const files = textModelFiles();
const { 'model.safetensors': _weights, ...noWeights } = files;
let hub: MockHub;
let tmp: string;
const fresh = () => mkdtempSync(join(tmp, 'c-'));
/** The typed error a load fails with. */
const failure = async (p: Promise<unknown>) => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof Error)) throw new Error('expected the load to fail');
  return e as HubError;
};

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-hub-errors-'));
  hub = await startMockHub({
    'acme/tiny': { files },
    'acme/private': { files, access: 'private' },
    'acme/gated': { files, access: 'gated', granted: ['hf_granted'] },
    'acme/proxied': { files, access: 'gated', plainAuthErrors: true },
    'acme/no-weights': { files: noWeights },
  }, ['hf_granted', 'hf_valid']);
});
afterAll(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});
beforeEach(() => {
  for (const v of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_ENDPOINT', 'HF_HUB_OFFLINE', 'HF_HUB_CACHE', 'HF_HOME']) vi.stubEnv(v, undefined);
});
afterEach(() => vi.unstubAllEnvs());

describe('Hub errors name the model, the file and what to do', () => {
  const load = (id: string, o: Record<string, unknown> = {}) => failure(loadModelFiles(hubSource(id, { hubUrl: hub.url, cacheDir: fresh(), ...o })));
  const howToken = `loadModel('ID', { token: 'hf_...' }), --token on the command line, or the HF_TOKEN environment variable ` +
    `(tokens: HUB/settings/tokens)`;
  const expand = (s: string, id: string) => s.replaceAll('ID', id).replaceAll('HUB', hub.url);

  it('401 RepoNotFound: no such model (the Hub also says this for a private one without a token)', async () => {
    const e = await load('acme/nope');
    expect(e).toBeInstanceOf(HubError);
    expect([e.reason, e.status, e.repo, e.file, e.code]).toEqual(['RepoNotFound', 401, 'acme/nope', 'config.json', 'SOURCE']);
    expect(e.message).toBe(expand(`no model ID on HUB (HTTP 401 Unauthorized, RepoNotFound): check the id (owner/name, as in the ` +
      `model page's address HUB/ID). A private or gated model needs a token: ${howToken} (the Hub says: Repository not found)`, 'acme/nope'));
    expect((await load('acme/private')).reason).toBe('RepoNotFound');
    const withToken = await load('acme/nope', { token: 'hf_valid' });
    expect([withToken.reason, withToken.status]).toEqual(['RepoNotFound', 404]);
    expect(withToken.message).toContain('; if it exists, the token sent (from the token option) has no access to it');
  });

  it('gated: 401 without a token, 403 with one not granted; with a granted token it loads', async () => {
    const e = await load('acme/gated');
    expect([e.reason, e.status]).toEqual(['GatedRepo', 401]);
    expect(e.message).toBe(expand(`ID is a gated model: downloading config.json needs a token (HTTP 401 Unauthorized, GatedRepo). ` +
      `Accept its conditions at HUB/ID while logged in, then pass a token of that account: ${howToken} ` +
      '(the Hub says: Access to model ID is restricted.)', 'acme/gated'));
    const e2 = await load('acme/gated', { token: 'hf_valid' });
    expect([e2.reason, e2.status]).toEqual(['GatedRepo', 403]);
    expect(e2.message).toBe(expand('access to the gated model ID is not granted to this token (HTTP 403 Forbidden, GatedRepo, for ' +
      'config.json): accept the model\'s conditions at HUB/ID with the token\'s account (some need the authors\' approval), then ' +
      'retry (the Hub says: Access to model ID is restricted.)', 'acme/gated'));
    const ok = await loadModelFiles(hubSource('acme/gated', { hubUrl: hub.url, cacheDir: fresh(), token: 'hf_granted' }));
    expect(ok.config.model_type).toBe('marian');
  });

  it('401 and 403 without an error code (a proxy or mirror): needs a token / the token has no access', async () => {
    const e = await load('acme/proxied');
    expect([e.reason, e.status]).toEqual(['Unauthorized', 401]);
    expect(e.message).toBe(expand(`ID needs a token: the Hub (HUB) answered HTTP 401 Unauthorized for config.json, so the model is ` +
      `private or gated (or does not exist). Pass one: ${howToken}`, 'acme/proxied'));
    const e2 = await load('acme/proxied', { token: 'hf_valid' });
    expect([e2.reason, e2.status]).toEqual(['Forbidden', 403]);
    expect(e2.message).toBe(expand('the Hub (HUB) answered HTTP 403 Forbidden for config.json of ID: the token (from the token ' +
      'option) has no read access to this model (a fine-grained token needs it granted)', 'acme/proxied'));
    vi.stubEnv('HF_TOKEN', 'hf_wrong');
    const e3 = await load('acme/proxied');
    expect(e3.message).toMatch(/refused the token \(from HF_TOKEN\) for acme\/proxied: HTTP 401 Unauthorized for config\.json/);
  });

  it('404 RevisionNotFound and EntryNotFound (a required file; optional ones are simply absent)', async () => {
    const e = await load('acme/tiny', { revision: 'v9' });
    expect([e.reason, e.status]).toEqual(['RevisionNotFound', 404]);
    expect(e.message).toBe(expand('ID has no revision "v9" (HTTP 404 Not Found, RevisionNotFound): pass a branch, tag or full ' +
      'commit hash that exists (default "main"; history: HUB/ID/commits/main) (the Hub says: Invalid rev id)', 'acme/tiny'));
    const w = await load('acme/no-weights');
    expect(w).toBeInstanceOf(SourceError);
    expect([(w.cause as HubError).reason, (w.cause as HubError).file]).toEqual(['EntryNotFound', 'model.safetensors']);
    expect(w.message).toBe(expand(`ID (revision main) has no file model.safetensors (HTTP 404 Not Found, EntryNotFound: ` +
      `HUB/ID/resolve/${hub.commitOf('acme/no-weights')}/model.safetensors) (the Hub says: Entry not found) (nor ` +
      'model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json)', 'acme/no-weights'));
    const src = hubSource('acme/tiny', { hubUrl: hub.url, cacheDir: fresh() });
    expect(await src.read('tokenizer.json', { optional: true })).toBeUndefined();
  });

  it('offline with nothing cached, and HF_HUB_OFFLINE=1 without a cached copy', async () => {
    const dir = fresh();
    const down = await closedUrl();
    const e = await failure(loadModelFiles(hubSource('acme/tiny', { hubUrl: down, cacheDir: dir })));
    expect(e.reason).toBe('Offline');
    expect(e.message).toMatch(/^cannot reach http:\/\/127\.0\.0\.1:\d+ to download config\.json of acme\/tiny \(GET .* failed: fetch failed: ECONNREFUSED\), and the cache .*models--acme--tiny has no copy of it: you seem to be offline\./);
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    hub.requests.length = 0;
    const o = await failure(loadModelFiles(hubSource('acme/tiny', { hubUrl: hub.url, cacheDir: dir })));
    expect(o.reason).toBe('NotCached');
    expect(o.message).toBe(`HF_HUB_OFFLINE is set (cached files only), and config.json of acme/tiny (revision main) is not in the ` +
      `cache ${join(dir, 'models--acme--tiny')}: load the model once online (without HF_HUB_OFFLINE) to cache it, or load a folder with its files`);
    expect(hub.requests).toEqual([]);
    const opt = await failure(loadModelFiles(hubSource('acme/tiny', { hubUrl: hub.url, cacheDir: dir, offline: true })));
    expect(opt.message).toMatch(/^offline: true \(cached files only\), and config\.json .*\(without offline: true\)/);
  });

  it('a server error, a redirect loop, bad ids and options', async () => {
    hub.mode = 'error-500';
    try {
      const e = await load('acme/tiny');
      expect([e.reason, e.status]).toEqual(['HttpError', 500]);
      expect(e.message).toBe(`the Hub (${hub.url}) answered HTTP 500 Internal Server Error for config.json of acme/tiny ` +
        `(${hub.url}/acme/tiny/resolve/main/config.json)`);
      hub.mode = 'redirect-loop';
      expect((await load('acme/tiny')).message).toMatch(/redirected config\.json of acme\/tiny more than 10 times/);
    } finally {
      hub.mode = 'normal';
    }
    expect(() => hubSource('a/b/c')).toThrow(InputError);
    expect(() => hubSource('a/b/c')).toThrow('"a/b/c" is not a Hugging Face Hub id ("name" or "owner/name"');
    for (const bad of ['org--x/y', 'x..y', 'repo.git', '-x', 'a/-b', '']) expect(() => hubSource(bad), bad).toThrow(InputError);
    expect(() => hubSource('a/b', { revision: '../x' })).toThrow(/revision must be a branch, tag or commit hash/);
    expect(() => hubSource('a/b', { hubUrl: 'ftp://x' })).toThrow(/hubUrl \(or HF_ENDPOINT\) must be an http\(s\) URL/);
    await expect(hubSource('a/b', { hubUrl: hub.url }).read('../etc/passwd')).rejects.toThrow(SourceError);
  });
});

describe('a string is a folder when it exists, else a Hub id', () => {
  let cwd: string;
  let dir: string;
  beforeAll(() => {
    cwd = process.cwd();
    dir = mkdtempSync(join(tmp, 'cwd-'));
    mkdirSync(join(dir, 'acme', 'tiny'), { recursive: true });
    for (const [f, v] of Object.entries(files)) writeFileSync(join(dir, 'acme', 'tiny', f), v);
    process.chdir(dir);
  });
  afterAll(() => process.chdir(cwd));

  it('an existing folder wins over the Hub id of the same name', async () => {
    hub.requests.length = 0;
    const model = await loadModel('acme/tiny', { hubUrl: hub.url, cacheDir: fresh(), threads: 1 });
    expect(model.tokenizer?.family).toBe('marian');
    expect(hub.requests).toEqual([]);
    expect(toModelSource('acme/tiny').description).toBe('acme/tiny (a folder if one exists, else a Hub id)');
    model.dispose();
  });

  it('no such folder: the Hub id is tried, and the error says both', async () => {
    const e = await failure(loadModel('acme/missing', { hubUrl: hub.url, cacheDir: fresh() }));
    expect(e.reason).toBe('RepoNotFound');
    expect(e.message).toMatch(new RegExp(`^"acme/missing" is not a folder here \\(${dir}\\), so it was tried as a Hub id: no model acme/missing on `));
    const m = await loadModelFiles('acme/tiny', { hubUrl: hub.url });
    expect(m.config.model_type).toBe('marian');
    m.weights.close?.();
  });

  it('a Hub id written as a path, and a path that is not a Hub id: what was tried and what to do', async () => {
    const e = await failure(loadModel('./Helsinki-NLP/opus-mt-en-de'));
    expect(e).toBeInstanceOf(SourceError);
    expect(e.message).toBe('folder ./Helsinki-NLP/opus-mt-en-de does not exist (looking for config.json); to download the Hub ' +
      'model Helsinki-NLP/opus-mt-en-de, pass "Helsinki-NLP/opus-mt-en-de" (without "./")');
    const e2 = await failure(loadModel('models/opus-mt/en-de'));
    expect(e2.message).toBe('folder models/opus-mt/en-de does not exist (looking for config.json); "models/opus-mt/en-de" is not a ' +
      'Hub id either (a Hub id is "name" or "owner/name" of letters, digits, "-", "_" and "."), so it was read as a folder path');
    const e3 = await failure(loadModel(join(dir, 'nowhere')));
    expect(e3.message).toBe(`folder ${join(dir, 'nowhere')} does not exist (looking for config.json)`);
  });
});
