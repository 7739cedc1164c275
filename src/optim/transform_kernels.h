/*
 * transform_kernels.h - what the files of built-in transforms share to write
 * their loops: the buffers' number type, the square root and absolute value
 * in that precision (sqrt of a float would widen), PyTorch's lerp, and the
 * macros that compile an apply() or an apply_lr_add() once per
 * instruction-set path (core/multiversion.h). Include it from a transform's
 * .c file only.
 */
#ifndef DESCENT_TRANSFORM_KERNELS_H
#define DESCENT_TRANSFORM_KERNELS_H

#include "transform.h"

#include "core/multiversion.h"

#include <math.h>

typedef descent_real real;

#ifdef DESCENT_DOUBLE
#define SQRT sqrt
#define FABS fabs
#else
#define SQRT sqrtf
#define FABS fabsf
#endif

/* PyTorch's lerp: a + w (b - a) for |w| < 1/2, else b - (b - a)(1 - w); the
   second form is exact at w = 1. `small` is |w| < 1/2, w1 is 1 - w. */
#define LERP(a, b, w, w1, small) ((small) ? (a) + (w) * ((b) - (a)) : (b) - ((b) - (a)) * (w1))

#define N_OF(a) ((int)(sizeof a / sizeof a[0]))

/* Defines NAME, the apply() of a transform, as one copy of NAME_body per
   instruction-set path. */
#define APPLY_ON_EVERY_PATH(name)                                                                  \
  MULTIVERSION_VOID(name,                                                                          \
                    (const transform *t, real *u, real *theta, real *const *slots, size_t n),      \
                    (t, u, theta, slots, n))
/* The same for an apply_lr_add(). */
#define LR_ADD_ON_EVERY_PATH(name)                                                                 \
  MULTIVERSION_VOID(name,                                                                          \
                    (const transform *t, const real *g, real *theta, real *const *slots, size_t n, \
                     real minus_lr),                                                               \
                    (t, g, theta, slots, n, minus_lr))

#endif /* DESCENT_TRANSFORM_KERNELS_H */
