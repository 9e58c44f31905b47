/* SPDX-License-Identifier: Apache-2.0
 *
 * storage.h -- where snapshots live: one interface over two backends, a
 * local folder (file:///abs/path, the embedded default) and S3
 * (s3://bucket/optional/prefix).  Owns destination URLs, key validation,
 * the write protocol and the SHA-256 recorded with every object.
 *
 * WHAT A DESTINATION PROMISES (both backends; docs/internals/storage.md)
 *   Atomic publish: nothing is visible under a key until
 *     storage_write_finish() (or storage_put()) succeeds; a failed or
 *     aborted write leaves nothing under the key, and a replaced key shows
 *     the old object until the new one is complete.
 *   Checksum: every object carries the SHA-256 computed while it was
 *     written, as a "<key>.sha256" sidecar in sha256sum format (and
 *     x-amz-meta-sha256 on a single-PUT S3 object); storage_head() reports
 *     it and storage_verify() re-reads the object against it.
 *   Listing: storage_list() yields every finished object under a prefix, in
 *     byte order of the key, never a sidecar, a temp file or a name that is
 *     not a valid key.
 *   Delete: removes the object and its sidecar; deleting a missing key
 *     succeeds (S3 semantics), and a batch is validated before any of it
 *     is deleted.
 *   Crash: a process killed at any point leaves either the old state or the
 *     new one under the final key, never a partial object.  What it can
 *     leave is invisible debris -- a ".qb-tmp.*" file or orphan sidecar in
 *     a folder, an incomplete multipart upload on S3 -- which
 *     storage_janitor.h removes.  (Locally, a crash between the two renames
 *     of a *replace* pairs the old data with the new sidecar, which
 *     storage_verify() reports.)
 *   Retries: the S3 client retries each request's transient failures
 *     itself, the one retry layer of an S3 request (util/retry.h); a
 *     failure that survives those is returned as QB_ERR_REMOTE, so the
 *     engine's per-step retries do not repeat it.
 *
 * Keys are relative ("plan/collection/2026-...snapshot"); the destination's
 * prefix (or folder) is prepended.  The same key rules apply to both
 * backends, so a catalogue can move between them: see storage_key_check().
 * Keys ending in ".sha256" are reserved for the sidecars.
 *
 * Errors: as s3_client.h for S3; locally QB_ERR_IO (file system),
 * QB_ERR_NOT_FOUND (no such key), QB_ERR_INVALID (bad key, URL, range).
 * Messages never contain a credential.
 *
 * THREADS: a struct storage, and each writer, is used by one thread at a
 * time (the S3 backend holds a libcurl handle).  Open one per thread; any
 * number may point at the same destination.  http_client_global_init() must
 * have run before an S3 destination is opened.
 */
#ifndef QB_STORAGE_H
#define QB_STORAGE_H

#include "common.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* Longest key including the destination prefix (S3's limit) and the longest
 * path segment (leaves room for temp and sidecar suffixes under NAME_MAX). */
#define STORAGE_KEY_MAX     1024
#define STORAGE_SEGMENT_MAX 200

enum storage_kind {
    STORAGE_LOCAL = 1,
    STORAGE_S3,
};

/* Destination configuration; every string is copied by storage_open(), so
 * all are borrowed for the call only.  NULL/0 fields take the default. */
struct storage_config {
    const char *url; /* required: "file:///abs/path" or "s3://bucket[/prefix]" */
    bool create;     /* local: create the folder; S3: create the bucket (tests) */
    /* S3 only (see struct s3_config for each default). */
    const char *endpoint; /* "http://127.0.0.1:7480"; NULL: environment, then AWS */
    const char *region;
    const char *access_key; /* NULL: all three from AWS_* environment variables */
    const char *secret_key;
    const char *session_token;
    bool path_style;
    const char *ca_file;
    bool insecure;   /* skip TLS verification (tests only) */
    const char *sse; /* NULL or "": none; "AES256"; "aws:kms" */
    const char *sse_kms_key_id;
    const char *storage_class; /* NULL: the bucket's default */
    uint64_t part_size;        /* 0: 32 MiB */
    unsigned parts_in_flight;  /* 0: 4 */
    /* Reading: range size and ranges fetched at once (s3_download). */
    uint64_t download_part_size;       /* 0: 16 MiB */
    unsigned download_parts_in_flight; /* 0: 4 */
    unsigned list_page_size;           /* keys per ListObjectsV2 request; 0: 1000 */
};

struct storage;
struct storage_writer;

/* Opens a destination.  Sends no request unless cfg->create is set; use
 * storage_check() to test reachability and credentials.
 * [out] *out: close with storage_close().
 * Errors: QB_ERR_INVALID (bad URL or settings), QB_ERR_NOT_FOUND (the
 * folder does not exist and create is off), QB_ERR_IO, and the S3 errors
 * of bucket creation. */
enum qb_err storage_open(const struct storage_config *cfg, struct storage **out, char *err,
                         size_t errlen) QB_MUSTCHECK;

/* Opens a destination from its catalogue form: kind "local" with settings
 * {"path": "/abs"} or kind "s3" with settings {"bucket", "prefix",
 * "endpoint", "region", "path_style", "ca_file", "insecure", "sse",
 * "sse_kms_key_id", "storage_class", "part_size", "parts_in_flight",
 * "download_part_size", "download_parts_in_flight"} and
 * secret {"access_key", "secret_key", "session_token"} (NULL: environment).
 * Unknown members are rejected.  settings and secret are borrowed. */
enum qb_err storage_open_json(const char *kind, const cJSON *settings, const cJSON *secret,
                              bool create, struct storage **out, char *err,
                              size_t errlen) QB_MUSTCHECK;

void storage_close(struct storage *st); /* NULL is a no-op */

enum storage_kind storage_kind(const struct storage *st);

/* The destination as "file:///abs/path" or "s3://bucket/prefix"; borrowed
 * from st. */
const char *storage_url(const struct storage *st);

/* Checks that the destination answers and the credentials are accepted:
 * local: the folder is a writable directory; S3: one ListObjectsV2 of the
 * prefix.  A missing bucket fails with QB_ERR_REMOTE naming the bucket. */
enum qb_err storage_check(struct storage *st, char *err, size_t errlen) QB_MUSTCHECK;

/* Checks key against the rules shared by both backends: 1..STORAGE_KEY_MAX
 * bytes of UTF-8, '/'-separated segments of 1..STORAGE_SEGMENT_MAX bytes,
 * no "." or ".." segment, no leading '/', no empty segment, no backslash,
 * no control character, no ".sha256" suffix and no segment starting with
 * ".qb-tmp." (both reserved).  QB_ERR_INVALID with the reason otherwise. */
enum qb_err storage_key_check(const char *key, char *err, size_t errlen) QB_MUSTCHECK;

/* ---- writing ---------------------------------------------------------- */

struct storage_write_result {
    uint64_t size;
    char sha256[65]; /* lower-case hex */
    char *location;  /* "s3://bucket/prefix/key" or "/abs/path/key"; caller frees */
    /* S3: the ETag the stored object must show (s3_upload_result), "" when
     * it cannot prove the bytes; local: always "". */
    char etag[48];
    /* Time storage_write_finish() spent sending what was still buffered
     * (S3) and making the object durable and visible (S3: completing the
     * upload and the sidecar; local: fsyncs and renames). */
    int64_t drain_ms, complete_ms;
};

/* Starts writing key (replacing it on finish if it exists).  size_hint is
 * the expected size, 0 if unknown (S3 sizes its parts from it).  Nothing is
 * visible under key until storage_write_finish() succeeds.
 * [out] *out: must be consumed by storage_write_finish() or
 * storage_write_abort().  st must outlive the writer and is not used by
 * another thread meanwhile. */
enum qb_err storage_write_begin(struct storage *st, const char *key, uint64_t size_hint,
                                struct storage_writer **out, char *err, size_t errlen) QB_MUSTCHECK;

/* Appends data[0..len) (borrowed for the call).  After a failure every
 * further call fails and the writer must still be finished or aborted. */
enum qb_err storage_write(struct storage_writer *w, const void *data, size_t len, char *err,
                          size_t errlen) QB_MUSTCHECK;

/* Makes the object durable and visible with its SHA-256.  Always consumes
 * w: on failure nothing is left under key (nor temp files, nor multipart
 * uploads).  [out] res (may be NULL): free res->location. */
enum qb_err storage_write_finish(struct storage_writer *w, struct storage_write_result *res,
                                 char *err, size_t errlen) QB_MUSTCHECK;

/* Discards everything written and frees w.  NULL is a no-op. */
void storage_write_abort(struct storage_writer *w);

/* Writes data[0..len) (borrowed) as key in one go, with the same promise
 * as the writer: all of it or nothing.  For small objects (manifests). */
enum qb_err storage_put(struct storage *st, const char *key, const void *data, size_t len,
                        char *err, size_t errlen) QB_MUSTCHECK;

/* ---- reading ---------------------------------------------------------- */

/* Receives an object's bytes in order (data borrowed for the call);
 * anything but QB_OK stops the read and is returned by storage_read(). */
typedef enum qb_err (*storage_read_fn)(void *ud, const void *data, size_t len, char *err,
                                       size_t errlen);

/* Streams key, or the range [offset, offset+length) (length 0: to the end;
 * a range past the end is clipped to it), to fn.  An offset beyond the
 * object's size fails (local: QB_ERR_INVALID; S3: InvalidRange). */
enum qb_err storage_read(struct storage *st, const char *key, uint64_t offset, uint64_t length,
                         storage_read_fn fn, void *ud, char *err, size_t errlen) QB_MUSTCHECK;

struct storage_object_info {
    uint64_t size;
    int64_t mtime;        /* seconds since the epoch; 0 if unknown */
    char sha256[65];      /* recorded checksum, "" when none was recorded */
    char etag[48];        /* S3: the object's ETag as HEAD reports it; local: "" */
    char lock_mode[16];   /* S3 Object Lock: "GOVERNANCE"/"COMPLIANCE", "" when not locked */
    int64_t locked_until; /* its retain-until date (Unix seconds), 0 when not locked */
};

/* Size, time and recorded SHA-256 of key.  QB_ERR_NOT_FOUND if absent. */
enum qb_err storage_head(struct storage *st, const char *key, struct storage_object_info *out,
                         char *err, size_t errlen) QB_MUSTCHECK;

/* Re-reads key and compares its SHA-256 with the recorded one.
 * QB_ERR_IO "checksum mismatch" if they differ, QB_ERR_NOT_FOUND if the
 * object or its checksum is missing.  [out] out (may be NULL): head. */
enum qb_err storage_verify(struct storage *st, const char *key, struct storage_object_info *out,
                           char *err, size_t errlen) QB_MUSTCHECK;

/* How a freshly written object is checked before it is catalogued. */
enum storage_verify_mode {
    /* Re-read every byte and hash it (storage_verify). */
    STORAGE_VERIFY_FULL = 0,
    /* S3: one HEAD and the sidecar: size, recorded SHA-256 and ETag must be
     * what the write produced (S3 checked each part's body against the
     * hash it was signed with, and the ETag ties the object to exactly
     * those parts).  Falls back to FULL where that proves nothing: a local
     * folder (a re-read is cheap there and catches a bad disk), or an S3
     * object whose part ETags are not MD5s (SSE-KMS). */
    STORAGE_VERIFY_QUICK,
};

/* Checks key against what writing it produced (wrote, borrowed), by mode.
 * QB_ERR_IO "... mismatch" when the stored object is not those bytes, as
 * storage_verify otherwise.  [out] out (may be NULL): head.
 * [out] *how (may be NULL): "full" or "quick", what was actually done. */
enum qb_err storage_verify_written(struct storage *st, const char *key,
                                   const struct storage_write_result *wrote,
                                   enum storage_verify_mode mode, struct storage_object_info *out,
                                   const char **how, char *err, size_t errlen) QB_MUSTCHECK;

/* One listed object; key (relative to the destination) is borrowed for the
 * callback only. */
struct storage_list_entry {
    const char *key;
    uint64_t size;
    int64_t mtime; /* seconds since the epoch; 0 if unknown */
};
typedef enum qb_err (*storage_list_fn)(void *ud, const struct storage_list_entry *e);

/* Calls fn for every object whose key starts with prefix (NULL or "": all),
 * in byte order of the key, following every page.  Sidecars, temp files
 * and names that are not valid keys are not listed.  fn returning non-QB_OK
 * stops the listing with that result. */
enum qb_err storage_list(struct storage *st, const char *prefix, storage_list_fn fn, void *ud,
                         char *err, size_t errlen) QB_MUSTCHECK;

/* ---- deleting --------------------------------------------------------- */

/* Deletes key and its sidecar.  A missing key is success (S3 semantics). */
enum qb_err storage_delete(struct storage *st, const char *key, char *err,
                           size_t errlen) QB_MUSTCHECK;

/* Deletes keys[0..n) (borrowed) and their sidecars; S3 batches 1,000 keys
 * per request.  Every key is validated before anything is deleted. */
enum qb_err storage_delete_many(struct storage *st, const char *const *keys, size_t n, char *err,
                                size_t errlen) QB_MUSTCHECK;

/* ---- S3 Object Lock (docs/internals/storage.md#object-lock) ----------- */

struct storage_lock_info {
    bool supported;  /* S3: the destination kind can have Object Lock; local: false */
    bool enabled;    /* the bucket has Object Lock enabled */
    char mode[16];   /* its default retention "GOVERNANCE"/"COMPLIANCE", "" when none */
    int days, years; /* the default retention's period, 0 when none */
};

/* The destination's Object Lock configuration (S3: GET /?object-lock; a
 * local folder: supported = false, QB_OK).  [out] *out. */
enum qb_err storage_object_lock(struct storage *st, struct storage_lock_info *out, char *err,
                                size_t errlen) QB_MUSTCHECK;

/* Every object written through st from now on (its sidecar and a
 * storage_put too) is locked in mode ("GOVERNANCE" or "COMPLIANCE") until
 * `until` (Unix seconds); mode NULL stops locking.  Checks nothing
 * remotely: a bucket without Object Lock refuses the writes
 * (InvalidRequest), so call storage_object_lock() first.  QB_ERR_INVALID
 * on a local folder, which cannot lock. */
enum qb_err storage_set_lock(struct storage *st, const char *mode, int64_t until, char *err,
                             size_t errlen) QB_MUSTCHECK;

/* Deletes every stored version of keys[0..n) (borrowed) and their
 * sidecars, for objects written with a lock: on a versioned bucket a plain
 * delete only hides them behind a delete marker.  S3 refuses a version
 * still locked (QB_ERR_REMOTE naming AccessDenied, not retried); what was
 * deleted before it stays deleted.  Locally the same as
 * storage_delete_many. */
enum qb_err storage_delete_versions(struct storage *st, const char *const *keys, size_t n,
                                    char *err, size_t errlen) QB_MUSTCHECK;

/* ---- copying between destinations ------------------------------------ */

/* True when storage_copy can copy a size-byte object from src to dst
 * without the bytes passing through qbackupd: both S3 on the same
 * endpoint and account (CopyObject up to 5 GiB, UploadPartCopy beyond). */
bool storage_can_copy(const struct storage *dst, const struct storage *src, uint64_t size);

/* Copies src_key of src to key of dst on the server (storage_can_copy must
 * be true), with the same promise as a writer: all of it or nothing under
 * key.  sha256 is the object's known SHA-256 (the copy records it, as a
 * write does; nothing is re-hashed: storage_verify_written checks).
 * [out] res: size, sha256, location (caller frees) and the new ETag. */
enum qb_err storage_copy(struct storage *dst, const char *key, struct storage *src,
                         const char *src_key, uint64_t size, const char *sha256,
                         struct storage_write_result *res, char *err, size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORAGE_H */
