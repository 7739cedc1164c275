/*
 * report_sweep.c - a sweep folder read for `descent report SWEEP`
 * (report_sweep.h): summary.csv parsed strictly (its header must be the
 * contract's, every row its width, every number a number, every status a
 * known word), the trials grouped by optimizer, the x axis chosen (p.lr,
 * else the first numeric parameter), each group's tuning window measured,
 * and the results table printed.
 */
#include "report_sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SUMMARY_MAX_BYTES ((size_t)64 << 20)
#define MAX_FIELDS        (SWEEP_MAX_PARAMS + 16)

static const char *const head[] = {"rank", "trial", "status", "seed"};
static const char *const tail[] = {"epochs",   "train_loss",    "val_loss", "val_acc", "test_loss",
                                   "test_acc", "train_seconds", "metric",   "dir"};
enum { N_HEAD = 4, N_TAIL = 9 };

static const char *const status_names[] = {"done", "stopped", "diverged", "failed", "pending"};

const char *sweep_status_name(sweep_status s) {
  return status_names[s];
}

/* ---- reading ---------------------------------------------------------------------- */

/* The whole file, NUL-terminated; *len its size, which may exceed
   SUMMARY_MAX_BYTES (then nothing past it was read). NULL when it cannot be
   read. */
static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return NULL;
  }
  size_t want = (size_t)size > SUMMARY_MAX_BYTES ? SUMMARY_MAX_BYTES : (size_t)size;
  char *buf = malloc(want + 1);
  size_t n = buf ? fread(buf, 1, want, f) : 0;
  fclose(f);
  if (!buf) return NULL;
  buf[n] = '\0';
  *len = (size_t)size > SUMMARY_MAX_BYTES ? (size_t)size : n;
  return buf;
}

/* Splits one line (ended by '\n' or NUL; a '\r' before it is dropped) into
   fields in place, a field in double quotes holding commas and "" for a
   quote. Returns the field count, -1 when there are too many or a quote
   is not closed. *next: the next line. */
static int split_line(char *line, char **fields, char **next) {
  int n = 0;
  char *p = line;
  for (;;) {
    if (n == MAX_FIELDS) return -1;
    char *out = p;
    fields[n++] = out;
    if (*p == '"') {
      p++;
      for (;;) {
        if (*p == '\0' || *p == '\n') return -1;
        if (*p == '"' && p[1] == '"')
          *out++ = '"', p += 2;
        else if (*p == '"') {
          p++;
          break;
        } else
          *out++ = *p++;
      }
    } else {
      while (*p && *p != ',' && *p != '\n') *out++ = *p++;
    }
    char end = *p;
    if (end != ',' && end != '\n' && end != '\0') return -1;
    if (out > fields[n - 1] && out[-1] == '\r' && end != ',') out--;
    *out = '\0';
    if (end == ',') {
      p++;
      continue;
    }
    *next = end == '\n' ? p + 1 : p;
    return n;
  }
}

static int parse_number(const char *text, double *v) {
  if (!*text || strcmp(text, "nan") == 0 || strcmp(text, "NaN") == 0) {
    *v = NAN;
    return 0;
  }
  char *end;
  *v = strtod(text, &end);
  return *end ? -1 : 0;
}

static int fail(const char *sweep, size_t line, const char *what, const char *detail) {
  fprintf(stderr,
          "descent report: %s/summary.csv line %zu: %s%s%s; a sweep's summary.csv has the "
          "columns rank,trial,status,seed,p.NAME...,epochs,train_loss,val_loss,val_acc,"
          "test_loss,test_acc,train_seconds,metric,dir (docs/tuning.md)\n",
          sweep, line, what, detail[0] ? ": " : "", detail);
  return -1;
}

static int read_header(const char *sweep, char **f, int n, sweep_report *r) {
  if (n < N_HEAD + N_TAIL) return fail(sweep, 1, "too few columns in the header", "");
  for (int i = 0; i < N_HEAD; i++)
    if (strcmp(f[i], head[i]) != 0) return fail(sweep, 1, "unexpected column", f[i]);
  for (int i = 0; i < N_TAIL; i++)
    if (strcmp(f[n - N_TAIL + i], tail[i]) != 0)
      return fail(sweep, 1, "unexpected column", f[n - N_TAIL + i]);
  r->n_params = (size_t)(n - N_HEAD - N_TAIL);
  if (r->n_params > SWEEP_MAX_PARAMS) return fail(sweep, 1, "more than 32 parameters", "");
  for (size_t i = 0; i < r->n_params; i++) {
    const char *name = f[N_HEAD + i];
    if (strncmp(name, "p.", 2) != 0 || !name[2] || strlen(name) >= sizeof r->params[0])
      return fail(sweep, 1, "a parameter column is not p.NAME", name);
    snprintf(r->params[i], sizeof r->params[i], "%s", name + 2);
  }
  return 0;
}

static int read_row(const char *sweep, size_t line, char **f, sweep_report *r, sweep_trial *t) {
  double v[N_HEAD + N_TAIL];
  char detail[200];
  const char *names[N_HEAD + N_TAIL];
  const char *texts[N_HEAD + N_TAIL];
  for (int i = 0; i < N_HEAD; i++) names[i] = head[i], texts[i] = f[i];
  for (int i = 0; i < N_TAIL; i++)
    names[N_HEAD + i] = tail[i], texts[N_HEAD + i] = f[N_HEAD + (int)r->n_params + i];
  for (int i = 0; i < N_HEAD + N_TAIL; i++) {
    if (i == 2 || i == N_HEAD + N_TAIL - 1) continue; /* status, dir: words */
    if (parse_number(texts[i], &v[i])) {
      snprintf(detail, sizeof detail, "%s '%.60s' is not a number", names[i], texts[i]);
      return fail(sweep, line, "a malformed value", detail);
    }
  }
  int s = 0;
  while (s < 5 && strcmp(f[2], status_names[s]) != 0) s++;
  if (s == 5) {
    snprintf(detail, sizeof detail, "'%.40s' (valid: done, stopped, diverged, failed, pending)",
             f[2]);
    return fail(sweep, line, "an unknown status", detail);
  }
  if (!isfinite(v[1]) || v[1] < 0 || v[1] > 1e9 || v[1] != floor(v[1]))
    return fail(sweep, line, "trial is not a trial number", texts[1]);
  t->rank = v[0], t->trial = (long)v[1], t->status = (sweep_status)s, t->seed = v[3];
  double *out[] = {&t->epochs,    &t->train_loss, &t->val_loss,      &t->val_acc,
                   &t->test_loss, &t->test_acc,   &t->train_seconds, &t->metric};
  for (int i = 0; i < 8; i++) *out[i] = v[N_HEAD + i];
  for (size_t i = 0; i < r->n_params; i++)
    snprintf(t->param[i], sizeof t->param[i], "%s", f[N_HEAD + i]);
  snprintf(t->dir, sizeof t->dir, "%s", f[N_HEAD + r->n_params + N_TAIL - 1]);
  return 0;
}

static int parse_summary(const char *sweep, char *text, size_t len, sweep_report *r) {
  if (memchr(text, '\0', len)) return fail(sweep, 1, "a NUL byte: not a text file", "");
  char *fields[MAX_FIELDS], *next = text;
  size_t line = 1, cap = 0;
  int width = split_line(next, fields, &next);
  if (width < 0 || read_header(sweep, fields, width, r)) {
    if (width < 0) fail(sweep, 1, "a malformed header", "");
    return -1;
  }
  while (*next) {
    line++;
    char *start = next;
    int n = split_line(start, fields, &next);
    if (n == 1 && fields[0][0] == '\0') continue; /* a blank line */
    char detail[64];
    snprintf(detail, sizeof detail, "%d fields, the header has %d", n, width);
    if (n != width) return fail(sweep, line, "a row of the wrong width", n < 0 ? "" : detail);
    if (r->n_trials == cap) {
      cap = cap ? 2 * cap : 64;
      sweep_trial *more = realloc(r->trials, cap * sizeof *more);
      if (!more) return fail(sweep, line, "out of memory", "");
      r->trials = more;
    }
    sweep_trial *t = &r->trials[r->n_trials];
    memset(t, 0, sizeof *t);
    if (read_row(sweep, line, fields, r, t)) return -1;
    r->n_trials++;
  }
  if (r->n_trials == 0) return fail(sweep, line, "no trial yet", "run the sweep first");
  return 0;
}

/* The metric's name from sweep.txt's line "metric ..." (its first word). */
static void read_metric_name(const char *sweep, sweep_report *r) {
  snprintf(r->metric, sizeof r->metric, "metric");
  char path[4200], line[512];
  snprintf(path, sizeof path, "%s/sweep.txt", sweep);
  FILE *f = fopen(path, "r");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    char *p = line + strspn(line, " \t");
    if (strncmp(p, "metric", 6) != 0 || strchr(" \t:=", p[6]) == NULL) continue;
    p += 6;
    p += strspn(p, " \t:=");
    size_t n = strcspn(p, " \t,;()\r\n");
    if (n > 0 && n < sizeof r->metric) snprintf(r->metric, sizeof r->metric, "%.*s", (int)n, p);
    break;
  }
  fclose(f);
}

/* ---- the analysis ------------------------------------------------------------------ */

static int numeric_param(const sweep_report *r, size_t p) {
  for (size_t i = 0; i < r->n_trials; i++) {
    double v;
    if (parse_number(r->trials[i].param[p], &v) || !isfinite(v)) return 0;
  }
  return 1;
}

static void choose_axis(sweep_report *r) {
  r->x_param = r->opt_param = -1;
  for (size_t p = 0; p < r->n_params; p++) {
    if (strcmp(r->params[p], "opt") == 0) r->opt_param = (int)p;
    if (strcmp(r->params[p], "lr") == 0 && numeric_param(r, p)) r->x_param = (int)p;
  }
  for (size_t p = 0; r->x_param < 0 && p < r->n_params; p++)
    if ((int)p != r->opt_param && numeric_param(r, p)) r->x_param = (int)p;
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < r->n_trials; i++) {
    sweep_trial *t = &r->trials[i];
    if (r->x_param >= 0)
      parse_number(t->param[r->x_param], &t->x);
    else
      t->x = (double)t->trial;
    lo = fmin(lo, t->x), hi = fmax(hi, t->x);
  }
  int is_lr = r->x_param >= 0 && strcmp(r->params[r->x_param], "lr") == 0;
  r->x_log = lo > 0 && (is_lr || hi / lo >= 10);
}

/* Higher is better for an accuracy, lower for a loss; otherwise as the
   ranks say (rank 1 against the rest). */
static void choose_direction(sweep_report *r) {
  if (strstr(r->metric, "acc")) {
    r->higher_better = 1;
    return;
  }
  if (strstr(r->metric, "loss")) {
    r->higher_better = 0;
    return;
  }
  const sweep_trial *first = NULL;
  for (size_t i = 0; i < r->n_trials; i++)
    if (isfinite(r->trials[i].rank) && isfinite(r->trials[i].metric) &&
        (!first || r->trials[i].rank < first->rank))
      first = &r->trials[i];
  int above = 0, below = 0;
  for (size_t i = 0; first && i < r->n_trials; i++)
    if (isfinite(r->trials[i].metric)) {
      above += r->trials[i].metric > first->metric;
      below += r->trials[i].metric < first->metric;
    }
  r->higher_better = above == 0 && below > 0;
}

static int group_trials(const char *sweep, sweep_report *r) {
  for (size_t i = 0; i < r->n_trials; i++) {
    sweep_trial *t = &r->trials[i];
    const char *name = r->opt_param >= 0 ? t->param[r->opt_param] : "all trials";
    int g = 0;
    while (g < r->n_groups && strcmp(r->groups[g].name, name) != 0) g++;
    if (g == r->n_groups) {
      if (g == SWEEP_MAX_GROUPS) {
        fprintf(stderr,
                "descent report: %s/summary.csv sweeps more than %d optimizers; report a "
                "sweep of fewer\n",
                sweep, SWEEP_MAX_GROUPS);
        return -1;
      }
      memset(&r->groups[g], 0, sizeof r->groups[g]);
      snprintf(r->groups[g].name, sizeof r->groups[g].name, "%s", name);
      r->groups[g].best = -1;
      r->n_groups++;
    }
    t->group = g;
    r->groups[g].counts[t->status]++;
  }
  return 0;
}

static int better(const sweep_report *r, double a, double b) {
  return r->higher_better ? a > b : a < b;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The trials of a group that the curves use: finished ones (done), or,
   when none finished, every one with a metric (an ASHA sweep's). */
static int uses(const sweep_report *r, const sweep_trial *t, int g) {
  if (t->group != g) return 0;
  if (r->groups[g].counts[SWEEP_DONE] > 0) return t->status == SWEEP_DONE;
  return t->status == SWEEP_STOPPED;
}

size_t sweep_points(const sweep_report *r, int g, int column, sweep_point *pts, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < r->n_trials; i++) { /* distinct x values of the group, sorted */
    const sweep_trial *t = &r->trials[i];
    if (t->group != g || !isfinite(t->x)) continue;
    size_t k = 0;
    while (k < n && pts[k].x != t->x) k++;
    if (k == n && n < cap) pts[n++].x = t->x;
  }
  for (size_t a = 1; a < n; a++) /* insertion sort: few points */
    for (size_t b = a; b > 0 && pts[b - 1].x > pts[b].x; b--) {
      double x = pts[b].x;
      pts[b].x = pts[b - 1].x, pts[b - 1].x = x;
    }
  double *values = malloc((r->n_trials + 1) * sizeof *values);
  for (size_t k = 0; k < n; k++) {
    size_t m = 0;
    for (size_t i = 0; values && i < r->n_trials; i++) {
      const sweep_trial *t = &r->trials[i];
      double v = column ? t->train_loss : t->metric;
      if (uses(r, t, g) && t->x == pts[k].x && isfinite(v)) values[m++] = v;
    }
    pts[k].n = m;
    if (m == 0) {
      pts[k].median = pts[k].min = pts[k].max = NAN;
      continue;
    }
    qsort(values, m, sizeof *values, cmp_double);
    pts[k].min = values[0], pts[k].max = values[m - 1];
    pts[k].median = m % 2 ? values[m / 2] : 0.5 * (values[m / 2 - 1] + values[m / 2]);
  }
  free(values);
  return n;
}

/* The window: the contiguous values around the best median within 1%. */
static void measure_window(sweep_report *r, int g) {
  sweep_group *G = &r->groups[g];
  G->best_x = G->lo = G->hi = G->ratio = G->decades = NAN;
  sweep_point *pts = malloc(r->n_trials * sizeof *pts); /* a value per trial at most */
  size_t n = pts ? sweep_points(r, g, 0, pts, r->n_trials) : 0;
  int best = -1;
  for (size_t k = 0; k < n; k++)
    if (isfinite(pts[k].median) && (best < 0 || better(r, pts[k].median, pts[best].median)))
      best = (int)k;
  if (best < 0) {
    free(pts);
    return;
  }
  double m = pts[best].median;
  double limit = r->higher_better ? (m >= 0 ? 0.99 * m : 1.01 * m) : (m >= 0 ? 1.01 * m : 0.99 * m);
#define WITHIN(k)                                                                                  \
  (isfinite(pts[k].median) && (r->higher_better ? pts[k].median >= limit : pts[k].median <= limit))
  int lo = best, hi = best;
  while (lo > 0 && WITHIN(lo - 1)) lo--;
  while (hi + 1 < (int)n && WITHIN(hi + 1)) hi++;
#undef WITHIN
  G->best_x = pts[best].x, G->lo = pts[lo].x, G->hi = pts[hi].x;
  G->at_edge = n > 1 && (lo == 0 || hi == (int)n - 1);
  if (G->lo > 0) G->ratio = G->hi / G->lo, G->decades = log10(G->ratio);
  free(pts);
}

static void find_best(sweep_report *r, int g) {
  sweep_group *G = &r->groups[g];
  for (size_t i = 0; i < r->n_trials; i++) {
    const sweep_trial *t = &r->trials[i];
    if (t->group != g || !isfinite(t->metric)) continue;
    if (G->best < 0) {
      G->best = (int)i;
      continue;
    }
    const sweep_trial *b = &r->trials[G->best];
    if (isfinite(t->rank) && isfinite(b->rank) ? t->rank < b->rank
                                               : better(r, t->metric, b->metric))
      G->best = (int)i;
  }
}

int sweep_load(const char *sweep, sweep_report *r) {
  memset(r, 0, sizeof *r);
  char path[4200];
  snprintf(path, sizeof path, "%s/summary.csv", sweep);
  size_t len = 0;
  char *text = read_file(path, &len);
  if (!text) {
    fprintf(stderr, "descent report: cannot read %s\n", path);
    return -1;
  }
  if (len > SUMMARY_MAX_BYTES) {
    free(text);
    fprintf(stderr, "descent report: %s is larger than 64 MiB: not a sweep's summary\n", path);
    return -1;
  }
  int rc = parse_summary(sweep, text, len, r);
  free(text);
  if (rc) return -1;
  read_metric_name(sweep, r);
  choose_axis(r);
  choose_direction(r);
  if (group_trials(sweep, r)) return -1;
  for (int g = 0; g < r->n_groups; g++) measure_window(r, g), find_best(r, g);
  return 0;
}

void sweep_free(sweep_report *r) {
  free(r->trials);
  memset(r, 0, sizeof *r);
}

/* ---- the table ---------------------------------------------------------------------- */

void sweep_window_text(const sweep_report *r, const sweep_group *G, char *buf, size_t cap) {
  if (!isfinite(G->lo))
    snprintf(buf, cap, "none (no finished trial with a metric)");
  else if (G->lo == G->hi)
    snprintf(buf, cap, "only the best value %g%s", G->best_x,
             G->at_edge ? ", at the sweep's edge" : "");
  else if (isfinite(G->ratio) && r->x_log)
    snprintf(buf, cap, "x%.3g (%.2f decades), %g to %g%s", G->ratio, G->decades, G->lo, G->hi,
             G->at_edge ? ", reaching the sweep's edge" : "");
  else
    snprintf(buf, cap, "%g to %g (width %g)%s", G->lo, G->hi, G->hi - G->lo,
             G->at_edge ? ", reaching the sweep's edge" : "");
}

void sweep_print_table(FILE *f, const sweep_report *r) {
  fprintf(f, "best trial per %s (%s, %s is better):\n", r->opt_param >= 0 ? "optimizer" : "sweep",
          r->metric, r->higher_better ? "higher" : "lower");
  for (int g = 0; g < r->n_groups; g++) {
    const sweep_group *G = &r->groups[g];
    fprintf(f, "  %s:", G->name);
    if (G->best < 0) {
      fprintf(f, " no trial with a metric\n");
    } else {
      const sweep_trial *t = &r->trials[G->best];
      fprintf(f, " %s", t->dir);
      for (size_t p = 0; p < r->n_params; p++)
        if ((int)p != r->opt_param) fprintf(f, " %s=%s", r->params[p], t->param[p]);
      fprintf(f, " seed=%g | %s %.6g | test_acc %.6g | %.4g s\n", t->seed, r->metric, t->metric,
              t->test_acc, t->train_seconds);
    }
    char window[200];
    sweep_window_text(r, G, window, sizeof window);
    fprintf(f, "    tuning window (%s within 1%% of its best): %s\n",
            r->x_param >= 0 ? r->params[r->x_param] : "trial", window);
    fprintf(f, "    trials: %d done, %d stopped, %d diverged, %d failed, %d pending\n",
            G->counts[0], G->counts[1], G->counts[2], G->counts[3], G->counts[4]);
  }
}
