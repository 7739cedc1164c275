/*
 * groups.c - parameter groups: "CHAIN @ SELECTOR ; CHAIN @ SELECTOR ...".
 *
 * Each group is a child optimizer over the tensors its selector picks, like
 * one of PyTorch's param_groups but with a chain of its own (any chain:
 * "momentum(momentum=0.9) @ *:2d ; adam @ *"; not a method, nor gd).
 * Schedule-free's and asgd's moves to their evaluation point and back
 * (descent_optimizer_eval) move their group's tensors. Every tensor goes to the first
 * group whose selector matches it; a tensor no group matches is refused, so
 * the usual last group is "@ *". A group whose selector matches no tensor is
 * refused too (a misspelt selector would otherwise leave it empty).
 *
 * A selector is a comma-separated list of items, any of which may match:
 *   weight, bias   a tensor named "*.weight" / "*.bias" outside a norm layer
 *   norm           a batch-norm (any "*norm") layer's scale and shift
 *   GLOB           fnmatch(3) on the whole tensor name ("*", "layer1.*")
 * each optionally ending in ":1d" to ":4d" (the tensor's ndim), so
 * "dense.weight:2d" or "*:1d". After the list, "lr_mult=X" multiplies the
 * group's rate by X (PyTorch's habit of one group at a tenth of the rate).
 *
 * Rates: a group whose chain gives its own rate ("adamw(lr=3e-4)", "...|
 * lr(0.1)") keeps it; every other group takes descent_optimizer_create's lr
 * (the CLI's --lr), or its optimizer's default. The trainer's scale
 * (descent_optimizer_set_lr_scale, the rollback factor) scales every group,
 * as a PyTorch scheduler scales every group's lr.
 *
 * The step runs each child on the whole parameter and gradient buffers, in
 * place: a child's layout is its tensors renumbered compactly (its slots hold
 * only its own parameters), and tensor_shift[k] (layout.c) maps its tensor k
 * back to where the tensor lies in the flat buffers. Nothing is copied; each
 * child's step is the fused per-tensor step of layout.c.
 */
#include "groups.h"

#include <ctype.h>
#include <fnmatch.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define STATE_MAGIC   "DSCNTOPT"
#define STATE_GROUPED 6u
#define NAME_LEN      ((int)sizeof(((descent_tensor_info *)0)->name))

typedef struct optimizer_group {
  char chain[OPTIMIZER_MAX_TEXT];    /* the group's chain, as given */
  char selector[OPTIMIZER_MAX_TEXT]; /* its selector list, as given */
  double lr_mult;                    /* its rate's multiplier (lr_mult=), 1 by default */
  int own_lr;                        /* 1: its chain gives its own rate */
  /* Its optimizer: over one parameter (for its text and hyperparameters)
     until the layout is known, then over its tensors. */
  descent_optimizer *child;
  size_t *members; /* its tensors' indices in the layout, n_members of them */
  size_t n_members;
} optimizer_group;

typedef struct optimizer_groups {
  int count;
  optimizer_group group[OPTIMIZER_MAX_GROUPS];
  char lr[OPTIMIZER_MAX_TEXT]; /* create's lr text; has_lr 0 when none */
  int has_lr;
  double lr_scale; /* descent_optimizer_set_lr_scale's, times each group's lr_mult */
  int assigned;    /* 1 once every tensor has its group */
} optimizer_groups;

/* ---- parsing ------------------------------------------------------------- */

int groups_is_spec(const char *spec) {
  return spec && strchr(spec, '@') != NULL;
}

/* [s, e) with the blanks at both ends dropped. */
static void trim(const char **s, const char **e) {
  while (*s < *e && isspace((unsigned char)**s)) (*s)++;
  while (*e > *s && isspace((unsigned char)(*e)[-1])) (*e)--;
}

/* 1 when text holds its own rate: an "lr=" key or an lr(...) transform. */
static int gives_own_lr(const char *text) {
  for (const char *p = strstr(text, "lr"); p; p = strstr(p + 1, "lr")) {
    int starts = p == text || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
    const char *q = p + 2;
    while (isspace((unsigned char)*q)) q++;
    if (starts && (*q == '=' || *q == '(')) return 1;
  }
  return 0;
}

/* One selector item's ndim suffix (":2d"): 0 when none, -1 when malformed. */
static int item_ndim(const char *item, size_t len, size_t *pattern_len) {
  const char *colon = memchr(item, ':', len);
  *pattern_len = colon ? (size_t)(colon - item) : len;
  if (!colon) return 0;
  size_t rest = len - *pattern_len - 1;
  if (rest == 2 && colon[1] >= '1' && colon[1] <= '4' && colon[2] == 'd') return colon[1] - '0';
  return -1;
}

/* Checks a selector list (items separated by commas), for a message at
   creation rather than at the first step. */
static int check_selector(const char *list, int index) {
  const char *p = list;
  for (;;) {
    const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
    const char *s = p, *e = end;
    trim(&s, &e);
    size_t plen;
    int nd = item_ndim(s, (size_t)(e - s), &plen);
    if (e == s || (nd < 0) || (plen == 0 && nd == 0))
      return descent_fail(DESCENT_EINVAL,
                          "optimizer group %d: selector item '%.*s' is not one: use weight, bias, "
                          "norm, a glob on tensor names (fnmatch: *, layer1.*), each optionally "
                          "with :1d to :4d (e.g. *:2d); several separated by commas",
                          index + 1, (int)(end - p), p);
    if (!comma) return DESCENT_OK;
    p = comma + 1;
  }
}

/* 1 when tensor t's name ends in ".SUFFIX" after a layer whose name does (is_norm 1)
   or does not (0) end in "norm". */
static int named_kind(const char *name, const char *suffix, int want_norm) {
  size_t len = strlen(name), slen = strlen(suffix);
  if (len < slen + 1 || strcmp(name + len - slen, suffix) != 0 || name[len - slen - 1] != '.')
    return 0;
  size_t layer = len - slen - 1;
  int is_norm = layer >= 4 && memcmp(name + layer - 4, "norm", 4) == 0;
  return is_norm == want_norm;
}

static int item_matches(const char *item, size_t len, const descent_tensor_info *t) {
  size_t plen;
  int nd = item_ndim(item, len, &plen);
  if (nd > 0 && t->shape.ndim != nd) return 0;
  char pattern[OPTIMIZER_MAX_TEXT], name[NAME_LEN + 1];
  snprintf(pattern, sizeof pattern, "%.*s", (int)plen, item);
  snprintf(name, sizeof name, "%.*s", NAME_LEN, t->name);
  if (plen == 0) return 1; /* ":2d" alone: any name */
  if (strcmp(pattern, "weight") == 0) return named_kind(name, "weight", 0);
  if (strcmp(pattern, "bias") == 0) return named_kind(name, "bias", 0);
  if (strcmp(pattern, "norm") == 0)
    return named_kind(name, "weight", 1) || named_kind(name, "bias", 1);
  return fnmatch(pattern, name, 0) == 0;
}

static int selector_matches(const char *list, const descent_tensor_info *t) {
  for (const char *p = list;;) {
    const char *comma = strchr(p, ','), *end = comma ? comma : p + strlen(p);
    const char *s = p, *e = end;
    trim(&s, &e);
    if (item_matches(s, (size_t)(e - s), t)) return 1;
    if (!comma) return 0;
    p = comma + 1;
  }
}

/* "CHAIN @ SELECTOR [lr_mult=X]" into group g. */
static int parse_group(optimizer_group *g, const char *s, const char *e, int index) {
  trim(&s, &e);
  const char *at = memchr(s, '@', (size_t)(e - s));
  if (!at)
    return descent_fail(DESCENT_EINVAL,
                        "optimizer group %d ('%.*s') has no '@ SELECTOR': write CHAIN @ SELECTOR, "
                        "e.g. adamw @ *",
                        index + 1, (int)(e - s), s);
  const char *ce = at, *ss = at + 1, *se = e;
  const char *cs = s;
  trim(&cs, &ce);
  trim(&ss, &se);
  if (ce == cs || se == ss)
    return descent_fail(DESCENT_EINVAL, "optimizer group %d ('%.*s'): the %s is empty", index + 1,
                        (int)(e - s), s, ce == cs ? "chain before '@'" : "selector after '@'");
  if (memchr(ss, '@', (size_t)(se - ss)))
    return descent_fail(DESCENT_EINVAL,
                        "optimizer group %d ('%.*s') has two '@': separate groups with ';'",
                        index + 1, (int)(e - s), s);
  snprintf(g->chain, sizeof g->chain, "%.*s", (int)(ce - cs), cs);
  g->lr_mult = 1;
  /* An optional "lr_mult=X" after the selector list, past a blank. */
  const char *blank = ss;
  while (blank < se && !isspace((unsigned char)*blank)) blank++;
  if (blank < se) {
    const char *ms = blank, *me = se;
    trim(&ms, &me);
    char text[64], *end;
    int fits = (size_t)(me - ms) < sizeof text && me - ms > 8 && strncmp(ms, "lr_mult=", 8) == 0;
    if (fits) snprintf(text, sizeof text, "%.*s", (int)(me - ms - 8), ms + 8);
    double mult = fits ? strtod(text, &end) : 0;
    if (!fits || *end || !(mult > 0) || !isfinite(mult))
      return descent_fail(DESCENT_EINVAL,
                          "optimizer group %d: '%.*s' after the selector: only lr_mult=X (X "
                          "positive and finite) may follow it",
                          index + 1, (int)(me - ms), ms);
    g->lr_mult = mult;
    se = blank;
  }
  snprintf(g->selector, sizeof g->selector, "%.*s", (int)(se - ss), ss);
  g->own_lr = gives_own_lr(g->chain);
  return check_selector(g->selector, index);
}

/* A child for group g over n parameters, refusing what a group cannot hold. */
static int make_child(const optimizer_groups *gs, optimizer_group *g, size_t n, int index,
                      descent_optimizer **out) {
  const char *lr = gs->has_lr && !g->own_lr ? gs->lr : NULL;
  int rc = descent_optimizer_create(out, g->chain, lr, n);
  if (rc) {
    char why[512];
    snprintf(why, sizeof why, "%s", descent_last_error());
    return descent_fail(rc, "optimizer group %d (%s): %s", index + 1, g->chain, why);
  }
  descent_optimizer *c = *out;
  const char *refused = c->method       ? "a method (it evaluates the objective itself) cannot be "
                                          "one group of several"
                        : c->full_batch ? "a full-batch optimizer (gd) cannot be a group"
                                        : NULL;
  if (refused) {
    descent_optimizer_free(c);
    *out = NULL;
    return descent_fail(DESCENT_EINVAL, "optimizer group %d (%s): %s; use a chain of transforms",
                        index + 1, g->chain, refused);
  }
  c->chain[c->n_transforms - 1].rate_scale = gs->lr_scale * g->lr_mult;
  return DESCENT_OK;
}

int groups_create(descent_optimizer **out, const char *spec, const char *lr, size_t n_params) {
  int rc = spec_check_text(spec, "optimizer");
  if (rc) return rc;
  descent_optimizer *opt = descent_calloc(1, sizeof *opt, "optimizer");
  optimizer_groups *gs = descent_calloc(1, sizeof *gs, "optimizer groups");
  if (!opt || !gs) {
    free(opt);
    free(gs);
    return DESCENT_ENOMEM;
  }
  opt->n = opt->shard_count = n_params;
  opt->groups = gs;
  gs->lr_scale = 1;
  if (lr) {
    snprintf(gs->lr, sizeof gs->lr, "%s", lr);
    gs->has_lr = 1;
  }
  snprintf(opt->spec, sizeof opt->spec, "%s", spec);
  snprintf(opt->expanded, sizeof opt->expanded, "%s", spec);
  for (const char *p = spec; !rc;) {
    const char *semi = strchr(p, ';'), *end = semi ? semi : p + strlen(p);
    if (gs->count == OPTIMIZER_MAX_GROUPS) {
      rc = descent_fail(DESCENT_ERANGE, "optimizer spec has more than %d groups",
                        OPTIMIZER_MAX_GROUPS);
      break;
    }
    optimizer_group *g = &gs->group[gs->count];
    rc = parse_group(g, p, end, gs->count);
    if (!rc) rc = make_child(gs, g, 1, gs->count, &g->child);
    gs->count += !rc;
    if (!semi) break;
    p = semi + 1;
  }
  if (rc) {
    descent_optimizer_free(opt);
    return rc;
  }
  *out = opt;
  return DESCENT_OK;
}

void groups_free(descent_optimizer *opt) {
  optimizer_groups *gs = opt->groups;
  for (int i = 0; i < gs->count; i++) {
    descent_optimizer_free(gs->group[i].child);
    free(gs->group[i].members);
  }
  free(gs);
  opt->groups = NULL;
}

/* ---- assignment ---------------------------------------------------------- */

/* Group i's tensors, their compact table and shifts, and its child. */
static int build_group(optimizer_groups *gs, int i, const descent_optimizer *opt,
                       const int *owner) {
  optimizer_group *g = &gs->group[i];
  size_t count = 0, n = 0;
  for (size_t k = 0; k < opt->n_tensors; k++) count += owner[k] == i;
  if (count == 0)
    return descent_fail(DESCENT_EINVAL,
                        "optimizer group %d (%s @ %s) matches no tensor (the groups before it "
                        "take theirs first): fix its selector, or leave the group out",
                        i + 1, g->chain, g->selector);
  descent_tensor_info *table = descent_calloc(count, sizeof *table, "group tensor table");
  g->members = descent_calloc(count, sizeof *g->members, "group members");
  size_t *shift = descent_calloc(count, sizeof *shift, "group tensor shifts");
  if (!table || !g->members || !shift) {
    free(table);
    free(shift);
    return DESCENT_ENOMEM;
  }
  for (size_t k = 0, j = 0; k < opt->n_tensors; k++) {
    if (owner[k] != i) continue;
    g->members[j] = k;
    table[j] = opt->tensors[k];
    table[j].offset = n;
    shift[j] = opt->tensors[k].offset - n;
    n += opt->tensors[k].size;
    j++;
  }
  g->n_members = count;
  descent_optimizer *child;
  int rc = make_child(gs, g, n, i, &child);
  if (!rc) rc = descent_optimizer_set_tensors(child, table, count);
  free(table);
  if (rc) {
    descent_optimizer_free(child);
    free(shift);
    return rc;
  }
  /* Every child steps through layout.c, on its tensors' blocks. */
  child->per_tensor = 1;
  child->tensor_shift = shift;
  child->threads = opt->threads;
  descent_optimizer_free(g->child);
  g->child = child;
  return DESCENT_OK;
}

int groups_assign(descent_optimizer *opt) {
  optimizer_groups *gs = opt->groups;
  int *owner = descent_calloc(opt->n_tensors, sizeof *owner, "group owners");
  if (!owner) return DESCENT_ENOMEM;
  int rc = DESCENT_OK;
  for (size_t k = 0; k < opt->n_tensors && !rc; k++) {
    owner[k] = -1;
    for (int i = 0; i < gs->count && owner[k] < 0; i++)
      if (selector_matches(gs->group[i].selector, &opt->tensors[k])) owner[k] = i;
    if (owner[k] < 0)
      rc = descent_fail(DESCENT_EINVAL,
                        "optimizer groups: tensor %.*s matches no group's selector: end the spec "
                        "with a group for the rest (CHAIN @ *)",
                        NAME_LEN, opt->tensors[k].name);
  }
  for (int i = 0; i < gs->count && !rc; i++) {
    free(gs->group[i].members);
    gs->group[i].members = NULL;
    rc = build_group(gs, i, opt, owner);
  }
  free(owner);
  gs->assigned = !rc;
  return rc;
}

/* ---- the step ------------------------------------------------------------ */

int groups_step(descent_optimizer *opt, descent_real *params, const descent_real *grad,
                const descent_tensor_info *tensors, size_t n_tensors) {
  optimizer_groups *gs = opt->groups;
  if (!gs->assigned) {
    /* No table set: the objective's, or one tensor of every parameter. A
       table set whose assignment was refused is tried again (and refused
       again, with its message). */
    descent_tensor_info whole = {.name = "params", .size = opt->n, .shape = {1, {opt->n}}};
    if (!n_tensors) tensors = &whole, n_tensors = 1;
    int rc = opt->n_tensors ? groups_assign(opt)
                            : descent_optimizer_set_tensors(opt, tensors, n_tensors);
    if (rc) return rc;
  }
  for (int i = 0; i < gs->count; i++) {
    descent_optimizer *c = gs->group[i].child;
    int rc = optimizer_layout_prepare(c, NULL, 0);
    if (rc) return rc;
    for (int t = 0; t < c->n_transforms; t++)
      if (c->chain[t].def->begin) c->chain[t].def->begin(&c->chain[t], c->step);
    optimizer_step_tensors(c, params, grad);
    c->step++;
  }
  opt->step++;
  return DESCENT_OK;
}

int groups_has_eval_point(const descent_optimizer *opt) {
  for (int i = 0; i < opt->groups->count; i++)
    if (optimizer_has_eval_point(opt->groups->group[i].child)) return 1;
  return 0;
}

/* Before the layout is known no group has stepped: nothing moves. */
int groups_switch(descent_optimizer *opt, descent_real *params, int to_eval) {
  optimizer_groups *gs = opt->groups;
  for (int i = 0; gs->assigned && i < gs->count; i++) {
    int rc = optimizer_switch_shifted(gs->group[i].child, params, to_eval);
    if (rc) return rc;
  }
  return DESCENT_OK;
}

/* ---- rates ----------------------------------------------------------------- */

/* The first group's: the rate of the group that comes first in the spec. */
double groups_lr(const descent_optimizer *opt) {
  const descent_optimizer *c = opt->groups->group[0].child;
  return transform_rate(optimizer_rate_transform(c), c->step);
}

int groups_set_lr_scale(descent_optimizer *opt, double scale) {
  optimizer_groups *gs = opt->groups;
  gs->lr_scale = scale;
  for (int i = 0; i < gs->count; i++)
    optimizer_rate_transform(gs->group[i].child)->rate_scale = scale * gs->group[i].lr_mult;
  return DESCENT_OK;
}

double groups_lr_scale(const descent_optimizer *opt) {
  return opt->groups->lr_scale;
}

double groups_base_lr(const descent_optimizer *opt) {
  return descent_optimizer_base_lr(opt->groups->group[0].child);
}

/* Every group's base rate times the same factor, the one that gives the
   first group lr: the groups keep their ratios, as a scheduler keeps
   PyTorch's groups'. */
int groups_set_base_lr(descent_optimizer *opt, double lr) {
  optimizer_groups *gs = opt->groups;
  if (groups_base_lr(opt) == 0 && gs->count > 1)
    return descent_fail(DESCENT_EINVAL,
                        "descent_optimizer_set_base_lr: the first group's base rate is 0, so no "
                        "factor takes it to %g while keeping the other groups' ratios",
                        lr);
  double factor = lr / groups_base_lr(opt);
  for (int i = 0; i < gs->count; i++) {
    descent_optimizer *c = gs->group[i].child;
    double base = descent_optimizer_base_lr(c);
    int rc = descent_optimizer_set_base_lr(c, i ? base * factor : lr);
    if (rc) return rc;
  }
  return DESCENT_OK;
}

int64_t groups_warmup_steps(const descent_optimizer *opt) {
  int64_t most = 0;
  for (int i = 0; i < opt->groups->count; i++) {
    int64_t w = descent_optimizer_warmup_steps(opt->groups->group[i].child);
    if (w > most) most = w;
  }
  return most;
}

/* ---- text ------------------------------------------------------------------ */

size_t groups_describe(const descent_optimizer *opt, char *buf, size_t cap) {
  const optimizer_groups *gs = opt->groups;
  size_t used = 0;
#define APPEND(...)                                                                                \
  used +=                                                                                          \
      (size_t)snprintf(buf + (used < cap ? used : cap), used < cap ? cap - used : 0, __VA_ARGS__)
  if (cap) buf[0] = '\0';
  for (int i = 0; i < gs->count; i++) {
    const optimizer_group *g = &gs->group[i];
    char chain[2048];
    descent_optimizer_describe(g->child, chain, sizeof chain);
    APPEND("%s%s @ %s", i ? " ; " : "", chain, g->selector);
    if (g->lr_mult != 1) APPEND(" lr_mult=%.17g", g->lr_mult);
    if (gs->assigned) {
      APPEND(" [");
      for (size_t j = 0; j < g->n_members; j++)
        APPEND("%s%.*s", j ? ", " : "", NAME_LEN, opt->tensors[g->members[j]].name);
      APPEND("]");
    }
  }
#undef APPEND
  return used;
}

int groups_hyperparameter_at(const descent_optimizer *opt, int index, char *buf, size_t cap,
                             double *value) {
  const optimizer_groups *gs = opt->groups;
  for (int i = 0; i < gs->count; i++) {
    const descent_optimizer *c = gs->group[i].child;
    int count = descent_optimizer_hyperparameter_count(c);
    if (index >= count) {
      index -= count;
      continue;
    }
    char name[160];
    descent_optimizer_hyperparameter_at(c, index, name, sizeof name, value);
    return snprintf(buf, cap, "group%d.%s", i + 1, name);
  }
  return -1;
}

/* ---- state --------------------------------------------------------------- */

/*
 * A grouped optimizer's state is format version 6:
 *
 *   0    8   magic "DSCNTOPT"
 *   8    4   version 6
 *   12   4   bytes per number (4 or 8)
 *   16   8   parameters n
 *   24   8   steps taken
 *   32   4   number of groups G (0: saved before the layout was known)
 *   36   4   mode: 0 training, 1 evaluation (descent_optimizer_eval)
 *   40   4   length L of the spec, then L bytes of it
 *   then, per group: 8 number of tensors M, M x 8 their indices in the
 *        layout, 8 length B of the child's state, B bytes of it (its own
 *        blob: its chain, its slots over its tensors, its compact layout)
 *   last 8   FNV-1a 64 of every byte before it
 *
 * A load checks the spec, the precision, the parameter count and each
 * group's tensors against this optimizer's before it changes anything; each
 * child's load then checks its chain and layout.
 */

static uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static unsigned char *put(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) *p++ = (unsigned char)(v >> (8 * i));
  return p;
}

static uint64_t get(const unsigned char **p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= (uint64_t)(*p)[i] << (8 * i);
  *p += bytes;
  return v;
}

size_t groups_state_size(const descent_optimizer *opt) {
  const optimizer_groups *gs = opt->groups;
  size_t bytes = 40 + 4 + strlen(opt->spec) + 8;
  for (int i = 0; gs->assigned && i < gs->count; i++)
    bytes += 16 + 8 * gs->group[i].n_members + descent_optimizer_state_size(gs->group[i].child);
  return bytes;
}

int groups_save_state(const descent_optimizer *opt, void *buf, size_t size) {
  const optimizer_groups *gs = opt->groups;
  size_t need = groups_state_size(opt);
  if (size < need)
    return descent_fail(DESCENT_ERANGE, "optimizer state needs %zu bytes, given %zu", need, size);
  unsigned char *p = buf;
  memcpy(p, STATE_MAGIC, 8);
  p = put(p + 8, STATE_GROUPED, 4);
  p = put(p, sizeof(descent_real), 4);
  p = put(p, opt->n, 8);
  p = put(p, (uint64_t)opt->step, 8);
  p = put(p, gs->assigned ? (uint64_t)gs->count : 0, 4);
  p = put(p, (uint64_t)opt->eval_mode, 4);
  size_t len = strlen(opt->spec);
  p = put(p, len, 4);
  memcpy(p, opt->spec, len);
  p += len;
  for (int i = 0; gs->assigned && i < gs->count; i++) {
    const optimizer_group *g = &gs->group[i];
    p = put(p, g->n_members, 8);
    for (size_t j = 0; j < g->n_members; j++) p = put(p, g->members[j], 8);
    size_t bytes = descent_optimizer_state_size(g->child);
    p = put(p, bytes, 8);
    int rc = descent_optimizer_save_state(g->child, p, bytes);
    if (rc) return rc;
    p += bytes;
  }
  put(p, fnv1a(buf, (size_t)(p - (unsigned char *)buf)), 8);
  return DESCENT_OK;
}

static int corrupt(const char *where) {
  return descent_fail(DESCENT_EFORMAT, "grouped optimizer state: truncated or corrupted (%s)",
                      where);
}

/* The blob's groups against this optimizer's, before anything changes. */
static int check_groups(const descent_optimizer *opt, const unsigned char *p,
                        const unsigned char *end, uint32_t count) {
  const optimizer_groups *gs = opt->groups;
  for (uint32_t i = 0; i < count; i++) {
    const optimizer_group *g = &gs->group[i];
    if (end - p < 8) return corrupt("a group's tensor count");
    uint64_t m = get(&p, 8);
    if (m > (uint64_t)(end - p) / 8) return corrupt("a group's tensors");
    int same = m == g->n_members;
    for (uint64_t j = 0; j < m; j++) same &= same && get(&p, 8) == g->members[j];
    if (!same)
      return descent_fail(DESCENT_EINVAL,
                          "optimizer state: group %u (%s @ %s) held other tensors when it was "
                          "saved: load it into an optimizer with the same groups over the same "
                          "model",
                          i + 1, g->chain, g->selector);
    if (end - p < 8) return corrupt("a group's state length");
    uint64_t bytes = get(&p, 8);
    if (bytes > (uint64_t)(end - p)) return corrupt("a group's state");
    p += bytes;
  }
  return p == end ? DESCENT_OK : corrupt("bytes after the last group");
}

int groups_load_state(descent_optimizer *opt, const void *buf, size_t size) {
  optimizer_groups *gs = opt->groups;
  const unsigned char *p = buf, *start = buf;
  if (size < 52 || memcmp(p, STATE_MAGIC, 8) != 0)
    return descent_fail(DESCENT_EFORMAT,
                        "optimizer state: truncated or not descent optimizer "
                        "state (%zu bytes)",
                        size);
  const unsigned char *end = start + size - 8, *tail = end;
  if (get(&tail, 8) != fnv1a(start, size - 8))
    return descent_fail(DESCENT_EFORMAT, "optimizer state: checksum mismatch: the blob is "
                                         "corrupted");
  p += 8;
  uint32_t version = (uint32_t)get(&p, 4), real_bytes = (uint32_t)get(&p, 4);
  if (version != STATE_GROUPED)
    return descent_fail(DESCENT_EINVAL,
                        "optimizer state is of an optimizer without groups (format version %u): "
                        "this one has groups (%s); load it into an optimizer built from its spec",
                        version, opt->spec);
  uint64_t n = get(&p, 8);
  int64_t step = (int64_t)get(&p, 8);
  uint32_t count = (uint32_t)get(&p, 4), mode = (uint32_t)get(&p, 4);
  uint32_t len = (uint32_t)get(&p, 4);
  if (mode > 1) return corrupt("the mode");
  if (len > (size_t)(end - p)) return corrupt("the spec");
  if (len != strlen(opt->spec) || memcmp(p, opt->spec, len) != 0)
    return descent_fail(DESCENT_EINVAL,
                        "optimizer state is for the groups '%.*s', this optimizer has '%s': "
                        "build it from the saved spec",
                        (int)len, (const char *)p, opt->spec);
  p += len;
  if (real_bytes != sizeof(descent_real))
    return descent_fail(DESCENT_EINVAL,
                        "optimizer state holds %u-byte numbers, this build uses %zu-byte ones",
                        real_bytes, sizeof(descent_real));
  if (n != opt->n)
    return descent_fail(DESCENT_ESHAPE, "optimizer state is for %llu parameters, this one has %zu",
                        (unsigned long long)n, opt->n);
  if (count && (!gs->assigned || count != (uint32_t)gs->count))
    return descent_fail(DESCENT_EINVAL,
                        "optimizer state holds %u groups' state over a layout of tensors: set the "
                        "same tensors first (descent_optimizer_set_tensors) so that each group "
                        "has its own",
                        count);
  if (!count && step > 0) return corrupt("steps without groups");
  int rc = check_groups(opt, p, end, count);
  if (rc) return rc;
  /* Each child checks its own blob as it loads it; should one refuse, the
     children loaded before it get their state back, so that a refused load
     changes nothing. */
  unsigned char *kept[OPTIMIZER_MAX_GROUPS] = {0};
  size_t kept_size[OPTIMIZER_MAX_GROUPS] = {0};
  uint32_t loaded = 0;
  for (; loaded < count && !rc; loaded++) {
    descent_optimizer *c = gs->group[loaded].child;
    uint64_t members = get(&p, 8);
    p += 8 * members;
    uint64_t bytes = get(&p, 8);
    kept_size[loaded] = descent_optimizer_state_size(c);
    kept[loaded] = malloc(kept_size[loaded]);
    rc = kept[loaded] ? descent_optimizer_save_state(c, kept[loaded], kept_size[loaded])
                      : descent_fail(DESCENT_ENOMEM, "optimizer state: no memory to load it");
    if (!rc) rc = descent_optimizer_load_state(c, p, (size_t)bytes);
    p += bytes;
  }
  if (rc) {
    char why[512];
    snprintf(why, sizeof why, "%s", descent_last_error());
    for (uint32_t i = 0; i + 1 < loaded; i++)
      descent_optimizer_load_state(gs->group[i].child, kept[i], kept_size[i]);
    descent_fail(rc, "optimizer state, group %u: %s", loaded, why);
  }
  for (uint32_t i = 0; i < loaded; i++) free(kept[i]);
  if (!rc) opt->step = step, opt->eval_mode = (int)mode;
  return rc;
}

size_t groups_state_bytes(const descent_optimizer *opt) {
  size_t bytes = 0;
  for (int i = 0; i < opt->groups->count; i++)
    bytes += descent_optimizer_state_bytes(opt->groups->group[i].child);
  return bytes;
}
