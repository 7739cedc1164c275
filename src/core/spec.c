/*
 * spec.c - parsing of the `name(arg, key=value)` syntax (see spec.h).
 *
 * All of descent's text configuration goes through here so that a model, an
 * optimizer chain and a schedule are written, and refused, the same way.
 */
#include "spec.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static spec_span trim(const char *s, size_t len) {
  while (len && isspace((unsigned char)*s)) s++, len--;
  while (len && isspace((unsigned char)s[len - 1])) len--;
  return (spec_span){s, len};
}

/* A byte that continues a UTF-8 character: an excerpt does not start or end
   inside a character. */
static int utf8_continuation(char c) {
  return ((unsigned char)c & 0xc0) == 0x80;
}

const char *spec_quote_span(spec_quote *q, const char *s, size_t len, size_t at) {
  size_t start = 0, end = len;
  if (len > SPEC_QUOTE_CHARS) {
    /* Most of the window before `at`: what led to the problem. */
    start = at > SPEC_QUOTE_CHARS * 3 / 4 ? at - SPEC_QUOTE_CHARS * 3 / 4 : 0;
    if (start > len - SPEC_QUOTE_CHARS) start = len - SPEC_QUOTE_CHARS;
    end = start + SPEC_QUOTE_CHARS;
    while (start > 0 && utf8_continuation(s[start])) start--;
    while (end < len && utf8_continuation(s[end])) end++;
  }
  char *out = q->text;
  *out++ = '\'';
  if (start > 0) out += sprintf(out, "...");
  for (size_t i = start; i < end; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\n')
      out += sprintf(out, "\\n");
    else if (c == '\t')
      out += sprintf(out, "\\t");
    else if (c < 0x20 || c == 0x7f)
      out += sprintf(out, "\\x%02x", c);
    else
      *out++ = (char)c;
  }
  if (end < len) out += sprintf(out, "...");
  *out++ = '\'';
  *out = '\0';
  if (start > 0 || end < len) sprintf(out, " (%zu characters)", len);
  return q->text;
}

const char *spec_quote_text(spec_quote *q, const char *s) {
  return spec_quote_span(q, s, strlen(s), 0);
}

int spec_check_text(const char *text, const char *what) {
  size_t len = strlen(text);
  spec_quote q;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c < 0x20 || c == 0x7f)
      return descent_fail(DESCENT_EINVAL,
                          "%s: control character at character %zu of %s; write it on one line, "
                          "with spaces",
                          what, i + 1, spec_quote_span(&q, text, len, i));
  }
  return DESCENT_OK;
}

int spec_split(const char *text, const char *seps, spec_span *items, int max_items, int *count,
               const char *what) {
  int depth = 0, n = 0;
  int drop_empty = strchr(seps, ' ') != NULL;
  /* With blanks among the separators, runs of blanks are one separator, but
     a comma still needs an item on each side: "dense(10)," and ", relu" are
     refused like "a,,b". */
  int items_since_mark = 0, marks = 0;
  const char *start = text;
  size_t len = strlen(text);
  spec_quote q;
  int rc = spec_check_text(text, what);
  if (rc) return rc;
  for (const char *p = text;; p++) {
    int at_end = *p == '\0';
    size_t at = (size_t)(p - text);
    if (!at_end && *p == '(') depth++;
    if (!at_end && *p == ')' && --depth < 0)
      return descent_fail(DESCENT_EINVAL, "%s: unbalanced ')' at character %zu of %s", what, at + 1,
                          spec_quote_span(&q, text, len, at));
    int is_sep = !at_end && depth == 0 && strchr(seps, *p) != NULL;
    if (is_sep && isspace((unsigned char)*p)) {
      /* "dense (10)" is one item: a space before '(' does not separate */
      const char *r = p;
      while (isspace((unsigned char)*r)) r++;
      if (*r == '(') is_sep = 0;
    }
    if (at_end || is_sep) {
      spec_span item = trim(start, (size_t)(p - start));
      if (item.len == 0) {
        if (!drop_empty && !(at_end && n == 0 && p == text))
          return descent_fail(DESCENT_EINVAL, "%s: empty item at character %zu of %s", what, at + 1,
                              spec_quote_span(&q, text, len, at));
      } else {
        if (n == max_items)
          return descent_fail(DESCENT_ERANGE, "%s: more than %d items in %s", what, max_items,
                              spec_quote_span(&q, text, len, at));
        items[n++] = item;
        items_since_mark++;
      }
      int mark = !at_end && !isspace((unsigned char)*p);
      if (drop_empty && items_since_mark == 0 && (mark || (at_end && marks > 0)))
        return descent_fail(DESCENT_EINVAL, "%s: empty item at character %zu of %s", what, at + 1,
                            spec_quote_span(&q, text, len, at));
      if (mark) items_since_mark = 0, marks++;
      if (at_end) break;
      start = p + 1;
    }
  }
  if (depth != 0)
    return descent_fail(DESCENT_EINVAL, "%s: missing ')' at the end of %s", what,
                        spec_quote_span(&q, text, len, len));
  *count = n;
  return DESCENT_OK;
}

static int copy_text(char *dst, size_t cap, spec_span s, const char *what, const char *field) {
  if (s.len >= cap) {
    spec_quote q;
    return descent_fail(DESCENT_ERANGE, "%s: %s longer than the limit of %zu characters: %s", what,
                        field, cap - 1, spec_quote_span(&q, s.start, s.len, 0));
  }
  memcpy(dst, s.start, s.len);
  dst[s.len] = '\0';
  return DESCENT_OK;
}

int spec_parse_call(spec_span span, spec_call *call, const char *what) {
  memset(call, 0, sizeof *call);
  span = trim(span.start, span.len);
  const char *open = memchr(span.start, '(', span.len);
  spec_span name = trim(span.start, open ? (size_t)(open - span.start) : span.len);
  spec_quote q;
  if (name.len == 0)
    return descent_fail(DESCENT_EINVAL, "%s: missing name before '(' in %s", what,
                        spec_quote_span(&q, span.start, span.len, 0));
  for (size_t i = 0; i < name.len; i++) {
    char c = name.start[i];
    if (!isalnum((unsigned char)c) && c != '_' && c != '-' && c != '.' && c != ':' && c != '/')
      return descent_fail(DESCENT_EINVAL, "%s: %s is not a valid name (letters, digits and _-.:/)",
                          what, spec_quote_span(&q, name.start, name.len, i));
  }
  int rc = copy_text(call->name, sizeof call->name, name, what, "name");
  if (rc) return rc;
  if (!open) return DESCENT_OK;
  if (span.start[span.len - 1] != ')')
    return descent_fail(DESCENT_EINVAL, "%s: text after ')' in %s", what,
                        spec_quote_span(&q, span.start, span.len, span.len));
  /* The inside of the parentheses, split at top-level commas. */
  char inner[512];
  spec_span in = {open + 1, (size_t)(span.start + span.len - 1 - (open + 1))};
  rc = copy_text(inner, sizeof inner, in, what, "argument list");
  if (rc) return rc;
  spec_span args[SPEC_MAX_ARGS];
  int n = 0;
  if (trim(inner, strlen(inner)).len > 0) {
    rc = spec_split(inner, ",", args, SPEC_MAX_ARGS, &n, what);
    if (rc) return rc;
  }
  for (int i = 0; i < n; i++) {
    spec_arg *a = &call->args[i];
    const char *eq = NULL;
    int depth = 0;
    for (size_t j = 0; j < args[i].len; j++) {
      char c = args[i].start[j];
      if (c == '(') depth++;
      if (c == ')') depth--;
      if (c == '=' && depth == 0) {
        eq = args[i].start + j;
        break;
      }
    }
    spec_span value = args[i];
    if (eq) {
      spec_span key = trim(args[i].start, (size_t)(eq - args[i].start));
      if (key.len == 0)
        return descent_fail(DESCENT_EINVAL, "%s: missing name before '=' in %s(...)", what,
                            call->name);
      rc = copy_text(a->key, sizeof a->key, key, what, "key");
      if (rc) return rc;
      value = trim(eq + 1, (size_t)(args[i].start + args[i].len - eq - 1));
    }
    if (value.len == 0)
      return descent_fail(DESCENT_EINVAL, "%s: missing value for %s in %s(...)", what,
                          eq ? spec_quote_text(&q, a->key) : "an argument", call->name);
    rc = copy_text(a->value, sizeof a->value, value, what, "value");
    if (rc) return rc;
  }
  call->n_args = n;
  return DESCENT_OK;
}

void spec_range_text(const spec_param *p, char *buf, size_t cap) {
  char lo[32], hi[32];
  if (isinf(p->min))
    snprintf(lo, sizeof lo, "-inf");
  else
    snprintf(lo, sizeof lo, "%g", p->min);
  if (isinf(p->max))
    snprintf(hi, sizeof hi, "inf");
  else
    snprintf(hi, sizeof hi, "%g", p->max);
  if (p->kind == SPEC_BOOL)
    snprintf(buf, cap, "0 or 1");
  else
    snprintf(buf, cap, "%c%s, %s%c", p->min_open || isinf(p->min) ? '(' : '[', lo, hi,
             p->max_open || isinf(p->max) ? ')' : ']');
}

static void valid_keys(const spec_param *params, int n_params, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < n_params && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", params[i].name);
}

int spec_parse_value(const spec_param *p, const char *text, double *value, const char *what,
                     const char *name) {
  double v;
  spec_quote q;
  int rc = descent_parse_number(text, &v);
  if (rc == DESCENT_ERANGE)
    return descent_fail(DESCENT_EINVAL,
                        "%s: %s(%s=...): out of range: %s does not fit in a double, which holds "
                        "%s",
                        what, name, p->name, spec_quote_text(&q, text), DESCENT_NUMBER_RANGE);
  if (rc)
    return descent_fail(DESCENT_EINVAL,
                        "%s: %s(%s=...): %s is not a number (write decimal numbers, as in 0.001 "
                        "or 1e-3)",
                        what, name, p->name, spec_quote_text(&q, text));
  if ((p->kind == SPEC_INTEGER || p->kind == SPEC_BOOL) && v != floor(v))
    return descent_fail(DESCENT_EINVAL, "%s: %s(%s=%s): must be a whole number", what, name,
                        p->name, text);
  int below = p->min_open ? v <= p->min : v < p->min;
  int above = p->max_open ? v >= p->max : v > p->max;
  if (p->kind == SPEC_BOOL) below = above = !(v == 0 || v == 1);
  if (below || above) {
    char range[64];
    spec_range_text(p, range, sizeof range);
    return descent_fail(DESCENT_EINVAL, "%s: %s(%s=%s): out of range; valid values are %s", what,
                        name, p->name, text, range);
  }
  *value = v;
  return DESCENT_OK;
}

int spec_bind(const spec_call *call, const spec_param *params, int n_params, double *values,
              const char **texts, const char *what) {
  int given[SPEC_MAX_ARGS * 2] = {0};
  for (int i = 0; i < n_params; i++) {
    values[i] = params[i].def;
    if (texts) texts[i] = NULL;
  }
  int positional = 0;
  spec_quote q;
  for (int a = 0; a < call->n_args; a++) {
    const spec_arg *arg = &call->args[a];
    int index = -1;
    if (arg->key[0] == '\0') {
      if (a > 0 && call->args[a - 1].key[0] != '\0')
        return descent_fail(DESCENT_EINVAL, "%s: %s(...): positional argument %s after a named one",
                            what, call->name, spec_quote_text(&q, arg->value));
      index = positional++;
      if (index >= n_params)
        return descent_fail(DESCENT_EINVAL, "%s: %s takes at most %d argument%s, got %s", what,
                            call->name, n_params, n_params == 1 ? "" : "s",
                            spec_quote_text(&q, arg->value));
    } else {
      for (int i = 0; i < n_params; i++)
        if (strcmp(params[i].name, arg->key) == 0) index = i;
      if (index < 0) {
        char keys[256];
        valid_keys(params, n_params, keys, sizeof keys);
        return descent_fail(DESCENT_EINVAL, "%s: %s has no parameter %s; valid parameters: %s",
                            what, call->name, spec_quote_text(&q, arg->key),
                            n_params ? keys : "(none)");
      }
    }
    if (given[index])
      return descent_fail(DESCENT_EINVAL, "%s: %s(...): '%s' given twice", what, call->name,
                          params[index].name);
    given[index] = 1;
    if (params[index].kind == SPEC_TEXT) {
      if (texts) texts[index] = arg->value;
    } else {
      int rc = spec_parse_value(&params[index], arg->value, &values[index], what, call->name);
      if (rc) return rc;
    }
  }
  for (int i = 0; i < n_params; i++)
    if (params[i].required && !given[i])
      return descent_fail(DESCENT_EINVAL, "%s: %s needs a value for '%s'", what, call->name,
                          params[i].name);
  return DESCENT_OK;
}
