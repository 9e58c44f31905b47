/* SPDX-License-Identifier: Apache-2.0
 *
 * api_plan_body.h -- parsing and checking the body of a plan create or
 * replace (POST /v1/plans, PUT /v1/plans/{name}).
 */
#ifndef QB_API_PLAN_BODY_H
#define QB_API_PLAN_BODY_H

#include "http/http_request.h"
#include "store/store_plans.h"

#include <cjson/cJSON.h>
#include <stdbool.h>

/* Fills p from body (every field but name) and *allow_missing from the
 * request-only "allow_missing_collections".  On invalid input replies 400
 * naming the field and returns false.  Either way what p holds is the
 * caller's to free. */
bool api_plan_from_body(struct http_request *req, const cJSON *body, struct store_plan *p,
                        bool *allow_missing);

#endif
