/*
 * gemm.c - the one place that calls the BLAS, and the naive kernel it is
 * tested against.
 *
 * Keeping every matrix product behind descent_gemm lets another BLAS (BLIS,
 * MKL) be swapped in and measured by changing this file alone.
 */
#include "internal.h"

#include <cblas.h>

/* blas_select.c's constructor moves OpenBLAS to the kernels this CPU can run,
 * before main. It sits in an object file of its own, which a static link
 * drops from any program that names none of its symbols (the test programs
 * then ran on OpenBLAS's generic SSE3 kernels, 6x slower, and with other
 * rounding). Every program that multiplies matrices links this file, and
 * this reference keeps the constructor with it. */
__attribute__((used)) static const char *(*const keep_blas_select)(void) =
    descent_blas_detected_core;

void descent_gemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, descent_real alpha,
                  const descent_real *a, size_t lda, const descent_real *b, size_t ldb,
                  descent_real beta, descent_real *c, size_t ldc) {
  if (m == 0 || n == 0) return;
  enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
  enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
#ifdef DESCENT_DOUBLE
  cblas_dgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)lda, b,
              (blasint)ldb, beta, c, (blasint)ldc);
#else
  cblas_sgemm(CblasRowMajor, ta, tb, (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)lda, b,
              (blasint)ldb, beta, c, (blasint)ldc);
#endif
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
