// A Cloudflare Worker that answers GET /?text=... with the phonemes of the text, as JSON:
//   {"text":"Hello world","words":[{"text":"Hello","phonemes":["HH","AH0","L","OW1"]},...],"cold":true}
//
// Workers refuse to compile WebAssembly at run time, so the kernels are imported as a module (a
// WebAssembly.Module compiled at deploy time) and passed to the loader; the model files are imported as Data
// modules (ArrayBuffers). `npm run build:worker` bundles this file with the library (the package's "workerd"
// build, dist/web) into build/runtimes/worker/ and puts the model beside it: model/config.json,
// generation_config.json, vocab.json, model.safetensors (`-- --model DIR` swaps in another conversion of
// weights/g2p-en: int8 by default), with a workerd config.capnp and a wrangler.jsonc for
// `wrangler deploy` of that folder.
import { Phonemizer } from 'wasm-seq2seq';
import kernels from 'wasm-seq2seq/kernels.wasm';
import config from './model/config.json';
import generationConfig from './model/generation_config.json';
import vocab from './model/vocab.json';
import weights from './model/model.safetensors';

const MAX_CHARS = 2000;
let loading;   // the model, loaded by the first request and kept while this isolate lives

// Requests that this isolate serves at the same time share the one model: their words run through shared decoder
// steps (continuous batching), each request getting exactly its own answer. The bounds keep the batch inside a
// Worker's 128 MB (JS and wasm together): the int8 G2P model takes 2.1 MiB of wasm memory and a word in flight
// ~1.1 MiB (4 beams × 64 tokens of KV cache: the model's max_length), so 32 MiB holds ~23 words at once (admission counts 1.4 MiB, an upper bound); words
// beyond the bounds wait for room, in order (docs/runtimes.md, "Serving").
const BATCHING = { maxRows: 256, maxMemory: 32 * 2 ** 20 };

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (request.method !== 'GET') return Response.json({ error: 'use GET /?text=...' }, { status: 405 });
    const text = url.searchParams.get('text');
    if (!text) return Response.json({ error: 'pass the text to pronounce as ?text=...' }, { status: 400 });
    if (text.length > MAX_CHARS) return Response.json({ error: `at most ${MAX_CHARS} characters` }, { status: 413 });
    const cold = !loading;
    loading ??= Phonemizer.load(
      { 'config.json': config, 'generation_config.json': generationConfig, 'vocab.json': vocab, 'model.safetensors': weights },
      { wasm: kernels, batching: BATCHING },
    );
    try {
      const words = await (await loading).phonemize(text);
      return Response.json({ text, words: words.map((w) => ({ text: w.text, phonemes: w.phonemes })), cold });
    } catch (e) {
      if (cold) loading = undefined;   // let the next request try loading again
      return Response.json({ error: `${e?.name ?? 'Error'}: ${e?.message ?? e}` }, { status: 500 });
    }
  },
};
