/* SPDX-License-Identifier: Apache-2.0
 *
 * catalogue_tool.c -- the catalogue-scale bench's helper (bench/catalogue-scale.sh):
 *
 *   catalogue-tool gen DB SNAPSHOTS   fill a catalogue with SNAPSHOTS snapshot rows
 *   catalogue-tool retention DB PLAN  time the retention evaluation of one plan
 *   catalogue-tool tick DB            time a scheduler tick (none due, all due)
 *
 * gen opens DB with the store (store_open + store_migrate: the schema is
 * exactly what qbackupd's migrations make) and expects the rows qbackupd
 * writes at its first start (instance "default", destination "local").
 * It then writes, in large transactions on its own connection, what a
 * qbackupd that ran hourly for a long time leaves: PLANS plans of
 * COLLECTIONS collections each (50 collections by default), one backup
 * run per plan per hour going back as far as the row count needs, 3% of
 * runs failed (no snapshot), 1% partial (some), the others one snapshot
 * per collection with the run's per-collection results; the last plan is
 * a cluster plan whose rows are backup sets (layout 'shards' with a
 * backup_set document); one snapshot in 500 pinned, most verified.  The
 * columns are those store_snapshot_insert and the backup job write.  Bulk
 * SQL rather than the store API only because the API commits (and
 * fsyncs) once per row: 1M rows that way would take hours.
 *
 * retention and tick call the daemon's own code on the catalogue
 * (retention_apply_target in dry-run mode for each target of the plan;
 * scheduler_tick) and print milliseconds.  A tick with every plan due
 * queues runs, which needs the engine; that case times the store calls
 * such a tick makes (plan list, then per plan: active check, run insert,
 * fire mark) instead, through the same store functions.
 *
 * Not part of the daemon or its tests: built on demand (EXCLUDE_FROM_ALL).
 */
#include "common.h"
#include "engine/retention_apply.h"
#include "sched/sched.h"
#include "store/store.h"
#include "store/store_plans.h"
#include "store/store_runs.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PLANS       10
#define COLLECTIONS 5 /* per plan: 50 collections in all */

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "catalogue-tool: %s: %s\n", what, detail ? detail : "");
    exit(1);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        die(sql, msg);
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        die(sql, sqlite3_errmsg(db));
    return st;
}

static int64_t one_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = prep(db, sql);
    if (sqlite3_step(st) != SQLITE_ROW)
        die(sql, "no row (did qbackupd start once on this catalogue?)");
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void step_done(sqlite3 *db, sqlite3_stmt *st)
{
    if (sqlite3_step(st) != SQLITE_DONE)
        die("insert", sqlite3_errmsg(db));
    sqlite3_reset(st);
}

/* A deterministic pseudo-random sequence (xorshift), so two runs of the
 * bench generate the same catalogue. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static void hex64(char out[65], uint64_t a, uint64_t b)
{
    snprintf(out, 65, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64, a, b, a ^ b,
             a * 31 + b);
}

static void migrate(const char *path)
{
    char err[QB_ERRBUF_SIZE];
    struct store *s = NULL;
    if (store_open(path, 1, &s, err, sizeof err) || store_migrate(s, NULL, err, sizeof err))
        die("migrating", err);
    store_close(s);
}

static int gen(const char *path, int64_t want)
{
    migrate(path);
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die(path, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 10000);
    exec(db, "PRAGMA foreign_keys = ON");
    exec(db, "PRAGMA synchronous = OFF");    /* a bench catalogue: rebuilt when lost */
    exec(db, "PRAGMA cache_size = -262144"); /* 256 MiB: the indexes take random inserts */
    int64_t inst = one_int(db, "SELECT id FROM instances WHERE name = 'default'");
    int64_t dest = one_int(db, "SELECT id FROM destinations WHERE name = 'local'");
    int64_t now = (int64_t)time(NULL) / 3600 * 3600;
    int64_t per_hour = PLANS * COLLECTIONS;
    int64_t hours = want / per_hour * 100 / 96 + 2; /* ~96% of run targets catalogued */
    int64_t start = now - hours * 3600;

    exec(db, "BEGIN");
    sqlite3_stmt *pl = prep(
        db, "INSERT INTO plans (name, instance_id, destination_id, scope, collections, schedule, "
            "timezone, key_prefix, retention, verify, enabled, labels, created_at, updated_at, "
            "last_fire_at, shard_method) VALUES (?1, ?2, ?3, 'collections', ?4, '0 * * * *', "
            "'UTC', '', ?5, 1, 1, '{}', ?6, ?6, ?7, 'snapshot')");
    int64_t plan_ids[PLANS];
    for (int p = 0; p < PLANS; p++) {
        char name[32], cols[256] = "[", *c = cols + 1;
        snprintf(name, sizeof name, "scale-%02d", p);
        for (int k = 0; k < COLLECTIONS; k++)
            c +=
                snprintf(c, sizeof cols - (size_t)(c - cols), "%s\"c%02d_%d\"", k ? "," : "", p, k);
        snprintf(c, sizeof cols - (size_t)(c - cols), "]");
        sqlite3_bind_text(pl, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(pl, 2, inst);
        sqlite3_bind_int64(pl, 3, dest);
        sqlite3_bind_text(pl, 4, cols, -1, SQLITE_TRANSIENT);
        /* Rules that keep a long history, so the catalogue can grow. */
        sqlite3_bind_text(pl, 5,
                          "{\"keep_hourly\":48,\"keep_daily\":60,\"keep_weekly\":52,"
                          "\"keep_monthly\":36}",
                          -1, SQLITE_STATIC);
        sqlite3_bind_int64(pl, 6, start - 3600);
        sqlite3_bind_int64(pl, 7, now); /* the latest slot handled: none due at start */
        step_done(db, pl);
        plan_ids[p] = sqlite3_last_insert_rowid(db);
    }
    sqlite3_finalize(pl);

    sqlite3_stmt *run = prep(
        db, "INSERT INTO runs (kind, plan_id, plan_name, trigger, state, bytes_done, bytes_total, "
            "request, results, error, queued_at, started_at, finished_at, scheduled_for, worker, "
            "instance_id) VALUES ('backup', ?1, ?2, 'schedule', ?3, ?4, ?4, '{}', ?5, ?6, ?7, ?7, "
            "?8, ?7, ?9, ?10)");
    sqlite3_stmt *res = prep(db, "UPDATE runs SET results = ?2 WHERE id = ?1");
    sqlite3_stmt *snap = prep(
        db, "INSERT INTO snapshots (plan_id, run_id, instance_id, instance_name, destination_id, "
            "kind, collection, shard_id, qdrant_name, location, storage_key, size_bytes, sha256, "
            "qdrant_checksum, qdrant_version, points_count, created_at, verified_at, pinned, "
            "layout, backup_set) VALUES (?1, ?2, ?3, 'default', ?4, 'collection', ?5, NULL, ?6, "
            "?7, ?8, ?9, ?10, ?11, 'v1.12.4', ?12, ?13, ?14, ?15, ?16, ?17)");
    int64_t made = 0, runs = 0;
    for (int64_t h = 0; made < want; h++) {
        int64_t t = start + h * 3600;
        for (int p = 0; p < PLANS && made < want; p++) {
            char name[32];
            snprintf(name, sizeof name, "scale-%02d", p);
            uint32_t roll = rnd() % 100;
            const char *state = roll < 3 ? "failed" : roll < 4 ? "partial" : "succeeded";
            int ok = roll < 3 ? 0 : roll < 4 ? COLLECTIONS / 2 : COLLECTIONS;
            int64_t size = 64ll * 1024 * 1024 + rnd() % (1u << 24);
            sqlite3_bind_int64(run, 1, plan_ids[p]);
            sqlite3_bind_text(run, 2, name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(run, 3, state, -1, SQLITE_STATIC);
            sqlite3_bind_int64(run, 4, size * ok);
            sqlite3_bind_text(run, 5, "[]", -1, SQLITE_STATIC);
            if (ok < COLLECTIONS)
                sqlite3_bind_text(run, 6, "qdrant: collection snapshot: HTTP 500", -1,
                                  SQLITE_STATIC);
            else
                sqlite3_bind_null(run, 6);
            sqlite3_bind_int64(run, 7, t);
            sqlite3_bind_int64(run, 8, t + 40 + rnd() % 60);
            sqlite3_bind_int64(run, 9, rnd() % 4);
            sqlite3_bind_int64(run, 10, inst);
            step_done(db, run);
            int64_t run_id = sqlite3_last_insert_rowid(db);
            runs++;
            cJSON *results = cJSON_CreateArray();
            for (int k = 0; k < COLLECTIONS; k++) {
                char coll[32], key[160], loc[200], qname[96], sha[65], qsum[65];
                snprintf(coll, sizeof coll, "c%02d_%d", p, k);
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "collection", coll);
                cJSON_AddItemToArray(results, o);
                if (k >= ok) {
                    cJSON_AddStringToObject(o, "state", "failed");
                    cJSON_AddStringToObject(o, "error", "qdrant: collection snapshot: HTTP 500");
                    continue;
                }
                struct tm tm;
                time_t tt = (time_t)t;
                gmtime_r(&tt, &tm);
                char stamp[32];
                strftime(stamp, sizeof stamp, "%Y-%m-%dT%H-%M-%SZ", &tm);
                snprintf(qname, sizeof qname, "%s-7%012" PRId64 "-%s.snapshot", coll, run_id,
                         stamp);
                snprintf(key, sizeof key, "%s/%s/%s-r%" PRId64 ".snapshot", name, coll, stamp,
                         run_id);
                snprintf(loc, sizeof loc, "/var/lib/qbackup/local/%s", key);
                hex64(sha, (uint64_t)run_id, (uint64_t)k);
                hex64(qsum, (uint64_t)run_id * 7, (uint64_t)k + 1);
                bool set = p == PLANS - 1; /* the cluster plan: backup sets */
                int64_t points = 100000 + rnd() % 50000;
                sqlite3_bind_int64(snap, 1, plan_ids[p]);
                sqlite3_bind_int64(snap, 2, run_id);
                sqlite3_bind_int64(snap, 3, inst);
                sqlite3_bind_int64(snap, 4, dest);
                sqlite3_bind_text(snap, 5, coll, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(snap, 6, qname, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(snap, 7, loc, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(snap, 8, key, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(snap, 9, size);
                sqlite3_bind_text(snap, 10, sha, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(snap, 11, qsum, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(snap, 12, points);
                sqlite3_bind_int64(snap, 13, t + 30);
                if (rnd() % 10)
                    sqlite3_bind_int64(snap, 14, t + 90);
                else
                    sqlite3_bind_null(snap, 14);
                sqlite3_bind_int(snap, 15, rnd() % 500 == 0);
                sqlite3_bind_text(snap, 16, set ? "shards" : "snapshot", -1, SQLITE_STATIC);
                char bset[1024];
                if (set) {
                    snprintf(bset, sizeof bset,
                             "{\"collection\":\"%s\",\"shards\":[{\"shard_id\":0,\"peer\":1,"
                             "\"key\":\"%s/0\",\"size\":%" PRId64 ",\"sha256\":\"%s\"},"
                             "{\"shard_id\":1,\"peer\":2,\"key\":\"%s/1\",\"size\":%" PRId64
                             ",\"sha256\":\"%s\"}]}",
                             coll, key, size / 2, sha, key, size / 2, qsum);
                    sqlite3_bind_text(snap, 17, bset, -1, SQLITE_TRANSIENT);
                } else {
                    sqlite3_bind_null(snap, 17);
                }
                step_done(db, snap);
                int64_t sid = sqlite3_last_insert_rowid(db);
                made++;
                cJSON_AddStringToObject(o, "state", "succeeded");
                cJSON_AddNumberToObject(o, "snapshot_id", (double)sid);
                cJSON_AddNumberToObject(o, "size", (double)size);
                cJSON_AddStringToObject(o, "sha256", sha);
                cJSON_AddStringToObject(o, "location", loc);
                cJSON_AddStringToObject(o, "storage_key", key);
                cJSON_AddBoolToObject(o, "verified", true);
            }
            char *json = cJSON_PrintUnformatted(results);
            cJSON_Delete(results);
            sqlite3_bind_int64(res, 1, run_id);
            sqlite3_bind_text(res, 2, json, -1, SQLITE_TRANSIENT);
            step_done(db, res);
            free(json);
            if (runs % 2000 == 0) {
                exec(db, "COMMIT");
                exec(db, "BEGIN");
            }
        }
    }
    exec(db, "COMMIT");
    sqlite3_finalize(run);
    sqlite3_finalize(res);
    sqlite3_finalize(snap);
    exec(db, "PRAGMA wal_checkpoint(TRUNCATE)");
    sqlite3_close(db);
    printf("snapshots=%" PRId64 " runs=%" PRId64 " plans=%d collections=%d hours=%" PRId64 "\n",
           made, runs, PLANS, PLANS * COLLECTIONS, hours);
    return 0;
}

static struct store *open_store(const char *path)
{
    char err[QB_ERRBUF_SIZE];
    struct store *s = NULL;
    if (store_open(path, 2, &s, err, sizeof err))
        die("opening", err);
    return s;
}

static int retention(const char *path, const char *plan_name)
{
    char err[QB_ERRBUF_SIZE];
    struct store *s = open_store(path);
    struct store_plan *p = NULL;
    if (store_plan_get(s, plan_name, &p, err, sizeof err))
        die("plan", err);
    cJSON *cols = cJSON_Parse(p->collections);
    double best = 1e18;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_ms();
        const cJSON *c;
        cJSON_ArrayForEach(c, cols)
        {
            if (retention_apply_target(s, NULL, p, c->valuestring, true, NULL, NULL, err,
                                       sizeof err))
                die("retention", err);
        }
        double ms = now_ms() - t0;
        if (ms < best)
            best = ms;
    }
    printf("retention_ms=%.1f targets=%d\n", best, cJSON_GetArraySize(cols));
    cJSON_Delete(cols);
    store_plan_free(p);
    store_close(s);
    return 0;
}

static int tick(const char *path)
{
    char err[QB_ERRBUF_SIZE];
    struct store *s = open_store(path);
    int64_t now = (int64_t)time(NULL);
    /* The ordinary tick: nothing due (the plans' last slot is this hour). */
    double best = 1e18;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now_ms();
        scheduler_tick(s, NULL, now);
        double ms = now_ms() - t0;
        if (ms < best)
            best = ms;
    }
    /* Every plan due: what plan_tick does for each (see scheduler.c). */
    double t0 = now_ms();
    struct store_plan **plans = NULL;
    size_t n = 0;
    if (store_plan_list(s, &plans, &n, err, sizeof err))
        die("plans", err);
    int64_t slot = now / 3600 * 3600 + 3600;
    for (size_t i = 0; i < n; i++) {
        bool active = false;
        if (store_run_plan_active(s, plans[i]->id, &active, err, sizeof err))
            die("active", err);
        struct store_run_new r = {.kind = "backup",
                                  .plan_id = plans[i]->id,
                                  .plan_name = plans[i]->name,
                                  .instance_id = plans[i]->instance_id,
                                  .trigger = "schedule",
                                  .request = "{}",
                                  .scheduled_for = slot};
        int64_t id = 0;
        bool existing = false;
        if (!active && store_run_create(s, &r, &id, &existing, err, sizeof err))
            die("run", err);
        if (store_plan_mark_fire(s, plans[i]->id, slot, active, err, sizeof err))
            die("fire", err);
    }
    double due = now_ms() - t0;
    store_plan_list_free(plans, n);
    printf("tick_idle_ms=%.2f tick_due_ms=%.1f plans=%zu\n", best, due, n);
    store_close(s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "gen") == 0)
        return gen(argv[2], strtoll(argv[3], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "retention") == 0)
        return retention(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "tick") == 0)
        return tick(argv[2]);
    fprintf(stderr, "usage: catalogue-tool gen DB SNAPSHOTS | retention DB PLAN | tick DB\n");
    return 2;
}
