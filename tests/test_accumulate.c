/*
 * test_accumulate.c - gradient accumulation (descent_objective_accumulate):
 *  - on a network with batch norm and dropout, a batch of 50 in micro-batches
 *    of 16 (16, 16, 16 and 2) gives the bits of the same micro-batches done
 *    by hand: the gradient and loss (each micro-batch's mean weighted by its
 *    size, summed in double), batch norm's running statistics (updated once
 *    per micro-batch) and the dropout RNG (drawn micro-batch after
 *    micro-batch); and it differs from the large batch, whose batch norm
 *    normalizes over all 50;
 *  - with one dropout layer (and no batch norm) the micro-batches draw the
 *    large batch's masks: its gradient to rounding, its RNG state;
 *  - a batch of at most one micro-batch gives the inner objective's bits;
 *  - the default MLP (784-256-128-10, no batch norm) trained with batches of
 *    128 in micro-batches of 32 stays within the measured bound of the same
 *    run with batches of 128 (float and double: only the order of the sums
 *    differs);
 *  - a run with accumulation saved after a step and loaded into fresh
 *    objects ends with the bits of one never stopped;
 *  - re-evaluation: exact for an objective without randomness, refused for
 *    a network over several micro-batches;
 *  - refusals: micro-batch 0 or above the network's size, batches it cannot
 *    cut, data of another width, curvature products.
 */
#include "check.h"
#include "descent.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_FEATURES 16
#define SMALL_CLASSES  10

static char tmp[1024];

static void random_data(descent_dataset *ds, size_t n, size_t features, uint64_t seed) {
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  memset(ds, 0, sizeof *ds);
  ds->n = n;
  ds->shape = (descent_shape){1, {features}};
  ds->features = features;
  ds->classes = SMALL_CLASSES;
  ds->x = malloc(n * features * sizeof *ds->x);
  ds->labels = malloc(n * sizeof *ds->labels);
  for (size_t i = 0; i < n * features; i++) ds->x[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < n; i++) {
    /* A learnable rule: the class of the largest of the first ten features
       (of all, when there are fewer). */
    size_t best = 0, among = features < SMALL_CLASSES ? features : SMALL_CLASSES;
    for (size_t j = 1; j < among; j++)
      if (ds->x[i * features + j] > ds->x[i * features + best]) best = j;
    ds->labels[i] = (int32_t)best;
  }
}

static descent_batch whole(const descent_dataset *ds, size_t n) {
  return (descent_batch){.n = n, .x = ds->x, .labels = ds->labels};
}

static double max_relative_difference(const descent_real *a, const descent_real *b, size_t n) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < n; i++) {
    diff = check_worst(diff, fabs((double)a[i] - (double)b[i]));
    scale = check_worst(scale, fabs((double)a[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

static int same_state(descent_net *a, descent_net *b) {
  size_t na, nb;
  descent_real *ba = descent_net_buffers(a, &na), *bb = descent_net_buffers(b, &nb);
  descent_rng ra, rb;
  descent_net_get_rng(a, &ra);
  descent_net_get_rng(b, &rb);
  return na == nb && memcmp(ba, bb, na * sizeof *ba) == 0 && memcmp(&ra, &rb, sizeof ra) == 0;
}

/* ---- one evaluation against the micro-batches done by hand ---------------------------- */

static const char *bn_model = "dense(24), batchnorm, relu, dropout(0.3), dense(10)";

static void test_by_hand(void) {
  descent_dataset ds;
  random_data(&ds, 50, SMALL_FEATURES, 3);
  descent_net *a = NULL, *b = NULL, *big = NULL;
  CHECK_OK(descent_net_create(&a, bn_model, &ds.shape, DESCENT_LOSS_SOFTMAX_XENT, 16, 5));
  CHECK_OK(descent_net_create(&b, bn_model, &ds.shape, DESCENT_LOSS_SOFTMAX_XENT, 16, 5));
  CHECK_OK(descent_net_create(&big, bn_model, &ds.shape, DESCENT_LOSS_SOFTMAX_XENT, 50, 5));
  if (!a || !b || !big) return;
  descent_objective *acc = NULL, *ob = descent_net_objective(b);
  CHECK_OK(descent_objective_accumulate(&acc, descent_net_objective(a), 16, SMALL_FEATURES, 10));
  if (!acc) return;
  size_t n = acc->n_params;
  CHECK(acc->params == descent_net_objective(a)->params && acc->grad != NULL);
  CHECK(strcmp(acc->ops->kind, "network") == 0);
  for (int round = 0; round < 2; round++) { /* the second with the state the first left */
    descent_batch batch = whole(&ds, 50);
    double loss, by_hand = 0;
    CHECK_OK(descent_objective_value_and_grad(acc, &batch, &loss));
    double *sum = calloc(n, sizeof *sum);
    for (size_t first = 0; first < 50; first += 16) {
      size_t count = 50 - first < 16 ? 50 - first : 16;
      descent_batch s = {
          .n = count, .x = ds.x + first * SMALL_FEATURES, .labels = ds.labels + first};
      double part, w = (double)count / 50.0;
      CHECK_OK(descent_objective_value_and_grad(ob, &s, &part));
      by_hand += w * part;
      for (size_t i = 0; i < n; i++) sum[i] += w * (double)ob->grad[i];
    }
    descent_real *g = malloc(n * sizeof *g);
    for (size_t i = 0; i < n; i++) g[i] = (descent_real)sum[i];
    CHECK_MSG(check_count_differences(acc->grad, g, n) == 0,
              "round %d: %zu gradient values differ from the micro-batches by hand", round,
              check_count_differences(acc->grad, g, n));
    CHECK_MSG(memcmp(&loss, &by_hand, sizeof loss) == 0, "loss %.17g, by hand %.17g", loss,
              by_hand);
    CHECK_MSG(same_state(a, b), "round %d: running statistics or dropout RNG differ", round);
    free(sum);
    free(g);
  }
  /* The large batch normalizes over all 50: another gradient. */
  descent_objective *obig = descent_net_objective(big);
  descent_batch batch = whole(&ds, 50);
  double loss_big;
  descent_net *fresh = NULL;
  CHECK_OK(descent_net_create(&fresh, bn_model, &ds.shape, DESCENT_LOSS_SOFTMAX_XENT, 16, 5));
  descent_objective *facc = NULL;
  CHECK_OK(
      descent_objective_accumulate(&facc, descent_net_objective(fresh), 16, SMALL_FEATURES, 10));
  double loss_acc;
  CHECK_OK(descent_objective_value_and_grad(obig, &batch, &loss_big));
  CHECK_OK(descent_objective_value_and_grad(facc, &batch, &loss_acc));
  double d = max_relative_difference(obig->grad, facc->grad, n);
  printf("batch norm: micro-batches of 16 against the batch of 50: gradient %.3g relative\n", d);
  CHECK_MSG(d > 1e-3, "with batch norm the micro-batches should differ from the batch: %g", d);
  descent_objective_free(facc);
  descent_net_free(fresh);
  descent_objective_free(acc);
  descent_net_free(a);
  descent_net_free(b);
  descent_net_free(big);
  descent_dataset_free(&ds);
}

/* One dropout layer and no batch norm: the micro-batches draw the large
   batch's masks (example after example from the same RNG), so the gradient
   is the large batch's up to rounding and the RNG ends where it does. */
static void test_dropout_masks(void) {
  const char *model = "dense(24), relu, dropout(0.5), dense(10)";
  descent_dataset ds;
  random_data(&ds, 50, SMALL_FEATURES, 12);
  descent_net *a = NULL, *big = NULL;
  CHECK_OK(descent_net_create(&a, model, &ds.shape, DESCENT_LOSS_SOFTMAX_XENT, 16, 2));
  CHECK_OK(descent_net_create(&big, model, &ds.shape, DESCENT_LOSS_SOFTMAX_XENT, 50, 2));
  descent_objective *acc = NULL, *obig = big ? descent_net_objective(big) : NULL;
  if (a)
    CHECK_OK(descent_objective_accumulate(&acc, descent_net_objective(a), 16, SMALL_FEATURES, 10));
  if (!acc || !obig) return;
  descent_batch batch = whole(&ds, 50);
  double la, lb;
  CHECK_OK(descent_objective_value_and_grad(acc, &batch, &la));
  CHECK_OK(descent_objective_value_and_grad(obig, &batch, &lb));
  double d = max_relative_difference(obig->grad, acc->grad, acc->n_params);
  printf("one dropout layer: micro-batches of 16 against the batch of 50: gradient %.3g "
         "relative\n",
         d);
  CHECK_MSG(d <= (sizeof(descent_real) == 8 ? 1e-14 : 1e-5), "the masks differ: %g", d);
  CHECK_REL(la, lb, sizeof(descent_real) == 8 ? 1e-14 : 1e-6);
  CHECK(same_state(a, big));
  descent_objective_free(acc);
  descent_net_free(a);
  descent_net_free(big);
  descent_dataset_free(&ds);
}

/* A batch of one micro-batch or less: the inner objective's own bits. */
static void test_one_micro_batch(void) {
  descent_dataset ds;
  random_data(&ds, 16, SMALL_FEATURES, 4);
  descent_net *a = NULL, *b = NULL;
  CHECK_OK(descent_net_create(&a, bn_model, &ds.shape, DESCENT_LOSS_SOFTMAX_XENT, 16, 9));
  CHECK_OK(descent_net_create(&b, bn_model, &ds.shape, DESCENT_LOSS_SOFTMAX_XENT, 16, 9));
  descent_objective *acc = NULL, *ob = descent_net_objective(b);
  CHECK_OK(descent_objective_accumulate(&acc, descent_net_objective(a), 16, SMALL_FEATURES, 10));
  if (!acc) return;
  descent_batch batch = whole(&ds, 16);
  double la, lb;
  CHECK_OK(descent_objective_value_and_grad(acc, &batch, &la));
  CHECK_OK(descent_objective_value_and_grad(ob, &batch, &lb));
  CHECK(memcmp(&la, &lb, sizeof la) == 0);
  CHECK(check_count_differences(acc->grad, ob->grad, acc->n_params) == 0);
  CHECK(same_state(a, b));
  /* Its re-evaluation is the network's replay. */
  descent_real *g = malloc(acc->n_params * sizeof *g);
  CHECK_OK(descent_objective_reevaluate(acc, &batch, &la, g));
  CHECK(check_count_differences(g, ob->grad, acc->n_params) == 0);
  free(g);
  descent_objective_free(acc);
  descent_net_free(a);
  descent_net_free(b);
  descent_dataset_free(&ds);
}

/* ---- training: the default MLP, accumulated against the large batch ------------------- */

typedef struct run {
  descent_net *net;
  descent_optimizer *opt;
  descent_objective *acc; /* NULL: the network's objective */
  descent_trainer *t;
} run;

/* A trainer over ds in batches of batch, evaluated in micro-batches of
   micro (0: the whole batch at once). */
static int start(run *x, const char *model, const char *opt, const descent_dataset *ds,
                 size_t batch, size_t micro, const char *ckpt_dir) {
  memset(x, 0, sizeof *x);
  int rc = descent_net_create(&x->net, model, &ds->shape, DESCENT_LOSS_SOFTMAX_XENT,
                              micro ? micro : batch, 7);
  descent_objective *obj = rc ? NULL : descent_net_objective(x->net);
  if (!rc) rc = descent_optimizer_create(&x->opt, opt, NULL, obj->n_params);
  if (!rc && micro)
    rc = descent_objective_accumulate(&x->acc, obj, micro, ds->features, SMALL_CLASSES);
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = batch;
  o.seed = 11;
  o.threads = 1;
  o.checkpoint_dir = ckpt_dir;
  o.checkpoint_epochs = ckpt_dir != NULL;
  if (!rc) rc = descent_trainer_create(&x->t, x->acc ? x->acc : obj, x->opt, ds, &o);
  return rc;
}

static void finish(run *x) {
  descent_trainer_free(x->t);
  descent_objective_free(x->acc);
  descent_optimizer_free(x->opt);
  descent_net_free(x->net);
}

/* The bound asserted on the parameters' largest difference, relative to
   their largest magnitude, after 24 steps: about ten times what was
   measured (3.4e-16 in double, 1.8e-7 in float; half the parameters differ
   in their last bits, in both). */
#define MLP_BOUND (sizeof(descent_real) == 8 ? 1e-14 : 2e-6)

static void test_default_mlp(void) {
  descent_dataset ds;
  random_data(&ds, 1000, 784, 5); /* 8 batches of 128 an epoch, the last of 104 */
  run big, acc;
  const char *mlp = "mlp:784-256-128-10";
  CHECK_OK(start(&big, mlp, "momentum(lr=0.05)", &ds, 128, 0, NULL));
  CHECK_OK(start(&acc, mlp, "momentum(lr=0.05)", &ds, 128, 32, NULL));
  if (big.t && acc.t) {
    CHECK_OK(descent_trainer_run(big.t, 3, 0));
    CHECK_OK(descent_trainer_run(acc.t, 3, 0));
    descent_objective *a = descent_net_objective(big.net), *b = descent_net_objective(acc.net);
    double d = max_relative_difference(a->params, b->params, a->n_params);
    size_t differ = check_count_differences(a->params, b->params, a->n_params);
    size_t count;
    const double *la, *lb;
    descent_trainer_history(big.t, &count, &la, NULL);
    descent_trainer_history(acc.t, &count, &lb, NULL);
    double loss_diff = 0;
    for (size_t i = 0; i < count; i++) loss_diff = check_worst(loss_diff, fabs(la[i] - lb[i]));
    printf("default MLP, %zu steps of 128 against 4 x 32 (%s): parameters %.3g relative (%zu of "
           "%zu differ in their bits), losses %.3g apart\n",
           count, sizeof(descent_real) == 8 ? "double" : "float", d, differ, a->n_params,
           loss_diff);
    CHECK(count == 24);
    CHECK_MSG(d <= MLP_BOUND, "parameters %.3g apart, bound %g", d, MLP_BOUND);
    CHECK_MSG(loss_diff <= 100 * MLP_BOUND, "losses %.3g apart", loss_diff);
  }
  finish(&big);
  finish(&acc);
  descent_dataset_free(&ds);
}

/* ---- saved after a step, loaded into fresh objects ------------------------------------ */

static void test_resume(void) {
  descent_dataset ds;
  random_data(&ds, 100, SMALL_FEATURES, 6); /* batches of 24: 4 of 24 and one of 4 */
  run straight, first, second;
  char path[1200];
  snprintf(path, sizeof path, "%s/accumulate-step7.dsc", tmp);
  CHECK_OK(start(&straight, bn_model, "adam(lr=0.01)", &ds, 24, 8, NULL));
  CHECK_OK(start(&first, bn_model, "adam(lr=0.01)", &ds, 24, 8, NULL));
  CHECK_OK(start(&second, bn_model, "adam(lr=0.01)", &ds, 24, 8, NULL));
  if (straight.t && first.t && second.t) {
    CHECK_OK(descent_trainer_run(straight.t, 3, 0));
    CHECK_OK(descent_trainer_run(first.t, 3, 7));
    CHECK_OK(descent_trainer_save(first.t, path));
    CHECK_OK(descent_trainer_load(second.t, path));
    CHECK(descent_trainer_steps(second.t) == 7);
    CHECK_OK(descent_trainer_run(second.t, 3, 0));
    descent_objective *a = descent_net_objective(straight.net);
    descent_objective *b = descent_net_objective(second.net);
    CHECK_MSG(check_count_differences(a->params, b->params, a->n_params) == 0,
              "resumed: %zu parameters differ",
              check_count_differences(a->params, b->params, a->n_params));
    CHECK_MSG(same_state(straight.net, second.net), "resumed: statistics or RNG differ");
    CHECK(descent_trainer_steps(second.t) == 15);
  }
  finish(&straight);
  finish(&first);
  finish(&second);
  remove(path);
  descent_dataset_free(&ds);
}

/* ---- re-evaluation and refusals ----------------------------------------------------------- */

/* A least-squares objective without randomness or state (no reevaluate):
   loss = mean of (theta . x_i - y_i)^2 / 2 with y_i = label_i. */
typedef struct lsq {
  descent_objective obj;
  descent_real theta[4], grad[4];
} lsq;

static int lsq_value_and_grad(descent_objective *obj, const descent_batch *b, double *loss) {
  lsq *m = obj->impl;
  double g[4] = {0}, sum = 0;
  for (size_t i = 0; i < b->n; i++) {
    double r = -(double)b->labels[i];
    for (int j = 0; j < 4; j++) r += (double)m->theta[j] * (double)b->x[i * 4 + j];
    sum += r * r / 2;
    for (int j = 0; j < 4; j++) g[j] += r * (double)b->x[i * 4 + j] / (double)b->n;
  }
  for (int j = 0; j < 4; j++) m->grad[j] = (descent_real)g[j];
  *loss = sum / (double)b->n;
  return DESCENT_OK;
}

static const descent_objective_ops lsq_ops = {.kind = "lsq", .value_and_grad = lsq_value_and_grad};

static void test_reevaluate_and_refusals(void) {
  descent_dataset ds;
  random_data(&ds, 10, 4, 8);
  lsq m = {0};
  m.obj = (descent_objective){&lsq_ops, 4, m.theta, m.grad, 0, NULL, &m};
  for (int j = 0; j < 4; j++) m.theta[j] = (descent_real)(0.25 * (j + 1));
  descent_objective *acc = NULL;
  CHECK_OK(descent_objective_accumulate(&acc, &m.obj, 3, 4, 0));
  if (acc) {
    descent_batch batch = whole(&ds, 10);
    double l1, l2;
    descent_real g[4];
    CHECK_OK(descent_objective_value_and_grad(acc, &batch, &l1));
    descent_real kept[4];
    memcpy(kept, acc->grad, sizeof kept);
    memset(acc->grad, 0, sizeof kept);
    CHECK_OK(descent_objective_reevaluate(acc, &batch, &l2, g));
    CHECK(memcmp(&l1, &l2, sizeof l1) == 0 && memcmp(g, kept, sizeof g) == 0);
    CHECK_MSG(acc->grad[0] == 0, "re-evaluation into another buffer wrote obj->grad");
    CHECK_OK(descent_objective_value(acc, &batch, &l2));
    CHECK(memcmp(&l1, &l2, sizeof l1) == 0);
    /* The whole batch at once: the same mean, up to the sums' order. */
    double l3;
    CHECK_OK(descent_objective_value_and_grad(&m.obj, &batch, &l3));
    CHECK_CLOSE(l1, l3, 1e-6);
    descent_batch with_targets = batch;
    with_targets.targets = ds.x;
    CHECK_FAILS(descent_objective_value_and_grad(acc, &with_targets, &l1), DESCENT_EINVAL,
                "made with outputs 0");
    CHECK_FAILS(descent_objective_hvp(acc, &batch, kept, g), DESCENT_ENOTSUP, "Hessian");
    descent_objective_free(acc);
  }
  /* A network replays only its last micro-batch. */
  descent_dataset small;
  random_data(&small, 20, SMALL_FEATURES, 9);
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, bn_model, &small.shape, DESCENT_LOSS_SOFTMAX_XENT, 8, 1));
  if (net) {
    descent_objective *inner = descent_net_objective(net);
    CHECK_FAILS(descent_objective_accumulate(&acc, inner, 0, SMALL_FEATURES, 10), DESCENT_EINVAL,
                "micro_batch is 0");
    CHECK_FAILS(descent_objective_accumulate(&acc, inner, 9, SMALL_FEATURES, 10), DESCENT_EINVAL,
                "micro-batches of 9, the network takes at most 8");
    CHECK_FAILS(descent_objective_accumulate(NULL, inner, 8, SMALL_FEATURES, 10), DESCENT_EINVAL,
                "a NULL argument");
    CHECK_OK(descent_objective_accumulate(&acc, inner, 8, SMALL_FEATURES, 10));
    descent_batch batch = whole(&small, 20);
    double loss;
    CHECK_OK(descent_objective_value_and_grad(acc, &batch, &loss));
    CHECK_FAILS(descent_objective_reevaluate(acc, &batch, &loss, NULL), DESCENT_ENOTSUP,
                "replays only its last evaluation");
    /* The trainer refuses data of another width, and methods that need
       curvature products. */
    descent_optimizer *opt = NULL;
    descent_trainer *t = NULL;
    CHECK_OK(descent_optimizer_create(&opt, "sgd", NULL, acc->n_params));
    CHECK_FAILS(descent_trainer_create(&t, acc, opt, &ds, NULL), DESCENT_EINVAL,
                "the data's examples have 4 features, the objective was made to cut batches of 16");
    descent_optimizer_free(opt);
    opt = NULL;
    CHECK_OK(descent_optimizer_create(&opt, "hf", NULL, acc->n_params));
    if (opt) CHECK(descent_trainer_create(&t, acc, opt, &small, NULL) == DESCENT_ENOTSUP);
    descent_trainer_free(t);
    descent_optimizer_free(opt);
    descent_objective_free(acc);
    descent_net_free(net);
  }
  descent_dataset_free(&small);
  descent_dataset_free(&ds);
}

int main(void) {
  const char *base = getenv("DESCENT_TEST_TMP");
  snprintf(tmp, sizeof tmp, "%s", base ? base : ".");
  test_by_hand();
  test_one_micro_batch();
  test_dropout_masks();
  test_default_mlp();
  test_resume();
  test_reevaluate_and_refusals();
  return check_report();
}
