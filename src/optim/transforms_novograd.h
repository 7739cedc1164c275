/*
 * transforms_novograd.h - Novograd's transform (transforms_novograd.c): a
 * second moment per tensor, kept from step to step, listed in transform.c's
 * table of built-ins.
 */
#ifndef DESCENT_TRANSFORMS_NOVOGRAD_H
#define DESCENT_TRANSFORMS_NOVOGRAD_H

#include "transform.h"

extern const transform_def transform_novograd;

#endif /* DESCENT_TRANSFORMS_NOVOGRAD_H */
