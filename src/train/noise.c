/*
 * noise.c - gradient-noise statistics of one batch from its per-example
 * gradients (descent_noise_compute): the simple noise scale of McCandlish
 * et al. 2018 and the three sampling tests Cockpit tracks (Schneider,
 * Dangel & Hennig 2021): the norm test (Byrd et al. 2012), the
 * inner-product and the orthogonality tests (Bollapragada et al. 2018).
 *
 * Everything comes from B numbers per example, never from the gradients
 * themselves: sq_i = |g_i|^2 and dot_i = g_i . g, with g the batch
 * gradient (the mean of the g_i) and |g|^2. The sums of squared deviations
 * the formulas need expand into them:
 *   sum_i |g_i - g|^2                  = sum_i sq_i - B |g|^2
 *   sum_i (g_i . g - |g|^2)^2          = sum_i dot_i^2 - B |g|^4
 *   sum_i |g_i - (dot_i / |g|^2) g|^2  = sum_i sq_i - sum_i dot_i^2 / |g|^2
 * (the first two because the mean of dot_i is |g|^2), which is how
 * Cockpit computes them (norm_test.py, inner_test.py, ortho_test.py: its
 * per-example gradients are BackPACK's, g_i / B, hence its factors of B).
 * Each difference is non-negative in exact arithmetic; rounding can leave
 * it a few ulps below zero when the examples agree, and it is then taken
 * as 0. docs/instruments.md derives the noise scale's estimators.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

static int check_input(const double *sq, size_t batch, double grad_sq, const descent_noise *out) {
  if (!out || !sq)
    return descent_fail(DESCENT_EINVAL, "noise statistics: %s is NULL; pass %s", out ? "sq" : "out",
                        out ? "the examples' squared gradient norms" : "a result");
  if (batch < 2)
    return descent_fail(DESCENT_EINVAL,
                        "noise statistics: a batch of %zu example(s); the variance between "
                        "examples needs at least 2 (use a larger batch)",
                        batch);
  if (!(grad_sq >= 0) || isinf(grad_sq))
    return descent_fail(DESCENT_EINVAL,
                        "noise statistics: the batch gradient's squared norm is %g; it must be "
                        "finite and non-negative (the gradient holds a NaN or an infinity?)",
                        grad_sq);
  return DESCENT_OK;
}

int descent_noise_compute(const double *sq, const double *dot, size_t batch, double grad_sq,
                          descent_noise *out) {
  int rc = check_input(sq, batch, grad_sq, out);
  if (rc) return rc;
  double b = (double)batch, sum_sq = 0, sum_dot2 = 0;
  for (size_t i = 0; i < batch; i++) {
    sum_sq += sq[i];
    if (dot) sum_dot2 += dot[i] * dot[i];
  }
  memset(out, 0, sizeof *out);
  out->batch = batch;
  out->grad_sq = grad_sq;
  /* S = sum_i |g_i - g|^2 / (B - 1), McCandlish et al.'s unbiased |S|
     from the batch sizes 1 and B (docs/instruments.md). */
  out->trace = fmax(0.0, sum_sq - b * grad_sq) / (b - 1);
  out->true_sq = grad_sq - out->trace / b;
  out->noise_scale = out->true_sq > 0 ? out->trace / out->true_sq : INFINITY;
  /* Cockpit's tests report the largest theta (nu) at which each would
     pass: the square root of the sample variance over B |g|^2 (|g|^4 for
     the inner product). */
  out->norm_test = sqrt(out->trace / (b * grad_sq));
  if (!dot) {
    out->inner_test = out->ortho_test = NAN;
    return DESCENT_OK;
  }
  double g4 = grad_sq * grad_sq;
  double inner_var = fmax(0.0, sum_dot2 - b * g4) / (b - 1);
  double ortho_var = fmax(0.0, sum_sq - sum_dot2 / grad_sq) / (b - 1);
  out->inner_test = sqrt(inner_var / (b * g4));
  out->ortho_test = sqrt(ortho_var / (b * grad_sq));
  return DESCENT_OK;
}
