/*
 * quadratic_deep.c - DeepOBS's noisy quadratic with a deep-learning spectrum
 * (Schneider et al. 2019, test problem P1; deepobs/tensorflow/testproblems/
 * quadratic_deep.py, _quadratic.py and datasets/quadratic.py), the same
 * numbers as DeepOBS's.
 *
 * f(theta) = 1/m sum_i 1/2 (theta - x_i)^T Q (theta - x_i) over the m terms
 * of a batch, theta in R^100 starting at (1, ..., 1). Q = R^T diag(lambda) R:
 * 90 eigenvalues uniform in (0, 1), 10 uniform in (30, 60) (the spectrum
 * Chaudhari et al. report for deep networks), R a uniformly random rotation
 * (Diaconis and Shahshahani's subgroup algorithm), both drawn from numpy's
 * RandomState(42) in DeepOBS's order. The terms x_i are n draws of
 * N(0, noise^2 I) from RandomState(data_seed), rounded to float as DeepOBS
 * rounds them: seed 42 is DeepOBS's training set, 43 its test set. So that
 * the draws are DeepOBS's, this file carries numpy's legacy generator:
 * MT19937 seeded by init_genrand, 53-bit doubles and the polar method's
 * normals with its cached second value.
 */
#include "problem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define QD_DIM 100
#define PI     3.14159265358979323846

/* ---- numpy's RandomState ------------------------------------------------ */

typedef struct np_random {
  uint32_t key[624];
  int pos;
  int has_gauss;
  double gauss;
} np_random;

/* RandomState(seed) for an integer seed: mt19937_seed. */
static void np_seed(np_random *r, uint32_t seed) {
  for (int i = 0; i < 624; i++) {
    r->key[i] = seed;
    seed = 1812433253u * (seed ^ (seed >> 30)) + (uint32_t)i + 1u;
  }
  r->pos = 624;
  r->has_gauss = 0;
  r->gauss = 0;
}

static uint32_t np_next32(np_random *r) {
  if (r->pos == 624) {
    for (int i = 0; i < 624; i++) {
      uint32_t y = (r->key[i] & 0x80000000u) | (r->key[(i + 1) % 624] & 0x7fffffffu);
      r->key[i] = r->key[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    r->pos = 0;
  }
  uint32_t y = r->key[r->pos++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  return y ^ (y >> 18);
}

/* random_sample: 53 bits, (a * 2^26 + b) / 2^53. */
static double np_double(np_random *r) {
  uint32_t a = np_next32(r) >> 5, b = np_next32(r) >> 6;
  return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

/* legacy_gauss: the polar method, keeping the pair's second value. */
static double np_gauss(np_random *r) {
  if (r->has_gauss) {
    r->has_gauss = 0;
    return r->gauss;
  }
  double x1, x2, r2;
  do {
    x1 = 2.0 * np_double(r) - 1.0;
    x2 = 2.0 * np_double(r) - 1.0;
    r2 = x1 * x1 + x2 * x2;
  } while (r2 >= 1.0 || r2 == 0.0);
  double f = sqrt(-2.0 * log(r2) / r2);
  r->gauss = f * x1;
  r->has_gauss = 1;
  return f * x2;
}

/* ---- the problem ------------------------------------------------------- */

/* data: Q (dim x dim, row-major), the terms x (n x dim), each term's
   c_i = x_i^T Q x_i (n), the eigenvalues (dim), Q's scratch product (dim). */
typedef struct qd_data {
  double *q, *x, *c, *eig, *tmp;
} qd_data;

static qd_data qd_parts(const problem *p) {
  size_t d = p->info.dim, n = p->info.n_terms;
  qd_data v;
  v.q = p->data;
  v.x = v.q + d * d;
  v.c = v.x + n * d;
  v.eig = v.c + n;
  v.tmp = v.eig + d;
  return v;
}

/* out = Q a. */
static void qd_apply(const double *q, size_t d, const double *a, double *out) {
  for (size_t i = 0; i < d; i++) {
    double s = 0;
    for (size_t j = 0; j < d; j++) s += q[i * d + j] * a[j];
    out[i] = s;
  }
}

/* With xbar the batch's mean term, the mean of 1/2 (theta - x_i)^T Q
   (theta - x_i) is 1/2 theta^T Q theta - theta^T Q xbar + 1/2 mean(c_i),
   and its gradient Q (theta - xbar): one product per evaluation. */
static int qd_eval(const problem *p, const descent_batch *batch, const double *theta, double *f,
                   double *grad) {
  size_t d = p->info.dim, n = p->info.n_terms;
  qd_data v = qd_parts(p);
  const size_t *idx = batch ? batch->indices : NULL;
  size_t m = idx ? batch->n : n;
  /* Zeroed whole: d is QD_DIM, which GCC cannot see through qd_parts. */
  double diff[QD_DIM] = {0}, qdiff[QD_DIM] = {0};
  double csum = 0;
  for (size_t k = 0; k < m; k++) {
    size_t i = idx ? idx[k] : k;
    for (size_t j = 0; j < d; j++) diff[j] += v.x[i * d + j];
    csum += v.c[i];
  }
  for (size_t j = 0; j < d; j++) diff[j] = theta[j] - diff[j] / (double)m;
  /* theta^T Q theta - 2 theta^T Q xbar = (theta - xbar)^T Q (theta - xbar)
     - xbar^T Q xbar; written through theta - xbar so the gradient is a
     by-product. */
  qd_apply(v.q, d, diff, qdiff);
  double quad = 0, xqx = 0;
  for (size_t j = 0; j < d; j++) quad += diff[j] * qdiff[j];
  /* xbar^T Q xbar, with xbar = theta - diff */
  double xbar[QD_DIM] = {0}, qxbar[QD_DIM] = {0};
  for (size_t j = 0; j < d; j++) xbar[j] = theta[j] - diff[j];
  qd_apply(v.q, d, xbar, qxbar);
  for (size_t j = 0; j < d; j++) xqx += xbar[j] * qxbar[j];
  *f = 0.5 * (quad - xqx + csum / (double)m);
  if (grad)
    for (size_t j = 0; j < d; j++) grad[j] = qdiff[j];
  return DESCENT_OK;
}

/* The Hessian is Q on every batch; f = 1/2 |Q^(1/2) (theta - x)|^2 averaged
   is a sum of squares of linear residuals, so the Gauss-Newton matrix is Q
   too. */
static void qd_hvp(const problem *p, const descent_batch *batch, const double *theta,
                   const descent_real *vec, double *out) {
  (void)batch, (void)theta;
  size_t d = p->info.dim;
  double a[QD_DIM];
  for (size_t j = 0; j < d; j++) a[j] = (double)vec[j];
  qd_apply(p->data, d, a, out);
}

/* Term i's gradient g_i = Q (theta - x_i): |g_i|^2 and g_i . v. */
static void qd_examples(const problem *p, const descent_batch *batch, const double *theta,
                        const descent_real *vec, double *sq, double *dot) {
  size_t d = p->info.dim, n = p->info.n_terms;
  qd_data v = qd_parts(p);
  const size_t *idx = batch ? batch->indices : NULL;
  size_t m = idx ? batch->n : n;
  double diff[QD_DIM], g[QD_DIM];
  for (size_t k = 0; k < m; k++) {
    size_t i = idx ? idx[k] : k;
    for (size_t j = 0; j < d; j++) diff[j] = theta[j] - v.x[i * d + j];
    qd_apply(v.q, d, diff, g);
    double s = 0, t = 0;
    for (size_t j = 0; j < d; j++) {
      s += g[j] * g[j];
      if (vec) t += g[j] * (double)vec[j];
    }
    sq[k] = s;
    if (vec) dot[k] = t;
  }
}

/* quadratic_deep.py's random_rotation(D), in double as numpy computes it:
   start from a random 2D rotation, then for d = 2 .. D-1 embed R in
   SO(d+1) as diag(1, R) and reflect it by the Householder vector that takes
   e_1 to a uniform point v on the sphere; finally negate. r receives D x D
   numbers; work holds D x D. */
static void qd_rotation(np_random *rng, size_t dim, double *r, double *work) {
  double t = 2 * PI * np_double(rng);
  r[0] = cos(t), r[1] = sin(t), r[2] = -sin(t), r[3] = cos(t);
  double v[QD_DIM], x[QD_DIM], xd[QD_DIM];
  for (size_t d = 2; d < dim; d++) {
    size_t n = d + 1; /* the new size; r is d x d, row-major with stride d */
    double vv = 0;
    for (size_t i = 0; i < n; i++) v[i] = np_gauss(rng);
    for (size_t i = 0; i < n; i++) vv += v[i] * v[i];
    double norm = sqrt(vv);
    for (size_t i = 0; i < n; i++) v[i] = v[i] / norm;
    double ee = 0;
    for (size_t i = 0; i < n; i++) {
      x[i] = (i == 0 ? 1.0 : 0.0) - v[i];
      ee += x[i] * x[i];
    }
    double en = sqrt(ee);
    for (size_t i = 0; i < n; i++) x[i] = x[i] / en;
    /* work = diag(1, R), n x n */
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++)
        work[i * n + j] = (i == 0 || j == 0) ? (i == j ? 1.0 : 0.0) : r[(i - 1) * d + (j - 1)];
    /* R = D - 2 outer(x, x^T D) */
    for (size_t j = 0; j < n; j++) {
      double s = 0;
      for (size_t k = 0; k < n; k++) s += x[k] * work[k * n + j];
      xd[j] = s;
    }
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < n; j++) r[i * n + j] = work[i * n + j] - 2 * x[i] * xd[j];
  }
  for (size_t i = 0; i < dim * dim; i++) r[i] = -r[i];
}

static size_t qd_dim(const double *hp) {
  (void)hp;
  return QD_DIM;
}

static int qd_setup(problem *p, const double *hp, const char **texts) {
  (void)texts;
  size_t d = QD_DIM, n = (size_t)hp[0];
  double noise = hp[1];
  uint32_t data_seed = (uint32_t)hp[2];
  p->info.n_terms = n;
  p->data = descent_calloc(d * d + n * d + n + 2 * d, sizeof(double), "quadratic_deep");
  double *r = descent_calloc(2 * d * d, sizeof(double), "quadratic_deep rotation");
  if (!p->data || !r) {
    free(r);
    return DESCENT_ENOMEM;
  }
  p->eval = qd_eval;
  p->hvp = p->ggn = qd_hvp;
  p->examples = qd_examples;
  qd_data v = qd_parts(p);
  /* The problem's fixed properties, from the module's RandomState(42). */
  np_random rng;
  np_seed(&rng, 42);
  for (size_t i = 0; i < 90; i++) v.eig[i] = 0.0 + (1.0 - 0.0) * np_double(&rng);
  for (size_t i = 90; i < d; i++) v.eig[i] = 30.0 + (60.0 - 30.0) * np_double(&rng);
  qd_rotation(&rng, d, r, r + d * d);
  /* Q = R^T diag(lambda) R */
  for (size_t a = 0; a < d; a++)
    for (size_t b = 0; b < d; b++) {
      double s = 0;
      for (size_t k = 0; k < d; k++) s += r[k * d + a] * v.eig[k] * r[k * d + b];
      v.q[a * d + b] = s;
    }
  free(r);
  /* The terms: rng.normal(0, noise, (n, dim)), then np.float32. */
  np_seed(&rng, data_seed);
  for (size_t i = 0; i < n * d; i++) v.x[i] = (double)(float)(0.0 + noise * np_gauss(&rng));
  for (size_t i = 0; i < n; i++) {
    qd_apply(v.q, d, v.x + i * d, v.tmp);
    double s = 0;
    for (size_t j = 0; j < d; j++) s += v.x[i * d + j] * v.tmp[j];
    v.c[i] = s;
  }
  /* The minimizer of the whole sum is the mean term. */
  for (size_t j = 0; j < d; j++) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v.x[i * d + j];
    p->minimizer[j] = s / (double)n;
    p->start[j] = 1.0;
  }
  qd_eval(p, NULL, p->minimizer, &p->info.f_min, NULL);
  p->minima_f[0] = p->info.f_min;
  double lo = v.eig[0], hi = v.eig[0];
  for (size_t k = 1; k < d; k++) lo = fmin(lo, v.eig[k]), hi = fmax(hi, v.eig[k]);
  p->info.curvature_min = lo;
  p->info.curvature_max = hi;
  for (int i = 0; i < 2; i++) {
    double a = p->start[i], b = p->minimizer[i];
    double l = fmin(a, b), h = fmax(a, b), pad = 0.25 * (h - l) + 1e-3;
    p->info.lo[i] = l - pad;
    p->info.hi[i] = h + pad;
  }
  return DESCENT_OK;
}

static const spec_param qd_params[] = {
    {"n", SPEC_INTEGER, 1000, 1, 1e6, 0, 0, 0, "number of terms (DeepOBS: 1000)"},
    {"noise", SPEC_NUMBER, 0.6, 0, INFINITY, 0, 0, 0,
     "standard deviation of the terms around 0 (DeepOBS: 0.6)"},
    {"data_seed", SPEC_INTEGER, 42, 0, 4294967295.0, 0, 0, 0,
     "numpy seed of the terms: 42 DeepOBS's training set, 43 its test set"},
};

const problem_family problem_quadratic_deep = {
    "quadratic_deep",
    "DeepOBS's f = 1/n sum_i 1/2 (theta - x_i)^T Q (theta - x_i) in 100D, Q's eigenvalues 90 in "
    "(0, 1) and 10 in (30, 60), x_i ~ N(0, noise^2 I); start (1, ..., 1)",
    qd_params,
    N_OF(qd_params),
    NULL,
    qd_dim,
    qd_setup,
};
