/*
 * demo_generalization.c - does the optimizer change what the network learns?
 * (the lecture's last part; Wilson et al. 2017, "The Marginal Value of
 * Adaptive Gradient Methods in Machine Learning").
 *
 * Three measurements, one table each:
 * - SGD, momentum, Adagrad, RMSprop and Adam on a Fashion-MNIST MLP, each at
 *   the rate of a log grid with the best validation accuracy after the
 *   budget (one seed), then over several seeds: every run is read where its
 *   training loss first reaches a target that all of them reach (the largest
 *   of the runs' lowest losses), so the test accuracies compare solutions
 *   that fit the training set equally well. Wilson et al. found adaptive
 *   methods generalize worse at equal training loss; the demo says whether
 *   that gap shows here, with the spread over seeds, whatever the answer.
 * - A strictly convex model (ridge regression): one minimizer, so they tie.
 * - Wilson et al.'s own construction, where they provably do not (convex.c).
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lab_option gen_options[] = {
    {"train", "N", "4000", "training images (the first N of Fashion-MNIST's 60,000)"},
    {"val", "N", "1000", "validation images, held out after the training ones"},
    {"test", "N", "2000", "test images (the first N of the 10,000)"},
    {"width", "N", "128", "relu units of the MLP's hidden layer (on 2x2-pooled images)"},
    {"epochs", "N", "20", "passes over the training images per run (batches of 64)"},
    {"lr", "A,B,...", "1e-4,3e-4,1e-3,3e-3,0.01,0.03,0.1,0.3,1",
     "learning rates tried for each optimizer (the best validation accuracy wins)"},
    {"seeds", "N", "5", "seeds per optimizer at its best rate (weights and batch order)"},
    {"seed", "N", "1", "the first seed (the rate is chosen with it)"},
    {"target", "LOSS", "auto",
     "training loss the runs are compared at; auto: the largest of the runs' lowest losses"},
    {"convex-train", "N", "4000",
     "images of the ridge regression (the first training ones, at most --train)"},
    {"l2", "L", "0.1", "the ridge regression's L2 factor"},
    {"full-steps", "N", "3000", "full-batch steps of the convex runs (ridge and Wilson's example)"},
    {"full-lr", "A,B,...", "1e-3,3e-3,0.01,0.03,0.1,0.3,1",
     "rates tried in the convex runs (the lowest final objective wins)"},
    {"wilson-n", "N", "50", "examples of Wilson et al.'s construction (6 N features)"},
    {"wilson-p", "P", "0.6", "probability of a positive label in it"},
    {"wilson-seed", "N", "1", "seed of its labels"},
    {"data-dir", "DIR", DESCENT_FASHION_MNIST_DIR, "Fashion-MNIST's folder"},
};

#define GEN_BATCH 64
#define GEN_POOL  2
#define GEN_EVALS 4 /* evaluations per epoch */

typedef struct gen_setup {
  const char *dir;
  int64_t train, val, test, seeds, seed;
  lab_mlp_setup mlp;
  double grid[LAB_MAX_LIST];
  int n_grid;
  double target; /* NAN: auto */
  lab_convex_setup convex;
  lab_wilson_setup wilson;
} gen_setup;

/* What one optimizer gave at its best rate, over the seeds. */
typedef struct gen_result {
  double lr, val_acc;  /* chosen rate, and its validation accuracy (first seed) */
  lab_stats at_target; /* test accuracy where the training loss reached the target */
  lab_stats steps;     /* steps to get there */
  lab_stats final;     /* test accuracy after the whole budget */
  int reached;         /* runs that reached the target */
} gen_result;

static const char *gen_text(const lab_args *a, const char *name) {
  for (int i = 0; i < a->demo->n_options; i++)
    if (strcmp(a->demo->options[i].name, name) == 0) return a->values[i];
  return "";
}

static int gen_read(const lab_args *a, gen_setup *s) {
  memset(s, 0, sizeof *s);
  s->mlp = (lab_mlp_setup){.pool = GEN_POOL, .depth = 1, .batch = GEN_BATCH};
  int rc = lab_arg_int(a, "train", 100, 59000, &s->train);
  if (!rc) rc = lab_arg_int(a, "val", 10, 10000, &s->val);
  if (!rc) rc = lab_arg_int(a, "test", 10, 10000, &s->test);
  if (!rc) rc = lab_arg_int(a, "width", 1, 4096, &s->mlp.width);
  if (!rc) rc = lab_arg_int(a, "epochs", 1, 1000, &s->mlp.epochs);
  if (!rc) rc = lab_lr_grid(a, "lr", s->grid, &s->n_grid);
  if (!rc) rc = lab_arg_int(a, "seeds", 1, 100, &s->seeds);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT32_MAX, &s->seed);
  if (!rc) rc = lab_arg_int(a, "convex-train", 20, 60000, &s->convex.train);
  if (!rc) rc = lab_arg_double(a, "l2", 1e-6, 1e3, &s->convex.l2);
  if (!rc) rc = lab_arg_int(a, "full-steps", 1, 1000000, &s->convex.steps);
  if (!rc) rc = lab_lr_grid(a, "full-lr", s->convex.grid, &s->convex.n_grid);
  if (!rc) rc = lab_arg_int(a, "wilson-n", 4, 200, &s->wilson.n);
  if (!rc) rc = lab_arg_double(a, "wilson-p", 0.5, 1, &s->wilson.p);
  if (!rc) rc = lab_arg_int(a, "wilson-seed", 0, INT32_MAX, &s->wilson.seed);
  if (rc) return rc;
  if (lab_arg_is_auto(a, "target"))
    s->target = NAN;
  else if ((rc = lab_arg_double(a, "target", 1e-9, 100, &s->target)) != 0)
    return descent_fail(DESCENT_EINVAL, "--target: '%s' is not auto or a loss in (0, 100]",
                        gen_text(a, "target"));
  if (s->wilson.p >= 1 || s->wilson.p <= 0.5)
    return descent_fail(DESCENT_EINVAL,
                        "--wilson-p: %g must be above 0.5 (more positives) and below 1",
                        s->wilson.p);
  s->mlp.evals = GEN_EVALS * s->mlp.epochs;
  s->dir = gen_text(a, "data-dir");
  s->convex.pool = 4;
  s->wilson.test = 10000;
  s->wilson.steps = s->convex.steps;
  s->wilson.n_grid = s->convex.n_grid;
  memcpy(s->wilson.grid, s->convex.grid, sizeof s->wilson.grid);
  return DESCENT_OK;
}

/* ---- the MLP runs ----------------------------------------------------------------- */

static double last_val(const lab_curve *c) {
  return c->diverged ? NAN : c->val_acc[c->n - 1];
}

/* The rate of the grid with the best validation accuracy after the budget. */
static int gen_choose(const gen_setup *s, const lab_mlp_job *grid_jobs, int k, gen_result *r) {
  r->lr = NAN, r->val_acc = -1;
  for (int g = 0; g < s->n_grid; g++) {
    double v = last_val(&grid_jobs[k * s->n_grid + g].curve);
    if (!isnan(v) && v > r->val_acc) r->val_acc = v, r->lr = s->grid[g];
  }
  if (isnan(r->lr))
    return descent_fail(DESCENT_EINVAL,
                        "generalization: %s diverged at every rate of --lr; give smaller rates",
                        lab_compare_optimizers[k]);
  return DESCENT_OK;
}

/* The lowest training loss of a run; -1 for a run that diverged, which
   does not set the automatic target (it counts as reaching it only if it
   got there before diverging). */
static double lowest_loss(const lab_curve *c) {
  double lo = INFINITY;
  for (int i = 0; i < c->n; i++) lo = fmin(lo, c->train_loss[i]);
  return c->diverged ? -1 : lo;
}

/* The runs at the chosen rates: runs[k * seeds + i] is optimizer k's seed
   seed + i (the first one is the grid's run, not run again). */
static int gen_seed_runs(const lab_fmnist *d, const gen_setup *s, lab_mlp_job *grid_jobs,
                         const gen_result *res, lab_mlp_job *runs) {
  int n_new = 0;
  lab_mlp_job *fresh = calloc((size_t)(LAB_COMPARE_OPTIMIZERS * s->seeds), sizeof *fresh);
  if (!fresh) return descent_fail(DESCENT_ENOMEM, "generalization: out of memory");
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++)
    for (int64_t i = 1; i < s->seeds; i++)
      fresh[n_new++] = (lab_mlp_job){k, res[k].lr, (uint64_t)(s->seed + i), {0}};
  int rc = lab_mlp_train_all(d, &s->mlp, fresh, n_new);
  for (int k = 0, used = 0; !rc && k < LAB_COMPARE_OPTIMIZERS; k++)
    for (int64_t i = 0; i < s->seeds; i++) {
      lab_mlp_job *dst = &runs[k * s->seeds + i];
      if (i == 0) {
        for (int g = 0; g < s->n_grid; g++) /* move the chosen rate's run */
          if (s->grid[g] == res[k].lr) {
            *dst = grid_jobs[k * s->n_grid + g];
            memset(&grid_jobs[k * s->n_grid + g].curve, 0, sizeof(lab_curve));
          }
      } else {
        *dst = fresh[used++];
      }
    }
  if (rc)
    for (int i = 0; i < n_new; i++) lab_curve_free(&fresh[i].curve);
  free(fresh);
  return rc;
}

/* Reads every run where its training loss first reaches the target. */
static void gen_at_target(const gen_setup *s, const lab_mlp_job *runs, double target,
                          gen_result *res) {
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++) {
    double acc[100], steps[100], final[100];
    res[k].reached = 0;
    for (int64_t i = 0; i < s->seeds; i++) {
      const lab_curve *c = &runs[k * s->seeds + i].curve;
      acc[i] = steps[i] = NAN;
      final[i] = c->diverged ? NAN : c->test_acc[c->n - 1];
      for (int e = 0; e < c->n; e++)
        if (c->train_loss[e] <= target) {
          acc[i] = c->test_acc[e], steps[i] = c->step[e];
          res[k].reached++;
          break;
        }
    }
    lab_stats_of(acc, (int)s->seeds, &res[k].at_target);
    lab_stats_of(steps, (int)s->seeds, &res[k].steps);
    lab_stats_of(final, (int)s->seeds, &res[k].final);
  }
}

static int gen_table(lab_result *out, const gen_setup *s, size_t n_train, double target,
                     const gen_result *res) {
  char title[160];
  snprintf(title, sizeof title,
           "Test accuracy where the training loss first reaches %.4g (%zu images), each "
           "optimizer at its best rate, %lld seeds",
           target, n_train, (long long)s->seeds);
  lab_table *t = lab_result_table(out, "generalization", title,
                                  "optimizer|lr|val acc|steps|test acc|sd|min|max|reached|"
                                  "final test acc");
  if (!t) return DESCENT_ERANGE;
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++) {
    int row = lab_table_row(t, "%s", lab_compare_optimizers[k]);
    lab_table_num(t, row, "lr", res[k].lr);
    lab_table_num(t, row, "val acc", res[k].val_acc);
    lab_table_num(t, row, "steps", res[k].steps.mean);
    lab_table_num(t, row, "test acc", res[k].at_target.mean);
    lab_table_num(t, row, "sd", res[k].at_target.sd);
    lab_table_num(t, row, "min", res[k].at_target.min);
    lab_table_num(t, row, "max", res[k].at_target.max);
    lab_table_num(t, row, "reached", res[k].reached);
    lab_table_num(t, row, "final test acc", res[k].final.mean);
  }
  return DESCENT_OK;
}

/* generalization-curves.csv: the runs at the chosen rates, every evaluation. */
static int gen_curves_file(const char *dir, lab_result *out, const gen_setup *s,
                           const lab_mlp_job *runs) {
  FILE *f = lab_file_open(dir, "generalization-curves.csv", out);
  if (!f) return DESCENT_EIO;
  fprintf(f, "opt,optimizer,seed,step,train_loss,val_acc,test_acc\n");
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++)
    for (int64_t i = 0; i < s->seeds; i++) {
      const lab_mlp_job *j = &runs[k * s->seeds + i];
      for (int e = 0; e < j->curve.n; e++)
        fprintf(f, "%d,%s,%llu,%.0f,%.9g,%.9g,%.9g\n", k, lab_compare_optimizers[k],
                (unsigned long long)j->seed, j->curve.step[e], j->curve.train_loss[e],
                j->curve.val_acc[e], j->curve.test_acc[e]);
    }
  return lab_file_close(f, "generalization-curves.csv");
}

/* ---- the verdict -------------------------------------------------------------------- */

/* Wilson et al.'s gap on Fashion-MNIST: the best non-adaptive optimizer's
   test accuracy against the best adaptive one's, at the target. It "shows"
   when their one-standard-deviation bars do not overlap. */
typedef struct gen_verdict {
  int plain, adaptive; /* the best of each group */
  double gap;          /* plain's mean minus adaptive's */
  int shows;
} gen_verdict;

static gen_verdict gen_judge(const gen_result *res) {
  gen_verdict v = {-1, -1, NAN, 0};
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++) {
    int *best = lab_compare_adaptive(k) ? &v.adaptive : &v.plain;
    if (!isnan(res[k].at_target.mean) &&
        (*best < 0 || res[k].at_target.mean > res[*best].at_target.mean))
      *best = k;
  }
  if (v.plain < 0 || v.adaptive < 0) return v;
  const lab_stats *p = &res[v.plain].at_target, *a = &res[v.adaptive].at_target;
  v.gap = p->mean - a->mean;
  v.shows = p->mean - p->sd > a->mean + a->sd;
  return v;
}

static void gen_notes(lab_result *out, const gen_setup *s, const lab_fmnist *d, double target,
                      const gen_verdict *v, const gen_result *res, const lab_wilson_summary *w) {
  char spec[256];
  lab_mlp_spec(&s->mlp, spec, sizeof spec);
  lab_result_note(
      out,
      "%s; %zu training, %zu validation, %zu test images; %d rates x 5 optimizers (seed "
      "%lld) then %lld more seeds each: %lld runs of %lld steps",
      spec, d->train.n, d->val.n, d->test.n, s->n_grid, (long long)s->seed,
      (long long)(s->seeds - 1), (long long)(s->n_grid + s->seeds - 1) * LAB_COMPARE_OPTIMIZERS,
      (long long)lab_mlp_steps(&s->mlp, d->train.n));
  lab_result_note(out,
                  "target training loss %.4g (%s); test acc: mean, sd, min and max over the seeds "
                  "at the first evaluation (about 4 per epoch) at or below it",
                  target,
                  isnan(s->target) ? "auto: the largest of the runs' lowest losses" : "--target");
  if (v->plain < 0 || v->adaptive < 0)
    lab_result_note(out, "Wilson et al.'s gap on Fashion-MNIST: undecided (a group has no run "
                         "that reached the target)");
  else
    lab_result_note(
        out,
        "Wilson et al.'s gap on Fashion-MNIST: %s. Best non-adaptive %s %.4f +- %.4f, best "
        "adaptive %s %.4f +- %.4f: %+.4f",
        v->shows     ? "it shows (the one-sd bars do not overlap)"
        : v->gap < 0 ? "it does not show here (the best adaptive optimizer is ahead)"
                     : "it does not show here (the one-sd bars overlap)",
        lab_compare_optimizers[v->plain], res[v->plain].at_target.mean, res[v->plain].at_target.sd,
        lab_compare_optimizers[v->adaptive], res[v->adaptive].at_target.mean,
        res[v->adaptive].at_target.sd, v->gap);
  lab_result_note(out,
                  "convex: distance = |W - W*| / |W*|, bound = sqrt(2 gap / l2) / |W*| (strong "
                  "convexity); agreement: test images classified as W* does");
  lab_result_note(
      out,
      "Wilson's example (full batch): sgd and momentum within %.2g of the minimum-norm solution "
      "(test error %.4g), adagrad, rmsprop and adam within %.2g of sign(X^T y) / 4 "
      "(test error %.4g = the negatives' share %.4g): the gap, exactly",
      w->worst_sgd, w->err_sgd_closed, w->worst_ada, w->err_ada_closed, w->negatives);
}

/* ---- the picture ---------------------------------------------------------------------- */

static int gen_picture(const char *dir, lab_result *out, double target, const gen_verdict *v) {
  FILE *f = lab_gp_open(dir, "generalization", 1500, 1100,
                        "test accuracy at equal training loss, a convex tie, and Wilson et al.'s "
                        "example",
                        out);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 2,2 title \"Does the optimizer change what is learned? (Wilson "
          "et al. 2017)\" font \",14\"\n"
          "set grid ytics\nset style fill solid 0.4\nset boxwidth 0.6\nset xrange [-0.6:4.6]\n"
          "set title \"Fashion-MNIST MLP: test accuracy at training loss %.4g (mean, one sd "
          "bar, min-max)\\nWilson et al.'s gap: %s (best non-adaptive minus best adaptive: "
          "%+.4f)\"\nset ylabel \"test accuracy\"\nset key bottom right\n"
          "plot 'generalization.csv' every ::1 using 0:5:xtic(1) with boxes lc rgb \"%s\" "
          "title \"mean\", \\\n"
          "     '' every ::1 using 0:5:6 with yerrorbars pt 7 lc rgb \"black\" title \"+- sd\", "
          "\\\n"
          "     '' every ::1 using ($0+0.2):5:7:8 with yerrorbars pt 1 lc rgb \"%s\" "
          "title \"min - max\"\n",
          target, v->shows ? "it shows" : "it does not show here", v->gap, lab_color(0),
          lab_color(1));
  fprintf(f,
          "set title \"test accuracy against the training loss (every run at its best "
          "rate)\"\nset xrange [*:*] reverse\nset logscale x\nset xlabel \"training loss\"\n"
          "set key bottom right\nset arrow 1 from %.6g,graph 0 to %.6g,graph 1 nohead dt 2\n",
          target, target);
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++)
    fprintf(f,
            "%s'generalization-curves.csv' using ($1==%d ? $5 : NaN):7 with points pt 7 ps 0.4 "
            "lc rgb \"%s\" title \"%s\"",
            k ? ", \\\n     " : "plot ", k, lab_color(k), lab_compare_optimizers[k]);
  fprintf(
      f,
      "\nunset arrow 1\nunset logscale x\nunset xlabel\nset xrange [-0.6:5.6] noreverse\n"
      "set title \"strictly convex (ridge regression): they tie\"\n"
      "set ylabel \"test accuracy\"\nset y2label \"distance to the minimizer (relative)\"\n"
      "set logscale y2\nset y2tics\nset key bottom right\nset yrange [0:1]\n"
      "plot 'generalization-convex.csv' every ::1 using 0:6:xtic(1) with boxes lc rgb "
      "\"%s\" title \"test accuracy\", \\\n"
      "     '' every ::2 using ($0+1):($4 > 0 ? $4 : NaN) axes x1y2 with points pt 7 ps 1.5 "
      "lc rgb \"%s\" title \"distance\", \\\n"
      "     '' every ::2 using ($0+1):($5 > 0 ? $5 : NaN) axes x1y2 with points pt 2 ps 1.5 "
      "lc rgb \"black\" title \"bound\"\n"
      "unset y2label\nunset y2tics\nunset logscale y2\nset xrange [-0.6:6.6]\nset yrange [0:1]\n"
      "set title \"Wilson et al.'s example: test error, measured and as the paper says\"\n"
      "set ylabel \"test error\"\nset key top left\nset xtics rotate by -25\n"
      "plot 'generalization-wilson.csv' every ::1 using 0:9:xtic(1) with boxes lc rgb "
      "\"%s\" title \"measured\", \\\n"
      "     '' every ::1 using 0:10 with points pt 7 ps 1.8 lc rgb \"black\" title "
      "\"paper\"\n",
      lab_color(2), lab_color(3), lab_color(4));
  return lab_gp_close(f, "generalization", out);
}

/* ---- the demo ------------------------------------------------------------------------ */

static int gen_mlp(const gen_setup *s, const lab_fmnist *d, lab_result *out, const char *dir,
                   gen_verdict *v, gen_result *res, double *target) {
  int n_grid_jobs = LAB_COMPARE_OPTIMIZERS * s->n_grid;
  lab_mlp_job *grid_jobs = calloc((size_t)n_grid_jobs, sizeof *grid_jobs);
  lab_mlp_job *runs = calloc((size_t)(LAB_COMPARE_OPTIMIZERS * s->seeds), sizeof *runs);
  int rc = grid_jobs && runs ? DESCENT_OK : descent_fail(DESCENT_ENOMEM, "out of memory");
  for (int k = 0; !rc && k < LAB_COMPARE_OPTIMIZERS; k++)
    for (int g = 0; g < s->n_grid; g++)
      grid_jobs[k * s->n_grid + g] = (lab_mlp_job){k, s->grid[g], (uint64_t)s->seed, {0}};
  if (!rc) rc = lab_mlp_train_all(d, &s->mlp, grid_jobs, n_grid_jobs);
  for (int k = 0; !rc && k < LAB_COMPARE_OPTIMIZERS; k++) rc = gen_choose(s, grid_jobs, k, &res[k]);
  if (!rc) rc = gen_seed_runs(d, s, grid_jobs, res, runs);
  *target = s->target;
  if (!rc && isnan(*target)) {
    *target = 0;
    for (int i = 0; i < LAB_COMPARE_OPTIMIZERS * s->seeds; i++)
      *target = fmax(*target, lowest_loss(&runs[i].curve));
  }
  if (!rc) gen_at_target(s, runs, *target, res);
  if (!rc) rc = gen_table(out, s, d->train.n, *target, res);
  if (!rc) *v = gen_judge(res);
  if (!rc && dir) rc = gen_curves_file(dir, out, s, runs);
  for (int i = 0; grid_jobs && i < n_grid_jobs; i++) lab_curve_free(&grid_jobs[i].curve);
  for (int i = 0; runs && i < LAB_COMPARE_OPTIMIZERS * s->seeds; i++)
    lab_curve_free(&runs[i].curve);
  free(grid_jobs);
  free(runs);
  return rc;
}

static int gen_run(const lab_args *a, const char *dir, lab_result *out) {
  gen_setup s;
  int rc = gen_read(a, &s);
  if (rc) return rc;
  lab_fmnist d;
  rc = lab_fmnist_load(s.dir, s.train, s.val, s.test, &d);
  if (rc) return rc;
  gen_result res[LAB_COMPARE_OPTIMIZERS];
  gen_verdict v = {-1, -1, NAN, 0};
  lab_wilson_summary w;
  double target;
  rc = gen_mlp(&s, &d, out, dir, &v, res, &target);
  if (!rc) rc = lab_convex_tie(&d, &s.convex, out);
  if (!rc) rc = lab_wilson(&s.wilson, out, &w);
  if (!rc) gen_notes(out, &s, &d, target, &v, res, &w);
  if (!rc && dir) rc = gen_picture(dir, out, target, &v);
  lab_fmnist_free(&d);
  return rc;
}

/* Seconds instead of minutes: fewer images, rates, seeds and steps. */
const char *const lab_generalization_quick[] = {
    "train",    "1000", "val", "300",           "test",  "500", "width",   "32",
    "epochs",   "2",    "lr",  "1e-3,0.01,0.1", "seeds", "2",   "full-lr", "3e-3,0.01,0.03,0.1",
    "wilson-n", "20",   NULL};

const lab_demo lab_demo_generalization = {
    "generalization",
    "Wilson et al. 2017",
    "SGD, momentum, Adagrad, RMSprop and Adam at equal training loss on Fashion-MNIST (test "
    "accuracy over seeds), tied on a convex model, apart on Wilson et al.'s example",
    gen_options,
    sizeof gen_options / sizeof gen_options[0],
    gen_run,
    "The goal is to generalize: in the convex world the optimizer makes no difference, but in "
    "deep networks it affects which solution is found and how well it generalizes (slide 35; "
    "Wilson et al. 2017).",
    "On the ridge regression every optimizer ends at the same minimizer (agreement near 1, "
    "gaps near 0); on Wilson et al.'s construction the adaptive methods land on sign(X^T y)/4 "
    "and misclassify the negative points while SGD finds the minimum-norm solution; on the "
    "Fashion-MNIST MLP compare the test accuracies at equal training loss with their spread "
    "over seeds.",
    "about 1.5 minutes of processor time (3.5 minutes on 2 shared cores)",
};
