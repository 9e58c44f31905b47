/* SPDX-License-Identifier: Apache-2.0
 *
 * errors.h -- API error codes from errors.def: enum, HTTP status, title.
 */
#ifndef QB_ERRORS_H
#define QB_ERRORS_H

enum api_error {
#define QB_API_ERROR(e, code, status, title) API_ERR_##e,
#include "http/errors.def"
#undef QB_API_ERROR
    API_ERR_COUNT_
};

const char *api_error_code(enum api_error e);
unsigned api_error_status(enum api_error e);
const char *api_error_title(enum api_error e);

#endif /* QB_ERRORS_H */
