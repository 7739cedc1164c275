/*
 * report_plot.c - the gnuplot scripts of `descent report` (report_plot.h).
 *
 * A panel is a list of series (a table's column against its step or epoch
 * column) and constant reference lines. A series joins a panel only when
 * its column holds a value the panel can draw, and a panel only with a
 * series, so gnuplot never meets a plot with no valid point; ranges that
 * would be empty (one epoch, a constant) are widened here, so gnuplot
 * draws without a warning. The data files are the tables as parsed: NaN
 * where a value is undefined or infinite (gnuplot breaks the line there).
 */
#include "report_plot.h"

#include "lab/lab.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_SERIES 48
#define MAX_PANELS 6
#define MAX_POINTS 10000 /* per series; longer ones are thinned */

typedef enum { LINES, LINESPOINTS, POINTS } series_style;

typedef struct series {
  const csv_table *table;
  const char *file;
  int x, y;     /* column indexes */
  double scale; /* drawn: scale x the column */
  char title[96];
  const char *color;
  int dashed;
  series_style style;
} series;

typedef struct panel {
  char title[96];
  const char *xlabel, *ylabel;
  int logy;
  series s[MAX_SERIES];
  int n;
  double lines[3]; /* constant reference lines */
  const char *line_titles[3];
  int n_lines;
  double ylo, yhi; /* a fixed range when ylo < yhi */
} panel;

typedef struct figure {
  panel p[MAX_PANELS];
  int n;
} figure;

/* ---- panels ------------------------------------------------------------------ */

static panel *figure_panel(figure *fig, const char *title, const char *xlabel, const char *ylabel,
                           int logy) {
  panel *p = &fig->p[fig->n];
  memset(p, 0, sizeof *p);
  snprintf(p->title, sizeof p->title, "%s", title);
  p->xlabel = xlabel, p->ylabel = ylabel, p->logy = logy;
  return p;
}

/* Keeps the panel just filled when it has a series. */
static void figure_keep(figure *fig) {
  if (fig->p[fig->n].n > 0) fig->n++;
}

static int drawable(const panel *p, double v) {
  return isfinite(v) && (!p->logy || v > 0);
}

/* Adds column `name` of t (x: the column the panel's x label names) when it holds a
   value the panel can draw. */
static void add_series(panel *p, const csv_table *t, const char *file, const char *name,
                       double scale, const char *title, const char *color, int dashed,
                       series_style style) {
  if (!t || p->n == MAX_SERIES) return;
  int y = csv_column(t, name), x = csv_column(t, p->xlabel); /* "step" or "epoch" */
  if (y < 0 || x < 0) return;
  size_t points = 0;
  for (size_t r = 0; r < t->n_rows && points < 2; r++)
    points += drawable(p, scale * csv_value(t, r, y)) && isfinite(csv_value(t, r, x));
  if (!points) return;
  series *s = &p->s[p->n++];
  /* A line through one point draws nothing: mark it. */
  *s = (series){
      t, file, x, y, scale, "", color, dashed, style == LINES && points < 2 ? LINESPOINTS : style};
  snprintf(s->title, sizeof s->title, "%s", title);
}

static void add_line(panel *p, double value, const char *title) {
  if (p->n_lines < 3 && drawable(p, value)) {
    p->lines[p->n_lines] = value;
    p->line_titles[p->n_lines++] = title;
  }
}

/* ---- writing a script ---------------------------------------------------------- */

/* s inside gnuplot's double quotes. */
static void gp_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

/* The x and y extent of what the panel draws. */
static void panel_extent(const panel *p, double *x0, double *x1, double *y0, double *y1) {
  *x0 = *y0 = INFINITY, *x1 = *y1 = -INFINITY;
  for (int i = 0; i < p->n; i++) {
    const series *s = &p->s[i];
    for (size_t r = 0; r < s->table->n_rows; r++) {
      double x = csv_value(s->table, r, s->x), y = s->scale * csv_value(s->table, r, s->y);
      if (!isfinite(x) || !drawable(p, y)) continue;
      *x0 = fmin(*x0, x), *x1 = fmax(*x1, x), *y0 = fmin(*y0, y), *y1 = fmax(*y1, y);
    }
  }
  for (int i = 0; i < p->n_lines; i++) *y0 = fmin(*y0, p->lines[i]), *y1 = fmax(*y1, p->lines[i]);
}

static void log_ticks(FILE *f, double lo, double hi) {
  fprintf(f, "set ytics (");
  int first = 1;
  for (int e = (int)floor(log10(lo)) - 1; e <= (int)ceil(log10(hi)); e++)
    for (int m = 1; m <= 5; m += m == 1 ? 1 : 3) {
      double t = m * pow(10, e);
      if (t < lo || t > hi) continue;
      fprintf(f, "%s%.3g", first ? "" : ", ", t);
      first = 0;
    }
  fprintf(f, ")\n");
}

static void write_panel(FILE *f, const panel *p) {
  double x0, x1, y0, y1;
  panel_extent(p, &x0, &x1, &y0, &y1);
  fprintf(f, "set title ");
  gp_string(f, p->title);
  fprintf(f, "\nunset logscale\nset format y \"%%g\"\n%sset xlabel \"%s\"\nset ylabel \"%s\"\n",
          p->logy ? "set logscale y\n" : "", p->xlabel, p->ylabel);
  int epochs = strcmp(p->xlabel, "epoch") == 0; /* few points: keep them off the border */
  if (x0 < x1)
    fprintf(f, "set xrange [%.17g:%.17g]\n", x0 - epochs * 0.05 * (x1 - x0),
            x1 + epochs * 0.05 * (x1 - x0));
  else
    fprintf(f, "set xrange [%.17g:%.17g]\n", x0 - 1, x0 + 1);
  /* Whole epochs on an epoch axis. */
  fprintf(f, "set xtics %s\n", epochs && x1 - x0 <= 20 ? "1" : "autofreq");
  double lo = y0, hi = y1; /* the y range; lo == hi: autoscale */
  if (p->ylo < p->yhi)
    lo = p->ylo, hi = p->yhi;
  else if (y0 < y1 && p->logy) /* a line on the border (the limit, 1e-3) would not show */
    lo = y0 / 1.3, hi = y1 * 1.3;
  else if (y0 < y1 && (p->n_lines || epochs)) /* few points: off the border too */
    lo = y0 - 0.05 * (y1 - y0), hi = y1 + 0.05 * (y1 - y0);
  else if (y0 == y1 && p->logy)
    lo = y0 / 2, hi = y0 * 2;
  else if (y0 == y1)
    lo = y0 != 0 ? y0 - 0.5 * fabs(y0) : -1, hi = y0 != 0 ? y0 + 0.5 * fabs(y0) : 1;
  if (lo < hi)
    fprintf(f, "set yrange [%.17g:%.17g]\n", lo, hi);
  else
    fprintf(f, "set yrange [*:*]\n");
  /* A log axis of less than three decades gets ticks at 1, 2 and 5 times
     its powers of ten: gnuplot would label only the decades, maybe none. */
  if (p->logy && lo < hi && log10(hi / lo) < 3)
    log_ticks(f, lo, hi);
  else
    fprintf(f, "set ytics autofreq\n");
  fprintf(f, "set key outside right top vertical font \",9\"\nplot ");
  for (int i = 0; i < p->n; i++) {
    const series *s = &p->s[i];
    static const char *const styles[] = {"lines lw 1.5", "linespoints pt 7 ps 0.5 lw 1.5",
                                         "points pt 7 ps 0.4"};
    /* Every k-th row of a long run: the page stays small, the shape the same. */
    size_t every = (s->table->n_rows + MAX_POINTS - 1) / MAX_POINTS;
    fprintf(f, "%s'%s' every %zu using %d:(%.17g*$%d) with %s lc rgb \"%s\" dt %d title ",
            i ? ", \\\n  " : "", s->file, every ? every : 1, s->x + 1, s->scale, s->y + 1,
            styles[s->style], s->color, s->dashed ? 2 : 1);
    gp_string(f, s->title);
  }
  for (int i = 0; i < p->n_lines; i++) {
    fprintf(f, ", \\\n  %.17g with lines lc rgb \"#555555\" dt 3 lw 1 title ", p->lines[i]);
    gp_string(f, p->line_titles[i]);
  }
  fprintf(f, "\n");
}

/* Writes stem.gp drawing fig's panels in a grid of `cols` columns. */
static int write_figure(const char *dir, const char *stem, const char *title, const figure *fig,
                        int cols, int width, int panel_height, const char *formats, char *err,
                        size_t cap) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s.gp", dir, stem);
  FILE *f = fopen(path, "w");
  if (!f) {
    snprintf(err, cap, "cannot write %s", path);
    return -1;
  }
  int rows = (fig->n + cols - 1) / cols, height = rows * panel_height + 40;
  lab_gp_header(f, stem, title, "descent report", formats, width, height);
  fprintf(f,
          "set grid lc rgb \"#e8e8e8\"\n"
          "set lmargin 12\nset rmargin 34\n"
          "set multiplot layout %d,%d title ",
          rows, cols);
  gp_string(f, title);
  fprintf(f, "\n");
  for (int i = 0; i < fig->n; i++) write_panel(f, &fig->p[i]);
  fprintf(f, "unset multiplot\nset output\n}\n");
  if (fclose(f) != 0) {
    snprintf(err, cap, "writing %s failed", path);
    return -1;
  }
  return 0;
}

/* ---- the data files --------------------------------------------------------------- */

static int write_table(const char *dir, const char *name, const csv_table *t, char *err,
                       size_t cap) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) {
    snprintf(err, cap, "cannot write %s", path);
    return -1;
  }
  for (size_t c = 0; c < t->n_cols; c++) fprintf(f, "%s%s", c ? "," : "", t->names[c]);
  fputc('\n', f);
  for (size_t r = 0; r < t->n_rows; r++)
    for (size_t c = 0; c < t->n_cols; c++) {
      double v = t->values[r * t->n_cols + c];
      if (isfinite(v))
        fprintf(f, "%.9g%c", v, c + 1 < t->n_cols ? ',' : '\n');
      else
        fprintf(f, "NaN%c", c + 1 < t->n_cols ? ',' : '\n');
    }
  if (fclose(f) != 0) {
    snprintf(err, cap, "writing %s failed", path);
    return -1;
  }
  return 0;
}

/* ---- the pictures ------------------------------------------------------------------ */

typedef struct plan {
  const char *dir, *formats;
  report_picture *pictures;
  int *count;
  char *err;
  size_t cap;
} plan;

static int emit(plan *pl, figure *fig, const char *stem, const char *title, const char *about,
                int cols, int width, int panel_height) {
  if (fig->n == 0 || *pl->count == REPORT_MAX_PICTURES) return 0;
  if (write_figure(pl->dir, stem, title, fig, cols, width, panel_height, pl->formats, pl->err,
                   pl->cap))
    return -1;
  report_picture *p = &pl->pictures[(*pl->count)++];
  snprintf(p->stem, sizeof p->stem, "%s", stem);
  snprintf(p->title, sizeof p->title, "%s", title);
  snprintf(p->about, sizeof p->about, "%s", about);
  return 0;
}

static int all_positive(const csv_table *t, const char *name) {
  int col = csv_column(t, name), any = 0;
  for (size_t r = 0; r < t->n_rows; r++) {
    double v = csv_value(t, r, col);
    if (isfinite(v) && v <= 0) return 0;
    any |= isfinite(v);
  }
  return any;
}

static int epochs_picture(plan *pl, const csv_table *m) {
  figure fig = {0};
  const char *E = REPORT_EPOCHS_CSV;
  panel *p = figure_panel(&fig, "loss per epoch", "epoch", "loss", 0);
  add_series(p, m, E, "train_loss", 1, "train (running mean)", lab_color(0), 0, LINESPOINTS);
  add_series(p, m, E, "val_loss", 1, "validation", lab_color(1), 0, LINESPOINTS);
  add_series(p, m, E, "test_loss", 1, "test", lab_color(2), 0, LINESPOINTS);
  figure_keep(&fig);
  p = figure_panel(&fig, "accuracy per epoch", "epoch", "accuracy", 0);
  add_series(p, m, E, "train_acc", 1, "train", lab_color(0), 0, LINESPOINTS);
  add_series(p, m, E, "val_acc", 1, "validation", lab_color(1), 0, LINESPOINTS);
  add_series(p, m, E, "test_acc", 1, "test", lab_color(2), 0, LINESPOINTS);
  figure_keep(&fig);
  return emit(pl, &fig, "losses", "Losses and accuracies per epoch",
              "The training loss is the mean over the epoch's batches as they were taken; "
              "validation and test are evaluated after the epoch.",
              1, 1100, 300);
}

static int steps_picture(plan *pl, const csv_table *s) {
  figure fig = {0};
  const char *S = REPORT_STEPS_CSV;
  panel *p = figure_panel(&fig, "learning rate", "step", "learning rate", 0);
  add_series(p, s, S, "lr", 1, "learning rate", lab_color(0), 0, LINES);
  figure_keep(&fig);
  p = figure_panel(&fig, "batch loss at each step", "step", "loss", all_positive(s, "loss"));
  add_series(p, s, S, "loss", 1, "batch loss", lab_color(1), 0, LINES);
  figure_keep(&fig);
  return emit(pl, &fig, "steps", "The learning rate and the loss, step by step",
              "Each step's batch loss before the step: its spread is the batches' noise.", 1, 1100,
              330);
}

static int sharpness_picture(plan *pl, const csv_table *d) {
  figure fig = {0};
  const char *D = REPORT_DIAGNOSTICS_CSV;
  panel *p = figure_panel(&fig, "sharpness against the stability limit (log scale)", "step",
                          "eigenvalue", 1);
  add_series(p, d, D, "hessian_top", 1, "top Hessian eigenvalue", lab_color(0), 0, LINESPOINTS);
  add_series(p, d, D, "ggn_top", 1, "top GGN eigenvalue", lab_color(2), 0, LINESPOINTS);
  add_series(p, d, D, "precond_top", 1, "top of P^-1 H (Adam)", lab_color(4), 0, LINESPOINTS);
  add_series(p, d, D, "stability_limit", 1, "stability limit", "#000000", 1, LINES);
  figure_keep(&fig);
  p = figure_panel(&fig, "sharpness / limit (edge ratio)", "step", "ratio", 0);
  add_series(p, d, D, "edge_ratio", 1, "edge ratio", lab_color(0), 0, LINESPOINTS);
  add_line(p, 1, "at the limit");
  figure_keep(&fig);
  p = figure_panel(&fig, "negative curvature", "step", "eigenvalue", 0);
  add_series(p, d, D, "hessian_bottom", 1, "most negative eigenvalue", lab_color(1), 0,
             LINESPOINTS);
  if (p->n) add_series(p, d, D, "hessian_top", -0.1, "-0.1 x top eigenvalue", "#000000", 1, LINES);
  add_line(p, 0, "zero");
  figure_keep(&fig);
  return emit(pl, &fig, "sharpness", "Curvature: sharpness, the stability limit, saddles",
              "The top eigenvalue of the batch's Hessian (and of the Gauss-Newton matrix, and of "
              "the preconditioned Hessian for Adam-like optimizers) against the largest one the "
              "optimizer can follow at its rate (dashed).",
              1, 1100, 330);
}

static int noise_picture(plan *pl, const csv_table *d) {
  figure fig = {0};
  const char *D = REPORT_DIAGNOSTICS_CSV;
  panel *p = figure_panel(&fig, "gradient noise scale against the batch (log scale)", "step",
                          "examples", 1);
  add_series(p, d, D, "noise_scale", 1, "noise scale B_simple", lab_color(0), 0, LINESPOINTS);
  if (p->n) add_series(p, d, D, "batch", 1, "batch size", "#000000", 1, LINES);
  figure_keep(&fig);
  p = figure_panel(&fig, "gradient tests (pass at or below 1; log scale)", "step", "test value", 1);
  add_series(p, d, D, "norm_test", 1, "norm test", lab_color(1), 0, LINESPOINTS);
  add_series(p, d, D, "inner_test", 1, "inner-product test", lab_color(2), 0, LINESPOINTS);
  add_series(p, d, D, "ortho_test", 1, "orthogonality test", lab_color(3), 0, LINESPOINTS);
  add_line(p, 1, "1");
  figure_keep(&fig);
  return emit(pl, &fig, "noise", "Gradient noise",
              "The noise scale is the batch at which the gradient's noise and signal balance; "
              "where noise outweighs the signal it is infinite and not drawn.",
              1, 1100, 330);
}

static int alpha_picture(plan *pl, const csv_table *d) {
  figure fig = {0};
  panel *p =
      figure_panel(&fig, "alpha: where each step lands on the local parabola", "step", "alpha", 0);
  add_series(p, d, REPORT_DIAGNOSTICS_CSV, "alpha", 1, "alpha", lab_color(0), 0, POINTS);
  add_line(p, 0, "0: at the minimum");
  add_line(p, 1, "1: across it, at equal height");
  figure_keep(&fig);
  return emit(pl, &fig, "alpha", "Step quality: alpha over time",
              "-1: the step did not move; 0: it landed on the minimum of the parabola along it; "
              "1: across it at the starting height; above 1: overshot further.",
              1, 1100, 360);
}

/* One series per column whose name ends in tail (prefix: the tensor or
   layer); returns how many. */
static int add_matching(panel *p, const csv_table *d, const char *tail, int dashed,
                        series_style style) {
  int k = 0;
  size_t t = strlen(tail);
  for (size_t c = 0; c < d->n_cols; c++) {
    const char *name = d->names[c];
    size_t n = strlen(name);
    if (n <= t || strcmp(name + n - t, tail) != 0) continue;
    char title[96];
    snprintf(title, sizeof title, "%.*s%s", (int)(n - t > 80 ? 80 : n - t), name,
             dashed ? " (mean)" : "");
    int before = p->n;
    add_series(p, d, REPORT_DIAGNOSTICS_CSV, name, 1, title, lab_color(k), dashed, style);
    k += p->n > before;
  }
  return k;
}

static int layers_picture(plan *pl, const csv_table *d) {
  figure fig = {0};
  panel *p = figure_panel(&fig, "gradient norm per tensor (log scale)", "step", "|g_T|", 1);
  add_matching(p, d, ".grad_norm", 0, LINES);
  figure_keep(&fig);
  p = figure_panel(&fig, "update-to-weight ratio (log scale)", "step",
                   "|delta theta_T| / |theta_T|", 1);
  if (add_matching(p, d, ".update_ratio", 0, LINES))
    add_line(p, 1e-3, "1e-3: Karpathy's rule of thumb");
  figure_keep(&fig);
  p = figure_panel(&fig, "distance from initialization", "step", "|theta_T - theta_T(0)|", 0);
  add_matching(p, d, ".distance", 0, LINES);
  figure_keep(&fig);
  p = figure_panel(&fig, "dead ReLU units (zero on every example)", "step", "fraction", 0);
  if (add_matching(p, d, ".dead", 0, LINES)) add_line(p, 0.5, "half");
  p->ylo = -0.02, p->yhi = 1.02;
  figure_keep(&fig);
  p = figure_panel(&fig, "activations: std (solid) and mean (dashed)", "step", "value", 0);
  add_matching(p, d, ".std", 0, LINES);
  add_matching(p, d, ".mean", 1, LINES);
  figure_keep(&fig);
  return emit(pl, &fig, "layers", "Layers", "Per parameter tensor and per activation layer.", 1,
              1100, 300);
}

int report_plot_write(const char *dir, const report_inputs *in, const char *formats,
                      report_picture *pictures, int *count, char *err, size_t cap) {
  *count = 0;
  plan pl = {dir, formats, pictures, count, err, cap};
  const csv_table *m = in->metrics, *s = in->steps, *d = in->diagnostics;
  if (m && (write_table(dir, REPORT_EPOCHS_CSV, m, err, cap) || epochs_picture(&pl, m))) return -1;
  if (s && (write_table(dir, REPORT_STEPS_CSV, s, err, cap) || steps_picture(&pl, s))) return -1;
  if (d && (write_table(dir, REPORT_DIAGNOSTICS_CSV, d, err, cap) || sharpness_picture(&pl, d) ||
            noise_picture(&pl, d) || alpha_picture(&pl, d) || layers_picture(&pl, d)))
    return -1;
  return 0;
}

const char *const *report_plot_files(void) {
  static const char *const files[] = {REPORT_EPOCHS_CSV,
                                      REPORT_STEPS_CSV,
                                      REPORT_DIAGNOSTICS_CSV,
                                      "losses.gp",
                                      "losses.png",
                                      "losses.svg",
                                      "steps.gp",
                                      "steps.png",
                                      "steps.svg",
                                      "sharpness.gp",
                                      "sharpness.png",
                                      "sharpness.svg",
                                      "noise.gp",
                                      "noise.png",
                                      "noise.svg",
                                      "alpha.gp",
                                      "alpha.png",
                                      "alpha.svg",
                                      "layers.gp",
                                      "layers.png",
                                      "layers.svg",
                                      NULL};
  return files;
}
