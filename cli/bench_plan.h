/*
 * bench_plan.h - what `descent bench` runs: its workloads (each with a budget
 * and a validation target), its optimizers (each with a search space), and
 * the trials of both rulesets as AlgoPerf defines them.
 */
#ifndef DESCENT_CLI_BENCH_PLAN_H
#define DESCENT_CLI_BENCH_PLAN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_MAX_PARAMS 3
#define BENCH_TEXT       256

/* A workload: a model on a data set, trained for a fixed budget; reaching
   the target on the validation set is what is timed. */
typedef struct bench_workload {
  const char *name;
  const char *what;     /* one line */
  const char *model;    /* descent train's --model; NULL: quadratic_deep, in-process */
  size_t limit, val;    /* --limit and --val (quadratic_deep: its own sets, 0 and 0) */
  size_t batch, epochs; /* the budget */
  size_t calib_epochs;  /* the target-setting runs' budget: 3/4 of epochs, as AlgoPerf's
                           max_runtime is 4/3 of its target-setting runs' */
  int maximize;         /* 1: val_acc must reach the target; 0: val_loss must fall to it */
  double target;        /* the validation target (bench_plan.c says how it was found) */
} bench_workload;

/* One hyperparameter of a search space: a key of the optimizer's spec (or
   "lr", given as --lr), drawn uniformly in [lo, hi], or in log space. */
typedef struct bench_param {
  const char *key;
  double lo, hi;
  int log;
} bench_param;

typedef struct bench_optimizer {
  const char *name; /* the named optimizer (descent optimizers) */
  int networks_only;
  int n_params;
  bench_param params[BENCH_MAX_PARAMS]; /* params[0] is always lr */
} bench_optimizer;

extern const bench_workload bench_workloads[];
extern const size_t bench_n_workloads;
extern const bench_optimizer bench_optimizers[];
extern const size_t bench_n_optimizers;

/* The subsets --quick runs: names, comma-separated. */
#define BENCH_QUICK_WORKLOADS  "quadratic_deep,fmnist_logreg,fmnist_mlp"
#define BENCH_QUICK_OPTIMIZERS "sgd,momentum,adam,rmsprop"
#define BENCH_QUICK_TRIALS     3
#define BENCH_QUICK_STUDIES    2

const bench_workload *bench_find_workload(const char *name);
const bench_optimizer *bench_find_optimizer(const char *name);

/* One trial of the plan. */
typedef struct bench_trial {
  const bench_workload *w;
  const bench_optimizer *o;
  int self_tuning;  /* 1: the optimizer's defaults; 0: a point of its search space */
  int study, trial; /* from 0 */
  uint64_t seed;
  double values[BENCH_MAX_PARAMS]; /* the hyperparameters (external tuning) */
  char id[BENCH_TEXT];             /* WORKLOAD.OPTIMIZER.RULESET.sS.tT */
  char opt[BENCH_TEXT];            /* --opt's value */
  char lr[64];                     /* --lr's value; "" for the default */
} bench_trial;

/* Fills trial's id, opt, lr, seed and values: external tuning draws point
   1 + study * trials + t of the Halton sequence (its origin skipped) in the
   optimizer's space, so studies are independent stretches of one sequence;
   self-tuning takes the defaults. Returns 0, or -1 after a message. */
int bench_trial_make(bench_trial *t, const bench_workload *w, const bench_optimizer *o,
                     int self_tuning, int study, int trial, int trials_per_study);

/* The target-setting reruns of --calibrate: the best trial's configuration
   again with BENCH_TARGET_SEEDS other seeds (AlgoPerf: 20). */
#define BENCH_TARGET_SEEDS 5

/* Prints the workloads and the optimizers' search spaces. */
void bench_print_list(FILE *out);

#endif /* DESCENT_CLI_BENCH_PLAN_H */
