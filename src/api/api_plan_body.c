/* SPDX-License-Identifier: Apache-2.0
 *
 * api_plan_body.c -- what a plan's JSON body may say, and the checks that
 * turn it into a struct store_plan: the field list, collection names and
 * patterns, exclusions, retention, reverify, verify and shard methods,
 * labels.  Kept apart from api_plans.c, which owns the routes and the
 * collection existence check, so that each reads as one idea.
 */
#include "api/api_plan_body.h"
#include "api/api_common.h"
#include "codec/codec.h"
#include "api/api_plan_copies.h"
#include "engine/collsel.h"
#include "engine/keyref.h"
#include "engine/retention_apply.h"
#include "engine/reverify.h"
#include "http/http_reply.h"
#include "sched/sched.h"
#include "util/json_util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Settable members, then read-only ones a client may send back unchanged
 * (GET, edit, PUT): accepted and ignored. */
static const char *const plan_fields[] = {
    "name",
    "instance",
    "destination",
    "collections",
    "exclude",
    "full_instance",
    "schedule",
    "timezone",
    "key_prefix",
    "retention",
    "verify",
    "verify_mode",
    "alert_after",
    "enabled",
    "requeue_interrupted",
    "shard_method",
    "labels",
    "reverify",
    "max_bytes_per_second",
    "compression",
    "encryption",
    "copies",
    /* request-only: skip the existence check of this create or replace */
    "allow_missing_collections",
    /* read-only */
    "effective_alert_after",
    "next_run_at",
    "last_scheduled_at",
    "skipped_runs",
    "created_at",
    "updated_at",
    NULL,
};

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* Whether name could be a Qdrant collection; *why says what is wrong.
 * Qdrant refuses to create a collection whose name is empty or over 255
 * characters or contains one of < > : " / \ | ? * NUL U+001F
 * (qdrant/qdrant src/actix/api/mod.rs StrictCollectionPath, and
 * validate_collection_name in lib/common/common/src/validation.rs), so
 * such a name (say "prod_*", meant as a pattern) can only fail every run.
 * Names also become one segment of object keys (storage.h): at most 200
 * bytes, not "." or "..", no control characters, valid UTF-8, not a
 * temp-file name; storage_key_check applies those rules. */
static bool qdrant_collection_name_ok(const char *name, const char **why)
{
    static const char forbidden[] = "<>:\"/\\|?*";
    char probe[256], sub[QB_ERRBUF_SIZE];
    const char *bad = strpbrk(name, forbidden);
    if (!*name) {
        *why = "it is empty";
        return false;
    }
    if (bad) {
        static const char *const reasons[] = {
            "it contains '<', which Qdrant refuses in collection names",
            "it contains '>', which Qdrant refuses in collection names",
            "it contains ':', which Qdrant refuses in collection names",
            "it contains '\"', which Qdrant refuses in collection names",
            "it contains '/', which Qdrant refuses in collection names",
            "it contains '\\', which Qdrant refuses in collection names",
            "it contains '|', which Qdrant refuses in collection names",
            "it contains '?', which Qdrant refuses in collection names",
            ("it contains '*', which Qdrant refuses in collection names (patterns are not "
             "supported: list the names, or use \"*\" alone for every collection)"),
        };
        *why = reasons[strchr(forbidden, *bad) - forbidden];
        return false;
    }
    if (strlen(name) > 200) {
        *why = "it is longer than 200 bytes (one object-key segment)";
        return false;
    }
    if (has_control(name)) {
        *why = "it contains a control character";
        return false;
    }
    snprintf(probe, sizeof probe, "p/%s/k", name);
    if (storage_key_check(probe, sub, sizeof sub)) {
        *why = "it cannot be part of an object key (\".\", \"..\", \".qb-tmp.\" or not UTF-8)";
        return false;
    }
    return true;
}

/* One entry of "collections" or "exclude": a name Qdrant could have, or a
 * pattern (engine/collsel.h) whose other characters could be one. */
static enum qb_err check_entry(const char *field, int i, const cJSON *item, char *err,
                               size_t errlen)
{
    const char *why = NULL;
    if (!cJSON_IsString(item))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "%s[%d]: must be a string (a collection name or pattern)", field, i);
    const char *s = item->valuestring;
    bool pattern = collsel_is_pattern(s);
    char *probe = xstrdup(s);
    for (char *c = probe; pattern && *c; c++)
        if (*c == '*' || *c == '?')
            *c = 'x'; /* a wildcard stands for name characters */
    bool ok = qdrant_collection_name_ok(probe, &why);
    free(probe);
    if (!ok)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "%s[%d]: \"%.64s%s\" cannot be a Qdrant collection name%s: %s", field, i, s,
                        strlen(s) > 64 ? "..." : "", pattern ? " pattern" : "", why);
    char perr[QB_ERRBUF_SIZE / 2];
    if (pattern && collsel_pattern_check(s, perr, sizeof perr))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s[%d]: \"%.64s\": %s", field, i, s, perr);
    return QB_OK;
}

/* A list of names and patterns, each once; empty allowed only when
 * allow_empty. */
static enum qb_err check_list(const char *field, const cJSON *list, bool allow_empty, char *err,
                              size_t errlen)
{
    if (!cJSON_IsArray(list) || (!allow_empty && cJSON_GetArraySize(list) == 0))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: must be a %slist of names or patterns",
                        field, allow_empty ? "" : "non-empty ");
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, list)
    {
        enum qb_err rc = check_entry(field, i, item, err, errlen);
        if (rc)
            return rc;
        /* A twin would back the collection up twice in one run; each
         * snapshot is kept apart (backup_target.c object_key), but a list
         * naming one twice is a mistake worth saying. */
        const cJSON *prev = list->child;
        for (int j = 0; j < i; j++, prev = prev->next)
            if (strcmp(prev->valuestring, item->valuestring) == 0)
                return qb_failf(QB_ERR_INVALID, err, errlen,
                                "%s[%d]: \"%.200s\" is listed twice (also %s[%d])", field, i,
                                item->valuestring, field, j);
        i++;
    }
    return QB_OK;
}

/* Reads "exclude": names and patterns removed from the selection. */
static enum qb_err parse_exclude(const cJSON *body, struct store_plan *p, char *err, size_t errlen)
{
    const cJSON *exc = cJSON_GetObjectItemCaseSensitive(body, "exclude");
    if (!exc || cJSON_IsNull(exc)) {
        p->exclude = xstrdup("[]");
        return QB_OK;
    }
    if (strcmp(p->scope, "full") == 0)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "exclude: must be omitted when full_instance is true (a full snapshot "
                        "holds every collection)");
    enum qb_err rc = check_list("exclude", exc, true, err, errlen);
    if (rc)
        return rc;
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, exc)
    {
        if (strspn(item->valuestring, "*") == strlen(item->valuestring))
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "exclude[%d]: \"%s\" would exclude every collection", i,
                            item->valuestring);
        i++;
    }
    p->exclude = cJSON_PrintUnformatted(exc);
    return QB_OK;
}

/* Reads "collections" / "full_instance" into scope and the JSON array. */
static enum qb_err parse_scope(const cJSON *body, struct store_plan *p, char *err, size_t errlen)
{
    bool full = false;
    enum qb_err rc = json_get_bool(body, "full_instance", &full, err, errlen);
    if (rc == QB_ERR_INVALID)
        return rc;
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(body, "collections");
    bool has_cols = cols && !cJSON_IsNull(cols);
    if (full && has_cols)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "collections: must be omitted when full_instance is true");
    if (full) {
        p->scope = xstrdup("full");
        return parse_exclude(body, p, err, errlen);
    }
    if (!has_cols)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "collections: is required (a list of names, or \"*\" for every "
                        "collection) unless full_instance is true");
    bool star = cJSON_IsString(cols) && strcmp(cols->valuestring, "*") == 0;
    const cJSON *first = cJSON_IsArray(cols) ? cJSON_GetArrayItem(cols, 0) : NULL;
    if (!star && cJSON_IsString(first) && strcmp(first->valuestring, "*") == 0) {
        if (cJSON_GetArraySize(cols) != 1)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "collections[1]: \"*\" already selects every collection; list "
                            "what to leave out in \"exclude\"");
        star = true;
    }
    if (star) {
        p->scope = xstrdup("all");
        return parse_exclude(body, p, err, errlen);
    }
    rc = check_list("collections", cols, false, err, errlen);
    if (rc)
        return rc;
    const cJSON *item;
    int i = 0;
    cJSON_ArrayForEach(item, cols)
    {
        if (strcmp(item->valuestring, "*") == 0)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "collections[%d]: \"*\" cannot be combined with names", i);
        i++;
    }
    p->scope = xstrdup("collections");
    p->collections = cJSON_PrintUnformatted(cols);
    return parse_exclude(body, p, err, errlen);
}

static enum qb_err parse_strings(const cJSON *body, struct store_plan *p, char *err, size_t errlen)
{
    const char *instance = "default", *destination = "local", *schedule = NULL, *tz = "UTC",
               *prefix = "";
    enum qb_err rc = json_get_string(body, "instance", &instance, err, errlen);
    if (rc != QB_ERR_INVALID)
        rc = json_get_string(body, "destination", &destination, err, errlen);
    if (rc != QB_ERR_INVALID)
        rc = json_get_string(body, "schedule", &schedule, err, errlen);
    if (rc != QB_ERR_INVALID)
        rc = json_get_string(body, "timezone", &tz, err, errlen);
    if (rc != QB_ERR_INVALID)
        rc = json_get_string(body, "key_prefix", &prefix, err, errlen);
    if (rc == QB_ERR_INVALID)
        return rc;
    /* The parsers are lenient about spaces at the ends and never see a
     * control character as such; the stored text must be what runs. */
    if (schedule && (!*schedule || isspace((unsigned char)schedule[0]) ||
                     isspace((unsigned char)schedule[strlen(schedule) - 1])))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "schedule: must not be empty or start or end with white space (leave it "
                        "out, or null, for on-demand only)");
    if (schedule && has_control(schedule))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "schedule: must not contain control characters");
    if (!*tz || has_control(tz))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "timezone: must be an IANA time zone name such as \"UTC\" or "
                        "\"Europe/Berlin\" (leave it out for UTC)");
    /* The zone is checked even without a schedule: a plan may get one
     * later, and a stored typo would surface only then. */
    if (schedule_check(schedule ? schedule : "@daily", tz, err, errlen))
        return QB_ERR_INVALID;
    char sub[QB_ERRBUF_SIZE / 2];
    if (*prefix && storage_key_check(prefix, sub, sizeof sub))
        return qb_failf(QB_ERR_INVALID, err, errlen, "key_prefix: %s", sub);
    p->instance = xstrdup(instance);
    p->destination = xstrdup(destination);
    p->schedule = schedule ? xstrdup(schedule) : NULL;
    p->timezone = xstrdup(tz);
    p->key_prefix = xstrdup(prefix);
    return QB_OK;
}

/* The optional object member `name` of body, whose members may only be
 * `fields`: *out is NULL when it is absent or null.  QB_ERR_INVALID with
 * "<name>: must be an object {"<field>", ...} or null" or "<name>.<the
 * unknown member>" in err otherwise. */
static enum qb_err member_object(const cJSON *body, const char *name, const char *const *fields,
                                 const cJSON **out, char *err, size_t errlen)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(body, name);
    char sub[QB_ERRBUF_SIZE / 2] = "";
    *out = NULL;
    if (!o || cJSON_IsNull(o))
        return QB_OK;
    if (!cJSON_IsObject(o)) {
        size_t used = 0;
        for (size_t i = 0; fields[i] && used < sizeof sub; i++) {
            int k = snprintf(sub + used, sizeof sub - used, "%s\"%s\"", i ? ", " : "", fields[i]);
            used += k > 0 ? (size_t)k : 0;
        }
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s: must be an object {%s} or null", name,
                        sub);
    }
    if (json_reject_unknown(o, fields, sub, sizeof sub))
        return qb_failf(QB_ERR_INVALID, err, errlen, "%s.%s", name, sub);
    *out = o;
    return QB_OK;
}

/* Reads "reverify": {"schedule": cron (in the plan's timezone),
 * "max_bytes": budget per pass} or null/absent for none. */
static enum qb_err parse_reverify(const cJSON *body, struct store_plan *p, char *err, size_t errlen)
{
    static const char *const fields[] = {"schedule", "max_bytes", NULL};
    const cJSON *rv = NULL;
    const char *expr = NULL;
    int64_t max = REVERIFY_MAX_BYTES_DEFAULT;
    char sub[QB_ERRBUF_SIZE / 2];
    enum qb_err rc = member_object(body, "reverify", fields, &rv, err, errlen);
    if (rc || !rv)
        return rc;
    rc = json_get_string(rv, "schedule", &expr, sub, sizeof sub);
    if (rc == QB_ERR_NOT_FOUND)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "reverify.schedule: is required (a cron expression, as for schedule)");
    if (!rc && (!*expr || has_control(expr) || isspace((unsigned char)expr[0]) ||
                isspace((unsigned char)expr[strlen(expr) - 1])))
        rc = qb_failf(QB_ERR_INVALID, sub, sizeof sub,
                      "schedule: must not be empty, start or end with white space");
    if (!rc)
        rc = schedule_check(expr, p->timezone, sub, sizeof sub);
    if (!rc)
        rc = json_get_int(rv, "max_bytes", 1, INT64_C(1) << 53, &max, sub, sizeof sub);
    if (rc && rc != QB_ERR_NOT_FOUND)
        return qb_failf(QB_ERR_INVALID, err, errlen, "reverify.%s", sub);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "schedule", expr);
    cJSON_AddNumberToObject(o, "max_bytes", (double)max);
    p->reverify = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return QB_OK;
}

/* Reads "compression": {"codec": "zstd"|"none", "level": 1..19}; absent
 * or null: zstd at the default level, for a new or replaced plan
 * (migration 0017 keeps "none" on plans stored before it existed). */
static enum qb_err parse_compression(const cJSON *body, struct store_plan *p, char *err,
                                     size_t errlen)
{
    static const char *const fields[] = {"codec", "level", NULL};
    const cJSON *c = NULL;
    const char *codec = "zstd";
    int64_t level = CODEC_LEVEL_DEFAULT;
    char sub[QB_ERRBUF_SIZE / 2];
    enum qb_err rc = member_object(body, "compression", fields, &c, err, errlen);
    if (rc)
        return rc;
    if (c) {
        rc = json_get_string(c, "codec", &codec, sub, sizeof sub);
        if (rc == QB_ERR_NOT_FOUND)
            rc = qb_failf(QB_ERR_INVALID, sub, sizeof sub,
                          "codec: is required (\"zstd\" or \"none\")");
        /* Encryption is not a compression codec: it has its own member. */
        if (!rc && strcmp(codec, "zstd") != 0 && strcmp(codec, "none") != 0)
            rc = qb_failf(QB_ERR_INVALID, sub, sizeof sub,
                          "codec: \"%.32s\" is not a codec this build has (\"zstd\" or \"none\"; "
                          "encryption is set with \"encryption\")",
                          codec);
        if (!rc)
            rc = json_get_int(c, "level", 1, CODEC_LEVEL_MAX, &level, sub, sizeof sub);
        if (rc && rc != QB_ERR_NOT_FOUND)
            return qb_failf(QB_ERR_INVALID, err, errlen, "compression.%s", sub);
    }
    p->compression = xstrdup(codec);
    p->compression_level = level;
    return QB_OK;
}

/* The optional string member `field` of body into *out (NULL when absent,
 * QB_ERR_NOT_FOUND): QB_ERR_INVALID "<field>: must be "a" or "b"" when it
 * is another string. */
static enum qb_err get_either(const cJSON *body, const char *field, const char *a, const char *b,
                              const char **out, char *err, size_t errlen)
{
    enum qb_err rc = json_get_string(body, field, out, err, errlen);
    if (rc == QB_OK && strcmp(*out, a) != 0 && strcmp(*out, b) != 0)
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "%s: must be \"%s\" or \"%s\"", field, a, b);
    return rc;
}

/* Fills p from body (all fields but name) and *allow_missing from the
 * request-only "allow_missing_collections".  Replies and returns false on
 * invalid input. */
bool api_plan_from_body(struct http_request *req, const cJSON *body, struct store_plan *p,
                        bool *allow_missing)
{
    char err[QB_ERRBUF_SIZE];
    struct retention_policy policy;
    int64_t alert = 0;
    p->verify = true;
    p->enabled = true;
    enum qb_err rc = json_reject_unknown(body, plan_fields, err, sizeof err);
    if (!rc)
        rc = parse_scope(body, p, err, sizeof err);
    if (!rc)
        rc = parse_strings(body, p, err, sizeof err);
    if (!rc)
        rc = parse_reverify(body, p, err, sizeof err);
    const cJSON *retention = cJSON_GetObjectItemCaseSensitive(body, "retention");
    if (!rc)
        rc = retention_policy_from_json(retention, &policy, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_bool(body, "verify", &p->verify, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_bool(body, "enabled", &p->enabled, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_bool(body, "requeue_interrupted", &p->requeue_interrupted, err, sizeof err);
    *allow_missing = false;
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_bool(body, "allow_missing_collections", allow_missing, err, sizeof err);
    const char *method = NULL;
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = get_either(body, "shard_method", "snapshot", "stream", &method, err, sizeof err);
    /* Omitted: "quick" for a new or replaced plan (migration 0012 keeps
     * "full" on plans stored before the setting existed). */
    const char *vmode = NULL;
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = get_either(body, "verify_mode", "quick", "full", &vmode, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = json_get_int(body, "alert_after", 60, 366LL * 86400, &alert, err, sizeof err);
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(body, "labels");
    if ((!rc || rc == QB_ERR_NOT_FOUND) && labels && !cJSON_IsNull(labels))
        rc = api_labels_check(labels, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = api_get_rate(body, "max_bytes_per_second", &p->max_bytes_per_second, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = parse_compression(body, p, err, sizeof err);
    if (!rc || rc == QB_ERR_NOT_FOUND)
        rc = keyref_parse(cJSON_GetObjectItemCaseSensitive(body, "encryption"), "encryption",
                          &p->encryption, err, sizeof err);
    if (rc && rc != QB_ERR_NOT_FOUND) {
        api_reply_invalid(req, err);
        return false;
    }
    p->retention =
        retention && !cJSON_IsNull(retention) ? cJSON_PrintUnformatted(retention) : xstrdup("{}");
    p->labels = labels && !cJSON_IsNull(labels) ? cJSON_PrintUnformatted(labels) : xstrdup("{}");
    p->alert_after_s = alert;
    p->shard_method = xstrdup(method ? method : "snapshot");
    p->verify_mode = xstrdup(vmode ? vmode : "quick");
    return api_plan_copies_from_body(req, body, p);
}
