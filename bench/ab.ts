// A/B: this build against another checkout's build on the same Marian-size model, in one process, samples
// interleaved (A, B, A, B, ...) so drifts in machine load hit both alike. For checking that a change costs nothing:
//   node --expose-gc dist/bench/ab.js --baseline ../other-checkout [--int8] [--threads N] [--samples N] [--json]
// The other checkout must be built (its dist/bindings/index.js) and its loadModel must take the same options.
// Prints per part (encoder, greedy decode, 4-beam decode) the medians, p10–p90 of each side, and this/baseline.
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureModels, paths, readMeta } from './models.js';
import { forcedOptions } from './ours_marian.js';
import { loadAverage, summarize, waitForIdle, type Sample } from './stats.js';

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const baselineDir = opt('--baseline');
if (!baselineDir) throw new Error('usage: node dist/bench/ab.js --baseline DIR [--int8] [--threads N] [--samples N] [--json]');
const samples = Number(opt('--samples') ?? 9);
const threads = Number(opt('--threads') ?? 1);
const loadOptions = { threads, tokenizer: false, simd: 'baseline' as const, ...(args.includes('--int8') ? { quantize: 'int8' as const } : {}) };
const STEPS = 32;

type Lib = typeof import('../bindings/index.js');
type Model = Awaited<ReturnType<Lib['loadModel']>>;
const log = (s: string) => process.stderr.write(`${s}\n`);

ensureModels(log);
const meta = readMeta();
const ids = meta.input_ids;
const libs: [string, Lib][] = [
  ['this', (await import('../bindings/index.js')) as Lib],
  ['baseline', (await import(pathToFileURL(resolve(baselineDir, 'dist/bindings/index.js')).href)) as Lib],
];
const models: Model[] = [];
for (const [, lib] of libs) models.push(await lib.loadModel(paths.hf, loadOptions));

const parts: [string, (m: Model) => Promise<unknown>][] = [
  ['encoder', (m) => m.encode([ids])],
  [`greedy ${STEPS} steps`, (m) => m.generate([ids], forcedOptions(STEPS, 1))],
  [`4-beam ${STEPS} steps`, (m) => m.generate([ids], forcedOptions(STEPS, 4))],
];

// the same tokens on both sides before any timing
for (const [name, run] of parts.slice(1)) {
  const [a, b] = [await run(models[0]), await run(models[1])];
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`${name}: the two builds disagree`);
}

const rows: { part: string; this: Sample; baseline: Sample; ratio: number }[] = [];
for (const [name, run] of parts) {
  await waitForIdle(cpus().length * 0.75, 15_000);
  for (const m of models) await run(m); // warm-up
  const times: number[][] = [[], []];
  for (let s = 0; s < samples; s++) {
    for (const i of s % 2 ? [1, 0] : [0, 1]) {
      (globalThis as { gc?: () => void }).gc?.();
      const t0 = performance.now();
      await run(models[i]);
      times[i].push(performance.now() - t0);
    }
  }
  const [a, b] = times.map(summarize);
  rows.push({ part: name, this: a, baseline: b, ratio: a.median / b.median });
}
for (const m of models) m.dispose();

const cpu = cpus()[0]?.model ?? 'unknown CPU';
if (args.includes('--json')) {
  console.log(JSON.stringify({ cpu, loadOptions, samples, rows }));
} else {
  const f = (s: Sample) => `${s.median.toFixed(1)} ms (${s.p10.toFixed(1)}–${s.p90.toFixed(1)})`;
  console.log(`${cpu}; ${JSON.stringify(loadOptions)}; ${samples} interleaved samples; load average ${loadAverage()}`);
  console.log(`| part | this build | baseline (${baselineDir}) | this / baseline |\n|---|---|---|---|`);
  for (const r of rows) console.log(`| ${r.part} | ${f(r.this)} | ${f(r.baseline)} | ${r.ratio.toFixed(3)} |`);
}
