/* SPDX-License-Identifier: Apache-2.0
 *
 * test_pg_conninfo.c -- PostgreSQL connection strings in messages
 * (src/store/pg_conninfo.h): the password is cut out of a message however
 * the connection string carried it, and nothing else is touched.
 */
#include "unit.h"

#include "store/pg_conninfo.h"

static void redact(const char *conninfo, const char *msg, const char *want)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", msg);
    pg_conninfo_redact(conninfo, buf);
    TEST_EXPECT_STR(buf, want);
}

static void test_redact(void)
{
    /* URL userinfo, raw (as a malformed URL's message quotes it). */
    redact("postgresql://qb:s%zzcret@h/db", "invalid percent-encoded token: \"s%zzcret\"",
           "invalid percent-encoded token: \"***\"");
    /* Every occurrence. */
    redact("postgres://u:pw1234@h:5/d", "pw1234 and pw1234", "*** and ***");
    /* Percent-encoded in the URL, decoded in the message. */
    redact("postgres://u:p%40ss@h/d", "got p@ss", "got ***");
    /* A query parameter, and a keyword=value pair, quoted or not. */
    redact("postgresql://u@h/d?sslmode=require&password=hidden1", "x hidden1 y", "x *** y");
    redact("host=h password='two words' port=1", "'two words'", "'***'");
    redact("host=h password=plain port=1", "plain text", "*** text");
    /* Shorter than the mask: as many stars as it had bytes. */
    redact("postgres://u:ab@h/d", "ab-ab", "**-**");
    /* No password: the message is left alone, user and host included. */
    redact("postgres://user@host:5432/db", "user at host:5432/db", "user at host:5432/db");
    redact("host=h dbname=d", "anything", "anything");
}

static void test_target(void)
{
    char buf[64];
    pg_conninfo_target(NULL, buf, sizeof buf);
    TEST_EXPECT_STR(buf, "");
}

int main(void)
{
    TEST_RUN(test_redact);
    TEST_RUN(test_target);
    return TEST_RESULT();
}
