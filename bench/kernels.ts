// Kernel throughput: GFLOP/s of our packed GEMM/GEMV per shape, single thread, beside a multiply-add probe (12
// dependent chains; in the baseline build a yardstick, not a ceiling: see assembly/probe.ts); then the int8-weight kernels (GOP/s). A benchmark, not a test. `--json` prints the same figures as one JSON object.
//   node [--experimental-wasm-relaxed-simd] dist/bench/kernels.js [--json] [--samples N] [--simd auto|baseline|relaxed]
// (--simd: which kernel build; 'relaxed' needs the V8 flag on Node 20, default 'auto' = relaxed where the engine has it)
import { loadKernels, resolveSimd, type SimdLevel } from '../bindings/backends/wasm/kernels.js';
import { Heap } from '../bindings/backends/wasm/heap.js';
import { testKernelsUrl, type TestKernels } from '../tools/test_kernels.js';
import { timeIt, loadAverage, waitForIdle, type Sample } from './stats.js';
import { probeGflops } from './probe.js';

export const GEMM_SHAPES: [number, number, number][] = [
  [1, 512, 512], [1, 512, 2048], [1, 512, 58101], [64, 512, 2048], [128, 512, 512], [512, 512, 512],
];

const args = process.argv.slice(2);
const json = args.includes('--json');
const samples = Number(args[args.indexOf('--samples') + 1]) || 15;

const simd = resolveSimd((args.includes('--simd') ? args[args.indexOf('--simd') + 1] : 'auto') as SimdLevel);
// the test build: the library's kernels plus the probe
const k = (await loadKernels(testKernelsUrl(simd))) as TestKernels;
const heap = new Heap(k);

const probe = probeGflops(k, samples);

/** Random A [m, k] and W [n, k] (unpacked) and room for C [m, n] in the heap. */
function operands(m: number, kk: number, n: number): { a: number; w: number; c: number } {
  const a = heap.alloc(m * kk * 4), w = heap.alloc(n * kk * 4), c = heap.alloc(m * n * 4);
  const f = heap.f32();
  for (let i = 0; i < m * kk; i++) f[(a >>> 2) + i] = Math.random() - 0.5;
  for (let i = 0; i < n * kk; i++) f[(w >>> 2) + i] = Math.random() - 0.5;
  return { a, w, c };
}

interface Row { m: number; k: number; n: number; kernel: string; ms: Sample; gflops: number; gflopsP10: number; gflopsP90: number; ofPeak: number /* of the probe (JSON key kept) */; load: number | null }
const rows: Row[] = [];
for (const [m, kk, n] of GEMM_SHAPES) {
  const load = await waitForIdle(1.0, 10_000);
  const mark = heap.mark();
  const { a, w, c } = operands(m, kk, n);
  const packed = heap.alloc(k.packed_size_f32(n, kk) * 4);
  k.pack_f32_n8(w, 0, n, kk, packed);
  const kernel = m === 1 ? 'gemv_f32_1x24' : 'gemm_f32_4x8';
  const ms = timeIt(() => k.linear_f32(a, kk, packed, c, n, m, kk, n, 0), { samples, minMs: 40 });
  const flop = 2 * m * kk * n;
  const g = (t: number) => flop / (t * 1e6);
  rows.push({ m, k: kk, n, kernel, ms, gflops: g(ms.median), gflopsP10: g(ms.p90), gflopsP90: g(ms.p10), ofPeak: g(ms.median) / probe, load });
  heap.release(mark);
}

// int8 weights (linear_i8: activations quantised to int16 per call, integer dot products): multiply-adds per
// second as GOP/s (2 per multiply-add, like GFLOP/s), for the shapes a Marian-size model runs with int8.
export const INT8_SHAPES: [number, number, number][] = [[1, 512, 2048], [4, 512, 2048], [4, 512, 58101], [32, 512, 2048]];
interface Int8Row { m: number; k: number; n: number; kernel: string; ms: Sample; gops: number; gopsP10: number; gopsP90: number; load: number | null }
const int8Rows: Int8Row[] = [];
for (const [m, kk, n] of INT8_SHAPES) {
  const load = await waitForIdle(1.0, 10_000);
  const mark = heap.mark();
  const { a, w, c } = operands(m, kk, n);
  const packed = heap.alloc(k.packed_size_i8(n, kk));
  k.quantize_pack_i8_n8(w, 0, n, kk, packed);
  const scratch = heap.alloc(8 * (kk + 2) + 160);
  const kernel = m === 1 ? 'gemv_i8_dot_1x8' : 'gemm_i8_dot_4x8';
  const ms = timeIt(() => k.linear_i8(a, kk, packed, c, n, m, kk, n, 0, scratch), { samples, minMs: 40 });
  const g = (t: number) => (2 * m * kk * n) / (t * 1e6);
  int8Rows.push({ m, k: kk, n, kernel, ms, gops: g(ms.median), gopsP10: g(ms.p90), gopsP90: g(ms.p10), load });
  heap.release(mark);
}

if (json) {
  console.log(JSON.stringify({ peakGflops: probe, simd, threads: 1, rows, int8: int8Rows }, null, 1));
} else {
  console.log(`${simd} kernels; 128-bit SIMD probe (12 dependent ${simd === "relaxed" ? "fused multiply-add" : "mul+add"} chains, 1 thread): ${probe.toFixed(1)} GFLOP/s   load avg ${loadAverage()}`);
  console.log('   M     K      N  kernel          ms (median)   GFLOP/s  [p10..p90]     % probe');
  for (const r of rows) {
    console.log(`${String(r.m).padStart(4)} ${String(r.k).padStart(5)} ${String(r.n).padStart(6)}  ${r.kernel.padEnd(14)} ${r.ms.median.toFixed(4).padStart(11)}  ${r.gflops.toFixed(1).padStart(8)}  [${r.gflopsP10.toFixed(1)}..${r.gflopsP90.toFixed(1)}]  ${(100 * r.ofPeak).toFixed(0).padStart(6)}%${r.load !== null && r.load >= 1 ? `  (load ${r.load})` : ''}`);
  }
  console.log('int8 weights (linear_i8):');
  console.log('   M     K      N  kernel           ms (median)    GOP/s  [p10..p90]');
  for (const r of int8Rows) {
    console.log(`${String(r.m).padStart(4)} ${String(r.k).padStart(5)} ${String(r.n).padStart(6)}  ${r.kernel.padEnd(15)} ${r.ms.median.toFixed(4).padStart(11)}  ${r.gops.toFixed(1).padStart(8)}  [${r.gopsP10.toFixed(1)}..${r.gopsP90.toFixed(1)}]${r.load !== null && r.load >= 1 ? `  (load ${r.load})` : ''}`);
  }
}
