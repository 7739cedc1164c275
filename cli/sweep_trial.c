/*
 * sweep_trial.c - the trials of a sweep as child processes: each is
 * `descent train` (this program, /proc/self/exe) on its own run folder, its
 * output in SWEEP/logs/trial-NNNN.log, up to --jobs at once. Every launch and
 * every outcome is appended to SWEEP/events.log, the sweep's record that
 * --resume reads: a finished trial is never run again, an unfinished one
 * continues from its newest checkpoint (descent train --resume), and one that
 * saved nothing yet starts again in an emptied folder.
 */
#define _GNU_SOURCE
#include "descent.h"
#include "child.h"
#include "sweep.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int sweep_event(const char *dir, const char *fmt, ...) {
  char path[4096], line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return -1;
  if ((size_t)n > sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  snprintf(path, sizeof path, "%s/events.log", dir);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  /* One write per line: a kill leaves whole lines (a cut one is ignored). */
  int ok = fd >= 0 && write(fd, line, (size_t)n) == n && fsync(fd) == 0;
  if (fd >= 0) close(fd);
  if (!ok) fprintf(stderr, "descent sweep: writing %s failed: %s\n", path, strerror(errno));
  return ok ? 0 : -1;
}

int sweep_events_read(const char *dir, trial_state *states, size_t n) {
  char path[4096], *line = NULL;
  size_t cap = 0, t, e;
  ssize_t len;
  snprintf(path, sizeof path, "%s/events.log", dir);
  FILE *f = fopen(path, "r");
  if (!f) return errno == ENOENT ? 0 : -1;
  while ((len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] != '\n') break; /* cut short by a kill */
    if (sscanf(line, "done trial-%zu epochs %zu", &t, &e) == 2 && t >= 1 && t <= n) {
      states[t - 1].status = TRIAL_DONE;
      states[t - 1].reached = e;
    } else if (sscanf(line, "diverged trial-%zu", &t) == 1 && t >= 1 && t <= n) {
      states[t - 1].status = TRIAL_DIVERGED;
    } else if (sscanf(line, "failed trial-%zu", &t) == 1 && t >= 1 && t <= n) {
      states[t - 1].status = TRIAL_FAILED;
    } else if (sscanf(line, "start trial-%zu", &t) == 1 && t >= 1 && t <= n) {
      states[t - 1].launched = 1;
    }
  }
  free(line);
  fclose(f);
  return 0;
}

/* Waits until no process holds the trial's run lock: a child of a killed
   sweep dies with it (PR_SET_PDEATHSIG), but not at once. */
static void wait_for_lock(const char *trial_dir) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/.lock", trial_dir) >= (int)sizeof path) return;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return;
  if (flock(fd, LOCK_EX) == 0) flock(fd, LOCK_UN);
  close(fd);
}

/* Removes the regular files of a trial folder that saved no checkpoint (a
   run killed while starting), so that descent train may start in it. */
static int empty_trial(const char *trial_dir) {
  DIR *d = opendir(trial_dir);
  if (!d) return errno == ENOENT ? 0 : -1;
  struct dirent *e;
  char path[4096];
  int rc = 0;
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
    if (snprintf(path, sizeof path, "%s/%s", trial_dir, e->d_name) >= (int)sizeof path ||
        unlink(path) != 0)
      rc = -1;
  }
  closedir(d);
  return rc;
}

typedef struct {
  pid_t pid;
  size_t trial;
  struct timespec started;
} running;

static double since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

/* Starts trial t: fork, then exec of this program as descent train, its
   output to logs/trial-NNNN.log. Returns the child's pid or -1. */
static pid_t launch(const sweep_plan *plan, const char *dir, size_t t, size_t epochs,
                    trial_state *state) {
  char trial_dir[4096], ckpt[4096], skipped[512], log_path[4096];
  snprintf(trial_dir, sizeof trial_dir, "%s/trial-%04zu", dir, t + 1);
  snprintf(log_path, sizeof log_path, "%s/logs/trial-%04zu.log", dir, t + 1);
  wait_for_lock(trial_dir);
  struct stat st;
  int exists = stat(trial_dir, &st) == 0;
  int resume = exists && descent_checkpoint_find(trial_dir, ckpt, sizeof ckpt, skipped,
                                                 sizeof skipped) == DESCENT_OK;
  int rc;
  if (resume) {
    const char *base = strrchr(ckpt, '/');
    rc = sweep_event(dir, "resume trial-%04zu from %s to epoch %zu", t + 1, base ? base + 1 : ckpt,
                     epochs);
  } else if (exists || state->launched) {
    if (exists && empty_trial(trial_dir)) {
      fprintf(stderr, "descent sweep: cannot empty %s (it saved no checkpoint): %s\n", trial_dir,
              strerror(errno));
      return -1;
    }
    rc = sweep_event(dir, "restart trial-%04zu (no checkpoint saved)", t + 1);
  } else {
    rc = sweep_event(dir, "start trial-%04zu", t + 1);
    state->launched = 1;
  }
  char **args = rc ? NULL : sweep_train_args(plan, t, trial_dir, epochs, resume);
  if (!args) return -1;
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    child_dies_with_parent(parent);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0) dup2(in, 0);
    execv("/proc/self/exe", args);
    fprintf(stderr, "descent sweep: cannot run /proc/self/exe: %s\n", strerror(errno));
    _exit(127);
  }
  sweep_args_free(args);
  if (pid < 0) fprintf(stderr, "descent sweep: fork failed: %s\n", strerror(errno));
  return pid;
}

/* Records how trial t ended. */
static int finish(const char *dir, size_t t, int wstatus, size_t epochs, trial_state *st) {
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
    st->status = TRIAL_DONE;
    st->reached = epochs;
    return sweep_event(dir, "done trial-%04zu epochs %zu", t + 1, epochs);
  }
  char log[4096];
  snprintf(log, sizeof log, "%s/logs/trial-%04zu.log", dir, t + 1);
  if (child_log_says_diverged(log)) {
    st->status = TRIAL_DIVERGED;
    return sweep_event(dir, "diverged trial-%04zu", t + 1);
  }
  st->status = TRIAL_FAILED;
  char how[64];
  if (WIFSIGNALED(wstatus))
    snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(wstatus));
  else
    snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(wstatus));
  fprintf(stderr, "descent sweep: trial-%04zu failed (%s); see %s/logs/trial-%04zu.log\n", t + 1,
          how, dir, t + 1);
  return sweep_event(dir, "failed trial-%04zu (%s; see logs/trial-%04zu.log)", t + 1, how, t + 1);
}

int sweep_run_trials(const sweep_plan *plan, const char *dir, const size_t *ids, size_t n_ids,
                     size_t epochs, trial_state *states, sweep_done_fn on_done, void *user) {
  running *jobs = calloc((size_t)plan->jobs, sizeof *jobs);
  size_t next = 0, active = 0;
  int rc = 0;
  if (!jobs) return -1;
  for (;;) {
    while (rc == 0 && active < (size_t)plan->jobs && next < n_ids) {
      size_t t = ids[next++], slot = 0;
      while (jobs[slot].pid) slot++;
      clock_gettime(CLOCK_MONOTONIC, &jobs[slot].started);
      jobs[slot].trial = t;
      if ((jobs[slot].pid = launch(plan, dir, t, epochs ? epochs : sweep_trial_epochs(plan, t),
                                   &states[t])) < 0) {
        jobs[slot].pid = 0;
        rc = -1;
        break;
      }
      active++;
    }
    if (active == 0) break;
    int wstatus;
    pid_t pid = wait(&wstatus);
    if (pid < 0) {
      if (errno == EINTR) continue;
      rc = -1;
      break;
    }
    for (int j = 0; j < plan->jobs; j++)
      if (jobs[j].pid == pid) {
        size_t t = jobs[j].trial;
        jobs[j].pid = 0;
        active--;
        if (finish(dir, t, wstatus, epochs ? epochs : sweep_trial_epochs(plan, t), &states[t]))
          rc = -1;
        if (on_done) on_done(user, t, since(&jobs[j].started));
      }
  }
  free(jobs);
  return rc;
}
