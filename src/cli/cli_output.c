/* SPDX-License-Identifier: Apache-2.0
 *
 * cli_output.c -- tables and messages for people.  Tables are collected
 * first and printed once, so every column is as wide as its widest cell
 * (lists are paginated by the API, so the rows fit in memory).
 */
#include "cli/cli_output.h"

#include <stdlib.h>
#include <string.h>

struct cli_table {
    int ncols;
    const char *const *headers; /* borrowed */
    char **cells;               /* owned, nrows * ncols */
    size_t nrows;
    size_t cap; /* rows allocated */
};

void cli_table_destroy(struct cli_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

struct cli_table *cli_table_create(int ncols, const char *const *headers)
{
    struct cli_table *t = xcalloc(1, sizeof *t);
    t->ncols = ncols;
    t->headers = headers;
    return t;
}

void cli_table_add(struct cli_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = xrealloc(t->cells, t->cap * (size_t)t->ncols * sizeof *t->cells);
    }
    for (int c = 0; c < t->ncols; c++)
        t->cells[t->nrows * (size_t)t->ncols + (size_t)c] = xstrdup(cells[c] ? cells[c] : "-");
    t->nrows++;
}

static void print_row(const struct cli_table *t, const char *const *row, const size_t *width,
                      FILE *f)
{
    for (int c = 0; c < t->ncols; c++) {
        bool last = c == t->ncols - 1;
        if (last)
            fprintf(f, "%s\n", row[c]);
        else
            fprintf(f, "%-*s  ", (int)width[c], row[c]);
    }
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
    size_t *width = xcalloc((size_t)t->ncols, sizeof *width);
    for (int c = 0; c < t->ncols; c++) {
        width[c] = strlen(t->headers[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t w = strlen(t->cells[r * (size_t)t->ncols + (size_t)c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    print_row(t, t->headers, width, f);
    for (size_t r = 0; r < t->nrows; r++)
        print_row(t, (const char *const *)&t->cells[r * (size_t)t->ncols], width, f);
    free(width);
}

void cli_print_json(const cJSON *json, FILE *f)
{
    char *s = cJSON_Print(json);
    if (!s)
        abort(); /* cJSON fails only on memory */
    fprintf(f, "%s\n", s);
    cJSON_free(s);
}

const char *cli_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *cli_cell(const cJSON *obj, const char *name, char *out, size_t outlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (cJSON_IsString(v))
        snprintf(out, outlen, "%s", v->valuestring);
    else if (cJSON_IsNumber(v))
        snprintf(out, outlen, "%.0f", v->valuedouble);
    else if (cJSON_IsBool(v))
        snprintf(out, outlen, "%s", cJSON_IsTrue(v) ? "yes" : "no");
    else
        snprintf(out, outlen, "-");
    return out;
}

const char *cli_fmt_bytes(double bytes, char *out, size_t outlen)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    size_t u = 0;
    while (bytes >= 1024 && u + 1 < QB_ARRAY_LEN(units)) {
        bytes /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, outlen, "%.0f B", bytes);
    else
        snprintf(out, outlen, "%.1f %s", bytes, units[u]);
    return out;
}

const char *cli_fmt_age(double seconds, char *out, size_t outlen)
{
    long s = seconds < 0 ? 0 : (long)seconds;
    if (s < 60)
        snprintf(out, outlen, "%lds", s);
    else if (s < 3600)
        snprintf(out, outlen, "%ldm%lds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, outlen, "%ldh%ldm", s / 3600, s % 3600 / 60);
    else
        snprintf(out, outlen, "%ldd%ldh", s / 86400, s % 86400 / 3600);
    return out;
}

void cli_print_problem(const struct cli_reply *r, FILE *f)
{
    const char *detail = cli_str(r->json, "detail");
    if (!r->json || !detail) {
        /* Not ours (a proxy's page?): show the start of it. */
        fprintf(f, "qbackup: HTTP %ld: %.200s\n", r->status, r->body ? r->body : "");
        return;
    }
    fprintf(f, "qbackup: %s\n", detail);
    const char *code = cli_str(r->json, "code");
    const char *field = cli_str(r->json, "field");
    const char *rid = cli_str(r->json, "request_id");
    fprintf(f, "  (HTTP %ld, code %s", r->status, code ? code : "-");
    if (field)
        fprintf(f, ", field %s", field);
    if (rid)
        fprintf(f, ", request id %s", rid);
    fprintf(f, ")\n");
}

static const char *col_cell(const cJSON *obj, const struct cli_col *col, char *out, size_t outlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, col->field);
    switch (col->fmt) {
    case CLI_COL_BYTES:
        return cJSON_IsNumber(v) ? cli_fmt_bytes(v->valuedouble, out, outlen) : "-";
    case CLI_COL_AGE:
        return cJSON_IsNumber(v) ? cli_fmt_age(v->valuedouble, out, outlen) : "-";
    case CLI_COL_SET:
        return v && !cJSON_IsNull(v) ? "yes" : "no";
    case CLI_COL_PLAIN:
        break;
    }
    return cli_cell(obj, col->field, out, outlen);
}

void cli_print_objects(const cJSON *items, const struct cli_col *cols, int ncols, FILE *f)
{
    QB_ASSERT(ncols <= CLI_MAX_COLS);
    const char *headers[CLI_MAX_COLS];
    for (int c = 0; c < ncols; c++)
        headers[c] = cols[c].header;
    struct cli_table *t = cli_table_create(ncols, headers);
    const cJSON *obj;
    cJSON_ArrayForEach(obj, items)
    {
        char cell[CLI_MAX_COLS][512];
        const char *row[CLI_MAX_COLS];
        for (int c = 0; c < ncols; c++)
            row[c] = col_cell(obj, &cols[c], cell[c], sizeof cell[c]);
        cli_table_add(t, row);
    }
    cli_table_print(t, f);
    cli_table_destroy(t);
}
