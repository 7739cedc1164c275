/*
 * fuzz_options.c - the command line parser on arbitrary argument vectors
 * (NUL-separated in the input), against the option table of a subcommand.
 */
#include "fuzz_util.h"
#include "options.h"

#include <fcntl.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_text(data, size);
  char *argv[64];
  int argc = 0;
  argv[argc++] = "train";
  for (size_t i = 0; i < size && argc < 63;) {
    argv[argc++] = text + i;
    i += strlen(text + i) + 1;
  }
  argv[argc] = NULL;
  cli_option opts[] = {
      {"lr", "RATE", "learning rate", NULL, 0}, {"epochs", "N", "epochs", "10", 0},
      {"quiet", NULL, "no progress", NULL, 0},  {"seed", "N", "seed", "1", 0},
      {"model", "SPEC", "model", "mlp:4-2", 0},
  };
  int n = sizeof opts / sizeof opts[0];
  /* The parser prints its diagnosis; keep the fuzzer's output readable. */
  int saved_out = dup(1), saved_err = dup(2), null = open("/dev/null", O_WRONLY);
  dup2(null, 1), dup2(null, 2);
  int rc = cli_parse(argc, argv, 1, opts, n, "train", "fuzz");
  if (rc == 0) {
    size_t epochs;
    uint64_t seed;
    cli_get_size(opts, n, "epochs", 1, 1000, &epochs);
    cli_get_u64(opts, n, "seed", &seed);
    cli_flag(opts, n, "quiet");
  }
  fflush(stdout), fflush(stderr);
  dup2(saved_out, 1), dup2(saved_err, 2);
  close(saved_out), close(saved_err), close(null);
  free(text);
  return 0;
}
