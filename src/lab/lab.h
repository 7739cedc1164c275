/*
 * lab.h - the lecture's lab: one demo per figure of the lecture, each of which
 * runs optimizers on the synthetic problems, returns the table of numbers
 * behind its picture, and (given a folder) writes the data as CSV and a
 * gnuplot script that draws the picture.
 *
 * The demos are library code so the tests can assert on exactly the numbers a
 * user sees; the CLI (cli/cmd_demo.c) only parses options, prints the tables
 * and asks gnuplot for the pictures.
 */
#ifndef DESCENT_LAB_H
#define DESCENT_LAB_H

#include "internal.h"

#include <stdio.h>

#define LAB_TEXT        48
#define LAB_MAX_COLS    10
#define LAB_MAX_TABLES  4
#define LAB_MAX_FILES   16
#define LAB_MAX_NOTES   6
#define LAB_MAX_OPTIONS 24
#define LAB_MAX_LIST    16

/* ---- tables ---------------------------------------------------------------- */

/* One cell: a number, or text when text[0] is not empty. */
typedef struct lab_cell {
  double number;
  char text[LAB_TEXT];
} lab_cell;

/* A table whose first column labels its rows ("gd", "alpha = 1.5"). */
typedef struct lab_table {
  char name[LAB_TEXT]; /* stem of its CSV file: name.csv */
  char title[160];
  int n_cols;
  char cols[LAB_MAX_COLS][LAB_TEXT];
  size_t n_rows, cap;
  lab_cell *cells; /* n_rows x n_cols */
} lab_table;

/* cols: the column names separated by '|', the first one naming the rows. */
int lab_table_init(lab_table *t, const char *name, const char *title, const char *cols);
void lab_table_free(lab_table *t);
/* Appends a row labelled `label`; returns its index, or -1 (out of memory). */
int lab_table_row(lab_table *t, const char *fmt, ...) DESCENT_PRINTF(2, 3);
/* Sets a cell of a row by column name (a wrong name is a bug: ignored). */
void lab_table_num(lab_table *t, int row, const char *col, double v);
void lab_table_text(lab_table *t, int row, const char *col, const char *fmt, ...)
    DESCENT_PRINTF(4, 5);
/* Reads a cell; NULL when the row label or the column does not exist. */
const lab_cell *lab_table_get(const lab_table *t, const char *row, const char *col);
/* The number in a cell; NAN when missing or text. */
double lab_table_number(const lab_table *t, const char *row, const char *col);
/* A cell's text in buf: its text, or its number, whole numbers (below 1e15)
   whole and others with 4 significant digits, or 10 when `full`; NAN is "-",
   or nothing when `full`. The terminal's tables and the HTML page use
   full = 0, so both show the same text; the CSV files use full = 1. */
void lab_cell_format(const lab_cell *c, int full, char *buf, size_t cap);
/* Aligned text for a terminal, and CSV (numbers in full precision). */
void lab_table_print(const lab_table *t, FILE *out);
int lab_table_write_csv(const lab_table *t, FILE *out);

/* ---- what a demo returns ------------------------------------------------- */

typedef struct lab_result {
  lab_table tables[LAB_MAX_TABLES];
  int n_tables;
  char files[LAB_MAX_FILES][LAB_TEXT]; /* written in the folder, in order */
  int n_files;
  char pictures[LAB_MAX_FILES][LAB_TEXT]; /* stems: stem.gp draws stem.png and stem.svg */
  int n_pictures;
  char notes[LAB_MAX_NOTES][240]; /* one-line readings of the numbers */
  int n_notes;
  /* Animations, by stem: stem-anim.gp draws stem.gif (the iterates revealed
     one frame at a time). The scripts are written with the pictures; the
     CLI renders them when asked (`descent demo NAME --gif`), as a GIF takes
     gnuplot a second or two where a picture takes a tenth. */
  char animations[LAB_MAX_FILES][LAB_TEXT];
  int n_animations;
} lab_result;

void lab_result_free(lab_result *r);
/* A new table in r (NULL when full or out of memory, with the error set). */
lab_table *lab_result_table(lab_result *r, const char *name, const char *title, const char *cols);
const lab_table *lab_result_find(const lab_result *r, const char *name);
void lab_result_note(lab_result *r, const char *fmt, ...) DESCENT_PRINTF(2, 3);

/* ---- demos ------------------------------------------------------------------- */

/* A demo's option: its value arrives as text, checked by the lab_arg_* readers. */
typedef struct lab_option {
  const char *name;    /* "lr" for --lr */
  const char *metavar; /* "A,B,C" */
  const char *def;     /* the default, as text */
  const char *help;
} lab_option;

typedef struct lab_demo lab_demo;

typedef struct lab_args {
  const lab_demo *demo;
  const char *values[LAB_MAX_OPTIONS]; /* in demo->options order */
} lab_args;

struct lab_demo {
  const char *name;    /* "step-size" */
  const char *slides;  /* "slides 5-9" */
  const char *summary; /* one line */
  const lab_option *options;
  int n_options;
  /* Computes the tables; writes files into dir unless it is NULL. */
  int (*run)(const lab_args *args, const char *dir, lab_result *res);
  /* The slide's claim the demo reproduces, in one sentence; and what to
     look for in its numbers and picture (a few sentences). The lab's page
     and `descent demo NAME --help` show them. */
  const char *claim;
  const char *look_for;
  /* NULL for a demo of seconds. For one that trains networks for minutes:
     its time with the defaults, e.g. "about 4 minutes on 2 cores", which
     `descent demo all` states (it runs such demos only when asked). */
  const char *duration;
};

/* Every demo, in the lecture's order. */
const lab_demo *const *lab_demos(int *count);
const lab_demo *lab_demo_find(const char *name);
/* Overrides (name, value pairs ended by NULL) for a run of seconds of a
   demo whose defaults take minutes, as `descent demo all --quick` and the
   tests run it; NULL for the demos whose defaults are already quick. */
const char *const *lab_demo_quick(const lab_demo *demo);
extern const char *const lab_generalization_quick[], *const lab_tuning_quick[];
extern const char *const lab_edge_quick[];
extern const char *const lab_minima_quick[];
extern const char *const lab_hidden_conditioning_quick[];
/* "step-size, conditioning, ..." */
void lab_demo_names(char *buf, size_t cap);

/* Runs a demo with its defaults, except for the options in overrides: pairs
   of name and value, ended by NULL (overrides itself may be NULL). dir NULL:
   compute only. Unknown options are refused, naming the valid ones. */
int lab_demo_run(const lab_demo *demo, const char *const *overrides, const char *dir,
                 lab_result *res);

/* Option readers: EINVAL with "--NAME: ..." when the text is not a number in
   [lo, hi], or (lists) not comma-separated numbers. */
int lab_arg_double(const lab_args *a, const char *name, double lo, double hi, double *out);
int lab_arg_int(const lab_args *a, const char *name, int64_t lo, int64_t hi, int64_t *out);
int lab_arg_list(const lab_args *a, const char *name, double lo, double hi, int min_count,
                 int max_count, double *out, int *count);

/* The demos themselves, one file per family of figures. */
extern const lab_demo lab_demo_step_size, lab_demo_nonconvex;      /* demo_1d.c */
extern const lab_demo lab_demo_conditioning, lab_demo_momentum;    /* demo_valley.c */
extern const lab_demo lab_demo_momentum_map;                       /* demo_momentum_map.c */
extern const lab_demo lab_demo_momentum_noise;                     /* demo_momentum_noise.c */
extern const lab_demo lab_demo_bottou_bousquet;                    /* demo_bottou.c */
extern const lab_demo lab_demo_per_direction;                      /* demo_direction.c */
extern const lab_demo lab_demo_gauss_newton;                       /* demo_gauss_newton.c */
extern const lab_demo lab_demo_normalization, lab_demo_stochastic; /* demo_data.c */
extern const lab_demo lab_demo_saddle, lab_demo_plateau;           /* demo_escape.c */
extern const lab_demo lab_demo_saddle_index;                       /* demo_saddle_index.c */
extern const lab_demo lab_demo_minima;                             /* demo_minima.c */
extern const lab_demo lab_demo_whitening;                          /* demo_whitening.c */
extern const lab_demo lab_demo_batchnorm;                          /* demo_batchnorm.c */
extern const lab_demo lab_demo_hidden_conditioning;                /* demo_hidden.c */
extern const lab_demo lab_demo_noise_scale;                        /* demo_noise.c */
extern const lab_demo lab_demo_edge_of_stability;                  /* demo_edge.c */
extern const lab_demo lab_demo_rmsprop_step;                       /* demo_rmsprop_step.c */
extern const lab_demo lab_demo_generalization;                     /* demo_generalization.c */
extern const lab_demo lab_demo_tuning;                             /* demo_tuning.c */
extern const lab_demo lab_demo_scoreboard;                         /* demo_scoreboard.c */

/* ---- the lab's page (page.c) ------------------------------------------------- */

/* One demo of the page: its result, or why it did not run. */
typedef struct lab_page_demo {
  const lab_demo *demo;
  const char *folder;       /* its files' folder, relative to the page's: "step-size" */
  const char *command;      /* the command that reproduces it (NULL: none shown) */
  const lab_result *result; /* NULL when it did not run */
  const char *skipped;      /* then why, in one line (NULL: "not run") */
} lab_page_demo;

/* Writes s as HTML text: < > & " ' as entities, control characters other
   than newline and tab dropped (the lab's page and `descent report`'s). */
void lab_html_text(FILE *f, const char *s);
/* Writes dir/index.html, one self-contained page (inline CSS, no address
   outside dir, readable without JavaScript): the notes, a table of contents,
   then per demo in the given order its slides, claim, command, pictures
   (folder/stem.png linking to stem.svg, or how to draw them), animations
   (the .gif files among its files), a replay of the iterates of each paths
   CSV in its folder (plain JavaScript over data embedded in the page),
   what to look for, its tables and its notes. A NULL claim or look_for
   leaves its paragraph out. DESCENT_EIO when the file cannot be written. */
int lab_page_write(const char *dir, const char *title, const lab_page_demo *demos, int n,
                   const char *const *notes, int n_notes);
extern const lab_demo lab_demo_race; /* demo_race.c */

/* ---- helpers shared by the demos (lab.c) ------------------------------------- */

/* Problem and optimizer from text, with the error message naming which. */
int lab_problem(descent_objective **out, const char *fmt, ...) DESCENT_PRINTF(2, 3);
int lab_optimizer(descent_optimizer **out, const descent_objective *obj, const char *lr,
                  const char *fmt, ...) DESCENT_PRINTF(4, 5);
/* Runs a fresh optimizer (spec, lr) on obj from start (NULL: the problem's
   own start); the trace is owned by the caller. */
int lab_run(descent_objective *obj, const char *spec, double lr, const double *start,
            const descent_run_options *opts, descent_trace *trace);
/* The same with the learning rate as text: a number or a schedule. */
int lab_run_schedule(descent_objective *obj, const char *spec, const char *lr, const double *start,
                     const descent_run_options *opts, descent_trace *trace);
/* The shortest text that reads back as exactly v ("0.1", not
   "0.10000000000000001"), in buf of LAB_NUM characters; returns buf. */
#define LAB_NUM 32
char *lab_num(char *buf, double v);
/* Log-log least-squares slope of y against x over n points. */
double lab_loglog_slope(const double *x, const double *y, int n);
/* "12", "never (> 1000)", "diverged at 349": an iteration count for a table. */
void lab_iterations_text(const descent_trace *tr, char *buf, size_t cap);
/* Sets a cell to the iterations a run took to reach eps, or to the text of
   lab_iterations_text when it did not. */
void lab_table_iterations(lab_table *t, int row, const char *col, const descent_trace *tr);
/* The lecture's optimizers, in its order, as the library names them (each
   with PyTorch's defaults): gradient descent, heavy-ball momentum, Nesterov,
   Adagrad, RMSprop, Adam. The demos that compare "every optimizer" run
   these. */
#define LAB_LECTURE_OPTIMIZERS 6
extern const char *const lab_lecture_optimizers[LAB_LECTURE_OPTIMIZERS];
/* The best step of a grid for one optimizer: spec runs on obj from start
   (NULL: the problem's own) at every rate of grid (n of them) with opts,
   and the run that reaches eps (opts->eps > 0) or else escapes
   (opts->escape_below) in the fewest iterations is kept (ties: the smaller
   rate). The rates run from the largest down, each capped at the best
   count so far (it can only tie it). iters is -1 and lr NAN when no rate succeeds; trace is then
   the last run that did not diverge (or the last run), for
   lab_iterations_text. Free trace with descent_trace_free. */
typedef struct lab_best {
  double lr;
  int64_t iters;
  descent_trace trace;
} lab_best;
int lab_best_step(descent_objective *obj, const char *spec, const double *grid, int n,
                  const double *start, const descent_run_options *opts, lab_best *out);
/* Contour levels f_min + (f0 - f_min) q^k for k = -2 .. n-3: nested curves
   down to the minimum, two of them outside the start. Returns n. */
int lab_levels_geometric(double f_min, double f0, double q, int n, double *levels);
/* A window [lo, hi] holding the problem's own window and the first `show`
   iterates of n 2D runs (iterates beyond 1e3, of a diverging run, left out). */
void lab_cover_paths(const descent_problem_info *info, const descent_trace *tr, int n, int64_t show,
                     double *lo, double *hi);
/* Whether an option's value is "auto" (the problem's own choice). */
int lab_arg_is_auto(const lab_args *a, const char *name);
/* --start of a 2D demo: "auto" is the problem's own start, else "X,Y". */
int lab_arg_start(const lab_args *a, const descent_objective *obj, double *start);
/* --start of a demo that runs several problems: *start = NULL for "auto"
   (each problem's own start), else xy, read from "X,Y". */
int lab_arg_start_or_auto(const lab_args *a, double xy[2], const double **start);

/* ---- optimizers compared on Fashion-MNIST (compare.c) -------------------- */

/* The lecture's five: sgd, momentum, adagrad, rmsprop, adam (the library's
   named optimizers with PyTorch's defaults); the last three are adaptive. */
#define LAB_COMPARE_OPTIMIZERS 5
extern const char *const lab_compare_optimizers[LAB_COMPARE_OPTIMIZERS];
int lab_compare_adaptive(int k);

/* A training subset, the validation images held out of the training set
   (the n_val last of its first n_train + n_val images, taken out by a seeded
   split) and the first n_test test images. */
typedef struct lab_fmnist {
  descent_dataset train, val, test;
} lab_fmnist;
int lab_fmnist_load(const char *dir, int64_t n_train, int64_t n_val, int64_t n_test, lab_fmnist *d);
void lab_fmnist_free(lab_fmnist *d);

/* The MLP (avgpool(pool) unless pool is 1, depth hidden layers of width
   relu units, 10 outputs, softmax cross-entropy) and its training. */
typedef struct lab_mlp_setup {
  int64_t pool, width, depth;
  int64_t batch;  /* minibatch size */
  int64_t epochs; /* passes over the training subset */
  int64_t evals;  /* evaluations over the run (about; every steps / evals steps) */
} lab_mlp_setup;
void lab_mlp_spec(const lab_mlp_setup *s, char *buf, size_t cap);
int64_t lab_mlp_steps(const lab_mlp_setup *s, size_t n_train);

/* A run's evaluations: at step 0, every steps / evals steps and at the end;
   it stops at the first evaluation whose training loss is not finite or
   above 1e3 (diverged set). */
typedef struct lab_curve {
  int n;
  double *step, *train_loss, *val_acc, *test_acc;
  int diverged;
} lab_curve;
void lab_curve_free(lab_curve *c);

/* One run of optimizer opt (an index into lab_compare_optimizers) at
   learning rate lr; the weights and the batches' order come from seed. */
int lab_mlp_train(const lab_fmnist *d, const lab_mlp_setup *s, int opt, double lr, uint64_t seed,
                  lab_curve *out);
typedef struct lab_mlp_job {
  int opt;
  double lr;
  uint64_t seed;
  lab_curve curve; /* filled by lab_mlp_train_all */
} lab_mlp_job;
/* The runs in parallel, one per thread (the same numbers as in sequence). */
int lab_mlp_train_all(const lab_fmnist *d, const lab_mlp_setup *s, lab_mlp_job *jobs, int n);

/* Mean, sample standard deviation (0 for one value), min and max of the
   numbers of x that are not NaN (n of them; all NaN when none is). */
typedef struct lab_stats {
  double mean, sd, min, max;
  int n;
} lab_stats;
void lab_stats_of(const double *x, int n, lab_stats *out);

/* The good window of a learning rate: the rates around the best score
   (higher is better) whose score is at least (1 - rel) times it. Ends
   between grid points are interpolated linearly in log lr (the passing
   point itself when the failing one is NaN, a diverged run); an end at the
   edge of the grid is that grid point, flagged open (the window may be
   wider). lr must increase. DESCENT_EINVAL when it does not or no score is
   positive. */
typedef struct lab_window {
  double best_lr, best, threshold;
  double lo, hi;  /* the window's ends */
  double ratio;   /* hi / lo */
  double decades; /* log10(hi / lo) */
  int lo_open, hi_open;
} lab_window;
int lab_tuning_window(const double *lr, const double *score, int n, double rel, lab_window *w);
/* A learning-rate grid option: increasing positive numbers, 1 to LAB_MAX_LIST. */
int lab_lr_grid(const lab_args *a, const char *name, double *grid, int *n);

/* ---- the generalization demo's convex parts (convex.c) -------------------- */

/* Features of image i of ds: its pool x pool averages of pixels (row by
   row, (h / pool) x (w / pool) of them), then a 1 for an intercept. */
void lab_pooled_features(const descent_dataset *ds, size_t i, int64_t pool, double *out);

/* Each optimizer runs full-batch from zero at cosine(lr, steps) for every
   rate of the grid; the one that ends at the lowest objective is kept. */
typedef struct lab_convex_setup {
  int64_t pool;  /* images averaged over pool x pool pixels */
  int64_t train; /* the first `train` training images */
  double l2;     /* the L2 term's factor */
  int64_t steps;
  double grid[LAB_MAX_LIST];
  int n_grid;
} lab_convex_setup;
/* Table generalization-convex: ridge regression (one-hot targets) on the
   standardized pooled pixels, its minimizer by Cholesky, and each
   optimizer's objective gap, distance to the minimizer relative to its
   norm, the bound sqrt(2 gap / l2) on that distance, test accuracy and
   agreement (the fraction of test images classified as the minimizer does). */
int lab_convex_tie(const lab_fmnist *fm, const lab_convex_setup *s, lab_result *res);

typedef struct lab_wilson_setup {
  int64_t n;    /* training examples (6 n features) */
  int64_t test; /* new points the test error is measured on */
  double p;     /* probability of a positive label */
  int64_t seed;
  int64_t steps;
  double grid[LAB_MAX_LIST];
  int n_grid;
} lab_wilson_setup;
typedef struct lab_wilson_summary {
  double negatives;                      /* fraction of negative test labels */
  double err_sgd_closed, err_ada_closed; /* the closed forms' test errors */
  double worst_sgd, worst_ada; /* largest relative distance of sgd, momentum to the minimum-norm
                                  solution; of the adaptive methods to sign(X^T y) / 4 */
} lab_wilson_summary;
/* Table generalization-wilson: Wilson et al.'s construction, the two
   closed-form solutions and each optimizer's, with the test errors the
   paper predicts (0 for the minimum-norm solution, the fraction of negative
   points for sign(X^T y) / 4). */
int lab_wilson(const lab_wilson_setup *s, lab_result *res, lab_wilson_summary *out);

/* ---- files and pictures (plot.c) ------------------------------------------ */

/* Opens dir/name for writing and records it in r->files. */
FILE *lab_file_open(const char *dir, const char *name, lab_result *r);
/* Closes f; an error while writing becomes DESCENT_EIO naming the file. */
int lab_file_close(FILE *f, const char *name);
/* Writes every table of r as name.csv. */
int lab_write_tables(const char *dir, lab_result *r);

/* Writes the rows of one run into an open paths CSV whose columns are
   run,method,t,theta... (dim of them),f,gap: every iterate if there are at
   most max_rows, else the first ones and then a logarithmic selection. */
void lab_write_path(FILE *f, int run, const char *method, const descent_trace *tr, int max_rows);
/* The header for lab_write_path's rows. */
void lab_write_path_header(FILE *f, size_t dim);
/* f of a 1D problem at n points over [lo, hi], as theta,f. */
int lab_write_curve(descent_objective *obj, const char *dir, const char *name, double lo, double hi,
                    int n, lab_result *r);
/* Contour lines of a 2D problem at the given levels, computed on an n x n grid
   over [lo, hi] by marching squares, as x,y,level rows: one segment per pair
   of rows, segments separated by blank lines (gnuplot draws each). */
int lab_write_contours(descent_objective *obj, const char *dir, const char *name, const double *lo,
                       const double *hi, int n, const double *levels, int n_levels, lab_result *r);

/* A gnuplot script that draws stem.png and stem.svg: lab_gp_open writes the
   header and the loop over the two formats (the body that follows is run once
   for each), lab_gp_close ends the loop and records the picture. The body
   reads the CSV files beside the script, so it runs in that folder. */
FILE *lab_gp_open(const char *dir, const char *stem, int width, int height, const char *what,
                  lab_result *r);
int lab_gp_close(FILE *f, const char *stem, lab_result *r);
/* The header lab_gp_open writes, for other writers of such scripts
   (`descent report`): the comment naming the program that wrote it, the
   loop over formats (a space-separated list of "png" and "svg"), each
   terminal at width x height, the output, CSV input and the key's style. */
void lab_gp_header(FILE *f, const char *stem, const char *what, const char *program,
                   const char *formats, int width, int height);
/* Plot clauses, each starting with ", \\" and a new line unless first: contour lines from a
   lab_write_contours file; a path from a lab_write_path file (dim 1: the
   iterates on the curve, theta against f; dim 2: in the plane) up to
   iteration max_t, with the first `numbered` iterates numbered; and a run's
   gap f - f_min against t. */
void lab_gp_contour_lines(FILE *f, int first, const char *csv);
void lab_gp_path(FILE *f, int first, const char *csv, int run, const char *title, const char *color,
                 int numbered, int64_t max_t);
void lab_gp_gap(FILE *f, int first, const char *csv, int run, const char *title, const char *color,
                int dim);
/* Panel heads: a contour panel with equal axes over [lo, hi];
   a panel of f - f* against the iteration (log y, and log x if asked) up to
   xmax. lab_gp_panel_end ends a panel's plot command. */
void lab_gp_panel_2d(FILE *f, const char *title, const double *lo, const double *hi);
void lab_gp_panel_gap(FILE *f, const char *title, int64_t xmax, int logx);
void lab_gp_panel_end(FILE *f);
/* A colour for the i-th method of a picture. */
const char *lab_color(int i);

/* ---- animations (plot.c) ------------------------------------------------- */

/* An animated GIF of a demo's paths: each frame draws every panel's
   background (contour lines in 2D, the curve of f in 1D) and its runs'
   iterates up to iterate t, with a dot on the current one; t goes one by one
   over the first LAB_ANIM_HEAD iterates, then logarithmically to `last`, in
   at most LAB_ANIM_FRAMES frames (the last one held a moment before the loop
   starts again). The script reads the demo's own CSV files (a lab_write_path
   file and a lab_write_contours or lab_write_curve file per panel); each
   panel's window is its background's extent, which the script measures
   with gnuplot's stats. */
#define LAB_ANIM_PANELS 6
#define LAB_ANIM_RUNS   8
#define LAB_ANIM_HEAD   24
#define LAB_ANIM_FRAMES 52
#define LAB_ANIM_HOLD   8

typedef struct lab_anim_panel {
  char title[160];
  char background[LAB_TEXT], paths[LAB_TEXT];
  int n_runs;
  int runs[LAB_ANIM_RUNS];   /* run numbers in the paths file */
  int colors[LAB_ANIM_RUNS]; /* lab_color index */
  char labels[LAB_ANIM_RUNS][LAB_TEXT];
  /* 0: the window is the background's extent; 1: x over [lo[0], hi[0]] (and
     in 2D y over [lo[1], hi[1]]; in 1D, the curve's values there) */
  int window;
  double lo[2], hi[2];
} lab_anim_panel;

typedef struct lab_animation {
  char title[200]; /* the frame's title, followed by the iterate shown */
  int dim;         /* 1: iterates on the curve of f; 2: in the plane */
  int width, height;
  int64_t last; /* the last iterate revealed; -1: the panels' runs' last in their files */
  int n_panels;
  lab_anim_panel panels[LAB_ANIM_PANELS];
} lab_animation;

/* Starts an animation (width and height 0: from the number of panels, up to
   three on a row); adds a panel (NULL when full) and a run to a panel. */
void lab_anim_init(lab_animation *a, int dim, int64_t last, const char *fmt, ...)
    DESCENT_PRINTF(4, 5);
lab_anim_panel *lab_anim_panel_add(lab_animation *a, const char *background, const char *paths,
                                   const char *fmt, ...) DESCENT_PRINTF(4, 5);
void lab_anim_run(lab_anim_panel *p, int run, int color, const char *label);
/* The iterates revealed for a run of `last` iterations: 0, 1, ... up to
   LAB_ANIM_HEAD - 1, then logarithmically spaced, ending at last; returns
   how many (at most LAB_ANIM_FRAMES). */
int lab_anim_frames(int64_t last, int64_t *frames);
/* Writes stem-anim.gp, which draws stem.gif, and records stem in
   r->animations. */
int lab_gp_animation(const char *dir, const char *stem, const lab_animation *a, lab_result *r);
/* Runs stem-anim.gp in dir (as lab_plot_render runs stem.gp). */
int lab_anim_render(const char *dir, const char *stem);

/* Whether gnuplot is on PATH, and drawing stem.gp in dir with it:
   DESCENT_ENOTSUP when gnuplot is missing, DESCENT_EIO (with gnuplot's
   first error line) when it fails. */
int lab_gnuplot_available(void);
int lab_plot_render(const char *dir, const char *stem);

#endif /* DESCENT_LAB_H */
