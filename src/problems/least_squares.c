/*
 * least_squares.c - least squares on generated data: linear regression with
 * badly scaled features (slide 16), and the 2D finite sum that stochastic
 * gradient samples from (slides 17 to 21).
 *
 * Both are f(theta) = 1/(2m) sum_i (x_i . theta - y_i)^2 over the m terms of a
 * batch (all n when the batch is NULL or names no indices), so a batch of
 * indices gives the stochastic gradient of the same f. The exact minimizer
 * solves the normal equations (X^T X) theta = X^T y, small enough here for a
 * Cholesky factorization in double. The terms' own gradients, summarized
 * as the gradient-noise instruments want them, have closed forms.
 */
#include "problem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* data: x (n x d), then y (n). */
static int lsq_eval(const problem *p, const descent_batch *batch, const double *theta, double *f,
                    double *grad) {
  size_t d = p->info.dim, n = p->info.n_terms;
  const double *x = p->data, *y = x + n * d;
  const size_t *idx = batch ? batch->indices : NULL;
  size_t m = idx ? batch->n : n;
  if (grad)
    for (size_t j = 0; j < d; j++) grad[j] = 0;
  double sum = 0;
  for (size_t k = 0; k < m; k++) {
    size_t i = idx ? idx[k] : k;
    double r = -y[i];
    for (size_t j = 0; j < d; j++) r += x[i * d + j] * theta[j];
    sum += r * r;
    if (grad)
      for (size_t j = 0; j < d; j++) grad[j] += r * x[i * d + j];
  }
  *f = sum / (2.0 * (double)m);
  if (grad)
    for (size_t j = 0; j < d; j++) grad[j] /= (double)m;
  return DESCENT_OK;
}

/* H = 1/m sum_i x_i x_i^T over the batch's terms; the residuals are linear
   in theta, so the Gauss-Newton matrix is the same. */
static void lsq_hvp(const problem *p, const descent_batch *batch, const double *theta,
                    const descent_real *v, double *out) {
  (void)theta;
  size_t d = p->info.dim, n = p->info.n_terms;
  const double *x = p->data;
  const size_t *idx = batch ? batch->indices : NULL;
  size_t m = idx ? batch->n : n;
  for (size_t j = 0; j < d; j++) out[j] = 0;
  for (size_t k = 0; k < m; k++) {
    const double *xi = x + (idx ? idx[k] : k) * d;
    double xv = 0;
    for (size_t j = 0; j < d; j++) xv += xi[j] * (double)v[j];
    for (size_t j = 0; j < d; j++) out[j] += xv * xi[j];
  }
  for (size_t j = 0; j < d; j++) out[j] /= (double)m;
}

/* Term i's gradient is r_i x_i with r_i = x_i . theta - y_i, so |g_i|^2 =
   r_i^2 |x_i|^2 and g_i . v = r_i (x_i . v): closed forms, no vector
   formed. */
static void lsq_examples(const problem *p, const descent_batch *batch, const double *theta,
                         const descent_real *v, double *sq, double *dot) {
  size_t d = p->info.dim, n = p->info.n_terms;
  const double *x = p->data, *y = x + n * d;
  const size_t *idx = batch ? batch->indices : NULL;
  size_t m = idx ? batch->n : n;
  for (size_t k = 0; k < m; k++) {
    size_t i = idx ? idx[k] : k;
    const double *xi = x + i * d;
    double r = -y[i], xx = 0, xv = 0;
    for (size_t j = 0; j < d; j++) {
      r += xi[j] * theta[j];
      xx += xi[j] * xi[j];
      if (v) xv += xi[j] * (double)v[j];
    }
    sq[k] = r * r * xx;
    if (v) dot[k] = r * xv;
  }
}

/* Solves the normal equations for the minimizer and finds the Hessian's
   extreme eigenvalues. */
static int lsq_finish(problem *p) {
  size_t d = p->info.dim, n = p->info.n_terms;
  const double *x = p->data, *y = x + n * d;
  double *h = descent_calloc(2 * d * d + d, sizeof *h, "least squares");
  if (!h) return DESCENT_ENOMEM;
  double *chol = h + d * d, *rhs = chol + d * d;
  for (size_t i = 0; i < n; i++)
    for (size_t a = 0; a < d; a++) {
      rhs[a] += x[i * d + a] * y[i] / (double)n;
      for (size_t b = 0; b < d; b++) h[a * d + b] += x[i * d + a] * x[i * d + b] / (double)n;
    }
  /* Cholesky: H = L L^T, L in chol's lower triangle */
  memcpy(chol, h, d * d * sizeof *h);
  for (size_t j = 0; j < d; j++) {
    double s = chol[j * d + j];
    for (size_t k = 0; k < j; k++) s -= chol[j * d + k] * chol[j * d + k];
    if (!(s > 0)) {
      free(h);
      return descent_fail(DESCENT_EINVAL, "%s: the features are linearly dependent",
                          p->info.family);
    }
    chol[j * d + j] = sqrt(s);
    for (size_t i = j + 1; i < d; i++) {
      double t = chol[i * d + j];
      for (size_t k = 0; k < j; k++) t -= chol[i * d + k] * chol[j * d + k];
      chol[i * d + j] = t / chol[j * d + j];
    }
  }
  double *w = p->minimizer;
  for (size_t i = 0; i < d; i++) { /* L z = rhs */
    double t = rhs[i];
    for (size_t k = 0; k < i; k++) t -= chol[i * d + k] * w[k];
    w[i] = t / chol[i * d + i];
  }
  for (size_t i = d; i-- > 0;) { /* L^T w = z */
    double t = w[i];
    for (size_t k = i + 1; k < d; k++) t -= chol[k * d + i] * w[k];
    w[i] = t / chol[i * d + i];
  }
  lsq_eval(p, NULL, w, &p->info.f_min, NULL);
  p->minima_f[0] = p->info.f_min;
  double *eig = chol; /* reused: d numbers */
  problem_symmetric_eigenvalues(h, d, eig);
  p->info.curvature_min = eig[0];
  p->info.curvature_max = eig[d - 1];
  free(h);
  return DESCENT_OK;
}

static int lsq_alloc(problem *p, size_t n) {
  size_t d = p->info.dim;
  p->info.n_terms = n;
  p->data = descent_calloc(n * (d + 1), sizeof(double), "least squares data");
  if (!p->data) return DESCENT_ENOMEM;
  p->eval = lsq_eval;
  p->hvp = p->ggn = lsq_hvp;
  p->examples = lsq_examples;
  return DESCENT_OK;
}

/* A window around the start and the minimizer (first two coordinates). */
static void lsq_window(problem *p) {
  for (int i = 0; i < 2 && (size_t)i < p->info.dim; i++) {
    double a = p->start[i], b = p->minimizer[i];
    double lo = a < b ? a : b, hi = a < b ? b : a, pad = 0.25 * (hi - lo) + 1e-3 * (1 + fabs(hi));
    p->info.lo[i] = lo - pad;
    p->info.hi[i] = hi + pad;
  }
}

/* ---- linreg ------------------------------------------------------------------ */

static size_t linreg_dim(const double *hp) {
  return (size_t)hp[3];
}

static int linreg_setup(problem *p, const double *hp, const char **texts) {
  (void)texts;
  double scale = hp[0];
  size_t n = (size_t)hp[2], d = p->info.dim;
  int rc = lsq_alloc(p, n);
  if (rc) return rc;
  double *x = p->data, *y = x + n * d;
  descent_rng rng;
  descent_rng_seed(&rng, (uint64_t)hp[4]);
  /* Feature j is a standard normal measured in a unit scale^(j/(d-1)) times
     smaller, so its coefficient is that much smaller: the same relation, badly
     scaled, as a length in meters beside one in millimeters. */
  for (size_t i = 0; i < n; i++) {
    double target = 0;
    for (size_t j = 0; j < d; j++) {
      double unit = d > 1 ? pow(scale, (double)j / (double)(d - 1)) : scale;
      double z = descent_rng_normal(&rng);
      x[i * d + j] = z * unit;
      target += z;
    }
    y[i] = target + 0.1 * descent_rng_normal(&rng);
  }
  if (hp[1] != 0) { /* standardize each feature: zero mean, unit variance */
    for (size_t j = 0; j < d; j++) {
      double mean = 0, var = 0;
      for (size_t i = 0; i < n; i++) mean += x[i * d + j] / (double)n;
      for (size_t i = 0; i < n; i++) var += (x[i * d + j] - mean) * (x[i * d + j] - mean);
      double sd = sqrt(var / (double)n);
      for (size_t i = 0; i < n; i++) x[i * d + j] = (x[i * d + j] - mean) / (sd > 0 ? sd : 1);
    }
  }
  for (size_t j = 0; j < d; j++) p->start[j] = 0;
  rc = lsq_finish(p);
  if (rc) return rc;
  lsq_window(p);
  return DESCENT_OK;
}

static const spec_param linreg_params[] = {
    {"scale", SPEC_NUMBER, 100, 0, 1e6, 1, 0, 0,
     "the last feature is this many times larger than the first"},
    {"normalize", SPEC_BOOL, 0, 0, 1, 0, 0, 0, "1: standardize every feature first"},
    {"n", SPEC_INTEGER, 200, 2, 1e7, 0, 0, 0, "number of examples"},
    {"dim", SPEC_INTEGER, 2, 1, 20, 0, 0, 0, "number of features"},
    {"seed", SPEC_INTEGER, 1, 0, 1e15, 0, 0, 0, "seed of the data"},
};

const problem_family problem_linreg = {
    "linreg",
    "f = 1/(2n) sum_i (x_i . theta - y_i)^2, feature j scaled by scale^(j/(dim-1)); start 0",
    linreg_params,
    N_OF(linreg_params),
    NULL,
    linreg_dim,
    linreg_setup,
};

/* ---- finite_sum -------------------------------------------------------------- */

static size_t dim_two(const double *hp) {
  (void)hp;
  return 2;
}

static int finite_sum_setup(problem *p, const double *hp, const char **texts) {
  (void)texts;
  size_t n = (size_t)hp[0];
  int rc = lsq_alloc(p, n);
  if (rc) return rc;
  double *x = p->data, *y = x + n * 2;
  descent_rng rng;
  descent_rng_seed(&rng, (uint64_t)hp[2]);
  /* Inputs of unequal spread make elliptic contours; the noise in the targets
     makes each term's minimum differ from the sum's, which is what leaves a
     constant-step SGD bouncing. */
  for (size_t i = 0; i < n; i++) {
    x[i * 2] = descent_rng_normal(&rng);
    x[i * 2 + 1] = 0.5 * descent_rng_normal(&rng);
    y[i] = x[i * 2] + x[i * 2 + 1] + hp[1] * descent_rng_normal(&rng);
  }
  p->start[0] = -2;
  p->start[1] = 4;
  rc = lsq_finish(p);
  if (rc) return rc;
  lsq_window(p);
  return DESCENT_OK;
}

static const spec_param finite_sum_params[] = {
    {"n", SPEC_INTEGER, 100, 2, 1e7, 0, 0, 0, "number of terms"},
    {"noise", SPEC_NUMBER, 0.5, 0, INFINITY, 0, 0, 0, "standard deviation of the target noise"},
    {"seed", SPEC_INTEGER, 1, 0, 1e15, 0, 0, 0, "seed of the data"},
};

const problem_family problem_finite_sum = {
    "finite_sum",
    "f = 1/(2n) sum_i (a_i . theta - b_i)^2 in 2D, a_i ~ N(0, diag(1, 1/4)), b_i = a_i . (1, 1) "
    "+ noise; start (-2, 4)",
    finite_sum_params,
    N_OF(finite_sum_params),
    NULL,
    dim_two,
    finite_sum_setup,
};
