/*
 * options.c - long options for the descent program.
 *
 * Every subcommand declares a table of options; this file parses argv against
 * it and writes the help text from it, so an option cannot exist without being
 * documented. Anything unknown or malformed stops the program with a message.
 */
#include "options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
      fprintf(stderr,
              "descent %s: unexpected argument '%s'; options start with --, see "
              "'descent %s --help'\n",
              command, arg, command);
      return -1;
    }
    char name[64];
    const char *eq = strchr(arg + 2, '=');
    size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    if (len >= sizeof name) len = sizeof name - 1;
    memcpy(name, arg + 2, len);
    name[len] = '\0';
    cli_option *o = cli_find(opts, n_opts, name);
    if (!o) {
      fprintf(stderr, "descent %s: unknown option '--%s'; valid options: ", command, name);
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

int cli_get_u64(cli_option *opts, int n_opts, const char *name, uint64_t *out) {
  const char *v = cli_get(opts, n_opts, name);
  char *end;
  errno = 0;
  unsigned long long x = v && *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
  if (!v || *v < '0' || *v > '9' || errno == ERANGE || *end != '\0') {
    fprintf(stderr, "descent: --%s: '%s' is not a non-negative whole number\n", name, v ? v : "");
    return -1;
  }
  *out = x;
  return 0;
}

int cli_get_size(cli_option *opts, int n_opts, const char *name, size_t min, size_t max,
                 size_t *out) {
  uint64_t v;
  if (cli_get_u64(opts, n_opts, name, &v)) return -1;
  if (v < min || v > max) {
    fprintf(stderr, "descent: --%s: %llu is out of range; valid values are %zu to %zu\n", name,
            (unsigned long long)v, min, max);
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
