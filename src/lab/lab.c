/*
 * lab.c - the registry of demos, their options, and the small helpers every
 * demo uses (building problems and optimizers from text, one run, slopes).
 */
#include "lab.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const lab_demo *const demos[] = {
    &lab_demo_step_size,           /* slides 5-9 */
    &lab_demo_conditioning,        /* slides 13-14 */
    &lab_demo_normalization,       /* slide 16 */
    &lab_demo_stochastic,          /* slides 17-21 */
    &lab_demo_bottou_bousquet,     /* slide 18 */
    &lab_demo_nonconvex,           /* slides 23-25 */
    &lab_demo_saddle,              /* slide 27 */
    &lab_demo_plateau,             /* slide 27 */
    &lab_demo_saddle_index,        /* slides 26-27 */
    &lab_demo_minima,              /* slides 26-27 */
    &lab_demo_scoreboard,          /* slide 29 */
    &lab_demo_per_direction,       /* slide 30 */
    &lab_demo_gauss_newton,        /* slide 30 */
    &lab_demo_whitening,           /* slide 31 */
    &lab_demo_batchnorm,           /* slide 31 */
    &lab_demo_hidden_conditioning, /* slide 31 */
    &lab_demo_momentum_map,        /* slide 32 */
    &lab_demo_momentum_noise,      /* slide 32 */
    &lab_demo_momentum,            /* slide 33 */
    &lab_demo_race,                /* slides 30-33 */
    &lab_demo_noise_scale,         /* McCandlish et al. */
    &lab_demo_edge_of_stability,   /* Cohen et al. */
    &lab_demo_generalization,      /* slide 35 */
    &lab_demo_tuning,              /* slide 36 */
    &lab_demo_rmsprop_step,        /* slide 36 */
};
enum { N_DEMOS = sizeof demos / sizeof demos[0] };

const lab_demo *const *lab_demos(int *count) {
  *count = N_DEMOS;
  return demos;
}

const lab_demo *lab_demo_find(const char *name) {
  for (int i = 0; i < N_DEMOS; i++)
    if (strcmp(demos[i]->name, name) == 0) return demos[i];
  return NULL;
}

const char *const *lab_demo_quick(const lab_demo *demo) {
  if (demo == &lab_demo_generalization) return lab_generalization_quick;
  if (demo == &lab_demo_tuning) return lab_tuning_quick;
  if (demo == &lab_demo_edge_of_stability) return lab_edge_quick;
  if (demo == &lab_demo_minima) return lab_minima_quick;
  if (demo == &lab_demo_hidden_conditioning) return lab_hidden_conditioning_quick;
  return NULL;
}

void lab_demo_names(char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < N_DEMOS && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", demos[i]->name);
}

static void option_names(const lab_demo *d, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < d->n_options && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s--%s", i ? ", " : "", d->options[i].name);
}

int lab_demo_run(const lab_demo *demo, const char *const *overrides, const char *dir,
                 lab_result *res) {
  descent_error_clear();
  memset(res, 0, sizeof *res);
  lab_args args = {.demo = demo};
  for (int i = 0; i < demo->n_options; i++) args.values[i] = demo->options[i].def;
  for (const char *const *o = overrides; o && o[0]; o += 2) {
    int found = -1;
    for (int i = 0; i < demo->n_options; i++)
      if (strcmp(demo->options[i].name, o[0]) == 0) found = i;
    if (found < 0) {
      char names[512];
      option_names(demo, names, sizeof names);
      return descent_fail(DESCENT_EINVAL, "demo %s has no option '--%s'; valid options: %s",
                          demo->name, o[0], names);
    }
    if (!o[1]) return descent_fail(DESCENT_EINVAL, "demo %s: --%s needs a value", demo->name, o[0]);
    args.values[found] = o[1];
  }
  int rc = demo->run(&args, dir, res);
  if (!rc && dir) rc = lab_write_tables(dir, res);
  if (rc) lab_result_free(res);
  return rc;
}

/* ---- option readers ---------------------------------------------------------- */

static const char *arg_text(const lab_args *a, const char *name) {
  for (int i = 0; i < a->demo->n_options; i++)
    if (strcmp(a->demo->options[i].name, name) == 0) return a->values[i];
  return NULL;
}

static int check_range(const char *name, const char *text, double v, double lo, double hi) {
  if (v < lo || v > hi)
    return descent_fail(DESCENT_EINVAL, "--%s: %s is out of range; valid values are %g to %g", name,
                        text, lo, hi);
  return DESCENT_OK;
}

int lab_arg_double(const lab_args *a, const char *name, double lo, double hi, double *out) {
  const char *text = arg_text(a, name);
  if (!text) return descent_fail(DESCENT_EINVAL, "demo %s: no option --%s", a->demo->name, name);
  if (!descent_parse_double(text, out))
    return descent_fail(DESCENT_EINVAL, "--%s: '%s' is not a number", name, text);
  return check_range(name, text, *out, lo, hi);
}

int lab_arg_int(const lab_args *a, const char *name, int64_t lo, int64_t hi, int64_t *out) {
  double v;
  int rc = lab_arg_double(a, name, (double)lo, (double)hi, &v);
  if (rc) return rc;
  if (v != floor(v))
    return descent_fail(DESCENT_EINVAL, "--%s: '%s' is not a whole number", name,
                        arg_text(a, name));
  *out = (int64_t)v;
  return DESCENT_OK;
}

int lab_arg_list(const lab_args *a, const char *name, double lo, double hi, int min_count,
                 int max_count, double *out, int *count) {
  const char *text = arg_text(a, name);
  if (!text) return descent_fail(DESCENT_EINVAL, "demo %s: no option --%s", a->demo->name, name);
  int n = 0;
  for (const char *p = text;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char item[64];
    if (len >= sizeof item || n == max_count)
      return descent_fail(DESCENT_EINVAL, "--%s: '%s': at most %d numbers separated by commas",
                          name, text, max_count);
    memcpy(item, p, len);
    item[len] = '\0';
    if (!descent_parse_double(item, &out[n]))
      return descent_fail(DESCENT_EINVAL, "--%s: '%s' is not a number (in '%s')", name, item, text);
    int rc = check_range(name, item, out[n], lo, hi);
    if (rc) return rc;
    n++;
    if (!comma) break;
    p = comma + 1;
  }
  if (n < min_count)
    return descent_fail(DESCENT_EINVAL, "--%s: '%s': give %d number%s separated by commas", name,
                        text, min_count, min_count == 1 ? "" : "s");
  *count = n;
  return DESCENT_OK;
}

/* ---- helpers ------------------------------------------------------------------- */

int lab_problem(descent_objective **out, const char *fmt, ...) {
  char spec[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(spec, sizeof spec, fmt, ap);
  va_end(ap);
  return descent_problem_create(out, spec);
}

int lab_optimizer(descent_optimizer **out, const descent_objective *obj, const char *lr,
                  const char *fmt, ...) {
  char spec[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(spec, sizeof spec, fmt, ap);
  va_end(ap);
  return descent_optimizer_create(out, spec, lr, obj->n_params);
}

int lab_run(descent_objective *obj, const char *spec, double lr, const double *start,
            const descent_run_options *opts, descent_trace *trace) {
  char rate[64];
  snprintf(rate, sizeof rate, "%.17g", lr);
  return lab_run_schedule(obj, spec, rate, start, opts, trace);
}

int lab_run_schedule(descent_objective *obj, const char *spec, const char *lr, const double *start,
                     const descent_run_options *opts, descent_trace *trace) {
  descent_optimizer *opt;
  int rc = descent_optimizer_create(&opt, spec, lr, obj->n_params);
  if (rc) return rc;
  /* Every run starts afresh: from the problem's start unless told otherwise,
     never from where the previous run ended. */
  const descent_problem_info *info = descent_problem_info_get(obj);
  rc = descent_run_iterates(obj, opt, start ? start : info ? info->start : NULL, opts, trace);
  descent_optimizer_free(opt);
  return rc;
}

double lab_loglog_slope(const double *x, const double *y, int n) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < n; i++) {
    double lx = log(x[i]), ly = log(y[i]);
    sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
  }
  double den = n * sxx - sx * sx;
  return den != 0 ? (n * sxy - sx * sy) / den : NAN;
}

void lab_iterations_text(const descent_trace *tr, char *buf, size_t cap) {
  if (tr->diverged)
    snprintf(buf, cap, "diverged at %lld", (long long)tr->steps);
  else if (tr->reached_at >= 0)
    snprintf(buf, cap, "%lld", (long long)tr->reached_at);
  else
    snprintf(buf, cap, "never (> %lld)", (long long)tr->steps);
}

const char *const lab_lecture_optimizers[LAB_LECTURE_OPTIMIZERS] = {
    "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"};

static int64_t run_success(const descent_run_options *o, const descent_trace *tr) {
  return o->eps > 0 ? tr->reached_at : tr->escaped_at;
}

int lab_best_step(descent_objective *obj, const char *spec, const double *grid, int n,
                  const double *start, const descent_run_options *opts, lab_best *out) {
  memset(out, 0, sizeof *out);
  out->lr = NAN;
  out->iters = -1;
  descent_run_options o = *opts;
  int rc = DESCENT_OK;
  /* From the largest rate down: the fast runs usually come first, and cap
     the slow ones early. */
  for (int i = n - 1; i >= 0 && !rc; i--) {
    descent_trace tr;
    memset(&tr, 0, sizeof tr);
    rc = lab_run(obj, spec, grid[i], start, &o, &tr);
    if (rc) break;
    int64_t at = run_success(&o, &tr);
    /* Keep a success that beats the best; while there is none, the latest
       run that did not diverge tells why ("never (> N)"). */
    int keep = at >= 0 ? out->iters < 0 || at <= out->iters
                       : out->iters < 0 && (!tr.diverged || !out->trace.values);
    if (keep) {
      descent_trace_free(&out->trace);
      out->trace = tr;
      if (at >= 0) {
        out->iters = at;
        out->lr = grid[i];
        o.iters = at; /* a later rate can only tie it */
      }
    } else {
      descent_trace_free(&tr);
    }
  }
  if (rc) descent_trace_free(&out->trace);
  return rc;
}

/* Contour levels f_min + (f0 - f_min) q^k, k = -2 .. n-3: nested ellipses
   down to the minimum, two of them outside the start. */
int lab_levels_geometric(double f_min, double f0, double q, int n, double *levels) {
  for (int k = 0; k < n; k++) levels[k] = f_min + (f0 - f_min) * pow(q, k - 2);
  return n;
}

/* A window that holds the problem's own and every drawn iterate. */
void lab_cover_paths(const descent_problem_info *info, const descent_trace *tr, int n, int64_t show,
                     double *lo, double *hi) {
  for (int d = 0; d < 2; d++) {
    lo[d] = info->lo[d];
    hi[d] = info->hi[d];
  }
  for (int i = 0; i < n; i++)
    for (int64_t t = 0; t <= tr[i].steps && t <= show; t++)
      for (int d = 0; d < 2; d++) {
        double x = tr[i].params[(size_t)t * 2 + d];
        if (fabs(x) > 1e3) continue; /* a diverging run: leave it off the picture */
        lo[d] = x < lo[d] ? x : lo[d];
        hi[d] = x > hi[d] ? x : hi[d];
      }
}

void lab_table_iterations(lab_table *t, int row, const char *col, const descent_trace *tr) {
  char text[LAB_TEXT];
  if (tr->reached_at >= 0) {
    lab_table_num(t, row, col, (double)tr->reached_at);
  } else {
    lab_iterations_text(tr, text, sizeof text);
    lab_table_text(t, row, col, "%s", text);
  }
}

/* --start: "auto" keeps the problem's start. */
int lab_arg_is_auto(const lab_args *a, const char *name) {
  const char *text = arg_text(a, name);
  return text && strcmp(text, "auto") == 0;
}

int lab_arg_start(const lab_args *a, const descent_objective *obj, double *start) {
  for (int i = 0; i < a->demo->n_options; i++)
    if (strcmp(a->demo->options[i].name, "start") == 0 && strcmp(a->values[i], "auto") == 0) {
      const descent_problem_info *info = descent_problem_info_get(obj);
      start[0] = info->start[0];
      start[1] = info->start[1];
      return DESCENT_OK;
    }
  int n;
  return lab_arg_list(a, "start", -1e6, 1e6, 2, 2, start, &n);
}

int lab_arg_start_or_auto(const lab_args *a, double xy[2], const double **start) {
  *start = NULL;
  if (lab_arg_is_auto(a, "start")) return DESCENT_OK;
  int n;
  int rc = lab_arg_list(a, "start", -1e6, 1e6, 2, 2, xy, &n);
  if (!rc) *start = xy;
  return rc;
}

char *lab_num(char *buf, double v) {
  for (int digits = 6; digits <= 17; digits++) {
    snprintf(buf, LAB_NUM, "%.*g", digits, v);
    if (strtod(buf, NULL) == v) break;
  }
  return buf;
}
