/*
 * transforms_layerwise.c - the transforms LAMB and LARS are built from, as
 * optax 0.2.8 computes them:
 *
 *   optax_adam   optax.scale_by_adam: the moments as (1-b) g + b m (not
 *                torch's lerp), each bias-corrected by a division, eps_root
 *                inside the square root and eps outside;
 *   trust_ratio  optax.scale_by_trust_ratio: each tensor's update scaled by
 *                trust_coefficient ||theta|| / (||u|| + eps), per tensor of
 *                the optimizer's layout (layout.c), 1 where a norm is zero.
 *
 * The loops follow optax's operations in its order, each rounded in the
 * buffers' precision; the norms are summed in double (layout.c fixes the
 * order). Each loop is compiled once per instruction-set path, as in
 * transform.c; every path gives the same bits.
 */
#include "transforms_layerwise.h"

#include "core/multiversion.h"

#include <math.h>

typedef descent_real real;

#ifdef DESCENT_DOUBLE
#define SQRT sqrt
#else
#define SQRT sqrtf
#endif

#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

/* ---- optax_adam ------------------------------------------------------------ */

static const spec_param optax_adam_params[] = {
    {"b1", SPEC_NUMBER, 0.9, 0, 1, 0, 1, 0, "decay of the first moment m"},
    {"b2", SPEC_NUMBER, 0.999, 0, 1, 0, 1, 0, "decay of the second moment v"},
    {"eps", SPEC_NUMBER, 1e-8, 0, INFINITY, 1, 0, 0, "added after the square root"},
    {"eps_root", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0, "added inside the square root"},
};

/* optax's bias corrections 1 - b^t, by which it divides. */
static void optax_adam_begin(transform *t, int64_t step) {
  double k = (double)(step + 1);
  t->scalar[0] = 1 - pow(t->hp[0], k);
  t->scalar[1] = 1 - pow(t->hp[1], k);
}

static MULTIVERSION_BODY void optax_adam_apply_body(const transform *t, real *u, real *theta,
                                                    real *const *slots, size_t n) {
  real *m = slots[0], *v = slots[1];
  const real b1 = (real)t->hp[0], w1 = (real)(1 - t->hp[0]);
  const real b2 = (real)t->hp[1], w2 = (real)(1 - t->hp[1]);
  const real eps = (real)t->hp[2], eps_root = (real)t->hp[3];
  const real bc1 = (real)t->scalar[0], bc2 = (real)t->scalar[1];
#pragma omp simd
  for (size_t i = 0; i < n; i++) {
    m[i] = w1 * u[i] + b1 * m[i];
    v[i] = w2 * (u[i] * u[i]) + b2 * v[i];
    real m_hat = m[i] / bc1, v_hat = v[i] / bc2;
    u[i] = m_hat / (SQRT(v_hat + eps_root) + eps);
  }
}
MULTIVERSION_VOID(optax_adam_apply,
                  (const transform *t, real *u, real *theta, real *const *slots, size_t n),
                  (t, u, theta, slots, n))

const transform_def transform_optax_adam = {
    .name = "optax_adam",
    .summary = "Adam's scaling as optax.scale_by_adam computes it (moments as (1-b) u + b m, "
               "bias corrections divided, eps_root inside the root); LAMB's first transform",
    .formula = "m <- (1-b1) u + b1 m;  v <- (1-b2) u^2 + b2 v;  "
               "u <- (m / (1-b1^t)) / (sqrt(v / (1-b2^t) + eps_root) + eps)",
    .params = optax_adam_params,
    .n_params = N_OF(optax_adam_params),
    .slots = 2,
    .begin = optax_adam_begin,
    .apply = optax_adam_apply,
};

/* ---- trust_ratio ------------------------------------------------------------ */

static const spec_param trust_ratio_params[] = {
    {"trust_coefficient", SPEC_NUMBER, 1, 0, INFINITY, 1, 0, 0, "multiplier of the ratio"},
    {"eps", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0, "added to the update's norm"},
    {"min_norm", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0, "smallest value of either norm"},
};
/* The sums per tensor, and then the values finish() leaves in their place. */
enum { TR_THETA_SQ, TR_UPDATE_SQ, TR_SUMS };
enum { TR_RATIO = 0 };

/* The sums of squares in eight running sums each, element i into sum i % 8,
   then added pairwise in a fixed order: eight independent chains vectorize
   on every path, and each sum's order is fixed by the code, not by the
   vector width, so every path gives the same bits (no `omp simd
   reduction`, which would let each width sum in its own order). */
static MULTIVERSION_BODY void trust_ratio_sums_body(const real *u, const real *theta, size_t n,
                                                    double *sums) {
  double theta_sq[8] = {0}, update_sq[8] = {0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) {
      theta_sq[k] += (double)theta[i + k] * (double)theta[i + k];
      update_sq[k] += (double)u[i + k] * (double)u[i + k];
    }
  for (int k = 0; i < n; i++, k++) {
    theta_sq[k] += (double)theta[i] * (double)theta[i];
    update_sq[k] += (double)u[i] * (double)u[i];
  }
  for (int width = 4; width >= 1; width /= 2)
    for (int k = 0; k < width; k++) {
      theta_sq[k] += theta_sq[k + width];
      update_sq[k] += update_sq[k + width];
    }
  sums[TR_THETA_SQ] = theta_sq[0];
  sums[TR_UPDATE_SQ] = update_sq[0];
}
MULTIVERSION_VOID(trust_ratio_sums, (const real *u, const real *theta, size_t n, double *sums),
                  (u, theta, n, sums))

static void trust_ratio_reduce(const transform *t, const real *u, const real *theta, size_t n,
                               double *sums) {
  trust_ratio_sums(u, theta, n, sums);
}

/* optax's safe_norm(x, min_norm): min_norm where the norm does not exceed it. */
static double safe_norm(double sum_sq, double min_norm) {
  double norm = sqrt(sum_sq);
  return norm <= min_norm ? min_norm : norm;
}

static void trust_ratio_finish(transform *t, size_t n_tensors) {
  for (size_t k = 0; k < n_tensors; k++) {
    double *v = t->tensor_values + k * TR_SUMS;
    double param_norm = safe_norm(v[TR_THETA_SQ], t->hp[2]);
    double update_norm = safe_norm(v[TR_UPDATE_SQ], t->hp[2]);
    double ratio = t->hp[0] * param_norm / (update_norm + t->hp[1]);
    /* A tensor at zero, or with nothing to update, keeps the update as it is. */
    v[TR_RATIO] = param_norm == 0 || update_norm == 0 ? 1 : ratio;
  }
}

static MULTIVERSION_BODY void trust_ratio_apply_body(const transform *t, real *u, real *theta,
                                                     real *const *slots, size_t n, size_t tensor) {
  const real ratio = (real)t->tensor_values[tensor * TR_SUMS + TR_RATIO];
#pragma omp simd
  for (size_t i = 0; i < n; i++) u[i] = u[i] * ratio;
}
MULTIVERSION_VOID(trust_ratio_apply,
                  (const transform *t, real *u, real *theta, real *const *slots, size_t n,
                   size_t tensor),
                  (t, u, theta, slots, n, tensor))

const transform_def transform_trust_ratio = {
    .name = "trust_ratio",
    .summary = "per-tensor trust ratio (LARS, You et al. 2017; optax.scale_by_trust_ratio): "
               "each tensor's update rescaled to its parameters' norm",
    .formula = "per tensor: u <- u trust_coefficient ||theta|| / (||u|| + eps), norms at least "
               "min_norm; ratio 1 where either norm is 0",
    .params = trust_ratio_params,
    .n_params = N_OF(trust_ratio_params),
    .per_tensor = TR_SUMS,
    .reduce_tensor = trust_ratio_reduce,
    .finish_tensor = trust_ratio_finish,
    .apply_tensor = trust_ratio_apply,
};
