/*
 * problem.h - what the families of synthetic problems share: the object every
 * one of them builds, and the table each family fills to be created from text.
 *
 * A problem is an objective that also knows its minimum, its curvature and a
 * window to draw it in (descent_problem_info). Families compute in double and
 * write the gradient in descent_real, so the same function is seen by the
 * float and the double build.
 */
#ifndef DESCENT_PROBLEM_H
#define DESCENT_PROBLEM_H

#include "core/spec.h"

#define PROBLEM_MAX_MINIMA 16

typedef struct problem problem;

/* f(theta) and, when grad is not NULL, its gradient; theta and grad hold
   p->info.dim numbers. batch is the objective's batch (NULL: everything). */
typedef int (*problem_eval_fn)(const problem *p, const descent_batch *batch, const double *theta,
                               double *f, double *grad);

/* out = (curvature matrix at theta) v, all dim numbers: the Hessian (hvp)
   or the Gauss-Newton matrix (ggn) of f on batch. */
typedef void (*problem_product_fn)(const problem *p, const descent_batch *batch,
                                   const double *theta, const descent_real *v, double *out);

/* Per-example gradients of a finite sum at theta: for each of the batch's
   terms l_k (all n_terms when batch is NULL or names no indices), sq[k] =
   |grad l_k|^2 and, when v is not NULL, dot[k] = grad l_k . v (dim
   numbers), with f the terms' mean. */
typedef void (*problem_examples_fn)(const problem *p, const descent_batch *batch,
                                    const double *theta, const descent_real *v, double *sq,
                                    double *dot);

struct problem {
  descent_objective obj; /* obj.impl points back here */
  descent_problem_info info;
  problem_eval_fn eval;
  problem_product_fn hvp;       /* the analytic Hessian's product; every family has it */
  problem_product_fn ggn;       /* the Gauss-Newton matrix's, for sums of squares; or NULL */
  problem_examples_fn examples; /* per-example gradients, for finite sums; or NULL */
  double *theta, *grad;         /* dim numbers of scratch, in double */
  double *minimizer, *start;    /* dim numbers each */
  double minima[PROBLEM_MAX_MINIMA * 2]; /* 1D and 2D problems only */
  double minima_f[PROBLEM_MAX_MINIMA];
  char spec[256];           /* canonical text */
  double hp[SPEC_MAX_ARGS]; /* the bound parameters */
  void *data;               /* the family's own arrays (one allocation) */
};

typedef struct problem_family {
  const char *name;
  const char *formula; /* one line, for help */
  const spec_param *params;
  int n_params;
  const char *text_default;        /* default of the SPEC_TEXT parameter, if any */
  size_t (*dim)(const double *hp); /* number of parameters for these values */
  /* Fills info (minimum, curvature, start, window), eval and data. The
     parameters hp are bound and in range; texts holds SPEC_TEXT values. */
  int (*setup)(problem *p, const double *hp, const char **texts);
} problem_family;

extern const problem_family problem_quad1d, problem_logcosh, problem_nonconvex1d;
extern const problem_family problem_quad2d, problem_quadnd;
extern const problem_family problem_linreg, problem_finite_sum;
extern const problem_family problem_saddle, problem_plateau, problem_rosenbrock;
extern const problem_family problem_beale;
extern const problem_family problem_quadratic_deep;

/* DESCENT_OK when obj is not a problem or its family has per-example
   gradients; DESCENT_ENOTSUP naming the family otherwise. */
int problem_check_example_gradients(const descent_objective *obj);

/* Finds every local minimum of a 1D function in [lo, hi] by a scan for sign
   changes of f' refined by bisection; fills p->minima and the info fields. */
int problem_find_minima_1d(problem *p, double lo, double hi);

/* Eigenvalues of a symmetric n x n matrix (row-major, destroyed), by cyclic
   Jacobi rotations, in increasing order. For the small Hessians of the data
   problems, where this is exact enough and needs no LAPACK. */
void problem_symmetric_eigenvalues(double *a, size_t n, double *eigenvalues);

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

#endif /* DESCENT_PROBLEM_H */
