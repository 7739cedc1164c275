/*
 * tracker_measure.c - what the tracker measures at a step (formulas and
 * references in docs/instruments.md):
 *  - before the step, at its parameters and on its batch: the per-layer
 *    activation statistics (read first, from the step's own forward pass,
 *    before any replay overwrites net->acts), the per-tensor gradient norms,
 *    the per-example gradients' noise statistics, the Hessian's extreme
 *    eigenvalues by Lanczos on H v (one run gives the top and the bottom),
 *    the Gauss-Newton matrix's top one, and the stability limit with, for a
 *    preconditioned limit, the top eigenvalue of P^-1/2 H P^-1/2 (which has
 *    the eigenvalues of P^-1 H);
 *  - after the step: alpha from one re-evaluation at the new parameters on
 *    the same batch, and each tensor's update and distance from step 0.
 * Everything here uses re-evaluations and products, which have no side
 * effects: the run's parameters are the same bits with and without it.
 */
#include "tracker.h"

#include "nn/network_internal.h"
#include "nn/network_kfac.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The parameter range of per-layer group i: a tensor of the objective's
   table, or all of them when it has none. */
static void tensor_range(const descent_tracker *t, size_t i, size_t *lo, size_t *hi) {
  if (!t->obj->n_tensors) {
    *lo = 0, *hi = t->obj->n_params;
    return;
  }
  *lo = t->obj->tensors[i].offset;
  *hi = *lo + t->obj->tensors[i].size;
}

static double norm_of(const descent_real *v, size_t lo, size_t hi) {
  double s = 0;
  for (size_t i = lo; i < hi; i++) s += (double)v[i] * (double)v[i];
  return sqrt(s);
}

/* |a - b| over [lo, hi), in double. */
static double distance(const descent_real *a, const descent_real *b, size_t lo, size_t hi) {
  double s = 0;
  for (size_t i = lo; i < hi; i++) {
    double d = (double)a[i] - (double)b[i];
    s += d * d;
  }
  return sqrt(s);
}

/* ---- per layer ------------------------------------------------------------------ */

static void layers_before(descent_tracker *t, const descent_batch *batch) {
  double *row = t->row + t->col_layers;
  for (size_t i = 0; i < t->n_tensors; i++) {
    size_t lo, hi;
    tensor_range(t, i, &lo, &hi);
    row[3 * i] = norm_of(t->obj->grad, lo, hi);
  }
  if (!t->net || !batch) return;
  double *act = row + 3 * t->n_tensors;
  for (size_t i = 0; i < t->n_acts; i++) {
    double mean, std, dead;
    net_activation_stats(t->net, t->act_layers[i], batch->n, &mean, &std, &dead);
    *act++ = mean;
    *act++ = std;
    if (net_activation_kind(t->net, t->act_layers[i]) == NET_ACTIVATION_RELU) *act++ = dead;
  }
}

static void layers_after(descent_tracker *t) {
  double *row = t->row + t->col_layers;
  const descent_real *theta = t->obj->params;
  for (size_t i = 0; i < t->n_tensors; i++) {
    size_t lo, hi;
    tensor_range(t, i, &lo, &hi);
    double size = norm_of(t->theta0, lo, hi);
    row[3 * i + 1] = size > 0 ? distance(theta, t->theta0, lo, hi) / size : NAN;
    row[3 * i + 2] = distance(theta, t->theta_start, lo, hi);
  }
}

/* ---- gradient noise ------------------------------------------------------------- */

static int measure_noise(descent_tracker *t, const descent_batch *batch) {
  double *row = t->row + t->col_noise;
  size_t n = t->obj->n_params;
  double grad_sq = 0;
  for (size_t i = 0; i < n; i++) grad_sq += (double)t->obj->grad[i] * (double)t->obj->grad[i];
  row[0] = sqrt(grad_sq);
  if (!batch) return DESCENT_OK;
  size_t b = batch->n;
  row[6] = (double)b;
  if (b < 2) return DESCENT_OK; /* one example has no spread: the row says nan */
  if (b > t->cap_examples) {
    free(t->sq);
    free(t->dot);
    t->sq = descent_calloc(b, sizeof *t->sq, "tracker: per-example norms");
    t->dot = descent_calloc(b, sizeof *t->dot, "tracker: per-example products");
    t->cap_examples = t->sq && t->dot ? b : 0;
    if (!t->cap_examples) return DESCENT_ENOMEM;
  }
  int rc = descent_objective_example_gradients(t->obj, batch, t->obj->grad, t->sq, t->dot);
  tracker_spend(t, TRACK_TIER_FIRST_ORDER, TRACK_COST_EXAMPLES);
  descent_noise noise;
  if (!rc) rc = descent_noise_compute(t->sq, t->dot, b, grad_sq, &noise);
  if (rc) return rc;
  row[1] = noise.trace;
  row[2] = noise.noise_scale;
  row[3] = noise.norm_test;
  row[4] = noise.inner_test;
  row[5] = noise.ortho_test;
  return DESCENT_OK;
}

/* ---- curvature ------------------------------------------------------------------ */

static int apply_hvp(void *user, const descent_real *v, descent_real *out) {
  descent_tracker *t = user;
  return descent_objective_hvp(t->obj, t->batch, v, out);
}

static int apply_ggnvp(void *user, const descent_real *v, descent_real *out) {
  descent_tracker *t = user;
  return descent_objective_ggnvp(t->obj, t->batch, v, out);
}

/* P^-1/2 H P^-1/2 v, with t->precond holding P^-1/2. */
static int apply_preconditioned(void *user, const descent_real *v, descent_real *out) {
  descent_tracker *t = user;
  size_t n = t->obj->n_params;
  for (size_t i = 0; i < n; i++) t->scratch[i] = v[i] * t->precond[i];
  int rc = descent_objective_hvp(t->obj, t->batch, t->scratch, out);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) out[i] *= t->precond[i];
  return DESCENT_OK;
}

/* Lanczos from a copy of start (NULL: a random start from seed), so the
   warm start may be overwritten by the new vectors. */
static int lanczos(descent_tracker *t, descent_operator_fn apply, const descent_real *start,
                   uint64_t seed, descent_real *top, descent_real *bottom, double cost,
                   descent_lanczos_result *res) {
  size_t n = t->obj->n_params;
  if (start && start != t->work) memcpy(t->work, start, n * sizeof *t->work);
  int rc = descent_lanczos(apply, t, n, t->o.iterations, t->o.tolerance, start ? t->work : NULL,
                           seed, top, bottom, res);
  if (!rc) tracker_spend(t, TRACK_TIER_CURVATURE, cost * res->products);
  return rc;
}

/* The start of the Hessian's run: the last top vector, mixed with the last
   bottom one when the bottom is measured too (a start along both ends
   finds both in one Krylov space), or a random one the first time. */
static const descent_real *hessian_start(descent_tracker *t) {
  unsigned w = t->now, have = t->have;
  size_t n = t->obj->n_params;
  int top = (have & TRACK_HAVE_TOP) != 0, bottom = (have & TRACK_HAVE_BOTTOM) != 0;
  if (top && bottom && (w & DESCENT_TRACK_NEGATIVE)) {
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
      t->work[i] = t->top[i] + t->bottom[i];
      nonzero |= t->work[i] != 0;
    }
    return nonzero ? t->work : t->top;
  }
  if (top && (w & DESCENT_TRACK_SHARPNESS)) return t->top;
  if (bottom) return t->bottom;
  return top ? t->top : NULL;
}

static int measure_hessian(descent_tracker *t) {
  descent_lanczos_result res;
  /* The bottom vector only when it is measured: Lanczos then stops once
     both ends have converged, else once the top has. */
  int negative = (t->now & DESCENT_TRACK_NEGATIVE) != 0;
  int rc = lanczos(t, apply_hvp, hessian_start(t), t->o.seed, t->top, negative ? t->bottom : NULL,
                   TRACK_COST_HVP, &res);
  if (rc) return rc;
  t->have |= TRACK_HAVE_TOP | (negative ? TRACK_HAVE_BOTTOM : 0u);
  if (t->now & DESCENT_TRACK_SHARPNESS) t->row[t->col_sharp] = res.top;
  if (negative) t->row[t->col_neg] = res.bottom;
  return DESCENT_OK;
}

static int measure_ggn(descent_tracker *t) {
  descent_lanczos_result res;
  const descent_real *start = (t->have & TRACK_HAVE_GGN) ? t->ggn_top : NULL;
  int rc = lanczos(t, apply_ggnvp, start, t->o.seed + 1, t->ggn_top, NULL, TRACK_COST_GGNVP, &res);
  if (rc) return rc;
  t->have |= TRACK_HAVE_GGN;
  t->row[t->col_ggn] = res.top;
  return DESCENT_OK;
}

/* The limit of the optimizer as it stands before the step, and the
   sharpness it applies to. */
static int measure_stability(descent_tracker *t) {
  double *row = t->row + t->col_sharp;
  size_t n = t->obj->n_params;
  descent_stability st;
  int rc = descent_optimizer_stability(t->opt, t->precond, n, &st);
  if (rc) return rc;
  row[1] = st.limit;
  if (!isfinite(st.limit)) return DESCENT_OK;
  if (!st.preconditioned) {
    row[3] = row[0] / st.limit;
    return DESCENT_OK;
  }
  for (size_t i = 0; i < n; i++) t->precond[i] = (descent_real)(1 / sqrt((double)t->precond[i]));
  descent_lanczos_result res;
  const descent_real *start = (t->have & TRACK_HAVE_PRE) ? t->pre_top : NULL;
  rc = lanczos(t, apply_preconditioned, start, t->o.seed + 2, t->pre_top, NULL, TRACK_COST_HVP,
               &res);
  if (rc) return rc;
  t->have |= TRACK_HAVE_PRE;
  row[2] = res.top;
  row[3] = res.top / st.limit;
  return DESCENT_OK;
}

/* ---- the two halves --------------------------------------------------------------- */

int tracker_measure_before(descent_tracker *t, const descent_batch *batch) {
  unsigned w = t->now;
  size_t n = t->obj->n_params;
  t->batch = batch;
  if (w & DESCENT_TRACK_LAYERS) layers_before(t, batch); /* before any replay */
  if (t->theta0) memcpy(t->theta0, t->obj->params, n * sizeof *t->theta0);
  if (t->g0) memcpy(t->g0, t->obj->grad, n * sizeof *t->g0);
  int rc = DESCENT_OK;
  if (w & DESCENT_TRACK_NOISE) rc = measure_noise(t, batch);
  if (!rc && (w & (DESCENT_TRACK_SHARPNESS | DESCENT_TRACK_NEGATIVE))) rc = measure_hessian(t);
  if (!rc && (w & DESCENT_TRACK_GGN)) rc = measure_ggn(t);
  if (!rc && (w & DESCENT_TRACK_SHARPNESS)) rc = measure_stability(t);
  t->batch = NULL;
  return rc;
}

int tracker_measure_after(descent_tracker *t, const descent_batch *batch) {
  unsigned w = t->now;
  if (w & DESCENT_TRACK_ALPHA) {
    size_t n = t->obj->n_params;
    double f1;
    int rc = descent_objective_reevaluate(t->obj, batch, &f1, t->g1);
    tracker_spend(t, TRACK_TIER_FIRST_ORDER, 1);
    if (rc) return rc;
    double df0 = 0, df1 = 0, sq = 0;
    const descent_real *theta = t->obj->params;
    for (size_t i = 0; i < n; i++) {
      double d = (double)theta[i] - (double)t->theta0[i];
      df0 += (double)t->g0[i] * d;
      df1 += (double)t->g1[i] * d;
      sq += d * d;
    }
    double *row = t->row + t->col_alpha;
    row[0] = descent_alpha(t->f0, df0, f1, df1);
    row[1] = sqrt(sq);
    row[2] = f1;
  }
  if (w & DESCENT_TRACK_LAYERS) {
    layers_after(t);
    tracker_spend(t, TRACK_TIER_FIRST_ORDER, TRACK_COST_LAYERS);
  }
  return DESCENT_OK;
}
