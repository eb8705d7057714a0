// A tiny static server for the demo, on 127.0.0.1 only:
//   /            the demo page (index.html, main.js)
//   /lib/*       the browser build (dist/web: wasm-seq2seq.min.js, wasm-seq2seq.js, kernels.wasm)
//   /model/*     the model files (default: weights/g2p-en), read into memory when the server starts
//   /coi/...     the same, sent with COOP/COEP (cross-origin isolated: SharedArrayBuffer available)
//   /blank       an empty page (tests leave the demo for it before a second visit)
//   /__offline?on=1|0   test hook: model requests then fail at the network level (connection reset)
//   /__stats            test hook: JSON count of model requests per file
// `npm run example:browser [-- --port 8080 --model DIR]` serves it; tests call start().
import http from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '../..');
const TYPES = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', wasm: 'application/wasm',
  json: 'application/json', safetensors: 'application/octet-stream', css: 'text/css', gz: 'application/gzip' };
export const MODEL_FILES = ['config.json', 'generation_config.json', 'vocab.json', 'model.safetensors'];
/** Served too when the model folder has it: CMUdict's pronunciations, which Phonemizer looks up before the model (0.9 MB). */
export const LEXICON = 'lexicon.tsv.gz';

export function start({ port = 0, modelDir = join(root, 'weights/g2p-en'), libDir = join(root, 'dist/web'), modelFiles } = {}) {
  const model = modelFiles ?? Object.fromEntries([...MODEL_FILES, ...(existsSync(join(modelDir, LEXICON)) ? [LEXICON] : [])]
    .map((f) => [f, readFileSync(join(modelDir, f))]));
  for (const f of ['wasm-seq2seq.min.js', 'kernels.wasm']) {
    if (!existsSync(join(libDir, f))) throw new Error(`${join(libDir, f)} is missing: run \`npm run build\` first`);
  }
  const stats = {};
  let offline = false;
  const srv = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let path = url.pathname;
    const coi = path.startsWith('/coi/') || path === '/coi';
    if (coi) path = path.slice(4) || '/';
    if (path === '/__offline') { offline = url.searchParams.get('on') === '1'; return res.end(String(offline)); }
    if (path === '/__stats') { res.setHeader('content-type', 'application/json'); return res.end(JSON.stringify(stats)); }
    let body;
    if (path === '/' || path === '/index.html') body = readFileSync(join(here, 'index.html'));
    else if (path === '/blank') body = Buffer.from('<!doctype html><title>elsewhere</title><p>another page</p>');
    else if (path === '/main.js') body = readFileSync(join(here, 'main.js'));
    else if (path.startsWith('/lib/') && /^[\w.-]+$/.test(path.slice(5)) && existsSync(join(libDir, path.slice(5)))) body = readFileSync(join(libDir, path.slice(5)));
    else if (path.startsWith('/model/')) {
      const f = path.slice(7);
      stats[f] = (stats[f] ?? 0) + 1;
      if (offline) return req.socket.destroy();
      body = Object.hasOwn(model, f) ? model[f] : undefined;
    }
    if (!body) { res.writeHead(404, { 'content-type': 'text/plain' }); return res.end('not found'); }
    const headers = { 'content-type': TYPES[path.split('.').pop()] ?? TYPES.html, 'content-length': body.length, 'cache-control': 'no-store' };
    if (coi) Object.assign(headers, { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp', 'cross-origin-resource-policy': 'same-origin' });
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(Object.assign(srv, { stats, url: `http://127.0.0.1:${srv.address().port}/` })));
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name) => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : undefined; };
  const srv = await start({ port: Number(arg('port') ?? 8080), ...(arg('model') && { modelDir: arg('model') }) });
  console.log(`demo: ${srv.url}  (cross-origin isolated: ${srv.url}coi/)`);
}
