/*
 * report_rules.h - the diagnosis of `descent report`: rules over a run's
 * parsed files (metrics.csv, steps.csv, diagnostics.csv) that each find one
 * known trouble and say it in plain words, naming the number behind it and
 * what would help.
 *
 * Pure functions: no files, no printing; the tables come from csv_read.h.
 * The thresholds and the reasons for them are below and in docs/report.md.
 */
#ifndef DESCENT_CLI_REPORT_RULES_H
#define DESCENT_CLI_REPORT_RULES_H

#include "csv_read.h"

#include <stddef.h>

/* Edge of stability: the sharpness the limit applies to is at least this
   share of the limit (Cohen et al. 2021 see it hover just around 1; 0.9
   leaves room for the Lanczos estimate's error and the oscillation)... */
#define REPORT_EDGE_RATIO 0.9
/* ...for at least this many measurements in a row and this share of all. */
#define REPORT_EDGE_MIN_RUN   5
#define REPORT_EDGE_MIN_SHARE 0.1
/* Beyond it: the ratio above this (well past the oscillation at the edge)
   for this many measurements in a row, with the loss rising over them. */
#define REPORT_BEYOND_RATIO   1.2
#define REPORT_BEYOND_MIN_RUN 3
/* Gradient noise: the median noise scale over the later half of the run
   more than this factor above (below) the batch. The steps to a loss are
   S_min (1 + B_noise / B) and the examples E_min (1 + B / B_noise)
   (McCandlish et al. 2018, equations 2.11 and 2.12): at B = B_noise / 4,
   doubling the batch cuts the steps 1.67 times (5/3), nearly in proportion;
   at B = 4 B_noise it saves 10% of the steps while the examples are 5
   times the least. */
#define REPORT_NOISE_FACTOR 4.0
/* The norm test (Byrd et al. 2012) fails (> 1) at more than this share of
   the measurements: the noise outweighs the gradient most of the time. */
#define REPORT_NORM_TEST_SHARE 0.5
/* Step quality: the median alpha above (below) these; 0 lands on the
   parabola's minimum, 1 across it at the starting height, -1 stays put. */
#define REPORT_ALPHA_OVERSHOOT 0.7
#define REPORT_ALPHA_TIMID     -0.7
/* Negative curvature: the most negative eigenvalue below -0.1 times the top
   one at more than half of the measurements (smaller negative values are
   within the estimate's reach of zero on a noisy minibatch). */
#define REPORT_NEGATIVE_RATIO 0.1
/* Dead ReLUs: more than half of a layer's units zero on every example. */
#define REPORT_DEAD_SHARE 0.5
/* Update-to-weight ratio: Karpathy's rule of thumb puts it near 1e-3; a
   factor of 10 either way is far from it. */
#define REPORT_UPDATE_LOW  1e-4
#define REPORT_UPDATE_HIGH 1e-2
/* Plateau: the median step loss of the last quarter of the steps within 1%
   of the quarter before (at least 40 steps), while it is still above 1e-3
   of the first quarter's (below that, the run has converged). */
#define REPORT_PLATEAU_CHANGE    0.01
#define REPORT_PLATEAU_MIN_STEPS 40
/* Overfitting: the held-out loss (validation, else test) 5% or more above
   its best epoch's at the last epoch while the training loss went down
   (at least 3 epochs). */
#define REPORT_OVERFIT_RISE 0.05

/* Measurements of the later half of a run make the medians: the early steps
   of training look different from where the run is now. */

typedef enum report_rule {
  REPORT_RULE_EDGE,            /* at the edge of stability */
  REPORT_RULE_BEYOND,          /* past the stability limit, the loss rising */
  REPORT_RULE_NOISE_HIGH,      /* noise scale far above the batch */
  REPORT_RULE_NOISE_LOW,       /* noise scale far below the batch */
  REPORT_RULE_NORM_TEST,       /* the norm test fails most of the time */
  REPORT_RULE_ALPHA_OVERSHOOT, /* steps overshoot the minimum along them */
  REPORT_RULE_ALPHA_TIMID,     /* steps stop far short of it */
  REPORT_RULE_NEGATIVE,        /* strong negative curvature */
  REPORT_RULE_DEAD_RELU,       /* most units of a ReLU layer dead */
  REPORT_RULE_UPDATES_LARGE,   /* update-to-weight ratio far above 1e-3 */
  REPORT_RULE_UPDATES_SMALL,   /* far below it */
  REPORT_RULE_PLATEAU,         /* the loss has stopped moving */
  REPORT_RULE_OVERFIT,         /* held-out loss rising, training loss falling */
  REPORT_N_RULES
} report_rule;

/* A short name for each rule ("edge-of-stability", ...), for tests and the
   HTML page's anchors. */
const char *report_rule_name(report_rule rule);

typedef struct report_inputs {
  const csv_table *metrics;     /* metrics.csv (one row per epoch), or NULL */
  const csv_table *steps;       /* steps.csv (step,epoch,lr,loss), or NULL */
  const csv_table *diagnostics; /* diagnostics.csv, or NULL when the run was not tracked */
} report_inputs;

typedef struct report_finding {
  report_rule rule;
  char text[480]; /* one line, plain words, the number behind it and the remedy */
} report_finding;

/* Applies every rule to in; writes at most cap findings to out, in the order
   of the rules, and returns how many fired (0: nothing to say). */
size_t report_diagnose(const report_inputs *in, report_finding *out, size_t cap);

/* One line naming the instruments diagnostics (NULL: no file) does not hold
   and the --track option that measures them; "" when it holds them all. */
void report_untracked(const csv_table *diagnostics, char *buf, size_t cap);

/* A count with thousands separators ("4,100"), or a number in %.3g when it
   is not a whole number below 1e15, into buf; returns buf. */
const char *report_format_count(double v, char *buf, size_t cap);

#endif /* DESCENT_CLI_REPORT_RULES_H */
