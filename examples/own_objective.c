/*
 * own_objective.c - train your own model with descent's trainer.
 *
 * The model here is softmax (multinomial logistic) regression with an L2
 * penalty on its weights, written in
 * plain C as a descent_objective: you own the parameter and gradient
 * buffers and compute the loss and its gradient; descent brings the
 * optimizer (any chain: "sgd", "adam", "clip(1) | adam | wd(1e-4)"), the
 * training loop, the divergence guard and checkpoints from which a run
 * resumes to the same bits as a run that never stopped.
 *
 *   own_objective --make-data train.csv [--rows 3000] [--seed 1]
 *       writes a CSV of 8 features and a class label (0, 1 or 2) per row
 *   own_objective --data train.csv --dir ckpt [--opt momentum] [--lr 0.1]
 *                 [--epochs 6] [--batch 32] [--checkpoint-every 10]
 *                 [--resume] [--stop-after STEP]
 *       trains, writing checkpoints into the folder ckpt (made if missing),
 *       and prints the final loss, accuracy and a checksum of the
 *       parameters. --resume goes on from the newest checkpoint in ckpt.
 *       --stop-after kills the program (SIGKILL) right after that step, to
 *       try the resume.
 *   own_objective
 *       (no arguments) both in one go, in the current folder: writes
 *       own_objective.csv and trains on it with checkpoints in
 *       own_objective-ckpt.
 *
 * Build against an installed descent:
 *   cc own_objective.c $(pkg-config --cflags --libs descent) -o own_objective
 */
#include <descent.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- the model: your own objective ------------------------------------------- */

/* Softmax regression: scores = W x + b for `classes` classes. The flat
   parameter buffer holds W (classes x features, row-major), then b. */
typedef struct softmax_model {
  descent_objective obj; /* first, so the objective's address is the model's */
  size_t features, classes;
  double l2;      /* the penalty l2/2 |W|^2 */
  double *scores; /* scratch: one example's scores */
} softmax_model;

/* The batch-mean cross-entropy plus the penalty, and its gradient, in
   double. */
static int softmax_value_and_grad(descent_objective *obj, const descent_batch *batch,
                                  double *loss) {
  softmax_model *m = obj->impl;
  size_t f = m->features, k = m->classes;
  const descent_real *w = obj->params, *b = obj->params + k * f;
  if (!batch || !batch->x || !batch->labels) /* the message reaches descent_last_error() */
    return descent_set_error(DESCENT_EINVAL,
                             "softmax regression needs a batch of labelled examples");
  double *gw = calloc(k * f + k, sizeof *gw), sum = 0;
  if (!gw) return descent_set_error(DESCENT_ENOMEM, "softmax regression: out of memory");
  for (size_t i = 0; i < batch->n; i++) {
    const descent_real *x = batch->x + i * f;
    double top = -INFINITY, total = 0;
    for (size_t c = 0; c < k; c++) {
      double s = b[c];
      for (size_t j = 0; j < f; j++) s += (double)w[c * f + j] * x[j];
      m->scores[c] = s;
      if (s > top) top = s;
    }
    for (size_t c = 0; c < k; c++) total += exp(m->scores[c] - top);
    int32_t y = batch->labels[i];
    sum += top + log(total) - m->scores[y]; /* -log softmax(scores)[y] */
    for (size_t c = 0; c < k; c++) {
      /* d loss / d score_c = softmax_c - [c == y], averaged over the batch */
      double d = (exp(m->scores[c] - top) / total - (c == (size_t)y)) / (double)batch->n;
      for (size_t j = 0; j < f; j++) gw[c * f + j] += d * x[j];
      gw[k * f + c] += d;
    }
  }
  double penalty = 0;
  for (size_t p = 0; p < k * f; p++) {
    penalty += 0.5 * m->l2 * (double)w[p] * w[p];
    gw[p] += m->l2 * w[p];
  }
  for (size_t p = 0; p < k * f + k; p++) obj->grad[p] = (descent_real)gw[p];
  free(gw);
  *loss = sum / (double)batch->n + penalty;
  return DESCENT_OK;
}

/* Only value_and_grad is required; the trainer saves obj->params itself, and
   this model has no other state to checkpoint. */
static const descent_objective_ops softmax_ops = {.kind = "softmax-regression",
                                                  .value_and_grad = softmax_value_and_grad};

static int softmax_init(softmax_model *m, size_t features, size_t classes, double l2) {
  size_t n = classes * features + classes;
  memset(m, 0, sizeof *m);
  m->l2 = l2;
  m->features = features;
  m->classes = classes;
  m->scores = calloc(classes, sizeof *m->scores);
  m->obj.ops = &softmax_ops;
  m->obj.n_params = n;
  m->obj.params = calloc(n, sizeof *m->obj.params); /* start at zero */
  m->obj.grad = calloc(n, sizeof *m->obj.grad);
  m->obj.impl = m;
  return m->scores && m->obj.params && m->obj.grad ? DESCENT_OK : DESCENT_ENOMEM;
}

static void softmax_free(softmax_model *m) {
  free(m->scores);
  free(m->obj.params);
  free(m->obj.grad);
}

/* Mean loss and accuracy over the whole data set. */
static int evaluate(softmax_model *m, const descent_dataset *ds, double *loss, double *accuracy) {
  descent_batch all = {.n = ds->n, .x = ds->x, .labels = ds->labels};
  int rc = softmax_value_and_grad(&m->obj, &all, loss);
  size_t right = 0, f = m->features, k = m->classes;
  for (size_t i = 0; !rc && i < ds->n; i++) {
    size_t best = 0;
    double best_score = -INFINITY;
    for (size_t c = 0; c < k; c++) {
      double s = m->obj.params[k * f + c];
      for (size_t j = 0; j < f; j++) s += (double)m->obj.params[c * f + j] * ds->x[i * f + j];
      if (s > best_score) best_score = s, best = c;
    }
    right += best == (size_t)ds->labels[i];
  }
  *accuracy = (double)right / (double)ds->n;
  return rc;
}

/* FNV-1a over the parameters' bytes: equal checksums, equal bits. */
static unsigned long long checksum(const descent_objective *obj) {
  const unsigned char *p = (const unsigned char *)obj->params;
  unsigned long long h = 1469598103934665603ULL;
  for (size_t i = 0; i < obj->n_params * sizeof *obj->params; i++)
    h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

/* ---- a data set to try it on --------------------------------------------------- */

/* Three Gaussian clusters in 8 dimensions, a little overlapping. */
static int make_data(const char *path, long rows, unsigned long long seed) {
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "own_objective: cannot write '%s': %s\n", path, strerror(errno));
    return 1;
  }
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  for (int j = 0; j < 8; j++) fprintf(f, "x%d,", j);
  fprintf(f, "label\n");
  for (long i = 0; i < rows; i++) {
    int label = (int)descent_rng_below(&rng, 3);
    for (int j = 0; j < 8; j++)
      fprintf(f, "%.6f,", 1.5 * ((j + label) % 3 == 0) - 0.5 * label + descent_rng_normal(&rng));
    fprintf(f, "%d\n", label);
  }
  if (fclose(f) != 0) {
    fprintf(stderr, "own_objective: cannot write '%s'\n", path);
    return 1;
  }
  return 0;
}

/* ---- training ------------------------------------------------------------------- */

typedef struct options {
  const char *data, *dir, *opt, *lr;
  long epochs, batch, every, stop_after;
  int resume;
} options;

static void on_epoch_line(const descent_epoch_report *r) {
  printf("epoch %lld: train loss %.6f (step %lld)\n", (long long)r->epoch, r->train_loss,
         (long long)r->step);
}

static int on_epoch(void *user, const descent_epoch_report *r) {
  (void)user;
  on_epoch_line(r);
  return 0;
}

/* --stop-after: die as a crash would, with no chance to save anything. */
static void on_step(void *user, const descent_step_report *r) {
  const options *o = user;
  if (o->stop_after > 0 && r->step == o->stop_after) {
    fflush(stdout);
    raise(SIGKILL);
  }
}

/* Prints the library's message and returns 1. */
static int failed(const char *what) {
  fprintf(stderr, "own_objective: %s: %s\n", what, descent_last_error());
  return 1;
}

static int train(const options *o) {
  descent_dataset ds;
  if (descent_csv_load(o->data, NULL, &ds)) return failed("loading the data");
  softmax_model model;
  descent_optimizer *opt = NULL;
  descent_trainer *trainer = NULL;
  int status = 1;
  if (softmax_init(&model, ds.features, ds.classes, 0.05)) {
    fprintf(stderr, "own_objective: out of memory\n");
    goto done;
  }
  if (descent_optimizer_create(&opt, o->opt, o->lr, model.obj.n_params)) {
    failed("the optimizer");
    goto done;
  }
  mkdir(o->dir, 0777); /* a folder that exists already is fine */
  /* A run's identity: its checkpoints name it, so a folder is never mixed
     with another run's files. */
  descent_trainer_options to;
  descent_trainer_options_default(&to);
  int rc = descent_run_id_load(o->dir, &to.run_id); /* 1: the folder holds no run */
  if (o->resume && rc == 1) {
    fprintf(stderr,
            "own_objective: %s holds no run to resume (no file run-id): start without --resume\n",
            o->dir);
    goto done;
  }
  if (!o->resume && rc == DESCENT_OK) { /* never take over another run's folder */
    fprintf(stderr,
            "own_objective: %s holds a run already: add --resume to go on with it, or give "
            "another folder\n",
            o->dir);
    goto done;
  }
  if (!o->resume && rc == 1) {
    rc = descent_run_id_generate(&to.run_id);
    if (!rc) rc = descent_run_id_save(o->dir, &to.run_id);
  }
  if (rc) {
    failed(o->resume ? "the run to resume" : "the run id");
    goto done;
  }
  to.batch_size = (size_t)o->batch;
  to.seed = 1;
  to.checkpoint_dir = o->dir;
  to.checkpoint_every = o->every;
  to.on_epoch = on_epoch;
  to.on_step = on_step;
  to.user = (void *)o;
  if (descent_trainer_create(&trainer, &model.obj, opt, &ds, &to)) {
    failed("the trainer");
    goto done;
  }
  if (o->resume) {
    char path[4096];
    if (descent_checkpoint_find(o->dir, path, sizeof path, NULL, 0) ||
        descent_trainer_load(trainer, path)) {
      failed("resuming");
      goto done;
    }
    printf("resumed from %s at step %lld\n", path, (long long)descent_trainer_steps(trainer));
  }
  /* DESCENT_EDIVERGED says which step, which loss, and what to do. */
  if (descent_trainer_run(trainer, o->epochs, 0)) {
    failed("training");
    goto done;
  }
  double loss, accuracy;
  if (evaluate(&model, &ds, &loss, &accuracy)) {
    fprintf(stderr, "own_objective: evaluation failed\n");
    goto done;
  }
  printf("final loss %.9g\naccuracy %.4f\nchecksum %016llx\n", loss, accuracy,
         checksum(&model.obj));
  status = 0;
done:
  descent_trainer_free(trainer);
  descent_optimizer_free(opt);
  softmax_free(&model);
  descent_dataset_free(&ds);
  return status;
}

/* ---- the command line --------------------------------------------------------- */

static int usage(const char *why) {
  fprintf(
      stderr,
      "own_objective: %s\nusage: own_objective --make-data PATH [--rows N] [--seed N]\n"
      "       own_objective --data PATH --dir FOLDER [--opt SPEC] [--lr RATE] [--epochs N]\n"
      "                     [--batch N] [--checkpoint-every N] [--resume] [--stop-after STEP]\n",
      why);
  return 2;
}

/* A whole positive number, or -1. */
static long number(const char *text) {
  char *end;
  errno = 0;
  long v = text ? strtol(text, &end, 10) : -1;
  return text && *text && !*end && !errno && v > 0 ? v : -1;
}

int main(int argc, char **argv) {
  options o = {.opt = "momentum", .lr = "0.1", .epochs = 6, .batch = 32, .every = 10};
  const char *make = NULL;
  long rows = 3000, seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    long *n = !strcmp(a, "--rows")               ? &rows
              : !strcmp(a, "--seed")             ? &seed
              : !strcmp(a, "--epochs")           ? &o.epochs
              : !strcmp(a, "--batch")            ? &o.batch
              : !strcmp(a, "--checkpoint-every") ? &o.every
              : !strcmp(a, "--stop-after")       ? &o.stop_after
                                                 : NULL;
    const char **s = !strcmp(a, "--make-data") ? &make
                     : !strcmp(a, "--data")    ? &o.data
                     : !strcmp(a, "--dir")     ? &o.dir
                     : !strcmp(a, "--opt")     ? &o.opt
                     : !strcmp(a, "--lr")      ? &o.lr
                                               : NULL;
    if (!strcmp(a, "--resume")) {
      o.resume = 1;
    } else if (n) {
      if ((*n = number(v)) < 0) return usage("a positive whole number must follow the option");
      i++;
    } else if (s) {
      if (!v) return usage("a value must follow the option");
      *s = v;
      i++;
    } else {
      return usage("unknown option");
    }
  }
  if (make) return make_data(make, rows, (unsigned long long)seed);
  if (argc == 1) { /* the quick tour: data of its own, then a run */
    int rc = make_data("own_objective.csv", rows, (unsigned long long)seed);
    if (rc) return rc;
    o.data = "own_objective.csv", o.dir = "own_objective-ckpt";
  }
  if (!o.data || !o.dir) return usage("--data and --dir are required");
  return train(&o);
}
