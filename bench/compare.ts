// `npm run bench`: wasm-seq2seq against onnxruntime-web (wasm backend, 1 thread, SIMD) on a Marian-size model
// (opus-mt-en-de's shape, random weights), one table side by side. A benchmark, never part of `npm test`.
//   node --expose-gc dist/bench/compare.js [--json] [--quick] [--int8] [--ort-int8] [--threads N] [--relaxed-simd] [--webgpu] [--no-serve]
// Order: make the models if missing (tools/bench/make_marian.py) -> check both runtimes give the same logits
// -> encoder / greedy / 4-beam decode (both loaded in one process, samples interleaved so load drifts hit
// both alike) -> kernel GFLOP/s (our GEMM vs a one-node ORT MatMul graph, interleaved) -> cold start and
// peak RSS (a fresh node process per run, runtimes alternating) -> download sizes.
// Each timed part runs in its own child process (dist/bench/parts.js) after bench/stats.ts waitForIdle.
// The per-shape kernel table of our own GEMM against the multiply-add probe stays in `node dist/bench/kernels.js`.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { bundleSizes } from './bundle.js';
import { ensureModels, ensureOrtInt8, readMeta, ROOT } from './models.js';
import { loadAverage, summarize, waitForIdle, type Sample } from './stats.js';
import type { CheckResult, ColdResult, DecodeResult, GemmResult } from './parts.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const quick = args.includes('--quick');
// --webgpu: our WebGPU backend beside our wasm backend on the same model instead (bench/webgpu.ts, which takes
// --json, --quick and --steps N); onnxruntime-web is compared on wasm only
if (args.includes('--webgpu')) {
  await import('./webgpu.js');
  process.exit(0);
}
// --int8: our side loads the model with quantize: 'int8' (onnxruntime-web stays f32: the issue-8 comparison)
if (args.includes('--int8')) process.env.WASM_SEQ2SEQ_BENCH_QUANTIZE = 'int8';
// --ort-int8: onnxruntime-web runs its own int8: the same graphs dynamically quantised (tools/bench/quantize_onnx.py)
const ortInt8 = args.includes('--ort-int8');
if (ortInt8) process.env.WASM_SEQ2SEQ_BENCH_ORT_INT8 = '1';
// --threads N: both sides on N threads (our worker pool; onnxruntime-web's numThreads)
const threadsArg = args.indexOf('--threads');
const threads = threadsArg >= 0 ? Number(args[threadsArg + 1]) : 1;
if (!Number.isInteger(threads) || threads < 1) throw new Error(`--threads needs a positive integer, got ${args[threadsArg + 1]}`);
process.env.WASM_SEQ2SEQ_BENCH_THREADS = String(threads);
// --relaxed-simd: our relaxed-SIMD kernels (fused multiply-add), as Chrome 114+ and Node 22+ run by default; on
// Node 20 every part runs with V8's --experimental-wasm-relaxed-simd (onnxruntime-web 1.30 ships no relaxed build)
const relaxed = args.includes('--relaxed-simd');
process.env.WASM_SEQ2SEQ_BENCH_SIMD = relaxed ? 'relaxed' : 'baseline';
const nodeFlags = relaxed && Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-wasm-relaxed-simd'] : [];
const simdNote = relaxed ? ' (relaxed SIMD kernels)' : '';
const t0 = Date.now();
const log = (s: string) => process.stderr.write(`${s}\n`);
const PARTS = join(ROOT, 'dist', 'bench', 'parts.js');

interface Noise { load: number | null; others: number | null }
/** A row is noisy when other processes took half a core or more while it ran, or the load average before it
 *  said more was runnable than this machine has cores. */
const NOISY_OTHERS = 0.5;
const NOISY_LOAD = cpus().length;
const isNoisy = (n: Noise | undefined) => !!n && ((n.others ?? 0) >= NOISY_OTHERS || (n.load ?? 0) >= NOISY_LOAD);

function runPart<T>(partArgs: string[], flags: string[] = ['--expose-gc']): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, ...flags, PARTS, ...partArgs], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code !== 0 || !line) reject(new Error(`parts.js ${partArgs.join(' ')} exited ${code}${out ? `:\n${out}` : ''}`));
      else resolve(JSON.parse(line.slice(7)) as T);
    });
  });
}

// --- run ----------------------------------------------------------------------------------------------

log(`wasm-seq2seq${args.includes('--int8') ? ' (int8 weights)' : ''}${simdNote}${threads > 1 ? ` (${threads} threads both)` : ''} vs onnxruntime-web${ortInt8 ? ' (int8, dynamic quantization)' : ''}${quick ? ' (--quick: few samples, short idle waits)' : ''}`);
ensureModels(log);
if (ortInt8) ensureOrtInt8(log);
const meta = readMeta();

log('check: both runtimes, same input, logits of the first 3 greedy steps (and 64-step greedy / beam tokens)');
const check = await runPart<CheckResult>(['check']);
const d = check.logitsMaxAbsDiff;
log(`  max |logit diff| ours-ort ${d.oursVsOrt.toExponential(1)}, ours-torch ${d.oursVsTorch.toExponential(1)}, ort-torch ${d.ortVsTorch.toExponential(1)} (tolerance ${check.tolerance}); steps ${JSON.stringify(check.steps)}`);
if (!check.ok) {
  log(`CHECK FAILED, nothing timed:\n${JSON.stringify(check, null, 1)}`);
  process.exit(1);
}

const idle = quick ? 1000 : 20_000;
log('decode: encoder, greedy, 4-beam (64 steps each)');
const decode = await runPart<DecodeResult>(['decode', ...(quick ? ['--quick'] : [])]);

log('gemm: our packed GEMM/GEMV vs onnxruntime MatMul');
const gemm = await runPart<GemmResult>(['gemm', ...(quick ? ['--quick'] : [])]);

type Cold = ColdResult;
const coldRuns = quick ? 2 : 5;
log(`cold start: ${coldRuns} fresh node processes per runtime, alternating (the first of each also runs greedy + beam for peak RSS)`);
const coldLoad = await waitForIdle(1.0, idle);
const colds: Record<'ours' | 'ort', Cold[]> = { ours: [], ort: [] };
for (let i = 0; i < coldRuns; i++) {
  for (const who of (i % 2 === 0 ? ['ours', 'ort'] : ['ort', 'ours']) as ('ours' | 'ort')[]) {
    await waitForIdle(1.0, quick ? 0 : 3000);
    const r = await runPart<Cold>(['cold', who, ...(colds[who].length === 0 ? ['--full-run'] : [])], []);
    colds[who].push(r);
    log(`  ${who}: import -> first token ${r.importToFirstTokenMs.toFixed(0)} ms (load ${r.loadMs.toFixed(0)}, first token ${r.firstTokenMs.toFixed(0)})`);
  }
}
const coldSum = (who: 'ours' | 'ort') => {
  const c = colds[who];
  return {
    importToFirstTokenMs: summarize(c.map((x) => x.importToFirstTokenMs)),
    importMs: summarize(c.map((x) => x.importMs)),
    loadMs: summarize(c.map((x) => x.loadMs)),
    firstTokenMs: summarize(c.map((x) => x.firstTokenMs)),
    rssFirstMiB: summarize(c.map((x) => x.rssFirstMiB)),
    rssFullMiB: c[0].rssFullMiB,
  };
};
const cold = { runs: coldRuns, load: coldLoad, ours: coldSum('ours'), ort: coldSum('ort') };

const bundle = bundleSizes(log);

const cpuModel = (() => { try { return /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '?'; } catch { return '?'; } })();
const machine = { cpu: cpuModel, cores: cpus().length, node: process.version, loadAtEnd: loadAverage(), wallSeconds: (Date.now() - t0) / 1000 };

// --- output -------------------------------------------------------------------------------------------

if (json) {
  console.log(JSON.stringify({
    model: { family: 'marian', d_model: meta.d_model, layers: meta.layers, heads: meta.heads, ffn: 2048, vocab: meta.vocab, seed: meta.seed, srcLen: meta.input_ids.length },
    onnxruntimeWeb: { version: bundle.ortVersion, backend: 'wasm', numThreads: threads, simd: true, graphOptimizationLevel: 'all' },
    machine, quick, noisyRule: { othersCores: NOISY_OTHERS, loadAverage: NOISY_LOAD },
    check, decode, gemm, cold, bundle: bundle.rows.map(({ files, ...r }) => ({ ...r, files })),
    tokensPerSecondCounts: 'output tokens of one sentence (64) / wall time of the whole generate call (encoder, setup and 64 steps)',
  }, null, 1));
  process.exit(0);
}

const f = (x: number, dp = 1) => (Number.isFinite(x) ? x.toFixed(dp) : String(x));
const cell = (s: Sample, dp = 1) => `${f(s.median, dp)} [${f(s.p10, dp)}..${f(s.p90, dp)}]`;
const noiseCell = (n: Noise | undefined) => n ? `${isNoisy(n) ? '! ' : '  '}load ${n.load ?? '?'}${n.others === null ? '' : `, others ${n.others.toFixed(2)}`}` : '';
const W = [40, 26, 26, 9, 7];
const lines: string[] = [];
const line = (label: string, ours: string, them: string, ratio: string, better: string, noise = '') =>
  lines.push(`${label.padEnd(W[0])}${ours.padStart(W[1])}${them.padStart(W[2])}${ratio.padStart(W[3])}${better.padStart(W[4])}  ${noise}`);
/** lowerIsBetter: ms, MiB, bytes; otherwise throughput */
const cmp = (label: string, o: Sample, t: Sample, lowerIsBetter: boolean, dp = 1, noise?: Noise) => {
  const r = o.median / t.median;
  const better = lowerIsBetter ? (r < 1 ? 'us' : 'them') : (r > 1 ? 'us' : 'them');
  line(label, cell(o, dp), cell(t, dp), f(r, 2), better, noiseCell(noise));
};
const one = (x: number): Sample => ({ median: x, p10: x, p90: x, n: 1 });
const sep = (title: string) => lines.push(`-- ${title} `.padEnd(W.reduce((a, b) => a + b, 0) + 36, '-'));

const c = check;
lines.push(`wasm-seq2seq${args.includes('--int8') ? ' (int8 weights)' : ''}${simdNote} vs onnxruntime-web ${bundle.ortVersion}${ortInt8 ? ' (int8: MatMulInteger, dynamic quantization of the same graphs)' : ''} (wasm backend, numThreads ${threads}, SIMD, graphOptimizationLevel all)${threads > 1 ? `; ours on ${threads} threads` : ''}`);
lines.push(`model: Marian d_model ${meta.d_model}, ${meta.layers}+${meta.layers} layers, ${meta.heads} heads, FFN 2048, vocab ${meta.vocab}, tied, swish (random weights, seed ${meta.seed});`);
lines.push(`input: ${meta.input_ids.length} source tokens, batch 1; every decode runs exactly 64 steps (no eos)`);
lines.push(`machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; 128-bit SIMD multiply-add probe ${f(gemm.peakGflops)} GFLOP/s (1 thread, bench/kernels.ts)`);
lines.push(`check (before timing): max |logit diff| over the first 3 greedy steps: us-ORT ${d.oursVsOrt.toExponential(1)}, us-torch ${d.oursVsTorch.toExponential(1)}, ORT-torch ${d.ortVsTorch.toExponential(1)} (tolerance ${f(c.tolerance, 3)}, logit std ${f(c.logitsScale.std, 2)}) OK;`);
lines.push(`  64 steps each (greedy and beam, both runtimes); greedy tokens us = ORT: ${c.greedyTokensEqual.oursVsOrt}, = torch (steps 1-63): ${c.greedyTokensEqual.oursVsTorchFirst63}; 4-beam tokens us = ORT: ${c.beamTokensEqual}`);
lines.push('');
line('', 'wasm-seq2seq', 'onnxruntime-web', 'us/them', 'better', 'noise (! = noisy)');
line('', 'median [p10..p90]', 'median [p10..p90]', '', '', '');
const o = decode.ours, t = decode.ort, n = decode.noise;
sep(`decode (${decode.runs.greedy} greedy / ${decode.runs.beam} beam runs per runtime after a warm-up, interleaved)`);
cmp(`encoder, ${decode.srcLen} tokens (ms)`, o.encoderMs, t.encoderMs, true, 1, n.encoder);
cmp('greedy: ms/step', o.greedy.loopMsPerStep, t.greedy.loopMsPerStep, true, 2, n.greedy);
cmp('  in decoder step()/run() (ms/step)', o.greedy.stepMsPerStep, t.greedy.stepMsPerStep, true, 2);
cmp('greedy: tokens/s (end to end)', o.greedy.tokensPerSec, t.greedy.tokensPerSec, false, 1);
cmp('4-beam: ms/step', o.beam.loopMsPerStep, t.beam.loopMsPerStep, true, 2, n.beam);
cmp('  in decoder step()/run() (ms/step)', o.beam.stepMsPerStep, t.beam.stepMsPerStep, true, 2);
cmp('4-beam: tokens/s (end to end)', o.beam.tokensPerSec, t.beam.tokensPerSec, false, 1);
sep(`kernels: GFLOP/s (ours: linear_f32 called directly, 1 thread; ORT: session.run of one MatMul, numThreads ${threads}, run floor ${f(gemm.ortRunOverheadMs.median, 3)} ms)`);
for (const r of gemm.rows) {
  cmp(`${r.m}x${r.k}x${r.n} (${r.kernel} vs MatMul)`, r.ours.gflops, r.ort.gflops, false, 1, r.noise);
}
sep(`cold start: fresh node process, median of ${cold.runs} (model files in the OS page cache)`);
cmp('import -> first token (ms)', cold.ours.importToFirstTokenMs, cold.ort.importToFirstTokenMs, true, 0, { load: cold.load, others: null });
cmp('  import (ms)', cold.ours.importMs, cold.ort.importMs, true, 0);
cmp('  load: wasm compile + weights (ms)', cold.ours.loadMs, cold.ort.loadMs, true, 0);
cmp('  first token: encode + step 1 (ms)', cold.ours.firstTokenMs, cold.ort.firstTokenMs, true, 0);
sep('memory: peak RSS of the child process (MiB)');
cmp('at first token', cold.ours.rssFirstMiB, cold.ort.rssFirstMiB, true, 0);
if (cold.ours.rssFullMiB !== null && cold.ort.rssFullMiB !== null) cmp('after greedy + 4-beam, 64 steps', one(cold.ours.rssFullMiB), one(cold.ort.rssFullMiB), true, 0);
sep('download: gzip -9 per file (KiB)');
const kib = (b: number) => b / 1024;
const ourRows = bundle.rows.filter((r) => r.name === 'wasm-seq2seq'), ours = ourRows[0];
for (const r of bundle.rows.filter((x) => x.name !== 'wasm-seq2seq')) {
  line(`${r.name}`.slice(0, W[0]), f(kib(ours.gz), 0), f(kib(r.gz), 0), f(ours.gz / r.gz, 3), ours.gz < r.gz ? 'us' : 'them', r.what);
}
for (const o of ourRows) {
  const wasm = o.files.filter((x) => x.file.endsWith('.wasm')).reduce((a, x) => a + x.gz, 0);
  lines.push(`  wasm-seq2seq${o === ours ? '' : ' (also)'} = ${o.what}: ${f(kib(o.gz - wasm), 0)} KiB JS (${o.files.length - 1} files) + ${f(kib(wasm), 0)} KiB wasm gz, ${f(kib(o.raw), 0)} KiB raw`);
}
for (const r of bundle.rows.filter((x) => x.note)) lines.push(`  note: ${r.note}`);
lines.push('');
lines.push('ms/step: from the first decoder step to the end of the 64th, / 64 (search, cache reorder and JS<->wasm copies');
lines.push('  included; encoder and cross-attention K/V setup not). tokens/s: 64 output tokens of the one sentence / wall');
lines.push('  time of the whole generate call (encoder + setup + 64 steps); 4-beam counts the returned sentence, not 4 beams.');
lines.push(`ratio us/them < 1 is better for ms, MiB, KiB; > 1 for tokens/s and GFLOP/s. noisy (!): other processes used >= ${NOISY_OTHERS}`);
lines.push(`  core while the row ran, or the 1-min load average before it was >= ${NOISY_LOAD} (the cores here). Total ${f(machine.wallSeconds, 0)} s.`);
console.log(lines.join('\n'));

// Serving: the same model's throughput with concurrent requests (continuous batching) and their time to first
// token, ours only (onnxruntime-web has no batching of separate requests); bench/serve.ts, its own process.
if (!args.includes('--no-serve')) {
  const serveArgs = ['--expose-gc', ...(relaxed && Number(process.versions.node.split('.')[0]) < 22 ? ['--experimental-wasm-relaxed-simd'] : []),
    join(ROOT, 'dist', 'bench', 'serve.js'), ...(quick ? ['--quick'] : []), ...(relaxed ? ['--relaxed-simd'] : [])];
  await new Promise<void>((res, rej) => spawn(process.execPath, serveArgs, { stdio: 'inherit' }).on('exit', (code) => (code === 0 ? res() : rej(new Error(`bench/serve.js exited with ${code}`)))));
}
