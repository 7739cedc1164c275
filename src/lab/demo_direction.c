/*
 * demo_direction.c - one step size per direction (slide 30): gradient
 * descent, Adagrad and Adam in the ill-conditioned valley, first with its
 * axes along the coordinates, then turned.
 *
 * Adagrad and Adam divide each coordinate of the gradient by its own running
 * size, which undoes a bad scaling of the coordinates. When the valley's axes
 * are the coordinates' that is all of the conditioning, and both cross the
 * valley in a few steps; turned by 45 degrees, the curvature is no longer a
 * property of single coordinates and most of the advantage is gone, while
 * gradient descent does not notice the rotation at all.
 */
#include "lab.h"

#include <string.h>

static const lab_option direction_options[] = {
    {"kappa", "K", "100", "condition number of the valley"},
    {"angle", "DEGREES", "45", "rotation of the turned valley (the other has 0)"},
    {"lr", "GD,ADAGRAD,ADAM", "1,1,0.1", "step of each method"},
    {"start", "X,Y", "auto", "start point (auto: 1 across the valley, 3 along it)"},
    {"iters", "N", "3000", "most iterations per run"},
    {"eps", "EPS", "1e-6", "converged once f - f* <= eps (f(theta0) - f*)"},
    {"show", "N", "60", "iterates drawn per path"},
};

enum { N_DIR_METHODS = 3 };
static const char *const method_names[N_DIR_METHODS] = {"gd", "adagrad", "adam"};
static const char *const method_specs[N_DIR_METHODS] = {"sgd", "adagrad", "adam"};

static int direction_files(const char *dir, lab_result *res, descent_objective *const *objs,
                           descent_trace (*tr)[N_DIR_METHODS], const double *angles, double kappa,
                           int64_t show) {
  static const char *const paths[2] = {"per-direction-aligned.csv", "per-direction-turned.csv"};
  static const char *const contours[2] = {"per-direction-aligned-contours.csv",
                                          "per-direction-turned-contours.csv"};
  double lo[2][2], hi[2][2];
  int rc = DESCENT_OK;
  for (int v = 0; v < 2 && !rc; v++) {
    FILE *f = lab_file_open(dir, paths[v], res);
    if (!f) return DESCENT_EIO;
    lab_write_path_header(f, 2);
    for (int m = 0; m < N_DIR_METHODS; m++) lab_write_path(f, m, method_names[m], &tr[v][m], 1000);
    rc = lab_file_close(f, paths[v]);
    const descent_problem_info *info = descent_problem_info_get(objs[v]);
    double levels[16];
    lab_cover_paths(info, tr[v], N_DIR_METHODS, show, lo[v], hi[v]);
    int n = lab_levels_geometric(0, tr[v][0].values[0], 0.35, 16, levels);
    if (!rc) rc = lab_write_contours(objs[v], dir, contours[v], lo[v], hi[v], 161, levels, n, res);
  }
  if (rc) return rc;
  FILE *f =
      lab_gp_open(dir, "per-direction", 2000, 1000,
                  "gradient descent, Adagrad and Adam in an aligned and a turned valley", res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 2,%d title \"One step per direction: Adagrad and Adam undo a "
          "bad scaling of the coordinates, not a rotation (slide 30, κ = %g)\" font \",14\"\n",
          N_DIR_METHODS + 1, kappa);
  for (int v = 0; v < 2; v++) {
    char title[160];
    /* one panel per method: in the turned valley their paths coincide */
    for (int m = 0; m < N_DIR_METHODS; m++) {
      snprintf(title, sizeof title, "%s, valley at %g degrees: first %lld iterates",
               method_names[m], angles[v], (long long)show);
      lab_gp_panel_2d(f, title, lo[v], hi[v]);
      lab_gp_contour_lines(f, 1, contours[v]);
      lab_gp_path(f, 0, paths[v], m, method_names[m], lab_color(m), 4, show);
      fprintf(f, "\n");
    }
    int64_t xmax = 0;
    for (int m = 0; m < N_DIR_METHODS; m++)
      if (tr[v][m].steps > xmax) xmax = tr[v][m].steps;
    snprintf(title, sizeof title, "valley at %g degrees: f - f* per iteration", angles[v]);
    lab_gp_panel_gap(f, title, xmax, 0);
    for (int m = 0; m < N_DIR_METHODS; m++)
      lab_gp_gap(f, m == 0, paths[v], m, method_names[m], lab_color(m), 2);
    lab_gp_panel_end(f);
  }
  return lab_gp_close(f, "per-direction", res);
}

/* The animation: the aligned and the turned valley side by side, the three
   methods racing in each. */
static int direction_animation(const char *dir, lab_result *res, const double *angles,
                               double kappa) {
  static const char *const paths[2] = {"per-direction-aligned.csv", "per-direction-turned.csv"};
  static const char *const contours[2] = {"per-direction-aligned-contours.csv",
                                          "per-direction-turned-contours.csv"};
  lab_animation anim;
  lab_anim_init(&anim, 2, -1, "One step per direction, κ = %g (%s)", kappa,
                lab_demo_per_direction.slides);
  for (int v = 0; v < 2; v++) {
    lab_anim_panel *p =
        lab_anim_panel_add(&anim, contours[v], paths[v], "valley at %g degrees", angles[v]);
    for (int m = 0; m < N_DIR_METHODS; m++) lab_anim_run(p, m, m, method_names[m]);
  }
  return lab_gp_animation(dir, "per-direction", &anim, res);
}

static int direction_run(const lab_args *a, const char *dir, lab_result *res) {
  double kappa, angle, lr[N_DIR_METHODS], eps;
  int n;
  int64_t iters, show;
  int rc = lab_arg_double(a, "kappa", 1, 1e8, &kappa);
  if (!rc) rc = lab_arg_double(a, "angle", -360, 360, &angle);
  if (!rc) rc = lab_arg_list(a, "lr", 1e-9, 1e3, N_DIR_METHODS, N_DIR_METHODS, lr, &n);
  if (!rc) rc = lab_arg_int(a, "iters", 1, 10000000, &iters);
  if (!rc) rc = lab_arg_double(a, "eps", 1e-15, 0.5, &eps);
  if (!rc) rc = lab_arg_int(a, "show", 2, 100000, &show);
  double start_xy[2];
  const double *start = NULL; /* NULL: each problem's own start */
  if (!rc) rc = lab_arg_start_or_auto(a, start_xy, &start);
  if (rc) return rc;
  double angles[2] = {0, angle};
  descent_objective *objs[2] = {NULL, NULL};
  descent_trace tr[2][N_DIR_METHODS];
  memset(tr, 0, sizeof tr);
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = iters;
  o.eps = eps;
  o.record_params = 1;
  lab_table *t = lab_result_table(res, "per-direction",
                                  "Iterations to reach eps in the valley, aligned with the axes "
                                  "and turned",
                                  "run|angle|lr|iters to eps|final f");
  if (!t) rc = DESCENT_ERANGE;
  for (int v = 0; v < 2 && !rc; v++) {
    rc = lab_problem(&objs[v], "quad2d(kappa=%.17g, angle=%.17g)", kappa, angles[v]);
    for (int m = 0; m < N_DIR_METHODS && !rc; m++) {
      rc = lab_run(objs[v], method_specs[m], lr[m], start, &o, &tr[v][m]);
      if (rc) break;
      int row = v ? lab_table_row(t, "%s, turned", method_names[m])
                  : lab_table_row(t, "%s, aligned", method_names[m]);
      lab_table_num(t, row, "angle", angles[v]);
      lab_table_num(t, row, "lr", lr[m]);
      lab_table_iterations(t, row, "iters to eps", &tr[v][m]);
      lab_table_num(t, row, "final f", tr[v][m].values[tr[v][m].steps]);
    }
  }
  if (!rc)
    lab_result_note(res, "Adagrad and Adam scale each coordinate by its own gradient history: "
                         "exact for an aligned valley, a poor guess for a turned one.");
  if (!rc && dir) rc = direction_files(dir, res, objs, tr, angles, kappa, show);
  if (!rc && dir) rc = direction_animation(dir, res, angles, kappa);
  for (int v = 0; v < 2; v++) {
    for (int m = 0; m < N_DIR_METHODS; m++) descent_trace_free(&tr[v][m]);
    descent_objective_free(objs[v]);
  }
  return rc;
}

const lab_demo lab_demo_per_direction = {
    "per-direction",
    "slide 30",
    "gradient descent, Adagrad and Adam in an ill-conditioned valley, aligned and turned",
    direction_options,
    sizeof direction_options / sizeof direction_options[0],
    direction_run,
    "Estimating the curvature in each direction and taking one step per direction (Adagrad, "
    "Adam) fixes conditioning, but only when the valley's axes are the coordinates (slide "
    "30).",
    "Aligned with the axes, Adagrad and Adam cross the kappa = 100 valley more than ten times "
    "faster than gradient descent; turned by 45 degrees their advantage is mostly gone, while "
    "gradient descent takes the same number of iterations either way (it does not see the "
    "rotation).",
    NULL,
};
