/*
 * network_kfac.c - the statistics K-FAC (Martens & Grosse 2015) gathers from
 * a network: for each dense layer, its inputs a and the per-example
 * gradients delta of the loss with respect to its outputs, from one
 * backward pass with labels drawn from the model's own distribution (the
 * true Fisher; the batch's labels give the empirical Fisher).
 *
 * The pass replays the step's forward pass (network_curvature.c), so the
 * dropout masks and batch-norm statistics are those of the step's
 * gradient; the drawn labels come from a generator seeded by the caller,
 * not from the network's RNG, so a resumed run draws the same ones and the
 * network's own draws are not moved. The backward starts from example i's
 * own output gradient p_i - e_y (not divided by the batch size), so that
 * delta^T delta / n estimates E[g g^T] of the per-example loss, the factor
 * of the Fisher K-FAC approximates.
 */
#include "network_kfac.h"

#include "loss.h"
#include "network_internal.h"

#include <math.h>

descent_net *net_of_objective(descent_objective *obj) {
  /* The network's objective is the first member of its descent_net and
     points back at it; its ops are the network's own (the same
     re-evaluation). */
  if (!obj || !obj->ops || obj->ops->reevaluate != net_reevaluate || !obj->impl) return NULL;
  descent_net *net = obj->impl;
  return &net->objective == obj ? net : NULL;
}

size_t net_kfac_layers(const descent_net *net, net_kfac_layer *layers, size_t cap) {
  size_t count = 0;
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    if (l->ops != &layer_dense) continue;
    if (count < cap) {
      size_t weights = l->in_size * l->out_size;
      layers[count] = (net_kfac_layer){.in = l->in_size,
                                       .out = l->out_size,
                                       .bias = l->n_params > weights,
                                       .offset = l->param_offset};
    }
    count++;
  }
  return count;
}

/* A label drawn from the softmax of the scores z (k of them). */
static size_t draw_label(const descent_real *z, size_t k, descent_rng *rng) {
  double max = z[0], sum = 0;
  for (size_t j = 1; j < k; j++) max = fmax(max, z[j]);
  for (size_t j = 0; j < k; j++) sum += exp(z[j] - max);
  double u = descent_rng_uniform(rng) * sum, cum = 0;
  size_t y;
  for (y = 0; y + 1 < k; y++)
    if ((cum += exp(z[y] - max)) > u) break;
  return y;
}

/* The per-example output gradients (n x k) into dy: drawn (rng) or from
   the batch's labels or targets. */
static int output_gradients(descent_net *net, const descent_batch *batch, descent_rng *rng,
                            descent_real *dy) {
  size_t n = batch->n, last = net->n_layers - 1, k = net->layers[last].out_size;
  const descent_real *out = net->acts[last];
  if (!rng) {
    double loss;
    int rc = loss_evaluate(net->loss, out, n, k, batch->labels, batch->targets, net->row_loss,
                           &loss, dy, NULL);
    if (rc) return rc;
    /* loss_evaluate's gradient is of the batch mean: example i's own is n
       times it. */
    for (size_t j = 0; j < n * k; j++) dy[j] = (descent_real)((double)dy[j] * (double)n);
    return DESCENT_OK;
  }
  for (size_t i = 0; i < n; i++) {
    const descent_real *z = out + i * k;
    descent_real *d = dy + i * k;
    if (net->loss == DESCENT_LOSS_MSE) {
      for (size_t j = 0; j < k; j++) d[j] = (descent_real)descent_rng_normal(rng);
      continue;
    }
    size_t y = draw_label(z, k, rng);
    double max = z[0], sum = 0;
    for (size_t j = 1; j < k; j++) max = fmax(max, z[j]);
    for (size_t j = 0; j < k; j++) sum += exp(z[j] - max);
    for (size_t j = 0; j < k; j++) d[j] = (descent_real)(exp(z[j] - max) / sum - (j == y));
  }
  return DESCENT_OK;
}

static int statistics(descent_net *net, const descent_batch *batch, int empirical, uint64_t seed,
                      net_kfac_visit visit, void *user) {
  int rc = net_curvature_memory(net, 1);
  descent_rng after;
  if (!rc) rc = net_replay_begin(net, batch, &after, "kfac statistics");
  if (rc) return rc;
  struct net_curvature *c = net->curvature;
  descent_rng draws;
  descent_rng_seed(&draws, seed);
  descent_real *dy = c->rgrad_a, *dx = c->rgrad_b;
  rc = output_gradients(net, batch, empirical ? NULL : &draws, dy);
  size_t n = batch->n, k = net_kfac_layers(net, NULL, 0);
  for (size_t i = net->n_layers; !rc && i-- > 0;) {
    layer *l = &net->layers[i];
    const descent_real *x = i ? net->acts[i - 1] : batch->x;
    if (l->ops == &layer_dense) visit(user, --k, x, dy, n);
    if (!i) break;
    l->ops->backward(l, net->objective.params + l->param_offset, x, net->acts[i], dy, dx,
                     c->grad + l->param_offset, n);
    descent_real *t = dy;
    dy = dx, dx = t;
  }
  net_replay_end(net, &after);
  return rc;
}

int net_kfac_statistics(descent_net *net, const descent_batch *batch, int empirical, uint64_t seed,
                        net_kfac_visit visit, void *user) {
  descent_thread_scope scope = descent_threads_begin(net->threads);
  int rc = statistics(net, batch, empirical, seed, visit, user);
  descent_threads_end(scope);
  return rc;
}
