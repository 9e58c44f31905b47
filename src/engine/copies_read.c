/* SPDX-License-Identifier: Apache-2.0
 *
 * copies_read.c -- which location of a snapshot a restore or a download
 * reads (copies.h, copies_open_source; per shard of a set no location
 * holds whole, copies_open_set_sources), what a snapshot's objects are
 * (copies_internal.h), and the copies as the API shows them.
 */
#include "engine/copies.h"
#include "engine/copies_internal.h"
#include "engine/manifest.h"
#include "engine/resolve.h"
#include "store/store_copies.h"
#include "util/json_util.h"
#include "util/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The objects of s, manifest aside.  A set's shards come from its
 * backup_set JSON, which *set keeps alive (caller cJSON_Deletes it; NULL
 * for a single object).  Caller frees the array; 0 members: a set whose
 * catalogue entry is incomplete. */
size_t members_of(const struct store_snapshot *s, cJSON **set, struct member **out)
{
    *set = NULL;
    *out = NULL;
    if (!s->layout || strcmp(s->layout, "shards") != 0) {
        *out = xcalloc(1, sizeof **out);
        (*out)[0] = (struct member){s->storage_key, s->size_bytes, s->sha256, -1};
        return 1;
    }
    *set = s->backup_set ? cJSON_Parse(s->backup_set) : NULL;
    const cJSON *shards = cJSON_GetObjectItemCaseSensitive(*set, "shards"), *sh;
    size_t n = 0;
    *out = xcalloc((size_t)cJSON_GetArraySize(shards) + 1, sizeof **out);
    cJSON_ArrayForEach(sh, shards)
    {
        const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "key"));
        const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "sha256"));
        const cJSON *size = cJSON_GetObjectItemCaseSensitive(sh, "size");
        if (!key || !sha || !cJSON_IsNumber(size)) {
            n = 0; /* the whole set or nothing */
            break;
        }
        (*out)[n++] = (struct member){
            key, (int64_t)size->valuedouble, sha,
            (int)cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(sh, "shard_id"))};
    }
    return n;
}

/* A member's key in a location whose key for the snapshot is base: a
 * set's shard objects live under the set's key in every location. */
char *member_key(const struct store_snapshot *s, const struct member *m, const char *base)
{
    size_t plen = strlen(s->storage_key);
    if (strncmp(m->key, s->storage_key, plen) == 0)
        return xasprintf("%s%s", base, m->key + plen);
    return xstrdup(m->key);
}

/* Whether one object is present in st with the recorded size and
 * checksum. */
static enum qb_err healthy_one(struct storage *st, const char *key, int64_t size,
                               const char *sha256, char *err, size_t errlen)
{
    struct storage_object_info info;
    enum qb_err rc = storage_head(st, key, &info, err, errlen);
    if (rc == QB_ERR_NOT_FOUND)
        return qb_failf(rc, err, errlen, "the stored object %s is missing", key);
    if (rc)
        return rc;
    if ((int64_t)info.size != size)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "the stored object %s is %llu bytes but the catalogue says %lld; it was "
                        "changed or truncated",
                        key, (unsigned long long)info.size, (long long)size);
    if (info.sha256[0] && strcmp(info.sha256, sha256) != 0)
        return qb_failf(QB_ERR_IO, err, errlen,
                        "checksum mismatch: the stored object %s records %s but the catalogue "
                        "says %s",
                        key, info.sha256, sha256);
    return QB_OK;
}

/* Whether every object of s is present in st (where s's key is key) with
 * its catalogued size and checksum; a set also needs its manifest, which
 * a restore does not read but a rescan of that location does. */
static enum qb_err healthy(struct storage *st, const char *key, const struct store_snapshot *s,
                           char *err, size_t errlen)
{
    cJSON *set = NULL;
    struct member *m = NULL;
    size_t n = members_of(s, &set, &m);
    enum qb_err rc =
        n ? QB_OK
          : qb_failf(QB_ERR_INTERNAL, err, errlen,
                     "the catalogue entry of backup set %lld is incomplete", (long long)s->id);
    /* restore_set.c reads shard objects by the keys the set recorded. */
    if (!rc && set && strcmp(key, s->storage_key) != 0)
        rc = qb_failf(QB_ERR_INVALID, err, errlen,
                      "this copy of backup set %lld is under another key (%s)", (long long)s->id,
                      key);
    for (size_t i = 0; !rc && i < n; i++) {
        char *k = member_key(s, &m[i], key);
        rc = healthy_one(st, k, m[i].size, m[i].sha256, err, errlen);
        if (rc && m[i].shard_id >= 0) {
            char sub[QB_ERRBUF_SIZE];
            snprintf(sub, sizeof sub, "%s", err);
            qb_failf(rc, err, errlen, "shard %d: %s", m[i].shard_id, sub);
        }
        free(k);
    }
    if (!rc && set) {
        struct storage_object_info info;
        char *mkey = manifest_key(key);
        rc = storage_head(st, mkey, &info, err, errlen);
        if (rc == QB_ERR_NOT_FOUND)
            rc = qb_failf(rc, err, errlen, "the set's manifest %s is missing", mkey);
        free(mkey);
    }
    free(m);
    cJSON_Delete(set);
    return rc;
}

enum qb_err copies_open_source(struct store *store, const struct store_snapshot *s,
                               struct storage **st, char **key, cJSON *result, char *err,
                               size_t errlen)
{
    *st = NULL;
    *key = NULL;
    enum qb_err rc = resolve_storage(store, s->destination_id, st, err, errlen);
    if (!rc)
        rc = healthy(*st, s->storage_key, s, err, errlen);
    /* A primary whose last full read failed (a byte altered under an
     * intact checksum, which no HEAD can see) comes after the copies; it
     * is still read when no copy is healthy. */
    bool suspect = !rc && s->verify_error;
    if (!rc && !suspect) {
        *key = xstrdup(s->storage_key);
        return QB_OK;
    }
    struct storage *last_resort = suspect ? *st : NULL;
    if (suspect)
        snprintf(err, errlen, "its last verification failed: %s", s->verify_error);
    else
        storage_close(*st);
    *st = NULL;
    struct store_copy **rows = NULL;
    size_t n = 0;
    char cerr[QB_ERRBUF_SIZE];
    if (store_copy_list(store, s->id, &rows, &n, cerr, sizeof cerr))
        n = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(rows[i]->state, "stored") != 0)
            continue;
        struct storage *c = NULL;
        enum qb_err crc = resolve_storage(store, rows[i]->destination_id, &c, cerr, sizeof cerr);
        if (!crc)
            crc = healthy(c, rows[i]->storage_key, s, cerr, sizeof cerr);
        if (crc) {
            log_warn("copy.unhealthy", "snapshot=%lld destination=%s error=%s", (long long)s->id,
                     log_q(rows[i]->destination_name), log_q(cerr));
            storage_close(c);
            continue;
        }
        log_warn("copy.fallback", "snapshot=%lld destination=%s primary_error=%s", (long long)s->id,
                 log_q(rows[i]->destination_name), log_q(err));
        if (result) {
            cJSON *o = cJSON_AddObjectToObject(result, "source");
            cJSON_AddStringToObject(o, "destination", rows[i]->destination_name);
            cJSON_AddBoolToObject(o, "copy", true);
            cJSON_AddStringToObject(o, "primary_error", err);
        }
        *st = c;
        *key = xstrdup(rows[i]->storage_key);
        rc = QB_OK;
        break;
    }
    store_copy_list_free(rows, n);
    if (!*st && last_resort) {
        log_warn("copy.no_fallback", "snapshot=%lld primary_error=%s", (long long)s->id,
                 log_q(err));
        *st = last_resort;
        *key = xstrdup(s->storage_key);
        return QB_OK;
    }
    storage_close(last_resort);
    return rc;
}

/* ------------------------------------------------- a set from several places */

struct set_location {
    struct storage *st;
    const char *name; /* destination name (borrowed from the copy rows) */
    bool copy;
};

struct copies_set_sources {
    struct set_location *loc; /* the primary and every stored copy, in reading order */
    size_t n_loc;
    char **keys; /* the set's shard object keys ... */
    size_t *at;  /* ... and the location each is read from */
    size_t n_keys;
    struct store_copy **rows; /* owns the copies' names */
    size_t n_rows;
};

void copies_set_sources_close(struct copies_set_sources *src)
{
    if (!src)
        return;
    for (size_t i = 0; i < src->n_loc; i++)
        storage_close(src->loc[i].st);
    for (size_t i = 0; i < src->n_keys; i++)
        free(src->keys[i]);
    free(src->keys);
    free(src->at);
    free(src->loc);
    store_copy_list_free(src->rows, src->n_rows);
    free(src);
}

struct storage *copies_set_source_for(const struct copies_set_sources *src, const char *key)
{
    for (size_t i = 0; src && i < src->n_keys; i++)
        if (strcmp(src->keys[i], key) == 0)
            return src->loc[src->at[i]].st;
    return NULL;
}

/* The locations to try, in order: the primary (unless suspect), every
 * stored copy under the set's own key (restore_set.c reads the keys the
 * set recorded), a suspect primary last.  One that cannot be opened is
 * left out, logged. */
static void set_locations(struct store *store, const struct store_snapshot *s,
                          struct copies_set_sources *src)
{
    char err[QB_ERRBUF_SIZE];
    struct storage *primary = NULL;
    if (resolve_storage(store, s->destination_id, &primary, err, sizeof err))
        log_warn("copy.unopened", "snapshot=%lld destination=primary error=%s", (long long)s->id,
                 log_q(err));
    if (store_copy_list(store, s->id, &src->rows, &src->n_rows, err, sizeof err))
        src->n_rows = 0;
    /* Every copy row (a snapshot keeps copies from destinations its plan
     * no longer names, so there may be more than a plan's limit), and the
     * primary. */
    src->loc = xcalloc(src->n_rows + 1, sizeof *src->loc);
    bool suspect = s->verify_error != NULL;
    if (primary && !suspect)
        src->loc[src->n_loc++] = (struct set_location){primary, "primary", false};
    for (size_t i = 0; i < src->n_rows; i++) {
        const struct store_copy *c = src->rows[i];
        struct storage *st = NULL;
        if (strcmp(c->state, "stored") != 0 || strcmp(c->storage_key, s->storage_key) != 0)
            continue;
        if (resolve_storage(store, c->destination_id, &st, err, sizeof err)) {
            log_warn("copy.unopened", "snapshot=%lld destination=%s error=%s", (long long)s->id,
                     log_q(c->destination_name), log_q(err));
            continue;
        }
        src->loc[src->n_loc++] = (struct set_location){st, c->destination_name, true};
    }
    if (primary && suspect)
        src->loc[src->n_loc++] = (struct set_location){primary, "primary", false};
}

enum qb_err copies_open_set_sources(struct store *store, const struct store_snapshot *s,
                                    const char *why, struct copies_set_sources **out, cJSON *result,
                                    char *err, size_t errlen)
{
    *out = NULL;
    cJSON *set = NULL;
    struct member *m = NULL;
    size_t n = members_of(s, &set, &m);
    struct copies_set_sources *src = xcalloc(1, sizeof *src);
    enum qb_err rc = n && set
                         ? QB_OK
                         : qb_failf(QB_ERR_INTERNAL, err, errlen,
                                    "snapshot %lld is not a complete backup set", (long long)s->id);
    if (!rc) {
        set_locations(store, s, src);
        src->keys = xcalloc(n, sizeof *src->keys);
        src->at = xcalloc(n, sizeof *src->at);
    }
    const char *first_copy = NULL;
    cJSON *by_shard = cJSON_CreateObject();
    for (size_t i = 0; !rc && i < n; i++) {
        char sub[QB_ERRBUF_SIZE] = "no location can be read";
        size_t j = 0;
        for (; j < src->n_loc; j++)
            if (healthy_one(src->loc[j].st, m[i].key, m[i].size, m[i].sha256, sub, sizeof sub) ==
                QB_OK)
                break;
        if (j == src->n_loc) {
            rc =
                qb_failf(QB_ERR_NOT_FOUND, err, errlen,
                         "shard %d is in no location (the last one tried: %s)", m[i].shard_id, sub);
            break;
        }
        src->keys[src->n_keys] = xstrdup(m[i].key);
        src->at[src->n_keys++] = j;
        if (src->loc[j].copy && !first_copy)
            first_copy = src->loc[j].name;
        char id[24];
        snprintf(id, sizeof id, "%d", m[i].shard_id);
        cJSON_AddStringToObject(by_shard, id, src->loc[j].name);
    }
    if (!rc) {
        log_warn("copy.fallback_per_shard", "snapshot=%lld primary_error=%s", (long long)s->id,
                 log_q(why));
        if (result && first_copy) {
            cJSON *o = cJSON_AddObjectToObject(result, "source");
            cJSON_AddStringToObject(o, "destination", first_copy);
            cJSON_AddBoolToObject(o, "copy", true);
            cJSON_AddStringToObject(o, "primary_error", why);
            cJSON_AddItemToObject(o, "shards", by_shard);
            by_shard = NULL;
        }
        *out = src;
        src = NULL;
    }
    cJSON_Delete(by_shard);
    copies_set_sources_close(src);
    free(m);
    cJSON_Delete(set);
    return rc;
}

cJSON *copies_json(struct store *store, int64_t snapshot_id)
{
    cJSON *arr = cJSON_CreateArray();
    struct store_copy **rows = NULL;
    size_t n = 0;
    char err[QB_ERRBUF_SIZE];
    if (store_copy_list(store, snapshot_id, &rows, &n, err, sizeof err))
        log_error("copy.unlisted", "snapshot=%lld error=%s", (long long)snapshot_id, log_q(err));
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "destination", rows[i]->destination_name);
        cJSON_AddStringToObject(o, "state", rows[i]->state);
        json_add_time(o, "verified_at", rows[i]->verified_at);
        cJSON_AddItemToObject(o, "error",
                              rows[i]->last_error ? cJSON_CreateString(rows[i]->last_error)
                                                  : cJSON_CreateNull());
        cJSON_AddNumberToObject(o, "attempts", (double)rows[i]->attempts);
        cJSON_AddItemToArray(arr, o);
    }
    store_copy_list_free(rows, n);
    return arr;
}
