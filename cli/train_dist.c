/*
 * train_dist.c - what `descent train` does when it runs as several
 * processes, beside the data-parallel objective (dp_objective.c): the ranks'
 * agreement on a status, rank 0's start for all, and the configuration's
 * lines about the processes.
 */
#include "train_dist.h"

#include "dist.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Every rank learns the worst status of all: the ranks go on together or
   stop together (the failing rank printed why). */
int train_dist_agree(int status) {
  if (dist_size() == 1) return status;
  int64_t worst = dist_max_i64(status);
  if (worst) dist_set_outcome_agreed();
  return (int)worst;
}

/* A whole decimal integer in [lo, hi] from text, digits only (no sign, no
   spaces): 0, or -1. */
static int parse_whole(const char *text, long long lo, long long hi, long long *out) {
  if (!isdigit((unsigned char)text[0])) return -1;
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno || end == text || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* 1, after saying (when speak) that variable name holds value where it
   expects what expected says. */
static int refuse_env(int speak, const char *name, const char *value, const char *expected) {
  if (!speak) return 1;
  char who[32] = "";
  if (dist_rank() > 0) snprintf(who, sizeof who, "rank %d: ", dist_rank());
  fprintf(stderr, "descent train: %s%s=%s: expected %s\n", who, name, value, expected);
  return 1;
}

int train_dist_read_env(train_dist_env *env, int speak) {
  *env = (train_dist_env){.nan_step = 0, .nan_rank = 0, .desync_rank = -1};
  int last = dist_size() - 1;
  char expected[160];
  const char *shared = getenv("DESCENT_MPI_SHARED");
  if (shared && *shared && strcmp(shared, "0") != 0 && strcmp(shared, "1") != 0)
    return refuse_env(speak, "DESCENT_MPI_SHARED", shared,
                      "0 (sum with MPI's all-reduce) or 1 (through memory the processes share, "
                      "the default)");
  const char *nan = getenv("DESCENT_FAULT_NAN");
  if (nan && *nan) {
    const char *comma = strchr(nan, ',');
    char step[32] = "";
    long long s = 0, r = 0;
    if (comma && (size_t)(comma - nan) < sizeof step) memcpy(step, nan, (size_t)(comma - nan));
    if (!comma || parse_whole(step, 1, INT64_MAX, &s) || parse_whole(comma + 1, 0, last, &r)) {
      snprintf(expected, sizeof expected,
               "STEP,RANK (a NaN in rank RANK's gradient, RANK from 0 to %d, at update STEP, "
               "from 1), or unset",
               last);
      return refuse_env(speak, "DESCENT_FAULT_NAN", nan, expected);
    }
    env->nan_step = s, env->nan_rank = (int)r;
  }
  const char *desync = getenv("DESCENT_FAULT_DESYNC");
  if (desync && *desync) {
    long long r;
    if (parse_whole(desync, 0, last, &r)) {
      snprintf(expected, sizeof expected,
               "a rank (0 to %d) whose parameters move before the replica check, or unset", last);
      return refuse_env(speak, "DESCENT_FAULT_DESYNC", desync, expected);
    }
    env->desync_rank = (int)r;
  }
  return 0;
}

int train_dist_read_env_agreed(train_dist_env *env) {
  int leader = dist_rank() == 0, mine = train_dist_read_env(env, leader);
  /* 2: rank 0's is wrong, and it said so; 1: only others' are */
  int worst = train_dist_agree(mine && leader ? 2 : mine);
  if (worst == 1 && mine) train_dist_read_env(env, 1);
  return worst ? 1 : 0;
}

/* FNV-1a over n bytes, from h. */
static uint64_t fnv_bytes(uint64_t h, const void *bytes, size_t n) {
  const unsigned char *p = bytes;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

/* A hash of the training set as this rank loaded and preprocessed it: every
   rank must train on the same numbers. */
static uint64_t data_hash(const descent_dataset *ds) {
  uint64_t h = 1469598103934665603ULL;
  size_t values = ds->n * ds->features;
  if (ds->x) {
    h = fnv_bytes(h, ds->x, values * sizeof *ds->x);
  } else if (ds->bytes) { /* the bytes and their standardization: the same numbers */
    h = fnv_bytes(h, ds->bytes, values);
    if (ds->byte_mean) {
      h = fnv_bytes(h, ds->byte_mean, ds->features * sizeof *ds->byte_mean);
      h = fnv_bytes(h, ds->byte_inv_std, ds->features * sizeof *ds->byte_inv_std);
    }
  }
  for (size_t i = 0; ds->labels && i < ds->n; i++)
    h = (h ^ (uint32_t)ds->labels[i]) * 1099511628211ULL;
  return h >> 1;
}

/* Rank 0's parameters for every rank, and the check that every rank holds
   the same training set (the same files, the same preprocessing). */
int train_dist_share_start(descent_net *net, const descent_dataset *train) {
  descent_objective *obj = descent_net_objective(net);
  dist_broadcast(obj->params, obj->n_params * sizeof *obj->params, 0);
  int64_t h = (int64_t)data_hash(train);
  if (dist_min_i64(h) != dist_max_i64(h)) {
    if (dist_rank() == 0)
      fprintf(stderr, "descent train: the ranks loaded different training sets (other files, "
                      "or another CPU's preprocessing): every rank must read the same data\n");
    return 1;
  }
  return 0;
}

/* Whether every rank ends with the same parameters (train_dist.h). */
int train_dist_check_replicas(const descent_objective *obj) {
  if (dist_size() == 1) return 0;
  int64_t h = (int64_t)(fnv_bytes(1469598103934665603ULL, obj->params,
                                  obj->n_params * sizeof *obj->params) >>
                        1);
  if (dist_min_i64(h) == dist_max_i64(h)) return 0;
  if (dist_rank() == 0)
    fprintf(stderr, "descent train: the processes ended with different parameters: their "
                    "gradient sums disagreed, a fault in the reduction; model.bin is rank 0's "
                    "(report it, with the command)\n");
  dist_set_outcome_agreed();
  return 1;
}

/* The configuration's lines about the processes (train_dist.h). */
void train_dist_describe(FILE *f, size_t batch, int fixed, size_t shards, int shared, int zero,
                         int sync_bn, const descent_optimizer *opt) {
  if (dist_size() == 1 && !fixed) return;
  size_t b = batch, n = (size_t)dist_size();
  if (dist_size() > 1)
    fprintf(f, "processes   %zu (%s, MPI %s), %d on this machine\n", n, dist_library(),
            dist_standard(), dist_local_size());
  if (fixed)
    fprintf(f,
            "reduction   fixed: each batch of %zu in %zu micro-batches (%zu per process), summed "
            "in one order: the bits of any process count that divides them\n",
            b, shards, shards / n);
  else if (shared)
    fprintf(f,
            "reduction   fast: each process takes %zu of a batch's %zu examples; the gradients "
            "are summed in memory the processes share (DESCENT_MPI_SHARED=0: MPI's all-reduce)\n",
            (b + n - 1) / n, b);
  else
    fprintf(f,
            "reduction   fast: each process takes %zu of a batch's %zu examples; MPI's "
            "all-reduce sums the gradients\n",
            (b + n - 1) / n, b);
  if (sync_bn && dist_size() > 1)
    fprintf(f, "batch norm  statistics of the whole batch, summed over the processes "
               "(--sync-bn)\n");
  double mb = (double)descent_optimizer_state_bytes(opt) / 1e6;
  if (zero)
    fprintf(f,
            "state       %.3f MB of optimizer state in each process: its shard (--zero, ZeRO "
            "stage 1)\n",
            mb);
  else if (dist_size() > 1)
    fprintf(f,
            "state       %.3f MB of optimizer state in each process: all of it (--zero shards "
            "it)\n",
            mb);
}
