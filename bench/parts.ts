// One part of the comparison per child process (bench/compare.ts starts them): each loads what it needs,
// measures, and prints its figures as one `RESULT {json}` line on stdout (progress goes to stderr).
//   node --expose-gc dist/bench/parts.js check|decode|gemm [--quick]
//   node dist/bench/parts.js cold ours|ort [--full-run]
// Nothing here imports a runtime statically, so `cold` can time the import itself.
import { summarize, timeSamples, timeSamplesAsync, loadAverage, waitForIdle, cpuSnapshot, otherCores, type Sample } from './stats.js';
import { readMeta, readRefLogits, paths, type Meta } from './models.js';
import type { OrtMarian } from './ort_marian.js';
import type { OursMarian } from './ours_marian.js';

const STEPS = 64;
const BEAMS = 4;
const args = process.argv.slice(2);
const part = args[0];
const quick = args.includes('--quick');
const log = (s: string) => process.stderr.write(`  [${part}${part === 'cold' ? ` ${args[1]}` : ''}] ${s}\n`);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

/** Noise seen while a section ran: 1-min load average before it, cores other processes used during it. */
export interface Noise { load: number | null; others: number | null }

async function measured<T>(fn: () => Promise<T>): Promise<{ value: T; noise: Noise }> {
  const load = loadAverage();
  const a = cpuSnapshot();
  const value = await fn();
  return { value, noise: { load, others: otherCores(a, cpuSnapshot()) } };
}

const THREADS = Number(process.env.WASM_SEQ2SEQ_BENCH_THREADS ?? 1);

/**
 * With threads, a sample starts only once this process is quiet: onnxruntime-web's pool threads keep spinning
 * after a run returns (measured: 300-540 ms of CPU in the 500 ms after a 2-thread encoder run), which took a
 * core from our next sample (our 2-thread encoder ran at 66 ms, above our 1-thread time). Ours spin 2 ms.
 * Quiet: under 15% of a core over 10 ms, or 2 s passed. One thread each (the default): nothing spins, no wait.
 */
async function quiet(): Promise<void> {
  if (THREADS <= 1) return;
  const until = performance.now() + 2000;
  for (;;) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    await new Promise((r) => setTimeout(r, 10));
    const c = process.cpuUsage(c0);
    if ((c.user + c.system) / 1000 < 0.15 * (performance.now() - t0) || performance.now() > until) return;
  }
}

/**
 * Samples of two functions taken alternately (A, B, A, B, ...: a change in machine load hits both alike), each
 * sample repeating its function for >= minMs and recording ms per call, after warmupMs of each.
 */
async function interleaved(a: () => unknown, b: () => unknown, { samples = 12, minMs = 40, warmupMs = 1000 } = {}): Promise<[number[], number[]]> {
  const one = async (fn: () => unknown) => {
    let reps = 0;
    const t0 = performance.now();
    let t = t0;
    do {
      const p = fn();
      if (p instanceof Promise) await p; // a sync kernel call is not paid a microtask per call
      reps++;
      t = performance.now();
    } while (t - t0 < minMs);
    return (t - t0) / reps;
  };
  // warm-up long enough for V8 to tier hot wasm/JS up to optimised code (slower when the other core is busy)
  for (const fn of [a, b]) {
    const w0 = performance.now();
    do { const p = fn(); if (p instanceof Promise) await p; } while (performance.now() - w0 < warmupMs);
  }
  const ra: number[] = [], rb: number[] = [];
  for (let s = 0; s < samples; s++) {
    gc();
    const first = s % 2 === 0 ? a : b;
    for (const fn of [first, first === a ? b : a]) {
      await quiet();
      (fn === a ? ra : rb).push(await one(fn));
    }
  }
  return [ra, rb];
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  if (a.length !== b.length) return Infinity;
  return m;
}

async function loadOurs(meta: Meta): Promise<OursMarian> {
  const { OursMarian } = await import('./ours_marian.js');
  const forward = await import('../bindings/model/forward.js');
  const { loadModel } = await import('../bindings/index.js');
  return OursMarian.load(meta, forward, loadModel);
}

async function loadOrt(meta: Meta): Promise<OrtMarian> {
  const { OrtMarian, importOrt } = await import('./ort_marian.js');
  return OrtMarian.load(await importOrt(), meta);
}

// --- check: same logits before anything is timed -----------------------------------------------------

async function check() {
  const meta = readMeta();
  const ids = meta.input_ids;
  const V = meta.vocab;
  const ours = await loadOurs(meta);
  const ort = await loadOrt(meta);
  log('models loaded; decoding 64 greedy + 64 beam steps with each');
  const og = await ours.generate(ids, STEPS, 1);
  const ob = await ours.generate(ids, STEPS, BEAMS);
  const rg = await ort.generate(ids, STEPS, 1, 3);
  const rb = await ort.generate(ids, STEPS, BEAMS);
  // ours: raw logits of the first 3 steps, teacher-forced with ORT's greedy tokens (so both see the same inputs)
  const dec = [meta.decoder_start_token_id, rg.tokens[0], rg.tokens[1]];
  const oursLogits = await ours.logits(ids, dec);
  const ortLogits = new Float32Array(3 * V);
  rg.logits.forEach((l, t) => ortLogits.set(l, t * V));
  const ref = readRefLogits();
  const refTokens = meta.reference.greedy_tokens_64;
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  const firstDiff = (a: number[], b: number[]) => { const i = a.findIndex((x, j) => x !== b[j]); return i < 0 ? null : i + 1; };
  // int8 weights change the logits by design: a looser bound (a fraction of the logit spread), tokens reported
  const int8 = process.env.WASM_SEQ2SEQ_BENCH_QUANTIZE === 'int8', ortInt8 = process.env.WASM_SEQ2SEQ_BENCH_ORT_INT8 === '1';
  const res = {
    tolerance: 1e-3,
    logitsMaxAbsDiff: {
      oursVsOrt: maxAbsDiff(oursLogits, ortLogits),
      oursVsTorch: maxAbsDiff(oursLogits, ref),
      ortVsTorch: maxAbsDiff(ortLogits, ref),
    },
    logitsScale: { std: Math.sqrt(ref.reduce((s, x) => s + x * x, 0) / ref.length - (ref.reduce((s, x) => s + x, 0) / ref.length) ** 2) },
    greedyTeacherTokens: dec,
    steps: { oursGreedy: og.timing.steps, oursBeam: ob.timing.steps, ortGreedy: rg.timing.steps, ortBeam: rb.timing.steps },
    outputLengths: { oursGreedy: og.tokens.length, oursBeam: ob.tokens.length, ortGreedy: rg.tokens.length, ortBeam: rb.tokens.length },
    // the torch reference is plain argmax at every step; both runtimes apply the forced-eos [] rule at step 64
    greedyTokensEqual: { oursVsOrt: same(og.tokens, rg.tokens), oursVsTorchFirst63: same(og.tokens.slice(0, 63), refTokens.slice(0, 63)), ortVsTorchFirst63: same(rg.tokens.slice(0, 63), refTokens.slice(0, 63)) },
    lastToken: { oursGreedy: og.tokens[63], ortGreedy: rg.tokens[63], oursBeam: ob.tokens[63], ortBeam: rb.tokens[63] },
    beamTokensEqual: same(ob.tokens, rb.tokens),
    beamFirstDifference: firstDiff(ob.tokens, rb.tokens),
    greedyTokensHead: og.tokens.slice(0, 8),
    beamTokensHead: { ours: ob.tokens.slice(0, 8), ort: rb.tokens.slice(0, 8) },
    ok: false,
  };
  const d = res.logitsMaxAbsDiff;
  if (int8 || ortInt8) res.tolerance = 0.25 * res.logitsScale.std;
  res.ok = d.oursVsOrt <= res.tolerance && d.oursVsTorch <= res.tolerance && d.ortVsTorch <= (ortInt8 ? res.tolerance : 1e-3) &&
    Object.values(res.steps).every((s) => s === STEPS) && Object.values(res.outputLengths).every((s) => s === STEPS) &&
    (int8 || ortInt8 || res.greedyTokensEqual.oursVsOrt);
  return res;
}

// --- decode: encoder, greedy, 4-beam; samples of the two runtimes interleaved -------------------------

interface DecodeRow { ms: Sample; noise: Noise }
interface RuntimeDecode {
  encoderMs: Sample;
  greedy: { totalMs: Sample; loopMsPerStep: Sample; stepMsPerStep: Sample; tokensPerSec: Sample };
  beam: { totalMs: Sample; loopMsPerStep: Sample; stepMsPerStep: Sample; tokensPerSec: Sample };
}

async function decode() {
  const meta = readMeta();
  const ids = meta.input_ids;
  const ours = await loadOurs(meta);
  const ort = await loadOrt(meta);
  const encSamples = quick ? 5 : 21;
  const runs = { greedy: quick ? 2 : 9, beam: quick ? 1 : 7 };
  const idleWait = quick ? 1000 : 15_000;

  // warm-up, not recorded: one greedy and one beam run each (V8 tiers the hot code up meanwhile)
  log('warm-up: one greedy + one 4-beam run per runtime');
  for (const beams of [1, BEAMS]) {
    await ours.generate(ids, STEPS, beams);
    await ort.generate(ids, STEPS, beams);
  }

  // encoder: one call per sample, the runtimes alternating call by call
  await waitForIdle(1.0, idleWait);
  const enc = await measured(async () => {
    const [o, r] = await interleaved(() => ours.encode(ids), () => ort.encode(ids), { samples: encSamples, minMs: 0, warmupMs: 500 });
    return { ours: summarize(o), ort: summarize(r) };
  });
  log(`encoder: ours ${enc.value.ours.median.toFixed(1)} ms, ort ${enc.value.ort.median.toFixed(1)} ms`);

  const search = async (beams: number, n: number) => {
    await waitForIdle(1.0, idleWait);
    return measured(async () => {
      const acc = { ours: [] as { totalMs: number; loopMs: number; runMs: number }[], ort: [] as { totalMs: number; loopMs: number; runMs: number }[] };
      for (let i = 0; i < n; i++) {
        // alternate which runtime goes first, so a drift in machine load hits both alike
        const order = i % 2 === 0 ? ['ours', 'ort'] as const : ['ort', 'ours'] as const;
        for (const who of order) {
          gc();
          await quiet();
          const r = who === 'ours' ? await ours.generate(ids, STEPS, beams) : await ort.generate(ids, STEPS, beams);
          if (r.timing.steps !== STEPS || r.tokens.length !== STEPS) throw new Error(`${who} ran ${r.timing.steps} steps / ${r.tokens.length} tokens, expected ${STEPS}`);
          acc[who].push({ totalMs: r.totalMs, loopMs: r.timing.loopMs, runMs: r.timing.runMs });
        }
      }
      const sum = (xs: typeof acc.ours) => ({
        totalMs: summarize(xs.map((x) => x.totalMs)),
        loopMsPerStep: summarize(xs.map((x) => x.loopMs / STEPS)),
        stepMsPerStep: summarize(xs.map((x) => x.runMs / STEPS)),
        tokensPerSec: summarize(xs.map((x) => STEPS / (x.totalMs / 1000))),
      });
      return { ours: sum(acc.ours), ort: sum(acc.ort) };
    });
  };
  const greedy = await search(1, runs.greedy);
  log(`greedy: ours ${greedy.value.ours.loopMsPerStep.median.toFixed(2)} ms/step, ort ${greedy.value.ort.loopMsPerStep.median.toFixed(2)} ms/step`);
  const beam = await search(BEAMS, runs.beam);
  log(`beam ${BEAMS}: ours ${beam.value.ours.loopMsPerStep.median.toFixed(2)} ms/step, ort ${beam.value.ort.loopMsPerStep.median.toFixed(2)} ms/step`);
  const pick = (who: 'ours' | 'ort'): RuntimeDecode => ({ encoderMs: enc.value[who], greedy: greedy.value[who], beam: beam.value[who] });
  return {
    steps: STEPS, beams: BEAMS, srcLen: ids.length, runs, encSamples,
    ours: pick('ours'), ort: pick('ort'),
    noise: { encoder: enc.noise, greedy: greedy.noise, beam: beam.noise },
  };
}

// --- gemm: our packed GEMM/GEMV vs onnxruntime's MatMul (one-node graph, weights as initializer) ---------

async function gemm() {
  const meta = readMeta();
  const { loadKernels, resolveSimd } = await import('../bindings/backends/wasm/kernels.js');
  const { Heap } = await import('../bindings/backends/wasm/heap.js');
  const { testKernelsUrl } = await import('../tools/test_kernels.js');
  const { benchSimd } = await import('./ours_marian.js');
  const { importOrt, createSession } = await import('./ort_marian.js');
  const ort = await importOrt();
  const { probeGflops } = await import('./probe.js');
  const k = (await loadKernels(testKernelsUrl(resolveSimd(benchSimd())))) as import('../tools/test_kernels.js').TestKernels;
  const heap = new Heap(k);
  const samples = quick ? 4 : 12;
  const idleWait = quick ? 1000 : 10_000;

  const probe = probeGflops(k, samples);   // the multiply-add probe, as bench/kernels.ts runs it

  const rows = [];
  for (const [m, kk, n] of meta.gemm_shapes) {
    const load = await waitForIdle(1.0, idleWait);
    const a0 = cpuSnapshot();
    // ours: exactly bench/kernels.ts's setup and call
    const mark = heap.mark();
    const a = heap.alloc(m * kk * 4), w = heap.alloc(n * kk * 4), c = heap.alloc(m * n * 4);
    const f = heap.f32();
    for (let i = 0; i < m * kk; i++) f[(a >>> 2) + i] = Math.random() - 0.5;
    for (let i = 0; i < n * kk; i++) f[(w >>> 2) + i] = Math.random() - 0.5;
    const packed = heap.alloc(k.packed_size_f32(n, kk) * 4);
    k.pack_f32_n8(w, 0, n, kk, packed);
    const kernel = m === 1 ? 'gemv_f32_1x24' : 'gemm_f32_4x8';
    // theirs: MatMul(A [M,K] input, B [K,N] initializer), B prepacked by onnxruntime at session creation
    const sess = await createSession(ort, paths.gemm(m, kk, n));
    const A = new Float32Array(m * kk).map(() => Math.random() - 0.5);
    const feeds = { A: new ort.Tensor('float32', A, [m, kk]) };
    const [o, r] = await interleaved(() => k.linear_f32(a, kk, packed, c, n, m, kk, n, 0), () => sess.run(feeds), { samples, minMs: 40, warmupMs: 1000 });
    await sess.release();
    heap.release(mark);
    const flop = 2 * m * kk * n;
    const g = (s: Sample): Sample => ({ median: flop / (s.median * 1e6), p10: flop / (s.p90 * 1e6), p90: flop / (s.p10 * 1e6), n: s.n });
    const os = summarize(o), rs = summarize(r);
    rows.push({ m, k: kk, n, kernel, flop, ours: { ms: os, gflops: g(os) }, ort: { ms: rs, gflops: g(rs) }, noise: { load, others: otherCores(a0, cpuSnapshot()) } });
    log(`${m}x${kk}x${n}: ours ${g(os).median.toFixed(1)} GFLOP/s, ort ${g(rs).median.toFixed(1)} GFLOP/s`);
  }
  // what one session.run() of a trivial graph costs: included in every ORT figure above
  const ov = await createSession(ort, paths.overhead);
  const ovIn = { A: new ort.Tensor('float32', new Float32Array(8), [1, 8]) };
  const overheadMs = summarize(await timeSamplesAsync(() => ov.run(ovIn), { samples, minMs: 40, warmupMs: 500 }));
  return { peakGflops: probe, ortRunOverheadMs: overheadMs, rows };
}

// --- cold: import -> first token in this fresh process, then (optionally) a full run for peak RSS ---------

async function cold(who: 'ours' | 'ort', fullRun: boolean) {
  const meta = readMeta();
  const ids = meta.input_ids;
  const tStart = performance.now(); // ms since this process started (Node's performance.timeOrigin)
  let tImport: number, tLoad: number, tFirst: number;
  let fullRunFn: () => Promise<void>;
  if (who === 'ours') {
    // the package's own entry, as a user's `import 'wasm-seq2seq'` resolves it in Node (dist/node, the bundled
    // build), like importOrt() for onnxruntime-web; a variable name keeps tsc from resolving it before dist/ exists
    const entry = 'wasm-seq2seq';
    const { loadModel } = (await import(entry)) as typeof import('../bindings/index.js');
    const { forcedOptions, benchLoadOptions } = await import('./ours_marian.js');
    tImport = performance.now();
    const model = await loadModel(paths.hf, benchLoadOptions());
    tLoad = performance.now();
    await model.generate([ids], forcedOptions(1, 1));
    tFirst = performance.now();
    fullRunFn = async () => {
      await model.generate([ids], forcedOptions(STEPS, 1));
      await model.generate([ids], forcedOptions(STEPS, BEAMS));
    };
  } else {
    const { OrtMarian, importOrt } = await import('./ort_marian.js');
    const ort = await importOrt();
    tImport = performance.now();
    const m = await OrtMarian.load(ort, meta);
    tLoad = performance.now();
    await m.generate(ids, 1, 1);
    tFirst = performance.now();
    fullRunFn = async () => {
      await m.generate(ids, STEPS, 1);
      await m.generate(ids, STEPS, BEAMS);
    };
  }
  const rssFirstMiB = process.resourceUsage().maxRSS / 1024;
  let rssFullMiB: number | null = null;
  if (fullRun) {
    await fullRunFn();
    rssFullMiB = process.resourceUsage().maxRSS / 1024;
  }
  return {
    who, nodeStartMs: tStart, importMs: tImport - tStart, loadMs: tLoad - tImport, firstTokenMs: tFirst - tLoad,
    importToFirstTokenMs: tFirst - tStart, rssFirstMiB, rssFullMiB,
  };
}

export type CheckResult = Awaited<ReturnType<typeof check>>;
export type DecodeResult = Awaited<ReturnType<typeof decode>>;
export type GemmResult = Awaited<ReturnType<typeof gemm>>;
export type ColdResult = Awaited<ReturnType<typeof cold>>;

let result: unknown;
if (part === 'check') result = await check();
else if (part === 'decode') result = await decode();
else if (part === 'gemm') result = await gemm();
else if (part === 'cold' && (args[1] === 'ours' || args[1] === 'ort')) result = await cold(args[1], args.includes('--full-run'));
else {
  process.stderr.write('usage: parts.js check|decode|gemm [--quick] | cold ours|ort [--full-run]\n');
  process.exit(2);
}
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
