/*
 * custom.c - transforms that the program using the library registers
 * (descent_transform_register).
 *
 * A registered transform becomes an ordinary transform_def: its parameters
 * are translated into the spec_param table the parser, the help and the
 * canonical text read, and small adapters call the user's callbacks with the
 * hyperparameters, the persistent scalars and the state slices. From there
 * on the optimizer does not tell it from a built-in one: it runs in the same
 * pass over the buffers, and its slots and scalars go into the state blob.
 *
 * The registry only grows. An entry is written completely before the count
 * that makes it visible is published (release), and readers load the count
 * (acquire), so optimizers may be created in other threads during a
 * registration; registrations themselves are serialized by a spin lock.
 */
#include "optimizer.h"

#include <ctype.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#define MAX_CUSTOM     32
#define NAME_MAX_CHARS 31

typedef struct custom_transform {
  transform_def def; /* first: a transform's def pointer leads back to its entry */
  const descent_transform_def *user;
  spec_param params[DESCENT_TRANSFORM_MAX_PARAMS];
} custom_transform;

static custom_transform registry[MAX_CUSTOM];
static atomic_int registered;                      /* entries [0, registered) are complete */
static atomic_flag registering = ATOMIC_FLAG_INIT; /* held while an entry is written */

int custom_transform_count(void) {
  return atomic_load_explicit(&registered, memory_order_acquire);
}

const transform_def *custom_transform_at(int index) {
  return &registry[index].def;
}

/* ---- adapters: the transform_def callbacks, calling the user's ---------- */

static const descent_transform_def *user_of(const transform *t) {
  return ((const custom_transform *)t->def)->user;
}

static int custom_validate(const transform *t) {
  char why[256] = "";
  if (user_of(t)->validate(t->hp, why, sizeof why) == 0) return DESCENT_OK;
  return descent_fail(DESCENT_EINVAL, "optimizer: %s: %s", t->def->name,
                      why[0] ? why : "these hyperparameters do not combine (no reason given)");
}

static void custom_start(transform *t) {
  const descent_transform_def *u = user_of(t);
  if (u->init_scalars) u->init_scalars(t->hp, t->persist);
}

/* The step index reaches update() through scalar[0]: exact below 2^53. */
static void custom_begin(transform *t, int64_t step) {
  const descent_transform_def *u = user_of(t);
  t->scalar[0] = (double)step;
  if (u->begin) u->begin(t->hp, t->persist, step);
}

static double custom_reduce(const transform *t, const descent_real *u, size_t n) {
  return user_of(t)->reduce(t->hp, u, n);
}

static void custom_finish(transform *t, double total) {
  user_of(t)->finish(t->hp, t->persist, total);
}

static void custom_init(const transform *t, const descent_real *theta, descent_real *const *slots,
                        size_t n) {
  user_of(t)->init_state(t->hp, theta, slots, n);
}

static void custom_apply(const transform *t, descent_real *u, descent_real *theta,
                         descent_real *const *slots, size_t n) {
  user_of(t)->update(t->hp, t->persist, slots, u, theta, n, (int64_t)t->scalar[0]);
}

/* ---- checking a definition ----------------------------------------------- */

/* Names that specs can write and that hyperparameter names can split:
   letters, digits and '_', starting with a letter. */
static int valid_name(const char *name) {
  if (!name || !isalpha((unsigned char)name[0]) || strlen(name) > NAME_MAX_CHARS) return 0;
  for (const char *p = name; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_') return 0;
  return 1;
}

static const char *shown(const char *name) {
  return name ? name : "(NULL)";
}

/* Translates and checks one parameter; `name` is the transform's. */
static int translate_param(const char *name, const descent_transform_param *in, spec_param *out) {
  if (!valid_name(in->name))
    return descent_fail(DESCENT_EINVAL,
                        "transform %s: parameter name '%s' is not valid: use 1 to %d letters, "
                        "digits and '_', starting with a letter",
                        name, shown(in->name), NAME_MAX_CHARS);
  if (in->kind != DESCENT_PARAM_NUMBER && in->kind != DESCENT_PARAM_INTEGER &&
      in->kind != DESCENT_PARAM_BOOL)
    return descent_fail(DESCENT_EINVAL,
                        "transform %s: parameter %s has kind %d; use DESCENT_PARAM_NUMBER, "
                        "DESCENT_PARAM_INTEGER or DESCENT_PARAM_BOOL",
                        name, in->name, (int)in->kind);
  int is_bool = in->kind == DESCENT_PARAM_BOOL;
  *out = (spec_param){
      .name = in->name,
      .kind = is_bool                             ? SPEC_BOOL
              : in->kind == DESCENT_PARAM_INTEGER ? SPEC_INTEGER
                                                  : SPEC_NUMBER,
      .def = in->def,
      .min = is_bool ? 0 : in->min,
      .max = is_bool ? 1 : in->max,
      .min_open = is_bool ? 0 : in->min_open != 0,
      .max_open = is_bool ? 0 : in->max_open != 0,
      .required = in->required != 0,
      .doc = in->doc ? in->doc : "",
  };
  if (isnan(out->min) || isnan(out->max) || out->min > out->max)
    return descent_fail(DESCENT_EINVAL,
                        "transform %s: parameter %s has the range [%g, %g]; min must be at most "
                        "max, neither NaN",
                        name, in->name, out->min, out->max);
  if (out->required) return DESCENT_OK;
  double d = out->def;
  int inside = d >= out->min && d <= out->max && !(out->min_open && d == out->min) &&
               !(out->max_open && d == out->max);
  if (!inside || (out->kind != SPEC_NUMBER && d != floor(d))) {
    char range[64];
    spec_range_text(out, range, sizeof range);
    return descent_fail(DESCENT_EINVAL,
                        "transform %s: default %g of parameter %s is not a valid value (%s%s); "
                        "change the default or set required = 1",
                        name, d, in->name, out->kind != SPEC_NUMBER ? "a whole number in " : "",
                        range);
  }
  return DESCENT_OK;
}

/* Everything about a definition that does not depend on the registry. */
static int check_def(const descent_transform_def *def) {
  if (!def) return descent_fail(DESCENT_EINVAL, "descent_transform_register: no definition (NULL)");
  const char *name = def->name;
  if (!valid_name(name))
    return descent_fail(DESCENT_EINVAL,
                        "transform name '%s' is not valid: use 1 to %d letters, digits and '_', "
                        "starting with a letter",
                        shown(name), NAME_MAX_CHARS);
  if (transform_find_builtin(name))
    return descent_fail(DESCENT_EINVAL,
                        "transform name '%s' is a built-in transform; choose another", name);
  if (optimizer_is_named(name))
    return descent_fail(DESCENT_EINVAL, "transform name '%s' is a named optimizer; choose another",
                        name);
  if (!def->summary || !*def->summary)
    return descent_fail(DESCENT_EINVAL,
                        "transform %s: summary is missing (one line for descent_optimizer_help)",
                        name);
  if (!def->update)
    return descent_fail(DESCENT_EINVAL, "transform %s: update is missing (the step on a slice)",
                        name);
  if (def->n_params < 0 || def->n_params > DESCENT_TRANSFORM_MAX_PARAMS ||
      (def->n_params > 0 && !def->params))
    return descent_fail(
        DESCENT_EINVAL, "transform %s: n_params is %d%s; use 0 to %d, with a params array", name,
        def->n_params, def->n_params > 0 && !def->params ? " and params is NULL" : "",
        DESCENT_TRANSFORM_MAX_PARAMS);
  if (def->n_state < 0 || def->n_state > DESCENT_TRANSFORM_MAX_STATE)
    return descent_fail(DESCENT_EINVAL, "transform %s: n_state is %d; use 0 to %d", name,
                        def->n_state, DESCENT_TRANSFORM_MAX_STATE);
  if (def->n_scalars < 0 || def->n_scalars > DESCENT_TRANSFORM_MAX_SCALARS)
    return descent_fail(DESCENT_EINVAL, "transform %s: n_scalars is %d; use 0 to %d", name,
                        def->n_scalars, DESCENT_TRANSFORM_MAX_SCALARS);
  if (def->global && (!def->reduce || !def->finish))
    return descent_fail(DESCENT_EINVAL,
                        "transform %s: global = 1 needs both reduce and finish; set them, or "
                        "global = 0",
                        name);
  if (!def->global && (def->reduce || def->finish))
    return descent_fail(DESCENT_EINVAL,
                        "transform %s: reduce and finish run only for a global transform; set "
                        "global = 1, or leave them NULL",
                        name);
  for (int j = 0; j < def->n_params; j++)
    for (int k = 0; k < j; k++)
      if (def->params[j].name && def->params[k].name &&
          strcmp(def->params[j].name, def->params[k].name) == 0)
        return descent_fail(DESCENT_EINVAL, "transform %s: parameter %s appears twice", name,
                            def->params[j].name);
  return DESCENT_OK;
}

/* Fills an entry from a checked definition. */
static int build_entry(custom_transform *e, const descent_transform_def *def) {
  memset(e, 0, sizeof *e);
  for (int j = 0; j < def->n_params; j++) {
    int rc = translate_param(def->name, &def->params[j], &e->params[j]);
    if (rc) return rc;
  }
  e->user = def;
  e->def = (transform_def){
      .name = def->name,
      .summary = def->summary,
      .formula = def->formula,
      .params = e->params,
      .n_params = def->n_params,
      .slots = def->n_state,
      .n_persist = def->n_scalars,
      .global = def->global != 0,
      .validate = def->validate ? custom_validate : NULL,
      .start = custom_start,
      .begin = custom_begin,
      .reduce = def->global ? custom_reduce : NULL,
      .finish = def->global ? custom_finish : NULL,
      .init = def->init_state ? custom_init : NULL,
      .apply = custom_apply,
  };
  return DESCENT_OK;
}

int descent_transform_register(const descent_transform_def *def) {
  descent_error_clear();
  int rc = check_def(def);
  if (rc) return rc;
  custom_transform entry;
  rc = build_entry(&entry, def);
  if (rc) return rc;
  while (atomic_flag_test_and_set_explicit(&registering, memory_order_acquire)) {
  }
  int count = atomic_load_explicit(&registered, memory_order_relaxed);
  for (int i = 0; i < count && !rc; i++)
    if (strcmp(registry[i].def.name, def->name) == 0)
      rc = descent_fail(DESCENT_EINVAL,
                        "transform '%s' is already registered; register each name once", def->name);
  if (!rc && count == MAX_CUSTOM)
    rc =
        descent_fail(DESCENT_ERANGE, "transform %s: %d transforms are registered already, the most",
                     def->name, MAX_CUSTOM);
  if (!rc) {
    registry[count] = entry;
    registry[count].def.params = registry[count].params; /* the copy's own table */
    atomic_store_explicit(&registered, count + 1, memory_order_release);
  }
  atomic_flag_clear_explicit(&registering, memory_order_release);
  return rc;
}
