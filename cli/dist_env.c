/*
 * dist_env.c - how a process learns that an MPI launcher started it: the
 * variables launchers give their ranks. Shared by both builds: a build
 * without MPI must still notice that it was started as one rank of many
 * (and refuse, rather than train N copies of the same run side by side),
 * and a sweep must start its trials without these variables.
 */
#include "dist.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

/* Open MPI (OMPI_, its runtime's OPAL_ and PMIX_; PRTE_ from version 5),
   MPICH's Hydra and Slurm's srun --mpi (PMI_, PMIX_, HYDRA_, HYDI_,
   MPI_LOCAL*), MVAPICH (MV2_), Intel MPI (I_MPI_). */
static const char *const launcher_prefixes[] = {
    "OMPI_", "OPAL_",           "PMIX_",           "PMI_",  "PRTE_", "HYDRA_", "HYDI_",
    "MV2_",  "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "I_MPI_"};

int dist_launcher_variable(const char *entry) {
  for (size_t i = 0; i < sizeof launcher_prefixes / sizeof *launcher_prefixes; i++)
    if (strncmp(entry, launcher_prefixes[i], strlen(launcher_prefixes[i])) == 0) return 1;
  return 0;
}

/* A rank's identity is what a launcher always sets (the other variables may
   linger in a shell that ran one). */
int dist_launched(void) {
  static const char *const rank_variables[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
                                               "MV2_COMM_WORLD_RANK"};
  for (size_t i = 0; i < sizeof rank_variables / sizeof *rank_variables; i++)
    if (getenv(rank_variables[i])) return 1;
  return 0;
}

static int outcome_agreed;

void dist_set_outcome_agreed(void) {
  outcome_agreed = 1;
}
int dist_outcome_agreed(void) {
  return outcome_agreed;
}

/* Errors every rank meets alike (a bad option) are said once, by rank 0:
   the others' stderr goes to /dev/null in between. */
int dist_quiet_followers(void) {
  if (dist_rank() == 0) return -1;
  fflush(stderr);
  int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
  if (saved < 0 || null < 0 || dup2(null, STDERR_FILENO) < 0) {
    if (saved >= 0) close(saved);
    if (null >= 0) close(null);
    return -1;
  }
  close(null);
  return saved;
}

void dist_speak_again(int saved) {
  if (saved < 0) return;
  fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
}
