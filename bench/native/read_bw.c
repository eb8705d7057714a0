// How fast one core of this machine reads memory natively: sums a 119 MB f32 array (the Marian-size output
// projection, 58101 x 512, that a greedy decoding step's GEMV streams) with 256-bit loads, four accumulators.
// The ceiling for gemv_f32_1x24 at 1x512x58101 in bench/kernels.ts (bytes / time): no kernel reading every weight
// once can beat it. x86-64 with AVX2; a measurement tool, not part of the build or the tests:
//   cc -O2 -mavx2 bench/native/read_bw.c -o /tmp/read_bw && /tmp/read_bw
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>

#include "timing.h"

enum { SAMPLES = 15 };

int main(void) {
  const size_t n = (size_t)58101 * 512;   // floats; a multiple of 32
  float *w = aligned_alloc(64, n * sizeof(float));
  for (size_t i = 0; i < n; i++) w[i] = (float)(i % 11) * 1e-3f;
  double gbs[SAMPLES], check = 0;
  for (int s = 0; s < SAMPLES; s++) {
    double t = now_ns();
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n; i += 32) {
      s0 = _mm256_add_ps(s0, _mm256_load_ps(w + i));
      s1 = _mm256_add_ps(s1, _mm256_load_ps(w + i + 8));
      s2 = _mm256_add_ps(s2, _mm256_load_ps(w + i + 16));
      s3 = _mm256_add_ps(s3, _mm256_load_ps(w + i + 24));
    }
    gbs[s] = n * sizeof(float) / (now_ns() - t);
    float o[8];
    _mm256_storeu_ps(o, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    check += o[0];
  }
  qsort(gbs, SAMPLES, sizeof(double), by_value);
  printf("native read, %zu MiB, 1 thread: %.1f GB/s median [%.1f..%.1f] (checksum %g)\n", n * sizeof(float) >> 20,
         gbs[SAMPLES / 2], gbs[SAMPLES / 10], gbs[SAMPLES - 1 - SAMPLES / 10], check);
  return 0;
}
