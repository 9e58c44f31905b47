/* SPDX-License-Identifier: Apache-2.0
 *
 * chatops.h -- the pure parts of chat-ops (api/api_chatops.c serves the
 * route): reading a Slack slash command's form body, the slack_users
 * setting (who may do what), and the command grammar.  No I/O, no state.
 *
 * slack_users is "user_id:role:plans,...": role is viewer or operator
 * (admin work is never done from chat), plans a |-separated list of plan
 * names or "*".  A user absent from it may do nothing.
 *
 * Commands (the slash command's text):
 *
 *     status                                   viewer
 *     snapshots <plan>                         viewer
 *     run <plan>                               operator
 *     restore <plan> <collection> [latest|<snapshot id>] confirm   operator
 *
 * A restore replaces the collection (overwrite, with a safety snapshot),
 * so it needs the trailing word "confirm"; without it nothing is done.
 */
#ifndef QB_NOTIFY_CHATOPS_H
#define QB_NOTIFY_CHATOPS_H

#include "common.h"
#include "http/auth.h"

#define CHATOPS_ARG_MAX 200

/* The value of key in an application/x-www-form-urlencoded body, decoded
 * ('+' and %XX); NULL when absent or when it decodes to a NUL byte.
 * Caller frees. */
char *chatops_form_get(const char *body, size_t len, const char *key);

/* Checks the syntax of a slack_users setting: QB_ERR_INVALID naming the
 * entry otherwise. */
enum qb_err chatops_users_check(const char *users, char *err, size_t errlen) QB_MUSTCHECK;

/* The role of user_id in users (AUTH_ROLE_PUBLIC when absent) and whether
 * that entry allows plan (NULL plan: any listed entry does). */
enum auth_role chatops_user_role(const char *users, const char *user_id);
bool chatops_user_plan_ok(const char *users, const char *user_id, const char *plan);

enum chatops_verb { CHATOPS_HELP, CHATOPS_STATUS, CHATOPS_SNAPSHOTS, CHATOPS_RUN, CHATOPS_RESTORE };

struct chatops_command {
    enum chatops_verb verb;
    char plan[CHATOPS_ARG_MAX + 1];
    char collection[CHATOPS_ARG_MAX + 1];
    int64_t snapshot_id; /* restore: 0 = latest */
    bool confirmed;      /* restore: ended in "confirm" */
};

/* Parses text into *c: QB_OK, or QB_ERR_INVALID with the usage in err
 * (an empty text or "help" is CHATOPS_HELP). */
enum qb_err chatops_parse(const char *text, struct chatops_command *c, char *err,
                          size_t errlen) QB_MUSTCHECK;

/* The role a verb needs. */
enum auth_role chatops_verb_role(enum chatops_verb v);

#endif /* QB_NOTIFY_CHATOPS_H */
