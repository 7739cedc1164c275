/*
 * schedule.h - learning-rate schedules, internal view.
 */
#ifndef DESCENT_SCHEDULE_H
#define DESCENT_SCHEDULE_H

#include "core/spec.h"

typedef struct schedule_def schedule_def;

struct descent_schedule {
  const schedule_def *def;
  double hp[SPEC_MAX_ARGS]; /* hyperparameters in def->params order; warmup is the last */
};

struct schedule_def {
  const char *name;
  const char *summary; /* one line: what it is, and its PyTorch counterpart */
  const char *formula; /* lr(t) before warmup */
  const spec_param *params;
  int n_params; /* including the trailing warmup */
  /* The rate at step t >= 0 before warmup (descent_schedule_value applies it). */
  double (*value)(const descent_schedule *s, int64_t t);
};

/* Changes the schedule's base rate lr (its first hyperparameter), keeping
 * every other one: refuses a rate that is negative or not finite, or that the
 * schedule's other values exclude (cosine's min_lr above it), and then leaves
 * the schedule as it was. */
int schedule_set_base_lr(descent_schedule *s, double lr);

/* Writes a help table of every schedule. */
void schedule_help(FILE *out);

/* The shortest text that reads back as exactly v ("0.001", "1e-08", "0.9"):
 * describe() texts are canonical, so two different values never print alike. */
void optim_format_number(double v, char *buf, size_t cap);

/* Help text: prints text from column `indent` (where the caller has left the
 * cursor), wrapped at 100 columns with continuation lines indented as much,
 * starting a new line at every ";  " (the clauses of a formula). */
void optim_print_wrapped(FILE *out, const char *text, int indent);

#endif /* DESCENT_SCHEDULE_H */
