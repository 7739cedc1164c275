/*
 * transforms_matrix.h - the transforms Muon is built from
 * (transforms_matrix.c): its momentum, the Newton-Schulz orthogonalization
 * of each whole tensor, and its per-tensor rate; listed in transform.c's
 * table of built-ins.
 */
#ifndef DESCENT_TRANSFORMS_MATRIX_H
#define DESCENT_TRANSFORMS_MATRIX_H

#include "transform.h"

extern const transform_def transform_muon_momentum;
extern const transform_def transform_newton_schulz;
extern const transform_def transform_newton_schulz_bf16;
extern const transform_def transform_muon_lr;

/* C = alpha X X^T + beta C (C r x r, X r rows of k numbers at row stride
   ld) in a descent_gemm_precision precision: only the 256-row blocks on and
   above the diagonal are computed, each mirrored below it (Muon's Gram
   matrices, Shampoo's factors). */
void matrix_symmetric_product(int precision, size_t r, size_t k, descent_real alpha,
                              const descent_real *x, size_t ld, descent_real beta, descent_real *c);

#endif /* DESCENT_TRANSFORMS_MATRIX_H */
