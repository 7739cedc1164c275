/*
 * test_embed.c - libdescent inside a host program that set up its own
 * OpenBLAS: loading the library and training with it leave the host's
 * OpenBLAS kernels, OpenBLAS thread count and OpenMP thread count as the
 * host set them.
 *
 * The program links only OpenBLAS and OpenMP, and loads the shared library
 * with dlopen after it has made its own settings: what the library would do
 * when it loads (a constructor) happens in front of the checks. It trains a
 * small MLP whose products are large enough to run on several threads, first
 * with the host at 1 thread and descent's objects at 2, then the reverse.
 * CTest runs it with OPENBLAS_CORETYPE=Haswell (the host's own choice of
 * kernels), without it (OpenBLAS's choice for this CPU, which
 * descent_cpu_setup would change on some CPUs: the program never calls it),
 * and with DESCENT_ISA=avx2 (the products through OpenBLAS, and the dense
 * layers' larger ones through oneDNN where the library has it).
 * It includes descent.h for the types only: DESCENT_NO_LINK_CHECK leaves
 * out the link-time precision check, and the program looks the float
 * library's marker up itself.
 */
#define DESCENT_NO_LINK_CHECK
#include "descent.h"

#include <cblas.h>
#include <dlfcn.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int checks, failures;

#define EXPECT(cond, ...)                                                                          \
  do {                                                                                             \
    checks++;                                                                                      \
    if (!(cond)) {                                                                                 \
      failures++;                                                                                  \
      printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                                       \
      printf(__VA_ARGS__);                                                                         \
      printf("\n");                                                                                \
    }                                                                                              \
  } while (0)

/* The library's functions, found with dlsym. */
static struct {
  const char *(*last_error)(void);
  int (*net_create)(descent_net **, const char *, const descent_shape *, descent_loss_kind, size_t,
                    uint64_t);
  int (*net_set_threads)(descent_net *, int);
  descent_objective *(*net_objective)(descent_net *);
  void (*net_free)(descent_net *);
  int (*optimizer_create)(descent_optimizer **, const char *, const char *, size_t);
  int (*optimizer_set_threads)(descent_optimizer *, int);
  void (*optimizer_free)(descent_optimizer *);
  void (*trainer_options_default)(descent_trainer_options *);
  int (*trainer_create)(descent_trainer **, descent_objective *, descent_optimizer *,
                        const descent_dataset *, const descent_trainer_options *);
  int (*trainer_run)(descent_trainer *, int64_t, int64_t);
  void (*trainer_free)(descent_trainer *);
} lib;

static int load(void *h) {
  const char *names[] = {"descent_last_error",
                         "descent_net_create",
                         "descent_net_set_threads",
                         "descent_net_objective",
                         "descent_net_free",
                         "descent_optimizer_create",
                         "descent_optimizer_set_threads",
                         "descent_optimizer_free",
                         "descent_trainer_options_default",
                         "descent_trainer_create",
                         "descent_trainer_run",
                         "descent_trainer_free"};
  void **slots[] = {(void **)&lib.last_error,
                    (void **)&lib.net_create,
                    (void **)&lib.net_set_threads,
                    (void **)&lib.net_objective,
                    (void **)&lib.net_free,
                    (void **)&lib.optimizer_create,
                    (void **)&lib.optimizer_set_threads,
                    (void **)&lib.optimizer_free,
                    (void **)&lib.trainer_options_default,
                    (void **)&lib.trainer_create,
                    (void **)&lib.trainer_run,
                    (void **)&lib.trainer_free};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    *slots[i] = dlsym(h, names[i]);
    if (!*slots[i]) {
      printf("FAIL: %s is not in the library: %s\n", names[i], dlerror());
      return -1;
    }
  }
  if (!dlsym(h, "descent_abi_float_precision_link_descent")) {
    printf("FAIL: the library loaded is not the float build: %s\n", dlerror());
    return -1;
  }
  return 0;
}

/* Synthetic classification data: 512 examples of 784 features. */
enum { EXAMPLES = 512, FEATURES = 784, CLASSES = 10 };
static float inputs[EXAMPLES * FEATURES];
static int32_t labels[EXAMPLES];

static void make_data(void) {
  uint64_t s = 12345;
  for (size_t i = 0; i < EXAMPLES * FEATURES; i++) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    inputs[i] = (float)(s >> 40) / (float)(1 << 24);
  }
  for (size_t i = 0; i < EXAMPLES; i++) labels[i] = (int32_t)(i % CLASSES);
}

/* Trains mlp:784-512-10 (products of 128 x 512 x 784: several threads) for
   two epochs with every descent object at `threads`. */
static int train(int threads) {
  descent_shape shape = {1, {FEATURES}};
  descent_dataset ds = {.n = EXAMPLES,
                        .shape = shape,
                        .features = FEATURES,
                        .classes = CLASSES,
                        .x = inputs,
                        .labels = labels};
  descent_net *net = NULL;
  descent_optimizer *opt = NULL;
  descent_trainer *trainer = NULL;
  descent_trainer_options o;
  lib.trainer_options_default(&o);
  o.threads = threads;
  int rc = lib.net_create(&net, "mlp:784-512-10", &shape, DESCENT_LOSS_SOFTMAX_XENT, 128, 1);
  if (!rc) rc = lib.net_set_threads(net, threads);
  if (!rc) rc = lib.optimizer_create(&opt, "adam", "1e-3", lib.net_objective(net)->n_params);
  if (!rc) rc = lib.optimizer_set_threads(opt, threads);
  if (!rc) rc = lib.trainer_create(&trainer, lib.net_objective(net), opt, &ds, &o);
  if (!rc) rc = lib.trainer_run(trainer, 2, 0);
  if (rc) printf("FAIL: training at %d threads: %s\n", threads, lib.last_error());
  lib.trainer_free(trainer);
  lib.optimizer_free(opt);
  lib.net_free(net);
  return rc;
}

/* The host sets `host` threads, descent trains with `mine`: nothing the host
   set may change. */
static void check_case(int host, int mine, const char *core) {
  openblas_set_num_threads(host); /* in the OpenMP build this sets OpenMP's count too */
  omp_set_num_threads(host);
  EXPECT(train(mine) == 0, "host %d, descent %d", host, mine);
  EXPECT(strcmp(openblas_get_corename(), core) == 0, "kernels %s, the host had %s",
         openblas_get_corename(), core);
  EXPECT(openblas_get_num_threads() == host, "OpenBLAS threads %d, the host set %d",
         openblas_get_num_threads(), host);
  EXPECT(omp_get_max_threads() == host, "OpenMP threads %d, the host set %d", omp_get_max_threads(),
         host);
  printf("host %d thread(s), descent %d: %s kernels, OpenBLAS %d, OpenMP %d\n", host, mine,
         openblas_get_corename(), openblas_get_num_threads(), omp_get_max_threads());
}

/* What the checks above would see if descent called OpenBLAS with its own
   OpenMP count: the host's OpenBLAS count follows (OpenBLAS 0.3.21's
   OpenMP build). Shows that the check can fail. */
static void check_control(void) {
  openblas_set_num_threads(1);
  omp_set_num_threads(2);
  static float a[256 * 256], b[256 * 256], c[256 * 256];
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 256, 256, 256, 1, a, 256, b, 256, 0, c,
              256);
  printf("control: a product called at OpenMP 2 leaves OpenBLAS at %d threads (set to 1)\n",
         openblas_get_num_threads());
}

int main(void) {
  if (omp_get_num_procs() < 2) printf("note: one core; the threads still run, time-sliced\n");
  openblas_set_num_threads(1);
  omp_set_num_threads(1);
  char core[64];
  snprintf(core, sizeof core, "%s", openblas_get_corename());
  void *h = dlopen(DESCENT_SHARED_LIBRARY, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    printf("FAIL: dlopen %s: %s\n", DESCENT_SHARED_LIBRARY, dlerror());
    return 1;
  }
  EXPECT(strcmp(openblas_get_corename(), core) == 0, "loading changed the kernels %s to %s", core,
         openblas_get_corename());
  EXPECT(openblas_get_num_threads() == 1 && omp_get_max_threads() == 1,
         "loading changed the thread counts: OpenBLAS %d, OpenMP %d", openblas_get_num_threads(),
         omp_get_max_threads());
  if (load(h)) return 1;
  make_data();
  check_case(1, 2, core);
  check_case(2, 1, core);
  check_case(2, 0, core); /* descent inherits the host's OpenMP count */
  check_control();
  printf("%d checks, %d failed\n", checks, failures);
  return failures || checks == 0 ? 1 : 0;
}
