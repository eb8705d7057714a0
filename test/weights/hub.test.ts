// Models by Hub id, against the mock Hub of test/helpers/mock_hub.ts (the Hub's URL layout, its redirects to a CDN
// on another port, its headers and auth): download, huggingface_hub's cache layout, the golden output, then the
// same model again from the cache with the Hub stopped, and with HF_HUB_OFFLINE=1.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { HubError } from '../../bindings/errors.js';
import { Phonemizer } from '../../bindings/g2p/phonemizer.js';
import { loadModel } from '../../bindings/model/load.js';
import type { Seq2SeqModel } from '../../bindings/model/model.js';
import { loadTokenizer } from '../../bindings/tokenizers/index.js';
import { defaultHubCacheDir } from '../../bindings/weights/hub_cache.node.js';
import { loadModelFiles, type FileProgress } from '../../bindings/weights/source.js';
import { golden, maxAbsDiff } from '../helpers/fixtures.js';
import { closedUrl, startMockHub, type MockHub } from '../helpers/mock_hub.js';
import { textModelFiles } from '../helpers/textmodel.js';

const ID = 'acme/opus-tiny';
const files = textModelFiles();
const g = golden('marian_tiny');
const weightBytes = files['model.safetensors'] as Uint8Array;
const G2P = new URL('../../weights/g2p-en/', import.meta.url).pathname;

let hub: MockHub;
let tmp: string;
const fresh = (name: string) => mkdtempSync(join(tmp, `${name}-`));

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-hub-'));
  const g2p = Object.fromEntries(['config.json', 'generation_config.json', 'vocab.json', 'model.safetensors', 'lexicon.tsv.gz']
    .map((f) => [f, new Uint8Array(readFileSync(join(G2P, f)))]));
  // an opus-mt-style repo with only pytorch_model.bin (test/fixtures/marian_tiny_bin_zip)
  const BIN = new URL('../fixtures/marian_tiny_bin_zip/', import.meta.url).pathname;
  const binOnly = Object.fromEntries(['config.json', 'generation_config.json', 'pytorch_model.bin']
    .map((f) => [f, new Uint8Array(readFileSync(join(BIN, f)))]));
  hub = await startMockHub({
    [ID]: { files, revisions: ['v1.0'] },
    'acme/gated': { files, access: 'gated', granted: ['hf_good'] },
    'acme/old-name': { files: {}, renamedTo: ID },
    'acme/g2p': { files: g2p },
    'acme/bin-only': { files: binOnly },
  }, ['hf_good', 'hf_other']);
});
afterAll(async () => {
  await hub.close();
  rmSync(tmp, { recursive: true, force: true });
});
// the developer's own Hub settings must not reach the tests (nor their token the mock Hub)
beforeEach(() => {
  for (const v of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_ENDPOINT', 'HF_HUB_OFFLINE', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME']) {
    vi.stubEnv(v, undefined);
  }
});
afterEach(() => vi.unstubAllEnvs());

/** The golden beam-4 run of marian_tiny, and a text run against the same files loaded from memory. */
async function checkGolden(model: Seq2SeqModel, reference: Seq2SeqModel) {
  const want = g.generate.beam4;
  const out = await model.generate(g.inputs.input_ids, { numBeams: 4, lengthPenalty: 1, earlyStopping: true, maxNewTokens: 12,
    attentionMask: g.inputs.attention_mask });
  expect(out.sequences).toEqual(want.sequences);
  expect(maxAbsDiff(out.scores!, want.sequences_scores)).toBeLessThan(1e-4);
  const greedy = await model.generate(g.inputs.input_ids, { numBeams: 1, maxNewTokens: 12, attentionMask: g.inputs.attention_mask });
  expect(greedy.sequences).toEqual(g.generate.greedy.sequences);
  const text = ['the history of the', 'of the'];
  expect((await model.generate(text, { maxNewTokens: 8 })).text).toEqual((await reference.generate(text, { maxNewTokens: 8 })).text);
}

describe('loading by Hub id', () => {
  let reference: Seq2SeqModel;
  let cache: string;
  beforeAll(async () => {
    reference = await loadModel(files, { threads: 1 });
    cache = fresh('cache');
  });

  it('downloads through the redirect to the CDN, keeps huggingface_hub\'s layout, and gives the golden output', async () => {
    hub.requests.length = 0;
    const events: FileProgress[] = [];
    const model = await loadModel(ID, { hubUrl: hub.url, cacheDir: cache, token: 'hf_good', threads: 1, onProgress: (e) => events.push(e) });
    expect(model.tokenizer?.family).toBe('marian');
    await checkGolden(model, reference);

    // the token went to the Hub only, never to the CDN it redirected to
    const cdn = hub.requests.filter((r) => r.host === 'cdn');
    expect(cdn.map((r) => r.path)).toEqual(expect.arrayContaining([expect.stringMatching(/^\/repos\/acme\/opus-tiny\/[0-9a-f]{64}$/)]));
    expect(cdn.every((r) => r.auth === undefined)).toBe(true);
    expect(hub.requests.filter((r) => r.host === 'hub').every((r) => r.auth === 'Bearer hf_good')).toBe(true);
    // the first answer pins the commit: the other files are asked for at it
    const commit = hub.commitOf(ID);
    expect(hub.requests[0]!.path).toBe(`/${ID}/resolve/main/config.json`);
    expect(hub.requests.filter((r) => r.host === 'hub').slice(1).every((r) => r.path.includes(`/resolve/${commit}/`))).toBe(true);

    // download progress of the weights: from 0 to the size, never backwards, with the total known
    const mine = events.filter((e) => e.file === 'model.safetensors');
    expect(mine[0]!.loaded).toBe(0);
    expect(mine.at(-1)!.loaded).toBe(weightBytes.length);
    for (let i = 1; i < mine.length; i++) expect(mine[i]!.loaded).toBeGreaterThanOrEqual(mine[i - 1]!.loaded);
    expect(mine.every((e) => e.total === weightBytes.length)).toBe(true);
    expect(mine.length).toBeGreaterThan(3);

    const repo = join(cache, 'models--acme--opus-tiny');
    expect(readFileSync(join(repo, 'refs', 'main'), 'utf8')).toBe(commit);
    const snap = join(repo, 'snapshots', commit);
    expect(lstatSync(join(snap, 'model.safetensors')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(snap, 'model.safetensors'))).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    expect(readFileSync(join(snap, 'model.safetensors')).equals(weightBytes)).toBe(true);
    expect(readlinkSync(join(snap, 'config.json'))).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{40}$/); // git blob id
    // files the Hub said it does not have are remembered, as huggingface_hub does
    expect(existsSync(join(repo, '.no_exist', commit, 'special_tokens_map.json'))).toBe(true);
    model.dispose();
  });

  it('a repo with only pytorch_model.bin: fetched by id, the golden output, then again offline from the cache', async () => {
    const dir = fresh('bin-only'), gm = golden('marian_tiny');
    const o = { attentionMask: gm.inputs.attention_mask, numBeams: 4, numReturnSequences: 2, maxNewTokens: 12 };
    for (const offline of [false, true]) {
      const model = await loadModel('acme/bin-only', { hubUrl: hub.url, cacheDir: dir, offline, threads: 1 });
      const out = await model.generate(gm.inputs.input_ids, o);
      expect(out.sequences).toEqual(gm.generate.beam4_nbest2.sequences);
      expect(maxAbsDiff(out.scores!, gm.generate.beam4_nbest2.sequences_scores)).toBeLessThan(1e-4);
      model.dispose();
    }
    expect(existsSync(join(dir, 'models--acme--bin-only', 'snapshots', hub.commitOf('acme/bin-only'), 'pytorch_model.bin'))).toBe(true);
  });

  it('a second load asks the Hub once (the branch\'s commit) and downloads nothing again', async () => {
    hub.requests.length = 0;
    const model = await loadModel(ID, { hubUrl: hub.url, cacheDir: cache, threads: 1 });
    expect(hub.requests.map((r) => `${r.host} ${r.path}`)).toEqual([`hub /${ID}/resolve/main/config.json`]);
    await checkGolden(model, reference);
    model.dispose();
  });

  it('HF_HUB_OFFLINE=1 reads the cache without asking; a commit hash is read from the cache straight away', async () => {
    hub.requests.length = 0;
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    const model = await loadModel(ID, { hubUrl: hub.url, cacheDir: cache, threads: 1 });
    await checkGolden(model, reference);
    vi.stubEnv('HF_HUB_OFFLINE', undefined);
    const pinned = await loadModel(ID, { hubUrl: hub.url, cacheDir: cache, threads: 1, revision: hub.commitOf(ID) });
    await checkGolden(pinned, reference);
    expect(hub.requests).toEqual([]);
    model.dispose();
    pinned.dispose();
  });

  it('with the Hub stopped, loads from the cache; what was never cached is a clear offline error', async () => {
    const own = await startMockHub({ [ID]: { files, revisions: ['v1.0'] } });
    const dir = fresh('offline');
    (await loadModel(ID, { hubUrl: own.url, cacheDir: dir, threads: 1 })).dispose();
    await own.close();
    const model = await loadModel(ID, { hubUrl: own.url, cacheDir: dir, threads: 1 });
    await checkGolden(model, reference);
    model.dispose();
    const e = await loadModel(ID, { hubUrl: own.url, cacheDir: dir, revision: 'v1.0' }).catch((x) => x);
    expect(e).toBeInstanceOf(HubError);
    expect(e.reason).toBe('Offline');
    expect(e.message).toBe(`cannot reach ${own.url} to download config.json of ${ID} (GET ${own.url}/${ID}/resolve/v1.0/config.json ` +
      `failed: fetch failed: ECONNREFUSED), and the cache ${join(dir, 'models--acme--opus-tiny')} has no copy of it: you seem to ` +
      'be offline. Connect and retry; a model loaded once before loads offline from the cache (HF_HUB_OFFLINE=1 skips the network), ' +
      'and a folder with the model\'s files loads without it.');
  });

  it('a tag resolves like a branch; a renamed repo is followed through its relative redirect, token included', async () => {
    hub.requests.length = 0;
    const m = await loadModelFiles(ID, { hubUrl: hub.url, cacheDir: fresh('tag'), revision: 'v1.0' });
    expect(m.config.model_type).toBe('marian');
    m.weights.close?.();
    hub.requests.length = 0;
    const r = await loadModelFiles('acme/old-name', { hubUrl: hub.url, cacheDir: fresh('renamed'), token: 'hf_good' });
    expect(r.weights.names.length).toBe(86);
    r.weights.close?.();
    expect(hub.requests[0]).toMatchObject({ host: 'hub', path: '/acme/old-name/resolve/main/config.json', auth: 'Bearer hf_good' });
    expect(hub.requests[1]).toMatchObject({ host: 'hub', path: `/${ID}/resolve/main/config.json`, auth: 'Bearer hf_good' });
  });

  it('the endpoint comes from HF_ENDPOINT and the token from HF_TOKEN; the options win', async () => {
    vi.stubEnv('HF_ENDPOINT', hub.url);
    vi.stubEnv('HF_TOKEN', 'hf_good');
    vi.stubEnv('HF_HUB_CACHE', fresh('env'));
    const m = await loadModelFiles('acme/gated');
    expect(m.config.model_type).toBe('marian');
    m.weights.close?.();
    const other = await loadModelFiles('acme/gated', { token: 'hf_other', cacheDir: fresh('env2') }).catch((x) => x);
    expect(other).toBeInstanceOf(HubError);
    expect([other.reason, other.status]).toEqual(['GatedRepo', 403]);
    const none = await loadModelFiles('acme/gated', { token: false, cacheDir: fresh('env3') }).catch((x) => x);
    expect([none.reason, none.status]).toEqual(['GatedRepo', 401]);
    const elsewhere = await loadModelFiles('acme/gated', { hubUrl: await closedUrl(), cacheDir: fresh('env4') }).catch((x) => x);
    expect(elsewhere.reason).toBe('Offline');
  });

  it('loadTokenizer and Phonemizer.load take Hub ids too', async () => {
    const tok = await loadTokenizer(ID, undefined, { hubUrl: hub.url, cacheDir: cache });
    expect(tok!.encode('the history of the')).toEqual(reference.tokenizer!.encode('the history of the'));
    const dir = fresh('g2p');
    const byId = await Phonemizer.load('acme/g2p', { hubUrl: hub.url, cacheDir: dir, threads: 1 });
    const local = await Phonemizer.load(G2P, { threads: 1 });
    const text = 'Zorblax read the 3 books.';
    expect(await byId.phonemize(text)).toEqual(await local.phonemize(text));
    expect(existsSync(join(dir, 'models--acme--g2p', 'snapshots', hub.commitOf('acme/g2p'), 'lexicon.tsv.gz'))).toBe(true);
  });
});

describe('a cache made by huggingface_hub', () => {
  it('is found through HF_HUB_CACHE, HF_HOME and XDG_CACHE_HOME, and loads offline', async () => {
    const home = fresh('hf-home');
    const root = join(home, 'hub');
    // the layout hf_hub_download writes: blobs by etag, relative symlinks in the snapshot, the branch's ref
    const repo = join(root, 'models--py--made');
    const commit = 'c0ffee'.padEnd(40, '0');
    mkdirSync(join(repo, 'blobs'), { recursive: true });
    mkdirSync(join(repo, 'snapshots', commit), { recursive: true });
    mkdirSync(join(repo, 'refs'));
    writeFileSync(join(repo, 'refs', 'main'), commit);
    for (const [i, f] of ['config.json', 'generation_config.json', 'model.safetensors'].entries()) {
      writeFileSync(join(repo, 'blobs', `etag${i}`), files[f]!);
      symlinkSync(`../../blobs/etag${i}`, join(repo, 'snapshots', commit, f));
    }
    vi.stubEnv('HF_HUB_OFFLINE', 'true');
    vi.stubEnv('HF_HOME', home);
    expect(await defaultHubCacheDir()).toBe(root);
    const m = await loadModelFiles('py/made');
    expect(m.weights.names.length).toBe(86);
    m.weights.close?.();
    vi.stubEnv('HF_HOME', undefined);
    vi.stubEnv('XDG_CACHE_HOME', join(home, 'xdg'));
    expect(await defaultHubCacheDir()).toBe(join(home, 'xdg', 'huggingface', 'hub'));
    vi.stubEnv('HF_HUB_CACHE', root);
    expect(await defaultHubCacheDir()).toBe(root);
    expect((await loadModelFiles('py/made')).config.model_type).toBe('marian');
  });
});
