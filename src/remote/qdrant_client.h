/* SPDX-License-Identifier: Apache-2.0
 *
 * qdrant_client.h -- Qdrant's REST API as qbackup uses it: server info,
 * collections, cluster views, and the snapshot API for collection, full
 * and shard snapshots (create, list, delete, download, upload-recover,
 * recover from a URL).  Behaviour follows Qdrant's own OpenAPI spec and
 * the contract read from its source (docs/internals/qdrant.md).
 *
 * Snapshots are streams: a download hands bytes to a callback as they
 * arrive, an upload pulls them from one; nothing is held in memory or
 * written to disk here.  Qdrant's error envelope ({"status":{"error":...}})
 * and its plain-text errors become messages "Qdrant answered <status>:
 * <error>"; failures worth retrying (connection refused/reset, timeouts,
 * 408/429/5xx) return QB_ERR_TRANSIENT, a missing collection or snapshot
 * QB_ERR_NOT_FOUND, other refusals QB_ERR_REMOTE.  Collection and snapshot
 * names are escaped as one path segment each; an empty name, "." or ".."
 * is QB_ERR_INVALID before anything is sent.  The API key is sent as
 * the `api-key` header (a JWT as `Authorization: Bearer`) and never
 * appears in a message.
 *
 * THREADS: a struct qdrant_client belongs to one thread at a time (it
 * owns one libcurl handle).  http_client_global_init() must have run.
 */
#ifndef QB_QDRANT_CLIENT_H
#define QB_QDRANT_CLIENT_H

#include "common.h"
#include "remote/http_client.h"

#include <cjson/cJSON.h>

struct qdrant_config {
    const char *url;          /* base URL, e.g. "http://127.0.0.1:6333" */
    const char *api_key;      /* NULL: none */
    bool insecure;            /* skip TLS verification */
    const char *ca_file;      /* NULL: system CAs */
    long timeout_ms;          /* non-streaming calls; 0: 30 s */
    long connect_timeout_ms;  /* 0: 10 s */
    long snapshot_timeout_ms; /* create with wait=true, and wait=false polling; 0: 1 h */
    long poll_interval_ms;    /* wait=false polling period; 0: 500 ms */
};

struct qdrant_client;

/* Creates a client; strings in cfg are copied.  Caller frees with
 * qdrant_client_destroy.  QB_ERR_INVALID for a URL that is not http(s). */
enum qb_err qdrant_client_create(const struct qdrant_config *cfg, struct qdrant_client **out,
                                 char *err, size_t errlen) QB_MUSTCHECK;
void qdrant_client_destroy(struct qdrant_client *c); /* NULL is a no-op */

/* The base URL the client talks to, without a trailing slash (owned by c). */
const char *qdrant_client_url(const struct qdrant_client *c);

/* ---------------------------------------------------------------- service */

/* GET /: *version receives Qdrant's version ("1.19.0"); caller frees. */
enum qb_err qdrant_server_version(struct qdrant_client *c, char **version, char *err,
                                  size_t errlen) QB_MUSTCHECK;
/* GET /readyz: QB_OK when Qdrant reports ready. */
enum qb_err qdrant_ready(struct qdrant_client *c, char *err, size_t errlen) QB_MUSTCHECK;
/* GET /collections: names, caller frees with qdrant_strings_free. */
enum qb_err qdrant_list_collections(struct qdrant_client *c, char ***names, size_t *n, char *err,
                                    size_t errlen) QB_MUSTCHECK;
void qdrant_strings_free(char **list, size_t n);

struct qdrant_collection_info {
    char *status;          /* "green", "yellow", ...; caller frees */
    int64_t points_count;  /* -1 when Qdrant did not say */
    int64_t vectors_count; /* -1 when Qdrant did not say */
};
/* GET /collections/{name}.  QB_ERR_NOT_FOUND when it does not exist. */
enum qb_err qdrant_collection_info(struct qdrant_client *c, const char *collection,
                                   struct qdrant_collection_info *out, char *err,
                                   size_t errlen) QB_MUSTCHECK;
void qdrant_collection_info_free(struct qdrant_collection_info *info);

/* GET /collections/{name}/cluster and GET /cluster: the `result` object,
 * which caller frees with cJSON_Delete. */
enum qb_err qdrant_collection_cluster(struct qdrant_client *c, const char *collection,
                                      cJSON **result, char *err, size_t errlen) QB_MUSTCHECK;
enum qb_err qdrant_cluster_status(struct qdrant_client *c, cJSON **result, char *err,
                                  size_t errlen) QB_MUSTCHECK;

/* ---------------------------------------------------------------- snapshots */

enum qdrant_scope {
    QDRANT_SCOPE_COLLECTION, /* /collections/{c}/snapshots */
    QDRANT_SCOPE_FULL,       /* /snapshots */
    QDRANT_SCOPE_SHARD,      /* /collections/{c}/shards/{id}/snapshots */
};

/* What a snapshot call is about; collection is ignored for FULL, shard_id
 * is used only for SHARD.  Borrowed. */
struct qdrant_target {
    enum qdrant_scope scope;
    const char *collection;
    unsigned shard_id;
};

/* Qdrant's SnapshotDescription.  checksum is NULL when Qdrant gave none
 * (before v1.8, uploaded files, S3-backed storage). */
struct qdrant_snapshot {
    char *name;
    char *creation_time; /* "YYYY-MM-DDTHH:MM:SS" or NULL */
    uint64_t size;
    char *checksum; /* 64 lower-case hex, or NULL */
};
void qdrant_snapshot_clear(struct qdrant_snapshot *s);
void qdrant_snapshots_free(struct qdrant_snapshot *list, size_t n);

/* Creates a snapshot.  wait=true blocks in Qdrant until it exists.
 * wait=false sends wait=false (Qdrant answers 202 at once) and then polls
 * the list until a snapshot that was not there before appears (or one
 * that replaced a same-named one: Qdrant names snapshots by the second),
 * and its checksum too when Qdrant supplies checksums; note that with
 * wait=false Qdrant reports no errors, so a failure shows only as a
 * timeout, as does a replacement within the same second.  *out
 * receives the description (clear with qdrant_snapshot_clear). */
enum qb_err qdrant_snapshot_create(struct qdrant_client *c, const struct qdrant_target *t,
                                   bool wait, struct qdrant_snapshot *out, char *err,
                                   size_t errlen) QB_MUSTCHECK;

/* Lists snapshots (unsorted, as Qdrant returns them). */
enum qb_err qdrant_snapshot_list(struct qdrant_client *c, const struct qdrant_target *t,
                                 struct qdrant_snapshot **out, size_t *n, char *err,
                                 size_t errlen) QB_MUSTCHECK;

/* The creation time Qdrant wrote into a snapshot's name (collection, shard
 * and full snapshots all end in "-YYYY-MM-DD-HH-MM-SS.snapshot", UTC), or
 * -1 when the name has none.  Used to find a snapshot whose creation was
 * requested but whose name never arrived (a crash in between). */
int64_t qdrant_snapshot_name_time(const char *name);

/* Deletes every snapshot of t whose name says it was created at `since`
 * (Unix seconds) or later: the one a create request made although its
 * answer never arrived.  *deleted receives how many.  Stops at the first
 * failure. */
enum qb_err qdrant_snapshot_delete_since(struct qdrant_client *c, const struct qdrant_target *t,
                                         int64_t since, size_t *deleted, char *err,
                                         size_t errlen) QB_MUSTCHECK;

/* Deletes a snapshot.  QB_ERR_NOT_FOUND when it does not exist. */
enum qb_err qdrant_snapshot_delete(struct qdrant_client *c, const struct qdrant_target *t,
                                   const char *name, char *err, size_t errlen) QB_MUSTCHECK;

/* Streams a snapshot to fn (see http_client.h for fn's contract); *bytes
 * (may be NULL) receives how many bytes fn saw.  No Accept-Encoding is
 * sent, so Qdrant never compresses the body and the bytes are the file's,
 * matching its checksum.  A body shorter than the announced length is a
 * QB_ERR_TRANSIENT failure, never a success. */
enum qb_err qdrant_snapshot_download(struct qdrant_client *c, const struct qdrant_target *t,
                                     const char *name, http_write_fn fn, void *ud, uint64_t *bytes,
                                     char *err, size_t errlen) QB_MUSTCHECK;

/* Streams shard shard_id of collection as Qdrant builds it (GET
 * /collections/{c}/shards/{id}/snapshot): no file on Qdrant's disk, no
 * length, no checksum.  A stream Qdrant cut short may still end cleanly,
 * so callers check the archive's structure (util/tar_check.h). */
enum qb_err qdrant_shard_stream(struct qdrant_client *c, const char *collection, unsigned shard_id,
                                http_write_fn fn, void *ud, uint64_t *bytes, char *err,
                                size_t errlen) QB_MUSTCHECK;

/* How Qdrant treats other replicas when recovering (its `priority`). */
enum qdrant_priority {
    QDRANT_PRIORITY_DEFAULT = 0, /* omit: Qdrant's default ("snapshot") */
    QDRANT_PRIORITY_SNAPSHOT,
    QDRANT_PRIORITY_REPLICA,
    QDRANT_PRIORITY_NO_SYNC,
};
const char *qdrant_priority_name(enum qdrant_priority p);
bool qdrant_parse_priority(const char *s, enum qdrant_priority *out) QB_MUSTCHECK;

/* Recovers a collection (or shard) by uploading size bytes pulled from fn
 * as multipart/form-data field `snapshot` (routes POST .../snapshots/upload,
 * wait=true).  checksum (64 hex, may be NULL) makes Qdrant verify the
 * upload before recovering; filename names the part (may be NULL). */
enum qb_err qdrant_snapshot_upload(struct qdrant_client *c, const struct qdrant_target *t,
                                   enum qdrant_priority priority, const char *checksum,
                                   const char *filename, uint64_t size, http_read_fn fn, void *ud,
                                   char *err, size_t errlen) QB_MUSTCHECK;

/* Recovers a collection (or shard) from a location Qdrant fetches itself
 * (PUT .../snapshots/recover, wait=true): an http(s) URL (e.g. a presigned
 * S3 URL) or, for collections, an absolute file:// URL inside Qdrant's
 * snapshots directory.  api_key (may be NULL) is what Qdrant sends when
 * fetching the URL. */
enum qb_err qdrant_snapshot_recover(struct qdrant_client *c, const struct qdrant_target *t,
                                    const char *location, enum qdrant_priority priority,
                                    const char *checksum, const char *api_key, char *err,
                                    size_t errlen) QB_MUSTCHECK;

#endif /* QB_QDRANT_CLIENT_H */
