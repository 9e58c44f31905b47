/* SPDX-License-Identifier: Apache-2.0
 *
 * fuzz_sigv4.c -- libFuzzer target for the SigV4 canonicaliser and signer
 * (src/remote/sigv4.c): canonical URI (normalised or S3-style), canonical
 * query, canonical headers, header signing and presigning, and the
 * RFC 3986 encoder.
 *
 * Input: newline-separated fields: flags byte, method, path, query, then
 * "name:value" header lines.  Invariants: a successful signature is 64
 * lower-case hex digits and the Authorization value starts with the
 * algorithm and credential scope; signing the same request twice gives the
 * same signature (the signer is a pure function); the encoder's output
 * uses only unreserved characters and %XX.
 */
#include "remote/sigv4.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HEADERS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_hex(const char *s)
{
    if (strlen(s) != SIGV4_HEX_LEN)
        abort();
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';

    /* The encoder over the raw bytes. */
    char *enc = sigv4_uri_encode(buf, size, buf[0] & 1);
    for (const char *p = enc; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("-._~%/", *p))
            abort();
    }
    free(enc);

    char *fields[3 + MAX_HEADERS] = {0};
    size_t nf = 0;
    char *save = buf + 1;
    while (nf < sizeof fields / sizeof fields[0]) {
        fields[nf++] = save;
        char *nl = strchr(save, '\n');
        if (!nl)
            break;
        *nl = '\0';
        save = nl + 1;
    }
    struct sigv4_header headers[MAX_HEADERS + 1];
    size_t nh = 0;
    headers[nh++] = (struct sigv4_header){"Host", "bucket.s3.example.com"};
    for (size_t i = 3; i < nf && nh < MAX_HEADERS + 1; i++) {
        char *colon = strchr(fields[i], ':');
        if (!colon)
            continue;
        *colon = '\0';
        headers[nh++] = (struct sigv4_header){fields[i], colon + 1};
    }
    unsigned flags = (unsigned char)buf[0] & 0x0f;
    struct sigv4_config cfg = {"AKIDEXAMPLE",
                               "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                               (buf[0] & 0x10) ? "session-token" : NULL,
                               "us-east-1",
                               "s3",
                               flags};
    struct sigv4_request req = {
        .method = nf > 0 ? fields[0] : "GET",
        .path = nf > 1 ? fields[1] : "/",
        .query = nf > 2 && *fields[2] ? fields[2] : NULL,
        .headers = headers,
        .n_headers = nh,
        .payload_hash = SIGV4_UNSIGNED_PAYLOAD,
        .amz_date = "20260101T000000Z",
    };
    char err[QB_ERRBUF_SIZE];
    struct sigv4_result a = {0}, b = {0};
    if (sigv4_sign_headers(&cfg, &req, &a, err, sizeof err) == QB_OK) {
        check_hex(a.signature);
        if (strncmp(a.authorization, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/", 49) != 0)
            abort();
        if (sigv4_sign_headers(&cfg, &req, &b, err, sizeof err) != QB_OK ||
            strcmp(a.signature, b.signature) != 0)
            abort();
    }
    sigv4_result_free(&a);
    sigv4_result_free(&b);
    if (sigv4_presign(&cfg, &req, 3600, &a, err, sizeof err) == QB_OK) {
        check_hex(a.signature);
        if (!strstr(a.query, "X-Amz-Signature="))
            abort();
    }
    sigv4_result_free(&a);
    free(buf);
    return 0;
}
