/*
 * tracker.c - the instruments of a training run (descent_tracker): which
 * are measured, their columns, when a step is measured (every N steps, or
 * automatically within a share of the run's gradient evaluations), and the
 * tracker's state in a checkpoint ("TRAK"), so that a resumed run measures
 * what the uninterrupted one did. The measurements themselves are in
 * tracker_measure.c.
 *
 * TRAK's payload (little-endian): u32 version (1), u32 bytes per number,
 * u32 instruments mask, u64 parameter count, i64 the next step each tier
 * measures (every 0; curvature, then first order), i64 the gap to the next
 * measurement, f64 gradient evaluations spent, f64 those each tier spent
 * (curvature, first order), u32 which warm
 * starts follow (bits: top Hessian vector, bottom Hessian vector, top
 * Gauss-Newton vector, top preconditioned vector), then the parameters at
 * step 0 when layers are tracked, then each warm start present, in that
 * order: parameter count numbers each.
 */
#include "tracker.h"

#include "nn/network_internal.h"
#include "nn/network_kfac.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TRAK_VERSION 1u
#define TRAK_FIXED   72 /* the payload before the vectors */

static const struct {
  const char *name;
  unsigned bit;
} instruments[] = {
    {"sharpness", DESCENT_TRACK_SHARPNESS}, {"ggn", DESCENT_TRACK_GGN},
    {"negative", DESCENT_TRACK_NEGATIVE},   {"noise", DESCENT_TRACK_NOISE},
    {"alpha", DESCENT_TRACK_ALPHA},         {"layers", DESCENT_TRACK_LAYERS},
};
enum { N_INSTRUMENTS = sizeof instruments / sizeof instruments[0] };
#define VALID_INSTRUMENTS "sharpness, ggn, negative, noise, alpha, layers, all"

/* ---- names ------------------------------------------------------------------ */

static int parse_one(const char *name, size_t len, unsigned *mask) {
  if (len == 3 && strncmp(name, "all", 3) == 0) {
    *mask |= DESCENT_TRACK_ALL;
    return DESCENT_OK;
  }
  for (int i = 0; i < N_INSTRUMENTS; i++)
    if (strlen(instruments[i].name) == len && strncmp(instruments[i].name, name, len) == 0) {
      *mask |= instruments[i].bit;
      return DESCENT_OK;
    }
  return descent_fail(DESCENT_EINVAL, "unknown instrument '%.*s'; valid: " VALID_INSTRUMENTS,
                      (int)(len > 64 ? 64 : len), name);
}

int descent_track_parse(const char *list, unsigned *mask) {
  if (!list || !mask) return descent_fail(DESCENT_EINVAL, "descent_track_parse: a NULL argument");
  unsigned m = 0;
  for (const char *p = list;;) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == 0)
      return descent_fail(DESCENT_EINVAL,
                          "instrument list '%s': an empty name; give names separated by commas "
                          "(" VALID_INSTRUMENTS ")",
                          list);
    int rc = parse_one(p, len, &m);
    if (rc) return rc;
    if (!end) break;
    p = end + 1;
  }
  *mask = m;
  return DESCENT_OK;
}

size_t descent_track_describe(unsigned mask, char *buf, size_t cap) {
  size_t used = 0;
  for (int i = 0; i < N_INSTRUMENTS; i++) {
    if (!(mask & instruments[i].bit)) continue;
    int n = snprintf(buf && used < cap ? buf + used : NULL, buf && used < cap ? cap - used : 0,
                     "%s%s", used ? "," : "", instruments[i].name);
    used += (size_t)n;
  }
  if (buf && cap && used == 0) buf[0] = '\0';
  return used;
}

void descent_track_options_default(descent_track_options *o) {
  memset(o, 0, sizeof *o);
  o->what = DESCENT_TRACK_SHARPNESS;
  o->every = 0;
  o->iterations = 20;
  o->tolerance = 1e-3;
  o->seed = 1;
}

/* ---- creation --------------------------------------------------------------------- */

static int check_options(const descent_track_options *o) {
  if (o->what == 0 || (o->what & ~(unsigned)DESCENT_TRACK_ALL))
    return descent_fail(DESCENT_EINVAL,
                        "tracker: instruments mask 0x%x: give one or more of " VALID_INSTRUMENTS,
                        o->what);
  if (o->every < 0)
    return descent_fail(DESCENT_EINVAL, "tracker: every %lld: must be >= 0 (0: automatic)",
                        (long long)o->every);
  if (o->iterations < 1 || o->iterations > 10000)
    return descent_fail(DESCENT_EINVAL, "tracker: iterations %d: must lie in [1, 10000]",
                        o->iterations);
  if (!(o->tolerance >= 0) || !isfinite(o->tolerance))
    return descent_fail(DESCENT_EINVAL,
                        "tracker: tolerance %g: must be finite and >= 0 (0: never "
                        "stop early)",
                        o->tolerance);
  return DESCENT_OK;
}

/* Each instrument against what the objective can compute. */
static int check_objective(const descent_objective *obj, unsigned what) {
  const descent_objective_ops *ops = obj->ops;
  const struct {
    unsigned bit;
    const char *name, *needs;
    int has;
  } needs[] = {
      {DESCENT_TRACK_SHARPNESS, "sharpness", "Hessian-vector products (ops->hvp)", !!ops->hvp},
      {DESCENT_TRACK_NEGATIVE, "negative", "Hessian-vector products (ops->hvp)", !!ops->hvp},
      {DESCENT_TRACK_GGN, "ggn", "Gauss-Newton-vector products (ops->ggnvp)", !!ops->ggnvp},
      {DESCENT_TRACK_NOISE, "noise", "per-example gradients (ops->example_gradients)",
       !!ops->example_gradients},
  };
  for (size_t i = 0; i < sizeof needs / sizeof *needs; i++)
    if ((what & needs[i].bit) && !needs[i].has)
      return descent_fail(DESCENT_ENOTSUP,
                          "tracker: the instrument '%s' needs %s, which the %s objective does "
                          "not have; track without it",
                          needs[i].name, needs[i].needs, ops->kind ? ops->kind : "unnamed");
  /* A network has the products, but a layer of it may not: named now, not
     at the first measurement. */
  const descent_net *net = net_of_objective((descent_objective *)obj);
  if (!net) return DESCENT_OK;
  int rc = DESCENT_OK;
  if (what & (DESCENT_TRACK_SHARPNESS | DESCENT_TRACK_NEGATIVE)) rc = net_check_products(net, 1);
  if (!rc && (what & DESCENT_TRACK_GGN)) rc = net_check_products(net, 0);
  if (!rc && (what & DESCENT_TRACK_NOISE)) rc = net_check_example_gradients(net);
  if (rc) descent_error_prefix("tracker: ");
  return rc;
}

unsigned tracker_vectors(unsigned what) {
  unsigned v = 0;
  if (what & (DESCENT_TRACK_SHARPNESS | DESCENT_TRACK_NEGATIVE)) v |= TRACK_HAVE_TOP;
  if (what & DESCENT_TRACK_NEGATIVE) v |= TRACK_HAVE_BOTTOM;
  if (what & DESCENT_TRACK_GGN) v |= TRACK_HAVE_GGN;
  if (what & DESCENT_TRACK_SHARPNESS) v |= TRACK_HAVE_PRE;
  return v;
}

static int add_column(descent_tracker *t, const char *a, const char *b) {
  size_t len = strlen(a) + (b ? strlen(b) + 1 : 0) + 1;
  char *name = descent_calloc(len, 1, "tracker: column name");
  if (!name) return DESCENT_ENOMEM;
  snprintf(name, len, "%s%s%s", a, b ? "." : "", b ? b : "");
  t->names[t->n_columns++] = name;
  return DESCENT_OK;
}

static int add_columns(descent_tracker *t, const char *const *names, size_t count, size_t *first) {
  *first = t->n_columns;
  for (size_t i = 0; i < count; i++) {
    int rc = add_column(t, names[i], NULL);
    if (rc) return rc;
  }
  return DESCENT_OK;
}

/* The columns, in the order docs/instruments.md lists them. */
static int make_columns(descent_tracker *t) {
  static const char *const always[] = {"step", "epoch", "lr", "loss", "cost"};
  static const char *const sharp[] = {"hessian_top", "stability_limit", "precond_top",
                                      "edge_ratio"};
  static const char *const ggn[] = {"ggn_top"};
  static const char *const neg[] = {"hessian_bottom"};
  static const char *const noise[] = {"grad_norm",  "noise_trace", "noise_scale", "norm_test",
                                      "inner_test", "ortho_test",  "batch"};
  static const char *const alpha[] = {"alpha", "step_norm", "loss_after"};
  unsigned w = t->o.what;
  size_t cap = 5 + 4 + 1 + 1 + 7 + 3 + 3 * t->n_tensors + t->n_act_columns;
  t->names = descent_calloc(cap, sizeof *t->names, "tracker: columns");
  if (!t->names) return DESCENT_ENOMEM;
  size_t unused;
  int rc = add_columns(t, always, 5, &unused);
  if (!rc && (w & DESCENT_TRACK_SHARPNESS)) rc = add_columns(t, sharp, 4, &t->col_sharp);
  if (!rc && (w & DESCENT_TRACK_GGN)) rc = add_columns(t, ggn, 1, &t->col_ggn);
  if (!rc && (w & DESCENT_TRACK_NEGATIVE)) rc = add_columns(t, neg, 1, &t->col_neg);
  if (!rc && (w & DESCENT_TRACK_NOISE)) rc = add_columns(t, noise, 7, &t->col_noise);
  if (!rc && (w & DESCENT_TRACK_ALPHA)) rc = add_columns(t, alpha, 3, &t->col_alpha);
  if (rc || !(w & DESCENT_TRACK_LAYERS)) return rc;
  t->col_layers = t->n_columns;
  static const char *const per_tensor[] = {"grad_norm", "update_ratio", "distance"};
  for (size_t i = 0; !rc && i < t->n_tensors; i++) {
    const char *name = t->obj->n_tensors ? t->obj->tensors[i].name : "params";
    for (int k = 0; !rc && k < 3; k++) rc = add_column(t, name, per_tensor[k]);
  }
  for (size_t i = 0; !rc && i < t->n_acts; i++) {
    const char *name = t->net->layers[t->act_layers[i]].name;
    rc = add_column(t, name, "mean");
    if (!rc) rc = add_column(t, name, "std");
    if (!rc && net_activation_kind(t->net, t->act_layers[i]) == NET_ACTIVATION_RELU)
      rc = add_column(t, name, "dead");
  }
  return rc;
}

/* The network's activation layers, for the per-layer statistics. */
static int find_activations(descent_tracker *t) {
  if (!t->net || !(t->o.what & DESCENT_TRACK_LAYERS)) return DESCENT_OK;
  t->act_layers = descent_calloc(t->net->n_layers ? t->net->n_layers : 1, sizeof *t->act_layers,
                                 "tracker: layers");
  if (!t->act_layers) return DESCENT_ENOMEM;
  for (size_t i = 0; i < t->net->n_layers; i++) {
    int kind = net_activation_kind(t->net, i);
    if (kind == NET_ACTIVATION_NONE) continue;
    t->act_layers[t->n_acts++] = i;
    t->n_act_columns += kind == NET_ACTIVATION_RELU ? 3 : 2;
  }
  return DESCENT_OK;
}

static int alloc_vector(descent_real **v, size_t n, const char *what) {
  *v = descent_alloc_real(n ? n : 1, what);
  return *v ? DESCENT_OK : DESCENT_ENOMEM;
}

static int alloc_state(descent_tracker *t) {
  size_t n = t->obj->n_params;
  unsigned w = t->o.what, v = tracker_vectors(w);
  int rc = DESCENT_OK;
  if (w & DESCENT_TRACK_LAYERS) {
    rc = alloc_vector(&t->theta_start, n, "tracker: parameters at step 0");
    if (!rc) memcpy(t->theta_start, t->obj->params, n * sizeof *t->theta_start);
  }
  if (!rc && (v & TRACK_HAVE_TOP)) rc = alloc_vector(&t->top, n, "tracker: top vector");
  if (!rc && (v & TRACK_HAVE_BOTTOM)) rc = alloc_vector(&t->bottom, n, "tracker: bottom vector");
  if (!rc && (v & TRACK_HAVE_GGN)) rc = alloc_vector(&t->ggn_top, n, "tracker: GGN vector");
  if (!rc && (v & TRACK_HAVE_PRE)) rc = alloc_vector(&t->pre_top, n, "tracker: vector");
  if (!rc && (v & TRACK_HAVE_PRE)) rc = alloc_vector(&t->precond, n, "tracker: preconditioner");
  if (!rc && (v & TRACK_HAVE_PRE)) rc = alloc_vector(&t->scratch, n, "tracker: vector");
  if (!rc && v) rc = alloc_vector(&t->work, n, "tracker: start vector");
  if (!rc && (w & (DESCENT_TRACK_ALPHA | DESCENT_TRACK_LAYERS)))
    rc = alloc_vector(&t->theta0, n, "tracker: parameters before the step");
  if (!rc && (w & DESCENT_TRACK_ALPHA)) rc = alloc_vector(&t->g0, n, "tracker: gradient");
  if (!rc && (w & DESCENT_TRACK_ALPHA)) rc = alloc_vector(&t->g1, n, "tracker: gradient");
  if (!rc) t->row = descent_calloc(t->n_columns, sizeof *t->row, "tracker: row");
  return rc ? rc : t->row ? DESCENT_OK : DESCENT_ENOMEM;
}

static void schedule_first(descent_tracker *t);

int descent_tracker_create(descent_tracker **out, descent_objective *obj, descent_optimizer *opt,
                           const descent_track_options *options) {
  descent_error_clear();
  if (!out || !obj || !opt || !options)
    return descent_fail(DESCENT_EINVAL, "descent_tracker_create: a NULL argument");
  *out = NULL;
  if (!obj->ops || !obj->ops->value_and_grad || (obj->n_params && (!obj->params || !obj->grad)))
    return descent_fail(DESCENT_EINVAL,
                        "tracker: the objective lacks ops->value_and_grad or its buffers");
  int rc = check_options(options);
  if (!rc) rc = check_objective(obj, options->what);
  if (rc) return rc;
  descent_tracker *t = descent_calloc(1, sizeof *t, "tracker");
  if (!t) return DESCENT_ENOMEM;
  t->obj = obj;
  t->opt = opt;
  t->o = *options;
  t->net = net_of_objective(obj);
  t->n_tensors = obj->n_tensors ? obj->n_tensors : 1;
  t->row_step = -1;
  schedule_first(t);
  rc = find_activations(t);
  if (!rc) rc = make_columns(t);
  if (!rc) rc = alloc_state(t);
  if (rc) {
    descent_tracker_free(t);
    return rc;
  }
  *out = t;
  return DESCENT_OK;
}

void descent_tracker_free(descent_tracker *t) {
  if (!t) return;
  for (size_t i = 0; t->names && i < t->n_columns; i++) free(t->names[i]);
  free(t->names);
  free(t->row);
  free(t->act_layers);
  descent_real *vectors[] = {t->theta_start, t->top,     t->bottom, t->ggn_top,
                             t->pre_top,     t->precond, t->work,   t->theta0,
                             t->g0,          t->g1,      t->scratch};
  for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) descent_free_real(vectors[i]);
  free(t->sq);
  free(t->dot);
  free(t);
}

const char *const *descent_tracker_columns(const descent_tracker *t, size_t *count) {
  if (count) *count = t ? t->n_columns : 0;
  return t ? (const char *const *)t->names : NULL;
}

const double *descent_tracker_row(const descent_tracker *t, int64_t step) {
  return t && step >= 0 && t->row_step == step ? t->row : NULL;
}

double descent_tracker_cost(const descent_tracker *t) {
  return t ? t->cost : 0;
}

int64_t descent_tracker_every(const descent_tracker *t) {
  return t ? t->every_now : 0;
}

/* ---- the trainer's calls ------------------------------------------------------------ */

int tracker_check_trainer(const descent_tracker *t, const descent_objective *obj,
                          const descent_optimizer *opt, int full_batch_data, int has_batches) {
  if (t->obj != obj || t->opt != opt)
    return descent_fail(DESCENT_EINVAL,
                        "trainer: the tracker was made for another %s; make it "
                        "with the trainer's objective and optimizer",
                        t->obj != obj ? "objective" : "optimizer");
  if (full_batch_data) {
    char name[256];
    descent_optimizer_describe(opt, name, sizeof name);
    return descent_fail(DESCENT_EINVAL,
                        "trainer: the instruments measure on each step's minibatch, and the "
                        "optimizer '%s' steps on the whole training set (no step batch); track "
                        "a minibatch optimizer (sgd, adam, ...) or train without instruments",
                        name);
  }
  if ((t->o.what & DESCENT_TRACK_NOISE) && !has_batches)
    return descent_fail(DESCENT_EINVAL,
                        "trainer: the instrument 'noise' needs each step's examples, and this "
                        "trainer evaluates the whole objective (no data set, no next_batch); "
                        "give batches or track without noise");
  return DESCENT_OK;
}

static const unsigned tier_bits[TRACK_TIERS] = {TRACK_CURVATURE_BITS, TRACK_FIRST_ORDER_BITS};

/* The instruments due at step: all of them every `every` steps; each
   tier's once its next step is reached. */
static unsigned due(const descent_tracker *t, int64_t step) {
  if (t->o.every > 0) return step % t->o.every == 0 ? t->o.what : 0;
  unsigned now = 0;
  for (int k = 0; k < TRACK_TIERS; k++)
    if ((t->o.what & tier_bits[k]) && step >= t->next_step[k]) now |= t->o.what & tier_bits[k];
  return now;
}

int tracker_before_step(descent_tracker *t, const descent_batch *batch, double loss,
                        int64_t epoch) {
  t->measuring = 0;
  int64_t step = descent_optimizer_steps(t->opt) + 1;
  t->now = due(t, step);
  if (!t->now) return DESCENT_OK;
  for (size_t i = 0; i < t->n_columns; i++) t->row[i] = NAN;
  t->row[0] = (double)step;
  t->row[1] = (double)epoch;
  t->row[2] = descent_optimizer_lr(t->opt);
  t->row[3] = loss;
  t->step = step;
  t->f0 = loss;
  t->cost_before = t->cost;
  t->measuring = 1;
  int rc = tracker_measure_before(t, batch);
  if (rc) t->measuring = 0;
  return rc;
}

static const double tier_budget[TRACK_TIERS] = {TRACK_BUDGET_CURVATURE, TRACK_BUDGET_FIRST_ORDER};

/* every 0: a tier that has spent `spent` by step `after` measures next at
   the first step whose budget covers it (tracker.h). */
static int64_t auto_step(double spent, double budget, int64_t after) {
  double at = ceil(spent / budget);
  return at > (double)(after + 1) && at < 9e18 ? (int64_t)at : after + 1;
}

/* The gap from step to the next measurement of any tier. */
static int64_t next_gap(const descent_tracker *t, int64_t step) {
  int64_t next = INT64_MAX;
  for (int k = 0; k < TRACK_TIERS; k++)
    if ((t->o.what & tier_bits[k]) && t->next_step[k] < next) next = t->next_step[k];
  return next > step ? next - step : 1;
}

/* Both tiers measure at the first step. */
static void schedule_first(descent_tracker *t) {
  for (int k = 0; k < TRACK_TIERS; k++) t->next_step[k] = 1;
  t->every_now = t->o.every > 0 ? t->o.every : 1;
}

static void schedule_next(descent_tracker *t) {
  if (t->o.every > 0) {
    t->every_now = t->o.every;
    return;
  }
  for (int k = 0; k < TRACK_TIERS; k++)
    if (t->now & tier_bits[k]) {
      t->next_step[k] = auto_step(t->tier_cost[k], tier_budget[k], t->step);
    }
  t->every_now = next_gap(t, t->step);
}

int tracker_after_step(descent_tracker *t, const descent_batch *batch) {
  if (!t->measuring) return DESCENT_OK;
  t->measuring = 0;
  int rc = tracker_measure_after(t, batch);
  if (rc) return rc;
  t->row[4] = t->cost - t->cost_before;
  t->row_step = t->step;
  schedule_next(t);
  return DESCENT_OK;
}

/* ---- the checkpoint section ------------------------------------------------------------ */

/* The warm starts in TRAK's order (the TRACK_HAVE_* bits). */
static void state_vectors(const descent_tracker *t, descent_real *v[4]) {
  v[0] = t->top, v[1] = t->bottom, v[2] = t->ggn_top, v[3] = t->pre_top;
}

void tracker_put(const descent_tracker *t, bytes_out *o) {
  size_t n = t->obj->n_params;
  out_u32(o, TRAK_VERSION);
  out_u32(o, (uint32_t)sizeof(descent_real));
  out_u32(o, t->o.what);
  out_u64(o, n);
  out_u64(o, (uint64_t)t->next_step[0]);
  out_u64(o, (uint64_t)t->next_step[1]);
  out_u64(o, (uint64_t)t->every_now);
  out_f64(o, t->cost);
  out_f64(o, t->tier_cost[0]);
  out_f64(o, t->tier_cost[1]);
  out_u32(o, t->have);
  if (t->theta_start) out_reals(o, t->theta_start, n, sizeof(descent_real));
  descent_real *v[4];
  state_vectors(t, v);
  for (int i = 0; i < 4; i++)
    if (t->have & (1u << i)) out_reals(o, v[i], n, sizeof(descent_real));
}

static const model_section *find_trak(const model_section *sections, size_t count) {
  for (size_t i = 0; i < count; i++)
    if (memcmp(sections[i].tag, "TRAK", 4) == 0) return &sections[i];
  return NULL;
}

/* Finite, and (for a warm start) not all zero. */
static int vector_fine(const unsigned char *p, size_t n, int nonzero) {
  bytes_in in = {p, n * sizeof(descent_real), 0, 0};
  int any = 0;
  for (size_t i = 0; i < n; i++) {
    descent_real x;
    in_reals(&in, &x, 1, sizeof(descent_real));
    if (!isfinite(x)) return 0;
    any |= x != 0;
  }
  return any || !nonzero;
}

int tracker_check_state(const descent_tracker *t, const model_section *sections, size_t count,
                        const char *name) {
  const model_section *s = NULL;
  for (size_t i = 0; i < count; i++)
    if (memcmp(sections[i].tag, "TRAK", 4) == 0) {
      if (s) return descent_fail(DESCENT_EFORMAT, "%s: section 'TRAK' appears twice", name);
      s = &sections[i];
    }
  char mine[128];
  descent_track_describe(t->o.what, mine, sizeof mine);
  if (!s)
    return descent_fail(DESCENT_EINVAL,
                        "%s holds no instruments' state (section 'TRAK'): it was trained without "
                        "them; resume it without instruments (%s)",
                        name, mine);
  if (s->len < TRAK_FIXED)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'TRAK' is truncated (%zu bytes)", name,
                        s->len);
  bytes_in in = {s->payload, s->len, 0, 0};
  uint32_t version = in_u32(&in), width = in_u32(&in), what = in_u32(&in);
  uint64_t n = in_u64(&in), next = in_u64(&in), next_first_order = in_u64(&in);
  uint64_t every = in_u64(&in);
  double cost = in_f64(&in), tier0 = in_f64(&in), tier1 = in_f64(&in);
  uint32_t have = in_u32(&in);
  if (version != TRAK_VERSION)
    return descent_fail(version > TRAK_VERSION ? DESCENT_ENOTSUP : DESCENT_EFORMAT,
                        "%s: section 'TRAK' has version %u; this descent reads version %u", name,
                        version, TRAK_VERSION);
  if (width != sizeof(descent_real))
    return descent_fail(DESCENT_EFORMAT,
                        "%s: section 'TRAK' holds %u-byte numbers; this build's "
                        "are %zu",
                        name, width, sizeof(descent_real));
  if (what != t->o.what) {
    char theirs[128];
    descent_track_describe(what & DESCENT_TRACK_ALL, theirs, sizeof theirs);
    return descent_fail(DESCENT_EINVAL,
                        "%s was measured with the instruments '%s'; this run tracks '%s': "
                        "resume with the same instruments",
                        name, theirs, mine);
  }
  if (n != t->obj->n_params)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'TRAK' is for %llu parameters, not %zu", name,
                        (unsigned long long)n, t->obj->n_params);
  if ((int64_t)next < 1 || (int64_t)next_first_order < 1 || (int64_t)every < 1 || !(cost >= 0) ||
      !isfinite(cost) || !(tier0 >= 0) || !(tier1 >= 0) || !(tier0 + tier1 <= cost * (1 + 1e-9)))
    return descent_fail(DESCENT_EFORMAT,
                        "%s: section 'TRAK' is corrupted (next steps %lld and %lld, every %lld, "
                        "cost %g = %g + %g)",
                        name, (long long)next, (long long)next_first_order, (long long)every, cost,
                        tier0, tier1);
  if (have & ~tracker_vectors(what))
    return descent_fail(DESCENT_EFORMAT,
                        "%s: section 'TRAK' holds warm starts (0x%x) its instruments do not use",
                        name, have);
  size_t vectors = (t->theta_start ? 1u : 0u) + (size_t)__builtin_popcount(have);
  size_t bytes = t->obj->n_params * sizeof(descent_real);
  if (s->len != TRAK_FIXED + vectors * bytes)
    return descent_fail(DESCENT_EFORMAT, "%s: section 'TRAK' has %zu bytes, its fields say %zu",
                        name, s->len, TRAK_FIXED + vectors * bytes);
  const unsigned char *p = s->payload + TRAK_FIXED;
  for (size_t i = 0; i < vectors; i++, p += bytes)
    if (!vector_fine(p, t->obj->n_params, i > 0 || !t->theta_start))
      return descent_fail(DESCENT_EFORMAT,
                          "%s: section 'TRAK': vector %zu holds NaN or Inf, or is all zero", name,
                          i + 1);
  return DESCENT_OK;
}

void tracker_restore(descent_tracker *t, const model_section *sections, size_t count) {
  const model_section *s = find_trak(sections, count);
  bytes_in in = {s->payload, s->len, 0, 0};
  size_t n = t->obj->n_params;
  in_u32(&in), in_u32(&in), in_u32(&in), in_u64(&in);
  t->next_step[0] = (int64_t)in_u64(&in);
  t->next_step[1] = (int64_t)in_u64(&in);
  t->every_now = (int64_t)in_u64(&in);
  t->cost = in_f64(&in);
  t->tier_cost[0] = in_f64(&in);
  t->tier_cost[1] = in_f64(&in);
  t->have = in_u32(&in);
  if (t->theta_start) in_reals(&in, t->theta_start, n, sizeof(descent_real));
  descent_real *v[4];
  state_vectors(t, v);
  for (int i = 0; i < 4; i++)
    if (t->have & (1u << i)) in_reals(&in, v[i], n, sizeof(descent_real));
  t->row_step = -1;
  t->measuring = 0;
}
