/* SPDX-License-Identifier: Apache-2.0 */
/* emu_faults.h -- injectable faults, armed through POST /debug/faults (see
 * README.md).  A rule matches by method and path prefix and fires `count`
 * times (0 = until cleared).  Kinds:
 *   fail           answer with `status` and a Qdrant error envelope
 *   drop           close the connection without an answer
 *   delay          sleep delay_ms, then handle normally
 *   throttle       downloads: at most bytes_per_sec
 *   truncate       downloads: abort the connection after after_bytes; with
 *                  "clean": true a chunked body (route 15, gzip) ends with
 *                  its terminating chunk instead, a normal-looking EOF
 *   stall          downloads: pause stall_ms after after_bytes
 *   wrong_checksum the next snapshot created records a wrong checksum
 * THREAD SAFETY: one mutex guards the rule list; all calls are thread-safe. */
#ifndef EMU_FAULTS_H
#define EMU_FAULTS_H

#include <stdint.h>
#include <cjson/cJSON.h>

#include "emu_common.h"

/* What a request-phase fault asks for. */
struct emu_fault_req {
    int fail;      /* answer with status/message */
    int drop;      /* close without answer */
    long delay_ms; /* sleep first */
    unsigned status;
    char message[512];
    int plain; /* send message as text/plain instead of an envelope */
};

/* What download faults ask for (all zero = none). */
struct emu_fault_dl {
    uint64_t bytes_per_sec;
    int truncate;
    int truncate_clean; /* end a chunked body normally instead of aborting */
    uint64_t truncate_after;
    long stall_ms;
    uint64_t stall_after;
};

/* Consumes matching fail/drop/delay rules; returns 1 when any matched. */
int emu_faults_take_request(const char *method, const char *path, struct emu_fault_req *out);
/* Consumes matching throttle/truncate/stall rules; returns 1 when any matched. */
int emu_faults_take_download(const char *method, const char *path, struct emu_fault_dl *out);
/* Consumes one wrong_checksum rule; returns 1 when the next checksum must lie. */
int emu_faults_take_checksum(void);

/* Adds a rule from JSON (borrowed); 400/422 on bad input. */
int emu_faults_add(const cJSON *rule, struct emu_status *st) EMU_MUSTCHECK;
/* Active rules as JSON; caller frees. */
cJSON *emu_faults_list(void);
void emu_faults_clear(void);

#endif
