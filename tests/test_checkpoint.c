/*
 * test_checkpoint.c - damaged and foreign checkpoints, the choice of the
 * newest valid one, and the divergence guard.
 *
 *  - Every single-byte change (two patterns) and every truncation of a small
 *    checkpoint is refused with a message, by descent_checkpoint_inspect and
 *    by descent_trainer_load, and a refused load changes nothing.
 *  - Counts that claim far more than the file holds (10^12 examples, steps,
 *    values; CRCs fixed up so only the sizes are wrong) are refused before
 *    anything of that size is allocated (under ASan an attempt would abort).
 *  - A checkpoint for another model, optimizer, batch size, data set or
 *    preprocessing, and a plain model file, are refused naming the problem.
 *  - descent_checkpoint_find takes the newest valid ckpt-STEP.dsc, never a
 *    temporary file, and says which ones it skipped and why.
 *  - Run identity: a checkpoint of another run (in the folder or for the
 *    trainer), or one whose name says another step, is refused naming both
 *    values; version-1 files (no run id) still load where no id is expected;
 *    pruning deletes only this run's files, never another run's or a newer
 *    version's, and a folder with a newer version is refused whole.
 *  - The guard: a learning rate far too large stops the run with a message
 *    naming the step, the loss, the rate and the hint; no state whose loss
 *    failed the guard is ever written, the files already there keep their
 *    bytes; a bound on the loss; rollback lowers the rate and finishes, is
 *    deterministic, is saved with the checkpoint, and gives up after
 *    max_rollbacks.
 */
#include "check.h"
#include "test_files.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define N_EXAMPLES 12
#define FEATURES   8
#define BATCH      5

static descent_real xs[N_EXAMPLES * FEATURES];
static int32_t ys[N_EXAMPLES];
static descent_dataset data = {.n = N_EXAMPLES,
                               .shape = {1, {FEATURES}},
                               .features = FEATURES,
                               .classes = 3,
                               .x = xs,
                               .labels = ys};
static char dir[512];

/* Wider data for the guard: 50 examples. */
#define G_EXAMPLES 50
static descent_real gx[G_EXAMPLES * FEATURES];
static int32_t gy[G_EXAMPLES];
static descent_dataset gdata = {.n = G_EXAMPLES,
                                .shape = {1, {FEATURES}},
                                .features = FEATURES,
                                .classes = 3,
                                .x = gx,
                                .labels = gy};

static void make_data(void) {
  descent_rng rng;
  descent_rng_seed(&rng, 42);
  for (size_t i = 0; i < N_EXAMPLES * FEATURES; i++) xs[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < N_EXAMPLES; i++) ys[i] = (int32_t)(i % 3);
  descent_rng_seed(&rng, 42);
  for (size_t i = 0; i < G_EXAMPLES * FEATURES; i++) gx[i] = (descent_real)descent_rng_normal(&rng);
  for (size_t i = 0; i < G_EXAMPLES; i++) {
    double s = gx[i * FEATURES] + 0.5 * gx[i * FEATURES + 1];
    gy[i] = s > 0.5 ? 2 : s < -0.5 ? 0 : 1;
  }
}

static const char *path_in(const char *name) {
  static char path[4][1024];
  static int next;
  next = (next + 1) % 4;
  snprintf(path[next], sizeof path[next], "%s/%s", dir, name);
  return path[next];
}

typedef struct run {
  descent_net *net;
  descent_optimizer *opt;
  descent_trainer *t;
  int rollbacks_seen;
} run;

static int start(run *x, const descent_dataset *ds, const char *model, const char *opt,
                 const char *lr, const descent_trainer_options *base) {
  memset(x, 0, sizeof *x);
  descent_trainer_options o;
  if (base)
    o = *base;
  else
    descent_trainer_options_default(&o);
  if (!base) o.batch_size = BATCH;
  int rc =
      descent_net_create(&x->net, model, &ds->shape, DESCENT_LOSS_SOFTMAX_XENT, o.batch_size, 3);
  if (!rc) rc = descent_optimizer_create(&x->opt, opt, lr, descent_net_objective(x->net)->n_params);
  if (!rc) rc = descent_trainer_create(&x->t, descent_net_objective(x->net), x->opt, ds, &o);
  return rc;
}

static void finish(run *x) {
  descent_trainer_free(x->t);
  descent_optimizer_free(x->opt);
  descent_net_free(x->net);
  memset(x, 0, sizeof *x);
}

/* A fingerprint of everything a load may change. */
static uint32_t state_crc(run *x) {
  descent_objective *obj = descent_net_objective(x->net);
  uLong crc = crc32(0L, (const Bytef *)obj->params, (uInt)(obj->n_params * sizeof *obj->params));
  size_t nb;
  descent_real *b = descent_net_buffers(x->net, &nb);
  if (nb) crc = crc32(crc, (const Bytef *)b, (uInt)(nb * sizeof *b));
  size_t size = descent_optimizer_state_size(x->opt);
  unsigned char *blob = malloc(size);
  descent_optimizer_save_state(x->opt, blob, size);
  crc = crc32(crc, blob, (uInt)size);
  free(blob);
  size_t count;
  const double *losses;
  descent_trainer_history(x->t, &count, &losses, NULL);
  if (count) crc = crc32(crc, (const Bytef *)losses, (uInt)(count * sizeof *losses));
  int64_t steps = descent_trainer_steps(x->t), epochs = descent_trainer_epochs(x->t);
  crc = crc32(crc, (const Bytef *)&steps, sizeof steps);
  crc = crc32(crc, (const Bytef *)&epochs, sizeof epochs);
  return (uint32_t)crc;
}

static const char *model = "dense(6), batchnorm, relu, dropout(0.2), dense(3)";

/* Every byte changed, every length cut: refused, and nothing changes. */
static void damage(void) {
  run a, b;
  CHECK_OK(start(&a, &data, model, "adam", "0.01", NULL));
  CHECK_OK(descent_trainer_run(a.t, 100, 4)); /* inside epoch 2 */
  const char *good = path_in("good.dsc");
  CHECK_OK(descent_trainer_save(a.t, good));
  size_t len;
  unsigned char *bytes = slurp(good, &len);
  CHECK(bytes && len > 200);
  descent_checkpoint_info info;
  CHECK_OK(descent_checkpoint_inspect(good, &info));
  CHECK(info.step == 4 && info.epoch == 1 && info.batch == 1 && info.batches == 3);
  descent_checkpoint_info_free(&info);

  CHECK_OK(start(&b, &data, model, "adam", "0.01", NULL));
  CHECK_OK(descent_trainer_run(b.t, 100, 2));
  uint32_t before = state_crc(&b);
  const char *bad = path_in("bad.dsc");
  unsigned char *copy = malloc(len);
  int accepted = 0, silent = 0, changed = 0, tried = 0;
  static const unsigned char patterns[] = {0x01, 0xff};
  for (size_t pos = 0; pos < len; pos++) {
    for (int p = 0; p < 2; p++) {
      memcpy(copy, bytes, len);
      copy[pos] ^= patterns[p];
      spit(bad, copy, len);
      tried++;
      int rc = descent_checkpoint_inspect(bad, &info);
      if (rc == DESCENT_OK) {
        descent_checkpoint_info_free(&info);
        accepted++;
      } else if (descent_last_error()[0] == '\0') {
        silent++;
      }
      rc = descent_trainer_load(b.t, bad);
      if (rc == DESCENT_OK) accepted++;
      if (rc != DESCENT_OK && !strstr(descent_last_error(), "bad.dsc")) silent++;
      if (state_crc(&b) != before) {
        changed++;
        finish(&b); /* start over from a known state */
        start(&b, &data, model, "adam", "0.01", NULL);
        descent_trainer_run(b.t, 100, 2);
      }
    }
  }
  CHECK_MSG(accepted == 0, "%d of %d flipped files accepted", accepted, tried);
  CHECK_MSG(silent == 0, "%d refusals without a message naming the file", silent);
  CHECK_MSG(changed == 0, "%d refused loads changed the trainer", changed);
  int cut_accepted = 0;
  for (size_t cut = 0; cut < len; cut++) {
    spit(bad, bytes, cut);
    if (descent_checkpoint_inspect(bad, &info) == DESCENT_OK) {
      descent_checkpoint_info_free(&info);
      cut_accepted++;
    }
    if (descent_trainer_load(b.t, bad) == DESCENT_OK) cut_accepted++;
  }
  CHECK_MSG(cut_accepted == 0, "%d truncated files accepted", cut_accepted);
  CHECK(state_crc(&b) == before);
  /* Two messages, as a user sees them. */
  memcpy(copy, bytes, len);
  copy[len / 2] ^= 0x10;
  spit(bad, copy, len);
  CHECK_FAILS(descent_trainer_load(b.t, bad), DESCENT_EFORMAT, "is corrupted (CRC-32");
  spit(bad, bytes, len - 7);
  CHECK_FAILS(descent_trainer_load(b.t, bad), DESCENT_EFORMAT, "file truncated");
  /* And the good file still loads, to the saved state. */
  CHECK_OK(descent_trainer_load(b.t, good));
  CHECK(state_crc(&b) == state_crc(&a));
  printf("damage: %d flipped files and %zu truncations refused\n", tried, len);
  free(copy);
  free(bytes);
  finish(&a);
  finish(&b);
}

/* ---- hostile sizes ----------------------------------------------------------- */

static uint64_t le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Offset of a section's payload in a file; its length in *payload_len. */
static size_t section_at(const unsigned char *d, size_t len, const char *tag, size_t *payload_len) {
  for (size_t at = 16; at + 16 <= len;) {
    size_t n = (size_t)le64(d + at + 4);
    if (memcmp(d + at, tag, 4) == 0) {
      *payload_len = n;
      return at + 12;
    }
    at += 16 + n;
  }
  return 0;
}

/* Recomputes a section's CRC after its payload was edited. */
static void fix_crc(unsigned char *d, size_t payload_at, size_t payload_len) {
  size_t at = payload_at - 12;
  uLong crc = crc32(crc32(0L, Z_NULL, 0), d + at, (uInt)(12 + payload_len));
  for (int i = 0; i < 4; i++) d[payload_at + payload_len + i] = (unsigned char)(crc >> (8 * i));
}

static void hostile(void) {
  run a;
  CHECK_OK(start(&a, &data, model, "sgd", "0.1", NULL));
  CHECK_OK(descent_trainer_run(a.t, 100, 3));
  const char *good = path_in("host.dsc"), *bad = path_in("hostile.dsc");
  CHECK_OK(descent_trainer_save(a.t, good));
  size_t len, plen;
  unsigned char *bytes = slurp(good, &len);
  const uint64_t huge = 1000000000000ull; /* 10^12 */
  static const struct {
    const char *tag;
    size_t offset;
    const char *phrase;
  } cases[] = {
      {"BTCH", 0, "section 'BTCH' declares 1000000000000 examples"},
      {"LOSS", 0, "section 'LOSS' declares 1000000000000 steps"},
      {"PARM", 0, "section 'PARM' declares 1000000000000 values"},
      {"BUFF", 0, "section 'BUFF' declares 1000000000000 values"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    unsigned char *copy = malloc(len);
    memcpy(copy, bytes, len);
    size_t at = section_at(copy, len, cases[i].tag, &plen);
    CHECK(at > 0);
    put64(copy + at + cases[i].offset, huge);
    fix_crc(copy, at, plen);
    spit(bad, copy, len);
    descent_checkpoint_info info;
    CHECK_FAILS(descent_checkpoint_inspect(bad, &info), DESCENT_EFORMAT, cases[i].phrase);
    CHECK_FAILS(descent_trainer_load(a.t, bad), DESCENT_EFORMAT, cases[i].phrase);
    free(copy);
  }
  /* A permutation with a repeat, and a position beyond the data. */
  unsigned char *copy = malloc(len);
  memcpy(copy, bytes, len);
  size_t at = section_at(copy, len, "BTCH", &plen);
  memcpy(copy + at + 80, copy + at + 88, 8);
  fix_crc(copy, at, plen);
  spit(bad, copy, len);
  CHECK_FAILS(descent_trainer_load(a.t, bad), DESCENT_EFORMAT, "not a permutation");
  memcpy(copy, bytes, len);
  put64(copy + at + 64, N_EXAMPLES + 1);
  fix_crc(copy, at, plen);
  spit(bad, copy, len);
  CHECK_FAILS(descent_trainer_load(a.t, bad), DESCENT_EFORMAT, "position beyond the data");
  /* A newer checkpoint version. */
  memcpy(copy, bytes, len);
  at = section_at(copy, len, "CKPT", &plen);
  copy[at] = 9;
  fix_crc(copy, at, plen);
  spit(bad, copy, len);
  CHECK_FAILS(descent_trainer_load(a.t, bad), DESCENT_ENOTSUP,
              "checkpoint version 9; this descent reads versions 1 to 2 (the file comes from a "
              "newer descent)");
  /* A 100-byte file: a model header and one section that claims 10^12
     parameters. */
  unsigned char small[100] = "DSCNTMDL";
  small[8] = 1;  /* version 1 */
  small[12] = 1; /* one section */
  memcpy(small + 16, "PARM", 4);
  put64(small + 20, 68);
  put64(small + 28, huge);
  fix_crc(small, 28, 68);
  spit(bad, small, sizeof small);
  descent_checkpoint_info info;
  CHECK_FAILS(descent_checkpoint_inspect(bad, &info), DESCENT_EFORMAT,
              "a model file, not a checkpoint");
  descent_net *net = NULL;
  CHECK_FAILS(descent_net_load(&net, NULL, bad, 4), DESCENT_EFORMAT, "section 'NET ' is missing");
  free(copy);
  free(bytes);
  finish(&a);
}

/* ---- checkpoints that do not fit ---------------------------------------------- */

static void foreign(void) {
  run a, b;
  CHECK_OK(start(&a, &data, model, "adam", "0.01", NULL));
  CHECK_OK(descent_trainer_run(a.t, 100, 3));
  const char *path = path_in("fit.dsc");
  CHECK_OK(descent_trainer_save(a.t, path));

  CHECK_OK(start(&b, &data, "dense(6), relu, dense(3)", "adam", "0.01", NULL));
  CHECK_FAILS(descent_trainer_load(b.t, path), DESCENT_EINVAL,
              "holds the model 'dense(6), batchnorm");
  finish(&b);
  CHECK_OK(start(&b, &data, model, "sgd", "0.01", NULL));
  CHECK_FAILS(descent_trainer_load(b.t, path), DESCENT_EINVAL, "is for another optimizer");
  finish(&b);
  CHECK_OK(start(&b, &data, model, "adam", "0.02", NULL));
  CHECK_FAILS(descent_trainer_load(b.t, path), DESCENT_EINVAL, "lr(lr=0.01)");
  finish(&b);
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = 4;
  CHECK_OK(start(&b, &data, model, "adam", "0.01", &o));
  CHECK_FAILS(descent_trainer_load(b.t, path), DESCENT_EINVAL, "batches of 5");
  finish(&b);
  int32_t saved = ys[0];
  ys[0] = 2;
  CHECK_OK(start(&b, &data, model, "adam", "0.01", NULL));
  CHECK_FAILS(descent_trainer_load(b.t, path), DESCENT_EINVAL, "another data set");
  finish(&b);
  ys[0] = saved;
  descent_preprocess pp;
  CHECK_OK(descent_preprocess_fit(&pp, DESCENT_PREPROCESS_STANDARDIZE, &data, 1e-3));
  descent_trainer_options_default(&o);
  o.batch_size = BATCH;
  o.preprocess = &pp;
  CHECK_OK(start(&b, &data, model, "adam", "0.01", &o));
  CHECK_FAILS(descent_trainer_load(b.t, path), DESCENT_EINVAL, "preprocessed otherwise");
  finish(&b);
  /* A plain model file is not a checkpoint (but a checkpoint is a model). */
  const char *model_path = path_in("model.bin");
  CHECK_OK(descent_net_save(a.net, NULL, model_path));
  CHECK_OK(start(&b, &data, model, "adam", "0.01", NULL));
  CHECK_FAILS(descent_trainer_load(b.t, model_path), DESCENT_EFORMAT,
              "a model file, not a checkpoint");
  descent_net *net = NULL;
  CHECK_OK(descent_net_load(&net, NULL, path, 4));
  CHECK(net && memcmp(descent_net_objective(net)->params, descent_net_objective(a.net)->params,
                      descent_net_objective(net)->n_params * sizeof(descent_real)) == 0);
  descent_net_free(net);
  descent_preprocess_free(&pp);
  finish(&a);
  finish(&b);
}

/* ---- the newest valid checkpoint ----------------------------------------------- */

static void newest(void) {
  char folder[600], found[1024], skipped[2048];
  snprintf(folder, sizeof folder, "%s/newest", dir);
  empty_folder(folder);
  CHECK_FAILS(descent_checkpoint_find(folder, found, sizeof found, skipped, sizeof skipped),
              DESCENT_EIO, "no checkpoint (ckpt-STEP.dsc) in");
  run a;
  CHECK_OK(start(&a, &data, model, "sgd", "0.1", NULL));
  char p[1100];
  for (int step = 1; step <= 3; step++) {
    CHECK_OK(descent_trainer_run(a.t, 100, step));
    snprintf(p, sizeof p, "%s/ckpt-%d.dsc", folder, step);
    CHECK_OK(descent_trainer_save(a.t, p));
  }
  size_t len;
  unsigned char *bytes = slurp(p, &len);
  /* A valid file under a temporary name, and one with a suffix: never taken. */
  snprintf(p, sizeof p, "%s/ckpt-9.dsc.tmp.12345", folder);
  spit(p, bytes, len);
  snprintf(p, sizeof p, "%s/ckpt-8.dsc.old", folder);
  spit(p, bytes, len);
  /* ckpt-3 damaged, ckpt-2 cut: ckpt-1 is the newest valid one. */
  bytes[len - 40] ^= 0x40;
  snprintf(p, sizeof p, "%s/ckpt-3.dsc", folder);
  spit(p, bytes, len);
  size_t len2;
  snprintf(p, sizeof p, "%s/ckpt-2.dsc", folder);
  unsigned char *two = slurp(p, &len2);
  spit(p, two, len2 / 2);
  CHECK_OK(descent_checkpoint_find(folder, found, sizeof found, skipped, sizeof skipped));
  CHECK_MSG(strstr(found, "/ckpt-1.dsc") != NULL, "found %s", found);
  CHECK_MSG(strstr(skipped, "ckpt-3.dsc: section") && strstr(skipped, "is corrupted") &&
                strstr(skipped, "ckpt-2.dsc: file truncated") && !strstr(skipped, ".tmp.") &&
                !strstr(skipped, "ckpt-8"),
            "skipped: %s", skipped);
  /* One reason a line: a reason may itself hold "; ". */
  char *nl = strchr(skipped, '\n');
  CHECK_MSG(nl && !strchr(nl + 1, '\n') && strstr(skipped, "ckpt-3.dsc") < nl &&
                strstr(nl + 1, "ckpt-2.dsc: file truncated"),
            "skipped: %s", skipped);
  snprintf(p, sizeof p, "%s/ckpt-1.dsc", folder);
  unlink(p);
  CHECK_FAILS(descent_checkpoint_find(folder, found, sizeof found, skipped, sizeof skipped),
              DESCENT_EFORMAT, "no valid checkpoint in");
  CHECK_MSG(!strchr(descent_last_error(), '\n') && strstr(descent_last_error(), "; "), "%s",
            descent_last_error());
  /* A trainer on the folder deletes the temporaries of killed writers. */
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = BATCH;
  o.checkpoint_dir = folder;
  run b;
  CHECK_OK(start(&b, &data, model, "sgd", "0.1", &o));
  snprintf(p, sizeof p, "%s/ckpt-9.dsc.tmp.12345", folder);
  CHECK(access(p, F_OK) != 0);
  finish(&b);
  free(two);
  free(bytes);
  finish(&a);
}

/* ---- run identity and what may be deleted ------------------------------------ */

/* A copy of a version-2 checkpoint made version 1: the run id dropped from
   CKPT, its length and CRC fixed. */
static unsigned char *as_version1(const unsigned char *d, size_t len, size_t *out_len) {
  size_t plen, at = section_at(d, len, "CKPT", &plen);
  unsigned char *c = malloc(len - 16);
  memcpy(c, d, at + 80);
  memcpy(c + at + 80, d + at + 96, len - at - 96);
  put64(c + at - 8, 80);
  c[at] = 1;
  fix_crc(c, at, 80);
  *out_len = len - 16;
  return c;
}

static int exists(const char *folder, int step) {
  char p[1100];
  snprintf(p, sizeof p, "%s/ckpt-%d.dsc", folder, step);
  return access(p, F_OK) == 0;
}

static void identity(void) {
  char folder[600], legacy[600], p[1100], q[1100], found[1024], skipped[2048];
  snprintf(folder, sizeof folder, "%s/identity", dir);
  snprintf(legacy, sizeof legacy, "%s/legacy", dir);
  empty_folder(folder);
  empty_folder(legacy);
  descent_run_id mine, other, back;
  char mine_hex[33], other_hex[33], want[300];
  CHECK_OK(descent_run_id_generate(&mine));
  CHECK_OK(descent_run_id_generate(&other));
  CHECK(memcmp(&mine, &other, sizeof mine) != 0 && !descent_run_id_is_zero(&mine));
  descent_run_id_format(&mine, mine_hex);
  descent_run_id_format(&other, other_hex);
  CHECK(descent_run_id_load(folder, &back) == 1 && descent_run_id_is_zero(&back));
  CHECK_OK(descent_run_id_save(folder, &mine));
  CHECK_OK(descent_run_id_load(folder, &back));
  CHECK(memcmp(&back, &mine, sizeof mine) == 0);

  /* Another run's checkpoint of step 1, copied in. */
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = BATCH;
  o.run_id = other;
  run x;
  CHECK_OK(start(&x, &data, model, "sgd", "0.1", &o));
  CHECK_OK(descent_trainer_run(x.t, 100, 1));
  snprintf(p, sizeof p, "%s/ckpt-1.dsc", folder);
  CHECK_OK(descent_trainer_save(x.t, p));
  finish(&x);
  descent_checkpoint_info info;
  snprintf(want, sizeof want, "ckpt-1.dsc belongs to run %s, but its folder's run is %s", other_hex,
           mine_hex);
  CHECK_FAILS(descent_checkpoint_inspect(p, &info), DESCENT_EINVAL, want);

  /* This run writes every 2 steps, keeps 2: its own old files go, the
     other run's stays. */
  o.run_id = mine;
  o.checkpoint_dir = folder;
  o.checkpoint_every = 2;
  o.keep = 2;
  run a;
  CHECK_OK(start(&a, &data, model, "sgd", "0.1", &o));
  CHECK_OK(descent_trainer_run(a.t, 100, 9));
  CHECK(exists(folder, 8) && exists(folder, 6) && !exists(folder, 4) && !exists(folder, 0));
  CHECK_MSG(exists(folder, 1), "another run's checkpoint was deleted by pruning");
  CHECK_OK(descent_checkpoint_find(folder, found, sizeof found, skipped, sizeof skipped));
  CHECK(strstr(found, "/ckpt-8.dsc") != NULL);
  CHECK_OK(descent_checkpoint_inspect(found, &info));
  CHECK(info.version == 2 && memcmp(&info.run_id, &mine, sizeof mine) == 0);
  descent_checkpoint_info_free(&info);

  /* A name that says another step. */
  size_t len;
  unsigned char *bytes = slurp(found, &len);
  snprintf(q, sizeof q, "%s/ckpt-9.dsc", folder);
  spit(q, bytes, len);
  CHECK_FAILS(descent_checkpoint_inspect(q, &info), DESCENT_EFORMAT,
              "ckpt-9.dsc holds step 8, but its name says step 9");
  CHECK_OK(descent_checkpoint_find(folder, found, sizeof found, skipped, sizeof skipped));
  CHECK_MSG(strstr(found, "/ckpt-8.dsc") && strstr(skipped, "its name says step 9"), "%s: %s",
            found, skipped);
  unlink(q);

  /* A trainer of another run refuses this run's file, naming both. */
  o.run_id = other;
  o.checkpoint_dir = NULL;
  run b;
  CHECK_OK(start(&b, &data, model, "sgd", "0.1", &o));
  snprintf(want, sizeof want, "belongs to run %s, but this run is %s", mine_hex, other_hex);
  CHECK_FAILS(descent_trainer_load(b.t, found), DESCENT_EINVAL, want);
  finish(&b);

  /* Version 1 (before run ids): read in a folder without an id, into a
     trainer without one; refused in a folder or by a trainer that has one. */
  size_t len1;
  unsigned char *v1 = as_version1(bytes, len, &len1);
  snprintf(q, sizeof q, "%s/ckpt-8.dsc", legacy);
  spit(q, v1, len1);
  CHECK_OK(descent_checkpoint_inspect(q, &info));
  CHECK(info.version == 1 && descent_run_id_is_zero(&info.run_id) && info.step == 8);
  descent_checkpoint_info_free(&info);
  run c;
  CHECK_OK(start(&c, &data, model, "sgd", "0.1", NULL));
  CHECK_OK(descent_trainer_load(c.t, q));
  CHECK(descent_trainer_steps(c.t) == 8);
  finish(&c);
  o.run_id = mine;
  CHECK_OK(start(&c, &data, model, "sgd", "0.1", &o));
  CHECK_FAILS(descent_trainer_load(c.t, q), DESCENT_EINVAL,
              "a version-1 checkpoint without a run id, but this run is");
  finish(&c);
  CHECK_OK(descent_run_id_save(legacy, &mine));
  CHECK_FAILS(descent_checkpoint_inspect(q, &info), DESCENT_EINVAL,
              "a version-1 checkpoint without a run id, but its folder belongs to run");

  /* A newer version in the folder: find refuses the folder, and the running
     trainer's pruning never deletes it. */
  size_t plen, at = section_at(bytes, len, "CKPT", &plen);
  bytes[at] = 3;
  fix_crc(bytes, at, plen);
  snprintf(q, sizeof q, "%s/ckpt-20.dsc", folder);
  spit(q, bytes, len);
  CHECK_FAILS(descent_checkpoint_find(folder, found, sizeof found, skipped, sizeof skipped),
              DESCENT_ENOTSUP, "checkpoint version 3; this descent reads versions 1 to 2");
  CHECK_MSG(strstr(descent_last_error(), "continue it with that version") != NULL, "%s",
            descent_last_error());
  rename(q, p); /* now ckpt-1.dsc: an old step that pruning would reach */
  CHECK_OK(descent_trainer_run(a.t, 100, 13));
  CHECK(exists(folder, 12) && exists(folder, 10) && !exists(folder, 8));
  CHECK_MSG(exists(folder, 1), "a newer version's checkpoint was deleted by pruning");

  /* A newer container version (the file's byte 8) is a newer file too, not
     a damaged one: the folder is refused whole. */
  snprintf(q, sizeof q, "%s/ckpt-12.dsc", folder);
  unsigned char *newer = slurp(q, &len);
  newer[8] = 99;
  snprintf(q, sizeof q, "%s/ckpt-30.dsc", folder);
  spit(q, newer, len);
  CHECK_FAILS(descent_checkpoint_find(folder, found, sizeof found, skipped, sizeof skipped),
              DESCENT_ENOTSUP, "ckpt-30.dsc: format version 99; this descent reads version 1");
  unlink(q);

  /* A file at the path of the next checkpoint that is not this run's
     (another run's, a damaged one, a newer version) is never replaced: the
     write is refused naming it, and the file keeps its bytes. Each refusal
     drops that checkpoint; the next one is two steps on. */
  descent_trainer_options ox = o;
  ox.run_id = other;
  ox.checkpoint_dir = NULL;
  run y;
  CHECK_OK(start(&y, &data, model, "sgd", "0.1", &ox));
  CHECK_OK(descent_trainer_run(y.t, 100, 14));
  snprintf(q, sizeof q, "%s/other-14.dsc", dir);
  CHECK_OK(descent_trainer_save(y.t, q));
  finish(&y);
  size_t olen, dlen;
  unsigned char *others = slurp(q, &olen);
  snprintf(q, sizeof q, "%s/ckpt-12.dsc", folder);
  unsigned char *damaged = slurp(q, &dlen);
  damaged[dlen / 2] ^= 1;
  const char *kinds[] = {"another run's", "a damaged", "a newer"};
  const unsigned char *contents[] = {others, damaged, newer};
  size_t lens[] = {olen, dlen, len};
  for (int k = 0; k < 3; k++) {
    int64_t target = 14 + 2 * k;
    snprintf(q, sizeof q, "%s/ckpt-%lld.dsc", folder, (long long)target);
    spit(q, contents[k], lens[k]);
    CHECK_FAILS(descent_trainer_run(a.t, 100, target + 1), DESCENT_EIO,
                "dsc: not overwritten: it is not a checkpoint of this run");
    CHECK(descent_trainer_steps(a.t) == target);
    size_t got_len;
    unsigned char *got = slurp(q, &got_len);
    CHECK_MSG(got_len == lens[k] && memcmp(got, contents[k], got_len) == 0,
              "%s ckpt-%lld.dsc was replaced", kinds[k], (long long)target);
    free(got);
    unlink(q);
  }
  free(others);
  free(damaged);
  free(newer);
  finish(&a);
  free(v1);
  free(bytes);
}

/* ---- the guard ------------------------------------------------------------------ */

static void on_rollback(void *user, const descent_divergence *d) {
  run *x = user;
  x->rollbacks_seen++;
  CHECK(d->restored_step >= 0 && d->restored_step < d->step);
}

/* The names and bytes of a folder's files, as one CRC. */
static uint32_t folder_crc(const char *folder, int *files) {
  uLong crc = crc32(0L, Z_NULL, 0);
  *files = 0;
  for (int step = 0; step < 200; step++) {
    char p[1100];
    snprintf(p, sizeof p, "%s/ckpt-%d.dsc", folder, step);
    size_t len;
    unsigned char *d = slurp(p, &len);
    if (!d || !len) {
      free(d);
      continue;
    }
    (*files)++;
    crc = crc32(crc, (const Bytef *)p, (uInt)strlen(p));
    crc = crc32(crc, d, (uInt)len);
    free(d);
  }
  return (uint32_t)crc;
}

static void guard(void) {
  const char *mlp = "dense(16), relu, dense(3)";
  char folder[600];
  snprintf(folder, sizeof folder, "%s/guard", dir);
  empty_folder(folder);
  descent_trainer_options o;
  descent_trainer_options_default(&o);
  o.batch_size = 8;
  o.checkpoint_dir = folder;
  o.checkpoint_every = 1;
  o.keep = 100;

  /* lr 10 on this problem: the loss grows (1.4, 8.8, 33) and step 4 trips
     the bound of 100 x the first loss. */
  run a;
  CHECK_OK(start(&a, &gdata, mlp, "sgd", "10", &o));
  CHECK_FAILS(descent_trainer_run(a.t, 10, 0), DESCENT_EDIVERGED, "diverged at step ");
  const char *message = descent_last_error();
  CHECK_MSG(strstr(message, "with learning rate 10;") &&
                strstr(message, "too large for the curvature") && strstr(message, "(try 1)") &&
                strstr(message, "x the first loss") && strstr(message, "last good checkpoint is"),
            "message: %s", message);
  const descent_divergence *d = descent_trainer_divergence(a.t);
  CHECK(d && d->step >= 2 && d->step <= 6 && d->epoch == 1 && strcmp(d->reason, "loss") == 0);
  int64_t bad_step = d ? d->step : 0;
  CHECK_MSG(descent_trainer_steps(a.t) == bad_step - 1, "steps %lld, diverged at %lld",
            (long long)descent_trainer_steps(a.t), (long long)bad_step);
  /* The state after step bad_step - 1 failed the guard: never written. The
     newest file is the one before, and it loads. */
  char p[1100];
  snprintf(p, sizeof p, "%s/ckpt-%lld.dsc", folder, (long long)(bad_step - 1));
  CHECK_MSG(access(p, F_OK) != 0, "%s was written", p);
  snprintf(p, sizeof p, "%s/ckpt-%lld.dsc", folder, (long long)(bad_step - 2));
  CHECK_MSG(strcmp(descent_trainer_last_checkpoint(a.t), p) == 0, "last checkpoint %s",
            descent_trainer_last_checkpoint(a.t));
  CHECK(strstr(message, p) != NULL);
  finish(&a);

  /* Stopped just before the bad step, resumed: the files there keep their
     bytes and none is added. */
  empty_folder(folder);
  CHECK_OK(start(&a, &gdata, mlp, "sgd", "10", &o));
  CHECK_OK(descent_trainer_run(a.t, 10, bad_step - 1));
  int files_before, files_after;
  uint32_t before = folder_crc(folder, &files_before);
  CHECK_FAILS(descent_trainer_run(a.t, 10, 0), DESCENT_EDIVERGED, "diverged at step");
  uint32_t after = folder_crc(folder, &files_after);
  CHECK_MSG(before == after && files_before == files_after && files_before > 0,
            "files changed by the divergence (%d, then %d)", files_before, files_after);
  finish(&a);

  /* An explicit bound. */
  descent_trainer_options b = o;
  b.checkpoint_dir = NULL;
  b.max_loss = 0.5;
  CHECK_OK(start(&a, &gdata, mlp, "sgd", "0.1", &b));
  CHECK_FAILS(descent_trainer_run(a.t, 10, 0), DESCENT_EDIVERGED, "is beyond the bound 0.5");
  CHECK(descent_trainer_steps(a.t) == 0);
  finish(&a);
  /* A NaN input.*/
  descent_real saved = gx[3];
  gx[3] = NAN;
  b.max_loss = NAN;
  CHECK_OK(start(&a, &gdata, mlp, "sgd", "0.1", &b));
  /* ReLU maps the NaN pre-activation to 0, so the loss stays finite, but the
     first layer's gradient is NaN. */
  CHECK_FAILS(descent_trainer_run(a.t, 10, 0), DESCENT_EDIVERGED, "the gradient holds NaN or Inf");
  CHECK(descent_trainer_divergence(a.t) &&
        strcmp(descent_trainer_divergence(a.t)->reason, "gradient") == 0);
  finish(&a);
  gx[3] = saved;

  /* Rollback: lr 10 diverges at step 4; rolled back to the last good
     checkpoint with lr 1, the run finishes. */
  descent_trainer_options r = o;
  r.checkpoint_dir = NULL;
  r.checkpoint_every = 2;
  r.on_diverge = DESCENT_DIVERGE_ROLLBACK;
  r.on_rollback = on_rollback;
  run x, y;
  r.user = &x;
  CHECK_OK(start(&x, &gdata, mlp, "sgd", "10", &r));
  CHECK_OK(descent_trainer_run(x.t, 6, 0));
  CHECK_MSG(x.rollbacks_seen >= 1, "%d rollbacks", x.rollbacks_seen);
  CHECK_CLOSE(descent_optimizer_lr_scale(x.opt), pow(0.1, x.rollbacks_seen), 1e-12);
  CHECK(descent_trainer_epochs(x.t) == 6);
  size_t count;
  const double *losses, *lrs;
  descent_trainer_history(x.t, &count, &losses, &lrs);
  CHECK(count == (size_t)descent_trainer_steps(x.t) && count == 6 * 7);
  CHECK(count && lrs[count - 1] < 10);
  /* Deterministic: the same again. */
  r.user = &y;
  CHECK_OK(start(&y, &gdata, mlp, "sgd", "10", &r));
  CHECK_OK(descent_trainer_run(y.t, 6, 0));
  CHECK(state_crc(&x) == state_crc(&y));
  /* The scale travels with the checkpoint. */
  const char *path = path_in("rolled.dsc");
  CHECK_OK(descent_trainer_save(x.t, path));
  finish(&y);
  r.user = &y;
  CHECK_OK(start(&y, &gdata, mlp, "sgd", "10", &r));
  CHECK_OK(descent_trainer_load(y.t, path));
  CHECK(descent_optimizer_lr_scale(y.opt) == descent_optimizer_lr_scale(x.opt));
  CHECK(state_crc(&x) == state_crc(&y));
  finish(&x);
  finish(&y);

  /* A rate no rollback can save: it gives up after max_rollbacks. */
  r.user = &x;
  CHECK_OK(start(&x, &gdata, mlp, "sgd", "1e7", &r));
  CHECK_FAILS(descent_trainer_run(x.t, 6, 0), DESCENT_EDIVERGED, "after 3 rollbacks");
  CHECK(x.rollbacks_seen == 3);
  finish(&x);
}

int main(void) {
  const char *tmp = getenv("DESCENT_TEST_TMP");
  snprintf(dir, sizeof dir, "%s/checkpoint%d", tmp ? tmp : "/tmp", (int)sizeof(descent_real) * 8);
  mkdir(tmp ? tmp : "/tmp", 0777);
  mkdir(dir, 0777);
  descent_set_threads(1);
  make_data();
  damage();
  hostile();
  foreign();
  newest();
  identity();
  guard();
  return check_report();
}
