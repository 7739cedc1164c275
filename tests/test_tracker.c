/*
 * test_tracker.c - the instruments of a training run (descent_tracker):
 *  - alpha against its definition on a 1D quadratic, for steps that
 *    undershoot, land on the minimum and overshoot; NAN without a minimum;
 *  - the instrument list: parsing, naming, the errors;
 *  - measuring changes nothing: with each instrument alone, and all of them,
 *    at every step, an MLP (with dropout) and a CNN end with the same
 *    parameter bits as without, under SGD with momentum and under Adam;
 *  - the columns of diagnostics.csv, in their order;
 *  - a run saved at a mid-epoch step and resumed in fresh objects measures
 *    the same rows, bit for bit, and ends on the same bits;
 *  - the automatic frequency follows the cost (1/48 and 1/96 of the steps' gradients);
 *  - hostile or foreign "TRAK" sections are refused with a message, and the
 *    trainer and the tracker are left as they were;
 *  - refusals: an objective without the product an instrument needs, a
 *    full-batch optimizer, a tracker of other objects.
 */
#include "check.h"
#include "descent.h"
#include "test_files.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SIDE      6
#define FEATURES  (SIDE * SIDE)
#define CLASSES   3
#define EXAMPLES  60
#define BATCH     16 /* 4 batches an epoch, the last of 12 */
#define MAX_STEPS 200

static descent_real xs[EXAMPLES * FEATURES];
static int32_t ys[EXAMPLES];
static descent_dataset data = {.n = EXAMPLES,
                               .shape = {3, {1, SIDE, SIDE}},
                               .features = FEATURES,
                               .classes = CLASSES,
                               .x = xs,
                               .labels = ys};
static char tmp[512];

static const char *const mlp = "dense(12), relu, dropout(0.25), dense(6), tanh, dense(3)";
static const char *const cnn = "conv(3, 3, pad=1), relu, maxpool(2), conv(2, 2), sigmoid, dense(3)";

static void make_data(void) {
  descent_rng rng;
  descent_rng_seed(&rng, 5);
  for (size_t i = 0; i < EXAMPLES * FEATURES; i++) xs[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < EXAMPLES; i++) {
    double s = xs[i * FEATURES] + 0.5 * xs[i * FEATURES + 7];
    ys[i] = s > 0.4 ? 2 : s < -0.4 ? 0 : 1;
  }
}

/* ---- alpha ------------------------------------------------------------------ */

/* f(x) = a/2 (x - m)^2 + c from x0, one gradient step of rate lr: the
   parabola along the step d is f itself, its minimum at t_min = (m - x0) /
   d in units of the step, so alpha = t_step / t_min - 1 with t_step = 1. */
static void alpha_case(double a, double lr, const char *what) {
  const double m = 1.5, c = 0.25, x0 = -2;
  double g0 = a * (x0 - m), d = -lr * g0, x1 = x0 + d, g1 = a * (x1 - m);
  double f0 = 0.5 * a * (x0 - m) * (x0 - m) + c, f1 = 0.5 * a * (x1 - m) * (x1 - m) + c;
  double t_min = (m - x0) / d, expected = 1 / t_min - 1;
  double alpha = descent_alpha(f0, g0 * d, f1, g1 * d);
  CHECK_MSG(fabs(alpha - expected) <= 1e-12 * fmax(1, fabs(expected)), "%s: alpha %.17g, %.17g",
            what, alpha, expected);
}

static void test_alpha(void) {
  alpha_case(2, 0.25, "undershoot");
  alpha_case(2, 0.5, "on the minimum");
  alpha_case(2, 0.75, "overshoot");
  alpha_case(2, 1.0, "across at the same height");
  alpha_case(3, 1.2, "far across");
  CHECK_CLOSE(descent_alpha(1, -2, 0, 0), 0, 1e-15); /* lands on the minimum: p = 1 - 2t + t^2 */
  CHECK_CLOSE(descent_alpha(1, -2, 1, 2), 1, 1e-15); /* across at equal height */
  CHECK(isnan(descent_alpha(1, -1, 0, -1)));         /* linear: no minimum */
  CHECK(isnan(descent_alpha(0, 1, 0, -1)));          /* concave: p = t - t^2 */
  CHECK(isnan(descent_alpha(NAN, -1, 0, 1)));
}

/* ---- names ------------------------------------------------------------------- */

static void test_names(void) {
  unsigned mask = 0;
  CHECK_OK(descent_track_parse("sharpness,noise", &mask));
  CHECK(mask == (DESCENT_TRACK_SHARPNESS | DESCENT_TRACK_NOISE));
  CHECK_OK(descent_track_parse("all", &mask));
  CHECK(mask == DESCENT_TRACK_ALL);
  CHECK_OK(descent_track_parse("layers,alpha,layers", &mask));
  CHECK(mask == (DESCENT_TRACK_LAYERS | DESCENT_TRACK_ALPHA));
  mask = 7;
  CHECK_FAILS(descent_track_parse("sharpness,curvature", &mask), DESCENT_EINVAL,
              "unknown instrument 'curvature'; valid: sharpness, ggn, negative, noise, alpha");
  CHECK(mask == 7);
  CHECK_FAILS(descent_track_parse("", &mask), DESCENT_EINVAL, "an empty name");
  CHECK_FAILS(descent_track_parse("alpha,", &mask), DESCENT_EINVAL, "an empty name");
  char buf[128];
  size_t n = descent_track_describe(DESCENT_TRACK_ALL, buf, sizeof buf);
  CHECK(strcmp(buf, "sharpness,ggn,negative,noise,alpha,layers") == 0 && n == strlen(buf));
  CHECK(descent_track_describe(DESCENT_TRACK_ALPHA | DESCENT_TRACK_GGN, buf, 5) == 9);
  CHECK(strcmp(buf, "ggn,") == 0);
  descent_track_options o;
  descent_track_options_default(&o);
  CHECK(o.every == 0 && o.iterations == 20 && o.tolerance == 1e-3 && o.seed == 1);
}

/* ---- runs ------------------------------------------------------------------------ */

typedef struct run {
  descent_net *net;
  descent_optimizer *opt;
  descent_tracker *tracker;
  descent_trainer *t;
  size_t n_columns;
  double rows[MAX_STEPS + 1][160];
  int measured[MAX_STEPS + 1];
} run;

static void on_step(void *user, const descent_step_report *r) {
  run *x = user;
  if (!r->stepped || r->step > MAX_STEPS) return;
  const double *row = descent_tracker_row(x->tracker, r->step);
  x->measured[r->step] = row != NULL;
  if (row) memcpy(x->rows[r->step], row, x->n_columns * sizeof *row);
}

static int start(run *x, const char *model, const char *opt, unsigned what, int64_t every,
                 const char *dir) {
  memset(x, 0, sizeof *x);
  int rc = descent_net_create(&x->net, model, &data.shape, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 3);
  if (!rc)
    rc = descent_optimizer_create(&x->opt, opt, NULL, descent_net_objective(x->net)->n_params);
  if (!rc && what) {
    descent_track_options to;
    descent_track_options_default(&to);
    to.what = what;
    to.every = every;
    to.iterations = 6;
    rc = descent_tracker_create(&x->tracker, descent_net_objective(x->net), x->opt, &to);
    if (!rc) descent_tracker_columns(x->tracker, &x->n_columns);
  }
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = BATCH;
  o.seed = 9;
  o.checkpoint_dir = dir;
  o.checkpoint_epochs = dir != NULL;
  o.on_step = on_step;
  o.user = x;
  o.tracker = x->tracker;
  if (!rc) rc = descent_trainer_create(&x->t, descent_net_objective(x->net), x->opt, &data, &o);
  return rc;
}

static void finish(run *x) {
  descent_trainer_free(x->t);
  descent_tracker_free(x->tracker);
  descent_optimizer_free(x->opt);
  descent_net_free(x->net);
}

static int same_params(run *a, run *b) {
  descent_objective *oa = descent_net_objective(a->net), *ob = descent_net_objective(b->net);
  return oa->n_params == ob->n_params &&
         memcmp(oa->params, ob->params, oa->n_params * sizeof *oa->params) == 0;
}

/* Every instrument alone, then all, at every step: the run is untouched. */
static void test_untouched(const char *model, const char *opt) {
  static run plain, tracked;
  CHECK_OK(start(&plain, model, opt, 0, 0, NULL));
  CHECK_OK(descent_trainer_run(plain.t, 2, 0));
  unsigned cases[] = {DESCENT_TRACK_SHARPNESS, DESCENT_TRACK_GGN,   DESCENT_TRACK_NEGATIVE,
                      DESCENT_TRACK_NOISE,     DESCENT_TRACK_ALPHA, DESCENT_TRACK_LAYERS,
                      DESCENT_TRACK_ALL};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    CHECK_OK(start(&tracked, model, opt, cases[i], 1, NULL));
    CHECK_OK(descent_trainer_run(tracked.t, 2, 0));
    char what[128];
    descent_track_describe(cases[i], what, sizeof what);
    CHECK_MSG(same_params(&plain, &tracked), "%s, %s, tracking %s changed the parameters", model,
              opt, what);
    CHECK_MSG(tracked.measured[1] && tracked.measured[8], "%s: steps 1 and 8 measured", what);
    /* Each instrument's columns hold numbers at a step with a full batch. */
    size_t count;
    const char *const *names = descent_tracker_columns(tracked.tracker, &count);
    for (size_t c = 0; c < count; c++) {
      double v = tracked.rows[2][c];
      int may_be_nan = strcmp(names[c], "precond_top") == 0 ||
                       strcmp(names[c], "edge_ratio") == 0 ||
                       strcmp(names[c], "stability_limit") == 0 || strstr(names[c], ".dead");
      CHECK_MSG(may_be_nan || isfinite(v), "%s, %s: column %s is %g at step 2", model, what,
                names[c], v);
    }
    CHECK(cases[i] == DESCENT_TRACK_LAYERS || descent_tracker_cost(tracked.tracker) > 0);
    finish(&tracked);
  }
  finish(&plain);
}

static size_t column(const descent_tracker *t, const char *name) {
  size_t count;
  const char *const *names = descent_tracker_columns(t, &count);
  for (size_t i = 0; i < count; i++)
    if (strcmp(names[i], name) == 0) return i;
  return (size_t)-1;
}

/* The value of column name in row; NAN when there is no such column. */
static double at(const descent_tracker *t, const double *row, const char *name) {
  size_t i = column(t, name);
  CHECK_MSG(i != (size_t)-1, "no column %s", name);
  return i == (size_t)-1 ? NAN : row[i];
}

static void test_columns(void) {
  static run x;
  CHECK_OK(start(&x, mlp, "sgd", DESCENT_TRACK_ALL, 1, NULL));
  size_t count;
  const char *const *names = descent_tracker_columns(x.tracker, &count);
  const char *expected[] = {"step",
                            "epoch",
                            "lr",
                            "loss",
                            "cost",
                            "hessian_top",
                            "stability_limit",
                            "precond_top",
                            "edge_ratio",
                            "ggn_top",
                            "hessian_bottom",
                            "grad_norm",
                            "noise_trace",
                            "noise_scale",
                            "norm_test",
                            "inner_test",
                            "ortho_test",
                            "batch",
                            "alpha",
                            "step_norm",
                            "loss_after",
                            "layer1.dense.weight.grad_norm",
                            "layer1.dense.weight.update_ratio",
                            "layer1.dense.weight.distance",
                            "layer1.dense.bias.grad_norm"};
  size_t n = sizeof expected / sizeof *expected;
  CHECK(count ==
        21 + 3 * 6 + 3 + 2); /* 21 fixed, 6 tensors, relu (mean, std, dead), tanh (mean, std) */
  for (size_t i = 0; i < n && i < count; i++)
    CHECK_MSG(strcmp(names[i], expected[i]) == 0, "column %zu: %s, expected %s", i, names[i],
              expected[i]);
  CHECK(strcmp(names[count - 5], "layer2.relu.mean") == 0);
  CHECK(strcmp(names[count - 3], "layer2.relu.dead") == 0);
  CHECK(strcmp(names[count - 1], "layer5.tanh.std") == 0);

  /* One step: the row's fixed columns and alpha's loss_after. */
  CHECK_OK(descent_trainer_run(x.t, 1, 1));
  const double *row = descent_tracker_row(x.tracker, 1);
  CHECK(row != NULL && descent_tracker_row(x.tracker, 2) == NULL);
  if (row) {
    const double *losses;
    descent_trainer_history(x.t, NULL, &losses, NULL);
    CHECK(row[0] == 1 && row[1] == 1 && row[3] == losses[0]);
    CHECK(row[2] == descent_optimizer_lr(x.opt));
    CHECK(row[4] == descent_tracker_cost(x.tracker));
    CHECK(at(x.tracker, row, "batch") == BATCH);
    CHECK(at(x.tracker, row, "loss_after") < row[3]); /* a small SGD step goes down */
    /* Step 0 to step 1: the distance from the start is the update. */
    CHECK(at(x.tracker, row, "layer1.dense.weight.distance") > 0);
    double dead = at(x.tracker, row, "layer2.relu.dead");
    CHECK(dead >= 0 && dead <= 1);
  }
  finish(&x);
}

/* every 0: each tier measures at step 1, then once what it has spent is
   within its budget: alpha (one re-evaluation a measurement, 1/48) at 48
   and 96; with every instrument, the curvature (1/96) waits while the
   first-order tier goes on, and its rows say nan where the curvature was
   not measured. */
static void test_automatic(void) {
  static run x;
  CHECK_OK(start(&x, mlp, "sgd", DESCENT_TRACK_ALPHA, 0, NULL));
  CHECK(descent_tracker_every(x.tracker) == 1);
  CHECK_OK(descent_trainer_run(x.t, 100, 1));
  CHECK(descent_tracker_row(x.tracker, 1) != NULL);
  CHECK(descent_tracker_cost(x.tracker) == 1);
  CHECK_MSG(descent_tracker_every(x.tracker) == 47, "every %lld",
            (long long)descent_tracker_every(x.tracker));
  CHECK_OK(descent_trainer_run(x.t, 100, 97));
  for (int64_t s = 1; s <= 97; s++)
    CHECK_MSG(x.measured[s] == (s == 1 || s == 48 || s == 96), "step %lld", (long long)s);
  CHECK(descent_tracker_cost(x.tracker) == 3);
  finish(&x);

  CHECK_OK(start(&x, mlp, "sgd", DESCENT_TRACK_ALL, 0, NULL));
  CHECK_OK(descent_trainer_run(x.t, 100, 169));
  CHECK(x.measured[1]);
  CHECK(isfinite(at(x.tracker, x.rows[1], "hessian_top")));
  CHECK(isfinite(at(x.tracker, x.rows[1], "ggn_top")));
  CHECK(isfinite(at(x.tracker, x.rows[1], "alpha")));
  /* noise 1.5, alpha and layers 1 each: 3.5 at step 1, so the first-order
     tier measures again at step 3.5 x 48 = 168; the curvature not before
     96 x its cost. */
  double curvature = at(x.tracker, x.rows[1], "cost") - 3.5;
  CHECK(curvature > 0);
  for (int64_t s = 2; s <= 169; s++)
    CHECK_MSG(x.measured[s] == (s == 168), "step %lld", (long long)s);
  CHECK(isnan(at(x.tracker, x.rows[168], "hessian_top")));
  CHECK(isnan(at(x.tracker, x.rows[168], "ggn_top")));
  CHECK(isfinite(at(x.tracker, x.rows[168], "alpha")));
  CHECK(isfinite(at(x.tracker, x.rows[168], "noise_trace")));
  CHECK_MSG(fabs(at(x.tracker, x.rows[168], "cost") - 3.5) < 1e-9, "cost %g",
            at(x.tracker, x.rows[168], "cost"));
  finish(&x);
}

/* Saved at a mid-epoch step, resumed in fresh objects: the same rows. */
static void test_resume(const char *model, const char *opt, unsigned what, int64_t every) {
  static run a, b;
  empty_folder(tmp);
  char path[1200];
  snprintf(path, sizeof path, "%s/mid.dsc", tmp);
  CHECK_OK(start(&a, model, opt, what, every, NULL));
  CHECK_OK(descent_trainer_run(a.t, 100, 6)); /* step 6: 2 batches into epoch 2 */
  CHECK_OK(descent_trainer_save(a.t, path));
  CHECK_OK(descent_trainer_run(a.t, 100, 20));
  CHECK_OK(start(&b, model, opt, what, every, NULL));
  CHECK_OK(descent_trainer_load(b.t, path));
  CHECK_OK(descent_trainer_run(b.t, 100, 20));
  CHECK(same_params(&a, &b));
  int rows = 0;
  for (int s = 7; s <= 20; s++) {
    CHECK_MSG(a.measured[s] == b.measured[s], "step %d measured in one run only", s);
    if (!a.measured[s] || !b.measured[s]) continue;
    rows++;
    CHECK_MSG(memcmp(a.rows[s], b.rows[s], a.n_columns * sizeof(double)) == 0,
              "%s, %s: row of step %d differs after the resume", model, opt, s);
  }
  CHECK(rows >= 3);
  CHECK(descent_tracker_cost(a.tracker) == descent_tracker_cost(b.tracker));
  finish(&a);
  finish(&b);
}

/* ---- hostile TRAK sections ---------------------------------------------------- */

static uint64_t get_u64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static void put_le(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* The offset of section tag's header in a file (tag, u64 length, payload,
   u32 CRC), or 0. */
static size_t find_section(const unsigned char *d, size_t len, const char *tag) {
  for (size_t at = 16; at + 12 <= len;) {
    size_t n = (size_t)get_u64(d + at + 4);
    if (memcmp(d + at, tag, 4) == 0) return at;
    at += 12 + n + 4;
  }
  return 0;
}

/* A copy of the file with the TRAK payload changed by edit (which may
   shorten it by `cut` bytes), its length and CRC made right again. */
static unsigned char *edited(const unsigned char *d, size_t len, size_t *out_len,
                             void (*edit)(unsigned char *payload, size_t n), size_t cut) {
  size_t at = find_section(d, len, "TRAK");
  unsigned char *c = malloc(len);
  memcpy(c, d, len);
  size_t n = (size_t)get_u64(c + at + 4);
  edit(c + at + 12, n);
  if (cut == (size_t)-1) cut = n - 40; /* shorter than the fixed fields */
  n -= cut;
  put_le(c + at + 4, n, 8);
  memmove(c + at + 12 + n, c + at + 12 + n + cut, len - (at + 12 + n + cut));
  *out_len = len - cut;
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, c + at, (uInt)(12 + n));
  put_le(c + at + 12 + n, crc, 4);
  return c;
}

static void edit_version(unsigned char *p, size_t n) {
  put_le(p, 2, 4);
}
static void edit_params(unsigned char *p, size_t n) {
  put_le(p + 12, get_u64(p + 12) + 1, 8);
}
static void edit_next(unsigned char *p, size_t n) {
  put_le(p + 20, 0, 8);
}
static void edit_have(unsigned char *p, size_t n) {
  p[68] |= 0x10;
}
static void edit_nothing(unsigned char *p, size_t n) {
  (void)p;
}
static void edit_nan(unsigned char *p, size_t n) {
  memset(p + n - sizeof(descent_real), 0xff, sizeof(descent_real)); /* a NaN */
}
static void edit_cost(unsigned char *p, size_t n) {
  memset(p + 44, 0xff, 8);
}
/* A tier that spent more than the whole. */
static void edit_tier_cost(unsigned char *p, size_t n) {
  double big = 1e30;
  uint64_t bits;
  memcpy(&bits, &big, 8);
  put_le(p + 52, bits, 8);
}
static void edit_next_first_order(unsigned char *p, size_t n) {
  put_le(p + 28, 0, 8);
}

static void hostile_case(run *x, const char *path, const unsigned char *d, size_t len,
                         void (*edit)(unsigned char *, size_t), size_t cut, int status,
                         const char *needle) {
  size_t n;
  unsigned char *c = edited(d, len, &n, edit, cut);
  spit(path, c, n);
  free(c);
  descent_objective *obj = descent_net_objective(x->net);
  descent_real *before = malloc(obj->n_params * sizeof *before);
  memcpy(before, obj->params, obj->n_params * sizeof *before);
  int64_t steps = descent_trainer_steps(x->t);
  double cost = descent_tracker_cost(x->tracker);
  int64_t every = descent_tracker_every(x->tracker);
  CHECK_FAILS(descent_trainer_load(x->t, path), status, needle);
  CHECK(descent_trainer_steps(x->t) == steps);
  CHECK(memcmp(before, obj->params, obj->n_params * sizeof *before) == 0);
  CHECK(descent_tracker_cost(x->tracker) == cost && descent_tracker_every(x->tracker) == every);
  free(before);
}

static void test_hostile(void) {
  static run a, x, other;
  empty_folder(tmp);
  char path[1200], bad[1200];
  snprintf(path, sizeof path, "%s/good.dsc", tmp);
  snprintf(bad, sizeof bad, "%s/bad.dsc", tmp);
  unsigned what = DESCENT_TRACK_SHARPNESS | DESCENT_TRACK_LAYERS;
  CHECK_OK(start(&a, mlp, "adam", what, 2, NULL));
  CHECK_OK(descent_trainer_run(a.t, 100, 5));
  CHECK_OK(descent_trainer_save(a.t, path));
  size_t len;
  unsigned char *d = slurp(path, &len);
  CHECK(d && find_section(d, len, "TRAK") > 0);

  CHECK_OK(start(&x, mlp, "adam", what, 2, NULL));
  CHECK_OK(descent_trainer_run(x.t, 100, 3));
  hostile_case(&x, bad, d, len, edit_version, 0, DESCENT_ENOTSUP, "section 'TRAK' has version 2");
  hostile_case(&x, bad, d, len, edit_params, 0, DESCENT_EFORMAT, "section 'TRAK' is for");
  hostile_case(&x, bad, d, len, edit_next, 0, DESCENT_EFORMAT, "section 'TRAK' is corrupted");
  hostile_case(&x, bad, d, len, edit_cost, 0, DESCENT_EFORMAT, "section 'TRAK' is corrupted");
  hostile_case(&x, bad, d, len, edit_tier_cost, 0, DESCENT_EFORMAT, "section 'TRAK' is corrupted");
  hostile_case(&x, bad, d, len, edit_next_first_order, 0, DESCENT_EFORMAT,
               "section 'TRAK' is corrupted");
  hostile_case(&x, bad, d, len, edit_have, 0, DESCENT_EFORMAT, "warm starts");
  hostile_case(&x, bad, d, len, edit_nothing, 4, DESCENT_EFORMAT, "its fields say");
  hostile_case(&x, bad, d, len, edit_nothing, (size_t)-1, DESCENT_EFORMAT, "truncated");
  hostile_case(&x, bad, d, len, edit_nan, 0, DESCENT_EFORMAT, "holds NaN or Inf");
  /* The good file still loads into it. */
  CHECK_OK(descent_trainer_load(x.t, path));
  CHECK(descent_trainer_steps(x.t) == 5);
  finish(&x);

  /* Other instruments, or none, in the file. */
  CHECK_OK(start(&other, mlp, "adam", DESCENT_TRACK_ALPHA, 2, NULL));
  CHECK_FAILS(descent_trainer_load(other.t, path), DESCENT_EINVAL,
              "was measured with the instruments 'sharpness,layers'; this run tracks 'alpha'");
  finish(&other);
  CHECK_OK(start(&other, mlp, "adam", 0, 0, NULL));
  CHECK_OK(descent_trainer_load(other.t, path)); /* a run without instruments ignores them */
  CHECK_OK(descent_trainer_save(other.t, bad));
  finish(&other);
  CHECK_OK(start(&other, mlp, "adam", what, 2, NULL));
  CHECK_FAILS(descent_trainer_load(other.t, bad), DESCENT_EINVAL,
              "holds no instruments' state (section 'TRAK')");
  finish(&other);
  free(d);
  finish(&a);
}

/* ---- refusals -------------------------------------------------------------------- */

/* 1/2 |theta|^2 with only a gradient. */
static int bowl_value_and_grad(descent_objective *obj, const descent_batch *b, double *loss) {
  double s = 0;
  for (size_t i = 0; i < obj->n_params; i++) {
    obj->grad[i] = obj->params[i];
    s += 0.5 * (double)obj->params[i] * (double)obj->params[i];
  }
  *loss = s;
  return DESCENT_OK;
}

/* A program's own element-wise kind without the curvature products. */
static int copy_setup(const descent_layer_view *l, descent_layer_sizes *s) {
  return DESCENT_OK;
}

static void copy_forward(const descent_layer_view *l, const descent_real *params,
                         const descent_real *x, descent_real *y, size_t n, int train) {
  memcpy(y, x, n * l->in_size * sizeof *y);
}

static void copy_backward(const descent_layer_view *l, const descent_real *params,
                          const descent_real *x, const descent_real *y, const descent_real *dy,
                          descent_real *dx, descent_real *dparams, size_t n) {
  if (dx) memcpy(dx, dy, n * l->in_size * sizeof *dx);
}

static const descent_layer_kind copy_kind = {
    .name = "copy", .setup = copy_setup, .forward = copy_forward, .backward = copy_backward};

static void test_refusals(void) {
  static const descent_objective_ops bowl_ops = {.kind = "bowl",
                                                 .value_and_grad = bowl_value_and_grad};
  descent_real theta[3] = {1, 2, 3}, grad[3];
  descent_objective bowl = {.ops = &bowl_ops, .n_params = 3, .params = theta, .grad = grad};
  descent_optimizer *opt;
  CHECK_OK(descent_optimizer_create(&opt, "sgd", "0.1", 3));
  descent_track_options o;
  descent_track_options_default(&o);
  descent_tracker *t = NULL;
  o.what = DESCENT_TRACK_SHARPNESS;
  CHECK_FAILS(descent_tracker_create(&t, &bowl, opt, &o), DESCENT_ENOTSUP,
              "the instrument 'sharpness' needs Hessian-vector products (ops->hvp), which the "
              "bowl objective does not have");
  o.what = DESCENT_TRACK_GGN;
  CHECK_FAILS(descent_tracker_create(&t, &bowl, opt, &o), DESCENT_ENOTSUP,
              "'ggn' needs Gauss-Newton-vector products");
  o.what = DESCENT_TRACK_NOISE;
  CHECK_FAILS(descent_tracker_create(&t, &bowl, opt, &o), DESCENT_ENOTSUP,
              "'noise' needs per-example gradients (ops->example_gradients)");
  o.what = 1u << 9;
  CHECK_FAILS(descent_tracker_create(&t, &bowl, opt, &o), DESCENT_EINVAL, "instruments mask");
  o.what = DESCENT_TRACK_ALPHA;
  o.iterations = 0;
  CHECK_FAILS(descent_tracker_create(&t, &bowl, opt, &o), DESCENT_EINVAL, "iterations 0");
  o.iterations = 20;
  o.every = -1;
  CHECK_FAILS(descent_tracker_create(&t, &bowl, opt, &o), DESCENT_EINVAL, "every -1");
  o.every = 1;

  /* Alpha and layers work on any objective, here on the whole of it. */
  o.what = DESCENT_TRACK_ALPHA | DESCENT_TRACK_LAYERS;
  CHECK_OK(descent_tracker_create(&t, &bowl, opt, &o));
  descent_trainer_options to;
  descent_trainer_options_default(&to);
  to.tracker = t;
  to.steps_per_epoch = 3;
  descent_trainer *trainer;
  CHECK_OK(descent_trainer_create(&trainer, &bowl, opt, NULL, &to));
  CHECK_OK(descent_trainer_run(trainer, 1, 0));
  const double *row = descent_tracker_row(t, 3);
  /* SGD at 0.1 on curvature 1 lands 0.9 of the way short: t_min = 1/0.1. */
  CHECK(row && fabs(at(t, row, "alpha") - (0.1 - 1)) < 1e-6);
  CHECK(column(t, "params.distance") != (size_t)-1); /* no tensor table: one group */
  descent_trainer_free(trainer);

  /* A network with a layer that lacks the products: named at creation. */
  CHECK_OK(descent_layer_register(&copy_kind));
  descent_net *own;
  CHECK_OK(descent_net_create(&own, "dense(4), copy, dense(3)", &data.shape,
                              DESCENT_LOSS_SOFTMAX_XENT, BATCH, 3));
  o.what = DESCENT_TRACK_SHARPNESS;
  descent_tracker *refused = NULL;
  CHECK_FAILS(descent_tracker_create(&refused, descent_net_objective(own), opt, &o),
              DESCENT_ENOTSUP, "copy");
  o.what = DESCENT_TRACK_GGN;
  CHECK_FAILS(descent_tracker_create(&refused, descent_net_objective(own), opt, &o),
              DESCENT_ENOTSUP, "copy");
  CHECK(refused == NULL);
  o.what = DESCENT_TRACK_ALPHA | DESCENT_TRACK_LAYERS | DESCENT_TRACK_NOISE;
  CHECK_OK(descent_tracker_create(&refused, descent_net_objective(own), opt, &o));
  descent_tracker_free(refused);
  descent_net_free(own);
  o.what = DESCENT_TRACK_ALPHA | DESCENT_TRACK_LAYERS;

  /* A tracker of other objects, a full-batch optimizer over data. */
  descent_optimizer *gd;
  CHECK_OK(descent_optimizer_create(&gd, "gd", "0.1", 3));
  CHECK_FAILS(descent_trainer_create(&trainer, &bowl, gd, NULL, &to), DESCENT_EINVAL,
              "the tracker was made for another optimizer");
  descent_tracker_free(t);
  descent_net *net;
  CHECK_OK(descent_net_create(&net, mlp, &data.shape, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 3));
  descent_optimizer *gd_net;
  CHECK_OK(descent_optimizer_create(&gd_net, "gd", "0.1", descent_net_objective(net)->n_params));
  CHECK_OK(descent_tracker_create(&t, descent_net_objective(net), gd_net, &o));
  to.tracker = t;
  to.batch_size = BATCH;
  CHECK_FAILS(descent_trainer_create(&trainer, descent_net_objective(net), gd_net, &data, &to),
              DESCENT_EINVAL, "steps on the whole training set (no step batch)");
  descent_tracker_free(t);
  descent_optimizer_free(gd_net);
  descent_net_free(net);
  descent_optimizer_free(gd);
  descent_optimizer_free(opt);
}

/* A rollback restores the tracker with the rest: its cost is the one of
   the step rolled back to, and the rows go on from there. */
typedef struct rollback_run {
  descent_tracker *tracker;
  double cost_at[MAX_STEPS + 1];
  int rolled_back, cost_restored;
} rollback_run;

static void rollback_step(void *user, const descent_step_report *r) {
  rollback_run *x = user;
  if (r->step <= MAX_STEPS) x->cost_at[r->step] = descent_tracker_cost(x->tracker);
}

static void rollback_seen(void *user, const descent_divergence *d) {
  rollback_run *x = user;
  x->rolled_back++;
  x->cost_restored = d->restored_step >= 1 && d->restored_step <= MAX_STEPS &&
                     descent_tracker_cost(x->tracker) == x->cost_at[d->restored_step] &&
                     descent_tracker_row(x->tracker, d->step - 1) == NULL;
}

static void test_rollback(void) {
  static const descent_objective_ops bowl_ops = {.kind = "bowl",
                                                 .value_and_grad = bowl_value_and_grad};
  descent_real theta[3] = {1, 2, 3}, grad[3];
  descent_objective bowl = {.ops = &bowl_ops, .n_params = 3, .params = theta, .grad = grad};
  descent_optimizer *opt;
  CHECK_OK(descent_optimizer_create(&opt, "sgd", "2.5", 3)); /* |theta| x 1.5 a step */
  descent_track_options o;
  descent_track_options_default(&o);
  o.what = DESCENT_TRACK_ALPHA | DESCENT_TRACK_LAYERS;
  o.every = 1;
  static rollback_run x;
  memset(&x, 0, sizeof x);
  CHECK_OK(descent_tracker_create(&x.tracker, &bowl, opt, &o));
  descent_trainer_options to;
  descent_trainer_options_default(&to);
  to.tracker = x.tracker;
  to.steps_per_epoch = 20;
  to.checkpoint_every = 2;
  to.on_diverge = DESCENT_DIVERGE_ROLLBACK;
  to.on_step = rollback_step;
  to.on_rollback = rollback_seen;
  to.user = &x;
  descent_trainer *trainer;
  CHECK_OK(descent_trainer_create(&trainer, &bowl, opt, NULL, &to));
  CHECK_OK(descent_trainer_run(trainer, 1, 0));
  CHECK(x.rolled_back >= 1 && x.cost_restored);
  CHECK(descent_tracker_row(x.tracker, 20) != NULL);
  descent_trainer_free(trainer);
  descent_tracker_free(x.tracker);
  descent_optimizer_free(opt);
}

int main(void) {
  const char *base = getenv("DESCENT_TEST_TMP");
  snprintf(tmp, sizeof tmp, "%s", base ? base : "/tmp");
  make_data();
  test_alpha();
  test_names();
  test_refusals();
  test_rollback();
  test_columns();
  test_automatic();
  test_untouched(mlp, "momentum");
  test_untouched(mlp, "adam");
  test_untouched(cnn, "momentum");
  test_resume(mlp, "adam", DESCENT_TRACK_ALL, 3);
  test_resume(cnn, "momentum", DESCENT_TRACK_ALL, 2);
  test_hostile();
  printf("%d checks, %d failures\n", check_count, check_failures);
  return check_failures != 0;
}
