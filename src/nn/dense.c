/*
 * dense.c - the fully connected layer, y = x W^T + b.
 *
 * W is stored {out, in} as in PyTorch, so weights exchange without transposes.
 * All three products go through descent_gemm_dense in the layer's precision (under
 * bf16 the output and the input gradient are rounded to bf16, the weight
 * gradient is not); the input gradient is skipped for the first layer
 * (dx == NULL), which saves a fifth of an MLP's backward. The output and the
 * input gradient first ask descent_gemm_fused, which where the AVX-512
 * kernel takes the product adds the bias, and the ReLU beside the layer
 * (dense_relu_forward, dense_backward_after_relu), to each tile as it is
 * finished; elsewhere the same work runs as passes of its own (after a
 * product oneDNN takes, the bias and the ReLU in one).
 */
#include "layer.h"

#include <string.h>

static const spec_param dense_params[] = {
    {"out", SPEC_INTEGER, 0, 1, 1 << 24, 0, 0, 1, "number of outputs"},
    {"init", SPEC_TEXT, 0, 0, 0, 0, 0, 0, "auto, he, glorot or tnormal"},
    {"bias", SPEC_BOOL, 1, 0, 1, 0, 0, 0, "1: add a learned bias"},
    {"std", SPEC_NUMBER, 0.05, 0, 10, 1, 0, 0, "standard deviation of init=tnormal"},
    {"bias_init", SPEC_NUMBER, 0, -10, 10, 0, 0, 0, "initial value of the bias"},
};

/* A dense layer's configuration. */
typedef struct dense_config {
  size_t units; /* outputs */
  int bias;     /* has a learned bias */
  layer_weight_init init;
} dense_config;

static const dense_config *dense_of(const layer *l) {
  return l->config;
}

static int dense_configure(layer *l, const spec_call *call) {
  double v[5];
  const char *texts[5];
  int rc = spec_bind(call, dense_params, 5, v, texts, "model spec");
  if (rc) return rc;
  dense_config *c = l->config;
  c->units = (size_t)v[0];
  c->bias = (int)v[2];
  return layer_parse_init(&c->init, "dense", texts[1], v[3], v[4]);
}

static int dense_setup(layer *l) {
  const dense_config *c = dense_of(l);
  /* A dense layer sees each example as a flat vector, whatever its shape. */
  l->out = (descent_shape){1, {c->units}};
  l->out_size = c->units;
  size_t weights;
  if (!descent_mul_ok(c->units, l->in_size, &weights) || weights > ((size_t)1 << 34))
    return descent_fail(DESCENT_ERANGE, "model spec: dense(%zu) on %zu inputs is too large",
                        c->units, l->in_size);
  l->n_params = weights + (c->bias ? c->units : 0);
  return DESCENT_OK;
}

/* For a network being created (not for a spec's sizes, which a model file's
   check asks for): where oneDNN will take one of the layer's products,
   its GEMM kernels are generated now, not in the first step. They are
   oneDNN's, once per process: nothing to release. */
static int dense_prepare(layer *l) {
  descent_gemm_dense_prepare(dense_of(l)->units, l->in_size, l->max_batch);
  return DESCENT_OK;
}

static int dense_tensors(const layer *l, descent_tensor_info *t) {
  const dense_config *c = dense_of(l);
  snprintf(t[0].name, sizeof t[0].name, "%s.weight", l->name);
  t[0].offset = 0;
  t[0].size = c->units * l->in_size;
  t[0].shape = (descent_shape){2, {c->units, l->in_size}};
  if (!c->bias) return 1;
  snprintf(t[1].name, sizeof t[1].name, "%s.bias", l->name);
  t[1].offset = t[0].size;
  t[1].size = c->units;
  t[1].shape = (descent_shape){1, {c->units}};
  return 2;
}

static void dense_init(layer *l, descent_real *params, const layer *next, descent_rng *rng) {
  const dense_config *c = dense_of(l);
  size_t count = c->units * l->in_size;
  layer_init_weights(&c->init, params, count, l->in_size, c->units, c->bias ? params + count : NULL,
                     c->units, next, rng);
}

/* y += b on each of the n rows of y, and relu_y = relu(y) unless relu_y is
   NULL: the bias and the ReLU in one pass. Parallel only from a million
   values (activation.c says why). */
static void add_bias(descent_real *y, const descent_real *b, descent_real *relu_y, size_t n,
                     size_t out) {
#pragma omp parallel for schedule(static) if (n * out >= LAYER_PARALLEL_MIN_CHEAP)
  for (size_t i = 0; i < n; i++) {
    descent_real *row = y + i * out;
    if (relu_y) {
      descent_real *r = relu_y + i * out;
#pragma omp simd
      for (size_t j = 0; j < out; j++) {
        descent_real v = row[j] + b[j];
        row[j] = v;
        r[j] = v > 0 ? v : 0;
      }
    } else {
#pragma omp simd
      for (size_t j = 0; j < out; j++) row[j] += b[j];
    }
  }
}

/* y = x W^T + b, and relu_y = relu(y) unless relu_y is NULL. */
static void forward(layer *l, const descent_real *params, const descent_real *x, descent_real *y,
                    descent_real *relu_y, size_t n) {
  size_t in = l->in_size, out = dense_of(l)->units;
  const descent_real *w = params, *b = dense_of(l)->bias ? params + in * out : NULL;
  if (descent_gemm_fused(l->precision, 0, 1, n, out, in, x, in, w, in, y, out, b, relu_y, NULL))
    return;
  /* A product oneDNN takes is given no bias to add onto (beta 0): with beta
     1 it would first copy y aside, to restore it should oneDNN fail (a
     malloc and a pass over y), after the pass that wrote the bias rows. The
     bias is added after it instead, in the pass that writes the ReLU's
     output. The other libraries add onto the bias rows, as PyTorch's
     addmm does; should sgemm_dnnl decline at the call (dynamic teams, a
     thread limit) or oneDNN fail, OpenBLAS computes the product with beta
     0 here, and the bias is still added after (the same value, other last
     bits). */
  if (b && l->precision == DESCENT_PRECISION_FP32 && descent_gemm_dnnl_threads(0, 1, n, out, in)) {
    descent_gemm_dense(l->precision, 1, 0, 1, n, out, in, x, in, w, in, 0, y, out);
    add_bias(y, b, relu_y, n, out);
    return;
  }
  descent_real beta = 0;
  if (b) {
    /* A copy: parallel only from a million values (activation.c says why). */
#pragma omp parallel for schedule(static) if (n * out >= LAYER_PARALLEL_MIN_CHEAP)
    for (size_t i = 0; i < n; i++) memcpy(y + i * out, b, out * sizeof *y);
    beta = 1;
  }
  descent_gemm_dense(l->precision, 1, 0, 1, n, out, in, x, in, w, in, beta, y, out);
  if (relu_y) relu_values(y, relu_y, n * out);
}

static void dense_forward(layer *l, const descent_real *params, const descent_real *x,
                          descent_real *y, size_t n, int train) {
  forward(l, params, x, y, NULL, n);
}

void dense_relu_forward(layer *l, const descent_real *params, const descent_real *x,
                        descent_real *y, descent_real *relu_y, size_t n) {
  forward(l, params, x, y, relu_y, n);
}

/* db = the column sums of dy, in double. The rows are walked in order, a
   block of columns at a time, so the loads are contiguous and vectorize; a
   column-at-a-time walk strides by a whole row per element and cost as much
   as a tenth of the layer's backward GEMMs. */
static void bias_gradient(const descent_real *dy, size_t n, size_t out, descent_real *db) {
  enum { COLUMNS = 256 };
  size_t blocks = (out + COLUMNS - 1) / COLUMNS;
#pragma omp parallel for schedule(static) if (n * out >= LAYER_PARALLEL_MIN_CHEAP && blocks > 1)
  for (size_t b = 0; b < blocks; b++) {
    size_t lo = b * COLUMNS, width = out - lo < COLUMNS ? out - lo : COLUMNS;
    double sum[COLUMNS] = {0};
    for (size_t i = 0; i < n; i++) {
      const descent_real *row = dy + i * out + lo;
#pragma omp simd
      for (size_t j = 0; j < width; j++) sum[j] += (double)row[j];
    }
    for (size_t j = 0; j < width; j++) db[lo + j] = (descent_real)sum[j];
  }
}

/* The backward pass; with relu_input, x is a ReLU's output and dx the
   gradient of that ReLU's input. */
static void backward(layer *l, const descent_real *params, const descent_real *x,
                     const descent_real *dy, descent_real *dx, descent_real *dparams, size_t n,
                     int relu_input) {
  size_t in = l->in_size, out = dense_of(l)->units;
  /* dW = dy^T x */
  descent_gemm_dense(l->precision, 0, 1, 0, out, in, n, dy, out, x, in, 0, dparams, in);
  if (dense_of(l)->bias) bias_gradient(dy, n, out, dparams + in * out);
  /* dx = dy W */
  if (!dx || descent_gemm_fused(l->precision, 0, 0, n, in, out, dy, out, params, in, dx, in, NULL,
                                NULL, relu_input ? x : NULL))
    return;
  descent_gemm_dense(l->precision, 1, 0, 0, n, in, out, dy, out, params, in, 0, dx, in);
  if (relu_input) relu_gradient(x, dx, dx, n * in);
}

static void dense_backward(layer *l, const descent_real *params, const descent_real *x,
                           const descent_real *y, const descent_real *dy, descent_real *dx,
                           descent_real *dparams, size_t n) {
  backward(l, params, x, dy, dx, dparams, n, 0);
}

void dense_backward_after_relu(layer *l, const descent_real *params, const descent_real *x,
                               const descent_real *dy, descent_real *dx, descent_real *dparams,
                               size_t n) {
  backward(l, params, x, dy, dx, dparams, n, 1);
}

/* The directional derivatives (network_curvature.c) run in descent_real
   whatever the layer's precision: products are for analysis and second-order
   methods, where bf16 rounding would swamp what they measure.
   ry = rx W^T + x V^T + vb, V and vb the direction's weights and bias. */
static void dense_jvp(layer *l, const descent_real *params, const descent_real *vparams,
                      const descent_real *x, const descent_real *rx, const descent_real *y,
                      descent_real *ry, size_t n) {
  size_t in = l->in_size, out = dense_of(l)->units;
  descent_real beta = 0;
  if (dense_of(l)->bias) {
    for (size_t i = 0; i < n; i++) memcpy(ry + i * out, vparams + in * out, out * sizeof *ry);
    beta = 1;
  }
  descent_gemm(0, 1, n, out, in, 1, x, in, vparams, in, beta, ry, out);
  if (rx) descent_gemm(0, 1, n, out, in, 1, rx, in, params, in, 1, ry, out);
}

/* R{dW} = rdy^T x + dy^T rx, R{db} = column sums of rdy,
   R{dx} = rdy W + dy V. */
static void dense_rbackward(layer *l, const descent_real *params, const descent_real *vparams,
                            const descent_real *x, const descent_real *rx, const descent_real *y,
                            const descent_real *ry, const descent_real *dy, const descent_real *rdy,
                            descent_real *rdx, descent_real *rdparams, size_t n) {
  size_t in = l->in_size, out = dense_of(l)->units;
  descent_gemm(1, 0, out, in, n, 1, rdy, out, x, in, 0, rdparams, in);
  if (rx) descent_gemm(1, 0, out, in, n, 1, dy, out, rx, in, 1, rdparams, in);
  if (dense_of(l)->bias) bias_gradient(rdy, n, out, rdparams + in * out);
  if (!rdx) return;
  descent_gemm(0, 0, n, in, out, 1, rdy, out, params, in, 0, rdx, in);
  descent_gemm(0, 0, n, in, out, 1, dy, out, vparams, in, 1, rdx, in);
}

static void dense_add_squared_grads(layer *l, const descent_real *x, const descent_real *dy,
                                    descent_real *out, size_t n, descent_real *scratch) {
  size_t in = l->in_size, units = dense_of(l)->units;
  /* Example i's weight gradient is dy_i x_i^T, so the sum of its squares
     is (dy o dy)^T (x o x): one product of the squared rows instead of a
     strided triple loop (15 SGD steps' time for the main job's first layer
     before). */
  descent_real *x2 = scratch, *dy2 = scratch + n * in;
  for (size_t i = 0; i < n * in; i++) x2[i] = x[i] * x[i];
  for (size_t i = 0; i < n * units; i++) dy2[i] = dy[i] * dy[i];
  descent_gemm(1, 0, units, in, n, 1, dy2, units, x2, in, 1, out, in);
  if (!dense_of(l)->bias) return;
  descent_real *bias = out + in * units;
  for (size_t i = 0; i < n; i++)
    for (size_t o = 0; o < units; o++) bias[o] += dy2[i * units + o];
}

/* Example i's term of the gradient is dy_i x_i^T (and dy_i for the bias):
   its squared norm |dy_i|^2 (|x_i|^2 + 1), and its inner product with the
   direction (V, vb) is dy_i . (V x_i + vb), the rows of one product
   x V^T like the forward pass's. */
static void dense_add_example_grads(layer *l, const descent_real *params, const descent_real *x,
                                    const descent_real *dy, const descent_real *vparams, double *sq,
                                    double *dot, size_t n, descent_real *scratch) {
  (void)params;
  size_t in = l->in_size, units = dense_of(l)->units;
  int bias = dense_of(l)->bias;
  for (size_t i = 0; i < n; i++) {
    double xx = bias, dd = 0;
    for (size_t j = 0; j < in; j++) xx += (double)x[i * in + j] * x[i * in + j];
    for (size_t o = 0; o < units; o++) dd += (double)dy[i * units + o] * dy[i * units + o];
    sq[i] += xx * dd;
  }
  if (!vparams) return;
  descent_real *vx = scratch; /* n x units */
  descent_gemm(0, 1, n, units, in, 1, x, in, vparams, in, 0, vx, units);
  for (size_t i = 0; i < n; i++) {
    double s = 0;
    for (size_t o = 0; o < units; o++) {
      double v = vx[i * units + o] + (bias ? (double)vparams[in * units + o] : 0.0);
      s += (double)dy[i * units + o] * v;
    }
    dot[i] += s;
  }
}

const layer_ops layer_dense = {
    .name = "dense",
    .usage = "dense(OUT[, init=auto|he|glorot|tnormal][, bias=1|0][, std=0.05][, bias_init=0])",
    .config_size = sizeof(dense_config),
    .configure = dense_configure,
    .setup = dense_setup,
    .prepare = dense_prepare,
    .tensors = dense_tensors,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
    .jvp = dense_jvp,
    .rbackward = dense_rbackward,
    .add_squared_grads = dense_add_squared_grads,
    .add_example_grads = dense_add_example_grads,
};
