/*
 * transforms_classic.h - the pre-Adam methods of torch.optim that descent
 * builds from transforms: Adadelta, Rprop and averaged SGD (ASGD).
 * transform.c lists them among the built-ins.
 */
#ifndef DESCENT_TRANSFORMS_CLASSIC_H
#define DESCENT_TRANSFORMS_CLASSIC_H

#include "transform.h"

extern const transform_def transform_adadelta;
extern const transform_def transform_rprop;
extern const transform_def transform_asgd;

#endif /* DESCENT_TRANSFORMS_CLASSIC_H */
