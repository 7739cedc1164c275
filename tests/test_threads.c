/*
 * test_threads.c - two trainers in one process on two threads at once, each
 * with its own thread count, give the same bits as each run alone.
 *
 * Two runs: an MLP whose products are large enough to be split among
 * threads, and a small CNN (convolution, pooling, im2col products). Each is
 * trained alone (serially) at 1 and at 2 threads; then both at once on two
 * pthreads, one at 1 thread and the other at 2, and the other way round.
 * Every concurrent run (its network set to the other count, which its
 * trainer overrides) must end with the parameters of its run alone, bit
 * for bit, and the calling thread's OpenMP setting must be as it was.
 * Fashion-MNIST's first 384 training images when the data is installed,
 * else synthetic images (the check is the same).
 */
#include "check.h"
#include "descent.h"
#include "nn/network_internal.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXAMPLES = 384, BATCH = 128, EPOCHS = 2 };

typedef struct run {
  const char *spec, *optimizer, *lr;
  uint64_t seed;
  int threads;
  const descent_dataset *data;
  descent_real *params; /* the result, malloc'd */
  size_t n_params;
  int rc;
  int net_threads;  /* the network's own count, which the trainer's overrides */
  int seen_threads; /* the OpenMP count the trainer's callback ran with */
  char error[256];
} run;

static void on_step(void *user, const descent_step_report *report) {
  (void)report;
  ((run *)user)->seen_threads = omp_get_max_threads();
}

static void *train(void *arg) {
  run *r = arg;
  descent_net *net = NULL;
  descent_optimizer *opt = NULL;
  descent_trainer *trainer = NULL;
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = BATCH;
  o.seed = r->seed;
  o.threads = r->threads;
  o.on_step = on_step;
  o.user = r;
  r->rc =
      descent_net_create(&net, r->spec, &r->data->shape, DESCENT_LOSS_SOFTMAX_XENT, BATCH, r->seed);
  /* Work areas for the trainer's count, then the network's own count, which
     the trainer's overrides. */
  if (!r->rc) r->rc = descent_net_set_threads(net, r->threads);
  if (!r->rc) r->rc = descent_net_set_threads(net, r->net_threads);
  if (!r->rc)
    r->rc =
        descent_optimizer_create(&opt, r->optimizer, r->lr, descent_net_objective(net)->n_params);
  if (!r->rc)
    r->rc = descent_trainer_create(&trainer, descent_net_objective(net), opt, r->data, &o);
  if (!r->rc) r->rc = descent_trainer_run(trainer, EPOCHS, 0);
  if (!r->rc) {
    descent_objective *obj = descent_net_objective(net);
    r->n_params = obj->n_params;
    r->params = malloc(obj->n_params * sizeof *r->params);
    if (r->params) memcpy(r->params, obj->params, obj->n_params * sizeof *r->params);
  }
  snprintf(r->error, sizeof r->error, "%s", r->rc ? descent_last_error() : "");
  descent_trainer_free(trainer);
  descent_optimizer_free(opt);
  descent_net_free(net);
  return NULL;
}

/* Synthetic 1x28x28 images whose class shifts their mean. */
static int synthetic(descent_dataset *ds) {
  ds->n = EXAMPLES;
  ds->shape = (descent_shape){3, {1, 28, 28}};
  ds->features = 784;
  ds->classes = 10;
  ds->x = malloc(EXAMPLES * 784 * sizeof *ds->x);
  ds->labels = malloc(EXAMPLES * sizeof *ds->labels);
  if (!ds->x || !ds->labels) return -1;
  descent_rng rng;
  descent_rng_seed(&rng, 3);
  for (size_t i = 0; i < EXAMPLES; i++) {
    ds->labels[i] = (int32_t)descent_rng_below(&rng, 10);
    for (size_t j = 0; j < 784; j++)
      ds->x[i * 784 + j] =
          (descent_real)(descent_rng_uniform(&rng) + 0.05 * ds->labels[i] * (j % 7 == 0));
  }
  return 0;
}

static void check_same(const run *alone, const run *together) {
  CHECK_MSG(alone->rc == 0 && together->rc == 0, "%s at %d threads: %s%s", alone->spec,
            alone->threads, alone->error, together->error);
  if (alone->rc || together->rc || !alone->params || !together->params) return;
  CHECK_MSG(together->seen_threads == together->threads,
            "%s: the trainer's callback ran at %d threads, the trainer has %d", together->spec,
            together->seen_threads, together->threads);
  CHECK(alone->n_params == together->n_params);
  CHECK_MSG(memcmp(alone->params, together->params, alone->n_params * sizeof *alone->params) == 0,
            "%s at %d threads: beside another trainer, the parameters differ from the run alone",
            alone->spec, alone->threads);
}

/* mlp at mlp_threads and cnn at the other count, at once. */
static void check_together(run *mlp_alone, run *cnn_alone) {
  run mlp = *mlp_alone, cnn = *cnn_alone;
  mlp.params = cnn.params = NULL;
  /* Each network's own count is the other one: the trainers' must hold. */
  mlp.net_threads = 3 - mlp.threads;
  cnn.net_threads = 3 - cnn.threads;
  pthread_t a, b;
  int caller = omp_get_max_threads();
  CHECK(pthread_create(&a, NULL, train, &mlp) == 0);
  CHECK(pthread_create(&b, NULL, train, &cnn) == 0);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  check_same(mlp_alone, &mlp);
  check_same(cnn_alone, &cnn);
  CHECK_MSG(omp_get_max_threads() == caller, "this thread's OpenMP count went from %d to %d",
            caller, omp_get_max_threads());
  printf("together: %s at %d thread(s), %s at %d: same bits as alone\n", mlp.spec, mlp.threads,
         cnn.spec, cnn.threads);
  free(mlp.params);
  free(cnn.params);
}

/* One value and gradient of a network made while the calling thread's
   OpenMP count was `made_at`, then given `threads`. */
static int gradient(const char *spec, const descent_dataset *ds, int made_at, int threads,
                    descent_real *grad, double *loss, int *slots) {
  int caller = omp_get_max_threads();
  omp_set_num_threads(made_at);
  descent_net *net = NULL;
  int rc = descent_net_create(&net, spec, &ds->shape, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 5);
  omp_set_num_threads(caller);
  if (!rc) rc = descent_net_set_threads(net, threads);
  descent_batch batch = {.n = BATCH, .x = ds->x, .labels = ds->labels};
  if (!rc) rc = descent_objective_value_and_grad(descent_net_objective(net), &batch, loss);
  if (!rc) {
    memcpy(grad, descent_net_objective(net)->grad,
           descent_net_objective(net)->n_params * sizeof *grad);
    *slots = net->layers[0].work_slots;
  }
  CHECK_MSG(omp_get_max_threads() == caller, "the network's call left this thread at %d, not %d",
            omp_get_max_threads(), caller);
  descent_net_free(net);
  return rc;
}

/* A network made for 1 thread and set to 3 grows its convolutions' work
   areas, and computes the bits of one made for 3; bad counts are refused. */
static void check_set_threads(const char *spec, const descent_dataset *ds) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, &ds->shape, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 5));
  if (!net) return;
  size_t n = descent_net_objective(net)->n_params;
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "adam", NULL, n));
  CHECK_FAILS(descent_net_set_threads(net, -1), DESCENT_EINVAL, "negative");
  CHECK_FAILS(descent_optimizer_set_threads(opt, -2), DESCENT_EINVAL, "negative");
  CHECK(descent_net_threads(net) == 0 && descent_optimizer_threads(opt) == 0);
  CHECK_OK(descent_optimizer_set_threads(opt, 3));
  CHECK(descent_optimizer_threads(opt) == 3);
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.threads = -1;
  descent_trainer *t = NULL;
  CHECK_FAILS(descent_trainer_create(&t, descent_net_objective(net), opt, ds, &o), DESCENT_EINVAL,
              "threads");
  descent_trainer_free(t);
  descent_optimizer_free(opt);
  descent_net_free(net);

  descent_real *g1 = malloc(n * sizeof *g1), *g3 = malloc(n * sizeof *g3);
  double l1 = 0, l3 = 0;
  int s1 = 0, s3 = 0;
  CHECK_OK(gradient(spec, ds, 1, 3, g1, &l1, &s1));
  CHECK_OK(gradient(spec, ds, 3, 3, g3, &l3, &s3));
  CHECK_MSG(s1 == 3 && s3 == 3, "work slots %d and %d, expected 3", s1, s3);
  CHECK_MSG(l1 == l3 && memcmp(g1, g3, n * sizeof *g1) == 0,
            "made for 1 thread then set to 3: loss %.17g, gradient differ from made for 3 (%.17g)",
            l1, l3);
  free(g1);
  free(g3);
}

int main(void) {
  descent_dataset train_set = {0}, test_set = {0};
  if (descent_fashion_mnist_load(NULL, &train_set, &test_set) == DESCENT_OK) {
    CHECK_OK(descent_dataset_truncate(&train_set, EXAMPLES));
    printf("data: Fashion-MNIST, the first %d training images\n", EXAMPLES);
  } else {
    printf("data: synthetic (Fashion-MNIST: %s)\n", descent_last_error());
    descent_dataset_free(&train_set);
    CHECK(synthetic(&train_set) == 0);
  }
  descent_dataset_free(&test_set);
  const char *mlp_spec = "mlp:784-512-10";
  const char *cnn_spec = "conv(8, 5, pad=2), relu, maxpool(2), conv(16, 5, pad=2), relu, "
                         "maxpool(2), dense(10)";
  check_set_threads(cnn_spec, &train_set);
  run alone[2][2]; /* [mlp, cnn][1 thread, 2 threads] */
  for (int m = 0; m < 2; m++)
    for (int t = 0; t < 2; t++) {
      alone[m][t] = (run){.spec = m ? cnn_spec : mlp_spec,
                          .optimizer = m ? "momentum" : "adam",
                          .lr = m ? "0.05" : "1e-3",
                          .seed = (uint64_t)(m + 1),
                          .threads = t + 1,
                          .net_threads = t + 1,
                          .data = &train_set};
      train(&alone[m][t]);
      CHECK_MSG(alone[m][t].rc == 0, "%s alone at %d threads: %s", alone[m][t].spec, t + 1,
                alone[m][t].error);
    }
  for (int m = 0; m < 2; m++)
    if (alone[m][0].params && alone[m][1].params)
      printf("%s: 1 and 2 threads give %s parameters\n", m ? "cnn" : "mlp",
             memcmp(alone[m][0].params, alone[m][1].params,
                    alone[m][0].n_params * sizeof *alone[m][0].params)
                 ? "different"
                 : "the same");
  check_together(&alone[0][1], &alone[1][0]); /* mlp at 2, cnn at 1 */
  check_together(&alone[0][0], &alone[1][1]); /* mlp at 1, cnn at 2 */
  for (int m = 0; m < 2; m++)
    for (int t = 0; t < 2; t++) free(alone[m][t].params);
  descent_dataset_free(&train_set);
  return check_report();
}
