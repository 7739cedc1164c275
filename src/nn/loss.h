/*
 * loss.h - losses on the network's final output.
 */
#ifndef DESCENT_LOSS_H
#define DESCENT_LOSS_H

#include "internal.h"

/* Batch-mean loss of n outputs of width k against labels (or, for MSE, targets;
 * MSE on labels uses one-hot targets). Writes d(loss)/d(out) to dout when it is
 * not NULL and counts correct argmax predictions in *correct when not NULL.
 * row_loss is scratch for n doubles: rows are computed in parallel and summed
 * in order, so the result does not depend on the thread count. */
int loss_evaluate(descent_loss_kind kind, const descent_real *out, size_t n, size_t k,
                  const int32_t *labels, const descent_real *targets, double *row_loss,
                  double *loss, descent_real *dout, size_t *correct);

/* hv = H_L rz for each of the n rows: the Hessian of the batch-mean loss
 * with respect to the outputs (block diagonal, one k x k block per example)
 * times rz. Cross-entropy: (diag(p) - p p^T) rz / n with p the softmax of
 * the row; MSE: rz / n. Labels are not needed (the Hessian does not depend
 * on them); out is the network's output. */
void loss_hessian_product(descent_loss_kind kind, const descent_real *out, size_t n, size_t k,
                          const descent_real *rz, descent_real *hv);

#endif /* DESCENT_LOSS_H */
