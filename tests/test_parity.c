/*
 * test_parity.c - descent's optimizers and learning-rate schedules against
 * PyTorch, step by step, from the fixtures in tests/fixtures/optim.
 *
 * tools/fixtures/optim_fixtures.py recorded, in float64, each optimizer's
 * trajectory on a few parameter tensors under prescribed gradients (and the
 * rates of each schedule). Here every trajectory is replayed through descent:
 * a minimal objective hands the recorded gradient of step k to
 * descent_optimizer_step, and every parameter is compared after every step.
 * The file list and the number of cases per file come from the folder's
 * MANIFEST, so a missing or truncated fixture fails the test.
 *
 * Error measure, per parameter i of tensor T after step k:
 *   err = |got - want| / max(|want|, rms(want over T at step k))
 * that is, relative error, except that a value smaller than its tensor's RMS
 * is measured against that RMS: a parameter that has wandered near zero got
 * there by adding terms of the tensor's size, and carries their rounding
 * error, not one proportional to its own size. (With 1e-3 * RMS instead, the
 * float build fails on such values by rounding alone: e.g. nesterov's
 * W[1] = -0.0027 reached from O(1), off by 2e-7, 7e-5 relative.) Limits:
 * 1e-12 in the double build, 1e-5 in the float build (whose inputs are the
 * fixture's values rounded to float), unless the case has a line
 * "tolerance DOUBLE FLOAT" (Shampoo's, whose eigendecompositions of
 * rank-deficient factors amplify rounding; the fixture says why).
 * Rates (schedules, and descent_optimizer_lr in cases with a schedule) are
 * doubles in both builds: err = |got - want| / max(|want|, 1e-3 * largest
 * rate of the case), limit 1e-12.
 *
 * Sophia's cases (sophia.txt) also give, on the steps where optax's
 * estimator ran, the Hessian-diagonal estimate it returned (hess): the
 * replay objective's Hessian-vector product is then hess * v, whose
 * Hutchinson estimate z * (hess * z) is hess to the bit whatever descent's
 * probe z. A Hessian product on a step without hess, or a hess line that
 * no product used, fails the case: descent must estimate on exactly
 * optax's steps. Methods step through descent_optimizer_step_closure.
 *
 * Schedule-free cases also record x, the evaluation point, after the last
 * step, and ASGD cases its average ax; it is checked (same measure) through
 * descent_optimizer_eval.
 *
 * Every case must run: a spec descent refuses (each spec a case lists,
 * chains included) fails the case with the library's message, as does a
 * failing step; a case cannot pass by being skipped. Usage: test_parity
 * [FIXTURE_DIR].
 */
#include "check.h"

#include <errno.h>
#include <float.h>
#include <stdlib.h>

#ifndef DESCENT_FIXTURE_DIR
#define DESCENT_FIXTURE_DIR "tests/fixtures/optim"
#endif

#ifdef DESCENT_DOUBLE
#define PARAM_TOL 1e-12
#define BUILD     "double"
#else
#define PARAM_TOL 1e-5
#define BUILD     "float"
#endif
#define RATE_TOL      1e-12
#define TINY_FRACTION 1e-3 /* of the largest rate: floor of the rate errors */
#define MAX_SPECS     4
#define MAX_TENSORS   8
#define MAX_TEXT      512

static int cases_passed, cases_failed;

/* ---- reading the fixtures ------------------------------------------------ */

typedef struct reader {
  const char *path;
  FILE *f;
  char *line;
  size_t cap;
  int lineno;
  int failed; /* a parse error was reported */
} reader;

/* Next line that is neither empty nor a comment, without its newline; NULL at
   the end of the file. */
static char *next_line(reader *r) {
  ssize_t len;
  while ((len = getline(&r->line, &r->cap, r->f)) >= 0) {
    r->lineno++;
    while (len > 0 && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r')) r->line[--len] = 0;
    if (len == 0 || r->line[0] == '#') continue;
    return r->line;
  }
  return NULL;
}

static void parse_error(reader *r, const char *what) {
  CHECK_MSG(0, "%s:%d: %s", r->path, r->lineno, what);
  r->failed = 1;
}

/* The keyword is the first word; *rest points past it and its spaces. */
static int keyword_is(const char *line, const char *kw, const char **rest) {
  size_t n = strlen(kw);
  if (strncmp(line, kw, n) != 0 || (line[n] != ' ' && line[n] != 0)) return 0;
  *rest = line + n;
  while (**rest == ' ') (*rest)++;
  return 1;
}

/* Exactly n numbers in text into out. */
static int parse_numbers(reader *r, const char *text, double *out, size_t n) {
  const char *p = text;
  for (size_t i = 0; i < n; i++) {
    char *end;
    out[i] = strtod(p, &end);
    if (end == p) {
      parse_error(r, "fewer numbers than expected");
      return 0;
    }
    p = end;
  }
  while (*p == ' ') p++;
  if (*p) {
    parse_error(r, "more numbers than expected, or text after them");
    return 0;
  }
  return 1;
}

typedef struct tensor_def {
  char name[48];
  size_t offset, size;
  descent_shape shape;
} tensor_def;

typedef struct opt_case {
  char name[64];
  char specs[MAX_SPECS][MAX_TEXT];
  int n_specs;
  char lr[MAX_TEXT]; /* "-" for NULL */
  double tol;        /* the parameters' limit: PARAM_TOL unless a tolerance line says */
  size_t n;
  tensor_def tensors[MAX_TENSORS];
  int n_tensors;
  int steps;
  double *init;            /* n */
  double *grad;            /* steps x n */
  double *param;           /* steps x n */
  double *rate;            /* steps, or NULL */
  double *eval;            /* n, or NULL */
  double *hess;            /* steps x n, or NULL: the estimates given (sophia) */
  unsigned char *has_hess; /* steps: 1 where the step has a hess line */
  int has_init, grads_seen, params_seen, rates_seen;
} opt_case;

static void opt_case_free(opt_case *c) {
  free(c->init), free(c->grad), free(c->param), free(c->rate), free(c->eval);
  free(c->hess), free(c->has_hess);
  memset(c, 0, sizeof *c);
}

static double *alloc_doubles(size_t n) {
  double *p = calloc(n ? n : 1, sizeof *p);
  if (!p) {
    fprintf(stderr, "test_parity: out of memory\n");
    exit(2);
  }
  return p;
}

/* Reads the body of a case (after its "case NAME" line) up to "end". */
static int read_opt_case(reader *r, opt_case *c) {
  char *line;
  const char *rest;
  while ((line = next_line(r))) {
    if (keyword_is(line, "end", &rest)) break;
    if (keyword_is(line, "source", &rest)) continue;
    if (keyword_is(line, "tolerance", &rest)) {
      double limit[2];
      char *end;
      limit[0] = strtod(rest, &end);
      limit[1] = strtod(end, &end);
      if (!(limit[0] > 0) || !(limit[1] > 0)) return parse_error(r, "bad tolerance line"), 0;
#ifdef DESCENT_DOUBLE
      c->tol = limit[0];
#else
      c->tol = limit[1];
#endif
    } else if (keyword_is(line, "spec", &rest)) {
      if (c->n_specs == MAX_SPECS) return parse_error(r, "too many spec lines"), 0;
      snprintf(c->specs[c->n_specs++], MAX_TEXT, "%s", rest);
    } else if (keyword_is(line, "lr", &rest)) {
      snprintf(c->lr, sizeof c->lr, "%s", rest);
    } else if (keyword_is(line, "n", &rest)) {
      c->n = strtoul(rest, NULL, 10);
      if (c->n == 0 || c->n > 1000000) return parse_error(r, "bad n"), 0;
    } else if (keyword_is(line, "tensor", &rest)) {
      tensor_def *t = &c->tensors[c->n_tensors];
      int used = 0;
      if (c->n_tensors == MAX_TENSORS ||
          sscanf(rest, "%47s %zu %zu%n", t->name, &t->offset, &t->size, &used) != 3)
        return parse_error(r, "bad tensor line"), 0;
      /* The shape's dimensions follow: the optimizer's layout. */
      const char *p = rest + used;
      char *end;
      t->shape.ndim = 0;
      for (size_t d = strtoul(p, &end, 10); end != p; d = strtoul(p, &end, 10)) {
        if (t->shape.ndim == DESCENT_MAX_DIMS) return parse_error(r, "too many dimensions"), 0;
        t->shape.dims[t->shape.ndim++] = d;
        p = end;
      }
      c->n_tensors++;
    } else if (keyword_is(line, "steps", &rest)) {
      c->steps = atoi(rest);
      if (c->steps <= 0 || c->n == 0) return parse_error(r, "steps must be > 0 and follow n"), 0;
      c->init = alloc_doubles(c->n);
      c->grad = alloc_doubles((size_t)c->steps * c->n);
      c->param = alloc_doubles((size_t)c->steps * c->n);
    } else if (!c->init) {
      return parse_error(r, "data before the steps line"), 0;
    } else if (keyword_is(line, "init", &rest)) {
      if (!parse_numbers(r, rest, c->init, c->n)) return 0;
      c->has_init = 1;
    } else if (keyword_is(line, "rate", &rest)) {
      if (!c->rate) c->rate = alloc_doubles((size_t)c->steps);
      if (c->rates_seen != c->params_seen || c->rates_seen >= c->steps)
        return parse_error(r, "rate line out of place"), 0;
      if (!parse_numbers(r, rest, &c->rate[c->rates_seen++], 1)) return 0;
    } else if (keyword_is(line, "grad", &rest)) {
      if (c->grads_seen != c->params_seen || c->grads_seen >= c->steps)
        return parse_error(r, "grad line out of place"), 0;
      if (!parse_numbers(r, rest, c->grad + (size_t)c->grads_seen++ * c->n, c->n)) return 0;
    } else if (keyword_is(line, "hess", &rest)) {
      if (!c->hess) {
        c->hess = alloc_doubles((size_t)c->steps * c->n);
        c->has_hess = calloc((size_t)c->steps, 1);
        if (!c->has_hess) exit(2);
      }
      int k = c->grads_seen - 1;
      if (c->params_seen + 1 != c->grads_seen || c->has_hess[k])
        return parse_error(r, "hess line out of place (between a step's grad and param)"), 0;
      c->has_hess[k] = 1;
      if (!parse_numbers(r, rest, c->hess + (size_t)k * c->n, c->n)) return 0;
    } else if (keyword_is(line, "param", &rest)) {
      if (c->params_seen + 1 != c->grads_seen) return parse_error(r, "param without grad"), 0;
      if (!parse_numbers(r, rest, c->param + (size_t)c->params_seen++ * c->n, c->n)) return 0;
    } else if (keyword_is(line, "eval", &rest)) {
      c->eval = alloc_doubles(c->n);
      if (!parse_numbers(r, rest, c->eval, c->n)) return 0;
    } else {
      return parse_error(r, "unknown line in a case"), 0;
    }
  }
  if (!line) return parse_error(r, "case not closed by 'end'"), 0;
  size_t covered = 0;
  for (int i = 0; i < c->n_tensors; i++) {
    if (c->tensors[i].offset != covered) return parse_error(r, "tensors not contiguous"), 0;
    covered += c->tensors[i].size;
  }
  if (!c->n_specs || !c->lr[0] || !c->has_init || covered != c->n || c->params_seen != c->steps ||
      (c->rate && c->rates_seen != c->steps))
    return parse_error(r, "incomplete case (spec, lr, tensors, init, every step)"), 0;
  return 1;
}

/* ---- replaying an optimizer case ---------------------------------------- */

/* The objective: its gradient is whatever the fixture prescribes, and so is
   its Hessian, diagonal, on the steps that give one. */
typedef struct replay_impl {
  const double *grad; /* the current step's gradient, n values */
  const double *hess; /* the current step's Hessian diagonal, or NULL */
  int products;       /* Hessian-vector products asked this step */
} replay_impl;

static int replay_value_and_grad(descent_objective *obj, const descent_batch *batch, double *loss) {
  const replay_impl *impl = obj->impl;
  for (size_t i = 0; i < obj->n_params; i++) obj->grad[i] = (descent_real)impl->grad[i];
  *loss = 0;
  return DESCENT_OK;
}

static int replay_hvp(descent_objective *obj, const descent_batch *batch, const descent_real *v,
                      descent_real *out) {
  (void)batch;
  replay_impl *impl = obj->impl;
  impl->products++;
  if (!impl->hess) { /* the step fails, and its case with it */
    printf("      a Hessian product on a step where the fixture's estimator made no estimate\n");
    return DESCENT_EINVAL;
  }
  for (size_t i = 0; i < obj->n_params; i++) out[i] = (descent_real)impl->hess[i] * v[i];
  return DESCENT_OK;
}

static const descent_objective_ops replay_ops = {
    .kind = "replay", .value_and_grad = replay_value_and_grad, .hvp = replay_hvp};

typedef struct worst_error {
  double err; /* largest error seen */
  int step;   /* 1-based step where it was seen */
  size_t index;
  double got, want;
  int first_bad_step; /* first step over the limit, 0 if none */
} worst_error;

static void note_error(worst_error *w, double err, int step, size_t index, double got, double want,
                       double tol) {
  if (err > tol && !w->first_bad_step) w->first_bad_step = step;
  if (err > w->err || (isnan(err) && !isnan(w->err))) {
    w->err = err;
    w->step = step;
    w->index = index;
    w->got = got;
    w->want = want;
  }
}

static const char *tensor_of(const opt_case *c, size_t i, size_t *local) {
  for (int t = 0; t < c->n_tensors; t++)
    if (i >= c->tensors[t].offset && i < c->tensors[t].offset + c->tensors[t].size) {
      *local = i - c->tensors[t].offset;
      return c->tensors[t].name;
    }
  *local = i;
  return "?";
}

/* Compares descent's parameters with the fixture's after one step. */
static void compare_params(const opt_case *c, const descent_real *got, const double *want, int step,
                           worst_error *w) {
  for (int t = 0; t < c->n_tensors; t++) {
    const tensor_def *td = &c->tensors[t];
    double sum = 0;
    for (size_t i = 0; i < td->size; i++) sum += want[td->offset + i] * want[td->offset + i];
    double floor = fmax(sqrt(sum / (double)td->size), DBL_MIN);
    for (size_t i = td->offset; i < td->offset + td->size; i++) {
      double g = (double)got[i];
      double err = fabs(g - want[i]) / fmax(fabs(want[i]), floor);
      if (!isfinite(g)) err = INFINITY;
      note_error(w, err, step, i, g, want[i], c->tol);
    }
  }
}

/* Creates the optimizer from the first spec descent accepts (a case may list
   the same optimizer in several spellings); NULL, with every refusal in why,
   when it accepts none. */
static descent_optimizer *create_optimizer(const opt_case *c, char *why, size_t why_cap) {
  const char *lr = strcmp(c->lr, "-") == 0 ? NULL : c->lr;
  descent_optimizer *opt = NULL;
  size_t used = 0;
  why[0] = 0;
  for (int s = 0; s < c->n_specs; s++) {
    int rc = descent_optimizer_create(&opt, c->specs[s], lr, c->n);
    if (rc == DESCENT_OK) return opt;
    used += (size_t)snprintf(why + (used < why_cap ? used : why_cap),
                             used < why_cap ? why_cap - used : 0, "%s\"%s\": %s", s ? "; " : "",
                             c->specs[s], descent_last_error());
  }
  return NULL;
}

static void replay_opt_case(const char *file, const opt_case *c) {
  char why[2048];
  descent_optimizer *opt = create_optimizer(c, why, sizeof why);
  if (!opt) {
    printf("FAIL  %s %s: descent_optimizer_create refused it: %s\n", file, c->name, why);
    CHECK_MSG(0, "%s %s: optimizer not created", file, c->name);
    cases_failed++;
    return;
  }
  descent_real *params = malloc(c->n * sizeof *params), *grad = malloc(c->n * sizeof *grad);
  if (!params || !grad) exit(2);
  for (size_t i = 0; i < c->n; i++) params[i] = (descent_real)c->init[i];
  replay_impl impl = {0};
  /* The fixture's tensors are the optimizer's layout (optax's leaves). */
  descent_tensor_info layout[MAX_TENSORS];
  memset(layout, 0, sizeof layout);
  for (int t = 0; t < c->n_tensors; t++) {
    snprintf(layout[t].name, sizeof layout[t].name, "%s", c->tensors[t].name);
    layout[t].offset = c->tensors[t].offset;
    layout[t].size = c->tensors[t].size;
    layout[t].shape = c->tensors[t].shape;
  }
  CHECK_OK(descent_optimizer_set_tensors(opt, layout, (size_t)c->n_tensors));
  descent_objective obj = {.ops = &replay_ops,
                           .n_params = c->n,
                           .params = params,
                           .grad = grad,
                           .n_tensors = (size_t)c->n_tensors,
                           .tensors = layout,
                           .impl = &impl};
  worst_error w = {0}, wr = {0};
  int step_failed = 0;
  double top_rate = 0;
  for (int j = 0; c->rate && j < c->steps; j++) top_rate = fmax(top_rate, fabs(c->rate[j]));
  for (int k = 0; k < c->steps && !step_failed; k++) {
    if (c->rate) {
      double got = descent_optimizer_lr(opt), want = c->rate[k];
      note_error(&wr, fabs(got - want) / fmax(fabs(want), TINY_FRACTION * top_rate), k + 1, 0, got,
                 want, RATE_TOL);
    }
    impl.grad = c->grad + (size_t)k * c->n;
    impl.hess = c->has_hess && c->has_hess[k] ? c->hess + (size_t)k * c->n : NULL;
    impl.products = 0;
    double loss;
    int rc;
    if (descent_optimizer_is_method(opt)) {
      rc = descent_optimizer_step_closure(opt, &obj, NULL, NULL);
    } else {
      rc = descent_objective_value_and_grad(&obj, NULL, &loss);
      if (!rc) rc = descent_optimizer_step(opt, &obj);
    }
    if (!rc && impl.hess && impl.products != 1) {
      printf("FAIL  %s %s: step %d made %d Hessian products; the fixture's estimator made one "
             "estimate\n",
             file, c->name, k + 1, impl.products);
      step_failed = 1;
      break;
    }
    if (rc) {
      printf("FAIL  %s %s: step %d returned %d (%s): %s\n", file, c->name, k + 1, rc,
             descent_strerror(rc), descent_last_error());
      step_failed = 1;
      break;
    }
    compare_params(c, params, c->param + (size_t)k * c->n, k + 1, &w);
  }
  worst_error we = {0};
  int eval_checked = 0;
  if (c->eval && !step_failed) {
    int rc = descent_optimizer_eval(opt, &obj);
    if (rc) {
      printf("FAIL  %s %s: descent_optimizer_eval returned %d (%s): %s\n", file, c->name, rc,
             descent_strerror(rc), descent_last_error());
      step_failed = 1;
    } else {
      compare_params(c, params, c->eval, c->steps, &we);
      eval_checked = 1;
    }
  }
  int ok = !step_failed && !w.first_bad_step && !wr.first_bad_step && !we.first_bad_step;
  if (!step_failed) {
    size_t local;
    const char *tname = tensor_of(c, w.index, &local);
    if (w.err == 0)
      printf("%s  %s %s: worst param error 0 (limit %g): every value bit-identical",
             ok ? "PASS" : "FAIL", file, c->name, c->tol);
    else
      printf("%s  %s %s: worst param error %.3g (limit %g) at step %d, %s[%zu]: got %.17g, want "
             "%.17g",
             ok ? "PASS" : "FAIL", file, c->name, w.err, c->tol, w.step, tname, local, w.got,
             w.want);
    if (w.first_bad_step) printf("; first over the limit at step %d", w.first_bad_step);
    if (c->rate)
      printf("; worst rate error %.3g at step %d (got %.17g, want %.17g)", wr.err, wr.step, wr.got,
             wr.want);
    if (eval_checked) {
      tname = tensor_of(c, we.index, &local);
      if (we.err == 0)
        printf("; eval point x: bit-identical");
      else
        printf("; eval point x: worst error %.3g at %s[%zu]", we.err, tname, local);
    }
    printf("\n");
  }
  CHECK_MSG(ok, "%s %s: parity with PyTorch", file, c->name);
  ok ? cases_passed++ : cases_failed++;
  descent_optimizer_free(opt);
  free(params), free(grad);
}

/* ---- schedules ----------------------------------------------------------- */

#define MAX_AT 512

static void replay_schedule(const char *file, const char *name, const char *text, const int *t,
                            const double *want, const double *closed, int n_at, double drift) {
  descent_schedule *s = NULL;
  int rc = descent_schedule_parse(&s, text);
  if (rc) {
    printf("FAIL  %s %s: descent_schedule_parse(\"%s\") returned %d: %s\n", file, name, text, rc,
           descent_last_error());
    CHECK_MSG(0, "%s %s: schedule not parsed", file, name);
    cases_failed++;
    return;
  }
  /* With a closed-form column (torch drifted beyond the limit) descent is held
     to the closed form; its gap to torch is printed. */
  const double *ref = closed ? closed : want;
  double top = 0;
  for (int i = 0; i < n_at; i++) top = fmax(top, fabs(ref[i]));
  worst_error w = {0}, wt = {0};
  int bad = 0;
  for (int i = 0; i < n_at; i++) {
    double got = descent_schedule_value(s, t[i]);
    double err = fabs(got - ref[i]) / fmax(fabs(ref[i]), TINY_FRACTION * top);
    if (!isfinite(got) || isnan(err)) err = INFINITY;
    if (err > RATE_TOL) bad++;
    note_error(&w, err, t[i], 0, got, ref[i], RATE_TOL);
    if (closed)
      note_error(&wt, fabs(got - want[i]) / fmax(fabs(want[i]), TINY_FRACTION * top), t[i], 0, got,
                 want[i], INFINITY);
  }
  int ok = !bad;
  if (w.err == 0)
    printf("%s  %s %s: \"%s\": worst rate error 0 (limit %g): every value bit-identical",
           ok ? "PASS" : "FAIL", file, name, text, RATE_TOL);
  else
    printf("%s  %s %s: \"%s\": worst rate error %.3g (limit %g) at t=%d: got %.17g, want %.17g",
           ok ? "PASS" : "FAIL", file, name, text, w.err, RATE_TOL, w.step, w.got, w.want);
  if (bad) printf("; %d of %d values over the limit", bad, n_at);
  if (drift >= 0) printf("; torch drift %.3g", drift);
  if (closed) printf("; against the closed form (gap to torch %.3g)", wt.err);
  printf("\n");
  CHECK_MSG(ok, "%s %s: schedule parity", file, name);
  ok ? cases_passed++ : cases_failed++;
  descent_schedule_free(s);
}

/* Reads the body of a schedule case and checks it. */
static int read_schedule_case(reader *r, const char *file, const char *name) {
  static int t[MAX_AT];
  static double want[MAX_AT], closed[MAX_AT];
  char text[MAX_TEXT] = "";
  int n_at = 0, n_closed = 0;
  double drift = -1;
  char *line;
  const char *rest;
  while ((line = next_line(r))) {
    if (keyword_is(line, "end", &rest)) break;
    if (keyword_is(line, "source", &rest) || keyword_is(line, "formula", &rest)) continue;
    if (keyword_is(line, "text", &rest)) {
      snprintf(text, sizeof text, "%s", rest);
    } else if (keyword_is(line, "drift", &rest)) {
      drift = strtod(rest, NULL);
    } else if (keyword_is(line, "at", &rest)) {
      double v[3];
      char *end;
      if (n_at == MAX_AT) return parse_error(r, "too many 'at' lines"), 0;
      t[n_at] = (int)strtol(rest, &end, 10);
      int cols = sscanf(end, "%lf %lf", &v[0], &v[1]);
      if (cols < 1) return parse_error(r, "bad 'at' line"), 0;
      want[n_at] = v[0];
      if (cols == 2) closed[n_closed++] = v[1];
      n_at++;
    } else {
      return parse_error(r, "unknown line in a schedule"), 0;
    }
  }
  if (!line) return parse_error(r, "schedule not closed by 'end'"), 0;
  if (!text[0] || !n_at || (n_closed && n_closed != n_at))
    return parse_error(r, "incomplete schedule (text, at lines)"), 0;
  replay_schedule(file, name, text, t, want, n_closed ? closed : NULL, n_at, drift);
  return 1;
}

/* ---- files and the manifest ---------------------------------------------- */

/* Runs every case of one file; returns the number of cases found. */
static int run_file(const char *dir, const char *file, const char *kind) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  reader r = {.path = path, .f = fopen(path, "r")};
  if (!r.f) {
    CHECK_MSG(0, "fixture file %s cannot be opened: %s", path, strerror(errno));
    return -1;
  }
  int count = 0;
  char *line;
  const char *rest;
  while (!r.failed && (line = next_line(&r))) {
    char name[64];
    if (strcmp(kind, "schedules") != 0 && keyword_is(line, "case", &rest)) {
      opt_case c = {.tol = PARAM_TOL};
      snprintf(c.name, sizeof c.name, "%s", rest);
      if (read_opt_case(&r, &c)) replay_opt_case(file, &c);
      opt_case_free(&c);
      count++;
    } else if (strcmp(kind, "schedules") == 0 && keyword_is(line, "schedule", &rest)) {
      snprintf(name, sizeof name, "%s", rest);
      read_schedule_case(&r, file, name);
      count++;
    } else {
      parse_error(&r, "expected 'case' or 'schedule'");
    }
  }
  free(r.line);
  fclose(r.f);
  return r.failed ? -1 : count;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : DESCENT_FIXTURE_DIR;
  char path[1024];
  snprintf(path, sizeof path, "%s/MANIFEST", dir);
  FILE *manifest = fopen(path, "r");
  if (!manifest) {
    fprintf(stderr, "test_parity: cannot open %s: %s\n", path, strerror(errno));
    return 1;
  }
  printf("test_parity (%s build): fixtures in %s\n", BUILD, dir);
  char line[1024];
  int files = 0;
  while (fgets(line, sizeof line, manifest)) {
    char kind[32], file[256];
    int expected;
    if (line[0] == '#' || line[0] == '\n') continue;
    if (sscanf(line, "%31s %255s %d", kind, file, &expected) != 3 ||
        (strcmp(kind, "optim") && strcmp(kind, "chains") && strcmp(kind, "schedules"))) {
      CHECK_MSG(0, "%s: bad line: %s", path, line);
      continue;
    }
    int found = run_file(dir, file, kind);
    CHECK_MSG(found == expected, "%s: %d cases read, MANIFEST says %d", file, found, expected);
    files++;
  }
  fclose(manifest);
  CHECK_MSG(files > 0, "%s lists no fixture files", path);
  printf("%d passed, %d failed\n", cases_passed, cases_failed);
  return check_report();
}
