/* SPDX-License-Identifier: Apache-2.0
 *
 * storage_internal.h -- what storage.c (URL parsing, key rules, dispatch)
 * shares with the backends storage_local.c and storage_s3.c.  Not for use
 * outside src/storage/storage*.c.
 *
 * Keys reaching a backend have passed storage_key_check() (prefixes:
 * storage_prefix_check()); backends map them onto their own namespace.
 */
#ifndef QB_STORAGE_INTERNAL_H
#define QB_STORAGE_INTERNAL_H

#include "storage/storage.h"

#define STORAGE_SIDECAR_SUFFIX ".sha256"
#define STORAGE_TMP_PREFIX     ".qb-tmp."
#define STORAGE_SIDECAR_MAX    4096 /* "<64 hex>  <name>\n" is far smaller */

struct storage_ops {
    void (*close)(struct storage *st);
    enum qb_err (*check)(struct storage *st, char *err, size_t errlen);
    enum qb_err (*write_begin)(struct storage *st, const char *key, uint64_t size_hint,
                               struct storage_writer **out, char *err, size_t errlen);
    enum qb_err (*write)(struct storage_writer *w, const void *data, size_t len, char *err,
                         size_t errlen);
    enum qb_err (*write_finish)(struct storage_writer *w, struct storage_write_result *res,
                                char *err, size_t errlen);
    void (*write_abort)(struct storage_writer *w);
    enum qb_err (*read)(struct storage *st, const char *key, uint64_t offset, uint64_t length,
                        storage_read_fn fn, void *ud, char *err, size_t errlen);
    enum qb_err (*head)(struct storage *st, const char *key, struct storage_object_info *out,
                        char *err, size_t errlen);
    enum qb_err (*list)(struct storage *st, const char *prefix, storage_list_fn fn, void *ud,
                        char *err, size_t errlen);
    enum qb_err (*delete_many)(struct storage *st, const char *const *keys, size_t n, char *err,
                               size_t errlen);
};

/* The common head of every destination; backends embed it first. */
struct storage {
    const struct storage_ops *ops;
    enum storage_kind kind;
    char *url; /* normalised, without credentials */
};

/* The common head of every writer; backends embed it first. */
struct storage_writer {
    const struct storage_ops *ops;
    enum qb_err failed; /* first failure of storage_write(); sticky */
    char failed_err[QB_ERRBUF_SIZE];
};

/* A listing prefix: "" or a key-like string that may end in '/' or in a
 * partial segment. */
enum qb_err storage_prefix_check(const char *prefix, char *err, size_t errlen) QB_MUSTCHECK;

/* true if name (a key or path segment) ends in the sidecar suffix. */
bool storage_is_sidecar(const char *name);

/* Parses a sidecar's text "<64 hex>  <name>\n" into hex[65] (lower-case).
 * QB_ERR_IO naming what if it is malformed. */
enum qb_err storage_sidecar_parse(const char *text, size_t len, const char *what, char hex[65],
                                  char *err, size_t errlen) QB_MUSTCHECK;

/* Backends.  Each open takes the parsed URL parts; strings are copied. */
enum qb_err storage_local_open(const char *root, bool create, struct storage **out, char *err,
                               size_t errlen) QB_MUSTCHECK;
/* prefix: "" or "a/b/" (normalised, with the trailing slash). */
enum qb_err storage_s3_open(const struct storage_config *cfg, const char *bucket,
                            const char *prefix, struct storage **out, char *err,
                            size_t errlen) QB_MUSTCHECK;

/* Aborts every unfinished multipart upload of key (storage_janitor.c). */
enum qb_err storage_s3_discard_uploads(struct storage *st, const char *key, char *err,
                                       size_t errlen) QB_MUSTCHECK;

/* Object Lock on S3 (storage.h storage_object_lock, storage_set_lock,
 * storage_delete_versions); keys are validated by the caller. */
enum qb_err storage_s3_object_lock(struct storage *st, struct storage_lock_info *out, char *err,
                                   size_t errlen) QB_MUSTCHECK;
void storage_s3_set_lock(struct storage *st, const char *mode, int64_t until);
enum qb_err storage_s3_delete_versions(struct storage *st, const char *const *keys, size_t n,
                                       char *err, size_t errlen) QB_MUSTCHECK;
/* Server-side copy between two S3 destinations (storage_copy). */
bool storage_s3_can_copy(const struct storage *dst, const struct storage *src, uint64_t size);
enum qb_err storage_s3_copy(struct storage *dst, const char *key, struct storage *src,
                            const char *src_key, uint64_t size, const char *sha256,
                            struct storage_write_result *res, char *err,
                            size_t errlen) QB_MUSTCHECK;

/* A presigned GET URL for key, valid ttl_s seconds (storage_urls.c). */
enum qb_err storage_s3_presign(struct storage *st, const char *key, int64_t ttl_s, char **url,
                               char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORAGE_INTERNAL_H */
