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

#endif /* DESCENT_TRANSFORMS_MATRIX_H */
