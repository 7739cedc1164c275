/*
 * test_dense_relu.c - a dense layer and the ReLU beside it run as one
 * (dense_relu_forward, dense_backward_after_relu, used by the network's
 * forward and gradient passes) must give the bits of the two layers run one
 * after the other through their own forward and backward functions.
 *
 * The network's loss, gradient, activations and predictions are compared
 * with a walk over the same layers by hand, at 1 and 2 threads, on
 * networks where ReLUs follow dense layers of sizes the AVX-512 kernel
 * takes (where it runs: the fused products then do the ReLU's work) and of
 * small sizes (which go to OpenBLAS and separate passes), with a tanh among
 * them, a ReLU after a ReLU, a ReLU first and one last. By hand, a dense
 * layer's output is its product onto rows holding the bias (a dense
 * layer's product, descent_gemm_dense, with beta 1), or for a product
 * oneDNN takes, the product then the bias added, not its forward
 * function, which itself asks for the fused product. Each run says whether
 * the kernel took the network's first product, since that depends on the
 * CPU and the path (DESCENT_ISA), and where the kernel runs, two threads
 * must have taken it.
 */
#include "check.h"
#include "core/sgemm_avx512.h"
#include "nn/loss.h"
#include "nn/network_internal.h"

#include <stdlib.h>
#include <string.h>

#define BATCH 128

static descent_rng rng;

/* A dense layer's output, y = x W^T + b, as the product onto rows that
   hold the bias: what its forward did before the fused product; where
   oneDNN takes the product (the avx2 path), the product and then the bias
   added to it, as the forward does there. */
static void dense_by_hand(const layer *l, const descent_real *params, const descent_real *x,
                          descent_real *y, size_t n) {
  size_t in = l->in_size, out = l->out_size;
  int bias = l->n_params == out * in + out;
  const descent_real *b = params + out * in;
  if (bias && descent_gemm_dnnl_threads(0, 1, n, out, in)) {
    descent_gemm_dense(DESCENT_PRECISION_FP32, 1, 0, 1, n, out, in, x, in, params, in, 0, y, out);
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < out; j++) y[i * out + j] += b[j];
    return;
  }
  for (size_t i = 0; bias && i < n; i++) memcpy(y + i * out, b, out * sizeof *y);
  descent_gemm_dense(DESCENT_PRECISION_FP32, 1, 0, 1, n, out, in, x, in, params, in, bias ? 1 : 0,
                     y, out);
}

/* The network's loss and gradient by hand: each layer's own forward, the
   loss, then each layer's own backward, on buffers of our own. */
static double by_hand(descent_net *net, const descent_real *x, const int32_t *labels, size_t n,
                      descent_real **acts, descent_real *grad) {
  const descent_real *params = net->objective.params;
  const descent_real *in = x;
  for (size_t i = 0; i < net->n_layers; i++) {
    layer *l = &net->layers[i];
    if (l->ops == &layer_dense)
      dense_by_hand(l, params + l->param_offset, in, acts[i], n);
    else
      l->ops->forward(l, params + l->param_offset, in, acts[i], n, 1);
    in = acts[i];
  }
  size_t last = net->n_layers - 1, widest = net->input_size;
  for (size_t i = 0; i < net->n_layers; i++)
    if (net->layers[i].out_size > widest) widest = net->layers[i].out_size;
  descent_real *dy = malloc(n * widest * sizeof *dy), *dx = malloc(n * widest * sizeof *dx);
  double loss = 0;
  CHECK_OK(loss_evaluate(net->loss, acts[last], n, net->layers[last].out_size, labels, NULL,
                         net->row_loss, &loss, dy, NULL));
  for (size_t i = last + 1; i-- > 0;) {
    layer *l = &net->layers[i];
    l->ops->backward(l, params + l->param_offset, i ? acts[i - 1] : x, acts[i], dy, i ? dx : NULL,
                     grad + l->param_offset, n);
    descent_real *t = dy;
    dy = dx;
    dx = t;
  }
  free(dy);
  free(dx);
  return loss;
}

static void check_network(const char *spec, int threads) {
  descent_shape input = {1, {784}};
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, &input, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 5));
  if (!net) return;
  CHECK_OK(descent_net_set_threads(net, threads));
  descent_set_threads(threads);
  descent_objective *obj = descent_net_objective(net);
  size_t n_params = obj->n_params;
  /* Biases start at 0, which would hide where and how often one is added:
     every parameter is drawn afresh. */
  for (size_t i = 0; i < n_params; i++)
    obj->params[i] = (descent_real)(0.05 * descent_rng_normal(&rng));
  descent_real *x = malloc(BATCH * 784 * sizeof *x), *grad = malloc(n_params * sizeof *grad);
  int32_t labels[BATCH];
  for (size_t i = 0; i < BATCH * 784; i++) x[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < BATCH; i++) labels[i] = (int32_t)(i * 7 % 10);
  descent_real **acts = calloc(net->n_layers, sizeof *acts);
  for (size_t i = 0; i < net->n_layers; i++)
    acts[i] = malloc(BATCH * net->layers[i].out_size * sizeof **acts);

  /* Whether the kernel takes the first layer's product here (when the
     first layer is a dense one). */
  size_t out0 = net->layers[0].out_size;
  int first_dense = net->layers[0].ops == &layer_dense, fused = 0;
  if (first_dense) {
    descent_real *probe = malloc(BATCH * out0 * sizeof *probe);
    fused = descent_gemm_fused(DESCENT_PRECISION_FP32, 0, 1, BATCH, out0, 784, x, 784, obj->params,
                               784, probe, out0, NULL, NULL, NULL);
    free(probe);
  }

  for (size_t n = BATCH; n >= BATCH - 31; n -= 31) { /* a whole batch and a ragged one */
    descent_batch batch = {.n = n, .x = x, .labels = labels};
    double loss = 0;
    CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
    double want = by_hand(net, x, labels, n, acts, grad);
    CHECK_MSG(loss == want, "%s, %d threads, batch %zu: loss %.9g by hand %.9g", spec, threads, n,
              loss, want);
    CHECK_MSG(memcmp(obj->grad, grad, n_params * sizeof *grad) == 0,
              "%s, %d threads, batch %zu: the gradient differs from the layers run by hand", spec,
              threads, n);
    for (size_t i = 0; i < net->n_layers; i++)
      CHECK_MSG(memcmp(net->acts[i], acts[i], n * net->layers[i].out_size * sizeof **acts) == 0,
                "%s, %d threads, batch %zu: layer %zu's output differs", spec, threads, n, i + 1);
    /* Inference takes the same forward pass. */
    size_t k = descent_net_outputs(net);
    descent_real *out = malloc(n * k * sizeof *out);
    CHECK_OK(descent_net_predict(net, x, n, out));
    for (size_t i = 0; i < net->n_layers; i++) {
      layer *l = &net->layers[i];
      l->ops->forward(l, obj->params + l->param_offset, i ? acts[i - 1] : x, acts[i], n, 0);
    }
    CHECK_MSG(memcmp(out, acts[net->n_layers - 1], n * k * sizeof *out) == 0,
              "%s, %d threads, batch %zu: predictions differ", spec, threads, n);
    free(out);
  }
  printf("%s, %d thread(s), path %s: first product %s\n", spec, threads, descent_isa_name(),
         !first_dense ? "(not a dense layer's)"
         : fused      ? "fused in the AVX-512 kernel"
                      : "with separate passes");
#ifndef DESCENT_DOUBLE
  /* On two threads the kernel takes every product of 2^20 multiply-adds
     and more wherever it runs (gemm.c). */
  if (first_dense && threads == 2 && sgemm_avx512_available() && BATCH * out0 * 784 >= 1048576)
    CHECK_MSG(fused, "%s: the kernel runs here, yet did not take the first product", spec);
#endif
  for (size_t i = 0; i < net->n_layers; i++) free(acts[i]);
  free(acts);
  free(x);
  free(grad);
  descent_net_free(net);
}

int main(void) {
  descent_rng_seed(&rng, 3);
  if (descent_cpu_setup()) {
    fprintf(stderr, "test_dense_relu: %s\n", descent_last_error());
    return 1;
  }
  int saved = descent_get_threads();
  const char *specs[] = {"dense(256),relu,dense(128),relu,dense(10)", "dense(100),relu,dense(10)",
                         "dense(300),tanh,dense(200),relu,dense(40),relu,relu,dense(10)",
                         "dense(24),relu,dense(10),relu", "relu,dense(64),relu,dense(10)"};
  for (int t = 1; t <= 2; t++)
    for (size_t s = 0; s < sizeof specs / sizeof *specs; s++) check_network(specs[s], t);
  descent_set_threads(saved);
  return check_report();
}
