/*
 * optimizer.c - named optimizers, the chain parser, and the fused step.
 *
 * A named optimizer ("sgd") is text that expands into a chain of transforms
 * with PyTorch's defaults, so `descent optimizers` can show exactly what runs.
 * The step walks the parameters in blocks that stay in cache and pushes each
 * block through the whole chain before moving on: one pass over memory however
 * many transforms there are. A transform that needs a global reduction (a
 * gradient norm) splits the chain there into stages.
 */
#include "transform.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CHAIN 16
/* Elements per block: 2048 floats of update plus the parameters and state
   slices it touches stay well inside L1/L2. */
#define BLOCK 2048

struct descent_optimizer {
  size_t n; /* parameters */
  int n_transforms;
  transform chain[MAX_CHAIN];
  descent_real *state; /* every transform's slots, n each, one allocation */
  descent_real *work;  /* n floats between stages, if any transform is global past the first */
  int64_t step;        /* updates taken */
  char spec[512];      /* the spec as given */
  char expanded[512];  /* the chain it expanded to (equal to spec for a chain) */
};

/* ---- named optimizers ---------------------------------------------------- */

typedef struct named_optimizer {
  const char *name;
  const char *summary;
  const char *default_lr;   /* PyTorch's default */
  const spec_param *params; /* besides lr */
  int n_params;
  /* Writes the chain (without the final lr transform) for these values. */
  void (*expand)(const double *hp, char *buf, size_t cap);
} named_optimizer;

static void sgd_expand(const double *hp, char *buf, size_t cap) {
  buf[0] = '\0';
}

static const named_optimizer named[] = {
    {"sgd", "stochastic gradient descent, theta <- theta - lr * g", "1e-3", NULL, 0, sgd_expand},
};
enum { N_NAMED = sizeof named / sizeof named[0] };

static const named_optimizer *named_find(const char *name) {
  for (int i = 0; i < N_NAMED; i++)
    if (strcmp(named[i].name, name) == 0) return &named[i];
  return NULL;
}

static void named_list(char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < N_NAMED && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", named[i].name);
}

/* Binds a named optimizer's arguments (lr is taken out first) and expands it. */
static int expand_named(const named_optimizer *no, const spec_call *call, char *chain,
                        size_t chain_cap, const char **lr_text, char *lr_buf, size_t lr_cap) {
  spec_call rest = *call;
  rest.n_args = 0;
  for (int i = 0; i < call->n_args; i++) {
    const spec_arg *a = &call->args[i];
    if (strcmp(a->key, "lr") == 0) {
      snprintf(lr_buf, lr_cap, "%s", a->value);
      *lr_text = lr_buf;
    } else {
      if (a->key[0] == '\0')
        return descent_fail(DESCENT_EINVAL,
                            "optimizer %s: name its arguments, as in %s(lr=0.1); got '%s'",
                            no->name, no->name, a->value);
      rest.args[rest.n_args++] = *a;
    }
  }
  double hp[SPEC_MAX_ARGS];
  int rc = spec_bind(&rest, no->params, no->n_params, hp, NULL, "optimizer");
  if (rc) return rc;
  no->expand(hp, chain, chain_cap);
  return DESCENT_OK;
}

/* ---- building the chain -------------------------------------------------- */

static int add_transform(descent_optimizer *opt, const spec_call *call, const char *lr_text) {
  const transform_def *def = transform_find(call->name);
  if (!def) {
    char names[512], named_names[256];
    transform_list_names(names, sizeof names);
    named_list(named_names, sizeof named_names);
    return descent_fail(DESCENT_EINVAL,
                        "unknown optimizer or transform '%s'; named optimizers: %s; transforms: %s",
                        call->name, named_names, names);
  }
  if (opt->n_transforms == MAX_CHAIN)
    return descent_fail(DESCENT_ERANGE, "optimizer chain longer than %d transforms", MAX_CHAIN);
  transform *t = &opt->chain[opt->n_transforms++];
  t->def = def;
  const char *texts[SPEC_MAX_ARGS];
  int rc = spec_bind(call, def->params, def->n_params, t->hp, texts, "optimizer");
  if (rc) return rc;
  if (def->has_schedule) {
    const char *text = texts[0] ? texts[0] : lr_text;
    if (texts[0] && lr_text)
      return descent_fail(DESCENT_EINVAL,
                          "the learning rate is given twice (in the optimizer spec and by --lr); "
                          "keep one");
    if (!text)
      return descent_fail(DESCENT_EINVAL,
                          "no learning rate: pass --lr or write lr(RATE) at the end of the chain");
    rc = descent_schedule_parse(&t->schedule, text);
    if (rc) return rc;
  }
  if (def->validate) return def->validate(t);
  return DESCENT_OK;
}

static int parse_chain(descent_optimizer *opt, const char *chain, const char *lr_text) {
  spec_span items[MAX_CHAIN];
  int n = 0;
  int rc = spec_split(chain, "|", items, MAX_CHAIN, &n, "optimizer");
  if (rc) return rc;
  int has_lr = 0;
  for (int i = 0; i < n; i++) {
    spec_call call;
    rc = spec_parse_call(items[i], &call, "optimizer");
    if (rc) return rc;
    if (strcmp(call.name, "lr") == 0) {
      if (i != n - 1)
        return descent_fail(DESCENT_EINVAL, "optimizer '%s': lr(...) must come last", chain);
      has_lr = 1;
    }
    rc = add_transform(opt, &call, lr_text);
    if (rc) return rc;
  }
  if (!has_lr) {
    spec_call lr = {.name = "lr"};
    rc = add_transform(opt, &lr, lr_text);
    if (rc) return rc;
  }
  return DESCENT_OK;
}

static int allocate_state(descent_optimizer *opt) {
  int slots = 0, needs_work = 0;
  for (int i = 0; i < opt->n_transforms; i++) {
    slots += opt->chain[i].def->slots;
    if (i > 0 && opt->chain[i].def->global) needs_work = 1;
  }
  if (slots) {
    size_t total;
    if (!descent_mul_ok(opt->n, (size_t)slots, &total))
      return descent_fail(DESCENT_ERANGE, "optimizer state overflows");
    opt->state = descent_alloc_real(total, "optimizer state");
    if (!opt->state) return DESCENT_ENOMEM;
  }
  if (needs_work) {
    opt->work = descent_alloc_real(opt->n, "optimizer work buffer");
    if (!opt->work) return DESCENT_ENOMEM;
  }
  size_t next = 0;
  for (int i = 0; i < opt->n_transforms; i++)
    for (int s = 0; s < opt->chain[i].def->slots; s++)
      opt->chain[i].slots[s] = opt->state + opt->n * next++;
  return DESCENT_OK;
}

int descent_optimizer_create(descent_optimizer **out, const char *spec, const char *lr,
                             size_t n_params) {
  *out = NULL;
  descent_error_clear();
  if (!spec || !*spec) return descent_fail(DESCENT_EINVAL, "empty optimizer spec; try sgd");
  descent_optimizer *opt = descent_calloc(1, sizeof *opt, "optimizer");
  if (!opt) return DESCENT_ENOMEM;
  opt->n = n_params;
  int rc = DESCENT_OK;
  char chain[512], lr_buf[192];
  const char *lr_text = lr;
  snprintf(chain, sizeof chain, "%s", spec);
  /* A lone name (no '|') is first looked up among the named optimizers. */
  if (!strchr(spec, '|')) {
    spec_call call;
    rc = spec_parse_call((spec_span){spec, strlen(spec)}, &call, "optimizer");
    const named_optimizer *no = rc ? NULL : named_find(call.name);
    if (no) {
      const char *own_lr = NULL;
      rc = expand_named(no, &call, chain, sizeof chain, &own_lr, lr_buf, sizeof lr_buf);
      if (!rc && own_lr && lr)
        rc = descent_fail(DESCENT_EINVAL,
                          "the learning rate is given twice (in the optimizer spec and by --lr); "
                          "keep one");
      lr_text = own_lr ? own_lr : lr ? lr : no->default_lr;
    }
  }
  if (!rc) rc = parse_chain(opt, chain, lr_text);
  if (!rc) rc = allocate_state(opt);
  if (rc) {
    descent_optimizer_free(opt);
    return rc;
  }
  snprintf(opt->spec, sizeof opt->spec, "%s", spec);
  snprintf(opt->expanded, sizeof opt->expanded, "%s", chain);
  *out = opt;
  return DESCENT_OK;
}

void descent_optimizer_free(descent_optimizer *opt) {
  if (!opt) return;
  for (int i = 0; i < opt->n_transforms; i++) descent_schedule_free(opt->chain[i].schedule);
  descent_free_real(opt->state);
  descent_free_real(opt->work);
  free(opt);
}

/* ---- the step ------------------------------------------------------------ */

/* Runs transforms [first, last) over every block: reads the update from src,
   and either writes it to dst or, when dst is NULL, adds it to theta. */
static void run_stage(descent_optimizer *opt, int first, int last, const descent_real *src,
                      descent_real *dst, descent_real *theta) {
  size_t n = opt->n, blocks = (n + BLOCK - 1) / BLOCK;
#pragma omp parallel for schedule(static) if (blocks > 4)
  for (size_t b = 0; b < blocks; b++) {
    size_t lo = b * BLOCK, count = n - lo < BLOCK ? n - lo : BLOCK;
    _Alignas(64) descent_real u[BLOCK];
    memcpy(u, src + lo, count * sizeof *u);
    for (int i = first; i < last; i++) {
      const transform *t = &opt->chain[i];
      descent_real *slots[TRANSFORM_MAX_SLOTS];
      for (int s = 0; s < t->def->slots; s++) slots[s] = t->slots[s] + lo;
      t->def->apply(t, u, theta + lo, slots, count);
    }
    if (dst) {
      memcpy(dst + lo, u, count * sizeof *u);
    } else {
      descent_real *p = theta + lo;
#pragma omp simd
      for (size_t i = 0; i < count; i++) p[i] += u[i];
    }
  }
}

int descent_optimizer_step(descent_optimizer *opt, descent_objective *obj) {
  if (obj->n_params != opt->n)
    return descent_fail(DESCENT_ESHAPE, "optimizer built for %zu parameters, objective has %zu",
                        opt->n, obj->n_params);
  for (int i = 0; i < opt->n_transforms; i++)
    if (opt->chain[i].def->begin) opt->chain[i].def->begin(&opt->chain[i], opt->step);
  const descent_real *src = obj->grad;
  int first = 0;
  while (first < opt->n_transforms) {
    transform *head = &opt->chain[first];
    if (head->def->global) head->def->reduce(head, src, opt->n);
    int last = first + 1;
    while (last < opt->n_transforms && !opt->chain[last].def->global) last++;
    int final = last == opt->n_transforms;
    run_stage(opt, first, last, src, final ? NULL : opt->work, obj->params);
    src = opt->work;
    first = last;
  }
  opt->step++;
  return DESCENT_OK;
}

int64_t descent_optimizer_steps(const descent_optimizer *opt) {
  return opt->step;
}

double descent_optimizer_lr(const descent_optimizer *opt) {
  const transform *last = &opt->chain[opt->n_transforms - 1];
  return descent_schedule_value(last->schedule, opt->step);
}

size_t descent_optimizer_describe(const descent_optimizer *opt, char *buf, size_t cap) {
  size_t used = 0;
#define APPEND(...)                                                                                \
  used +=                                                                                          \
      (size_t)snprintf(buf + (used < cap ? used : cap), used < cap ? cap - used : 0, __VA_ARGS__)
  if (strcmp(opt->spec, opt->expanded) != 0) APPEND("%s = ", opt->spec);
  for (int i = 0; i < opt->n_transforms; i++) {
    const transform *t = &opt->chain[i];
    APPEND("%s%s(", i ? " | " : "", t->def->name);
    for (int j = 0; j < t->def->n_params; j++) {
      APPEND("%s%s=", j ? ", " : "", t->def->params[j].name);
      if (t->def->params[j].kind == SPEC_TEXT && t->def->has_schedule) {
        char sched[192];
        descent_schedule_describe(t->schedule, sched, sizeof sched);
        APPEND("%s", sched);
      } else {
        APPEND("%g", t->hp[j]);
      }
    }
    APPEND(")");
  }
#undef APPEND
  return used;
}

void descent_optimizer_help(FILE *out) {
  fprintf(out, "Named optimizers (PyTorch's defaults; --opt NAME or NAME(key=value, ...)):\n");
  for (int i = 0; i < N_NAMED; i++) {
    const named_optimizer *no = &named[i];
    fprintf(out, "  %-12s %s\n      %-12s learning rate; default %s\n", no->name, no->summary, "lr",
            no->default_lr);
    for (int j = 0; j < no->n_params; j++) {
      char range[64];
      spec_range_text(&no->params[j], range, sizeof range);
      fprintf(out, "      %-12s %s; default %g; range %s\n", no->params[j].name, no->params[j].doc,
              no->params[j].def, range);
    }
  }
  fprintf(out, "\n");
  transform_help(out);
  fprintf(out, "\n");
  schedule_help(out);
}
