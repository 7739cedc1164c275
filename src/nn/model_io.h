/*
 * model_io.h - the model file format, as building blocks that a checkpoint
 * can extend with sections of its own.
 *
 * A file is
 *   magic "DSCNTMDL" (8 bytes), u32 format version, u32 section count,
 *   then each section: 4-byte tag, u64 payload length, the payload, and a
 *   u32 CRC-32 (zlib's) of tag, length and payload.
 * Every number is little-endian and fixed-width, written byte by byte (never
 * a struct dumped), doubles and floats as their IEEE-754 bits. Readers verify
 * every section's length against the file and its CRC before looking inside,
 * require the sections they know, refuse duplicates, and skip (CRC-checked)
 * sections they do not know, so a checkpoint that adds sections still loads
 * as a model.
 */
#ifndef DESCENT_MODEL_IO_H
#define DESCENT_MODEL_IO_H

#include "internal.h"

#define MODEL_MAGIC   "DSCNTMDL"
#define MODEL_VERSION 1u
/* Sections of a file are at most this many. */
#define MODEL_MAX_SECTIONS 64

/* A growing byte buffer. Writes after an allocation failure are dropped and
   remembered in failed. */
typedef struct bytes_out {
  unsigned char *data;
  size_t len, cap;
  int failed;
} bytes_out;

void out_bytes(bytes_out *o, const void *p, size_t n);
void out_u32(bytes_out *o, uint32_t v);
void out_u64(bytes_out *o, uint64_t v);
void out_f64(bytes_out *o, double v);
/* n reals as 4- or 8-byte IEEE numbers (width). */
void out_reals(bytes_out *o, const descent_real *v, size_t n, unsigned width);
/* Starts a section (returns where its header is); section_end fills in the
   length and appends the CRC. */
size_t section_begin(bytes_out *o, const char tag[4]);
void section_end(bytes_out *o, size_t start);

/* A bounded reader over one section's payload. Reads past the end set
   failed and return zeros. */
typedef struct bytes_in {
  const unsigned char *data;
  size_t len, pos;
  int failed;
} bytes_in;

uint32_t in_u32(bytes_in *in);
uint64_t in_u64(bytes_in *in);
double in_f64(bytes_in *in);
void in_reals(bytes_in *in, descent_real *v, size_t n, unsigned width);

/* One section found in a file. */
typedef struct model_section {
  char tag[5];
  const unsigned char *payload;
  size_t len;
} model_section;

/* Checks the header and every section (lengths, CRCs) of a whole file in
   memory; fills sections. Messages start with name. */
int model_file_sections(const unsigned char *data, size_t len, const char *name,
                        model_section *sections, size_t *count);

/* Writes the header (with room for the count) and the model's sections: NET
   (spec, input shape, loss, scalar width), PARM, BUFF, PREP, RNG. Sections
   added after it are counted by model_file_finish. */
void model_write(bytes_out *o, const descent_net *net, const descent_preprocess *pp);
void model_file_finish(bytes_out *o);

/* The one section with this tag, or NULL with a message naming the file if
   it is missing or repeated. */
const model_section *model_section_find(const model_section *sections, size_t count,
                                        const char *tag, const char *name);

/* The parsed NET section. spec is allocated (the caller frees it). */
typedef struct net_header {
  char *spec;
  descent_shape input;
  descent_loss_kind loss;
  unsigned width;
} net_header;

int model_read_net_header(const model_section *s, const char *name, net_header *h);

/* Checks the PARM and BUFF sections against the spec of h without building
   the network: the counts it implies, then every value, named by tensor
   (finite at this build's precision; batch-norm running variances not
   negative). Model and checkpoint loading both call it. */
int model_check_stored(const net_header *h, const model_section *parm, const model_section *buff,
                       const char *name);

/* A PREP section for a network of `features` inputs, into pp (allocated after
   the section's length is checked; free with descent_preprocess_free).
   Non-finite constants, or a non-positive inv_std, are refused. */
int model_read_preprocess(const model_section *s, const char *name, unsigned width, size_t features,
                          descent_preprocess *pp);

/* A PREP section's payload for inputs of f features (pp NULL: none). */
void model_preprocess_payload(bytes_out *o, const descent_preprocess *pp, size_t f);

/* The network's checkpoint hooks (descent_objective_ops save_state,
   check_state, load_state): its NET, BUFF and RNG sections, as a model file
   has them. */
int model_save_state(const descent_objective *obj, descent_section_writer *w);
int model_check_state(const descent_objective *obj, const descent_section_reader *r);
int model_load_state(descent_objective *obj, const descent_section_reader *r);

/* Builds the network and preprocessing from a checked file's sections. */
int model_read(const model_section *sections, size_t count, const char *name, size_t max_batch,
               descent_net **net, descent_preprocess *pp);

#endif /* DESCENT_MODEL_IO_H */
