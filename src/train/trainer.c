/*
 * trainer.c - the training loop: an optimizer on any objective, in
 * minibatch (or full-batch) steps over a data set, or in steps on the whole
 * objective or a caller's batches without one; the gradient hook and the
 * divergence guard that checks every step before it is taken (a method such
 * as lbfgs gets that checked evaluation as its step's first and evaluates
 * again on the same batch); and the points
 * where the state is checkpointed or rolled back.
 *
 * Everything that decides the trajectory lives in objects a checkpoint saves
 * (parameters, batch-norm statistics, dropout RNG, optimizer state, batcher,
 * this file's counters), and nothing here reads a clock or an address to
 * decide anything, so a run restored from a checkpoint takes the same steps,
 * bit for bit, as the run that wrote it.
 *
 * A checkpoint is serialized when it is due but written only after the next
 * batch's loss and gradient have passed the guard: the file then never holds
 * a state whose own loss is NaN or beyond the bound. When the run returns
 * normally, a pending checkpoint is written at once.
 */
#include "trainer_internal.h"

#include "tracker.h"

#include "core/multiversion.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void descent_trainer_options_default(descent_trainer_options *o) {
  memset(o, 0, sizeof *o);
  o->batch_size = 128;
  o->seed = 1;
  o->checkpoint_epochs = 1;
  o->keep = 3;
  o->max_loss = NAN;
  o->max_loss_factor = 100;
  o->on_diverge = DESCENT_DIVERGE_STOP;
  o->rollback_factor = 0.1;
  o->max_rollbacks = 3;
  o->steps_per_epoch = 1000;
}

int hook_failed(int rc, const char *hook) {
  if (descent_last_error()[0] == '\0')
    return descent_fail(rc, "the %s hook failed: %s", hook, descent_strerror(rc));
  return rc;
}

static int check_options(const descent_trainer_options *o) {
  if (o->batch_size == 0) return descent_fail(DESCENT_EINVAL, "trainer: batch size must be >= 1");
  int rc = descent_threads_check(o->threads, "trainer: threads");
  if (rc) return rc;
  if (o->keep < 1) return descent_fail(DESCENT_EINVAL, "trainer: keep %d: must be >= 1", o->keep);
  if (o->checkpoint_every < 0)
    return descent_fail(DESCENT_EINVAL, "trainer: checkpoint_every %lld: must be >= 0",
                        (long long)o->checkpoint_every);
  if (!isnan(o->max_loss) && !(o->max_loss > 0))
    return descent_fail(DESCENT_EINVAL, "trainer: max_loss %g: must be positive (or NAN: auto)",
                        o->max_loss);
  if (!(o->max_loss_factor > 1) || !isfinite(o->max_loss_factor))
    return descent_fail(DESCENT_EINVAL, "trainer: max_loss_factor %g: must be > 1 and finite",
                        o->max_loss_factor);
  if (o->on_diverge != DESCENT_DIVERGE_STOP && o->on_diverge != DESCENT_DIVERGE_ROLLBACK)
    return descent_fail(DESCENT_EINVAL, "trainer: unknown divergence policy %d",
                        (int)o->on_diverge);
  if (!(o->rollback_factor > 0 && o->rollback_factor < 1))
    return descent_fail(DESCENT_EINVAL, "trainer: rollback factor %g: must lie in (0, 1)",
                        o->rollback_factor);
  if (o->max_rollbacks < 1)
    return descent_fail(DESCENT_EINVAL, "trainer: max_rollbacks %d: must be >= 1",
                        o->max_rollbacks);
  if (o->steps_per_epoch < 1)
    return descent_fail(DESCENT_EINVAL, "trainer: steps_per_epoch %lld: must be >= 1",
                        (long long)o->steps_per_epoch);
  if (!o->save_sections != !o->load_sections)
    return descent_fail(DESCENT_EINVAL,
                        "trainer: save_sections and load_sections go together: give both or "
                        "neither");
  return DESCENT_OK;
}

static char *copy_text(const char *s) {
  size_t n = strlen(s);
  char *c = descent_calloc(n + 1, 1, "trainer: text");
  if (c) memcpy(c, s, n);
  return c;
}

/* ---- state kept for rollbacks and checkpoints ------------------------------- */

static int rollback_enabled(const descent_trainer *t) {
  return t->o.on_diverge == DESCENT_DIVERGE_ROLLBACK;
}

/* Serializes the current state as the pending checkpoint (replacing one not
   yet written: the newer state supersedes it). */
static int make_pending(descent_trainer *t, int to_disk) {
  double start = now_seconds();
  bytes_out o = {0};
  int rc = checkpoint_serialize(t, &o);
  if (rc) {
    free(o.data);
    return rc;
  }
  free(t->pending);
  t->pending = o.data;
  t->pending_len = o.len;
  t->pending_disk = to_disk;
  t->pending_step = descent_optimizer_steps(t->opt);
  t->io_seconds += now_seconds() - start;
  return DESCENT_OK;
}

static void drop_pending(descent_trainer *t) {
  free(t->pending);
  t->pending = NULL;
  t->pending_len = 0;
}

/* Keeps a state to roll back to (taking ownership of data); the oldest goes
   when there are `keep` of them. */
static void push_good(descent_trainer *t, unsigned char *data, size_t len, int64_t step) {
  if (t->n_good == t->cap_good) {
    free(t->good[0].data);
    memmove(t->good, t->good + 1, (size_t)(t->n_good - 1) * sizeof *t->good);
    t->n_good--;
  }
  t->good[t->n_good++] = (saved_state){data, len, step};
  t->restored = 0;
}

static void clear_good(descent_trainer *t) {
  for (int i = 0; i < t->n_good; i++) free(t->good[i].data);
  t->n_good = 0;
  t->restored = 0;
}

/* The pending state has passed the guard (or the run has completed): write
   it, and keep it as a state to roll back to. */
static int commit_pending(descent_trainer *t) {
  if (!t->pending) return DESCENT_OK;
  double start = now_seconds();
  int rc = DESCENT_OK;
  if (t->pending_disk) rc = checkpoint_write(t, t->pending, t->pending_len, t->pending_step, 1);
  if (!rc && rollback_enabled(t)) {
    push_good(t, t->pending, t->pending_len, t->pending_step);
    t->pending = NULL;
  }
  drop_pending(t);
  t->io_seconds += now_seconds() - start;
  return rc;
}

/* ---- the guard ------------------------------------------------------------------ */

static double loss_bound(const descent_trainer *t) {
  if (!isnan(t->o.max_loss)) return t->o.max_loss;
  if (isnan(t->first_loss)) return INFINITY;
  return t->o.max_loss_factor * fmax(t->first_loss, 1.0);
}

/* Euclidean norm in double; NaN or Inf when a component is. The divergence
   record's figure, computed only when the guard trips. */
static double grad_norm(const descent_objective *obj) {
  const descent_real *g = obj->grad;
  double s = 0;
  for (size_t i = 0; i < obj->n_params; i++) s += (double)g[i] * (double)g[i];
  return sqrt(s);
}

/* 1 when no component of v is NaN or Inf. x - x is 0 for every finite x
   and NaN otherwise; an OR of the comparisons needs no order, so every path
   gives the same answer, and the loop vectorizes at each path's width. */
static MULTIVERSION_BODY int block_finite_body(const descent_real *v, size_t n) {
  int bad = 0;
  for (size_t i = 0; i < n; i++) bad |= !(v[i] - v[i] == 0);
  return !bad;
}
MULTIVERSION(int, block_finite, (const descent_real *v, size_t n), (v, n))

/* Read once per step (the gradient) and per checkpoint (the parameters).
   Split over the threads like the rest of the step, or it costs a tenth of
   an MLP step at two threads; only from a million numbers (0.1 ms on one
   core): a smaller pass gains less from a second thread than one late
   partner costs on a shared machine. */
static int all_finite(const descent_real *v, size_t n) {
  enum { BLOCK = 65536 };
  size_t blocks = (n + BLOCK - 1) / BLOCK;
  int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static) if (parallel : n >= 1048576)
  for (size_t b = 0; b < blocks; b++) {
    size_t lo = b * BLOCK;
    bad |= !block_finite(v + lo, n - lo < BLOCK ? n - lo : BLOCK);
  }
  return !bad;
}

static void describe_problem(const descent_trainer *t, const descent_divergence *d, char *buf,
                             size_t cap) {
  if (strcmp(d->reason, "parameters") == 0)
    snprintf(buf, cap, "the parameters hold NaN or Inf after step %lld (last loss %g)",
             (long long)(d->step - 1), d->loss);
  else if (strcmp(d->reason, "gradient") == 0)
    snprintf(buf, cap, "the gradient holds NaN or Inf (loss %g)", d->loss);
  else if (!isfinite(d->loss))
    snprintf(buf, cap, "loss is %s", isnan(d->loss) ? "NaN" : "infinite");
  else if (isnan(t->o.max_loss))
    snprintf(buf, cap, "loss %g is beyond the bound %g (%g x the first loss %g)", d->loss, d->bound,
             t->o.max_loss_factor, t->first_loss);
  else
    snprintf(buf, cap, "loss %g is beyond the bound %g", d->loss, d->bound);
}

/* The guard tripped: record it, then roll back (returns OK) or stop (returns
   DESCENT_EDIVERGED with the diagnosis). */
static int diverged(descent_trainer *t, double loss, double norm, const char *reason) {
  descent_divergence *d = &t->divergence;
  d->step = descent_optimizer_steps(t->opt) + 1;
  d->epoch = t->epoch + 1;
  d->loss = loss;
  d->grad_norm = norm;
  d->lr = descent_optimizer_lr(t->opt);
  d->bound = loss_bound(t);
  d->reason = reason;
  d->rollbacks = t->rollbacks;
  d->restored_step = -1;
  t->diverged = 1;
  drop_pending(t);
  if (rollback_enabled(t) && t->n_good > 0 && t->rollbacks < t->o.max_rollbacks) {
    /* Diverged again from the state restored last time: that one is bad too;
       go one further back. */
    if (t->restored && t->n_good > 1) free(t->good[--t->n_good].data);
    const saved_state *g = &t->good[t->n_good - 1];
    double scale = descent_optimizer_lr_scale(t->opt) * t->o.rollback_factor;
    int taken = t->rollbacks + 1;
    int rc = checkpoint_restore(t, g->data, g->len, "the last good checkpoint", 0);
    if (rc) return rc;
    t->restored = 1;
    t->rollbacks = taken;
    rc = descent_optimizer_set_lr_scale(t->opt, scale);
    if (rc) return rc;
    d->rollbacks = taken;
    d->restored_step = g->step;
    /* The abandoned trajectory's files must not be resumed from. */
    t->last_checkpoint[0] = '\0';
    if (t->dir) {
      checkpoint_remove_after(t, g->step);
      char path[4096];
      snprintf(path, sizeof path, "%s/ckpt-%lld.dsc", t->dir, (long long)g->step);
      if (access(path, F_OK) == 0)
        snprintf(t->last_checkpoint, sizeof t->last_checkpoint, "%s", path);
    }
    if (t->o.on_rollback) t->o.on_rollback(t->o.user, d);
    return DESCENT_OK;
  }
  char problem[200], saved[4200] = "";
  describe_problem(t, d, problem, sizeof problem);
  if (t->last_checkpoint[0])
    snprintf(saved, sizeof saved, "; the last good checkpoint is %s", t->last_checkpoint);
  char gave_up[128] = "";
  if (rollback_enabled(t) && t->rollbacks > 0)
    snprintf(gave_up, sizeof gave_up, " after %d rollbacks (learning rate scaled by %g)",
             t->rollbacks, descent_optimizer_lr_scale(t->opt));
  /* A rate that is not finite (a schedule grown past the doubles) has no
     tenth to suggest. */
  char hint[160];
  if (isfinite(d->lr))
    snprintf(hint, sizeof hint,
             "the step is too large for the curvature: lower the learning rate (try %g)",
             d->lr / 10);
  else
    snprintf(hint, sizeof hint,
             "the learning rate is not finite: give a finite rate (a schedule that stays bounded)");
  return descent_fail(DESCENT_EDIVERGED,
                      "diverged at step %lld (epoch %lld)%s: %s with learning "
                      "rate %g; %s%s",
                      (long long)d->step, (long long)d->epoch, gave_up, problem, d->lr, hint,
                      saved);
}

/* Checks a batch before its step; returns 1 when the guard trips. */
static int guard_trips(descent_trainer *t, double loss, const char **reason) {
  if (!isfinite(loss) || loss > loss_bound(t)) {
    *reason = "loss";
    return 1;
  }
  /* The gradient's finiteness, not its norm: one pass that converts
     nothing, on every step; the norm is computed for the record only when
     the guard trips. */
  if (!all_finite(t->obj->grad, t->obj->n_params)) {
    *reason = "gradient";
    return 1;
  }
  return 0;
}

/* ---- steps ------------------------------------------------------------------------ */

static int record(descent_trainer *t, double loss, double loss_sum, size_t n, double lr) {
  if (t->n_history == t->cap_history) {
    size_t cap = t->cap_history ? 2 * t->cap_history : 256;
    double *l = realloc(t->losses, cap * sizeof *l);
    if (l) t->losses = l;
    double *r = l ? realloc(t->lrs, cap * sizeof *r) : NULL;
    if (r) t->lrs = r;
    if (!l || !r) return descent_fail(DESCENT_ENOMEM, "trainer: cannot grow the loss history");
    t->cap_history = cap;
  }
  t->losses[t->n_history] = loss;
  t->lrs[t->n_history] = lr;
  t->n_history++;
  if (t->epoch_batches == 0) t->epoch_lr = lr;
  t->epoch_batches++;
  t->epoch_samples += n;
  t->epoch_loss_sum += loss_sum;
  return DESCENT_OK;
}

/* A checkpoint point after a step or an epoch end. */
static int checkpoint_point(descent_trainer *t) {
  if (!t->dir && !rollback_enabled(t) && !t->o.checkpoint_replica) return DESCENT_OK;
  if (!all_finite(t->obj->params, t->obj->n_params)) {
    double last = t->n_history ? t->losses[t->n_history - 1] : NAN;
    return diverged(t, last, NAN, "parameters");
  }
  return make_pending(t, t->dir != NULL);
}

static int full_gradient(descent_trainer *t, int report_chunks, double *loss_sum);

/* A method's further evaluations (lbfgs's iterations and line search), on
   the step's batch: the minibatch, or the whole training set in chunks. The
   first one, at the step's start, is the trainer's own: it has passed the
   gradient hook and the guard. */
typedef struct step_closure {
  descent_trainer *t;
  const descent_batch *batch;
  int full; /* 1: the whole training set */
} step_closure;

static int evaluate_again(void *user, descent_objective *obj, double *loss) {
  step_closure *c = user;
  /* The same examples with the same randomness as the step's first
     evaluation (its dropout masks): one function for the whole step. */
  if (!c->full) return descent_objective_reevaluate(obj, c->batch, loss, obj->grad);
  double loss_sum;
  int rc = full_gradient(c->t, 0, &loss_sum);
  *loss = loss_sum / (double)c->t->train->n;
  return rc;
}

static int take_step(descent_trainer *t, const descent_batch *batch, int full, double loss) {
  if (!descent_optimizer_is_method(t->opt)) return descent_optimizer_step(t->opt, t->obj);
  step_closure c = {t, batch, full};
  descent_closure closure = {
      .evaluate = evaluate_again, .user = &c, .evaluated = 1, .loss = loss, .batch = batch};
  return descent_optimizer_step_with(t->opt, t->obj, &closure, NULL);
}

/* After a loss and gradient are known: the guard, then the pending
   checkpoint (now verified), then the step. Returns 1 when the step was
   refused and the state rolled back. */
static int guard_and_step(descent_trainer *t, double loss, double *lr, const descent_batch *batch,
                          int full) {
  if (isnan(t->first_loss) && isfinite(loss) && t->n_history == 0) t->first_loss = loss;
  const char *reason;
  if (guard_trips(t, loss, &reason)) {
    int rc = diverged(t, loss, grad_norm(t->obj), reason);
    return rc ? rc : 1;
  }
  int rc = commit_pending(t);
  if (rc) return rc;
  *lr = descent_optimizer_lr(t->opt);
  /* The instruments see the step the guard accepted, on its batch, before
     and after it is taken. */
  descent_tracker *tracker = t->o.tracker;
  if (tracker && (rc = tracker_before_step(tracker, batch, loss, t->epoch + 1))) return rc;
  rc = take_step(t, batch, full, loss);
  if (!rc && t->o.after_step) rc = t->o.after_step(t->o.user, t->obj);
  if (!rc && tracker) rc = tracker_after_step(tracker, batch);
  return rc;
}

static void report(descent_trainer *t, double loss, double lr, size_t batch, size_t batches,
                   size_t samples, double epoch_loss, int stepped) {
  if (!t->o.on_step) return;
  descent_step_report r = {.step = descent_optimizer_steps(t->opt),
                           .epoch = t->epoch + 1,
                           .batch = batch,
                           .batches = batches,
                           .samples = samples,
                           .loss = loss,
                           .epoch_loss = epoch_loss,
                           .lr = lr,
                           .stepped = stepped};
  t->o.on_step(t->o.user, &r);
}

/* The step's batch: the batcher's, a caller's (next_batch), or none (the
   whole objective). A positive status ends the run before the step. */
static int next_batch(descent_trainer *t, descent_batch *batch, const descent_batch **use) {
  memset(batch, 0, sizeof *batch);
  *use = batch;
  if (t->train) {
    /* At a finished epoch's position the batcher first rewinds (returns 0). */
    if (!descent_batcher_next(&t->batcher, batch) && !descent_batcher_next(&t->batcher, batch))
      return descent_fail(DESCENT_EINVAL, "trainer: the batcher gave no batch");
    return DESCENT_OK;
  }
  if (!t->o.next_batch) {
    *use = NULL;
    return DESCENT_OK;
  }
  descent_error_clear();
  int rc = t->o.next_batch(t->o.user, batch);
  if (rc < 0) return hook_failed(rc, "next_batch");
  if (rc > 0) return rc;
  if (batch->n == 0) return descent_fail(DESCENT_EINVAL, "trainer: next_batch gave an empty batch");
  size_t limit = t->obj->ops->max_batch ? t->obj->ops->max_batch(t->obj) : 0;
  if (limit && batch->n > limit)
    return descent_fail(DESCENT_EINVAL,
                        "trainer: next_batch gave %zu examples; the objective takes at most %zu",
                        batch->n, limit);
  return DESCENT_OK;
}

/* The gradient hook: between "gradient computed" and "guard and step". */
static int gradient_hook(descent_trainer *t, const descent_batch *batch, double *loss) {
  if (!t->o.on_gradient) return DESCENT_OK;
  descent_error_clear();
  int rc = t->o.on_gradient(t->o.user, t->obj, batch, loss);
  return rc < 0 ? hook_failed(rc, "on_gradient") : rc;
}

static int minibatch_step(descent_trainer *t) {
  double start = now_seconds();
  t->io_seconds = 0;
  descent_batch batch;
  const descent_batch *use;
  double loss, lr = 0;
  int rc = next_batch(t, &batch, &use);
  if (!rc) rc = descent_objective_value_and_grad(t->obj, use, &loss);
  if (!rc) rc = gradient_hook(t, use, &loss);
  if (rc) return rc;
  rc = guard_and_step(t, loss, &lr, use, 0);
  if (rc) return rc < 0 ? rc : DESCENT_OK; /* 1: rolled back */
  /* A step on the whole objective counts as one example. */
  size_t n = use ? use->n : 1;
  rc = record(t, loss, loss * (double)n, n, lr);
  if (rc) return rc;
  t->epoch_seconds += now_seconds() - start - t->io_seconds;
  t->timed_samples += n;
  report(t, loss, lr, t->epoch_batches, t->batches, t->epoch_samples,
         t->epoch_loss_sum / (double)t->epoch_samples, 1);
  int64_t every = t->o.checkpoint_every;
  if (every > 0 && descent_optimizer_steps(t->opt) % every == 0) return checkpoint_point(t);
  return DESCENT_OK;
}

/* gd: the gradient of the mean loss over the whole training set, computed in
   chunks of batch_size so memory stays bounded. Each chunk's mean gradient is
   weighted by its share of the examples and summed in double in data order,
   so the result is the exact full-batch mean. */
static int full_gradient(descent_trainer *t, int report_chunks, double *loss_sum_out) {
  const descent_dataset *ds = t->train;
  size_t n = ds->n, chunk = t->o.batch_size, params = t->obj->n_params;
  double loss_sum = 0;
  memset(t->grad_sum, 0, params * sizeof *t->grad_sum);
  size_t index = 0;
  for (size_t lo = 0; lo < n; lo += chunk) {
    size_t count = n - lo < chunk ? n - lo : chunk;
    /* A set held as bytes: the chunk decoded into the batcher's buffer, which
       full-batch steps leave unused otherwise. */
    descent_batch batch = {.n = count,
                           .x = dataset_inputs(ds, lo, count, t->batcher.x),
                           .labels = ds->labels ? ds->labels + lo : NULL};
    double loss, weight = (double)count / (double)n;
    int rc = descent_objective_value_and_grad(t->obj, &batch, &loss);
    if (rc) return rc;
    const descent_real *g = t->obj->grad;
    for (size_t i = 0; i < params; i++) t->grad_sum[i] += weight * g[i];
    loss_sum += loss * (double)count;
    ++index;
    if (report_chunks)
      report(t, loss, descent_optimizer_lr(t->opt), index, t->chunks, lo + count,
             loss_sum / (double)(lo + count), 0);
  }
  for (size_t i = 0; i < params; i++) t->obj->grad[i] = (descent_real)t->grad_sum[i];
  *loss_sum_out = loss_sum;
  return DESCENT_OK;
}

static int full_batch_step(descent_trainer *t) {
  double start = now_seconds();
  t->io_seconds = 0;
  size_t n = t->train->n;
  double loss_sum;
  int rc = full_gradient(t, 1, &loss_sum);
  if (rc) return rc;
  double loss = loss_sum / (double)n, lr = 0;
  double seen = loss;
  rc = gradient_hook(t, NULL, &loss);
  if (rc) return rc;
  /* A loss the hook changed is the step's loss for the epoch's mean too. */
  if (memcmp(&seen, &loss, sizeof loss) != 0) loss_sum = loss * (double)n;
  rc = guard_and_step(t, loss, &lr, NULL, 1);
  if (rc) return rc < 0 ? rc : DESCENT_OK;
  rc = record(t, loss, loss_sum, n, lr);
  if (rc) return rc;
  t->epoch_seconds += now_seconds() - start - t->io_seconds;
  t->timed_samples += n;
  report(t, loss, lr, t->chunks, t->chunks, n, loss, 1);
  int64_t every = t->o.checkpoint_every;
  if (every > 0 && descent_optimizer_steps(t->opt) % every == 0) return checkpoint_point(t);
  return DESCENT_OK;
}

/* The epoch's batches are done: report, count it, checkpoint. */
static int end_epoch(descent_trainer *t) {
  /* The callback saves the model: NaN or Inf must be caught before, or it
     replaces a good model file. */
  if ((t->dir || rollback_enabled(t) || t->o.on_epoch) &&
      !all_finite(t->obj->params, t->obj->n_params)) {
    double last = t->n_history ? t->losses[t->n_history - 1] : NAN;
    return diverged(t, last, NAN, "parameters"); /* OK after a rollback: go on from there */
  }
  if (t->o.on_epoch) {
    descent_epoch_report r = {
        .epoch = t->epoch + 1,
        .step = descent_optimizer_steps(t->opt),
        .lr = t->epoch_lr,
        .train_loss = t->epoch_samples ? t->epoch_loss_sum / (double)t->epoch_samples : NAN,
        .samples = t->epoch_samples,
        .seconds = t->epoch_seconds,
        .samples_per_s = t->epoch_seconds > 0 ? (double)t->timed_samples / t->epoch_seconds : 0};
    int rc = t->o.on_epoch(t->o.user, &r);
    /* Back to where gradients are taken, whatever the callback did; that
       clears the message, which the callback's failure needs. */
    char why[DESCENT_ERROR_CAP];
    snprintf(why, sizeof why, "%s", descent_last_error());
    int back = descent_optimizer_train(t->opt, t->obj);
    if (rc) return descent_fail(rc, "%s", why);
    if (back) return back;
  }
  t->epoch++;
  t->epoch_batches = t->epoch_samples = 0;
  t->epoch_loss_sum = t->epoch_seconds = 0;
  t->timed_samples = 0;
  t->epoch_lr = NAN;
  /* The batcher rewinds here rather than at its next call, so the state at
     an epoch's end is the next epoch's start. */
  if (t->train && t->batcher.position >= t->train->n) t->batcher.position = 0;
  if (t->o.checkpoint_epochs) return checkpoint_point(t);
  return DESCENT_OK;
}

/* A stop was requested between two steps: the state is consistent, so it is
   written as a checkpoint now (no batch will check it first; it is the state
   an uninterrupted run would go on from, and a resumed run will check it as
   that run would have). Unchecked, it prunes nothing: the checkpoints the
   guard verified all stay beside it. */
static int stop_here(descent_trainer *t) {
  long long step = (long long)descent_optimizer_steps(t->opt);
  if (!t->dir) {
    /* A replica joins the writer's serialization (a collective), and
       keeps nothing. */
    int rc = t->o.checkpoint_replica && all_finite(t->obj->params, t->obj->n_params)
                 ? make_pending(t, 0)
                 : DESCENT_OK;
    drop_pending(t);
    if (rc) return rc;
    return descent_fail(DESCENT_ESTOPPED, "stopped at step %lld; no checkpoint folder", step);
  }
  if (!all_finite(t->obj->params, t->obj->n_params)) {
    drop_pending(t);
    return descent_fail(DESCENT_ESTOPPED,
                        "stopped at step %lld; no checkpoint written: the parameters hold NaN "
                        "or Inf",
                        step);
  }
  int rc = make_pending(t, 1);
  if (!rc) rc = checkpoint_write(t, t->pending, t->pending_len, t->pending_step, 0);
  drop_pending(t);
  if (rc) return rc;
  return descent_fail(DESCENT_ESTOPPED, "stopped at step %lld; checkpoint %s written", step,
                      t->last_checkpoint);
}

static int reached(const descent_trainer *t, int64_t until_step) {
  return until_step > 0 && descent_optimizer_steps(t->opt) >= until_step;
}

static int run(descent_trainer *t, int64_t epochs, int64_t until_step) {
  descent_error_clear();
  if (!t) return descent_fail(DESCENT_EINVAL, "descent_trainer_run: t is NULL");
  int rc = DESCENT_OK;
  /* Each turn takes one step or closes one epoch; a rollback only moves the
     counters back. */
  while (!rc && t->epoch < epochs && !reached(t, until_step)) {
    if (t->o.stop && *t->o.stop)
      rc = stop_here(t);
    else if (t->epoch_batches < t->batches)
      rc = t->full_batch && t->train ? full_batch_step(t) : minibatch_step(t);
    else
      rc = end_epoch(t);
  }
  if (rc > 0) return rc; /* a hook ended the run: the state is consistent */
  if (rc) {
    drop_pending(t);
    return rc;
  }
  /* A finished run writes its last state at once; one stopped at until_step
     keeps it until the next batch has checked it. */
  return t->epoch >= epochs ? commit_pending(t) : DESCENT_OK;
}

/* The trainer's thread count holds for everything the run does. */
int descent_trainer_run(descent_trainer *t, int64_t epochs, int64_t until_step) {
  descent_thread_scope scope = descent_threads_begin(t ? t->o.threads : 0);
  int rc = run(t, epochs, until_step);
  descent_threads_end(scope);
  return rc;
}

/* ---- creation and accessors --------------------------------------------------- */

/* The objective against the data set and the batch size. */
static int check_objective(descent_objective *obj, const descent_dataset *train,
                           const descent_trainer_options *o) {
  if (!obj->ops || !obj->ops->value_and_grad || (obj->n_params && (!obj->params || !obj->grad)))
    return descent_fail(DESCENT_EINVAL,
                        "trainer: the objective lacks ops->value_and_grad or its buffers");
  if (!train) {
    if (o->preprocess)
      return descent_fail(DESCENT_EINVAL, "trainer: a preprocessing needs a data set to apply to");
    return DESCENT_OK;
  }
  if (o->next_batch)
    return descent_fail(DESCENT_EINVAL,
                        "trainer: next_batch replaces the data set: pass train NULL, or no "
                        "next_batch");
  if (train->n == 0 || (!train->x && !train->bytes))
    return descent_fail(DESCENT_EINVAL, "trainer: the training set is empty");
  if (obj->ops->check_data) {
    int rc = obj->ops->check_data(obj, train);
    if (rc) return rc;
  }
  size_t rows = o->batch_size < train->n ? o->batch_size : train->n;
  size_t limit = obj->ops->max_batch ? obj->ops->max_batch(obj) : 0;
  if (limit && rows > limit)
    return descent_fail(DESCENT_EINVAL,
                        "trainer: batches of %zu examples, the %s was built for at most %zu", rows,
                        obj->ops->kind ? obj->ops->kind : "objective", limit);
  return DESCENT_OK;
}

/* A chain that works per tensor (lamb, lars) steps on the objective's
   tensors: set them before anything is loaded, so that a checkpoint's state
   for another layout is refused when it loads. A layout the caller set
   stays. */
static int give_layout(descent_optimizer *opt, const descent_objective *obj) {
  size_t have = 0;
  descent_optimizer_tensors(opt, &have);
  if (!descent_optimizer_uses_tensors(opt) || have || !obj->n_tensors) return DESCENT_OK;
  return descent_optimizer_set_tensors(opt, obj->tensors, obj->n_tensors);
}

int descent_trainer_create(descent_trainer **out, descent_objective *obj, descent_optimizer *opt,
                           const descent_dataset *train, const descent_trainer_options *options) {
  descent_error_clear();
  if (!out || !obj || !opt)
    return descent_fail(DESCENT_EINVAL, "descent_trainer_create: a NULL argument");
  *out = NULL;
  descent_trainer_options defaults;
  if (!options) {
    descent_trainer_options_default(&defaults);
    options = &defaults;
  }
  int rc = check_options(options);
  if (!rc) rc = check_objective(obj, train, options);
  if (!rc) rc = descent_optimizer_check_objective(opt, obj);
  if (!rc) rc = give_layout(opt, obj);
  if (!rc && options->tracker)
    rc = tracker_check_trainer(options->tracker, obj, opt,
                               train && descent_optimizer_full_batch(opt),
                               train || options->next_batch);
  if (rc) return rc;
  descent_trainer *t = descent_calloc(1, sizeof *t, "trainer");
  if (!t) return DESCENT_ENOMEM;
  t->obj = obj;
  t->opt = opt;
  t->train = train;
  t->o = *options;
  t->first_loss = NAN;
  t->epoch_lr = NAN;
  t->full_batch = descent_optimizer_full_batch(opt);
  t->config = copy_text(options->config ? options->config : "");
  if (!t->config) goto fail;
  t->o.config = t->config;
  if (options->checkpoint_dir) {
    t->dir = copy_text(options->checkpoint_dir);
    if (!t->dir) goto fail;
  }
  t->o.checkpoint_dir = t->dir;
  if (!train) {
    t->batches = t->chunks = (size_t)options->steps_per_epoch;
  } else if ((rc = batcher_init(&t->batcher, train, options->batch_size, 1, options->seed))) {
    goto fail_rc;
  } else if (t->full_batch) {
    t->grad_sum = descent_calloc(obj->n_params ? obj->n_params : 1, sizeof *t->grad_sum,
                                 "trainer: full-batch gradient");
    if (!t->grad_sum) goto fail;
    t->batches = 1;
    t->chunks = (train->n + options->batch_size - 1) / options->batch_size;
  } else {
    t->batches = descent_batcher_batches(&t->batcher);
    t->chunks = t->batches;
  }
  if (train) t->labels_crc = checkpoint_labels_crc(train);
  if (t->dir) checkpoint_remove_temporaries(t->dir);
  t->cap_good = options->keep > 1 ? options->keep : 2;
  t->good = descent_calloc((size_t)t->cap_good, sizeof *t->good, "trainer: saved states");
  if (!t->good) goto fail;
  /* The start is the first checkpoint (ckpt-0.dsc once the first batch has
     passed the guard) and the first state a rollback can return to. */
  if (t->dir || rollback_enabled(t) || options->checkpoint_replica) {
    rc = make_pending(t, t->dir != NULL);
    if (rc) goto fail_rc;
  }
  *out = t;
  return DESCENT_OK;
fail:
  rc = DESCENT_ENOMEM;
fail_rc:
  descent_trainer_free(t);
  return rc;
}

void descent_trainer_free(descent_trainer *t) {
  if (!t) return;
  batcher_release(&t->batcher);
  free(t->config);
  free(t->dir);
  free(t->grad_sum);
  free(t->losses);
  free(t->lrs);
  free(t->pending);
  if (t->good) clear_good(t);
  free(t->good);
  free(t);
}

int64_t descent_trainer_steps(const descent_trainer *t) {
  return descent_optimizer_steps(t->opt);
}

int64_t descent_trainer_epochs(const descent_trainer *t) {
  return t->epoch;
}

void descent_trainer_history(const descent_trainer *t, size_t *count, const double **losses,
                             const double **lrs) {
  if (count) *count = t->n_history;
  if (losses) *losses = t->losses;
  if (lrs) *lrs = t->lrs;
}

const descent_divergence *descent_trainer_divergence(const descent_trainer *t) {
  return t->diverged ? &t->divergence : NULL;
}

const char *descent_trainer_last_checkpoint(const descent_trainer *t) {
  return t->last_checkpoint;
}

int descent_trainer_save(descent_trainer *t, const char *path) {
  descent_error_clear();
  if (!t || !path) return descent_fail(DESCENT_EINVAL, "descent_trainer_save: a NULL argument");
  if (!all_finite(t->obj->params, t->obj->n_params))
    return descent_fail(DESCENT_EDIVERGED,
                        "%s: not written: the parameters hold NaN or Inf after step %lld", path,
                        (long long)descent_optimizer_steps(t->opt));
  bytes_out o = {0};
  int rc = checkpoint_serialize(t, &o);
  if (rc)
    descent_error_prefix("%s: ", path);
  else
    rc = descent_write_file_atomic(path, o.data, o.len);
  free(o.data);
  if (!rc) snprintf(t->last_checkpoint, sizeof t->last_checkpoint, "%s", path);
  return rc;
}

int descent_trainer_load(descent_trainer *t, const char *path) {
  descent_error_clear();
  if (!t || !path) return descent_fail(DESCENT_EINVAL, "descent_trainer_load: a NULL argument");
  unsigned char *data;
  size_t len;
  int rc = descent_read_file(path, CHECKPOINT_MAX_BYTES, &data, &len);
  if (rc) return rc;
  rc = checkpoint_restore(t, data, len, path, 1);
  if (rc) {
    free(data);
    return rc;
  }
  drop_pending(t);
  snprintf(t->last_checkpoint, sizeof t->last_checkpoint, "%s", path);
  t->diverged = 0;
  if (rollback_enabled(t)) {
    clear_good(t);
    push_good(t, data, len, descent_optimizer_steps(t->opt));
  } else {
    free(data);
  }
  return DESCENT_OK;
}
