/*
 * dropout.c - inverted dropout, as PyTorch's Dropout: in training each element
 * is zeroed with probability p and the survivors are scaled by 1 / (1 - p),
 * so evaluation (where the layer does nothing) sees the same expected value.
 *
 * The mask is drawn from the network's RNG, element by element in order, so a
 * seed fixes every mask of a run, and saving and restoring the RNG state
 * (descent_net_get_rng / descent_net_set_rng) replays them. The mask is kept
 * for the backward pass.
 */
#include "layer.h"

#include <string.h>

static const spec_param dropout_params[] = {
    {"p", SPEC_NUMBER, 0.5, 0, 1, 0, 1, 0, "probability of zeroing an element"},
};

static int dropout_configure(layer *l, const spec_call *call) {
  double v[1];
  int rc = spec_bind(call, dropout_params, 1, v, NULL, "model spec");
  if (rc) return rc;
  l->drop = v[0];
  return DESCENT_OK;
}

static int dropout_setup(layer *l) {
  l->out = l->in;
  l->out_size = l->in_size;
  size_t count;
  if (!descent_mul_ok(l->max_batch, l->in_size, &count) ||
      !descent_mul_ok(count, sizeof(descent_real), &l->scratch_bytes))
    return descent_fail(DESCENT_ERANGE, "model spec: %s is too large", l->name);
  return DESCENT_OK;
}

static int dropout_tensors(const layer *l, descent_tensor_info *t) {
  return 0;
}

static void dropout_init(layer *l, descent_real *params, const layer *next, descent_rng *rng) {}

static void dropout_forward(layer *l, const descent_real *params, const descent_real *x,
                            descent_real *y, size_t n, int train) {
  size_t count = n * l->in_size;
  if (!train || l->drop == 0) {
    memcpy(y, x, count * sizeof *y);
    return;
  }
  descent_real *mask = l->scratch, scale = (descent_real)(1.0 / (1.0 - l->drop));
  double keep = 1.0 - l->drop;
  for (size_t i = 0; i < count; i++) mask[i] = descent_rng_uniform(l->rng) < keep ? scale : 0;
#pragma omp parallel for simd schedule(static) if (count > LAYER_PARALLEL_MIN)
  for (size_t i = 0; i < count; i++) y[i] = x[i] * mask[i];
}

static void dropout_backward(layer *l, const descent_real *params, const descent_real *x,
                             const descent_real *y, const descent_real *dy, descent_real *dx,
                             descent_real *dparams, size_t n) {
  if (!dx) return;
  size_t count = n * l->in_size;
  if (l->drop == 0) {
    memcpy(dx, dy, count * sizeof *dx);
    return;
  }
  const descent_real *mask = l->scratch;
#pragma omp parallel for simd schedule(static) if (count > LAYER_PARALLEL_MIN)
  for (size_t i = 0; i < count; i++) dx[i] = dy[i] * mask[i];
}

const layer_ops layer_dropout = {
    .name = "dropout",
    .usage = "dropout([p=0.5])",
    .configure = dropout_configure,
    .setup = dropout_setup,
    .tensors = dropout_tensors,
    .init = dropout_init,
    .forward = dropout_forward,
    .backward = dropout_backward,
};
