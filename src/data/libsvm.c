/*
 * libsvm.c - sparse data sets in LIBSVM's text format, densified.
 *
 * Each line is `label index:value index:value ...` with 1-based, strictly
 * increasing indices. descent trains on dense batches, so the file is
 * densified; the size that needs (examples x features) is computed in the
 * first pass and refused beyond the configured limit before anything is
 * allocated. Labels must be class indices (whole numbers >= 0), except that
 * the binary convention -1/+1 is read as classes 0 and 1. Text echoed in a
 * message is cut at the line's end and escaped, so a message is one line.
 */
#include "text_file.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *next_line(const char *p, const char *end) {
  const char *e = strchr(p, '\n');
  return e ? e + 1 : end;
}

static int blank_or_comment(const char *p) {
  while (*p == ' ' || *p == '\t' || *p == '\r') p++;
  return *p == '\n' || *p == '\0' || *p == '#';
}

/* The end of the word at p: the next blank or the line's end. */
static const char *word_end(const char *p) {
  while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
  return p;
}

/* Parses one line; with x NULL it only validates and reports the largest
   index and the label. */
static int parse_line(const char *p, const char *name, size_t line, size_t features,
                      descent_real *x, double *label, size_t *max_index) {
  const char *start = p;
  char echo[TEXT_ECHO_CAP];
  if (!text_parse_number(&p, label))
    return descent_fail(DESCENT_EFORMAT, "%s: line %zu: expected a label, found '%s'", name, line,
                        text_echo(start, word_end(start), echo));
  size_t last = 0;
  for (;;) {
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    if (*p == '\n' || *p == '\0' || *p == '#') break;
    const char *pair = p;
    if (*p < '0' || *p > '9')
      return descent_fail(DESCENT_EFORMAT, "%s: line %zu: expected index:value, found '%s'", name,
                          line, text_echo(pair, word_end(pair), echo));
    char *end;
    unsigned long long index = strtoull(p, &end, 10);
    if (*end != ':' || index == 0 || index > ((size_t)1 << 40))
      return descent_fail(DESCENT_EFORMAT,
                          "%s: line %zu: '%s' is not index:value with an index from 1", name, line,
                          text_echo(pair, word_end(pair), echo));
    if (index <= last)
      return descent_fail(DESCENT_EFORMAT,
                          "%s: line %zu: index %llu after %zu; indices must increase", name, line,
                          index, last);
    p = end + 1;
    double v;
    if (!text_parse_number(&p, &v) || !isfinite((descent_real)v))
      return descent_fail(DESCENT_EFORMAT,
                          "%s: line %zu: the value of index %llu is not a finite "
                          "number",
                          name, line, index);
    if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '\0' && *p != '#')
      return descent_fail(DESCENT_EFORMAT, "%s: line %zu: unexpected '%s' after index %llu", name,
                          line, text_echo(p, p + 1, echo), index);
    last = (size_t)index;
    if (x && last <= features) x[last - 1] = (descent_real)v;
  }
  if (last > *max_index) *max_index = last;
  return DESCENT_OK;
}

int descent_libsvm_parse(const char *data, size_t len, const char *name,
                         const descent_text_options *o, descent_dataset *out) {
  memset(out, 0, sizeof *out);
  descent_error_clear();
  descent_text_options defaults;
  if (!o) descent_text_options_default(&defaults), o = &defaults;
  if (memchr(data, '\0', len))
    return descent_fail(DESCENT_EFORMAT, "%s: a NUL byte at line %zu: not a text file", name,
                        text_line_of(data, data + strlen(data)));
  const char *end = data + len;
  size_t rows = 0, max_index = 0, line = 0;
  int minus_one = 0, other = 0;
  for (const char *p = data; p < end; p = next_line(p, end)) {
    line++;
    if (blank_or_comment(p)) continue;
    double label;
    int rc = parse_line(p, name, line, 0, NULL, &label, &max_index);
    if (rc) return rc;
    if (label == -1)
      minus_one = 1;
    else if (!text_label_ok(label))
      return descent_fail(DESCENT_EFORMAT,
                          "%s: line %zu: label %g is not a class index (a whole number >= 0, or "
                          "-1/+1 for two classes)",
                          name, line, label);
    else if (label != 1)
      other = 1;
    rows++;
  }
  if (rows == 0) return descent_fail(DESCENT_EFORMAT, "%s: no data", name);
  if (minus_one && other)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: labels mix -1 with classes other than +1; use 0, 1, 2, ...", name);
  size_t features = o->features ? o->features : max_index;
  if (max_index > features)
    return descent_fail(DESCENT_ESHAPE, "%s: index %zu beyond the %zu features asked for", name,
                        max_index, features);
  if (features == 0) return descent_fail(DESCENT_EFORMAT, "%s: no features at all", name);
  size_t elements;
  if (!descent_mul_ok(rows, features, &elements) || elements > o->max_elements)
    return descent_fail(DESCENT_ERANGE,
                        "%s: densifying %zu rows of %zu features needs %zu values, beyond the "
                        "limit of %zu; raise the limit or select features",
                        name, rows, features, rows * features, o->max_elements);
  out->x = descent_alloc_real(elements, name);
  out->labels = descent_calloc(rows, sizeof *out->labels, name);
  if (!out->x || !out->labels) {
    descent_dataset_free(out);
    return DESCENT_ENOMEM;
  }
  size_t r = 0, unused = 0;
  int32_t max_label = 0;
  line = 0;
  for (const char *p = data; p < end; p = next_line(p, end)) {
    line++;
    if (blank_or_comment(p)) continue;
    double label;
    parse_line(p, name, line, features, out->x + r * features, &label, &unused);
    out->labels[r] = minus_one ? (label > 0) : (int32_t)label;
    if (out->labels[r] > max_label) max_label = out->labels[r];
    r++;
  }
  text_dataset_finish(out, rows, features, max_label);
  return DESCENT_OK;
}

int descent_libsvm_load(const char *path, const descent_text_options *o, descent_dataset *out) {
  return text_load(path, o, out, descent_libsvm_parse);
}
