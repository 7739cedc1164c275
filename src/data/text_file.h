/*
 * text_file.h - reading a whole text data file into memory, bounded, and the
 * number parsing the text loaders share.
 */
#ifndef DESCENT_TEXT_FILE_H
#define DESCENT_TEXT_FILE_H

#include "internal.h"

/* Reads path into a NUL-terminated buffer (caller frees). Refuses files larger
 * than max_bytes before reading them, directories and unreadable files. */
int text_file_read(const char *path, size_t max_bytes, char **data, size_t *len);

/* Parses a finite number at *p (after optional blanks), advancing *p past it.
 * Returns false if there is no number there or it is NaN or infinite. */
bool text_parse_number(const char **p, double *value);

/* A class label: a whole number in [0, 2^31). */
bool text_label_ok(double v);

/* Writes the text from p up to end or the end of its line into buf as one
 * printable line: a control or non-ASCII byte becomes \xNN, and beyond
 * TEXT_ECHO_MAX characters it is cut with "...". An error message that
 * echoes input uses it, so the message stays one short line. Returns buf. */
#define TEXT_ECHO_MAX 24
#define TEXT_ECHO_CAP (4 * TEXT_ECHO_MAX + 4)
char *text_echo(const char *p, const char *end, char buf[TEXT_ECHO_CAP]);

/* The line number (1-based) of position p in data, for messages. Scans from
   the start: for one message, never per line. */
size_t text_line_of(const char *data, const char *p);

/* A parser of a whole text buffer into a data set (descent_csv_parse,
 * descent_libsvm_parse). */
typedef int (*text_parser)(const char *data, size_t len, const char *name,
                           const descent_text_options *o, descent_dataset *out);

/* Reads path (bounded by o->max_bytes; NULL o: the defaults) and parses it:
 * the body of descent_csv_load and descent_libsvm_load. */
int text_load(const char *path, const descent_text_options *o, descent_dataset *out,
              text_parser parse);

/* The last step of a parse: rows x features examples, classes from the
 * largest label. */
void text_dataset_finish(descent_dataset *out, size_t rows, size_t features, int32_t max_label);

#endif /* DESCENT_TEXT_FILE_H */
