/*
 * cmd_bench.c - `descent bench`: AlgoPerf's protocol on CPU-sized workloads.
 *
 * Every optimizer of the plan trains every workload: under external tuning,
 * N trials (Halton points of its search space) in each of M studies; under
 * self-tuning, its defaults once per study. Each trial is a child process:
 * `descent train` with the run folder BENCH/trials/ID for the Fashion-MNIST
 * workloads, and a forked child that runs the trainer in-process on the
 * quadratic_deep problem (descent train takes no synthetic problem), which
 * writes the same metrics.csv. When a child ends, its time to target is read
 * from metrics.csv and written to BENCH/results/ID.txt (temporary file, then
 * rename): a bench stopped at any point continues with --resume, rerunning
 * only the trials that have no result file. bench_score.c scores the
 * results.
 */
#include "bench_plan.h"
#include "bench_score.h"
#include "child.h"
#include "setup.h"
#include "commands.h"
#include "options.h"

#include "descent.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static cli_option bench_options[] = {
    {"out", "DIR", "the bench folder: must be new or empty", "bench-run", 0},
    {"resume", "DIR",
     "continue a stopped bench in DIR with its own plan (options other than --jobs ignored)", NULL,
     0},
    {"workloads", "LIST", "comma-separated workloads (see --list), or all", "all", 0},
    {"optimizers", "LIST", "comma-separated optimizers (see --list), or all", "all", 0},
    {"trials", "N", "external tuning: trials per study (AlgoPerf: 5)", "5", 0},
    {"studies", "M", "independent studies; a time to target is their median (AlgoPerf: 3)", "3", 0},
    {"ruleset", "R", "external (tuned trials), self (defaults only) or both", "both", 0},
    {"jobs", "N", "trials run at the same time, each a process", "1", 0},
    {"threads", "N", "threads of each trial", "1", 0},
    {"data-dir", "DIR", "Fashion-MNIST's IDX files", DESCENT_FASHION_MNIST_DIR, 0},
    {"quick", NULL,
     "the quick subset: " BENCH_QUICK_WORKLOADS "; " BENCH_QUICK_OPTIMIZERS
     "; 3 trials x 2 studies (under 15 minutes on 2 cores)",
     NULL, 0},
    {"calibrate", NULL,
     "set the targets as AlgoPerf does: adam and momentum, 8 trials each within the "
     "target-setting budget, then the best configuration with 5 seeds; prints the medians",
     NULL, 0},
    {"epochs", "N",
     "testing: the one workload's budget in epochs instead of its own (scores not comparable)",
     NULL, 0},
    {"target", "X",
     "testing: the one workload's validation target instead of its own (scores not comparable)",
     NULL, 0},
    {"list", NULL, "print the workloads and the optimizers' search spaces, and exit", NULL, 0},
};
enum { N_BENCH_OPTIONS = sizeof bench_options / sizeof bench_options[0] };

/* The plan, as saved in BENCH/bench.txt for --resume. */
typedef struct bench_config {
  char dir[1024], workloads[1024], optimizers[1024], ruleset[32], data_dir[1024];
  size_t trials, studies, jobs, threads;
  int calibrate;
  size_t epochs; /* 0: each workload's own budget */
  double target; /* NAN: each workload's own target */
} bench_config;

/* The workloads as this bench runs them: changed by --epochs or --target,
   or with the target-setting budget under --calibrate. */
static bench_workload custom_workloads[32];

/* ---- files ---------------------------------------------------------------- */

static int write_atomic(const char *path, const char *text) {
  if (descent_write_file_atomic(path, text, strlen(text)) == DESCENT_OK) return 0;
  fprintf(stderr, "descent bench: %s\n", descent_last_error());
  return -1;
}

static int make_dir(const char *path) {
  if (mkdir(path, 0777) == 0 || errno == EEXIST) return 0;
  fprintf(stderr, "descent bench: cannot create %s: %s\n", path, strerror(errno));
  return -1;
}

/* A folder that must be new or empty. */
static int new_or_empty(const char *path) {
  char found[256];
  int held = cli_folder_first_entry(path, NULL, found, sizeof found);
  if (held < 0) return make_dir(path);
  if (!held) return 0;
  fprintf(stderr,
          "descent bench: %s is not empty; give a new folder with --out, or continue the bench "
          "in it with --resume %s\n",
          path, path);
  return -1;
}

/* Removes a trial's unfinished run folder (files only: --keep 0 writes no
   subfolders) so that the trial starts again from nothing. */
static int remove_run_folder(const char *path) {
  DIR *d = opendir(path);
  if (!d) return errno == ENOENT ? 0 : -1;
  struct dirent *e;
  char file[2400];
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    snprintf(file, sizeof file, "%s/%s", path, e->d_name);
    unlink(file);
  }
  closedir(d);
  return rmdir(path);
}

static int save_config(const bench_config *c) {
  char path[2048], text[4096];
  snprintf(path, sizeof path, "%s/bench.txt", c->dir);
  snprintf(text, sizeof text,
           "workloads=%s\noptimizers=%s\ntrials=%zu\nstudies=%zu\nruleset=%s\nthreads=%zu\n"
           "calibrate=%d\ndata-dir=%s\nepochs=%zu\ntarget=%.17g\n",
           c->workloads, c->optimizers, c->trials, c->studies, c->ruleset, c->threads, c->calibrate,
           c->data_dir, c->epochs, c->target);
  return write_atomic(path, text);
}

static int load_config(bench_config *c) {
  char path[2048], value[1024];
  static char text[8192];
  snprintf(path, sizeof path, "%s/bench.txt", c->dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr,
            "descent bench: --resume %s: no bench.txt there (%s); give the folder of a "
            "bench that was started\n",
            c->dir, strerror(errno));
    return -1;
  }
  size_t n = fread(text, 1, sizeof text - 1, f);
  fclose(f);
  text[n] = 0;
  static const char *const keys[] = {"workloads", "optimizers", "trials",   "studies", "ruleset",
                                     "threads",   "calibrate",  "data-dir", "epochs",  "target"};
  for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
    if (!cli_config_value(text, keys[k], value, sizeof value)) {
      fprintf(stderr, "descent bench: %s lacks %s=; it was not written by descent bench\n", path,
              keys[k]);
      return -1;
    }
  cli_config_value(text, "workloads", c->workloads, sizeof c->workloads);
  cli_config_value(text, "optimizers", c->optimizers, sizeof c->optimizers);
  cli_config_value(text, "ruleset", c->ruleset, sizeof c->ruleset);
  cli_config_value(text, "data-dir", c->data_dir, sizeof c->data_dir);
  cli_config_value(text, "trials", value, sizeof value), c->trials = strtoul(value, NULL, 10);
  cli_config_value(text, "studies", value, sizeof value), c->studies = strtoul(value, NULL, 10);
  cli_config_value(text, "threads", value, sizeof value), c->threads = strtoul(value, NULL, 10);
  cli_config_value(text, "calibrate", value, sizeof value), c->calibrate = atoi(value);
  cli_config_value(text, "epochs", value, sizeof value), c->epochs = strtoul(value, NULL, 10);
  cli_config_value(text, "target", value, sizeof value), c->target = strtod(value, NULL);
  if (c->trials < 1 || c->studies < 1 || c->threads < 1) {
    fprintf(stderr, "descent bench: %s: trials, studies and threads must be at least 1\n", path);
    return -1;
  }
  return 0;
}

/* ---- the plan ------------------------------------------------------------- */

/* Splits a comma-separated list into names checked by find; "all" is every
   entry of the table. */
static int parse_names(const char *list, const char *what, int is_workload, const void **out,
                       size_t *n) {
  *n = 0;
  size_t total = is_workload ? bench_n_workloads : bench_n_optimizers;
  if (strcmp(list, "all") == 0) {
    for (size_t i = 0; i < total; i++)
      out[(*n)++] = is_workload ? (const void *)&bench_workloads[i] : &bench_optimizers[i];
    return 0;
  }
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    const void *p =
        is_workload ? (const void *)bench_find_workload(tok) : bench_find_optimizer(tok);
    if (!p) {
      fprintf(stderr, "descent bench: unknown %s '%s'; valid: ", what, tok);
      for (size_t i = 0; i < total; i++)
        fprintf(stderr, "%s%s", i ? ", " : "",
                is_workload ? bench_workloads[i].name : bench_optimizers[i].name);
      fprintf(stderr, " (descent bench --list)\n");
      return -1;
    }
    for (size_t i = 0; i < *n; i++)
      if (out[i] == p) {
        fprintf(stderr, "descent bench: %s '%s' is listed twice\n", what, tok);
        return -1;
      }
    if (*n == 32) {
      fprintf(stderr, "descent bench: more than 32 %ss listed\n", what);
      return -1;
    }
    out[(*n)++] = p;
  }
  if (*n == 0) {
    fprintf(stderr, "descent bench: no %s given; name at least one (descent bench --list)\n", what);
    return -1;
  }
  return 0;
}

static int build_plan(const bench_config *c, bench_trial **plan, size_t *n_plan) {
  const void *ws[32], *os[32];
  size_t nw, no;
  if (parse_names(c->workloads, "workload", 1, ws, &nw)) return -1;
  if (parse_names(c->optimizers, "optimizer", 0, os, &no)) return -1;
  if (c->epochs || !isnan(c->target)) {
    if (nw != 1) {
      fprintf(stderr, "descent bench: --epochs and --target change one workload; name exactly one "
                      "with --workloads\n");
      return -1;
    }
  }
  for (size_t i = 0; i < nw; i++) {
    custom_workloads[i] = *(const bench_workload *)ws[i];
    if (c->calibrate) custom_workloads[i].epochs = custom_workloads[i].calib_epochs;
    if (c->epochs) custom_workloads[i].epochs = c->epochs;
    if (!isnan(c->target)) custom_workloads[i].target = c->target;
    ws[i] = &custom_workloads[i];
  }
  int external = strcmp(c->ruleset, "self") != 0, self = strcmp(c->ruleset, "external") != 0;
  if (strcmp(c->ruleset, "external") && strcmp(c->ruleset, "self") && strcmp(c->ruleset, "both")) {
    fprintf(stderr, "descent bench: --ruleset %s: valid rulesets are external, self, both\n",
            c->ruleset);
    return -1;
  }
  for (size_t i = 0; i < nw && !c->calibrate && isnan(c->target); i++) {
    const bench_workload *w = ws[i];
    if (isnan(w->target)) {
      fprintf(stderr,
              "descent bench: workload %s has no target yet; run descent bench "
              "--calibrate --workloads %s and put its number in cli/bench_plan.c\n",
              w->name, w->name);
      return -1;
    }
  }
  /* Fashion-MNIST must be there before any trial starts, or every one of
     them would fail alike. */
  for (size_t i = 0; i < nw; i++) {
    if (((const bench_workload *)ws[i])->model == NULL) continue;
    char path[1100], gz[1104];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte", c->data_dir);
    snprintf(gz, sizeof gz, "%s.gz", path);
    if (access(path, R_OK) != 0 && access(gz, R_OK) != 0) {
      fprintf(stderr,
              "descent bench: workload %s needs Fashion-MNIST, and %s has no "
              "train-images-idx3-ubyte[.gz]; install dataset-fashion-mnist or give "
              "--data-dir\n",
              ((const bench_workload *)ws[i])->name, c->data_dir);
      return -1;
    }
    break;
  }
  size_t per = (external ? c->trials : 0) + (self ? 1 : 0);
  *n_plan = 0;
  *plan = calloc(nw * no * c->studies * per, sizeof **plan);
  if (!*plan) return -1;
  for (size_t i = 0; i < nw; i++)
    for (size_t j = 0; j < no; j++)
      for (int r = external ? 0 : 1; r <= (self ? 1 : 0); r++)
        for (size_t s = 0; s < c->studies; s++)
          for (size_t t = 0; t < (r ? 1 : c->trials); t++)
            if (bench_trial_make(&(*plan)[(*n_plan)++], ws[i], os[j], r, (int)s, (int)t,
                                 (int)c->trials))
              return -1;
  return 0;
}

/* ---- a trial --------------------------------------------------------------- */

/* quadratic_deep in this (forked) process: DeepOBS's batches of 128 terms
   drawn without replacement, the remainder dropped, so 7 steps per epoch;
   after each epoch the loss on DeepOBS's test terms (data_seed 43) is the
   validation loss. Writes metrics.csv as descent train does. */
typedef struct qd_state {
  descent_objective *obj, *val;
  descent_optimizer *opt;
  descent_rng rng;
  size_t order[1000], pos, batch_size, batch[1000];
  FILE *csv;
} qd_state;

static int qd_next_batch(void *user, descent_batch *b) {
  qd_state *s = user;
  if (s->pos + s->batch_size > 1000) { /* a new epoch: shuffle */
    for (size_t i = 999; i > 0; i--) {
      size_t j = (size_t)descent_rng_below(&s->rng, i + 1), t = s->order[i];
      s->order[i] = s->order[j], s->order[j] = t;
    }
    s->pos = 0;
  }
  memcpy(s->batch, s->order + s->pos, s->batch_size * sizeof *s->batch);
  s->pos += s->batch_size;
  memset(b, 0, sizeof *b);
  b->n = s->batch_size;
  b->indices = s->batch;
  return DESCENT_OK;
}

static int qd_on_epoch(void *user, const descent_epoch_report *e) {
  qd_state *s = user;
  int rc = descent_optimizer_eval(s->opt, s->obj);
  if (rc) return rc;
  memcpy(s->val->params, s->obj->params, s->obj->n_params * sizeof *s->obj->params);
  double val_loss = NAN;
  rc = descent_objective_value(s->val, NULL, &val_loss);
  if (rc) return rc;
  fprintf(s->csv, "%lld,%lld,%.9g,%.9g,nan,%.9g,nan,nan,nan,%.1f,%.6f,%lld,0\n",
          (long long)e->epoch, (long long)e->step, e->lr, e->train_loss, val_loss, e->samples_per_s,
          e->seconds, (long long)descent_optimizer_evaluations(s->opt));
  fflush(s->csv);
  return DESCENT_OK;
}

static int run_quadratic_deep(const bench_trial *t, const char *run_dir, int threads) {
  static qd_state s;
  char path[2112];
  memset(&s, 0, sizeof s);
  if (make_dir(run_dir)) return 1;
  snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
  s.csv = fopen(path, "w");
  if (!s.csv) return 1;
  fprintf(s.csv, "epoch,step,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,"
                 "samples_per_s,train_seconds,evaluations,products\n");
  int rc = descent_problem_create(&s.obj, "quadratic_deep");
  if (!rc) rc = descent_problem_create(&s.val, "quadratic_deep(data_seed=43)");
  if (!rc) rc = descent_optimizer_create(&s.opt, t->opt, t->lr[0] ? t->lr : NULL, s.obj->n_params);
  descent_trainer *tr = NULL;
  if (!rc) {
    for (size_t i = 0; i < 1000; i++) s.order[i] = i;
    descent_rng_seed(&s.rng, t->seed);
    s.batch_size = t->w->batch;
    s.pos = 1000; /* shuffle before the first batch */
    descent_trainer_options o;
    descent_trainer_options_default(&o);
    o.seed = t->seed;
    o.steps_per_epoch = (int64_t)(1000 / t->w->batch);
    o.next_batch = qd_next_batch;
    o.on_epoch = qd_on_epoch;
    o.user = &s;
    o.threads = threads;
    rc = descent_trainer_create(&tr, s.obj, s.opt, NULL, &o);
  }
  if (!rc) rc = descent_trainer_run(tr, (int64_t)t->w->epochs, 0);
  if (rc) fprintf(stderr, "descent bench: %s: %s\n", t->id, descent_last_error());
  /* The verdict line descent train prints, which child_log_says_diverged
     reads for every trial. */
  if (rc == DESCENT_EDIVERGED)
    fprintf(stderr, "descent train: diverged (in the bench's process)\n");
  descent_trainer_free(tr);
  descent_optimizer_free(s.opt);
  descent_objective_free(s.obj);
  descent_objective_free(s.val);
  fclose(s.csv);
  return rc ? 1 : 0;
}

/* Starts a trial's child process; returns its pid, or -1. */
static pid_t start_trial(const bench_config *c, const bench_trial *t, const char *exe) {
  char run_dir[2048], log[2048];
  snprintf(run_dir, sizeof run_dir, "%s/trials/%s", c->dir, t->id);
  snprintf(log, sizeof log, "%s/logs/%s.log", c->dir, t->id);
  if (remove_run_folder(run_dir) != 0 && errno != ENOENT) {
    fprintf(stderr, "descent bench: cannot clear %s: %s\n", run_dir, strerror(errno));
    return -1;
  }
  fflush(stdout);
  fflush(stderr);
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid != 0) return pid;
  child_dies_with_parent(parent);
  int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
  if (fd >= 0) dup2(fd, 1), dup2(fd, 2), close(fd);
  if (t->w->model == NULL) _exit(run_quadratic_deep(t, run_dir, (int)c->threads));
  char epochs[32], batch[32], limit[32], val[32], seed[32], threads[32];
  snprintf(epochs, sizeof epochs, "%zu", t->w->epochs);
  snprintf(batch, sizeof batch, "%zu", t->w->batch);
  snprintf(limit, sizeof limit, "%zu", t->w->limit);
  snprintf(val, sizeof val, "%zu", t->w->val);
  snprintf(seed, sizeof seed, "%llu", (unsigned long long)t->seed);
  snprintf(threads, sizeof threads, "%zu", c->threads);
  const char *argv[40] = {
      "descent", "train",        "--model",   t->w->model, "--opt",      t->opt,      "--epochs",
      epochs,    "--batch-size", batch,       "--limit",   limit,        "--val",     val,
      "--seed",  seed,           "--threads", threads,     "--data-dir", c->data_dir, "--keep",
      "0",       "--quiet",      "--out",     run_dir};
  int n = 25;
  if (t->lr[0]) argv[n++] = "--lr", argv[n++] = t->lr;
  argv[n] = NULL;
  execv(exe, (char *const *)argv);
  fprintf(stderr, "descent bench: cannot run %s: %s\n", exe, strerror(errno));
  _exit(127);
}

/* ---- the command ---------------------------------------------------------- */

static int run_plan(const bench_config *c, bench_trial *plan, size_t n) {
  char exe[1024];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (len <= 0) {
    fprintf(stderr, "descent bench: cannot find its own program: %s\n", strerror(errno));
    return 1;
  }
  exe[len] = 0;
  pid_t *pids = calloc(c->jobs, sizeof *pids);
  size_t *slot_trial = calloc(c->jobs, sizeof *slot_trial);
  if (!pids || !slot_trial) return 1;
  size_t next = 0, running = 0, finished = 0, todo = 0;
  for (size_t i = 0; i < n; i++) todo += !bench_result_exists(c->dir, &plan[i]);
  printf("%zu trials in the plan, %zu to run (%zu jobs, %zu threads each)\n", n, todo, c->jobs,
         c->threads);
  time_t start = time(NULL);
  int failed = 0;
  for (;;) {
    while (running < c->jobs && next < n) {
      bench_trial *t = &plan[next++];
      if (bench_result_exists(c->dir, t)) continue;
      if (t->o->networks_only && t->w->model == NULL) {
        if (bench_result_write(c->dir, t, "unsupported", NULL)) failed = 1;
        finished++;
        continue;
      }
      pid_t pid = start_trial(c, t, exe);
      if (pid < 0) {
        failed = 1;
        break;
      }
      for (size_t k = 0; k < c->jobs; k++)
        if (pids[k] == 0) {
          pids[k] = pid, slot_trial[k] = (size_t)(t - plan);
          break;
        }
      running++;
    }
    if (running == 0) break;
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) break;
    for (size_t k = 0; k < c->jobs; k++) {
      if (pids[k] != pid) continue;
      bench_trial *t = &plan[slot_trial[k]];
      int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      char log[2048];
      snprintf(log, sizeof log, "%s/logs/%s.log", c->dir, t->id);
      const char *state = ok ? "done" : child_log_says_diverged(log) ? "diverged" : "failed";
      char line[512];
      if (bench_result_write(c->dir, t, state, line)) failed = 1;
      finished++;
      double elapsed = difftime(time(NULL), start);
      printf("[%zu/%zu] %s: %s (%.0f s elapsed)\n", finished, todo, t->id, line, elapsed);
      fflush(stdout);
      pids[k] = 0;
      running--;
    }
  }
  free(pids);
  free(slot_trial);
  return failed;
}

/* Sorts NaN last for a metric to maximize, first otherwise: worst either way. */
static int maximize_sort;
static int compare_metric(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
  return maximize_sort ? (x < y) - (x > y) : (x > y) - (x < y);
}

/* --calibrate's second half, AlgoPerf's target setting: each workload's
   best trial of the sweep is trained again with BENCH_TARGET_SEEDS other
   seeds, and the median of their best validation metrics is its target. */
static int calibrate_targets(const bench_config *c, const bench_trial *plan, size_t n) {
  const bench_workload *ws[32];
  size_t nw = 0, best_trial[32];
  double best[32];
  for (size_t i = 0; i < n; i++) {
    size_t k;
    for (k = 0; k < nw && ws[k] != plan[i].w; k++) {
    }
    if (k == nw) ws[nw] = plan[i].w, best[nw] = NAN, best_trial[nw] = i, nw++;
    double v;
    if (bench_result_best(c->dir, &plan[i], &v)) return -1;
    int better = !isnan(v) && (isnan(best[k]) || (plan[i].w->maximize ? v > best[k] : v < best[k]));
    if (better) best[k] = v, best_trial[k] = i;
  }
  size_t m = nw * BENCH_TARGET_SEEDS;
  bench_trial *all = calloc(n + m, sizeof *all);
  if (!all) return -1;
  memcpy(all, plan, n * sizeof *plan);
  bench_trial *reruns = all + n;
  for (size_t k = 0; k < nw; k++)
    for (int r = 0; r < BENCH_TARGET_SEEDS; r++) {
      bench_trial *t = &reruns[k * BENCH_TARGET_SEEDS + (size_t)r];
      *t = plan[best_trial[k]];
      t->study = r, t->trial = 0, t->seed = 100001 + (uint64_t)r;
      snprintf(t->id, sizeof t->id, "%s.%s.target.s%d", t->w->name, t->o->name, r);
    }
  printf("target setting: the best configuration of each workload, %d seeds\n", BENCH_TARGET_SEEDS);
  int rc = run_plan(c, reruns, m) ? -1 : 0;
  if (!rc) rc = bench_results_csv(c->dir, all, n + m);
  printf("\nvalidation targets (median of the best configuration's reruns):\n");
  for (size_t k = 0; k < nw && !rc; k++) {
    double v[BENCH_TARGET_SEEDS];
    for (int r = 0; r < BENCH_TARGET_SEEDS && !rc; r++)
      rc = bench_result_best(c->dir, &reruns[k * BENCH_TARGET_SEEDS + (size_t)r], &v[r]);
    if (rc) break;
    maximize_sort = ws[k]->maximize;
    qsort(v, BENCH_TARGET_SEEDS, sizeof *v, compare_metric);
    double median = BENCH_TARGET_SEEDS % 2
                        ? v[BENCH_TARGET_SEEDS / 2]
                        : (v[BENCH_TARGET_SEEDS / 2 - 1] + v[BENCH_TARGET_SEEDS / 2]) / 2;
    const bench_trial *b = &plan[best_trial[k]];
    printf("  %-15s %s %.9g (%s --lr %s; the sweep's best %.9g; reruns' best %.6g, worst "
           "%.6g)\n",
           ws[k]->name, ws[k]->maximize ? "val_acc >=" : "val_loss <=", median, b->opt, b->lr,
           best[k], v[0], v[BENCH_TARGET_SEEDS - 1]);
  }
  free(all);
  return rc;
}

int cmd_bench(int argc, char **argv) {
  int rc = cli_parse(argc, argv, 1, bench_options, N_BENCH_OPTIONS, "bench",
                     "run AlgoPerf's benchmark protocol on CPU-sized workloads and score it");
  if (rc) return rc < 0 ? 2 : 0;
  if (cli_flag(bench_options, N_BENCH_OPTIONS, "list")) {
    bench_print_list(stdout);
    return 0;
  }
  bench_config c;
  memset(&c, 0, sizeof c);
  c.target = NAN;
  const char *resume = cli_get(bench_options, N_BENCH_OPTIONS, "resume");
  if (cli_get_size(bench_options, N_BENCH_OPTIONS, "jobs", 1, 256, &c.jobs)) return 2;
  if (resume) {
    snprintf(c.dir, sizeof c.dir, "%s", resume);
    if (load_config(&c)) return 2;
  } else {
    snprintf(c.dir, sizeof c.dir, "%s", cli_get(bench_options, N_BENCH_OPTIONS, "out"));
    snprintf(c.workloads, sizeof c.workloads, "%s",
             cli_get(bench_options, N_BENCH_OPTIONS, "workloads"));
    snprintf(c.optimizers, sizeof c.optimizers, "%s",
             cli_get(bench_options, N_BENCH_OPTIONS, "optimizers"));
    snprintf(c.ruleset, sizeof c.ruleset, "%s", cli_get(bench_options, N_BENCH_OPTIONS, "ruleset"));
    snprintf(c.data_dir, sizeof c.data_dir, "%s",
             cli_get(bench_options, N_BENCH_OPTIONS, "data-dir"));
    if (cli_get_size(bench_options, N_BENCH_OPTIONS, "trials", 1, 1000, &c.trials) ||
        cli_get_size(bench_options, N_BENCH_OPTIONS, "studies", 1, 100, &c.studies) ||
        cli_get_size(bench_options, N_BENCH_OPTIONS, "threads", 1, 256, &c.threads))
      return 2;
    const char *target = cli_get(bench_options, N_BENCH_OPTIONS, "target");
    if (cli_find(bench_options, N_BENCH_OPTIONS, "epochs")->given &&
        cli_get_size(bench_options, N_BENCH_OPTIONS, "epochs", 1, 1000, &c.epochs))
      return 2;
    if (target) {
      char *end;
      c.target = strtod(target, &end);
      if (end == target || *end || !isfinite(c.target)) {
        fprintf(stderr, "descent bench: --target %s: give a finite number\n", target);
        return 2;
      }
    }
    if (cli_flag(bench_options, N_BENCH_OPTIONS, "quick")) {
      snprintf(c.workloads, sizeof c.workloads, "%s", BENCH_QUICK_WORKLOADS);
      snprintf(c.optimizers, sizeof c.optimizers, "%s", BENCH_QUICK_OPTIMIZERS);
      c.trials = BENCH_QUICK_TRIALS, c.studies = BENCH_QUICK_STUDIES;
    }
    if (cli_flag(bench_options, N_BENCH_OPTIONS, "calibrate")) {
      c.calibrate = 1;
      snprintf(c.optimizers, sizeof c.optimizers, "adam,momentum");
      snprintf(c.ruleset, sizeof c.ruleset, "external");
      c.trials = 8, c.studies = 1;
    }
  }
  bench_trial *plan = NULL;
  size_t n = 0;
  if (build_plan(&c, &plan, &n)) {
    free(plan);
    return 2;
  }
  char sub[2048];
  if (!resume && new_or_empty(c.dir)) goto usage;
  snprintf(sub, sizeof sub, "%s/trials", c.dir);
  if (make_dir(sub)) goto fail;
  snprintf(sub, sizeof sub, "%s/results", c.dir);
  if (make_dir(sub)) goto fail;
  snprintf(sub, sizeof sub, "%s/logs", c.dir);
  if (make_dir(sub)) goto fail;
  if (!resume && save_config(&c)) goto fail;
  printf("descent bench: %s in %s; workloads %s; optimizers %s; ruleset %s; %zu trials x %zu "
         "studies\n",
         c.calibrate ? "calibration" : "benchmark", c.dir, c.workloads, c.optimizers, c.ruleset,
         c.trials, c.studies);
  int failed = run_plan(&c, plan, n);
  rc = c.calibrate ? calibrate_targets(&c, plan, n) : bench_score_write(c.dir, plan, n, c.studies);
  free(plan);
  return failed || rc ? 1 : 0;
usage:
  free(plan);
  return 2;
fail:
  free(plan);
  return 1;
}
