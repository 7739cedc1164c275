/*
 * whiten.c - PCA and ZCA whitening (the lecture's idea 2: whitening the
 * inputs makes a linear model's curvature the same in every direction).
 *
 * The training covariance C = 1/n sum (x - mean)(x - mean)^T is accumulated
 * in double, in blocks of rows centred and widened to double, each added by
 * one GEMM (descent_gemm_f64), so the sums run in the same order whatever the
 * thread count. Its eigendecomposition C = U Lambda U^T (descent_symmetric_eigen,
 * LAPACK's dsyevd) gives
 *   PCA:  W = (Lambda + eps)^(-1/2) U^T      rows by decreasing eigenvalue
 *   ZCA:  W = U (Lambda + eps)^(-1/2) U^T
 * and every example becomes W (x - mean): covariance W C W^T =
 * diag(lambda / (lambda + eps)) in PCA's basis, the identity up to eps.
 * Applying W is one GEMM per block of examples.
 */
#include "whiten.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Examples per block when accumulating the covariance and applying W. */
#define WHITEN_BLOCK 1024

static int covariance(const descent_dataset *ds, const double *mean, double *cov) {
  size_t f = ds->features, rows = ds->n < WHITEN_BLOCK ? ds->n : WHITEN_BLOCK;
  double *block = descent_calloc(rows * f, sizeof *block, "whitening: covariance block");
  /* A set held as bytes: each block of rows decoded first. */
  descent_real *decoded = ds->x ? NULL : descent_alloc_real(rows * f, "whitening: decoded rows");
  if (!block || (!ds->x && !decoded)) {
    free(block);
    descent_free_real(decoded);
    return DESCENT_ENOMEM;
  }
  memset(cov, 0, f * f * sizeof *cov);
  for (size_t start = 0; start < ds->n; start += WHITEN_BLOCK) {
    size_t count = ds->n - start < WHITEN_BLOCK ? ds->n - start : WHITEN_BLOCK;
    const descent_real *x = ds->x ? ds->x + start * f : decoded;
    if (!ds->x) descent_dataset_rows(ds, start, count, decoded);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i++)
      for (size_t j = 0; j < f; j++) block[i * f + j] = x[i * f + j] - mean[j];
    descent_gemm_f64(1, 0, f, f, count, 1.0, block, f, block, f, 1.0, cov, f);
  }
  free(block);
  descent_free_real(decoded);
  for (size_t i = 0; i < f * f; i++) cov[i] /= (double)ds->n;
  return DESCENT_OK;
}

/* W from the unit eigenvectors (rows of vec, ascending eigenvalues in val).
   scaled and product are f x f doubles of scratch. */
static void whitening_matrix(descent_preprocess_kind kind, size_t f, double *vec, const double *val,
                             double eps, double *scaled, double *product, descent_real *w) {
  for (size_t k = 0; k < f; k++) {
    /* A deterministic sign: the largest entry of each eigenvector positive. */
    double *v = vec + k * f, big = 0;
    for (size_t j = 0; j < f; j++)
      if (fabs(v[j]) > fabs(big)) big = v[j];
    double scale = 1.0 / sqrt(fmax(val[k], 0.0) + eps);
    for (size_t j = 0; j < f; j++) {
      if (big < 0) v[j] = -v[j];
      scaled[k * f + j] = v[j] * scale; /* row k of (Lambda + eps)^(-1/2) U^T */
    }
  }
  if (kind == DESCENT_PREPROCESS_PCA) {
    for (size_t k = 0; k < f; k++) /* largest eigenvalue first */
      for (size_t j = 0; j < f; j++) w[k * f + j] = (descent_real)scaled[(f - 1 - k) * f + j];
    return;
  }
  /* ZCA: U times that; vec holds U^T. */
  descent_gemm_f64(1, 0, f, f, f, 1.0, vec, f, scaled, f, 0.0, product, f);
  for (size_t i = 0; i < f * f; i++) w[i] = (descent_real)product[i];
}

int preprocess_fit_whitening(descent_preprocess *pp, descent_preprocess_kind kind,
                             const descent_dataset *train, double eps) {
  const char *name = descent_preprocess_name(kind);
  size_t f = train->features, ff;
  if (!descent_mul_ok(f, f, &ff) || f > DESCENT_LAPACK_MAX_DIM)
    return descent_fail(DESCENT_ERANGE, "%s: %zu features are too many to whiten", name, f);
  double *mean = descent_calloc(f, sizeof *mean, "whitening: means");
  double *var = descent_calloc(f, sizeof *var, "whitening: variances");
  double *cov = descent_calloc(ff, sizeof *cov, "whitening: covariance");
  double *val = descent_calloc(f, sizeof *val, "whitening: eigenvalues");
  double *scaled = descent_calloc(ff, sizeof *scaled, "whitening: scaled eigenvectors");
  double *product = kind == DESCENT_PREPROCESS_ZCA
                        ? descent_calloc(ff, sizeof *product, "whitening: ZCA matrix")
                        : NULL;
  pp->mean = descent_alloc_real(f, "whitening: means");
  pp->whiten = descent_alloc_real(ff, "whitening: matrix");
  int rc = mean && var && cov && val && scaled && pp->mean && pp->whiten &&
                   (product || kind != DESCENT_PREPROCESS_ZCA)
               ? DESCENT_OK
               : DESCENT_ENOMEM;
  if (!rc) {
    pp->kind = kind;
    pp->features = f;
    pp->eps = eps;
    rc = preprocess_moments(train, mean, var);
    if (!rc) rc = covariance(train, mean, cov);
  }
  if (!rc) rc = descent_symmetric_eigen(f, cov, val);
  if (!rc) {
    for (size_t j = 0; j < f; j++) pp->mean[j] = (descent_real)mean[j];
    whitening_matrix(kind, f, cov, val, eps, scaled, product, pp->whiten);
  } else {
    descent_error_prefix("%s: ", name);
    descent_preprocess_free(pp);
  }
  free(mean);
  free(var);
  free(cov);
  free(val);
  free(scaled);
  free(product);
  return rc;
}

int preprocess_apply_whitening(const descent_preprocess *pp, descent_dataset *ds) {
  size_t f = ds->features, rows = ds->n < WHITEN_BLOCK ? ds->n : WHITEN_BLOCK;
  descent_real *block = descent_alloc_real(rows * f, "whitening: block");
  if (!block) return DESCENT_ENOMEM;
  for (size_t start = 0; start < ds->n; start += WHITEN_BLOCK) {
    size_t count = ds->n - start < WHITEN_BLOCK ? ds->n - start : WHITEN_BLOCK;
    descent_real *x = ds->x + start * f;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i++)
      for (size_t j = 0; j < f; j++) block[i * f + j] = x[i * f + j] - pp->mean[j];
    /* x'^T = (x - mean)^T W^T, a block of rows at once. */
    descent_gemm(0, 1, count, f, f, 1, block, f, pp->whiten, f, 0, x, f);
  }
  descent_free_real(block);
  return DESCENT_OK;
}
