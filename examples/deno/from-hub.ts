// A G2P model by Hugging Face Hub id (or from a mirror: the third argument, else HF_ENDPOINT), kept in Deno's Cache
// API (on disk, under DENO_DIR) so later runs work offline.
//   deno run --allow-net --allow-read --allow-env examples/deno/from-hub.ts MODEL_ID TEXT [HUB_URL]
// (test/runtimes/deno.spec.mjs runs it against a mock Hub on 127.0.0.1, the second time with the Hub stopped.)
import { hubSource, Phonemizer } from '../../dist/deno/wasm-seq2seq.js';

const [id, text, hubUrl] = Deno.args;
const source = hubSource(id, { hubUrl, cacheName: 'wasm-seq2seq-hub' });
const t0 = performance.now();
const phonemizer = await Phonemizer.load(source);
const loadMs = performance.now() - t0;
const words = await phonemizer.phonemize(text);
console.log(JSON.stringify({ loadMs, words: words.map((w) => ({ text: w.text, phonemes: w.phonemes })) }));
