/*
 * child.c - the trial processes of a sweep or a bench (child.h).
 */
#define _GNU_SOURCE
#include "child.h"
#include "dist.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

void child_dies_with_parent(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* The parent may have died between fork and prctl. */
  if (getppid() != parent) _exit(127);
}

void child_close_inherited(void) {
#ifdef SYS_close_range
  syscall(SYS_close_range, 3u, ~0u, 0u);
#endif
}

char **child_environment(void) {
  static char **env;
  if (env) return env;
  size_t n = 0, kept = 0;
  while (environ[n]) n++;
  env = calloc(n + 1, sizeof *env);
  if (!env) return NULL;
  /* The entries themselves are shared with environ, which this program
     never changes after the start. */
  for (size_t i = 0; i < n; i++)
    if (!dist_launcher_variable(environ[i])) env[kept++] = environ[i];
  env[kept] = NULL;
  return env;
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
