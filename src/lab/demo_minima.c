/*
 * demo_minima.c - "few bad local minima, many look alike" (slides 26-27;
 * Choromanska et al. 2015; the dependence on initialization: Bengio et al.
 * 2007).
 *
 * The same MLP on the same Fashion-MNIST images is trained from --seeds
 * different initializations, for each of the hidden widths of --widths;
 * every run sees the same minibatches in the same order (--batch-seed), so
 * the initial weights are all that differs. Choromanska et al. model a
 * network's loss as a spin glass: as the network grows, the local minima
 * it ends in concentrate in a band of losses just above the global minimum,
 * so the spread of the final losses between seeds shrinks. The demo reports
 * the final training and test losses of every run (training loss on the
 * whole training subset, in evaluation mode) and their mean, standard
 * deviation, minimum and maximum for each width, and draws their histograms.
 * The runs (momentum by default) end on a cosine schedule that takes the
 * rate to 0, so each run's last loss is that of the minimum it settled in,
 * not a sample of the minibatches' noise around it.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lab_option minima_options[] = {
    {"widths", "W1,W2,...", "16,256", "hidden widths compared (relu units of one hidden layer)"},
    {"seeds", "N", "20", "initializations per width (seeds seed .. seed + N - 1)"},
    {"seed", "N", "1", "the first initialization's seed"},
    {"batch-seed", "N", "1", "seed of the minibatches' order, the same for every run"},
    {"train", "N", "4000", "training images (the first N of Fashion-MNIST's 60,000)"},
    {"test", "N", "2000", "test images (the first N of its 10,000)"},
    {"epochs", "N", "20", "passes over the training images"},
    {"batch", "B", "64", "examples per minibatch"},
    {"lr", "A", "0.05", "peak learning rate (it decays to 0 along a cosine)"},
    {"optimizer", "SPEC", "momentum",
     "optimizer spec (descent's syntax: sgd, adam, momentum(momentum=0.5), ...)"},
    {"data-dir", "DIR", DESCENT_FASHION_MNIST_DIR, "Fashion-MNIST's folder"},
};

#define MINIMA_POOL       2 /* 2x2-pooled images: 196 inputs */
#define MINIMA_MAX_WIDTHS 4

typedef struct minima_setup {
  double widths[LAB_MAX_LIST];
  int n_widths;
  int64_t seeds, seed, batch_seed, train, test, epochs, batch;
  double lr;
  const char *optimizer, *dir;
} minima_setup;

typedef struct minima_run {
  double train_loss, test_loss, test_acc; /* NaN: diverged */
} minima_run;

static const char *minima_text(const lab_args *a, const char *name) {
  for (int i = 0; i < a->demo->n_options; i++)
    if (strcmp(a->demo->options[i].name, name) == 0) return a->values[i];
  return "";
}

static void minima_mlp(const minima_setup *s, int w, lab_mlp_setup *mlp) {
  *mlp = (lab_mlp_setup){.pool = MINIMA_POOL,
                         .width = (int64_t)s->widths[w],
                         .depth = 1,
                         .batch = s->batch,
                         .epochs = s->epochs,
                         .evals = 1};
}

/* One run: the weights from init_seed, the batches from batch_seed. */
static int minima_train(const minima_setup *s, int w, uint64_t init_seed,
                        const descent_dataset *train, const descent_dataset *test,
                        minima_run *out) {
  lab_mlp_setup mlp;
  minima_mlp(s, w, &mlp);
  char spec[256], rate[LAB_NUM], schedule[96];
  lab_mlp_spec(&mlp, spec, sizeof spec);
  const int64_t steps = lab_mlp_steps(&mlp, train->n);
  /* The rate decays to 0 along a cosine: each run ends at rest in the
     minimum it found, not bouncing around it with the minibatches' noise,
     which would blur the spread between initializations. */
  snprintf(schedule, sizeof schedule, "cosine(%s, %lld)", lab_num(rate, s->lr), (long long)steps);
  size_t max_batch = (size_t)s->batch > 1000 ? (size_t)s->batch : 1000;
  descent_net *net = NULL;
  descent_optimizer *opt = NULL;
  descent_batcher *b = NULL;
  double test_acc_unused;
  out->train_loss = out->test_loss = out->test_acc = NAN;
  int rc = descent_net_create(&net, spec, &train->shape, DESCENT_LOSS_SOFTMAX_XENT, max_batch,
                              init_seed);
  descent_objective *obj = net ? descent_net_objective(net) : NULL;
  if (!rc) rc = descent_optimizer_create(&opt, s->optimizer, schedule, obj->n_params);
  if (!rc) rc = descent_batcher_create(&b, train, (size_t)s->batch, 1, (uint64_t)s->batch_seed);
  int diverged = 0;
  for (int64_t t = 1; !rc && !diverged && t <= steps; t++) {
    descent_batch batch;
    if (!descent_batcher_next(b, &batch)) descent_batcher_next(b, &batch);
    double loss;
    rc = descent_objective_value_and_grad(obj, &batch, &loss);
    if (!rc && !isfinite(loss)) diverged = 1;
    if (!rc && !diverged) rc = descent_optimizer_step(opt, obj);
  }
  if (!rc && !diverged) rc = descent_net_evaluate(net, train, &out->train_loss, &test_acc_unused);
  if (!rc && !diverged) rc = descent_net_evaluate(net, test, &out->test_loss, &out->test_acc);
  /* A loss above 1e3 (chance is log 10 = 2.3) is a run that blew up, as the
     lab's learning curves count it: no minimum to compare. */
  if (!rc && (diverged || !(out->train_loss <= 1e3) || !(out->test_loss <= 1e3)))
    out->train_loss = out->test_loss = out->test_acc = NAN;
  descent_batcher_free(b);
  descent_optimizer_free(opt);
  descent_net_free(net);
  return rc;
}

static int minima_read(const lab_args *a, minima_setup *s) {
  memset(s, 0, sizeof *s);
  int rc = lab_arg_list(a, "widths", 1, 4096, 1, MINIMA_MAX_WIDTHS, s->widths, &s->n_widths);
  if (!rc) rc = lab_arg_int(a, "seeds", 2, 100, &s->seeds);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT32_MAX, &s->seed);
  if (!rc) rc = lab_arg_int(a, "batch-seed", 0, INT32_MAX, &s->batch_seed);
  if (!rc) rc = lab_arg_int(a, "train", 100, 60000, &s->train);
  if (!rc) rc = lab_arg_int(a, "test", 100, 10000, &s->test);
  if (!rc) rc = lab_arg_int(a, "epochs", 1, 1000, &s->epochs);
  if (!rc) rc = lab_arg_int(a, "batch", 1, 4096, &s->batch);
  if (!rc) rc = lab_arg_double(a, "lr", 1e-6, 100, &s->lr);
  if (rc) return rc;
  for (int w = 0; w < s->n_widths; w++)
    if (s->widths[w] != floor(s->widths[w]))
      return descent_fail(DESCENT_EINVAL, "--widths: %g is not a whole number of units",
                          s->widths[w]);
  /* Every seed trains every width for --epochs passes over --train images:
     bounded to about 40 times the defaults' work, not the days the largest values of each option
     together would take. */
  double weights = 0;
  for (int w = 0; w < s->n_widths; w++) weights += 795 * s->widths[w]; /* 784 + 1 in, 10 out */
  const double work = weights * (double)s->seeds * (double)s->epochs * (double)s->train;
  if (work > 1.5e13)
    return descent_fail(DESCENT_EINVAL,
                        "--epochs: %lld seeds x %lld epochs x %lld images through %.0f weights "
                        "are too many (their product at most 1.5e13, about 40 times the defaults')",
                        (long long)s->seeds, (long long)s->epochs, (long long)s->train, weights);
  s->optimizer = minima_text(a, "optimizer");
  s->dir = minima_text(a, "data-dir");
  /* A bad optimizer spec is refused before any data is read. */
  descent_optimizer *probe = NULL;
  rc = descent_optimizer_create(&probe, s->optimizer, "0.1", 10);
  descent_optimizer_free(probe);
  if (rc) {
    char why[256];
    snprintf(why, sizeof why, "%s", descent_last_error());
    return descent_fail(rc, "--optimizer: %s", why);
  }
  return DESCENT_OK;
}

static int minima_data(const minima_setup *s, descent_dataset *train, descent_dataset *test) {
  int rc = descent_fashion_mnist_load(s->dir, train, test);
  if (!rc && (size_t)s->train < train->n) rc = descent_dataset_truncate(train, (size_t)s->train);
  if (!rc && (size_t)s->test < test->n) rc = descent_dataset_truncate(test, (size_t)s->test);
  return rc;
}

/* ---- table and picture ------------------------------------------------------- */

static int minima_files(const char *dir, lab_result *res, const minima_setup *s,
                        const minima_run *runs, const lab_stats *tr, const lab_stats *te) {
  FILE *f = lab_file_open(dir, "minima-runs.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "width,seed,train_loss,test_loss,test_acc\n");
  for (int w = 0; w < s->n_widths; w++)
    for (int64_t i = 0; i < s->seeds; i++) {
      const minima_run *r = &runs[w * s->seeds + i];
      fprintf(f, "%g,%lld,%.9g,%.9g,%.9g\n", s->widths[w], (long long)(s->seed + i), r->train_loss,
              r->test_loss, r->test_acc);
    }
  int rc = lab_file_close(f, "minima-runs.csv");
  if (rc) return rc;
  /* One bin width per panel: the whole range of every width's losses in
     about 30 bins, so the narrow network's spread and the wide one's spike
     share the axis. */
  double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY}, bin[2];
  for (int w = 0; w < s->n_widths; w++) {
    lo[0] = fmin(lo[0], tr[w].min), hi[0] = fmax(hi[0], tr[w].max);
    lo[1] = fmin(lo[1], te[w].min), hi[1] = fmax(hi[1], te[w].max);
  }
  for (int k = 0; k < 2; k++) {
    if (!isfinite(lo[k]) || !isfinite(hi[k])) lo[k] = 0, hi[k] = 1;
    bin[k] = (hi[k] - lo[k]) / 30;
    if (!(bin[k] > 0)) bin[k] = 1e-3;
  }
  f = lab_gp_open(dir, "minima", 1500, 620, "final losses over initializations, by width", res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 1,2 title \"%lld initializations per width, same data and "
          "batches: the wider the network, the closer its minima (slides 26-27; Choromanska et "
          "al. 2015)\" font \",13\"\n"
          "set style fill transparent solid 0.45 border\nset grid ytics\n"
          "set ylabel \"runs\"\nset yrange [0:*]\nset ytics %lld\nset offsets 0, 0, graph 0.12, 0\n"
          "set key top right\n",
          (long long)s->seeds, (long long)(s->seeds > 20 ? s->seeds / 10 : 1));
  static const char *const what[2] = {"training", "test"};
  for (int k = 0; k < 2; k++) {
    fprintf(f,
            "set title \"final %s loss (%lld images)\"\nset xlabel \"%s loss (cross-entropy)\"\n"
            "bin = %.9g\nset boxwidth bin\nset xrange [%.9g:%.9g]\n",
            what[k], (long long)(k ? s->test : s->train), what[k], bin[k], lo[k] - 2 * bin[k],
            hi[k] + 2 * bin[k]);
    for (int w = 0; w < s->n_widths; w++)
      fprintf(f,
              "%s'minima-runs.csv' using (bin * (floor($%d / bin) + 0.5)):($1 == %g ? 1 : 0) "
              "smooth frequency with boxes lc rgb \"%s\" title \"%g units: mean %.3f, sd %.2g\"",
              w ? ", \\\n     " : "plot ", 3 + k, s->widths[w], lab_color(w), s->widths[w],
              k ? te[w].mean : tr[w].mean, k ? te[w].sd : tr[w].sd);
    fprintf(f, "\n");
  }
  return lab_gp_close(f, "minima", res);
}

static int minima_tables(lab_result *res, const minima_setup *s, const minima_run *runs,
                         size_t n_train, lab_stats *tr, lab_stats *te) {
  char title[160];
  snprintf(title, sizeof title,
           "Final losses over %lld initializations (same data and batches), by hidden width",
           (long long)s->seeds);
  lab_table *t = lab_result_table(res, "minima", title,
                                  "width|train mean|train sd|train min|train max|test mean|"
                                  "test sd|test min|test max|diverged");
  if (!t) return DESCENT_ERANGE;
  double *x = malloc((size_t)s->seeds * sizeof *x), *y = malloc((size_t)s->seeds * sizeof *y);
  if (!x || !y) {
    free(x), free(y);
    return descent_fail(DESCENT_ENOMEM, "minima: out of memory");
  }
  for (int w = 0; w < s->n_widths; w++) {
    for (int64_t i = 0; i < s->seeds; i++) {
      x[i] = runs[w * s->seeds + i].train_loss;
      y[i] = runs[w * s->seeds + i].test_loss;
    }
    lab_stats_of(x, (int)s->seeds, &tr[w]);
    lab_stats_of(y, (int)s->seeds, &te[w]);
    int r = lab_table_row(t, "width=%g", s->widths[w]);
    lab_table_num(t, r, "train mean", tr[w].mean);
    lab_table_num(t, r, "train sd", tr[w].sd);
    lab_table_num(t, r, "train min", tr[w].min);
    lab_table_num(t, r, "train max", tr[w].max);
    lab_table_num(t, r, "test mean", te[w].mean);
    lab_table_num(t, r, "test sd", te[w].sd);
    lab_table_num(t, r, "test min", te[w].min);
    lab_table_num(t, r, "test max", te[w].max);
    lab_table_num(t, r, "diverged", (double)(s->seeds - tr[w].n));
  }
  free(x), free(y);
  lab_mlp_setup mlp;
  minima_mlp(s, 0, &mlp);
  lab_result_note(res,
                  "avgpool(2), dense(W), relu, dense(10) on %zu training images, %lld epoch(s) "
                  "of %lld steps of %s at lr %g; seeds %lld..%lld change the initial weights "
                  "only (batches from --batch-seed %lld)",
                  n_train, (long long)s->epochs,
                  (long long)lab_mlp_steps(&mlp, n_train) / s->epochs, s->optimizer, s->lr,
                  (long long)s->seed, (long long)(s->seed + s->seeds - 1),
                  (long long)s->batch_seed);
  if (s->n_widths >= 2 && (tr[0].n < 2 || tr[s->n_widths - 1].n < 2))
    lab_result_note(res, "the spreads are not compared: a width has fewer than two runs that did "
                         "not diverge (try a smaller --lr)");
  else if (s->n_widths >= 2) {
    const int a = 0, b = s->n_widths - 1;
    lab_result_note(res,
                    "width %g -> %g: the sd of the final training loss shrinks %.3gx (range "
                    "%.3gx), of the test loss %.3gx; the mean training loss goes from %.4g to "
                    "%.4g",
                    s->widths[a], s->widths[b], tr[a].sd / tr[b].sd,
                    (tr[a].max - tr[a].min) / (tr[b].max - tr[b].min), te[a].sd / te[b].sd,
                    tr[a].mean, tr[b].mean);
  }
  return DESCENT_OK;
}

static int minima_run_demo(const lab_args *a, const char *dir, lab_result *res) {
  minima_setup s;
  int rc = minima_read(a, &s);
  if (rc) return rc;
  descent_dataset train = {0}, test = {0};
  rc = minima_data(&s, &train, &test);
  const int n = s.n_widths * (int)s.seeds;
  minima_run *runs = rc ? NULL : calloc((size_t)n, sizeof *runs);
  int *status = rc ? NULL : calloc((size_t)n, sizeof *status);
  if (!rc && (!runs || !status)) rc = descent_fail(DESCENT_ENOMEM, "minima: out of memory");
  /* One run per thread, each single-threaded inside the parallel region:
     the same numbers as in sequence, in any order. */
  if (!rc) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < n; k++)
      status[k] = minima_train(&s, k / (int)s.seeds, (uint64_t)(s.seed + k % s.seeds), &train,
                               &test, &runs[k]);
  }
  for (int k = 0; !rc && k < n; k++) /* again here, for the message */
    if (status[k])
      rc = minima_train(&s, k / (int)s.seeds, (uint64_t)(s.seed + k % s.seeds), &train, &test,
                        &runs[k]);
  lab_stats tr[LAB_MAX_LIST], te[LAB_MAX_LIST];
  if (!rc) rc = minima_tables(res, &s, runs, train.n, tr, te);
  if (!rc && dir) rc = minima_files(dir, res, &s, runs, tr, te);
  free(runs), free(status);
  descent_dataset_free(&train);
  descent_dataset_free(&test);
  return rc;
}

/* Under a second instead of 15: fewer seeds, images and epochs. */
const char *const lab_minima_quick[] = {"seeds", "10",     "train", "1000", "test",
                                        "500",   "epochs", "4",     NULL};

const lab_demo lab_demo_minima = {
    "minima",
    "slides 26-27",
    "final training and test losses of a Fashion-MNIST MLP from 20 initializations, narrow and "
    "wide: many minima, alike, the more so the wider (Choromanska et al. 2015)",
    minima_options,
    sizeof minima_options / sizeof minima_options[0],
    minima_run_demo,
    "Few bad local minima, many look alike: training from different initializations ends at "
    "different minima whose losses differ little, and less as the network widens "
    "(Choromanska et al. 2015).",
    "In the table, the wide network's standard deviation and min-max range of the final losses "
    "are several times smaller than the narrow one's, and its mean lower. In the histograms the "
    "narrow network's losses spread out while the wide one's pile up in a narrow spike.",
    "about 15 seconds on 2 cores",
};
