/* SPDX-License-Identifier: Apache-2.0
 *
 * collsel.c -- owns the glob matcher and the selection rule of a plan's
 * collections (collsel.h).
 *
 * DESIGN
 * The matcher is the classic two-pointer walk: on `*` remember where the
 * star was and how much of the name it has eaten; on a mismatch give the
 * last star one more character and retry from there.  Only the last star
 * needs remembering, because a later star can absorb whatever an earlier
 * one would have, so the walk never backtracks further and needs no
 * recursion.
 */
#include "engine/collsel.h"

#include <stdlib.h>
#include <string.h>

bool collsel_is_pattern(const char *s)
{
    return s && strpbrk(s, "*?") != NULL;
}

bool collsel_match(const char *pattern, const char *name)
{
    const char *p = pattern, *s = name;
    const char *star = NULL, *resume = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            resume = s;
        } else if (*p == '?' || *p == *s) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++resume;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return *p == '\0';
}

enum qb_err collsel_pattern_check(const char *pattern, char *err, size_t errlen)
{
    if (strstr(pattern, "**"))
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "\"**\" means nothing here: collection names have no path segments, "
                        "so \"*\" already matches any run of characters");
    return QB_OK;
}

static bool matches_any(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (collsel_is_pattern(list[i]) ? collsel_match(list[i], name) : strcmp(list[i], name) == 0)
            return true;
    return false;
}

static bool contains(char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

static bool listed(const char *const *include, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!collsel_is_pattern(include[i]) && strcmp(include[i], name) == 0)
            return true;
    return false;
}

void collsel_resolve(const char *const *include, size_t n_include, const char *const *exclude,
                     size_t n_exclude, const char *const *have, size_t n_have, char ***out,
                     size_t *n_out)
{
    char **sel = NULL;
    size_t n = 0;
    for (size_t i = 0; i < n_include; i++) {
        bool pattern = collsel_is_pattern(include[i]);
        for (size_t k = 0; k < (pattern ? n_have : 1); k++) {
            const char *name = pattern ? have[k] : include[i];
            if (pattern && !collsel_match(include[i], name))
                continue;
            /* A pattern adds only what no entry chose already; a listed
             * name is taken as listed (the API refuses twins, and a plan
             * stored with one before keeps backing it up as it did). */
            if (pattern && (contains(sel, n, name) || listed(include, n_include, name)))
                continue;
            if (matches_any(exclude, n_exclude, name))
                continue;
            sel = xrealloc(sel, (n + 1) * sizeof *sel);
            sel[n++] = xstrdup(name);
        }
    }
    *out = sel;
    *n_out = n;
}

void collsel_free(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
