/*
 * timing.h - the clock and the sort the step benchmarks share.
 */
#ifndef DESCENT_BENCH_TIMING_H
#define DESCENT_BENCH_TIMING_H

#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* qsort's comparison of doubles, ascending. */
static inline int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

#endif /* DESCENT_BENCH_TIMING_H */
