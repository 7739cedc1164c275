/*
 * sgemm_dnnl.c - oneDNN's float GEMM behind descent's product interface
 * (sgemm_dnnl.h). oneDNN runs its JIT GEMM for the instruction set it is
 * allowed (descent_cpu_setup holds it to AVX2 on the avx2 path), on the
 * OpenMP threads of the calling thread's setting, which is set to the
 * product's thread count for the call.
 */
#include "sgemm_dnnl.h"

#include "internal.h"

int descent_sgemm_dnnl_enabled = 1;

#if defined(DESCENT_HAVE_DNNL) && !defined(DESCENT_DOUBLE)

#include <dnnl.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

int sgemm_dnnl_available(void) {
  if (!descent_sgemm_dnnl_enabled) return 0;
  /* Its threads must be OpenMP's, whose count the call sets (a TBB or
     thread-pool build would split the work by the machine's cores). */
  if (dnnl_version()->cpu_runtime != DNNL_RUNTIME_OMP) return 0;
  int path = descent_isa_path();
  if (path < DESCENT_ISA_AVX2) return 0;
  if (path >= DESCENT_ISA_AVX512 || !descent_cpu_has_avx512()) return 1;
  /* The avx2 path on a CPU with AVX-512: only once descent_cpu_setup has
     capped oneDNN at AVX2 (asking oneDNN before would fix its choice and
     keep the cap from being set). */
  return descent_cpu_setup_done();
}

/* A copy of C's m x n block (leading dimension ldc kept), for a product
   that reads C (beta not 0): oneDNN may scale C before it fails (out of
   memory), and the caller then computes the product again from C as it
   was. NULL when out of memory. Allocated per call (glibc serves the same
   size again from its heap), so that no thread keeps one when it ends. */
static float *copy_c(const float *c, size_t m, size_t n, size_t ldc) {
  float *copy = malloc(((m - 1) * ldc + n) * sizeof *copy);
  for (size_t i = 0; copy && i < m; i++) memcpy(copy + i * ldc, c + i * ldc, n * sizeof *c);
  return copy;
}

int sgemm_dnnl(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
               size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
               int threads) {
  if (!sgemm_dnnl_available() || omp_get_level() > 0 || threads < 1 || m == 0 || n == 0) return -1;
  /* oneDNN splits the work by the team it gets: a smaller one (a thread
     limit; dynamic teams, turned off below for the call) would change the
     bits, or leave part of C uncomputed. */
  if (omp_get_thread_limit() < threads) return -1;
  float *saved = NULL;
  if (beta != 0 && !(saved = copy_c(c, m, n, ldc))) return -1;
  /* Both settings are the calling thread's own (OpenMP's nthreads-var and
     dyn-var), put back on return: OMP_DYNAMIC=true elsewhere in a program
     then costs it neither oneDNN nor its bits. */
  int caller = omp_get_max_threads(), dynamic = omp_get_dynamic();
  if (caller != threads) omp_set_num_threads(threads);
  if (dynamic) omp_set_dynamic(0);
  dnnl_status_t s = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', (dnnl_dim_t)m,
                               (dnnl_dim_t)n, (dnnl_dim_t)k, alpha, a, (dnnl_dim_t)lda, b,
                               (dnnl_dim_t)ldb, beta, c, (dnnl_dim_t)ldc);
  if (dynamic) omp_set_dynamic(1);
  if (caller != threads) omp_set_num_threads(caller);
  for (size_t i = 0; s != dnnl_success && saved && i < m; i++)
    memcpy(c + i * ldc, saved + i * ldc, n * sizeof *c);
  free(saved);
  return s == dnnl_success ? 0 : -1;
}

/* Set once sgemm_dnnl_prepare's product ran. Two threads that both find it
   clear both run one; oneDNN generates its kernels once, the second
   waiting for the first. */
static atomic_int prepared;

int sgemm_dnnl_prepared(void) {
  return atomic_load(&prepared);
}

void sgemm_dnnl_prepare(void) {
  if (atomic_load(&prepared)) return;
  /* 8 x 8 x 8: 1 x 1 x 1 takes a path that generates nothing. sgemm_dnnl
     itself declines inside a parallel region and where oneDNN is not
     available. */
  float a[64] = {0}, b[64] = {0}, c[64];
  if (sgemm_dnnl(0, 1, 8, 8, 8, 1, a, 8, b, 8, 0, c, 8, 1) == 0) atomic_store(&prepared, 1);
}

#else /* no oneDNN, or the double build */

void sgemm_dnnl_prepare(void) {}

int sgemm_dnnl_prepared(void) {
  return 0;
}

int sgemm_dnnl_available(void) {
  return 0;
}

int sgemm_dnnl(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha, const float *a,
               size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc,
               int threads) {
  (void)trans_a, (void)trans_b, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda;
  (void)b, (void)ldb, (void)beta, (void)c, (void)ldc, (void)threads;
  return -1;
}

#endif
