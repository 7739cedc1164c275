/*
 * child.h - what every trial process that a sweep or a bench starts does
 * first, between fork and exec.
 */
#ifndef DESCENT_CLI_CHILD_H
#define DESCENT_CLI_CHILD_H

#include <sys/types.h>

/* Makes the calling child die with its parent (SIGKILL when the parent
   ends, PR_SET_PDEATHSIG), so a killed sweep or bench leaves no trial
   running on, holding its run's lock. `parent` is the parent's pid taken
   before fork: a parent already gone ends the child at once (exit 127). */
void child_dies_with_parent(pid_t parent);

#endif
