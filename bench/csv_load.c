/*
 * csv_load.c - times descent_csv_load on a CSV the size of Fashion-MNIST's
 * training set (60,000 rows of 784 pixels and a label), for bench/csv_load.sh.
 *
 * The file is written first (pixel values 0 to 255 from a fixed-seed
 * generator, labels 0 to 9, a header line), then loaded `repeats` times.
 * Loading must be linear in the rows: a loader that counts each row's line
 * number from the start of the file takes about 25 minutes here.
 *
 * Usage: csv_load PATH [--rows N] [--repeats R]
 * Prints one line per repeat:
 *   csv_load rows=N cols=785 mbytes=M repeat=K seconds=S mbytes_per_s=X
 * Build: cc -O2 -Iinclude bench/csv_load.c build/libdescent.a
 *        -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -lcjson -llapack -fopenmp
 *        -ldeflate -lz -lm
 */
#include "descent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"

#define COLS 785

/* Writes rows lines of 784 pixels and a label; returns the file's size. */
static long write_csv(const char *path, size_t rows) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  for (int c = 0; c < COLS - 1; c++) fprintf(f, "p%d,", c);
  fputs("label\n", f);
  unsigned long long s = 0x9e3779b97f4a7c15ULL;
  for (size_t r = 0; r < rows; r++) {
    for (int c = 0; c < COLS - 1; c++) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      fprintf(f, "%u,", (unsigned)(s % 256));
    }
    fprintf(f, "%zu\n", r % 10);
  }
  long size = ftell(f);
  return fclose(f) == 0 ? size : -1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: csv_load PATH [--rows N] [--repeats R]\n");
    return 2;
  }
  size_t rows = 60000;
  int repeats = 3;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--rows") == 0) rows = strtoul(argv[i + 1], NULL, 10);
    if (strcmp(argv[i], "--repeats") == 0) repeats = atoi(argv[i + 1]);
  }
  long bytes = write_csv(argv[1], rows);
  if (bytes < 0) {
    fprintf(stderr, "csv_load: cannot write %s\n", argv[1]);
    return 1;
  }
  for (int k = 0; k < repeats; k++) {
    descent_dataset ds;
    double t0 = now();
    if (descent_csv_load(argv[1], NULL, &ds)) {
      fprintf(stderr, "csv_load: %s\n", descent_last_error());
      return 1;
    }
    double s = now() - t0;
    if (ds.n != rows || ds.features != COLS - 1) {
      fprintf(stderr, "csv_load: loaded %zu x %zu, wrote %zu x %d\n", ds.n, ds.features, rows,
              COLS - 1);
      return 1;
    }
    descent_dataset_free(&ds);
    printf("csv_load rows=%zu cols=%d mbytes=%.1f repeat=%d seconds=%.2f mbytes_per_s=%.1f\n", rows,
           COLS, (double)bytes / 1e6, k + 1, s, (double)bytes / 1e6 / s);
  }
  return 0;
}
