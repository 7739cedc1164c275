/*
 * fuzz_util.h - helpers shared by the fuzz targets.
 */
#ifndef DESCENT_FUZZ_UTIL_H
#define DESCENT_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A file holding data, as a path the loaders can open: an anonymous memory
   file, so fuzzing touches no disk. Returns the descriptor (close it after). */
static inline int fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t cap) {
  int fd = memfd_create("fuzz", 0);
  if (fd < 0) abort();
  size_t done = 0;
  while (done < size) {
    ssize_t w = write(fd, data + done, size - done);
    if (w <= 0) abort();
    done += (size_t)w;
  }
  snprintf(path, cap, "/proc/self/fd/%d", fd);
  return fd;
}

/* A NUL-terminated copy of the input, for the text parsers. */
static inline char *fuzz_text(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) abort();
  memcpy(text, data, size);
  text[size] = '\0';
  return text;
}

#endif /* DESCENT_FUZZ_UTIL_H */
