/*
 * oned.c - the lecture's one-dimensional functions (slides 5 to 9 and 23 to
 * 25): a quadratic, a convex function that is not quadratic, and a
 * non-convex function with four minima.
 *
 * The non-convex function was chosen so that the lecture's three runs come out
 * as its pictures show: from theta0 = 0 with alpha = 1/2 gradient descent
 * rolls into the minimum at -1.60 (the global one); from theta0 = 5 with the
 * same step into the one at 4.27; from theta0 = 0 with alpha = 2 it bounces for
 * about twenty steps and settles at 0.88, the only minimum whose curvature
 * (0.60) is below 2/alpha = 1, so the only one where that step is stable.
 */
#include "problem.h"

#include <math.h>

static size_t dim_one(const double *hp) {
  (void)hp;
  return 1;
}

static void set_window(problem *p, double lo, double hi) {
  p->info.lo[0] = p->info.lo[1] = lo;
  p->info.hi[0] = p->info.hi[1] = hi;
}

/* ---- quad1d: f = c/2 (theta - center)^2 ----------------------------------- */

static int quad1d_eval(const problem *p, const descent_batch *batch, const double *theta, double *f,
                       double *grad) {
  (void)batch;
  double c = p->hp[0], d = theta[0] - p->hp[1];
  *f = 0.5 * c * d * d;
  if (grad) grad[0] = c * d;
  return DESCENT_OK;
}

static void quad1d_hvp(const problem *p, const descent_batch *batch, const double *theta,
                       const descent_real *v, double *out) {
  (void)batch, (void)theta;
  out[0] = p->hp[0] * (double)v[0];
}

static int quad1d_setup(problem *p, const double *hp, const char **texts) {
  (void)texts;
  p->eval = quad1d_eval;
  p->hvp = quad1d_hvp;
  p->minimizer[0] = hp[1];
  p->minima_f[0] = p->info.f_min = 0;
  p->info.curvature_max = p->info.curvature_min = hp[0];
  p->start[0] = hp[1] + 3;
  set_window(p, hp[1] - 5, hp[1] + 5);
  return DESCENT_OK;
}

static const spec_param quad1d_params[] = {
    {"curvature", SPEC_NUMBER, 0.5, 0, INFINITY, 1, 0, 0, "second derivative L"},
    {"center", SPEC_NUMBER, 0, -INFINITY, INFINITY, 0, 0, 0, "the minimizer"},
};

const problem_family problem_quad1d = {
    "quad1d",      "f = curvature/2 (theta - center)^2; start center + 3",
    quad1d_params, N_OF(quad1d_params),
    NULL,          dim_one,
    quad1d_setup,
};

/* ---- logcosh: f = c log cosh(theta) -------------------------------------- */

static int logcosh_eval(const problem *p, const descent_batch *batch, const double *theta,
                        double *f, double *grad) {
  (void)batch;
  double c = p->hp[0], a = fabs(theta[0]);
  /* log cosh x = |x| + log(1 + e^{-2|x|}) - log 2, which cannot overflow */
  *f = c * (a + log1p(exp(-2 * a)) - log(2.0));
  if (grad) grad[0] = c * tanh(theta[0]);
  return DESCENT_OK;
}

/* f'' = c (1 - tanh^2). */
static void logcosh_hvp(const problem *p, const descent_batch *batch, const double *theta,
                        const descent_real *v, double *out) {
  (void)batch;
  double t = tanh(theta[0]);
  out[0] = p->hp[0] * (1 - t * t) * (double)v[0];
}

static int logcosh_setup(problem *p, const double *hp, const char **texts) {
  (void)texts;
  p->eval = logcosh_eval;
  p->hvp = logcosh_hvp;
  p->minimizer[0] = 0;
  p->minima_f[0] = p->info.f_min = 0;
  p->info.curvature_max = p->info.curvature_min = hp[0];
  p->start[0] = 3;
  set_window(p, -5, 5);
  return DESCENT_OK;
}

static const spec_param logcosh_params[] = {
    {"curvature", SPEC_NUMBER, 1, 0, INFINITY, 1, 0, 0,
     "second derivative at the minimum (and largest gradient)"},
};

const problem_family problem_logcosh = {
    "logcosh",      "f = curvature log cosh(theta): convex, flat far away; start 3",
    logcosh_params, N_OF(logcosh_params),
    NULL,           dim_one,
    logcosh_setup,
};

/* ---- nonconvex1d: f = theta^2/10 + sin(theta) + sin(2 theta + 2)/2 ------- */

static int nonconvex1d_eval(const problem *p, const descent_batch *batch, const double *theta,
                            double *f, double *grad) {
  (void)p, (void)batch;
  double x = theta[0];
  *f = 0.1 * x * x + sin(x) + 0.5 * sin(2 * x + 2);
  if (grad) grad[0] = 0.2 * x + cos(x) + cos(2 * x + 2);
  return DESCENT_OK;
}

static void nonconvex1d_hvp(const problem *p, const descent_batch *batch, const double *theta,
                            const descent_real *v, double *out) {
  (void)p, (void)batch;
  double x = theta[0];
  out[0] = (0.2 - sin(x) - 2 * sin(2 * x + 2)) * (double)v[0];
}

static int nonconvex1d_setup(problem *p, const double *hp, const char **texts) {
  (void)hp, (void)texts;
  p->eval = nonconvex1d_eval;
  p->hvp = nonconvex1d_hvp;
  /* |cos x + cos(2x + 2)| <= 2 < 0.2 |x| beyond |x| = 10: no minimum there */
  int rc = problem_find_minima_1d(p, -10, 10);
  if (rc) return rc;
  size_t best = 0;
  for (size_t m = 1; m < p->info.n_minima; m++)
    if (p->minima_f[m] < p->minima_f[best]) best = m;
  p->minimizer[0] = p->minima[best];
  p->info.f_min = p->minima_f[best];
  double x = p->minimizer[0];
  p->info.curvature_max = p->info.curvature_min = 0.2 - sin(x) - 2 * sin(2 * x + 2);
  p->start[0] = 0;
  set_window(p, -9, 7);
  return DESCENT_OK;
}

const problem_family problem_nonconvex1d = {
    "nonconvex1d",
    "f = theta^2/10 + sin(theta) + sin(2 theta + 2)/2: minima at -7.35, -1.60 (global), 0.88, "
    "4.27; start 0",
    NULL,
    0,
    NULL,
    dim_one,
    nonconvex1d_setup,
};
