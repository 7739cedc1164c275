/*
 * phases.c - the main job's work outside the training steps, timed phase by
 * phase, for bench/phases.sh: reading Fashion-MNIST (both splits, gzip
 * inflated), fitting the standardization on the training set, applying it
 * to both splits, and one evaluation of the test set by the main job's
 * network (mlp:784-256-128-10, batch 128), as `descent train` does at each
 * epoch's end.
 *
 * Usage: phases [--threads T] [--repeats R] [--inputs bytes|numbers]
 *   T: the OpenMP count of the loading thread and the network (default 1);
 *   R: runs of the whole sequence (default 5). The evaluation is the best
 *   of 5 calls in each run (the first call pays for the caches);
 *   inputs: the images held as their bytes, as `descent train` holds them
 *   (descent_fashion_mnist_load_bytes; the default), or as numbers.
 * Prints one line per run:
 *   phases threads=T inputs=I load_s=.. fit_s=.. apply_s=.. eval_s=.. total_s=..
 */
#include "descent.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

static int fail(const char *what) {
  fprintf(stderr, "phases: %s: %s\n", what, descent_last_error());
  return 1;
}

static int run(int threads, int bytes) {
  descent_dataset train, test;
  descent_preprocess pp;
  descent_net *net = NULL;
  double t0 = now();
  if (bytes ? descent_fashion_mnist_load_bytes(NULL, &train, &test)
            : descent_fashion_mnist_load(NULL, &train, &test))
    return fail("load");
  double t1 = now();
  if (descent_preprocess_fit(&pp, DESCENT_PREPROCESS_STANDARDIZE, &train, 1e-3)) return fail("fit");
  double t2 = now();
  if (descent_preprocess_apply(&pp, &train) || descent_preprocess_apply(&pp, &test))
    return fail("apply");
  double t3 = now();
  if (descent_net_create(&net, "mlp:784-256-128-10", &test.shape, DESCENT_LOSS_SOFTMAX_XENT, 128,
                         1) ||
      descent_net_set_threads(net, threads))
    return fail("network");
  double eval = 1e30, loss, accuracy;
  for (int i = 0; i < 5; i++) {
    double e0 = now();
    if (descent_net_evaluate(net, &test, &loss, &accuracy)) return fail("evaluate");
    double e = now() - e0;
    if (e < eval) eval = e;
  }
  printf("phases threads=%d inputs=%s load_s=%.3f fit_s=%.3f apply_s=%.3f eval_s=%.3f "
         "total_s=%.3f\n",
         threads, bytes ? "bytes" : "numbers", t1 - t0, t2 - t1, t3 - t2, eval, t3 - t0 + eval);
  descent_net_free(net);
  descent_preprocess_free(&pp);
  descent_dataset_free(&train);
  descent_dataset_free(&test);
  return 0;
}

int main(int argc, char **argv) {
  int threads = 1, repeats = 5, bytes = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--threads") == 0)
      threads = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--repeats") == 0)
      repeats = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--inputs") == 0 &&
             (strcmp(argv[i + 1], "bytes") == 0 || strcmp(argv[i + 1], "numbers") == 0))
      bytes = strcmp(argv[i + 1], "bytes") == 0;
    else {
      fprintf(stderr, "phases: unknown option '%s' (or --inputs other than bytes, numbers)\n",
              argv[i]);
      return 2;
    }
  }
  if (threads < 1 || repeats < 1) {
    fprintf(stderr, "phases: --threads and --repeats must be at least 1\n");
    return 2;
  }
  omp_set_num_threads(threads); /* the loading thread's count, as descent train sets it */
  for (int r = 0; r < repeats; r++)
    if (run(threads, bytes)) return 1;
  return 0;
}
