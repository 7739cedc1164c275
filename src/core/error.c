/*
 * error.c - status codes and the per-thread message behind descent_last_error.
 *
 * The library never prints: a failing function records one line here and
 * returns a negative status; the caller (the CLI, a test, a user's program)
 * decides what to do with it. The message is thread-local so that concurrent
 * callers do not overwrite each other's diagnosis.
 */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

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

int descent_fail(int status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return status;
}

void descent_error_prefix(const char *fmt, ...) {
  char prefix[512], old[sizeof last_error];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(old, last_error, sizeof old);
  snprintf(last_error, sizeof last_error, "%s%s", prefix, old);
}
