/* SPDX-License-Identifier: Apache-2.0
 *
 * test_store.c -- the catalogue on a temporary database: migrations 0..N,
 * idempotence, refusal of a newer schema, pragmas, constraints, the
 * instances table's conflict and foreign-key behaviour, and how rows
 * become structs (a NULL column reads as the field's "none" value, sealed
 * columns open only when asked for, an empty list is NULL with count 0,
 * a lookup that finds nothing says what was looked for).
 */
#include "unit.h"
#include "store/db.h"
#include "store/migrate.h"
#include "store/store.h"
#include "store/store_cleanup.h"
#include "store/store_destinations.h"
#include "store/store_instances.h"
#include "store/store_plans.h"
#include "store/store_runs.h"
#include "store/store_secrets.h"
#include "store/store_snapshots.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dbpath[64];

static void fresh_db(void)
{
    snprintf(dbpath, sizeof dbpath, "/tmp/qbackup-unit-db-XXXXXX");
    int fd = mkstemp(dbpath);
    if (fd >= 0)
        close(fd);
    unlink(dbpath);
}

static void drop_db(void)
{
    char p[96];
    unlink(dbpath);
    snprintf(p, sizeof p, "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", dbpath);
    unlink(p);
}

static int scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The migrator's own connection (db.h), as the store opens it. */
static struct db_conn *open_conn(void)
{
    struct db_conn *c = NULL;
    char err[QB_ERRBUF_SIZE];
    if (db_open(dbpath, &c, err, sizeof err) != QB_OK)
        fprintf(stderr, "db_open: %s\n", err);
    return c;
}

static int conn_scalar(struct db_conn *c, const char *sql)
{
    struct db_stmt *st = NULL;
    char err[QB_ERRBUF_SIZE];
    bool row = false;
    int v = -1;
    if (db_prepare(c, sql, &st, err, sizeof err) == QB_OK &&
        db_step(st, &row, "scalar", err, sizeof err) == QB_OK && row)
        v = (int)db_column_int64(st, 0);
    db_finalize(st);
    return v;
}

static void test_migrate_from_zero_and_twice(void)
{
    fresh_db();
    char err[QB_ERRBUF_SIZE];
    int applied = -1, version = -1;
    struct db_conn *db = open_conn();
    TEST_ASSERT(db != NULL);
    TEST_EXPECT_INT(migrate_current_version(db, &version, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(version, 0);
    TEST_EXPECT_INT(migrate_apply(db, &applied, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(applied, qb_migrations_count);
    TEST_EXPECT_INT(migrate_current_version(db, &version, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(version, migrate_latest_version());
    int objects = conn_scalar(db, "SELECT count(*) FROM sqlite_schema");
    TEST_EXPECT_INT(migrate_apply(db, &applied, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(applied, 0);
    TEST_EXPECT_INT(conn_scalar(db, "SELECT count(*) FROM sqlite_schema"), objects);
    TEST_EXPECT_INT(conn_scalar(db, "SELECT count(*) FROM schema_migrations"), qb_migrations_count);
    db_close(db);
    drop_db();
}

static void test_newer_schema_refused_unchanged(void)
{
    fresh_db();
    char err[QB_ERRBUF_SIZE];
    struct db_conn *db = open_conn();
    TEST_ASSERT(db != NULL);
    TEST_ASSERT(migrate_apply(db, NULL, err, sizeof err) == QB_OK);
    TEST_ASSERT(db_exec(db, "INSERT INTO schema_migrations VALUES (4242, 'x', 0)", err,
                        sizeof err) == QB_OK);
    int objects = conn_scalar(db, "SELECT count(*) FROM sqlite_schema");
    TEST_EXPECT_INT(migrate_apply(db, NULL, err, sizeof err), QB_ERR_TOO_NEW);
    TEST_EXPECT(strstr(err, "schema version 4242") != NULL);
    TEST_EXPECT(strstr(err, "nothing was changed") != NULL);
    TEST_EXPECT_INT(conn_scalar(db, "SELECT count(*) FROM sqlite_schema"), objects);
    db_close(db);
    drop_db();
}

static void test_failed_migration_rolls_back(void)
{
    /* A table the first migration creates already exists: the migration
     * fails and leaves nothing half-applied. */
    fresh_db();
    char err[QB_ERRBUF_SIZE];
    struct db_conn *db = open_conn();
    TEST_ASSERT(db != NULL);
    TEST_ASSERT(db_exec(db, "CREATE TABLE runs (x)", err, sizeof err) == QB_OK);
    TEST_EXPECT(migrate_apply(db, NULL, err, sizeof err) != QB_OK);
    TEST_EXPECT(strstr(err, "migration 0001_initial") != NULL);
    TEST_EXPECT_INT(conn_scalar(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'instances'"),
                    0);
    TEST_EXPECT_INT(conn_scalar(db, "SELECT count(*) FROM schema_migrations"), 0);
    db_close(db);
    drop_db();
}

/* The engine's error classes, and the constraint each refusal names:
 * run creation tells a vanished plan (a foreign key, unnamed by SQLite)
 * from its two unique indexes this way (db.h, db_error_constraint). */
static void test_errors_name_their_constraint(void)
{
    fresh_db();
    char err[QB_ERRBUF_SIZE];
    struct db_conn *db = open_conn();
    TEST_ASSERT(db != NULL);
    TEST_ASSERT(migrate_apply(db, NULL, err, sizeof err) == QB_OK);
    TEST_ASSERT(db_exec(db,
                        "INSERT INTO instances (id, name, url, created_at, updated_at) "
                        "VALUES (1, 'i', 'http://q:6333', 0, 0);"
                        "INSERT INTO destinations (id, name, kind, created_at, updated_at) "
                        "VALUES (1, 'd', 'local', 0, 0);"
                        "INSERT INTO plans (id, name, instance_id, destination_id, scope, "
                        "created_at, updated_at) VALUES (1, 'p', 1, 1, 'full', 0, 0);"
                        "INSERT INTO runs (kind, plan_id, trigger, queued_at, scheduled_for, "
                        "idempotency_key) VALUES ('backup', 1, 'schedule', 1, 60, 'k')",
                        err, sizeof err) == QB_OK);
    /* A unique index on plain columns: SQLite names its columns, the
     * engine finds the index. */
    TEST_EXPECT_INT(db_exec(db,
                            "INSERT INTO runs (kind, plan_id, trigger, queued_at, scheduled_for) "
                            "VALUES ('backup', 1, 'schedule', 2, 60)",
                            err, sizeof err),
                    QB_ERR_CONFLICT);
    TEST_EXPECT_STR(db_error_constraint(db), "runs_plan_slot");
    /* An index on an expression: SQLite names the index. */
    TEST_EXPECT_INT(db_exec(db,
                            "INSERT INTO runs (kind, plan_id, trigger, queued_at, idempotency_key) "
                            "VALUES ('backup', 1, 'api', 2, 'k')",
                            err, sizeof err),
                    QB_ERR_CONFLICT);
    TEST_EXPECT_STR(db_error_constraint(db), "runs_idempotency");
    TEST_EXPECT(strstr(err, "UNIQUE constraint failed") != NULL); /* the message is the engine's */
    /* A foreign key: a conflict, but SQLite never says which. */
    TEST_EXPECT_INT(db_exec(db,
                            "INSERT INTO runs (kind, plan_id, trigger, queued_at) "
                            "VALUES ('backup', 99, 'api', 2)",
                            err, sizeof err),
                    QB_ERR_CONFLICT);
    TEST_EXPECT_STR(db_error_constraint(db), "");
    /* CHECK and NOT NULL are bad input. */
    TEST_EXPECT_INT(db_exec(db,
                            "INSERT INTO runs (kind, trigger, queued_at) VALUES ('x', 'api', 2)",
                            err, sizeof err),
                    QB_ERR_INVALID);
    TEST_EXPECT_INT(
        db_exec(db, "INSERT INTO runs (kind, trigger) VALUES ('backup', 'api')", err, sizeof err),
        QB_ERR_INVALID);
    /* A parameter the statement lacks is ignored; RETURNING gives the id. */
    struct db_stmt *st = NULL;
    bool row = false;
    TEST_ASSERT(db_prepare(db,
                           "INSERT INTO runs (kind, trigger, queued_at) VALUES ('backup', ?1, ?2) "
                           "RETURNING id",
                           &st, err, sizeof err) == QB_OK);
    db_bind_text(st, 1, "api");
    db_bind_int64(st, 2, 3);
    db_bind_int64(st, 9, 1);
    TEST_EXPECT_INT(db_step(st, &row, "inserting", err, sizeof err), QB_OK);
    TEST_EXPECT(row);
    TEST_EXPECT_INT(db_column_int64(st, 0), conn_scalar(db, "SELECT max(id) FROM runs"));
    db_finalize(st);
    db_close(db);
    drop_db();
}

static void test_store_pragmas_and_instances(void)
{
    fresh_db();
    struct store *s = NULL;
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(store_open(dbpath, 2, &s, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_migrate(s, NULL, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(store_heartbeat(s, err, sizeof err), QB_OK);
    struct seal_keyring *kr = seal_keyring_create();
    TEST_ASSERT(seal_keyring_add_base64(kr, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "t",
                                        err, sizeof err) == QB_OK);
    TEST_ASSERT(store_secrets_init(s, kr, NULL, err, sizeof err) == QB_OK);

    char name[] = "prod", url[] = "http://p:6333", key[] = "k", badname[] = "bad";
    struct store_instance inst = {.name = name,
                                  .url = url,
                                  .api_key = key,
                                  .tls_verify = true,
                                  .max_concurrent = 1,
                                  .timeout_s = 30};
    TEST_EXPECT_INT(store_instance_insert(s, &inst, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(store_instance_insert(s, &inst, err, sizeof err), QB_ERR_CONFLICT);
    TEST_EXPECT(strstr(err, "already exists") != NULL);

    struct store_instance *got = NULL;
    TEST_ASSERT(store_instance_get(s, "prod", &got, err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(got->api_key, "k");
    TEST_EXPECT_STR(got->managed_by, "api");
    store_instance_free(got);

    /* Out-of-range values are refused by the schema itself. */
    struct store_instance bad = inst;
    bad.name = badname;
    bad.max_concurrent = 0;
    TEST_EXPECT(store_instance_insert(s, &bad, err, sizeof err) != QB_OK);

    /* A plan using the instance blocks its deletion. */
    sqlite3 *db = NULL;
    TEST_ASSERT(sqlite3_open(dbpath, &db) == SQLITE_OK);
    TEST_ASSERT(sqlite3_exec(db,
                             "INSERT INTO destinations (name, kind, created_at, updated_at) "
                             "VALUES ('d', 'local', 0, 0);"
                             "INSERT INTO plans (name, instance_id, destination_id, scope, "
                             "created_at, updated_at) SELECT 'p', i.id, d.id, 'full', 0, 0 "
                             "FROM instances i, destinations d WHERE i.name = 'prod'",
                             NULL, NULL, NULL) == SQLITE_OK);
    TEST_EXPECT_INT(store_instance_delete(s, "prod", err, sizeof err), QB_ERR_CONFLICT);
    TEST_EXPECT(strstr(err, "used by a backup plan") != NULL);
    TEST_ASSERT(sqlite3_exec(db, "DELETE FROM plans", NULL, NULL, NULL) == SQLITE_OK);
    TEST_EXPECT_INT(scalar(db, "PRAGMA foreign_keys"), 0); /* this raw handle: off by default */
    sqlite3_close(db);

    TEST_EXPECT_INT(store_instance_delete(s, "prod", err, sizeof err), QB_OK);
    TEST_EXPECT_INT(store_instance_delete(s, "prod", err, sizeof err), QB_ERR_NOT_FOUND);

    /* The config-managed instance is inserted, then refreshed in place. */
    TEST_EXPECT_INT(store_instance_sync_config(s, "default", "http://a:1", NULL, err, sizeof err),
                    QB_OK);
    TEST_EXPECT_INT(store_instance_sync_config(s, "default", "http://b:2", "key", err, sizeof err),
                    QB_OK);
    TEST_ASSERT(store_instance_get(s, "default", &got, err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(got->url, "http://b:2");
    TEST_EXPECT_STR(got->api_key, "key");
    TEST_EXPECT_STR(got->managed_by, "config");
    store_instance_free(got);
    /* Stored sealed, never in clear. */
    TEST_ASSERT(sqlite3_open(dbpath, &db) == SQLITE_OK);
    TEST_EXPECT_INT(scalar(db, "SELECT count(*) FROM instances WHERE api_key_secret = 'key'"), 0);
    TEST_EXPECT_INT(scalar(db, "SELECT count(*) FROM instances WHERE api_key_secret LIKE 'qbs1:%'"),
                    1);
    sqlite3_close(db);

    store_close(s);
    seal_keyring_destroy(kr);
    drop_db();
}

/* Deleting a plan and triggering it cannot interleave into a run whose
 * plan vanished: the delete is refused while a run is queued, and a run
 * for a deleted plan is refused as not found. */
static void test_plan_delete_and_trigger_race(void)
{
    fresh_db();
    struct store *s = NULL;
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(store_open(dbpath, 2, &s, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_migrate(s, NULL, err, sizeof err) == QB_OK);
    sqlite3 *db = NULL;
    TEST_ASSERT(sqlite3_open(dbpath, &db) == SQLITE_OK);
    TEST_ASSERT(sqlite3_exec(db,
                             "INSERT INTO instances (name, url, created_at, updated_at) "
                             "VALUES ('i', 'http://q:6333', 0, 0);"
                             "INSERT INTO destinations (name, kind, created_at, updated_at) "
                             "VALUES ('d', 'local', 0, 0);"
                             "INSERT INTO plans (name, instance_id, destination_id, scope, "
                             "created_at, updated_at) SELECT 'p', i.id, d.id, 'full', 0, 0 "
                             "FROM instances i, destinations d",
                             NULL, NULL, NULL) == SQLITE_OK);
    int64_t plan_id = scalar(db, "SELECT id FROM plans WHERE name = 'p'");
    struct store_run_new n = {
        .kind = "backup", .plan_id = plan_id, .plan_name = "p", .trigger = "api", .request = "{}"};
    int64_t run = 0;
    bool existing = false;
    TEST_ASSERT(store_run_create(s, &n, &run, &existing, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(store_plan_delete(s, "p", err, sizeof err), QB_ERR_CONFLICT);
    TEST_EXPECT(strstr(err, "queued or running") != NULL);
    TEST_EXPECT_INT(scalar(db, "SELECT count(*) FROM plans"), 1);
    TEST_ASSERT(sqlite3_exec(db, "UPDATE runs SET state = 'failed'", NULL, NULL, NULL) ==
                SQLITE_OK);
    TEST_EXPECT_INT(store_plan_delete(s, "p", err, sizeof err), QB_OK);
    TEST_EXPECT_INT(store_plan_delete(s, "p", err, sizeof err), QB_ERR_NOT_FOUND);
    /* The trigger that read the plan before the delete: not found. */
    TEST_EXPECT_INT(store_run_create(s, &n, &run, &existing, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT(strstr(err, "deleted") != NULL);
    sqlite3_close(db);
    store_close(s);
    drop_db();
}

/* Runs sql on a connection of its own (rows the API never writes: NULLs
 * where the store always binds a value). */
static void exec_sql(const char *sql)
{
    sqlite3 *db = NULL;
    TEST_ASSERT(sqlite3_open(dbpath, &db) == SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        fprintf(stderr, "exec_sql: %s\n", msg ? msg : "?");
    TEST_ASSERT(msg == NULL);
    sqlite3_close(db);
}

/* *out: a migrated store with a key ring (*kr); NULL when that failed. */
static void open_store(struct store **out, struct seal_keyring **kr)
{
    struct store *s = NULL;
    char err[QB_ERRBUF_SIZE];
    *out = NULL;
    fresh_db();
    TEST_ASSERT(store_open(dbpath, 2, &s, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_migrate(s, NULL, err, sizeof err) == QB_OK);
    *kr = seal_keyring_create();
    TEST_ASSERT(seal_keyring_add_base64(*kr, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "t",
                                        err, sizeof err) == QB_OK);
    TEST_ASSERT(store_secrets_init(s, *kr, NULL, err, sizeof err) == QB_OK);
    *out = s;
}

static void test_empty_lists(void)
{
    struct seal_keyring *kr = NULL;
    struct store *s = NULL;
    open_store(&s, &kr);
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    void *junk = err; /* each list must overwrite it */
    struct store_plan **plans = junk;
    struct store_instance **insts = junk;
    struct store_cleanup **due = junk;
    size_t n = 99;
    TEST_EXPECT_INT(store_plan_list(s, &plans, &n, err, sizeof err), QB_OK);
    TEST_EXPECT(plans == NULL);
    TEST_EXPECT_INT((long long)n, 0);
    n = 99;
    TEST_EXPECT_INT(store_instance_list(s, &insts, &n, err, sizeof err), QB_OK);
    TEST_EXPECT(insts == NULL);
    TEST_EXPECT_INT((long long)n, 0);
    n = 99;
    TEST_EXPECT_INT(store_cleanup_due(s, 1 << 30, 10, &due, &n, err, sizeof err), QB_OK);
    TEST_EXPECT(due == NULL);
    TEST_EXPECT_INT((long long)n, 0);
    store_close(s);
    seal_keyring_destroy(kr);
    drop_db();
}

static void test_null_columns_read_as_none(void)
{
    struct seal_keyring *kr = NULL;
    struct store *s = NULL;
    open_store(&s, &kr);
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    exec_sql("INSERT INTO instances (name, url, created_at, updated_at) "
             "VALUES ('i', 'http://q:6333', 0, 0);"
             "INSERT INTO destinations (name, kind, created_at, updated_at) "
             "VALUES ('d', 'local', 0, 0);"
             "INSERT INTO plans (name, instance_id, destination_id, scope, created_at, "
             "updated_at) SELECT 'p', i.id, d.id, 'full', 0, 0 FROM instances i, destinations d;"
             "INSERT INTO snapshots (plan_id, instance_name, destination_id, kind, location, "
             "storage_key, size_bytes, sha256, created_at, shard_id, points_count, qdrant_name) "
             "SELECT NULL, 'i', d.id, 'full', '/x', 'k', 5, printf('%064d', 0), 7, NULL, NULL, 'q' "
             "FROM destinations d;"
             "INSERT INTO runs (kind, trigger, request, queued_at, bytes_total) "
             "VALUES ('backup', 'api', '{}', 1, NULL);"
             "INSERT INTO qdrant_cleanup (instance_name, scope, collection, shard_id, snapshot, "
             "attempts, next_at, created_at) VALUES ('i', 'full', NULL, NULL, 's', 0, 0, 0)");

    struct store_instance *inst = NULL;
    TEST_ASSERT(store_instance_get(s, "i", &inst, err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(inst->nodes, "[]");
    TEST_EXPECT(inst->api_key == NULL);
    TEST_EXPECT(inst->ca_file == NULL);
    store_instance_free(inst);

    struct store_plan *p = NULL;
    TEST_ASSERT(store_plan_get(s, "p", &p, err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(p->shard_method, "snapshot");
    TEST_EXPECT_STR(p->instance, "i");
    TEST_EXPECT_STR(p->destination, "d");
    TEST_EXPECT(p->schedule == NULL);
    TEST_EXPECT_INT((long long)p->alert_after_s, 0);
    TEST_EXPECT(p->enabled);
    store_plan_free(p);

    struct store_snapshot **snaps = NULL;
    size_t n = 0;
    TEST_ASSERT(store_snapshot_list(s, NULL, &snaps, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 1);
    TEST_EXPECT_INT((long long)snaps[0]->shard_id, -1);
    TEST_EXPECT_INT((long long)snaps[0]->points_count, -1);
    TEST_EXPECT_STR(snaps[0]->layout, "snapshot");
    TEST_EXPECT(snaps[0]->plan_name == NULL);
    TEST_EXPECT_INT((long long)snaps[0]->plan_id, 0);
    TEST_EXPECT_INT((long long)snaps[0]->verified_at, 0);
    TEST_EXPECT_INT((long long)snaps[0]->size_bytes, 5);
    TEST_EXPECT_STR(snaps[0]->destination_name, "d");
    TEST_EXPECT_INT((long long)snaps[0]->locked_until, 0); /* NULL: not locked */
    store_snapshot_list_free(snaps, n);

    struct store_run **runs = NULL;
    TEST_ASSERT(store_run_list(s, &(struct store_run_filter){0}, &runs, &n, err, sizeof err) ==
                QB_OK);
    TEST_ASSERT(n == 1);
    TEST_EXPECT_INT((long long)runs[0]->bytes_total, -1);
    TEST_EXPECT_INT((long long)runs[0]->plan_id, 0);
    TEST_EXPECT_STR(runs[0]->state, "queued");
    TEST_EXPECT(!runs[0]->cancel_requested);
    store_run_list_free(runs, n);

    struct store_cleanup **due = NULL;
    TEST_ASSERT(store_cleanup_due(s, 1, 10, &due, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 1);
    TEST_EXPECT_INT((long long)due[0]->shard_id, -1);
    TEST_EXPECT(due[0]->collection == NULL);
    TEST_EXPECT_STR(due[0]->snapshot, "s");
    store_cleanup_list_free(due, n);

    store_close(s);
    seal_keyring_destroy(kr);
    drop_db();
}

static void test_destination_secret_only_when_asked(void)
{
    struct seal_keyring *kr = NULL;
    struct store *s = NULL;
    open_store(&s, &kr);
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    char name[] = "s3", kind[] = "s3", settings[] = "{\"bucket\":\"b\"}";
    char secret[] = "{\"secret_key\":\"sk\"}";
    struct store_destination d = {
        .name = name, .kind = kind, .settings = settings, .secret = secret};
    TEST_ASSERT(store_destination_insert(s, &d, err, sizeof err) == QB_OK);

    struct store_destination *got = NULL;
    TEST_ASSERT(store_destination_get(s, "s3", true, &got, err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(got->secret, secret);
    TEST_EXPECT_STR(got->managed_by, "api");
    int64_t id = got->id;
    store_destination_free(got);
    TEST_ASSERT(store_destination_get_by_id(s, id, false, &got, err, sizeof err) == QB_OK);
    TEST_EXPECT(got->secret == NULL);
    TEST_EXPECT_STR(got->name, "s3");
    store_destination_free(got);
    TEST_ASSERT(store_destination_get_by_id(s, id, true, &got, err, sizeof err) == QB_OK);
    TEST_EXPECT_STR(got->secret, secret);
    store_destination_free(got);

    struct store_destination **list = NULL;
    size_t n = 0;
    TEST_ASSERT(store_destination_list(s, &list, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 1);
    TEST_EXPECT(list[0]->secret == NULL);
    store_destination_list_free(list, n);

    /* A sealed value the key ring cannot open fails the read. */
    exec_sql("UPDATE destinations SET secret = '\"qbs1:bm9wZQ==\"'");
    TEST_EXPECT(store_destination_get(s, "s3", true, &got, err, sizeof err) != QB_OK);
    TEST_ASSERT(store_destination_get(s, "s3", false, &got, err, sizeof err) == QB_OK);
    store_destination_free(got);

    store_close(s);
    seal_keyring_destroy(kr);
    drop_db();
}

static void test_not_found_messages(void)
{
    struct seal_keyring *kr = NULL;
    struct store *s = NULL;
    open_store(&s, &kr);
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    struct store_plan *p = NULL;
    TEST_EXPECT_INT(store_plan_get(s, "nope", &p, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_STR(err, "plan \"nope\" does not exist");
    TEST_EXPECT_INT(store_plan_get_by_id(s, 41, &p, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_STR(err, "plan 41 does not exist");
    struct store_run *r = NULL;
    TEST_EXPECT_INT(store_run_get(s, 42, &r, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_STR(err, "run 42 does not exist");
    struct store_snapshot *snap = NULL;
    TEST_EXPECT_INT(store_snapshot_get(s, 43, &snap, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_STR(err, "snapshot 43 does not exist");
    TEST_EXPECT_INT(store_snapshot_set_pinned(s, 43, true, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_STR(err, "snapshot 43 does not exist");
    struct store_destination *d = NULL;
    TEST_EXPECT_INT(store_destination_get_by_id(s, 44, true, &d, err, sizeof err),
                    QB_ERR_NOT_FOUND);
    TEST_EXPECT_STR(err, "destination 44 does not exist");
    TEST_EXPECT_INT(store_destination_delete(s, "nope", err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_STR(err, "destination \"nope\" does not exist");
    struct store_instance *inst = NULL;
    TEST_EXPECT_INT(store_instance_get(s, "nope", &inst, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_STR(err, "instance \"nope\" does not exist");
    TEST_EXPECT(p == NULL && r == NULL && snap == NULL && d == NULL && inst == NULL);
    store_close(s);
    seal_keyring_destroy(kr);
    drop_db();
}

/* A row marked deleting is invisible to get and list (never restored,
 * verified or counted as the newest verified backup), only one deletion
 * can mark it, and recovery finds it with store_snapshot_list_deleting. */
/* A snapshot's Object Lock date (0018) is written with the row and read
 * back by the row and by retention's briefs; 0 is stored as NULL. */
static void test_snapshot_locked_until(void)
{
    struct seal_keyring *kr = NULL;
    struct store *s = NULL;
    open_store(&s, &kr);
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    exec_sql("INSERT INTO instances (name, url, created_at, updated_at) "
             "VALUES ('i', 'http://q:6333', 0, 0);"
             "INSERT INTO destinations (name, kind, created_at, updated_at) "
             "VALUES ('d', 's3', 0, 0);"
             "INSERT INTO plans (name, instance_id, destination_id, scope, created_at, "
             "updated_at) SELECT 'p', i.id, d.id, 'collections', 0, 0 "
             "FROM instances i, destinations d;");
    struct store_plan *p = NULL;
    TEST_ASSERT(store_plan_get(s, "p", &p, err, sizeof err) == QB_OK);
    char kind[] = "collection", coll[] = "c", name[] = "q", sha[65];
    memset(sha, '0', 64);
    sha[64] = '\0';
    int64_t ids[2];
    for (int i = 0; i < 2; i++) {
        char loc[16], key[16];
        snprintf(loc, sizeof loc, "s3://b/k%d", i);
        snprintf(key, sizeof key, "k%d", i);
        struct store_snapshot row = {.plan_id = p->id,
                                     .instance_name = p->instance,
                                     .destination_id = p->destination_id,
                                     .kind = kind,
                                     .collection = coll,
                                     .shard_id = -1,
                                     .qdrant_name = name,
                                     .location = loc,
                                     .storage_key = key,
                                     .sha256 = sha,
                                     .points_count = -1,
                                     .created_at = 100 + i,
                                     .locked_until = i ? 0 : 1900000000};
        TEST_ASSERT(store_snapshot_insert(s, &row, &ids[i], err, sizeof err) == QB_OK);
    }
    struct store_snapshot *one = NULL;
    TEST_ASSERT(store_snapshot_get(s, ids[0], &one, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT((long long)one->locked_until, 1900000000);
    store_snapshot_free(one);
    struct store_snapshot_brief *b = NULL;
    size_t n = 0;
    TEST_ASSERT(store_snapshot_list_retention(s, p->id, "c", &b, &n, err, sizeof err) == QB_OK);
    TEST_ASSERT(n == 2);
    TEST_EXPECT_INT((long long)b[0].id, ids[1]); /* newest first */
    TEST_EXPECT_INT((long long)b[0].locked_until, 0);
    TEST_EXPECT_INT((long long)b[1].locked_until, 1900000000);
    free(b);
    store_plan_free(p);
    store_close(s);
    seal_keyring_destroy(kr);
    drop_db();
}

static void test_snapshot_marked_deleting(void)
{
    struct seal_keyring *kr = NULL;
    struct store *s = NULL;
    open_store(&s, &kr);
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    exec_sql("INSERT INTO destinations (name, kind, created_at, updated_at) "
             "VALUES ('d', 'local', 0, 0);"
             "INSERT INTO snapshots (instance_name, destination_id, kind, location, storage_key, "
             "size_bytes, sha256, created_at, verified_at, qdrant_name) "
             "SELECT 'i', d.id, 'full', '/x', 'k', 5, printf('%064d', 0), 7, 8, 'q' "
             "FROM destinations d");
    struct store_snapshot **rows = NULL, *one = NULL;
    size_t n = 0;
    struct store_snapshot_filter verified = {.verified_only = true};
    TEST_ASSERT(store_snapshot_list(s, &verified, &rows, &n, err, sizeof err) == QB_OK && n == 1);
    int64_t id = rows[0]->id;
    store_snapshot_list_free(rows, n);

    TEST_EXPECT_INT(store_snapshot_mark_deleting(s, id, true, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(store_snapshot_mark_deleting(s, id, true, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_INT(store_snapshot_get(s, id, &one, err, sizeof err), QB_ERR_NOT_FOUND);
    TEST_EXPECT_INT(store_snapshot_list(s, &verified, &rows, &n, err, sizeof err), QB_OK);
    TEST_EXPECT_INT((long long)n, 0);
    store_snapshot_list_free(rows, n);
    TEST_EXPECT_INT(store_snapshot_list_deleting(s, INT64_MAX, &rows, &n, err, sizeof err), QB_OK);
    TEST_EXPECT(n == 1 && rows[0]->id == id);
    store_snapshot_list_free(rows, n);
    /* The periodic pass asks only for old marks: this one is too recent
     * (it could be a deletion running now) until its time has passed. */
    int64_t now = qb_now_ms() / 1000;
    TEST_EXPECT_INT(store_snapshot_list_deleting(s, now - 900, &rows, &n, err, sizeof err), QB_OK);
    TEST_EXPECT_INT((long long)n, 0);
    store_snapshot_list_free(rows, n);
    exec_sql("UPDATE snapshots SET deleting_at = deleting_at - 1000");
    TEST_EXPECT_INT(store_snapshot_list_deleting(s, now - 900, &rows, &n, err, sizeof err), QB_OK);
    TEST_EXPECT(n == 1 && rows[0]->id == id);
    store_snapshot_list_free(rows, n);

    /* A failed object delete clears the mark: the row is back. */
    TEST_EXPECT_INT(store_snapshot_mark_deleting(s, id, false, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(store_snapshot_get(s, id, &one, err, sizeof err), QB_OK);
    store_snapshot_free(one);
    TEST_EXPECT_INT(store_snapshot_list_deleting(s, INT64_MAX, &rows, &n, err, sizeof err), QB_OK);
    TEST_EXPECT_INT((long long)n, 0);
    store_snapshot_list_free(rows, n);

    store_close(s);
    seal_keyring_destroy(kr);
    drop_db();
}

/* A sweep entry (an abandoned create's window) reads back with its
 * window, is not counted as a pending delete, and a named entry and a
 * catalogued Qdrant name are found by name. */
static void test_cleanup_sweep_and_claims(void)
{
    struct seal_keyring *kr = NULL;
    struct store *s = NULL;
    open_store(&s, &kr);
    TEST_ASSERT(s != NULL);
    char err[QB_ERRBUF_SIZE];
    char inst[] = "i", scope[] = "collection", coll[] = "c", none[] = "", named[] = "c-1.snapshot";
    struct store_cleanup sweep = {.instance_name = inst,
                                  .scope = scope,
                                  .collection = coll,
                                  .shard_id = -1,
                                  .snapshot = none,
                                  .next_at = 1,
                                  .sweep_since = 100,
                                  .sweep_until = 400};
    struct store_cleanup one = {.instance_name = inst,
                                .scope = scope,
                                .collection = coll,
                                .shard_id = -1,
                                .snapshot = named,
                                .next_at = 2};
    TEST_ASSERT(store_cleanup_add(s, &sweep, err, sizeof err) == QB_OK);
    TEST_ASSERT(store_cleanup_add(s, &one, err, sizeof err) == QB_OK);
    int64_t count = 0;
    TEST_EXPECT_INT(store_cleanup_count(s, &count, err, sizeof err), QB_OK);
    TEST_EXPECT_INT((long long)count, 1);
    struct store_cleanup **due = NULL;
    size_t n = 0;
    TEST_ASSERT(store_cleanup_due(s, 10, 10, &due, &n, err, sizeof err) == QB_OK && n == 2);
    TEST_EXPECT_INT((long long)due[0]->sweep_since, 100);
    TEST_EXPECT_INT((long long)due[0]->sweep_until, 400);
    TEST_EXPECT_INT((long long)due[1]->sweep_since, 0);
    store_cleanup_list_free(due, n);
    bool found = false;
    TEST_EXPECT_INT(store_cleanup_has(s, "i", named, &found, err, sizeof err), QB_OK);
    TEST_EXPECT(found);
    TEST_EXPECT_INT(store_cleanup_has(s, "j", named, &found, err, sizeof err), QB_OK);
    TEST_EXPECT(!found);

    exec_sql("INSERT INTO destinations (name, kind, created_at, updated_at) "
             "VALUES ('d', 'local', 0, 0);"
             "INSERT INTO snapshots (instance_name, destination_id, kind, location, storage_key, "
             "size_bytes, sha256, created_at, qdrant_name) "
             "SELECT 'i', d.id, 'full', '/x', 'k', 5, printf('%064d', 0), 7, 'c-2.snapshot' "
             "FROM destinations d");
    TEST_EXPECT_INT(
        store_snapshot_qdrant_name_exists(s, "i", "c-2.snapshot", &found, err, sizeof err), QB_OK);
    TEST_EXPECT(found);
    TEST_EXPECT_INT(
        store_snapshot_qdrant_name_exists(s, "i", "c-3.snapshot", &found, err, sizeof err), QB_OK);
    TEST_EXPECT(!found);

    store_close(s);
    seal_keyring_destroy(kr);
    drop_db();
}

int main(void)
{
    TEST_RUN(test_migrate_from_zero_and_twice);
    TEST_RUN(test_newer_schema_refused_unchanged);
    TEST_RUN(test_failed_migration_rolls_back);
    TEST_RUN(test_errors_name_their_constraint);
    TEST_RUN(test_store_pragmas_and_instances);
    TEST_RUN(test_plan_delete_and_trigger_race);
    TEST_RUN(test_empty_lists);
    TEST_RUN(test_null_columns_read_as_none);
    TEST_RUN(test_destination_secret_only_when_asked);
    TEST_RUN(test_not_found_messages);
    TEST_RUN(test_snapshot_marked_deleting);
    TEST_RUN(test_snapshot_locked_until);
    TEST_RUN(test_cleanup_sweep_and_claims);
    return TEST_RESULT();
}
