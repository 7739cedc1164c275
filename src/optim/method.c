/*
 * method.c - optimizers that evaluate the objective within their step
 * (method.h): their spec, canonical text and help, and the step through a
 * closure, which every optimizer takes (a chain evaluates once and steps).
 */
#include "optimizer.h"

#include <string.h>

static const method_def *const methods[] = {&method_lbfgs, &method_sdlm,      &method_kfac,
                                            &method_hf,    &method_newton_cg, &method_sophia};
enum { N_METHODS = sizeof methods / sizeof methods[0] };

const method_def *method_find(const char *name) {
  for (int i = 0; i < N_METHODS; i++)
    if (strcmp(methods[i]->name, name) == 0) return methods[i];
  return NULL;
}

void method_list_names(char *buf, size_t cap) {
  size_t used = 0;
  if (cap) buf[0] = '\0';
  for (int i = 0; i < N_METHODS && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", methods[i]->name);
}

/* The words a parameter takes, "none, strong_wolfe". */
static void choice_list(const char *const *words, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int k = 0; words[k] && used < cap; k++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", k ? ", " : "", words[k]);
}

size_t method_describe(const method_def *def, const double *hp, char *buf, size_t cap) {
  size_t used = (size_t)snprintf(buf, cap, "%s(", def->name);
  for (int j = 0; j < def->n_params; j++) {
    char value[64];
    const char *const *words = def->choices ? def->choices[j] : NULL;
    if (words)
      snprintf(value, sizeof value, "%s", words[(int)hp[j]]);
    else
      optim_format_number(hp[j], value, sizeof value);
    used += (size_t)snprintf(buf + (used < cap ? used : cap), used < cap ? cap - used : 0,
                             "%s%s=%s", j ? ", " : "", def->params[j].name, value);
  }
  used += (size_t)snprintf(buf + (used < cap ? used : cap), used < cap ? cap - used : 0, ")");
  return used;
}

int method_bind(const method_def *def, const spec_call *call, double *hp) {
  for (int i = 0; i < call->n_args; i++)
    if (call->args[i].key[0] == '\0') {
      spec_quote q;
      return descent_fail(DESCENT_EINVAL,
                          "optimizer %s: name its arguments, as in %s(max_iter=10); got %s",
                          def->name, def->name, spec_quote_text(&q, call->args[i].value));
    }
  const char *texts[SPEC_MAX_ARGS];
  int rc = spec_bind(call, def->params, def->n_params, hp, texts, "optimizer");
  if (rc) return rc;
  int given[METHOD_MAX_PARAMS] = {0};
  for (int i = 0; i < call->n_args; i++)
    for (int j = 0; j < def->n_params; j++)
      given[j] |= strcmp(call->args[i].key, def->params[j].name) == 0;
  if (def->resolve) def->resolve(hp, given);
  for (int j = 0; j < def->n_params; j++) {
    const char *const *words = def->choices ? def->choices[j] : NULL;
    if (!words) continue;
    hp[j] = 0;
    if (!texts[j]) continue;
    int k = 0;
    while (words[k] && strcmp(words[k], texts[j]) != 0) k++;
    if (!words[k]) {
      char valid[128];
      choice_list(words, valid, sizeof valid);
      spec_quote q;
      return descent_fail(DESCENT_EINVAL, "optimizer %s: %s=%s: valid values are %s", def->name,
                          def->params[j].name, spec_quote_text(&q, texts[j]), valid);
    }
    hp[j] = k;
  }
  return DESCENT_OK;
}

/* lr=RATE taken out of the method's own arguments (as named optimizers
   take it). */
static void take_lr(spec_call *call, const char **own_lr, char *lr_buf, size_t lr_cap) {
  int kept = 0;
  for (int i = 0; i < call->n_args; i++) {
    if (strcmp(call->args[i].key, "lr") == 0) {
      snprintf(lr_buf, lr_cap, "%s", call->args[i].value);
      *own_lr = lr_buf;
    } else {
      call->args[kept++] = call->args[i];
    }
  }
  call->n_args = kept;
}

int method_parse(descent_optimizer *opt, const char *spec, const char *lr, char *chain,
                 size_t chain_cap, const char **lr_text, char *lr_buf, size_t lr_cap,
                 int *handled) {
  *handled = 0;
  spec_span items[OPTIMIZER_MAX_CHAIN];
  int n = 0;
  spec_call call;
  if (spec_split(spec, "|", items, OPTIMIZER_MAX_CHAIN, &n, "optimizer") || n == 0 ||
      spec_parse_call(items[0], &call, "optimizer")) {
    descent_error_clear(); /* not a method: the chain parser says what is wrong */
    return DESCENT_OK;
  }
  const method_def *def = method_find(call.name);
  if (!def) return DESCENT_OK;
  *handled = 1;
  const char *own_lr = NULL;
  take_lr(&call, &own_lr, lr_buf, lr_cap);
  int rc = method_bind(def, &call, opt->method_hp);
  if (rc) return rc;
  if (n > 2)
    return descent_fail(DESCENT_EINVAL,
                        "optimizer: %s is a method (it evaluates the objective itself) and takes "
                        "no transforms; write it alone, or followed by its rate: %s(...) | "
                        "lr(RATE)",
                        def->name, def->name);
  chain[0] = '\0';
  if (n == 2) {
    spec_call rate;
    rc = spec_parse_call(items[1], &rate, "optimizer");
    if (rc) return rc;
    if (strcmp(rate.name, "lr") != 0)
      return descent_fail(DESCENT_EINVAL,
                          "optimizer: %s is a method (it evaluates the objective itself) and "
                          "takes no transforms: after it, only lr(RATE) may follow, not '%s'",
                          def->name, rate.name);
    if (own_lr)
      return descent_fail(DESCENT_EINVAL,
                          "the learning rate is given twice (%s's lr= and lr(...)); keep one",
                          def->name);
    snprintf(chain, chain_cap, "%.*s", (int)items[1].len, items[1].start);
  }
  if (own_lr && lr)
    return descent_fail(DESCENT_EINVAL,
                        "the learning rate is given twice (in the optimizer spec and by --lr); "
                        "keep one");
  *lr_text = own_lr ? own_lr : lr ? lr : n == 2 ? NULL : def->default_lr;
  opt->method = def;
  if (def->full_batch_param >= 0) opt->full_batch = opt->method_hp[def->full_batch_param] != 0;
  opt->method_state = def->create(opt->method_hp, opt->n);
  return opt->method_state ? DESCENT_OK : DESCENT_ENOMEM;
}

void method_help(FILE *out) {
  fprintf(out, "Methods (--opt NAME(key=value, ...)): optimizers that evaluate the objective\n"
               "themselves within a step, as PyTorch's optimizer.step(closure); alone, or\n"
               "followed by lr(RATE) and nothing else:\n");
  for (int i = 0; i < N_METHODS; i++) {
    const method_def *def = methods[i];
    fprintf(out, "  %-12s ", def->name);
    optim_print_wrapped(out, def->summary, 15);
    fprintf(out, "  %-12s evaluations per step: ", "");
    optim_print_wrapped(out, def->evaluations, 37);
    fprintf(out, "      %-26s step length or schedule; default %s\n", "lr", def->default_lr);
    for (int j = 0; j < def->n_params; j++) {
      const spec_param *p = &def->params[j];
      char line[320], range[128], value[32];
      const char *const *words = def->choices ? def->choices[j] : NULL;
      if (words) {
        choice_list(words, range, sizeof range);
        snprintf(line, sizeof line, "%s; default %s; one of %s", p->doc, words[0], range);
      } else {
        spec_range_text(p, range, sizeof range);
        optim_format_number(p->def, value, sizeof value);
        snprintf(line, sizeof line, "%s; default %s; range %s", p->doc, value, range);
      }
      fprintf(out, "      %-26s ", p->name);
      optim_print_wrapped(out, line, 33);
    }
  }
}

/* ---- the step through a closure ------------------------------------------------ */

int descent_optimizer_is_method(const descent_optimizer *opt) {
  return opt->method != NULL;
}

int64_t descent_optimizer_evaluations(const descent_optimizer *opt) {
  return opt->method ? opt->method->evaluations_so_far(opt->method_state) : opt->step;
}

/* ---- what the methods share -------------------------------------------------- */

size_t method_blocks(size_t n) {
  return (n + METHOD_BLOCK - 1) / METHOD_BLOCK;
}

double method_dot(const descent_real *a, const descent_real *b, size_t n, double *partials) {
  size_t blocks = method_blocks(n);
#pragma omp parallel for schedule(static) if (blocks >= METHOD_PARALLEL_BLOCKS)
  for (size_t k = 0; k < blocks; k++) {
    size_t lo = k * METHOD_BLOCK, hi = lo + METHOD_BLOCK < n ? lo + METHOD_BLOCK : n;
    double sum = 0;
    for (size_t i = lo; i < hi; i++) sum += (double)a[i] * (double)b[i];
    partials[k] = sum;
  }
  double total = 0;
  for (size_t k = 0; k < blocks; k++) total += partials[k];
  return total;
}

uint64_t method_draw_seed(double seed, int64_t step) {
  uint64_t z = (uint64_t)seed * 0x9E3779B97F4A7C15ull + (uint64_t)step + 1;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

unsigned char *method_put(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) *p++ = (unsigned char)(v >> (8 * i));
  return p;
}

unsigned char *method_put_double(unsigned char *p, double v) {
  uint64_t bits;
  memcpy(&bits, &v, 8);
  return method_put(p, bits, 8);
}

uint64_t method_get(const unsigned char **p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= (uint64_t)(*p)[i] << (8 * i);
  *p += bytes;
  return v;
}

double method_get_double(const unsigned char **p) {
  uint64_t bits = method_get(p, 8);
  double v;
  memcpy(&v, &bits, 8);
  return v;
}

/* A number of the buffers' type by its bits: 4 or 8 bytes. */
#ifdef DESCENT_DOUBLE
typedef uint64_t real_bits;
#else
typedef uint32_t real_bits;
#endif

unsigned char *method_put_reals(unsigned char *p, const descent_real *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    real_bits bits;
    memcpy(&bits, &v[i], sizeof bits);
    p = method_put(p, bits, (int)sizeof bits);
  }
  return p;
}

void method_get_reals(const unsigned char **p, descent_real *v, size_t n) {
  for (size_t i = 0; i < n; i++) {
    real_bits bits = (real_bits)method_get(p, (int)sizeof bits);
    memcpy(&v[i], &bits, sizeof bits);
  }
}

int descent_optimizer_check_objective(const descent_optimizer *opt, descent_objective *obj) {
  descent_error_clear();
  if (!opt || !obj)
    return descent_fail(DESCENT_EINVAL, "descent_optimizer_check_objective: a NULL argument");
  if (obj->n_params != opt->n)
    return descent_fail(DESCENT_ESHAPE, "optimizer built for %zu parameters, objective has %zu",
                        opt->n, obj->n_params);
  if (!opt->method || !opt->method->check) return DESCENT_OK;
  return opt->method->check(opt->method_state, opt->method_hp, obj);
}

int64_t descent_optimizer_products(const descent_optimizer *opt) {
  return opt->method && opt->method->products_so_far
             ? opt->method->products_so_far(opt->method_state)
             : 0;
}

static int step_with(descent_optimizer *opt, descent_objective *obj, const descent_closure *closure,
                     descent_step_info *info) {
  if (!opt->method) {
    double loss = closure->loss;
    int rc = closure->evaluated ? DESCENT_OK : closure->evaluate(closure->user, obj, &loss);
    if (rc) return rc < 0 ? rc : descent_fail(DESCENT_EINVAL, "the closure returned %d", rc);
    rc = descent_optimizer_step_buffers(opt, obj->params, obj->grad, obj->n_params);
    if (rc) return rc;
    *info = (descent_step_info){
        .function_evals = 1, .gradient_evals = 1, .iterations = 1, .loss = loss, .last_loss = loss};
    return DESCENT_OK;
  }
  double rate = transform_rate(optimizer_rate_transform(opt), opt->step);
  int rc = opt->method->step(opt->method_state, opt->method_hp, rate, obj, closure, info);
  if (!rc) opt->step++;
  return rc;
}

int descent_optimizer_step_with(descent_optimizer *opt, descent_objective *obj,
                                const descent_closure *closure, descent_step_info *info) {
  descent_error_clear();
  descent_step_info unused;
  if (!info) info = &unused;
  memset(info, 0, sizeof *info);
  if (!opt || !obj || !closure || !closure->evaluate)
    return descent_fail(DESCENT_EINVAL, "descent_optimizer_step_with: a NULL argument (%s)",
                        !opt   ? "opt"
                        : !obj ? "obj"
                               : "closure or its evaluate");
  if (obj->n_params != opt->n)
    return descent_fail(DESCENT_ESHAPE, "optimizer built for %zu parameters, objective has %zu",
                        opt->n, obj->n_params);
  if (opt->n && (!obj->params || !obj->grad))
    return descent_fail(DESCENT_EINVAL, "optimizer: the objective's %s buffer is NULL",
                        obj->params ? "gradient" : "parameter");
  if (opt->eval_mode)
    return descent_fail(DESCENT_EINVAL,
                        "optimizer step in evaluation mode: call descent_optimizer_train first");
  descent_thread_scope scope = descent_threads_begin(opt->threads);
  int rc = step_with(opt, obj, closure, info);
  descent_threads_end(scope);
  return rc;
}

typedef struct batch_closure {
  const descent_batch *batch;
  int evaluated; /* the step's first evaluation is done: its randomness is fixed */
} batch_closure;

/* The step's first evaluation draws its randomness (a network's dropout
   masks); every later one replays it (the re-evaluation contract), so that
   a line search or CG sees one function. */
static int evaluate_batch(void *user, descent_objective *obj, double *loss) {
  batch_closure *c = user;
  if (c->evaluated && c->batch) return descent_objective_reevaluate(obj, c->batch, loss, obj->grad);
  c->evaluated = 1;
  return descent_objective_value_and_grad(obj, c->batch, loss);
}

int descent_optimizer_step_closure(descent_optimizer *opt, descent_objective *obj,
                                   const descent_batch *batch, descent_step_info *info) {
  batch_closure c = {batch, 0};
  descent_closure closure = {.evaluate = evaluate_batch, .user = &c, .batch = batch};
  return descent_optimizer_step_with(opt, obj, &closure, info);
}
