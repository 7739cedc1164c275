/*
 * batchnorm.c - batch normalization (Ioffe & Szegedy 2015), as PyTorch's
 * BatchNorm1d and BatchNorm2d: the lecture's idea 2, whitening each hidden
 * unit over the batch.
 *
 * Channels are the first dimension of an example's shape: a flat vector of C
 * features is normalized per feature over the batch (BatchNorm1d), a
 * C x H x W activation per channel over the batch and the positions
 * (BatchNorm2d). In training, y = gamma (x - mean) / sqrt(var + eps) + beta
 * with the batch's mean and biased variance, and the running statistics move
 * as PyTorch's: running = (1 - momentum) running + momentum batch, the
 * variance unbiased (times N / (N - 1)). In evaluation the running statistics
 * replace the batch's. gamma starts at 1, beta at 0, the running mean at 0 and
 * the running variance at 1.
 *
 * Statistics are summed in double, per channel, over examples and then
 * positions in order; threads split the channels, never a sum, so the result
 * does not depend on the thread count.
 *
 * Synchronized over the replicas of a data-parallel run
 * (descent_net_set_batch_norm_sync, l->sync), a pass runs in two phases
 * around one call of the network's sum: each replica's per-channel sums,
 * then, with the totals, the normalization (forward) or the input gradient
 * (backward). The unsynchronized pass keeps its single phase, and its bits.
 */
#include "layer.h"

#include "core/multiversion.h"

#include <math.h>
#include <string.h>

static const spec_param bn_params[] = {
    {"momentum", SPEC_NUMBER, 0.1, 0, 1, 0, 0, 0, "update factor of the running statistics"},
    {"eps", SPEC_NUMBER, 1e-5, 0, 1, 1, 0, 0, "added to the variance"},
};

/* Channels per parallel block: whole rows of a flat input, single channels
   when each holds many positions. */
#define BN_BLOCK 64

/* A batch-norm layer's configuration. */
typedef struct bn_config {
  double momentum; /* update factor of the running statistics */
  double eps;      /* added to the variance */
} bn_config;

static const bn_config *bn_of(const layer *l) {
  return l->config;
}

static int bn_synced(const layer *l) {
  return l->sync && l->sync->sum;
}

static int bn_configure(layer *l, const spec_call *call) {
  double v[2];
  int rc = spec_bind(call, bn_params, 2, v, NULL, "model spec");
  if (rc) return rc;
  bn_config *c = l->config;
  c->momentum = v[0];
  c->eps = v[1];
  return DESCENT_OK;
}

static void bn_dims(const layer *l, size_t *c, size_t *s) {
  *c = l->in.dims[0];
  *s = l->in_size / *c;
}

static size_t bn_block(size_t s) {
  return s >= BN_BLOCK ? 1 : BN_BLOCK / s;
}

static int bn_setup(layer *l) {
  size_t c, s;
  bn_dims(l, &c, &s);
  l->out = l->in;
  l->out_size = l->in_size;
  l->n_params = 2 * c;
  l->n_buffers = 2 * c;
  /* The batch's mean and 1/std, then a synchronized pass's sums (up to
     4C), its total count and its tangent's means (2C). */
  l->scratch_bytes = (8 * c + 1) * sizeof(double);
  return DESCENT_OK;
}

static int bn_tensors(const layer *l, descent_tensor_info *t) {
  size_t c = l->in.dims[0];
  snprintf(t[0].name, sizeof t[0].name, "%s.weight", l->name);
  snprintf(t[1].name, sizeof t[1].name, "%s.bias", l->name);
  for (int i = 0; i < 2; i++) {
    t[i].offset = (size_t)i * c;
    t[i].size = c;
    t[i].shape = (descent_shape){1, {c}};
  }
  return 2;
}

static int bn_buffer_tensors(const layer *l, descent_tensor_info *t) {
  size_t c = l->in.dims[0];
  snprintf(t[0].name, sizeof t[0].name, "%s.running_mean", l->name);
  snprintf(t[1].name, sizeof t[1].name, "%s.running_var", l->name);
  for (int i = 0; i < 2; i++) {
    t[i].offset = (size_t)i * c;
    t[i].size = c;
    t[i].shape = (descent_shape){1, {c}};
  }
  return 2;
}

static void bn_init(layer *l, descent_real *params, const layer *next, descent_rng *rng) {
  size_t c = l->in.dims[0];
  for (size_t i = 0; i < c; i++) {
    params[i] = 1, params[c + i] = 0;
    l->buffers[i] = 0, l->buffers[c + i] = 1;
  }
}

/* Synchronized, the totals must hold two values per channel, which the
   forward checks once it has them. */
static int bn_check_batch(const layer *l, size_t n, int train) {
  size_t c, s;
  bn_dims(l, &c, &s);
  if (train && n * s < 2 && !bn_synced(l))
    return descent_fail(DESCENT_ESHAPE,
                        "%s: training needs more than one value per channel; got a batch of "
                        "%zu example(s) of %zu value(s) per channel (use a larger batch)",
                        l->name, n, s);
  return DESCENT_OK;
}

/* y = gamma (x - mean) / std + beta on channels [c0, c1), with the mean and
   1/std in scratch. */
static MULTIVERSION_BODY void bn_normalize_block_body(layer *l, const descent_real *params,
                                                      const descent_real *x, descent_real *y,
                                                      size_t n, size_t c0, size_t c1) {
  size_t C, S;
  bn_dims(l, &C, &S);
  const descent_real *gamma = params, *beta = params + C;
  const double *mean = l->scratch, *inv_std = mean + C;
  for (size_t e = 0; e < n; e++)
    for (size_t c = c0; c < c1; c++) {
      const descent_real *v = x + (e * C + c) * S;
      descent_real *out = y + (e * C + c) * S;
      descent_real scale = (descent_real)(gamma[c] * inv_std[c]);
      descent_real shift = (descent_real)(beta[c] - mean[c] * gamma[c] * inv_std[c]);
      for (size_t s = 0; s < S; s++) out[s] = v[s] * scale + shift;
    }
}

/* Channels [c0, c1) of the forward pass: their statistics (in training) and
   their outputs. Compiled once per instruction-set path
   (core/multiversion.h): the sums run in order on every path, the
   normalization at the path's width. */
static MULTIVERSION_BODY void bn_forward_block_body(layer *l, const descent_real *params,
                                                    const descent_real *x, descent_real *y,
                                                    size_t n, int train, size_t c0, size_t c1) {
  size_t C, S;
  bn_dims(l, &C, &S);
  descent_real *run_mean = l->buffers, *run_var = l->buffers + C;
  double *mean = l->scratch, *inv_std = mean + C;
  double count = (double)(n * S), eps = bn_of(l)->eps;
  if (train) {
    double sum[BN_BLOCK] = {0}, sq[BN_BLOCK] = {0};
    for (size_t e = 0; e < n; e++)
      for (size_t c = c0; c < c1; c++) {
        const descent_real *v = x + (e * C + c) * S;
        for (size_t s = 0; s < S; s++) sum[c - c0] += v[s];
      }
    for (size_t c = c0; c < c1; c++) mean[c] = sum[c - c0] / count;
    for (size_t e = 0; e < n; e++)
      for (size_t c = c0; c < c1; c++) {
        const descent_real *v = x + (e * C + c) * S;
        for (size_t s = 0; s < S; s++) {
          double d = v[s] - mean[c];
          sq[c - c0] += d * d;
        }
      }
    for (size_t c = c0; c < c1; c++) {
      double var = sq[c - c0] / count, m = bn_of(l)->momentum;
      inv_std[c] = 1.0 / sqrt(var + eps);
      run_mean[c] = (descent_real)((1 - m) * run_mean[c] + m * mean[c]);
      run_var[c] = (descent_real)((1 - m) * run_var[c] + m * var * count / (count - 1));
    }
  } else {
    for (size_t c = c0; c < c1; c++) {
      mean[c] = run_mean[c];
      inv_std[c] = 1.0 / sqrt((double)run_var[c] + eps);
    }
  }
  bn_normalize_block_body(l, params, x, y, n, c0, c1);
}
/* clang-format off */
MULTIVERSION_VOID(bn_forward_block,
                  (layer *l, const descent_real *params, const descent_real *x, descent_real *y,
                   size_t n, int train, size_t c0, size_t c1),
                  (l, params, x, y, n, train, c0, c1))
/* clang-format on */

/* The gradients of gamma and beta on channels [c0, c1), their sums also
   left in dgamma[c - c0] and dbeta[c - c0] (zeroed by the caller). */
static MULTIVERSION_BODY void bn_param_grad_body(layer *l, const descent_real *x,
                                                 const descent_real *dy, descent_real *dparams,
                                                 size_t n, size_t c0, size_t c1, double *dbeta,
                                                 double *dgamma) {
  size_t C, S;
  bn_dims(l, &C, &S);
  const double *mean = l->scratch, *inv_std = mean + C;
  for (size_t e = 0; e < n; e++)
    for (size_t c = c0; c < c1; c++) {
      const descent_real *v = x + (e * C + c) * S, *d = dy + (e * C + c) * S;
      for (size_t s = 0; s < S; s++) {
        dbeta[c - c0] += d[s];
        dgamma[c - c0] += d[s] * (v[s] - mean[c]) * inv_std[c];
      }
    }
  for (size_t c = c0; c < c1; c++) {
    dparams[c] = (descent_real)dgamma[c - c0];
    dparams[C + c] = (descent_real)dbeta[c - c0];
  }
}

/* dx on channels [c0, c1) given the sums dbeta = sum dy and dgamma =
   sum dy xhat over count values (dbeta[c - c0], dgamma[c - c0]). */
static MULTIVERSION_BODY void bn_input_grad_body(layer *l, const descent_real *params,
                                                 const descent_real *x, const descent_real *dy,
                                                 descent_real *dx, size_t n, size_t c0, size_t c1,
                                                 double count, const double *dbeta,
                                                 const double *dgamma) {
  size_t C, S;
  bn_dims(l, &C, &S);
  const descent_real *gamma = params;
  const double *mean = l->scratch, *inv_std = mean + C;
  for (size_t e = 0; e < n; e++)
    for (size_t c = c0; c < c1; c++) {
      const descent_real *v = x + (e * C + c) * S, *d = dy + (e * C + c) * S;
      descent_real *out = dx + (e * C + c) * S;
      double k = gamma[c] * inv_std[c] / count;
      for (size_t s = 0; s < S; s++) {
        double xhat = (v[s] - mean[c]) * inv_std[c];
        out[s] = (descent_real)(k * (count * d[s] - dbeta[c - c0] - xhat * dgamma[c - c0]));
      }
    }
}

/* Channels [c0, c1) of the backward pass, compiled per path as the
   forward's. */
static MULTIVERSION_BODY void bn_backward_block_body(layer *l, const descent_real *params,
                                                     const descent_real *x, const descent_real *dy,
                                                     descent_real *dx, descent_real *dparams,
                                                     size_t n, size_t c0, size_t c1) {
  size_t C, S;
  bn_dims(l, &C, &S);
  double count = (double)(n * S);
  double dbeta[BN_BLOCK] = {0}, dgamma[BN_BLOCK] = {0};
  bn_param_grad_body(l, x, dy, dparams, n, c0, c1, dbeta, dgamma);
  if (!dx) return;
  bn_input_grad_body(l, params, x, dy, dx, n, c0, c1, count, dbeta, dgamma);
}
/* clang-format off */
MULTIVERSION_VOID(bn_backward_block,
                  (layer *l, const descent_real *params, const descent_real *x,
                   const descent_real *dy, descent_real *dx, descent_real *dparams, size_t n,
                   size_t c0, size_t c1),
                  (l, params, x, dy, dx, dparams, n, c0, c1))
/* clang-format on */

/* The synchronized passes. A replica's sums and, after the network's sum,
   the replicas' totals live in scratch after the mean and 1/std (4C
   values): forward [count, sum x (C), sum x^2 (C)], backward [n sum dy (C),
   n sum dy xhat (C)], the products' below; then the forward's total count,
   which the later passes reuse, and the tangent's means (2C) that the jvp
   leaves for the R-operator. */
static double *bn_sums(const layer *l) {
  return (double *)l->scratch + 2 * l->in.dims[0];
}

static double *bn_total_count(const layer *l) {
  return bn_sums(l) + 4 * l->in.dims[0];
}

static double *bn_tangent_means(const layer *l) {
  return bn_total_count(l) + 1;
}

/* values[0, n) summed over the replicas. A failure is kept in l->sync for
   the network to return, and no later pass of the evaluation calls the sum
   again. */
static int bn_sum(layer *l, double *values, size_t n) {
  layer_sync *sync = l->sync;
  if (sync->status) return sync->status;
  int rc = sync->sum(sync->user, values, n);
  if (rc > 0)
    rc = descent_fail(DESCENT_EINVAL, "the sum returned %d; it must return 0 or a negative status",
                      rc);
  if (rc) descent_error_prefix("%s: batch-norm sync: ", l->name);
  sync->status = rc;
  return rc;
}

/* Channels [c0, c1)'s sums of x and of x^2, over examples and then
   positions in order. */
static MULTIVERSION_BODY void bn_moments_block_body(layer *l, const descent_real *x, size_t n,
                                                    size_t c0, size_t c1) {
  size_t C, S;
  bn_dims(l, &C, &S);
  double *sum = bn_sums(l) + 1, *sq = sum + C;
  for (size_t c = c0; c < c1; c++) sum[c] = 0, sq[c] = 0;
  for (size_t e = 0; e < n; e++)
    for (size_t c = c0; c < c1; c++) {
      const descent_real *v = x + (e * C + c) * S;
      double a = sum[c], b = sq[c]; /* in registers: sum and sq may alias */
      for (size_t s = 0; s < S; s++) {
        double value = v[s];
        a += value;
        b += value * value;
      }
      sum[c] = a, sq[c] = b;
    }
}
/* clang-format off */
MULTIVERSION_VOID(bn_moments_block,
                  (layer *l, const descent_real *x, size_t n, size_t c0, size_t c1),
                  (l, x, n, c0, c1))
MULTIVERSION_VOID(bn_normalize_block,
                  (layer *l, const descent_real *params, const descent_real *x, descent_real *y,
                   size_t n, size_t c0, size_t c1),
                  (l, params, x, y, n, c0, c1))
/* clang-format on */

/* The mean, 1/std and running statistics from the replicas' totals. */
static int bn_synced_statistics(layer *l) {
  size_t C = l->in.dims[0];
  const double *sums = bn_sums(l), *sum = sums + 1, *sq = sum + C;
  double count = sums[0], eps = bn_of(l)->eps, m = bn_of(l)->momentum;
  if (!(count >= 2))
    return l->sync->status = descent_fail(
               DESCENT_ESHAPE,
               "%s: training needs more than one value per channel; the replicas' batches hold "
               "%.0f in all (use larger batches)",
               l->name, count);
  descent_real *run_mean = l->buffers, *run_var = l->buffers + C;
  double *mean = l->scratch, *inv_std = mean + C;
  for (size_t c = 0; c < C; c++) {
    mean[c] = sum[c] / count;
    double var = sq[c] / count - mean[c] * mean[c];
    if (var < 0) var = 0; /* rounding, for a channel that barely varies */
    inv_std[c] = 1.0 / sqrt(var + eps);
    run_mean[c] = (descent_real)((1 - m) * run_mean[c] + m * mean[c]);
    run_var[c] = (descent_real)((1 - m) * run_var[c] + m * var * count / (count - 1));
  }
  *bn_total_count(l) = count;
  return DESCENT_OK;
}

static void bn_forward_synced(layer *l, const descent_real *params, const descent_real *x,
                              descent_real *y, size_t n) {
  size_t C, S;
  bn_dims(l, &C, &S);
  size_t cb = bn_block(S), blocks = (C + cb - 1) / cb;
#pragma omp parallel for schedule(static) if (n * C * S > LAYER_PARALLEL_MIN)
  for (size_t b = 0; b < blocks; b++) {
    size_t c0 = b * cb, c1 = c0 + cb < C ? c0 + cb : C;
    bn_moments_block(l, x, n, c0, c1);
  }
  double *sums = bn_sums(l);
  sums[0] = (double)(n * S);
  if (bn_sum(l, sums, 1 + 2 * C) || bn_synced_statistics(l)) return;
#pragma omp parallel for schedule(static) if (n * C * S > LAYER_PARALLEL_MIN)
  for (size_t b = 0; b < blocks; b++) {
    size_t c0 = b * cb, c1 = c0 + cb < C ? c0 + cb : C;
    bn_normalize_block(l, params, x, y, n, c0, c1);
  }
}

/* Channels [c0, c1)'s own gamma and beta gradients, and their sums times
   the replica's n examples for the network's sum. */
static MULTIVERSION_BODY void bn_backward_sums_block_body(layer *l, const descent_real *x,
                                                          const descent_real *dy,
                                                          descent_real *dparams, size_t n,
                                                          size_t c0, size_t c1) {
  size_t C = l->in.dims[0];
  double dbeta[BN_BLOCK] = {0}, dgamma[BN_BLOCK] = {0};
  bn_param_grad_body(l, x, dy, dparams, n, c0, c1, dbeta, dgamma);
  double *sums = bn_sums(l);
  for (size_t c = c0; c < c1; c++) {
    sums[c] = dbeta[c - c0] * (double)n;
    sums[C + c] = dgamma[c - c0] * (double)n;
  }
}

/* dx on channels [c0, c1) from the totals (already divided by n). */
static MULTIVERSION_BODY void bn_synced_input_grad_block_body(layer *l, const descent_real *params,
                                                              const descent_real *x,
                                                              const descent_real *dy,
                                                              descent_real *dx, size_t n, size_t c0,
                                                              size_t c1) {
  size_t C = l->in.dims[0];
  const double *sums = bn_sums(l);
  bn_input_grad_body(l, params, x, dy, dx, n, c0, c1, *bn_total_count(l), sums + c0, sums + C + c0);
}
/* clang-format off */
MULTIVERSION_VOID(bn_backward_sums_block,
                  (layer *l, const descent_real *x, const descent_real *dy,
                   descent_real *dparams, size_t n, size_t c0, size_t c1),
                  (l, x, dy, dparams, n, c0, c1))
MULTIVERSION_VOID(bn_synced_input_grad_block,
                  (layer *l, const descent_real *params, const descent_real *x,
                   const descent_real *dy, descent_real *dx, size_t n, size_t c0, size_t c1),
                  (l, params, x, dy, dx, n, c0, c1))
/* clang-format on */

/* The totals of n sum dy and n sum dy xhat are the replicas' sums of their
   per-example loss gradients (each replica's loss is the mean over its own
   n examples); divided by this replica's n they are at the scale of its dy,
   which makes sum_k (n_k / N) g_k the global batch's gradient. */
static void bn_backward_synced(layer *l, const descent_real *params, const descent_real *x,
                               const descent_real *dy, descent_real *dx, descent_real *dparams,
                               size_t n) {
  size_t C, S;
  bn_dims(l, &C, &S);
  size_t cb = bn_block(S), blocks = (C + cb - 1) / cb;
#pragma omp parallel for schedule(static) if (n * C * S > LAYER_PARALLEL_MIN)
  for (size_t b = 0; b < blocks; b++) {
    size_t c0 = b * cb, c1 = c0 + cb < C ? c0 + cb : C;
    bn_backward_sums_block(l, x, dy, dparams, n, c0, c1);
  }
  double *sums = bn_sums(l);
  if (bn_sum(l, sums, 2 * C)) return;
  for (size_t i = 0; i < 2 * C; i++) sums[i] /= (double)n;
  if (!dx) return;
#pragma omp parallel for schedule(static) if (n * C * S > LAYER_PARALLEL_MIN)
  for (size_t b = 0; b < blocks; b++) {
    size_t c0 = b * cb, c1 = c0 + cb < C ? c0 + cb : C;
    bn_synced_input_grad_block(l, params, x, dy, dx, n, c0, c1);
  }
}

static void bn_forward(layer *l, const descent_real *params, const descent_real *x, descent_real *y,
                       size_t n, int train) {
  if (train && bn_synced(l)) {
    bn_forward_synced(l, params, x, y, n);
    return;
  }
  size_t C, S;
  bn_dims(l, &C, &S);
  size_t cb = bn_block(S), blocks = (C + cb - 1) / cb;
#pragma omp parallel for schedule(static) if (n * C * S > LAYER_PARALLEL_MIN)
  for (size_t b = 0; b < blocks; b++) {
    size_t c0 = b * cb, c1 = c0 + cb < C ? c0 + cb : C;
    bn_forward_block(l, params, x, y, n, train, c0, c1);
  }
}

/* Backward of the training-mode forward, with xhat = (x - mean) / std:
   dbeta = sum dy, dgamma = sum dy xhat,
   dx = gamma / std / N (N dy - dbeta - xhat dgamma). */
static void bn_backward(layer *l, const descent_real *params, const descent_real *x,
                        const descent_real *y, const descent_real *dy, descent_real *dx,
                        descent_real *dparams, size_t n) {
  if (bn_synced(l)) {
    bn_backward_synced(l, params, x, dy, dx, dparams, n);
    return;
  }
  size_t C, S;
  bn_dims(l, &C, &S);
  size_t cb = bn_block(S), blocks = (C + cb - 1) / cb;
#pragma omp parallel for schedule(static) if (n * C * S > LAYER_PARALLEL_MIN)
  for (size_t b = 0; b < blocks; b++) {
    size_t c0 = b * cb, c1 = c0 + cb < C ? c0 + cb : C;
    bn_backward_block(l, params, x, dy, dx, dparams, n, c0, c1);
  }
}

/* Directional derivatives (network_curvature.c) of the training-mode pass,
   the mode of the objective: the batch statistics move with the input.
   With s = 1/std, R{xhat} = s (rx - mean(rx) - xhat mean(xhat rx)),
   R{s} = -s^2 mean(xhat rx), per channel; ry = vgamma xhat + gamma R{xhat}
   + vbeta. The mean and 1/std are the forward's, in scratch. Plain loops
   in double: the products are for analysis, not for speed. */
typedef struct bn_channel {
  double mean, s;        /* the batch's mean and 1/std */
  double rmean, xr_mean; /* mean(rx), mean(xhat rx) */
} bn_channel;

static bn_channel bn_channel_of(const layer *l, const descent_real *x, const descent_real *rx,
                                size_t n, size_t c) {
  size_t C, S;
  bn_dims(l, &C, &S);
  const double *mean = l->scratch, *inv_std = mean + C;
  bn_channel ch = {mean[c], inv_std[c], 0, 0};
  if (bn_synced(l)) { /* the replicas' means, from the jvp */
    const double *t = bn_tangent_means(l);
    ch.rmean = t[c], ch.xr_mean = t[C + c];
    return ch;
  }
  if (!rx) return ch;
  for (size_t e = 0; e < n; e++)
    for (size_t s = 0; s < S; s++) {
      size_t at = (e * C + c) * S + s;
      ch.rmean += rx[at];
      ch.xr_mean += (x[at] - ch.mean) * ch.s * rx[at];
    }
  ch.rmean /= (double)(n * S);
  ch.xr_mean /= (double)(n * S);
  return ch;
}

static double bn_rxhat(const bn_channel *ch, double xhat, const descent_real *rx, size_t at) {
  return rx ? ch->s * (rx[at] - ch->rmean - xhat * ch->xr_mean) : 0;
}

/* Synchronized: mean(rx) and mean(xhat rx) over all replicas' values, kept
   in scratch for bn_channel_of. A tangent is no loss gradient: the plain
   sums are summed. */
static int bn_sync_tangent_means(layer *l, const descent_real *x, const descent_real *rx,
                                 size_t n) {
  size_t C, S;
  bn_dims(l, &C, &S);
  const double *mean = l->scratch, *inv_std = mean + C;
  double *sums = bn_sums(l), *t = bn_tangent_means(l);
  for (size_t c = 0; c < C; c++) {
    double r = 0, xr = 0;
    for (size_t e = 0; rx && e < n; e++)
      for (size_t s = 0; s < S; s++) {
        size_t at = (e * C + c) * S + s;
        r += rx[at];
        xr += (x[at] - mean[c]) * inv_std[c] * rx[at];
      }
    sums[c] = r, sums[C + c] = xr;
  }
  int rc = bn_sum(l, sums, 2 * C);
  if (rc) return rc;
  double count = *bn_total_count(l);
  for (size_t c = 0; c < 2 * C; c++) t[c] = sums[c] / count;
  return DESCENT_OK;
}

static void bn_jvp(layer *l, const descent_real *params, const descent_real *vparams,
                   const descent_real *x, const descent_real *rx, const descent_real *y,
                   descent_real *ry, size_t n) {
  size_t C, S;
  bn_dims(l, &C, &S);
  if (bn_synced(l) && bn_sync_tangent_means(l, x, rx, n)) return;
  for (size_t c = 0; c < C; c++) {
    bn_channel ch = bn_channel_of(l, x, rx, n, c);
    for (size_t e = 0; e < n; e++)
      for (size_t s = 0; s < S; s++) {
        size_t at = (e * C + c) * S + s;
        double xhat = (x[at] - ch.mean) * ch.s;
        ry[at] = (descent_real)(vparams[c] * xhat + params[c] * bn_rxhat(&ch, xhat, rx, at) +
                                vparams[C + c]);
      }
  }
}

/* The R-operator of bn_backward: with dbeta = sum dy, dgamma = sum dy xhat
   and dx = gamma s / N (N dy - dbeta - xhat dgamma),
   R{dbeta} = sum rdy, R{dgamma} = sum rdy xhat + dy R{xhat},
   R{dx} = (vgamma s + gamma R{s}) / N (N dy - dbeta - xhat dgamma)
         + gamma s / N (N rdy - R{dbeta} - R{xhat} dgamma - xhat R{dgamma}). */
/* The sums of the R-operator's backward over channel c: db = sum dy,
   dg = sum dy xhat, rdb = sum rdy, rdg = sum rdy xhat + dy R{xhat}. */
typedef struct bn_rsums {
  double db, dg, rdb, rdg;
} bn_rsums;

static bn_rsums bn_rsums_of(const layer *l, const bn_channel *ch, const descent_real *x,
                            const descent_real *rx, const descent_real *dy, const descent_real *rdy,
                            size_t n, size_t c) {
  size_t C, S;
  bn_dims(l, &C, &S);
  bn_rsums r = {0, 0, 0, 0};
  for (size_t e = 0; e < n; e++)
    for (size_t s = 0; s < S; s++) {
      size_t at = (e * C + c) * S + s;
      double xhat = (x[at] - ch->mean) * ch->s;
      r.db += dy[at];
      r.dg += dy[at] * xhat;
      r.rdb += rdy[at];
      r.rdg += rdy[at] * xhat + dy[at] * bn_rxhat(ch, xhat, rx, at);
    }
  return r;
}

/* R{dx} on channel c from the sums r over count values. */
static void bn_rdx_channel(const layer *l, const descent_real *params, const descent_real *vparams,
                           const descent_real *x, const descent_real *rx, const descent_real *dy,
                           const descent_real *rdy, descent_real *rdx, size_t n, size_t c,
                           const bn_channel *ch, const bn_rsums *r, double count) {
  size_t C, S;
  bn_dims(l, &C, &S);
  double gamma = params[c], rs = -ch->s * ch->s * ch->xr_mean;
  double k = gamma * ch->s / count, rk = (vparams[c] * ch->s + gamma * rs) / count;
  for (size_t e = 0; e < n; e++)
    for (size_t s = 0; s < S; s++) {
      size_t at = (e * C + c) * S + s;
      double xhat = (x[at] - ch->mean) * ch->s, rxhat = bn_rxhat(ch, xhat, rx, at);
      rdx[at] = (descent_real)(rk * (count * dy[at] - r->db - xhat * r->dg) +
                               k * (count * rdy[at] - r->rdb - rxhat * r->dg - xhat * r->rdg));
    }
}

/* Synchronized: the four sums of every channel, times the replica's n
   examples as the backward's (dy and rdy carry its 1/n), summed over the
   replicas, then R{dx} from the totals over the total count. */
static void bn_rbackward_synced(layer *l, const descent_real *params, const descent_real *vparams,
                                const descent_real *x, const descent_real *rx,
                                const descent_real *dy, const descent_real *rdy, descent_real *rdx,
                                descent_real *rdparams, size_t n) {
  size_t C = l->in.dims[0];
  double *sums = bn_sums(l);
  for (size_t c = 0; c < C; c++) {
    bn_channel ch = bn_channel_of(l, x, rx, n, c);
    bn_rsums r = bn_rsums_of(l, &ch, x, rx, dy, rdy, n, c);
    rdparams[c] = (descent_real)r.rdg;
    rdparams[C + c] = (descent_real)r.rdb;
    sums[c] = r.db * (double)n, sums[C + c] = r.dg * (double)n;
    sums[2 * C + c] = r.rdb * (double)n, sums[3 * C + c] = r.rdg * (double)n;
  }
  if (bn_sum(l, sums, 4 * C) || !rdx) return;
  for (size_t c = 0; c < C; c++) {
    bn_channel ch = bn_channel_of(l, x, rx, n, c);
    bn_rsums r = {sums[c] / (double)n, sums[C + c] / (double)n, sums[2 * C + c] / (double)n,
                  sums[3 * C + c] / (double)n};
    bn_rdx_channel(l, params, vparams, x, rx, dy, rdy, rdx, n, c, &ch, &r, *bn_total_count(l));
  }
}

static void bn_rbackward(layer *l, const descent_real *params, const descent_real *vparams,
                         const descent_real *x, const descent_real *rx, const descent_real *y,
                         const descent_real *ry, const descent_real *dy, const descent_real *rdy,
                         descent_real *rdx, descent_real *rdparams, size_t n) {
  if (bn_synced(l)) {
    bn_rbackward_synced(l, params, vparams, x, rx, dy, rdy, rdx, rdparams, n);
    return;
  }
  size_t C, S;
  bn_dims(l, &C, &S);
  double count = (double)(n * S);
  for (size_t c = 0; c < C; c++) {
    bn_channel ch = bn_channel_of(l, x, rx, n, c);
    bn_rsums r = bn_rsums_of(l, &ch, x, rx, dy, rdy, n, c);
    rdparams[c] = (descent_real)r.rdg;
    rdparams[C + c] = (descent_real)r.rdb;
    if (rdx) bn_rdx_channel(l, params, vparams, x, rx, dy, rdy, rdx, n, c, &ch, &r, count);
  }
}

/* Example e's terms of the training-mode sums dgamma = sum dy xhat and
   dbeta = sum dy, over its own positions: what BackPACK's BatchGrad calls
   its gradient. They add up to the batch gradient, but each depends on the
   whole batch through the mean and 1/std (the forward's, in scratch), so
   it is not the gradient of example e's loss alone. */
static void bn_add_example_grads(layer *l, const descent_real *params, const descent_real *x,
                                 const descent_real *dy, const descent_real *vparams, double *sq,
                                 double *dot, size_t n, descent_real *scratch) {
  (void)params, (void)scratch;
  size_t C, S;
  bn_dims(l, &C, &S);
  const double *mean = l->scratch, *inv_std = mean + C;
  for (size_t e = 0; e < n; e++)
    for (size_t c = 0; c < C; c++) {
      const descent_real *v = x + (e * C + c) * S, *d = dy + (e * C + c) * S;
      double dbeta = 0, dgamma = 0;
      for (size_t s = 0; s < S; s++) {
        dbeta += d[s];
        dgamma += d[s] * (v[s] - mean[c]) * inv_std[c];
      }
      sq[e] += dgamma * dgamma + dbeta * dbeta;
      if (vparams) dot[e] += dgamma * vparams[c] + dbeta * vparams[C + c];
    }
}

const layer_ops layer_batchnorm = {
    .name = "batchnorm",
    .usage = "batchnorm([momentum=0.1][, eps=1e-5])",
    .config_size = sizeof(bn_config),
    .configure = bn_configure,
    .setup = bn_setup,
    .tensors = bn_tensors,
    .init = bn_init,
    .forward = bn_forward,
    .backward = bn_backward,
    .buffer_tensors = bn_buffer_tensors,
    .check_batch = bn_check_batch,
    .jvp = bn_jvp,
    .rbackward = bn_rbackward,
    .add_example_grads = bn_add_example_grads,
};
