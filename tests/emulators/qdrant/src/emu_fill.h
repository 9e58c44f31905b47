/* SPDX-License-Identifier: Apache-2.0 */
/* emu_fill.h -- the bytes POST /debug/fill writes into a segment to make a
 * collection's snapshots big: incompressible noise (the default, as
 * before), or content shaped like a real Qdrant segment's -- float32
 * embeddings and JSON payloads -- so that measurements of compression on a
 * backup see what a real one would.  Deterministic: the same seed, size
 * and kind give the same bytes. */
#ifndef EMU_FILL_H
#define EMU_FILL_H

#include <stdint.h>

#include "emu_common.h"

enum emu_fill_content {
    EMU_FILL_RANDOM = 0, /* xorshift64 bytes: nothing to compress */
    EMU_FILL_EMBEDDINGS, /* blocks of unit-length float32 vectors, then their payloads */
};

#define EMU_FILL_DIM_MAX 65536 /* Qdrant's own limit on a vector's size */

/* Writes exactly mb MiB of `content` to fd, seeded by seed (the collection
 * name); dim (1..EMU_FILL_DIM_MAX) is the vector size for embeddings.
 * Returns 0, or -1 with errno set when a write fails. */
int emu_fill_write(int fd, const char *seed, uint64_t mb, enum emu_fill_content content,
                   unsigned dim) EMU_MUSTCHECK;

#endif /* EMU_FILL_H */
