/* SPDX-License-Identifier: Apache-2.0
 *
 * cli_commands.h -- the commands of `qbackup`, one REST call (or two) each:
 * the table of command words, and the dispatcher that runs the one the
 * command line names and turns the answer into output and an exit code
 * (enum cli_exit in cli.h).
 */
#ifndef QB_CLI_COMMANDS_H
#define QB_CLI_COMMANDS_H
#include "cli/cli.h"
#include <stdio.h>

/* Runs the command named by c->args->pos (words, then arguments).  Returns
 * an enum cli_exit; CLI_EXIT_USAGE (with a message on stderr) for an
 * unknown command or a wrong number of arguments. */
int cli_commands_run(const struct cli_ctx *c);

/* Prints the one-line synopsis of every command on f (for --help). */
void cli_commands_synopsis(FILE *f);

#endif /* QB_CLI_COMMANDS_H */
