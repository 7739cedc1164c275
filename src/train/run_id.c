/*
 * run_id.c - a run's identity: 16 random bytes that every checkpoint of the
 * run records and its folder keeps in the file "run-id", so that files of
 * two runs are never mixed.
 */
#include "trainer_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

int descent_run_id_generate(descent_run_id *id) {
  if (!id) return descent_fail(DESCENT_EINVAL, "descent_run_id_generate: id is NULL");
  /* The kernel's random source, never the seed: two runs with one seed differ. */
  size_t done = 0;
  while (done < sizeof id->bytes) {
    ssize_t n = getrandom(id->bytes + done, sizeof id->bytes - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return descent_fail(DESCENT_EIO, "cannot make a run id: getrandom: %s",
                          n < 0 ? strerror(errno) : "no bytes");
    done += (size_t)n;
  }
  if (descent_run_id_is_zero(id)) id->bytes[0] = 1; /* zero means "none" */
  return DESCENT_OK;
}

void descent_run_id_format(const descent_run_id *id, char text[33]) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) {
    text[2 * i] = hex[id->bytes[i] >> 4];
    text[2 * i + 1] = hex[id->bytes[i] & 15];
  }
  text[32] = '\0';
}

int descent_run_id_is_zero(const descent_run_id *id) {
  unsigned char any = 0;
  for (int i = 0; i < 16; i++) any |= id->bytes[i];
  return any == 0;
}

int checkpoint_run_id_equal(const descent_run_id *a, const descent_run_id *b) {
  return memcmp(a->bytes, b->bytes, sizeof a->bytes) == 0;
}

int descent_run_id_save(const char *dir, const descent_run_id *id) {
  descent_error_clear();
  if (!dir || !id) return descent_fail(DESCENT_EINVAL, "descent_run_id_save: a NULL argument");
  char path[4096], text[34];
  if (snprintf(path, sizeof path, "%s/run-id", dir) >= (int)sizeof path)
    return descent_fail(DESCENT_EINVAL, "path too long: '%s'", dir);
  descent_run_id_format(id, text);
  text[32] = '\n';
  return descent_write_file_atomic(path, text, 33);
}

int descent_run_id_load(const char *dir, descent_run_id *id) {
  descent_error_clear();
  if (!dir || !id) return descent_fail(DESCENT_EINVAL, "descent_run_id_load: a NULL argument");
  memset(id, 0, sizeof *id);
  char path[4096], text[64];
  if (snprintf(path, sizeof path, "%s/run-id", dir) >= (int)sizeof path)
    return descent_fail(DESCENT_EINVAL, "path too long: '%s'", dir);
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT) return 1;
    return descent_fail(DESCENT_EIO, "cannot open '%s': %s", path, strerror(errno));
  }
  size_t n = fread(text, 1, sizeof text, f);
  int failed = ferror(f);
  fclose(f);
  if (failed) return descent_fail(DESCENT_EIO, "cannot read '%s'", path);
  int ok = n == 33 && text[32] == '\n';
  for (int i = 0; ok && i < 32; i++) {
    char c = text[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0)
      ok = 0;
    else
      id->bytes[i / 2] = (unsigned char)(id->bytes[i / 2] << 4 | v);
  }
  if (!ok || descent_run_id_is_zero(id)) {
    memset(id, 0, sizeof *id);
    return descent_fail(DESCENT_EFORMAT, "%s: not a run id (32 hex digits and a newline)", path);
  }
  return DESCENT_OK;
}
