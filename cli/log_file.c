/*
 * log_file.c - rewriting a run's CSV log to the rows the trainer holds
 * (log_file.h).
 */
#include "log_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int log_file_keep_rows(const char *dir, const char *name, const char *header, long long last,
                       FILE **out) {
  char path[4096], tmp[4200], line[65536];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (*out) fclose(*out);
  *out = NULL;
  FILE *in = fopen(path, "r"), *f = fopen(tmp, "w");
  if (!f) {
    fprintf(stderr, "descent train: cannot write '%s': %s\n", tmp, strerror(errno));
    if (in) fclose(in);
    return -1;
  }
  fputs(header, f);
  while (in && fgets(line, sizeof line, in)) {
    char *end;
    long long key = strtoll(line, &end, 10);
    if (end != line && *end == ',' && key >= 1 && key <= last && strchr(line, '\n')) fputs(line, f);
  }
  if (in) fclose(in);
  if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
    fprintf(stderr, "descent train: cannot replace '%s': %s\n", path, strerror(errno));
    return -1;
  }
  if (!(*out = fopen(path, "a"))) {
    fprintf(stderr, "descent train: cannot write '%s': %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}
