/*
 * transforms_optax.h - the transforms that follow optax's scale_by_* of the
 * optimizers torch.optim lacks: AdaBelief, Yogi and AdEMAMix
 * (transforms_optax.c). transform.c lists them in its registry.
 */
#ifndef DESCENT_TRANSFORMS_OPTAX_H
#define DESCENT_TRANSFORMS_OPTAX_H

#include "transform.h"

extern const transform_def transform_adabelief;
extern const transform_def transform_yogi;
extern const transform_def transform_ademamix;

#endif /* DESCENT_TRANSFORMS_OPTAX_H */
