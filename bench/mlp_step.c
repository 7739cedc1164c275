/*
 * mlp_step.c - times single training steps of an MLP in descent, the gather
 * of the batch included: the work of `descent train --model MODEL --opt sgd
 * --lr 0.1` (batch of 128 from the shuffled Fashion-MNIST, forward,
 * backward, SGD update), each step timed by itself. The fastest step is
 * what the program does when nothing else disturbs it, a figure that
 * survives a machine shared with other work better than a mean does; the
 * median is printed beside it.
 *
 * usage: mlp_step THREADS STEPS [MODEL] [DATA_DIR]
 * (MODEL default mlp:784-256-128-10, the main job's network)
 * Prints: descent-mlp-steps model=M threads=T steps=S best_ms=B median_ms=M
 * Build (against the static library of a build folder B):
 *   cc -O2 -fopenmp -Iinclude -IB/include bench/mlp_step.c B/libdescent.a [libdnnl.so]
 *      -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -lcjson -llapack -lz -lm
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include "descent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

static void fail(const char *what) {
  fprintf(stderr, "mlp_step: %s: %s\n", what, descent_last_error());
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: mlp_step THREADS STEPS [MODEL] [DATA_DIR]\n");
    return 2;
  }
  int threads = atoi(argv[1]), steps = atoi(argv[2]), warmup = 10;
  if (threads < 1 || steps < 1) {
    fprintf(stderr, "mlp_step: THREADS and STEPS must be positive integers\n");
    return 2;
  }
  const char *model = argc > 3 ? argv[3] : "mlp:784-256-128-10";
  const char *dir = argc > 4 ? argv[4] : NULL;
  /* The kernels the descent program runs, and its thread count. */
  if (descent_cpu_setup()) {
    fprintf(stderr, "mlp_step: %s\n", descent_last_error());
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
  if (descent_fashion_mnist_load(dir, &train, &test)) {
    fail("data");
    goto done;
  }
  if (descent_preprocess_fit(&pp, DESCENT_PREPROCESS_STANDARDIZE, &train, 1e-3) ||
      descent_preprocess_apply(&pp, &train)) {
    fail("preprocess");
    goto done;
  }
  if (descent_net_create(&net, model, &train.shape, DESCENT_LOSS_SOFTMAX_XENT, 128, 1)) {
    fail("network");
    goto done;
  }
  descent_objective *obj = descent_net_objective(net);
  if (descent_optimizer_create(&opt, "sgd", "0.1", obj->n_params)) {
    fail("optimizer");
    goto done;
  }
  if (descent_batcher_create(&batcher, &train, 128, 1, 7)) {
    fail("batcher");
    goto done;
  }
  times = calloc((size_t)steps, sizeof *times);
  if (!times) {
    fprintf(stderr, "mlp_step: out of memory\n");
    goto done;
  }
  descent_batch batch;
  for (int s = 0; s < warmup + steps; s++) {
    double loss, t0 = now();
    if (!descent_batcher_next(batcher, &batch)) descent_batcher_next(batcher, &batch);
    if (descent_objective_value_and_grad(obj, &batch, &loss) || descent_optimizer_step(opt, obj)) {
      fail("step");
      goto done;
    }
    if (s >= warmup) times[s - warmup] = now() - t0;
  }
  qsort(times, (size_t)steps, sizeof *times, compare);
  printf("descent-mlp-steps model=%s threads=%d steps=%d best_ms=%.3f median_ms=%.3f\n", model,
         threads, steps, 1e3 * times[0], 1e3 * times[steps / 2]);
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
