/* SPDX-License-Identifier: Apache-2.0
 *
 * test_store_ids.c -- snapshot and run ids are never reused (migration
 * 0007): a fresh catalogue hands out a new id after the newest row was
 * deleted; a catalogue written by schema 6 keeps every row, column,
 * reference and index through the table rebuild, and its id sequence
 * starts above the largest snapshot id its runs remember; and the
 * migrator leaves foreign keys as it found them and refuses to leave new
 * dangling references (old ones stay, as they were).
 */
#include "unit.h"
#include "store/db.h"
#include "store/migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dbpath[64];

/* A connection as the store opens one (db.h), but without foreign keys,
 * as a plain sqlite3 handle (an older qbackupd's, or a tool's) has. */
static struct db_conn *fresh_db(void)
{
    char err[QB_ERRBUF_SIZE];
    snprintf(dbpath, sizeof dbpath, "/tmp/qbackup-unit-ids-XXXXXX");
    int fd = mkstemp(dbpath);
    if (fd >= 0)
        close(fd);
    unlink(dbpath);
    struct db_conn *db = NULL;
    if (db_open(dbpath, &db, err, sizeof err) != QB_OK ||
        db_exec(db, "PRAGMA foreign_keys = OFF", err, sizeof err) != QB_OK) {
        fprintf(stderr, "fresh_db: %s\n", err);
        db_close(db);
        return NULL;
    }
    return db;
}

static void drop_db(struct db_conn *db)
{
    char p[96];
    db_close(db);
    unlink(dbpath);
    snprintf(p, sizeof p, "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", dbpath);
    unlink(p);
}

static long long scalar(struct db_conn *db, const char *sql)
{
    struct db_stmt *st = NULL;
    char err[QB_ERRBUF_SIZE] = "no row";
    bool row = false;
    long long v = -1;
    if (db_prepare(db, sql, &st, err, sizeof err) == QB_OK &&
        db_step(st, &row, sql, err, sizeof err) == QB_OK && row)
        v = db_column_int64(st, 0);
    else
        fprintf(stderr, "scalar(%s): %s\n", sql, err);
    db_finalize(st);
    return v;
}

/* QB_OK, or the error (printed). */
static int exec(struct db_conn *db, const char *sql)
{
    char err[QB_ERRBUF_SIZE];
    enum qb_err rc = db_exec(db, sql, err, sizeof err);
    if (rc != QB_OK)
        fprintf(stderr, "exec: %s\n", err);
    return rc;
}

/* The id the connection's last INSERT gave its row. */
static long long last_id(struct db_conn *db)
{
    return scalar(db, "SELECT last_insert_rowid()");
}

/* Applies the embedded migrations up to and including version `upto`,
 * recording each, as an older qbackupd would have. */
static bool migrate_upto(struct db_conn *db, int upto)
{
    char err[QB_ERRBUF_SIZE];
    int version = 0;
    if (migrate_current_version(db, &version, err, sizeof err) != QB_OK)
        return false;
    for (int i = 0; i < qb_migrations_count && qb_migrations[i].version <= upto; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "INSERT INTO schema_migrations VALUES (%d, '%s', 0)",
                 qb_migrations[i].version, qb_migrations[i].name);
        if (exec(db, qb_migrations[i].sql) != QB_OK || exec(db, sql) != QB_OK)
            return false;
    }
    return true;
}

static const char parents[] =
    "INSERT INTO instances (id, name, url, created_at, updated_at) "
    "VALUES (1, 'default', 'http://q:6333', 0, 0);"
    "INSERT INTO destinations (id, name, kind, created_at, updated_at) "
    "VALUES (1, 'local', 'local', 0, 0);"
    "INSERT INTO plans (id, name, instance_id, destination_id, scope, collections, created_at, "
    "updated_at) VALUES (1, 'nightly', 1, 1, 'collections', '[\"c\"]', 0, 0);";

/* A snapshot row of run `run` (0: none) with id `id` (0: let SQLite
 * choose). */
static int add_snapshot(struct db_conn *db, long long id, long long run)
{
    static int serial;
    char sql[640], idtext[32], runtext[32];
    snprintf(idtext, sizeof idtext, id ? "%lld" : "NULL", id);
    snprintf(runtext, sizeof runtext, run ? "%lld" : "NULL", run);
    snprintf(sql, sizeof sql,
             "INSERT INTO snapshots (id, plan_id, run_id, instance_id, instance_name, "
             "destination_id, kind, collection, qdrant_name, location, size_bytes, sha256, "
             "created_at, storage_key) VALUES (%s, 1, %s, 1, 'default', 1, 'collection', 'c', "
             "'c.snapshot', '/b/%d', 1, printf('%%064d', 0), 0, 'k%lld')",
             idtext, runtext, ++serial, id);
    return exec(db, sql);
}

/* Create, delete the newest, create: the id is new (before 0007 SQLite
 * handed out max(id) + 1, the deleted one's id, again). */
static void test_fresh_catalogue_never_reuses_ids(void)
{
    struct db_conn *db = fresh_db();
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(db != NULL);
    TEST_ASSERT(migrate_apply(db, NULL, err, sizeof err) == QB_OK);
    TEST_ASSERT(exec(db, parents) == QB_OK);
    TEST_ASSERT(exec(db, "INSERT INTO runs (kind, plan_id, trigger, queued_at) "
                         "VALUES ('backup', 1, 'api', 0)") == QB_OK);
    long long run = last_id(db);
    TEST_ASSERT(add_snapshot(db, 0, run) == QB_OK);
    long long first = last_id(db);
    TEST_ASSERT(exec(db, "DELETE FROM snapshots") == QB_OK);
    TEST_ASSERT(add_snapshot(db, 0, run) == QB_OK);
    long long second = last_id(db);
    TEST_EXPECT(second > first);

    TEST_ASSERT(exec(db, "DELETE FROM snapshots; DELETE FROM runs") == QB_OK);
    TEST_ASSERT(exec(db, "INSERT INTO runs (kind, trigger, queued_at) "
                         "VALUES ('restore', 'api', 0)") == QB_OK);
    TEST_EXPECT(last_id(db) > run);
    drop_db(db);
}

static const char *const indexes[] = {
    "runs_plan_queued",
    "runs_queued",
    "runs_active",
    "runs_idempotency",
    "runs_plan_slot",
    "runs_instance_active",
    "snapshots_plan_target",
    "snapshots_instance_target",
    "snapshots_created",
    "snapshots_run",
    "snapshots_destination_key",
};

/* A schema-6 catalogue with data goes through the rebuild intact. */
static void test_rebuild_keeps_rows_references_and_indexes(void)
{
    struct db_conn *db = fresh_db();
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(db != NULL);
    TEST_ASSERT(exec(db, "PRAGMA foreign_keys = ON") == QB_OK);
    TEST_ASSERT(migrate_upto(db, 6));
    TEST_ASSERT(exec(db, parents) == QB_OK);
    /* Run 7 took snapshot 12 (deleted since) and recorded it; restore run
     * 8 restored snapshot 15 (deleted since); snapshot 5 remains. */
    TEST_ASSERT(exec(db, "INSERT INTO runs (id, kind, plan_id, plan_name, trigger, state, "
                         "results, queued_at, scheduled_for, inflight, worker, instance_id) "
                         "VALUES (7, 'backup', 1, 'nightly', 'schedule', 'succeeded', "
                         "'[{\"collection\":\"c\",\"snapshot_id\":12},{\"collection\":\"d\"}]', "
                         "100, 90, '{\"instance\":\"default\"}', 2, 1)") == QB_OK);
    TEST_ASSERT(exec(db,
                     "INSERT INTO runs (id, kind, trigger, request, results, queued_at) "
                     "VALUES (8, 'restore', 'api', '{\"snapshot_id\":15}', '[]', 200)") == QB_OK);
    TEST_ASSERT(add_snapshot(db, 5, 7) == QB_OK);
    TEST_ASSERT(exec(db, "UPDATE snapshots SET verified_at = 123, layout = 'shards', "
                         "backup_set = '{\"shards\":[]}', pinned = 1 WHERE id = 5") == QB_OK);

    int applied = 0;
    TEST_ASSERT(migrate_apply(db, &applied, err, sizeof err) == QB_OK);
    TEST_EXPECT(applied >= 1);
    /* Every row and column survived, and snapshot 5 still points at run 7
     * (dropping the old runs table must not fire ON DELETE SET NULL). */
    TEST_EXPECT_INT(scalar(db, "SELECT count(*) FROM runs"), 2);
    TEST_EXPECT_INT(scalar(db, "SELECT run_id FROM snapshots WHERE id = 5"), 7);
    TEST_EXPECT_INT(scalar(db, "SELECT verified_at FROM snapshots WHERE id = 5"), 123);
    TEST_EXPECT_INT(scalar(db, "SELECT pinned FROM snapshots WHERE id = 5"), 1);
    TEST_EXPECT_INT(scalar(db, "SELECT layout = 'shards' AND storage_key = 'k5' "
                               "AND backup_set IS NOT NULL FROM snapshots WHERE id = 5"),
                    1);
    TEST_EXPECT_INT(scalar(db, "SELECT scheduled_for + worker + instance_id FROM runs "
                               "WHERE id = 7"),
                    93);
    TEST_EXPECT_INT(scalar(db, "SELECT json_extract(inflight, '$.instance') = 'default' "
                               "FROM runs WHERE id = 7"),
                    1);
    for (size_t i = 0; i < sizeof indexes / sizeof *indexes; i++) {
        char sql[160];
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_schema WHERE type = 'index' "
                 "AND name = '%s'",
                 indexes[i]);
        if (scalar(db, sql) != 1)
            fprintf(stderr, "index %s missing\n", indexes[i]);
        TEST_EXPECT_INT(scalar(db, sql), 1);
    }
    /* Constraints came along: a duplicate location is still refused. */
    TEST_EXPECT(db_exec(db,
                        "INSERT INTO snapshots (plan_id, run_id, instance_name, "
                        "destination_id, kind, collection, qdrant_name, location, size_bytes, "
                        "sha256, created_at) SELECT plan_id, run_id, instance_name, "
                        "destination_id, kind, collection, qdrant_name, location, size_bytes, "
                        "sha256, created_at FROM snapshots WHERE id = 5",
                        err, sizeof err) == QB_ERR_CONFLICT);
    /* The next snapshot id is above 15, the largest the runs remember;
     * the next run id above 8. */
    TEST_ASSERT(add_snapshot(db, 0, 7) == QB_OK);
    TEST_EXPECT(last_id(db) > 15);
    TEST_ASSERT(exec(db, "INSERT INTO runs (kind, trigger, queued_at) "
                         "VALUES ('backup', 'api', 300)") == QB_OK);
    TEST_EXPECT(last_id(db) > 8);
    /* Foreign keys are enforced again, and nothing dangles. */
    TEST_EXPECT_INT(scalar(db, "PRAGMA foreign_keys"), 1);
    TEST_EXPECT_INT(scalar(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    TEST_EXPECT(db_exec(db, "DELETE FROM destinations", err, sizeof err) == QB_ERR_CONFLICT);
    TEST_ASSERT(exec(db, "DELETE FROM runs WHERE id = 7") == QB_OK);
    TEST_EXPECT_INT(scalar(db, "SELECT run_id IS NULL FROM snapshots WHERE id = 5"), 1);
    drop_db(db);
}

/* An empty schema-6 catalogue migrates too (no sequence row to raise),
 * and a connection that did not enforce foreign keys still does not. */
static void test_rebuild_of_an_empty_catalogue(void)
{
    struct db_conn *db = fresh_db();
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(db != NULL);
    TEST_ASSERT(migrate_upto(db, 6));
    TEST_ASSERT(migrate_apply(db, NULL, err, sizeof err) == QB_OK);
    TEST_EXPECT_INT(scalar(db, "PRAGMA foreign_keys"), 0);
    TEST_ASSERT(exec(db, parents) == QB_OK);
    TEST_ASSERT(add_snapshot(db, 0, 0) == QB_OK);
    TEST_EXPECT_INT(last_id(db), 1);
    drop_db(db);
}

/* A dangling reference that was there before (qbackupd never writes one)
 * neither stops the migration nor gets lost. */
static void test_old_dangling_reference_survives(void)
{
    struct db_conn *db = fresh_db();
    char err[QB_ERRBUF_SIZE];
    TEST_ASSERT(db != NULL);
    TEST_ASSERT(migrate_upto(db, 6));
    TEST_ASSERT(exec(db, parents) == QB_OK);
    /* Written with enforcement off, as a broken tool might. */
    TEST_ASSERT(add_snapshot(db, 3, 99) == QB_OK);
    TEST_ASSERT(exec(db, "PRAGMA foreign_keys = ON") == QB_OK);
    TEST_EXPECT_INT(migrate_apply(db, NULL, err, sizeof err), QB_OK);
    TEST_EXPECT_INT(scalar(db, "SELECT max(version) FROM schema_migrations"),
                    migrate_latest_version());
    TEST_EXPECT_INT(scalar(db, "SELECT run_id FROM snapshots WHERE id = 3"), 99);
    TEST_EXPECT_INT(scalar(db, "PRAGMA foreign_keys"), 1);
    drop_db(db);
}

int main(void)
{
    TEST_RUN(test_fresh_catalogue_never_reuses_ids);
    TEST_RUN(test_rebuild_keeps_rows_references_and_indexes);
    TEST_RUN(test_rebuild_of_an_empty_catalogue);
    TEST_RUN(test_old_dangling_reference_survives);
    return TEST_RESULT();
}
