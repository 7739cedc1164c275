/*
 * spec.h - the small text syntax shared by model specs, optimizer chains and
 * schedules: `name(arg, key=value, ...)` items separated by commas, spaces or
 * '|', arguments that may nest (`lr=cosine(1e-3, warmup=500)`).
 */
#ifndef DESCENT_SPEC_H
#define DESCENT_SPEC_H

#include "internal.h"

#define SPEC_MAX_ARGS  12
#define SPEC_MAX_ITEMS 64

typedef struct spec_arg {
  char key[32];    /* empty for a positional argument */
  char value[160]; /* the text of the value, trimmed; may itself be a call */
} spec_arg;

typedef struct spec_call {
  char name[32];
  int n_args;
  spec_arg args[SPEC_MAX_ARGS];
} spec_call;

typedef struct spec_span {
  const char *start;
  size_t len;
} spec_span;

/* The user's text as a message quotes it: between single quotes, control
 * characters escaped (\n, \t, \x01), and at most SPEC_QUOTE_CHARS characters
 * of it, around position `at`, with "..." where it was cut and its full length
 * after the closing quote. A message thus stays one line and short enough
 * that the reason, written before the quote, is never cut off. */
#define SPEC_QUOTE_CHARS 100
typedef struct spec_quote {
  char text[SPEC_QUOTE_CHARS * 4 + 64];
} spec_quote;
const char *spec_quote_span(spec_quote *q, const char *s, size_t len, size_t at);
const char *spec_quote_text(spec_quote *q, const char *s);

/* Refuses text holding a control character (a newline, a tab, an escape):
 * specs are saved as they were given, one KEY=VALUE line each, in every
 * checkpoint. spec_split checks it; a caller that parses without splitting
 * calls it first. */
int spec_check_text(const char *text, const char *what);

/* Splits text at top-level (not inside parentheses) occurrences of any char in
 * seps; empty items are dropped when seps contains whitespace, refused
 * otherwise. `what` names the text in messages ("model spec"). */
int spec_split(const char *text, const char *seps, spec_span *items, int max_items, int *count,
               const char *what);

/* Parses `name` or `name(args)` from a span. */
int spec_parse_call(spec_span span, spec_call *call, const char *what);

/* Kinds of parameter a call may take. */
typedef enum spec_kind { SPEC_NUMBER, SPEC_INTEGER, SPEC_BOOL, SPEC_TEXT } spec_kind;

/* One parameter of a named thing: its default and valid range. The range is
 * [min, max] with either end made open by min_open / max_open. */
typedef struct spec_param {
  const char *name;
  spec_kind kind;
  double def; /* default (numbers, integers, bools) */
  double min, max;
  int min_open, max_open;
  int required; /* 1: no default, must be given */
  const char *doc;
} spec_param;

/* Binds the call's arguments to params (positional in order, then by key):
 * fills values[] (defaults for the missing ones) and, for SPEC_TEXT params,
 * texts[] (NULL when absent). Refuses unknown keys (naming the valid ones),
 * duplicates, values that are not numbers, and values out of range (naming the
 * range). */
int spec_bind(const spec_call *call, const spec_param *params, int n_params, double *values,
              const char **texts, const char *what);

/* The value of one argument of call `name` for parameter p (a number, an
 * integer or a bool) from its text, refused as spec_bind refuses it. */
int spec_parse_value(const spec_param *p, const char *text, double *value, const char *what,
                     const char *name);

/* "[0, 1)" style text of a parameter's range, for messages and help. */
void spec_range_text(const spec_param *p, char *buf, size_t cap);

#endif /* DESCENT_SPEC_H */
