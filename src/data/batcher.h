/*
 * batcher.h - the batcher's state, for the code that embeds one (the
 * trainer) and saves it in checkpoints. Programs see only the opaque
 * descent_batcher of descent.h.
 */
#ifndef DESCENT_BATCHER_H
#define DESCENT_BATCHER_H

#include "internal.h"

struct descent_batcher {
  const descent_dataset *ds; /* the data set, not owned */
  size_t batch_size;         /* examples per batch; the last batch may be smaller */
  int shuffle;               /* 1: new random order each epoch; 0: data order */
  descent_rng rng;           /* drives the shuffling */
  size_t *order;             /* permutation of [0, n) for the current epoch */
  size_t position;           /* next index into order */
  int64_t epoch;             /* epochs started so far */
  descent_real *x;           /* batch_size x features gathered inputs */
  int32_t *labels;           /* batch_size gathered labels (if ds has labels) */
};

/* Sets up *b in place (descent_batcher_create's checks and allocations);
   on failure b holds nothing to release. */
int batcher_init(descent_batcher *b, const descent_dataset *ds, size_t batch_size, int shuffle,
                 uint64_t seed);
/* Releases what batcher_init allocated and zeroes b; NULL is accepted. */
void batcher_release(descent_batcher *b);

#endif /* DESCENT_BATCHER_H */
