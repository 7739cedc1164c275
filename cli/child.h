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

/* In a child between fork and exec: closes every descriptor above 2 (an MPI
   library's sockets and shared memory, which the trial must not hold on
   to). Does nothing on a kernel without close_range (Linux < 5.9). */
void child_close_inherited(void);

/* 1 when a `descent train` trial's log (its stdout and stderr) holds the
   guard's verdict "descent train: diverged": the run stopped, with exit
   status 1, because its loss or gradient ran away. 0 otherwise, or when the
   log cannot be read. */
int child_log_says_diverged(const char *log_path);

/* The environment a trial child runs with: this process's environment less
   the variables by which an MPI launcher tells a process it is a rank of a
   job (dist_launcher_variable, cli/dist.h: OMPI_*, PMIX_*, PMI_*, ...), so
   that a `descent train` started by a sweep that runs under mpirun is a
   plain single process and not a rank of the sweep's job. Built on the first
   call, before any fork (the child may not allocate); NULL when out of
   memory. The array lives until the process ends. */
char **child_environment(void);

#endif
