/*
 * test_cnn_gradcheck.c - the deep-network layers against central finite
 * differences, in double precision: convolution (strides, padding, several
 * channels), max and average pooling, flatten, batch norm in training mode
 * (1D and 2D), dropout with a fixed mask, and a whole small CNN.
 *
 * Kinks are not skipped but kept out of reach of the step: for every ReLU the
 * test reports the smallest |pre-activation|, for every max pooling window the
 * gap between its largest and second-largest value (ties away from the
 * maximum do not matter), and requires both to be far above what a step of H
 * can move them. The batch has 8 examples: with 4, batch norm over 147
 * features sees some nearly constant ones, whose 1/std makes the loss so
 * curved that the central difference's own O(h^2) error reaches 4e-5 (it
 * falls to 4e-6 with h = 1e-6: truncation, not a wrong gradient). Dropout draws a new mask on every
 * forward pass; the test wraps the network in an objective that restores the
 * network's RNG before each evaluation, and checks that every evaluation of
 * the check (the gradient and all the +-h values) used the same mask.
 */
#include "check.h"
#include "nn/network_internal.h"

#include <stdlib.h>

#define BATCH 8
#define H     1e-5
#define TOL   1e-6

static descent_real x[BATCH * 2 * 7 * 7];
static int32_t labels[BATCH] = {0, 2, 1, 2, 1, 0, 0, 2};
static const descent_shape image = {3, {2, 7, 7}};

/* An objective that evaluates the network with its RNG reset to one state,
   so dropout uses one mask, and that checks the mask is the same each time. */
typedef struct fixed_rng {
  descent_objective obj;
  descent_net *net;
  descent_rng state;
  uint64_t first_hash;
  int calls, mismatches;
} fixed_rng;

static uint64_t mask_hash(const descent_net *net, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    if (l->ops != &layer_dropout) continue;
    const descent_real *mask = l->scratch;
    for (size_t j = 0; j < n * l->in_size; j++)
      h = (h ^ (uint64_t)(mask[j] != 0)) * 1099511628211ull;
  }
  return h;
}

static int fixed_call(descent_objective *obj, const descent_batch *batch, double *loss, int grad) {
  fixed_rng *f = obj->impl;
  descent_net_set_rng(f->net, &f->state);
  descent_objective *inner = descent_net_objective(f->net);
  int rc = grad ? descent_objective_value_and_grad(inner, batch, loss)
                : descent_objective_value(inner, batch, loss);
  uint64_t h = mask_hash(f->net, batch->n);
  if (f->calls++ == 0)
    f->first_hash = h;
  else if (h != f->first_hash)
    f->mismatches++;
  return rc;
}

static int fixed_value_and_grad(descent_objective *obj, const descent_batch *b, double *loss) {
  return fixed_call(obj, b, loss, 1);
}

static int fixed_value(descent_objective *obj, const descent_batch *b, double *loss) {
  return fixed_call(obj, b, loss, 0);
}

static const descent_objective_ops fixed_ops = {
    .kind = "fixed-rng", .value_and_grad = fixed_value_and_grad, .value = fixed_value};

/* Smallest distance to a kink after one training-mode forward pass: ReLU
   inputs near 0, max-pooling windows whose two largest values are close. */
static double kink_margin(descent_net *net, const descent_batch *batch) {
  double loss, margin = INFINITY;
  descent_rng saved;
  descent_net_get_rng(net, &saved);
  CHECK_OK(descent_objective_value(descent_net_objective(net), batch, &loss));
  descent_net_set_rng(net, &saved);
  for (size_t i = 0; i < net->n_layers; i++) {
    const layer *l = &net->layers[i];
    const descent_real *in = i ? net->acts[i - 1] : batch->x;
    if (l->ops == &layer_relu)
      for (size_t j = 0; j < batch->n * l->in_size; j++) margin = fmin(margin, fabs(in[j]));
    if (l->ops != &layer_maxpool) continue;
    size_t c = l->in.dims[0], h = l->in.dims[1], w = l->in.dims[2];
    size_t ho = l->out.dims[1], wo = l->out.dims[2], kernel, stride, pad;
    pool_window(l, &kernel, &stride, &pad);
    for (size_t p = 0; p < batch->n * c; p++)
      for (size_t oh = 0; oh < ho; oh++)
        for (size_t ow = 0; ow < wo; ow++) {
          double best = -INFINITY, second = -INFINITY;
          for (size_t a = 0; a < kernel; a++)
            for (size_t b = 0; b < kernel; b++) {
              long r = (long)(oh * stride + a) - (long)pad;
              long s = (long)(ow * stride + b) - (long)pad;
              if (r < 0 || s < 0 || r >= (long)h || s >= (long)w) continue;
              double v = in[p * h * w + (size_t)r * w + (size_t)s];
              if (v > best)
                second = best, best = v;
              else if (v > second)
                second = v;
            }
          /* A window of ReLU zeros is no kink: the ReLU margin keeps every
             value at zero under +-h and its gradient is zero anyway. */
          if (best == 0 && second == 0 && i > 0 && net->layers[i - 1].ops == &layer_relu) continue;
          if (second > -INFINITY) margin = fmin(margin, best - second);
        }
  }
  return margin;
}

static double check_net(const char *spec) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, &image, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 5));
  if (!net) return INFINITY;
  descent_batch batch = {.n = BATCH, .x = x, .labels = labels};
  fixed_rng f = {.net = net};
  f.obj = *descent_net_objective(net);
  f.obj.ops = &fixed_ops;
  f.obj.impl = &f;
  descent_net_get_rng(net, &f.state);
  double margin = kink_margin(net, &batch);
  descent_gradcheck_result r;
  CHECK_OK(descent_gradcheck(&f.obj, &batch, H, 1e-4, 0, 1, &r));
  CHECK(r.checked == descent_net_objective(net)->n_params);
  CHECK_MSG(r.max_rel_error <= TOL,
            "%s: relative error %.3g at parameter %zu (analytic %.10g, numeric %.10g)", spec,
            r.max_rel_error, r.worst_index, r.analytic, r.numeric);
  CHECK_MSG(f.mismatches == 0, "%s: %d of %d evaluations used another dropout mask", spec,
            f.mismatches, f.calls);
  /* A step of H on one parameter moves a first-layer output by at most
     H max|x| = H (and a difference of two by 2H), deeper ones by a few H at
     these weight scales: a margin of 10 H keeps every +-h evaluation on one
     side of each kink (and a crossing would show as a large error). */
  CHECK_MSG(margin > 10 * H, "%s: a kink lies %.3g from an activation", spec, margin);
  printf("%-78s max rel error %.2e over %4zu params, kink margin %.3g\n", spec, r.max_rel_error,
         r.checked, margin);
  descent_net_free(net);
  return r.max_rel_error;
}

/* The fixed-mask wrapper must be needed: without it two evaluations differ. */
static void check_dropout_masks_change(void) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "flatten, dropout(0.5), dense(3)", &image,
                              DESCENT_LOSS_SOFTMAX_XENT, BATCH, 5));
  descent_batch batch = {.n = BATCH, .x = x, .labels = labels};
  double a, b;
  CHECK_OK(descent_objective_value(descent_net_objective(net), &batch, &a));
  uint64_t first = mask_hash(net, BATCH);
  CHECK_OK(descent_objective_value(descent_net_objective(net), &batch, &b));
  CHECK(mask_hash(net, BATCH) != first);
  descent_net_free(net);
}

int main(void) {
#ifndef DESCENT_DOUBLE
  fprintf(stderr, "test_cnn_gradcheck needs the double-precision library\n");
  return 1;
#endif
  /* Thousands of evaluations of tiny networks: one thread. (Two threads give
     the same numbers, but when the cores are shared, say by ctest -j, each
     of the thousands of parallel regions waits for a descheduled thread.) */
  descent_set_threads(1);
  descent_rng rng;
  descent_rng_seed(&rng, 21);
  for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = 2 * descent_rng_uniform(&rng) - 1;
  /* Convolution: stride, padding, channels, no bias. */
  check_net("conv(3, 3), dense(3)");
  check_net("conv(4, 3, stride=2, pad=1), tanh, dense(3)");
  check_net("conv(2, 5, pad=2, bias=0), sigmoid, conv(3, 2, stride=2), dense(3)");
  check_net("conv(3, 4, stride=3, pad=2), dense(3)");
  /* The second convolution takes the direct kernel both ways (stride 1, 8
     channels in and out, 128 column rows). */
  check_net("conv(8, 3, pad=1), tanh, conv(8, 4, pad=2), tanh, dense(3)");
  /* Pooling, overlapping windows and padding included. */
  check_net("conv(3, 3, pad=1), maxpool(2), dense(3)");
  check_net("conv(3, 3, pad=1), maxpool(3, stride=2, pad=1), dense(3)");
  check_net("conv(3, 3, pad=1), avgpool(2), dense(3)");
  check_net("conv(3, 3, pad=1), avgpool(3, stride=2, pad=1), flatten, dense(3)");
  /* Batch norm in training mode, per feature and per channel. */
  check_net("dense(5), batchnorm, tanh, dense(3)");
  check_net("conv(3, 3), batchnorm(momentum=0.3, eps=1e-3), tanh, dense(3)");
  check_net("conv(3, 3), flatten, batchnorm, dense(3)");
  /* Dropout with a fixed mask. */
  check_net("dense(8), tanh, dropout(0.4), dense(3)");
  check_dropout_masks_change();
  /* A whole small CNN with every kind of layer. */
  check_net("conv(4, 3, pad=1), relu, maxpool(2), conv(5, 3, pad=1), batchnorm, relu, "
            "avgpool(2, pad=1), flatten, dense(6), relu, dropout(0.3), dense(3)");
  check_net("conv(4, 3, pad=1), tanh, maxpool(2), flatten, batchnorm, dense(3)");
  return check_report();
}
