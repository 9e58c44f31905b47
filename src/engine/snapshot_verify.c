/* SPDX-License-Identifier: Apache-2.0
 *
 * snapshot_verify.c -- owns how a stored snapshot is judged against its
 * catalogue row (snapshot_verify.h).
 */
#include "engine/snapshot_verify.h"
#include "codec/codec.h"
#include "engine/resolve.h"
#include "metrics.h"
#include "util/log.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

struct hashing {
    EVP_MD_CTX *ctx;
    uint64_t bytes;
    /* Also decodes (and so authenticates) the stored bytes; NULL: not, or
     * no longer after a decoding failure (drc, derr). */
    struct codec_decoder *dec;
    enum qb_err drc;
    char derr[QB_ERRBUF_SIZE];
    /* The caller's check before every chunk; its failure stops the read
     * (stopped, serr). */
    snapshot_judge_check_fn check;
    void *check_ud;
    enum qb_err stopped;
    char serr[QB_ERRBUF_SIZE];
};

/* What judging one snapshot may be stopped by (snapshot_judge_checked). */
struct judge_ctl {
    snapshot_judge_check_fn check; /* may be NULL */
    void *ud;
};

static enum qb_err hash_chunk(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    struct hashing *h = ud;
    if (h->check && (h->stopped = h->check(h->check_ud, h->serr, sizeof h->serr)))
        return qb_failf(h->stopped, err, errlen, "%s", h->serr);
    if (!EVP_DigestUpdate(h->ctx, data, len))
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "SHA-256 failed");
    h->bytes += len;
    /* A decoding failure is a verdict, not a read error: the stored bytes
     * are still hashed to the end. */
    if (h->dec && (h->drc = codec_decoder_write(h->dec, data, len, h->derr, sizeof h->derr))) {
        codec_decoder_abort(h->dec);
        h->dec = NULL;
    }
    return QB_OK;
}

/* The decoded archive is only counted: the decoder hashes it itself. */
static enum qb_err discard_raw(void *ud, const void *data, size_t len, char *err, size_t errlen)
{
    (void)ud, (void)data, (void)len, (void)err, (void)errlen;
    return QB_OK;
}

/* Reads the whole object at key, hashing it: v->found, v->size, v->sha256.
 * The storage's own recorded checksum (the .sha256 sidecar, or S3
 * metadata; "" when none) goes to recorded[65].  A missing object is
 * QB_OK with !v->found; a failed read is the error.  With h->dec, the
 * bytes are decoded too and h->drc / h->derr say how that ended. */
static enum qb_err read_and_hash(struct storage *storage, const char *key,
                                 struct snapshot_verdict *v, char *recorded, struct hashing *h,
                                 char *err, size_t errlen)
{
    struct storage_object_info info;
    enum qb_err rc = storage_head(storage, key, &info, err, errlen);
    if (rc == QB_ERR_NOT_FOUND)
        return QB_OK;
    if (rc)
        return rc;
    memcpy(recorded, info.sha256, sizeof info.sha256);
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL))
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "cannot start SHA-256");
    if (!rc)
        rc = storage_read(storage, key, 0, 0, hash_chunk, h, err, errlen);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!rc && !EVP_DigestFinal_ex(h->ctx, md, &mdlen))
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "SHA-256 failed");
    EVP_MD_CTX_free(h->ctx);
    if (rc == QB_ERR_NOT_FOUND) /* deleted between the two calls */
        return QB_OK;
    if (rc)
        return rc;
    for (unsigned i = 0; i < 32 && i < mdlen; i++)
        snprintf(v->sha256 + 2 * i, 3, "%02x", md[i]);
    v->found = true;
    v->size = h->bytes;
    return QB_OK;
}

/* One stored object as the catalogue recorded it: a snapshot's object, or
 * a shard object of a backup set. */
struct recorded {
    const char *key;
    const char *name;   /* for messages: the location, or the key */
    int64_t size;       /* stored bytes */
    const char *sha256; /* of the stored bytes */
    const char *codec;  /* NULL or "none": stored as the archive */
    const char *raw_sha256;
    bool sidecar_optional; /* a rescanned set's shards may have none */
};

/* Verifies one object against what the catalogue recorded; fills v and,
 * when it failed, err with the reason; *raw (may be NULL) receives what
 * the decoder found.  A compressed or encrypted object is also decoded
 * when its key is at hand (ring), and the archive checked against
 * raw_sha256: a tampered chunk fails naming the chunk.  Without the key
 * the stored bytes are still checked (v->decoded stays false). */
static void verify_recorded(struct storage *storage, const struct recorded *o,
                            const struct seal_keyring *ring, const struct judge_ctl *ctl,
                            struct snapshot_verdict *v, struct codec_result *raw, char *err,
                            size_t errlen)
{
    char recorded[65] = "", kerr[QB_ERRBUF_SIZE];
    struct hashing h = {.check = ctl->check, .check_ud = ctl->ud};
    bool coded = o->codec && strcmp(o->codec, "none") != 0;
    if (coded && ring &&
        codec_decoder_create(o->codec, ring, discard_raw, NULL, &h.dec, kerr, sizeof kerr))
        h.dec = NULL;
    bool decoding = h.dec != NULL;
    enum qb_err rc = read_and_hash(storage, o->key, v, recorded, &h, err, errlen);
    struct codec_result res = {0};
    if (h.dec && !rc && v->found)
        h.drc = codec_decoder_finish(h.dec, &res, h.derr, sizeof h.derr);
    else
        codec_decoder_abort(h.dec);
    if (rc && h.stopped) {
        v->stopped = h.stopped;
        qb_failf(h.stopped, err, errlen, "%s", h.serr);
        return;
    }
    if (rc) {
        char sub[QB_ERRBUF_SIZE];
        snprintf(sub, sizeof sub, "%s", err);
        v->unreadable = true;
        qb_failf(rc, err, errlen, "the stored object could not be read to the end: %s", sub);
        return;
    }
    v->failed = true;
    if (!v->found)
        qb_failf(QB_ERR_NOT_FOUND, err, errlen, "the stored object %s is missing", o->name);
    else if (v->size != (uint64_t)o->size || strcmp(v->sha256, o->sha256) != 0)
        /* A decoder's finding says where it was altered or cut. */
        qb_failf(QB_ERR_IO, err, errlen,
                 "the stored object is not the catalogued one: expected sha256 %s (%lld bytes), "
                 "read sha256 %s (%llu bytes)%s%s",
                 o->sha256, (long long)o->size, v->sha256, (unsigned long long)v->size,
                 decoding && h.drc ? "; decoding it: " : "", decoding && h.drc ? h.derr : "");
    else if (decoding && h.drc)
        qb_failf(QB_ERR_IO, err, errlen, "the stored object does not decode: %s", h.derr);
    else if (strcmp(recorded, o->sha256) != 0 && !(o->sidecar_optional && !*recorded))
        /* The bytes are right but the checksum stored beside them (what
         * rescan and `sha256sum -c` trust) is not. */
        qb_failf(QB_ERR_IO, err, errlen,
                 "the object's recorded checksum is %s, the catalogue's sha256 %s",
                 *recorded ? recorded : "missing", o->sha256);
    else if (decoding && o->raw_sha256 && strcmp(res.raw_sha256, o->raw_sha256) != 0)
        qb_failf(QB_ERR_IO, err, errlen,
                 "the decoded archive hashes to %s, the catalogue's raw_sha256 is %s",
                 res.raw_sha256, o->raw_sha256);
    else
        v->failed = false;
    v->decoded = decoding && !v->failed;
    if (raw)
        *raw = res;
}

/* A single-object snapshot against its row. */
static void verify_object(struct store *store, struct storage *storage,
                          const struct store_snapshot *s, const struct judge_ctl *ctl,
                          struct snapshot_verdict *v, char *err, size_t errlen)
{
    struct seal_keyring *ring = NULL;
    char kerr[QB_ERRBUF_SIZE];
    if (s->codec && strcmp(s->codec, "none") != 0 &&
        resolve_keyring(store, s, &ring, kerr, sizeof kerr))
        ring = NULL;
    struct recorded o = {.key = s->storage_key,
                         .name = s->location,
                         .size = s->size_bytes,
                         .sha256 = s->sha256,
                         .codec = s->codec,
                         .raw_sha256 = s->raw_sha256};
    struct codec_result res = {0};
    verify_recorded(storage, &o, ring, ctl, v, &res, err, errlen);
    seal_keyring_destroy(ring);
    if (v->decoded && s->raw_size < 0) {
        /* Catalogued by a rescan without its manifest: now known. */
        char serr[QB_ERRBUF_SIZE];
        if (store_snapshot_set_raw(store, s->id, (int64_t)res.raw_size, res.raw_sha256, serr,
                                   sizeof serr))
            log_warn("verify.raw_unrecorded", "snapshot=%lld error=%s", (long long)s->id,
                     log_q(serr));
    }
}

/* Every shard object of a backup set, judged as a single object is
 * (decoded too when it was stored with a codec and the key is at hand);
 * stops at the first that fails, err naming the shard.  An unreachable
 * destination is not a verdict on the set (v->unreadable). */
static void verify_set(struct store *store, struct storage *storage, const struct store_snapshot *s,
                       const struct judge_ctl *ctl, struct snapshot_verdict *v, char *err,
                       size_t errlen)
{
    cJSON *set = s->backup_set ? cJSON_Parse(s->backup_set) : NULL;
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(set, "shards"), *sh;
    struct seal_keyring *ring = NULL;
    char kerr[QB_ERRBUF_SIZE];
    if (s->codec && strcmp(s->codec, "none") != 0 &&
        resolve_keyring(store, s, &ring, kerr, sizeof kerr))
        ring = NULL;
    bool all_decoded = true, any_coded = false;
    if (cJSON_GetArraySize(shards) == 0) {
        v->failed = true;
        qb_failf(QB_ERR_INTERNAL, err, errlen, "snapshot %lld is a backup set without shards",
                 (long long)s->id);
    }
    cJSON_ArrayForEach(sh, shards)
    {
        if (v->failed || v->unreadable)
            break;
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(sh, "size");
        struct recorded o = {
            .key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "key")),
            .size = cJSON_IsNumber(size) ? (int64_t)size->valuedouble : -1,
            .sha256 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "sha256")),
            .codec = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "codec")),
            .raw_sha256 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "raw_sha256")),
            .sidecar_optional = true};
        o.name = o.key;
        int id = (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sh, "shard_id"));
        struct snapshot_verdict one = {0};
        char sub[QB_ERRBUF_SIZE] = "";
        if (!o.key || !o.sha256 || o.size < 0) {
            one.failed = true;
            snprintf(sub, sizeof sub, "the catalogue entry is incomplete");
        } else {
            verify_recorded(storage, &o, ring, ctl, &one, NULL, sub, sizeof sub);
        }
        if (one.stopped) {
            v->stopped = one.stopped;
            qb_failf(one.stopped, err, errlen, "%s", sub);
            break;
        }
        bool coded = o.codec && strcmp(o.codec, "none") != 0;
        any_coded = any_coded || coded;
        all_decoded = all_decoded && (!coded || one.decoded);
        v->failed = one.failed;
        v->unreadable = one.unreadable;
        if (one.failed || one.unreadable)
            qb_failf(QB_ERR_IO, err, errlen, "shard %d (%s): %s", id, o.key ? o.key : "?", sub);
    }
    v->decoded = any_coded && all_decoded && !v->failed && !v->unreadable && !v->stopped;
    seal_keyring_destroy(ring);
    cJSON_Delete(set);
}

void snapshot_judge_checked(struct store *store, struct storage *storage,
                            const struct store_snapshot *s, snapshot_judge_check_fn check, void *ud,
                            struct snapshot_verdict *v, char *err, size_t errlen)
{
    struct judge_ctl ctl = {check, ud};
    memset(v, 0, sizeof *v);
    v->set = strcmp(s->layout, "shards") == 0;
    v->want_size = s->size_bytes;
    snprintf(v->want_sha256, sizeof v->want_sha256, "%s", s->sha256);
    if (v->set)
        verify_set(store, storage, s, &ctl, v, err, errlen);
    else
        verify_object(store, storage, s, &ctl, v, err, errlen);
}

void snapshot_judge(struct store *store, struct storage *storage, const struct store_snapshot *s,
                    struct snapshot_verdict *v, char *err, size_t errlen)
{
    snapshot_judge_checked(store, storage, s, NULL, NULL, v, err, errlen);
}

enum qb_err snapshot_verify(struct store *store, struct storage *storage,
                            const struct store_snapshot *s, struct snapshot_verdict *v, char *err,
                            size_t errlen)
{
    snapshot_judge(store, storage, s, v, err, errlen);
    bool ok = !v->failed && !v->unreadable;
    if (!ok)
        metrics_event_add(METRIC_VERIFY_FAILURES, 1);
    char werr[QB_ERRBUF_SIZE];
    enum qb_err rc =
        store_snapshot_set_verified(store, s->id, ok, ok ? NULL : err, werr, sizeof werr);
    if (rc)
        snprintf(err, errlen, "%s", werr);
    return rc;
}
