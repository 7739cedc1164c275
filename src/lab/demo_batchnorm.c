/*
 * demo_batchnorm.c - the lecture's idea 2 carried into the network (slide 31):
 * whitening helps a linear model; inside a deep network the hidden layers'
 * inputs are no longer white, and batch normalization (Ioffe & Szegedy 2015)
 * normalizes them in turn. The demo trains the same deep MLP (6 tanh layers
 * of 100 by default) on Fashion-MNIST with and without batch norm after
 * every hidden dense layer, with plain SGD at a sweep of learning rates, and
 * reports for each rate the final training loss and the test accuracy, and
 * the range of rates that work with and without batch norm. (With --act
 * sigmoid the network without batch norm does not learn at all in two
 * epochs at any rate: the gradient vanishes through six sigmoids.)
 *
 * Both networks start from the same weights (batch norm draws no random
 * numbers at initialization, so the dense layers' draws coincide) and see
 * the same minibatches. A run "works" when it ends with at least --works
 * test accuracy; one whose loss becomes NaN or infinite is stopped and
 * marked diverged.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lab_option batchnorm_options[] = {
    {"lr", "A,B,...", "0.003,0.01,0.03,0.1,0.3,1,3,10", "learning rates of plain SGD"},
    {"depth", "N", "6", "hidden layers"},
    {"width", "N", "100", "units per hidden layer"},
    {"act", "NAME", "tanh", "hidden activation: tanh, sigmoid or relu"},
    {"train", "N", "6000", "training images (the first N of Fashion-MNIST's 60,000)"},
    {"test", "N", "2000", "test images (the first N of its 10,000)"},
    {"epochs", "N", "2", "passes over the training images"},
    {"batch", "B", "50", "examples per minibatch"},
    {"works", "ACC", "0.7", "a run works when its test accuracy reaches this"},
    {"seed", "N", "1", "seed of the weights and of the minibatches"},
    {"data-dir", "DIR", DESCENT_FASHION_MNIST_DIR, "Fashion-MNIST's folder"},
};

typedef struct bn_setup {
  double lrs[LAB_MAX_LIST];
  int n_lrs;
  int64_t depth, width, train, test, epochs, batch, seed;
  double works;
  const char *act, *dir;
} bn_setup;

/* The same network with and without batch norm after each hidden dense
   layer, as a spec. */
static void bn_spec(const bn_setup *s, int with_bn, char *buf, size_t cap) {
  size_t used = 0;
  for (int64_t i = 0; i < s->depth && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "dense(%lld), %s%s, ", (long long)s->width,
                             with_bn ? "batchnorm, " : "", s->act);
  if (used < cap) snprintf(buf + used, cap - used, "dense(10)");
}

typedef struct bn_outcome {
  double loss, acc; /* last epoch's mean training loss; test accuracy */
  int diverged;
} bn_outcome;

/* The last epoch's mean training loss, as the trainer reports it. */
static int bn_epoch(void *user, const descent_epoch_report *r) {
  ((bn_outcome *)user)->loss = r->train_loss;
  return DESCENT_OK;
}

/* Plain SGD through the trainer; a loss or gradient that is NaN or infinite
   is a divergence (the guard's bound on finite losses is off: the demo asks
   whether a rate trains, not whether its loss rose). */
static int bn_train(const bn_setup *s, int with_bn, double lr, const descent_dataset *train,
                    const descent_dataset *test, bn_outcome *out) {
  char spec[2048], rate[64];
  bn_spec(s, with_bn, spec, sizeof spec);
  snprintf(rate, sizeof rate, "%.17g", lr);
  descent_net *net = NULL;
  descent_optimizer *opt = NULL;
  descent_trainer *trainer = NULL;
  memset(out, 0, sizeof *out);
  out->loss = NAN;
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = (size_t)s->batch;
  o.seed = (uint64_t)s->seed + 1;
  o.max_loss = INFINITY;
  o.on_epoch = bn_epoch;
  o.user = out;
  int rc = descent_net_create(&net, spec, &train->shape, DESCENT_LOSS_SOFTMAX_XENT,
                              (size_t)s->batch, (uint64_t)s->seed);
  descent_objective *obj = net ? descent_net_objective(net) : NULL;
  if (!rc) rc = descent_optimizer_create(&opt, "sgd", rate, obj->n_params);
  if (!rc) rc = descent_trainer_create(&trainer, obj, opt, train, &o);
  if (!rc) rc = descent_trainer_run(trainer, s->epochs, 0);
  if (rc == DESCENT_EDIVERGED) {
    out->diverged = 1;
    rc = DESCENT_OK;
  }
  if (!rc && !out->diverged) {
    double test_loss;
    rc = descent_net_evaluate(net, test, &test_loss, &out->acc);
    if (!rc && !isfinite(test_loss)) out->diverged = 1;
  }
  if (out->diverged) out->loss = out->acc = NAN;
  descent_trainer_free(trainer);
  descent_optimizer_free(opt);
  descent_net_free(net);
  return rc;
}

static int bn_data(const bn_setup *s, descent_dataset *train, descent_dataset *test) {
  int rc = descent_fashion_mnist_load(s->dir, train, test);
  if (!rc && (size_t)s->train < train->n) rc = descent_dataset_truncate(train, (size_t)s->train);
  if (!rc && (size_t)s->test < test->n) rc = descent_dataset_truncate(test, (size_t)s->test);
  descent_preprocess pp = {0};
  if (!rc)
    rc = descent_preprocess_fit(&pp, DESCENT_PREPROCESS_STANDARDIZE, train,
                                descent_preprocess_default_eps(DESCENT_PREPROCESS_STANDARDIZE));
  if (!rc) rc = descent_preprocess_apply(&pp, train);
  if (!rc) rc = descent_preprocess_apply(&pp, test);
  descent_preprocess_free(&pp);
  return rc;
}

static int bn_files(const char *dir, const bn_setup *s, lab_result *res) {
  FILE *f =
      lab_gp_open(dir, "batchnorm", 1400, 560, "learning rates with and without batch norm", res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 1,2 title \"A %lld-layer %s MLP on Fashion-MNIST, plain SGD: "
          "batch normalization widens the range of learning rates that work (slide 31)\" "
          "font \",13\"\n"
          "set logscale x\nset xlabel \"learning rate\"\nset grid\nset key bottom left\n"
          "set title \"test accuracy after %lld epoch(s) (missing: diverged)\"\n"
          "set ylabel \"test accuracy\"\nset yrange [0:1]\n"
          "plot 'batchnorm.csv' using 2:4 with linespoints pt 7 lw 2 lc rgb \"%s\" "
          "title \"without batch norm\", \\\n"
          "     'batchnorm.csv' using 2:7 with linespoints pt 7 lw 2 lc rgb \"%s\" "
          "title \"with batch norm\", \\\n"
          "     %g with lines dt 2 lc rgb \"#888888\" title \"works (accuracy %g)\"\n"
          "set title \"training loss in the last epoch\"\nset ylabel \"loss\"\n"
          "set logscale y\nset yrange [*:*]\nset key top left\n"
          "plot 'batchnorm.csv' using 2:3 with linespoints pt 7 lw 2 lc rgb \"%s\" "
          "title \"without batch norm\", \\\n"
          "     'batchnorm.csv' using 2:6 with linespoints pt 7 lw 2 lc rgb \"%s\" "
          "title \"with batch norm\"\n",
          (long long)s->depth, s->act, (long long)s->epochs, lab_color(1), lab_color(0), s->works,
          s->works, lab_color(1), lab_color(0));
  return lab_gp_close(f, "batchnorm", res);
}

/* Lowest and highest rate whose run works; NAN when none does. */
static void bn_range(const bn_setup *s, const bn_outcome *o, double *lo, double *hi) {
  *lo = *hi = NAN;
  for (int i = 0; i < s->n_lrs; i++)
    if (!o[i].diverged && o[i].acc >= s->works) {
      if (isnan(*lo) || s->lrs[i] < *lo) *lo = s->lrs[i];
      if (isnan(*hi) || s->lrs[i] > *hi) *hi = s->lrs[i];
    }
}

static int batchnorm_run(const lab_args *a, const char *dir, lab_result *res) {
  bn_setup s;
  int rc = lab_arg_list(a, "lr", 1e-6, 1e4, 1, LAB_MAX_LIST, s.lrs, &s.n_lrs);
  if (!rc) rc = lab_arg_int(a, "depth", 1, 50, &s.depth);
  if (!rc) rc = lab_arg_int(a, "width", 1, 4096, &s.width);
  if (!rc) rc = lab_arg_int(a, "train", 100, 60000, &s.train);
  if (!rc) rc = lab_arg_int(a, "test", 100, 10000, &s.test);
  if (!rc) rc = lab_arg_int(a, "epochs", 1, 100, &s.epochs);
  if (!rc) rc = lab_arg_int(a, "batch", 2, 4096, &s.batch);
  if (!rc) rc = lab_arg_double(a, "works", 0, 1, &s.works);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT64_MAX, &s.seed);
  if (rc) return rc;
  s.act = a->values[3];
  s.dir = a->values[10];
  if (strcmp(s.act, "sigmoid") != 0 && strcmp(s.act, "tanh") != 0 && strcmp(s.act, "relu") != 0)
    return descent_fail(DESCENT_EINVAL, "--act: '%s' is not sigmoid, tanh or relu", s.act);
  descent_dataset train = {0}, test = {0};
  rc = bn_data(&s, &train, &test);
  lab_table *t = rc ? NULL
                    : lab_result_table(res, "batchnorm",
                                       "Final training loss and test accuracy, plain SGD, with "
                                       "and without batch norm",
                                       "run|lr|plain loss|plain acc|plain|bn loss|bn acc|bn");
  lab_table *r = t ? lab_result_table(res, "batchnorm-range",
                                      "Learning rates that work (test accuracy >= --works)",
                                      "network|lowest|highest|span (x)|best acc|at lr")
                   : NULL;
  if (!rc && !r) rc = DESCENT_ERANGE;
  /* The runs are independent and each small (its matrix products too small
     to split between threads): one run per thread, each single-threaded
     inside the parallel region, gives the same numbers as in sequence. */
  bn_outcome o[2][LAB_MAX_LIST];
  int status[2 * LAB_MAX_LIST] = {0}, runs = 2 * s.n_lrs;
  if (!rc) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < runs; k++)
      status[k] = bn_train(&s, k % 2, s.lrs[k / 2], &train, &test, &o[k % 2][k / 2]);
  }
  for (int k = 0; k < runs && !rc; k++) /* again here, for the message */
    if (status[k]) rc = bn_train(&s, k % 2, s.lrs[k / 2], &train, &test, &o[k % 2][k / 2]);
  for (int i = 0; i < s.n_lrs && !rc; i++) {
    int row = lab_table_row(t, "lr=%g", s.lrs[i]);
    lab_table_num(t, row, "lr", s.lrs[i]);
    for (int v = 0; v < 2; v++) {
      lab_table_num(t, row, v ? "bn loss" : "plain loss", o[v][i].loss);
      lab_table_num(t, row, v ? "bn acc" : "plain acc", o[v][i].acc);
      lab_table_text(t, row, v ? "bn" : "plain", "%s",
                     o[v][i].diverged         ? "diverged"
                     : o[v][i].acc >= s.works ? "works"
                                              : "fails");
    }
  }
  double lo[2], hi[2];
  for (int v = 0; v < 2 && !rc; v++) {
    int row = lab_table_row(r, "%s", v ? "batch norm" : "plain");
    bn_range(&s, o[v], &lo[v], &hi[v]);
    lab_table_num(r, row, "lowest", lo[v]);
    lab_table_num(r, row, "highest", hi[v]);
    lab_table_num(r, row, "span (x)", hi[v] / lo[v]);
    int best = 0;
    for (int i = 1; i < s.n_lrs; i++)
      if (!o[v][i].diverged && (o[v][best].diverged || o[v][i].acc > o[v][best].acc)) best = i;
    lab_table_num(r, row, "best acc", o[v][best].acc);
    lab_table_num(r, row, "at lr", s.lrs[best]);
  }
  if (!rc) {
    char spec[256];
    bn_spec(&s, 1, spec, sizeof spec);
    lab_result_note(res,
                    "%lld x dense(%lld) + %s, %lld training and %lld test images, %lld "
                    "epoch(s) of batches of %lld; with batch norm: %.120s...",
                    (long long)s.depth, (long long)s.width, s.act, (long long)s.train,
                    (long long)s.test, (long long)s.epochs, (long long)s.batch, spec);
    for (int v = 0; v < 2; v++) {
      const char *name = v ? "With batch norm" : "Without batch norm";
      if (isnan(lo[v]))
        lab_result_note(res, "%s no rate reaches %.0f%% test accuracy.", name, 100 * s.works);
      else
        lab_result_note(res, "%s the rates from %g to %g work (a span of %gx).", name, lo[v], hi[v],
                        hi[v] / lo[v]);
    }
  }
  if (!rc && dir) rc = bn_files(dir, &s, res);
  descent_dataset_free(&train);
  descent_dataset_free(&test);
  return rc;
}

const lab_demo lab_demo_batchnorm = {
    "batchnorm",
    "slide 31",
    "a deep MLP with and without batch norm across learning rates: which rates work",
    batchnorm_options,
    sizeof batchnorm_options / sizeof batchnorm_options[0],
    batchnorm_run,
    "Hidden-layer activations are no longer white even when the inputs are; normalizing them "
    "in turn, batch normalization (Ioffe & Szegedy 2015), helps the conditioning, so a deep "
    "network trains over a wider range of learning rates (slide 31).",
    "Across the learning-rate sweep the network with batch norm works (reaches the test "
    "accuracy threshold) over a wider span of rates than the plain one, and reaches a lower "
    "training loss at the same rate; the range table gives both spans.",
    NULL,
};
