// The WebGPU backend in headless Chromium (Debian's chromium through playwright-core, --enable-unsafe-webgpu): the
// browser build (dist/web, made by `npm run build`, which `npm test` runs first) gets its device from
// navigator.gpu, Chromium's own Dawn on SwiftShader. Every fixture: tokens equal to the wasm path's in the same
// page, logits within 1e-3. Skipped (with the reason) outside CI when Chromium or the build is missing; in CI
// (CI=true) that is a failure. Only 127.0.0.1 is used.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../helpers/fixtures.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
const inCI = process.env.CI === 'true' || process.env.CI === '1';
const missing = !existsSync(CHROMIUM) ? `${CHROMIUM} (apt chromium)` : !existsSync(join(ROOT, 'dist/web/wasm-seq2seq.js')) ? 'dist/web (npm run build)' : '';
const names = readdirSync(FIXTURES).filter((n) => existsSync(new URL(`${n}/golden.json`, FIXTURES))).sort();
const TYPES: Record<string, string> = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json' };

/** What the page runs per fixture (WebGPU and wasm models side by side). A string: vitest would rewrite a
 *  function's dynamic import() into its own loader, which does not exist in the page. */
const PAGE = `async (fixtures) => {
  const { loadModel } = await import('/dist/web/wasm-seq2seq.js');
  const out = [];
  for (const name of fixtures) {
    const url = location.origin + '/test/fixtures/' + name + '/';
    const g = JSON.parse((await (await fetch(url + 'golden.json')).text()).replace(/-Infinity/g, '-1e999').replace(/\\bNaN\\b/g, 'null'));
    const ids = g.inputs.input_ids, mask = g.inputs.attention_mask, dec = g.decoder_teacher_forced.decoder_input_ids;
    const gpu = await loadModel(url, { backend: 'webgpu', tokenizer: false });
    const wasm = await loadModel(url, { tokenizer: false });
    const a = (await gpu.decoderLogits(ids, dec, mask)).data, b = (await wasm.decoderLogits(ids, dec, mask)).data;
    let logitsDiff = 0;
    for (let i = 0; i < a.length; i++) logitsDiff = Math.max(logitsDiff, Math.abs(a[i] - b[i]));
    const tokens = [];
    for (const numBeams of [1, 4]) {
      const o = { maxNewTokens: 12, numBeams, attentionMask: mask };
      tokens.push(JSON.stringify((await gpu.generate(ids, o)).sequences) === JSON.stringify((await wasm.generate(ids, o)).sequences));
    }
    out.push({ name, logitsDiff, tokens, backend: gpu.backend, note: gpu.backendNote });
  }
  return out;
}`;
type PageResult = { name: string; logitsDiff: number; tokens: boolean[]; backend: string; note: string };

describe('WebGPU in Chromium', () => {
  it.skipIf(!missing || inCI)(`skipped: missing ${missing}`, () => {});
  it.skipIf(!!missing && !inCI)('every fixture via navigator.gpu: same tokens as wasm, logits within 1e-3', async () => {
    expect(missing).toBe('');
    const srv = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const file = join(ROOT, path);
      if (path === '/') { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>webgpu</title>'); return; }
      if (!file.startsWith(ROOT) || !existsSync(file)) { res.writeHead(404); res.end(); return; }
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
    }).listen(0, '127.0.0.1');
    await new Promise((r) => srv.once('listening', r));
    const { chromium } = await import('playwright-core');
    const dir = mkdtempSync(join(tmpdir(), 'wasm-seq2seq-webgpu-'));
    const ctx = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM, headless: true,
      args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'],
    });
    try {
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      await page.goto(`http://127.0.0.1:${(srv.address() as { port: number }).port}/`);
      const results = (await page.evaluate(`(${PAGE})(${JSON.stringify(names)})`)) as PageResult[];
      expect(results.map((x) => x.name)).toEqual(names);
      for (const x of results) {
        expect(x.backend, `${x.name}: ${x.note}`).toBe('webgpu');
        expect(x.logitsDiff, x.name).toBeLessThan(1e-3);
        expect(x.tokens, x.name).toEqual([true, true]);
      }
      console.log('chromium webgpu vs wasm:', results.map(({ note, ...x }) => JSON.stringify(x)).join('\n'), `\n${results[0].note}`);
    } finally {
      await ctx.close();
      srv.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
