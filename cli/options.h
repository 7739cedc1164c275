/*
 * options.h - the command line parser shared by every subcommand.
 */
#ifndef DESCENT_CLI_OPTIONS_H
#define DESCENT_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cli_option {
  const char *name;    /* long name without dashes, e.g. "lr" */
  const char *metavar; /* "RATE"; NULL for a flag that takes no value */
  const char *help;    /* one line */
  const char *value;   /* the default (may be NULL); replaced by what was given */
  int given;           /* 1 if it appeared on the command line */
} cli_option;

/* Parses argv[first..argc) as --name VALUE, --name=VALUE or --flag. Prints one
 * message naming the problem (and the valid options for an unknown one) and
 * returns -1 on error; returns 1 if --help was asked (after printing help). */
int cli_parse(int argc, char **argv, int first, cli_option *opts, int n_opts, const char *command,
              const char *summary);
void cli_print_help(const cli_option *opts, int n_opts, const char *command, const char *summary);

cli_option *cli_find(cli_option *opts, int n_opts, const char *name);

/* Conversions that print "--NAME: ..." and return -1 when the value is bad. */
int cli_get_size(cli_option *opts, int n_opts, const char *name, size_t min, size_t max,
                 size_t *out);
int cli_get_u64(cli_option *opts, int n_opts, const char *name, uint64_t *out);
const char *cli_get(cli_option *opts, int n_opts, const char *name);
int cli_flag(cli_option *opts, int n_opts, const char *name);

/* The value of key in a configuration text as descent train writes it
 * (config.txt, a checkpoint's CONF section: one key=value per line): 1 and
 * the value in buf, or 0 if the key is absent. */
int cli_config_value(const char *text, const char *key, char *buf, size_t cap);

/* descent_set_threads(threads), and under an address-space limit (ulimit
 * -v) OpenBLAS's buffers for that many threads mapped at once
 * (descent_blas_buffers_take), before the data can take their room.
 * Returns the count set. */
int cli_set_threads(int threads);

/* Under an address-space limit (ulimit -v), checks that what is left after
 * the data was loaded holds what `threads` threads still map on their first
 * product (OpenBLAS's buffer, the C library's per-thread heap, a stack):
 * where it does not, OpenBLAS would retry its allocation forever. Returns 0,
 * or -1 after printing one line naming the limit and the fix. */
int cli_check_address_space(const char *command, int threads);

#endif /* DESCENT_CLI_OPTIONS_H */
