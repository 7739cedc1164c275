/*
 * child.c - the trial processes of a sweep or a bench (child.h).
 */
#define _GNU_SOURCE
#include "child.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

void child_dies_with_parent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* The parent may have died between fork and prctl. */
  if (getppid() != parent) _exit(127);
}

int child_log_says_diverged(const char *log_path) {
  char line[2048];
  FILE *f = fopen(log_path, "r");
  int found = 0;
  while (f && fgets(line, sizeof line, f))
    if (strstr(line, "descent train: diverged")) found = 1;
  if (f) fclose(f);
  return found;
}
