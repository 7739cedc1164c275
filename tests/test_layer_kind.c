/*
 * test_layer_kind.c - layer kinds a program registers (descent_layer_register),
 * used as a program would: through the public API only.
 *
 * Two kinds: "leaky", a leaky ReLU whose slope is a spec argument and whose
 * backward reads the factors its forward kept in scratch; and "scale", a
 * learned per-feature scale with a buffer (the running mean of its input,
 * subtracted in evaluation, as batch norm's statistics are). In networks
 * with dense layers, their gradients pass a finite-difference check (double
 * build), a network trains, saves and loads to the same predictions, and
 * spec and registration errors are refused with clear messages. Last, the
 * program runs itself again without registering anything, and loading the
 * saved model must fail naming the unknown kind and the fix.
 */
#include "check.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define BATCH    6
#define FEATURES 5
#define CLASSES  3

/* ---- leaky: y = x for x > 0, slope * x otherwise ------------------------ */

typedef struct leaky_config {
  double slope;
} leaky_config;

static int leaky_configure(void *config, descent_layer_args *args) {
  leaky_config *c = config;
  int rc = descent_layer_arg_double(args, "slope", 0.01, &c->slope);
  if (rc) return rc;
  if (c->slope < 0 || c->slope >= 1)
    return descent_set_error(DESCENT_EINVAL, "slope %g must be in [0, 1)", c->slope);
  return DESCENT_OK;
}

static int leaky_setup(const descent_layer_view *l, descent_layer_sizes *s) {
  /* out stays the input shape; the derivative factors are kept for backward */
  s->scratch_bytes = l->max_batch * l->in_size * sizeof(descent_real);
  return DESCENT_OK;
}

static void leaky_forward(const descent_layer_view *l, const descent_real *params,
                          const descent_real *x, descent_real *y, size_t n, int train) {
  const leaky_config *c = l->config;
  descent_real *factor = l->scratch;
  for (size_t i = 0; i < n * l->in_size; i++) {
    descent_real f = x[i] > 0 ? 1 : (descent_real)c->slope;
    y[i] = f * x[i];
    if (train) factor[i] = f;
  }
}

static void leaky_backward(const descent_layer_view *l, const descent_real *params,
                           const descent_real *x, const descent_real *y, const descent_real *dy,
                           descent_real *dx, descent_real *dparams, size_t n) {
  const descent_real *factor = l->scratch;
  if (dx)
    for (size_t i = 0; i < n * l->in_size; i++) dx[i] = dy[i] * factor[i];
}

static const descent_layer_kind leaky_kind = {
    .name = "leaky",
    .usage = "leaky([slope=0.01])",
    .config_size = sizeof(leaky_config),
    .configure = leaky_configure,
    .setup = leaky_setup,
    .forward = leaky_forward,
    .backward = leaky_backward,
};

/* ---- scale: y = w * x per feature; in evaluation y = w * (x - mean) ------ */

typedef struct scale_config {
  double momentum;
} scale_config;

static int scale_configure(void *config, descent_layer_args *args) {
  return descent_layer_arg_double(args, "momentum", 0.5, &((scale_config *)config)->momentum);
}

static int scale_setup(const descent_layer_view *l, descent_layer_sizes *s) {
  if (l->in.ndim != 1)
    return descent_set_error(DESCENT_ESHAPE, "needs flat inputs, got %d dimensions", l->in.ndim);
  s->n_params = l->in_size;
  s->n_buffers = l->in_size;
  return DESCENT_OK;
}

static int scale_tensors(const descent_layer_view *l, descent_tensor_info *t) {
  snprintf(t[0].name, sizeof t[0].name, "weight");
  t[0].size = l->in_size;
  t[0].shape = (descent_shape){1, {l->in_size}};
  return 1;
}

static int scale_buffer_tensors(const descent_layer_view *l, descent_tensor_info *t) {
  snprintf(t[0].name, sizeof t[0].name, "running_mean");
  t[0].size = l->in_size;
  t[0].shape = (descent_shape){1, {l->in_size}};
  return 1;
}

static void scale_init(const descent_layer_view *l, descent_real *w, descent_rng *rng) {
  for (size_t j = 0; j < l->in_size; j++) w[j] = (descent_real)(1 + 0.5 * descent_rng_normal(rng));
}

static void scale_forward(const descent_layer_view *l, const descent_real *w, const descent_real *x,
                          descent_real *y, size_t n, int train) {
  size_t f = l->in_size;
  double m = ((const scale_config *)l->config)->momentum;
  for (size_t j = 0; j < f; j++) {
    double mean = 0;
    for (size_t i = 0; i < n; i++) mean += x[i * f + j] / (double)n;
    if (train) l->buffers[j] = (descent_real)((1 - m) * l->buffers[j] + m * mean);
    for (size_t i = 0; i < n; i++)
      y[i * f + j] = w[j] * (x[i * f + j] - (train ? 0 : l->buffers[j]));
  }
}

static void scale_backward(const descent_layer_view *l, const descent_real *w,
                           const descent_real *x, const descent_real *y, const descent_real *dy,
                           descent_real *dx, descent_real *dw, size_t n) {
  size_t f = l->in_size;
  for (size_t j = 0; j < f; j++) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)dy[i * f + j] * x[i * f + j];
    dw[j] = (descent_real)sum;
  }
  if (dx)
    for (size_t i = 0; i < n * f; i++) dx[i] = dy[i] * w[i % f];
}

static const descent_layer_kind scale_kind = {
    .name = "scale",
    .usage = "scale([momentum=0.5])",
    .config_size = sizeof(scale_config),
    .configure = scale_configure,
    .setup = scale_setup,
    .tensors = scale_tensors,
    .init = scale_init,
    .forward = scale_forward,
    .backward = scale_backward,
    .buffer_tensors = scale_buffer_tensors,
};

/* ---- broken: definitions the library must refuse ------------------------
   mode 1: tensors that cover fewer values than setup asked for; mode 2: a
   setup that fails without a message; mode 3: an output shape with a zero. */

typedef struct broken_config {
  int mode;
  size_t n;
} broken_config;

static int broken_configure(void *config, descent_layer_args *args) {
  broken_config *c = config;
  int rc = descent_layer_arg_int(args, "mode", 0, &c->mode);
  if (!rc) rc = descent_layer_arg_size(args, "n", 3, &c->n);
  return rc;
}

static int broken_setup(const descent_layer_view *l, descent_layer_sizes *s) {
  const broken_config *c = l->config;
  if (c->mode == 2) return DESCENT_ESHAPE;
  if (c->mode == 3) s->out.dims[0] = 0;
  s->n_params = c->n;
  return DESCENT_OK;
}

static int broken_tensors(const descent_layer_view *l, descent_tensor_info *t) {
  const broken_config *c = l->config;
  snprintf(t[0].name, sizeof t[0].name, "weight");
  t[0].size = c->mode == 1 ? c->n - 1 : c->n;
  t[0].shape = (descent_shape){1, {t[0].size}};
  return 1;
}

static const descent_layer_kind broken_kind = {
    .name = "broken",
    .config_size = sizeof(broken_config),
    .configure = broken_configure,
    .setup = broken_setup,
    .tensors = broken_tensors,
    .forward = leaky_forward,
    .backward = leaky_backward,
};

/* ---- data: three classes of points around three centres ---------------- */

static descent_real inputs[BATCH * FEATURES];
static int32_t labels[BATCH];
static const descent_shape input = {1, {FEATURES}};

static void make_data(void) {
  descent_rng rng;
  descent_rng_seed(&rng, 7);
  for (size_t i = 0; i < BATCH; i++) {
    labels[i] = (int32_t)(i % CLASSES);
    for (size_t j = 0; j < FEATURES; j++)
      inputs[i * FEATURES + j] = (descent_real)((j % CLASSES == (size_t)labels[i] ? 1.5 : -0.5) +
                                                0.3 * descent_rng_normal(&rng));
  }
}

static void check_registration(void) {
  CHECK_OK(descent_layer_register(&leaky_kind));
  CHECK_OK(descent_layer_register(&scale_kind));
  CHECK_OK(descent_layer_register(&broken_kind));
  CHECK_FAILS(descent_layer_register(&leaky_kind), DESCENT_EINVAL,
              "a layer kind named 'leaky' is already registered");
  descent_layer_kind k = leaky_kind;
  k.name = "dense";
  CHECK_FAILS(descent_layer_register(&k), DESCENT_EINVAL, "'dense' is a built-in layer kind");
  k.name = "2leaky";
  CHECK_FAILS(descent_layer_register(&k), DESCENT_EINVAL, "'2leaky' is not a valid layer name");
  k.name = "leaky-2";
  CHECK_FAILS(descent_layer_register(&k), DESCENT_EINVAL, "is not a valid layer name");
  k.name = "a_name_much_longer_than_23";
  CHECK_FAILS(descent_layer_register(&k), DESCENT_EINVAL, "at most 23 characters");
  k.name = NULL;
  CHECK_FAILS(descent_layer_register(&k), DESCENT_EINVAL, "(null) is not a valid layer name");
  k.name = "leaky2";
  k.backward = NULL;
  CHECK_FAILS(descent_layer_register(&k), DESCENT_EINVAL, "'leaky2' has no backward callback");
  k.backward = leaky_backward;
  k.config_size = 1 << 20;
  CHECK_FAILS(descent_layer_register(&k), DESCENT_EINVAL, "bytes of configuration");
  CHECK_FAILS(descent_layer_register(NULL), DESCENT_EINVAL, "no kind");
}

static void refused(const char *spec, int status, const char *needle) {
  descent_net *net = NULL;
  CHECK_FAILS(descent_net_create(&net, spec, &input, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 1), status,
              needle);
  CHECK(net == NULL);
}

static void check_spec_errors(void) {
  refused("dense(4), leaky(slope=x)", DESCENT_EINVAL,
          "model spec: leaky(slope=...): 'x' is not a number");
  refused("dense(4), leaky(slop=0.1)", DESCENT_EINVAL,
          "leaky has no parameter 'slop'; valid parameters: slope (usage: leaky([slope=0.01]))");
  refused("dense(4), leaky(0.1, 0.2)", DESCENT_EINVAL, "leaky takes at most 1 argument, got '0.2'");
  refused("dense(4), leaky(0.1, slope=0.2)", DESCENT_EINVAL, "'slope' given twice");
  refused("dense(4), leaky(slope=2)", DESCENT_EINVAL,
          "model spec: layer2.leaky: slope 2 must be in [0, 1)");
  refused("dense(4), scale(momentum=0.1, slope=1)", DESCENT_EINVAL,
          "scale has no parameter 'slope'; valid parameters: momentum");
  descent_shape image = {3, {1, 6, 6}};
  descent_net *net = NULL;
  CHECK_FAILS(descent_net_create(&net, "conv(2, 3), scale", &image, DESCENT_LOSS_MSE, 2, 1),
              DESCENT_ESHAPE, "model spec: layer2.scale: needs flat inputs, got 3 dimensions");
  refused("dense(4), leakyy", DESCENT_EINVAL,
          "valid layers: dense, conv, maxpool, avgpool, flatten, relu, tanh, sigmoid, batchnorm, "
          "dropout, leaky, scale, broken, or the shorthands");
  /* _int and _size */
  refused("broken(1.5)", DESCENT_EINVAL,
          "model spec: broken(mode=1.5): must be a whole number (usage: broken)");
  refused("broken(0, n=-1)", DESCENT_EINVAL,
          "model spec: broken(n=-1): out of range; valid values are [0, 9.0072e+15]");
  refused("broken(0, 2, 3)", DESCENT_EINVAL, "broken takes at most 2 arguments, got '3'");
  refused("broken(n=1, 0)", DESCENT_EINVAL, "positional argument '0' after a named one");
  /* What the library checks of a kind's answers */
  refused("broken(1)", DESCENT_EINVAL,
          "model spec: layer1.broken: its tensors cover 2 values of "
          "the layer's 3");
  refused("broken(2)", DESCENT_ESHAPE,
          "model spec: layer1.broken: its setup returned -5 (shape mismatch) without ");
  refused("broken(3)", DESCENT_EINVAL, "model spec: layer1.broken: setup gave an output shape");
  descent_net *ok = NULL;
  CHECK_OK(descent_net_create(&ok, "broken(mode=0, n=4)", &input, DESCENT_LOSS_MSE, 2, 1));
  CHECK(ok && descent_net_objective(ok)->n_params == 4);
  descent_net_free(ok);
}

/* The names, sizes and description a registered kind gets. */
static void check_tables(void) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "dense(4), leaky(0.2), scale, dense(3)", &input,
                              DESCENT_LOSS_SOFTMAX_XENT, BATCH, 1));
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  CHECK(obj->n_tensors == 5);
  CHECK(obj->n_params == 4 * FEATURES + 4 + 4 + 3 * 4 + 3);
  if (obj->n_tensors == 5) {
    CHECK(strcmp(obj->tensors[2].name, "layer3.scale.weight") == 0);
    CHECK(obj->tensors[2].offset == 4 * FEATURES + 4 && obj->tensors[2].size == 4);
  }
  size_t n_buffers;
  const descent_tensor_info *bt = descent_net_buffer_tensors(net, &n_buffers);
  CHECK(n_buffers == 1 && strcmp(bt[0].name, "layer3.scale.running_mean") == 0);
  char text[1024];
  descent_net_describe(net, text, sizeof text);
  CHECK_MSG(strstr(text, "layer2.leaky") && strstr(text, "layer3.scale"), "%s", text);
  /* The positional slope is the named one: the same outputs. */
  descent_net *named = NULL;
  CHECK_OK(descent_net_create(&named, "dense(4), leaky(slope=0.2), scale, dense(3)", &input,
                              DESCENT_LOSS_SOFTMAX_XENT, BATCH, 1));
  descent_real a[BATCH * CLASSES], b[BATCH * CLASSES];
  CHECK_OK(descent_net_predict(net, inputs, BATCH, a));
  if (named) CHECK_OK(descent_net_predict(named, inputs, BATCH, b));
  CHECK(named && memcmp(a, b, sizeof a) == 0);
  descent_net_free(named);
  descent_net_free(net);
}

#ifdef DESCENT_DOUBLE
/* scale with a plausible slip in its weight gradient: dy instead of dy * x. */
static void wrong_scale_backward(const descent_layer_view *l, const descent_real *w,
                                 const descent_real *x, const descent_real *y,
                                 const descent_real *dy, descent_real *dx, descent_real *dw,
                                 size_t n) {
  scale_backward(l, w, x, y, dy, dx, dw, n);
  for (size_t j = 0; j < l->in_size; j++) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += dy[i * l->in_size + j];
    dw[j] = (descent_real)sum;
  }
}

static double gradcheck(const char *spec) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, &input, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 3));
  if (!net) return INFINITY;
  descent_batch batch = {.n = BATCH, .x = inputs, .labels = labels};
  descent_gradcheck_result r;
  CHECK_OK(descent_gradcheck(descent_net_objective(net), &batch, 1e-5, 1e-4, 0, 1, &r));
  CHECK(r.checked == descent_net_objective(net)->n_params);
  printf("%-45s max relative error %.2e over %zu parameters\n", spec, r.max_rel_error, r.checked);
  descent_net_free(net);
  return r.max_rel_error;
}

/* The leaky kink at 0 is out of reach of the step: the first layer's
   outputs all lie far from it. */
static double kink_margin(const char *spec) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, &input, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 3));
  if (!net) return 0;
  descent_net *first = NULL;
  CHECK_OK(descent_net_create(&first, "dense(4)", &input, DESCENT_LOSS_MSE, BATCH, 3));
  double margin = INFINITY;
  if (first) {
    /* the same seed draws the same first layer */
    memcpy(descent_net_objective(first)->params, descent_net_objective(net)->params,
           descent_net_objective(first)->n_params * sizeof(descent_real));
    descent_real out[BATCH * 4];
    CHECK_OK(descent_net_predict(first, inputs, BATCH, out));
    for (size_t i = 0; i < BATCH * 4; i++) margin = fmin(margin, fabs(out[i]));
  }
  descent_net_free(first);
  descent_net_free(net);
  return margin;
}

static void check_gradients(void) {
  const char *spec = "dense(4), leaky(0.2), scale, dense(3)";
  double margin = kink_margin(spec);
  printf("distance of leaky's inputs from its kink: %.3g\n", margin);
  CHECK(margin > 1e-3);
  CHECK(gradcheck(spec) <= 1e-6);
  CHECK(gradcheck("dense(4), tanh, scale(momentum=0.9), dense(3)") <= 1e-6);
  /* A wrong backward of a registered kind is caught. */
  descent_layer_kind wrong = scale_kind;
  wrong.name = "wrong_scale";
  wrong.backward = wrong_scale_backward;
  CHECK_OK(descent_layer_register(&wrong));
  double e = gradcheck("dense(4), tanh, wrong_scale, dense(3)");
  printf("deliberately wrong scale backward: max relative error %.2e (must exceed 1e-2)\n", e);
  CHECK(e > 1e-2);
}
#endif

/* Plain gradient descent: the loss must fall; then save, load, compare. */
static void check_train_save_load(const char *path) {
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "dense(8), leaky(0.1), scale, dense(3)", &input,
                              DESCENT_LOSS_SOFTMAX_XENT, BATCH, 11));
  if (!net) return;
  descent_objective *obj = descent_net_objective(net);
  descent_batch batch = {.n = BATCH, .x = inputs, .labels = labels};
  double first = 0, loss = 0;
  for (int step = 0; step < 200; step++) {
    CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss));
    if (step == 0) first = loss;
    for (size_t i = 0; i < obj->n_params; i++) obj->params[i] -= (descent_real)0.1 * obj->grad[i];
  }
  printf("training: loss %.4f -> %.4f\n", first, loss);
  CHECK(loss < first * 0.2);
  size_t n_buffers;
  descent_real *buffers = descent_net_buffers(net, &n_buffers);
  CHECK(n_buffers == 8 && buffers[0] != 0); /* the running mean moved */

  CHECK_OK(descent_net_save(net, NULL, path));
  descent_net *loaded = NULL;
  CHECK_OK(descent_net_load(&loaded, NULL, path, BATCH));
  if (loaded) {
    descent_real a[BATCH * CLASSES], b[BATCH * CLASSES];
    CHECK_OK(descent_net_predict(net, inputs, BATCH, a));
    CHECK_OK(descent_net_predict(loaded, inputs, BATCH, b));
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(strcmp(descent_net_spec(loaded), descent_net_spec(net)) == 0);
    size_t n;
    CHECK(memcmp(descent_net_buffers(loaded, &n), buffers, n_buffers * sizeof *buffers) == 0);
    descent_net_free(loaded);
  }
  descent_net_free(net);
}

/* In a process that registered nothing, the saved model names the kind it
   lacks and the fix. */
static int load_unregistered(const char *path) {
  descent_net *net = NULL;
  CHECK_FAILS(descent_net_load(&net, NULL, path, BATCH), DESCENT_EINVAL,
              "unknown layer 'leaky' (item 2)");
  CHECK_FAILS(descent_net_load(&net, NULL, path, BATCH), DESCENT_EINVAL, "descent_layer_register");
  CHECK(net == NULL);
  printf("without registration: %s\n", descent_last_error());
  return check_failures ? 1 : 0;
}

static void check_other_process(const char *self, const char *path) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    /* In a cross build the test runs under an emulator (qemu-user), which
       the child must be started through as well. */
    const char *emulator = getenv("DESCENT_TEST_EMULATOR");
    if (emulator && *emulator)
      execl(emulator, emulator, self, "load-unregistered", path, (char *)NULL);
    else
      execl(self, self, "load-unregistered", path, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
  CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0,
            "the process without the kind registered did not refuse the model as expected "
            "(status %d)",
            status);
}

/* Two threads register kinds at once, and race for one name, while the
   main thread builds networks: every kind registers once, one of the racers
   wins, and the network keeps working. */
#define RACE_KINDS 20

typedef struct racer {
  int id;
  int won; /* registered "race" */
  int failures;
} racer;

static void *register_many(void *arg) {
  racer *r = arg;
  char names[RACE_KINDS][16];
  for (int i = 0; i < RACE_KINDS; i++) {
    descent_layer_kind k = leaky_kind;
    snprintf(names[i], sizeof names[i], "t%d_%d", r->id, i);
    k.name = names[i]; /* copied: the array may go */
    if (descent_layer_register(&k) != DESCENT_OK) r->failures++;
    if (i == RACE_KINDS / 2) {
      k.name = "race";
      r->won = descent_layer_register(&k) == DESCENT_OK;
    }
  }
  return NULL;
}

static void check_concurrent_registration(void) {
  racer a = {.id = 0}, b = {.id = 1};
  pthread_t ta, tb;
  CHECK(pthread_create(&ta, NULL, register_many, &a) == 0);
  CHECK(pthread_create(&tb, NULL, register_many, &b) == 0);
  for (int i = 0; i < 20; i++) {
    descent_net *net = NULL;
    CHECK_OK(descent_net_create(&net, "dense(4), leaky(0.1), dense(3)", &input,
                                DESCENT_LOSS_SOFTMAX_XENT, BATCH, 1));
    descent_net_free(net);
  }
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  CHECK(a.failures == 0 && b.failures == 0);
  CHECK(a.won + b.won == 1);
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, "dense(4), t0_19(0.1), t1_0, race, dense(3)", &input,
                              DESCENT_LOSS_SOFTMAX_XENT, BATCH, 1));
  descent_net_free(net);
  /* The registry is full at 64 kinds. */
  int rc = DESCENT_OK;
  for (int i = 0; i < 64 && rc == DESCENT_OK; i++) {
    char name[16];
    snprintf(name, sizeof name, "fill%d", i);
    descent_layer_kind k = leaky_kind;
    k.name = name;
    rc = descent_layer_register(&k);
  }
  CHECK_FAILS(rc, DESCENT_ERANGE, "64 layer kinds are registered already");
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "load-unregistered") == 0) return load_unregistered(argv[2]);
  const char *tmp = getenv("DESCENT_TEST_TMP");
  char path[4096];
  snprintf(path, sizeof path, "%s/layer_kind.model", tmp ? tmp : ".");
  make_data();
  check_registration();
  check_spec_errors();
  check_tables();
#ifdef DESCENT_DOUBLE
  check_gradients();
#else
  printf("the gradient check runs in the double build (test_layer_kind64)\n");
#endif
  check_train_save_load(path);
  check_other_process(argv[0], path);
  check_concurrent_registration();
  return check_report();
}
