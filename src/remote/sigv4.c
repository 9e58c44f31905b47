/* SPDX-License-Identifier: Apache-2.0
 *
 * sigv4.c -- AWS Signature Version 4 over OpenSSL HMAC/SHA-256.  Owns no
 * state: every call builds its strings in a private builder and hands the
 * results to the caller in a struct sigv4_result.
 *
 * DESIGN
 *   canonical request = method \n canonical URI \n canonical query \n
 *                       canonical headers \n signed headers \n payload hash
 *   string to sign    = "AWS4-HMAC-SHA256" \n amz-date \n scope \n
 *                       hex(sha256(canonical request))
 *   signing key       = HMAC chain "AWS4"+secret -> date -> region ->
 *                       service -> "aws4_request"
 * Verified against the aws-c-auth SigV4 test suite (tests/data) and the S3
 * examples in AWS's documentation (tests/unit/test_sigv4.c).
 */
#include "sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ builder */

/* A growable string; xrealloc aborts on OOM, so appends cannot fail. */
struct sb {
    char *s;
    size_t len, cap;
};

static void sb_addn(struct sb *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->s = xrealloc(b->s, cap);
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void sb_add(struct sb *b, const char *s)
{
    sb_addn(b, s, strlen(s));
}

static void sb_addc(struct sb *b, char c)
{
    sb_addn(b, &c, 1);
}

/* Returns the string (never NULL) and leaves the builder empty. */
static char *sb_steal(struct sb *b)
{
    char *s = b->s ? b->s : xstrdup("");
    memset(b, 0, sizeof *b);
    return s;
}

/* ----------------------------------------------------------------- encoding */

static bool is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static void sb_encode(struct sb *b, const char *s, size_t len, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            sb_addc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sb_addn(b, e, 3);
        }
    }
}

char *sigv4_uri_encode(const char *s, size_t len, bool keep_slash)
{
    struct sb b = {0};
    sb_encode(&b, s, len, keep_slash);
    return sb_steal(&b);
}

/* Decodes %XX in [s, s+len) into a new string (*outlen bytes).
 * '+' is left alone: in SigV4 a '+' on the wire is a literal plus, and we
 * always send spaces as %20.  A '%' not followed by two hex digits stays. */
static char *pct_decode(const char *s, size_t len, size_t *outlen)
{
    char *out = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%' && i + 2 < len && qb_hexval(s[i + 1]) >= 0 && qb_hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(qb_hexval(s[i + 1]) * 16 + qb_hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

void sigv4_hex(const unsigned char *bytes, size_t len, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = hex[bytes[i] >> 4];
        out[2 * i + 1] = hex[bytes[i] & 15];
    }
    out[2 * len] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len, char *out)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    sigv4_hex(md, sizeof md, out);
}

void sigv4_format_amz_date(int64_t t, char *out, size_t outlen)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, outlen, "%Y%m%dT%H%M%SZ", &tm);
}

/* ------------------------------------------------------------ canonical URI */

/* Removes "." and ".." segments and empty segments ("//"), the way the
 * non-S3 services canonicalise.  A trailing '/' (or a trailing "." / "..",
 * which name a directory) is kept, unless the result is the root. */
static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static char *normalize_path(const char *p)
{
    size_t n = strlen(p);
    const char **seg = xcalloc(n + 1, sizeof *seg);
    size_t *seglen = xcalloc(n + 1, sizeof *seglen);
    size_t nseg = 0;
    for (const char *s = p; *s;) {
        while (*s == '/')
            s++;
        const char *e = s;
        while (*e && *e != '/')
            e++;
        size_t l = (size_t)(e - s);
        if (l == 2 && !memcmp(s, "..", 2)) {
            if (nseg)
                nseg--;
        } else if (l > 0 && !(l == 1 && s[0] == '.')) {
            seg[nseg] = s;
            seglen[nseg++] = l;
        }
        s = e;
    }
    bool trailing = ends_with(p, n, "/") || ends_with(p, n, "/.") || ends_with(p, n, "/..");
    struct sb b = {0};
    for (size_t i = 0; i < nseg; i++) {
        sb_addc(&b, '/');
        sb_addn(&b, seg[i], seglen[i]);
    }
    if (nseg == 0 || trailing)
        sb_addc(&b, '/');
    free(seg);
    free(seglen);
    return sb_steal(&b);
}

static void canonical_uri(struct sb *out, const char *path, unsigned flags)
{
    if (!path || !*path) {
        sb_addc(out, '/');
        return;
    }
    char *p = (flags & SIGV4_NO_NORMALIZE_PATH) ? xstrdup(path) : normalize_path(path);
    if (flags & SIGV4_NO_DOUBLE_ENCODE) {
        size_t dlen;
        char *d = pct_decode(p, strlen(p), &dlen);
        sb_encode(out, d, dlen, true);
        free(d);
    } else {
        sb_encode(out, p, strlen(p), true);
    }
    free(p);
}

/* ---------------------------------------------------------- canonical query */

struct kv {
    char *k, *v; /* both already RFC 3986 encoded */
};

static int kv_cmp(const void *a, const void *b)
{
    const struct kv *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

struct kvlist {
    struct kv *v;
    size_t n, cap;
};

static void kvlist_push(struct kvlist *l, char *k, char *v)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n].k = k;
    l->v[l->n].v = v;
    l->n++;
}

/* Adds a raw (unencoded) parameter. */
static void kvlist_push_raw(struct kvlist *l, const char *k, const char *v)
{
    kvlist_push(l, sigv4_uri_encode(k, strlen(k), false), sigv4_uri_encode(v, strlen(v), false));
}

/* Splits a wire query into decoded-then-re-encoded pairs: a valueless
 * "lifecycle" becomes "lifecycle=". */
static void parse_query(struct kvlist *l, const char *q)
{
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        if (n) {
            const char *eq = memchr(q, '=', n);
            size_t kn = eq ? (size_t)(eq - q) : n;
            size_t dk, dv;
            char *k = pct_decode(q, kn, &dk);
            char *v = eq ? pct_decode(eq + 1, n - kn - 1, &dv) : xstrdup("");
            if (!eq)
                dv = 0;
            kvlist_push(l, sigv4_uri_encode(k, dk, false), sigv4_uri_encode(v, dv, false));
            free(k);
            free(v);
        }
        q = amp ? amp + 1 : NULL;
    }
}

static char *kvlist_join(struct kvlist *l)
{
    if (l->n)
        qsort(l->v, l->n, sizeof *l->v, kv_cmp);
    struct sb b = {0};
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            sb_addc(&b, '&');
        sb_add(&b, l->v[i].k);
        sb_addc(&b, '=');
        sb_add(&b, l->v[i].v);
    }
    return sb_steal(&b);
}

static void kvlist_free(struct kvlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].k);
        free(l->v[i].v);
    }
    QB_FREE(l->v);
    l->n = l->cap = 0;
}

/* -------------------------------------------------------- canonical headers */

struct hdr {
    char *name;  /* lower-case, trimmed */
    char *value; /* trimmed, blank runs collapsed */
    size_t order;
};

static int hdr_cmp(const void *a, const void *b)
{
    const struct hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    /* Stable on the original order: duplicate headers are joined with ','
     * in the order they were given (get-header-value-order). */
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char *trim_lower(const char *s)
{
    while (is_blank(*s))
        s++;
    size_t n = strlen(s);
    while (n && is_blank(s[n - 1]))
        n--;
    char *o = xstrndup(s, n);
    for (char *p = o; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    return o;
}

static char *trim_collapse(const char *s)
{
    struct sb b = {0};
    while (is_blank(*s))
        s++;
    bool pending = false;
    for (; *s; s++) {
        if (is_blank(*s)) {
            pending = true;
            continue;
        }
        if (pending)
            sb_addc(&b, ' ');
        pending = false;
        sb_addc(&b, *s);
    }
    return sb_steal(&b);
}

static bool has_header(const struct sigv4_request *req, const char *lname)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        char *n = trim_lower(req->headers[i].name);
        bool eq = strcmp(n, lname) == 0;
        free(n);
        if (eq)
            return true;
    }
    return false;
}

/* Builds "name:value\n"... into *canon and "a;b;c" into *signed_out from
 * req's headers plus the extra ones (extra_names may hold NULL entries). */
static void canonical_headers(const struct sigv4_request *req, const char *const *extra_names,
                              const char *const *extra_values, size_t n_extra, char **canon,
                              char **signed_out)
{
    size_t n = 0;
    struct hdr *h = xcalloc(req->n_headers + n_extra, sizeof *h);
    for (size_t i = 0; i < req->n_headers; i++, n++) {
        h[n].name = trim_lower(req->headers[i].name);
        h[n].value = trim_collapse(req->headers[i].value ? req->headers[i].value : "");
        h[n].order = n;
    }
    for (size_t i = 0; i < n_extra; i++) {
        if (!extra_names[i])
            continue;
        h[n].name = xstrdup(extra_names[i]);
        h[n].value = trim_collapse(extra_values[i]);
        h[n].order = n;
        n++;
    }
    if (n)
        qsort(h, n, sizeof *h, hdr_cmp);
    struct sb c = {0}, s = {0};
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(h[i].name, h[i - 1].name) == 0) {
            /* Join with the previous line: replace its '\n' by ','. */
            c.s[--c.len] = '\0';
            sb_addc(&c, ',');
        } else {
            if (i > 0)
                sb_addc(&s, ';');
            sb_add(&s, h[i].name);
            sb_add(&c, h[i].name);
            sb_addc(&c, ':');
        }
        sb_add(&c, h[i].value);
        sb_addc(&c, '\n');
    }
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
    *canon = sb_steal(&c);
    *signed_out = sb_steal(&s);
}

/* ------------------------------------------------------------------ signing */

static enum qb_err hmac(const void *key, size_t keylen, const char *msg, unsigned char *out,
                        char *err, size_t errlen)
{
    unsigned int outlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out,
              &outlen) ||
        outlen != SHA256_DIGEST_LENGTH)
        return qb_failf(QB_ERR_INTERNAL, err, errlen, "sigv4: HMAC-SHA256 failed");
    return QB_OK;
}

static enum qb_err check_inputs(const struct sigv4_config *cfg, const struct sigv4_request *req,
                                char *err, size_t errlen)
{
    if (!cfg->access_key || !*cfg->access_key || !cfg->secret_key || !*cfg->secret_key)
        return qb_failf(QB_ERR_INVALID, err, errlen, "sigv4: missing access key or secret");
    if (!cfg->region || !*cfg->region || !cfg->service || !*cfg->service)
        return qb_failf(QB_ERR_INVALID, err, errlen, "sigv4: missing region or service");
    if (!req->method || !*req->method || !req->payload_hash)
        return qb_failf(QB_ERR_INVALID, err, errlen, "sigv4: missing method or payload hash");
    if (!req->amz_date || strlen(req->amz_date) != SIGV4_AMZ_DATE_LEN || req->amz_date[8] != 'T')
        return qb_failf(QB_ERR_INVALID, err, errlen, "sigv4: amz_date must be YYYYMMDDTHHMMSSZ");
    if (!has_header(req, "host"))
        return qb_failf(QB_ERR_INVALID, err, errlen, "sigv4: the Host header must be signed");
    return QB_OK;
}

/* The one canonical request of both signing modes (see DESIGN): query is
 * the canonical query, canon the canonical header lines ("name:value\n"
 * each) and signed_headers their names.  Returns a new string. */
static char *canonical_request(const struct sigv4_config *cfg, const struct sigv4_request *req,
                               const char *query, const char *canon, const char *signed_headers)
{
    struct sb c = {0};
    sb_add(&c, req->method);
    sb_addc(&c, '\n');
    canonical_uri(&c, req->path, cfg->flags);
    sb_addc(&c, '\n');
    sb_add(&c, query);
    sb_addc(&c, '\n');
    sb_add(&c, canon);
    sb_addc(&c, '\n');
    sb_add(&c, signed_headers);
    sb_addc(&c, '\n');
    sb_add(&c, req->payload_hash);
    return sb_steal(&c);
}

/* From the canonical request in res: fills string_to_sign and signature. */
static enum qb_err finish(const struct sigv4_config *cfg, const struct sigv4_request *req,
                          const char *scope, struct sigv4_result *res, char *err, size_t errlen)
{
    char creq_hash[SIGV4_HEX_LEN + 1];
    sigv4_sha256_hex(res->canonical_request, strlen(res->canonical_request), creq_hash);
    res->string_to_sign =
        xasprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", req->amz_date, scope, creq_hash);

    char date[9];
    memcpy(date, req->amz_date, 8);
    date[8] = '\0';
    char *k0 = xasprintf("AWS4%s", cfg->secret_key);
    unsigned char k[SHA256_DIGEST_LENGTH], sig[SHA256_DIGEST_LENGTH];
    enum qb_err rc = hmac(k0, strlen(k0), date, k, err, errlen);
    if (!rc)
        rc = hmac(k, sizeof k, cfg->region, k, err, errlen);
    if (!rc)
        rc = hmac(k, sizeof k, cfg->service, k, err, errlen);
    if (!rc)
        rc = hmac(k, sizeof k, "aws4_request", k, err, errlen);
    if (!rc)
        rc = hmac(k, sizeof k, res->string_to_sign, sig, err, errlen);
    if (!rc)
        sigv4_hex(sig, sizeof sig, res->signature);
    /* The derived keys are as good as the secret for a day: wipe them. */
    OPENSSL_cleanse(k0, strlen(k0));
    OPENSSL_cleanse(k, sizeof k);
    free(k0);
    return rc;
}

static char *make_scope(const struct sigv4_config *cfg, const struct sigv4_request *req)
{
    return xasprintf("%.8s/%s/%s/aws4_request", req->amz_date, cfg->region, cfg->service);
}

static bool has_token(const struct sigv4_config *cfg)
{
    return cfg->session_token && *cfg->session_token;
}

void sigv4_result_free(struct sigv4_result *res)
{
    if (!res)
        return;
    QB_FREE(res->canonical_request);
    QB_FREE(res->string_to_sign);
    QB_FREE(res->signed_headers);
    QB_FREE(res->authorization);
    QB_FREE(res->query);
    memset(res->signature, 0, sizeof res->signature);
}

enum qb_err sigv4_sign_headers(const struct sigv4_config *cfg, const struct sigv4_request *req,
                               struct sigv4_result *res, char *err, size_t errlen)
{
    char *scope = NULL, *canon = NULL, *query = NULL;
    enum qb_err rc = check_inputs(cfg, req, err, errlen);
    if (rc)
        return rc;
    sigv4_result_free(res);

    /* Headers the signer adds unless the caller already has them. */
    const char *xn[3] = {NULL, NULL, NULL}, *xv[3] = {NULL, NULL, NULL};
    if (!has_header(req, "x-amz-date")) {
        xn[0] = "x-amz-date";
        xv[0] = req->amz_date;
    }
    if ((cfg->flags & SIGV4_CONTENT_SHA256) && !has_header(req, "x-amz-content-sha256")) {
        xn[1] = "x-amz-content-sha256";
        xv[1] = req->payload_hash;
    }
    if (has_token(cfg) && !(cfg->flags & SIGV4_UNSIGNED_TOKEN) &&
        !has_header(req, "x-amz-security-token")) {
        xn[2] = "x-amz-security-token";
        xv[2] = cfg->session_token;
    }
    canonical_headers(req, xn, xv, 3, &canon, &res->signed_headers);

    struct kvlist q = {0};
    parse_query(&q, req->query);
    query = kvlist_join(&q);
    kvlist_free(&q);

    res->canonical_request = canonical_request(cfg, req, query, canon, res->signed_headers);

    scope = make_scope(cfg, req);
    rc = finish(cfg, req, scope, res, err, errlen);
    if (rc)
        goto out;
    res->authorization =
        xasprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                  cfg->access_key, scope, res->signed_headers, res->signature);
out:
    free(scope);
    free(canon);
    free(query);
    return rc;
}

enum qb_err sigv4_presign(const struct sigv4_config *cfg, const struct sigv4_request *req,
                          int64_t expires_s, struct sigv4_result *res, char *err, size_t errlen)
{
    char *scope = NULL, *canon = NULL, *query = NULL;
    enum qb_err rc = check_inputs(cfg, req, err, errlen);
    if (rc)
        return rc;
    /* S3 caps presigned URLs at seven days. */
    if (expires_s < 1 || expires_s > 604800)
        return qb_failf(QB_ERR_INVALID, err, errlen, "sigv4: expiry must be 1..604800 seconds");
    sigv4_result_free(res);

    canonical_headers(req, NULL, NULL, 0, &canon, &res->signed_headers);
    scope = make_scope(cfg, req);
    char *cred = xasprintf("%s/%s", cfg->access_key, scope);
    char expires[24];
    snprintf(expires, sizeof expires, "%lld", (long long)expires_s);

    struct kvlist q = {0};
    parse_query(&q, req->query);
    kvlist_push_raw(&q, "X-Amz-Algorithm", "AWS4-HMAC-SHA256");
    kvlist_push_raw(&q, "X-Amz-Credential", cred);
    kvlist_push_raw(&q, "X-Amz-Date", req->amz_date);
    kvlist_push_raw(&q, "X-Amz-Expires", expires);
    kvlist_push_raw(&q, "X-Amz-SignedHeaders", res->signed_headers);
    bool signed_token = has_token(cfg) && !(cfg->flags & SIGV4_UNSIGNED_TOKEN);
    if (signed_token)
        kvlist_push_raw(&q, "X-Amz-Security-Token", cfg->session_token);
    query = kvlist_join(&q);
    kvlist_free(&q);
    free(cred);

    res->canonical_request = canonical_request(cfg, req, query, canon, res->signed_headers);

    rc = finish(cfg, req, scope, res, err, errlen);
    if (rc)
        goto out;
    struct sb u = {0};
    sb_add(&u, query);
    sb_add(&u, "&X-Amz-Signature=");
    sb_add(&u, res->signature);
    if (has_token(cfg) && !signed_token) {
        sb_add(&u, "&X-Amz-Security-Token=");
        sb_encode(&u, cfg->session_token, strlen(cfg->session_token), false);
    }
    res->query = sb_steal(&u);
out:
    free(scope);
    free(canon);
    free(query);
    return rc;
}
