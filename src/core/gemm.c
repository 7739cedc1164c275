/*
 * gemm.c - the one place that calls the BLAS (or, for float products on
 * CPUs with AVX-512, the kernel of sgemm_avx512.c), and the naive kernel it
 * is tested against.
 *
 * Keeping every matrix product behind descent_gemm lets another BLAS (BLIS,
 * MKL) be swapped in and measured by changing this file alone.
 */
#include "internal.h"
#include "sgemm_avx512.h"
#include "sgemm_bf16.h"

#include <cblas.h>
#include <omp.h>

/* blas_select.c's constructor moves OpenBLAS to the kernels this CPU can run,
 * before main. It sits in an object file of its own, which a static link
 * drops from any program that names none of its symbols (the test programs
 * then ran on OpenBLAS's generic SSE3 kernels, 6x slower, and with other
 * rounding). Every program that multiplies matrices links this file, and
 * this reference keeps the constructor with it. */
__attribute__((used)) static const char *(*const keep_blas_select)(void) =
    descent_blas_detected_core;

#ifndef DESCENT_DOUBLE
/* Whether sgemm_avx512.c's kernel takes this product rather than OpenBLAS.
   Measured on a 2-core Xeon (AVX-512, Intel model 207), best of 50 calls,
   batch 128, 1 thread, OpenBLAS 0.3.21 -> kernel:
     MLP forward x W^T (128 x 1024 x 784 | 1024), beta 1:   1.53 -> 1.44 ms, 2.09 -> 1.85 ms
     weight gradient dy^T x (1024 x 784 | 1024 x 128):     1.40 -> 1.34 ms, 1.88 -> 1.76 ms
     input gradient dy W (128 x 784 | 1024 x 1024):        1.45 -> 1.35 ms, 2.01 -> 1.78 ms
   (2 threads: 13-18% faster than OpenBLAS on all six). OpenBLAS loses
   time packing the whole of B before any arithmetic (W, 3.2 MB, comes from
   L3 at memory speed), and with beta = 0 clears C in a pass of its own; the
   kernel packs B a panel ahead of its use, and writes C without reading it.
   Below m n k = 2^20 OpenBLAS's small-matrix paths win (im2col products of
   the first convolution, 32 x 784 x 26: 1.2-1.4x slower with the kernel),
   since packing A costs as much as the arithmetic when n is small; above it
   the kernel was faster on 97 of 100 shapes tried, the others within 7%. */
static int use_kernel(int trans_a, size_t m, size_t n, size_t k, int threads) {
  if (!descent_sgemm_enabled || (double)m * (double)n * (double)k < 1048576.0 ||
      !sgemm_avx512_available())
    return 0;
  /* On AMD Zen 4 (512-bit operations in two halves) OpenBLAS's Haswell
     kernels (blas_select.c) beat the kernel by 3-9% on one thread for x W^T
     and dy W, best of 40-200 calls (128x1024x784: 2.00-2.04 against
     2.13-2.26 ms; 128x1024x1024: 2.65-2.78 against 2.97-3.02; dy W
     128x1024x1024: 2.57-2.69 against 2.72-2.84; the small MLP's 128x100x784:
     0.201 against 0.216), while the kernel keeps the weight gradient dy^T x
     (2.50-2.56 against 2.58-2.81 ms at 1024x1024x128). On two threads the
     kernel takes all: its threads never wait for each other within a
     product, and on a machine shared with other work OpenBLAS's took 2-5x
     longer (6.4-7.4 ms for the five products against 9.1-24.6). */
  if (threads == 1 && !trans_a && descent_cpu_splits_avx512()) return 0;
  return 1;
}
#endif

/* The threads a product runs on. Inside a parallel region (conv.c's
   examples) it is the calling thread alone. Below PARALLEL_MIN_MNK
   multiply-adds (under about 0.15 ms on one core at 117 GFLOP/s) one thread
   too: a second saves a few tens of microseconds there, less than a late
   partner costs at the end of the product. Measured on a 2-core AMD EPYC
   (Zen 4), the small MLP 784-100-10 (products of 10M multiply-adds) at 2
   threads, descent train samples/s over one epoch, 3 runs: 288-324k with
   this threshold against 187-221k with the products on one thread (2^25),
   and 188-230k at 1 thread. On a machine shared with other work every
   product and pass on two threads can wait a scheduler time slice for its
   partner (13-16 ms a step of the small MLP on OpenBLAS's threads): the
   OpenMP wait policy matters more there (OMP_WAIT_POLICY=PASSIVE gave
   141-158k samples/s against 11-19k). */
#define PARALLEL_MIN_MNK 8388608.0 /* 2^23 */

static int product_threads(size_t m, size_t n, size_t k) {
  if (omp_in_parallel()) return 1;
  int most = omp_get_max_threads();
  return most > 1 && (double)m * (double)n * (double)k < PARALLEL_MIN_MNK ? 1 : most;
}

/* OpenBLAS takes its thread count from the caller's OpenMP setting at each
   call (it follows omp_get_max_threads), not from an argument: a product
   asked to run on fewer threads runs with that setting lowered for the
   call, then put back. Inside a parallel region OpenBLAS runs
   single-threaded by itself. */
static int blas_threads_begin(int threads) {
  int caller = omp_get_max_threads();
  if (threads != caller) omp_set_num_threads(threads);
  return caller;
}

static void blas_threads_end(int threads, int caller) {
  if (threads != caller) omp_set_num_threads(caller);
}

void descent_gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, descent_real alpha,
                  const descent_real *a, size_t lda, const descent_real *b, size_t ldb,
                  descent_real beta, descent_real *c, size_t ldc) {
  if (m == 0 || n == 0) return;
  enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
  int threads = product_threads(m, n, k);
#ifdef DESCENT_DOUBLE
  int caller = blas_threads_begin(threads);
  cblas_dgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)lda, b,
              (blasint)ldb, beta, c, (blasint)ldc);
  blas_threads_end(threads, caller);
#else
  /* The kernel's result is the same whatever its thread count. */
  if (use_kernel(trans_a, m, n, k, threads) &&
      sgemm_avx512(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads) == 0)
    return;
  int caller = blas_threads_begin(threads);
  cblas_sgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)lda, b,
              (blasint)ldb, beta, c, (blasint)ldc);
  blas_threads_end(threads, caller);
#endif
}

void descent_gemm_precision(int precision, int round_c, int trans_a, int trans_b, size_t m,
                            size_t n, size_t k, descent_real alpha, const descent_real *a,
                            size_t lda, const descent_real *b, size_t ldb, descent_real beta,
                            descent_real *c, size_t ldc) {
#ifndef DESCENT_DOUBLE
  if (precision == DESCENT_PRECISION_BF16) {
    if (m == 0 || n == 0) return;
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (sgemm_bf16_available() && sgemm_bf16(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta,
                                             c, ldc, round_c, threads) == 0)
      return;
    /* Without packing buffers (or with the kernel unavailable, which
       descent_net_set_precision refuses), the reference computes the same
       product, up to the order of its sums, slowly: the precision stays. */
    sgemm_bf16_reference(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, round_c);
    return;
  }
#endif
  descent_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void descent_gemm_f64(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha,
                      const double *a, size_t lda, const double *b, size_t ldb, double beta,
                      double *c, size_t ldc) {
  if (m == 0 || n == 0) return;
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha, a,
              (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

void descent_gemm_reference(int trans_a, int trans_b, size_t m, size_t n, size_t k,
                            descent_real alpha, const descent_real *a, size_t lda,
                            const descent_real *b, size_t ldb, descent_real beta, descent_real *c,
                            size_t ldc) {
  for (size_t i = 0; i < m; i++) {
    for (size_t j = 0; j < n; j++) {
      double sum = 0.0;
      for (size_t p = 0; p < k; p++) {
        double av = trans_a ? a[p * lda + i] : a[i * lda + p];
        double bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        sum += av * bv;
      }
      /* BLAS semantics: with beta == 0, C is not read (it may hold NaN). */
      double old = beta == 0 ? 0.0 : (double)beta * c[i * ldc + j];
      c[i * ldc + j] = (descent_real)(alpha * sum + old);
    }
  }
}
