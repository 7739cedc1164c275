/*
 * bench_score.h - a bench's results: one file per trial (its time to
 * target, read from its metrics.csv), and the scores AlgoPerf's rules give
 * them (results.csv, scores.csv, the performance profiles, DeepOBS's speed,
 * a printed table).
 */
#ifndef DESCENT_CLI_BENCH_SCORE_H
#define DESCENT_CLI_BENCH_SCORE_H

#include "bench_plan.h"

/* Whether BENCH/results/ID.txt exists (the trial finished). */
int bench_result_exists(const char *dir, const bench_trial *t);

/* Reads the trial's metrics.csv (none for status "unsupported") and writes
   BENCH/results/ID.txt atomically: the status, the first epoch whose
   validation metric reached the target with its step count and training
   seconds up to it (the sum of train_seconds, evaluation excluded), the best
   and last metric and the curve. line (256 bytes, may be NULL) receives a
   summary. Returns 0, or -1 after a message. */
int bench_result_write(const char *dir, const bench_trial *t, const char *status, char *line);

/* Scores the finished plan: results.csv, scores.csv, profile-RULESET.csv
   and the pictures profile-RULESET.png/svg, and a table on stdout. */
int bench_score_write(const char *dir, const bench_trial *plan, size_t n, size_t studies);

/* The best validation metric a finished trial reached (NaN: none). */
int bench_result_best(const char *dir, const bench_trial *t, double *best);

/* results.csv: one row per trial of the plan. */
int bench_results_csv(const char *dir, const bench_trial *plan, size_t n);

#endif /* DESCENT_CLI_BENCH_SCORE_H */
