/* SPDX-License-Identifier: Apache-2.0
 *
 * cli_args.h -- the command line of `qbackup`: global options (URL, token,
 * output format), the command words and each command's options, parsed in
 * one pass so an option may come before or after the command.  Pure: reads
 * argv and the environment, does no I/O.
 */
#ifndef QB_CLI_ARGS_H
#define QB_CLI_ARGS_H
#include "common.h"
#include <stdbool.h>
#include <stddef.h>

#define CLI_MAX_POSITIONAL 8
#define CLI_DEFAULT_URL    "http://127.0.0.1:8080"
#define CLI_DEFAULT_WAIT_S 3600 /* the API's longest long poll */

/* Every string points into argv or the environment (borrowed for the
 * process's life). */
struct cli_args {
    const char *url;        /* --url, else $QBACKUP_URL, else CLI_DEFAULT_URL */
    const char *token;      /* --token, else $QBACKUP_TOKEN; NULL: send none */
    bool json;              /* --json: print the API's JSON instead of tables */
    bool help;              /* --help / -h */
    bool version;           /* --version */
    long timeout_s;         /* --timeout: beyond what the server may hold a request (default 30) */
    bool wait;              /* --wait[=SECONDS] */
    long wait_s;            /* seconds for ?wait= (default CLI_DEFAULT_WAIT_S) */
    const char *key;        /* --key: Idempotency-Key */
    const char *plan;       /* --plan (snapshots, runs filter) */
    const char *snapshot;   /* --snapshot ID|latest (restore) */
    const char *to;         /* --to INSTANCE (restore target) */
    const char *as;         /* --as NAME (restore target collection) */
    const char *state;      /* --state (runs filter) */
    const char *kind;       /* --kind (runs filter) */
    bool overwrite;         /* --overwrite (restore over an existing collection) */
    const char *label;      /* --label K=V[,K=V...] (run: the snapshots' labels) */
    const char *keep_until; /* --keep-until TIME (run: retention keeps them until then) */
    bool pin;               /* --pin (run: pinned until unpinned) */
    long limit;             /* --limit (lists; 0: the API's default) */
    int npos;
    const char *pos[CLI_MAX_POSITIONAL]; /* command words and their arguments */
};

/* Fills a from argv (argv[0] skipped) and the environment.  Returns
 * QB_ERR_INVALID with a one-line reason in err for an unknown option, a
 * missing or malformed value, or too many words. */
enum qb_err cli_args_parse(int argc, char **argv, struct cli_args *a, char *err,
                           size_t errlen) QB_MUSTCHECK;

#endif /* QB_CLI_ARGS_H */
