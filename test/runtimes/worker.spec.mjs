// Cloudflare Workers: examples/cloudflare-worker built by tools/runtimes/build-worker.mjs (the library's workerd
// build, kernels.wasm imported as a compiled module, the default model converted to int8 and embedded as Data
// modules) and served by workerd (npm `workerd`, Cloudflare's runtime) on 127.0.0.1. The bundle must fit the
// Workers Free plan's 3 MB compressed limit; answers must equal Node's for the same int8 model.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildWorker, FREE_PLAN_LIMIT } from '../../tools/runtimes/build-worker.mjs';
import { convertModelDir } from '../../dist/bindings/cli/convert.js';
import { ROOT, snapshotModel, nodePhonemes, record, round } from './helpers.mjs';

const WORKERD = join(ROOT, 'node_modules/.bin/workerd');
const TEXTS = ['Hello world', 'The worker reads 12 tokens, then answers.'];
// sent all at once: the isolate's requests share decoder steps, each must still get its own answer
const CONCURRENT = ['Zorblat quints', 'Mavrodine flusk', 'Pellucid trombe', 'Gestrin oxvale', 'Quandrel bimp', 'Sprofnig wurtle',
  'Klembo daverish', 'Frindle posk', 'Yarrowvane stoop', 'Blinthe corvask', 'Tressimor quell', 'Vantrope gish'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let tmp;
let built;
let expected;
let server;
let base;
let startMs;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-worker-'));
  const int8 = convertModelDir(await snapshotModel(), join(tmp, 'g2p-en-int8'), 'int8');
  built = await buildWorker({ model: int8, out: join(tmp, 'worker') });
  expected = await nodePhonemes(int8, [...TEXTS, ...CONCURRENT], { lexicon: false });   // the Worker embeds the model only (3 MB limit)

  const port = 20000 + Math.floor(Math.random() * 20000);
  base = `http://127.0.0.1:${port}/`;
  const t0 = performance.now();
  server = spawn(WORKERD, ['serve', join(built.out, 'config.capnp'), `--socket-addr=http=127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout.on('data', (d) => { log += d; });
  server.stderr.on('data', (d) => { log += d; });
  for (let i = 0; ; i++) {
    if (server.exitCode !== null) throw new Error(`workerd exited (${server.exitCode}):\n${log}`);
    try {
      await fetch(`${base}?`);   // any answer (400: no text) means it listens; the model loads on first text
      break;
    } catch {
      if (i > 300) throw new Error(`workerd did not listen on ${base} within 30 s:\n${log}`);
      await sleep(100);
    }
  }
  startMs = performance.now() - t0;
});

afterAll(() => {
  server?.kill('SIGTERM');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function get(query) {
  const t0 = performance.now();
  const r = await fetch(`${base}${query}`);
  return { status: r.status, body: await r.json(), ms: performance.now() - t0 };
}

describe('Cloudflare Worker (workerd)', () => {
  it('is installed (npm workerd)', () => {
    expect(existsSync(WORKERD)).toBe(true);
  });

  it('the bundle with the int8 default model fits the Workers Free 3 MB compressed limit', () => {
    const { sizes } = built;
    expect(sizes.total.gzip).toBeLessThanOrEqual(FREE_PLAN_LIMIT);
    expect(sizes.fitsFreePlan).toBe(true);
    const kib = (n) => Math.round(n / 1024);
    record('workerd bundle', {
      totalGzipKiB: kib(sizes.total.gzip), totalKiB: kib(sizes.total.bytes),
      ...Object.fromEntries(sizes.files.map((f) => [`${f.name} gzipKiB`, kib(f.gzip)])),
    });
  });

  it('GET /?text= answers the phonemes Node gives for the same model, cold then warm', async () => {
    const cold = await get(`?text=${encodeURIComponent(TEXTS[0])}`);
    expect(cold.status, JSON.stringify(cold.body)).toBe(200);
    expect(cold.body.cold).toBe(true);
    expect(cold.body.words).toEqual(expected[TEXTS[0]]);
    const warm = await get(`?text=${encodeURIComponent(TEXTS[1])}`);
    expect(warm.status, JSON.stringify(warm.body)).toBe(200);
    expect(warm.body.cold).toBe(false);
    expect(warm.body.words).toEqual(expected[TEXTS[1]]);
    record('workerd', { serveStartMs: round(startMs), coldRequestMs: round(cold.ms), warmRequestMs: round(warm.ms) });
  });

  it('concurrent requests share the model and each gets its own answer', async () => {
    const got = await Promise.all(CONCURRENT.map((t) => get(`?text=${encodeURIComponent(t)}`)));
    got.forEach((r, i) => {
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      expect(r.body.words, CONCURRENT[i]).toEqual(expected[CONCURRENT[i]]);
    });
    record('workerd concurrent', { requests: CONCURRENT.length, slowestMs: round(Math.max(...got.map((r) => r.ms))) });
  });

  it('bad requests get JSON errors, not crashes', async () => {
    const none = await get('');
    expect(none.status).toBe(400);
    expect(none.body.error).toMatch(/text=/);
    const long = await get(`?text=${'a'.repeat(2001)}`);
    expect(long.status).toBe(413);
    const post = await fetch(base, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    const again = await get('?text=still%20fine');   // the isolate survived all of that
    expect(again.status).toBe(200);
  });
});
