/*
 * transforms_adamfam.h - Adam's relatives from torch.optim: NAdam, RAdam and
 * Adamax, as transforms (transforms_adamfam.c), listed by transform.c's
 * registry.
 */
#ifndef DESCENT_TRANSFORMS_ADAMFAM_H
#define DESCENT_TRANSFORMS_ADAMFAM_H

#include "transform.h"

extern const transform_def transform_nadam;
extern const transform_def transform_radam;
extern const transform_def transform_adamax;

#endif /* DESCENT_TRANSFORMS_ADAMFAM_H */
