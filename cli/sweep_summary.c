/*
 * sweep_summary.c - a sweep's results: SWEEP/summary.csv, one row per trial
 * ranked by the sweep's metric (rewritten atomically after every trial, so a
 * reader never sees half a file), and the ranked table printed at the end.
 */
#include "csv_read.h"
#include "descent.h"
#include "internal.h"
#include "sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const STATUS[] = {"pending", "done", "stopped", "diverged", "failed"};

int sweep_better(const char *metric, double a, double b) {
  if (isnan(a)) return 0;
  if (isnan(b)) return 1;
  return strstr(metric, "acc") ? a > b : a < b;
}

static int load_metrics(const char *dir, size_t t, csv_table *tab) {
  char path[4096], err[400];
  static const char *const need[] = {"epoch", NULL};
  snprintf(path, sizeof path, "%s/trial-%04zu/metrics.csv", dir, t + 1);
  return csv_load(path, "metrics.csv", need, tab, err, sizeof err);
}

double sweep_metric_at(const sweep_plan *plan, const char *dir, size_t t, size_t e) {
  csv_table tab = {0};
  double v = NAN;
  if (load_metrics(dir, t, &tab) == 0 && e >= 1 && e <= tab.n_rows)
    v = csv_value(&tab, e - 1, csv_column(&tab, plan->metric));
  csv_free(&tab);
  return v;
}

void sweep_trial_result(const sweep_plan *plan, const char *dir, size_t t, trial_result *r) {
  csv_table tab = {0};
  r->epochs = 0;
  r->train_loss = r->val_loss = r->val_acc = r->test_loss = r->test_acc = NAN;
  r->train_seconds = r->metric = NAN;
  if (load_metrics(dir, t, &tab) != 0 || tab.n_rows == 0) {
    csv_free(&tab);
    return;
  }
  size_t last = tab.n_rows - 1;
  r->epochs = tab.n_rows;
  r->train_loss = csv_value(&tab, last, csv_column(&tab, "train_loss"));
  r->val_loss = csv_value(&tab, last, csv_column(&tab, "val_loss"));
  r->val_acc = csv_value(&tab, last, csv_column(&tab, "val_acc"));
  r->test_loss = csv_value(&tab, last, csv_column(&tab, "test_loss"));
  r->test_acc = csv_value(&tab, last, csv_column(&tab, "test_acc"));
  r->metric = csv_value(&tab, last, csv_column(&tab, plan->metric));
  int col = csv_column(&tab, "train_seconds");
  r->train_seconds = 0;
  for (size_t i = 0; i < tab.n_rows; i++) r->train_seconds += csv_value(&tab, i, col);
  csv_free(&tab);
}

typedef struct {
  const sweep_plan *plan;
  const trial_state *states;
  trial_result *results;
} rank_ctx;

static rank_ctx *sort_ctx; /* qsort passes no context */

/* Finished trials first, then those halving stopped; by the metric within. */
static int rank_order(const void *pa, const void *pb) {
  size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
  const rank_ctx *c = sort_ctx;
  int ga = c->states[a].status == TRIAL_DONE ? 0 : 1,
      gb = c->states[b].status == TRIAL_DONE ? 0 : 1;
  if (ga != gb) return ga - gb;
  /* Stopped trials: those that went further first (they won more rungs). */
  if (c->results[a].epochs != c->results[b].epochs)
    return c->results[a].epochs > c->results[b].epochs ? -1 : 1;
  double ma = c->results[a].metric, mb = c->results[b].metric;
  if (sweep_better(c->plan->metric, ma, mb)) return -1;
  if (sweep_better(c->plan->metric, mb, ma)) return 1;
  return a < b ? -1 : 1;
}

static int ranked(const trial_state *s, const trial_result *r) {
  return (s->status == TRIAL_DONE || s->status == TRIAL_STOPPED) && !isnan(r->metric);
}

/* A number as %.9g, "nan" for NaN (never "-nan"). */
static void put_num(FILE *f, double x) {
  if (isnan(x))
    fputs(",nan", f);
  else
    fprintf(f, ",%.9g", x);
}

/* A text field, quoted when it holds a comma or a quote (RFC 4180). */
static void put_text(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"")) {
    fprintf(f, ",%s", s);
    return;
  }
  fputs(",\"", f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void write_rows(FILE *f, const sweep_plan *plan, const trial_state *st,
                       const trial_result *res, const size_t *rank) {
  fputs("rank,trial,status,seed", f);
  for (size_t j = 0; j < plan->n_params; j++) fprintf(f, ",p.%s", plan->params[j].name);
  fputs(",epochs,train_loss,val_loss,val_acc,test_loss,test_acc,train_seconds,metric,dir\n", f);
  for (size_t t = 0; t < plan->n_trials; t++) {
    const trial_result *r = &res[t];
    if (rank[t])
      fprintf(f, "%zu", rank[t]);
    else
      fputs("nan", f);
    fprintf(f, ",%zu,%s,%llu", t + 1, STATUS[st[t].status],
            (unsigned long long)plan->trials[t].seed);
    for (size_t j = 0; j < plan->n_params; j++) put_text(f, plan->trials[t].values[j]);
    fprintf(f, ",%zu", r->epochs);
    put_num(f, r->train_loss);
    put_num(f, r->val_loss);
    put_num(f, r->val_acc);
    put_num(f, r->test_loss);
    put_num(f, r->test_acc);
    put_num(f, r->epochs ? r->train_seconds : NAN);
    put_num(f, ranked(&st[t], r) ? r->metric : NAN);
    fprintf(f, ",trial-%04zu\n", t + 1);
  }
}

static void print_table(const sweep_plan *plan, const trial_state *st, const trial_result *res,
                        const size_t *order, size_t n_ranked) {
  size_t count[5] = {0};
  for (size_t t = 0; t < plan->n_trials; t++) count[st[t].status]++;
  printf("%-5s %-11s %-8s %-12s %6s  %s\n", "rank", "trial", "status", plan->metric, "epochs",
         "parameters");
  for (size_t i = 0; i < n_ranked && i < 10; i++) {
    size_t t = order[i];
    printf("%-5zu trial-%04zu  %-8s %-12.6g %6zu  seed=%llu", i + 1, t + 1, STATUS[st[t].status],
           res[t].metric, res[t].epochs, (unsigned long long)plan->trials[t].seed);
    for (size_t j = 0; j < plan->n_params; j++)
      printf(" %s=%s", plan->params[j].name, plan->trials[t].values[j]);
    printf("\n");
  }
  printf("%zu trials: %zu done, %zu stopped, %zu diverged, %zu failed, %zu pending\n",
         plan->n_trials, count[TRIAL_DONE], count[TRIAL_STOPPED], count[TRIAL_DIVERGED],
         count[TRIAL_FAILED], count[TRIAL_PENDING]);
}

int sweep_summary(const sweep_plan *plan, const char *dir, const trial_state *states, int print) {
  size_t n = plan->n_trials, n_ranked = 0;
  trial_result *res = calloc(n, sizeof *res);
  size_t *order = calloc(n, sizeof *order), *rank = calloc(n, sizeof *rank);
  char *text = NULL;
  size_t len = 0;
  FILE *f = NULL;
  int rc = -1;
  if (!res || !order || !rank) goto done;
  for (size_t t = 0; t < n; t++) {
    sweep_trial_result(plan, dir, t, &res[t]);
    if (ranked(&states[t], &res[t])) order[n_ranked++] = t;
  }
  rank_ctx ctx = {plan, states, res};
  sort_ctx = &ctx;
  qsort(order, n_ranked, sizeof *order, rank_order);
  for (size_t i = 0; i < n_ranked; i++) rank[order[i]] = i + 1;
  if (!(f = open_memstream(&text, &len))) goto done;
  write_rows(f, plan, states, res, rank);
  if (fclose(f) != 0) goto done;
  char path[4096];
  snprintf(path, sizeof path, "%s/summary.csv", dir);
  if (descent_write_file_atomic(path, text, len)) {
    fprintf(stderr, "descent sweep: writing %s failed: %s\n", path, descent_last_error());
    goto done;
  }
  if (print) print_table(plan, states, res, order, n_ranked);
  rc = 0;
done:
  free(text);
  free(res);
  free(order);
  free(rank);
  return rc;
}
