// An HTTP phonemizer in Deno whose concurrent requests share one model: while requests overlap, their words run
// through shared decoder steps (continuous batching), and each request still gets exactly its own answer.
//
//   deno run --allow-read --allow-net=127.0.0.1 examples/deno/serve.ts [--port 8000] [--model DIR]
//   curl 'http://127.0.0.1:8000/?text=Hello%20world'     → {"text":"Hello world","words":[{"text":"Hello","phonemes":[...]},...]}
//   curl 'http://127.0.0.1:8000/stats'                   → the shared batch's counters (steps, rows, calls per step, waits)
//
// `batching` bounds the shared batch: rows (sentences × beams; a word is 4 rows with the default model's 4 beams)
// and working memory above the weights. Requests beyond the bounds wait for room, in order. In a 128 MB Worker
// isolate keep maxMemory to a few tens of MB (examples/cloudflare-worker/worker.js; docs/runtimes.md).
import { Phonemizer } from '../../dist/deno/wasm-seq2seq.js';

const args = [...Deno.args];
const option = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : undefined; };
const port = Number(option('--port') ?? 8000);
const modelArg = option('--model');
const model = modelArg ? new URL(`file://${await Deno.realPath(modelArg)}/`) : new URL('../../weights/g2p-en/', import.meta.url);

const phonemizer = await Phonemizer.load(model, { batching: { maxRows: 256, maxMemory: 64 * 2 ** 20 } });
const MAX_CHARS = 2000;

Deno.serve({ hostname: '127.0.0.1', port, onListen: ({ port }) => console.log(`listening on http://127.0.0.1:${port}/`) }, async (req) => {
  const url = new URL(req.url);
  if (url.pathname === '/stats') return Response.json(phonemizer.model.batchStats);
  const text = url.searchParams.get('text');
  if (!text) return Response.json({ error: 'pass the text to pronounce as ?text=...' }, { status: 400 });
  if (text.length > MAX_CHARS) return Response.json({ error: `at most ${MAX_CHARS} characters` }, { status: 413 });
  try {
    const words = await phonemizer.phonemize(text);
    return Response.json({ text, words: words.map((w) => ({ text: w.text, phonemes: w.phonemes })) });
  } catch (e) {
    return Response.json({ error: `${(e as Error)?.name ?? 'Error'}: ${(e as Error)?.message ?? e}` }, { status: 500 });
  }
});
