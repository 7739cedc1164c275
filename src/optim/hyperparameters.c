/*
 * hyperparameters.c - an optimizer's resolved hyperparameters by name, and
 * its base learning rate, read and changed without rebuilding it.
 *
 * A name is TRANSFORM.KEY, as the chain's canonical text writes them
 * ("adam.b1", "wd.weight_decay"); the second and later transforms of one
 * name are TRANSFORM#2, TRANSFORM#3. A key that takes a schedule gives its
 * base rate under its own name ("lr.lr", "sf.lr") and the schedule's other
 * keys below it ("lr.lr.steps", "lr.lr.warmup"). Enumeration walks the chain
 * in order, so index and name always agree.
 */
#include "groups.h"

#include <string.h>

/* The transform's label in names: its name, with #k from its second
   occurrence in the chain on. */
static void transform_label(const descent_optimizer *opt, int index, char *buf, size_t cap) {
  const char *name = opt->chain[index].def->name;
  int occurrence = 1;
  for (int i = 0; i < index; i++) occurrence += strcmp(opt->chain[i].def->name, name) == 0;
  if (occurrence == 1)
    snprintf(buf, cap, "%s", name);
  else
    snprintf(buf, cap, "%s#%d", name, occurrence);
}

/* The index-th hyperparameter: its name into buf (whole, or cut to cap) and
   its value. Returns the length of the name, or -1 past the last one. */
static int hyperparameter_at(const descent_optimizer *opt, int index, char *buf, size_t cap,
                             double *value) {
  if (opt->groups) return groups_hyperparameter_at(opt, index, buf, cap, value);
  int at = 0;
  /* A method's own first: "lbfgs.max_iter"; a word's value is its index
     ("lbfgs.line_search": 0 none, 1 strong_wolfe). */
  for (int j = 0; opt->method && j < opt->method->n_params; j++)
    if (at++ == index) {
      *value = opt->method_hp[j];
      return snprintf(buf, cap, "%s.%s", opt->method->name, opt->method->params[j].name);
    }
  for (int i = 0; i < opt->n_transforms; i++) {
    const transform *t = &opt->chain[i];
    char label[64];
    transform_label(opt, i, label, sizeof label);
    for (int j = 0; j < t->def->n_params; j++) {
      const spec_param *p = &t->def->params[j];
      if (p->kind != SPEC_TEXT) {
        if (at++ != index) continue;
        *value = t->hp[j];
        return snprintf(buf, cap, "%s.%s", label, p->name);
      }
      const descent_schedule *s = t->schedule;
      for (int k = 0; k < s->def->n_params; k++) {
        if (at++ != index) continue;
        *value = s->hp[k];
        if (k == 0) return snprintf(buf, cap, "%s.%s", label, p->name);
        return snprintf(buf, cap, "%s.%s.%s", label, p->name, s->def->params[k].name);
      }
    }
  }
  return -1;
}

int descent_optimizer_hyperparameter_count(const descent_optimizer *opt) {
  char name[8];
  double value;
  int count = 0;
  while (hyperparameter_at(opt, count, name, sizeof name, &value) >= 0) count++;
  return count;
}

int descent_optimizer_hyperparameter_at(const descent_optimizer *opt, int index, char *name,
                                        size_t cap, double *value) {
  descent_error_clear();
  int count = descent_optimizer_hyperparameter_count(opt);
  if (index < 0 || index >= count)
    return descent_fail(DESCENT_ERANGE, "hyperparameter index %d: this optimizer has %d (0 to %d)",
                        index, count, count - 1);
  if (!name || !value)
    return descent_fail(DESCENT_EINVAL, "hyperparameter: the %s pointer is NULL",
                        name ? "value" : "name");
  double v;
  int len = hyperparameter_at(opt, index, name, cap, &v);
  if ((size_t)len >= cap)
    return descent_fail(DESCENT_ERANGE, "hyperparameter %d: its name needs %d bytes, given %zu",
                        index, len + 1, cap);
  *value = v;
  return DESCENT_OK;
}

int descent_optimizer_hyperparameter(const descent_optimizer *opt, const char *name,
                                     double *value) {
  descent_error_clear();
  if (!name || !value)
    return descent_fail(DESCENT_EINVAL, "hyperparameter: the %s pointer is NULL",
                        name ? "value" : "name");
  char candidate[160], valid[2048] = "";
  size_t used = 0;
  double v;
  for (int i = 0; hyperparameter_at(opt, i, candidate, sizeof candidate, &v) >= 0; i++) {
    if (strcmp(candidate, name) == 0) {
      *value = v;
      return DESCENT_OK;
    }
    if (used < sizeof valid)
      used += (size_t)snprintf(valid + used, sizeof valid - used, "%s%s", i ? ", " : "", candidate);
  }
  spec_quote q;
  return descent_fail(DESCENT_EINVAL, "optimizer has no hyperparameter %s; valid names: %s",
                      spec_quote_text(&q, name), valid);
}

double descent_optimizer_base_lr(const descent_optimizer *opt) {
  if (opt->groups) return groups_base_lr(opt);
  return optimizer_rate_transform(opt)->schedule->hp[0];
}

int descent_optimizer_set_base_lr(descent_optimizer *opt, double lr) {
  descent_error_clear();
  if (opt->groups) return groups_set_base_lr(opt, lr);
  return schedule_set_base_lr(optimizer_rate_transform(opt)->schedule, lr);
}
