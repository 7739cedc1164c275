/*
 * sdlm.c - the stochastic diagonal Levenberg-Marquardt method of LeCun,
 * Bottou, Orr and Mueller, "Efficient BackProp" (1998), section 9.1: every
 * parameter k gets its own step eta / (mu + h_kk), with h_kk a running
 * estimate of the diagonal of the Gauss-Newton matrix:
 *
 *   every `every` steps (and at the first):  D = diag(G) on the step's batch
 *     the first estimate:                    h = D
 *     the later ones:                        h = (1 - decay) h + decay D
 *   every step:                              theta = theta - eta / (mu + h) g
 *
 * D comes from the objective (descent_objective_ggn_diagonal): exact
 * (samples = 0) or a Monte-Carlo estimate from `samples` labels drawn from
 * the model's own distribution, seeded from the `seed` hyperparameter and
 * the step count, so a resumed run draws the same labels. For a network
 * the exact D is the exact diagonal of G = J^T H_L J; LeCun's own recipe
 * back-propagates second derivatives keeping only the diagonal at every
 * layer, an approximation of it. h is curvature, not squared gradients:
 * code that accumulates g^2 instead computes Adagrad's denominator, which
 * vanishes at a minimum whatever its curvature.
 *
 * Per-parameter arithmetic is in double, rounded to the buffers' precision
 * once per value (h, then theta), so the step does not depend on the
 * thread count.
 */
#include "method.h"

#include "nn/network_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef descent_real real;

/* hyperparameters, in params order */
enum { SD_DAMPING, SD_EVERY, SD_DECAY, SD_SAMPLES, SD_SEED, SD_N };

#define BLOCK           4096
#define PARALLEL_BLOCKS 16

struct method_state {
  size_t n;
  int64_t steps;       /* steps taken */
  int64_t evaluations; /* evaluations of the objective, one per step */
  int64_t products;    /* backward passes of the diagonal estimates */
  real *h;             /* the running diagonal; meaningful once steps > 0 */
  real *estimate;      /* scratch: this step's D */
};

/* ---- the state ------------------------------------------------------------------ */

static void sdlm_destroy(method_state *st) {
  if (!st) return;
  descent_free_real(st->h);
  descent_free_real(st->estimate);
  free(st);
}

static method_state *sdlm_create(const double *hp, size_t n) {
  (void)hp;
  method_state *st = descent_calloc(1, sizeof *st, "sdlm state");
  if (!st) return NULL;
  st->n = n;
  size_t len = n ? n : 1;
  st->h = descent_alloc_real(len, "sdlm curvature");
  st->estimate = descent_alloc_real(len, "sdlm curvature");
  if (!st->h || !st->estimate) {
    sdlm_destroy(st);
    return NULL;
  }
  return st;
}

static int64_t sdlm_evaluations(const method_state *st) {
  return st->evaluations;
}

static int64_t sdlm_products(const method_state *st) {
  return st->products;
}

/* ---- the diagonal estimate ------------------------------------------------------- */

/* The backward passes one diagonal costs: samples when estimated; exact, a
   network's outputs (one pass per class) or a lab problem's dimension (one
   Gauss-Newton product per column); 1 for another objective, whose cost
   the method cannot know. The objective is recognized by its functions,
   never by its kind text, which a program's objective may share. */
int64_t method_diagonal_passes(const descent_objective *obj, size_t samples) {
  if (samples) return (int64_t)samples;
  if (obj->ops->ggn_diagonal == net_ggn_diagonal) /* a network: obj->impl is the network */
    return (int64_t)descent_net_outputs((const descent_net *)obj->impl);
  if (descent_problem_info_get(obj)) return (int64_t)obj->n_params;
  return 1;
}

/* h from this step's estimate: D itself at the first step, then the running
   average. An estimate below 0 (Hutchinson's, on a lab problem, can be;
   the diagonal of G cannot) counts as 0. */
static void update_curvature(method_state *st, double decay, int first) {
  size_t n = st->n, blocks = (n + BLOCK - 1) / BLOCK;
  real *h = st->h;
  const real *d = st->estimate;
#pragma omp parallel for schedule(static) if (blocks >= PARALLEL_BLOCKS)
  for (size_t k = 0; k < blocks; k++) {
    size_t lo = k * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
    for (size_t i = lo; i < hi; i++) {
      double di = d[i] > 0 ? (double)d[i] : 0;
      h[i] = first ? (real)di : (real)((1 - decay) * (double)h[i] + decay * di);
    }
  }
}

/* theta = theta - eta / (mu + h) g */
static void take_step(const method_state *st, double eta, double mu, real *theta, const real *g) {
  size_t n = st->n, blocks = (n + BLOCK - 1) / BLOCK;
  const real *h = st->h;
#pragma omp parallel for schedule(static) if (blocks >= PARALLEL_BLOCKS)
  for (size_t k = 0; k < blocks; k++) {
    size_t lo = k * BLOCK, hi = lo + BLOCK < n ? lo + BLOCK : n;
    for (size_t i = lo; i < hi; i++)
      theta[i] = (real)((double)theta[i] - eta / (mu + (double)h[i]) * (double)g[i]);
  }
}

/* ---- the step --------------------------------------------------------------------- */

/* A network whose layers give the diagonal, or an objective with one. */
static int sdlm_check(const method_state *st, const double *hp, descent_objective *obj) {
  (void)st, (void)hp;
  int rc = DESCENT_OK;
  if (obj->ops && obj->ops->ggn_diagonal == net_ggn_diagonal)
    rc = net_check_diagonal((const descent_net *)obj->impl);
  else if (!obj->ops || !obj->ops->ggn_diagonal)
    rc = descent_fail(DESCENT_ENOTSUP,
                      "objective '%s' has no Gauss-Newton diagonal (ops->ggn_diagonal), which "
                      "sdlm divides by; use a first-order optimizer (adam, sgd)",
                      obj->ops && obj->ops->kind ? obj->ops->kind : "(no kind)");
  if (rc) descent_error_prefix("sdlm: ");
  return rc;
}

static int sdlm_step(method_state *st, const double *hp, double eta, descent_objective *obj,
                     const descent_closure *closure, descent_step_info *info) {
  double loss = closure->loss;
  int rc = DESCENT_OK;
  if (!closure->evaluated) {
    rc = closure->evaluate(closure->user, obj, &loss);
    if (rc) return rc < 0 ? rc : descent_fail(DESCENT_EINVAL, "sdlm: the closure returned %d", rc);
  }
  const int64_t every = (int64_t)hp[SD_EVERY];
  int64_t passes = 0;
  if (st->steps % every == 0) {
    size_t samples = (size_t)hp[SD_SAMPLES];
    rc = descent_objective_ggn_diagonal(obj, closure->batch, samples,
                                        method_draw_seed(hp[SD_SEED], st->steps), st->estimate);
    if (rc) {
      descent_error_prefix("sdlm: ");
      return rc;
    }
    update_curvature(st, hp[SD_DECAY], st->steps == 0);
    passes = method_diagonal_passes(obj, samples);
  }
  take_step(st, eta, hp[SD_DAMPING], obj->params, obj->grad);
  st->steps++;
  st->evaluations++;
  st->products += passes;
  *info = (descent_step_info){.function_evals = 1,
                              .gradient_evals = 1,
                              .product_evals = passes,
                              .iterations = 1,
                              .loss = loss,
                              .last_loss = loss};
  return DESCENT_OK;
}

/* ---- saving and loading ----------------------------------------------------------
 *
 *   8  steps   8  evaluations   8  products      (unsigned, little-endian)
 *   n numbers h, in the buffers' precision (last, so that the state blob
 *   ends with h and its checksum)
 */

#define FIXED_BYTES 24

static size_t sdlm_state_bytes(const method_state *st) {
  return FIXED_BYTES + st->n * sizeof(real);
}

static void sdlm_save(const method_state *st, unsigned char *p) {
  p = method_put(p, (uint64_t)st->steps, 8);
  p = method_put(p, (uint64_t)st->evaluations, 8);
  p = method_put(p, (uint64_t)st->products, 8);
  method_put_reals(p, st->h, st->n);
}

static int sdlm_load(method_state *st, const double *hp, const unsigned char *in, size_t len) {
  (void)hp;
  if (len != sdlm_state_bytes(st))
    return descent_fail(DESCENT_EFORMAT,
                        "sdlm state: %zu bytes; the curvature of %zu parameters takes %zu", len,
                        st->n, sdlm_state_bytes(st));
  const unsigned char *p = in;
  uint64_t steps = method_get(&p, 8), evaluations = method_get(&p, 8), products = method_get(&p, 8);
  if (steps > METHOD_MAX_COUNT || evaluations != steps || products > METHOD_MAX_COUNT)
    return descent_fail(DESCENT_EFORMAT,
                        "sdlm state: corrupted (%llu steps, %llu evaluations, %llu products; "
                        "each step makes one evaluation)",
                        (unsigned long long)steps, (unsigned long long)evaluations,
                        (unsigned long long)products);
  /* The curvature is checked whole before the state changes. */
  const unsigned char *values = p;
  for (size_t i = 0; i < st->n; i++) {
    real v;
    method_get_reals(&p, &v, 1);
    if (!(v >= 0))
      return descent_fail(DESCENT_EFORMAT,
                          "sdlm state: corrupted (curvature %g of parameter %zu; a Gauss-Newton "
                          "diagonal is >= 0)",
                          (double)v, i);
  }
  st->steps = (int64_t)steps;
  st->evaluations = (int64_t)evaluations;
  st->products = (int64_t)products;
  p = values;
  method_get_reals(&p, st->h, st->n);
  return DESCENT_OK;
}

/* ---- the definition ---------------------------------------------------------------- */

static const spec_param sdlm_params[] = {
    {"damping", SPEC_NUMBER, 0.01, 0, INFINITY, 1, 0, 0,
     "mu, added to the curvature: the step is at most lr / damping times the gradient"},
    {"every", SPEC_INTEGER, 10, 1, 1e9, 0, 0, 0,
     "steps between estimates of the Gauss-Newton diagonal (the first step estimates it too)"},
    {"decay", SPEC_NUMBER, 0.1, 0, 1, 1, 0, 0,
     "gamma: weight of a new estimate in the running diagonal (1: the latest alone)"},
    {"samples", SPEC_INTEGER, 1, 0, 1e6, 0, 0, 0,
     "0: the exact diagonal; > 0: a Monte-Carlo estimate from that many sampled labels"},
    {"seed", SPEC_INTEGER, 1, 0, 4294967295.0, 0, 0, 0,
     "seed of the Monte-Carlo labels (mixed with the step count)"},
};

const method_def method_sdlm = {
    .name = "sdlm",
    .summary = "stochastic diagonal Levenberg-Marquardt (LeCun et al. 1998, Efficient BackProp): "
               "theta -= lr / (damping + h) g, h a running average of the Gauss-Newton "
               "diagonal of the step's batch (curvature, not Adagrad's squared gradients)",
    .evaluations = "1, with its gradient; every `every` steps (and at the first) one Gauss-Newton "
                   "diagonal, counted in products as the backward passes it costs: a network's "
                   "classes (exact) or samples, a lab problem's dimension (exact) or samples",
    .default_lr = "0.002",
    .params = sdlm_params,
    .n_params = SD_N,
    .choices = NULL,
    .full_batch_param = -1,
    .resolve = NULL,
    .create = sdlm_create,
    .destroy = sdlm_destroy,
    .step = sdlm_step,
    .check = sdlm_check,
    .evaluations_so_far = sdlm_evaluations,
    .products_so_far = sdlm_products,
    .state_bytes = sdlm_state_bytes,
    .save = sdlm_save,
    .load = sdlm_load,
};
