/*
 * layer.c - the registry of layer kinds, looked up by the name used in specs,
 * and the helpers several kinds share (weight initialization, image shapes).
 */
#include "layer.h"

#include <math.h>
#include <string.h>

static const layer_ops *const all_layers[] = {
    &layer_dense, &layer_conv, &layer_maxpool, &layer_avgpool,   &layer_flatten,
    &layer_relu,  &layer_tanh, &layer_sigmoid, &layer_batchnorm, &layer_dropout};
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

int layer_parse_init(layer *l, const char *text) {
  l->init_kind = LAYER_INIT_AUTO;
  if (!text || strcmp(text, "auto") == 0) return DESCENT_OK;
  if (strcmp(text, "he") == 0)
    l->init_kind = LAYER_INIT_HE;
  else if (strcmp(text, "glorot") == 0)
    l->init_kind = LAYER_INIT_GLOROT;
  else if (strcmp(text, "tnormal") == 0)
    l->init_kind = LAYER_INIT_TNORMAL;
  else {
    spec_quote q;
    return descent_fail(DESCENT_EINVAL,
                        "model spec: %s(init=...): unknown initialization %s; valid choices: "
                        "auto, he, glorot, tnormal",
                        l->ops->name, spec_quote_text(&q, text));
  }
  return DESCENT_OK;
}

void layer_init_weights(const layer *l, descent_real *w, size_t count, size_t fan_in,
                        size_t fan_out, descent_real *bias, size_t bias_count, const layer *next,
                        descent_rng *rng) {
  layer_init kind = l->init_kind;
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
      w[i] = (descent_real)(l->init_std * z);
    }
  } else {
    double limit = sqrt(6.0 / (double)(fan_in + fan_out));
    for (size_t i = 0; i < count; i++)
      w[i] = (descent_real)(limit * (2.0 * descent_rng_uniform(rng) - 1.0));
  }
  for (size_t i = 0; bias && i < bias_count; i++) bias[i] = (descent_real)l->bias_init;
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
