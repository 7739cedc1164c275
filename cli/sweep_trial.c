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
#include "dist.h"
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

/* buf <- " on rank R (HOST)" under MPI, for the event log; "" otherwise. */
static void where(int rank, char *buf, size_t cap) {
  buf[0] = '\0';
  if (dist_active()) snprintf(buf, cap, " on rank %d (%s)", rank, sweep_ranks_host(rank));
}

int sweep_trial_prepare(const char *dir, size_t t, size_t epochs, trial_state *state, int rank,
                        int *resume) {
  char trial_dir[4096], ckpt[4096], skipped[512], at[128];
  snprintf(trial_dir, sizeof trial_dir, "%s/trial-%04zu", dir, t + 1);
  wait_for_lock(trial_dir);
  struct stat st;
  int exists = stat(trial_dir, &st) == 0;
  *resume = exists && descent_checkpoint_find(trial_dir, ckpt, sizeof ckpt, skipped,
                                              sizeof skipped) == DESCENT_OK;
  where(rank, at, sizeof at);
  if (*resume) {
    const char *base = strrchr(ckpt, '/');
    return sweep_event(dir, "resume trial-%04zu from %s to epoch %zu%s", t + 1,
                       base ? base + 1 : ckpt, epochs, at);
  }
  if (exists || state->launched) {
    if (exists && empty_trial(trial_dir)) {
      fprintf(stderr, "descent sweep: cannot empty %s (it saved no checkpoint): %s\n", trial_dir,
              strerror(errno));
      return -1;
    }
    return sweep_event(dir, "restart trial-%04zu (no checkpoint saved)%s", t + 1, at);
  }
  state->launched = 1;
  return sweep_event(dir, "start trial-%04zu%s", t + 1, at);
}

pid_t sweep_trial_start(const sweep_plan *plan, const char *dir, size_t t, size_t epochs,
                        int resume) {
  char trial_dir[4096], log_path[4096];
  snprintf(trial_dir, sizeof trial_dir, "%s/trial-%04zu", dir, t + 1);
  snprintf(log_path, sizeof log_path, "%s/logs/trial-%04zu.log", dir, t + 1);
  char **args = sweep_train_args(plan, t, trial_dir, epochs, resume);
  char **env = child_environment();
  if (!args || !env) {
    if (!env) fprintf(stderr, "descent sweep: out of memory\n");
    sweep_args_free(args);
    return -1;
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid == 0) {
    child_dies_with_parent(parent);
    int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
    int in = open("/dev/null", O_RDONLY);
    if (in >= 0) dup2(in, 0);
    child_close_inherited();
    execve("/proc/self/exe", args, env);
    fprintf(stderr, "descent sweep: cannot run /proc/self/exe: %s\n", strerror(errno));
    _exit(127);
  }
  sweep_args_free(args);
  if (pid < 0) fprintf(stderr, "descent sweep: fork failed: %s\n", strerror(errno));
  return pid;
}

trial_status sweep_trial_outcome(const char *dir, size_t t, int wstatus) {
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return TRIAL_DONE;
  char log[4096];
  snprintf(log, sizeof log, "%s/logs/trial-%04zu.log", dir, t + 1);
  return child_log_says_diverged(log) ? TRIAL_DIVERGED : TRIAL_FAILED;
}

/* Rank 0: records how a trial ended. */
static int record(const char *dir, const sweep_outcome *o, size_t epochs, trial_state *st) {
  size_t t = o->trial;
  char at[128];
  where(o->rank, at, sizeof at);
  st->status = o->status;
  if (o->status == TRIAL_DONE) {
    st->reached = epochs;
    return sweep_event(dir, "done trial-%04zu epochs %zu%s", t + 1, epochs, at);
  }
  if (o->status == TRIAL_DIVERGED) return sweep_event(dir, "diverged trial-%04zu%s", t + 1, at);
  char how[64];
  if (WIFSIGNALED(o->wstatus))
    snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(o->wstatus));
  else
    snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(o->wstatus));
  fprintf(stderr, "descent sweep: trial-%04zu failed (%s%s); see %s/logs/trial-%04zu.log\n", t + 1,
          how, at, dir, t + 1);
  return sweep_event(dir, "failed trial-%04zu (%s; see logs/trial-%04zu.log)%s", t + 1, how, t + 1,
                     at);
}

int sweep_run_trials(const sweep_plan *plan, const char *dir, const size_t *ids, size_t n_ids,
                     size_t epochs, trial_state *states, sweep_done_fn on_done, void *user) {
  int size = sweep_ranks_size();
  sweep_order *orders = calloc((size_t)size * (size_t)plan->jobs, sizeof *orders);
  size_t next = 0;
  if (!orders) return -1;
  for (;;) {
    sweep_outcome *out;
    size_t n_out, n_orders = 0;
    int failed, rc;
    sweep_ranks_gather(&out, &n_out, &failed);
    rc = failed ? -1 : 0;
    for (size_t i = 0; i < n_out; i++) {
      size_t t = out[i].trial;
      if (record(dir, &out[i], epochs ? epochs : sweep_trial_epochs(plan, t), &states[t])) rc = -1;
      if (on_done) on_done(user, t, out[i].seconds);
    }
    /* The free slots rank by rank, in trial order. */
    for (int r = 0; rc == 0 && r < size; r++)
      for (int free_slots = sweep_ranks_free(r); rc == 0 && free_slots > 0 && next < n_ids;
           free_slots--) {
        sweep_order *o = &orders[n_orders];
        o->trial = ids[next++];
        o->epochs = epochs ? epochs : sweep_trial_epochs(plan, o->trial);
        o->rank = r;
        if (sweep_trial_prepare(dir, o->trial, o->epochs, &states[o->trial], r, &o->resume) == 0)
          n_orders++;
        else
          rc = -1;
      }
    if (rc) sweep_ranks_order(NULL, 0, 1); /* ends the other ranks too */
    if (rc || sweep_ranks_order(orders, n_orders, -1)) {
      free(orders);
      return -1;
    }
    if (next == n_ids && !sweep_ranks_busy()) break;
  }
  free(orders);
  return 0;
}
