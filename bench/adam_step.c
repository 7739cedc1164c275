/*
 * adam_step.c - times descent's Adam step on one flat float32 buffer, against
 * two references that move as many bytes, for bench/adam_step.sh.
 *
 * Bytes model (per parameter, float32): an Adam step reads g, theta, m, v
 * (16 bytes) and writes theta, m, v (12 bytes): 28 bytes touched. Effective
 * bandwidth = bytes touched / time. The references:
 *   memcpy  copies 14 bytes per parameter from one buffer to another (14 read
 *           + 14 written = the same 28 bytes), one contiguous slice per thread;
 *   stream  Adam's access pattern with the cheapest arithmetic: reads g, p, m,
 *           v and writes p, m, v in place (multiply-adds only, no sqrt or
 *           division), OpenMP static schedule. On machines where memcpy uses
 *           non-temporal stores or where the buffers stay in cache this is the
 *           tighter ceiling.
 *
 * Usage: adam_step [--n N] [--threads T] [--steps S] [--repeats R] [--warmup W]
 *                  [--clock wall|cpu] [--opt SPEC] [--lr LR] [--layout flat|mlp]
 * Prints, per repeat, one line per kernel:
 *   adam_step impl=descent threads=T n=N steps=S repeat=K ms_per_step=X gbytes_per_s=Y
 *   adam_step impl=memcpy ...   adam_step impl=stream ...
 *
 * With --opt (bench/optim_step.sh) it times the step of that optimizer spec
 * instead (rate --lr, default 1e-3), without the references, and prints
 *   optim_step impl=descent opt=SPEC threads=T n=N steps=S repeat=K ms_per_step=X
 * --layout mlp gives the optimizer and the objective the tensors of the big
 * MLP 784-1024-1024-10 (1,863,690 parameters; --n is ignored), as the
 * trainer does: per-tensor optimizers (lamb, novograd) step on them.
 * --opt muon steps torch's recommended split, as the table's name for it:
 * "muon @ weight:2d ; adamw @ *" (Muon on the three weights, AdamW on the
 * biases), which needs --layout mlp; --opt muon_bf16 the same with Muon's
 * iteration in bfloat16 (muon(bf16=1)), as torch runs it.
 * Build: cc -O3 -march=native -fopenmp -Iinclude bench/adam_step.c build/libdescent.a
 *        -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -fopenmp -lz -lm
 */
#include "descent.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BYTES_PER_PARAM 28.0 /* Adam: read g, theta, m, v; write theta, m, v (float32) */
#define COPY_BYTES      14   /* bytes memcpy'd per parameter: 14 read, 14 written */

/* Wall-clock time, or with --clock cpu the process's CPU time (all its
   threads): on a machine shared with other jobs a single-threaded run's CPU
   time leaves out the time it waited for a core. */
static clockid_t timer = CLOCK_MONOTONIC;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(timer, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The gradient never changes: the benchmark times the optimizer alone. */
static int fixed_grad(descent_objective *obj, const descent_batch *batch, double *loss) {
  (void)obj, (void)batch;
  *loss = 0;
  return DESCENT_OK;
}

static const descent_objective_ops bench_ops = {.kind = "bench", .value_and_grad = fixed_grad};

/* Each thread copies one contiguous slice, as each thread of the Adam step
   updates its own blocks. */
static void parallel_copy(char *dst, const char *src, size_t bytes, int threads) {
#pragma omp parallel num_threads(threads)
  {
    int t = omp_get_thread_num(), nt = omp_get_num_threads();
    size_t lo = bytes * (size_t)t / (size_t)nt, hi = bytes * (size_t)(t + 1) / (size_t)nt;
    memcpy(dst + lo, src + lo, hi - lo);
  }
}

/* Adam's memory traffic with multiply-adds only: read g, p, m, v; write p, m, v. */
static void rw_stream(float *restrict p, float *restrict m, float *restrict v,
                      const float *restrict g, size_t n, int threads) {
#pragma omp parallel for simd schedule(static) num_threads(threads)
  for (size_t i = 0; i < n; i++) {
    float gi = g[i], mi = 0.9f * m[i] + 0.1f * gi, vi = 0.999f * v[i] + 0.001f * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= 1e-6f * (mi + vi);
  }
}

static void report(const char *impl, int threads, size_t n, int steps, int repeat, double secs) {
  double per_step = secs / steps;
  printf("adam_step impl=%s threads=%d n=%zu steps=%d repeat=%d ms_per_step=%.5f "
         "gbytes_per_s=%.2f\n",
         impl, threads, n, steps, repeat, 1e3 * per_step,
         BYTES_PER_PARAM * (double)n / per_step / 1e9);
}

/* The big MLP's weights and biases (784-1024-1024-10), in the trainer's
   order: the layout per-tensor optimizers step on. */
static descent_tensor_info mlp_tensors[] = {
    {"fc1.weight", 0, 802816, {2, {1024, 784}}},        {"fc1.bias", 802816, 1024, {1, {1024}}},
    {"fc2.weight", 803840, 1048576, {2, {1024, 1024}}}, {"fc2.bias", 1852416, 1024, {1, {1024}}},
    {"fc3.weight", 1853440, 10240, {2, {10, 1024}}},    {"fc3.bias", 1863680, 10, {1, {10}}},
};
#define MLP_TENSORS 6
#define MLP_PARAMS  1863690

static void *alloc_or_die(size_t bytes) {
  void *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) {
    fprintf(stderr, "adam_step: out of memory (%zu bytes)\n", bytes);
    exit(1);
  }
  return p;
}

/* The spec a table name stands for: muon alone refuses the biases, so it is
   timed as torch's documentation recommends using it. */
static const char *spec_of(const char *name) {
  if (strcmp(name, "muon") == 0) return "muon @ weight:2d ; adamw @ *";
  if (strcmp(name, "muon_bf16") == 0) return "muon(bf16=1) @ weight:2d ; adamw @ *";
  return name;
}

/* --opt: the optimizer's step alone, warmed up, timed per repeat. */
static int time_optimizer(descent_optimizer *opt, descent_objective *obj, const char *spec,
                          int threads, int steps, int repeats, int warmup) {
  for (int w = 0; w < warmup; w++)
    if (descent_optimizer_step(opt, obj) != DESCENT_OK) {
      fprintf(stderr, "optim_step: %s: step failed: %s\n", spec, descent_last_error());
      return 1;
    }
  for (int r = 0; r < repeats; r++) {
    double t0 = now_s();
    for (int s = 0; s < steps; s++) descent_optimizer_step(opt, obj);
    printf("optim_step impl=descent opt=%s threads=%d n=%zu steps=%d repeat=%d "
           "ms_per_step=%.5f\n",
           spec, threads, obj->n_params, steps, r, 1e3 * (now_s() - t0) / steps);
  }
  double sum = 0;
  for (size_t i = 0; i < obj->n_params; i += 4096) sum += obj->params[i];
  descent_optimizer_free(opt);
  free(obj->params), free(obj->grad);
  if (!isfinite(sum)) {
    fprintf(stderr, "optim_step: %s: non-finite parameters after the run\n", spec);
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  size_t n = 1900000;
  int threads = 1, steps = 200, repeats = 5, warmup = 20, mlp = 0;
  const char *spec = NULL, *lr = "1e-3";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--opt") == 0)
      spec = argv[i + 1];
    else if (strcmp(argv[i], "--lr") == 0)
      lr = argv[i + 1];
    else if (strcmp(argv[i], "--layout") == 0 && strcmp(argv[i + 1], "flat") == 0)
      mlp = 0;
    else if (strcmp(argv[i], "--layout") == 0 && strcmp(argv[i + 1], "mlp") == 0)
      mlp = 1;
    else if (strcmp(argv[i], "--n") == 0)
      n = strtoull(argv[i + 1], NULL, 10);
    else if (strcmp(argv[i], "--threads") == 0)
      threads = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--steps") == 0)
      steps = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--repeats") == 0)
      repeats = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--warmup") == 0)
      warmup = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--clock") == 0 && strcmp(argv[i + 1], "wall") == 0)
      timer = CLOCK_MONOTONIC;
    else if (strcmp(argv[i], "--clock") == 0 && strcmp(argv[i + 1], "cpu") == 0)
      timer = CLOCK_PROCESS_CPUTIME_ID;
    else {
      fprintf(stderr, "adam_step: unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (argc % 2 == 0 || n == 0 || threads < 1 || steps < 1 || repeats < 1 || warmup < 0) {
    fprintf(stderr, "usage: adam_step [--n N] [--threads T] [--steps S] [--repeats R] "
                    "[--warmup W] [--clock wall|cpu] [--opt SPEC] [--lr LR] "
                    "[--layout flat|mlp]\n");
    return 2;
  }
  /* A path this CPU cannot run is refused, not timed under its name. */
  if (descent_cpu_setup() != DESCENT_OK) {
    fprintf(stderr, "adam_step: %s\n", descent_last_error());
    return 2;
  }
  descent_set_threads(threads);
  if (mlp) n = MLP_PARAMS;

  float *params = alloc_or_die(n * sizeof *params), *grad = alloc_or_die(n * sizeof *grad);
  descent_rng rng;
  descent_rng_seed(&rng, 1);
  for (size_t i = 0; i < n; i++) {
    params[i] = (float)descent_rng_normal(&rng);
    grad[i] = (float)(1e-2 * descent_rng_normal(&rng));
  }
  descent_objective obj = {.ops = &bench_ops, .n_params = n, .params = params, .grad = grad};
  if (mlp) obj.tensors = mlp_tensors, obj.n_tensors = MLP_TENSORS;
  /* Without Adam in the library the copy is still measured (and reported). */
  descent_optimizer *opt = NULL;
  if (descent_optimizer_create(&opt, spec ? spec_of(spec) : "adam", lr, n) != DESCENT_OK) {
    printf("%s impl=descent unavailable: descent_optimizer_create(\"%s\"): %s\n",
           spec ? "optim_step" : "adam_step", spec ? spec : "adam", descent_last_error());
    if (spec) return 1;
  } else {
    char desc[512];
    descent_optimizer_describe(opt, desc, sizeof desc);
    printf("%s optimizer: %s\n", spec ? "optim_step" : "adam_step", desc);
  }
  printf("%s n=%zu threads=%d (descent_get_threads=%d) bytes_per_step=%.0f path=%s "
         "clock=%s\n",
         spec ? "optim_step" : "adam_step", n, threads, descent_get_threads(),
         BYTES_PER_PARAM * (double)n, descent_isa_name(),
         timer == CLOCK_MONOTONIC ? "wall" : "cpu");

  size_t copy_bytes = (size_t)COPY_BYTES * n;
  char *src = alloc_or_die(copy_bytes), *dst = alloc_or_die(copy_bytes);
  memset(src, 1, copy_bytes);
  memset(dst, 0, copy_bytes);
  float *sp = alloc_or_die(n * sizeof *sp), *sm = alloc_or_die(n * sizeof *sm);
  float *sv = alloc_or_die(n * sizeof *sv), *sg = alloc_or_die(n * sizeof *sg);
  for (size_t i = 0; i < n; i++) sp[i] = params[i], sm[i] = 0, sv[i] = 0, sg[i] = grad[i];

  if (spec) return time_optimizer(opt, &obj, spec, threads, steps, repeats, warmup);
  for (int w = 0; w < warmup; w++) {
    if (opt && descent_optimizer_step(opt, &obj) != DESCENT_OK) {
      fprintf(stderr, "adam_step: step failed: %s\n", descent_last_error());
      return 1;
    }
    parallel_copy(dst, src, copy_bytes, threads);
    rw_stream(sp, sm, sv, sg, n, threads);
  }
  for (int r = 0; r < repeats; r++) {
    double t0 = now_s();
    if (opt) {
      for (int s = 0; s < steps; s++) descent_optimizer_step(opt, &obj);
      report("descent", threads, n, steps, r, now_s() - t0);
    }
    t0 = now_s();
    for (int s = 0; s < steps; s++) parallel_copy(dst, src, copy_bytes, threads);
    report("memcpy", threads, n, steps, r, now_s() - t0);
    t0 = now_s();
    for (int s = 0; s < steps; s++) rw_stream(sp, sm, sv, sg, n, threads);
    report("stream", threads, n, steps, r, now_s() - t0);
  }
  /* Keep the results observable, and make sure the step did something sane. */
  double sum = 0;
  for (size_t i = 0; i < n; i += 4096) sum += params[i] + dst[i] + sp[i];
  if (!isfinite(sum)) {
    fprintf(stderr, "adam_step: non-finite parameters after the run\n");
    return 1;
  }
  descent_optimizer_free(opt);
  free(params), free(grad), free(src), free(dst), free(sp), free(sm), free(sv), free(sg);
  return 0;
}
