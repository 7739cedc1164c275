/*
 * layer.c - the registry of layer kinds, looked up by the name used in specs.
 */
#include "layer.h"

#include <string.h>

static const layer_ops *const all_layers[] = {&layer_dense, &layer_relu, &layer_tanh,
                                              &layer_sigmoid};
enum { N_LAYERS = sizeof all_layers / sizeof all_layers[0] };

const layer_ops *layer_find(const char *name) {
  for (int i = 0; i < N_LAYERS; i++)
    if (strcmp(all_layers[i]->name, name) == 0) return all_layers[i];
  return NULL;
}

void layer_list_names(char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < N_LAYERS && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", all_layers[i]->name);
}

int layer_is_relu(const layer *l) {
  return l && l->ops == &layer_relu;
}
