/*
 * quadratic.c - quadratics f = 1/2 theta^T A theta with a chosen spectrum:
 * the 2D valley of slides 13 and 14 (condition number and rotation), and its
 * n-dimensional version.
 *
 * On a quadratic everything about gradient descent is known in closed form
 * (each eigen-direction shrinks by |1 - alpha lambda| per step), which is what
 * makes it the place to measure conditioning: the demos' iteration counts can
 * be checked against theory. The minimizer is the origin and f_min is 0, so
 * distances and gaps need no subtraction that could lose digits.
 */
#include "problem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

/* data: the dim x dim matrix A, row-major. */
static int quadratic_eval(const problem *p, const descent_batch *batch, const double *theta,
                          double *f, double *grad) {
  (void)batch;
  const double *a = p->data;
  size_t n = p->info.dim;
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    double row = 0;
    for (size_t j = 0; j < n; j++) row += a[i * n + j] * theta[j];
    sum += theta[i] * row;
    if (grad) grad[i] = row;
  }
  *f = 0.5 * sum;
  return DESCENT_OK;
}

/* H = A. */
static void quadratic_hvp(const problem *p, const descent_batch *batch, const double *theta,
                          const descent_real *v, double *out) {
  (void)batch, (void)theta;
  const double *a = p->data;
  size_t n = p->info.dim;
  for (size_t i = 0; i < n; i++) {
    double row = 0;
    for (size_t j = 0; j < n; j++) row += a[i * n + j] * (double)v[j];
    out[i] = row;
  }
}

static int quadratic_alloc(problem *p) {
  size_t n = p->info.dim, count;
  if (!descent_mul_ok(n, n, &count)) return descent_fail(DESCENT_ERANGE, "quadratic too large");
  p->data = descent_calloc(count, sizeof(double), "quadratic matrix");
  if (!p->data) return DESCENT_ENOMEM;
  p->eval = quadratic_eval;
  p->hvp = quadratic_hvp;
  /* Both families build A with positive eigenvalues, so f = 1/2 |A^(1/2) theta|^2
     is a sum of squares of linear residuals: its Gauss-Newton matrix
     J^T J = A is its Hessian. */
  p->ggn = quadratic_hvp;
  p->info.f_min = 0;
  p->minima_f[0] = 0;
  return DESCENT_OK;
}

/* ---- quad2d ----------------------------------------------------------------- */

static size_t dim_two(const double *hp) {
  (void)hp;
  return 2;
}

static int quad2d_setup(problem *p, const double *hp, const char **texts) {
  (void)texts;
  int rc = quadratic_alloc(p);
  if (rc) return rc;
  double kappa = hp[0], angle = hp[1] * PI / 180, big = hp[2], small = big / kappa;
  double c = cos(angle), s = sin(angle);
  /* A = R diag(big, small) R^T: the steep axis is (c, s), the flat one (-s, c) */
  double *a = p->data;
  a[0] = big * c * c + small * s * s;
  a[1] = a[2] = (big - small) * c * s;
  a[3] = big * s * s + small * c * c;
  p->info.curvature_max = big;
  p->info.curvature_min = small;
  /* One unit across the valley and three along it: far enough along the flat
     direction for the slow progress there to show. */
  double across = 1, along = 3;
  p->start[0] = across * c - along * s;
  p->start[1] = across * s + along * c;
  double r = 1.15 * sqrt(across * across + along * along);
  for (int i = 0; i < 2; i++) {
    p->info.lo[i] = -r;
    p->info.hi[i] = r;
  }
  return DESCENT_OK;
}

static const spec_param quad2d_params[] = {
    {"kappa", SPEC_NUMBER, 10, 1, 1e12, 0, 0, 0, "condition number: largest / smallest curvature"},
    {"angle", SPEC_NUMBER, 0, -360, 360, 0, 0, 0, "rotation of the axes, in degrees"},
    {"curvature", SPEC_NUMBER, 1, 0, INFINITY, 1, 0, 0, "largest curvature L"},
};

const problem_family problem_quad2d = {
    "quad2d",
    "f = 1/2 theta^T A theta, eigenvalues curvature and curvature/kappa, axes turned by angle; "
    "start 1 across the valley, 3 along it",
    quad2d_params,
    N_OF(quad2d_params),
    NULL,
    dim_two,
    quad2d_setup,
};

/* ---- quadnd ----------------------------------------------------------------- */

static size_t dim_n(const double *hp) {
  return (size_t)hp[0];
}

/* a <- H a H with H = I - 2 v v^T / |v|^2: one random reflection applied on
   both sides keeps A symmetric with the same eigenvalues. */
static void reflect(double *a, size_t n, descent_rng *rng, double *v, double *w) {
  double norm2 = 0;
  for (size_t i = 0; i < n; i++) {
    v[i] = descent_rng_normal(rng);
    norm2 += v[i] * v[i];
  }
  /* A v, then A - 2 v (A v)^T / |v|^2 - 2 (A v) v^T / |v|^2 + 4 (v^T A v) v v^T / |v|^4 */
  double vav = 0;
  for (size_t i = 0; i < n; i++) {
    double s = 0;
    for (size_t j = 0; j < n; j++) s += a[i * n + j] * v[j];
    w[i] = s;
    vav += v[i] * s;
  }
  double k = 2 / norm2, k2 = 4 * vav / (norm2 * norm2);
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < n; j++)
      a[i * n + j] += -k * v[i] * w[j] - k * w[i] * v[j] + k2 * v[i] * v[j];
}

static int quadnd_setup(problem *p, const double *hp, const char **texts) {
  size_t n = p->info.dim;
  double kappa = hp[1];
  const char *spectrum = texts[2];
  int kind = strcmp(spectrum, "geometric") == 0 ? 0
             : strcmp(spectrum, "linear") == 0  ? 1
             : strcmp(spectrum, "two") == 0     ? 2
                                                : -1;
  if (kind < 0)
    return descent_fail(DESCENT_EINVAL,
                        "problem: quadnd(spectrum=%s): unknown spectrum; valid spectra: geometric, "
                        "linear, two",
                        spectrum);
  int rc = quadratic_alloc(p);
  if (rc) return rc;
  double *a = p->data;
  for (size_t i = 0; i < n; i++) {
    double u = n > 1 ? (double)i / (double)(n - 1) : 0;
    double lambda = kind == 0   ? pow(kappa, -u)
                    : kind == 1 ? 1 - (1 - 1 / kappa) * u
                                : (i < (n + 1) / 2 ? 1 : 1 / kappa);
    a[i * n + i] = lambda;
  }
  p->info.curvature_max = 1;
  p->info.curvature_min = n > 1 ? 1 / kappa : 1;
  if (hp[3] != 0) {
    double *v = descent_calloc(2 * n, sizeof *v, "quadnd rotation");
    if (!v) return DESCENT_ENOMEM;
    descent_rng rng;
    descent_rng_seed(&rng, (uint64_t)hp[4]);
    for (size_t r = 0; r < n; r++) reflect(a, n, &rng, v, v + n);
    free(v);
  }
  for (size_t i = 0; i < n; i++) p->start[i] = 1;
  p->info.lo[0] = p->info.lo[1] = -1.5;
  p->info.hi[0] = p->info.hi[1] = 1.5;
  return DESCENT_OK;
}

static const spec_param quadnd_params[] = {
    {"dim", SPEC_INTEGER, 100, 1, 2000, 0, 0, 0, "number of parameters"},
    {"kappa", SPEC_NUMBER, 100, 1, 1e12, 0, 0, 0, "condition number"},
    {"spectrum", SPEC_TEXT, 0, 0, 0, 0, 0, 0,
     "eigenvalues from 1 down to 1/kappa: geometric, linear, or two (half 1, half 1/kappa)"},
    {"rotate", SPEC_BOOL, 0, 0, 1, 0, 0, 0, "1: turn the eigenvectors by a random rotation"},
    {"seed", SPEC_INTEGER, 1, 0, 1e15, 0, 0, 0, "seed of the rotation"},
};

const problem_family problem_quadnd = {
    "quadnd",      "f = 1/2 theta^T A theta in dim dimensions with a chosen spectrum; start 1",
    quadnd_params, N_OF(quadnd_params),
    "geometric",   dim_n,
    quadnd_setup,
};
