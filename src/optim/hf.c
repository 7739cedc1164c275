/*
 * hf.c - Hessian-free optimization (Martens 2010, "Deep learning via
 * Hessian-free optimization"; the practical details as Martens & Sutskever
 * 2012, "Training deep and recurrent networks with Hessian-free
 * optimization", give them) and Newton-CG with Steihaug's rule, one code.
 *
 * A step minimizes the damped quadratic model
 *     phi(d) = g.d + 1/2 d'(C + lambda I)d,   C = G (hf) or H (newton_cg)
 * by truncated, optionally preconditioned conjugate gradients on the step's
 * batch (curvature-vector products through the objective), then:
 *  - CG starts from the previous step's last iterate times cg_decay (0.95),
 *    or from 0 when that start is no better than 0 (phi >= 0);
 *  - CG stops after max_cg iterations, on Martens' relative-progress test
 *    (i > k = max(10, floor(0.1 i)), phi_i < 0 and
 *    (phi_i - phi_{i-k}) / phi_i < k cg_tol), when the residual vanishes,
 *    or on curvature p'Ap <= 0 (Steihaug: keep the last iterate; at the
 *    first iteration from 0, the preconditioned gradient direction);
 *  - iterates at iterations ceil(1.3^j) are kept, and the loss is evaluated
 *    at the last and then backwards while it keeps falling (Martens'
 *    backtracking over CG iterates);
 *  - an Armijo search (c = 1e-2, shrinking by 0.8, at most 60 tries, else
 *    no move, or an error when the last try was still >= 1) on the step
 *    length from the rate, or the rate as it is;
 *  - lambda follows the reduction ratio rho = (f(theta + a d) - f(theta)) /
 *    q(a d), q the undamped model: times 3/2 when rho < 1/4, times 2/3
 *    when rho > 3/4, then kept within [1e-10, 1e10].
 * The diagonal preconditioner is (diag(G) + lambda)^0.75 with the GGN's
 * diagonal (exact or Monte-Carlo); Martens used the empirical Fisher's.
 *
 * Loss-only evaluations go through descent_objective_reevaluate on the
 * closure's batch with no gradient (the function the products see); the
 * step's first evaluation is the closure's. Sums run in double over fixed
 * blocks in block order, so results do not depend on the thread count.
 */
#include "method.h"
#include "nn/network_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef descent_real real;

/* hyperparameters, in params order (hf and newton_cg share them) */
enum {
  HF_DAMPING,
  HF_MAX_CG,
  HF_CG_DECAY,
  HF_CG_TOL,
  HF_PRECOND,
  HF_PRECOND_SAMPLES,
  HF_LINE_SEARCH,
  HF_SEED,
  HF_N
};
enum { HF_PRECOND_NONE, HF_PRECOND_GGN };
enum { HF_LINE_SEARCH_ARMIJO, HF_LINE_SEARCH_NONE };

/* Martens' constants */
#define HF_RHO_LOW       0.25
#define HF_RHO_HIGH      0.75
#define HF_DAMPING_UP    1.5
#define HF_DAMPING_DOWN  (2.0 / 3.0)
#define HF_PRECOND_POWER 0.75
#define HF_KEEP_RATIO    1.3
#define HF_ARMIJO_C      1e-2
#define HF_ARMIJO_SHRINK 0.8
#define HF_ARMIJO_TRIES  60
/* ours: lambda's range after each adaptation */
#define HF_DAMPING_MIN 1e-10
#define HF_DAMPING_MAX 1e10

#define BLOCK           METHOD_BLOCK
#define PARALLEL_BLOCKS METHOD_PARALLEL_BLOCKS

struct method_state {
  size_t n;
  int hessian;           /* newton_cg: H instead of G */
  int n_points;          /* iterations at which an iterate is kept */
  int *points;           /* their numbers, increasing */
  int64_t steps;         /* steps taken (seeds the diagonal's samples) */
  int64_t func_evals;    /* loss evaluations, the first of each step included */
  int64_t grad_evals;    /* gradient evaluations (one per step) */
  int64_t products;      /* curvature products and the diagonal's passes */
  int64_t cg_iterations; /* CG iterations ever */
  double lambda, last_rho;
  int has_prev;
  real *prev; /* the last CG iterate (the warm start, times cg_decay) */
  /* scratch, not saved */
  real *g, *theta, *x, *r, *y, *p, *ap, *minv, **kept;
  double *kept_phi, *phi, *partials;
};

/* ---- vectors -------------------------------------------------------------------- */

static double dot(const method_state *st, const real *a, const real *b) {
  return method_dot(a, b, st->n, st->partials);
}

/* y += a x */
static void axpy(real *y, double a, const real *x, size_t n) {
  const real s = (real)a;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_BLOCKS * BLOCK)
  for (size_t i = 0; i < n; i++) y[i] += s * x[i];
}

/* out = x + a d */
static void point(real *out, const real *x, double a, const real *d, size_t n) {
  const real s = (real)a;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_BLOCKS * BLOCK)
  for (size_t i = 0; i < n; i++) out[i] = x[i] + s * d[i];
}

/* y = a y */
static void scale(real *y, double a, size_t n) {
  const real s = (real)a;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_BLOCKS * BLOCK)
  for (size_t i = 0; i < n; i++) y[i] *= s;
}

/* y = minv r (r itself without a preconditioner) */
static void precondition(const method_state *st, real *y, const real *r) {
  if (!st->minv) return;
#pragma omp parallel for schedule(static) if (st->n >= PARALLEL_BLOCKS * BLOCK)
  for (size_t i = 0; i < st->n; i++) y[i] = st->minv[i] * r[i];
}

/* ---- the state ------------------------------------------------------------------ */

static void hf_destroy(method_state *st) {
  if (!st) return;
  for (int i = 0; st->kept && i < st->n_points; i++) descent_free_real(st->kept[i]);
  free(st->kept);
  real *vectors[] = {st->prev, st->g, st->theta, st->x, st->ap, st->minv, st->r, st->p};
  for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) descent_free_real(vectors[i]);
  if (st->y != st->r) descent_free_real(st->y);
  free(st->points);
  free(st->kept_phi);
  free(st->phi);
  free(st->partials);
  free(st);
}

/* The iterations ceil(1.3^j) <= max_cg, each once: Martens' spacing. */
static int kept_points(int max_cg, int *out) {
  int count = 0;
  for (double v = 1; ceil(v) <= max_cg; v *= HF_KEEP_RATIO)
    if (count == 0 || (int)ceil(v) > out[count - 1]) out[count++] = (int)ceil(v);
  return count;
}

static method_state *create(const double *hp, size_t n, int hessian) {
  method_state *st = descent_calloc(1, sizeof *st, "hf state");
  if (!st) return NULL;
  int max_cg = (int)hp[HF_MAX_CG];
  st->n = n;
  st->hessian = hessian;
  st->lambda = hp[HF_DAMPING];
  st->last_rho = NAN;
  size_t len = n ? n : 1;
  st->points = descent_calloc(64, sizeof *st->points, "hf iterates");
  if (st->points) st->n_points = kept_points(max_cg, st->points);
  st->kept = descent_calloc(64, sizeof *st->kept, "hf iterates");
  st->kept_phi = descent_calloc(64, sizeof *st->kept_phi, "hf iterates");
  st->phi = descent_calloc((size_t)max_cg + 1, sizeof *st->phi, "hf CG values");
  st->partials = descent_calloc(method_blocks(len), sizeof *st->partials, "hf sums");
  int ok = st->points && st->kept && st->kept_phi && st->phi && st->partials;
  real **vectors[] = {&st->prev, &st->g, &st->theta, &st->x, &st->r, &st->p, &st->ap};
  for (size_t i = 0; ok && i < sizeof vectors / sizeof *vectors; i++)
    ok = (*vectors[i] = descent_alloc_real(len, "hf vectors")) != NULL;
  if (ok && hp[HF_PRECOND] == HF_PRECOND_GGN) {
    ok = (st->minv = descent_alloc_real(len, "hf preconditioner")) &&
         (st->y = descent_alloc_real(len, "hf preconditioner"));
  } else {
    st->y = st->r;
  }
  for (int i = 0; ok && i < st->n_points; i++)
    ok = (st->kept[i] = descent_alloc_real(len, "hf iterates")) != NULL;
  if (!ok) {
    hf_destroy(st);
    return NULL;
  }
  return st;
}

static int64_t hf_evaluations(const method_state *st) {
  return st->func_evals;
}

static int64_t hf_products(const method_state *st) {
  return st->products;
}

/* ---- products and evaluations ------------------------------------------------- */

typedef struct step_ctx {
  method_state *st;
  descent_objective *obj;
  const descent_batch *batch;
  double lambda;
  int64_t func_evals, products;
} step_ctx;

/* out = (C + lambda I) v at theta (obj->params) */
static int damped_product(step_ctx *c, const real *v, real *out) {
  int rc = c->st->hessian ? descent_objective_hvp(c->obj, c->batch, v, out)
                          : descent_objective_ggnvp(c->obj, c->batch, v, out);
  if (rc) return rc;
  c->products++;
  if (c->lambda != 0) axpy(out, c->lambda, v, c->st->n);
  return DESCENT_OK;
}

/* f(theta + a d), the loss only; obj->params is theta again afterwards. */
static int loss_at(step_ctx *c, double a, const real *d, double *loss) {
  method_state *st = c->st;
  point(c->obj->params, st->theta, a, d, st->n);
  int rc = descent_objective_reevaluate(c->obj, c->batch, loss, NULL);
  memcpy(c->obj->params, st->theta, st->n * sizeof *st->theta);
  if (rc) return rc;
  c->func_evals++;
  if (isnan(*loss)) *loss = INFINITY; /* a NaN loses every comparison */
  return DESCENT_OK;
}

/* minv = (max(diag G, 0) + lambda)^-0.75, 1 where that is not finite. */
static int build_preconditioner(step_ctx *c, const double *hp) {
  method_state *st = c->st;
  size_t samples = (size_t)hp[HF_PRECOND_SAMPLES];
  uint64_t seed = (uint64_t)hp[HF_SEED] * 0x9E3779B97F4A7C15ull + (uint64_t)st->steps;
  int rc = descent_objective_ggn_diagonal(c->obj, c->batch, samples, seed, st->minv);
  if (rc) return rc;
  c->products += method_diagonal_passes(c->obj, samples);
  for (size_t i = 0; i < st->n; i++) {
    double d = (double)st->minv[i] > 0 ? (double)st->minv[i] : 0;
    double m = pow(d + c->lambda, -HF_PRECOND_POWER);
    st->minv[i] = (real)(isfinite(m) && m > 0 ? m : 1);
  }
  return DESCENT_OK;
}

/* ---- conjugate gradients ------------------------------------------------------- */

typedef struct cg_result {
  int iterations;
  int kept;     /* iterates kept before the last */
  double phi;   /* phi at the last iterate, st->x */
  int steepest; /* 1: curvature at the first iteration from 0; x = p */
} cg_result;

/* x = 0, r = g */
static void start_at_zero(method_state *st) {
  memset(st->x, 0, st->n * sizeof *st->x);
  memcpy(st->r, st->g, st->n * sizeof *st->g);
}

/* Martens' relative-progress test after iteration i. */
static int progress_stalled(const method_state *st, int i, double tol) {
  int k = (int)(0.1 * i);
  if (k < 10) k = 10;
  if (i <= k || !(st->phi[i] < 0)) return 0;
  return (st->phi[i] - st->phi[i - k]) / st->phi[i] < k * tol;
}

static int conjugate_gradients(step_ctx *c, const double *hp, cg_result *out) {
  method_state *st = c->st;
  const size_t n = st->n;
  const int max_cg = (int)hp[HF_MAX_CG];
  const double decay = hp[HF_CG_DECAY];
  int rc, from_zero = 1;
  *out = (cg_result){0};
  st->phi[0] = 0;
  if (st->has_prev && decay > 0) {
    /* warm start: r = A x0 + g, phi(x0) = x0.(r + g) / 2 */
    memcpy(st->x, st->prev, n * sizeof *st->x);
    scale(st->x, decay, n);
    if ((rc = damped_product(c, st->x, st->ap))) return rc;
    point(st->r, st->ap, 1, st->g, n);
    double phi0 = 0.5 * (dot(st, st->x, st->r) + dot(st, st->x, st->g));
    if (phi0 < 0) {
      st->phi[0] = phi0;
      from_zero = 0;
    }
  }
  if (from_zero) start_at_zero(st);
  precondition(st, st->y, st->r);
  for (size_t i = 0; i < n; i++) st->p[i] = -st->y[i];
  double ry = dot(st, st->r, st->y);
  int i = 0;
  while (i < max_cg && ry > 0) {
    if ((rc = damped_product(c, st->p, st->ap))) return rc;
    double pap = dot(st, st->p, st->ap);
    if (!(pap > 0)) {
      if (i > 0) break; /* Steihaug: keep the last iterate */
      if (!from_zero) { /* the warm start leads nowhere: once more from 0 */
        from_zero = 1;
        start_at_zero(st);
        st->phi[0] = 0;
        precondition(st, st->y, st->r);
        for (size_t j = 0; j < n; j++) st->p[j] = -st->y[j];
        ry = dot(st, st->r, st->y);
        continue;
      }
      /* from 0, the first direction: the preconditioned gradient's */
      memcpy(st->x, st->p, n * sizeof *st->p);
      out->steepest = 1;
      out->phi = 0.5 * pap + dot(st, st->g, st->p);
      return DESCENT_OK;
    }
    double alpha = ry / pap;
    axpy(st->x, alpha, st->p, n);
    axpy(st->r, alpha, st->ap, n);
    precondition(st, st->y, st->r);
    double ry_new = dot(st, st->r, st->y), beta = ry_new / ry;
    ry = ry_new;
    scale(st->p, beta, n);
    axpy(st->p, -1, st->y, n);
    i++;
    st->phi[i] = 0.5 * (dot(st, st->x, st->r) + dot(st, st->x, st->g));
    if (out->kept < st->n_points && st->points[out->kept] == i) {
      memcpy(st->kept[out->kept], st->x, n * sizeof *st->x);
      st->kept_phi[out->kept++] = st->phi[i];
    }
    if (progress_stalled(st, i, hp[HF_CG_TOL])) break;
  }
  out->iterations = i;
  out->phi = st->phi[i];
  /* the last iterate is st->x, not also among the kept ones */
  if (out->kept > 0 && st->points[out->kept - 1] == i) out->kept--;
  return DESCENT_OK;
}

/* ---- the step ------------------------------------------------------------------- */

/* Martens' backtracking: the loss at the last iterate, then at the kept
   ones backwards while it falls. The chosen direction, its loss and phi. */
static int choose_iterate(step_ctx *c, const cg_result *cg, const real **d, double *f,
                          double *phi) {
  method_state *st = c->st;
  *d = st->x;
  *phi = cg->phi;
  int rc = loss_at(c, 1, st->x, f);
  for (int k = cg->kept - 1; !rc && k >= 0; k--) {
    double fk;
    if ((rc = loss_at(c, 1, st->kept[k], &fk))) break;
    if (!(fk < *f)) break;
    *d = st->kept[k], *f = fk, *phi = st->kept_phi[k];
  }
  return rc;
}

/* The step length from the rate: Armijo backtracking, or the rate. 0 (no
   move) when no length passes; refused when the last trial was still at
   least 1, the CG step itself: then the rate, not the direction, is at
   fault, and every step would silently stay put. f1 is the loss at a = 1. */
static int step_length(step_ctx *c, const double *hp, double rate, const real *d, double f0,
                       double f1, double gd, double *a_out, double *f_out) {
  double a = rate, f = f1;
  int rc = rate == 1 ? DESCENT_OK : loss_at(c, a, d, &f);
  if (rc || hp[HF_LINE_SEARCH] != HF_LINE_SEARCH_ARMIJO) {
    *a_out = a, *f_out = f;
    return rc;
  }
  for (int tries = 1; !(f <= f0 + HF_ARMIJO_C * a * gd); tries++) {
    if (tries == HF_ARMIJO_TRIES) {
      if (a >= 1)
        return descent_fail(
            DESCENT_EINVAL,
            "%s: no step length from the rate %g down to %g (Armijo, %d trials) lowered the "
            "loss; the rate is the first trial's length, 1 the CG step itself: lower it "
            "(default 1)",
            c->st->hessian ? "newton_cg" : "hf", rate, a, HF_ARMIJO_TRIES);
      *a_out = 0, *f_out = f0;
      return DESCENT_OK;
    }
    a *= HF_ARMIJO_SHRINK;
    if ((rc = loss_at(c, a, d, &f))) return rc;
  }
  *a_out = a, *f_out = f;
  return DESCENT_OK;
}

/* Levenberg-Marquardt: lambda from the reduction ratio. */
static double adapt_damping(double lambda, double rho) {
  if (rho < HF_RHO_LOW)
    lambda *= HF_DAMPING_UP;
  else if (rho > HF_RHO_HIGH)
    lambda *= HF_DAMPING_DOWN;
  return lambda < HF_DAMPING_MIN   ? HF_DAMPING_MIN
         : lambda > HF_DAMPING_MAX ? HF_DAMPING_MAX
                                   : lambda;
}

/* The products the method uses (G v for hf, H v for newton_cg) and, with
   precond=ggn, the diagonal: a network's layers must give them, another
   objective must have them. */
static int hf_check(const method_state *st, const double *hp, descent_objective *obj) {
  const char *name = st->hessian ? "newton_cg" : "hf";
  int precond = hp[HF_PRECOND] == HF_PRECOND_GGN, rc = DESCENT_OK;
  const descent_objective_ops *ops = obj->ops;
  if (ops && ops->ggnvp == net_ggnvp) {
    const descent_net *net = obj->impl;
    rc = net_check_products(net, st->hessian);
    if (!rc && precond) rc = net_check_diagonal(net);
  } else if (!ops || !(st->hessian ? ops->hvp : ops->ggnvp) || (precond && !ops->ggn_diagonal)) {
    rc = descent_fail(DESCENT_ENOTSUP, "objective '%s' has no %s, which %s uses%s",
                      ops && ops->kind ? ops->kind : "(no kind)",
                      !ops || !(st->hessian ? ops->hvp : ops->ggnvp)
                          ? (st->hessian ? "Hessian-vector product (ops->hvp)"
                                         : "Gauss-Newton-vector product (ops->ggnvp)")
                          : "Gauss-Newton diagonal (ops->ggn_diagonal)",
                      name,
                      precond && ops && (st->hessian ? ops->hvp : ops->ggnvp)
                          ? " with precond=ggn; use precond=none"
                          : "; use a first-order optimizer (adam, sgd)");
  }
  if (rc) descent_error_prefix("%s: ", name);
  return rc;
}

static int hf_step(method_state *st, const double *hp, double rate, descent_objective *obj,
                   const descent_closure *closure, descent_step_info *info) {
  const size_t n = st->n;
  step_ctx c = {st, obj, closure->batch, st->lambda, 0, 0};
  double f0;
  int rc;
  if (closure->evaluated) {
    f0 = closure->loss;
  } else if ((rc = closure->evaluate(closure->user, obj, &f0))) {
    return rc < 0 ? rc : descent_fail(DESCENT_EINVAL, "hf: the closure returned %d", rc);
  }
  memcpy(st->g, obj->grad, n * sizeof *st->g);
  memcpy(st->theta, obj->params, n * sizeof *st->theta);
  c.func_evals = 1;
  cg_result cg;
  rc = st->minv ? build_preconditioner(&c, hp) : DESCENT_OK;
  if (!rc) rc = conjugate_gradients(&c, hp, &cg);
  const real *d = NULL;
  double f1 = f0, phi = 0, a = 0, fa = f0, rho = -INFINITY;
  if (!rc) rc = choose_iterate(&c, &cg, &d, &f1, &phi);
  double gd = rc ? 0 : dot(st, st->g, d);
  if (!rc && gd < 0) rc = step_length(&c, hp, rate, d, f0, f1, gd, &a, &fa);
  if (rc) {
    memcpy(obj->params, st->theta, n * sizeof *st->theta);
    return rc;
  }
  if (a > 0) {
    /* the undamped model at a d: a g.d + a^2 d'Cd / 2, d'Cd from phi */
    double dcd = 2 * (phi - gd) - c.lambda * dot(st, d, d);
    double q = a * gd + 0.5 * a * a * dcd;
    if (q < 0 && isfinite(fa)) rho = (fa - f0) / q;
    point(obj->params, st->theta, a, d, n);
  } else {
    fa = f0;
  }
  st->lambda = adapt_damping(c.lambda, rho);
  st->last_rho = rho;
  /* the warm start: CG's last iterate (not the chosen one), none after a
     gradient direction */
  st->has_prev = !cg.steepest && cg.iterations > 0;
  if (st->has_prev) memcpy(st->prev, st->x, n * sizeof *st->x);
  st->steps++;
  st->func_evals += c.func_evals;
  st->grad_evals++;
  st->products += c.products;
  st->cg_iterations += cg.iterations;
  *info = (descent_step_info){.function_evals = c.func_evals,
                              .gradient_evals = 1,
                              .product_evals = c.products,
                              .iterations = cg.iterations,
                              .loss = f0,
                              .last_loss = fa};
  return DESCENT_OK;
}

/* ---- saving and loading ----------------------------------------------------------
 *
 *   8  lambda   8  the last reduction ratio         (IEEE doubles)
 *   8  steps   8  loss evaluations   8  gradient evaluations   8  products
 *   8  CG iterations   4  1 when the warm start is held   4  zero
 *   the warm start (n numbers, if held)
 */

#define FIXED_BYTES 64

static size_t hf_state_bytes(const method_state *st) {
  return FIXED_BYTES + (st->has_prev ? st->n * sizeof(real) : 0);
}

static void hf_save(const method_state *st, unsigned char *p) {
  p = method_put_double(p, st->lambda);
  p = method_put_double(p, st->last_rho);
  int64_t counters[] = {st->steps, st->func_evals, st->grad_evals, st->products, st->cg_iterations};
  for (int i = 0; i < 5; i++) p = method_put(p, (uint64_t)counters[i], 8);
  p = method_put(p, (uint64_t)st->has_prev, 4);
  p = method_put(p, 0, 4);
  for (size_t i = 0; st->has_prev && i < st->n; i++) {
#ifdef DESCENT_DOUBLE
    uint64_t bits;
#else
    uint32_t bits;
#endif
    memcpy(&bits, &st->prev[i], sizeof bits);
    p = method_put(p, bits, (int)sizeof bits);
  }
}

static int hf_load(method_state *st, const double *hp, const unsigned char *in, size_t len) {
  (void)hp;
  const char *name = st->hessian ? "newton_cg" : "hf";
  if (len < FIXED_BYTES)
    return descent_fail(DESCENT_EFORMAT, "%s state of %zu bytes: truncated", name, len);
  const unsigned char *p = in;
  double lambda = method_get_double(&p), rho = method_get_double(&p);
  int64_t counters[5];
  int bad_count = 0; /* below 0 or beyond METHOD_MAX_COUNT */
  for (int i = 0; i < 5; i++) {
    counters[i] = (int64_t)method_get(&p, 8);
    bad_count |= counters[i] < 0 || counters[i] > METHOD_MAX_COUNT;
  }
  uint32_t has_prev = (uint32_t)method_get(&p, 4), zero = (uint32_t)method_get(&p, 4);
  if (!(lambda >= 0 && lambda <= HF_DAMPING_MAX) || bad_count || has_prev > 1 || zero)
    return descent_fail(
        DESCENT_EFORMAT,
        "%s state: corrupted (damping %g, flags %u, a counter below 0 or above 2^62: %s)", name,
        lambda, has_prev, bad_count ? "yes" : "no");
  size_t want = FIXED_BYTES + (has_prev ? st->n * sizeof(real) : 0);
  if (len != want)
    return descent_fail(DESCENT_EFORMAT, "%s state: %zu bytes; %zu parameters take %zu", name, len,
                        st->n, want);
  st->lambda = lambda;
  st->last_rho = rho;
  st->steps = counters[0], st->func_evals = counters[1], st->grad_evals = counters[2];
  st->products = counters[3], st->cg_iterations = counters[4];
  st->has_prev = (int)has_prev;
  for (size_t i = 0; has_prev && i < st->n; i++) {
#ifdef DESCENT_DOUBLE
    uint64_t bits = method_get(&p, 8);
#else
    uint32_t bits = (uint32_t)method_get(&p, 4);
#endif
    memcpy(&st->prev[i], &bits, sizeof bits);
  }
  return DESCENT_OK;
}

/* ---- the definitions ---------------------------------------------------------------- */

static method_state *hf_create(const double *hp, size_t n) {
  return create(hp, n, 0);
}

static method_state *newton_cg_create(const double *hp, size_t n) {
  return create(hp, n, 1);
}

static const spec_param hf_params[] = {
    {"damping", SPEC_NUMBER, 1, 0, HF_DAMPING_MAX, 0, 0, 0,
     "the initial lambda of (C + lambda I) d = -g; then times 3/2 when the reduction ratio is "
     "below 1/4, times 2/3 above 3/4, kept within [1e-10, 1e10]"},
    {"max_cg", SPEC_INTEGER, 250, 1, 1e6, 0, 0, 0, "CG iterations per step at most"},
    {"cg_decay", SPEC_NUMBER, 0.95, 0, 1, 0, 0, 0,
     "CG starts from the previous step's last iterate times this (0: from 0)"},
    {"cg_tol", SPEC_NUMBER, 5e-4, 0, 1, 0, 0, 0,
     "Martens' epsilon: stop when the model's value fell by less than k*eps of itself in the "
     "last k = max(10, 0.1 i) iterations (0: run to max_cg)"},
    {"precond", SPEC_TEXT, 0, 0, 0, 0, 0, 0,
     "none, or ggn: M = (diag(G) + lambda)^0.75 from the Gauss-Newton diagonal (Martens used "
     "the empirical Fisher's)"},
    {"precond_samples", SPEC_INTEGER, 0, 0, 1e6, 0, 0, 0,
     "the diagonal: 0 exact (a backward pass per output), or a Monte-Carlo estimate from this "
     "many sampled targets"},
    {"line_search", SPEC_TEXT, 0, 0, 0, 0, 0, 0,
     "armijo (from the rate, times 0.8 until f falls by 1e-2 a g.d; no move after 60 tries, "
     "an error if the last was still >= 1) or none (the rate as it is)"},
    {"seed", SPEC_INTEGER, 0, 0, 9007199254740992.0, 0, 0, 0,
     "the Monte-Carlo diagonal's samples, with the step count"},
};

static const char *const precond_words[] = {"none", "ggn", NULL};
static const char *const line_search_words[] = {"armijo", "none", NULL};
static const char *const *const hf_choices[] = {
    NULL, NULL, NULL, NULL, precond_words, NULL, line_search_words, NULL};

#define HF_EVALUATIONS(products)                                                                   \
  "1 loss and gradient (the closure's), then " products " per CG iteration (plus 1 for the "       \
  "warm start), 1 per backward pass of the diagonal with precond=ggn (samples, or one per "        \
  "output), and losses only (forward passes, on the closure's batch through the objective's "      \
  "re-evaluation) at the iterates backtracked over and at each Armijo trial"

const method_def method_hf = {
    .name = "hf",
    .summary = "Hessian-free (Martens 2010): truncated CG on (G + lambda I) d = -g with "
               "Gauss-Newton products on the step's batch, warm-started, Martens' stopping test, "
               "backtracking over CG iterates, Levenberg-Marquardt damping; the rate is the "
               "step length (Armijo's first trial)",
    .evaluations = HF_EVALUATIONS("1 Gauss-Newton-vector product"),
    .default_lr = "1",
    .params = hf_params,
    .n_params = HF_N,
    .choices = hf_choices,
    .full_batch_param = -1,
    .create = hf_create,
    .destroy = hf_destroy,
    .step = hf_step,
    .check = hf_check,
    .evaluations_so_far = hf_evaluations,
    .products_so_far = hf_products,
    .state_bytes = hf_state_bytes,
    .save = hf_save,
    .load = hf_load,
};

const method_def method_newton_cg = {
    .name = "newton_cg",
    .summary = "Newton-CG: hf's CG on (H + lambda I) d = -g with exact Hessian products, stopped "
               "by Steihaug's rule at curvature p'Ap <= 0 (the last iterate; at the first "
               "iteration, the preconditioned gradient direction); hf's damping, warm start and "
               "backtracking",
    .evaluations = HF_EVALUATIONS("1 Hessian-vector product"),
    .default_lr = "1",
    .params = hf_params,
    .n_params = HF_N,
    .choices = hf_choices,
    .full_batch_param = -1,
    .create = newton_cg_create,
    .destroy = hf_destroy,
    .step = hf_step,
    .check = hf_check,
    .evaluations_so_far = hf_evaluations,
    .products_so_far = hf_products,
    .state_bytes = hf_state_bytes,
    .save = hf_save,
    .load = hf_load,
};
