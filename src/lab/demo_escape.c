/*
 * demo_escape.c - the slow places that are not minima (slide 26): a saddle
 * point and a plateau, and how long gradient descent, momentum, Adam and
 * gradient descent with added noise take to leave them.
 *
 * On the saddle f = x^2 - y^2, a start on the stable manifold y = 0 has no
 * gradient across it: gradient descent (and Adam, whose steps are made of
 * gradients) slides into the saddle and stays, while the smallest
 * perturbation grows by 1 + 2 alpha per step and escapes. On the plateau the
 * gradient is tiny but not zero: methods that do not scale their step with
 * the gradient's size cross it fast.
 */
#include "lab.h"

#include <math.h>
#include <string.h>

typedef struct escape_run {
  char label[64];
  char spec[96];
  double lr;
  double start[2];
  double noise;
} escape_run;

enum { MAX_ESCAPE_RUNS = 8 };

typedef struct escape_setup {
  const char *name;    /* demo and file stem */
  const char *problem; /* problem spec */
  const char *title;   /* of the picture */
  int log_time;        /* the value panel's time axis is logarithmic */
  escape_run runs[MAX_ESCAPE_RUNS];
  int n_runs;
  int64_t iters, show;
  uint64_t seed;
} escape_setup;

static int escape_files(const char *dir, lab_result *res, const escape_setup *e,
                        descent_objective *obj, descent_trace *tr) {
  const descent_problem_info *info = descent_problem_info_get(obj);
  char name[LAB_TEXT], contours[LAB_TEXT];
  snprintf(name, sizeof name, "%s-paths.csv", e->name);
  snprintf(contours, sizeof contours, "%s-contours.csv", e->name);
  FILE *f = lab_file_open(dir, name, res);
  if (!f) return DESCENT_EIO;
  lab_write_path_header(f, 2);
  for (int i = 0; i < e->n_runs; i++) lab_write_path(f, i, e->runs[i].label, &tr[i], 3000);
  int rc = lab_file_close(f, name);
  double lo[2] = {info->lo[0], info->lo[1]}, hi[2] = {info->hi[0], info->hi[1]}, levels[24];
  int n = 0;
  if (info->bounded) { /* the well: evenly spaced inside, then closer and closer to the rim */
    for (int k = 1; k <= 9; k++) levels[n++] = 0.1 * k;
    for (double gap = 1e-2; gap > 1e-6; gap /= 10) levels[n++] = 1 - gap;
  } else { /* the saddle: evenly spaced on both sides of its height */
    for (int k = -8; k <= 8; k++) levels[n++] = 0.25 * k;
  }
  if (!rc) rc = lab_write_contours(obj, dir, contours, lo, hi, 161, levels, n, res);
  if (rc) return rc;
  f = lab_gp_open(dir, e->name, 1700, 680, e->title, res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "set multiplot layout 1,2 title \"%s\" font \",14\"\n", e->title);
  char title[160];
  int64_t longest = 1;
  for (int i = 0; i < e->n_runs; i++)
    if (tr[i].steps > longest) longest = tr[i].steps;
  if (e->show < longest)
    snprintf(title, sizeof title, "%s: the first %lld iterates of each run", info->spec,
             (long long)e->show);
  else
    snprintf(title, sizeof title, "%s: every iterate of each run", info->spec);
  lab_gp_panel_2d(f, title, lo, hi);
  fprintf(f, "unset key\n"); /* the panel beside it names the runs */
  lab_gp_contour_lines(f, 1, contours);
  for (int i = e->n_runs - 1; i >= 0; i--) /* the first run, plain gradient descent, on top */
    lab_gp_path(f, 0, name, i, e->runs[i].label, lab_color(i), 0, e->show);
  fprintf(f, "\nset key\n");
  fprintf(f,
          "set title \"f per iteration; a run has escaped once f <= %g (dashed)\"\n"
          "set size noratio\nunset logscale\n%sset xrange [%s:%lld]\nset yrange [*:*]\n"
          "set xlabel \"iteration t\"\nset ylabel \"f(θ_t)\"\nset key %s\n"
          "set arrow 1 from graph 0, first %g to graph 1, first %g nohead dt 2 lc rgb \"black\"\n",
          info->escape_value, e->log_time ? "set logscale x\n" : "", e->log_time ? "1" : "0",
          (long long)(e->log_time ? 2 * longest : longest), "bottom left", info->escape_value,
          info->escape_value);
  for (int i = 0; i < e->n_runs; i++)
    fprintf(f,
            "%s'%s' using ($1==%d && $3>%d ? $3 : NaN):6 with lines lw 2 lc rgb \"%s\" "
            "title \"%s\"",
            i ? ", \\\n     " : "plot ", name, i, e->log_time ? 0 : -1, lab_color(i),
            e->runs[i].label);
  fprintf(f, "\nunset arrow 1\n");
  return lab_gp_close(f, e->name, res);
}

/* The animation: every run in one panel, as in the picture. */
static int escape_animation(const char *dir, lab_result *res, const escape_setup *e) {
  char paths[LAB_TEXT], contours[LAB_TEXT];
  snprintf(paths, sizeof paths, "%s-paths.csv", e->name);
  snprintf(contours, sizeof contours, "%s-contours.csv", e->name);
  lab_animation anim;
  lab_anim_init(&anim, 2, -1, "%s", e->title);
  lab_anim_panel *p = lab_anim_panel_add(&anim, contours, paths, "%s", e->problem);
  for (int i = 0; i < e->n_runs; i++) lab_anim_run(p, i, i, e->runs[i].label);
  anim.width = 1000;
  anim.height = 860;
  return lab_gp_animation(dir, e->name, &anim, res);
}

static int escape_run_all(const escape_setup *e, const char *dir, lab_result *res) {
  descent_objective *obj = NULL;
  descent_trace tr[MAX_ESCAPE_RUNS];
  memset(tr, 0, sizeof tr);
  int rc = lab_problem(&obj, "%s", e->problem);
  const descent_problem_info *info = rc ? NULL : descent_problem_info_get(obj);
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = e->iters;
  o.record_params = 1;
  o.seed = e->seed;
  lab_table *t = rc ? NULL
                    : lab_result_table(res, e->name, e->title,
                                       "run|optimizer|lr|start|escaped at|final f|final theta");
  if (!rc && !t) rc = DESCENT_ERANGE;
  for (int i = 0; i < e->n_runs && !rc; i++) {
    const escape_run *r = &e->runs[i];
    o.escape_below = info->escape_value;
    o.grad_noise = r->noise;
    rc = lab_run(obj, r->spec, r->lr, r->start, &o, &tr[i]);
    if (rc) break;
    int row = lab_table_row(t, "%s", r->label);
    lab_table_text(t, row, "optimizer", "%s%s", r->spec, r->noise > 0 ? " + noise" : "");
    lab_table_num(t, row, "lr", r->lr);
    lab_table_text(t, row, "start", "(%g, %g)", r->start[0], r->start[1]);
    if (tr[i].escaped_at >= 0)
      lab_table_num(t, row, "escaped at", (double)tr[i].escaped_at);
    else
      lab_table_text(t, row, "escaped at", "%s", tr[i].diverged ? "diverged" : "stuck");
    lab_table_num(t, row, "final f", tr[i].values[tr[i].steps]);
    const double *p = tr[i].params + 2 * tr[i].steps;
    lab_table_text(t, row, "final theta", "(%.3g, %.3g)", p[0], p[1]);
  }
  if (!rc && dir) rc = escape_files(dir, res, e, obj, tr);
  if (!rc && dir) rc = escape_animation(dir, res, e);
  for (int i = 0; i < e->n_runs; i++) descent_trace_free(&tr[i]);
  descent_objective_free(obj);
  return rc;
}

static void add_run(escape_setup *e, const char *label, const char *spec, double lr, double x,
                    double y, double noise) {
  escape_run *r = &e->runs[e->n_runs++];
  snprintf(r->label, sizeof r->label, "%s", label);
  snprintf(r->spec, sizeof r->spec, "%s", spec);
  r->lr = lr;
  r->start[0] = x;
  r->start[1] = y;
  r->noise = noise;
}

/* The options both demos share. */
static int read_common(const lab_args *a, escape_setup *e, double *lr, double *mu, double *adam_lr,
                       double *noise, double *start) {
  int64_t seed;
  int rc = lab_arg_double(a, "lr", 1e-9, 1e3, lr);
  if (!rc) rc = lab_arg_double(a, "momentum", 0, 0.999999, mu);
  if (!rc) rc = lab_arg_double(a, "adam-lr", 1e-9, 1e3, adam_lr);
  if (!rc) rc = lab_arg_double(a, "noise", 0, 1e6, noise);
  if (!rc) rc = lab_arg_int(a, "iters", 1, 10000000, &e->iters);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT64_MAX, &seed);
  if (!rc) rc = lab_arg_int(a, "show", 2, 10000000, &e->show);
  if (rc) return rc;
  e->seed = (uint64_t)seed;
  descent_objective *obj = NULL;
  rc = lab_problem(&obj, "%s", e->problem);
  if (!rc) rc = lab_arg_start(a, obj, start);
  descent_objective_free(obj);
  return rc;
}

/* ---- saddle -------------------------------------------------------------------- */

static const lab_option saddle_options[] = {
    {"lr", "ALPHA", "0.1", "step of gradient descent and momentum"},
    {"momentum", "MU", "0.9", "heavy-ball momentum"},
    {"adam-lr", "ALPHA", "0.1", "step of Adam"},
    {"perturb", "DELTA", "1e-6", "offset of the perturbed start from the stable manifold"},
    {"noise", "SIGMA", "0.01", "standard deviation of the noise added to each gradient"},
    {"start", "X,Y", "auto", "start on the manifold (auto: (1, 0))"},
    {"iters", "N", "1000", "most iterations per run"},
    {"seed", "N", "1", "seed of the noise"},
    {"show", "N", "1000", "iterates drawn per run"},
};

static int saddle_run(const lab_args *a, const char *dir, lab_result *res) {
  escape_setup e = {.name = "saddle",
                    .problem = "saddle",
                    .title = "A saddle: the stable manifold traps gradient descent; any "
                             "perturbation escapes (slide 26)",
                    .log_time = 1};
  double lr, mu, adam_lr, noise, delta, s[2];
  int rc = read_common(a, &e, &lr, &mu, &adam_lr, &noise, s);
  if (!rc) rc = lab_arg_double(a, "perturb", 0, 1e3, &delta);
  if (rc) return rc;
  char momentum[64], num[LAB_NUM];
  snprintf(momentum, sizeof momentum, "sgd(momentum=%s)", lab_num(num, mu));
  add_run(&e, "gd, on the manifold", "sgd", lr, s[0], s[1], 0);
  add_run(&e, "gd, perturbed", "sgd", lr, s[0], s[1] + delta, 0);
  add_run(&e, "momentum, perturbed", momentum, lr, s[0], s[1] + delta, 0);
  add_run(&e, "adam, perturbed", "adam", adam_lr, s[0], s[1] + delta, 0);
  add_run(&e, "adam, on the manifold", "adam", adam_lr, s[0], s[1], 0);
  add_run(&e, "gd + noise, on the manifold", "sgd", lr, s[0], s[1], noise);
  rc = escape_run_all(&e, dir, res);
  if (!rc && delta > 0 && s[1] == 0)
    lab_result_note(res,
                    "Gradient descent multiplies y by 1 + 2 alpha = %g per step: from %g it needs "
                    "ln(1/%g) / ln(%g) = %.1f steps to reach |y| = 1 (f = -1 once x is near 0).",
                    1 + 2 * lr, delta, delta, 1 + 2 * lr, log(1 / delta) / log(1 + 2 * lr));
  return rc;
}

const lab_demo lab_demo_saddle = {
    "saddle",
    "slide 26",
    "gradient descent, momentum, Adam and noise at the saddle of x^2 - y^2: time to escape",
    saddle_options,
    sizeof saddle_options / sizeof saddle_options[0],
    saddle_run,
    NULL,
    NULL,
    NULL,
};

/* ---- plateau ------------------------------------------------------------------- */

static const lab_option plateau_options[] = {
    {"lr", "ALPHA", "1", "step of gradient descent and momentum (the well's curvature is 1)"},
    {"momentum", "MU", "0.9", "heavy-ball momentum"},
    {"adam-lr", "ALPHA", "0.1", "step of Adam"},
    {"noise", "SIGMA", "0.01", "standard deviation of the noise added to each gradient"},
    {"start", "X,Y", "auto", "start on the plateau (auto: (4.4, 0.8))"},
    {"iters", "N", "100000", "most iterations per run"},
    {"seed", "N", "1", "seed of the noise"},
    {"show", "N", "100000", "iterates drawn per run"},
};

static int plateau_run(const lab_args *a, const char *dir, lab_result *res) {
  escape_setup e = {.name = "plateau",
                    .problem = "plateau",
                    .title = "A plateau: the gradient is tiny, so steps proportional to it crawl "
                             "(slide 26)",
                    .log_time = 1};
  double lr, mu, adam_lr, noise, s[2];
  int rc = read_common(a, &e, &lr, &mu, &adam_lr, &noise, s);
  if (rc) return rc;
  char momentum[64], num[LAB_NUM];
  snprintf(momentum, sizeof momentum, "sgd(momentum=%s)", lab_num(num, mu));
  add_run(&e, "gd", "sgd", lr, s[0], s[1], 0);
  add_run(&e, "momentum", momentum, lr, s[0], s[1], 0);
  add_run(&e, "adam", "adam", adam_lr, s[0], s[1], 0);
  add_run(&e, "gd + noise", "sgd", lr, s[0], s[1], noise);
  rc = escape_run_all(&e, dir, res);
  if (!rc)
    lab_result_note(res,
                    "Adam divides by the gradient's own size, so its steps are about "
                    "alpha long however flat the plateau; momentum multiplies gradient "
                    "descent's speed by up to 1/(1 - mu) = %g.",
                    1 / (1 - mu));
  return rc;
}

const lab_demo lab_demo_plateau = {
    "plateau",
    "slide 26",
    "gradient descent, momentum, Adam and noise on a plateau: time to reach the well",
    plateau_options,
    sizeof plateau_options / sizeof plateau_options[0],
    plateau_run,
    NULL,
    NULL,
    NULL,
};
