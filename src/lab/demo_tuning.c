/*
 * demo_tuning.c - how hard is each optimizer to tune? (the lecture's last
 * part: ease of tuning, as DeepOBS's learning-rate sensitivity plot shows it)
 *
 * SGD, momentum, Adagrad, RMSprop and Adam train the same Fashion-MNIST MLP
 * for the same budget at every rate of a log grid, over several seeds. The
 * demo draws the final validation and test accuracy and the training loss
 * against the rate, one curve per optimizer with the seeds' range as a band,
 * and measures each one's good window: the rates whose mean validation
 * accuracy is within 1% (relative) of its best, as a ratio hi / lo and in
 * decades (lab_tuning_window). A wide window means a rate is easy to find.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lab_option tuning_options[] = {
    {"train", "N", "4000", "training images (the first N of Fashion-MNIST's 60,000)"},
    {"val", "N", "1000", "validation images, held out after the training ones"},
    {"test", "N", "2000", "test images (the first N of the 10,000)"},
    {"width", "N", "128", "relu units of the MLP's hidden layer (on 2x2-pooled images)"},
    {"epochs", "N", "8", "passes over the training images per run (batches of 64)"},
    {"lr", "A,B,...", "1e-5,3e-5,1e-4,3e-4,1e-3,3e-3,0.01,0.03,0.1,0.3,1,3",
     "the learning-rate grid, increasing"},
    {"seeds", "N", "3", "seeds per rate (weights and batch order)"},
    {"seed", "N", "1", "the first seed"},
    {"within", "R", "0.01", "the good window: mean validation accuracy >= (1 - R) x the best"},
    {"data-dir", "DIR", DESCENT_FASHION_MNIST_DIR, "Fashion-MNIST's folder"},
};

typedef struct tuning_setup {
  const char *dir;
  int64_t train, val, test, seeds, seed;
  double within;
  lab_mlp_setup mlp;
  double grid[LAB_MAX_LIST];
  int n_grid;
} tuning_setup;

/* One optimizer at one rate, over the seeds. A rate where a seed diverged
   has no mean accuracy: it is not a good rate, whatever the others did. */
typedef struct tuning_point {
  lab_stats val, test, loss;
  int diverged;
} tuning_point;

static int tuning_read(const lab_args *a, tuning_setup *s) {
  memset(s, 0, sizeof *s);
  s->mlp = (lab_mlp_setup){.pool = 2, .depth = 1, .batch = 64, .evals = 1};
  int rc = lab_arg_int(a, "train", 100, 59000, &s->train);
  if (!rc) rc = lab_arg_int(a, "val", 10, 10000, &s->val);
  if (!rc) rc = lab_arg_int(a, "test", 10, 10000, &s->test);
  if (!rc) rc = lab_arg_int(a, "width", 1, 4096, &s->mlp.width);
  if (!rc) rc = lab_arg_int(a, "epochs", 1, 1000, &s->mlp.epochs);
  if (!rc) rc = lab_lr_grid(a, "lr", s->grid, &s->n_grid);
  if (!rc) rc = lab_arg_int(a, "seeds", 1, 100, &s->seeds);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT32_MAX, &s->seed);
  if (!rc) rc = lab_arg_double(a, "within", 1e-6, 0.5, &s->within);
  for (int i = 0; i < a->demo->n_options; i++)
    if (strcmp(a->demo->options[i].name, "data-dir") == 0) s->dir = a->values[i];
  return rc;
}

static void tuning_summarize(const tuning_setup *s, const lab_mlp_job *jobs, int k, int g,
                             tuning_point *p) {
  double val[100], test[100], loss[100];
  p->diverged = 0;
  for (int64_t i = 0; i < s->seeds; i++) {
    const lab_curve *c = &jobs[(k * s->n_grid + g) * s->seeds + i].curve;
    p->diverged |= c->diverged;
    val[i] = c->diverged ? NAN : c->val_acc[c->n - 1];
    test[i] = c->diverged ? NAN : c->test_acc[c->n - 1];
    loss[i] = c->diverged ? NAN : c->train_loss[c->n - 1];
  }
  lab_stats_of(val, (int)s->seeds, &p->val);
  lab_stats_of(test, (int)s->seeds, &p->test);
  lab_stats_of(loss, (int)s->seeds, &p->loss);
  if (p->diverged) p->val.mean = p->test.mean = p->loss.mean = NAN;
}

static int tuning_tables(lab_result *out, const tuning_setup *s, const tuning_point *pts,
                         lab_window *win) {
  char title[160];
  snprintf(title, sizeof title,
           "Final accuracy and training loss against the learning rate, %lld epochs, %lld "
           "seeds (mean and sd)",
           (long long)s->mlp.epochs, (long long)s->seeds);
  lab_table *t = lab_result_table(out, "tuning-curves", title,
                                  "run|lr|val acc|sd|test acc|sd|train loss|sd|diverged");
  if (!t) return DESCENT_ERANGE;
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++)
    for (int g = 0; g < s->n_grid; g++) {
      const tuning_point *p = &pts[k * s->n_grid + g];
      char num[LAB_NUM];
      int row = lab_table_row(t, "%s lr=%s", lab_compare_optimizers[k], lab_num(num, s->grid[g]));
      lab_table_num(t, row, "lr", s->grid[g]);
      lab_table_num(t, row, "val acc", p->val.mean);
      lab_table_num(t, row, "test acc", p->test.mean);
      lab_table_num(t, row, "train loss", p->loss.mean);
      if (!p->diverged) {
        lab_table_text(t, row, "diverged", "no");
        t->cells[(size_t)row * (size_t)t->n_cols + 3].number = p->val.sd;
        t->cells[(size_t)row * (size_t)t->n_cols + 5].number = p->test.sd;
        t->cells[(size_t)row * (size_t)t->n_cols + 7].number = p->loss.sd;
      } else {
        lab_table_text(t, row, "diverged", "yes");
      }
    }
  snprintf(title, sizeof title,
           "The good window: rates whose mean validation accuracy is within %g%% of the best "
           "('>=': the grid ends first)",
           100 * s->within);
  t = lab_result_table(out, "tuning", title,
                       "optimizer|best lr|best val acc|threshold|lo|hi|ratio|decades|test acc");
  if (!t) return DESCENT_ERANGE;
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++) {
    double score[LAB_MAX_LIST];
    for (int g = 0; g < s->n_grid; g++) score[g] = pts[k * s->n_grid + g].val.mean;
    int rc = lab_tuning_window(s->grid, score, s->n_grid, s->within, &win[k]);
    if (rc) { /* name the optimizer (a copy: the message is rewritten) */
      char why[256];
      snprintf(why, sizeof why, "%s", descent_last_error());
      return descent_fail(rc, "tuning: %s: %s", lab_compare_optimizers[k], why);
    }
    const lab_window *w = &win[k];
    int row = lab_table_row(t, "%s", lab_compare_optimizers[k]), best = 0;
    for (int g = 0; g < s->n_grid; g++)
      if (s->grid[g] == w->best_lr) best = g;
    lab_table_num(t, row, "best lr", w->best_lr);
    lab_table_num(t, row, "best val acc", w->best);
    lab_table_num(t, row, "threshold", w->threshold);
    lab_table_num(t, row, "lo", w->lo);
    lab_table_num(t, row, "hi", w->hi);
    if (w->lo_open || w->hi_open) {
      lab_table_text(t, row, "ratio", ">= %.3g", w->ratio);
      lab_table_text(t, row, "decades", ">= %.3g", w->decades);
    } else {
      lab_table_num(t, row, "ratio", w->ratio);
      lab_table_num(t, row, "decades", w->decades);
    }
    lab_table_num(t, row, "test acc", pts[k * s->n_grid + best].test.mean);
  }
  return DESCENT_OK;
}

/* tuning-points.csv: opt,optimizer,lr and each statistic over the seeds
   (empty where a seed diverged), for the bands. */
static int tuning_points_file(const char *dir, lab_result *out, const tuning_setup *s,
                              const tuning_point *pts) {
  FILE *f = lab_file_open(dir, "tuning-points.csv", out);
  if (!f) return DESCENT_EIO;
  fprintf(f, "opt,optimizer,lr,val_mean,val_min,val_max,test_mean,test_min,test_max,loss_mean,"
             "loss_min,loss_max\n");
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++)
    for (int g = 0; g < s->n_grid; g++) {
      const tuning_point *p = &pts[k * s->n_grid + g];
      fprintf(f, "%d,%s,%.9g", k, lab_compare_optimizers[k], s->grid[g]);
      const lab_stats *st[3] = {&p->val, &p->test, &p->loss};
      for (int q = 0; q < 3; q++) {
        if (p->diverged)
          fprintf(f, ",,,");
        else
          fprintf(f, ",%.9g,%.9g,%.9g", st[q]->mean, st[q]->min, st[q]->max);
      }
      fprintf(f, "\n");
    }
  return lab_file_close(f, "tuning-points.csv");
}

static void tuning_panel(FILE *f, const char *title, const char *ylabel, int col, int logy) {
  fprintf(f, "set title \"%s\"\nset ylabel \"%s\"\n%s\n", title, ylabel,
          logy ? "set logscale y" : "unset logscale y");
  for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++)
    fprintf(f,
            "%s'tuning-points.csv' using ($1==%d ? $3 : NaN):%d:%d with filledcurves "
            "fs transparent solid 0.15 noborder lc rgb \"%s\" notitle, \\\n"
            "     'tuning-points.csv' using ($1==%d ? $3 : NaN):%d with linespoints pt 7 ps 0.6 "
            "lw 2 lc rgb \"%s\" title \"%s\"",
            k ? ", \\\n     " : "plot ", k, col + 1, col + 2, lab_color(k), k, col, lab_color(k),
            lab_compare_optimizers[k]);
  if (col == 4) /* the windows, at each optimizer's threshold */
    for (int k = 0; k < LAB_COMPARE_OPTIMIZERS; k++)
      fprintf(f,
              ", \\\n     'tuning.csv' every ::%d::%d using 2:4:5:6:4:4 with xyerrorbars pt 0 "
              "lw 3 lc rgb \"%s\" notitle",
              k + 1, k + 1, lab_color(k));
  fprintf(f, "\n");
}

static int tuning_picture(const char *dir, lab_result *out, const tuning_setup *s) {
  FILE *f = lab_gp_open(dir, "tuning", 1800, 700,
                        "accuracy and training loss against the learning rate, with each "
                        "optimizer's good window",
                        out);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 1,3 title \"Learning-rate sensitivity on Fashion-MNIST (%lld "
          "seeds: mean, band from min to max); thick bars: the rates within %g%% of the best\" "
          "font \",13\"\n"
          "set logscale x\nset xlabel \"learning rate\"\nset grid\nset key below horizontal\n"
          "set format x \"%%.0e\"\n",
          (long long)s->seeds, 100 * s->within);
  tuning_panel(f, "final validation accuracy", "accuracy", 4, 0);
  tuning_panel(f, "final test accuracy", "accuracy", 7, 0);
  tuning_panel(f, "final training loss", "loss", 10, 1);
  return lab_gp_close(f, "tuning", out);
}

static int tuning_run(const lab_args *a, const char *dir, lab_result *out) {
  tuning_setup s;
  int rc = tuning_read(a, &s);
  if (rc) return rc;
  lab_fmnist d;
  rc = lab_fmnist_load(s.dir, s.train, s.val, s.test, &d);
  if (rc) return rc;
  int n = LAB_COMPARE_OPTIMIZERS * s.n_grid * (int)s.seeds;
  lab_mlp_job *jobs = calloc((size_t)n, sizeof *jobs);
  tuning_point *pts = calloc((size_t)(LAB_COMPARE_OPTIMIZERS * s.n_grid), sizeof *pts);
  lab_window win[LAB_COMPARE_OPTIMIZERS];
  if (!jobs || !pts) rc = descent_fail(DESCENT_ENOMEM, "tuning: out of memory");
  for (int i = 0; !rc && i < n; i++) {
    int64_t seed = i % s.seeds, g = (i / s.seeds) % s.n_grid, k = i / (s.seeds * s.n_grid);
    jobs[i] = (lab_mlp_job){(int)k, s.grid[g], (uint64_t)(s.seed + seed), {0}};
  }
  if (!rc) rc = lab_mlp_train_all(&d, &s.mlp, jobs, n);
  for (int k = 0; !rc && k < LAB_COMPARE_OPTIMIZERS; k++)
    for (int g = 0; g < s.n_grid; g++) tuning_summarize(&s, jobs, k, g, &pts[k * s.n_grid + g]);
  if (!rc) rc = tuning_tables(out, &s, pts, win);
  if (!rc) {
    int widest = 0, narrowest = 0;
    for (int k = 1; k < LAB_COMPARE_OPTIMIZERS; k++) {
      if (win[k].decades > win[widest].decades) widest = k;
      if (win[k].decades < win[narrowest].decades) narrowest = k;
    }
    lab_result_note(out,
                    "%d rates x %d optimizers x %lld seeds = %d runs of %lld steps on %zu "
                    "training images; scores after the whole budget",
                    s.n_grid, LAB_COMPARE_OPTIMIZERS, (long long)s.seeds, n,
                    (long long)lab_mlp_steps(&s.mlp, d.train.n), d.train.n);
    lab_result_note(out,
                    "widest good window: %s, %.2f decades (x%.3g); narrowest: %s, %.2f decades "
                    "(x%.3g)",
                    lab_compare_optimizers[widest], win[widest].decades, win[widest].ratio,
                    lab_compare_optimizers[narrowest], win[narrowest].decades,
                    win[narrowest].ratio);
  }
  if (!rc && dir) rc = tuning_points_file(dir, out, &s, pts);
  if (!rc && dir) rc = tuning_picture(dir, out, &s);
  for (int i = 0; jobs && i < n; i++) lab_curve_free(&jobs[i].curve);
  free(jobs);
  free(pts);
  lab_fmnist_free(&d);
  return rc;
}

/* Seconds instead of minutes: fewer images, rates and steps. */
const char *const lab_tuning_quick[] = {"train", "1000", "val",    "300", "test", "500",
                                        "width", "16",   "epochs", "1",   "lr",   "1e-3,0.01,0.1,1",
                                        "seeds", "2",    NULL};

const lab_demo lab_demo_tuning = {
    "tuning",
    "DeepOBS's learning-rate sensitivity",
    "final accuracy of SGD, momentum, Adagrad, RMSprop and Adam against the learning rate on "
    "Fashion-MNIST, and the width of each one's good window",
    tuning_options,
    sizeof tuning_options / sizeof tuning_options[0],
    tuning_run,
    "Robustness matters: the difficulty of tuning is a critical point that does not show in "
    "the training curves, so an optimizer is better when its good learning-rate window is "
    "wide (slides 29 and 36).",
    "Each optimizer's accuracy against the learning rate, with the seeds' range as a band; "
    "the table's window (ratio hi/lo and decades) says how far the rate can be off and still "
    "work: the adaptive methods' windows sit at much smaller rates than SGD's, and their "
    "widths differ.",
    "about 25 s of processor time (1.5 minutes on 2 shared cores)",
};
