/*
 * cmd_train.c - `descent train`: train a network on Fashion-MNIST (or another
 * IDX data set) and report train and test loss and accuracy per epoch.
 *
 * The command only wires library pieces together: load, preprocess, build the
 * network and optimizer, hand them to a trainer (the step loop, the
 * divergence guard, checkpoints), evaluate and log at every epoch's end. It
 * prints the fully resolved configuration first so a run can be repeated from
 * its log, and saves it in every checkpoint so `--resume` can continue the
 * run exactly, refusing a command line that asks for another one.
 */
#include "commands.h"
#include "data_source.h"
#include "descent.h"
#include "dist.h"
#include "dp_objective.h"
#include "train_dist.h"
#include "options.h"
#include "progress.h"
#include "setup.h"
#include "log_file.h"
#include "track_log.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

static cli_option train_options[] = {
    CLI_SETUP_OPTIONS,
    {"epochs", "N", "passes over the training set (with --resume: the total, may grow)", "10", 0},
    {"accumulate", "K",
     "gradient accumulation: each step takes K x --batch-size examples (the batches "
     "--batch-size K*B would draw) and sums their gradient over K micro-batches of "
     "--batch-size, which is all the network holds at once (docs/accumulation.md)",
     "1", 0},
    {"out", "DIR",
     "folder for metrics.csv, steps.csv, config.txt, model.bin (the model after the last epoch) "
     "and the checkpoints ckpt-STEP.dsc; must be new or empty (it is locked while the run "
     "writes)",
     "runs/train-DATE-TIME", 0},
    {"eval-train", NULL, "evaluate on the whole training set each epoch (default: running mean)",
     NULL, 0},
    {"quiet", NULL, "no progress display during epochs", NULL, 0},
    {"checkpoint-every", "N",
     "also write a checkpoint every N steps (a checkpoint is always written at each epoch's end)",
     "0", 0},
    {"keep", "K", "checkpoints kept in the run's folder, newest first; 0 writes none", "3", 0},
    {"resume", "DIR",
     "continue the run in DIR from its newest valid checkpoint; options not given are taken "
     "from it, options given must agree with it",
     NULL, 0},
    {"on-diverge", "POLICY",
     "when a loss or gradient is NaN or Inf or a loss passes --max-loss: stop, or rollback "
     "(restore the last good checkpoint and multiply the learning rate by --rollback-factor)",
     "stop", 0},
    {"max-loss", "X",
     "the divergence bound on a batch loss; auto: 100 x the first loss (at least 100); inf: none",
     "auto", 0},
    {"rollback-factor", "F", "learning-rate factor of each rollback, in (0, 1)", "0.1", 0},
    {"max-rollbacks", "N", "rollbacks before the run stops", "3", 0},
    {"track", "LIST",
     "instruments measured during the run, one row per measurement in diagnostics.csv: "
     "sharpness, ggn, negative, noise, alpha, layers, all, or none (docs/instruments.md)",
     "none", 0},
    {"track-every", "N",
     "measure every N steps; 0: automatic, from step 1, the curvature taking at most 1/96 and "
     "the other instruments 1/48 of the steps' gradient evaluations",
     "0", 0},
    {"track-iterations", "K",
     "Lanczos products per eigenvalue measured, warm-started from the last measurement's "
     "vector",
     "20", 0},
    {"reduction", "KIND",
     "with several processes (mpirun): how gradients are summed: fast (on one machine through "
     "memory the processes share, else MPI's all-reduce, whose order may change the last bits) "
     "or fixed (in one order: N processes give the bits of one with the same --shards); fixed "
     "also runs in one process",
     "fast", 0},
    {"shards", "S",
     "--reduction fixed: micro-batches per batch, a multiple of the processes whose quotient is "
     "a power of two (default: the number of processes)",
     NULL, 0},
    {"zero", NULL,
     "with several processes: shard the optimizer state over them (ZeRO stage 1): each keeps "
     "and steps 1/N of it; the same results, 1/N of the memory",
     NULL, 0},
    {"sync-bn", NULL,
     "with several processes: batch norm takes its statistics over the whole batch, summed "
     "over the processes (PyTorch's SyncBatchNorm); default: each process's share",
     NULL, 0},
    {"bucket-mb", "MB",
     "--reduction fast: start summing the last layers' gradients in buckets of MB while the "
     "backward pass goes on (as PyTorch's DDP; for networks whose MPI reduces in the "
     "background; with MPI's all-reduce, not shared memory); 0: one sum after the backward "
     "pass, faster on one machine (docs/distributed.md)",
     "0", 0},
    {"dist-timeout", "SEC",
     "with several processes: a rank waiting this long for the others in a collective (a dead "
     "rank) ends the job, naming the ranks gone; 0: wait forever",
     "600", 0},
    {"eval-bn-batches", "N",
     "schedule-free optimizers with batch norm: before each evaluation at the average point, "
     "recompute the running statistics there from the first N training batches (the "
     "reference's recipe); 0: keep those of the training point",
     "50", 0},
    {"stop-after-steps", "N",
     "testing: kill the process with SIGKILL right after step N, as a crash would (0: never)", "0",
     0},
};
enum { N_TRAIN_OPTIONS = sizeof train_options / sizeof train_options[0] };

int cmd_train_option_kind(const char *name) {
  for (int i = 0; i < N_TRAIN_OPTIONS; i++)
    if (strcmp(train_options[i].name, name) == 0) return train_options[i].metavar ? 1 : 2;
  return 0;
}

typedef struct train_config {
  cli_setup setup; /* --data, --model, --opt and the other options lr-find shares */
  const char *out, *resume;
  double max_loss, rollback_factor;
  size_t epochs, keep, max_rollbacks;
  size_t eval_bn_batches; /* --eval-bn-batches */
  size_t accumulate;      /* micro-batches of --batch-size per step */
  uint64_t checkpoint_every, stop_after, track_every;
  unsigned track;          /* descent_track_kind bits; 0: none */
  size_t track_iterations; /* Lanczos products per eigenvalue */
  descent_diverge_policy on_diverge;
  int eval_train, quiet;
  int reduction_fixed; /* --reduction fixed */
  int zero;            /* --zero: sharded optimizer state */
  int sync_bn;         /* --sync-bn */
  double bucket_mb;    /* --bucket-mb */
  size_t shards;       /* its micro-batches; 0: fast */
  double dist_timeout;
  char out_default[64];
  char run_id[33]; /* the run's identity, as hex; "" for a run older than run ids */
} train_config;

static int parse_positive(const char *name, const char *text, double *out) {
  char *end;
  *out = strtod(text, &end);
  if (end == text || *end || !(*out > 0) || !isfinite(*out)) {
    fprintf(stderr, "descent train: --%s: '%s' is not a positive number\n", name, text);
    return -1;
  }
  return 0;
}

/* Examples per step: --accumulate micro-batches of --batch-size. */
static size_t step_examples(const train_config *c) {
  return c->setup.batch_size * c->accumulate;
}

/* Steps in an epoch over train (a full-batch optimizer takes one). */
static size_t steps_per_epoch(const train_config *c, const descent_dataset *train,
                              const descent_optimizer *opt) {
  size_t b = step_examples(c);
  return descent_optimizer_full_batch(opt) ? 1 : train->n / b + (train->n % b != 0);
}

static int read_config(train_config *c) {
  cli_option *o = train_options;
  int n = N_TRAIN_OPTIONS;
  if (cli_setup_read("train", o, n, &c->setup)) return -1;
  c->resume = cli_get(o, n, "resume");
  c->eval_train = cli_flag(o, n, "eval-train");
  c->quiet = cli_flag(o, n, "quiet");
  if (cli_get_size(o, n, "epochs", 1, 1000000, &c->epochs) ||
      cli_get_size(o, n, "accumulate", 1, 65536, &c->accumulate) ||
      cli_get_size(o, n, "keep", 0, 1000000, &c->keep) ||
      cli_get_size(o, n, "eval-bn-batches", 0, 1000000, &c->eval_bn_batches) ||
      cli_get_size(o, n, "max-rollbacks", 1, 1000, &c->max_rollbacks) ||
      cli_get_u64(o, n, "checkpoint-every", &c->checkpoint_every) ||
      cli_get_u64(o, n, "stop-after-steps", &c->stop_after) ||
      cli_get_u64(o, n, "track-every", &c->track_every) ||
      cli_get_size(o, n, "track-iterations", 1, 10000, &c->track_iterations))
    return -1;
  if (c->setup.batch_size * c->accumulate > ((size_t)1 << 20)) {
    fprintf(stderr,
            "descent train: --accumulate %zu x --batch-size %zu: steps of %zu examples; at most "
            "%zu per step\n",
            c->accumulate, c->setup.batch_size, c->setup.batch_size * c->accumulate,
            (size_t)1 << 20);
    return -1;
  }
  const char *track = cli_get(o, n, "track");
  c->track = 0;
  if (strcmp(track, "none") != 0 && descent_track_parse(track, &c->track)) {
    fprintf(stderr, "descent train: --track: %s, or none\n", descent_last_error());
    return -1;
  }
  if (c->track_every > ((uint64_t)1 << 62)) {
    fprintf(stderr, "descent train: --track-every: too large\n");
    return -1;
  }
  const char *reduction = cli_get(o, n, "reduction");
  if (strcmp(reduction, "fast") != 0 && strcmp(reduction, "fixed") != 0) {
    fprintf(stderr, "descent train: --reduction: unknown kind '%s'; valid: fast, fixed\n",
            reduction);
    return -1;
  }
  c->reduction_fixed = strcmp(reduction, "fixed") == 0;
  c->zero = cli_flag(o, n, "zero");
  c->sync_bn = cli_flag(o, n, "sync-bn");
  const char *bucket = cli_get(o, n, "bucket-mb");
  char *bucket_end;
  c->bucket_mb = strtod(bucket, &bucket_end);
  if (bucket_end == bucket || *bucket_end || !(c->bucket_mb >= 0) || !(c->bucket_mb <= 1e6)) {
    fprintf(stderr, "descent train: --bucket-mb: '%s' is not a size in MB from 0 to 1e6\n", bucket);
    return -1;
  }
  if (c->zero && dist_size() < 2) {
    fprintf(stderr, "descent train: --zero shards the optimizer state over the processes: it "
                    "needs 2 or more (mpirun -np N descent train ...)\n");
    return -1;
  }
  c->shards = 0;
  if (cli_find(o, n, "shards")->given) {
    if (!c->reduction_fixed) {
      fprintf(stderr, "descent train: --shards cuts batches for --reduction fixed; add it, or "
                      "drop --shards\n");
      return -1;
    }
    if (cli_get_size(o, n, "shards", 1, 65536, &c->shards)) return -1;
  } else if (c->reduction_fixed) {
    c->shards = (size_t)dist_size();
  }
  if (c->reduction_fixed && dp_check_shards((int)c->shards, dist_size())) {
    fprintf(stderr, "descent train: %s\n", descent_last_error());
    return -1;
  }
  if (c->accumulate > 1 && (dist_size() > 1 || c->reduction_fixed)) {
    fprintf(stderr, "descent train: --accumulate runs in one process without --reduction fixed "
                    "(each process accumulating its shard is not supported); drop --accumulate "
                    "or train in one process\n");
    return -1;
  }
  const char *timeout = cli_get(o, n, "dist-timeout");
  char *end;
  c->dist_timeout = strtod(timeout, &end);
  if (end == timeout || *end || !(c->dist_timeout >= 0) || !isfinite(c->dist_timeout)) {
    fprintf(stderr, "descent train: --dist-timeout: '%s' is not a number of seconds >= 0\n",
            timeout);
    return -1;
  }
  const char *policy = cli_get(o, n, "on-diverge");
  if (strcmp(policy, "stop") == 0) {
    c->on_diverge = DESCENT_DIVERGE_STOP;
  } else if (strcmp(policy, "rollback") == 0) {
    c->on_diverge = DESCENT_DIVERGE_ROLLBACK;
  } else {
    fprintf(stderr, "descent train: --on-diverge: unknown policy '%s'; valid: stop, rollback\n",
            policy);
    return -1;
  }
  const char *bound = cli_get(o, n, "max-loss");
  if (strcmp(bound, "auto") == 0)
    c->max_loss = NAN;
  else if (strcmp(bound, "inf") == 0)
    c->max_loss = INFINITY;
  else if (parse_positive("max-loss", bound, &c->max_loss))
    return -1;
  if (parse_positive("rollback-factor", cli_get(o, n, "rollback-factor"), &c->rollback_factor))
    return -1;
  if (!(c->rollback_factor < 1)) {
    fprintf(stderr, "descent train: --rollback-factor: %g is out of range; valid: (0, 1)\n",
            c->rollback_factor);
    return -1;
  }
  if (c->checkpoint_every > ((uint64_t)1 << 62)) {
    fprintf(stderr, "descent train: --checkpoint-every: too large\n");
    return -1;
  }
  if (c->keep == 0 && c->checkpoint_every > 0) {
    fprintf(stderr,
            "descent train: --checkpoint-every %llu with --keep 0: --keep 0 writes no "
            "checkpoint; drop --checkpoint-every or keep at least 1\n",
            (unsigned long long)c->checkpoint_every);
    return -1;
  }
  if (c->resume) {
    if (cli_find(o, n, "out")->given && strcmp(cli_get(o, n, "out"), c->resume) != 0) {
      fprintf(stderr, "descent train: --resume continues the run in its own folder; drop --out "
                      "or give the same folder\n");
      return -1;
    }
    c->out = c->resume;
  } else if (cli_find(o, n, "out")->given) {
    c->out = cli_get(o, n, "out");
  } else {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(c->out_default, sizeof c->out_default, "runs/train-%Y%m%d-%H%M%S", &tm);
    c->out = c->out_default;
  }
  return 0;
}

/* ---- the configuration a checkpoint holds --------------------------------------- */

/* The options that decide the trajectory, in the order they are compared:
   a resumed run must agree with the checkpoint on each. */
static const char *const trajectory_keys[] = {
    "data", "model",      "loss",           "opt", "lr",    "batch-size",
    "seed", "preprocess", "preprocess-eps", "val", "limit", "accumulate"};
enum { N_TRAJECTORY_KEYS = sizeof trajectory_keys / sizeof trajectory_keys[0] };
/* Settings a resumed run inherits unless the command line changes them. */
static const char *const setting_keys[] = {
    "epochs",      "threads",          "checkpoint-every", "keep",       "on-diverge",
    "max-loss",    "rollback-factor",  "max-rollbacks",    "eval-train", "track",
    "track-every", "track-iterations", "reduction",        "shards",     "zero",
    "sync-bn",     "eval-bn-batches"};
enum { N_SETTING_KEYS = sizeof setting_keys / sizeof setting_keys[0] };

/* The resolved value of an option, as saved: numbers in the form that reads
   back exactly, the learning rate in its canonical text, "" for the
   optimizer's default rate. */
static void resolved_value(const train_config *c, const char *key, char *buf, size_t cap) {
  if (strcmp(key, "data") == 0)
    snprintf(buf, cap, "%s", c->setup.data_text);
  else if (strcmp(key, "model") == 0)
    snprintf(buf, cap, "%s", c->setup.model);
  else if (strcmp(key, "loss") == 0)
    snprintf(buf, cap, "%s", descent_loss_name(c->setup.loss));
  else if (strcmp(key, "opt") == 0)
    snprintf(buf, cap, "%s", c->setup.opt);
  else if (strcmp(key, "lr") == 0) {
    descent_schedule *s = NULL;
    if (!c->setup.lr)
      snprintf(buf, cap, "%s", "");
    else if (descent_schedule_parse(&s, c->setup.lr) == DESCENT_OK)
      descent_schedule_describe(s, buf, cap);
    else
      snprintf(buf, cap, "%s", c->setup.lr);
    descent_schedule_free(s);
  } else if (strcmp(key, "batch-size") == 0)
    snprintf(buf, cap, "%zu", c->setup.batch_size);
  else if (strcmp(key, "seed") == 0)
    snprintf(buf, cap, "%llu", (unsigned long long)c->setup.seed);
  else if (strcmp(key, "preprocess") == 0)
    snprintf(buf, cap, "%s", descent_preprocess_name(c->setup.preprocess));
  else if (strcmp(key, "preprocess-eps") == 0)
    snprintf(buf, cap, "%.17g", c->setup.preprocess_eps);
  else if (strcmp(key, "val") == 0)
    snprintf(buf, cap, "%zu", c->setup.val);
  else if (strcmp(key, "limit") == 0)
    snprintf(buf, cap, "%zu", c->setup.limit);
  else if (strcmp(key, "accumulate") == 0)
    snprintf(buf, cap, "%zu", c->accumulate);
  else if (strcmp(key, "epochs") == 0)
    snprintf(buf, cap, "%zu", c->epochs);
  else if (strcmp(key, "threads") == 0) /* the count in effect: 0 means this machine's cores */
    snprintf(buf, cap, "%zu", c->setup.threads ? c->setup.threads : (size_t)descent_set_threads(0));
  else if (strcmp(key, "checkpoint-every") == 0)
    snprintf(buf, cap, "%llu", (unsigned long long)c->checkpoint_every);
  else if (strcmp(key, "keep") == 0)
    snprintf(buf, cap, "%zu", c->keep);
  else if (strcmp(key, "eval-bn-batches") == 0)
    snprintf(buf, cap, "%zu", c->eval_bn_batches);
  else if (strcmp(key, "on-diverge") == 0)
    snprintf(buf, cap, "%s", c->on_diverge == DESCENT_DIVERGE_ROLLBACK ? "rollback" : "stop");
  else if (strcmp(key, "max-loss") == 0) {
    if (isnan(c->max_loss))
      snprintf(buf, cap, "auto");
    else if (isinf(c->max_loss))
      snprintf(buf, cap, "inf");
    else
      snprintf(buf, cap, "%.17g", c->max_loss);
  } else if (strcmp(key, "rollback-factor") == 0)
    snprintf(buf, cap, "%.17g", c->rollback_factor);
  else if (strcmp(key, "max-rollbacks") == 0)
    snprintf(buf, cap, "%zu", c->max_rollbacks);
  else if (strcmp(key, "eval-train") == 0)
    snprintf(buf, cap, "%d", c->eval_train);
  else if (strcmp(key, "track") == 0) {
    if (c->track)
      descent_track_describe(c->track, buf, cap);
    else
      snprintf(buf, cap, "none");
  } else if (strcmp(key, "track-every") == 0)
    snprintf(buf, cap, "%llu", (unsigned long long)c->track_every);
  else if (strcmp(key, "track-iterations") == 0)
    snprintf(buf, cap, "%zu", c->track_iterations);
  else if (strcmp(key, "reduction") == 0)
    snprintf(buf, cap, "%s", c->reduction_fixed ? "fixed" : "fast");
  else if (strcmp(key, "shards") == 0)
    snprintf(buf, cap, "%zu", c->shards);
  else if (strcmp(key, "zero") == 0)
    snprintf(buf, cap, "%d", c->zero);
  else if (strcmp(key, "sync-bn") == 0)
    snprintf(buf, cap, "%d", c->sync_bn);
  else
    buf[0] = '\0';
}

/* KEY=VALUE lines: the trajectory options, the precision, then the
   settings. */
static void config_text(const train_config *c, char *buf, size_t cap, int with_settings) {
  size_t used = 0;
  char value[8400];
  for (int i = 0; i < N_TRAJECTORY_KEYS && used < cap; i++) {
    resolved_value(c, trajectory_keys[i], value, sizeof value);
    /* Written only when it accumulates: a run without is as before. */
    if (strcmp(trajectory_keys[i], "accumulate") == 0 && strcmp(value, "1") == 0) continue;
    used += (size_t)snprintf(buf + used, cap - used, "%s=%s\n", trajectory_keys[i], value);
  }
  /* "float" for fp32, as before bf16 existed, so older checkpoints resume. */
  if (used < cap)
    used += (size_t)snprintf(buf + used, cap - used, "precision=%s\n",
                             sizeof(descent_real) == 8                      ? "double"
                             : c->setup.precision == DESCENT_PRECISION_BF16 ? "bf16"
                                                                            : "float");
  for (int i = 0; with_settings && i < N_SETTING_KEYS && used < cap; i++) {
    resolved_value(c, setting_keys[i], value, sizeof value);
    used += (size_t)snprintf(buf + used, cap - used, "%s=%s\n", setting_keys[i], value);
  }
}

/* The longest configuration text: the data's paths are most of it. */
#define CONFIG_CAP 20000

/* Values taken from the checkpoint for options not given; they must outlive
   the option table's use. */
static char saved_values[N_TRAJECTORY_KEYS + N_SETTING_KEYS][8400];

/* The checkpoint's precision line ("float" is fp32; "double" is left to
   the comparison of the whole configuration): --precision, when given, must
   agree with it; when not, the run keeps its own. */
static int merge_precision(const char *saved, const char *path) {
  char theirs[16];
  if (!cli_config_value(saved, "precision", theirs, sizeof theirs)) return 0;
  const char *name = strcmp(theirs, "bf16") == 0 ? "bf16" : "fp32";
  cli_option *opt = cli_find(train_options, N_TRAIN_OPTIONS, "precision");
  if (opt->given && strcmp(opt->value, name) != 0) {
    fprintf(stderr,
            "descent train: --precision differs: %s was trained in %s, command line %s; resume "
            "with the same precision or start a new run\n",
            path, name, opt->value);
    return -1;
  }
  opt->value = name;
  return 0;
}

/* Options given must agree with the checkpoint on the trajectory; options
   not given take its values. Returns 0, or -1 after printing which field
   differs. */
static int merge_saved_config(train_config *c, const char *saved, const char *path) {
  cli_option *o = train_options;
  for (int i = 0; i < N_TRAJECTORY_KEYS + N_SETTING_KEYS; i++) {
    int trajectory = i < N_TRAJECTORY_KEYS;
    const char *key = trajectory ? trajectory_keys[i] : setting_keys[i - N_TRAJECTORY_KEYS];
    char mine[sizeof saved_values[i]], *theirs = saved_values[i];
    cli_option *opt = cli_find(o, N_TRAIN_OPTIONS, key);
    /* The data is given as --data or as --data-dir: named as given. */
    int given = opt->given;
    const char *name = key;
    if (strcmp(key, "data") == 0 && cli_find(o, N_TRAIN_OPTIONS, "data-dir")->given)
      given = 1, name = "data-dir";
    if (!cli_config_value(saved, key, theirs, sizeof saved_values[i])) {
      if (strcmp(key, "accumulate") == 0) { /* written only when above 1 */
        snprintf(theirs, sizeof saved_values[i], "1");
      } else if (!trajectory) {
        continue; /* an older checkpoint: keep the default */
      } else {
        fprintf(stderr,
                "descent train: %s has no value for --%s; it was not written by descent "
                "train\n",
                path, key);
        return -1;
      }
    }
    resolved_value(c, key, mine, sizeof mine);
    if (given) {
      if (strcmp(key, "threads") == 0 && strcmp(mine, theirs) != 0)
        printf("note        --threads %s, the checkpoint's run used %s: matrix products split "
               "(and on some CPUs choose their kernel) by thread count, so the last bits will "
               "differ from a run that never stopped\n",
               mine, theirs);
      if (trajectory && strcmp(mine, theirs) != 0) {
        fprintf(stderr,
                "descent train: --%s differs: checkpoint has %s, command line %s; "
                "resume with the same value or start a new run\n",
                name, theirs[0] ? theirs : "the optimizer's default", mine);
        return -1;
      }
    } else if (!opt->metavar) { /* a flag */
      opt->given = strcmp(theirs, "1") == 0;
      /* One process holds the whole state: a sharded run resumes alone. */
      if (strcmp(key, "zero") == 0 && dist_size() == 1) opt->given = 0;
    } else if (strcmp(key, "lr") == 0 && theirs[0] == '\0') {
      opt->value = NULL;
    } else {
      opt->value = theirs;
      /* read_config parses preprocess-eps only when given: it was resolved
         for the saved preprocessing. */
      if (strcmp(key, "preprocess-eps") == 0) opt->given = 1;
      /* A fixed reduction keeps its micro-batches whatever the number of
         processes now: the same bits. */
      if (strcmp(key, "shards") == 0) opt->given = strcmp(theirs, "0") != 0;
    }
  }
  if (merge_precision(saved, path) || read_config(c)) return -1;
  /* Now equal on the trajectory, field by field. */
  char a[CONFIG_CAP];
  config_text(c, a, sizeof a, 0);
  if (strncmp(saved, a, strlen(a)) != 0) {
    fprintf(stderr,
            "descent train: %s: its configuration was written by another version "
            "of descent train\n",
            path);
    return -1;
  }
  return 0;
}

/* ---- the run's folder and its logs ----------------------------------------------- */

/* A resumed run's folder may hold the temporary files of writes that a kill
   interrupted (the checkpoints' own are removed by the trainer). */
static void remove_temporaries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return;
  char path[4096];
  for (struct dirent *e; (e = readdir(d));) {
    if (strncmp(e->d_name, "model.bin.tmp.", 14) != 0 &&
        strcmp(e->d_name, "metrics.csv.tmp") != 0 && strcmp(e->d_name, "steps.csv.tmp") != 0 &&
        strcmp(e->d_name, "diagnostics.csv.tmp") != 0)
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
}

/* The pid of the process whose flock is on the open file fd (st: its fstat),
   as /proc/locks lists it ("1: FLOCK  ADVISORY  WRITE 1705 fd:01:123456 0
   EOF": the device as hex major:minor, then the inode). The file's content
   comes next: it names the holder only once that run is under way, and the
   run before it until then. "unknown" when neither says. */
static void lock_holder(int fd, const struct stat *st, char *pid, size_t cap) {
  snprintf(pid, cap, "unknown");
  FILE *f = fopen("/proc/locks", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f)) {
    char type[16], mode[16], access[16];
    long holder;
    unsigned major, minor;
    unsigned long long inode;
    /* Waiters are listed as "N: -> FLOCK ..." and do not scan. */
    if (sscanf(line, "%*d: %15s %15s %15s %ld %x:%x:%llu", type, mode, access, &holder, &major,
               &minor, &inode) == 7 &&
        strcmp(type, "FLOCK") == 0 && holder > 0 && major == major(st->st_dev) &&
        minor == minor(st->st_dev) && inode == (unsigned long long)st->st_ino) {
      snprintf(pid, cap, "%ld", holder);
      fclose(f);
      return;
    }
  }
  if (f) fclose(f);
  char text[32];
  ssize_t n = pread(fd, text, sizeof text - 1, 0);
  text[n > 0 ? n : 0] = '\0';
  text[strcspn(text, "\n")] = '\0';
  if (text[0] && strspn(text, "0123456789") == strlen(text)) snprintf(pid, cap, "%s", text);
}

/* The run's lock: DIR/.lock, locked exclusively (flock) for the whole run and
   released by the kernel when the process ends, however it ends, so a killed
   run never leaves a stale lock. A refused writer names the holder from
   /proc/locks (lock_holder); once the run is under way the holder also
   writes its pid into the file (claim_lock), for systems without it. A run
   refused before that leaves the file as it found it. With create 0 a
   missing lock file is no error. Returns the descriptor (kept open until the
   process exits), -2 when create is 0 and there is no lock file, or -1 after
   printing why. */
static int lock_run(const char *dir, int create) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/.lock", dir) >= (int)sizeof path) {
    fprintf(stderr, "descent train: --out path too long\n");
    return -1;
  }
  /* O_NOFOLLOW: a link planted as .lock must not make the run write where it
     points (a link refuses with ELOOP); O_NONBLOCK: a FIFO does not hang. */
  int fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW | (create ? O_CREAT : 0), 0644);
  if (fd < 0 && !create && errno == ENOENT) return -2;
  if (fd < 0 && (errno == ELOOP || errno == EISDIR)) {
    fprintf(stderr, "descent train: the lock file '%s' is not a regular file (%s); remove it\n",
            path, errno == ELOOP ? "a symbolic link" : "a folder");
    return -1;
  }
  if (fd < 0) {
    fprintf(stderr, "descent train: cannot open the lock file '%s': %s\n", path, strerror(errno));
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    fprintf(stderr, "descent train: the lock file '%s' is not a regular file; remove it\n", path);
    close(fd);
    return -1;
  }
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    char pid[32];
    lock_holder(fd, &st, pid, sizeof pid);
    if (err == EWOULDBLOCK)
      fprintf(stderr,
              "descent train: '%s' is in use by another descent train (pid %s holds the lock "
              "%s); wait for it to end, or stop it\n",
              dir, pid[0] ? pid : "unknown", path);
    else
      fprintf(stderr, "descent train: cannot lock '%s': %s\n", path, strerror(err));
    close(fd);
    return -1;
  }
  return fd;
}

/* Writes this process's pid into the lock it holds: the run is under way. */
static int claim_lock(int fd, const char *dir) {
  char text[32];
  int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());
  if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
    fprintf(stderr, "descent train: cannot write '%s/.lock': %s\n", dir, strerror(errno));
    return -1;
  }
  return 0;
}

/* A new run's folder must hold nothing but its lock: the files of an old run
   (a model, logs, checkpoints) would be overwritten or, worse, mixed into this
   one by a later --resume. Returns 0, or -1 after printing what it holds. */
static int check_empty(const char *dir) {
  char found[256];
  int held = cli_folder_first_entry(dir, ".lock", found, sizeof found);
  if (held < 0) {
    fprintf(stderr, "descent train: cannot open the folder '%s': %s\n", dir, strerror(errno));
    return -1;
  }
  if (!held) return 0;
  fprintf(stderr,
          "descent train: '%s' already exists; choose another --out, move the old run away, or "
          "continue it with --resume %s (the folder is not empty: it holds '%s')\n",
          dir, dir, found);
  return -1;
}

/* Creates and locks a new run's folder, which must be empty; or locks a
   resumed run's folder before anything in it is read or removed. Returns the
   lock's descriptor, or -1 after printing why. */
static int open_run_folder(const char *dir, int resuming) {
  struct stat st;
  if (resuming && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
    fprintf(stderr, "descent train: --resume: '%s' is not a folder\n", dir);
    return -1;
  }
  /* A folder that holds anything is refused before the lock file is made,
     so a refused --out gains no file; the check after locking closes the
     race with another trainer that was starting in the same folder. */
  if (!resuming) {
    if (cli_make_folders("train", dir)) return -1;
    /* A live run in the folder is named as such, not as a non-empty folder. */
    int live = lock_run(dir, 0);
    if (live == -1) return -1;
    if (live >= 0) close(live);
    if (check_empty(dir)) return -1;
  }
  int lock = lock_run(dir, 1);
  if (lock < 0) return -1;
  if (resuming)
    remove_temporaries(dir);
  else if (check_empty(dir)) {
    close(lock);
    return -1;
  }
  return lock;
}

static FILE *open_in(const char *dir, const char *name, const char *mode) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, mode);
  if (!f) fprintf(stderr, "descent train: cannot write '%s': %s\n", path, strerror(errno));
  return f;
}

static const char *metrics_header =
    "epoch,step,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,samples_per_s,"
    "train_seconds,evaluations,products\n";
static const char *steps_header = "step,epoch,lr,loss\n";

/* Everything the callbacks need. */
typedef struct train_run {
  const train_config *c;
  descent_net *net;
  descent_optimizer *opt;
  descent_trainer *trainer;
  const descent_preprocess *pp;
  const descent_dataset *train, *val, *test;
  FILE *csv, *steps;
  descent_tracker *tracker; /* NULL without --track */
  track_log diag;           /* diagnostics.csv, with --track */
  progress bar;
  int bar_open;
  double total_seconds;
  char model_path[4096];
  int failed;            /* a message was printed */
  descent_objective *dp; /* across processes (or a fixed reduction): the network's, summed */
} train_run;

/* Rewrites the logs to hold exactly what the trainer holds: metrics.csv the
   epochs it completed, steps.csv its steps (after a resume or a rollback,
   rows the trainer has not reached are gone). Each is replaced atomically,
   then reopened for appending. */
static int sync_logs(train_run *r) {
  const char *dir = r->c->out;
  int64_t epochs = descent_trainer_epochs(r->trainer);
  /* metrics.csv: the header and the rows of completed epochs. */
  if (log_file_keep_rows(dir, "metrics.csv", metrics_header, (long long)epochs, &r->csv)) return -1;
  char path[4096], tmp[4200];
  /* steps.csv: from the trainer's history. */
  snprintf(path, sizeof path, "%s/steps.csv", dir);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (r->steps) fclose(r->steps);
  r->steps = NULL;
  FILE *out = fopen(tmp, "w");
  if (!out) {
    fprintf(stderr, "descent train: cannot write '%s': %s\n", tmp, strerror(errno));
    return -1;
  }
  fputs(steps_header, out);
  size_t count, per_epoch = steps_per_epoch(r->c, r->train, r->opt);
  const double *losses, *lrs;
  descent_trainer_history(r->trainer, &count, &losses, &lrs);
  for (size_t i = 0; i < count; i++)
    fprintf(out, "%zu,%zu,%.17g,%.17g\n", i + 1, i / per_epoch + 1, lrs[i], losses[i]);
  if (fflush(out) != 0 || fsync(fileno(out)) != 0 || fclose(out) != 0 || rename(tmp, path) != 0) {
    fprintf(stderr, "descent train: cannot replace '%s': %s\n", path, strerror(errno));
    return -1;
  }
  if (!(r->steps = open_in(dir, "steps.csv", "a"))) return -1;
  return r->tracker ? track_log_sync(&r->diag, dir, descent_trainer_steps(r->trainer)) : 0;
}

static void print_config(FILE *f, const train_config *c, const descent_dataset *train,
                         const descent_dataset *val, const descent_dataset *test, descent_net *net,
                         const descent_optimizer *opt) {
  char buf[4096];
  fprintf(f, "descent %s, %s, %s, %d threads\n", DESCENT_VERSION_STRING,
          sizeof(descent_real) == 8 ? "double" : "float", descent_blas_name(),
          descent_get_threads());
  fprintf(f, "data        %s: %zu train, %zu validation, %zu test examples of %zu features",
          c->setup.data_text, train->n, val->n, test->n, train->features);
  for (int i = 0; train->shape.ndim > 1 && i < train->shape.ndim; i++)
    fprintf(f, "%s%zu", i ? "x" : " (", train->shape.dims[i]);
  fprintf(f, "%s\n", train->shape.ndim > 1 ? ")" : "");
  if (test->n == 0)
    fprintf(f, "            no test set: add test=PATH to --data to evaluate on one\n");
  if (c->setup.preprocess == DESCENT_PREPROCESS_NONE)
    fprintf(f, "preprocess  none\n");
  else
    fprintf(f, "preprocess  %s (eps %g, fitted on the training set)\n",
            descent_preprocess_name(c->setup.preprocess), c->setup.preprocess_eps);
  fprintf(f, "model       %s\n", c->setup.model);
  descent_net_describe(net, buf, sizeof buf);
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
    fprintf(f, "            %s\n", line);
  descent_optimizer_describe(opt, buf, sizeof buf);
  fprintf(f, "optimizer   %s\n", buf);
  if (c->setup.precision == DESCENT_PRECISION_BF16)
    fprintf(f, "precision   bf16 products (bf16 operands, float sums), float weights and "
               "optimizer\n");
  if (descent_optimizer_full_batch(opt))
    fprintf(f, "batch size  full batch: one step per epoch on all %zu examples, in chunks of %zu\n",
            train->n, c->setup.batch_size);
  else if (c->accumulate > 1)
    fprintf(f,
            "batch size  %zu per step, its gradient summed over %zu micro-batches of %zu "
            "(--accumulate %zu)\n",
            step_examples(c), c->accumulate, c->setup.batch_size, c->accumulate);
  else
    fprintf(f, "batch size  %zu\n", c->setup.batch_size);
  fprintf(f, "epochs      %zu, seed %llu\n", c->epochs, (unsigned long long)c->setup.seed);
  size_t n_buffers = 0;
  descent_net_buffers(net, &n_buffers);
  if (descent_optimizer_has_eval_point(opt))
    fprintf(f, "evaluation  at the optimizer's average point (model.bin holds it)%s\n",
            !n_buffers                ? ""
            : c->eval_bn_batches == 0 ? "; batch norm with the training point's statistics "
                                        "(--eval-bn-batches 0)"
                                      : "; batch norm's statistics recomputed there");
  if (descent_optimizer_has_eval_point(opt) && n_buffers && c->eval_bn_batches)
    fprintf(f, "            from the first %zu training batches (--eval-bn-batches)\n",
            c->eval_bn_batches);
  if (c->keep == 0)
    fprintf(f, "checkpoint  none (--keep 0)\n");
  else if (c->checkpoint_every)
    fprintf(f, "checkpoint  every %llu steps and at every epoch's end, newest %zu kept\n",
            (unsigned long long)c->checkpoint_every, c->keep);
  else
    fprintf(f, "checkpoint  at every epoch's end, newest %zu kept\n", c->keep);
  char bound[96];
  if (isnan(c->max_loss))
    snprintf(bound, sizeof bound, "above 100 x the first loss (at least 100)");
  else if (isinf(c->max_loss))
    snprintf(bound, sizeof bound, "infinite");
  else
    snprintf(bound, sizeof bound, "above %g", c->max_loss);
  if (c->on_diverge == DESCENT_DIVERGE_STOP)
    fprintf(f, "guard       stop when a loss is NaN, Inf or %s, or a gradient NaN or Inf\n", bound);
  else
    fprintf(f,
            "guard       when a loss is NaN, Inf or %s, or a gradient NaN or Inf: roll back, "
            "learning rate x %g, at most %zu times\n",
            bound, c->rollback_factor, c->max_rollbacks);
  if (c->track) {
    char list[128];
    descent_track_describe(c->track, list, sizeof list);
    if (c->track_every)
      fprintf(f, "track       %s every %llu steps", list, (unsigned long long)c->track_every);
    else
      fprintf(f,
              "track       %s, automatically: at step 1, then within 1/48 (noise, alpha, "
              "layers) and 1/96 (curvature) of the steps' gradient evaluations",
              list);
    fprintf(f, ", %zu Lanczos iterations; rows in diagnostics.csv\n", c->track_iterations);
  }
  fprintf(f, "output      %s (run %s)\n", c->out, c->run_id[0] ? c->run_id : "without an id");
}

/* ---- the trainer's callbacks ------------------------------------------------------- */

static void on_step(void *user, const descent_step_report *s) {
  train_run *r = user;
  if (!r->bar_open) {
    char label[32];
    snprintf(label, sizeof label, "epoch %lld/%zu", (long long)s->epoch, r->c->epochs);
    progress_begin(&r->bar, progress_auto(r->c->quiet), s->batches, label);
    r->bar_open = 1;
  }
  progress_update(&r->bar, s->batch, s->epoch_loss, s->samples);
  if (s->stepped && r->steps)
    fprintf(r->steps, "%lld,%lld,%.17g,%.17g\n", (long long)s->step, (long long)s->epoch, s->lr,
            s->loss);
  if (s->stepped && r->tracker) track_log_step(&r->diag, s->step);
}

static void close_bar(train_run *r) {
  if (r->bar_open) progress_end(&r->bar);
  r->bar_open = 0;
}

static int evaluate(descent_net *net, const descent_dataset *ds, double *loss, double *acc) {
  *loss = *acc = NAN;
  if (ds->n == 0) return 0;
  return descent_net_evaluate(net, ds, loss, acc);
}

/* Evaluates the parameters the network holds, saves the model and logs the
   epoch. */
static int report_epoch(train_run *r, const descent_epoch_report *e) {
  const train_config *c = r->c;
  double train_loss = e->train_loss, train_acc = NAN, val_loss, val_acc, test_loss, test_acc;
  descent_objective *obj = descent_net_objective(r->net);
  int rc = DESCENT_OK;
  if (!rc && c->eval_train) rc = evaluate(r->net, r->train, &train_loss, &train_acc);
  if (!rc) rc = evaluate(r->net, r->val, &val_loss, &val_acc);
  if (!rc) rc = evaluate(r->net, r->test, &test_loss, &test_acc);
  if (rc) return rc;
  /* The trainer checked the parameters where gradients are taken; a
     schedule-free average is checked here: a finite model is never replaced
     by one that is not. */
  const descent_real *theta = obj->params;
  double sum = 0;
  for (size_t i = 0; i < obj->n_params; i++) sum += (double)theta[i] * 0.0;
  if (sum != 0) {
    fprintf(stderr,
            "descent train: %s not written: the evaluated parameters hold NaN or Inf after epoch "
            "%lld (it keeps the model of the epoch before); lower the learning rate\n",
            r->model_path, (long long)e->epoch);
    r->failed = 1;
    return DESCENT_EDIVERGED;
  }
  /* The model as evaluated, replaced atomically after every epoch. */
  rc = descent_net_save(r->net, r->pp, r->model_path);
  if (rc) return rc;
  r->total_seconds += e->seconds;
  printf("epoch %lld/%zu | train loss %.4f%s", (long long)e->epoch, c->epochs, train_loss,
         c->eval_train ? "" : " (running)");
  if (c->eval_train) printf(" acc %.2f%%", 100 * train_acc);
  if (r->val->n) printf(" | val loss %.4f acc %.2f%%", val_loss, 100 * val_acc);
  if (r->test->n) printf(" | test loss %.4f acc %.2f%%", test_loss, 100 * test_acc);
  /* A method evaluates the objective several times per step: its count,
     since the run began, is the fair measure of its work. */
  int64_t evaluations = descent_optimizer_evaluations(r->opt);
  int64_t products = descent_optimizer_products(r->opt);
  if (descent_optimizer_is_method(r->opt)) printf(" | %lld evaluations", (long long)evaluations);
  if (products) printf(", %lld products", (long long)products);
  char summary[256];
  track_log_summary(&r->diag, summary, sizeof summary);
  printf("%s | train samples/s: %.0f | %.1f s\n", summary, e->samples_per_s, e->seconds);
  fflush(stdout);
  fprintf(r->csv, "%lld,%lld,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.1f,%.3f,%lld,%lld\n",
          (long long)e->epoch, (long long)e->step, e->lr, train_loss, train_acc, val_loss, val_acc,
          test_loss, test_acc, e->samples_per_s, e->seconds, (long long)evaluations,
          (long long)products);
  if (fflush(r->csv) != 0 || fflush(r->steps) != 0 || track_log_flush(&r->diag) != 0) {
    fprintf(stderr, "descent train: writing the logs in %s failed: %s\n", c->out, strerror(errno));
    r->failed = 1;
    return DESCENT_EIO;
  }
  return 0;
}

/* Schedule-free optimizers are evaluated (and saved) at their average, not
   where the gradients were taken; the trainer moves the parameters back
   afterwards. Batch norm's running statistics, gathered at the training
   point, are recomputed at the average for the evaluation and the saved
   model (--eval-bn-batches), then put back: training goes on as if no
   evaluation had happened. */
static int on_epoch(void *user, const descent_epoch_report *e) {
  train_run *r = user;
  close_bar(r);
  int rc = descent_optimizer_eval(r->opt, descent_net_objective(r->net));
  if (rc) return rc;
  size_t n_buffers = 0;
  descent_real *buffers = descent_net_buffers(r->net, &n_buffers), *kept = NULL;
  if (n_buffers && r->c->eval_bn_batches && descent_optimizer_has_eval_point(r->opt) &&
      descent_optimizer_steps(r->opt) > 0) {
    kept = malloc(n_buffers * sizeof *kept);
    if (!kept)
      return descent_set_error(DESCENT_ENOMEM, "out of memory keeping batch-norm statistics");
    memcpy(kept, buffers, n_buffers * sizeof *kept);
    rc = descent_net_refresh_batch_norm(r->net, r->train, r->c->setup.batch_size,
                                        r->c->eval_bn_batches);
  }
  if (!rc) rc = report_epoch(r, e);
  if (kept) memcpy(buffers, kept, n_buffers * sizeof *kept);
  free(kept);
  return rc;
}

static void on_rollback(void *user, const descent_divergence *d) {
  train_run *r = user;
  close_bar(r);
  printf("rollback    %s at step %lld (loss %g, learning rate %g): back to step %lld, learning "
         "rate x %g (rollback %d of %zu)\n",
         strcmp(d->reason, "loss") == 0 ? "loss out of bounds" : d->reason, (long long)d->step,
         d->loss, d->lr, (long long)d->restored_step, r->c->rollback_factor, d->rollbacks,
         r->c->max_rollbacks);
  fflush(stdout);
  if (sync_logs(r)) r->failed = 1;
}

/* ---- the run -------------------------------------------------------------------------- */

/* A checkpoint written before --data existed names its data "data-dir=DIR",
   which is "data=idx:DIR" now: the text is read as if it said so. Returns
   saved itself, or buf holding the rewritten text. */
static const char *upgrade_saved_config(const char *saved, char *buf, size_t cap) {
  char value[8];
  if (cli_config_value(saved, "data", value, sizeof value)) return saved;
  const char *line = strncmp(saved, "data-dir=", 9) == 0 ? saved : strstr(saved, "\ndata-dir=");
  if (!line) return saved; /* merge_saved_config names what is missing */
  if (line != saved) line++;
  int n = snprintf(buf, cap, "%.*sdata=idx:%s", (int)(line - saved), saved, line + 9);
  return n >= 0 && (size_t)n < cap ? buf : saved;
}

/* Finds the checkpoint to resume from and takes the configuration from it.
   Returns 0, 1 (failure) or 2 (the command line disagrees). */
static int find_resume_point(train_config *c, char *path, size_t cap,
                             descent_checkpoint_info *info) {
  char skipped[8192];
  if (descent_checkpoint_find(c->resume, path, cap, skipped, sizeof skipped) ||
      descent_checkpoint_inspect(path, info)) {
    fprintf(stderr, "descent train: --resume: %s\n", descent_last_error());
    return 1;
  }
  static char upgraded[CONFIG_CAP];
  if (merge_saved_config(c, upgrade_saved_config(info->config, upgraded, sizeof upgraded), path))
    return 2;
  if (info->batch)
    printf("resume      %s: step %lld, %zu of %zu batches into epoch %lld\n", path,
           (long long)info->step, info->batch, info->batches, (long long)info->epoch + 1);
  else
    printf("resume      %s: step %lld, at the end of epoch %lld\n", path, (long long)info->step,
           (long long)info->epoch);
  /* Newer files that did not load, each with its reason, one a line. */
  for (char *reason = skipped[0] ? skipped : NULL, *next; reason; reason = next) {
    next = strchr(reason, '\n');
    if (next) *next++ = '\0';
    printf("            skipped %s\n", reason);
  }
  if ((size_t)info->epoch >= c->epochs)
    printf("            the run has done its %zu epochs; pass a larger --epochs to go on\n",
           c->epochs);
  return 0;
}

/* The step of a checkpoint's name "ckpt-STEP.dsc", or -1. */
static long long checkpoint_name_step(const char *name) {
  char *end;
  if (strncmp(name, "ckpt-", 5) != 0 || name[5] < '0' || name[5] > '9') return -1;
  long long step = strtoll(name + 5, &end, 10);
  return strcmp(end, ".dsc") == 0 ? step : -1;
}

/* Every checkpoint name of a later step than the one resumed did not load
   (another run's, a damaged file): the run would reach its step and could
   not write its own checkpoint there, and this program never deletes or
   overwrites a file it cannot read. Each is moved aside, bytes unchanged, to
   NAME.skipped (never taken for a checkpoint), and said so. Returns 0, or -1
   after printing why. */
static int move_skipped(const char *dir, int64_t resumed) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "descent train: cannot open the folder '%s': %s\n", dir, strerror(errno));
    return -1;
  }
  int rc = 0;
  for (struct dirent *e; !rc && (e = readdir(d));) {
    if (checkpoint_name_step(e->d_name) <= (long long)resumed) continue;
    char from[4096], to[4200];
    struct stat st;
    snprintf(from, sizeof from, "%s/%s", dir, e->d_name);
    snprintf(to, sizeof to, "%s.skipped", from);
    for (int i = 2; lstat(to, &st) == 0 && i < 1000; i++)
      snprintf(to, sizeof to, "%s.skipped-%d", from, i);
    if (lstat(to, &st) == 0 || rename(from, to) != 0) {
      fprintf(stderr, "descent train: cannot move '%s' aside (it did not load): %s\n", from,
              lstat(to, &st) == 0 ? "no free name" : strerror(errno));
      rc = -1;
    } else {
      printf("            moved %s aside to %s (it did not load; the run will reach its step)\n",
             e->d_name, strrchr(to, '/') + 1);
    }
  }
  closedir(d);
  return rc;
}

/* The run's identity from its folder. A run older than run ids has none,
   and its checkpoints (version 1, no id) are taken without that check. A
   folder without run-id whose checkpoint has an id lost the file: refused
   (without it no checkpoint would be checked, a foreign one would be
   resumed and none pruned), saying how to restore it. Returns 0 or 1. */
static int read_run_id(train_config *c, const descent_checkpoint_info *info, const char *path,
                       descent_run_id *id) {
  int rc = descent_run_id_load(c->out, id);
  if (rc < 0) {
    fprintf(stderr, "descent train: --resume: %s\n", descent_last_error());
    return 1;
  }
  if (rc == 1 && !descent_run_id_is_zero(&info->run_id)) {
    char found[33];
    descent_run_id_format(&info->run_id, found);
    fprintf(stderr,
            "descent train: --resume: %s/run-id is missing, but %s belongs to run %s; if that "
            "is this run, restore the file with: echo %s > %s/run-id\n",
            c->out, path, found, found, c->out);
    return 1;
  }
  if (rc == 1)
    printf("note        %s has no run-id file (a run older than run ids): its checkpoints are "
           "taken without checking that they belong to it\n",
           c->out);
  else
    descent_run_id_format(id, c->run_id);
  return 0;
}

/* SIGINT and SIGTERM set this (to the signal's number) while the trainer
   runs; it stops between two steps, writes a checkpoint and returns
   DESCENT_ESTOPPED. */
static volatile sig_atomic_t stop_signal;
/* With several processes: set on every rank at the same step once any rank
   had a signal (dp_objective.h), and what the trainer stops on. */
static volatile sig_atomic_t stop_agreed;

/* The signals caught while the trainer runs, and what they did before. */
static const int stop_signals[] = {SIGINT, SIGTERM, SIGALRM};
static struct sigaction saved_actions[3];

/* Seconds the current step has, after a signal, to finish and write its
   checkpoint. */
#define STOP_GRACE_SECONDS 30

/* After a signal the run is stopped, however: a second signal kills at once
   (each action goes back to what it was, as if none were caught), and if the
   step does not return within the grace time (a write blocked on a full
   pipe, a stuck call) the watchdog ends the process. Only async-signal-safe
   calls here. */
static void on_stop_signal(int sig) {
  stop_signal = sig;
  sigaction(SIGINT, &saved_actions[0], NULL);
  sigaction(SIGTERM, &saved_actions[1], NULL);
  alarm(STOP_GRACE_SECONDS);
}

static void on_stop_timeout(int sig) {
  (void)sig;
  static const char line[] =
      "descent train: the current step did not finish within 30 s of the signal; stopped "
      "without a checkpoint; resume from the last one\n";
  ssize_t ignored = write(STDERR_FILENO, line, sizeof line - 1);
  (void)ignored;
  _exit(128 + stop_signal);
}

/* Installed right before the trainer runs, restored right after: before, a
   signal ends the process as usual (nothing half-written is ever resumed:
   every file is replaced atomically). SA_RESTART: the progress display's
   writes are not cut short. A signal the caller ignored (nohup, a background
   job) stays ignored. */
static void catch_stop_signals(void) {
  stop_signal = 0;
  for (int i = 0; i < 3; i++) {
    sigaction(stop_signals[i], NULL, &saved_actions[i]);
    if (saved_actions[i].sa_handler == SIG_IGN && stop_signals[i] != SIGALRM) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop_signals[i] == SIGALRM ? on_stop_timeout : on_stop_signal;
    sigfillset(&sa.sa_mask); /* neither handler is interrupted by the other */
    sa.sa_flags = SA_RESTART;
    sigaction(stop_signals[i], &sa, NULL);
  }
}

static void release_stop_signals(void) {
  alarm(0);
  for (int i = 0; i < 3; i++) sigaction(stop_signals[i], &saved_actions[i], NULL);
}

/* The one line of an interrupted run: where it stopped and how to go on.
   The trainer names the checkpoint of the step reached when it wrote one;
   otherwise its message says why not. */
static void report_stop(const train_config *c, const descent_trainer *t) {
  const char *name = stop_signal == SIGINT ? "SIGINT" : "SIGTERM";
  long long step = (long long)descent_trainer_steps(t);
  char expected[4200];
  snprintf(expected, sizeof expected, "%s/ckpt-%lld.dsc", c->out, step);
  if (c->keep == 0)
    fprintf(stderr,
            "descent train: interrupted by %s at step %lld; no checkpoint (--keep 0), so the run "
            "cannot be resumed\n",
            name, step);
  else if (strcmp(descent_trainer_last_checkpoint(t), expected) != 0)
    fprintf(stderr, "descent train: interrupted by %s: %s\n", name, descent_last_error());
  else
    fprintf(stderr,
            "descent train: interrupted by %s at step %lld; checkpoint %s written; continue "
            "with: descent train --resume %s\n",
            name, step, expected, c->out);
}

/* A warmup the run never finishes is most likely a mistake; said, not refused
   (a run may be extended later with --resume --epochs). */
static void note_long_warmup(const train_config *c, const descent_dataset *train,
                             const descent_optimizer *opt) {
  /* The longest warmup in the chain: a schedule's or schedule-free's own. */
  int64_t warmup = descent_optimizer_warmup_steps(opt);
  size_t per_epoch = steps_per_epoch(c, train, opt);
  int64_t total = (int64_t)(per_epoch * c->epochs);
  if (warmup > total)
    printf("note        the warmup of %lld steps is longer than the run's %lld steps (%zu "
           "epochs of %zu): the rate never reaches its peak\n",
           (long long)warmup, (long long)total, c->epochs, per_epoch);
}

/* The network's outputs must be the data's classes: a label beyond them is
   named with its file and example, a network wider than the classes is
   refused too (its extra outputs would never be a target). Returns 0, or -1
   after printing why. */
/* ---- several processes (cli/train_dist.c) ---------------------------------------- */

/* The trainer's after_step with sharded optimizer state: each rank stepped
   its shard of the parameters. */
static int gather_parameters(void *user, descent_objective *obj) {
  train_run *r = user;
  (void)obj;
  return dp_objective_gather_parameters(r->dp);
}

/* The processes' lines of the configuration. */
static void print_processes(FILE *f, const train_config *c, const descent_optimizer *opt,
                            const descent_objective *dp) {
  dp_traffic t = {0};
  if (dp) dp_objective_traffic(dp, &t);
  train_dist_describe(f, c->setup.batch_size, c->reduction_fixed, c->shards, t.shared, c->zero,
                      c->sync_bn, opt);
}

/* --accumulate K: the network's objective cut into micro-batches of
   --batch-size, for the chain optimizers that take one gradient per step.
   NULL after printing why it is refused. */
static descent_objective *accumulate_objective(const train_config *c, descent_net *net,
                                               const descent_optimizer *opt) {
  const char *why = NULL;
  if (descent_optimizer_full_batch(opt))
    why = "a full-batch optimizer already sums the whole training set in chunks of --batch-size";
  else if (descent_optimizer_is_method(opt))
    why = "a method evaluates the objective again within its step, and the network can replay "
          "only its last micro-batch";
  if (why) {
    fprintf(stderr, "descent train: --accumulate %zu with --opt %s: %s; drop --accumulate\n",
            c->accumulate, c->setup.opt, why);
    return NULL;
  }
  if (c->track) {
    fprintf(stderr,
            "descent train: --accumulate %zu with --track: the instruments measure on "
            "each step's whole batch, which the network, made for --batch-size examples, "
            "cannot take; drop --track or --accumulate\n",
            c->accumulate);
    return NULL;
  }
  descent_objective *obj = NULL;
  descent_shape in = descent_net_input_shape(net);
  if (descent_objective_accumulate(&obj, descent_net_objective(net), c->setup.batch_size,
                                   descent_shape_size(&in), descent_net_outputs(net))) {
    fprintf(stderr, "descent train: --accumulate: %s\n", descent_last_error());
    return NULL;
  }
  return obj;
}

static int run(train_config *c) {
  int status = 1;
  int leader = dist_rank() == 0;
  int distributed = 0; /* known once a resumed run's options are merged */
  descent_objective *dp = NULL, *accumulated = NULL;
  cli_setup_built b = {0};
  descent_checkpoint_info info = {0};
  train_run r = {0};
  FILE *cfg = NULL;
  char resume_path[4096] = "";
  int lock = -1;
  descent_run_id run_id = {{0}};
  r.c = c;
  r.train = &b.train, r.val = &b.val, r.test = &b.test;

  dist_set_timeout(c->dist_timeout);
  train_dist_env env;
  if (train_dist_read_env_agreed(&env)) return 1;
  status = 1;
  if (c->resume) {
    /* Locked before anything in the folder is read or removed. Rank 0
       chooses the checkpoint; the others read the same file. */
    int rc = 0;
    if (leader) {
      if ((lock = open_run_folder(c->out, 1)) < 0) rc = 1;
      if (!rc) rc = find_resume_point(c, resume_path, sizeof resume_path, &info);
    }
    if (!(rc = train_dist_agree(rc)) && !leader) {
      dist_broadcast(resume_path, sizeof resume_path, 0);
      if (descent_checkpoint_inspect(resume_path, &info)) {
        fprintf(stderr,
                "descent train: rank %d on %s: --resume: %s (every rank reads rank 0's "
                "checkpoint: the run's folder must be on a file system they all see)\n",
                dist_rank(), dist_host(), descent_last_error());
        rc = 1;
      } else {
        static char upgraded[CONFIG_CAP];
        int quiet = dist_quiet_followers(); /* rank 0 said any disagreement */
        rc = merge_saved_config(c, upgrade_saved_config(info.config, upgraded, sizeof upgraded),
                                resume_path);
        dist_speak_again(quiet);
      }
    } else if (!rc) {
      dist_broadcast(resume_path, sizeof resume_path, 0);
    }
    if (!rc) rc = read_run_id(c, &info, resume_path, &run_id);
    if ((rc = train_dist_agree(rc))) {
      descent_checkpoint_info_free(&info);
      if (lock >= 0) close(lock);
      return rc;
    }
  }
  distributed = dist_size() > 1 || c->reduction_fixed;
  /* Processes that share a machine share its cores. */
  if (dist_size() > 1 && c->setup.threads == 0) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long each = (cores > 0 ? cores : 1) / dist_local_size();
    c->setup.threads = (size_t)(each > 0 ? each : 1);
  }
  snprintf(r.model_path, sizeof r.model_path, "%s/model.bin", c->out);
  status = train_dist_agree(
      cli_setup_build("train", &c->setup, c->resume ? &info.preprocess : NULL, &b));
  if (status) goto done;
  status = 1;
  int threads = b.threads;
  r.net = b.net, r.opt = b.opt;
  r.pp = &b.pp;
  /* The instruments, checked before the folder is made. */
  if (c->track && descent_optimizer_full_batch(r.opt)) {
    fprintf(stderr,
            "descent train: --track measures on each step's minibatch, and --opt %s steps on the "
            "whole training set: track a minibatch optimizer (sgd, adam, ...) or drop --track\n",
            c->setup.opt);
    goto done;
  }
  /* Refusals every rank meets alike: said once, the job ended normally. */
  if (c->track && distributed) {
    if (leader)
      fprintf(stderr, "descent train: --track measures one process's objective; it does not run "
                      "across processes or with --reduction fixed yet: drop --track\n");
    dist_set_outcome_agreed();
    goto done;
  }
  if (distributed) {
    dp_options po = {.shards = (int)c->shards,
                     .stop_requested = &stop_signal,
                     .stop_agreed = &stop_agreed,
                     .opt = b.opt,
                     .nan_step = env.nan_step,
                     .nan_rank = env.nan_rank};
    po.zero = c->zero;
    po.sync_bn = c->sync_bn;
    po.bucket_bytes = (size_t)(c->bucket_mb * 1e6);
    double sf;
    if (c->zero && descent_optimizer_hyperparameter(b.opt, "sf.lr", &sf) == DESCENT_OK) {
      if (leader)
        fprintf(stderr,
                "descent train: --zero with --opt %s: a schedule-free optimizer is "
                "evaluated at its average, which each process holds for its shard "
                "only; drop --zero (or use adamw)\n",
                c->setup.opt);
      dist_set_outcome_agreed();
      goto done;
    }
    if (dp_objective_create(&dp, b.net, &po)) {
      if (leader) fprintf(stderr, "descent train: %s\n", descent_last_error());
      dist_set_outcome_agreed();
      goto done;
    }
    r.dp = dp;
    if (c->zero && dp_objective_shard_optimizer(dp, b.opt)) {
      if (leader)
        fprintf(stderr, "descent train: --zero with --opt %s: %s\n", c->setup.opt,
                descent_last_error());
      dist_set_outcome_agreed();
      goto done;
    }
    if (descent_optimizer_check_objective(b.opt, dp)) {
      if (leader)
        fprintf(stderr, "descent train: --opt %s across processes: %s\n", c->setup.opt,
                descent_last_error());
      dist_set_outcome_agreed();
      goto done;
    }
  }
  if (c->accumulate > 1 && (accumulated = accumulate_objective(c, r.net, r.opt)) == NULL) goto done;
  if (c->track) {
    descent_track_options to;
    descent_track_options_default(&to);
    to.what = c->track;
    to.every = (int64_t)c->track_every;
    to.iterations = (int)c->track_iterations;
    if (descent_tracker_create(&r.tracker, descent_net_objective(r.net), r.opt, &to)) goto fail_lib;
    if (track_log_init(&r.diag, r.tracker)) goto done;
  }
  /* Before the folder is made: a chain that works per tensor takes the
     network's tensors now, so that one it cannot step (muon on a bias) is
     refused here rather than at the trainer's creation, after the folder. */
  descent_objective *net_obj = descent_net_objective(r.net);
  if (descent_optimizer_uses_tensors(r.opt) &&
      descent_optimizer_set_tensors(r.opt, net_obj->tensors, net_obj->n_tensors))
    goto fail_lib;
  /* Before the folder is made: a limit OpenBLAS cannot work under is refused
     here, not met as a hang at the first product. */
  if (cli_check_address_space("train", descent_get_threads())) goto done;
  /* Before the folder is made: ranks that disagree on the data leave none. */
  if (dist_size() > 1 && train_dist_agree(train_dist_share_start(b.net, &b.train))) goto done;
  if (!c->resume) {
    int rc = 0;
    if (leader && (lock = open_run_folder(c->out, 0)) < 0) rc = 1;
    if (leader && !rc &&
        (descent_run_id_generate(&run_id) || descent_run_id_save(c->out, &run_id))) {
      fprintf(stderr, "descent train: %s\n", descent_last_error());
      rc = 1;
    }
    if (train_dist_agree(rc)) goto done;
    dist_broadcast(&run_id, sizeof run_id, 0);
    descent_run_id_format(&run_id, c->run_id);
  }

  char config[CONFIG_CAP];
  config_text(c, config, sizeof config, 1);
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = step_examples(c);
  o.seed = c->setup.seed ^ 0x5eed;
  o.preprocess = &b.pp;
  o.config = config;
  o.checkpoint_dir = c->keep && leader ? c->out : NULL;
  o.checkpoint_every = (int64_t)c->checkpoint_every;
  o.checkpoint_epochs = 1;
  o.keep = c->keep ? (int)c->keep : 1;
  o.max_loss = c->max_loss;
  o.on_diverge = c->on_diverge;
  o.rollback_factor = c->rollback_factor;
  o.max_rollbacks = (int)c->max_rollbacks;
  if (leader) { /* the others compute and keep quiet */
    o.on_step = on_step;
    o.on_epoch = on_epoch;
    o.on_rollback = on_rollback;
  }
  o.user = &r;
  o.run_id = run_id;
  o.stop = dp ? &stop_agreed : &stop_signal;
  if (c->zero) {
    o.after_step = gather_parameters;
    /* Saving sharded state is a collective: every rank joins rank 0's. */
    o.checkpoint_replica = !leader && c->keep;
  }
  o.threads = threads;
  o.tracker = r.tracker;
  if (leader && claim_lock(lock, c->out)) goto done;
  if (leader && c->resume && move_skipped(c->out, info.step)) goto done;
  descent_objective *trained = dp ? dp : accumulated ? accumulated : descent_net_objective(r.net);
  if (descent_trainer_create(&r.trainer, trained, r.opt, &b.train, &o)) goto fail_lib;
  if (c->resume && descent_trainer_load(r.trainer, resume_path)) goto fail_lib;

  print_config(stdout, c, &b.train, &b.val, &b.test, r.net, r.opt);
  print_processes(stdout, c, r.opt, r.dp);
  fflush(stdout);
  if (!leader) goto train;
  if (!(cfg = open_in(c->out, "config.txt", c->resume ? "a" : "w"))) goto done;
  if (c->resume)
    fprintf(cfg, "\nresumed from %s (step %lld) with --epochs %zu:\n", resume_path,
            (long long)descent_trainer_steps(r.trainer), c->epochs);
  print_config(cfg, c, &b.train, &b.val, &b.test, r.net, r.opt);
  print_processes(cfg, c, r.opt, r.dp);
  if (fclose(cfg) != 0) {
    cfg = NULL;
    fprintf(stderr, "descent train: writing config.txt failed: %s\n", strerror(errno));
    goto done;
  }
  cfg = NULL;
  if (sync_logs(&r)) goto done;

  note_long_warmup(c, &b.train, r.opt);
train:
  catch_stop_signals();
  int rc = descent_trainer_run(r.trainer, (int64_t)c->epochs, (int64_t)c->stop_after);
  release_stop_signals();
  close_bar(&r);
  if (r.failed) goto done;
  /* Every rank stops at the same step, and the guard sees the same summed
     gradient on every rank: these ends are the whole job's. */
  if ((rc == DESCENT_ESTOPPED || rc == DESCENT_EDIVERGED) && dp) dist_set_outcome_agreed();
  if (rc == DESCENT_ESTOPPED) {
    if (leader) report_stop(c, r.trainer);
    status = 128 + (stop_signal ? stop_signal : stop_agreed);
    goto done;
  }
  if (rc == DESCENT_EDIVERGED && !leader) goto done;
  if (rc == DESCENT_EDIVERGED) { /* the whole job's end, said once */
    close_bar(&r);
    fprintf(stderr, "descent train: %s\n", descent_last_error());
    goto done;
  }
  if (rc) goto fail_lib;
  if (c->stop_after && descent_trainer_steps(r.trainer) >= (int64_t)c->stop_after &&
      descent_trainer_epochs(r.trainer) < (int64_t)c->epochs) {
    /* As if the machine died here: no cleanup, no final message. */
    fflush(r.csv);
    fflush(r.steps);
    track_log_flush(&r.diag);
    fflush(stdout);
    raise(SIGKILL);
  }
  /* DESCENT_FAULT_DESYNC=RANK: that rank's parameters move before the check
     below (a test that it sees a replica gone astray). */
  if (dp && env.desync_rank == dist_rank() && dp->n_params) dp->params[0] += 1;
  if (dp && train_dist_check_replicas(dp)) {
    status = 1;
    goto done;
  }
  if (!leader) {
    status = 0;
    goto done;
  }
  if (dp && dist_size() > 1) {
    dp_traffic t;
    dp_objective_traffic(dp, &t);
    double per = t.evaluations ? 1.0 / (double)t.evaluations : 0;
    printf("reductions  %lld over %d processes%s: %.2f MB %s per rank and step, %.2f ms per step "
           "in the collectives (%.0f%% of the training time, waits for the slowest rank "
           "included)\n",
           (long long)t.evaluations, dist_size(), t.shared ? " through shared memory" : "",
           t.bytes * per / 1e6, t.shared ? "read from the others' memory" : "sent",
           1e3 * t.seconds * per, r.total_seconds > 0 ? 100 * t.seconds / r.total_seconds : 0.0);
  }
  printf("done: %zu epochs, %.1f s of training; metrics in %s/metrics.csv, model in %s\n",
         c->epochs, r.total_seconds, c->out, r.model_path);
  status = 0;
  goto done;
fail_lib:
  close_bar(&r);
  if (dist_size() > 1)
    fprintf(stderr, "descent train: rank %d on %s: %s\n", dist_rank(), dist_host(),
            descent_last_error());
  else
    fprintf(stderr, "descent train: %s\n", descent_last_error());
done:
  if (r.csv && fclose(r.csv) != 0) {
    fprintf(stderr, "descent train: writing metrics.csv failed: %s\n", strerror(errno));
    status = 1;
  }
  if (r.steps && fclose(r.steps) != 0) {
    fprintf(stderr, "descent train: writing steps.csv failed: %s\n", strerror(errno));
    status = 1;
  }
  if (track_log_close(&r.diag)) status = 1;
  if (cfg) fclose(cfg);
  if (lock >= 0) close(lock); /* the kernel would, at exit; a library caller's process goes on */
  /* A failure of this rank alone ends the job now: the others wait in the
     next collective, and freeing the data-parallel objective is one too. */
  if (status && dist_size() > 1 && !dist_outcome_agreed()) dist_abort(status);
  descent_trainer_free(r.trainer);
  dp_objective_free(dp);
  descent_objective_free(accumulated);
  descent_tracker_free(r.tracker);
  cli_setup_free(&b); /* the network, the optimizer, the data */
  descent_checkpoint_info_free(&info);
  return status;
}

int cmd_train(int argc, char **argv) {
  /* Every rank reads the same options: a bad one is said once. */
  int quiet = dist_quiet_followers();
  int rc = cli_parse(argc, argv, 1, train_options, N_TRAIN_OPTIONS, "train",
                     "Train a network on a data set (--data: IDX files, Fashion-MNIST by default,\n"
                     "or a CSV or LIBSVM file) and report train and test loss and accuracy after\n"
                     "every epoch. Checkpoints in the run's folder let --resume continue a killed\n"
                     "run to the same bits; a diverging run stops with a diagnosis (or rolls\n"
                     "back, --on-diverge). Under mpirun it trains one model on all the ranks\n"
                     "(docs/distributed.md).");
  train_config c;
  memset(&c, 0, sizeof c);
  if (!rc && read_config(&c)) rc = -1;
  dist_speak_again(quiet);
  if (rc) {
    dist_set_outcome_agreed();
    return rc < 0 ? 2 : 0;
  }
  return run(&c);
}
