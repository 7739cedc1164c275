/*
 * options.c - long options for the descent program.
 *
 * Every subcommand declares a table of options; this file parses argv against
 * it and writes the help text from it, so an option cannot exist without being
 * documented. Anything unknown or malformed stops the program with a message.
 */
#include "options.h"

#include "core/spec.h"
#include "internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

cli_option *cli_find(cli_option *opts, int n_opts, const char *name) {
  for (int i = 0; i < n_opts; i++)
    if (strcmp(opts[i].name, name) == 0) return &opts[i];
  return NULL;
}

void cli_print_help(const cli_option *opts, int n_opts, const char *command, const char *summary) {
  printf("usage: descent %s [options]\n\n%s\n\noptions:\n", command, summary);
  for (int i = 0; i < n_opts; i++) {
    char left[64];
    snprintf(left, sizeof left, "--%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
             opts[i].metavar ? opts[i].metavar : "");
    printf("  %-26s %s", left, opts[i].help);
    if (opts[i].metavar && opts[i].value) printf(" (default: %s)", opts[i].value);
    printf("\n");
  }
  printf("  %-26s %s\n", "--help", "show this help");
}

static void list_options(const cli_option *opts, int n_opts) {
  for (int i = 0; i < n_opts; i++) fprintf(stderr, "%s--%s", i ? ", " : "", opts[i].name);
  fprintf(stderr, "\n");
}

int cli_parse(int argc, char **argv, int first, cli_option *opts, int n_opts, const char *command,
              const char *summary) {
  for (int i = first; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      cli_print_help(opts, n_opts, command, summary);
      return 1;
    }
    spec_quote q;
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
      fprintf(stderr,
              "descent %s: unexpected argument %s; options start with --, see "
              "'descent %s --help'\n",
              command, spec_quote_text(&q, arg), command);
      return -1;
    }
    char name[64];
    const char *eq = strchr(arg + 2, '=');
    size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    cli_option *o = NULL;
    if (len < sizeof name) {
      memcpy(name, arg + 2, len);
      name[len] = '\0';
      o = cli_find(opts, n_opts, name);
    }
    if (!o) {
      fprintf(stderr, "descent %s: unknown option %s; valid options: ", command,
              spec_quote_span(&q, arg, len + 2, 0));
      list_options(opts, n_opts);
      return -1;
    }
    if (o->given) {
      fprintf(stderr, "descent %s: option --%s given twice\n", command, name);
      return -1;
    }
    o->given = 1;
    if (!o->metavar) {
      if (eq) {
        fprintf(stderr, "descent %s: option --%s takes no value\n", command, name);
        return -1;
      }
      o->value = "1";
      continue;
    }
    if (eq) {
      o->value = eq + 1;
    } else if (i + 1 < argc) {
      o->value = argv[++i];
    } else {
      fprintf(stderr, "descent %s: option --%s needs a value (%s)\n", command, name, o->metavar);
      return -1;
    }
    if (o->value[0] == '\0') {
      fprintf(stderr, "descent %s: option --%s needs a non-empty value (%s)\n", command, name,
              o->metavar);
      return -1;
    }
  }
  return 0;
}

const char *cli_get(cli_option *opts, int n_opts, const char *name) {
  cli_option *o = cli_find(opts, n_opts, name);
  return o ? o->value : NULL;
}

int cli_flag(cli_option *opts, int n_opts, const char *name) {
  cli_option *o = cli_find(opts, n_opts, name);
  return o && o->given;
}

/* The option's value as a whole number: 0, or -1 after printing why it is not
   one, or 1 (printing nothing) when it is one too large for 64 bits. */
static int parse_u64(cli_option *opts, int n_opts, const char *name, uint64_t *out) {
  const char *v = cli_get(opts, n_opts, name);
  spec_quote q;
  /* Decimal digits only: strtoull alone would take " 7", "+7" and "-7" (as
     2^64 - 7). */
  size_t digits = v ? strspn(v, "0123456789") : 0;
  if (!v || digits == 0 || v[digits] != '\0') {
    fprintf(stderr, "descent: --%s: %s is not a non-negative whole number\n", name,
            spec_quote_text(&q, v ? v : ""));
    return -1;
  }
  errno = 0;
  unsigned long long x = strtoull(v, NULL, 10);
  if (errno == ERANGE) return 1;
  *out = x;
  return 0;
}

/* value: the number when it parsed, else (NULL) the text, which was too large. */
static void print_out_of_range(cli_option *opts, int n_opts, const char *name,
                               const uint64_t *value, uint64_t min, uint64_t max) {
  spec_quote q;
  char text[32];
  if (value) snprintf(text, sizeof text, "%llu", (unsigned long long)*value);
  fprintf(stderr, "descent: --%s: %s is out of range; valid values are %llu to %llu\n", name,
          value ? text : spec_quote_text(&q, cli_get(opts, n_opts, name)), (unsigned long long)min,
          (unsigned long long)max);
}

int cli_get_u64(cli_option *opts, int n_opts, const char *name, uint64_t *out) {
  int rc = parse_u64(opts, n_opts, name, out);
  if (rc > 0) print_out_of_range(opts, n_opts, name, NULL, 0, UINT64_MAX);
  return rc ? -1 : 0;
}

int cli_get_size(cli_option *opts, int n_opts, const char *name, size_t min, size_t max,
                 size_t *out) {
  uint64_t v = 0;
  int rc = parse_u64(opts, n_opts, name, &v);
  if (rc < 0) return -1;
  if (rc > 0 || v < min || v > max) {
    print_out_of_range(opts, n_opts, name, rc > 0 ? NULL : &v, min, max);
    return -1;
  }
  *out = (size_t)v;
  return 0;
}

int cli_config_value(const char *text, const char *key, char *buf, size_t cap) {
  size_t klen = strlen(key);
  for (const char *line = text; *line;) {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len > klen && strncmp(line, key, klen) == 0 && line[klen] == '=') {
      snprintf(buf, cap, "%.*s", (int)(len - klen - 1), line + klen + 1);
      return 1;
    }
    if (!end) break;
    line = end + 1;
  }
  return 0;
}

int cli_set_threads(int threads) {
  int n = descent_set_threads(threads);
  descent_threads_reserve(n);
  return n;
}

int cli_check_address_space(const char *command, int threads) {
  unsigned long long limit, used;
  if (!descent_address_space_limit(&limit)) return 0;
  if (descent_address_space_used(&used)) return 0; /* no /proc: nothing to measure against */
  unsigned long long left = limit > used ? limit - used : 0;
  unsigned long long need = descent_threads_room_needed(threads);
  if (left >= need) return 0;
  fprintf(stderr,
          "descent %s: the address-space limit (ulimit -v %llu) leaves %llu MiB once the data is "
          "loaded; %d thread%s about %llu MiB more; raise the limit%s\n",
          command, limit >> 10, left >> 20, threads, threads == 1 ? " needs" : "s need", need >> 20,
          threads > 1 ? " or pass --threads 1" : "");
  return -1;
}
