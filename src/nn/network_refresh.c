/*
 * network_refresh.c - batch norm's running statistics recomputed for the
 * parameters the network holds now.
 *
 * The running statistics follow the points where gradients were taken. A
 * schedule-free optimizer evaluates elsewhere (its average x), so the
 * statistics that go with x must be recomputed there: the reference
 * implementation's recipe is a few training-mode forward passes at x
 * (facebookresearch/schedule_free, "Caveats": 50 batches of the training
 * set), which move the running statistics as training does. This is that
 * recipe, without the randomness a forward pass in training mode draws.
 */
#include "network_internal.h"

int descent_net_refresh_batch_norm(descent_net *net, const descent_dataset *ds, size_t batch_size,
                                   size_t batches) {
  descent_error_clear();
  size_t n_buffers = 0;
  descent_net_buffers(net, &n_buffers);
  if (!ds || ds->n == 0 || (!ds->x && !ds->bytes))
    return descent_fail(DESCENT_EINVAL, "descent_net_refresh_batch_norm: no examples to run");
  descent_shape in = descent_net_input_shape(net);
  if (ds->features != descent_shape_size(&in))
    return descent_fail(DESCENT_ESHAPE,
                        "descent_net_refresh_batch_norm: examples of %zu features for a network "
                        "that takes %zu",
                        ds->features, descent_shape_size(&in));
  if (batch_size == 0 || batch_size > descent_net_max_batch(net))
    return descent_fail(DESCENT_EINVAL,
                        "descent_net_refresh_batch_norm: batch size %zu; the network takes 1 to "
                        "%zu examples",
                        batch_size, descent_net_max_batch(net));
  if (n_buffers == 0 || batches == 0) return DESCENT_OK; /* nothing to refresh */
  descent_rng rng;
  descent_net_get_rng(net, &rng); /* dropout's masks: training does not see these passes */
  descent_objective *obj = descent_net_objective(net);
  /* A set held as bytes: each batch decoded first. */
  descent_real *decoded = NULL;
  if (!ds->x) {
    decoded = descent_alloc_real(batch_size * ds->features, "batch norm refresh: decoded rows");
    if (!decoded) return DESCENT_ENOMEM;
  }
  int rc = DESCENT_OK;
  for (size_t b = 0; !rc && b < batches && b * batch_size < ds->n; b++) {
    size_t first = b * batch_size, count = ds->n - first < batch_size ? ds->n - first : batch_size;
    descent_batch batch = {.n = count,
                           .x = dataset_inputs(ds, first, count, decoded),
                           .labels = ds->labels ? ds->labels + first : NULL};
    double loss;
    rc = descent_objective_value(obj, &batch, &loss);
  }
  descent_free_real(decoded);
  descent_net_set_rng(net, &rng);
  return rc;
}
