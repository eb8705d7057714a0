// `npm run bench:g2p`: phonemizing 200 made-up words (none in the lexicon, so each runs the shipped G2P model, beam
// search as the model's generation_config sets it) one word per call vs many per call, and 200 one-word calls made
// at once (they share decoder steps: bindings/model/batcher.ts). The word cache is off so every round does the work.
// Rounds alternate the modes; ms median [p10..p90]; the outputs of every mode must be identical.
//   node dist/bench/g2p_batch.js [--quick] [--json] [--words N]
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { Phonemizer } from '../bindings/g2p/phonemizer.js';
import { loadAverage, summarize, waitForIdle, type Sample } from './stats.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const json = args.includes('--json');
const N = args.includes('--words') ? Number(args[args.indexOf('--words') + 1]) : 200;
const ROUNDS = quick ? 3 : 7;

/** Pronounceable made-up words, all distinct (as tools/soak.ts makes them). */
function word(i: number): string {
  const c = 'bdfgklmnprstvz', v = 'aeiou';
  let s = '', n = i + 1000;
  while (n > 0) { s += c[n % c.length] + v[Math.floor(n / c.length) % v.length]; n = Math.floor(n / (c.length * v.length)); }
  return `${s}x`;
}

await waitForIdle(cpus().length * 0.75, 15_000);
const g2p = await Phonemizer.load(undefined, { cacheSize: 0, threads: 1 });
const words = Array.from({ length: N }, (_, i) => word(i * 7919));

const modes: Record<string, () => Promise<string[][]>> = {
  'one word per call, one after another': async () => {
    const out: string[][] = [];
    for (const w of words) out.push((await g2p.phonemizeWords([w]))[0]);
    return out;
  },
  [`${N} words in one call (batches of 64)`]: () => g2p.phonemizeWords(words),
  [`${N} words in one call (one batch)`]: () => g2p.phonemizeWords(words, { batchSize: N }),
  [`${N} one-word calls at once`]: async () => (await Promise.all(words.map((w) => g2p.phonemizeWords([w])))).map((r) => r[0]),
};

const times: Record<string, number[]> = Object.fromEntries(Object.keys(modes).map((k) => [k, []]));
let reference: string | null = null, identical = true;
await modes[Object.keys(modes)[1]](); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(modes)) {
    const t0 = performance.now();
    const out = JSON.stringify(await fn());
    times[name].push(performance.now() - t0);
    reference ??= out;
    identical &&= out === reference;
  }
}
g2p.dispose();
const cpu = (() => { try { return /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model; } catch { return cpus()[0]?.model; } })();
const rows: [string, Sample][] = Object.entries(times).map(([k, v]) => [k, summarize(v)]);
const single = rows[0][1].median;
if (json) {
  console.log(JSON.stringify({ cpu, cores: cpus().length, node: process.version, load: loadAverage(), words: N, rounds: ROUNDS, identical, rows }, null, 1));
} else {
  console.log(`G2P, ${N} made-up words (no lexicon hits, word cache off), shipped model, 1 thread; ${cpu}, Node ${process.version}, load ${loadAverage()}`);
  for (const [k, s] of rows) {
    console.log(`  ${k.padEnd(42)} ${s.median.toFixed(0).padStart(6)} ms [${s.p10.toFixed(0)}..${s.p90.toFixed(0)}]  ${(single / s.median).toFixed(2)}× the one-word calls`);
  }
  console.log(`  outputs identical in every mode: ${identical ? 'yes' : 'NO'}`);
}
