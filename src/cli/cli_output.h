/* SPDX-License-Identifier: Apache-2.0
 *
 * cli_output.h -- how the CLI shows things to a person: aligned text tables
 * sized to their content, the API's JSON pretty-printed for --json, a
 * problem+json answer turned into one readable error line, and the small
 * formatters (sizes, ages, absent values) the tables use.
 */
#ifndef QB_CLI_OUTPUT_H
#define QB_CLI_OUTPUT_H
#include "cli/cli_http.h"
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>

struct cli_table;

/* A table with ncols columns titled by headers (borrowed: string literals). */
struct cli_table *cli_table_create(int ncols, const char *const *headers);
/* Adds one row; cells are copied (NULL shows as "-"). */
void cli_table_add(struct cli_table *t, const char *const *cells);
/* Prints headers and rows with columns padded to their widest cell. */
void cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_destroy(struct cli_table *t);

/* A table of JSON objects described by columns: each names its header,
 * the member it shows and how. */
enum cli_col_fmt {
    CLI_COL_PLAIN, /* as cli_cell */
    CLI_COL_BYTES, /* a number of bytes, cli_fmt_bytes */
    CLI_COL_AGE,   /* a number of seconds, cli_fmt_age */
    CLI_COL_SET,   /* "yes" when the member is present and not null, else "no" */
};
struct cli_col {
    const char *header;
    const char *field;
    enum cli_col_fmt fmt;
};
#define CLI_MAX_COLS 10

/* Prints the objects of the array items (NULL: none) as a table on f. */
void cli_print_objects(const cJSON *items, const struct cli_col *cols, int ncols, FILE *f);

/* Pretty-prints json followed by a newline. */
void cli_print_json(const cJSON *json, FILE *f);

/* Prints an error answer for a person on f: "qbackup: DETAIL" and, on a
 * second line, code, field, HTTP status and request id; for an answer that
 * is not problem+json, the status and the start of the body. */
void cli_print_problem(const struct cli_reply *r, FILE *f);

/* The string member name of obj, or NULL. */
const char *cli_str(const cJSON *obj, const char *name);
/* Formats member name of obj for a table cell into out: strings as they
 * are, numbers as integers, booleans as yes/no, null or absent as "-".
 * Returns out. */
const char *cli_cell(const cJSON *obj, const char *name, char *out, size_t outlen);
/* 1536 -> "1.5 KiB"; returns out. */
const char *cli_fmt_bytes(double bytes, char *out, size_t outlen);
/* 90061 -> "1d1h"; returns out. */
const char *cli_fmt_age(double seconds, char *out, size_t outlen);

#endif /* QB_CLI_OUTPUT_H */
