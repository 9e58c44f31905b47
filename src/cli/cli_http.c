/* SPDX-License-Identifier: Apache-2.0
 *
 * cli_http.c -- libcurl under the CLI.  One easy handle reused for every
 * call of a command (keep-alive).  The token travels only in the
 * Authorization header, never in a URL, and is never printed.
 */
#include "cli/cli_http.h"
#include "util/buf.h"
#include "util/seal.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Lists are paginated by the API, so 16 MiB is far above any answer. */
#define CLI_MAX_BODY (16u << 20)

struct cli_http {
    CURL *curl;
    char *base;        /* owned, without trailing '/' */
    char *auth_header; /* owned "Authorization: Bearer ..." or NULL */
};

void cli_http_destroy(struct cli_http *h)
{
    if (!h)
        return;
    curl_easy_cleanup(h->curl);
    free(h->base);
    seal_wipe_free(h->auth_header); /* a secret: do not leave it in freed memory */
    free(h);
}

struct call_state {
    struct buf body;
    bool too_big;
    struct cli_reply *r;
};

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct call_state *st = userp;
    if (!buf_append(&st->body, data, size * n)) {
        st->too_big = true;
        return 0; /* aborts the transfer */
    }
    return size * n;
}

/* Copies value of header line "Name: value\r\n" into out when name matches. */
static bool header_value(const char *line, size_t len, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    if (len <= nlen + 1 || strncasecmp(line, name, nlen) != 0 || line[nlen] != ':')
        return false;
    const char *v = line + nlen + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t vlen = (size_t)(end - v);
    if (vlen >= outlen)
        vlen = outlen - 1;
    memcpy(out, v, vlen);
    out[vlen] = '\0';
    return true;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
    struct call_state *st = userp;
    size_t len = size * n;
    char v[128];
    if (header_value(data, len, "X-Request-Id", st->r->request_id, sizeof st->r->request_id))
        return len;
    if (header_value(data, len, "Idempotent-Replayed", v, sizeof v))
        st->r->replayed = strcasecmp(v, "true") == 0;
    else if (header_value(data, len, "Content-Type", v, sizeof v))
        st->r->problem = strncasecmp(v, "application/problem+json", 24) == 0;
    return len;
}

enum qb_err cli_http_create(const char *base_url, const char *token, struct cli_http **out,
                            char *err, size_t errlen)
{
    *out = NULL;
    if (strncmp(base_url, "http://", 7) != 0 && strncmp(base_url, "https://", 8) != 0)
        return qb_failf(QB_ERR_INVALID, err, errlen,
                        "--url: expected http://host:port or https://..., got \"%s\"", base_url);
    struct cli_http *h = xcalloc(1, sizeof *h);
    h->curl = curl_easy_init();
    if (!h->curl) {
        free(h);
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "libcurl could not start");
    }
    h->base = xstrdup(base_url);
    size_t blen = strlen(h->base);
    while (blen > 0 && h->base[blen - 1] == '/')
        h->base[--blen] = '\0';
    if (token)
        h->auth_header = xasprintf("Authorization: Bearer %s", token);
    *out = h;
    return QB_OK;
}

void cli_reply_free(struct cli_reply *r)
{
    QB_FREE(r->body);
    cJSON_Delete(r->json);
    r->json = NULL;
}

static void set_options(struct cli_http *h, const char *method, const char *url, const char *body,
                        struct curl_slist *headers, long timeout_s, struct call_state *st)
{
    CURL *c = h->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout_s < 10 ? timeout_s : 10L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, st);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, st);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "qbackup-cli");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (strcmp(method, "GET") == 0)
        return;
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    /* An empty POST still needs its (zero) length sent. */
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
}

enum qb_err cli_http_call(struct cli_http *h, const char *method, const char *path_and_query,
                          const char *body, const char *idempotency_key, long timeout_s,
                          struct cli_reply *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    enum qb_err rc = QB_OK;
    struct call_state st = {.r = r};
    buf_init(&st.body, CLI_MAX_BODY);
    char *url = xasprintf("%s%s", h->base, path_and_query);
    char *key_header = NULL;
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    if (h->auth_header)
        headers = curl_slist_append(headers, h->auth_header);
    if (body)
        headers = curl_slist_append(headers, "Content-Type: application/json");
    if (idempotency_key) {
        key_header = xasprintf("Idempotency-Key: %s", idempotency_key);
        headers = curl_slist_append(headers, key_header);
    }
    if (!headers) {
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "out of memory");
        goto out;
    }
    set_options(h, method, url, body, headers, timeout_s, &st);
    CURLcode cc = curl_easy_perform(h->curl);
    if (st.too_big) {
        rc = qb_failf(QB_ERR_REMOTE, err, errlen, "answer from %s larger than %u bytes", h->base,
                      CLI_MAX_BODY);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = qb_failf(QB_ERR_TRANSIENT, err, errlen, "cannot reach qbackupd at %s: %s", h->base,
                      curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &r->status);
    r->body = buf_steal(&st.body, &r->len);
    if (!r->body)
        r->body = xstrdup("");
    if (r->len > 0)
        r->json = cJSON_ParseWithLength(r->body, r->len);
out:
    buf_free(&st.body);
    curl_slist_free_all(headers);
    free(key_header);
    free(url);
    return rc;
}

char *cli_http_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    if (!e)
        abort(); /* only fails on memory, like xmalloc */
    char *out = xstrdup(e);
    curl_free(e);
    return out;
}
