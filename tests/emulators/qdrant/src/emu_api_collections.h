/* SPDX-License-Identifier: Apache-2.0 */
/* emu_api_collections.h -- service, collection, point and cluster handlers
 * (everything a backup tool touches besides snapshots). */
#ifndef EMU_API_COLLECTIONS_H
#define EMU_API_COLLECTIONS_H

#include <stdint.h>

#include "emu_http.h"

/* Runs before every handler: reconciles local storage with the cluster
 * state and, for routes that take aliases (EMU_RF_ALIAS), replaces an alias
 * in params[0] by its collection, as Qdrant's toc.get_collection does. */
void emu_api_prepare(struct emu_req *r);
/* 200 with UpdateResult {operation_id, status}. */
void emu_api_update_result(struct emu_req *r, uint64_t op_id);

void emu_api_root(struct emu_req *r);
void emu_api_healthz(struct emu_req *r);
void emu_api_livez(struct emu_req *r);
void emu_api_readyz(struct emu_req *r);
void emu_api_cluster(struct emu_req *r);
void emu_api_collections_list(struct emu_req *r);
void emu_api_collection_get(struct emu_req *r);
void emu_api_collection_create(struct emu_req *r);
void emu_api_collection_delete(struct emu_req *r);
void emu_api_collection_exists(struct emu_req *r);
void emu_api_collection_cluster(struct emu_req *r);
void emu_api_points_upsert(struct emu_req *r);
void emu_api_points_retrieve(struct emu_req *r);
void emu_api_point_get(struct emu_req *r);
void emu_api_points_delete(struct emu_req *r);
void emu_api_points_scroll(struct emu_req *r);
void emu_api_points_count(struct emu_req *r);

#endif
