/*
 * test_gradcheck.c - every layer and loss against central finite differences,
 * in double precision.
 *
 * Each layer is checked inside a small network: the activations sit between
 * dense layers, so their backward pass (dx) is what the first dense layer's
 * gradient depends on. ReLU has a kink at 0; the test does not skip it but
 * makes sure no pre-activation lies within reach of the finite-difference step
 * (it reports the margin), and checks the convention relu'(0) = 0 exactly.
 * Last, it breaks one backward pass on purpose and requires the check to fail.
 */
#include "check.h"
#include "nn/network_internal.h"

#include <stdlib.h>

#define BATCH 5
#define H     1e-5
#define TOL   1e-6

static descent_real x[BATCH * 6];
static int32_t labels[BATCH] = {0, 2, 1, 2, 0};
static descent_real targets[BATCH * 3];

static double check_net(const char *spec, descent_loss_kind loss, int use_targets) {
  descent_net *net = NULL;
  descent_shape in = {1, {6}};
  CHECK_OK(descent_net_create(&net, spec, &in, loss, BATCH, 3));
  if (!net) return INFINITY;
  descent_batch batch = {
      .n = BATCH, .x = x, .labels = labels, .targets = use_targets ? targets : NULL};
  descent_gradcheck_result r;
  CHECK_OK(descent_gradcheck(descent_net_objective(net), &batch, H, 1e-4, 0, 1, &r));
  CHECK(r.checked == descent_net_objective(net)->n_params);
  CHECK_MSG(r.max_rel_error <= TOL,
            "%s (%s): relative error %.3g at parameter %zu (analytic %.10g, "
            "numeric %.10g)",
            spec, descent_loss_name(loss), r.max_rel_error, r.worst_index, r.analytic, r.numeric);
  printf("%-45s %-4s max relative error %.2e over %zu parameters\n", spec, descent_loss_name(loss),
         r.max_rel_error, r.checked);
  descent_net_free(net);
  return r.max_rel_error;
}

/* Smallest |pre-activation| of the first dense layer over the batch: the
   distance to ReLU's kink. A parameter step of H moves a pre-activation by at
   most H * max|x| (here < 2H), so a margin far above that means no central
   difference straddles the kink. */
static double relu_margin(const char *spec) {
  descent_net *net = NULL;
  descent_shape in = {1, {6}};
  CHECK_OK(descent_net_create(&net, spec, &in, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 3));
  descent_batch batch = {.n = BATCH, .x = x, .labels = labels};
  double loss, margin = INFINITY;
  CHECK_OK(descent_objective_value(descent_net_objective(net), &batch, &loss));
  for (size_t i = 0; i < BATCH * net->layers[0].out_size; i++)
    margin = fmin(margin, fabs(net->acts[0][i]));
  descent_net_free(net);
  return margin;
}

static void check_relu_at_zero(void) {
  descent_real in[3] = {-1, 0, 2}, out[3], dy[3] = {1, 1, 1}, dx[3];
  layer l = {.ops = &layer_relu, .in_size = 3};
  layer_relu.forward(&l, NULL, in, out, 1, 1);
  layer_relu.backward(&l, NULL, in, out, dy, dx, NULL, 1);
  CHECK(out[0] == 0 && out[1] == 0 && out[2] == 2);
  CHECK(dx[0] == 0 && dx[1] == 0 && dx[2] == 1); /* relu'(0) = 0, as PyTorch */
}

/* tanh's backward with 1 - y instead of 1 - y^2: a plausible slip. */
static void wrong_tanh_backward(layer *l, const descent_real *params, const descent_real *in,
                                const descent_real *y, const descent_real *dy, descent_real *dx,
                                descent_real *dparams, size_t n) {
  for (size_t i = 0; i < n * l->in_size; i++) dx[i] = dy[i] * (1 - y[i]);
}

static void check_wrong_backward_is_caught(void) {
  descent_net *net = NULL;
  descent_shape in = {1, {6}};
  CHECK_OK(descent_net_create(&net, "dense(4), tanh, dense(3)", &in, DESCENT_LOSS_SOFTMAX_XENT,
                              BATCH, 3));
  layer_ops broken = layer_tanh;
  broken.backward = wrong_tanh_backward;
  net->layers[1].ops = &broken;
  descent_batch batch = {.n = BATCH, .x = x, .labels = labels};
  descent_gradcheck_result r;
  CHECK_OK(descent_gradcheck(descent_net_objective(net), &batch, H, 1e-4, 0, 1, &r));
  printf("deliberately wrong tanh backward: max relative error %.2e (must exceed %.0e)\n",
         r.max_rel_error, TOL);
  CHECK(r.max_rel_error > 1e-2);
  descent_net_free(net);
}

int main(void) {
#ifndef DESCENT_DOUBLE
  fprintf(stderr, "test_gradcheck needs the double-precision library\n");
  return 1;
#endif
  descent_rng rng;
  descent_rng_seed(&rng, 11);
  for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = 2 * descent_rng_uniform(&rng) - 1;
  for (size_t i = 0; i < sizeof targets / sizeof *targets; i++)
    targets[i] = descent_rng_normal(&rng);
  /* Losses on a single dense layer. */
  check_net("dense(3)", DESCENT_LOSS_SOFTMAX_XENT, 0);
  check_net("dense(3)", DESCENT_LOSS_MSE, 1);
  check_net("dense(3)", DESCENT_LOSS_MSE, 0); /* one-hot targets from labels */
  check_net("dense(3, bias=0)", DESCENT_LOSS_SOFTMAX_XENT, 0);
  /* Each activation between two dense layers. */
  check_net("dense(4), tanh, dense(3)", DESCENT_LOSS_SOFTMAX_XENT, 0);
  check_net("dense(4), sigmoid, dense(3)", DESCENT_LOSS_MSE, 1);
  const char *relu_net = "dense(8), relu, dense(3)";
  double margin = relu_margin(relu_net);
  printf("relu: nearest pre-activation to the kink is %.3g (step moves it by < %.0e)\n", margin,
         2 * H);
  CHECK_MSG(margin > 100 * H, "a pre-activation at %.3g is too close to the kink", margin);
  check_net(relu_net, DESCENT_LOSS_SOFTMAX_XENT, 0);
  check_relu_at_zero();
  /* A whole MLP, through the shorthand. */
  check_net("mlp:6-7-5-3/tanh", DESCENT_LOSS_SOFTMAX_XENT, 0);
  check_net("mlp:6-7-5-3/sigmoid", DESCENT_LOSS_MSE, 1);
  check_wrong_backward_is_caught();
  return check_report();
}
