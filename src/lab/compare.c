/*
 * compare.c - what the demos generalization and tuning share: the lecture's
 * five optimizers trained on a small Fashion-MNIST MLP with their learning
 * curves, the statistics over seeds, and the width of a learning rate's good
 * window.
 *
 * Each run is independent (its own network, batcher and optimizer, seeded),
 * so the runs of a demo go one per thread and give the same numbers in any
 * order and on any number of threads.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const lab_compare_optimizers[LAB_COMPARE_OPTIMIZERS] = {"sgd", "momentum", "adagrad",
                                                                    "rmsprop", "adam"};

int lab_compare_adaptive(int k) {
  return k >= 2;
}

/* ---- data ------------------------------------------------------------------ */

int lab_fmnist_load(const char *dir, int64_t n_train, int64_t n_val, int64_t n_test,
                    lab_fmnist *d) {
  memset(d, 0, sizeof *d);
  int rc = descent_fashion_mnist_load(dir, &d->train, &d->test);
  if (!rc && (size_t)(n_train + n_val) > d->train.n)
    rc = descent_fail(DESCENT_EINVAL,
                      "--train %lld + --val %lld: the training set has %zu images; ask for fewer",
                      (long long)n_train, (long long)n_val, d->train.n);
  /* The validation images follow the training ones in the official
     training set: the first n_train + n_val of it, the last n_val held out. */
  if (!rc && (size_t)(n_train + n_val) < d->train.n)
    rc = descent_dataset_truncate(&d->train, (size_t)(n_train + n_val));
  if (!rc && (size_t)n_test < d->test.n) rc = descent_dataset_truncate(&d->test, (size_t)n_test);
  if (!rc) rc = descent_dataset_split(&d->train, (size_t)n_val, 1, &d->val);
  if (rc) lab_fmnist_free(d);
  return rc;
}

void lab_fmnist_free(lab_fmnist *d) {
  descent_dataset_free(&d->train);
  descent_dataset_free(&d->val);
  descent_dataset_free(&d->test);
}

/* ---- one run ---------------------------------------------------------------- */

void lab_mlp_spec(const lab_mlp_setup *s, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  if (s->pool > 1) used += (size_t)snprintf(buf, cap, "avgpool(%lld), ", (long long)s->pool);
  for (int64_t i = 0; i < s->depth && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "dense(%lld), relu, ", (long long)s->width);
  if (used < cap) snprintf(buf + used, cap - used, "dense(10)");
}

int64_t lab_mlp_steps(const lab_mlp_setup *s, size_t n_train) {
  int64_t per_epoch = (int64_t)((n_train + (size_t)s->batch - 1) / (size_t)s->batch);
  return per_epoch * s->epochs;
}

void lab_curve_free(lab_curve *c) {
  free(c->step);
  free(c->train_loss);
  free(c->val_acc);
  free(c->test_acc);
  memset(c, 0, sizeof *c);
}

static int curve_alloc(lab_curve *c, int n) {
  c->step = calloc((size_t)n, sizeof *c->step);
  c->train_loss = calloc((size_t)n, sizeof *c->train_loss);
  c->val_acc = calloc((size_t)n, sizeof *c->val_acc);
  c->test_acc = calloc((size_t)n, sizeof *c->test_acc);
  if (c->step && c->train_loss && c->val_acc && c->test_acc) return DESCENT_OK;
  lab_curve_free(c);
  return descent_fail(DESCENT_ENOMEM, "learning curve: out of memory");
}

/* One evaluation: the training loss on the whole training subset (in
   evaluation mode, as the target compares it), the accuracies on the
   validation and test images. */
static int curve_point(descent_net *net, const lab_fmnist *d, int64_t step, lab_curve *c) {
  double loss, acc, val_loss, val_acc, test_loss, test_acc;
  int rc = descent_net_evaluate(net, &d->train, &loss, &acc);
  if (!rc) rc = descent_net_evaluate(net, &d->val, &val_loss, &val_acc);
  if (!rc) rc = descent_net_evaluate(net, &d->test, &test_loss, &test_acc);
  if (rc) return rc;
  c->step[c->n] = (double)step;
  c->train_loss[c->n] = loss;
  c->val_acc[c->n] = val_acc;
  c->test_acc[c->n] = test_acc;
  c->n++;
  if (!isfinite(loss) || loss > 1e3) c->diverged = 1;
  return DESCENT_OK;
}

int lab_mlp_train(const lab_fmnist *d, const lab_mlp_setup *s, int opt, double lr, uint64_t seed,
                  lab_curve *out) {
  memset(out, 0, sizeof *out);
  char spec[512], rate[LAB_NUM];
  lab_mlp_spec(s, spec, sizeof spec);
  int64_t steps = lab_mlp_steps(s, d->train.n);
  int64_t every = steps / s->evals > 0 ? steps / s->evals : 1;
  descent_net *net = NULL;
  descent_optimizer *o = NULL;
  descent_batcher *b = NULL;
  /* Evaluations go in batches of up to 1000 images. */
  size_t max_batch = (size_t)s->batch > 1000 ? (size_t)s->batch : 1000;
  int rc = curve_alloc(out, (int)(steps / every) + 2);
  if (!rc)
    rc =
        descent_net_create(&net, spec, &d->train.shape, DESCENT_LOSS_SOFTMAX_XENT, max_batch, seed);
  descent_objective *obj = net ? descent_net_objective(net) : NULL;
  if (!rc)
    rc =
        descent_optimizer_create(&o, lab_compare_optimizers[opt], lab_num(rate, lr), obj->n_params);
  if (!rc) rc = descent_batcher_create(&b, &d->train, (size_t)s->batch, 1, seed);
  if (!rc) rc = curve_point(net, d, 0, out);
  for (int64_t t = 1; !rc && !out->diverged && t <= steps; t++) {
    descent_batch batch;
    if (!descent_batcher_next(b, &batch)) descent_batcher_next(b, &batch);
    double loss;
    rc = descent_objective_value_and_grad(obj, &batch, &loss);
    if (!rc && !isfinite(loss)) {
      out->diverged = 1;
      break;
    }
    if (!rc) rc = descent_optimizer_step(o, obj);
    if (!rc && (t % every == 0 || t == steps)) rc = curve_point(net, d, t, out);
  }
  descent_batcher_free(b);
  descent_optimizer_free(o);
  descent_net_free(net);
  if (rc) lab_curve_free(out);
  return rc;
}

int lab_mlp_train_all(const lab_fmnist *d, const lab_mlp_setup *s, lab_mlp_job *jobs, int n) {
  int *status = calloc((size_t)n, sizeof *status);
  if (!status) return descent_fail(DESCENT_ENOMEM, "runs: out of memory");
    /* One run per thread, each single-threaded inside the parallel region:
       the same numbers as in sequence. */
#pragma omp parallel for schedule(dynamic, 1)
  for (int i = 0; i < n; i++)
    status[i] = lab_mlp_train(d, s, jobs[i].opt, jobs[i].lr, jobs[i].seed, &jobs[i].curve);
  int rc = DESCENT_OK;
  for (int i = 0; i < n && !rc; i++)
    if (status[i]) /* again here, for the message */
      rc = lab_mlp_train(d, s, jobs[i].opt, jobs[i].lr, jobs[i].seed, &jobs[i].curve);
  free(status);
  return rc;
}

/* ---- statistics --------------------------------------------------------------- */

void lab_stats_of(const double *x, int n, lab_stats *out) {
  double sum = 0, lo = INFINITY, hi = -INFINITY;
  int k = 0;
  for (int i = 0; i < n; i++) {
    if (isnan(x[i])) continue;
    sum += x[i], k++;
    lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
  }
  out->n = k;
  out->mean = k ? sum / k : NAN;
  out->min = k ? lo : NAN;
  out->max = k ? hi : NAN;
  double ss = 0;
  for (int i = 0; i < n; i++)
    if (!isnan(x[i])) ss += (x[i] - out->mean) * (x[i] - out->mean);
  /* The sample standard deviation (n - 1): the spread between seeds. */
  out->sd = k > 1 ? sqrt(ss / (k - 1)) : (k ? 0 : NAN);
}

/* ---- the good window ----------------------------------------------------------- */

/* Where the score crosses the threshold between grid points i (passing) and
   j (failing), linear in log lr; the passing point when j's score is not a
   number (a diverged run gives no slope to follow). */
static double crossing_lr(const double *lr, const double *score, int i, int j, double thr) {
  if (isnan(score[j])) return lr[i];
  double s = (score[i] - thr) / (score[i] - score[j]);
  return exp(log(lr[i]) + s * (log(lr[j]) - log(lr[i])));
}

int lab_tuning_window(const double *lr, const double *score, int n, double rel, lab_window *w) {
  memset(w, 0, sizeof *w);
  int best = -1;
  for (int i = 0; i < n; i++) {
    if (i && !(lr[i] > lr[i - 1]))
      return descent_fail(DESCENT_EINVAL, "tuning window: the learning rates must increase");
    if (!isnan(score[i]) && (best < 0 || score[i] > score[best])) best = i;
  }
  if (best < 0 || !(score[best] > 0))
    return descent_fail(DESCENT_EINVAL,
                        "tuning window: no positive score on the grid (every run diverged?)");
  double thr = score[best] * (1 - rel);
  int i = best, j = best;
  while (i > 0 && score[i - 1] >= thr) i--;
  while (j < n - 1 && score[j + 1] >= thr) j++;
  w->best_lr = lr[best];
  w->best = score[best];
  w->threshold = thr;
  w->lo_open = i == 0;
  w->hi_open = j == n - 1;
  w->lo = w->lo_open ? lr[0] : crossing_lr(lr, score, i, i - 1, thr);
  w->hi = w->hi_open ? lr[n - 1] : crossing_lr(lr, score, j, j + 1, thr);
  w->ratio = w->hi / w->lo;
  w->decades = log10(w->ratio);
  return DESCENT_OK;
}

int lab_lr_grid(const lab_args *a, const char *name, double *grid, int *n) {
  int rc = lab_arg_list(a, name, 1e-8, 1e3, 1, LAB_MAX_LIST, grid, n);
  for (int i = 1; !rc && i < *n; i++)
    if (!(grid[i] > grid[i - 1]))
      rc = descent_fail(DESCENT_EINVAL, "--%s: the learning rates must increase (%g after %g)",
                        name, grid[i], grid[i - 1]);
  return rc;
}
