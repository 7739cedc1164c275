/*
 * network_diagonal.c - the diagonal of a network's generalized Gauss-Newton
 * matrix, exact or estimated by Monte Carlo (the curvature LeCun et al.
 * 1998 scale their diagonal Levenberg-Marquardt steps by).
 *
 * G = sum_i J_i^T H_i J_i over the examples, with H_i the loss's Hessian
 * with respect to example i's output. Written as a sum of outer products,
 * H_i = sum_c s_ic s_ic^T, the diagonal is sum_i sum_c (J_i^T s_ic)^2: the
 * squares of per-example gradients, one backward pass per c.
 *  - Exact: cross-entropy's (diag(p) - p p^T) / n = sum_c p_c (e_c - p)
 *    (e_c - p)^T / n, so s_ic = sqrt(p_c / n) (e_c - p_i), one pass per
 *    class; MSE's I / n has s_ic = e_c / sqrt(n).
 *  - Monte Carlo: H_i = E[s s^T] / n for s = p_i - e_y with a label y drawn
 *    from the model's own distribution p_i (cross-entropy), or s ~ N(0, I)
 *    (MSE): `samples` passes averaged, an unbiased estimate whose error
 *    falls as 1 / sqrt(samples). (Squared gradients of the true labels
 *    would be the empirical Fisher, a different matrix.)
 * Per-example squares need each parameterized layer's add_squared_grads
 * (dense and conv have it); layers that mix examples (batch norm in training) have
 * parameters and no such function, so they are refused.
 */
#include "network_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int net_check_diagonal(const descent_net *net) {
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    if (l->n_params && !l->ops->add_squared_grads)
      return descent_fail(DESCENT_ENOTSUP,
                          "Gauss-Newton diagonal: layer %s (%s) has parameters and no "
                          "per-example squared gradients; the diagonal exists for networks whose "
                          "parameters are all in dense and conv layers (use ggnvp products "
                          "otherwise)",
                          l->name, l->ops->name);
  }
  return DESCENT_OK;
}

/* Softmax of each of the n rows of z into p. */
static void softmax_rows(const descent_real *z, size_t n, size_t k, descent_real *p) {
  for (size_t i = 0; i < n; i++) {
    const descent_real *row = z + i * k;
    double max = net_row_max(row, k), sum = 0;
    for (size_t j = 0; j < k; j++) sum += exp(row[j] - max);
    for (size_t j = 0; j < k; j++) p[i * k + j] = (descent_real)(exp(row[j] - max) / sum);
  }
}

/* The vectors s of one pass (n x k): exact column c, or one sample. */
static void pass_vectors(descent_loss_kind loss, const descent_real *p, size_t n, size_t k,
                         size_t c, descent_rng *rng, descent_real *s) {
  double root = sqrt(1.0 / (double)n);
  for (size_t i = 0; i < n; i++) {
    const descent_real *pi = p + i * k;
    descent_real *si = s + i * k;
    if (loss == DESCENT_LOSS_MSE) {
      for (size_t j = 0; j < k; j++)
        si[j] = (descent_real)(rng ? root * descent_rng_normal(rng) : root * (j == c));
      continue;
    }
    size_t y = c;
    double weight = root;
    if (rng) { /* a label drawn from the model's distribution */
      double u = descent_rng_uniform(rng), cum = 0;
      for (y = 0; y + 1 < k; y++)
        if ((cum += pi[y]) > u) break;
    } else {
      weight = sqrt(pi[c] / (double)n);
    }
    for (size_t j = 0; j < k; j++) si[j] = (descent_real)(weight * ((j == y) - (double)pi[j]));
  }
}

static int diagonal(descent_net *net, const descent_batch *batch, size_t samples, uint64_t seed,
                    descent_real *out) {
  int rc = net_check_diagonal(net);
  if (!rc) rc = net_curvature_memory(net, 1);
  descent_rng after;
  if (!rc) rc = net_replay_begin(net, batch, &after, "Gauss-Newton diagonal");
  if (rc) return rc;
  struct net_curvature *c = net->curvature;
  size_t n = batch->n, last = net->n_layers - 1, k = net->layers[last].out_size;
  descent_real *p = c->tangents[last];
  softmax_rows(net->acts[last], n, k, p);
  memset(out, 0, net->objective.n_params * sizeof *out);
  size_t scratch_reals = 0;
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    size_t need = n * (l->in_size + l->out_size);
    if (l->n_params && need > scratch_reals) scratch_reals = need;
  }
  descent_real *scratch = malloc(scratch_reals * sizeof *scratch);
  if (!scratch) {
    net_replay_end(net, &after);
    return descent_fail(DESCENT_ENOMEM, "Gauss-Newton diagonal: out of memory (%zu values)",
                        scratch_reals);
  }
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  size_t passes = samples ? samples : k;
  for (size_t pass = 0; pass < passes; pass++) {
    descent_real *dy = c->rgrad_a, *dx = c->rgrad_b;
    pass_vectors(net->loss, p, n, k, pass, samples ? &rng : NULL, dy);
    for (size_t i = last + 1; i-- > 0;) {
      layer *l = &net->layers[i];
      const descent_real *x = i ? net->acts[i - 1] : batch->x;
      if (l->n_params) l->ops->add_squared_grads(l, x, dy, out + l->param_offset, n, scratch);
      if (!i) break;
      l->ops->backward(l, net->objective.params + l->param_offset, x, net->acts[i], dy, dx,
                       c->grad + l->param_offset, n);
      descent_real *t = dy;
      dy = dx, dx = t;
    }
  }
  if (samples)
    for (size_t j = 0; j < net->objective.n_params; j++) out[j] /= (descent_real)samples;
  free(scratch);
  net_replay_end(net, &after);
  return DESCENT_OK;
}

int net_ggn_diagonal(descent_objective *obj, const descent_batch *batch, size_t samples,
                     uint64_t seed, descent_real *out) {
  descent_net *net = obj->impl;
  descent_thread_scope scope = descent_threads_begin(net->threads);
  int rc = diagonal(net, batch, samples, seed, out);
  descent_threads_end(scope);
  return rc;
}

/* Sophia-G's Gauss-Newton-Bartlett estimate (Liu et al. 2023, Algorithm 2):
   with labels y_i drawn from the model's own distribution, g_hat the
   gradient of the batch's mean loss on them, B * g_hat * g_hat. One pass
   of the Monte-Carlo vectors s_i above (s_i = (e_y - p_i) / sqrt(B) for
   cross-entropy, N(0, I) / sqrt(B) for MSE) through the ordinary backward
   pass gives sum_i J_i^T s_i = -sqrt(B) g_hat, whose square is that
   estimate; its mean is sum_i J_i^T E[s_i s_i^T] J_i = G, since the s_i are
   independent with mean 0. Only the backward pass is needed, so every
   layer kind takes part (batch norm included). */
static int gnb_diagonal(descent_net *net, const descent_batch *batch, uint64_t seed,
                        descent_real *out) {
  int rc = net_curvature_memory(net, 1);
  descent_rng after;
  if (!rc) rc = net_replay_begin(net, batch, &after, "Gauss-Newton-Bartlett estimate");
  if (rc) return rc;
  struct net_curvature *c = net->curvature;
  size_t n = batch->n, last = net->n_layers - 1, k = net->layers[last].out_size;
  descent_real *p = c->tangents[last];
  softmax_rows(net->acts[last], n, k, p);
  memset(out, 0, net->objective.n_params * sizeof *out);
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  descent_real *dy = c->rgrad_a, *dx = c->rgrad_b;
  pass_vectors(net->loss, p, n, k, 0, &rng, dy);
  for (size_t i = last + 1; i-- > 0;) {
    layer *l = &net->layers[i];
    const descent_real *x = i ? net->acts[i - 1] : batch->x;
    l->ops->backward(l, net->objective.params + l->param_offset, x, net->acts[i], dy, i ? dx : NULL,
                     out + l->param_offset, n);
    if (net->sync.status) {
      rc = net->sync.status;
      break;
    }
    descent_real *t = dy;
    dy = dx, dx = t;
  }
  for (size_t j = 0; j < net->objective.n_params; j++)
    out[j] = (descent_real)((double)out[j] * (double)out[j]);
  net_replay_end(net, &after);
  return rc;
}

int net_gnb_diagonal(descent_objective *obj, const descent_batch *batch, uint64_t seed,
                     descent_real *out) {
  descent_net *net = obj->impl;
  descent_thread_scope scope = descent_threads_begin(net->threads);
  int rc = gnb_diagonal(net, batch, seed, out);
  descent_threads_end(scope);
  return rc;
}
