/*
 * tracker.h - the tracker's side of the trainer (trainer.c, sections.c,
 * checkpoint.c): the calls around each step and its checkpoint section
 * "TRAK".
 */
#ifndef DESCENT_TRACKER_H
#define DESCENT_TRACKER_H

#include "internal.h"
#include "nn/model_io.h"

/* The measurements' cost, in gradient evaluations (bench/README.md,
   curvature_cost: H v 2.6-4.8 gradients, G v 1.7-1.9 on the MLP and the
   CNN); a re-evaluation and a per-example pass count one each. */
#define TRACK_COST_HVP   3.0
#define TRACK_COST_GGNVP 1.8
/* The per-example pass (noise): a replayed forward and backward plus each
   layer's per-example sums, 1.26 gradients on the default MLP and 1.44 on
   fmnist_2c2d (whose conv layers form every example's weight gradient). */
#define TRACK_COST_EXAMPLES 1.5
/* layers takes no evaluation, but passes over the parameters (four) and
   the activations and writes a row: counted as one gradient, so that
   alone it is measured every 32 steps, not at every step. */
#define TRACK_COST_LAYERS 1.0
/* every 0 (automatic): the instruments fall into two tiers measured on
   schedules of their own, because their costs differ a hundredfold: the
   curvature (sharpness, ggn, negative: Lanczos runs of tens of products)
   and the first-order ones (noise, alpha, layers: a pass or two each).
   Each tier measures at the first step, then whenever what it has spent
   so far is within its budget, a share of the steps taken (one gradient
   evaluation a step): the first-order tier 1/48, the curvature tier 1/96.
   The counts leave out work that is not a pass: Lanczos's
   reorthogonalization, which made a curvature measurement's time 1.5 to
   2.8 times its count, and the first-order tier's passes over the
   parameters and the examples, about 2 times its count on fmnist_2c2d
   (bench/README.md, track_overhead.sh). Over a 10-epoch run of the default
   MLP or the CNN the overhead is then under 10%, most of it the first
   curvature measurement at step 1. A function of counts only, so a resumed
   run measures at the same steps. */
enum { TRACK_TIER_CURVATURE = 0, TRACK_TIER_FIRST_ORDER = 1, TRACK_TIERS = 2 };
#define TRACK_CURVATURE_BITS     (DESCENT_TRACK_SHARPNESS | DESCENT_TRACK_GGN | DESCENT_TRACK_NEGATIVE)
#define TRACK_FIRST_ORDER_BITS   (DESCENT_TRACK_NOISE | DESCENT_TRACK_ALPHA | DESCENT_TRACK_LAYERS)
#define TRACK_BUDGET_CURVATURE   (1.0 / 96)
#define TRACK_BUDGET_FIRST_ORDER (1.0 / 48)

struct descent_tracker {
  descent_objective *obj;
  descent_optimizer *opt;
  descent_track_options o;
  descent_net *net; /* the objective's network, or NULL */

  /* The columns and the row being filled. */
  char **names;
  size_t n_columns;
  double *row;
  int64_t row_step; /* the step of the complete row in `row`; -1: none */
  size_t col_sharp, col_ggn, col_neg, col_noise, col_alpha, col_layers;
  size_t n_tensors;   /* per-tensor groups (the objective's table, or one "params") */
  size_t *act_layers; /* the network's activation layers' indices */
  size_t n_acts, n_act_columns;

  /* State a checkpoint keeps ("TRAK"). */
  descent_real *theta_start;                      /* the parameters at step 0 (layers) */
  descent_real *top, *bottom, *ggn_top, *pre_top; /* warm starts, unit vectors */
  unsigned have;                                  /* TRACK_HAVE_* bits: which are set */
  int64_t next_step[TRACK_TIERS];                 /* every 0: each tier's next step measured */
  double tier_cost[TRACK_TIERS];                  /* gradient evaluations each tier spent */
  double cost;                                    /* gradient evaluations spent so far */
  int64_t every_now;                              /* the gap to the next measurement (or every) */

  /* Scratch of one measurement. */
  int measuring; /* 1 between the before- and after-step parts */
  unsigned now;  /* the instruments measured at this step: o.what, or one tier of it */
  int64_t step;  /* the step being measured */
  double f0, cost_before;
  const descent_batch *batch;      /* during a product */
  descent_real *theta0, *g0, *g1;  /* alpha and layers: theta and g before, g after */
  descent_real *precond, *scratch; /* P^-1/2, and P^-1/2 v */
  descent_real *work;              /* a Lanczos start's copy */
  double *sq, *dot;
  size_t cap_examples;
};

enum { TRACK_HAVE_TOP = 1, TRACK_HAVE_BOTTOM = 2, TRACK_HAVE_GGN = 4, TRACK_HAVE_PRE = 8 };

/* tracker_measure.c: the measurements; tracker.c: the rest. */
/* Counts cost gradient evaluations' worth against tier. */
static inline void tracker_spend(descent_tracker *t, int tier, double cost) {
  t->tier_cost[tier] += cost;
  t->cost += cost;
}
int tracker_measure_before(descent_tracker *t, const descent_batch *batch);
int tracker_measure_after(descent_tracker *t, const descent_batch *batch);
/* The vectors of the mask: 1 when the `have` bit may be set. */
unsigned tracker_vectors(unsigned what);

/* Whether the trainer can give t what it measures: t's objective and
   optimizer must be the trainer's; a full-batch optimizer over a data set
   gives no step batch (refused, naming it); noise needs batches
   (has_batches: a data set or a next_batch hook). */
int tracker_check_trainer(const descent_tracker *t, const descent_objective *obj,
                          const descent_optimizer *opt, int full_batch_data, int has_batches);

/* Before step `descent_optimizer_steps + 1` is taken, once the guard has
   accepted it: obj->grad holds the step's gradient and loss its loss, batch
   is the step's (NULL: the whole objective). Measures when the step is
   due: the curvature, the noise and the per-layer gradients, and keeps what
   the after-step part needs. */
int tracker_before_step(descent_tracker *t, const descent_batch *batch, double loss, int64_t epoch);
/* After that step: alpha (one re-evaluation at the new parameters on the
   same batch) and the per-layer updates; completes the row. */
int tracker_after_step(descent_tracker *t, const descent_batch *batch);

/* The "TRAK" section: write it (with the trainer's writer), check a file's
   (sections of a checked file; messages start with name), restore it. */
void tracker_put(const descent_tracker *t, bytes_out *o);
int tracker_check_state(const descent_tracker *t, const model_section *sections, size_t count,
                        const char *name);
void tracker_restore(descent_tracker *t, const model_section *sections, size_t count);

#endif /* DESCENT_TRACKER_H */
