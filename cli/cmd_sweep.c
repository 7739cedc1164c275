/*
 * cmd_sweep.c - `descent sweep`: a search over the options of descent train.
 *
 * The command draws the configurations (sweep_space.c), saves the plan before
 * the first trial (sweep_plan.c), runs every trial as a child `descent train`
 * (sweep_trial.c) and keeps SWEEP/summary.csv current (sweep_summary.c).
 * With --halving it runs successive halving in synchronous rungs: every
 * trial of a rung finishes before the rung is cut, so which trials go on
 * depends only on their results, never on timing or on a kill and --resume.
 */
#define _GNU_SOURCE
#include "commands.h"
#include "descent.h"
#include "dist.h"
#include "options.h"
#include "progress.h"
#include "setup.h"
#include "sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static cli_option sweep_options[] = {
    {"out", "DIR", "the sweep's folder: must be new or empty", NULL, 0},
    {"param", "NAME=SPACE",
     "a swept train option or opt.KEY; SPACE: a,b,c | log:LO:HI | lin:LO:HI | int:LO:HI "
     "(grid: ranges with a point count, log:LO:HI:K); repeat for more",
     NULL, 0},
    {"space", "FILE", "parameters from a file: one NAME=SPACE per line, # comments", NULL, 0},
    {"sampler", "S", "grid, random, sobol or halton", "grid", 0},
    {"trials", "N", "configurations drawn by random, sobol and halton", "16", 0},
    {"sample-seed", "N", "seed of the random sampler", "1", 0},
    {"seeds", "LIST", "run every configuration with each seed (train's --seed), e.g. 1,2,3", NULL,
     0},
    {"metric", "NAME",
     "val_acc, test_acc, val_loss, test_loss or train_loss at the last epoch (default: val_acc "
     "with --val, else test_acc)",
     NULL, 0},
    {"jobs", "N", "trials run at once (on each rank under mpirun)", "1", 0},
    {"threads-per-trial", "T",
     "threads of each trial (default: cores / jobs, at least 1; under mpirun, rank 0's "
     "machine's cores / (jobs x its ranks))",
     NULL, 0},
    {"halving", "MIN,ETA",
     "successive halving: MIN epochs for all, the best 1/ETA go on to MIN*ETA epochs, ...", NULL,
     0},
    {"resume", "DIR", "continue a killed or stopped sweep (no other option)", NULL, 0},
};
enum { N_SWEEP_OPTIONS = sizeof sweep_options / sizeof sweep_options[0] };

static const char SUMMARY[] =
    "Search over the options of descent train: each trial is an ordinary run folder\n"
    "SWEEP/trial-NNNN trained by a child process, ranked in SWEEP/summary.csv.\n"
    "usage: descent sweep --out DIR --param NAME=SPACE... [options] -- TRAIN_OPTIONS...\n"
    "       descent sweep --resume DIR";

static const char *const METRICS[] = {"val_acc", "test_acc", "val_loss", "test_loss", "train_loss"};

/* The command line as one text, arguments with spaces or quotes quoted. */
static void join_command(int argc, char **argv, char *out, size_t cap) {
  size_t len = (size_t)snprintf(out, cap, "descent");
  for (int i = 0; i < argc && len < cap; i++) {
    const char *a = argv[i];
    int quote = strpbrk(a, " \t'\"()$|&;<>*?{}") != NULL;
    len += (size_t)snprintf(out + len, cap - len, quote ? " '%s'" : " %s", a);
  }
}

static int parse_seeds(const char *text, uint64_t **seeds, size_t *n) {
  *n = 0;
  *seeds = NULL;
  for (const char *s = text; *s;) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || (*end && *end != ',') || *s == '-') {
      fprintf(stderr, "descent sweep: --seeds '%s': expected a list of seeds, e.g. 1,2,3\n", text);
      free(*seeds);
      return -1;
    }
    uint64_t *grown = realloc(*seeds, (*n + 1) * sizeof *grown);
    if (!grown) return -1;
    *seeds = grown;
    grown[(*n)++] = v;
    s = *end ? end + 1 : end;
  }
  if (*n == 0) {
    fprintf(stderr, "descent sweep: --seeds is empty\n");
    return -1;
  }
  return 0;
}

/* A train option's value given after -- (NULL when absent). */
static const char *train_value(const sweep_plan *plan, const char *name) {
  size_t n = strlen(name);
  for (size_t i = 0; i < plan->n_train; i++) {
    const char *a = plan->train[i];
    if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, name, n) != 0) continue;
    if (a[2 + n] == '=') return a + 3 + n;
    if (a[2 + n] == '\0' && i + 1 < plan->n_train) return plan->train[i + 1];
  }
  return NULL;
}

/* --out: a new folder, or an empty one. */
static int make_out(const char *dir) {
  char found[256];
  int held = cli_folder_first_entry(dir, NULL, found, sizeof found);
  if (held > 0) {
    char plan[4096];
    snprintf(plan, sizeof plan, "%s/sweep.txt", dir);
    fprintf(stderr, "descent sweep: --out %s is not empty; choose a new folder%s\n", dir,
            access(plan, F_OK) == 0 ? ", or continue that sweep with --resume" : "");
    return -1;
  }
  if (held < 0 && mkdir(dir, 0777) != 0) {
    fprintf(stderr, "descent sweep: cannot create --out %s: %s\n", dir, strerror(errno));
    return -1;
  }
  char logs[4096];
  snprintf(logs, sizeof logs, "%s/logs", dir);
  if (mkdir(logs, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "descent sweep: cannot create %s: %s\n", logs, strerror(errno));
    return -1;
  }
  return 0;
}

static const char *plan_path(const char *dir, char *path, size_t cap) {
  snprintf(path, cap, "%s/sweep.txt", dir);
  return path;
}

/* Undoes make_out and the lock file of a sweep that saved no plan (the
   ranks did not all see the folder), the folder itself too: a later sweep
   with the same --out starts as if this one had never been. */
static void unmake_out(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/logs", dir);
  rmdir(path);
  snprintf(path, sizeof path, "%s/.lock", dir);
  unlink(path);
  rmdir(dir);
}

/* The sweep folder's lock (DIR/.lock, flock): one sweep at a time in a folder.
   The kernel drops it when the process ends, however it ends. */
static int lock_sweep(const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/.lock", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
  if (fd < 0) {
    fprintf(stderr, "descent sweep: cannot open the lock file %s: %s\n", path, strerror(errno));
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char pid[32] = "";
    ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
    pid[n > 0 ? n : 0] = '\0';
    pid[strcspn(pid, "\n")] = '\0';
    fprintf(stderr,
            "descent sweep: %s is in use by another descent sweep (pid %s); wait for it "
            "to end, or stop it\n",
            dir, pid[0] ? pid : "unknown");
    close(fd);
    return -1;
  }
  char pid[32];
  int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) { /* informative only */
  }
  return fd;
}

/* Splits argv at "--", collects every --param, parses the rest. */
static int parse_command(int argc, char **argv, sweep_plan *plan, int *train_at) {
  char **rest = calloc((size_t)argc + 1, sizeof *rest);
  int n_rest = 0, i, rc = 0;
  if (!rest) return -1;
  rest[n_rest++] = argv[0];
  for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
    const char *text = NULL;
    if (strcmp(argv[i], "--param") == 0) {
      if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0) {
        fprintf(stderr, "descent sweep: --param needs NAME=SPACE\n");
        rc = -1;
        break;
      }
      text = argv[++i];
    } else if (strncmp(argv[i], "--param=", 8) == 0) {
      text = argv[i] + 8;
    }
    if (!text) {
      rest[n_rest++] = argv[i];
    } else if (plan->n_params == SWEEP_MAX_PARAMS) {
      fprintf(stderr, "descent sweep: more than %d parameters\n", SWEEP_MAX_PARAMS);
      rc = -1;
      break;
    } else if (sweep_param_parse(text, &plan->params[plan->n_params]) == 0) {
      plan->n_params++;
    } else {
      rc = -1;
      break;
    }
  }
  *train_at = i < argc ? i + 1 : argc;
  if (rc == 0) {
    rc = cli_parse(n_rest, rest, 1, sweep_options, N_SWEEP_OPTIONS, "sweep", SUMMARY);
  }
  free(rest);
  return rc;
}

static int pick_metric(sweep_plan *plan) {
  const char *m = cli_get(sweep_options, N_SWEEP_OPTIONS, "metric");
  int has_val = sweep_has_val(plan);
  if (!m) m = has_val ? "val_acc" : "test_acc";
  int known = 0;
  snprintf(plan->metric, sizeof plan->metric, "%s", m);
  for (size_t i = 0; i < sizeof METRICS / sizeof METRICS[0]; i++)
    known |= strcmp(plan->metric, METRICS[i]) == 0;
  if (!known) {
    fprintf(stderr,
            "descent sweep: --metric: unknown metric '%s'; valid: val_acc, test_acc, "
            "val_loss, test_loss, train_loss\n",
            m);
    return -1;
  }
  if (strncmp(m, "val_", 4) == 0 && !has_val) {
    fprintf(stderr,
            "descent sweep: --metric %s needs a validation set: add --val N to the train "
            "options after --\n",
            m);
    return -1;
  }
  return 0;
}

static int parse_size_text(const char *text, size_t *out) {
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (end == text || *end || errno || text[0] == '-') return -1;
  *out = (size_t)v;
  return 0;
}

/* Everything of a new sweep but the trials: options, the space, the draw. */
static int plan_new(int argc, char **argv, sweep_plan *plan) {
  cli_option *o = sweep_options;
  int n = N_SWEEP_OPTIONS, train_at;
  int rc = parse_command(argc, argv, plan, &train_at);
  if (rc) return rc;
  const char *out = cli_get(o, n, "out");
  if (!out) {
    fprintf(stderr, "descent sweep: give the sweep's folder with --out DIR (or continue one with "
                    "--resume DIR)\n");
    return -1;
  }
  if (cli_get(o, n, "space") && sweep_space_file(cli_get(o, n, "space"), plan)) return -1;
  for (int i = train_at; i < argc; i++) {
    char **a = realloc(plan->train, (plan->n_train + 1) * sizeof *a);
    if (!a || !(a[plan->n_train] = strdup(argv[i]))) return -1;
    plan->train = a;
    plan->n_train++;
  }
  size_t trials, jobs, threads, eta = 0, min = 0;
  if (sweep_sampler_parse(cli_get(o, n, "sampler"), &plan->sampler) ||
      cli_get_size(o, n, "trials", 1, SWEEP_MAX_TRIALS, &trials) ||
      cli_get_u64(o, n, "sample-seed", &plan->sample_seed) ||
      cli_get_size(o, n, "jobs", 1, 1024, &jobs))
    return -1;
  /* Options the sampler would ignore are refused, not dropped. */
  if (plan->sampler == SAMPLER_GRID && cli_find(o, n, "trials")->given) {
    fprintf(stderr, "descent sweep: --trials is for --sampler random, sobol or halton; the grid "
                    "runs every combination (drop --trials, or pick a sampler)\n");
    return -1;
  }
  if (plan->sampler != SAMPLER_RANDOM && cli_find(o, n, "sample-seed")->given) {
    fprintf(stderr,
            "descent sweep: --sample-seed is for --sampler random; %s draws no random "
            "numbers\n",
            sweep_sampler_name(plan->sampler));
    return -1;
  }
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cli_find(o, n, "threads-per-trial")->given) {
    if (cli_get_size(o, n, "threads-per-trial", 1, 1024, &threads)) return -1;
  } else {
    /* Under mpirun the ranks on one machine share its cores. */
    size_t at_once = jobs * (size_t)dist_local_size();
    threads = cores > (long)at_once ? (size_t)cores / at_once : 1;
  }
  plan->jobs = (int)jobs;
  plan->threads = (int)threads;
  const char *ep = train_value(plan, "epochs");
  plan->epochs = 10;
  if (ep && (parse_size_text(ep, &plan->epochs) || plan->epochs < 1)) {
    fprintf(stderr, "descent sweep: --epochs %s after --: expected a positive count\n", ep);
    return -1;
  }
  const char *halving = cli_get(o, n, "halving");
  if (halving) {
    if (sscanf(halving, "%zu,%zu", &min, &eta) != 2 || min < 1 || eta < 2) {
      fprintf(stderr,
              "descent sweep: --halving '%s': expected MIN_EPOCHS,ETA with MIN_EPOCHS >= "
              "1 and ETA >= 2, e.g. 1,3\n",
              halving);
      return -1;
    }
    if (min >= plan->epochs) {
      fprintf(stderr,
              "descent sweep: --halving %s: MIN_EPOCHS must be below the train options' "
              "--epochs (%zu)\n",
              halving, plan->epochs);
      return -1;
    }
    plan->halving_min = min, plan->halving_eta = eta;
  }
  if (sweep_check_train_options(plan) || pick_metric(plan)) return -1;
  uint64_t *seeds = NULL, one = 1;
  size_t n_seeds = 1;
  const char *seed_text = cli_get(o, n, "seeds");
  if (seed_text) {
    if (train_value(plan, "seed")) {
      fprintf(stderr, "descent sweep: --seeds and --seed after -- both give the seed; keep one\n");
      return -1;
    }
    if (parse_seeds(seed_text, &seeds, &n_seeds)) return -1;
  } else if (train_value(plan, "seed")) {
    errno = 0;
    char *end;
    one = strtoull(train_value(plan, "seed"), &end, 10);
  }
  rc = sweep_draw(plan, trials, seeds ? seeds : &one, n_seeds);
  free(seeds);
  if (rc) return -1;
  join_command(argc, argv, plan->command, sizeof plan->command);
  return 0;
}

/* Progress of the trials of one call of sweep_run_trials. */
typedef struct {
  const sweep_plan *plan;
  const char *dir;
  trial_state *states;
  size_t done, total, rung, rungs;
  double start, trial_seconds;
} sweep_progress;

static void on_trial_done(void *user, size_t t, double seconds) {
  sweep_progress *p = user;
  const sweep_plan *plan = p->plan;
  static const char *const status[] = {"pending", "done", "stopped", "diverged", "failed"};
  trial_result r;
  sweep_trial_result(plan, p->dir, t, &r);
  p->done++;
  p->trial_seconds += seconds;
  fprintf(stderr, "trial-%04zu %s: seed=%llu", t + 1, status[p->states[t].status],
          (unsigned long long)plan->trials[t].seed);
  for (size_t j = 0; j < plan->n_params; j++)
    fprintf(stderr, " %s=%s", plan->params[j].name, plan->trials[t].values[j]);
  fprintf(stderr, " | %s %.6g | %.1f s\n", plan->metric, r.metric, seconds);
  double elapsed = progress_now() - p->start;
  double left = p->trial_seconds / (double)p->done * (double)(p->total - p->done) /
                ((double)plan->jobs * sweep_ranks_size());
  char bar[31];
  progress_bar(bar, sizeof bar, p->done, p->total);
  fprintf(stderr, "sweep [%s] %zu/%zu trials", bar, p->done, p->total);
  if (p->rungs > 1) fprintf(stderr, " of rung %zu/%zu", p->rung + 1, p->rungs);
  fprintf(stderr, ", %.0f s elapsed, about %.0f s left\n", elapsed, left);
  sweep_summary(plan, p->dir, p->states, 0);
}

/* The epochs of each rung: MIN, MIN*ETA, ... up to the train options'
   --epochs; one rung of --epochs without halving. */
static size_t rung_epochs(const sweep_plan *plan, size_t *targets, size_t cap) {
  if (!plan->halving_eta) {
    targets[0] = 0; /* each trial's own --epochs (it may be swept) */
    return 1;
  }
  size_t n = 0;
  for (size_t e = plan->halving_min; n < cap; e *= plan->halving_eta) {
    targets[n++] = e < plan->epochs ? e : plan->epochs;
    if (e >= plan->epochs) break;
  }
  return n;
}

static size_t trial_target(const sweep_plan *plan, size_t t, size_t target) {
  return target ? target : sweep_trial_epochs(plan, t);
}

static const sweep_plan *cut_plan;
static const char *cut_dir;
static double *cut_metric;
static int by_metric(const void *pa, const void *pb) {
  size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
  if (sweep_better(cut_plan->metric, cut_metric[a], cut_metric[b])) return -1;
  if (sweep_better(cut_plan->metric, cut_metric[b], cut_metric[a])) return 1;
  return a < b ? -1 : 1;
}

/* The end of a rung: of the n trials that entered it, the best n/ETA (at
   least one) by the metric at the rung's epochs go on; the others stop. */
static size_t cut_rung(const sweep_plan *plan, const char *dir, trial_state *st, size_t *ids,
                       size_t n, size_t epochs) {
  double *metric = calloc(plan->n_trials, sizeof *metric);
  size_t *alive = calloc(n ? n : 1, sizeof *alive), n_alive = 0;
  if (!metric || !alive) {
    free(metric);
    free(alive);
    return 0;
  }
  for (size_t i = 0; i < n; i++)
    if (st[ids[i]].status == TRIAL_DONE) {
      metric[ids[i]] = sweep_metric_at(plan, dir, ids[i], epochs);
      alive[n_alive++] = ids[i];
    }
  cut_plan = plan, cut_dir = dir, cut_metric = metric;
  qsort(alive, n_alive, sizeof *alive, by_metric);
  size_t keep = n / plan->halving_eta;
  if (keep < 1) keep = 1;
  if (keep > n_alive) keep = n_alive;
  for (size_t i = keep; i < n_alive; i++) st[alive[i]].status = TRIAL_STOPPED;
  memcpy(ids, alive, keep * sizeof *ids);
  free(metric);
  free(alive);
  return keep;
}

/* Runs (or continues) the trials of the plan, rung after rung. */
static int run_sweep(const sweep_plan *plan, const char *dir) {
  trial_state *st = calloc(plan->n_trials, sizeof *st);
  size_t *ids = calloc(plan->n_trials, sizeof *ids), *todo = calloc(plan->n_trials, sizeof *todo);
  size_t targets[64], n_rungs = rung_epochs(plan, targets, 64), n_ids = plan->n_trials;
  int rc = -1;
  if (!st || !ids || !todo || sweep_events_read(dir, st, plan->n_trials)) goto done;
  for (size_t t = 0; t < plan->n_trials; t++) ids[t] = t;
  sweep_progress p = {plan, dir, st, 0, 0, 0, n_rungs, progress_now(), 0};
  for (size_t r = 0; r < n_rungs; r++) {
    size_t n_todo = 0;
    for (size_t i = 0; i < n_ids; i++) {
      size_t t = ids[i];
      int finished =
          st[t].status == TRIAL_DIVERGED || st[t].status == TRIAL_FAILED ||
          (st[t].status == TRIAL_DONE && st[t].reached >= trial_target(plan, t, targets[r]));
      if (!finished) {
        st[t].status = TRIAL_PENDING;
        todo[n_todo++] = t;
      }
    }
    p.done = 0, p.total = n_todo, p.rung = r, p.trial_seconds = 0;
    if (sweep_run_trials(plan, dir, todo, n_todo, targets[r], st, on_trial_done, &p)) goto done;
    if (r + 1 < n_rungs) {
      n_ids = cut_rung(plan, dir, st, ids, n_ids, targets[r]);
      for (size_t i = 0; i < n_ids; i++) st[ids[i]].status = TRIAL_PENDING;
    }
  }
  /* The record holds "done" for trials that ran to the end of their rung;
     those halving stopped were set above. */
  for (size_t t = 0; t < plan->n_trials; t++)
    if (st[t].status == TRIAL_PENDING &&
        st[t].reached >= trial_target(plan, t, targets[n_rungs - 1]))
      st[t].status = TRIAL_DONE;
  rc = sweep_summary(plan, dir, st, 1);
done:
  free(st);
  free(ids);
  free(todo);
  return rc;
}

/* " on each of K ranks (HOSTS)" under MPI (--jobs is per rank); "" otherwise. */
static const char *ranks_text(void) {
  static char text[512];
  int size = sweep_ranks_size(), len;
  if (!dist_active()) return "";
  len = snprintf(text, sizeof text, " on each of %d rank%s (", size, size == 1 ? "" : "s");
  for (int r = 0; r < size && len < (int)sizeof text; r++) {
    int seen = 0; /* each host once */
    for (int q = 0; q < r; q++) seen |= strcmp(sweep_ranks_host(q), sweep_ranks_host(r)) == 0;
    if (!seen)
      len += snprintf(text + len, sizeof text - (size_t)len, "%s%s", r ? " " : "",
                      sweep_ranks_host(r));
  }
  if (len < (int)sizeof text) snprintf(text + len, sizeof text - (size_t)len, ")");
  return text;
}

static int resume_sweep(const char *dir) {
  sweep_plan plan;
  /* The plan first: a folder that is not a sweep's gets no lock file. */
  int rc = sweep_plan_load(&plan, dir);
  if (rc == 1)
    fprintf(stderr,
            "descent sweep: --resume %s: not a sweep's folder (no sweep.txt written by "
            "descent sweep); start one with --out\n",
            dir);
  int lock = rc == 0 ? lock_sweep(dir) : -1;
  if (lock >= 0) {
    rc = sweep_ranks_open(dir);
    if (rc == 0) {
      sweep_ranks_ready(&plan, dir);
      fprintf(stderr, "sweep: continuing %s (%zu trials)", dir, plan.n_trials);
      if (dist_active()) fprintf(stderr, ", %d at once%s", plan.jobs, ranks_text());
      fprintf(stderr, "\n");
      rc = run_sweep(&plan, dir);
    }
    close(lock);
  }
  sweep_plan_free(&plan);
  return rc == 0 && lock >= 0 ? 0 : 1;
}

/* Rank 0's part (all of it without MPI). */
static int sweep_main(int argc, char **argv) {
  for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
    if (strcmp(argv[i], "--resume") == 0 || strncmp(argv[i], "--resume=", 9) == 0) {
      const char *dir = argv[i][8] == '=' ? argv[i] + 9 : i + 1 < argc ? argv[i + 1] : NULL;
      if (!dir || argc != (argv[i][8] == '=' ? 2 : 3)) {
        fprintf(stderr, "descent sweep: --resume DIR takes no other option: the plan saved in "
                        "DIR holds them\n");
        return 2;
      }
      struct stat st;
      if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "descent sweep: --resume %s: no such folder\n", dir);
        return 2;
      }
      return resume_sweep(dir);
    }
  sweep_plan plan;
  memset(&plan, 0, sizeof plan);
  int rc = plan_new(argc, argv, &plan);
  if (rc) {
    sweep_plan_free(&plan);
    return rc == 1 ? 0 : 2;
  }
  const char *dir = cli_get(sweep_options, N_SWEEP_OPTIONS, "out");
  char path[4096];
  int lock = -1;
  rc = 1;
  /* The folder is checked shared before the plan goes into it. */
  if (make_out(dir) == 0 && (lock = lock_sweep(dir)) >= 0 && sweep_ranks_open(dir) == 0 &&
      sweep_plan_save(&plan, dir) == 0) {
    sweep_ranks_ready(&plan, dir);
    fprintf(stderr,
            "sweep: %zu trials (%s sampler, metric %s) in %s, %d at once%s, %d thread%s each\n",
            plan.n_trials, sweep_sampler_name(plan.sampler), plan.metric, dir, plan.jobs,
            ranks_text(), plan.threads, plan.threads == 1 ? "" : "s");
    rc = run_sweep(&plan, dir) ? 1 : 0;
  }
  if (lock >= 0 && rc && access(plan_path(dir, path, sizeof path), F_OK) != 0) unmake_out(dir);
  if (lock >= 0) close(lock);
  sweep_plan_free(&plan);
  return rc;
}

/* Under mpirun every rank runs this command: rank 0 sets the sweep up and
   hands out the trials, the others run those it gives them (sweep_ranks.c). */
int cmd_sweep(int argc, char **argv) {
  sweep_ranks_start();
  if (dist_rank() != 0) {
    int rc = sweep_ranks_serve();
    dist_set_outcome_agreed();
    return rc;
  }
  int rc = sweep_main(argc, argv);
  sweep_ranks_end(rc);
  /* Every rank ends with the status rank 0 sent (or, when a rank did not
     see the folder, all with 1): the job ends normally with it. */
  dist_set_outcome_agreed();
  return rc;
}
