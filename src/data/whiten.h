/*
 * whiten.h - PCA and ZCA whitening, the part of preprocessing that needs the
 * covariance and its eigendecomposition (whiten.c).
 */
#ifndef DESCENT_WHITEN_H
#define DESCENT_WHITEN_H

#include "internal.h"

/* Per-feature mean and population variance of ds, in double (preprocess.c). */
int preprocess_moments(const descent_dataset *ds, double *mean, double *var);

/* Fits pp (zeroed by the caller) for kind PCA or ZCA on train. */
int preprocess_fit_whitening(descent_preprocess *pp, descent_preprocess_kind kind,
                             const descent_dataset *train, double eps);

/* x' = W (x - mean) for every example of ds, in place. */
int preprocess_apply_whitening(const descent_preprocess *pp, descent_dataset *ds);

#endif /* DESCENT_WHITEN_H */
