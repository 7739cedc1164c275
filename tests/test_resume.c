/*
 * test_resume.c - exact resume: for every named optimizer and every kind of
 * schedule, 2N steps without a stop give the same bits as N steps, a
 * checkpoint on disk, fresh objects built from scratch and loaded from the
 * file, and N more steps: parameters, batch-norm statistics, the dropout RNG,
 * the optimizer's state, every logged loss and rate, and every epoch's
 * report. N falls inside an epoch, on an epoch's last step (before its end
 * is processed) and right after an epoch end; the epoch callback moves
 * schedule-free parameters to their evaluation point and back, as descent
 * train does, so the resumed run must make the same moves.
 */
#include "check.h"
#include "test_files.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define N_EXAMPLES 50
#define FEATURES   8
#define CLASSES    3
#define BATCH      8 /* 7 batches per epoch, the last one of 2 */

static descent_real xs[N_EXAMPLES * FEATURES];
static int32_t ys[N_EXAMPLES];
static descent_dataset data = {.n = N_EXAMPLES,
                               .shape = {1, {FEATURES}},
                               .features = FEATURES,
                               .classes = CLASSES,
                               .x = xs,
                               .labels = ys};
static char dir[512];

static void make_data(void) {
  descent_rng rng;
  descent_rng_seed(&rng, 42);
  for (size_t i = 0; i < N_EXAMPLES * FEATURES; i++) xs[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < N_EXAMPLES; i++) {
    /* A learnable rule with some noise. */
    double s = xs[i * FEATURES] + 0.5 * xs[i * FEATURES + 1];
    ys[i] = s > 0.5 ? 2 : s < -0.5 ? 0 : 1;
    if (descent_rng_uniform(&rng) < 0.1) ys[i] = (int32_t)descent_rng_below(&rng, CLASSES);
  }
}

/* Everything one run owns. */
typedef struct run {
  descent_net *net;
  descent_optimizer *opt;
  descent_trainer *t;
  double epoch_loss[64]; /* reported train loss per epoch (NaN: not reported) */
  double epoch_lr[64];
  int64_t epoch_step[64];
  double eval_loss[64]; /* evaluation at the epoch's end */
} run;

static int on_epoch(void *user, const descent_epoch_report *r) {
  run *x = user;
  if (r->epoch < 1 || r->epoch >= 64) return DESCENT_EINVAL;
  x->epoch_loss[r->epoch] = r->train_loss;
  x->epoch_lr[r->epoch] = r->lr;
  x->epoch_step[r->epoch] = r->step;
  double loss, acc;
  int rc = descent_optimizer_eval(x->opt, descent_net_objective(x->net));
  if (!rc) rc = descent_net_evaluate(x->net, &data, &loss, &acc);
  x->eval_loss[r->epoch] = loss;
  if (!rc) rc = descent_optimizer_train(x->opt, descent_net_objective(x->net));
  return rc;
}

typedef struct setup {
  const char *model, *opt, *lr;
  int64_t every; /* checkpoint_every, 0: none */
  const char *ckpt_dir;
} setup;

static int start(run *x, const setup *s) {
  memset(x, 0, sizeof *x);
  for (int i = 0; i < 64; i++) x->epoch_loss[i] = x->eval_loss[i] = NAN;
  int rc = descent_net_create(&x->net, s->model, &data.shape, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 7);
  if (!rc)
    rc = descent_optimizer_create(&x->opt, s->opt, s->lr, descent_net_objective(x->net)->n_params);
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = BATCH;
  o.seed = 11;
  o.config = "model=test\n";
  o.checkpoint_dir = s->ckpt_dir;
  o.checkpoint_every = s->every;
  o.checkpoint_epochs = s->ckpt_dir != NULL;
  o.on_epoch = on_epoch;
  o.user = x;
  if (!rc) rc = descent_trainer_create(&x->t, descent_net_objective(x->net), x->opt, &data, &o);
  return rc;
}

static void finish(run *x) {
  descent_trainer_free(x->t);
  descent_optimizer_free(x->opt);
  descent_net_free(x->net);
}

static unsigned char *opt_state(descent_optimizer *opt, size_t *size) {
  *size = descent_optimizer_state_size(opt);
  unsigned char *b = malloc(*size);
  if (b && descent_optimizer_save_state(opt, b, *size)) *size = 0;
  return b;
}

/* The same bits? */
static int same_run(run *a, run *b, const char *what) {
  int before = check_failures;
  descent_objective *oa = descent_net_objective(a->net), *ob = descent_net_objective(b->net);
  CHECK_MSG(oa->n_params == ob->n_params &&
                memcmp(oa->params, ob->params, oa->n_params * sizeof *oa->params) == 0,
            "%s: parameters differ", what);
  size_t na, nb;
  descent_real *ba = descent_net_buffers(a->net, &na), *bb = descent_net_buffers(b->net, &nb);
  CHECK_MSG(na == nb && (na == 0 || memcmp(ba, bb, na * sizeof *ba) == 0), "%s: buffers differ",
            what);
  descent_rng ra, rb;
  descent_net_get_rng(a->net, &ra);
  descent_net_get_rng(b->net, &rb);
  CHECK_MSG(memcmp(&ra, &rb, sizeof ra) == 0, "%s: dropout RNG differs", what);
  size_t sa, sb;
  unsigned char *pa = opt_state(a->opt, &sa), *pb = opt_state(b->opt, &sb);
  CHECK_MSG(sa == sb && sa && memcmp(pa, pb, sa) == 0, "%s: optimizer state differs", what);
  free(pa);
  free(pb);
  size_t ca, cb;
  const double *la, *lb, *ka, *kb;
  descent_trainer_history(a->t, &ca, &la, &ka);
  descent_trainer_history(b->t, &cb, &lb, &kb);
  CHECK_MSG(ca == cb && ca && memcmp(la, lb, ca * sizeof *la) == 0 &&
                memcmp(ka, kb, ca * sizeof *ka) == 0,
            "%s: logged losses or rates differ (%zu and %zu steps)", what, ca, cb);
  CHECK_MSG(descent_trainer_epochs(a->t) == descent_trainer_epochs(b->t), "%s: epochs differ",
            what);
  /* Every epoch the resumed run reported, the straight one reported the same. */
  int reported = 0;
  for (int e = 1; e < 64; e++) {
    if (isnan(b->epoch_loss[e])) continue;
    reported++;
    CHECK_MSG(memcmp(&a->epoch_loss[e], &b->epoch_loss[e], sizeof(double)) == 0 &&
                  memcmp(&a->epoch_lr[e], &b->epoch_lr[e], sizeof(double)) == 0 &&
                  a->epoch_step[e] == b->epoch_step[e] &&
                  memcmp(&a->eval_loss[e], &b->eval_loss[e], sizeof(double)) == 0,
              "%s: epoch %d reported %.17g (eval %.17g), straight run %.17g (eval %.17g)", what, e,
              b->epoch_loss[e], b->eval_loss[e], a->epoch_loss[e], a->eval_loss[e]);
  }
  (void)reported;
  return check_failures == before;
}

/* Batches per epoch: one full batch for gd, else ceil(N_EXAMPLES / BATCH). */
static int64_t steps_per_epoch(const run *x) {
  return descent_optimizer_full_batch(x->opt) ? 1 : (N_EXAMPLES + BATCH - 1) / BATCH;
}

/* A run stopped (or resumed) at step n stands where counting says: n steps
   taken and (n - 1) / per epochs completed, since the trainer closes an
   epoch on the turn after its last step, and a run stopped by step count
   stops before that turn. A resumed run that restored the step but not the
   epoch (or the reverse) would train the right number of steps in the wrong
   epochs: other shuffles, other schedule ends, other reports. */
static void check_position(const run *x, int64_t n, const char *what) {
  int64_t per = steps_per_epoch(x), epochs = (n - 1) / per;
  CHECK_MSG(descent_trainer_steps(x->t) == n && descent_trainer_epochs(x->t) == epochs,
            "%s: at step %lld epoch %lld, want step %lld epoch %lld", what,
            (long long)descent_trainer_steps(x->t), (long long)descent_trainer_epochs(x->t),
            (long long)n, (long long)epochs);
}

/* The checkpoint file says the same: its step, completed epochs and batches
   into the next one. */
static void check_file_position(const run *x, const char *path, int64_t n, const char *what) {
  descent_checkpoint_info info;
  CHECK_OK(descent_checkpoint_inspect(path, &info));
  int64_t per = steps_per_epoch(x), epochs = (n - 1) / per;
  CHECK_MSG(info.step == n && info.epoch == epochs && (int64_t)info.batch == n - epochs * per &&
                (int64_t)info.batches == per,
            "%s: %s holds step %lld, epoch %lld, batch %zu of %zu; want %lld, %lld, %lld of %lld",
            what, path, (long long)info.step, (long long)info.epoch, info.batch, info.batches,
            (long long)n, (long long)epochs, (long long)(n - epochs * per), (long long)per);
  descent_checkpoint_info_free(&info);
}

/* 2N straight against N + checkpoint file + fresh objects + N. */
static void resume_case(const setup *s, int64_t n, const char *label) {
  char what[256], path[1024];
  snprintf(what, sizeof what, "%s [%s | %s | lr %s] N=%lld", label, s->model, s->opt,
           s->lr ? s->lr : "default", (long long)n);
  snprintf(path, sizeof path, "%s/resume.dsc", dir);
  run a, b, c;
  CHECK_OK(start(&a, s));
  CHECK_OK(descent_trainer_run(a.t, 1000, 2 * n));
  CHECK_MSG(descent_trainer_steps(a.t) == 2 * n, "%s: %lld steps", what,
            (long long)descent_trainer_steps(a.t));

  CHECK_OK(start(&b, s));
  CHECK_OK(descent_trainer_run(b.t, 1000, n));
  check_position(&b, n, what);
  CHECK_OK(descent_trainer_save(b.t, path));
  check_file_position(&b, path, n, what);
  finish(&b);

  CHECK_OK(start(&c, s));
  CHECK_OK(descent_trainer_load(c.t, path));
  check_position(&c, n, what);
  CHECK_OK(descent_trainer_run(c.t, 1000, 2 * n));
  check_position(&c, 2 * n, what);
  if (!same_run(&a, &c, what)) fprintf(stderr, "  (case above failed)\n");
  finish(&a);
  finish(&c);
}

static const char *optimizers[][2] = {
    {"sgd", "0.05"},     {"gd", "0.5"},        {"momentum", "0.05"},   {"nesterov", "0.05"},
    {"adagrad", "0.05"}, {"rmsprop", "0.005"}, {"adam", "0.01"},       {"adamw", "0.01"},
    {"amsgrad", "0.01"}, {"lion", "0.001"},    {"sf_sgd", "0.5"},      {"sf_adamw", "0.01"},
    {"adadelta", "1.0"}, {"rprop", "0.001"},   {"asgd(t0=5)", "0.05"}, {"adabelief", "0.01"},
    {"yogi", "0.01"},    {"ademamix", "0.01"}, {"nadam", "0.01"},      {"radam", "0.01"},
    {"adamax", "0.01"},  {"prodigy", "1"},     {"dadapt_adamw", "1"},
};

static const char *schedules[] = {
    "0.05",
    "constant(0.05)",
    "inv(0.05, 10)",
    "poly(0.05, 0.5, tau=3)",
    "step(0.05, 5, gamma=0.5)",
    "exp(0.05, 0.95)",
    "cosine(0.05, 30, min_lr=0.001)",
    "linear(0.05, 30, end_factor=0.1)",
    "wsd(0.05, 30, decay=0.3)",
    "cosine(0.05, 30, warmup=8)",
};

/* Through the checkpoint folder: the file written by checkpoint_every is
   found as the newest, and resuming from it matches. */
static void folder_case(const char *opt, const char *lr, int64_t every, int64_t n) {
  char sub[600], found[1024], skipped[1024], what[128];
  snprintf(sub, sizeof sub, "%s/folder-%s", dir, opt);
  empty_folder(sub);
  snprintf(what, sizeof what, "folder %s every %lld stop %lld", opt, (long long)every,
           (long long)n);
  setup s = {"dense(12), batchnorm, relu, dropout(0.25), dense(3)", opt, lr, every, sub};
  setup plain = s;
  plain.ckpt_dir = NULL; /* writing checkpoints must not change the trajectory */
  plain.every = 0;
  run a, b, c;
  CHECK_OK(start(&a, &plain));
  CHECK_OK(descent_trainer_run(a.t, 1000, 3 * n));
  CHECK_OK(start(&b, &s));
  CHECK_OK(descent_trainer_run(b.t, 1000, n));
  finish(&b); /* as if killed: only the files remain */
  CHECK_OK(descent_checkpoint_find(sub, found, sizeof found, skipped, sizeof skipped));
  CHECK_MSG(skipped[0] == '\0', "%s: skipped %s", what, skipped);
  descent_checkpoint_info info;
  CHECK_OK(descent_checkpoint_inspect(found, &info));
  CHECK_MSG(info.step <= n && info.step >= n - every, "%s: newest checkpoint at step %lld", what,
            (long long)info.step);
  CHECK(strcmp(info.config, "model=test\n") == 0);
  /* Written at an epoch's end (batch 0, the epoch counted) or inside one. */
  int64_t saved_step = info.step, saved_epoch = info.epoch;
  CHECK_MSG(info.epoch * (int64_t)info.batches + (int64_t)info.batch == info.step &&
                info.batch < info.batches,
            "%s: %s holds step %lld = epoch %lld x %zu batches + %zu?", what, found,
            (long long)info.step, (long long)info.epoch, info.batches, info.batch);
  descent_checkpoint_info_free(&info);
  CHECK_OK(start(&c, &s));
  CHECK_OK(descent_trainer_load(c.t, found));
  CHECK_MSG(descent_trainer_steps(c.t) == saved_step && descent_trainer_epochs(c.t) == saved_epoch,
            "%s: resumed at step %lld epoch %lld, the file holds step %lld epoch %lld", what,
            (long long)descent_trainer_steps(c.t), (long long)descent_trainer_epochs(c.t),
            (long long)saved_step, (long long)saved_epoch);
  CHECK_OK(descent_trainer_run(c.t, 1000, 3 * n));
  check_position(&c, 3 * n, what);
  same_run(&a, &c, what);
  /* Only the newest `keep` (3) remain. */
  int files = 0;
  for (int64_t step = 0; step <= 3 * n; step++) {
    char p[1100];
    snprintf(p, sizeof p, "%s/ckpt-%lld.dsc", sub, (long long)step);
    files += access(p, F_OK) == 0;
  }
  CHECK_MSG(files == 3, "%s: %d checkpoints kept, want 3", what, files);
  finish(&a);
  finish(&c);
}

int main(void) {
  const char *tmp = getenv("DESCENT_TEST_TMP");
  snprintf(dir, sizeof dir, "%s/resume%d", tmp ? tmp : "/tmp", (int)sizeof(descent_real) * 8);
  mkdir(tmp ? tmp : "/tmp", 0777);
  mkdir(dir, 0777);
  descent_set_threads(1);
  make_data();

  const char *mlp = "dense(16), relu, dense(3)";
  const char *deep = "dense(16), batchnorm, relu, dropout(0.3), dense(3)";
  for (size_t i = 0; i < sizeof optimizers / sizeof optimizers[0]; i++) {
    setup s = {mlp, optimizers[i][0], optimizers[i][1], 0, NULL};
    resume_case(&s, 10, "optimizer"); /* inside epoch 2 */
    s.model = deep;
    resume_case(&s, 7, "optimizer, batch norm and dropout"); /* an epoch's last step */
  }
  for (size_t i = 0; i < sizeof schedules / sizeof schedules[0]; i++) {
    setup s = {deep, "sgd", schedules[i], 0, NULL};
    resume_case(&s, 12, "schedule");
    setup m = {mlp, "adam", schedules[i], 0, NULL};
    resume_case(&m, 9, "schedule");
  }
  /* The per-tensor chains: the trainer gives them the network's tensors. */
  static const char *per_tensor[][2] = {{"lamb", "0.01"}, {"lars", "1"}, {"novograd", "0.01"}};
  for (size_t i = 0; i < sizeof per_tensor / sizeof per_tensor[0]; i++) {
    setup s = {deep, per_tensor[i][0], per_tensor[i][1], 0, NULL};
    resume_case(&s, 10, "per-tensor optimizer");
    run x;
    CHECK_OK(start(&x, &s));
    size_t count = 0;
    const descent_tensor_info *layout = descent_optimizer_tensors(x.opt, &count);
    const descent_objective *obj = descent_net_objective(x.net);
    CHECK_MSG(layout && count == obj->n_tensors && count == 6 &&
                  memcmp(layout, obj->tensors, count * sizeof *layout) == 0,
              "%s: the trainer set %zu tensors, the network has %zu", s.opt, count, obj->n_tensors);
    finish(&x);
  }
  /* Muon (a whole-tensor chain) on a network of matrices: the weights
     without biases. */
  setup muon = {"dense(16, bias=0), relu, dense(3, bias=0)", "muon", "0.02", 0, NULL};
  resume_case(&muon, 10, "whole-tensor optimizer");
  muon.opt = "muon(nesterov=0, adjust_lr=1, weight_decay=0.01)";
  resume_case(&muon, 7, "whole-tensor optimizer");
  /* Adafactor (a whole-tensor chain that takes any tensor) on the deep
     network, biases included. */
  setup adafactor = {deep, "adafactor(weight_decay=0.01)", "0.01", 0, NULL};
  resume_case(&adafactor, 10, "whole-tensor optimizer");
  /* Shampoo: factors and inverse roots in the per-tensor state, recomputed
     every third step, the 16-wide weight cut into blocks of 8. */
  setup shampoo = {deep,
                   "shampoo(grafting=4, precondition_frequency=3, max_preconditioner_dim=8, "
                   "weight_decay=0.01)",
                   "0.01", 0, NULL};
  resume_case(&shampoo, 10, "whole-tensor optimizer");
  /* SOAP, its eigenbases refreshed before and after the cut. */
  setup soap = {deep, "soap(precondition_frequency=3, precondition_1d=1)", "0.003", 0, NULL};
  resume_case(&soap, 10, "whole-tensor optimizer");
  /* A chain with a global transform and weight decay. */
  setup chain = {deep, "clip(1.0) | adam(b1=0.8) | wd(0.01)", "cosine(0.02, 40, warmup=5)", 0,
                 NULL};
  resume_case(&chain, 11, "chain");

  /* A method with random draws of its own (sophia's probes and sampled
     labels, seeded by the step count) on batch norm and dropout. */
  setup sophia = {deep, "sophia(update_interval=3, seed=4)", "0.001", 0, NULL};
  resume_case(&sophia, 10, "method");
  sophia.opt = "sophia(estimator=gnb, update_interval=2)";
  resume_case(&sophia, 7, "method");

  folder_case("sgd", "0.05", 4, 10);
  folder_case("sf_adamw", "0.01", 7, 14); /* stop on an epoch end's step */
  folder_case("gd", "0.5", 3, 5);
  return check_report();
}
