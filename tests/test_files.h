/*
 * test_files.h - whole-file reading and writing and an emptied folder, for
 * the tests that damage files on purpose (model files, checkpoints) and the
 * ones that write checkpoints.
 */
#ifndef DESCENT_TEST_FILES_H
#define DESCENT_TEST_FILES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* The bytes of path (caller frees) and their count; NULL and 0 when it cannot
   be read, a buffer and 0 when reading stopped short. */
static inline unsigned char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  *len = 0;
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *d = malloc(size > 0 ? (size_t)size : 1);
  if (d && size >= 0 && fread(d, 1, (size_t)size, f) == (size_t)size) *len = (size_t)size;
  fclose(f);
  return d;
}

/* Writes len bytes to path, replacing it. */
static inline void spit(const char *path, const unsigned char *d, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fwrite(d, 1, len, f);
  fclose(f);
}

/* An empty folder at path (files from an earlier run removed). */
static inline void empty_folder(const char *path) {
  mkdir(path, 0777);
  DIR *d = opendir(path);
  if (!d) return;
  char file[1200];
  for (struct dirent *e; (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    snprintf(file, sizeof file, "%s/%s", path, e->d_name);
    unlink(file);
  }
  closedir(d);
}

#endif /* DESCENT_TEST_FILES_H */
