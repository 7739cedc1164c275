/*
 * error.c - status codes and the per-thread message behind descent_last_error.
 *
 * The library never prints: a failing function records one line here and
 * returns a negative status; the caller (the CLI, a test, a user's program)
 * decides what to do with it. The message is thread-local so that concurrent
 * callers do not overwrite each other's diagnosis.
 *
 * A message is one line: whatever a caller formats into it, control characters
 * become '?' here (the parsers escape them properly before; this is the last
 * guard that keeps a message on one line). The buffer is large enough for the
 * longest message the parsers write (they echo at most a bounded excerpt of the
 * user's text); should one still not fit, it ends in "..." so the cut shows,
 * and context added in front (descent_error_prefix) is what gets cut, never
 * the reason behind it.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[DESCENT_ERROR_CAP];

const char *descent_strerror(int status) {
  switch (status) {
  case DESCENT_OK:
    return "success";
  case DESCENT_ENOMEM:
    return "out of memory";
  case DESCENT_EIO:
    return "input/output error";
  case DESCENT_EFORMAT:
    return "malformed file";
  case DESCENT_EINVAL:
    return "invalid argument";
  case DESCENT_ESHAPE:
    return "shape mismatch";
  case DESCENT_ERANGE:
    return "size out of range";
  case DESCENT_EDIVERGED:
    return "diverged";
  case DESCENT_ENOTSUP:
    return "not supported";
  case DESCENT_ESTOPPED:
    return "stopped on request";
  default:
    return "unknown status";
  }
}

const char *descent_last_error(void) {
  return last_error;
}

void descent_error_clear(void) {
  last_error[0] = '\0';
}

/* Marks a cut message and keeps it on one line. */
static void finish_message(int wanted) {
  size_t cap = sizeof last_error;
  if (wanted >= 0 && (size_t)wanted >= cap) memcpy(last_error + cap - 4, "...", 4);
  for (char *p = last_error; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
}

int descent_fail(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int wanted = vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  finish_message(wanted);
  return status;
}

int descent_set_error(int status, const char *fmt, ...) {
  if (status >= 0) status = DESCENT_EINVAL;
  if (!fmt) return descent_fail(status, "%s (no message given)", descent_strerror(status));
  va_list ap;
  va_start(ap, fmt);
  int wanted = vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  finish_message(wanted);
  return status;
}

void descent_error_prefix(const char *fmt, ...) {
  char prefix[512], old[sizeof last_error];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, last_error, sizeof old);
  /* The reason is in the old message: shorten the context, not it. */
  size_t room = sizeof last_error - 1, old_len = strlen(old), prefix_len = strlen(prefix);
  if (prefix_len + old_len > room) {
    size_t keep = old_len + 4 < room ? room - old_len - 4 : 0;
    /* An old message of the whole buffer loses its end: its reason comes
       first, so what is cut is the least useful part. */
    int written = snprintf(last_error, sizeof last_error, "%.*s... %s", (int)keep, prefix, old);
    (void)written;
  } else {
    memcpy(last_error, prefix, prefix_len);
    memcpy(last_error + prefix_len, old, old_len + 1);
  }
  finish_message(0);
}
