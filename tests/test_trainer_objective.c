/*
 * test_trainer_objective.c - the trainer over objectives that are not
 * networks, and its gradient hook:
 *  - a user's logistic regression with state of its own (an RNG that masks
 *    features, saved through the objective's hooks) and a user section (the
 *    gradient hook's call count): killed at a step and resumed from its
 *    checkpoint folder, the run ends with the same bits as one never stopped;
 *  - lbfgs (a method: several evaluations per step) on the same objective,
 *    on minibatches and full batch: the same, with the hook once per step;
 *  - an objective without data (train NULL) whose batches come from the
 *    caller's next_batch, its RNG saved in a user section: the same;
 *  - the guard stops a user's objective at a large rate, and the rollback
 *    policy recovers it;
 *  - the gradient hook is called once per step (full batch: once, on the
 *    summed gradient) with the step's gradient; scaling that gradient by 0.5
 *    equals halving SGD's rate bit for bit; its error stops the run and its
 *    positive value ends it cleanly;
 *  - checkpoints fit their objective: kind, parameter count, steps per epoch
 *    and data are checked; hooks cannot take the trainer's tags; a refusing
 *    load_sections leaves the trainer as it was;
 *  - a network's checkpoint is still a model file, and one without the OBJ
 *    section (written before it existed) still loads.
 */
#include "check.h"
#include "descent.h"
#include "test_files.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FEATURES 5
#define EXAMPLES 90
#define BATCH    16

static char tmp[1024];

/* ---- a user's logistic regression with state of its own -------------------- */

typedef struct logreg {
  descent_objective obj;
  descent_real theta[FEATURES + 1], grad[FEATURES + 1];
  descent_rng rng; /* masks features at each evaluation when drop > 0 */
  double drop;
} logreg;

/* Mean of log(1 + exp(-s z)), s = +-1, z = w.x + b, on the batch; every
   feature j masked (0) with probability drop. */
static int logreg_value_and_grad(descent_objective *obj, const descent_batch *b, double *loss) {
  logreg *m = obj->impl;
  if (!b) return DESCENT_EINVAL;
  double g[FEATURES + 1] = {0}, sum = 0, keep[FEATURES];
  for (int j = 0; j < FEATURES; j++)
    keep[j] = m->drop > 0 && descent_rng_uniform(&m->rng) < m->drop ? 0 : 1;
  for (size_t i = 0; i < b->n; i++) {
    const descent_real *x = b->x + i * FEATURES;
    double z = m->theta[FEATURES], s = b->labels[i] ? 1 : -1;
    for (int j = 0; j < FEATURES; j++) z += keep[j] * m->theta[j] * x[j];
    sum += log1p(exp(-s * z));
    double d = -s / (1 + exp(s * z)) / (double)b->n;
    for (int j = 0; j < FEATURES; j++) g[j] += d * keep[j] * x[j];
    g[FEATURES] += d;
  }
  for (int j = 0; j <= FEATURES; j++) m->grad[j] = (descent_real)g[j];
  *loss = sum / (double)b->n;
  return DESCENT_OK;
}

static void put_rng(unsigned char out[32], const descent_rng *rng) {
  for (int i = 0; i < 32; i++) out[i] = (unsigned char)(rng->s[i / 8] >> (8 * (i % 8)));
}

static void get_rng(descent_rng *rng, const unsigned char in[32]) {
  memset(rng, 0, sizeof *rng);
  for (int i = 0; i < 32; i++) rng->s[i / 8] |= (uint64_t)in[i] << (8 * (i % 8));
}

static int logreg_save(const descent_objective *obj, descent_section_writer *w) {
  const logreg *m = obj->impl;
  unsigned char b[32];
  put_rng(b, &m->rng);
  return descent_section_put(w, "LRNG", b, 32);
}

static int logreg_check(const descent_objective *obj, const descent_section_reader *r) {
  (void)obj;
  const void *payload;
  size_t len;
  int rc = descent_section_get(r, "LRNG", &payload, &len);
  if (rc) return rc;
  return len == 32 ? DESCENT_OK : DESCENT_EFORMAT;
}

static int logreg_load(descent_objective *obj, const descent_section_reader *r) {
  logreg *m = obj->impl;
  const void *payload;
  size_t len;
  int rc = descent_section_get(r, "LRNG", &payload, &len);
  if (!rc) get_rng(&m->rng, payload);
  return rc;
}

static const descent_objective_ops logreg_ops = {.kind = "test-logreg",
                                                 .value_and_grad = logreg_value_and_grad,
                                                 .max_batch = NULL,
                                                 .save_state = logreg_save,
                                                 .check_state = logreg_check,
                                                 .load_state = logreg_load};

static void logreg_init(logreg *m, double drop) {
  memset(m, 0, sizeof *m);
  m->obj = (descent_objective){
      .ops = &logreg_ops, .n_params = FEATURES + 1, .params = m->theta, .grad = m->grad, .impl = m};
  for (int j = 0; j <= FEATURES; j++) m->theta[j] = (descent_real)(0.1 * (j - 2));
  descent_rng_seed(&m->rng, 77);
  m->drop = drop;
}

/* A separable-ish data set: label 1 when a fixed direction's product is
   positive, with noise. */
static descent_dataset train_set;

static void make_data(void) {
  train_set.n = EXAMPLES;
  train_set.shape = (descent_shape){1, {FEATURES}};
  train_set.features = FEATURES;
  train_set.classes = 2;
  train_set.x = malloc(EXAMPLES * FEATURES * sizeof *train_set.x);
  train_set.labels = malloc(EXAMPLES * sizeof *train_set.labels);
  descent_rng rng;
  descent_rng_seed(&rng, 5);
  for (size_t i = 0; i < EXAMPLES; i++) {
    double z = 0;
    for (int j = 0; j < FEATURES; j++) {
      double v = descent_rng_normal(&rng);
      train_set.x[i * FEATURES + j] = (descent_real)v;
      z += v * (j + 1) * (j % 2 ? -1 : 1);
    }
    train_set.labels[i] = z + 0.5 * descent_rng_normal(&rng) > 0;
  }
}

/* ---- a run with a gradient hook and a user section ------------------------- */

typedef struct run {
  logreg model;
  descent_optimizer *opt;
  descent_trainer *t;
  int64_t hook_calls; /* saved in the user section "HOOK" */
  double scale;       /* the hook multiplies the gradient by this (1: untouched) */
  int64_t fail_at;    /* the hook fails (negative) at this call; 0: never */
  int64_t end_at;     /* the hook ends the run (positive) at this call; 0: never */
  int null_batches;   /* calls that got batch NULL */
  int refuse_load;    /* load_sections refuses the file */
} run;

static int hook(void *user, descent_objective *obj, const descent_batch *batch, double *loss) {
  run *x = user;
  (void)loss;
  x->hook_calls++;
  if (!batch) x->null_batches++;
  if (x->fail_at && x->hook_calls == x->fail_at) return DESCENT_EINVAL;
  if (x->end_at && x->hook_calls == x->end_at) return 1;
  if (x->scale != 1)
    for (size_t i = 0; i < obj->n_params; i++) obj->grad[i] *= (descent_real)x->scale;
  return DESCENT_OK;
}

static int save_hook_count(void *user, descent_section_writer *w) {
  const run *x = user;
  unsigned char b[8];
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)x->hook_calls >> (8 * i));
  return descent_section_put(w, "HOOK", b, 8);
}

static int load_hook_count(void *user, const descent_section_reader *r) {
  run *x = user;
  const void *payload;
  size_t len;
  int rc = descent_section_get(r, "HOOK", &payload, &len);
  if (rc) return rc;
  if (len != 8 || x->refuse_load) return DESCENT_EFORMAT;
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)((const unsigned char *)payload)[i] << (8 * i);
  x->hook_calls = (int64_t)v;
  return DESCENT_OK;
}

static int start(run *x, const char *opt, const char *lr, const char *dir, double drop) {
  memset(x, 0, sizeof *x);
  x->scale = 1;
  logreg_init(&x->model, drop);
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = BATCH;
  o.seed = 3;
  o.checkpoint_dir = dir;
  o.checkpoint_every = dir ? 4 : 0;
  o.checkpoint_epochs = dir != NULL;
  o.on_gradient = hook;
  o.save_sections = save_hook_count;
  o.load_sections = load_hook_count;
  o.user = x;
  int rc = descent_optimizer_create(&x->opt, opt, lr, x->model.obj.n_params);
  if (!rc) rc = descent_trainer_create(&x->t, &x->model.obj, x->opt, &train_set, &o);
  return rc;
}

static void finish(run *x) {
  descent_trainer_free(x->t);
  descent_optimizer_free(x->opt);
  x->t = NULL;
  x->opt = NULL;
}

static int same_params(const descent_real *a, const descent_real *b, size_t n) {
  return memcmp(a, b, n * sizeof *a) == 0;
}

static void folder(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", tmp, name);
  empty_folder(out);
}

/* Killed at step 11 (the state of step 8 on disk), resumed: the same bits as
   the run that never stopped, its own RNG and the hook's count included. */
static void test_user_resume(void) {
  char da[1100], db[1100], found[1200];
  folder(da, sizeof da, "resume-a");
  folder(db, sizeof db, "resume-b");
  run a, b, c;
  CHECK_OK(start(&a, "adam", "0.05", da, 0.3));
  CHECK_OK(descent_trainer_run(a.t, 3, 0));
  CHECK_OK(start(&b, "adam", "0.05", db, 0.3));
  CHECK_OK(descent_trainer_run(b.t, 3, 11));
  finish(&b);
  CHECK_OK(descent_checkpoint_find(db, found, sizeof found, NULL, 0));
  CHECK_MSG(strstr(found, "ckpt-8.dsc") != NULL, "newest checkpoint %s", found);
  descent_checkpoint_info info;
  CHECK_OK(descent_checkpoint_inspect(found, &info));
  CHECK(info.kind && strcmp(info.kind, "test-logreg") == 0 && info.n_params == FEATURES + 1 &&
        info.has_data == 1 && info.step == 8 && info.spec && info.spec[0] == '\0');
  descent_checkpoint_info_free(&info);
  /* A copy outside the folder, for the refusals below: the resumed run
     prunes the folder. */
  char kept[1200];
  snprintf(kept, sizeof kept, "%s/resumed-from.dsc", tmp);
  size_t kept_len;
  unsigned char *kept_bytes = slurp(found, &kept_len);
  spit(kept, kept_bytes, kept_len);
  free(kept_bytes);
  CHECK_OK(start(&c, "adam", "0.05", db, 0.3));
  CHECK_OK(descent_trainer_load(c.t, found));
  CHECK(c.hook_calls == 8 && descent_trainer_steps(c.t) == 8);
  CHECK_OK(descent_trainer_run(c.t, 3, 0));
  CHECK(descent_trainer_steps(c.t) == descent_trainer_steps(a.t) &&
        descent_trainer_epochs(c.t) == 3);
  CHECK_MSG(same_params(a.model.theta, c.model.theta, FEATURES + 1),
            "resumed parameters differ from the uninterrupted run's");
  CHECK(memcmp(&a.model.rng, &c.model.rng, sizeof a.model.rng) == 0);
  CHECK(a.hook_calls == c.hook_calls && a.hook_calls == descent_trainer_steps(a.t));
  size_t na, nc;
  const double *la, *lc;
  descent_trainer_history(a.t, &na, &la, NULL);
  descent_trainer_history(c.t, &nc, &lc, NULL);
  CHECK(na == nc && memcmp(la, lc, na * sizeof *la) == 0);
  /* The files at the same step hold the same bytes, but for the run id. */
  char pa[1200], pc[1200];
  snprintf(pa, sizeof pa, "%s/ckpt-%lld.dsc", da, (long long)descent_trainer_steps(a.t));
  snprintf(pc, sizeof pc, "%s/ckpt-%lld.dsc", db, (long long)descent_trainer_steps(c.t));
  size_t la_len, lc_len;
  unsigned char *fa = slurp(pa, &la_len), *fc = slurp(pc, &lc_len);
  CHECK_MSG(fa && fc && la_len == lc_len && la_len > 0 && memcmp(fa, fc, la_len) == 0,
            "the last checkpoints differ (%zu and %zu bytes)", la_len, lc_len);
  free(fa);
  free(fc);

  /* Fit: a user's load_sections that refuses leaves the trainer as it was. */
  run d;
  CHECK_OK(start(&d, "adam", "0.05", NULL, 0.3));
  CHECK_OK(descent_trainer_run(d.t, 100, 2));
  descent_real before[FEATURES + 1];
  memcpy(before, d.model.theta, sizeof before);
  d.refuse_load = 1;
  CHECK_FAILS(descent_trainer_load(d.t, kept), DESCENT_EFORMAT, "load_sections");
  CHECK(descent_trainer_steps(d.t) == 2 && d.hook_calls == 2 &&
        same_params(before, d.model.theta, FEATURES + 1));
  d.refuse_load = 0;
  CHECK_OK(descent_trainer_run(d.t, 100, 3)); /* the optimizer's state is intact */
  finish(&d);

  /* Not a network's: descent_net_load says what it is. */
  descent_net *net = NULL;
  CHECK_FAILS(descent_net_load(&net, NULL, kept, 8), DESCENT_EFORMAT,
              "objective of kind 'test-logreg', not of a network");
  CHECK(net == NULL);

  /* Another optimizer chain, another objective kind: refused by name. */
  CHECK_OK(start(&d, "sgd", "0.05", NULL, 0.3));
  CHECK_FAILS(descent_trainer_load(d.t, kept), DESCENT_EINVAL, "another optimizer");
  finish(&d);
  finish(&a);
  finish(&c);
}

/* lbfgs through the trainer, killed and resumed: its history, direction and
   counters travel in the checkpoint, so the resumed run ends with the same
   bits. The gradient hook sees each step's first evaluation only (the
   method's further ones are its own), once per step. Minibatch: each step's
   iterations on one minibatch; full batch: on the whole set, in chunks. */
static void lbfgs_resume_case(const char *spec, const char *name, int64_t epochs, int64_t stop) {
  char da[1100], db[1100], found[1200], label[64];
  snprintf(label, sizeof label, "%s-a", name);
  folder(da, sizeof da, label);
  snprintf(label, sizeof label, "%s-b", name);
  folder(db, sizeof db, label);
  run a, b, c;
  CHECK_OK(start(&a, spec, NULL, da, 0));
  CHECK_OK(descent_trainer_run(a.t, epochs, 0));
  CHECK_OK(start(&b, spec, NULL, db, 0));
  CHECK_OK(descent_trainer_run(b.t, epochs, stop));
  finish(&b);
  CHECK_OK(descent_checkpoint_find(db, found, sizeof found, NULL, 0));
  CHECK_OK(start(&c, spec, NULL, db, 0));
  CHECK_OK(descent_trainer_load(c.t, found));
  int64_t resumed_at = descent_trainer_steps(c.t);
  CHECK_MSG(resumed_at > 0 && resumed_at < stop, "%s: resumed at step %lld", name,
            (long long)resumed_at);
  CHECK_OK(descent_trainer_run(c.t, epochs, 0));
  CHECK_MSG(descent_trainer_steps(c.t) == descent_trainer_steps(a.t) &&
                same_params(a.model.theta, c.model.theta, FEATURES + 1),
            "%s: the resumed run differs from the uninterrupted one", name);
  CHECK(a.hook_calls == descent_trainer_steps(a.t) && c.hook_calls == a.hook_calls);
  /* Several evaluations per step, counted across the kill. */
  CHECK_MSG(descent_optimizer_evaluations(c.opt) == descent_optimizer_evaluations(a.opt) &&
                descent_optimizer_evaluations(a.opt) > descent_trainer_steps(a.t),
            "%s: %lld and %lld evaluations in %lld steps", name,
            (long long)descent_optimizer_evaluations(a.opt),
            (long long)descent_optimizer_evaluations(c.opt), (long long)descent_trainer_steps(a.t));
  size_t na, nc;
  const double *la, *lc;
  descent_trainer_history(a.t, &na, &la, NULL);
  descent_trainer_history(c.t, &nc, &lc, NULL);
  CHECK(na == nc && na > 0 && memcmp(la, lc, na * sizeof *la) == 0);
  /* It trains: the last step's loss is below the first's. */
  CHECK_MSG(na > 1 && la[na - 1] < la[0], "%s: loss %g -> %g", name, la[0], la[na - 1]);
  finish(&a);
  finish(&c);
}

static void test_lbfgs_resume(void) {
  lbfgs_resume_case("lbfgs(max_iter=4, history=3, line_search=strong_wolfe)", "lbfgs-wolfe", 2, 9);
  lbfgs_resume_case("lbfgs(max_iter=3, history=2, lr=0.5)", "lbfgs-fixed", 2, 7);
  lbfgs_resume_case("lbfgs(full_batch=1, max_iter=5, line_search=strong_wolfe)", "lbfgs-full", 12,
                    10);
}

/* ---- an objective without data ---------------------------------------------- */

#define TERMS 12

/* f(theta) = mean over the batch's terms i of 1/2 c_i (theta_{i%3} - i/4)^2. */
typedef struct sum_objective {
  descent_objective obj;
  descent_real theta[3], grad[3];
  double curvature;
} sum_objective;

static int sum_value_and_grad(descent_objective *obj, const descent_batch *b, double *loss) {
  sum_objective *m = obj->impl;
  double g[3] = {0}, f = 0;
  size_t n = b ? b->n : TERMS;
  for (size_t k = 0; k < n; k++) {
    size_t i = b ? b->indices[k] : k;
    double c = m->curvature * (1 + (double)(i % 4) / 4), d = m->theta[i % 3] - (double)i / 4;
    f += 0.5 * c * d * d / (double)n;
    g[i % 3] += c * d / (double)n;
  }
  for (int j = 0; j < 3; j++) m->grad[j] = (descent_real)g[j];
  *loss = f;
  return DESCENT_OK;
}

static const descent_objective_ops sum_ops = {.kind = "test-sum",
                                              .value_and_grad = sum_value_and_grad};

typedef struct drawer {
  descent_rng rng;
  size_t indices[3];
} drawer;

static int draw(void *user, descent_batch *b) {
  drawer *d = user;
  for (int k = 0; k < 3; k++) d->indices[k] = (size_t)descent_rng_below(&d->rng, TERMS);
  *b = (descent_batch){.n = 3, .indices = d->indices};
  return DESCENT_OK;
}

static int save_drawer(void *user, descent_section_writer *w) {
  unsigned char b[32];
  put_rng(b, &((drawer *)user)->rng);
  return descent_section_put(w, "DRAW", b, 32);
}

static int load_drawer(void *user, const descent_section_reader *r) {
  const void *payload;
  size_t len;
  int rc = descent_section_get(r, "DRAW", &payload, &len);
  if (rc) return rc;
  if (len != 32) return DESCENT_EFORMAT;
  get_rng(&((drawer *)user)->rng, payload);
  return DESCENT_OK;
}

typedef struct sum_run {
  sum_objective m;
  drawer d;
  descent_optimizer *opt;
  descent_trainer *t;
} sum_run;

static int sum_start(sum_run *x, const char *opt, const char *lr, const char *dir, int batches,
                     int64_t steps_per_epoch, descent_diverge_policy policy) {
  memset(x, 0, sizeof *x);
  x->m.obj = (descent_objective){
      .ops = &sum_ops, .n_params = 3, .params = x->m.theta, .grad = x->m.grad, .impl = &x->m};
  x->m.curvature = 1;
  for (int j = 0; j < 3; j++) x->m.theta[j] = (descent_real)(2 - j);
  descent_rng_seed(&x->d.rng, 9);
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.steps_per_epoch = steps_per_epoch;
  o.checkpoint_dir = dir;
  o.checkpoint_every = dir ? 3 : 0;
  o.on_diverge = policy;
  if (batches) {
    o.next_batch = draw;
    o.save_sections = save_drawer;
    o.load_sections = load_drawer;
  }
  o.user = &x->d;
  int rc = descent_optimizer_create(&x->opt, opt, lr, 3);
  if (!rc) rc = descent_trainer_create(&x->t, &x->m.obj, x->opt, NULL, &o);
  return rc;
}

static void sum_finish(sum_run *x) {
  descent_trainer_free(x->t);
  descent_optimizer_free(x->opt);
}

static void test_without_data(void) {
  char da[1100], db[1100], found[1200];
  folder(da, sizeof da, "nodata-a");
  folder(db, sizeof db, "nodata-b");
  sum_run a, b, c;
  CHECK_OK(sum_start(&a, "momentum", "0.1", da, 1, 7, DESCENT_DIVERGE_STOP));
  CHECK_OK(descent_trainer_run(a.t, 4, 0));
  CHECK(descent_trainer_steps(a.t) == 28 && descent_trainer_epochs(a.t) == 4);
  CHECK_OK(sum_start(&b, "momentum", "0.1", db, 1, 7, DESCENT_DIVERGE_STOP));
  CHECK_OK(descent_trainer_run(b.t, 4, 11));
  sum_finish(&b);
  CHECK_OK(descent_checkpoint_find(db, found, sizeof found, NULL, 0));
  descent_checkpoint_info info;
  CHECK_OK(descent_checkpoint_inspect(found, &info));
  CHECK_MSG(strcmp(info.kind, "test-sum") == 0 && info.has_data == 0 && info.batches == 7 &&
                info.step == 9,
            "kind %s, data %d, batches %zu, step %lld", info.kind, info.has_data, info.batches,
            (long long)info.step);
  descent_checkpoint_info_free(&info);
  char kept[1200];
  snprintf(kept, sizeof kept, "%s/nodata-from.dsc", tmp);
  size_t kept_len;
  unsigned char *kept_bytes = slurp(found, &kept_len);
  spit(kept, kept_bytes, kept_len);
  free(kept_bytes);
  CHECK_OK(sum_start(&c, "momentum", "0.1", db, 1, 7, DESCENT_DIVERGE_STOP));
  CHECK_OK(descent_trainer_load(c.t, found));
  CHECK_OK(descent_trainer_run(c.t, 4, 0));
  CHECK_MSG(same_params(a.m.theta, c.m.theta, 3) && memcmp(&a.d.rng, &c.d.rng, sizeof a.d.rng) == 0,
            "resumed run without data differs");
  sum_finish(&c);

  /* Steps per epoch and the data set are part of the fit. */
  CHECK_OK(sum_start(&c, "momentum", "0.1", NULL, 1, 8, DESCENT_DIVERGE_STOP));
  CHECK_FAILS(descent_trainer_load(c.t, kept), DESCENT_EINVAL, "7 steps per epoch");
  sum_finish(&c);
  run r;
  CHECK_OK(start(&r, "momentum", "0.1", NULL, 0));
  CHECK_FAILS(descent_trainer_load(r.t, kept), DESCENT_EINVAL, "kind 'test-sum'");
  finish(&r);

  /* Without next_batch every step is on the whole objective (batch NULL). */
  sum_finish(&a);
  CHECK_OK(sum_start(&a, "gd", "0.5", NULL, 0, 5, DESCENT_DIVERGE_STOP));
  CHECK_OK(descent_trainer_run(a.t, 2, 0));
  sum_objective ref = a.m;
  for (int j = 0; j < 3; j++) ref.theta[j] = (descent_real)(2 - j);
  ref.obj.params = ref.theta, ref.obj.grad = ref.grad, ref.obj.impl = &ref;
  for (int s = 0; s < 10; s++) {
    double f;
    sum_value_and_grad(&ref.obj, NULL, &f);
    for (int j = 0; j < 3; j++) ref.theta[j] -= (descent_real)0.5 * ref.grad[j];
  }
  CHECK_MSG(same_params(ref.theta, a.m.theta, 3), "whole-objective gd: %g %g %g vs %g %g %g",
            (double)a.m.theta[0], (double)a.m.theta[1], (double)a.m.theta[2], (double)ref.theta[0],
            (double)ref.theta[1], (double)ref.theta[2]);
  sum_finish(&a);
}

/* The guard on a user's objective: a rate far beyond 2 / curvature. */
static void test_guard(void) {
  sum_run a;
  CHECK_OK(sum_start(&a, "sgd", "30", NULL, 0, 50, DESCENT_DIVERGE_STOP));
  CHECK_FAILS(descent_trainer_run(a.t, 1, 0), DESCENT_EDIVERGED, "lower the learning rate");
  CHECK(strstr(descent_last_error(), "diverged at step") != NULL);
  const descent_divergence *d = descent_trainer_divergence(a.t);
  CHECK(d && d->step >= 2 && strcmp(d->reason, "loss") == 0);
  sum_finish(&a);
  /* Rollback: 300, then 30 (still beyond 2 / 0.458), then 3 converges. */
  CHECK_OK(sum_start(&a, "sgd", "300", NULL, 0, 50, DESCENT_DIVERGE_ROLLBACK));
  CHECK_OK(descent_trainer_run(a.t, 2, 0));
  d = descent_trainer_divergence(a.t);
  CHECK_MSG(d && d->rollbacks == 2 && d->restored_step == 0, "rollbacks %d, restored step %lld",
            d ? d->rollbacks : -1, d ? (long long)d->restored_step : -2);
  CHECK_CLOSE(descent_optimizer_lr(a.opt), 3, 1e-12);
  /* Terms 0, 3, 6, 9 (curvatures 1, 1.75, 1.5, 1.25): their weighted mean. */
  CHECK_CLOSE(a.m.theta[0], 6.375 / 5.5, 1e-5);
  sum_finish(&a);
}

/* ---- the gradient hook ------------------------------------------------------ */

typedef struct witness {
  logreg ref; /* the same model, evaluated again on the hook's batch */
  int64_t calls, mismatches;
} witness;

static int witness_hook(void *user, descent_objective *obj, const descent_batch *batch,
                        double *loss) {
  witness *w = user;
  w->calls++;
  memcpy(w->ref.theta, obj->params, sizeof w->ref.theta);
  double f;
  logreg_value_and_grad(&w->ref.obj, batch, &f);
  if (memcmp(w->ref.grad, obj->grad, sizeof w->ref.grad) != 0 || f != *loss) w->mismatches++;
  return DESCENT_OK;
}

static void test_gradient_hook(void) {
  /* Called once per step with the step's gradient and loss. */
  witness w;
  logreg m;
  logreg_init(&m, 0);
  logreg_init(&w.ref, 0);
  w.ref.obj.params = w.ref.theta, w.ref.obj.grad = w.ref.grad, w.ref.obj.impl = &w.ref;
  w.calls = w.mismatches = 0;
  descent_optimizer *opt;
  descent_trainer *t;
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = BATCH;
  o.on_gradient = witness_hook;
  o.user = &w;
  CHECK_OK(descent_optimizer_create(&opt, "nesterov", "0.1", FEATURES + 1));
  CHECK_OK(descent_trainer_create(&t, &m.obj, opt, &train_set, &o));
  CHECK_OK(descent_trainer_run(t, 2, 0));
  CHECK_MSG(w.calls == descent_trainer_steps(t) && w.calls == 12 && w.mismatches == 0,
            "%lld calls, %lld mismatches, %lld steps", (long long)w.calls, (long long)w.mismatches,
            (long long)descent_trainer_steps(t));
  descent_trainer_free(t);
  descent_optimizer_free(opt);

  /* Full batch: once per step, on the whole set's gradient (batch NULL). */
  run a, b;
  CHECK_OK(start(&a, "gd", "0.5", NULL, 0));
  CHECK_OK(descent_trainer_run(a.t, 3, 0));
  CHECK_MSG(a.hook_calls == 3 && a.null_batches == 3 && descent_trainer_steps(a.t) == 3,
            "%lld calls, %d without a batch", (long long)a.hook_calls, a.null_batches);
  finish(&a);

  /* Half the gradient is half the rate, bit for bit. */
  CHECK_OK(start(&a, "sgd", "0.2", NULL, 0));
  a.scale = 0.5;
  CHECK_OK(start(&b, "sgd", "0.1", NULL, 0));
  CHECK_OK(descent_trainer_run(a.t, 3, 0));
  CHECK_OK(descent_trainer_run(b.t, 3, 0));
  CHECK_MSG(same_params(a.model.theta, b.model.theta, FEATURES + 1),
            "scaled gradient: %.9g, halved rate: %.9g", (double)a.model.theta[0],
            (double)b.model.theta[0]);
  run plain;
  CHECK_OK(start(&plain, "sgd", "0.2", NULL, 0));
  CHECK_OK(descent_trainer_run(plain.t, 3, 0));
  CHECK(!same_params(a.model.theta, plain.model.theta, FEATURES + 1)); /* the change mattered */
  finish(&plain);
  finish(&a);
  finish(&b);

  /* Its error stops the run before that step; a positive value ends it. */
  CHECK_OK(start(&a, "sgd", "0.2", NULL, 0));
  a.fail_at = 3;
  CHECK_FAILS(descent_trainer_run(a.t, 3, 0), DESCENT_EINVAL, "on_gradient");
  CHECK(descent_trainer_steps(a.t) == 2);
  finish(&a);
  CHECK_OK(start(&a, "sgd", "0.2", NULL, 0));
  a.end_at = 4;
  CHECK(descent_trainer_run(a.t, 3, 0) == 1 && descent_trainer_steps(a.t) == 3);
  CHECK_OK(descent_trainer_run(a.t, 3, 0)); /* goes on */
  CHECK(descent_trainer_steps(a.t) == 18 && descent_trainer_epochs(a.t) == 3);
  finish(&a);
}

/* ---- the seams of data-parallel replicas ---------------------------------------- */

typedef struct replica_witness {
  descent_real at_gradient[FEATURES + 1]; /* the parameters the gradient was taken at */
  int64_t updates, unchanged, saves, fail_at;
} replica_witness;

static int remember_params(void *user, descent_objective *obj, const descent_batch *batch,
                           double *loss) {
  replica_witness *w = user;
  (void)batch, (void)loss;
  memcpy(w->at_gradient, obj->params, sizeof w->at_gradient);
  return DESCENT_OK;
}

static int count_update(void *user, descent_objective *obj) {
  replica_witness *w = user;
  w->updates++;
  if (memcmp(w->at_gradient, obj->params, sizeof w->at_gradient) == 0) w->unchanged++;
  if (w->fail_at && w->updates == w->fail_at)
    return descent_set_error(DESCENT_EIO, "after_step failed on purpose");
  return DESCENT_OK;
}

static int count_save(void *user, descent_section_writer *w) {
  replica_witness *r = user;
  r->saves++;
  return descent_section_put(w, "SAVE", "x", 1);
}

static int ignore_load(void *user, const descent_section_reader *r) {
  (void)user, (void)r;
  return DESCENT_OK;
}

/* Runs 2 epochs (12 steps) with a checkpoint every 4 steps, into dir or, as
   a replica, into none; returns the number of states serialized. */
static int64_t replica_run(const char *dir, int replica, int64_t fail_at, int *status,
                           replica_witness *w) {
  logreg m;
  logreg_init(&m, 0);
  memset(w, 0, sizeof *w);
  w->fail_at = fail_at;
  descent_optimizer *opt;
  descent_trainer *t;
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = BATCH;
  o.checkpoint_dir = dir;
  o.checkpoint_every = 4;
  o.checkpoint_replica = replica;
  o.on_gradient = remember_params;
  o.after_step = count_update;
  o.save_sections = count_save;
  o.load_sections = ignore_load;
  o.user = w;
  CHECK_OK(descent_optimizer_create(&opt, "momentum", "0.1", FEATURES + 1));
  CHECK_OK(descent_trainer_create(&t, &m.obj, opt, &train_set, &o));
  *status = descent_trainer_run(t, 2, 0);
  descent_trainer_free(t);
  descent_optimizer_free(opt);
  return w->saves;
}

static void test_replica_seams(void) {
  char dir[1100];
  folder(dir, sizeof dir, "writer");
  replica_witness w;
  int status;
  /* after_step: once per update, after it (the parameters moved). */
  int64_t writer = replica_run(dir, 0, 0, &status, &w);
  CHECK_OK(status);
  CHECK_MSG(w.updates == 12 && w.unchanged == 0, "%lld updates, %lld saw the old parameters",
            (long long)w.updates, (long long)w.unchanged);
  /* A replica serializes at the writer's points, without a folder; a
     trainer without a folder or the flag serializes nothing. */
  int64_t replica = replica_run(NULL, 1, 0, &status, &w);
  CHECK_OK(status);
  int64_t none = replica_run(NULL, 0, 0, &status, &w);
  CHECK_OK(status);
  CHECK_MSG(writer >= 4 && replica == writer && none == 0,
            "states made: writer %lld, replica %lld, plain %lld", (long long)writer,
            (long long)replica, (long long)none);
  /* A failing after_step stops the run with its status, after that update. */
  replica_run(NULL, 1, 5, &status, &w);
  CHECK_FAILS(status, DESCENT_EIO, "after_step failed on purpose");
  CHECK(w.updates == 5);
}

/* ---- refusals ------------------------------------------------------------------ */

static int put_reserved(void *user, descent_section_writer *w) {
  (void)user;
  return descent_section_put(w, "CKPT", "x", 1);
}

static int put_twice(void *user, descent_section_writer *w) {
  (void)user;
  int rc = descent_section_put(w, "TWIC", "x", 1);
  return rc ? rc : descent_section_put(w, "TWIC", "y", 1);
}

static int load_none(void *user, const descent_section_reader *r) {
  (void)user, (void)r;
  return DESCENT_OK;
}

static void test_refusals(void) {
  logreg m;
  logreg_init(&m, 0);
  descent_optimizer *opt;
  descent_trainer *t;
  CHECK_OK(descent_optimizer_create(&opt, "sgd", "0.1", FEATURES + 1));
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  descent_preprocess pp = {0};
  o.preprocess = &pp;
  CHECK_FAILS(descent_trainer_create(&t, &m.obj, opt, NULL, &o), DESCENT_EINVAL,
              "needs a data set");
  descent_trainer_options_default(&o);
  o.next_batch = draw;
  CHECK_FAILS(descent_trainer_create(&t, &m.obj, opt, &train_set, &o), DESCENT_EINVAL,
              "next_batch replaces the data set");
  descent_trainer_options_default(&o);
  o.save_sections = put_reserved;
  CHECK_FAILS(descent_trainer_create(&t, &m.obj, opt, &train_set, &o), DESCENT_EINVAL,
              "give both or neither");
  o.load_sections = load_none;
  CHECK_OK(descent_trainer_create(&t, &m.obj, opt, &train_set, &o));
  char path[1200];
  snprintf(path, sizeof path, "%s/refused.dsc", tmp);
  unlink(path);
  CHECK_FAILS(descent_trainer_save(t, path), DESCENT_EINVAL, "'CKPT' is the trainer's own");
  CHECK(access(path, F_OK) != 0);
  descent_trainer_free(t);
  o.save_sections = put_twice;
  CHECK_OK(descent_trainer_create(&t, &m.obj, opt, &train_set, &o));
  CHECK_FAILS(descent_trainer_save(t, path), DESCENT_EINVAL, "'TWIC' is already in the file");
  descent_trainer_free(t);
  descent_optimizer_free(opt);
}

/* ---- a network's checkpoint ------------------------------------------------- */

/* path's file without its section tagged tag (the count fixed). */
static size_t drop_section(unsigned char *d, size_t len, const char *tag) {
  size_t at = 16;
  while (at + 16 <= len) {
    uint64_t plen = 0;
    for (int i = 7; i >= 0; i--) plen = plen << 8 | d[at + 4 + (size_t)i];
    size_t whole = 16 + (size_t)plen;
    if (memcmp(d + at, tag, 4) == 0) {
      memmove(d + at, d + at + whole, len - at - whole);
      d[12]--;
      return len - whole;
    }
    at += whole;
  }
  return len;
}

static void test_network(void) {
  descent_net *net;
  descent_optimizer *opt;
  descent_trainer *t;
  CHECK_OK(descent_net_create(&net, "dense(4), batchnorm, relu, dense(2)", &train_set.shape,
                              DESCENT_LOSS_SOFTMAX_XENT, BATCH, 1));
  descent_objective *obj = descent_net_objective(net);
  CHECK_OK(descent_optimizer_create(&opt, "adam", "0.01", obj->n_params));
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = BATCH;
  CHECK_OK(descent_trainer_create(&t, obj, opt, &train_set, &o));
  CHECK_OK(descent_trainer_run(t, 1, 0));
  char path[1200], old[1200];
  snprintf(path, sizeof path, "%s/net.dsc", tmp);
  snprintf(old, sizeof old, "%s/net-without-obj.dsc", tmp);
  CHECK_OK(descent_trainer_save(t, path));
  /* A model file: descent_net_load reads the same network. */
  descent_net *loaded;
  CHECK_OK(descent_net_load(&loaded, NULL, path, BATCH));
  size_t nb, lb;
  descent_real *ba = descent_net_buffers(net, &nb), *bb = descent_net_buffers(loaded, &lb);
  CHECK(nb == lb && nb > 0 && memcmp(ba, bb, nb * sizeof *ba) == 0);
  CHECK(same_params(obj->params, descent_net_objective(loaded)->params, obj->n_params));
  descent_net_free(loaded);
  /* Written before OBJ existed: still a network's checkpoint. */
  size_t len;
  unsigned char *bytes = slurp(path, &len);
  size_t cut = drop_section(bytes, len, "OBJ ");
  CHECK(cut < len);
  spit(old, bytes, cut);
  free(bytes);
  CHECK_OK(descent_trainer_run(t, 2, 0));
  CHECK_OK(descent_trainer_load(t, old));
  CHECK(descent_trainer_steps(t) == 6 && descent_trainer_epochs(t) == 1);
  descent_checkpoint_info info;
  CHECK_OK(descent_checkpoint_inspect(old, &info));
  CHECK(strcmp(info.kind, "network") == 0 && strcmp(info.spec, descent_net_spec(net)) == 0);
  descent_checkpoint_info_free(&info);
  /* ... but not a user's objective's. */
  logreg m;
  logreg_init(&m, 0);
  descent_optimizer *opt2;
  descent_trainer *t2;
  CHECK_OK(descent_optimizer_create(&opt2, "adam", "0.01", m.obj.n_params));
  descent_trainer_options_default(&o);
  o.batch_size = BATCH;
  CHECK_OK(descent_trainer_create(&t2, &m.obj, opt2, &train_set, &o));
  CHECK_FAILS(descent_trainer_load(t2, path), DESCENT_EINVAL, "kind 'network'");
  descent_trainer_free(t2);
  descent_optimizer_free(opt2);
  descent_trainer_free(t);
  descent_optimizer_free(opt);
  descent_net_free(net);
}

int main(void) {
  const char *dir = getenv("DESCENT_TEST_TMP");
  snprintf(tmp, sizeof tmp, "%s/trainer_objective%zu", dir ? dir : "/tmp",
           8 * sizeof(descent_real));
  mkdir(tmp, 0777);
  make_data();
  test_user_resume();
  test_lbfgs_resume();
  test_without_data();
  test_guard();
  test_gradient_hook();
  test_replica_seams();
  test_refusals();
  test_network();
  free(train_set.x);
  free(train_set.labels);
  return check_report();
}
