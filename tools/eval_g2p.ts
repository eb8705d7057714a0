// G2P evaluation with OUR runtime (not PyTorch): the held-out test split through the TypeScript phonemizer,
// greedy and beam search, WER / PER / words per second; and, when the run folder has reference_sample.json,
// whether our outputs equal the PyTorch model's on that sample.
//   npm run eval:g2p [-- --model DIR] [--run-dir DIR] [--limit N] [--beams 1,4] [--int8] [--json]
// The run folder holds test.tsv and reference_sample.json, which are not part of the model (nor of the npm
// package): tools/g2p/runs/g2p-en for the shipped model, the --model folder itself for another export.
// Metrics: tools/g2p_metrics.ts (the definitions of tools/g2p/metrics.py).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Phonemizer, defaultG2PModelDir } from '../bindings/g2p/phonemizer.js';
import { scoreSplit, withoutStress } from './g2p_metrics.js';

const { values } = parseArgs({ options: { model: { type: 'string' }, 'run-dir': { type: 'string' }, limit: { type: 'string' }, beams: { type: 'string' }, int8: { type: 'boolean' }, json: { type: 'boolean' } } });
const loadOpts = values.int8 ? { quantize: 'int8' as const } : {};
const dir = values.model ?? (await defaultG2PModelDir());
/** tools/g2p/runs/g2p-en, seen from tools/ (tsx) or from dist/tools/ (the build `npm run eval:g2p` runs). */
function shippedRunDir(): string {
  const found = ['g2p/runs/g2p-en/', '../../tools/g2p/runs/g2p-en/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)))
    .find((d) => existsSync(`${d}test.tsv`));
  if (!found) throw new Error('tools/g2p/runs/g2p-en/test.tsv not found; pass --run-dir DIR');
  return found;
}
const runDir = values['run-dir'] ?? (values.model ? dir : shippedRunDir());
const split = readFileSync(`${runDir}/test.tsv`, 'utf8').trim().split('\n').map((l) => {
  const [w, prons] = l.split('\t');
  return { word: w, refs: prons.split(' | ').map((p) => p.split(' ')) };
});
const data = values.limit ? split.slice(0, Number(values.limit)) : split;
const results: Record<string, unknown>[] = [];
for (const beams of (values.beams ?? '1,4').split(',').map(Number)) {
  const g2p = await Phonemizer.load(dir, { ...loadOpts, lexicon: false }); // fresh cache per setting: time the model, not the cache
  const t0 = performance.now();
  const preds = await g2p.phonemizeWords(data.map((d) => d.word), { numBeams: beams, batchSize: 64 });
  const secs = (performance.now() - t0) / 1000;
  const refs = data.map((d) => d.refs);
  // Two scorings. With stress digits: what `phonemize` prints and a TTS front end needs. Without them (39 phonemes):
  // how the published CMUdict anchors (Sequitur, Phonetisaurus, the neural G2P papers) are scored, and so the scoring
  // the G2P goal's thresholds (Sequitur's 24.5 % WER / 5.9 % PER, rounded up) are read on.
  const noStress = scoreSplit(preds, refs, withoutStress);
  results.push({ beams, words: data.length, ...scoreSplit(preds, refs), WERNoStress: noStress.WER, PERNoStress: noStress.PER, wordsPerSecond: data.length / secs, seconds: secs });
}

let agreement: Record<string, unknown> | null = null;
const sampleFile = `${runDir}/reference_sample.json`;
if (existsSync(sampleFile)) {
  // {greedy?: {word: phonemes[]}, beam4?: {...}} written by tools/g2p/reference_outputs.py from the PyTorch model
  const sample = JSON.parse(readFileSync(sampleFile, 'utf8'));
  agreement = {};
  for (const [mode, beams] of [['greedy', 1], ['beam4', 4]] as const) {
    const ref: Record<string, string[] | string> | undefined = sample[mode];
    if (!ref) continue;
    const words = Object.keys(ref);
    const g2p = await Phonemizer.load(dir, { lexicon: false });
    const ours = await g2p.phonemizeWords(words, { numBeams: beams });
    const same = words.filter((w, i) => (Array.isArray(ref[w]) ? (ref[w] as string[]).join(' ') : ref[w]) === ours[i].join(' ')).length;
    agreement[mode] = { words: words.length, identical: same };
  }
}

if (values.json) console.log(JSON.stringify({ model: dir, results, pytorchAgreement: agreement }, null, 1));
else {
  console.log(`G2P test split (${data.length} words) through the wasm-seq2seq runtime${values.int8 ? ' (int8 weights)' : ''}, model ${dir}`);
  for (const r of results as any[]) console.log(`  beams ${r.beams}: WER ${(100 * r.WER).toFixed(2)}%  PER ${(100 * r.PER).toFixed(2)}%  ${r.wordsPerSecond.toFixed(0)} words/s (${r.seconds.toFixed(1)} s); without stress digits: WER ${(100 * r.WERNoStress).toFixed(2)}%  PER ${(100 * r.PERNoStress).toFixed(2)}%`);
  if (agreement) for (const [m, a] of Object.entries<any>(agreement)) console.log(`  same output as PyTorch (${m}): ${a.identical}/${a.words}`);
  else console.log('  (no reference_sample.json: PyTorch agreement not checked)');
}
