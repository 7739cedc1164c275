/*
 * data_export.c - writes the first examples of an IDX data set (Fashion-
 * MNIST's layout) as CSV files and as IDX files again, for
 * tests/cli/data_csv.sh, which trains on both and compares.
 *
 * usage: data_export IDX_DIR OUT_DIR N_TRAIN N_TEST
 *
 * OUT_DIR/train.csv and OUT_DIR/test.csv hold a header line, then one
 * example per line: the label first, then every pixel as the IDX loader
 * produced it (byte / 255 as a float), printed with 9 significant digits,
 * which read back (through a double, then rounded to float) as the same
 * float. OUT_DIR/idx/ holds the same examples as uncompressed IDX files
 * (each pixel's byte recovered as round(x * 255), exact for x = byte / 255).
 * Both exports are loaded back through the library and compared with the
 * originals bit for bit; any difference fails the program.
 */
#include "descent.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fail(const char *what) {
  fprintf(stderr, "data_export: %s: %s\n", what, descent_last_error());
  return 1;
}

static void put_be32(FILE *f, unsigned v) {
  unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                        (unsigned char)v};
  fwrite(b, 1, 4, f);
}

/* DIR/PREFIX-images-idx3-ubyte and DIR/PREFIX-labels-idx1-ubyte. */
static int write_idx(const char *dir, const char *prefix, const descent_dataset *ds) {
  char path[4200];
  snprintf(path, sizeof path, "%s/%s-images-idx3-ubyte", dir, prefix);
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  fwrite("\0\0\x08\x03", 1, 4, f);
  put_be32(f, (unsigned)ds->n);
  put_be32(f, (unsigned)ds->shape.dims[1]);
  put_be32(f, (unsigned)ds->shape.dims[2]);
  for (size_t i = 0; i < ds->n * ds->features; i++) fputc((int)lrint(ds->x[i] * 255.0), f);
  if (fclose(f) != 0) return -1;
  snprintf(path, sizeof path, "%s/%s-labels-idx1-ubyte", dir, prefix);
  if (!(f = fopen(path, "wb"))) return -1;
  fwrite("\0\0\x08\x01", 1, 4, f);
  put_be32(f, (unsigned)ds->n);
  for (size_t i = 0; i < ds->n; i++) fputc(ds->labels[i], f);
  return fclose(f);
}

static int write_csv(const char *path, const descent_dataset *ds) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "label");
  for (size_t j = 0; j < ds->features; j++) fprintf(f, ",pixel%zu", j + 1);
  fputc('\n', f);
  for (size_t i = 0; i < ds->n; i++) {
    fprintf(f, "%d", (int)ds->labels[i]);
    for (size_t j = 0; j < ds->features; j++) {
      double v = (double)ds->x[i * ds->features + j];
      if (v == 0)
        fputs(",0", f);
      else
        fprintf(f, ",%.*g", sizeof(descent_real) == 8 ? 17 : 9, v);
    }
    fputc('\n', f);
  }
  return fclose(f);
}

/* The same examples, values and labels, to the bit. */
static int same(const descent_dataset *a, const descent_dataset *b, const char *what) {
  if (a->n == b->n && a->features == b->features &&
      memcmp(a->x, b->x, a->n * a->features * sizeof *a->x) == 0 &&
      memcmp(a->labels, b->labels, a->n * sizeof *a->labels) == 0)
    return 1;
  fprintf(stderr, "data_export: %s read back differs from the IDX loader's data\n", what);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: data_export IDX_DIR OUT_DIR N_TRAIN N_TEST\n");
    return 2;
  }
  const char *out = argv[2];
  size_t n_train = strtoul(argv[3], NULL, 10), n_test = strtoul(argv[4], NULL, 10);
  descent_dataset train, test, back_train, back_test;
  if (descent_fashion_mnist_load(argv[1], &train, &test)) return fail(argv[1]);
  if (train.shape.ndim != 3 || n_train == 0 || n_train > train.n || n_test == 0 ||
      n_test > test.n) {
    fprintf(stderr, "data_export: need images and 1 to %zu, 1 to %zu examples\n", train.n, test.n);
    return 2;
  }
  if (descent_dataset_truncate(&train, n_train) || descent_dataset_truncate(&test, n_test))
    return fail("truncate");
  char idx[4200], train_csv[4200], test_csv[4200];
  snprintf(idx, sizeof idx, "%s/idx", out);
  snprintf(train_csv, sizeof train_csv, "%s/train.csv", out);
  snprintf(test_csv, sizeof test_csv, "%s/test.csv", out);
  if ((mkdir(out, 0777) != 0 && errno != EEXIST) || (mkdir(idx, 0777) != 0 && errno != EEXIST) ||
      write_idx(idx, "train", &train) || write_idx(idx, "t10k", &test) ||
      write_csv(train_csv, &train) || write_csv(test_csv, &test)) {
    fprintf(stderr, "data_export: writing into %s failed: %s\n", out, strerror(errno));
    return 1;
  }
  /* Read back as descent train will: the CSV with its label first. */
  descent_text_options o;
  descent_text_options_default(&o);
  o.label_column = 0;
  int ok = 1;
  if (descent_fashion_mnist_load(idx, &back_train, &back_test)) return fail(idx);
  ok &= same(&train, &back_train, "the IDX training subset");
  ok &= same(&test, &back_test, "the IDX test subset");
  descent_dataset_free(&back_train);
  descent_dataset_free(&back_test);
  if (descent_csv_load(train_csv, &o, &back_train)) return fail(train_csv);
  if (descent_csv_load(test_csv, &o, &back_test)) return fail(test_csv);
  ok &= same(&train, &back_train, train_csv);
  ok &= same(&test, &back_test, test_csv);
  printf("data_export: %zu training and %zu test examples of %zu features in %s (CSV and IDX), "
         "%s\n",
         train.n, test.n, train.features, out, ok ? "read back bit-identical" : "NOT identical");
  descent_dataset_free(&back_train);
  descent_dataset_free(&back_test);
  descent_dataset_free(&train);
  descent_dataset_free(&test);
  return ok ? 0 : 1;
}
