/*
 * csv_read.h - the run folder's numeric CSV files (metrics.csv, steps.csv,
 * diagnostics.csv) read into a table of named columns, for `descent report`.
 *
 * Files of a run that was stopped, killed or is still going are read as far
 * as they make sense: a line cut short or a malformed line is skipped and
 * counted in a note, never a crash; a header that lacks the columns the
 * report needs is one error naming the file, what is missing and the fix.
 */
#ifndef DESCENT_CLI_CSV_READ_H
#define DESCENT_CLI_CSV_READ_H

#include <stddef.h>

/* The largest file read (a diagnostics.csv of a long run tracked at every
   step stays far below it). */
#define CSV_MAX_BYTES   ((size_t)256 << 20)
#define CSV_MAX_COLUMNS 4096
#define CSV_MAX_NAME    200

typedef struct csv_table {
  size_t n_cols, n_rows;
  char **names;   /* n_cols column names, as the header gives them */
  double *values; /* n_rows x n_cols, row after row; NAN for "nan" or an empty field */
  size_t skipped; /* malformed lines left out */
  int cut_short;  /* 1 when the last line was incomplete (no newline, too few fields) */
  char note[320]; /* what was left out and why, in one line; "" when nothing was */
} csv_table;

/* Parses text (len bytes; need not end in NUL) as a CSV file of numbers with
 * a header line. `file` names it in messages. required: column names the
 * header must hold, ended by NULL (NULL: none). Returns 0, or -1 with one
 * line in err (cap bytes) and *out left empty: an empty file, a NUL byte, a
 * header with an empty, overlong or repeated name, too many columns, or a
 * required column missing. Every row holds n_cols numbers. */
int csv_parse(const char *text, size_t len, const char *file, const char *const *required,
              csv_table *out, char *err, size_t cap);

/* Reads path and parses it as above. Returns 0, 1 when the file does not
 * exist (*out empty, no message), or -1 with the reason in err. */
int csv_load(const char *path, const char *file, const char *const *required, csv_table *out,
             char *err, size_t cap);

void csv_free(csv_table *t);

/* The index of column name, or -1. */
int csv_column(const csv_table *t, const char *name);
/* The value at (row, col); NAN when col is -1. */
double csv_value(const csv_table *t, size_t row, int col);

#endif /* DESCENT_CLI_CSV_READ_H */
