/*
 * demo_edge.c - the edge of stability (Cohen et al. 2021, "Gradient Descent
 * on Neural Networks Typically Occurs at the Edge of Stability", figure 1):
 * full-batch gradient descent on an MLP trained on a few thousand
 * Fashion-MNIST images, at two or three step sizes. The classical picture
 * says a step lr is stable only while the sharpness (the top eigenvalue of
 * the loss's Hessian) stays below 2/lr. Gradient descent on a network
 * breaks it twice over: the sharpness rises while it trains (progressive
 * sharpening) until it reaches 2/lr, and then hovers there instead of
 * diverging, while the loss keeps going down, no longer monotonically.
 *
 * Every --every steps the demo measures the sharpness by Lanczos on the
 * Hessian-vector products of the full batch (descent_lanczos), warm-started
 * from the last top eigenvector, and reads the limit 2/lr from the
 * optimizer itself (descent_optimizer_stability). The runs start from the
 * same weights and see the same full batch; they differ only in the step.
 */
#include "lab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lab_option edge_options[] = {
    {"lr", "A,B,...", "0.25,0.3", "step sizes of full-batch gradient descent"},
    {"train", "N", "1000", "training images (the first N of Fashion-MNIST's 60,000)"},
    {"pool", "K", "2", "the images are averaged over K x K pixels first (1: full size)"},
    {"width", "N", "100", "units per hidden layer"},
    {"depth", "N", "2", "hidden layers"},
    {"act", "NAME", "tanh", "hidden activation: tanh or relu"},
    {"loss", "NAME", "mse", "loss: mse (on one-hot labels) or xent"},
    {"steps", "N", "600", "gradient descent steps per step size"},
    {"every", "K", "25", "the sharpness is measured every K steps"},
    {"iterations", "N", "20", "Lanczos products per measurement (most; fewer once converged)"},
    {"input", "NAME", "center",
     "inputs: center (pixels in [0, 1] less their mean), standardize "
     "(per pixel, unit variance) or none"},
    {"scale", "S", "0.6", "the inputs are multiplied by this (after --input)"},
    {"seed", "N", "1", "seed of the weights"},
    {"data-dir", "DIR", DESCENT_FASHION_MNIST_DIR, "Fashion-MNIST's folder"},
};

typedef struct edge_setup {
  double lrs[LAB_MAX_LIST];
  int n_lrs;
  int64_t train, pool, width, depth, steps, every, iterations, seed;
  double scale;
  const char *act, *dir, *input;
  descent_loss_kind loss;
} edge_setup;

/* One run: the loss at every step, the sharpness at every measurement. */
typedef struct edge_run {
  double lr, limit;     /* the step, and the optimizer's limit 2/lr */
  double *loss;         /* steps + 1 values (the loss before each step, then the last) */
  double *sharp;        /* measurements */
  int64_t *at;          /* the step of each measurement */
  int64_t n_meas, last; /* measurements taken; steps taken */
  int64_t products;     /* Hessian-vector products spent */
  int diverged;
} edge_run;

/* What the table reads from a run. */
typedef struct edge_summary {
  int64_t reached;        /* the first measured step where the sharpness, having been below
                             0.9 limit, reaches it; -1: never */
  double median;          /* median of sharpness / limit from then on */
  double lowest, highest; /* the smallest and largest such ratio */
  double loss_then;       /* the loss at reached */
  double final_loss;      /* the loss after the last step */
  int64_t rises;          /* steps after which the loss went up */
} edge_summary;

static void edge_spec(const edge_setup *s, char *buf, size_t cap) {
  size_t used = 0;
  if (s->pool > 1) used += (size_t)snprintf(buf, cap, "avgpool(%lld), ", (long long)s->pool);
  for (int64_t i = 0; i < s->depth && used < cap; i++)
    used +=
        (size_t)snprintf(buf + used, cap - used, "dense(%lld), %s, ", (long long)s->width, s->act);
  if (used < cap) snprintf(buf + used, cap - used, "dense(10)");
}

typedef struct hessian_op {
  descent_objective *obj;
  const descent_batch *batch;
} hessian_op;

static int hessian_apply(void *user, const descent_real *v, descent_real *out) {
  hessian_op *op = user;
  return descent_objective_hvp(op->obj, op->batch, v, out);
}

/* The sharpness at the current parameters, after the step's
   value_and_grad on batch: Lanczos warm-started from top (when *warm). */
static int edge_measure(const edge_setup *s, hessian_op *op, descent_real *top, int *warm,
                        double *sharpness, int64_t *products) {
  descent_lanczos_result r;
  int rc = descent_lanczos(hessian_apply, op, op->obj->n_params, (int)s->iterations, 1e-3,
                           *warm ? top : NULL, (uint64_t)s->seed, top, NULL, &r);
  if (rc) return rc;
  *warm = 1;
  *sharpness = r.top;
  *products += r.products;
  return DESCENT_OK;
}

static int edge_alloc(edge_run *run, const edge_setup *s) {
  size_t meas = (size_t)(s->steps / s->every) + 2;
  run->loss = descent_calloc((size_t)s->steps + 1, sizeof *run->loss, "losses");
  run->sharp = descent_calloc(meas, sizeof *run->sharp, "sharpness");
  run->at = descent_calloc(meas, sizeof *run->at, "sharpness");
  return run->loss && run->sharp && run->at ? DESCENT_OK : DESCENT_ENOMEM;
}

static void edge_run_free(edge_run *run) {
  free(run->loss);
  free(run->sharp);
  free(run->at);
}

/* Full-batch gradient descent at one step size, measuring as it goes. A
   loss that is not finite ends the run, marked diverged. */
static int edge_train(const edge_setup *s, const descent_dataset *train, edge_run *run) {
  char spec[1024], rate[LAB_NUM];
  edge_spec(s, spec, sizeof spec);
  descent_net *net = NULL;
  descent_optimizer *opt = NULL;
  descent_real *top = NULL;
  int rc = edge_alloc(run, s);
  if (!rc) rc = descent_net_create(&net, spec, &train->shape, s->loss, train->n, (uint64_t)s->seed);
  descent_objective *obj = net ? descent_net_objective(net) : NULL;
  if (!rc) rc = descent_optimizer_create(&opt, "sgd", lab_num(rate, run->lr), obj->n_params);
  descent_stability stab;
  if (!rc) rc = descent_optimizer_stability(opt, NULL, 0, &stab);
  if (!rc) {
    run->limit = stab.limit;
    top = descent_calloc(obj->n_params, sizeof *top, "top eigenvector");
    if (!top) rc = DESCENT_ENOMEM;
  }
  descent_batch batch = {.n = train->n, .x = train->x, .labels = train->labels};
  hessian_op op = {obj, &batch};
  int warm = 0;
  for (int64_t t = 0; !rc; t++) {
    double loss;
    rc = descent_objective_value_and_grad(obj, &batch, &loss);
    if (rc) break;
    run->loss[t] = loss;
    run->last = t;
    if (!isfinite(loss) || loss > 1e6) {
      run->diverged = 1;
      break;
    }
    if (t % s->every == 0 || t == s->steps) {
      run->at[run->n_meas] = t;
      rc = edge_measure(s, &op, top, &warm, &run->sharp[run->n_meas], &run->products);
      run->n_meas++;
    }
    if (rc || t == s->steps) break;
    rc = descent_optimizer_step(opt, obj);
  }
  free(top);
  descent_optimizer_free(opt);
  descent_net_free(net);
  return rc;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static int edge_summarize(const edge_run *run, edge_summary *out) {
  memset(out, 0, sizeof *out);
  out->reached = -1;
  out->median = out->lowest = out->highest = out->loss_then = NAN;
  out->final_loss = run->diverged ? NAN : run->loss[run->last];
  for (int64_t t = 0; t < run->last; t++)
    if (run->loss[t + 1] > run->loss[t]) out->rises++;
  /* The first measurement at 0.9 limit or above after one below it (a
     start above the limit falls first: the catapult of a large step). */
  int64_t first = -1, below = -1;
  for (int64_t i = 0; i < run->n_meas && first < 0; i++) {
    if (run->sharp[i] < 0.9 * run->limit)
      below = i;
    else if (below >= 0)
      first = i;
  }
  if (first < 0 || run->diverged) return DESCENT_OK;
  out->reached = run->at[first];
  out->loss_then = run->loss[out->reached];
  size_t n = (size_t)(run->n_meas - first);
  double *ratios = descent_calloc(n, sizeof *ratios, "sharpness ratios");
  if (!ratios) return DESCENT_ENOMEM;
  for (size_t i = 0; i < n; i++) ratios[i] = run->sharp[first + (int64_t)i] / run->limit;
  qsort(ratios, n, sizeof *ratios, compare_doubles);
  out->lowest = ratios[0];
  out->highest = ratios[n - 1];
  out->median = n % 2 ? ratios[n / 2] : (ratios[n / 2 - 1] + ratios[n / 2]) / 2;
  free(ratios);
  return DESCENT_OK;
}

/* ---- files ---------------------------------------------------------------------- */

/* edge-of-stability-loss.csv: run,lr,step,loss; edge-of-stability-sharpness.csv:
   run,lr,step,sharpness,limit. */
static int edge_data_files(const char *dir, lab_result *res, const edge_run *runs, int n) {
  FILE *f = lab_file_open(dir, "edge-of-stability-loss.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "run,lr,step,loss\n");
  for (int k = 0; k < n; k++)
    for (int64_t t = 0; t <= runs[k].last; t++)
      fprintf(f, "%d,%.9g,%lld,%.9g\n", k, runs[k].lr, (long long)t, runs[k].loss[t]);
  int rc = lab_file_close(f, "edge-of-stability-loss.csv");
  if (rc) return rc;
  f = lab_file_open(dir, "edge-of-stability-sharpness.csv", res);
  if (!f) return DESCENT_EIO;
  fprintf(f, "run,lr,step,sharpness,limit\n");
  for (int k = 0; k < n; k++)
    for (int64_t i = 0; i < runs[k].n_meas; i++)
      fprintf(f, "%d,%.9g,%lld,%.9g,%.9g\n", k, runs[k].lr, (long long)runs[k].at[i],
              runs[k].sharp[i], runs[k].limit);
  return lab_file_close(f, "edge-of-stability-sharpness.csv");
}

static int edge_picture(const char *dir, lab_result *res, const edge_setup *s,
                        const edge_run *runs) {
  FILE *f = lab_gp_open(dir, "edge-of-stability", 1500, 620,
                        "full-batch gradient descent at the edge of stability", res);
  if (!f) return DESCENT_EIO;
  fprintf(f,
          "set multiplot layout 1,2 title \"Full-batch gradient descent on a %lld x %lld %s MLP, "
          "%lld Fashion-MNIST images: the sharpness rises to 2/lr and stays there while the "
          "loss keeps falling (Cohen et al. 2021)\" font \",12\"\n"
          "set xlabel \"step\"\nset grid\nset key top right\n"
          "set title \"training loss (%s)\"\nset ylabel \"loss\"\nset logscale y\n",
          (long long)s->depth, (long long)s->width, s->act, (long long)s->train,
          s->loss == DESCENT_LOSS_MSE ? "mean squared error" : "cross-entropy");
  for (int k = 0; k < s->n_lrs; k++)
    fprintf(f,
            "%s'edge-of-stability-loss.csv' using ($1==%d ? $3 : NaN):4 with lines lw 2 "
            "lc rgb \"%s\" title \"lr = %g\"",
            k ? ", \\\n     " : "plot ", k, lab_color(k), runs[k].lr);
  fprintf(f,
          "\nset title \"sharpness (top Hessian eigenvalue, Lanczos every %lld steps)\"\n"
          "set ylabel \"sharpness\"\nunset logscale y\nset key top left\n",
          (long long)s->every);
  for (int k = 0; k < s->n_lrs; k++)
    fprintf(f,
            "%s'edge-of-stability-sharpness.csv' using ($1==%d ? $3 : NaN):4 with linespoints "
            "pt 7 ps 0.4 lw 2 lc rgb \"%s\" title \"lr = %g\", \\\n"
            "     'edge-of-stability-sharpness.csv' using ($1==%d ? $3 : NaN):5 with lines "
            "dt 2 lw 2 lc rgb \"%s\" title \"2/lr = %g\"",
            k ? ", \\\n     " : "plot ", k, lab_color(k), runs[k].lr, k, lab_color(k),
            runs[k].limit);
  fprintf(f, "\n");
  return lab_gp_close(f, "edge-of-stability", res);
}

/* ---- the demo ----------------------------------------------------------------------- */

/* An option's text, by name. */
static const char *edge_text(const lab_args *a, const char *name) {
  for (int i = 0; i < a->demo->n_options; i++)
    if (strcmp(a->demo->options[i].name, name) == 0) return a->values[i];
  return "";
}

static int edge_read(const lab_args *a, edge_setup *s) {
  int rc = lab_arg_list(a, "lr", 1e-6, 1e3, 1, LAB_MAX_LIST, s->lrs, &s->n_lrs);
  if (!rc) rc = lab_arg_int(a, "train", 100, 60000, &s->train);
  if (!rc) rc = lab_arg_int(a, "pool", 1, 14, &s->pool);
  if (!rc) rc = lab_arg_int(a, "width", 1, 4096, &s->width);
  if (!rc) rc = lab_arg_int(a, "depth", 1, 20, &s->depth);
  if (!rc) rc = lab_arg_int(a, "steps", 1, 1000000, &s->steps);
  if (!rc) rc = lab_arg_int(a, "every", 1, 1000000, &s->every);
  if (!rc) rc = lab_arg_int(a, "iterations", 2, 1000, &s->iterations);
  if (!rc) rc = lab_arg_int(a, "seed", 0, INT64_MAX, &s->seed);
  if (!rc) rc = lab_arg_double(a, "scale", 1e-3, 1e3, &s->scale);
  if (rc) return rc;
  s->act = edge_text(a, "act");
  s->dir = edge_text(a, "data-dir");
  s->input = edge_text(a, "input");
  if (strcmp(s->act, "tanh") != 0 && strcmp(s->act, "relu") != 0)
    return descent_fail(DESCENT_EINVAL, "--act: '%s' is not tanh or relu", s->act);
  if (strcmp(s->input, "center") != 0 && strcmp(s->input, "standardize") != 0 &&
      strcmp(s->input, "none") != 0)
    return descent_fail(DESCENT_EINVAL, "--input: '%s' is not center, standardize or none",
                        s->input);
  const char *loss = edge_text(a, "loss");
  if (strcmp(loss, "mse") == 0)
    s->loss = DESCENT_LOSS_MSE;
  else if (strcmp(loss, "xent") == 0)
    s->loss = DESCENT_LOSS_SOFTMAX_XENT;
  else
    return descent_fail(DESCENT_EINVAL, "--loss: '%s' is not mse or xent", loss);
  return DESCENT_OK;
}

/* Each pixel less its mean over the images. */
static int edge_center(descent_dataset *ds) {
  double *mean = descent_calloc(ds->features, sizeof *mean, "pixel means");
  if (!mean) return DESCENT_ENOMEM;
  for (size_t i = 0; i < ds->n; i++)
    for (size_t j = 0; j < ds->features; j++) mean[j] += (double)ds->x[i * ds->features + j];
  for (size_t i = 0; i < ds->n; i++)
    for (size_t j = 0; j < ds->features; j++)
      ds->x[i * ds->features + j] =
          (descent_real)((double)ds->x[i * ds->features + j] - mean[j] / (double)ds->n);
  free(mean);
  return DESCENT_OK;
}

static int edge_data(const edge_setup *s, descent_dataset *train) {
  descent_dataset test = {0};
  int rc = descent_fashion_mnist_load(s->dir, train, &test);
  descent_dataset_free(&test);
  if (!rc && (size_t)s->train < train->n) rc = descent_dataset_truncate(train, (size_t)s->train);
  if (!rc && strcmp(s->input, "center") == 0) rc = edge_center(train);
  if (!rc && strcmp(s->input, "standardize") == 0) {
    descent_preprocess pp = {0};
    rc = descent_preprocess_fit(&pp, DESCENT_PREPROCESS_STANDARDIZE, train,
                                descent_preprocess_default_eps(DESCENT_PREPROCESS_STANDARDIZE));
    if (!rc) rc = descent_preprocess_apply(&pp, train);
    descent_preprocess_free(&pp);
  }
  if (!rc && s->scale != 1)
    for (size_t i = 0; i < train->n * train->features; i++)
      train->x[i] = (descent_real)((double)train->x[i] * s->scale);
  return rc;
}

static int edge_table(lab_result *res, const edge_setup *s, const edge_run *runs) {
  lab_table *t = lab_result_table(
      res, "edge-of-stability",
      "Sharpness against 2/lr: the step it first reaches 0.9 x 2/lr, its ratio to 2/lr from "
      "then on, and the loss",
      "run|2/lr|reached at|lowest ratio|median ratio|highest ratio|loss then|final loss|loss "
      "rises|products");
  if (!t) return DESCENT_ERANGE;
  for (int k = 0; k < s->n_lrs; k++) {
    edge_summary sum;
    int rc = edge_summarize(&runs[k], &sum);
    if (rc) return rc;
    int row = lab_table_row(t, "lr=%g", runs[k].lr);
    lab_table_num(t, row, "2/lr", runs[k].limit);
    if (runs[k].diverged)
      lab_table_text(t, row, "reached at", "diverged at %lld", (long long)runs[k].last);
    else if (sum.reached < 0)
      lab_table_text(t, row, "reached at", "never (%lld steps)", (long long)runs[k].last);
    else
      lab_table_num(t, row, "reached at", (double)sum.reached);
    lab_table_num(t, row, "lowest ratio", sum.lowest);
    lab_table_num(t, row, "median ratio", sum.median);
    lab_table_num(t, row, "highest ratio", sum.highest);
    lab_table_num(t, row, "loss then", sum.loss_then);
    lab_table_num(t, row, "final loss", sum.final_loss);
    lab_table_num(t, row, "loss rises", (double)sum.rises);
    lab_table_num(t, row, "products", (double)runs[k].products);
  }
  return DESCENT_OK;
}

static void edge_notes(lab_result *res, const edge_setup *s) {
  char spec[256];
  edge_spec(s, spec, sizeof spec);
  lab_result_note(res,
                  "%s on %lld Fashion-MNIST images (%s, times %g), %s, full-batch gradient "
                  "descent for %lld steps from the same weights (seed %lld).",
                  spec, (long long)s->train, s->input, s->scale,
                  s->loss == DESCENT_LOSS_MSE ? "MSE on one-hot labels" : "cross-entropy",
                  (long long)s->steps, (long long)s->seed);
  lab_result_note(res,
                  "sharpness: the top eigenvalue of the full-batch Hessian by Lanczos (at most "
                  "%lld products, warm-started from the last eigenvector) every %lld steps; "
                  "2/lr: descent_optimizer_stability's limit for gradient descent.",
                  (long long)s->iterations, (long long)s->every);
  lab_result_note(res, "reached at: the first measured step where the sharpness, having been below "
                       "0.9 x 2/lr, reaches it; ratios: sharpness / (2/lr) from then on; loss "
                       "rises: steps after which the loss went up (0 for a monotone descent).");
}

static int edge_run_all(const lab_args *a, const char *dir, lab_result *res) {
  edge_setup s;
  int rc = edge_read(a, &s);
  if (rc) return rc;
  descent_dataset train = {0};
  rc = edge_data(&s, &train);
  edge_run runs[LAB_MAX_LIST];
  memset(runs, 0, sizeof runs);
  int status[LAB_MAX_LIST] = {0};
  for (int k = 0; k < s.n_lrs; k++) runs[k].lr = s.lrs[k];
  /* Independent runs, one per thread, each single-threaded inside the
     parallel region: the same numbers as in sequence. */
  if (!rc) {
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < s.n_lrs; k++) status[k] = edge_train(&s, &train, &runs[k]);
  }
  for (int k = 0; k < s.n_lrs && !rc; k++)
    if (status[k]) { /* again here, for the message */
      edge_run_free(&runs[k]);
      memset(&runs[k], 0, sizeof runs[k]);
      runs[k].lr = s.lrs[k];
      rc = edge_train(&s, &train, &runs[k]);
    }
  if (!rc) rc = edge_table(res, &s, runs);
  if (!rc) edge_notes(res, &s);
  if (!rc && dir) rc = edge_data_files(dir, res, runs, s.n_lrs);
  if (!rc && dir) rc = edge_picture(dir, res, &s, runs);
  for (int k = 0; k < s.n_lrs; k++) edge_run_free(&runs[k]);
  descent_dataset_free(&train);
  return rc;
}

const lab_demo lab_demo_edge_of_stability = {
    "edge-of-stability",
    "Cohen et al. 2021, figure 1",
    "full-batch gradient descent on an MLP: the sharpness rises to 2/lr and stays there while "
    "the loss falls",
    edge_options,
    sizeof edge_options / sizeof edge_options[0],
    edge_run_all,
    "Full-batch gradient descent on a network does not stay where the classical picture puts "
    "it: the sharpness rises during training until it reaches 2/lr, then hovers there while "
    "the loss keeps falling, no longer monotonically (Cohen et al. 2021).",
    "For each step size the sharpness climbs to the dashed line 2/lr and then stays near it "
    "(the table's ratios near 1) instead of crossing it and diverging, while the loss goes "
    "down with occasional rises: a smaller step lets the sharpness climb higher.",
    "about 15 s of processor time (30 s on 2 shared cores)",
};

/* One step size for 400 steps: the sharpness still reaches 2/lr (at step
   225) and stays there, in a third of the time. */
const char *const lab_edge_quick[] = {"lr", "0.3", "steps", "400", NULL};
