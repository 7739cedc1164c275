/*
 * data_source.c - --data SCHEME:PATH[,KEY=VALUE...] for descent train and
 * descent eval: parsing, the canonical text a run saves and compares on
 * --resume, and loading through the library's IDX, CSV and LIBSVM loaders.
 *
 * A text source is a training file and, with test=, a test file of the same
 * layout; the test file is loaded with the training file's width (a LIBSVM
 * test file whose largest index is smaller still lines up). shape= gives
 * the examples' shape (a CNN's C x H x W); the default is the data's own: an
 * IDX file's image shape, a text file's flat vector.
 */
#include "data_source.h"

#include "core/spec.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VALID_SCHEMES "idx:DIR, csv:PATH[,KEY=VALUE...], libsvm:PATH[,KEY=VALUE...]"

static const char *scheme_name(cli_data_scheme s) {
  return s == CLI_DATA_IDX ? "idx" : s == CLI_DATA_CSV ? "csv" : "libsvm";
}

static const char *valid_keys(cli_data_scheme s) {
  return s == CLI_DATA_IDX   ? "none (the folder's files decide everything)"
         : s == CLI_DATA_CSV ? "test, shape, header, label, delimiter"
                             : "test, shape, features";
}

/* Delimiters with a name: ',' cannot be written as a value (it separates
   the keys), a tab or a space is awkward to quote. */
static const struct {
  const char *name;
  char c;
} delimiters[] = {{"comma", ','}, {"tab", '\t'}, {"semicolon", ';'}, {"space", ' '}, {"pipe", '|'}};
enum { N_DELIMITERS = sizeof delimiters / sizeof delimiters[0] };

void cli_data_idx(const char *dir, cli_data_source *src) {
  memset(src, 0, sizeof *src);
  src->scheme = CLI_DATA_IDX;
  snprintf(src->path, sizeof src->path, "%s", dir);
  descent_text_options_default(&src->text);
}

/* A whole number in [min, max], decimal digits only. */
static int parse_count(const char *v, unsigned long long min, unsigned long long max,
                       unsigned long long *out) {
  size_t digits = strspn(v, "0123456789");
  if (digits == 0 || v[digits] != '\0' || digits > 12) return -1;
  *out = strtoull(v, NULL, 10);
  return *out >= min && *out <= max ? 0 : -1;
}

/* shape=CxHxW: one to three positive dimensions. */
static int parse_shape(const char *v, descent_shape *shape) {
  memset(shape, 0, sizeof *shape);
  char buf[128];
  if (strlen(v) >= sizeof buf) return -1;
  snprintf(buf, sizeof buf, "%s", v);
  unsigned long long total = 1;
  for (char *save = NULL, *part = strtok_r(buf, "x", &save); part;
       part = strtok_r(NULL, "x", &save)) {
    unsigned long long d;
    if (shape->ndim == 3 || parse_count(part, 1, 1u << 30, &d)) return -1;
    total *= d;
    if (total > (1ull << 31)) return -1;
    shape->dims[shape->ndim++] = (size_t)d;
  }
  /* "x28", "28x" and "28xx28" leave an empty part strtok skips. */
  if (shape->ndim == 0 || v[0] == 'x' || v[strlen(v) - 1] == 'x' || strstr(v, "xx")) return -1;
  return 0;
}

static int parse_delimiter(const char *v, char *out) {
  for (int i = 0; i < N_DELIMITERS; i++)
    if (strcmp(v, delimiters[i].name) == 0) return *out = delimiters[i].c, 0;
  /* One printable character that cannot be a number's. */
  if (strlen(v) != 1 || v[0] < 33 || v[0] > 126 || strchr("=0123456789.+-eE\"", v[0])) return -1;
  *out = v[0];
  return 0;
}

/* One KEY=VALUE of a source; 0, or -1 after printing why. */
static int parse_key(const char *command, cli_data_source *src, const char *key, const char *value,
                     const char *item) {
  spec_quote q;
  cli_data_scheme s = src->scheme;
  unsigned long long n;
  const char *why = NULL;
  if (strcmp(key, "test") == 0 && s != CLI_DATA_IDX) {
    if (strlen(value) >= sizeof src->test)
      why = "the path is too long";
    else
      snprintf(src->test, sizeof src->test, "%s", value);
  } else if (strcmp(key, "shape") == 0 && s != CLI_DATA_IDX) {
    if (parse_shape(value, &src->shape))
      why = "not a shape; write 1 to 3 positive sizes joined by x, e.g. shape=1x28x28";
  } else if (strcmp(key, "header") == 0 && s == CLI_DATA_CSV) {
    if (strcmp(value, "auto") == 0)
      src->text.header = -1;
    else if (strcmp(value, "yes") == 0 || strcmp(value, "1") == 0)
      src->text.header = 1;
    else if (strcmp(value, "no") == 0 || strcmp(value, "0") == 0)
      src->text.header = 0;
    else
      why = "valid values: auto (a first line without a number), yes, no";
  } else if (strcmp(key, "label") == 0 && s == CLI_DATA_CSV) {
    if (strcmp(value, "last") == 0)
      src->text.label_column = -1;
    else if (strcmp(value, "first") == 0)
      src->text.label_column = 0;
    else if (!parse_count(value, 1, 1u << 20, &n))
      src->text.label_column = (int)n - 1;
    else
      why = "valid values: first, last, or the column's number counted from 1";
  } else if (strcmp(key, "delimiter") == 0 && s == CLI_DATA_CSV) {
    if (parse_delimiter(value, &src->text.delimiter))
      why = "valid values: comma, tab, semicolon, space, pipe, or one other punctuation "
            "character";
  } else if (strcmp(key, "features") == 0 && s == CLI_DATA_LIBSVM) {
    if (parse_count(value, 1, 1u << 30, &n))
      why = "not a whole number from 1";
    else
      src->text.features = (size_t)n;
  } else {
    fprintf(stderr, "descent %s: --data: unknown key %s for %s; valid keys: %s\n", command,
            spec_quote_text(&q, key), scheme_name(s), valid_keys(s));
    return -1;
  }
  if (!why) return 0;
  fprintf(stderr, "descent %s: --data: %s: %s\n", command, spec_quote_text(&q, item), why);
  return -1;
}

/* Splits the keys after the path: each must be KEY=VALUE, given once. */
static int parse_keys(const char *command, cli_data_source *src, char *rest) {
  char seen[8][16];
  int n_seen = 0;
  for (char *item = rest, *next; item; item = next) {
    next = strchr(item, ',');
    if (next) *next++ = '\0';
    spec_quote q;
    char *eq = strchr(item, '=');
    if (!eq || eq == item || !eq[1]) {
      fprintf(stderr, "descent %s: --data: %s is not KEY=VALUE (a path cannot contain a comma)\n",
              command, spec_quote_text(&q, item));
      return -1;
    }
    *eq = '\0';
    for (int i = 0; i < n_seen; i++)
      if (strcmp(seen[i], item) == 0) {
        fprintf(stderr, "descent %s: --data: key %s given twice\n", command,
                spec_quote_text(&q, item));
        return -1;
      }
    char whole[256];
    snprintf(whole, sizeof whole, "%s=%s", item, eq + 1);
    if (parse_key(command, src, item, eq + 1, whole)) return -1;
    if (n_seen < 8) snprintf(seen[n_seen++], sizeof seen[0], "%s", item);
  }
  return 0;
}

int cli_data_parse(const char *command, const char *text, cli_data_source *src) {
  spec_quote q;
  char buf[8192];
  if (strlen(text) >= sizeof buf) {
    fprintf(stderr, "descent %s: --data: the text is too long\n", command);
    return -1;
  }
  snprintf(buf, sizeof buf, "%s", text);
  char *colon = strchr(buf, ':');
  if (!colon) {
    fprintf(stderr, "descent %s: --data: %s names no scheme; valid: " VALID_SCHEMES "\n", command,
            spec_quote_text(&q, text));
    return -1;
  }
  *colon = '\0';
  cli_data_idx("", src);
  if (strcmp(buf, "idx") == 0)
    src->scheme = CLI_DATA_IDX;
  else if (strcmp(buf, "csv") == 0)
    src->scheme = CLI_DATA_CSV;
  else if (strcmp(buf, "libsvm") == 0)
    src->scheme = CLI_DATA_LIBSVM;
  else {
    fprintf(stderr,
            "descent %s: --data: unknown scheme %s; valid schemes: idx, csv, libsvm (" VALID_SCHEMES
            ")\n",
            command, spec_quote_text(&q, buf));
    return -1;
  }
  char *path = colon + 1, *rest = strchr(path, ',');
  if (rest) *rest++ = '\0';
  if (!path[0]) {
    fprintf(stderr, "descent %s: --data: %s: the path is empty; valid: " VALID_SCHEMES "\n",
            command, spec_quote_text(&q, text));
    return -1;
  }
  if (strlen(path) >= sizeof src->path) {
    fprintf(stderr, "descent %s: --data: the path is too long\n", command);
    return -1;
  }
  snprintf(src->path, sizeof src->path, "%s", path);
  return rest ? parse_keys(command, src, rest) : 0;
}

/* "1x28x28". */
static void shape_text(const descent_shape *shape, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < shape->ndim && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%zu", i ? "x" : "", shape->dims[i]);
}

void cli_data_describe(const cli_data_source *src, char *buf, size_t cap) {
  size_t used = (size_t)snprintf(buf, cap, "%s:%s", scheme_name(src->scheme), src->path);
#define ADD(...) (used += used < cap ? (size_t)snprintf(buf + used, cap - used, __VA_ARGS__) : 0)
  if (src->test[0]) ADD(",test=%s", src->test);
  char shape[96];
  shape_text(&src->shape, shape, sizeof shape);
  if (shape[0]) ADD(",shape=%s", shape);
  if (src->text.header >= 0) ADD(",header=%s", src->text.header ? "yes" : "no");
  if (src->text.label_column >= 0) ADD(",label=%d", src->text.label_column + 1);
  if (src->text.delimiter != ',') {
    const char *name = NULL;
    for (int i = 0; i < N_DELIMITERS; i++)
      if (delimiters[i].c == src->text.delimiter) name = delimiters[i].name;
    if (name)
      ADD(",delimiter=%s", name);
    else
      ADD(",delimiter=%c", src->text.delimiter);
  }
  if (src->text.features) ADD(",features=%zu", src->text.features);
#undef ADD
}

void cli_data_labels_file(const cli_data_source *src, int test, char *buf, size_t cap) {
  if (src->scheme != CLI_DATA_IDX) {
    snprintf(buf, cap, "%s", test && src->test[0] ? src->test : src->path);
    return;
  }
  struct stat st;
  const char *split = test ? "t10k" : "train";
  snprintf(buf, cap, "%s/%s-labels-idx1-ubyte.gz", src->path, split);
  if (stat(buf, &st) != 0) snprintf(buf, cap, "%s/%s-labels-idx1-ubyte", src->path, split);
}

/* One text file, with the training set's width when it is the test file
   (LIBSVM: the densified width; CSV: checked after loading). */
static int load_text(const cli_data_source *src, const char *path, size_t width,
                     descent_dataset *ds) {
  descent_text_options o = src->text;
  if (src->scheme == CLI_DATA_LIBSVM) {
    if (width) o.features = width;
    return descent_libsvm_load(path, &o, ds);
  }
  return descent_csv_load(path, &o, ds);
}

/* shape= on a loaded set: its size must be the set's width. */
static int apply_shape(const char *command, const cli_data_source *src, const char *path,
                       descent_dataset *ds) {
  if (src->shape.ndim == 0 || ds->n == 0) return 0;
  size_t size = descent_shape_size(&src->shape);
  if (size != ds->features) {
    char text[96];
    shape_text(&src->shape, text, sizeof text);
    fprintf(stderr,
            "descent %s: --data: shape=%s holds %zu values per example, but %s has %zu features; "
            "give a shape of %zu values or leave shape= out for a flat vector\n",
            command, text, size, path, ds->features, ds->features);
    return -1;
  }
  ds->shape = src->shape;
  return 0;
}

int cli_data_load(const char *command, const cli_data_source *src, int as_bytes,
                  descent_dataset *train, descent_dataset *test) {
  memset(test, 0, sizeof *test);
  if (src->scheme == CLI_DATA_IDX) {
    if (as_bytes ? descent_fashion_mnist_load_bytes(src->path, train, test)
                 : descent_fashion_mnist_load(src->path, train, test)) {
      fprintf(stderr, "descent %s: %s\n", command, descent_last_error());
      return -1;
    }
    return 0;
  }
  if (load_text(src, src->path, 0, train)) {
    fprintf(stderr, "descent %s: %s\n", command, descent_last_error());
    return -1;
  }
  if (src->test[0] && load_text(src, src->test, train->features, test)) {
    fprintf(stderr, "descent %s: %s%s\n", command, descent_last_error(),
            src->scheme == CLI_DATA_LIBSVM ? " (the test file is read with the training file's "
                                             "width; give features=N to set it for both)"
                                           : "");
    return -1;
  }
  if (test->n && test->features != train->features) {
    fprintf(stderr,
            "descent %s: --data: the test file %s has %zu features per example, the training "
            "file %s %zu; both need the same columns\n",
            command, src->test, test->features, src->path, train->features);
    return -1;
  }
  return apply_shape(command, src, src->path, train) || apply_shape(command, src, src->test, test)
             ? -1
             : 0;
}

int cli_data_load_eval(const char *command, const cli_data_source *src, size_t width,
                       descent_dataset *ds, char *name, size_t cap) {
  memset(ds, 0, sizeof *ds);
  cli_data_labels_file(src, 1, name, cap);
  if (src->scheme == CLI_DATA_IDX) {
    char images[4200];
    struct stat st;
    snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte.gz", src->path);
    if (stat(images, &st) != 0)
      snprintf(images, sizeof images, "%s/t10k-images-idx3-ubyte", src->path);
    if (descent_idx_load_dataset(images, name, ds)) {
      fprintf(stderr, "descent %s: %s\n", command, descent_last_error());
      return -1;
    }
    return 0;
  }
  if (load_text(src, name, src->text.features ? src->text.features : width, ds)) {
    fprintf(stderr, "descent %s: %s\n", command, descent_last_error());
    return -1;
  }
  return apply_shape(command, src, name, ds);
}
