/*
 * lr_find.c - Leslie Smith's learning-rate range test (Smith 2017, "Cyclical
 * Learning Rates for Training Neural Networks", section 3.3), with the
 * conventions of fastai and torch-lr-finder: the rate grows exponentially
 * from start to end over a fixed number of minibatch steps, each step's loss
 * is smoothed by a bias-corrected exponential moving average, and the test
 * stops once the smoothed loss passes stop_factor times its best.
 *
 * The rate is set through descent_optimizer_set_lr_scale before every step,
 * so any chain that ends in a rate works unchanged. The objective, the
 * optimizer and their state are put back as they were afterwards: a program
 * trains from the same starting point after the test.
 */
#include "internal.h"
#include "nn/model_io.h"
#include "train/trainer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void descent_lr_find_options_default(descent_lr_find_options *o) {
  o->start = 1e-7;
  o->end = 10;
  o->steps = 100;
  o->smoothing = 0.98;
  o->stop_factor = 4;
}

void descent_lr_find_result_free(descent_lr_find_result *r) {
  if (!r) return;
  free(r->lr);
  free(r->loss);
  free(r->smoothed);
  memset(r, 0, sizeof *r);
}

static int check_options(const descent_lr_find_options *o) {
  if (!(o->start > 0) || !isfinite(o->start) || !(o->end > o->start) || !isfinite(o->end))
    return descent_fail(DESCENT_EINVAL,
                        "lr_find: start %g and end %g: give finite rates with 0 < start < end",
                        o->start, o->end);
  if (o->steps < 2 || o->steps > 100000000)
    return descent_fail(DESCENT_EINVAL, "lr_find: steps %lld: give 2 to 100000000",
                        (long long)o->steps);
  if (!(o->smoothing >= 0 && o->smoothing < 1))
    return descent_fail(DESCENT_EINVAL, "lr_find: smoothing %g: give a number in [0, 1)",
                        o->smoothing);
  if (!(o->stop_factor > 1) || !isfinite(o->stop_factor))
    return descent_fail(DESCENT_EINVAL, "lr_find: stop_factor %g: give a finite number above 1",
                        o->stop_factor);
  return DESCENT_OK;
}

/* ---- the suggestions ------------------------------------------------------ */

/* Points the steepest descent is not looked for among (see below). */
#define LR_FIND_SKIP_START 10

int descent_lr_find_suggest(const double *lr, const double *smoothed, int64_t n, int64_t *steepest,
                            int64_t *minimum) {
  descent_error_clear();
  *steepest = *minimum = -1;
  if (!lr || !smoothed || n < 0)
    return descent_fail(DESCENT_EINVAL, "lr_find_suggest: NULL curve or negative length");
  int64_t m = -1;
  for (int64_t i = 0; i < n; i++)
    if (isfinite(smoothed[i]) && (m < 0 || smoothed[i] < smoothed[m])) m = i;
  *minimum = m;
  if (m < 1) return DESCENT_OK; /* no descent to measure */
  /* np.gradient of the smoothed loss over log(lr) on points 0..m: central
     differences inside, one-sided ones at both ends. The steepest point is
     looked for from point LR_FIND_SKIP_START on (torch-lr-finder's
     skip_start = 10; at most half the way to the minimum): the first
     points' smoothed loss is an average of a few batches, whose
     batch-to-batch noise over the short steps of log(lr) there outweighs the
     descent itself (on the default MLP, one thread: 1.45e-7 suggested
     instead of about 0.1). */
  int64_t skip = m / 2 < LR_FIND_SKIP_START ? m / 2 : LR_FIND_SKIP_START;
  double best = INFINITY;
  for (int64_t i = skip; i <= m; i++) {
    int64_t a = i > 0 ? i - 1 : 0, b = i < m ? i + 1 : m;
    double dx = log(lr[b]) - log(lr[a]);
    double slope = (smoothed[b] - smoothed[a]) / dx;
    if (isfinite(slope) && slope < best) best = slope, *steepest = i;
  }
  return DESCENT_OK;
}

/* ---- what is put back afterwards ----------------------------------------- */

typedef struct saved_start {
  descent_real *params;
  unsigned char *opt_state;
  size_t opt_size;
  double lr_scale;
  bytes_out obj_state; /* the objective's own sections, as a checkpoint file */
} saved_start;

static int save_start(saved_start *s, descent_objective *obj, const descent_optimizer *opt) {
  s->lr_scale = descent_optimizer_lr_scale(opt);
  s->params = malloc(obj->n_params * sizeof *s->params);
  s->opt_size = descent_optimizer_state_size(opt);
  s->opt_state = malloc(s->opt_size);
  if (!s->params || !s->opt_state)
    return descent_fail_alloc("lr_find: a copy of the starting point",
                              obj->n_params * sizeof *s->params + s->opt_size);
  memcpy(s->params, obj->params, obj->n_params * sizeof *s->params);
  int rc = descent_optimizer_save_state(opt, s->opt_state, s->opt_size);
  if (rc || !obj->ops->save_state) return rc;
  descent_section_writer w = {.out = &s->obj_state};
  out_bytes(w.out, MODEL_MAGIC, 8);
  out_u32(w.out, MODEL_VERSION);
  out_u32(w.out, 0);
  rc = obj->ops->save_state(obj, &w);
  model_file_finish(w.out);
  if (!rc && w.out->failed)
    rc = descent_fail_alloc("lr_find: the objective's state", w.out->len + 1);
  return rc;
}

static int restore_start(const saved_start *s, descent_objective *obj, descent_optimizer *opt) {
  memcpy(obj->params, s->params, obj->n_params * sizeof *s->params);
  int rc = descent_optimizer_load_state(opt, s->opt_state, s->opt_size);
  if (!rc) rc = descent_optimizer_set_lr_scale(opt, s->lr_scale);
  if (rc || !obj->ops->save_state || !obj->ops->load_state) return rc;
  model_section sections[MODEL_MAX_SECTIONS];
  size_t count = 0;
  const char *name = "lr_find's copy of the objective's state";
  rc = model_file_sections(s->obj_state.data, s->obj_state.len, name, sections, &count);
  descent_section_reader r = {.sections = sections, .count = count, .name = name};
  if (!rc && obj->ops->check_state) rc = obj->ops->check_state(obj, &r);
  if (!rc) rc = obj->ops->load_state(obj, &r);
  return rc;
}

static void free_start(saved_start *s) {
  free(s->params);
  free(s->opt_state);
  free(s->obj_state.data);
}

/* ---- the test ------------------------------------------------------------- */

static int check_optimizer(const descent_optimizer *opt) {
  if (descent_optimizer_is_method(opt))
    return descent_fail(DESCENT_EINVAL,
                        "lr_find: the optimizer is a method that evaluates the objective (or its "
                        "curvature) within its steps; the range test sweeps the rate of a "
                        "first-order chain (sgd, momentum, adam, ...)");
  if (descent_optimizer_lr(opt) <= 0)
    return descent_fail(DESCENT_EINVAL,
                        "lr_find: the optimizer's first rate is 0 (a warmup from 0?); give a "
                        "chain whose rate is positive at its first step, e.g. a constant lr");
  return DESCENT_OK;
}

/* Sets the rate of the next step to lr: the scale that makes the schedule's
   value there lr. */
static int set_rate(descent_optimizer *opt, double lr) {
  double unscaled = descent_optimizer_lr(opt) / descent_optimizer_lr_scale(opt);
  if (!(unscaled > 0) || !isfinite(unscaled))
    return descent_fail(DESCENT_EINVAL,
                        "lr_find: the schedule's rate at step %lld is %g; the range test needs a "
                        "positive rate at every step (use a constant lr)",
                        (long long)descent_optimizer_steps(opt), unscaled);
  return descent_optimizer_set_lr_scale(opt, lr / unscaled);
}

static int next_batch(descent_batcher *b, descent_batch *batch, const descent_batch **use) {
  *use = NULL;
  if (!b) return DESCENT_OK;
  if (!descent_batcher_next(b, batch) && !descent_batcher_next(b, batch))
    return descent_fail(DESCENT_EINVAL, "lr_find: the batcher gave no batch");
  *use = batch;
  return DESCENT_OK;
}

static int run_test(descent_objective *obj, descent_optimizer *opt, descent_batcher *batcher,
                    const descent_lr_find_options *o, descent_lr_find_result *r) {
  double ratio = o->end / o->start, avg = 0, best = INFINITY, beta = o->smoothing;
  for (int64_t i = 0; i < o->steps; i++) {
    double lr = o->start * pow(ratio, (double)i / (double)(o->steps - 1));
    descent_batch batch;
    const descent_batch *use;
    int rc = set_rate(opt, lr);
    if (!rc) rc = next_batch(batcher, &batch, &use);
    r->lr[i] = descent_optimizer_lr(opt);
    descent_step_info info;
    if (!rc) rc = descent_optimizer_step_closure(opt, obj, use, &info);
    if (rc) return rc;
    double loss = info.loss;
    avg = beta * avg + (1 - beta) * loss;
    double smoothed = avg / (1 - pow(beta, (double)(i + 1)));
    r->loss[i] = loss;
    r->smoothed[i] = smoothed;
    r->n = i + 1;
    if (!isfinite(smoothed) || smoothed > o->stop_factor * best) {
      r->stopped = 1;
      break;
    }
    if (smoothed < best) best = smoothed;
  }
  return DESCENT_OK;
}

int descent_lr_find(descent_objective *obj, descent_optimizer *opt, descent_batcher *batcher,
                    const descent_lr_find_options *options, descent_lr_find_result *out) {
  descent_error_clear();
  if (!out) return descent_fail(DESCENT_EINVAL, "lr_find: the result is NULL");
  memset(out, 0, sizeof *out);
  out->steepest = out->minimum = -1;
  out->lr_steepest = out->lr_minimum = out->lr_min_div10 = NAN;
  if (!obj || !opt) return descent_fail(DESCENT_EINVAL, "lr_find: NULL objective or optimizer");
  descent_lr_find_options o;
  if (options)
    o = *options;
  else
    descent_lr_find_options_default(&o);
  int rc = check_options(&o);
  if (!rc) rc = check_optimizer(opt);
  if (!rc) rc = descent_optimizer_check_objective(opt, obj);
  if (rc) return rc;
  size_t n = (size_t)o.steps;
  out->lr = malloc(n * sizeof *out->lr);
  out->loss = malloc(n * sizeof *out->loss);
  out->smoothed = malloc(n * sizeof *out->smoothed);
  saved_start s = {0};
  if (!out->lr || !out->loss || !out->smoothed)
    rc = descent_fail_alloc("lr_find: a curve", 3 * n * sizeof *out->lr);
  if (!rc) rc = save_start(&s, obj, opt);
  if (!rc) {
    rc = run_test(obj, opt, batcher, &o, out);
    /* Put back even after a failed step; its message is the one to keep. */
    char message[1024];
    snprintf(message, sizeof message, "%s", descent_last_error());
    int back = restore_start(&s, obj, opt);
    if (rc)
      descent_fail(rc, "%s", message);
    else
      rc = back;
  }
  free_start(&s);
  if (!rc)
    rc = descent_lr_find_suggest(out->lr, out->smoothed, out->n, &out->steepest, &out->minimum);
  if (rc) {
    descent_lr_find_result_free(out);
    out->steepest = out->minimum = -1;
    out->lr_steepest = out->lr_minimum = out->lr_min_div10 = NAN;
    return rc;
  }
  if (out->steepest >= 0) out->lr_steepest = out->lr[out->steepest];
  if (out->minimum >= 0) {
    out->lr_minimum = out->lr[out->minimum];
    out->lr_min_div10 = out->lr_minimum / 10;
  }
  return DESCENT_OK;
}
