// cachedUrlSource's bookkeeping, in Node with an in-memory Cache API (the real OPFS and Cache API are exercised
// by the browser tests and by Deno): what is stored, what a second visit reads, what a failing cache does.
import { describe, it, expect, beforeAll, afterEach } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cachedUrlSource, Phonemizer } from '../../dist/bindings/index.js';
import { snapshotModel, MODEL_FILES } from './helpers.mjs';

class FakeCache {
  entries = new Map();
  async match(req) {
    const e = this.entries.get(typeof req === 'string' ? req : req.url);
    return e && new Response(e.body, { headers: e.headers });
  }
  async put(req, res) {
    this.entries.set(typeof req === 'string' ? req : req.url, { body: new Uint8Array(await res.arrayBuffer()), headers: [...res.headers] });
  }
  async keys() { return [...this.entries.keys()].map((url) => new Request(url)); }
  async delete(req) { return this.entries.delete(typeof req === 'string' ? req : req.url); }
}
class FakeCacheStorage {
  caches = new Map();
  async open(name) {
    if (!this.caches.has(name)) this.caches.set(name, new FakeCache());
    return this.caches.get(name);
  }
}

const BASE = 'https://models.example/g2p-en';
let files;
let requests;
const server = (offline = false) => async (url) => {
  requests.push(String(url));
  if (offline) throw new TypeError('fetch failed (offline)');
  const f = String(url).slice(BASE.length + 1);
  return files[f] ? new Response(files[f], { headers: { 'content-length': String(files[f].length) } }) : new Response('no', { status: 404 });
};

describe('cachedUrlSource', () => {
  beforeAll(async () => {
    const dir = await snapshotModel();
    files = Object.fromEntries(MODEL_FILES.map((f) => [f, readFileSync(join(dir, f))]));
  });
  afterEach(() => { delete globalThis.caches; });

  it('stores what it downloads; a second visit loads offline, absent optional files included', async () => {
    globalThis.caches = new FakeCacheStorage();
    requests = [];
    const first = cachedUrlSource(BASE, { cacheName: 'm', fetch: server() });
    const p1 = await Phonemizer.load(first);
    expect(await first.storage()).toBe('cache');
    expect(first.misses).toEqual(expect.arrayContaining(MODEL_FILES));
    expect(first.hits).toEqual([]);
    const fetched = requests.length;
    expect(fetched).toBeGreaterThan(MODEL_FILES.length);   // + optional tokenizer files answered 404

    requests = [];
    const second = cachedUrlSource(BASE, { cacheName: 'm', fetch: server(true) });
    const progress = [];
    const p2 = await Phonemizer.load(second, { onProgress: (e) => progress.push(e) });
    expect(requests).toEqual([]);
    expect(second.misses).toEqual([]);
    expect(second.hits.length).toBe(fetched);
    expect(progress.at(-1)).toMatchObject({ loaded: files['model.safetensors'].length, total: files['model.safetensors'].length });
    expect(await p2.phonemize('offline again')).toEqual(await p1.phonemize('offline again'));
  });

  it('a torn copy (wrong length) is fetched again', async () => {
    globalThis.caches = new FakeCacheStorage();
    requests = [];
    const src = cachedUrlSource(BASE, { cacheName: 'm', fetch: server() });
    await src.read('vocab.json');
    const cache = await globalThis.caches.open('m');
    const entry = cache.entries.get(`${BASE}/vocab.json`);
    entry.body = entry.body.subarray(0, 10);
    const again = cachedUrlSource(BASE, { cacheName: 'm', fetch: server() });
    expect(Buffer.from(await again.read('vocab.json')).equals(files['vocab.json'])).toBe(true);
    expect(again.misses).toEqual(['vocab.json']);
  });

  it('a failing cache never fails the load: it reports and downloads', async () => {
    globalThis.caches = { open: async () => ({ match: async () => { throw new Error('broken read'); },
      put: async () => { throw new Error('quota exceeded'); } }) };
    requests = [];
    const errors = [];
    const src = cachedUrlSource(BASE, { fetch: server(), onCacheError: (e, f) => errors.push(`${f}: ${e.message}`) });
    expect(Buffer.from(await src.read('config.json')).equals(files['config.json'])).toBe(true);
    expect(errors).toEqual(['config.json: broken read', 'config.json: quota exceeded']);
  });

  it('without Cache API or OPFS it is a plain URL source', async () => {
    requests = [];
    const src = cachedUrlSource(BASE, { fetch: server() });
    expect(await src.storage()).toBe('none');
    await src.read('config.json');
    await src.read('config.json');
    expect(requests.length).toBe(2);
  });

  it('clear() drops this base URL only', async () => {
    globalThis.caches = new FakeCacheStorage();
    requests = [];
    const a = cachedUrlSource(BASE, { cacheName: 'm', fetch: server() });
    await a.read('config.json');
    const cache = await globalThis.caches.open('m');
    await cache.put('https://other.example/x', new Response('keep'));
    await a.clear();
    expect([...cache.entries.keys()]).toEqual(['https://other.example/x']);
  });
});
