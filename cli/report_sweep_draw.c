/*
 * report_sweep_draw.c - the pictures and the page of `descent report SWEEP`
 * (report_sweep.h): the sensitivity of each optimizer's metric and final
 * training loss to the swept value (median over seeds, min-max band), the
 * learning curves of each optimizer's best trial, and report.html with the
 * results table and the pictures inlined.
 *
 * The data files hold one block per optimizer, separated by two blank
 * lines (gnuplot's `index`), each opened by a comment naming it.
 * Trials left out of the curves are drawn as marks: stopped ones (ASHA)
 * as open circles at their metric, diverged and failed ones as crosses
 * along the top of the panel.
 */
#include "report_html.h"
#include "report_sweep.h"

#include "descent.h"
#include "lab/lab.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POINTS_CSV "sweep-points.csv"
#define MARKS_CSV  "sweep-marks.csv"
#define CURVES_CSV "sweep-curves.csv"

const char *const *sweep_report_files(void) {
  static const char *const files[] = {
      POINTS_CSV,        MARKS_CSV,     CURVES_CSV,     "sensitivity.gp", "sensitivity.png",
      "sensitivity.svg", "learning.gp", "learning.png", "learning.svg",   NULL};
  return files;
}

static FILE *open_in(const char *dir, const char *name) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) fprintf(stderr, "descent report: cannot write %s\n", path);
  return f;
}

static int close_in(FILE *f, const char *dir, const char *name) {
  if (fclose(f) == 0) return 0;
  fprintf(stderr, "descent report: writing %s/%s failed\n", dir, name);
  return -1;
}

static void num(FILE *f, double v, const char *sep) {
  if (isfinite(v))
    fprintf(f, "%.9g%s", v, sep);
  else
    fprintf(f, "NaN%s", sep);
}

/* gnuplot string: double quotes, with backslashes and quotes escaped. */
static void gp_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', f);
    if ((unsigned char)*s >= 32) fputc(*s, f);
  }
  fputc('"', f);
}

/* ---- the sensitivity curves ------------------------------------------------------- */

typedef struct range {
  double lo, hi;
} range;

static void widen(range *r, double v, int log_axis) {
  if (isfinite(v) && (!log_axis || v > 0)) r->lo = fmin(r->lo, v), r->hi = fmax(r->hi, v);
}

/* Writes the points file; ranges[column] gets each panel's y range. */
static int write_points(const char *dir, const sweep_report *r, range ranges[2], int used[]) {
  FILE *f = open_in(dir, POINTS_CSV);
  if (!f) return -1;
  fprintf(f, "# x,n,metric_median,metric_min,metric_max,train_loss_median,train_loss_min,"
             "train_loss_max; one block per optimizer\n");
  sweep_point *m = malloc(2 * r->n_trials * sizeof *m), *l = m + r->n_trials;
  if (!m) {
    fclose(f);
    fprintf(stderr, "descent report: out of memory\n");
    return -1;
  }
  for (int g = 0; g < r->n_groups; g++) {
    size_t n = sweep_points(r, g, 0, m, r->n_trials);
    sweep_points(r, g, 1, l, r->n_trials);
    fprintf(f, "%s# %s\n", g ? "\n\n" : "", r->groups[g].name);
    used[g] = 0;
    for (size_t k = 0; k < n; k++) {
      if (m[k].n == 0 && l[k].n == 0) continue;
      used[g] = 1;
      num(f, m[k].x, ",");
      fprintf(f, "%zu,", m[k].n);
      double v[6] = {m[k].median, m[k].min, m[k].max, l[k].median, l[k].min, l[k].max};
      for (int i = 0; i < 6; i++) {
        num(f, v[i], i < 5 ? "," : "\n");
        widen(&ranges[i / 3], v[i], 0);
      }
    }
    if (!used[g]) fprintf(f, "NaN,0,NaN,NaN,NaN,NaN,NaN,NaN\n"); /* a block gnuplot can read */
  }
  free(m);
  return close_in(f, dir, POINTS_CSV);
}

/* The trials the curves leave out: status, metric, train loss. */
static int write_marks(const char *dir, const sweep_report *r, range ranges[2], int *stopped,
                       int *broken) {
  FILE *f = open_in(dir, MARKS_CSV);
  if (!f) return -1;
  fprintf(f, "# x,metric,train_loss,status,trial; one block per optimizer\n");
  *stopped = *broken = 0;
  for (int g = 0; g < r->n_groups; g++) {
    int any = 0, has_done = r->groups[g].counts[SWEEP_DONE] > 0;
    fprintf(f, "%s# %s\n", g ? "\n\n" : "", r->groups[g].name);
    for (size_t i = 0; i < r->n_trials; i++) {
      const sweep_trial *t = &r->trials[i];
      int mark = t->status == SWEEP_DIVERGED || t->status == SWEEP_FAILED ||
                 (t->status == SWEEP_STOPPED && has_done);
      if (t->group != g || !mark || !isfinite(t->x)) continue;
      num(f, t->x, ",");
      num(f, t->status == SWEEP_STOPPED ? t->metric : NAN, ",");
      num(f, t->status == SWEEP_STOPPED ? t->train_loss : NAN, ",");
      fprintf(f, "%s,%ld\n", sweep_status_name(t->status), t->trial);
      if (t->status == SWEEP_STOPPED) {
        widen(&ranges[0], t->metric, 0), widen(&ranges[1], t->train_loss, 0);
        *stopped = 1;
      } else {
        *broken = 1;
      }
      any = 1;
    }
    if (!any) fprintf(f, "NaN,NaN,NaN,none,0\n");
  }
  return close_in(f, dir, MARKS_CSV);
}

static void x_axis(FILE *f, const sweep_report *r) {
  const char *name = r->x_param >= 0 ? r->params[r->x_param] : "trial";
  fprintf(f, "set xlabel ");
  char label[128];
  snprintf(label, sizeof label, "%s%s", name, r->x_log ? " (log scale)" : "");
  gp_string(f, label);
  fprintf(f, "\n%s", r->x_log ? "set logscale x\nset format x \"%g\"\n" : "unset logscale x\n");
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < r->n_trials; i++)
    if (isfinite(r->trials[i].x)) lo = fmin(lo, r->trials[i].x), hi = fmax(hi, r->trials[i].x);
  if (!(lo < hi)) /* one value: a range around it */
    lo = r->x_log ? lo / 2 : lo - 1, hi = r->x_log ? hi * 2 : hi + 1;
  else if (r->x_log)
    lo /= 1.3, hi *= 1.3;
  else
    lo -= 0.05 * (hi - lo), hi += 0.05 * (hi - lo);
  fprintf(f, "set xrange [%.9g:%.9g]\n", lo, hi);
}

/* One panel: the band and median of each group, then the marks; the
   crosses of diverged and failed trials sit just under the top. */
static void sensitivity_panel(FILE *f, const sweep_report *r, int column, range y, const int *used,
                              int stopped, int broken) {
  if (!(y.lo <= y.hi)) y.lo = 0, y.hi = 1;
  double pad = y.hi > y.lo ? 0.08 * (y.hi - y.lo) : fmax(0.05 * fabs(y.lo), 0.05);
  double top = y.hi + pad;
  fprintf(f, "set yrange [%.9g:%.9g]\n", y.lo - pad, top + pad);
  fprintf(f, "set title ");
  char title[160];
  snprintf(title, sizeof title, "%s at the last epoch: median over seeds, band min to max",
           column ? "training loss" : r->metric);
  gp_string(f, title);
  fprintf(f, "\nset ylabel ");
  gp_string(f, column ? "train_loss" : r->metric);
  fprintf(f, "\nplot ");
  int first = 1;
  for (int g = 0; g < r->n_groups; g++) {
    if (!used[g]) continue;
    const char *c = lab_color(g);
    fprintf(f,
            "%s'" POINTS_CSV "' index %d using 1:%d:%d with filledcurves fs transparent solid "
            "0.18 noborder lc rgb \"%s\" notitle, \\\n  '" POINTS_CSV
            "' index %d using 1:%d with linespoints pt 7 ps 0.6 lw 2 lc rgb \"%s\" title ",
            first ? "" : ", \\\n  ", g, 4 + 3 * column, 5 + 3 * column, c, g, 3 + 3 * column, c);
    gp_string(f, r->groups[g].name);
    first = 0;
  }
  for (int g = 0; g < r->n_groups && (stopped || broken); g++) {
    const char *c = lab_color(g);
    if (stopped)
      fprintf(f,
              "%s'" MARKS_CSV "' index %d using 1:(strcol(4) eq \"stopped\" ? $%d : NaN) with "
              "points pt 6 ps 0.9 lc rgb \"%s\" title %s",
              first ? "" : ", \\\n  ", g, 2 + column, c, g ? "\"\"" : "\"stopped early\"");
    first = 0;
    if (broken)
      fprintf(f,
              ", \\\n  '" MARKS_CSV "' index %d using 1:(strcol(4) ne \"stopped\" && strcol(4) "
              "ne \"none\" ? %.9g : NaN) with points pt 2 ps 1.2 lw 2 lc rgb \"%s\" title %s",
              g, top, c, g ? "\"\"" : "\"diverged or failed\"");
  }
  fprintf(f, "\n");
}

static int sensitivity_picture(const char *dir, const sweep_report *r, const char *terminals) {
  range y[2] = {{INFINITY, -INFINITY}, {INFINITY, -INFINITY}};
  int used[SWEEP_MAX_GROUPS], stopped, broken;
  if (write_points(dir, r, y, used) || write_marks(dir, r, y, &stopped, &broken)) return -1;
  int any = 0;
  for (int g = 0; g < r->n_groups; g++) any |= used[g];
  if (!any) return 1; /* nothing to draw: no trial finished with a value */
  FILE *f = open_in(dir, "sensitivity.gp");
  if (!f) return -1;
  lab_gp_header(f, "sensitivity", "the sweep's sensitivity to its swept value", "descent report",
                terminals, 1100, 900);
  fprintf(f, "set grid lc rgb \"#e8e8e8\"\nset key outside right top vertical font \",9\"\n"
             "set lmargin 12\nset rmargin 30\nset multiplot layout 2,1\n");
  x_axis(f, r);
  sensitivity_panel(f, r, 0, y[0], used, stopped, broken);
  sensitivity_panel(f, r, 1, y[1], used, stopped, broken);
  fprintf(f, "unset multiplot\nset output\n}\n");
  return close_in(f, dir, "sensitivity.gp");
}

/* ---- the learning curves of each best trial --------------------------------------- */

/* The per-epoch column to draw: the sweep's metric when metrics.csv has it,
   else validation accuracy, else test accuracy. */
static int curve_column(const csv_table *t, const char *metric) {
  const char *names[] = {metric, "val_acc", "test_acc", "val_loss", "test_loss"};
  for (int i = 0; i < 5; i++) {
    int c = csv_column(t, names[i]);
    for (size_t row = 0; c >= 0 && row < t->n_rows; row++)
      if (isfinite(csv_value(t, row, c))) return c;
  }
  return -1;
}

static int learning_picture(const char *sweep, const char *dir, const sweep_report *r,
                            const char *terminals) {
  FILE *f = open_in(dir, CURVES_CSV);
  if (!f) return -1;
  fprintf(f, "# epoch,value,train_loss; one block per optimizer (its best trial)\n");
  char labels[SWEEP_MAX_GROUPS][2 * SWEEP_MAX_TEXT + 8], ylabel[64] = "";
  int blocks = 0, index[SWEEP_MAX_GROUPS];
  double last_epoch = 1;
  for (int g = 0; g < r->n_groups; g++) {
    index[g] = -1;
    const sweep_group *G = &r->groups[g];
    if (G->best < 0) continue;
    const sweep_trial *t = &r->trials[G->best];
    char path[4400], err[512];
    static const char *const required[] = {"epoch", "train_loss", NULL};
    csv_table m;
    snprintf(path, sizeof path, "%s/%s/metrics.csv", sweep, t->dir);
    if (strchr(t->dir, '/') || csv_load(path, "metrics.csv", required, &m, err, sizeof err) != 0) {
      printf("note: %s's best trial %s has no readable metrics.csv: its learning curves are "
             "left out\n",
             G->name, t->dir);
      continue;
    }
    int c = curve_column(&m, r->metric), e = csv_column(&m, "epoch"),
        l = csv_column(&m, "train_loss");
    if (c >= 0 && !ylabel[0]) snprintf(ylabel, sizeof ylabel, "%s", m.names[c]);
    fprintf(f, "%s# %s %s\n", blocks ? "\n\n" : "", G->name, t->dir);
    for (size_t row = 0; row < m.n_rows; row++) {
      if (isfinite(csv_value(&m, row, e))) last_epoch = fmax(last_epoch, csv_value(&m, row, e));
      num(f, csv_value(&m, row, e), ",");
      num(f, c >= 0 ? csv_value(&m, row, c) : NAN, ",");
      num(f, csv_value(&m, row, l), "\n");
    }
    if (m.n_rows == 0) fprintf(f, "NaN,NaN,NaN\n");
    csv_free(&m);
    snprintf(labels[g], sizeof labels[g], "%s (%s)", G->name, t->dir);
    index[g] = blocks++;
  }
  if (close_in(f, dir, CURVES_CSV)) return -1;
  if (!blocks) return 1;
  if (!(f = open_in(dir, "learning.gp"))) return -1;
  lab_gp_header(f, "learning", "the learning curves of each optimizer's best trial",
                "descent report", terminals, 1100, 800);
  fprintf(f, "set grid lc rgb \"#e8e8e8\"\nset key outside right top vertical font \",9\"\n"
             "set lmargin 12\nset rmargin 30\nset xlabel \"epoch\"\nset multiplot layout 2,1\n");
  /* Whole epochs, and the first and last points off the border. */
  fprintf(f, "set xrange [%.9g:%.9g]\nset xtics %s\n", 1 - 0.05 * fmax(last_epoch - 1, 1),
          last_epoch + 0.05 * fmax(last_epoch - 1, 1), last_epoch <= 20 ? "1" : "autofreq");
  for (int panel = 0; panel < 2; panel++) {
    fprintf(f, "set title ");
    char title[160];
    snprintf(title, sizeof title, "%s per epoch, evaluated after it",
             ylabel[0] ? ylabel : "metric");
    gp_string(f, panel ? "training loss per epoch (running mean over the epoch's batches)" : title);
    fprintf(f, "\nset ylabel ");
    gp_string(f, panel ? "train_loss" : (ylabel[0] ? ylabel : "metric"));
    fprintf(f, "\nplot ");
    for (int g = 0, first = 1; g < r->n_groups; g++) {
      if (index[g] < 0) continue;
      fprintf(f,
              "%s'" CURVES_CSV "' index %d using 1:%d with linespoints pt 7 ps 0.5 lw 1.5 "
              "lc rgb \"%s\" title ",
              first ? "" : ", \\\n  ", index[g], 2 + panel, lab_color(g));
      gp_string(f, labels[g]);
      first = 0;
    }
    fprintf(f, "\n");
  }
  fprintf(f, "unset multiplot\nset output\n}\n");
  return close_in(f, dir, "learning.gp");
}

/* ---- the page ------------------------------------------------------------------------ */

static void cell(FILE *f, double v) {
  if (isfinite(v))
    fprintf(f, "<td>%.6g</td>", v);
  else
    fprintf(f, "<td>&ndash;</td>");
}

static void html_table(FILE *f, const sweep_report *r) {
  fprintf(f, "<h2 id=\"results\">Best trial per %s</h2>\n<table>\n<tr><th>%s</th><th>trial</th>",
          r->opt_param >= 0 ? "optimizer" : "sweep", r->opt_param >= 0 ? "optimizer" : "");
  for (size_t p = 0; p < r->n_params; p++)
    if ((int)p != r->opt_param) {
      fprintf(f, "<th>");
      report_html_escape(f, r->params[p]);
      fprintf(f, "</th>");
    }
  fprintf(f, "<th>seed</th><th>");
  report_html_escape(f, r->metric);
  fprintf(f, "</th><th>test accuracy</th><th>train seconds</th><th>tuning window</th>"
             "<th>done / stopped / diverged / failed / pending</th></tr>\n");
  for (int g = 0; g < r->n_groups; g++) {
    const sweep_group *G = &r->groups[g];
    const sweep_trial *t = G->best >= 0 ? &r->trials[G->best] : NULL;
    fprintf(f, "<tr><th>");
    report_html_escape(f, G->name);
    fprintf(f, "</th><td>");
    report_html_escape(f, t ? t->dir : "none");
    fprintf(f, "</td>");
    for (size_t p = 0; p < r->n_params; p++)
      if ((int)p != r->opt_param) {
        fprintf(f, "<td>");
        report_html_escape(f, t ? t->param[p] : "");
        fprintf(f, "</td>");
      }
    cell(f, t ? t->seed : NAN);
    cell(f, t ? t->metric : NAN);
    cell(f, t ? t->test_acc : NAN);
    cell(f, t ? t->train_seconds : NAN);
    char window[200];
    sweep_window_text(r, G, window, sizeof window);
    fprintf(f, "<td>");
    report_html_escape(f, window);
    fprintf(f, "</td><td>%d / %d / %d / %d / %d</td></tr>\n", G->counts[0], G->counts[1],
            G->counts[2], G->counts[3], G->counts[4]);
  }
  fprintf(f, "</table>\n<p class=\"note\">The tuning window is the range of swept values "
             "around the best one whose median metric stays within 1%% of the best (for a loss, "
             "at most 1.01 times it); wide windows forgive a badly chosen value.</p>\n");
}

static const char *const picture_titles[2][2] = {
    {"Sensitivity", "The metric and the final training loss against the swept value, one curve "
                    "per optimizer: the median over seeds, the band from the worst to the best "
                    "seed."},
    {"Learning curves", "The best trial of each optimizer, epoch by epoch."}};

static int html_page(const char *sweep, const char *dir, const sweep_report *r, char stems[2][32],
                     int n_stems, int gnuplot) {
  char path[4200];
  snprintf(path, sizeof path, "%s/report.html", dir);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "descent report: cannot write %s\n", path);
    return -1;
  }
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>"
             "descent sweep report: ");
  report_html_escape(f, sweep);
  fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>descent sweep report: ",
          report_html_style());
  report_html_escape(f, sweep);
  fprintf(f, "</h1>\n<p>%zu trials, metric ", r->n_trials);
  report_html_escape(f, r->metric);
  fprintf(f, " (%s is better).</p>\n", r->higher_better ? "higher" : "lower");
  html_table(f, r);
  fprintf(f, "<h2 id=\"pictures\">Pictures</h2>\n");
  if (!gnuplot)
    fprintf(f, "<p class=\"note\">pictures skipped: install gnuplot (apt-get install "
               "gnuplot-nox) to draw them</p>\n");
  int rc = 0;
  for (int i = 0; gnuplot && i < n_stems && !rc; i++) {
    int k = strcmp(stems[i], "learning") == 0;
    fprintf(f, "<figure id=\"figure-%s\">\n<figcaption><b>%s</b>: %s</figcaption>\n", stems[i],
            picture_titles[k][0], picture_titles[k][1]);
    snprintf(path, sizeof path, "%s/%s.svg", dir, stems[i]);
    if (report_html_svg(f, path, stems[i])) {
      fprintf(stderr, "descent report: cannot read the picture %s (gnuplot wrote no SVG)\n", path);
      rc = -1;
    }
    fprintf(f, "\n</figure>\n");
  }
  fprintf(f, "</body>\n</html>\n");
  if (fclose(f) != 0 && !rc) {
    fprintf(stderr, "descent report: writing %s/report.html failed\n", dir);
    rc = -1;
  }
  return rc;
}

int sweep_report_draw(const char *sweep, const char *dir, const sweep_report *r,
                      const char *terminals, int gnuplot, int html, char stems[2][32],
                      int *n_stems) {
  *n_stems = 0;
  int rc = sensitivity_picture(dir, r, terminals);
  if (rc < 0) return -1;
  if (rc == 0) snprintf(stems[(*n_stems)++], 32, "sensitivity");
  rc = learning_picture(sweep, dir, r, terminals);
  if (rc < 0) return -1;
  if (rc == 0) snprintf(stems[(*n_stems)++], 32, "learning");
  for (int i = 0; gnuplot && i < *n_stems; i++)
    if (lab_plot_render(dir, stems[i]) != DESCENT_OK) {
      fprintf(stderr, "descent report: %s\n", descent_last_error());
      return -1;
    }
  return html ? html_page(sweep, dir, r, stems, *n_stems, gnuplot) : 0;
}
