/*
 * eigen.c - the one place that calls LAPACK: the symmetric eigensolver
 * dsyevd (divide and conquer), for the covariance that PCA and ZCA whitening
 * diagonalize, and the inverse of a symmetric positive definite matrix by
 * its Cholesky factor (dpotrf, dpotri), for K-FAC's damped Kronecker
 * factors, and the symmetric tridiagonal eigensolver dstev, for the small
 * matrix of Lanczos's iteration (src/core/lanczos.c), and the orthonormal
 * factor of a square matrix's QR factorization (dgeqrf, dorgqr), for SOAP's
 * refresh of its eigenbases (src/optim/transforms_soap.c).
 *
 * LAPACK comes with OpenBLAS (libopenblas exports the reference LAPACK
 * routines, built with gfortran), so no other library is linked. The routine
 * is called through its Fortran interface: every argument by reference,
 * column-major storage, and the hidden lengths of the two character
 * arguments at the end, as gfortran passes them. A symmetric matrix reads the
 * same in both storage orders; the eigenvectors come back as the columns of
 * the column-major result, i.e. the rows of our row-major array.
 */
#include "internal.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>

void dsyevd_(const char *jobz, const char *uplo, const blasint *n, double *a, const blasint *lda,
             double *w, double *work, const blasint *lwork, blasint *iwork, const blasint *liwork,
             blasint *info, size_t jobz_len, size_t uplo_len);

void dpotrf_(const char *uplo, const blasint *n, double *a, const blasint *lda, blasint *info,
             size_t uplo_len);
void dpotri_(const char *uplo, const blasint *n, double *a, const blasint *lda, blasint *info,
             size_t uplo_len);

void dstev_(const char *jobz, const blasint *n, double *d, double *e, double *z, const blasint *ldz,
            double *work, blasint *info, size_t jobz_len);

void dgeqrf_(const blasint *m, const blasint *n, double *a, const blasint *lda, double *tau,
             double *work, const blasint *lwork, blasint *info);
void dorgqr_(const blasint *m, const blasint *n, const blasint *k, double *a, const blasint *lda,
             const double *tau, double *work, const blasint *lwork, blasint *info);

static int eigen(size_t n, double *a, double *w);
static int qr_orthonormal(size_t n, double *a);
static int spd_inverse(size_t n, double *a);
static int tridiagonal_eigen(size_t n, double *d, double *e, double *z);

/* LAPACK's routines call OpenBLAS's threaded BLAS, which would set
   OpenBLAS's process-wide thread count to the caller's OpenMP setting
   (gemm.c says why descent never lets it): they run with the calling
   thread's setting lowered to 1. */
int descent_symmetric_eigen(size_t n, double *a, double *w) {
  int caller = omp_get_max_threads();
  if (caller != 1) omp_set_num_threads(1);
  int rc = eigen(n, a, w);
  if (caller != 1) omp_set_num_threads(caller);
  return rc;
}

int descent_tridiagonal_eigen(size_t n, double *d, double *e, double *z) {
  int caller = omp_get_max_threads();
  if (caller != 1) omp_set_num_threads(1);
  int rc = tridiagonal_eigen(n, d, e, z);
  if (caller != 1) omp_set_num_threads(caller);
  return rc;
}

int descent_qr_orthonormal(size_t n, double *a) {
  int caller = omp_get_max_threads();
  if (caller != 1) omp_set_num_threads(1);
  int rc = qr_orthonormal(n, a);
  if (caller != 1) omp_set_num_threads(caller);
  return rc;
}

int descent_spd_inverse(size_t n, double *a) {
  int caller = omp_get_max_threads();
  if (caller != 1) omp_set_num_threads(1);
  int rc = spd_inverse(n, a);
  if (caller != 1) omp_set_num_threads(caller);
  return rc;
}

/* LAPACK's "U" (column-major) is our lower triangle: dpotri leaves the
   inverse there, and it is mirrored to the upper one. */
/* The first entry of the n x n matrix a that is not finite, or n * n. */
static size_t first_not_finite(size_t n, const double *a) {
  for (size_t i = 0; i < n * n; i++)
    if (!isfinite(a[i])) return i;
  return n * n;
}

static int spd_inverse(size_t n, double *a) {
  if (n == 0) return DESCENT_OK;
  if (n > DESCENT_LAPACK_MAX_DIM)
    return descent_fail(DESCENT_ERANGE, "inverse of a %zu x %zu matrix is too large", n, n);
  /* dpotrf checks the pivots for NaN and <= 0 only: an infinite entry
     would come back as an "inverse" of infinities and NaN. */
  size_t bad = first_not_finite(n, a);
  if (bad < n * n)
    return descent_fail(DESCENT_EDIVERGED,
                        "the %zu x %zu matrix to invert is not finite (entry %zu, %zu is %g); are "
                        "the data and the model's values finite?",
                        n, n, bad / n + 1, bad % n + 1, a[bad]);
  blasint nn = (blasint)n, info = 0;
  dpotrf_("U", &nn, a, &nn, &info, 1);
  if (info == 0) dpotri_("U", &nn, a, &nn, &info, 1);
  if (info < 0)
    return descent_fail(DESCENT_EINVAL, "LAPACK dpotrf/dpotri: argument %d is invalid", (int)-info);
  if (info > 0)
    return descent_fail(DESCENT_EDIVERGED,
                        "LAPACK dpotrf: the %zu x %zu matrix is not positive definite (leading "
                        "minor %d); is it finite, and its damping positive?",
                        n, n, (int)info);
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) a[i * n + j] = a[j * n + i];
  if ((bad = first_not_finite(n, a)) < n * n)
    return descent_fail(DESCENT_EDIVERGED,
                        "the inverse of the %zu x %zu matrix is not finite (entry %zu, %zu is %g): "
                        "the matrix is too close to singular; raise its damping",
                        n, n, bad / n + 1, bad % n + 1, a[bad]);
  return DESCENT_OK;
}

static int eigen(size_t n, double *a, double *w) {
  if (n == 0) return DESCENT_OK;
  if (n > DESCENT_LAPACK_MAX_DIM)
    return descent_fail(DESCENT_ERANGE, "eigendecomposition of a %zu x %zu matrix is too large", n,
                        n);
  blasint nn = (blasint)n, lwork = -1, liwork = -1, info = 0, iwork_size = 0;
  double work_size = 0;
  /* Workspace query, then the decomposition. */
  dsyevd_("V", "U", &nn, a, &nn, w, &work_size, &lwork, &iwork_size, &liwork, &info, 1, 1);
  if (info != 0)
    return descent_fail(DESCENT_EINVAL, "LAPACK dsyevd workspace query failed (info %d)",
                        (int)info);
  lwork = (blasint)work_size;
  liwork = iwork_size;
  double *work = descent_calloc((size_t)lwork, sizeof *work, "eigendecomposition workspace");
  blasint *iwork = descent_calloc((size_t)liwork, sizeof *iwork, "eigendecomposition workspace");
  if (!work || !iwork) {
    free(work);
    free(iwork);
    return DESCENT_ENOMEM;
  }
  dsyevd_("V", "U", &nn, a, &nn, w, work, &lwork, iwork, &liwork, &info, 1, 1);
  free(work);
  free(iwork);
  if (info < 0)
    return descent_fail(DESCENT_EINVAL, "LAPACK dsyevd: argument %d is invalid", (int)-info);
  if (info > 0)
    return descent_fail(DESCENT_EDIVERGED,
                        "LAPACK dsyevd did not converge (%d off-diagonal elements); is the "
                        "covariance finite?",
                        (int)info);
  return DESCENT_OK;
}

/* dstev's eigenvectors are the columns of the column-major z: row k of our
   row-major array is the eigenvector of d[k]. */
static int tridiagonal_eigen(size_t n, double *d, double *e, double *z) {
  if (n == 0) return DESCENT_OK;
  if (n > DESCENT_LAPACK_MAX_DIM)
    return descent_fail(DESCENT_ERANGE, "eigendecomposition of a %zu x %zu matrix is too large", n,
                        n);
  blasint nn = (blasint)n, info = 0;
  double *work = descent_calloc(n > 1 ? 2 * n - 2 : 1, sizeof *work, "tridiagonal workspace");
  if (!work) return DESCENT_ENOMEM;
  dstev_("V", &nn, d, e, z, &nn, work, &info, 1);
  free(work);
  if (info < 0)
    return descent_fail(DESCENT_EINVAL, "LAPACK dstev: argument %d is invalid", (int)-info);
  if (info > 0)
    return descent_fail(DESCENT_EDIVERGED,
                        "LAPACK dstev did not converge (%d off-diagonal elements); are the "
                        "operator's products finite?",
                        (int)info);
  return DESCENT_OK;
}

static void transpose_square(size_t n, double *a) {
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      double x = a[i * n + j];
      a[i * n + j] = a[j * n + i];
      a[j * n + i] = x;
    }
}

/* LAPACK reads column-major: the row-major a is transposed in and out.
   dgeqrf's Householder reflections, then dorgqr forms their product Q (as
   torch.linalg.qr does, mode "reduced", on a square matrix). */
static int qr_orthonormal(size_t n, double *a) {
  if (n == 0) return DESCENT_OK;
  if (n > DESCENT_LAPACK_MAX_DIM)
    return descent_fail(DESCENT_ERANGE, "QR factorization of a %zu x %zu matrix is too large", n,
                        n);
  size_t bad = first_not_finite(n, a);
  if (bad < n * n)
    return descent_fail(DESCENT_EDIVERGED,
                        "the %zu x %zu matrix to factor (QR) is not finite (entry %zu, %zu is %g)",
                        n, n, bad / n + 1, bad % n + 1, a[bad]);
  blasint nn = (blasint)n, lwork = -1, info = 0;
  double query = 0, query2 = 0;
  dgeqrf_(&nn, &nn, a, &nn, NULL, &query, &lwork, &info);
  if (info == 0) dorgqr_(&nn, &nn, &nn, a, &nn, NULL, &query2, &lwork, &info);
  if (info != 0)
    return descent_fail(DESCENT_EINVAL, "LAPACK dgeqrf/dorgqr workspace query failed (info %d)",
                        (int)info);
  lwork = (blasint)(query > query2 ? query : query2);
  if (lwork < 1) lwork = 1;
  double *tau = descent_calloc(n, sizeof *tau, "QR factorization");
  double *work = descent_calloc((size_t)lwork, sizeof *work, "QR factorization workspace");
  if (!tau || !work) {
    free(tau);
    free(work);
    return DESCENT_ENOMEM;
  }
  transpose_square(n, a);
  dgeqrf_(&nn, &nn, a, &nn, tau, work, &lwork, &info);
  if (info == 0) dorgqr_(&nn, &nn, &nn, a, &nn, tau, work, &lwork, &info);
  free(tau);
  free(work);
  if (info != 0)
    return descent_fail(DESCENT_EINVAL, "LAPACK dgeqrf/dorgqr: argument %d is invalid", (int)-info);
  transpose_square(n, a);
  return DESCENT_OK;
}
