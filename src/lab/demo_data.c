/*
 * demo_data.c - the figures about data: badly scaled features and their
 * normalization (slide 16), and stochastic gradient on a finite sum with
 * constant, 1/t and fast-decaying steps (slides 17-21).
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- normalization ------------------------------------------------------------ */

static const lab_option normalization_options[] = {
    {"scale", "S1,S2,...", "1,3,10,30,100", "how many times larger the second feature is"},
    {"n", "N", "200", "examples"},
    {"seed", "N", "1", "seed of the data"},
    {"eps", "EPS", "1e-6", "converged once f - f* <= eps (f(theta0) - f*)"},
    {"iters", "N", "1000000", "most iterations per run"},
    {"draw", "S", "10", "scale drawn with its paths"},
    {"start", "X,Y", "auto", "start point (auto: the origin)"},
    {"show", "N", "100", "iterates drawn per path"},
};

/* Gradient descent with alpha = 1/L, the largest step that needs no
   knowledge beyond the largest curvature. */
static int run_gd(descent_objective *obj, const double *start, const descent_run_options *o,
                  descent_trace *tr) {
  return lab_run(obj, "sgd", 1 / descent_problem_info_get(obj)->curvature_max, start, o, tr);
}

static int normalization_files(const char *dir, lab_result *res, double scale, size_t n,
                               uint64_t seed, const double *start, const descent_run_options *opts,
                               int64_t show) {
  descent_objective *obj[2] = {NULL, NULL};
  descent_trace tr[2];
  memset(tr, 0, sizeof tr);
  descent_run_options o = *opts;
  o.record_params = 1;
  static const char *const names[2] = {"raw", "normalized"};
  static const char *const contours[2] = {"normalization-raw-contours.csv",
                                          "normalization-normalized-contours.csv"};
  FILE *f = lab_file_open(dir, "normalization-paths.csv", res);
  int rc = f ? DESCENT_OK : DESCENT_EIO;
  if (!rc) lab_write_path_header(f, 2);
  double lo[2][2], hi[2][2];
  for (int v = 0; v < 2 && !rc; v++) {
    rc = lab_problem(&obj[v], "linreg(scale=%.17g, normalize=%d, n=%zu, seed=%llu)", scale, v, n,
                     (unsigned long long)seed);
    if (!rc) rc = run_gd(obj[v], start, &o, &tr[v]);
    if (rc) break;
    lab_write_path(f, v, names[v], &tr[v], 1000);
    double levels[14];
    lab_cover_paths(descent_problem_info_get(obj[v]), &tr[v], 1, show, lo[v], hi[v]);
    /* A square window, drawn to scale: the raw valley is then as narrow as
       it is, 1/scale of its length. */
    double span = fmax(hi[v][0] - lo[v][0], hi[v][1] - lo[v][1]);
    for (int d = 0; d < 2; d++) {
      double mid = 0.5 * (lo[v][d] + hi[v][d]);
      lo[v][d] = mid - 0.5 * span;
      hi[v][d] = mid + 0.5 * span;
    }
    int k = lab_levels_geometric(tr[v].f_min, tr[v].values[0], 0.3, 14, levels);
    rc = lab_write_contours(obj[v], dir, contours[v], lo[v], hi[v], 201, levels, k, res);
  }
  if (f) {
    int rc2 = lab_file_close(f, "normalization-paths.csv");
    rc = rc ? rc : rc2;
  }
  f = rc ? NULL : lab_gp_open(dir, "normalization", 1800, 620, "normalizing the inputs", res);
  if (!rc && !f) rc = DESCENT_EIO;
  if (!rc) {
    fprintf(f, "set multiplot layout 1,3 title \"Normalization: badly scaled features make a "
               "narrow valley; standardizing them removes it (slide 16)\" font \",14\"\n");
    fprintf(f,
            "set title \"iterations of gradient descent (α = 1/L) to reach eps\"\n"
            "set size noratio\nset logscale xy\nset xrange [*:*]\nset yrange [0.8:*]\n"
            "set xlabel \"scale of the second feature\"\nset ylabel \"iterations\"\n"
            "set key top left\n"
            "plot 'normalization.csv' using 2:4 with linespoints pt 7 lw 2 lc rgb \"%s\" "
            "title \"raw features\", \\\n"
            "     'normalization.csv' using 2:6 with linespoints pt 7 lw 2 lc rgb \"%s\" "
            "title \"standardized features\"\n",
            lab_color(1), lab_color(0));
    for (int v = 0; v < 2; v++) {
      char title[160];
      snprintf(title, sizeof title, "%s features at scale %g: first %lld iterates", names[v], scale,
               (long long)show);
      lab_gp_panel_2d(f, title, lo[v], hi[v]);
      lab_gp_contour_lines(f, 1, contours[v]);
      lab_gp_path(f, 0, "normalization-paths.csv", v, "gradient descent, α = 1/L", lab_color(1 - v),
                  2, show);
      fprintf(f, "\n");
    }
    rc = lab_gp_close(f, "normalization", res);
  }
  for (int v = 0; v < 2; v++) {
    descent_trace_free(&tr[v]);
    descent_objective_free(obj[v]);
  }
  return rc;
}

/* The animation: gradient descent on the raw and on the standardized
   features, side by side. */
static int normalization_animation(const char *dir, lab_result *res, double scale) {
  static const char *const names[2] = {"raw", "normalized"};
  static const char *const contours[2] = {"normalization-raw-contours.csv",
                                          "normalization-normalized-contours.csv"};
  lab_animation anim;
  lab_anim_init(&anim, 2, -1, "Normalization: features at scale %g (%s)", scale,
                lab_demo_normalization.slides);
  for (int v = 0; v < 2; v++) {
    lab_anim_panel *p =
        lab_anim_panel_add(&anim, contours[v], "normalization-paths.csv", "%s features", names[v]);
    lab_anim_run(p, v, 1 - v, "gradient descent, α = 1/L");
  }
  return lab_gp_animation(dir, "normalization", &anim, res);
}

static int normalization_run(const lab_args *a, const char *dir, lab_result *res) {
  double scales[LAB_MAX_LIST], eps, draw;
  int n_scales;
  int64_t n, seed, iters, show;
  int rc = lab_arg_list(a, "scale", 1e-3, 1e4, 1, LAB_MAX_LIST, scales, &n_scales);
  if (!rc) rc = lab_arg_int(a, "n", 2, 1000000, &n);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT64_MAX, &seed);
  if (!rc) rc = lab_arg_double(a, "eps", 1e-15, 0.5, &eps);
  if (!rc) rc = lab_arg_int(a, "iters", 1, 100000000, &iters);
  if (!rc) rc = lab_arg_double(a, "draw", 1e-3, 1e4, &draw);
  if (!rc) rc = lab_arg_int(a, "show", 2, 100000, &show);
  double start_xy[2];
  const double *start = NULL; /* NULL: each problem's own start */
  if (!rc) rc = lab_arg_start_or_auto(a, start_xy, &start);
  if (rc) return rc;
  lab_table *t = lab_result_table(res, "normalization",
                                  "Gradient descent (alpha = 1/L) on linear regression, raw and "
                                  "standardized features",
                                  "run|scale|kappa raw|iters raw|kappa normalized|"
                                  "iters normalized|speed-up");
  if (!t) return DESCENT_ERANGE;
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = iters;
  o.eps = eps;
  for (int i = 0; i < n_scales && !rc; i++) {
    int row = lab_table_row(t, "scale=%g", scales[i]);
    lab_table_num(t, row, "scale", scales[i]);
    double count[2];
    for (int v = 0; v < 2 && !rc; v++) {
      descent_objective *obj = NULL;
      descent_trace tr;
      rc = lab_problem(&obj, "linreg(scale=%.17g, normalize=%d, n=%lld, seed=%lld)", scales[i], v,
                       (long long)n, (long long)seed);
      if (!rc) rc = run_gd(obj, start, &o, &tr);
      if (!rc) {
        const descent_problem_info *info = descent_problem_info_get(obj);
        lab_table_num(t, row, v ? "kappa normalized" : "kappa raw",
                      info->curvature_max / info->curvature_min);
        lab_table_iterations(t, row, v ? "iters normalized" : "iters raw", &tr);
        count[v] = tr.reached_at >= 0 ? (double)tr.reached_at : NAN;
        descent_trace_free(&tr);
      }
      descent_objective_free(obj);
    }
    if (!rc) lab_table_num(t, row, "speed-up", count[0] / fmax(count[1], 1));
  }
  if (!rc)
    lab_result_note(res, "The curvature along theta_j is the mean of x_j^2: scaling a feature by "
                         "s scales its curvature by s^2, and the condition number with it.");
  if (!rc && dir)
    rc = normalization_files(dir, res, draw, (size_t)n, (uint64_t)seed, start, &o, show);
  if (!rc && dir) rc = normalization_animation(dir, res, draw);
  return rc;
}

const lab_demo lab_demo_normalization = {
    "normalization",
    "slide 16",
    "iterations to reach eps against the scale of a feature, with and without normalization",
    normalization_options,
    sizeof normalization_options / sizeof normalization_options[0],
    normalization_run,
    "For a linear model the curvature along theta_j grows with the size of the feature x_j, "
    "so a badly scaled feature makes a narrow valley; normalizing the data removes it (slide "
    "16).",
    "The raw condition number grows like the square of the scale and gradient descent's "
    "iterations with it, while the standardized features need a single iteration at every "
    "scale. Drawn to scale, the raw path drops into a thin valley in one step and then crawls "
    "along it; the standardized one lands on the minimum at once.",
    NULL,
};

/* ---- stochastic ----------------------------------------------------------------- */

static const lab_option stochastic_options[] = {
    {"lr", "A,B", "0.1,0.025", "two constant steps (the first also starts the decaying ones)"},
    {"tau", "T", "50", "the 1/t schedule: lr / (1 + t/T)"},
    {"gamma", "G", "0.9", "the fast decay: lr G^t"},
    {"n", "N", "100", "terms of the finite sum"},
    {"noise", "SIGMA", "0.5", "noise of the targets (what makes the terms disagree)"},
    {"batch", "B", "1", "terms per stochastic gradient"},
    {"iters", "N", "5000", "iterations per run"},
    {"seeds", "K", "5", "runs per schedule, averaged in the table and the curves"},
    {"seed", "N", "1", "seed of the data and of the first run's draws"},
    {"start", "X,Y", "auto", "start point (auto: (-2, 4))"},
    {"show", "N", "300", "iterates drawn per path"},
};

enum { N_SCHEDULES = 5 };

typedef struct stochastic_stats {
  double early, late, moved, distance; /* means over the seeds */
} stochastic_stats;

/* Mean of the gap over t in (lo, hi]. */
static double mean_gap(const descent_trace *tr, int64_t lo, int64_t hi) {
  double sum = 0;
  for (int64_t t = lo + 1; t <= hi; t++) sum += tr->values[t] - tr->f_min;
  return sum / (double)(hi - lo);
}

static double distance(const double *a, const double *b) {
  return hypot(a[0] - b[0], a[1] - b[1]);
}

/* The gap of every seed's run at iterations spaced evenly on a log scale
   (what the picture's log axis shows evenly), for the mean and the band of
   lowest to highest over the seeds. */
enum { CURVE_POINTS = 160 };
typedef struct stochastic_curves {
  int n;                    /* grid points */
  int64_t t[CURVE_POINTS];  /* iterations, increasing, from 1 */
  double *gap[N_SCHEDULES]; /* seeds x n */
} stochastic_curves;

static void curves_grid(stochastic_curves *c, int64_t iters) {
  c->n = 0;
  for (int k = 0; k < CURVE_POINTS; k++) {
    int64_t t = (int64_t)llround(pow((double)iters, (double)k / (CURVE_POINTS - 1)));
    if (c->n == 0 || t > c->t[c->n - 1]) c->t[c->n++] = t;
  }
}

static void curves_record(stochastic_curves *c, int s, int64_t seed, const descent_trace *tr) {
  for (int k = 0; k < c->n; k++) {
    int64_t t = c->t[k] < tr->steps ? c->t[k] : tr->steps;
    c->gap[s][seed * c->n + k] = tr->values[t] - tr->f_min;
  }
}

/* run,method,t,evals,mean,min,max: evals counts gradients of single terms
   (batch per step, n for a full-batch step). */
static int curves_write(const char *dir, lab_result *res, const stochastic_curves *c,
                        char (*labels)[64], int64_t seeds, const double *evals_per_step) {
  FILE *f = lab_file_open(dir, "stochastic-curves.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "run,method,t,evals,mean,min,max\n");
  for (int s = 0; s < N_SCHEDULES; s++)
    for (int k = 0; k < c->n; k++) {
      double x[1000];
      int m = 0;
      for (int64_t j = 0; j < seeds && m < 1000; j++) x[m++] = c->gap[s][j * c->n + k];
      lab_stats st;
      lab_stats_of(x, m, &st);
      fprintf(f, "%d,%s,%lld,%.9g,%.9g,%.9g,%.9g\n", s, labels[s], (long long)c->t[k],
              (double)c->t[k] * evals_per_step[s], st.mean, st.min, st.max);
    }
  return lab_file_close(f, "stochastic-curves.csv");
}

static int stochastic_files(const char *dir, lab_result *res, descent_objective *obj,
                            descent_trace *tr, char (*labels)[64], int64_t show,
                            const stochastic_curves *curves, int64_t seeds,
                            const double *evals_per_step) {
  const descent_problem_info *info = descent_problem_info_get(obj);
  FILE *f = lab_file_open(dir, "stochastic-paths.csv", res);
  if (!f) return DESCENT_EIO;
  lab_write_path_header(f, 2);
  for (int s = 0; s < N_SCHEDULES; s++) lab_write_path(f, s, labels[s], &tr[s], 3000);
  int rc = lab_file_close(f, "stochastic-paths.csv");
  if (!rc && !(f = lab_file_open(dir, "stochastic-minimum.csv", res))) rc = DESCENT_EIO;
  if (!rc) {
    fprintf(f, "x,y,f\n%.9g,%.9g,%.9g\n", info->minimizer[0], info->minimizer[1], info->f_min);
    rc = lab_file_close(f, "stochastic-minimum.csv");
  }
  double lo[2], hi[2], levels[12];
  lab_cover_paths(info, tr, N_SCHEDULES, show, lo, hi);
  int k = lab_levels_geometric(info->f_min, tr[0].values[0], 0.4, 12, levels);
  if (!rc)
    rc = lab_write_contours(obj, dir, "stochastic-contours.csv", lo, hi, 161, levels, k, res);
  if (!rc) rc = curves_write(dir, res, curves, labels, seeds, evals_per_step);
  if (rc) return rc;
  f = lab_gp_open(dir, "stochastic", 1500, 1150, "stochastic gradient on a finite sum", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "set multiplot layout 2,2 title \"Stochastic gradient: the step must decrease, "
             "but not too fast (slides 17-21)\" font \",14\"\n");
  static const char *const readings[3] = {"keeps bouncing around the minimum", "settles",
                                          "freezes before the minimum"};
  const int drawn[3] = {0, 2, 3};
  for (int p = 0; p < 3; p++) {
    char title[160];
    snprintf(title, sizeof title, "%s: %s", labels[drawn[p]], readings[p]);
    lab_gp_panel_2d(f, title, lo, hi);
    lab_gp_contour_lines(f, 1, "stochastic-contours.csv");
    lab_gp_path(f, 0, "stochastic-paths.csv", drawn[p], labels[drawn[p]], lab_color(drawn[p]), 2,
                show);
    fprintf(f, ", \\\n     'stochastic-minimum.csv' using 1:2 with points pt 3 ps 2.5 lw 2 "
               "lc rgb \"black\" title \"minimum\"\n");
  }
  /* Against the gradients computed, so a full-batch step costs its n terms:
     the mean over the seeds, and a band from the lowest to the highest. */
  fprintf(f,
          "set title \"f - f* against gradient evaluations: mean of %lld seeds, band lowest to "
          "highest\"\nset size noratio\nunset logscale\nset logscale xy\nset xrange [1:*]\n"
          "set yrange [*:*]\nset format y \"10^{%%T}\"\nset format x \"10^{%%T}\"\n"
          "set xlabel \"gradient evaluations (terms of the sum)\"\n"
          "set ylabel \"f(θ_{t}) - f*\"\nset key inside bottom left vertical\n",
          (long long)seeds);
  for (int r = 0; r < N_SCHEDULES; r++)
    fprintf(f,
            "%s'stochastic-curves.csv' using ($1==%d ? $4 : NaN):($6 > 0 ? $6 : 1e-300):7 "
            "with filledcurves fc rgb \"%s\" fs transparent solid 0.2 noborder notitle",
            r ? ", \\\n     " : "plot ", r, lab_color(r));
  for (int r = 0; r < N_SCHEDULES; r++)
    fprintf(f,
            ", \\\n     'stochastic-curves.csv' using ($1==%d ? $4 : NaN):($5 > 0 ? $5 : NaN) "
            "with lines lw 2 lc rgb \"%s\" title \"%s\"",
            r, lab_color(r), labels[r]);
  fprintf(f, "\nset format x \"%%g\"\nset format y \"%%g\"\n");
  return lab_gp_close(f, "stochastic", res);
}

/* The animation: the constant step, 1/t and the fast decay, one panel each
   (the runs the picture draws). */
static int stochastic_animation(const char *dir, lab_result *res, char (*labels)[64]) {
  const int drawn[3] = {0, 2, 3};
  lab_animation anim;
  lab_anim_init(&anim, 2, -1, "Stochastic gradient: the step must decrease, but not too fast (%s)",
                lab_demo_stochastic.slides);
  for (int k = 0; k < 3; k++) {
    lab_anim_panel *p = lab_anim_panel_add(&anim, "stochastic-contours.csv", "stochastic-paths.csv",
                                           "%s", labels[drawn[k]]);
    lab_anim_run(p, drawn[k], drawn[k], labels[drawn[k]]);
  }
  return lab_gp_animation(dir, "stochastic", &anim, res);
}

static int stochastic_run(const lab_args *a, const char *dir, lab_result *res) {
  double lr[2], tau, gamma, noise;
  int n_lr;
  int64_t n, batch, iters, seeds, seed, show;
  int rc = lab_arg_list(a, "lr", 1e-9, 1e3, 2, 2, lr, &n_lr);
  if (!rc) rc = lab_arg_double(a, "tau", 1e-6, 1e12, &tau);
  if (!rc) rc = lab_arg_double(a, "gamma", 0, 1, &gamma);
  if (!rc) rc = lab_arg_int(a, "n", 2, 1000000, &n);
  if (!rc) rc = lab_arg_double(a, "noise", 0, 1e6, &noise);
  if (!rc) rc = lab_arg_int(a, "batch", 1, 1000000, &batch);
  if (!rc) rc = lab_arg_int(a, "iters", 20, 10000000, &iters);
  if (!rc) rc = lab_arg_int(a, "seeds", 1, 1000, &seeds);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT64_MAX, &seed);
  if (!rc) rc = lab_arg_int(a, "show", 2, 10000000, &show);
  if (rc) return rc;
  char labels[N_SCHEDULES][64], rates[N_SCHEDULES][64];
  snprintf(labels[0], 64, "constant %g", lr[0]);
  snprintf(labels[1], 64, "constant %g", lr[1]);
  snprintf(labels[2], 64, "1/t");
  snprintf(labels[3], 64, "fast decay");
  snprintf(labels[4], 64, "full batch %g", lr[0]);
  char n0[LAB_NUM], n1[LAB_NUM], n2[LAB_NUM];
  lab_num(n0, lr[0]);
  snprintf(rates[0], 64, "%s", n0);
  snprintf(rates[1], 64, "%s", lab_num(n1, lr[1]));
  snprintf(rates[2], 64, "inv(%s, tau=%s)", n0, lab_num(n2, tau));
  snprintf(rates[3], 64, "exp(%s, gamma=%s)", n0, lab_num(n2, gamma));
  snprintf(rates[4], 64, "%s", n0);
  descent_objective *obj = NULL;
  rc = lab_problem(&obj, "finite_sum(n=%lld, noise=%.17g, seed=%lld)", (long long)n, noise,
                   (long long)seed);
  if (rc) return rc;
  const descent_problem_info *info = descent_problem_info_get(obj);
  double start[2];
  rc = lab_arg_start(a, obj, start);
  descent_trace first[N_SCHEDULES]; /* the first seed's runs, drawn */
  memset(first, 0, sizeof first);
  stochastic_stats st[N_SCHEDULES];
  memset(st, 0, sizeof st);
  stochastic_curves curves;
  memset(&curves, 0, sizeof curves);
  curves_grid(&curves, iters);
  double evals_per_step[N_SCHEDULES];
  for (int s = 0; s < N_SCHEDULES; s++) {
    evals_per_step[s] = s == 4 ? (double)n : (double)batch;
    curves.gap[s] = dir ? calloc((size_t)(seeds * curves.n), sizeof(double)) : NULL;
    if (dir && !curves.gap[s] && !rc)
      rc = descent_fail(DESCENT_ENOMEM, "stochastic: out of memory");
  }
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = iters;
  o.record_params = 1;
  for (int s = 0; s < N_SCHEDULES && !rc; s++) {
    o.batch_size = s == 4 ? 0 : (size_t)batch;
    for (int64_t k = 0; k < seeds && !rc; k++) {
      descent_trace tr;
      o.seed = (uint64_t)seed + (uint64_t)k * 1000003u;
      rc = lab_run_schedule(obj, "sgd", rates[s], start, &o, &tr);
      if (rc) break;
      int64_t T = tr.steps;
      double w = 1.0 / (double)seeds;
      st[s].early += w * mean_gap(&tr, T / 4, T / 2);
      st[s].late += w * mean_gap(&tr, T / 2, T);
      st[s].moved += w * distance(tr.params + 2 * T, tr.params + 2 * (T / 2));
      st[s].distance += w * distance(tr.params + 2 * T, info->minimizer);
      if (curves.gap[s]) curves_record(&curves, s, k, &tr);
      if (k == 0)
        first[s] = tr;
      else
        descent_trace_free(&tr);
    }
  }
  lab_table *t = rc ? NULL
                    : lab_result_table(res, "stochastic",
                                       "SGD on a 2D finite sum, f - f* averaged over the seeds "
                                       "and over iterations T/4..T/2 (early) and T/2..T (late)",
                                       "run|schedule|gap early|gap late|late/early|"
                                       "moved in last half|final distance");
  if (!rc && !t) rc = DESCENT_ERANGE;
  for (int s = 0; s < N_SCHEDULES && !rc; s++) {
    int row = lab_table_row(t, "%s", labels[s]);
    lab_table_text(t, row, "schedule", "%s%s", s == 4 ? "full gradient, " : "", rates[s]);
    lab_table_num(t, row, "gap early", st[s].early);
    lab_table_num(t, row, "gap late", st[s].late);
    lab_table_num(t, row, "late/early", st[s].late / st[s].early);
    lab_table_num(t, row, "moved in last half", st[s].moved);
    lab_table_num(t, row, "final distance", st[s].distance);
  }
  if (!rc) {
    lab_result_note(res,
                    "A constant step leaves SGD at a noise floor about proportional to the "
                    "step: %.3g at %g, %.3g at %g.",
                    st[0].late, lr[0], st[1].late, lr[1]);
    lab_result_note(res,
                    "The fast decay's steps add up to %g: not enough to cross the distance "
                    "to the minimum, so it freezes %.3g away.",
                    gamma < 1 ? lr[0] / (1 - gamma) : INFINITY, st[3].distance);
  }
  if (!rc && dir)
    rc = stochastic_files(dir, res, obj, first, labels, show, &curves, seeds, evals_per_step);
  if (!rc && dir) rc = stochastic_animation(dir, res, labels);
  for (int s = 0; s < N_SCHEDULES; s++) {
    descent_trace_free(&first[s]);
    free(curves.gap[s]);
  }
  descent_objective_free(obj);
  return rc;
}

const lab_demo lab_demo_stochastic = {
    "stochastic",
    "slides 17-21",
    "SGD on a 2D finite sum with constant, 1/t and fast-decaying steps",
    stochastic_options,
    sizeof stochastic_options / sizeof stochastic_options[0],
    stochastic_run,
    "Stochastic gradient needs a decreasing step: a constant step keeps bouncing around the "
    "minimum, a 1/t step settles, and a step that decays too fast freezes before reaching it "
    "(slides 17-21).",
    "Averaged over the seeds (bands: lowest to highest run), the constant steps stall at a "
    "noise floor that shrinks with the step (late/early near 1), 1/t keeps going down below "
    "both floors, and the fast decay stops moving far from the minimum. Counted in gradient "
    "evaluations, full-batch gradient descent pays n per step and starts late, but reaches "
    "the minimum.",
    NULL,
};
