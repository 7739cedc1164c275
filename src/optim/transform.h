/*
 * transform.h - the building block of optimizers.
 *
 * A transform turns an incoming update u (the gradient, for the first one)
 * into an outgoing one, element by element over a block, reading the
 * parameters and its own per-parameter state vectors ("slots"). An optimizer
 * is a chain of transforms; the last one's output is added to the parameters.
 * Because apply() works on blocks, the optimizer runs the whole chain block by
 * block in one pass over memory. A transform that needs a number computed over
 * the whole update first (a global norm) sets `global` and provides reduce().
 */
#ifndef DESCENT_TRANSFORM_H
#define DESCENT_TRANSFORM_H

#include "core/spec.h"
#include "schedule.h"

#define TRANSFORM_MAX_SLOTS   4
#define TRANSFORM_MAX_SCALARS 8

typedef struct transform transform;

typedef struct transform_def {
  const char *name;
  const char *summary; /* one line: what it does */
  const char *formula; /* the update, in the notation of `descent optimizers` */
  const spec_param *params;
  int n_params;
  int has_schedule; /* 1: parameter "lr" is a schedule (SPEC_TEXT) */
  int slots;        /* per-parameter state vectors, zero at start */
  int global;       /* 1: reduce() runs over the whole incoming update first */
  /* Checks combinations of hyperparameters; NULL if none to check. */
  int (*validate)(const transform *t);
  /* Per-step scalars into t->scalar before apply (bias corrections, the rate). */
  void (*begin)(transform *t, int64_t step);
  /* The whole-update reduction, for global transforms. */
  void (*reduce)(transform *t, const descent_real *u, size_t n);
  /* u[0, n) <- f(u, theta, slots) on one block: every pointer (theta and each
     slot) already points at the block's first element. */
  void (*apply)(const transform *t, descent_real *u, const descent_real *theta,
                descent_real *const *slots, size_t n);
} transform_def;

struct transform {
  const transform_def *def;
  double hp[SPEC_MAX_ARGS];                 /* hyperparameters in def->params order */
  descent_schedule *schedule;               /* the rate, for has_schedule transforms */
  double scalar[TRANSFORM_MAX_SCALARS];     /* per-step values set by begin/reduce */
  descent_real *slots[TRANSFORM_MAX_SLOTS]; /* state vectors (owned by the optimizer) */
};

/* Looks up a transform by name; NULL if unknown. */
const transform_def *transform_find(const char *name);
void transform_list_names(char *buf, size_t cap);
void transform_help(FILE *out);

#endif /* DESCENT_TRANSFORM_H */
