/*
 * method.h - optimizers that are not chains of elementwise transforms: a
 * method receives the objective and an evaluation of it (PyTorch's closure)
 * and evaluates it as often as it needs within one step (L-BFGS's line
 * search and inner iterations). Its state has a length of its own (L-BFGS's
 * history grows) and travels in the optimizer's state blob as bytes that
 * the method writes and checks itself.
 *
 * An optimizer holding a method has a chain of one transform, lr, whose
 * rate (schedule, scale, base rate) the method reads at each step; the
 * method's hyperparameters come first in its canonical text:
 * "lbfgs(max_iter=20, ...) | lr(lr=1)".
 */
#ifndef DESCENT_METHOD_H
#define DESCENT_METHOD_H

#include "core/spec.h"

#define METHOD_MAX_PARAMS 10

typedef struct method_def method_def;

/* A method's working state, owned by the optimizer. */
typedef struct method_state method_state;

struct method_def {
  const char *name;
  const char *summary;     /* one line: what it is and what it follows */
  const char *evaluations; /* evaluations per step, for the help */
  const char *default_lr;  /* the rate when neither the spec nor --lr gives one */
  const spec_param *params;
  int n_params;
  /* Parameters whose value is one of several words (SPEC_TEXT in params):
     the word's index is the hyperparameter's value. NULL-terminated lists,
     one per parameter (NULL for numeric ones). */
  const char *const *const *choices;
  /* The index of the boolean parameter that asks for full-batch steps, or
     -1. */
  int full_batch_param;
  /* Optional: defaults that depend on other parameters, for those the spec
     did not give (given[j] = 0). */
  void (*resolve)(double *hp, const int *given);
  /* Allocates the state for n parameters; NULL with a message on failure. */
  method_state *(*create)(const double *hp, size_t n);
  void (*destroy)(method_state *s);
  /* One step: closure evaluates at obj->params; rate is the lr transform's
     rate for this step. Fills info. */
  int (*step)(method_state *s, const double *hp, double rate, descent_objective *obj,
              const descent_closure *closure, descent_step_info *info);
  /* Optional: whether the method can step on obj (a network whose layers
     give what it needs, an objective with the products it uses), checked
     before a run starts (descent_optimizer_check_objective), with the
     message its first step would give. NULL: every objective. */
  int (*check)(const method_state *s, const double *hp, descent_objective *obj);
  /* Evaluations every step so far has used (saved in the state). */
  int64_t (*evaluations_so_far)(const method_state *s);
  /* Curvature-vector products every step so far has used (saved in the
     state); NULL for a method that uses none. */
  int64_t (*products_so_far)(const method_state *s);
  /* The state as bytes (little-endian, fixed widths): the length, and the
     writing of exactly that many bytes. */
  size_t (*state_bytes)(const method_state *s);
  void (*save)(const method_state *s, unsigned char *out);
  /* Checks bytes written by save for these hyperparameters and, only when
     they are whole and fit, replaces the state with them. A message names
     what is wrong (the caller prefixes "optimizer state: "). */
  int (*load)(method_state *s, const double *hp, const unsigned char *in, size_t len);
};

/* The methods' dot product: sum a[i] b[i] in double, per block of
   METHOD_BLOCK values (in parallel from METHOD_PARALLEL_BLOCKS blocks),
   then the blocks in order, so the bits do not depend on the thread count.
   partials holds method_blocks(n) values. */
#define METHOD_BLOCK           4096
#define METHOD_PARALLEL_BLOCKS 64
size_t method_blocks(size_t n);
double method_dot(const descent_real *a, const descent_real *b, size_t n, double *partials);

/* The most a saved counter (steps, evaluations, products) may hold: no run
   reaches 2^62, and a forged state's INT64_MAX would overflow at the next
   step's count. A method's load refuses more as corrupted. */
#define METHOD_MAX_COUNT ((int64_t)1 << 62)

/* The seed of one step's random draws (Monte-Carlo labels, probe
   vectors): the `seed` hyperparameter and the step count mixed
   (splitmix64's finalizer), so successive steps draw independently and a
   resumed run draws the same. */
uint64_t method_draw_seed(double seed, int64_t step);

/* The methods' state bytes: little-endian integers of `bytes` bytes and
   doubles by their bits, written at p (returning the next byte) or read
   from *p (advancing it). */
unsigned char *method_put(unsigned char *p, uint64_t v, int bytes);
unsigned char *method_put_double(unsigned char *p, double v);
uint64_t method_get(const unsigned char **p, int bytes);
double method_get_double(const unsigned char **p);
/* n numbers of the buffers' type (descent_real) by their bits, 4 or 8
   bytes each. */
unsigned char *method_put_reals(unsigned char *p, const descent_real *v, size_t n);
void method_get_reals(const unsigned char **p, descent_real *v, size_t n);

/* The method of that name; NULL if none. */
const method_def *method_find(const char *name);
/* Names of every method, comma separated. */
void method_list_names(char *buf, size_t cap);
/* The canonical text of a method item: "lbfgs(max_iter=20, ..., line_search=none)". */
size_t method_describe(const method_def *def, const double *hp, char *buf, size_t cap);
/* Binds a call's arguments (lr taken out by the caller) to the method's
   parameters, words to their indices. */
int method_bind(const method_def *def, const spec_call *call, double *hp);
/* The help's section on methods. */
void method_help(FILE *out);

extern const method_def method_lbfgs;
extern const method_def method_sdlm;
extern const method_def method_kfac;

/* kfac.c's pi correction for the factors a (n x n) and g (m x m):
   sqrt((tr a / n) / (tr g / m)), or 1 when either trace is not positive
   and finite. And, for tests, layer k's running factors and their damped
   inverses at the last refresh (0 when there is no layer k yet). */
double kfac_pi(const double *a, size_t n, const double *g, size_t m);
int kfac_factors(const method_state *st, size_t k, const double **a, const double **g,
                 const double **a_inv, const double **g_inv);
/* The backward passes one Gauss-Newton diagonal of obj costs (sdlm.c), as
   sdlm and hf count them: samples (> 0), else a network's outputs, a lab
   problem's dimension, or 1 for any other objective. */
int64_t method_diagonal_passes(const descent_objective *obj, size_t samples);
extern const method_def method_hf;
extern const method_def method_newton_cg;
extern const method_def method_sophia;

#endif /* DESCENT_METHOD_H */
