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
  return descent_read_file(path, max_bytes, (unsigned char **)data, len);
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

char *text_echo(const char *p, const char *end, char buf[TEXT_ECHO_CAP]) {
  size_t used = 0, shown = 0;
  for (; p < end && *p != '\n' && *p != '\0'; p++, shown++) {
    if (shown == TEXT_ECHO_MAX) {
      memcpy(buf + used, "...", 4);
      return buf;
    }
    unsigned char c = (unsigned char)*p;
    if (c >= 32 && c < 127)
      buf[used++] = (char)c;
    else
      used += (size_t)snprintf(buf + used, TEXT_ECHO_CAP - used, "\\x%02x", c);
  }
  buf[used] = '\0';
  return buf;
}

size_t text_line_of(const char *data, const char *p) {
  size_t line = 1;
  for (const char *c = data; c < p; c++) line += *c == '\n';
  return line;
}

int text_load(const char *path, const descent_text_options *o, descent_dataset *out,
              text_parser parse) {
  descent_text_options defaults;
  if (!o) descent_text_options_default(&defaults), o = &defaults;
  char *data;
  size_t len;
  memset(out, 0, sizeof *out);
  int rc = text_file_read(path, o->max_bytes, &data, &len);
  if (rc) return rc;
  rc = parse(data, len, path, o, out);
  free(data);
  return rc;
}

void text_dataset_finish(descent_dataset *out, size_t rows, size_t features, int32_t max_label) {
  out->n = rows;
  out->features = features;
  out->shape = (descent_shape){1, {features}};
  out->classes = (size_t)max_label + 1;
}
