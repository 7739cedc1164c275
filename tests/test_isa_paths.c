/*
 * test_isa_paths.c - the elementwise kernels give the same bits on every
 * instruction-set path.
 *
 * The optimizer transforms, pooling, batch norm and dropout are compiled once
 * per path (src/core/multiversion.h) from one body, and their arithmetic is
 * elementwise (or summed in a fixed order), so the avx512 and avx2 copies
 * must agree with the portable one to the last bit. The path is fixed for a
 * process (DESCENT_ISA, read once), so the program runs itself once per path
 * with `--digest`; each run prints a 64-bit digest of every result, and the
 * parent compares each path's digests with the portable path's. A path this
 * CPU lacks is reported and left out; with only one path to run, nothing is
 * compared and the test is skipped.
 *
 * The convolutions and dense layers are left out on purpose: their paths
 * (direct AVX-512 kernels against OpenBLAS) round differently by design and
 * are tested against references elsewhere.
 */
#include "check.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

#define N_PARAMS (2 * 2048 + 517) /* whole blocks, slices, and a ragged tail */
#define STEPS    7

/* FNV-1a over the bytes of a buffer. */
static uint64_t digest(const void *data, size_t bytes) {
  const unsigned char *p = data;
  uint64_t h = 14695981039346656037ull;
  for (size_t i = 0; i < bytes; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static int fixed_grad(descent_objective *obj, const descent_batch *batch, double *loss) {
  *loss = 0;
  return DESCENT_OK;
}
/* A Hessian that is diagonal, of both signs and several scales, for the
   methods that estimate its diagonal (sophia). */
static int fixed_hvp(descent_objective *obj, const descent_batch *batch, const descent_real *v,
                     descent_real *out) {
  (void)batch;
  for (size_t i = 0; i < obj->n_params; i++)
    out[i] = (descent_real)((double)(i % 11) - 2.5) * (descent_real)(i % 3 ? 10 : 0.01) * v[i];
  return DESCENT_OK;
}
static const descent_objective_ops fixed_ops = {
    .kind = "fixed", .value_and_grad = fixed_grad, .hvp = fixed_hvp};

/* A gradient that changes each step and holds zeros, signs, tiny and large
   values, so that every select of the kernels (clip_value, Lion's sign, the
   running maxima) goes both ways. */
static void fill_gradient(descent_real *g, size_t n, descent_rng *rng) {
  for (size_t i = 0; i < n; i++) {
    double scale = i % 97 == 0 ? 0 : i % 13 == 0 ? 1e3 : i % 7 == 0 ? 1e-6 : 1e-1;
    g[i] = (descent_real)(scale * descent_rng_normal(rng));
  }
}

/* Three tensors, for the per-tensor chains (the others ignore them). */
static const descent_tensor_info mixed_tensors[] = {
    {"w", 0, 3000, {2, {30, 100}}},
    {"b", 3000, 30, {1, {30}}},
    {"v", 3030, N_PARAMS - 3030, {1, {N_PARAMS - 3030}}}};
/* Matrices only, for the whole-tensor chains (muon): a dense weight, a conv
   kernel (read as 4 x 27) and a tall matrix. */
static const descent_tensor_info matrix_tensors[] = {
    {"w", 0, 3000, {2, {30, 100}}},
    {"k", 3000, 108, {4, {4, 3, 3, 3}}},
    {"v", 3108, N_PARAMS - 3108, {2, {43, (N_PARAMS - 3108) / 43}}}};

static void digest_optimizer_on(const char *spec, const descent_tensor_info *table) {
  descent_real *theta = malloc(N_PARAMS * sizeof *theta), *g = malloc(N_PARAMS * sizeof *g);
  descent_rng rng;
  descent_rng_seed(&rng, 3);
  for (size_t i = 0; i < N_PARAMS; i++) theta[i] = (descent_real)descent_rng_normal(&rng);
  descent_tensor_info tensors[3];
  memcpy(tensors, table, sizeof tensors);
  descent_objective obj = {.ops = &fixed_ops,
                           .n_params = N_PARAMS,
                           .params = theta,
                           .grad = g,
                           .n_tensors = 3,
                           .tensors = tensors};
  descent_optimizer *opt = NULL;
  CHECK_OK(descent_optimizer_create(&opt, spec, NULL, N_PARAMS));
  for (int s = 0; opt && s < STEPS; s++) {
    fill_gradient(g, N_PARAMS, &rng);
    if (descent_optimizer_is_method(opt))
      CHECK_OK(descent_optimizer_step_closure(opt, &obj, NULL, NULL));
    else
      CHECK_OK(descent_optimizer_step(opt, &obj));
  }
  /* Schedule-free's evaluation point too (a no-op for the other chains). */
  if (opt) CHECK_OK(descent_optimizer_eval(opt, &obj));
  size_t size = opt ? descent_optimizer_state_size(opt) : 0;
  unsigned char *state = malloc(size + 1);
  if (opt) CHECK_OK(descent_optimizer_save_state(opt, state, size));
  printf("optimizer %-45s theta %016llx state %016llx\n", spec,
         (unsigned long long)digest(theta, N_PARAMS * sizeof *theta),
         (unsigned long long)digest(state, size));
  descent_optimizer_free(opt);
  free(state), free(theta), free(g);
}

static void digest_optimizer(const char *spec) {
  digest_optimizer_on(spec, mixed_tensors);
}

/* Pooling (both 2x2 kernels and the general one), batch norm over channels
   and over features, and dropout: the loss, the gradient of the batch norms'
   parameters (which flows back through every layer), the running statistics,
   and the evaluation-mode outputs. */
static void digest_layers(void) {
  const char *spec = "maxpool(2), batchnorm, dropout(0.3), maxpool(2), avgpool(3, stride=2, "
                     "pad=1), maxpool(3, stride=1, pad=1), flatten, batchnorm, dropout(0.5)";
  descent_shape in = {3, {5, 28, 28}};
  size_t n = 9, size = 5 * 28 * 28;
  descent_net *net = NULL;
  CHECK_OK(descent_net_create(&net, spec, &in, DESCENT_LOSS_MSE, n, 11));
  if (!net) return;
  size_t outputs = descent_net_outputs(net);
  descent_real *x = malloc(n * size * sizeof *x), *target = malloc(n * outputs * sizeof *target);
  descent_real *out = malloc(n * outputs * sizeof *out);
  descent_rng rng;
  descent_rng_seed(&rng, 5);
  for (size_t i = 0; i < n * size; i++)
    x[i] = (descent_real)(i % 17 == 0 ? 0.5 : descent_rng_normal(&rng)); /* ties for maxpool */
  for (size_t i = 0; i < n * outputs; i++) target[i] = (descent_real)descent_rng_normal(&rng);
  descent_batch batch = {.n = n, .x = x, .targets = target};
  descent_objective *obj = descent_net_objective(net);
  double loss[2] = {0, 0};
  uint64_t grads = 0;
  for (int s = 0; s < 2; s++) {
    CHECK_OK(descent_objective_value_and_grad(obj, &batch, &loss[s]));
    grads ^= digest(obj->grad, obj->n_params * sizeof *obj->grad) + (uint64_t)s;
  }
  size_t nb;
  descent_real *buffers = descent_net_buffers(net, &nb);
  CHECK_OK(descent_net_predict(net, x, n, out));
  printf("layers loss %016llx grad %016llx buffers %016llx predict %016llx\n",
         (unsigned long long)digest(loss, sizeof loss), (unsigned long long)grads,
         (unsigned long long)digest(buffers, nb * sizeof *buffers),
         (unsigned long long)digest(out, n * outputs * sizeof *out));
  descent_net_free(net);
  free(x), free(target), free(out);
}

static int print_digests(void) {
  static const char *const specs[] = {
      "sgd",
      "momentum",
      "nesterov",
      "adagrad",
      "rmsprop",
      "adam",
      "adamw",
      "amsgrad",
      "lion",
      "sf_sgd",
      "sf_adamw",
      "clip(1) | adam(b1=0.3) | wd(0.1) | lr(1e-3)",
      "clip_value(0.01) | momentum(0.9, dampening=0.2) | lr(0.01)",
      "clip(0.5) | rmsprop(centered=1) | momentum | lr(1e-2)",
      "rmsprop(bias_correction=1) | lr(0.01)",
      "clip(2) | lion | wd(0.1) | sf(lr=1e-3, momentum=0.8)",
      "adadelta",
      "l2(0.01) | adadelta(rho=0.5) | wd(0) | lr(0.5)",
      "rprop(etaplus=1.5, step_max=0.02)",
      "asgd(lambd=0.01, t0=2, weight_decay=0.01)",
      "adabelief",
      "adabelief(nesterov=1)",
      "yogi",
      "ademamix(alpha_warmup=3, b3_warmup=4, weight_decay=0.1)",
      "nadam",
      "radam",
      "adamax",
      "nadam(momentum_decay=0.05, weight_decay=0.1, decoupled_weight_decay=1)",
      "radam(weight_decay=0.1)",
      "clip(1) | adamax(b1=0.3) | wd(0.1) | lr(1e-3)",
      "lamb(weight_decay=0.01)",
      "lars(nesterov=1, weight_decay=1e-3)",
      "novograd(weight_decay=0.01)",
      "clip(1) | optax_adam(eps_root=1e-12) | trust_ratio(min_norm=1e-3) | lr(1e-3)",
      "prodigy(estim_lr0=1e-3, weight_decay=0.01)",
      "prodigy(safeguard_warmup=1, b3=0.9, lr=0.5)",
      "dadapt_adamw(estim_lr0=1e-3, weight_decay=0.01)",
      "clip(1) | dadapt_adamw(lr=2)",
      "adafactor(weight_decay=0.01, lr=0.05)",
      "sophia(update_interval=2, gamma=1, weight_decay=0.1)",
      "soap(precondition_frequency=2, precondition_1d=1, lr=0.01)",
  };
  printf("path %s\n", descent_isa_name());
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) digest_optimizer(specs[i]);
  static const char *const matrix_specs[] = {
      "muon",
      "muon(nesterov=0, weight_decay=0, adjust_lr=1)",
      "clip(1) | muon_momentum(0.9) | newton_schulz(steps=3) | wd(0.1) | lr(0.02)",
      "adafactor",
      "shampoo(max_preconditioner_dim=64, grafting=4, weight_decay=0.01)",
      "shampoo(max_preconditioner_dim=32, b1=0, grafting=2, merge_dims=0)",
      "soap(precondition_frequency=2, normalize_grads=1)",
  };
  for (size_t i = 0; i < sizeof matrix_specs / sizeof matrix_specs[0]; i++)
    digest_optimizer_on(matrix_specs[i], matrix_tensors);
  digest_layers();
  fflush(stdout);
  return check_failures ? 1 : 0;
}

/* Runs this program with DESCENT_ISA=path and --digest; returns its exit
   status (77: the CPU lacks the path) with its output in buf. */
static int run_path(const char *self, const char *path, char *buf, size_t cap) {
  int fd[2];
  if (pipe(fd) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]), close(fd[1]);
    setenv("DESCENT_ISA", path, 1);
    execl(self, self, "--digest", (char *)NULL);
    _exit(127);
  }
  close(fd[1]);
  size_t used = 0;
  ssize_t got;
  while (used + 1 < cap && (got = read(fd[0], buf + used, cap - 1 - used)) > 0) used += (size_t)got;
  buf[used] = '\0';
  close(fd[0]);
  int status;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--digest") == 0) return print_digests();
#if !defined(__x86_64__)
  printf("SKIP: this architecture has one kernel path (portable): nothing to compare it with\n");
  return 77;
#endif
  char self[4096];
  ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0) {
    printf("SKIP: /proc/self/exe unreadable: this program cannot run itself per path\n");
    return 77;
  }
  self[len] = '\0';
  static const char *const paths[] = {"portable", "avx2", "avx512"};
  enum { CAP = 1 << 16 };
  static char reference[CAP], other[CAP];
  int rc = run_path(self, "portable", reference, CAP);
  CHECK_MSG(rc == 0, "the portable run failed (status %d):\n%s", rc, reference);
  CHECK(strstr(reference, "path portable\n") == reference);
  int compared = 0;
  for (int p = 1; p < 3 && rc == 0; p++) {
    int prc = run_path(self, paths[p], other, CAP);
    if (prc == 77) {
      printf("%s: this CPU cannot run it, not compared\n", paths[p]);
      continue;
    }
    CHECK_MSG(prc == 0, "the %s run failed (status %d):\n%s", paths[p], prc, other);
    char expected[32];
    snprintf(expected, sizeof expected, "path %s\n", paths[p]);
    CHECK_MSG(strstr(other, expected) == other, "the run forced to %s ran %.20s", paths[p], other);
    /* Everything after the path line must match. */
    const char *a = strchr(reference, '\n'), *b = strchr(other, '\n');
    CHECK_MSG(a && b && strcmp(a, b) == 0, "%s differs from portable:\n--- portable\n%s--- %s\n%s",
              paths[p], reference, paths[p], other);
    compared++;
  }
  if (rc == 0 && compared == 0) {
    printf("SKIP: only the portable path runs on this CPU; nothing to compare\n");
    return 77;
  }
  int lines = 0;
  for (const char *c = reference; *c; c++) lines += *c == '\n';
  printf("%d path(s) compared with portable, %d result lines each\n", compared, lines - 1);
  return check_report();
}
