/* SPDX-License-Identifier: Apache-2.0 */
/* emu_reqlog.h -- the exact request log behind GET /debug/requests: method,
 * path, query, selected headers, which key class was presented (never a key
 * value), a JSON body (api_key fields redacted) or upload summary, and the
 * answer's status.  Bounded ring of EMU_REQLOG_MAX entries.
 * THREAD SAFETY: one mutex; all calls are thread-safe. */
#ifndef EMU_REQLOG_H
#define EMU_REQLOG_H

#include <stdint.h>
#include <cjson/cJSON.h>

#define EMU_REQLOG_MAX 10000

/* Appends an entry (takes ownership); returns its sequence number (>= 1). */
uint64_t emu_reqlog_add(cJSON *entry);
/* Sets (replaces) a field of entry seq; takes ownership of value. */
void emu_reqlog_set(uint64_t seq, const char *field, cJSON *value);
/* Snapshot of the log as {"requests":[…],"dropped":N}; caller frees. */
cJSON *emu_reqlog_dump(void);
void emu_reqlog_clear(void);

struct emu_req;
/* Logs an arriving request (emu_http.c, before faults and auth): key_desc
 * is the key class presented, auth_kind how (api-key, bearer, none). */
void emu_reqlog_begin(struct emu_req *r, const char *key_desc, const char *auth_kind);
/* Completes its entry with the status and the body or upload summary. */
void emu_reqlog_finish(struct emu_req *r);

#endif
