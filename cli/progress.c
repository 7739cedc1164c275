/*
 * progress.c - a progress bar with ETA on a terminal, plain lines elsewhere.
 *
 * A log file or a CI console should get a few complete lines, not carriage
 * returns, so the mode is chosen by isatty. The bar is redrawn at most ten
 * times a second so drawing never shows up in the samples/s.
 */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double progress_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

progress_mode progress_auto(int quiet) {
  if (quiet) return PROGRESS_NONE;
  return isatty(STDOUT_FILENO) ? PROGRESS_BAR : PROGRESS_LINES;
}

void progress_begin(progress *p, progress_mode mode, size_t total, const char *label) {
  memset(p, 0, sizeof *p);
  p->mode = mode;
  p->total = total ? total : 1;
  p->next_line = (p->total + 3) / 4;
  p->start = p->last_draw = progress_now();
  snprintf(p->label, sizeof p->label, "%s", label);
}

void progress_bar(char *bar, size_t cap, size_t done, size_t total) {
  if (!cap) return;
  size_t width = cap - 1, filled = total ? width * (done < total ? done : total) / total : 0;
  for (size_t i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
  bar[width] = '\0';
}

void progress_update(progress *p, size_t done, double loss, size_t samples) {
  if (p->mode == PROGRESS_NONE) return;
  double now = progress_now();
  if (!p->started || done < p->base_done || samples < p->base_samples) {
    p->started = 1;
    p->start = now;
    p->base_done = done;
    p->base_samples = samples;
  }
  double elapsed = now - p->start;
  size_t timed_done = done - p->base_done, timed_samples = samples - p->base_samples;
  double rate = elapsed > 0 ? (double)timed_samples / elapsed : 0;
  if (p->mode == PROGRESS_LINES) {
    if (done < p->next_line || done == p->total) return;
    p->next_line += (p->total + 3) / 4;
    printf("  %s %3.0f%% loss %.4f  %.0f samples/s\n", p->label,
           100.0 * (double)done / (double)p->total, loss, rate);
    fflush(stdout);
    return;
  }
  if (now - p->last_draw < 0.1 && done < p->total) return;
  p->last_draw = now;
  char bar[31];
  progress_bar(bar, sizeof bar, done, p->total);
  double eta = timed_done ? elapsed * (double)(p->total - done) / (double)timed_done : 0;
  printf("\r  %s [%s] %5.1f%% loss %.4f  %.0f samples/s  ETA %4.0fs ", p->label, bar,
         100.0 * (double)done / (double)p->total, loss, rate, eta);
  fflush(stdout);
}

void progress_end(progress *p) {
  if (p->mode == PROGRESS_BAR) {
    printf("\r%*s\r", 100, "");
    fflush(stdout);
  }
}
