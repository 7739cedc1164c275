/*
 * network_kfac.h - what K-FAC (src/optim/kfac.c) needs from a network,
 * without reaching into its buffers: the dense layers' shapes and, for the
 * step's batch, each dense layer's inputs and the per-example gradients of
 * the loss with respect to its outputs, under labels drawn from the model
 * (the Fisher's) or the batch's own (the empirical Fisher's).
 */
#ifndef DESCENT_NETWORK_KFAC_H
#define DESCENT_NETWORK_KFAC_H

#include "internal.h"

/* A dense layer as K-FAC sees it: y = x W^T + b, W stored {out, in} at
   offset in the flat parameters, the bias (when it has one) right after
   it, at offset + in * out. */
typedef struct net_kfac_layer {
  size_t in, out;
  int bias;
  size_t offset;
} net_kfac_layer;

/* The network behind obj, or NULL when obj is not a network's objective
   (descent_net_objective). */
descent_net *net_of_objective(descent_objective *obj);

/* The dense layers of net, first to last: writes min(count, cap) of them
   to layers (may be NULL when cap is 0) and returns the count. */
size_t net_kfac_layers(const descent_net *net, net_kfac_layer *layers, size_t cap);

/* Called once per dense layer k (the index among net_kfac_layers), last
   layer first: a is the layer's input (n x in, row-major), delta the
   per-example gradient of the loss at its output (n x out): example i's
   own loss, not the batch mean, so delta^T delta / n estimates the
   per-example Fisher's factor. Both are valid during the call only. */
typedef void (*net_kfac_visit)(void *user, size_t k, const descent_real *a,
                               const descent_real *delta, size_t n);

/* Replays the forward pass of the step's last value_and_grad on batch (its
   dropout masks; batch norm on the batch's statistics, its running
   statistics untouched), then runs one backward pass from the per-example
   output gradients p - e_y with, for cross-entropy, y drawn from the
   model's softmax p (empirical = 0; seed seeds the draws, never the
   network's RNG) or the batch's labels (empirical = 1); for MSE, the output
   gradient is a standard normal draw (the Fisher of a unit Gaussian) or
   out - target. visit is called for every dense layer. The network's state
   is as before afterwards. Refuses what net_replay_begin refuses (no step
   to replay, another batch). */
int net_kfac_statistics(descent_net *net, const descent_batch *batch, int empirical, uint64_t seed,
                        net_kfac_visit visit, void *user);

#endif /* DESCENT_NETWORK_KFAC_H */
