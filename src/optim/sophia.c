/*
 * sophia.c - Sophia (Liu, Li, Hall, Liang and Ma 2023, "Sophia: A Scalable
 * Stochastic Second-order Optimizer for Language Model Pre-training") as
 * optax.contrib.sophia (optax 0.2.8) computes it: momentum divided by a
 * running estimate of the Hessian's diagonal, clipped per coordinate.
 *
 *   t = steps + 1
 *   m  = b1 m + (1 - b1) g                         (m_0 = 0)
 *   u  = clip(m / (1 - b1^t) / max(gamma h, eps), -clip_threshold, clip_threshold)
 *   theta = theta - lr (u + weight_decay theta)
 *   every `update_interval` steps (the first included), after u is formed
 *   with the h of the steps before, with D an estimate of diag(H) at the
 *   step's theta on its batch:
 *   h  = b2 h + (1 - b2) D                         (h_0 = 0)
 *
 * optax's order is kept: the step uses h as it was before this step's
 * estimate (so the first step divides by eps, and is clipped to
 * +-clip_threshold wherever the gradient is not tiny), m is bias-corrected
 * and h is not, and an estimate below 0 is used as it is (max(gamma h,
 * eps) then gives eps, and the coordinate is clipped). D is
 *  - hutchinson (Sophia-H, optax's default): z * (H z) for a Rademacher z,
 *    H the loss's exact Hessian (descent_objective_hvp), one product;
 *  - gnb (Sophia-G, the paper's Algorithm 2): B g_hat * g_hat, g_hat the
 *    batch gradient on labels drawn from the model's own softmax
 *    (net_gnb_diagonal), one backward pass; networks only.
 * Both are unbiased: E[D] is diag(H) for hutchinson and the Gauss-Newton
 * diagonal diag(G) for gnb. Their draws are seeded from `seed` and the step
 * count, so a resumed run draws the same.
 *
 * Per-parameter arithmetic is in double, in optax's order of operations,
 * rounded to the buffers' precision once per stored value (m, h, theta);
 * the step does not depend on the thread count.
 */
#include "method.h"

#include "nn/network_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef descent_real real;

/* hyperparameters, in params order */
enum {
  SO_B1,
  SO_B2,
  SO_EPS,
  SO_WEIGHT_DECAY,
  SO_GAMMA,
  SO_CLIP,
  SO_INTERVAL,
  SO_ESTIMATOR,
  SO_SEED,
  SO_N
};
enum { ESTIMATOR_HUTCHINSON, ESTIMATOR_GNB };

#define BLOCK           4096
#define PARALLEL_BLOCKS 16

struct method_state {
  size_t n;
  int64_t steps;       /* steps taken */
  int64_t evaluations; /* evaluations of the objective, one per step */
  int64_t products;    /* Hessian-vector products or backward passes of the estimates */
  real *m;             /* the first moment */
  real *h;             /* the running Hessian diagonal */
  real *estimate;      /* scratch: this step's D */
  real *probe;         /* scratch: hutchinson's z */
};

/* ---- the state ------------------------------------------------------------------ */

static void sophia_destroy(method_state *st) {
  if (!st) return;
  descent_free_real(st->m);
  descent_free_real(st->h);
  descent_free_real(st->estimate);
  descent_free_real(st->probe);
  free(st);
}

static method_state *sophia_create(const double *hp, size_t n) {
  method_state *st = descent_calloc(1, sizeof *st, "sophia state");
  if (!st) return NULL;
  st->n = n;
  size_t len = n ? n : 1;
  st->m = descent_alloc_real(len, "sophia moments");
  st->h = descent_alloc_real(len, "sophia moments");
  st->estimate = descent_alloc_real(len, "sophia estimate");
  if (hp[SO_ESTIMATOR] == ESTIMATOR_HUTCHINSON)
    st->probe = descent_alloc_real(len, "sophia estimate");
  if (!st->m || !st->h || !st->estimate ||
      (hp[SO_ESTIMATOR] == ESTIMATOR_HUTCHINSON && !st->probe)) {
    sophia_destroy(st);
    return NULL;
  }
  memset(st->m, 0, len * sizeof *st->m);
  memset(st->h, 0, len * sizeof *st->h);
  return st;
}

static int64_t sophia_evaluations(const method_state *st) {
  return st->evaluations;
}

static int64_t sophia_products(const method_state *st) {
  return st->products;
}

/* ---- the estimates ---------------------------------------------------------------- */

/* Hutchinson's z * (H z), z a vector of independent +-1 (64 signs from
   each draw of the RNG). z * z = 1 exactly, so an objective whose Hessian
   is diagonal gets its diagonal back to the bit. */
static int hutchinson(method_state *st, descent_objective *obj, const descent_batch *batch,
                      uint64_t seed) {
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  real *z = st->probe;
  uint64_t bits = 0;
  for (size_t i = 0; i < st->n; i++) {
    if (i % 64 == 0) bits = descent_rng_next(&rng);
    z[i] = (bits >> (i % 64)) & 1 ? (real)1 : (real)-1;
  }
  int rc = descent_objective_hvp(obj, batch, z, st->estimate);
  if (rc) return rc;
  for (size_t i = 0; i < st->n; i++) st->estimate[i] = st->estimate[i] * z[i];
  return DESCENT_OK;
}

static int estimate(method_state *st, const double *hp, descent_objective *obj,
                    const descent_batch *batch) {
  uint64_t seed = method_draw_seed(hp[SO_SEED], st->steps);
  if (hp[SO_ESTIMATOR] == ESTIMATOR_GNB) return net_gnb_diagonal(obj, batch, seed, st->estimate);
  return hutchinson(st, obj, batch, seed);
}

/* ---- the update --------------------------------------------------------------------- */

/* m, then theta from m and the h of the steps before (optax's order). */
static void take_step(method_state *st, const double *hp, double lr, real *theta, const real *g) {
  const double b1 = hp[SO_B1], gamma = hp[SO_GAMMA], eps = hp[SO_EPS], wd = hp[SO_WEIGHT_DECAY];
  const double clip = hp[SO_CLIP];
  const double correction = 1 - pow(b1, (double)(st->steps + 1));
  size_t n = st->n, blocks = (n + BLOCK - 1) / BLOCK;
  real *m = st->m;
  const real *h = st->h;
#pragma omp parallel for schedule(static) if (blocks >= PARALLEL_BLOCKS)
  for (size_t k = 0; k < blocks; k++) {
    size_t lo = k * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
    for (size_t i = lo; i < hi; i++) {
      double mi = (1 - b1) * (double)g[i] + b1 * (double)m[i];
      /* jnp.maximum's: a NaN in h is passed on (to the guard), not floored */
      double scaled = gamma * (double)h[i];
      double u = mi / correction / (scaled > eps || isnan(scaled) ? scaled : eps);
      if (clip > 0) u = u < -clip ? -clip : u > clip ? clip : u;
      m[i] = (real)mi;
      theta[i] = (real)((double)theta[i] - lr * (u + wd * (double)theta[i]));
    }
  }
}

/* h = b2 h + (1 - b2) D */
static void update_curvature(method_state *st, double b2) {
  size_t n = st->n, blocks = (n + BLOCK - 1) / BLOCK;
  real *h = st->h;
  const real *d = st->estimate;
#pragma omp parallel for schedule(static) if (blocks >= PARALLEL_BLOCKS)
  for (size_t k = 0; k < blocks; k++) {
    size_t lo = k * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
    for (size_t i = lo; i < hi; i++) h[i] = (real)((1 - b2) * (double)d[i] + b2 * (double)h[i]);
  }
}

/* ---- the step --------------------------------------------------------------------- */

/* hutchinson: a network whose layers give Hessian products, or an objective
   with them; gnb: a network. */
static int sophia_check(const method_state *st, const double *hp, descent_objective *obj) {
  (void)st;
  const descent_objective_ops *ops = obj->ops;
  const char *kind = ops && ops->kind ? ops->kind : "(no kind)";
  int is_net = ops && ops->hvp == net_hvp, rc = DESCENT_OK;
  if (hp[SO_ESTIMATOR] == ESTIMATOR_GNB) {
    if (!is_net)
      rc = descent_fail(DESCENT_ENOTSUP,
                        "estimator=gnb samples labels from a network's outputs, and objective "
                        "'%s' is not a network; use estimator=hutchinson",
                        kind);
  } else if (is_net) {
    rc = net_check_products(obj->impl, 1);
  } else if (!ops || !ops->hvp) {
    rc = descent_fail(DESCENT_ENOTSUP,
                      "objective '%s' has no Hessian-vector product (ops->hvp), which "
                      "estimator=hutchinson uses; use a first-order optimizer (adam, sgd)",
                      kind);
  }
  if (rc) descent_error_prefix("sophia: ");
  return rc;
}

static int sophia_step(method_state *st, const double *hp, double lr, descent_objective *obj,
                       const descent_closure *closure, descent_step_info *info) {
  int rc = sophia_check(st, hp, obj);
  if (rc) return rc;
  double loss = closure->loss;
  if (!closure->evaluated) {
    rc = closure->evaluate(closure->user, obj, &loss);
    if (rc)
      return rc < 0 ? rc : descent_fail(DESCENT_EINVAL, "sophia: the closure returned %d", rc);
  }
  /* The estimate is taken at the step's theta, before the step moves it. */
  int64_t products = 0;
  if (st->steps % (int64_t)hp[SO_INTERVAL] == 0) {
    rc = estimate(st, hp, obj, closure->batch);
    if (rc) {
      descent_error_prefix("sophia: ");
      return rc;
    }
    products = 1;
  }
  take_step(st, hp, lr, obj->params, obj->grad);
  if (products) update_curvature(st, hp[SO_B2]);
  st->steps++;
  st->evaluations++;
  st->products += products;
  *info = (descent_step_info){.function_evals = 1,
                              .gradient_evals = 1,
                              .product_evals = products,
                              .iterations = 1,
                              .loss = loss,
                              .last_loss = loss};
  return DESCENT_OK;
}

/* ---- saving and loading ----------------------------------------------------------
 *
 *   8  steps   8  evaluations   8  products      (unsigned, little-endian)
 *   n numbers m, then n numbers h, in the buffers' precision (h last, so
 *   that the state blob ends with h and its checksum)
 */

#define FIXED_BYTES 24

static size_t sophia_state_bytes(const method_state *st) {
  return FIXED_BYTES + 2 * st->n * sizeof(real);
}

static void sophia_save(const method_state *st, unsigned char *p) {
  p = method_put(p, (uint64_t)st->steps, 8);
  p = method_put(p, (uint64_t)st->evaluations, 8);
  p = method_put(p, (uint64_t)st->products, 8);
  p = method_put_reals(p, st->m, st->n);
  method_put_reals(p, st->h, st->n);
}

/* The moments may hold any finite value (h below 0 included, as optax's);
   the counters must agree with each other and the interval. Everything is
   checked before the state changes. */
static int sophia_load(method_state *st, const double *hp, const unsigned char *in, size_t len) {
  if (len != sophia_state_bytes(st))
    return descent_fail(DESCENT_EFORMAT,
                        "sophia state: %zu bytes; the moments of %zu parameters take %zu", len,
                        st->n, sophia_state_bytes(st));
  const unsigned char *p = in;
  uint64_t steps = method_get(&p, 8), evaluations = method_get(&p, 8), products = method_get(&p, 8);
  uint64_t interval = (uint64_t)hp[SO_INTERVAL];
  uint64_t estimates = steps ? (steps - 1) / interval + 1 : 0;
  if (steps > METHOD_MAX_COUNT || evaluations != steps || products != estimates)
    return descent_fail(DESCENT_EFORMAT,
                        "sophia state: corrupted (%llu steps, %llu evaluations, %llu products; "
                        "each step makes one evaluation, every %llu-th step one product)",
                        (unsigned long long)steps, (unsigned long long)evaluations,
                        (unsigned long long)products, (unsigned long long)interval);
  const unsigned char *values = p;
  for (size_t i = 0; i < 2 * st->n; i++) {
    real v;
    method_get_reals(&p, &v, 1);
    if (!isfinite(v))
      return descent_fail(DESCENT_EFORMAT, "sophia state: corrupted (%s of parameter %zu is %g)",
                          i < st->n ? "m" : "h", i % (st->n ? st->n : 1), (double)v);
  }
  st->steps = (int64_t)steps;
  st->evaluations = (int64_t)evaluations;
  st->products = (int64_t)products;
  p = values;
  method_get_reals(&p, st->m, st->n);
  method_get_reals(&p, st->h, st->n);
  return DESCENT_OK;
}

/* ---- the definition ---------------------------------------------------------------- */

static const spec_param sophia_params[] = {
    {"b1", SPEC_NUMBER, 0.965, 0, 1, 0, 1, 0, "decay of the gradient's running mean m"},
    {"b2", SPEC_NUMBER, 0.99, 0, 1, 0, 1, 0,
     "decay of the Hessian diagonal's running mean h, per estimate (every update_interval "
     "steps)"},
    {"eps", SPEC_NUMBER, 1e-8, 0, INFINITY, 1, 0, 0,
     "floor of gamma h in the division (h starts at 0: the first step divides by eps)"},
    {"weight_decay", SPEC_NUMBER, 1e-4, 0, INFINITY, 0, 0, 0,
     "decoupled weight decay: lr weight_decay theta is subtracted too"},
    {"gamma", SPEC_NUMBER, 0.01, 0, INFINITY, 1, 0, 0,
     "scale of h in the division (the paper's rho); larger: fewer clipped coordinates"},
    {"clip_threshold", SPEC_NUMBER, 1, 0, INFINITY, 0, 0, 0,
     "bound of each coordinate of the preconditioned step (0: none, optax's None)"},
    {"update_interval", SPEC_INTEGER, 10, 1, 1e9, 0, 0, 0,
     "steps between estimates of the Hessian diagonal (the first step estimates it too)"},
    {"estimator", SPEC_TEXT, 0, 0, 0, 0, 0, 0,
     "hutchinson: z * (H z), z random +-1 (Sophia-H, optax's); gnb: B g_hat^2, g_hat the "
     "gradient on labels sampled from the model (Sophia-G, networks only)"},
    {"seed", SPEC_INTEGER, 1, 0, 4294967295.0, 0, 0, 0,
     "seed of the estimator's draws (mixed with the step count)"},
};

static const char *const estimator_words[] = {"hutchinson", "gnb", NULL};
static const char *const *const sophia_choices[] = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, estimator_words, NULL};

const method_def method_sophia = {
    .name = "sophia",
    .summary = "Sophia (Liu et al. 2023), as optax.contrib.sophia: theta -= lr (clip(m_hat / "
               "max(gamma h, eps), clip_threshold) + weight_decay theta), m the gradient's "
               "running mean (bias-corrected), h a running mean of estimates of the Hessian "
               "diagonal (Hutchinson's z * Hz, or Sophia-G's Gauss-Newton-Bartlett B g_hat^2)",
    .evaluations = "1, with its gradient; every update_interval steps (and at the first) one "
                   "estimate, counted in products: one Hessian-vector product (hutchinson) or "
                   "one backward pass (gnb)",
    .default_lr = "0.0001",
    .params = sophia_params,
    .n_params = SO_N,
    .choices = sophia_choices,
    .full_batch_param = -1,
    .resolve = NULL,
    .create = sophia_create,
    .destroy = sophia_destroy,
    .step = sophia_step,
    .check = sophia_check,
    .evaluations_so_far = sophia_evaluations,
    .products_so_far = sophia_products,
    .state_bytes = sophia_state_bytes,
    .save = sophia_save,
    .load = sophia_load,
};
