/* SPDX-License-Identifier: Apache-2.0
 *
 * api_plan_copies.h -- a plan's "copies" member (second copies, 3-2-1):
 * checks it against the catalogue's destinations and turns it into the
 * stored form, and back into the response's form.
 */
#ifndef QB_API_PLAN_COPIES_H
#define QB_API_PLAN_COPIES_H

#include "http/http_request.h"
#include "store/store_plans.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* At most this many copy destinations per plan: each is a full second
 * transfer of every snapshot. */
#define API_PLAN_COPIES_MAX 4

/* Fills p->copies from body's "copies" (absent or null: []): an array of
 * {"destination": name, "retention": {...}} with each destination
 * existing, distinct and not p->destination (already set).  Stores
 * destinations by name.  Replies (400 naming the field, 422 for a
 * destination that does not exist) and returns false on bad input. */
bool api_plan_copies_from_body(struct http_request *req, const cJSON *body, struct store_plan *p);

/* The response form of p->copies (a new array; caller owns it). */
cJSON *api_plan_copies_json(const struct store_plan *p);

#endif
