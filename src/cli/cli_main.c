/* SPDX-License-Identifier: Apache-2.0
 *
 * cli_main.c -- `qbackup`, the command-line client of qbackupd: parses the
 * command line, prints --help (the manual) or --version, opens the HTTP
 * connection and runs one command.  See cli.h for the exit codes.
 */
#include "cli/cli.h"
#include "cli/cli_args.h"
#include "cli/cli_commands.h"
#include "cli/cli_http.h"
#include "version.h"

#include <curl/curl.h>
#include <stdio.h>

static void usage(FILE *f)
{
    fprintf(f, "qbackup -- command-line client of the qbackupd REST API\n\n"
               "Usage:\n");
    cli_commands_synopsis(f);
    fprintf(f,
            "\nCommands:\n"
            "  status        plans with last run, last success and staleness; instance and\n"
            "                destination reachability (exit 1 unless the status is ok)\n"
            "  plans         the backup plans\n"
            "  run           start a backup run of PLAN; with --wait, exit by its outcome\n"
            "  runs          recent backup and restore runs, newest first\n"
            "  snapshots     catalogued snapshots, newest first\n"
            "  verify        read a stored snapshot back and check its SHA-256 and size\n"
            "  restore       restore COLLECTION from PLAN's newest verified snapshot (or\n"
            "                --snapshot ID) into --to INSTANCE as --as NAME; --overwrite\n"
            "                replaces an existing collection (a safety snapshot is taken)\n"
            "  instances     the registered Qdrant instances\n"
            "  destinations check NAME   write, read and delete a test object\n"
            "\nOptions:\n"
            "  --url URL         qbackupd's base URL (env QBACKUP_URL; default %s)\n"
            "  --token TOKEN     bearer token (env QBACKUP_TOKEN, preferred: a flag is visible\n"
            "                    to other users in the process list)\n"
            "  --json            print the API's JSON instead of tables (errors: the\n"
            "                    problem document on stdout, the message on stderr)\n"
            "  --wait[=SECONDS]  hold until the run ends (default %d, the most the API allows)\n"
            "  --key KEY         Idempotency-Key: a retried command returns the first run\n"
            "  --label K=V,...   run: label the run's snapshots (reason=pre-deploy,...)\n"
            "  --keep-until TIME run: retention keeps its snapshots until TIME (RFC 3339)\n"
            "  --pin             run: keep its snapshots until unpinned\n"
            "  --timeout SECONDS how long to wait for an answer, on top of the time the\n"
            "                    server may hold the request (--wait, verify) (default 30)\n"
            "  --help, --version\n"
            "\nExit status:\n"
            "  0  done (with --wait: the run succeeded)\n"
            "  1  the run or restore failed, was partial or cancelled; verification or the\n"
            "     destination check failed; `status` is not ok\n"
            "  2  bad command line\n"
            "  3  not found (plan, run, snapshot, instance, destination; a restore with no\n"
            "     verified snapshot)\n"
            "  4  authentication or permission refused (401/403)\n"
            "  5  qbackupd unreachable (connection refused, DNS, timeout)\n"
            "  6  refused by qbackupd for another reason (400, 409, 422, 5xx): nothing done\n"
            "  7  --wait ran out while the run is still queued or running (it goes on)\n"
            "\nErrors from qbackupd are printed with their detail, code, field and request id.\n",
            CLI_DEFAULT_URL, CLI_DEFAULT_WAIT_S);
}

int main(int argc, char **argv)
{
    struct cli_args args;
    char err[QB_ERRBUF_SIZE];
    if (cli_args_parse(argc, argv, &args, err, sizeof err) != QB_OK) {
        fprintf(stderr, "qbackup: %s (qbackup --help)\n", err);
        return CLI_EXIT_USAGE;
    }
    if (args.help) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (args.version) {
        printf("qbackup %s\n", QB_VERSION);
        return CLI_EXIT_OK;
    }
    if (args.npos == 0) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "qbackup: libcurl could not start\n");
        return CLI_EXIT_UNREACHABLE;
    }
    struct cli_http *http = NULL;
    int ex;
    if (cli_http_create(args.url, args.token, &http, err, sizeof err) != QB_OK) {
        fprintf(stderr, "qbackup: %s\n", err);
        ex = CLI_EXIT_USAGE;
    } else {
        struct cli_ctx ctx = {.http = http, .args = &args};
        ex = cli_commands_run(&ctx);
    }
    cli_http_destroy(http);
    curl_global_cleanup();
    return ex;
}
