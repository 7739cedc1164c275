/*
 * transforms_dadapt.c - the learning-rate-free Adams that estimate their own
 * step size: Prodigy (Mishchenko & Defazio 2023) and D-Adaptation's AdamW
 * (Defazio & Mishchenko 2023), as optax.contrib.prodigy and
 * optax.contrib.dadapt_adamw compute them.
 *
 * Both keep an estimate d of the distance to the solution (optax's
 * estim_lr), which multiplies the step, and raise it every step from two
 * sums over every parameter: a weighted <g, x0 - x> (Prodigy) or <g, s / (sqrt
 * v + eps)> (D-Adaptation), and ||s||_1 of a weighted sum s of the past
 * gradients. They are global transforms with two sums per block
 * (reduce_global, summed in block order: the same d at every thread count).
 * The reduction computes the new s from the old one to take its norm; apply()
 * computes it again, with the same operations, and writes it. d and the
 * weighted numerator are persistent scalars, saved with the state.
 *
 * The rate ("lr", a number or a schedule, 1 by default) is optax's
 * learning_rate: it multiplies d inside the step, so it also weights the sums
 * that estimate d, as in optax; the transforms therefore take it themselves
 * and come last in the chain. Every element follows optax's expression
 * operation for operation (its scalar products, such as -weight_decay * dlr,
 * formed first, in double). The reductions keep 16 partial sums per block in
 * a fixed assignment of elements (not `omp simd reduction`, whose order
 * depends on the vector width), so they too are compiled per
 * instruction-set path and give the same bits on every path.
 */
#include "transforms_dadapt.h"

#include "transform_kernels.h"

#include <math.h>
#include <string.h>

/* sqrt(1 - b2^t) / (1 - b1^t) for the update count t = step + 1, optax's bc. */
static double dadapt_bias_correction(double b1, double b2, int64_t step) {
  double k = (double)(step + 1);
  return sqrt(1 - pow(b2, k)) / (1 - pow(b1, k));
}

/* The partial sums of a reduction: element i of a block goes to lane
   i mod SUM_LANES; the lanes are then added in lane order. */
enum { SUM_LANES = 16 };

static MULTIVERSION_BODY double sum_lanes(const double *lanes) {
  double total = 0;
  for (int l = 0; l < SUM_LANES; l++) total += lanes[l];
  return total;
}

/* jnp.maximum: NaN if either is NaN (a first step whose gradient is all zero
   gives 0 / 0), as optax's estimate then becomes; a NaN d is not hidden. */
static double nan_max(double a, double b) {
  if (isnan(a) || isnan(b)) return NAN;
  return a > b ? a : b;
}

/* ---- prodigy: optax.contrib.prodigy -------------------------------------- */

static const spec_param prodigy_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "decay of the first moment m"},
    {"b2", SPEC_NUMBER, 0.999, 0, 1, 0, 1, 0, "decay of the second moment v"},
    {"b3", SPEC_NUMBER, -1, -1, 1, 0, 1, 0,
     "decay of s and of the numerator; -1: sqrt(b2), optax's default"},
    {"eps", SPEC_NUMBER, 1e-8, 0, INFINITY, 1, 0, 0, "added to sqrt(v), times d"},
    {"estim_lr0", SPEC_NUMBER, 1e-6, 0, INFINITY, 1, 0, 0, "d0, the initial estimate of d"},
    {"estim_lr_coef", SPEC_NUMBER, 1, 0, INFINITY, 1, 0, 0, "the estimates of d are times this"},
    {"weight_decay", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0, "decoupled weight decay, times d lr"},
    {"safeguard_warmup", SPEC_BOOL, 0, 0, 1, 0, 0, 0,
     "1: s accumulates d g instead of d lr g (no lr in the estimate's denominator)"},
    {"lr", SPEC_TEXT, 0, 0, 0, 0, 0, 0, "learning rate (multiplies d): a number or a schedule"},
};
enum { PR_B1, PR_B2, PR_B3, PR_EPS, PR_D0, PR_COEF, PR_WD, PR_SAFEGUARD };
/* Slots: m, v, s and x0 (the parameters at the first step). */
enum { PR_M, PR_V, PR_S, PR_X0 };
/* Persistent: d (estim_lr) and the weighted numerator. */
enum { PR_D, PR_NUM };
/* Per step: d, dlr = d lr bc, s's coefficient of d g, 1 on the first step,
   d_new eps (set by finish), -weight_decay dlr. */
enum { PS_D, PS_DLR, PS_SCOEF, PS_FIRST, PS_DEPS, PS_WD };

static int prodigy_validate(const transform *t) {
  double b3 = t->hp[PR_B3];
  if (b3 < 0 && b3 != -1)
    return descent_fail(DESCENT_EINVAL,
                        "prodigy: b3 = %g is out of range: pass b3 in [0, 1), or -1 (the "
                        "default) for sqrt(b2)",
                        b3);
  return DESCENT_OK;
}

static double prodigy_b3(const transform *t) {
  return t->hp[PR_B3] == -1 ? pow(t->hp[PR_B2], 0.5) : t->hp[PR_B3];
}

static void prodigy_start(transform *t) {
  t->persist[PR_D] = t->hp[PR_D0];
}

static void prodigy_begin(transform *t, int64_t step) {
  double d = t->persist[PR_D];
  double dlr =
      d * transform_rate(t, step) * dadapt_bias_correction(t->hp[PR_B1], t->hp[PR_B2], step);
  t->scalar[PS_D] = d;
  t->scalar[PS_DLR] = dlr;
  t->scalar[PS_SCOEF] = t->hp[PR_SAFEGUARD] != 0 ? d : dlr;
  t->scalar[PS_FIRST] = step == 0;
  t->scalar[PS_WD] = -t->hp[PR_WD] * dlr;
}

/* Sums 0: <g, x0 - x> (x0 is x itself on the first step, before init wrote
   it); 1: ||s_new||_1, s_new = b3 s + (c d g) / d0. Element i goes to
   partial sum i mod SUM_LANES, and the lanes are added in order at the end:
   the same bits at every vector width, so the loop is compiled per path. */
static MULTIVERSION_BODY void prodigy_reduce_body(const transform *t, const real *g,
                                                  const real *theta, real *const *slots, size_t n,
                                                  double *sums) {
  const real *s = slots[PR_S], *x0 = t->scalar[PS_FIRST] != 0 ? theta : slots[PR_X0];
  const real d = (real)t->scalar[PS_D], c = (real)t->scalar[PS_SCOEF], b3 = (real)prodigy_b3(t),
             d0 = (real)t->hp[PR_D0];
  double dot[SUM_LANES] = {0}, l1[SUM_LANES] = {0};
#define PRODIGY_TERMS(i, l)                                                                        \
  do {                                                                                             \
    real dg = d * g[i];                                                                            \
    dot[l] += (double)(g[i] * (x0[i] - theta[i]));                                                 \
    l1[l] += (double)FABS(b3 * s[i] + c * dg / d0);                                                \
  } while (0)
  size_t at = 0;
  for (; at + SUM_LANES <= n; at += SUM_LANES)
#pragma omp simd
    for (size_t l = 0; l < SUM_LANES; l++) PRODIGY_TERMS(at + l, l);
  for (size_t l = 0; at + l < n; l++) PRODIGY_TERMS(at + l, l);
#undef PRODIGY_TERMS
  sums[0] = sum_lanes(dot);
  sums[1] = sum_lanes(l1);
}
MULTIVERSION_VOID(prodigy_reduce,
                  (const transform *t, const real *g, const real *theta, real *const *slots,
                   size_t n, double *sums),
                  (t, g, theta, slots, n, sums))

/* optax: numerator_weighted = b3 nw + (d / d0) dlr <g, x0 - x>; d_new =
   max(d, coef nw / ||s||_1). This step's update already uses d_new in its
   eps term. */
static void prodigy_finish(transform *t, const double *totals) {
  double d = t->persist[PR_D], dlr = t->scalar[PS_DLR];
  double num = prodigy_b3(t) * t->persist[PR_NUM];
  num += d / t->hp[PR_D0] * dlr * totals[0];
  double estimate = t->hp[PR_COEF] * num / totals[1];
  t->persist[PR_NUM] = num;
  t->persist[PR_D] = nan_max(d, estimate);
  t->scalar[PS_DEPS] = t->persist[PR_D] * t->hp[PR_EPS];
}

static void prodigy_init(const transform *t, const real *theta, real *const *slots, size_t n) {
  memcpy(slots[PR_X0], theta, n * sizeof *theta);
}

/* u <- -weight_decay dlr x - dlr m / (sqrt(v) + d_new eps), after m, v and s
   take d g. */
static MULTIVERSION_BODY void prodigy_apply_body(const transform *t, real *u, real *theta,
                                                 real *const *slots, size_t n) {
  real *m = slots[PR_M], *v = slots[PR_V], *s = slots[PR_S];
  const real d = (real)t->scalar[PS_D], dlr = (real)t->scalar[PS_DLR],
             c = (real)t->scalar[PS_SCOEF], deps = (real)t->scalar[PS_DEPS],
             wd = (real)t->scalar[PS_WD], b1 = (real)t->hp[PR_B1], w1 = (real)(1 - t->hp[PR_B1]),
             b2 = (real)t->hp[PR_B2], w2 = (real)(1 - t->hp[PR_B2]), b3 = (real)prodigy_b3(t),
             d0 = (real)t->hp[PR_D0];
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    real dg = d * u[i];
    m[i] = b1 * m[i] + w1 * dg;
    v[i] = b2 * v[i] + w2 * dg * dg;
    s[i] = b3 * s[i] + c * dg / d0;
    u[i] = wd * theta[i] - dlr * m[i] / (SQRT(v[i]) + deps);
  }
}
APPLY_ON_EVERY_PATH(prodigy_apply)

const transform_def transform_prodigy = {
    .name = "prodigy",
    .summary = "Prodigy (Mishchenko & Defazio 2023; optax.contrib.prodigy): Adam whose step "
               "size d estimates the distance to the solution. Must be last",
    .formula = "dg = d g;  m <- b1 m + (1-b1) dg;  v <- b2 v + (1-b2) dg^2;  s <- b3 s + dlr dg / "
               "d0;  r <- b3 r + (d/d0) dlr <g, x0 - x>;  d <- max(d, coef r / ||s||_1);  u = "
               "-wd dlr x - dlr m / (sqrt(v) + d eps), dlr = d lr sqrt(1-b2^t) / (1-b1^t)",
    .params = prodigy_params,
    .n_params = N_OF(prodigy_params),
    .has_schedule = 1,
    .slots = 4,
    .n_persist = 2,
    .global = 1,
    .global_sums = 2,
    .validate = prodigy_validate,
    .start = prodigy_start,
    .begin = prodigy_begin,
    .reduce_global = prodigy_reduce,
    .finish_global = prodigy_finish,
    .init = prodigy_init,
    .apply = prodigy_apply,
};

/* ---- dadapt_adamw: optax.contrib.dadapt_adamw ---------------------------- */

static const spec_param dadapt_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "decay of the first moment m"},
    {"b2", SPEC_NUMBER, 0.999, 0, 1, 0, 1, 0, "decay of v; s and the numerator decay by sqrt(b2)"},
    {"eps", SPEC_NUMBER, 1e-8, 0, INFINITY, 1, 0, 0, "added to sqrt(v)"},
    {"estim_lr0", SPEC_NUMBER, 1e-6, 0, INFINITY, 1, 0, 0, "d0, the initial estimate of d"},
    {"weight_decay", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0, "decoupled weight decay, times d lr"},
    {"lr", SPEC_TEXT, 0, 0, 0, 0, 0, 0, "learning rate (multiplies d): a number or a schedule"},
};
enum { DA_B1, DA_B2, DA_EPS, DA_D0, DA_WD };
/* Slots: m (which carries dlr), v and s. */
enum { DA_M, DA_V, DA_S };
/* Persistent: d (estim_lr) and the weighted numerator. */
enum { DA_D, DA_NUM };
/* Per step: dlr = d lr bc, (1 - sqrt(b2)) dlr, (1 - b1) dlr, -weight_decay dlr. */
enum { DS_DLR, DS_SCOEF, DS_MCOEF, DS_WD };

static void dadapt_start(transform *t) {
  t->persist[DA_D] = t->hp[DA_D0];
}

static void dadapt_begin(transform *t, int64_t step) {
  double sb2 = pow(t->hp[DA_B2], 0.5);
  double dlr = t->persist[DA_D] * transform_rate(t, step) *
               dadapt_bias_correction(t->hp[DA_B1], t->hp[DA_B2], step);
  t->scalar[DS_DLR] = dlr;
  t->scalar[DS_SCOEF] = (1 - sb2) * dlr;
  t->scalar[DS_MCOEF] = (1 - t->hp[DA_B1]) * dlr;
  t->scalar[DS_WD] = -t->hp[DA_WD] * dlr;
}

/* Sums 0: <g, s / (sqrt(v) + eps)> with the previous step's s and v;
   1: ||s_new||_1, s_new = sqrt(b2) s + (1 - sqrt(b2)) dlr g; by lanes, as
   Prodigy's. */
static MULTIVERSION_BODY void dadapt_reduce_body(const transform *t, const real *g,
                                                 const real *theta, real *const *slots, size_t n,
                                                 double *sums) {
  const real *s = slots[DA_S], *v = slots[DA_V];
  const real sb2 = (real)pow(t->hp[DA_B2], 0.5), c = (real)t->scalar[DS_SCOEF],
             eps = (real)t->hp[DA_EPS];
  double dot[SUM_LANES] = {0}, l1[SUM_LANES] = {0};
#define DADAPT_TERMS(i, l)                                                                         \
  do {                                                                                             \
    dot[l] += (double)(g[i] * (s[i] / (SQRT(v[i]) + eps)));                                        \
    l1[l] += (double)FABS(sb2 * s[i] + c * g[i]);                                                  \
  } while (0)
  size_t at = 0;
  for (; at + SUM_LANES <= n; at += SUM_LANES)
#pragma omp simd
    for (size_t l = 0; l < SUM_LANES; l++) DADAPT_TERMS(at + l, l);
  for (size_t l = 0; at + l < n; l++) DADAPT_TERMS(at + l, l);
#undef DADAPT_TERMS
  sums[0] = sum_lanes(dot);
  sums[1] = sum_lanes(l1);
}
MULTIVERSION_VOID(dadapt_reduce,
                  (const transform *t, const real *g, const real *theta, real *const *slots,
                   size_t n, double *sums),
                  (t, g, theta, slots, n, sums))

/* optax: numerator_weighted = sqrt(b2) nw + (1 - sqrt(b2)) dlr <g, s / (sqrt v
   + eps)>; d_new = max(d, nw / ((1 - sqrt(b2)) ||s||_1)), used from the next
   step on. */
static void dadapt_finish(transform *t, const double *totals) {
  double sb2 = pow(t->hp[DA_B2], 0.5);
  double num = sb2 * t->persist[DA_NUM] + t->scalar[DS_SCOEF] * totals[0];
  t->persist[DA_NUM] = num;
  t->persist[DA_D] = nan_max(t->persist[DA_D], num / ((1 - sb2) * totals[1]));
}

/* m <- b1 m + (1-b1) dlr g;  v <- b2 v + (1-b2) g^2;  s <- sqrt(b2) s + (1 -
   sqrt(b2)) dlr g;  u <- -weight_decay dlr x - m / (sqrt(v) + eps). */
static MULTIVERSION_BODY void dadapt_apply_body(const transform *t, real *u, real *theta,
                                                real *const *slots, size_t n) {
  real *m = slots[DA_M], *v = slots[DA_V], *s = slots[DA_S];
  const real mc = (real)t->scalar[DS_MCOEF], sc = (real)t->scalar[DS_SCOEF],
             wd = (real)t->scalar[DS_WD], b1 = (real)t->hp[DA_B1], b2 = (real)t->hp[DA_B2],
             w2 = (real)(1 - t->hp[DA_B2]), sb2 = (real)pow(t->hp[DA_B2], 0.5),
             eps = (real)t->hp[DA_EPS];
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    real g = u[i];
    m[i] = b1 * m[i] + mc * g;
    v[i] = b2 * v[i] + w2 * g * g;
    s[i] = sb2 * s[i] + sc * g;
    u[i] = wd * theta[i] - m[i] / (SQRT(v[i]) + eps);
  }
}
APPLY_ON_EVERY_PATH(dadapt_apply)

const transform_def transform_dadapt_adamw = {
    .name = "dadapt_adamw",
    .summary = "D-Adaptation AdamW (Defazio & Mishchenko 2023; optax.contrib.dadapt_adamw): Adam "
               "whose step size d estimates the distance to the solution. Must be last",
    .formula = "m <- b1 m + (1-b1) dlr g;  v <- b2 v + (1-b2) g^2;  r <- sb2 r + (1-sb2) dlr <g, "
               "s / (sqrt(v) + eps)>;  s <- sb2 s + (1-sb2) dlr g;  d <- max(d, r / ((1-sb2) "
               "||s||_1));  u = -wd dlr x - m / (sqrt(v) + eps), sb2 = sqrt(b2), dlr = d lr "
               "sqrt(1-b2^t) / (1-b1^t)",
    .params = dadapt_params,
    .n_params = N_OF(dadapt_params),
    .has_schedule = 1,
    .slots = 3,
    .n_persist = 2,
    .global = 1,
    .global_sums = 2,
    .start = dadapt_start,
    .begin = dadapt_begin,
    .reduce_global = dadapt_reduce,
    .finish_global = dadapt_finish,
    .apply = dadapt_apply,
};
