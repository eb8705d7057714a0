// `npm run soak`: resident memory over long runs, to show that nothing is kept per call. Two loops on the shipped
// G2P model: 10,000 phonemize() calls, each with a word never seen before (so every call misses the lexicon and
// the word cache and runs the model), and 2,000 generate() calls with 4 beams. RSS is printed as it goes (after
// a full GC, so garbage that is merely uncollected does not count); the growth that matters is from the end of the
// warm-up (the first 20% of each loop: caches fill, V8 tiers up and reserves its heap) to the end.
//
//   npm run soak                      (node --expose-gc dist/tools/soak.js)
//   node --expose-gc dist/tools/soak.js --phonemize 2000 --generate 500
import { parseArgs } from 'node:util';
import { Phonemizer } from '../bindings/g2p/phonemizer.js';
import { loadModel } from '../bindings/model/load.js';

const { values } = parseArgs({ options: { phonemize: { type: 'string', default: '10000' }, generate: { type: 'string', default: '2000' } } });
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc (npm run soak does)');
const MODEL = new URL('../../weights/g2p-en/', import.meta.url).pathname;

const mib = () => { gc(); gc(); return process.memoryUsage().rss / 2 ** 20; };
/** The JS heap in use, the heap V8 has reserved (its young generation grows under allocation pressure and keeps
 *  its size), and the memory outside it (ArrayBuffers: wasm memory, weights), MiB, for the table. */
const parts = () => {
  const m = process.memoryUsage(), f = (b: number) => (b / 2 ** 20).toFixed(1).padStart(8);
  return `${f(m.heapUsed)}  ${f(m.heapTotal)}  ${f(m.external)}`;
};

/** Pronounceable made-up words, all distinct: consonant-vowel syllables from the counter's digits. */
function word(i: number): string {
  const c = 'bdfgklmnprstvz', v = 'aeiou';
  let s = '', n = i + 1000;
  while (n > 0) { s += c[n % c.length] + v[Math.floor(n / c.length) % v.length]; n = Math.floor(n / (c.length * v.length)); }
  return `${s}x`;
}

async function loop(name: string, calls: number, every: number, call: (i: number) => Promise<unknown>): Promise<string> {
  const warm = Math.round(calls * 0.2);
  const start = mib();
  let atWarm = start, maxAfter = 0;
  const t0 = Date.now();
  console.log(`${name}: ${calls} calls; RSS (MiB) after a full GC:`);
  console.log(`  ${'calls'.padStart(6)}  ${'RSS'.padStart(7)}  ${'heapUsed'.padStart(8)}  ${'heapTotal'.padStart(8)}  ${'external'.padStart(8)}`);
  console.log(`  ${'0'.padStart(6)}  ${start.toFixed(1).padStart(7)}  ${parts()}`);
  for (let i = 0; i < calls; i++) {
    await call(i);
    if ((i + 1) % every === 0 || i + 1 === warm) {
      const now = mib();
      if (i + 1 === warm) atWarm = now;
      if (i + 1 > warm) maxAfter = Math.max(maxAfter, now);
      console.log(`  ${String(i + 1).padStart(6)}  ${now.toFixed(1).padStart(7)}  ${parts()}${i + 1 === warm ? '   <- end of warm-up' : ''}`);
    }
  }
  const end = mib();
  const pct = (x: number) => { const g = ((x - atWarm) / atWarm) * 100; return `${g >= 0 ? '+' : ''}${g.toFixed(2)}%`; };
  const line = `${name}: RSS start ${start.toFixed(1)} MiB, after warm-up (${warm} calls) ${atWarm.toFixed(1)} MiB, ` +
    `highest after it ${maxAfter.toFixed(1)} MiB (${pct(maxAfter)}), end ${end.toFixed(1)} MiB (${pct(end)}) ` +
    `(${((Date.now() - t0) / 1000).toFixed(0)} s)`;
  console.log(line + '\n');
  return line;
}

const lines: string[] = [];
{
  const g2p = await Phonemizer.load(MODEL, { threads: 1 });
  lines.push(await loop('phonemize, a new word per call', Number(values.phonemize), 1000, (i) => g2p.phonemize(word(i))));
  console.log(`  (word cache: ${g2p.cachedWords} words)`);
  g2p.dispose();
}
{
  const model = await loadModel(MODEL, { threads: 1, tokenizer: false });
  const eos = model.config.eos_token_id[0];
  lines.push(await loop('generate, 4 beams', Number(values.generate), 200, (i) =>
    model.generate([[5 + (i % 26), 5 + ((i * 7) % 26), 5 + ((i * 13) % 26), eos]], { numBeams: 4 })));
  model.dispose();
}
console.log(lines.join('\n'));
