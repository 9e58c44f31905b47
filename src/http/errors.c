/* SPDX-License-Identifier: Apache-2.0
 *
 * errors.c -- lookup tables generated from errors.def.
 */
#include "http/errors.h"

static const struct {
    const char *code;
    unsigned status;
    const char *title;
} api_errors[] = {
#define QB_API_ERROR(e, code, status, title) {code, status, title},
#include "http/errors.def"
#undef QB_API_ERROR
};

const char *api_error_code(enum api_error e)
{
    return api_errors[e].code;
}

unsigned api_error_status(enum api_error e)
{
    return api_errors[e].status;
}

const char *api_error_title(enum api_error e)
{
    return api_errors[e].title;
}
