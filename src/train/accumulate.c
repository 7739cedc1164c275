/*
 * accumulate.c - gradient accumulation (descent_objective_accumulate): an
 * objective that evaluates a batch as consecutive micro-batches of its inner
 * objective and returns their size-weighted mean, so a step can take a batch
 * larger than the inner objective's activations were made for.
 *
 * The micro-batches' gradients are summed in double, each times its share of
 * the batch, in data order (as the trainer's full-batch chunks are), and
 * rounded to the parameters' precision once. A batch that fits in one
 * micro-batch is handed to the inner objective as it is: the same bits as
 * without the wrapper.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct accumulate {
  descent_objective self; /* the inner objective's parameters, our gradient */
  descent_objective_ops ops;
  descent_objective *inner; /* not owned */
  size_t micro, features, outputs;
  double *sum; /* the weighted gradients' running sum */
} accumulate;

descent_batch descent_batch_slice(const descent_batch *b, size_t first, size_t count,
                                  size_t features, size_t outputs) {
  descent_batch s = {.n = count};
  if (b->x) s.x = b->x + first * features;
  if (b->labels) s.labels = b->labels + first;
  if (b->targets) s.targets = b->targets + first * outputs;
  if (b->indices) s.indices = b->indices + first;
  return s;
}

/* A batch whose inputs or targets the wrapper cannot cut: made without
   their widths. */
static int check_widths(const accumulate *a, const descent_batch *b) {
  int inputs = b->x && !a->features;
  if (inputs || (b->targets && !a->outputs))
    return descent_fail(DESCENT_EINVAL,
                        "accumulation: the batch has %s, but the objective was made with %s 0; "
                        "pass their width to descent_objective_accumulate",
                        inputs ? "inputs" : "targets", inputs ? "features" : "outputs");
  return DESCENT_OK;
}

/* The batch's loss, and its gradient into out (NULL: none), micro-batch by
   micro-batch through eval (the inner objective's value_and_grad or
   value). */
typedef int (*micro_eval)(descent_objective *inner, const descent_batch *b, double *loss);

static int accumulate_batch(accumulate *a, const descent_batch *b, micro_eval eval, double *loss,
                            descent_real *out) {
  int rc = check_widths(a, b);
  if (rc) return rc;
  descent_objective *in = a->inner;
  size_t n = in->n_params;
  double total = 0;
  for (size_t first = 0; first < b->n; first += a->micro) {
    size_t count = b->n - first < a->micro ? b->n - first : a->micro;
    descent_batch s = descent_batch_slice(b, first, count, a->features, a->outputs);
    double part, w = (double)count / (double)b->n;
    if ((rc = eval(in, &s, &part))) return rc;
    total += w * part;
    if (!out) continue;
    const descent_real *g = in->grad;
    if (first == 0)
      for (size_t i = 0; i < n; i++) a->sum[i] = w * (double)g[i];
    else
      for (size_t i = 0; i < n; i++) a->sum[i] += w * (double)g[i];
  }
  if (out)
    for (size_t i = 0; i < n; i++) out[i] = (descent_real)a->sum[i];
  *loss = total;
  return DESCENT_OK;
}

/* ---- the objective's operations ----------------------------------------------------- */

static int acc_value_and_grad(descent_objective *obj, const descent_batch *batch, double *loss) {
  accumulate *a = obj->impl;
  if (!batch || batch->n <= a->micro) { /* one micro-batch: the inner objective's own bits */
    int rc = descent_objective_value_and_grad(a->inner, batch, loss);
    if (!rc) memcpy(obj->grad, a->inner->grad, obj->n_params * sizeof *obj->grad);
    return rc;
  }
  return accumulate_batch(a, batch, descent_objective_value_and_grad, loss, obj->grad);
}

static int acc_value(descent_objective *obj, const descent_batch *batch, double *loss) {
  accumulate *a = obj->impl;
  if (!batch || batch->n <= a->micro) return descent_objective_value(a->inner, batch, loss);
  return accumulate_batch(a, batch, descent_objective_value, loss, NULL);
}

/* An inner objective without randomness or state (no reevaluate of its
   own) gives the same values when evaluated again, micro-batch by
   micro-batch. One with them can replay its last evaluation only: the last
   micro-batch's, not the batch's. */
static int acc_reevaluate(descent_objective *obj, const descent_batch *batch, double *loss,
                          descent_real *grad) {
  accumulate *a = obj->impl;
  if (!batch || batch->n <= a->micro)
    return descent_objective_reevaluate(a->inner, batch, loss, grad);
  if (a->inner->ops->reevaluate)
    return descent_fail(DESCENT_ENOTSUP,
                        "accumulation: re-evaluating a batch of %zu examples in micro-batches of "
                        "%zu needs each micro-batch's randomness, and the %s replays only its "
                        "last evaluation; use a chain optimizer (one evaluation per step) or "
                        "micro-batches as large as the batch",
                        batch->n, a->micro,
                        a->inner->ops->kind ? a->inner->ops->kind : "objective");
  return accumulate_batch(a, batch, descent_objective_value_and_grad, loss, grad);
}

static int acc_check_data(const descent_objective *obj, const descent_dataset *ds) {
  const accumulate *a = obj->impl;
  if ((ds->x || ds->bytes) && ds->features != a->features)
    return descent_fail(DESCENT_EINVAL,
                        "accumulation: the data's examples have %zu features, the objective was "
                        "made to cut batches of %zu",
                        ds->features, a->features);
  const descent_objective *in = a->inner;
  return in->ops->check_data ? in->ops->check_data(in, ds) : DESCENT_OK;
}

/* The state is the inner objective's: checkpoints are interchangeable with
   its own. */
static int acc_save_state(const descent_objective *obj, descent_section_writer *w) {
  const descent_objective *in = ((const accumulate *)obj->impl)->inner;
  return in->ops->save_state ? in->ops->save_state(in, w) : DESCENT_OK;
}

static int acc_check_state(const descent_objective *obj, const descent_section_reader *r) {
  const descent_objective *in = ((const accumulate *)obj->impl)->inner;
  return in->ops->check_state ? in->ops->check_state(in, r) : DESCENT_OK;
}

static int acc_load_state(descent_objective *obj, const descent_section_reader *r) {
  descent_objective *in = ((accumulate *)obj->impl)->inner;
  return in->ops->load_state ? in->ops->load_state(in, r) : DESCENT_OK;
}

static void acc_destroy(descent_objective *obj) {
  accumulate *a = obj->impl;
  free(a->sum);
  descent_free_real(a->self.grad);
  free(a);
}

/* ---- creation ----------------------------------------------------------------------- */

static int check_arguments(descent_objective **out, const descent_objective *inner,
                           size_t micro_batch) {
  if (!out || !inner || !inner->ops || !inner->ops->value_and_grad)
    return descent_fail(DESCENT_EINVAL,
                        "descent_objective_accumulate: a NULL argument or an inner objective "
                        "without value_and_grad");
  if (micro_batch == 0)
    return descent_fail(DESCENT_EINVAL,
                        "descent_objective_accumulate: micro_batch is 0; valid: 1 or more");
  size_t limit = inner->ops->max_batch ? inner->ops->max_batch(inner) : 0;
  if (limit && micro_batch > limit)
    return descent_fail(DESCENT_EINVAL,
                        "descent_objective_accumulate: micro-batches of %zu, the %s takes at "
                        "most %zu",
                        micro_batch, inner->ops->kind ? inner->ops->kind : "objective", limit);
  return DESCENT_OK;
}

int descent_objective_accumulate(descent_objective **out, descent_objective *inner,
                                 size_t micro_batch, size_t features, size_t outputs) {
  descent_error_clear();
  if (out) *out = NULL;
  int rc = check_arguments(out, inner, micro_batch);
  if (rc) return rc;
  accumulate *a = descent_calloc(1, sizeof *a, "accumulation");
  if (!a) return DESCENT_ENOMEM;
  size_t n = inner->n_params ? inner->n_params : 1;
  a->inner = inner;
  a->micro = micro_batch, a->features = features, a->outputs = outputs;
  a->sum = descent_calloc(n, sizeof *a->sum, "accumulation: the gradient's sum");
  a->self.grad = a->sum ? descent_alloc_real(n, "accumulation: the gradient") : NULL;
  if (!a->self.grad) {
    free(a->sum);
    free(a);
    return DESCENT_ENOMEM;
  }
  /* What the inner objective does on a batch (curvature products,
     per-example gradients) is not summed over micro-batches: left out,
     so the methods that need them are refused at a trainer's start. */
  a->ops = (descent_objective_ops){.kind = inner->ops->kind,
                                   .value_and_grad = acc_value_and_grad,
                                   .value = acc_value,
                                   .destroy = acc_destroy,
                                   .check_data = acc_check_data,
                                   .save_state = acc_save_state,
                                   .check_state = acc_check_state,
                                   .load_state = acc_load_state,
                                   .reevaluate = acc_reevaluate};
  a->self.ops = &a->ops;
  a->self.n_params = inner->n_params;
  a->self.params = inner->params;
  a->self.n_tensors = inner->n_tensors;
  a->self.tensors = inner->tensors;
  a->self.impl = a;
  *out = &a->self;
  return DESCENT_OK;
}
