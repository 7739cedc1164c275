/*
 * idx.c - reads IDX files (the format of MNIST and Fashion-MNIST) into a data set.
 *
 * An IDX file is a 4-byte magic number (0, 0, element type, number of
 * dimensions), the dimensions as big-endian 32-bit integers, then the elements
 * in row-major order. The files usually come gzipped; zlib reads gzipped and
 * plain files alike, and the first two bytes tell us which one we have so that
 * the size checks can use the right evidence.
 *
 * A gzipped file's elements are inflated by libdeflate, whole, into the
 * memory that will hold them, as numbers or as bytes (idx_inflate_whole):
 * about twice as fast as zlib's streaming reads. zlib still reads every header and takes over
 * whenever libdeflate does not finish cleanly, so every message about a
 * broken file is zlib's.
 *
 * Nothing in a header is trusted. Dimensions are multiplied with overflow
 * checks, and the size they declare is compared with what the file can hold
 * (its length, or for gzip the trailer's length and deflate's maximum ratio)
 * before anything is allocated: a corrupt 100-byte file that claims 10^12
 * pixels is refused without asking for a terabyte.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libdeflate.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define IDX_TYPE_UBYTE 0x08

/* deflate never expands data more than 1032:1, so a gzip file of c bytes cannot
 * hold more than 1032 * c bytes, whatever its header says. */
#define GZIP_MAX_RATIO 1032

/* 10-byte gzip header plus 8-byte trailer: the least a gzip file can be. */
#define GZIP_MIN_BYTES 18

/* Elements are read and converted this many at a time, so no second copy of
 * the elements is ever held (idx_inflate_whole holds the compressed file). */
#define IDX_CHUNK 16384

/* idx_inflate_whole reads a gzip file whole only when it is no larger than
 * its elements could make it: deflate's stored blocks add 5 bytes to each
 * 64 KiB, and the gzip header and trailer (a file name, a comment) take this
 * much more at most. A longer file (another member after the first, a huge
 * comment) is zlib's to stream and refuse, without being held first. */
#define GZIP_WHOLE_SLACK (1u << 20)

typedef struct idx_file {
  const char *path;
  gzFile gz;
  int raw_fd;                    /* the file itself, for idx_inflate_whole; -1: none */
  uintmax_t file_bytes;          /* its length */
  int gzipped;                   /* 1: the file is gzip; 0: plain */
  int ndim;                      /* 1 to DESCENT_MAX_DIMS */
  size_t dims[DESCENT_MAX_DIMS]; /* each >= 1 */
  size_t count;                  /* number of elements, the product of dims */
  size_t declared;               /* header plus data bytes the header declares; 0 until read */
  size_t consumed;               /* (uncompressed) bytes read so far, header included */
  unsigned char head[4 + 4 * DESCENT_MAX_DIMS]; /* the header's bytes, as read */
} idx_file;

/* What an IDX file of a given role must look like, for the messages. */
typedef struct idx_role {
  const char *name; /* "images" */
  int min_ndim;     /* fewest dimensions, the example count included */
  int max_ndim;     /* most dimensions */
  int usual_ndim;   /* the dimension byte shown in the expected magic number */
  const char *dims; /* the layouts allowed, in words */
} idx_role;

static const idx_role idx_images = {
    "images", 2, 4, 3,
    "2 to 4 (n x features, n x height x width or n x channels x height x width)"};
static const idx_role idx_labels = {"labels", 1, 1, 1, "1 (one label per example)"};

static const char *idx_type_name(int type) {
  switch (type) {
  case 0x08:
    return "unsigned byte";
  case 0x09:
    return "signed byte";
  case 0x0b:
    return "16-bit integer";
  case 0x0c:
    return "32-bit integer";
  case 0x0d:
    return "32-bit float";
  case 0x0e:
    return "64-bit float";
  default:
    return "not an IDX type";
  }
}

/* Turns zlib's error state after a failed gzread into our status and message. */
static int idx_gzip_error(const idx_file *f) {
  int err = Z_OK;
  const char *msg = gzerror(f->gz, &err);
  /* zlib names a gzdopen'ed file "<fd:3>"; our messages name the path. */
  const char *named = strstr(msg, ">: ");
  if (strncmp(msg, "<fd:", 4) == 0 && named) msg = named + 3;
  if (err == Z_ERRNO) return descent_fail(DESCENT_EIO, "%s: read error: %s", f->path, msg);
  if (err == Z_MEM_ERROR)
    return descent_fail(DESCENT_ENOMEM, "%s: zlib ran out of memory", f->path);
  return descent_fail(DESCENT_EFORMAT, "%s: corrupt gzip data (%s)", f->path, msg);
}

/* Reads exactly n bytes; a short read means the file ends before the header
 * says it should. */
static int idx_read(idx_file *f, void *buf, size_t n) {
  unsigned char *p = buf;
  while (n > 0) {
    unsigned want = n > INT_MAX ? INT_MAX : (unsigned)n;
    int got = gzread(f->gz, p, want);
    if (got < 0) return idx_gzip_error(f);
    if (got == 0) {
      if (f->declared == 0)
        return descent_fail(DESCENT_EFORMAT,
                            "%s: file truncated: %zu bytes are too few for an IDX header", f->path,
                            f->consumed);
      return descent_fail(DESCENT_EFORMAT, "%s: file truncated: header declares %zu bytes, %s %zu",
                          f->path, f->declared, f->gzipped ? "file decompresses to" : "file holds",
                          f->consumed);
    }
    p += got;
    n -= (size_t)got;
    f->consumed += (size_t)got;
  }
  return DESCENT_OK;
}

static uint32_t idx_big_endian(const unsigned char b[4]) {
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

/* Checks the magic number: two zero bytes, the element type, the number of
 * dimensions, which must suit the file's role. */
static int idx_check_magic(const idx_file *f, const unsigned char magic[4], const idx_role *role) {
  if (magic[0] != 0 || magic[1] != 0)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: not an IDX file (magic 0x%02x%02x%02x%02x): expected 00 00 08 %02x "
                        "for %s",
                        f->path, magic[0], magic[1], magic[2], magic[3], role->usual_ndim,
                        role->name);
  if (magic[2] != IDX_TYPE_UBYTE)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: element type 0x%02x (%s) is not supported: %s must be unsigned "
                        "bytes (0x08)",
                        f->path, magic[2], idx_type_name(magic[2]), role->name);
  int ndim = magic[3];
  if (ndim < role->min_ndim || ndim > role->max_ndim)
    return descent_fail(DESCENT_EFORMAT, "%s: header declares %d dimension%s; %s files have %s",
                        f->path, ndim, ndim == 1 ? "" : "s", role->name, role->dims);
  return DESCENT_OK;
}

/* Reads and validates the header, leaving the file at the first element. */
static int idx_read_header(idx_file *f, const idx_role *role) {
  unsigned char magic[4], raw[4 * DESCENT_MAX_DIMS];
  int rc = idx_read(f, magic, sizeof magic);
  if (rc) return rc;
  rc = idx_check_magic(f, magic, role);
  if (rc) return rc;
  f->ndim = magic[3];
  rc = idx_read(f, raw, 4 * (size_t)f->ndim);
  if (rc) return rc;
  memcpy(f->head, magic, sizeof magic);
  memcpy(f->head + sizeof magic, raw, 4 * (size_t)f->ndim);

  size_t count = 1;
  int overflow = 0;
  for (int i = 0; i < f->ndim; i++) {
    f->dims[i] = idx_big_endian(raw + 4 * i);
    if (f->dims[i] == 0)
      return descent_fail(DESCENT_EFORMAT,
                          "%s: dimension %d of %d is 0: every dimension must be at least 1",
                          f->path, i + 1, f->ndim);
    if (!descent_mul_ok(count, f->dims[i], &count)) overflow = 1;
  }
  size_t header = 4 + 4 * (size_t)f->ndim;
  if (overflow || count > SIZE_MAX - header) {
    char dims[128];
    int len = 0;
    for (int i = 0; i < f->ndim; i++)
      len += snprintf(dims + len, sizeof dims - (size_t)len, "%s%zu", i ? " x " : "", f->dims[i]);
    return descent_fail(DESCENT_ERANGE, "%s: dimensions %s overflow size_t: corrupt header",
                        f->path, dims);
  }
  f->count = count;
  f->declared = header + count;
  return DESCENT_OK;
}

/* Compares the size the header declares with what the file can hold. */
static int idx_check_size(const idx_file *f, uintmax_t file_bytes, uint32_t isize) {
  if (!f->gzipped) {
    if (file_bytes < f->declared)
      return descent_fail(DESCENT_EFORMAT,
                          "%s: file truncated: header declares %zu bytes, file holds %ju", f->path,
                          f->declared, file_bytes);
    if (file_bytes > f->declared)
      return descent_fail(DESCENT_EFORMAT,
                          "%s: trailing data: header declares %zu bytes, file holds %ju", f->path,
                          f->declared, file_bytes);
    return DESCENT_OK;
  }
  if (file_bytes <= UINTMAX_MAX / GZIP_MAX_RATIO && f->declared > file_bytes * GZIP_MAX_RATIO)
    return descent_fail(DESCENT_ERANGE,
                        "%s: header declares %zu bytes, but a %ju-byte gzip file holds at most "
                        "%ju: corrupt header",
                        f->path, f->declared, file_bytes, file_bytes * GZIP_MAX_RATIO);
  /* The trailer stores the uncompressed length mod 2^32. A file cut short ends
   * in the middle of compressed data, so its "trailer" will not match either.
   * Only the last member of a multi-member gzip file is seen here, so such a
   * file is refused; gzip and pigz write one member. */
  if ((uint32_t)f->declared != isize)
    return descent_fail(
        DESCENT_EFORMAT,
        "%s: size mismatch: header declares %zu bytes, gzip trailer records %" PRIu32
        "%s: file truncated, corrupt, or with trailing data",
        f->path, f->declared, isize, f->declared > UINT32_MAX ? " (mod 2^32)" : "");
  return DESCENT_OK;
}

/* Reads n bytes at offset of fd without moving the file position. */
static int idx_pread(const char *path, int fd, void *buf, size_t n, off_t offset) {
  ssize_t got = pread(fd, buf, n, offset);
  if (got < 0) return descent_fail(DESCENT_EIO, "%s: read error: %s", path, strerror(errno));
  if ((size_t)got != n) return descent_fail(DESCENT_EIO, "%s: file changed while being read", path);
  return DESCENT_OK;
}

/* Looks at the raw file: its length, whether it is gzip, and if so the length
 * its trailer records. */
static int idx_inspect(idx_file *f, int fd, uintmax_t *file_bytes, uint32_t *isize) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return descent_fail(DESCENT_EIO, "cannot stat '%s': %s", f->path, strerror(errno));
  if (!S_ISREG(st.st_mode)) return descent_fail(DESCENT_EIO, "%s: not a regular file", f->path);
  *file_bytes = (uintmax_t)st.st_size;
  *isize = 0;
  unsigned char b[4];
  if (st.st_size < 2) return DESCENT_OK;
  int rc = idx_pread(f->path, fd, b, 2, 0);
  if (rc) return rc;
  f->gzipped = b[0] == 0x1f && b[1] == 0x8b;
  if (!f->gzipped) return DESCENT_OK;
  if (st.st_size < GZIP_MIN_BYTES)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: gzip file truncated: %ju bytes are too few for a gzip header and "
                        "trailer",
                        f->path, *file_bytes);
  rc = idx_pread(f->path, fd, b, 4, st.st_size - 4);
  if (rc) return rc;
  *isize = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return DESCENT_OK;
}

static void idx_close(idx_file *f) {
  if (f->gz) gzclose(f->gz);
  f->gz = NULL;
  if (f->raw_fd >= 0) close(f->raw_fd);
  f->raw_fd = -1;
}

/* Opens path and validates its header for role; on success the file is
 * positioned at the first element and must be closed with idx_close. */
static int idx_open(idx_file *f, const char *path, const idx_role *role) {
  memset(f, 0, sizeof *f);
  f->path = path;
  f->raw_fd = -1;
  int fd;
  int rc = descent_open_regular(path, &fd, NULL);
  if (rc) return rc;
  uintmax_t file_bytes = 0;
  uint32_t isize = 0;
  rc = idx_inspect(f, fd, &file_bytes, &isize);
  if (rc) {
    close(fd);
    return rc;
  }
  f->file_bytes = file_bytes;
  /* The images' descriptor twice, for idx_inflate_whole; none is no
     failure (zlib then reads everything). */
  if (f->gzipped && role == &idx_images) f->raw_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  f->gz = gzdopen(fd, "rb"); /* from here on, gzclose closes fd */
  if (!f->gz) {
    close(fd);
    idx_close(f);
    return descent_fail(DESCENT_ENOMEM, "%s: cannot allocate zlib's buffers", path);
  }
  gzbuffer(f->gz, 1 << 17);
  rc = idx_read_header(f, role);
  if (!rc) rc = idx_check_size(f, file_bytes, isize);
  if (rc) idx_close(f);
  return rc;
}

/* After the last element: the file must end here. Reading on also makes zlib
 * reach the gzip trailer and verify its checksum. */
static int idx_check_end(idx_file *f) {
  unsigned char extra;
  int got = gzread(f->gz, &extra, 1);
  if (got < 0) return idx_gzip_error(f);
  if (got > 0)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: trailing data: header declares %zu bytes, file holds more", f->path,
                        f->declared);
  int err = Z_OK;
  gzerror(f->gz, &err);
  if (err != Z_OK)
    return descent_fail(DESCENT_EFORMAT,
                        "%s: file truncated: the gzip stream ends without its trailer", f->path);
  return DESCENT_OK;
}

/* The whole files idx_inflate_whole has read, for the tests: they check
   that it ran, not only that the elements came out right. */
static atomic_size_t idx_whole_count;
static atomic_int idx_whole_on = 1;

size_t idx_whole_reads(void) {
  return atomic_load(&idx_whole_count);
}

void idx_whole_enable(int on) {
  atomic_store(&idx_whole_on, on != 0);
}

/* libdeflate picks its routines for this CPU (inflation, CRC-32) on their
   first call and stores the choice in a function pointer without
   synchronization: two threads inflating their first files at once (the
   two splits in fashion_load_both) race on it, harmlessly on x86 and ARM
   but a data race all the same, which ThreadSanitizer reports. Inflating
   an empty gzip member once per process, first, makes both choices. */
static void idx_libdeflate_choose(void) {
  static const unsigned char empty[20] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0};
  struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
  unsigned char out[1];
  size_t got = 0;
  if (!d) return;
  libdeflate_gzip_decompress(d, empty, sizeof empty, out, sizeof out, &got);
  libdeflate_free_decompressor(d);
}

static pthread_once_t idx_libdeflate_once = PTHREAD_ONCE_INIT;

/* Inflates a gzip file's header and elements at once, with libdeflate, into
   the last f->declared bytes of the `room` bytes at mem. Returns a pointer
   to the first element, or NULL when anything is not as zlib would have
   read it (a stream that ends early or late, a bad checksum, another gzip
   member after the first, a header other than the one read, no memory, a
   read error): zlib then reads the elements itself, and its message names
   the problem. The file is read rather than mapped: a mapped file cut short
   by another program would end this one with SIGBUS. */
static unsigned char *idx_inflate_whole(idx_file *f, void *mem, size_t room) {
  size_t header = 4 + 4 * (size_t)f->ndim;
  if (!atomic_load(&idx_whole_on) || f->raw_fd < 0 || room < f->declared ||
      f->file_bytes > f->declared + f->declared / 64 + GZIP_WHOLE_SLACK)
    return NULL;
  pthread_once(&idx_libdeflate_once, idx_libdeflate_choose);
  size_t in_bytes = (size_t)f->file_bytes;
  unsigned char *in = malloc(in_bytes ? in_bytes : 1);
  if (!in) return NULL;
  size_t have = 0;
  while (have < in_bytes) {
    ssize_t got = pread(f->raw_fd, in + have, in_bytes - have, (off_t)have);
    if (got <= 0 && !(got < 0 && errno == EINTR)) break;
    if (got > 0) have += (size_t)got;
  }
  struct libdeflate_decompressor *d = have == in_bytes ? libdeflate_alloc_decompressor() : NULL;
  unsigned char *out = (unsigned char *)mem + (room - f->declared);
  size_t used = 0, got = 0;
  enum libdeflate_result r =
      d ? libdeflate_gzip_decompress_ex(d, in, in_bytes, out, f->declared, &used, &got)
        : LIBDEFLATE_BAD_DATA;
  if (d) libdeflate_free_decompressor(d);
  free(in);
  if (r != LIBDEFLATE_SUCCESS || used != in_bytes || got != f->declared ||
      memcmp(out, f->head, header) != 0)
    return NULL;
  atomic_fetch_add(&idx_whole_count, 1);
  return out + header;
}

/* Reads every element as a pixel in [0, 1]. A gzip file is inflated whole
   into the end of x (4n or 8n bytes hold the n elements and the header for
   n >= 7): element i lands at byte (sizeof *x - 1) n + i, ahead of where its
   value goes. */
static int idx_read_pixels(idx_file *f, descent_real *x) {
  unsigned char buf[IDX_CHUNK];
  const unsigned char *whole = f->gzipped ? idx_inflate_whole(f, x, f->count * sizeof *x) : NULL;
  for (size_t done = 0; done < f->count;) {
    size_t n = f->count - done < IDX_CHUNK ? f->count - done : IDX_CHUNK;
    /* From the inflated bytes, a chunk at a time through buf: the values
       written, x[done .. done + n), end at or before byte (sizeof *x) (done
       + n) <= (sizeof *x - 1) count + done + n, where the elements not yet
       read begin. */
    int rc = whole ? (memcpy(buf, whole + done, n), DESCENT_OK) : idx_read(f, buf, n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) x[done + i] = (descent_real)buf[i] / (descent_real)255;
    done += n;
  }
  /* libdeflate checked the stream's end: its trailer, and nothing after. */
  return whole ? DESCENT_OK : idx_check_end(f);
}

/* Reads every element as it is, into bytes (count + header bytes: a gzip
   file is inflated whole there, header first, and the elements moved down). */
static int idx_read_bytes(idx_file *f, unsigned char *bytes) {
  const unsigned char *whole =
      f->gzipped ? idx_inflate_whole(f, bytes, f->count + 4 + 4 * (size_t)f->ndim) : NULL;
  if (whole) {
    memmove(bytes, whole, f->count);
    return DESCENT_OK;
  }
  int rc = idx_read(f, bytes, f->count);
  return rc ? rc : idx_check_end(f);
}

/* Reads every element as a label; *classes becomes the largest label + 1. */
static int idx_read_labels(idx_file *f, int32_t *labels, size_t *classes) {
  unsigned char buf[IDX_CHUNK];
  int32_t max = 0;
  for (size_t done = 0; done < f->count;) {
    size_t n = f->count - done < IDX_CHUNK ? f->count - done : IDX_CHUNK;
    int rc = idx_read(f, buf, n);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) {
      labels[done + i] = buf[i];
      if (buf[i] > max) max = buf[i];
    }
    done += n;
  }
  *classes = (size_t)max + 1;
  return idx_check_end(f);
}

/* The shape of one example: the image file's dimensions after the first. */
static descent_shape idx_example_shape(const idx_file *f) {
  descent_shape shape = {0};
  if (f->ndim == 3) { /* n x height x width: one channel */
    shape.ndim = 3;
    shape.dims[0] = 1;
    shape.dims[1] = f->dims[1];
    shape.dims[2] = f->dims[2];
    return shape;
  }
  shape.ndim = f->ndim - 1;
  for (int i = 1; i < f->ndim; i++) shape.dims[i - 1] = f->dims[i];
  return shape;
}

/* Allocates the data set and reads both files' elements into it: the images
   as numbers in [0, 1], or as their bytes when as_bytes. */
static int idx_read_dataset(idx_file *images, idx_file *labels, int as_bytes,
                            descent_dataset *out) {
  descent_dataset ds = {0};
  ds.n = images->dims[0];
  ds.shape = idx_example_shape(images);
  ds.features = images->count / ds.n;
  size_t header = 4 + 4 * (size_t)images->ndim;
  if (as_bytes ? images->count > SIZE_MAX - header
               : images->count > SIZE_MAX / sizeof(descent_real))
    return descent_fail(DESCENT_ERANGE, "%s: %zu pixels do not fit in this machine's memory",
                        images->path, images->count);
  if (as_bytes)
    ds.bytes = descent_calloc(images->count + header, 1, "images");
  else
    ds.x = descent_alloc_real(images->count, "images");
  ds.labels = descent_calloc(ds.n, sizeof(int32_t), "labels");
  int rc = DESCENT_OK;
  if ((as_bytes ? !ds.bytes : !ds.x) || !ds.labels) {
    rc = DESCENT_ENOMEM;
    descent_error_prefix("%s: ", images->path);
  }
  if (!rc) rc = as_bytes ? idx_read_bytes(images, ds.bytes) : idx_read_pixels(images, ds.x);
  if (!rc) rc = idx_read_labels(labels, ds.labels, &ds.classes);
  if (rc) {
    descent_dataset_free(&ds);
    return rc;
  }
  *out = ds;
  return DESCENT_OK;
}

static int idx_load(const char *images_path, const char *labels_path, int as_bytes,
                    descent_dataset *out) {
  descent_error_clear();
  const char *name = as_bytes ? "descent_idx_load_dataset_bytes" : "descent_idx_load_dataset";
  if (!out) return descent_fail(DESCENT_EINVAL, "%s: out is NULL", name);
  memset(out, 0, sizeof *out);
  if (!images_path || !labels_path)
    return descent_fail(DESCENT_EINVAL, "%s: a file path is NULL", name);

  /* Both headers are validated before either file's data is allocated. */
  idx_file images, labels;
  int rc = idx_open(&images, images_path, &idx_images);
  if (rc) return rc;
  rc = idx_open(&labels, labels_path, &idx_labels);
  if (!rc && labels.dims[0] != images.dims[0])
    rc = descent_fail(DESCENT_ESHAPE, "%s: %zu labels, but %s holds %zu images: files do not match",
                      labels_path, labels.dims[0], images_path, images.dims[0]);
  if (!rc) rc = idx_read_dataset(&images, &labels, as_bytes, out);
  idx_close(&labels);
  idx_close(&images);
  return rc;
}

int descent_idx_load_dataset(const char *images_path, const char *labels_path,
                             descent_dataset *out) {
  return idx_load(images_path, labels_path, 0, out);
}

int descent_idx_load_dataset_bytes(const char *images_path, const char *labels_path,
                                   descent_dataset *out) {
  return idx_load(images_path, labels_path, 1, out);
}
