/*
 * test_bytes.c - data sets held as their bytes (descent_dataset.bytes) give
 * the numbers of the same set held as numbers, bit for bit, everywhere they
 * go: loading (plain and gzipped), the rows, the split and truncation,
 * standardization (fitted on either, kept beside the bytes) and whitening
 * (which turns them into numbers), the batcher, minibatch and full-batch
 * training, evaluation and the batch norm refresh.
 *
 * The images are made here: 301 examples of 6 x 6 pixels, 4 classes.
 */
#include "check.h"
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

enum { N = 301, SIDE = 6, F = SIDE * SIDE, CLASSES = 4, BATCH = 32 };

static char tmp_dir[1024], images_plain[1200], images_gz[1200], labels_path[1200];

static void put_be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* An image file of n examples, plain and gzipped, and its labels file. The
   pixels use every byte value, and the labels follow the pixels, so that
   training has something to learn. */
static void make_files(size_t n, const char *name, char *plain, char *gz, char *labels,
                       size_t cap) {
  unsigned char *img = malloc(16 + n * F), *lab = malloc(8 + n);
  CHECK(img && lab);
  if (!img || !lab) exit(1);
  memset(img, 0, 16), memset(lab, 0, 8);
  img[2] = 0x08, img[3] = 3;
  put_be32(img + 4, (uint32_t)n), put_be32(img + 8, SIDE), put_be32(img + 12, SIDE);
  lab[2] = 0x08, lab[3] = 1;
  put_be32(lab + 4, (uint32_t)n);
  uint32_t h = 12345;
  for (size_t i = 0; i < n; i++) {
    unsigned sum = 0;
    for (size_t j = 0; j < F; j++) {
      h = h * 1664525u + 1013904223u;
      unsigned char v = (unsigned char)(h >> 24);
      img[16 + i * F + j] = v;
      if (j < 4) sum += v;
    }
    lab[8 + i] = (unsigned char)(sum / 256 % CLASSES);
  }
  snprintf(plain, cap, "%s/%s.idx", tmp_dir, name);
  snprintf(gz, cap, "%s/%s.idx.gz", tmp_dir, name);
  snprintf(labels, cap, "%s/%s-labels.idx", tmp_dir, name);
  FILE *f = fopen(plain, "wb");
  CHECK(f && fwrite(img, 1, 16 + n * F, f) == 16 + n * F);
  if (f) fclose(f);
  f = fopen(labels, "wb");
  CHECK(f && fwrite(lab, 1, 8 + n, f) == 8 + n);
  if (f) fclose(f);
  gzFile z = gzopen(gz, "wb");
  CHECK(z && gzwrite(z, img, (unsigned)(16 + n * F)) == (int)(16 + n * F));
  if (z) gzclose(z);
  free(img);
  free(lab);
}

/* Every input of a (as numbers) equals that of b (either kind), bit for bit. */
static int same_inputs(const descent_dataset *a, const descent_dataset *b) {
  if (a->n != b->n || a->features != b->features || !a->x) return 0;
  descent_real *rows = malloc(b->n * b->features * sizeof *rows + 1);
  int same = rows && descent_dataset_rows(b, 0, b->n, rows) == DESCENT_OK &&
             memcmp(rows, a->x, b->n * b->features * sizeof *rows) == 0;
  free(rows);
  if (a->labels && b->labels) same &= memcmp(a->labels, b->labels, a->n * sizeof *a->labels) == 0;
  return same;
}

/* The numbers from the gzipped file (converted in place, idx.c), the bytes
   from it too. */
static void load_both(descent_dataset *numbers, descent_dataset *bytes) {
  CHECK_OK(descent_idx_load_dataset(images_gz, labels_path, numbers));
  CHECK_OK(descent_idx_load_dataset_bytes(images_gz, labels_path, bytes));
}

static void test_load_rows_split(void) {
  descent_dataset numbers, bytes, plain;
  size_t whole = idx_whole_reads();
  load_both(&numbers, &bytes);
  CHECK(idx_whole_reads() == whole + 2); /* both gzipped loads inflated whole */
  CHECK(bytes.x == NULL && bytes.bytes != NULL && bytes.byte_mean == NULL);
  CHECK(bytes.n == N && bytes.features == F && bytes.classes == numbers.classes);
  CHECK(same_inputs(&numbers, &bytes));
  CHECK_OK(descent_idx_load_dataset_bytes(images_plain, labels_path, &plain));
  CHECK(plain.bytes && bytes.bytes && memcmp(plain.bytes, bytes.bytes, N * F) == 0);
  descent_dataset_free(&plain);
  /* zlib's reads alone (the whole-file inflation off): the same numbers. */
  idx_whole_enable(0);
  CHECK_OK(descent_idx_load_dataset(images_gz, labels_path, &plain));
  idx_whole_enable(1);
  CHECK(idx_whole_reads() == whole + 2);
  CHECK(same_inputs(&plain, &bytes));
  descent_dataset_free(&plain);
  CHECK_OK(descent_idx_load_dataset(images_plain, labels_path, &plain));
  CHECK(same_inputs(&plain, &bytes));
  descent_dataset_free(&plain);

  /* Rows: any range, and refusals. */
  descent_real row[2 * F];
  CHECK_OK(descent_dataset_rows(&bytes, N - 2, 2, row));
  CHECK(memcmp(row, numbers.x + (N - 2) * F, sizeof row) == 0);
  CHECK_FAILS(descent_dataset_rows(&bytes, N - 1, 2, row), DESCENT_EINVAL, "of a set of 301");
  CHECK_FAILS(descent_dataset_rows(&bytes, 0, 1, NULL), DESCENT_EINVAL, "NULL");

  /* The same split of both, and truncation. */
  descent_dataset val_n, val_b;
  CHECK_OK(descent_dataset_split(&numbers, 50, 9, &val_n));
  CHECK_OK(descent_dataset_split(&bytes, 50, 9, &val_b));
  CHECK(val_b.bytes != NULL && val_b.x == NULL);
  CHECK(same_inputs(&numbers, &bytes) && same_inputs(&val_n, &val_b));
  CHECK_OK(descent_dataset_truncate(&numbers, 77));
  CHECK_OK(descent_dataset_truncate(&bytes, 77));
  CHECK(same_inputs(&numbers, &bytes));

  /* Expanded: numbers, the bytes gone. */
  CHECK_OK(descent_dataset_expand(&val_b));
  CHECK(val_b.x != NULL && val_b.bytes == NULL &&
        memcmp(val_b.x, val_n.x, 50 * F * sizeof *val_b.x) == 0);
  CHECK_OK(descent_dataset_expand(&val_b)); /* already numbers: nothing to do */
  descent_dataset_free(&val_n);
  descent_dataset_free(&val_b);
  descent_dataset_free(&numbers);
  descent_dataset_free(&bytes);
}

static void test_preprocess(void) {
  descent_dataset numbers, bytes;
  load_both(&numbers, &bytes);
  descent_preprocess pn, pb;
  CHECK_OK(descent_preprocess_fit(&pn, DESCENT_PREPROCESS_STANDARDIZE, &numbers, 1e-3));
  CHECK_OK(descent_preprocess_fit(&pb, DESCENT_PREPROCESS_STANDARDIZE, &bytes, 1e-3));
  CHECK(memcmp(pn.mean, pb.mean, F * sizeof *pn.mean) == 0);
  CHECK(memcmp(pn.inv_std, pb.inv_std, F * sizeof *pn.inv_std) == 0);
  /* The first standardization stays beside the bytes; a second one turns
     them into numbers, as it would have changed the numbers. */
  CHECK_OK(descent_preprocess_apply(&pn, &numbers));
  CHECK_OK(descent_preprocess_apply(&pn, &bytes));
  CHECK(bytes.x == NULL && bytes.byte_mean != NULL && bytes.byte_inv_std != NULL);
  CHECK(same_inputs(&numbers, &bytes));
  CHECK_OK(descent_preprocess_apply(&pn, &numbers));
  CHECK_OK(descent_preprocess_apply(&pn, &bytes));
  CHECK(bytes.x != NULL && bytes.bytes == NULL && bytes.byte_mean == NULL);
  CHECK(same_inputs(&numbers, &bytes));
  descent_preprocess_free(&pn);
  descent_preprocess_free(&pb);
  descent_dataset_free(&numbers);
  descent_dataset_free(&bytes);

  /* Whitening: fitted on the bytes as on the numbers, applied as numbers. */
  load_both(&numbers, &bytes);
  CHECK_OK(descent_preprocess_fit(&pn, DESCENT_PREPROCESS_ZCA, &numbers, 1e-2));
  CHECK_OK(descent_preprocess_fit(&pb, DESCENT_PREPROCESS_ZCA, &bytes, 1e-2));
  CHECK(pn.whiten && pb.whiten && memcmp(pn.whiten, pb.whiten, F * F * sizeof *pn.whiten) == 0);
  CHECK_OK(descent_preprocess_apply(&pn, &numbers));
  CHECK_OK(descent_preprocess_apply(&pn, &bytes));
  CHECK(bytes.x != NULL && bytes.bytes == NULL);
  CHECK(same_inputs(&numbers, &bytes));
  descent_preprocess_free(&pn);
  descent_preprocess_free(&pb);
  descent_dataset_free(&numbers);
  descent_dataset_free(&bytes);
}

/* The standardized pair every training test starts from. */
static void load_standardized(descent_dataset *numbers, descent_dataset *bytes) {
  load_both(numbers, bytes);
  descent_preprocess pp;
  CHECK_OK(descent_preprocess_fit(&pp, DESCENT_PREPROCESS_STANDARDIZE, numbers, 1e-3));
  CHECK_OK(descent_preprocess_apply(&pp, numbers));
  CHECK_OK(descent_preprocess_apply(&pp, bytes));
  descent_preprocess_free(&pp);
}

static void test_batcher(void) {
  descent_dataset numbers, bytes;
  load_standardized(&numbers, &bytes);
  descent_batcher *bn = NULL, *bb = NULL;
  CHECK_OK(descent_batcher_create(&bn, &numbers, BATCH, 1, 3));
  CHECK_OK(descent_batcher_create(&bb, &bytes, BATCH, 1, 3));
  int same = bn && bb, batches = 0;
  descent_batch a, b;
  for (int s = 0; same && s < 25; s++) { /* more than two epochs: 10 batches each */
    int got_a = descent_batcher_next(bn, &a), got_b = descent_batcher_next(bb, &b);
    same &= got_a == got_b;
    if (!got_a || !same) continue;
    batches++;
    same &= a.n == b.n && memcmp(a.x, b.x, a.n * F * sizeof *a.x) == 0 &&
            memcmp(a.labels, b.labels, a.n * sizeof *a.labels) == 0;
  }
  CHECK(same && batches >= 20);
  descent_batcher_free(bn);
  descent_batcher_free(bb);
  descent_dataset_free(&numbers);
  descent_dataset_free(&bytes);

  /* A batch of 2,048 x 36 values, gathered on the threads (from 65,536). */
  enum { BIG = 2048 };
  char plain[1200], gz[1200], labels[1200];
  make_files(BIG, "big", plain, gz, labels, sizeof plain);
  CHECK_OK(descent_idx_load_dataset(gz, labels, &numbers));
  CHECK_OK(descent_idx_load_dataset_bytes(gz, labels, &bytes));
  CHECK_OK(descent_batcher_create(&bn, &numbers, BIG, 1, 3));
  CHECK_OK(descent_batcher_create(&bb, &bytes, BIG, 1, 3));
  if (bn && bb && descent_batcher_next(bn, &a) && descent_batcher_next(bb, &b))
    CHECK(a.n == BIG && b.n == BIG && memcmp(a.x, b.x, (size_t)BIG * F * sizeof *a.x) == 0);
  else
    CHECK(!"no big batch");
  descent_batcher_free(bn);
  descent_batcher_free(bb);
  descent_dataset_free(&numbers);
  descent_dataset_free(&bytes);
}

/* Trains a fresh network `spec` with optimizer `opt` for 2 epochs on ds, then
   evaluates it on test; params gets its parameters, and the count is
   returned. */
static size_t train(const char *spec, const char *opt_spec, const descent_dataset *ds,
                    const descent_dataset *test, descent_real *params, size_t cap, double *loss,
                    double *acc) {
  size_t count = 0;
  descent_net *net = NULL;
  descent_optimizer *opt = NULL;
  descent_trainer *t = NULL;
  CHECK_OK(descent_net_create(&net, spec, &ds->shape, DESCENT_LOSS_SOFTMAX_XENT, BATCH, 5));
  if (!net) return 0;
  descent_objective *obj = descent_net_objective(net);
  CHECK(obj->n_params <= cap);
  CHECK_OK(descent_optimizer_create(&opt, opt_spec, strchr(opt_spec, '(') ? NULL : "0.05",
                                    obj->n_params));
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = BATCH;
  o.seed = 11;
  if (opt) CHECK_OK(descent_trainer_create(&t, obj, opt, ds, &o));
  if (t) CHECK_OK(descent_trainer_run(t, 2, 0));
  CHECK(t && descent_trainer_steps(t) > 0);
  CHECK_OK(descent_net_refresh_batch_norm(net, ds, BATCH, 4));
  CHECK_OK(descent_net_evaluate(net, test, loss, acc));
  /* A set with neither numbers nor bytes: refused, not read. */
  descent_dataset empty = *test;
  empty.x = NULL, empty.bytes = NULL;
  double l, a;
  CHECK_FAILS(descent_net_evaluate(net, &empty, &l, &a), DESCENT_EINVAL, "no inputs");
  if (obj->n_params <= cap) {
    memcpy(params, obj->params, obj->n_params * sizeof *params);
    count = obj->n_params;
  }
  descent_trainer_free(t);
  descent_optimizer_free(opt);
  descent_net_free(net);
  return count;
}

static void test_training(void) {
  descent_dataset numbers, bytes;
  load_standardized(&numbers, &bytes);
  static const char *const specs[] = {"dense(16), relu, dense(4)",
                                      "dense(12), batchnorm, relu, dense(4)"};
  static const char *const opts[] = {"sgd", "adam", "lbfgs(lr=0.5, full_batch=1)"};
  enum { CAP = 4096 };
  static descent_real pn[CAP], pb[CAP];
  for (int s = 0; s < 2; s++)
    for (int o = 0; o < 3; o++) {
      double ln = 0, an = 0, lb = 1, ab = 1;
      memset(pn, 0, sizeof pn);
      memset(pb, 1, sizeof pb);
      size_t n = train(specs[s], opts[o], &numbers, &numbers, pn, CAP, &ln, &an);
      size_t m = train(specs[s], opts[o], &bytes, &bytes, pb, CAP, &lb, &ab);
      int same = n > 0 && n == m && memcmp(pn, pb, n * sizeof *pn) == 0;
      if (!same || ln != lb || an != ab)
        fprintf(stderr, "FAIL: %s with %s: other parameters or scores from bytes\n", specs[s],
                opts[o]);
      CHECK(same);
      CHECK(ln == lb && an == ab && ln > 0);
    }
  descent_dataset_free(&numbers);
  descent_dataset_free(&bytes);
}

int main(void) {
  const char *env = getenv("DESCENT_TEST_TMP");
  snprintf(tmp_dir, sizeof tmp_dir, "%s", env && *env ? env : "/tmp");
  mkdir(tmp_dir, 0755);
  make_files(N, "img", images_plain, images_gz, labels_path, sizeof images_plain);
  test_load_rows_split();
  test_preprocess();
  test_batcher();
  test_training();
  return check_report();
}
