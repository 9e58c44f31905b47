/* SPDX-License-Identifier: Apache-2.0
 *
 * emu_harness.h -- starts the Qdrant emulator (qdrant-emu, see
 * tests/emulators/qdrant/README.md) on a free loopback port with a
 * temporary data directory, and drives it over plain libcurl: collection
 * set-up, points, and its debug endpoints (fill, faults, request log).
 *
 *     struct emu e;
 *     TEST_ASSERT(emu_start(&e, NULL) == 0);
 *     ... point a qdrant_client at e.url ...
 *     TEST_EXPECT_INT(emu_stop(&e), 0);   // clean exit, sanitizers included
 *     emu_cleanup(&e);
 *
 * Waiting is by polling a condition with a deadline, never a bare sleep.
 */
#ifndef QB_EMU_HARNESS_H
#define QB_EMU_HARNESS_H

#include "harness.h"

#include <stdbool.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#define EMU_MAX_ARGS 16

struct emu {
    pid_t pid; /* 0 when not running */
    int port;
    char url[64];             /* "http://127.0.0.1:PORT" */
    char dir[256];            /* temporary directory owned by this emulator */
    char data_dir[300];       /* dir/data: the emulator's --data-dir */
    char log_path[300];       /* the emulator's stdout and stderr */
    char api_key[128];        /* sent by emu_request when non-empty */
    char *args[EMU_MAX_ARGS]; /* argv given to the emulator */
};

/* Starts qdrant-emu with a fresh temporary directory; extra_args
 * (NULL-terminated, may be NULL) are added to --port 0 --data-dir.  When
 * they hold "--api-key K", K is remembered for emu_request.  Returns 0 once
 * the emulator printed "listening on 127.0.0.1:PORT"; on failure prints its
 * log and returns -1. */
int emu_start(struct emu *e, const char *const *extra_args);

/* SIGTERM, wait (up to 60 s, then SIGKILL); returns the exit status. */
int emu_stop(struct emu *e);

/* Stops if running, removes the temporary directory, frees the args. */
void emu_cleanup(struct emu *e);

/* Prints the emulator's log to stderr (for failing tests). */
void emu_print_log(const struct emu *e);

/* Sends one request (path already escaped).  body may be NULL (JSON when
 * not).  Sends e->api_key when set.  Returns 0 when a response arrived. */
int emu_request(struct emu *e, const char *method, const char *path, const char *body,
                struct resp *r);

/* Helpers returning 0 on the expected 200, else print the answer and -1.
 * Collection names are escaped here. */
int emu_create_collection(struct emu *e, const char *name, int dim);
/* Upserts n deterministic points (ids 1..n, payload {"i":id}) with seed. */
int emu_upsert(struct emu *e, const char *name, int n, int seed);
/* All points of a collection (scroll, with payload and vectors), as a
 * canonical JSON string the caller frees; NULL on failure. */
char *emu_points(struct emu *e, const char *name);
int emu_fill(struct emu *e, const char *name, unsigned mb);
/* Arms fault rule(s) given as JSON text; emu_clear_faults removes all. */
int emu_fault(struct emu *e, const char *rule_json);
int emu_clear_faults(struct emu *e);
/* The request log (the "requests" array, caller cJSON_Deletes), and
 * clearing it. */
cJSON *emu_requests(struct emu *e);
int emu_clear_requests(struct emu *e);

/* Escapes one path segment (caller frees). */
char *emu_esc(const char *s);

#endif /* QB_EMU_HARNESS_H */
