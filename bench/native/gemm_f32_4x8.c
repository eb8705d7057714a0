// What this CPU does with the f32 GEMM micro-kernel we ship, compiled natively instead of by V8: the same 4x8
// register tile over the same 8-column packed panels (assembly/gemm.ts: tile_4x8), in four forms, timed
// interleaved in one process (this VM's speed drifts by 2x within minutes; paired ratios cancel that).
//   a) multiply then add, weights loaded as floats (vmovaps): the baseline-SIMD kernel as a C compiler emits it
//   b) the same, weights loaded with vmovdqu, the integer-domain load V8 emits for every v128.load
//   c) b) plus the stack-limit compare V8 puts in every loop iteration
//   d) fused multiply-add: what the relaxed-SIMD build (f32x4.relaxed_madd) gives
// x86-64 with AVX2 + FMA only; a measurement tool, not part of the build or the tests:
//   cc -O2 -mavx2 -mfma -ffp-contract=off bench/native/gemm_f32_4x8.c -o /tmp/gemm_native && /tmp/gemm_native
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>

#include "timing.h"

enum { M = 64, N = 2048, K = 512, SAMPLES = 31, REPS = 3 };

// 8 weights of panel row k: two float loads, or two integer-domain loads as V8 emits them.
#define LOAD_PS(w, k, w0, w1) (w0 = _mm_load_ps((w) + (k) * 8), w1 = _mm_load_ps((w) + (k) * 8 + 4))
#define LOAD_DQU(w, k, w0, w1)                                                          \
  (__extension__({                                                                       \
    __asm__("vmovdqu %1, %0" : "=x"(w0) : "m"(*(const __m128 *)((w) + (k) * 8)));      \
    __asm__("vmovdqu %1, %0" : "=x"(w1) : "m"(*(const __m128 *)((w) + (k) * 8 + 4)));  \
  }))
#define MUL_ADD(acc, x, w) (acc = _mm_add_ps(acc, _mm_mul_ps(x, w)))
#define FMA(acc, x, w) (acc = _mm_fmadd_ps(x, w, acc))

// C[M, N] = A[M, K] · W, W packed as N/8 panels of [K][8]; one 4x8 tile per (row block, panel).
#define GEMM(name, LOAD, MADD, STACK_CHECK)                                                      \
  static void name(const float *A, const float *W, float *C, const volatile long *limit) {       \
    for (int p = 0; p < N / 8; p++) {                                                            \
      const float *w = W + (size_t)p * K * 8;                                                    \
      for (int i = 0; i < M; i += 4) {                                                           \
        const float *a0 = A + i * K, *a1 = a0 + K, *a2 = a1 + K, *a3 = a2 + K;                   \
        __m128 c00 = _mm_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;                          \
        __m128 c20 = c00, c21 = c00, c30 = c00, c31 = c00, w0, w1, x;                            \
        for (int k = 0; k < K; k++) {                                                            \
          LOAD(w, k, w0, w1);                                                                    \
          x = _mm_broadcast_ss(a0 + k); MADD(c00, x, w0); MADD(c01, x, w1);                      \
          x = _mm_broadcast_ss(a1 + k); MADD(c10, x, w0); MADD(c11, x, w1);                      \
          x = _mm_broadcast_ss(a2 + k); MADD(c20, x, w0); MADD(c21, x, w1);                      \
          x = _mm_broadcast_ss(a3 + k); MADD(c30, x, w0); MADD(c31, x, w1);                      \
          if (STACK_CHECK && (long)__builtin_frame_address(0) <= *limit) return;                 \
        }                                                                                        \
        float *c = C + i * N + p * 8;                                                            \
        _mm_storeu_ps(c, c00); _mm_storeu_ps(c + 4, c01);                                        \
        _mm_storeu_ps(c + N, c10); _mm_storeu_ps(c + N + 4, c11);                                \
        _mm_storeu_ps(c + 2 * N, c20); _mm_storeu_ps(c + 2 * N + 4, c21);                        \
        _mm_storeu_ps(c + 3 * N, c30); _mm_storeu_ps(c + 3 * N + 4, c31);                        \
      }                                                                                          \
    }                                                                                            \
  }

GEMM(gemm_mul_add_ps, LOAD_PS, MUL_ADD, 0)
GEMM(gemm_mul_add_dqu, LOAD_DQU, MUL_ADD, 0)
GEMM(gemm_mul_add_dqu_check, LOAD_DQU, MUL_ADD, 1)
GEMM(gemm_fma_ps, LOAD_PS, FMA, 0)

int main(void) {
  float *A = aligned_alloc(64, sizeof(float) * M * K), *W = aligned_alloc(64, sizeof(float) * N * K);
  float *C = aligned_alloc(64, sizeof(float) * M * N);
  for (int i = 0; i < M * K; i++) A[i] = (float)(i % 7) * 0.1f;
  for (int i = 0; i < N * K; i++) W[i] = (float)(i % 5) * 0.1f;
  static const volatile long limit = 0;
  void (*kernels[])(const float *, const float *, float *, const volatile long *) = {
      gemm_mul_add_ps, gemm_mul_add_dqu, gemm_mul_add_dqu_check, gemm_fma_ps};
  const char *names[] = {"a) mul+add, float loads", "b) mul+add, vmovdqu loads (V8)", "c) b + stack check (V8)",
                         "d) FMA, float loads (relaxed)"};
  enum { KINDS = sizeof(kernels) / sizeof(kernels[0]) };
  static double gflops[KINDS][SAMPLES], vs_a[KINDS][SAMPLES];
  for (int s = 0; s < SAMPLES; s++) {
    for (int v = 0; v < KINDS; v++) {
      double t = now_ns();
      for (int r = 0; r < REPS; r++) kernels[v](A, W, C, &limit);
      gflops[v][s] = 2.0 * M * N * K * REPS / (now_ns() - t);
    }
    for (int v = 0; v < KINDS; v++) vs_a[v][s] = gflops[v][s] / gflops[0][s];
  }
  printf("native 4x8 f32 GEMM %dx%dx%d, %d interleaved samples: GFLOP/s median [p10..p90], median of paired ratios to a)\n",
         M, K, N, SAMPLES);
  for (int v = 0; v < KINDS; v++) {
    qsort(gflops[v], SAMPLES, sizeof(double), by_value);
    qsort(vs_a[v], SAMPLES, sizeof(double), by_value);
    printf("  %-32s %5.1f [%5.1f..%5.1f]   %.2fx\n", names[v], gflops[v][SAMPLES / 2], gflops[v][SAMPLES / 10],
           gflops[v][SAMPLES - 1 - SAMPLES / 10], vs_a[v][SAMPLES / 2]);
  }
  printf("checksum %g\n", (double)C[5] + C[M * N - 1]);
  return 0;
}
