// Shared by the native measurement tools here: a monotonic clock and a qsort comparator for medians.
#ifndef BENCH_NATIVE_TIMING_H
#define BENCH_NATIVE_TIMING_H
#include <time.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static int by_value(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return a < b ? -1 : a > b;
}
#endif
