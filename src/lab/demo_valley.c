/*
 * demo_valley.c - the 2D valley of an ill-conditioned quadratic: gradient
 * descent's zig-zag (slides 13-14), and momentum against the condition number
 * (slide 33) beside the lecture's other optimizers.
 *
 * The quadratic's curvatures are L = 1 and 1/kappa, so every number here has
 * a closed form to compare with: gradient descent with alpha = 1/L needs
 * about kappa/2 ln(1/eps) iterations, heavy-ball with Polyak's tuning about
 * sqrt(kappa)/4 ln(1/eps).
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- conditioning ------------------------------------------------------------ */

static const lab_option conditioning_options[] = {
    {"kappa", "K", "100", "condition number of the valley (curvatures 1 and 1/K)"},
    {"angle", "DEGREES", "30", "rotation of the valley"},
    {"lr", "GOOD,LARGE", "1.6,1.95", "the two steps drawn (gradient descent is stable below 2)"},
    {"start", "X,Y", "auto", "start point (auto: 1 across the valley, 3 along it)"},
    {"iters", "N", "10000", "most iterations per run"},
    {"eps", "EPS", "1e-6", "converged once f - f* <= eps (f(theta0) - f*)"},
    {"show", "N", "400", "iterates drawn per run"},
};

static int conditioning_files(const char *dir, lab_result *res, descent_objective *obj,
                              descent_trace *tr, const double *lr, int64_t show, double kappa) {
  const descent_problem_info *info = descent_problem_info_get(obj);
  FILE *f = lab_file_open(dir, "conditioning-paths.csv", res);
  if (!f) return DESCENT_EIO;
  lab_write_path_header(f, 2);
  for (int i = 0; i < 2; i++) {
    char method[64];
    snprintf(method, sizeof method, "gd alpha=%g", lr[i]);
    lab_write_path(f, i, method, &tr[i], 2000);
  }
  int rc = lab_file_close(f, "conditioning-paths.csv");
  double lo[2], hi[2], levels[14];
  lab_cover_paths(info, tr, 2, show, lo, hi);
  int n = lab_levels_geometric(info->f_min, tr[0].values[0], 0.4, 14, levels);
  if (!rc)
    rc = lab_write_contours(obj, dir, "conditioning-contours.csv", lo, hi, 161, levels, n, res);
  if (rc) return rc;
  f = lab_gp_open(dir, "conditioning", 1750, 620, "gradient descent in a narrow valley", res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 1,3 title \"Conditioning: gradient descent in a valley of "
          "condition number %g (slides 13-14)\" font \",14\"\n",
          kappa);
  static const char *const names[2] = {"a good step zig-zags down the valley",
                                       "a large step oscillates across it"};
  for (int i = 0; i < 2; i++) {
    char title[160], legend[64];
    snprintf(title, sizeof title, "α = %g: %s", lr[i], names[i]);
    snprintf(legend, sizeof legend, "gradient descent, α = %g", lr[i]);
    lab_gp_panel_2d(f, title, lo, hi);
    lab_gp_contour_lines(f, 1, "conditioning-contours.csv");
    lab_gp_path(f, 0, "conditioning-paths.csv", i, legend, lab_color(i), 4, show);
    fprintf(f, "\n");
  }
  int64_t xmax = tr[0].steps > tr[1].steps ? tr[0].steps : tr[1].steps;
  lab_gp_panel_gap(f, "f - f* per iteration", xmax, 0);
  for (int i = 0; i < 2; i++) {
    char legend[32];
    snprintf(legend, sizeof legend, "α = %g", lr[i]);
    lab_gp_gap(f, i == 0, "conditioning-paths.csv", i, legend, lab_color(i), 2);
  }
  lab_gp_panel_end(f);
  return lab_gp_close(f, "conditioning", res);
}

/* The animation: each drawn step in a panel of its own, as in the picture. */
static int conditioning_animation(const char *dir, lab_result *res, const double *lr,
                                  double kappa) {
  lab_animation anim;
  lab_anim_init(&anim, 2, -1, "Gradient descent in a valley of condition number %g (%s)", kappa,
                lab_demo_conditioning.slides);
  for (int i = 0; i < 2; i++) {
    char label[64];
    snprintf(label, sizeof label, "gradient descent, α = %g", lr[i]);
    lab_anim_panel *p = lab_anim_panel_add(&anim, "conditioning-contours.csv",
                                           "conditioning-paths.csv", "α = %g", lr[i]);
    lab_anim_run(p, i, i, label);
  }
  return lab_gp_animation(dir, "conditioning", &anim, res);
}

static int conditioning_run(const lab_args *a, const char *dir, lab_result *res) {
  double kappa, angle, lr[2], eps, start[2];
  int n;
  int64_t iters, show;
  int rc = lab_arg_double(a, "kappa", 1, 1e8, &kappa);
  if (!rc) rc = lab_arg_double(a, "angle", -360, 360, &angle);
  if (!rc) rc = lab_arg_list(a, "lr", 1e-9, 1e3, 2, 2, lr, &n);
  if (!rc) rc = lab_arg_int(a, "iters", 1, 10000000, &iters);
  if (!rc) rc = lab_arg_double(a, "eps", 1e-15, 0.5, &eps);
  if (!rc) rc = lab_arg_int(a, "show", 2, 100000, &show);
  if (rc) return rc;
  descent_objective *obj = NULL;
  rc = lab_problem(&obj, "quad2d(kappa=%.17g, angle=%.17g)", kappa, angle);
  if (!rc) rc = lab_arg_start(a, obj, start);
  /* The two drawn steps, then the references: 1/L (no zig-zag), the best
     constant step 2/(L + mu), and just beyond the edge 2/L. */
  double mu = 1 / kappa;
  double steps[5] = {lr[0], lr[1], 1, 2 / (1 + mu), 1.01 * 2};
  const char *labels[5] = {"", "", "1/L", "2/(L+mu)", "1.01*2/L"};
  descent_trace tr[5];
  memset(tr, 0, sizeof tr);
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = iters;
  o.eps = eps;
  o.record_params = 1;
  for (int i = 0; i < 5 && !rc; i++) rc = lab_run(obj, "sgd", steps[i], start, &o, &tr[i]);
  lab_table *t = rc ? NULL
                    : lab_result_table(res, "conditioning",
                                       "Gradient descent on quad2d: curvatures L = 1 and mu = "
                                       "1/kappa",
                                       "run|alpha|across factor|along factor|iters to eps|final f|"
                                       "outcome");
  if (!rc && !t) rc = DESCENT_ERANGE;
  for (int i = 0; i < 5 && !rc; i++) {
    int row =
        i < 2 ? lab_table_row(t, "alpha=%g", steps[i]) : lab_table_row(t, "alpha=%s", labels[i]);
    lab_table_num(t, row, "alpha", steps[i]);
    /* per step, the offset across the valley is multiplied by 1 - alpha L
       and the one along it by 1 - alpha mu */
    lab_table_num(t, row, "across factor", 1 - steps[i]);
    lab_table_num(t, row, "along factor", 1 - steps[i] * mu);
    lab_table_iterations(t, row, "iters to eps", &tr[i]);
    lab_table_num(t, row, "final f", tr[i].values[tr[i].steps]);
    lab_table_text(t, row, "outcome", "%s",
                   tr[i].diverged          ? "diverged"
                   : tr[i].reached_at >= 0 ? "converged"
                                           : "not converged");
  }
  if (!rc)
    lab_result_note(res,
                    "The step must stay below 2/L = 2 for the steep direction, so the flat one "
                    "(curvature %g) shrinks by at least 1 - 2/kappa = %.4g per step.",
                    mu, 1 - 2 * mu);
  if (!rc && dir) rc = conditioning_files(dir, res, obj, tr, lr, show, kappa);
  if (!rc && dir) rc = conditioning_animation(dir, res, lr, kappa);
  for (int i = 0; i < 5; i++) descent_trace_free(&tr[i]);
  descent_objective_free(obj);
  return rc;
}

const lab_demo lab_demo_conditioning = {
    "conditioning",
    "slides 13-14",
    "gradient descent in a narrow 2D valley: a good step zig-zags, a large one oscillates",
    conditioning_options,
    sizeof conditioning_options / sizeof conditioning_options[0],
    conditioning_run,
    "In a narrow valley a good step zig-zags down the valley and a large one oscillates "
    "across it: the step must stay below 2/L for the steep direction, so progress along the "
    "flat one is slow (slides 13-14).",
    "At condition number 100 both paths cross the valley within a few steps and then crawl "
    "along its floor: the offset along it shrinks by only 1 - alpha/kappa per step, so the "
    "iterations to eps grow like kappa/2 ln(1/eps) (564 at alpha = 1/L, as the closed form "
    "says). 2/(L + mu) has the best rate, (kappa - 1)/(kappa + 1) per step, and a step past "
    "2/L diverges.",
    NULL,
};

/* ---- momentum ------------------------------------------------------------------ */

static const lab_option momentum_options[] = {
    {"kappa", "K1,K2,...", "10,100,1000", "condition numbers measured"},
    {"angle", "DEGREES", "30", "rotation of the valley"},
    {"eps", "EPS", "1e-6", "converged once f - f* <= eps (f(theta0) - f*)"},
    {"iters", "N", "1000000", "most iterations per run"},
    {"draw", "K", "100", "condition number of the valley drawn with its paths"},
    {"start", "X,Y", "auto", "start point (auto: 1 across the valley, 3 along it)"},
    {"show", "N", "60", "iterates drawn per path"},
};

/* The lecture's optimizers: the three of this slide, tuned to the valley,
   then momentum as usually set and the adaptive ones at their usual steps. */
enum { N_METHODS = 7, N_TUNED = 3 };
static const char *const momentum_names[N_METHODS] = {
    "gd", "heavy-ball", "nesterov", "momentum 0.9", "adagrad", "rmsprop", "adam"};

/* The optimizer of method m on a valley of condition number kappa (L = 1):
   gradient descent with 1/L; heavy-ball with Polyak's tuning; Nesterov's
   momentum with its own; an untuned momentum of 0.9 with 1/L; Adagrad,
   RMSprop and Adam at fixed steps that do not know kappa. */
static void momentum_method(int m, double kappa, char *spec, size_t cap, double *lr) {
  double s = sqrt(kappa), r = (s - 1) / (s + 1);
  char num[LAB_NUM];
  switch (m) {
  case 0:
    snprintf(spec, cap, "sgd");
    *lr = 1;
    break;
  case 1:
    snprintf(spec, cap, "sgd(momentum=%s)", lab_num(num, r * r));
    *lr = 4 / ((1 + 1 / s) * (1 + 1 / s));
    break;
  case 2:
    snprintf(spec, cap, "sgd(momentum=%s, nesterov=1)", lab_num(num, r > 0 ? r : 1e-9));
    *lr = 1;
    break;
  case 3:
    snprintf(spec, cap, "sgd(momentum=0.9)");
    *lr = 1;
    break;
  case 4:
    snprintf(spec, cap, "adagrad");
    *lr = 1;
    break;
  case 5: /* at PyTorch's 0.01 its steps, about 10 alpha long, stop shrinking and it
             hovers for ever at kappa 1000 */
    snprintf(spec, cap, "rmsprop");
    *lr = 0.001;
    break;
  default:
    snprintf(spec, cap, "adam");
    *lr = 0.1;
    break;
  }
}

/* The picture: iterations against kappa and f - f* per iteration above,
   and one small panel of paths per method below (gradient descent and
   Nesterov's first steps coincide, and heavy-ball's swings hide the rest
   when they share a panel). */
static int momentum_files(const char *dir, lab_result *res, double kappa, double angle,
                          int64_t iters, double eps, int64_t show, const double *start) {
  descent_objective *obj = NULL;
  descent_trace tr[N_METHODS];
  memset(tr, 0, sizeof tr);
  int rc = lab_problem(&obj, "quad2d(kappa=%.17g, angle=%.17g)", kappa, angle);
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = iters;
  o.eps = eps;
  o.record_params = 1;
  FILE *f = rc ? NULL : lab_file_open(dir, "momentum-paths.csv", res);
  if (!rc && !f) rc = DESCENT_EIO;
  if (!rc) lab_write_path_header(f, 2);
  for (int m = 0; m < N_METHODS && !rc; m++) {
    char spec[128];
    double lr;
    momentum_method(m, kappa, spec, sizeof spec, &lr);
    rc = lab_run(obj, spec, lr, start, &o, &tr[m]);
    if (!rc) lab_write_path(f, m, momentum_names[m], &tr[m], 1000);
  }
  if (f) {
    int rc2 = lab_file_close(f, "momentum-paths.csv");
    rc = rc ? rc : rc2;
  }
  const descent_problem_info *info = obj ? descent_problem_info_get(obj) : NULL;
  double lo[2], hi[2], levels[16];
  if (!rc) {
    lab_cover_paths(info, tr, N_METHODS, show, lo, hi);
    int n = lab_levels_geometric(0, tr[0].values[0], 0.35, 16, levels);
    rc = lab_write_contours(obj, dir, "momentum-contours.csv", lo, hi, 161, levels, n, res);
  }
  f = rc ? NULL : lab_gp_open(dir, "momentum", 1900, 1400, "momentum against conditioning", res);
  if (!rc && !f) rc = DESCENT_EIO;
  if (!rc) {
    fprintf(f, "set multiplot title \"Momentum: iterations to reach ε grow like κ for gradient "
               "descent, like √κ with tuned momentum (slide 33)\" font \",14\"\n");
    fprintf(f,
            "set origin 0,0.6\nset size 0.5,0.37\n"
            "set title \"iterations to reach f - f* <= %g (f_{0} - f*)\"\nset size noratio\n"
            "set logscale xy\nset xrange [*:*]\nset yrange [*:*]\nset format y \"%%g\"\n"
            "set xlabel \"condition number κ\"\nset ylabel \"iterations\"\n"
            "set key outside right top vertical\n",
            eps);
    for (int m = 0; m < N_METHODS; m++)
      fprintf(f,
              "%s'momentum.csv' using 2:%d with linespoints pt 7 lw 2 lc rgb \"%s\" title "
              "\"%s\"",
              m ? ", \\\n     " : "plot ", 3 + m, lab_color(m), momentum_names[m]);
    fprintf(f, "\n");
    char title[160];
    int64_t xmax = tr[0].steps;
    snprintf(title, sizeof title, "f - f* per iteration at κ = %g", kappa);
    fprintf(f, "set origin 0.5,0.6\nset size 0.5,0.37\n");
    lab_gp_panel_gap(f, title, xmax, 0);
    fprintf(f, "set key outside right top vertical\n");
    for (int m = 0; m < N_METHODS; m++)
      lab_gp_gap(f, m == 0, "momentum-paths.csv", m, momentum_names[m], lab_color(m), 2);
    lab_gp_panel_end(f);
    for (int m = 0; m < N_METHODS; m++) { /* two rows of four */
      fprintf(f, "set origin %.4f,%.4f\nset size 0.25,0.3\n", 0.25 * (m % 4), m < 4 ? 0.3 : 0.0);
      snprintf(title, sizeof title, "%s, first %lld iterates", momentum_names[m], (long long)show);
      lab_gp_panel_2d(f, title, lo, hi);
      /* the title in the method's colour names it, as in the panels above */
      fprintf(f, "set title tc rgb \"%s\"\nunset key\n", lab_color(m));
      lab_gp_contour_lines(f, 1, "momentum-contours.csv");
      lab_gp_path(f, 0, "momentum-paths.csv", m, momentum_names[m], lab_color(m), 4, show);
      fprintf(f, "\nset title tc default\n");
    }
    rc = lab_gp_close(f, "momentum", res);
  }
  for (int m = 0; m < N_METHODS; m++) descent_trace_free(&tr[m]);
  descent_objective_free(obj);
  return rc;
}

/* The animation: the drawn valley's three paths, one panel each (gradient
   descent and Nesterov's paths nearly coincide). */
static int momentum_animation(const char *dir, lab_result *res, double kappa) {
  lab_animation anim;
  lab_anim_init(&anim, 2, -1, "Momentum in a valley of condition number %g (%s)", kappa,
                lab_demo_momentum.slides);
  for (int m = 0; m < 3; m++) {
    lab_anim_panel *p = lab_anim_panel_add(&anim, "momentum-contours.csv", "momentum-paths.csv",
                                           "%s", momentum_names[m]);
    lab_anim_run(p, m, m, momentum_names[m]);
  }
  return lab_gp_animation(dir, "momentum", &anim, res);
}

static int momentum_run(const lab_args *a, const char *dir, lab_result *res) {
  double kappas[LAB_MAX_LIST], angle, eps, draw;
  int n_kappa;
  int64_t iters, show;
  int rc = lab_arg_list(a, "kappa", 1, 1e8, 2, LAB_MAX_LIST, kappas, &n_kappa);
  if (!rc) rc = lab_arg_double(a, "angle", -360, 360, &angle);
  if (!rc) rc = lab_arg_double(a, "eps", 1e-15, 0.5, &eps);
  if (!rc) rc = lab_arg_int(a, "iters", 1, 100000000, &iters);
  if (!rc) rc = lab_arg_double(a, "draw", 1, 1e8, &draw);
  if (!rc) rc = lab_arg_int(a, "show", 2, 100000, &show);
  double start_xy[2];
  const double *start = NULL; /* NULL: each problem's own start */
  if (!rc) rc = lab_arg_start_or_auto(a, start_xy, &start);
  if (rc) return rc;
  lab_table *t =
      lab_result_table(res, "momentum", "Iterations to reach eps on quad2d (L = 1, mu = 1/kappa)",
                       "run|kappa|gd|heavy-ball|nesterov|momentum 0.9|adagrad|rmsprop|adam");
  lab_table *s =
      lab_result_table(res, "momentum-slopes", "Log-log slope of the iterations against kappa",
                       "method|slope|theory");
  if (!t || !s) return DESCENT_ERANGE;
  double counts[N_METHODS][LAB_MAX_LIST];
  int complete[N_METHODS] = {1, 1, 1, 1, 1, 1, 1};
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = iters;
  o.eps = eps;
  for (int k = 0; k < n_kappa && !rc; k++) {
    descent_objective *obj = NULL;
    rc = lab_problem(&obj, "quad2d(kappa=%.17g, angle=%.17g)", kappas[k], angle);
    int row = rc ? -1 : lab_table_row(t, "kappa=%g", kappas[k]);
    lab_table_num(t, row, "kappa", kappas[k]);
    for (int m = 0; m < N_METHODS && !rc; m++) {
      char spec[128];
      double lr;
      descent_trace tr;
      momentum_method(m, kappas[k], spec, sizeof spec, &lr);
      rc = lab_run(obj, spec, lr, start, &o, &tr);
      if (rc) break;
      lab_table_iterations(t, row, momentum_names[m], &tr);
      counts[m][k] = (double)tr.reached_at;
      if (tr.reached_at <= 0) complete[m] = 0;
      descent_trace_free(&tr);
    }
    descent_objective_free(obj);
  }
  static const double theory[N_METHODS] = {1, 0.5, 0.5, NAN, NAN, NAN, NAN};
  for (int m = 0; m < N_METHODS && !rc; m++) {
    int row = lab_table_row(s, "%s", momentum_names[m]);
    if (complete[m])
      lab_table_num(s, row, "slope", lab_loglog_slope(kappas, counts[m], n_kappa));
    else
      lab_table_text(s, row, "slope", "-");
    if (m == 3)
      lab_table_text(s, row, "theory", "1 for large kappa");
    else if (isnan(theory[m]))
      lab_table_text(s, row, "theory", "none");
    else
      lab_table_num(s, row, "theory", theory[m]);
  }
  if (!rc)
    lab_result_note(res, "heavy-ball: alpha = 4/(sqrt(L) + sqrt(mu))^2, momentum ((sqrt(kappa) - "
                         "1)/(sqrt(kappa) + 1))^2; nesterov: alpha = 1/L, momentum (sqrt(kappa) "
                         "- 1)/(sqrt(kappa) + 1); gd and momentum 0.9: alpha = 1/L; adagrad 1, "
                         "rmsprop 0.001, adam 0.1 whatever kappa.");
  if (!rc && dir) rc = momentum_files(dir, res, draw, angle, iters, eps, show, start);
  if (!rc && dir) rc = momentum_animation(dir, res, draw);
  return rc;
}

const lab_demo lab_demo_momentum = {
    "momentum",
    "slide 33",
    "gradient descent, heavy-ball, Nesterov and the adaptive methods on ill-conditioned "
    "quadratics: iterations against kappa",
    momentum_options,
    sizeof momentum_options / sizeof momentum_options[0],
    momentum_run,
    "Momentum keeps a velocity, and the memory fixes bad conditioning: tuned heavy-ball and "
    "Nesterov need iterations growing like sqrt(kappa) where gradient descent needs kappa "
    "(slide 33).",
    "The log-log slopes of iterations against kappa: about 1 for gradient descent, 1/2 for "
    "heavy-ball and Nesterov; untuned momentum 0.9 and the adaptive methods at fixed steps "
    "follow no such law, and at kappa = 1000 even the best of them takes over 7 times the "
    "tuned heavy ball's 204 iterations. In the paths at kappa = 100 (one panel per method) "
    "gradient descent crawls along the valley floor, heavy-ball swings across the valley "
    "before settling, and Nesterov goes nearly straight down it.",
    NULL,
};
