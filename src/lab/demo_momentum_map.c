/*
 * demo_momentum_map.c - momentum's convergence rate over its two
 * parameters (slide 32; Goh, "Why Momentum Really Works", distill.pub
 * 2017): on the quadratic with curvatures L = 1 and mu = 1/kappa, the
 * heavy ball x+ = x - alpha grad + beta (x - x-) contracts each curvature
 * h's coordinate by the larger root modulus of
 *
 *   z^2 - (1 + beta - alpha h) z + beta = 0,
 *
 * and the whole iteration by the larger of the two (its spectral radius).
 * It is stable (radius < 1) exactly when 0 <= beta < 1 and
 * 0 < alpha L < 2 (1 + beta); the best pair is alpha* = 4 / (sqrt(L) +
 * sqrt(mu))^2, beta* = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2, with
 * radius (sqrt(kappa) - 1) / (sqrt(kappa) + 1) = sqrt(beta*).
 *
 * The demo measures the rate of descent's own `momentum(momentum=beta) |
 * lr(alpha)` (PyTorch's SGD with momentum, the heavy ball written with a
 * velocity) on a grid of (alpha, beta), from the state's growth between
 * iterations N and 2N, and sets it beside the closed form: the map, the
 * stable region's edge and the optimum.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>

static const lab_option momentum_map_options[] = {
    {"kappa", "K", "25", "condition number (curvatures 1 and 1/K)"},
    {"grid", "N", "41", "grid points per axis: alpha in (0, 4], beta in [0, 1)"},
};

/* The closed form: the largest root modulus of z^2 - (1 + beta - a h) z +
   beta for the curvature h. */
static double root_modulus(double alpha, double beta, double h) {
  double b = 1 + beta - alpha * h, disc = b * b - 4 * beta;
  if (disc < 0) return sqrt(beta); /* complex pair: |z|^2 = beta */
  double s = sqrt(disc);
  double r1 = fabs((b + s) / 2), r2 = fabs((b - s) / 2);
  return r1 > r2 ? r1 : r2;
}

static double closed_form_rate(double alpha, double beta, double kappa) {
  double a = root_modulus(alpha, beta, 1), b = root_modulus(alpha, beta, 1 / kappa);
  return a > b ? a : b;
}

/* The rate of descent's momentum on the diagonal quadratic, from the norm
   of the iteration's state (x, x-) at steps n and 2n, starting at rest
   from (s, s): s = 1e30 where the closed form says it shrinks, 1e-30 where
   it grows, so that the e^140 between the start and step 2n stays within
   float's range (the lab runs in the float library too). */
static int measure(double alpha, double beta, double kappa, int64_t n, int shrinks, double *rate) {
  descent_optimizer *opt = NULL;
  char spec[96], lr[LAB_NUM];
  snprintf(spec, sizeof spec, "momentum(momentum=%.17g)", beta);
  int rc = descent_optimizer_create(&opt, spec, lab_num(lr, alpha), 2);
  if (rc) return rc;
  const descent_real s = shrinks ? (descent_real)1e30 : (descent_real)1e-30;
  descent_real x[2] = {s, s}, g[2], prev[2] = {s, s};
  const double h[2] = {1, 1 / kappa};
  double at_n = 0, at_2n = 0;
  for (int64_t t = 1; t <= 2 * n && !rc; t++) {
    for (int i = 0; i < 2; i++) prev[i] = x[i], g[i] = (descent_real)(h[i] * (double)x[i]);
    rc = descent_optimizer_step_buffers(opt, x, g, 2);
    double norm = 0;
    for (int i = 0; i < 2; i++) norm += fabs((double)x[i]) + fabs((double)prev[i]);
    if (t == n) at_n = norm;
    if (t == 2 * n) at_2n = norm;
  }
  descent_optimizer_free(opt);
  /* Between N and 2N the start's transient (and a double root's factor t)
     has faded: the ratio's N-th root is the rate, to log(2)/N, and the
     oscillation of complex roots' norm, log(c)/N. */
  *rate = rc ? NAN : at_n > 0 && isfinite(at_2n) ? pow(at_2n / at_n, 1.0 / (double)n) : NAN;
  return rc;
}

/* Iterations per measurement: enough for the state to shrink (or grow) by
   e^70 from N to 2N at the closed-form rate, at most 10,000. */
static int64_t measure_steps(double rate) {
  double per = fabs(log(rate));
  double n = per > 0 ? 70 / per : 10000;
  return n < 20 ? 20 : n > 10000 ? 10000 : (int64_t)ceil(n);
}

static int map_files(const char *dir, lab_result *res, double kappa, int grid, const double *alpha,
                     const double *beta, const double *measured, double best_a, double best_b) {
  FILE *f = lab_file_open(dir, "momentum-map-grid.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "alpha,beta,measured,closed_form\n");
  for (int j = 0; j < grid; j++) {
    for (int i = 0; i < grid; i++) {
      int k = j * grid + i;
      double shown = isfinite(measured[k]) && measured[k] < 1.5 ? measured[k] : 1.5;
      fprintf(f, "%.17g,%.17g,%.17g,%.17g\n", alpha[i], beta[j], shown,
              closed_form_rate(alpha[i], beta[j], kappa));
    }
    fprintf(f, "\n"); /* gnuplot's rows of a grid */
  }
  int rc = lab_file_close(f, "momentum-map-grid.csv");
  if (rc) return rc;
  f = lab_gp_open(dir, "momentum-map", 900, 720, "momentum's rate over (alpha, beta)", res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set title \"Heavy-ball momentum's rate per iteration, quadratic with kappa = %g "
          "(slide 32)\" font \",12\"\n"
          "set xlabel \"step alpha (L = 1)\"\nset ylabel \"momentum beta\"\n"
          "set xrange [0:%.17g]\nset yrange [0:1]\nset cbrange [0:1.5]\n"
          "set cblabel \"rate per iteration (1: no progress; > 1: diverges)\"\n"
          "set palette defined (0 '#08306b', 0.6 '#6baed6', 0.999 '#f7fbff', 1 '#fdae6b', "
          "1.5 '#a50f15')\n"
          "set key below\nset bmargin 7\n",
          kappa, alpha[grid - 1]);
  fprintf(f,
          "plot 'momentum-map-grid.csv' skip 1 using 1:2:3 with image notitle, \\\n"
          "     [0:1] '+' using (2 * (1 + $1)):1 with lines lw 3 lc rgb \"black\" "
          "title \"stable edge alpha L = 2 (1 + beta)\", \\\n"
          "     '+' using (%.17g):(%.17g) every ::0::0 with points pt 7 ps 2 lc rgb \"#e6550d\" "
          "title \"best on the grid (measured)\", \\\n"
          "     '+' using (%.17g):(%.17g) every ::0::0 with points pt 6 ps 3 lw 2 lc rgb "
          "\"black\" title \"optimum (closed form)\"\n",
          best_a, best_b, 4 / pow(1 + sqrt(1 / kappa), 2),
          pow((sqrt(kappa) - 1) / (sqrt(kappa) + 1), 2));
  return lab_gp_close(f, "momentum-map", res);
}

static int momentum_map_run(const lab_args *a, const char *dir, lab_result *res) {
  double kappa;
  int64_t grid64;
  int rc = lab_arg_double(a, "kappa", 1.5, 1e4, &kappa);
  if (!rc) rc = lab_arg_int(a, "grid", 5, 201, &grid64);
  if (rc) return rc;
  const int grid = (int)grid64;
  lab_table *t = lab_result_table(
      res, "momentum-map",
      "Heavy-ball momentum on a quadratic (L = 1, mu = 1/kappa): measured rate against the "
      "closed form",
      "quantity|measured|closed form");
  if (!t) return DESCENT_ERANGE;
  double *alpha = malloc((size_t)grid * sizeof *alpha), *beta = malloc((size_t)grid * sizeof *beta);
  double *measured = malloc((size_t)grid * (size_t)grid * sizeof *measured);
  if (!alpha || !beta || !measured) {
    free(alpha), free(beta), free(measured);
    return descent_fail(DESCENT_ENOMEM, "momentum-map: out of memory");
  }
  for (int i = 0; i < grid; i++) {
    alpha[i] = 4.0 * (i + 1) / grid; /* (0, 4]: past the edge at beta = 0.99 */
    beta[i] = 0.99 * i / (grid - 1); /* [0, 0.99] */
  }
  double worst = 0, best = INFINITY, best_a = NAN, best_b = NAN;
  int stable_measured = 0, stable_closed = 0, disagree = 0, compared = 0;
  for (int j = 0; j < grid && !rc; j++)
    for (int i = 0; i < grid && !rc; i++) {
      double closed = closed_form_rate(alpha[i], beta[j], kappa), got = NAN;
      rc = measure(alpha[i], beta[j], kappa, measure_steps(closed), closed < 1, &got);
      measured[j * grid + i] = got;
      /* The rate's exponent -log(rate), where the run is long enough to
         read it (|log rate| >= 0.01; N capped at 10,000 below that). */
      if (fabs(log(closed)) >= 0.01 && isfinite(got)) {
        double gap = fabs(log(got) - log(closed)) / fabs(log(closed));
        worst = gap > worst ? gap : worst;
        compared++;
        int m = got < 1, c = closed < 1;
        stable_measured += m, stable_closed += c, disagree += m != c;
      }
      if (got < best) best = got, best_a = alpha[i], best_b = beta[j];
    }
  if (!rc) {
    const double root = sqrt(kappa), optimum = (root - 1) / (root + 1);
    int r = lab_table_row(t, "best rate on the grid");
    lab_table_num(t, r, "measured", best);
    lab_table_num(t, r, "closed form", closed_form_rate(best_a, best_b, kappa));
    r = lab_table_row(t, "its alpha");
    lab_table_num(t, r, "measured", best_a);
    lab_table_num(t, r, "closed form", 4 / pow(1 + sqrt(1 / kappa), 2));
    r = lab_table_row(t, "its beta");
    lab_table_num(t, r, "measured", best_b);
    lab_table_num(t, r, "closed form", optimum * optimum);
    r = lab_table_row(t, "optimal rate");
    lab_table_text(t, r, "measured", "-");
    lab_table_num(t, r, "closed form", optimum);
    r = lab_table_row(t, "gradient descent's best rate");
    lab_table_text(t, r, "measured", "-");
    lab_table_num(t, r, "closed form", (kappa - 1) / (kappa + 1));
    r = lab_table_row(t, "stable cells (of those compared)");
    lab_table_num(t, r, "measured", stable_measured);
    lab_table_num(t, r, "closed form", stable_closed);
    r = lab_table_row(t, "cells compared");
    lab_table_num(t, r, "measured", compared);
    lab_table_num(t, r, "closed form", compared);
    r = lab_table_row(t, "cells classified differently");
    lab_table_num(t, r, "measured", disagree);
    lab_table_num(t, r, "closed form", 0);
    r = lab_table_row(t, "worst relative gap of -log(rate)");
    lab_table_num(t, r, "measured", worst);
    lab_table_num(t, r, "closed form", 0);
    lab_result_note(res,
                    "momentum multiplies the rate's exponent: the best pair contracts by %.4g a "
                    "step, gradient descent at its best step by %.4g (sqrt(kappa) against kappa "
                    "iterations per digit)",
                    optimum, (kappa - 1) / (kappa + 1));
  }
  if (!rc && dir) rc = map_files(dir, res, kappa, grid, alpha, beta, measured, best_a, best_b);
  free(alpha), free(beta), free(measured);
  return rc;
}

const lab_demo lab_demo_momentum_map = {
    "momentum-map",
    "slide 32",
    "heavy-ball momentum's rate over (alpha, beta) on a quadratic, measured against the closed "
    "form: the stable region and the optimum",
    momentum_map_options,
    sizeof momentum_map_options / sizeof momentum_map_options[0],
    momentum_map_run,
    "Momentum adds memory and a second hyperparameter: its rate depends on (alpha, beta) "
    "together, inside a stable region, and the best pair contracts like (sqrt(kappa) - "
    "1)/(sqrt(kappa) + 1) per step where gradient descent's best step gives (kappa - "
    "1)/(kappa + 1) (slide 32; Goh 2017).",
    "The measured map matches the closed form cell by cell (the table's worst relative gap of "
    "-log rate stays within a few percent); the stable region ends at alpha L = 2 (1 + beta), "
    "and the best cell sits at the closed-form optimum, far below gradient descent's rate at "
    "beta = 0.",
    NULL,
};
