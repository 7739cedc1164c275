/*
 * spec.c - turns a model spec ("mlp:784-256-10", "cnn:fmnist_2c2d" or
 * "dense(256), relu, ...") into configured layers.
 *
 * The mlp and cnn shorthands are rewritten into the general layer list first, so both
 * forms share one parser and one set of messages.
 */
#include "network_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* "mlp:784-256-128-10/tanh" -> "dense(256), tanh, dense(128), tanh, dense(10)". */
static int expand_mlp(const char *spec, size_t input_size, char *out, size_t cap) {
  const char *p = spec + 4;
  const char *slash = strchr(p, '/');
  const char *act = slash ? slash + 1 : "relu";
  const char *widths_end = slash ? slash : spec + strlen(spec);
  spec_quote q, q2;
  if (strcmp(act, "relu") != 0 && strcmp(act, "tanh") != 0 && strcmp(act, "sigmoid") != 0)
    return descent_fail(DESCENT_EINVAL,
                        "model spec: unknown activation %s in %s; valid choices: relu, tanh, "
                        "sigmoid",
                        spec_quote_text(&q, act), spec_quote_text(&q2, spec));
  size_t sizes[64];
  int count = 0;
  while (p < widths_end) {
    char *end;
    if (!isdigit((unsigned char)*p))
      return descent_fail(DESCENT_EINVAL,
                          "model spec: expected layer widths separated by '-', as in "
                          "mlp:784-256-128-10, in %s",
                          spec_quote_span(&q, spec, strlen(spec), (size_t)(p - spec)));
    unsigned long long v = strtoull(p, &end, 10);
    if (v == 0 || v > (1u << 24))
      return descent_fail(DESCENT_EINVAL, "model spec: width %s out of range [1, %u] in %s",
                          spec_quote_span(&q2, p, (size_t)(end - p), 0), 1u << 24,
                          spec_quote_span(&q, spec, strlen(spec), (size_t)(p - spec)));
    if (count == 64)
      return descent_fail(DESCENT_ERANGE, "model spec: more than 64 widths in %s",
                          spec_quote_text(&q, spec));
    sizes[count++] = (size_t)v;
    p = end;
    if (*p == '-')
      p++;
    else if (p != widths_end)
      return descent_fail(DESCENT_EINVAL, "model spec: unexpected %s at character %zu of %s",
                          spec_quote_span(&q2, p, 1, 0), (size_t)(p - spec) + 1,
                          spec_quote_span(&q, spec, strlen(spec), (size_t)(p - spec)));
  }
  if (count < 2)
    return descent_fail(DESCENT_EINVAL,
                        "model spec: an mlp needs at least an input and an output width, as "
                        "in mlp:784-10; got %s",
                        spec_quote_text(&q, spec));
  if (sizes[0] != input_size)
    return descent_fail(DESCENT_ESHAPE,
                        "model spec: the input width %zu does not match the data's %zu "
                        "features in %s",
                        sizes[0], input_size, spec_quote_text(&q, spec));
  size_t used = 0;
  out[0] = '\0';
  for (int i = 1; i < count && used < cap; i++)
    used += (size_t)snprintf(out + used, cap - used, "%sdense(%zu)%s%s", i > 1 ? ", " : "",
                             sizes[i], i < count - 1 ? ", " : "", i < count - 1 ? act : "");
  if (used >= cap)
    return descent_fail(DESCENT_ERANGE,
                        "model spec: the expanded layer list is longer than %zu characters in %s",
                        cap - 1, spec_quote_text(&q, spec));
  return DESCENT_OK;
}

/* Named networks, written out in the layer syntax. */
static const struct {
  const char *name, *layers;
} named_cnns[] = {
    /* DeepOBS's fmnist_2c2d (deepobs/pytorch/testproblems/testproblems_modules.py,
       net_mnist_2c2d): 5x5 convolutions with 'same' padding, 2x2 max pooling
       with stride 2, weights truncated normal with std 0.05, biases 0.05. */
    {"fmnist_2c2d", "conv(32, 5, pad=2, init=tnormal, std=0.05, bias_init=0.05), relu, "
                    "maxpool(2), "
                    "conv(64, 5, pad=2, init=tnormal, std=0.05, bias_init=0.05), relu, "
                    "maxpool(2), flatten, "
                    "dense(1024, init=tnormal, std=0.05, bias_init=0.05), relu, "
                    "dense(10, init=tnormal, std=0.05, bias_init=0.05)"},
};

static int expand_cnn(const char *spec, const char **out) {
  const char *name = spec + 4;
  for (size_t i = 0; i < sizeof named_cnns / sizeof named_cnns[0]; i++)
    if (strcmp(name, named_cnns[i].name) == 0) {
      *out = named_cnns[i].layers;
      return DESCENT_OK;
    }
  spec_quote q;
  return descent_fail(DESCENT_EINVAL, "model spec: unknown network %s; valid: fmnist_2c2d",
                      spec_quote_text(&q, name));
}

int net_spec_parse(const char *spec, size_t input_size, layer **out_layers, size_t *out_count) {
  char expanded[4096];
  if (!spec || !*spec)
    return descent_fail(DESCENT_EINVAL, "empty model spec; try mlp:784-256-128-10");
  if (strncmp(spec, "mlp:", 4) == 0) {
    int rc = expand_mlp(spec, input_size, expanded, sizeof expanded);
    if (rc) return rc;
    spec = expanded;
  } else if (strncmp(spec, "cnn:", 4) == 0) {
    int rc = expand_cnn(spec, &spec);
    if (rc) return rc;
  }
  spec_span items[SPEC_MAX_ITEMS];
  int n = 0;
  int rc = spec_split(spec, ", \t\n", items, SPEC_MAX_ITEMS, &n, "model spec");
  if (rc) return rc;
  if (n == 0) return descent_fail(DESCENT_EINVAL, "empty model spec; try mlp:784-256-128-10");
  layer *layers = descent_calloc((size_t)n, sizeof *layers, "model spec");
  if (!layers) return DESCENT_ENOMEM;
  for (int i = 0; i < n; i++) {
    spec_call call;
    rc = spec_parse_call(items[i], &call, "model spec");
    if (rc) goto fail;
    const layer_ops *ops = layer_find(call.name);
    if (!ops) {
      char names[1024];
      layer_list_names(names, sizeof names);
      rc = descent_fail(DESCENT_EINVAL,
                        "model spec: unknown layer '%s' (item %d); valid layers: %s, or the "
                        "shorthands mlp:IN-H1-...-OUT and cnn:fmnist_2c2d; a program's own layer "
                        "kind must be registered with descent_layer_register before a spec or a "
                        "saved model uses it",
                        call.name, i + 1, names);
      goto fail;
    }
    rc = layer_make(&layers[i], ops, i + 1);
    if (!rc) rc = ops->configure(&layers[i], &call);
    if (rc) goto fail;
  }
  *out_layers = layers;
  *out_count = (size_t)n;
  return DESCENT_OK;
fail:
  layers_free(layers, (size_t)n);
  return rc;
}
