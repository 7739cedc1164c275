/*
 * test_optim_state.c - saving and restoring an optimizer's state.
 *
 * For every named optimizer, and for chains and schedules with warmup: N steps,
 * save the state, restore it into a fresh optimizer, N more steps must give
 * the same parameters, bit for bit, as 2N uninterrupted steps (and the same
 * state). Then the refusals: a truncated or corrupted blob, one for another
 * chain, another learning rate, another parameter count or another precision.
 * Per-tensor chains (lamb, lars) on a layout of three tensors, and the
 * layout their blob records; whole-tensor chains (muon) on three matrices.
 */
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Three blocks of the fused step, the last one ragged. */
#define N_PARAMS 5000

/* A deterministic stochastic gradient of a quadratic with coordinates of
   very different curvature, with noise, and exact zeros now and then (the
   sign of zero, an all-zero step). */
static void gradient(const descent_real *p, descent_real *g, size_t n, int64_t step) {
  for (size_t i = 0; i < n; i++) {
    uint64_t h =
        (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull ^ (uint64_t)(step + 1) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 29;
    double noise = (double)(h >> 11) / 9007199254740992.0 - 0.5;
    double curvature = 0.1 + (double)(i % 13);
    g[i] = (descent_real)(curvature * ((double)p[i] - 0.25) + noise);
    if (i % 17 == 0 || step == 5) g[i] = 0;
  }
}

static void init_params(descent_real *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (descent_real)(((double)(i % 101) - 50) / 25);
}

/* The objective's table of tensors in run_steps (none: NULL), which a
   per-tensor chain (lamb, lars) takes as its layout at its first step. */
static descent_tensor_info *objective_tensors;
static size_t objective_n_tensors;

static int run_steps(descent_optimizer *opt, descent_real *p, descent_real *g, size_t n,
                     int steps) {
  descent_objective obj = {.n_params = n,
                           .params = p,
                           .grad = g,
                           .n_tensors = objective_n_tensors,
                           .tensors = objective_tensors};
  for (int k = 0; k < steps; k++) {
    gradient(p, g, n, descent_optimizer_steps(opt));
    int rc = descent_optimizer_step(opt, &obj);
    if (rc) return rc;
  }
  return DESCENT_OK;
}

static unsigned char *save(const descent_optimizer *opt, size_t *size) {
  *size = descent_optimizer_state_size(opt);
  unsigned char *buf = malloc(*size);
  if (buf) CHECK_OK(descent_optimizer_save_state(opt, buf, *size));
  return buf;
}

/* N steps, save, restore into a fresh optimizer, N steps == 2N steps. With
   `with_eval`, the optimizer is switched to evaluation between the halves in
   both runs, and the state is saved in evaluation mode. */
static void check_round_trip(const char *spec, const char *lr, int half, int with_eval) {
  size_t n = N_PARAMS;
  descent_real *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
  descent_real *g = malloc(n * sizeof *g);
  descent_optimizer *a = NULL, *b = NULL, *c = NULL;
  CHECK_OK(descent_optimizer_create(&a, spec, lr, n));
  CHECK_OK(descent_optimizer_create(&b, spec, lr, n));
  if (!a || !b || !pa || !pb || !g) goto done;
  init_params(pa, n);
  init_params(pb, n);
  descent_objective obj_a = {.n_params = n, .params = pa, .grad = g};
  descent_objective obj_b = {.n_params = n, .params = pb, .grad = g};

  CHECK_OK(run_steps(a, pa, g, n, half));
  if (with_eval) CHECK_OK(descent_optimizer_eval(a, &obj_a));
  if (with_eval) CHECK_OK(descent_optimizer_train(a, &obj_a));
  CHECK_OK(run_steps(a, pa, g, n, half));

  CHECK_OK(run_steps(b, pb, g, n, half));
  if (with_eval) CHECK_OK(descent_optimizer_eval(b, &obj_b));
  size_t size;
  unsigned char *blob = save(b, &size);
  descent_optimizer_free(b);
  b = NULL;
  CHECK_OK(descent_optimizer_create(&c, spec, lr, n));
  if (!c || !blob) goto done_blob;
  CHECK_OK(descent_optimizer_load_state(c, blob, size));
  CHECK(descent_optimizer_steps(c) == half);
  descent_objective obj_c = {.n_params = n, .params = pb, .grad = g};
  if (with_eval) CHECK_OK(descent_optimizer_train(c, &obj_c));
  CHECK_OK(run_steps(c, pb, g, n, half));

  size_t differ = 0;
  for (size_t i = 0; i < n; i++) differ += memcmp(&pa[i], &pb[i], sizeof pa[i]) != 0;
  CHECK_MSG(differ == 0, "%s (lr %s), %d + %d steps%s: %zu of %zu parameters differ", spec,
            lr ? lr : "default", half, half, with_eval ? " with eval" : "", differ, n);
  /* The whole state agrees too, not only the parameters. */
  size_t size_a, size_c;
  unsigned char *state_a = save(a, &size_a), *state_c = save(c, &size_c);
  CHECK_MSG(state_a && state_c && size_a == size_c && memcmp(state_a, state_c, size_a) == 0,
            "%s: state after resuming differs from state without", spec);
  free(state_a);
  free(state_c);
done_blob:
  free(blob);
done:
  descent_optimizer_free(a);
  descent_optimizer_free(b);
  descent_optimizer_free(c);
  free(pa), free(pb), free(g);
}

static const struct {
  const char *spec, *lr;
} cases[] = {
    /* every named optimizer at its defaults (lr where the default is large) */
    {"sgd", "0.01"},
    {"gd", "0.01"},
    {"momentum", "0.01"},
    {"nesterov", "0.01"},
    {"adagrad", NULL},
    {"rmsprop", NULL},
    {"adam", NULL},
    {"adamw", NULL},
    {"amsgrad", NULL},
    {"lion", NULL},
    {"sf_sgd", "0.01"},
    {"sf_adamw", NULL},
    {"adadelta", NULL},
    {"rprop", NULL},
    {"asgd", NULL},
    {"adabelief", NULL},
    {"yogi", NULL},
    {"ademamix", NULL},
    {"nadam", NULL},
    {"radam", NULL},
    {"adamax", NULL},
    {"prodigy", NULL},
    {"dadapt_adamw", NULL},
    /* every branch of their hyperparameters */
    {"sgd(momentum=0.9, dampening=0.1, weight_decay=1e-3)", "0.01"},
    {"sgd(momentum=0.5, nesterov=1, weight_decay=1e-2)", "0.01"},
    {"adagrad(lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=1e-3)", NULL},
    {"rmsprop(centered=1, momentum=0.9, weight_decay=1e-3)", "1e-3"},
    {"adam(amsgrad=1, weight_decay=1e-2, b1=0.3)", NULL},
    {"adamw(amsgrad=1)", NULL},
    {"lion(weight_decay=0.1)", NULL},
    {"sf_sgd(lr=0.01, warmup_steps=3, weight_decay=1e-3, r=1)", NULL},
    {"sf_adamw(warmup_steps=5, r=1, weight_lr_power=1, weight_decay=1e-2)", NULL},
    {"adadelta(rho=0.5, eps=1e-4, weight_decay=1e-2)", "0.5"},
    {"rprop(etaminus=0.3, etaplus=1.9, step_min=1e-3, step_max=0.05)", NULL},
    {"asgd(lambd=0.05, alpha=0.6, t0=3, weight_decay=1e-3)", "0.05"},
    {"adabelief(nesterov=1, eps_root=0, b1=0.8)", NULL},
    {"yogi(initial_accumulator_value=0.1, eps_root=1e-8) | wd(1e-2) | lr(0.01)", NULL},
    {"ademamix(alpha_warmup=5, b3_warmup=7, weight_decay=1e-2)", NULL},
    {"nadam(momentum_decay=0.05, weight_decay=1e-2)", NULL},
    {"nadam(weight_decay=1e-2, decoupled_weight_decay=1, b1=0.5)", "0.01"},
    {"radam(weight_decay=1e-2, b2=0.9)", NULL},
    {"radam(weight_decay=1e-2, decoupled_weight_decay=1)", "0.01"},
    {"adamax(weight_decay=1e-2, b2=0.9)", NULL},
    {"prodigy(b3=0.9, estim_lr0=1e-3, estim_lr_coef=2, weight_decay=1e-2)", "0.5"},
    {"prodigy(safeguard_warmup=1, estim_lr0=1e-3)", "0.5"},
    {"dadapt_adamw(estim_lr0=1e-3, weight_decay=1e-2, b1=0.5)", "2"},
    {"clip(1) | prodigy(estim_lr0=1e-2)", "1"},
    /* chains, one with a global transform past the first (two stages) */
    {"clip(1.0) | adam(b1=0.9, b2=0.999) | wd(1e-2)", "1e-3"},
    {"clip_value(0.5) | momentum(0.9) | lr(0.01)", NULL},
    {"l2(1e-3) | adam | clip(0.1)", "0.01"},
    {"rmsprop(bias_correction=1) | clip(1) | momentum(0.5) | clip(0.3)", "0.01"},
    {"clip(2) | lion | wd(0.1) | sf(lr=1e-3, momentum=0.8)", NULL},
    /* schedules with warmup */
    {"sgd", "cosine(0.1, 20, min_lr=0.001, warmup=5)"},
    {"adam", "wsd(1e-3, 30, warmup=4)"},
    {"momentum(dampening=0.5)", "step(0.01, 3, warmup=2)"},
    {"sf_adamw", "exp(0.01, 0.9, warmup=3)"},
    {"adagrad", "inv(0.1, 4, warmup=3)"},
    {"rmsprop", "poly(0.01, 0.5, warmup=2)"},
    {"nesterov", "linear(0.1, 12, end_factor=0.1, warmup=3)"},
    {"asgd(lambd=0.1, t0=2)", "cosine(0.05, 20, warmup=3)"},
    {"prodigy(estim_lr0=1e-3)", "cosine(1, 20, warmup=3)"},
    {"dadapt_adamw(estim_lr0=1e-3)", "linear(1, 20, end_factor=0, warmup=2)"},
    /* per tensor: one tensor of every parameter (the objective has no table) */
    {"lamb", NULL},
    {"lars", "0.1"},
    {"novograd", NULL},
    {"novograd(b1=0, b2=0.9, eps_root=1e-9, weight_decay=0.01)", "cosine(0.05, 20, warmup=3)"},
};

static void check_round_trips(void) {
  static const int halves[] = {0, 1, 4, 9};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (size_t h = 0; h < sizeof halves / sizeof halves[0]; h++)
      check_round_trip(cases[i].spec, cases[i].lr, halves[h], 0);
  /* Saved in evaluation mode, resumed in training mode. */
  check_round_trip("sf_sgd", "0.01", 4, 1);
  check_round_trip("sf_adamw(weight_decay=1e-2)", NULL, 6, 1);
  check_round_trip("adam", NULL, 3, 1);
  check_round_trip("asgd(t0=2)", "0.05", 6, 1); /* the parameters hold ax */
}

/* ---- the blob's layout and its refusals ---------------------------------- */

static uint64_t read_le(const unsigned char *p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static void write_le(unsigned char *p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* FNV-1a 64, as the format documents. */
static uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void reseal(unsigned char *blob, size_t size) {
  write_le(blob + size - 8, fnv1a(blob, size - 8), 8);
}

static void check_layout_and_refusals(void) {
  size_t n = 3000;
  descent_real *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
  descent_optimizer *opt = NULL, *other = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "adam", "0.01", n));
  if (!opt || !p || !g) goto done;
  init_params(p, n);
  CHECK_OK(run_steps(opt, p, g, n, 3));
  size_t size;
  unsigned char *blob = save(opt, &size);
  if (!blob) goto done;
  const char *chain = "adam(b1=0.9, b2=0.999, eps=1e-08, amsgrad=0) | lr(lr=0.01)";
  size_t len = strlen(chain);
  /* The documented layout. */
  CHECK(memcmp(blob, "DSCNTOPT", 8) == 0);
  CHECK(read_le(blob + 8, 4) == 1);
  CHECK(read_le(blob + 12, 4) == sizeof(descent_real));
  CHECK(read_le(blob + 16, 8) == n);
  CHECK(read_le(blob + 24, 8) == 3);
  CHECK(read_le(blob + 32, 4) == 0);
  CHECK(read_le(blob + 36, 4) == len);
  CHECK(memcmp(blob + 40, chain, len) == 0);
  CHECK(read_le(blob + 40 + len, 4) == 2); /* transforms */
  CHECK(size == 40 + len + 4 + 2 * 8 + 2 * n * sizeof(descent_real) + 8);
  CHECK(read_le(blob + size - 8, 8) == fnv1a(blob, size - 8));

  /* A buffer too small to save into. */
  CHECK_FAILS(descent_optimizer_save_state(opt, blob, size - 1), DESCENT_ERANGE, "needed");

  /* Truncated, padded, corrupted: refused, and the optimizer is untouched. */
  CHECK_OK(descent_optimizer_create(&other, "adam", "0.01", n));
  if (!other) goto done_blob;
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size - 1), DESCENT_EFORMAT, "truncated");
  CHECK_FAILS(descent_optimizer_load_state(other, blob, 20), DESCENT_EFORMAT, "truncated");
  CHECK_FAILS(descent_optimizer_load_state(other, blob, 60), DESCENT_EFORMAT, "truncated");
  unsigned char *padded = calloc(1, size + 4);
  if (padded) {
    memcpy(padded, blob, size);
    CHECK_FAILS(descent_optimizer_load_state(other, padded, size + 4), DESCENT_EFORMAT,
                "trailing bytes");
    free(padded);
  }
  blob[size / 2] ^= 0x10;
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EFORMAT,
              "checksum mismatch");
  blob[size / 2] ^= 0x10;
  blob[0] = 'X';
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EFORMAT, "bad magic");
  blob[0] = 'D';
  write_le(blob + 8, 11, 4);
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EFORMAT, "version 11");
  /* Version 3 holds a layout after the slots, which this blob lacks. */
  write_le(blob + 8, 3, 4);
  CHECK(descent_optimizer_load_state(other, blob, size) == DESCENT_EFORMAT);
  /* Version 2 is a method's (a state of its own after the slots): a chain's
     blob labelled so is refused. */
  write_le(blob + 8, 2, 4);
  CHECK(descent_optimizer_load_state(other, blob, size) == DESCENT_EFORMAT);
  write_le(blob + 8, 1, 4);
  write_le(blob + 40 + len, 1000, 4);
  reseal(blob, size);
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EFORMAT, "1000 transforms");
  write_le(blob + 40 + len, 2, 4);
  write_le(blob + 16, (uint64_t)1 << 62, 8);
  reseal(blob, size);
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EFORMAT, "corrupted");
  write_le(blob + 16, n, 8);
  reseal(blob, size);
  CHECK(descent_optimizer_steps(other) == 0);
  CHECK_OK(descent_optimizer_load_state(other, blob, size));
  CHECK(descent_optimizer_steps(other) == 3);
  descent_optimizer_free(other);
  other = NULL;

  /* Well-formed, but for another optimizer. */
  CHECK_OK(descent_optimizer_create(&other, "adamw", "0.01", n));
  if (other)
    CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EINVAL,
                "is for another optimizer: transform 2 is 'lr(lr=0.01)' in the saved state but "
                "'wd(weight_decay=0.01)' here");
  descent_optimizer_free(other);
  other = NULL;
  CHECK_OK(descent_optimizer_create(&other, "adam(b2=0.99)", "0.01", n));
  if (other)
    CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EINVAL,
                "transform 1 is 'adam(b1=0.9, b2=0.999, eps=1e-08, amsgrad=0)' in the saved");
  descent_optimizer_free(other);
  other = NULL;
  CHECK_OK(descent_optimizer_create(&other, "adam", "cosine(0.01, 100)", n));
  if (other)
    CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EINVAL,
                "transform 2 is 'lr(lr=0.01)' in the saved state but 'lr(lr=cosine(lr=0.01, "
                "steps=100, min_lr=0, warmup=0))' here");
  descent_optimizer_free(other);
  other = NULL;
  CHECK_OK(descent_optimizer_create(&other, "adam", "0.01", n - 1));
  if (other)
    CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_ESHAPE,
                "is for 3000 parameters; this optimizer has 2999");
  descent_optimizer_free(other);
  other = NULL;
done_blob:
  free(blob);
done:
  descent_optimizer_free(opt);
  free(p), free(g);
}

/* With no parameters the vectors are empty, so a blob can claim the other
   precision and still be well-formed: it is refused by name. */
static void check_precision_refused(void) {
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "adam", NULL, 0));
  if (!opt) return;
  size_t size;
  unsigned char *blob = save(opt, &size);
  if (blob) {
    write_le(blob + 12, sizeof(descent_real) == 4 ? 8 : 4, 4);
    reseal(blob, size);
    CHECK_FAILS(descent_optimizer_load_state(opt, blob, size), DESCENT_EINVAL,
                sizeof(descent_real) == 4 ? "saved by the double build of descent; this is the "
                                            "float build"
                                          : "saved by the float build of descent; this is the "
                                            "double build");
  }
  free(blob);
  descent_optimizer_free(opt);
}

/* ---- schedule-free's two points ------------------------------------------ */

/* descent_optimizer_eval then _train gives back the training point bit for
   bit (the inverse move alone rounds twice), also through a state saved in
   evaluation mode and loaded into a fresh optimizer; a parameter changed in
   evaluation mode goes back by the reference's formula, y = x + (1 - mu)(z - x). */
static void check_eval_point(const char *spec, double mu, uint64_t version) {
  size_t n = N_PARAMS;
  descent_real *p = calloc(n, sizeof *p), *g = calloc(n, sizeof *g), *y = calloc(n, sizeof *y),
               *x = calloc(n, sizeof *x);
  descent_optimizer *a = NULL, *c = NULL;
  CHECK_OK(descent_optimizer_create(&a, spec, NULL, n));
  if (!p || !g || !y || !x || !a) goto done;
  init_params(p, n);
  CHECK_OK(run_steps(a, p, g, n, 7));
  memcpy(y, p, n * sizeof *p);
  descent_objective obj = {.n_params = n, .params = p, .grad = g};
  CHECK_OK(descent_optimizer_eval(a, &obj));
  memcpy(x, p, n * sizeof *p);
  size_t moved = 0;
  for (size_t i = 0; i < n; i++) moved += x[i] != y[i];
  CHECK_MSG(moved > n / 2, "%s: eval moved %zu of %zu parameters", spec, moved, n);
  CHECK_OK(descent_optimizer_train(a, &obj));
  CHECK_MSG(memcmp(p, y, n * sizeof *p) == 0, "%s: eval then train changed the training point",
            spec);

  /* Through a blob saved in evaluation mode. */
  CHECK_OK(descent_optimizer_eval(a, &obj));
  size_t size;
  unsigned char *blob = save(a, &size);
  CHECK_OK(descent_optimizer_create(&c, spec, NULL, n));
  if (blob && c) {
    CHECK_MSG(read_le(blob + 8, 4) == version, "%s: format version %llu, expected %llu", spec,
              (unsigned long long)read_le(blob + 8, 4), (unsigned long long)version);
    CHECK_OK(descent_optimizer_load_state(c, blob, size));
    CHECK_OK(descent_optimizer_train(c, &obj));
    CHECK_MSG(memcmp(p, y, n * sizeof *p) == 0,
              "%s: train after loading a state saved in evaluation mode changed the training "
              "point",
              spec);
    CHECK_OK(descent_optimizer_train(a, &obj)); /* a back in training mode too */
  }
  free(blob);

  /* A parameter changed in evaluation mode: the formula, not the kept bits. */
  memcpy(p, y, n * sizeof *p);
  CHECK_OK(descent_optimizer_eval(a, &obj));
  size_t k = 4097; /* in the third block */
  double z = (double)y[k] + ((double)x[k] - (double)y[k]) / (1 - 1 / mu);
  p[k] = (descent_real)1.5;
  CHECK_OK(descent_optimizer_train(a, &obj));
  double want = 1.5 + (1 - mu) * (z - 1.5);
  CHECK_MSG(fabs((double)p[k] - want) <= 1e-4 * (fabs(want) + 1),
            "%s: a parameter changed in evaluation mode went back to %.9g, formula %.9g", spec,
            (double)p[k], want);
  p[k] = y[k];
  CHECK_MSG(memcmp(p, y, n * sizeof *p) == 0, "%s: the unchanged parameters lost their bits", spec);
done:
  descent_optimizer_free(a);
  descent_optimizer_free(c);
  free(p), free(g), free(y), free(x);
}

/* Three tensors of N_PARAMS, none a whole number of blocks or slices. */
static descent_tensor_info three_tensors[] = {
    {"layer1.weight", 0, 4000, {2, {40, 100}}},
    {"layer1.bias", 4000, 7, {1, {7}}},
    {"layer2.weight", 4007, 993, {3, {3, 331, 1}}},
};

/* Per-tensor chains on the table above: the optimizers that step take it
   from the objective; the one that loads the state, from the state. */
static void check_layout_round_trips(void) {
  static const struct {
    const char *spec, *lr;
  } per_tensor[] = {
      {"lamb", NULL},
      {"lamb(b1=0.8, eps_root=1e-9, weight_decay=0.01)", "cosine(1e-2, 20, warmup=3)"},
      {"lars", "0.5"},
      {"lars(weight_decay=1e-3, nesterov=1, eps=1e-9)", "0.3"},
      {"lars(momentum=0)", "0.3"},
      {"clip(1) | optax_adam | trust_ratio(min_norm=0.1) | clip(0.5) | trust_ratio", "1e-3"},
      {"novograd", "0.01"},
      {"novograd(b1=0.8, b2=0.6, eps=1e-8, weight_decay=0.1)", "0.02"},
      {"clip(1) | novograd | trust_ratio", "1e-3"},
      {"adafactor", NULL},
      {"adafactor(weight_decay=0.1, d=1.5, eps1=1e-3)", "cosine(0.05, 20, warmup=3)"},
      {"soap(precondition_frequency=2, precondition_1d=1)", "0.01"},
      {"soap(precondition_frequency=3, max_precond_dim=50, normalize_grads=1)",
       "cosine(0.01, 20, warmup=3)"},
  };
  static const int halves[] = {0, 1, 4};
  objective_tensors = three_tensors;
  objective_n_tensors = 3;
  for (size_t i = 0; i < sizeof per_tensor / sizeof per_tensor[0]; i++)
    for (size_t h = 0; h < sizeof halves / sizeof halves[0]; h++)
      check_round_trip(per_tensor[i].spec, per_tensor[i].lr, halves[h], 0);
  objective_tensors = NULL;
  objective_n_tensors = 0;
}

/* Matrices only, for whole-tensor chains (muon): a dense weight, a conv
   kernel (read as 3 x 331) and a tall matrix. */
static descent_tensor_info matrix_tensors[] = {
    {"layer1.weight", 0, 4000, {2, {40, 100}}},
    {"conv.weight", 4000, 993, {4, {3, 331, 1, 1}}},
    {"layer2.weight", 4993, 7, {2, {7, 1}}},
};

static void check_whole_tensor_round_trips(void) {
  static const struct {
    const char *spec, *lr;
  } whole[] = {
      {"muon", NULL},
      {"muon(nesterov=0, adjust_lr=2, weight_decay=0)", "0.02"},
      {"muon(adjust_lr=1, ns_steps=2)", "cosine(0.02, 20, warmup=3)"},
      {"clip(1) | muon_momentum(0.9) | newton_schulz(steps=3) | wd(0.1) | lr(0.01)", NULL},
      {"adafactor", NULL},
      {"clip(1) | adafactor(beta2_decay=-0.5, weight_decay=0.01, lr=0.02)", NULL},
      /* blocks of 64 and fewer: the 100 and 993 long dimensions are cut */
      {"shampoo(max_preconditioner_dim=64, grafting=4)", NULL},
      {"shampoo(max_preconditioner_dim=32, b1=0, b2=0.99, grafting=2, precondition_frequency=2, "
       "weight_decay=0.01)",
       "cosine(0.02, 20, warmup=3)"},
      {"clip(1) | shampoo(max_preconditioner_dim=48, grafting=1, exponent=0.25, merge_dims=0) | "
       "momentum(0.9, nesterov=1) | lr(0.01)",
       NULL},
      {"soap", NULL},
      {"clip(1) | soap(precondition_frequency=2, shampoo_beta=0.5, correct_bias=0, lr=0.005)",
       NULL},
  };
  static const int halves[] = {0, 1, 4};
  objective_tensors = matrix_tensors;
  objective_n_tensors = 3;
  for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++)
    for (size_t h = 0; h < sizeof halves / sizeof halves[0]; h++)
      check_round_trip(whole[i].spec, whole[i].lr, halves[h], 0);
  objective_tensors = NULL;
  objective_n_tensors = 0;
}

/* A per-tensor chain's blob (version 3) records its layout: loading it into
   an optimizer with another layout is refused, into one without a layout
   gives it the saved one. */
static void check_layout_recorded(void) {
  size_t n = N_PARAMS;
  descent_real *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
  descent_optimizer *opt = NULL, *other = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "lamb", NULL, n));
  if (!opt || !p || !g) goto done;
  init_params(p, n);
  CHECK_OK(descent_optimizer_set_tensors(opt, three_tensors, 3));
  CHECK_OK(run_steps(opt, p, g, n, 2));
  size_t size;
  unsigned char *blob = save(opt, &size);
  if (!blob) goto done;
  CHECK(read_le(blob + 8, 4) == 3);
  CHECK(read_le(blob + size - 8 - 3 * 100 - 8, 8) == 3); /* the layout's count */
  CHECK(memcmp(blob + size - 8 - 3 * 100 + 20 + 32, "layer1.weight", 14) == 0);

  /* Cut anywhere, or with a damaged layout (resealed): refused, unchanged. */
  descent_optimizer *fresh = NULL;
  CHECK_OK(descent_optimizer_create(&fresh, "lamb", NULL, n));
  for (size_t cut = 0; fresh && cut < size; cut += cut < size - 400 ? 4099 : 7)
    CHECK(descent_optimizer_load_state(fresh, blob, cut) == DESCENT_EFORMAT);
  unsigned char *layout = blob + size - 8 - 3 * 100;
  write_le(layout - 8, 1000, 8);
  reseal(blob, size);
  if (fresh)
    CHECK_FAILS(descent_optimizer_load_state(fresh, blob, size), DESCENT_EFORMAT,
                "truncated inside the layout of tensors");
  write_le(layout - 8, 3, 8);
  write_le(layout + 16, 9, 4); /* ndim */
  reseal(blob, size);
  if (fresh)
    CHECK_FAILS(descent_optimizer_load_state(fresh, blob, size), DESCENT_EINVAL,
                "its layout: tensor 0 (layer1.weight): its shape's ndim");
  write_le(layout + 16, 2, 4);
  write_le(layout + 100, 3999, 8); /* tensor 1's offset */
  reseal(blob, size);
  if (fresh)
    CHECK_FAILS(descent_optimizer_load_state(fresh, blob, size), DESCENT_EINVAL,
                "it overlaps the previous one");
  write_le(layout + 100, 4000, 8);
  reseal(blob, size);
  if (fresh) {
    size_t none = 9;
    CHECK(descent_optimizer_steps(fresh) == 0 && !descent_optimizer_tensors(fresh, &none) &&
          none == 0);
    CHECK_OK(descent_optimizer_load_state(fresh, blob, size));
  }
  descent_optimizer_free(fresh);

  descent_tensor_info moved[3];
  memcpy(moved, three_tensors, sizeof moved);
  moved[0].size = moved[0].shape.dims[1] = 4001, moved[0].shape.dims[0] = 1;
  moved[1].offset = 4001, moved[1].size = moved[1].shape.dims[0] = 6;
  CHECK_OK(descent_optimizer_create(&other, "lamb", NULL, n));
  if (!other) goto done_blob;
  CHECK_OK(descent_optimizer_set_tensors(other, moved, 3));
  CHECK_FAILS(descent_optimizer_load_state(other, blob, size), DESCENT_EINVAL,
              "tensor 0 is layer1.weight at 0, 4000 elements, shape 40x100 in the saved state "
              "but layer1.weight at 0, 4001 elements, shape 1x4001 here");
  CHECK(descent_optimizer_steps(other) == 0);
  descent_optimizer_free(other);
  other = NULL;

  /* No layout: the saved one is taken, and a different one then refused. */
  CHECK_OK(descent_optimizer_create(&other, "lamb", NULL, n));
  if (!other) goto done_blob;
  CHECK_OK(descent_optimizer_load_state(other, blob, size));
  size_t count = 0;
  const descent_tensor_info *got = descent_optimizer_tensors(other, &count);
  CHECK(count == 3 && got && got[2].offset == 4007 && got[2].shape.ndim == 3 &&
        strcmp(got[2].name, "layer2.weight") == 0);
  CHECK_OK(descent_optimizer_set_tensors(other, three_tensors, 3));
  CHECK_FAILS(descent_optimizer_set_tensors(other, moved, 3), DESCENT_EINVAL,
              "has taken 2 steps with another layout (tensor 0 differs)");

  /* A flat chain's blob stays version 1, with or without a layout. */
  descent_optimizer *flat = NULL;
  CHECK_OK(descent_optimizer_create(&flat, "adam", NULL, n));
  if (flat) {
    CHECK_OK(descent_optimizer_set_tensors(flat, three_tensors, 3));
    CHECK(!descent_optimizer_uses_tensors(flat));
    size_t flat_size;
    unsigned char *flat_blob = save(flat, &flat_size);
    CHECK(flat_blob && read_le(flat_blob + 8, 4) == 1);
    free(flat_blob);
    descent_optimizer_free(flat);
  }
done_blob:
  free(blob);
done:
  descent_optimizer_free(opt);
  descent_optimizer_free(other);
  free(p), free(g);
}

/* A chain that keeps values per tensor (novograd's second moment) saves
   them after its layout (version 7): one per tensor, refused when their
   count does not fit the layout. */
static void check_kept_recorded(void) {
  size_t n = N_PARAMS;
  descent_real *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
  descent_optimizer *opt = NULL, *fresh = NULL;
  unsigned char *blob = NULL, *empty = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "novograd", NULL, n));
  CHECK_OK(descent_optimizer_create(&fresh, "novograd", NULL, n));
  if (!opt || !fresh || !p || !g) goto done;
  /* Before the first step there is no layout: nothing kept (V = 0). */
  size_t empty_size;
  empty = save(opt, &empty_size);
  CHECK(empty && read_le(empty + 8, 4) == 7 && read_le(empty + empty_size - 16, 8) == 0);
  init_params(p, n);
  CHECK_OK(descent_optimizer_set_tensors(opt, three_tensors, 3));
  CHECK_OK(run_steps(opt, p, g, n, 3));
  size_t size;
  blob = save(opt, &size);
  if (!blob) goto done;
  unsigned char *kept = blob + size - 8 - 3 * 8;
  CHECK(read_le(blob + 8, 4) == 7 && read_le(kept - 8, 8) == 3);
  for (int k = 0; k < 3; k++) {
    double nu;
    uint64_t bits = read_le(kept + 8 * k, 8);
    memcpy(&nu, &bits, 8);
    CHECK_MSG(nu > 0 && isfinite(nu), "tensor %d's second moment %g", k, nu);
  }
  if (empty) CHECK_OK(descent_optimizer_load_state(fresh, empty, empty_size));
  write_le(kept - 8, 2, 8);
  reseal(blob, size);
  CHECK_FAILS(descent_optimizer_load_state(fresh, blob, size), DESCENT_EFORMAT, "trailing bytes");
  write_le(kept - 8, 1000, 8);
  reseal(blob, size);
  CHECK_FAILS(descent_optimizer_load_state(fresh, blob, size), DESCENT_EFORMAT,
              "truncated inside the values kept per tensor");
  /* A blob that says version 3 (no values kept) is not one for novograd. */
  write_le(kept - 8, 3, 8);
  write_le(blob + 8, 3, 4);
  reseal(blob, size);
  CHECK_FAILS(descent_optimizer_load_state(fresh, blob, size), DESCENT_EFORMAT, "trailing bytes");
  write_le(blob + 8, 7, 4);
  reseal(blob, size);
  CHECK_OK(descent_optimizer_load_state(fresh, blob, size));
  CHECK(descent_optimizer_steps(fresh) == 3);
  /* After steps, a blob without the values is corrupted. */
  if (empty) {
    write_le(empty + 24, 3, 8); /* steps */
    reseal(empty, empty_size);
    CHECK_FAILS(descent_optimizer_load_state(fresh, empty, empty_size), DESCENT_EFORMAT,
                "no values kept per tensor after 3 steps");
  }
done:
  free(blob), free(empty);
  descent_optimizer_free(opt);
  descent_optimizer_free(fresh);
  free(p), free(g);
}

/* A whole-tensor transform that keeps state of its own size per tensor
   (adafactor: R + C factors per matrix, n numbers for a 1-D tensor) saves it
   after the layout (version 9), as many numbers as the layout asks for:
   refused when their count does not fit it. */
static void check_tensor_state_recorded(void) {
  size_t n = N_PARAMS, rs = sizeof(descent_real);
  /* three_tensors: 40x100 (40 + 100), 7 (7), 3x331x1 (3 x (331 + 1)). */
  const size_t expected = 140 + 7 + 3 * 332;
  descent_real *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
  descent_optimizer *opt = NULL, *fresh = NULL;
  unsigned char *blob = NULL, *empty = NULL, *cut = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "adafactor", NULL, n));
  CHECK_OK(descent_optimizer_create(&fresh, "adafactor", NULL, n));
  if (!opt || !fresh || !p || !g) goto done;
  /* Before the first step there is no layout: no state (W = 0). */
  size_t empty_size;
  empty = save(opt, &empty_size);
  CHECK(empty && read_le(empty + 8, 4) == 9 && read_le(empty + empty_size - 16, 8) == 0);
  init_params(p, n);
  CHECK_OK(descent_optimizer_set_tensors(opt, three_tensors, 3));
  CHECK_OK(run_steps(opt, p, g, n, 3));
  size_t size;
  blob = save(opt, &size);
  if (!blob) goto done;
  unsigned char *state = blob + size - 8 - expected * rs;
  CHECK(read_le(blob + 8, 4) == 9 && read_le(state - 8, 8) == expected);
  /* The factors are means of squares: never negative, and positive but
     where every gradient they average was zero (a 1-wide row of an
     element whose gradient the test keeps at zero). */
  size_t positive = 0, negative = 0;
  for (size_t k = 0; k < expected; k++) {
    descent_real v;
    uint64_t bits = read_le(state + rs * k, (int)rs);
    memcpy(&v, &bits, rs);
    positive += v > 0 && isfinite(v);
    negative += !(v >= 0);
  }
  CHECK_MSG(negative == 0 && positive > expected * 9 / 10,
            "adafactor's %zu factors: %zu positive, %zu negative or NaN", expected, positive,
            negative);
  /* The state takes what Adam's two slots would not: far less than 2n. */
  CHECK(descent_optimizer_state_size(opt) < n * rs);
  if (empty) CHECK_OK(descent_optimizer_load_state(fresh, empty, empty_size));
  write_le(state - 8, expected - 1, 8);
  reseal(blob, size);
  CHECK_FAILS(descent_optimizer_load_state(fresh, blob, size), DESCENT_EFORMAT, "trailing bytes");
  write_le(state - 8, expected * 1000, 8);
  reseal(blob, size);
  CHECK_FAILS(descent_optimizer_load_state(fresh, blob, size), DESCENT_EFORMAT,
              "truncated inside the state kept per tensor");
  /* One number short, consistently: not what the layout asks for. */
  cut = malloc(size - rs);
  if (cut) {
    memcpy(cut, blob, size - 8 - rs);
    write_le(cut + (state - blob) - 8, expected - 1, 8);
    reseal(cut, size - rs);
    CHECK_FAILS(descent_optimizer_load_state(fresh, cut, size - rs), DESCENT_EFORMAT,
                "asks for 1143");
  }
  /* A blob that says version 7 (values kept, no state) is not adafactor's. */
  write_le(state - 8, expected, 8);
  write_le(blob + 8, 7, 4);
  reseal(blob, size);
  CHECK(descent_optimizer_load_state(fresh, blob, size) == DESCENT_EFORMAT);
  write_le(blob + 8, 9, 4);
  reseal(blob, size);
  CHECK_OK(descent_optimizer_load_state(fresh, blob, size));
  CHECK(descent_optimizer_steps(fresh) == 3);
  /* The same bits on: the loaded factors step as the kept ones. */
  descent_real *q = malloc(n * sizeof *q);
  if (q) {
    memcpy(q, p, n * sizeof *q);
    CHECK_OK(run_steps(opt, p, g, n, 2));
    CHECK_OK(run_steps(fresh, q, g, n, 2));
    CHECK(memcmp(p, q, n * sizeof *q) == 0);
    free(q);
  }
  /* After steps, a blob without the state is corrupted. */
  if (empty) {
    write_le(empty + 24, 3, 8); /* steps */
    reseal(empty, empty_size);
    CHECK_FAILS(descent_optimizer_load_state(fresh, empty, empty_size), DESCENT_EFORMAT,
                "no state kept per tensor after 3 steps");
  }
done:
  free(blob), free(empty), free(cut);
  descent_optimizer_free(opt);
  descent_optimizer_free(fresh);
  free(p), free(g);
}

/* SOAP's state per tensor: GG_i then Q_i for each dimension with a factor
   (2 sum d_i^2 numbers), saved after the layout. After refreshes (power
   iteration and QR, every 2 steps) each saved Q_i is orthonormal and each
   GG_i symmetric with a non-negative diagonal: the eigenbases and factors,
   not their transposes or another slice of the state. */
static void check_soap_state_recorded(void) {
  size_t n = N_PARAMS, rs = sizeof(descent_real);
  /* three_tensors: 40x100 (40^2 + 100^2), 7 (7^2: precondition_1d), 3x331x1
     (3^2 + 331^2 + 1^2), each twice. */
  const size_t dims[] = {40, 100, 7, 3, 331, 1};
  size_t expected = 0;
  for (size_t i = 0; i < 6; i++) expected += 2 * dims[i] * dims[i];
  descent_real *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), *x = NULL;
  descent_optimizer *opt = NULL;
  unsigned char *blob = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "soap(precondition_frequency=2, precondition_1d=1)",
                                    "0.01", n));
  if (!opt || !p || !g) goto done;
  init_params(p, n);
  CHECK_OK(descent_optimizer_set_tensors(opt, three_tensors, 3));
  CHECK_OK(run_steps(opt, p, g, n, 5));
  size_t size;
  blob = save(opt, &size);
  if (!blob) goto done;
  unsigned char *state = blob + size - 8 - expected * rs;
  CHECK_MSG(read_le(state - 8, 8) == expected, "soap's state: %llu numbers saved, %zu expected",
            (unsigned long long)read_le(state - 8, 8), expected);
  x = malloc(expected * rs);
  if (!x) goto done;
  memcpy(x, state, expected * rs); /* little-endian machines only, as read_le's callers */
  const double tol = sizeof(descent_real) == 8 ? 1e-12 : 1e-5;
  size_t at = 0;
  for (size_t i = 0; i < 6; i++) {
    size_t d = dims[i];
    const descent_real *gg = x + at, *q = gg + d * d;
    double worst_sym = 0, worst_orth = 0, least_diag = INFINITY, scale = 0;
    for (size_t r = 0; r < d; r++)
      for (size_t c = 0; c < d; c++) scale = fmax(scale, fabs((double)gg[r * d + c]));
    for (size_t r = 0; r < d; r++) {
      least_diag = fmin(least_diag, (double)gg[r * d + r]);
      for (size_t c = 0; c < d; c++) {
        worst_sym = fmax(worst_sym, fabs((double)gg[r * d + c] - (double)gg[c * d + r]));
        double dot = 0;
        for (size_t k = 0; k < d; k++) dot += (double)q[k * d + r] * (double)q[k * d + c];
        worst_orth = fmax(worst_orth, fabs(dot - (r == c)));
      }
    }
    CHECK_MSG(scale > 0 && worst_sym <= tol * scale && least_diag >= 0,
              "soap's factor %zu (%zu x %zu): largest |GG - GG^T| %g of %g, least diagonal %g", i,
              d, d, worst_sym, scale, least_diag);
    CHECK_MSG(worst_orth <= tol * (double)d, "soap's basis %zu (%zu x %zu): |Q^T Q - I| reaches %g",
              i, d, d, worst_orth);
    at += 2 * d * d;
  }
done:
  free(blob), free(x);
  descent_optimizer_free(opt);
  free(p), free(g);
}

int main(void) {
  check_round_trips();
  check_layout_and_refusals();
  check_eval_point("sf_sgd(momentum=0.9)", 0.9, 4);
  check_eval_point("sf_adamw(b1=0.95)", 0.95, 4);
  /* A per-tensor chain in evaluation mode: its layout and its training point. */
  check_eval_point("trust_ratio | sf(lr=0.01, momentum=0.9)", 0.9, 5);
  check_eval_point("novograd | sf(lr=0.01, momentum=0.9)", 0.9, 8);
  check_precision_refused();
  check_layout_round_trips();
  check_whole_tensor_round_trips();
  check_layout_recorded();
  check_tensor_state_recorded();
  check_soap_state_recorded();
  check_kept_recorded();
  return check_report();
}
