/*
 * test_layers.c - the deep-network layers in the float build: the fast
 * convolution against a direct scalar one, results that do not depend on the
 * thread count, the fmnist_2c2d shorthand, batch-norm buffers, dropout's
 * masks and RNG, the activations against their formulas on batches below and
 * above the size where they go parallel, the softmax cross-entropy's
 * gradient (confident rows included), and every refusal of the new
 * layers' specs.
 */
#include "check.h"
#include "nn/conv_direct.h"
#include "nn/conv_dnnl.h"
#include "nn/loss.h"
#include "nn/network_internal.h"

#include <stdlib.h>

/* The larger of a running worst error and a new one, where a NaN counts as
   larger (fmax would drop it). Not fmax also because GCC 12 for AArch64
   stops with an internal error when it vectorizes these loops with it. */
static double larger(double worst, double err) {
  return err > worst || err != err ? err : worst;
}

/* The definition, written out: y[o][i][j] = b[o] + sum over c, a, b of
   w[o][c][a][b] x[c][i*s + a - pad][j*s + b - pad]. */
static void conv_reference(const descent_real *x, size_t c, size_t h, size_t w,
                           const descent_real *weight, const descent_real *bias, size_t o, size_t k,
                           size_t s, size_t pad, descent_real *y) {
  size_t ho = (h + 2 * pad - k) / s + 1, wo = (w + 2 * pad - k) / s + 1;
  for (size_t q = 0; q < o; q++)
    for (size_t i = 0; i < ho; i++)
      for (size_t j = 0; j < wo; j++) {
        double sum = bias ? bias[q] : 0;
        for (size_t ch = 0; ch < c; ch++)
          for (size_t a = 0; a < k; a++)
            for (size_t b = 0; b < k; b++) {
              long r = (long)(i * s + a) - (long)pad, t = (long)(j * s + b) - (long)pad;
              if (r < 0 || t < 0 || r >= (long)h || t >= (long)w) continue;
              sum += (double)weight[((q * c + ch) * k + a) * k + b] *
                     x[(ch * h + (size_t)r) * w + (size_t)t];
            }
        y[(q * ho + i) * wo + j] = (descent_real)sum;
      }
}

static void check_conv_against_reference(const char *spec, size_t c, size_t h, size_t w, size_t o,
                                         size_t k, size_t s, size_t pad, int bias) {
  descent_shape in = {3, {c, h, w}};
  descent_net *net = NULL;
  size_t n = 11; /* more than one group of examples, the last one partial */
  CHECK_OK(descent_net_create(&net, spec, &in, DESCENT_LOSS_MSE, n, 7));
  if (!net) return;
  descent_rng rng;
  descent_rng_seed(&rng, 3);
  size_t in_size = c * h * w, out_size = descent_net_outputs(net);
  descent_real *x = malloc(n * in_size * sizeof *x), *want = malloc(out_size * sizeof *want);
  for (size_t i = 0; i < n * in_size; i++) x[i] = (descent_real)descent_rng_normal(&rng);
  descent_real *params = descent_net_objective(net)->params;
  CHECK_OK(descent_net_predict(net, x, n, net->acts[0]));
  double worst = 0;
  for (size_t e = 0; e < n; e++) {
    conv_reference(x + e * in_size, c, h, w, params, bias ? params + o * c * k * k : NULL, o, k, s,
                   pad, want);
    for (size_t i = 0; i < out_size; i++)
      worst = larger(worst, fabs(net->acts[0][e * out_size + i] - want[i]) / (1 + fabs(want[i])));
  }
  printf("%-40s against the direct loops: worst error %.2e\n", spec, worst);
  CHECK_MSG(worst < 1e-5, "%s: error %.3g", spec, worst);
  free(x), free(want);
  descent_net_free(net);
}

/* The direct kernel (stride 1, channels in blocks of 8) against im2col +
   GEMM on the same layer and data: output, input gradient and parameter
   gradient, for the shapes that take the direct path in one or both
   directions. */
static void check_direct_against_gemm(const char *spec, size_t c, size_t h, size_t w) {
  descent_shape in = {3, {c, h, w}};
  descent_net *net = NULL;
  size_t n = 11;
  CHECK_OK(descent_net_create(&net, spec, &in, DESCENT_LOSS_MSE, n, 5));
  if (!net) return;
  layer *l = &net->layers[0];
  /* Compared with itself, the GEMM path would pass whatever the kernel does.
     Forced (2): the kernel is checked on every build, also those where it
     is not taken by default. */
  int fwd, dxd;
  int dnnl = conv_dnnl_enabled;
  conv_dnnl_enabled = 0; /* else oneDNN would serve both sides */
  conv_direct_enabled = 2;
  if (!conv_direct_available()) {
    printf("SKIP  %s: this CPU cannot run the direct kernel (it is AVX-512 code on x86-64)\n",
           spec);
    conv_direct_enabled = 1;
    conv_dnnl_enabled = dnnl;
    descent_net_free(net);
    return;
  }
  conv_direct_paths(l, &fwd, &dxd);
  CHECK_MSG(fwd || dxd, "%s on %zux%zux%zu: takes the direct kernel in neither direction", spec, c,
            h, w);
  descent_objective *obj = descent_net_objective(net);
  descent_rng rng;
  descent_rng_seed(&rng, 6);
  size_t nx = n * l->in_size, ny = n * l->out_size, np = obj->n_params;
  descent_real *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy);
  descent_real *y[2], *dx[2], *dp[2];
  for (size_t i = 0; i < nx; i++) x[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < ny; i++) dy[i] = (descent_real)descent_rng_normal(&rng);
  for (int d = 0; d < 2; d++) {
    conv_direct_enabled = d ? 2 : 0;
    y[d] = malloc(ny * sizeof *y[d]), dx[d] = malloc(nx * sizeof *dx[d]);
    dp[d] = malloc(np * sizeof *dp[d]);
    l->ops->forward(l, obj->params, x, y[d], n, 1);
    l->ops->backward(l, obj->params, x, y[d], dy, dx[d], dp[d], n);
  }
  conv_direct_enabled = 1;
  conv_dnnl_enabled = dnnl;
  double worst[3] = {0, 0, 0};
  for (size_t i = 0; i < ny; i++) worst[0] = larger(worst[0], fabs(y[0][i] - y[1][i]));
  for (size_t i = 0; i < nx; i++) worst[1] = larger(worst[1], fabs(dx[0][i] - dx[1][i]));
  for (size_t i = 0; i < np; i++)
    worst[2] = larger(worst[2], fabs(dp[0][i] - dp[1][i]) / (1 + fabs(dp[0][i])));
  printf("%-32s on %zux%zux%zu (direct: forward %d, dx %d): largest difference y %.1e dx %.1e "
         "grad %.1e\n",
         spec, c, h, w, fwd, dxd, worst[0], worst[1], worst[2]);
  CHECK_MSG(worst[0] < 1e-4 && worst[1] < 1e-4 && worst[2] < 1e-5, "%s: the paths differ", spec);
  for (int d = 0; d < 2; d++) free(y[d]), free(dx[d]), free(dp[d]);
  free(x), free(dy);
  descent_net_free(net);
}

#if CONV_DNNL
/* One forward and backward pass of the layer; dx may be NULL. */
static void conv_pass(layer *l, const descent_real *params, const descent_real *x,
                      const descent_real *dy, descent_real *y, descent_real *dx, descent_real *dp,
                      size_t n) {
  l->ops->forward(l, params, x, y, n, 1);
  l->ops->backward(l, params, x, y, dy, dx, dp, n);
}
#endif

/* oneDNN's convolutions (conv_dnnl.c) against descent's im2col + GEMM on the
   same layer and data (itself checked against the definition above and, in
   double, against finite differences): output, input gradient, weight and
   bias gradients. Then the same bits again, and at 1 and 2 threads. */
static void check_dnnl_against_gemm(const char *spec, size_t c, size_t h, size_t w) {
  if (!conv_dnnl_available()) {
    printf("SKIP  %s: %s\n", spec,
           CONV_DNNL ? "oneDNN is not used on the portable path"
                     : "built without oneDNN (or in double)");
    return;
  }
#if CONV_DNNL /* conv_dnnl_served and the primitives exist only then */
  descent_shape in = {3, {c, h, w}};
  descent_net *net = NULL;
  size_t n = 19; /* two full groups of 8 and a partial one */
  int saved = descent_get_threads();
  descent_set_threads(2); /* two work slots */
  CHECK_OK(descent_net_create(&net, spec, &in, DESCENT_LOSS_MSE, n, 5));
  descent_set_threads(saved);
  if (!net) return;
  layer *l = &net->layers[0];
  CHECK_MSG(l->backend != NULL, "%s: oneDNN serves none of its operations", spec);
  if (!l->backend) {
    descent_net_free(net);
    return;
  }
  conv_dnnl_ops ops = conv_dnnl_served(l->backend);
  descent_objective *obj = descent_net_objective(net);
  descent_rng rng;
  descent_rng_seed(&rng, 8);
  size_t nx = n * l->in_size, ny = n * l->out_size, np = obj->n_params;
  for (size_t i = 0; i < np; i++) obj->params[i] = (descent_real)descent_rng_normal(&rng) / 4;
  descent_real *x = malloc(nx * sizeof *x), *dy = malloc(ny * sizeof *dy);
  for (size_t i = 0; i < nx; i++) x[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < ny; i++) dy[i] = (descent_real)descent_rng_normal(&rng);
  /* 0: descent's im2col + GEMM; 1: oneDNN; 2: oneDNN again, 3: at 1 thread. */
  descent_real *y[4], *dx[4], *dp[4];
  int threads[4] = {2, 2, 2, 1};
  for (int r = 0; r < 4; r++) {
    conv_dnnl_enabled = r > 0;
    conv_direct_enabled = 0;
    descent_set_threads(threads[r]);
    y[r] = malloc(ny * sizeof *y[r]), dx[r] = malloc(nx * sizeof *dx[r]);
    dp[r] = malloc(np * sizeof *dp[r]);
    /* The input gradient only where oneDNN serves it: else the whole
       backward pass would be descent's. */
    conv_pass(l, obj->params, x, dy, y[r], ops.input_grad ? dx[r] : NULL, dp[r], n);
  }
  conv_dnnl_enabled = 1;
  conv_direct_enabled = 1;
  descent_set_threads(saved);
  double worst[3] = {0, 0, 0};
  for (size_t i = 0; i < ny; i++) worst[0] = larger(worst[0], fabs(y[0][i] - y[1][i]));
  for (size_t i = 0; ops.input_grad && i < nx; i++)
    worst[1] = larger(worst[1], fabs(dx[0][i] - dx[1][i]));
  /* The gradient's entries are sums over n x positions terms, which float
     rounds by about 1e-6 of their size whatever the order; a bias entry is
     a small sum of large ones: the error is measured against the largest
     entry (here 30 to 300) rather than each entry's own size. */
  double scale = 1;
  for (size_t i = 0; i < np; i++) scale = fmax(scale, fabs(dp[0][i]));
  for (size_t i = 0; i < np; i++) worst[2] = larger(worst[2], fabs(dp[0][i] - dp[1][i]) / scale);
  printf("%-36s on %zux%zux%zu (oneDNN: forward %d, weights %d, dx %d): largest difference y "
         "%.1e dx %.1e grad %.1e\n",
         spec, c, h, w, ops.forward, ops.weights, ops.input_grad, worst[0], worst[1], worst[2]);
  CHECK_MSG(ops.forward || ops.weights,
            "%s: oneDNN serves neither the forward pass nor the "
            "weights",
            spec);
  CHECK_MSG(worst[0] < 1e-4 && worst[1] < 1e-4 && worst[2] < 1e-5,
            "%s: oneDNN differs from im2col + GEMM", spec);
  for (int r = 2; r < 4; r++) {
    int same = memcmp(y[1], y[r], ny * sizeof *y[1]) == 0 &&
               memcmp(dp[1], dp[r], np * sizeof *dp[1]) == 0 &&
               (!ops.input_grad || memcmp(dx[1], dx[r], nx * sizeof *dx[1]) == 0);
    CHECK_MSG(same, "%s: oneDNN's results change %s", spec,
              r == 2 ? "from one run to the next" : "between 1 and 2 threads");
  }
  for (int r = 0; r < 4; r++) free(y[r]), free(dx[r]), free(dp[r]);
  free(x), free(dy);
  descent_net_free(net);
#endif
}

/* Max pooling on every path (one-stage rows of 8 or more, two-stage short
   rows, tiny planes, odd widths, overlapping windows) against the definition:
   the largest value, the first in scan order among equal ones (as PyTorch),
   on data full of ties (values quantized to a few levels, and zeros). */
static void check_maxpool_paths(const char *spec, size_t c, size_t h, size_t w) {
  descent_shape in = {3, {c, h, w}};
  descent_net *net = NULL;
  size_t n = 3;
  CHECK_OK(descent_net_create(&net, spec, &in, DESCENT_LOSS_MSE, n, 1));
  if (!net) return;
  layer *l = &net->layers[0];
  descent_rng rng;
  descent_rng_seed(&rng, 12);
  descent_real *x = malloc(n * l->in_size * sizeof *x), *dx = malloc(n * l->in_size * sizeof *x);
  descent_real *dy = malloc(n * l->out_size * sizeof *dy);
  for (size_t i = 0; i < n * l->in_size; i++) {
    double u = descent_rng_uniform(&rng);
    x[i] = u < 0.3 ? 0 : (descent_real)floor(u * 4); /* many ties */
  }
  for (size_t i = 0; i < n * l->out_size; i++) dy[i] = (descent_real)(i + 1);
  l->ops->forward(l, NULL, x, net->acts[0], n, 1);
  l->ops->backward(l, NULL, x, net->acts[0], dy, dx, NULL, n);
  size_t k, s, p, ho = l->out.dims[1], wo = l->out.dims[2];
  pool_window(l, &k, &s, &p);
  descent_real *want_dx = calloc(n * l->in_size, sizeof *want_dx);
  int wrong = 0;
  for (size_t pl = 0; pl < n * c; pl++)
    for (size_t oh = 0; oh < ho; oh++)
      for (size_t ow = 0; ow < wo; ow++) {
        long best = -1;
        for (size_t a = 0; a < k; a++)
          for (size_t b = 0; b < k; b++) {
            long r = (long)(oh * s + a) - (long)p, t = (long)(ow * s + b) - (long)p;
            if (r < 0 || t < 0 || r >= (long)h || t >= (long)w) continue;
            long at = (long)pl * (long)(h * w) + r * (long)w + t;
            if (best < 0 || x[at] > x[best]) best = at;
          }
        size_t q = (pl * ho + oh) * wo + ow;
        if (net->acts[0][q] != x[best]) wrong++;
        want_dx[best] += dy[q];
      }
  CHECK_MSG(wrong == 0, "%s on %zux%zux%zu: %d wrong maxima", spec, c, h, w, wrong);
  CHECK_MSG(memcmp(dx, want_dx, n * l->in_size * sizeof *dx) == 0,
            "%s on %zux%zux%zu: the gradient goes to other elements than the first maxima", spec, c,
            h, w);
  free(x), free(dx), free(dy), free(want_dx);
  descent_net_free(net);
}

/* The gradient, bit for bit, at 1 and 2 threads. */
static void check_thread_independence(void) {
  const char *spec = "conv(8, 3, pad=1), relu, maxpool(2), batchnorm, conv(6, 3, stride=2), "
                     "tanh, avgpool(2), flatten, batchnorm, dropout(0.2), dense(10)";
  descent_shape in = {3, {2, 16, 16}};
  size_t n = 37, count = 0;
  descent_real *x = malloc(n * 512 * sizeof *x), *grad[2] = {NULL, NULL}, *buffers[2];
  int32_t labels[37];
  descent_rng rng;
  descent_rng_seed(&rng, 4);
  for (size_t i = 0; i < n * 512; i++) x[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < n; i++) labels[i] = (int32_t)(i % 10);
  double loss[2];
  int saved = descent_get_threads();
  for (int t = 0; t < 2; t++) {
    descent_set_threads(2); /* the network sizes its work area for 2 */
    descent_net *net = NULL;
    CHECK_OK(descent_net_create(&net, spec, &in, DESCENT_LOSS_SOFTMAX_XENT, n, 9));
    if (!net) break;
    descent_set_threads(t + 1);
    descent_batch batch = {.n = n, .x = x, .labels = labels};
    CHECK_OK(descent_objective_value_and_grad(descent_net_objective(net), &batch, &loss[t]));
    count = descent_net_objective(net)->n_params;
    grad[t] = malloc(count * sizeof **grad);
    memcpy(grad[t], descent_net_objective(net)->grad, count * sizeof **grad);
    size_t nb;
    descent_real *b = descent_net_buffers(net, &nb);
    buffers[t] = malloc(nb * sizeof **buffers);
    memcpy(buffers[t], b, nb * sizeof **buffers);
    if (t == 1) CHECK(memcmp(buffers[0], buffers[1], nb * sizeof **buffers) == 0);
    descent_net_free(net);
  }
  descent_set_threads(saved);
  CHECK(loss[0] == loss[1]);
  CHECK_MSG(grad[0] && grad[1] && memcmp(grad[0], grad[1], count * sizeof **grad) == 0,
            "the gradient differs between 1 and 2 threads");
  printf("1 and 2 threads: same loss %.9g and the same %zu gradient values bit for bit\n", loss[0],
         count);
  free(grad[0]), free(grad[1]), free(buffers[0]), free(buffers[1]);
  free(x);
}

static void check_fmnist_2c2d(void) {
  descent_shape in = {3, {1, 28, 28}};
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "cnn:fmnist_2c2d", &in, DESCENT_LOSS_SOFTMAX_XENT, 4, 1));
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  CHECK(obj->n_params == 32 * 25 + 32 + 64 * 800 + 64 + 3136 * 1024 + 1024 + 1024 * 10 + 10);
  CHECK(net->n_layers == 10);
  CHECK(net->layers[6].out.ndim == 1 && net->layers[6].out_size == 3136);
  CHECK(obj->n_tensors == 8 && strcmp(obj->tensors[0].name, "layer1.conv.weight") == 0);
  CHECK(obj->tensors[0].shape.ndim == 4 && obj->tensors[0].shape.dims[1] == 1);
  /* DeepOBS's initialization: truncated normal std 0.05, biases 0.05. */
  double max = 0, sq = 0;
  for (size_t i = 0; i < 800; i++)
    max = fmax(max, fabs(obj->params[i])), sq += obj->params[i] * obj->params[i];
  CHECK(max <= 0.1 + 1e-7 && sqrt(sq / 800) > 0.035 && sqrt(sq / 800) < 0.055);
  CHECK(obj->params[800] == (descent_real)0.05 && obj->params[831] == (descent_real)0.05);
  descent_net_free(net);
}

static void check_batchnorm_buffers(void) {
  descent_shape in = {3, {3, 4, 4}};
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "batchnorm(momentum=0.5), flatten, dense(2), batchnorm", &in,
                              DESCENT_LOSS_MSE, 4, 1));
  if (!net) return;
  size_t count, tensors;
  descent_real *b = descent_net_buffers(net, &count);
  const descent_tensor_info *t = descent_net_buffer_tensors(net, &tensors);
  CHECK(count == 2 * 3 + 2 * 2 && tensors == 4);
  CHECK(strcmp(t[0].name, "layer1.batchnorm.running_mean") == 0 && t[0].size == 3);
  CHECK(strcmp(t[3].name, "layer4.batchnorm.running_var") == 0 && t[3].offset == 8);
  CHECK(b[0] == 0 && b[3] == 1 && b[9] == 1);
  char text[1024];
  descent_net_describe(net, text, sizeof text);
  CHECK(strstr(text, "10 buffer values") != NULL);
  /* Training with a single example: no variance to normalize by. */
  descent_real x[48] = {0}, y[2];
  descent_batch one = {.n = 1, .x = x, .targets = y};
  double loss;
  CHECK_FAILS(descent_objective_value(descent_net_objective(net), &one, &loss), DESCENT_ESHAPE,
              "layer4.batchnorm: training needs more than one value per channel");
  CHECK_OK(descent_net_predict(net, x, 1, y)); /* evaluation is fine */
  descent_net_free(net);
}

static void check_dropout(void) {
  descent_shape in = {1, {1000}};
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "dropout(0.25)", &in, DESCENT_LOSS_MSE, 2, 1));
  if (!net) return;
  descent_real x[2000], t[2000] = {0};
  for (size_t i = 0; i < 2000; i++) x[i] = 1;
  descent_batch batch = {.n = 2, .x = x, .targets = t};
  descent_rng state;
  descent_net_get_rng(net, &state);
  double loss;
  CHECK_OK(descent_objective_value(descent_net_objective(net), &batch, &loss));
  size_t zeros = 0;
  int scaled = 1;
  for (size_t i = 0; i < 2000; i++) {
    zeros += net->acts[0][i] == 0;
    if (net->acts[0][i] != 0 && fabs(net->acts[0][i] - 1 / 0.75) > 1e-6) scaled = 0;
  }
  CHECK_MSG(zeros > 420 && zeros < 580, "%zu of 2000 dropped, expected about 500", zeros);
  CHECK(scaled);
  descent_real first[2000];
  memcpy(first, net->acts[0], sizeof first);
  CHECK_OK(descent_objective_value(descent_net_objective(net), &batch, &loss));
  CHECK(memcmp(first, net->acts[0], sizeof first) != 0); /* a new mask */
  descent_net_set_rng(net, &state);
  CHECK_OK(descent_objective_value(descent_net_objective(net), &batch, &loss));
  CHECK(memcmp(first, net->acts[0], sizeof first) == 0); /* the same mask again */
  descent_real y[2000];
  CHECK_OK(descent_net_predict(net, x, 2, y));
  CHECK(memcmp(x, y, sizeof y) == 0); /* off in evaluation */
  descent_net_free(net);
}

/* Each activation's forward and backward pass against its formula, on a
   small batch (serial) and ones above the parallel thresholds, with inputs
   and output gradients that hit both sides of ReLU's kink and 0 itself. */
static void check_activation(const char *spec, double (*f)(double), double (*df)(double y)) {
  /* 7 x 128: serial; 300 x 128: parallel for tanh and sigmoid forward (an
     exp per value); 8200 x 128: parallel for every pass. */
  const size_t sizes[] = {7, 300, 8200}, width = 128;
  for (int s = 0; s < 3; s++) {
    size_t n = sizes[s], count = n * width;
    descent_shape in = {1, {width}};
    descent_net *net = NULL;
    CHECK_OK(descent_net_create(&net, spec, &in, DESCENT_LOSS_MSE, n, 1));
    if (!net) return;
    layer *l = &net->layers[0];
    descent_real *x = malloc(count * sizeof *x), *dy = malloc(count * sizeof *dy);
    descent_real *dx = malloc(count * sizeof *dx);
    descent_rng rng;
    descent_rng_seed(&rng, 5);
    for (size_t i = 0; i < count; i++) {
      x[i] = i % 17 == 0 ? 0 : (descent_real)descent_rng_normal(&rng);
      dy[i] = (descent_real)descent_rng_normal(&rng);
    }
    l->ops->forward(l, NULL, x, net->acts[0], n, 1);
    l->ops->backward(l, NULL, x, net->acts[0], dy, dx, NULL, n);
    double worst_y = 0, worst_dx = 0;
    for (size_t i = 0; i < count; i++) {
      double y = f(x[i]), want_dx = (double)dy[i] * df((double)net->acts[0][i]);
      worst_y = larger(worst_y, fabs(net->acts[0][i] - y) / fmax(1, fabs(y)));
      worst_dx = larger(worst_dx, fabs(dx[i] - want_dx) / fmax(1, fabs(want_dx)));
    }
    CHECK_MSG(worst_y <= 1e-6, "%s forward, %zu values: worst error %g", spec, count, worst_y);
    CHECK_MSG(worst_dx <= 1e-6, "%s backward, %zu values: worst error %g", spec, count, worst_dx);
    free(x);
    free(dy);
    free(dx);
    descent_net_free(net);
  }
}

static double relu_f(double x) {
  return x > 0 ? x : 0;
}
static double relu_df(double y) {
  return y > 0 ? 1 : 0;
}
static double tanh_df(double y) {
  return 1 - y * y;
}
static double sigmoid_f(double x) {
  return 1 / (1 + exp(-x));
}
static double sigmoid_df(double y) {
  return y * (1 - y);
}

/* Softmax cross-entropy: loss and gradient against the formulas in double,
   on random rows and on confident ones, where the label's gradient
   (softmax - 1) / n is a small difference of numbers near 1 / n: computed
   from the other classes' share here, so the reference does not cancel. */
static void check_xent(void) {
  enum { N = 6, K = 10 };
  descent_real z[N * K], dz[N * K];
  int32_t labels[N];
  double row_loss[N], loss, total = 0;
  descent_rng rng;
  descent_rng_seed(&rng, 11);
  for (size_t i = 0; i < N; i++) {
    labels[i] = (int32_t)((i * 3) % K);
    for (size_t j = 0; j < K; j++) z[i * K + j] = (descent_real)(3 * descent_rng_normal(&rng));
    if (i % 2) z[i * K + (size_t)labels[i]] = (descent_real)(18 + i); /* p = 1 - 1e-7 or less */
  }
  CHECK_OK(
      loss_evaluate(DESCENT_LOSS_SOFTMAX_XENT, z, N, K, labels, NULL, row_loss, &loss, dz, NULL));
  double worst = 0, worst_loss = 0;
  for (size_t i = 0; i < N; i++) {
    const descent_real *row = z + i * K;
    double max = row[0], sum = 0, others = 0;
    for (size_t j = 1; j < K; j++) max = row[j] > max ? row[j] : max;
    for (size_t j = 0; j < K; j++) {
      sum += exp(row[j] - max);
      if (j != (size_t)labels[i]) others += exp(row[j] - max);
    }
    double want_loss = log(sum) + max - row[labels[i]];
    total += want_loss;
    worst_loss = larger(worst_loss, fabs(row_loss[i] - want_loss) / fmax(1, want_loss));
    for (size_t j = 0; j < K; j++) {
      double want = j == (size_t)labels[i] ? -others / sum / N : exp(row[j] - max) / sum / N;
      worst = larger(worst, fabs(dz[i * K + j] - want) / fabs(want));
    }
  }
  CHECK_MSG(worst <= 1e-6, "cross-entropy gradient: worst relative error %g", worst);
  CHECK_MSG(worst_loss <= 1e-12, "cross-entropy row losses: worst error %g", worst_loss);
  CHECK_CLOSE(loss, total / N, 1e-12);
}

static void refused(const char *spec, const descent_shape *in, int status, const char *needle) {
  descent_net *net = (descent_net *)1;
  CHECK_FAILS(descent_net_create(&net, spec, in, DESCENT_LOSS_SOFTMAX_XENT, 4, 1), status, needle);
  CHECK(net == NULL);
}

static void check_refusals(void) {
  descent_shape image = {3, {1, 8, 8}}, flat = {1, {64}};
  refused("dense(4), conv(2, 3)", &image, DESCENT_ESHAPE, "layer2.conv needs image inputs");
  refused("conv(2, 3)", &flat, DESCENT_ESHAPE, "layer1.conv needs image inputs");
  refused("maxpool(2)", &flat, DESCENT_ESHAPE, "layer1.maxpool needs image inputs");
  refused("conv(2, 9)", &image, DESCENT_ESHAPE, "kernel 9 is larger than the padded input 8x8");
  refused("avgpool(9)", &image, DESCENT_ESHAPE, "window 9 is larger");
  refused("maxpool(3, pad=2)", &image, DESCENT_EINVAL, "padding must be at most half the window");
  refused("conv(2)", &image, DESCENT_EINVAL, "conv needs a value for 'kernel'");
  refused("conv(0, 3)", &image, DESCENT_EINVAL, "out of range");
  refused("conv(2, 3, stride=0)", &image, DESCENT_EINVAL, "out of range");
  refused("conv(2, 3, dilation=2)", &image, DESCENT_EINVAL, "has no parameter 'dilation'");
  refused("conv(2, 3, init=lecun)", &image, DESCENT_EINVAL, "unknown initialization");
  refused("dropout(1)", &image, DESCENT_EINVAL, "out of range; valid values are [0, 1)");
  refused("dropout(p=-0.1)", &image, DESCENT_EINVAL, "out of range");
  refused("batchnorm(eps=0)", &image, DESCENT_EINVAL, "out of range");
  refused("batchnorm(momentum=2)", &image, DESCENT_EINVAL, "out of range");
  refused("flatten(1)", &image, DESCENT_EINVAL, "flatten takes no arguments");
  refused("cnn:lenet5", &image, DESCENT_EINVAL, "unknown network 'lenet5'; valid: fmnist_2c2d");
  refused("dense(10), softmax", &image, DESCENT_EINVAL,
          "valid layers: dense, conv, maxpool, avgpool, flatten, relu, tanh, sigmoid, batchnorm, "
          "dropout");
}

/* The direct kernel's and oneDNN's checks are parts of their own
   (`test_layers direct`, `test_layers dnnl`): where the code cannot run they
   print SKIP with the reason and exit 77, rather than pass without running. */
static int run_direct_part(void) {
  if (!conv_direct_available()) {
    printf("SKIP: the direct convolution cannot run here (it is AVX-512 code on x86-64, taken "
           "on the avx512 path)\n");
    return 77;
  }
  check_direct_against_gemm("conv(64, 5, pad=2)", 32, 14, 14); /* fmnist_2c2d's second */
  check_direct_against_gemm("conv(8, 3)", 16, 10, 19);
  check_direct_against_gemm("conv(16, 5, pad=4)", 8, 4, 6);
  check_direct_against_gemm("conv(16, 4, pad=1, bias=0)", 24, 8, 33);
  /* Channel-vectorized tiles: 2 vectors of channels on 11-wide rows, both
     ways; 48 channels in single vectors (8 + 7, and 9 + 8 for the 16 of the
     input gradient); 30-wide rows in tiles of 10, 16 and 64 channels. */
  check_direct_against_gemm("conv(32, 3, pad=1)", 64, 5, 11);
  check_direct_against_gemm("conv(48, 3)", 16, 6, 17);
  check_direct_against_gemm("conv(16, 3, pad=1, bias=0)", 64, 3, 30);
  return check_report();
}

static int run_dnnl_part(void) {
  if (!conv_dnnl_available()) {
    printf("SKIP: %s\n", CONV_DNNL ? "oneDNN is not used on the portable path"
                                   : "built without oneDNN (or in double)");
    return 77;
  }
  /* fmnist_2c2d's two convolutions, strides, odd sizes, no bias. */
  check_dnnl_against_gemm("conv(64, 5, pad=2)", 32, 14, 14);
  check_dnnl_against_gemm("conv(32, 5, pad=2)", 8, 28, 28);
  check_dnnl_against_gemm("conv(16, 3, stride=2, pad=1)", 8, 9, 11);
  check_dnnl_against_gemm("conv(20, 4, stride=3, pad=2, bias=0)", 12, 13, 7);
  check_dnnl_against_gemm("conv(7, 3)", 9, 5, 6);
  if (descent_isa_path() >= DESCENT_ISA_AVX512)
    check_dnnl_against_gemm("conv(32, 5, pad=2)", 1, 28, 28); /* forward and weights only */
  return check_report();
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "direct") == 0) return run_direct_part();
  if (argc > 1 && strcmp(argv[1], "dnnl") == 0) return run_dnnl_part();
  if (argc > 1) {
    fprintf(stderr, "usage: test_layers [direct|dnnl]\n");
    return 2;
  }
  check_conv_against_reference("conv(4, 3)", 3, 9, 8, 4, 3, 1, 0, 1);
  check_conv_against_reference("conv(5, 5, pad=2)", 2, 7, 7, 5, 5, 1, 2, 1);
  check_conv_against_reference("conv(3, 3, stride=2, pad=1, bias=0)", 4, 9, 10, 3, 3, 2, 1, 0);
  check_conv_against_reference("conv(2, 4, stride=3, pad=2)", 1, 11, 9, 2, 4, 3, 2, 1);
  /* The direct kernel: rows of one vector and of two, 1 to 3 rows per tile. */
  check_conv_against_reference("conv(16, 3, pad=1)", 16, 9, 7, 16, 3, 1, 1, 1);
  check_conv_against_reference("conv(24, 5, pad=2, bias=0)", 8, 5, 20, 24, 5, 1, 2, 0);
  check_maxpool_paths("maxpool(2)", 3, 28, 28); /* rows of 14: one stage */
  check_maxpool_paths("maxpool(2)", 3, 20, 18); /* rows of 9: overlapping blocks */
  check_maxpool_paths("maxpool(2)", 4, 14, 14); /* rows of 7: two stages */
  check_maxpool_paths("maxpool(2)", 2, 6, 4);   /* tiny planes */
  check_maxpool_paths("maxpool(2)", 2, 7, 9);   /* odd sizes: the general path */
  check_maxpool_paths("maxpool(3, stride=2, pad=1)", 2, 9, 10);
  check_maxpool_paths("maxpool(2, stride=1)", 2, 5, 6);
  check_thread_independence();
  check_activation("relu", relu_f, relu_df);
  check_activation("tanh", tanh, tanh_df);
  check_activation("sigmoid", sigmoid_f, sigmoid_df);
  check_xent();
  check_fmnist_2c2d();
  check_batchnorm_buffers();
  check_dropout();
  check_refusals();
  return check_report();
}
