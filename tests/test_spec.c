/*
 * test_spec.c - the text syntax: model specs, optimizer chains and learning
 * rates, accepted and refused, and what plain SGD does to the parameters.
 */
#include "check.h"

#include <stdio.h>
#include <stdlib.h>

static const descent_shape input6 = {1, {6}};

static void net_refused(const char *spec, int status, const char *needle) {
  descent_net *net = (descent_net *)1;
  CHECK_FAILS(descent_net_create(&net, spec, &input6, DESCENT_LOSS_SOFTMAX_XENT, 4, 1), status,
              needle);
  CHECK(net == NULL);
}

static void net_ok(const char *spec) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, &input6, DESCENT_LOSS_SOFTMAX_XENT, 4, 1));
  descent_net_free(net);
}

static void check_model_specs(void) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "dense(4), relu dense(3)", &input6, DESCENT_LOSS_MSE, 4, 1));
  CHECK(net && descent_net_outputs(net) == 3);
  CHECK(net && descent_net_objective(net)->n_params == 6 * 4 + 4 + 4 * 3 + 3);
  CHECK(net && descent_net_objective(net)->n_tensors == 4);
  if (net) CHECK(strcmp(descent_net_objective(net)->tensors[2].name, "layer3.dense.weight") == 0);
  if (net) CHECK(descent_net_objective(net)->tensors[2].offset == 28);
  descent_net_free(net);
  CHECK_OK(descent_net_create(&net, "mlp:6-5-2/tanh", &input6, DESCENT_LOSS_MSE, 4, 1));
  descent_net_free(net);

  net_refused("dense(10), foo", DESCENT_EINVAL,
              "unknown layer 'foo' (item 2); valid layers: dense");
  net_refused("dense(0)", DESCENT_EINVAL, "out of range");
  net_refused("dense(x)", DESCENT_EINVAL, "'x' is not a number");
  net_refused("dense(2.5)", DESCENT_EINVAL, "whole number");
  net_refused("dense(10, units=3)", DESCENT_EINVAL,
              "has no parameter 'units'; valid parameters: out");
  net_refused("dense(10, init=lecun)", DESCENT_EINVAL, "unknown initialization");
  net_refused("dense(10, out=3)", DESCENT_EINVAL, "given twice");
  net_refused("dense", DESCENT_EINVAL, "needs a value for 'out'");
  net_refused("dense(10", DESCENT_EINVAL, "missing ')'");
  net_refused("dense(10))", DESCENT_EINVAL, "unbalanced ')'");
  net_refused("relu(3)", DESCENT_EINVAL, "takes no arguments");
  net_refused("", DESCENT_EINVAL, "empty model spec");
  net_refused("mlp:784-10", DESCENT_ESHAPE, "does not match the data's 6 features");
  net_refused("mlp:6-abc", DESCENT_EINVAL, "expected layer widths separated by");
  net_refused("mlp:6-5x-2", DESCENT_EINVAL, "unexpected");
  net_refused("mlp:6", DESCENT_EINVAL, "at least an input and an output");
  net_refused("mlp:6-10/softplus", DESCENT_EINVAL, "unknown activation 'softplus'");
  net_refused("dense(16777216), dense(16777216)", DESCENT_ERANGE, "too large");
}

static void opt_refused(const char *spec, const char *lr, const char *needle) {
  descent_optimizer *opt = (descent_optimizer *)1;
  CHECK_FAILS(descent_optimizer_create(&opt, spec, lr, 10), DESCENT_EINVAL, needle);
  CHECK(opt == NULL);
}

static void check_optimizer_specs(void) {
  opt_refused("sgdd", NULL, "unknown optimizer or transform 'sgdd'; named optimizers: sgd");
  opt_refused("sgd", "-1", "must be non-negative");
  opt_refused("sgd", "fast", "not a number or a known schedule; valid schedules: constant");
  opt_refused("sgd", "constant(lr=-2)", "out of range");
  opt_refused("sgd", "constant()", "needs a value for 'lr'");
  opt_refused("sgd(lr=0.1)", "0.2", "given twice");
  opt_refused("sgd(0.1)", NULL, "name its arguments");
  opt_refused("sgd(mu=0.9)", NULL, "has no parameter 'mu'");
  opt_refused("lr(0.1) | lr(0.2)", NULL, "lr(...) must come last");
  opt_refused("lr", NULL, "no learning rate");
  opt_refused("", NULL, "empty optimizer spec");
  opt_refused("sgd |", NULL, "empty item");
}

/* A long spec whose mistake is at its end: the message keeps the reason and
 * quotes a bounded excerpt around the mistake, so it stays short. */
static void check_long_specs(void) {
  char spec[6000];
  size_t used = (size_t)snprintf(spec, sizeof spec, "dense(4),");
  memset(spec + used, ' ', 5000);
  snprintf(spec + used + 5000, sizeof spec - used - 5000, "dense(3))");
  net_refused(spec, DESCENT_EINVAL, "model spec: unbalanced ')' at character 5018 of '...");
  CHECK_MSG(strlen(descent_last_error()) < 300, "message of %zu characters",
            strlen(descent_last_error()));
  CHECK(strstr(descent_last_error(), "dense(3))' (5018 characters)") != NULL);

  /* An argument list beyond the parser's buffer: refused, naming the limit. */
  used = (size_t)snprintf(spec, sizeof spec, "dense(4,");
  memset(spec + used, ' ', 600);
  snprintf(spec + used + 600, sizeof spec - used - 600, "bias_init=1)");
  net_refused(spec, DESCENT_ERANGE, "argument list longer than the limit of 511 characters");
}

/* Control characters in a spec are refused (specs are saved as one
 * KEY=VALUE line each) and shown escaped in the message, which stays one
 * line; so are empty items between commas. */
static void check_escaped_messages(void) {
  net_refused("dense(4, init=he\nx)", DESCENT_EINVAL,
              "control character at character 17 of 'dense(4, init=he\\nx)'");
  CHECK(strchr(descent_last_error(), '\n') == NULL);
  net_refused("dense(4, bias_init=1\t2)", DESCENT_EINVAL,
              "control character at character 21 of 'dense(4, bias_init=1\\t2)'");
  net_refused("dense(4, in\x01it=he)", DESCENT_EINVAL,
              "control character at character 12 of 'dense(4, in\\x01it=he)'");
  net_refused("mlp:6-5\x02-2", DESCENT_EINVAL, "unexpected '\\x02' at character 8");
  opt_refused("adam\n", NULL, "control character at character 5 of 'adam\\n'");
  net_refused(", dense(4)", DESCENT_EINVAL, "empty item at character 1");
  net_refused("dense(4),", DESCENT_EINVAL, "empty item at character 10");
  net_refused("dense(4), , relu", DESCENT_EINVAL, "empty item at character 11");
  net_ok("dense(4) , relu");
  net_ok("dense(4)  relu");
  opt_refused("sgd(momentum=0.\n9)", NULL,
              "control character at character 16 of 'sgd(momentum=0.\\n9)'");
  CHECK(strchr(descent_last_error(), '\n') == NULL);
}

/* Windows, strides and padding that no image could use. */
static void check_layer_sizes(void) {
  net_refused("maxpool(2, stride=0)", DESCENT_EINVAL,
              "maxpool(stride=0): out of range; valid values are [1, 64]");
  net_refused("avgpool(2, stride=0)", DESCENT_EINVAL, "avgpool(stride=0): out of range");
  net_refused("maxpool(0)", DESCENT_EINVAL, "maxpool(kernel=0): out of range");
  net_refused("conv(2, 3, stride=0)", DESCENT_EINVAL, "conv(stride=0): out of range");
  net_refused("conv(2, 3, pad=3)", DESCENT_EINVAL,
              "conv(pad=3): padding must be smaller than the kernel (3)");
  net_refused("conv(2, 0)", DESCENT_EINVAL, "conv(kernel=0): out of range");
  net_refused("conv(2, 3, pad=-1)", DESCENT_EINVAL, "conv(pad=-1): out of range");
}

/* Numbers are decimal; a decimal number a double cannot hold is out of range,
 * not "not a number". */
static void check_numbers(void) {
  net_refused("dense(0x10)", DESCENT_EINVAL, "'0x10' is not a number");
  net_refused("dense(16, std=inf)", DESCENT_EINVAL, "'inf' is not a number");
  net_refused("dense(16, bias_init=nan)", DESCENT_EINVAL, "'nan' is not a number");
  net_refused("dense(16, bias_init=1e400)", DESCENT_EINVAL,
              "out of range: '1e400' does not fit in a double");
  net_refused("dense(16, bias_init=1e-320)", DESCENT_EINVAL,
              "out of range: '1e-320' does not fit in a double, which holds 0 or a magnitude "
              "from 2.2250738585072014e-308");
  net_refused("dense(16, bias_init=1.5.2)", DESCENT_EINVAL, "'1.5.2' is not a number");
  net_refused("dense(16, bias_init=1e)", DESCENT_EINVAL, "'1e' is not a number");
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "dense(4, bias_init=-1.5e-1), dense(+3, bias_init=.5)", &input6,
                              DESCENT_LOSS_MSE, 4, 1));
  descent_net_free(net);
  CHECK_OK(descent_net_create(&net, "dense(4, bias_init=0e-999)", &input6, DESCENT_LOSS_MSE, 4, 1));
  descent_net_free(net);
}

/* A named optimizer inside a chain: refused with the chain to write instead. */
static void check_named_in_chain(void) {
  opt_refused("clip(1) | sgd", NULL,
              "optimizer: 'sgd' is a named optimizer and cannot appear inside a chain; write its "
              "chain instead: lr(lr=0.001)");
  opt_refused("clip(1) | sgd(momentum=0.5)", "0.1",
              "write its chain instead: momentum(momentum=0.5, dampening=0, nesterov=0) | "
              "lr(lr=0.1)");
  opt_refused("adamw | clip(1)", NULL,
              "'adamw' is a named optimizer and cannot appear inside a chain; write its chain "
              "instead: adam(b1=0.9, b2=0.999, eps=1e-08, amsgrad=0) | wd(weight_decay=0.01) | "
              "lr(lr=0.001)");
  /* adam is also a transform: a chain may hold it. */
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "clip(1) | adam", "0.1", 10));
  descent_optimizer_free(opt);
}

/* An optimizer spec longer than the text the optimizer keeps is refused, not
 * cut (which used to drop the transforms past the cut). */
static void check_long_chain(void) {
  char spec[700];
  size_t used = (size_t)snprintf(spec, sizeof spec, "clip(1)");
  memset(spec + used, ' ', 600);
  snprintf(spec + used + 600, sizeof spec - used - 600, "| wd(0.1)");
  descent_optimizer *opt = (descent_optimizer *)1;
  CHECK_FAILS(descent_optimizer_create(&opt, spec, "0.1", 10), DESCENT_ERANGE,
              "optimizer spec longer than the limit of 511 characters");
  CHECK(opt == NULL);
}

static void check_sgd_update(void) {
  descent_real params[3] = {1, -2, 3}, grad[3] = {0.5f, 0, -4};
  descent_objective obj = {.n_params = 3, .params = params, .grad = grad};
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "sgd", "0.25", 3));
  if (!opt) return;
  CHECK(descent_optimizer_lr(opt) == 0.25);
  CHECK_OK(descent_optimizer_step(opt, &obj));
  CHECK(params[0] == 1 - 0.25f * 0.5f && params[1] == -2 && params[2] == 3 + 0.25f * 4);
  CHECK(descent_optimizer_steps(opt) == 1);
  char text[256];
  descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strcmp(text, "sgd = lr(lr=0.25)") == 0, "describe gave '%s'", text);
  descent_objective wrong = {.n_params = 2, .params = params, .grad = grad};
  CHECK_FAILS(descent_optimizer_step(opt, &wrong), DESCENT_ESHAPE, "built for 3 parameters");
  descent_optimizer_free(opt);
  /* PyTorch's default learning rate for SGD. */
  CHECK_OK(descent_optimizer_create(&opt, "sgd", NULL, 3));
  if (opt) CHECK(descent_optimizer_lr(opt) == 1e-3);
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "sgd(lr=constant(0.5))", NULL, 3));
  if (opt) CHECK(descent_optimizer_lr(opt) == 0.5);
  descent_optimizer_free(opt);
}

/* Many blocks, a ragged end, several threads: every element moves exactly. */
static void check_blocked_step(void) {
  size_t n = 100003;
  descent_real *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
  for (size_t i = 0; i < n; i++) p[i] = (descent_real)i, g[i] = (descent_real)(i % 7);
  descent_objective obj = {.n_params = n, .params = p, .grad = g};
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "lr(0.5)", NULL, n));
  CHECK_OK(descent_optimizer_step(opt, &obj));
  size_t bad = 0;
  for (size_t i = 0; i < n; i++) bad += p[i] != (descent_real)i - 0.5f * (descent_real)(i % 7);
  CHECK_MSG(bad == 0, "%zu of %zu elements wrong", bad, n);
  descent_optimizer_free(opt);
  free(p), free(g);
}

int main(void) {
  check_model_specs();
  check_optimizer_specs();
  check_long_specs();
  check_escaped_messages();
  check_layer_sizes();
  check_numbers();
  check_named_in_chain();
  check_long_chain();
  check_sgd_update();
  check_blocked_step();
  return check_report();
}
