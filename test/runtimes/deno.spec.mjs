// Deno 2.9.5 (npm `deno`, pinned): examples/deno loads the default model from a folder through the Deno build
// (dist/deno); cachedUrlSource keeps downloads in Deno's Cache API; the example type-checks against the
// shipped declarations.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start, MODEL_FILES, LEXICON } from '../../examples/browser/server.mjs';
import { ROOT, snapshotModel, nodePhonemes, record, round } from './helpers.mjs';
import { run, lastJson } from './run.mjs';
import { startMockHub } from '../helpers/mock_hub.ts';

const DENO = join(ROOT, 'node_modules/.bin/deno');
const TEXT = 'Deno reads 7 files from a folder.';
let dir;
let expected;
let denoDir;
const env = () => ({ DENO_NO_UPDATE_CHECK: '1', DENO_DIR: denoDir, NO_COLOR: '1' });

beforeAll(async () => {
  dir = await snapshotModel();
  expected = (await nodePhonemes(dir, [TEXT]))[TEXT];
  denoDir = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-deno-'));
});
afterAll(() => rmSync(denoDir, { recursive: true, force: true }));

describe('Deno', () => {
  it('is the pinned 2.9.5', async () => {
    const r = await run(DENO, ['--version'], { env: env() });
    expect(r.code, r.out).toBe(0);
    expect(r.stdout).toMatch(/^deno 2\.9\.5 /);
  });

  it('examples/deno/phonemize.ts: the default model from a folder', async () => {
    const r = await run(DENO, ['run', '--allow-read', 'examples/deno/phonemize.ts', '--json', '--model', dir, TEXT], { env: env() });
    expect(r.code, r.out).toBe(0);
    const j = lastJson(r.stdout);
    expect(j.runtime).toMatch(/^Deno 2\.9\.5/);
    expect(j.simd).toBe(true);
    expect(j.words).toEqual(expected);
    record('deno', { runtime: j.runtime, loadMs: round(j.loadMs), firstRunMs: round(j.runMs), processMs: round(r.ms) });
  });

  it('examples/deno/phonemize.ts with no --model finds weights/g2p-en beside the package', async () => {
    const r = await run(DENO, ['run', '--allow-read', 'examples/deno/phonemize.ts', '--json', 'cat'], { env: env() });
    expect(r.code, r.out).toBe(0);
    expect(lastJson(r.stdout).words[0].phonemes.length).toBeGreaterThan(0);
  });

  it('deno check: the example type-checks against dist/deno/wasm-seq2seq.d.ts', async () => {
    const r = await run(DENO, ['check', 'examples/deno/phonemize.ts', 'examples/deno/from-url.ts', 'examples/deno/from-hub.ts', 'examples/deno/serve.ts'], { env: env() });
    expect(r.code, r.out).toBe(0);
  });

  it('examples/deno/serve.ts: concurrent requests share the model and each gets its own answer', async () => {
    const texts = ['Zorblat quints', 'Mavrodine flusk', 'Pellucid trombe', 'Gestrin oxvale', 'Quandrel bimp', 'Sprofnig wurtle', 'Klembo daverish', 'Frindle posk'];
    const want = await nodePhonemes(dir, texts);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const server = spawn(DENO, ['run', '--allow-read', '--allow-net=127.0.0.1', 'examples/deno/serve.ts', '--port', String(port), '--model', dir],
      { cwd: ROOT, env: { ...process.env, ...env() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stdout.on('data', (d) => { log += d; });
    server.stderr.on('data', (d) => { log += d; });
    try {
      for (let i = 0; !log.includes('listening on'); i++) {
        if (server.exitCode !== null || i > 600) throw new Error(`serve.ts did not start:\n${log}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const base = `http://127.0.0.1:${port}/`;
      const got = await Promise.all(texts.map(async (t) => (await fetch(`${base}?text=${encodeURIComponent(t)}`)).json()));
      got.forEach((j, i) => expect(j.words, texts[i]).toEqual(want[texts[i]]));
      const stats = await (await fetch(`${base}stats`)).json();
      expect(stats.steps).toBeGreaterThan(0);
      record('deno serve', { requests: texts.length, ...stats });
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('cachedUrlSource: Cache API copies, a second run loads with the server refusing model requests', async () => {
    const srv = await start({ modelFiles: Object.fromEntries([...MODEL_FILES, LEXICON].map((f) => [f, readFileSync(join(dir, f))])) });
    try {
      const args = ['run', '--allow-net=127.0.0.1', '--allow-read', 'examples/deno/from-url.ts', `${srv.url}model/`, 'deno-test', TEXT];
      const first = await run(DENO, args, { env: env() });
      expect(first.code, first.out).toBe(0);
      const a = lastJson(first.stdout);
      expect(a.storage).toBe('cache');
      expect(a.misses).toEqual(expect.arrayContaining(MODEL_FILES));
      expect(a.words).toEqual(expected);
      await fetch(`${srv.url}__offline?on=1`);
      const second = await run(DENO, args, { env: env() });
      expect(second.code, second.out).toBe(0);
      const b = lastJson(second.stdout);
      expect(b.misses).toEqual([]);
      expect(b.hits).toEqual(expect.arrayContaining(MODEL_FILES));
      expect(b.words).toEqual(expected);
      record('deno cachedUrlSource', { downloadLoadMs: round(a.loadMs), cachedLoadMs: round(b.loadMs) });
    } finally {
      srv.close();
    }
  });

  it('a Hub id (examples/deno/from-hub.ts): manual redirects to the CDN, Cache API copies, offline second run', async () => {
    const files = Object.fromEntries([...MODEL_FILES, LEXICON].map((f) => [f, new Uint8Array(readFileSync(join(dir, f)))]));
    const hub = await startMockHub({ 'acme/g2p': { files } });
    const args = ['run', '--allow-net=127.0.0.1', '--allow-read', 'examples/deno/from-hub.ts', 'acme/g2p', TEXT, hub.url];
    try {
      const first = await run(DENO, args, { env: env() });
      expect(first.code, first.out).toBe(0);
      expect(lastJson(first.stdout).words).toEqual(expected);
      expect(hub.requests.filter((r) => r.host === 'cdn').length).toBeGreaterThan(0); // the weights came by the redirect
    } finally {
      await hub.close();
    }
    const second = await run(DENO, args, { env: env() });
    expect(second.code, second.out).toBe(0);
    expect(lastJson(second.stdout).words).toEqual(expected);
  });
});
