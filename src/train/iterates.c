/*
 * iterates.c - the run loop of the lab: an optimizer on an objective, recording every
 * iterate and its value, stopping at a target, an escape or a blow-up.
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
  if (o->iters < 0) return descent_fail(DESCENT_EINVAL, "run: iters must be >= 0");
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

int descent_run_iterates(descent_objective *obj, descent_optimizer *opt, const double *start,
                         const descent_run_options *opts, descent_trace *trace) {
  descent_error_clear();
  memset(trace, 0, sizeof *trace);
  descent_run_options defaults;
  if (!opts) {
    descent_run_options_default(&defaults);
    opts = &defaults;
  }
  size_t *indices = NULL;
  int rc = run_setup(obj, opts, trace, &indices);
  if (rc) goto done;
  const descent_problem_info *info = descent_problem_info_get(obj);
  size_t n = obj->n_params;
  if (start)
    for (size_t i = 0; i < n; i++) obj->params[i] = (descent_real)start[i];
  descent_rng rng;
  descent_rng_seed(&rng, opts->seed);
  double f0 = 0, f_min = trace->f_min;
  int64_t t = 0;
  for (;; t++) {
    double f;
    /* Full-gradient steps get the value and the gradient from one call. */
    rc = opts->batch_size ? descent_objective_value(obj, NULL, &f)
                          : descent_objective_value_and_grad(obj, NULL, &f);
    if (rc) goto done;
    trace->values[t] = f;
    if (trace->params)
      for (size_t i = 0; i < n; i++) trace->params[(size_t)t * n + i] = obj->params[i];
    if (t == 0) f0 = f;
    if (descent_run_diverged(f, f0, f_min, obj->params, n, opts)) {
      trace->diverged = 1;
      break;
    }
    if (trace->reached_at < 0 && opts->eps > 0 && !isnan(f_min) &&
        f - f_min <= opts->eps * (f0 - f_min)) {
      trace->reached_at = t;
      break;
    }
    if (f <= opts->escape_below) {
      trace->escaped_at = t;
      break;
    }
    if (t == opts->iters) break;
    if (opts->batch_size) {
      for (size_t k = 0; k < opts->batch_size; k++)
        indices[k] = (size_t)descent_rng_below(&rng, info->n_terms);
      descent_batch batch = {.n = opts->batch_size, .indices = indices};
      double batch_loss;
      rc = descent_objective_value_and_grad(obj, &batch, &batch_loss);
      if (rc) goto done;
    }
    if (opts->grad_noise > 0)
      for (size_t i = 0; i < n; i++)
        obj->grad[i] += (descent_real)(opts->grad_noise * descent_rng_normal(&rng));
    rc = descent_optimizer_step(opt, obj);
    if (rc) goto done;
  }
  trace->steps = t;
done:
  free(indices);
  if (rc) descent_trace_free(trace);
  return rc;
}
