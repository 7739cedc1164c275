/*
 * layer_kind.c - layer kinds a program registers (descent_layer_register),
 * and the reading of their spec arguments.
 *
 * A registered kind becomes a layer_ops like the built-in ones, so the
 * network, the spec parser, model files and descriptions know one kind of
 * layer: each registered kind's layer_ops is the first member of its entry
 * here, and its functions (the adapters below) find the program's callbacks
 * from l->ops, give them the public view of the layer and check what they
 * return (sizes, tensor tables) before the network relies on it.
 *
 * The registry is a fixed array that only grows. Registration takes a spin
 * lock (it is rare and short) and publishes the new count with a release
 * store; readers (layer_find) load the count with acquire, so a kind is
 * complete before any thread can see it, and lookups never wait.
 */
#include "layer.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

enum {
  MAX_KINDS = 64,
  MAX_NAME = 23,   /* "layer64." + name fits a layer's 32-byte name */
  MAX_USAGE = 127, /* characters of a usage text */
  MAX_KEYS = SPEC_MAX_ARGS * 2,
  MAX_CONFIG = 65536
};

typedef struct user_kind {
  layer_ops ops;           /* first: a layer's ops pointer is its entry */
  descent_layer_kind kind; /* the program's definition, copied */
  char name[MAX_NAME + 1];
  char usage[MAX_USAGE + 1];
} user_kind;

static user_kind kinds[MAX_KINDS];
static atomic_int kind_count;
static atomic_flag registering = ATOMIC_FLAG_INIT;

const layer_ops *layer_registered_kind(int i) {
  if (i < 0 || i >= atomic_load_explicit(&kind_count, memory_order_acquire)) return NULL;
  return &kinds[i].ops;
}

static const descent_layer_kind *kind_of(const layer *l) {
  return &((const user_kind *)l->ops)->kind;
}

/* ---- Arguments ---------------------------------------------------------- */

struct descent_layer_args {
  const spec_call *call;
  char keys[MAX_KEYS][sizeof(((spec_arg *)0)->key)]; /* in the order first read */
  int n_keys;
  int failed; /* the status of a failed read, whose message stands */
};

static int valid_key(const char *key) {
  size_t len = key ? strlen(key) : 0;
  if (len == 0 || len >= sizeof(((spec_arg *)0)->key)) return 0;
  for (size_t i = 0; i < len; i++)
    if (!isalnum((unsigned char)key[i]) && key[i] != '_') return 0;
  return 1;
}

/* The key's position among those read (added if new), or a failure. */
static int key_index(descent_layer_args *args, const char *key, int *index) {
  for (int i = 0; i < args->n_keys; i++)
    if (strcmp(args->keys[i], key) == 0) return *index = i, DESCENT_OK;
  if (args->n_keys == MAX_KEYS)
    return descent_fail(DESCENT_ERANGE, "model spec: %s reads more than %d keys", args->call->name,
                        MAX_KEYS);
  strcpy(args->keys[args->n_keys], key);
  *index = args->n_keys++;
  return DESCENT_OK;
}

/* The text given for the key at position index: by name, or as the
   index-th positional argument; NULL when not given. */
static const char *arg_text(const descent_layer_args *args, const char *key, int index) {
  int positional = 0;
  for (int a = 0; a < args->call->n_args; a++) {
    const spec_arg *arg = &args->call->args[a];
    if (arg->key[0] == '\0') {
      if (positional++ == index) return arg->value;
    } else if (strcmp(arg->key, key) == 0)
      return arg->value;
  }
  return NULL;
}

static int arg_read(descent_layer_args *args, const char *key, spec_kind kind, double min,
                    double max, double *value, int *given) {
  *given = 0;
  if (!args || !args->call)
    return descent_fail(DESCENT_EINVAL,
                        "descent_layer_arg_*: no arguments; call it from a layer kind's "
                        "configure, with the args it was given");
  int rc = DESCENT_OK, index = 0;
  if (!valid_key(key))
    rc = descent_fail(DESCENT_EINVAL,
                      "model spec: %s: the layer kind reads an invalid key '%s' (letters, "
                      "digits and _, at most %zu characters)",
                      args->call->name, key ? key : "(null)", sizeof args->keys[0] - 1);
  if (!rc) rc = key_index(args, key, &index);
  const char *text = rc ? NULL : arg_text(args, key, index);
  if (!rc && text) {
    spec_param p = {.name = key, .kind = kind, .min = min, .max = max};
    rc = spec_parse_value(&p, text, value, "model spec", args->call->name);
    *given = !rc;
  }
  if (rc && !args->failed) args->failed = rc;
  return rc;
}

int descent_layer_arg_double(descent_layer_args *args, const char *key, double def, double *value) {
  double v;
  int given, rc = arg_read(args, key, SPEC_NUMBER, -INFINITY, INFINITY, &v, &given);
  if (!rc && value) *value = given ? v : def;
  return rc;
}

int descent_layer_arg_int(descent_layer_args *args, const char *key, int def, int *value) {
  double v;
  int given, rc = arg_read(args, key, SPEC_INTEGER, INT_MIN, INT_MAX, &v, &given);
  if (!rc && value) *value = given ? (int)v : def;
  return rc;
}

int descent_layer_arg_size(descent_layer_args *args, const char *key, size_t def, size_t *value) {
  /* Whole numbers a double holds exactly, and that fit a size_t. */
  double max = (double)(SIZE_MAX < (UINT64_C(1) << 53) ? SIZE_MAX : (UINT64_C(1) << 53));
  double v;
  int given, rc = arg_read(args, key, SPEC_INTEGER, 0, max, &v, &given);
  if (!rc && value) *value = given ? (size_t)v : def;
  return rc;
}

/* ---- The adapters: a registered kind as layer_ops ----------------------- */

static void view_of(const layer *l, descent_layer_view *v) {
  *v = (descent_layer_view){.name = l->name,
                            .config = l->config,
                            .in = l->in,
                            .out = l->out,
                            .in_size = l->in_size,
                            .out_size = l->out_size,
                            .max_batch = l->max_batch,
                            .n_params = l->n_params,
                            .n_buffers = l->n_buffers,
                            .buffers = l->buffers,
                            .scratch = l->scratch,
                            .rng = l->rng};
}

/* A callback's failure, with the layer named in front of its message. */
static int callback_failed(const layer *l, int rc, const char *what) {
  if (rc > 0) rc = DESCENT_EINVAL;
  if (descent_last_error()[0] == '\0')
    return descent_fail(rc,
                        "model spec: %s: its %s returned %d (%s) without a message (the kind "
                        "should say why with descent_set_error)",
                        l->name, what, rc, descent_strerror(rc));
  descent_error_prefix("model spec: %s: ", l->name);
  return rc;
}

/* An argument error, with the kind's usage text after it. */
static int with_usage(const layer *l, int rc) {
  char message[DESCENT_ERROR_CAP];
  snprintf(message, sizeof message, "%s", descent_last_error());
  return descent_fail(rc, "%s (usage: %s)", message, l->ops->usage);
}

static int user_configure(layer *l, const spec_call *call) {
  const descent_layer_kind *k = kind_of(l);
  descent_layer_args args = {.call = call};
  if (k->configure) {
    descent_error_clear();
    int rc = k->configure(l->config, &args);
    if (args.failed) return with_usage(l, args.failed); /* the reader's message names the layer */
    if (rc) return callback_failed(l, rc, "configure");
  }
  /* Every argument must be one configure read, given once, positional ones
     first: spec_bind checks that (and words it) as for a built-in kind. */
  spec_param params[MAX_KEYS];
  double values[MAX_KEYS];
  for (int i = 0; i < args.n_keys; i++)
    params[i] = (spec_param){.name = args.keys[i], .kind = SPEC_TEXT};
  int rc = spec_bind(call, params, args.n_keys, values, NULL, "model spec");
  return rc ? with_usage(l, rc) : DESCENT_OK;
}

/* The length of a name in a field of cap bytes that may lack its NUL. */
static size_t strnlen_own(const char *s, size_t cap) {
  const char *end = memchr(s, '\0', cap);
  return end ? (size_t)(end - s) : cap;
}

/* Checks a table a kind's tensors or buffer_tensors wrote: count, names
   (then prefixed with the layer's name), and that the tensors cover
   [0, total) in order. */
static int check_table(const layer *l, const char *what, int count, descent_tensor_info *t,
                       size_t total) {
  if (count < 0 || count > LAYER_MAX_TENSORS)
    return descent_fail(DESCENT_EINVAL, "model spec: %s: its %s returned %d; a layer has 0 to %d",
                        l->name, what, count, LAYER_MAX_TENSORS);
  size_t next = 0;
  for (int i = 0; i < count; i++) {
    size_t len = strnlen_own(t[i].name, sizeof t[i].name);
    if (len == 0 || strlen(l->name) + 1 + len >= sizeof t[i].name)
      return descent_fail(DESCENT_EINVAL,
                          "model spec: %s: its %s gave tensor %d an empty name or one longer "
                          "than %zu characters",
                          l->name, what, i, sizeof t[i].name - 2 - strlen(l->name));
    size_t size = descent_shape_size(&t[i].shape);
    int shape_ok = t[i].shape.ndim >= 1 && t[i].shape.ndim <= DESCENT_MAX_DIMS;
    for (int d = 0; shape_ok && d < t[i].shape.ndim; d++) shape_ok = t[i].shape.dims[d] >= 1;
    if (!shape_ok || size != t[i].size || t[i].offset != next || t[i].size > total - next)
      return descent_fail(DESCENT_EINVAL,
                          "model spec: %s: its %s: tensor '%s' has offset %zu and size %zu; the "
                          "tensors must follow each other from 0 (this one at %zu), each the "
                          "size of its shape, within the layer's %zu values",
                          l->name, what, t[i].name, t[i].offset, t[i].size, next, total);
    next += t[i].size;
  }
  if (next != total)
    return descent_fail(DESCENT_EINVAL,
                        "model spec: %s: its %s cover %zu values of the layer's %zu", l->name, what,
                        next, total);
  return DESCENT_OK;
}

/* The table of a registered kind's tensors (buffers: its buffer tensors),
   names prefixed with the layer's. The kind writes into a table of
   LAYER_MAX_TENSORS; only the entries it fills are copied to t, which the
   network sizes by the count setup found. */
static int user_table(const layer *l, int buffers, descent_tensor_info *t) {
  const descent_layer_kind *k = kind_of(l);
  int (*fill)(const descent_layer_view *, descent_tensor_info *) =
      buffers ? k->buffer_tensors : k->tensors;
  if (!fill) return 0;
  descent_layer_view v;
  view_of(l, &v);
  descent_tensor_info own[LAYER_MAX_TENSORS];
  memset(own, 0, sizeof own);
  int count = fill(&v, own);
  if (count < 0) count = 0;
  if (count > LAYER_MAX_TENSORS) count = LAYER_MAX_TENSORS;
  for (int i = 0; i < count; i++) {
    /* setup checked that the names fit (check_table): cut, never overrun */
    t[i] = own[i];
    size_t cap = sizeof t[i].name, prefix = strlen(l->name);
    size_t len = strnlen_own(own[i].name, sizeof own[i].name);
    if (prefix + 1 + len >= cap) len = cap - 2 - prefix;
    memcpy(t[i].name, l->name, prefix);
    t[i].name[prefix] = '.';
    memcpy(t[i].name + prefix + 1, own[i].name, len);
    t[i].name[prefix + 1 + len] = '\0';
  }
  return count;
}

static int user_tensors(const layer *l, descent_tensor_info *t) {
  return user_table(l, 0, t);
}

static int user_buffer_tensors(const layer *l, descent_tensor_info *t) {
  return user_table(l, 1, t);
}

/* The tables as the kind writes them, before the names get their prefix. */
static int check_tables(const layer *l) {
  const descent_layer_kind *k = kind_of(l);
  descent_layer_view v;
  view_of(l, &v);
  descent_tensor_info t[LAYER_MAX_TENSORS];
  for (int buffers = 0; buffers < 2; buffers++) {
    int (*fill)(const descent_layer_view *, descent_tensor_info *) =
        buffers ? k->buffer_tensors : k->tensors;
    const char *what = buffers ? "buffer_tensors" : "tensors";
    size_t total = buffers ? l->n_buffers : l->n_params;
    if (!fill) {
      if (total)
        return descent_fail(DESCENT_EINVAL,
                            "model spec: %s: setup asks for %zu %s but the kind has no %s "
                            "callback to name them",
                            l->name, total, buffers ? "buffer values" : "parameters", what);
      continue;
    }
    memset(t, 0, sizeof t);
    int rc = check_table(l, what, fill(&v, t), t, total);
    if (rc) return rc;
  }
  return DESCENT_OK;
}

static int user_setup(layer *l) {
  descent_layer_view v;
  view_of(l, &v);
  descent_layer_sizes sizes = {.out = l->in};
  descent_error_clear();
  int rc = kind_of(l)->setup(&v, &sizes);
  if (rc) return callback_failed(l, rc, "setup");
  const descent_shape *out = &sizes.out;
  int ok = out->ndim >= 1 && out->ndim <= DESCENT_MAX_DIMS;
  size_t out_size = 1;
  for (int d = 0; ok && d < out->ndim; d++)
    ok = out->dims[d] >= 1 && descent_mul_ok(out_size, out->dims[d], &out_size);
  if (!ok)
    return descent_fail(DESCENT_EINVAL,
                        "model spec: %s: setup gave an output shape of %d dimension(s) with a "
                        "zero or too large one; a shape has 1 to %d dimensions, each at least 1",
                        l->name, out->ndim, DESCENT_MAX_DIMS);
  l->out = *out;
  l->out_size = out_size;
  l->n_params = sizes.n_params;
  l->n_buffers = sizes.n_buffers;
  l->scratch_bytes = sizes.scratch_bytes;
  return check_tables(l);
}

static void user_init(layer *l, descent_real *params, const layer *next, descent_rng *rng) {
  (void)next;
  const descent_layer_kind *k = kind_of(l);
  if (!k->init) return;
  descent_layer_view v;
  view_of(l, &v);
  k->init(&v, params, rng);
}

static void user_forward(layer *l, const descent_real *params, const descent_real *x,
                         descent_real *y, size_t n, int train) {
  descent_layer_view v;
  view_of(l, &v);
  kind_of(l)->forward(&v, params, x, y, n, train);
}

static void user_backward(layer *l, const descent_real *params, const descent_real *x,
                          const descent_real *y, const descent_real *dy, descent_real *dx,
                          descent_real *dparams, size_t n) {
  descent_layer_view v;
  view_of(l, &v);
  kind_of(l)->backward(&v, params, x, y, dy, dx, dparams, n);
}

static void user_jvp(layer *l, const descent_real *params, const descent_real *vparams,
                     const descent_real *x, const descent_real *rx, const descent_real *y,
                     descent_real *ry, size_t n) {
  descent_layer_view v;
  view_of(l, &v);
  kind_of(l)->jvp(&v, params, vparams, x, rx, y, ry, n);
}

static void user_rbackward(layer *l, const descent_real *params, const descent_real *vparams,
                           const descent_real *x, const descent_real *rx, const descent_real *y,
                           const descent_real *ry, const descent_real *dy, const descent_real *rdy,
                           descent_real *rdx, descent_real *rdparams, size_t n) {
  descent_layer_view v;
  view_of(l, &v);
  kind_of(l)->rbackward(&v, params, vparams, x, rx, y, ry, dy, rdy, rdx, rdparams, n);
}

/* ---- Registration ------------------------------------------------------- */

static int check_kind(const descent_layer_kind *kind) {
  if (!kind) return descent_fail(DESCENT_EINVAL, "descent_layer_register: no kind (NULL)");
  const char *name = kind->name;
  size_t len = name ? strlen(name) : 0;
  int valid = len >= 1 && len <= MAX_NAME && isalpha((unsigned char)name[0]);
  for (size_t i = 0; valid && i < len; i++)
    valid = isalnum((unsigned char)name[i]) || name[i] == '_';
  if (!valid) {
    spec_quote q;
    return descent_fail(DESCENT_EINVAL,
                        "descent_layer_register: %s is not a valid layer name; write a letter, "
                        "then letters, digits or _, at most %d characters",
                        name ? spec_quote_text(&q, name) : "(null)", MAX_NAME);
  }
  for (int i = 0; i < layer_builtin_count; i++)
    if (strcmp(layer_builtin_kinds[i]->name, name) == 0)
      return descent_fail(DESCENT_EINVAL,
                          "descent_layer_register: '%s' is a built-in layer kind; give yours "
                          "another name",
                          name);
  const char *missing = !kind->setup      ? "setup"
                        : !kind->forward  ? "forward"
                        : !kind->backward ? "backward"
                                          : NULL;
  if (missing)
    return descent_fail(DESCENT_EINVAL,
                        "descent_layer_register: layer kind '%s' has no %s callback", name,
                        missing);
  if (kind->usage && strlen(kind->usage) > MAX_USAGE)
    return descent_fail(DESCENT_EINVAL,
                        "descent_layer_register: the usage text of '%s' is longer than %d "
                        "characters",
                        name, MAX_USAGE);
  if (kind->config_size > MAX_CONFIG)
    return descent_fail(DESCENT_EINVAL,
                        "descent_layer_register: layer kind '%s' asks for %zu bytes of "
                        "configuration; at most %d",
                        name, kind->config_size, MAX_CONFIG);
  return DESCENT_OK;
}

int descent_layer_register(const descent_layer_kind *kind) {
  descent_error_clear();
  int rc = check_kind(kind);
  if (rc) return rc;
  while (atomic_flag_test_and_set_explicit(&registering, memory_order_acquire)) {
  }
  int count = atomic_load_explicit(&kind_count, memory_order_relaxed);
  for (int i = 0; !rc && i < count; i++)
    if (strcmp(kinds[i].name, kind->name) == 0)
      rc = descent_fail(DESCENT_EINVAL,
                        "descent_layer_register: a layer kind named '%s' is already registered "
                        "(names are process-wide); give this one another name",
                        kind->name);
  if (!rc && count == MAX_KINDS)
    rc = descent_fail(DESCENT_ERANGE,
                      "descent_layer_register: %d layer kinds are registered already, the most "
                      "a process can have",
                      MAX_KINDS);
  if (!rc) {
    user_kind *u = &kinds[count];
    u->kind = *kind;
    snprintf(u->name, sizeof u->name, "%s", kind->name);
    snprintf(u->usage, sizeof u->usage, "%s", kind->usage ? kind->usage : kind->name);
    u->kind.name = u->name;
    u->kind.usage = u->usage;
    u->ops = (layer_ops){.name = u->name,
                         .usage = u->usage,
                         .config_size = kind->config_size,
                         .configure = user_configure,
                         .setup = user_setup,
                         .tensors = user_tensors,
                         .init = user_init,
                         .forward = user_forward,
                         .backward = user_backward,
                         .buffer_tensors = kind->buffer_tensors ? user_buffer_tensors : NULL,
                         .jvp = kind->jvp ? user_jvp : NULL,
                         .rbackward = kind->rbackward ? user_rbackward : NULL};
    atomic_store_explicit(&kind_count, count + 1, memory_order_release);
  }
  atomic_flag_clear_explicit(&registering, memory_order_release);
  return rc;
}
