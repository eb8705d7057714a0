// The demo: load the G2P model from ./model/ (kept in OPFS or the Cache API, so the next visit works offline),
// then phonemize what is typed. window.__demo carries the state for the tests.
import { Phonemizer, cachedUrlSource, hasRelaxedSimd, hasWasmSimd } from './lib/wasm-seq2seq.min.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const demo = (window.__demo = { state: 'loading', runs: 0 });
// (JavaScriptCore's stack does not repeat the message)
const describe = (e) => `${e?.name ?? 'Error'}: ${e?.message ?? e}${e?.cause ? ` (cause: ${e.cause?.message ?? e.cause})` : ''}\n${e?.stack ?? ''}`;
const ms = (t) => `${t.toFixed(0)} ms`;

function show(words) {
  $('out').textContent = words.map((w) => `${(w.word && w.word !== w.text.toLowerCase() ? `${w.text} (${w.word})` : w.text).padEnd(22)} ${w.phonemes.length ? w.phonemes.join(' ') : '?'}`).join('\n');
}

async function run(text) {
  $('status').textContent = 'running…';
  const t0 = performance.now();
  const words = await demo.phonemizer.phonemize(text);
  const runMs = performance.now() - t0;
  show(words);
  $('run').textContent = `${ms(runMs)} (${words.length} word${words.length === 1 ? '' : 's'})`;
  $('status').textContent = 'ready';
  Object.assign(demo, { text, runMs, runs: demo.runs + 1, words: words.map((w) => ({ text: w.text, phonemes: w.phonemes })) });
}

try {
  demo.crossOriginIsolated = self.crossOriginIsolated;
  const backend = (threads) => `WebAssembly SIMD128 (${hasWasmSimd() ? 'available' : 'MISSING'}), relaxed SIMD (${hasRelaxedSimd() ? 'available' : 'missing'}), ${threads}` +
    `, cross-origin isolated: ${self.crossOriginIsolated ? 'yes (threads possible)' : 'no (one thread)'}`;
  demo.backend = backend('loading');
  $('backend').textContent = demo.backend;
  const source = cachedUrlSource(new URL('./model/', location.href), {
    cacheName: params.get('cache') ?? 'wasm-seq2seq-demo', storage: params.get('storage') ?? 'auto',
    onCacheError: (e, file) => { (demo.cacheErrors ??= []).push(`${file}: ${describe(e)}`); console.warn('model cache:', file, e); },
  });
  demo.source = source;
  const t0 = performance.now();
  // ?threads=N; default 'auto': worker threads when the page is cross-origin isolated, else one thread
  const threads = params.get('threads') ? Number(params.get('threads')) : 'auto';
  demo.phonemizer = await Phonemizer.load(source, {
    threads,
    onProgress: (e) => { $('status').textContent = `loading ${e.file}: ${(e.loaded / 1e6).toFixed(1)}${e.total ? ` / ${(e.total / 1e6).toFixed(1)}` : ''} MB`; },
  });
  demo.loadMs = performance.now() - t0;
  demo.threads = demo.phonemizer.model.threads;
  demo.simd = demo.phonemizer.model.simd;
  demo.backend = backend(`${demo.simd} kernels on ${demo.threads} thread${demo.threads === 1 ? '' : 's'}`);
  $('backend').textContent = demo.backend;
  demo.storage = await source.storage();
  demo.hits = [...source.hits];
  demo.misses = [...source.misses];
  $('load').textContent = ms(demo.loadMs);
  $('cache').textContent = `storage: ${demo.storage}; from local copy: ${demo.hits.join(', ') || 'none'}; downloaded: ${demo.misses.join(', ') || 'none'}`;
  $('text').value = params.get('text') ?? 'The quick brown fox jumps over the lazy dog.';
  await run($('text').value);
  $('go').disabled = false;
  $('form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    run($('text').value).catch((e) => { $('status').textContent = `error: ${e?.message ?? e}`; demo.error = describe(e); });
  });
  demo.state = 'ready';
} catch (e) {
  demo.state = 'error';
  demo.error = describe(e);
  $('status').textContent = `error: ${e?.message ?? e}`;
}
