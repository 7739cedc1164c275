/*
 * data_source.h - the data a command trains or evaluates on, as given by
 * --data SCHEME:PATH[,KEY=VALUE...]: an IDX folder (Fashion-MNIST's layout),
 * a CSV file or a LIBSVM file, each text file with an optional test file.
 */
#ifndef DESCENT_CLI_DATA_SOURCE_H
#define DESCENT_CLI_DATA_SOURCE_H

#include "descent.h"

#include <stddef.h>

typedef enum cli_data_scheme { CLI_DATA_IDX, CLI_DATA_CSV, CLI_DATA_LIBSVM } cli_data_scheme;

/* A parsed --data. The text loaders' options hold the keys given (header,
 * label, delimiter for CSV; features for LIBSVM), the defaults otherwise. */
typedef struct cli_data_source {
  cli_data_scheme scheme;
  char path[4096];           /* idx: the folder; csv, libsvm: the training file */
  char test[4096];           /* csv, libsvm: the test file (test=); "" for none */
  descent_text_options text; /* csv, libsvm: the loader's options */
  descent_shape shape;       /* shape=; ndim 0: the data's own (text: a flat vector) */
} cli_data_source;

/* The --data text that selects the IDX files in dir. */
void cli_data_idx(const char *dir, cli_data_source *src);

/* Parses "SCHEME:PATH[,KEY=VALUE...]" (the help text lists the schemes and
 * keys). Returns 0, or -1 after printing one line "descent COMMAND: --data:
 * ..." naming the problem and the valid choices. Files are not opened. */
int cli_data_parse(const char *command, const char *text, cli_data_source *src);

/* The canonical text of src: the scheme, the path, then the keys given with
 * a value other than their default, in a fixed order and spelling. Two
 * --data texts that select the same data give the same canonical text
 * (a resumed run compares them). */
void cli_data_describe(const cli_data_source *src, char *buf, size_t cap);

/* Loads the training set and the test set (test->n is 0 when a text source
 * has no test file), applies shape=, checks that both sets have the same
 * width. With as_bytes, an IDX folder's images are held as their bytes
 * (descent_fashion_mnist_load_bytes): for a preprocessing that keeps them
 * so (none, standardize). Returns 0, or -1 after printing one line naming
 * the file and the problem. */
int cli_data_load(const char *command, const cli_data_source *src, int as_bytes,
                  descent_dataset *train, descent_dataset *test);

/* Loads the set `descent eval` evaluates on: an IDX folder's t10k files, a
 * text source's test file, or its only file when it has none. A LIBSVM file
 * is densified to `width` features (the model's input) unless features= was
 * given. name gets the file its labels come from. Returns 0, or -1 after
 * printing why. */
int cli_data_load_eval(const char *command, const cli_data_source *src, size_t width,
                       descent_dataset *ds, char *name, size_t cap);

/* The file the labels of the training (test 0) or test set (test 1) come
 * from, for messages. */
void cli_data_labels_file(const cli_data_source *src, int test, char *buf, size_t cap);

#endif /* DESCENT_CLI_DATA_SOURCE_H */
