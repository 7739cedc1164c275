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
#include "sgemm_dnnl.h"

#include <cblas.h>
#include <omp.h>

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
static int use_kernel(int trans_a, int trans_b, size_t m, size_t n, size_t k, int threads) {
  if (!descent_sgemm_enabled || (double)m * (double)n * (double)k < 1048576.0 ||
      !sgemm_avx512_available())
    return 0;
  /* On AMD Zen 4 (512-bit operations in two halves) OpenBLAS's Haswell
     kernels (blas_select.c) beat the kernel by 3-9% on one thread for x W^T
     and dy W, best of 40-200 calls (128x1024x784: 2.00-2.04 against
     2.13-2.26 ms; 128x1024x1024: 2.65-2.78 against 2.97-3.02; dy W
     128x1024x1024: 2.57-2.69 against 2.72-2.84; the small MLP's 128x100x784:
     0.201 against 0.216, and against 0.201 since the kernel runs it as its
     transpose, where the step still took 0.443 ms against 0.437 with
     OpenBLAS), while the kernel keeps the weight gradient dy^T x
     (2.50-2.56 against 2.58-2.81 ms at 1024x1024x128). With the kernel's
     deeper blocks on Zen 4 (sgemm_avx512_depth) x W^T of one block's
     depth is the kernel's or a draw (128x100x784 as its transpose 0.192
     against 0.202 ms, 128x256x784 0.475 against 0.488, 128x1024x784 1.93
     against 2.00, 128x1024x1024 2.66 against 2.63; medians of 3 runs of
     150 calls), and the kernel also runs the bias and ReLU that follow in
     its epilogue; deeper, OpenBLAS's (the CNN's 128x1024x3136, four
     blocks: 8.78 against 8.69 alone, 8.64 against 8.17 in the CNN's step);
     dy W is still OpenBLAS's (2.66 against 2.53 at 128x1024x1024, 8.96
     against 8.19 at 128x3136x1024). The step at one thread with x W^T on
     the kernel, median of 3 runs of 1,000 (the gather included): small
     MLP 0.483-0.493 -> 0.465-0.470 ms, the main job 1.418-1.446 ->
     1.348-1.373, the big MLP within the noise. So on one thread OpenBLAS
     keeps the products of two untransposed operands (dy W, a convolution's
     forward W cols) and x W^T deeper than a block. On two threads the
     kernel takes all: its threads never wait for each other within a
     product, and on a machine shared with other work OpenBLAS's took 2-5x
     longer (6.4-7.4 ms for the five products against 9.1-24.6). */
  if (threads == 1 && !trans_a && (!trans_b || k > sgemm_avx512_depth()) &&
      descent_cpu_splits_avx512())
    return 0;
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

/* A product the AVX-512 kernel takes on several threads is split from
   KERNEL_PARALLEL_MIN_MNK multiply-adds instead: the kernel's threads never
   wait for each other within a product, its bits do not depend on its
   thread count, and the fork costs a few microseconds. Measured on a 2-core AMD EPYC (Zen 4), 2
   threads, best of 300 calls: the main job's second layer (784-256-128-10, batch 128:
   128x128x256, 4.2M) took 78-80 us a product on one thread (OpenBLAS for
   x W^T and dy W, the kernel for dy^T x) and 44-47 us on the kernel's two;
   at 2^21 (128x128x128, 128x64x256) 39-45 us against 23-27; at 2^20, the
   output layer of the big MLP and of the CNN (1024 -> 10, batch 128: 1.3M),
   its forward and backward products together 0.13 -> 0.06 ms a step
   (cnn_step --layers, 2 threads). */
#define KERNEL_PARALLEL_MIN_MNK 1048576.0 /* 2^20 */

static int product_threads(size_t m, size_t n, size_t k) {
  if (omp_in_parallel()) return 1;
  int most = omp_get_max_threads();
  return most > 1 && (double)m * (double)n * (double)k < PARALLEL_MIN_MNK ? 1 : most;
}

#ifndef DESCENT_DOUBLE
/* product_threads for a float product, which the kernel may take: on a CPU
   where it splits products by its own threads, from the lower threshold.
   On Zen 4 this moves the products OpenBLAS keeps on one thread (dy W,
   x W^T deeper than a block: use_kernel) of that size from OpenBLAS's one
   thread to the kernel's two, with the kernel's rounding (a sum of the
   same products in another order, as for every larger product on two
   threads); elsewhere the bits stay: the kernel took them on one thread
   already, or OpenBLAS keeps them (the avx2 and portable paths, where a
   split into slabs would change the bits). */
static int float_product_threads(int trans_a, int trans_b, size_t m, size_t n, size_t k) {
  int threads = product_threads(m, n, k), most = omp_get_max_threads();
  if (threads == 1 && most > 1 && !omp_in_parallel() &&
      (double)m * (double)n * (double)k >= KERNEL_PARALLEL_MIN_MNK &&
      use_kernel(trans_a, trans_b, m, n, k, most))
    return most;
  return threads;
}
#endif

#ifndef DESCENT_DOUBLE
/* The threads oneDNN's GEMM (sgemm_dnnl.c) takes this product on, or 0
   when it does not take it: on the avx2 path only, for products of 2^20
   multiply-adds and more, on the caller's threads (one or more):
   - the weight gradients dy^T x, whatever their size;
   - every product below 2^23;
   - the forward products x W^T, on one thread those of layers of up to
     256 units (wider, OpenBLAS's are as fast or faster: 128x1024x1024
     3.14 against 3.54 ms), on two threads and more all of them;
   and not the input gradients dy W from 2^23 (oneDNN's kernels for two
   untransposed operands lose to OpenBLAS's on them: 128x1024x1024 5.8
   against 3.1 ms at one thread).

   Measured on a 2-core AMD EPYC Zen 3 (family 25 model 1: AVX2 and FMA,
   no AVX-512, the CPUs this path is for), OpenBLAS 0.3.21's Zen kernels
   against oneDNN 2.6.3 (bench/README.md, "An AVX2-only CPU", has each
   product on every library): the training step with its gather, steps
   with oneDNN as this rule gives it and steps on OpenBLAS alone taking
   turns in one process (bench/cnn_step.c --gather --bytes
   --alternate-dnnl; median ms of 150-1,500 steps each, 50 for the CNN),
   one thread: small MLP 784-100-10 0.609 -> 0.555, the main job's
   784-256-128-10 1.755 -> 1.666, big MLP 784-1024-1024-10 15.79 -> 15.18,
   fmnist_2c2d 129.8 -> 129.1 (every x W^T on oneDNN gave the same steps
   within 0.02 ms); two threads, against the rule of before (oneDNN for
   the products below 2^23 and x W^T of 256 units and more): 0.527 ->
   0.472, 1.046 -> 1.013, 8.21 -> 7.99, 95.5 -> 92.4. oneDNN's first
   product in a process costs 15-18 ms on this CPU (it generates its
   kernels then; 36 ms on a Zen 4 held to AVX2): a one-thread epoch of the
   small MLP (469 steps) repays it, and a network pays it when it is
   created (descent_gemm_dense_prepare), not in its first step. On that
   Zen 4 held to AVX2 (an AVX-512 CPU, whose users run the avx512 path)
   one-thread products had gained 0-2% on oneDNN.

   Not taken elsewhere: on the avx512 path oneDNN won the weight gradients
   of narrow layers by 3-22% on Zen 4 (the main job's step at two threads
   0.748 -> 0.725 ms) but lost the one-epoch small MLP's run by 10% to its
   first product's cost, and the kernel's bits do not depend on the thread
   count. Only dense layers' products: descent_gemm_dense takes them to
   oneDNN by this rule, and the dense layer asks it for its forward's
   bias (dense.c) and its kernels' preparation (descent_gemm_dense_prepare);
   descent_gemm_fused declines what it gives oneDNN. oneDNN's rounding is
   its own and depends on its thread count. Never inside a parallel
   region, active or not: conv.c's products run in one whatever the thread
   count (a region of one thread is inactive, and omp_in_parallel would
   say no). */
int descent_gemm_dnnl_threads(int trans_a, int trans_b, size_t m, size_t n, size_t k) {
  if (omp_get_level() > 0 || descent_isa_path() != DESCENT_ISA_AVX2 || !sgemm_dnnl_available())
    return 0;
  double mnk = (double)m * (double)n * (double)k;
  if (mnk < KERNEL_PARALLEL_MIN_MNK) return 0;
  int most = omp_get_max_threads();
  if (trans_a || mnk < PARALLEL_MIN_MNK) return most;
  return trans_b && (most > 1 || n <= 256) ? most : 0;
}
#else
/* The double build computes without oneDNN. */
int descent_gemm_dnnl_threads(int trans_a, int trans_b, size_t m, size_t n, size_t k) {
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k;
  return 0;
}
#endif

/* OpenBLAS is only ever asked for one thread, and descent splits a product
   among its own threads. The reason is OpenBLAS's process-wide thread
   count. Its OpenMP build (0.3.21, common_thread.h: num_cpu_avail) takes
   the caller's omp_get_max_threads() at each call that is large enough to
   thread (m n k above 262144), and when that differs from its own count
   (blas_cpu_number, what openblas_get_num_threads() returns) it sets its
   own to it (goto_set_num_threads): a product on 2 threads in a program
   that set OpenBLAS to 1 would leave OpenBLAS at 2 for the whole program,
   and two threads calling it with 1 and 2 at once would race on that
   count, which decides how OpenBLAS splits a product and so its rounding.
   Its multithreaded calls also queue behind each other (exec_blas holds
   one set of buffers per NUM_PARALLEL, 1 by default). Asked with
   omp_get_max_threads() == 1, or from inside a parallel region, it returns
   1 before touching the count: so each call below runs with the calling
   thread's setting lowered to 1 for its duration, and products for more
   threads run as slabs of C, one per thread, inside descent's own parallel
   region. OpenBLAS's count is then never written by descent, and a
   product's bits depend on its own thread count alone (the slabs depend on
   nothing else), not on the host's settings or on another thread. (With
   Debian's 0.3.21 the double slabs gave the bits of one whole call; float
   ones on the Haswell kernels did not.) No race is left on OpenBLAS's
   count from descent's side: only the host's own calls write it, as they
   always did. LAPACK's routines call the threaded BLAS too: eigen.c runs
   them the same way, on one thread. */

/* A call that computes op(A) op(B) into C on one thread, scalars in double
   (a float converts to double and back exactly). */
typedef void (*blas_call)(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha,
                          const void *a, size_t lda, const void *b, size_t ldb, double beta,
                          void *c, size_t ldc);

static int one_thread_begin(void) {
  int caller = omp_get_max_threads();
  if (caller != 1) omp_set_num_threads(1);
  return caller;
}

static void one_thread_end(int caller) {
  if (caller != 1) omp_set_num_threads(caller);
}

#ifndef DESCENT_DOUBLE
static void sgemm_one(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha,
                      const void *a, size_t lda, const void *b, size_t ldb, double beta, void *c,
                      size_t ldc) {
  int caller = one_thread_begin();
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, (float)alpha,
              a, (blasint)lda, b, (blasint)ldb, (float)beta, c, (blasint)ldc);
  one_thread_end(caller);
}
#endif

static void dgemm_one(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha,
                      const void *a, size_t lda, const void *b, size_t ldb, double beta, void *c,
                      size_t ldc) {
  int caller = one_thread_begin();
  cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha, a,
              (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
  one_thread_end(caller);
}

/* Slabs start at multiples of this many rows or columns, so that every
   slab but the last is whole kernel tiles. */
#define SLAB_ALIGN 16

/* The product on `threads` threads: C cut into as many slabs, along its
   rows when it has at least as many rows as columns, else along its
   columns. Each slab reads all of op(A) (a cut by columns) or all of
   op(B) (by rows): the cut copies the smaller operand once more per
   thread. The slabs depend only on the shape and on `threads`, and each is
   one single-threaded call, whichever thread runs it. */
static void blas_split(blas_call call, size_t elem, int trans_a, int trans_b, size_t m, size_t n,
                       size_t k, double alpha, const void *a, size_t lda, const void *b, size_t ldb,
                       double beta, void *c, size_t ldc, int threads) {
  int by_rows = m >= n;
  size_t dim = by_rows ? m : n;
  size_t chunk = (dim + (size_t)threads - 1) / (size_t)threads;
  chunk = (chunk + SLAB_ALIGN - 1) / SLAB_ALIGN * SLAB_ALIGN;
  long slabs = (long)((dim + chunk - 1) / chunk);
  if (threads < 2 || slabs < 2) {
    call(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  const char *ab = a, *bb = b;
  char *cb = c;
#pragma omp parallel for schedule(static) num_threads(threads)
  for (long s = 0; s < slabs; s++) {
    size_t start = (size_t)s * chunk, len = dim - start < chunk ? dim - start : chunk;
    if (by_rows) /* rows of op(A) and of C */
      call(trans_a, trans_b, len, n, k, alpha, ab + elem * (trans_a ? start : start * lda), lda, b,
           ldb, beta, cb + elem * start * ldc, ldc);
    else /* columns of op(B) and of C */
      call(trans_a, trans_b, m, len, k, alpha, a, lda, bb + elem * (trans_b ? start * ldb : start),
           ldb, beta, cb + elem * start, ldc);
  }
}

void descent_gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, descent_real alpha,
                  const descent_real *a, size_t lda, const descent_real *b, size_t ldb,
                  descent_real beta, descent_real *c, size_t ldc) {
  if (m == 0 || n == 0) return;
#ifdef DESCENT_DOUBLE
  int threads = product_threads(m, n, k);
  blas_split(dgemm_one, sizeof *c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
             threads);
#else
  int threads = float_product_threads(trans_a, trans_b, m, n, k);
  /* The kernel's result is the same whatever its thread count. */
  if (use_kernel(trans_a, trans_b, m, n, k, threads) &&
      sgemm_avx512(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads) == 0)
    return;
  blas_split(sgemm_one, sizeof *c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
             threads);
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

void descent_gemm_dense(int precision, int round_c, int trans_a, int trans_b, size_t m, size_t n,
                        size_t k, const descent_real *a, size_t lda, const descent_real *b,
                        size_t ldb, descent_real beta, descent_real *c, size_t ldc) {
#ifndef DESCENT_DOUBLE
  if (precision == DESCENT_PRECISION_FP32) {
    int threads = descent_gemm_dnnl_threads(trans_a, trans_b, m, n, k);
    if (threads &&
        sgemm_dnnl(trans_a, trans_b, m, n, k, 1, a, lda, b, ldb, beta, c, ldc, threads) == 0)
      return;
  }
#endif
  descent_gemm_precision(precision, round_c, trans_a, trans_b, m, n, k, 1, a, lda, b, ldb, beta, c,
                         ldc);
}

void descent_gemm_dense_prepare(size_t out, size_t in, size_t batch) {
  if (descent_gemm_dnnl_threads(0, 1, batch, out, in) ||
      descent_gemm_dnnl_threads(1, 0, out, in, batch) ||
      descent_gemm_dnnl_threads(0, 0, batch, in, out))
    sgemm_dnnl_prepare();
}

int descent_gemm_fused(int precision, int trans_a, int trans_b, size_t m, size_t n, size_t k,
                       const descent_real *a, size_t lda, const descent_real *b, size_t ldb,
                       descent_real *c, size_t ldc, const descent_real *bias, descent_real *relu,
                       const descent_real *mask) {
#ifndef DESCENT_DOUBLE
  if (precision != DESCENT_PRECISION_FP32 || m == 0 || n == 0) return 0;
  /* descent_gemm_dense would give this product to oneDNN: its bits, not
     the kernel's. */
  if (descent_gemm_dnnl_threads(trans_a, trans_b, m, n, k)) return 0;
  int threads = float_product_threads(trans_a, trans_b, m, n, k);
  if (!use_kernel(trans_a, trans_b, m, n, k, threads)) return 0;
  sgemm_epilogue epilogue = {bias, relu, mask};
  return sgemm_avx512_epilogue(trans_a, trans_b, m, n, k, 1, a, lda, b, ldb, 0, c, ldc, &epilogue,
                               threads) == 0;
#else
  return 0;
#endif
}

int descent_bf16_check(const char *what, const char *instead) {
  if (sizeof(descent_real) != sizeof(float))
    return descent_fail(DESCENT_ENOTSUP,
                        "%s: the double build computes in double only; use the float library, "
                        "or %s",
                        what, instead);
  if (!sgemm_bf16_cpu())
    return descent_fail(DESCENT_ENOTSUP,
                        "%s needs a CPU with AVX512_BF16 (bf16 dot products); this one has none: "
                        "%s",
                        what, instead);
  if (descent_isa_path() < DESCENT_ISA_AVX512)
    return descent_fail(DESCENT_ENOTSUP,
                        "%s needs the avx512 kernel path; DESCENT_ISA forces %s: %s, or unset "
                        "DESCENT_ISA",
                        what, descent_isa_name(), instead);
  if (!sgemm_bf16_available())
    return descent_fail(DESCENT_ENOTSUP,
                        "%s: this build has no AVX512_BF16 kernel (compiler without "
                        "-mavx512bf16); %s",
                        what, instead);
  return DESCENT_OK;
}

void descent_gemm_f64(int trans_a, int trans_b, size_t m, size_t n, size_t k, double alpha,
                      const double *a, size_t lda, const double *b, size_t ldb, double beta,
                      double *c, size_t ldc) {
  if (m == 0 || n == 0) return;
  blas_split(dgemm_one, sizeof *c, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
             product_threads(m, n, k));
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
