/*
 * trainer_internal.h - the trainer object, shared by trainer.c (the step
 * loop and the guard) and checkpoint.c (its state as a file).
 */
#ifndef DESCENT_TRAINER_INTERNAL_H
#define DESCENT_TRAINER_INTERNAL_H

#include "data/batcher.h"
#include "internal.h"
#include "nn/model_io.h"

/* The CKPT section's version (descent.h). */
#define CHECKPOINT_VERSION 2u

/* Checkpoint files larger than this are refused before they are read. */
#define CHECKPOINT_MAX_BYTES ((size_t)1 << 36)

/* A checkpoint's bytes in memory. */
typedef struct saved_state {
  unsigned char *data;
  size_t len;
  int64_t step;
} saved_state;

/* The writer handed to save hooks: the checkpoint being built and every tag
   in it so far. */
struct descent_section_writer {
  bytes_out *out;
  char tags[MODEL_MAX_SECTIONS][4];
  int count;
};

/* The reader handed to load hooks: a checked file's sections. */
struct descent_section_reader {
  const model_section *sections;
  size_t count;
  const char *name; /* the file's path, or "the last good checkpoint" */
};

/* Starts one of the trainer's own sections (end it with section_end). */
size_t writer_begin(descent_section_writer *w, const char *tag);

struct descent_trainer {
  descent_objective *obj;
  descent_optimizer *opt;
  const descent_dataset *train; /* NULL: an objective without data */
  descent_trainer_options o;    /* config and checkpoint_dir point at the copies below */
  char *config;                 /* "" when none was given */
  char *dir;                    /* NULL: no checkpoint files */
  descent_batcher batcher;
  uint32_t labels_crc; /* CRC-32 of the training labels, as little-endian int32 */
  int full_batch;      /* 1: gd (with data: one step per epoch on the whole set) */
  double *grad_sum;    /* full batch: the gradient summed over chunks, in double */
  size_t batches;      /* steps per epoch (1 for full batch; steps_per_epoch without data) */
  size_t chunks;       /* full batch: chunks per step */

  /* Where the run stands; all of it goes into a checkpoint. */
  int64_t epoch;         /* epochs completed */
  size_t epoch_batches;  /* steps taken in the current epoch */
  size_t epoch_samples;  /* examples seen in the current epoch */
  double epoch_loss_sum; /* sum of batch loss x batch size, in order */
  double epoch_seconds;  /* time in the epoch's steps in this process (not saved) */
  size_t timed_samples;  /* examples those steps took */
  double epoch_lr;       /* rate of the epoch's first step */
  double first_loss;     /* the run's first batch loss; NAN before it */
  int rollbacks;         /* rollbacks taken */
  double *losses, *lrs;  /* every step's batch loss and rate */
  size_t n_history, cap_history;

  /* Checkpoints. A state is serialized at a checkpoint point (pending) and
     written, or kept as a state to roll back to (good), only once the next
     batch has passed the guard. A rollback restores the newest good state; if
     the run diverges again before the next one is committed, that state is
     dropped and the one before is restored. */
  unsigned char *pending;
  size_t pending_len;
  int pending_disk;     /* 1: write pending to the folder once verified */
  int64_t pending_step; /* the step of the pending state */
  saved_state *good;    /* states to roll back to, oldest first */
  int n_good, cap_good;
  int restored;      /* 1: the newest good state was restored, nothing committed since */
  double io_seconds; /* time spent serializing and writing during the current step */
  char last_checkpoint[4096];
  descent_divergence divergence;
  int diverged;
};

/* The trainer's whole state as a checkpoint file, in memory; the hooks'
   failures and allocation failures are returned. */
int checkpoint_serialize(const descent_trainer *t, bytes_out *o);

/* Restores a checkpoint file's bytes into t, all or nothing; messages start
   with name. from_file: name is the file's path, and its identity (the step
   its name says, its folder's run id, t's run id) is checked too. */
int checkpoint_restore(descent_trainer *t, const unsigned char *data, size_t len, const char *name,
                       int from_file);

/* Writes ckpt-STEP.dsc atomically into t->dir and, when prune is 1, deletes
   older ones beyond t->o.keep (only files verified as checkpoints of t's
   run); sets t->last_checkpoint. A file already at that path that is not a
   checkpoint of t's run is never replaced: the write is refused
   (DESCENT_EIO, naming the file and why). */
int checkpoint_write(descent_trainer *t, const unsigned char *data, size_t len, int64_t step,
                     int prune);

/* Deletes t's folder's checkpoints of steps after `step` (a rollback's
   abandoned trajectory); only files verified as checkpoints of t's run. */
void checkpoint_remove_after(const descent_trainer *t, int64_t step);

/* Deletes ckpt-*.dsc.tmp.* files left by writers that were killed. */
void checkpoint_remove_temporaries(const char *dir);

/* A hook's negative status, with a message naming it when it left none. */
int hook_failed(int rc, const char *hook);

/* 1 when both ids are the same. */
int checkpoint_run_id_equal(const descent_run_id *a, const descent_run_id *b);

/* CRC-32 of a data set's labels (0 without labels). */
uint32_t checkpoint_labels_crc(const descent_dataset *ds);

#endif /* DESCENT_TRAINER_INTERNAL_H */
