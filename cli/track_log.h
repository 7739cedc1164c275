/*
 * track_log.h - diagnostics.csv, the rows of `descent train --track`: one a
 * measurement, written as each is taken, kept in step with the trainer on
 * resume and rollback, and the newest in a few words for the epoch's line.
 */
#ifndef DESCENT_CLI_TRACK_LOG_H
#define DESCENT_CLI_TRACK_LOG_H

#include "descent.h"

#include <stdio.h>

typedef struct track_log {
  descent_tracker *tracker; /* not owned */
  FILE *file;               /* diagnostics.csv, open for appending */
  double *last;             /* the newest row written by this process */
  int64_t last_step;        /* its step; 0: none yet */
} track_log;

/* Ready to log t's rows (allocates the row copy). 0, or -1 after printing
   why. */
int track_log_init(track_log *l, descent_tracker *t);
/* Rewrites dir/diagnostics.csv to its header and the rows of steps 1 to
   steps (atomically: a temporary file renamed over it), then opens it for
   appending. 0, or -1 after printing why. */
int track_log_sync(track_log *l, const char *dir, int64_t steps);
/* Writes the tracker's row of step, when that step was measured. */
void track_log_step(track_log *l, int64_t step);
/* " | step 4690: sharpness 41.3 / limit 20, ..." for the newest row; ""
   when there is none. */
void track_log_summary(const track_log *l, char *buf, size_t cap);
/* Flushes the file: 0, or -1 with errno set. */
int track_log_flush(track_log *l);
/* Closes the file and frees the row: 0, or -1 after printing why. */
int track_log_close(track_log *l);

#endif /* DESCENT_CLI_TRACK_LOG_H */
