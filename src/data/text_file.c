/*
 * text_file.c - bounded whole-file reads and number parsing for the CSV and
 * LIBSVM loaders.
 *
 * Text data sets are small next to memory, so each loader reads its file once
 * into a buffer and parses it in two passes (count, then fill): every size is
 * known, and checked, before the data set is allocated.
 */
#include "text_file.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int text_file_read(const char *path, size_t max_bytes, char **data, size_t *len) {
  *data = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) return descent_fail(DESCENT_EIO, "cannot open '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
    fclose(f);
    return descent_fail(DESCENT_EIO, "'%s' is not a regular file", path);
  }
  if ((unsigned long long)st.st_size > max_bytes) {
    fclose(f);
    return descent_fail(DESCENT_ERANGE, "%s: %lld bytes, more than the limit of %zu bytes", path,
                        (long long)st.st_size, max_bytes);
  }
  size_t size = (size_t)st.st_size;
  char *buf = malloc(size + 1);
  if (!buf) {
    fclose(f);
    return descent_fail(DESCENT_ENOMEM, "%s: cannot allocate %zu bytes", path, size + 1);
  }
  size_t got = fread(buf, 1, size, f);
  int failed = ferror(f);
  fclose(f);
  if (failed || got != size) {
    free(buf);
    return descent_fail(DESCENT_EIO, "%s: read %zu of %zu bytes", path, got, size);
  }
  buf[size] = '\0';
  *data = buf;
  *len = size;
  return DESCENT_OK;
}

bool text_parse_number(const char **p, double *value) {
  const char *s = *p;
  while (*s == ' ' || *s == '\t') s++;
  /* strtod would also accept "nan", "inf" and hexadecimal; data files that
     contain those are refused. */
  if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.')) return false;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || !isfinite(v) || errno == ERANGE) {
    /* Underflow to a tiny number is fine; overflow is not. */
    if (!(errno == ERANGE && isfinite(v) && end != s)) return false;
  }
  for (const char *c = s; c < end; c++)
    if (*c == 'x' || *c == 'X' || *c == 'n' || *c == 'N' || *c == 'i' || *c == 'I') return false;
  *value = v;
  *p = end;
  return true;
}

bool text_label_ok(double v) {
  return v >= 0 && v < 2147483648.0 && v == floor(v);
}

size_t text_line_of(const char *data, const char *p) {
  size_t line = 1;
  for (const char *c = data; c < p; c++) line += *c == '\n';
  return line;
}
