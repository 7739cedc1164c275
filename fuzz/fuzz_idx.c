/*
 * fuzz_idx.c - the IDX loader on arbitrary bytes, plain or gzipped.
 *
 * Input: two bytes giving the length L of the label file, then L bytes of
 * label file, then the image file. The loader must refuse or accept without
 * crashing, leaking or reading out of bounds; an accepted data set must be
 * consistent. The loader of sets held as bytes, and zlib's reads alone (the
 * whole-file inflation of a gzipped file off), must agree: refuse the same
 * files with the same status, and accept the others with the same inputs.
 */
#include "descent.h"
#include "fuzz_util.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t label_len = (size_t)data[0] << 8 | data[1];
  data += 2, size -= 2;
  if (label_len > size) label_len = size;
  char images[64], labels[64];
  int fl = fuzz_memfile(data, label_len, labels, sizeof labels);
  int fi = fuzz_memfile(data + label_len, size - label_len, images, sizeof images);
  descent_dataset ds, bytes, streamed;
  int rc = descent_idx_load_dataset(images, labels, &ds);
  if (descent_idx_load_dataset_bytes(images, labels, &bytes) != rc) abort();
  idx_whole_enable(0);
  if (descent_idx_load_dataset(images, labels, &streamed) != rc) abort();
  idx_whole_enable(1);
  if (rc == DESCENT_OK) {
    if (ds.features != descent_shape_size(&ds.shape)) abort();
    for (size_t i = 0; i < ds.n; i++)
      if (ds.labels[i] < 0 || (size_t)ds.labels[i] >= ds.classes) abort();
    for (size_t i = 0; i < ds.n * ds.features; i++)
      if (!(ds.x[i] >= 0 && ds.x[i] <= 1)) abort();
    if (bytes.n != ds.n || bytes.features != ds.features || bytes.classes != ds.classes) abort();
    for (size_t i = 0; i < ds.n * ds.features; i++)
      if ((descent_real)bytes.bytes[i] / (descent_real)255 != ds.x[i] || streamed.x[i] != ds.x[i])
        abort();
    descent_dataset_free(&ds);
    descent_dataset_free(&bytes);
    descent_dataset_free(&streamed);
  }
  close(fl);
  close(fi);
  return 0;
}
