/*
 * lbfgs.c - L-BFGS as torch.optim.LBFGS computes it (torch/optim/lbfgs.py):
 * one step is one optimizer.step(closure), up to max_iter inner iterations
 * and max_eval evaluations, with the two-loop recursion over at most
 * `history` curvature pairs, the first iteration ever scaled by
 * min(1, 1/|g|_1), and either a fixed step lr or the strong-Wolfe line search
 * (_strong_wolfe with _cubic_interpolate, ported from minFunc / torch7's
 * lswolfe.lua). Every branch, comparison and stopping test follows the
 * Python line by line, in the same order of operations, so the float64
 * trajectories agree with PyTorch's to rounding and take the same number of
 * evaluations. Torch's own quirks are kept on purpose: the line search uses
 * tolerance_change 1e-9 whatever the optimizer's, and a step that stops
 * because the direction is not a descent direction still stores t = lr.
 *
 * Sums (dot products, |g|_1) run in double over fixed blocks in block
 * order, so the result does not depend on the thread count; y += a x is a
 * fused multiply-add, as torch's add_(x, alpha=a) is on the CPU (with
 * separate roundings, 2-parameter Rosenbrock drifts from torch by 1e-9 in 20
 * iterations; fused, it matches to the bit).
 */
#include "method.h"

#include "core/multiversion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef descent_real real;

/* hyperparameters, in params order */
enum {
  LR_MAX_ITER,
  LR_MAX_EVAL,
  LR_TOL_GRAD,
  LR_TOL_CHANGE,
  LR_HISTORY,
  LR_LINE_SEARCH,
  LR_FULL_BATCH,
  LR_N
};

#define BLOCK           METHOD_BLOCK
#define PARALLEL_BLOCKS METHOD_PARALLEL_BLOCKS
/* _strong_wolfe's constants (torch passes none of its own). */
#define WOLFE_C1         1e-4
#define WOLFE_C2         0.9
#define WOLFE_TOL_CHANGE 1e-9

struct method_state {
  size_t n;
  int cap;             /* history size */
  int64_t n_iter;      /* inner iterations ever taken (torch's state["n_iter"]) */
  int64_t func_evals;  /* evaluations ever made (state["func_evals"]) */
  int has_d, has_prev; /* d and t; prev_grad and prev_loss */
  double t, h_diag, prev_loss;
  real *d, *prev_grad;
  int m, start;    /* pairs held, and the ring's oldest slot */
  real **y, **s;   /* cap slots each (old_dirs, old_stps), allocated when first used */
  double *ro, *al; /* cap each */
  /* scratch, not saved */
  real *grad, *y_new, *s_new, *x_init, *pool[3];
  double *partials;
};

/* ---- vector arithmetic ------------------------------------------------------ */

/* sum a[i] b[i] in double: per block, then the blocks in order. */
static double dot(const method_state *st, const real *a, const real *b) {
  return method_dot(a, b, st->n, st->partials);
}

static double abs_sum(const method_state *st, const real *a) {
  size_t n = st->n, blocks = method_blocks(n);
  double *part = st->partials;
#pragma omp parallel for schedule(static) if (blocks >= PARALLEL_BLOCKS)
  for (size_t k = 0; k < blocks; k++) {
    size_t lo = k * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
    double sum = 0;
    for (size_t i = lo; i < hi; i++) sum += fabs((double)a[i]);
    part[k] = sum;
  }
  double total = 0;
  for (size_t k = 0; k < blocks; k++) total += part[k];
  return total;
}

/* max |scale a[i]| (scale 1: max |a[i]|); NaN when an element is. */
static double abs_max(const real *a, double scale, size_t n) {
  double most = 0;
  for (size_t i = 0; i < n; i++) {
    double v = fabs((double)(real)(scale * (double)a[i]));
    if (isnan(v)) return v;
    if (v > most) most = v;
  }
  return most;
}

/* a x + y in one rounding, as torch's add_(x, alpha=a) computes it on the
   CPU (a fused multiply-add, vectorized tails included). */
#ifdef DESCENT_DOUBLE
#define FMA fma
#else
#define FMA fmaf
#endif

/* y[i] = a x[i] + y[i] and out[i] = a d[i] + x[i] over one block, a copy
   per instruction-set path (one hardware instruction where the path has
   FMA; the same bits everywhere, a fused multiply-add being exact). */
static MULTIVERSION_BODY void axpy_block_body(real *y, real a, const real *x, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) y[i] = FMA(a, x[i], y[i]);
}
MULTIVERSION_VOID(axpy_block, (real * y, real a, const real *x, size_t n), (y, a, x, n))

static MULTIVERSION_BODY void point_block_body(real *out, const real *x, real a, const real *d,
                                               size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) out[i] = FMA(a, d[i], x[i]);
}
MULTIVERSION_VOID(point_block, (real * out, const real *x, real a, const real *d, size_t n),
                  (out, x, a, d, n))

/* y[i] += alpha x[i] (torch's y.add_(x, alpha=alpha)) */
static void axpy(real *y, double alpha, const real *x, size_t n) {
  const real a = (real)alpha;
  size_t blocks = method_blocks(n);
#pragma omp parallel for schedule(static) if (blocks >= PARALLEL_BLOCKS)
  for (size_t k = 0; k < blocks; k++) {
    size_t lo = k * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
    axpy_block(y + lo, a, x + lo, hi - lo);
  }
}

/* out = x + t d (the point _directional_evaluate moves to) */
static void point(real *out, const real *x, double t, const real *d, size_t n) {
  const real a = (real)t;
  size_t blocks = method_blocks(n);
#pragma omp parallel for schedule(static) if (blocks >= PARALLEL_BLOCKS)
  for (size_t k = 0; k < blocks; k++) {
    size_t lo = k * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
    point_block(out + lo, x + lo, a, d + lo, hi - lo);
  }
}

/* Python's max(a, b) and min(a, b): the first argument unless the second
   compares greater (smaller). */
static double py_max(double a, double b) {
  return b > a ? b : a;
}
static double py_min(double a, double b) {
  return b < a ? b : a;
}

/* ---- the state ------------------------------------------------------------------ */

static void lbfgs_destroy(method_state *st) {
  if (!st) return;
  for (int i = 0; st->y && i < st->cap; i++) {
    descent_free_real(st->y[i]);
    descent_free_real(st->s[i]);
  }
  free(st->y);
  free(st->s);
  free(st->ro);
  free(st->al);
  real *vectors[] = {st->d,      st->prev_grad, st->grad,    st->y_new,  st->s_new,
                     st->x_init, st->pool[0],   st->pool[1], st->pool[2]};
  for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) descent_free_real(vectors[i]);
  free(st->partials);
  free(st);
}

static method_state *lbfgs_create(const double *hp, size_t n) {
  method_state *st = descent_calloc(1, sizeof *st, "lbfgs state");
  if (!st) return NULL;
  st->n = n;
  st->cap = (int)hp[LR_HISTORY];
  st->h_diag = 1;
  size_t len = n ? n : 1, cap = (size_t)st->cap;
  st->y = descent_calloc(cap, sizeof *st->y, "lbfgs history");
  st->s = descent_calloc(cap, sizeof *st->s, "lbfgs history");
  st->ro = descent_calloc(cap, sizeof *st->ro, "lbfgs history");
  st->al = descent_calloc(cap, sizeof *st->al, "lbfgs history");
  st->partials = descent_calloc(method_blocks(len), sizeof *st->partials, "lbfgs sums");
  st->d = descent_alloc_real(len, "lbfgs direction");
  st->prev_grad = descent_alloc_real(len, "lbfgs gradient");
  st->grad = descent_alloc_real(len, "lbfgs gradient");
  int ok = st->y && st->s && st->ro && st->al && st->partials && st->d && st->prev_grad && st->grad;
  if (ok && hp[LR_LINE_SEARCH] != 0) {
    st->x_init = descent_alloc_real(len, "lbfgs line search");
    for (int i = 0; i < 3 && st->x_init; i++)
      ok &= (st->pool[i] = descent_alloc_real(len, "lbfgs line search")) != NULL;
    ok &= st->x_init != NULL;
  }
  if (!ok) {
    lbfgs_destroy(st);
    return NULL;
  }
  return st;
}

/* The i-th pair, oldest first. */
static int slot(const method_state *st, int i) {
  return (st->start + i) % st->cap;
}

/* Appends (y_new, s_new, 1/ys), dropping the oldest pair when full; the
   vectors change places with the slot's, so nothing is copied. */
static void push_pair(method_state *st, double ys) {
  int k;
  if (st->m == st->cap) {
    k = st->start;
    st->start = (st->start + 1) % st->cap;
  } else {
    k = slot(st, st->m++);
  }
  real *y = st->y[k], *s = st->s[k];
  st->y[k] = st->y_new;
  st->s[k] = st->s_new;
  st->ro[k] = 1.0 / ys;
  st->y_new = y; /* NULL until the history is full: allocated when next needed */
  st->s_new = s;
}

/* ---- the evaluation ------------------------------------------------------------- */

typedef struct evaluator {
  descent_objective *obj;
  const descent_closure *closure;
} evaluator;

static int evaluate(const evaluator *e, double *loss, real *grad) {
  int rc = e->closure->evaluate(e->closure->user, e->obj, loss);
  if (rc) return rc < 0 ? rc : descent_fail(DESCENT_EINVAL, "lbfgs: the closure returned %d", rc);
  memcpy(grad, e->obj->grad, e->obj->n_params * sizeof *grad);
  return DESCENT_OK;
}

/* _directional_evaluate: the loss and gradient at x + t d; the parameters
   are x again afterwards. */
static int directional(const method_state *st, const evaluator *e, const real *x, double t,
                       double *loss, real *grad) {
  point(e->obj->params, x, t, st->d, st->n);
  int rc = evaluate(e, loss, grad);
  memcpy(e->obj->params, x, st->n * sizeof *x);
  return rc;
}

/* ---- the line search (_cubic_interpolate, _strong_wolfe) ---------------------------- */

/* The minimizer of the cubic through (x1, f1, g1) and (x2, f2, g2), clamped
   to [lo, hi] (bounded) or to the points' interval. */
static double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                                const double *bounds) {
  double lo = bounds ? bounds[0] : (x1 <= x2 ? x1 : x2);
  double hi = bounds ? bounds[1] : (x1 <= x2 ? x2 : x1);
  double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  double d2_square = d1 * d1 - g1 * g2;
  if (d2_square >= 0) {
    double d2 = sqrt(d2_square), min_pos;
    if (x1 <= x2)
      min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2));
    else
      min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return py_min(py_max(min_pos, lo), hi);
  }
  return (lo + hi) / 2.0;
}

/* A pool buffer that none of the given vectors is. */
static real *spare(const method_state *st, const real *a, const real *b, const real *c) {
  for (int i = 0; i < 3; i++)
    if (st->pool[i] != a && st->pool[i] != b && st->pool[i] != c) return st->pool[i];
  return NULL; /* not reached: three buffers, at most three in use */
}

typedef struct wolfe_result {
  double f, t;
  int evals;
  const real *g; /* the gradient at t: st->grad or a pool buffer */
} wolfe_result;

/* _strong_wolfe(obj_func, x, t, d, f, g, gtd, max_ls): g is st->grad (left
   unchanged), d is st->d. */
static int strong_wolfe(const method_state *st, const evaluator *e, const real *x, double t,
                        double f, double gtd, int64_t max_ls, wolfe_result *out) {
  const real *g = st->grad, *d = st->d;
  double d_norm = abs_max(d, 1, st->n);
  real *g_new = spare(st, NULL, NULL, NULL);
  double f_new;
  int rc = directional(st, e, x, t, &f_new, g_new);
  if (rc) return rc;
  int evals = 1;
  double gtd_new = dot(st, g_new, d);

  double t_prev = 0, f_prev = f, gtd_prev = gtd;
  const real *g_prev = g;
  int done = 0;
  int64_t ls_iter = 0;
  double br[2] = {0}, br_f[2] = {0}, br_gtd[2] = {0};
  const real *br_g[2] = {NULL, NULL};
  int size = 0; /* bracket entries */
  while (ls_iter < max_ls) {
    if (f_new > (f + WOLFE_C1 * t * gtd) || (ls_iter > 1 && f_new >= f_prev)) {
      size = 2;
      br[0] = t_prev, br[1] = t, br_f[0] = f_prev, br_f[1] = f_new;
      br_g[0] = g_prev, br_g[1] = g_new, br_gtd[0] = gtd_prev, br_gtd[1] = gtd_new;
      break;
    }
    if (fabs(gtd_new) <= -WOLFE_C2 * gtd) {
      size = 1;
      br[0] = t, br_f[0] = f_new, br_g[0] = g_new;
      done = 1;
      break;
    }
    if (gtd_new >= 0) {
      size = 2;
      br[0] = t_prev, br[1] = t, br_f[0] = f_prev, br_f[1] = f_new;
      br_g[0] = g_prev, br_g[1] = g_new, br_gtd[0] = gtd_prev, br_gtd[1] = gtd_new;
      break;
    }
    double bounds[2] = {t + 0.01 * (t - t_prev), t * 10};
    double tmp = t;
    t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds);
    t_prev = tmp;
    f_prev = f_new;
    g_prev = g_new;
    gtd_prev = gtd_new;
    g_new = spare(st, g_prev, NULL, NULL);
    if ((rc = directional(st, e, x, t, &f_new, g_new))) return rc;
    evals++;
    gtd_new = dot(st, g_new, d);
    ls_iter++;
  }
  if (ls_iter == max_ls) {
    size = 2;
    br[0] = 0, br[1] = t, br_f[0] = f, br_f[1] = f_new, br_g[0] = g, br_g[1] = g_new;
  }

  /* zoom */
  int insuf_progress = 0;
  int low = br_f[0] <= br_f[size - 1] ? 0 : 1, high = 1 - low;
  while (!done && ls_iter < max_ls) {
    if (fabs(br[1] - br[0]) * d_norm < WOLFE_TOL_CHANGE) break;
    t = cubic_interpolate(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1], NULL);
    double top = py_max(br[0], br[1]), bottom = py_min(br[0], br[1]);
    double eps = 0.1 * (top - bottom);
    if (py_min(top - t, t - bottom) < eps) {
      if (insuf_progress || t >= top || t <= bottom) {
        if (fabs(t - top) < fabs(t - bottom))
          t = top - eps;
        else
          t = bottom + eps;
        insuf_progress = 0;
      } else {
        insuf_progress = 1;
      }
    } else {
      insuf_progress = 0;
    }
    g_new = spare(st, br_g[0], br_g[1], NULL);
    if ((rc = directional(st, e, x, t, &f_new, g_new))) return rc;
    evals++;
    gtd_new = dot(st, g_new, d);
    ls_iter++;
    if (f_new > (f + WOLFE_C1 * t * gtd) || f_new >= br_f[low]) {
      br[high] = t, br_f[high] = f_new, br_g[high] = g_new, br_gtd[high] = gtd_new;
      low = br_f[0] <= br_f[1] ? 0 : 1, high = 1 - low;
    } else {
      if (fabs(gtd_new) <= -WOLFE_C2 * gtd)
        done = 1;
      else if (gtd_new * (br[high] - br[low]) >= 0) {
        br[high] = br[low], br_f[high] = br_f[low], br_g[high] = br_g[low];
        br_gtd[high] = br_gtd[low];
      }
      br[low] = t, br_f[low] = f_new, br_g[low] = g_new, br_gtd[low] = gtd_new;
    }
  }
  *out = (wolfe_result){.f = br_f[low], .t = br[low], .evals = evals, .g = br_g[low]};
  return DESCENT_OK;
}

/* ---- the step --------------------------------------------------------------------- */

/* d <- -H g by the two-loop recursion over the held pairs (torch collapses
   it into one buffer, q then r, both d here). */
static void two_loop(method_state *st) {
  size_t n = st->n;
  for (size_t i = 0; i < n; i++) st->d[i] = -st->grad[i];
  for (int i = st->m - 1; i >= 0; i--) {
    int k = slot(st, i);
    st->al[k] = dot(st, st->s[k], st->d) * st->ro[k];
    axpy(st->d, -st->al[k], st->y[k], n);
  }
  const real h = (real)st->h_diag;
  for (size_t i = 0; i < n; i++) st->d[i] *= h;
  for (int i = 0; i < st->m; i++) {
    int k = slot(st, i);
    double be_i = dot(st, st->y[k], st->d) * st->ro[k];
    axpy(st->d, st->al[k] - be_i, st->s[k], n);
  }
}

/* The curvature pair of the last iteration, y = g - g_prev and s = t d,
   kept when y.s > 1e-10 (torch's test), with the scale of H0. */
static int update_memory(method_state *st) {
  size_t n = st->n, len = n ? n : 1;
  if (!st->y_new) st->y_new = descent_alloc_real(len, "lbfgs history");
  if (!st->s_new) st->s_new = descent_alloc_real(len, "lbfgs history");
  if (!st->y_new || !st->s_new) return DESCENT_ENOMEM;
  const real t = (real)st->t;
  for (size_t i = 0; i < n; i++) {
    st->y_new[i] = st->grad[i] - st->prev_grad[i];
    st->s_new[i] = st->d[i] * t;
  }
  double ys = dot(st, st->y_new, st->s_new);
  if (ys > 1e-10) {
    double yy = dot(st, st->y_new, st->y_new);
    push_pair(st, ys);
    st->h_diag = ys / yy;
  }
  return DESCENT_OK;
}

static int64_t lbfgs_evaluations(const method_state *st) {
  return st->func_evals;
}

static int lbfgs_step(method_state *st, const double *hp, double lr, descent_objective *obj,
                      const descent_closure *closure, descent_step_info *info) {
  const int64_t max_iter = (int64_t)hp[LR_MAX_ITER], max_eval = (int64_t)hp[LR_MAX_EVAL];
  const double tolerance_grad = hp[LR_TOL_GRAD], tolerance_change = hp[LR_TOL_CHANGE];
  const int wolfe = hp[LR_LINE_SEARCH] != 0;
  const size_t n = st->n;
  evaluator e = {obj, closure};
  double loss;
  int rc = DESCENT_OK;
  if (closure->evaluated) {
    loss = closure->loss;
    memcpy(st->grad, obj->grad, n * sizeof *st->grad);
  } else if ((rc = evaluate(&e, &loss, st->grad))) {
    return rc;
  }
  info->loss = info->last_loss = loss;
  int64_t current_evals = 1;
  st->func_evals++;
  int opt_cond = abs_max(st->grad, 1, n) <= tolerance_grad;
  int64_t n_iter = 0;
  while (!opt_cond && n_iter < max_iter) {
    n_iter++;
    st->n_iter++;
    /* the direction */
    if (st->n_iter == 1) {
      for (size_t i = 0; i < n; i++) st->d[i] = -st->grad[i];
      st->m = st->start = 0;
      st->h_diag = 1;
    } else {
      if ((rc = update_memory(st))) break;
      two_loop(st);
    }
    memcpy(st->prev_grad, st->grad, n * sizeof *st->grad);
    st->prev_loss = loss;
    st->has_d = st->has_prev = 1;
    /* the step length */
    if (st->n_iter == 1) {
      double inv = 1.0 / abs_sum(st, st->grad);
      st->t = py_min(1.0, inv) * lr;
    } else {
      st->t = lr;
    }
    double gtd = dot(st, st->grad, st->d);
    if (gtd > -tolerance_change) break;
    int64_t ls_func_evals = 0;
    if (wolfe) {
      memcpy(st->x_init, obj->params, n * sizeof *obj->params);
      wolfe_result w;
      if ((rc = strong_wolfe(st, &e, st->x_init, st->t, loss, gtd, max_eval - current_evals, &w)))
        break;
      loss = w.f;
      st->t = w.t;
      if (w.g != st->grad) memcpy(st->grad, w.g, n * sizeof *st->grad);
      ls_func_evals = w.evals;
      point(obj->params, st->x_init, st->t, st->d, n);
      opt_cond = abs_max(st->grad, 1, n) <= tolerance_grad;
    } else {
      axpy(obj->params, st->t, st->d, n);
      if (n_iter != max_iter) {
        if ((rc = evaluate(&e, &loss, st->grad))) break;
        opt_cond = abs_max(st->grad, 1, n) <= tolerance_grad;
        ls_func_evals = 1;
      }
    }
    current_evals += ls_func_evals;
    st->func_evals += ls_func_evals;
    info->last_loss = loss;
    if (n_iter == max_iter || current_evals >= max_eval || opt_cond) break;
    if (abs_max(st->d, st->t, n) <= tolerance_change) break;
    if (fabs(loss - st->prev_loss) < tolerance_change) break;
  }
  info->function_evals = info->gradient_evals = current_evals;
  info->product_evals = 0;
  info->iterations = n_iter;
  return rc;
}

/* ---- saving and loading ----------------------------------------------------------
 *
 *   8  inner iterations ever (n_iter)     8  evaluations ever (func_evals)
 *   4  flags: 1 d and t held, 2 the previous gradient and loss held
 *   4  pairs held m
 *   8  t   8  H0 scale   8  previous loss        (IEEE doubles)
 *   m x 8  rho of each pair, oldest first
 *   d (n numbers, if held), previous gradient (n, if held),
 *   then each pair's y and s (n numbers each), oldest first
 */

#define FIXED_BYTES 48

static size_t lbfgs_state_bytes(const method_state *st) {
  size_t vectors = (size_t)st->has_d + (size_t)st->has_prev + 2 * (size_t)st->m;
  return FIXED_BYTES + 8 * (size_t)st->m + vectors * st->n * sizeof(real);
}

static unsigned char *put_vector(unsigned char *p, const real *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
#ifdef DESCENT_DOUBLE
    uint64_t bits;
#else
    uint32_t bits;
#endif
    memcpy(&bits, &v[i], sizeof bits);
    p = method_put(p, bits, (int)sizeof bits);
  }
  return p;
}

static void lbfgs_save(const method_state *st, unsigned char *p) {
  p = method_put(p, (uint64_t)st->n_iter, 8);
  p = method_put(p, (uint64_t)st->func_evals, 8);
  p = method_put(p, (uint64_t)(st->has_d | st->has_prev << 1), 4);
  p = method_put(p, (uint64_t)st->m, 4);
  p = method_put_double(p, st->t);
  p = method_put_double(p, st->h_diag);
  p = method_put_double(p, st->prev_loss);
  for (int i = 0; i < st->m; i++) p = method_put_double(p, st->ro[slot(st, i)]);
  if (st->has_d) p = put_vector(p, st->d, st->n);
  if (st->has_prev) p = put_vector(p, st->prev_grad, st->n);
  for (int i = 0; i < st->m; i++) {
    p = put_vector(p, st->y[slot(st, i)], st->n);
    p = put_vector(p, st->s[slot(st, i)], st->n);
  }
}

static void get_vector(const unsigned char **p, real *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
#ifdef DESCENT_DOUBLE
    uint64_t bits = method_get(p, 8);
#else
    uint32_t bits = (uint32_t)method_get(p, 4);
#endif
    memcpy(&v[i], &bits, sizeof bits);
  }
}

static int lbfgs_load(method_state *st, const double *hp, const unsigned char *in, size_t len) {
  (void)hp;
  if (len < FIXED_BYTES)
    return descent_fail(DESCENT_EFORMAT, "lbfgs state of %zu bytes: truncated", len);
  const unsigned char *p = in;
  int64_t n_iter = (int64_t)method_get(&p, 8), func_evals = (int64_t)method_get(&p, 8);
  uint32_t flags = (uint32_t)method_get(&p, 4), m = (uint32_t)method_get(&p, 4);
  if (n_iter < 0 || func_evals < 0 || flags > 3 || m > (uint32_t)st->cap ||
      (n_iter > 0) != (flags == 3) || (m > 0 && flags != 3))
    return descent_fail(DESCENT_EFORMAT,
                        "lbfgs state: corrupted (%lld iterations, flags %u, %u pairs for a "
                        "history of %d)",
                        (long long)n_iter, flags, m, st->cap);
  size_t vectors = (size_t)(flags & 1) + (size_t)(flags >> 1) + 2 * (size_t)m;
  if (len != FIXED_BYTES + 8 * (size_t)m + vectors * st->n * sizeof(real))
    return descent_fail(DESCENT_EFORMAT,
                        "lbfgs state: %zu bytes; %u pairs of %zu parameters take %zu", len, m,
                        st->n, FIXED_BYTES + 8 * (size_t)m + vectors * st->n * sizeof(real));
  /* Room for every pair before anything changes. */
  size_t alloc = st->n ? st->n : 1;
  for (uint32_t i = 0; i < m; i++) {
    if (!st->y[i]) st->y[i] = descent_alloc_real(alloc, "lbfgs history");
    if (!st->s[i]) st->s[i] = descent_alloc_real(alloc, "lbfgs history");
    if (!st->y[i] || !st->s[i]) return DESCENT_ENOMEM;
  }
  /* The ring starts at slot 0; slots that were in use keep their memory. */
  st->n_iter = n_iter;
  st->func_evals = func_evals;
  st->has_d = (int)(flags & 1);
  st->has_prev = (int)(flags >> 1);
  st->m = (int)m;
  st->start = 0;
  st->t = method_get_double(&p);
  st->h_diag = method_get_double(&p);
  st->prev_loss = method_get_double(&p);
  for (uint32_t i = 0; i < m; i++) st->ro[i] = method_get_double(&p);
  if (st->has_d) get_vector(&p, st->d, st->n);
  if (st->has_prev) get_vector(&p, st->prev_grad, st->n);
  for (uint32_t i = 0; i < m; i++) {
    get_vector(&p, st->y[i], st->n);
    get_vector(&p, st->s[i], st->n);
  }
  return DESCENT_OK;
}

/* ---- the definition ---------------------------------------------------------------- */

static const spec_param lbfgs_params[] = {
    {"max_iter", SPEC_INTEGER, 20, 1, 1e9, 0, 0, 0, "inner iterations per step"},
    {"max_eval", SPEC_INTEGER, 25, 1, 2e9, 0, 0, 0,
     "evaluations per step; when not given, max_iter * 5 / 4 rounded down (torch's "
     "default)"},
    {"tolerance_grad", SPEC_NUMBER, 1e-7, 0, INFINITY, 0, 0, 0,
     "stop when max |g_i| <= this (checked before the first iteration too)"},
    {"tolerance_change", SPEC_NUMBER, 1e-9, 0, INFINITY, 0, 0, 0,
     "stop when the step (max |t d_i|), the loss change or -g.d falls below this"},
    {"history", SPEC_INTEGER, 100, 1, 1e6, 0, 0, 0, "curvature pairs kept (history_size)"},
    {"line_search", SPEC_TEXT, 0, 0, 0, 0, 0, 0,
     "none (fixed step lr) or strong_wolfe (torch's _strong_wolfe, cubic interpolation)"},
    {"full_batch", SPEC_BOOL, 0, 0, 1, 0, 0, 0,
     "1: the trainer steps on the whole training set (0: on each minibatch)"},
};

/* torch: max_eval = max_iter * 5 // 4 unless given. */
static void lbfgs_resolve(double *hp, const int *given) {
  if (!given[LR_MAX_EVAL]) hp[LR_MAX_EVAL] = floor(hp[LR_MAX_ITER] * 5 / 4);
}

static const char *const line_search_words[] = {"none", "strong_wolfe", NULL};
static const char *const *const lbfgs_choices[] = {NULL, NULL, NULL, NULL, NULL, line_search_words,
                                                   NULL};

const method_def method_lbfgs = {
    .name = "lbfgs",
    .summary = "L-BFGS, as torch.optim.LBFGS (one step = one optimizer.step(closure)); the rate "
               "is the step length t (the first iteration ever: t = lr min(1, 1/|g|_1))",
    .evaluations = "1 at the start, then 1 per inner iteration (none after the last) without a "
                   "line search, or what each line search takes with strong_wolfe; each with its "
                   "gradient; at most max_iter iterations and max_eval evaluations (strong_wolfe: "
                   "max_eval + 1, its last search may pass the limit by one)",
    .default_lr = "1",
    .params = lbfgs_params,
    .n_params = LR_N,
    .choices = lbfgs_choices,
    .full_batch_param = LR_FULL_BATCH,
    .resolve = lbfgs_resolve,
    .create = lbfgs_create,
    .destroy = lbfgs_destroy,
    .step = lbfgs_step,
    .evaluations_so_far = lbfgs_evaluations,
    .state_bytes = lbfgs_state_bytes,
    .save = lbfgs_save,
    .load = lbfgs_load,
};
