/*
 * table.c - the tables of numbers the demos return, and the result that holds
 * them with the files and pictures a demo wrote.
 *
 * A table is the same object for the terminal, the CSV file and the tests:
 * the tests read a cell by row label and column name, so they assert on the
 * very numbers a user sees.
 */
#include "lab.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int lab_table_init(lab_table *t, const char *name, const char *title, const char *cols) {
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  snprintf(t->title, sizeof t->title, "%s", title);
  for (const char *p = cols; *p && t->n_cols < LAB_MAX_COLS;) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len >= LAB_TEXT) len = LAB_TEXT - 1;
    memcpy(t->cols[t->n_cols], p, len);
    t->cols[t->n_cols++][len] = '\0';
    p += len + (bar ? 1 : 0);
    if (!bar) break;
  }
  return DESCENT_OK;
}

void lab_table_free(lab_table *t) {
  free(t->cells);
  t->cells = NULL;
  t->n_rows = t->cap = 0;
}

int lab_table_row(lab_table *t, const char *fmt, ...) {
  if (t->n_rows == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 8;
    lab_cell *cells = realloc(t->cells, cap * (size_t)t->n_cols * sizeof *cells);
    if (!cells) {
      descent_fail(DESCENT_ENOMEM, "table %s: out of memory", t->name);
      return -1;
    }
    t->cells = cells;
    t->cap = cap;
  }
  lab_cell *row = t->cells + t->n_rows * (size_t)t->n_cols;
  for (int c = 0; c < t->n_cols; c++) {
    row[c].number = NAN;
    row[c].text[0] = '\0';
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(row[0].text, LAB_TEXT, fmt, ap);
  va_end(ap);
  return (int)t->n_rows++;
}

static int column(const lab_table *t, const char *col) {
  for (int c = 0; c < t->n_cols; c++)
    if (strcmp(t->cols[c], col) == 0) return c;
  return -1;
}

static lab_cell *cell(lab_table *t, int row, const char *col) {
  int c = column(t, col);
  if (row < 0 || (size_t)row >= t->n_rows || c < 0) return NULL;
  return &t->cells[(size_t)row * (size_t)t->n_cols + (size_t)c];
}

void lab_table_num(lab_table *t, int row, const char *col, double v) {
  lab_cell *c = cell(t, row, col);
  if (!c) return;
  c->number = v;
  c->text[0] = '\0';
}

void lab_table_text(lab_table *t, int row, const char *col, const char *fmt, ...) {
  lab_cell *c = cell(t, row, col);
  if (!c) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->text, LAB_TEXT, fmt, ap);
  va_end(ap);
  c->number = NAN;
}

const lab_cell *lab_table_get(const lab_table *t, const char *row, const char *col) {
  int c = column(t, col);
  if (c < 0) return NULL;
  for (size_t r = 0; r < t->n_rows; r++)
    if (strcmp(t->cells[r * (size_t)t->n_cols].text, row) == 0)
      return &t->cells[r * (size_t)t->n_cols + (size_t)c];
  return NULL;
}

double lab_table_number(const lab_table *t, const char *row, const char *col) {
  const lab_cell *c = lab_table_get(t, row, col);
  return c && !c->text[0] ? c->number : NAN;
}

void lab_cell_format(const lab_cell *c, int full, char *buf, size_t cap) {
  if (c->text[0])
    snprintf(buf, cap, "%s", c->text);
  else if (isnan(c->number))
    snprintf(buf, cap, "%s", full ? "" : "-");
  else if (c->number == floor(c->number) && fabs(c->number) < 1e15)
    snprintf(buf, cap, "%.0f", c->number);
  else
    snprintf(buf, cap, full ? "%.10g" : "%.4g", c->number);
}

void lab_table_print(const lab_table *t, FILE *out) {
  int width[LAB_MAX_COLS];
  char buf[LAB_TEXT + 8];
  for (int c = 0; c < t->n_cols; c++) {
    width[c] = (int)strlen(t->cols[c]);
    for (size_t r = 0; r < t->n_rows; r++) {
      lab_cell_format(&t->cells[r * (size_t)t->n_cols + (size_t)c], 0, buf, sizeof buf);
      if ((int)strlen(buf) > width[c]) width[c] = (int)strlen(buf);
    }
  }
  fprintf(out, "%s\n", t->title);
  for (int c = 0; c < t->n_cols; c++) fprintf(out, c ? "  %*s" : "  %-*s", width[c], t->cols[c]);
  fprintf(out, "\n");
  for (size_t r = 0; r < t->n_rows; r++) {
    for (int c = 0; c < t->n_cols; c++) {
      lab_cell_format(&t->cells[r * (size_t)t->n_cols + (size_t)c], 0, buf, sizeof buf);
      fprintf(out, c ? "  %*s" : "  %-*s", width[c], buf);
    }
    fprintf(out, "\n");
  }
}

int lab_table_write_csv(const lab_table *t, FILE *out) {
  char buf[LAB_TEXT + 8];
  for (int c = 0; c < t->n_cols; c++) fprintf(out, "%s%s", c ? "," : "", t->cols[c]);
  fprintf(out, "\n");
  for (size_t r = 0; r < t->n_rows; r++) {
    for (int c = 0; c < t->n_cols; c++) {
      lab_cell_format(&t->cells[r * (size_t)t->n_cols + (size_t)c], 1, buf, sizeof buf);
      /* Labels may hold commas ("alpha = 1.5, start 0"): quote those. */
      if (strchr(buf, ','))
        fprintf(out, "%s\"%s\"", c ? "," : "", buf);
      else
        fprintf(out, "%s%s", c ? "," : "", buf);
    }
    fprintf(out, "\n");
  }
  return ferror(out) ? DESCENT_EIO : DESCENT_OK;
}

/* ---- results ----------------------------------------------------------------- */

void lab_result_free(lab_result *r) {
  for (int i = 0; i < r->n_tables; i++) lab_table_free(&r->tables[i]);
  memset(r, 0, sizeof *r);
}

lab_table *lab_result_table(lab_result *r, const char *name, const char *title, const char *cols) {
  if (r->n_tables == LAB_MAX_TABLES) {
    descent_fail(DESCENT_ERANGE, "demo: more than %d tables", LAB_MAX_TABLES);
    return NULL;
  }
  lab_table *t = &r->tables[r->n_tables++];
  lab_table_init(t, name, title, cols);
  return t;
}

const lab_table *lab_result_find(const lab_result *r, const char *name) {
  for (int i = 0; i < r->n_tables; i++)
    if (strcmp(r->tables[i].name, name) == 0) return &r->tables[i];
  return NULL;
}

void lab_result_note(lab_result *r, const char *fmt, ...) {
  if (r->n_notes == LAB_MAX_NOTES) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->notes[r->n_notes++], sizeof r->notes[0], fmt, ap);
  va_end(ap);
}
