/*
 * network_internal.h - the network's layout, shared by network.c and spec.c
 * and visible to tests (which swap a layer's ops to prove the gradient check
 * catches a wrong backward pass).
 */
#ifndef DESCENT_NETWORK_INTERNAL_H
#define DESCENT_NETWORK_INTERNAL_H

#include "layer.h"

#include <math.h>

struct descent_net {
  descent_objective objective; /* params, grad and tensor table; impl points back here */
  layer *layers;
  size_t n_layers;
  descent_shape input;
  size_t input_size;
  descent_loss_kind loss;
  size_t max_batch;
  descent_real **acts;  /* acts[i]: output of layer i, max_batch x out_size */
  descent_real *grad_a; /* ping-pong buffers for d(loss)/d(activations) */
  descent_real *grad_b;
  double *row_loss; /* max_batch per-example losses */
  char *spec;       /* the spec text the network was built from */
  /* Non-learned state (batch-norm running statistics), with its table. */
  descent_real *buffers;
  size_t n_buffers;
  descent_tensor_info *buffer_tensors;
  size_t n_buffer_tensors;
  void **scratch;  /* scratch[i]: layer i's scratch, or NULL */
  void *work;      /* the work area all layers share */
  descent_rng rng; /* drives dropout masks */
  /* The precision of the layers' products (descent_net_set_precision). */
  descent_precision precision;
  /* Threads of each call, 0: the caller's (descent_net_set_threads). */
  int threads;
  /* The randomness of the last training evaluation, which re-evaluations
     and curvature products replay (network_curvature.c): the RNG as it was
     before its forward pass, and its batch size (0: none yet). */
  descent_rng step_rng;
  size_t step_n;
  /* Memory of the re-evaluations and products, made at their first call:
     NULL until then (net_curvature_free). */
  struct net_curvature *curvature;
  /* The seams of data-parallel training: the hook value_and_grad calls as
     each layer's gradient is final (descent_net_set_grad_ready), and batch
     norm's synchronization, which every layer points to (l->sync). */
  descent_grad_ready_fn grad_ready;
  void *grad_ready_user;
  layer_sync sync;
};

/* Checks a batch against the network's limits and every layer's
   check_batch (train: training mode). */
int net_check_batch(const descent_net *net, const descent_batch *batch, int train);
/* Runs every layer's forward on n examples; outputs in net->acts. Returns
   DESCENT_OK, or the status of a failed batch-norm synchronization (only
   in training mode), at which the pass stops. */
int net_forward(descent_net *net, const descent_real *x, size_t n, int train);

/* network_curvature.c: deterministic re-evaluation and the curvature-vector
   products, the network objective's reevaluate, hvp and ggnvp. A training
   evaluation calls net_step_begin before its forward pass to record the
   randomness they replay. */
void net_step_begin(descent_net *net, size_t n);
int net_reevaluate(descent_objective *obj, const descent_batch *batch, double *loss,
                   descent_real *grad);
int net_hvp(descent_objective *obj, const descent_batch *batch, const descent_real *v,
            descent_real *out);
int net_ggnvp(descent_objective *obj, const descent_batch *batch, const descent_real *v,
              descent_real *out);
void net_curvature_free(descent_net *net);

/* What the re-evaluations and products keep between calls. */
struct net_curvature {
  descent_real *buffers;           /* the running statistics, kept during a replay */
  descent_real **tangents;         /* tangents[i]: layer i's output tangent */
  descent_real *rgrad_a, *rgrad_b; /* R{d loss / d activations}, ping-pong */
  descent_real *grad;              /* the ordinary backward's parameter gradient */
  int ready;                       /* all of the products' memory is there */
};
/* Makes net->curvature at the first call; with products, the tangents and
   backward buffers too. */
int net_curvature_memory(descent_net *net, int products);
/* Checks that batch is the step's (what names the caller in messages), then
   runs the step's forward pass again with its randomness; *after keeps the
   RNG for net_replay_end, which restores it and the running statistics.
   When the replayed forward fails (a batch-norm synchronization), it ends
   the replay itself before returning the failure. */
int net_replay_begin(descent_net *net, const descent_batch *batch, descent_rng *after,
                     const char *what);
void net_replay_end(descent_net *net, const descent_rng *after);

/* Whether the network's layers give the Gauss-Newton diagonal (per-example
   squared gradients) and the curvature products (jvp; rbackward too for
   Hessian products): DESCENT_ENOTSUP naming the first layer that lacks
   them, or DESCENT_OK. What the objective's ops check at each call, for
   the optimizers that check before a run starts. */
int net_check_diagonal(const descent_net *net);
int net_check_products(const descent_net *net, int hessian);

/* network_diagonal.c: the objective's ggn_diagonal. */
int net_ggn_diagonal(descent_objective *obj, const descent_batch *batch, size_t samples,
                     uint64_t seed, descent_real *out);
/* Sophia-G's Gauss-Newton-Bartlett estimate of the same diagonal: B times
   the square of the batch gradient on labels drawn from the model's own
   distribution (seeded with seed), unbiased; one backward pass, any layer
   kinds. Same contract as net_ggn_diagonal. */
int net_gnb_diagonal(descent_objective *obj, const descent_batch *batch, uint64_t seed,
                     descent_real *out);

/* network_stats.c: the tracker's per-layer statistics of the last forward
   pass (net->acts), read before any replay overwrites them. */
enum { NET_ACTIVATION_NONE = 0, NET_ACTIVATION_SMOOTH = 1, NET_ACTIVATION_RELU = 2 };
/* Whether layer i is an activation (relu, or tanh and sigmoid). */
int net_activation_kind(const descent_net *net, size_t i);
/* Layer i's outputs over the last forward's n examples: their mean and
   standard deviation (over every value), and for relu the fraction of
   units that are zero for all n examples (NAN for other layers). */
void net_activation_stats(const descent_net *net, size_t i, size_t n, double *mean, double *std,
                          double *dead);

/* network_examples.c: the objective's example_gradients (per-example
   squared gradient norms and inner products with a direction), and the
   check it makes at each call, for a caller that refuses before a run
   starts (a tracker measuring gradient noise): DESCENT_ENOTSUP naming the
   first layer with parameters and no add_example_grads, or DESCENT_OK. */
int net_example_gradients(descent_objective *obj, const descent_batch *batch, const descent_real *v,
                          double *sq, double *dot);
int net_check_example_gradients(const descent_net *net);

/* Parses a spec into configured (not yet set up) layers. */
int net_spec_parse(const char *spec, size_t input_size, layer **layers, size_t *count);

/* What a spec builds on an input: its parameter and buffer counts and
 * tables (offsets from the start of the flat arrays). */
typedef struct net_layout {
  size_t n_params, n_buffers;
  descent_tensor_info *params, *buffers; /* allocated; net_layout_free */
  size_t n_param_tensors, n_buffer_tensors;
} net_layout;

/* The layout of spec on input, without building the network: nothing the
 * size of the network is allocated. A loader compares it with a file before
 * it builds the network the file's spec asks for. */
int net_spec_layout(const char *spec, const descent_shape *input, net_layout *out);
void net_layout_free(net_layout *l);

/* The largest of the k scores z, as a chain of fmax would give it (a NaN
   score is passed over). Written out because GCC 12 for aarch64 stops with
   an internal error vectorizing an fmax reduction. */
static inline double net_row_max(const descent_real *z, size_t k) {
  double max = z[0];
  for (size_t j = 1; j < k; j++) max = z[j] > max || isnan(max) ? z[j] : max;
  return max;
}

#endif /* DESCENT_NETWORK_INTERNAL_H */
