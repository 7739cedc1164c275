/*
 * peak_flops.c - measure the fp32 FMA peak of this machine.
 *
 * Build: cc -O2 -march=native -fopenmp bench/peak_flops.c -o peak_flops
 * Run:   ./peak_flops [THREADS] [SECONDS]
 *
 * Each thread runs NACC independent chains of vector FMAs (acc = acc*m + a)
 * on 512-bit vectors when the compiler targets AVX-512, otherwise on 256-bit
 * (AVX2) vectors. NACC independent accumulators cover the FMA latency
 * (4 cycles) times the number of FMA ports (2), with margin. The chains
 * converge to a finite fixed point, so no denormals or infinities appear.
 *
 * Output (one line per measurement, machine-readable):
 *   peak_flops threads=T vector_bits=B gflops=G
 * First for 1 thread, then for THREADS threads (default: all processors)
 * if THREADS > 1. Each figure is the best of a few runs of about SECONDS
 * (default 0.5) each.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__AVX512F__)
#define VEC_FLOATS 16
#elif defined(__AVX__) || defined(__AVX2__)
#define VEC_FLOATS 8
#else
#define VEC_FLOATS 4
#endif

typedef float vec __attribute__((vector_size(VEC_FLOATS * sizeof(float))));

#ifndef NACC
#define NACC 12 /* independent accumulators (override with -DNACC=n) */
#endif
#define INNER 1000 /* FMA rounds per inner loop, per accumulator */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* volatile so the compiler cannot constant-fold the chains. */
static volatile float g_mul = 0.9999999f;
static volatile float g_add = 1e-7f;
static volatile float g_sink;

/* Runs outer*INNER rounds of NACC vector FMAs; returns a checksum. */
static float fma_kernel(long outer, float seed) {
  vec m, a, acc[NACC];
  for (int l = 0; l < VEC_FLOATS; l++) {
    m[l] = g_mul;
    a[l] = g_add;
  }
  for (int i = 0; i < NACC; i++)
    for (int l = 0; l < VEC_FLOATS; l++) acc[i][l] = seed + 0.001f * (float)(i * VEC_FLOATS + l);

  for (long o = 0; o < outer; o++) {
    for (int k = 0; k < INNER; k++) {
      /* Fully unrolled by GCC at -O2 since NACC is a constant;
       * a*b+c is contracted into one FMA (-ffp-contract=fast is
       * GCC's default for GNU C). */
#pragma GCC unroll 16
      for (int i = 0; i < NACC; i++) acc[i] = acc[i] * m + a;
    }
    /* Keep the accumulators in registers but opaque to the optimizer. */
    __asm__ volatile("" : : : "memory");
  }

  float s = 0.0f;
  for (int i = 0; i < NACC; i++)
    for (int l = 0; l < VEC_FLOATS; l++) s += acc[i][l];
  return s;
}

static double flops_per_outer(void) {
  return 2.0 * VEC_FLOATS * NACC * INNER;
}

/* Runs the kernel on `threads` threads for `outer` outer iterations each,
 * returns wall seconds. */
static double run(int threads, long outer) {
  double t0 = now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
  {
    float s = fma_kernel(outer, 1.0f + (float)omp_get_thread_num());
#pragma omp critical
    g_sink += s;
  }
#else
  (void)threads;
  g_sink += fma_kernel(outer, 1.0f);
#endif
  return now() - t0;
}

static double measure(int threads, double seconds) {
  /* Calibrate on one thread: grow until a run takes >= 50 ms. */
  long outer = 16;
  double t;
  for (;;) {
    t = run(1, outer);
    if (t >= 0.05) break;
    outer *= 2;
  }
  outer = (long)((double)outer * seconds / t) + 1;

  double best = 0.0;
  for (int rep = 0; rep < 3; rep++) {
    double dt = run(threads, outer);
    double gf = flops_per_outer() * (double)outer * threads / dt * 1e-9;
    if (gf > best) best = gf;
  }
  return best;
}

int main(int argc, char **argv) {
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_num_procs();
#endif
  double seconds = 0.5;
  if (argc > 1) threads = atoi(argv[1]);
  if (argc > 2) seconds = atof(argv[2]);
  if (threads < 1 || seconds <= 0.0) {
    fprintf(stderr, "usage: %s [THREADS] [SECONDS]\n", argv[0]);
    return 2;
  }
#ifndef _OPENMP
  if (threads > 1) {
    fprintf(stderr, "peak_flops: built without OpenMP, using 1 thread\n");
    threads = 1;
  }
#endif

  printf("peak_flops threads=1 vector_bits=%d gflops=%.1f\n", VEC_FLOATS * 32, measure(1, seconds));
  if (threads > 1)
    printf("peak_flops threads=%d vector_bits=%d gflops=%.1f\n", threads, VEC_FLOATS * 32,
           measure(threads, seconds));
  return 0;
}
