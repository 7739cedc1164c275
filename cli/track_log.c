/*
 * track_log.c - diagnostics.csv of `descent train --track`: the header and
 * one row per measurement (numbers as %.9g, step and epoch as integers,
 * "nan" where a quantity is undefined), each flushed when written, so that
 * a run killed later has the rows of every step its checkpoints hold; on
 * resume and rollback the file keeps the rows of the steps the trainer has
 * taken, and the steps after them are measured again, to the same bits.
 */
#include "track_log.h"

#include "log_file.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int track_log_init(track_log *l, descent_tracker *t) {
  memset(l, 0, sizeof *l);
  l->tracker = t;
  size_t count;
  descent_tracker_columns(t, &count);
  if (!(l->last = calloc(count ? count : 1, sizeof *l->last))) {
    fprintf(stderr, "descent train: out of memory for the instruments' rows\n");
    return -1;
  }
  return 0;
}

static void write_row(FILE *f, const double *row, size_t count) {
  for (size_t i = 0; i < count; i++) {
    if (i) fputc(',', f);
    if (i < 2)
      fprintf(f, "%lld", (long long)row[i]);
    else if (isnan(row[i]))
      fputs("nan", f);
    else
      fprintf(f, "%.9g", row[i]);
  }
  fputc('\n', f);
}

/* The header line: the tracker's column names. */
static char *header_text(const descent_tracker *t) {
  size_t count, len = 1;
  const char *const *names = descent_tracker_columns(t, &count);
  for (size_t i = 0; i < count; i++) len += strlen(names[i]) + 1;
  char *text = malloc(len + 1), *p = text;
  if (!text) return NULL;
  for (size_t i = 0; i < count; i++) p += sprintf(p, "%s%s", i ? "," : "", names[i]);
  strcpy(p, "\n");
  return text;
}

int track_log_sync(track_log *l, const char *dir, int64_t steps) {
  char *header = header_text(l->tracker);
  if (!header) {
    fprintf(stderr, "descent train: out of memory for diagnostics.csv's header\n");
    return -1;
  }
  int rc = log_file_keep_rows(dir, "diagnostics.csv", header, (long long)steps, &l->file);
  free(header);
  l->last_step = 0;
  return rc;
}

void track_log_step(track_log *l, int64_t step) {
  const double *row = descent_tracker_row(l->tracker, step);
  if (!row || !l->file) return;
  size_t count;
  descent_tracker_columns(l->tracker, &count);
  write_row(l->file, row, count);
  /* Measurements are rare: each reaches the file at once. */
  fflush(l->file);
  memcpy(l->last, row, count * sizeof *row);
  l->last_step = step;
}

void track_log_summary(const track_log *l, char *buf, size_t cap) {
  buf[0] = '\0';
  if (!l->tracker || !l->last_step) return;
  size_t count, used = 0;
  const char *const *names = descent_tracker_columns(l->tracker, &count);
  static const struct {
    const char *column, *label;
  } shown[] = {{"hessian_top", "sharpness"},
               {"precond_top", "preconditioned"},
               {"stability_limit", "limit"},
               {"noise_scale", "noise scale"},
               {"alpha", "alpha"}};
  used += (size_t)snprintf(buf, cap, " | step %lld:", (long long)l->last_step);
  int first = 1;
  for (size_t k = 0; k < sizeof shown / sizeof *shown && used < cap; k++)
    for (size_t i = 0; i < count && used < cap; i++) {
      if (strcmp(names[i], shown[k].column) != 0 || isnan(l->last[i])) continue;
      /* "sharpness 41.3 / limit 20": the limit goes with what it limits. */
      const char *sep = first                                             ? " "
                        : strcmp(shown[k].column, "stability_limit") == 0 ? " / "
                                                                          : ", ";
      used +=
          (size_t)snprintf(buf + used, cap - used, "%s%s %.3g", sep, shown[k].label, l->last[i]);
      first = 0;
    }
  if (first) buf[0] = '\0';
}

int track_log_flush(track_log *l) {
  return l->file && fflush(l->file) != 0 ? -1 : 0;
}

int track_log_close(track_log *l) {
  int rc = 0;
  if (l->file && fclose(l->file) != 0) {
    fprintf(stderr, "descent train: writing diagnostics.csv failed: %s\n", strerror(errno));
    rc = -1;
  }
  l->file = NULL;
  free(l->last);
  l->last = NULL;
  return rc;
}
