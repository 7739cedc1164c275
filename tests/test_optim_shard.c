/*
 * test_optim_shard.c - sharded optimizer state (ZeRO stage 1).
 *
 * Replicas are simulated in one process: each holds its own copy of the
 * parameters, steps its shard with the whole gradient (whose other elements
 * are NaN, so reading them would show), and the copies are then
 * all-gathered. For every named chain optimizer and a chain with weight
 * decay and a schedule, at shards with odd offsets: the gathered parameters
 * equal the unsharded optimizer's bit for bit at every step, and nothing
 * outside a shard moves; the blob the shards save together (threads meeting
 * at a barrier, as MPI ranks in MPI_Allgatherv) equals the unsharded blob
 * bit for bit; that blob loaded into another number of shards resumes to
 * the unsharded result; schedule-free's eval and train move the shards as
 * the whole; the state falls as 1/N. Then the refusals with their messages.
 */
#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define MAX_REPLICAS 4
#define STEPS        20
#define SAVE_AT      10

/* ---- replicas ------------------------------------------------------------ */

/* The shards of n parameters over `replicas`, in order, each starting at an
   odd offset: with n = 1001, 501 (two) and 333, 667 (three). */
typedef struct layout {
  size_t n;
  int replicas;
  size_t offset[MAX_REPLICAS], count[MAX_REPLICAS];
} layout;

static layout make_layout(size_t n, int replicas) {
  layout l = {.n = n, .replicas = replicas};
  for (int r = 0; r < replicas; r++) l.offset[r] = r ? (n * (size_t)r / (size_t)replicas) | 1 : 0;
  for (int r = 0; r < replicas; r++)
    l.count[r] = (r + 1 < replicas ? l.offset[r + 1] : n) - l.offset[r];
  return l;
}

/* The gather of a group of threads: each publishes its piece, all meet, each
   copies every piece in replica order, all meet again (so no piece is
   released while another still copies it). */
typedef struct group {
  const layout *l;
  pthread_barrier_t barrier;
  const descent_real *piece[MAX_REPLICAS];
  size_t piece_count[MAX_REPLICAS];
  int calls[MAX_REPLICAS];
} group;

typedef struct member {
  group *g;
  int rank;
  descent_optimizer *opt;
  unsigned char *blob;
  size_t size;
  int rc;
} member;

static int barrier_gather(void *user, const descent_real *mine, size_t count, descent_real *all,
                          size_t total) {
  member *m = user;
  group *g = m->g;
  g->piece[m->rank] = mine;
  g->piece_count[m->rank] = count;
  g->calls[m->rank]++;
  pthread_barrier_wait(&g->barrier);
  size_t at = 0;
  for (int r = 0; r < g->l->replicas; r++) {
    if (at + g->piece_count[r] <= total)
      memcpy(all + at, g->piece[r], g->piece_count[r] * sizeof *all);
    at += g->piece_count[r];
  }
  pthread_barrier_wait(&g->barrier);
  if (at != total)
    return descent_set_error(DESCENT_EINVAL, "pieces of %zu numbers, %zu expected", at, total);
  return DESCENT_OK;
}

static void *save_thread(void *arg) {
  member *m = arg;
  m->rc = descent_optimizer_save_state(m->opt, m->blob, m->size);
  return NULL;
}

/* Every replica saves at once, each on its thread; each blob must equal
   `whole` byte for byte. */
static void check_saved_blobs(member *members, group *g, const unsigned char *whole, size_t size,
                              const char *spec) {
  const layout *l = g->l;
  pthread_t threads[MAX_REPLICAS];
  pthread_barrier_init(&g->barrier, NULL, (unsigned)l->replicas);
  for (int r = 0; r < l->replicas; r++) {
    CHECK(descent_optimizer_state_size(members[r].opt) == size);
    members[r].blob = calloc(1, size);
    members[r].size = size;
    g->calls[r] = 0;
    pthread_create(&threads[r], NULL, save_thread, &members[r]);
  }
  for (int r = 0; r < l->replicas; r++) pthread_join(threads[r], NULL);
  pthread_barrier_destroy(&g->barrier);
  for (int r = 0; r < l->replicas; r++) {
    CHECK_MSG(members[r].rc == DESCENT_OK, "%s: save on replica %d: %s", spec, r,
              descent_last_error());
    CHECK_MSG(memcmp(members[r].blob, whole, size) == 0,
              "%s, %d replicas: the blob of replica %d differs from the unsharded one", spec,
              l->replicas, r);
    CHECK(g->calls[r] == g->calls[0]);
    free(members[r].blob);
    members[r].blob = NULL;
  }
}

/* ---- the run ------------------------------------------------------------- */

/* A gradient that depends on the parameters, the step and the coordinate. */
static void gradient(const descent_real *p, descent_real *g, size_t n, int step) {
  for (size_t i = 0; i < n; i++) {
    double noise = sin(0.37 * (double)(i + 1) + 1.3 * (double)step) * cos(0.05 * (double)i);
    g[i] = (descent_real)((0.1 + (double)(i % 7)) * ((double)p[i] - 0.25) + noise);
  }
}

/* Replica r's copy gets the others' shards from their owners. */
static void all_gather(const layout *l, descent_real **copies) {
  for (int r = 0; r < l->replicas; r++)
    for (int s = 0; s < l->replicas; s++)
      if (s != r)
        memcpy(copies[r] + l->offset[s], copies[s] + l->offset[s], l->count[s] * sizeof **copies);
}

/* Replicas of one sharded optimizer, each with its copy of the parameters. */
typedef struct replicas {
  layout l;
  group g;
  member members[MAX_REPLICAS];
  descent_optimizer *opt[MAX_REPLICAS];
  descent_real *params[MAX_REPLICAS];
} replicas;

static int replicas_create(replicas *rs, const char *spec, const char *lr, layout l,
                           const descent_real *start) {
  memset(rs, 0, sizeof *rs);
  rs->l = l;
  rs->g.l = &rs->l;
  for (int r = 0; r < l.replicas; r++) {
    rs->members[r] = (member){.g = &rs->g, .rank = r};
    rs->params[r] = malloc(l.n * sizeof *rs->params[r]);
    if (!rs->params[r]) return -1;
    memcpy(rs->params[r], start, l.n * sizeof *start);
    int rc = descent_optimizer_create(&rs->opt[r], spec, lr, l.n);
    if (!rc)
      rc = descent_optimizer_set_shard(rs->opt[r], l.offset[r], l.count[r], barrier_gather,
                                       &rs->members[r]);
    CHECK_MSG(rc == DESCENT_OK, "%s: replica %d: %s", spec, r, descent_last_error());
    if (rc) return rc;
    rs->members[r].opt = rs->opt[r];
  }
  return 0;
}

static void replicas_free(replicas *rs) {
  for (int r = 0; r < MAX_REPLICAS; r++) {
    descent_optimizer_free(rs->opt[r]);
    free(rs->params[r]);
  }
}

/* One step of every replica on the gradient `grad` of the gathered
   parameters, each given NaN outside its shard; nothing outside a shard may
   move; then the all-gather. */
static void replicas_step(replicas *rs, const descent_real *grad, descent_real *masked,
                          descent_real *before, const char *spec) {
  const layout *l = &rs->l;
  for (int r = 0; r < l->replicas; r++) {
    for (size_t i = 0; i < l->n; i++)
      masked[i] = i >= l->offset[r] && i < l->offset[r] + l->count[r] ? grad[i] : (descent_real)NAN;
    memcpy(before, rs->params[r], l->n * sizeof *before);
    CHECK_OK(descent_optimizer_step_buffers(rs->opt[r], rs->params[r], masked, l->n));
    size_t moved = check_count_differences(before, rs->params[r], l->offset[r]) +
                   check_count_differences(before + l->offset[r] + l->count[r],
                                           rs->params[r] + l->offset[r] + l->count[r],
                                           l->n - l->offset[r] - l->count[r]);
    CHECK_MSG(moved == 0, "%s: replica %d moved %zu parameters outside its shard", spec, r, moved);
  }
  all_gather(l, rs->params);
}

/* Schedule-free's eval and train on the replicas, each followed by the
   all-gather, against the unsharded optimizer's. */
static void check_points(replicas *rs, descent_optimizer *whole, descent_real *params,
                         const char *spec) {
  for (int to_eval = 1; to_eval >= 0; to_eval--) {
    if (to_eval)
      CHECK_OK(descent_optimizer_eval_buffers(whole, params, rs->l.n));
    else
      CHECK_OK(descent_optimizer_train_buffers(whole, params, rs->l.n));
    for (int r = 0; r < rs->l.replicas; r++) {
      if (to_eval)
        CHECK_OK(descent_optimizer_eval_buffers(rs->opt[r], rs->params[r], rs->l.n));
      else
        CHECK_OK(descent_optimizer_train_buffers(rs->opt[r], rs->params[r], rs->l.n));
    }
    all_gather(&rs->l, rs->params);
    size_t differ = check_count_differences(params, rs->params[0], rs->l.n);
    CHECK_MSG(differ == 0, "%s: %zu parameters differ at the %s point", spec, differ,
              to_eval ? "evaluation" : "training");
  }
}

/* The state of the shards against the whole's: together they hold what it
   holds, each about 1/N of it. */
static void check_state_bytes(replicas *rs, descent_optimizer *whole, const char *spec) {
  size_t total = 0, most = 0, bytes_whole = descent_optimizer_state_bytes(whole);
  for (int r = 0; r < rs->l.replicas; r++) {
    size_t bytes = descent_optimizer_state_bytes(rs->opt[r]);
    total += bytes;
    most = bytes > most ? bytes : most;
  }
  CHECK_MSG(total == bytes_whole, "%s: the shards hold %zu bytes, the whole %zu", spec, total,
            bytes_whole);
  /* Up to rounding: a shard holds at most two parameters' state (3 vectors
     at most here) above 1/N. */
  CHECK_MSG(most <= bytes_whole / (size_t)rs->l.replicas + 2 * 3 * sizeof(descent_real),
            "%s: a shard holds %zu bytes, 1/%d of %zu is %zu", spec, most, rs->l.replicas,
            bytes_whole, bytes_whole / (size_t)rs->l.replicas);
}

/* `spec` unsharded and on l's replicas for STEPS steps; the blob at SAVE_AT
   from the shards against the whole's, and resumed on `resume_replicas`
   shards. */
static void check_spec(const char *spec, const char *lr, layout l, int resume_replicas) {
  size_t n = l.n;
  descent_real *params = malloc(n * sizeof *params), *grad = malloc(n * sizeof *grad);
  descent_real *masked = malloc(n * sizeof *masked), *before = malloc(n * sizeof *before);
  descent_real *at_save = malloc(n * sizeof *at_save);
  descent_optimizer *whole = NULL;
  unsigned char *blob = NULL;
  size_t size = 0;
  replicas rs, resumed;
  memset(&resumed, 0, sizeof resumed);
  check_init_params(params, n);
  int rc = replicas_create(&rs, spec, lr, l, params);
  CHECK_OK(descent_optimizer_create(&whole, spec, lr, n));
  if (rc || !whole || !params || !grad || !masked || !before || !at_save) goto done;
  /* Schedule-free and asgd evaluate at another point than the training one. */
  int is_sf = strstr(spec, "sf") != NULL || strstr(spec, "asgd") != NULL;
  for (int step = 0; step < STEPS; step++) {
    if (step == SAVE_AT) {
      size = descent_optimizer_state_size(whole);
      blob = malloc(size);
      CHECK_OK(descent_optimizer_save_state(whole, blob, size));
      check_saved_blobs(rs.members, &rs.g, blob, size, spec);
      /* The round trip through the evaluation point rounds the
         parameters (not the state): resume from where it left them. */
      if (is_sf) check_points(&rs, whole, params, spec);
      memcpy(at_save, params, n * sizeof *params);
    }
    gradient(params, grad, n, step);
    CHECK_OK(descent_optimizer_step_buffers(whole, params, grad, n));
    replicas_step(&rs, grad, masked, before, spec);
    size_t differ = check_count_differences(params, rs.params[0], n);
    CHECK_MSG(differ == 0, "%s, %d replicas: %zu of %zu parameters differ after step %d", spec,
              l.replicas, differ, n, step + 1);
    if (differ) break;
  }
  check_state_bytes(&rs, whole, spec);

  /* The whole blob resumed on another number of shards. */
  layout other = make_layout(n, resume_replicas);
  if (blob && !replicas_create(&resumed, spec, lr, other, at_save)) {
    for (int r = 0; r < other.replicas; r++)
      CHECK_OK(descent_optimizer_load_state(resumed.opt[r], blob, size));
    for (int step = SAVE_AT; step < STEPS; step++) {
      gradient(resumed.params[0], grad, n, step);
      replicas_step(&resumed, grad, masked, before, spec);
    }
    size_t differ = check_count_differences(params, resumed.params[0], n);
    CHECK_MSG(differ == 0, "%s: resumed from %d on %d replicas, %zu parameters differ", spec,
              l.replicas, other.replicas, differ);
  }
done:
  replicas_free(&rs);
  replicas_free(&resumed);
  descent_optimizer_free(whole);
  free(params), free(grad), free(masked), free(before), free(at_save), free(blob);
}

/* A registered transform with a state vector started from the parameters:
   s <- 0.9 s + 0.1 u, s_0 = theta; u <- u + 0.01 s. */
static void drift_init(const double *hp, const descent_real *params, descent_real *const *state,
                       size_t n) {
  memcpy(state[0], params, n * sizeof *params);
}

static void drift_update(const double *hp, const double *scalars, descent_real *const *state,
                         descent_real *u, const descent_real *params, size_t n, int64_t step) {
  for (size_t i = 0; i < n; i++) {
    state[0][i] = (descent_real)0.9 * state[0][i] + (descent_real)0.1 * u[i];
    u[i] = u[i] + (descent_real)0.01 * state[0][i];
  }
}

static const descent_transform_def drift = {
    .name = "shard_drift",
    .summary = "a test transform with a state vector started from the parameters",
    .n_state = 1,
    .init_state = drift_init,
    .update = drift_update,
};

/* A registered global transform: its reduction needs the whole update. */
static double sum_reduce(const double *hp, const descent_real *u, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += (double)u[i];
  return sum;
}

static void sum_finish(const double *hp, double *scalars, double total) {
  scalars[0] = total;
}

static void identity_update(const double *hp, const double *scalars, descent_real *const *state,
                            descent_real *u, const descent_real *params, size_t n, int64_t step) {}

static const descent_transform_def global_sum = {
    .name = "shard_global_sum",
    .summary = "a test transform that sums the whole update",
    .n_scalars = 1,
    .global = 1,
    .reduce = sum_reduce,
    .finish = sum_finish,
    .update = identity_update,
};

/* Every named chain optimizer, and chains with weight decay, a schedule,
   Adagrad's starting value, centered RMSprop with momentum, clip_value and
   a registered transform. */
static const struct {
  const char *spec, *lr;
} specs[] = {
    {"sgd", "0.05"},
    {"momentum", "0.05"},
    {"nesterov", "0.05"},
    {"adagrad", "0.05"},
    {"rmsprop", "0.01"},
    {"adam", "0.01"},
    {"adamw", "0.01"},
    {"amsgrad", "0.01"},
    {"lion", "0.001"},
    {"sf_sgd", "0.05"},
    {"sf_adamw", "0.01"},
    {"adadelta", "1.0"},
    {"rprop", "0.01"},
    {"asgd(t0=2, weight_decay=1e-3)", "0.05"},
    {"adabelief(nesterov=1)", "0.01"},
    {"yogi", "0.01"},
    {"ademamix(alpha_warmup=3, b3_warmup=2, weight_decay=0.01)", "0.01"},
    {"nadam(weight_decay=1e-2, decoupled_weight_decay=1)", "0.01"},
    {"radam", "0.01"},
    {"adamax", "0.01"},
    {"l2(weight_decay=1e-3) | momentum(momentum=0.9) | wd(weight_decay=0.01) | lr(cosine(0.05, 20, "
     "warmup=3))",
     NULL},
    {"adagrad(initial_accumulator_value=0.1, lr_decay=0.01)", "0.05"},
    {"rmsprop(centered=1, momentum=0.9, weight_decay=1e-3)", "0.01"},
    {"clip_value(0.5) | adam | wd(weight_decay=0.01)", "0.01"},
    {"shard_drift | momentum(momentum=0.9)", "0.05"},
};

static void check_every_spec(void) {
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    check_spec(specs[i].spec, specs[i].lr, make_layout(1001, 2), 3);
    check_spec(specs[i].spec, specs[i].lr, make_layout(1001, 3), 2);
  }
  /* Several blocks of the step (2048) and threads' slices of them. */
  check_spec("adam", "0.01", make_layout(5003, 3), 4);
  check_spec("sf_adamw", "0.01", make_layout(5003, 4), 1);
  /* Shards of more than 128 blocks: the step splits them over the threads
     (at the caller's OpenMP setting), as it does the whole. */
  check_spec("adamw", "0.01", make_layout(2 * 128 * 2048 + 1001, 2), 1);
}

/* ---- refusals ------------------------------------------------------------ */

static int null_gather(void *user, const descent_real *mine, size_t count, descent_real *all,
                       size_t total) {
  (*(int *)user)++;
  memset(all, 0, total * sizeof *all);
  memcpy(all, mine, count * sizeof *all);
  return DESCENT_OK;
}

static int failing_gather(void *user, const descent_real *mine, size_t count, descent_real *all,
                          size_t total) {
  return descent_set_error(DESCENT_EIO, "the link to replica 1 is down");
}

static void check_refusals(void) {
  size_t n = 101;
  int calls = 0;
  descent_optimizer *opt = NULL;
  descent_real params[101], grad[101];
  check_init_params(params, n);
  gradient(params, grad, n, 0);

  CHECK_OK(descent_optimizer_create(&opt, "clip(1) | adam | lr(0.01)", NULL, n));
  size_t bytes = descent_optimizer_state_bytes(opt);
  CHECK_FAILS(descent_optimizer_set_shard(opt, 0, 50, null_gather, &calls), DESCENT_EINVAL,
              "transform clip needs the whole gradient");
  CHECK(descent_optimizer_state_bytes(opt) == bytes);
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "adam | clip(1) | lr(0.01)", NULL, n));
  /* m and v, the work buffer between the stages, a partial sum per block
     of 2048 and one more. */
  CHECK(descent_optimizer_state_bytes(opt) == 3 * n * sizeof(descent_real) + 2 * sizeof(double));
  CHECK_FAILS(descent_optimizer_set_shard(opt, 0, 50, null_gather, &calls), DESCENT_EINVAL,
              "transform clip needs the whole gradient");
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "prodigy", NULL, n));
  /* m, v, s and x0 (no work buffer: prodigy comes first), two partial sums
     per block of 2048 and two more. */
  CHECK(descent_optimizer_state_bytes(opt) == 4 * n * sizeof(descent_real) + 4 * sizeof(double));
  CHECK_FAILS(descent_optimizer_set_shard(opt, 0, 50, null_gather, &calls), DESCENT_EINVAL,
              "transform prodigy needs the whole gradient");
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "shard_global_sum | lr(0.1)", NULL, n));
  CHECK_FAILS(descent_optimizer_set_shard(opt, 0, 50, null_gather, &calls), DESCENT_EINVAL,
              "transform shard_global_sum needs the whole gradient");
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "lbfgs", NULL, n));
  CHECK_FAILS(descent_optimizer_set_shard(opt, 0, 50, null_gather, &calls), DESCENT_EINVAL,
              "lbfgs is a method");
  CHECK(descent_optimizer_state_bytes(opt) > 0 &&
        descent_optimizer_state_bytes(opt) < descent_optimizer_state_size(opt));
  descent_optimizer_free(opt);

  CHECK_OK(descent_optimizer_create(&opt, "adam", "0.01", n));
  bytes = descent_optimizer_state_bytes(opt);
  CHECK(bytes == 2 * n * sizeof(descent_real));
  CHECK_FAILS(descent_optimizer_set_shard(opt, 0, 0, null_gather, &calls), DESCENT_EINVAL,
              "need count >= 1 and offset + count <= 101");
  CHECK_FAILS(descent_optimizer_set_shard(opt, 60, 42, null_gather, &calls), DESCENT_EINVAL,
              "shard of 42 parameters at offset 60 is not inside the optimizer's 101");
  CHECK_FAILS(descent_optimizer_set_shard(opt, 102, 1, null_gather, &calls), DESCENT_EINVAL,
              "not inside");
  CHECK_FAILS(descent_optimizer_set_shard(opt, 1, SIZE_MAX, null_gather, &calls), DESCENT_EINVAL,
              "not inside");
  CHECK_FAILS(descent_optimizer_set_shard(opt, 0, 50, NULL, NULL), DESCENT_EINVAL,
              "the gather function is NULL");
  CHECK(descent_optimizer_state_bytes(opt) == bytes);
  /* Moved before the first step: the last shard holds. */
  CHECK_OK(descent_optimizer_set_shard(opt, 0, 50, null_gather, &calls));
  CHECK_OK(descent_optimizer_set_shard(opt, 7, 40, null_gather, &calls));
  CHECK(descent_optimizer_state_bytes(opt) == 2 * 40 * sizeof(descent_real));

  /* Stability: the limit, but not the preconditioner of a shard. */
  descent_stability st;
  descent_real precond[101];
  CHECK_OK(descent_optimizer_step_buffers(opt, params, grad, n));
  CHECK_OK(descent_optimizer_stability(opt, NULL, n, &st));
  CHECK(isfinite(st.limit) && st.preconditioned);
  CHECK_FAILS(descent_optimizer_stability(opt, precond, n, &st), DESCENT_EINVAL,
              "holds the state of parameters 7 to 47 only");

  CHECK_FAILS(descent_optimizer_set_shard(opt, 0, 50, null_gather, &calls), DESCENT_EINVAL,
              "has taken 1 steps; shard it before its first step");

  /* Saving: a small buffer fails before any gather; a gather that fails or
     puts the piece elsewhere fails the save. */
  size_t size = descent_optimizer_state_size(opt);
  unsigned char *blob = malloc(size);
  calls = 0;
  CHECK_FAILS(descent_optimizer_save_state(opt, blob, size - 1), DESCENT_ERANGE, "needed");
  CHECK(calls == 0);
  CHECK_FAILS(descent_optimizer_save_state(opt, blob, size), DESCENT_EINVAL,
              "put this replica's shard (parameters 7 to 47) elsewhere");
  CHECK(calls == 1);
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "adam", "0.01", n));
  CHECK_OK(descent_optimizer_set_shard(opt, 0, 40, failing_gather, NULL));
  CHECK_FAILS(descent_optimizer_save_state(opt, blob, size), DESCENT_EIO,
              "gathering the shards: the link to replica 1 is down");

  /* Plain sgd holds no state: a sharded save gathers nothing. */
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "sgd", "0.1", n));
  CHECK_OK(descent_optimizer_set_shard(opt, 3, 40, null_gather, &calls));
  CHECK(descent_optimizer_state_bytes(opt) == 0);
  calls = 0;
  size = descent_optimizer_state_size(opt);
  unsigned char *sgd_blob = malloc(size);
  CHECK_OK(descent_optimizer_save_state(opt, sgd_blob, size));
  CHECK(calls == 0);
  free(sgd_blob);

  /* Loaded with steps, the optimizer can no longer be sharded. */
  descent_optimizer *stepped = NULL;
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&stepped, "adam", "0.01", n));
  CHECK_OK(descent_optimizer_step_buffers(stepped, params, grad, n));
  size = descent_optimizer_state_size(stepped);
  CHECK_OK(descent_optimizer_save_state(stepped, blob, size));
  CHECK_OK(descent_optimizer_create(&opt, "adam", "0.01", n));
  CHECK_OK(descent_optimizer_load_state(opt, blob, size));
  CHECK_FAILS(descent_optimizer_set_shard(opt, 0, 50, null_gather, &calls), DESCENT_EINVAL,
              "set the shard and then load the state");
  descent_optimizer_free(opt);
  descent_optimizer_free(stepped);
  free(blob);
}

int main(void) {
  CHECK_OK(descent_transform_register(&drift));
  CHECK_OK(descent_transform_register(&global_sum));
  check_every_spec();
  check_refusals();
  return check_report();
}
