/*
 * version.c - the library's own version and its precision's ABI marker.
 *
 * descent_version() is compiled into the library, so a program can tell the
 * shared library it runs with from the header it was compiled against.
 *
 * descent.h makes every file that includes it refer to the marker of its
 * precision (descent_abi_float_precision_link_descent or
 * descent_abi_double_precision_link_descent64); only this file defines it, in
 * the library of that precision, so mixing the two fails at link time with a
 * name that says which library to link.
 */
#include "descent.h"

const char *descent_version(void) {
  return DESCENT_VERSION_STRING;
}

#ifdef DESCENT_DOUBLE
void descent_abi_double_precision_link_descent64(void) {}
#else
void descent_abi_float_precision_link_descent(void) {}
#endif
