/*
 * files.c - the data behind the pictures, as CSV: tables, the iterates of
 * runs, 1D curves and 2D contour lines.
 *
 * Contour lines are computed here (marching squares) rather than by gnuplot,
 * whose contour tables cannot be read back with the comma separator the other
 * files use; as a bonus the lines are plain data anyone can plot again.
 */
#include "lab.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

FILE *lab_file_open(const char *dir, const char *name, lab_result *r) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) {
    descent_fail(DESCENT_EIO, "cannot write '%s': %s", path, strerror(errno));
    return NULL;
  }
  if (r && r->n_files < LAB_MAX_FILES) snprintf(r->files[r->n_files++], LAB_TEXT, "%s", name);
  return f;
}

int lab_file_close(FILE *f, const char *name) {
  int bad = ferror(f);
  if (fclose(f) != 0 || bad)
    return descent_fail(DESCENT_EIO, "writing '%s' failed: %s", name, strerror(errno));
  return DESCENT_OK;
}

int lab_write_tables(const char *dir, lab_result *r) {
  for (int i = 0; i < r->n_tables; i++) {
    char name[LAB_TEXT + 8];
    snprintf(name, sizeof name, "%s.csv", r->tables[i].name);
    FILE *f = lab_file_open(dir, name, r);
    if (!f) return DESCENT_EIO;
    lab_table_write_csv(&r->tables[i], f);
    int rc = lab_file_close(f, name);
    if (rc) return rc;
  }
  return DESCENT_OK;
}

void lab_write_path_header(FILE *f, size_t dim) {
  fprintf(f, "%s\n", dim == 1 ? "run,method,t,theta,f,gap" : "run,method,t,x,y,f,gap");
}

static void path_row(FILE *f, int run, const char *method, const descent_trace *tr, int64_t t) {
  fprintf(f, "%d,%s,%lld", run, method, (long long)t);
  for (size_t i = 0; i < tr->dim && i < 2; i++)
    fprintf(f, ",%.9g", tr->params ? tr->params[(size_t)t * tr->dim + i] : NAN);
  double v = tr->values[t];
  fprintf(f, ",%.12g,%.6g\n", v, isnan(tr->f_min) ? v : v - tr->f_min);
}

void lab_write_path(FILE *f, int run, const char *label, const descent_trace *tr, int max_rows) {
  /* gnuplot splits at every comma, quoted or not: none in the label */
  char method[LAB_TEXT * 2];
  snprintf(method, sizeof method, "%s", label);
  for (char *c = method; *c; c++)
    if (*c == ',') *c = ';';
  int64_t last = tr->steps, head = max_rows / 2;
  if (last + 1 <= max_rows) {
    for (int64_t t = 0; t <= last; t++) path_row(f, run, method, tr, t);
    return;
  }
  /* All of the beginning, then steps spaced evenly on a log scale: what a
     log-scaled axis of iterations shows evenly. */
  for (int64_t t = 0; t < head; t++) path_row(f, run, method, tr, t);
  double ratio = pow((double)last / (double)head, 1.0 / (double)(max_rows - head));
  double next = (double)head;
  for (int64_t t = head; t <= last; t++)
    if ((double)t >= next || t == last) {
      path_row(f, run, method, tr, t);
      while (next <= (double)t) next *= ratio;
    }
}

/* f at (x, y) (or theta = x in 1D), leaving the objective's parameters as
   they were found. */
static int value_at(descent_objective *obj, double x, double y, double *f) {
  descent_real saved[2] = {obj->params[0], obj->n_params > 1 ? obj->params[1] : 0};
  obj->params[0] = (descent_real)x;
  if (obj->n_params > 1) obj->params[1] = (descent_real)y;
  int rc = descent_objective_value(obj, NULL, f);
  obj->params[0] = saved[0];
  if (obj->n_params > 1) obj->params[1] = saved[1];
  return rc;
}

int lab_write_curve(descent_objective *obj, const char *dir, const char *name, double lo, double hi,
                    int n, lab_result *r) {
  FILE *f = lab_file_open(dir, name, r);
  if (!f) return DESCENT_EIO;
  fprintf(f, "theta,f\n");
  int rc = DESCENT_OK;
  for (int i = 0; i < n && !rc; i++) {
    double x = lo + (hi - lo) * i / (n - 1), v;
    rc = value_at(obj, x, 0, &v);
    if (!rc) fprintf(f, "%.9g,%.9g\n", x, v);
  }
  int rc2 = lab_file_close(f, name);
  return rc ? rc : rc2;
}

/* Where the level crosses the edge from (xa, ya, va) to (xb, yb, vb). */
static void crossing(double xa, double ya, double va, double xb, double yb, double vb, double level,
                     double *x, double *y) {
  double s = (level - va) / (vb - va);
  *x = xa + s * (xb - xa);
  *y = ya + s * (yb - ya);
}

static void segment(FILE *f, const double *p, const double *q, double level) {
  fprintf(f, "%.7g,%.7g,%.7g\n%.7g,%.7g,%.7g\n\n", p[0], p[1], level, q[0], q[1], level);
}

/* One grid cell, corners counter-clockwise from (x0, y0): v[0] at (x0, y0),
   v[1] at (x1, y0), v[2] at (x1, y1), v[3] at (x0, y1). */
static void cell_contour(FILE *f, double x0, double y0, double x1, double y1, const double *v,
                         double level) {
  const double cx[4] = {x0, x1, x1, x0}, cy[4] = {y0, y0, y1, y1};
  double pts[4][2];
  int n = 0;
  for (int e = 0; e < 4; e++) {
    int a = e, b = (e + 1) % 4;
    if ((v[a] >= level) != (v[b] >= level)) {
      crossing(cx[a], cy[a], v[a], cx[b], cy[b], v[b], level, &pts[n][0], &pts[n][1]);
      n++;
    }
  }
  if (n == 2) {
    segment(f, pts[0], pts[1], level);
  } else if (n == 4) {
    /* A saddle cell: the centre's side decides which corners connect. Edges
       0..3 follow the corners, so with the centre on corner 0's side the
       lines cut off corners 1 and 3, else corners 0 and 2. */
    double centre = 0.25 * (v[0] + v[1] + v[2] + v[3]);
    if ((centre >= level) == (v[0] >= level)) {
      segment(f, pts[0], pts[1], level);
      segment(f, pts[2], pts[3], level);
    } else {
      segment(f, pts[3], pts[0], level);
      segment(f, pts[1], pts[2], level);
    }
  }
}

int lab_write_contours(descent_objective *obj, const char *dir, const char *name, const double *lo,
                       const double *hi, int n, const double *levels, int n_levels, lab_result *r) {
  double *grid = descent_calloc((size_t)n * (size_t)n, sizeof *grid, "contour grid");
  if (!grid) return DESCENT_ENOMEM;
  int rc = DESCENT_OK;
  for (int i = 0; i < n && !rc; i++)
    for (int j = 0; j < n && !rc; j++)
      rc = value_at(obj, lo[0] + (hi[0] - lo[0]) * i / (n - 1),
                    lo[1] + (hi[1] - lo[1]) * j / (n - 1), &grid[i * n + j]);
  FILE *f = rc ? NULL : lab_file_open(dir, name, r);
  if (!rc && !f) rc = DESCENT_EIO;
  if (!rc) {
    fprintf(f, "x,y,level\n");
    double dx = (hi[0] - lo[0]) / (n - 1), dy = (hi[1] - lo[1]) / (n - 1);
    for (int k = 0; k < n_levels; k++)
      for (int i = 0; i + 1 < n; i++)
        for (int j = 0; j + 1 < n; j++) {
          double v[4] = {grid[i * n + j], grid[(i + 1) * n + j], grid[(i + 1) * n + j + 1],
                         grid[i * n + j + 1]};
          cell_contour(f, lo[0] + i * dx, lo[1] + j * dy, lo[0] + (i + 1) * dx,
                       lo[1] + (j + 1) * dy, v, levels[k]);
        }
    rc = lab_file_close(f, name);
  }
  free(grid);
  return rc;
}
