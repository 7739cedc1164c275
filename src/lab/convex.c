/*
 * convex.c - the generalization demo's two linear least-squares parts.
 *
 * On a strictly convex model every optimizer that converges finds the same
 * minimizer, so they must tie: multinomial ridge regression on Fashion-MNIST
 * (one-hot targets, an L2 term), whose minimizer is the solution of the
 * normal equations, computed here by Cholesky and compared with what each
 * optimizer reaches.
 *
 * Without the L2 term and with more features than examples the minimizers
 * form a subspace and the optimizer picks one: Wilson et al. 2017 ("The
 * Marginal Value of Adaptive Gradient Methods in Machine Learning", section
 * 3.3) build a binary problem where gradient descent (and momentum) from
 * zero converges to the minimum-norm solution X^T (X X^T)^-1 y, which
 * classifies new points correctly, while AdaGrad, RMSprop and Adam converge
 * to sign(X^T y) / 4, which labels every new point positive.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the objective: 1/(2n) sum_i |W^T x_i - t_i|^2 + l2/2 |W|^2 ----------- */

/* With more examples than features the objective is evaluated through its
   Gram form, 1/2 tr(W^T A W) - tr(W^T B) + c/2 + l2/2 |W|^2 with
   A = X^T X / n, B = X^T T / n, c = |T|^2 / n: the same function at d^2 k
   operations a step instead of n d k. */
typedef struct lsq {
  size_t n, d, k;   /* examples, features, outputs */
  const double *x;  /* n x d */
  const double *t;  /* n x k */
  double l2;        /* the L2 term's factor */
  double *r;        /* n x k residuals (work), or NULL in the Gram form */
  double *a, *b, c; /* the Gram form, or NULL */
} lsq;

static void lsq_direct(lsq *p, const descent_real *w, descent_real *grad, double *loss) {
  double f = 0;
  for (size_t i = 0; i < p->n; i++)
    for (size_t c = 0; c < p->k; c++) {
      double s = -p->t[i * p->k + c];
      for (size_t j = 0; j < p->d; j++) s += p->x[i * p->d + j] * (double)w[j * p->k + c];
      p->r[i * p->k + c] = s;
      f += s * s;
    }
  *loss = f / (2.0 * (double)p->n);
  for (size_t j = 0; j < p->d; j++)
    for (size_t c = 0; c < p->k; c++) {
      double g = 0;
      for (size_t i = 0; i < p->n; i++) g += p->x[i * p->d + j] * p->r[i * p->k + c];
      grad[j * p->k + c] = (descent_real)(g / (double)p->n);
    }
}

static void lsq_gram(lsq *p, const descent_real *w, descent_real *grad, double *loss) {
  double f = p->c / 2;
  for (size_t j = 0; j < p->d; j++)
    for (size_t c = 0; c < p->k; c++) {
      double g = -p->b[j * p->k + c];
      for (size_t q = 0; q < p->d; q++) g += p->a[j * p->d + q] * (double)w[q * p->k + c];
      grad[j * p->k + c] = (descent_real)g;
      /* (A w - b) w / 2 - b w / 2 = w A w / 2 - b w */
      f += 0.5 * (g - p->b[j * p->k + c]) * (double)w[j * p->k + c];
    }
  *loss = f;
}

static int lsq_value_and_grad(descent_objective *obj, const descent_batch *batch, double *loss) {
  (void)batch; /* always the whole sum: the runs here are full-batch */
  lsq *p = obj->impl;
  if (p->a)
    lsq_gram(p, obj->params, obj->grad, loss);
  else
    lsq_direct(p, obj->params, obj->grad, loss);
  for (size_t j = 0; j < obj->n_params; j++) {
    double w = (double)obj->params[j];
    obj->grad[j] = (descent_real)((double)obj->grad[j] + p->l2 * w);
    *loss += 0.5 * p->l2 * w * w;
  }
  return DESCENT_OK;
}

static int lsq_gram_init(lsq *p) {
  p->a = calloc(p->d * p->d, sizeof *p->a);
  p->b = calloc(p->d * p->k, sizeof *p->b);
  if (!p->a || !p->b) return descent_fail(DESCENT_ENOMEM, "least squares: out of memory");
  double inv = 1 / (double)p->n;
  for (size_t i = 0; i < p->n; i++) {
    const double *x = p->x + i * p->d, *t = p->t + i * p->k;
    for (size_t j = 0; j < p->d; j++) {
      for (size_t q = 0; q < p->d; q++) p->a[j * p->d + q] += inv * x[j] * x[q];
      for (size_t c = 0; c < p->k; c++) p->b[j * p->k + c] += inv * x[j] * t[c];
    }
    for (size_t c = 0; c < p->k; c++) p->c += inv * t[c] * t[c];
  }
  return DESCENT_OK;
}

static const descent_objective_ops lsq_ops = {.kind = "lab-least-squares",
                                              .value_and_grad = lsq_value_and_grad};

typedef struct lsq_objective {
  descent_objective obj;
  lsq p;
} lsq_objective;

static int lsq_create(lsq_objective *o, const double *x, const double *t, size_t n, size_t d,
                      size_t k, double l2) {
  memset(o, 0, sizeof *o);
  o->p = (lsq){n, d, k, x, t, l2, NULL, NULL, NULL, 0};
  int rc = d < n ? lsq_gram_init(&o->p) : DESCENT_OK;
  if (!rc && d >= n) o->p.r = calloc(n * k, sizeof(double));
  o->obj.ops = &lsq_ops;
  o->obj.n_params = d * k;
  o->obj.params = calloc(d * k, sizeof(descent_real));
  o->obj.grad = calloc(d * k, sizeof(descent_real));
  o->obj.impl = &o->p;
  if (!rc && (o->p.r || o->p.a) && o->obj.params && o->obj.grad) return DESCENT_OK;
  return rc ? rc : descent_fail(DESCENT_ENOMEM, "least squares: out of memory");
}

static void lsq_free(lsq_objective *o) {
  free(o->p.r);
  free(o->p.a);
  free(o->p.b);
  free(o->obj.params);
  free(o->obj.grad);
}

/* Full-batch steps of optimizer opt from zero, at cosine(lr, steps): a rate
   that decays to zero lets the adaptive methods settle instead of hovering.
   It stops early once the objective is at most tol. Leaves the last iterate
   in o->obj.params, its objective in *f (NAN when the run blew up) and the
   steps taken in *taken. */
static int lsq_run(lsq_objective *o, int opt, double lr, int64_t steps, double tol, double *f,
                   int64_t *taken) {
  char rate[96], num[LAB_NUM];
  snprintf(rate, sizeof rate, "cosine(%s, %lld)", lab_num(num, lr), (long long)steps);
  descent_optimizer *op = NULL;
  int rc = descent_optimizer_create(&op, lab_compare_optimizers[opt], rate, o->obj.n_params);
  memset(o->obj.params, 0, o->obj.n_params * sizeof *o->obj.params);
  *f = NAN;
  *taken = 0;
  for (int64_t t = 0; !rc && t < steps; t++) {
    rc = descent_objective_value_and_grad(&o->obj, NULL, f);
    if (!rc && !(isfinite(*f) && *f < 1e12)) {
      *f = NAN;
      break;
    }
    if (!rc && *f <= tol) break;
    if (!rc) rc = descent_optimizer_step(op, &o->obj);
    *taken = t + 1;
  }
  if (!rc && !isnan(*f)) rc = descent_objective_value_and_grad(&o->obj, NULL, f);
  if (!rc && !isfinite(*f)) *f = NAN;
  descent_optimizer_free(op);
  return rc;
}

/* The rate of the grid whose run ends at the lowest objective, or (tol >
   0) reaches tol in the fewest steps (then the lowest objective; the first
   of equals), and that run's iterate in best (n_params values). */
static int lsq_best_run(lsq_objective *o, int opt, const double *grid, int n_grid, int64_t steps,
                        double tol, double *lr, double *f_best, int64_t *taken, double *best) {
  *lr = NAN, *f_best = INFINITY, *taken = INT64_MAX;
  for (int g = 0; g < n_grid; g++) {
    double f;
    int64_t t;
    int rc = lsq_run(o, opt, grid[g], steps, tol, &f, &t);
    if (rc) return rc;
    int first = f <= tol && (t < *taken || (t == *taken && f < *f_best));
    if (!isnan(f) && (first || (!(*f_best <= tol) && f < *f_best))) {
      *f_best = f, *lr = grid[g], *taken = t;
      for (size_t j = 0; j < o->obj.n_params; j++) best[j] = (double)o->obj.params[j];
    }
  }
  if (isnan(*lr))
    return descent_fail(DESCENT_EINVAL,
                        "generalization: %s diverged at every rate of the grid; give smaller "
                        "rates",
                        lab_compare_optimizers[opt]);
  return DESCENT_OK;
}

/* ---- dense linear algebra (small: features or examples, not both) ------------ */

/* Solves A X = B for A symmetric positive definite (m x m, overwritten by
   its Cholesky factor) and B m x k (overwritten by X). */
static int cholesky_solve(double *a, double *b, size_t m, size_t k) {
  for (size_t j = 0; j < m; j++) {
    double s = a[j * m + j];
    for (size_t q = 0; q < j; q++) s -= a[j * m + q] * a[j * m + q];
    if (!(s > 0))
      return descent_fail(DESCENT_ERANGE, "least squares: the normal equations are singular");
    a[j * m + j] = sqrt(s);
    for (size_t i = j + 1; i < m; i++) {
      double v = a[i * m + j];
      for (size_t q = 0; q < j; q++) v -= a[i * m + q] * a[j * m + q];
      a[i * m + j] = v / a[j * m + j];
    }
  }
  for (size_t c = 0; c < k; c++) {
    for (size_t i = 0; i < m; i++) { /* L z = b */
      double v = b[i * k + c];
      for (size_t q = 0; q < i; q++) v -= a[i * m + q] * b[q * k + c];
      b[i * k + c] = v / a[i * m + i];
    }
    for (size_t i = m; i-- > 0;) { /* L^T x = z */
      double v = b[i * k + c];
      for (size_t q = i + 1; q < m; q++) v -= a[q * m + i] * b[q * k + c];
      b[i * k + c] = v / a[i * m + i];
    }
  }
  return DESCENT_OK;
}

static double norm_diff(const double *a, const double *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (a[i] - (b ? b[i] : 0)) * (a[i] - (b ? b[i] : 0));
  return sqrt(s);
}

/* ---- ridge regression on Fashion-MNIST ------------------------------------------ */

/* Features of one image: pool x pool averages of its pixels, then a 1 for
   the intercept. */
void lab_pooled_features(const descent_dataset *ds, size_t i, int64_t pool, double *out) {
  size_t h = ds->shape.dims[ds->shape.ndim - 2], w = ds->shape.dims[ds->shape.ndim - 1];
  size_t ph = h / (size_t)pool, pw = w / (size_t)pool;
  const descent_real *img = ds->x + i * ds->features;
  for (size_t a = 0; a < ph; a++)
    for (size_t b = 0; b < pw; b++) {
      double s = 0;
      for (size_t u = 0; u < (size_t)pool; u++)
        for (size_t v = 0; v < (size_t)pool; v++)
          s += (double)img[(a * (size_t)pool + u) * w + b * (size_t)pool + v];
      out[a * pw + b] = s / (double)(pool * pool);
    }
  out[ph * pw] = 1;
}

typedef struct ridge_data {
  size_t n, m, d; /* training and test examples, features with the intercept */
  double *x, *t;  /* n x d, n x 10 */
  double *xt;     /* m x d test features */
  const int32_t *test_labels;
} ridge_data;

/* Pooled features, standardized with the training images' means and
   deviations (a better conditioned problem for the first-order methods;
   the same minimizer problem for all of them). */
static int ridge_prepare(const lab_fmnist *fm, int64_t pool, size_t n, ridge_data *r) {
  size_t side = fm->train.shape.dims[fm->train.shape.ndim - 1] / (size_t)pool;
  r->n = n < fm->train.n ? n : fm->train.n, r->m = fm->test.n, r->d = side * side + 1;
  r->x = calloc(r->n * r->d, sizeof *r->x);
  r->t = calloc(r->n * 10, sizeof *r->t);
  r->xt = calloc(r->m * r->d, sizeof *r->xt);
  if (!r->x || !r->t || !r->xt) return descent_fail(DESCENT_ENOMEM, "ridge: out of memory");
  r->test_labels = fm->test.labels;
  for (size_t i = 0; i < r->n; i++) {
    lab_pooled_features(&fm->train, i, pool, r->x + i * r->d);
    r->t[i * 10 + (size_t)fm->train.labels[i]] = 1;
  }
  for (size_t i = 0; i < r->m; i++) lab_pooled_features(&fm->test, i, pool, r->xt + i * r->d);
  for (size_t j = 0; j + 1 < r->d; j++) {
    double mean = 0, var = 0;
    for (size_t i = 0; i < r->n; i++) mean += r->x[i * r->d + j];
    mean /= (double)r->n;
    for (size_t i = 0; i < r->n; i++) var += pow(r->x[i * r->d + j] - mean, 2);
    double sd = sqrt(var / (double)r->n) + 1e-8;
    for (size_t i = 0; i < r->n; i++) r->x[i * r->d + j] = (r->x[i * r->d + j] - mean) / sd;
    for (size_t i = 0; i < r->m; i++) r->xt[i * r->d + j] = (r->xt[i * r->d + j] - mean) / sd;
  }
  return DESCENT_OK;
}

static void ridge_free(ridge_data *r) {
  free(r->x);
  free(r->t);
  free(r->xt);
}

/* The minimizer: (X^T X / n + l2 I) W = X^T T / n. */
static int ridge_solve(const ridge_data *r, double l2, double *w) {
  size_t d = r->d;
  double *a = calloc(d * d, sizeof *a);
  if (!a) return descent_fail(DESCENT_ENOMEM, "ridge: out of memory");
  for (size_t i = 0; i < d; i++)
    for (size_t j = 0; j < d; j++) {
      double s = 0;
      for (size_t e = 0; e < r->n; e++) s += r->x[e * d + i] * r->x[e * d + j];
      a[i * d + j] = s / (double)r->n + (i == j ? l2 : 0);
    }
  for (size_t i = 0; i < d; i++)
    for (size_t c = 0; c < 10; c++) {
      double s = 0;
      for (size_t e = 0; e < r->n; e++) s += r->x[e * d + i] * r->t[e * 10 + c];
      w[i * 10 + c] = s / (double)r->n;
    }
  int rc = cholesky_solve(a, w, d, 10);
  free(a);
  return rc;
}

/* Test accuracy of W, and the fraction of test images whose predicted
   class equals reference's (NULL: not asked). */
static void ridge_test(const ridge_data *r, const double *w, const double *reference,
                       double *accuracy, double *agree) {
  size_t right = 0, same = 0;
  for (size_t i = 0; i < r->m; i++) {
    int best = 0, best_ref = 0;
    double top = -INFINITY, top_ref = -INFINITY;
    for (int c = 0; c < 10; c++) {
      double s = 0, s_ref = 0;
      for (size_t j = 0; j < r->d; j++) {
        s += r->xt[i * r->d + j] * w[j * 10 + (size_t)c];
        if (reference) s_ref += r->xt[i * r->d + j] * reference[j * 10 + (size_t)c];
      }
      if (s > top) top = s, best = c;
      if (s_ref > top_ref) top_ref = s_ref, best_ref = c;
    }
    right += best == r->test_labels[i];
    same += best == best_ref;
  }
  *accuracy = (double)right / (double)r->m;
  if (agree) *agree = (double)same / (double)r->m;
}

int lab_convex_tie(const lab_fmnist *fm, const lab_convex_setup *s, lab_result *res) {
  ridge_data r = {0};
  lsq_objective o;
  int rc = ridge_prepare(fm, s->pool, (size_t)s->train, &r);
  double *w_star = calloc(r.d * 10, sizeof *w_star), *w = calloc(r.d * 10, sizeof *w);
  if (!rc && (!w_star || !w)) rc = descent_fail(DESCENT_ENOMEM, "ridge: out of memory");
  if (!rc) rc = ridge_solve(&r, s->l2, w_star);
  if (!rc)
    rc = lsq_create(&o, r.x, r.t, r.n, r.d, 10, s->l2);
  else
    memset(&o, 0, sizeof o);
  char title[160];
  snprintf(title, sizeof title,
           "Strictly convex: ridge regression (L2 %g) on %zu images, %zu features, %lld "
           "full-batch steps: one minimizer",
           s->l2, r.n, r.d, (long long)s->steps);
  lab_table *t = rc ? NULL
                    : lab_result_table(res, "generalization-convex", title,
                                       "optimizer|lr|objective gap|distance|bound|test acc|"
                                       "agreement");
  if (!rc && !t) rc = DESCENT_ERANGE;
  double f_star = NAN, acc_star = NAN, norm_star = rc ? 1 : norm_diff(w_star, NULL, r.d * 10);
  if (!rc) {
    for (size_t j = 0; j < o.obj.n_params; j++) o.obj.params[j] = (descent_real)w_star[j];
    rc = descent_objective_value_and_grad(&o.obj, NULL, &f_star);
    ridge_test(&r, w_star, NULL, &acc_star, NULL);
    int row = lab_table_row(t, "W* (Cholesky)");
    lab_table_num(t, row, "objective gap", 0);
    lab_table_num(t, row, "distance", 0);
    lab_table_num(t, row, "test acc", acc_star);
    lab_table_num(t, row, "agreement", 1);
  }
  for (int k = 0; !rc && k < LAB_COMPARE_OPTIMIZERS; k++) {
    double lr, f, acc, agree;
    int64_t taken;
    rc = lsq_best_run(&o, k, s->grid, s->n_grid, s->steps, -INFINITY, &lr, &f, &taken, w);
    if (rc) break;
    ridge_test(&r, w, w_star, &acc, &agree);
    int row = lab_table_row(t, "%s", lab_compare_optimizers[k]);
    double gap = fmax(f - f_star, 0);
    lab_table_num(t, row, "lr", lr);
    lab_table_num(t, row, "objective gap", gap);
    /* Relative to |W*|; strong convexity (modulus l2) bounds the distance
       by sqrt(2 gap / l2), whatever the optimizer. */
    lab_table_num(t, row, "distance", norm_diff(w, w_star, r.d * 10) / norm_star);
    lab_table_num(t, row, "bound", sqrt(2 * gap / s->l2) / norm_star);
    lab_table_num(t, row, "test acc", acc);
    lab_table_num(t, row, "agreement", agree);
  }
  lsq_free(&o);
  free(w_star);
  free(w);
  ridge_free(&r);
  return rc;
}

/* ---- Wilson et al.'s example ------------------------------------------------------ */

/* The runs stop at this training loss: interpolation to about 1e-5 per
   example, with gradients far above the adaptive methods' eps (1e-8 to
   1e-10). Below it their steps g / (sqrt(v) + eps) turn into gradient
   descent steps g / eps and drift toward the minimum-norm solution, an
   artefact of eps that the paper's analysis leaves out. */
#define WILSON_TOL 1e-10

/* Example i's features (d of them), as section 3.3 defines them (1-based
   there): x_1 = y; x_2 = x_3 = 1; x_j = 1 for j = 4 + 5(i-1), ...,
   4 + 5(i-1) + 2(1 - y): one feature of its own for a positive example,
   five for a negative one; every other feature 0. A new example has
   features of its own no training example has. */
static void wilson_example(double y, size_t i, double *x, size_t d) {
  memset(x, 0, d * sizeof *x);
  x[0] = y;
  x[1] = x[2] = 1;
  size_t first = 3 + 5 * i, count = y > 0 ? 1 : 5;
  for (size_t j = first; j < first + count && j < d; j++) x[j] = 1;
}

/* The fraction of test labels w gets wrong: a new point's own features are
   unseen (their weights are 0), so its score is y w_1 + w_2 + w_3. */
static double wilson_test_error(const double *w, const double *y_test, size_t m) {
  size_t wrong = 0;
  for (size_t i = 0; i < m; i++) {
    double score = y_test[i] * w[0] + w[1] + w[2];
    wrong += !(score * y_test[i] > 0);
  }
  return (double)wrong / (double)m;
}

static void wilson_row(lab_table *t, const char *label, const double *w, const double *w_sgd,
                       const double *w_ada, size_t d, double loss, double err, double paper) {
  int row = lab_table_row(t, "%s", label);
  lab_table_num(t, row, "w1", w[0]);
  lab_table_num(t, row, "w2 = w3", w[1]);
  lab_table_num(t, row, "train loss", loss);
  lab_table_num(t, row, "to min-norm", norm_diff(w, w_sgd, d) / norm_diff(w_sgd, NULL, d));
  lab_table_num(t, row, "to sign/4", norm_diff(w, w_ada, d) / norm_diff(w_ada, NULL, d));
  lab_table_num(t, row, "test error", err);
  lab_table_num(t, row, "paper", paper);
}

typedef struct wilson_data {
  size_t n, d, m;
  double *x, *y, *y_test;
  double *w_sgd, *w_ada, *w;
  double negatives; /* fraction of negative test labels */
} wilson_data;

static void wilson_free(wilson_data *wd) {
  free(wd->x), free(wd->y), free(wd->y_test), free(wd->w_sgd), free(wd->w_ada), free(wd->w);
}

/* Labels +1 with probability p, the features, and the two closed forms. */
static int wilson_build(const lab_wilson_setup *s, wilson_data *wd) {
  size_t n = (size_t)s->n, d = 6 * n, m = (size_t)s->test;
  *wd = (wilson_data){n,
                      d,
                      m,
                      calloc(n * d, sizeof(double)),
                      calloc(n, sizeof(double)),
                      calloc(m, sizeof(double)),
                      calloc(d, sizeof(double)),
                      calloc(d, sizeof(double)),
                      calloc(d, sizeof(double)),
                      0};
  double *k = calloc(n * n, sizeof *k), *alpha = calloc(n, sizeof *alpha);
  int rc = wd->x && wd->y && wd->y_test && wd->w_sgd && wd->w_ada && wd->w && k && alpha
               ? DESCENT_OK
               : descent_fail(DESCENT_ENOMEM, "wilson: out of memory");
  descent_rng rng;
  descent_rng_seed(&rng, (uint64_t)s->seed);
  double sum = 0;
  for (size_t i = 0; !rc && i < n; i++) {
    wd->y[i] = descent_rng_uniform(&rng) < s->p ? 1 : -1;
    sum += wd->y[i];
    wilson_example(wd->y[i], i, wd->x + i * d, d);
  }
  for (size_t i = 0; !rc && i < m; i++) {
    wd->y_test[i] = descent_rng_uniform(&rng) < s->p ? 1 : -1;
    wd->negatives += wd->y_test[i] < 0;
  }
  wd->negatives /= (double)m;
  if (!rc && !(sum > 0))
    rc = descent_fail(DESCENT_EINVAL,
                      "--wilson-seed %lld draws no more positive labels than negative ones (the "
                      "construction needs more); choose another seed or a larger --wilson-p",
                      (long long)s->seed);
  /* sign(X^T y) / 4: X sign(X^T y) = 4 y for this construction (a positive
     example scores 1 + 1 + 1 + 1, a negative one -1 + 1 + 1 - 5). */
  for (size_t j = 0; !rc && j < d; j++) {
    double g = 0;
    for (size_t i = 0; i < n; i++) g += wd->x[i * d + j] * wd->y[i];
    wd->w_ada[j] = g > 0 ? 0.25 : g < 0 ? -0.25 : 0;
  }
  /* The minimum-norm solution X^T (X X^T)^-1 y. */
  for (size_t i = 0; !rc && i < n; i++) {
    alpha[i] = wd->y[i];
    for (size_t j = 0; j < n; j++) {
      double v = 0;
      for (size_t q = 0; q < d; q++) v += wd->x[i * d + q] * wd->x[j * d + q];
      k[i * n + j] = v;
    }
  }
  if (!rc) rc = cholesky_solve(k, alpha, n, 1);
  for (size_t q = 0; !rc && q < d; q++)
    for (size_t i = 0; i < n; i++) wd->w_sgd[q] += wd->x[i * d + q] * alpha[i];
  free(k), free(alpha);
  return rc;
}

int lab_wilson(const lab_wilson_setup *s, lab_result *res, lab_wilson_summary *out) {
  wilson_data wd;
  int rc = wilson_build(s, &wd);
  lsq_objective o;
  memset(&o, 0, sizeof o);
  if (!rc) rc = lsq_create(&o, wd.x, wd.y, wd.n, wd.d, 1, 0);
  char title[160];
  snprintf(title, sizeof title,
           "Wilson et al. 2017, 3.3: least squares, %zu examples, %zu features, P(y = 1) = %g, "
           "from 0; test error on %zu new points",
           wd.n, wd.d, s->p, wd.m);
  lab_table *t =
      rc ? NULL
         : lab_result_table(res, "generalization-wilson", title,
                            "solution|lr|steps|w1|w2 = w3|train loss|to min-norm|to sign/4|"
                            "test error|paper");
  if (!rc && !t) rc = DESCENT_ERANGE;
  if (!rc) {
    out->negatives = wd.negatives;
    out->err_sgd_closed = wilson_test_error(wd.w_sgd, wd.y_test, wd.m);
    out->err_ada_closed = wilson_test_error(wd.w_ada, wd.y_test, wd.m);
    wilson_row(t, "min-norm X^T(XX^T)^-1 y", wd.w_sgd, wd.w_sgd, wd.w_ada, wd.d, 0,
               out->err_sgd_closed, 0);
    wilson_row(t, "sign(X^T y) / 4", wd.w_ada, wd.w_sgd, wd.w_ada, wd.d, 0, out->err_ada_closed,
               wd.negatives);
    out->worst_sgd = out->worst_ada = 0;
  }
  for (int k = 0; !rc && k < LAB_COMPARE_OPTIMIZERS; k++) {
    double lr, f;
    int64_t taken;
    rc = lsq_best_run(&o, k, s->grid, s->n_grid, s->steps, WILSON_TOL, &lr, &f, &taken, wd.w);
    if (rc) break;
    int adaptive = lab_compare_adaptive(k);
    double err = wilson_test_error(wd.w, wd.y_test, wd.m);
    /* The paper: the non-adaptive methods reach the minimum-norm solution
       and err on no new point; the adaptive ones reach sign(X^T y) / 4 and
       err on every negative one. */
    wilson_row(t, lab_compare_optimizers[k], wd.w, wd.w_sgd, wd.w_ada, wd.d, f, err,
               adaptive ? wd.negatives : 0);
    lab_table_num(t, (int)t->n_rows - 1, "lr", lr);
    lab_table_num(t, (int)t->n_rows - 1, "steps", (double)taken);
    const double *target = adaptive ? wd.w_ada : wd.w_sgd;
    double dist = norm_diff(wd.w, target, wd.d) / norm_diff(target, NULL, wd.d);
    if (adaptive)
      out->worst_ada = fmax(out->worst_ada, dist);
    else
      out->worst_sgd = fmax(out->worst_sgd, dist);
  }
  lsq_free(&o);
  wilson_free(&wd);
  return rc;
}
