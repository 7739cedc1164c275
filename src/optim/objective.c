/*
 * objective.c - calling an objective (value, gradient, deterministic
 * re-evaluation, curvature-vector products, per-example gradients), and
 * checking its gradient against central finite differences.
 */
#include "internal.h"
#include "nn/network_internal.h"
#include "problems/problem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int descent_objective_value_and_grad(descent_objective *obj, const descent_batch *batch,
                                     double *loss) {
  return obj->ops->value_and_grad(obj, batch, loss);
}

int descent_objective_value(descent_objective *obj, const descent_batch *batch, double *loss) {
  if (obj->ops->value) return obj->ops->value(obj, batch, loss);
  return obj->ops->value_and_grad(obj, batch, loss);
}

int descent_objective_reevaluate(descent_objective *obj, const descent_batch *batch, double *loss,
                                 descent_real *grad) {
  if (obj->ops->reevaluate) return obj->ops->reevaluate(obj, batch, loss, grad);
  int rc = obj->ops->value_and_grad(obj, batch, loss);
  if (!rc && grad && grad != obj->grad) memcpy(grad, obj->grad, obj->n_params * sizeof *grad);
  return rc;
}

/* Both products share the refusal of an objective without them. */
static int product(descent_objective *obj, const descent_batch *batch, const descent_real *v,
                   descent_real *out, int ggn) {
  int (*fn)(descent_objective *, const descent_batch *, const descent_real *, descent_real *) =
      ggn ? obj->ops->ggnvp : obj->ops->hvp;
  if (!fn)
    return descent_fail(DESCENT_ENOTSUP,
                        "objective '%s' offers no %s-vector product; use an objective that "
                        "does (a network, a lab problem)",
                        obj->ops->kind ? obj->ops->kind : "(unnamed)",
                        ggn ? "Gauss-Newton" : "Hessian");
  return fn(obj, batch, v, out);
}

int descent_objective_hvp(descent_objective *obj, const descent_batch *batch, const descent_real *v,
                          descent_real *out) {
  return product(obj, batch, v, out, 0);
}

int descent_objective_ggnvp(descent_objective *obj, const descent_batch *batch,
                            const descent_real *v, descent_real *out) {
  return product(obj, batch, v, out, 1);
}

int descent_objective_ggn_diagonal(descent_objective *obj, const descent_batch *batch,
                                   size_t samples, uint64_t seed, descent_real *out) {
  if (!obj->ops->ggn_diagonal)
    return descent_fail(DESCENT_ENOTSUP,
                        "objective '%s' offers no Gauss-Newton diagonal; use one that does (a "
                        "network of dense and conv layers)",
                        obj->ops->kind ? obj->ops->kind : "(unnamed)");
  return obj->ops->ggn_diagonal(obj, batch, samples, seed, out);
}

/* The refusal of an objective without per-example gradients. */
static int no_example_gradients(const descent_objective *obj) {
  return descent_fail(DESCENT_ENOTSUP,
                      "objective '%s' offers no per-example gradients; use one that does (a "
                      "network of dense, conv and batchnorm layers, or the lab's linreg and "
                      "finite_sum)",
                      obj && obj->ops && obj->ops->kind ? obj->ops->kind : "(unnamed)");
}

int descent_objective_example_gradients(descent_objective *obj, const descent_batch *batch,
                                        const descent_real *v, double *sq, double *dot) {
  if (!obj->ops->example_gradients) return no_example_gradients(obj);
  return obj->ops->example_gradients(obj, batch, v, sq, dot);
}

/* A network and a lab problem know at creation whether their calls can
   succeed; any other objective that has the operation is taken at its word. */
int descent_objective_check_example_gradients(const descent_objective *obj) {
  if (!obj || !obj->ops || !obj->ops->example_gradients) return no_example_gradients(obj);
  if (obj->ops->example_gradients == net_example_gradients)
    return net_check_example_gradients(obj->impl);
  return problem_check_example_gradients(obj);
}

int descent_gradcheck(descent_objective *obj, const descent_batch *batch, double h, double floor,
                      size_t probes, uint64_t seed, descent_gradcheck_result *result) {
  descent_error_clear();
  if (!(h > 0) || !(floor > 0))
    return descent_fail(DESCENT_EINVAL, "gradient check: h and floor must be positive");
  memset(result, 0, sizeof *result);
  size_t n = obj->n_params;
  double loss;
  int rc = descent_objective_value_and_grad(obj, batch, &loss);
  if (rc) return rc;
  /* The value calls below may reuse the gradient buffer, so keep a copy. */
  double *analytic = descent_calloc(n ? n : 1, sizeof *analytic, "gradient check");
  if (!analytic) return DESCENT_ENOMEM;
  for (size_t i = 0; i < n; i++) analytic[i] = obj->grad[i];
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  size_t count = probes && probes < n ? probes : n;
  for (size_t c = 0; c < count && !rc; c++) {
    size_t i = count == n ? c : (size_t)descent_rng_below(&rng, n);
    descent_real saved = obj->params[i];
    double plus, minus;
    obj->params[i] = (descent_real)(saved + h);
    rc = descent_objective_value(obj, batch, &plus);
    obj->params[i] = (descent_real)(saved - h);
    if (!rc) rc = descent_objective_value(obj, batch, &minus);
    obj->params[i] = saved;
    if (rc) break;
    double numeric = (plus - minus) / (2 * h);
    double err = fabs(analytic[i] - numeric) / fmax(floor, fmax(fabs(analytic[i]), fabs(numeric)));
    if (err > result->max_rel_error || result->checked == 0) {
      result->max_rel_error = err;
      result->worst_index = i;
      result->analytic = analytic[i];
      result->numeric = numeric;
    }
    result->checked++;
  }
  /* Leave the analytic gradient in place, as if value_and_grad was the last call. */
  for (size_t i = 0; i < n; i++) obj->grad[i] = (descent_real)analytic[i];
  free(analytic);
  return rc;
}
