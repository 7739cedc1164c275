/*
 * transforms_adamfam.c - Adam's relatives from torch.optim as transforms:
 * NAdam (Dozat 2016, with torch's momentum schedule), RAdam (Liu et al. 2019)
 * and Adamax (Kingma & Ba 2014, section 7.1).
 *
 * Each follows torch.optim's single-tensor step (torch 2.15,
 * _single_tensor_nadam, _radam, _adamax) operation for operation inside the
 * update: the same lerp for the first moment, the same order of the second
 * moment's products, divisions where torch divides. What differs is only
 * where the rate enters: torch folds -lr into the scalar of its addcdiv (or
 * multiplies by it in the middle of RAdam's product), descent's chain
 * applies it afterwards in `lr`, so theta differs from torch's in the last
 * bits of the update (about 1e-16 relative; the parity fixtures measure it).
 *
 * Per-step numbers (bias corrections, NAdam's momentum schedule, RAdam's
 * rectification) are computed in double by begin(), as torch computes them
 * in Python floats, and cast once to the buffers' precision. Every loop is
 * compiled once per instruction-set path (core/multiversion.h) and gives the
 * same bits on each. As for Adam (transform.c), each transform has a fused
 * apply_lr_add for the common chain "T | lr" that rounds every element as
 * the separate passes do.
 */
#include "transforms_adamfam.h"

#include "transform_kernels.h"

#include <math.h>

/* The first moment's lerp weight 1 - b1, shared by the three. */
typedef struct first_moment {
  real w, w1;
  int small;
} first_moment;

static first_moment first_moment_of(double b1) {
  first_moment f = {(real)(1 - b1), (real)1 - (real)(1 - b1), fabs(1 - b1) < 0.5};
  return f;
}

/* ---- nadam: torch.optim.NAdam ------------------------------------------- */

/* torch keeps mu_product, the running product of the momentum schedule, per
   tensor; every tensor steps together, so one persistent scalar holds it. */
enum { NADAM_MU_PRODUCT };
enum { NADAM_BC2, NADAM_C_GRAD, NADAM_C_MOMENT };

static const spec_param nadam_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "decay of the first moment m"},
    {"b2", SPEC_NUMBER, 0.999, 0, 1, 0, 1, 0, "decay of the second moment v"},
    {"eps", SPEC_NUMBER, 1e-8, 0, INFINITY, 1, 0, 0, "added after the square root"},
    {"momentum_decay", SPEC_NUMBER, 4e-3, 0, INFINITY, 0, 0, 0,
     "psi of the momentum schedule mu_t = b1 (1 - 0.96^(t psi) / 2)"},
};

static void nadam_start(transform *t) {
  t->persist[NADAM_MU_PRODUCT] = 1;
}

/* torch's _single_tensor_nadam, its scalars in the same order. */
static void nadam_begin(transform *t, int64_t step) {
  const double b1 = t->hp[0], b2 = t->hp[1], psi = t->hp[3], k = (double)(step + 1);
  const double mu = b1 * (1.0 - 0.5 * pow(0.96, k * psi));
  const double mu_next = b1 * (1.0 - 0.5 * pow(0.96, (k + 1) * psi));
  t->persist[NADAM_MU_PRODUCT] *= mu;
  const double mu_product = t->persist[NADAM_MU_PRODUCT];
  t->scalar[NADAM_BC2] = 1 - pow(b2, k);
  t->scalar[NADAM_C_GRAD] = (1.0 - mu) / (1.0 - mu_product);
  t->scalar[NADAM_C_MOMENT] = mu_next / (1.0 - mu_product * mu_next);
}

typedef struct nadam_consts {
  first_moment f;
  real b2, w2, eps, bc2, c_grad, c_moment;
} nadam_consts;

static nadam_consts nadam_consts_of(const transform *t) {
  nadam_consts k = {first_moment_of(t->hp[0]),      (real)t->hp[1],
                    (real)(1 - t->hp[1]),           (real)t->hp[2],
                    (real)t->scalar[NADAM_BC2],     (real)t->scalar[NADAM_C_GRAD],
                    (real)t->scalar[NADAM_C_MOMENT]};
  return k;
}

/* One element: the moments, then torch's two addcdivs' terms (value * t1 /
   t2 each), without the rate. */
static MULTIVERSION_BODY real nadam_one(const nadam_consts *k, real g, real *m, real *v) {
  *m = LERP(*m, g, k->f.w, k->f.w1, k->f.small);
  *v = *v * k->b2 + k->w2 * g * g;
  const real denom = SQRT(*v / k->bc2) + k->eps;
  return k->c_grad * g / denom + k->c_moment * *m / denom;
}

static MULTIVERSION_BODY void nadam_apply_body(const transform *t, real *u, real *theta,
                                               real *const *slots, size_t n) {
  real *m = slots[0], *v = slots[1];
  const nadam_consts k = nadam_consts_of(t);
#pragma omp simd
  for (size_t i = 0; i < n; i++) u[i] = nadam_one(&k, u[i], &m[i], &v[i]);
}
APPLY_ON_EVERY_PATH(nadam_apply)

static MULTIVERSION_BODY void nadam_lr_add_path_body(const transform *t, const real *g, real *theta,
                                                     real *const *slots, size_t n, real minus_lr) {
  real *m = slots[0], *v = slots[1];
  const nadam_consts k = nadam_consts_of(t);
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    real step = nadam_one(&k, g[i], &m[i], &v[i]);
    step *= minus_lr;
    theta[i] += step;
  }
}
LR_ADD_ON_EVERY_PATH(nadam_lr_add_path)

static int nadam_lr_add(const transform *t, const real *g, real *theta, real *const *slots,
                        size_t n, real minus_lr) {
  nadam_lr_add_path(t, g, theta, slots, n, minus_lr);
  return 1;
}

const transform_def transform_nadam = {
    .name = "nadam",
    .summary = "NAdam's scaling (Dozat 2016; torch.optim.NAdam): Nesterov momentum in Adam, "
               "with torch's momentum schedule mu_t",
    .formula = "mu_t = b1 (1 - 0.96^(t momentum_decay) / 2), P_t = mu_1 ... mu_t;  m <- b1 m + "
               "(1-b1) u;  v <- b2 v + (1-b2) u^2;  d = sqrt(v / (1-b2^t)) + eps;  "
               "u <- (1-mu_t) / (1-P_t) u / d + mu_(t+1) / (1-P_t mu_(t+1)) m / d",
    .params = nadam_params,
    .n_params = N_OF(nadam_params),
    .slots = 2,
    .n_persist = 1,
    .start = nadam_start,
    .begin = nadam_begin,
    .apply = nadam_apply,
    .apply_lr_add = nadam_lr_add,
};

/* ---- radam: torch.optim.RAdam ------------------------------------------- */

enum { RADAM_BC1, RADAM_SQRT_BC2, RADAM_RECT, RADAM_ADAPTIVE };

static const spec_param radam_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "decay of the first moment m"},
    {"b2", SPEC_NUMBER, 0.999, 0, 1, 0, 1, 0, "decay of the second moment v"},
    {"eps", SPEC_NUMBER, 1e-8, 0, INFINITY, 1, 0, 0, "added after the square root"},
};

/* torch's _single_tensor_radam: the length of the approximated simple moving
   average rho_t, and the rectification when it exceeds 5 (Python's ** 0.5
   is pow, kept for the same bits). */
static void radam_begin(transform *t, int64_t step) {
  const double b1 = t->hp[0], b2 = t->hp[1], k = (double)(step + 1);
  const double bc1 = 1 - pow(b1, k), bc2 = 1 - pow(b2, k);
  const double rho_inf = 2 / (1 - b2) - 1;
  const double rho_t = rho_inf - 2 * k * pow(b2, k) / bc2;
  t->scalar[RADAM_BC1] = bc1;
  t->scalar[RADAM_SQRT_BC2] = pow(bc2, 0.5);
  t->scalar[RADAM_ADAPTIVE] = rho_t > 5.0;
  t->scalar[RADAM_RECT] =
      rho_t > 5.0
          ? pow((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t), 0.5)
          : 1;
}

typedef struct radam_consts {
  first_moment f;
  real b2, w2, eps, bc1, sqrt_bc2, rect;
} radam_consts;

static radam_consts radam_consts_of(const transform *t) {
  radam_consts k = {first_moment_of(t->hp[0]),  (real)t->hp[1],
                    (real)(1 - t->hp[1]),       (real)t->hp[2],
                    (real)t->scalar[RADAM_BC1], (real)t->scalar[RADAM_SQRT_BC2],
                    (real)t->scalar[RADAM_RECT]};
  return k;
}

static MULTIVERSION_BODY void radam_moments(const radam_consts *k, real g, real *m, real *v) {
  *m = LERP(*m, g, k->f.w, k->f.w1, k->f.small);
  *v = *v * k->b2 + k->w2 * g * g;
}

/* torch's bias_corrected_exp_avg * lr * adaptive_lr * rect without the rate;
   adaptive_lr = sqrt(1-b2^t) / (sqrt(v) + eps). */
static MULTIVERSION_BODY real radam_adaptive(const radam_consts *k, real m, real v) {
  return m / k->bc1 * (k->sqrt_bc2 / (SQRT(v) + k->eps)) * k->rect;
}

static MULTIVERSION_BODY void radam_apply_body(const transform *t, real *u, real *theta,
                                               real *const *slots, size_t n) {
  real *m = slots[0], *v = slots[1];
  const radam_consts k = radam_consts_of(t);
  if (t->scalar[RADAM_ADAPTIVE]) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      radam_moments(&k, u[i], &m[i], &v[i]);
      u[i] = radam_adaptive(&k, m[i], v[i]);
    }
  } else {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      radam_moments(&k, u[i], &m[i], &v[i]);
      u[i] = m[i] / k.bc1;
    }
  }
}
APPLY_ON_EVERY_PATH(radam_apply)

static MULTIVERSION_BODY void radam_lr_add_path_body(const transform *t, const real *g, real *theta,
                                                     real *const *slots, size_t n, real minus_lr) {
  real *m = slots[0], *v = slots[1];
  const radam_consts k = radam_consts_of(t);
  if (t->scalar[RADAM_ADAPTIVE]) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      radam_moments(&k, g[i], &m[i], &v[i]);
      real step = radam_adaptive(&k, m[i], v[i]);
      step *= minus_lr;
      theta[i] += step;
    }
  } else {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      radam_moments(&k, g[i], &m[i], &v[i]);
      real step = m[i] / k.bc1;
      step *= minus_lr;
      theta[i] += step;
    }
  }
}
LR_ADD_ON_EVERY_PATH(radam_lr_add_path)

static int radam_lr_add(const transform *t, const real *g, real *theta, real *const *slots,
                        size_t n, real minus_lr) {
  radam_lr_add_path(t, g, theta, slots, n, minus_lr);
  return 1;
}

const transform_def transform_radam = {
    .name = "radam",
    .summary = "RAdam's scaling (Liu et al. 2019; torch.optim.RAdam): Adam with its variance "
               "rectified, bias-corrected momentum alone while rho_t <= 5",
    .formula = "m <- b1 m + (1-b1) u;  v <- b2 v + (1-b2) u^2;  rho_inf = 2/(1-b2) - 1, rho_t = "
               "rho_inf - 2 t b2^t / (1-b2^t);  u <- m/(1-b1^t) sqrt(1-b2^t) / (sqrt(v) + eps) "
               "r_t, r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t)), "
               "if rho_t > 5; else u <- m/(1-b1^t)",
    .params = radam_params,
    .n_params = N_OF(radam_params),
    .slots = 2,
    .begin = radam_begin,
    .apply = radam_apply,
    .apply_lr_add = radam_lr_add,
};

/* ---- adamax: torch.optim.Adamax ----------------------------------------- */

static const spec_param adamax_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "decay of the first moment m"},
    {"b2", SPEC_NUMBER, 0.999, 0, 1, 0, 1, 0, "decay of the infinity norm e"},
    {"eps", SPEC_NUMBER, 1e-8, 0, INFINITY, 1, 0, 0, "added to |u| inside the maximum"},
};

static void adamax_begin(transform *t, int64_t step) {
  t->scalar[0] = 1 / (1 - pow(t->hp[0], (double)(step + 1)));
}

typedef struct adamax_consts {
  first_moment f;
  real b2, eps, inv_bc1;
} adamax_consts;

static adamax_consts adamax_consts_of(const transform *t) {
  adamax_consts k = {first_moment_of(t->hp[0]), (real)t->hp[1], (real)t->hp[2], (real)t->scalar[0]};
  return k;
}

/* torch.maximum(b2 e, |g| + eps); a NaN in e is kept, as torch keeps it (a
   NaN gradient reaches the update through m). torch then adds
   -lr / (1-b1^t) m / e; the bias correction is multiplied by its inverse, as
   Adam's is in transform.c. */
static MULTIVERSION_BODY real adamax_one(const adamax_consts *k, real g, real *m, real *e) {
  *m = LERP(*m, g, k->f.w, k->f.w1, k->f.small);
  const real decayed = *e * k->b2, magnitude = FABS(g) + k->eps;
  *e = magnitude > decayed ? magnitude : decayed;
  return *m / *e * k->inv_bc1;
}

static MULTIVERSION_BODY void adamax_apply_body(const transform *t, real *u, real *theta,
                                                real *const *slots, size_t n) {
  real *m = slots[0], *e = slots[1];
  const adamax_consts k = adamax_consts_of(t);
#pragma omp simd
  for (size_t i = 0; i < n; i++) u[i] = adamax_one(&k, u[i], &m[i], &e[i]);
}
APPLY_ON_EVERY_PATH(adamax_apply)

static MULTIVERSION_BODY void adamax_lr_add_path_body(const transform *t, const real *g,
                                                      real *theta, real *const *slots, size_t n,
                                                      real minus_lr) {
  real *m = slots[0], *e = slots[1];
  const adamax_consts k = adamax_consts_of(t);
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    real step = adamax_one(&k, g[i], &m[i], &e[i]);
    step *= minus_lr;
    theta[i] += step;
  }
}
LR_ADD_ON_EVERY_PATH(adamax_lr_add_path)

static int adamax_lr_add(const transform *t, const real *g, real *theta, real *const *slots,
                         size_t n, real minus_lr) {
  adamax_lr_add_path(t, g, theta, slots, n, minus_lr);
  return 1;
}

const transform_def transform_adamax = {
    .name = "adamax",
    .summary = "Adamax's scaling (Kingma & Ba 2014, sec. 7.1; torch.optim.Adamax): Adam with "
               "an infinity norm, eps inside the maximum",
    .formula = "m <- b1 m + (1-b1) u;  e <- max(b2 e, |u| + eps);  u <- m / e / (1-b1^t)",
    .params = adamax_params,
    .n_params = N_OF(adamax_params),
    .slots = 2,
    .begin = adamax_begin,
    .apply = adamax_apply,
    .apply_lr_add = adamax_lr_add,
};
