/*
 * schedule.c - learning-rate schedules as pure functions of the step.
 *
 * A schedule holds no state but its hyperparameters, so the rate at any step
 * can be recomputed after a resume from the step count alone. t is the 0-based
 * index of the update: lr(0) is the rate of the first step, which is the
 * PyTorch scheduler's value after t calls to scheduler.step().
 *
 * Every schedule takes warmup=W (default 0): for t < W the rate is multiplied
 * by (t + 1) / W, so the first step uses lr(0) / W and step W - 1 the full
 * lr(W - 1). The schedule underneath is not shifted: cosine(lr, steps=1000,
 * warmup=100) reaches zero at t = 1000 whatever the warmup. This is PyTorch's
 * ChainedScheduler of LinearLR(start_factor=1/W, total_iters=W-1) with the
 * decay, and the schedule-free reference's warmup.
 */
#include "schedule.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Every table ends with this parameter; descent_schedule_value reads it last. */
#define WARMUP_PARAM                                                                               \
  { "warmup", SPEC_INTEGER, 0, 0, INFINITY, 0, 0, 0, "steps of linear warmup (above)" }
#define LR_PARAM                                                                                   \
  { "lr", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 1, "the base learning rate" }

#define PI 3.14159265358979323846

static double constant_value(const descent_schedule *s, int64_t t) {
  return s->hp[0];
}

static double inv_value(const descent_schedule *s, int64_t t) {
  return s->hp[0] / (1 + (double)t / s->hp[1]);
}

static double poly_value(const descent_schedule *s, int64_t t) {
  return s->hp[0] / pow(1 + (double)t / s->hp[2], s->hp[1]);
}

static double step_value(const descent_schedule *s, int64_t t) {
  return s->hp[0] * pow(s->hp[2], floor((double)t / s->hp[1]));
}

static double exp_value(const descent_schedule *s, int64_t t) {
  return s->hp[0] * pow(s->hp[1], (double)t);
}

static double cosine_value(const descent_schedule *s, int64_t t) {
  double lr = s->hp[0], steps = s->hp[1], min_lr = s->hp[2];
  if ((double)t >= steps) return min_lr;
  return min_lr + (lr - min_lr) * (1 + cos(PI * (double)t / steps)) / 2;
}

static double linear_value(const descent_schedule *s, int64_t t) {
  double lr = s->hp[0], steps = s->hp[1], end = s->hp[2], start = s->hp[3];
  double progress = (double)t < steps ? (double)t / steps : 1;
  return lr * (start + (end - start) * progress);
}

static double wsd_value(const descent_schedule *s, int64_t t) {
  double lr = s->hp[0], steps = s->hp[1], decay_steps = s->hp[2] * s->hp[1];
  double x = (double)t;
  if (x >= steps) return 0;
  if (x < steps - decay_steps) return lr;
  return lr * (steps - x) / decay_steps;
}

static const spec_param constant_params[] = {LR_PARAM, WARMUP_PARAM};
static const spec_param inv_params[] = {
    LR_PARAM,
    {"tau", SPEC_NUMBER, 0, 0, INFINITY, 1, 0, 1, "steps until the rate has halved"},
    WARMUP_PARAM,
};
static const spec_param poly_params[] = {
    LR_PARAM,
    {"p", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 1, "power of the decay"},
    {"tau", SPEC_NUMBER, 1, 0, INFINITY, 1, 0, 0, "time scale of the decay, in steps"},
    WARMUP_PARAM,
};
static const spec_param step_params[] = {
    LR_PARAM,
    {"step_size", SPEC_INTEGER, 0, 1, INFINITY, 0, 0, 1, "steps between two decays"},
    {"gamma", SPEC_NUMBER, 0.1, 0, INFINITY, 1, 0, 0, "factor applied at each decay"},
    WARMUP_PARAM,
};
static const spec_param exp_params[] = {
    LR_PARAM,
    {"gamma", SPEC_NUMBER, 0, 0, INFINITY, 1, 0, 1, "factor applied at every step"},
    WARMUP_PARAM,
};
static const spec_param cosine_params[] = {
    LR_PARAM,
    {"steps", SPEC_INTEGER, 0, 1, INFINITY, 0, 0, 1, "length of the decay (T_max)"},
    {"min_lr", SPEC_NUMBER, 0, 0, INFINITY, 0, 0, 0, "rate at and after `steps` (eta_min)"},
    WARMUP_PARAM,
};
static const spec_param linear_params[] = {
    LR_PARAM,
    {"steps", SPEC_INTEGER, 0, 1, INFINITY, 0, 0, 1, "length of the ramp (total_iters)"},
    {"end_factor", SPEC_NUMBER, 0, 0, 1, 0, 0, 0, "fraction of lr at and after `steps`"},
    {"start_factor", SPEC_NUMBER, 1, 0, 1, 1, 0, 0, "fraction of lr at t = 0"},
    WARMUP_PARAM,
};
static const spec_param wsd_params[] = {
    LR_PARAM,
    {"steps", SPEC_INTEGER, 0, 1, INFINITY, 0, 0, 1, "total steps; the rate is 0 from here on"},
    {"decay", SPEC_NUMBER, 0.2, 0, 1, 0, 0, 0, "fraction of `steps` spent decaying to 0"},
    WARMUP_PARAM,
};

#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

static const schedule_def schedules[] = {
    {"constant", "constant rate (a bare number means this)", "lr", constant_params,
     N_OF(constant_params), constant_value},
    {"inv", "Robbins-Monro 1/t decay", "lr / (1 + t/tau)", inv_params, N_OF(inv_params), inv_value},
    {"poly", "polynomial decay t^-p", "lr / (1 + t/tau)^p", poly_params, N_OF(poly_params),
     poly_value},
    {"step", "step decay (PyTorch StepLR)", "lr * gamma^floor(t / step_size)", step_params,
     N_OF(step_params), step_value},
    {"exp", "exponential decay (PyTorch ExponentialLR)", "lr * gamma^t", exp_params,
     N_OF(exp_params), exp_value},
    {"cosine", "cosine annealing (PyTorch CosineAnnealingLR, closed form), then min_lr",
     "min_lr + (lr - min_lr) (1 + cos(pi t / steps)) / 2 for t < steps, else min_lr", cosine_params,
     N_OF(cosine_params), cosine_value},
    {"linear", "linear ramp of the factor (PyTorch LinearLR)",
     "lr * (start_factor + (end_factor - start_factor) min(t, steps) / steps)", linear_params,
     N_OF(linear_params), linear_value},
    {"wsd", "warmup-stable-decay: flat, then linear to 0 over the last `decay` of the steps",
     "lr while t < (1-decay) steps;  lr (steps - t) / (decay steps) until steps;  0 from t = steps",
     wsd_params, N_OF(wsd_params), wsd_value},
};
enum { N_SCHEDULES = sizeof schedules / sizeof schedules[0] };

static void schedule_names(char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < N_SCHEDULES && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", schedules[i].name);
}

void optim_format_number(double v, char *buf, size_t cap) {
  if (v == floor(v) && fabs(v) < 1e15) { /* whole numbers in full: 100, not 1e+02 */
    snprintf(buf, cap, "%.0f", v);
    return;
  }
  for (int digits = 1; digits <= 17; digits++) {
    snprintf(buf, cap, "%.*g", digits, v);
    if (strtod(buf, NULL) == v) return;
  }
}

void optim_print_wrapped(FILE *out, const char *text, int indent) {
  int col = indent;
  const char *p = text;
  while (*p) {
    if (strncmp(p, ";  ", 3) == 0) { /* a new clause: a new line */
      fprintf(out, ";\n%*s", indent, "");
      col = indent;
      p += 3;
      continue;
    }
    /* The next word with the space before it, or a lone ';'. */
    size_t lead = *p == ' ', word = lead + strcspn(p + lead, " ;");
    if (word == 0) word = 1;
    if (col + (int)word > 100 && col > indent) {
      fprintf(out, "\n%*s", indent, "");
      col = indent;
      p += lead;
      continue;
    }
    fwrite(p, 1, word, out);
    col += (int)word;
    p += word;
  }
  fputc('\n', out);
}

/* A number where the text begins as one ("0x10", "1e-3.5"): worth saying
   that it is not decimal rather than that no schedule has that name. */
static int looks_numeric(const char *text) {
  while (*text == ' ' || *text == '\t') text++;
  return (*text >= '0' && *text <= '9') || *text == '.' || *text == '-' || *text == '+';
}

/* A bare number: a constant rate. */
static int parse_constant(descent_schedule *s, double v) {
  if (v < 0) {
    char num[32];
    optim_format_number(v, num, sizeof num);
    return descent_fail(DESCENT_EINVAL,
                        "learning rate %s: must be non-negative (valid range [0, inf))", num);
  }
  s->def = &schedules[0];
  s->hp[0] = v;
  return DESCENT_OK;
}

/* Relations between parameters that their ranges alone cannot express. */
static int schedule_validate(const descent_schedule *s) {
  if (s->def->value == cosine_value && s->hp[2] > s->hp[0]) {
    char lr[32], min_lr[32];
    optim_format_number(s->hp[0], lr, sizeof lr);
    optim_format_number(s->hp[2], min_lr, sizeof min_lr);
    return descent_fail(DESCENT_EINVAL,
                        "learning rate cosine(...): min_lr=%s is above lr=%s; min_lr is where the "
                        "rate decays to, so it must be at most lr",
                        min_lr, lr);
  }
  return DESCENT_OK;
}

int descent_schedule_parse(descent_schedule **out, const char *text) {
  *out = NULL;
  descent_error_clear();
  if (!text) return descent_fail(DESCENT_EINVAL, "missing learning rate");
  descent_schedule *s = descent_calloc(1, sizeof *s, "schedule");
  if (!s) return DESCENT_ENOMEM;
  double v;
  spec_quote q;
  int rc = descent_parse_number(text, &v);
  if (rc == DESCENT_OK) {
    rc = parse_constant(s, v);
    if (rc) goto fail;
    *out = s;
    return DESCENT_OK;
  }
  if (rc == DESCENT_ERANGE) {
    rc = descent_fail(DESCENT_EINVAL, "learning rate %s: out of range: a double holds %s",
                      spec_quote_text(&q, text), DESCENT_NUMBER_RANGE);
    goto fail;
  }
  if (looks_numeric(text)) {
    rc = descent_fail(DESCENT_EINVAL,
                      "learning rate %s: not a decimal number (write rates as 0.001 or 1e-3)",
                      spec_quote_text(&q, text));
    goto fail;
  }
  /* Split first, as chains are, for the messages about parentheses. */
  spec_span whole;
  int count;
  spec_call call;
  rc = spec_split(text, "", &whole, 1, &count, "learning rate");
  if (!rc && count == 0) rc = descent_fail(DESCENT_EINVAL, "empty learning rate; try 0.1");
  if (!rc) rc = spec_parse_call(whole, &call, "learning rate");
  if (rc) goto fail;
  for (int i = 0; i < N_SCHEDULES; i++)
    if (strcmp(schedules[i].name, call.name) == 0) s->def = &schedules[i];
  if (!s->def) {
    char names[256];
    schedule_names(names, sizeof names);
    rc = descent_fail(DESCENT_EINVAL,
                      "learning rate %s: not a number or a known schedule; valid schedules: %s",
                      spec_quote_text(&q, text), names);
    goto fail;
  }
  rc = spec_bind(&call, s->def->params, s->def->n_params, s->hp, NULL, "learning rate");
  if (!rc) rc = schedule_validate(s);
  if (rc) goto fail;
  *out = s;
  return DESCENT_OK;
fail:
  free(s);
  return rc;
}

int schedule_set_base_lr(descent_schedule *s, double lr) {
  if (!(lr >= 0) || !isfinite(lr)) {
    char num[32];
    optim_format_number(lr, num, sizeof num);
    return descent_fail(DESCENT_EINVAL,
                        "base learning rate %s: must be finite and non-negative (valid range "
                        "[0, inf))",
                        num);
  }
  double old = s->hp[0];
  s->hp[0] = lr;
  int rc = schedule_validate(s);
  if (rc) s->hp[0] = old;
  return rc;
}

int64_t descent_schedule_warmup_steps(const descent_schedule *s) {
  double warmup = s->hp[s->def->n_params - 1];
  return warmup < 9e18 ? (int64_t)warmup : INT64_MAX; /* warmup may be up to inf */
}

void descent_schedule_free(descent_schedule *s) {
  free(s);
}

double descent_schedule_value(const descent_schedule *s, int64_t t) {
  double lr = s->def->value(s, t), warmup = s->hp[s->def->n_params - 1];
  if ((double)t < warmup) lr *= (double)(t + 1) / warmup;
  return lr;
}

size_t descent_schedule_describe(const descent_schedule *s, char *buf, size_t cap) {
  char num[32];
  int n = s->def->n_params;
  /* A constant without warmup reads best as the bare number it was given as. */
  if (s->def == &schedules[0] && s->hp[n - 1] == 0) {
    optim_format_number(s->hp[0], num, sizeof num);
    return (size_t)snprintf(buf, cap, "%s", num);
  }
  size_t used = (size_t)snprintf(buf, cap, "%s(", s->def->name);
  for (int i = 0; i < n; i++) {
    optim_format_number(s->hp[i], num, sizeof num);
    used += (size_t)snprintf(buf + (used < cap ? used : cap), used < cap ? cap - used : 0,
                             "%s%s=%s", i ? ", " : "", s->def->params[i].name, num);
  }
  used += (size_t)snprintf(buf + (used < cap ? used : cap), used < cap ? cap - used : 0, ")");
  return used;
}

void schedule_help(FILE *out) {
  fprintf(out,
          "Schedules (the value of --lr or of lr=; a bare number is constant; t counts updates\n"
          "from 0; every schedule takes warmup=W, which multiplies lr(t) by (t+1)/W while\n"
          "t < W without shifting the schedule):\n");
  for (int i = 0; i < N_SCHEDULES; i++) {
    const schedule_def *d = &schedules[i];
    fprintf(out, "  %-12s ", d->name);
    optim_print_wrapped(out, d->summary, 15);
    fprintf(out, "  %-12s lr(t) = ", "");
    optim_print_wrapped(out, d->formula, 23);
    for (int j = 0; j < d->n_params; j++) {
      const spec_param *p = &d->params[j];
      char line[256], range[64], def[32] = "required";
      spec_range_text(p, range, sizeof range);
      if (!p->required) optim_format_number(p->def, def, sizeof def);
      snprintf(line, sizeof line, "%s; %s%s; range %s", p->doc, p->required ? "" : "default ", def,
               range);
      fprintf(out, "      %-26s ", p->name);
      optim_print_wrapped(out, line, 33);
    }
  }
}
