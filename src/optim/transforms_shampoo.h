/*
 * transforms_shampoo.h - Shampoo's preconditioner as one whole-tensor
 * transform (transforms_shampoo.c), listed in transform.c's table of
 * built-ins.
 */
#ifndef DESCENT_TRANSFORMS_SHAMPOO_H
#define DESCENT_TRANSFORMS_SHAMPOO_H

#include "transform.h"

extern const transform_def transform_shampoo;

#endif /* DESCENT_TRANSFORMS_SHAMPOO_H */
