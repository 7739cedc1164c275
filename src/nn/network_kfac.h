/*
 * network_kfac.h - what K-FAC (src/optim/kfac.c) needs from a network,
 * without reaching into its buffers: the shapes of its dense and conv
 * layers and, for the step's batch, each one's sums of input outer products
 * and of outer products of the per-example gradients of the loss with
 * respect to its outputs, under labels drawn from the model (the Fisher's)
 * or the batch's own (the empirical Fisher's).
 */
#ifndef DESCENT_NETWORK_KFAC_H
#define DESCENT_NETWORK_KFAC_H

#include "internal.h"

/* A layer as K-FAC sees it: y = x W^T + b, W stored {out, in} at offset in
   the flat parameters, the bias (when it has one) right after it, at
   offset + in * out. A conv layer is one too (Grosse & Martens 2016's
   KFC): its weights {out, c, k, k} are out x (c k k), x its input patches,
   one per output position. */
typedef struct net_kfac_layer {
  size_t in, out;
  int bias;
  size_t offset;
} net_kfac_layer;

/* The network behind obj, or NULL when obj is not a network's objective
   (descent_net_objective). */
descent_net *net_of_objective(descent_objective *obj);

/* The dense and conv layers of net, first to last: writes min(count, cap)
   of them to layers (may be NULL when cap is 0) and returns the count. */
size_t net_kfac_layers(const descent_net *net, net_kfac_layer *layers, size_t cap);

/* Called once per layer k (the index among net_kfac_layers), last layer
   first, with a_sq ((in + bias)^2, row-major) the sum of [a 1][a 1]^T over
   the layer's a_rows inputs a (dense: the n examples; conv: the n
   examples' patches at every output position) and g_sq (out x out) the sum
   of d d^T over its outputs' gradients d, g_rows the examples n. d is the
   gradient of example i's own loss, not of the batch mean, so that
   A = a_sq / a_rows and G = g_sq / g_rows are K-FAC's factors (KFC's, for
   a conv layer: its G sums over the positions, |T| of KFC's Gamma). Both
   are valid during the call only. */
typedef void (*net_kfac_visit)(void *user, size_t k, const descent_real *a_sq, size_t a_rows,
                               const descent_real *g_sq, size_t g_rows);

/* Replays the forward pass of the step's last value_and_grad on batch (its
   dropout masks; batch norm on the batch's statistics, its running
   statistics untouched), then runs one backward pass from the per-example
   output gradients p - e_y with, for cross-entropy, y drawn from the
   model's softmax p (empirical = 0; seed seeds the draws, never the
   network's RNG) or the batch's labels (empirical = 1); for MSE, the output
   gradient is a standard normal draw (the Fisher of a unit Gaussian) or
   out - target. visit is called for every layer of net_kfac_layers, the
   sums computed in a_sq and g_sq, the caller's memory for the largest
   layer's ((in + bias)^2 and out^2 values). The network's state is as
   before afterwards. Refuses what net_replay_begin refuses (no step to
   replay, another batch). */
int net_kfac_statistics(descent_net *net, const descent_batch *batch, int empirical, uint64_t seed,
                        descent_real *a_sq, descent_real *g_sq, net_kfac_visit visit, void *user);

#endif /* DESCENT_NETWORK_KFAC_H */
