/*
 * transforms_factored.h - Adafactor (transforms_factored.c): torch's
 * Adafactor step on each whole tensor, with its second moment factored into
 * row and column means; listed in transform.c's table of built-ins.
 */
#ifndef DESCENT_TRANSFORMS_FACTORED_H
#define DESCENT_TRANSFORMS_FACTORED_H

#include "transform.h"

extern const transform_def transform_adafactor;

#endif /* DESCENT_TRANSFORMS_FACTORED_H */
