/*
 * transforms_classic.c - Adadelta, Rprop and averaged SGD, as torch.optim
 * computes them (the single-tensor path of torch.optim.Adadelta, Rprop and
 * ASGD), operation for operation, so that the double build matches torch's
 * float64 trajectories to the last bits.
 *
 * Rprop and ASGD do not scale an update by a rate the way every other
 * transform leaves to `lr`: Rprop's lr is the initial per-element step size,
 * and ASGD's rate decays with the step count inside the method. Both
 * therefore take the rate themselves and end the chain (has_schedule), as
 * schedule-free's `sf` does. docs/optimizers.md has the formulas.
 *
 * As in transform.c, per-step numbers are computed in double by begin() and
 * cast once; each loop is compiled per instruction-set path, and every path
 * gives the same bits (ISO C: no contraction into fused multiply-adds).
 */
#include "transforms_classic.h"

#include "transform_kernels.h"

#include <math.h>
#include <string.h>

/* ---- adadelta: torch.optim.Adadelta ---------------------------------------- */

static const spec_param adadelta_params[] = {
    {"rho", SPEC_NUMBER, 0.9, 0, 1, 0, 0, 0, "decay of both running averages"},
    {"eps", SPEC_NUMBER, 1e-6, 0, INFINITY, 1, 0, 0, "added inside both square roots"},
};

/* Slot 0 is the mean square of the updates coming in (torch's square_avg),
   slot 1 that of the steps going out (acc_delta). */
static MULTIVERSION_BODY void adadelta_apply_body(const transform *t, real *u, real *theta,
                                                  real *const *slots, size_t n) {
  real *square_avg = slots[0], *acc_delta = slots[1];
  const real rho = (real)t->hp[0], w = (real)(1 - t->hp[0]), eps = (real)t->hp[1];
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    square_avg[i] = square_avg[i] * rho + w * u[i] * u[i];
    const real std = SQRT(square_avg[i] + eps);
    real delta = SQRT(acc_delta[i] + eps);
    delta = delta / std * u[i];
    acc_delta[i] = acc_delta[i] * rho + w * delta * delta;
    u[i] = delta;
  }
}
APPLY_ON_EVERY_PATH(adadelta_apply)

/* adadelta_apply, lr_apply and the final add in one pass: the same
   statements in the same order, each rounded as there. */
static MULTIVERSION_BODY void adadelta_lr_add_path_body(const transform *t, const real *g,
                                                        real *theta, real *const *slots, size_t n,
                                                        real minus_lr) {
  real *square_avg = slots[0], *acc_delta = slots[1];
  const real rho = (real)t->hp[0], w = (real)(1 - t->hp[0]), eps = (real)t->hp[1];
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    const real u = g[i];
    square_avg[i] = square_avg[i] * rho + w * u * u;
    const real std = SQRT(square_avg[i] + eps);
    real delta = SQRT(acc_delta[i] + eps);
    delta = delta / std * u;
    acc_delta[i] = acc_delta[i] * rho + w * delta * delta;
    delta *= minus_lr;
    theta[i] += delta;
  }
}
MULTIVERSION_VOID(adadelta_lr_add_path,
                  (const transform *t, const real *g, real *theta, real *const *slots, size_t n,
                   real minus_lr),
                  (t, g, theta, slots, n, minus_lr))

static int adadelta_lr_add(const transform *t, const real *g, real *theta, real *const *slots,
                           size_t n, real minus_lr) {
  adadelta_lr_add_path(t, g, theta, slots, n, minus_lr);
  return 1;
}

const transform_def transform_adadelta = {
    .name = "adadelta",
    .summary = "Adadelta (Zeiler 2012; torch.optim.Adadelta): the ratio of two running RMS, "
               "eps inside both roots",
    .formula = "v <- rho v + (1-rho) u^2;  d <- sqrt(a + eps) / sqrt(v + eps) u;  "
               "a <- rho a + (1-rho) d^2;  u <- d",
    .params = adadelta_params,
    .n_params = N_OF(adadelta_params),
    .slots = 2,
    .apply = adadelta_apply,
    .apply_lr_add = adadelta_lr_add,
};

/* ---- rprop: torch.optim.Rprop ----------------------------------------------- */

/* lr is the step size every element starts with, read once at the first
   step (torch reads group["lr"] only when it creates the state): the
   transform ends the chain so that nothing scales its steps again. */
static const spec_param rprop_params[] = {
    {"etaminus", SPEC_NUMBER, 0.5, 0, 1, 1, 1, 0, "step size factor after a sign change"},
    {"etaplus", SPEC_NUMBER, 1.2, 1, INFINITY, 1, 0, 0, "step size factor after no change"},
    {"step_min", SPEC_NUMBER, 1e-6, 0, INFINITY, 0, 0, 0, "smallest step size"},
    {"step_max", SPEC_NUMBER, 50, 0, INFINITY, 0, 0, 0, "largest step size"},
    {"lr", SPEC_TEXT, 0, 0, 0, 0, 0, 0, "initial step size: a number (read at the first step)"},
};
enum { RPROP_ETAMINUS, RPROP_ETAPLUS, RPROP_STEP_MIN, RPROP_STEP_MAX };

static int rprop_validate(const transform *t) {
  if (t->hp[RPROP_STEP_MIN] > t->hp[RPROP_STEP_MAX])
    return descent_fail(DESCENT_EINVAL,
                        "optimizer: rprop's step_min (%g) exceeds its step_max (%g); give "
                        "step_min <= step_max",
                        t->hp[RPROP_STEP_MIN], t->hp[RPROP_STEP_MAX]);
  /* A schedule would be read at step 0 only: refuse it rather than ignore it. */
  if (strcmp(t->schedule->def->name, "constant") != 0 ||
      descent_schedule_warmup_steps(t->schedule) != 0) {
    char text[192];
    descent_schedule_describe(t->schedule, text, sizeof text);
    return descent_fail(DESCENT_EINVAL,
                        "optimizer: rprop's lr is the initial step size, read once at the first "
                        "step (as torch.optim.Rprop does), so the schedule %s would have no "
                        "effect; give a number",
                        text);
  }
  return DESCENT_OK;
}

static void rprop_begin(transform *t, int64_t step) {
  if (step == 0) t->scalar[0] = transform_rate(t, 0);
}

/* Slot 0 is the previous gradient (zero where its sign flipped), slot 1 the
   per-element step size, which starts at lr. */
static void rprop_init(const transform *t, const real *theta, real *const *slots, size_t n) {
  const real lr = (real)t->scalar[0];
  for (size_t i = 0; i < n; i++) slots[1][i] = lr;
}

/* torch: sign(g prev) mapped to etaplus, etaminus or 1 (NaN stays NaN);
   step <- clamp(step * that); g zeroed where it was etaminus; the update
   -sign(g) step. The selects keep torch's NaN propagation at no cost. */
static MULTIVERSION_BODY void rprop_apply_body(const transform *t, real *u, real *theta,
                                               real *const *slots, size_t n) {
  real *prev = slots[0], *step = slots[1];
  const real etaminus = (real)t->hp[RPROP_ETAMINUS], etaplus = (real)t->hp[RPROP_ETAPLUS];
  const real lo = (real)t->hp[RPROP_STEP_MIN], hi = (real)t->hp[RPROP_STEP_MAX];
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    const real p = u[i] * prev[i];
    const real factor = p > 0 ? etaplus : p < 0 ? etaminus : p == 0 ? (real)1 : p;
    real s = step[i] * factor;
    s = s < lo ? lo : s;
    s = s > hi ? hi : s;
    step[i] = s;
    const real g = factor == etaminus ? (real)0 : u[i];
    prev[i] = g;
    const real sign = g > 0 ? (real)1 : g < 0 ? (real)-1 : g;
    u[i] = -sign * s;
  }
}
APPLY_ON_EVERY_PATH(rprop_apply)

const transform_def transform_rprop = {
    .name = "rprop",
    .summary = "Rprop (Riedmiller & Braun 1993; torch.optim.Rprop): per-element step sizes "
               "from sign agreement; lr is their initial value. Must be last",
    .formula = "f = etaplus, etaminus or 1 as u p > 0, < 0 or = 0;  s <- clamp(f s, step_min, "
               "step_max) (s_0 = lr);  p <- (f = etaminus ? 0 : u);  u <- -sign(p) s",
    .params = rprop_params,
    .n_params = N_OF(rprop_params),
    .has_schedule = 1,
    .slots = 2,
    .validate = rprop_validate,
    .begin = rprop_begin,
    .init = rprop_init,
    .apply = rprop_apply,
};

/* ---- asgd: torch.optim.ASGD -------------------------------------------------- */

/* theta <- theta (1 - lambd eta) - eta u, then the average ax of the
   iterates from step t0 on. torch keeps eta and mu as state, computed at the
   end of each step from the step count and that step's lr; they are
   recomputed here from the step count and the schedule, the same numbers. */
static const spec_param asgd_params[] = {
    {"lambd", SPEC_NUMBER, 1e-4, 0, INFINITY, 0, 0, 0, "decay term and rate decay lambda"},
    {"alpha", SPEC_NUMBER, 0.75, 0, INFINITY, 0, 0, 0, "power of the rate decay"},
    {"t0", SPEC_NUMBER, 1e6, 0, INFINITY, 0, 0, 0, "ax averages the iterates after step t0 + 1"},
    {"lr", SPEC_TEXT, 0, 0, 0, 0, 0, 0, "learning rate: a number or a schedule"},
};
enum { ASGD_LAMBD, ASGD_ALPHA, ASGD_T0 };

/* Update k (from 1) uses eta and mu as torch left them after update k-1:
   eta = lr, mu = 1 before the first; then eta = lr / (1 + lambd lr
   (k-1))^alpha with the lr of update k-1, and mu = 1 / max(1, k-1 - t0). */
static void asgd_begin(transform *t, int64_t step) {
  double eta = transform_rate(t, step > 0 ? step - 1 : 0), mu = 1;
  if (step > 0) {
    eta = eta / pow(1 + t->hp[ASGD_LAMBD] * eta * (double)step, t->hp[ASGD_ALPHA]);
    double since = (double)step - t->hp[ASGD_T0];
    mu = 1 / (since > 1 ? since : 1);
  }
  t->scalar[0] = 1 - t->hp[ASGD_LAMBD] * eta;
  t->scalar[1] = -eta;
  t->scalar[2] = mu;
}

/* Slot 0 is ax. While mu is 1 torch copies the parameters into it. */
static MULTIVERSION_BODY void asgd_apply_body(const transform *t, real *u, real *theta,
                                              real *const *slots, size_t n) {
  real *ax = slots[0];
  const real decay = (real)t->scalar[0], minus_eta = (real)t->scalar[1], mu = (real)t->scalar[2];
  const int copy = t->scalar[2] == 1;
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    theta[i] = theta[i] * decay;
    theta[i] = theta[i] + minus_eta * u[i];
    ax[i] = copy ? theta[i] : ax[i] + (theta[i] - ax[i]) * mu;
  }
}
APPLY_ON_EVERY_PATH(asgd_apply)

/* The evaluation point is ax. The optimizer keeps the training point while
   the parameters hold ax (optimizer.c) and puts it back exactly, so the way
   back has nothing to compute: a parameter the caller changed in between
   stays as the caller set it. */
static MULTIVERSION_BODY void asgd_copy_body(real *theta, const real *ax, size_t n) {
  memcpy(theta, ax, n * sizeof *theta);
}
MULTIVERSION_VOID(asgd_copy, (real * theta, const real *ax, size_t n), (theta, ax, n))

static void asgd_to_eval(const transform *t, real *theta, real *const *slots, size_t n) {
  asgd_copy(theta, slots[0], n);
}

static void asgd_to_train(const transform *t, real *theta, real *const *slots, size_t n) {}

const transform_def transform_asgd = {
    .name = "asgd",
    .summary = "averaged SGD (Polyak & Juditsky 1992, Bottou 2012; torch.optim.ASGD): decaying "
               "rate, evaluation at the average ax. Must be last",
    .formula = "eta = lr / (1 + lambd lr (t-1))^alpha (eta_1 = lr);  theta <- theta (1 - lambd "
               "eta) - eta u;  mu = 1 / max(1, t-1 - t0);  ax <- ax + mu (theta - ax)",
    .params = asgd_params,
    .n_params = N_OF(asgd_params),
    .has_schedule = 1,
    .final = 1,
    .slots = 1,
    .begin = asgd_begin,
    .apply = asgd_apply,
    .to_eval = asgd_to_eval,
    .to_train = asgd_to_train,
};
