/* SPDX-License-Identifier: Apache-2.0 */
/* emu_util.h -- file system, hashing, time and formatting helpers for
 * qdrant-emu.  All functions are thread-safe and keep no state. */
#ifndef EMU_UTIL_H
#define EMU_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

#include "emu_common.h"

/* snprintf into buf; returns -1 (and logs) on truncation. */
int emu_pathf(char *buf, size_t size, const char *fmt, ...) EMU_PRINTF(3, 4) EMU_MUSTCHECK;

/* mkdir -p; 0 on success. */
int emu_mkdirs(const char *path) EMU_MUSTCHECK;
/* rm -rf; missing path is success. */
int emu_rm_rf(const char *path);
/* 1 if path is a directory / regular file. */
int emu_is_dir(const char *path);
int emu_is_file(const char *path);

/* Reads a whole file of at most max bytes into a NUL-terminated buffer.
 * [out] *data: caller frees with free().  Returns 0 or -1. */
int emu_read_file(const char *path, size_t max, char **data, size_t *len) EMU_MUSTCHECK;
/* Writes all of data[0..len) to fd, resuming after EINTR and short
 * writes.  Returns 0 or -1 (errno set). */
int emu_write_all(int fd, const void *data, size_t len) EMU_MUSTCHECK;
/* Writes data to path via path.tmp + fsync-less rename. */
int emu_write_file_atomic(const char *path, const void *data, size_t len) EMU_MUSTCHECK;
/* Loads a JSON file (<= 256 MiB).  Caller frees with cJSON_Delete; NULL on error. */
cJSON *emu_json_load(const char *path);
/* Saves compactly and atomically. */
int emu_json_save(const char *path, const cJSON *json) EMU_MUSTCHECK;

/* Copies in_fd to out_fd from the current offsets; 0 on success. */
int emu_copy_fd(int in_fd, int out_fd) EMU_MUSTCHECK;
/* Moves a file, falling back to copy+unlink across file systems. */
int emu_move_file(const char *from, const char *to) EMU_MUSTCHECK;

/* SHA-256 of a file as 64 lowercase hex chars (hex must hold 65). */
int emu_sha256_file(const char *path, char hex[65]) EMU_MUSTCHECK;
/* Digest to lowercase hex. */
void emu_hex(const unsigned char *in, size_t n, char *out);
/* 1 if s is exactly 64 hex digits (either case). */
int emu_is_sha256_hex(const char *s);
/* Case/whitespace-insensitive comparison of two hashes (Qdrant hashes_equal). */
int emu_hashes_equal(const char *a, const char *b);

/* Current UTC time as YYYY-MM-DD-HH-MM-SS (buf >= 20). */
void emu_ts_name(char *buf, size_t size);
/* File birth time as YYYY-MM-DDTHH:MM:SS; returns 0 when unknown. */
int emu_birth_time(const char *path, char *buf, size_t size);
/* Monotonic seconds. */
double emu_now(void);
/* Sleeps ms milliseconds. */
void emu_sleep_ms(long ms);

/* Random RFC 4122 v4 UUID, lowercase hyphenated (buf >= 37). */
void emu_uuid4(char *buf);
/* Random non-zero 63-bit number. */
uint64_t emu_random_u63(void);

/* Peer ids are u64 and must reach JSON clients exactly, so they never go
 * through a double: */
/* Parses plain decimal digits (no sign, no blanks, no overflow); 0 on success. */
int emu_u64_parse(const char *s, uint64_t *out) EMU_MUSTCHECK;
/* Decimal text of v (buf >= 21). */
void emu_u64_str(uint64_t v, char *buf, size_t size);
/* An exact JSON integer (a raw number), caller owns it. */
cJSON *emu_json_u64(uint64_t v);
/* Adds key: exact integer to obj. */
void emu_json_add_u64(cJSON *obj, const char *key, uint64_t v);

/* Shortest decimal text that reads back as the same float (buf >= 32). */
void emu_format_f32(float v, char *buf, size_t size);

/* In-place %XX and (when plus) '+' decoding.  Returns 0 or -1 on bad escape. */
int emu_url_decode(char *s, int plus);

/* A growable byte buffer with a hard cap. */
struct emu_buf {
    char *data;
    size_t len, cap, limit; /* limit = most bytes ever held */
};
/* Appends; returns -1 once limit would be exceeded (buffer left intact). */
int emu_buf_append(struct emu_buf *b, const void *p, size_t n) EMU_MUSTCHECK;
void emu_buf_free(struct emu_buf *b);

#endif
