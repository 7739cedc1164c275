/*
 * transform.c - the transforms optimizers are built from.
 */
#include "transform.h"

#include <math.h>
#include <string.h>

/* ---- lr: scale by minus the scheduled learning rate --------------------- */

static const spec_param lr_params[] = {
    {"lr", SPEC_TEXT, 0, 0, 0, 0, 0, 0, "learning rate: a number or a schedule"},
};

static void lr_begin(transform *t, int64_t step) {
  t->scalar[0] = descent_schedule_value(t->schedule, step);
}

static void lr_apply(const transform *t, descent_real *u, const descent_real *theta,
                     descent_real *const *slots, size_t n) {
  const descent_real minus_lr = (descent_real)-t->scalar[0];
#pragma omp simd
  for (size_t i = 0; i < n; i++) u[i] *= minus_lr;
}

static const transform_def transform_lr = {
    .name = "lr",
    .summary = "scale by minus the learning rate (last in every chain)",
    .formula = "u <- -lr(t) * u",
    .params = lr_params,
    .n_params = 1,
    .has_schedule = 1,
    .begin = lr_begin,
    .apply = lr_apply,
};

/* ---- registry ------------------------------------------------------------ */

static const transform_def *const all_transforms[] = {&transform_lr};
enum { N_TRANSFORMS = sizeof all_transforms / sizeof all_transforms[0] };

const transform_def *transform_find(const char *name) {
  for (int i = 0; i < N_TRANSFORMS; i++)
    if (strcmp(all_transforms[i]->name, name) == 0) return all_transforms[i];
  return NULL;
}

void transform_list_names(char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < N_TRANSFORMS && used < cap; i++)
    used +=
        (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", all_transforms[i]->name);
}

void transform_help(FILE *out) {
  fprintf(out, "Transforms (chain them with '|'; the update u starts as the gradient g):\n");
  for (int i = 0; i < N_TRANSFORMS; i++) {
    const transform_def *d = all_transforms[i];
    fprintf(out, "  %-12s %s\n  %-12s %s\n", d->name, d->summary, "", d->formula);
    for (int j = 0; j < d->n_params; j++) {
      char range[64] = "number or schedule";
      if (d->params[j].kind != SPEC_TEXT) spec_range_text(&d->params[j], range, sizeof range);
      fprintf(out, "      %-12s %s; default %g; range %s\n", d->params[j].name, d->params[j].doc,
              d->params[j].def, range);
    }
  }
}
