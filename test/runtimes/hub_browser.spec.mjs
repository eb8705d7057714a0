// A Hub id in a real browser (headless Chromium): the web build on a page served from 127.0.0.1, the mock Hub on
// another origin (CORS, as huggingface.co sends it). The browser hides redirects from fetch's 'manual' mode, so the
// library lets fetch follow the Hub's 302 to the CDN itself; files go to OPFS (else the Cache API) keyed by resolve URL, and a
// second load with the Hub stopped comes from there. Phonemes must equal Node's for the same files; a token makes
// fetch send a CORS preflight, which the Hub (and the mock) answers.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start, MODEL_FILES, LEXICON } from '../../examples/browser/server.mjs';
import { CHROMIUM, CHROMIUM_FLAGS, haveChromium } from './browsers.mjs';
import { need, nodePhonemes, record, round, snapshotModel } from './helpers.mjs';
import { startMockHub } from '../helpers/mock_hub.ts';

const TEXT = 'Zorblax read 12 books in Montréal.';
let dir;
let expected;
let files;

beforeAll(async () => {
  dir = await snapshotModel();
  expected = (await nodePhonemes(dir, [TEXT]))[TEXT];
  files = Object.fromEntries([...MODEL_FILES, LEXICON].map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
});

/** In the page: load by Hub id from `hubUrl`, phonemize, report what the cache saw. (A string, so that vitest's
 *  transform leaves its import() alone.) */
const LOAD = `async ({ lib, id, hubUrl, token, text, cacheName = 'hub-test' }) => {
  const m = await import(lib);
  try {
    const source = m.hubSource(id, { hubUrl, token, cacheName });
    const t0 = performance.now();
    const g2p = await m.Phonemizer.load(source, { threads: 1 });
    const loadMs = performance.now() - t0;
    const words = (await g2p.phonemize(text)).map((w) => ({ text: w.text, phonemes: w.phonemes }));
    return { words, loadMs, storage: await source.storage(), hits: [...source.hits], misses: [...source.misses] };
  } catch (e) {
    return { error: \`\${e?.name}: \${e?.message}\`, reason: e?.reason };
  }
}`;
const inPage = (page, args) => page.evaluate(`(${LOAD})(${JSON.stringify(args)})`);

describe('headless Chromium: a model by Hub id', () => {
  let ctx;
  let page;
  let srv;
  let profile;
  beforeAll(async () => {
    if (!haveChromium()) return;
    srv = await start({ modelFiles: {} });
    const { chromium } = await import('playwright-core');
    profile = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-hub-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
    page = ctx.pages()[0] ?? await ctx.newPage();
    await page.goto(`${srv.url}blank`);
  });
  afterAll(async () => {
    await ctx?.close();
    srv?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('downloads through the CDN redirect into the browser model cache, then loads with the Hub stopped', async (c) => {
    need(c, haveChromium(), `${CHROMIUM} is not installed (apt-get install chromium)`);
    const hub = await startMockHub({ 'acme/g2p': { files }, 'acme/gated': { files, access: 'gated', granted: ['hf_page'] } }, ['hf_page']);
    const lib = `${srv.url}lib/wasm-seq2seq.js`;
    let first, gated, denied;
    try {
      first = await inPage(page, { lib, id: 'acme/g2p', hubUrl: hub.url, text: TEXT });
      gated = await inPage(page, { lib, id: 'acme/gated', hubUrl: hub.url, token: 'hf_page', text: TEXT });
      denied = await inPage(page, { lib, id: 'acme/gated', hubUrl: hub.url, text: TEXT, cacheName: 'hub-denied' }); // (a cache of its own: the granted copy would be found)
      expect(first.error, JSON.stringify(hub.requests)).toBeUndefined();
      expect(hub.requests.filter((r) => r.host === 'cdn').length).toBeGreaterThan(0);
      expect(hub.requests.filter((r) => r.host === 'cdn').every((r) => r.auth === undefined)).toBe(true);
    } finally {
      await hub.close();
    }
    expect(first.error).toBeUndefined();
    expect(first.words).toEqual(expected);
    expect(first.storage).toBe('opfs'); // Chromium can write OPFS files; elsewhere the Cache API
    expect(first.misses).toEqual(expect.arrayContaining([...MODEL_FILES, LEXICON]));
    expect(gated.error).toBeUndefined();
    expect(gated.words).toEqual(expected);
    // no token: the Hub's 401 with X-Error-Code GatedRepo, read through CORS
    expect(denied.reason).toBe('GatedRepo');
    expect(denied.error).toMatch(/^HubError: acme\/gated is a gated model: downloading vocab\.json needs a token/);
    const offline = await inPage(page, { lib, id: 'acme/g2p', hubUrl: hub.url, text: TEXT });
    expect(offline.error).toBeUndefined();
    expect(offline.misses).toEqual([]);
    expect(offline.words).toEqual(expected);
    record('chromium hub id', { downloadLoadMs: round(first.loadMs), cachedLoadMs: round(offline.loadMs) });
  });
});
