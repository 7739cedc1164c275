/*
 * demo_whitening.c - whitening the inputs of a linear model (slide 31,
 * first half; LeCun et al. 1998, "Efficient BackProp", section 4.3).
 *
 * Least squares f(w) = 1/(2n) |X w - y|^2 has the constant Hessian
 * H = X^T X / n. Gradient descent at step 1/L (L = lambda_max(H)) shrinks
 * the error's component along each eigenvector u_k by (1 - lambda_k / L) per
 * step, so the relative gap (f - f*) / (f0 - f*) after t steps is exactly
 *
 *   sum_k p_k (1 - lambda_k / L)^(2t),  p_k = lambda_k c_k^2 / sum_j lambda_j c_j^2,
 *
 * with c = U^T (w0 - w*): at most (1 - 1/kappa)^(2t), so at most
 * kappa/2 ln(1/eps) iterations reach a gap eps. The inputs here are Gaussian,
 * every pair of features correlated by rho (population eigenvalues
 * 1 + (d-1) rho once and 1 - rho d-1 times: kappa = (1 + (d-1) rho) /
 * (1 - rho)), feature j scaled by scale^(j/(d-1)). Four forms of the same
 * inputs:
 *   raw           both the scales and the correlation ill-condition H;
 *   standardized  (descent's `--preprocess standardize`) removes the scales,
 *                 not the correlation: H becomes the correlation matrix;
 *   pca, zca      (descent's `--preprocess pca` and `zca`, src/data/whiten.c)
 *                 give the inputs identity covariance: H = I up to the
 *                 whitening's eps and rounding, kappa = 1, and one step at
 *                 1/L lands on the minimum whatever rho.
 * kappa comes from descent's symmetric eigensolver (LAPACK's dsyevd,
 * src/core/eigen.c); the steps are descent's `sgd` on the model's gradient.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lab_option whitening_options[] = {
    {"rho", "R,R,...", "0,0.5,0.9,0.99", "correlation between every pair of features"},
    {"dim", "D", "20", "features"},
    {"n", "N", "2000", "examples"},
    {"scale", "S", "10", "feature j is scaled by S^(j/(D-1)): largest over smallest scale"},
    {"eps", "E", "1e-6", "target relative gap (f - f*) / (f0 - f*)"},
    {"iters", "N", "3000000", "most iterations of gradient descent per run"},
    {"seed", "N", "1", "seed of the inputs and targets"},
};

enum { N_FORMS = 4, MAX_CURVE = 400 };
static const char *const form_names[N_FORMS] = {"raw", "standardized", "pca", "zca"};
static const descent_preprocess_kind form_kinds[N_FORMS] = {
    DESCENT_PREPROCESS_NONE, DESCENT_PREPROCESS_STANDARDIZE, DESCENT_PREPROCESS_PCA,
    DESCENT_PREPROCESS_ZCA};
/* eps of the preprocessing: far below every variance and eigenvalue here
   (the smallest is about (1 - rho) for rho <= 0.999), so the transforms are
   exact up to rounding rather than damped. */
#define PREPROCESS_EPS 1e-10

typedef struct whitening_setup {
  double rho[LAB_MAX_LIST];
  int n_rho;
  int64_t dim, n, iters;
  double scale, eps;
  uint64_t seed;
} whitening_setup;

/* One run's outcome, and its gap curve at a logarithmic selection of t. */
typedef struct whitening_run {
  double kappa, lambda_max, lambda_min;
  int64_t iterations; /* -1: not within iters */
  int64_t predicted;  /* from the spectrum; -1 beyond iters */
  double bound;       /* kappa/2 ln(1/eps) */
  int n_curve;
  double curve_t[MAX_CURVE], curve_gap[MAX_CURVE];
} whitening_run;

/* Inputs x_ij = s_j (sqrt(rho) c_i + sqrt(1 - rho) z_ij) and targets
   y_i = sum_j u_j x_ij / s_j + noise / 10, from the seed (the same u and
   noise for every rho: only the correlation changes). */
/* Feature j's scale: scale^(j / (d - 1)), from 1 to scale. */
static double feature_scale(double scale, size_t j, size_t d) {
  return pow(scale, (double)j / (double)(d - 1));
}

static int make_data(const whitening_setup *s, double rho, descent_dataset *ds, double *y) {
  const size_t n = (size_t)s->n, d = (size_t)s->dim;
  memset(ds, 0, sizeof *ds);
  ds->n = n;
  ds->shape.ndim = 1;
  ds->shape.dims[0] = d;
  ds->features = d;
  ds->x = descent_alloc_real(n * d, "whitening: inputs");
  double *u = malloc(d * sizeof *u);
  if (!ds->x || !u) {
    free(u);
    descent_dataset_free(ds);
    return descent_fail(DESCENT_ENOMEM, "whitening: out of memory");
  }
  descent_rng rng;
  descent_rng_seed(&rng, s->seed);
  for (size_t j = 0; j < d; j++) u[j] = descent_rng_normal(&rng);
  for (size_t i = 0; i < n; i++) {
    double common = descent_rng_normal(&rng), target = 0;
    for (size_t j = 0; j < d; j++) {
      double z = sqrt(rho) * common + sqrt(1 - rho) * descent_rng_normal(&rng);
      ds->x[i * d + j] = (descent_real)(feature_scale(s->scale, j, d) * z);
      target += u[j] * z;
    }
    y[i] = target + 0.1 * descent_rng_normal(&rng);
  }
  free(u);
  return DESCENT_OK;
}

/* H = X^T X / n and b = X^T y / n, in double from the stored inputs. */
static void normal_equations(const descent_dataset *ds, const double *y, double *h, double *b) {
  const size_t n = ds->n, d = ds->features;
  memset(h, 0, d * d * sizeof *h);
  memset(b, 0, d * sizeof *b);
  for (size_t i = 0; i < n; i++) {
    const descent_real *x = ds->x + i * d;
    for (size_t j = 0; j < d; j++) {
      b[j] += (double)x[j] * y[i];
      for (size_t k = 0; k < d; k++) h[j * d + k] += (double)x[j] * (double)x[k];
    }
  }
  for (size_t j = 0; j < d * d; j++) h[j] /= (double)n;
  for (size_t j = 0; j < d; j++) b[j] /= (double)n;
}

/* The exact relative gap after t steps: sum_k p_k r_k^(2t), r_k = 1 -
   lambda_k / L. */
static double spectral_gap(const double *p, const double *r, size_t d, int64_t t) {
  double gap = 0;
  for (size_t k = 0; k < d; k++) gap += p[k] * pow(fabs(r[k]), 2.0 * (double)t);
  return gap;
}

/* The smallest t at which that gap is at most eps, by bisection (it
   decreases in t); -1 when beyond `most`. */
static int64_t predicted_iterations(const double *p, const double *r, size_t d, double eps,
                                    int64_t most) {
  if (spectral_gap(p, r, d, most) > eps) return -1;
  int64_t lo = 0, hi = most; /* gap(lo) > eps >= gap(hi) */
  while (hi - lo > 1) {
    int64_t mid = lo + (hi - lo) / 2;
    if (spectral_gap(p, r, d, mid) <= eps)
      hi = mid;
    else
      lo = mid;
  }
  return hi;
}

static double quadratic_gap(const double *h, const double *w, const double *w_star, size_t d,
                            double *scratch) {
  for (size_t j = 0; j < d; j++) scratch[j] = w[j] - w_star[j];
  double gap = 0;
  for (size_t j = 0; j < d; j++) {
    double hj = 0;
    for (size_t k = 0; k < d; k++) hj += h[j * d + k] * scratch[k];
    gap += scratch[j] * hj;
  }
  return gap / 2;
}

/* Whether iteration t goes into the curve: every one up to 20, then 40 per
   decade. */
static int curve_keeps(int64_t t) {
  return t <= 20 || floor(40 * log10((double)t)) != floor(40 * log10((double)(t - 1)));
}

/* The spectrum, the prediction and descent's gradient descent at 1/L from
   w = 0 on one form of the inputs. */
static int run_form(const whitening_setup *s, const descent_dataset *ds, const double *y,
                    whitening_run *out) {
  const size_t d = ds->features;
  double *h = calloc(d * d, sizeof *h), *vec = calloc(d * d, sizeof *vec);
  double *b = calloc(d, sizeof *b), *lambda = calloc(d, sizeof *lambda);
  double *w_star = calloc(d, sizeof *w_star), *p = calloc(d, sizeof *p);
  double *r = calloc(d, sizeof *r), *wd = calloc(d, sizeof *wd), *scratch = calloc(d, sizeof *r);
  descent_real *w = descent_alloc_real(d, "whitening: weights");
  descent_real *g = descent_alloc_real(d, "whitening: gradient");
  descent_optimizer *opt = NULL;
  int rc = h && vec && b && lambda && w_star && p && r && wd && scratch && w && g
               ? DESCENT_OK
               : descent_fail(DESCENT_ENOMEM, "whitening: out of memory");
  if (!rc) {
    normal_equations(ds, y, h, b);
    memcpy(vec, h, d * d * sizeof *h);
    rc = descent_symmetric_eigen(d, vec, lambda); /* ascending; rows of vec: eigenvectors */
  }
  if (!rc) {
    const double L = lambda[d - 1];
    out->lambda_max = L;
    out->lambda_min = lambda[0];
    out->kappa = L / lambda[0];
    out->bound = out->kappa / 2 * log(1 / s->eps);
    /* w* = sum_k (u_k . b / lambda_k) u_k; from w0 = 0, c_k = -u_k . w*. */
    memset(w_star, 0, d * sizeof *w_star);
    double total = 0;
    for (size_t k = 0; k < d; k++) {
      double ub = 0;
      for (size_t j = 0; j < d; j++) ub += vec[k * d + j] * b[j];
      double ck = ub / lambda[k];
      for (size_t j = 0; j < d; j++) w_star[j] += ck * vec[k * d + j];
      p[k] = lambda[k] * ck * ck;
      total += p[k];
      r[k] = 1 - lambda[k] / L;
    }
    for (size_t k = 0; k < d; k++) p[k] /= total;
    out->predicted = predicted_iterations(p, r, d, s->eps, s->iters);
    char lr[LAB_NUM];
    rc = descent_optimizer_create(&opt, "sgd", lab_num(lr, 1 / L), d);
  }
  if (!rc) {
    memset(wd, 0, d * sizeof *wd);
    for (size_t j = 0; j < d; j++) w[j] = 0;
    const double gap0 = quadratic_gap(h, wd, w_star, d, scratch);
    out->iterations = -1;
    out->n_curve = 0;
    out->curve_t[out->n_curve] = 0, out->curve_gap[out->n_curve++] = 1;
    for (int64_t t = 1; t <= s->iters && !rc; t++) {
      for (size_t j = 0; j < d; j++) { /* the gradient H w - b */
        double gj = -b[j];
        for (size_t k = 0; k < d; k++) gj += h[j * d + k] * (double)w[k];
        g[j] = (descent_real)gj;
      }
      rc = descent_optimizer_step_buffers(opt, w, g, d);
      for (size_t j = 0; j < d; j++) wd[j] = (double)w[j];
      double rel = quadratic_gap(h, wd, w_star, d, scratch) / gap0;
      if (curve_keeps(t) && out->n_curve < MAX_CURVE)
        out->curve_t[out->n_curve] = (double)t, out->curve_gap[out->n_curve++] = rel;
      if (rel <= s->eps) {
        out->iterations = t;
        if (out->n_curve < MAX_CURVE && out->curve_t[out->n_curve - 1] != (double)t)
          out->curve_t[out->n_curve] = (double)t, out->curve_gap[out->n_curve++] = rel;
        break;
      }
    }
  }
  descent_optimizer_free(opt);
  free(h), free(vec), free(b), free(lambda), free(w_star), free(p), free(r), free(wd);
  free(scratch);
  descent_free_real(w), descent_free_real(g);
  return rc;
}

/* The inputs of one form: a copy of the raw ones, preprocessed by descent. */
static int form_inputs(const descent_dataset *raw, int form, descent_dataset *out) {
  *out = *raw;
  out->x = descent_alloc_real(raw->n * raw->features, "whitening: inputs");
  if (!out->x) return DESCENT_ENOMEM;
  memcpy(out->x, raw->x, raw->n * raw->features * sizeof *out->x);
  if (form_kinds[form] == DESCENT_PREPROCESS_NONE) return DESCENT_OK;
  descent_preprocess pp;
  int rc = descent_preprocess_fit(&pp, form_kinds[form], raw, PREPROCESS_EPS);
  if (rc) return rc;
  rc = descent_preprocess_apply(&pp, out);
  descent_preprocess_free(&pp);
  return rc;
}

static int whitening_files(const char *dir, lab_result *res, const whitening_setup *s,
                           const whitening_run *runs) {
  FILE *f = lab_file_open(dir, "whitening-iterations.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "form_index,form,rho,inv_one_minus_rho,kappa,iterations,predicted,bound\n");
  for (int k = 0; k < N_FORMS; k++) {
    for (int i = 0; i < s->n_rho; i++) {
      const whitening_run *r = &runs[i * N_FORMS + k];
      fprintf(f, "%d,%s,%.17g,%.17g,%.17g,", k, form_names[k], s->rho[i], 1 / (1 - s->rho[i]),
              r->kappa);
      if (r->iterations >= 0)
        fprintf(f, "%lld,", (long long)r->iterations);
      else
        fprintf(f, "NaN,");
      fprintf(f, "%.17g,%.17g\n", r->predicted >= 0 ? (double)r->predicted : NAN, r->bound);
    }
    fprintf(f, "\n\n"); /* one gnuplot index per form */
  }
  int rc = lab_file_close(f, "whitening-iterations.csv");
  if (rc) return rc;
  f = lab_file_open(dir, "whitening-curves.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "form_index,rho,t,relative_gap\n");
  const int last = s->n_rho - 1;
  for (int k = 0; k < N_FORMS; k++) {
    const whitening_run *r = &runs[last * N_FORMS + k];
    for (int j = 0; j < r->n_curve; j++)
      fprintf(f, "%d,%.17g,%.17g,%.17g\n", k, s->rho[last], r->curve_t[j],
              r->curve_gap[j] > 0 ? r->curve_gap[j] : 1e-300);
    fprintf(f, "\n\n");
  }
  rc = lab_file_close(f, "whitening-curves.csv");
  if (rc) return rc;

  f = lab_gp_open(dir, "whitening", 1800, 620, "whitening the inputs of a linear model", res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 1,3 title \"Whitening the inputs of least squares (slide 31): "
          "%lld features, every pair correlated by ρ, scales 1 to %g\" font \",14\"\n"
          "set termoption enhanced\nset format y \"10^{%%L}\"\n",
          (long long)s->dim, s->scale);
  /* Room above the highest point for the key. */
  double top = 1;
  for (int i = 0; i < s->n_rho * N_FORMS; i++) {
    if (runs[i].bound > top) top = runs[i].bound;
    if ((double)runs[i].iterations > top) top = (double)runs[i].iterations;
  }
  /* The correlations on an axis of 1 / (1 - rho), labelled with rho. */
  fprintf(f, "set logscale x\nset xtics (");
  for (int i = 0; i < s->n_rho; i++)
    fprintf(f, "%s\"%g\" %.17g", i ? ", " : "", s->rho[i], 1 / (1 - s->rho[i]));
  fprintf(f, ")\nset xlabel \"correlation ρ (axis: 1/(1 − ρ), log)\"\n"
             "set offsets graph 0.05, graph 0.05, 0, 0\n");
  fprintf(f,
          "set title \"iterations of GD at step 1/L to a relative gap %g\"\n"
          "set logscale y\nset yrange [0.5:%g]\nset ylabel \"iterations (log)\"\n"
          "set key top left box opaque\n",
          s->eps, 1000 * top);
  for (int k = 0; k < N_FORMS; k++)
    fprintf(f,
            "%s'whitening-iterations.csv' index %d skip %d using 4:6 with linespoints lw 2 pt %d "
            "dt %d lc rgb \"%s\" title \"%s\"",
            k ? ", \\\n     " : "plot ", k, k ? 0 : 1, 7 + 2 * (k == 3), 1 + (k == 3), lab_color(k),
            form_names[k]);
  for (int k = 0; k < 2; k++)
    fprintf(f,
            ", \\\n     'whitening-iterations.csv' index %d skip %d using 4:8 with lines dt 2 "
            "lc rgb \"%s\" title \"%s: κ/2 ln(1/ε)\"",
            k, k ? 0 : 1, lab_color(k), form_names[k]);
  fprintf(f, "\nset title \"condition number κ of the Hessian X^{T}X/n\"\n"
             "set ylabel \"κ (log)\"\nset yrange [0.5:*]\n");
  for (int k = 0; k < N_FORMS; k++)
    fprintf(f,
            "%s'whitening-iterations.csv' index %d skip %d using 4:($5 - 1 < 1e-3 ? 1 : $5) "
            "with linespoints lw 2 pt %d ps 1.2 dt %d lc rgb \"%s\" title \"%s\"",
            k ? ", \\\n     " : "plot ", k, k ? 0 : 1, 7 + 2 * (k == 3), 1 + (k == 3), lab_color(k),
            form_names[k]);
  fprintf(f,
          "\nunset xtics\nset xtics\nunset offsets\n"
          "set title \"relative gap (f − f*)/(f_0 − f*) against t at ρ = %g\"\n"
          "set format x \"10^{%%L}\"\nset xlabel \"iteration t (log)\"\nset ylabel \"relative gap "
          "(log)\"\n"
          "set yrange [1e-16:3]\nset key bottom left box opaque\n",
          s->rho[last]);
  for (int k = 0; k < N_FORMS; k++)
    fprintf(f,
            "%s'whitening-curves.csv' index %d skip %d using ($3 + 1):4 with linespoints lw 2 "
            "pt %d dt %d lc rgb \"%s\" title \"%s (t + 1 on the axis)\"",
            k ? ", \\\n     " : "plot ", k, k ? 0 : 1, 7 + 2 * (k == 3), 1 + (k == 3), lab_color(k),
            form_names[k]);
  fprintf(f, "\nset yrange [*:*]\nunset multiplot\n");
  return lab_gp_close(f, "whitening", res);
}

static int whitening_run_all(const lab_args *a, const char *dir, lab_result *res) {
  whitening_setup s;
  int64_t seed;
  int rc = lab_arg_list(a, "rho", 0, 0.999, 1, LAB_MAX_LIST, s.rho, &s.n_rho);
  if (!rc) rc = lab_arg_int(a, "dim", 2, 200, &s.dim);
  if (!rc) rc = lab_arg_int(a, "n", 2, 1000000, &s.n);
  if (!rc) rc = lab_arg_double(a, "scale", 1, 1000, &s.scale);
  if (!rc) rc = lab_arg_double(a, "eps", 1e-12, 0.5, &s.eps);
  if (!rc) rc = lab_arg_int(a, "iters", 1, 100000000, &s.iters);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT64_MAX, &seed);
  if (rc) return rc;
  if (s.n < 2 * s.dim)
    return descent_fail(DESCENT_EINVAL,
                        "--n: %lld examples for %lld features: need at least twice as many "
                        "examples as features for a well-defined covariance",
                        (long long)s.n, (long long)s.dim);
  /* Each rho runs four forms: the normal equations cost n dim^2 each, and
     the raw and standardized forms may run all --iters steps of dim^2 each;
     bounded to about a minute in all. */
  const double per_rho = (double)s.dim * (double)s.dim * (double)s.n_rho;
  if ((double)s.n * per_rho > 1e10)
    return descent_fail(DESCENT_EINVAL,
                        "--n: %lld examples of %lld features for %d rho values are too many "
                        "(n dim^2 times the rho values at most 1e10)",
                        (long long)s.n, (long long)s.dim, s.n_rho);
  if ((double)s.iters * per_rho > 2e10)
    return descent_fail(DESCENT_EINVAL,
                        "--iters: %lld iterations in %lld dimensions for %d rho values are too "
                        "many (iters dim^2 times the rho values at most 2e10)",
                        (long long)s.iters, (long long)s.dim, s.n_rho);
  s.seed = (uint64_t)seed;
  lab_table *t = lab_result_table(
      res, "whitening",
      "Least squares on correlated features: the Hessian's condition number and the iterations "
      "of gradient descent at 1/L",
      "run|form|rho|kappa|kappa - 1|iterations|predicted|kappa/2 ln(1/eps)");
  if (!t) return DESCENT_ERANGE;
  whitening_run *runs = calloc((size_t)s.n_rho * N_FORMS, sizeof *runs);
  double *y = malloc((size_t)s.n * sizeof *y);
  if (!runs || !y) {
    free(runs), free(y);
    return descent_fail(DESCENT_ENOMEM, "whitening: out of memory");
  }
  for (int i = 0; i < s.n_rho && !rc; i++) {
    descent_dataset raw;
    rc = make_data(&s, s.rho[i], &raw, y);
    for (int k = 0; k < N_FORMS && !rc; k++) {
      descent_dataset in;
      rc = form_inputs(&raw, k, &in);
      if (!rc) rc = run_form(&s, &in, y, &runs[i * N_FORMS + k]);
      descent_free_real(in.x);
      if (rc) break;
      const whitening_run *r = &runs[i * N_FORMS + k];
      int row = lab_table_row(t, "%s, rho=%g", form_names[k], s.rho[i]);
      lab_table_text(t, row, "form", "%s", form_names[k]);
      lab_table_num(t, row, "rho", s.rho[i]);
      lab_table_num(t, row, "kappa", r->kappa);
      lab_table_num(t, row, "kappa - 1", r->kappa - 1);
      if (r->iterations >= 0)
        lab_table_num(t, row, "iterations", (double)r->iterations);
      else
        lab_table_text(t, row, "iterations", "never (> %lld)", (long long)s.iters);
      if (r->predicted >= 0)
        lab_table_num(t, row, "predicted", (double)r->predicted);
      else
        lab_table_text(t, row, "predicted", "> %lld", (long long)s.iters);
      lab_table_num(t, row, "kappa/2 ln(1/eps)", r->bound);
    }
    if (raw.x) descent_dataset_free(&raw);
  }
  if (!rc) {
    const int last = s.n_rho - 1;
    const whitening_run *raw = &runs[last * N_FORMS], *st = raw + 1, *zca = raw + 3;
    lab_result_note(res,
                    "at rho = %g: kappa %.3g raw, %.3g standardized (population (1 + (d-1) rho) "
                    "/ (1 - rho) = %.3g), %.9f zca",
                    s.rho[last], raw->kappa, st->kappa,
                    (1 + (double)(s.dim - 1) * s.rho[last]) / (1 - s.rho[last]), zca->kappa);
    lab_result_note(res,
                    "gradient descent at 1/L needs about kappa/2 ln(1/eps) iterations (the "
                    "'predicted' column sums the spectrum exactly); whitened inputs make H = I: "
                    "one step whatever rho");
    lab_result_note(res, "standardizing removes the feature scales (the gap between raw and "
                         "standardized at rho = 0) but not the correlation, which only "
                         "whitening removes");
  }
  if (!rc && dir) rc = whitening_files(dir, res, &s, runs);
  free(runs), free(y);
  return rc;
}

const lab_demo lab_demo_whitening = {
    "whitening",
    "slide 31",
    "a linear model on correlated, unequally scaled features: raw, standardized, PCA- and "
    "ZCA-whitened inputs, the Hessian's condition number and gradient descent's iterations",
    whitening_options,
    sizeof whitening_options / sizeof whitening_options[0],
    whitening_run_all,
    "Whitening helps a linear model: with whitened inputs the Hessian X^T X / n is the "
    "identity, so gradient descent converges at once whatever the correlation between "
    "features.",
    "kappa and the iterations of raw and standardized inputs grow like 1 / (1 - rho) (and raw "
    "ones by the scales' square too), matching kappa/2 ln(1/eps); PCA and ZCA stay at kappa = 1 "
    "and one iteration for every rho.",
    NULL,
};
