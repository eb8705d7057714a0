// A/B: this build against another checkout's build on the same Marian-size model, samples interleaved (A, B, A,
// B, ...) so drifts in machine load hit both alike. For checking that a change costs nothing:
//   node --expose-gc dist/bench/ab.js --baseline ../other-checkout [--int8] [--threads N] [--samples N] [--json]
// The other checkout must be built (its dist/bindings/index.js) and its loadModel must take the same options.
// Load order matters by itself: of two identical models in one process, the one loaded second ran 1.5-3% faster
// here (measured with both orders of the same two builds), so each comparison runs twice, in two processes, once
// with each build loaded first, and the ratio reported is the geometric mean of the two.
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Row { part: string; this: Sample; baseline: Sample; ratio: number }

/** One process: both builds loaded (`first` first), every part timed, samples interleaved. */
async function measure(first: 'this' | 'baseline'): Promise<Row[]> {
  type Lib = typeof import('../bindings/index.js');
  type Model = Awaited<ReturnType<Lib['loadModel']>>;
  const meta = readMeta(), ids = meta.input_ids;
  const libs: Record<'this' | 'baseline', Lib> = {
    this: (await import('../bindings/index.js')) as Lib,
    baseline: (await import(pathToFileURL(resolve(baselineDir!, 'dist/bindings/index.js')).href)) as Lib,
  };
  const models = {} as Record<'this' | 'baseline', Model>;
  for (const k of first === 'this' ? ['this', 'baseline'] as const : ['baseline', 'this'] as const) models[k] = await libs[k].loadModel(paths.hf, loadOptions);
  const parts: [string, (m: Model) => Promise<unknown>][] = [
    ['encoder', (m) => m.encode([ids])],
    [`greedy ${STEPS} steps`, (m) => m.generate([ids], forcedOptions(STEPS, 1))],
    [`4-beam ${STEPS} steps`, (m) => m.generate([ids], forcedOptions(STEPS, 4))],
  ];
  for (const [name, run] of parts.slice(1)) { // the same tokens on both sides before any timing
    if (JSON.stringify(await run(models.this)) !== JSON.stringify(await run(models.baseline))) throw new Error(`${name}: the two builds disagree`);
  }
  const rows: Row[] = [];
  for (const [name, run] of parts) {
    await waitForIdle(cpus().length * 0.75, 15_000);
    for (const m of Object.values(models)) await run(m); // warm-up
    const times = { this: [] as number[], baseline: [] as number[] };
    for (let s = 0; s < samples; s++) {
      for (const k of s % 2 ? ['baseline', 'this'] as const : ['this', 'baseline'] as const) {
        (globalThis as { gc?: () => void }).gc?.();
        const t0 = performance.now();
        await run(models[k]);
        times[k].push(performance.now() - t0);
      }
    }
    const a = summarize(times.this), b = summarize(times.baseline);
    rows.push({ part: name, this: a, baseline: b, ratio: a.median / b.median });
  }
  for (const m of Object.values(models)) m.dispose();
  return rows;
}

const child = opt('--child') as 'this' | 'baseline' | undefined;
if (child) {
  console.log(JSON.stringify(await measure(child)));
} else {
  ensureModels(log);
  const runs = (['this', 'baseline'] as const).map((first) => {
    log(`ab: ${first} loaded first`);
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args, '--child', first],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (r.status !== 0) throw new Error(`ab child (${first} first) failed with exit ${r.status}`);
    return { first, rows: JSON.parse(r.stdout.trim().split('\n').pop()!) as Row[] };
  });
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const combined = runs[0].rows.map((r, i) => ({ part: r.part, ratio: Math.sqrt(r.ratio * runs[1].rows[i].ratio) }));
  if (args.includes('--json')) {
    console.log(JSON.stringify({ cpu, loadOptions, samples, runs, combined }));
  } else {
    const f = (s: Sample) => `${s.median.toFixed(1)} (${s.p10.toFixed(1)}–${s.p90.toFixed(1)})`;
    console.log(`${cpu}; ${JSON.stringify(loadOptions)}; ${samples} interleaved samples per order; load average ${loadAverage()}`);
    console.log(`| part | this first: this / baseline ms | ratio | baseline first: this / baseline ms | ratio | this / baseline (geomean) |\n|---|---|---|---|---|---|`);
    runs[0].rows.forEach((r, i) => {
      const q = runs[1].rows[i];
      console.log(`| ${r.part} | ${f(r.this)} / ${f(r.baseline)} | ${r.ratio.toFixed(3)} | ${f(q.this)} / ${f(q.baseline)} | ${q.ratio.toFixed(3)} | ${combined[i].ratio.toFixed(3)} |`);
    });
  }
}
