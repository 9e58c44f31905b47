/* SPDX-License-Identifier: Apache-2.0
 *
 * rescan.c -- rebuilds catalogue rows from the manifests in a destination
 * (rescan.h): list, and for each "<key>.manifest.json" the catalogue does
 * not know, read and validate it, check the object against it, and insert
 * the row.
 *
 * DESIGN
 *   One pass over the listing, one object at a time: memory is one
 *   manifest buffer (RESCAN_MANIFEST_MAX) and the capped notes, whatever
 *   the size of the destination.  The order per manifest is chosen so that
 *   a rescan of a catalogued destination costs the listing plus one SQLite
 *   lookup per manifest, and so that it never races the backup pipeline:
 *     1. already catalogued (destination, storage key)?  count it, done;
 *     2. still in flight in a running backup run?  skip it: the pipeline
 *        writes the object, then the manifest, verifies, and only then
 *        catalogues, and on failure deletes both (discard() in
 *        backup_job.c).  Importing in that window would give a row whose
 *        object is about to vanish, and the pipeline's own insert would
 *        then fail on UNIQUE(destination_id, location).  A run names the
 *        key in its `inflight` column until it has catalogued or discarded
 *        the object, so once the key is no longer in flight the object is
 *        either catalogued (the insert below conflicts: "known") or gone
 *        (the head below fails: skipped);
 *     3. read the manifest (bounded), parse and validate it (manifest.h);
 *     4. head the object: it must exist with the manifest's size and, when
 *        one is recorded, its SHA-256.  A backup set's manifest ("layout":
 *        "shards", key K a prefix) is read by rescan_set.c instead, and
 *        every shard object it lists (K/shard-N.snapshot) is headed the
 *        same way: one missing or different shard skips the whole set;
 *     5. insert, resolving plan and instance by name.
 *   Shard objects have no manifest of their own and are never catalogued
 *   by themselves: their set's row lists them (a manifest that names one
 *   is skipped, see rescan_set_is_shard_key).
 *   Per-object problems are skips with a reason; the catalogue failing, or
 *   the destination failing as a whole (listing, transient or permission
 *   errors), stops the rescan.  Everything inserted until then is a
 *   complete, checked row, and a second rescan picks up the rest.
 *
 * Caveats
 *   Only the recorded SHA-256 (sidecar or x-amz-meta-sha256) is compared,
 *   not the bytes: re-hashing every object would make a rescan cost a full
 *   read of the destination.  That is what verify is for, and imported rows
 *   start unverified.
 */
#include "engine/rescan.h"
#include "codec/codec.h"
#include "engine/keyref.h"
#include "engine/manifest.h"
#include "engine/rescan_set.h"
#include "remote/sigv4.h"
#include "store/store_copies.h"
#include "store/store_destinations.h"
#include "store/store_instances.h"
#include "store/store_plans.h"
#include "store/store_runs.h"
#include "store/store_snapshots.h"
#include "util/json_util.h"
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The manifest buffer starts this large and grows up to
 * RESCAN_MANIFEST_MAX for the manifests of large sets. */
#define MANIFEST_BUF_START (64 * 1024)
/* Where backup_safety_snapshot() (backup_target.c) stores its snapshots. */
#define SAFETY_PREFIX "_safety/"

/* One rescan in progress. */
struct rescan {
    struct store *store;
    int64_t destination_id;
    struct storage *st;
    const atomic_bool *cancel;
    struct rescan_report *report;
    char *base; /* location of key "" ("/abs/dir/", "s3://bucket/prefix/") */
    int notes;  /* entries in report->notes */
    char *buf;  /* cap bytes (at most RESCAN_MANIFEST_MAX), reused for every manifest */
    size_t cap;
    size_t len; /* bytes of the current manifest in buf */
    char *err;  /* the caller's buffer, for the error that stops the rescan */
    size_t errlen;
    struct seal_keyring *ring; /* the destination's keys, or NULL */
    /* The latest S3 Object Lock date of the current manifest's objects
     * (check_object), so a rebuilt row is kept and deleted as a locked one. */
    int64_t locked_until;
};

void rescan_report_free(struct rescan_report *report)
{
    if (!report)
        return;
    cJSON_Delete(report->notes);
    memset(report, 0, sizeof *report);
}

/* ---------------------------------------------------------------- helpers */

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* The location storage_write_finish() reports for key "": the local
 * folder's absolute path (storage_local.c abs_path) or
 * "s3://bucket/prefix/" (storage_s3.c), each followed by the key.  It must
 * match byte for byte: the catalogue has UNIQUE(destination_id, location),
 * and a location spelled differently would let the pipeline and a rescan
 * both catalogue one object. */
static enum qb_err location_base(const struct storage *st, char **out, char *err, size_t errlen)
{
    const char *url = storage_url(st);
    if (storage_kind(st) == STORAGE_LOCAL) {
        if (strncmp(url, "file://", 7) != 0)
            return qb_failf(QB_ERR_INTERNAL, err, errlen, "rescan: unexpected local URL %s", url);
        const char *root = url + 7;
        *out = xasprintf("%s/", strcmp(root, "/") == 0 ? "" : root);
        return QB_OK;
    }
    if (strncmp(url, "s3://", 5) != 0)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "rescan: unexpected S3 URL %s", url);
    *out = xasprintf("%s/", url);
    return QB_OK;
}

/* Errors about one object skip it; anything else (transient, refused,
 * cancelled, our bug) is about the destination or us and stops the
 * rescan. */
static bool object_error(enum qb_err rc)
{
    return rc == QB_ERR_NOT_FOUND || rc == QB_ERR_INVALID || rc == QB_ERR_IO;
}

/* Keeps note (consumed) unless RESCAN_NOTES_MAX are kept already.  Returns
 * whether it was kept: per-object log lines follow the same cap, so that a
 * destination full of foreign files logs a bounded number of lines (the
 * summary line has the totals). */
static bool add_note(struct rescan *r, cJSON *note)
{
    if (r->notes >= RESCAN_NOTES_MAX) {
        r->report->notes_dropped++;
        cJSON_Delete(note);
        return false;
    }
    cJSON_AddItemToArray(r->report->notes, note);
    r->notes++;
    return true;
}

/* Counts key (the snapshot object's) as skipped, with the reason. */
static void skip(struct rescan *r, const char *key, const char *fmt, ...) QB_PRINTF(3, 4);
static void skip(struct rescan *r, const char *key, const char *fmt, ...)
{
    char reason[QB_ERRBUF_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    r->report->skipped++;
    cJSON *note = cJSON_CreateObject();
    cJSON_AddStringToObject(note, "key", key);
    cJSON_AddStringToObject(note, "result", "skipped");
    cJSON_AddStringToObject(note, "reason", reason);
    if (!add_note(r, note))
        return;
    char qk[STORAGE_KEY_MAX + 64], qr[QB_ERRBUF_SIZE + 64];
    /* Bad data in the destination, not our bug: a warning. */
    log_warn("rescan.skipped", "destination=%lld key=%s reason=%s", (long long)r->destination_id,
             log_quote(qk, sizeof qk, key), log_quote(qr, sizeof qr, reason));
}

/* ---------------------------------------------------------------- steps */

/* True when a running run still has key of this destination in flight
 * (written, not yet catalogued or discarded): a snapshot's "storage_key",
 * or the "set_key" of the record a set keeps, kind "set", while
 * backup_set_collection() runs (a restore's safety set is one too). */
static enum qb_err in_flight(struct rescan *r, const char *key, bool *busy)
{
    struct store_run **runs = NULL;
    size_t n = 0;
    *busy = false;
    enum qb_err rc = store_run_list_running(r->store, &runs, &n, r->err, r->errlen);
    for (size_t i = 0; !rc && i < n && !*busy; i++) {
        cJSON *inf = runs[i]->inflight ? cJSON_Parse(runs[i]->inflight) : NULL;
        const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(inf, "kind"));
        bool set = kind && strcmp(kind, "set") == 0;
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(inf, set ? "set_key" : "storage_key");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(inf, "destination_id");
        *busy = cJSON_IsString(k) && cJSON_IsNumber(d) && strcmp(k->valuestring, key) == 0 &&
                (int64_t)d->valuedouble == r->destination_id;
        cJSON_Delete(inf);
    }
    store_run_list_free(runs, n);
    return rc;
}

static enum qb_err collect(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct rescan *r = ud;
    if (len > RESCAN_MANIFEST_MAX - r->len)
        return qb_failf(QB_ERR_INVALID, err, errlen, "larger than %d bytes", RESCAN_MANIFEST_MAX);
    if (len > r->cap - r->len) {
        while (len > r->cap - r->len)
            r->cap *= 2;
        if (r->cap > RESCAN_MANIFEST_MAX)
            r->cap = RESCAN_MANIFEST_MAX;
        r->buf = xrealloc(r->buf, r->cap);
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return QB_OK;
}

/* plan_id of the plan named name if it stores to this destination, else 0
 * (with *other set when a namesake stores elsewhere).  Safety snapshots
 * (taken before a restore, under SAFETY_PREFIX) belong to no plan even
 * though their manifest names one: backup_safety_snapshot() describes
 * them with a plan-shaped struct named after the instance, and linking
 * them to a real plan of that name would hand them to its retention. */
static enum qb_err resolve_plan(struct rescan *r, const char *key, const char *name, int64_t *id,
                                bool *other)
{
    struct store_plan *p = NULL;
    *id = 0;
    *other = false;
    if (!name || strncmp(key, SAFETY_PREFIX, strlen(SAFETY_PREFIX)) == 0)
        return QB_OK;
    enum qb_err rc = store_plan_get(r->store, name, &p, r->err, r->errlen);
    if (rc == QB_ERR_NOT_FOUND)
        return QB_OK;
    if (!rc) {
        /* Linking a row to a plan hands it to that plan's retention, which
         * deletes through the plan's destination: only link when that is
         * where the object is. */
        if (p->destination_id == r->destination_id)
            *id = p->id;
        else
            *other = true;
    }
    store_plan_free(p);
    return rc;
}

static enum qb_err resolve_instance(struct rescan *r, const char *name, int64_t *id)
{
    struct store_instance *inst = NULL;
    *id = 0;
    enum qb_err rc = store_instance_get(r->store, name, &inst, r->err, r->errlen);
    if (rc == QB_ERR_NOT_FOUND)
        return QB_OK;
    if (!rc)
        *id = inst->id;
    store_instance_free(inst);
    return rc;
}

/* Counts key, linked as a copy of snapshot id, imported. */
static enum qb_err linked(struct rescan *r, const char *key, int64_t id)
{
    r->report->imported++;
    cJSON *note = cJSON_CreateObject();
    cJSON_AddStringToObject(note, "key", key);
    cJSON_AddStringToObject(note, "result", "imported");
    cJSON_AddNumberToObject(note, "snapshot_id", (double)id);
    cJSON_AddStringToObject(note, "warning",
                            "a second copy of a snapshot catalogued in another destination: "
                            "linked to it as a copy");
    if (add_note(r, note)) {
        char qk[STORAGE_KEY_MAX + 64];
        log_info("rescan.copy_linked", "destination=%lld snapshot=%lld key=%s",
                 (long long)r->destination_id, (long long)id, log_quote(qk, sizeof qk, key));
    }
    return QB_OK;
}

/* Inserts the row for a checked manifest (backup_set: a set's JSON, NULL
 * for a snapshot); counts it imported or, when the location is already
 * catalogued (the pipeline won a race, or a row from before storage keys
 * were recorded), known. */
static enum qb_err import(struct rescan *r, const char *key, const struct manifest *mf,
                          const char *backup_set, const char *warning)
{
    int64_t plan_id = 0, instance_id = 0, id = 0;
    bool other = false;
    enum qb_err rc = resolve_plan(r, key, mf->plan, &plan_id, &other);
    if (!rc)
        rc = resolve_instance(r, mf->instance, &instance_id);
    if (rc)
        return rc;
    /* A second copy (engine/copies.h) of a snapshot catalogued in another
     * destination is linked to it, never catalogued twice. */
    bool existed = false;
    /* A set is found by its row's name and its manifest's SHA-256 (the
     * manifest is copied byte for byte, backup_set_collection()). */
    rc = store_copy_link(r->store, r->destination_id, key, mf->instance, mf->collection,
                         mf->set ? "shards" : mf->qdrant_snapshot, mf->sha256, mf->size, &existed,
                         &id, r->err, r->errlen);
    if (rc)
        return rc;
    if (existed)
        r->report->known++;
    if (existed || id)
        return id ? linked(r, key, id) : QB_OK;
    /* A row of its own (store_snapshot_free), so nothing is cast away. */
    struct store_snapshot *row = xcalloc(1, sizeof *row);
    row->plan_id = plan_id;
    row->run_id = 0; /* runs are not rebuilt: an old catalogue's run id means nothing here */
    row->instance_id = instance_id;
    row->instance_name = xstrdup(mf->instance);
    row->destination_id = r->destination_id;
    row->kind = xstrdup(mf->kind);
    row->collection = dup_or_null(mf->collection);
    row->shard_id = mf->shard_id;
    /* A set's row as backup_set_collection() writes it. */
    row->qdrant_name = xstrdup(mf->set ? "shards" : mf->qdrant_snapshot);
    row->location =
        mf->set ? xasprintf("%s/%s", storage_url(r->st), key) : xasprintf("%s%s", r->base, key);
    row->layout = xstrdup(mf->set ? "shards" : "snapshot");
    row->backup_set = dup_or_null(backup_set);
    row->storage_key = xstrdup(key);
    row->size_bytes = mf->size;
    row->sha256 = xstrdup(mf->sha256);
    row->qdrant_checksum = dup_or_null(mf->qdrant_checksum);
    row->qdrant_version = dup_or_null(mf->qdrant_version);
    row->points_count = mf->points_count;
    row->created_at = mf->created_at;
    row->verified_at = 0; /* not verified until someone verifies it */
    /* The manifest is trusted for what the object is (v2, manifest.h). */
    bool coded = manifest_coded(mf);
    row->codec = xstrdup(coded ? mf->codec : "none");
    row->raw_size = mf->set ? -1 : coded ? mf->raw_size : mf->size;
    row->raw_sha256 = mf->set ? NULL : xstrdup(mf->raw_sha256);
    row->key_id = dup_or_null(coded ? mf->key_id : NULL);
    row->locked_until = r->locked_until;
    char ierr[QB_ERRBUF_SIZE];
    rc = store_snapshot_insert(r->store, row, &id, ierr, sizeof ierr);
    store_snapshot_free(row);
    if (rc == QB_ERR_CONFLICT) {
        /* UNIQUE(destination_id, location), or the destination went away:
         * the foreign key.  Tell them apart. */
        struct store_destination *d = NULL;
        rc = store_destination_get_by_id(r->store, r->destination_id, false, &d, r->err, r->errlen);
        store_destination_free(d);
        if (!rc)
            r->report->known++;
        return rc;
    }
    if (rc == QB_ERR_INVALID) { /* a CHECK constraint: manifest_parse() missed something */
        char qk[STORAGE_KEY_MAX + 64], qe[QB_ERRBUF_SIZE + 64];
        log_error("rescan.insert_refused", "key=%s error=%s", log_quote(qk, sizeof qk, key),
                  log_quote(qe, sizeof qe, ierr));
        skip(r, key, "the catalogue refused the row: %s", ierr);
        return QB_OK;
    }
    if (rc)
        return qb_failf(rc, r->err, r->errlen, "%s", ierr);
    r->report->imported++;
    cJSON *note = cJSON_CreateObject();
    cJSON_AddStringToObject(note, "key", key);
    cJSON_AddStringToObject(note, "result", "imported");
    cJSON_AddNumberToObject(note, "snapshot_id", (double)id);
    char wbuf[QB_ERRBUF_SIZE];
    if (other) {
        snprintf(wbuf, sizeof wbuf,
                 "plan \"%.200s\" now stores to another destination; not linked to it%s%s",
                 mf->plan, warning ? "; " : "", warning ? warning : "");
        warning = wbuf;
    }
    if (warning)
        cJSON_AddStringToObject(note, "warning", warning);
    if (!add_note(r, note))
        return QB_OK;
    char qk[STORAGE_KEY_MAX + 64];
    log_info("rescan.imported", "destination=%lld snapshot=%lld key=%s layout=%s plan_linked=%s",
             (long long)r->destination_id, (long long)id, log_quote(qk, sizeof qk, key),
             mf->set ? "shards" : "snapshot", plan_id ? "true" : "false");
    return QB_OK;
}

/* Heads object and compares it with its manifest: it must exist with size
 * bytes and, when the storage recorded a SHA-256, sha256.  what prefixes
 * the reasons ("" for a snapshot's own object, "shard 2 (<key>): " for a
 * set's).  *ok false: skipped, as key; *recorded: a SHA-256 was compared. */
static enum qb_err check_object(struct rescan *r, const char *key, const char *object,
                                const char *what, int64_t size, const char *sha256, bool *ok,
                                bool *recorded)
{
    char reason[QB_ERRBUF_SIZE] = "";
    struct storage_object_info info;
    memset(&info, 0, sizeof info);
    *ok = false;
    *recorded = false;
    enum qb_err src = storage_head(r->st, object, &info, reason, sizeof reason);
    if (src && !object_error(src))
        return qb_failf(src, r->err, r->errlen, "reading %s: %s", object, reason);
    if (src == QB_ERR_NOT_FOUND) {
        skip(r, key, "%sthe object is missing", what);
    } else if (src) {
        skip(r, key, "%scannot read the object's metadata: %s", what, reason);
    } else if (info.size != (uint64_t)size) {
        skip(r, key, "%sthe object is %llu bytes, its manifest says %lld", what,
             (unsigned long long)info.size, (long long)size);
    } else if (info.sha256[0] && strcmp(info.sha256, sha256) != 0) {
        skip(r, key, "%sthe object's recorded sha256 %s differs from its manifest's %s", what,
             info.sha256, sha256);
    } else {
        *ok = true;
        *recorded = info.sha256[0] != '\0';
        if (info.locked_until > r->locked_until)
            r->locked_until = info.locked_until;
    }
    return QB_OK;
}

/* A backup set's manifest, validated as mf and still in r->buf: imported
 * only when every shard object it lists is there as recorded.  Its sha256
 * is the SHA-256 of the manifest's bytes (backup_set_collection()). */
static enum qb_err one_set(struct rescan *r, const char *key, struct manifest *mf)
{
    char reason[QB_ERRBUF_SIZE] = "", what[STORAGE_KEY_MAX + 48], warning[128];
    struct rescan_set set;
    if (!rescan_set_parse(r->buf, r->len, key, mf->size, &set, reason, sizeof reason)) {
        skip(r, key, "manifest: %s", reason);
        return QB_OK;
    }
    enum qb_err rc = QB_OK;
    bool ok = true, recorded = false;
    size_t unrecorded = 0;
    for (size_t i = 0; !rc && ok && i < set.nshards; i++) {
        const struct rescan_shard *s = &set.shards[i];
        /* A set may list thousands of shards: honour cancel between them. */
        if (r->cancel && atomic_load(r->cancel)) {
            rc = qb_failf(QB_ERR_CANCELLED, r->err, r->errlen, "rescan cancelled");
            break;
        }
        snprintf(what, sizeof what, "shard %lld (%s): ", (long long)s->shard_id, s->key);
        rc = check_object(r, key, s->key, what, s->size, s->sha256, &ok, &recorded);
        unrecorded += !rc && ok && !recorded;
    }
    if (!rc && ok) {
        sigv4_sha256_hex(r->buf, r->len, mf->sha256);
        snprintf(warning, sizeof warning,
                 "%zu of %zu shard objects have no recorded checksum: verify it", unrecorded,
                 set.nshards);
        rc = import(r, key, mf, set.text, unrecorded ? warning : NULL);
    }
    rescan_set_free(&set);
    return rc;
}

/* Reads, validates and checks the manifest listed as e, for object key. */
static enum qb_err one_manifest(struct rescan *r, const struct storage_list_entry *e,
                                const char *key)
{
    char reason[QB_ERRBUF_SIZE] = "";
    struct manifest mf;
    bool ok = false, recorded = false;
    enum qb_err rc = QB_OK; /* only what stops the rescan; skips leave it QB_OK */
    if (e->size > RESCAN_MANIFEST_MAX) {
        skip(r, key, "manifest: %llu bytes, more than the %d accepted", (unsigned long long)e->size,
             RESCAN_MANIFEST_MAX);
        return QB_OK;
    }
    r->len = 0;
    r->locked_until = 0;
    enum qb_err src = storage_read(r->st, e->key, 0, 0, collect, r, reason, sizeof reason);
    if (src && !object_error(src))
        return qb_failf(src, r->err, r->errlen, "reading %s: %s", e->key, reason);
    if (src) {
        skip(r, key, "manifest: cannot read it: %s", reason);
        return QB_OK;
    }
    if (manifest_parse(r->buf, r->len, key, &mf, reason, sizeof reason) != QB_OK) {
        skip(r, key, "manifest: %s", reason);
        return QB_OK;
    }
    if (mf.set) {
        rc = one_set(r, key, &mf);
        goto out;
    }
    rc = check_object(r, key, key, "", mf.size, mf.sha256, &ok, &recorded);
    char warning[160];
    snprintf(warning, sizeof warning, "%s%s%s%s", recorded ? "" : "no recorded checksum: verify it",
             mf.key_id && !recorded ? "; " : "", mf.key_id ? "encrypted with key " : "",
             mf.key_id ? mf.key_id : "");
    if (mf.key_id && !(r->ring && codec_keyring_has(r->ring, mf.key_id)))
        /* Catalogued all the same (the manifest says what it is), but it
         * cannot be restored until the key is configured. */
        snprintf(warning + strlen(warning), sizeof warning - strlen(warning),
                 ", which the destination's encryption does not hold: add it to read_keys");
    if (!rc && ok)
        rc = import(r, key, &mf, NULL, *warning ? warning : NULL);
out:
    manifest_free(&mf);
    return rc;
}

/* Collects an object's first CODEC_DETECT_BYTES into r->buf. */
static enum qb_err collect_head(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct rescan *r = ud;
    (void)err, (void)errlen;
    size_t take = len < CODEC_DETECT_BYTES - r->len ? len : CODEC_DETECT_BYTES - r->len;
    memcpy(r->buf + r->len, data, take);
    r->len += take;
    return QB_OK;
}

/* An object without a manifest is not catalogued (its manifest names the
 * plan, instance and collection).  One that is compressed or encrypted is
 * reported with what its first bytes say it is, and the key an encrypted
 * one needs, so a lost manifest does not leave an unexplained object --
 * and nothing is ever catalogued from a guess.  Raw objects stay counted
 * only, as before. */
static enum qb_err orphan_object(struct rescan *r, const struct storage_list_entry *e)
{
    char reason[QB_ERRBUF_SIZE] = "";
    bool known = false;
    if (rescan_set_is_shard_key(e->key) || e->size < 4)
        return QB_OK;
    enum qb_err rc =
        store_snapshot_key_exists(r->store, r->destination_id, e->key, &known, r->err, r->errlen);
    if (rc || known)
        return rc;
    char *mkey = manifest_key(e->key);
    struct storage_object_info info;
    enum qb_err src = storage_head(r->st, mkey, &info, reason, sizeof reason);
    free(mkey);
    if (src != QB_ERR_NOT_FOUND)
        return QB_OK; /* it has one (handled with it), or the head failed: no claim */
    r->len = 0;
    src =
        storage_read(r->st, e->key, 0, CODEC_DETECT_BYTES, collect_head, r, reason, sizeof reason);
    struct codec_detected det;
    if (src || codec_detect(r->buf, r->len, &det, reason, sizeof reason) ||
        strcmp(det.codec, "none") == 0)
        return QB_OK;
    if (det.key_id[0])
        skip(r, e->key,
             "no manifest: an encrypted object (%s) that needs key %s%s; not catalogued, as "
             "the manifest names its plan, instance and collection",
             det.codec, det.key_id,
             r->ring && codec_keyring_has(r->ring, det.key_id)
                 ? ""
                 : ", which the destination's encryption does not hold");
    else
        skip(r, e->key,
             "no manifest: a %s object; not catalogued, as the manifest names its plan, "
             "instance and collection",
             det.codec);
    return QB_OK;
}

static enum qb_err on_entry(void *ud, const struct storage_list_entry *e)
{
    struct rescan *r = ud;
    if (r->cancel && atomic_load(r->cancel))
        return qb_failf(QB_ERR_CANCELLED, r->err, r->errlen, "rescan cancelled");
    char *key = manifest_object_key(e->key);
    if (!key) {
        r->report->objects++;
        return orphan_object(r, e);
    }
    r->report->manifests++;
    char kerr[QB_ERRBUF_SIZE];
    bool known = false, busy = false;
    enum qb_err rc = QB_OK;
    if (storage_key_check(key, kerr, sizeof kerr) != QB_OK) {
        skip(r, e->key, "not the manifest of a valid key: %s", kerr);
    } else if (manifest_is_key(key)) {
        /* Manifests describe snapshot objects, never other manifests. */
        skip(r, key, "the manifest of a manifest");
    } else if (rescan_set_is_shard_key(key)) {
        /* Its set's row lists it; a row of its own would let deleting
         * either remove the other's object. */
        skip(r, key, "a shard object of a backup set: the set's own manifest imports it");
    } else {
        rc = store_snapshot_key_exists(r->store, r->destination_id, key, &known, r->err, r->errlen);
        if (!rc && known)
            r->report->known++;
        if (!rc && !known)
            rc = in_flight(r, key, &busy);
        if (!rc && !known && busy)
            skip(r, key, "a running backup is still writing it; rescan again later");
        if (!rc && !known && !busy)
            rc = one_manifest(r, e, key);
    }
    free(key);
    return rc;
}

/* ---------------------------------------------------------------- entry */

enum qb_err rescan_destination(struct store *store, int64_t destination_id, struct storage *st,
                               const atomic_bool *cancel, struct rescan_report *report, char *err,
                               size_t errlen)
{
    struct rescan r = {.store = store,
                       .destination_id = destination_id,
                       .st = st,
                       .cancel = cancel,
                       .report = report,
                       .err = err,
                       .errlen = errlen};
    struct store_destination *d = NULL;
    memset(report, 0, sizeof *report);
    report->notes = cJSON_CreateArray();
    if (!report->notes)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "rescan: out of memory");
    enum qb_err rc = store_destination_get_by_id(store, destination_id, false, &d, err, errlen);
    if (!rc)
        rc = location_base(st, &r.base, err, errlen);
    /* Only to say which keys are missing: unreadable keys are no reason
     * not to rebuild the catalogue. */
    char kerr[QB_ERRBUF_SIZE];
    if (!rc && keyref_ring(NULL, d->encryption, &r.ring, kerr, sizeof kerr))
        r.ring = NULL;
    if (rc)
        goto out;
    r.cap = MANIFEST_BUF_START;
    r.buf = xmalloc(r.cap);
    log_info("rescan.start", "destination=%lld url=%s", (long long)destination_id, storage_url(st));
    char lerr[QB_ERRBUF_SIZE] = "";
    rc = storage_list(st, "", on_entry, &r, lerr, sizeof lerr);
    /* on_entry wrote its own errors into err; the listing's are in lerr. */
    if (rc && lerr[0])
        qb_failf(rc, err, errlen, "listing %s: %s", storage_url(st), lerr);
    log_info("rescan.done",
             "destination=%lld objects=%lld manifests=%lld imported=%lld known=%lld "
             "skipped=%lld notes_dropped=%lld error=%s",
             (long long)destination_id, (long long)report->objects, (long long)report->manifests,
             (long long)report->imported, (long long)report->known, (long long)report->skipped,
             (long long)report->notes_dropped, rc ? qb_err_name(rc) : "none");
out:
    seal_keyring_destroy(r.ring);
    free(r.buf);
    free(r.base);
    store_destination_free(d);
    return rc;
}
