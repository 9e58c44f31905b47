/* SPDX-License-Identifier: Apache-2.0
 *
 * chatops.c -- form bodies, the slack_users setting and the command
 * grammar of chat-ops (see chatops.h).
 */
#include "notify/chatops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *chatops_form_get(const char *body, size_t len, const char *key)
{
    size_t klen = strlen(key);
    const char *p = body, *end = body + len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
            const char *v = p + klen + 1;
            char *out = xmalloc((size_t)(stop - v) + 1);
            size_t n = 0;
            for (const char *q = v; q < stop; q++) {
                int hi, lo;
                if (*q == '+') {
                    out[n++] = ' ';
                } else if (*q == '%' && stop - q >= 3 && (hi = qb_hexval(q[1])) >= 0 &&
                           (lo = qb_hexval(q[2])) >= 0) {
                    out[n++] = (char)(hi * 16 + lo);
                    q += 2;
                } else {
                    out[n++] = *q;
                }
            }
            out[n] = '\0';
            if (strlen(out) != n) { /* an encoded NUL: refuse rather than truncate */
                free(out);
                return NULL;
            }
            return out;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

/* Finds user_id's entry; *role_s, *plans_s point into users (lengths in
 * *role_n, *plans_n).  False when absent. */
static bool find_user(const char *users, const char *user_id, const char **role_s, size_t *role_n,
                      const char **plans_s, size_t *plans_n)
{
    size_t ulen = strlen(user_id);
    const char *p = users;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *c1 = memchr(p, ':', n);
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(p + n - c1 - 1)) : NULL;
        if (c2 && (size_t)(c1 - p) == ulen && ulen && memcmp(p, user_id, ulen) == 0) {
            *role_s = c1 + 1;
            *role_n = (size_t)(c2 - c1 - 1);
            *plans_s = c2 + 1;
            *plans_n = (size_t)(p + n - c2 - 1);
            return true;
        }
        p = comma ? comma + 1 : NULL;
    }
    return false;
}

static enum auth_role role_of(const char *s, size_t n)
{
    if (n == 6 && memcmp(s, "viewer", 6) == 0)
        return AUTH_ROLE_VIEWER;
    if (n == 8 && memcmp(s, "operator", 8) == 0)
        return AUTH_ROLE_OPERATOR;
    return AUTH_ROLE_PUBLIC;
}

enum qb_err chatops_users_check(const char *users, char *err, size_t errlen)
{
    const char *p = users;
    int i = 0;
    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        const char *c1 = memchr(p, ':', n);
        const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(p + n - c1 - 1)) : NULL;
        if (!c2 || c1 == p || c2 + 1 == p + n ||
            role_of(c1 + 1, (size_t)(c2 - c1 - 1)) == AUTH_ROLE_PUBLIC)
            return qb_failf(QB_ERR_INVALID, err, errlen,
                            "slack_users: entry %d is not user_id:viewer|operator:plan|plan|* ",
                            i + 1);
        p = comma ? comma + 1 : NULL;
        i++;
    }
    return QB_OK;
}

enum auth_role chatops_user_role(const char *users, const char *user_id)
{
    const char *r, *pl;
    size_t rn, pn;
    if (!users || !user_id || !find_user(users, user_id, &r, &rn, &pl, &pn))
        return AUTH_ROLE_PUBLIC;
    return role_of(r, rn);
}

bool chatops_user_plan_ok(const char *users, const char *user_id, const char *plan)
{
    const char *r, *pl;
    size_t rn, pn;
    if (!users || !user_id || !find_user(users, user_id, &r, &rn, &pl, &pn))
        return false;
    if (!plan)
        return true;
    size_t len = strlen(plan);
    const char *p = pl, *end = pl + pn;
    while (p < end) {
        const char *bar = memchr(p, '|', (size_t)(end - p));
        size_t n = bar ? (size_t)(bar - p) : (size_t)(end - p);
        if ((n == 1 && *p == '*') || (n == len && memcmp(p, plan, len) == 0))
            return true;
        p += n + 1;
    }
    return false;
}

/* Copies the next blank-separated word of *s into out; false at the end
 * or when the word is longer than CHATOPS_ARG_MAX. */
static bool next_word(const char **s, char out[CHATOPS_ARG_MAX + 1], bool *too_long)
{
    const char *p = *s;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strcspn(p, " \t");
    *s = p + n;
    if (n == 0)
        return false;
    if (n > CHATOPS_ARG_MAX) {
        *too_long = true;
        return false;
    }
    memcpy(out, p, n);
    out[n] = '\0';
    return true;
}

#define USAGE                                                                                      \
    "usage: status | snapshots <plan> | run <plan> | restore <plan> <collection> "                 \
    "[latest|<snapshot id>] confirm"

enum qb_err chatops_parse(const char *text, struct chatops_command *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    char verb[CHATOPS_ARG_MAX + 1], extra[CHATOPS_ARG_MAX + 1];
    bool too_long = false;
    const char *s = text ? text : "";
    if (!next_word(&s, verb, &too_long)) {
        c->verb = CHATOPS_HELP;
        return too_long ? qb_failf(QB_ERR_INVALID, err, errlen, USAGE) : QB_OK;
    }
    if (strcmp(verb, "help") == 0) {
        c->verb = CHATOPS_HELP;
    } else if (strcmp(verb, "status") == 0) {
        c->verb = CHATOPS_STATUS;
    } else if (strcmp(verb, "snapshots") == 0 || strcmp(verb, "run") == 0) {
        c->verb = verb[0] == 's' ? CHATOPS_SNAPSHOTS : CHATOPS_RUN;
        if (!next_word(&s, c->plan, &too_long))
            return qb_failf(QB_ERR_INVALID, err, errlen, "usage: %s <plan>", verb);
    } else if (strcmp(verb, "restore") == 0) {
        c->verb = CHATOPS_RESTORE;
        if (!next_word(&s, c->plan, &too_long) || !next_word(&s, c->collection, &too_long))
            return qb_failf(QB_ERR_INVALID, err, errlen, USAGE);
        /* Then optionally latest|<id>, then optionally confirm. */
        char w[CHATOPS_ARG_MAX + 1];
        while (next_word(&s, w, &too_long)) {
            char *end = NULL;
            long long id = strtoll(w, &end, 10);
            if (strcmp(w, "confirm") == 0 && !c->confirmed)
                c->confirmed = true;
            else if (!c->confirmed && strcmp(w, "latest") == 0 && !c->snapshot_id)
                continue;
            else if (!c->confirmed && !c->snapshot_id && end != w && !*end && id > 0)
                c->snapshot_id = id;
            else
                return qb_failf(QB_ERR_INVALID, err, errlen, USAGE);
        }
    } else {
        return qb_failf(QB_ERR_INVALID, err, errlen, "unknown command \"%.40s\"; " USAGE, verb);
    }
    if (too_long || next_word(&s, extra, &too_long))
        return qb_failf(QB_ERR_INVALID, err, errlen, USAGE);
    return QB_OK;
}

enum auth_role chatops_verb_role(enum chatops_verb v)
{
    return v == CHATOPS_RUN || v == CHATOPS_RESTORE ? AUTH_ROLE_OPERATOR : AUTH_ROLE_VIEWER;
}
