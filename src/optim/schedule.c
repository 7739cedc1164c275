/*
 * schedule.c - learning-rate schedules as pure functions of the step.
 *
 * A schedule holds no state but its hyperparameters, so the rate at any step
 * can be recomputed after a resume from the step count alone.
 */
#include "schedule.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double constant_value(const descent_schedule *s, int64_t t) {
  return s->hp[0];
}

static const spec_param constant_params[] = {
    {"lr", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 1, "the learning rate"},
};

static const schedule_def schedules[] = {
    {"constant", "lr", constant_params, 1, constant_value},
};
enum { N_SCHEDULES = sizeof schedules / sizeof schedules[0] };

static void schedule_names(char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < N_SCHEDULES && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", schedules[i].name);
}

int descent_schedule_parse(descent_schedule **out, const char *text) {
  *out = NULL;
  descent_error_clear();
  if (!text) return descent_fail(DESCENT_EINVAL, "missing learning rate");
  descent_schedule *s = descent_calloc(1, sizeof *s, "schedule");
  if (!s) return DESCENT_ENOMEM;
  double v;
  if (descent_parse_double(text, &v)) {
    /* A bare number is a constant rate. */
    if (v < 0) {
      free(s);
      return descent_fail(DESCENT_EINVAL,
                          "learning rate %s: must be non-negative (valid range [0, inf))", text);
    }
    s->def = &schedules[0];
    s->hp[0] = v;
    *out = s;
    return DESCENT_OK;
  }
  spec_call call;
  int rc = spec_parse_call((spec_span){text, strlen(text)}, &call, "learning rate");
  if (rc) goto fail;
  for (int i = 0; i < N_SCHEDULES; i++)
    if (strcmp(schedules[i].name, call.name) == 0) s->def = &schedules[i];
  if (!s->def) {
    char names[256];
    schedule_names(names, sizeof names);
    rc = descent_fail(DESCENT_EINVAL,
                      "learning rate '%s': not a number or a known schedule; valid schedules: %s",
                      text, names);
    goto fail;
  }
  rc = spec_bind(&call, s->def->params, s->def->n_params, s->hp, NULL, "learning rate");
  if (rc) goto fail;
  *out = s;
  return DESCENT_OK;
fail:
  free(s);
  return rc;
}

void descent_schedule_free(descent_schedule *s) {
  free(s);
}

double descent_schedule_value(const descent_schedule *s, int64_t t) {
  return s->def->value(s, t);
}

size_t descent_schedule_describe(const descent_schedule *s, char *buf, size_t cap) {
  /* A constant reads best as the bare number it was given as. */
  if (s->def == &schedules[0]) return (size_t)snprintf(buf, cap, "%g", s->hp[0]);
  size_t used = (size_t)snprintf(buf, cap, "%s(", s->def->name);
  for (int i = 0; i < s->def->n_params; i++)
    used += (size_t)snprintf(buf + (used < cap ? used : cap), used < cap ? cap - used : 0,
                             "%s%s=%g", i ? ", " : "", s->def->params[i].name, s->hp[i]);
  used += (size_t)snprintf(buf + (used < cap ? used : cap), used < cap ? cap - used : 0, ")");
  return used;
}

void schedule_help(FILE *out) {
  fprintf(out, "Schedules (value of --lr; a bare number is constant):\n");
  for (int i = 0; i < N_SCHEDULES; i++) {
    const schedule_def *d = &schedules[i];
    fprintf(out, "  %-12s lr(t) = %s\n", d->name, d->formula);
    for (int j = 0; j < d->n_params; j++) {
      char range[64];
      spec_range_text(&d->params[j], range, sizeof range);
      fprintf(out, "      %-10s %s; range %s%s\n", d->params[j].name, d->params[j].doc, range,
              d->params[j].required ? ", required" : "");
    }
  }
}
