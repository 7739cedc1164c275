/*
 * shape.c - sizes of shapes.
 */
#include "internal.h"

size_t descent_shape_size(const descent_shape *shape) {
  size_t size = 1;
  for (int i = 0; i < shape->ndim; i++) size *= shape->dims[i];
  return size;
}
