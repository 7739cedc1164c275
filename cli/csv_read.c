/*
 * csv_read.c - numeric CSV files with a header, read leniently where a run
 * may have left them unfinished and strictly where the report would
 * otherwise draw the wrong thing (see csv_read.h).
 */
#include "csv_read.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_error(char *err, size_t cap, const char *fmt, ...) {
  if (!err || cap == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
}

void csv_free(csv_table *t) {
  if (!t) return;
  for (size_t i = 0; i < t->n_cols && t->names; i++) free(t->names[i]);
  free(t->names);
  free(t->values);
  memset(t, 0, sizeof *t);
}

int csv_column(const csv_table *t, const char *name) {
  for (size_t i = 0; i < t->n_cols; i++)
    if (strcmp(t->names[i], name) == 0) return (int)i;
  return -1;
}

double csv_value(const csv_table *t, size_t row, int col) {
  if (col < 0 || (size_t)col >= t->n_cols || row >= t->n_rows) return NAN;
  return t->values[row * t->n_cols + (size_t)col];
}

/* One line: [start, end) without its newline (and without a '\r' before it). */
typedef struct span {
  const char *start, *end;
} span;

static span trim(span s) {
  while (s.start < s.end && (*s.start == ' ' || *s.start == '\t')) s.start++;
  while (s.end > s.start && (s.end[-1] == ' ' || s.end[-1] == '\t' || s.end[-1] == '\r')) s.end--;
  return s;
}

/* The next comma-separated field of *line; 0 when the line is used up. */
static int next_field(span *line, span *field, int *done) {
  if (*done) return 0;
  const char *comma = memchr(line->start, ',', (size_t)(line->end - line->start));
  field->start = line->start;
  field->end = comma ? comma : line->end;
  if (comma)
    line->start = comma + 1;
  else
    *done = 1;
  *field = trim(*field);
  return 1;
}

/* A number as the writers print it (%.9g, %.17g, nan, inf); an empty field
   is NAN. 0, or -1 for anything else. */
static int parse_number(span f, double *out) {
  size_t len = (size_t)(f.end - f.start);
  if (len == 0) {
    *out = NAN;
    return 0;
  }
  char buf[64];
  if (len >= sizeof buf) return -1;
  memcpy(buf, f.start, len);
  buf[len] = '\0';
  char *end;
  errno = 0;
  double v = strtod(buf, &end);
  if (end != buf + len) return -1;
  *out = isnan(v) ? NAN : v; /* one NaN, whatever its sign or payload */
  return 0;
}

static int parse_header(span line, const char *file, const char *const *required, csv_table *t,
                        char *err, size_t cap) {
  size_t count = 1;
  for (const char *c = line.start; c < line.end; c++) count += *c == ',';
  if (count > CSV_MAX_COLUMNS) {
    set_error(err, cap, "%s: the header has %zu columns (at most %d): not a file descent wrote",
              file, count, CSV_MAX_COLUMNS);
    return -1;
  }
  if (!(t->names = calloc(count, sizeof *t->names))) {
    set_error(err, cap, "%s: out of memory reading the header", file);
    return -1;
  }
  span f;
  int done = 0;
  while (next_field(&line, &f, &done)) {
    size_t len = (size_t)(f.end - f.start);
    if (len == 0 || len > CSV_MAX_NAME) {
      set_error(err, cap, "%s: column %zu of the header is %s: not a file descent wrote", file,
                t->n_cols + 1, len ? "overlong" : "empty");
      return -1;
    }
    for (const char *c = f.start; c < f.end; c++)
      if ((unsigned char)*c < 32 || *c == 127) {
        set_error(err, cap, "%s: the header holds a control character: not a file descent wrote",
                  file);
        return -1;
      }
    if (!(t->names[t->n_cols] = malloc(len + 1))) {
      set_error(err, cap, "%s: out of memory reading the header", file);
      return -1;
    }
    memcpy(t->names[t->n_cols], f.start, len);
    t->names[t->n_cols++][len] = '\0';
    if (csv_column(t, t->names[t->n_cols - 1]) != (int)t->n_cols - 1) {
      set_error(err, cap, "%s: the header names column '%.60s' twice: not a file descent wrote",
                file, t->names[t->n_cols - 1]);
      return -1;
    }
  }
  for (size_t i = 0; required && required[i]; i++)
    if (csv_column(t, required[i]) < 0) {
      char want[256] = "";
      for (size_t k = 0; required[k]; k++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", k ? "," : "",
                 required[k]);
      set_error(err, cap,
                "%s: the header lacks the column '%s' (it must hold %s): a file of another "
                "program or version; give the folder descent train --out wrote",
                file, required[i], want);
      return -1;
    }
  return 0;
}

/* Parses one data line into row; 0, or -1 with the reason in why. */
static int parse_row(span line, size_t n_cols, double *row, char *why, size_t cap) {
  span f;
  int done = 0;
  size_t k = 0;
  while (next_field(&line, &f, &done)) {
    if (k == n_cols) {
      snprintf(why, cap, "more fields than the header's %zu", n_cols);
      return -1;
    }
    if (parse_number(f, &row[k])) {
      snprintf(why, cap, "field %zu is not a number", k + 1);
      return -1;
    }
    k++;
  }
  if (k != n_cols) {
    snprintf(why, cap, "%zu fields where the header has %zu", k, n_cols);
    return -1;
  }
  return 0;
}

static void write_note(csv_table *t, const char *file, size_t first_line, const char *first_why) {
  char *n = t->note;
  size_t cap = sizeof t->note;
  if (t->skipped)
    snprintf(n, cap, "%s: %zu malformed line%s left out (the first: line %zu, %s)", file,
             t->skipped, t->skipped == 1 ? "" : "s", first_line, first_why);
  if (t->cut_short) {
    size_t used = strlen(n);
    snprintf(n + used, cap - used,
             "%s%s: its last line is cut short (the run stopped while "
             "writing it): left out",
             used ? "; " : "", used ? "and" : file);
  }
}

int csv_parse(const char *text, size_t len, const char *file, const char *const *required,
              csv_table *out, char *err, size_t cap) {
  memset(out, 0, sizeof *out);
  if (memchr(text, '\0', len)) {
    set_error(err, cap,
              "%s holds a NUL byte: not a text file; give the folder descent train "
              "--out wrote",
              file);
    return -1;
  }
  const char *end = text + len, *nl = memchr(text, '\n', len);
  span head = trim((span){text, nl ? nl : end});
  if (head.start == head.end) {
    set_error(err, cap, "%s is empty: no header line; give the folder descent train --out wrote",
              file);
    return -1;
  }
  if (parse_header(head, file, required, out, err, cap)) {
    csv_free(out);
    return -1;
  }
  /* Rows: at most one per line, and each takes n_cols - 1 commas. */
  size_t lines = 1, commas = 0;
  for (const char *c = nl ? nl : end; c < end; c++) lines += *c == '\n', commas += *c == ',';
  size_t rows =
      out->n_cols > 1 && commas / (out->n_cols - 1) < lines ? commas / (out->n_cols - 1) : lines;
  out->values = malloc((rows + 1) * out->n_cols * sizeof *out->values);
  if (!out->values) {
    set_error(err, cap, "%s: out of memory for %zu lines", file, lines);
    csv_free(out);
    return -1;
  }
  size_t line_no = 1, first_line = 0;
  char why[96] = "", first_why[96] = "";
  for (const char *p = nl ? nl + 1 : end; p < end;) {
    line_no++;
    const char *stop = memchr(p, '\n', (size_t)(end - p));
    span line = trim((span){p, stop ? stop : end});
    p = stop ? stop + 1 : end;
    if (line.start == line.end) continue; /* a blank line says nothing */
    if (!stop) {                          /* no newline: the writer stopped mid-line */
      out->cut_short = 1;
      break;
    }
    /* At most `rows` lines can be whole (each holds n_cols - 1 commas); the
       spare row past them only ever holds a line that is refused. */
    if (parse_row(line, out->n_cols, out->values + out->n_rows * out->n_cols, why, sizeof why)) {
      if (!out->skipped++) first_line = line_no, memcpy(first_why, why, sizeof why);
      continue;
    }
    if (out->n_rows == rows) continue; /* cannot happen: counted above */
    out->n_rows++;
  }
  write_note(out, file, first_line, first_why);
  return 0;
}

int csv_load(const char *path, const char *file, const char *const *required, csv_table *out,
             char *err, size_t cap) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT) return 1;
    set_error(err, cap, "cannot read %s: %s", file, strerror(errno));
    return -1;
  }
  size_t size = 0, room = 1 << 16;
  char *text = malloc(room);
  int rc = -1;
  if (!text) {
    set_error(err, cap, "%s: out of memory", file);
    goto done;
  }
  for (;;) {
    if (size == room) {
      if (room >= CSV_MAX_BYTES) {
        set_error(err, cap, "%s is larger than %zu MiB: not a file descent wrote", file,
                  CSV_MAX_BYTES >> 20);
        goto done;
      }
      char *bigger = realloc(text, room * 2);
      if (!bigger) {
        set_error(err, cap, "%s: out of memory", file);
        goto done;
      }
      text = bigger, room *= 2;
    }
    size_t got = fread(text + size, 1, room - size, f);
    size += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    set_error(err, cap, "cannot read %s: %s", file, strerror(errno));
    goto done;
  }
  rc = csv_parse(text, size, file, required, out, err, cap);
done:
  free(text);
  fclose(f);
  return rc;
}
