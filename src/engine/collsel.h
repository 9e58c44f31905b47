/* SPDX-License-Identifier: Apache-2.0
 *
 * collsel.h -- collection selection: which of an instance's collections a
 * plan's `collections` (names and glob patterns) and `exclude` lists pick
 * at run time.  Public to api/ (which checks patterns when a plan is
 * written) and used by the backup job.  Pure: no I/O, no globals, so any
 * thread may call it.
 *
 * A pattern is an entry holding `*` (any run of characters, also none) or
 * `?` (one byte).  Qdrant refuses both in collection names, so an entry
 * is a pattern or a name, never ambiguous, and plans written before
 * patterns existed keep their meaning.  Nothing else is special: `[`,
 * `!` and `\` are ordinary name characters in Qdrant.
 */
#ifndef QB_COLLSEL_H
#define QB_COLLSEL_H

#include "common.h"

#include <stdbool.h>
#include <stddef.h>

/* True when s holds `*` or `?`. */
bool collsel_is_pattern(const char *s);

/* True when name matches pattern as a whole (`*`, `?`, others literal,
 * case-sensitive like Qdrant's names).  Linear in the lengths times the
 * number of `*` at worst: no recursion, so no pattern can blow the stack. */
bool collsel_match(const char *pattern, const char *name);

/* QB_OK for a usable pattern; QB_ERR_INVALID with a reason (no field
 * name: the caller adds it) for `**` (collection names have no path
 * segments, so it can only be a mistake).  Checks only what is particular
 * to patterns; the caller checks the characters as for a name. */
enum qb_err collsel_pattern_check(const char *pattern, char *err, size_t errlen) QB_MUSTCHECK;

/* The selection, in this order: the entries of include in their order,
 * a name as itself and a pattern as the matching names of `have` (in
 * `have`'s order) that no other entry chose; then every name matching an
 * entry of exclude (a name or a pattern) is removed.  A name listed twice
 * is kept twice (plans stored before twins were refused run as before).  A listed name is selected
 * even when `have` lacks it (its run then fails it in words, as before
 * patterns).  include and exclude are arrays of n_include / n_exclude
 * strings; `have` the instance's names.  All borrowed for the call.
 * *out receives a new array of *n_out copies; caller frees it with
 * collsel_free.  Cannot fail. */
void collsel_resolve(const char *const *include, size_t n_include, const char *const *exclude,
                     size_t n_exclude, const char *const *have, size_t n_have, char ***out,
                     size_t *n_out);

void collsel_free(char **names, size_t n);

#endif /* QB_COLLSEL_H */
