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

int child_is_launcher_variable(const char *entry) {
  static const char *const prefixes[] = {"OMPI_",  "PMIX_", "PRTE_", "PMI_",
                                         "HYDRA_", "HYDI_", "I_MPI_"};
  static const char *const names[] = {"MPI_LOCALRANKID", "MPI_LOCALNRANKS"};
  size_t len = strcspn(entry, "=");
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
    if (strncmp(entry, prefixes[i], strlen(prefixes[i])) == 0) return 1;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (len == strlen(names[i]) && strncmp(entry, names[i], len) == 0) return 1;
  return 0;
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
    if (!child_is_launcher_variable(environ[i])) env[kept++] = environ[i];
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
