/*
 * transforms_novograd.c - Novograd (Ginsburg et al. 2019) as
 * optax.scale_by_novograd 0.2.8 computes it:
 *
 *   nu  <- ||g||^2 at the first step, then (1-b2) ||g||^2 + b2 nu, per tensor
 *   a   <- g / (sqrt(nu + eps_root) + eps) + weight_decay theta
 *   m   <- a at the first step, then b1 m + a
 *   u   <- m
 *
 * nu is one number per tensor of the optimizer's layout (layout.c), kept
 * from step to step in t->tensor_persist and saved with the state; m is a
 * slot. optax squares the norm it took (jnp.linalg.norm(g) ** 2), so the
 * sum of squares is rounded through its square root as there. The sums are
 * made in double in a fixed order (layout.c), so they depend neither on the
 * thread count nor on the instruction-set path; the loop over elements
 * follows optax's operations in its order, in the buffers' precision, and
 * is compiled once per path (transform_kernels.h).
 */
#include "transforms_novograd.h"

#include "transform_kernels.h"

static const spec_param novograd_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "decay of the first moment m"},
    {"b2", SPEC_NUMBER, 0.25, 0, 1, 0, 1, 0, "decay of the per-tensor second moment nu"},
    {"eps", SPEC_NUMBER, 1e-6, 0, INFINITY, 0, 0, 0, "added after the square root"},
    {"eps_root", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0, "added inside the square root"},
    {"weight_decay", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0,
     "weight decay, added to the normalized gradient before the moment"},
};
enum { NG_B1, NG_B2, NG_EPS, NG_EPS_ROOT, NG_WD };
/* scalar[NG_FIRST]: 1 at the first step, where optax starts both moments
   from the step's values instead of averaging. */
enum { NG_FIRST = 0 };

static void novograd_begin(transform *t, int64_t step) {
  t->scalar[NG_FIRST] = step == 0;
}

/* Each tensor's denominator must not be zero with eps = 0 alone: the
   gradient of a tensor at zero would then divide 0 by 0. */
static int novograd_validate(const transform *t) {
  if (t->hp[NG_EPS] == 0 && t->hp[NG_EPS_ROOT] == 0)
    return descent_fail(DESCENT_EINVAL,
                        "optimizer: novograd with eps = 0 and eps_root = 0 divides by zero for a "
                        "tensor whose gradient is zero: give eps > 0 (optax's default 1e-6)");
  return DESCENT_OK;
}

/* The sum of squares of u in eight running sums, element i into sum i % 8,
   then added pairwise in a fixed order: the order is the code's, not the
   vector width's, so every path gives the same bits. */
static MULTIVERSION_BODY void novograd_sum_sq_body(const real *u, size_t n, double *sum) {
  double acc[8] = {0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) acc[k] += (double)u[i + k] * (double)u[i + k];
  for (int k = 0; i < n; i++, k++) acc[k] += (double)u[i] * (double)u[i];
  for (int width = 4; width >= 1; width /= 2)
    for (int k = 0; k < width; k++) acc[k] += acc[k + width];
  *sum = acc[0];
}
MULTIVERSION_VOID(novograd_sum_sq, (const real *u, size_t n, double *sum), (u, n, sum))

static void novograd_reduce(const transform *t, const real *u, const real *theta, size_t n,
                            double *sums) {
  (void)t, (void)theta;
  novograd_sum_sq(u, n, sums);
}

/* nu per tensor, then the denominator sqrt(nu + eps_root) + eps in place of
   the sum, for apply. */
static void novograd_finish(transform *t, size_t n_tensors) {
  const double b2 = t->hp[NG_B2], eps = t->hp[NG_EPS], eps_root = t->hp[NG_EPS_ROOT];
  for (size_t k = 0; k < n_tensors; k++) {
    double norm = sqrt(t->tensor_values[k]);
    double sq = norm * norm;
    double *nu = &t->tensor_persist[k];
    *nu = t->scalar[NG_FIRST] ? sq : (1 - b2) * sq + b2 * *nu;
    t->tensor_values[k] = sqrt(*nu + eps_root) + eps;
  }
}

static MULTIVERSION_BODY void novograd_apply_body(const transform *t, real *u, real *theta,
                                                  real *const *slots, size_t n, size_t tensor) {
  real *m = slots[0];
  const real denom = (real)t->tensor_values[tensor];
  const real wd = (real)t->hp[NG_WD], b1 = (real)t->hp[NG_B1];
  if (t->scalar[NG_FIRST]) {
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
      m[i] = u[i] / denom + wd * theta[i];
      u[i] = m[i];
    }
    return;
  }
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    m[i] = b1 * m[i] + (u[i] / denom + wd * theta[i]);
    u[i] = m[i];
  }
}
MULTIVERSION_VOID(novograd_apply,
                  (const transform *t, real *u, real *theta, real *const *slots, size_t n,
                   size_t tensor),
                  (t, u, theta, slots, n, tensor))

const transform_def transform_novograd = {
    .name = "novograd",
    .summary = "Novograd (Ginsburg et al. 2019; optax.scale_by_novograd): a second moment per "
               "tensor of the squared gradient norm, momentum of the normalized gradient",
    .formula =
        "per tensor: nu <- (1-b2) ||u||^2 + b2 nu (||u||^2 at t=1);  "
        "m <- b1 m + u / (sqrt(nu + eps_root) + eps) + weight_decay theta (no b1 m at t=1);  "
        "u <- m",
    .params = novograd_params,
    .n_params = N_OF(novograd_params),
    .slots = 1,
    .per_tensor = 1,
    .tensor_persist = 1,
    .validate = novograd_validate,
    .begin = novograd_begin,
    .reduce_tensor = novograd_reduce,
    .finish_tensor = novograd_finish,
    .apply_tensor = novograd_apply,
};
