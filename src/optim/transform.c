/*
 * transform.c - the transforms optimizers are built from.
 *
 * Each follows the PyTorch implementation it is named after, operation for
 * operation where that costs nothing (the same lerp, the same order of
 * multiplications), so the fast loops and torch.optim agree to the last bits
 * as far as the chain's structure allows. docs/optimizers.md lists where the
 * papers and other libraries differ.
 *
 * Per-step numbers are computed in double by begin() and cast once to
 * descent_real, so the loops run in the buffers' own precision and vectorize:
 * no calls per element but sqrt, no branches that depend on the element
 * except selects. Each loop is compiled once per instruction-set path and
 * chosen at run time (core/multiversion.h); every path gives the same bits.
 */
#include "transform.h"
#include "transforms_classic.h"

#include "transform_kernels.h"
#include "transforms_optax.h"
#include "transforms_adamfam.h"
#include "transforms_layerwise.h"
#include "transforms_matrix.h"
#include "transforms_factored.h"
#include "transforms_shampoo.h"
#include "transforms_dadapt.h"
#include "transforms_novograd.h"
#include "transforms_soap.h"

#include <math.h>
#include <string.h>

/* ---- lr: scale by minus the scheduled learning rate --------------------- */

static const spec_param lr_params[] = {
    {"lr", SPEC_TEXT, 0, 0, 0, 0, 0, 0, "learning rate: a number or a schedule"},
};

static void lr_begin(transform *t, int64_t step) {
  t->scalar[0] = transform_rate(t, step);
}

static MULTIVERSION_BODY void lr_apply_body(const transform *t, real *u, real *theta,
                                            real *const *slots, size_t n) {
  const real minus_lr = (real)-t->scalar[0];
#pragma omp simd
  for (size_t i = 0; i < n; i++) u[i] *= minus_lr;
}
APPLY_ON_EVERY_PATH(lr_apply)

/* The chain "lr" alone (plain SGD) ending a step: u = -lr g rounded, then
   theta += u, as lr_apply and the final add do, in one pass. */
static MULTIVERSION_BODY void lr_add_body(const real *g, real *theta, size_t n, real minus_lr) {
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    real step = g[i] * minus_lr;
    theta[i] += step;
  }
}
MULTIVERSION_VOID(lr_add, (const real *g, real *theta, size_t n, real minus_lr),
                  (g, theta, n, minus_lr))

void transform_lr_add(const real *g, real *theta, size_t n, real minus_lr) {
  lr_add(g, theta, n, minus_lr);
}

static const transform_def transform_lr = {
    .name = "lr",
    .summary = "scale by minus the learning rate (last in every chain; appended if missing)",
    .formula = "u <- -lr(t) u",
    .params = lr_params,
    .n_params = N_OF(lr_params),
    .has_schedule = 1,
    .begin = lr_begin,
    .apply = lr_apply,
};

/* ---- clip: rescale to a global norm ------------------------------------- */

static const spec_param clip_params[] = {
    {"max_norm", SPEC_NUMBER, 0, 0, INFINITY, 1, 0, 1, "largest Euclidean norm of the update"},
};

static double clip_reduce(const transform *t, const real *u, size_t n) {
  double sum = 0;
#pragma omp simd reduction(+ : sum)
  for (size_t i = 0; i < n; i++) sum += (double)u[i] * (double)u[i];
  return sum;
}

static void clip_finish(transform *t, double total) {
  double norm = sqrt(total), scale = t->hp[0] / (norm + 1e-6);
  t->scalar[0] = scale < 1 ? scale : 1;
  t->scalar[1] = norm;
}

static MULTIVERSION_BODY void scale_apply_body(const transform *t, real *u, real *theta,
                                               real *const *slots, size_t n) {
  const real scale = (real)t->scalar[0];
#pragma omp simd
  for (size_t i = 0; i < n; i++) u[i] *= scale;
}
APPLY_ON_EVERY_PATH(scale_apply)

static const transform_def transform_clip = {
    .name = "clip",
    .summary = "clip by global norm (torch.nn.utils.clip_grad_norm_, with its eps 1e-6)",
    .formula = "u <- u min(1, max_norm / (||u|| + 1e-6)), ||u|| over every parameter",
    .params = clip_params,
    .n_params = N_OF(clip_params),
    .global = 1,
    .reduce = clip_reduce,
    .finish = clip_finish,
    .apply = scale_apply,
};

/* ---- clip_value: clamp each coordinate ---------------------------------- */

static const spec_param clip_value_params[] = {
    {"value", SPEC_NUMBER, 0, 0, INFINITY, 1, 0, 1, "largest magnitude of a coordinate"},
};

static MULTIVERSION_BODY void clip_value_apply_body(const transform *t, real *u, real *theta,
                                                    real *const *slots, size_t n) {
  const real hi = (real)t->hp[0], lo = -hi;
#pragma omp simd
  for (size_t i = 0; i < n; i++) u[i] = u[i] < lo ? lo : u[i] > hi ? hi : u[i];
}
APPLY_ON_EVERY_PATH(clip_value_apply)

static const transform_def transform_clip_value = {
    .name = "clip_value",
    .summary = "clip each coordinate (torch.nn.utils.clip_grad_value_)",
    .formula = "u <- min(max(u, -value), value)",
    .params = clip_value_params,
    .n_params = N_OF(clip_value_params),
    .apply = clip_value_apply,
};

/* ---- l2 and wd: add weight_decay * theta -------------------------------- */

static const spec_param decay_params[] = {
    {"weight_decay", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 1, "decay coefficient"},
};

static MULTIVERSION_BODY void decay_apply_body(const transform *t, real *u, real *theta,
                                               real *const *slots, size_t n) {
  const real wd = (real)t->hp[0];
#pragma omp simd
  for (size_t i = 0; i < n; i++) u[i] = u[i] + wd * theta[i];
}
APPLY_ON_EVERY_PATH(decay_apply)

static const transform_def transform_l2 = {
    .name = "l2",
    .summary = "coupled L2 penalty: place before a preconditioner (PyTorch's weight_decay= of "
               "SGD, Adam, RMSprop, Adagrad)",
    .formula = "u <- u + weight_decay theta",
    .params = decay_params,
    .n_params = N_OF(decay_params),
    .apply = decay_apply,
};

static const transform_def transform_wd = {
    .name = "wd",
    .summary = "decoupled weight decay: place after a preconditioner, before lr (AdamW, Lion)",
    .formula = "u <- u + weight_decay theta   (so theta <- theta - lr (u + weight_decay theta))",
    .params = decay_params,
    .n_params = N_OF(decay_params),
    .apply = decay_apply,
};

/* ---- momentum: heavy ball and Nesterov, as torch.optim.SGD --------------- */

static const spec_param momentum_params[] = {
    {"momentum", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "momentum factor mu"},
    {"dampening", SPEC_NUMBER, 0, 0, 1, 0, 0, 0, "dampening d of the incoming update"},
    {"nesterov", SPEC_BOOL, 0, 0, 1, 0, 0, 0, "1: Nesterov momentum (PyTorch's form)"},
};

static int momentum_validate(const transform *t) {
  if (t->hp[2] && (t->hp[0] == 0 || t->hp[1] != 0))
    return descent_fail(DESCENT_EINVAL,
                        "optimizer: Nesterov momentum requires a momentum > 0 and zero dampening "
                        "(got momentum=%g, dampening=%g)",
                        t->hp[0], t->hp[1]);
  return DESCENT_OK;
}

static void momentum_begin(transform *t, int64_t step) {
  /* PyTorch starts the buffer at the first update itself, undamped. */
  t->scalar[0] = step == 0 ? 0 : t->hp[0];
  t->scalar[1] = step == 0 ? 1 : 1 - t->hp[1];
}

static MULTIVERSION_BODY void momentum_apply_body(const transform *t, real *u, real *theta,
                                                  real *const *slots, size_t n) {
  real *b = slots[0];
  const real keep = (real)t->scalar[0], take = (real)t->scalar[1], mu = (real)t->hp[0];
  if (t->hp[2]) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      b[i] = b[i] * keep + take * u[i];
      u[i] = u[i] + mu * b[i];
    }
  } else {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      b[i] = b[i] * keep + take * u[i];
      u[i] = b[i];
    }
  }
}
APPLY_ON_EVERY_PATH(momentum_apply)

/* momentum_apply, lr_apply and the final add in one pass: the same
   statements in the same order, each rounded as there. */
static MULTIVERSION_BODY void momentum_lr_add_path_body(const transform *t, const real *g,
                                                        real *theta, real *const *slots, size_t n,
                                                        real minus_lr) {
  real *b = slots[0];
  const real keep = (real)t->scalar[0], take = (real)t->scalar[1], mu = (real)t->hp[0];
  if (t->hp[2]) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      b[i] = b[i] * keep + take * g[i];
      real step = g[i] + mu * b[i];
      step *= minus_lr;
      theta[i] += step;
    }
  } else {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      b[i] = b[i] * keep + take * g[i];
      real step = b[i];
      step *= minus_lr;
      theta[i] += step;
    }
  }
}
MULTIVERSION_VOID(momentum_lr_add_path,
                  (const transform *t, const real *g, real *theta, real *const *slots, size_t n,
                   real minus_lr),
                  (t, g, theta, slots, n, minus_lr))

static int momentum_lr_add(const transform *t, const real *g, real *theta, real *const *slots,
                           size_t n, real minus_lr) {
  momentum_lr_add_path(t, g, theta, slots, n, minus_lr);
  return 1;
}

static const transform_def transform_momentum = {
    .name = "momentum",
    .summary = "heavy-ball momentum, or Nesterov's (torch.optim.SGD); b starts as the first u",
    .formula = "b <- mu b + (1 - dampening) u  (b_1 = u_1);  u <- b, or u + mu b with nesterov=1",
    .params = momentum_params,
    .n_params = N_OF(momentum_params),
    .slots = 1,
    .validate = momentum_validate,
    .begin = momentum_begin,
    .apply = momentum_apply,
    .apply_lr_add = momentum_lr_add,
};

/* ---- adagrad ------------------------------------------------------------- */

static const spec_param adagrad_params[] = {
    {"lr_decay", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0, "rate multiplier 1 / (1 + (t-1) lr_decay)"},
    {"initial_accumulator_value", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0, "starting value of s"},
    {"eps", SPEC_NUMBER, 1e-10, 0, INFINITY, 1, 0, 0, "added to sqrt(s)"},
};

static void adagrad_init(const transform *t, const real *theta, real *const *slots, size_t n) {
  const real start = (real)t->hp[1];
  for (size_t i = 0; i < n; i++) slots[0][i] = start;
}

static void adagrad_begin(transform *t, int64_t step) {
  t->scalar[0] = 1 / (1 + (double)step * t->hp[0]);
}

static MULTIVERSION_BODY void adagrad_apply_body(const transform *t, real *u, real *theta,
                                                 real *const *slots, size_t n) {
  real *s = slots[0];
  const real eps = (real)t->hp[2], decay = (real)t->scalar[0];
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    s[i] = s[i] + u[i] * u[i];
    u[i] = u[i] / (SQRT(s[i]) + eps) * decay;
  }
}
APPLY_ON_EVERY_PATH(adagrad_apply)

static const transform_def transform_adagrad = {
    .name = "adagrad",
    .summary = "Adagrad (Duchi et al. 2011; torch.optim.Adagrad)",
    .formula = "s <- s + u^2 (s_0 = initial_accumulator_value);  "
               "u <- u / (sqrt(s) + eps) / (1 + (t-1) lr_decay)",
    .params = adagrad_params,
    .n_params = N_OF(adagrad_params),
    .slots = 1,
    .init = adagrad_init,
    .begin = adagrad_begin,
    .apply = adagrad_apply,
};

/* ---- rmsprop ------------------------------------------------------------- */

static const spec_param rmsprop_params[] = {
    {"alpha", SPEC_NUMBER, 0.99, 0, 1, 0, 1, 0, "decay of the mean square"},
    {"eps", SPEC_NUMBER, 1e-8, 0, INFINITY, 1, 0, 0, "added after the square root"},
    {"centered", SPEC_BOOL, 0, 0, 1, 0, 0, 0, "1: divide by the standard deviation"},
    {"bias_correction", SPEC_BOOL, 0, 0, 1, 0, 0, 0, "1: divide v by 1 - alpha^t (Adam's)"},
};

static int rmsprop_validate(const transform *t) {
  if (t->hp[2] && t->hp[3])
    return descent_fail(DESCENT_EINVAL,
                        "optimizer: rmsprop(centered=1) and bias_correction=1 do not combine; "
                        "choose one");
  return DESCENT_OK;
}

static int rmsprop_slots(const transform *t) {
  return t->hp[2] ? 2 : 1;
}

static void rmsprop_begin(transform *t, int64_t step) {
  t->scalar[0] = t->hp[3] ? 1 - pow(t->hp[0], (double)(step + 1)) : 1;
}

static MULTIVERSION_BODY void rmsprop_apply_body(const transform *t, real *u, real *theta,
                                                 real *const *slots, size_t n) {
  real *v = slots[0];
  const real alpha = (real)t->hp[0], w = (real)(1 - t->hp[0]), eps = (real)t->hp[1];
  if (t->hp[2]) {
    real *avg = slots[1];
    const real w1 = (real)1 - w;
    const int small = fabs(1 - t->hp[0]) < 0.5;
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      v[i] = v[i] * alpha + w * u[i] * u[i];
      avg[i] = LERP(avg[i], u[i], w, w1, small);
      u[i] = u[i] / (SQRT(v[i] - avg[i] * avg[i]) + eps);
    }
  } else if (t->hp[3]) {
    const real bc = (real)t->scalar[0];
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      v[i] = v[i] * alpha + w * u[i] * u[i];
      u[i] = u[i] / (SQRT(v[i] / bc) + eps);
    }
  } else {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      v[i] = v[i] * alpha + w * u[i] * u[i];
      u[i] = u[i] / (SQRT(v[i]) + eps);
    }
  }
}
APPLY_ON_EVERY_PATH(rmsprop_apply)

static const transform_def transform_rmsprop = {
    .name = "rmsprop",
    .summary = "RMSprop (Tieleman & Hinton 2012; torch.optim.RMSprop): eps outside the root",
    .formula = "v <- alpha v + (1-alpha) u^2;  u <- u / (sqrt(v / bc) + eps), bc = 1 - alpha^t "
               "or 1;  centered: a <- alpha a + (1-alpha) u, u <- u / (sqrt(v - a^2) + eps)",
    .params = rmsprop_params,
    .n_params = N_OF(rmsprop_params),
    .slots = 2,
    .validate = rmsprop_validate,
    .count_slots = rmsprop_slots,
    .begin = rmsprop_begin,
    .apply = rmsprop_apply,
};

/* ---- adam: the scale-by-Adam part, as torch.optim.Adam -------------------- */

static const spec_param adam_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "decay of the first moment m"},
    {"b2", SPEC_NUMBER, 0.999, 0, 1, 0, 1, 0, "decay of the second moment v"},
    {"eps", SPEC_NUMBER, 1e-8, 0, INFINITY, 1, 0, 0, "added after the square root"},
    {"amsgrad", SPEC_BOOL, 0, 0, 1, 0, 0, 0, "1: divide by the running maximum of v"},
};

static int adam_slots(const transform *t) {
  return t->hp[3] ? 3 : 2;
}

static void adam_begin(transform *t, int64_t step) {
  double k = (double)(step + 1);
  t->scalar[0] = 1 / (1 - pow(t->hp[0], k));
  t->scalar[1] = 1 / sqrt(1 - pow(t->hp[1], k));
}

/* PyTorch divides sqrt(v) by sqrt(1 - b2^t); multiplying by its inverse
   differs in the last bit at most and saves a division per element, a fifth
   of the step's time where the buffers sit in cache. */
static MULTIVERSION_BODY void adam_apply_body(const transform *t, real *u, real *theta,
                                              real *const *slots, size_t n) {
  real *m = slots[0], *v = slots[1];
  const real w = (real)(1 - t->hp[0]), w1 = (real)1 - w, b2 = (real)t->hp[1];
  const real w2 = (real)(1 - t->hp[1]), eps = (real)t->hp[2];
  const real inv_bc1 = (real)t->scalar[0], inv_bc2_sqrt = (real)t->scalar[1];
  const int small = fabs(1 - t->hp[0]) < 0.5;
  if (t->hp[3]) {
    real *vmax = slots[2];
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      m[i] = LERP(m[i], u[i], w, w1, small);
      v[i] = v[i] * b2 + w2 * u[i] * u[i];
      vmax[i] = vmax[i] > v[i] ? vmax[i] : v[i];
      u[i] = m[i] / (SQRT(vmax[i]) * inv_bc2_sqrt + eps) * inv_bc1;
    }
  } else {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      m[i] = LERP(m[i], u[i], w, w1, small);
      v[i] = v[i] * b2 + w2 * u[i] * u[i];
      u[i] = m[i] / (SQRT(v[i]) * inv_bc2_sqrt + eps) * inv_bc1;
    }
  }
}
APPLY_ON_EVERY_PATH(adam_apply)

/* adam_apply without amsgrad, lr_apply and the final add in one pass: the
   statements and their order are those of the three loops, each rounded to
   real as there (ISO C: no contraction), so theta gets the same bits. */
static MULTIVERSION_BODY void adam_lr_add_plain_body(const transform *t, const real *g, real *theta,
                                                     real *const *slots, size_t n, real minus_lr) {
  real *m = slots[0], *v = slots[1];
  const real w = (real)(1 - t->hp[0]), w1 = (real)1 - w, b2 = (real)t->hp[1];
  const real w2 = (real)(1 - t->hp[1]), eps = (real)t->hp[2];
  const real inv_bc1 = (real)t->scalar[0], inv_bc2_sqrt = (real)t->scalar[1];
  const int small = fabs(1 - t->hp[0]) < 0.5;
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    const real u = g[i];
    m[i] = LERP(m[i], u, w, w1, small);
    v[i] = v[i] * b2 + w2 * u * u;
    real step = m[i] / (SQRT(v[i]) * inv_bc2_sqrt + eps) * inv_bc1;
    step *= minus_lr;
    theta[i] += step;
  }
}
MULTIVERSION_VOID(adam_lr_add_plain,
                  (const transform *t, const real *g, real *theta, real *const *slots, size_t n,
                   real minus_lr),
                  (t, g, theta, slots, n, minus_lr))

static int adam_lr_add(const transform *t, const real *g, real *theta, real *const *slots, size_t n,
                       real minus_lr) {
  if (t->hp[3]) return 0; /* amsgrad: the separate passes */
  adam_lr_add_plain(t, g, theta, slots, n, minus_lr);
  return 1;
}

static const transform_def transform_adam = {
    .name = "adam",
    .summary = "Adam's scaling (Kingma & Ba 2014; torch.optim.Adam): eps outside the root, "
               "added after the bias correction",
    .formula = "m <- b1 m + (1-b1) u;  v <- b2 v + (1-b2) u^2;  [amsgrad: v^ <- max(v^, v)];  "
               "u <- m / (1-b1^t) / (sqrt(v) / sqrt(1-b2^t) + eps)",
    .params = adam_params,
    .n_params = N_OF(adam_params),
    .slots = 3,
    .count_slots = adam_slots,
    .begin = adam_begin,
    .apply = adam_apply,
    .apply_lr_add = adam_lr_add,
};

/* ---- lion ---------------------------------------------------------------- */

static const spec_param lion_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "interpolation used for the update's sign"},
    {"b2", SPEC_NUMBER, 0.99, 0, 1, 0, 1, 0, "decay of the momentum m"},
};

static MULTIVERSION_BODY void lion_apply_body(const transform *t, real *u, real *theta,
                                              real *const *slots, size_t n) {
  real *m = slots[0];
  const real b1 = (real)t->hp[0], w1 = (real)(1 - t->hp[0]);
  const real b2 = (real)t->hp[1], w2 = (real)(1 - t->hp[1]);
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    real c = b1 * m[i] + w1 * u[i];
    m[i] = b2 * m[i] + w2 * u[i];
    u[i] = (real)(c > 0) - (real)(c < 0);
  }
}
APPLY_ON_EVERY_PATH(lion_apply)

static const transform_def transform_lion = {
    .name = "lion",
    .summary = "Lion (Chen et al. 2023): the sign of an interpolated momentum",
    .formula = "c <- b1 m + (1-b1) u;  m <- b2 m + (1-b2) u;  u <- sign(c), sign(0) = 0",
    .params = lion_params,
    .n_params = N_OF(lion_params),
    .slots = 1,
    .apply = lion_apply,
};

/* ---- sf: schedule-free averaging (Defazio et al. 2024) ------------------- */

/* As facebookresearch/schedule_free's SGDScheduleFree and AdamWScheduleFree:
   theta holds y, where gradients are taken; slot z is the base sequence; the
   average x (what is evaluated) is not stored: x = (y - (1 - mu) z) / mu. */
static const spec_param sf_params[] = {
    {"lr", SPEC_TEXT, 0, 0, 0, 0, 0, 0, "learning rate: a number or a schedule"},
    {"momentum", SPEC_NUMBER, 0.9, 0, 1, 1, 1, 0, "interpolation mu between x and z"},
    {"warmup_steps", SPEC_INTEGER, 0, 0, INFINITY, 0, 0, 0, "linear warmup (t+1)/warmup_steps"},
    {"r", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0, "power r of the weighting (t+1)^r"},
    {"weight_lr_power", SPEC_NUMBER, 2, 0, INFINITY, 0, 0, 0, "average weight is lr_max^this"},
};
enum { SF_LR_MAX, SF_WEIGHT_SUM };

static double sf_rate(const transform *t, int64_t step) {
  double lr = t->rate_scale * descent_schedule_value(t->schedule, step), warmup = t->hp[2];
  if ((double)step < warmup) lr *= (double)(step + 1) / warmup;
  return lr;
}

static void sf_start(transform *t) {
  t->persist[SF_LR_MAX] = -1;
  t->persist[SF_WEIGHT_SUM] = 0;
}

static void sf_begin(transform *t, int64_t step) {
  double lr = sf_rate(t, step), mu = t->hp[1];
  if (lr > t->persist[SF_LR_MAX]) t->persist[SF_LR_MAX] = lr;
  double weight = pow((double)(step + 1), t->hp[3]) * pow(t->persist[SF_LR_MAX], t->hp[4]);
  t->persist[SF_WEIGHT_SUM] += weight;
  double ckp1 = t->persist[SF_WEIGHT_SUM] != 0 ? weight / t->persist[SF_WEIGHT_SUM] : 0;
  t->scalar[0] = ckp1;
  t->scalar[1] = lr;
  t->scalar[2] = lr * (mu * (1 - ckp1) - 1);
}

static void sf_init(const transform *t, const real *theta, real *const *slots, size_t n) {
  memcpy(slots[0], theta, n * sizeof *theta);
}

static MULTIVERSION_BODY void sf_apply_body(const transform *t, real *u, real *y,
                                            real *const *slots, size_t n) {
  real *z = slots[0];
  const real c = (real)t->scalar[0], c1 = (real)1 - c, lr = (real)t->scalar[1];
  const real step = (real)t->scalar[2];
  const int small = fabs(t->scalar[0]) < 0.5;
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    y[i] = LERP(y[i], z[i], c, c1, small);
    y[i] = y[i] + step * u[i];
    z[i] = z[i] - lr * u[i];
  }
}
APPLY_ON_EVERY_PATH(sf_apply)

/* theta <- lerp(theta, z, w): y -> x with w = 1 - 1/mu, x -> y with w = 1 - mu. */
static MULTIVERSION_BODY void sf_move_body(real *theta, const real *z, double weight, size_t n) {
  const real w = (real)weight, w1 = (real)1 - w;
  const int small = fabs(weight) < 0.5;
#pragma omp simd
  for (size_t i = 0; i < n; i++) theta[i] = LERP(theta[i], z[i], w, w1, small);
}
/* clang-format off */
MULTIVERSION_VOID(sf_move, (real *theta, const real *z, double weight, size_t n),
                  (theta, z, weight, n))
/* clang-format on */

static void sf_to_eval(const transform *t, real *theta, real *const *slots, size_t n) {
  sf_move(theta, slots[0], 1 - 1 / t->hp[1], n);
}

static void sf_to_train(const transform *t, real *theta, real *const *slots, size_t n) {
  sf_move(theta, slots[0], 1 - t->hp[1], n);
}

static const transform_def transform_sf = {
    .name = "sf",
    .summary = "schedule-free averaging (Defazio et al. 2024, facebookresearch/schedule_free); "
               "theta holds y, evaluation uses x",
    .formula = "c = w_t / sum w, w_t = (t+1)^r lr_max^weight_lr_power;  y <- (1-c) y + c z + "
               "lr (mu (1-c) - 1) u;  z <- z - lr u  (z_0 = theta; x = (y - (1-mu) z) / mu)",
    .params = sf_params,
    .n_params = N_OF(sf_params),
    .has_schedule = 1,
    .final = 1,
    .slots = 1,
    .n_persist = 2,
    .start = sf_start,
    .begin = sf_begin,
    .init = sf_init,
    .apply = sf_apply,
    .to_eval = sf_to_eval,
    .to_train = sf_to_train,
    .rate = sf_rate,
};

/* ---- registry ------------------------------------------------------------ */

/* clang-format off */
static const transform_def *const all_transforms[] = {
    &transform_clip,     &transform_clip_value, &transform_l2,        &transform_momentum,
    &transform_adagrad,  &transform_rmsprop,    &transform_adam,      &transform_lion,
    &transform_wd,       &transform_sf,         &transform_lr,        &transform_adadelta,
    &transform_rprop,    &transform_asgd,       &transform_adabelief, &transform_yogi,
    &transform_ademamix, &transform_nadam,      &transform_radam,     &transform_adamax,
    &transform_optax_adam, &transform_trust_ratio,
    &transform_muon_momentum, &transform_newton_schulz, &transform_newton_schulz_bf16,
    &transform_muon_lr,
    &transform_prodigy, &transform_dadapt_adamw,
    &transform_novograd,
    &transform_adafactor,
    &transform_shampoo,
    &transform_soap,
};
/* clang-format on */
enum { N_TRANSFORMS = sizeof all_transforms / sizeof all_transforms[0] };

int transform_is_lr(const transform *t) {
  return t->def == &transform_lr;
}

const transform_def *transform_find_builtin(const char *name) {
  for (int i = 0; i < N_TRANSFORMS; i++)
    if (strcmp(all_transforms[i]->name, name) == 0) return all_transforms[i];
  return NULL;
}

const transform_def *transform_find(const char *name) {
  const transform_def *def = transform_find_builtin(name);
  for (int i = 0, n = custom_transform_count(); !def && i < n; i++)
    if (strcmp(custom_transform_at(i)->name, name) == 0) def = custom_transform_at(i);
  return def;
}

void transform_list_names(char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < N_TRANSFORMS && used < cap; i++)
    used +=
        (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", all_transforms[i]->name);
  for (int i = 0, n = custom_transform_count(); i < n && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, ", %s", custom_transform_at(i)->name);
}

double transform_rate(const transform *t, int64_t step) {
  if (t->def->rate) return t->def->rate(t, step);
  return t->rate_scale * descent_schedule_value(t->schedule, step);
}

/* One transform's entry in the help: summary, formula, parameters. */
static void help_one(FILE *out, const transform_def *d) {
  fprintf(out, "  %-12s ", d->name);
  optim_print_wrapped(out, d->summary, 15);
  if (d->formula && *d->formula) {
    fprintf(out, "  %-12s ", "");
    optim_print_wrapped(out, d->formula, 15);
  }
  for (int j = 0; j < d->n_params; j++) {
    const spec_param *p = &d->params[j];
    char line[256], range[64], def[32];
    if (p->kind == SPEC_TEXT) {
      snprintf(line, sizeof line, "%s; default: --lr, or the named optimizer's", p->doc);
    } else {
      spec_range_text(p, range, sizeof range);
      if (p->required)
        snprintf(def, sizeof def, "required");
      else
        optim_format_number(p->def, def, sizeof def);
      snprintf(line, sizeof line, "%s; %s%s; range %s", p->doc, p->required ? "" : "default ", def,
               range);
    }
    fprintf(out, "      %-26s ", p->name);
    optim_print_wrapped(out, line, 33);
  }
}

void transform_help(FILE *out) {
  fprintf(out, "Transforms (chain them with '|'; the update u starts as the gradient g, t counts\n"
               "updates from 1 where a formula uses it, and the chain's output is added to theta):"
               "\n");
  for (int i = 0; i < N_TRANSFORMS; i++) help_one(out, all_transforms[i]);
  int n_custom = custom_transform_count();
  if (n_custom) fprintf(out, "Transforms registered by this program:\n");
  for (int i = 0; i < n_custom; i++) help_one(out, custom_transform_at(i));
}
