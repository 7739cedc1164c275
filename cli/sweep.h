/*
 * sweep.h - `descent sweep`: a search over the options of `descent train`,
 * each trial an ordinary run folder trained by a child process. The parts:
 * sweep_space.c (the parameters, their spaces and the samplers), sweep_plan.c
 * (the plan saved in SWEEP/sweep.txt and read back by --resume),
 * sweep_trial.c (launching trials, the event log, what a trial folder holds),
 * sweep_summary.c (summary.csv and the ranked table), sweep_ranks.c (the
 * processes that run the trials: this one, or the ranks of an MPI job),
 * cmd_sweep.c (the command, its rungs of successive halving).
 */
#ifndef DESCENT_CLI_SWEEP_H
#define DESCENT_CLI_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SWEEP_MAX_PARAMS 32
#define SWEEP_MAX_TRIALS 100000
#define SWEEP_MAX_VALUE  256

typedef enum { SPACE_LIST, SPACE_LOG, SPACE_LIN, SPACE_INT } sweep_space_kind;

/* One swept parameter: NAME=SPACE. */
typedef struct sweep_param {
  char name[64];   /* a train option ("lr") or "opt.KEY" */
  char spec[1024]; /* SPACE as given */
  sweep_space_kind kind;
  char **items; /* SPACE_LIST: n_items values as text */
  size_t n_items;
  double lo, hi; /* ranges */
  size_t points; /* ranges: the grid's point count (0: not given) */
} sweep_param;

typedef enum { SAMPLER_GRID, SAMPLER_RANDOM, SAMPLER_SOBOL, SAMPLER_HALTON } sweep_sampler;

/* One trial: a configuration (one value per parameter) and a seed. */
typedef struct sweep_trial {
  char (*values)[SWEEP_MAX_VALUE]; /* n_params values as given to descent train */
  uint64_t seed;
} sweep_trial;

typedef struct sweep_plan {
  char command[4096]; /* the command line, for the reader */
  sweep_param params[SWEEP_MAX_PARAMS];
  size_t n_params;
  sweep_sampler sampler;
  uint64_t sample_seed;
  char metric[32];
  int jobs, threads;
  size_t halving_min, halving_eta; /* 0, 0: no halving */
  size_t epochs;                   /* the train options' --epochs (default 10) */
  char **train;                    /* the train options after --, n_train of them */
  size_t n_train;
  sweep_trial *trials;
  size_t n_trials;
} sweep_plan;

/* sweep_space.c */
/* Parses "NAME=SPACE" into p. Returns 0, or -1 after printing one line. */
int sweep_param_parse(const char *text, sweep_param *p);
/* Reads a space file: one NAME=SPACE per line, '#' comments, blank lines. */
int sweep_space_file(const char *path, sweep_plan *plan);
/* Draws the configurations (n_trials for the non-grid samplers) and crosses
 * them with the seeds: plan->trials. Returns 0 or -1 after printing. */
int sweep_draw(sweep_plan *plan, size_t n_trials, const uint64_t *seeds, size_t n_seeds);
const char *sweep_sampler_name(sweep_sampler s);
int sweep_sampler_parse(const char *name, sweep_sampler *out);
void sweep_plan_free(sweep_plan *plan);

/* sweep_plan.c */
/* Writes DIR/sweep.txt atomically. Returns 0 or -1 after printing. */
int sweep_plan_save(const sweep_plan *plan, const char *dir);
/* Reads DIR/sweep.txt. Returns 0, 1 when DIR holds none, or -1 after
 * printing. */
int sweep_plan_load(sweep_plan *plan, const char *dir);
/* The argument vector of descent train for trial t ("descent", "train",
 * ...: a NULL-ended array the
 * caller frees with sweep_args_free), epochs its --epochs, resume 1 for
 * --resume DIR instead of --out DIR. Returns NULL after printing. */
char **sweep_train_args(const sweep_plan *plan, size_t t, const char *dir, size_t epochs,
                        int resume);
void sweep_args_free(char **args);
/* Checks the train options against the swept parameters (a swept option
 * also given after -- without its {NAME} placeholder, --out, --resume...).
 * Returns 0 or -1 after printing. */
int sweep_check_train_options(const sweep_plan *plan);
/* Trial t's --epochs: its swept value, or the train options'. */
size_t sweep_trial_epochs(const sweep_plan *plan, size_t t);
/* 1 when the train options hold --val with a nonzero count. */
int sweep_has_val(const sweep_plan *plan);

/* sweep_trial.c */
typedef enum {
  TRIAL_PENDING,
  TRIAL_DONE,
  TRIAL_STOPPED,
  TRIAL_DIVERGED,
  TRIAL_FAILED
} trial_status;

typedef struct trial_state {
  trial_status status;
  size_t reached; /* epochs the sweep's record says it completed */
  int launched;   /* the record shows it started once */
} trial_state;

/* Appends one line to DIR/events.log (flushed to disk). */
int sweep_event(const char *dir, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Reads the record of DIR/events.log into states (n of them). */
int sweep_events_read(const char *dir, trial_state *states, size_t n);
/* How a trial ended, as the rank that ran it saw it. */
typedef struct sweep_outcome {
  size_t trial;
  int rank;
  trial_status status; /* TRIAL_DONE, TRIAL_DIVERGED or TRIAL_FAILED */
  int wstatus;         /* waitpid's status */
  double seconds;
} sweep_outcome;
/* Rank 0's order to a rank: run trial to `epochs` epochs (resume: from its
   newest checkpoint). */
typedef struct sweep_order {
  size_t trial, epochs;
  int rank, resume;
} sweep_order;

/* Rank 0: the launch of trial t on `rank` decided and recorded: waits until
   no process holds the trial's run lock, then resumes it from its newest
   checkpoint (*resume = 1), restarts it in an emptied folder, or starts it,
   and appends that to events.log (naming the rank and its host under MPI).
   Returns 0 or -1 after printing. */
int sweep_trial_prepare(const char *dir, size_t t, size_t epochs, trial_state *state, int rank,
                        int *resume);
/* Any rank: starts trial t as a child `descent train` (its output in
   logs/trial-NNNN.log, no MPI launcher's variables in its environment).
   Returns its pid, or -1 after printing. */
pid_t sweep_trial_start(const sweep_plan *plan, const char *dir, size_t t, size_t epochs,
                        int resume);
/* The rank that ran trial t: how it ended (done, diverged, failed). */
trial_status sweep_trial_outcome(const char *dir, size_t t, int wstatus);
/* Runs the listed trials (ids) to `epochs` epochs each (0: each trial's
 * own), up to plan->jobs at once on each rank, recording each in events.log
 * and states; calls on_done after each. Rank 0 only (the others serve with
 * sweep_ranks_serve). Returns 0, or -1 when the sweep itself cannot go on. */
typedef void (*sweep_done_fn)(void *user, size_t trial, double seconds);
int sweep_run_trials(const sweep_plan *plan, const char *dir, const size_t *ids, size_t n_ids,
                     size_t epochs, trial_state *states, sweep_done_fn on_done, void *user);

/* sweep_ranks.c: the rounds in which the ranks report and get trials. */
/* Every rank, first (collective): learns every rank's host. Returns 0. */
int sweep_ranks_start(void);
/* Rank r's host name, and the number of ranks (1 without MPI). */
const char *sweep_ranks_host(int rank);
int sweep_ranks_size(void);
/* Rank 0, once the folder dir is made (or found) and locked: tells the
   other ranks where it is and checks that every rank sees it (one line from
   each rank that does not). Returns 0 to go on, or the exit status. */
int sweep_ranks_open(const char *dir);
/* Rank 0, once the plan is saved in dir: the other ranks read it and wait
   for their trials. */
void sweep_ranks_ready(const sweep_plan *plan, const char *dir);
/* Rank 0 at the end, with the exit status: ends the other ranks, wherever
   they wait (for the opening, for the plan, in the rounds); nothing when
   alone or already ended. */
void sweep_ranks_end(int status);
/* Ranks > 0: their whole part of the sweep (the plan read from the folder,
   then the trials rank 0 hands out). Returns the exit status. */
int sweep_ranks_serve(void);
/* Rank 0, a round in two calls: waits (for one of its trials to end when
   alone; at most a moment when other ranks may have news), gathers every
   rank's ended trials (*failed: a rank could not start one) ... */
int sweep_ranks_gather(sweep_outcome **outcomes, size_t *n_outcomes, int *failed);
/* ... the free slots of rank r after it ... */
int sweep_ranks_free(int rank);
/* ... then hands out the orders (stop >= 0: no orders, the sweep ends with
   exit status stop) and starts its own. Returns 0, or -1 when one of its
   own could not start. */
int sweep_ranks_order(const sweep_order *orders, size_t n, int stop);
/* 1 when a trial ran somewhere at the last round. */
int sweep_ranks_busy(void);

/* sweep_summary.c */
typedef struct trial_result {
  size_t epochs;
  double train_loss, val_loss, val_acc, test_loss, test_acc, train_seconds, metric;
} trial_result;

/* Reads trial t's metrics.csv into r (NaNs for what is missing). */
void sweep_trial_result(const sweep_plan *plan, const char *dir, size_t t, trial_result *r);
/* The metric of trial t at epoch e (NAN when not there). */
double sweep_metric_at(const sweep_plan *plan, const char *dir, size_t t, size_t e);
/* 1 when metric a is better than b (max for accuracies, min for losses; NaN
 * is worst). */
int sweep_better(const char *metric, double a, double b);
/* Rewrites DIR/summary.csv atomically; prints the ranked table when print. */
int sweep_summary(const sweep_plan *plan, const char *dir, const trial_state *states, int print);

#endif /* DESCENT_CLI_SWEEP_H */
