/*
 * demo_escape.c - the slow places that are not minima (slide 27): a saddle
 * point and a plateau, and how long the lecture's optimizers (gradient
 * descent, momentum, Nesterov, Adagrad, RMSprop, Adam) and gradient descent
 * with added noise take to leave them.
 *
 * On the saddle f = x^2 - y^2, a start on the stable manifold y = 0 has no
 * gradient across it: gradient descent (and every method here, whose steps are
 * made of gradients) slides into the saddle and stays, while the smallest
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

enum { MAX_ESCAPE_RUNS = 10 };

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

/* The picture: one small contour panel per run (on the saddle most paths
   coincide along the x axis, and one would hide another), each titled in
   its run's colour, beside the panel of each run's value against t. */
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
  /* Rows as high as the window's shape needs: square panels for the saddle,
     flat ones for the long plateau. */
  double aspect = (hi[0] - lo[0]) / (hi[1] - lo[1]);
  int cols = e->n_runs <= 4 ? 2 : 3, rows = (e->n_runs + cols - 1) / cols;
  int row_px = (int)fmin(330, 0.58 * 1800 / cols / aspect + 90), height = row_px * rows + 120;
  f = lab_gp_open(dir, e->name, 1800, height, e->title, res);
  if (!f) return DESCENT_EIO;
  int64_t longest = 1;
  for (int i = 0; i < e->n_runs; i++)
    if (tr[i].steps > longest) longest = tr[i].steps;
  char shown[64] = "every iterate";
  if (e->show < longest)
    snprintf(shown, sizeof shown, "the first %lld iterates", (long long)e->show);
  fprintf(f,
          "set multiplot title \"%s\\n%s: %s of each run, one panel per run\" "
          "font \",14\"\n",
          e->title, info->spec, shown);
  /* The grid of paths takes the left 58%% of the picture below the title;
     the values the rest. */
  double top = 1 - 80.0 / height, w = 0.58 / cols, h = top / rows;
  for (int i = 0; i < e->n_runs; i++) {
    fprintf(f, "set origin %.4f,%.4f\nset size %.4f,%.4f\n", w * (i % cols),
            top - h * (1 + i / cols), w, h);
    lab_gp_panel_2d(f, e->runs[i].label, lo, hi);
    /* the title in the run's colour names it: no key to crowd a small panel */
    fprintf(f, "set title tc rgb \"%s\"\nunset key\nunset xlabel\nunset ylabel\n", lab_color(i));
    lab_gp_contour_lines(f, 1, contours);
    lab_gp_path(f, 0, name, i, e->runs[i].label, lab_color(i), 0, e->show);
    fprintf(f, "\n");
  }
  fprintf(f, "set origin 0.6,0\nset size 0.4,%.4f\nset title tc default\n", top);
  /* On the plateau f is 1 minus a tiny number: 1 - f on a log scale shows
     how slowly each run climbs out of it; on the saddle f itself does. */
  if (info->bounded)
    fprintf(
        f,
        "set title \"1 - f per iteration, log scale: flat on the plateau; escaped once "
        ">= %g (dashed)\"\n"
        "set size noratio\nunset logscale\nset logscale xy\nset format y \"10^{%%T}\"\n"
        "set xrange [1:%lld]\nset yrange [*:1.5]\nset xlabel \"iteration t\"\n"
        "set ylabel \"1 - f(θ_{t})\"\nset key inside top left vertical\n"
        "set arrow 1 from graph 0, first %g to graph 1, first %g nohead dt 2 lc rgb \"black\"\n",
        1 - info->escape_value, (long long)(2 * longest), 1 - info->escape_value,
        1 - info->escape_value);
  else {
    /* The values in the top 70% of the panel, the key in the room below */
    double f_lo = info->escape_value, f_hi = info->escape_value;
    for (int i = 0; i < e->n_runs; i++)
      for (int64_t t = 0; t <= tr[i].steps; t++)
        if (isfinite(tr[i].values[t]) && fabs(tr[i].values[t]) < 1e3) {
          f_lo = fmin(f_lo, tr[i].values[t]);
          f_hi = fmax(f_hi, tr[i].values[t]);
        }
    fprintf(f, "set yrange [%.6g:%.6g]\n", f_hi - (f_hi - f_lo) / 0.7, f_hi + 0.02 * (f_hi - f_lo));
    fprintf(
        f,
        "set title \"f per iteration; a run has escaped once f <= %g (dashed)\"\n"
        "set size noratio\nunset logscale\n%sset xrange [%s:%lld]\n"
        "set xlabel \"iteration t\"\nset ylabel \"f(θ_{t})\"\nset key inside bottom left vertical\n"
        "set arrow 1 from graph 0, first %g to graph 1, first %g nohead dt 2 lc rgb \"black\"\n",
        info->escape_value, e->log_time ? "set logscale x\n" : "", e->log_time ? "1" : "0",
        (long long)(e->log_time ? 2 * longest : longest), info->escape_value, info->escape_value);
  }
  for (int i = 0; i < e->n_runs; i++)
    fprintf(f,
            "%s'%s' using ($1==%d && $3>%d ? $3 : NaN):(%s) with lines lw 2 lc rgb \"%s\" "
            "title \"%s\"",
            i ? ", \\\n     " : "plot ", name, i, e->log_time ? 0 : -1,
            info->bounded ? "1 - $6" : "$6", lab_color(i), e->runs[i].label);
  fprintf(f, "\nunset arrow 1\nset format y \"%%g\"\n");
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
/* adaptive_lr: Adam's, Adagrad's and RMSprop's steps. */
static int read_common(const lab_args *a, escape_setup *e, double *lr, double *mu,
                       double *adaptive_lr, double *noise, double *start) {
  int64_t seed;
  int rc = lab_arg_double(a, "lr", 1e-9, 1e3, lr);
  if (!rc) rc = lab_arg_double(a, "momentum", 0, 0.999999, mu);
  if (!rc) rc = lab_arg_double(a, "adagrad-lr", 1e-9, 1e3, &adaptive_lr[1]);
  if (!rc) rc = lab_arg_double(a, "rmsprop-lr", 1e-9, 1e3, &adaptive_lr[2]);
  if (!rc) rc = lab_arg_double(a, "adam-lr", 1e-9, 1e3, adaptive_lr);
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
    {"adagrad-lr", "ALPHA", "0.1", "step of Adagrad"},
    {"rmsprop-lr", "ALPHA", "0.01", "step of RMSprop"},
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
                             "perturbation escapes (slide 27)",
                    .log_time = 1};
  double lr, mu, adaptive_lr[3], noise, delta, s[2];
  int rc = read_common(a, &e, &lr, &mu, adaptive_lr, &noise, s);
  if (!rc) rc = lab_arg_double(a, "perturb", 0, 1e3, &delta);
  if (rc) return rc;
  char momentum[64], nesterov[80], num[LAB_NUM];
  snprintf(momentum, sizeof momentum, "sgd(momentum=%s)", lab_num(num, mu));
  snprintf(nesterov, sizeof nesterov, "sgd(momentum=%s, nesterov=1)", num);
  double y = s[1] + delta;
  add_run(&e, "gd, on the manifold", "sgd", lr, s[0], s[1], 0);
  add_run(&e, "gd, perturbed", "sgd", lr, s[0], y, 0);
  add_run(&e, "momentum, perturbed", momentum, lr, s[0], y, 0);
  add_run(&e, "nesterov, perturbed", nesterov, lr, s[0], y, 0);
  add_run(&e, "adagrad, perturbed", "adagrad", adaptive_lr[1], s[0], y, 0);
  add_run(&e, "rmsprop, perturbed", "rmsprop", adaptive_lr[2], s[0], y, 0);
  add_run(&e, "adam, perturbed", "adam", adaptive_lr[0], s[0], y, 0);
  add_run(&e, "adam, on the manifold", "adam", adaptive_lr[0], s[0], s[1], 0);
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
    "slide 27",
    "the lecture's optimizers and gradient noise at the saddle of x^2 - y^2: time to escape",
    saddle_options,
    sizeof saddle_options / sizeof saddle_options[0],
    saddle_run,
    "In high dimension saddle points, not bad minima, are what slows optimization (Dauphin et "
    "al. 2014): gradient descent started on a saddle's stable manifold is trapped, yet the "
    "smallest perturbation escapes (slide 27).",
    "Started exactly on y = 0 gradient descent and Adam stop at the saddle (f = 0, stuck); "
    "perturbed by 1e-6, gradient descent escapes after ln(1e6)/ln(1 + 2 alpha) = 76 steps, "
    "momentum and Nesterov sooner, the adaptive methods (whose steps do not shrink with the "
    "tiny gradient across) sooner still, and gradient noise alone gets out without any "
    "perturbation. One panel per run: the paths coincide along the x axis.",
    NULL,
};

/* ---- plateau ------------------------------------------------------------------- */

static const lab_option plateau_options[] = {
    {"lr", "ALPHA", "1", "step of gradient descent and momentum (the well's curvature is 1)"},
    {"momentum", "MU", "0.9", "heavy-ball momentum"},
    {"adagrad-lr", "ALPHA", "0.1", "step of Adagrad"},
    {"rmsprop-lr", "ALPHA", "0.01", "step of RMSprop"},
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
                             "(slide 27)",
                    .log_time = 1};
  double lr, mu, adaptive_lr[3], noise, s[2];
  int rc = read_common(a, &e, &lr, &mu, adaptive_lr, &noise, s);
  if (rc) return rc;
  char momentum[64], nesterov[80], num[LAB_NUM];
  snprintf(momentum, sizeof momentum, "sgd(momentum=%s)", lab_num(num, mu));
  snprintf(nesterov, sizeof nesterov, "sgd(momentum=%s, nesterov=1)", num);
  add_run(&e, "gd", "sgd", lr, s[0], s[1], 0);
  add_run(&e, "momentum", momentum, lr, s[0], s[1], 0);
  add_run(&e, "nesterov", nesterov, lr, s[0], s[1], 0);
  add_run(&e, "adagrad", "adagrad", adaptive_lr[1], s[0], s[1], 0);
  add_run(&e, "rmsprop", "rmsprop", adaptive_lr[2], s[0], s[1], 0);
  add_run(&e, "adam", "adam", adaptive_lr[0], s[0], s[1], 0);
  add_run(&e, "gd + noise", "sgd", lr, s[0], s[1], noise);
  rc = escape_run_all(&e, dir, res);
  if (!rc)
    lab_result_note(res,
                    "Adagrad, RMSprop and Adam divide by the gradient's own size, so their steps "
                    "are about alpha long however flat the plateau; momentum multiplies gradient "
                    "descent's speed by up to 1/(1 - mu) = %g.",
                    1 / (1 - mu));
  return rc;
}

const lab_demo lab_demo_plateau = {
    "plateau",
    "slide 27",
    "the lecture's optimizers and gradient noise on a plateau: time to reach the well",
    plateau_options,
    sizeof plateau_options / sizeof plateau_options[0],
    plateau_run,
    "Plateaus slow optimization: the gradient there is tiny, so methods whose steps are "
    "proportional to it crawl, while momentum gathers speed and the adaptive methods divide "
    "the gradient by its own size (slide 27).",
    "On the log scale of 1 - f the plateau is the long flat stretch at the start: gradient "
    "descent stays on it for over a thousand iterations, momentum and Nesterov about 8 times "
    "fewer (at most 1/(1 - mu) = 10), and Adagrad, RMSprop and Adam, whose steps do not "
    "shrink with the gradient, cross it in a few tens of steps (the table's escape times).",
    NULL,
};
