/*
 * bench_conv_cost.c - the cost check that catches a kernel's collapse: each
 * convolution of fmnist_2c2d (forward and backward, batch 128), timed as the
 * current kernel path runs it (descent's direct kernel, oneDNN or im2col +
 * GEMM, whichever it chose) and as im2col + GEMM runs it on the same
 * machine; fails when the path's choice is more than 3 times slower. Where
 * the CPU can run the direct kernel it is also timed forced on, and checked
 * the same way, so a kernel that would collapse on this path is seen before
 * anyone makes it the default here.
 *
 * A short benchmark under CTest's `benchmark` label (ctest -L benchmark),
 * registered once per kernel path (DESCENT_ISA); not in the default suite,
 * since timings never decide a pass there. The 3x margin is far beyond
 * machine noise: the collapse it guards against was 24x.
 */
#include "check.h"
#include "nn/conv_direct.h"
#include "nn/conv_dnnl.h"
#include "nn/network_internal.h"

#include <stdlib.h>
#include <time.h>

enum { BATCH = 128, REPEATS = 7 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Fastest forward + backward of the layer, with conv_direct_enabled = direct
   and conv_dnnl_enabled = dnnl (im2col + GEMM: both 0). */
static double time_layer(descent_net *net, size_t i, const descent_real *x, int direct, int dnnl) {
  layer *l = &net->layers[i];
  descent_objective *obj = descent_net_objective(net);
  const descent_real *in = i ? net->acts[i - 1] : x, *p = obj->params + l->param_offset;
  conv_direct_enabled = direct;
  conv_dnnl_enabled = dnnl;
  double best = 1e30;
  for (int r = -1; r < REPEATS; r++) { /* r = -1: a warm-up, not counted */
    double t0 = now();
    l->ops->forward(l, (descent_real *)p, in, net->acts[i], BATCH, 1);
    l->ops->backward(l, p, in, net->acts[i], net->grad_a, i ? net->grad_b : NULL,
                     obj->grad + l->param_offset, BATCH);
    double t = now() - t0;
    if (r >= 0 && t < best) best = t;
  }
  conv_direct_enabled = 1;
  conv_dnnl_enabled = 1;
  return best;
}

int main(void) {
  descent_shape in = {3, {1, 28, 28}};
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "cnn:fmnist_2c2d", &in, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 1));
  if (!net) return check_report();
  descent_rng rng;
  descent_rng_seed(&rng, 3);
  descent_real *x = malloc(BATCH * 784 * sizeof *x);
  for (size_t i = 0; i < BATCH * 784; i++) x[i] = (descent_real)descent_rng_normal(&rng);
  /* The activations every layer reads: one forward pass. */
  descent_objective *obj = descent_net_objective(net);
  for (size_t i = 0; i < net->n_layers; i++)
    net->layers[i].ops->forward(&net->layers[i], obj->params + net->layers[i].param_offset,
                                i ? net->acts[i - 1] : x, net->acts[i], BATCH, 1);
  conv_direct_enabled = 2;
  int can_force = conv_direct_available();
  conv_direct_enabled = 1;
  printf("kernel path %s, %d threads; the direct kernel %s on this CPU\n", descent_isa_name(),
         descent_get_threads(), can_force ? "runs" : "does not run");
  for (size_t i = 0; i < net->n_layers; i++) {
    layer *l = &net->layers[i];
    if (strstr(l->name, "conv") == NULL) continue;
    double gemm = time_layer(net, i, x, 0, 0), chosen = time_layer(net, i, x, 1, 1);
    printf("%-18s im2col + GEMM %7.2f ms | path's choice %7.2f ms (%.2fx)", l->name, 1e3 * gemm,
           1e3 * chosen, chosen / gemm);
    CHECK_MSG(chosen <= 3 * gemm, "%s: the %s path's choice is %.1fx slower than im2col + GEMM",
              l->name, descent_isa_name(), chosen / gemm);
    if (can_force) {
      double direct = time_layer(net, i, x, 2, 0);
      printf(" | direct kernel %7.2f ms (%.2fx)", 1e3 * direct, direct / gemm);
      CHECK_MSG(direct <= 3 * gemm, "%s: the direct kernel is %.1fx slower than im2col + GEMM",
                l->name, direct / gemm);
    }
    printf("\n");
  }
  free(x);
  descent_net_free(net);
  return check_report();
}
