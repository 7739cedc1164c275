/*
 * cmd_train.c - `descent train`: train a network on Fashion-MNIST (or another
 * IDX data set) and report train and test loss and accuracy per epoch.
 *
 * The command only wires library pieces together: load, preprocess, build the
 * network and optimizer, loop over minibatches, evaluate, log. It prints the
 * fully resolved configuration first so a run can be repeated from its log.
 */
#include "commands.h"
#include "descent.h"
#include "options.h"
#include "progress.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static cli_option train_options[] = {
    {"data-dir", "DIR", "folder with the IDX files (train-images-idx3-ubyte[.gz], ...)",
     DESCENT_FASHION_MNIST_DIR, 0},
    {"model", "SPEC", "network: mlp:IN-H1-...-OUT[/ACT] or a layer list 'dense(256), relu, ...'",
     "mlp:784-256-128-10", 0},
    {"loss", "NAME", "xent (softmax cross-entropy) or mse", "xent", 0},
    {"opt", "SPEC", "optimizer name or chain; see 'descent optimizers'", "sgd", 0},
    {"lr", "RATE", "learning rate: a number or a schedule (default: the optimizer's own)", NULL, 0},
    {"batch-size", "N", "examples per minibatch (gd: per chunk of the full batch)", "128", 0},
    {"epochs", "N", "passes over the training set", "10", 0},
    {"seed", "N", "seed of the initialization, the shuffling and the split", "1", 0},
    {"threads", "N", "threads for OpenMP and the BLAS; 0 uses every core", "0", 0},
    {"out", "DIR",
     "folder for metrics.csv, config.txt and model.bin (the model after the last epoch; must "
     "not hold another run)",
     "runs/train-DATE-TIME", 0},
    {"preprocess", "KIND",
     "input preprocessing fitted on the training set: none, standardize, pca, zca", "standardize",
     0},
    {"preprocess-eps", "EPS",
     "standardize: added to each std; pca, zca: added to each eigenvalue of the covariance",
     "1e-3 standardize, 1e-2 pca and zca", 0},
    {"val", "N", "hold out N training examples as a validation set", "0", 0},
    {"limit", "N", "train on the first N training examples only (0: all)", "0", 0},
    {"eval-train", NULL, "evaluate on the whole training set each epoch (default: running mean)",
     NULL, 0},
    {"quiet", NULL, "no progress display during epochs", NULL, 0},
};
enum { N_TRAIN_OPTIONS = sizeof train_options / sizeof train_options[0] };

typedef struct train_config {
  const char *data_dir, *model, *opt, *lr, *out;
  descent_loss_kind loss;
  descent_preprocess_kind preprocess;
  double preprocess_eps;
  size_t batch_size, epochs, threads, val, limit;
  uint64_t seed;
  int eval_train, quiet;
  char out_default[64];
} train_config;

static int read_config(train_config *c) {
  cli_option *o = train_options;
  int n = N_TRAIN_OPTIONS;
  c->data_dir = cli_get(o, n, "data-dir");
  c->model = cli_get(o, n, "model");
  c->opt = cli_get(o, n, "opt");
  c->lr = cli_get(o, n, "lr");
  c->eval_train = cli_flag(o, n, "eval-train");
  c->quiet = cli_flag(o, n, "quiet");
  if (cli_get_size(o, n, "batch-size", 1, 1 << 20, &c->batch_size) ||
      cli_get_size(o, n, "epochs", 1, 1000000, &c->epochs) ||
      cli_get_size(o, n, "threads", 0, 1024, &c->threads) ||
      cli_get_size(o, n, "val", 0, (size_t)1 << 40, &c->val) ||
      cli_get_size(o, n, "limit", 0, (size_t)1 << 40, &c->limit) ||
      cli_get_u64(o, n, "seed", &c->seed))
    return -1;
  if (descent_loss_parse(cli_get(o, n, "loss"), &c->loss) ||
      descent_preprocess_parse(cli_get(o, n, "preprocess"), &c->preprocess)) {
    fprintf(stderr, "descent train: %s\n", descent_last_error());
    return -1;
  }
  c->preprocess_eps = descent_preprocess_default_eps(c->preprocess);
  if (cli_find(o, n, "preprocess-eps")->given) {
    const char *text = cli_get(o, n, "preprocess-eps");
    char *end;
    c->preprocess_eps = strtod(text, &end);
    if (end == text || *end || !(c->preprocess_eps > 0) || !isfinite(c->preprocess_eps)) {
      fprintf(stderr, "descent train: --preprocess-eps: '%s' is not a positive number\n", text);
      return -1;
    }
  }
  if (cli_find(o, n, "out")->given) {
    c->out = cli_get(o, n, "out");
  } else {
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(c->out_default, sizeof c->out_default, "runs/train-%Y%m%d-%H%M%S", &tm);
    c->out = c->out_default;
  }
  return 0;
}

/* mkdir -p, then refuse a folder that already holds a run: a log is never
   overwritten. */
static int prepare_out_dir(const char *dir) {
  char path[4096];
  if (strlen(dir) >= sizeof path - 32) {
    fprintf(stderr, "descent train: --out path too long\n");
    return -1;
  }
  snprintf(path, sizeof path, "%s", dir);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
      fprintf(stderr, "descent train: cannot create folder '%s': %s\n", path, strerror(errno));
      return -1;
    }
    *p = '/';
  }
  if (mkdir(path, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "descent train: cannot create folder '%s': %s\n", path, strerror(errno));
    return -1;
  }
  snprintf(path, sizeof path, "%s/metrics.csv", dir);
  struct stat st;
  if (stat(path, &st) == 0) {
    fprintf(stderr,
            "descent train: '%s' already exists; choose another --out or move the old run away\n",
            path);
    return -1;
  }
  return 0;
}

static FILE *open_in(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) fprintf(stderr, "descent train: cannot write '%s': %s\n", path, strerror(errno));
  return f;
}

static void print_config(FILE *f, const train_config *c, const descent_dataset *train,
                         const descent_dataset *val, const descent_dataset *test, descent_net *net,
                         const descent_optimizer *opt) {
  char buf[4096];
  fprintf(f, "descent %s, %s, %s, %d threads\n", DESCENT_VERSION_STRING,
          sizeof(descent_real) == 8 ? "double" : "float", descent_blas_name(),
          descent_get_threads());
  fprintf(f, "data        %s: %zu train, %zu validation, %zu test examples of %zu features\n",
          c->data_dir, train->n, val->n, test->n, train->features);
  if (c->preprocess == DESCENT_PREPROCESS_NONE)
    fprintf(f, "preprocess  none\n");
  else
    fprintf(f, "preprocess  %s (eps %g, fitted on the training set)\n",
            descent_preprocess_name(c->preprocess), c->preprocess_eps);
  fprintf(f, "model       %s\n", c->model);
  descent_net_describe(net, buf, sizeof buf);
  for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
    fprintf(f, "            %s\n", line);
  descent_optimizer_describe(opt, buf, sizeof buf);
  fprintf(f, "optimizer   %s\n", buf);
  if (descent_optimizer_full_batch(opt))
    fprintf(f, "batch size  full batch: one step per epoch on all %zu examples, in chunks of %zu\n",
            train->n, c->batch_size);
  else
    fprintf(f, "batch size  %zu\n", c->batch_size);
  fprintf(f, "epochs      %zu, seed %llu\n", c->epochs, (unsigned long long)c->seed);
  fprintf(f, "output      %s\n", c->out);
}

typedef struct epoch_stats {
  double train_loss, train_acc, val_loss, val_acc, test_loss, test_acc;
  double samples_per_s, seconds;
} epoch_stats;

/* Prints the diagnosis of a loss that became NaN or infinite. */
static void report_divergence(const descent_optimizer *opt, size_t epoch, double loss) {
  fprintf(stderr,
          "descent train: diverged at step %lld (epoch %zu): loss is %s with learning rate "
          "%g; the step is too large for the curvature: lower --lr (try %g)\n",
          (long long)descent_optimizer_steps(opt), epoch, isnan(loss) ? "NaN" : "infinite",
          descent_optimizer_lr(opt), descent_optimizer_lr(opt) / 10);
}

static int step_failed(progress *bar) {
  progress_end(bar);
  fprintf(stderr, "descent train: %s\n", descent_last_error());
  return -1;
}

/* One pass over the training set. Returns 0, 1 when the loss diverged, -1 on
   another failure. */
static int train_epoch(descent_net *net, descent_optimizer *opt, descent_batcher *batcher,
                       const train_config *c, size_t epoch, epoch_stats *st) {
  descent_objective *obj = descent_net_objective(net);
  char label[32];
  snprintf(label, sizeof label, "epoch %zu/%zu", epoch, c->epochs);
  progress bar;
  progress_begin(&bar, progress_auto(c->quiet), descent_batcher_batches(batcher), label);
  descent_batch batch;
  double loss_sum = 0;
  size_t samples = 0, done = 0;
  double start = progress_now();
  while (descent_batcher_next(batcher, &batch)) {
    double loss;
    if (descent_objective_value_and_grad(obj, &batch, &loss)) return step_failed(&bar);
    if (!isfinite(loss)) {
      progress_end(&bar);
      report_divergence(opt, epoch, loss);
      return 1;
    }
    if (descent_optimizer_step(opt, obj)) return step_failed(&bar);
    loss_sum += loss * (double)batch.n;
    samples += batch.n;
    progress_update(&bar, ++done, loss_sum / (double)samples, samples);
  }
  st->seconds = progress_now() - start;
  progress_end(&bar);
  st->samples_per_s = st->seconds > 0 ? (double)samples / st->seconds : 0;
  st->train_loss = loss_sum / (double)samples;
  st->train_acc = NAN;
  return 0;
}

/* One full-batch step (gd): the gradient of the mean loss over the whole
   training set, computed in chunks of --batch-size so memory stays bounded.
   Each chunk's mean gradient is weighted by its share of the examples and
   summed in double in data order, so the result is the exact full-batch mean.
   `sum` holds n_params doubles. Returns like train_epoch. */
static int train_epoch_full_batch(descent_net *net, descent_optimizer *opt,
                                  const descent_dataset *train, double *sum, const train_config *c,
                                  size_t epoch, epoch_stats *st) {
  descent_objective *obj = descent_net_objective(net);
  size_t n = train->n, chunk = c->batch_size, params = obj->n_params;
  char label[32];
  snprintf(label, sizeof label, "epoch %zu/%zu", epoch, c->epochs);
  progress bar;
  progress_begin(&bar, progress_auto(c->quiet), (n + chunk - 1) / chunk, label);
  double start = progress_now(), loss_sum = 0;
  memset(sum, 0, params * sizeof *sum);
  for (size_t lo = 0, done = 0; lo < n; lo += chunk) {
    size_t count = n - lo < chunk ? n - lo : chunk;
    descent_batch batch = {.n = count,
                           .x = train->x + lo * train->features,
                           .labels = train->labels ? train->labels + lo : NULL};
    double loss, weight = (double)count / (double)n;
    if (descent_objective_value_and_grad(obj, &batch, &loss)) return step_failed(&bar);
    for (size_t i = 0; i < params; i++) sum[i] += weight * obj->grad[i];
    loss_sum += loss * (double)count;
    progress_update(&bar, ++done, loss_sum / (double)(lo + count), lo + count);
  }
  double loss = loss_sum / (double)n;
  if (!isfinite(loss)) {
    progress_end(&bar);
    report_divergence(opt, epoch, loss);
    return 1;
  }
  for (size_t i = 0; i < params; i++) obj->grad[i] = (descent_real)sum[i];
  if (descent_optimizer_step(opt, obj)) return step_failed(&bar);
  st->seconds = progress_now() - start;
  progress_end(&bar);
  st->samples_per_s = st->seconds > 0 ? (double)n / st->seconds : 0;
  st->train_loss = loss;
  st->train_acc = NAN;
  return 0;
}

static int evaluate(descent_net *net, const descent_dataset *ds, double *loss, double *acc) {
  *loss = *acc = NAN;
  if (ds->n == 0) return 0;
  if (descent_net_evaluate(net, ds, loss, acc)) {
    fprintf(stderr, "descent train: evaluation failed: %s\n", descent_last_error());
    return -1;
  }
  return 0;
}

static int run(train_config *c) {
  int status = 1;
  descent_dataset train = {0}, val = {0}, test = {0};
  descent_preprocess pp = {0};
  descent_batcher batcher = {0};
  descent_net *net = NULL;
  descent_optimizer *opt = NULL;
  double *grad_sum = NULL;
  FILE *csv = NULL, *cfg = NULL;
  char model_path[4096];
  snprintf(model_path, sizeof model_path, "%s/model.bin", c->out);

  descent_set_threads((int)c->threads);
  if (descent_fashion_mnist_load(c->data_dir, &train, &test)) goto fail_lib;
  if (c->limit && c->limit < train.n && descent_dataset_truncate(&train, c->limit)) goto fail_lib;
  if (c->val && descent_dataset_split(&train, c->val, c->seed, &val)) goto fail_lib;
  if (descent_preprocess_fit(&pp, c->preprocess, &train, c->preprocess_eps)) goto fail_lib;
  if (descent_preprocess_apply(&pp, &train) || descent_preprocess_apply(&pp, &val) ||
      descent_preprocess_apply(&pp, &test))
    goto fail_lib;
  if (descent_net_create(&net, c->model, &train.shape, c->loss, c->batch_size, c->seed))
    goto fail_lib;
  if (train.classes > descent_net_outputs(net)) {
    fprintf(stderr,
            "descent train: the data has %zu classes but the network has %zu outputs; make the "
            "last layer %zu wide\n",
            train.classes, descent_net_outputs(net), train.classes);
    goto done;
  }
  if (descent_optimizer_create(&opt, c->opt, c->lr, descent_net_objective(net)->n_params))
    goto fail_lib;
  if (descent_batcher_init(&batcher, &train, c->batch_size, 1, c->seed ^ 0x5eed)) goto fail_lib;
  if (descent_optimizer_full_batch(opt) &&
      !(grad_sum = calloc(descent_net_objective(net)->n_params, sizeof *grad_sum))) {
    fprintf(stderr, "descent train: out of memory for the full-batch gradient\n");
    goto done;
  }
  if (prepare_out_dir(c->out)) goto done;
  print_config(stdout, c, &train, &val, &test, net, opt);
  fflush(stdout);
  if (!(cfg = open_in(c->out, "config.txt")) || !(csv = open_in(c->out, "metrics.csv"))) goto done;
  print_config(cfg, c, &train, &val, &test, net, opt);
  fclose(cfg);
  cfg = NULL;
  fprintf(csv, "epoch,step,lr,train_loss,train_acc,val_loss,val_acc,test_loss,test_acc,"
               "samples_per_s,train_seconds\n");
  double total_seconds = 0;
  for (size_t epoch = 1; epoch <= c->epochs; epoch++) {
    epoch_stats st;
    double lr = descent_optimizer_lr(opt);
    int rc = grad_sum ? train_epoch_full_batch(net, opt, &train, grad_sum, c, epoch, &st)
                      : train_epoch(net, opt, &batcher, c, epoch, &st);
    if (rc) goto done;
    total_seconds += st.seconds;
    /* Schedule-free optimizers are evaluated at their average, not where the
       gradients were taken; for the others this changes nothing. */
    descent_objective *obj = descent_net_objective(net);
    if (descent_optimizer_eval(opt, obj)) goto fail_lib;
    if (c->eval_train && evaluate(net, &train, &st.train_loss, &st.train_acc)) goto done;
    if (evaluate(net, &val, &st.val_loss, &st.val_acc) ||
        evaluate(net, &test, &st.test_loss, &st.test_acc))
      goto done;
    /* The model as evaluated, replaced atomically after every epoch. */
    if (descent_net_save(net, &pp, model_path)) goto fail_lib;
    if (descent_optimizer_train(opt, obj)) goto fail_lib;
    printf("epoch %zu/%zu | train loss %.4f%s", epoch, c->epochs, st.train_loss,
           c->eval_train ? "" : " (running)");
    if (c->eval_train) printf(" acc %.2f%%", 100 * st.train_acc);
    if (val.n) printf(" | val loss %.4f acc %.2f%%", st.val_loss, 100 * st.val_acc);
    printf(" | test loss %.4f acc %.2f%% | train samples/s: %.0f | %.1f s\n", st.test_loss,
           100 * st.test_acc, st.samples_per_s, st.seconds);
    fflush(stdout);
    fprintf(csv, "%zu,%lld,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.1f,%.3f\n", epoch,
            (long long)descent_optimizer_steps(opt), lr, st.train_loss, st.train_acc, st.val_loss,
            st.val_acc, st.test_loss, st.test_acc, st.samples_per_s, st.seconds);
    fflush(csv);
  }
  printf("done: %zu epochs, %.1f s of training; metrics in %s/metrics.csv, model in %s\n",
         c->epochs, total_seconds, c->out, model_path);
  status = 0;
  goto done;
fail_lib:
  fprintf(stderr, "descent train: %s\n", descent_last_error());
done:
  if (csv && fclose(csv) != 0) {
    fprintf(stderr, "descent train: writing metrics.csv failed: %s\n", strerror(errno));
    status = 1;
  }
  if (cfg) fclose(cfg);
  free(grad_sum);
  descent_batcher_free(&batcher);
  descent_optimizer_free(opt);
  descent_net_free(net);
  descent_preprocess_free(&pp);
  descent_dataset_free(&train);
  descent_dataset_free(&val);
  descent_dataset_free(&test);
  return status;
}

int cmd_train(int argc, char **argv) {
  int rc = cli_parse(argc, argv, 1, train_options, N_TRAIN_OPTIONS, "train",
                     "Train a network on an IDX data set (Fashion-MNIST by default) and report\n"
                     "train and test loss and accuracy after every epoch.");
  if (rc) return rc < 0 ? 2 : 0;
  train_config c;
  memset(&c, 0, sizeof c);
  if (read_config(&c)) return 2;
  return run(&c);
}
