/*
 * transforms_optax.c - AdaBelief, Yogi and AdEMAMix, as optax computes them.
 *
 * torch.optim has none of the three; optax does (optax.adabelief, optax.yogi,
 * optax.contrib.ademamix), and each transform here follows its scale_by_*
 * operation for operation: the moment updates written (1 - b) g + b m, the
 * bias corrections as divisions by 1 - b^t (computed in double, as optax's
 * float64 does), eps and eps_root where optax adds them. The float64
 * fixtures then agree to the last bit. The named optimizers (optimizer.c)
 * put optax's add_decayed_weights and scale_by_learning_rate after them as
 * descent's wd and lr transforms.
 *
 * Every loop is compiled per instruction-set path (core/multiversion.h) and
 * vectorizes; one always-inlined function per method computes an element, so
 * the apply() pass and the fused apply-then-step pass (apply_lr_add) are the
 * same statements in the same order and give the same bits.
 */
#include "transforms_optax.h"

#include "transform_kernels.h"

#include <math.h>

/* 1 - b^t for the update count t = step + 1, as optax's bias_correction
   (whose b^t in float64 is C's pow, checked over t < 3000). */
static double bias_correction(double b, int64_t step) {
  return 1 - pow(b, (double)(step + 1));
}

/* ---- adabelief: optax.scale_by_belief ------------------------------------ */

static const spec_param adabelief_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "decay of the first moment m"},
    {"b2", SPEC_NUMBER, 0.999, 0, 1, 0, 1, 0, "decay of s, the second moment of g - m"},
    {"eps", SPEC_NUMBER, 1e-16, 0, INFINITY, 1, 0, 0, "added after the square root"},
    {"eps_root", SPEC_NUMBER, 1e-16, 0, INFINITY, 0, 0, 0, "added to s at every step (kept)"},
    {"nesterov", SPEC_BOOL, 0, 0, 1, 0, 0, 0, "1: Nesterov's look-ahead on the first moment"},
};
enum { BELIEF_B1, BELIEF_B2, BELIEF_EPS, BELIEF_EPS_ROOT, BELIEF_NESTEROV };

static void adabelief_begin(transform *t, int64_t step) {
  t->scalar[0] = bias_correction(t->hp[BELIEF_B1], step);
  t->scalar[1] = bias_correction(t->hp[BELIEF_B2], step);
  t->scalar[2] = bias_correction(t->hp[BELIEF_B1], step + 1); /* Nesterov's next one */
}

typedef struct belief_k {
  real b1, w1, b2, w2, eps, eps_root, bc1, bc2, bc1_next;
} belief_k;

static belief_k belief_constants(const transform *t) {
  return (belief_k){
      .b1 = (real)t->hp[BELIEF_B1],
      .w1 = (real)(1 - t->hp[BELIEF_B1]),
      .b2 = (real)t->hp[BELIEF_B2],
      .w2 = (real)(1 - t->hp[BELIEF_B2]),
      .eps = (real)t->hp[BELIEF_EPS],
      .eps_root = (real)t->hp[BELIEF_EPS_ROOT],
      .bc1 = (real)t->scalar[0],
      .bc2 = (real)t->scalar[1],
      .bc1_next = (real)t->scalar[2],
  };
}

/* One element: m and s updated in place, the direction returned. optax keeps
   s with eps_root added (the next step decays it too). */
static MULTIVERSION_BODY real belief_element(const belief_k *k, int nesterov, real g, real *m,
                                             real *s) {
  *m = k->w1 * g + k->b1 * *m;
  real error = g - *m;
  *s = k->w2 * (error * error) + k->b2 * *s;
  *s = *s + k->eps_root;
  real m_hat = nesterov ? k->b1 * (*m / k->bc1_next) + k->w1 * (g / k->bc1) : *m / k->bc1;
  return m_hat / (SQRT(*s / k->bc2) + k->eps);
}

static MULTIVERSION_BODY void adabelief_apply_body(const transform *t, real *u, real *theta,
                                                   real *const *slots, size_t n) {
  real *m = slots[0], *s = slots[1];
  const belief_k k = belief_constants(t);
  if (t->hp[BELIEF_NESTEROV]) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) u[i] = belief_element(&k, 1, u[i], &m[i], &s[i]);
  } else {
#pragma omp simd
    for (size_t i = 0; i < n; i++) u[i] = belief_element(&k, 0, u[i], &m[i], &s[i]);
  }
}
APPLY_ON_EVERY_PATH(adabelief_apply)

static MULTIVERSION_BODY void adabelief_lr_add_all_body(const transform *t, const real *g,
                                                        real *theta, real *const *slots, size_t n,
                                                        real minus_lr) {
  real *m = slots[0], *s = slots[1];
  const belief_k k = belief_constants(t);
  if (t->hp[BELIEF_NESTEROV]) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      real step = belief_element(&k, 1, g[i], &m[i], &s[i]);
      step *= minus_lr;
      theta[i] += step;
    }
  } else {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      real step = belief_element(&k, 0, g[i], &m[i], &s[i]);
      step *= minus_lr;
      theta[i] += step;
    }
  }
}
LR_ADD_ON_EVERY_PATH(adabelief_lr_add_all)

static int adabelief_lr_add(const transform *t, const real *g, real *theta, real *const *slots,
                            size_t n, real minus_lr) {
  adabelief_lr_add_all(t, g, theta, slots, n, minus_lr);
  return 1;
}

const transform_def transform_adabelief = {
    .name = "adabelief",
    .summary = "AdaBelief's scaling (Zhuang et al. 2020; optax.scale_by_belief): the second "
               "moment of g - m, eps_root added to it and kept, eps after the root",
    .formula = "m <- (1-b1) u + b1 m;  s <- (1-b2)(u-m)^2 + b2 s + eps_root;  "
               "u <- m^ / (sqrt(s / (1-b2^t)) + eps), m^ = m / (1-b1^t) "
               "[nesterov: b1 m / (1-b1^(t+1)) + (1-b1) u / (1-b1^t)]",
    .params = adabelief_params,
    .n_params = N_OF(adabelief_params),
    .slots = 2,
    .begin = adabelief_begin,
    .apply = adabelief_apply,
    .apply_lr_add = adabelief_lr_add,
};

/* ---- yogi: optax.scale_by_yogi --------------------------------------------- */

static const spec_param yogi_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "decay of the first moment m"},
    {"b2", SPEC_NUMBER, 0.999, 0, 1, 0, 1, 0, "rate of the second moment's additive change"},
    {"eps", SPEC_NUMBER, 1e-3, 0, INFINITY, 1, 0, 0, "added after the square root"},
    {"eps_root", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0, "added inside the square root"},
    {"initial_accumulator_value", SPEC_NUMBER, 1e-6, 0, INFINITY, 0, 0, 0,
     "starting value of both m and v"},
};
enum { YOGI_B1, YOGI_B2, YOGI_EPS, YOGI_EPS_ROOT, YOGI_INITIAL };

static void yogi_begin(transform *t, int64_t step) {
  t->scalar[0] = bias_correction(t->hp[YOGI_B1], step);
  t->scalar[1] = bias_correction(t->hp[YOGI_B2], step);
}

/* optax starts both moments, not only v, at initial_accumulator_value. */
static void yogi_init(const transform *t, const real *theta, real *const *slots, size_t n) {
  const real start = (real)t->hp[YOGI_INITIAL];
  for (size_t i = 0; i < n; i++) slots[0][i] = slots[1][i] = start;
}

typedef struct yogi_k {
  real b1, w1, w2, eps, eps_root, bc1, bc2;
} yogi_k;

static yogi_k yogi_constants(const transform *t) {
  return (yogi_k){
      .b1 = (real)t->hp[YOGI_B1],
      .w1 = (real)(1 - t->hp[YOGI_B1]),
      .w2 = (real)(1 - t->hp[YOGI_B2]),
      .eps = (real)t->hp[YOGI_EPS],
      .eps_root = (real)t->hp[YOGI_EPS_ROOT],
      .bc1 = (real)t->scalar[0],
      .bc2 = (real)t->scalar[1],
  };
}

/* v moves by (1-b2) g^2 towards g^2: v - (1-b2) sign(v - g^2) g^2, with
   sign(0) = 0, rounded in optax's order. */
static MULTIVERSION_BODY real yogi_element(const yogi_k *k, real g, real *m, real *v) {
  *m = k->w1 * g + k->b1 * *m;
  real g2 = g * g, gap = *v - g2;
  real sign = (real)(gap > 0) - (real)(gap < 0);
  *v = *v - k->w2 * sign * g2;
  return *m / k->bc1 / (SQRT(*v / k->bc2 + k->eps_root) + k->eps);
}

static MULTIVERSION_BODY void yogi_apply_body(const transform *t, real *u, real *theta,
                                              real *const *slots, size_t n) {
  real *m = slots[0], *v = slots[1];
  const yogi_k k = yogi_constants(t);
#pragma omp simd
  for (size_t i = 0; i < n; i++) u[i] = yogi_element(&k, u[i], &m[i], &v[i]);
}
APPLY_ON_EVERY_PATH(yogi_apply)

static MULTIVERSION_BODY void yogi_lr_add_all_body(const transform *t, const real *g, real *theta,
                                                   real *const *slots, size_t n, real minus_lr) {
  real *m = slots[0], *v = slots[1];
  const yogi_k k = yogi_constants(t);
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    real step = yogi_element(&k, g[i], &m[i], &v[i]);
    step *= minus_lr;
    theta[i] += step;
  }
}
LR_ADD_ON_EVERY_PATH(yogi_lr_add_all)

static int yogi_lr_add(const transform *t, const real *g, real *theta, real *const *slots, size_t n,
                       real minus_lr) {
  yogi_lr_add_all(t, g, theta, slots, n, minus_lr);
  return 1;
}

const transform_def transform_yogi = {
    .name = "yogi",
    .summary = "Yogi's scaling (Zaheer et al. 2018; optax.scale_by_yogi): v moves towards u^2 by "
               "(1-b2) u^2 a step, not Adam's (1-b2)(v - u^2), so the effective rate grows slowly",
    .formula = "m <- (1-b1) u + b1 m;  v <- v - (1-b2) sign(v - u^2) u^2  "
               "(m_0 = v_0 = initial_accumulator_value);  "
               "u <- m / (1-b1^t) / (sqrt(v / (1-b2^t) + eps_root) + eps)",
    .params = yogi_params,
    .n_params = N_OF(yogi_params),
    .slots = 2,
    .begin = yogi_begin,
    .init = yogi_init,
    .apply = yogi_apply,
    .apply_lr_add = yogi_lr_add,
};

/* ---- ademamix: optax.contrib.scale_by_ademamix ------------------------------ */

static const spec_param ademamix_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "decay of the fast moment m1"},
    {"b2", SPEC_NUMBER, 0.999, 0, 1, 0, 1, 0, "decay of the second moment nu"},
    {"b3", SPEC_NUMBER, 0.9999, 0, 1, 0, 1, 0, "decay of the slow moment m2 (after warmup)"},
    {"alpha", SPEC_NUMBER, 5, 0, INFINITY, 0, 0, 0, "weight of m2 (after warmup)"},
    {"eps", SPEC_NUMBER, 1e-8, 0, INFINITY, 1, 0, 0, "added after the square root"},
    {"eps_root", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0, "added inside the square root"},
    {"alpha_warmup", SPEC_INTEGER, 0, 0, INFINITY, 0, 0, 0,
     "steps of the paper's linear alpha warmup from 0 (0: constant alpha)"},
    {"b3_warmup", SPEC_INTEGER, 0, 0, INFINITY, 0, 0, 0,
     "steps of the paper's b3 warmup from b1, linear in half-life (0: constant b3)"},
};
enum { MIX_B1, MIX_B2, MIX_B3, MIX_ALPHA, MIX_EPS, MIX_EPS_ROOT, MIX_ALPHA_WARMUP, MIX_B3_WARMUP };

/* The warmups of Pagliardini et al. 2024 as their optax code
   (apple/ml-ademamix) writes them, at optax's count s = step (from 0):
   alpha_s = (s/T) alpha, and b3_s = f^-1((1 - s/T) f(b1) + (s/T) f(b3)) with
   f(b) = ln(1/2)/ln(b) - 1 (the half-life, less one) and f^-1(x) =
   (1/2)^(1/(x+1)); from s = T on, the constants. */
static double ademamix_alpha(const transform *t, int64_t step) {
  double warmup = t->hp[MIX_ALPHA_WARMUP], alpha = t->hp[MIX_ALPHA];
  if (warmup > 0 && (double)step < warmup) return (double)step / warmup * alpha;
  return alpha;
}

static double half_life(double b) {
  return log(0.5) / log(b) - 1;
}

static double ademamix_b3(const transform *t, int64_t step) {
  double warmup = t->hp[MIX_B3_WARMUP];
  if (!(warmup > 0 && (double)step < warmup)) return t->hp[MIX_B3];
  double a = (double)step / warmup;
  double x = (1 - a) * half_life(t->hp[MIX_B1]) + a * half_life(t->hp[MIX_B3]);
  return pow(0.5, 1 / (x + 1));
}

static void ademamix_begin(transform *t, int64_t step) {
  double b3 = ademamix_b3(t, step);
  t->scalar[0] = bias_correction(t->hp[MIX_B1], step);
  t->scalar[1] = bias_correction(t->hp[MIX_B2], step);
  t->scalar[2] = b3;
  t->scalar[3] = 1 - b3;
  t->scalar[4] = ademamix_alpha(t, step);
}

typedef struct ademamix_k {
  real b1, w1, b2, w2, b3, w3, alpha, eps, eps_root, bc1, bc2;
} ademamix_k;

static ademamix_k ademamix_constants(const transform *t) {
  return (ademamix_k){
      .b1 = (real)t->hp[MIX_B1],
      .w1 = (real)(1 - t->hp[MIX_B1]),
      .b2 = (real)t->hp[MIX_B2],
      .w2 = (real)(1 - t->hp[MIX_B2]),
      .b3 = (real)t->scalar[2],
      .w3 = (real)t->scalar[3],
      .alpha = (real)t->scalar[4],
      .eps = (real)t->hp[MIX_EPS],
      .eps_root = (real)t->hp[MIX_EPS_ROOT],
      .bc1 = (real)t->scalar[0],
      .bc2 = (real)t->scalar[1],
  };
}

/* Adam's step with alpha m2 added to the bias-corrected m1; m2 is not
   corrected (it starts at zero and its weight alpha warms up instead). */
static MULTIVERSION_BODY real ademamix_element(const ademamix_k *k, real g, real *m1, real *m2,
                                               real *nu) {
  *m1 = k->w1 * g + k->b1 * *m1;
  *m2 = k->w3 * g + k->b3 * *m2;
  *nu = k->w2 * (g * g) + k->b2 * *nu;
  return (*m1 / k->bc1 + k->alpha * *m2) / (SQRT(*nu / k->bc2 + k->eps_root) + k->eps);
}

static MULTIVERSION_BODY void ademamix_apply_body(const transform *t, real *u, real *theta,
                                                  real *const *slots, size_t n) {
  real *m1 = slots[0], *m2 = slots[1], *nu = slots[2];
  const ademamix_k k = ademamix_constants(t);
#pragma omp simd
  for (size_t i = 0; i < n; i++) u[i] = ademamix_element(&k, u[i], &m1[i], &m2[i], &nu[i]);
}
APPLY_ON_EVERY_PATH(ademamix_apply)

static MULTIVERSION_BODY void ademamix_lr_add_all_body(const transform *t, const real *g,
                                                       real *theta, real *const *slots, size_t n,
                                                       real minus_lr) {
  real *m1 = slots[0], *m2 = slots[1], *nu = slots[2];
  const ademamix_k k = ademamix_constants(t);
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    real step = ademamix_element(&k, g[i], &m1[i], &m2[i], &nu[i]);
    step *= minus_lr;
    theta[i] += step;
  }
}
LR_ADD_ON_EVERY_PATH(ademamix_lr_add_all)

static int ademamix_lr_add(const transform *t, const real *g, real *theta, real *const *slots,
                           size_t n, real minus_lr) {
  ademamix_lr_add_all(t, g, theta, slots, n, minus_lr);
  return 1;
}

const transform_def transform_ademamix = {
    .name = "ademamix",
    .summary = "AdEMAMix's scaling (Pagliardini et al. 2024; optax.contrib.scale_by_ademamix): "
               "Adam plus alpha times a slow EMA m2, with the paper's optional alpha and b3 "
               "warmups",
    .formula = "m1 <- (1-b1) u + b1 m1;  m2 <- (1-b3_t) u + b3_t m2;  nu <- (1-b2) u^2 + b2 nu;  "
               "u <- (m1 / (1-b1^t) + alpha_t m2) / (sqrt(nu / (1-b2^t) + eps_root) + eps);  "
               "warmups over T steps at s = t-1 < T: alpha_t = (s/T) alpha, b3_t = "
               "(1/2)^(1/(1+h)), h = (1-s/T) h(b1) + (s/T) h(b3), h(b) = ln(1/2)/ln(b) - 1",
    .params = ademamix_params,
    .n_params = N_OF(ademamix_params),
    .slots = 3,
    .begin = ademamix_begin,
    .apply = ademamix_apply,
    .apply_lr_add = ademamix_lr_add,
};
