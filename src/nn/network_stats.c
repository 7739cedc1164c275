/*
 * network_stats.c - what the tracker's per-layer instrument reads from a
 * network's last forward pass: the mean and spread of each activation
 * layer's outputs and, for ReLU, the units that no example of the batch
 * switched on ("dead" for that batch).
 */
#include "network_internal.h"

#include <math.h>

int net_activation_kind(const descent_net *net, size_t i) {
  const layer_ops *ops = net->layers[i].ops;
  if (ops == &layer_relu) return NET_ACTIVATION_RELU;
  if (ops == &layer_tanh || ops == &layer_sigmoid) return NET_ACTIVATION_SMOOTH;
  return NET_ACTIVATION_NONE;
}

/* Sums in double, example by example, in order: the same bits at every
   thread count. */
void net_activation_stats(const descent_net *net, size_t i, size_t n, double *mean, double *std,
                          double *dead) {
  const layer *l = &net->layers[i];
  const descent_real *y = net->acts[i];
  size_t units = l->out_size, count = n * units;
  double sum = 0, sum_sq = 0;
  for (size_t k = 0; k < count; k++) sum += (double)y[k];
  double m = count ? sum / (double)count : NAN;
  for (size_t k = 0; k < count; k++) sum_sq += ((double)y[k] - m) * ((double)y[k] - m);
  *mean = m;
  /* The population's spread over the batch's values (not an estimate of
     anything beyond them). */
  *std = count ? sqrt(sum_sq / (double)count) : NAN;
  *dead = NAN;
  if (net_activation_kind(net, i) != NET_ACTIVATION_RELU || n == 0) return;
  size_t off = 0;
  for (size_t u = 0; u < units; u++) {
    size_t e = 0;
    while (e < n && y[e * units + u] == 0) e++;
    off += e == n;
  }
  *dead = (double)off / (double)units;
}
