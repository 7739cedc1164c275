/*
 * demo_1d.c - the lecture's one-dimensional figures: small, good and large
 * steps (slides 5 to 9), and the three runs on a non-convex function (slides
 * 23 to 25).
 *
 * Each run is drawn as its iterates on the curve of f, numbered and joined by
 * segments, as the slides draw them; the tables give what the picture shows
 * in numbers: iterations to reach eps, the final value, whether the run
 * diverged, and which minimum it reached.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The x range that shows a run's first `show` iterates on top of the
   function's own window, leaving out iterates that have flown far away. */
static void panel_range(const descent_trace *tr, int64_t show, const double *window, double *lo,
                        double *hi) {
  double half = 0.5 * (window[1] - window[0]), cap = 8 * half;
  double mid = 0.5 * (window[0] + window[1]);
  *lo = window[0];
  *hi = window[1];
  for (int64_t t = 0; t <= tr->steps && t < show; t++) {
    double x = tr->params[t];
    if (fabs(x - mid) > cap) break;
    if (x < *lo) *lo = x;
    if (x > *hi) *hi = x;
  }
  double pad = 0.05 * (*hi - *lo);
  *lo -= pad;
  *hi += pad;
}

/* One panel: the curve of f and a run's iterates on it. */
static void panel_1d(FILE *f, const char *title, const char *curve, const char *paths, int run,
                     const char *color, double lo, double hi, int64_t show, const char *legend,
                     const char *minima) {
  fprintf(f,
          "set title \"%s\"\nset xrange [%.6g:%.6g]\nset yrange [*:*]\nunset logscale\n"
          "set xlabel \"θ\"\nset ylabel \"f(θ)\"\nset key inside top center vertical\n",
          title, lo, hi);
  fprintf(f, "plot '%s' using 1:2 with lines lw 2 lc rgb \"#555555\" title \"f\"", curve);
  lab_gp_path(f, 0, paths, run, legend, color, 5, show);
  if (minima)
    fprintf(f,
            ", \\\n     '%s' using 2:3 with points pt 9 ps 1.6 lc rgb \"black\" "
            "title \"local minima\"",
            minima);
  fprintf(f, "\n");
}

static void outcome_text(const descent_trace *tr, char *buf, size_t cap) {
  snprintf(buf, cap, "%s",
           tr->diverged          ? "diverged"
           : tr->reached_at >= 0 ? "converged"
                                 : "not converged");
}

/* ---- step-size -------------------------------------------------------------- */

static const lab_option step_size_options[] = {
    {"lr", "SMALL,GOOD,LARGE", "0.5,1.5,6", "the three steps drawn (the lecture's 1/2, 3/2, 6)"},
    {"curvature", "L", "0.5", "curvature of the quadratic f = L/2 theta^2 (stable for lr < 2/L)"},
    {"start", "THETA0", "3", "start point of every run"},
    {"iters", "N", "1000", "most iterations per run"},
    {"eps", "EPS", "1e-6", "converged once f - f* <= eps (f(theta0) - f*)"},
    {"show", "N", "12", "iterates drawn per run"},
};

typedef struct step_run {
  int function; /* 0: quadratic, 1: logcosh */
  double lr;
  const char *label; /* size of the step, for titles */
  descent_trace tr;
} step_run;

static int step_size_files(const char *dir, lab_result *res, step_run *runs, int n_runs,
                           descent_objective *const *objs, int64_t show) {
  static const char *const fn_names[2] = {"quadratic", "logcosh"};
  FILE *f = lab_file_open(dir, "step-size-paths.csv", res);
  if (!f) return DESCENT_EIO;
  lab_write_path_header(f, 1);
  for (int i = 0; i < n_runs; i++) {
    char method[64];
    snprintf(method, sizeof method, "%s alpha=%g", fn_names[runs[i].function], runs[i].lr);
    lab_write_path(f, i, method, &runs[i].tr, 400);
  }
  int rc = lab_file_close(f, "step-size-paths.csv");
  double lo[6], hi[6], cover[2][2] = {{0, 0}, {0, 0}};
  for (int i = 0; i < 6 && !rc; i++) {
    const descent_problem_info *info = descent_problem_info_get(objs[runs[i].function]);
    double window[2] = {info->lo[0], info->hi[0]};
    panel_range(&runs[i].tr, show, window, &lo[i], &hi[i]);
    double *c = cover[runs[i].function];
    if (i % 3 == 0 || lo[i] < c[0]) c[0] = lo[i];
    if (i % 3 == 0 || hi[i] > c[1]) c[1] = hi[i];
  }
  for (int fn = 0; fn < 2 && !rc; fn++) {
    char name[64];
    snprintf(name, sizeof name, "step-size-%s.csv", fn_names[fn]);
    rc = lab_write_curve(objs[fn], dir, name, cover[fn][0], cover[fn][1], 1201, res);
  }
  if (rc) return rc;
  f = lab_gp_open(dir, "step-size", 1700, 860, "small, good and large steps (slides 5-9)", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "set multiplot layout 2,4 title \"Gradient descent: the step size decides "
             "(slides 5-9)\" font \",14\"\n");
  int64_t longest[2] = {0, 0};
  for (int i = 0; i < 6; i++) {
    step_run *r = &runs[i];
    char title[160], outcome[32], legend[64], curve[64];
    outcome_text(&r->tr, outcome, sizeof outcome);
    if (!r->tr.diverged && r->tr.reached_at < 0) snprintf(outcome, sizeof outcome, "never settles");
    if (r->tr.reached_at >= 0)
      snprintf(outcome, sizeof outcome, "%lld iterations", (long long)r->tr.reached_at);
    snprintf(title, sizeof title, "%s, α = %g (%s): %s", fn_names[r->function], r->lr, r->label,
             outcome);
    snprintf(legend, sizeof legend, "iterates, α = %g", r->lr);
    snprintf(curve, sizeof curve, "step-size-%s.csv", fn_names[r->function]);
    panel_1d(f, title, curve, "step-size-paths.csv", i, lab_color(i % 3), lo[i], hi[i], show - 1,
             legend, NULL);
    int64_t len = r->tr.steps < 60 ? r->tr.steps : 60;
    if (len > longest[r->function]) longest[r->function] = len;
    if (i % 3 == 2) { /* the row's last panel: f - f* per iteration of its three runs */
      fprintf(f,
              "set title \"%s: f - f* per iteration\"\nset xrange [0:%lld]\nset yrange [*:*]\n"
              "set logscale y\nset format y \"10^{%%T}\"\nset xlabel \"iteration t\"\n"
              "set ylabel \"f(θ_{t}) - f*\"\nset key outside right top vertical\n",
              fn_names[r->function], (long long)(longest[r->function] + 1));
      for (int k = 0; k < 3; k++) {
        snprintf(legend, sizeof legend, "α = %g", runs[i - 2 + k].lr);
        lab_gp_gap(f, k == 0, "step-size-paths.csv", i - 2 + k, legend, lab_color(k), 1);
      }
      fprintf(f, "\nset format y \"%%g\"\nunset logscale y\n");
    }
  }
  return lab_gp_close(f, "step-size", res);
}

/* The animation: the six drawn runs, each in a panel on its function's curve. */
static int step_size_animation(const char *dir, lab_result *res, step_run *runs,
                               descent_objective *const *objs, int64_t show) {
  static const char *const curves[2] = {"step-size-quadratic.csv", "step-size-logcosh.csv"};
  lab_animation anim;
  lab_anim_init(&anim, 1, -1, "Gradient descent: the step size decides (%s)",
                lab_demo_step_size.slides);
  for (int i = 0; i < 6; i++) {
    char label[64];
    snprintf(label, sizeof label, "iterates, α = %g", runs[i].lr);
    lab_anim_panel *p = lab_anim_panel_add(
        &anim, curves[runs[i].function], "step-size-paths.csv", "%s, α = %g (%s)",
        runs[i].function ? "logcosh" : "quadratic", runs[i].lr, runs[i].label);
    if (!p) break;
    lab_anim_run(p, i, i % 3, label);
    /* the window of the picture's panel: the first iterates on the curve */
    const descent_problem_info *info = descent_problem_info_get(objs[runs[i].function]);
    double window[2] = {info->lo[0], info->hi[0]};
    panel_range(&runs[i].tr, show, window, &p->lo[0], &p->hi[0]);
    p->window = 1;
  }
  return lab_gp_animation(dir, "step-size", &anim, res);
}

static int step_size_run(const lab_args *a, const char *dir, lab_result *res) {
  double lr[3], curvature, start, eps;
  int n_lr;
  int64_t iters, show;
  int rc = lab_arg_list(a, "lr", 1e-9, 1e9, 3, 3, lr, &n_lr);
  if (!rc) rc = lab_arg_double(a, "curvature", 1e-6, 1e6, &curvature);
  if (!rc) rc = lab_arg_double(a, "start", -1e6, 1e6, &start);
  if (!rc) rc = lab_arg_int(a, "iters", 1, 10000000, &iters);
  if (!rc) rc = lab_arg_double(a, "eps", 1e-15, 0.5, &eps);
  if (!rc) rc = lab_arg_int(a, "show", 2, 1000, &show);
  if (rc) return rc;
  descent_objective *objs[2] = {NULL, NULL};
  step_run runs[8];
  memset(runs, 0, sizeof runs);
  rc = lab_problem(&objs[0], "quad1d(curvature=%.17g)", curvature);
  if (!rc) rc = lab_problem(&objs[1], "logcosh");
  /* The three drawn steps on each function, then the quadratic at the edge
     of stability 2/L: just inside and just outside. */
  static const char *const sizes[3] = {"small", "good", "large"};
  for (int i = 0; i < 6; i++) runs[i] = (step_run){i / 3, lr[i % 3], sizes[i % 3], {0}};
  runs[6] = (step_run){0, 0.99 * 2 / curvature, "0.99*2/L", {0}};
  runs[7] = (step_run){0, 1.01 * 2 / curvature, "1.01*2/L", {0}};
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = iters;
  o.eps = eps;
  o.record_params = 1;
  for (int i = 0; i < 8 && !rc; i++)
    rc = lab_run(objs[runs[i].function], "sgd", runs[i].lr, &start, &o, &runs[i].tr);
  lab_table *t =
      rc ? NULL
         : lab_result_table(res, "step-size",
                            "Gradient descent from theta0 with three steps; the quadratic is "
                            "stable for alpha L < 2",
                            "run|alpha|alpha L|iters to eps|final f|final theta|outcome");
  if (!rc && !t) rc = DESCENT_ERANGE;
  for (int i = 0; i < 8 && !rc; i++) {
    step_run *r = &runs[i];
    double L = descent_problem_info_get(objs[r->function])->curvature_max;
    int row = i < 6 ? lab_table_row(t, "%s, alpha=%g", r->function ? "logcosh" : "quadratic", r->lr)
                    : lab_table_row(t, "quadratic, alpha=%s", r->label);
    char text[LAB_TEXT];
    lab_table_num(t, row, "alpha", r->lr);
    lab_table_num(t, row, "alpha L", r->lr * L);
    lab_iterations_text(&r->tr, text, sizeof text);
    if (r->tr.reached_at >= 0)
      lab_table_num(t, row, "iters to eps", (double)r->tr.reached_at);
    else
      lab_table_text(t, row, "iters to eps", "%s", text);
    lab_table_num(t, row, "final f", r->tr.values[r->tr.steps]);
    lab_table_num(t, row, "final theta", r->tr.params[r->tr.steps]);
    outcome_text(&r->tr, text, sizeof text);
    lab_table_text(t, row, "outcome", "%s", text);
  }
  if (!rc) {
    lab_result_note(res,
                    "On the quadratic each step multiplies theta - theta* by 1 - alpha L: it "
                    "converges for alpha < 2/L = %g and is fastest at alpha = 1/L = %g.",
                    2 / curvature, 1 / curvature);
    lab_result_note(res, "On logcosh the gradient never exceeds 1: a step that is too large "
                         "bounces for ever instead of diverging.");
  }
  if (!rc && dir) rc = step_size_files(dir, res, runs, 6, objs, show);
  if (!rc && dir) rc = step_size_animation(dir, res, runs, objs, show);
  for (int i = 0; i < 8; i++) descent_trace_free(&runs[i].tr);
  descent_objective_free(objs[0]);
  descent_objective_free(objs[1]);
  return rc;
}

const lab_demo lab_demo_step_size = {
    "step-size",
    "slides 5-9",
    "small, good and large steps on a quadratic and on a convex non-quadratic function",
    step_size_options,
    sizeof step_size_options / sizeof step_size_options[0],
    step_size_run,
    "Gradient descent converges for a good step, crawls with a small one and bounces away "
    "with a large one: the step size decides convergence, and what is good depends on the "
    "function (slides 5-10).",
    "On the quadratic (L = 1/2) alpha = 3/2 reaches eps in a few iterations, alpha = 1/2 "
    "crawls and alpha = 6 (alpha L = 3 > 2) diverges; the column alpha L says which, and the "
    "run at 0.99 x 2/L needs its closed-form 342 steps. On logcosh the same large step "
    "neither converges nor diverges: its gradient never exceeds 1, so the iterates bounce for "
    "ever.",
    NULL,
};

/* ---- nonconvex -------------------------------------------------------------- */

static const lab_option nonconvex_options[] = {
    {"start", "A,B,C", "0,5,0", "start point of each run (the lecture's 0, 5, 0)"},
    {"lr", "A,B,C", "0.5,0.5,2", "step of each run (the lecture's 1/2, 1/2, 2)"},
    {"iters", "N", "1000", "iterations per run"},
    {"show", "N", "40", "iterations drawn against t (the first 10 on the curve)"},
};

/* f''(x) by central differences of the gradient, which the problem computes
   exactly: h = 1e-3 leaves an error of order h^2 f''''. */
static int curvature_1d(descent_objective *obj, double x, double *out) {
  double g[2], f;
  for (int k = 0; k < 2; k++) {
    obj->params[0] = (descent_real)(x + (k ? 1e-3 : -1e-3));
    int rc = descent_objective_value_and_grad(obj, NULL, &f);
    if (rc) return rc;
    g[k] = obj->grad[0];
  }
  *out = (g[1] - g[0]) / 2e-3;
  return DESCENT_OK;
}

/* First t after which the iterates stay within tol of the last one. */
static int64_t settled_at(const descent_trace *tr, double tol) {
  double last = tr->params[tr->steps];
  int64_t t = tr->steps;
  while (t > 0 && fabs(tr->params[t - 1] - last) <= tol) t--;
  return t;
}

static int nonconvex_files(const char *dir, lab_result *res, descent_objective *obj,
                           descent_trace *tr, const double *start, const double *lr, int n,
                           int64_t show) {
  const descent_problem_info *info = descent_problem_info_get(obj);
  FILE *f = lab_file_open(dir, "nonconvex-paths.csv", res);
  if (!f) return DESCENT_EIO;
  lab_write_path_header(f, 1);
  double lo = info->lo[0], hi = info->hi[0];
  for (int i = 0; i < n; i++) {
    char method[64];
    snprintf(method, sizeof method, "theta0=%g alpha=%g", start[i], lr[i]);
    lab_write_path(f, i, method, &tr[i], 400);
    double window[2] = {info->lo[0], info->hi[0]}, a, b;
    panel_range(&tr[i], show, window, &a, &b);
    lo = a < lo ? a : lo;
    hi = b > hi ? b : hi;
  }
  int rc = lab_file_close(f, "nonconvex-paths.csv");
  if (!rc) rc = lab_write_curve(obj, dir, "nonconvex-curve.csv", lo, hi, 1201, res);
  if (!rc && !(f = lab_file_open(dir, "nonconvex-minima.csv", res))) rc = DESCENT_EIO;
  if (rc) return rc;
  fprintf(f, "minimum,theta,f\n");
  for (size_t m = 0; m < info->n_minima; m++)
    fprintf(f, "%zu,%.9g,%.9g\n", m, info->minima[m], info->minima_f[m]);
  rc = lab_file_close(f, "nonconvex-minima.csv");
  if (rc) return rc;
  f = lab_gp_open(dir, "nonconvex", 2000, 560, "three runs on a non-convex function (slides 23-25)",
                  res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 1,%d title \"Non-convex: the minimum reached depends on the "
          "start and the step (slides 23-25)\" font \",14\"\n",
          n + 1);
  /* On the curve only the first iterates: a large step's later jumps
     would tangle there; the last panel follows every run in time. */
  int64_t on_curve = show < 10 ? show : 10;
  for (int i = 0; i < n; i++) {
    double x = tr[i].params[tr[i].steps];
    int m = descent_problem_which_minimum(obj, &x, 1e-3);
    char title[160], legend[64];
    if (m >= 0)
      snprintf(title, sizeof title, "θ_{0} = %g, α = %g: ends in the minimum at %.2f", start[i],
               lr[i], x);
    else
      snprintf(title, sizeof title, "θ_{0} = %g, α = %g: ends at %.2f, not a minimum", start[i],
               lr[i], x);
    snprintf(legend, sizeof legend, "first %lld iterates, α = %g", (long long)on_curve, lr[i]);
    panel_1d(f, title, "nonconvex-curve.csv", "nonconvex-paths.csv", i, lab_color(i), lo, hi,
             on_curve - 1, legend, "nonconvex-minima.csv");
  }
  fprintf(f,
          "set title \"θ_{t} against t, the first %lld iterations; local minima dashed\"\n"
          "set xrange [0:%lld]\nset yrange [%.6g:%.6g]\nset xlabel \"iteration t\"\n"
          "set ylabel \"θ_{t}\"\nset key outside right top vertical\n",
          (long long)show, (long long)show, lo, hi);
  for (size_t m = 0; m < info->n_minima; m++)
    fprintf(f,
            "set arrow %zu from graph 0, first %.9g to graph 1, first %.9g nohead dt 2 "
            "lc rgb \"#888888\"\n",
            m + 1, info->minima[m], info->minima[m]);
  for (int i = 0; i < n; i++)
    fprintf(f,
            "%s'nonconvex-paths.csv' using ($1==%d && $3<=%lld ? $3 : NaN):4 with linespoints "
            "pt 7 ps 0.5 lw 1.5 lc rgb \"%s\" title \"θ_{0} = %g, α = %g\"",
            i ? ", \\\n     " : "plot ", i, (long long)show, lab_color(i), start[i], lr[i]);
  fprintf(f, "\nunset arrow\n");
  return lab_gp_close(f, "nonconvex", res);
}

/* The animation: each run in a panel of its own, on the curve of f. */
static int nonconvex_animation(const char *dir, lab_result *res, const double *start,
                               const double *lr, int n) {
  lab_animation anim;
  lab_anim_init(&anim, 1, -1,
                "Non-convex: the minimum reached depends on the start and the step (%s)",
                lab_demo_nonconvex.slides);
  for (int i = 0; i < n; i++) {
    char label[64];
    snprintf(label, sizeof label, "iterates, α = %g", lr[i]);
    lab_anim_panel *p = lab_anim_panel_add(&anim, "nonconvex-curve.csv", "nonconvex-paths.csv",
                                           "θ0 = %g, α = %g", start[i], lr[i]);
    lab_anim_run(p, i, i, label);
  }
  return lab_gp_animation(dir, "nonconvex", &anim, res);
}

static int nonconvex_run(const lab_args *a, const char *dir, lab_result *res) {
  double start[LAB_MAX_LIST], lr[LAB_MAX_LIST];
  int n_start, n_lr;
  int64_t iters, show;
  int rc = lab_arg_list(a, "start", -1e3, 1e3, 1, 6, start, &n_start);
  if (!rc) rc = lab_arg_list(a, "lr", 1e-9, 1e3, 1, 6, lr, &n_lr);
  if (!rc && n_start != n_lr)
    rc = descent_fail(DESCENT_EINVAL, "--start and --lr: give as many starts (%d) as steps (%d)",
                      n_start, n_lr);
  if (!rc) rc = lab_arg_int(a, "iters", 1, 10000000, &iters);
  if (!rc) rc = lab_arg_int(a, "show", 2, 1000, &show);
  if (rc) return rc;
  descent_objective *obj = NULL;
  descent_trace tr[6];
  memset(tr, 0, sizeof tr);
  rc = lab_problem(&obj, "nonconvex1d");
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = iters;
  o.record_params = 1;
  for (int i = 0; i < n_start && !rc; i++) rc = lab_run(obj, "sgd", lr[i], &start[i], &o, &tr[i]);
  lab_table *t = rc ? NULL
                    : lab_result_table(res, "nonconvex",
                                       "Gradient descent on f = theta^2/10 + sin(theta) + "
                                       "sin(2 theta + 2)/2 (minima at -7.35, -1.60, 0.88, 4.27)",
                                       "run|theta0|alpha|settled after|final theta|final f|minimum|"
                                       "global");
  if (!rc && !t) rc = DESCENT_ERANGE;
  const descent_problem_info *info = rc ? NULL : descent_problem_info_get(obj);
  for (int i = 0; i < n_start && !rc; i++) {
    double x = tr[i].params[tr[i].steps];
    int m = descent_problem_which_minimum(obj, &x, 1e-3);
    int row = lab_table_row(t, "theta0=%g, alpha=%g", start[i], lr[i]);
    lab_table_num(t, row, "theta0", start[i]);
    lab_table_num(t, row, "alpha", lr[i]);
    if (tr[i].diverged)
      lab_table_text(t, row, "settled after", "diverged");
    else
      lab_table_num(t, row, "settled after", (double)settled_at(&tr[i], 1e-3));
    lab_table_num(t, row, "final theta", x);
    lab_table_num(t, row, "final f", tr[i].values[tr[i].steps]);
    if (m >= 0) {
      lab_table_num(t, row, "minimum", info->minima[m]);
      lab_table_text(t, row, "global", "%s", info->minima[m] == info->minimizer[0] ? "yes" : "no");
    } else {
      lab_table_text(t, row, "minimum", "none");
    }
  }
  if (!rc) {
    for (size_t m = 0; m < info->n_minima && !rc; m++) {
      double x = info->minima[m], curv = NAN;
      rc = curvature_1d(obj, x, &curv);
      if (rc) break;
      lab_result_note(res, "minimum at %.4f: f = %.4f, curvature %.3f, stable for alpha < %.3f", x,
                      info->minima_f[m], curv, 2 / curv);
    }
  }
  if (!rc && dir) rc = nonconvex_files(dir, res, obj, tr, start, lr, n_start, show);
  if (!rc && dir) rc = nonconvex_animation(dir, res, start, lr, n_start);
  for (int i = 0; i < 6; i++) descent_trace_free(&tr[i]);
  descent_objective_free(obj);
  return rc;
}

const lab_demo lab_demo_nonconvex = {
    "nonconvex",
    "slides 23-25",
    "where gradient descent ends on a function with four minima: it depends on start and step",
    nonconvex_options,
    sizeof nonconvex_options / sizeof nonconvex_options[0],
    nonconvex_run,
    "On a non-convex function the minimum gradient descent reaches depends on the start and "
    "on the step: theta0 = 0 and theta0 = 5 with alpha = 1/2 end in different minima, and "
    "theta0 = 0 with alpha = 2 jumps around and lands elsewhere (slides 23-25).",
    "The table names the minimum each run ends in (-1.60, the global one; 4.27; 0.88) and "
    "when it settled. The alpha = 2 run leaps from one side of the function to the other for "
    "about 40 steps (the minima it passes are too sharp to hold a step of 2) before one "
    "catches it; the curves show each run's first 10 iterates, the last panel theta_t "
    "against t with the minima dashed.",
    NULL,
};
