/*
 * report_sweep.h - `descent report SWEEP`: a sweep folder's summary.csv
 * (one row per trial, docs/tuning.md) read, and turned into the
 * learning-rate sensitivity of each optimizer, its tuning window, the
 * learning curves of its best trial and a results table (report_sweep.c);
 * drawn and written as a page by report_sweep_draw.c.
 */
#ifndef DESCENT_CLI_REPORT_SWEEP_H
#define DESCENT_CLI_REPORT_SWEEP_H

#include "csv_read.h"

#include <stddef.h>
#include <stdio.h>

#define SWEEP_MAX_PARAMS 32
#define SWEEP_MAX_GROUPS 12
#define SWEEP_MAX_TEXT   128

/* A trial's status, as summary.csv spells it. */
typedef enum sweep_status {
  SWEEP_DONE,
  SWEEP_STOPPED,
  SWEEP_DIVERGED,
  SWEEP_FAILED,
  SWEEP_PENDING
} sweep_status;

typedef struct sweep_trial {
  double rank; /* NAN for trials without a metric */
  long trial;
  sweep_status status;
  double seed;
  char param[SWEEP_MAX_PARAMS][SWEEP_MAX_TEXT]; /* the p.NAME values, as written */
  double epochs, train_loss, val_loss, val_acc, test_loss, test_acc, train_seconds, metric;
  char dir[SWEEP_MAX_TEXT]; /* the trial folder's name */
  int group;                /* index into sweep_report.groups */
  double x;                 /* the x axis's value; NAN when not a number */
} sweep_trial;

/* One optimizer's trials (or all of them when p.opt was not swept). */
typedef struct sweep_group {
  char name[SWEEP_MAX_TEXT]; /* the p.opt value, or "all trials" */
  int best;                  /* index of its best trial (lowest rank); -1 when none ranked */
  /* The tuning window: the contiguous swept values around the best one whose
     median metric is within 1% of the best median (relative: >= 0.99 x best
     when higher is better, <= 1.01 x best when lower is). */
  double best_x, lo, hi; /* NAN when the group has no ranked value */
  double ratio, decades; /* hi / lo and log10 of it (NAN on a linear axis crossing 0) */
  int at_edge;           /* 1 when the window reaches the sweep's smallest or largest value */
  int counts[5];         /* trials per sweep_status */
} sweep_group;

typedef struct sweep_report {
  char metric[64];   /* the metric's name (sweep.txt's metric line), or "metric" */
  int higher_better; /* 1: accuracy-like; 0: a loss */
  size_t n_params;
  char params[SWEEP_MAX_PARAMS][64]; /* the swept parameters, without "p." */
  int x_param;                       /* the x axis's parameter; -1: none (trial number) */
  int x_log;                         /* 1: log axis */
  int opt_param;                     /* p.opt's index; -1 when not swept */
  size_t n_trials;
  sweep_trial *trials;
  int n_groups;
  sweep_group groups[SWEEP_MAX_GROUPS];
} sweep_report;

/* Reads SWEEP/summary.csv and SWEEP/sweep.txt and computes groups and
   windows. Returns 0, or -1 after printing one line "descent report: ..."
   naming the file, the line and the problem. */
int sweep_load(const char *sweep, sweep_report *r);
void sweep_free(sweep_report *r);

/* The status's word ("done", ...). */
const char *sweep_status_name(sweep_status s);

/* One swept value of a group: how many of its trials the curves use
   (uses: done ones, or stopped ones when none is done) have a finite value,
   and their median, min and max (NAN when none). */
typedef struct sweep_point {
  double x;
  size_t n;
  double median, min, max;
} sweep_point;

/* The group's distinct x values, sorted, each with the statistics of its
   metric (column 0) or final train loss (column 1); at most cap. Returns
   how many. */
size_t sweep_points(const sweep_report *r, int g, int column, sweep_point *pts, size_t cap);

/* The tuning window in words: "x4 (0.60 decades), 0.05 to 0.2", ... */
void sweep_window_text(const sweep_report *r, const sweep_group *G, char *buf, size_t cap);

/* Prints the results table (the best trial of each group with its window)
   to f. */
void sweep_print_table(FILE *f, const sweep_report *r);

/* Writes the data files, the gnuplot scripts, the pictures (when gnuplot is
   there) and report.html (when html is 1) into dir, which exists. stems
   gets the pictures' stems (at most 2). Returns 0, or -1 after printing one
   line why. */
int sweep_report_draw(const char *sweep, const char *dir, const sweep_report *r,
                      const char *terminals, int gnuplot, int html, char stems[2][32],
                      int *n_stems);

/* Every file name sweep_report_draw may write, ended by NULL. */
const char *const *sweep_report_files(void);

#endif /* DESCENT_CLI_REPORT_SWEEP_H */
