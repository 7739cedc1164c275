/*
 * logreg_lbfgs.c - L-BFGS against tuned gradient descent and tuned Adam on
 * full-batch multinomial logistic regression on Fashion-MNIST: how many
 * gradient evaluations (and seconds) each needs to bring the loss within a
 * relative 1e-6 of the optimum's.
 *
 * The problem: the training set (the first --examples of the 60,000, read
 * with the library's IDX loader), standardized per pixel with the library's
 * preprocessing fitted on those examples, and the model "mlp:784-10" (one
 * dense layer) with softmax cross-entropy, plus lambda/2 |theta|^2 on every
 * parameter, the bias included. The loss is the mean over all
 * examples, computed in chunks of --chunk examples summed in a fixed order,
 * by an objective of this program's own that wraps the network's; its
 * gradient is checked against finite differences first.
 *
 * f*, the optimum's loss, is the lowest loss of a long run of the lbfgs
 * below (from zero, until the gradient's norm is 1e-9, the loss stops
 * falling, or --fstar-cap evaluations); --fstar gives it instead. Each
 * method starts from zero and runs until (f - f*)/f* <= --target or --cap
 * evaluations:
 *   lbfgs  torch.optim.LBFGS with line_search_fn="strong_wolfe", lr 1,
 *          history --history (default 10), one step of up to --cap
 *          iterations, no tolerance of its own. When f* is computed, its
 *          race is the first part of the reference run: the method is
 *          deterministic and the closure only watches, so a run of its own
 *          would make the same evaluations, bit for bit;
 *   gd     a constant step (named optimizer gd), the best of --gd-lrs;
 *   adam   torch's defaults but the rate, the best of --adam-lrs.
 * Each rate of a grid runs --tune-cap evaluations; the best is the one that
 * reaches the target in the fewest evaluations or, when none does, the one
 * with the smallest gap, and (when it has not reached the target) runs
 * again up to --cap. A run whose loss becomes non-finite or exceeds 10
 * times the starting loss is reported as diverged. Every evaluation counts,
 * line-search trials included (each is one loss and one gradient on the
 * whole set); seconds are wall-clock time from the run's start.
 *
 * Writes, in --out: lbfgs.csv, gd.csv and adam.csv (the best rate's run),
 * fstar.csv (the reference run), one line per evaluation: evaluation,
 * seconds, loss, gap (f - f*)/f*, grad_norm (Euclidean), best_gap (the
 * smallest gap so far); grid.csv (every run of the grids); summary.tsv (one
 * line per method, for the plot). Prints the grids and the table.
 * bench/logreg_lbfgs.sh builds it, runs it and draws the curves.
 *
 * usage: logreg_lbfgs [--quick] [--check] [--examples N] [--chunk N]
 *          [--lambda L] [--target R] [--cap N] [--tune-cap N] [--history M]
 *          [--threads T] [--gd-lrs A,B,...] [--adam-lrs A,B,...] [--fstar F]
 *          [--fstar-cap N] [--methods lbfgs,gd,adam] [--data-dir DIR] [--out DIR]
 *   defaults: 60,000 examples in chunks of 10,000, lambda 1e-4, target
 *            1e-6, cap 2,000, tune-cap 200, fstar-cap 10,000, 2 threads,
 *            gd rates 1e-3 to 3.16 and adam rates 1e-4 to 0.316 (8 each,
 *            a factor sqrt(10) apart)
 *   --quick  5,000 examples, lambda 1e-2 (better conditioned: f* in about
 *            a thousand evaluations), cap 1,000, tune-cap 100, fstar-cap
 *            1,500, gd rates 0.01 to 1, adam 1e-3 to 1 (a factor 10 apart);
 *            with --check, the CTest bench_logreg_lbfgs_quick
 *   --methods  the methods to run (default all three); without --fstar the
 *            reference run is made in any case
 *   --check  exit 1 unless lbfgs reaches the target in fewer evaluations
 *            than the best gd and the best adam (77 without the data set)
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include "descent.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "timing.h"

#ifndef DESCENT_DOUBLE
#error                                                                                             \
    "logreg_lbfgs measures gaps of 1e-6 and below: build it with -DDESCENT_DOUBLE against libdescent64"
#endif

#define MAX_LRS    32
#define DIVERGED   10.0 /* a loss this many times the starting one: diverged */
#define FSTAR_GTOL 1e-9

typedef struct options {
  const char *data_dir, *out_dir;
  size_t examples, chunk;
  double lambda, target, fstar;
  long cap, tune_cap, fstar_cap;
  int history, threads, check;
  int methods; /* bits: 1 lbfgs, 2 gd, 4 adam */
  double gd_lrs[MAX_LRS], adam_lrs[MAX_LRS];
  int n_gd, n_adam;
} options;

static void die(const char *what) {
  fprintf(stderr, "logreg_lbfgs: %s: %s\n", what, descent_last_error());
  exit(1);
}

/* ---- the objective: the network's mean loss over the whole set, plus L2 ---- */

typedef struct logreg {
  descent_objective obj;     /* what the optimizers see; params are the network's */
  descent_objective *net;    /* the network's objective */
  const descent_dataset *ds; /* the full batch */
  size_t chunk;              /* examples per network call (its max_batch) */
  double lambda;             /* the L2 coefficient on the weight matrix */
} logreg;

/* The mean loss over batch (NULL: the whole set) and its gradient: the
   network's batch means, weighted by each chunk's share and summed in chunk
   order, then lambda/2 |theta|^2 over every parameter, the bias included
   (as torch's weight_decay does): without it the bias of a class the model
   separates almost perfectly has almost no curvature, and the loss is not
   lambda-strongly convex, so the gradient's norm would not bound the
   distance to f*. */
static int logreg_value_and_grad(descent_objective *obj, const descent_batch *batch, double *loss) {
  logreg *m = obj->impl;
  descent_batch all = {.n = m->ds->n, .x = m->ds->x, .labels = m->ds->labels};
  if (!batch) batch = &all;
  if (!batch->x || !batch->labels || batch->n == 0)
    return descent_set_error(DESCENT_EINVAL, "logreg: a batch needs examples, inputs and labels");
  size_t features = m->ds->features, n_params = obj->n_params;
  double sum = 0;
  for (size_t lo = 0; lo < batch->n; lo += m->chunk) {
    size_t n = batch->n - lo < m->chunk ? batch->n - lo : m->chunk;
    descent_batch part = {.n = n, .x = batch->x + lo * features, .labels = batch->labels + lo};
    double part_loss;
    int rc = descent_objective_value_and_grad(m->net, &part, &part_loss);
    if (rc) return rc;
    double share = (double)n / (double)batch->n;
    sum += share * part_loss;
    const descent_real *g = m->net->grad;
    if (lo == 0)
      for (size_t i = 0; i < n_params; i++) obj->grad[i] = share * g[i];
    else
      for (size_t i = 0; i < n_params; i++) obj->grad[i] += share * g[i];
  }
  double squares = 0;
  for (size_t i = 0; i < n_params; i++) {
    squares += obj->params[i] * obj->params[i];
    obj->grad[i] += m->lambda * obj->params[i];
  }
  *loss = sum + 0.5 * m->lambda * squares;
  return DESCENT_OK;
}

static const descent_objective_ops logreg_ops = {
    .kind = "logreg_l2",
    .value_and_grad = logreg_value_and_grad,
};

/* The wrapper over net's objective. */
static void logreg_init(logreg *m, descent_net *net, const descent_dataset *ds, size_t chunk,
                        double lambda) {
  descent_objective *no = descent_net_objective(net);
  *m = (logreg){.net = no, .ds = ds, .chunk = chunk, .lambda = lambda};
  m->obj = (descent_objective){.ops = &logreg_ops,
                               .n_params = no->n_params,
                               .params = no->params,
                               .grad = malloc(no->n_params * sizeof(descent_real)),
                               .n_tensors = no->n_tensors,
                               .tensors = no->tensors,
                               .impl = m};
  if (!m->obj.grad) {
    fprintf(stderr, "logreg_lbfgs: out of memory\n");
    exit(1);
  }
}

static double norm2(const descent_real *v, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)v[i] * (double)v[i];
  return sqrt(s);
}

/* The wrapper's gradient against central differences on a slice, at the
   network's random initialization (so that the L2 term is not zero), with
   the run's lambda and with lambda = 0.01 (0.1 when that is the run's: the
   L2 term's gradient is then as large as the data's), in uneven chunks (16, 16, 8) so that the
   weighting is checked too. Central differences with h = 1e-5 on a loss of
   order 1 leave about 1e-10 of rounding, 1e-6 relative at the floor of
   1e-4: the tolerance is 1e-5, far below what a missing or misweighted
   term gives. */
static void gradcheck_wrapper(const descent_dataset *ds, double lambda) {
  enum { SLICE = 40, CHUNK = 16 };
  descent_net *net = NULL;
  if (descent_net_create(&net, "mlp:784-10", &ds->shape, DESCENT_LOSS_SOFTMAX_XENT, CHUNK, 7))
    die("network for the gradient check");
  descent_batch slice = {.n = SLICE, .x = ds->x, .labels = ds->labels};
  double lambdas[2] = {lambda, lambda == 0.01 ? 0.1 : 0.01};
  for (int k = 0; k < 2; k++) {
    logreg m;
    logreg_init(&m, net, ds, CHUNK, lambdas[k]);
    descent_gradcheck_result r;
    if (descent_gradcheck(&m.obj, &slice, 1e-5, 1e-4, 0, 1, &r)) die("gradient check");
    printf("gradient check (%d examples in chunks of %d, lambda %g): max relative error %.2e "
           "over %zu parameters\n",
           SLICE, CHUNK, lambdas[k], r.max_rel_error, r.checked);
    if (!(r.max_rel_error <= 1e-5)) {
      fprintf(stderr,
              "logreg_lbfgs: the objective's gradient is wrong: relative error %.3g at "
              "parameter %zu (analytic %.10g, numeric %.10g)\n",
              r.max_rel_error, r.worst_index, r.analytic, r.numeric);
      exit(1);
    }
    free(m.obj.grad);
  }
  descent_net_free(net);
}

/* ---- one run: every evaluation recorded, stopped from inside the closure ---- */

typedef struct run {
  logreg *m;
  double fstar;  /* NAN: the reference run (no target) */
  double target; /* relative gap to stop at */
  double gtol;   /* gradient norm to stop at (the reference run) */
  long cap;      /* evaluations */
  double t0, f0;
  size_t n;                       /* evaluations made */
  double *seconds, *loss, *gnorm; /* cap entries each */
  int reached, diverged, stopped, stalled;
  int progress; /* 1: a line on stderr every 500 evaluations */
  size_t best;  /* the evaluation with the lowest loss */
} run;

static void run_alloc(run *r, long cap) {
  r->seconds = malloc((size_t)cap * sizeof(double));
  r->loss = malloc((size_t)cap * sizeof(double));
  r->gnorm = malloc((size_t)cap * sizeof(double));
  if (!r->seconds || !r->loss || !r->gnorm) {
    fprintf(stderr, "logreg_lbfgs: out of memory\n");
    exit(1);
  }
}

static void run_free(run *r) {
  free(r->seconds);
  free(r->loss);
  free(r->gnorm);
}

static double gap(const run *r, double f) {
  return (f - r->fstar) / r->fstar;
}

static int stop(run *r, const char *why) {
  r->stopped = 1;
  return descent_set_error(DESCENT_ESTOPPED, "%s", why);
}

/* The closure: one evaluation on the whole set, recorded; the run stops
   (the step is abandoned with DESCENT_ESTOPPED) at the target, at the cap,
   on divergence, or for the reference run at the gradient tolerance. */
static int run_evaluate(void *user, descent_objective *obj, double *loss) {
  run *r = user;
  int rc = logreg_value_and_grad(obj, NULL, loss);
  if (rc) return rc;
  double g = norm2(obj->grad, obj->n_params);
  size_t k = r->n++;
  r->seconds[k] = now() - r->t0;
  r->loss[k] = *loss;
  r->gnorm[k] = g;
  if (k == 0) r->f0 = *loss;
  if (k == 0 || *loss < r->loss[r->best]) r->best = k;
  if (!isfinite(*loss) || *loss > DIVERGED * r->f0) {
    r->diverged = 1;
    return stop(r, "diverged");
  }
  if (!isnan(r->fstar) && gap(r, *loss) <= r->target) {
    r->reached = 1;
    return stop(r, "target reached");
  }
  if (r->progress && r->n % 500 == 0)
    fprintf(stderr, "  ... %zu evaluations, %.1f s, loss %.17g, gradient norm %.3e\n", r->n,
            r->seconds[k], *loss, g);
  if (g <= r->gtol) return stop(r, "gradient tolerance reached");
  if ((long)r->n >= r->cap) return stop(r, "evaluation cap reached");
  return DESCENT_OK;
}

/* Runs spec (with rate lr, NULL: its own) from zero parameters until the
   closure stops it. A chain's steps go on until then; a method's step that
   ends on its own criteria (lbfgs with no descent direction left) is
   followed by another, until three steps in a row bring no new lowest loss
   (the run has stalled: r->stalled). */
static void run_method(run *r, const char *spec, const char *lr) {
  logreg *m = r->m;
  memset(m->obj.params, 0, m->obj.n_params * sizeof(descent_real));
  descent_optimizer *opt = NULL;
  if (descent_optimizer_create(&opt, spec, lr, m->obj.n_params)) die(spec);
  int method = descent_optimizer_is_method(opt);
  r->n = 0;
  r->best = 0;
  r->reached = r->diverged = r->stopped = r->stalled = 0;
  descent_closure closure = {.evaluate = run_evaluate, .user = r};
  int idle = 0;
  r->t0 = now();
  for (;;) {
    size_t best_before = r->n ? r->best : (size_t)-1;
    int rc = descent_optimizer_step_with(opt, &m->obj, &closure, NULL);
    if (r->stopped) break;
    if (rc) die(spec);
    idle = r->best == best_before ? idle + 1 : 0;
    if (method && idle == 3) {
      r->stalled = 1;
      break;
    }
  }
  descent_optimizer_free(opt);
}

/* ---- output ------------------------------------------------------------------ */

static void write_csv(const run *r, const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s.csv", dir, name);
  FILE *f = fopen(path, "w");
  if (!f) {
    fprintf(stderr, "logreg_lbfgs: cannot write %s: %s\n", path, strerror(errno));
    exit(1);
  }
  fprintf(f, "evaluation,seconds,loss,gap,grad_norm,best_gap\n");
  double best = INFINITY;
  for (size_t k = 0; k < r->n; k++) {
    double g = gap(r, r->loss[k]);
    if (g < best) best = g;
    fprintf(f, "%zu,%.6f,%.17g,%.6e,%.6e,%.6e\n", k + 1, r->seconds[k], r->loss[k], g, r->gnorm[k],
            best);
  }
  if (fclose(f)) {
    fprintf(stderr, "logreg_lbfgs: cannot write %s: %s\n", path, strerror(errno));
    exit(1);
  }
}

/* What a run reached: evaluations and seconds to the target, the smallest
   gap. */
typedef struct outcome {
  double lr;
  int reached, diverged, stalled;
  size_t evals;   /* to the target, or all made */
  double seconds; /* to the target, or all */
  double best_gap;
} outcome;

static outcome outcome_of(const run *r, double lr) {
  return (outcome){.lr = lr,
                   .reached = r->reached,
                   .diverged = r->diverged,
                   .stalled = r->stalled,
                   .evals = r->n,
                   .seconds = r->n ? r->seconds[r->n - 1] : 0,
                   .best_gap = gap(r, r->loss[r->best])};
}

/* a better than b: reaches the target in fewer evaluations (then seconds),
   or neither does and a's gap is smaller; a diverged run is never better. */
static int better(const outcome *a, const outcome *b) {
  if (a->diverged != b->diverged) return !a->diverged;
  if (a->reached != b->reached) return a->reached;
  if (a->reached) return a->evals < b->evals || (a->evals == b->evals && a->seconds < b->seconds);
  return a->best_gap < b->best_gap;
}

static void describe_outcome(const outcome *o, long cap, char *buf, size_t len) {
  if (o->diverged)
    snprintf(buf, len, "diverged at evaluation %zu", o->evals);
  else if (o->reached)
    snprintf(buf, len, "%zu evaluations, %.2f s", o->evals, o->seconds);
  else if (o->stalled)
    snprintf(buf, len, "stalled after %zu evaluations, gap %.3e", o->evals, o->best_gap);
  else
    snprintf(buf, len, "not within %ld, gap %.3e", cap, o->best_gap);
}

/* ---- the grids ------------------------------------------------------------------ */

/* One run of name at rate lr with this cap, its line in the grid's
   listing and in grid.csv. */
static outcome grid_run(run *r, const char *name, double lr, long cap, FILE *grid) {
  char text[64], what[128];
  snprintf(text, sizeof text, "%.17g", lr);
  r->cap = cap;
  run_method(r, name, text);
  outcome out = outcome_of(r, lr);
  describe_outcome(&out, cap, what, sizeof what);
  printf("  %-5s lr %-9.3g %s\n", name, lr, what);
  fprintf(grid, "%s,%.17g,%ld,%s,%zu,%.6f,%.6e\n", name, lr, cap,
          out.diverged  ? "diverged"
          : out.reached ? "reached"
                        : "cap",
          out.evals, out.seconds, out.best_gap);
  return out;
}

/* Runs name (a named optimizer) at every rate of lrs with tune_cap
   evaluations, takes the best, runs it again to the cap when tune_cap is
   smaller, and writes that run's CSV; returns its outcome. */
static outcome tune(logreg *m, const options *o, double fstar, const char *name, const double *lrs,
                    int n_lrs, FILE *grid) {
  run r = {.m = m, .fstar = fstar, .target = o->target};
  run best_run = r;
  run_alloc(&r, o->cap);
  run_alloc(&best_run, o->cap);
  outcome best = {.diverged = 1};
  for (int i = 0; i < n_lrs; i++) {
    outcome out = grid_run(&r, name, lrs[i], o->tune_cap, grid);
    if (i == 0 || better(&out, &best)) {
      best = out;
      run swap = best_run;
      best_run = r;
      r = swap;
    }
  }
  if (o->tune_cap < o->cap && !best.reached && !best.diverged) {
    printf("  best at %ld evaluations: lr %.3g; again with %ld:\n", o->tune_cap, best.lr, o->cap);
    best = grid_run(&best_run, name, best.lr, o->cap, grid);
  }
  write_csv(&best_run, o->out_dir, name);
  run_free(&r);
  run_free(&best_run);
  return best;
}

/* ---- options ------------------------------------------------------------------ */

static void usage_exit(const char *problem) {
  fprintf(stderr,
          "logreg_lbfgs: %s\n"
          "usage: logreg_lbfgs [--quick] [--check] [--examples N] [--chunk N] [--lambda L]\n"
          "         [--target R] [--cap N] [--tune-cap N] [--history M] [--threads T]\n"
          "         [--gd-lrs A,B,...] [--adam-lrs A,B,...] [--fstar F] [--fstar-cap N]\n"
          "         [--methods lbfgs,gd,adam] [--data-dir DIR] [--out DIR]\n"
          "(see the comment at the top of bench/logreg_lbfgs.c)\n",
          problem);
  exit(2);
}

static double number(const char *flag, const char *text, double lo, double hi) {
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno || end == text || *end || !(v >= lo && v <= hi)) {
    char msg[256];
    snprintf(msg, sizeof msg, "%s '%s': give a number in [%g, %g]", flag, text, lo, hi);
    usage_exit(msg);
  }
  return v;
}

static int rates(const char *flag, const char *text, double *out) {
  char copy[1024];
  snprintf(copy, sizeof copy, "%s", text);
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    if (n == MAX_LRS) usage_exit("too many rates in a grid (at most 32)");
    out[n++] = number(flag, tok, 1e-12, 1e6);
  }
  if (n == 0) usage_exit("a grid needs at least one rate");
  return n;
}

/* --methods: a comma-separated list of lbfgs, gd and adam. */
static int method_bits(const char *text) {
  char copy[256];
  snprintf(copy, sizeof copy, "%s", text);
  int bits = 0;
  for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
    if (strcmp(tok, "lbfgs") == 0)
      bits |= 1;
    else if (strcmp(tok, "gd") == 0)
      bits |= 2;
    else if (strcmp(tok, "adam") == 0)
      bits |= 4;
    else
      usage_exit("--methods takes a comma-separated list of lbfgs, gd and adam");
  if (!bits) usage_exit("--methods takes a comma-separated list of lbfgs, gd and adam");
  return bits;
}

/* Log-spaced: lo, lo 10^(1/per_decade), ... up to hi. */
static int logspace(double lo, double hi, int per_decade, double *out) {
  int n = 0;
  for (int k = 0; n < MAX_LRS; k++) {
    double v = lo * pow(10.0, (double)k / per_decade);
    if (v > hi * (1 + 1e-9)) break;
    out[n++] = v;
  }
  return n;
}

static void parse_options(int argc, char **argv, options *o) {
  *o = (options){.data_dir = NULL,
                 .out_dir = ".",
                 .examples = 60000,
                 .chunk = 10000,
                 .lambda = 1e-4,
                 .target = 1e-6,
                 .fstar = NAN,
                 .cap = 2000,
                 .tune_cap = 200,
                 .fstar_cap = 10000,
                 .history = 10,
                 .threads = 2,
                 .methods = 7};
  o->n_gd = logspace(1e-3, 4, 2, o->gd_lrs);
  o->n_adam = logspace(1e-4, 0.4, 2, o->adam_lrs);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--quick") == 0) {
      o->examples = 5000;
      o->lambda = 1e-2;
      o->cap = 1000;
      o->tune_cap = 100;
      o->fstar_cap = 1500;
      o->n_gd = logspace(1e-2, 2, 1, o->gd_lrs);
      o->n_adam = logspace(1e-3, 2, 1, o->adam_lrs);
      continue;
    }
    if (strcmp(a, "--check") == 0) {
      o->check = 1;
      continue;
    }
    if (i + 1 >= argc) usage_exit("an option needs a value");
    const char *v = argv[++i];
    if (strcmp(a, "--examples") == 0)
      o->examples = (size_t)number(a, v, 100, 60000);
    else if (strcmp(a, "--chunk") == 0)
      o->chunk = (size_t)number(a, v, 1, 60000);
    else if (strcmp(a, "--lambda") == 0)
      o->lambda = number(a, v, 0, 1e3);
    else if (strcmp(a, "--target") == 0)
      o->target = number(a, v, 1e-14, 1);
    else if (strcmp(a, "--cap") == 0)
      o->cap = (long)number(a, v, 2, 1e7);
    else if (strcmp(a, "--tune-cap") == 0)
      o->tune_cap = (long)number(a, v, 2, 1e7);
    else if (strcmp(a, "--fstar-cap") == 0)
      o->fstar_cap = (long)number(a, v, 2, 1e7);
    else if (strcmp(a, "--history") == 0)
      o->history = (int)number(a, v, 1, 1000);
    else if (strcmp(a, "--threads") == 0)
      o->threads = (int)number(a, v, 0, 1024);
    else if (strcmp(a, "--gd-lrs") == 0)
      o->n_gd = rates(a, v, o->gd_lrs);
    else if (strcmp(a, "--adam-lrs") == 0)
      o->n_adam = rates(a, v, o->adam_lrs);
    else if (strcmp(a, "--fstar") == 0)
      o->fstar = number(a, v, 1e-300, 1e3);
    else if (strcmp(a, "--methods") == 0)
      o->methods = method_bits(v);
    else if (strcmp(a, "--data-dir") == 0)
      o->data_dir = v;
    else if (strcmp(a, "--out") == 0)
      o->out_dir = v;
    else {
      char msg[256];
      snprintf(msg, sizeof msg, "unknown option %s", a);
      usage_exit(msg);
    }
  }
  if (o->chunk > o->examples) o->chunk = o->examples;
  if (o->tune_cap == 0 || o->tune_cap > o->cap) o->tune_cap = o->cap;
  if (o->check && o->methods != 7) usage_exit("--check compares all three methods");
}

/* ---- main ------------------------------------------------------------------------- */

/* lbfgs as the race runs it: one step of up to `evals` iterations, lr 1,
   no tolerance of its own (the closure stops it). */
static void lbfgs_spec(char *buf, size_t len, int history, long evals) {
  snprintf(buf, len,
           "lbfgs(line_search=strong_wolfe, history=%d, max_iter=%ld, max_eval=%ld, "
           "tolerance_grad=0, tolerance_change=0, full_batch=1)",
           history, evals, evals + 1);
}

/* The reference run: lbfgs as the race runs it, from zero, until the
   gradient's norm is FSTAR_GTOL, the loss stops falling, or fstar_cap
   evaluations; f* is its lowest loss. */
static double reference_run(run *r, logreg *m, const options *o) {
  char spec[256];
  lbfgs_spec(spec, sizeof spec, o->history, o->fstar_cap);
  *r = (run){.m = m, .fstar = NAN, .gtol = FSTAR_GTOL, .cap = o->fstar_cap, .progress = 1};
  run_alloc(r, o->fstar_cap);
  run_method(r, spec, NULL);
  double fstar = r->loss[r->best], g = r->gnorm[r->best];
  printf("f* = %.17g: the lowest loss of %zu evaluations of lbfgs (%.1f s; stopped %s), "
         "gradient norm there %.3e; |g|^2/(2 lambda) = %.2e relative (a bound on its "
         "distance to the optimum's loss: the loss is lambda-strongly convex)\n",
         fstar, r->n, r->seconds[r->n - 1],
         r->gnorm[r->n - 1] <= FSTAR_GTOL ? "at the gradient tolerance"
         : (long)r->n >= o->fstar_cap     ? "at the evaluation cap"
                                          : "when the loss stopped falling",
         g, g * g / (2 * o->lambda) / fstar);
  r->fstar = fstar;
  write_csv(r, o->out_dir, "fstar");
  return fstar;
}

/* Cuts run r (made without a target) where a race with this target and
   cap would have stopped: at the first evaluation within the target, or at
   the cap; sets reached and best for that part. The race would have made
   the same evaluations: the method is deterministic and the closure only
   watches. */
static void run_cut(run *r, double fstar, double target, long cap) {
  r->fstar = fstar;
  r->target = target;
  size_t n = r->n < (size_t)cap ? r->n : (size_t)cap;
  r->reached = 0;
  r->best = 0;
  for (size_t k = 0; k < n; k++) {
    if (r->loss[k] < r->loss[r->best]) r->best = k;
    if (gap(r, r->loss[k]) <= target) {
      r->reached = 1;
      n = k + 1;
      break;
    }
  }
  if (r->reached || n < r->n) r->stalled = 0;
  r->n = n;
}

int main(int argc, char **argv) {
  options o;
  parse_options(argc, argv, &o);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (descent_cpu_setup()) die("cpu setup");
  descent_set_threads(o.threads);
  if (mkdir(o.out_dir, 0777) && errno != EEXIST) {
    fprintf(stderr, "logreg_lbfgs: cannot create %s: %s\n", o.out_dir, strerror(errno));
    return 1;
  }

  descent_dataset train = {0}, test = {0};
  if (descent_fashion_mnist_load(o.data_dir, &train, &test)) {
    fprintf(stderr, "%slogreg_lbfgs: Fashion-MNIST: %s\n", o.check ? "SKIP: " : "",
            descent_last_error());
    return o.check ? 77 : 1;
  }
  descent_dataset_free(&test);
  if (o.examples < train.n && descent_dataset_truncate(&train, o.examples)) die("truncate");
  descent_preprocess pp = {0};
  if (descent_preprocess_fit(&pp, DESCENT_PREPROCESS_STANDARDIZE, &train,
                             descent_preprocess_default_eps(DESCENT_PREPROCESS_STANDARDIZE)) ||
      descent_preprocess_apply(&pp, &train))
    die("standardize");
  printf("logreg_lbfgs: %zu Fashion-MNIST training examples, standardized (eps %g), "
         "mlp:784-10 + softmax cross-entropy + %g/2 |theta|^2 (bias included), "
         "threads %d\nblas: %s\n",
         train.n, pp.eps, o.lambda, o.threads, descent_blas_name());
  gradcheck_wrapper(&train, o.lambda);

  descent_net *net = NULL;
  if (descent_net_create(&net, "mlp:784-10", &train.shape, DESCENT_LOSS_SOFTMAX_XENT, o.chunk, 1))
    die("network");
  logreg m;
  logreg_init(&m, net, &train, o.chunk, o.lambda);

  /* lbfgs: with f* to find, the first part of the reference run; with f*
     given, a run of its own. */
  run r = {0};
  double fstar = o.fstar;
  if (!isnan(fstar)) printf("f* = %.17g (given)\n", fstar);
  if (isnan(fstar)) {
    fstar = reference_run(&r, &m, &o);
    run_cut(&r, fstar, o.target, o.cap);
  } else if (o.methods & 1) {
    char spec[256];
    lbfgs_spec(spec, sizeof spec, o.history, o.cap);
    r = (run){.m = &m, .fstar = fstar, .target = o.target, .cap = o.cap};
    run_alloc(&r, o.cap);
    run_method(&r, spec, NULL);
  }
  outcome lb = {.diverged = 1}, gd = lb, adam = lb;
  if (o.methods & 1) {
    lb = outcome_of(&r, 1);
    write_csv(&r, o.out_dir, "lbfgs");
  }
  run_free(&r);

  char path[4096];
  snprintf(path, sizeof path, "%s/grid.csv", o.out_dir);
  FILE *grid = fopen(path, "w");
  if (!grid) {
    fprintf(stderr, "logreg_lbfgs: cannot write %s: %s\n", path, strerror(errno));
    return 1;
  }
  fprintf(grid, "method,lr,cap,status,evaluations,seconds,best_gap\n");
  if (o.methods & 1) {
    char what[128];
    describe_outcome(&lb, o.cap, what, sizeof what);
    printf("lbfgs(strong_wolfe, history %d, lr 1): %s\n", o.history, what);
    fprintf(grid, "lbfgs,1,%ld,%s,%zu,%.6f,%.6e\n", o.cap, lb.reached ? "reached" : "cap", lb.evals,
            lb.seconds, lb.best_gap);
  }
  if (o.methods & 2) {
    printf("gd grid (constant step):\n");
    gd = tune(&m, &o, fstar, "gd", o.gd_lrs, o.n_gd, grid);
  }
  if (o.methods & 4) {
    printf("adam grid:\n");
    adam = tune(&m, &o, fstar, "adam", o.adam_lrs, o.n_adam, grid);
  }
  if (fclose(grid)) die("grid.csv");

  /* The table, and summary.tsv for the plot. */
  snprintf(path, sizeof path, "%s/summary.tsv", o.out_dir);
  FILE *sum = fopen(path, "w");
  if (!sum) {
    fprintf(stderr, "logreg_lbfgs: cannot write %s: %s\n", path, strerror(errno));
    return 1;
  }
  printf("\ntarget: (f - f*)/f* <= %g, cap %ld evaluations, f* = %.12g\n", o.target, o.cap, fstar);
  printf("| method | tuned lr | evaluations to %g | seconds to %g | final gap |\n", o.target,
         o.target);
  printf("|---|---|---|---|---|\n");
  const char *names[3] = {"lbfgs", "gd", "adam"};
  const outcome *outs[3] = {&lb, &gd, &adam};
  for (int k = 0; k < 3; k++) {
    if (!(o.methods & (1 << k))) continue;
    const outcome *x = outs[k];
    char lr[32], evals[64], secs[32];
    snprintf(lr, sizeof lr, k == 0 ? "1 (line search)" : "%.3g", x->lr);
    if (x->reached) {
      snprintf(evals, sizeof evals, "%zu", x->evals);
      snprintf(secs, sizeof secs, "%.2f", x->seconds);
    } else {
      if (x->diverged || x->stalled)
        snprintf(evals, sizeof evals, "%s at %zu", x->diverged ? "diverged" : "stalled", x->evals);
      else
        snprintf(evals, sizeof evals, "not within %ld", o.cap);
      snprintf(secs, sizeof secs, "not within %.2f", x->seconds);
    }
    printf("| %s | %s | %s | %s | %.3e |\n", names[k], lr, evals, secs, x->best_gap);
    fprintf(sum, "%s\t%.3g\t%d\t%zu\t%.3f\t%.3e\n", names[k], x->lr, x->reached, x->evals,
            x->seconds, x->best_gap);
  }
  if (fclose(sum)) die("summary.tsv");

  int holds = lb.reached && (!gd.reached || lb.evals < gd.evals) &&
              (!adam.reached || lb.evals < adam.evals);
  if (o.methods == 7)
    printf("lbfgs reaches %g in fewer evaluations than the best gd and the best adam: %s\n",
           o.target, holds ? "yes" : "NO");

  free(m.obj.grad);
  descent_net_free(net);
  descent_preprocess_free(&pp);
  descent_dataset_free(&train);
  return o.check && !holds ? 1 : 0;
}
