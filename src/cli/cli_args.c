/* SPDX-License-Identifier: Apache-2.0
 *
 * cli_args.c -- parses `qbackup`'s command line with one table of options.
 * "--name value" and "--name=value" are both accepted; "--" ends the
 * options.  --wait takes its seconds only in the "=" form so that
 * `run PLAN --wait` never swallows a following word.
 */
#include "cli/cli_args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum opt_kind {
    OPT_FLAG, /* sets a bool */
    OPT_STR,  /* takes a value */
    OPT_LONG, /* takes a non-negative integer */
};

struct opt {
    const char *name; /* without the leading "--" */
    enum opt_kind kind;
    size_t offset; /* of the field in struct cli_args */
    long max;      /* OPT_LONG: largest value accepted */
};

#define F(field) offsetof(struct cli_args, field)
static const struct opt opts[] = {
    {"url", OPT_STR, F(url), 0},
    {"token", OPT_STR, F(token), 0},
    {"json", OPT_FLAG, F(json), 0},
    {"help", OPT_FLAG, F(help), 0},
    {"version", OPT_FLAG, F(version), 0},
    {"timeout", OPT_LONG, F(timeout_s), 86400},
    {"key", OPT_STR, F(key), 0},
    {"plan", OPT_STR, F(plan), 0},
    {"snapshot", OPT_STR, F(snapshot), 0},
    {"to", OPT_STR, F(to), 0},
    {"as", OPT_STR, F(as), 0},
    {"state", OPT_STR, F(state), 0},
    {"kind", OPT_STR, F(kind), 0},
    {"overwrite", OPT_FLAG, F(overwrite), 0},
    {"label", OPT_STR, F(label), 0},
    {"keep-until", OPT_STR, F(keep_until), 0},
    {"pin", OPT_FLAG, F(pin), 0},
    {"limit", OPT_LONG, F(limit), 1000},
};
#undef F

static bool parse_long(const char *s, long max, long *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static const struct opt *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < QB_ARRAY_LEN(opts); i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

/* --wait and --wait=SECONDS. */
static enum qb_err parse_wait(const char *eq, struct cli_args *a, char *err, size_t errlen)
{
    a->wait = true;
    if (eq && !parse_long(eq + 1, CLI_DEFAULT_WAIT_S, &a->wait_s))
        return qb_failf(QB_ERR_INVALID, err, errlen, "--wait: seconds must be 0-%d, got \"%s\"",
                        CLI_DEFAULT_WAIT_S, eq + 1);
    return QB_OK;
}

/* One "--name[=value]" at argv[*i]; advances *i past a separate value. */
static enum qb_err parse_option(int argc, char **argv, int *i, struct cli_args *a, char *err,
                                size_t errlen)
{
    const char *name = argv[*i] + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    if (len == 4 && strncmp(name, "wait", 4) == 0)
        return parse_wait(eq, a, err, errlen);
    const struct opt *o = find_opt(name, len);
    if (!o)
        return qb_failf(QB_ERR_INVALID, err, errlen, "unknown option \"%s\"", argv[*i]);
    char *field = (char *)a + o->offset;
    if (o->kind == OPT_FLAG) {
        if (eq)
            return qb_failf(QB_ERR_INVALID, err, errlen, "--%s takes no value", o->name);
        *(bool *)(void *)field = true;
        return QB_OK;
    }
    const char *value = eq ? eq + 1 : NULL;
    if (!value) {
        if (*i + 1 >= argc)
            return qb_failf(QB_ERR_INVALID, err, errlen, "--%s needs a value", o->name);
        value = argv[++*i];
    }
    if (o->kind == OPT_STR) {
        *(const char **)(void *)field = value;
        return QB_OK;
    }
    if (!parse_long(value, o->max, (long *)(void *)field))
        return qb_failf(QB_ERR_INVALID, err, errlen, "--%s: expected a number 0-%ld, got \"%s\"",
                        o->name, o->max, value);
    return QB_OK;
}

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

enum qb_err cli_args_parse(int argc, char **argv, struct cli_args *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->timeout_s = 30;
    a->wait_s = CLI_DEFAULT_WAIT_S;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!options_done && strcmp(s, "--") == 0) {
            options_done = true;
            continue;
        }
        if (!options_done && strcmp(s, "-h") == 0) {
            a->help = true;
            continue;
        }
        if (!options_done && strncmp(s, "--", 2) == 0) {
            enum qb_err rc = parse_option(argc, argv, &i, a, err, errlen);
            if (rc)
                return rc;
            continue;
        }
        if (!options_done && s[0] == '-' && s[1])
            return qb_failf(QB_ERR_INVALID, err, errlen, "unknown option \"%s\"", s);
        if (a->npos >= CLI_MAX_POSITIONAL)
            return qb_failf(QB_ERR_INVALID, err, errlen, "too many arguments");
        a->pos[a->npos++] = s;
    }
    if (!a->url)
        a->url = env_or("QBACKUP_URL", CLI_DEFAULT_URL);
    if (!a->token)
        a->token = env_or("QBACKUP_TOKEN", NULL);
    if (a->token && !*a->token)
        a->token = NULL;
    return QB_OK;
}
