// English text → ARPAbet in Deno, with the shipped model read from its folder.
//
//   deno run --allow-read examples/deno/phonemize.ts "The quick brown fox"        (from the repo root)
//   deno run --allow-read examples/deno/phonemize.ts --json --model path/to/g2p "text"
//
// The import is the Deno build of the library (dist/deno, made by `npm run build`); from npm it is
// `import { Phonemizer } from 'npm:wasm-seq2seq'` (the package's "deno" export condition picks the same file).
import { Phonemizer, hasWasmSimd } from '../../dist/deno/wasm-seq2seq.js';

const args = [...Deno.args];
const flag = (name: string) => { const i = args.indexOf(name); return i >= 0 ? (args.splice(i, 1), true) : false; };
const option = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args.splice(i, 2)[1] : undefined; };
const json = flag('--json');
const modelArg = option('--model');
const text = args.join(' ') || 'The quick brown fox jumps over the lazy dog.';

// A file: URL names a folder on every runtime (a bare path string would too, here, since Deno has `process`).
const model = modelArg ? new URL(`file://${await Deno.realPath(modelArg)}/`) : new URL('../../weights/g2p-en/', import.meta.url);

const t0 = performance.now();
const phonemizer = await Phonemizer.load(model);
const loadMs = performance.now() - t0;
const t1 = performance.now();
const words = await phonemizer.phonemize(text);
const runMs = performance.now() - t1;

if (json) {
  console.log(JSON.stringify({
    runtime: `Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`, simd: hasWasmSimd(), loadMs, runMs,
    words: words.map((w) => ({ text: w.text, phonemes: w.phonemes })),
  }));
} else {
  for (const w of words) console.log(`${w.text.padEnd(16)} ${w.phonemes.join(' ') || '?'}`);
  console.error(`Deno ${Deno.version.deno}: model loaded in ${loadMs.toFixed(0)} ms, phonemized in ${runMs.toFixed(0)} ms`);
}
