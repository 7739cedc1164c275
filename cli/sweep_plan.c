/*
 * sweep_plan.c - the plan of a sweep: SWEEP/sweep.txt, written once
 * (atomically) before the first trial and read back by `descent sweep
 * --resume`, so a continued sweep runs the same trials with the same options
 * (the drawn values are saved, not drawn again); and each trial's command
 * line for `descent train`.
 */
#include "commands.h"
#include "descent.h"
#include "internal.h"
#include "sweep.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_FILE "sweep.txt"
#define PLAN_HEAD "# descent sweep plan 1"

/* A growing text buffer. */
typedef struct {
  char *text;
  size_t len, cap;
  int failed;
} text_buf;

static void put(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || b->failed) return;
  if (b->len + (size_t)n + 1 > b->cap) {
    size_t cap = (b->cap + (size_t)n + 1) * 2;
    char *t = realloc(b->text, cap);
    if (!t) {
      b->failed = 1;
      return;
    }
    b->text = t, b->cap = cap;
  }
  va_start(ap, fmt);
  vsnprintf(b->text + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

int sweep_plan_save(const sweep_plan *plan, const char *dir) {
  text_buf b = {0};
  put(&b, "%s: written when the sweep started; 'descent sweep --resume' reads it back\n",
      PLAN_HEAD);
  put(&b, "command %s\n", plan->command);
  put(&b, "sampler %s\n", sweep_sampler_name(plan->sampler));
  if (plan->sampler == SAMPLER_RANDOM)
    put(&b, "sample-seed %llu\n", (unsigned long long)plan->sample_seed);
  put(&b, "metric %s\n", plan->metric);
  put(&b, "seeds");
  for (size_t t = 0; t < plan->n_trials; t++) { /* the seeds of the first configuration */
    if (t > 0 && plan->trials[t].seed == plan->trials[0].seed) break;
    put(&b, "%s%llu", t ? "," : " ", (unsigned long long)plan->trials[t].seed);
  }
  put(&b, "\n");
  put(&b, "jobs %d\n", plan->jobs);
  put(&b, "threads-per-trial %d\n", plan->threads);
  if (plan->halving_eta) put(&b, "halving %zu,%zu\n", plan->halving_min, plan->halving_eta);
  put(&b, "epochs %zu\n", plan->epochs);
  for (size_t j = 0; j < plan->n_params; j++)
    put(&b, "param %s=%s\n", plan->params[j].name, plan->params[j].spec);
  for (size_t i = 0; i < plan->n_train; i++) put(&b, "train %s\n", plan->train[i]);
  put(&b, "trials %zu\n", plan->n_trials);
  for (size_t t = 0; t < plan->n_trials; t++) {
    put(&b, "trial %04zu\tseed=%llu", t + 1, (unsigned long long)plan->trials[t].seed);
    for (size_t j = 0; j < plan->n_params; j++)
      put(&b, "\t%s=%s", plan->params[j].name, plan->trials[t].values[j]);
    put(&b, "\n");
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, PLAN_FILE);
  int rc = b.failed ? DESCENT_ENOMEM : descent_write_file_atomic(path, b.text, b.len);
  free(b.text);
  if (rc) fprintf(stderr, "descent sweep: writing %s failed: %s\n", path, descent_last_error());
  return rc ? -1 : 0;
}

static int plan_error(const char *dir, int line, const char *why) {
  fprintf(stderr,
          "descent sweep: --resume: %s/%s, line %d: %s; the plan is damaged, start the "
          "sweep again in a new folder\n",
          dir, PLAN_FILE, line, why);
  return -1;
}

/* Reads one trial line: "trial NNNN\tseed=S\tNAME=VALUE...". */
static int read_trial(sweep_plan *plan, char *rest, const char *dir, int line) {
  if (plan->n_trials >= SWEEP_MAX_TRIALS) return plan_error(dir, line, "too many trials");
  sweep_trial *t = &plan->trials[plan->n_trials];
  char *field = strtok(rest, "\t");
  if (!field || (size_t)atol(field) != plan->n_trials + 1)
    return plan_error(dir, line, "trials out of order");
  field = strtok(NULL, "\t");
  if (!field || sscanf(field, "seed=%llu", (unsigned long long *)&t->seed) != 1)
    return plan_error(dir, line, "no seed");
  t->values = calloc(plan->n_params ? plan->n_params : 1, sizeof *t->values);
  if (!t->values) return plan_error(dir, line, "out of memory");
  plan->n_trials++;
  for (size_t j = 0; j < plan->n_params; j++) {
    field = strtok(NULL, "\t");
    size_t n = strlen(plan->params[j].name);
    if (!field || strncmp(field, plan->params[j].name, n) != 0 || field[n] != '=')
      return plan_error(dir, line, "a parameter's value is missing");
    snprintf(t->values[j], SWEEP_MAX_VALUE, "%s", field + n + 1);
  }
  return 0;
}

static int read_line(sweep_plan *plan, char *s, const char *dir, int line) {
  char *sp = strchr(s, ' ');
  if (!sp) return plan_error(dir, line, "unexpected line");
  *sp = '\0';
  char *v = sp + 1;
  unsigned long long u;
  if (strcmp(s, "command") == 0) {
    snprintf(plan->command, sizeof plan->command, "%s", v);
  } else if (strcmp(s, "sampler") == 0) {
    if (sweep_sampler_parse(v, &plan->sampler)) return plan_error(dir, line, "bad sampler");
  } else if (strcmp(s, "sample-seed") == 0 && sscanf(v, "%llu", &u) == 1) {
    plan->sample_seed = u;
  } else if (strcmp(s, "seeds") == 0) { /* for the reader: the trials hold theirs */
  } else if (strcmp(s, "metric") == 0) {
    snprintf(plan->metric, sizeof plan->metric, "%s", v);
  } else if (strcmp(s, "jobs") == 0) {
    plan->jobs = atoi(v);
  } else if (strcmp(s, "threads-per-trial") == 0) {
    plan->threads = atoi(v);
  } else if (strcmp(s, "halving") == 0) {
    if (sscanf(v, "%zu,%zu", &plan->halving_min, &plan->halving_eta) != 2)
      return plan_error(dir, line, "bad halving");
  } else if (strcmp(s, "epochs") == 0) {
    plan->epochs = (size_t)atol(v);
  } else if (strcmp(s, "param") == 0) {
    if (plan->n_params == SWEEP_MAX_PARAMS || sweep_param_parse(v, &plan->params[plan->n_params]))
      return plan_error(dir, line, "bad parameter");
    plan->n_params++;
  } else if (strcmp(s, "train") == 0) {
    char **a = realloc(plan->train, (plan->n_train + 1) * sizeof *a);
    if (!a) return plan_error(dir, line, "out of memory");
    plan->train = a;
    if (!(a[plan->n_train] = strdup(v))) return plan_error(dir, line, "out of memory");
    plan->n_train++;
  } else if (strcmp(s, "trials") == 0 && sscanf(v, "%llu", &u) == 1 && u <= SWEEP_MAX_TRIALS) {
    plan->trials = calloc(u ? u : 1, sizeof *plan->trials);
    if (!plan->trials) return plan_error(dir, line, "out of memory");
  } else if (strcmp(s, "trial") == 0 && plan->trials) {
    return read_trial(plan, v, dir, line);
  } else {
    return plan_error(dir, line, "unexpected line");
  }
  return 0;
}

int sweep_plan_load(sweep_plan *plan, const char *dir) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, PLAN_FILE);
  memset(plan, 0, sizeof *plan);
  FILE *f = fopen(path, "r");
  if (!f && errno != ENOENT)
    fprintf(stderr, "descent sweep: --resume: cannot read %s: %s\n", path, strerror(errno));
  if (!f) return errno == ENOENT ? 1 : -1;
  char *line = NULL;
  size_t cap = 0;
  int lineno = 0, rc = 0;
  ssize_t n;
  while (rc == 0 && (n = getline(&line, &cap, f)) >= 0) {
    lineno++;
    if (n == 0 || line[n - 1] != '\n') {
      rc = plan_error(dir, lineno, "the line is cut short");
      break;
    }
    line[n - 1] = '\0';
    if (lineno == 1) {
      if (strncmp(line, PLAN_HEAD, strlen(PLAN_HEAD)) != 0) rc = 1; /* not a sweep's plan */
      continue;
    }
    rc = read_line(plan, line, dir, lineno);
  }
  free(line);
  fclose(f);
  if (rc == 0 && lineno == 0) rc = 1;
  if (rc == 0 && (!plan->trials || plan->n_trials == 0 || plan->jobs < 1 || plan->threads < 1 ||
                  plan->epochs < 1 || !plan->metric[0]))
    rc = plan_error(dir, lineno, "the plan is incomplete");
  return rc;
}

/* The name of a train option argument ("--lr" or "--lr=X": "lr"), or NULL. */
static int option_name(const char *arg, char *name, size_t cap) {
  if (strncmp(arg, "--", 2) != 0 || !arg[2]) return 0;
  size_t n = strcspn(arg + 2, "=");
  if (n >= cap) return 0;
  memcpy(name, arg + 2, n);
  name[n] = '\0';
  return 1;
}

/* Where train option `name` is given after --: the index of its value (i + 1
 * or i for --name=VALUE), or -1. */
static int find_train_option(const sweep_plan *plan, const char *name, size_t *at, int *inline_) {
  char got[64];
  for (size_t i = 0; i < plan->n_train; i++) {
    if (!option_name(plan->train[i], got, sizeof got)) continue;
    if (strcmp(got, name) == 0) {
      *inline_ = strchr(plan->train[i], '=') != NULL;
      *at = i;
      return 1;
    }
    if (!strchr(plan->train[i], '=') && cmd_train_option_kind(got) == 1) i++;
  }
  return 0;
}

int sweep_has_val(const sweep_plan *plan) {
  size_t at;
  int inl;
  if (!find_train_option(plan, "val", &at, &inl)) return 0;
  const char *v = inl                      ? strchr(plan->train[at], '=') + 1
                  : at + 1 < plan->n_train ? plan->train[at + 1]
                                           : "0";
  return atol(v) > 0;
}

/* 1 when a train option's text after -- holds {NAME}. */
static int has_placeholder(const sweep_plan *plan, const char *name) {
  char ph[80];
  snprintf(ph, sizeof ph, "{%s}", name);
  for (size_t i = 0; i < plan->n_train; i++)
    if (strstr(plan->train[i], ph)) return 1;
  return 0;
}

int sweep_check_train_options(const sweep_plan *plan) {
  static const char *const own[] = {"out", "resume", "threads", "quiet"};
  char name[64];
  for (size_t i = 0; i < plan->n_train; i++) {
    if (strchr(plan->train[i], '\t') || strchr(plan->train[i], '\n')) {
      fprintf(stderr, "descent sweep: a train option holds a tab or a newline: '%s'\n",
              plan->train[i]);
      return -1;
    }
    if (!option_name(plan->train[i], name, sizeof name)) {
      fprintf(stderr, "descent sweep: after --: expected a descent train option, got '%s'\n",
              plan->train[i]);
      return -1;
    }
    int kind = cmd_train_option_kind(name);
    if (!kind) {
      fprintf(stderr,
              "descent sweep: after --: 'descent train' has no option --%s (see "
              "'descent train --help')\n",
              name);
      return -1;
    }
    for (size_t k = 0; k < sizeof own / sizeof own[0]; k++)
      if (strcmp(name, own[k]) == 0) {
        fprintf(stderr, "descent sweep: after --: drop --%s; the sweep sets it for each trial%s\n",
                name, strcmp(name, "threads") == 0 ? " (--threads-per-trial)" : "");
        return -1;
      }
    if (kind == 1 && !strchr(plan->train[i], '=')) i++;
  }
  for (size_t j = 0; j < plan->n_params; j++) {
    const char *pn = plan->params[j].name;
    size_t at;
    for (size_t i = 0; i < j; i++)
      if (strcmp(plan->params[i].name, pn) == 0) {
        fprintf(stderr, "descent sweep: %s is swept twice; give each parameter one space\n", pn);
        return -1;
      }
    int inl;
    if (!has_placeholder(plan, pn) && strncmp(pn, "opt.", 4) != 0 &&
        find_train_option(plan, pn, &at, &inl)) {
      fprintf(stderr,
              "descent sweep: --%s is swept and also given after --; drop it there, or "
              "write {%s} where its value goes (e.g. --lr \"cosine(lr={lr}, steps=500)\")\n",
              pn, pn);
      return -1;
    }
    if (strcmp(pn, "epochs") == 0 && plan->halving_eta) {
      fprintf(stderr, "descent sweep: --halving sets every trial's epochs; do not sweep epochs "
                      "with it\n");
      return -1;
    }
    for (size_t i = 0; i < plan->params[j].n_items; i++)
      if (strpbrk(plan->params[j].items[i], "\t\n")) {
        fprintf(stderr, "descent sweep: --param %s: a value holds a tab or a newline\n", pn);
        return -1;
      }
  }
  return 0;
}

/* text with every {NAME} of a swept parameter replaced by trial t's value. */
static char *substitute(const sweep_plan *plan, size_t t, const char *text) {
  text_buf b = {0};
  put(&b, "%s", "");
  for (const char *s = text; *s;) {
    size_t j = plan->n_params;
    if (*s == '{')
      for (j = 0; j < plan->n_params; j++) {
        size_t n = strlen(plan->params[j].name);
        if (strncmp(s + 1, plan->params[j].name, n) == 0 && s[n + 1] == '}') break;
      }
    if (j < plan->n_params) {
      put(&b, "%s", plan->trials[t].values[j]);
      s += strlen(plan->params[j].name) + 2;
    } else {
      put(&b, "%c", *s++);
    }
  }
  if (b.failed) {
    free(b.text);
    return NULL;
  }
  return b.text;
}

/* Merges opt.KEY=VALUE into an optimizer spec: into the argument list of its
 * last call ("sgd(momentum=0.9)" + nesterov=1: "sgd(momentum=0.9, nesterov=1)",
 * "adam" + beta1=0.8: "adam(beta1=0.8)"). */
static void merge_opt_arg(text_buf *spec, const char *key, const char *value) {
  if (spec->len && spec->text[spec->len - 1] == ')') {
    int empty = spec->len >= 2 && spec->text[spec->len - 2] == '(';
    spec->len--;
    spec->text[spec->len] = '\0';
    put(spec, "%s%s=%s)", empty ? "" : ", ", key, value);
  } else {
    put(spec, "(%s=%s)", key, value);
  }
}

static int push(char ***args, size_t *n, const char *s) {
  char **a = realloc(*args, (*n + 2) * sizeof *a);
  if (!a) return -1;
  *args = a;
  if (!(a[*n] = strdup(s))) return -1;
  a[++*n] = NULL;
  return 0;
}

char **sweep_train_args(const sweep_plan *plan, size_t t, const char *dir, size_t epochs,
                        int resume) {
  char **args = NULL, name[80], num[32];
  size_t n = 0;
  int ok = push(&args, &n, "descent") == 0 && push(&args, &n, "train") == 0;
  text_buf opt = {0};
  /* The train options after --, placeholders filled, --opt, --seed and
     --epochs taken out (the sweep gives them). */
  for (size_t i = 0; ok && i < plan->n_train; i++) {
    int named = option_name(plan->train[i], name, sizeof name);
    int takes = named && cmd_train_option_kind(name) == 1 && !strchr(plan->train[i], '=');
    const char *value = takes && i + 1 < plan->n_train ? plan->train[i + 1]
                        : strchr(plan->train[i], '=')  ? strchr(plan->train[i], '=') + 1
                                                       : NULL;
    char *filled = value ? substitute(plan, t, value) : NULL;
    if (named && strcmp(name, "opt") == 0 && filled) {
      put(&opt, "%s", filled);
    } else if (named && (strcmp(name, "seed") == 0 || strcmp(name, "epochs") == 0)) {
    } else if (named && value) {
      char flag[96];
      snprintf(flag, sizeof flag, "--%s", name);
      ok = filled && push(&args, &n, flag) == 0 && push(&args, &n, filled) == 0;
    } else {
      ok = push(&args, &n, plan->train[i]) == 0;
    }
    free(filled);
    if (takes) i++;
  }
  for (size_t j = 0; ok && j < plan->n_params; j++) {
    const char *pn = plan->params[j].name, *v = plan->trials[t].values[j];
    if (has_placeholder(plan, pn)) continue;
    if (strcmp(pn, "opt") == 0) {
      put(&opt, "%s", v);
    } else if (strcmp(pn, "epochs") == 0) {
      if (!epochs) epochs = (size_t)atol(v);
    } else if (strncmp(pn, "opt.", 4) != 0) {
      snprintf(name, sizeof name, "--%s", pn);
      ok = push(&args, &n, name) == 0 && push(&args, &n, v) == 0;
    }
  }
  if (!opt.len) put(&opt, "sgd");
  for (size_t j = 0; j < plan->n_params; j++)
    if (strncmp(plan->params[j].name, "opt.", 4) == 0 &&
        !has_placeholder(plan, plan->params[j].name))
      merge_opt_arg(&opt, plan->params[j].name + 4, plan->trials[t].values[j]);
  ok = ok && !opt.failed && push(&args, &n, "--opt") == 0 && push(&args, &n, opt.text) == 0;
  free(opt.text);
  snprintf(num, sizeof num, "%llu", (unsigned long long)plan->trials[t].seed);
  ok = ok && push(&args, &n, "--seed") == 0 && push(&args, &n, num) == 0;
  snprintf(num, sizeof num, "%zu", epochs ? epochs : plan->epochs);
  ok = ok && push(&args, &n, "--epochs") == 0 && push(&args, &n, num) == 0;
  snprintf(num, sizeof num, "%d", plan->threads);
  ok = ok && push(&args, &n, "--threads") == 0 && push(&args, &n, num) == 0;
  ok = ok && push(&args, &n, "--quiet") == 0;
  ok = ok && push(&args, &n, resume ? "--resume" : "--out") == 0 && push(&args, &n, dir) == 0;
  if (!ok) {
    fprintf(stderr, "descent sweep: out of memory\n");
    sweep_args_free(args);
    return NULL;
  }
  return args;
}

void sweep_args_free(char **args) {
  for (size_t i = 0; args && args[i]; i++) free(args[i]);
  free(args);
}

size_t sweep_trial_epochs(const sweep_plan *plan, size_t t) {
  for (size_t j = 0; j < plan->n_params; j++)
    if (strcmp(plan->params[j].name, "epochs") == 0) return (size_t)atol(plan->trials[t].values[j]);
  return plan->epochs;
}
