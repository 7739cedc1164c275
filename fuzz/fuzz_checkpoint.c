/*
 * fuzz_checkpoint.c - checkpoint files from arbitrary bytes: inspection must
 * refuse with a message or return a consistent description, never crash,
 * leak or read out of bounds.
 */
#include "descent.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[64];
  int fd = fuzz_memfile(data, size, path, sizeof path);
  descent_checkpoint_info info;
  int rc = descent_checkpoint_inspect(path, &info);
  if (rc == DESCENT_OK) {
    if (info.width != 4 && info.width != 8) abort();
    if (!info.spec || !info.config) abort();
    descent_checkpoint_info_free(&info);
  } else if (descent_last_error()[0] == '\0') {
    abort();
  }
  close(fd);
  return 0;
}
