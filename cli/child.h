/*
 * child.h - the trial processes a sweep or a bench starts: what each does
 * between fork and exec, and how its end is read.
 */
#ifndef DESCENT_CLI_CHILD_H
#define DESCENT_CLI_CHILD_H

#include <sys/types.h>

/* Makes the calling child die with its parent (SIGKILL when the parent
   ends, PR_SET_PDEATHSIG), so a killed sweep or bench leaves no trial
   running on, holding its run's lock. `parent` is the parent's pid taken
   before fork: a parent already gone ends the child at once (exit 127). */
void child_dies_with_parent(pid_t parent);

/* 1 when a `descent train` trial's log (its stdout and stderr) holds the
   guard's verdict "descent train: diverged": the run stopped, with exit
   status 1, because its loss or gradient ran away. 0 otherwise, or when the
   log cannot be read. */
int child_log_says_diverged(const char *log_path);

#endif
