// The model from a base URL, kept in Deno's Cache API (on disk, under DENO_DIR) so later runs work offline.
//   deno run --allow-net=HOST --allow-read examples/deno/from-url.ts BASE_URL CACHE_NAME TEXT
// (test/runtimes/deno.spec.mjs runs it against a 127.0.0.1 server, the second time with the server refusing.)
import { cachedUrlSource, Phonemizer } from '../../dist/deno/wasm-seq2seq.js';

const [base, cacheName, text] = Deno.args;
const source = cachedUrlSource(base, { cacheName });
const t0 = performance.now();
const phonemizer = await Phonemizer.load(source);
const loadMs = performance.now() - t0;
const words = await phonemizer.phonemize(text);
console.log(JSON.stringify({
  storage: await source.storage(), hits: source.hits, misses: source.misses, loadMs,
  words: words.map((w) => ({ text: w.text, phonemes: w.phonemes })),
}));
