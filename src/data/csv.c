/*
 * csv.c - numeric CSV data sets: one example per line, one column of them the
 * class label.
 *
 * Two passes over the text: the first counts rows and checks that every row
 * has the same number of numeric fields, the second fills the data set, so
 * the allocation is exact and happens only for a well-formed file. A NaN, an
 * infinity, a value beyond the float range, an empty field or a ragged row
 * is an error naming the line.
 */
#include "text_file.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void descent_text_options_init(descent_text_options *o) {
  memset(o, 0, sizeof *o);
  o->label_column = -1;
  o->header = -1;
  o->delimiter = ',';
  o->features = 0;
  o->max_bytes = (size_t)1 << 30;
  o->max_elements = (size_t)1 << 28;
}

static const char *line_end(const char *p) {
  const char *e = strchr(p, '\n');
  return e ? e : p + strlen(p);
}

static int line_blank(const char *p, const char *end) {
  for (; p < end; p++)
    if (*p != ' ' && *p != '\t' && *p != '\r') return 0;
  return 1;
}

/* Parses one field ending at the delimiter or the line's end; quotes around a
   number are allowed. Returns 1 and advances *p past the delimiter, or 0. */
static int field_number(const char **p, const char *end, char delim, double *v) {
  const char *s = *p;
  while (s < end && (*s == ' ' || *s == '\t')) s++;
  int quoted = s < end && *s == '"';
  if (quoted) s++;
  if (!text_parse_number(&s, v) || s > end) return 0;
  if (quoted) {
    if (s >= end || *s != '"') return 0;
    s++;
  }
  while (s < end && (*s == ' ' || *s == '\t' || *s == '\r')) s++;
  if (s < end && *s != delim) return 0;
  *p = s < end ? s + 1 : s;
  return 1;
}

/* Counts the fields of a line (delimiters + 1). */
static size_t count_fields(const char *p, const char *end, char delim) {
  size_t n = 1;
  for (; p < end; p++) n += *p == delim;
  return n;
}

static int parse_row(const char *p, const char *end, const descent_text_options *o, size_t cols,
                     size_t label_col, descent_real *x, int32_t *label, const char *name,
                     size_t line) {
  size_t f = 0;
  for (size_t c = 0; c < cols; c++) {
    double v;
    const char *start = p;
    if (!field_number(&p, end, o->delimiter, &v) || !isfinite((descent_real)v)) {
      int len = 0;
      while (start + len < end && start[len] != o->delimiter && len < 24) len++;
      return descent_fail(DESCENT_EFORMAT,
                          "%s: line %zu, column %zu: '%.*s' is not a finite number", name, line,
                          c + 1, len, start);
    }
    if (c == label_col) {
      if (!text_label_ok(v))
        return descent_fail(DESCENT_EFORMAT,
                            "%s: line %zu: label %g is not a whole number in [0, 2^31)", name, line,
                            v);
      if (label) *label = (int32_t)v;
    } else if (x) {
      x[f++] = (descent_real)v;
    }
  }
  return DESCENT_OK;
}

int descent_csv_parse(const char *data, size_t len, const char *name, const descent_text_options *o,
                      descent_dataset *out) {
  memset(out, 0, sizeof *out);
  descent_error_clear();
  if (memchr(data, '\0', len))
    return descent_fail(DESCENT_EFORMAT, "%s: a NUL byte at line %zu: not a text file", name,
                        text_line_of(data, data + strlen(data)));
  const char *p = data, *end_all = data + len;
  while (p < end_all && line_blank(p, line_end(p))) p = *line_end(p) ? line_end(p) + 1 : end_all;
  if (p >= end_all) return descent_fail(DESCENT_EFORMAT, "%s: no data", name);
  /* The header: declared, or detected by a first line that is not all numbers. */
  const char *first_end = line_end(p);
  size_t cols = count_fields(p, first_end, o->delimiter);
  int header = o->header;
  if (header < 0) {
    header = 0;
    const char *q = p;
    double v;
    for (size_t c = 0; c < cols; c++)
      if (!field_number(&q, first_end, o->delimiter, &v)) header = 1;
  }
  if (header) p = *first_end ? first_end + 1 : end_all;
  if (cols < 2)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: one column per line; a data set needs features and a label (is the "
                        "delimiter '%c'?)",
                        name, o->delimiter);
  size_t label_col = o->label_column < 0 ? cols - 1 : (size_t)o->label_column;
  if (label_col >= cols)
    return descent_fail(DESCENT_EINVAL, "%s: label column %zu, but lines have %zu columns", name,
                        label_col + 1, cols);
  /* Pass 1: validate every row and count them. */
  size_t rows = 0, features = cols - 1;
  for (const char *q = p; q < end_all;) {
    const char *e = line_end(q);
    if (!line_blank(q, e)) {
      size_t line = text_line_of(data, q);
      size_t n = count_fields(q, e, o->delimiter);
      if (n != cols)
        return descent_fail(DESCENT_EFORMAT, "%s: line %zu has %zu columns, the first row %zu",
                            name, line, n, cols);
      int rc = parse_row(q, e, o, cols, label_col, NULL, NULL, name, line);
      if (rc) return rc;
      rows++;
    }
    q = *e ? e + 1 : end_all;
  }
  if (rows == 0) return descent_fail(DESCENT_EFORMAT, "%s: a header but no data", name);
  size_t elements;
  if (!descent_mul_ok(rows, features, &elements) || elements > o->max_elements)
    return descent_fail(DESCENT_ERANGE,
                        "%s: %zu rows of %zu features exceed the limit of %zu "
                        "values",
                        name, rows, features, o->max_elements);
  /* Pass 2: fill. */
  out->x = descent_alloc_real(elements, name);
  out->labels = descent_calloc(rows, sizeof *out->labels, name);
  if (!out->x || !out->labels) {
    descent_dataset_free(out);
    return DESCENT_ENOMEM;
  }
  size_t r = 0;
  int32_t max_label = 0;
  for (const char *q = p; q < end_all;) {
    const char *e = line_end(q);
    if (!line_blank(q, e)) {
      parse_row(q, e, o, cols, label_col, out->x + r * features, &out->labels[r], name, 0);
      if (out->labels[r] > max_label) max_label = out->labels[r];
      r++;
    }
    q = *e ? e + 1 : end_all;
  }
  text_dataset_finish(out, rows, features, max_label);
  return DESCENT_OK;
}

int descent_csv_load(const char *path, const descent_text_options *o, descent_dataset *out) {
  return text_load(path, o, out, descent_csv_parse);
}
