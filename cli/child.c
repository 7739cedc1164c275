/*
 * child.c - a trial process dies with the sweep or bench that started it
 * (child.h).
 */
#define _GNU_SOURCE
#include "child.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

void child_dies_with_parent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* The parent may have died between fork and prctl. */
  if (getppid() != parent) _exit(127);
}
