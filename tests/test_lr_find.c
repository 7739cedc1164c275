/*
 * test_lr_find.c - the learning-rate range test (descent_lr_find): the
 * rates grow exponentially, the smoothing is the bias-corrected moving
 * average, the stop rule, the two suggestions on a curve whose answer is
 * known, the starting point put back bit for bit (parameters, batch-norm
 * statistics, dropout RNG, optimizer state, rate scale), and its errors.
 */
#include "check.h"

#include <stdlib.h>

#define N_EXAMPLES 64
#define FEATURES   6
#define CLASSES    3

static descent_real xs[N_EXAMPLES * FEATURES];
static int32_t ys[N_EXAMPLES];
static descent_dataset data = {.n = N_EXAMPLES,
                               .shape = {1, {FEATURES}},
                               .features = FEATURES,
                               .classes = CLASSES,
                               .x = xs,
                               .labels = ys};

static void make_data(void) {
  descent_rng rng;
  descent_rng_seed(&rng, 7);
  for (size_t i = 0; i < N_EXAMPLES * FEATURES; i++) xs[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < N_EXAMPLES; i++)
    ys[i] = xs[i * FEATURES] > 0.4 ? 2 : xs[i * FEATURES] < -0.4 ? 0 : 1;
}

/* On f = 1/2 theta^2 (quad1d(curvature=1)), plain sgd: the rates, the
   smoothing formula and the stop rule, recomputed here. */
static void test_curve_and_stop(void) {
  descent_objective *obj;
  descent_optimizer *opt;
  CHECK_OK(descent_problem_create(&obj, "quad1d(curvature=1, center=0)"));
  obj->params[0] = 3;
  CHECK_OK(descent_optimizer_create(&opt, "sgd", "0.1", obj->n_params));
  descent_lr_find_options o;
  descent_lr_find_options_default(&o);
  CHECK(o.start == 1e-7 && o.end == 10 && o.steps == 100 && o.smoothing == 0.98 &&
        o.stop_factor == 4);
  o.start = 1e-3;
  o.end = 30;
  o.steps = 60;
  o.smoothing = 0.9;
  descent_lr_find_result r;
  CHECK_OK(descent_lr_find(obj, opt, NULL, &o, &r));
  /* Rates above 2 make the iterates grow: the loss explodes and the test stops. */
  CHECK(r.stopped == 1);
  CHECK(r.n > 10 && r.n < 60);
  double avg = 0, best = INFINITY;
  for (int64_t i = 0; i < r.n; i++) {
    CHECK_REL(r.lr[i], 1e-3 * pow(30 / 1e-3, (double)i / 59), 1e-12);
    avg = 0.9 * avg + 0.1 * r.loss[i];
    CHECK_REL(r.smoothed[i], avg / (1 - pow(0.9, (double)(i + 1))), 1e-12);
    if (i + 1 < r.n) {
      CHECK(r.smoothed[i] <= 4 * best);
    } else {
      CHECK(r.smoothed[i] > 4 * best);
      CHECK(r.lr[i] > 2);
    }
    if (r.smoothed[i] < best) best = r.smoothed[i];
  }
  /* The first loss is at the starting point: 1/2 3^2. */
  CHECK_CLOSE(r.loss[0], 4.5, 1e-6);
  CHECK(r.minimum > 0 && r.smoothed[r.minimum] == best);
  CHECK(r.lr_minimum == r.lr[r.minimum] && r.lr_min_div10 == r.lr_minimum / 10);
  CHECK(r.steepest >= 0 && r.steepest <= r.minimum && r.lr_steepest == r.lr[r.steepest]);
  /* Put back: the starting point and the optimizer's step count. */
  CHECK(obj->params[0] == 3);
  CHECK(descent_optimizer_steps(opt) == 0 && descent_optimizer_lr(opt) == (double)0.1);
  descent_lr_find_result_free(&r);
  CHECK(r.lr == NULL && r.n == 0);
  descent_lr_find_result_free(NULL);

  /* No early stop with a large factor and a small end. */
  o.end = 1;
  o.stop_factor = 1e9;
  CHECK_OK(descent_lr_find(obj, opt, NULL, &o, &r));
  CHECK(r.stopped == 0 && r.n == 60);
  CHECK_REL(r.lr[59], 1.0, 1e-12);
  descent_lr_find_result_free(&r);
  descent_optimizer_free(opt);
  descent_objective_free(obj);
}

/* The suggestions on a made-up curve: the steepest descent is at index 3
   (central differences -0.1, -0.25, -0.95, -1.25, -0.75, -0.3, -0.1 per
   decade up to the minimum at index 6). */
static void test_suggest(void) {
  double lr[9], smoothed[9] = {5, 4.9, 4.5, 3, 2.0, 1.5, 1.4, 1.45, 3};
  for (int i = 0; i < 9; i++) lr[i] = pow(10, i - 6);
  int64_t steepest, minimum;
  CHECK_OK(descent_lr_find_suggest(lr, smoothed, 9, &steepest, &minimum));
  CHECK(steepest == 3 && minimum == 6);
  /* A NaN is skipped for the minimum; the descent is measured before it. */
  smoothed[7] = NAN;
  smoothed[8] = 1.0;
  CHECK_OK(descent_lr_find_suggest(lr, smoothed, 9, &steepest, &minimum));
  CHECK(minimum == 8);
  /* A curve that only rises: no descent. */
  double up[3] = {1, 2, 3};
  CHECK_OK(descent_lr_find_suggest(lr, up, 3, &steepest, &minimum));
  CHECK(minimum == 0 && steepest == -1);
  CHECK_FAILS(descent_lr_find_suggest(NULL, up, 3, &steepest, &minimum), DESCENT_EINVAL, "NULL");
  /* A long curve whose first points drop by noise (a few batches' average)
     more steeply than the real descent later: the first 10 points are not
     candidates, as in torch-lr-finder. */
  double lr40[40], noisy[40];
  for (int i = 0; i < 40; i++) {
    lr40[i] = pow(10, -7 + 8.0 * i / 39);
    noisy[i] = i < 25 ? 2.3 - 0.05 * (i - 10 > 0 ? i - 10 : 0) : 1.55 + 0.1 * (i - 25);
  }
  noisy[1] = 2.0; /* a lucky batch */
  noisy[2] = 2.6;
  CHECK_OK(descent_lr_find_suggest(lr40, noisy, 40, &steepest, &minimum));
  CHECK_MSG(minimum == 25 && steepest >= 10 && steepest <= 25,
            "minimum %lld, steepest %lld: the start's noise was taken for the descent",
            (long long)minimum, (long long)steepest);
}

static unsigned char *opt_state(const descent_optimizer *opt, size_t *size) {
  *size = descent_optimizer_state_size(opt);
  unsigned char *p = malloc(*size);
  CHECK(p && descent_optimizer_save_state(opt, p, *size) == DESCENT_OK);
  return p;
}

/* A network with batch norm and dropout and adam (state vectors) after some
   steps: everything is put back bit for bit, and the rate scale too. */
static void test_restores(void) {
  descent_net *net;
  CHECK_OK(descent_net_create(&net, "dense(10), batchnorm, relu, dropout(0.2), dense(3)",
                              &data.shape, DESCENT_LOSS_SOFTMAX_XENT, 16, 3));
  descent_objective *obj = descent_net_objective(net);
  descent_optimizer *opt;
  CHECK_OK(descent_optimizer_create(&opt, "adam", "0.01", obj->n_params));
  descent_batcher *b;
  CHECK_OK(descent_batcher_create(&b, &data, 16, 1, 5));
  descent_batch batch;
  for (int i = 0; i < 3; i++) {
    CHECK(descent_batcher_next(b, &batch) == 1);
    CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, NULL));
  }
  CHECK_OK(descent_optimizer_set_lr_scale(opt, 0.5));
  descent_real *params = malloc(obj->n_params * sizeof *params);
  memcpy(params, obj->params, obj->n_params * sizeof *params);
  size_t nbuf, size;
  descent_real *buf = descent_net_buffers(net, &nbuf);
  descent_real *buffers = malloc(nbuf * sizeof *buffers);
  memcpy(buffers, buf, nbuf * sizeof *buffers);
  descent_rng rng, rng_after;
  descent_net_get_rng(net, &rng);
  unsigned char *state = opt_state(opt, &size);

  descent_lr_find_options o;
  descent_lr_find_options_default(&o);
  o.steps = 12; /* more than the 4 batches of an epoch */
  o.start = 1e-4;
  o.end = 1;
  descent_lr_find_result r;
  CHECK_OK(descent_lr_find(obj, opt, b, &o, &r));
  CHECK(r.n >= 5);
  for (int64_t i = 0; i < r.n; i++) CHECK(isfinite(r.loss[i]) || i == r.n - 1);
  CHECK_MSG(memcmp(params, obj->params, obj->n_params * sizeof *params) == 0,
            "parameters not put back");
  CHECK_MSG(memcmp(buffers, buf, nbuf * sizeof *buffers) == 0,
            "batch-norm statistics not put back");
  descent_net_get_rng(net, &rng_after);
  CHECK_MSG(memcmp(&rng, &rng_after, sizeof rng) == 0, "dropout RNG not put back");
  size_t size_after;
  unsigned char *after = opt_state(opt, &size_after);
  CHECK_MSG(size == size_after && memcmp(state, after, size) == 0, "optimizer state not put back");
  CHECK(descent_optimizer_lr_scale(opt) == 0.5 && descent_optimizer_steps(opt) == 3);
  descent_lr_find_result_free(&r);
  free(after);
  free(state);
  free(buffers);
  free(params);
  descent_batcher_free(b);
  descent_optimizer_free(opt);
  descent_net_free(net);
}

/* Every named first-order optimizer and a chain with a schedule: the rates
   of the curve are the exponential ones whatever the chain's own rate and
   schedule, and everything is put back. */
static void test_every_chain(void) {
  static const char *const chains[][2] = {
      {"sgd", NULL},
      {"momentum", NULL},
      {"nesterov", NULL},
      {"adagrad", NULL},
      {"rmsprop", NULL},
      {"adam", NULL},
      {"adamw", NULL},
      {"amsgrad", NULL},
      {"lion", NULL},
      {"sf_sgd", NULL},
      {"sf_adamw", NULL},
      {"gd", NULL},
      {"nadam", NULL},
      {"radam", NULL},
      {"adamax", NULL},
      {"clip(1) | adam | wd(0.01) | lr(cosine(0.01, 100, warmup=2))", NULL},
      {"sgd", "step(0.1, 2, gamma=0.5)"}};
  descent_net *net;
  CHECK_OK(descent_net_create(&net, "dense(8), relu, dense(3)", &data.shape,
                              DESCENT_LOSS_SOFTMAX_XENT, 16, 4));
  descent_objective *obj = descent_net_objective(net);
  descent_real *start = malloc(obj->n_params * sizeof *start);
  memcpy(start, obj->params, obj->n_params * sizeof *start);
  descent_batcher *b;
  CHECK_OK(descent_batcher_create(&b, &data, 16, 1, 9));
  descent_lr_find_options o;
  descent_lr_find_options_default(&o);
  o.steps = 8, o.start = 1e-3, o.end = 1e-1, o.stop_factor = 1e6;
  for (size_t c = 0; c < sizeof chains / sizeof chains[0]; c++) {
    descent_optimizer *opt;
    CHECK_OK(descent_optimizer_create(&opt, chains[c][0], chains[c][1], obj->n_params));
    size_t size, size_after;
    unsigned char *state = opt_state(opt, &size);
    descent_lr_find_result r;
    CHECK_OK(descent_lr_find(obj, opt, b, &o, &r));
    CHECK_MSG(r.n == 8, "%s: %lld steps", chains[c][0], (long long)r.n);
    for (int64_t i = 0; i < r.n; i++)
      CHECK_MSG(fabs(r.lr[i] / (1e-3 * pow(100, (double)i / 7)) - 1) < 1e-9, "%s: rate %lld is %g",
                chains[c][0], (long long)i, r.lr[i]);
    unsigned char *after = opt_state(opt, &size_after);
    CHECK_MSG(size == size_after && memcmp(state, after, size) == 0, "%s: state not put back",
              chains[c][0]);
    CHECK_MSG(memcmp(start, obj->params, obj->n_params * sizeof *start) == 0,
              "%s: parameters not put back", chains[c][0]);
    descent_lr_find_result_free(&r);
    free(after);
    free(state);
    descent_optimizer_free(opt);
  }
  descent_batcher_free(b);
  free(start);
  descent_net_free(net);
}

static void test_errors(void) {
  descent_objective *obj;
  descent_optimizer *opt, *lbfgs, *warm;
  CHECK_OK(descent_problem_create(&obj, "quad1d"));
  CHECK_OK(descent_optimizer_create(&opt, "sgd", "0.1", obj->n_params));
  descent_lr_find_options o;
  descent_lr_find_result r;
  descent_lr_find_options_default(&o);
  o.start = 0;
  CHECK_FAILS(descent_lr_find(obj, opt, NULL, &o, &r), DESCENT_EINVAL, "0 < start < end");
  CHECK(r.lr == NULL && r.n == 0 && isnan(r.lr_steepest));
  descent_lr_find_options_default(&o);
  o.end = 1e-8;
  CHECK_FAILS(descent_lr_find(obj, opt, NULL, &o, &r), DESCENT_EINVAL, "0 < start < end");
  descent_lr_find_options_default(&o);
  o.steps = 1;
  CHECK_FAILS(descent_lr_find(obj, opt, NULL, &o, &r), DESCENT_EINVAL, "steps 1");
  descent_lr_find_options_default(&o);
  o.smoothing = 1;
  CHECK_FAILS(descent_lr_find(obj, opt, NULL, &o, &r), DESCENT_EINVAL, "[0, 1)");
  descent_lr_find_options_default(&o);
  o.stop_factor = 1;
  CHECK_FAILS(descent_lr_find(obj, opt, NULL, &o, &r), DESCENT_EINVAL, "above 1");
  CHECK_FAILS(descent_lr_find(obj, opt, NULL, NULL, NULL), DESCENT_EINVAL, "NULL");
  CHECK_FAILS(descent_lr_find(NULL, opt, NULL, NULL, &r), DESCENT_EINVAL, "NULL");
  CHECK_OK(descent_optimizer_create(&lbfgs, "lbfgs", NULL, obj->n_params));
  CHECK_FAILS(descent_lr_find(obj, lbfgs, NULL, NULL, &r), DESCENT_EINVAL, "first-order chain");
  CHECK_OK(descent_optimizer_create(&warm, "sgd", "0", obj->n_params));
  CHECK_FAILS(descent_lr_find(obj, warm, NULL, NULL, &r), DESCENT_EINVAL, "first rate is 0");
  descent_optimizer_free(warm);
  /* A schedule that reaches 0 during the test: refused there, and put back. */
  CHECK_OK(descent_optimizer_create(&warm, "sgd", "linear(0.1, 5, end_factor=0)", obj->n_params));
  double start = obj->params[0];
  CHECK_FAILS(descent_lr_find(obj, warm, NULL, NULL, &r), DESCENT_EINVAL,
              "positive rate at every step");
  CHECK(obj->params[0] == start && descent_optimizer_steps(warm) == 0 && r.lr == NULL);
  /* A step that fails: a network on a batch larger than it was built for. */
  descent_net *net;
  CHECK_OK(descent_net_create(&net, "dense(3)", &data.shape, DESCENT_LOSS_SOFTMAX_XENT, 4, 1));
  descent_optimizer *nopt;
  CHECK_OK(descent_optimizer_create(&nopt, "sgd", "0.1", descent_net_objective(net)->n_params));
  descent_batcher *b;
  CHECK_OK(descent_batcher_create(&b, &data, 8, 0, 1));
  descent_real first = descent_net_objective(net)->params[0];
  int rc = descent_lr_find(descent_net_objective(net), nopt, b, NULL, &r);
  CHECK(rc != DESCENT_OK && r.lr == NULL && strlen(descent_last_error()) > 0);
  CHECK(descent_net_objective(net)->params[0] == first && descent_optimizer_steps(nopt) == 0);
  descent_batcher_free(b);
  descent_optimizer_free(nopt);
  descent_net_free(net);
  descent_optimizer_free(warm);
  descent_optimizer_free(lbfgs);
  descent_optimizer_free(opt);
  descent_objective_free(obj);
}

int main(void) {
  make_data();
  test_curve_and_stop();
  test_suggest();
  test_restores();
  test_every_chain();
  test_errors();
  return check_report();
}
