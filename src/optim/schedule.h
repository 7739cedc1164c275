/*
 * schedule.h - learning-rate schedules, internal view.
 */
#ifndef DESCENT_SCHEDULE_H
#define DESCENT_SCHEDULE_H

#include "core/spec.h"

typedef struct schedule_def schedule_def;

struct descent_schedule {
  const schedule_def *def;
  double hp[SPEC_MAX_ARGS]; /* hyperparameters in def->params order */
};

struct schedule_def {
  const char *name;
  const char *formula;
  const spec_param *params;
  int n_params;
  /* The rate at step t >= 0 (warmup is applied by the caller). */
  double (*value)(const descent_schedule *s, int64_t t);
};

/* Writes a help table of every schedule. */
void schedule_help(FILE *out);

#endif /* DESCENT_SCHEDULE_H */
