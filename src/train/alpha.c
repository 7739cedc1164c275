/*
 * alpha.c - Cockpit's step-quality number alpha (descent_alpha): where a
 * step lands on the parabola fitted to the losses and directional
 * derivatives at its two ends.
 */
#include "internal.h"

#include <math.h>

/* The parabola p(t) = mu0 + mu1 t + mu2 t^2 is fitted by least squares to
 * p(0) = f0, p(1) = f1, p'(0) = df0, p'(1) = df1: the design matrix A has
 * the rows (1 0 0), (1 1 1), (0 1 0), (0 1 2), so A^T A = [[2 1 1] [1 3 3]
 * [1 3 5]] with the inverse [[6 -2 0] [-2 9 -5] [0 -5 5]] / 10, written out
 * here so that a quadratic's exact observations give its exact
 * coefficients (no elimination's rounding). Only mu1 and mu2 are needed. */
double descent_alpha(double f0, double df0, double f1, double df1) {
  double b1 = f0 + f1, b2 = f1 + df0 + df1, b3 = f1 + 2 * df1;
  double mu1 = (-2 * b1 + 9 * b2 - 5 * b3) / 10;
  double mu2 = (b3 - b2) / 2;
  if (!(mu2 > 0)) return NAN; /* no minimum along the step (or a NaN in) */
  double t_min = -mu1 / (2 * mu2);
  return 1 / t_min - 1;
}
