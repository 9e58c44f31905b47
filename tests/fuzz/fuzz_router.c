/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_router.c -- libFuzzer target for the request-target path: the
 * percent-decoder, the encoded-NUL check and the router, over the real
 * route table, plus the redaction applied to echoed text.
 *
 * Input: one byte choosing the method, then the raw request target.
 * Invariants: decoding never grows a string; when http_router_path_nul
 * finds nothing the decoded path has no NUL; a match fills every parameter
 * with a non-empty value below the length limit; redaction output is
 * terminated and no longer than its buffer.
 */
#include "api/api.h"
#include "http/http_router.h"
#include "http/redact.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "FOO"};
    if (size < 1)
        return 0;
    const char *method = methods[data[0] % (sizeof methods / sizeof methods[0])];
    char *target = malloc(size);
    memcpy(target, data + 1, size - 1);
    target[size - 1] = '\0';

    struct http_route routes[API_MAX_ROUTES];
    size_t n = api_routes(routes, API_MAX_ROUTES, data[0] & 0x80, data[0] & 0x40);

    char name[HTTP_PARAM_NAME_MAX];
    bool nul = http_router_path_nul(routes, n, target, name, sizeof name);
    if (nul && name[0] == '\0')
        abort();

    /* Decode the path part as the server sees it (MHD decodes the same way). */
    size_t plen = strcspn(target, "?");
    char *path = malloc(plen + 1);
    memcpy(path, target, plen);
    path[plen] = '\0';
    size_t dlen = http_url_unescape(path);
    if (dlen > plen || (!nul && memchr(path, '\0', dlen)))
        abort();

    struct http_route_match m;
    char allow[128];
    if (http_router_match(routes, n, method, path, &m, allow, sizeof allow) == HTTP_ROUTER_FOUND) {
        for (int i = 0; i < m.nparams; i++) {
            size_t vl = strlen(m.params[i].value);
            if (vl == 0 || vl >= HTTP_PARAM_VALUE_MAX)
                abort();
            if (http_route_param(&m, m.params[i].name) == NULL)
                abort();
        }
    }

    char out[64];
    http_redact(target, path, NULL, out, sizeof out);
    if (strlen(out) >= sizeof out)
        abort();
    free(path);
    free(target);
    return 0;
}
