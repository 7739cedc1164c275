/*
 * transforms_layerwise.h - the transforms of LAMB and LARS
 * (transforms_layerwise.c): optax's Adam scaling and the per-tensor trust
 * ratio, listed in transform.c's table of built-ins.
 */
#ifndef DESCENT_TRANSFORMS_LAYERWISE_H
#define DESCENT_TRANSFORMS_LAYERWISE_H

#include "transform.h"

extern const transform_def transform_optax_adam;
extern const transform_def transform_trust_ratio;

#endif /* DESCENT_TRANSFORMS_LAYERWISE_H */
