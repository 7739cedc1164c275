/*
 * sgemm_dnnl.h - oneDNN's float GEMM (dnnl_sgemm), for the products of a
 * training step it runs faster than OpenBLAS and descent's own kernel;
 * gemm.c says which, with the measurements (bench/gemm_libs.sh).
 */
#ifndef DESCENT_SGEMM_DNNL_H
#define DESCENT_SGEMM_DNNL_H

#include <stddef.h>

/* 1 (the default): gemm.c hands oneDNN the products it wins; tests and
   benchmarks clear it to run the others on the same calls. Not to be
   changed while another thread multiplies. */
extern int descent_sgemm_dnnl_enabled;

/* 1 when sgemm_dnnl may be called: the library was built with oneDNN (its
   OpenMP build), the float build, descent_sgemm_dnnl_enabled, a kernel path of AVX2 or wider
   (the portable path never uses oneDNN), and, on the avx2 path of a CPU
   with AVX-512, oneDNN held to AVX2 by descent_cpu_setup (without it oneDNN
   would run AVX-512 code on a path forced to AVX2; a program that never
   calls descent_cpu_setup then gets OpenBLAS's products there, and other
   bits than the descent program). */
int sgemm_dnnl_available(void);

/* Generates oneDNN's GEMM kernels now: its first product in a process
   generates all of them (15-18 ms on an AMD Zen 3, 36 on a Zen 4 held to
   AVX2), and a network whose products oneDNN will take has that done when
   it is created (the dense layer's prepare, descent_gemm_dense_prepare),
   instead of in its first training step. One 8 x 8 x 8 product on one
   thread, once per process; nothing where sgemm_dnnl_available says no
   (then a later call tries again) or inside a parallel region. */
void sgemm_dnnl_prepare(void);

/* 1 once sgemm_dnnl_prepare has run its product in this process (for the
   tests). */
int sgemm_dnnl_prepared(void);

/* C = alpha op(A) op(B) + beta C, row-major (op(X) = X^T when trans_x),
   on exactly `threads` OpenMP threads (the caller's setting is restored
   after; dynamic teams, omp_set_dynamic, are turned off for the call and
   back on after). Declines inside a parallel region (active or not) or
   under a thread limit below `threads`, where oneDNN would split the work
   by a smaller team. For a given shape and thread
   count its bits do not change from call to call. Returns 0, or -1 when
   it declined or oneDNN failed: C is then as it was (restored from a copy
   where beta is not 0), for the caller to compute the product another way. */
int sgemm_dnnl(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
               size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
               int threads);

#endif /* DESCENT_SGEMM_DNNL_H */
