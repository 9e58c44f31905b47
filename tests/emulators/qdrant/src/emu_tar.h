/* SPDX-License-Identifier: Apache-2.0 */
/* emu_tar.h -- a small tar writer and extractor.  The writer emits POSIX
 * ustar headers (GNU base-256 sizes past 8 GiB, GNU 'L' records for long
 * names) and can nest: a tar written "into" an entry of another tar streams
 * straight through, which is how collection snapshots carry their segment
 * archives (segments/<uuid>.tar) without a temporary copy.  The extractor
 * accepts regular files and directories only and never overwrites, like
 * Qdrant's tar_unpack.rs. */
#ifndef EMU_TAR_H
#define EMU_TAR_H

#include <stdint.h>
#include <time.h>
#include <openssl/evp.h>

#include "emu_common.h"

struct emu_tar {
    int fd;                 /* destination (top level only) */
    EVP_MD_CTX *md;         /* running SHA-256 of all bytes, or NULL */
    struct emu_tar *parent; /* nested writer: bytes go into parent's entry */
    uint64_t pos;           /* bytes written so far */
    int err;                /* sticky: set on the first write error */
    time_t mtime;           /* mtime stamped on every entry */
    long idle_ms;           /* > 0: a write that cannot proceed this long fails */
};

/* Starts a writer on fd; hash != 0 keeps a SHA-256 of the output. */
void emu_tar_init(struct emu_tar *t, int fd, int hash);
/* Starts a writer whose bytes become the body of parent's open entry. */
void emu_tar_init_nested(struct emu_tar *t, struct emu_tar *parent);
/* Frees the hash context. */
void emu_tar_cleanup(struct emu_tar *t);

/* Bytes one entry of `size` occupies (header + padded body). */
uint64_t emu_tar_entry_span(const char *name, uint64_t size);
/* Bytes of a finished archive's trailer. */
uint64_t emu_tar_trailer_span(void);

int emu_tar_add_dir(struct emu_tar *t, const char *name);
int emu_tar_add_mem(struct emu_tar *t, const char *name, const void *data, size_t len);
int emu_tar_add_file(struct emu_tar *t, const char *name, const char *path);
/* Opens an entry of known size whose body the caller streams (e.g. a nested
 * tar); finish with emu_tar_end_entry(t, size). */
int emu_tar_begin_entry(struct emu_tar *t, const char *name, uint64_t size);
int emu_tar_end_entry(struct emu_tar *t, uint64_t size);
/* Writes the two zero blocks.  Returns t->err. */
int emu_tar_finish(struct emu_tar *t);
/* Finishes the digest into hex[65]. */
void emu_tar_digest(struct emu_tar *t, char hex[65]);

/* Extracts tar_path into the existing directory dest.  On failure st holds a
 * 400 "Wrong input: …" message.  Returns 0 or -1. */
int emu_tar_extract(const char *tar_path, const char *dest, struct emu_status *st) EMU_MUSTCHECK;

#endif
