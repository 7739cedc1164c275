/*
 * loss.c - softmax cross-entropy and mean squared error.
 *
 * Cross-entropy is computed from the log-sum-exp of the scores shifted by their
 * maximum, so large scores neither overflow nor lose the loss to rounding; its
 * gradient (softmax - onehot) / n is formed from the same exponentials.
 * loss_hessian_product gives the losses' Hessians with respect to the
 * outputs times a vector, for the curvature products.
 */
#include "loss.h"

#include <math.h>
#include <string.h>

int descent_loss_parse(const char *name, descent_loss_kind *kind) {
  if (strcmp(name, "xent") == 0 || strcmp(name, "softmax_xent") == 0 ||
      strcmp(name, "cross_entropy") == 0)
    *kind = DESCENT_LOSS_SOFTMAX_XENT;
  else if (strcmp(name, "mse") == 0)
    *kind = DESCENT_LOSS_MSE;
  else
    return descent_fail(DESCENT_EINVAL, "unknown loss '%s': valid choices are xent, mse", name);
  return DESCENT_OK;
}

const char *descent_loss_name(descent_loss_kind kind) {
  return kind == DESCENT_LOSS_MSE ? "mse" : "xent";
}

static size_t argmax(const descent_real *row, size_t k) {
  size_t best = 0;
  for (size_t j = 1; j < k; j++)
    if (row[j] > row[best]) best = j;
  return best;
}

/* The largest score is found in the scores' own precision, which is exact:
   GCC 12 for AArch64 stops with an internal error when it vectorizes a
   reduction of floats through the double fmax. */
#ifdef DESCENT_DOUBLE
#define FMAX fmax
#else
#define FMAX fmaxf
#endif

static double xent_row(const descent_real *z, size_t k, int32_t label, descent_real *dz,
                       double scale) {
  descent_real zmax = z[0];
  for (size_t j = 1; j < k; j++) zmax = FMAX(zmax, z[j]);
  double max = zmax;
  double sum = 0, e_label = 0;
  /* One exponential per score: kept in dz, then scaled there into the
     gradient (softmax = e / sum). The label's is kept in double: its
     gradient, (softmax - 1) / n, cancels when the softmax is near 1. */
  for (size_t j = 0; j < k; j++) {
    double e = exp(z[j] - max);
    sum += e;
    if (j == (size_t)label) e_label = e;
    if (dz) dz[j] = (descent_real)e;
  }
  if (dz) {
    double to_gradient = scale / sum;
    for (size_t j = 0; j < k; j++) dz[j] = (descent_real)(dz[j] * to_gradient);
    dz[label] = (descent_real)(e_label * to_gradient - scale);
  }
  return log(sum) + max - z[label];
}

static double mse_row(const descent_real *z, size_t k, const int32_t *label,
                      const descent_real *target, descent_real *dz, double scale) {
  double sum = 0;
  for (size_t j = 0; j < k; j++) {
    double t = target ? target[j] : (double)(j == (size_t)*label);
    double d = z[j] - t;
    sum += 0.5 * d * d;
    if (dz) dz[j] = (descent_real)(scale * d);
  }
  return sum;
}

int loss_evaluate(descent_loss_kind kind, const descent_real *out, size_t n, size_t k,
                  const int32_t *labels, const descent_real *targets, double *row_loss,
                  double *loss, descent_real *dout, size_t *correct) {
  if (kind == DESCENT_LOSS_SOFTMAX_XENT && !labels)
    return descent_fail(DESCENT_EINVAL, "cross-entropy needs class labels; the batch has none");
  if (kind == DESCENT_LOSS_MSE && !labels && !targets)
    return descent_fail(DESCENT_EINVAL, "mean squared error needs targets or labels");
  if (labels && !targets) {
    for (size_t i = 0; i < n; i++)
      if (labels[i] < 0 || (size_t)labels[i] >= k)
        return descent_fail(DESCENT_ESHAPE,
                            "label %d of example %zu is outside the network's %zu outputs; "
                            "make the last layer as wide as the number of classes",
                            (int)labels[i], i, k);
  }
  double scale = 1.0 / (double)n;
#pragma omp parallel for schedule(static) if (n * k > 16384)
  for (size_t i = 0; i < n; i++) {
    const descent_real *z = out + i * k;
    descent_real *dz = dout ? dout + i * k : NULL;
    if (kind == DESCENT_LOSS_SOFTMAX_XENT)
      row_loss[i] = xent_row(z, k, labels[i], dz, scale);
    else
      row_loss[i] =
          mse_row(z, k, labels ? labels + i : NULL, targets ? targets + i * k : NULL, dz, scale);
  }
  double sum = 0;
  size_t right = 0;
  for (size_t i = 0; i < n; i++) {
    sum += row_loss[i];
    if (labels && argmax(out + i * k, k) == (size_t)labels[i]) right++;
  }
  *loss = sum * scale;
  if (correct) *correct = right;
  return DESCENT_OK;
}

/* The softmax of a row is formed as in xent_row, from the exponentials
   shifted by the row's largest score, in double. */
static void xent_hessian_row(const descent_real *z, size_t k, const descent_real *rz,
                             descent_real *hv, double scale) {
  descent_real zmax = z[0];
  for (size_t j = 1; j < k; j++) zmax = FMAX(zmax, z[j]);
  double sum = 0, dot = 0;
  for (size_t j = 0; j < k; j++) sum += exp(z[j] - (double)zmax);
  for (size_t j = 0; j < k; j++) dot += exp(z[j] - (double)zmax) / sum * rz[j];
  for (size_t j = 0; j < k; j++) {
    double p = exp(z[j] - (double)zmax) / sum;
    hv[j] = (descent_real)(scale * p * (rz[j] - dot));
  }
}

void loss_hessian_product(descent_loss_kind kind, const descent_real *out, size_t n, size_t k,
                          const descent_real *rz, descent_real *hv) {
  double scale = 1.0 / (double)n;
  for (size_t i = 0; i < n; i++) {
    if (kind == DESCENT_LOSS_SOFTMAX_XENT)
      xent_hessian_row(out + i * k, k, rz + i * k, hv + i * k, scale);
    else
      for (size_t j = 0; j < k; j++) hv[i * k + j] = (descent_real)(scale * rz[i * k + j]);
  }
}
