/*
 * test_optim_custom.c - transforms registered by the program
 * (descent_transform_register).
 *
 * Custom re-implementations of built-in transforms (heavy-ball momentum,
 * Adagrad with its initial accumulator) give the built-ins' steps bit for
 * bit, alone and inside chains with a global transform; a global custom
 * transform's reduction covers the whole update; the state vectors and scalars of a custom
 * transform go through the state blob (a resume continues bit for bit); specs
 * name the valid keys and ranges; the help lists the transform; a blob that
 * holds it is refused by an optimizer without it, and one from a program
 * that registered a transform this one lacks says so; invalid definitions
 * are refused with their reasons; registrations from several threads all
 * land.
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */

#include "check.h"

#include <pthread.h>
#include <stdlib.h>

#ifdef DESCENT_DOUBLE
#define SQRT sqrt
#else
#define SQRT sqrtf
#endif

typedef descent_real real;

#define N_PARAMS 4500

/* ---- the custom transforms ------------------------------------------------ */

/* Heavy-ball momentum as the built-in momentum(nesterov=0): the buffer
   starts as the first update, undamped. */
static void heavyball_update(const double *hp, const double *scalars, real *const *state, real *u,
                             const real *params, size_t n, int64_t step) {
  real *b = state[0];
  const real keep = (real)(step == 0 ? 0 : hp[0]), take = (real)(step == 0 ? 1 : 1 - hp[1]);
  for (size_t i = 0; i < n; i++) {
    b[i] = b[i] * keep + take * u[i];
    u[i] = b[i];
  }
}

static const descent_transform_param heavyball_params[] = {
    {"momentum", DESCENT_PARAM_NUMBER, 0.9, 0, 1, 0, 1, 0, "momentum factor mu"},
    {"dampening", DESCENT_PARAM_NUMBER, 0, 0, 1, 0, 0, 0, "dampening of the incoming update"},
};

static const descent_transform_def heavyball = {
    .name = "heavyball",
    .summary = "heavy-ball momentum, written by the test",
    .formula = "b <- mu b + (1 - dampening) u (b_1 = u_1);  u <- b",
    .params = heavyball_params,
    .n_params = 2,
    .n_state = 1,
    .update = heavyball_update,
};

/* Adagrad as the built-in: the accumulator starts at a value of its own
   (init_state), the rate's decay is a per-step scalar (begin). */
static void my_adagrad_init(const double *hp, const real *params, real *const *state, size_t n) {
  for (size_t i = 0; i < n; i++) state[0][i] = (real)hp[1];
}

static void my_adagrad_begin(const double *hp, double *scalars, int64_t step) {
  scalars[0] = 1 / (1 + (double)step * hp[0]);
}

static void my_adagrad_update(const double *hp, const double *scalars, real *const *state, real *u,
                              const real *params, size_t n, int64_t step) {
  real *s = state[0];
  const real eps = (real)hp[2], decay = (real)scalars[0];
  for (size_t i = 0; i < n; i++) {
    s[i] = s[i] + u[i] * u[i];
    u[i] = u[i] / (SQRT(s[i]) + eps) * decay;
  }
}

static const descent_transform_param my_adagrad_params[] = {
    {"lr_decay", DESCENT_PARAM_NUMBER, 0, 0, INFINITY, 0, 0, 0, NULL},
    {"initial_accumulator_value", DESCENT_PARAM_NUMBER, 0, 0, INFINITY, 0, 0, 0, NULL},
    {"eps", DESCENT_PARAM_NUMBER, 1e-10, 0, INFINITY, 1, 0, 0, NULL},
};

static const descent_transform_def my_adagrad = {
    .name = "my_adagrad",
    .summary = "Adagrad, written by the test",
    .params = my_adagrad_params,
    .n_params = 3,
    .n_state = 1,
    .n_scalars = 1,
    .init_state = my_adagrad_init,
    .begin = my_adagrad_begin,
    .update = my_adagrad_update,
};

/* Momentum whose factor ramps up with the steps seen, counted in a
   persistent scalar: a resume that lost the scalar would take other steps. */
static void ramp_begin(const double *hp, double *scalars, int64_t step) {
  scalars[0] += 1;
}

static void ramp_update(const double *hp, const double *scalars, real *const *state, real *u,
                        const real *params, size_t n, int64_t step) {
  const real mu = (real)(hp[0] * scalars[0] / (scalars[0] + hp[1]));
  for (size_t i = 0; i < n; i++) {
    state[0][i] = mu * state[0][i] + u[i];
    state[1][i] = state[1][i] > u[i] ? state[1][i] : u[i];
    u[i] = state[0][i] + (real)0.01 * state[1][i];
  }
}

static const descent_transform_param ramp_params[] = {
    {"beta", DESCENT_PARAM_NUMBER, 0.9, 0, 1, 0, 1, 0, "final momentum"},
    {"steps", DESCENT_PARAM_INTEGER, 0, 1, INFINITY, 0, 0, 1, "steps to reach half of it"},
};

/* Ramping needs a momentum to ramp: refuses beta = 0 (its range allows it). */
static int ramp_validate(const double *hp, char *why, size_t cap) {
  if (hp[0] != 0) return 0;
  snprintf(why, cap, "beta=0 leaves nothing to ramp; use momentum-free sgd instead");
  return 1;
}

static const descent_transform_def ramp = {
    .name = "ramp",
    .summary = "momentum ramping up to beta, written by the test",
    .params = ramp_params,
    .n_params = 2,
    .n_state = 2,
    .n_scalars = 1,
    .validate = ramp_validate,
    .begin = ramp_begin,
    .update = ramp_update,
};

/* Global: divides the update by the number of its non-zero coordinates
   over the whole buffer (a count, exact in any order of summation, so the
   reference below can check it; a count per block would differ). */
static double density_reduce(const double *hp, const real *u, size_t n) {
  double count = 0;
  for (size_t i = 0; i < n; i++) count += u[i] != 0;
  return count;
}

static void density_finish(const double *hp, double *scalars, double total) {
  scalars[0] = total;
}

static void density_update(const double *hp, const double *scalars, real *const *state, real *u,
                           const real *params, size_t n, int64_t step) {
  const real inv = (real)(hp[0] / scalars[0]);
  for (size_t i = 0; i < n; i++) u[i] *= inv;
}

static const descent_transform_param density_params[] = {
    {"scale", DESCENT_PARAM_NUMBER, 1, 0, INFINITY, 1, 0, 0, "factor"},
};

static const descent_transform_def density = {
    .name = "density",
    .summary = "divide by the count of non-zero coordinates, written by the test",
    .params = density_params,
    .n_params = 1,
    .n_scalars = 1,
    .global = 1,
    .reduce = density_reduce,
    .finish = density_finish,
    .update = density_update,
};

/* ---- helpers --------------------------------------------------------------- */

static void gradient(const real *p, real *g, size_t n, int64_t step) {
  for (size_t i = 0; i < n; i++) {
    double noise = sin(0.29 * (double)(i + 1) + 0.7 * (double)step);
    g[i] = (real)((0.2 + (double)(i % 5)) * ((double)p[i] - 0.25) + 0.4 * noise);
    if (i % 23 == 0) g[i] = 0;
  }
}

static void init_params(real *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = (real)(((double)(i % 97) - 48) / 24);
}

static int run(descent_optimizer *opt, real *p, real *g, size_t n, int steps) {
  for (int k = 0; k < steps; k++) {
    gradient(p, g, n, descent_optimizer_steps(opt));
    int rc = descent_optimizer_step_buffers(opt, p, g, n);
    if (rc) return rc;
  }
  return DESCENT_OK;
}

static unsigned char *save(const descent_optimizer *opt, size_t *size) {
  *size = descent_optimizer_state_size(opt);
  unsigned char *blob = malloc(*size);
  if (blob) CHECK_OK(descent_optimizer_save_state(opt, blob, *size));
  return blob;
}

/* ---- the checks ------------------------------------------------------------ */

static void check_registration(void) {
  CHECK_OK(descent_transform_register(&heavyball));
  CHECK_OK(descent_transform_register(&my_adagrad));
  CHECK_OK(descent_transform_register(&ramp));
  CHECK_OK(descent_transform_register(&density));
  CHECK_FAILS(descent_transform_register(&heavyball), DESCENT_EINVAL,
              "transform 'heavyball' is already registered; register each name once");
}

/* The custom chain and the built-in one take the same steps. */
static void check_same_as_builtin(const char *custom, const char *builtin, int steps) {
  size_t n = N_PARAMS;
  real *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb), *g = malloc(n * sizeof *g);
  descent_optimizer *a = NULL, *b = NULL;
  CHECK_OK(descent_optimizer_create(&a, custom, NULL, n));
  CHECK_OK(descent_optimizer_create(&b, builtin, NULL, n));
  if (a && b && pa && pb && g) {
    init_params(pa, n);
    init_params(pb, n);
    CHECK_OK(run(a, pa, g, n, steps));
    CHECK_OK(run(b, pb, g, n, steps));
    size_t differ = check_count_differences(pa, pb, n);
    CHECK_MSG(differ == 0, "%s: %zu of %zu parameters differ from %s after %d steps", custom,
              differ, n, builtin, steps);
  }
  descent_optimizer_free(a);
  descent_optimizer_free(b);
  free(pa), free(pb), free(g);
}

static void check_builtin_equivalents(void) {
  check_same_as_builtin("heavyball | lr(0.01)", "momentum | lr(0.01)", 15);
  check_same_as_builtin("heavyball(0.5, dampening=0.2) | lr(0.03)",
                        "momentum(0.5, dampening=0.2) | lr(0.03)", 15);
  check_same_as_builtin("clip(2) | heavyball(0.8) | wd(1e-2) | lr(cosine(0.05, 10, warmup=3))",
                        "clip(2) | momentum(0.8) | wd(1e-2) | lr(cosine(0.05, 10, warmup=3))", 15);
  check_same_as_builtin("my_adagrad(lr_decay=0.01, initial_accumulator_value=0.1) | lr(0.1)",
                        "adagrad(lr_decay=0.01, initial_accumulator_value=0.1) | lr(0.1)", 15);
  check_same_as_builtin("my_adagrad | heavyball | clip(1) | sf(lr=0.05)",
                        "adagrad | momentum | clip(1) | sf(lr=0.05)", 15);
}

/* density over several blocks: theta - lr scale g / count after one step. */
static void check_global(void) {
  size_t n = N_PARAMS, count = 0;
  real *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), *want = malloc(n * sizeof *want);
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, "density(3) | lr(0.5)", NULL, n));
  if (opt && p && g && want) {
    init_params(p, n);
    gradient(p, g, n, 0);
    for (size_t i = 0; i < n; i++) count += g[i] != 0;
    CHECK(count > n / 2 && count < n);
    for (size_t i = 0; i < n; i++) {
      real u = g[i] * (real)(3.0 / (double)count);
      u *= (real)-0.5;
      want[i] = p[i] + u;
    }
    CHECK_OK(descent_optimizer_step_buffers(opt, p, g, n));
    size_t differ = check_count_differences(p, want, n);
    CHECK_MSG(differ == 0, "density: %zu of %zu parameters differ from the reference", differ, n);
  }
  descent_optimizer_free(opt);
  free(p), free(g), free(want);
}

/* N steps, save, load into a fresh optimizer, N more == 2N steps; the
   states agree as well. */
static void check_resume(const char *spec, int half) {
  size_t n = N_PARAMS;
  real *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb), *g = malloc(n * sizeof *g);
  descent_optimizer *a = NULL, *b = NULL, *c = NULL;
  unsigned char *blob = NULL, *sa = NULL, *sc = NULL;
  CHECK_OK(descent_optimizer_create(&a, spec, NULL, n));
  CHECK_OK(descent_optimizer_create(&b, spec, NULL, n));
  CHECK_OK(descent_optimizer_create(&c, spec, NULL, n));
  if (!a || !b || !c || !pa || !pb || !g) goto done;
  init_params(pa, n);
  init_params(pb, n);
  CHECK_OK(run(a, pa, g, n, 2 * half));
  CHECK_OK(run(b, pb, g, n, half));
  size_t size, size_a, size_c;
  blob = save(b, &size);
  if (!blob) goto done;
  CHECK_OK(descent_optimizer_load_state(c, blob, size));
  CHECK_OK(run(c, pb, g, n, half));
  size_t differ = check_count_differences(pa, pb, n);
  CHECK_MSG(differ == 0, "%s: %zu of %zu parameters differ after resuming", spec, differ, n);
  sa = save(a, &size_a);
  sc = save(c, &size_c);
  CHECK_MSG(sa && sc && size_a == size_c && memcmp(sa, sc, size_a) == 0,
            "%s: the state after resuming differs", spec);
done:
  free(blob), free(sa), free(sc);
  descent_optimizer_free(a);
  descent_optimizer_free(b);
  descent_optimizer_free(c);
  free(pa), free(pb), free(g);
}

static void check_specs(void) {
  descent_optimizer *opt = (descent_optimizer *)1;
  CHECK_FAILS(
      descent_optimizer_create(&opt, "heavyball(beta=0.9) | lr(0.01)", NULL, 4), DESCENT_EINVAL,
      "optimizer: heavyball has no parameter 'beta'; valid parameters: momentum, dampening");
  CHECK(opt == NULL);
  CHECK_FAILS(descent_optimizer_create(&opt, "heavyball(momentum=1) | lr(0.01)", NULL, 4),
              DESCENT_EINVAL, "heavyball(momentum=1): out of range; valid values are [0, 1)");
  CHECK_FAILS(descent_optimizer_create(&opt, "ramp | lr(0.01)", NULL, 4), DESCENT_EINVAL,
              "ramp needs a value for 'steps'");
  CHECK_FAILS(descent_optimizer_create(&opt, "ramp(steps=2.5) | lr(0.01)", NULL, 4), DESCENT_EINVAL,
              "ramp(steps=2.5): must be a whole number");
  CHECK_FAILS(descent_optimizer_create(&opt, "clip(1) | ramp(0, steps=2) | lr(0.01)", NULL, 4),
              DESCENT_EINVAL,
              "optimizer: ramp: beta=0 leaves nothing to ramp; use momentum-free sgd instead");
  CHECK_FAILS(descent_optimizer_create(&opt, "heavybal | lr(0.01)", NULL, 4), DESCENT_EINVAL,
              "transforms: clip, clip_value, l2, momentum, adagrad, rmsprop, adam, lion, wd, sf, "
              "lr, optax_adam, trust_ratio, heavyball, my_adagrad, ramp, density");
  CHECK(opt == NULL);

  /* A lone custom name is a chain of one; the rate comes from lr. */
  CHECK_OK(descent_optimizer_create(&opt, "heavyball(0.5)", "0.2", 4));
  if (opt && opt != (descent_optimizer *)1) {
    char text[256];
    descent_optimizer_describe(opt, text, sizeof text);
    CHECK_MSG(strcmp(text, "heavyball(momentum=0.5, dampening=0) | lr(lr=0.2)") == 0,
              "describe: %s", text);
    double value = 0;
    CHECK_OK(descent_optimizer_hyperparameter(opt, "heavyball.momentum", &value));
    CHECK(value == 0.5);
    descent_optimizer_free(opt);
  }
}

static void check_help(void) {
  char *text = NULL;
  size_t len = 0;
  FILE *out = open_memstream(&text, &len);
  if (!out) return;
  descent_optimizer_help(out);
  fclose(out);
  CHECK_MSG(strstr(text, "Transforms registered by this program:\n  heavyball    heavy-ball "
                         "momentum, written by the test\n"),
            "help lacks heavyball");
  CHECK(strstr(text, "b <- mu b + (1 - dampening) u (b_1 = u_1);") != NULL);
  CHECK(strstr(text, "momentum factor mu; default 0.9; range [0, 1)") != NULL);
  CHECK(strstr(text, "steps to reach half of it; required; range [1, inf)") != NULL);
  CHECK(strstr(text, "  density      divide by the count of non-zero coordinates") != NULL);
  free(text);
}

/* A blob with a custom transform, in an optimizer without it. */
static void check_foreign_blob(void) {
  size_t n = 16;
  real p[16], g[16];
  descent_optimizer *a = NULL, *b = NULL;
  CHECK_OK(descent_optimizer_create(&a, "heavyball(0.9) | lr(0.01)", NULL, n));
  CHECK_OK(descent_optimizer_create(&b, "momentum(0.9) | lr(0.01)", NULL, n));
  if (!a || !b) goto done;
  init_params(p, n);
  CHECK_OK(run(a, p, g, n, 2));
  size_t size;
  unsigned char *blob = save(a, &size);
  if (!blob) goto done;
  CHECK_FAILS(descent_optimizer_load_state(b, blob, size), DESCENT_EINVAL,
              "optimizer state is for another optimizer: transform 1 is 'heavyball(momentum=0.9, "
              "dampening=0)' in the saved state but 'momentum(momentum=0.9, dampening=0, "
              "nesterov=0)' here");
  CHECK(descent_optimizer_steps(b) == 0);
  /* As another program would save it: one that registered "heavybalx". */
  unsigned char *at = NULL;
  for (size_t i = 0; !at && i + 9 <= size; i++)
    if (memcmp(blob + i, "heavyball", 9) == 0) at = blob + i;
  CHECK(at != NULL);
  if (at) {
    at[8] = 'x';
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i + 8 < size; i++) h = (h ^ blob[i]) * 1099511628211ull;
    for (int i = 0; i < 8; i++) blob[size - 8 + i] = (unsigned char)(h >> (8 * i));
    CHECK_FAILS(descent_optimizer_load_state(a, blob, size), DESCENT_EINVAL,
                "'heavybalx' is not a transform of this program: register it "
                "(descent_transform_register) and build the optimizer with the saved chain");
  }
  CHECK(descent_optimizer_steps(a) == 2);
  free(blob);
done:
  descent_optimizer_free(a);
  descent_optimizer_free(b);
}

static void refused_def(const descent_transform_def *def, const char *needle) {
  CHECK_FAILS(descent_transform_register(def), DESCENT_EINVAL, needle);
}

static void check_invalid_definitions(void) {
  descent_transform_def d = heavyball;
  refused_def(NULL, "descent_transform_register: no definition (NULL)");
  d.name = "adam";
  refused_def(&d, "transform name 'adam' is a built-in transform; choose another");
  d.name = "sgd";
  refused_def(&d, "transform name 'sgd' is a named optimizer; choose another");
  d.name = "my-sign";
  refused_def(&d, "transform name 'my-sign' is not valid: use 1 to 31 letters, digits and '_', "
                  "starting with a letter");
  d.name = NULL;
  refused_def(&d, "transform name '(NULL)' is not valid");
  d.name = "_x";
  refused_def(&d, "transform name '_x' is not valid");
  d.name = "a_name_of_thirty_two_characters_";
  refused_def(&d, "is not valid: use 1 to 31");

  d = heavyball, d.name = "h2", d.update = NULL;
  refused_def(&d, "transform h2: update is missing (the step on a slice)");
  d = heavyball, d.name = "h2", d.summary = NULL;
  refused_def(&d, "transform h2: summary is missing");
  d = heavyball, d.name = "h2", d.n_state = 5;
  refused_def(&d, "transform h2: n_state is 5; use 0 to 4");
  d = heavyball, d.name = "h2", d.n_scalars = -1;
  refused_def(&d, "transform h2: n_scalars is -1; use 0 to 8");
  d = heavyball, d.name = "h2", d.n_params = 9;
  refused_def(&d, "transform h2: n_params is 9; use 0 to 8");
  d = heavyball, d.name = "h2", d.params = NULL;
  refused_def(&d, "transform h2: n_params is 2 and params is NULL");
  d = heavyball, d.name = "h2", d.global = 1;
  refused_def(&d, "transform h2: global = 1 needs both reduce and finish");
  d = heavyball, d.name = "h2", d.finish = density_finish;
  refused_def(&d, "reduce and finish run only for a global transform");

  descent_transform_param params[2] = {heavyball_params[0], heavyball_params[1]};
  d = heavyball, d.name = "h2", d.params = params;
  params[1].name = "momentum";
  refused_def(&d, "transform h2: parameter momentum appears twice");
  params[1] = heavyball_params[1], params[1].name = "2x";
  refused_def(&d, "transform h2: parameter name '2x' is not valid");
  params[1] = heavyball_params[1], params[1].def = 1.5;
  refused_def(&d, "transform h2: default 1.5 of parameter dampening is not a valid value ([0, 1]); "
                  "change the default or set required = 1");
  params[1] = heavyball_params[1], params[1].min = 2;
  refused_def(&d, "transform h2: parameter dampening has the range [2, 1]");
  params[1] = heavyball_params[1], params[1].max = NAN;
  refused_def(&d, "neither NaN");
  params[1] = heavyball_params[1], params[1].kind = DESCENT_PARAM_INTEGER, params[1].def = 0.5;
  refused_def(&d, "default 0.5 of parameter dampening is not a valid value (a whole number in");
  params[1] = heavyball_params[1], params[1].kind = (descent_param_kind)7;
  refused_def(&d, "parameter dampening has kind 7");
  params[1] = heavyball_params[1], params[0].def = 1;
  refused_def(&d, "default 1 of parameter momentum is not a valid value ([0, 1))");

  /* None of these was registered. */
  descent_optimizer *opt = NULL;
  CHECK_FAILS(descent_optimizer_create(&opt, "h2 | lr(0.1)", NULL, 4), DESCENT_EINVAL,
              "unknown optimizer or transform 'h2'");
}

/* Registrations from several threads at once all land. */
#define N_THREADS 4
static descent_transform_def threaded[N_THREADS];
static char threaded_names[N_THREADS][16];
static int threaded_status[N_THREADS];

static void *register_one(void *arg) {
  int i = (int)(intptr_t)arg;
  threaded_status[i] = descent_transform_register(&threaded[i]);
  return NULL;
}

static void check_threads(void) {
  pthread_t threads[N_THREADS];
  for (int i = 0; i < N_THREADS; i++) {
    snprintf(threaded_names[i], sizeof threaded_names[i], "thread%d", i);
    threaded[i] = heavyball;
    threaded[i].name = threaded_names[i];
  }
  int started = 0;
  for (; started < N_THREADS; started++)
    if (pthread_create(&threads[started], NULL, register_one, (void *)(intptr_t)started)) break;
  for (int i = 0; i < started; i++) pthread_join(threads[i], NULL);
  CHECK(started == N_THREADS);
  for (int i = 0; i < started; i++) {
    CHECK_MSG(threaded_status[i] == DESCENT_OK, "thread %d: %d", i, threaded_status[i]);
    char spec[64];
    snprintf(spec, sizeof spec, "%.15s | lr(0.1)", threaded_names[i]); /* names are under 16 */
    descent_optimizer *opt = NULL;
    CHECK_OK(descent_optimizer_create(&opt, spec, NULL, 4));
    descent_optimizer_free(opt);
  }
}

int main(void) {
  check_registration();
  check_builtin_equivalents();
  check_global();
  check_resume("ramp(steps=4) | my_adagrad(initial_accumulator_value=0.5) | lr(0.05)", 7);
  check_resume("density | heavyball | wd(0.1) | lr(cosine(0.2, 12))", 6);
  check_specs();
  check_help();
  check_foreign_blob();
  check_invalid_definitions();
  check_threads();
  return check_report();
}
