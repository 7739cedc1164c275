/*
 * transforms_dadapt.h - the learning-rate-free Adams of optax.contrib that
 * estimate their own step size d from global sums: Prodigy and
 * D-Adaptation's AdamW. transform.c lists them among the built-ins.
 */
#ifndef DESCENT_TRANSFORMS_DADAPT_H
#define DESCENT_TRANSFORMS_DADAPT_H

#include "transform.h"

extern const transform_def transform_prodigy;
extern const transform_def transform_dadapt_adamw;

#endif /* DESCENT_TRANSFORMS_DADAPT_H */
