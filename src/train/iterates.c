/*
 * iterates.c - the run loop of the lab: an optimizer on an objective, recording every
 * iterate and its value, stopping at a target, an escape or a blow-up.
 *
 * The steps are the trainer's (trainer.c): this file only supplies its hooks
 * (the batch draws, the gradient noise, the record of every iterate and the
 * stop tests), so the codebase has one training loop.
 *
 * The lecture's pictures are made of iterates, so the loop keeps them all
 * (values always, parameters on request) instead of only the last one. The
 * value recorded is always the whole objective's, even when the steps use
 * stochastic batches: the noise floor of SGD is a statement about f, not
 * about the batch losses.
 */
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void descent_run_options_default(descent_run_options *o) {
  memset(o, 0, sizeof *o);
  o->iters = 1000;
  o->seed = 1;
  o->f_min = NAN;
  o->escape_below = -INFINITY;
  o->blowup = 1e6;
  o->param_bound = 1e12;
}

void descent_trace_free(descent_trace *trace) {
  if (!trace) return;
  free(trace->values);
  free(trace->params);
  memset(trace, 0, sizeof *trace);
}

int descent_run_diverged(double f, double f0, double f_min, const descent_real *theta, size_t n,
                         const descent_run_options *opts) {
  if (!isfinite(f)) return 1;
  for (size_t i = 0; i < n; i++)
    if (!isfinite((double)theta[i]) || fabs((double)theta[i]) > opts->param_bound) return 1;
  /* Compare the gap to the optimum with the starting gap when the optimum is
     known, else the rise with the starting value's size. */
  double ref = isnan(f_min) ? f0 : f_min, gap0 = isnan(f_min) ? fmax(fabs(f0), 1) : f0 - f_min;
  return gap0 > 0 && f - ref > opts->blowup * gap0;
}

int64_t descent_trace_iterations_to(const descent_trace *trace, double f_min, double eps) {
  if (!trace->values || isnan(f_min)) return -1;
  double target = eps * (trace->values[0] - f_min);
  for (int64_t t = 0; t <= trace->steps; t++)
    if (trace->values[t] - f_min <= target) return t;
  return -1;
}

static int run_setup(descent_objective *obj, const descent_run_options *o, descent_trace *trace,
                     size_t **indices) {
  const descent_problem_info *info = descent_problem_info_get(obj);
  if (o->iters < 0 || o->iters == INT64_MAX)
    return descent_fail(DESCENT_EINVAL, "run: iters must be >= 0 (and below 2^63 - 1)");
  if (o->batch_size > 0 && !(info && info->n_terms > 0))
    return descent_fail(DESCENT_EINVAL,
                        "run: batch_size %zu needs a finite sum (linreg, finite_sum) to draw "
                        "terms from",
                        o->batch_size);
  size_t count = (size_t)o->iters + 1, cells;
  trace->dim = obj->n_params;
  trace->f_min = !isnan(o->f_min) ? o->f_min : info && info->bounded ? info->f_min : NAN;
  trace->reached_at = trace->escaped_at = -1;
  trace->values = descent_calloc(count, sizeof *trace->values, "run values");
  if (!trace->values) return DESCENT_ENOMEM;
  if (o->record_params) {
    if (!descent_mul_ok(count, obj->n_params, &cells))
      return descent_fail(DESCENT_ERANGE, "run: %zu iterates of %zu parameters overflow", count,
                          obj->n_params);
    trace->params = descent_calloc(cells, sizeof *trace->params, "run iterates");
    if (!trace->params) return DESCENT_ENOMEM;
  }
  trace->cap = count;
  if (o->batch_size > 0) {
    *indices = descent_calloc(o->batch_size, sizeof **indices, "run batch");
    if (!*indices) return DESCENT_ENOMEM;
  }
  return DESCENT_OK;
}

/* One run: the trainer takes the steps; these hooks record every iterate,
   draw the batches, add the noise and say when to stop. */
typedef struct iterates_run {
  descent_objective *obj;
  const descent_run_options *o;
  const descent_problem_info *info;
  descent_trace *trace;
  descent_rng rng; /* draws the terms, then the noise, in that order each step */
  size_t *indices;
  double f0;
  int64_t t; /* the iterate recorded next */
} iterates_run;

/* Records f(theta_t); 1 when the run ends at this iterate. */
static int record_iterate(iterates_run *r, double f) {
  descent_trace *trace = r->trace;
  descent_objective *obj = r->obj;
  size_t n = obj->n_params;
  int64_t t = r->t;
  trace->values[t] = f;
  if (trace->params)
    for (size_t i = 0; i < n; i++) trace->params[(size_t)t * n + i] = obj->params[i];
  if (t == 0) r->f0 = f;
  double f_min = trace->f_min;
  trace->steps = t;
  if (descent_run_diverged(f, r->f0, f_min, obj->params, n, r->o)) {
    trace->diverged = 1;
    return 1;
  }
  if (trace->reached_at < 0 && r->o->eps > 0 && !isnan(f_min) &&
      f - f_min <= r->o->eps * (r->f0 - f_min)) {
    trace->reached_at = t;
    return 1;
  }
  if (f <= r->o->escape_below) {
    trace->escaped_at = t;
    return 1;
  }
  if (t == r->o->iters) return 1;
  r->t++;
  return 0;
}

/* Batches of terms: the iterate's whole value first, then the draw. */
static int draw_batch(void *user, descent_batch *b) {
  iterates_run *r = user;
  double f;
  int rc = descent_objective_value(r->obj, NULL, &f);
  if (rc) return rc;
  if (record_iterate(r, f)) return 1;
  for (size_t k = 0; k < r->o->batch_size; k++)
    r->indices[k] = (size_t)descent_rng_below(&r->rng, r->info->n_terms);
  *b = (descent_batch){.n = r->o->batch_size, .indices = r->indices};
  return DESCENT_OK;
}

/* Between gradient and step: a full gradient's loss is the iterate's value;
   the noise is added; a gradient that is not finite ends the run as
   diverged (the trainer's guard would refuse the step). */
static int perturb_gradient(void *user, descent_objective *obj, const descent_batch *batch,
                            double *loss) {
  iterates_run *r = user;
  if (!batch && record_iterate(r, *loss)) return 1;
  size_t n = obj->n_params;
  if (r->o->grad_noise > 0)
    for (size_t i = 0; i < n; i++)
      obj->grad[i] += (descent_real)(r->o->grad_noise * descent_rng_normal(&r->rng));
  int finite = isfinite(*loss);
  for (size_t i = 0; i < n && finite; i++) finite = isfinite((double)obj->grad[i]);
  if (!finite) {
    r->trace->diverged = 1;
    return 1;
  }
  return DESCENT_OK;
}

int descent_run_iterates(descent_objective *obj, descent_optimizer *opt, const double *start,
                         const descent_run_options *opts, descent_trace *trace) {
  descent_error_clear();
  memset(trace, 0, sizeof *trace);
  descent_run_options defaults;
  if (!opts) {
    descent_run_options_default(&defaults);
    opts = &defaults;
  }
  iterates_run r = {.obj = obj, .o = opts, .trace = trace, .info = descent_problem_info_get(obj)};
  descent_trainer *trainer = NULL;
  int rc = run_setup(obj, opts, trace, &r.indices);
  if (rc) goto done;
  if (start)
    for (size_t i = 0; i < obj->n_params; i++) obj->params[i] = (descent_real)start[i];
  descent_rng_seed(&r.rng, opts->seed);
  /* No data set: each step is on the whole objective or on drawn terms; one
     epoch long enough for every iterate; the run's own tests decide
     divergence, so the guard's loss bound is off. */
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.steps_per_epoch = opts->iters + 1;
  o.checkpoint_epochs = 0;
  o.max_loss = INFINITY;
  o.next_batch = opts->batch_size ? draw_batch : NULL;
  o.on_gradient = perturb_gradient;
  o.user = &r;
  rc = descent_trainer_create(&trainer, obj, opt, NULL, &o);
  if (!rc) rc = descent_trainer_run(trainer, 1, 0);
  if (rc > 0) rc = DESCENT_OK; /* a hook ended the run */
done:
  descent_trainer_free(trainer);
  free(r.indices);
  if (rc) descent_trace_free(trace);
  return rc;
}
