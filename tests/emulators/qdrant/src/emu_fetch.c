/* SPDX-License-Identifier: Apache-2.0 */
/* emu_fetch.c -- snapshot locations of recovery routes 5 and 16 (see
 * emu_fetch.h).  Caveat: an http(s) snapshot is downloaded to a temp file
 * and then unpacked; Qdrant unpacks while downloading.  The observable
 * results (status codes, messages, final data) are the same. */
#include "emu_fetch.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_util.h"

static const char *reason_phrase(long code)
{
    switch (code) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 408:
        return "Request Timeout";
    case 410:
        return "Gone";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "";
    }
}

static size_t curl_write(void *ptr, size_t size, size_t nmemb, void *userdata)
{
    int fd = *(int *)userdata;
    size_t n = size * nmemb;
    const char *p = ptr;
    size_t left = n;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w <= 0)
            return 0; /* aborts the transfer */
        p += w;
        left -= (size_t)w;
    }
    return n;
}

static int download(const char *url, const char *api_key, char *path, size_t size,
                    struct emu_status *st)
{
    if (!emu_cfg()->url_recovery_enabled)
        return emu_fail(st, 403,
                        "Forbidden: Snapshot recovery from remote URLs is disabled in the "
                        "configuration");
    char dir[EMU_PATH_MAX];
    if (emu_pathf(dir, sizeof(dir), "%s/download", emu_cfg()->tmp_dir) != 0 ||
        emu_mkdirs(dir) != 0 || emu_pathf(path, size, "%s/download-XXXXXX", dir) != 0)
        return emu_fail(st, 500, "Service internal error: can't create temp directory");
    int fd = mkstemp(path);
    if (fd < 0)
        return emu_fail(st, 500, "Service internal error: can't create temp file");
    CURL *h = curl_easy_init();
    if (!h)
        abort();
    struct curl_slist *hdrs = NULL;
    char hk[1024];
    if (api_key) {
        snprintf(hk, sizeof(hk), "api-key: %s", api_key);
        hdrs = curl_slist_append(hdrs, hk);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &fd);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L); /* Qdrant: 60 s stall timeout */
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    CURLcode cc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    int closed = close(fd);
    int rc = 0;
    if (cc == CURLE_OK && (code < 200 || code > 299))
        rc = emu_fail(st, 400, "Wrong input: Failed to download tar from URL: status - %ld %s",
                      code, reason_phrase(code));
    else if (cc != CURLE_OK)
        rc = emu_fail(st, 500, "Service internal error: error sending request for url (%s): %s",
                      url, curl_easy_strerror(cc));
    else if (closed != 0)
        rc = emu_fail(st, 500, "Service internal error: can't write downloaded snapshot");
    if (rc != 0)
        unlink(path);
    return rc;
}

/* file://[localhost]/abs/path -> checked local path (CONTRACT.md §1, §5). */
static int file_location(const char *url, char *path, size_t size, struct emu_status *st)
{
    const char *rest = url + 7; /* after "file://" */
    const char *slash = strchr(rest, '/');
    size_t hostlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (!slash || (hostlen != 0 && !(hostlen == 9 && strncmp(rest, "localhost", 9) == 0)))
        return emu_fail(st, 400,
                        "Bad request: Invalid snapshot URI, file path must be absolute or on "
                        "localhost");
    char decoded[EMU_PATH_MAX];
    snprintf(decoded, sizeof(decoded), "%s", slash);
    char *q = strpbrk(decoded, "?#");
    if (q)
        *q = '\0';
    if (emu_url_decode(decoded, 0) != 0)
        return emu_fail(
            st, 400,
            "Bad request: Invalid snapshot URI, file path must be absolute or on localhost");
    if (access(decoded, F_OK) != 0)
        return emu_fail(st, 400, "Bad request: Snapshot file \"%s\" does not exist", decoded);
    char canon[EMU_PATH_MAX], base[EMU_PATH_MAX];
    if (!realpath(decoded, canon))
        return emu_fail(st, 400, "Bad request: Failed to resolve snapshot path \"%s\"", decoded);
    if (!realpath(emu_cfg()->snapshots_dir, base))
        return emu_fail(st, 500, "Service internal error: Failed to resolve snapshots directory");
    size_t bl = strlen(base);
    if (strncmp(canon, base, bl) != 0 || (canon[bl] != '/' && canon[bl] != '\0'))
        return emu_fail(st, 403,
                        "Forbidden: Snapshot file path must be inside the snapshots directory "
                        "\"%s\"",
                        base);
    return emu_pathf(path, size, "%s", canon) == 0
               ? 0
               : emu_fail(st, 500, "Service internal error: path too long");
}

int emu_fetch_is_name(const char *loc)
{
    const char *sep = strstr(loc, "://");
    const char *colon = strchr(loc, ':');
    return !colon || (sep && colon != sep);
}

int emu_fetch(const char *loc, const char *api_key, const char *shard_dir, char *path, size_t size,
              int *is_temp, struct emu_status *st)
{
    *is_temp = 0;
    const char *sep = strstr(loc, "://");
    const char *colon = strchr(loc, ':');
    if (shard_dir && emu_fetch_is_name(loc)) {
        /* A bare snapshot name in the shard's snapshot directory. */
        if (strchr(loc, '/') || strcmp(loc, "..") == 0 ||
            emu_pathf(path, size, "%s/%s", shard_dir, loc) != 0 || !emu_is_file(path))
            return emu_fail(st, 404, "Not found: Snapshot %s not found", loc);
        return 0;
    }
    if (!colon || colon == loc)
        return emu_fail(st, 400, "Format error in JSON body: relative URL without a base");
    size_t sl = (size_t)(colon - loc);
    char scheme[32];
    snprintf(scheme, sizeof(scheme), "%.*s", (int)(sl < 31 ? sl : 31), loc);
    for (char *p = scheme; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0) {
        if (download(loc, api_key, path, size, st) != 0)
            return -1;
        *is_temp = 1;
        return 0;
    }
    if (strcmp(scheme, "file") == 0 && shard_dir)
        return emu_fail(st, 400,
                        "Bad request: Invalid snapshot URL %s: URLs with file scheme are not "
                        "supported",
                        loc);
    if (strcmp(scheme, "file") == 0 && sep == colon)
        return file_location(loc, path, size, st);
    return emu_fail(st, 400, "Bad request: URL %s with scheme %s is not supported", loc, scheme);
}
