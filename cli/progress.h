/*
 * progress.h - progress reporting during an epoch.
 */
#ifndef DESCENT_CLI_PROGRESS_H
#define DESCENT_CLI_PROGRESS_H

#include <stddef.h>

typedef enum progress_mode { PROGRESS_NONE, PROGRESS_BAR, PROGRESS_LINES } progress_mode;

typedef struct progress {
  progress_mode mode;
  size_t total;     /* batches in the epoch */
  size_t next_line; /* next batch at which LINES mode prints */
  double start;     /* seconds, monotonic: the first update */
  double last_draw;
  /* Batches and samples at the first update: what was done before it (the
     batch that opened the display, or the part of the epoch a resumed run
     did before it stopped) took no time of this display's, so the rate and
     the ETA count from there. */
  size_t base_done, base_samples;
  int started;
  char label[32]; /* "epoch 3/10" */
} progress;

/* Seconds on a monotonic clock. */
double progress_now(void);

/* BAR on a terminal, LINES otherwise, NONE when quiet. */
progress_mode progress_auto(int quiet);

void progress_begin(progress *p, progress_mode mode, size_t total, const char *label);
/* done batches so far, the running mean loss and samples seen this epoch. */
void progress_update(progress *p, size_t done, double loss, size_t samples);
void progress_end(progress *p);

/* A text bar of cap - 1 characters, '#' for the share done of total and
   '.' for the rest, into bar. */
void progress_bar(char *bar, size_t cap, size_t done, size_t total);

#endif /* DESCENT_CLI_PROGRESS_H */
