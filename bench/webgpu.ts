// `npm run bench -- --webgpu`: our WebGPU backend beside our wasm backend on the bench's Marian-size model (the
// same model as the onnxruntime-web comparison), one process, runs interleaved. A benchmark, never part of `npm test`.
//   node dist/bench/webgpu.js [--json] [--quick] [--steps N]
// In Node the adapter comes from the npm `webgpu` package (Dawn): a real GPU needs its Vulkan driver; on a server
// without one, VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json gives SwiftShader, a CPU emulation
// whose times say nothing about GPUs (it checks that the table runs and that both backends agree).
// Rows: load (files to a ready model, weights uploaded), encoder, greedy and 4-beam decoding of `steps` forced
// steps (GPU: argmax / top-k on the GPU, only ids come back), and 4-beam with logits read back (what a
// logits processor such as bad_words_ids costs on the GPU path).
import { loadModel } from '../bindings/model/load.js';
import type { Seq2SeqModel } from '../bindings/model/model.js';
import { ensureModels, paths, readMeta } from './models.js';
import { forcedOptions } from './ours_marian.js';
import { summarize, type Sample } from './stats.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const quick = args.includes('--quick');
const stepsArg = args.indexOf('--steps');
const steps = stepsArg >= 0 ? Number(args[stepsArg + 1]) : quick ? 8 : 64;
if (!Number.isInteger(steps) || steps < 2) throw new Error(`--steps needs an integer >= 2, got ${args[stepsArg + 1]}`);
const reps = quick ? 2 : 5;
const log = (s: string) => process.stderr.write(`${s}\n`);

ensureModels(log);
const meta = readMeta();
const ids = meta.input_ids;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

log(`loading the Marian-size model (d_model ${meta.d_model}, vocab ${meta.vocab}) on WebGPU and wasm`);
const loadGpu = performance.now();
const gpu = await loadModel(paths.hf, { backend: 'webgpu', tokenizer: false });
const loadGpuMs = performance.now() - loadGpu;
const loadWasm = performance.now();
const wasm = await loadModel(paths.hf, { tokenizer: false });
const loadWasmMs = performance.now() - loadWasm;
log(`backend: ${gpu.backendNote}`);

// parity first: logits of three teacher-forced steps, and the tokens of every timed run
const dec = [meta.decoder_start_token_id, 5, 17];
const [lg, lw] = [await gpu.decoderLogits([ids], [dec]), await wasm.decoderLogits([ids], [dec])];
let logitsDiff = 0;
for (let i = 0; i < lg.data.length; i++) logitsDiff = Math.max(logitsDiff, Math.abs(lg.data[i] - lw.data[i]));

type Run = { name: string; fn: (m: Seq2SeqModel) => Promise<unknown>; perStep: boolean };
const runs: Run[] = [
  { name: 'encoder', fn: (m) => m.encode([ids]), perStep: false },
  { name: `greedy, ${steps} steps`, fn: (m) => m.generate([ids], forcedOptions(steps, 1)), perStep: true },
  { name: `4-beam, ${steps} steps`, fn: (m) => m.generate([ids], forcedOptions(steps, 4)), perStep: true },
  // a processor on the row: the GPU path reads the [4, V] logits back every step
  { name: `4-beam + bad words, ${steps} steps`, fn: (m) => m.generate([ids], { ...forcedOptions(steps, 4), badWordsIds: [[7]] }), perStep: true },
];
const rows: { name: string; gpu: Sample; wasm: Sample; perStep: boolean; tokensEqual: boolean | null }[] = [];
for (const r of runs) {
  log(`${r.name} (${reps} runs each, interleaved)`);
  const tg: number[] = [], tw: number[] = [];
  let tokensEqual: boolean | null = null;
  for (let i = 0; i < reps; i++) {
    let a: unknown, b: unknown;
    tg.push(await timed(async () => { a = await r.fn(gpu); }));
    tw.push(await timed(async () => { b = await r.fn(wasm); }));
    if (r.perStep) tokensEqual = (tokensEqual ?? true) && JSON.stringify((a as { sequences: number[][] }).sequences) === JSON.stringify((b as { sequences: number[][] }).sequences);
  }
  rows.push({ name: r.name, gpu: summarize(tg), wasm: summarize(tw), perStep: r.perStep, tokensEqual });
}
if (gpu.backend !== 'webgpu') throw new Error(`the WebGPU model fell back to wasm during the bench: ${gpu.backendNote}`);

if (json) {
  console.log(JSON.stringify({ adapter: gpu.backendNote, steps, reps, loadMs: { webgpu: loadGpuMs, wasm: loadWasmMs }, logitsDiff, rows }));
} else {
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x.toPrecision(3));
  console.log(`wasm-seq2seq WebGPU vs wasm: Marian d_model ${meta.d_model}, ${meta.layers}+${meta.layers} layers, vocab ${meta.vocab}, ${ids.length} source tokens`);
  console.log(`adapter: ${gpu.backendNote}`);
  console.log(`parity: logits of 3 teacher-forced steps within ${logitsDiff.toExponential(1)}; tokens equal in every timed run: ${rows.every((r) => r.tokensEqual !== false)}`);
  console.log(`${'row'.padEnd(34)}${'webgpu ms'.padStart(12)}${'wasm ms'.padStart(12)}${'webgpu ms/step'.padStart(16)}${'wasm ms/step'.padStart(14)}${'speedup'.padStart(9)}`);
  console.log(`${'load'.padEnd(34)}${f(loadGpuMs).padStart(12)}${f(loadWasmMs).padStart(12)}`);
  for (const r of rows) {
    const per = (s: Sample) => (r.perStep ? f(s.median / steps) : '');
    console.log(`${r.name.padEnd(34)}${f(r.gpu.median).padStart(12)}${f(r.wasm.median).padStart(12)}${per(r.gpu).padStart(16)}${per(r.wasm).padStart(14)}${(r.wasm.median / r.gpu.median).toFixed(2).padStart(8)}×`);
  }
  console.log('(medians; per-step = whole generate call / steps, encoder included)');
}
process.exit(0); // Dawn keeps the event loop alive
