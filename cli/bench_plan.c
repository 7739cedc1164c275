/*
 * bench_plan.c - the tables of `descent bench`: its workloads with their
 * budgets and validation targets, its optimizers with their search spaces,
 * and how a trial's hyperparameters are drawn.
 *
 * The targets are set as AlgoPerf sets its own (its DOCUMENTATION.md,
 * "Benchmark targets"): a reference sweep within the target-setting budget
 * (calib_epochs) finds the best configuration; that configuration is
 * trained again with other seeds, and the median of their best validation
 * metrics is the target; the benchmark's budget (epochs) is 4/3 of the
 * target-setting one, as AlgoPerf's max_runtime was. The sweep is `descent
 * bench --calibrate` (adam and momentum, 8 Halton trials each, then
 * BENCH_TARGET_SEEDS reruns); the numbers below are what it printed
 * (docs/tuning.md, "The benchmark"). Trials are deterministic but for their
 * timing, so the same command prints the same targets.
 */
#include "bench_plan.h"

#include "descent.h"

#include <math.h>
#include <string.h>

/* clang-format off */
const bench_workload bench_workloads[] = {
    {"quadratic_deep", "DeepOBS P1: noisy 100D quadratic, deep-learning spectrum; 1000 terms, "
                       "validation on its test terms", NULL, 0, 0, 128, 100, 75, 0, 87.1959219},
    {"fmnist_logreg", "Fashion-MNIST logistic regression mlp:784-10; 8000 train, 2000 val",
     "mlp:784-10", 10000, 2000, 128, 4, 3, 1, 0.8305},
    {"fmnist_mlp", "DeepOBS fmnist_mlp mlp:784-1000-500-100-10 (ReLU); 8000 train, 2000 val",
     "mlp:784-1000-500-100-10", 10000, 2000, 128, 4, 3, 1, 0.8465},
    {"fmnist_2c2d", "DeepOBS fmnist_2c2d cnn:fmnist_2c2d; 2000 train, 1000 val",
     "cnn:fmnist_2c2d", 3000, 1000, 128, 4, 3, 1, 0.776},
};
const size_t bench_n_workloads = sizeof bench_workloads / sizeof bench_workloads[0];

/* Learning rates log-uniform over about four decades around each one's
   usual value; a second hyperparameter where it matters. */
const bench_optimizer bench_optimizers[] = {
    {"sgd", 0, 1, {{"lr", 1e-3, 1, 1}}},
    {"momentum", 0, 2, {{"lr", 1e-4, 1, 1}, {"momentum", 0.8, 0.99, 0}}},
    {"nesterov", 0, 2, {{"lr", 1e-4, 1, 1}, {"momentum", 0.8, 0.99, 0}}},
    {"adam", 0, 2, {{"lr", 1e-5, 1e-1, 1}, {"b1", 0.8, 0.95, 0}}},
    {"adamw", 0, 2, {{"lr", 1e-5, 1e-1, 1}, {"weight_decay", 1e-4, 1e-1, 1}}},
    {"rmsprop", 0, 2, {{"lr", 1e-5, 1e-1, 1}, {"alpha", 0.9, 0.999, 0}}},
    {"adagrad", 0, 1, {{"lr", 1e-4, 1, 1}}},
    {"lion", 0, 2, {{"lr", 1e-6, 1e-2, 1}, {"b1", 0.8, 0.95, 0}}},
    {"sf_adamw", 0, 2, {{"lr", 1e-5, 1e-1, 1}, {"b1", 0.8, 0.95, 0}}},
    {"sdlm", 0, 2, {{"lr", 1e-4, 1e-1, 1}, {"damping", 1e-3, 1, 1}}},
    {"kfac", 1, 2, {{"lr", 1e-4, 1e-1, 1}, {"damping", 1e-4, 1e-1, 1}}},
};
/* clang-format on */
const size_t bench_n_optimizers = sizeof bench_optimizers / sizeof bench_optimizers[0];

const bench_workload *bench_find_workload(const char *name) {
  for (size_t i = 0; i < bench_n_workloads; i++)
    if (strcmp(bench_workloads[i].name, name) == 0) return &bench_workloads[i];
  return NULL;
}

const bench_optimizer *bench_find_optimizer(const char *name) {
  for (size_t i = 0; i < bench_n_optimizers; i++)
    if (strcmp(bench_optimizers[i].name, name) == 0) return &bench_optimizers[i];
  return NULL;
}

int bench_trial_make(bench_trial *t, const bench_workload *w, const bench_optimizer *o,
                     int self_tuning, int study, int trial, int trials_per_study) {
  memset(t, 0, sizeof *t);
  t->w = w, t->o = o, t->self_tuning = self_tuning, t->study = study, t->trial = trial;
  /* A different initialization and data order in every trial. */
  t->seed = 1 + (uint64_t)study * 1000 + (uint64_t)trial;
  snprintf(t->id, sizeof t->id, "%s.%s.%s.s%d.t%d", w->name, o->name,
           self_tuning ? "self" : "external", study, trial);
  if (self_tuning) {
    snprintf(t->opt, sizeof t->opt, "%s", o->name);
    return 0;
  }
  double u[BENCH_MAX_PARAMS];
  uint64_t index = 1 + (uint64_t)study * (uint64_t)trials_per_study + (uint64_t)trial;
  if (descent_halton_point(index, (size_t)o->n_params, u) != DESCENT_OK) {
    fprintf(stderr, "descent bench: %s\n", descent_last_error());
    return -1;
  }
  size_t len = (size_t)snprintf(t->opt, sizeof t->opt, "%s", o->name);
  for (int k = 0; k < o->n_params; k++) {
    const bench_param *p = &o->params[k];
    double v = p->log ? exp(log(p->lo) + u[k] * (log(p->hi) - log(p->lo)))
                      : p->lo + u[k] * (p->hi - p->lo);
    t->values[k] = v;
    if (k == 0) {
      snprintf(t->lr, sizeof t->lr, "%.6g", v);
      continue;
    }
    len += (size_t)snprintf(t->opt + len, sizeof t->opt - len, "%s%s=%.6g", k == 1 ? "(" : ", ",
                            p->key, v);
  }
  if (o->n_params > 1) snprintf(t->opt + len, sizeof t->opt - len, ")");
  return 0;
}

void bench_print_list(FILE *out) {
  fprintf(out, "Workloads (budget: epochs x batch; target on the validation set):\n");
  for (size_t i = 0; i < bench_n_workloads; i++) {
    const bench_workload *w = &bench_workloads[i];
    fprintf(out, "  %-15s %s\n", w->name, w->what);
    fprintf(out, "  %-15s %zu epochs (target setting: %zu), batch %zu; target %s %s %.9g\n", "",
            w->epochs, w->calib_epochs, w->batch, w->maximize ? "val_acc" : "val_loss",
            w->maximize ? ">=" : "<=", w->target);
  }
  fprintf(out, "Optimizers and their search spaces (external tuning draws Halton points in them; "
               "self-tuning runs the defaults):\n");
  for (size_t i = 0; i < bench_n_optimizers; i++) {
    const bench_optimizer *o = &bench_optimizers[i];
    fprintf(out, "  %-10s", o->name);
    for (int k = 0; k < o->n_params; k++)
      fprintf(out, "%s%s in [%g, %g]%s", k ? ", " : " ", o->params[k].key, o->params[k].lo,
              o->params[k].hi, o->params[k].log ? " log" : "");
    fprintf(out, "%s\n", o->networks_only ? " (networks only)" : "");
  }
}
