/*
 * network_kfac.c - the statistics K-FAC (Martens & Grosse 2015) gathers from
 * a network: for each dense layer, the sums of the outer products of its
 * inputs a and of the per-example gradients delta of the loss with respect
 * to its outputs, from one backward pass with labels drawn from the
 * model's own distribution (the true Fisher; the batch's labels give the
 * empirical Fisher). A conv layer gives the same sums over its input
 * patches and its outputs at every position (conv_kfac_squares), the
 * statistics of KFC (Grosse & Martens 2016).
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

static int has_factors(const layer *l) {
  return l->ops == &layer_dense || l->ops == &layer_conv;
}

size_t net_kfac_layers(const descent_net *net, net_kfac_layer *layers, size_t cap) {
  size_t count = 0;
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    if (!has_factors(l)) continue;
    if (count < cap) {
      size_t in = l->in_size, out = l->out_size, positions = 1;
      if (l->ops == &layer_conv) conv_kfac_shape(l, &in, &out, &positions);
      layers[count] = (net_kfac_layer){
          .in = in, .out = out, .bias = l->n_params > in * out, .offset = l->param_offset};
    }
    count++;
  }
  return count;
}

/* A dense layer's sums: [X^T X, X^T 1; 1^T X, n] and D^T D. */
static void dense_squares(const layer *l, const descent_real *x, const descent_real *dy, size_t n,
                          descent_real *a_sq, descent_real *g_sq) {
  size_t in = l->in_size, out = l->out_size, in1 = l->n_params > in * out ? in + 1 : in;
  descent_gemm(1, 0, in, in, n, 1, x, in, x, in, 0, a_sq, in1);
  if (in1 > in) {
    for (size_t j = 0; j < in; j++) {
      double sum = 0;
      for (size_t i = 0; i < n; i++) sum += (double)x[i * in + j];
      a_sq[j * in1 + in] = a_sq[in * in1 + j] = (descent_real)sum;
    }
    a_sq[in * in1 + in] = (descent_real)n;
  }
  descent_gemm(1, 0, out, out, n, 1, dy, out, dy, out, 0, g_sq, out);
}

/* A label drawn from the softmax of the scores z (k of them). */
static size_t draw_label(const descent_real *z, size_t k, descent_rng *rng) {
  double max = net_row_max(z, k), sum = 0;
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
    double max = net_row_max(z, k), sum = 0;
    for (size_t j = 0; j < k; j++) sum += exp(z[j] - max);
    for (size_t j = 0; j < k; j++) d[j] = (descent_real)(exp(z[j] - max) / sum - (j == y));
  }
  return DESCENT_OK;
}

static int statistics(descent_net *net, const descent_batch *batch, int empirical, uint64_t seed,
                      descent_real *a_sq, descent_real *g_sq, net_kfac_visit visit, void *user) {
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
    if (l->ops == &layer_dense) {
      dense_squares(l, x, dy, n, a_sq, g_sq);
      visit(user, --k, a_sq, n, g_sq, n);
    } else if (l->ops == &layer_conv) {
      size_t in, out, positions;
      conv_kfac_shape(l, &in, &out, &positions);
      conv_kfac_squares(l, net->objective.params + l->param_offset, x, dy, n, a_sq, g_sq);
      visit(user, --k, a_sq, n * positions, g_sq, n);
    }
    if (!i) break;
    l->ops->backward(l, net->objective.params + l->param_offset, x, net->acts[i], dy, dx,
                     c->grad + l->param_offset, n);
    rc = net->sync.status;
    descent_real *t = dy;
    dy = dx, dx = t;
  }
  net_replay_end(net, &after);
  return rc;
}

int net_kfac_statistics(descent_net *net, const descent_batch *batch, int empirical, uint64_t seed,
                        descent_real *a_sq, descent_real *g_sq, net_kfac_visit visit, void *user) {
  descent_thread_scope scope = descent_threads_begin(net->threads);
  int rc = statistics(net, batch, empirical, seed, a_sq, g_sq, visit, user);
  descent_threads_end(scope);
  return rc;
}
