/* SPDX-License-Identifier: Apache-2.0
 *
 * test_pg_stmt_cache.c -- the PostgreSQL engine's prepared statement names
 * (src/store/pg_stmt_cache.h): hits, fresh names, least-recently-used
 * eviction at capacity, and clearing after a reconnect.
 */
#include "unit.h"

#include "store/pg_stmt_cache.h"

static void test_find_add(void)
{
    struct pg_stmt_cache *sc = pg_stmt_cache_new(4);
    char name[PG_STMT_NAME_MAX], other[PG_STMT_NAME_MAX];
    TEST_EXPECT(pg_stmt_cache_find(sc, "i\nSELECT $1") == NULL);
    TEST_EXPECT(!pg_stmt_cache_evict(sc, name));
    pg_stmt_cache_new_name(sc, name);
    pg_stmt_cache_add(sc, "i\nSELECT $1", name);
    TEST_EXPECT_STR(pg_stmt_cache_find(sc, "i\nSELECT $1"), name);
    /* The same text with other parameter types is another statement. */
    TEST_EXPECT(pg_stmt_cache_find(sc, "u\nSELECT $1") == NULL);
    pg_stmt_cache_new_name(sc, other);
    TEST_EXPECT(strcmp(name, other) != 0);
    pg_stmt_cache_add(sc, "u\nSELECT $1", other);
    TEST_EXPECT_STR(pg_stmt_cache_find(sc, "u\nSELECT $1"), other);
    TEST_EXPECT_INT(pg_stmt_cache_count(sc), 2);
    pg_stmt_cache_free(sc);
    pg_stmt_cache_free(NULL);
}

static void test_lru_eviction(void)
{
    struct pg_stmt_cache *sc = pg_stmt_cache_new(3);
    char names[4][PG_STMT_NAME_MAX], ev[PG_STMT_NAME_MAX];
    const char *keys[] = {"a", "b", "c", "d"};
    for (int i = 0; i < 3; i++) {
        pg_stmt_cache_new_name(sc, names[i]);
        pg_stmt_cache_add(sc, keys[i], names[i]);
    }
    TEST_EXPECT(pg_stmt_cache_find(sc, "a") != NULL); /* a used: b is now the oldest */
    TEST_EXPECT(pg_stmt_cache_evict(sc, ev));
    TEST_EXPECT_STR(ev, names[1]);
    TEST_EXPECT(pg_stmt_cache_find(sc, "b") == NULL);
    TEST_EXPECT(!pg_stmt_cache_evict(sc, ev)); /* room again */
    pg_stmt_cache_new_name(sc, names[3]);
    pg_stmt_cache_add(sc, "d", names[3]);
    TEST_EXPECT(pg_stmt_cache_evict(sc, ev));
    TEST_EXPECT_STR(ev, names[2]);
    TEST_EXPECT_STR(pg_stmt_cache_find(sc, "a"), names[0]);
    TEST_EXPECT_STR(pg_stmt_cache_find(sc, "d"), names[3]);
    pg_stmt_cache_free(sc);
}

static void test_clear(void)
{
    struct pg_stmt_cache *sc = pg_stmt_cache_new(2);
    char a[PG_STMT_NAME_MAX], b[PG_STMT_NAME_MAX];
    pg_stmt_cache_new_name(sc, a);
    pg_stmt_cache_add(sc, "x", a);
    pg_stmt_cache_clear(sc);
    TEST_EXPECT_INT(pg_stmt_cache_count(sc), 0);
    TEST_EXPECT(pg_stmt_cache_find(sc, "x") == NULL);
    /* Names are never reused, even after a clear. */
    pg_stmt_cache_new_name(sc, b);
    TEST_EXPECT(strcmp(a, b) != 0);
    pg_stmt_cache_free(sc);
}

int main(void)
{
    TEST_RUN(test_find_add);
    TEST_RUN(test_lru_eviction);
    TEST_RUN(test_clear);
    return TEST_RESULT();
}
