// examples/browser in real browsers, served from 127.0.0.1 by examples/browser/server.mjs:
//   headless Debian Chromium (playwright-core): OPFS and Cache API copies, plain and cross-origin isolated
//   WebKitGTK (Debian's MiniBrowser via WebKitWebDriver, under xvfb-run): the engine of Safari/iOS webviews
// Each run: load (download + store), type a sentence, screenshot, then a second visit with the server refusing
// every model request. Phonemes must equal the Node build's on the same model files.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { start, MODEL_FILES, LEXICON } from '../../examples/browser/server.mjs';
import { chromiumDriver, runScenario, haveChromium, haveWebKit } from './browsers.mjs';
import { ROOT, RESULTS, need, snapshotModel, nodePhonemes, record, round } from './helpers.mjs';

const TEXT1 = 'The quick brown fox jumps over the lazy dog.';
const TEXT2 = 'Grandma baked 12 croissants in Montréal!';
let srv;
let expected;

beforeAll(async () => {
  const dir = await snapshotModel();
  expected = await nodePhonemes(dir, [TEXT1, TEXT2]);
  // the lexicon must change something here, or the pages could ignore it and still pass
  expect(await nodePhonemes(dir, [TEXT1, TEXT2], { lexicon: false })).not.toEqual(expected);
  srv = await start({ modelFiles: Object.fromEntries([...MODEL_FILES, LEXICON].map((f) => [f, readFileSync(join(dir, f))])) });
  mkdirSync(RESULTS, { recursive: true });
});
afterAll(() => srv?.close());

function check(r, { storage, coi = false }) {
  expect(r.first.error).toBeUndefined();
  expect(r.first.words).toEqual(expected[TEXT1]);
  expect(r.typed.words).toEqual(expected[TEXT2]);
  expect(r.first.crossOriginIsolated).toBe(coi);
  // the isolated page asks for 2 threads (a worker pool over shared memory); elsewhere 'auto' = 1 thread
  expect(r.first.threads).toBe(coi ? 2 : 1);
  expect(r.first.backend).toMatch(/SIMD128 \(available\)/);
  // 'auto' takes the relaxed-SIMD kernels exactly where the engine has them (Chromium 114+; not WebKitGTK 2.50)
  expect(r.first.simd).toBe(/relaxed SIMD \(available\)/.test(r.first.backend) ? 'relaxed' : 'baseline');
  expect(r.first.storage).toBe(storage);
  expect(r.first.cacheErrors).toBeUndefined();
  expect(r.first.misses).toEqual(expect.arrayContaining([...MODEL_FILES, LEXICON]));   // the lexicon too: dictionary words come from it
  // second visit, server offline: everything from the local copies
  expect(r.offline.error).toBeUndefined();
  expect(r.offline.misses).toEqual([]);
  expect(r.offline.hits).toEqual(expect.arrayContaining([...MODEL_FILES, LEXICON]));
  expect(r.offline.words).toEqual(expected[TEXT1]);
}

const summary = (r) => ({
  browser: r.browser, storage: r.first.storage, crossOriginIsolated: r.first.crossOriginIsolated, threads: r.first.threads, simd: r.first.simd,
  loadMs: round(r.first.loadMs), firstRunMs: round(r.first.runMs), typedRunMs: round(r.typed.runMs),
  offlineLoadMs: round(r.offline.loadMs), offlineFirstRunMs: round(r.offline.runMs),
});

describe('headless Chromium (Debian chromium + playwright-core)', () => {
  let driver;
  beforeAll(async () => { if (haveChromium()) driver = await chromiumDriver(); });
  afterAll(async () => { await driver?.close(); });

  for (const [name, opts] of [
    ['OPFS copies (storage auto)', { storage: 'auto', expect: { storage: 'opfs' }, shot: 'browser-chromium.png' }],
    ['Cache API copies', { storage: 'cache', expect: { storage: 'cache' } }],
    ['cross-origin isolated (COOP/COEP), 2 threads', { prefix: 'coi/', storage: 'auto', threads: 2, expect: { storage: 'opfs', coi: true }, shot: 'browser-chromium-coi.png' }],
  ]) {
    it(name, async (ctx) => {
      need(ctx, haveChromium(), '/usr/bin/chromium is not installed (apt-get install chromium)');
      const r = await runScenario(driver, { server: srv.url, prefix: opts.prefix, storage: opts.storage, threads: opts.threads, text1: TEXT1, text2: TEXT2,
        shot: opts.shot && join(RESULTS, opts.shot) });
      record(`chromium ${name}`, summary(r));
      check(r, opts.expect);
    });
  }
});

describe('WebKitGTK (MiniBrowser via WebKitWebDriver, under xvfb-run)', () => {
  it('the demo page, Cache API copies, offline second visit', async (ctx) => {
    need(ctx, haveWebKit(), 'WebKitGTK is not installed (apt-get install webkit2gtk-driver xvfb xauth)');
    const opts = { text1: TEXT1, text2: TEXT2, shot: join(RESULTS, 'browser-webkit.png') };
    const env = { ...process.env, JSC_useSharedArrayBuffer: '1', XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? `/tmp/xdg-${process.getuid?.() ?? 0}` };
    mkdirSync(env.XDG_RUNTIME_DIR, { recursive: true, mode: 0o700 });
    // The scenario runs in a child under xvfb-run (an X display for the browser); this process keeps serving.
    const { code, out } = await new Promise((resolve, reject) => {
      const child = spawn('xvfb-run', ['-a', '-s', '-screen 0 1280x800x24', process.execPath, 'test/runtimes/browsers.mjs', 'webkit', srv.url, JSON.stringify(opts)],
        { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      const timer = setTimeout(() => child.kill('SIGTERM'), 150_000);
      child.on('error', reject);
      child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
    });
    expect(code, out).toBe(0);
    const r = JSON.parse(out.trim().split('\n').filter((l) => l.startsWith('{')).at(-1));
    record('webkitgtk', summary(r));
    // WebKitGTK 2.50 has no FileSystemWritableFileStream (OPFS files cannot be written from a page): Cache API.
    check(r, { storage: 'cache' });
  });
});
