/*
 * test_lbfgs.c - the method interface and lbfgs against torch.optim.LBFGS.
 *
 *  - Parity (double build): tests/fixtures/lbfgs/lbfgs.txt, written by
 *    tools/fixtures/lbfgs_fixtures.py, holds torch's float64 runs on a
 *    quadratic, Rosenbrock and a logistic regression on
 *    200 Fashion-MNIST images, with and without strong_wolfe. Every step
 *    must take torch's number of evaluations and inner iterations, every
 *    evaluation point (written whole for the small problems; its loss for
 *    all) and the parameters after every step must agree to 1e-10
 *    (relative), and the loss each step returns too.
 *  - The same runs saved and loaded through the state blob after each step,
 *    into a fresh optimizer: the same bits as the uninterrupted run.
 *  - The interface: a method refused by descent_optimizer_step and
 *    _step_buffers with a message naming step_closure, refused inside a
 *    chain, its spec, canonical text and hyperparameters; a chain stepped
 *    through a closure equals evaluate-then-step; damaged blobs refused.
 * The float build runs everything but the parity (its iterates are float).
 */
#include "check.h"
#include "descent.h"

#include <stdlib.h>
#include <string.h>

#ifndef DESCENT_FIXTURE_DIR
#define DESCENT_FIXTURE_DIR "tests/fixtures/lbfgs"
#endif

#define TOL       1e-10
#define MAX_N     512
#define MAX_EVALS 4096

/* ---- the fixture's problems as objectives ------------------------------------- */

typedef enum { QUADRATIC, ROSENBROCK, LOGREG } problem_kind;

typedef struct problem {
  problem_kind kind;
  size_t n;
  double *a, *b;               /* quadratic */
  size_t m, features, classes; /* logreg */
  double lam, *x;
  int *labels;
} problem;

/* Every evaluation of a run: its loss and point. */
typedef struct recorder {
  size_t count;
  double loss[MAX_EVALS];
  double *points; /* MAX_EVALS x n */
} recorder;

typedef struct model {
  descent_objective obj;
  const problem *p;
  descent_real theta[MAX_N], grad[MAX_N];
  recorder *rec;
} model;

static double quadratic(const problem *p, const descent_real *x, descent_real *g) {
  double f = 0;
  for (size_t i = 0; i < p->n; i++) {
    double ax = 0;
    for (size_t j = 0; j < p->n; j++) ax += p->a[i * p->n + j] * x[j];
    f += 0.5 * x[i] * ax - p->b[i] * x[i];
    g[i] = (descent_real)(ax - p->b[i]);
  }
  return f;
}

/* The gradient's terms are added in the order torch's autograd adds them:
   for x_i, the term of (1 - x_i)^2, then that of -x_i^2 in r_i, then that
   of x_{i} in r_{i-1}. */
static double rosenbrock(const problem *p, const descent_real *x, descent_real *g) {
  double f = 0, previous = 0; /* 200 r_{i-1} */
  for (size_t i = 0; i < p->n; i++) {
    double own = 0;
    if (i + 1 < p->n) {
      double r = x[i + 1] - x[i] * x[i], s = 1 - x[i];
      f += 100 * (r * r) + s * s;
      own = -(2 * s) + (-(100 * (2 * r))) * (2 * x[i]);
      g[i] = (descent_real)(i > 0 ? own + previous : own);
      previous = 100 * (2 * r);
    } else {
      g[i] = (descent_real)previous;
    }
  }
  return f;
}

/* mean cross-entropy of softmax(x W' + b) + lam/2 |W|^2 */
static double logreg(const problem *p, const descent_real *theta, descent_real *g) {
  size_t c = p->classes, f = p->features;
  const descent_real *w = theta, *bias = theta + c * f;
  double loss = 0, reg = 0, gw[MAX_N] = {0};
  for (size_t i = 0; i < p->m; i++) {
    double z[16] = {0}, most = -INFINITY, sum = 0;
    const double *x = p->x + i * f;
    for (size_t k = 0; k < c; k++) {
      z[k] = bias[k];
      for (size_t j = 0; j < f; j++) z[k] += x[j] * w[k * f + j];
      most = fmax(most, z[k]);
    }
    for (size_t k = 0; k < c; k++) sum += exp(z[k] - most);
    double lse = most + log(sum);
    loss += lse - z[p->labels[i]];
    for (size_t k = 0; k < c; k++) {
      double d = (exp(z[k] - lse) - (k == (size_t)p->labels[i])) / (double)p->m;
      for (size_t j = 0; j < f; j++) gw[k * f + j] += d * x[j];
      gw[c * f + k] += d;
    }
  }
  for (size_t k = 0; k < c * f; k++) {
    reg += (double)w[k] * w[k];
    gw[k] += p->lam * w[k];
  }
  for (size_t k = 0; k < c * f + c; k++) g[k] = (descent_real)gw[k];
  return loss / (double)p->m + 0.5 * p->lam * reg;
}

static int model_value_and_grad(descent_objective *obj, const descent_batch *b, double *loss) {
  (void)b;
  model *md = obj->impl;
  const problem *p = md->p;
  *loss = p->kind == QUADRATIC    ? quadratic(p, md->theta, md->grad)
          : p->kind == ROSENBROCK ? rosenbrock(p, md->theta, md->grad)
                                  : logreg(p, md->theta, md->grad);
  recorder *r = md->rec;
  if (r && r->count < MAX_EVALS) {
    r->loss[r->count] = *loss;
    for (size_t i = 0; i < p->n; i++) r->points[r->count * p->n + i] = md->theta[i];
    r->count++;
  }
  return DESCENT_OK;
}

static const descent_objective_ops model_ops = {.kind = "test-lbfgs",
                                                .value_and_grad = model_value_and_grad};

static void model_init(model *md, const problem *p, const double *init, recorder *rec) {
  memset(md, 0, sizeof *md);
  md->obj = (descent_objective){
      .ops = &model_ops, .n_params = p->n, .params = md->theta, .grad = md->grad, .impl = md};
  md->p = p;
  md->rec = rec;
  for (size_t i = 0; i < p->n; i++) md->theta[i] = (descent_real)init[i];
}

/* ---- reading the fixture ------------------------------------------------------------ */

typedef struct step_ref {
  double loss;
  long evals, iters;
  double *eval_loss, *eval_point; /* evals entries; points only when n <= 16 */
  double *param;
} step_ref;

typedef struct case_ref {
  char name[64], spec[256];
  size_t n;
  int steps;
  double *init;
  step_ref *step;
} case_ref;

static char *next_line(FILE *f, char *buf, size_t cap) {
  while (fgets(buf, (int)cap, f))
    if (buf[0] != '#' && buf[0] != '\n') return buf;
  return NULL;
}

/* n numbers after the line's first word; 0 when the line has another count. */
static int read_numbers(const char *line, const char *word, double *out, size_t n) {
  size_t len = strlen(word);
  if (strncmp(line, word, len) != 0 || line[len] != ' ') return 0;
  const char *p = line + len;
  for (size_t i = 0; i < n; i++) {
    char *end;
    out[i] = strtod(p, &end);
    if (end == p) return 0;
    p = end;
  }
  while (*p == ' ' || *p == '\n') p++;
  return *p == '\0';
}

static double *numbers(const char *line, const char *word, size_t n) {
  double *v = calloc(n ? n : 1, sizeof *v);
  if (!read_numbers(line, word, v, n)) {
    fprintf(stderr, "fixture: bad '%s' line (%zu numbers expected)\n", word, n);
    free(v);
    return NULL;
  }
  return v;
}

static char big[1 << 20];

static int read_problem(FILE *f, const char *head, problem *p) {
  memset(p, 0, sizeof *p);
  unsigned n = 0;
  if (sscanf(head, "problem quadratic %u", &n) == 1) {
    p->kind = QUADRATIC, p->n = n;
    if (!next_line(f, big, sizeof big) || !(p->a = numbers(big, "matrix", n * n))) return 0;
    if (!next_line(f, big, sizeof big) || !(p->b = numbers(big, "vector", n))) return 0;
  } else if (sscanf(head, "problem rosenbrock %u", &n) == 1) {
    p->kind = ROSENBROCK, p->n = n;
  } else if (strncmp(head, "problem logreg", 14) == 0) {
    p->kind = LOGREG;
    if (!next_line(f, big, sizeof big) ||
        sscanf(big, "examples %zu %zu %zu %lf", &p->m, &p->features, &p->classes, &p->lam) != 4 ||
        p->classes > 16)
      return 0;
    p->n = p->classes * p->features + p->classes;
    if (!next_line(f, big, sizeof big) || !(p->x = numbers(big, "x", p->m * p->features))) return 0;
    for (size_t i = 0; i < p->m * p->features; i++) p->x[i] /= 4080.0;
    double *labels;
    if (!next_line(f, big, sizeof big) || !(labels = numbers(big, "labels", p->m))) return 0;
    p->labels = calloc(p->m, sizeof *p->labels);
    for (size_t i = 0; i < p->m; i++) p->labels[i] = (int)labels[i];
    free(labels);
  } else {
    return 0;
  }
  return next_line(f, big, sizeof big) && strncmp(big, "end", 3) == 0 && p->n <= MAX_N;
}

static int read_case(FILE *f, const char *head, case_ref *c) {
  memset(c, 0, sizeof *c);
  if (sscanf(head, "case %63s", c->name) != 1) return 0;
  if (!next_line(f, big, sizeof big) || strncmp(big, "spec ", 5) != 0) return 0;
  snprintf(c->spec, sizeof c->spec, "%.*s", (int)strcspn(big + 5, "\n"), big + 5);
  if (!next_line(f, big, sizeof big) || strncmp(big, "torch ", 6) != 0) return 0;
  if (!next_line(f, big, sizeof big) || sscanf(big, "n %zu", &c->n) != 1) return 0;
  if (!next_line(f, big, sizeof big) || sscanf(big, "steps %d", &c->steps) != 1) return 0;
  if (!next_line(f, big, sizeof big) || !(c->init = numbers(big, "init", c->n))) return 0;
  c->step = calloc((size_t)c->steps, sizeof *c->step);
  for (int k = 0; k < c->steps; k++) {
    step_ref *s = &c->step[k];
    if (!next_line(f, big, sizeof big) ||
        sscanf(big, "step %lf %ld %ld", &s->loss, &s->evals, &s->iters) != 3 || s->evals < 1)
      return 0;
    s->eval_loss = calloc((size_t)s->evals, sizeof *s->eval_loss);
    if (c->n <= 16) s->eval_point = calloc((size_t)s->evals * c->n, sizeof *s->eval_point);
    for (long e = 0; e < s->evals; e++) {
      if (!next_line(f, big, sizeof big)) return 0;
      double row[17];
      size_t count = c->n <= 16 ? c->n + 1 : 1;
      if (!read_numbers(big, "eval", row, count)) return 0;
      s->eval_loss[e] = row[0];
      if (s->eval_point) memcpy(s->eval_point + e * c->n, row + 1, c->n * sizeof *row);
    }
    if (!next_line(f, big, sizeof big) || !(s->param = numbers(big, "param", c->n))) return 0;
  }
  return next_line(f, big, sizeof big) && strncmp(big, "end", 3) == 0;
}

static void case_free(case_ref *c) {
  for (int k = 0; c->step && k < c->steps; k++) {
    free(c->step[k].eval_loss);
    free(c->step[k].eval_point);
    free(c->step[k].param);
  }
  free(c->step);
  free(c->init);
}

static void problem_free(problem *p) {
  free(p->a);
  free(p->b);
  free(p->x);
  free(p->labels);
}

/* ---- parity ---------------------------------------------------------------------------- */

#ifdef DESCENT_DOUBLE
/* max_i |got_i - want_i| / max_i |want_i| */
static double rel_error(const double *got, const double *want, size_t n) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < n; i++) {
    diff = fmax(diff, fabs(got[i] - want[i]));
    scale = fmax(scale, fabs(want[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

/* A loss is held to 1e-10 of itself, or of the case's first loss when it is
   far smaller (a loss near 0 carries the rounding of the terms it sums). */
static double loss_error(double got, double want, double first) {
  return fabs(got - want) / fmax(fabs(want), 1e-6 * fabs(first));
}

static void run_parity(const problem *p, const case_ref *c) {
  recorder *rec = calloc(1, sizeof *rec);
  rec->points = calloc(MAX_EVALS * p->n, sizeof *rec->points);
  model md;
  model_init(&md, p, c->init, rec);
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, c->spec, NULL, p->n));
  if (!opt) return;
  double worst_point = 0, worst_loss = 0, worst_param = 0;
  const double first = c->step[0].eval_loss[0];
  int counts_ok = 1;
  for (int k = 0; k < c->steps; k++) {
    const step_ref *s = &c->step[k];
    rec->count = 0;
    descent_step_info info;
    CHECK_OK(descent_optimizer_step_closure(opt, &md.obj, NULL, &info));
    CHECK_MSG(info.function_evals == s->evals && info.iterations == s->iters &&
                  (long)rec->count == s->evals && info.gradient_evals == s->evals,
              "%s step %d: %lld evaluations (closure ran %zu times), %lld iterations; torch: "
              "%ld, %ld",
              c->name, k + 1, (long long)info.function_evals, rec->count,
              (long long)info.iterations, s->evals, s->iters);
    counts_ok &= info.function_evals == s->evals && (long)rec->count == s->evals;
    worst_loss = fmax(worst_loss, loss_error(info.loss, s->loss, first));
    for (long e = 0; e < s->evals && e < (long)rec->count; e++) {
      worst_loss = fmax(worst_loss, loss_error(rec->loss[e], s->eval_loss[e], first));
      if (s->eval_point) {
        double got[16];
        for (size_t i = 0; i < p->n; i++) got[i] = rec->points[e * p->n + i];
        worst_point = fmax(worst_point, rel_error(got, s->eval_point + e * p->n, p->n));
      }
    }
    double got[MAX_N];
    for (size_t i = 0; i < p->n; i++) got[i] = md.theta[i];
    worst_param = fmax(worst_param, rel_error(got, s->param, p->n));
    if (!counts_ok) break;
  }
  printf("%-28s %d steps: iterates %.2g, evaluation points %.2g, losses %.2g (limit %g)\n", c->name,
         c->steps, worst_param, worst_point, worst_loss, TOL);
  CHECK_MSG(worst_param <= TOL && worst_point <= TOL && worst_loss <= TOL,
            "%s: relative errors: iterates %g, points %g, losses %g", c->name, worst_param,
            worst_point, worst_loss);
  descent_optimizer_free(opt);
  free(rec->points);
  free(rec);
}

#endif

/* The same run with the state saved after every step and loaded into a
   fresh optimizer (and the objective rebuilt from the saved parameters):
   the same bits as the run that never stopped. */
static void run_resumed(const problem *p, const case_ref *c) {
  model a, b;
  model_init(&a, p, c->init, NULL);
  model_init(&b, p, c->init, NULL);
  descent_optimizer *oa = NULL, *ob = NULL;
  CHECK_OK(descent_optimizer_create(&oa, c->spec, NULL, p->n));
  CHECK_OK(descent_optimizer_create(&ob, c->spec, NULL, p->n));
  if (!oa || !ob) return;
  int same = 1;
  int64_t evaluations = 0;
  for (int k = 0; k < c->steps && same; k++) {
    descent_step_info ia, ib;
    CHECK_OK(descent_optimizer_step_closure(oa, &a.obj, NULL, &ia));
    evaluations += ia.function_evals;
    CHECK_OK(descent_optimizer_step_closure(ob, &b.obj, NULL, &ib));
    size_t size = descent_optimizer_state_size(ob);
    unsigned char *blob = malloc(size);
    CHECK_OK(descent_optimizer_save_state(ob, blob, size));
    descent_optimizer_free(ob);
    ob = NULL;
    CHECK_OK(descent_optimizer_create(&ob, c->spec, NULL, p->n));
    CHECK_OK(descent_optimizer_load_state(ob, blob, size));
    free(blob);
    same = memcmp(a.theta, b.theta, p->n * sizeof *a.theta) == 0 &&
           ia.function_evals == ib.function_evals &&
           memcmp(&ia.last_loss, &ib.last_loss, sizeof ia.last_loss) == 0;
  }
  CHECK_MSG(same, "%s: saved and loaded after every step, the run differs", c->name);
  /* The count of evaluations travels in the state. */
  CHECK_MSG(descent_optimizer_evaluations(oa) == evaluations &&
                descent_optimizer_evaluations(ob) == evaluations,
            "%s: %lld and %lld evaluations counted, %lld made", c->name,
            (long long)descent_optimizer_evaluations(oa),
            (long long)descent_optimizer_evaluations(ob), (long long)evaluations);
  descent_optimizer_free(oa);
  descent_optimizer_free(ob);
}

static void test_fixtures(void) {
  const char *path = DESCENT_FIXTURE_DIR "/lbfgs.txt";
  FILE *f = fopen(path, "r");
  CHECK_MSG(f != NULL, "cannot open %s", path);
  if (!f) return;
  problem p = {0};
  int have_problem = 0, cases = 0, problems = 0;
  char head[256];
  while (next_line(f, big, sizeof big)) {
    snprintf(head, sizeof head, "%.200s", big);
    if (strncmp(head, "problem ", 8) == 0) {
      if (have_problem) problem_free(&p);
      have_problem = read_problem(f, head, &p);
      CHECK_MSG(have_problem, "%s: cannot read %s", path, head);
      if (!have_problem) break;
      problems++;
    } else if (strncmp(head, "case ", 5) == 0 && have_problem) {
      case_ref c;
      int ok = read_case(f, head, &c);
      CHECK_MSG(ok, "%s: cannot read %s", path, head);
      if (ok) {
#ifdef DESCENT_DOUBLE
        run_parity(&p, &c);
#endif
        run_resumed(&p, &c);
        cases++;
      }
      case_free(&c);
      if (!ok) break;
    } else {
      CHECK_MSG(0, "%s: unexpected line %s", path, head);
      break;
    }
  }
  if (have_problem) problem_free(&p);
  fclose(f);
  /* quadratic, rosenbrock, logreg; 10 cases with and without a line search */
  CHECK_MSG(problems == 3 && cases == 10, "%s: %d problems, %d cases; expected 3 and 10", path,
            problems, cases);
}

/* ---- the interface --------------------------------------------------------------------- */

static void test_spec(void) {
  descent_optimizer *opt = NULL;
  char text[512];
  CHECK_OK(descent_optimizer_create(&opt, "lbfgs", NULL, 3));
  descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strcmp(text, "lbfgs = lbfgs(max_iter=20, max_eval=25, tolerance_grad=1e-07, "
                         "tolerance_change=1e-09, history=100, line_search=none, full_batch=0) | "
                         "lr(lr=1)") == 0,
            "%s", text);
  CHECK(descent_optimizer_is_method(opt) == 1 && descent_optimizer_full_batch(opt) == 0);
  double v = 0;
  CHECK_OK(descent_optimizer_hyperparameter(opt, "lbfgs.max_eval", &v));
  CHECK(v == 25);
  CHECK_OK(descent_optimizer_hyperparameter(opt, "lr.lr", &v));
  CHECK(v == 1 && descent_optimizer_lr(opt) == 1);
  CHECK(descent_optimizer_hyperparameter_count(opt) == 9); /* 7 of lbfgs, lr's lr and warmup */
  descent_optimizer_free(opt);

  /* max_eval follows max_iter unless given; words; the rate three ways */
  CHECK_OK(
      descent_optimizer_create(&opt, "lbfgs(max_iter=10, line_search=strong_wolfe)", "0.5", 3));
  CHECK_OK(descent_optimizer_hyperparameter(opt, "lbfgs.max_eval", &v));
  CHECK(v == 12);
  CHECK_OK(descent_optimizer_hyperparameter(opt, "lbfgs.line_search", &v));
  CHECK(v == 1 && descent_optimizer_lr(opt) == 0.5);
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "lbfgs(lr=0.25, full_batch=1)", NULL, 3));
  CHECK(descent_optimizer_lr(opt) == 0.25 && descent_optimizer_full_batch(opt) == 1);
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "lbfgs(history=5) | lr(0.125)", NULL, 3));
  descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strstr(text, "history=5") && strstr(text, "| lr(lr=0.125)") &&
                strncmp(text, "lbfgs(", 6) == 0,
            "%s", text);
  descent_optimizer_free(opt);

  CHECK_FAILS(descent_optimizer_create(&opt, "clip(1) | lbfgs", NULL, 3), DESCENT_EINVAL,
              "'lbfgs' is a method");
  CHECK_FAILS(descent_optimizer_create(&opt, "lbfgs | adam", NULL, 3), DESCENT_EINVAL,
              "only lr(RATE) may follow");
  CHECK_FAILS(descent_optimizer_create(&opt, "lbfgs | lr(1) | lr(2)", NULL, 3), DESCENT_EINVAL,
              "takes no transforms");
  CHECK_FAILS(descent_optimizer_create(&opt, "lbfgs(line_search=armijo)", NULL, 3), DESCENT_EINVAL,
              "valid values are none, strong_wolfe");
  CHECK_FAILS(descent_optimizer_create(&opt, "lbfgs(lr=1)", "0.5", 3), DESCENT_EINVAL,
              "given twice");
  CHECK_FAILS(descent_optimizer_create(&opt, "lbfgs(lr=1) | lr(2)", NULL, 3), DESCENT_EINVAL,
              "given twice");
  CHECK_FAILS(descent_optimizer_create(&opt, "lbfgs(history=0)", NULL, 3), DESCENT_EINVAL,
              "history");
  CHECK_FAILS(descent_optimizer_create(&opt, "lbfgs(max_iter=2.5)", NULL, 3), DESCENT_EINVAL,
              "max_iter");
  CHECK_FAILS(descent_optimizer_create(&opt, "lbfgs(20)", NULL, 3), DESCENT_EINVAL,
              "name its arguments");
  CHECK(opt == NULL);
}

static problem quad2 = {.kind = ROSENBROCK, .n = 2};

static void test_refusals(void) {
  double init[2] = {-1.5, 2};
  model md;
  model_init(&md, &quad2, init, NULL);
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "lbfgs(line_search=strong_wolfe)", NULL, 2));
  CHECK_FAILS(descent_optimizer_step(opt, &md.obj), DESCENT_EINVAL,
              "descent_optimizer_step_closure");
  CHECK_FAILS(descent_optimizer_step_buffers(opt, md.theta, md.grad, 2), DESCENT_EINVAL,
              "lbfgs is a method");
  CHECK(descent_optimizer_steps(opt) == 0 && md.theta[0] == (descent_real)-1.5);
  CHECK_FAILS(descent_optimizer_step_with(opt, &md.obj, NULL, NULL), DESCENT_EINVAL, "NULL");
  descent_closure none = {0};
  CHECK_FAILS(descent_optimizer_step_with(opt, &md.obj, &none, NULL), DESCENT_EINVAL, "evaluate");
  CHECK_OK(descent_optimizer_eval(opt, &md.obj));
  CHECK_FAILS(descent_optimizer_step_closure(opt, &md.obj, NULL, NULL), DESCENT_EINVAL,
              "evaluation mode");
  CHECK_OK(descent_optimizer_train(opt, &md.obj));
  descent_optimizer *small = NULL;
  CHECK_OK(descent_optimizer_create(&small, "lbfgs", NULL, 1));
  CHECK_FAILS(descent_optimizer_step_closure(small, &md.obj, NULL, NULL), DESCENT_ESHAPE,
              "built for 1 parameters");
  descent_optimizer_free(small);

  /* Two steps, then the blob: damaged, for another optimizer, truncated. */
  CHECK_OK(descent_optimizer_step_closure(opt, &md.obj, NULL, NULL));
  CHECK_OK(descent_optimizer_step_closure(opt, &md.obj, NULL, NULL));
  CHECK(descent_optimizer_steps(opt) == 2);
  size_t size = descent_optimizer_state_size(opt);
  unsigned char *blob = malloc(size);
  CHECK_OK(descent_optimizer_save_state(opt, blob, size));
  CHECK(size > 60 && blob[8] == 2); /* version 2: a method's state */
  descent_optimizer *other = NULL;
  CHECK_OK(descent_optimizer_create(&other, "lbfgs", NULL, 2));
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EINVAL, "another optimizer");
  descent_optimizer_free(other);
  CHECK_OK(descent_optimizer_create(&other, "adam", "0.1", 2));
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EINVAL, "another optimizer");
  descent_optimizer_free(other);
  CHECK_OK(descent_optimizer_create(&other, "lbfgs(line_search=strong_wolfe)", NULL, 2));
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size - 9), DESCENT_EFORMAT, "truncated");
  blob[size - 20] ^= 1;
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EFORMAT, "checksum");
  blob[size - 20] ^= 1;
  CHECK(descent_optimizer_steps(other) == 0);
  CHECK_OK(descent_optimizer_load_state(other, blob, size));
  CHECK(descent_optimizer_steps(other) == 2);
  /* A chain's blob is still version 1. */
  descent_optimizer *sgd = NULL;
  CHECK_OK(descent_optimizer_create(&sgd, "sgd", "0.1", 2));
  unsigned char chain_blob[4096];
  CHECK_OK(descent_optimizer_save_state(sgd, chain_blob, sizeof chain_blob));
  CHECK(chain_blob[8] == 1);
  descent_optimizer_free(sgd);
  descent_optimizer_free(other);
  free(blob);
  descent_optimizer_free(opt);
}

/* A chain through a closure: one evaluation, then the chain's step, the same
   bits as evaluating and stepping by hand. */
static void test_chain_closure(void) {
  double init[2] = {-1.5, 2};
  model a, b;
  model_init(&a, &quad2, init, NULL);
  model_init(&b, &quad2, init, NULL);
  descent_optimizer *oa = NULL, *ob = NULL;
  CHECK_OK(descent_optimizer_create(&oa, "adam", "0.01", 2));
  CHECK_OK(descent_optimizer_create(&ob, "adam", "0.01", 2));
  CHECK(descent_optimizer_is_method(oa) == 0);
  for (int k = 0; k < 5; k++) {
    descent_step_info info;
    double loss;
    CHECK_OK(descent_optimizer_step_closure(oa, &a.obj, NULL, &info));
    CHECK_OK(descent_objective_value_and_grad(&b.obj, NULL, &loss));
    CHECK_OK(descent_optimizer_step(ob, &b.obj));
    CHECK(info.function_evals == 1 && info.iterations == 1 && info.loss == loss);
  }
  CHECK(memcmp(a.theta, b.theta, sizeof a.theta) == 0);
  CHECK(descent_optimizer_evaluations(oa) == 5 && descent_optimizer_steps(oa) == 5);
  descent_optimizer_free(oa);
  descent_optimizer_free(ob);
}

/* The first evaluation given by the caller (as the trainer gives it): the
   step does not make it again, counts it, and goes where a step that made
   it goes. */
static int evaluate_model(void *user, descent_objective *obj, double *loss) {
  (void)user;
  return descent_objective_value_and_grad(obj, NULL, loss);
}

static void test_given_first(void) {
  double init[2] = {-1.5, 2};
  model a, b;
  recorder *rec = calloc(1, sizeof *rec);
  rec->points = calloc(MAX_EVALS * 2, sizeof *rec->points);
  model_init(&a, &quad2, init, NULL);
  model_init(&b, &quad2, init, rec);
  descent_optimizer *oa = NULL, *ob = NULL;
  CHECK_OK(descent_optimizer_create(&oa, "lbfgs(line_search=strong_wolfe)", NULL, 2));
  CHECK_OK(descent_optimizer_create(&ob, "lbfgs(line_search=strong_wolfe)", NULL, 2));
  for (int k = 0; k < 3; k++) {
    descent_step_info ia, ib;
    CHECK_OK(descent_optimizer_step_closure(oa, &a.obj, NULL, &ia));
    double loss;
    rec->count = 0;
    CHECK_OK(descent_objective_value_and_grad(&b.obj, NULL, &loss));
    descent_closure given = {.evaluate = evaluate_model, .evaluated = 1, .loss = loss};
    CHECK_OK(descent_optimizer_step_with(ob, &b.obj, &given, &ib));
    CHECK(ia.function_evals == ib.function_evals && ib.function_evals == (int64_t)rec->count &&
          ia.loss == ib.loss);
  }
  CHECK(memcmp(a.theta, b.theta, sizeof a.theta) == 0);
  descent_optimizer_free(oa);
  descent_optimizer_free(ob);
  free(rec->points);
  free(rec);
}

/* A step through descent_optimizer_step_closure sees one function: its
   later evaluations replay the first one's dropout masks (the objective's
   re-evaluation), so the line search and the curvature pairs are those of
   one function. Afterwards, re-evaluating at the starting point gives the
   step's first loss again; had a later evaluation drawn new masks, the
   re-evaluation would replay those instead. Also: the step's products
   count (0 for lbfgs). */
static void test_one_function_per_step(void) {
  descent_shape in = {1, {8}};
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "dense(16), relu, dropout(0.5), dense(3)", &in,
                              DESCENT_LOSS_SOFTMAX_XENT, 10, 5));
  descent_objective *obj = descent_net_objective(net);
  descent_real x[10 * 8];
  int32_t labels[10];
  for (int i = 0; i < 80; i++) x[i] = (descent_real)((i * 37 % 17) - 8) / 8;
  for (int i = 0; i < 10; i++) labels[i] = i % 3;
  descent_batch batch = {.n = 10, .x = x, .labels = labels};
  descent_real *start = malloc(obj->n_params * sizeof *start);
  memcpy(start, obj->params, obj->n_params * sizeof *start);
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "lbfgs(max_iter=4, line_search=strong_wolfe)", NULL,
                                    obj->n_params));
  descent_step_info info;
  CHECK_OK(descent_optimizer_step_closure(opt, obj, &batch, &info));
  CHECK(info.function_evals >= 3);
  CHECK(memcmp(start, obj->params, obj->n_params * sizeof *start) != 0);
  memcpy(obj->params, start, obj->n_params * sizeof *start);
  double again;
  CHECK_OK(descent_objective_reevaluate(obj, &batch, &again, NULL));
  CHECK(again == info.loss);
  CHECK(descent_optimizer_products(opt) == 0);
  descent_optimizer_free(opt);
  free(start);
  descent_net_free(net);
}

int main(void) {
  test_one_function_per_step();
  test_spec();
  test_refusals();
  test_chain_closure();
  test_given_first();
  test_fixtures();
  return check_report();
}
