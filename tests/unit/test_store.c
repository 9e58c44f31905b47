/* SPDX-License-Identifier: Apache-2.0
 *
 * test_store.c -- the catalogue on a temporary database: migrations 0..N,
 * idempotence, refusal of a newer schema, pragmas, constraints, and the
 * instances table's conflict and foreign-key behaviour.
 */
#include "unit.h"
#include "store/migrate.h"
#include "store/store.h"
#include "store/store_instances.h"
#include "store/store_plans.h"
#include "store/store_runs.h"
#include "store/store_secrets.h"

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

static void test_migrate_from_zero_and_twice(void)
{
    fresh_db();
    sqlite3 *db = NULL;
    char err[QB_ERRBUF_SIZE];
    int applied = -1, version = -1;
    TEST_ASSERT(sqlite3_open(dbpath, &db) == SQLITE_OK);
    TEST_EXPECT_INT(migrate_current_version(db, &version, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(version, 0);
    TEST_EXPECT_INT(migrate_apply(db, &applied, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(applied, qb_migrations_count);
    TEST_EXPECT_INT(migrate_current_version(db, &version, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(version, migrate_latest_version());
    int objects = scalar(db, "SELECT count(*) FROM sqlite_schema");
    TEST_EXPECT_INT(migrate_apply(db, &applied, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(applied, 0);
    TEST_EXPECT_INT(scalar(db, "SELECT count(*) FROM sqlite_schema"), objects);
    TEST_EXPECT_INT(scalar(db, "SELECT count(*) FROM schema_migrations"), qb_migrations_count);
    sqlite3_close(db);
    drop_db();
}

static void test_newer_schema_refused_unchanged(void)
{
    fresh_db();
    sqlite3 *db = NULL;
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(sqlite3_open(dbpath, &db) == SQLITE_OK);
    TEST_ASSERT(migrate_apply(db, NULL, err, sizeof err) == QB_OK);
    TEST_ASSERT(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (4242, 'x', 0)", NULL, NULL,
                             NULL) == SQLITE_OK);
    int objects = scalar(db, "SELECT count(*) FROM sqlite_schema");
    TEST_EXPECT_INT(migrate_apply(db, NULL, err, sizeof err), QB_ERR_TOO_NEW);
    TEST_EXPECT(strstr(err, "schema version 4242") != NULL);
    TEST_EXPECT(strstr(err, "nothing was changed") != NULL);
    TEST_EXPECT_INT(scalar(db, "SELECT count(*) FROM sqlite_schema"), objects);
    sqlite3_close(db);
    drop_db();
}

static void test_failed_migration_rolls_back(void)
{
    /* A table the first migration creates already exists: the migration
     * fails and leaves nothing half-applied. */
    fresh_db();
    sqlite3 *db = NULL;
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(sqlite3_open(dbpath, &db) == SQLITE_OK);
    TEST_ASSERT(sqlite3_exec(db, "CREATE TABLE runs (x)", NULL, NULL, NULL) == SQLITE_OK);
    TEST_EXPECT(migrate_apply(db, NULL, err, sizeof err) != QB_OK);
    TEST_EXPECT(strstr(err, "migration 0001_initial") != NULL);
    TEST_EXPECT_INT(scalar(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'instances'"), 0);
    TEST_EXPECT_INT(scalar(db, "SELECT count(*) FROM schema_migrations"), 0);
    sqlite3_close(db);
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

int main(void)
{
    TEST_RUN(test_migrate_from_zero_and_twice);
    TEST_RUN(test_newer_schema_refused_unchanged);
    TEST_RUN(test_failed_migration_rolls_back);
    TEST_RUN(test_store_pragmas_and_instances);
    TEST_RUN(test_plan_delete_and_trigger_race);
    return TEST_RESULT();
}
