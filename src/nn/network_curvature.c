/*
 * network_curvature.c - what a method that evaluates one step's objective
 * more than once needs from a network: deterministic re-evaluation and the
 * curvature-vector products.
 *
 * Re-evaluation replays the last training evaluation's randomness instead
 * of storing it: every random draw of a forward pass (dropout's masks, and
 * those of registered kinds) comes from the network's RNG, so restoring the
 * RNG to its state before that pass draws the same masks again, and the
 * state after the replay is put back as the step left it. Batch norm's
 * running statistics, which a training forward moves, are copied aside and
 * restored the same way. No layer needs to know it is being replayed.
 *
 * The products follow Pearlmutter (1994): a forward pass in training mode
 * (replayed), a forward-mode pass of each layer's jvp carrying the
 * direction v to the output's tangent rz = J v, the loss's Hessian times
 * rz, then
 *  - G v (the generalized Gauss-Newton product): the ordinary backward pass
 *    of H_L rz, i.e. J^T H_L J v;
 *  - H v: the R-operator of the backward pass (each layer's rbackward),
 *    run beside the ordinary backward pass that supplies its gradients.
 * Layers without jvp (or rbackward, for H v) refuse the product.
 */
#include "network_internal.h"

#include "loss.h"

#include <stdlib.h>
#include <string.h>

void net_step_begin(descent_net *net, size_t n) {
  net->step_rng = net->rng;
  net->step_n = n;
}

void net_curvature_free(descent_net *net) {
  struct net_curvature *c = net->curvature;
  if (!c) return;
  descent_free_real(c->buffers);
  if (c->tangents)
    for (size_t i = 0; i < net->n_layers; i++) descent_free_real(c->tangents[i]);
  free(c->tangents);
  descent_free_real(c->rgrad_a);
  descent_free_real(c->rgrad_b);
  descent_free_real(c->grad);
  free(c);
  net->curvature = NULL;
}

/* Everything the products need, or nothing: a failure frees what was
   made, and the next call starts again. */
static int product_memory(descent_net *net) {
  struct net_curvature *c = net->curvature;
  size_t width = net->input_size;
  for (size_t i = 0; i < net->n_layers; i++)
    if (net->layers[i].out_size > width) width = net->layers[i].out_size;
  c->rgrad_a = descent_alloc_real(net->max_batch * width, "curvature products");
  c->rgrad_b = descent_alloc_real(net->max_batch * width, "curvature products");
  c->grad = descent_alloc_real(net->objective.n_params, "curvature products");
  c->tangents = descent_calloc(net->n_layers, sizeof *c->tangents, "curvature products");
  if (!c->rgrad_a || !c->rgrad_b || !c->grad || !c->tangents) return DESCENT_ENOMEM;
  for (size_t i = 0; i < net->n_layers; i++) {
    c->tangents[i] = descent_alloc_real(net->max_batch * net->layers[i].out_size, "tangents");
    if (!c->tangents[i]) return DESCENT_ENOMEM;
  }
  c->ready = 1;
  return DESCENT_OK;
}

/* The memory, made at the first call; products need the tangents too. */
int net_curvature_memory(descent_net *net, int products) {
  if (!net->curvature) {
    net->curvature = descent_calloc(1, sizeof *net->curvature, "re-evaluation");
    if (!net->curvature) return DESCENT_ENOMEM;
    net->curvature->buffers = descent_alloc_real(net->n_buffers, "re-evaluation buffers");
    if (!net->curvature->buffers) {
      net_curvature_free(net);
      return DESCENT_ENOMEM;
    }
  }
  if (!products || net->curvature->ready) return DESCENT_OK;
  int rc = product_memory(net);
  if (rc) net_curvature_free(net);
  return rc;
}

/* Checks that the batch is the step's, then runs its forward pass again
   with the step's randomness; *after keeps the RNG for replay_end. */
int net_replay_begin(descent_net *net, const descent_batch *batch, descent_rng *after,
                     const char *what) {
  int rc = net_check_batch(net, batch, 1);
  if (rc) return rc;
  if (!net->step_n)
    return descent_fail(DESCENT_EINVAL,
                        "%s: the network has no step to replay; call value_and_grad on the "
                        "batch first",
                        what);
  if (batch->n != net->step_n)
    return descent_fail(DESCENT_EINVAL,
                        "%s: batch of %zu examples, the step's had %zu; re-evaluate on the "
                        "batch of the last value_and_grad",
                        what, batch->n, net->step_n);
  *after = net->rng;
  net->rng = net->step_rng;
  if (net->n_buffers)
    memcpy(net->curvature->buffers, net->buffers, net->n_buffers * sizeof *net->buffers);
  rc = net_forward(net, batch->x, batch->n, 1);
  if (rc) net_replay_end(net, after);
  return rc;
}

void net_replay_end(descent_net *net, const descent_rng *after) {
  net->rng = *after;
  if (net->n_buffers)
    memcpy(net->buffers, net->curvature->buffers, net->n_buffers * sizeof *net->buffers);
}

static int reevaluate(descent_net *net, const descent_batch *batch, double *loss,
                      descent_real *grad) {
  int rc = net_curvature_memory(net, 0);
  descent_rng after;
  if (!rc) rc = net_replay_begin(net, batch, &after, "re-evaluation");
  if (rc) return rc;
  size_t n = batch->n, last = net->n_layers - 1;
  descent_real *dy = net->grad_a, *dx = net->grad_b;
  rc = loss_evaluate(net->loss, net->acts[last], n, net->layers[last].out_size, batch->labels,
                     batch->targets, net->row_loss, loss, grad ? dy : NULL, NULL);
  for (size_t i = last + 1; !rc && grad && i-- > 0;) {
    layer *l = &net->layers[i];
    const descent_real *x = i ? net->acts[i - 1] : batch->x;
    l->ops->backward(l, net->objective.params + l->param_offset, x, net->acts[i], dy, i ? dx : NULL,
                     grad + l->param_offset, n);
    rc = net->sync.status;
    descent_real *t = dy;
    dy = dx;
    dx = t;
  }
  net_replay_end(net, &after);
  return rc;
}

/* Refuses, naming the first layer without what the product needs. */
int net_check_products(const descent_net *net, int hessian) {
  const char *what = hessian ? "Hessian-vector" : "Gauss-Newton-vector";
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    if (!l->ops->jvp || (hessian && !l->ops->rbackward))
      return descent_fail(DESCENT_ENOTSUP,
                          "%s products: layer %s (%s) has no %s; products exist for dense, "
                          "conv, maxpool, avgpool, flatten, batchnorm, relu, tanh, sigmoid and "
                          "dropout layers",
                          what, l->name, l->ops->name,
                          l->ops->jvp ? "second-order backward (rbackward)"
                                      : "directional derivative (jvp)");
  }
  return DESCENT_OK;
}

/* The tangents of every layer's output along v. */
static void forward_tangents(descent_net *net, const descent_batch *batch, const descent_real *v) {
  struct net_curvature *c = net->curvature;
  for (size_t i = 0; i < net->n_layers; i++) {
    layer *l = &net->layers[i];
    const descent_real *x = i ? net->acts[i - 1] : batch->x;
    const descent_real *rx = i ? c->tangents[i - 1] : NULL;
    l->ops->jvp(l, net->objective.params + l->param_offset, v + l->param_offset, x, rx,
                net->acts[i], c->tangents[i], batch->n);
  }
}

static int product(descent_net *net, const descent_batch *batch, const descent_real *v,
                   descent_real *out, int hessian) {
  int rc = net_check_products(net, hessian);
  if (!rc) rc = net_curvature_memory(net, 1);
  descent_rng after;
  if (!rc) rc = net_replay_begin(net, batch, &after, hessian ? "Hessian product" : "GGN product");
  if (rc) return rc;
  struct net_curvature *c = net->curvature;
  size_t n = batch->n, last = net->n_layers - 1, k = net->layers[last].out_size;
  forward_tangents(net, batch, v);
  rc = net->sync.status;
  descent_real *dy = net->grad_a, *dx = net->grad_b, *rdy = c->rgrad_a, *rdx = c->rgrad_b;
  double loss;
  /* The gradient is needed (and the labels checked) for H v only: G v's
     loss Hessian does not depend on the labels. */
  if (!rc && hessian)
    rc = loss_evaluate(net->loss, net->acts[last], n, k, batch->labels, batch->targets,
                       net->row_loss, &loss, dy, NULL);
  if (!rc) loss_hessian_product(net->loss, net->acts[last], n, k, c->tangents[last], rdy);
  const descent_real *params = net->objective.params;
  for (size_t i = last + 1; !rc && i-- > 0;) {
    layer *l = &net->layers[i];
    const descent_real *x = i ? net->acts[i - 1] : batch->x;
    const descent_real *rx = i ? c->tangents[i - 1] : NULL;
    size_t off = l->param_offset;
    if (hessian) {
      l->ops->rbackward(l, params + off, v + off, x, rx, net->acts[i], c->tangents[i], dy, rdy,
                        i ? rdx : NULL, out + off, n);
      l->ops->backward(l, params + off, x, net->acts[i], dy, i ? dx : NULL, c->grad + off, n);
    } else {
      l->ops->backward(l, params + off, x, net->acts[i], rdy, i ? rdx : NULL, out + off, n);
    }
    rc = net->sync.status;
    descent_real *t = dy;
    dy = dx, dx = t;
    t = rdy;
    rdy = rdx, rdx = t;
  }
  net_replay_end(net, &after);
  return rc;
}

/* Each entry point runs with the network's thread count, as the
   objective's other calls. */
int net_reevaluate(descent_objective *obj, const descent_batch *batch, double *loss,
                   descent_real *grad) {
  descent_net *net = obj->impl;
  descent_thread_scope scope = descent_threads_begin(net->threads);
  int rc = reevaluate(net, batch, loss, grad);
  descent_threads_end(scope);
  return rc;
}

int net_hvp(descent_objective *obj, const descent_batch *batch, const descent_real *v,
            descent_real *out) {
  descent_net *net = obj->impl;
  descent_thread_scope scope = descent_threads_begin(net->threads);
  int rc = product(net, batch, v, out, 1);
  descent_threads_end(scope);
  return rc;
}

int net_ggnvp(descent_objective *obj, const descent_batch *batch, const descent_real *v,
              descent_real *out) {
  descent_net *net = obj->impl;
  descent_thread_scope scope = descent_threads_begin(net->threads);
  int rc = product(net, batch, v, out, 0);
  descent_threads_end(scope);
  return rc;
}
