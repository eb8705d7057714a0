// `npm run bench:serve` (also the last part of `npm run bench`): serving throughput on the Marian-size bench model
// (opus-mt-en-de's shape, random weights), 1 thread. The same requests run one after another and all at once (they
// then share decoder steps: bindings/model/batcher.ts), alternating, several rounds; medians with spread.
//   node --expose-gc dist/bench/serve.js [--quick] [--json] [--int8-only | --f32-only] [--relaxed-simd]
// Requests have different source lengths and output lengths (eos is off, so each runs exactly its steps, as in
// `npm run bench`'s decode rows). Then the latency of requests that arrive while others run: time to first token
// (stream()'s first event) with batching and without (a queue), p50/p90.
import { cpus } from 'node:os';
import { readFileSync } from 'node:fs';
import { loadModel } from '../bindings/model/load.js';
import type { Seq2SeqModel } from '../bindings/model/model.js';
import { ensureModels, paths, readMeta } from './models.js';
import { forcedOptions } from './ours_marian.js';
import { loadAverage, summarize, waitForIdle, type Sample } from './stats.js';

const args = process.argv.slice(2);
// --relaxed-simd: the relaxed-SIMD kernels (fused multiply-add; Node 20 needs --experimental-wasm-relaxed-simd)
const simd = args.includes('--relaxed-simd') ? 'relaxed' as const : 'baseline' as const;
const quick = args.includes('--quick');
const json = args.includes('--json');
const ROUNDS = quick ? 3 : 7;

interface Req { ids: number[]; steps: number; beams: number }

/** n requests, sources of 6-35 tokens, outputs of minSteps..maxSteps tokens: deterministic. */
function requests(n: number, beams: number, minSteps: number, maxSteps: number, vocab: number): Req[] {
  let s = 12345;
  const rnd = (k: number) => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s % k; };
  return Array.from({ length: n }, (_, i) => {
    const len = 6 + ((i * 7) % 30);
    return { ids: [...Array.from({ length: len }, () => 10 + rnd(vocab - 20)), 0], steps: minSteps + ((i * 7) % (maxSteps - minSteps + 1)), beams };
  });
}

const run = (m: Seq2SeqModel, r: Req) => m.generate([r.ids], forcedOptions(r.steps, r.beams));

interface Row { name: string; tokens: number; sequential: Sample; concurrent: Sample; ratio: Sample; identical: boolean; meanRows: number }

/** Rounds alternating one-after-another and all-at-once; tokens/s of each and their ratio per round. */
async function throughput(m: Seq2SeqModel, name: string, reqs: Req[]): Promise<Row> {
  const tokens = reqs.reduce((a, r) => a + r.steps, 0);
  const seq: number[] = [], conc: number[] = [], ratio: number[] = [];
  let identical = true, steps = 0, rows = 0;
  for (const r of reqs.slice(0, 2)) await run(m, r); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    globalThis.gc?.();
    let t0 = performance.now();
    const alone = [];
    for (const r of reqs) alone.push(await run(m, r));
    const tSeq = performance.now() - t0;
    globalThis.gc?.();
    const before = m.batchStats!;
    t0 = performance.now();
    const together = await Promise.all(reqs.map((r) => run(m, r)));
    const tConc = performance.now() - t0;
    const after = m.batchStats!;
    steps += after.steps - before.steps;
    rows += after.rows - before.rows;
    identical &&= JSON.stringify(alone.map((o) => o.sequences)) === JSON.stringify(together.map((o) => o.sequences));
    seq.push((tokens / tSeq) * 1000);
    conc.push((tokens / tConc) * 1000);
    ratio.push(tSeq / tConc);
  }
  return { name, tokens, sequential: summarize(seq), concurrent: summarize(conc), ratio: summarize(ratio), identical, meanRows: rows / steps };
}

/** `background` requests start together; from `startMs` on, `arrivals` more arrive one every `gapMs` while they
 *  run: ms from each arrival's scheduled time to its first token (stream()'s first event). Measured from the
 *  schedule, not from when its timer ran: without batching the queue keeps the event loop busy until it drains. */
async function firstTokenLatency(m: Seq2SeqModel, background: Req[], arrivals: Req[], startMs: number, gapMs: number): Promise<Sample> {
  const t0 = performance.now();
  const bg = background.map((r) => run(m, r));
  const waits: number[] = [];
  const late = arrivals.map(async (r, i) => {
    const at = startMs + gapMs * i;
    await new Promise((res) => setTimeout(res, at));
    const it = m.stream([r.ids], forcedOptions(r.steps, 1));
    await it.next();
    waits.push(performance.now() - t0 - at);
    for await (const _ of it) { /* drain */ }
  });
  await Promise.all([...bg, ...late]);
  return summarize(waits);
}

const fmt = (s: Sample, d = 0) => `${s.median.toFixed(d)} [${s.p10.toFixed(d)}..${s.p90.toFixed(d)}]`;

async function section(quantize: 'none' | 'int8') {
  const meta = readMeta();
  const load = { threads: 1, simd, quantize, tokenizer: false };
  const m = await loadModel(paths.hf, load);
  const rows: Row[] = [];
  rows.push(await throughput(m, '16 greedy requests', requests(16, 1, 16, 48, meta.vocab)));
  rows.push(await throughput(m, '4 beam-4 requests', requests(4, 4, 16, 32, meta.vocab)));
  // latency: 15 long greedy requests running; from 1.5 s on (their encoders done), 6 more arrive 150 ms apart
  const bg = requests(15, 1, 48, 48, meta.vocab), arrivals = requests(6, 1, 16, 16, meta.vocab);
  const ttftBatched = await firstTokenLatency(m, bg, arrivals, 1500, 150);
  m.dispose();
  const q = await loadModel(paths.hf, { ...load, batching: false });
  const ttftQueued = await firstTokenLatency(q, bg, arrivals, 1500, 150);
  q.dispose();
  return { quantize, rows, ttft: { batched: ttftBatched, queued: ttftQueued } };
}

ensureModels((s) => console.error(s));
await waitForIdle(cpus().length * 0.75, 15_000);
const which = args.includes('--int8-only') ? ['int8'] as const : args.includes('--f32-only') ? ['none'] as const : ['none', 'int8'] as const;
const results = [];
for (const q of which) results.push(await section(q));
const cpu = (() => { try { return /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpus()[0]?.model; } catch { return cpus()[0]?.model; } })();
if (json) {
  console.log(JSON.stringify({ cpu, cores: cpus().length, node: process.version, load: loadAverage(), rounds: ROUNDS, results }, null, 1));
} else {
  console.log(`\nServing (continuous batching), Marian-size model, 1 thread, ${simd} SIMD; ${cpu}, ${cpus().length} cores, Node ${process.version}, load ${loadAverage()}`);
  console.log(`tokens/s median [p10..p90] over ${ROUNDS} rounds, one after another vs all at once (alternating)`);
  for (const r of results) {
    const w = r.quantize === 'int8' ? 'int8' : 'f32';
    for (const row of r.rows) {
      console.log(`  ${w.padEnd(4)} ${row.name.padEnd(20)} ${String(row.tokens).padStart(4)} tokens: alone ${fmt(row.sequential)}, together ${fmt(row.concurrent)} ` +
        `→ ${fmt(row.ratio, 2)}× (rows per shared step ${row.meanRows.toFixed(1)}; outputs identical: ${row.identical ? 'yes' : 'NO'})`);
    }
    console.log(`  ${w.padEnd(4)} time to first token, 6 requests arriving during 15 others, ms p50 [p10..p90]: ` +
      `batched ${fmt(r.ttft.batched)} (p90 ${r.ttft.batched.p90.toFixed(0)}), queued (batching: false) ${fmt(r.ttft.queued)}`);
  }
}
