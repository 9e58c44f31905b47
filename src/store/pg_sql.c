/* SPDX-License-Identifier: Apache-2.0
 *
 * pg_sql.c -- "?N" to "$N" for the PostgreSQL backend (pg_sql.h has the
 * rules).  One pass over the text with a small state for quotes and
 * comments; the output is never longer than the input plus three bytes a
 * bare "?" (which can become "$999"), so it is sized up front.
 */
#include "store/pg_sql.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_SQL_MAX_PARAM                                                                           \
    999 /* SQLite's default SQLITE_MAX_VARIABLE_NUMBER is higher; ours is plenty */

/* Copies a quoted run starting at s[i] (the opening quote q) up to and
 * including its closing quote, a doubled quote being part of the run.
 * Returns the index after it, or 0 when unterminated. */
static size_t copy_quoted(const char *s, size_t i, char q, char *o, size_t *oi)
{
    o[(*oi)++] = s[i++];
    for (; s[i]; i++) {
        o[(*oi)++] = s[i];
        if (s[i] == q) {
            if (s[i + 1] != q)
                return i + 1;
            o[(*oi)++] = s[++i];
        }
    }
    return 0;
}

enum qb_err pg_sql_rewrite(const char *sql, char **out, int *nparams, char *err, size_t errlen)
{
    size_t len = strlen(sql), bare = 0;
    for (size_t k = 0; k < len; k++)
        bare += sql[k] == '?';
    char *o = xmalloc(len + 3 * bare + 1);
    size_t i = 0, oi = 0;
    int max = 0;
    const char *why = NULL;
    *out = NULL;
    *nparams = 0;
    while (sql[i] && !why) {
        char c = sql[i];
        if (c == '\'' || c == '"') {
            size_t next = copy_quoted(sql, i, c, o, &oi);
            if (!next)
                why = c == '\'' ? "unterminated string" : "unterminated quoted identifier";
            else
                i = next;
        } else if (c == '-' && sql[i + 1] == '-') {
            size_t end = strcspn(sql + i, "\n");
            memcpy(o + oi, sql + i, end);
            oi += end;
            i += end;
        } else if (c == '/' && sql[i + 1] == '*') {
            const char *end = strstr(sql + i + 2, "*/");
            if (!end) {
                why = "unterminated comment";
                break;
            }
            size_t n = (size_t)(end + 2 - (sql + i));
            memcpy(o + oi, sql + i, n);
            oi += n;
            i += n;
        } else if (c == '$') {
            why = "'$' outside a string (PostgreSQL parameters and quoting)";
        } else if (c == '?') {
            i++;
            long n = 0;
            size_t digits = 0;
            while (isdigit((unsigned char)sql[i]) && digits < 4) {
                n = n * 10 + (sql[i++] - '0');
                digits++;
            }
            if (!digits)
                n = max + 1;
            if (n < 1 || n > PG_SQL_MAX_PARAM || isdigit((unsigned char)sql[i])) {
                why = "parameter number out of range 1..999";
                break;
            }
            if (n > max)
                max = (int)n;
            o[oi++] = '$';
            char num[8];
            size_t nl = (size_t)snprintf(num, sizeof num, "%ld", n);
            memcpy(o + oi, num, nl);
            oi += nl;
        } else {
            o[oi++] = sql[i++];
        }
    }
    if (why) {
        free(o);
        return qb_failf(QB_ERR_INVALID, err, errlen, "SQL for PostgreSQL: %s at byte %zu", why, i);
    }
    o[oi] = '\0';
    *out = o;
    *nparams = max;
    return QB_OK;
}
