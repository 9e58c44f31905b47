/* SPDX-License-Identifier: Apache-2.0
 *
 * test_pg_sql.c -- "?N" to "$N" (src/store/pg_sql.h): a table of SQL texts
 * and what PostgreSQL must be sent, including the quoting and comment
 * cases where a '?' is text, and the texts that must be refused.
 */
#include "unit.h"

#include "common.h"
#include "store/pg_sql.h"

#include <stdlib.h>

static void test_rewrites(void)
{
    static const struct {
        const char *in, *out;
        int nparams;
    } cases[] = {
        {"SELECT 1", "SELECT 1", 0},
        {"SELECT id FROM runs WHERE id = ?1", "SELECT id FROM runs WHERE id = $1", 1},
        {"UPDATE runs SET state = ?2 WHERE id = ?1 AND worker = ?1",
         "UPDATE runs SET state = $2 WHERE id = $1 AND worker = $1", 2},
        {"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
         "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", 10},
        /* bare ? numbered as SQLite does: one above the largest so far */
        {"SELECT ?, ?, ?5, ?", "SELECT $1, $2, $5, $6", 6},
        /* text, not parameters */
        {"SELECT '?1', 'it''s ?', \"we?rd\" FROM t WHERE a = ?1",
         "SELECT '?1', 'it''s ?', \"we?rd\" FROM t WHERE a = $1", 1},
        {"SELECT 1 -- why ?2\nFROM t WHERE a = ?1", "SELECT 1 -- why ?2\nFROM t WHERE a = $1", 1},
        {"SELECT /* ?3 */ ?1", "SELECT /* ?3 */ $1", 1},
        {"SELECT 1 -- trailing ?", "SELECT 1 -- trailing ?", 0},
        {"WHERE ?999 = 1", "WHERE $999 = 1", 999},
        {"", "", 0},
    };
    for (size_t k = 0; k < QB_ARRAY_LEN(cases); k++) {
        char *out = NULL, err[QB_ERRBUF_SIZE] = "";
        int n = -1;
        enum qb_err rc = pg_sql_rewrite(cases[k].in, &out, &n, err, sizeof err);
        TEST_EXPECT_INT(rc, QB_OK);
        if (rc)
            fprintf(stderr, "  case %zu: %s\n", k, err);
        TEST_EXPECT_STR(out, cases[k].out);
        TEST_EXPECT_INT(n, cases[k].nparams);
        free(out);
    }
}

static void test_refusals(void)
{
    static const struct {
        const char *in, *why;
    } cases[] = {
        {"SELECT ?0", "out of range"},
        {"SELECT ?1000", "out of range"},
        {"SELECT ?12345", "out of range"},
        {"SELECT 'open", "unterminated string"},
        {"SELECT \"open", "unterminated quoted identifier"},
        {"SELECT 1 /* open", "unterminated comment"},
        {"SELECT $1", "'$'"},
        {"SELECT $$x$$", "'$'"},
    };
    for (size_t k = 0; k < QB_ARRAY_LEN(cases); k++) {
        static char unset[] = "unset";
        char *out = unset, err[QB_ERRBUF_SIZE] = "";
        int n = -1;
        TEST_EXPECT_INT(pg_sql_rewrite(cases[k].in, &out, &n, err, sizeof err), QB_ERR_INVALID);
        TEST_EXPECT(out == NULL);
        TEST_EXPECT(strstr(err, cases[k].why) != NULL);
        if (!strstr(err, cases[k].why))
            fprintf(stderr, "  case %zu: %s\n", k, err);
    }
}

int main(void)
{
    TEST_RUN(test_rewrites);
    TEST_RUN(test_refusals);
    return TEST_RESULT();
}
