/*
 * test_data.c - tests of the data layer: the IDX reader against valid and
 * broken files (written here, plain and gzipped), the Fashion-MNIST file
 * lookup, preprocessing, the seeded split and the batcher.
 *
 * Every refused file is checked for its status and for the phrase that tells a
 * user what is wrong, since the message is the part of a failure people read.
 */
#include "check.h"
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static char tmp_dir[1024];

static const char *tmp_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", tmp_dir, name);
  return buf;
}

static void write_plain(const char *path, const void *data, size_t len) {
  FILE *fp = fopen(path, "wb");
  CHECK(fp != NULL);
  if (!fp) return;
  CHECK(fwrite(data, 1, len, fp) == len);
  CHECK(fclose(fp) == 0);
}

static void write_gz(const char *path, const void *data, size_t len) {
  gzFile gz = gzopen(path, "wb");
  CHECK(gz != NULL);
  if (!gz) return;
  CHECK(len == 0 || gzwrite(gz, data, (unsigned)len) == (int)len);
  CHECK(gzclose(gz) == Z_OK);
}

/* Reads a whole file (for cutting gzip files short). */
static size_t read_all(const char *path, unsigned char *buf, size_t cap) {
  FILE *fp = fopen(path, "rb");
  CHECK(fp != NULL);
  if (!fp) return 0;
  size_t n = fread(buf, 1, cap, fp);
  fclose(fp);
  return n;
}

/* An IDX file in memory: magic, big-endian dims, then data (count bytes). */
static size_t idx_build(unsigned char *buf, int type, int ndim, const uint32_t *dims,
                        const unsigned char *data, size_t count) {
  size_t len = 0;
  buf[len++] = 0;
  buf[len++] = 0;
  buf[len++] = (unsigned char)type;
  buf[len++] = (unsigned char)ndim;
  for (int i = 0; i < ndim; i++) {
    buf[len++] = (unsigned char)(dims[i] >> 24);
    buf[len++] = (unsigned char)(dims[i] >> 16);
    buf[len++] = (unsigned char)(dims[i] >> 8);
    buf[len++] = (unsigned char)dims[i];
  }
  if (count) memcpy(buf + len, data, count);
  return len + count;
}

/* 5 images of 2 x 3 pixels, pixel (i, k) = 40 i + k, labels 0 2 4 1 3. */
#define N_IMAGES 5
static unsigned char images_file[256], labels_file[64];
static size_t images_len, labels_len;

static void make_valid_files(void) {
  unsigned char pixels[N_IMAGES * 6], labels[N_IMAGES] = {0, 2, 4, 1, 3};
  for (int i = 0; i < N_IMAGES; i++)
    for (int k = 0; k < 6; k++) pixels[i * 6 + k] = (unsigned char)(40 * i + k);
  pixels[N_IMAGES * 6 - 1] = 255;
  uint32_t idims[3] = {N_IMAGES, 2, 3}, ldims[1] = {N_IMAGES};
  images_len = idx_build(images_file, 0x08, 3, idims, pixels, sizeof pixels);
  labels_len = idx_build(labels_file, 0x08, 1, ldims, labels, sizeof labels);
}

static void check_valid_dataset(const descent_dataset *ds) {
  CHECK(ds->n == N_IMAGES);
  CHECK(ds->shape.ndim == 3);
  CHECK(ds->shape.dims[0] == 1 && ds->shape.dims[1] == 2 && ds->shape.dims[2] == 3);
  CHECK(ds->features == 6);
  CHECK(ds->classes == 5);
  CHECK(ds->x != NULL && ds->labels != NULL);
  if (!ds->x || !ds->labels) return;
  CHECK_CLOSE(ds->x[0], 0.0, 1e-7);
  CHECK_CLOSE(ds->x[7], 41.0 / 255.0, 1e-6);
  CHECK_CLOSE(ds->x[N_IMAGES * 6 - 1], 1.0, 1e-7);
  CHECK(ds->labels[0] == 0 && ds->labels[1] == 2 && ds->labels[4] == 3);
}

static void test_idx_valid(void) {
  char ip[1200], lp[1200], igz[1200], lgz[1200];
  write_plain(tmp_path(ip, sizeof ip, "img.idx"), images_file, images_len);
  write_plain(tmp_path(lp, sizeof lp, "lab.idx"), labels_file, labels_len);
  write_gz(tmp_path(igz, sizeof igz, "img.idx.gz"), images_file, images_len);
  write_gz(tmp_path(lgz, sizeof lgz, "lab.idx.gz"), labels_file, labels_len);

  descent_dataset ds;
  CHECK_OK(descent_idx_load_dataset(ip, lp, &ds));
  check_valid_dataset(&ds);
  descent_dataset_free(&ds);
  CHECK(ds.x == NULL && ds.n == 0);
  /* The gzipped images are inflated whole (libdeflate), the labels streamed. */
  size_t whole = idx_whole_reads();
  CHECK_OK(descent_idx_load_dataset(igz, lgz, &ds));
  CHECK(idx_whole_reads() == whole + 1);
  check_valid_dataset(&ds);
  descent_dataset_free(&ds);
  CHECK_OK(descent_idx_load_dataset(igz, lp, &ds)); /* mixed is fine */
  check_valid_dataset(&ds);
  descent_dataset_free(&ds);
  descent_dataset_free(NULL);

  /* 4-D (n x c x h x w) and 2-D (n x features) image files. */
  unsigned char buf[256], px[2 * 12];
  for (int i = 0; i < 24; i++) px[i] = (unsigned char)i;
  uint32_t d4[4] = {2, 3, 2, 2}, d2[2] = {2, 12}, l2[1] = {2};
  unsigned char two_labels[2] = {1, 0};
  write_plain(lp, buf, idx_build(buf, 0x08, 1, l2, two_labels, 2));
  write_gz(ip, buf, idx_build(buf, 0x08, 4, d4, px, sizeof px));
  CHECK_OK(descent_idx_load_dataset(ip, lp, &ds));
  CHECK(ds.n == 2 && ds.shape.ndim == 3 && ds.features == 12 && ds.classes == 2);
  CHECK(ds.shape.dims[0] == 3 && ds.shape.dims[1] == 2 && ds.shape.dims[2] == 2);
  if (ds.x) CHECK_CLOSE(ds.x[13], 13.0 / 255.0, 1e-6);
  descent_dataset_free(&ds);
  write_plain(ip, buf, idx_build(buf, 0x08, 2, d2, px, sizeof px));
  CHECK_OK(descent_idx_load_dataset(ip, lp, &ds));
  CHECK(ds.n == 2 && ds.shape.ndim == 1 && ds.shape.dims[0] == 12 && ds.features == 12);
  descent_dataset_free(&ds);
}

/* A gzipped file of several read chunks (16,384 elements each) comes out
 * bit for bit as its plain copy: the whole-file inflation and the in-place
 * conversion that follows it (idx_read_pixels) against the streamed reads. */
static void test_idx_whole(void) {
  enum { N = 301, SIDE = 9 }; /* 24,381 pixels: a chunk and a part */
  static unsigned char file[16 + N * SIDE * SIDE], lab[8 + N];
  static unsigned char px[N * SIDE * SIDE], labels[N];
  for (size_t i = 0; i < sizeof px; i++) px[i] = (unsigned char)(i * 2654435761u >> 13);
  for (size_t i = 0; i < N; i++) labels[i] = (unsigned char)(i % 10);
  uint32_t dims[3] = {N, SIDE, SIDE}, ldims[1] = {N};
  size_t len = idx_build(file, 0x08, 3, dims, px, sizeof px);
  size_t llen = idx_build(lab, 0x08, 1, ldims, labels, N);
  char ip[1200], igz[1200], lp[1200];
  write_plain(tmp_path(ip, sizeof ip, "many.idx"), file, len);
  write_gz(tmp_path(igz, sizeof igz, "many.idx.gz"), file, len);
  write_plain(tmp_path(lp, sizeof lp, "many-labels.idx"), lab, llen);
  descent_dataset plain, gz;
  CHECK_OK(descent_idx_load_dataset(ip, lp, &plain));
  size_t whole = idx_whole_reads();
  CHECK_OK(descent_idx_load_dataset(igz, lp, &gz));
  CHECK(idx_whole_reads() == whole + 1);
  CHECK(plain.n == N && gz.n == N && gz.features == SIDE * SIDE);
  if (plain.x && gz.x) CHECK(memcmp(plain.x, gz.x, sizeof px * sizeof *gz.x) == 0);
  if (gz.x) CHECK(gz.x[sizeof px - 1] == (descent_real)px[sizeof px - 1] / (descent_real)255);
  descent_dataset_free(&plain);
  descent_dataset_free(&gz);
}

/* Loads images from a file holding `data` (plain or gzipped) with the valid
 * labels, and checks the failure. */
#define CHECK_IMAGES_FAIL(gz, data, len, status, needle)                                           \
  do {                                                                                             \
    char ip_[1200], lp_[1200];                                                                     \
    tmp_path(ip_, sizeof ip_, (gz) ? "bad.idx.gz" : "bad.idx");                                    \
    if (gz)                                                                                        \
      write_gz(ip_, data, len);                                                                    \
    else                                                                                           \
      write_plain(ip_, data, len);                                                                 \
    write_plain(tmp_path(lp_, sizeof lp_, "lab.idx"), labels_file, labels_len);                    \
    descent_dataset ds_;                                                                           \
    CHECK_FAILS(descent_idx_load_dataset(ip_, lp_, &ds_), status, needle);                         \
    CHECK_MSG(strstr(descent_last_error(), ip_) != NULL, "message lacks the path: %s",             \
              descent_last_error());                                                               \
    CHECK(ds_.x == NULL && ds_.labels == NULL && ds_.n == 0);                                      \
  } while (0)

static void test_idx_broken(void) {
  unsigned char buf[512];
  char ip[1200], lp[1200];
  descent_dataset ds;

  /* Missing file. */
  tmp_path(ip, sizeof ip, "no-such-file.idx");
  write_plain(tmp_path(lp, sizeof lp, "lab.idx"), labels_file, labels_len);
  CHECK_FAILS(descent_idx_load_dataset(ip, lp, &ds), DESCENT_EIO, "cannot open '");
  CHECK(strstr(descent_last_error(), "No such file or directory") != NULL);

  /* Truncated: the data stops early, plain and gzipped (a complete gzip stream
   * of too few bytes). */
  for (int gz = 0; gz <= 1; gz++)
    CHECK_IMAGES_FAIL(gz, images_file, images_len - 7, DESCENT_EFORMAT, "file truncated");
  CHECK_IMAGES_FAIL(0, images_file, images_len - 7, DESCENT_EFORMAT,
                    "header declares 46 bytes, file holds 39");
  CHECK_IMAGES_FAIL(0, images_file, 6, DESCENT_EFORMAT, "too few for an IDX header");
  CHECK_IMAGES_FAIL(0, images_file, 0, DESCENT_EFORMAT, "too few for an IDX header");

  /* A gzip file cut in the middle of its compressed data. */
  write_gz(tmp_path(ip, sizeof ip, "cut.idx.gz"), images_file, images_len);
  size_t gz_len = read_all(ip, buf, sizeof buf);
  CHECK(gz_len > 20);
  write_plain(ip, buf, gz_len - 6);
  CHECK_FAILS(descent_idx_load_dataset(ip, lp, &ds), DESCENT_EFORMAT, "truncated");
  write_plain(ip, buf, 12);
  CHECK_FAILS(descent_idx_load_dataset(ip, lp, &ds), DESCENT_EFORMAT, "gzip file truncated");

  /* Wrong magic: a text file, and an IDX file gzipped twice. */
  const char *text = "hello, this is not an IDX file at all\n";
  CHECK_IMAGES_FAIL(0, text, strlen(text), DESCENT_EFORMAT, "not an IDX file (magic 0x68656c6c)");
  CHECK_IMAGES_FAIL(1, buf, gz_len, DESCENT_EFORMAT, "not an IDX file (magic 0x1f8b0800)");
  CHECK_IMAGES_FAIL(0, text, strlen(text), DESCENT_EFORMAT, "expected 00 00 08 03");

  /* Starts like gzip, is not gzip. */
  unsigned char fake[64] = {0x1f, 0x8b, 0x07, 0x00};
  for (int i = 4; i < 64; i++) fake[i] = (unsigned char)(i * 37);
  CHECK_IMAGES_FAIL(0, fake, sizeof fake, DESCENT_EFORMAT,
                    "corrupt gzip data (unknown compression method)");
  fake[2] = 0x08; /* a valid method, then garbage where deflate data belongs */
  memset(fake + 4, 0xff, 60);
  CHECK_IMAGES_FAIL(0, fake, sizeof fake, DESCENT_EFORMAT,
                    "corrupt gzip data (invalid block type)");

  /* Wrong element type: 32-bit floats. */
  memcpy(buf, images_file, images_len);
  buf[2] = 0x0d;
  CHECK_IMAGES_FAIL(0, buf, images_len, DESCENT_EFORMAT, "element type 0x0d (32-bit float)");
  CHECK_IMAGES_FAIL(1, buf, images_len, DESCENT_EFORMAT, "must be unsigned bytes (0x08)");

  /* Wrong number of dimensions, and a zero dimension. */
  uint32_t dims1[1] = {5}, dims0[3] = {5, 0, 3};
  CHECK_IMAGES_FAIL(0, buf, idx_build(buf, 0x08, 1, dims1, images_file, 5), DESCENT_EFORMAT,
                    "header declares 1 dimension; images files have 2 to 4");
  buf[3] = 7;
  CHECK_IMAGES_FAIL(0, buf, 40, DESCENT_EFORMAT, "header declares 7 dimensions");
  CHECK_IMAGES_FAIL(0, buf, idx_build(buf, 0x08, 3, dims0, NULL, 0), DESCENT_EFORMAT,
                    "dimension 2 of 3 is 0");

  /* Dimensions whose product overflows size_t. */
  uint32_t huge[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
  for (int gz = 0; gz <= 1; gz++)
    CHECK_IMAGES_FAIL(gz, buf, idx_build(buf, 0x08, 4, huge, NULL, 0), DESCENT_ERANGE,
                      "overflow size_t");

  /* A ~100-byte file that claims 10^12 pixels: refused from the sizes alone. */
  uint32_t tera[3] = {10000, 10000, 10000};
  unsigned char some[80] = {1, 2, 3};
  size_t tera_len = idx_build(buf, 0x08, 3, tera, some, sizeof some);
  CHECK(tera_len == 96);
  CHECK_IMAGES_FAIL(0, buf, tera_len, DESCENT_EFORMAT,
                    "header declares 1000000000016 bytes, file holds 96");
  CHECK_IMAGES_FAIL(1, buf, tera_len, DESCENT_ERANGE, "gzip file holds at most");

  /* Trailing data: plain, inside the gzip stream, and after the gzip stream. */
  memcpy(buf, images_file, images_len);
  memcpy(buf + images_len, "junk", 4);
  CHECK_IMAGES_FAIL(0, buf, images_len + 4, DESCENT_EFORMAT, "trailing data");
  CHECK_IMAGES_FAIL(1, buf, images_len + 4, DESCENT_EFORMAT, "trailing data");
  write_gz(ip, images_file, images_len);
  gz_len = read_all(ip, buf, sizeof buf);
  memcpy(buf + gz_len, "junkjunk", 8);
  write_plain(ip, buf, gz_len + 8);
  CHECK_FAILS(descent_idx_load_dataset(ip, lp, &ds), DESCENT_EFORMAT, "gzip trailer records");

  /* A second gzip member after the data: the trailer (of the last member)
   * matches, so only reading to the end finds it. */
  write_gz(ip, images_file, images_len);
  gzFile gzf = gzopen(ip, "ab");
  CHECK(gzf != NULL);
  if (gzf) {
    CHECK(gzwrite(gzf, images_file, (unsigned)images_len) == (int)images_len);
    CHECK(gzclose(gzf) == Z_OK);
  }
  size_t whole = idx_whole_reads();
  CHECK_FAILS(descent_idx_load_dataset(ip, lp, &ds), DESCENT_EFORMAT,
              "trailing data: header declares 46 bytes, file holds more");
  CHECK(idx_whole_reads() == whole); /* libdeflate stopped after the first member */

  /* A checksum that does not match: libdeflate refuses it, zlib says why. */
  write_gz(ip, images_file, images_len);
  gz_len = read_all(ip, buf, sizeof buf);
  buf[gz_len - 8] ^= 0x5a; /* the CRC-32, first of the trailer's 8 bytes */
  write_plain(ip, buf, gz_len);
  CHECK_FAILS(descent_idx_load_dataset(ip, lp, &ds), DESCENT_EFORMAT,
              "corrupt gzip data (incorrect data check)");
  CHECK(idx_whole_reads() == whole);

  /* Labels: more than one dimension, and a count that differs from the images. */
  char good_images[1200];
  write_plain(tmp_path(good_images, sizeof good_images, "img.idx"), images_file, images_len);
  uint32_t l2[2] = {5, 1}, l4[1] = {4};
  write_plain(lp, buf, idx_build(buf, 0x08, 2, l2, labels_file + 8, 5));
  CHECK_FAILS(descent_idx_load_dataset(good_images, lp, &ds), DESCENT_EFORMAT,
              "labels files have 1 (one label per example)");
  write_plain(lp, buf, idx_build(buf, 0x08, 1, l4, labels_file + 8, 4));
  CHECK_FAILS(descent_idx_load_dataset(good_images, lp, &ds), DESCENT_ESHAPE, "4 labels, but");
  CHECK(strstr(descent_last_error(), "holds 5 images") != NULL);
  CHECK(ds.x == NULL && ds.labels == NULL);
}

static void test_fashion(void) {
  char dir[1200], path[1400];
  descent_dataset train, test;
  CHECK_FAILS(descent_fashion_mnist_load(tmp_path(dir, sizeof dir, "no-such-dir"), &train, &test),
              DESCENT_EIO, "apt-get install dataset-fashion-mnist");
  CHECK(strstr(descent_last_error(), dir) != NULL);
  CHECK(strstr(descent_last_error(), "--data-dir") != NULL);

  tmp_path(dir, sizeof dir, "fashion");
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
  remove(path);
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
  write_gz(path, images_file, images_len);
  CHECK_FAILS(descent_fashion_mnist_load(dir, &train, &test), DESCENT_EIO,
              "no train-labels-idx1-ubyte.gz or train-labels-idx1-ubyte in");
  CHECK(strstr(descent_last_error(), "install Debian's dataset-fashion-mnist package") != NULL);
  CHECK(train.x == NULL && test.x == NULL);

  /* Training files gzipped, test files plain. */
  snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
  write_gz(path, labels_file, labels_len);
  snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte", dir);
  write_plain(path, images_file, images_len);
  snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte", dir);
  write_plain(path, labels_file, labels_len);
  CHECK_OK(descent_fashion_mnist_load(dir, &train, &test));
  check_valid_dataset(&train);
  check_valid_dataset(&test);
  descent_dataset_free(&train);
  descent_dataset_free(&test);

  /* The real thing, where Debian's package is installed. */
  struct stat st;
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", DESCENT_FASHION_MNIST_DIR);
  if (stat(path, &st) == 0) {
    CHECK_OK(descent_fashion_mnist_load(NULL, &train, &test));
    CHECK(train.n == 60000 && test.n == 10000 && train.features == 784);
    CHECK(train.classes == 10 && test.classes == 10);
    CHECK(train.shape.ndim == 3 && train.shape.dims[0] == 1 && train.shape.dims[1] == 28);
    descent_dataset_free(&train);
    descent_dataset_free(&test);
  }
}

/* A data set whose example i has inputs i, i + 0.5, 7 (constant) and label i % 3. */
static void make_dataset(descent_dataset *ds, size_t n) {
  memset(ds, 0, sizeof *ds);
  ds->n = n;
  ds->shape.ndim = 1;
  ds->shape.dims[0] = 3;
  ds->features = 3;
  ds->classes = 3;
  ds->x = malloc(n * 3 * sizeof *ds->x);
  ds->labels = malloc(n * sizeof *ds->labels);
  for (size_t i = 0; i < n; i++) {
    ds->x[3 * i] = (descent_real)i;
    ds->x[3 * i + 1] = (descent_real)i + (descent_real)0.5;
    ds->x[3 * i + 2] = 7;
    ds->labels[i] = (int32_t)(i % 3);
  }
}

static void test_preprocess(void) {
  descent_preprocess_kind kind;
  CHECK_OK(descent_preprocess_parse("none", &kind));
  CHECK(kind == DESCENT_PREPROCESS_NONE);
  CHECK_OK(descent_preprocess_parse("standardize", &kind));
  CHECK(kind == DESCENT_PREPROCESS_STANDARDIZE);
  CHECK_FAILS(descent_preprocess_parse("whiten", &kind), DESCENT_EINVAL,
              "unknown preprocessing 'whiten': valid choices are none, standardize");
  CHECK(strcmp(descent_preprocess_name(DESCENT_PREPROCESS_STANDARDIZE), "standardize") == 0);
  CHECK(strcmp(descent_preprocess_name(DESCENT_PREPROCESS_NONE), "none") == 0);

  descent_dataset train, test;
  make_dataset(&train, 101);
  make_dataset(&test, 11);
  descent_preprocess pp;
  CHECK_FAILS(descent_preprocess_fit(&pp, DESCENT_PREPROCESS_STANDARDIZE, &train, 0.0),
              DESCENT_EINVAL, "eps must be a positive");
  CHECK_OK(descent_preprocess_fit(&pp, DESCENT_PREPROCESS_STANDARDIZE, &train, 1e-3));
  CHECK(pp.features == 3 && pp.mean && pp.inv_std);
  if (!pp.mean) return;
  CHECK_CLOSE(pp.mean[0], 50.0, 1e-6);
  CHECK_CLOSE(pp.mean[2], 7.0, 1e-6);
  double std = sqrt((101.0 * 101.0 - 1.0) / 12.0); /* population std of 0..100 */
  CHECK_CLOSE(pp.inv_std[0], 1.0 / (std + 1e-3), 1e-6);
  CHECK_CLOSE(pp.inv_std[2], 1e3, 1e-6);

  descent_preprocess_apply(&pp, &train);
  descent_preprocess_apply(&pp, &test);
  for (int j = 0; j < 3; j++) {
    double sum = 0, sq = 0;
    for (size_t i = 0; i < train.n; i++) sum += train.x[3 * i + j];
    for (size_t i = 0; i < train.n; i++) {
      double d = train.x[3 * i + j] - sum / (double)train.n;
      sq += d * d;
    }
    CHECK_CLOSE(sum / (double)train.n, 0.0, 1e-5);
    if (j < 2)
      CHECK_CLOSE(sqrt(sq / (double)train.n), 1.0, 1e-4);
    else
      CHECK_CLOSE(sqrt(sq / (double)train.n), 0.0, 1e-7);
  }
  /* The test set used the training statistics, not its own (mean 5). */
  CHECK_CLOSE(test.x[0], (0.0 - 50.0) / (std + 1e-3), 1e-5);
  CHECK_CLOSE(test.x[3 * 10], (10.0 - 50.0) / (std + 1e-3), 1e-5);
  CHECK(test.x[3 * 10] < -1.0);
  descent_preprocess_free(&pp);
  CHECK(pp.mean == NULL);
  descent_preprocess_free(NULL);

  /* "none" leaves the inputs alone. */
  CHECK_OK(descent_preprocess_fit(&pp, DESCENT_PREPROCESS_NONE, &test, 1e-3));
  descent_real before = test.x[4];
  descent_preprocess_apply(&pp, &test);
  CHECK(test.x[4] == before);
  descent_preprocess_free(&pp);
  free(train.x);
  free(train.labels);
  free(test.x);
  free(test.labels);
}

/* The example ids (input 0) of a data set built by make_dataset. */
static void ids_of(const descent_dataset *ds, size_t *ids) {
  for (size_t i = 0; i < ds->n; i++) ids[i] = (size_t)ds->x[3 * i];
}

static void test_split(void) {
  enum { N = 100, NVAL = 20 };
  descent_dataset ds, val, ds2, val2;
  size_t train_ids[N], val_ids[NVAL], val2_ids[NVAL];

  make_dataset(&ds, N);
  make_dataset(&ds2, N);
  CHECK_FAILS(descent_dataset_split(&ds, N, 1, &val), DESCENT_EINVAL,
              "cannot move 100 of 100 examples to the validation set");
  CHECK_FAILS(descent_dataset_split(&ds, 0, 1, &val), DESCENT_EINVAL, "needs at least 1");
  CHECK(ds.n == N);

  CHECK_OK(descent_dataset_split(&ds, NVAL, 42, &val));
  CHECK(ds.n == N - NVAL && val.n == NVAL);
  CHECK(val.features == 3 && val.classes == 3 && val.shape.ndim == 1);
  ids_of(&ds, train_ids);
  ids_of(&val, val_ids);
  int seen[N] = {0};
  for (size_t i = 0; i < ds.n; i++) seen[train_ids[i]]++;
  for (size_t i = 0; i < val.n; i++) seen[val_ids[i]] += 10;
  int all_once = 1;
  for (int i = 0; i < N; i++) all_once &= seen[i] == 1 || seen[i] == 10;
  CHECK(all_once);
  int sorted = 1, rows_intact = 1;
  for (size_t i = 1; i < ds.n; i++) sorted &= train_ids[i - 1] < train_ids[i];
  for (size_t i = 1; i < val.n; i++) sorted &= val_ids[i - 1] < val_ids[i];
  CHECK(sorted);
  for (size_t i = 0; i < val.n; i++)
    rows_intact &= val.labels[i] == (int32_t)(val_ids[i] % 3) && val.x[3 * i + 2] == 7 &&
                   val.x[3 * i + 1] == (descent_real)val_ids[i] + (descent_real)0.5;
  for (size_t i = 0; i < ds.n; i++)
    rows_intact &= ds.labels[i] == (int32_t)(train_ids[i] % 3) &&
                   ds.x[3 * i + 1] == (descent_real)train_ids[i] + (descent_real)0.5;
  CHECK(rows_intact);

  /* Same seed, same split; another seed, another split. */
  CHECK_OK(descent_dataset_split(&ds2, NVAL, 42, &val2));
  ids_of(&val2, val2_ids);
  CHECK(memcmp(val_ids, val2_ids, sizeof val_ids) == 0);
  free(ds2.x);
  free(ds2.labels);
  descent_dataset_free(&val2);
  make_dataset(&ds2, N);
  CHECK_OK(descent_dataset_split(&ds2, NVAL, 43, &val2));
  ids_of(&val2, val2_ids);
  CHECK(memcmp(val_ids, val2_ids, sizeof val_ids) != 0);

  /* Truncate keeps a prefix. */
  CHECK_FAILS(descent_dataset_truncate(&ds, N), DESCENT_EINVAL, "cannot keep 100 examples");
  CHECK_FAILS(descent_dataset_truncate(&ds, 0), DESCENT_EINVAL, "choose 1 to 80");
  CHECK_OK(descent_dataset_truncate(&ds, 10));
  CHECK(ds.n == 10 && ds.x[3 * 9] == (descent_real)train_ids[9]);

  free(ds.x);
  free(ds.labels);
  free(ds2.x);
  free(ds2.labels);
  descent_dataset_free(&val);
  descent_dataset_free(&val2);
}

/* Runs one epoch; records the ids in order and the batch sizes. */
static int run_epoch(descent_batcher *b, size_t *ids, size_t *sizes, size_t max_batches) {
  descent_batch batch;
  size_t pos = 0, k = 0;
  int ok = 1;
  while (descent_batcher_next(b, &batch)) {
    if (k == max_batches) return 0;
    sizes[k++] = batch.n;
    for (size_t i = 0; i < batch.n; i++) {
      size_t id = (size_t)batch.x[3 * i];
      ok &= batch.labels[i] == (int32_t)(id % 3) && batch.indices[i] == id;
      ok &= batch.x[3 * i + 1] == (descent_real)id + (descent_real)0.5;
      ids[pos++] = id;
    }
    ok &= batch.targets == NULL;
  }
  return ok ? (int)k : -1;
}

static void test_batcher(void) {
  enum { N = 10 };
  descent_dataset ds;
  make_dataset(&ds, N);
  descent_batcher *b = NULL, *b2 = NULL;
  CHECK_FAILS(descent_batcher_create(&b, &ds, 0, 1, 7), DESCENT_EINVAL, "batch size");
  CHECK(b == NULL); /* nothing to free after a refusal */
  descent_dataset empty = {0};
  CHECK_FAILS(descent_batcher_create(&b, &empty, 3, 1, 7), DESCENT_EINVAL, "empty");
  CHECK_OK(descent_batcher_create(&b, &ds, 3, 1, 7));
  CHECK_OK(descent_batcher_create(&b2, &ds, 3, 1, 7));
  CHECK(descent_batcher_batches(b) == 4);
  CHECK(descent_batcher_epoch(b) == 0);

  size_t ids[3][N], ids2[N], sizes[8];
  for (int e = 0; e < 3; e++) {
    CHECK(run_epoch(b, ids[e], sizes, 8) == 4);
    CHECK(descent_batcher_epoch(b) == e + 1);
    CHECK(sizes[0] == 3 && sizes[1] == 3 && sizes[2] == 3 && sizes[3] == 1);
    int count[N] = {0}, once = 1;
    for (int i = 0; i < N; i++) count[ids[e][i]]++;
    for (int i = 0; i < N; i++) once &= count[i] == 1;
    CHECK(once);
    CHECK(run_epoch(b2, ids2, sizes, 8) == 4);
    CHECK(memcmp(ids[e], ids2, sizeof ids2) == 0); /* same seed, same order */
  }
  int identity = 1;
  for (int i = 0; i < N; i++) identity &= ids[0][i] == (size_t)i;
  CHECK(!identity); /* the first epoch is shuffled too */
  CHECK(memcmp(ids[0], ids[1], sizeof ids[0]) != 0);
  CHECK(memcmp(ids[1], ids[2], sizeof ids[0]) != 0);
  descent_batcher_free(b);
  descent_batcher_free(b2);
  descent_batcher_free(NULL);

  /* Another seed, another order; no shuffling, data order; a batch larger
   * than the data set, one batch. */
  CHECK_OK(descent_batcher_create(&b, &ds, 3, 1, 8));
  CHECK(run_epoch(b, ids2, sizes, 8) == 4);
  CHECK(memcmp(ids[0], ids2, sizeof ids2) != 0);
  descent_batcher_free(b);
  CHECK_OK(descent_batcher_create(&b, &ds, 4, 0, 7));
  for (int e = 0; e < 2; e++) {
    CHECK(run_epoch(b, ids2, sizes, 8) == 3);
    CHECK(sizes[2] == 2);
    for (int i = 0; i < N; i++) CHECK(ids2[i] == (size_t)i);
  }
  descent_batcher_free(b);
  CHECK_OK(descent_batcher_create(&b, &ds, 64, 1, 7));
  CHECK(descent_batcher_batches(b) == 1);
  CHECK(run_epoch(b, ids2, sizes, 8) == 1);
  CHECK(sizes[0] == N);
  descent_batcher_free(b);
  free(ds.x);
  free(ds.labels);
}

int main(void) {
  const char *env = getenv("DESCENT_TEST_TMP");
  snprintf(tmp_dir, sizeof tmp_dir, "%s", env && *env ? env : "/tmp");
  mkdir(tmp_dir, 0755);
  make_valid_files();
  test_idx_valid();
  test_idx_whole();
  test_idx_broken();
  test_fashion();
  test_preprocess();
  test_split();
  test_batcher();
  return check_report();
}
