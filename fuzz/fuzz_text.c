/*
 * fuzz_text.c - the CSV and LIBSVM parsers on arbitrary text. The first byte
 * picks the parser and a few options (the CSV header: detected, absent or
 * declared); an accepted data set must be consistent, and a refusal must
 * explain itself in one printable line, whatever input it echoes.
 */
#include "descent.h"
#include "fuzz_util.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t mode = data[0];
  char *text = fuzz_text(data + 1, size - 1);
  descent_text_options o;
  descent_text_options_init(&o);
  o.max_elements = 1 << 16;
  o.header = (mode >> 1) % 3 - 1;
  o.label_column = (mode >> 3) % 4 - 1;
  if (mode & 0x20) o.delimiter = ';';
  if (mode & 0x40) o.features = (mode >> 4) & 7;
  descent_dataset ds;
  int rc = mode & 1 ? descent_libsvm_parse(text, size - 1, "fuzz", &o, &ds)
                    : descent_csv_parse(text, size - 1, "fuzz", &o, &ds);
  if (rc == DESCENT_OK) {
    if (ds.n == 0 || ds.features == 0 || ds.n * ds.features > o.max_elements) abort();
    for (size_t i = 0; i < ds.n; i++)
      if (ds.labels[i] < 0 || (size_t)ds.labels[i] >= ds.classes) abort();
    for (size_t i = 0; i < ds.n * ds.features; i++)
      if (!isfinite(ds.x[i])) abort();
    descent_dataset_free(&ds);
  } else {
    const char *msg = descent_last_error();
    if (msg[0] == '\0') abort(); /* every refusal explains itself */
    for (const char *c = msg; *c; c++)
      if ((unsigned char)*c < 32) abort(); /* in one line */
  }
  free(text);
  return 0;
}
