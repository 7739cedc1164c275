/*
 * problem.c - the lecture's synthetic problems as objectives: the registry of
 * families, the text that creates them, and what every problem shares (its
 * objective operations, its info, which minimum a point is in).
 *
 * Each family lives in its own file and only computes f and its gradient in
 * double; this file wraps that into a descent_objective, so the optimizers and
 * the run loop see a problem exactly as they see a network.
 */
#include "problem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const problem_family *const families[] = {
    &problem_quad1d,  &problem_logcosh,    &problem_nonconvex1d, &problem_quad2d,
    &problem_quadnd,  &problem_linreg,     &problem_finite_sum,  &problem_saddle,
    &problem_plateau, &problem_rosenbrock, &problem_beale,       &problem_quadratic_deep,
};
enum { N_FAMILIES = sizeof families / sizeof families[0] };

static void problem_destroy(descent_objective *obj);

/* Both operations go through one function: the family's eval in double, then
   the gradient converted to descent_real. */
static int check_problem_batch(const problem *p, const descent_batch *batch) {
  if (batch && batch->indices && p->info.n_terms == 0)
    return descent_fail(DESCENT_EINVAL, "%s is not a finite sum: its batches cannot pick terms",
                        p->info.family);
  if (batch && batch->indices)
    for (size_t i = 0; i < batch->n; i++)
      if (batch->indices[i] >= p->info.n_terms)
        return descent_fail(DESCENT_EINVAL, "%s: term index %zu is out of range [0, %zu)",
                            p->info.family, batch->indices[i], p->info.n_terms);
  return DESCENT_OK;
}

/* The gradient goes to grad (NULL: none). */
static int problem_run(descent_objective *obj, const descent_batch *batch, double *loss,
                       descent_real *grad) {
  problem *p = obj->impl;
  size_t n = p->info.dim;
  int rc = check_problem_batch(p, batch);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) p->theta[i] = obj->params[i];
  rc = p->eval(p, batch, p->theta, loss, grad ? p->grad : NULL);
  if (rc) return rc;
  if (grad)
    for (size_t i = 0; i < n; i++) grad[i] = (descent_real)p->grad[i];
  return DESCENT_OK;
}

static int problem_value_and_grad(descent_objective *obj, const descent_batch *batch,
                                  double *loss) {
  return problem_run(obj, batch, loss, obj->grad);
}

/* A problem has no randomness: a re-evaluation is an evaluation whose
   gradient goes where the caller says, obj->grad untouched. */
static int problem_reevaluate(descent_objective *obj, const descent_batch *batch, double *loss,
                              descent_real *grad) {
  return problem_run(obj, batch, loss, grad);
}

static int problem_value(descent_objective *obj, const descent_batch *batch, double *loss) {
  return problem_run(obj, batch, loss, NULL);
}

/* The curvature products, analytic: the family's product in double at the
   current parameters (a problem has no randomness, so every evaluation is
   already a deterministic re-evaluation). */
static int problem_product(descent_objective *obj, const descent_batch *batch,
                           const descent_real *v, descent_real *out, int ggn) {
  problem *p = obj->impl;
  problem_product_fn fn = ggn ? p->ggn : p->hvp;
  if (!fn)
    return descent_fail(DESCENT_ENOTSUP,
                        "%s is not a sum of squares: it has no Gauss-Newton matrix; use its "
                        "Hessian-vector product (hvp)",
                        p->info.family);
  int rc = check_problem_batch(p, batch);
  if (rc) return rc;
  size_t n = p->info.dim;
  for (size_t i = 0; i < n; i++) p->theta[i] = obj->params[i];
  fn(p, batch, p->theta, v, p->grad);
  for (size_t i = 0; i < n; i++) out[i] = (descent_real)p->grad[i];
  return DESCENT_OK;
}

static int problem_hvp(descent_objective *obj, const descent_batch *batch, const descent_real *v,
                       descent_real *out) {
  return problem_product(obj, batch, v, out, 0);
}

static int problem_ggnvp(descent_objective *obj, const descent_batch *batch, const descent_real *v,
                         descent_real *out) {
  return problem_product(obj, batch, v, out, 1);
}

/* The diagonal of G from products, in double: exact, column by column
   (the problems are small); or Hutchinson's estimate, the mean of
   z (G z) over Rademacher vectors z, unbiased since E[z z^T] = I, its
   error falling as 1/sqrt(samples). */
static int problem_ggn_diagonal(descent_objective *obj, const descent_batch *batch, size_t samples,
                                uint64_t seed, descent_real *out) {
  problem *p = obj->impl;
  if (!p->ggn) return problem_product(obj, batch, NULL, NULL, 1); /* its refusal */
  int rc = check_problem_batch(p, batch);
  if (rc) return rc;
  size_t n = p->info.dim;
  descent_real *z = descent_calloc(n, sizeof *z, "Gauss-Newton diagonal");
  double *sum = descent_calloc(n, sizeof *sum, "Gauss-Newton diagonal");
  if (!z || !sum) {
    free(z), free(sum);
    return DESCENT_ENOMEM;
  }
  for (size_t i = 0; i < n; i++) p->theta[i] = obj->params[i];
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  size_t passes = samples ? samples : n;
  for (size_t s = 0; s < passes; s++) {
    for (size_t i = 0; i < n; i++)
      z[i] = samples ? (descent_rng_next(&rng) >> 63 ? 1 : -1) : (descent_real)(i == s);
    p->ggn(p, batch, p->theta, z, p->grad);
    if (!samples)
      sum[s] = p->grad[s];
    else
      for (size_t i = 0; i < n; i++) sum[i] += (double)z[i] * p->grad[i];
  }
  for (size_t i = 0; i < n; i++)
    out[i] = (descent_real)(samples ? sum[i] / (double)samples : sum[i]);
  free(z), free(sum);
  return DESCENT_OK;
}

/* Per-example gradients, for the families that are finite sums. */
static int problem_refuses_examples(const problem *p) {
  return descent_fail(DESCENT_ENOTSUP,
                      "%s is not a sum over examples: it has no per-example gradients; use "
                      "linreg, finite_sum or quadratic_deep",
                      p->info.family);
}

static int problem_example_gradients(descent_objective *obj, const descent_batch *batch,
                                     const descent_real *v, double *sq, double *dot) {
  problem *p = obj->impl;
  if (!p->examples) return problem_refuses_examples(p);
  if (!sq || (v && !dot))
    return descent_fail(DESCENT_EINVAL,
                        "%s: per-example gradients: sq is NULL%s; pass arrays of one value per "
                        "term of the batch",
                        p->info.family, v && !dot ? " or dot is NULL with a direction v" : "");
  int rc = check_problem_batch(p, batch);
  if (rc) return rc;
  size_t n = p->info.dim;
  for (size_t i = 0; i < n; i++) p->theta[i] = obj->params[i];
  p->examples(p, batch, p->theta, v, sq, dot);
  return DESCENT_OK;
}

int problem_check_example_gradients(const descent_objective *obj) {
  if (!descent_problem_info_get(obj)) return DESCENT_OK;
  const problem *p = obj->impl;
  return p->examples ? DESCENT_OK : problem_refuses_examples(p);
}

static const descent_objective_ops problem_ops = {
    .kind = "problem",
    .value_and_grad = problem_value_and_grad,
    .value = problem_value,
    .destroy = problem_destroy,
    .reevaluate = problem_reevaluate,
    .hvp = problem_hvp,
    .ggnvp = problem_ggnvp,
    .ggn_diagonal = problem_ggn_diagonal,
    .example_gradients = problem_example_gradients,
};

static void problem_destroy(descent_objective *obj) {
  problem *p = obj->impl;
  descent_free_real(obj->params);
  descent_free_real(obj->grad);
  free(obj->tensors);
  free(p->theta);
  free(p->data);
  free(p);
}

void descent_objective_free(descent_objective *obj) {
  if (obj && obj->ops && obj->ops->destroy) obj->ops->destroy(obj);
}

static void family_names(char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < N_FAMILIES && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", families[i]->name);
}

/* "quad2d(kappa=100, angle=30, curvature=1)": every parameter, in order. */
static void canonical_spec(problem *p, const problem_family *fam, const char **texts) {
  size_t used = (size_t)snprintf(p->spec, sizeof p->spec, "%s", fam->name);
  for (int i = 0; i < fam->n_params && used < sizeof p->spec; i++) {
    const char *sep = i ? ", " : "(";
    if (fam->params[i].kind == SPEC_TEXT)
      used += (size_t)snprintf(p->spec + used, sizeof p->spec - used, "%s%s=%s", sep,
                               fam->params[i].name, texts[i]);
    else
      used += (size_t)snprintf(p->spec + used, sizeof p->spec - used, "%s%s=%.10g", sep,
                               fam->params[i].name, p->hp[i]);
  }
  if (fam->n_params && used < sizeof p->spec) snprintf(p->spec + used, sizeof p->spec - used, ")");
}

int descent_problem_create(descent_objective **out, const char *spec) {
  descent_error_clear();
  *out = NULL;
  if (!spec || !*spec) return descent_fail(DESCENT_EINVAL, "empty problem; try quad2d");
  spec_call call;
  int rc = spec_parse_call((spec_span){spec, strlen(spec)}, &call, "problem");
  if (rc) return rc;
  const problem_family *fam = NULL;
  for (int i = 0; i < N_FAMILIES; i++)
    if (strcmp(families[i]->name, call.name) == 0) fam = families[i];
  if (!fam) {
    char names[256];
    family_names(names, sizeof names);
    return descent_fail(DESCENT_EINVAL, "unknown problem '%s'; valid problems: %s", call.name,
                        names);
  }
  double hp[SPEC_MAX_ARGS];
  const char *texts[SPEC_MAX_ARGS];
  rc = spec_bind(&call, fam->params, fam->n_params, hp, texts, "problem");
  if (rc) return rc;
  for (int i = 0; i < fam->n_params; i++)
    if (fam->params[i].kind == SPEC_TEXT && !texts[i]) texts[i] = fam->text_default;
  size_t dim = fam->dim(hp);
  problem *p = descent_calloc(1, sizeof *p, "problem");
  if (!p) return DESCENT_ENOMEM;
  memcpy(p->hp, hp, sizeof hp);
  p->obj.ops = &problem_ops;
  p->obj.impl = p;
  p->obj.n_params = dim;
  p->obj.n_tensors = 1;
  p->obj.params = descent_alloc_real(dim, "problem parameters");
  p->obj.grad = descent_alloc_real(dim, "problem gradient");
  p->obj.tensors = descent_calloc(1, sizeof *p->obj.tensors, "problem tensors");
  /* theta, grad, minimizer and start in one block of 4 dim doubles */
  p->theta = descent_calloc(4 * dim, sizeof *p->theta, "problem scratch");
  if (!p->obj.params || !p->obj.grad || !p->obj.tensors || !p->theta) {
    problem_destroy(&p->obj);
    return DESCENT_ENOMEM;
  }
  p->grad = p->theta + dim;
  p->minimizer = p->theta + 2 * dim;
  p->start = p->theta + 3 * dim;
  p->obj.tensors[0] = (descent_tensor_info){
      .name = "theta", .offset = 0, .size = dim, .shape = {.ndim = 1, .dims = {dim}}};
  descent_problem_info *info = &p->info;
  info->family = fam->name;
  info->spec = p->spec;
  info->dim = dim;
  info->bounded = 1;
  info->minimizer = p->minimizer;
  info->minima = p->minimizer;
  info->minima_f = p->minima_f;
  info->n_minima = 1;
  info->escape_value = NAN;
  info->start = p->start;
  canonical_spec(p, fam, texts);
  rc = fam->setup(p, hp, texts);
  if (rc) {
    problem_destroy(&p->obj);
    return rc;
  }
  for (size_t i = 0; i < dim; i++) p->obj.params[i] = (descent_real)p->start[i];
  *out = &p->obj;
  return DESCENT_OK;
}

const descent_problem_info *descent_problem_info_get(const descent_objective *obj) {
  if (!obj || obj->ops != &problem_ops) return NULL;
  return &((const problem *)obj->impl)->info;
}

int descent_problem_which_minimum(const descent_objective *obj, const double *theta, double tol) {
  const descent_problem_info *info = descent_problem_info_get(obj);
  if (!info || !theta) return -1;
  int best = -1;
  double best_dist = tol;
  for (size_t m = 0; m < info->n_minima; m++) {
    double d2 = 0;
    for (size_t i = 0; i < info->dim; i++) {
      double d = theta[i] - info->minima[m * info->dim + i];
      d2 += d * d;
    }
    if (sqrt(d2) <= best_dist) {
      best_dist = sqrt(d2);
      best = (int)m;
    }
  }
  return best;
}

void descent_problem_help(FILE *out) {
  for (int i = 0; i < N_FAMILIES; i++) {
    const problem_family *fam = families[i];
    fprintf(out, "  %-12s %s\n", fam->name, fam->formula);
    for (int j = 0; j < fam->n_params; j++) {
      const spec_param *prm = &fam->params[j];
      char range[64];
      if (prm->kind == SPEC_TEXT) {
        fprintf(out, "      %-12s %s; default %s\n", prm->name, prm->doc, fam->text_default);
        continue;
      }
      spec_range_text(prm, range, sizeof range);
      fprintf(out, "      %-12s %s; default %g; range %s\n", prm->name, prm->doc, prm->def, range);
    }
  }
}

/* ---- helpers for the families --------------------------------------------- */

int problem_find_minima_1d(problem *p, double lo, double hi) {
  enum { SCAN = 4000 };
  double g_prev, g, f, x_prev = lo;
  p->eval(p, NULL, &x_prev, &f, &g_prev);
  int count = 0;
  for (int k = 1; k <= SCAN; k++) {
    double x = lo + (hi - lo) * k / SCAN;
    p->eval(p, NULL, &x, &f, &g);
    if (g_prev < 0 && g >= 0) {
      if (count == PROBLEM_MAX_MINIMA)
        return descent_fail(DESCENT_ERANGE, "%s: more than %d local minima", p->info.family,
                            PROBLEM_MAX_MINIMA);
      double a = x_prev, b = x;
      for (int it = 0; it < 200 && b - a > 1e-15 * (1 + fabs(a)); it++) {
        double mid = 0.5 * (a + b), gm;
        p->eval(p, NULL, &mid, &f, &gm);
        if (gm < 0)
          a = mid;
        else
          b = mid;
      }
      double g_min;
      p->minima[count] = 0.5 * (a + b);
      p->eval(p, NULL, &p->minima[count], &p->minima_f[count], &g_min);
      count++;
    }
    g_prev = g;
    x_prev = x;
  }
  p->info.n_minima = (size_t)count;
  p->info.minima = p->minima;
  return DESCENT_OK;
}

void problem_symmetric_eigenvalues(double *a, size_t n, double *eigenvalues) {
  for (int sweep = 0; sweep < 100; sweep++) {
    double off = 0;
    for (size_t i = 0; i < n; i++)
      for (size_t j = i + 1; j < n; j++) off += a[i * n + j] * a[i * n + j];
    if (off < 1e-30) break;
    for (size_t p = 0; p < n; p++)
      for (size_t q = p + 1; q < n; q++) {
        double apq = a[p * n + q];
        if (fabs(apq) < 1e-300) continue;
        /* The rotation that zeroes a[p][q] (Golub and Van Loan, 8.4). */
        double theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
        double c = 1 / sqrt(t * t + 1), s = t * c;
        for (size_t k = 0; k < n; k++) {
          double akp = a[k * n + p], akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (size_t k = 0; k < n; k++) {
          double apk = a[p * n + k], aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
      }
  }
  for (size_t i = 0; i < n; i++) eigenvalues[i] = a[i * n + i];
  /* insertion sort: n is small */
  for (size_t i = 1; i < n; i++)
    for (size_t j = i; j > 0 && eigenvalues[j - 1] > eigenvalues[j]; j--) {
      double tmp = eigenvalues[j];
      eigenvalues[j] = eigenvalues[j - 1];
      eigenvalues[j - 1] = tmp;
    }
}
