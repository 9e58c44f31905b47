/* SPDX-License-Identifier: Apache-2.0
 *
 * cli.h -- what the modules of the `qbackup` command-line client share: its
 * exit codes (contract for scripts, documented in `qbackup --help` and the
 * README) and the context a command runs in.  The CLI is a thin client of
 * the REST API (api/openapi.yaml); it links nothing of the daemon's server
 * or engine code.
 */
#ifndef QB_CLI_H
#define QB_CLI_H

struct cli_args;
struct cli_http;

/* Exit codes: add, never renumber (CI scripts test them). */
enum cli_exit {
    CLI_EXIT_OK = 0,          /* the command did what was asked */
    CLI_EXIT_FAILED = 1,      /* a run or restore failed, was partial or cancelled; a
                                 verification or destination check failed; status not ok */
    CLI_EXIT_USAGE = 2,       /* bad command line */
    CLI_EXIT_NOT_FOUND = 3,   /* 404: no such plan, run, snapshot, instance, destination */
    CLI_EXIT_AUTH = 4,        /* 401/403: token missing, wrong, or its role too low */
    CLI_EXIT_UNREACHABLE = 5, /* qbackupd did not answer (connection refused, timeout) */
    CLI_EXIT_REJECTED = 6,    /* any other error answer (400, 409, 422, 5xx): nothing done */
    CLI_EXIT_PENDING = 7,     /* --wait ran out: the run is still queued or running */
};

/* One command's context, built by cli_main.c. */
struct cli_ctx {
    struct cli_http *http;       /* borrowed */
    const struct cli_args *args; /* borrowed */
};

#endif /* QB_CLI_H */
