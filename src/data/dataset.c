/*
 * dataset.c - in-memory data sets: Fashion-MNIST loading, the seeded
 * train/validation split, truncation for quick runs, and freeing.
 *
 * A data set is two flat arrays (n x features inputs, n labels), so moving an
 * example is one memcpy of a row plus one label.
 */
#include "internal.h"

#include "core/multiversion.h"

#include <errno.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FASHION_HINT                                                                               \
  "install Debian's dataset-fashion-mnist package (apt-get install dataset-fashion-mnist) or "     \
  "pass --data-dir DIR"

void descent_dataset_free(descent_dataset *ds) {
  if (!ds) return;
  descent_free_real(ds->x);
  free(ds->labels);
  free(ds->bytes);
  descent_free_real(ds->byte_mean);
  descent_free_real(ds->byte_inv_std);
  memset(ds, 0, sizeof *ds);
}

/* One row of a set held as bytes, decoded: the loader's division, then the
   standardization, each rounded to descent_real as idx.c and
   descent_preprocess_apply round them, so that the numbers are theirs. */
static MULTIVERSION_BODY void decode_row_body(const uint8_t *restrict in, size_t f,
                                              const descent_real *restrict mean,
                                              const descent_real *restrict inv_std,
                                              descent_real *restrict out) {
  if (!mean) {
    for (size_t j = 0; j < f; j++) out[j] = (descent_real)in[j] / (descent_real)255;
    return;
  }
  for (size_t j = 0; j < f; j++) {
    descent_real v = (descent_real)in[j] / (descent_real)255;
    out[j] = (v - mean[j]) * inv_std[j];
  }
}
MULTIVERSION_VOID(decode_row,
                  (const uint8_t *restrict in, size_t f, const descent_real *restrict mean,
                   const descent_real *restrict inv_std, descent_real *restrict out),
                  (in, f, mean, inv_std, out))

void dataset_decode_row(const descent_dataset *ds, size_t i, descent_real *out) {
  size_t f = ds->features;
  decode_row(ds->bytes + i * f, f, ds->byte_mean, ds->byte_inv_std, out);
}

const descent_real *dataset_inputs(const descent_dataset *ds, size_t first, size_t count,
                                   descent_real *scratch) {
  size_t f = ds->features;
  if (ds->x) return ds->x + first * f;
  for (size_t i = 0; i < count; i++) dataset_decode_row(ds, first + i, scratch + i * f);
  return scratch;
}

int descent_dataset_rows(const descent_dataset *ds, size_t first, size_t count, descent_real *out) {
  if (!ds || (!out && count))
    return descent_fail(DESCENT_EINVAL, "descent_dataset_rows: ds or out is NULL");
  if (first > ds->n || count > ds->n - first)
    return descent_fail(DESCENT_EINVAL, "descent_dataset_rows: examples %zu to %zu of a set of %zu",
                        first, first + count, ds->n);
  size_t f = ds->features;
  if (ds->x) {
    if (count) memcpy(out, ds->x + first * f, count * f * sizeof *out);
    return DESCENT_OK;
  }
  if (!ds->bytes && count)
    return descent_fail(DESCENT_EINVAL, "descent_dataset_rows: the set holds no inputs");
  dataset_inputs(ds, first, count, out);
  return DESCENT_OK;
}

int descent_dataset_expand(descent_dataset *ds) {
  descent_error_clear();
  if (!ds) return descent_fail(DESCENT_EINVAL, "descent_dataset_expand: ds is NULL");
  if (ds->x || !ds->bytes) return DESCENT_OK;
  size_t values;
  if (!descent_mul_ok(ds->n, ds->features, &values))
    return descent_fail(DESCENT_ERANGE, "descent_dataset_expand: %zu x %zu inputs overflow size_t",
                        ds->n, ds->features);
  descent_real *x = descent_alloc_real(values ? values : 1, "inputs");
  if (!x) return DESCENT_ENOMEM;
  size_t n = ds->n, f = ds->features;
#pragma omp parallel for schedule(static) if (parallel : values >= 1048576)
  for (size_t i = 0; i < n; i++) dataset_decode_row(ds, i, x + i * f);
  free(ds->bytes);
  descent_free_real(ds->byte_mean);
  descent_free_real(ds->byte_inv_std);
  ds->bytes = NULL;
  ds->byte_mean = ds->byte_inv_std = NULL;
  ds->x = x;
  return DESCENT_OK;
}

/* Puts dir/name.gz, or dir/name if there is no .gz, into path. Anything other
 * than "does not exist" (a permission problem, say) is left for the IDX reader
 * to report with the file's name. */
static int fashion_find(const char *dir, const char *name, char *path, size_t cap) {
  struct stat st;
  int len = snprintf(path, cap, "%s/%s.gz", dir, name);
  if (len < 0 || (size_t)len >= cap)
    return descent_fail(DESCENT_EINVAL, "data directory path too long: '%s'", dir);
  if (stat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR)) return DESCENT_OK;
  snprintf(path, cap, "%s/%s", dir, name);
  if (stat(path, &st) == 0 || (errno != ENOENT && errno != ENOTDIR)) return DESCENT_OK;
  if (stat(dir, &st) != 0)
    return descent_fail(DESCENT_EIO, "cannot open data directory '%s': %s; " FASHION_HINT, dir,
                        strerror(errno));
  return descent_fail(DESCENT_EIO, "no %s.gz or %s in '%s': " FASHION_HINT, name, name, dir);
}

/* Loads one split from dir: prefix "train" or "t10k"; its images as bytes
   when as_bytes. */
static int fashion_load_split(const char *dir, const char *prefix, int as_bytes,
                              descent_dataset *out) {
  char images_name[64], labels_name[64], images[4096], labels[4096];
  snprintf(images_name, sizeof images_name, "%s-images-idx3-ubyte", prefix);
  snprintf(labels_name, sizeof labels_name, "%s-labels-idx1-ubyte", prefix);
  int rc = fashion_find(dir, images_name, images, sizeof images);
  if (!rc) rc = fashion_find(dir, labels_name, labels, sizeof labels);
  if (!rc)
    rc = as_bytes ? descent_idx_load_dataset_bytes(images, labels, out)
                  : descent_idx_load_dataset(images, labels, out);
  return rc;
}

static int shape_equal(const descent_shape *a, const descent_shape *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->dims[i] != b->dims[i]) return 0;
  return 1;
}

/* One split, its error message (thread-local) kept for the calling thread. */
static int fashion_load_kept(const char *dir, const char *prefix, int as_bytes,
                             descent_dataset *out, char *message, size_t cap) {
  int rc = fashion_load_split(dir, prefix, as_bytes, out);
  if (rc) snprintf(message, cap, "%s", descent_last_error());
  return rc;
}

/* Both splits; on two threads, when the caller's count allows, since each
   is a gzip stream inflated on one core (0.3 s for the training images,
   0.05 s for the test's), and the test split's then overlaps the other's.
   What either split reports is the same as when they are read one after
   the other, the training split's error first. */
static int fashion_load_both(const char *dir, int as_bytes, descent_dataset *train,
                             descent_dataset *test) {
  if (omp_get_max_threads() < 2 || omp_in_parallel()) {
    int rc = fashion_load_split(dir, "train", as_bytes, train);
    return rc ? rc : fashion_load_split(dir, "t10k", as_bytes, test);
  }
  char kept[2][DESCENT_ERROR_CAP];
  int rc[2] = {DESCENT_OK, DESCENT_OK};
#pragma omp parallel sections num_threads(2)
  {
#pragma omp section
    rc[0] = fashion_load_kept(dir, "train", as_bytes, train, kept[0], sizeof kept[0]);
#pragma omp section
    rc[1] = fashion_load_kept(dir, "t10k", as_bytes, test, kept[1], sizeof kept[1]);
  }
  for (int i = 0; i < 2; i++)
    if (rc[i]) return descent_fail(rc[i], "%s", kept[i]);
  return DESCENT_OK;
}

static int fashion_load(const char *dir, int as_bytes, descent_dataset *train,
                        descent_dataset *test) {
  descent_error_clear();
  if (!train || !test)
    return descent_fail(DESCENT_EINVAL, "%s: train or test is NULL",
                        as_bytes ? "descent_fashion_mnist_load_bytes"
                                 : "descent_fashion_mnist_load");
  memset(train, 0, sizeof *train);
  memset(test, 0, sizeof *test);
  if (!dir) dir = DESCENT_FASHION_MNIST_DIR;

  int rc = fashion_load_both(dir, as_bytes, train, test);
  if (!rc && !shape_equal(&train->shape, &test->shape))
    rc = descent_fail(DESCENT_ESHAPE,
                      "%s: test images have %zu features, training images %zu: the files do not "
                      "belong to one data set",
                      dir, test->features, train->features);
  if (rc) {
    descent_dataset_free(train);
    descent_dataset_free(test);
    return rc;
  }
  /* A split that happens to lack the last class must still agree with the
   * other on the number of outputs a classifier needs. */
  size_t classes = train->classes > test->classes ? train->classes : test->classes;
  train->classes = test->classes = classes;
  return DESCENT_OK;
}

int descent_fashion_mnist_load(const char *dir, descent_dataset *train, descent_dataset *test) {
  return fashion_load(dir, 0, train, test);
}

int descent_fashion_mnist_load_bytes(const char *dir, descent_dataset *train,
                                     descent_dataset *test) {
  return fashion_load(dir, 1, train, test);
}

int descent_dataset_check_labels(const descent_dataset *ds, size_t classes, const char *name) {
  descent_error_clear();
  if (!ds || !name) return descent_fail(DESCENT_EINVAL, "descent_dataset_check_labels: NULL");
  if (!ds->labels) return DESCENT_OK;
  for (size_t i = 0; i < ds->n; i++)
    if (ds->labels[i] < 0 || (size_t)ds->labels[i] >= classes)
      return descent_fail(DESCENT_ESHAPE,
                          "%s: label %d of example %zu (counted from 0) is outside the valid "
                          "range 0 to %zu (the model's %zu outputs)",
                          name, (int)ds->labels[i], i, classes - 1, classes);
  return DESCENT_OK;
}

/* Marks n_val distinct indices of [0, n) in chosen[], drawn by the first n_val
 * steps of a Fisher-Yates shuffle. */
static int split_choose(size_t n, size_t n_val, uint64_t seed, unsigned char *chosen) {
  size_t *perm = descent_calloc(n, sizeof *perm, "split: permutation");
  if (!perm) return DESCENT_ENOMEM;
  for (size_t i = 0; i < n; i++) perm[i] = i;
  descent_rng rng;
  descent_rng_seed(&rng, seed);
  for (size_t i = 0; i < n_val; i++) {
    size_t j = i + (size_t)descent_rng_below(&rng, n - i);
    size_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    chosen[perm[i]] = 1;
  }
  free(perm);
  return DESCENT_OK;
}

int descent_dataset_split(descent_dataset *ds, size_t n_val, uint64_t seed, descent_dataset *val) {
  descent_error_clear();
  if (!ds || !val) return descent_fail(DESCENT_EINVAL, "descent_dataset_split: ds or val is NULL");
  memset(val, 0, sizeof *val);
  if (n_val == 0 || n_val >= ds->n)
    return descent_fail(DESCENT_EINVAL,
                        "cannot move %zu of %zu examples to the validation set: it needs at "
                        "least 1, and at least 1 must stay for training",
                        n_val, ds->n);

  size_t f = ds->features;
  val->n = n_val;
  val->shape = ds->shape;
  val->features = f;
  val->classes = ds->classes;
  /* n_val * f < ds->n * f; inputs held as bytes move as bytes, with a copy
     of their standardization. */
  int bytes = ds->x == NULL && ds->bytes != NULL, missing = 0;
  if (bytes) {
    val->bytes = descent_calloc(n_val * f, 1, "validation set");
    missing = !val->bytes;
    if (ds->byte_mean) {
      val->byte_mean = descent_alloc_real(f, "validation set: means");
      val->byte_inv_std = descent_alloc_real(f, "validation set: inverse deviations");
      missing |= !val->byte_mean || !val->byte_inv_std;
      if (!missing) {
        memcpy(val->byte_mean, ds->byte_mean, f * sizeof *val->byte_mean);
        memcpy(val->byte_inv_std, ds->byte_inv_std, f * sizeof *val->byte_inv_std);
      }
    }
  } else {
    val->x = descent_alloc_real(n_val * f, "validation set");
    missing = !val->x;
  }
  if (ds->labels) val->labels = descent_calloc(n_val, sizeof(int32_t), "validation labels");
  unsigned char *chosen = descent_calloc(ds->n, 1, "split: chosen examples");
  int rc = missing || (ds->labels && !val->labels) || !chosen ? DESCENT_ENOMEM : DESCENT_OK;
  if (!rc) rc = split_choose(ds->n, n_val, seed, chosen);
  if (rc) {
    free(chosen);
    descent_dataset_free(val);
    return rc;
  }

  /* One pass in index order: chosen rows go to val, the others slide down. Rows
   * only move to lower positions, so the compaction never overwrites a row it
   * still has to read. ds keeps its larger allocation; it is freed as usual. */
  size_t kept = 0, moved = 0, row_bytes = bytes ? f : f * sizeof *ds->x;
  unsigned char *from = bytes ? ds->bytes : (unsigned char *)ds->x;
  unsigned char *to = bytes ? val->bytes : (unsigned char *)val->x;
  for (size_t i = 0; i < ds->n; i++) {
    const unsigned char *row = from + i * row_bytes;
    if (chosen[i]) {
      memcpy(to + moved * row_bytes, row, row_bytes);
      if (ds->labels) val->labels[moved] = ds->labels[i];
      moved++;
    } else {
      if (kept != i) memcpy(from + kept * row_bytes, row, row_bytes);
      if (ds->labels) ds->labels[kept] = ds->labels[i];
      kept++;
    }
  }
  ds->n = kept;
  free(chosen);
  return DESCENT_OK;
}

int descent_dataset_truncate(descent_dataset *ds, size_t n) {
  descent_error_clear();
  if (!ds) return descent_fail(DESCENT_EINVAL, "descent_dataset_truncate: ds is NULL");
  if (n == 0 || n > ds->n)
    return descent_fail(DESCENT_EINVAL,
                        "cannot keep %zu examples of a data set of %zu: choose 1 to %zu", n, ds->n,
                        ds->n);
  ds->n = n;
  return DESCENT_OK;
}
