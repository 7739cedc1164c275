/*
 * memory.c - checked allocation and number parsing shared by the library.
 *
 * Every size that reaches an allocator has been multiplied through
 * descent_mul_ok first, so a hostile header cannot wrap a size around.
 */
#include "internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void *descent_calloc(size_t count, size_t size, const char *what) {
  size_t bytes;
  if (!descent_mul_ok(count, size, &bytes)) {
    descent_fail(DESCENT_ERANGE, "%s: %zu x %zu bytes overflows the address space", what, count,
                 size);
    return NULL;
  }
  void *p = calloc(bytes ? bytes : 1, 1);
  if (!p) descent_fail(DESCENT_ENOMEM, "%s: cannot allocate %zu bytes", what, bytes);
  return p;
}

descent_real *descent_alloc_real(size_t count, const char *what) {
  size_t bytes;
  if (!descent_mul_ok(count, sizeof(descent_real), &bytes) || bytes > (size_t)-1 - 64) {
    descent_fail(DESCENT_ERANGE, "%s: %zu numbers overflow the address space", what, count);
    return NULL;
  }
  size_t rounded = (bytes + 63) / 64 * 64;
  void *p = aligned_alloc(64, rounded ? rounded : 64);
  if (!p) {
    descent_fail(DESCENT_ENOMEM, "%s: cannot allocate %zu bytes", what, bytes);
    return NULL;
  }
  memset(p, 0, rounded ? rounded : 64);
  return p;
}

void descent_free_real(descent_real *p) {
  free(p);
}

bool descent_parse_double(const char *text, double *out) {
  if (!text || !*text) return false;
  char *end;
  errno = 0;
  double v = strtod(text, &end);
  if (errno == ERANGE || *end != '\0' || !isfinite(v)) return false;
  *out = v;
  return true;
}

bool descent_parse_size(const char *text, size_t *out) {
  if (!text || *text < '0' || *text > '9') return false;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno == ERANGE || *end != '\0' || v > (unsigned long long)(size_t)-1) return false;
  *out = (size_t)v;
  return true;
}
