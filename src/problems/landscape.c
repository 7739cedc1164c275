/*
 * landscape.c - 2D landscapes where gradient descent is slow for reasons other
 * than conditioning (slide 26): a saddle point, a plateau, Rosenbrock's
 * curved valley and Beale's function (the optimizer race's two tracks).
 *
 * The saddle f = x^2 - y^2 has no minimum: a run "escapes" once f falls to
 * escape_value = -1, one unit below the saddle's height as far as the saddle
 * is above the start (1, 0). That start lies on the stable manifold y = 0,
 * where the gradient has no y component and gradient descent slides into the
 * saddle and stays. The plateau is a well whose rim is so flat that the
 * gradient there is e^-10 small; a run escapes once it is half way down.
 */
#include "problem.h"

#include <math.h>

static size_t dim_two(const double *hp) {
  (void)hp;
  return 2;
}

static void set_window(problem *p, double x0, double x1, double y0, double y1) {
  p->info.lo[0] = x0;
  p->info.hi[0] = x1;
  p->info.lo[1] = y0;
  p->info.hi[1] = y1;
}

/* The curvatures at the minimum: the eigenvalues of the 2 x 2 Hessian
   [[h11, h12], [h12, h22]]. */
static void set_curvatures_2x2(problem *p, double h11, double h12, double h22) {
  double mid = 0.5 * (h11 + h22), rad = sqrt(0.25 * (h11 - h22) * (h11 - h22) + h12 * h12);
  p->info.curvature_max = mid + rad;
  p->info.curvature_min = mid - rad;
}

/* ---- saddle: f = x^2 - y^2 ------------------------------------------------ */

static int saddle_eval(const problem *p, const descent_batch *batch, const double *theta, double *f,
                       double *grad) {
  (void)p, (void)batch;
  double x = theta[0], y = theta[1];
  *f = x * x - y * y;
  if (grad) {
    grad[0] = 2 * x;
    grad[1] = -2 * y;
  }
  return DESCENT_OK;
}

static void saddle_hvp(const problem *p, const descent_batch *batch, const double *theta,
                       const descent_real *v, double *out) {
  (void)p, (void)batch, (void)theta;
  out[0] = 2 * (double)v[0];
  out[1] = -2 * (double)v[1];
}

static int saddle_setup(problem *p, const double *hp, const char **texts) {
  (void)hp, (void)texts;
  p->eval = saddle_eval;
  p->hvp = saddle_hvp;
  p->info.bounded = 0;
  p->info.f_min = -INFINITY;
  p->info.minimizer = NULL;
  p->info.minima = NULL;
  p->info.n_minima = 0;
  p->info.curvature_max = 2;
  p->info.curvature_min = -2;
  p->info.escape_value = -1;
  p->start[0] = 1;
  p->start[1] = 0;
  set_window(p, -1.5, 1.5, -1.5, 1.5);
  return DESCENT_OK;
}

const problem_family problem_saddle = {
    "saddle",
    "f = x^2 - y^2: a saddle at 0, escaped once f <= -1; start (1, 0), on the stable manifold",
    NULL,
    0,
    NULL,
    dim_two,
    saddle_setup,
};

/* ---- plateau: f = 1 - exp(-(x^2 + y^2) / (2 w^2)) ------------------------- */

static int plateau_eval(const problem *p, const descent_batch *batch, const double *theta,
                        double *f, double *grad) {
  (void)batch;
  double w2 = p->hp[0] * p->hp[0], x = theta[0], y = theta[1];
  double e = exp(-(x * x + y * y) / (2 * w2));
  *f = 1 - e;
  if (grad) {
    grad[0] = e * x / w2;
    grad[1] = e * y / w2;
  }
  return DESCENT_OK;
}

/* H = e / w^2 (I - theta theta^T / w^2). */
static void plateau_hvp(const problem *p, const descent_batch *batch, const double *theta,
                        const descent_real *v, double *out) {
  (void)batch;
  double w2 = p->hp[0] * p->hp[0], x = theta[0], y = theta[1];
  double e = exp(-(x * x + y * y) / (2 * w2)), tv = x * (double)v[0] + y * (double)v[1];
  out[0] = e / w2 * ((double)v[0] - x * tv / w2);
  out[1] = e / w2 * ((double)v[1] - y * tv / w2);
}

static int plateau_setup(problem *p, const double *hp, const char **texts) {
  (void)texts;
  double w = hp[0];
  p->eval = plateau_eval;
  p->hvp = plateau_hvp;
  p->info.f_min = 0;
  p->minima_f[0] = 0;
  p->info.curvature_max = p->info.curvature_min = 1 / (w * w);
  p->info.escape_value = 0.5;
  p->start[0] = 4.4 * w;
  p->start[1] = 0.8 * w;
  set_window(p, -1.5 * w, 5 * w, -1.5 * w, 1.5 * w);
  return DESCENT_OK;
}

static const spec_param plateau_params[] = {
    {"width", SPEC_NUMBER, 1, 0, INFINITY, 1, 0, 0, "width of the well"},
};

const problem_family problem_plateau = {
    "plateau",
    "f = 1 - exp(-(x^2 + y^2) / (2 width^2)): a well in a flat plain, escaped once f <= 0.5; "
    "start (4.4, 0.8) width",
    plateau_params,
    N_OF(plateau_params),
    NULL,
    dim_two,
    plateau_setup,
};

/* ---- rosenbrock: f = (a - x)^2 + b (y - x^2)^2 ---------------------------- */

static int rosenbrock_eval(const problem *p, const descent_batch *batch, const double *theta,
                           double *f, double *grad) {
  (void)batch;
  double a = p->hp[0], b = p->hp[1], x = theta[0], y = theta[1], r = y - x * x;
  *f = (a - x) * (a - x) + b * r * r;
  if (grad) {
    grad[0] = -2 * (a - x) - 4 * b * x * r;
    grad[1] = 2 * b * r;
  }
  return DESCENT_OK;
}

/* H = [[2 - 4 b r + 8 b x^2, -4 b x], [-4 b x, 2 b]] with r = y - x^2. */
static void rosenbrock_hvp(const problem *p, const descent_batch *batch, const double *theta,
                           const descent_real *v, double *out) {
  (void)batch;
  double b = p->hp[1], x = theta[0], r = theta[1] - x * x;
  out[0] = (2 - 4 * b * r + 8 * b * x * x) * (double)v[0] - 4 * b * x * (double)v[1];
  out[1] = -4 * b * x * (double)v[0] + 2 * b * (double)v[1];
}

/* f = r1^2 + r2^2 with r1 = a - x, r2 = sqrt(b) (y - x^2): G = 2 J^T J,
   J = [[-1, 0], [-2 sqrt(b) x, sqrt(b)]], i.e. the Hessian without its
   -4 b r term. */
static void rosenbrock_ggn(const problem *p, const descent_batch *batch, const double *theta,
                           const descent_real *v, double *out) {
  (void)batch;
  double b = p->hp[1], x = theta[0];
  out[0] = (2 + 8 * b * x * x) * (double)v[0] - 4 * b * x * (double)v[1];
  out[1] = -4 * b * x * (double)v[0] + 2 * b * (double)v[1];
}

static int rosenbrock_setup(problem *p, const double *hp, const char **texts) {
  (void)texts;
  double a = hp[0], b = hp[1];
  p->eval = rosenbrock_eval;
  p->hvp = rosenbrock_hvp;
  p->ggn = rosenbrock_ggn;
  p->minimizer[0] = a;
  p->minimizer[1] = a * a;
  p->info.f_min = 0;
  p->minima_f[0] = 0;
  /* The Hessian at the minimum, [[2 + 8 b a^2, -4 a b], [-4 a b, 2 b]] */
  set_curvatures_2x2(p, 2 + 8 * b * a * a, -4 * a * b, 2 * b);
  p->start[0] = -1.2;
  p->start[1] = 1;
  double s = fabs(a) > 1 ? fabs(a) : 1;
  set_window(p, -2 * s, 2 * s, -1 * s * s, 3 * s * s);
  return DESCENT_OK;
}

static const spec_param rosenbrock_params[] = {
    {"a", SPEC_NUMBER, 1, -1e3, 1e3, 0, 0, 0, "the minimizer is (a, a^2)"},
    {"b", SPEC_NUMBER, 100, 0, 1e6, 1, 0, 0, "steepness of the valley's walls"},
};

const problem_family problem_rosenbrock = {
    "rosenbrock",
    "f = (a - x)^2 + b (y - x^2)^2: a curved valley, minimum at (a, a^2); start (-1.2, 1)",
    rosenbrock_params,
    N_OF(rosenbrock_params),
    NULL,
    dim_two,
    rosenbrock_setup,
};

/* ---- beale: f = sum_i (c_i - x + x y^i)^2, c = (1.5, 2.25, 2.625) ---------- */

/* Beale's function: a minimum of 0 at (3, 0.5) at the end of a long curved
   valley, flat plains around it and walls that grow like x y^3. The classic
   test bed of optimizer races, with Rosenbrock's. */
static const double beale_c[3] = {1.5, 2.25, 2.625};

static int beale_eval(const problem *p, const descent_batch *batch, const double *theta, double *f,
                      double *grad) {
  (void)p, (void)batch;
  double x = theta[0], y = theta[1], yi = 1, sum = 0, gx = 0, gy = 0;
  for (int i = 1; i <= 3; i++) {
    double prev = yi; /* y^(i-1) */
    yi *= y;
    double r = beale_c[i - 1] - x + x * yi;
    sum += r * r;
    gx += 2 * r * (yi - 1);
    gy += 2 * r * i * x * prev;
  }
  *f = sum;
  if (grad) {
    grad[0] = gx;
    grad[1] = gy;
  }
  return DESCENT_OK;
}

/* H = 2 sum_i (J_i J_i^T + r_i d2 r_i), with J_i = (y^i - 1, i x y^(i-1)) and
   d2 r_i = [[0, i y^(i-1)], [i y^(i-1), i (i-1) x y^(i-2)]]. */
static void beale_hessian(double x, double y, double *h) {
  h[0] = h[1] = h[2] = 0; /* h00, h01, h11 */
  for (int i = 1; i <= 3; i++) {
    double y1 = pow(y, i - 1), yi = y1 * y, y2 = i >= 2 ? pow(y, i - 2) : 0;
    double r = beale_c[i - 1] - x + x * yi, jx = yi - 1, jy = i * x * y1;
    h[0] += 2 * jx * jx;
    h[1] += 2 * (jx * jy + r * i * y1);
    h[2] += 2 * (jy * jy + r * i * (i - 1) * x * y2);
  }
}

static void beale_hvp(const problem *p, const descent_batch *batch, const double *theta,
                      const descent_real *v, double *out) {
  (void)p, (void)batch;
  double h[3];
  beale_hessian(theta[0], theta[1], h);
  out[0] = h[0] * (double)v[0] + h[1] * (double)v[1];
  out[1] = h[1] * (double)v[0] + h[2] * (double)v[1];
}

static int beale_setup(problem *p, const double *hp, const char **texts) {
  (void)hp, (void)texts;
  p->eval = beale_eval;
  p->hvp = beale_hvp;
  p->minimizer[0] = 3;
  p->minimizer[1] = 0.5;
  p->info.f_min = 0;
  p->minima_f[0] = 0;
  double h[3];
  beale_hessian(3, 0.5, h);
  set_curvatures_2x2(p, h[0], h[1], h[2]);
  p->start[0] = 1;
  p->start[1] = 1.5;
  set_window(p, -4.5, 4.5, -4.5, 4.5);
  return DESCENT_OK;
}

const problem_family problem_beale = {
    "beale",
    "f = (1.5 - x + x y)^2 + (2.25 - x + x y^2)^2 + (2.625 - x + x y^3)^2: minimum 0 at "
    "(3, 0.5); start (1, 1.5)",
    NULL,
    0,
    NULL,
    dim_two,
    beale_setup,
};
