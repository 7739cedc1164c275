/*
 * bench_score.c - from a bench's trials to its scores, by AlgoPerf's rules
 * (scoring/performance_profile.py, get_workloads_time_to_target): in each
 * study, the trial whose validation metric reached the target at the
 * earliest evaluation gives the study's time (infinite when none did); a
 * submission's time on a workload is the median over studies; then
 * descent_benchmark_score (max_tau 4, 100 points) scores times and step
 * counts alike. DeepOBS's speed (descent_deepobs_speed) comes from the same
 * trials' validation curves.
 */
#include "bench_score.h"

#include "csv_read.h"
#include "options.h"

#include "descent.h"
#include "internal.h"
#include "lab/lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EPOCHS 1000

/* A trial's result file, read back. */
typedef struct trial_result {
  char status[32];
  size_t epochs, target_epoch; /* target_epoch 0: never reached */
  double steps, seconds;       /* to the target; INFINITY when never */
  double best, final, train_seconds;
  double curve[MAX_EPOCHS]; /* the validation metric after each epoch */
} trial_result;

static void result_path(const char *dir, const bench_trial *t, char *path, size_t cap) {
  snprintf(path, cap, "%s/results/%s.txt", dir, t->id);
}

int bench_result_exists(const char *dir, const bench_trial *t) {
  char path[2048];
  result_path(dir, t, path, sizeof path);
  FILE *f = fopen(path, "r");
  if (f) fclose(f);
  return f != NULL;
}

static int reached(const bench_workload *w, double v) {
  return w->maximize ? v >= w->target : v <= w->target;
}

/* The trial's metrics.csv summed up. */
static int read_metrics(const char *dir, const bench_trial *t, trial_result *r) {
  char path[2048], err[400];
  static const char *const required[] = {"step", "val_loss", "val_acc", "train_seconds", NULL};
  snprintf(path, sizeof path, "%s/trials/%s/metrics.csv", dir, t->id);
  csv_table tab;
  int rc = csv_load(path, "metrics.csv", required, &tab, err, sizeof err);
  if (rc == 1) return 0; /* the run stopped before its first epoch */
  if (rc < 0) {
    fprintf(stderr, "descent bench: %s: %s\n", t->id, err);
    return -1;
  }
  int c_step = csv_column(&tab, "step"), c_secs = csv_column(&tab, "train_seconds");
  int c_val = csv_column(&tab, t->w->maximize ? "val_acc" : "val_loss");
  double seconds = 0;
  for (size_t i = 0; i < tab.n_rows && i < MAX_EPOCHS; i++) {
    double v = csv_value(&tab, i, c_val);
    seconds += csv_value(&tab, i, c_secs);
    r->curve[i] = v;
    r->epochs = i + 1;
    if (!isnan(v) && (isnan(r->best) || (t->w->maximize ? v > r->best : v < r->best))) r->best = v;
    r->final = v;
    if (r->target_epoch == 0 && reached(t->w, v)) {
      r->target_epoch = i + 1;
      r->steps = csv_value(&tab, i, c_step);
      r->seconds = seconds;
    }
  }
  r->train_seconds = seconds;
  csv_free(&tab);
  return 0;
}

int bench_result_write(const char *dir, const bench_trial *t, const char *status, char *line) {
  static trial_result r;
  memset(&r, 0, sizeof r);
  r.steps = r.seconds = INFINITY;
  r.best = r.final = NAN;
  if (strcmp(status, "unsupported") != 0 && read_metrics(dir, t, &r)) return -1;
  static char text[MAX_EPOCHS * 20 + 2048];
  size_t len = (size_t)snprintf(
      text, sizeof text,
      "status=%s\nopt=%s\nlr=%s\nseed=%llu\nepochs=%zu\ntarget_epoch=%zu\nsteps_to_target=%.9g\n"
      "seconds_to_target=%.9g\nbest=%.9g\nfinal=%.9g\ntrain_seconds=%.9g\ncurve=",
      status, t->opt, t->lr[0] ? t->lr : "default", (unsigned long long)t->seed, r.epochs,
      r.target_epoch, r.steps, r.seconds, r.best, r.final, r.train_seconds);
  for (size_t i = 0; i < r.epochs && len < sizeof text - 32; i++)
    len += (size_t)snprintf(text + len, sizeof text - len, "%s%.9g", i ? " " : "", r.curve[i]);
  snprintf(text + len, sizeof text - len, "\n");
  char path[2048];
  result_path(dir, t, path, sizeof path);
  if (descent_write_file_atomic(path, text, strlen(text)) != DESCENT_OK) {
    fprintf(stderr, "descent bench: %s\n", descent_last_error());
    return -1;
  }
  if (line) {
    if (isnan(t->w->target))
      snprintf(line, 256, "%s, best %.6g", status, r.best);
    else if (r.target_epoch)
      snprintf(line, 256, "%s, target at epoch %zu (%.3f s, %.0f steps)", status, r.target_epoch,
               r.seconds, r.steps);
    else
      snprintf(line, 256, "%s, target not reached (best %.4g)", status, r.best);
  }
  return 0;
}

static int result_read(const char *dir, const bench_trial *t, trial_result *r) {
  char path[2048], value[64];
  static char text[MAX_EPOCHS * 20 + 2048];
  result_path(dir, t, path, sizeof path);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "descent bench: %s is missing; continue the bench with --resume %s\n", path,
            dir);
    return -1;
  }
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  memset(r, 0, sizeof *r);
  cli_config_value(text, "status", r->status, sizeof r->status);
  cli_config_value(text, "epochs", value, sizeof value), r->epochs = strtoul(value, NULL, 10);
  cli_config_value(text, "target_epoch", value, sizeof value);
  r->target_epoch = strtoul(value, NULL, 10);
  cli_config_value(text, "steps_to_target", value, sizeof value), r->steps = strtod(value, NULL);
  cli_config_value(text, "seconds_to_target", value, sizeof value);
  r->seconds = strtod(value, NULL);
  cli_config_value(text, "best", value, sizeof value), r->best = strtod(value, NULL);
  cli_config_value(text, "final", value, sizeof value), r->final = strtod(value, NULL);
  cli_config_value(text, "train_seconds", value, sizeof value);
  r->train_seconds = strtod(value, NULL);
  const char *curve = strstr(text, "\ncurve=");
  if (curve) {
    char *p = (char *)curve + 7, *end;
    for (size_t i = 0; i < r->epochs && i < MAX_EPOCHS; i++, p = end) r->curve[i] = strtod(p, &end);
  }
  if (r->status[0] == 0) {
    fprintf(stderr, "descent bench: %s has no status; delete it and --resume %s to rerun it\n",
            path, dir);
    return -1;
  }
  return 0;
}

/* np.median: the middle value, or the mean of the two middle ones. */
static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static double median(double *v, size_t n) {
  qsort(v, n, sizeof *v, compare);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The distinct workloads and optimizers of the plan, in plan order. */
typedef struct bench_axes {
  const bench_workload *w[32];
  const bench_optimizer *o[32];
  size_t nw, no;
} bench_axes;

static void axes_of(const bench_trial *plan, size_t n, bench_axes *a) {
  memset(a, 0, sizeof *a);
  for (size_t i = 0; i < n; i++) {
    size_t k;
    for (k = 0; k < a->nw && a->w[k] != plan[i].w; k++) {
    }
    if (k == a->nw && a->nw < 32) a->w[a->nw++] = plan[i].w;
    for (k = 0; k < a->no && a->o[k] != plan[i].o; k++) {
    }
    if (k == a->no && a->no < 32) a->o[a->no++] = plan[i].o;
  }
}

/* One submission on one workload under one ruleset: the median over
   studies of the study's best trial's time and steps, and DeepOBS's speed
   over the same trials' curves (each preceded by the untrained point, which
   never counts as reached, so that an index is an epoch). */
static int submission_times(const char *dir, const bench_trial *plan, size_t n,
                            const bench_optimizer *o, const bench_workload *w, int self,
                            size_t studies, double *time, double *steps, double *speed) {
  static trial_result r;
  double t_study[100], s_study[100];
  static double curves[100 * (MAX_EPOCHS + 1)];
  size_t evals = w->epochs + 1;
  for (size_t s = 0; s < studies && s < 100; s++) {
    size_t best_epoch = 0;
    double best_metric = NAN;
    t_study[s] = s_study[s] = INFINITY;
    for (size_t k = 0; k < evals; k++) curves[s * evals + k] = NAN;
    for (size_t i = 0; i < n; i++) {
      const bench_trial *t = &plan[i];
      if (t->o != o || t->w != w || t->self_tuning != self || (size_t)t->study != s) continue;
      if (result_read(dir, t, &r)) return -1;
      /* The earliest evaluation that reached the target; ties go to the
         first trial (pandas' idxmin). */
      int better = r.target_epoch && (best_epoch == 0 || r.target_epoch < best_epoch);
      int fallback =
          best_epoch == 0 && !isnan(r.best) &&
          (isnan(best_metric) || (w->maximize ? r.best > best_metric : r.best < best_metric));
      if (better) best_epoch = r.target_epoch, t_study[s] = r.seconds, s_study[s] = r.steps;
      if (better || fallback) {
        best_metric = r.best;
        for (size_t k = 0; k < evals; k++)
          curves[s * evals + k] = k >= 1 && k <= r.epochs ? r.curve[k - 1] : NAN;
      }
    }
  }
  *time = median(t_study, studies);
  *steps = median(s_study, studies);
  if (descent_deepobs_speed(curves, studies, evals, w->target, w->maximize, speed)) return -1;
  return 0;
}

int bench_results_csv(const char *dir, const bench_trial *plan, size_t n) {
  static trial_result r;
  char path[2048];
  snprintf(path, sizeof path, "%s/results.csv", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "workload,optimizer,ruleset,study,trial,seed,opt,lr,status,epochs,target_epoch,"
             "steps_to_target,seconds_to_target,best,final,train_seconds,dir\n");
  for (size_t i = 0; i < n; i++) {
    const bench_trial *t = &plan[i];
    if (result_read(dir, t, &r)) {
      fclose(f);
      return -1;
    }
    fprintf(f, "%s,%s,%s,%d,%d,%llu,\"%s\",%s,%s,%zu,%zu,%.9g,%.9g,%.9g,%.9g,%.9g,trials/%s\n",
            t->w->name, t->o->name, t->self_tuning ? "self" : "external", t->study, t->trial,
            (unsigned long long)t->seed, t->opt, t->lr[0] ? t->lr : "default", r.status, r.epochs,
            r.target_epoch, r.steps, r.seconds, r.best, r.final, r.train_seconds, t->id);
  }
  return fclose(f) == 0 ? 0 : -1;
}

/* profile-RULESET.csv (tau, then each optimizer's rho by time and by
   steps) and its gnuplot picture. */
static int write_profiles(const char *dir, const char *ruleset, const bench_axes *a,
                          const double *times, const double *steps) {
  enum { POINTS = 100 };
  double taus[POINTS], *rt = calloc(a->no * POINTS, sizeof *rt),
                       *rs = calloc(a->no * POINTS, sizeof *rs);
  if (!rt || !rs) return free(rt), free(rs), -1;
  for (int i = 0; i < POINTS; i++) taus[i] = 1 + 3.0 * i / (POINTS - 1);
  int rc = descent_performance_profile(times, a->no, a->nw, 4, taus, POINTS, rt);
  if (!rc) rc = descent_performance_profile(steps, a->no, a->nw, 4, taus, POINTS, rs);
  char path[2048], stem[64];
  snprintf(stem, sizeof stem, "profile-%s", ruleset);
  snprintf(path, sizeof path, "%s/%s.csv", dir, stem);
  FILE *f = rc ? NULL : fopen(path, "w");
  if (f) {
    fprintf(f, "tau");
    for (size_t o = 0; o < a->no; o++) fprintf(f, ",time.%s", a->o[o]->name);
    for (size_t o = 0; o < a->no; o++) fprintf(f, ",steps.%s", a->o[o]->name);
    fprintf(f, "\n");
    for (int i = 0; i < POINTS; i++) {
      fprintf(f, "%.9g", taus[i]);
      for (size_t o = 0; o < a->no; o++) fprintf(f, ",%.9g", rt[o * POINTS + i]);
      for (size_t o = 0; o < a->no; o++) fprintf(f, ",%.9g", rs[o * POINTS + i]);
      fprintf(f, "\n");
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/%s.gp", dir, stem);
    f = fopen(path, "w");
  }
  if (f) {
    lab_gp_header(f, stem, "AlgoPerf performance profiles", "descent bench", "png svg", 1100, 450);
    fprintf(f, "set multiplot layout 1,2 title \"Performance profiles (%s tuning)\"\n", ruleset);
    for (int panel = 0; panel < 2; panel++) {
      fprintf(f,
              "set xrange [1:4]\nset yrange [0:1.05]\nset key bottom right\n"
              "set xlabel \"tau: ratio to the fastest %s\"\nset ylabel \"rho(tau): fraction "
              "of workloads\"\nset title \"by %s\"\nplot ",
              panel ? "step count" : "time", panel ? "steps to target" : "time to target");
      for (size_t o = 0; o < a->no; o++)
        fprintf(f, "%s'%s.csv' using 1:%zu with steps lw 2 lc rgb \"%s\" title \"%s\"",
                o ? ", \\\n     " : "", stem, 2 + o + (panel ? a->no : 0), lab_color((int)o),
                a->o[o]->name);
      fprintf(f, "\n");
    }
    fprintf(f, "unset multiplot\nset output\n}\n");
    fclose(f);
    if (lab_gnuplot_available() && lab_plot_render(dir, stem) != DESCENT_OK)
      fprintf(stderr, "descent bench: %s.gp: %s\n", stem, descent_last_error());
  }
  free(rt), free(rs);
  return rc ? -1 : 0;
}

/* windows.csv and its table: per optimizer and workload, the external
   trials that reached the target and the range of their learning rates (in
   decades, log10(hi / lo)): how wide a window the tuning has to hit. The
   other hyperparameter of the search varies too; the window is the rate's.
   Returns 0, or -1 (a file that cannot be read or written). */
static int write_windows(const char *dir, const bench_trial *plan, size_t n, const bench_axes *a) {
  static trial_result r;
  char path[2048];
  snprintf(path, sizeof path, "%s/windows.csv", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "optimizer,workload,trials,reached,lr_lo,lr_hi,decades\n");
  int any = 0;
  for (size_t i = 0; i < n; i++) any |= !plan[i].self_tuning;
  if (any) {
    printf("\nexternal tuning: trials that reached the target, and the decades their learning "
           "rates span (the tuning window)\n  %-10s",
           "optimizer");
    for (size_t w = 0; w < a->nw; w++) printf(" %15.15s", a->w[w]->name);
    printf("\n");
  }
  for (size_t o = 0; o < a->no && any; o++) {
    printf("  %-10s", a->o[o]->name);
    for (size_t w = 0; w < a->nw; w++) {
      size_t trials = 0, hit = 0;
      double lo = INFINITY, hi = -INFINITY;
      for (size_t i = 0; i < n; i++) {
        const bench_trial *t = &plan[i];
        if (t->o != a->o[o] || t->w != a->w[w] || t->self_tuning) continue;
        if (result_read(dir, t, &r)) return fclose(f), -1;
        trials++;
        double lr = strtod(t->lr, NULL);
        if (!r.target_epoch || !(lr > 0)) continue;
        hit++;
        if (lr < lo) lo = lr;
        if (lr > hi) hi = lr;
      }
      double decades = hit ? log10(hi / lo) : NAN;
      fprintf(f, "%s,%s,%zu,%zu,%.9g,%.9g,%.9g\n", a->o[o]->name, a->w[w]->name, trials, hit,
              hit ? lo : NAN, hit ? hi : NAN, decades);
      char cell[32];
      if (hit)
        snprintf(cell, sizeof cell, "%zu/%zu %.2f", hit, trials, decades);
      else
        snprintf(cell, sizeof cell, "0/%zu -", trials);
      printf(" %15s", cell);
    }
    printf("\n");
  }
  return fclose(f) == 0 ? 0 : -1;
}

int bench_score_write(const char *dir, const bench_trial *plan, size_t n, size_t studies) {
  bench_axes a;
  axes_of(plan, n, &a);
  if (bench_results_csv(dir, plan, n)) return -1;
  char path[2048];
  snprintf(path, sizeof path, "%s/scores.csv", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "submission,ruleset,score_time,score_steps");
  for (size_t w = 0; w < a.nw; w++)
    fprintf(f, ",time.%s,steps.%s,speed.%s", a.w[w]->name, a.w[w]->name, a.w[w]->name);
  fprintf(f, "\n");
  size_t cells = a.no * a.nw;
  double *times = calloc(cells * 3, sizeof *times), *steps = times + cells,
         *speeds = times + 2 * cells, scores_t[32], scores_s[32];
  int rc = times ? 0 : -1;
  for (int self = 0; self <= 1 && !rc; self++) {
    int present = 0;
    for (size_t i = 0; i < n; i++) present |= plan[i].self_tuning == self;
    if (!present) continue;
    const char *ruleset = self ? "self" : "external";
    for (size_t o = 0; o < a.no && !rc; o++)
      for (size_t w = 0; w < a.nw && !rc; w++)
        rc = submission_times(dir, plan, n, a.o[o], a.w[w], self, studies, &times[o * a.nw + w],
                              &steps[o * a.nw + w], &speeds[o * a.nw + w]);
    if (!rc) rc = descent_benchmark_score(times, a.no, a.nw, 4, 100, scores_t);
    if (!rc) rc = descent_benchmark_score(steps, a.no, a.nw, 4, 100, scores_s);
    if (rc) {
      fprintf(stderr, "descent bench: %s\n", descent_last_error());
      break;
    }
    printf("\n%s tuning: AlgoPerf scores (1 = fastest everywhere) and median time to target (s)\n",
           ruleset);
    printf("  %-10s %7s %7s", "optimizer", "time", "steps");
    for (size_t w = 0; w < a.nw; w++) printf(" %15.15s", a.w[w]->name);
    printf("\n");
    for (size_t o = 0; o < a.no; o++) {
      fprintf(f, "%s,%s,%.9g,%.9g", a.o[o]->name, ruleset, scores_t[o], scores_s[o]);
      printf("  %-10s %7.3f %7.3f", a.o[o]->name, scores_t[o], scores_s[o]);
      for (size_t w = 0; w < a.nw; w++) {
        size_t k = o * a.nw + w;
        fprintf(f, ",%.9g,%.9g,%.9g", times[k], steps[k], speeds[k]);
        printf(" %15.4g", times[k]);
      }
      fprintf(f, "\n");
      printf("\n");
    }
    rc = write_profiles(dir, ruleset, &a, times, steps);
  }
  free(times);
  if (fclose(f) != 0) rc = -1;
  if (!rc) rc = write_windows(dir, plan, n, &a);
  if (!rc)
    printf("\nscores in %s/scores.csv, trials in %s/results.csv, tuning windows in "
           "%s/windows.csv, profiles in %s/profile-*.png\n",
           dir, dir, dir, dir);
  return rc;
}

int bench_result_best(const char *dir, const bench_trial *t, double *best) {
  static trial_result r;
  if (result_read(dir, t, &r)) return -1;
  *best = r.best;
  return 0;
}
