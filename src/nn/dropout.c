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

#include "core/multiversion.h"

#include <omp.h>
#include <string.h>

static const spec_param dropout_params[] = {
    {"p", SPEC_NUMBER, 0.5, 0, 1, 0, 1, 0, "probability of zeroing an element"},
};

/* A dropout layer's configuration. */
typedef struct dropout_config {
  double drop; /* probability of zeroing an element */
} dropout_config;

static double dropout_p(const layer *l) {
  return ((const dropout_config *)l->config)->drop;
}

static int dropout_configure(layer *l, const spec_call *call) {
  double v[1];
  int rc = spec_bind(call, dropout_params, 1, v, NULL, "model spec");
  if (rc) return rc;
  ((dropout_config *)l->config)->drop = v[0];
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

/* out = in * mask, at the width of the kernel path (core/multiversion.h). */
static MULTIVERSION_BODY void mask_multiply_body(const descent_real *in, const descent_real *mask,
                                                 descent_real *out, size_t count) {
#pragma omp simd
  for (size_t i = 0; i < count; i++) out[i] = in[i] * mask[i];
}
MULTIVERSION_VOID(mask_multiply,
                  (const descent_real *in, const descent_real *mask, descent_real *out,
                   size_t count),
                  (in, mask, out, count))

/* mask_multiply split between the threads, one contiguous share each (the
   parallel region stays out of the per-path copies, which it would otherwise
   run at the baseline's width). */
static void apply_mask(const descent_real *in, const descent_real *mask, descent_real *out,
                       size_t count) {
#pragma omp parallel if (count > LAYER_PARALLEL_MIN)
  {
    size_t t = (size_t)omp_get_thread_num(), threads = (size_t)omp_get_num_threads();
    size_t lo = count / threads * t + (t < count % threads ? t : count % threads);
    size_t share = count / threads + (t < count % threads);
    mask_multiply(in + lo, mask + lo, out + lo, share);
  }
}

static void dropout_forward(layer *l, const descent_real *params, const descent_real *x,
                            descent_real *y, size_t n, int train) {
  size_t count = n * l->in_size;
  double drop = dropout_p(l);
  if (!train || drop == 0) {
    memcpy(y, x, count * sizeof *y);
    return;
  }
  descent_real *mask = l->scratch, scale = (descent_real)(1.0 / (1.0 - drop));
  double keep = 1.0 - drop;
  for (size_t i = 0; i < count; i++) mask[i] = descent_rng_uniform(l->rng) < keep ? scale : 0;
  apply_mask(x, mask, y, count);
}

static void dropout_backward(layer *l, const descent_real *params, const descent_real *x,
                             const descent_real *y, const descent_real *dy, descent_real *dx,
                             descent_real *dparams, size_t n) {
  if (!dx) return;
  size_t count = n * l->in_size;
  if (dropout_p(l) == 0) {
    memcpy(dx, dy, count * sizeof *dx);
    return;
  }
  const descent_real *mask = l->scratch;
  apply_mask(dy, mask, dx, count);
}

/* Dropout is linear given its mask, the one of the forward just run:
   ry = mask rx, R{dx} = mask rdy (rx NULL: a zero tangent). */
static void dropout_jvp(layer *l, const descent_real *params, const descent_real *vparams,
                        const descent_real *x, const descent_real *rx, const descent_real *y,
                        descent_real *ry, size_t n) {
  size_t count = n * l->in_size;
  if (!rx)
    memset(ry, 0, count * sizeof *ry);
  else if (dropout_p(l) == 0)
    memcpy(ry, rx, count * sizeof *ry);
  else
    apply_mask(rx, l->scratch, ry, count);
}

static void dropout_rbackward(layer *l, const descent_real *params, const descent_real *vparams,
                              const descent_real *x, const descent_real *rx, const descent_real *y,
                              const descent_real *ry, const descent_real *dy,
                              const descent_real *rdy, descent_real *rdx, descent_real *rdparams,
                              size_t n) {
  dropout_backward(l, params, x, y, rdy, rdx, rdparams, n);
}

const layer_ops layer_dropout = {
    .name = "dropout",
    .usage = "dropout([p=0.5])",
    .config_size = sizeof(dropout_config),
    .configure = dropout_configure,
    .setup = dropout_setup,
    .tensors = dropout_tensors,
    .init = dropout_init,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .jvp = dropout_jvp,
    .rbackward = dropout_rbackward,
};
