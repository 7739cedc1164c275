/*
 * activation.c - element-wise nonlinearities: relu, tanh, sigmoid.
 *
 * Each backward pass is written in terms of the output y, which the network
 * keeps anyway, so no input copy is needed. ReLU's derivative at exactly 0 is
 * taken as 0, as PyTorch does.
 */
#include "layer.h"

#include <math.h>

static int activation_configure(layer *l, const spec_call *call) {
  if (call->n_args > 0)
    return descent_fail(DESCENT_EINVAL, "model spec: %s takes no arguments, got '%s'", call->name,
                        call->args[0].value);
  return DESCENT_OK;
}

static int activation_setup(layer *l) {
  l->out = l->in;
  l->out_size = l->in_size;
  l->n_params = 0;
  return DESCENT_OK;
}

static int activation_tensors(const layer *l, descent_tensor_info *t) {
  return 0;
}

static void activation_init(layer *l, descent_real *p, const layer *next, descent_rng *rng) {}

/* Element-wise loops are parallel only when large enough to pay for the fork
   and for waiting on the partner at the end, which on a machine shared with
   other work can take a scheduler time slice: from a million values for the
   passes of a compare or a multiply per value (128 x 1024 of them take
   about 30 us: LAYER_PARALLEL_MIN_CHEAP), from 32768 for those with a tanh
   or an exp per value (LAYER_PARALLEL_MIN).
   The if clauses name `parallel`: unnamed, an OpenMP 5 if clause also turns
   off the simd part, and GCC then ran small batches through a scalar loop
   with a branch per element (ReLU on 128 x 100 values took 50 us). */

void relu_values(const descent_real *x, descent_real *y, size_t count) {
#pragma omp parallel for simd schedule(static) if (parallel : count > LAYER_PARALLEL_MIN_CHEAP)
  for (size_t i = 0; i < count; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

void relu_gradient(const descent_real *y, const descent_real *dy, descent_real *dx, size_t count) {
#pragma omp parallel for simd schedule(static) if (parallel : count > LAYER_PARALLEL_MIN_CHEAP)
  for (size_t i = 0; i < count; i++) {
    descent_real g = dy[i]; /* read unconditionally, so the select vectorizes */
    dx[i] = y[i] > 0 ? g : 0;
  }
}

static void relu_forward(layer *l, const descent_real *params, const descent_real *x,
                         descent_real *y, size_t n, int train) {
  relu_values(x, y, n * l->in_size);
}

static void relu_backward(layer *l, const descent_real *params, const descent_real *x,
                          const descent_real *y, const descent_real *dy, descent_real *dx,
                          descent_real *dparams, size_t n) {
  if (dx) relu_gradient(y, dy, dx, n * l->in_size);
}

static void tanh_forward(layer *l, const descent_real *params, const descent_real *x,
                         descent_real *y, size_t n, int train) {
  size_t count = n * l->in_size;
#pragma omp parallel for schedule(static) if (parallel : count > LAYER_PARALLEL_MIN)
  for (size_t i = 0; i < count; i++) y[i] = tanh(x[i]);
}

static void tanh_backward(layer *l, const descent_real *params, const descent_real *x,
                          const descent_real *y, const descent_real *dy, descent_real *dx,
                          descent_real *dparams, size_t n) {
  if (!dx) return;
  size_t count = n * l->in_size;
#pragma omp parallel for simd schedule(static) if (parallel : count > LAYER_PARALLEL_MIN_CHEAP)
  for (size_t i = 0; i < count; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
}

static void sigmoid_forward(layer *l, const descent_real *params, const descent_real *x,
                            descent_real *y, size_t n, int train) {
  size_t count = n * l->in_size;
#pragma omp parallel for schedule(static) if (parallel : count > LAYER_PARALLEL_MIN)
  for (size_t i = 0; i < count; i++) y[i] = 1 / (1 + exp(-x[i]));
}

static void sigmoid_backward(layer *l, const descent_real *params, const descent_real *x,
                             const descent_real *y, const descent_real *dy, descent_real *dx,
                             descent_real *dparams, size_t n) {
  if (!dx) return;
  size_t count = n * l->in_size;
#pragma omp parallel for simd schedule(static) if (parallel : count > LAYER_PARALLEL_MIN_CHEAP)
  for (size_t i = 0; i < count; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
}

/* Directional derivatives (network_curvature.c), in terms of y as the
   backward passes: with f' the derivative, ry = f'(x) rx and
   R{dx} = f'(x) rdy + f''(x) rx dy, where f''(x) rx = d f'(x) is written
   through ry: for tanh, f' = 1 - y^2 and d f' = -2 y ry; for sigmoid,
   f' = y (1 - y) and d f' = (1 - 2 y) ry; ReLU's f' is piecewise constant.
   rx NULL is a zero tangent (the network's input). */
static void relu_jvp(layer *l, const descent_real *params, const descent_real *vparams,
                     const descent_real *x, const descent_real *rx, const descent_real *y,
                     descent_real *ry, size_t n) {
  size_t count = n * l->in_size;
  for (size_t i = 0; i < count; i++) ry[i] = rx && y[i] > 0 ? rx[i] : 0;
}

static void relu_rbackward(layer *l, const descent_real *params, const descent_real *vparams,
                           const descent_real *x, const descent_real *rx, const descent_real *y,
                           const descent_real *ry, const descent_real *dy, const descent_real *rdy,
                           descent_real *rdx, descent_real *rdparams, size_t n) {
  if (!rdx) return;
  size_t count = n * l->in_size;
  for (size_t i = 0; i < count; i++) rdx[i] = y[i] > 0 ? rdy[i] : 0;
}

static void tanh_jvp(layer *l, const descent_real *params, const descent_real *vparams,
                     const descent_real *x, const descent_real *rx, const descent_real *y,
                     descent_real *ry, size_t n) {
  size_t count = n * l->in_size;
  for (size_t i = 0; i < count; i++) ry[i] = rx ? rx[i] * (1 - y[i] * y[i]) : 0;
}

static void tanh_rbackward(layer *l, const descent_real *params, const descent_real *vparams,
                           const descent_real *x, const descent_real *rx, const descent_real *y,
                           const descent_real *ry, const descent_real *dy, const descent_real *rdy,
                           descent_real *rdx, descent_real *rdparams, size_t n) {
  if (!rdx) return;
  size_t count = n * l->in_size;
  for (size_t i = 0; i < count; i++) rdx[i] = rdy[i] * (1 - y[i] * y[i]) - 2 * dy[i] * y[i] * ry[i];
}

static void sigmoid_jvp(layer *l, const descent_real *params, const descent_real *vparams,
                        const descent_real *x, const descent_real *rx, const descent_real *y,
                        descent_real *ry, size_t n) {
  size_t count = n * l->in_size;
  for (size_t i = 0; i < count; i++) ry[i] = rx ? rx[i] * y[i] * (1 - y[i]) : 0;
}

static void sigmoid_rbackward(layer *l, const descent_real *params, const descent_real *vparams,
                              const descent_real *x, const descent_real *rx, const descent_real *y,
                              const descent_real *ry, const descent_real *dy,
                              const descent_real *rdy, descent_real *rdx, descent_real *rdparams,
                              size_t n) {
  if (!rdx) return;
  size_t count = n * l->in_size;
  for (size_t i = 0; i < count; i++)
    rdx[i] = rdy[i] * y[i] * (1 - y[i]) + dy[i] * (1 - 2 * y[i]) * ry[i];
}

#define ACTIVATION(kind)                                                                           \
  const layer_ops layer_##kind = {                                                                 \
      .name = #kind,                                                                               \
      .usage = #kind,                                                                              \
      .configure = activation_configure,                                                           \
      .setup = activation_setup,                                                                   \
      .tensors = activation_tensors,                                                               \
      .init = activation_init,                                                                     \
      .forward = kind##_forward,                                                                   \
      .backward = kind##_backward,                                                                 \
      .jvp = kind##_jvp,                                                                           \
      .rbackward = kind##_rbackward,                                                               \
  };
ACTIVATION(relu)
ACTIVATION(tanh)
ACTIVATION(sigmoid)
