/*
 * sweep_space.c - the swept parameters of `descent sweep` (NAME=SPACE), their
 * spaces, and the samplers that draw configurations from them: the grid
 * (every combination), random (seeded, log-uniform on log ranges), and the
 * quasi-random Sobol and Halton points of the library.
 */
#include "commands.h"
#include "descent.h"
#include "sweep.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SAMPLERS[] = {"grid", "random", "sobol", "halton"};

/* Where the parameter being parsed came from, for messages: "--param" or
   "FILE, line N:". */
static char where[600] = "--param";

const char *sweep_sampler_name(sweep_sampler s) {
  return SAMPLERS[s];
}

int sweep_sampler_parse(const char *name, sweep_sampler *out) {
  for (int i = 0; i < 4; i++)
    if (strcmp(name, SAMPLERS[i]) == 0) {
      *out = (sweep_sampler)i;
      return 0;
    }
  fprintf(stderr,
          "descent sweep: --sampler: unknown sampler '%s'; valid: grid, random, sobol, "
          "halton\n",
          name);
  return -1;
}

static int bad_space(const sweep_param *p, const char *why) {
  fprintf(stderr,
          "descent sweep: %s %s=%s: %s; a space is a list a,b,c, log:LO:HI, lin:LO:HI or "
          "int:LO:HI (for the grid with a point count, e.g. log:1e-4:1:5)\n",
          where, p->name, p->spec, why);
  return -1;
}

static int parse_number(const char *s, double *out) {
  char *end;
  errno = 0;
  *out = strtod(s, &end);
  return end != s && *end == '\0' && errno == 0 && isfinite(*out) ? 0 : -1;
}

/* Splits a list at the commas outside parentheses, so "sgd(momentum=0.9,
 * nesterov=1),adam" holds two items. */
static int split_list(sweep_param *p, const char *text) {
  size_t len = strlen(text), start = 0;
  int depth = 0;
  for (size_t i = 0; i <= len; i++) {
    char c = text[i];
    if (c == '(') depth++;
    if (c == ')') depth--;
    if ((c == ',' && depth == 0) || c == '\0') {
      size_t n = i - start;
      if (n == 0) return bad_space(p, "the list has an empty item");
      if (n >= SWEEP_MAX_VALUE) return bad_space(p, "an item is too long");
      char **items = realloc(p->items, (p->n_items + 1) * sizeof *items);
      if (!items || !(items[p->n_items] = strndup(text + start, n))) {
        if (items) p->items = items;
        return bad_space(p, "out of memory");
      }
      p->items = items;
      p->n_items++;
      start = i + 1;
    }
  }
  return depth == 0 ? 0 : bad_space(p, "unbalanced parentheses");
}

/* log:LO:HI[:K], lin:LO:HI[:K], int:LO:HI[:K]. */
static int parse_range(sweep_param *p, const char *text) {
  char buf[1024], *parts[5];
  size_t n = 0;
  snprintf(buf, sizeof buf, "%s", text);
  for (char *s = buf, *colon; n < 5; s = colon + 1) {
    parts[n++] = s;
    if (!(colon = strchr(s, ':'))) break;
    *colon = '\0';
  }
  if (n < 3 || n > 4) return bad_space(p, "a range needs LO and HI (and the grid's point count)");
  p->kind = strcmp(parts[0], "log") == 0   ? SPACE_LOG
            : strcmp(parts[0], "lin") == 0 ? SPACE_LIN
                                           : SPACE_INT;
  if (parse_number(parts[1], &p->lo) || parse_number(parts[2], &p->hi))
    return bad_space(p, "LO and HI must be numbers");
  if (!(p->lo < p->hi)) return bad_space(p, "LO must be below HI");
  if (p->kind == SPACE_LOG && p->lo <= 0) return bad_space(p, "a log range needs LO > 0");
  if (p->kind == SPACE_INT && (p->lo != floor(p->lo) || p->hi != floor(p->hi)))
    return bad_space(p, "an int range needs integer bounds");
  if (n == 4) {
    double k;
    if (parse_number(parts[3], &k) || k < 2 || k > 10000 || k != floor(k))
      return bad_space(p, "the point count must be an integer from 2 to 10000");
    p->points = (size_t)k;
  }
  return 0;
}

static int parse_param(const char *text, sweep_param *p);

static void param_free(sweep_param *p) {
  for (size_t i = 0; i < p->n_items; i++) free(p->items[i]);
  free(p->items);
  p->items = NULL;
  p->n_items = 0;
}

int sweep_param_parse(const char *text, sweep_param *p) {
  int rc = parse_param(text, p);
  if (rc) param_free(p); /* a parameter refused is not kept: nothing else frees it */
  return rc;
}

static int parse_param(const char *text, sweep_param *p) {
  memset(p, 0, sizeof *p);
  const char *eq = strchr(text, '=');
  size_t name_len = eq ? (size_t)(eq - text) : 0;
  if (!eq || name_len == 0 || name_len >= sizeof p->name) {
    fprintf(stderr, "descent sweep: %s '%s': expected NAME=SPACE, e.g. lr=log:1e-4:1\n", where,
            text);
    return -1;
  }
  memcpy(p->name, text, name_len);
  snprintf(p->spec, sizeof p->spec, "%s", eq + 1);
  if (strncmp(p->name, "opt.", 4) == 0) {
    if (!p->name[4] ||
        strspn(p->name + 4, "abcdefghijklmnopqrstuvwxyz_0123456789") != strlen(p->name + 4)) {
      fprintf(stderr,
              "descent sweep: %s %s: expected opt.KEY with KEY an argument of the "
              "optimizer (see 'descent optimizers')\n",
              where, p->name);
      return -1;
    }
  } else if (!cmd_train_option_kind(p->name)) {
    fprintf(stderr,
            "descent sweep: %s %s: 'descent train' has no option --%s; sweep one of its "
            "options (see 'descent train --help') or an optimizer argument as opt.KEY\n",
            where, p->name, p->name);
    return -1;
  } else if (strcmp(p->name, "out") == 0 || strcmp(p->name, "resume") == 0 ||
             strcmp(p->name, "seed") == 0 || strcmp(p->name, "threads") == 0 ||
             strcmp(p->name, "quiet") == 0) {
    fprintf(stderr, "descent sweep: %s %s: the sweep sets --%s itself%s\n", where, p->name, p->name,
            strcmp(p->name, "seed") == 0 ? "; give the seeds with --seeds 1,2,3" : "");
    return -1;
  }
  if (!p->spec[0]) return bad_space(p, "the space is empty");
  if (strncmp(p->spec, "log:", 4) == 0 || strncmp(p->spec, "lin:", 4) == 0 ||
      strncmp(p->spec, "int:", 4) == 0)
    return parse_range(p, p->spec);
  p->kind = SPACE_LIST;
  return split_list(p, p->spec);
}

int sweep_space_file(const char *path, sweep_plan *plan) {
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "descent sweep: --space: cannot open '%s': %s\n", path, strerror(errno));
    return -1;
  }
  char line[2048];
  int lineno = 0, rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    lineno++;
    line[strcspn(line, "\r\n")] = '\0';
    char *s = line + strspn(line, " \t");
    if (*s == '#' || *s == '\0') continue;
    for (char *e = s + strlen(s); e > s && (e[-1] == ' ' || e[-1] == '\t');) *--e = '\0';
    if (plan->n_params == SWEEP_MAX_PARAMS) {
      fprintf(stderr, "descent sweep: %s:%d: more than %d parameters\n", path, lineno,
              SWEEP_MAX_PARAMS);
      rc = -1;
    } else {
      snprintf(where, sizeof where, "--space %.500s, line %d:", path, lineno);
      rc = sweep_param_parse(s, &plan->params[plan->n_params]);
      snprintf(where, sizeof where, "--param");
      if (rc) break;
      plan->n_params++;
    }
  }
  fclose(f);
  return rc;
}

/* A value as descent train reads it: integers whole, reals to 6 digits. */
static void format_number(const sweep_param *p, double x, char *out) {
  if (p->kind == SPACE_INT)
    snprintf(out, SWEEP_MAX_VALUE, "%.0f", x);
  else
    snprintf(out, SWEEP_MAX_VALUE, "%.6g", x);
}

/* The value at u in [0, 1): categorical by floor, ranges mapped. */
static void value_at(const sweep_param *p, double u, char *out) {
  switch (p->kind) {
  case SPACE_LIST: {
    size_t i = (size_t)floor(u * (double)p->n_items);
    snprintf(out, SWEEP_MAX_VALUE, "%s", p->items[i < p->n_items ? i : p->n_items - 1]);
    return;
  }
  case SPACE_LOG:
    format_number(p, exp(log(p->lo) + u * (log(p->hi) - log(p->lo))), out);
    return;
  case SPACE_LIN:
    format_number(p, p->lo + u * (p->hi - p->lo), out);
    return;
  case SPACE_INT:
    format_number(p, fmin(p->hi, floor(p->lo + u * (p->hi - p->lo + 1))), out);
    return;
  }
}

/* The grid's points of one parameter: its list, or K points of its range
 * (the ends included; log ranges geometrically), or every integer. */
static size_t grid_count(const sweep_param *p) {
  if (p->kind == SPACE_LIST) return p->n_items;
  if (p->points) return p->points;
  return p->kind == SPACE_INT ? (size_t)(p->hi - p->lo) + 1 : 0;
}

static void grid_value(const sweep_param *p, size_t i, char *out) {
  size_t k = grid_count(p);
  double t = k > 1 ? (double)i / (double)(k - 1) : 0;
  switch (p->kind) {
  case SPACE_LIST:
    snprintf(out, SWEEP_MAX_VALUE, "%s", p->items[i]);
    return;
  case SPACE_LOG:
    format_number(p, exp(log(p->lo) + t * (log(p->hi) - log(p->lo))), out);
    return;
  case SPACE_LIN:
    format_number(p, p->lo + t * (p->hi - p->lo), out);
    return;
  case SPACE_INT:
    format_number(p, p->points ? round(p->lo + t * (p->hi - p->lo)) : p->lo + (double)i, out);
    return;
  }
}

static int draw_grid(const sweep_plan *plan, char (**configs)[SWEEP_MAX_VALUE], size_t *n) {
  size_t total = 1;
  for (size_t j = 0; j < plan->n_params; j++) {
    const sweep_param *p = &plan->params[j];
    size_t k = grid_count(p);
    if (k == 0) {
      fprintf(stderr,
              "descent sweep: --param %s=%s: the grid needs a point count on a range, "
              "e.g. %s=%s:5\n",
              p->name, p->spec, p->name, p->spec);
      return -1;
    }
    if (total > SWEEP_MAX_TRIALS / k) {
      fprintf(stderr,
              "descent sweep: the grid has more than %d configurations; use fewer "
              "points or --sampler sobol with --trials N\n",
              SWEEP_MAX_TRIALS);
      return -1;
    }
    total *= k;
  }
  char(*c)[SWEEP_MAX_VALUE] = calloc(total * plan->n_params, sizeof *c);
  if (!c) return -1;
  /* The first parameter varies slowest, as itertools.product. */
  for (size_t i = 0; i < total; i++) {
    size_t rest = i;
    for (size_t j = plan->n_params; j-- > 0;) {
      size_t k = grid_count(&plan->params[j]);
      grid_value(&plan->params[j], rest % k, c[i * plan->n_params + j]);
      rest /= k;
    }
  }
  *configs = c;
  *n = total;
  return 0;
}

static int draw_points(const sweep_plan *plan, size_t n, char (**configs)[SWEEP_MAX_VALUE]) {
  size_t d = plan->n_params;
  if (plan->sampler == SAMPLER_SOBOL && d > DESCENT_SOBOL_MAX_DIM) {
    fprintf(stderr,
            "descent sweep: --sampler sobol draws in at most %d dimensions (%zu "
            "parameters); use --sampler halton\n",
            DESCENT_SOBOL_MAX_DIM, d);
    return -1;
  }
  char(*c)[SWEEP_MAX_VALUE] = calloc(n * d, sizeof *c);
  double u[SWEEP_MAX_PARAMS];
  descent_rng rng;
  descent_rng_seed(&rng, plan->sample_seed);
  if (!c) return -1;
  for (size_t i = 0; i < n; i++) {
    /* Index 0 of Sobol and Halton is the origin, an edge of the space. */
    if (plan->sampler == SAMPLER_SOBOL)
      descent_sobol_point(i + 1, d, u);
    else if (plan->sampler == SAMPLER_HALTON)
      descent_halton_point(i + 1, d, u);
    else
      for (size_t j = 0; j < d; j++) u[j] = descent_rng_uniform(&rng);
    for (size_t j = 0; j < d; j++) value_at(&plan->params[j], u[j], c[i * d + j]);
  }
  *configs = c;
  return 0;
}

int sweep_draw(sweep_plan *plan, size_t n_trials, const uint64_t *seeds, size_t n_seeds) {
  if (plan->n_params == 0) {
    fprintf(stderr, "descent sweep: the space is empty; give --param NAME=SPACE or --space FILE\n");
    return -1;
  }
  char(*configs)[SWEEP_MAX_VALUE] = NULL;
  size_t n = n_trials;
  int rc = plan->sampler == SAMPLER_GRID ? draw_grid(plan, &configs, &n)
                                         : draw_points(plan, n, &configs);
  if (rc) return -1;
  if (n * n_seeds > SWEEP_MAX_TRIALS) {
    free(configs);
    fprintf(stderr, "descent sweep: %zu trials are more than %d\n", n * n_seeds, SWEEP_MAX_TRIALS);
    return -1;
  }
  plan->trials = calloc(n * n_seeds, sizeof *plan->trials);
  if (!plan->trials) {
    free(configs);
    return -1;
  }
  size_t d = plan->n_params;
  for (size_t i = 0; i < n; i++)
    for (size_t s = 0; s < n_seeds; s++) {
      sweep_trial *t = &plan->trials[plan->n_trials++];
      t->seed = seeds[s];
      t->values = malloc(d * sizeof *t->values);
      if (!t->values) {
        free(configs);
        return -1;
      }
      memcpy(t->values, configs[i * d], d * sizeof *t->values);
    }
  free(configs);
  return 0;
}

void sweep_plan_free(sweep_plan *plan) {
  for (size_t j = 0; j < plan->n_params; j++) param_free(&plan->params[j]);
  for (size_t t = 0; t < plan->n_trials; t++) free(plan->trials[t].values);
  free(plan->trials);
  for (size_t i = 0; i < plan->n_train; i++) free(plan->train[i]);
  free(plan->train);
  memset(plan, 0, sizeof *plan);
}
