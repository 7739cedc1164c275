/*
 * csv.c - numeric CSV data sets: one example per line, one column of them the
 * class label.
 *
 * Two passes over the text: the first counts rows and checks that every row
 * has the same number of numeric fields, the second fills the data set, so
 * the allocation is exact and happens only for a well-formed file. A NaN, an
 * infinity, a value beyond the float range, an empty field or a ragged row
 * is an error naming the line and column. Both passes number lines as they
 * go, so loading is linear in the size of the file.
 *
 * A first line is a header only when declared (header = 1) or when it holds
 * no number at all: a data line that fails to parse (a typo, a NaN, an empty
 * field) is an error, never silently dropped as a header. A UTF-8 byte order
 * mark at the start is skipped.
 */
#include "text_file.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void descent_text_options_default(descent_text_options *o) {
  memset(o, 0, sizeof *o);
  o->label_column = -1;
  o->header = -1;
  o->delimiter = ',';
  o->features = 0;
  o->max_bytes = (size_t)1 << 30;
  o->max_elements = (size_t)1 << 28;
}

void descent_text_options_init(descent_text_options *o) {
  descent_text_options_default(o);
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

static const char *field_end(const char *p, const char *end, char delim) {
  while (p < end && *p != delim) p++;
  return p;
}

/* Whether any field of the line is a number. A line without one is a header
   even when none is declared; a line with one is data, and a field of it
   that does not parse is an error, never a reason to drop the line. */
static int line_has_number(const char *p, const char *end, char delim) {
  for (;;) {
    const char *e = field_end(p, end, delim), *q = p;
    double v;
    if (field_number(&q, e, delim, &v)) return 1;
    if (e >= end) return 0;
    p = e + 1;
  }
}

static int parse_row(const char *p, const char *end, const descent_text_options *o, size_t cols,
                     size_t label_col, descent_real *x, int32_t *label, const char *name,
                     size_t line) {
  size_t f = 0;
  for (size_t c = 0; c < cols; c++) {
    double v;
    const char *start = p;
    if (!field_number(&p, end, o->delimiter, &v) || !isfinite((descent_real)v)) {
      char echo[TEXT_ECHO_CAP];
      text_echo(start, field_end(start, end, o->delimiter), echo);
      return descent_fail(
          DESCENT_EFORMAT, "%s: line %zu, column %zu: '%s' is not a finite number%s", name, line,
          c + 1, echo,
          line == 1 && o->header <= 0 ? " (if line 1 is a header, declare it: header = 1)" : "");
    }
    if (c == label_col) {
      if (!text_label_ok(v))
        return descent_fail(DESCENT_EFORMAT,
                            "%s: line %zu, column %zu: label %g is not a whole number in [0, 2^31)",
                            name, line, c + 1, v);
      if (label) *label = (int32_t)v;
    } else if (x) {
      x[f++] = (descent_real)v;
    }
  }
  return DESCENT_OK;
}

/* The start of the next line, and its number. */
static const char *next_line(const char *e, const char *end_all, size_t *line) {
  ++*line;
  return *e ? e + 1 : end_all;
}

/* Pass 1: validates every row from p (line number `line`) and counts them.
   Lines are numbered as they go by: finding a line's number from the start
   of the file for every row would make loading quadratic in the rows. */
static int csv_check_rows(const char *p, const char *end_all, size_t line,
                          const descent_text_options *o, size_t cols, size_t label_col,
                          const char *name, size_t *rows) {
  *rows = 0;
  while (p < end_all) {
    const char *e = line_end(p);
    if (!line_blank(p, e)) {
      size_t n = count_fields(p, e, o->delimiter);
      if (n != cols)
        return descent_fail(DESCENT_EFORMAT, "%s: line %zu has %zu columns, the first row %zu",
                            name, line, n, cols);
      int rc = parse_row(p, e, o, cols, label_col, NULL, NULL, name, line);
      if (rc) return rc;
      ++*rows;
    }
    p = next_line(e, end_all, &line);
  }
  return DESCENT_OK;
}

/* Pass 2: fills the data set from the rows pass 1 checked. */
static void csv_fill_rows(const char *p, const char *end_all, const descent_text_options *o,
                          size_t cols, size_t label_col, size_t features, descent_dataset *out,
                          int32_t *max_label) {
  size_t r = 0, line = 0;
  *max_label = 0;
  while (p < end_all) {
    const char *e = line_end(p);
    if (!line_blank(p, e)) {
      parse_row(p, e, o, cols, label_col, out->x + r * features, &out->labels[r], "", 0);
      if (out->labels[r] > *max_label) *max_label = out->labels[r];
      r++;
    }
    p = next_line(e, end_all, &line);
  }
}

int descent_csv_parse(const char *data, size_t len, const char *name, const descent_text_options *o,
                      descent_dataset *out) {
  memset(out, 0, sizeof *out);
  descent_error_clear();
  descent_text_options defaults;
  if (!o) descent_text_options_default(&defaults), o = &defaults;
  if (memchr(data, '\0', len))
    return descent_fail(DESCENT_EFORMAT, "%s: a NUL byte at line %zu: not a text file", name,
                        text_line_of(data, data + strlen(data)));
  const char *p = data, *end_all = data + len;
  /* A UTF-8 byte order mark (spreadsheets write one) is not data: skipped. */
  if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3;
  size_t line = 1;
  while (p < end_all && line_blank(p, line_end(p))) p = next_line(line_end(p), end_all, &line);
  if (p >= end_all) return descent_fail(DESCENT_EFORMAT, "%s: no data", name);
  /* The header: declared, or a first line without a single number. */
  const char *first_end = line_end(p);
  size_t cols = count_fields(p, first_end, o->delimiter);
  int header = o->header < 0 ? !line_has_number(p, first_end, o->delimiter) : o->header;
  if (header) p = next_line(first_end, end_all, &line);
  if (cols < 2)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: one column per line; a data set needs features and a label (is the "
                        "delimiter '%c'?)",
                        name, o->delimiter);
  size_t label_col = o->label_column < 0 ? cols - 1 : (size_t)o->label_column;
  if (label_col >= cols)
    return descent_fail(DESCENT_EINVAL, "%s: label column %zu, but lines have %zu columns", name,
                        label_col + 1, cols);
  size_t rows, features = cols - 1;
  int rc = csv_check_rows(p, end_all, line, o, cols, label_col, name, &rows);
  if (rc) return rc;
  if (rows == 0) return descent_fail(DESCENT_EFORMAT, "%s: a header but no data", name);
  size_t elements;
  if (!descent_mul_ok(rows, features, &elements) || elements > o->max_elements)
    return descent_fail(DESCENT_ERANGE,
                        "%s: %zu rows of %zu features exceed the limit of %zu "
                        "values",
                        name, rows, features, o->max_elements);
  out->x = descent_alloc_real(elements, name);
  out->labels = descent_calloc(rows, sizeof *out->labels, name);
  if (!out->x || !out->labels) {
    descent_dataset_free(out);
    return DESCENT_ENOMEM;
  }
  int32_t max_label;
  csv_fill_rows(p, end_all, o, cols, label_col, features, out, &max_label);
  text_dataset_finish(out, rows, features, max_label);
  return DESCENT_OK;
}

int descent_csv_load(const char *path, const descent_text_options *o, descent_dataset *out) {
  return text_load(path, o, out, descent_csv_parse);
}
