// Our own scaling: the Marian-size bench model with 1 thread and with N threads (default 2), both loaded in one
// process and their samples interleaved (A, B, A, B: load drifts hit both alike), for the encoder (32 tokens)
// and a 24-step 4-beam generate, f32 and int8. The issue-8 goal is N=2 >= 1.7x our 1-thread figures.
// Beside each row, the machine's ceiling for that work (ceiling.ts): N independent 1-thread models in N workers
// running it at the same moment, N x alone / together, sampled beside each pair. Nothing is shared or waited for
// there: it shows how far this machine scales that work at all at that time (see ceiling.ts for its one caveat).
// --chunk-times: the N-thread model also times every chunk (model.timeThreads: two clock reads a chunk) and each
// row adds the chunks' speed: 1-thread time / busy time summed over the N threads (about 1.0 or a little above
// when the chunks ran as fast side by side as alone, the 1-thread time also holding the few serial parts; 0.5:
// each thread at half speed, as if they shared one core).
// A benchmark, never part of `npm test`. Needs the models of `npm run bench` (bench/.models/).
//   node --expose-gc dist/bench/threads.js [--threads N] [--samples S] [--no-ceiling] [--chunk-times] [--json]
import { cpus } from 'node:os';
import { loadModel } from '../bindings/index.js';
import type { Seq2SeqModel } from '../bindings/model/model.js';
import { ensureModels, paths, readMeta } from './models.js';
import { CeilingRig, summarizeCeiling, type Ceiling } from './ceiling.js';
import { loadAverage, summarize, type Sample } from './stats.js';
import { forcedOptions } from './ours_marian.js';

const args = process.argv.slice(2);
const opt = (name: string, dflt: number) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const N = opt('--threads', 2), samples = opt('--samples', 9), json = args.includes('--json'), ceiling = !args.includes('--no-ceiling');
const chunkTimes = args.includes('--chunk-times');
const STEPS = 24;
const log = (s: string) => process.stderr.write(`${s}\n`);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

ensureModels(log);
const ids = readMeta().input_ids;

/** speedup: ratio of the medians; paired: the per-pair ratios (1-thread sample / N-thread sample taken next to it). */
interface Row { what: string; format: string; one: Sample; many: Sample; speedup: number; paired: Sample; ceiling?: Ceiling; chunkSpeed?: Sample & { belowHalfSpeed: number } }
const rows: Row[] = [];
for (const format of ['f32', 'int8'] as const) {
  const quantize = format === 'int8' ? { quantize: 'int8' as const } : {};
  log(`loading the model twice (${format}): threads 1 and ${N}`);
  const one = await loadModel(paths.hf, { threads: 1, tokenizer: false, ...quantize });
  const many = await loadModel(paths.hf, { threads: N, tokenizer: false, ...quantize });
  if (many.threads !== N) throw new Error(`asked for ${N} threads, the model runs ${many.threads} (SharedArrayBuffer missing?)`);
  const work: [string, (m: Seq2SeqModel) => Promise<unknown>, 'encode' | 'generate'][] = [
    [`encoder, ${ids.length} tokens`, (m) => m.encode([ids]), 'encode'],
    [`4-beam generate, ${STEPS} steps`, (m) => m.generate([ids], forcedOptions(STEPS, 4)), 'generate'],
  ];
  for (const [what, fn, kind] of work) {
    for (let w = 0; w < 3; w++) { await fn(one); await fn(many); } // warm-up: optimised wasm tier, pool spun up
    // ~100 ms per timed ceiling sample: 5 encodes (15-55 ms each) or one generate
    const rig = ceiling ? await CeilingRig.start({ model: paths.hf, ids, work: kind, steps: STEPS, int8: format === 'int8', threads: N, reps: kind === 'encode' ? 5 : 1 }) : null;
    const a: number[] = [], b: number[] = [], c: [number, number][] = [], busy: number[] = [];
    many.timeThreads(chunkTimes);
    try {
      for (let s = 0; s < samples; s++) {
        gc();
        for (const [m, into] of (s % 2 === 0 ? [[one, a], [many, b]] : [[many, b], [one, a]]) as [Seq2SeqModel, number[]][]) {
          many.takeThreadStats();   // clears the warm-up's or the last sample's
          const t0 = performance.now();
          await fn(m);
          into.push(performance.now() - t0);
          if (chunkTimes && m === many) busy.push(many.takeThreadStats()!.busyMs.reduce((x, y) => x + y, 0));
        }
        if (rig) c.push(await rig.sample());   // the same moment's ceiling, beside this pair
      }
    } finally {
      await rig?.close();
    }
    // Each 1-thread sample and the N-thread sample beside it share the machine's state of that moment (this VM
    // has slow and fast phases lasting seconds): their ratio cancels that drift, where a ratio of medians may pair
    // a fast phase of one with a slow phase of the other. Both are printed.
    const r: Row = { what, format, one: summarize(a), many: summarize(b), speedup: 0, paired: summarize(a.map((x, i) => x / b[i])) };
    r.speedup = r.one.median / r.many.median;
    if (rig) r.ceiling = summarizeCeiling(N, c);
    if (chunkTimes) {
      const speed = a.map((x, i) => x / busy[i]);
      r.chunkSpeed = { ...summarize(speed), belowHalfSpeed: speed.filter((v) => v < 0.6).length };
    }
    rows.push(r);
    log(`  ${format} ${what}: 1 thread ${r.one.median.toFixed(1)} ms, ${N} threads ${r.many.median.toFixed(1)} ms -> ${r.speedup.toFixed(2)}x (paired ${r.paired.median.toFixed(2)}x)` +
      (r.ceiling ? `; machine ceiling ${r.ceiling.ratio.median.toFixed(2)}x` : '') + (r.chunkSpeed ? `; chunk speed ${r.chunkSpeed.median.toFixed(2)}` : ''));
  }
  one.dispose();
  many.dispose();
}

if (json) console.log(JSON.stringify({ threads: N, cores: cpus().length, load: loadAverage(), rows }, null, 1));
else {
  const f = (s: Sample) => `${s.median.toFixed(1)} [${s.p10.toFixed(1)}..${s.p90.toFixed(1)}]`.padStart(22);
  console.log(`wasm-seq2seq, 1 thread vs ${N} threads (same process, interleaved; ${cpus().length} cores, load ${loadAverage()}); ms median [p10..p90]`);
  console.log(`${''.padEnd(34)} ${'1 thread'.padStart(22)} ${`${N} threads`.padStart(22)}   ratio of medians, median of paired ratios [p10..p90]`);
  const g = (s: Sample) => `${s.median.toFixed(2)}x [${s.p10.toFixed(2)}..${s.p90.toFixed(2)}]`;
  for (const r of rows) console.log(`${`${r.format} ${r.what}`.padEnd(34)} ${f(r.one)} ${f(r.many)}   ${r.speedup.toFixed(2)}x   ${g(r.paired)}`);
  if (rows.some((r) => r.ceiling)) {
    console.log(`\nthe machine's ceiling: ${N} independent 1-thread models in ${N} workers, the same work at the same moment;`);
    console.log(`${N} x alone / together, median of paired samples [p10..p90] (nothing shared or waited for; each reads its own weights)`);
    for (const r of rows) if (r.ceiling) console.log(`${`${r.format} ${r.what}`.padEnd(34)} alone ${r.ceiling.alone.median.toFixed(1)} ms, together ${r.ceiling.together.median.toFixed(1)} ms   ceiling ${g(r.ceiling.ratio)}   ours ${r.paired.median.toFixed(2)}x = ${(100 * r.paired.median / r.ceiling.ratio.median).toFixed(0)}% of it`);
  }
  if (rows.some((r) => r.chunkSpeed)) {
    console.log(`\nthe chunks' own speed on ${N} threads: 1-thread time / busy time summed over the threads, median [p10..p90];`);
    console.log('~1.0 (a little above: the 1-thread time holds the serial parts too): as fast side by side as alone; below 0.6: both threads near half speed');
    for (const r of rows) if (r.chunkSpeed) console.log(`${`${r.format} ${r.what}`.padEnd(34)} ${r.chunkSpeed.median.toFixed(2)} [${r.chunkSpeed.p10.toFixed(2)}..${r.chunkSpeed.p90.toFixed(2)}]   samples below 0.6: ${r.chunkSpeed.belowHalfSpeed} of ${r.chunkSpeed.n}`);
  }
}
