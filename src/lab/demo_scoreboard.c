/*
 * demo_scoreboard.c - what a good optimizer needs (slide 29): "fast (in
 * compute time), easy to tune, handles conditioning well, handles plateaus
 * and saddle points. No algorithm does all of this today."
 *
 * The lecture's six optimizers (lab_lecture_optimizers) are scored on each
 * quality, every number measured, each at its best step from a grid:
 *
 * - speed: gradient evaluations (and CPU time) for full-batch softmax
 *   regression on Fashion-MNIST images to reach a training loss;
 * - ease of tuning: the width in decades of the rates that reach that loss
 *   in at most twice the best rate's evaluations (lab_tuning_window);
 * - conditioning: iterations to eps in the lab's valley with kappa = 1000
 *   turned by 45 degrees (gradient descent needs about kappa/2 ln(1/eps) at
 *   alpha = 1/L; momentum about sqrt(kappa); Adagrad, RMSprop and Adam,
 *   which rescale coordinates, are no help once the valley is not aligned
 *   with them: the aligned valley's count is beside it);
 * - saddle: iterations to leave x^2 - y^2 from (1, delta) (gradient descent
 *   multiplies y by 1 + 2 alpha a step: ln(1/delta) / ln(1 + 2 alpha));
 * - plateau: iterations to reach the well of the plateau problem.
 *
 * The last column counts the qualities on which an optimizer is the best or
 * within a factor 2 of it (a window within log10(2) decades of the widest):
 * no row gets all five.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const lab_option scoreboard_options[] = {
    {"speed-on", "fmnist|PROBLEM", "fmnist",
     "speed and tuning problem: softmax regression on Fashion-MNIST, or a lab problem "
     "(e.g. linreg(dim=10)) crossed once f - f* <= eps (f0 - f*)"},
    {"train", "N", "500", "training images of the softmax regression"},
    {"pool", "K", "4", "images averaged over K x K pixels first (1: full size)"},
    {"target", "LOSS", "0.7", "the training loss the speed column times"},
    {"steps", "N", "300", "most full-batch steps per speed run"},
    {"speed-lr", "A,B,...", "0.01,0.03,0.1,0.3,1,3,10,30",
     "rates of the speed and tuning columns, increasing"},
    {"within", "R", "0.5",
     "the good window: rates whose evaluations to the target are at most 1/(1 - R) x the best's"},
    {"lr", "A,B,...", "0.001,0.002,0.005,0.01,0.02,0.05,0.1,0.2,0.5,1,2,3",
     "steps tried on the valley, the saddle and the plateau, increasing"},
    {"kappa", "K", "1000", "condition number of the turned valley"},
    {"eps", "EPS", "1e-6", "the valley is crossed once f - f* <= eps (f(theta0) - f*)"},
    {"perturb", "DELTA", "1e-6", "the saddle's start is (1, DELTA): DELTA off its stable manifold"},
    {"iters", "N", "20000", "most iterations per run on the valley, the saddle and the plateau"},
    {"seed", "N", "1", "seed of the softmax regression's weights"},
    {"data-dir", "DIR", DESCENT_FASHION_MNIST_DIR, "Fashion-MNIST's folder"},
};

enum { N_OPT = LAB_LECTURE_OPTIMIZERS };

/* The scored qualities, in the table's order. */
enum { Q_SPEED, Q_TUNING, Q_VALLEY, Q_SADDLE, Q_PLATEAU, N_QUALITIES };
static const char *const quality_heads[N_QUALITIES] = {
    "fast\\nevaluations to a loss of %g", "easy to tune\\ngood window (decades)",
    "conditioning\\nturned valley, kappa %g", "saddle points\\niterations to escape",
    "plateaus\\niterations to the well"};
static const char *const quality_short[N_QUALITIES] = {"fast", "tune", "conditioning", "saddle",
                                                       "plateau"};

typedef struct score_setup {
  const char *speed_on, *dir;
  int64_t train, pool, steps, iters, seed;
  double target, within, kappa, eps, delta;
  double speed_grid[LAB_MAX_LIST], grid[LAB_MAX_LIST];
  int n_speed, n_grid;
} score_setup;

/* One speed run: gradient evaluations before the loss first reached the
   target (-1: never), the CPU time they took, the last loss. */
typedef struct speed_point {
  int64_t evals;
  double ms, final_loss;
  int diverged;
} speed_point;

/* Everything one optimizer scored. */
typedef struct score_row {
  speed_point speed[LAB_MAX_LIST];
  lab_window window;
  int has_window, best_speed; /* best_speed: index into the speed grid, -1 none */
  lab_best valley, aligned, saddle, plateau;
  double value[N_QUALITIES]; /* NAN where the optimizer failed */
  int within[N_QUALITIES];
  int count;
} score_row;

static int score_read(const lab_args *a, score_setup *s) {
  memset(s, 0, sizeof *s);
  int rc = lab_arg_int(a, "train", 10, 59000, &s->train);
  if (!rc) rc = lab_arg_int(a, "pool", 1, 28, &s->pool);
  if (!rc) rc = lab_arg_double(a, "target", 1e-9, 1e3, &s->target);
  if (!rc) rc = lab_arg_int(a, "steps", 1, 1000000, &s->steps);
  if (!rc) rc = lab_lr_grid(a, "speed-lr", s->speed_grid, &s->n_speed);
  if (!rc) rc = lab_arg_double(a, "within", 1e-6, 0.99, &s->within);
  if (!rc) rc = lab_lr_grid(a, "lr", s->grid, &s->n_grid);
  if (!rc) rc = lab_arg_double(a, "kappa", 1, 1e8, &s->kappa);
  if (!rc) rc = lab_arg_double(a, "eps", 1e-15, 0.5, &s->eps);
  if (!rc) rc = lab_arg_double(a, "perturb", 0, 1, &s->delta);
  if (!rc) rc = lab_arg_int(a, "iters", 1, 1000000, &s->iters);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT32_MAX, &s->seed);
  for (int i = 0; i < a->demo->n_options; i++) {
    if (strcmp(a->demo->options[i].name, "data-dir") == 0) s->dir = a->values[i];
    if (strcmp(a->demo->options[i].name, "speed-on") == 0) s->speed_on = a->values[i];
  }
  /* The speed column runs every optimizer at every rate for --steps full
     passes over train images of (28/pool)^2 pixels: about a minute at most. */
  const double pixels = (double)(28 / s->pool) * (double)(28 / s->pool);
  if (!rc && strcmp(s->speed_on, "fmnist") == 0 &&
      (double)s->steps * (double)s->train * pixels * s->n_speed > 1e10)
    rc = descent_fail(DESCENT_EINVAL,
                      "--steps: %lld full-batch steps on %lld images of %.0f pixels at %d rates "
                      "are too many (steps train pixels rates at most 1e10)",
                      (long long)s->steps, (long long)s->train, pixels, s->n_speed);
  return rc;
}

static int speed_on_fmnist(const score_setup *s) {
  return strcmp(s->speed_on, "fmnist") == 0;
}

static double cpu_ms(clock_t from) {
  return 1e3 * (double)(clock() - from) / CLOCKS_PER_SEC;
}

/* The training images averaged over pool x pool pixels once (a vector of
   (28/pool)^2 features each), so that every run's evaluations are the
   regression's own. */
static int pooled_set(const descent_dataset *in, int64_t pool, descent_dataset *out) {
  size_t h = in->shape.dims[in->shape.ndim - 2], w = in->shape.dims[in->shape.ndim - 1];
  size_t d = (h / (size_t)pool) * (w / (size_t)pool);
  memset(out, 0, sizeof *out);
  out->n = in->n;
  out->shape = (descent_shape){.ndim = 1, .dims = {d}};
  out->features = d;
  out->classes = in->classes;
  out->x = descent_calloc(in->n * d, sizeof *out->x, "pooled images");
  out->labels = descent_calloc(in->n, sizeof *out->labels, "labels");
  double *row = descent_calloc(d + 1, sizeof *row, "pooled image");
  int rc = out->x && out->labels && row ? DESCENT_OK : DESCENT_ENOMEM;
  for (size_t i = 0; !rc && i < in->n; i++) {
    lab_pooled_features(in, i, pool, row);
    for (size_t j = 0; j < d; j++) out->x[i * d + j] = (descent_real)row[j];
    out->labels[i] = in->labels[i];
  }
  free(row);
  if (rc) descent_dataset_free(out);
  return rc;
}

/* Full-batch softmax regression (a dense layer of 10 on the pooled
   images) from the seeded weights, timed to the target. A loss that is not
   finite or above 1e3 ends the run, diverged. */
static int speed_fmnist(const score_setup *s, const descent_dataset *train, const char *spec,
                        double lr, speed_point *p) {
  char rate[LAB_NUM];
  descent_net *net = NULL;
  descent_optimizer *opt = NULL;
  int rc = descent_net_create(&net, "dense(10)", &train->shape, DESCENT_LOSS_SOFTMAX_XENT, train->n,
                              (uint64_t)s->seed);
  /* One thread: the CPU time is the method's, not the threads' overhead. */
  if (!rc) rc = descent_net_set_threads(net, 1);
  descent_objective *obj = net ? descent_net_objective(net) : NULL;
  if (!rc) rc = descent_optimizer_create(&opt, spec, lab_num(rate, lr), obj->n_params);
  descent_batch batch = {.n = train->n, .x = train->x, .labels = train->labels};
  *p = (speed_point){.evals = -1, .ms = NAN, .final_loss = NAN};
  clock_t start = clock();
  for (int64_t t = 0; !rc; t++) {
    double loss;
    rc = descent_objective_value_and_grad(obj, &batch, &loss);
    if (rc) break;
    p->final_loss = loss;
    if (!isfinite(loss) || loss > 1e3) {
      p->diverged = 1;
      break;
    }
    if (loss <= s->target) {
      p->evals = t;
      p->ms = cpu_ms(start);
      break;
    }
    if (t == s->steps) break;
    rc = descent_optimizer_step(opt, obj);
  }
  descent_optimizer_free(opt);
  descent_net_free(net);
  return rc;
}

/* A lab problem instead: iterations to eps. */
static int speed_problem(const score_setup *s, descent_objective *obj, const char *spec, double lr,
                         speed_point *p) {
  descent_run_options o;
  descent_run_options_default(&o);
  o.iters = s->steps;
  o.eps = s->eps;
  descent_trace tr;
  memset(&tr, 0, sizeof tr);
  clock_t start = clock();
  int rc = lab_run(obj, spec, lr, NULL, &o, &tr);
  double ms = cpu_ms(start);
  if (!rc)
    *p = (speed_point){.evals = tr.reached_at,
                       .ms = tr.reached_at >= 0 ? ms : NAN,
                       .final_loss = tr.values[tr.steps],
                       .diverged = tr.diverged};
  descent_trace_free(&tr);
  return rc;
}

static int speed_all(const score_setup *s, score_row *rows) {
  lab_fmnist fm;
  descent_dataset pooled;
  memset(&pooled, 0, sizeof pooled);
  descent_objective *obj = NULL;
  int fmnist = speed_on_fmnist(s), rc;
  if (fmnist) {
    rc = lab_fmnist_load(s->dir, s->train, 10, 10, &fm);
    if (rc) return rc;
    rc = pooled_set(&fm.train, s->pool, &pooled);
    lab_fmnist_free(&fm);
  } else {
    rc = lab_problem(&obj, "%s", s->speed_on);
    if (rc) {
      char why[256]; /* a copy: the message is rewritten */
      snprintf(why, sizeof why, "%s", descent_last_error());
      return descent_fail(rc, "--speed-on: '%s' is neither fmnist nor a problem: %s", s->speed_on,
                          why);
    }
    /* Each run records its --steps iterates, and a step costs about
       parameters x max(terms, parameters): about a minute and a few hundred
       megabytes at most. */
    const descent_problem_info *info = descent_problem_info_get(obj);
    const double dim = info ? (double)info->dim : (double)obj->n_params;
    const double terms = info && (double)info->n_terms > dim ? (double)info->n_terms : dim;
    const double steps = (double)s->steps;
    if (steps * dim > 2e7 || steps * s->n_speed * N_OPT * dim * terms > 1e11) {
      descent_objective_free(obj);
      return descent_fail(DESCENT_EINVAL,
                          "--steps: %lld steps on '%s' (%.0f parameters, %.0f terms) at %d "
                          "rates are too many (steps x parameters at most 2e7, and x rates x "
                          "%d optimizers x terms at most 1e11)",
                          (long long)s->steps, s->speed_on, dim, terms, s->n_speed, N_OPT);
    }
  }
  for (int k = 0; k < N_OPT && !rc; k++) {
    score_row *r = &rows[k];
    double score[LAB_MAX_LIST];
    r->best_speed = -1;
    for (int g = 0; g < s->n_speed && !rc; g++) {
      speed_point *p = &r->speed[g];
      rc = fmnist ? speed_fmnist(s, &pooled, lab_lecture_optimizers[k], s->speed_grid[g], p)
                  : speed_problem(s, obj, lab_lecture_optimizers[k], s->speed_grid[g], p);
      /* Higher is better: the inverse of the evaluations; 0 for a run that
         never got there, no score at all for one that diverged. */
      score[g] = p->diverged     ? NAN
                 : p->evals >= 0 ? 1.0 / (double)(p->evals > 0 ? p->evals : 1)
                                 : 0;
      if (p->evals >= 0 && (r->best_speed < 0 || p->evals < r->speed[r->best_speed].evals))
        r->best_speed = g;
    }
    if (!rc && r->best_speed >= 0)
      r->has_window =
          lab_tuning_window(s->speed_grid, score, s->n_speed, s->within, &r->window) == DESCENT_OK;
    descent_error_clear();
  }
  descent_dataset_free(&pooled);
  descent_objective_free(obj);
  return rc;
}

static int landscape_all(const score_setup *s, score_row *rows) {
  descent_objective *turned = NULL, *aligned = NULL, *saddle = NULL, *plateau = NULL;
  int rc = lab_problem(&turned, "quad2d(kappa=%.17g, angle=45)", s->kappa);
  if (!rc) rc = lab_problem(&aligned, "quad2d(kappa=%.17g, angle=0)", s->kappa);
  if (!rc) rc = lab_problem(&saddle, "saddle");
  if (!rc) rc = lab_problem(&plateau, "plateau");
  descent_run_options valley, escape;
  descent_run_options_default(&valley);
  valley.iters = s->iters;
  valley.eps = s->eps;
  escape = valley;
  escape.eps = 0;
  const double saddle_start[2] = {1, s->delta};
  for (int k = 0; k < N_OPT && !rc; k++) {
    const char *spec = lab_lecture_optimizers[k];
    score_row *r = &rows[k];
    rc = lab_best_step(turned, spec, s->grid, s->n_grid, NULL, &valley, &r->valley);
    if (!rc) rc = lab_best_step(aligned, spec, s->grid, s->n_grid, NULL, &valley, &r->aligned);
    if (!rc) {
      escape.escape_below = descent_problem_info_get(saddle)->escape_value;
      rc = lab_best_step(saddle, spec, s->grid, s->n_grid, saddle_start, &escape, &r->saddle);
    }
    if (!rc) {
      escape.escape_below = descent_problem_info_get(plateau)->escape_value;
      rc = lab_best_step(plateau, spec, s->grid, s->n_grid, NULL, &escape, &r->plateau);
    }
  }
  descent_objective_free(turned);
  descent_objective_free(aligned);
  descent_objective_free(saddle);
  descent_objective_free(plateau);
  return rc;
}

/* How far behind the column's best a value is, as a factor >= 1 (a window
   compares ratios hi/lo: 10^(best - decades)); INFINITY for a failure. */
static double behind(int q, double v, double best) {
  if (isnan(v) || isnan(best)) return INFINITY;
  if (q == Q_TUNING) return pow(10, best - v);
  return best > 0 ? v / best : v > 0 ? INFINITY : 1;
}

/* Each column's best value into best (NAN when every optimizer failed), and
   which rows are within 2x of it. */
static void score_all(score_row *rows, double *best) {
  for (int k = 0; k < N_OPT; k++) {
    score_row *r = &rows[k];
    r->value[Q_SPEED] = r->best_speed >= 0 ? (double)r->speed[r->best_speed].evals : NAN;
    r->value[Q_TUNING] = r->has_window ? r->window.decades : NAN;
    const lab_best *b[3] = {&r->valley, &r->saddle, &r->plateau};
    for (int i = 0; i < 3; i++)
      r->value[Q_VALLEY + i] = b[i]->iters >= 0 ? (double)b[i]->iters : NAN;
  }
  for (int q = 0; q < N_QUALITIES; q++) {
    best[q] = NAN;
    for (int k = 0; k < N_OPT; k++) {
      double v = rows[k].value[q];
      if (!isnan(v) && (isnan(best[q]) || (q == Q_TUNING ? v > best[q] : v < best[q]))) best[q] = v;
    }
    for (int k = 0; k < N_OPT; k++) {
      rows[k].within[q] = behind(q, rows[k].value[q], best[q]) <= 2;
      rows[k].count += rows[k].within[q];
    }
  }
}

/* A cell: the number, or why there is none. */
static void best_cell(lab_table *t, int row, const char *col, const lab_best *b) {
  char text[LAB_TEXT];
  if (b->iters >= 0) {
    lab_table_num(t, row, col, (double)b->iters);
  } else {
    lab_iterations_text(&b->trace, text, sizeof text);
    lab_table_text(t, row, col, "%s", text);
  }
}

static int score_tables(lab_result *res, const score_setup *s, const score_row *rows) {
  char title[160];
  snprintf(title, sizeof title,
           "Qualities of a good optimizer (slide 29), each at its best step; the last column "
           "counts those within 2x of the best (of %d)",
           N_QUALITIES);
  lab_table *t = lab_result_table(res, "scoreboard", title,
                                  "optimizer|speed (evals)|speed (ms)|window (decades)|"
                                  "turned valley|saddle|plateau|within 2x of best");
  if (!t) return DESCENT_ERANGE;
  for (int k = 0; k < N_OPT; k++) {
    const score_row *r = &rows[k];
    int row = lab_table_row(t, "%s", lab_lecture_optimizers[k]);
    if (r->best_speed >= 0) {
      lab_table_num(t, row, "speed (evals)", r->value[Q_SPEED]);
      lab_table_num(t, row, "speed (ms)", r->speed[r->best_speed].ms);
    } else {
      lab_table_text(t, row, "speed (evals)", "never (> %lld)", (long long)s->steps);
      lab_table_text(t, row, "speed (ms)", "-");
    }
    if (r->has_window)
      lab_table_num(t, row, "window (decades)", r->window.decades);
    else
      lab_table_text(t, row, "window (decades)", "none");
    best_cell(t, row, "turned valley", &r->valley);
    best_cell(t, row, "saddle", &r->saddle);
    best_cell(t, row, "plateau", &r->plateau);
    lab_table_num(t, row, "within 2x of best", r->count);
  }
  t = lab_result_table(res, "scoreboard-steps",
                       "The best step of each column, the good window's ends, and the aligned "
                       "valley beside the turned one",
                       "optimizer|speed lr|window lo|window hi|valley lr|aligned valley|"
                       "aligned lr|saddle lr|plateau lr");
  if (!t) return DESCENT_ERANGE;
  for (int k = 0; k < N_OPT; k++) {
    const score_row *r = &rows[k];
    int row = lab_table_row(t, "%s", lab_lecture_optimizers[k]);
    lab_table_num(t, row, "speed lr", r->best_speed >= 0 ? s->speed_grid[r->best_speed] : NAN);
    lab_table_num(t, row, "window lo", r->has_window ? r->window.lo : NAN);
    lab_table_num(t, row, "window hi", r->has_window ? r->window.hi : NAN);
    lab_table_num(t, row, "valley lr", r->valley.lr);
    best_cell(t, row, "aligned valley", &r->aligned);
    lab_table_num(t, row, "aligned lr", r->aligned.lr);
    lab_table_num(t, row, "saddle lr", r->saddle.lr);
    lab_table_num(t, row, "plateau lr", r->plateau.lr);
  }
  snprintf(title, sizeof title,
           "Speed and tuning runs: evaluations to a training loss of %g at every rate", s->target);
  t = lab_result_table(res, "scoreboard-speed", title,
                       "run|optimizer|lr|evals to target|cpu ms|final loss");
  if (!t) return DESCENT_ERANGE;
  for (int k = 0; k < N_OPT; k++)
    for (int g = 0; g < s->n_speed; g++) {
      const speed_point *p = &rows[k].speed[g];
      char num[LAB_NUM];
      int row =
          lab_table_row(t, "%s lr=%s", lab_lecture_optimizers[k], lab_num(num, s->speed_grid[g]));
      lab_table_text(t, row, "optimizer", "%s", lab_lecture_optimizers[k]);
      lab_table_num(t, row, "lr", s->speed_grid[g]);
      if (p->evals >= 0) {
        lab_table_num(t, row, "evals to target", (double)p->evals);
        lab_table_num(t, row, "cpu ms", p->ms);
      } else {
        lab_table_text(t, row, "evals to target", "%s", p->diverged ? "diverged" : "never");
        lab_table_text(t, row, "cpu ms", "-");
      }
      lab_table_num(t, row, "final loss", p->final_loss);
    }
  return DESCENT_OK;
}

/* scoreboard-cells.csv: one cell of the picture per line: column, row,
   log10 of the factor behind the column's best (capped at 2; empty for the
   count column, which has no colour), the value and the step beneath it. */
static int score_cells(const char *dir, lab_result *res, const score_setup *s,
                       const score_row *rows, const double *best) {
  FILE *f = lab_file_open(dir, "scoreboard-cells.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "col,row,behind,value,step\n");
  for (int k = 0; k < N_OPT; k++) {
    const score_row *r = &rows[k];
    const double lr[N_QUALITIES] = {r->best_speed >= 0 ? s->speed_grid[r->best_speed] : NAN,
                                    r->has_window ? r->window.best_lr : NAN, r->valley.lr,
                                    r->saddle.lr, r->plateau.lr};
    for (int q = 0; q < N_QUALITIES; q++) {
      double b = behind(q, r->value[q], best[q]);
      double shade = isfinite(b) ? fmin(log10(b), 2) : 2;
      char value[LAB_TEXT], step[LAB_TEXT], num[LAB_NUM];
      if (isnan(r->value[q]))
        snprintf(value, sizeof value, "%s", q == Q_TUNING ? "none" : "never");
      else if (q == Q_TUNING)
        snprintf(value, sizeof value, "%.2f%s", r->value[q],
                 r->window.lo_open || r->window.hi_open ? "+" : "");
      else
        snprintf(value, sizeof value, "%.0f", r->value[q]);
      if (q == Q_TUNING && r->has_window)
        snprintf(step, sizeof step, "x%.3g around lr %s", r->window.ratio, lab_num(num, lr[q]));
      else if (!isnan(lr[q]))
        snprintf(step, sizeof step, "lr %s", lab_num(num, lr[q]));
      else
        snprintf(step, sizeof step, "no step works");
      fprintf(f, "%d,%d,%.6g,%s%s,%s\n", q, k, shade, value, r->within[q] ? " *" : "", step);
    }
    char has[LAB_TEXT] = "none";
    for (int q = 0, used = 0; q < N_QUALITIES; q++)
      if (r->within[q])
        used += snprintf(has + used, sizeof has - (size_t)used, "%s%s", used ? "+" : "",
                         quality_short[q]);
    fprintf(f, "%d,%d,NaN,%d of %d,%s\n", N_QUALITIES, k, r->count, N_QUALITIES, has);
  }
  return lab_file_close(f, "scoreboard-cells.csv");
}

static int score_picture(const char *dir, lab_result *res, const score_setup *s) {
  FILE *f = lab_gp_open(dir, "scoreboard", 1600, 680,
                        "the lecture's optimizers scored on each quality of a good optimizer", res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set title \"Qualities of a good optimizer (slide 29): no algorithm does all of this "
          "(* = best or within 2x of it)\" font \",14\" offset 0,1.5\n"
          "set xrange [-0.5:%d.5]\nset yrange [%d.5:-0.5]\nset x2tics (",
          N_QUALITIES, N_OPT - 1);
  for (int q = 0; q < N_QUALITIES; q++) {
    fprintf(f, "\"");
    fprintf(f, quality_heads[q], q == Q_SPEED ? s->target : s->kappa); /* at most one %g */
    fprintf(f, "\" %d, ", q);
  }
  fprintf(f, "\"qualities\\nwithin 2x of the best\" %d)\nset ytics (", N_QUALITIES);
  for (int k = 0; k < N_OPT; k++)
    fprintf(f, "%s\"%s\" %d", k ? ", " : "", k ? lab_lecture_optimizers[k] : "sgd (gd)", k);
  fprintf(f, ")\nunset xtics\nset x2tics scale 0 font \",10\"\nset ytics scale 0 font \",12\"\n"
             "set cbrange [0:2]\nset cbtics (\"1x (best)\" 0, \"2x\" 0.30103, \"10x\" 1, "
             "\"100x, never\" 2)\n"
             "set cblabel \"how far behind the best of its column\"\n"
             "set palette defined (0 '#1a9850', 0.30103 '#d9ef8b', 1 '#fdae61', 2 '#d73027')\n"
             "set tmargin 7\nset lmargin 14\nset rmargin 16\nunset key\n"
             "plot 'scoreboard-cells.csv' skip 1 using 1:2:3 with image, \\\n"
             "     '' skip 1 using 1:($2-0.12):(stringcolumn(4)) with labels font \",14\", \\\n"
             "     '' skip 1 using 1:($2+0.22):(stringcolumn(5)) with labels font \",9\" "
             "tc rgb \"#333333\"\n");
  return lab_gp_close(f, "scoreboard", res);
}

static int scoreboard_run(const lab_args *a, const char *dir, lab_result *res) {
  score_setup s;
  int rc = score_read(a, &s);
  if (rc) return rc;
  score_row *rows = calloc(N_OPT, sizeof *rows);
  double best[N_QUALITIES];
  if (!rows) return descent_fail(DESCENT_ENOMEM, "scoreboard: out of memory");
  rc = speed_all(&s, rows);
  if (!rc) rc = landscape_all(&s, rows);
  if (!rc) {
    score_all(rows, best);
    rc = score_tables(res, &s, rows);
  }
  if (!rc) {
    int full = 0, rounded = 0;
    for (int k = 0; k < N_OPT; k++) {
      full += rows[k].count == N_QUALITIES;
      if (rows[k].count > rows[rounded].count) rounded = k;
    }
    lab_result_note(res,
                    "speed and tuning: %s to a loss of %g; the good window: the rates that get "
                    "there within %gx the best rate's evaluations",
                    speed_on_fmnist(&s) ? "full-batch softmax regression on Fashion-MNIST"
                                        : s.speed_on,
                    s.target, 1 / (1 - s.within));
    lab_result_note(res, "the adaptive methods' first steps are about lr long in every coordinate "
                         "(RMSprop's 10 lr) whatever the gradient: they jump off the saddle and "
                         "across the plateau; gradient descent's y grows by 1 + 2 alpha a step");
    lab_result_note(res,
                    "%d of %d optimizers are within 2x of the best on every quality; the most "
                    "rounded, %s, on %d of %d",
                    full, N_OPT, lab_lecture_optimizers[rounded], rows[rounded].count, N_QUALITIES);
  }
  if (!rc && dir) rc = score_cells(dir, res, &s, rows, best);
  if (!rc && dir) rc = score_picture(dir, res, &s);
  for (int k = 0; k < N_OPT; k++) {
    descent_trace_free(&rows[k].valley.trace);
    descent_trace_free(&rows[k].aligned.trace);
    descent_trace_free(&rows[k].saddle.trace);
    descent_trace_free(&rows[k].plateau.trace);
  }
  free(rows);
  return rc;
}

const lab_demo lab_demo_scoreboard = {
    "scoreboard",
    "slide 29",
    "SGD, momentum, Nesterov, Adagrad, RMSprop and Adam scored on each quality of a good "
    "optimizer: speed, ease of tuning, conditioning, saddle and plateau",
    scoreboard_options,
    sizeof scoreboard_options / sizeof scoreboard_options[0],
    scoreboard_run,
    "A good optimizer is fast, easy to tune, handles conditioning, plateaus and saddle points; "
    "no algorithm does all of this today.",
    "Read each column's greens: momentum crosses the turned valley in about 100 iterations "
    "where gradient descent, Adagrad and RMSprop need thousands (the aligned valley beside it "
    "shows what rotation costs the adaptive methods); Adagrad, RMSprop and Adam leave the saddle "
    "and the plateau in one or two steps where gradient descent needs 13 and over 400. No row "
    "is green everywhere: the last column counts each optimizer's qualities.",
    NULL,
};
