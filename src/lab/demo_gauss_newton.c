/*
 * demo_gauss_newton.c - the curvature behind one step per direction (slide
 * 30): Gauss-Newton, LeCun et al. 1998's diagonal Levenberg-Marquardt step,
 * Adagrad, Adam and gradient descent in the ill-conditioned valley, aligned
 * with the axes and turned.
 *
 * Each method divides the gradient by an estimate of the curvature.
 * Gauss-Newton uses the whole matrix G (built from two products G e_1 and
 * G e_2; on a quadratic G = H) and reaches the minimum in one step whatever
 * the rotation. The diagonal step eta / (mu + h_kk) uses the exact diagonal
 * of G: right when the valley's axes are the coordinates, blind to the
 * rotation otherwise (turned by 45 degrees both h_kk are (1 + 1/kappa)/2 and
 * it is gradient descent). Adagrad and Adam estimate the same per-coordinate
 * scale from the size of past gradients; the demo draws what each estimates
 * against the true diagonal, and Hutchinson's Monte-Carlo estimate of that
 * diagonal converging to it as 1/sqrt(samples).
 *
 * Every linear method here (gd, diag-lm, gauss-newton) multiplies the
 * gradient by a fixed matrix P, so when P commutes with A the offset along
 * each eigenvector shrinks by 1 - lambda (v^T P v) per step and the number
 * of iterations has a closed form, printed beside the measured one.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PI 3.14159265358979323846

static const lab_option gn_options[] = {
    {"kappa", "K", "100", "condition number of the valley"},
    {"angle", "DEGREES", "45", "rotation of the turned valley (the other has 0)"},
    {"eta", "ETA", "1", "step of gauss-newton and diag-lm"},
    {"mu", "MU", "1e-4", "damping of the diagonal step eta / (mu + h_kk)"},
    {"lr", "GD,ADAGRAD,ADAM", "1,1,0.1", "step of the first-order methods"},
    {"start", "X,Y", "auto", "start point (auto: 1 across the valley, 3 along it)"},
    {"iters", "N", "3000", "most iterations per run"},
    {"eps", "EPS", "1e-6", "converged once f - f* <= eps (f(theta0) - f*)"},
    {"samples", "S1,S2,...", "1,4,16,64,256,1024,4096",
     "Monte-Carlo samples of the diagonal's estimate"},
    {"seeds", "N", "64", "estimates per sample count (their RMS error is reported)"},
    {"show", "N", "60", "iterates drawn per path"},
};

enum { GN_NEWTON, GN_DIAG_LM, GN_ADAGRAD, GN_ADAM, GN_GD, N_GN };
static const char *const gn_names[N_GN] = {"gauss-newton", "diag-lm", "adagrad", "adam", "gd"};

typedef struct gn_settings {
  double kappa, angle, eta, mu, lr[3], eps;
  double samples[LAB_MAX_LIST];
  int n_samples;
  int64_t iters, show, seeds;
  double start_xy[2];
  const double *start; /* NULL: the problem's own */
} gn_settings;

/* One valley: the problem, the exact A, the runs, and for each run the
   curvature each of its steps divided the gradient by (steps x 2). */
typedef struct gn_valley {
  descent_objective *obj;
  double angle;
  double a[4];      /* G = H = A, measured by products with e_1 and e_2 */
  double lambda[2]; /* eigenvalues: steep, flat */
  double vec[2][2]; /* their unit eigenvectors */
  double offset[2]; /* the start along them */
  descent_trace tr[N_GN];
  double *curv[N_GN];
  double replay[N_GN]; /* adagrad, adam: the replica's worst one-step error */
  int mc_exact;        /* every Monte-Carlo estimate was exact (G diagonal) */
} gn_valley;

/* ---- the curvature methods ----------------------------------------------------- */

/* G of the 2D problem at its current parameters, column by column. */
static int gn_matrix(descent_objective *obj, double *g) {
  for (int j = 0; j < 2; j++) {
    descent_real e[2] = {0, 0}, col[2];
    e[j] = 1;
    int rc = descent_objective_ggnvp(obj, NULL, e, col);
    if (rc) return rc;
    g[0 * 2 + j] = col[0];
    g[1 * 2 + j] = col[1];
  }
  return DESCENT_OK;
}

/* The step's direction d with its curvature c (what g_k is divided by, per
   coordinate): Gauss-Newton solves G d = g (c: G's diagonal, which with
   its off-diagonal makes the step); diag-lm divides by mu + h_kk. */
static int gn_direction(descent_objective *obj, int method, double mu, const descent_real *grad,
                        double *d, double *c) {
  if (method == GN_NEWTON) {
    double g[4];
    int rc = gn_matrix(obj, g);
    if (rc) return rc;
    double det = g[0] * g[3] - g[1] * g[2];
    if (!(fabs(det) > 1e-300))
      return descent_fail(
          DESCENT_EINVAL,
          "gauss-newton: the Gauss-Newton matrix is singular; choose a smaller --kappa");
    d[0] = (g[3] * grad[0] - g[1] * grad[1]) / det;
    d[1] = (g[0] * grad[1] - g[2] * grad[0]) / det;
    c[0] = g[0], c[1] = g[3];
    return DESCENT_OK;
  }
  descent_real h[2];
  int rc = descent_objective_ggn_diagonal(obj, NULL, 0, 0, h);
  if (rc) return rc;
  for (int k = 0; k < 2; k++) {
    c[k] = mu + (double)h[k];
    d[k] = (double)grad[k] / c[k];
  }
  return DESCENT_OK;
}

/* Runs a curvature method as descent_run_iterates runs an optimizer (the
   same stopping tests: eps, divergence, iters), recording every iterate and
   the curvature of every step, divided by eta (steps x 2 in *curv). */
static int gn_curvature_run(descent_objective *obj, int method, double eta, double mu,
                            const double *start, const descent_run_options *o, descent_trace *tr,
                            double **curv) {
  const descent_problem_info *info = descent_problem_info_get(obj);
  size_t count = (size_t)o->iters + 1;
  memset(tr, 0, sizeof *tr);
  tr->dim = 2;
  tr->f_min = info->f_min;
  tr->reached_at = tr->escaped_at = -1;
  tr->cap = count;
  tr->values = descent_calloc(count, sizeof *tr->values, "run values");
  tr->params = descent_calloc(count * 2, sizeof *tr->params, "run iterates");
  *curv = descent_calloc(count * 2, sizeof **curv, "curvature per step");
  if (!tr->values || !tr->params || !*curv) return DESCENT_ENOMEM;
  const double *from = start ? start : info->start;
  for (int k = 0; k < 2; k++) obj->params[k] = (descent_real)from[k];
  double f0 = 0;
  for (int64_t t = 0;; t++) {
    double f, d[2], c[2];
    int rc = descent_objective_value_and_grad(obj, NULL, &f);
    if (rc) return rc;
    tr->values[t] = f;
    for (int k = 0; k < 2; k++) tr->params[t * 2 + k] = obj->params[k];
    tr->steps = t;
    if (t == 0) f0 = f;
    if (descent_run_diverged(f, f0, tr->f_min, obj->params, 2, o)) {
      tr->diverged = 1;
      break;
    }
    if (o->eps > 0 && f - tr->f_min <= o->eps * (f0 - tr->f_min)) {
      tr->reached_at = t;
      break;
    }
    if (t == o->iters) break;
    rc = gn_direction(obj, method, mu, obj->grad, d, c);
    if (rc) return rc;
    for (int k = 0; k < 2; k++) {
      obj->params[k] = (descent_real)((double)obj->params[k] - eta * d[k]);
      (*curv)[t * 2 + k] = c[k] / eta;
    }
  }
  return DESCENT_OK;
}

/* ---- the first-order methods, and the curvature they imply ---------------------- */

static int hyper(const descent_optimizer *opt, const char *name, double *v) {
  return descent_optimizer_hyperparameter(opt, name, v);
}

/* The optimizers keep their running sums inside their state blob, which
   has no accessor; the demo computes the same sums from the same
   gradients (those at the recorded iterates, with the hyperparameters read
   back from the optimizer that ran) and checks them by predicting each
   step: replay is the largest distance between a predicted and a recorded
   iterate, relative to |theta_0| (the minimum is the origin). curv[t] is
   what step t divided the gradient by: (sqrt(s) + eps) / lr for Adagrad
   (s the sum of squared gradients), (sqrt(v_hat) + eps) / lr for Adam (v_hat
   the bias-corrected mean square; its step divides the mean m_hat), 1/lr for
   gradient descent. */
static int gn_replay(descent_objective *obj, const descent_optimizer *opt, int method, double lr,
                     const descent_trace *tr, double *curv, double *replay) {
  double eps = 0, decay = 0, s0 = 0, b1 = 0, b2 = 0;
  int rc = DESCENT_OK;
  if (method == GN_ADAGRAD) {
    rc = hyper(opt, "adagrad.eps", &eps);
    if (!rc) rc = hyper(opt, "adagrad.lr_decay", &decay);
    if (!rc) rc = hyper(opt, "adagrad.initial_accumulator_value", &s0);
  } else if (method == GN_ADAM) {
    rc = hyper(opt, "adam.eps", &eps);
    if (!rc) rc = hyper(opt, "adam.b1", &b1);
    if (!rc) rc = hyper(opt, "adam.b2", &b2);
  }
  if (rc) return rc;
  double s[2] = {s0, s0}, m[2] = {0, 0}, v[2] = {0, 0}, worst = 0, scale = 0;
  for (int k = 0; k < 2; k++) scale = fmax(scale, fabs(tr->params[k]));
  for (int64_t t = 0; t < tr->steps; t++) {
    const double *theta = tr->params + t * 2, *next = theta + 2;
    double f;
    for (int k = 0; k < 2; k++) obj->params[k] = (descent_real)theta[k];
    rc = descent_objective_value_and_grad(obj, NULL, &f);
    if (rc) return rc;
    double k1 = (double)(t + 1);
    for (int k = 0; k < 2; k++) {
      double g = obj->grad[k], c, u;
      if (method == GN_ADAGRAD) {
        s[k] += g * g;
        c = (sqrt(s[k]) + eps) * (1 + (double)t * decay) / lr;
        u = g;
      } else if (method == GN_ADAM) {
        m[k] = b1 * m[k] + (1 - b1) * g;
        v[k] = b2 * v[k] + (1 - b2) * g * g;
        c = (sqrt(v[k] / (1 - pow(b2, k1))) + eps) / lr;
        u = m[k] / (1 - pow(b1, k1));
      } else {
        c = 1 / lr;
        u = g;
      }
      curv[t * 2 + k] = c;
      worst = fmax(worst, fabs(theta[k] - u / c - next[k]));
    }
  }
  *replay = scale > 0 ? worst / scale : worst;
  return DESCENT_OK;
}

static int gn_first_order_run(descent_objective *obj, int method, double lr, const double *start,
                              const descent_run_options *o, descent_trace *tr, double **curv,
                              double *replay) {
  static const char *const specs[N_GN] = {NULL, NULL, "adagrad", "adam", "sgd"};
  char rate[LAB_NUM];
  descent_optimizer *opt = NULL;
  int rc = descent_optimizer_create(&opt, specs[method], lab_num(rate, lr), obj->n_params);
  const descent_problem_info *info = descent_problem_info_get(obj);
  if (!rc) rc = descent_run_iterates(obj, opt, start ? start : info->start, o, tr);
  if (!rc) {
    *curv = descent_calloc((size_t)tr->steps * 2 + 2, sizeof **curv, "curvature per step");
    rc = *curv ? gn_replay(obj, opt, method, lr, tr, *curv, replay) : DESCENT_ENOMEM;
  }
  descent_optimizer_free(opt);
  return rc;
}

/* ---- closed forms ----------------------------------------------------------------- */

/* A, its eigenvalues and eigenvectors, and the start in their basis. The
   matrix is measured (products with e_1, e_2); the eigenvectors are the
   valley's axes, (cos, sin) steep and (-sin, cos) flat. */
static int gn_valley_setup(gn_valley *v, const double *start) {
  const descent_problem_info *info = descent_problem_info_get(v->obj);
  int rc = gn_matrix(v->obj, v->a);
  if (rc) return rc;
  double c = cos(v->angle * PI / 180), s = sin(v->angle * PI / 180);
  const double *from = start ? start : info->start;
  v->lambda[0] = info->curvature_max;
  v->lambda[1] = info->curvature_min;
  v->vec[0][0] = c, v->vec[0][1] = s;
  v->vec[1][0] = -s, v->vec[1][1] = c;
  for (int i = 0; i < 2; i++) v->offset[i] = v->vec[i][0] * from[0] + v->vec[i][1] * from[1];
  return DESCENT_OK;
}

/* Iterations to eps of x <- (I - P A) x, from the closed form when P
   commutes with A (then each eigenvector of A is one of P's, with
   eigenvalue v^T P v, and its offset is multiplied by 1 - lambda v^T P v per
   step): the first t with sum lambda_i x_i^2 r_i^(2t) <= eps sum lambda_i
   x_i^2. -1 when P does not commute with A (no closed form) and -2 when
   eps is not reached within iters. */
static int64_t gn_closed_form(const gn_valley *v, const double *p, double eps, int64_t iters) {
  const double *a = v->a;
  double comm = fabs(p[0] * a[1] + p[1] * a[3] - a[0] * p[1] - a[1] * p[3]);
  comm = fmax(comm, fabs(p[2] * a[0] + p[3] * a[2] - a[2] * p[0] - a[3] * p[2]));
  double size = fmax(fabs(a[0]) + fabs(a[1]), fabs(a[2]) + fabs(a[3])) *
                fmax(fabs(p[0]) + fabs(p[1]), fabs(p[2]) + fabs(p[3]));
  if (comm > 1e-6 * size) return -1;
  double r[2], w[2], gap0 = 0;
  for (int i = 0; i < 2; i++) {
    const double *e = v->vec[i];
    double pv0 = p[0] * e[0] + p[1] * e[1], pv1 = p[2] * e[0] + p[3] * e[1];
    r[i] = 1 - v->lambda[i] * (e[0] * pv0 + e[1] * pv1);
    w[i] = v->lambda[i] * v->offset[i] * v->offset[i];
    gap0 += w[i];
  }
  for (int64_t t = 0; t <= iters; t++) {
    double gap = 0;
    for (int i = 0; i < 2; i++) gap += w[i] * pow(fabs(r[i]), 2.0 * (double)t);
    if (gap <= eps * gap0) return t;
  }
  return -2;
}

/* P of each linear method; 0 for the adaptive ones. */
static int gn_linear_matrix(const gn_valley *v, int method, const gn_settings *s, double *p) {
  const double *a = v->a;
  memset(p, 0, 4 * sizeof *p);
  if (method == GN_GD) {
    p[0] = p[3] = s->lr[0];
  } else if (method == GN_DIAG_LM) {
    p[0] = s->eta / (s->mu + a[0]);
    p[3] = s->eta / (s->mu + a[3]);
  } else if (method == GN_NEWTON) {
    double det = a[0] * a[3] - a[1] * a[2];
    p[0] = s->eta * a[3] / det, p[3] = s->eta * a[0] / det;
    p[1] = -s->eta * a[1] / det, p[2] = -s->eta * a[2] / det;
  } else {
    return 0;
  }
  return 1;
}

/* ---- tables ------------------------------------------------------------------------ */

/* The step of method m: eta, or its entry of --lr (gd, adagrad, adam). */
static double gn_method_lr(const gn_settings *s, int m) {
  return m == GN_NEWTON || m == GN_DIAG_LM ? s->eta
         : m == GN_GD                      ? s->lr[0]
                                           : s->lr[m - GN_ADAGRAD + 1];
}

static void gn_valley_table(lab_table *t, const gn_valley *v, const gn_settings *s) {
  for (int m = 0; m < N_GN; m++) {
    const descent_trace *tr = &v->tr[m];
    int row = lab_table_row(t, "%s", gn_names[m]);
    lab_table_num(t, row, "lr", gn_method_lr(s, m));
    lab_table_iterations(t, row, "iters to eps", tr);
    double p[4];
    int64_t theory = gn_linear_matrix(v, m, s, p) ? gn_closed_form(v, p, s->eps, s->iters) : -1;
    if (theory >= 0)
      lab_table_num(t, row, "closed form", (double)theory);
    else
      lab_table_text(t, row, "closed form", "%s", theory == -2 ? "never" : "-");
    lab_table_num(t, row, "final f - f*", tr->values[tr->steps] - tr->f_min);
    if (tr->steps > 0) {
      lab_table_num(t, row, "curvature 1", v->curv[m][(tr->steps - 1) * 2]);
      lab_table_num(t, row, "curvature 2", v->curv[m][(tr->steps - 1) * 2 + 1]);
    }
    if (m == GN_ADAGRAD || m == GN_ADAM)
      lab_table_num(t, row, "replay error", v->replay[m]);
    else
      lab_table_text(t, row, "replay error", "-");
  }
  int row = lab_table_row(t, "exact h_kk");
  lab_table_num(t, row, "curvature 1", v->a[0]);
  lab_table_num(t, row, "curvature 2", v->a[3]);
}

/* Hutchinson's estimate of the turned valley's diagonal at each sample
   count, from seeds 1..n: the RMS of the relative error |est - diag| /
   |diag| over the seeds, against its closed form |offdiag(G)|_F /
   (|diag(G)| sqrt(samples)) (Var z_k (G z)_k = sum_{j != k} G_kj^2 for
   +-1 vectors); the aligned valley's G is diagonal and its estimate exact.
   The first eight seeds' estimates go to draws when it is not NULL. */
static int gn_monte_carlo(lab_table *t, gn_valley *v, const gn_settings *s, FILE *draws) {
  if (draws) fprintf(draws, "samples,seed,h11,h22\n");
  double prev = NAN;
  v[1].mc_exact = 1;
  for (int i = 0; i < s->n_samples; i++) {
    size_t samples = (size_t)s->samples[i];
    double err2[2] = {0, 0};
    for (int valley = 0; valley < 2; valley++) {
      const double *a = v[valley].a;
      double norm = sqrt(a[0] * a[0] + a[3] * a[3]);
      for (int64_t seed = 1; seed <= s->seeds; seed++) {
        descent_real est[2];
        int rc = descent_objective_ggn_diagonal(v[valley].obj, NULL, samples, (uint64_t)seed, est);
        if (rc) return rc;
        double e0 = est[0] - a[0], e1 = est[1] - a[3];
        err2[valley] += (e0 * e0 + e1 * e1) / (norm * norm);
        if (draws && valley == 1 && seed <= 8)
          fprintf(draws, "%zu,%lld,%.9g,%.9g\n", samples, (long long)seed, (double)est[0],
                  (double)est[1]);
      }
    }
    const double *a = v[1].a;
    double rms = sqrt(err2[1] / (double)s->seeds);
    double theory =
        sqrt((a[1] * a[1] + a[2] * a[2]) / (a[0] * a[0] + a[3] * a[3])) / sqrt((double)samples);
    int row = lab_table_row(t, "%zu", samples);
    lab_table_num(t, row, "samples", (double)samples);
    lab_table_num(t, row, "turned error", rms);
    lab_table_num(t, row, "closed form", theory);
    if (i > 0 && prev > 0)
      lab_table_num(t, row, "ratio", rms / prev);
    else
      lab_table_text(t, row, "ratio", "-");
    lab_table_num(t, row, "aligned error", sqrt(err2[0] / (double)s->seeds));
    prev = rms;
    if (rms > 0) v[1].mc_exact = 0;
  }
  return DESCENT_OK;
}

/* ---- files and pictures -------------------------------------------------------- */

static int gn_path_files(const char *dir, lab_result *res, gn_valley *v, const gn_settings *s,
                         double (*lo)[2], double (*hi)[2]) {
  static const char *const paths[2] = {"gauss-newton-paths-aligned.csv",
                                       "gauss-newton-paths-turned.csv"};
  static const char *const contours[2] = {"gauss-newton-contours-aligned.csv",
                                          "gauss-newton-contours-turned.csv"};
  int rc = DESCENT_OK;
  for (int k = 0; k < 2 && !rc; k++) {
    FILE *f = lab_file_open(dir, paths[k], res);
    if (!f) return DESCENT_EIO;
    lab_write_path_header(f, 2);
    for (int m = 0; m < N_GN; m++) lab_write_path(f, m, gn_names[m], &v[k].tr[m], 1000);
    rc = lab_file_close(f, paths[k]);
    double levels[16];
    lab_cover_paths(descent_problem_info_get(v[k].obj), v[k].tr, N_GN, s->show, lo[k], hi[k]);
    int n = lab_levels_geometric(0, v[k].tr[0].values[0], 0.35, 16, levels);
    if (!rc) rc = lab_write_contours(v[k].obj, dir, contours[k], lo[k], hi[k], 161, levels, n, res);
  }
  return rc;
}

/* Whether step t of a run of `last` steps is written: all of the first
   200, then about 200 more spaced evenly on a log scale. */
static int gn_keep_step(int64_t t, int64_t last) {
  if (t < 200 || t == last - 1) return 1;
  double ratio = pow((double)last / 200.0, 1.0 / 200.0);
  return floor(log((double)t / 200.0) / log(ratio)) !=
         floor(log((double)(t - 1) / 200.0) / log(ratio));
}

/* valley,method,name,step,c1,c2: the curvature of step `step` (1-based) of
   each method but Gauss-Newton (whose step is not per coordinate), then the
   references as methods 5 (the exact diagonal h_kk) and 6, 7 (the
   eigenvalues of H), each at the first and the last step drawn. The range
   of the values of each valley goes to lo and hi. */
static int gn_curvature_file(const char *dir, lab_result *res, gn_valley *v, int64_t *last,
                             double *lo, double *hi) {
  FILE *f = lab_file_open(dir, "gauss-newton-curvature.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "valley,method,name,step,c1,c2\n");
  *last = 2; /* an x range of at least [1, 2] */
  for (int k = 0; k < 2; k++)
    for (int m = GN_DIAG_LM; m < N_GN; m++)
      if (v[k].tr[m].steps > *last) *last = v[k].tr[m].steps;
  for (int k = 0; k < 2; k++) {
    lo[k] = INFINITY, hi[k] = 0;
    for (int m = GN_DIAG_LM; m < N_GN; m++)
      for (int64_t t = 0; t < v[k].tr[m].steps; t++)
        if (gn_keep_step(t, v[k].tr[m].steps)) {
          const double *c = v[k].curv[m] + t * 2;
          fprintf(f, "%d,%d,%s,%lld,%.9g,%.9g\n", k, m, gn_names[m], (long long)(t + 1), c[0],
                  c[1]);
          for (int i = 0; i < 2; i++)
            if (c[i] > 0) lo[k] = fmin(lo[k], c[i]), hi[k] = fmax(hi[k], c[i]);
        }
    double refs[3][2] = {
        {v[k].a[0], v[k].a[3]}, {v[k].lambda[0], v[k].lambda[0]}, {v[k].lambda[1], v[k].lambda[1]}};
    static const char *const names[3] = {"exact h_kk", "largest eigenvalue", "smallest eigenvalue"};
    for (int r = 0; r < 3; r++) {
      for (int end = 0; end < 2; end++)
        fprintf(f, "%d,%d,%s,%lld,%.17g,%.17g\n", k, 5 + r, names[r], (long long)(end ? *last : 1),
                refs[r][0], refs[r][1]);
      for (int i = 0; i < 2; i++)
        if (refs[r][i] > 0) lo[k] = fmin(lo[k], refs[r][i]), hi[k] = fmax(hi[k], refs[r][i]);
    }
  }
  return lab_file_close(f, "gauss-newton-curvature.csv");
}

static int gn_paths_picture(const char *dir, lab_result *res, gn_valley *v, const gn_settings *s,
                            double (*lo)[2], double (*hi)[2]) {
  static const char *const paths[2] = {"gauss-newton-paths-aligned.csv",
                                       "gauss-newton-paths-turned.csv"};
  static const char *const contours[2] = {"gauss-newton-contours-aligned.csv",
                                          "gauss-newton-contours-turned.csv"};
  FILE *f = lab_gp_open(dir, "gauss-newton", 1500, 1150,
                        "Gauss-Newton, diagonal Levenberg-Marquardt, Adagrad, Adam and gradient "
                        "descent in an aligned and a turned valley",
                        res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 2,2 title \"Gauss-Newton: the whole curvature takes one step "
          "whatever the rotation; its diagonal only when aligned (slide 30, kappa = %g)\" "
          "font \",14\"\n",
          s->kappa);
  for (int k = 0; k < 2; k++) {
    char title[160];
    snprintf(title, sizeof title, "valley at %g degrees: first %lld iterates", v[k].angle,
             (long long)s->show);
    lab_gp_panel_2d(f, title, lo[k], hi[k]);
    lab_gp_contour_lines(f, 1, contours[k]);
    for (int m = N_GN - 1; m >= 0; m--) /* Gauss-Newton's one step on top */
      lab_gp_path(f, 0, paths[k], m, gn_names[m], lab_color(m), 6, s->show);
    fprintf(f, "\n");
    int64_t xmax = 1;
    for (int m = 0; m < N_GN; m++)
      if (v[k].tr[m].steps > xmax) xmax = v[k].tr[m].steps;
    snprintf(title, sizeof title, "valley at %g degrees: f - f* per iteration", v[k].angle);
    lab_gp_panel_gap(f, title, xmax, 0);
    for (int m = 0; m < N_GN; m++) lab_gp_gap(f, m == 0, paths[k], m, gn_names[m], lab_color(m), 2);
    lab_gp_panel_end(f);
  }
  return lab_gp_close(f, "gauss-newton", res);
}

static int gn_curvature_picture(const char *dir, lab_result *res, gn_valley *v,
                                const gn_settings *s, int64_t last, const double *lo,
                                const double *hi) {
  FILE *f = lab_gp_open(dir, "gauss-newton-curvature", 1950, 1150,
                        "the per-coordinate curvature each method divides by, against the "
                        "Hessian's diagonal",
                        res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 2,3 title \"The curvature each method divides coordinate k of "
          "the gradient by, against the exact diagonal h_{kk} (κ = %g, mu = %g)\" "
          "font \",14\"\n",
          s->kappa, s->mu);
  static const char *const styles[8] = {"",
                                        "lw 2",
                                        "lw 2",
                                        "lw 2",
                                        "lw 2",
                                        "lw 3 dt 2 lc rgb \"black\"",
                                        "lw 1.5 dt 4 lc rgb \"#777777\"",
                                        "lw 1.5 dt 4 lc rgb \"#777777\""};
  for (int k = 0; k < 2; k++) {
    for (int c = 0; c < 2; c++) {
      fprintf(f,
              "set title \"valley at %g degrees: coordinate %d\"\nset size noratio\n"
              "unset logscale\nset logscale xy\nset xrange [1:%lld]\nset yrange [%.6g:%.6g]\n"
              "set format y \"%%g\"\nset xlabel \"step t\"\n"
              "set ylabel \"curvature (the step is g_{k} / curvature)\"\nset key top right\n",
              v[k].angle, c + 1, (long long)last, lo[k] / 3, hi[k] * 30);
      for (int m = GN_DIAG_LM; m < 8; m++) {
        fprintf(f,
                "%s'gauss-newton-curvature.csv' using ($1==%d && $2==%d ? $4 : NaN):%d with "
                "lines %s",
                m == GN_DIAG_LM ? "plot " : ", \\\n     ", k, m, 5 + c, styles[m]);
        if (m < N_GN)
          fprintf(f, " lc rgb \"%s\" title \"%s\"", lab_color(m), gn_names[m]);
        else if (m == 5)
          fprintf(f, " title \"exact h_{kk}\"");
        else
          fprintf(f, " title \"%s\"", m == 6 ? "eigenvalues of H" : "");
      }
      fprintf(f, "\n");
    }
    if (k == 0) {
      fprintf(f,
              "set title \"Hutchinson's estimate of h_{11} at %g degrees, seeds 1 to 8\"\n"
              "unset logscale\nset logscale x\nset xrange [*:*]\nset yrange [*:*]\n"
              "set xlabel \"samples\"\nset ylabel \"estimate of h_{11}\"\nset key top right\n"
              "plot 'gauss-newton-mc-draws.csv' using 1:3 with points pt 7 ps 0.6 "
              "lc rgb \"%s\" title \"estimates\", \\\n"
              "     %.17g with lines lw 2 dt 2 lc rgb \"black\" title \"exact h_{11}\"\n",
              v[1].angle, lab_color(GN_DIAG_LM), v[1].a[0]);
    } else if (v[1].mc_exact) { /* nothing to draw on a log scale */
      fprintf(f, "set multiplot next\n");
    } else {
      fprintf(f,
              "set title \"its RMS relative error over %lld seeds\"\n"
              "unset logscale\nset logscale xy\nset xrange [*:*]\nset yrange [*:*]\n"
              "set xlabel \"samples\"\nset ylabel \"|estimate - diagonal| / |diagonal|\"\n"
              "set key top right\n"
              "plot 'gauss-newton-mc.csv' using 2:3 with linespoints pt 7 lw 2 lc rgb \"%s\" "
              "title \"measured\", \\\n"
              "     'gauss-newton-mc.csv' using 2:4 with lines lw 1 dt 2 lc rgb \"black\" "
              "title \"|offdiag G|_{F} / (|diag G| sqrt(samples))\"\n",
              (long long)s->seeds, lab_color(GN_DIAG_LM));
    }
  }
  return lab_gp_close(f, "gauss-newton-curvature", res);
}

static int gn_files(const char *dir, lab_result *res, gn_valley *v, const gn_settings *s) {
  double lo[2][2], hi[2][2], c_lo[2], c_hi[2];
  int64_t last;
  int rc = gn_path_files(dir, res, v, s, lo, hi);
  if (!rc) rc = gn_curvature_file(dir, res, v, &last, c_lo, c_hi);
  if (!rc) rc = gn_paths_picture(dir, res, v, s, lo, hi);
  if (!rc) rc = gn_curvature_picture(dir, res, v, s, last, c_lo, c_hi);
  return rc;
}

/* ---- the demo ----------------------------------------------------------------------- */

static int gn_read(const lab_args *a, gn_settings *s) {
  int n;
  int rc = lab_arg_double(a, "kappa", 1, 1e8, &s->kappa);
  if (!rc) rc = lab_arg_double(a, "angle", -360, 360, &s->angle);
  if (!rc) rc = lab_arg_double(a, "eta", 1e-9, 1e3, &s->eta);
  if (!rc) rc = lab_arg_double(a, "mu", 0, 1e6, &s->mu);
  if (!rc) rc = lab_arg_list(a, "lr", 1e-9, 1e3, 3, 3, s->lr, &n);
  if (!rc) rc = lab_arg_int(a, "iters", 1, 10000000, &s->iters);
  if (!rc) rc = lab_arg_double(a, "eps", 1e-15, 0.5, &s->eps);
  if (!rc) rc = lab_arg_list(a, "samples", 1, 1e6, 2, LAB_MAX_LIST, s->samples, &s->n_samples);
  for (int i = 0; i < s->n_samples && !rc; i++)
    if (s->samples[i] != floor(s->samples[i]))
      rc = descent_fail(DESCENT_EINVAL, "--samples: %g is not a whole number", s->samples[i]);
  if (!rc) rc = lab_arg_int(a, "seeds", 2, 100000, &s->seeds);
  if (!rc) rc = lab_arg_int(a, "show", 2, 100000, &s->show);
  if (!rc) rc = lab_arg_start_or_auto(a, s->start_xy, &s->start);
  return rc;
}

static int gn_run_valley(gn_valley *v, const gn_settings *s, const descent_run_options *o) {
  int rc = lab_problem(&v->obj, "quad2d(kappa=%.17g, angle=%.17g)", s->kappa, v->angle);
  if (!rc) rc = gn_valley_setup(v, s->start);
  for (int m = 0; m < N_GN && !rc; m++) {
    if (m == GN_NEWTON || m == GN_DIAG_LM)
      rc = gn_curvature_run(v->obj, m, s->eta, s->mu, s->start, o, &v->tr[m], &v->curv[m]);
    else
      rc = gn_first_order_run(v->obj, m, gn_method_lr(s, m), s->start, o, &v->tr[m], &v->curv[m],
                              &v->replay[m]);
  }
  return rc;
}

/* The tables of the runs, and the Monte-Carlo table's head in *mc. */
static int gn_tables(lab_result *res, gn_valley *v, const gn_settings *s, lab_table **mc) {
  char title[160];
  lab_table *sum = lab_result_table(
      res, "gauss-newton", "Iterations to reach eps: the whole curvature does not see the rotation",
      "run|aligned|turned");
  if (!sum) return DESCENT_ERANGE;
  for (int m = 0; m < N_GN; m++) {
    int row = lab_table_row(sum, "%s", gn_names[m]);
    for (int k = 0; k < 2; k++)
      lab_table_iterations(sum, row, k ? "turned" : "aligned", &v[k].tr[m]);
  }
  static const char *const names[2] = {"gauss-newton-aligned", "gauss-newton-turned"};
  for (int k = 0; k < 2; k++) {
    snprintf(title, sizeof title,
             "Valley at %g degrees (kappa %g, mu %g): iterations, and the curvature of the last "
             "step",
             v[k].angle, s->kappa, s->mu);
    lab_table *t = lab_result_table(res, names[k], title,
                                    "run|lr|iters to eps|closed form|final f - f*|curvature 1|"
                                    "curvature 2|replay error");
    if (!t) return DESCENT_ERANGE;
    gn_valley_table(t, &v[k], s);
  }
  snprintf(title, sizeof title,
           "Hutchinson's estimate of the Gauss-Newton diagonal: RMS relative error over %lld "
           "seeds",
           (long long)s->seeds);
  *mc = lab_result_table(res, "gauss-newton-mc", title,
                         "run|samples|turned error|closed form|ratio|aligned error");
  return *mc ? DESCENT_OK : DESCENT_ERANGE;
}

static void gn_notes(lab_result *res, const gn_settings *s) {
  lab_result_note(res, "gauss-newton: eta G^-1 g, G built from the products G e_1 and G e_2; on a "
                       "quadratic G = H and the step is Newton's: one step whatever the rotation.");
  lab_result_note(res,
                  "diag-lm: eta / (mu + h_kk) g_k with h_kk the exact diagonal of G (LeCun et al. "
                  "1998); turned by 45 degrees both h_kk are (1 + 1/kappa)/2 = %g and it is "
                  "gradient descent.",
                  (1 + 1 / s->kappa) / 2);
  lab_result_note(res, "curvature k: what the step divides g_k by: 1/lr (gd), (mu + h_kk)/eta "
                       "(diag-lm), (sqrt(sum g_k^2) + eps)/lr (adagrad), (sqrt(v_hat_k) + eps)/lr "
                       "(adam, dividing m_hat); gauss-newton: the diagonal of G.");
  lab_result_note(res, "adagrad, adam: the sums are recomputed from the gradients at the recorded "
                       "iterates; replay error: the largest miss of a predicted iterate, relative "
                       "to |theta_0|.");
  lab_result_note(
      res, "Monte Carlo: the mean of z_k (G z)_k over random +-1 vectors z; its error "
           "is |offdiag G|_F / sqrt(samples), none (but rounding) when G is diagonal (aligned).");
}

static int gn_run(const lab_args *a, const char *dir, lab_result *res) {
  gn_settings s;
  memset(&s, 0, sizeof s);
  int rc = gn_read(a, &s);
  if (rc) return rc;
  gn_valley v[2];
  memset(v, 0, sizeof v);
  v[0].angle = 0;
  v[1].angle = s.angle;
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = s.iters;
  o.eps = s.eps;
  o.record_params = 1;
  for (int k = 0; k < 2 && !rc; k++) rc = gn_run_valley(&v[k], &s, &o);
  lab_table *mc = NULL;
  if (!rc) rc = gn_tables(res, v, &s, &mc);
  FILE *draws = NULL;
  if (!rc && dir) {
    draws = lab_file_open(dir, "gauss-newton-mc-draws.csv", res);
    if (!draws) rc = DESCENT_EIO;
  }
  if (!rc) rc = gn_monte_carlo(mc, v, &s, draws);
  if (draws) {
    int rc2 = lab_file_close(draws, "gauss-newton-mc-draws.csv");
    rc = rc ? rc : rc2;
  }
  if (!rc) gn_notes(res, &s);
  if (!rc && dir) rc = gn_files(dir, res, v, &s);
  for (int k = 0; k < 2; k++) {
    for (int m = 0; m < N_GN; m++) {
      descent_trace_free(&v[k].tr[m]);
      free(v[k].curv[m]);
    }
    descent_objective_free(v[k].obj);
  }
  return rc;
}

const lab_demo lab_demo_gauss_newton = {
    "gauss-newton",
    "slide 30",
    "Gauss-Newton, diagonal Levenberg-Marquardt, Adagrad and Adam in a valley aligned and "
    "turned: the curvature each estimates",
    gn_options,
    sizeof gn_options / sizeof gn_options[0],
    gn_run,
    "Gauss-Newton, the most popular of the methods that estimate curvature, uses the whole "
    "curvature matrix and reaches a quadratic's minimum in one step whatever its rotation; "
    "the diagonal estimates (LeCun et al. 1998's Levenberg-Marquardt, Adagrad, Adam) only fix "
    "a valley aligned with the axes (slide 30).",
    "Gauss-Newton takes one step aligned and turned; the diagonal Levenberg-Marquardt step "
    "matches its closed form and becomes gradient descent when turned; the curvature columns "
    "show what Adagrad and Adam divide by against the true diagonal, and Hutchinson's "
    "estimate of that diagonal converges as 1/sqrt(samples).",
    NULL,
};
