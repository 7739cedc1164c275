/*
 * network.c - a sequential network as an objective.
 *
 * Memory is laid out once, at creation: the flat parameter and gradient
 * buffers (each layer owns a slice), the flat array of non-learned buffers
 * (batch-norm statistics), one activation buffer per layer sized for
 * max_batch, each layer's scratch, one work area shared by all layers, and two
 * ping-pong buffers for the backward pass. A training step then allocates
 * nothing.
 */
#include "network_internal.h"

#include "core/sgemm_bf16.h"
#include "loss.h"
#include "model_io.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static int net_value_and_grad(descent_objective *obj, const descent_batch *batch, double *loss);
static int net_value(descent_objective *obj, const descent_batch *batch, double *loss);

static size_t net_max_batch(const descent_objective *obj) {
  return ((const descent_net *)obj->impl)->max_batch;
}

static int net_check_data(const descent_objective *obj, const descent_dataset *ds) {
  const descent_net *net = obj->impl;
  if (net->input_size != ds->features)
    return descent_fail(DESCENT_ESHAPE, "trainer: the network takes %zu features, the data has %zu",
                        net->input_size, ds->features);
  return DESCENT_OK;
}

/* The checkpoint hooks (model_io.c) keep a trainer's checkpoint a model
   file: NET, BUFF and RNG beside the trainer's PARM and PREP. */
static const descent_objective_ops net_ops = {
    .kind = "network",
    .value_and_grad = net_value_and_grad,
    .value = net_value,
    .destroy = NULL, /* the network owns the objective, not the other way round */
    .max_batch = net_max_batch,
    .check_data = net_check_data,
    .save_state = model_save_state,
    .check_state = model_check_state,
    .load_state = model_load_state,
    .reevaluate = net_reevaluate,
    .hvp = net_hvp,
    .ggnvp = net_ggnvp,
    .ggn_diagonal = net_ggn_diagonal,
    .example_gradients = net_example_gradients,
};

static int setup_layers(descent_net *net, size_t *max_width, size_t *n_params, size_t *n_tensors) {
  descent_shape shape = net->input;
  size_t width = net->input_size, params = 0, tensors = 0, buffers = 0, buffer_tensors = 0;
  int slots = omp_get_max_threads();
  for (size_t i = 0; i < net->n_layers; i++) {
    layer *l = &net->layers[i];
    l->in = shape;
    l->in_size = descent_shape_size(&shape);
    l->max_batch = net->max_batch;
    l->work_slots = slots > 0 ? slots : 1;
    l->rng = &net->rng;
    l->sync = &net->sync;
    int rc = l->ops->setup(l);
    if (rc) return rc;
    l->param_offset = params;
    l->buffer_offset = buffers;
    if (params > (size_t)-1 - l->n_params || buffers > (size_t)-1 - l->n_buffers)
      return descent_fail(DESCENT_ERANGE, "model spec: too many parameters");
    params += l->n_params;
    buffers += l->n_buffers;
    descent_tensor_info scratch[4];
    tensors += (size_t)l->ops->tensors(l, scratch);
    if (l->ops->buffer_tensors) buffer_tensors += (size_t)l->ops->buffer_tensors(l, scratch);
    shape = l->out;
    if (l->out_size > width) width = l->out_size;
  }
  net->n_buffers = buffers;
  net->n_buffer_tensors = buffer_tensors;
  *max_width = width;
  *n_params = params;
  *n_tensors = tensors;
  return DESCENT_OK;
}

/* Fills table with the tensors of every layer (tensors, or buffer_tensors
   when buffers), offsets counted from the start of the flat array. */
static size_t layout_table(const descent_net *net, int buffers, descent_tensor_info *table) {
  size_t t = 0;
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    if (buffers && !l->ops->buffer_tensors) continue;
    int count = buffers ? l->ops->buffer_tensors(l, table + t) : l->ops->tensors(l, table + t);
    size_t base = buffers ? l->buffer_offset : l->param_offset;
    for (int j = 0; j < count; j++) table[t + (size_t)j].offset += base;
    t += (size_t)count;
  }
  return t;
}

int net_spec_layout(const char *spec, const descent_shape *input, net_layout *out) {
  /* The layers are configured and set up (which only computes sizes), never
     given memory: a spec asking for billions of parameters costs nothing. */
  memset(out, 0, sizeof *out);
  descent_net net = {0};
  net.input = *input;
  net.input_size = descent_shape_size(input);
  net.max_batch = 1;
  size_t width = 0, tensors = 0;
  int rc = net_spec_parse(spec, net.input_size, &net.layers, &net.n_layers);
  if (!rc) rc = setup_layers(&net, &width, &out->n_params, &tensors);
  if (!rc) {
    out->params = descent_calloc(tensors ? tensors : 1, sizeof *out->params, "tensor table");
    out->buffers = descent_calloc(net.n_buffer_tensors ? net.n_buffer_tensors : 1,
                                  sizeof *out->buffers, "buffer table");
    if (!out->params || !out->buffers) rc = DESCENT_ENOMEM;
  }
  if (!rc) {
    out->n_buffers = net.n_buffers;
    out->n_param_tensors = layout_table(&net, 0, out->params);
    out->n_buffer_tensors = layout_table(&net, 1, out->buffers);
  }
  layers_free(net.layers, net.n_layers);
  if (rc) net_layout_free(out);
  return rc;
}

void net_layout_free(net_layout *l) {
  free(l->params);
  free(l->buffers);
  memset(l, 0, sizeof *l);
}

/* Buffers, scratch and the shared work area, then each layer's pointers. */
static int allocate_layer_memory(descent_net *net) {
  net->buffers = descent_alloc_real(net->n_buffers, "buffers");
  net->buffer_tensors = descent_calloc(net->n_buffer_tensors ? net->n_buffer_tensors : 1,
                                       sizeof *net->buffer_tensors, "buffer table");
  net->scratch = descent_calloc(net->n_layers, sizeof *net->scratch, "scratch");
  if (!net->buffers || !net->buffer_tensors || !net->scratch) return DESCENT_ENOMEM;
  size_t work = 0, t = 0;
  for (size_t i = 0; i < net->n_layers; i++) {
    layer *l = &net->layers[i];
    if (l->work_bytes > work) work = l->work_bytes;
    l->buffers = l->n_buffers ? net->buffers + l->buffer_offset : NULL;
    if (l->scratch_bytes) {
      size_t reals = (l->scratch_bytes + sizeof(descent_real) - 1) / sizeof(descent_real);
      net->scratch[i] = l->scratch = descent_alloc_real(reals, "layer scratch");
      if (!l->scratch) return DESCENT_ENOMEM;
    }
    if (l->ops->buffer_tensors) {
      int count = l->ops->buffer_tensors(l, net->buffer_tensors + t);
      for (int j = 0; j < count; j++) net->buffer_tensors[t + (size_t)j].offset += l->buffer_offset;
      t += (size_t)count;
    }
  }
  if (work) {
    net->work =
        descent_alloc_real((work + sizeof(descent_real) - 1) / sizeof(descent_real), "work area");
    if (!net->work) return DESCENT_ENOMEM;
    for (size_t i = 0; i < net->n_layers; i++)
      if (net->layers[i].work_bytes) net->layers[i].work = net->work;
  }
  return DESCENT_OK;
}

static int allocate(descent_net *net, size_t max_width, size_t n_params, size_t n_tensors) {
  descent_objective *obj = &net->objective;
  size_t batch_width;
  if (!descent_mul_ok(net->max_batch, max_width, &batch_width))
    return descent_fail(DESCENT_ERANGE, "batch of %zu x %zu activations overflows", net->max_batch,
                        max_width);
  obj->params = descent_alloc_real(n_params, "parameters");
  obj->grad = descent_alloc_real(n_params, "gradient");
  obj->tensors = descent_calloc(n_tensors ? n_tensors : 1, sizeof *obj->tensors, "tensor table");
  net->acts = descent_calloc(net->n_layers, sizeof *net->acts, "activations");
  net->grad_a = descent_alloc_real(batch_width, "backward buffer");
  net->grad_b = descent_alloc_real(batch_width, "backward buffer");
  net->row_loss = descent_calloc(net->max_batch, sizeof *net->row_loss, "loss buffer");
  if (!obj->params || !obj->grad || !obj->tensors || !net->acts || !net->grad_a || !net->grad_b ||
      !net->row_loss)
    return DESCENT_ENOMEM;
  for (size_t i = 0; i < net->n_layers; i++) {
    net->acts[i] = descent_alloc_real(net->max_batch * net->layers[i].out_size, "activations");
    if (!net->acts[i]) return DESCENT_ENOMEM;
  }
  obj->n_params = n_params;
  size_t t = 0;
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    int count = l->ops->tensors(l, obj->tensors + t);
    for (int j = 0; j < count; j++) obj->tensors[t + (size_t)j].offset += l->param_offset;
    t += (size_t)count;
  }
  obj->n_tensors = t;
  return allocate_layer_memory(net);
}

int descent_net_create(descent_net **out, const char *spec, const descent_shape *input,
                       descent_loss_kind loss, size_t max_batch, uint64_t seed) {
  *out = NULL;
  descent_error_clear();
  if (!input || input->ndim < 1 || input->ndim > DESCENT_MAX_DIMS)
    return descent_fail(DESCENT_EINVAL, "network input shape must have 1 to %d dimensions",
                        DESCENT_MAX_DIMS);
  if (max_batch == 0) return descent_fail(DESCENT_EINVAL, "max_batch must be at least 1");
  descent_net *net = descent_calloc(1, sizeof *net, "network");
  if (!net) return DESCENT_ENOMEM;
  net->input = *input;
  net->input_size = descent_shape_size(input);
  net->loss = loss;
  net->max_batch = max_batch;
  net->objective.ops = &net_ops;
  net->objective.impl = net;
  descent_rng_seed(&net->rng, seed ^ 0xd5a0c7e5d5a0c7e5ULL);
  size_t spec_len = spec ? strlen(spec) : 0;
  net->spec = descent_calloc(spec_len + 1, 1, "model spec");
  if (!net->spec) {
    descent_net_free(net);
    return DESCENT_ENOMEM;
  }
  if (spec) memcpy(net->spec, spec, spec_len);
  size_t max_width = 0, n_params = 0, n_tensors = 0;
  int rc = net_spec_parse(spec, net->input_size, &net->layers, &net->n_layers);
  if (!rc) rc = setup_layers(net, &max_width, &n_params, &n_tensors);
  if (!rc) rc = allocate(net, max_width, n_params, n_tensors);
  for (size_t i = 0; !rc && i < net->n_layers; i++)
    if (net->layers[i].ops->prepare) rc = net->layers[i].ops->prepare(&net->layers[i]);
  if (rc) {
    descent_net_free(net);
    return rc;
  }
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  for (size_t i = 0; i < net->n_layers; i++) {
    layer *l = &net->layers[i];
    const layer *next = i + 1 < net->n_layers ? &net->layers[i + 1] : NULL;
    l->ops->init(l, net->objective.params + l->param_offset, next, &rng);
  }
  *out = net;
  return DESCENT_OK;
}

void descent_net_free(descent_net *net) {
  if (!net) return;
  if (net->acts)
    for (size_t i = 0; i < net->n_layers; i++) descent_free_real(net->acts[i]);
  free(net->acts);
  for (size_t i = 0; net->layers && i < net->n_layers; i++)
    if (net->layers[i].ops->release) net->layers[i].ops->release(&net->layers[i]);
  layers_free(net->layers, net->n_layers);
  descent_free_real(net->objective.params);
  descent_free_real(net->objective.grad);
  free(net->objective.tensors);
  descent_free_real(net->grad_a);
  descent_free_real(net->grad_b);
  free(net->row_loss);
  free(net->spec);
  descent_free_real(net->buffers);
  free(net->buffer_tensors);
  if (net->scratch)
    for (size_t i = 0; i < net->n_layers; i++) descent_free_real(net->scratch[i]);
  free(net->scratch);
  descent_free_real(net->work);
  net_curvature_free(net);
  free(net);
}

descent_objective *descent_net_objective(descent_net *net) {
  return &net->objective;
}

descent_real *descent_net_buffers(descent_net *net, size_t *count) {
  if (count) *count = net->n_buffers;
  return net->buffers;
}

const descent_tensor_info *descent_net_buffer_tensors(const descent_net *net, size_t *count) {
  if (count) *count = net->n_buffer_tensors;
  return net->buffer_tensors;
}

void descent_net_get_rng(const descent_net *net, descent_rng *rng) {
  *rng = net->rng;
}

void descent_net_set_rng(descent_net *net, const descent_rng *rng) {
  net->rng = *rng;
}

const char *descent_net_spec(const descent_net *net) {
  return net->spec;
}

descent_shape descent_net_input_shape(const descent_net *net) {
  return net->input;
}

descent_loss_kind descent_net_loss(const descent_net *net) {
  return net->loss;
}

size_t descent_net_max_batch(const descent_net *net) {
  return net->max_batch;
}

int descent_precision_parse(const char *name, descent_precision *precision) {
  if (name && strcmp(name, "fp32") == 0)
    *precision = DESCENT_PRECISION_FP32;
  else if (name && strcmp(name, "bf16") == 0)
    *precision = DESCENT_PRECISION_BF16;
  else
    return descent_fail(DESCENT_EINVAL, "unknown precision '%s'; valid: fp32, bf16",
                        name ? name : "(null)");
  return DESCENT_OK;
}

const char *descent_precision_name(descent_precision precision) {
  return precision == DESCENT_PRECISION_BF16 ? "bf16" : "fp32";
}

int descent_net_set_precision(descent_net *net, descent_precision precision) {
  descent_error_clear();
  if (precision != DESCENT_PRECISION_FP32 && precision != DESCENT_PRECISION_BF16)
    return descent_fail(DESCENT_EINVAL, "unknown precision %d; valid: fp32, bf16", (int)precision);
  if (precision == DESCENT_PRECISION_BF16) {
    int rc = descent_bf16_check("precision bf16", "use fp32");
    if (rc) return rc;
  }
  net->precision = precision;
  for (size_t i = 0; i < net->n_layers; i++) net->layers[i].precision = (int)precision;
  return DESCENT_OK;
}

descent_precision descent_net_precision(const descent_net *net) {
  return net->precision;
}

size_t descent_net_outputs(const descent_net *net) {
  return net->layers[net->n_layers - 1].out_size;
}

int net_check_batch(const descent_net *net, const descent_batch *batch, int train) {
  if (!batch || !batch->x) return descent_fail(DESCENT_EINVAL, "a network needs a batch of inputs");
  if (batch->n == 0 || batch->n > net->max_batch)
    return descent_fail(DESCENT_ESHAPE, "batch of %zu examples; this network takes 1 to %zu",
                        batch->n, net->max_batch);
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    if (l->ops->check_batch) {
      int rc = l->ops->check_batch(l, batch->n, train);
      if (rc) return rc;
    }
  }
  return DESCENT_OK;
}

/* Whether layers i and i + 1 are a dense layer and a ReLU, whose forward
   passes run as one (dense_relu_forward): the product then applies the
   ReLU to each tile as it is finished, instead of in a pass of its own over
   the batch. */
static int dense_then_relu(const descent_net *net, size_t i) {
  return i + 1 < net->n_layers && net->layers[i].ops == &layer_dense &&
         net->layers[i + 1].ops == &layer_relu;
}

/* Whether layer i is a dense layer whose input is a ReLU's output, whose
   backward passes run as one (dense_backward_after_relu). Not when the
   ReLU is the first layer, whose input gradient nobody takes. */
static int relu_then_dense(const descent_net *net, size_t i) {
  return i >= 2 && net->layers[i].ops == &layer_dense && net->layers[i - 1].ops == &layer_relu;
}

int net_forward(descent_net *net, const descent_real *x, size_t n, int train) {
  const descent_real *in = x;
  net->sync.status = DESCENT_OK; /* an evaluation starts */
  for (size_t i = 0; i < net->n_layers; i++) {
    layer *l = &net->layers[i];
    const descent_real *params = net->objective.params + l->param_offset;
    if (dense_then_relu(net, i)) {
      /* Neither sets the batch-norm synchronization's status. */
      dense_relu_forward(l, params, in, net->acts[i], net->acts[i + 1], n);
      in = net->acts[++i];
      continue;
    }
    l->ops->forward(l, params, in, net->acts[i], n, train);
    if (net->sync.status) return net->sync.status;
    in = net->acts[i];
  }
  return DESCENT_OK;
}

static int value_and_grad(descent_net *net, const descent_batch *batch, double *loss) {
  descent_objective *obj = &net->objective;
  int rc = net_check_batch(net, batch, 1);
  if (rc) return rc;
  size_t n = batch->n, last = net->n_layers - 1;
  net_step_begin(net, n);
  rc = net_forward(net, batch->x, n, 1);
  if (rc) return rc;
  descent_real *dy = net->grad_a, *dx = net->grad_b;
  rc = loss_evaluate(net->loss, net->acts[last], n, net->layers[last].out_size, batch->labels,
                     batch->targets, net->row_loss, loss, dy, NULL);
  if (rc) return rc;
  for (size_t i = last + 1; i-- > 0;) {
    layer *l = &net->layers[i];
    const descent_real *x = i ? net->acts[i - 1] : batch->x;
    /* A ReLU before a dense layer: the dense layer's input gradient comes
       out through the ReLU, whose own pass (it has no parameters) is then
       done, and skipped. */
    if (relu_then_dense(net, i)) {
      dense_backward_after_relu(l, obj->params + l->param_offset, x, dy, dx,
                                obj->grad + l->param_offset, n);
      i--;
    } else {
      l->ops->backward(l, obj->params + l->param_offset, x, net->acts[i], dy, i ? dx : NULL,
                       obj->grad + l->param_offset, n);
    }
    if (net->sync.status) return net->sync.status;
    /* The layer's gradient is final: backward overwrites it, and nothing
       later in the pass adds to it. */
    if (net->grad_ready && l->n_params)
      net->grad_ready(net->grad_ready_user, l->param_offset, l->n_params);
    descent_real *t = dy;
    dy = dx;
    dx = t;
  }
  return DESCENT_OK;
}

static int value(descent_net *net, const descent_batch *batch, double *loss) {
  int rc = net_check_batch(net, batch, 1);
  if (rc) return rc;
  size_t last = net->n_layers - 1;
  net_step_begin(net, batch->n);
  rc = net_forward(net, batch->x, batch->n, 1);
  if (rc) return rc;
  return loss_evaluate(net->loss, net->acts[last], batch->n, net->layers[last].out_size,
                       batch->labels, batch->targets, net->row_loss, loss, NULL, NULL);
}

static int predict(descent_net *net, const descent_real *x, size_t n, descent_real *out) {
  descent_batch batch = {.n = n, .x = x};
  int rc = net_check_batch(net, &batch, 0);
  if (rc) return rc;
  net_forward(net, x, n, 0);
  memcpy(out, net->acts[net->n_layers - 1], n * descent_net_outputs(net) * sizeof *out);
  return DESCENT_OK;
}

static int evaluate(descent_net *net, const descent_dataset *ds, double *loss, double *accuracy) {
  if (ds->n && !ds->x && !ds->bytes)
    return descent_fail(DESCENT_EINVAL,
                        "descent_net_evaluate: the data set holds %zu examples but no inputs (x "
                        "and bytes are NULL): load it with a descent loader",
                        ds->n);
  if (ds->features != net->input_size)
    return descent_fail(DESCENT_ESHAPE, "data set has %zu features per example, network takes %zu",
                        ds->features, net->input_size);
  size_t k = descent_net_outputs(net), last = net->n_layers - 1, right_total = 0;
  double sum = 0;
  /* A set held as bytes: each batch of rows decoded first. */
  descent_real *decoded = NULL;
  if (!ds->x && ds->n) {
    decoded = descent_alloc_real(net->max_batch * ds->features, "evaluation: decoded rows");
    if (!decoded) return DESCENT_ENOMEM;
  }
  for (size_t start = 0; start < ds->n; start += net->max_batch) {
    size_t n = ds->n - start < net->max_batch ? ds->n - start : net->max_batch;
    net_forward(net, dataset_inputs(ds, start, n, decoded), n, 0);
    double batch_loss;
    size_t right;
    int rc = loss_evaluate(net->loss, net->acts[last], n, k, ds->labels ? ds->labels + start : NULL,
                           NULL, net->row_loss, &batch_loss, NULL, &right);
    if (rc) {
      descent_free_real(decoded);
      return rc;
    }
    sum += batch_loss * (double)n;
    right_total += right;
  }
  descent_free_real(decoded);
  *loss = ds->n ? sum / (double)ds->n : 0;
  *accuracy = ds->n && ds->labels ? (double)right_total / (double)ds->n : 0;
  return DESCENT_OK;
}

/* Each call that computes runs with the network's thread count. */
static int net_value_and_grad(descent_objective *obj, const descent_batch *batch, double *loss) {
  descent_net *net = obj->impl;
  descent_thread_scope scope = descent_threads_begin(net->threads);
  int rc = value_and_grad(net, batch, loss);
  descent_threads_end(scope);
  return rc;
}

static int net_value(descent_objective *obj, const descent_batch *batch, double *loss) {
  descent_net *net = obj->impl;
  descent_thread_scope scope = descent_threads_begin(net->threads);
  int rc = value(net, batch, loss);
  descent_threads_end(scope);
  return rc;
}

int descent_net_predict(descent_net *net, const descent_real *x, size_t n, descent_real *out) {
  descent_thread_scope scope = descent_threads_begin(net->threads);
  int rc = predict(net, x, n, out);
  descent_threads_end(scope);
  return rc;
}

int descent_net_evaluate(descent_net *net, const descent_dataset *ds, double *loss,
                         double *accuracy) {
  descent_error_clear();
  descent_thread_scope scope = descent_threads_begin(net->threads);
  int rc = evaluate(net, ds, loss, accuracy);
  descent_threads_end(scope);
  return rc;
}

/* The layers' per-thread work areas (conv's and pool's work slots, oneDNN's
   streams) made anew for `slots` threads; the old ones are freed only once
   all the new ones exist, so a failure leaves the network as it was. */
static int resize_work_slots(descent_net *net, int slots) {
  size_t n = net->n_layers, work = 0;
  layer *fresh = descent_calloc(n, sizeof *fresh, "network layers");
  if (!fresh) return DESCENT_ENOMEM;
  memcpy(fresh, net->layers, n * sizeof *fresh);
  int rc = DESCENT_OK;
  for (size_t i = 0; !rc && i < n; i++) {
    fresh[i].work_slots = slots;
    fresh[i].backend = NULL;
    rc = fresh[i].ops->setup(&fresh[i]); /* sizes only */
    if (fresh[i].work_bytes > work) work = fresh[i].work_bytes;
  }
  void *area = NULL;
  if (!rc && work) {
    area =
        descent_alloc_real((work + sizeof(descent_real) - 1) / sizeof(descent_real), "work area");
    if (!area) rc = DESCENT_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) fresh[i].work = fresh[i].work_bytes ? area : NULL;
  for (size_t i = 0; !rc && i < n; i++)
    if (fresh[i].ops->prepare) rc = fresh[i].ops->prepare(&fresh[i]);
  layer *old = rc ? fresh : net->layers; /* what is released */
  for (size_t i = 0; i < n; i++)
    if (old[i].ops->release) old[i].ops->release(&old[i]);
  if (rc) {
    descent_free_real(area);
    free(fresh);
    return rc;
  }
  descent_free_real(net->work);
  free(net->layers);
  net->layers = fresh;
  net->work = area;
  return DESCENT_OK;
}

int descent_net_set_threads(descent_net *net, int threads) {
  descent_error_clear();
  int rc = descent_threads_check(threads, "descent_net_set_threads");
  if (rc) return rc;
  if (net->n_layers && threads > net->layers[0].work_slots) {
    rc = resize_work_slots(net, threads);
    if (rc) return rc;
  }
  net->threads = threads;
  return DESCENT_OK;
}

int descent_net_threads(const descent_net *net) {
  return net->threads;
}

void descent_net_set_grad_ready(descent_net *net, descent_grad_ready_fn fn, void *user) {
  net->grad_ready = fn;
  net->grad_ready_user = fn ? user : NULL;
}

int descent_net_set_batch_norm_sync(descent_net *net, descent_sum_fn sum, void *user) {
  descent_error_clear();
  net->sync.sum = sum;
  net->sync.user = sum ? user : NULL;
  net->sync.status = DESCENT_OK;
  return DESCENT_OK;
}

static const char *shape_text(const descent_shape *s, char *buf, size_t cap) {
  size_t used = 0;
  for (int i = 0; i < s->ndim && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%zu", i ? "x" : "", s->dims[i]);
  return buf;
}

size_t descent_net_describe(const descent_net *net, char *buf, size_t cap) {
  size_t used = 0;
#define APPEND(...)                                                                                \
  used +=                                                                                          \
      (size_t)snprintf(buf + (used < cap ? used : cap), used < cap ? cap - used : 0, __VA_ARGS__)
  char a[64], b[64];
  APPEND("input %s\n", shape_text(&net->input, a, sizeof a));
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    APPEND("  %-16s %10s -> %-10s %10zu params\n", l->name, shape_text(&l->in, a, sizeof a),
           shape_text(&l->out, b, sizeof b), l->n_params);
  }
  APPEND("loss %s, %zu parameters", descent_loss_name(net->loss), net->objective.n_params);
  if (net->n_buffers) APPEND(", %zu buffer values (not trained)", net->n_buffers);
  APPEND("\n");
#undef APPEND
  return used;
}
