/*
 * layer.c - the registry of layer kinds, looked up by the name used in specs
 * (the built-in kinds first, then those a program registered, layer_kind.c),
 * each layer's configuration, and the helpers several kinds share (weight
 * initialization, image shapes).
 */
#include "layer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const layer_ops *const layer_builtin_kinds[] = {
    &layer_dense, &layer_conv, &layer_maxpool, &layer_avgpool,   &layer_flatten,
    &layer_relu,  &layer_tanh, &layer_sigmoid, &layer_batchnorm, &layer_dropout};
const int layer_builtin_count = sizeof layer_builtin_kinds / sizeof layer_builtin_kinds[0];

const layer_ops *layer_find(const char *name) {
  for (int i = 0; i < layer_builtin_count; i++)
    if (strcmp(layer_builtin_kinds[i]->name, name) == 0) return layer_builtin_kinds[i];
  const layer_ops *ops;
  for (int i = 0; (ops = layer_registered_kind(i)) != NULL; i++)
    if (strcmp(ops->name, name) == 0) return ops;
  return NULL;
}

void layer_list_names(char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  const layer_ops *ops;
  for (int i = 0; used < cap; i++) {
    ops = i < layer_builtin_count ? layer_builtin_kinds[i]
                                  : layer_registered_kind(i - layer_builtin_count);
    if (!ops) break;
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", ops->name);
  }
}

int layer_make(layer *l, const layer_ops *ops, int index) {
  memset(l, 0, sizeof *l);
  l->ops = ops;
  snprintf(l->name, sizeof l->name, "layer%d.%s", index, ops->name);
  if (ops->config_size) {
    l->config = descent_calloc(1, ops->config_size, "layer configuration");
    if (!l->config) return DESCENT_ENOMEM;
  }
  return DESCENT_OK;
}

void layers_free(layer *layers, size_t count) {
  for (size_t i = 0; layers && i < count; i++) free(layers[i].config);
  free(layers);
}

int layer_is_relu(const layer *l) {
  return l && l->ops == &layer_relu;
}

int layer_parse_init(layer_weight_init *w, const char *kind, const char *text, double std,
                     double bias_init) {
  w->kind = LAYER_INIT_AUTO;
  w->std = std;
  w->bias_init = bias_init;
  if (!text || strcmp(text, "auto") == 0) return DESCENT_OK;
  if (strcmp(text, "he") == 0)
    w->kind = LAYER_INIT_HE;
  else if (strcmp(text, "glorot") == 0)
    w->kind = LAYER_INIT_GLOROT;
  else if (strcmp(text, "tnormal") == 0)
    w->kind = LAYER_INIT_TNORMAL;
  else {
    spec_quote q;
    return descent_fail(DESCENT_EINVAL,
                        "model spec: %s(init=...): unknown initialization %s; valid choices: "
                        "auto, he, glorot, tnormal",
                        kind, spec_quote_text(&q, text));
  }
  return DESCENT_OK;
}

void layer_init_weights(const layer_weight_init *init, descent_real *w, size_t count, size_t fan_in,
                        size_t fan_out, descent_real *bias, size_t bias_count, const layer *next,
                        descent_rng *rng) {
  layer_init kind = init->kind;
  if (kind == LAYER_INIT_AUTO) kind = layer_is_relu(next) ? LAYER_INIT_HE : LAYER_INIT_GLOROT;
  if (kind == LAYER_INIT_HE) {
    double std = sqrt(2.0 / (double)fan_in);
    for (size_t i = 0; i < count; i++) w[i] = (descent_real)(std * descent_rng_normal(rng));
  } else if (kind == LAYER_INIT_TNORMAL) {
    /* TensorFlow's truncated_normal, which DeepOBS uses: draws beyond two
       standard deviations are drawn again. */
    for (size_t i = 0; i < count; i++) {
      double z;
      do z = descent_rng_normal(rng);
      while (fabs(z) > 2.0);
      w[i] = (descent_real)(init->std * z);
    }
  } else {
    double limit = sqrt(6.0 / (double)(fan_in + fan_out));
    for (size_t i = 0; i < count; i++)
      w[i] = (descent_real)(limit * (2.0 * descent_rng_uniform(rng) - 1.0));
  }
  for (size_t i = 0; bias && i < bias_count; i++) bias[i] = (descent_real)init->bias_init;
}

int layer_image_dims(const descent_shape *s, size_t *c, size_t *h, size_t *w) {
  if (s->ndim == 3) {
    *c = s->dims[0], *h = s->dims[1], *w = s->dims[2];
    return 1;
  }
  if (s->ndim == 2) {
    *c = 1, *h = s->dims[0], *w = s->dims[1];
    return 1;
  }
  return 0;
}
