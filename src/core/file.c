/*
 * file.c - whole-file reads bounded by a size limit, and atomic writes.
 *
 * An atomic write goes to a temporary file in the same folder, is flushed to
 * the disk, renamed over the target, and the folder is flushed too: a crash at
 * any moment leaves either the old file or the new one, never a mix, and a
 * reader never sees a partial file under the final name.
 *
 * Every input file is opened through descent_open_regular, which refuses
 * FIFOs, directories and devices without blocking on them.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What a file that is not a regular file is, for messages. */
static const char *file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a file";
}

int descent_open_regular(const char *path, int *fd_out, struct stat *st_out) {
  *fd_out = -1;
  /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer
     forever, before fstat could refuse it. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return descent_fail(DESCENT_EIO, "cannot open '%s': %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return descent_fail(DESCENT_EIO, "cannot stat '%s': %s", path, strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return descent_fail(DESCENT_EIO, "'%s' is not a regular file (%s); give the path of a file",
                        path, file_kind(st.st_mode));
  }
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
    int err = errno;
    close(fd);
    return descent_fail(DESCENT_EIO, "cannot read '%s': %s", path, strerror(err));
  }
  *fd_out = fd;
  if (st_out) *st_out = st;
  return DESCENT_OK;
}

int descent_read_file(const char *path, size_t max_bytes, unsigned char **data, size_t *len) {
  *data = NULL;
  *len = 0;
  int fd;
  struct stat st;
  int rc = descent_open_regular(path, &fd, &st);
  if (rc) return rc;
  if ((unsigned long long)st.st_size > max_bytes) {
    close(fd);
    return descent_fail(DESCENT_ERANGE, "%s: %lld bytes, more than the limit of %zu bytes", path,
                        (long long)st.st_size, max_bytes);
  }
  size_t size = (size_t)st.st_size;
  unsigned char *buf = malloc(size + 1);
  if (!buf) {
    close(fd);
    return descent_fail_alloc(path, size + 1);
  }
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, buf + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  if (got != size) {
    free(buf);
    return descent_fail(DESCENT_EIO, "%s: read %zu of %zu bytes", path, got, size);
  }
  buf[size] = '\0';
  *data = buf;
  *len = size;
  return DESCENT_OK;
}

static int write_all(int fd, const void *data, size_t len) {
  const unsigned char *p = data;
  while (len) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

int descent_fsync_dir(const char *path) {
  char copy[4096];
  snprintf(copy, sizeof copy, "%s", path);
  int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
  if (fd < 0)
    return descent_fail(DESCENT_EIO, "cannot open the folder of '%s': %s", path, strerror(errno));
  int rc = fsync(fd);
  close(fd);
  if (rc != 0 && errno != EINVAL)
    return descent_fail(DESCENT_EIO, "cannot flush the folder of '%s': %s", path, strerror(errno));
  return DESCENT_OK;
}

int descent_write_file_atomic(const char *path, const void *data, size_t len) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
    return descent_fail(DESCENT_EINVAL, "path too long: '%s'", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return descent_fail(DESCENT_EIO, "cannot create '%s': %s", tmp, strerror(errno));
  if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
    int err = errno;
    close(fd);
    unlink(tmp);
    return descent_fail(DESCENT_EIO, "cannot write '%s': %s", tmp, strerror(err));
  }
  if (close(fd) != 0 || rename(tmp, path) != 0) {
    int err = errno;
    unlink(tmp);
    return descent_fail(DESCENT_EIO, "cannot move '%s' to '%s': %s", tmp, path, strerror(err));
  }
  return descent_fsync_dir(path);
}
