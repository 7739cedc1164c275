/*
 * test_optim_buffers.c - the optimizer on plain buffers, its hyperparameters
 * and its base learning rate.
 *
 * descent_optimizer_step_buffers against descent_optimizer_step on an
 * objective over the same arrays, bit for bit, for every named optimizer and
 * for chains with a global transform and schedule-free's two points; the
 * hyperparameter getters against the specs they were built from; the base
 * rate setter against optimizers created with that rate, from the start and
 * in the middle of a run, for constant and cosine schedules; and the
 * refusals with their messages.
 */
#include "check.h"

#include <stdlib.h>

/* Two blocks of the step and a ragged end. */
#define N_PARAMS 4500

/* A gradient that depends on the parameters, the step and the coordinate. */
static void gradient(const descent_real *p, descent_real *g, size_t n, int64_t step) {
  for (size_t i = 0; i < n; i++) {
    double noise = sin(0.37 * (double)(i + 1) + 1.3 * (double)step);
    g[i] = (descent_real)((0.1 + (double)(i % 7)) * ((double)p[i] - 0.5) + 0.3 * noise);
  }
}

/* A gradient that depends on the step and coordinate alone: the state of a
   chain without weight decay on it is then the same whatever the rate. */
static void gradient_of_step(descent_real *g, size_t n, int64_t step) {
  for (size_t i = 0; i < n; i++)
    g[i] =
        (descent_real)(cos(0.11 * (double)(i + 3) * (double)(step + 1)) + 0.05 * (double)(i % 5));
}

/* ---- step_buffers == step ------------------------------------------------ */

/* The layout both optimizers of check_same_steps get, when not NULL (for
   the whole-tensor chains, which take matrices only). */
static const descent_tensor_info *same_steps_tensors;
static size_t same_steps_count;

/* `steps` steps through the objective and through the buffers; with
   schedule-free's eval and train between the halves. */
static void check_same_steps(const char *spec, const char *lr, int steps) {
  size_t n = N_PARAMS;
  descent_real *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
  descent_real *ga = malloc(n * sizeof *ga), *gb = malloc(n * sizeof *gb);
  descent_optimizer *a = NULL, *b = NULL;
  CHECK_OK(descent_optimizer_create(&a, spec, lr, n));
  CHECK_OK(descent_optimizer_create(&b, spec, lr, n));
  if (!a || !b || !pa || !pb || !ga || !gb) goto done;
  check_init_params(pa, n);
  check_init_params(pb, n);
  if (same_steps_tensors) {
    CHECK_OK(descent_optimizer_set_tensors(a, same_steps_tensors, same_steps_count));
    CHECK_OK(descent_optimizer_set_tensors(b, same_steps_tensors, same_steps_count));
  }
  descent_objective obj = {.n_params = n, .params = pa, .grad = ga};
  for (int k = 0; k < steps; k++) {
    gradient(pa, ga, n, k);
    gradient(pb, gb, n, k);
    CHECK_OK(descent_optimizer_step(a, &obj));
    CHECK_OK(descent_optimizer_step_buffers(b, pb, gb, n));
    if (k == steps / 2) {
      CHECK_OK(descent_optimizer_eval(a, &obj));
      CHECK_OK(descent_optimizer_eval_buffers(b, pb, n));
      size_t differ = check_count_differences(pa, pb, n);
      CHECK_MSG(differ == 0, "%s: %zu parameters differ at the evaluation point", spec, differ);
      CHECK_OK(descent_optimizer_train(a, &obj));
      CHECK_OK(descent_optimizer_train_buffers(b, pb, n));
    }
  }
  size_t differ = check_count_differences(pa, pb, n);
  CHECK_MSG(differ == 0, "%s (lr %s): %zu of %zu parameters differ between step and step_buffers",
            spec, lr ? lr : "default", differ, n);
  CHECK(descent_optimizer_steps(b) == steps);
done:
  descent_optimizer_free(a);
  descent_optimizer_free(b);
  free(pa), free(pb), free(ga), free(gb);
}

static void check_step_buffers(void) {
  const char *named[] = {"sgd",       "gd",      "momentum",     "nesterov",
                         "adagrad",   "rmsprop", "adam",         "adamw",
                         "amsgrad",   "lion",    "sf_sgd",       "sf_adamw",
                         "adabelief", "yogi",    "ademamix",     "adam(weight_decay=0.01)",
                         "nadam",     "radam",   "adamax",       "lamb",
                         "lars",      "prodigy", "dadapt_adamw", "novograd"};
  for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
    check_same_steps(named[i], "0.01", 12);
  check_same_steps("clip(0.5) | momentum(0.9) | wd(1e-3) | lr(cosine(0.05, 10, warmup=3))", NULL,
                   12);
  check_same_steps("adam | clip(0.1) | lr(0.01)", NULL, 12);
  check_same_steps("clip_value(0.2) | rmsprop(centered=1) | sf(lr=0.02)", NULL, 12);
  /* muon on matrices: a dense weight and a conv kernel */
  static const descent_tensor_info matrices[] = {{"w", 0, 3000, {2, {30, 100}}},
                                                 {"k", 3000, 1500, {4, {15, 10, 10, 1}}}};
  same_steps_tensors = matrices;
  same_steps_count = 2;
  check_same_steps("muon", "0.01", 12);
  check_same_steps("muon(nesterov=0, adjust_lr=2)", "cosine(0.05, 10, warmup=3)", 12);
  check_same_steps("adafactor(weight_decay=0.01)", "0.01", 12);
  same_steps_tensors = NULL;
  same_steps_count = 0;
}

static void check_buffer_refusals(void) {
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "sf_sgd", "0.1", 10));
  if (!opt) return;
  descent_real p[10] = {0}, g[10] = {0};
  CHECK_FAILS(descent_optimizer_step_buffers(opt, p, g, 9), DESCENT_ESHAPE,
              "optimizer built for 10 parameters, given buffers of 9: pass n = 10, or create the "
              "optimizer for 9 parameters");
  CHECK_FAILS(descent_optimizer_step_buffers(opt, NULL, g, 10), DESCENT_EINVAL,
              "the parameter buffer is NULL");
  CHECK_FAILS(descent_optimizer_step_buffers(opt, p, NULL, 10), DESCENT_EINVAL,
              "the gradient buffer is NULL");
  CHECK_FAILS(descent_optimizer_eval_buffers(opt, p, 11), DESCENT_ESHAPE,
              "built for 10 parameters, given buffers of 11");
  CHECK_FAILS(descent_optimizer_train_buffers(opt, NULL, 10), DESCENT_EINVAL,
              "the parameter buffer is NULL");
  CHECK(descent_optimizer_steps(opt) == 0);
  CHECK_OK(descent_optimizer_step_buffers(opt, p, g, 10));
  CHECK_OK(descent_optimizer_eval_buffers(opt, p, 10));
  CHECK_FAILS(descent_optimizer_step_buffers(opt, p, g, 10), DESCENT_EINVAL,
              "optimizer step in evaluation mode: call descent_optimizer_train first");
  CHECK_OK(descent_optimizer_train_buffers(opt, p, 10));
  CHECK_OK(descent_optimizer_step_buffers(opt, p, g, 10));
  CHECK(descent_optimizer_steps(opt) == 2);
  descent_optimizer_free(opt);
}

/* ---- hyperparameters ----------------------------------------------------- */

typedef struct expected {
  const char *name;
  double value;
} expected;

/* Enumeration gives exactly `want`, in order; each name reads back alone. */
static void check_hyperparameters(const char *spec, const char *lr, const expected *want,
                                  int count) {
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, spec, lr, 3));
  if (!opt) return;
  CHECK_MSG(descent_optimizer_hyperparameter_count(opt) == count, "%s: %d hyperparameters, not %d",
            spec, descent_optimizer_hyperparameter_count(opt), count);
  for (int i = 0; i < count; i++) {
    char name[64] = "";
    double value = NAN, alone = NAN;
    CHECK_OK(descent_optimizer_hyperparameter_at(opt, i, name, sizeof name, &value));
    CHECK_MSG(strcmp(name, want[i].name) == 0 && value == want[i].value,
              "%s: hyperparameter %d is %s = %.17g, expected %s = %.17g", spec, i, name, value,
              want[i].name, want[i].value);
    CHECK_OK(descent_optimizer_hyperparameter(opt, want[i].name, &alone));
    CHECK_MSG(alone == want[i].value, "%s: %s reads %.17g, expected %.17g", spec, want[i].name,
              alone, want[i].value);
  }
  descent_optimizer_free(opt);
}

static void check_hyperparameter_names(void) {
  const expected chain[] = {
      {"adam.b1", 0.9},      {"adam.b2", 0.99},         {"adam.eps", 1e-8},
      {"adam.amsgrad", 0},   {"wd.weight_decay", 1e-2}, {"lr.lr", 1e-3},
      {"lr.lr.steps", 1000}, {"lr.lr.min_lr", 1e-5},    {"lr.lr.warmup", 10},
  };
  check_hyperparameters("adam(b2=0.99) | wd(1e-2) | lr(cosine(1e-3, 1000, 1e-5, warmup=10))", NULL,
                        chain, 9);
  const expected adamw[] = {
      {"adam.b1", 0.9},          {"adam.b2", 0.999}, {"adam.eps", 1e-8},  {"adam.amsgrad", 0},
      {"wd.weight_decay", 0.01}, {"lr.lr", 1e-3},    {"lr.lr.warmup", 0},
  };
  check_hyperparameters("adamw", NULL, adamw, 7);
  const expected sgd[] = {{"lr.lr", 0.5}, {"lr.lr.warmup", 0}};
  check_hyperparameters("sgd", "0.5", sgd, 2);
  const expected twice[] = {
      {"momentum.momentum", 0.5},
      {"momentum.dampening", 0},
      {"momentum.nesterov", 0},
      {"momentum#2.momentum", 0.8},
      {"momentum#2.dampening", 0},
      {"momentum#2.nesterov", 1},
      {"lr.lr", 0.1},
      {"lr.lr.warmup", 0},
  };
  check_hyperparameters("momentum(0.5) | momentum(0.8, nesterov=1)", "0.1", twice, 8);
  const expected sf[] = {
      {"rmsprop.alpha", 0.95},        {"rmsprop.eps", 1e-8},    {"rmsprop.centered", 0},
      {"rmsprop.bias_correction", 1}, {"sf.lr", 0.0025},        {"sf.lr.warmup", 0},
      {"sf.momentum", 0.9},           {"sf.warmup_steps", 100}, {"sf.r", 0},
      {"sf.weight_lr_power", 2},
  };
  check_hyperparameters("sf_adamw(b2=0.95, warmup_steps=100)", NULL, sf, 10);
}

static void check_hyperparameter_refusals(void) {
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "clip(1) | adam", "0.1", 3));
  if (!opt) return;
  double value = 42;
  CHECK_FAILS(descent_optimizer_hyperparameter(opt, "adam.b3", &value), DESCENT_EINVAL,
              "optimizer has no hyperparameter 'adam.b3'; valid names: clip.max_norm, adam.b1, "
              "adam.b2, adam.eps, adam.amsgrad, lr.lr, lr.lr.warmup");
  CHECK(value == 42);
  CHECK_FAILS(descent_optimizer_hyperparameter(opt, "b1", &value), DESCENT_EINVAL,
              "no hyperparameter 'b1'");
  CHECK_FAILS(descent_optimizer_hyperparameter(opt, "adam#2.b1", &value), DESCENT_EINVAL,
              "no hyperparameter 'adam#2.b1'");
  CHECK_FAILS(descent_optimizer_hyperparameter(opt, NULL, &value), DESCENT_EINVAL,
              "the name pointer is NULL");
  CHECK_FAILS(descent_optimizer_hyperparameter(opt, "adam.b1", NULL), DESCENT_EINVAL,
              "the value pointer is NULL");
  char name[8];
  CHECK_FAILS(descent_optimizer_hyperparameter_at(opt, 7, name, sizeof name, &value),
              DESCENT_ERANGE, "hyperparameter index 7: this optimizer has 7 (0 to 6)");
  CHECK_FAILS(descent_optimizer_hyperparameter_at(opt, -1, name, sizeof name, &value),
              DESCENT_ERANGE, "hyperparameter index -1");
  CHECK_FAILS(descent_optimizer_hyperparameter_at(opt, 0, name, sizeof name, &value),
              DESCENT_ERANGE, "hyperparameter 0: its name needs 14 bytes, given 8");
  CHECK(value == 42);
  CHECK_OK(descent_optimizer_hyperparameter_at(opt, 5, name, sizeof name, &value));
  CHECK(strcmp(name, "lr.lr") == 0 && value == 0.1);
  descent_optimizer_free(opt);
}

/* ---- the base learning rate ---------------------------------------------- */

/* An optimizer created with rate `from` and set to `to` before its first
   step runs like one created with `to`: same parameters, same state, same
   description, for `steps` steps. */
static void check_set_before_start(const char *spec_from, const char *spec_to, double to,
                                   int steps) {
  size_t n = N_PARAMS;
  descent_real *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
  descent_real *g = malloc(n * sizeof *g);
  descent_optimizer *a = NULL, *b = NULL;
  CHECK_OK(descent_optimizer_create(&a, spec_from, NULL, n));
  CHECK_OK(descent_optimizer_create(&b, spec_to, NULL, n));
  if (!a || !b || !pa || !pb || !g) goto done;
  CHECK_OK(descent_optimizer_set_base_lr(a, to));
  CHECK(descent_optimizer_base_lr(a) == to && descent_optimizer_base_lr(b) == to);
  check_init_params(pa, n);
  check_init_params(pb, n);
  for (int k = 0; k < steps; k++) {
    CHECK(descent_optimizer_lr(a) == descent_optimizer_lr(b));
    gradient(pa, g, n, k);
    CHECK_OK(descent_optimizer_step_buffers(a, pa, g, n));
    gradient(pb, g, n, k);
    CHECK_OK(descent_optimizer_step_buffers(b, pb, g, n));
  }
  size_t differ = check_count_differences(pa, pb, n);
  CHECK_MSG(differ == 0, "%s set to %g: %zu parameters differ from %s", spec_from, to, differ,
            spec_to);
  size_t size = descent_optimizer_state_size(a);
  unsigned char *sa = malloc(size), *sb = malloc(size);
  CHECK(descent_optimizer_state_size(b) == size);
  if (sa && sb) {
    CHECK_OK(descent_optimizer_save_state(a, sa, size));
    CHECK_OK(descent_optimizer_save_state(b, sb, size));
    CHECK_MSG(memcmp(sa, sb, size) == 0, "%s set to %g: the state differs from %s", spec_from, to,
              spec_to);
  }
  free(sa), free(sb);
done:
  descent_optimizer_free(a);
  descent_optimizer_free(b);
  free(pa), free(pb), free(g);
}

/* Rate changed after `half` steps: optimizer a runs with `from`, is set to
   `to`, and goes on; optimizer b was created with `to` and has seen the same
   gradients (which do not depend on the parameters, so its state is a's);
   given a's parameters, b's next steps are a's, bit for bit. */
static void check_set_mid_run(const char *spec_from, const char *spec_to, double to, int half) {
  size_t n = N_PARAMS;
  descent_real *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
  descent_real *g = malloc(n * sizeof *g);
  descent_optimizer *a = NULL, *b = NULL;
  CHECK_OK(descent_optimizer_create(&a, spec_from, NULL, n));
  CHECK_OK(descent_optimizer_create(&b, spec_to, NULL, n));
  if (!a || !b || !pa || !pb || !g) goto done;
  check_init_params(pa, n);
  check_init_params(pb, n);
  for (int k = 0; k < half; k++) {
    gradient_of_step(g, n, k);
    CHECK_OK(descent_optimizer_step_buffers(a, pa, g, n));
    CHECK_OK(descent_optimizer_step_buffers(b, pb, g, n));
  }
  CHECK_MSG(check_count_differences(pa, pb, n) > 0, "%s: the rates %s and %g gave the same steps",
            spec_from, spec_to, to);
  CHECK_OK(descent_optimizer_set_base_lr(a, to));
  CHECK(descent_optimizer_steps(a) == half);
  memcpy(pb, pa, n * sizeof *pa);
  for (int k = half; k < 2 * half; k++) {
    CHECK_MSG(descent_optimizer_lr(a) == descent_optimizer_lr(b),
              "%s: step %d: rate %.17g vs %.17g", spec_from, k, descent_optimizer_lr(a),
              descent_optimizer_lr(b));
    gradient_of_step(g, n, k);
    CHECK_OK(descent_optimizer_step_buffers(a, pa, g, n));
    CHECK_OK(descent_optimizer_step_buffers(b, pb, g, n));
  }
  size_t differ = check_count_differences(pa, pb, n);
  CHECK_MSG(differ == 0, "%s set to %g after %d steps: %zu parameters differ from %s", spec_from,
            to, half, differ, spec_to);
done:
  descent_optimizer_free(a);
  descent_optimizer_free(b);
  free(pa), free(pb), free(g);
}

static void check_base_lr(void) {
  check_set_before_start("sgd(lr=0.3)", "sgd(lr=0.05)", 0.05, 10);
  check_set_before_start("adam | wd(0.01) | lr(cosine(0.1, 20, warmup=4))",
                         "adam | wd(0.01) | lr(cosine(0.02, 20, warmup=4))", 0.02, 25);
  check_set_before_start("sf_adamw(lr=0.01)", "sf_adamw(lr=0.003)", 0.003, 10);
  check_set_mid_run("momentum(0.9) | lr(0.1)", "momentum(0.9) | lr(0.03)", 0.03, 8);
  check_set_mid_run("adam | wd(0.01) | lr(0.01)", "adam | wd(0.01) | lr(0.002)", 0.002, 8);
  check_set_mid_run("adam | lr(cosine(0.01, 12, min_lr=1e-4, warmup=3))",
                    "adam | lr(cosine(0.003, 12, min_lr=1e-4, warmup=3))", 0.003, 8);
  check_set_mid_run("rmsprop | momentum(0.5) | lr(cosine(0.05, 30))",
                    "rmsprop | momentum(0.5) | lr(cosine(0.2, 30))", 0.2, 8);

  /* The base rate is the schedule's lr, before warmup, decay and scale. */
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "adamw", "cosine(1e-3, 100, 1e-4, warmup=10)", 4));
  if (!opt) return;
  CHECK(descent_optimizer_base_lr(opt) == 1e-3);
  CHECK_CLOSE(descent_optimizer_lr(opt), 1e-4, 1e-16);
  CHECK_OK(descent_optimizer_set_lr_scale(opt, 0.5));
  CHECK(descent_optimizer_base_lr(opt) == 1e-3);
  CHECK_OK(descent_optimizer_set_base_lr(opt, 2e-3));
  CHECK_CLOSE(descent_optimizer_lr(opt), 0.5 * (2e-3 / 10), 1e-16);
  double value = 0;
  CHECK_OK(descent_optimizer_hyperparameter(opt, "lr.lr", &value));
  CHECK(value == 2e-3);
  char text[512];
  descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strstr(text, "adamw with base lr 0.002 = adam(") == text &&
                strstr(text, "| lr(lr=cosine(lr=0.002, steps=100, min_lr=0.0001, warmup=10))"),
            "describe: %s", text);

  /* Refusals leave the rate as it was. */
  CHECK_FAILS(descent_optimizer_set_base_lr(opt, -1), DESCENT_EINVAL,
              "base learning rate -1: must be finite and non-negative (valid range [0, inf))");
  CHECK_FAILS(descent_optimizer_set_base_lr(opt, NAN), DESCENT_EINVAL, "base learning rate nan");
  CHECK_FAILS(descent_optimizer_set_base_lr(opt, INFINITY), DESCENT_EINVAL,
              "base learning rate inf: must be finite");
  CHECK_FAILS(descent_optimizer_set_base_lr(opt, 1e-5), DESCENT_EINVAL,
              "min_lr=0.0001 is above lr=1e-05");
  CHECK(descent_optimizer_base_lr(opt) == 2e-3);
  CHECK_OK(descent_optimizer_set_base_lr(opt, 1e-4));
  CHECK_OK(descent_optimizer_set_base_lr(opt, 0.001));
  descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strstr(text, "adamw = adam(") == text, "describe at the spec's rate again: %s", text);
  descent_optimizer_free(opt);

  /* A chain spec: the chain's text is the description. */
  CHECK_OK(descent_optimizer_create(&opt, "adam | lr(0.1)", NULL, 4));
  if (!opt) return;
  CHECK_OK(descent_optimizer_set_base_lr(opt, 0));
  descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strcmp(text, "adam(b1=0.9, b2=0.999, eps=1e-08, amsgrad=0) | lr(lr=0)") == 0,
            "describe: %s", text);
  descent_optimizer_free(opt);
}

/* The state blob names the rate: it loads only where the rate is the same. */
static void check_base_lr_and_state(void) {
  descent_optimizer *a = NULL, *b = NULL;
  CHECK_OK(descent_optimizer_create(&a, "momentum", "0.1", 4));
  CHECK_OK(descent_optimizer_create(&b, "momentum", "0.1", 4));
  if (!a || !b) goto done;
  descent_real p[4] = {1, 2, 3, 4}, g[4] = {0.5f, -1, 2, 0};
  CHECK_OK(descent_optimizer_step_buffers(a, p, g, 4));
  CHECK_OK(descent_optimizer_set_base_lr(a, 0.2));
  size_t size = descent_optimizer_state_size(a);
  unsigned char *blob = malloc(size);
  if (!blob) goto done;
  CHECK_OK(descent_optimizer_save_state(a, blob, size));
  CHECK_FAILS(descent_optimizer_load_state(b, blob, size), DESCENT_EINVAL,
              "transform 2 is 'lr(lr=0.2)' in the saved state but 'lr(lr=0.1)' here");
  CHECK(descent_optimizer_steps(b) == 0);
  CHECK_OK(descent_optimizer_set_base_lr(b, 0.2));
  CHECK_OK(descent_optimizer_load_state(b, blob, size));
  CHECK(descent_optimizer_steps(b) == 1);
  free(blob);
done:
  descent_optimizer_free(a);
  descent_optimizer_free(b);
}

int main(void) {
  check_step_buffers();
  check_buffer_refusals();
  check_hyperparameter_names();
  check_hyperparameter_refusals();
  check_base_lr();
  check_base_lr_and_state();
  return check_report();
}
