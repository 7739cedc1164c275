/*
 * test_optim_groups.c - parameter groups ("CHAIN @ SELECTOR ; ...").
 *
 * A grouped optimizer must give, bit for bit, what one optimizer per group
 * gives when each steps its group's tensors gathered into a buffer of their
 * own: the groups' tensors interleave in the flat buffer, span several
 * blocks, and the chains include a global transform (clip) and a per-tensor
 * one (lamb). Then: the selectors (kinds, globs, ndim), the rates (the
 * trainer's scale and the base rate reach every group), the state round trip
 * (bit-identical) and its refusals, the refusals of specs, and the text.
 * Parity with torch's param_groups is in test_parity (groups.txt).
 */
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* A network-like layout: five tensors, two of them longer than a block of
   the step (2048), groups interleaved. */
#define N_TENSORS 6
static const struct {
  const char *name;
  int ndim;
  size_t dims[2];
} LAYOUT[N_TENSORS] = {
    {"layer1.dense.weight", 2, {50, 100}}, {"layer1.dense.bias", 1, {50}},
    {"layer2.batchnorm.weight", 1, {50}},  {"layer2.batchnorm.bias", 1, {50}},
    {"layer3.dense.weight", 2, {10, 250}}, {"layer3.dense.bias", 1, {10}},
};

static size_t make_layout(descent_tensor_info *t) {
  size_t offset = 0;
  for (int k = 0; k < N_TENSORS; k++) {
    memset(&t[k], 0, sizeof t[k]);
    snprintf(t[k].name, sizeof t[k].name, "%s", LAYOUT[k].name);
    t[k].shape.ndim = LAYOUT[k].ndim;
    t[k].size = 1;
    for (int d = 0; d < LAYOUT[k].ndim; d++) {
      t[k].shape.dims[d] = LAYOUT[k].dims[d];
      t[k].size *= LAYOUT[k].dims[d];
    }
    t[k].offset = offset;
    offset += t[k].size;
  }
  return offset;
}

/* A deterministic gradient with exact zeros and an all-zero step. */
static void gradient(descent_real *g, size_t n, int64_t step) {
  for (size_t i = 0; i < n; i++) {
    uint64_t h = (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)(step + 7) * 0xbf58476dull;
    h ^= h >> 29;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 32;
    g[i] = (descent_real)((double)(h >> 11) / 9007199254740992.0 - 0.5) * (descent_real)(1 + i % 5);
    if (i % 23 == 0 || step == 3) g[i] = 0;
  }
}

static void init_params(descent_real *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (descent_real)(((double)(i % 97) - 48) / 40);
}

static descent_real *reals(size_t n) {
  descent_real *p = calloc(n, sizeof *p);
  if (!p) abort();
  return p;
}

/* Steps opt `steps` times on the layout's buffers, gradients by step. */
static int run(descent_optimizer *opt, descent_real *p, descent_real *g, size_t n,
               descent_tensor_info *t, int steps) {
  descent_objective obj = {
      .n_params = n, .params = p, .grad = g, .n_tensors = N_TENSORS, .tensors = t};
  for (int k = 0; k < steps; k++) {
    gradient(g, n, descent_optimizer_steps(opt));
    int rc = descent_optimizer_step(opt, &obj);
    if (rc) return rc;
  }
  return DESCENT_OK;
}

/* The grouped optimizer against one optimizer per group on gathered
   copies: `members[i]` lists group i's tensors (-1 ends it). exact 0: a
   chain with a global sum (clip), which a group adds per slice of 512 in
   each tensor (as every chain stepped per tensor does) and an optimizer over
   a flat buffer per block of 2048: the same sum in another order. */
static void check_against_separate(const char *grouped, const char *const *chains,
                                   const int members[][N_TENSORS + 1], int n_groups, int exact) {
  descent_tensor_info t[N_TENSORS];
  size_t n = make_layout(t);
  descent_real *p = reals(n), *g = reals(n);
  init_params(p, n);
  descent_optimizer *opt;
  CHECK_OK(descent_optimizer_create(&opt, grouped, "0.01", n));
  if (!opt) return;
  CHECK_OK(run(opt, p, g, n, t, 12));

  /* The same run, one optimizer per group on its tensors gathered. */
  descent_real *q = reals(n), *h = reals(n);
  init_params(q, n);
  descent_optimizer *sep[8] = {NULL};
  descent_tensor_info compact[8][N_TENSORS];
  size_t sizes[8];
  descent_real *cp[8] = {NULL}, *cg[8] = {NULL};
  int made = 1;
  for (int i = 0; i < n_groups; i++) {
    size_t m = 0, k = 0;
    for (int j = 0; members[i][j] >= 0; j++, k++) {
      compact[i][k] = t[members[i][j]];
      compact[i][k].offset = m;
      m += t[members[i][j]].size;
    }
    sizes[i] = m;
    cp[i] = reals(m), cg[i] = reals(m);
    CHECK_OK(descent_optimizer_create(&sep[i], chains[i], "0.01", m));
    if (!sep[i]) { /* failed above; nothing to compare against */
      made = 0;
      break;
    }
    CHECK_OK(descent_optimizer_set_tensors(sep[i], compact[i], k));
    for (int j = 0, at = 0; members[i][j] >= 0; j++) {
      memcpy(cp[i] + at, q + t[members[i][j]].offset, t[members[i][j]].size * sizeof *q);
      at += (int)t[members[i][j]].size;
    }
  }
  if (!made) goto done;
  for (int64_t step = 0; step < 12; step++) {
    gradient(h, n, step);
    for (int i = 0; i < n_groups; i++) {
      for (int j = 0, at = 0; members[i][j] >= 0; j++) {
        memcpy(cg[i] + at, h + t[members[i][j]].offset, t[members[i][j]].size * sizeof *h);
        at += (int)t[members[i][j]].size;
      }
      CHECK_OK(descent_optimizer_step_buffers(sep[i], cp[i], cg[i], sizes[i]));
    }
  }
  /* After the steps, at the evaluation point (schedule-free's x; the
     parameters for every other chain), and back at the training point. */
  for (int phase = 0; phase < 3; phase++) {
    if (phase == 1) CHECK_OK(descent_optimizer_eval_buffers(opt, p, n));
    if (phase == 2) CHECK_OK(descent_optimizer_train_buffers(opt, p, n));
    for (int i = 0; i < n_groups; i++) {
      if (phase == 1) CHECK_OK(descent_optimizer_eval_buffers(sep[i], cp[i], sizes[i]));
      if (phase == 2) CHECK_OK(descent_optimizer_train_buffers(sep[i], cp[i], sizes[i]));
      for (int j = 0, at = 0; members[i][j] >= 0; j++) {
        memcpy(q + t[members[i][j]].offset, cp[i] + at, t[members[i][j]].size * sizeof *q);
        at += (int)t[members[i][j]].size;
      }
    }
    if (exact)
      CHECK_MSG(memcmp(p, q, n * sizeof *p) == 0,
                "%s: not the bits of one optimizer per group (phase %d)", grouped, phase);
    else
      for (size_t i = 0; i < n; i++) CHECK_CLOSE(p[i], q[i], sizeof *p == 8 ? 1e-13 : 1e-6);
  }
done:
  for (int i = 0; i < n_groups; i++) {
    descent_optimizer_free(sep[i]);
    free(cp[i]), free(cg[i]);
  }
  descent_optimizer_free(opt);
  free(p), free(g), free(q), free(h);
}

static void test_same_bits_as_separate(void) {
  /* Decay on the weights only (AdamW's usual groups), norms at another rate. */
  const char *decay[] = {"adamw(weight_decay=0.1)", "adamw(weight_decay=0)"};
  const int decay_members[][N_TENSORS + 1] = {{0, 4, -1}, {1, 2, 3, 5, -1}};
  check_against_separate("adamw(weight_decay=0.1) @ weight ; adamw(weight_decay=0) @ *", decay,
                         decay_members, 2, 1);
  /* Different chains: momentum on 2-D tensors, Adam on the rest; then with
     a clipped Adam. */
  const char *mixed[] = {"momentum(momentum=0.9)", "adam"};
  const int mixed_members[][N_TENSORS + 1] = {{0, 4, -1}, {1, 2, 3, 5, -1}};
  check_against_separate("momentum(momentum=0.9) @ *:2d ; adam @ *", mixed, mixed_members, 2, 1);
  const char *clipped[] = {"momentum(momentum=0.9)", "clip(0.5) | adam"};
  check_against_separate("momentum(momentum=0.9) @ *:2d ; clip(0.5) | adam @ *", clipped,
                         mixed_members, 2, 0);
  /* Schedule-free in a group: its evaluation point, and the way back. */
  const char *sf[] = {"sf_adamw", "adam"};
  check_against_separate("sf_adamw @ weight ; adam @ *", sf, mixed_members, 2, 1);
  const char *asgd[] = {"momentum(momentum=0.9)", "asgd(t0=3)"};
  check_against_separate("momentum(momentum=0.9) @ weight ; asgd(t0=3) @ *", asgd, mixed_members, 2,
                         1);
  /* A per-tensor chain in a group, three groups, the norm group first. */
  const char *three[] = {"sgd", "lamb(weight_decay=0.01)", "rmsprop | wd(0.1)"};
  const int three_members[][N_TENSORS + 1] = {{2, 3, -1}, {0, 1, -1}, {4, 5, -1}};
  check_against_separate("sgd @ norm ; lamb(weight_decay=0.01) @ layer1.* ; rmsprop | wd(0.1) @ *",
                         three, three_members, 3, 1);
  /* Muon (a whole-tensor chain) on the 2-D weights, AdamW on the rest:
     torch.optim.Muon's recommended split. */
  const char *split[] = {"muon", "adamw"};
  check_against_separate("muon @ weight:2d ; adamw @ *", split, mixed_members, 2, 1);
  /* A whole-tensor transform with state of its own size per tensor. */
  const char *factored[] = {"adafactor", "adamw"};
  check_against_separate("adafactor @ weight:2d ; adamw @ *", factored, mixed_members, 2, 1);
}

/* The text names each group's chain and, once assigned, its tensors. */
static void test_describe(void) {
  descent_tensor_info t[N_TENSORS];
  size_t n = make_layout(t);
  descent_optimizer *opt;
  CHECK_OK(descent_optimizer_create(&opt, "sgd(momentum=0.9) @ bias,norm ; adam @ *", "0.1", n));
  if (!opt) return;
  char text[4096];
  descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strstr(text, "@ bias,norm ; adam") && !strchr(text, '['), "%s", text);
  CHECK_OK(descent_optimizer_set_tensors(opt, t, N_TENSORS));
  descent_optimizer_describe(opt, text, sizeof text);
  CHECK_MSG(strstr(text, "@ bias,norm [layer1.dense.bias, layer2.batchnorm.weight, "
                         "layer2.batchnorm.bias, layer3.dense.bias] ; adam"),
            "%s", text);
  CHECK_MSG(strstr(text, "@ * [layer1.dense.weight, layer3.dense.weight]"), "%s", text);
  CHECK(descent_optimizer_uses_tensors(opt));
  double v;
  CHECK_OK(descent_optimizer_hyperparameter(opt, "group1.momentum.momentum", &v));
  CHECK(v == 0.9);
  CHECK_OK(descent_optimizer_hyperparameter(opt, "group2.adam.b2", &v));
  CHECK(v == 0.999);
  descent_optimizer_free(opt);
}

/* The rate: a group's own, the create's for the others, lr_mult, and the
   trainer's scale and base rate on every group. */
static void test_rates(void) {
  descent_tensor_info t[N_TENSORS];
  size_t n = make_layout(t);
  descent_optimizer *opt;
  CHECK_OK(descent_optimizer_create(
      &opt, "adam @ weight ; adam(lr=0.5) @ bias ; sgd @ * lr_mult=0.1", "0.02", n));
  if (!opt) return;
  double v;
  CHECK(descent_optimizer_lr(opt) == 0.02);
  CHECK_OK(descent_optimizer_hyperparameter(opt, "group2.lr.lr", &v));
  CHECK(v == 0.5);
  CHECK_OK(descent_optimizer_set_lr_scale(opt, 0.5));
  CHECK(descent_optimizer_lr_scale(opt) == 0.5);
  CHECK(descent_optimizer_lr(opt) == 0.01);
  CHECK_OK(descent_optimizer_set_base_lr(opt, 0.04));
  CHECK(descent_optimizer_base_lr(opt) == 0.04);
  CHECK_OK(descent_optimizer_hyperparameter(opt, "group2.lr.lr", &v));
  CHECK(v == 1.0);
  CHECK_OK(descent_optimizer_hyperparameter(opt, "group3.lr.lr", &v));
  CHECK(v == 0.04);
  descent_optimizer_free(opt);
}

/* Save after some steps, load into a fresh optimizer, go on: the same bits. */
static void test_state_round_trip(void) {
  const char *spec = "adamw(weight_decay=0.1) @ weight ; lamb @ norm ; sgd(momentum=0.9) @ *";
  descent_tensor_info t[N_TENSORS];
  size_t n = make_layout(t);
  descent_real *p = reals(n), *g = reals(n), *q = reals(n);
  init_params(p, n);
  descent_optimizer *a, *b;
  CHECK_OK(descent_optimizer_create(&a, spec, "0.01", n));
  CHECK_OK(descent_optimizer_create(&b, spec, "0.01", n));
  if (!a || !b) return;
  /* Saved before any layout: nothing but the spec, loaded back as it is. */
  size_t early = descent_optimizer_state_size(a);
  unsigned char *blob0 = malloc(early);
  CHECK_OK(descent_optimizer_save_state(a, blob0, early));
  CHECK_OK(descent_optimizer_load_state(b, blob0, early));
  free(blob0);

  CHECK_OK(run(a, p, g, n, t, 7));
  size_t size = descent_optimizer_state_size(a);
  unsigned char *blob = malloc(size);
  CHECK_OK(descent_optimizer_save_state(a, blob, size));
  memcpy(q, p, n * sizeof *p);
  /* Without a layout, b cannot give each group its part. */
  CHECK_FAILS(descent_optimizer_load_state(b, blob, size), DESCENT_EINVAL,
              "descent_optimizer_set_tensors");
  CHECK_OK(descent_optimizer_set_tensors(b, t, N_TENSORS));
  CHECK_OK(descent_optimizer_load_state(b, blob, size));
  CHECK(descent_optimizer_steps(b) == 7);
  CHECK_OK(run(a, p, g, n, t, 8));
  CHECK_OK(run(b, q, g, n, t, 8));
  CHECK_MSG(memcmp(p, q, n * sizeof *p) == 0, "resumed grouped run differs");
  size_t size2 = descent_optimizer_state_size(a);
  unsigned char *sa = malloc(size2), *sb = malloc(size2);
  CHECK_OK(descent_optimizer_save_state(a, sa, size2));
  CHECK_OK(descent_optimizer_save_state(b, sb, size2));
  CHECK(memcmp(sa, sb, size2) == 0);

  /* Refusals: corrupted, another spec, another assignment, into an
     optimizer without groups, and a plain blob into a grouped one. */
  sa[size2 / 2] ^= 1;
  CHECK_FAILS(descent_optimizer_load_state(b, sa, size2), DESCENT_EFORMAT, "checksum");
  CHECK_FAILS(descent_optimizer_load_state(b, sb, size2 - 1), DESCENT_EFORMAT, "checksum");
  descent_optimizer *other, *plain;
  CHECK_OK(descent_optimizer_create(&other,
                                    "adamw(weight_decay=0.1) @ weight ; lamb @ norm ; "
                                    "sgd(momentum=0.8) @ *",
                                    "0.01", n));
  CHECK_FAILS(descent_optimizer_load_state(other, sb, size2), DESCENT_EINVAL, "build it from");
  descent_optimizer_free(other);
  CHECK_OK(descent_optimizer_create(&plain, "sgd(momentum=0.9)", "0.01", n));
  CHECK_FAILS(descent_optimizer_load_state(plain, sb, size2), DESCENT_EINVAL, "parameter groups");
  size_t plain_size = descent_optimizer_state_size(plain);
  unsigned char *pb = malloc(plain_size);
  CHECK_OK(descent_optimizer_save_state(plain, pb, plain_size));
  CHECK_FAILS(descent_optimizer_load_state(b, pb, plain_size), DESCENT_EINVAL, "without groups");
  CHECK_FAILS(descent_optimizer_set_shard(b, 0, n / 2, NULL, NULL), DESCENT_ENOTSUP,
              "parameter groups");
  /* The mode travels with the state. */
  CHECK_OK(descent_optimizer_eval_buffers(a, p, n));
  CHECK_OK(descent_optimizer_save_state(a, sa, size2));
  CHECK_OK(descent_optimizer_load_state(b, sa, size2));
  CHECK_FAILS(descent_optimizer_step_buffers(b, q, g, n), DESCENT_EINVAL, "evaluation mode");
  CHECK_OK(descent_optimizer_train_buffers(b, q, n));
  CHECK_OK(descent_optimizer_step_buffers(b, q, g, n));
  free(pb);
  descent_optimizer_free(plain);
  free(sa), free(sb), free(blob);
  descent_optimizer_free(a);
  descent_optimizer_free(b);
  free(p), free(g), free(q);
}

/* Muon + AdamW groups (or Adafactor + AdamW) saved mid-run and loaded into
   a fresh optimizer go on to the same bits as the run that was never
   interrupted (Muon's momentum buffer, Adafactor's factors kept per tensor,
   AdamW's moments, each in its group's blob). */
static void split_round_trip(const char *spec) {
  descent_tensor_info t[N_TENSORS];
  size_t n = make_layout(t);
  descent_real *p = reals(n), *g = reals(n), *q = reals(n);
  init_params(p, n);
  descent_optimizer *a, *b;
  CHECK_OK(descent_optimizer_create(&a, spec, NULL, n));
  CHECK_OK(descent_optimizer_create(&b, spec, NULL, n));
  if (!a || !b) return;
  CHECK_OK(run(a, p, g, n, t, 5));
  size_t size = descent_optimizer_state_size(a);
  unsigned char *blob = malloc(size);
  CHECK_OK(descent_optimizer_save_state(a, blob, size));
  memcpy(q, p, n * sizeof *p);
  CHECK_OK(descent_optimizer_set_tensors(b, t, N_TENSORS));
  CHECK_OK(descent_optimizer_load_state(b, blob, size));
  CHECK_OK(run(a, p, g, n, t, 6));
  CHECK_OK(run(b, q, g, n, t, 6));
  CHECK_MSG(memcmp(p, q, n * sizeof *p) == 0, "resumed groups %s differ", spec);
  free(blob);
  descent_optimizer_free(a);
  descent_optimizer_free(b);
  free(p), free(g), free(q);
}

static void test_muon_split_round_trip(void) {
  split_round_trip("muon(lr=0.02) @ weight:2d ; adamw(lr=3e-4, weight_decay=0.01) @ *");
  split_round_trip("adafactor(lr=0.02) @ weight:2d ; adamw(lr=3e-4, weight_decay=0.01) @ *");
}

/* Schedule-free in a group, saved in evaluation mode: the loaded optimizer
   goes back to the same training point and on to the same bits. */
static void test_eval_mode_round_trip(void) {
  const char *spec = "sf_adamw @ weight ; adam @ *";
  descent_tensor_info t[N_TENSORS];
  size_t n = make_layout(t);
  descent_real *p = reals(n), *g = reals(n), *q = reals(n);
  init_params(p, n);
  descent_optimizer *a, *b;
  CHECK_OK(descent_optimizer_create(&a, spec, "0.01", n));
  CHECK_OK(descent_optimizer_create(&b, spec, "0.01", n));
  if (!a || !b) return;
  CHECK_OK(descent_optimizer_set_tensors(b, t, N_TENSORS));
  CHECK_OK(run(a, p, g, n, t, 5));
  CHECK_OK(descent_optimizer_eval_buffers(a, p, n));
  size_t size = descent_optimizer_state_size(a);
  unsigned char *blob = malloc(size);
  CHECK_OK(descent_optimizer_save_state(a, blob, size));
  CHECK_OK(descent_optimizer_load_state(b, blob, size));
  memcpy(q, p, n * sizeof *p);
  CHECK_OK(descent_optimizer_train_buffers(a, p, n));
  CHECK_OK(descent_optimizer_train_buffers(b, q, n));
  CHECK(memcmp(p, q, n * sizeof *p) == 0);
  CHECK_OK(run(a, p, g, n, t, 3));
  CHECK_OK(run(b, q, g, n, t, 3));
  CHECK_MSG(memcmp(p, q, n * sizeof *p) == 0, "schedule-free group resumed in evaluation mode");
  free(blob);
  descent_optimizer_free(a);
  descent_optimizer_free(b);
  free(p), free(g), free(q);
}

/* A blob whose second group's chain differs (another --lr for it): refused,
   and the first group, which would have loaded, is left as it was. */
static void test_refused_load_changes_nothing(void) {
  const char *spec = "adamw(lr=0.01) @ weight ; sgd(momentum=0.9) @ *";
  descent_tensor_info t[N_TENSORS];
  size_t n = make_layout(t);
  descent_real *p = reals(n), *g = reals(n);
  init_params(p, n);
  descent_optimizer *a, *b;
  CHECK_OK(descent_optimizer_create(&a, spec, "0.1", n));
  CHECK_OK(descent_optimizer_create(&b, spec, "0.2", n));
  if (!a || !b) return;
  CHECK_OK(run(a, p, g, n, t, 4));
  CHECK_OK(run(b, p, g, n, t, 2));
  size_t sa = descent_optimizer_state_size(a), sb = descent_optimizer_state_size(b);
  unsigned char *blob = malloc(sa), *before = malloc(sb), *after = malloc(sb);
  CHECK_OK(descent_optimizer_save_state(a, blob, sa));
  CHECK_OK(descent_optimizer_save_state(b, before, sb));
  CHECK_FAILS(descent_optimizer_load_state(b, blob, sa), DESCENT_EINVAL, "group 2");
  CHECK_OK(descent_optimizer_save_state(b, after, sb));
  CHECK(memcmp(before, after, sb) == 0);
  CHECK(descent_optimizer_steps(b) == 2);
  free(blob), free(before), free(after);
  descent_optimizer_free(a);
  descent_optimizer_free(b);
  free(p), free(g);
}

/* A group of more than OPTIMIZER_PARALLEL_BLOCKS blocks splits them over the
   threads: the same bits at 1 and 2 threads. */
static void test_threads(void) {
  descent_tensor_info t[2] = {
      {.name = "big.weight", .offset = 0, .size = 600 * 500, .shape = {2, {600, 500}}},
      {.name = "big.bias", .offset = 600 * 500, .size = 500, .shape = {1, {500}}}};
  size_t n = 600 * 500 + 500;
  descent_real *p[2], *g = reals(n);
  for (int run = 0; run < 2; run++) {
    p[run] = reals(n);
    init_params(p[run], n);
    descent_optimizer *opt;
    CHECK_OK(descent_optimizer_create(
        &opt, "clip(1) | adam | wd(0.01) @ weight ; sgd(momentum=0.9) @ *", "0.01", n));
    if (!opt) return;
    CHECK_OK(descent_optimizer_set_threads(opt, run + 1));
    descent_objective obj = {
        .n_params = n, .params = p[run], .grad = g, .n_tensors = 2, .tensors = t};
    for (int k = 0; k < 3; k++) {
      gradient(g, n, k);
      CHECK_OK(descent_optimizer_step(opt, &obj));
    }
    descent_optimizer_free(opt);
  }
  CHECK(memcmp(p[0], p[1], n * sizeof *p[0]) == 0);
  free(p[0]), free(p[1]), free(g);
}

static void test_refusals(void) {
  descent_tensor_info t[N_TENSORS];
  size_t n = make_layout(t);
  descent_optimizer *opt = NULL;
  CHECK_FAILS(descent_optimizer_create(&opt, "adam @ *:5d", NULL, n), DESCENT_EINVAL,
              "selector item '*:5d'");
  CHECK_FAILS(descent_optimizer_create(&opt, "adam @ bias,,norm", NULL, n), DESCENT_EINVAL,
              "selector item");
  CHECK_FAILS(descent_optimizer_create(&opt, "adam @ ", NULL, n), DESCENT_EINVAL,
              "selector after '@'");
  CHECK_FAILS(descent_optimizer_create(&opt, "adam @ * ; sgd", NULL, n), DESCENT_EINVAL,
              "no '@ SELECTOR'");
  CHECK_FAILS(descent_optimizer_create(&opt, "adam @ * lr_mult=-1", NULL, n), DESCENT_EINVAL,
              "lr_mult=X");
  CHECK_FAILS(descent_optimizer_create(&opt, "lbfgs @ weight ; adam @ *", NULL, n), DESCENT_EINVAL,
              "a method");
  CHECK_FAILS(descent_optimizer_create(&opt, "gd @ weight ; adam @ *", NULL, n), DESCENT_EINVAL,
              "full-batch");
  CHECK_FAILS(descent_optimizer_create(&opt, "adam(b1=2) @ *", NULL, n), DESCENT_EINVAL,
              "optimizer group 1 (adam(b1=2))");
  CHECK_FAILS(descent_optimizer_create(&opt, "adam @ *\n", NULL, n), DESCENT_EINVAL,
              "control character");
  CHECK(opt == NULL);
  /* A tensor no group takes; a group left without tensors (first match
     wins, so a tensor is never in two groups). */
  CHECK_OK(descent_optimizer_create(&opt, "adam @ weight ; sgd @ bias", NULL, n));
  CHECK_FAILS(descent_optimizer_set_tensors(opt, t, N_TENSORS), DESCENT_EINVAL,
              "tensor layer2.batchnorm.weight matches no group");
  descent_optimizer_free(opt);
  CHECK_OK(descent_optimizer_create(&opt, "adam @ * ; sgd @ bias", NULL, n));
  CHECK_FAILS(descent_optimizer_set_tensors(opt, t, N_TENSORS), DESCENT_EINVAL,
              "group 2 (sgd @ bias) matches no tensor");
  descent_optimizer_free(opt);
  /* Without a table, every parameter is one tensor "params". */
  descent_real *p = reals(n), *g = reals(n);
  CHECK_OK(descent_optimizer_create(&opt, "adam @ params", NULL, n));
  CHECK_OK(descent_optimizer_step_buffers(opt, p, g, n));
  descent_optimizer_free(opt);
  free(p), free(g);
}

int main(void) {
  test_same_bits_as_separate();
  test_describe();
  test_rates();
  test_state_round_trip();
  test_muon_split_round_trip();
  test_refused_load_changes_nothing();
  test_eval_mode_round_trip();
  test_threads();
  test_refusals();
  return check_report();
}
