/*
 * cnn_step.c - times single training steps of fmnist_2c2d in descent: the
 * same work as `descent train --model cnn:fmnist_2c2d --opt sgd --lr 0.01`
 * (forward, backward, SGD update on Fashion-MNIST minibatches of 128), each
 * step timed by itself. bench/cnn.sh builds and runs it beside
 * bench/torch_cnn.py, which times its steps the same way: the fastest step is
 * what the program does when nothing else disturbs it, a figure that
 * survives a machine shared with other work better than a mean does.
 *
 * With --layers it then times each layer's forward and backward pass by
 * itself on the last batch (fastest of STEPS), the counterpart of
 * bench/torch_cnn.py --layers.
 *
 * usage: cnn_step THREADS STEPS [--layers] [--bf16] [--model SPEC] [--gather] [--bytes]
 *                 [--alternate-dnnl] [DATA_DIR]
 * (--bf16: the network in bf16 precision, descent_net_set_precision;
 *  --model: another network, e.g. the main job's mlp:784-256-128-10;
 *  --gather: each step's time includes gathering its batch;
 *  --bytes: the images held as their bytes, as `descent train` holds them,
 *  decoded as each batch is gathered;
 *  --alternate-dnnl: steps with oneDNN's GEMM allowed (gemm.c's rule for
 *  the dense layers' products) and steps without it (OpenBLAS) take turns,
 *  STEPS timed of each, so that both see the same disturbances of a shared
 *  machine; two result lines, dnnl=on and dnnl=off)
 * Prints: descent-steps threads=T steps=S best_ms=B median_ms=M
 *         (--alternate-dnnl: descent-steps dnnl=on|off threads=T ...)
 *         descent-layer NAME fwd_ms=F bwd_ms=B     (with --layers)
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include "core/sgemm_dnnl.h"
#include "nn/network_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

static void fail(const char *what) {
  fprintf(stderr, "cnn_step: %s: %s\n", what, descent_last_error());
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: cnn_step THREADS STEPS [--layers] [--bf16] [--model SPEC] [--gather] "
                    "[--bytes] [--alternate-dnnl] [DATA_DIR]\n");
    return 2;
  }
  int threads = atoi(argv[1]), steps = atoi(argv[2]), warmup = 10, layers = 0, bf16 = 0;
  if (threads < 1 || steps < 1) {
    fprintf(stderr, "cnn_step: THREADS and STEPS must be positive integers\n");
    return 2;
  }
  const char *dir = NULL, *model = "cnn:fmnist_2c2d";
  int gather = 0, bytes = 0, alternate = 0;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--layers") == 0)
      layers = 1;
    else if (strcmp(argv[i], "--gather") == 0)
      gather = 1;
    else if (strcmp(argv[i], "--bytes") == 0)
      bytes = 1;
    else if (strcmp(argv[i], "--alternate-dnnl") == 0)
      alternate = 1;
    else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
      model = argv[++i];
    else if (strcmp(argv[i], "--bf16") == 0) /* descent_net_set_precision */
      bf16 = 1;
    else
      dir = argv[i];
  }
  /* The kernels the descent program runs, and its thread count. */
  if (descent_cpu_setup()) {
    fprintf(stderr, "cnn_step: %s\n", descent_last_error());
    return 2;
  }
  descent_set_threads(threads);
  int rc = 1;
  descent_dataset train = {0}, test = {0};
  descent_preprocess pp = {0};
  descent_net *net = NULL;
  descent_optimizer *opt = NULL;
  descent_batcher *batcher = NULL;
  double *times = NULL;
  if (bytes ? descent_fashion_mnist_load_bytes(dir, &train, &test)
            : descent_fashion_mnist_load(dir, &train, &test)) {
    fail("data");
    goto done;
  }
  if (train.n < 128) { /* only whole batches are timed: none would come */
    fprintf(stderr, "cnn_step: %zu training images; a step takes a batch of 128\n", train.n);
    goto done;
  }
  if (descent_preprocess_fit(&pp, DESCENT_PREPROCESS_STANDARDIZE, &train, 1e-3) ||
      descent_preprocess_apply(&pp, &train)) {
    fail("preprocess");
    goto done;
  }
  if (descent_net_create(&net, model, &train.shape, DESCENT_LOSS_SOFTMAX_XENT, 128, 1) ||
      (bf16 && descent_net_set_precision(net, DESCENT_PRECISION_BF16))) {
    fail("network");
    goto done;
  }
  descent_objective *obj = descent_net_objective(net);
  if (descent_optimizer_create(&opt, "sgd", "0.01", obj->n_params)) {
    fail("optimizer");
    goto done;
  }
  if (descent_batcher_create(&batcher, &train, 128, 1, 7)) {
    fail("batcher");
    goto done;
  }
  /* times[0 .. steps): the steps with oneDNN allowed (all of them without
     --alternate-dnnl); times[steps ..): those without it. */
  times = calloc((size_t)steps * (alternate ? 2 : 1), sizeof *times);
  if (!times) {
    fprintf(stderr, "cnn_step: out of memory\n");
    goto done;
  }
  descent_batch batch;
  /* Only whole batches count: the short last batch of an epoch (96 of the
     60,000 images) would otherwise be the fastest step. */
  for (int s = 0, timed[2] = {0, 0}; timed[0] < steps || timed[1] < steps * alternate;) {
    int off = alternate && s % 2; /* this step without oneDNN */
    descent_sgemm_dnnl_enabled = !off;
    double loss, t0 = now();
    if (!descent_batcher_next(batcher, &batch)) descent_batcher_next(batcher, &batch);
    if (!gather) t0 = now();
    if (descent_objective_value_and_grad(obj, &batch, &loss) || descent_optimizer_step(opt, obj)) {
      fail("step");
      goto done;
    }
    double t = now() - t0;
    if (s++ >= warmup && batch.n == 128 && timed[off] < steps)
      times[(size_t)off * (size_t)steps + (size_t)timed[off]++] = t;
  }
  descent_sgemm_dnnl_enabled = 1;
  for (int off = 0; off <= alternate; off++) {
    double *own = times + (size_t)off * (size_t)steps;
    qsort(own, (size_t)steps, sizeof *own, compare);
    printf("descent-steps%s threads=%d steps=%d best_ms=%.3f median_ms=%.3f\n",
           alternate ? (off ? " dnnl=off" : " dnnl=on") : "", threads, steps, 1e3 * own[0],
           1e3 * own[steps / 2]);
  }
  /* Each layer alone, on the activations of the last batch. */
  for (size_t i = 0; layers && i < net->n_layers; i++) {
    layer *l = &net->layers[i];
    const descent_real *in = i ? net->acts[i - 1] : batch.x, *p = obj->params + l->param_offset;
    double fwd = 1e9, bwd = 1e9;
    for (int s = 0; s < steps; s++) {
      double t0 = now();
      l->ops->forward(l, (descent_real *)p, in, net->acts[i], batch.n, 1);
      double t1 = now();
      /* Any output gradient will do for timing; the first layer skips dx,
         as in training. */
      l->ops->backward(l, p, in, net->acts[i], net->grad_a, i ? net->grad_b : NULL,
                       obj->grad + l->param_offset, batch.n);
      double t2 = now();
      fwd = t1 - t0 < fwd ? t1 - t0 : fwd;
      bwd = t2 - t1 < bwd ? t2 - t1 : bwd;
    }
    printf("descent-layer %s fwd_ms=%.2f bwd_ms=%.2f\n", l->name, 1e3 * fwd, 1e3 * bwd);
  }
  rc = 0;
done:
  free(times);
  descent_batcher_free(batcher);
  descent_optimizer_free(opt);
  descent_net_free(net);
  descent_preprocess_free(&pp);
  descent_dataset_free(&train);
  descent_dataset_free(&test);
  return rc;
}
