/* SPDX-License-Identifier: Apache-2.0 */
/* emu_debug.h -- the /debug/… endpoints tests use to drive the emulator
 * (README.md lists them): route table, request log, fault rules, cheap big
 * collections (fill) and a full reset.  They need no key, are not logged and
 * are never hit by faults. */
#ifndef EMU_DEBUG_H
#define EMU_DEBUG_H

#include "emu_http.h"

void emu_debug_routes(struct emu_req *r);
void emu_debug_requests_get(struct emu_req *r);
void emu_debug_requests_clear(struct emu_req *r);
void emu_debug_faults_get(struct emu_req *r);
void emu_debug_faults_add(struct emu_req *r);
void emu_debug_faults_clear(struct emu_req *r);
void emu_debug_fill(struct emu_req *r);
void emu_debug_reset(struct emu_req *r);

#endif
