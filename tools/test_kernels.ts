// The test build of the kernels (assembly/test.ts → build/kernels-test*.wasm): what it exports beyond the library's
// kernels, and where it is. Used by the kernel tests (references) and the benchmarks (the multiply-add probe).
import type { KernelExports } from '../bindings/backends/wasm/kernels.js';

type P = number;
/** What the test build (assembly/test.ts: build/kernels-test*.wasm) exports beyond the library's kernels: each fast
 *  kernel's scalar reference, kernels only the tests call, and the benchmark's multiply-add probe. */
export type TestKernels = KernelExports & {
  gemm_f32_4x8(a: P, lda: number, packed: P, c: P, ldc: number, m: number, k: number, n: number, accumulate: number): void;
  gemv_f32_1x24(a: P, packed: P, c: P, k: number, n: number, accumulate: number): void;
  gemm_f32_ref(a: P, lda: number, w: P, bias: P, c: P, ldc: number, m: number, k: number, n: number, accumulate: number): void;
  gemv_i8_dot_1x8(xq: P, xs: P, packed: P, y: P, k: number, n: number, accumulate: number): void;
  gemm_i8_dot_4x8(xq: P, xs: P, m: number, packed: P, y: P, ldy: number, k: number, n: number, accumulate: number, partial: P): void;
  gemm_i8_ref(a: P, lda: number, packed: P, c: P, ldc: number, m: number, k: number, n: number, accumulate: number): void;
  topk_rows_f32_ref(x: P, rows: number, n: number, addend: P, k: number, outScore: P, outIndex: P): number;
  layer_norm_f32_ref(x: P, gamma: P, beta: P, y: P, rows: number, n: number, eps: number): void;
  rms_norm_f32_ref(x: P, weight: P, y: P, rows: number, n: number, eps: number): void;
  softmax_f32(x: P, rows: number, n: number, mask: P, maskStride: number): void;
  softmax_f32_ref(x: P, rows: number, n: number, mask: P, maskStride: number): void;
  add_f32(a: P, b: P, out: P, n: number): void;
  exp_f32(x: P, out: P, n: number): void;
  activation_f32_ref(x: P, out: P, n: number, kind: number): void;
  attention_f32_ref(q: P, qStride: number, k: P, v: P, kvStride: number, out: P, outStride: number, heads: number, hd: number,
    tq: number, tk: number, scale: number, keyMask: P, causalOffset: number, bias: P, scratch: P): void;
  simd_peak_probe(iters: number): number;
};

/** The test build of a kernel variant (build/, never copied to dist/ nor shipped), from tools/ or dist/tools/. */
export function testKernelsUrl(simd: 'baseline' | 'relaxed'): URL {
  const root = /\/dist\/tools\/[^/]*$/.test(import.meta.url) ? '../../' : '../';
  return new URL(`${root}build/kernels-test${simd === 'relaxed' ? '-relaxed' : ''}.wasm`, import.meta.url);
}
