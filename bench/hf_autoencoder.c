/*
 * hf_autoencoder.c - the deep autoencoder problem of Hinton & Salakhutdinov
 * (2006) and Martens (2010) on Fashion-MNIST, trained by one optimizer for
 * a budget of seconds: the network (logistic units, a linear 30-unit code,
 * a logistic output) reconstructs its input under the mean squared error
 * (descent_batch.targets = the inputs; Martens used cross-entropy on the
 * [0, 1] pixels, descent's losses offer MSE for real targets). Every
 * `--eval-every` seconds of training the program writes the training
 * reconstruction error: the squared error per image (summed over the 784
 * pixels, averaged over the first `--eval-n` training images, the network
 * in evaluation mode), against seconds, steps, evaluations and products, as
 * CSV rows. The clock counts only the steps (evaluating is not training),
 * as process CPU seconds by default (`--clock cpu`: with one thread, a
 * budget a machine shared with other work does not shrink) or wall seconds.
 * bench/hf_autoencoder.sh runs the comparison.
 *
 * usage: hf_autoencoder --opt SPEC [--lr LR] [--net full|narrow] [--init sparse|glorot] [--batch B]
 *        [--budget S] [--eval-every S] [--eval-n N] [--threads T] [--seed S]
 *        [--clock cpu|wall] [--label NAME] [--csv PATH]
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include "descent.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EVAL_CHUNK 1000

/* 784-1000-500-250-30 and back (Hinton & Salakhutdinov), or the narrower
   784-400-200-100-30 and back. */
static const char *const FULL_NET =
    "dense(1000), sigmoid, dense(500), sigmoid, dense(250), sigmoid, dense(30), dense(250), "
    "sigmoid, dense(500), sigmoid, dense(1000), sigmoid, dense(784), sigmoid";
static const char *const NARROW_NET =
    "dense(400), sigmoid, dense(200), sigmoid, dense(100), sigmoid, dense(30), dense(100), "
    "sigmoid, dense(200), sigmoid, dense(400), sigmoid, dense(784), sigmoid";

typedef struct options {
  const char *opt, *lr, *net, *init, *clock, *label, *csv;
  size_t batch, eval_n;
  double budget, eval_every;
  int threads;
  uint64_t seed;
} options;

static void die(const char *what) {
  fprintf(stderr, "hf_autoencoder: %s: %s\n", what, descent_last_error());
  exit(1);
}

static void usage(void) {
  fprintf(stderr, "usage: hf_autoencoder --opt SPEC [--lr LR] [--net full|narrow] [--init "
                  "sparse|glorot] [--batch B] "
                  "[--budget S] [--eval-every S] [--eval-n N] [--threads T] [--seed S] "
                  "[--clock cpu|wall] [--label NAME] [--csv PATH]\n");
  exit(2);
}

static options parse(int argc, char **argv) {
  options o = {.net = "narrow",
               .init = "sparse",
               .clock = "cpu",
               .label = "run",
               .batch = 128,
               .eval_n = 10000,
               .budget = 120,
               .eval_every = 10,
               .threads = 1,
               .seed = 1};
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    i++;
    if (!strcmp(k, "--opt"))
      o.opt = v;
    else if (!strcmp(k, "--lr"))
      o.lr = v;
    else if (!strcmp(k, "--net"))
      o.net = v;
    else if (!strcmp(k, "--clock"))
      o.clock = v;
    else if (!strcmp(k, "--label"))
      o.label = v;
    else if (!strcmp(k, "--csv"))
      o.csv = v;
    else if (!strcmp(k, "--batch"))
      o.batch = (size_t)atol(v);
    else if (!strcmp(k, "--eval-n"))
      o.eval_n = (size_t)atol(v);
    else if (!strcmp(k, "--budget"))
      o.budget = atof(v);
    else if (!strcmp(k, "--eval-every"))
      o.eval_every = atof(v);
    else if (!strcmp(k, "--threads"))
      o.threads = atoi(v);
    else if (!strcmp(k, "--seed"))
      o.seed = (uint64_t)atoll(v);
    else
      usage();
  }
  if (!o.opt || !o.batch || !o.eval_n || !(o.budget > 0) || !(o.eval_every > 0) ||
      (strcmp(o.net, "full") && strcmp(o.net, "narrow")) ||
      (strcmp(o.init, "sparse") && strcmp(o.init, "glorot")) ||
      (strcmp(o.clock, "cpu") && strcmp(o.clock, "wall")))
    usage();
  return o;
}

static double seconds(int cpu) {
  struct timespec t;
  clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The squared reconstruction error per image over the first n images. */
static double reconstruction_error(descent_net *net, const descent_dataset *ds, size_t n,
                                   descent_real *out) {
  double sum = 0;
  size_t f = ds->features;
  for (size_t lo = 0; lo < n; lo += EVAL_CHUNK) {
    size_t m = n - lo < EVAL_CHUNK ? n - lo : EVAL_CHUNK;
    const descent_real *x = ds->x + lo * f;
    if (descent_net_predict(net, x, m, out)) die("predict");
    for (size_t i = 0; i < m * f; i++) {
      double d = (double)out[i] - (double)x[i];
      sum += d * d;
    }
  }
  return sum / (double)n;
}

/* splitmix64 */
static uint64_t next_random(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* Martens' sparse initialization: each unit's weights zero but for 15
   inputs drawn from a unit normal; biases zero. */
static void sparse_init(descent_objective *obj, uint64_t seed) {
  uint64_t rng = seed ^ 0x5DEECE66Dull;
  for (size_t t = 0; t < obj->n_tensors; t++) {
    const descent_tensor_info *ti = &obj->tensors[t];
    descent_real *w = obj->params + ti->offset;
    memset(w, 0, ti->size * sizeof *w);
    if (ti->shape.ndim != 2) continue; /* a bias */
    size_t rows = ti->shape.dims[0], cols = ti->shape.dims[1];
    for (size_t r = 0; r < rows; r++)
      for (size_t k = 0; k < 15 && k < cols; k++) {
        size_t c;
        do c = (size_t)(next_random(&rng) % cols);
        while (w[r * cols + c] != 0);
        double u1 = ((double)(next_random(&rng) >> 11) + 1) / 9007199254740993.0;
        double u2 = (double)(next_random(&rng) >> 11) / 9007199254740992.0;
        w[r * cols + c] = (descent_real)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
      }
  }
}

static void shuffle(size_t *order, size_t n, uint64_t *rng) {
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)(next_random(rng) % i), t = order[i - 1];
    order[i - 1] = order[j], order[j] = t;
  }
}

int main(int argc, char **argv) {
  options o = parse(argc, argv);
  descent_dataset train = {0}, test = {0};
  if (descent_fashion_mnist_load(NULL, &train, &test)) die("Fashion-MNIST");
  descent_dataset_free(&test);
  if (o.eval_n > train.n) o.eval_n = train.n;
  if (o.batch > train.n) o.batch = train.n;
  size_t f = train.features;
  descent_shape in = {1, {f}};
  descent_net *net = NULL;
  size_t max_batch = o.batch > EVAL_CHUNK ? o.batch : EVAL_CHUNK;
  if (descent_net_create(&net, strcmp(o.net, "full") ? NARROW_NET : FULL_NET, &in, DESCENT_LOSS_MSE,
                         max_batch, o.seed))
    die("network");
  if (descent_net_set_threads(net, o.threads)) die("threads");
  descent_objective *obj = descent_net_objective(net);
  if (!strcmp(o.init, "sparse")) sparse_init(obj, o.seed);
  descent_optimizer *opt = NULL;
  if (descent_optimizer_create(&opt, o.opt, o.lr, obj->n_params)) die("optimizer");
  if (descent_optimizer_set_threads(opt, o.threads)) die("threads");
  char described[1024];
  descent_optimizer_describe(opt, described, sizeof described);
  fprintf(stderr, "%s: %s, %zu parameters, batch %zu, %s net, budget %g %s s\n", o.label, described,
          obj->n_params, o.batch, o.net, o.budget, o.clock);

  FILE *csv = o.csv ? fopen(o.csv, "w") : stdout;
  if (!csv) {
    fprintf(stderr, "hf_autoencoder: cannot write %s\n", o.csv);
    return 1;
  }
  fprintf(csv, "label,seconds,wall_seconds,steps,epochs,evaluations,products,batch_loss,"
               "train_error\n");
  size_t *order = malloc(train.n * sizeof *order);
  descent_real *xb = malloc(o.batch * f * sizeof *xb), *out = malloc(EVAL_CHUNK * f * sizeof *out);
  if (!order || !xb || !out) {
    fprintf(stderr, "hf_autoencoder: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < train.n; i++) order[i] = i;
  uint64_t rng = o.seed;
  shuffle(order, train.n, &rng);
  const int cpu = strcmp(o.clock, "cpu") == 0;
  double trained = 0, wall = 0, next_eval = 0, batch_loss = NAN, error = NAN;
  size_t pos = 0;
  int64_t steps = 0;
  int diverged = 0;
  for (;;) {
    if (trained >= next_eval || trained >= o.budget || diverged) {
      error = reconstruction_error(net, &train, o.eval_n, out);
      fprintf(csv, "%s,%.3f,%.3f,%lld,%.4f,%lld,%lld,%.6g,%.6g\n", o.label, trained, wall,
              (long long)steps, (double)steps * (double)o.batch / (double)train.n,
              (long long)descent_optimizer_evaluations(opt),
              (long long)descent_optimizer_products(opt), batch_loss, error);
      fflush(csv);
      fprintf(stderr, "%s: %7.1f s  %6lld steps  error %.4f\n", o.label, trained, (long long)steps,
              error);
      next_eval += o.eval_every;
      if (trained >= o.budget || diverged || !isfinite(error)) break;
    }
    double t0 = seconds(cpu), w0 = seconds(0);
    if (pos + o.batch > train.n) {
      shuffle(order, train.n, &rng);
      pos = 0;
    }
    for (size_t i = 0; i < o.batch; i++)
      memcpy(xb + i * f, train.x + order[pos + i] * f, f * sizeof *xb);
    pos += o.batch;
    descent_batch batch = {.n = o.batch, .x = xb, .targets = xb};
    descent_step_info info;
    if (descent_optimizer_step_closure(opt, obj, &batch, &info)) die("step");
    steps++;
    batch_loss = 2 * info.loss; /* the squared error per image of the batch */
    diverged = !isfinite(info.loss);
    trained += seconds(cpu) - t0;
    wall += seconds(0) - w0;
  }
  printf("hf-autoencoder label=%s seconds=%.1f steps=%lld error=%.4f\n", o.label, trained,
         (long long)steps, error);
  if (csv != stdout) fclose(csv);
  free(order), free(xb), free(out);
  descent_optimizer_free(opt);
  descent_net_free(net);
  descent_dataset_free(&train);
  return 0;
}
