/*
 * network_examples.c - per-example gradients of a network, summarized:
 * each example's squared gradient norm and its inner product with a
 * direction, the network objective's example_gradients (the gradient noise
 * instruments' input, src/train/noise.c).
 *
 * The step's forward pass is replayed with its randomness (the same
 * dropout masks, batch norm on the batch's statistics), the loss's gradient
 * is taken for the batch's labels, and the ordinary backward pass runs,
 * each parameterized layer adding its examples' shares (add_example_grads)
 * from its output gradient before passing the gradient on. The output
 * gradient of the batch-mean loss carries a 1/n, so the layers see example
 * i's term of the batch gradient, g_i / n; the sums are scaled once at the
 * end, in double (times n^2 and n), rather than the output gradient
 * before, which would round every layer's products differently from the
 * step's. Batch norm mixes the examples: its terms are those of the
 * batch's sums (BackPACK's BatchGrad), not a gradient of one example's
 * loss, and they also reach the layers before it through its input
 * gradient.
 */
#include "network_internal.h"

#include "loss.h"

#include <stdlib.h>
#include <string.h>

int net_check_example_gradients(const descent_net *net) {
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    if (l->n_params && !l->ops->add_example_grads)
      return descent_fail(DESCENT_ENOTSUP,
                          "per-example gradients: layer %s (%s) has parameters and no "
                          "per-example gradient; they exist for networks whose parameters are "
                          "in dense, conv and batchnorm layers",
                          l->name, l->ops->name);
  }
  return DESCENT_OK;
}

/* The memory of one call: a sink for the parameter gradients the backward
   pass writes (obj->grad stays untouched) and the layers' scratch. */
static descent_real *call_memory(const descent_net *net, size_t n, descent_real **scratch) {
  size_t scratch_reals = 0;
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    size_t need = n * (l->in_size + l->out_size);
    if (l->n_params && need > scratch_reals) scratch_reals = need;
  }
  size_t total = net->objective.n_params + scratch_reals;
  descent_real *sink = descent_alloc_real(total ? total : 1, "per-example gradients");
  *scratch = sink ? sink + net->objective.n_params : NULL;
  return sink;
}

static int example_gradients(descent_net *net, const descent_batch *batch, const descent_real *v,
                             double *sq, double *dot) {
  if (!sq || (v && !dot))
    return descent_fail(DESCENT_EINVAL,
                        "per-example gradients: sq is NULL%s; pass arrays of batch->n values",
                        v && !dot ? " or dot is NULL with a direction v" : "");
  int rc = net_check_example_gradients(net);
  if (!rc) rc = net_curvature_memory(net, 0);
  descent_rng after;
  if (!rc) rc = net_replay_begin(net, batch, &after, "per-example gradients");
  if (rc) return rc;
  descent_real *scratch;
  descent_real *sink = call_memory(net, batch->n, &scratch);
  if (!sink) {
    net_replay_end(net, &after);
    return DESCENT_ENOMEM;
  }
  size_t n = batch->n, last = net->n_layers - 1;
  memset(sq, 0, n * sizeof *sq);
  if (v) memset(dot, 0, n * sizeof *dot);
  descent_real *dy = net->grad_a, *dx = net->grad_b;
  double loss;
  rc = loss_evaluate(net->loss, net->acts[last], n, net->layers[last].out_size, batch->labels,
                     batch->targets, net->row_loss, &loss, dy, NULL);
  for (size_t i = last + 1; !rc && i-- > 0;) {
    layer *l = &net->layers[i];
    const descent_real *x = i ? net->acts[i - 1] : batch->x;
    const descent_real *params = net->objective.params + l->param_offset;
    if (l->n_params)
      l->ops->add_example_grads(l, params, x, dy, v ? v + l->param_offset : NULL, sq,
                                v ? dot : NULL, n, scratch);
    if (!i) break;
    l->ops->backward(l, params, x, net->acts[i], dy, dx, sink + l->param_offset, n);
    rc = net->sync.status;
    descent_real *t = dy;
    dy = dx, dx = t;
  }
  net_replay_end(net, &after);
  descent_free_real(sink);
  if (rc) return rc;
  double scale = (double)n;
  for (size_t i = 0; i < n; i++) {
    sq[i] *= scale * scale;
    if (v) dot[i] *= scale;
  }
  return DESCENT_OK;
}

int net_example_gradients(descent_objective *obj, const descent_batch *batch, const descent_real *v,
                          double *sq, double *dot) {
  descent_net *net = obj->impl;
  descent_thread_scope scope = descent_threads_begin(net->threads);
  int rc = example_gradients(net, batch, v, sq, dot);
  descent_threads_end(scope);
  return rc;
}
