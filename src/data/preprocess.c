/*
 * preprocess.c - input preprocessing fitted on the training set: per-feature
 * standardization (x - mean) / (std + eps), and PCA or ZCA whitening (whose
 * covariance and eigendecomposition live in whiten.c).
 *
 * The statistics come from the training split only and are then applied to
 * every split, so validation and test numbers never see their own statistics.
 * They are accumulated in double: a float sum over 60,000 pixels loses digits.
 */
#include "whiten.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int descent_preprocess_parse(const char *name, descent_preprocess_kind *kind) {
  descent_error_clear();
  if (!kind) return descent_fail(DESCENT_EINVAL, "descent_preprocess_parse: kind is NULL");
  if (name && strcmp(name, "none") == 0) {
    *kind = DESCENT_PREPROCESS_NONE;
    return DESCENT_OK;
  }
  for (int k = DESCENT_PREPROCESS_STANDARDIZE; k <= DESCENT_PREPROCESS_ZCA; k++)
    if (name && strcmp(name, descent_preprocess_name((descent_preprocess_kind)k)) == 0) {
      *kind = (descent_preprocess_kind)k;
      return DESCENT_OK;
    }
  return descent_fail(DESCENT_EINVAL,
                      "unknown preprocessing '%s': valid choices are none, standardize, pca, zca",
                      name ? name : "(null)");
}

const char *descent_preprocess_name(descent_preprocess_kind kind) {
  switch (kind) {
  case DESCENT_PREPROCESS_NONE:
    return "none";
  case DESCENT_PREPROCESS_STANDARDIZE:
    return "standardize";
  case DESCENT_PREPROCESS_PCA:
    return "pca";
  case DESCENT_PREPROCESS_ZCA:
    return "zca";
  }
  return "unknown";
}

double descent_preprocess_default_eps(descent_preprocess_kind kind) {
  return kind == DESCENT_PREPROCESS_PCA || kind == DESCENT_PREPROCESS_ZCA ? 1e-2 : 1e-3;
}

/* Means of the columns over the rows, summed in row order: the same
 * additions, in the same order, as a walk down each column, but through
 * memory in the order it lies. A column-at-a-time (or block-at-a-time) walk
 * strides by a whole row per value, and the hardware prefetchers lose it at
 * page boundaries: over Fashion-MNIST's 47M values it took about 0.3 s, a
 * tenth of a small network's epoch, against 0.03 s in row order. With
 * center, of the squares of the deviations from it instead. */
static int column_means(const descent_dataset *ds, const double *center, double *restrict mean) {
  size_t n = ds->n, f = ds->features;
  /* A set held as bytes is decoded a row at a time: the same numbers, added
     in the same order. */
  descent_real *decoded = ds->x ? NULL : descent_alloc_real(f ? f : 1, "moments: a row");
  if (!ds->x && !decoded) return DESCENT_ENOMEM;
  for (size_t j = 0; j < f; j++) mean[j] = 0.0;
  for (size_t i = 0; i < n; i++) {
    if (!ds->x) dataset_decode_row(ds, i, decoded);
    const descent_real *restrict row = ds->x ? ds->x + i * f : decoded;
    if (center) {
      for (size_t j = 0; j < f; j++) {
        double d = row[j] - center[j];
        mean[j] += d * d;
      }
    } else {
      for (size_t j = 0; j < f; j++) mean[j] += row[j];
    }
  }
  for (size_t j = 0; j < f; j++) mean[j] /= (double)n;
  descent_free_real(decoded);
  return DESCENT_OK;
}

/* Per-feature mean and population variance, two-pass for accuracy. On one
 * thread: the passes stream memory, 25 ms for Fashion-MNIST on one core of
 * a 2-core AMD EPYC (Zen 4), where split over both cores of that machine,
 * shared with other work, they took 100-120 ms waiting for the second. */
int preprocess_moments(const descent_dataset *ds, double *mean, double *var) {
  int rc = column_means(ds, NULL, mean);
  return rc ? rc : column_means(ds, mean, var);
}

int descent_preprocess_fit(descent_preprocess *pp, descent_preprocess_kind kind,
                           const descent_dataset *train, double eps) {
  descent_error_clear();
  if (!pp || !train)
    return descent_fail(DESCENT_EINVAL, "descent_preprocess_fit: pp or train is NULL");
  memset(pp, 0, sizeof *pp);
  if (kind < DESCENT_PREPROCESS_NONE || kind > DESCENT_PREPROCESS_ZCA)
    return descent_fail(DESCENT_EINVAL,
                        "unknown preprocessing kind %d: valid choices are none, "
                        "standardize, pca, zca",
                        (int)kind);
  if (kind == DESCENT_PREPROCESS_NONE) {
    pp->features = train->features;
    return DESCENT_OK;
  }
  const char *name = descent_preprocess_name(kind);
  if (!(eps > 0.0) || !isfinite(eps))
    return descent_fail(DESCENT_EINVAL,
                        "%s: eps must be a positive finite number (it keeps directions of zero "
                        "variance from dividing by zero); got %g",
                        name, eps);
  if (train->n == 0) return descent_fail(DESCENT_EINVAL, "%s: the training set is empty", name);
  if (kind != DESCENT_PREPROCESS_STANDARDIZE) return preprocess_fit_whitening(pp, kind, train, eps);
  size_t f = train->features;
  pp->kind = kind;
  pp->features = f;
  pp->eps = eps;
  double *mean = descent_calloc(f, sizeof *mean, "standardize: means");
  double *var = descent_calloc(f, sizeof *var, "standardize: variances");
  pp->mean = descent_alloc_real(f, "standardize: means");
  pp->inv_std = descent_alloc_real(f, "standardize: inverse deviations");
  if (!mean || !var || !pp->mean || !pp->inv_std) {
    free(mean);
    free(var);
    descent_preprocess_free(pp);
    return DESCENT_ENOMEM;
  }
  if (preprocess_moments(train, mean, var)) {
    free(mean);
    free(var);
    descent_preprocess_free(pp);
    return DESCENT_ENOMEM;
  }
  for (size_t j = 0; j < f; j++) {
    pp->mean[j] = (descent_real)mean[j];
    pp->inv_std[j] = (descent_real)(1.0 / (sqrt(var[j]) + eps));
  }
  free(mean);
  free(var);
  return DESCENT_OK;
}

int descent_preprocess_apply(const descent_preprocess *pp, descent_dataset *ds) {
  if (!pp || !ds || pp->kind == DESCENT_PREPROCESS_NONE || ds->n == 0) return DESCENT_OK;
  if (!pp->mean || pp->features != ds->features ||
      (pp->kind == DESCENT_PREPROCESS_STANDARDIZE ? !pp->inv_std : !pp->whiten))
    return descent_fail(DESCENT_ESHAPE,
                        "preprocessing fitted on %zu features cannot apply to data with %zu",
                        pp->features, ds->features);
  size_t f = ds->features;
  if (!ds->x && ds->bytes) {
    /* A first standardization of a set held as bytes is kept beside them
       (descent_dataset); anything more needs the numbers themselves. */
    if (pp->kind == DESCENT_PREPROCESS_STANDARDIZE && !ds->byte_mean) {
      descent_real *mean = descent_alloc_real(f, "standardize: means");
      descent_real *inv_std = descent_alloc_real(f, "standardize: inverse deviations");
      if (!mean || !inv_std) {
        descent_free_real(mean);
        descent_free_real(inv_std);
        return DESCENT_ENOMEM;
      }
      memcpy(mean, pp->mean, f * sizeof *mean);
      memcpy(inv_std, pp->inv_std, f * sizeof *inv_std);
      ds->byte_mean = mean;
      ds->byte_inv_std = inv_std;
      return DESCENT_OK;
    }
    int rc = descent_dataset_expand(ds);
    if (rc) return rc;
  }
  if (pp->kind != DESCENT_PREPROCESS_STANDARDIZE) return preprocess_apply_whitening(pp, ds);
  const descent_real *mean = pp->mean, *inv_std = pp->inv_std;
#pragma omp parallel for schedule(static)
  for (size_t i = 0; i < ds->n; i++) {
    descent_real *row = ds->x + i * f;
    for (size_t j = 0; j < f; j++) row[j] = (row[j] - mean[j]) * inv_std[j];
  }
  return DESCENT_OK;
}

void descent_preprocess_free(descent_preprocess *pp) {
  if (!pp) return;
  descent_free_real(pp->mean);
  descent_free_real(pp->inv_std);
  descent_free_real(pp->whiten);
  memset(pp, 0, sizeof *pp);
}
