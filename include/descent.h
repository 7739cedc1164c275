/*
 * descent.h - the public API of libdescent.
 *
 * libdescent trains deep networks and helps choose, tune and understand their
 * optimizer. Everything that is trained is an *objective*: it owns one flat
 * parameter buffer and computes a loss and its gradient on a batch. A network is
 * one kind of objective; the lecture's synthetic functions are others. An
 * optimizer is a chain of small transforms that turns a gradient into an update
 * of the flat buffer.
 *
 * Conventions:
 *  - Functions that can fail return an int status: DESCENT_OK (0) or a negative
 *    descent_status. descent_last_error() then holds a one-line message naming
 *    the problem and, where there is one, the fix. The library never prints and
 *    never exits.
 *  - Objects are created by *_create / *_load into an out-pointer and released by
 *    the matching *_free, which accepts NULL.
 *  - Arrays are row-major. The scalar type is descent_real: float in
 *    libdescent, double in libdescent64, for programs compiled with
 *    DESCENT_DOUBLE defined (pkg-config descent64 and CMake's
 *    descent::descent64 add it; the double-precision build is also what the
 *    gradient checks and parity tests use). Mixing the two fails to link
 *    (see descent_abi_*_precision_link_* below).
 *  - Sizes are size_t; counts of steps are int64_t.
 */
#ifndef DESCENT_H
#define DESCENT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* DESCENT_VERSION_STRING ("0.1.0"), DESCENT_VERSION_MAJOR, _MINOR and
 * _PATCH: the version of this header, generated from the build's
 * project(VERSION) (CMakeLists.txt) and installed beside it. */
#include "descent_version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Exported symbols. The library is built with -fvisibility=hidden: what it
 * exports is exactly what this header declares, since every declaration from
 * here to the pop at the end of the file gets default visibility. A function
 * added anywhere in between is exported with nothing more to write; helpers
 * declared in the library's internal headers stay hidden. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

/* The version of the library itself, e.g. "0.1.0": the one it was built as,
 * which may differ from DESCENT_VERSION_STRING above when a program runs with
 * another build of the shared library than the one it was compiled against.
 * A program that needs the versions to match compares the two (strcmp) at
 * start-up. Static string, never NULL. */
const char *descent_version(void);

#ifdef DESCENT_DOUBLE
typedef double descent_real;
#else
typedef float descent_real;
#endif

/* The precision is part of the ABI. Every file that includes this header
 * refers to a symbol that only the library of the same precision defines, so
 * a program compiled with DESCENT_DOUBLE and linked against the float library
 * (or the reverse) fails to link with "undefined reference to
 * `descent_abi_double_precision_link_descent64'" (or
 * `descent_abi_float_precision_link_descent'): the name says which library to
 * link. The symbol is a function that does nothing (a function, not a
 * variable: sanitizers add symbols beside exported variables). A program
 * that does not link the library but loads it with dlopen defines
 * DESCENT_NO_LINK_CHECK before including this header, and then checks the
 * library it loaded itself (descent_version, and the symbol above with
 * dlsym). */
#ifndef DESCENT_NO_LINK_CHECK
#ifdef DESCENT_DOUBLE
void descent_abi_double_precision_link_descent64(void);
#define DESCENT_ABI_PRECISION_SYMBOL_ descent_abi_double_precision_link_descent64
#else
void descent_abi_float_precision_link_descent(void);
#define DESCENT_ABI_PRECISION_SYMBOL_ descent_abi_float_precision_link_descent
#endif
/* used: kept though nothing reads it; retain: kept by the linker's
   --gc-sections too. */
#if defined(__has_attribute)
#if __has_attribute(retain)
#define DESCENT_ABI_KEEP_ __attribute__((used, retain))
#endif
#endif
#if !defined(DESCENT_ABI_KEEP_) && defined(__GNUC__)
#define DESCENT_ABI_KEEP_ __attribute__((used))
#endif
#ifndef DESCENT_ABI_KEEP_
#define DESCENT_ABI_KEEP_
#endif
DESCENT_ABI_KEEP_ static void (*const descent_abi_precision_check_)(void) =
    &DESCENT_ABI_PRECISION_SYMBOL_;
#undef DESCENT_ABI_KEEP_
#undef DESCENT_ABI_PRECISION_SYMBOL_
#endif /* DESCENT_NO_LINK_CHECK */

/* ------------------------------------------------------------------------ */
/* Status codes and errors                                                  */
/* ------------------------------------------------------------------------ */

typedef enum descent_status {
  DESCENT_OK = 0,
  DESCENT_ENOMEM = -1,    /* an allocation failed */
  DESCENT_EIO = -2,       /* a file could not be opened, read or written */
  DESCENT_EFORMAT = -3,   /* a file's content is malformed or truncated */
  DESCENT_EINVAL = -4,    /* an invalid argument, option, name or value */
  DESCENT_ESHAPE = -5,    /* shapes or sizes that do not fit together */
  DESCENT_ERANGE = -6,    /* a size beyond what can be represented or allowed */
  DESCENT_EDIVERGED = -7, /* a loss or gradient became NaN, Inf or too large */
  DESCENT_ENOTSUP = -8,   /* a valid request this build does not support (or a file
                             from a newer version) */
  DESCENT_ESTOPPED = -9   /* a run stopped on request (descent_trainer_options.stop) */
} descent_status;

/* A short, static description of a status code ("out of memory", ...). */
const char *descent_strerror(int status);

/* The detailed message of the last failure in the calling thread, e.g.
 * "train-images-idx3-ubyte.gz: file truncated: header declares 47040016
 * bytes, file holds 1000". Empty when nothing has failed yet. */
const char *descent_last_error(void);

/* For a program's own parts (an objective, a layer kind, a transform, a
 * trainer hook): records a one-line message for descent_last_error() and
 * returns status, a negative descent_status (anything else becomes
 * DESCENT_EINVAL), so that a refusal reads
 *   return descent_set_error(DESCENT_EINVAL, "slope %g must be below 1; "
 *                            "use a smaller one", slope);
 * The library may put context in front of it (a layer's name). */
int descent_set_error(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ------------------------------------------------------------------------ */
/* Threads, CPU setup and the BLAS                                          */
/* ------------------------------------------------------------------------ */

/* Threading rules.
 *  - Loading the library does nothing: no constructor runs, nothing in the
 *    process changes. The one call that changes process-wide settings is
 *    descent_cpu_setup (below), and only when the program makes it.
 *  - Thread counts belong to objects. A network (descent_net_set_threads),
 *    an optimizer (descent_optimizer_set_threads) and a trainer
 *    (descent_trainer_options.threads) each have one; 0, the default,
 *    inherits the calling thread's OpenMP setting (omp_get_max_threads(),
 *    so OMP_NUM_THREADS or omp_set_num_threads) at each call. Each call
 *    that computes applies the count to the calling thread's OpenMP setting
 *    for its duration and restores the caller's on return. A trainer's count
 *    holds for everything it runs (the network, the optimizer, its
 *    callbacks), whatever theirs.
 *  - The library never sets OpenBLAS's thread count, and keeps OpenBLAS
 *    from changing it: it calls OpenBLAS on one thread at a time and splits
 *    larger products among its own OpenMP threads, so openblas_get_num_threads()
 *    reads the same before and after any descent call.
 *  - Results depend on the thread count in effect (the object's, or for 0
 *    the calling thread's setting), the precision, the CPU, OpenBLAS's
 *    kernels (descent_cpu_setup, OPENBLAS_CORETYPE) and the kernel path
 *    (DESCENT_ISA); never on what other threads do or on OpenBLAS's own
 *    thread count: the same run gives the same bits, alone or beside
 *    others.
 *  - Different objects may be used from different threads at once (two
 *    trainers, each with its own network, optimizer and data, on two
 *    threads). One object is used from one thread at a time; the objects a
 *    trainer runs belong to it while descent_trainer_run runs. Read-only
 *    data (a descent_dataset) may be shared.
 *  - descent_last_error() is per thread. */

/* The calling thread's OpenMP thread count, which objects whose count is 0
 * use: descent_set_threads sets it (omp_set_num_threads, which changes the
 * calling thread's setting alone, never OpenBLAS's); 0 picks the number of
 * cores; a count beyond what an address-space limit (ulimit -v) leaves room
 * for is lowered to it. Returns the count in effect. descent_get_threads
 * returns omp_get_max_threads(). Thin helpers for programs without OpenMP of
 * their own. */
int descent_set_threads(int n);
int descent_get_threads(void);

/* Prepares the process for fast kernels, process-wide; optional. Call it once,
 * at program start, before other threads use OpenBLAS or oneDNN or read the
 * environment (the descent program does; later calls do nothing and return
 * the first call's status). It
 *  - checks DESCENT_ISA (descent_isa_check) and returns its error;
 *  - moves OpenBLAS (a DYNAMIC_ARCH build, Debian's) to the kernels this CPU
 *    runs best when its own choice fell back to generic SSE3 kernels (a CPU
 *    newer than the OpenBLAS release), or chose AVX-512 kernels on AMD Zen 4
 *    (its Haswell kernels are faster there), or DESCENT_ISA=avx2 asks for
 *    what an AVX2 CPU runs: this changes the host program's OpenBLAS too,
 *    and sets OPENBLAS_CORETYPE in the environment for a moment. A program
 *    that set OPENBLAS_CORETYPE keeps its choice;
 *  - with DESCENT_ISA=avx2 on a CPU with AVX-512, holds oneDNN (when built
 *    in) to AVX2 (dnnl_set_max_cpu_isa, process-wide; oneDNN allows it only
 *    before its first use: DESCENT_ENOTSUP otherwise).
 * Without it, everything works with OpenBLAS's and oneDNN's own choices
 * (except that a network refuses oneDNN convolutions on a forced avx2 path
 * of an AVX-512 CPU, with a message). descent_blas_name names the kernels in
 * use. */
int descent_cpu_setup(void);

/* Which BLAS the library was built with and the kernels in use, e.g.
 * "OpenBLAS 0.3.21, OpenMP threads, Haswell kernels (it detected Cooperlake;
 * see blas_select.c); ...; kernel path avx512". */
const char *descent_blas_name(void);

/* The instruction-set path of the library's own kernels, chosen at run time
 * from the CPU: DESCENT_ISA_AVX512 (the AVX-512 GEMM and direct convolution),
 * DESCENT_ISA_AVX2 (OpenBLAS's products, and oneDNN's for the dense layers'
 * and the convolutions where they were measured faster, when the library is
 * built with oneDNN) or DESCENT_ISA_PORTABLE (OpenBLAS's products, im2col +
 * GEMM convolutions). The environment variable DESCENT_ISA (auto, avx512,
 * avx2, portable), read at the first call, forces a lower path, so that each
 * can be tested and timed on one machine. */
enum { DESCENT_ISA_PORTABLE = 0, DESCENT_ISA_AVX2 = 1, DESCENT_ISA_AVX512 = 2 };
int descent_isa_path(void);
/* "avx512", "avx2" or "portable". */
const char *descent_isa_name(void);
/* Which code computes the convolutions, e.g. "convolutions: oneDNN 2.6.3
   where it is faster" (a build with oneDNN on the avx512 or avx2 path) or
   "convolutions: descent's own (built without oneDNN)". */
const char *descent_conv_library(void);
/* DESCENT_OK, or an error naming the problem when DESCENT_ISA names an
 * unknown path or one this CPU cannot run (the path then falls back to the
 * CPU's own: call this first to refuse such a setting). */
int descent_isa_check(void);

/* ------------------------------------------------------------------------ */
/* Random numbers                                                           */
/* ------------------------------------------------------------------------ */

/* xoshiro256** generator. Plain data: copy it to save or restore the stream. */
typedef struct descent_rng {
  uint64_t s[4]; /* the generator state; never all zero once seeded */
} descent_rng;

/* Seeds through splitmix64, so nearby seeds give unrelated streams. */
void descent_rng_seed(descent_rng *rng, uint64_t seed);
uint64_t descent_rng_next(descent_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
double descent_rng_uniform(descent_rng *rng);
/* Standard normal (Box-Muller, no cached second value, so state stays plain). */
double descent_rng_normal(descent_rng *rng);
/* Uniform integer in [0, n), without modulo bias. n must be > 0. */
uint64_t descent_rng_below(descent_rng *rng, uint64_t n);

/* ------------------------------------------------------------------------ */
/* Shapes and the table of named tensors                                    */
/* ------------------------------------------------------------------------ */

#define DESCENT_MAX_DIMS 4

/* The shape of one example (or one tensor): dims[0..ndim-1], outermost first.
 * An image is {channels, height, width}; a feature vector is {features}. */
typedef struct descent_shape {
  int ndim;                      /* 1 to DESCENT_MAX_DIMS */
  size_t dims[DESCENT_MAX_DIMS]; /* each >= 1 */
} descent_shape;

/* Product of the dimensions. */
size_t descent_shape_size(const descent_shape *shape);

/* One named tensor inside a flat parameter buffer. */
typedef struct descent_tensor_info {
  char name[48];       /* e.g. "layer2.dense.weight" */
  size_t offset;       /* first element, counted from the buffer's start */
  size_t size;         /* number of elements */
  descent_shape shape; /* e.g. {out, in} for a dense weight */
} descent_tensor_info;

/* ------------------------------------------------------------------------ */
/* Data sets and batches                                                    */
/* ------------------------------------------------------------------------ */

/* A batch of examples handed to an objective. Which fields are used depends on
 * the objective: a classifier reads x and labels, a regression reads x and
 * targets, a finite sum without inputs reads indices. */
typedef struct descent_batch {
  size_t n;                    /* number of examples, >= 1 */
  const descent_real *x;       /* n x example size inputs, or NULL */
  const int32_t *labels;       /* n class labels in [0, classes), or NULL */
  const descent_real *targets; /* n x output size targets, or NULL */
  const size_t *indices;       /* n term indices for finite sums, or NULL */
} descent_batch;

/* An in-memory data set. Owns its arrays (freed by descent_dataset_free).
 *
 * Its inputs are held one of two ways. As numbers in x, or, for a set of
 * 8-bit images loaded with descent_idx_load_dataset_bytes or
 * descent_fashion_mnist_load_bytes, as those bytes: a quarter of the memory,
 * and a quarter of the reads when a batch is gathered. Then x is NULL and
 * input j of example i is, computed in descent_real,
 *     ((descent_real)bytes[i * features + j] / 255 - byte_mean[j]) * byte_inv_std[j]
 * or bytes[i * features + j] / 255 alone while byte_mean is NULL: bit for bit
 * the number x would hold after the same loading and standardization.
 * descent_dataset_rows reads the inputs of either kind. The batcher, the
 * trainer, descent_net_evaluate, descent_net_refresh_batch_norm, the split,
 * truncation and preprocessing take both; descent_dataset_expand turns bytes
 * into x for code that reads x itself. */
typedef struct descent_dataset {
  size_t n;                   /* number of examples */
  descent_shape shape;        /* shape of one example, e.g. {1, 28, 28} */
  size_t features;            /* descent_shape_size(&shape) */
  size_t classes;             /* number of classes (labels in [0, classes)); 0 if none */
  descent_real *x;            /* n x features inputs, or NULL when held as bytes */
  int32_t *labels;            /* n labels, or NULL */
  uint8_t *bytes;             /* n x features inputs as bytes, or NULL when x holds them */
  descent_real *byte_mean;    /* features means the standardization subtracts, or NULL */
  descent_real *byte_inv_std; /* features factors it applies; NULL exactly when byte_mean is */
} descent_dataset;

void descent_dataset_free(descent_dataset *ds);

/* Writes the inputs of examples first .. first + count - 1 of ds into out
 * (count x features numbers), from x or decoded from bytes as above.
 * DESCENT_OK; EINVAL for a range beyond the set, a NULL argument, or a set
 * that holds no inputs. */
int descent_dataset_rows(const descent_dataset *ds, size_t first, size_t count, descent_real *out);

/* Turns a set held as bytes into one held as numbers (x, the same values;
 * bytes, byte_mean and byte_inv_std freed and NULL). DESCENT_OK, also when x
 * already holds them; ENOMEM (ERANGE for a size beyond size_t) when the
 * memory for x cannot be had, the set unchanged. */
int descent_dataset_expand(descent_dataset *ds);

/* Checks that every label of ds (if it has labels) is a class index in
 * [0, classes), classes >= 1: a model with that many outputs can score it.
 * The message names `name` (say, the labels file), the first offending
 * example (counted from 0), its label and the valid range. */
int descent_dataset_check_labels(const descent_dataset *ds, size_t classes, const char *name);

/* Loads an image file and a label file in IDX format (gzipped or plain, told
 * apart by content). Images must be unsigned bytes with 1 to 3 dimensions per
 * example; pixels are scaled to [0, 1]. Labels must be one unsigned byte per
 * example. The header is validated (magic number, element type, dimensions,
 * overflow, size against the file) before anything large is allocated. */
int descent_idx_load_dataset(const char *images_path, const char *labels_path,
                             descent_dataset *out);

/* The same, the images held as their bytes (bytes set, x NULL; see
 * descent_dataset): the values are those of descent_idx_load_dataset. */
int descent_idx_load_dataset_bytes(const char *images_path, const char *labels_path,
                                   descent_dataset *out);

/* Where Debian's dataset-fashion-mnist package installs the files. */
#define DESCENT_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Loads Fashion-MNIST's training and test sets from dir (NULL: the default
 * above), files named train-images-idx3-ubyte[.gz] and so on. When the
 * calling thread's OpenMP count is 2 or more, the two splits are read at
 * once on two threads; the data, and the message of a failure (the
 * training split's first), are those of a read on one. */
int descent_fashion_mnist_load(const char *dir, descent_dataset *train, descent_dataset *test);

/* The same, both splits' images held as their bytes. */
int descent_fashion_mnist_load_bytes(const char *dir, descent_dataset *train,
                                     descent_dataset *test);

/* Moves n_val randomly chosen examples (seeded) of ds into val. The examples
 * left in ds keep their relative order. A set held as bytes gives a val held
 * as bytes, with a copy of its standardization. */
int descent_dataset_split(descent_dataset *ds, size_t n_val, uint64_t seed, descent_dataset *val);

/* Keeps only the first n examples (n <= ds->n). For quick runs and tests. */
int descent_dataset_truncate(descent_dataset *ds, size_t n);

/* Options of the text loaders (CSV and LIBSVM). */
typedef struct descent_text_options {
  int label_column;    /* CSV: 0-based column of the class label; -1: the last (default) */
  int header;          /* CSV: 1 the first line is a header (skipped unread); 0 there is
                          none; -1 (default) the first line is a header only if no field
                          of it is a number. A data line that fails to parse (a typo,
                          NaN, an empty field) is an error naming line and column,
                          never taken for a header */
  char delimiter;      /* CSV: field separator; default ',' */
  size_t features;     /* LIBSVM: features per example; 0: the largest index found (default) */
  size_t max_bytes;    /* files larger than this are refused unread; default 1 GiB */
  size_t max_elements; /* examples x features beyond this are refused; default 2^28 */
} descent_text_options;

/* Fills o with the defaults above (every field written). */
void descent_text_options_default(descent_text_options *o);
/* The same as descent_text_options_default, under its former name: kept so
 * that existing callers build; new code uses the _default name, as every
 * other options struct does. */
void descent_text_options_init(descent_text_options *o);

/* Loads a numeric CSV file: one example per line, every field a finite number,
 * one of them the class label (a whole number >= 0). Blank lines are skipped,
 * and so is a UTF-8 byte order mark at the start (it is not data). Loading
 * is linear in the file's size. o may be NULL for the defaults. */
int descent_csv_load(const char *path, const descent_text_options *o, descent_dataset *out);

/* Loads a LIBSVM file (`label index:value ...`, indices from 1, increasing),
 * densified. Labels are class indices; -1/+1 are read as classes 0 and 1.
 * Text after '#' is a comment. o may be NULL for the defaults. */
int descent_libsvm_load(const char *path, const descent_text_options *o, descent_dataset *out);

/* The same, from memory: data[len] must be '\0'; name is used in messages. */
int descent_csv_parse(const char *data, size_t len, const char *name, const descent_text_options *o,
                      descent_dataset *out);
int descent_libsvm_parse(const char *data, size_t len, const char *name,
                         const descent_text_options *o, descent_dataset *out);

/* Input preprocessing, fitted on the training set only and then applied to
 * every split. */
typedef enum descent_preprocess_kind {
  DESCENT_PREPROCESS_NONE = 0,        /* inputs as loaded (pixels in [0, 1]) */
  DESCENT_PREPROCESS_STANDARDIZE = 1, /* per feature: (x - mean) / (std + eps) */
  DESCENT_PREPROCESS_PCA = 2,         /* (Lambda + eps)^(-1/2) U^T (x - mean) */
  DESCENT_PREPROCESS_ZCA = 3          /* U (Lambda + eps)^(-1/2) U^T (x - mean) */
} descent_preprocess_kind;

/* Whitening (PCA, ZCA): with the training covariance C = U Lambda U^T
 * (population covariance, LAPACK's dsyevd in double), both give the inputs
 * identity covariance (up to eps): PCA expresses them in the eigenbasis,
 * largest variance first (each eigenvector's sign fixed so its largest
 * entry is positive); ZCA rotates back, and of all whitening transforms it
 * moves the inputs least (Kessy, Lewin & Strimmer 2018), so images still
 * look like images. eps keeps directions of (nearly) zero variance from being blown
 * up: those with eigenvalue well below eps keep roughly their scale. */
typedef struct descent_preprocess {
  descent_preprocess_kind kind;
  size_t features;       /* length of mean and inv_std; whiten is features^2 */
  double eps;            /* standardize: added to each feature's standard
                            deviation; pca, zca: added to each eigenvalue */
  descent_real *mean;    /* per-feature mean of the training inputs */
  descent_real *inv_std; /* standardize: per-feature 1 / (std + eps); else NULL */
  descent_real *whiten;  /* pca, zca: W, row-major, x' = W (x - mean); else NULL */
} descent_preprocess;

/* Parses "none", "standardize", "pca" or "zca". */
int descent_preprocess_parse(const char *name, descent_preprocess_kind *kind);
const char *descent_preprocess_name(descent_preprocess_kind kind);
/* The eps descent uses when none is given: 1e-3 for standardize (on pixels
 * in [0, 1], std ranges up to 0.4), 1e-2 for pca and zca (on Fashion-MNIST
 * the covariance's eigenvalues fall from 19.8 to 1e-7; 302 of the 784 lie
 * above 1e-2 and hold 97.4% of the variance: the weaker directions, mostly
 * pixel noise, are damped rather than scaled up to unit variance). */
double descent_preprocess_default_eps(descent_preprocess_kind kind);
/* Fits on train. eps as above; must be positive and finite. Whitening
 * builds the features x features covariance and eigendecomposes it: a few
 * seconds for 784 features. */
int descent_preprocess_fit(descent_preprocess *pp, descent_preprocess_kind kind,
                           const descent_dataset *train, double eps);
/* Applies the fitted preprocessing in place; ESHAPE if the widths differ.
 * On a set held as bytes a first standardization is kept beside them
 * (byte_mean, byte_inv_std); a second one, or any whitening, first turns
 * the bytes into numbers (descent_dataset_expand: four times the memory,
 * ENOMEM when it cannot be had, the set then unchanged). */
int descent_preprocess_apply(const descent_preprocess *pp, descent_dataset *ds);
void descent_preprocess_free(descent_preprocess *pp);

/* Seeded shuffling into minibatches: each epoch a new random order (or the
 * data order), cut into batches of batch_size examples (the last one may be
 * smaller), each gathered into contiguous buffers the batcher owns
 * (allocated once, at creation: handing out a batch allocates nothing). The
 * same seed gives the same sequence of batches. The trainer has its own;
 * this one is for programs with a loop of their own. */
typedef struct descent_batcher descent_batcher;

/* A batcher over ds (not owned: keep it alive and unchanged until
 * descent_batcher_free), shuffle 1 for a new random order each epoch, 0 for
 * the data order. DESCENT_EINVAL for an empty data set or a batch size of
 * 0. */
int descent_batcher_create(descent_batcher **out, const descent_dataset *ds, size_t batch_size,
                           int shuffle, uint64_t seed);
/* Fills batch with the next minibatch and returns 1, or returns 0 at the end of
 * an epoch (the next call starts a new, reshuffled epoch). The batch's
 * arrays are the batcher's, valid until its next call; batch->indices are
 * the examples' positions in the data set. */
int descent_batcher_next(descent_batcher *b, descent_batch *batch);
/* Number of batches in one epoch. */
size_t descent_batcher_batches(const descent_batcher *b);
/* Epochs started so far (0 before the first batch). */
int64_t descent_batcher_epoch(const descent_batcher *b);
/* Releases the batcher; NULL is accepted. */
void descent_batcher_free(descent_batcher *b);

/* ------------------------------------------------------------------------ */
/* Objectives                                                               */
/* ------------------------------------------------------------------------ */

typedef struct descent_objective descent_objective;

/* Tagged sections of a checkpoint, for state that is not the parameters: an
 * objective's own (a network's batch-norm statistics and dropout RNG), a
 * batch source's, anything a user's program must restore to resume exactly.
 * A section is a 4-byte tag of printable ASCII (e.g. "EMA ", "MYST") and a
 * payload of bytes that the library stores as given, with a CRC-32 (write
 * numbers in a fixed byte order, e.g. little-endian, so files move between
 * machines). The trainer passes a writer to the save hooks and a reader to
 * the load hooks (descent_objective_ops.save_state and load_state,
 * descent_trainer_options.save_sections and load_sections); neither outlives
 * the call. */
typedef struct descent_section_writer descent_section_writer;
typedef struct descent_section_reader descent_section_reader;

/* Appends a section: tag (4 printable ASCII characters, no NUL inside;
 * exactly 4 are read) and len bytes of data (copied; data may be NULL when
 * len is 0). DESCENT_EINVAL for a malformed tag, one already in the file
 * or one the trainer keeps for itself ("OBJ ", "PARM", "PREP", "CKPT",
 * "OPTS", "BTCH", "EPOC", "LOSS", "CONF", "TRAK"), DESCENT_ERANGE beyond 64 sections
 * in a file, DESCENT_ENOMEM. */
int descent_section_put(descent_section_writer *w, const char *tag, const void *data, size_t len);

/* Finds the section tagged tag in the checkpoint being read: *data (valid
 * during the hook's call only, not aligned) and *len. The file's CRCs have
 * been checked; the payload's content is the caller's to check.
 * DESCENT_EFORMAT when it is missing or appears twice, with a message naming
 * the file and the tag. */
int descent_section_get(const descent_section_reader *r, const char *tag, const void **data,
                        size_t *len);
/* The name of what is being read, for messages: the file's path, or "the
 * last good checkpoint" during a rollback. */
const char *descent_section_source(const descent_section_reader *r);

/* What an objective can do. value_and_grad is required, everything else
 * optional (NULL). The hooks after `destroy` let the trainer checkpoint an
 * objective that holds more state than its parameters, or that limits its
 * batches; an objective whose whole state is obj->params needs none of them. */
typedef struct descent_objective_ops {
  const char *kind; /* e.g. "network", "quadratic"; saved in checkpoints and compared
                       when they are loaded (at most 255 bytes) */
  /* Loss on batch (NULL: the whole objective, for objectives that have one) and
   * its gradient with respect to params, written to obj->grad. */
  int (*value_and_grad)(descent_objective *obj, const descent_batch *batch, double *loss);
  /* Loss only. NULL: callers use value_and_grad and ignore the gradient. */
  int (*value)(descent_objective *obj, const descent_batch *batch, double *loss);
  /* Releases impl. */
  void (*destroy)(descent_objective *obj);
  /* The largest batch value_and_grad takes (a network's activations are
     allocated for one size); 0 or NULL: no limit. The trainer refuses
     larger batches when it is created. */
  size_t (*max_batch)(const descent_objective *obj);
  /* Checks that examples of ds fit the objective (a network: its input
     size); non-zero with a message refuses the data set. NULL: any. ds may
     hold its inputs as bytes (x NULL; see descent_dataset). */
  int (*check_data)(const descent_objective *obj, const descent_dataset *ds);
  /* Writes the objective's state beyond obj->params into a checkpoint, as
     sections (descent_section_put). The trainer saves the parameters
     itself. */
  int (*save_state)(const descent_objective *obj, descent_section_writer *w);
  /* Checks that a checkpoint's sections fit this objective, changing
     nothing: a non-zero return (with a message starting with
     descent_section_source(r)) refuses the file before anything is
     restored. Called before load_state, whose sections it must vouch for. */
  int (*check_state)(const descent_objective *obj, const descent_section_reader *r);
  /* Restores what save_state wrote, from sections check_state accepted.
     It is called after everything else has been checked and only plain
     copies remain, so it should not fail; when it does (say, for lack of
     memory) the trainer returns its status and its state is undefined until
     a checkpoint loads. */
  int (*load_state)(descent_objective *obj, const descent_section_reader *r);
  /* Deterministic re-evaluation, for methods that evaluate one step's
     objective more than once (a line search, conjugate gradients, a
     diagnostic). The step's randomness is fixed by its last value_and_grad
     (or value) call on batch: reevaluate computes the loss at the current
     obj->params on that same batch with the same randomness (a network:
     the same dropout masks, batch norm on the batch's statistics as in
     training), and writes the gradient to grad when it is not NULL (it may
     be obj->grad, or a buffer of n_params values of the caller's). It has
     no side effects: two calls at the same params give the same bits, and
     the objective's state (a network's RNG and batch-norm running
     statistics) is left as the step left it. NULL: the objective has no
     randomness or state to fix, and value_and_grad is already deterministic
     (descent_objective_reevaluate then calls it). A call before any
     value_and_grad, or on a batch of another size, fails with
     DESCENT_EINVAL. */
  int (*reevaluate)(descent_objective *obj, const descent_batch *batch, double *loss,
                    descent_real *grad);
  /* Curvature-vector products at the current obj->params on batch, with the
     randomness of reevaluate (same contract: no side effects, obj->grad
     untouched): out = H v, the exact Hessian of the loss with respect to
     params times v (hvp), or out = G v, the generalized Gauss-Newton matrix
     G = J^T H_L J times v (ggnvp), with J the Jacobian of the model's output
     with respect to params and H_L the loss's Hessian with respect to that
     output (softmax cross-entropy, mean squared error: positive
     semi-definite). v and out hold n_params values each and must not
     overlap. NULL where the objective has no such product; a product that
     exists but cannot be computed for this instance (a network layer
     without it) returns DESCENT_ENOTSUP with a message naming what is
     missing, never an approximate value. The lab's problems have both,
     analytic: hvp for every family; ggnvp for the sums of squares (the
     quadratics quad2d and quadnd, whose positive definite A makes them
     1/2 |A^(1/2) theta|^2, and linreg and finite_sum, where G = H;
     rosenbrock, G = 2 J^T J of its two residuals), DESCENT_ENOTSUP naming
     the family for the others; their
     reevaluate is an evaluation that leaves obj->grad alone, and their
     ggn_diagonal (where ggnvp exists) is exact, or with samples > 0
     Hutchinson's estimate (the mean of z * G z over random +-1 vectors z,
     also unbiased with an error falling as 1/sqrt(samples)). */
  int (*hvp)(descent_objective *obj, const descent_batch *batch, const descent_real *v,
             descent_real *out);
  int (*ggnvp)(descent_objective *obj, const descent_batch *batch, const descent_real *v,
               descent_real *out);
  /* The diagonal of G (as ggnvp's) at the current params on batch, with
     reevaluate's randomness and contract, into out (n_params values).
     samples 0: exact; samples > 0: a Monte-Carlo estimate from that many
     draws of the loss's own distribution (labels sampled from the model's
     softmax for cross-entropy, Gaussian noise for MSE; never the batch's
     labels, whose squared gradients are the empirical Fisher, another
     matrix), unbiased, its error falling as 1/sqrt(samples), drawn from an
     RNG seeded with seed (the objective's own RNG is not touched). Costs
     one backward pass per class (exact) or per sample. NULL where
     unavailable; a network whose parameters are not all in dense and conv
     layers (batch norm mixes the examples) returns DESCENT_ENOTSUP naming
     the layer. */
  int (*ggn_diagonal)(descent_objective *obj, const descent_batch *batch, size_t samples,
                      uint64_t seed, descent_real *out);
  /* Per-example gradients, summarized, at the current params on batch, with
     reevaluate's randomness and contract (no side effects, obj->grad
     untouched). The batch loss is the mean of the examples' own losses
     l_i; with g_i the gradient of l_i alone (so the batch gradient is the
     mean of the g_i), writes sq[i] = |g_i|^2 for each of the batch->n
     examples, and dot[i] = g_i . v when v is not NULL (v holds n_params
     values; dot may be NULL when v is). Exact for every layer whose
     examples are independent (dense, conv: the per-example gradient is
     formed, at the cost of the batch's weight gradient); with batch norm in
     training mode, an example's gradient also depends on the others, and
     g_i is example i's term of the batch gradient's sum (times n), as
     BackPACK's BatchGrad defines it. The lab's least-squares problems
     (linreg, finite_sum) have it in closed form (a batch NULL or without
     indices: one value per term, info.n_terms of them); their other
     families return DESCENT_ENOTSUP naming the family. NULL where
     unavailable; a network with a layer kind that lacks it (a registered
     kind with parameters) returns DESCENT_ENOTSUP naming the layer.
     DESCENT_EINVAL for sq NULL, or dot NULL with v. Costs one replayed
     forward and backward pass. */
  int (*example_gradients)(descent_objective *obj, const descent_batch *batch,
                           const descent_real *v, double *sq, double *dot);
} descent_objective_ops;

/* An objective owns its flat parameter and gradient buffers and the table of
 * named tensors over them. Users may write their own (fill the fields, point
 * ops at their functions) and hand it to any optimizer or training loop. */
struct descent_objective {
  const descent_objective_ops *ops;
  size_t n_params;              /* length of params and grad */
  descent_real *params;         /* the parameters theta */
  descent_real *grad;           /* gradient written by value_and_grad */
  size_t n_tensors;             /* entries in tensors */
  descent_tensor_info *tensors; /* named views into params / grad */
  void *impl;                   /* the implementation's own data */
};

/* Convenience wrappers around ops. */
int descent_objective_value_and_grad(descent_objective *obj, const descent_batch *batch,
                                     double *loss);
int descent_objective_value(descent_objective *obj, const descent_batch *batch, double *loss);
/* ops->reevaluate when the objective has it; otherwise value_and_grad at
 * the current params, its gradient copied to grad when grad is not NULL and
 * not obj->grad (obj->grad then holds it too). */
int descent_objective_reevaluate(descent_objective *obj, const descent_batch *batch, double *loss,
                                 descent_real *grad);
/* ops->hvp and ops->ggnvp; DESCENT_ENOTSUP naming the objective's kind when
 * it has no such product. */
int descent_objective_hvp(descent_objective *obj, const descent_batch *batch, const descent_real *v,
                          descent_real *out);
int descent_objective_ggnvp(descent_objective *obj, const descent_batch *batch,
                            const descent_real *v, descent_real *out);
/* ops->ggn_diagonal; DESCENT_ENOTSUP naming the objective's kind when it
 * has none. */
int descent_objective_ggn_diagonal(descent_objective *obj, const descent_batch *batch,
                                   size_t samples, uint64_t seed, descent_real *out);
/* ops->example_gradients; DESCENT_ENOTSUP naming the objective's kind when
 * it has none. */
int descent_objective_example_gradients(descent_objective *obj, const descent_batch *batch,
                                        const descent_real *v, double *sq, double *dot);

/* Gradient accumulation (optax's MultiSteps, PyTorch's loop of backward
 * passes before one step): an objective over inner (not owned: keep it
 * alive; free the wrapper with descent_objective_free) that evaluates a
 * batch of n examples as consecutive micro-batches of micro_batch examples
 * of inner (the last one smaller when micro_batch does not divide n),
 * so a trainer with batch_size B*K steps on batches of B*K while inner's
 * activations need room for micro_batch only. Its loss and gradient are the
 * micro-batches' means, each weighted by its size over n and summed in
 * double in data order, then rounded once to descent_real: the mean over
 * the batch, as inner would compute it on the whole batch up to the order
 * of the sums (the batch's gradient sums its examples in one pass, the
 * wrapper sums micro-batch partial sums: the last bits differ, also in the
 * double build). A batch of at most micro_batch examples (or NULL) goes to
 * inner unchanged: the same bits as inner alone.
 * features and outputs are one example's widths in batch->x and
 * batch->targets, to cut them (a network: descent_shape_size of
 * descent_net_input_shape, and descent_net_outputs; 0 where batches have
 * none: a batch that has them is then refused).
 * State and randomness are inner's, evaluated in micro-batch order: a
 * network's batch norm normalizes each micro-batch with its own statistics
 * (as PyTorch does under accumulation: different from the large batch) and
 * updates its running statistics once per micro-batch; dropout draws each
 * micro-batch's masks from the network's RNG in turn, first micro-batch
 * first. Checkpoints hold inner's state (save_state and load_state pass
 * through; the kind is inner's): the trainer checkpoints between steps, so
 * a checkpoint never holds a partial accumulation.
 * Re-evaluation (descent_objective_reevaluate) of a batch of several
 * micro-batches works for an inner without randomness or state (no
 * reevaluate of its own: it evaluates again); for one with them (a
 * network) it returns DESCENT_ENOTSUP, since inner replays only its last
 * micro-batch. The curvature products, the Gauss-Newton diagonal and the
 * per-example gradients are not offered (the methods that need them are
 * refused when a trainer is made): accumulate with chain optimizers.
 * DESCENT_EINVAL for a NULL argument, micro_batch 0 or above inner's
 * max_batch; DESCENT_ENOMEM. Costs 2 n_params values of memory (a double
 * sum and the gradient). */
int descent_objective_accumulate(descent_objective **out, descent_objective *inner,
                                 size_t micro_batch, size_t features, size_t outputs);

/* Finite-difference check of value_and_grad at the current parameters, by
 * central differences with step h on every parameter (or on `probes` randomly
 * chosen ones when probes > 0). Reports the largest relative error
 * |g - g_fd| / max(|g|, |g_fd|, floor) over the checked coordinates. Meant for
 * the double-precision build; parameters are restored afterwards. */
typedef struct descent_gradcheck_result {
  double max_rel_error; /* largest relative error found */
  size_t worst_index;   /* parameter where it was found */
  double analytic;      /* gradient there, from value_and_grad */
  double numeric;       /* gradient there, from finite differences */
  size_t checked;       /* coordinates checked */
} descent_gradcheck_result;

int descent_gradcheck(descent_objective *obj, const descent_batch *batch, double h, double floor,
                      size_t probes, uint64_t seed, descent_gradcheck_result *result);

/* ------------------------------------------------------------------------ */
/* Networks                                                                 */
/* ------------------------------------------------------------------------ */

typedef enum descent_loss_kind {
  DESCENT_LOSS_SOFTMAX_XENT = 0, /* softmax cross-entropy on integer labels, batch mean */
  DESCENT_LOSS_MSE = 1           /* 1/2 squared error summed over outputs, batch mean */
} descent_loss_kind;

int descent_loss_parse(const char *name, descent_loss_kind *kind);
const char *descent_loss_name(descent_loss_kind kind);

typedef struct descent_net descent_net;

/* Builds a sequential network from a text spec for inputs of the given shape.
 *
 * Spec grammar:
 *   mlp:IN-H1-...-OUT[/ACT]     dense layers with ACT between them
 *                               (relu by default; tanh or sigmoid), e.g.
 *                               "mlp:784-256-128-10". IN must match the input.
 *   LAYER, LAYER, ...           a general layer list, e.g.
 *                               "dense(256), relu, dense(10)". Commas or
 *                               whitespace separate layers.
 *   cnn:fmnist_2c2d             DeepOBS's Fashion-MNIST CNN: "conv(32, 5,
 *                               pad=2), relu, maxpool(2), conv(64, 5, pad=2),
 *                               relu, maxpool(2), flatten, dense(1024), relu,
 *                               dense(10)", weights truncated normal (std
 *                               0.05), biases 0.05, as DeepOBS initializes it.
 * Layers (shapes are per example; images are C x H x W):
 *   dense(OUT[, init=auto|he|glorot|tnormal][, bias=1|0][, std=0.05][, bias_init=0])
 *                               y = W x + b on the input seen as a flat vector
 *   conv(OUT, KERNEL[, stride=1][, pad=0][, bias=1][, init=...][, std=][, bias_init=])
 *                               2D convolution as PyTorch's Conv2d, square
 *                               kernel, zero padding on each side
 *   maxpool(KERNEL[, stride=KERNEL][, pad=0]), avgpool(...)
 *                               as MaxPool2d and AvgPool2d (padding at most
 *                               KERNEL/2; avgpool divides by KERNEL^2)
 *   flatten                     C x H x W to a vector (dense does it anyway;
 *                               it matters before batchnorm)
 *   batchnorm([momentum=0.1][, eps=1e-5])
 *                               as BatchNorm1d on a vector (per feature) and
 *                               BatchNorm2d on an image (per channel)
 *   dropout([p=0.5])            inverted dropout, off in evaluation
 *   relu, tanh, sigmoid
 *   NAME(...)                   a kind the program registered
 *                               (descent_layer_register)
 * Weights are initialized from seed: He normal for a layer followed by relu,
 * Glorot uniform otherwise (init= overrides; tnormal is a normal of std
 * `std` redrawn beyond two deviations); biases start at bias_init (zero).
 * Dropout masks come from a second RNG seeded from seed (see
 * descent_net_get_rng).
 * max_batch is the largest batch the network will be given (activations are
 * allocated once, for that size). The network's thread count starts at 0
 * (see descent_net_set_threads); its per-thread work areas are sized for the
 * calling thread's OpenMP count at creation. On the avx2 path of a
 * library built with oneDNN, the first network in a process whose dense
 * products oneDNN takes (from 2^20 multiply-adds at max_batch) also has
 * oneDNN generate its GEMM kernels then, 15-40 ms once, so that its first
 * training step does not (on a CPU with AVX-512 forced to the avx2 path,
 * only after descent_cpu_setup; before it, oneDNN takes no product). */
int descent_net_create(descent_net **out, const char *spec, const descent_shape *input,
                       descent_loss_kind loss, size_t max_batch, uint64_t seed);
void descent_net_free(descent_net *net);

/* The threads each later call of the network runs on (its objective's value
 * and gradient, predict, evaluate): a count >= 1, or 0 (the default) for the
 * calling thread's OpenMP setting at each call (see "Threading rules").
 * Convolution and pooling layers keep per-thread work areas, sized at
 * creation for the calling thread's OpenMP count then: a larger count here
 * makes them anew for it (DESCENT_ENOMEM, the network unchanged, when that
 * fails); with 0, those layers use at most as many threads as their areas
 * were made for (results do not depend on it). DESCENT_EINVAL for a
 * negative count, DESCENT_ERANGE for more threads than an address-space
 * limit leaves room for. Inside a trainer's run, a trainer's own count
 * (descent_trainer_options.threads) holds instead. */
int descent_net_set_threads(descent_net *net, int threads);
int descent_net_threads(const descent_net *net);

/* Seams for data-parallel training. Each replica of a data-parallel run
 * (one process of an MPI job, a thread of a test) holds its own network and
 * evaluates its own shard of every global batch; the library knows nothing
 * of the transport: these two callbacks are where the replicas meet.
 *
 * The gradient-ready hook: called during value_and_grad's backward pass each
 * time a layer's parameter gradient is final, with offset and count (> 0)
 * giving its parameters' range in the objective's params and grad. Layers
 * finish last to first, so the ranges arrive in decreasing offset order and
 * cover [0, n_params) exactly once per call of value_and_grad (layers
 * without parameters are skipped); a transport can start summing a range
 * while the layers before it are still computing. Not called by reevaluate,
 * the curvature products, the Gauss-Newton diagonal or the per-example
 * gradients, nor after an evaluation has failed. The hook may read and
 * change grad[offset, offset + count) (scale it, start sending it) and
 * nothing else of the network; it runs on the thread that called
 * value_and_grad, outside any parallel region, with the network's thread
 * count applied. fn NULL (the default) removes it; user is passed back
 * untouched and not owned. */
typedef void (*descent_grad_ready_fn)(void *user, size_t offset, size_t count);
void descent_net_set_grad_ready(descent_net *net, descent_grad_ready_fn fn, void *user);

/* Synchronized batch norm (PyTorch's SyncBatchNorm): when sum is set, every
 * batch-norm layer in training mode takes its batch statistics over the
 * union of all replicas' batches. sum(user, values, n) must replace
 * values[0, n) by their element-wise sums over the replicas (an all-reduce:
 * every replica calls it at the same points with the same n and gets the
 * same result), returning 0, or a negative status with a message
 * (descent_set_error) that the evaluation then returns at once, making no
 * further calls. A layer with C channels makes one call per pass:
 *  - forward, n = 1 + 2C: values[0] the replica's count of values per
 *    channel (examples times positions), values[1 + c] the sum of channel
 *    c's inputs, values[1 + C + c] the sum of their squares (all in double).
 *    The mean and the biased variance come from the totals (the variance as
 *    sum of squares / count - mean^2); the running statistics move with
 *    them, the variance made unbiased by the total count (as SyncBatchNorm),
 *    so every replica's stay equal. A replica may hold a single value per
 *    channel; the totals must hold two (DESCENT_ESHAPE otherwise).
 *  - backward, n = 2C: values[c] and values[C + c] are the replica's sums
 *    over channel c of dy and of dy * xhat (xhat the normalized input), each
 *    times the replica's number of examples: the sums of the per-example
 *    loss gradients, since each replica's loss is the mean over its own
 *    examples. The input gradient then uses the totals divided by that
 *    number again, so that with shards of any sizes n_k of a global batch
 *    of N examples the gradient of the global batch's mean loss is
 *    sum_k (n_k / N) g_k, g_k replica k's gradient (PyTorch sums the plain
 *    dy sums and averages the replicas' gradients: the same for equal
 *    shards). The layer's own gamma and beta gradients stay the replica's.
 * So a network with L batch-norm layers makes 2L calls per value_and_grad
 * (L per value), each from the thread that called it, outside any parallel
 * region. Every training-mode forward and every backward through a
 * batch-norm layer calls it: value_and_grad, value, reevaluate, the
 * curvature products, the per-example gradients and K-FAC's statistics.
 * The products synchronize their own passes too, so that sum_k (n_k / N)
 * of the replicas' G v or H v is the global batch's: per layer one more
 * call for the tangent (n = 2C: the sums of the input's tangent rx and of
 * xhat rx, summed plain), and for H v one for the R-operator's backward
 * (n = 4C: the sums of dy, dy xhat, R{dy} and R{dy xhat}, each times the
 * replica's number of examples): 3L calls per ggnvp and 4L per hvp, the
 * replayed forward's included. All replicas must make the same
 * evaluations, in the same order (a replica that stops early, say on a bad
 * label, leaves the others waiting: a transport should end the run).
 * Evaluation mode (predict, evaluate) is unchanged. sum NULL (the default):
 * each replica's own batch, as PyTorch's DistributedDataParallel, and the
 * same bits as without this call. user is passed back untouched and not
 * owned. Returns DESCENT_OK. */
typedef int (*descent_sum_fn)(void *user, double *values, size_t n);
int descent_net_set_batch_norm_sync(descent_net *net, descent_sum_fn sum, void *user);

/* The network as an objective: its value is the batch-mean loss. The returned
 * pointer is owned by the network. It offers the deterministic re-evaluation,
 * both curvature-vector products and the Gauss-Newton diagonal of
 * descent_objective_ops (reevaluate, hvp, ggnvp, ggn_diagonal): they replay
 * the last value_and_grad's randomness (its dropout masks; batch norm in
 * training mode, on the batch's statistics, its running statistics restored),
 * so call value_and_grad on a batch first (DESCENT_EINVAL otherwise), then any
 * number of them on that batch. The products run through every built-in layer
 * and through registered kinds that give jvp (and rbackward, for hvp); their
 * forward-mode and second-order passes compute in descent_real whatever
 * descent_net_set_precision says, the ordinary backward passes they share with
 * the gradient in the network's precision. Batch norm is differentiated in
 * training mode, as the objective evaluates it (the batch's statistics move
 * with the direction). The diagonal needs per-example gradients: dense and
 * conv layers have them, batch norm (which mixes the examples) refuses. Their
 * memory (an output tangent per layer, about as much as the activations) is
 * allocated at the first call (DESCENT_ENOMEM) and kept. */
descent_objective *descent_net_objective(descent_net *net);

/* Number of outputs per example (classes, for a classifier). */
size_t descent_net_outputs(const descent_net *net);

/* A human-readable summary: one line per layer with shapes and parameter
 * counts. Returns the length it wanted (like snprintf). */
size_t descent_net_describe(const descent_net *net, char *buf, size_t cap);

/* Forward pass in evaluation mode on n <= max_batch examples; writes n x outputs
 * to out (the pre-softmax scores for a classifier). */
int descent_net_predict(descent_net *net, const descent_real *x, size_t n, descent_real *out);

/* Weights exchange with PyTorch through safetensors files. Tensor names are
 * those of the equivalent torch.nn.Sequential's state_dict ("0.weight",
 * "2.bias": the 0-based layer position, then the parameter) and layouts are
 * PyTorch's, so the file loads with load_state_dict. Batch norm's running
 * statistics are included as PyTorch names them ("1.running_mean",
 * "1.running_var"), with "1.num_batches_tracked", an I64 scalar: descent does
 * not count batch-norm steps, so export writes 0 and import checks its type
 * and ignores its value (it may be absent). Export writes F32 (F64 in the
 * double build) atomically, with the model spec in the metadata; import reads
 * F32 or F64, checks every offset, size, name and shape against the file and
 * the network and every value (finite at this build's precision, running
 * variances not negative), and changes nothing unless all of them pass. */
int descent_net_export_safetensors(const descent_net *net, const char *path);
int descent_net_import_safetensors(descent_net *net, const char *path);

/* Mean loss and accuracy (fraction of correct argmax; 0 if no labels) over a
 * whole data set, in evaluation mode, in batches of at most max_batch. */
int descent_net_evaluate(descent_net *net, const descent_dataset *ds, double *loss,
                         double *accuracy);

/* Batch norm's running statistics recomputed for the parameters the network
 * holds now: training-mode forward passes over the first `batches` batches
 * of batch_size examples of ds, in its order (fewer if ds runs out), each
 * moving the running statistics as a training step does (momentum 0.1). The
 * schedule-free reference's recipe for evaluating at its average point
 * (after descent_optimizer_eval; 50 batches there): the statistics gathered
 * where gradients were taken do not fit it. Only the running statistics
 * change: not the parameters, nor the dropout RNG (restored). Labels are
 * read when ds has them (the loss is computed and discarded). A network
 * without batch norm, or batches 0: nothing to do, DESCENT_OK.
 * DESCENT_EINVAL for an empty ds or a batch size outside [1, max_batch],
 * DESCENT_ESHAPE for examples of another size. */
int descent_net_refresh_batch_norm(descent_net *net, const descent_dataset *ds, size_t batch_size,
                                   size_t batches);

/* The network's non-learned state: batch norm's running means and variances,
 * in one flat array with its table of named tensors ("layer2.batchnorm.
 * running_mean"). Saved with the model; optimizers never see it. count may be
 * NULL. */
descent_real *descent_net_buffers(descent_net *net, size_t *count);
const descent_tensor_info *descent_net_buffer_tensors(const descent_net *net, size_t *count);

/* The state of the RNG that draws dropout masks: saving it and restoring it
 * replays the same masks (a checkpoint saves it; a gradient check restores it
 * before each evaluation to keep one mask). */
void descent_net_get_rng(const descent_net *net, descent_rng *rng);
void descent_net_set_rng(descent_net *net, const descent_rng *rng);

/* What the network was built from. */
const char *descent_net_spec(const descent_net *net);
descent_shape descent_net_input_shape(const descent_net *net);
descent_loss_kind descent_net_loss(const descent_net *net);
size_t descent_net_max_batch(const descent_net *net);

/* The precision of a network's matrix products, as PyTorch's
 * torch.autocast(device_type="cpu", dtype=torch.bfloat16) sets it.
 *   DESCENT_PRECISION_FP32 (the default): everything in descent_real.
 *   DESCENT_PRECISION_BF16: the products of dense and conv layers take their
 *     operands (inputs, weights, output gradients) rounded to bfloat16 and
 *     sum them in float; forward outputs and input gradients are rounded to
 *     bfloat16 (autocast's outputs are bfloat16 tensors), weight gradients
 *     stay float. Convolutions then run as im2col + GEMM. Everything else
 *     stays float: activations, pooling, batch norm, the loss, the
 *     parameters (the master weights), the gradient and the optimizer.
 *     It needs the float build, a CPU with AVX512_BF16 and the avx512 kernel
 *     path (descent_isa_path); elsewhere descent_net_set_precision refuses
 *     it with DESCENT_ENOTSUP and a message saying what is missing.
 * The setting belongs to the network object, not to the model: a saved
 * model does not record it. */
typedef enum descent_precision {
  DESCENT_PRECISION_FP32 = 0,
  DESCENT_PRECISION_BF16 = 1
} descent_precision;
/* "fp32" or "bf16"; DESCENT_EINVAL naming the valid choices otherwise. */
int descent_precision_parse(const char *name, descent_precision *precision);
const char *descent_precision_name(descent_precision precision);
int descent_net_set_precision(descent_net *net, descent_precision precision);
descent_precision descent_net_precision(const descent_net *net);

/* Saves a trained model to path: the spec, input shape and loss, the
 * parameters, the buffers (batch-norm statistics), the dropout RNG and the
 * input preprocessing pp (NULL: none), so that descent_net_load gives the
 * same predictions. The file is written to a temporary name, flushed to disk
 * and renamed, so path never holds a partial file.
 *
 * Format (version 1): "DSCNTMDL", u32 version, u32 section count, then
 * sections: 4-byte tag, u64 length, payload, u32 CRC-32 of tag, length and
 * payload; all numbers little-endian, values as IEEE-754 numbers of the
 * saving build's width (4 or 8 bytes). Sections: "NET " (u32 spec length,
 * spec, u32 ndim, u64 dims, u32 loss, u32 width), "PARM" and "BUFF" (u64
 * count, values), "PREP" (u32 kind, u64 features, f64 eps, mean, then
 * inv_std or the whitening matrix), "RNG " (4 u64). Readers skip sections
 * they do not know (a checkpoint adds its own). */
int descent_net_save(const descent_net *net, const descent_preprocess *pp, const char *path);

/* Loads a model saved by descent_net_save, for batches of up to max_batch,
 * and its preprocessing into pp (may be NULL; free it with
 * descent_preprocess_free). Everything is checked before the network is
 * built: magic, version, every section's length against the file size and
 * its CRC, each field's range, the parameter count against the spec.
 * Failures name the file and the problem (DESCENT_EFORMAT for a truncated,
 * corrupted or foreign file, DESCENT_EIO when it cannot be read). The other
 * precision's files load too (values converted). */
int descent_net_load(descent_net **net, descent_preprocess *pp, const char *path, size_t max_batch);

/* ------------------------------------------------------------------------ */
/* Layer kinds of a program's own                                           */
/* ------------------------------------------------------------------------ */

/* A program adds a layer kind to the model-spec language by describing it in
 * a descent_layer_kind and registering it with descent_layer_register. Its
 * name then works as a built-in kind's does: in specs ("dense(64),
 * leaky(slope=0.1), dense(10)"), in descriptions (descent_net_describe), in
 * tensor names ("layer2.scale.weight") and in saved models, which hold the
 * spec and so the name. A model that uses the kind loads only in a process
 * that registered it first; elsewhere descent_net_load fails with a message
 * naming the unknown layer and descent_layer_register.
 *
 * A layer maps a batch of n examples of shape `in` to n outputs of shape
 * `out`, rows of in_size and out_size values, row-major. Its learned
 * parameters are its slice of the network's flat parameter buffer, handed to
 * every call (a layer owns no parameter memory; optimizers update it), and
 * its gradient the same slice of the flat gradient. The network keeps every
 * layer's output for the backward pass, which therefore gets x and y.
 *
 * The callbacks are called from the thread that calls the network, one at a
 * time for one network; two networks in two threads may call the same
 * kind's callbacks at once, so a kind keeps no state of its own: what a
 * layer needs at run time is in its configuration (read-only after
 * configure), its scratch and its buffers. They may use OpenMP. A network's
 * precision (descent_net_set_precision) concerns the built-in dense and conv
 * layers: a registered kind computes in descent_real as it chooses. */

/* The arguments written in a spec's layer item, "leaky(0.1)" or
 * "leaky(slope=0.1)", as configure reads them. Opaque; valid during the call
 * to configure only. */
typedef struct descent_layer_args descent_layer_args;

/* Read the argument named key into *value, or def when the item does not
 * give it. Positional arguments are bound to the keys in the order
 * configure first reads them: a kind that reads "slope" first accepts
 * "leaky(0.1)". _double takes any finite decimal number, _int a whole number
 * in the range of an int, _size a whole number from 0 to 2^53. A value that
 * is not a number, not whole or out of range fails with DESCENT_EINVAL and a
 * message naming the layer, the key and the valid range; configure returns
 * that status. After configure returns, the library refuses the item if it
 * holds a key configure never read (naming the keys it did read), a key
 * given twice, more positional arguments than keys read, or a positional
 * argument after a named one. key: letters, digits and '_', at most 31
 * characters; a kind reads at most 24 keys. def is not checked. */
int descent_layer_arg_double(descent_layer_args *args, const char *key, double def, double *value);
int descent_layer_arg_int(descent_layer_args *args, const char *key, int def, int *value);
int descent_layer_arg_size(descent_layer_args *args, const char *key, size_t def, size_t *value);

/* configure and setup refuse what they cannot take with descent_set_error
 * (see "Status codes and errors"); the library puts "model spec:
 * layer2.leaky: " in front of the message. */

/* One layer of a program's kind, as its callbacks see it. The library fills
 * it before each call. */
typedef struct descent_layer_view {
  const char *name;         /* "layer2.leaky": the 1-based position and the kind */
  const void *config;       /* the configuration configure wrote (config_size bytes);
                               NULL when config_size is 0 */
  descent_shape in;         /* the shape of one input example */
  descent_shape out;        /* the shape of one output example (after setup) */
  size_t in_size, out_size; /* values per example (out_size after setup) */
  size_t max_batch;         /* the most examples one call gets */
  size_t n_params;          /* its parameters (after setup) */
  size_t n_buffers;         /* its buffer values (after setup) */
  descent_real *buffers;    /* its n_buffers values of non-learned state,
                               zeroed at creation, saved with the model; NULL
                               when there are none and during setup */
  void *scratch;            /* scratch_bytes, 64-byte aligned, zeroed at
                               creation, kept from forward to backward; NULL
                               when 0 and during setup */
  descent_rng *rng;         /* the network's generator (the one dropout
                               draws from; saved in checkpoints), for
                               randomness in training */
} descent_layer_view;

/* What setup decides from the input shape and the configuration. */
typedef struct descent_layer_sizes {
  descent_shape out;    /* the output shape of one example; starts as the
                           input shape (right for element-wise kinds) */
  size_t n_params;      /* learned values; starts at 0 */
  size_t n_buffers;     /* non-learned values saved with the model (as batch
                           norm's running statistics); starts at 0 */
  size_t scratch_bytes; /* memory kept from forward to backward, for
                           max_batch examples; starts at 0 */
} descent_layer_sizes;

/* The most tensors (or buffer tensors) one layer names. */
#define DESCENT_LAYER_MAX_TENSORS 4

/* A layer kind. Required: name, setup, forward, backward; tensors when a
 * layer can have parameters, buffer_tensors when it can have buffers. */
typedef struct descent_layer_kind {
  /* The name in specs: a letter, then letters, digits or '_', at most 23
     characters; not a built-in kind's name (dense, conv, maxpool, avgpool,
     flatten, relu, tanh, sigmoid, batchnorm, dropout). */
  const char *name;
  /* How to write it, for messages and help, e.g. "leaky([slope=0.01])", at
     most 127 characters; NULL: the name. */
  const char *usage;
  /* Bytes of the kind's configuration, 0 to 65536: the library allocates
     them zeroed for each layer, configure fills them, the library frees them
     with the network. */
  size_t config_size;
  /* Optional (without it the kind takes no arguments). Reads the item's
     arguments with descent_layer_arg_* into config. Returns DESCENT_OK or a
     negative status (with descent_set_error or an argument reader's
     message). */
  int (*configure)(void *config, descent_layer_args *args);
  /* Given layer->in, in_size, max_batch and config, fills sizes; refuses an
     input it cannot take (descent_set_error, DESCENT_ESHAPE). Called
     whenever a spec is built or a saved model checked, so it allocates
     nothing. */
  int (*setup)(const descent_layer_view *layer, descent_layer_sizes *sizes);
  /* Names its parameter tensors in table (zeroed, DESCENT_LAYER_MAX_TENSORS
     entries) and returns how many: for each, its own name ("weight"; the
     library puts the layer's name and a '.' in front, which must fit the 47
     characters of a tensor name), offset, size and shape. They cover
     [0, n_params) in order: offsets 0, then each the previous offset plus
     the previous size; each size is its shape's product. Saved models and
     safetensors files name the values so ("2.weight" in a safetensors
     file). */
  int (*tensors)(const descent_layer_view *layer, descent_tensor_info *table);
  /* Optional. Writes the initial parameters (n_params values, zero before)
     and buffers (layer->buffers), drawing from rng, the generator seeded by
     descent_net_create's seed (not layer->rng). */
  void (*init)(const descent_layer_view *layer, descent_real *params, descent_rng *rng);
  /* y = f(x) for n examples (n rows of in_size values to n rows of out_size
     values). train is 1 for a training pass (descent_objective_value and
     _value_and_grad), 0 for evaluation (predict, evaluate). */
  void (*forward)(const descent_layer_view *layer, const descent_real *params,
                  const descent_real *x, descent_real *y, size_t n, int train);
  /* Given the gradient dy of the loss with respect to y (n x out_size),
     writes the gradient with respect to the parameters to dparams
     (n_params values, overwritten; summed over the n examples: dy already
     carries the 1/n of the batch-mean loss) and, when dx is not NULL, the
     gradient with respect to x to dx (n x in_size, overwritten; dx is NULL
     for the first layer). x and y are those of the training forward pass
     just before; dx and dy never overlap. */
  void (*backward)(const descent_layer_view *layer, const descent_real *params,
                   const descent_real *x, const descent_real *y, const descent_real *dy,
                   descent_real *dx, descent_real *dparams, size_t n);
  /* Optional; required when a layer can have buffers. Names its buffer
     tensors as tensors names its parameters ("running_mean"), covering
     [0, n_buffers) in order. */
  int (*buffer_tensors)(const descent_layer_view *layer, descent_tensor_info *table);
  /* Optional: what the network's curvature-vector products need
     (descent_objective_ops.ggnvp and hvp); a network with a layer of a kind
     without jvp refuses both products (DESCENT_ENOTSUP naming the layer),
     one without rbackward refuses hvp. Both are called after a training
     forward pass on x that gave y, with its randomness (layer->rng replayed,
     the same masks as that forward drew).
     jvp: the directional derivative of forward along rx (the input's
     tangent, n x in_size; NULL: zero, for the first layer) and vparams (the
     direction's n_params values for this layer): writes ry (n x out_size,
     overwritten). */
  void (*jvp)(const descent_layer_view *layer, const descent_real *params,
              const descent_real *vparams, const descent_real *x, const descent_real *rx,
              const descent_real *y, descent_real *ry, size_t n);
  /* rbackward: the directional derivative of backward along the same
     direction (Pearlmutter's R-operator), given backward's dy, its
     derivative rdy and the tangents rx (NULL: zero) and ry: writes rdparams
     (n_params, overwritten) and, when rdx is not NULL, rdx (n x in_size). */
  void (*rbackward)(const descent_layer_view *layer, const descent_real *params,
                    const descent_real *vparams, const descent_real *x, const descent_real *rx,
                    const descent_real *y, const descent_real *ry, const descent_real *dy,
                    const descent_real *rdy, descent_real *rdx, descent_real *rdparams, size_t n);
} descent_layer_kind;

/* Registers kind, copied (with its name and usage text): the caller's struct
 * need not outlive the call. Kinds are process-wide and stay registered
 * until the process exits; up to 64 may be registered. Safe to call from
 * any thread, also while other threads build networks (they see the kind
 * once the call has returned). Fails with DESCENT_EINVAL, changing nothing,
 * for a NULL kind, a missing required callback, a name that is not valid,
 * that of a built-in kind or of one already registered, a usage text too
 * long or a config_size too large, and with DESCENT_ERANGE when 64 kinds
 * are registered. */
int descent_layer_register(const descent_layer_kind *kind);

/* ------------------------------------------------------------------------ */
/* Learning-rate schedules                                                  */
/* ------------------------------------------------------------------------ */

typedef struct descent_schedule descent_schedule;

/* Parses a schedule: a number ("0.1") is a constant; otherwise NAME(ARGS) with
 * the base rate lr first, arguments by position or by key:
 *   constant(lr)                                  lr
 *   inv(lr, tau)                                  lr / (1 + t/tau)  (Robbins-Monro)
 *   poly(lr, p, tau=1)                            lr / (1 + t/tau)^p
 *   step(lr, step_size, gamma=0.1)                lr gamma^floor(t/step_size)
 *   exp(lr, gamma)                                lr gamma^t
 *   cosine(lr, steps, min_lr=0)                   min_lr + (lr-min_lr)(1+cos(pi t/steps))/2,
 *                                                 then min_lr from t = steps
 *   linear(lr, steps, end_factor=0, start_factor=1)  lr (start + (end-start) min(t,steps)/steps)
 *   wsd(lr, steps, decay=0.2)                     lr, then linear to 0 over the last
 *                                                 decay*steps steps; 0 from t = steps
 * Every schedule also takes warmup=W: while t < W the rate is multiplied by
 * (t+1)/W (the schedule itself is not shifted). t is the 0-based index of the
 * update, so lr(0) is PyTorch's initial rate and lr(t) its scheduler's value
 * after t calls to scheduler.step().
 * Returns DESCENT_EINVAL with the valid names, keys or range in the message. */
int descent_schedule_parse(descent_schedule **out, const char *text);
void descent_schedule_free(descent_schedule *s);
/* The learning rate at step t (t = 0 for the first update). */
double descent_schedule_value(const descent_schedule *s, int64_t t);
/* Canonical text of the schedule, e.g. "0.1" or "cosine(lr=0.001, steps=1000,
 * min_lr=0, warmup=100)"; numbers print in the shortest form that reads back
 * exactly. Returns the length it wanted. */
size_t descent_schedule_describe(const descent_schedule *s, char *buf, size_t cap);
/* The schedule's warmup=W in steps (0 without warmup). */
int64_t descent_schedule_warmup_steps(const descent_schedule *s);

/* ------------------------------------------------------------------------ */
/* Optimizers                                                               */
/* ------------------------------------------------------------------------ */

typedef struct descent_optimizer descent_optimizer;

/* Builds an optimizer for n_params parameters.
 *   spec: a named optimizer, with optional key=value arguments
 *           sgd gd momentum nesterov adagrad rmsprop adam adamw amsgrad lion
 *           lamb lars novograd (per tensor: see descent_optimizer_set_tensors)
 *           muon (whole matrices: 2-D tensors and conv kernels of the layout)
 *           sf_sgd sf_adamw adadelta rprop asgd
 *                                  e.g. "adam(b2=0.99, weight_decay=1e-4)"
 *         or a method, which evaluates the objective itself within a step
 *         (see descent_optimizer_step_closure), alone or followed by the
 *         transform that takes its rate and nothing else:
 *           lbfgs(lr=1, max_iter=20, max_eval=25, tolerance_grad=1e-7,
 *                 tolerance_change=1e-9, history=100, line_search=none,
 *                 full_batch=0)        or "lbfgs(max_iter=5) | lr(0.5)"
 *           hf(lr=1, damping=1, max_cg=250, cg_decay=0.95, cg_tol=5e-4,
 *              precond=none, precond_samples=0, line_search=armijo, seed=0)
 *                                 Hessian-free (Martens 2010): truncated CG
 *                                 on the damped Gauss-Newton matrix
 *           newton_cg(...)        the same with Hessian products and
 *                                 Steihaug's stop (docs/optimizers.md)
 *         or a chain of transforms separated by '|', e.g.
 *           "clip(1.0) | adam(b1=0.9, b2=0.999) | wd(1e-2) | lr(cosine(1e-3, 1000))"
 *         Named optimizers expand to chains with PyTorch's defaults; a chain
 *         that does not end with the transform that takes the rate (lr,
 *         schedule-free's sf, rprop or asgd) gets lr appended. rprop's rate
 *         is its initial step size, read at the first step: a number only.
 *         `descent optimizers` lists every name, transform, parameter,
 *         default, range and formula.
 *         or parameter groups, "CHAIN @ SELECTOR ; CHAIN @ SELECTOR ...",
 *         each CHAIN any of the above but a method or gd (schedule-free's
 *         and asgd's evaluation point then covers their group), e.g.
 *           "adamw(weight_decay=0.1) @ weight ; adamw(weight_decay=0) @ *"
 *         Each group is an optimizer of its own over the tensors its
 *         SELECTOR picks from the layout (descent_optimizer_set_tensors or
 *         the objective's table, as for per-tensor chains; without one, the
 *         single tensor "params"): a comma-separated list of weight, bias
 *         (a "*.weight" / "*.bias" tensor outside a norm layer), norm (a
 *         "*norm" layer's scale and shift) and globs on the tensor names
 *         (fnmatch: "*", "layer1.*"), each optionally ending in :1d to :4d
 *         (the tensor's ndim), then optionally " lr_mult=X" (the group's
 *         rate times X). A tensor goes to the first group that matches it;
 *         one that no group matches, and a group that matches no tensor,
 *         are refused when the layout is known (end with "CHAIN @ *").
 *         A group whose chain gives its own rate (lr=... or lr(...)) keeps
 *         it; the others take lr. docs/optimizers.md, "Parameter groups".
 *   lr:   the learning-rate schedule text (see descent_schedule_parse), used by
 *         the transform that takes the rate unless the spec sets it itself;
 *         NULL keeps the named optimizer's default.
 * Unknown names or keys, missing or out-of-range values and invalid
 * combinations (nesterov without momentum) are refused with a message that
 * names the valid choices or range. */
int descent_optimizer_create(descent_optimizer **out, const char *spec, const char *lr,
                             size_t n_params);
void descent_optimizer_free(descent_optimizer *opt);

/* One update of obj->params from obj->grad (already computed by the caller
 * through value_and_grad). The whole chain runs in one pass over the buffers
 * (two when it holds a global transform such as clip). Refused in
 * evaluation mode, and for a method (lbfgs), which needs to evaluate the
 * objective again: it steps through descent_optimizer_step_closure.
 * Equivalent to descent_optimizer_step_buffers(opt, obj->params, obj->grad,
 * obj->n_params) for every chain this library builds, except that a chain
 * with a per-tensor transform (lamb, lars) without a layout takes
 * obj->tensors as its layout (descent_optimizer_set_tensors). */
int descent_optimizer_step(descent_optimizer *opt, descent_objective *obj);

/* One update of params[0, n) from grad[0, n), for a program that computes
 * its gradients itself: the same bits as descent_optimizer_step on an
 * objective holding the same arrays. n must equal the optimizer's parameter
 * count (DESCENT_ESHAPE otherwise, naming both); params and grad must not
 * overlap, and stay the caller's (the optimizer keeps no pointer to them).
 * Refused in evaluation mode, and for NULL buffers (DESCENT_EINVAL).
 * The rule for methods: every transform of a chain needs only the gradient,
 * so every chain steps on plain buffers. A method (lbfgs) must evaluate the
 * objective again within its step: descent_optimizer_step and this function
 * refuse it (DESCENT_EINVAL) with a message naming
 * descent_optimizer_step_closure, through which it steps. */
int descent_optimizer_step_buffers(descent_optimizer *opt, descent_real *params,
                                   const descent_real *grad, size_t n);

/* 1 when the optimizer is a method (lbfgs): a step that evaluates the
 * objective itself, through descent_optimizer_step_closure or
 * descent_optimizer_step_with; 0 for a chain of transforms. */
int descent_optimizer_is_method(const descent_optimizer *opt);

/* The evaluations of the objective (each a loss and its gradient) that the
 * optimizer's steps have used so far, over its whole life: a chain's, one per
 * step (its step count); lbfgs's, every evaluation of every step, the first
 * of each included. Part of the state blob, so a resumed run continues the
 * count: a fair x axis to compare methods with first-order optimizers. */
int64_t descent_optimizer_evaluations(const descent_optimizer *opt);
/* The curvature-vector products (Gauss-Newton, Hessian or diagonal
 * estimates, each counted as the backward passes it costs) the optimizer's
 * steps have used so far: 0 for a chain and for lbfgs; sdlm's, the backward
 * passes of its Gauss-Newton diagonals (a network's classes for an exact
 * one, or its samples); hf's and newton_cg's, every CG product and diagonal
 * pass (their evaluations after the first of a step are losses only,
 * forward passes, and count as evaluations too). kfac's, one per factor
 * statistics pass. Part of the state blob, as the evaluations. */
int64_t descent_optimizer_products(const descent_optimizer *opt);

/* Whether opt can step on obj, checked before a run starts rather than met
 * at its first step: a method that needs what obj lacks is refused with the
 * message that step would give (sdlm, and hf with precond=ggn: a network
 * whose parameters are not all in dense and conv layers, an objective
 * without a Gauss-Newton diagonal; hf and newton_cg: a layer or objective
 * without the curvature products; kfac: an objective that is not a
 * network, a layer too wide for its factors). DESCENT_ESHAPE for an
 * objective of another size. Chains step on every objective. The trainer
 * calls it at creation; a program with its own loop may call it before
 * it writes anything. */
int descent_optimizer_check_objective(const descent_optimizer *opt, descent_objective *obj);

/* What one step used and found. Evaluations count every evaluation of the
 * objective at a point during the step, the first one (at the starting
 * parameters) included, also when the caller made it (closure->evaluated). */
typedef struct descent_step_info {
  int64_t function_evals; /* evaluations of the loss */
  int64_t gradient_evals; /* evaluations of the gradient (lbfgs: each evaluation has both) */
  int64_t product_evals;  /* curvature-vector products (0 for lbfgs; sdlm: its diagonal's
                             backward passes at the steps that estimate it, else 0) */
  int64_t iterations;     /* inner iterations (lbfgs: at most max_iter; 0 when the
                             gradient was already below tolerance_grad; 1 for a chain) */
  double loss;            /* the loss at the starting parameters (what torch's
                             optimizer.step(closure) returns) */
  double last_loss;       /* the last loss evaluated (lbfgs without a line search does
                             not evaluate after its last iteration: then not the loss at
                             the final parameters) */
} descent_step_info;

/* PyTorch's closure, in C: evaluate(user, obj, loss) computes the loss at
 * obj->params into *loss and its gradient into obj->grad, on the step's
 * batch, every time the same function (the same examples, the same
 * randomness: see the objective's re-evaluation contract), and returns 0 or
 * a negative status with a message (descent_set_error). The step calls it
 * as often as the method needs, with obj->params at the point to evaluate.
 * evaluated = 1 says the caller has already evaluated at the starting
 * parameters: obj->grad holds that gradient and `loss` its loss, and the
 * step does not evaluate there again (a training loop that checks the first
 * evaluation before the step, as the trainer's guard does). */
typedef struct descent_closure {
  int (*evaluate)(void *user, descent_objective *obj, double *loss);
  void *user;    /* passed to evaluate */
  int evaluated; /* 1: the first evaluation is given (obj->grad and loss) */
  double loss;   /* with evaluated = 1: the loss at obj->params */
  /* The step's batch, for methods that use curvature (their products,
     descent_objective_ggnvp and the like, run on it with the randomness of
     the step's first evaluation, which must have been on this batch), or
     NULL: the whole objective (a lab problem; a network needs a batch and
     refuses). Methods that only evaluate (lbfgs) ignore it. */
  const descent_batch *batch;
} descent_closure;

/* One step of any optimizer on obj, evaluating it on batch (NULL: the whole
 * objective) with value_and_grad as often as the step needs: one torch
 * optimizer.step(closure). For lbfgs, up to max_iter inner iterations and
 * max_eval evaluations; for a chain, one evaluation and then
 * descent_optimizer_step. info (may be NULL) gets what the step used.
 * Afterwards obj->params holds the new point and obj->grad the gradient of
 * the last evaluation. The step counter advances by one. Refused in
 * evaluation mode and for an objective of another size. When an evaluation
 * fails, its status and message are returned; the method's state and the
 * parameters are then those of an unfinished step (restore a checkpoint). */
int descent_optimizer_step_closure(descent_optimizer *opt, descent_objective *obj,
                                   const descent_batch *batch, descent_step_info *info);
/* The same with the caller's closure (a full-batch gradient summed over
 * chunks, a data-parallel all-reduce, a loss of the caller's own).
 * closure->evaluate is required. */
int descent_optimizer_step_with(descent_optimizer *opt, descent_objective *obj,
                                const descent_closure *closure, descent_step_info *info);

/* The threads each later step, eval and train runs on: a count >= 1, or 0
 * (the default) for the calling thread's OpenMP setting at each call (see
 * "Threading rules"); a trainer's own count holds inside its run. The
 * results do not depend on it. DESCENT_EINVAL for a negative count,
 * DESCENT_ERANGE for more than an address-space limit leaves room for. */
int descent_optimizer_set_threads(descent_optimizer *opt, int threads);
int descent_optimizer_threads(const descent_optimizer *opt);

/* Schedule-free optimizers take gradients at one point (y, held in
 * obj->params while training) and are evaluated at another (the average x).
 * descent_optimizer_eval moves obj->params to the evaluation point and
 * descent_optimizer_train moves them back, like PyTorch's optimizer.eval() and
 * .train() in facebookresearch/schedule_free; asgd is evaluated at its
 * averaged iterate ax. For every other optimizer, and before the first
 * step, they only record the mode. Evaluate (and save the parameters for
 * deployment) between the two; steps are refused in between. Calling
 * either twice in a row is harmless. The round trip is exact: eval keeps a
 * copy of the training point (n more numbers, allocated at the first call
 * with steps taken: DESCENT_ENOMEM, nothing moved, if that fails; counted by
 * descent_optimizer_state_bytes and saved with the state in evaluation
 * mode), and train puts its bits back for every parameter still equal to
 * what eval made of it; a parameter the caller changed in between goes back
 * by the optimizer's formula (schedule-free: the reference's y = x + (1 -
 * mu)(z - x), whose two roundings move it from the kept value by a few
 * ulps; asgd: it stays as the caller set it). */
int descent_optimizer_eval(descent_optimizer *opt, descent_objective *obj);
int descent_optimizer_train(descent_optimizer *opt, descent_objective *obj);
/* 1 when the optimizer evaluates at a point of its own (schedule-free), so
 * that descent_optimizer_eval moves the parameters (after the first step);
 * 0 otherwise. */
int descent_optimizer_has_eval_point(const descent_optimizer *opt);
/* The same moves on a plain parameter buffer of n numbers (n must equal the
 * optimizer's parameter count: DESCENT_ESHAPE otherwise). */
int descent_optimizer_eval_buffers(descent_optimizer *opt, descent_real *params, size_t n);
int descent_optimizer_train_buffers(descent_optimizer *opt, descent_real *params, size_t n);

/* 1 when the optimizer is meant to take each step on the whole training set
 * (named optimizer gd, and lbfgs(full_batch=1)); 0 for minibatch optimizers. */
int descent_optimizer_full_batch(const descent_optimizer *opt);

/* Updates taken so far. */
int64_t descent_optimizer_steps(const descent_optimizer *opt);
/* The longest warmup in the chain, in steps: the rate schedule's warmup=W or a
 * transform's warmup_steps (schedule-free); 0 without one. A run shorter than
 * this never reaches the full rate. */
int64_t descent_optimizer_warmup_steps(const descent_optimizer *opt);
/* The learning rate the next step will use (with schedule-free's warmup);
 * with parameter groups, the first group's (as PyTorch's
 * param_groups[0]["lr"]). */
double descent_optimizer_lr(const descent_optimizer *opt);
/* Multiplies every later step's learning rate by scale (> 0, finite): the
 * schedule keeps its shape and its position, only its values shrink or grow.
 * The divergence guard's rollback lowers the rate this way. The scale is not
 * part of the state blob (the blob describes the chain as built); a trainer
 * checkpoint saves it beside the blob. Default 1. With parameter groups it
 * scales every group's rate (times its lr_mult), as a PyTorch scheduler
 * scales every group's lr. */
int descent_optimizer_set_lr_scale(descent_optimizer *opt, double scale);
double descent_optimizer_lr_scale(const descent_optimizer *opt);
/* The base rate of the transform that takes the rate (lr, or schedule-free's
 * sf): the schedule's lr, before its warmup, its shape (decay) and the scale
 * of descent_optimizer_set_lr_scale. For "adam | lr(cosine(1e-3, 1000))",
 * 0.001 at every step. With parameter groups: the first group's. */
double descent_optimizer_base_lr(const descent_optimizer *opt);
/* Changes that base rate to lr (finite, >= 0) and nothing else: the schedule
 * keeps its kind, its other values (steps, min_lr, warmup, ...) and its
 * position (the step count), so the next step is the one an optimizer created
 * with this rate and brought to the same state would take, bit for bit; a
 * sweep over rates need not rebuild the optimizer. Refused (DESCENT_EINVAL,
 * nothing changed) for a negative or non-finite rate and for one the schedule
 * excludes (cosine's min_lr above it). descent_optimizer_describe and the
 * hyperparameter "lr.lr" (or "sf.lr") show the new rate. The state blob names
 * the chain with its hyperparameters, this rate included: a blob saved after
 * the change loads only into an optimizer with the same base rate (set it
 * before descent_optimizer_load_state), and one saved before it is refused
 * after it, naming the rates. With parameter groups, the first group's base
 * rate becomes lr and every other group's is multiplied by the same factor
 * (the groups keep their ratios; refused when the first group's is 0). */
int descent_optimizer_set_base_lr(descent_optimizer *opt, double lr);

/* The resolved hyperparameters, by name. A name is TRANSFORM.KEY with the
 * transform and key as descent_optimizer_describe writes them (with
 * parameter groups, prefixed by the group: "group2.adam.b1"): "adam.b1",
 * "adam.eps", "momentum.nesterov", "wd.weight_decay", "clip.max_norm". The
 * second and later transforms of one name in a chain are TRANSFORM#2.KEY,
 * TRANSFORM#3.KEY. A key that takes a schedule (lr's and sf's "lr") gives the
 * schedule's base rate ("lr.lr", "sf.lr", as descent_optimizer_base_lr) and
 * its other keys one level down: "lr.lr.steps", "lr.lr.min_lr",
 * "lr.lr.warmup" (see descent_schedule_parse for each schedule's keys).
 * Named optimizers answer with the names of the chain they expand to
 * ("adamw": adam.b1, ..., wd.weight_decay, lr.lr). A method's come first,
 * under its name: "lbfgs.max_iter", "lbfgs.history", "lbfgs.line_search" (a
 * word's index: 0 none, 1 strong_wolfe), then "lr.lr". Flags and whole numbers
 * are given as doubles (1 or 0, 1000). The scale of set_lr_scale is not a
 * hyperparameter (descent_optimizer_lr_scale). An unknown name is refused
 * with DESCENT_EINVAL and the list of valid names; *value is then unchanged. */
int descent_optimizer_hyperparameter(const descent_optimizer *opt, const char *name, double *value);
/* Enumeration: the number of hyperparameters, and the index-th (0-based, in
 * chain order) with its name written to name[0, cap) with a NUL.
 * DESCENT_ERANGE for an index outside [0, count) or a name longer than cap-1
 * (64 bytes are always enough for the built-in transforms). */
int descent_optimizer_hyperparameter_count(const descent_optimizer *opt);
int descent_optimizer_hyperparameter_at(const descent_optimizer *opt, int index, char *name,
                                        size_t cap, double *value);

/* Canonical text of the resolved chain with every hyperparameter, e.g.
 * "sgd = lr(lr=0.1)" or "adamw = adam(b1=0.9, b2=0.999, eps=1e-08,
 * amsgrad=0) | wd(weight_decay=0.01) | lr(lr=0.001)". After
 * descent_optimizer_set_base_lr has changed the rate of a named optimizer,
 * the name reads "adamw with base lr 0.002 = ...". With parameter groups,
 * each group's text then " @ SELECTOR", and once the layout is known its
 * tensors in brackets, the groups separated by " ; ". Returns the length
 * it wanted. */
size_t descent_optimizer_describe(const descent_optimizer *opt, char *buf, size_t cap);

/* The optimizer's state as a self-describing byte blob, for checkpoints:
 * little-endian and fixed-width (magic number, format version, precision,
 * parameter count, step count, the chain's canonical text, each transform's
 * persistent scalars and state vectors, a method's own state of variable
 * length (format version 2; a chain's blob is version 1, as before methods
 * existed, and both are read), and a checksum). Restoring it into an
 * optimizer built from the same spec and lr, for the same number of
 * parameters, and continuing gives the same bits as never stopping.
 * descent_optimizer_state_size gives the bytes needed; save fails with
 * DESCENT_ERANGE if size is smaller. load checks the whole blob before
 * changing anything, and refuses one that is truncated or corrupted
 * (DESCENT_EFORMAT), saved by the other precision, for another parameter count
 * (DESCENT_ESHAPE) or another chain or hyperparameters (DESCENT_EINVAL, naming
 * the first transform that differs). The parameters themselves are not part of
 * the blob; save them with it (for schedule-free and asgd, in the same mode).
 * A chain with a per-tensor transform (lamb, lars) writes format version 3:
 * version 1 followed by its layout (each tensor's offset, size and shape;
 * none before a layout is set). Loading it into an optimizer with another
 * layout is refused (DESCENT_EINVAL, naming the first tensor that differs);
 * an optimizer without a layout takes the saved one. A chain saved in
 * evaluation mode with the training point it kept writes version 4 (5 with
 * a layout): the training point follows the state vectors. An optimizer
 * with parameter groups writes version 6: its spec, each group's tensors
 * (their indices in the layout) and each group's own blob; it loads only
 * into an optimizer built from the same spec whose layout (set first:
 * descent_optimizer_set_tensors) gives every group the same tensors, and a
 * blob of another version is refused there, as version 6 is by an
 * optimizer without groups (DESCENT_EINVAL, saying which). Sharding
 * (descent_optimizer_set_shard) refuses an optimizer with groups
 * (DESCENT_ENOTSUP). A chain
 * whose per-tensor transform keeps values from step to step (novograd's
 * second moment per tensor) writes version 7: version 3 followed by those
 * values (their count, then doubles; none before the first step), or 8 in
 * evaluation mode (5 followed by them). */
size_t descent_optimizer_state_size(const descent_optimizer *opt);
int descent_optimizer_save_state(const descent_optimizer *opt, void *buf, size_t size);
int descent_optimizer_load_state(descent_optimizer *opt, const void *buf, size_t size);

/* ---- Sharded optimizer state (ZeRO stage 1) --------------------------------
 *
 * N data-parallel replicas each keep and update the optimizer state of 1/N
 * of the parameters (Rajbhandari et al. 2020, "ZeRO", stage 1). Per step,
 * the caller sums the gradients of each replica's shard onto that replica
 * (a reduce-scatter), each replica steps its shard of the parameters with
 * its shard of the state, and the caller all-gathers the parameters. The
 * library does no communication itself: the state blob's one collective
 * goes through the caller's gather function. docs/distributed.md shows the
 * loop. */

/* Collective of the replicas of a sharded optimizer: every replica calls it
 * at the same point with its own piece (mine[0, count), its shard's values)
 * and gets in all[0, total) the pieces of all replicas in replica order
 * (MPI_Allgatherv; the shards, in replica order, have increasing offsets and
 * cover the parameters). Returns 0 or a negative status with a message
 * (descent_set_error). */
typedef int (*descent_allgather_fn)(void *user, const descent_real *mine, size_t count,
                                    descent_real *all, size_t total);

/* Restricts opt to the parameters [offset, offset + count) of its n_params
 * (count >= 1, offset + count <= n_params): its per-parameter state shrinks
 * to count numbers per vector (freed and reallocated: on DESCENT_ENOMEM it
 * is unchanged), and each later step (descent_optimizer_step, _step_buffers,
 * _step_closure, _step_with: still given the whole n_params arrays) updates
 * only params[offset, offset + count) from grad[offset, offset + count), the
 * rest untouched (grad's other elements are not read), with the same bits as
 * the unsharded optimizer gives those elements. gather (required) and user
 * are kept for descent_optimizer_save_state. Calling it again before the
 * first step moves the shard (the state starts afresh).
 * Refused (DESCENT_EINVAL, nothing changed, the message naming the reason):
 * after the first step (and after loading a state with steps: set the shard,
 * then load); for a chain with a global transform (clip, or a registered
 * transform with global = 1: its reduction needs the whole gradient; clip
 * before the reduce-scatter instead); for methods (lbfgs, hf, newton_cg,
 * sdlm, kfac), whose steps span every parameter; for a bad range or a NULL
 * gather; for a chain with a per-tensor transform (trust_ratio: lamb, lars),
 * whose sums over a tensor a shard's edge could cut. DESCENT_ERANGE when
 * count times the state vectors overflows.
 * On a sharded optimizer:
 *   - descent_optimizer_eval and _train (schedule-free's moves between y and
 *     x) move only params[offset, offset + count), the shard whose z it
 *     holds; the caller all-gathers the parameters after each to have the
 *     whole point (every replica calls them, at the same step).
 *   - descent_optimizer_save_state is a collective: it calls gather once per
 *     state vector, in chain order (none for plain sgd), so every replica
 *     must save at the same point; it writes the blob the unsharded
 *     optimizer would have written, bit for bit, and
 *     descent_optimizer_state_size gives that whole size. Its errors before
 *     the first gather (a buffer too small, DESCENT_ENOMEM for the n numbers
 *     it gathers into) return before any collective; a replica that fails
 *     there leaves the others waiting in gather, which the caller's
 *     transport must end (the CLI aborts the job). A gather that returns an
 *     error, or puts this replica's piece anywhere but at its offset, fails
 *     the save (DESCENT_EINVAL for the latter).
 *   - descent_optimizer_load_state takes such a whole blob (from any number
 *     of replicas, or none) and keeps its shard's slice: no collective, so a
 *     checkpoint written with N replicas resumes with any other number.
 *   - descent_optimizer_stability gives the limit (it reads no state) but
 *     refuses a precond buffer (DESCENT_EINVAL): the shard holds only its
 *     slice of the statistics.
 *   - everything else (hyperparameters, rates, describe, the step count)
 *     behaves as unsharded. */
int descent_optimizer_set_shard(descent_optimizer *opt, size_t offset, size_t count,
                                descent_allgather_fn gather, void *user);

/* Bytes of per-parameter state the optimizer holds now: its state vectors
 * (count numbers each once sharded, else n_params), the work buffer and
 * partial sums of a global transform, and a method's state (its saved
 * size). What sharding divides: about 1/N of the unsharded value on each of
 * N replicas. */
size_t descent_optimizer_state_bytes(const descent_optimizer *opt);

/* ---- The layout: the tensors over the parameters ---------------------------
 *
 * An optimizer steps one flat vector; its layout names the tensors over it,
 * as an objective's table does (descent_objective.tensors). Elementwise
 * transforms ignore it. A per-tensor transform (trust_ratio, in lamb and
 * lars: each tensor's update rescaled by ||theta|| / ||u|| of that tensor)
 * reduces over each tensor: the step of its chain then cuts its blocks at
 * the tensors' boundaries, so no block straddles two tensors, and sums each
 * tensor's reductions in a fixed order (per slice of a few hundred numbers
 * from the tensor's first element, then in slice order), so the result does
 * not depend on the thread count. A whole-tensor transform (newton_schulz
 * and muon_lr, in muon) transforms each tensor as one matrix (shape (d0,
 * d1, ...) read as d0 x d1*...), each tensor on one thread; it takes
 * matrices only, and a layout with a 1-D tensor (a bias) is refused for its
 * chain. docs/optimizers.md says more.
 *
 * Where the layout comes from, first found first:
 *   1. descent_optimizer_set_tensors, before the first step;
 *   2. a loaded state that recorded one (descent_optimizer_load_state);
 *   3. at the first step of a chain with a per-tensor transform:
 *      descent_optimizer_step's obj->tensors, or, for an objective without a
 *      table (n_tensors 0) and for descent_optimizer_step_buffers, a single
 *      tensor of every parameter ("params", shape {n_params}).
 * The trainer (descent_trainer_create) sets its objective's table on an
 * optimizer that uses it and has none. */

/* Copies tensors[0, count) as the optimizer's layout. Refused
 * (DESCENT_EINVAL, nothing changed, the message naming the tensor and the
 * fix): an empty table; a tensor of size 0, whose name is not
 * NUL-terminated, or whose shape (ndim 1 to DESCENT_MAX_DIMS, each
 * dimension >= 1) does not multiply to its size; tensors out of order of
 * offset, overlapping or leaving a gap (each must start where the previous
 * ends, the first at 0), or not ending at the optimizer's n_params; and,
 * after the first step (or a loaded state with steps), a layout that differs
 * from the one set (in an offset, size or shape: names only label); for a
 * chain with a whole-tensor transform (muon), a tensor it cannot take (1-D).
 * Setting the same layout again is a no-op. DESCENT_ENOMEM. */
int descent_optimizer_set_tensors(descent_optimizer *opt, const descent_tensor_info *tensors,
                                  size_t count);

/* The optimizer's layout and its length in *count; NULL and 0 while none is
 * set. The table belongs to the optimizer (valid until it changes or the
 * optimizer is freed). */
const descent_tensor_info *descent_optimizer_tensors(const descent_optimizer *opt, size_t *count);

/* 1 when a transform of the chain works per tensor (trust_ratio: lamb,
 * lars) or on whole tensors (muon), or the optimizer has parameter groups
 * (the layout decides which group steps which tensor), so that the layout
 * changes the step; 0 otherwise (the layout is then kept but unused).
 * Setting a layout on an optimizer with groups assigns every tensor to its
 * group (refusing a tensor no group matches, or a group left without
 * tensors). */
int descent_optimizer_uses_tensors(const descent_optimizer *opt);

/* Lists every transform (registered ones included), named optimizer and
 * schedule with its parameters, defaults, ranges and formula. */
void descent_optimizer_help(FILE *out);

/* ---- Custom transforms ---------------------------------------------------
 *
 * A program adds its own transform, written in its own file, and then uses
 * its name in any chain like a built-in one: "mysign(beta=0.9) | lr(0.01)".
 * Its hyperparameters are parsed, range-checked and described as the
 * built-ins' are, descent_optimizer_help lists it, descent_optimizer_
 * hyperparameter reads them ("mysign.beta"), and its state vectors and
 * scalars go into the optimizer's state blob (so a checkpoint carries them
 * and a resume continues bit for bit). A blob holding it is refused by an
 * optimizer without it, and by a program that has not registered it.
 *
 * The optimizer runs a step as the built-ins do: begin() once, then (for a
 * global transform) reduce() over every block of the incoming update in
 * block order and finish() once, then init_state() (first step only) and
 * update() on consecutive slices of the buffers. Slices hold at most a few
 * hundred numbers; several threads may run update() (and reduce()) at once on
 * disjoint slices, so these must write only their own slice and must not
 * keep state of their own: everything that carries over lives in the state
 * vectors and the scalars. */

#define DESCENT_TRANSFORM_MAX_PARAMS  8 /* hyperparameters of one transform */
#define DESCENT_TRANSFORM_MAX_STATE   4 /* state vectors of one transform */
#define DESCENT_TRANSFORM_MAX_SCALARS 8 /* persistent scalars of one transform */

typedef enum descent_param_kind {
  DESCENT_PARAM_NUMBER = 0,  /* any number in [min, max] */
  DESCENT_PARAM_INTEGER = 1, /* a whole number in [min, max] */
  DESCENT_PARAM_BOOL = 2     /* 0 or 1 (min and max are ignored) */
} descent_param_kind;

/* One hyperparameter of a custom transform: key=value in specs. */
typedef struct descent_transform_param {
  const char *name; /* the key: 1 to 31 letters, digits and '_', starting with a letter */
  descent_param_kind kind;
  double def;             /* default, inside the range (unused when required) */
  double min, max;        /* valid range; max may be INFINITY */
  int min_open, max_open; /* 1: that end is excluded, as (0, 1] */
  int required;           /* 1: no default, the spec must give it */
  const char *doc;        /* one line for the help; may be NULL */
} descent_transform_param;

/* A custom transform. Every callback receives hp, the hyperparameters in
 * params order (as given in the spec or their defaults). The state vectors
 * are n_params numbers each (the optimizer's parameter count), zero until
 * init_state sets them; in the callbacks, state[k], u and params point at the
 * first element of the current slice and n is its length. */
typedef struct descent_transform_def {
  /* The name in chains, spelt as a parameter's name; not the name of a
   * built-in transform or of a named optimizer. */
  const char *name;
  const char *summary; /* one line for descent_optimizer_help (required) */
  const char *formula; /* the update in the help's notation; may be NULL */
  /* The hyperparameters: n_params entries (NULL when n_params is 0). */
  const descent_transform_param *params;
  int n_params;  /* 0 to DESCENT_TRANSFORM_MAX_PARAMS */
  int n_state;   /* state vectors, 0 to DESCENT_TRANSFORM_MAX_STATE */
  int n_scalars; /* persistent scalars, 0 to DESCENT_TRANSFORM_MAX_SCALARS */
  /* 1: reduce() and finish() run over the whole incoming update before any
   * update() (a global norm, as the built-in clip); 0: both must be NULL. */
  int global;
  /* Optional: checks a combination of hyperparameters that their ranges
   * cannot express. Returns 0 when hp is valid; otherwise writes the reason
   * and the fix, one line, to why[0, cap) and returns non-zero, and the
   * optimizer is not created (DESCENT_EINVAL, "optimizer: NAME: WHY"). */
  int (*validate)(const double *hp, char *why, size_t cap);
  /* Optional: the scalars' values when the optimizer is created (NULL:
   * zeros). */
  void (*init_scalars)(const double *hp, double *scalars);
  /* Optional: on the first step only, before update() on the same slice, the
   * state vectors' starting values from the parameters (NULL: zeros). */
  void (*init_state)(const double *hp, const descent_real *params, descent_real *const *state,
                     size_t n);
  /* Optional: once per step, before anything else; step is the 0-based index
   * of this update. Per-step values (bias corrections) go into scalars. */
  void (*begin)(const double *hp, double *scalars, int64_t step);
  /* Global transforms: the contribution of one block of the update (a sum
   * of squares), and the total of all blocks, summed in block order. */
  double (*reduce)(const double *hp, const descent_real *u, size_t n);
  void (*finish)(const double *hp, double *scalars, double total);
  /* Required: u[0, n) <- f(u, state, params) in place, updating the state
   * slices; u is the incoming update (the gradient for the chain's first
   * transform), params the parameters before this step (read only). */
  void (*update)(const double *hp, const double *scalars, descent_real *const *state,
                 descent_real *u, const descent_real *params, size_t n, int64_t step);
} descent_transform_def;

/* Registers def for the rest of the process (there is no unregistering):
 * every optimizer created afterwards, in any thread, accepts its name. The
 * library keeps the pointer: def and everything it points to (strings, the
 * params array) must stay valid and unchanged for as long as the process
 * uses the transform, as a static const definition does. Refused
 * (DESCENT_EINVAL, with the reason and the fix) when def is invalid: a missing
 * name, summary or update, a name taken by a built-in transform, a named
 * optimizer or an earlier registration, a bad parameter name, range or
 * default, counts out of range, reduce/finish without global or the reverse;
 * DESCENT_ERANGE beyond 32 registrations. Thread-safe: registrations from
 * several threads are serialized, and an optimizer created concurrently
 * either sees the new transform or not; an optimizer already built is not
 * affected. */
int descent_transform_register(const descent_transform_def *def);

/* ------------------------------------------------------------------------ */
/* Synthetic problems                                                       */
/* ------------------------------------------------------------------------ */

/* The lecture's functions as objectives, built from text such as
 * "quad2d(kappa=100, angle=30)" (arguments by position or by key, every one
 * with a default; `descent demo --help` and descent_problem_help list them):
 *   quad1d(curvature=0.5, center=0)      f = curvature/2 (theta - center)^2
 *   logcosh(curvature=1)                 f = curvature log cosh(theta): convex,
 *                                        not quadratic, gradient bounded by curvature
 *   nonconvex1d                          f = theta^2/10 + sin(theta) + sin(2 theta + 2)/2,
 *                                        four local minima
 *   quad2d(kappa=10, angle=0, curvature=1)  f = 1/2 theta^T A theta, A with eigenvalues
 *                                        curvature and curvature/kappa, its axes
 *                                        turned by angle degrees
 *   quadnd(dim=100, kappa=100, spectrum=geometric, rotate=0, seed=1)
 *                                        the same in dim dimensions; spectrum
 *                                        geometric, linear or two (two values)
 *   linreg(scale=100, normalize=0, n=200, dim=2, seed=1)
 *                                        least squares 1/(2n) sum_i (x_i.theta - y_i)^2,
 *                                        feature j multiplied by scale^(j/(dim-1));
 *                                        normalize=1 standardizes the features
 *   finite_sum(n=100, noise=0.5, seed=1) a 2D least-squares finite sum whose terms
 *                                        a batch's indices pick, for stochastic gradient
 *   saddle                               f = x^2 - y^2
 *   plateau(width=1)                     f = 1 - exp(-(x^2 + y^2) / (2 width^2))
 *   rosenbrock(a=1, b=100)               f = (a - x)^2 + b (y - x^2)^2
 *   beale                                f = (1.5 - x + x y)^2 + (2.25 - x + x y^2)^2
 *                                        + (2.625 - x + x y^3)^2, minimum at (3, 0.5)
 *   quadratic_deep(n=1000, noise=0.6, data_seed=42)
 *                                        DeepOBS's noisy quadratic (test problem
 *                                        P1): 1/n sum_i 1/2 (theta - x_i)^T Q
 *                                        (theta - x_i) in 100D, Q = R^T diag(l) R
 *                                        with 90 eigenvalues l uniform in (0, 1)
 *                                        and 10 in (30, 60), R a random rotation,
 *                                        x_i ~ N(0, noise^2 I) rounded to float,
 *                                        all drawn from numpy's RandomState as
 *                                        DeepOBS draws them (data_seed 42: its
 *                                        training set, 43: its test set); start
 *                                        (1, ..., 1); a finite sum
 * The parameters start at the family's default start point (info->start).
 * Values and gradients are computed in double whatever descent_real is.
 * A NULL batch means the whole objective; finite sums (linreg, finite_sum,
 * quadratic_deep) also take a batch of term indices (batch->indices) and
 * return the mean of those terms. Unknown families or keys and out-of-range values are refused
 * with DESCENT_EINVAL and a message naming the valid choices. */
int descent_problem_create(descent_objective **out, const char *spec);

/* What is known about a problem: its minimum, where to draw it, how curved it
 * is. Pointers are owned by the objective. */
typedef struct descent_problem_info {
  const char *family;      /* "quad2d", ... */
  const char *spec;        /* canonical text with every parameter */
  size_t dim;              /* number of parameters */
  size_t n_terms;          /* terms of a finite sum; 0 if not one */
  int bounded;             /* 1 if f has a global minimum (f_min, minimizer) */
  double f_min;            /* the global minimum; -INFINITY when unbounded */
  const double *minimizer; /* dim numbers, or NULL when unbounded */
  size_t n_minima;         /* local minima known (all of them for 1D functions) */
  const double *minima;    /* n_minima x dim, in increasing order of the first coordinate */
  const double *minima_f;  /* their values */
  double curvature_max;    /* largest Hessian eigenvalue (at the minimizer if not constant) */
  double curvature_min;    /* smallest; negative at a saddle */
  double escape_value;     /* saddle, plateau: escaped once f <= this; NAN otherwise */
  const double *start;     /* dim numbers: the default start point */
  double lo[2], hi[2];     /* a window that shows the interesting part (1D, 2D) */
} descent_problem_info;

/* NULL when obj was not made by descent_problem_create. */
const descent_problem_info *descent_problem_info_get(const descent_objective *obj);

/* Index of the known local minimum within distance tol of theta (dim numbers),
 * or -1. */
int descent_problem_which_minimum(const descent_objective *obj, const double *theta, double tol);

/* Lists every family with its parameters, defaults, ranges and formula. */
void descent_problem_help(FILE *out);

/* Releases an objective that owns itself (one from descent_problem_create)
 * through its ops->destroy. NULL and objectives owned by something else
 * (ops->destroy NULL, such as a network's) are left alone. */
void descent_objective_free(descent_objective *obj);

/* ------------------------------------------------------------------------ */
/* Runs: the iterates of an optimizer on an objective                       */
/* ------------------------------------------------------------------------ */

/* How descent_run_iterates runs; descent_run_options_default fills in the
 * defaults given after each field. */
typedef struct descent_run_options {
  int64_t iters;       /* most updates to take (1000) */
  size_t batch_size;   /* 0: full gradient; k: mean of k terms drawn uniformly with
                          replacement, for finite sums (0) */
  uint64_t seed;       /* draws of terms and of gradient noise (1) */
  double grad_noise;   /* standard deviation of Gaussian noise added to each gradient
                          coordinate, as in perturbed gradient descent (0) */
  double f_min;        /* minimum the targets refer to; NAN: the problem's own (NAN) */
  double eps;          /* stop once f - f_min <= eps (f(theta_0) - f_min); 0: never (0) */
  double escape_below; /* stop once f <= this (-INFINITY: never) */
  double blowup;       /* diverged once f - f_min > blowup (f(theta_0) - f_min), or
                          |theta_i| > param_bound, or anything is NaN or infinite (1e6) */
  double param_bound;  /* see blowup (1e12) */
  int record_params;   /* 1: keep every theta_t, for drawing (0) */
} descent_run_options;

void descent_run_options_default(descent_run_options *o);

/* What happened. f is always the whole objective's value, even when the
 * steps use batches. */
typedef struct descent_trace {
  size_t dim;         /* parameters */
  int64_t steps;      /* updates taken; values holds steps + 1 numbers */
  double *values;     /* f(theta_t), t = 0 .. steps */
  double *params;     /* (steps + 1) x dim iterates when recorded, else NULL */
  double f_min;       /* the minimum used for eps (NAN if none) */
  int diverged;       /* 1: stopped because the run blew up, at t = steps */
  int64_t reached_at; /* first t where eps was reached; -1 if never */
  int64_t escaped_at; /* first t with f <= escape_below; -1 if never */
  size_t cap;         /* allocated iterates */
} descent_trace;

/* Sets obj->params to start (NULL: leave them), then alternates gradient and
 * optimizer step until opts->iters steps, eps, escape or divergence, recording
 * f at every iterate (and the iterates themselves if asked). A divergence is
 * not an error: it returns DESCENT_OK with trace->diverged set (also when a
 * step's gradient or batch loss is NaN or infinite: that step is not taken).
 * The steps are a trainer's (descent_trainer_create without data, its
 * next_batch and on_gradient hooks drawing the terms, adding the noise and
 * recording each iterate). Free the trace with descent_trace_free. */
int descent_run_iterates(descent_objective *obj, descent_optimizer *opt, const double *start,
                         const descent_run_options *opts, descent_trace *trace);
void descent_trace_free(descent_trace *trace);

/* First t with values[t] - f_min <= eps (values[0] - f_min); -1 if never. */
int64_t descent_trace_iterations_to(const descent_trace *trace, double f_min, double eps);

/* The divergence test of descent_run_iterates: 1 if f or a parameter is not
 * finite, |theta_i| > param_bound, or f - f_min > blowup (f0 - f_min). */
int descent_run_diverged(double f, double f0, double f_min, const descent_real *theta, size_t n,
                         const descent_run_options *opts);

/* ------------------------------------------------------------------------ */
/* Instruments: curvature, gradient noise and step quality                  */
/* ------------------------------------------------------------------------ */

/* The extreme eigenvalues of a symmetric operator A (a Hessian, a
 * Gauss-Newton matrix, a preconditioned one) given only products A v:
 * Lanczos's iteration with full reorthogonalization (Golub & Van Loan,
 * "Matrix Computations", 10.1), which after k products has the largest and
 * smallest eigenvalues of A restricted to the Krylov space of the start
 * vector: far closer than k steps of power iteration, and both ends at once.
 * apply writes A v to out (n values each, not overlapping) and returns
 * DESCENT_OK or a failure, which is returned. */
typedef int (*descent_operator_fn)(void *user, const descent_real *v, descent_real *out);

typedef struct descent_lanczos_result {
  double top;             /* the largest Ritz value: the top eigenvalue's estimate */
  double bottom;          /* the smallest Ritz value: the most negative eigenvalue's estimate */
  double top_residual;    /* |A u - top u| for its unit Ritz vector u: the top's error bound */
  double bottom_residual; /* the same for bottom */
  int products;           /* products taken (at most iterations; fewer on convergence or when the
                             Krylov space is exhausted) */
} descent_lanczos_result;

/* Runs at most `iterations` (>= 1) Lanczos steps on apply from start (n
 * values, finite, not all zero; NULL: a random start drawn from seed, each
 * value a standard normal), stopping early once top's residual is at most
 * tol times |top|, and bottom's too when bottom_vector is not NULL (tol 0:
 * never early; tested after each of the first 32 products, then every k/8
 * products): a warm start from the last top vector then costs one or two
 * products while the top eigenvector moves little. It also stops when the
 * Krylov space is exhausted (beta about 0: the start lies in an invariant
 * subspace of dimension products, or products reached n), where the answer
 * is exact up to rounding (so are the residuals). When top_vector (or
 * bottom_vector) is not NULL, the unit Ritz vector of top (bottom) is
 * written there (n values): the warm start of the next call on a slowly
 * changing operator; it may be start itself. The residuals are the standard
 * bound beta_k |s_k| (Golub & Van Loan 10.1.4), exact up to the basis's
 * rounding. The basis is kept and reorthogonalized in double whatever
 * descent_real is (docs/instruments.md). Memory: min(iterations, n) + 1
 * vectors of n doubles, allocated per call. DESCENT_EINVAL for n 0,
 * iterations < 1, a negative tol, or a start that is zero or not finite;
 * DESCENT_EDIVERGED when a product is not finite; DESCENT_ENOMEM; or
 * apply's failure. */
int descent_lanczos(descent_operator_fn apply, void *user, size_t n, int iterations, double tol,
                    const descent_real *start, uint64_t seed, descent_real *top_vector,
                    descent_real *bottom_vector, descent_lanczos_result *result);

/* The step size beyond which the optimizer is unstable on a quadratic of
 * curvature lambda, written as a limit on the sharpness it can follow: the
 * edge of stability of Cohen et al. 2021 (gradient descent, heavy ball) and
 * 2022 (Adam, preconditioned). */
typedef struct descent_stability {
  /* The limit at the optimizer's current step and rate (the rate of its
     next step, descent_optimizer_lr), in curvature units (1 / the rate's
     units): 2 / lr (sgd, gd), (2 + 2 mu) / lr (heavy ball, torch's
     momentum mu; (2 + 2 mu) / ((1 - d) lr) with dampening d), (2 + 2 mu) /
     ((1 + 2 mu) lr) (Nesterov), (2 + 2 b1) / ((1 - b1) lr) (Adam, AdamW,
     AMSGrad: 38 / lr at b1 0.9), 2 / lr (RMSprop, Adagrad; (2 + 2 mu) / lr
     for RMSprop with momentum mu); INFINITY at rate 0; NAN when the chain
     has no known limit. Derivations in docs/instruments.md. */
  double limit;
  /* 1 when the limit applies to the preconditioned sharpness, the top
     eigenvalue of P^-1 H with P diagonal from the optimizer's state: Adam
     P = (1 - b1^t) (sqrt(v_t / (1 - b2^t)) + eps) (AMSGrad: v's running
     maximum), RMSprop sqrt(v) + eps (bias-corrected or centered as its
     transform is), Adagrad (sqrt(s) + eps) (1 + t lr_decay) (the next step's
     rate decay), after t steps (Cohen et al. 2022, "Adaptive Gradient
     Methods at the Edge of Stability", section 2); 0 when it applies to H's
     own top eigenvalue. */
  int preconditioned;
  /* The rule in words, for logs and reports: "2/lr (gradient descent)",
     "38/lr: (2+2 b1)/((1-b1) lr), b1 0.9, Adam's preconditioned
     sharpness", with notes ("; weight decay adds 0.01 to every curvature"
     for weight decay coupled to the gradient, whose limit is then the
     loss's Hessian plus that coefficient; "; decoupled wd 0.01 is outside
     the limit"; "; for unclipped steps" with clipping), or why there is
     none ("no known limit for the chain lion | lr (at lion)"). */
  char rule[160];
} descent_stability;

/* Fills *out for opt as it stands (after `descent_optimizer_steps` steps,
 * at its current rate). The chains recognised: those of sgd, gd, momentum,
 * nesterov, adam, adamw, amsgrad, rmsprop and adagrad, and the same
 * transforms written as a chain, with clipping and weight decay around
 * them. When the limit is preconditioned and precond is not NULL, writes
 * the diagonal P (n values, the optimizer's parameter count, positive)
 * there; otherwise precond is left alone. Before the first step of an
 * adaptive chain, whose state holds no statistics yet, limit is NAN with
 * the reason in rule. Methods (lbfgs, ...) and other chains (lion,
 * schedule-free) have no limit: NAN, and the rule says why. DESCENT_EINVAL
 * for a NULL opt or out, or precond with n other than the parameter
 * count. */
int descent_optimizer_stability(const descent_optimizer *opt, descent_real *precond, size_t n,
                                descent_stability *out);

/* Gradient-noise statistics of one batch, from its per-example gradients
 * g_i (descent_objective_example_gradients: sq[i] = |g_i|^2, dot[i] = g_i .
 * g with g the batch gradient, their mean). The three tests follow
 * Cockpit's code (norm_test.py, inner_test.py, ortho_test.py), which
 * reports for each the largest constant (theta, nu) at which the test
 * would pass: the square root of the sample variance divided by B |g|^2
 * (B |g|^4 for the inner product). Formulas, their derivations and
 * references in docs/instruments.md. */
typedef struct descent_noise {
  size_t batch;       /* examples, B (>= 2) */
  double grad_sq;     /* |g|^2, the batch gradient's squared norm, as given */
  double trace;       /* tr(Sigma): sum_i |g_i - g|^2 / (B - 1) = (sum_i sq[i] - B |g|^2) /
                         (B - 1), unbiased for the trace of one example's gradient
                         covariance (McCandlish et al.'s S from batch sizes 1 and B) */
  double true_sq;     /* |G|^2, the expected gradient's squared norm, estimated without bias:
                         |g|^2 - trace / B (may be <= 0 when noise dominates) */
  double noise_scale; /* B_simple = trace / true_sq (McCandlish et al. 2018): the batch
                         size at which noise and signal balance, the critical batch size's
                         estimate (a ratio of unbiased estimates, itself not unbiased);
                         INFINITY when true_sq <= 0 */
  double norm_test;   /* Byrd et al. 2012's norm test as Cockpit computes it:
                         sqrt(sum_i |g_i - g|^2 / ((B - 1) B |g|^2)), the smallest theta
                         for which var / B <= theta^2 |g|^2 holds; below 1 the batch is
                         large enough for a descent direction (Byrd et al. take 0.5 to 0.9) */
  double inner_test;  /* Bollapragada et al. 2018's inner-product test (Cockpit):
                         sqrt(sum_i (g_i . g - |g|^2)^2 / ((B - 1) B |g|^4)); NAN without dot
                         or when |g|^2 is 0 */
  double ortho_test;  /* their orthogonality test (Cockpit): sqrt(sum_i |g_i - (g_i . g /
                         |g|^2) g|^2 / ((B - 1) B |g|^2)); NAN without dot or when |g|^2
                         is 0 */
} descent_noise;

/* Computes *out from B examples' sq and dot (dot may be NULL: the inner
 * and orthogonality tests are then NAN) and the batch gradient's squared
 * norm grad_sq (all in double). Each sum of squared deviations is taken
 * from the sums of sq and dot; when rounding leaves one a little below 0
 * (examples that agree) it counts as 0. With grad_sq 0 the norm test is
 * INFINITY (NAN when the examples agree too). DESCENT_EINVAL for B < 2,
 * sq or out NULL, or grad_sq negative, NaN or infinite. */
int descent_noise_compute(const double *sq, const double *dot, size_t batch, double grad_sq,
                          descent_noise *out);

/* Cockpit's alpha (Schneider et al. 2021, "Cockpit", section 3 and its
 * alpha.py): the step from theta_0 to theta_1 = theta_0 + d, seen on one
 * batch through the parabola p(t) = mu0 + mu1 t + mu2 t^2 (t in [0, 1]
 * along d) fitted by least squares to the losses f_0, f_1 and the
 * directional derivatives df_0 = g(theta_0) . d, df_1 = g(theta_1) . d at
 * both ends. With t_min = -mu1 / (2 mu2) the parabola's minimum, alpha =
 * 1 / t_min - 1: -1 for a step that does not move, 0 for one that lands on
 * the minimum, 1 for one that lands across it at the starting height, more
 * for one that overshoots further. Exact on a quadratic. NAN when mu2 <= 0
 * (no minimum along d; Cockpit logs -1 there). descent measures both ends on
 * the step's own batch (one re-evaluation), where Cockpit takes the end
 * point from the next batch and weights the fit by the examples'
 * variances. */
double descent_alpha(double f0, double df0, double f1, double df1);

/* What a tracker measures; a bit mask. */
typedef enum descent_track_kind {
  DESCENT_TRACK_SHARPNESS = 1 << 0, /* top Hessian eigenvalue and the stability limit */
  DESCENT_TRACK_GGN = 1 << 1,       /* top Gauss-Newton eigenvalue */
  DESCENT_TRACK_NEGATIVE = 1 << 2,  /* most negative Hessian eigenvalue (saddles) */
  DESCENT_TRACK_NOISE = 1 << 3,     /* gradient noise scale and the three tests */
  DESCENT_TRACK_ALPHA = 1 << 4,     /* step quality */
  DESCENT_TRACK_LAYERS = 1 << 5,    /* per-tensor and per-activation statistics */
  DESCENT_TRACK_ALL = (1 << 6) - 1
} descent_track_kind;

/* Parses "sharpness,noise,alpha", "all", ... into a mask; an unknown name is
 * DESCENT_EINVAL naming it and the valid ones. */
int descent_track_parse(const char *list, unsigned *mask);
/* The names of mask's instruments, comma-separated, into buf; returns the
   length it wanted. */
size_t descent_track_describe(unsigned mask, char *buf, size_t cap);

typedef struct descent_track_options {
  unsigned what;    /* descent_track_kind bits, not 0 */
  int64_t every;    /* measure every instrument at every step divisible by this (>= 1);
                       0: automatically, from counts (deterministic): the curvature
                       instruments (sharpness, ggn, negative) and the first-order ones
                       (noise, alpha, layers) each measure at step 1, then at the first
                       step s at which what they have spent, in gradient evaluations, is
                       within s/96 (curvature) or s/48 (first order); a row then holds
                       NAN in the columns of the tier not measured. Lanczos's own work,
                       not counted, makes the curvature's time up to about three times
                       its count: about 6% in all (bench/README.md) (0) */
  int iterations;   /* Lanczos products per eigenvalue measurement, warm-started from the
                       last measurement's vector (20) */
  double tolerance; /* relative residual at which Lanczos stops early (1e-3) */
  uint64_t seed;    /* the first Lanczos start vector (1) */
} descent_track_options;

void descent_track_options_default(descent_track_options *o);

/* A tracker measures a training run: a trainer given one
 * (descent_trainer_options.tracker) calls it at each step once on_gradient
 * has run and the guard has accepted the step (at the step's parameters,
 * gradient and batch, before the step is taken), then after the step; it
 * saves its state in the checkpoint's "TRAK" section and restores it with
 * the checkpoint (a load, a rollback), so that a resumed run measures the
 * same numbers. Measuring changes nothing in the run (it uses
 * re-evaluations and products, which have no side effects): parameters are
 * bit-identical with and without it.
 * Its measurements are rows of named columns (docs/instruments.md): step,
 * epoch, lr, loss, cost, then each instrument's. A measurement costs, in
 * gradient evaluations: 3 per Hessian-vector product, 1.8 per
 * Gauss-Newton product (bench/README.md), 1 for alpha's re-evaluation, 1
 * for the per-example gradients, 1 for layers' passes. sharpness and
 * negative share one Lanczos run on H (started from the last top vector,
 * plus the last bottom one when negative is tracked), ggn takes another,
 * and an Adam-like limit a third, on P^-1/2 H P^-1/2.
 * The instruments measure on each step's batch: a trainer over a data set
 * with a full-batch optimizer (gd, lbfgs(full_batch=1)) refuses a
 * tracker, and noise needs batches (a data set or next_batch). layers
 * works on any objective (one group "params" when it has no tensor table);
 * its activation statistics need a network. */
typedef struct descent_tracker descent_tracker;

/* A tracker for obj trained by opt (neither owned; keep them alive). Checks
 * that obj has what the instruments need (hvp for sharpness and negative,
 * ggnvp for ggn, example_gradients for noise; layers' activation statistics
 * come only from a network, other objectives get the per-tensor columns),
 * refusing otherwise (DESCENT_ENOTSUP) with a message naming the
 * instrument and the missing product (for a network, the layer that lacks
 * it); DESCENT_EINVAL for options out of range. The parameters obj holds
 * now are "step 0" for layers' distance (a loaded checkpoint's replace
 * them). Free with descent_tracker_free. */
int descent_tracker_create(descent_tracker **out, descent_objective *obj, descent_optimizer *opt,
                           const descent_track_options *options);
void descent_tracker_free(descent_tracker *t);
/* The columns of every row: count names (owned by the tracker). */
const char *const *descent_tracker_columns(const descent_tracker *t, size_t *count);
/* The row of the latest measurement when it was taken at `step` (values:
 * count doubles, NAN where a quantity is undefined); NULL when the last
 * step measured nothing. */
const double *descent_tracker_row(const descent_tracker *t, int64_t step);
/* Gradient-evaluation equivalents the tracker has spent so far (products,
 * re-evaluations and per-example passes, each counted as its share of a
 * gradient) and the `every` in force. */
double descent_tracker_cost(const descent_tracker *t);
int64_t descent_tracker_every(const descent_tracker *t);

/* ------------------------------------------------------------------------ */
/* Search: samplers and scoring                                             */
/* ------------------------------------------------------------------------ */

/* The largest dimension descent_sobol_point draws in. */
#define DESCENT_SOBOL_MAX_DIM 21

/* Point `index` of the Sobol sequence in [0, 1)^dim: Joe and Kuo's direction
 * numbers (new-joe-kuo-6.21201), unscrambled, in the order of the Gray code,
 * as scipy.stats.qmc.Sobol(d, scramble=False).random() gives its points:
 * index 0 is the origin. A search that wants no point on the edge of its
 * space skips index 0. out receives dim numbers.
 * DESCENT_EINVAL for a NULL out, dim 0 or above DESCENT_SOBOL_MAX_DIM, or an
 * index at or above 2^32. */
int descent_sobol_point(uint64_t index, size_t dim, double *out);

/* Point `index` of the Halton sequence in [0, 1)^dim: coordinate j is the
 * radical inverse of index in the (j+1)-th prime base (2, 3, 5, ...),
 * unscrambled, as scipy.stats.qmc.Halton(d, scramble=False).random() gives
 * its points: index 0 is the origin. dim up to 1000. Indices far above 2^32
 * may round a coordinate up to 1 (as scipy's do).
 * DESCENT_EINVAL for a NULL out, dim 0 or above 1000. */
int descent_halton_point(uint64_t index, size_t dim, double *out);

/* AlgoPerf's performance profiles (Dahl et al. 2023, "Benchmarking Neural
 * Network Training Algorithms", section 4.5), computed operation by
 * operation as AlgoPerf's scoring code does (scoring/performance_profile.py,
 * compute_performance_profiles). times holds n_submissions x n_workloads
 * numbers, row-major: the time submission s took to reach workload w's
 * target (seconds, or steps), INFINITY (or NAN) when it never did. With
 * best[w] the smallest time on workload w (NaN skipped), a time above
 * max_tau * best[w] becomes infinite (AlgoPerf fixes that cut at 4), and the
 * ratio r[s][w] = times[s][w] / best[w]; where that division is NaN (a
 * workload no submission solved: inf / inf; a best time of 0: 0 / 0; a NaN
 * time) the time itself stands in for the ratio, as pandas' update does, so
 * an unsolved workload counts for nobody and a time of 0 counts at every
 * tau. rho[s * n_taus + i] receives the fraction of workloads with
 * r[s][w] <= taus[i] (every workload weighs the same; AlgoPerf divides by
 * its fixed number of workloads). taus and rho belong to the caller.
 * DESCENT_EINVAL for NULL pointers, zero counts, a max_tau below 1 or not
 * finite, or a negative time. */
int descent_performance_profile(const double *times, size_t n_submissions, size_t n_workloads,
                                double max_tau, const double *taus, size_t n_taus, double *rho);

/* The benchmark score of each submission as AlgoPerf computes it
 * (scoring/score_submissions.py: compute_performance_profiles with
 * min_tau 1, max_tau 4, num_points 100, linear scale, then
 * compute_leaderboard_score with normalize=True): the performance profile
 * on n_points values of tau from 1 to max_tau, evenly spaced as
 * np.linspace spaces them, integrated by the trapezoidal rule (np.trapz,
 * its terms added in the order numpy adds them on AlgoPerf's frame, so
 * the score is bit-identical to theirs) and divided
 * by (max_tau - 1): a submission fastest on every
 * workload scores 1, one that solves none (or none within max_tau times
 * the best) scores 0. scores receives n_submissions numbers. Errors as
 * descent_performance_profile, and DESCENT_EINVAL for n_points below 2 or a
 * max_tau of 1. */
int descent_benchmark_score(const double *times, size_t n_submissions, size_t n_workloads,
                            double max_tau, size_t n_points, double *scores);

/* DeepOBS's "speed" of an optimizer on a test problem (Schneider et al.
 * 2019, "DeepOBS: a deep learning optimizer benchmark suite", section 3;
 * deepobs/analyzer/analyze_utils.py, compute_speed): the mean over runs
 * (seeds) of the index of the first evaluation that reaches the
 * convergence performance `target`, counting a run that never does as the
 * curve's length. curves holds n_runs x n_evals numbers, row-major: each
 * run's metric at its evaluations, the first before training (so an index
 * is a number of epochs). maximize 1 for accuracies (reached when
 * value >= target), 0 for losses (value <= target); NaN never reaches it.
 * Lower is faster. *speed receives the mean, in evaluations.
 * DESCENT_EINVAL for NULL pointers, zero counts or a NaN target. */
int descent_deepobs_speed(const double *curves, size_t n_runs, size_t n_evals, double target,
                          int maximize, double *speed);

/* ------------------------------------------------------------------------ */
/* Training: the step loop, the divergence guard and checkpoints            */
/* ------------------------------------------------------------------------ */

/* A trainer runs an optimizer on an objective (descent_objective: a network
 * through descent_net_objective, a problem of descent_problem_create, or a
 * user's own) over a training set: minibatches from a seeded batcher (or,
 * for full-batch optimizers such as gd, one step per epoch on the gradient of
 * the whole set, summed in chunks in double, in data order), a divergence
 * guard before every step, and checkpoints from which a run resumes to the
 * same bits as a run that never stopped. It reports every batch and every
 * epoch to callbacks (progress bars, logs, evaluation) and never prints.
 * An objective that needs no data set trains with train NULL: each step then
 * evaluates the whole objective (batch NULL) or a batch a caller's
 * next_batch hook gives, and an epoch is options.steps_per_epoch steps.
 * Each step runs: batch, value_and_grad, options.on_gradient (the one place
 * between "gradient computed" and "guard and step"), the guard, the step.
 * A method (descent_optimizer_is_method: lbfgs) takes that evaluation as the
 * first of its step (descent_optimizer_step_with, closure->evaluated = 1)
 * and makes its further evaluations on the same batch (full batch: the whole
 * training set, in chunks), without on_gradient and the guard; the guard
 * checks the next step's first evaluation.
 *
 * The guard refuses a step when the batch loss is NaN, infinite or beyond the
 * bound, or the gradient holds a NaN or an infinity, and before a checkpoint
 * when the parameters do. It stops the run with DESCENT_EDIVERGED and a
 * message naming the step, the loss, the learning rate and a hint, or (policy
 * rollback) restores the last good checkpoint, multiplies the learning rate by
 * rollback_factor (descent_optimizer_set_lr_scale) and goes on, up to
 * max_rollbacks times.
 *
 * A checkpoint is a file of descent_net_save's container format (header,
 * tagged sections each with its CRC-32) holding, in this order (readers
 * find sections by tag): OBJ, PARM, the objective's own sections
 * (ops->save_state), PREP, CKPT, OPTS, BTCH or EPOC, LOSS, CONF, TRAK, the user's
 * sections (options.save_sections), where
 *   "OBJ "  the objective: u32 kind length, its kind (ops->kind, UTF-8),
 *           u64 parameter count, u32 bytes per number. Checked at load: the
 *           kind and count must be this trainer's objective's. (Files
 *           written before it existed, all of networks, lack it; they load
 *           into an objective whose check_state accepts them.)
 *   "PARM"  u64 count, then the parameters (bytes per number each)
 *   "PREP"  with a data set: the preprocessing (descent_net_save's layout)
 *   "CKPT"  u32 checkpoint version (2), u32 bytes per number, i64 steps,
 *           i64 epochs completed, u64 batches and u64 examples of the current
 *           epoch so far, f64 sum of their losses (each times its batch size),
 *           f64 rate of the epoch's first step, f64 first loss of the run,
 *           f64 learning-rate scale, u32 rollbacks taken, u32 1 for a
 *           full-batch run, 16 bytes run id (options.run_id; version 1 files
 *           end before it and are still read, as runs without an id).
 *           Nothing else depends on time or on the machine, so two identical
 *           runs with the same run id write identical files.
 *   "OPTS"  the optimizer's state blob (descent_optimizer_save_state)
 *   "BTCH"  with a data set, the batcher: u64 examples, u64 features, u32
 *           CRC-32 of the labels, u64 batch size, u32 shuffle, 4 u64 RNG
 *           state, u64 position, i64 epochs started, then the permutation:
 *           one u64 per example
 *   "EPOC"  without a data set: u64 steps per epoch
 *   "LOSS"  u64 count, then count f64 losses and count f64 rates: every
 *           step's batch loss and learning rate, in order
 *   "CONF"  the configuration text given in the options (UTF-8, no NUL)
 *   "TRAK"  with a tracker (options.tracker): u32 version (1), u32 bytes per
 *           number, u32 instruments mask, u64 parameter count, i64 the next
 *           step measured (every 0), i64 the gap to it, f64 gradient
 *           evaluations spent, u32 which warm starts follow (bits: Hessian
 *           top, Hessian bottom, Gauss-Newton top, preconditioned top), then
 *           the parameters at step 0 (when layers are tracked) and each warm
 *           start present, in that order (parameter count numbers each).
 *           A trainer with a tracker refuses a file without it or with
 *           other instruments; one without a tracker ignores it.
 * A network's own sections are its NET, BUFF (batch-norm
 * statistics) and RNG (dropout) sections: with PARM and PREP they make the
 * checkpoint a model file that descent_net_load and `descent eval` read.
 * The parameters are saved where gradients are taken (schedule-free's
 * training point). Files are named ckpt-STEP.dsc in the checkpoint folder
 * (ckpt-0.dsc holds the starting point), written to a temporary file,
 * flushed, renamed and the folder flushed; older ones beyond `keep` are
 * deleted only after that.
 * The same bits also need the same precision and thread count (a matrix
 * product is split by thread, and on some CPUs takes another kernel, and the
 * rounding follows), and the same kernels (descent_cpu_setup).
 *
 * A checkpoint is written only once the state it holds has passed the guard:
 * it is kept in memory until the next batch's loss and gradient are checked
 * (or the run completes its epochs), so a state whose loss is NaN never
 * reaches the disk and never replaces a good checkpoint. The parameters are
 * also checked before every epoch's end is reported (where a caller saves its
 * model): NaN or Inf there is a divergence, reported before anything is
 * written.
 *
 * Checkpoints know their run: a file whose name's step differs from the step
 * it holds, whose run id differs from its folder's (the file "run-id") or from
 * the loading trainer's, is refused with both values named. Pruning and
 * rollbacks delete only files verified as checkpoints of the trainer's run,
 * and a write never replaces a file that is not one: it fails (DESCENT_EIO,
 * naming the file), and the file keeps its bytes. A folder holding a file of
 * a newer version (the format's or the checkpoint section's) is refused
 * whole (descent_checkpoint_find). */

typedef struct descent_trainer descent_trainer;

/* A run's identity: 16 random bytes made when the run starts (never from its
 * seed: two runs with one seed differ). Every checkpoint records it; a run's
 * folder records it in the file "run-id" (32 lowercase hex digits and a
 * newline). All zero: none (a run older than run ids, or a trainer used
 * without one: nothing is checked against it). */
typedef struct descent_run_id {
  unsigned char bytes[16];
} descent_run_id;

/* A new id from the kernel's random source (getrandom); never all zero. */
int descent_run_id_generate(descent_run_id *id);
/* The id as 32 lowercase hex digits and a NUL. */
void descent_run_id_format(const descent_run_id *id, char text[33]);
int descent_run_id_is_zero(const descent_run_id *id);
/* Writes dir/run-id atomically. */
int descent_run_id_save(const char *dir, const descent_run_id *id);
/* Reads dir/run-id into id: DESCENT_OK, 1 when the folder has none (id all
 * zero), DESCENT_EFORMAT or DESCENT_EIO when it cannot be read as one. */
int descent_run_id_load(const char *dir, descent_run_id *id);

typedef enum descent_diverge_policy {
  DESCENT_DIVERGE_STOP = 0,    /* stop: descent_trainer_run returns DESCENT_EDIVERGED */
  DESCENT_DIVERGE_ROLLBACK = 1 /* restore the last good checkpoint, lower the rate, go on */
} descent_diverge_policy;

/* What a trainer reports after every batch (and every chunk of a full-batch
 * gradient). */
typedef struct descent_step_report {
  int64_t step;      /* updates taken so far, this one included */
  int64_t epoch;     /* the epoch in progress, counted from 1 */
  size_t batch;      /* batches (full batch: chunks) of the epoch done */
  size_t batches;    /* batches (chunks) in an epoch */
  size_t samples;    /* examples seen in the epoch */
  double loss;       /* this batch's (chunk's) mean loss; full batch: the whole set's
                        once stepped */
  double epoch_loss; /* mean loss over the epoch's examples so far */
  double lr;         /* the rate of this update */
  int stepped;       /* 1 after an update; 0 after a chunk of a full-batch gradient */
} descent_step_report;

/* What a trainer reports when an epoch's batches are all done, before it
 * counts the epoch and writes the epoch's checkpoint. */
typedef struct descent_epoch_report {
  int64_t epoch;        /* the epoch, counted from 1 */
  int64_t step;         /* updates taken so far */
  double lr;            /* the rate of the epoch's first update */
  double train_loss;    /* mean batch loss over the epoch's examples, each taken before
                           its update ("running" loss) */
  size_t samples;       /* examples in the epoch */
  double seconds;       /* time spent in the epoch's steps in this process (not writing
                           checkpoints; after a resume, since the resume) */
  double samples_per_s; /* examples those steps took / seconds */
} descent_epoch_report;

/* A refused step. */
typedef struct descent_divergence {
  int64_t step;          /* the update that was refused, counted from 1 */
  int64_t epoch;         /* the epoch in progress, counted from 1 */
  double loss;           /* the batch loss at that point */
  double grad_norm;      /* Euclidean norm of the gradient; NaN or Inf if it holds one;
                            NaN when the parameters were checked */
  double lr;             /* the rate the update would have used */
  double bound;          /* the bound on the loss in force */
  const char *reason;    /* "loss", "gradient" or "parameters": what was not fine */
  int rollbacks;         /* rollbacks taken, this one included (policy rollback) */
  int64_t restored_step; /* the step of the state restored; -1 when none was */
} descent_divergence;

/* How a trainer runs; descent_trainer_options_default fills in the defaults
 * given after each field. Strings are copied. */
typedef struct descent_trainer_options {
  size_t batch_size;                    /* examples per minibatch; full batch: per chunk (128) */
  uint64_t seed;                        /* seeds the shuffling (1) */
  const descent_preprocess *preprocess; /* the inputs' preprocessing, saved in checkpoints
                                           (not copied: keep it alive); NULL: none (NULL) */
  const char *config;                   /* text saved in checkpoints (the resolved command line, for
                                           example) (NULL: empty) */
  const char *checkpoint_dir; /* folder for ckpt-STEP.dsc; must exist; NULL: no files (NULL) */
  int64_t checkpoint_every;   /* a checkpoint every this many updates; 0: none (0) */
  int checkpoint_epochs;      /* 1: a checkpoint at the end of every epoch (1) */
  int keep;                   /* checkpoints kept in the folder, newest first, >= 1 (3) */
  double max_loss;            /* the guard's bound on a batch loss; NAN: max_loss_factor
                                 times the run's first loss, at least max_loss_factor;
                                 INFINITY: no bound (NAN) */
  double max_loss_factor;     /* see max_loss, > 1 (100) */
  descent_diverge_policy on_diverge; /* (DESCENT_DIVERGE_STOP) */
  double rollback_factor;            /* the rate is multiplied by this at each rollback, in (0, 1)
                                        (0.1) */
  int max_rollbacks;                 /* rollbacks before the run stops, >= 1 (3) */
  descent_run_id run_id;             /* saved in every checkpoint; descent_trainer_load
                                        refuses a checkpoint of another run; all zero:
                                        none, nothing checked (default) */
  /* When not NULL and *stop becomes non-zero (a signal handler may set it),
     descent_trainer_run stops between two steps, writes a checkpoint of the
     state reached (when checkpoint_dir is set and the parameters are finite)
     and returns DESCENT_ESTOPPED. That checkpoint holds the state after the
     last step taken, which no batch has checked yet; it prunes nothing, so
     the `keep` newest checked checkpoints stay beside it. (NULL) */
  volatile sig_atomic_t *stop;
  /* Called after every batch; NULL: none. */
  void (*on_step)(void *user, const descent_step_report *r);
  /* Called at every epoch's end; parameters may be moved to the evaluation
     point (descent_optimizer_eval) inside, and are moved back after. A
     non-zero return stops the run, which returns it. NULL: none. */
  int (*on_epoch)(void *user, const descent_epoch_report *r);
  /* Called after a rollback, once the older state is back. NULL: none. */
  void (*on_rollback)(void *user, const descent_divergence *d);
  void *user; /* handed to every callback and hook; not owned (NULL) */
  /* Without a data set (train NULL): updates per epoch, >= 1 (1000).
     With one, an epoch is a pass over it and this is ignored. */
  int64_t steps_per_epoch;
  /* Without a data set: a caller's batch source, called before each step's
     gradient. It fills *b (arrays it owns, valid until its next call) and
     returns DESCENT_OK; a positive value ends the run before this step
     (descent_trainer_run returns it; the state is consistent and a later
     call goes on); a negative status stops it with that failure. Its
     position, if it has one, is saved through save_sections. NULL: every
     step evaluates the whole objective (batch NULL). With a data set it
     must be NULL (the batcher gives the batches). */
  int (*next_batch)(void *user, descent_batch *b);
  /* The gradient hook, called once per step between "gradient computed"
     and "guard and step": obj->grad holds the step's gradient (full batch:
     the whole set's, summed over its chunks) and *loss its loss; batch is
     the step's batch (NULL for a full-batch step and for a step on the whole
     objective). It may read and change obj->grad and *loss (an all-reduce
     of data-parallel training, gradient noise, a measurement); the guard
     and the step then see what it left. DESCENT_OK goes on; a positive
     value ends the run before the step, as for next_batch; a negative
     status stops the run, which returns it (with the hook's message).
     NULL: none. */
  int (*on_gradient)(void *user, descent_objective *obj, const descent_batch *batch, double *loss);
  /* Extra state in checkpoints (a user's batch source, an objective's
     state kept outside it): save_sections writes sections
     (descent_section_put) whenever a checkpoint is made; load_sections
     reads them (descent_section_get) whenever one is restored (a load, a
     rollback). load_sections must check everything before it changes
     anything: a non-zero return refuses the checkpoint, and the trainer's
     state stays as it was. NULL: none. */
  int (*save_sections)(void *user, descent_section_writer *w);
  int (*load_sections)(void *user, const descent_section_reader *r);
  /* The threads descent_trainer_run runs on, for everything it runs: the
     network's and the optimizer's own counts give way to it, and the
     callbacks run with it as their thread's OpenMP setting. 0: the calling
     thread's OpenMP setting (see "Threading rules"). A network's convolution
     and pooling layers use at most the threads their work areas were made
     for (descent_net_set_threads). (0) */
  int threads;
  /* Instruments measured during the run (descent_tracker_create for the
     same objective and optimizer), called after on_gradient and the guard
     have accepted a step, then after the step, and checkpointed with the
     run ("TRAK"); not owned. descent_trainer_create refuses a tracker of
     other objects, and one with a full-batch optimizer over a data set (no
     step batch to measure on). NULL: none. (NULL) */
  descent_tracker *tracker;
  /* Called right after every update (a chain's step, or a method's whole
     step), before anything reads the new parameters: the guard's check, the
     checkpoint that follows, the tracker, on_step. A data-parallel run
     whose optimizer state is sharded (descent_optimizer_set_shard) gathers
     the parameters here: each replica stepped only its shard. A negative
     status stops the run, which returns it (with the hook's message).
     NULL: none. (NULL) */
  int (*after_step)(void *user, descent_objective *obj);
  /* 1: this trainer is a replica of a data-parallel run whose first
     process writes the checkpoints: with checkpoint_dir NULL it still makes
     each checkpoint's state (in memory, then drops it) at the same points
     as the writer, the start and a stop included, because saving sharded
     optimizer state is a collective every replica joins. 0: a trainer
     without a folder makes none (unless it rolls back). (0) */
  int checkpoint_replica;
} descent_trainer_options;

void descent_trainer_options_default(descent_trainer_options *o);

/* A trainer for obj with opt over train (NULL: an objective that needs no
 * data; see steps_per_epoch and next_batch). A network is passed as
 * descent_net_objective(net). Nothing is owned: keep obj, opt, train and
 * options->preprocess alive until descent_trainer_free. The data set is
 * checked against the objective (ops->check_data) and the batch size against
 * its limit (ops->max_batch). With checkpoints, leftover temporary files of
 * killed writers (ckpt-*.dsc.tmp.*) in the folder are deleted. */
int descent_trainer_create(descent_trainer **out, descent_objective *obj, descent_optimizer *opt,
                           const descent_dataset *train, const descent_trainer_options *options);
void descent_trainer_free(descent_trainer *t);

/* Trains until `epochs` epochs are complete or, when until_step > 0, the
 * optimizer has taken until_step updates (then it returns right after that
 * update, before any epoch end; a checkpoint due then is written once the
 * next call has checked the next batch). Returns DESCENT_OK,
 * DESCENT_EDIVERGED with the diagnosis in descent_last_error() and
 * descent_trainer_divergence(), DESCENT_ESTOPPED when options.stop was set
 * (descent_trainer_last_checkpoint then names the checkpoint of the state
 * reached, if one was written), the status an on_epoch, next_batch or
 * on_gradient callback returned (with the callback's message; a positive one
 * ends the run cleanly: the state is consistent), or a failure to compute or
 * to write. Call it again to go on. */
int descent_trainer_run(descent_trainer *t, int64_t epochs, int64_t until_step);

int64_t descent_trainer_steps(const descent_trainer *t);
int64_t descent_trainer_epochs(const descent_trainer *t); /* completed */
/* Every update's batch loss and rate, in order; count updates. */
void descent_trainer_history(const descent_trainer *t, size_t *count, const double **losses,
                             const double **lrs);
/* The last divergence, or NULL if none happened. */
const descent_divergence *descent_trainer_divergence(const descent_trainer *t);
/* The newest checkpoint written or loaded, or "" when none. */
const char *descent_trainer_last_checkpoint(const descent_trainer *t);

/* Writes the trainer's whole state to path now (atomically), whatever the
 * options say; refused (DESCENT_EDIVERGED) when a parameter is NaN or
 * infinite. */
int descent_trainer_save(descent_trainer *t, const char *path);

/* Restores a checkpoint into the trainer. The file is checked whole before
 * anything changes: lengths against the file size, CRCs, versions, every
 * field's range, and the fit with this trainer (same precision, objective
 * kind and parameter count, the objective's own sections (ops->check_state: a
 * network's spec, input shape, loss and buffer count), preprocessing bit for
 * bit, optimizer chain, data set size, labels and batch size, or steps per
 * epoch without data, and the user's sections (options.load_sections)).
 * Failures name the file and the problem. */
int descent_trainer_load(descent_trainer *t, const char *path);

/* What a checkpoint holds, read without a trainer; the file is checked as by
 * descent_trainer_load, except the fit (its identity is: the step its name
 * says, its folder's run id). DESCENT_ENOTSUP for a newer version. Free with
 * descent_checkpoint_info_free. */
typedef struct descent_checkpoint_info {
  int64_t step;                   /* updates taken */
  int64_t epoch;                  /* epochs completed */
  size_t batch;                   /* batches of the next epoch already taken */
  size_t batches;                 /* batches per epoch (1 for a full-batch run; steps per
                                     epoch for a run without a data set) */
  unsigned width;                 /* bytes per number: 4 (float build) or 8 (double) */
  unsigned version;               /* the checkpoint format's version (1 or 2) */
  descent_run_id run_id;          /* the run that wrote it; all zero in version 1 */
  char *spec;                     /* the model spec; "" when the objective is no network */
  descent_shape input;            /* the input shape (a network's; else ndim 0) */
  descent_loss_kind loss;         /* the loss (a network's; else 0) */
  char *config;                   /* the configuration text */
  descent_preprocess preprocess;  /* the fitted preprocessing */
  unsigned char *optimizer_state; /* the optimizer's blob, for descent_optimizer_load_state */
  size_t optimizer_state_size;
  char *kind;      /* the objective's kind ("network" in files without an "OBJ " section) */
  size_t n_params; /* parameters */
  int has_data;    /* 1: trained over a data set (BTCH); 0: without one (EPOC) */
} descent_checkpoint_info;

int descent_checkpoint_inspect(const char *path, descent_checkpoint_info *info);
void descent_checkpoint_info_free(descent_checkpoint_info *info);

/* The newest checkpoint in dir that passes descent_checkpoint_inspect,
 * written to path. Only names ckpt-STEP.dsc are candidates (never a
 * temporary file). The ones skipped, newest first, are listed in skipped,
 * one reason a line ("ckpt-9.dsc: section 'PARM' is corrupted (...)\n...";
 * "" if none).
 * DESCENT_EIO when dir holds no checkpoint, DESCENT_EFORMAT when none is
 * valid (the message then lists why, separated by "; "), DESCENT_ENOTSUP when
 * a newer file than the one found is of a newer format or checkpoint version
 * (resuming past it would overwrite it). */
int descent_checkpoint_find(const char *dir, char *path, size_t path_cap, char *skipped,
                            size_t skipped_cap);

/* ---- The learning-rate range test ---------------------------------------
 *
 * Leslie Smith's range test (Smith 2017, "Cyclical Learning Rates for
 * Training Neural Networks", section 3.3), as fastai and torch-lr-finder run
 * it: step i of `steps` (counted from 0) uses the rate
 * start * (end / start)^(i / (steps - 1)), growing exponentially; the batch
 * loss l_i evaluated at the step's starting parameters (before its update)
 * is smoothed by a bias-corrected exponential moving average,
 * avg_i = smoothing * avg_(i-1) + (1 - smoothing) * l_i (avg_(-1) = 0),
 * smoothed_i = avg_i / (1 - smoothing^(i+1)); the test stops after the
 * first step whose smoothed loss is NaN, infinite or above stop_factor
 * times the best smoothed loss before it. */
typedef struct descent_lr_find_options {
  double start;       /* the first step's rate; > 0, default 1e-7 */
  double end;         /* the last step's rate; > start, finite, default 10 */
  int64_t steps;      /* steps from start to end, 2 to 1e8; default 100 */
  double smoothing;   /* the moving average's factor, in [0, 1) (0: no smoothing);
                         default 0.98 */
  double stop_factor; /* stop when the smoothed loss passes this times its best;
                         > 1, default 4 */
} descent_lr_find_options;

/* Fills o with the defaults above (every field written). */
void descent_lr_find_options_default(descent_lr_find_options *o);

/* The curve and the two suggested rates. The arrays are allocated by
 * descent_lr_find (room for options.steps points, n of them filled) and
 * released by descent_lr_find_result_free. */
typedef struct descent_lr_find_result {
  int64_t n;           /* steps taken: points of the curve (<= options.steps) */
  double *lr;          /* n rates, the one each step used (descent_optimizer_lr) */
  double *loss;        /* n batch losses, each at its step's starting parameters */
  double *smoothed;    /* n smoothed losses (the formula above) */
  int stopped;         /* 1: stopped early (stop_factor, or NaN / Inf); 0: all steps ran */
  int64_t minimum;     /* index of the smallest finite smoothed loss; -1: none */
  int64_t steepest;    /* index of the steepest descent of the smoothed loss against
                          log(lr) on points 0..minimum (central differences inside,
                          one-sided at both ends, as numpy.gradient), looked for
                          from point min(10, minimum / 2) on, as torch-lr-finder
                          skips the first 10 (their smoothed loss is a few noisy
                          batches); -1 when the minimum is the first point */
  double lr_steepest;  /* suggestion (a): lr[steepest]; NaN when steepest is -1 */
  double lr_minimum;   /* lr[minimum]; NaN when minimum is -1 */
  double lr_min_div10; /* suggestion (b): lr_minimum / 10, the fastai rule of thumb */
} descent_lr_find_result;

/* Runs the range test of opt on obj, each step on the next batch of batcher
 * (a new epoch starts when one ends), or on the whole objective when
 * batcher is NULL (objectives without data: the lab's problems). options
 * NULL: the defaults. Each step's rate is set with
 * descent_optimizer_set_lr_scale (so that descent_optimizer_lr gives it),
 * which works for every chain of transforms; a schedule's shape and warmup
 * are undone step by step, but a schedule whose rate is 0 at a step of the
 * test (a decay to 0 within it) is refused there (DESCENT_EINVAL; the
 * starting point is put back). Methods that evaluate the objective or its
 * curvature within their step (descent_optimizer_is_method: lbfgs, hf,
 * sdlm, kfac, ...) are refused (DESCENT_EINVAL), as are objectives the
 * optimizer cannot step on (descent_optimizer_check_objective). A
 * full-batch optimizer (gd) steps on the batches given, like sgd.
 * Afterwards obj->params, the optimizer's state (its blob: step count and
 * state vectors) and its rate scale are exactly, bit for bit, those it
 * started from, and so is the objective's own state when it has the
 * checkpoint hooks (ops->save_state and load_state: a network's batch-norm
 * running statistics and dropout RNG): a program can train from the same
 * starting point afterwards. obj->grad and the batcher's position are not
 * put back. A failing step's status and message are returned (the starting
 * point is put back then too); *out is then empty. */
int descent_lr_find(descent_objective *obj, descent_optimizer *opt, descent_batcher *batcher,
                    const descent_lr_find_options *options, descent_lr_find_result *out);

/* The two suggestions on any curve of n points (lr increasing, smoothed
 * loss): *minimum and *steepest as the fields of descent_lr_find_result
 * (-1 when undefined). Non-finite losses are skipped for the minimum.
 * DESCENT_EINVAL for NULL arrays. */
int descent_lr_find_suggest(const double *lr, const double *smoothed, int64_t n, int64_t *steepest,
                            int64_t *minimum);

/* Releases the arrays of r and zeroes it; NULL is accepted. */
void descent_lr_find_result_free(descent_lr_find_result *r);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif
#endif /* DESCENT_H */
