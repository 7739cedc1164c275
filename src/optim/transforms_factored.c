/*
 * transforms_factored.c - Adafactor as torch.optim.Adafactor (torch 2.15,
 * _single_tensor_adafactor) computes it, one whole tensor at a time:
 *
 *   t-th step, rho = min(lr, 1/sqrt(t)), beta = t^beta2_decay,
 *   alpha = max(eps2, ||theta||_2 / sqrt(n)) rho   (before the decay);
 *   theta <- theta (1 - lr weight_decay);
 *   a tensor of two or more dimensions, read as a batch of R x C matrices
 *   (its last two dimensions, as torch factors them):
 *     row <- lerp(row, mean_c g^2, beta);  col <- lerp(col, mean_r g^2, beta)
 *     v = row col^T / max(mean(row), eps1)
 *   a 1-D tensor: v <- lerp(v, g^2, beta);
 *   u = g / sqrt(max(v, eps1^2));  denom = max(1, ||u||_2 / (sqrt(n) d));
 *   theta <- theta - (alpha / denom) u.
 *
 * It is one transform, the whole step, because every part of it needs the
 * whole tensor (the row and column means, the parameters' norm taken before
 * the decay, the update's norm) and it writes the parameters itself.
 *
 * Its state is per tensor (transform.h's tensor_state): the rows (batch x
 * R) then the columns (batch x C) of a matrix tensor, R + C numbers per
 * matrix where Adam keeps 2 R C; a 1-D tensor keeps its full second moment
 * (n numbers).
 *
 * eps1 < 0 (the default) stands for torch's eps1=None: the machine epsilon
 * of the buffers' type (double in libdescent64, float in libdescent).
 */
#include "transforms_factored.h"

#include "transform_kernels.h"

#include <float.h>

#ifdef DESCENT_DOUBLE
#define REAL_EPSILON DBL_EPSILON
#else
#define REAL_EPSILON FLT_EPSILON
#endif

enum { HP_BETA2_DECAY, HP_EPS1, HP_EPS2, HP_D, HP_WEIGHT_DECAY };
/* t->scalar: the step's values, set by begin(). */
enum { S_LR, S_RHO, S_BETA };

static const spec_param adafactor_params[] = {
    {"beta2_decay", SPEC_NUMBER, -0.8, -INFINITY, 0, 1, 0, 0,
     "decay exponent: the second moment's weight at step t is t^beta2_decay"},
    {"eps1", SPEC_NUMBER, -1, -1, INFINITY, 0, 0, 0,
     "smallest second moment (squared) and row mean; -1: the machine epsilon (torch's None)"},
    {"eps2", SPEC_NUMBER, 1e-3, 0, INFINITY, 0, 0, 0, "smallest parameter RMS the step scales by"},
    {"d", SPEC_NUMBER, 1, 1, INFINITY, 0, 0, 0, "clipping threshold of the update's RMS"},
    {"weight_decay", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0,
     "decoupled decay: theta <- theta (1 - lr weight_decay)"},
    {"lr", SPEC_TEXT, 0, 0, 0, 0, 0, 0,
     "learning rate (the largest relative step): a number or "
     "a schedule"},
};

static int adafactor_validate(const transform *t) {
  double eps1 = t->hp[HP_EPS1];
  if (eps1 < 0 && eps1 != -1)
    return descent_fail(DESCENT_EINVAL,
                        "adafactor: eps1 = %g is out of range: pass eps1 in [0, inf), or -1 for "
                        "the machine epsilon (torch's eps=(None, ...))",
                        eps1);
  return DESCENT_OK;
}

/* torch's step_float = t (from 1), in Python floats. */
static void adafactor_begin(transform *t, int64_t step) {
  const double lr = transform_rate(t, step), step_float = (double)(step + 1);
  const double inv_sqrt = 1 / pow(step_float, 0.5);
  t->scalar[S_LR] = lr;
  t->scalar[S_RHO] = lr < inv_sqrt ? lr : inv_sqrt;
  t->scalar[S_BETA] = pow(step_float, t->hp[HP_BETA2_DECAY]);
}

static double sum_squares(const real *x, size_t n, size_t stride) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)x[i * stride] * (double)x[i * stride];
  return s;
}

/* torch.linalg.vector_norm(g, dim).square_().div_(count), lerped into the
   state: the norm is rounded to the buffers' type before it is squared. */
static real mean_square(const real *g, size_t n, size_t stride) {
  const real norm = (real)sqrt(sum_squares(g, n, stride));
  return norm * norm / (real)n;
}

/* max(x, lo) as torch's clamp_(min=lo): NaN stays NaN. */
static real clamp_min(real x, real lo) {
  return x < lo ? lo : x;
}

/* One R x C matrix g of the batch: its rows and columns lerped into row and
   col, then u = g / sqrt(max(row col^T / max(mean(row), eps1), eps1^2)). */
static void factored_update(real *g, size_t rows, size_t cols, real *row, real *col, real beta,
                            real beta1, int small, real eps1, real eps1_sq) {
  for (size_t r = 0; r < rows; r++) {
    real mean = mean_square(g + r * cols, cols, 1);
    row[r] = LERP(row[r], mean, beta, beta1, small);
  }
  for (size_t c = 0; c < cols; c++) {
    real mean = mean_square(g + c, rows, cols);
    col[c] = LERP(col[c], mean, beta, beta1, small);
  }
  real row_sum = 0;
  for (size_t r = 0; r < rows; r++) row_sum += row[r];
  const real row_mean = clamp_min(row_sum / (real)rows, eps1);
  for (size_t r = 0; r < rows; r++)
    for (size_t c = 0; c < cols; c++) {
      real v = clamp_min(row[r] * col[c] / row_mean, eps1_sq);
      real rsqrt = (real)1 / SQRT(v);
      g[r * cols + c] = rsqrt * g[r * cols + c];
    }
}

static void full_update(real *g, size_t n, real *v, real beta, real beta1, int small,
                        real eps1_sq) {
  for (size_t i = 0; i < n; i++) {
    v[i] = LERP(v[i], g[i] * g[i], beta, beta1, small);
    real rsqrt = (real)1 / SQRT(clamp_min(v[i], eps1_sq));
    g[i] = rsqrt * g[i];
  }
}

static MULTIVERSION_BODY void adafactor_step_body(const real *u, real *theta, size_t n, real decay,
                                                  int decays, real minus_alpha) {
  if (decays) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) theta[i] = theta[i] * decay;
  }
#pragma omp simd
  for (size_t i = 0; i < n; i++) theta[i] = theta[i] + minus_alpha * u[i];
}
MULTIVERSION_VOID(adafactor_step,
                  (const real *u, real *theta, size_t n, real decay, int decays, real minus_alpha),
                  (u, theta, n, decay, decays, minus_alpha))

/* A matrix tensor (two or more dimensions) as a batch of rows x cols. */
static void matrix_batch(const descent_tensor_info *info, size_t *rows, size_t *cols,
                         size_t *batch) {
  *rows = info->shape.dims[info->shape.ndim - 2];
  *cols = info->shape.dims[info->shape.ndim - 1];
  *batch = info->size / (*rows * *cols);
}

/* The factors of a matrix tensor; the second moment of a 1-D one. */
static size_t adafactor_tensor_state(const transform *t, const descent_tensor_info *info) {
  (void)t;
  if (info->shape.ndim < 2) return info->size;
  size_t rows, cols, batch;
  matrix_batch(info, &rows, &cols, &batch);
  return batch * (rows + cols);
}

static void adafactor_apply(const transform *t, real *u, real *theta, real *const *slots,
                            size_t tensor, const descent_tensor_info *info, real *work) {
  (void)slots, (void)work;
  real *state = transform_tensor_state(t, tensor);
  const size_t n = info->size;
  const double lr = t->scalar[S_LR], wd = t->hp[HP_WEIGHT_DECAY], d = t->hp[HP_D];
  const double eps1 = t->hp[HP_EPS1] < 0 ? REAL_EPSILON : t->hp[HP_EPS1];
  const double root_n = pow((double)n, 0.5);
  const double rms = sqrt(sum_squares(theta, n, 1)) / root_n;
  const double alpha = (t->hp[HP_EPS2] > rms ? t->hp[HP_EPS2] : rms) * t->scalar[S_RHO];
  const real beta = (real)t->scalar[S_BETA], beta1 = (real)1 - beta;
  const int small = fabs(t->scalar[S_BETA]) < 0.5;
  if (info->shape.ndim > 1) {
    size_t rows, cols, batch;
    matrix_batch(info, &rows, &cols, &batch);
    real *row = state, *col = state + batch * rows;
    for (size_t b = 0; b < batch; b++)
      factored_update(u + b * rows * cols, rows, cols, row + b * rows, col + b * cols, beta, beta1,
                      small, (real)eps1, (real)(eps1 * eps1));
  } else {
    full_update(u, n, state, beta, beta1, small, (real)(eps1 * eps1));
  }
  const double ratio = sqrt(sum_squares(u, n, 1)) / (root_n * d);
  const double denom = ratio > 1.0 ? ratio : 1.0;
  adafactor_step(u, theta, n, (real)(1 - lr * wd), wd != 0, (real)(-alpha / denom));
}

const transform_def transform_adafactor = {
    .name = "adafactor",
    .summary = "Adafactor (torch.optim.Adafactor): a second moment factored into row and column "
               "means per matrix, a relative step size and update clipping; ends the chain",
    .formula = "per tensor, step t: rho = min(lr, 1/sqrt(t)), alpha = max(eps2, RMS(theta)) rho; "
               "theta <- theta (1 - lr weight_decay); R x C matrices (last two dims): "
               "row <- lerp(row, mean_c u^2, t^beta2_decay), col likewise, v = row col^T / "
               "max(mean(row), eps1); 1-D: v <- lerp(v, u^2, t^beta2_decay); "
               "u <- u / sqrt(max(v, eps1^2)); theta <- theta - alpha u / max(1, RMS(u)/d)",
    .params = adafactor_params,
    .n_params = N_OF(adafactor_params),
    .has_schedule = 1,
    .final = 1,
    .whole_tensor = 1,
    .tensor_state = adafactor_tensor_state,
    .validate = adafactor_validate,
    .begin = adafactor_begin,
    .apply_whole = adafactor_apply,
};
