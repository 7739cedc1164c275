/*
 * test_whiten.c - PCA and ZCA whitening: identity covariance on a correlated,
 * badly scaled test matrix; ZCA moves the inputs least of all whitenings;
 * the eigendecomposition against its definition; and, on a badly scaled
 * least-squares regression, gradient descent's iteration count, which grows
 * with the scale on raw inputs and does not move once they are whitened.
 *
 * The regression is built as the lab's linreg problem builds it (feature j a
 * standard normal in a unit scale^(j/(d-1)) times smaller, target the sum of
 * the normals plus noise; src/problems/least_squares.c), here as a data set
 * through the public API, so that the library's preprocessing can act on it.
 */
#include "check.h"
#include "internal.h"

#include <stdlib.h>

/* Columns mixed by a random matrix, from sources with scales 10^-decades to
   10^decades: strongly correlated and, with decades = 2, badly scaled. */
static void make_correlated(descent_dataset *ds, size_t n, size_t f, double decades,
                            uint64_t seed) {
  memset(ds, 0, sizeof *ds);
  ds->n = n, ds->features = f, ds->shape = (descent_shape){1, {f}};
  ds->x = descent_alloc_real(n * f, "test");
  double a[16 * 16];
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  for (size_t i = 0; i < f * f; i++) a[i] = descent_rng_normal(&rng);
  for (size_t i = 0; i < n; i++) {
    double z[16];
    for (size_t j = 0; j < f; j++)
      z[j] = descent_rng_normal(&rng) * pow(10, decades * (2.0 * j / (f - 1) - 1));
    for (size_t j = 0; j < f; j++) {
      double v = 3.0 + j; /* a mean away from zero */
      for (size_t k = 0; k < f; k++) v += a[j * f + k] * z[k];
      ds->x[i * f + j] = (descent_real)v;
    }
  }
}

static void copy_dataset(const descent_dataset *src, descent_dataset *dst) {
  *dst = *src;
  dst->x = descent_alloc_real(src->n * src->features, "test");
  memcpy(dst->x, src->x, src->n * src->features * sizeof *dst->x);
}

/* Mean and covariance of ds, in double. */
static void moments(const descent_dataset *ds, double *mean, double *cov) {
  size_t n = ds->n, f = ds->features;
  for (size_t j = 0; j < f; j++) {
    mean[j] = 0;
    for (size_t i = 0; i < n; i++) mean[j] += ds->x[i * f + j] / (double)n;
  }
  for (size_t j = 0; j < f; j++)
    for (size_t k = 0; k < f; k++) {
      double s = 0;
      for (size_t i = 0; i < n; i++)
        s += (ds->x[i * f + j] - mean[j]) * (ds->x[i * f + k] - mean[k]);
      cov[j * f + k] = s / (double)n;
    }
}

/* Mean squared distance between the whitened inputs and the centred ones. */
static double moved(const descent_dataset *raw, const descent_dataset *white) {
  size_t n = raw->n, f = raw->features;
  double mean[16], sum = 0;
  for (size_t j = 0; j < f; j++) {
    mean[j] = 0;
    for (size_t i = 0; i < n; i++) mean[j] += raw->x[i * f + j] / (double)n;
  }
  for (size_t i = 0; i < n * f; i++) {
    double d = white->x[i] - (raw->x[i] - mean[i % f]);
    sum += d * d;
  }
  return sum / (double)n;
}

static void check_identity_covariance(void) {
  const size_t n = 4000, f = 8;
  descent_dataset raw, mild;
  make_correlated(&raw, n, f, 2, 5);
  make_correlated(&mild, n, f, 0.5, 6);
  double msd[2];
  for (int kind = DESCENT_PREPROCESS_PCA; kind <= DESCENT_PREPROCESS_ZCA; kind++) {
    descent_dataset ds;
    copy_dataset(&raw, &ds);
    descent_preprocess pp;
    CHECK_OK(descent_preprocess_fit(&pp, (descent_preprocess_kind)kind, &ds, 1e-9));
    CHECK_OK(descent_preprocess_apply(&pp, &ds));
    double mean[16], cov[256], off = 0, diag = 0, mu = 0;
    moments(&ds, mean, cov);
    for (size_t j = 0; j < f; j++) {
      mu = fmax(mu, fabs(mean[j]));
      for (size_t k = 0; k < f; k++)
        if (j == k)
          diag = fmax(diag, fabs(cov[j * f + k] - 1));
        else
          off = fmax(off, fabs(cov[j * f + k]));
    }
    const char *name = descent_preprocess_name((descent_preprocess_kind)kind);
    printf("%s (eps 1e-9): largest |off-diagonal| %.2e, largest |diagonal - 1| %.2e, "
           "largest |mean| %.2e\n",
           name, off, diag, mu);
    CHECK_MSG(off <= 1e-3 && diag <= 1e-3 && mu <= 1e-3, "%s: covariance is not the identity",
              name);
    descent_preprocess_free(&pp);
    descent_dataset_free(&ds);
    /* How far each moves the inputs, on data of scales 0.3 to 3 (on the badly
       scaled ones the large raw values swamp the comparison). */
    copy_dataset(&mild, &ds);
    CHECK_OK(descent_preprocess_fit(&pp, (descent_preprocess_kind)kind, &ds, 1e-9));
    CHECK_OK(descent_preprocess_apply(&pp, &ds));
    msd[kind - DESCENT_PREPROCESS_PCA] = moved(&mild, &ds);
    descent_preprocess_free(&pp);
    descent_dataset_free(&ds);
  }
  /* Every whitening is Q W_zca with Q orthogonal; ZCA (Q = I) moves the
     inputs least. Random rotations of ZCA's output must all move them more. */
  descent_dataset zca;
  copy_dataset(&mild, &zca);
  descent_preprocess pp;
  CHECK_OK(descent_preprocess_fit(&pp, DESCENT_PREPROCESS_ZCA, &zca, 1e-9));
  CHECK_OK(descent_preprocess_apply(&pp, &zca));
  descent_rng rng;
  descent_rng_seed(&rng, 8);
  double best_other = INFINITY;
  for (int trial = 0; trial < 20; trial++) {
    double q[64];
    for (size_t i = 0; i < f * f; i++) q[i] = descent_rng_normal(&rng);
    for (size_t r = 0; r < f; r++) { /* Gram-Schmidt on the rows */
      for (size_t p = 0; p < r; p++) {
        double dot = 0;
        for (size_t j = 0; j < f; j++) dot += q[r * f + j] * q[p * f + j];
        for (size_t j = 0; j < f; j++) q[r * f + j] -= dot * q[p * f + j];
      }
      double norm = 0;
      for (size_t j = 0; j < f; j++) norm += q[r * f + j] * q[r * f + j];
      for (size_t j = 0; j < f; j++) q[r * f + j] /= sqrt(norm);
    }
    descent_dataset rot;
    copy_dataset(&zca, &rot);
    for (size_t i = 0; i < n; i++)
      for (size_t r = 0; r < f; r++) {
        double v = 0;
        for (size_t j = 0; j < f; j++) v += q[r * f + j] * zca.x[i * f + j];
        rot.x[i * f + r] = (descent_real)v;
      }
    best_other = fmin(best_other, moved(&mild, &rot));
    descent_dataset_free(&rot);
  }
  printf("mean squared distance to the centred inputs: zca %.4g, pca %.4g, best of 20 random "
         "rotations of zca %.4g\n",
         msd[1], msd[0], best_other);
  CHECK(msd[1] < msd[0] && msd[1] < best_other);
  descent_preprocess_free(&pp);
  descent_dataset_free(&zca);
  descent_dataset_free(&raw);
  descent_dataset_free(&mild);
}

static void check_eigen(void) {
  double a[9] = {4, 1, 0, 1, 3, 1, 0, 1, 2}, copy[9], w[3];
  memcpy(copy, a, sizeof a);
  CHECK_OK(descent_symmetric_eigen(3, copy, w));
  CHECK(w[0] <= w[1] && w[1] <= w[2]);
  for (int k = 0; k < 3; k++) { /* A v = lambda v, |v| = 1 */
    double norm = 0, err = 0;
    for (int i = 0; i < 3; i++) {
      double av = 0;
      for (int j = 0; j < 3; j++) av += a[i * 3 + j] * copy[k * 3 + j];
      err = fmax(err, fabs(av - w[k] * copy[k * 3 + i]));
      norm += copy[k * 3 + i] * copy[k * 3 + i];
    }
    CHECK_CLOSE(norm, 1, 1e-12);
    CHECK_MSG(err < 1e-12, "eigenpair %d: residual %.3g", k, err);
  }
  CHECK_CLOSE(w[0] + w[1] + w[2], 9, 1e-12); /* the trace */
}

/* The lab's linreg data: n examples of d features, x_j = z_j scale^(j/(d-1))
   with z_j standard normal, target sum_j z_j plus noise. */
static void make_linreg(descent_dataset *ds, descent_real **targets, size_t n, size_t d,
                        double scale, uint64_t seed) {
  memset(ds, 0, sizeof *ds);
  ds->n = n, ds->features = d, ds->shape = (descent_shape){1, {d}};
  ds->x = descent_alloc_real(n * d, "test");
  *targets = descent_alloc_real(n, "test");
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  for (size_t i = 0; i < n; i++) {
    double t = 0;
    for (size_t j = 0; j < d; j++) {
      double z = descent_rng_normal(&rng);
      ds->x[i * d + j] = (descent_real)(z * pow(scale, (double)j / (double)(d - 1)));
      t += z;
    }
    (*targets)[i] = (descent_real)(t + 0.1 * descent_rng_normal(&rng));
  }
}

/* Gradient descent with step 1/L (L the largest curvature, by power iteration
   on the Hessian E[(x, 1)(x, 1)^T]) on 1/2 mean (w.x + b - y)^2, until the
   gradient is 1e-8 of its first norm. Returns the number of steps. */
static long gd_steps(const descent_dataset *ds, const descent_real *targets) {
  size_t n = ds->n, d = ds->features, m = d + 1;
  double h[64] = {0};
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < m; j++)
      for (size_t k = 0; k < m; k++)
        h[j * m + k] += (j < d ? ds->x[i * d + j] : 1.0) * (k < d ? ds->x[i * d + k] : 1.0) / n;
  double v[8], L = 0;
  for (size_t j = 0; j < m; j++) v[j] = 1;
  for (int it = 0; it < 500; it++) {
    double hv[8], norm = 0;
    for (size_t j = 0; j < m; j++) {
      hv[j] = 0;
      for (size_t k = 0; k < m; k++) hv[j] += h[j * m + k] * v[k];
      norm += hv[j] * hv[j];
    }
    L = sqrt(norm);
    for (size_t j = 0; j < m; j++) v[j] = hv[j] / L;
  }
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "dense(1)", &ds->shape, DESCENT_LOSS_MSE, n, 1));
  if (!net) return -1;
  descent_objective *obj = descent_net_objective(net);
  memset(obj->params, 0, obj->n_params * sizeof *obj->params);
  descent_batch batch = {.n = n, .x = ds->x, .targets = targets};
  double first = -1, loss;
  long steps = 0;
  for (; steps < 1000000; steps++) {
    if (descent_objective_value_and_grad(obj, &batch, &loss)) {
      CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
      break;
    }
    double norm = 0;
    for (size_t i = 0; i < obj->n_params; i++) norm += obj->grad[i] * obj->grad[i];
    norm = sqrt(norm);
    if (first < 0) first = norm;
    if (norm <= 1e-8 * first) break;
    for (size_t i = 0; i < obj->n_params; i++) obj->params[i] -= obj->grad[i] / L;
  }
  descent_net_free(net);
  return steps;
}

static void check_regression_steps(void) {
  const double scales[] = {1, 10, 100};
  long steps[3][3];
  const descent_preprocess_kind kinds[3] = {DESCENT_PREPROCESS_NONE, DESCENT_PREPROCESS_PCA,
                                            DESCENT_PREPROCESS_ZCA};
  printf("gradient descent, step 1/L, to 1e-8 of the first gradient, linreg(dim=4, n=500):\n");
  printf("  %-6s %10s %10s %10s\n", "scale", "raw", "pca", "zca");
  for (int s = 0; s < 3; s++) {
    for (int k = 0; k < 3; k++) {
      descent_dataset ds;
      descent_real *y;
      make_linreg(&ds, &y, 500, 4, scales[s], 3);
      descent_preprocess pp;
      CHECK_OK(descent_preprocess_fit(&pp, kinds[k], &ds, 1e-9));
      CHECK_OK(descent_preprocess_apply(&pp, &ds));
      steps[k][s] = gd_steps(&ds, y);
      descent_preprocess_free(&pp);
      descent_dataset_free(&ds);
      descent_free_real(y);
    }
    printf("  %-6g %10ld %10ld %10ld\n", scales[s], steps[0][s], steps[1][s], steps[2][s]);
  }
  CHECK(steps[0][2] > 1000 * steps[0][0]); /* raw: grows like scale^2 */
  for (int k = 1; k < 3; k++)
    for (int s = 0; s < 3; s++)
      CHECK_MSG(steps[k][s] == steps[k][0] && steps[k][s] <= 5,
                "%s at scale %g: %ld steps, %ld at scale 1", descent_preprocess_name(kinds[k]),
                scales[s], steps[k][s], steps[k][0]);
}

/* Standardizing fixes scales, not correlations: two features of equal scale
   that nearly coincide (x2 = x1 + 0.05 z) leave gradient descent slow after
   standardization, and whitening takes one step. */
static void check_correlated_steps(void) {
  const descent_preprocess_kind kinds[3] = {DESCENT_PREPROCESS_NONE, DESCENT_PREPROCESS_STANDARDIZE,
                                            DESCENT_PREPROCESS_ZCA};
  long steps[3];
  for (int k = 0; k < 3; k++) {
    descent_dataset ds = {.n = 500, .features = 2, .shape = {1, {2}}};
    ds.x = descent_alloc_real(1000, "test");
    descent_real *y = descent_alloc_real(500, "test");
    descent_rng rng;
    descent_rng_seed(&rng, 4);
    for (size_t i = 0; i < 500; i++) {
      double z1 = descent_rng_normal(&rng), z2 = descent_rng_normal(&rng);
      ds.x[2 * i] = (descent_real)z1;
      ds.x[2 * i + 1] = (descent_real)(z1 + 0.05 * z2);
      y[i] = (descent_real)(z1 - z2 + 0.1 * descent_rng_normal(&rng));
    }
    descent_preprocess pp;
    CHECK_OK(descent_preprocess_fit(&pp, kinds[k], &ds, 1e-9));
    CHECK_OK(descent_preprocess_apply(&pp, &ds));
    steps[k] = gd_steps(&ds, y);
    descent_preprocess_free(&pp);
    descent_dataset_free(&ds);
    descent_free_real(y);
  }
  printf("two nearly equal features: raw %ld steps, standardized %ld, zca %ld\n", steps[0],
         steps[1], steps[2]);
  CHECK(steps[1] > 100 * steps[2] && steps[2] <= 5);
}

static void check_api(void) {
  descent_preprocess_kind kind;
  CHECK_OK(descent_preprocess_parse("zca", &kind));
  CHECK(kind == DESCENT_PREPROCESS_ZCA);
  CHECK_OK(descent_preprocess_parse("pca", &kind));
  CHECK(kind == DESCENT_PREPROCESS_PCA);
  CHECK_FAILS(descent_preprocess_parse("whiten", &kind), DESCENT_EINVAL,
              "valid choices are none, standardize, pca, zca");
  CHECK(descent_preprocess_default_eps(DESCENT_PREPROCESS_ZCA) == 1e-2);
  CHECK(descent_preprocess_default_eps(DESCENT_PREPROCESS_STANDARDIZE) == 1e-3);
  descent_dataset ds, other;
  make_correlated(&ds, 50, 4, 1, 1);
  make_correlated(&other, 10, 5, 1, 1);
  descent_preprocess pp;
  CHECK_FAILS(descent_preprocess_fit(&pp, DESCENT_PREPROCESS_PCA, &ds, 0), DESCENT_EINVAL,
              "pca: eps must be a positive finite number");
  CHECK_OK(descent_preprocess_fit(&pp, DESCENT_PREPROCESS_PCA, &ds, 1e-2));
  CHECK(pp.whiten && pp.mean && !pp.inv_std && pp.eps == 1e-2);
  CHECK_FAILS(descent_preprocess_apply(&pp, &other), DESCENT_ESHAPE, "fitted on 4 features");
  descent_preprocess_free(&pp);
  CHECK(pp.whiten == NULL);
  descent_dataset_free(&ds);
  descent_dataset_free(&other);
}

int main(void) {
#ifndef DESCENT_DOUBLE
  fprintf(stderr, "test_whiten needs the double-precision library\n");
  return 1;
#endif
  check_eigen();
  check_identity_covariance();
  check_regression_steps();
  check_correlated_steps();
  check_api();
  return check_report();
}
