/* SPDX-License-Identifier: Apache-2.0 */
/* emu_util.c -- file system, hashing, time and formatting helpers, plus the
 * configuration singleton and the error/log primitives of emu_common.h. */
#include "emu_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* Written by main() before threads start, then read-only (emu_common.h). */
static struct emu_config g_cfg;

struct emu_config *emu_cfg(void)
{
    return &g_cfg;
}

int emu_version_at_least(int major, int minor)
{
    if (g_cfg.ver_major != major)
        return g_cfg.ver_major > major;
    return g_cfg.ver_minor >= minor;
}

int emu_fail(struct emu_status *st, unsigned http, const char *fmt, ...)
{
    va_list ap;
    st->http = http;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
    va_end(ap);
    return -1;
}

void emu_log(const char *level, const char *fmt, ...)
{
    char line[EMU_MSG_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "qdrant-emu %s: %s\n", level, line);
}

int emu_pathf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= size) {
        emu_log("ERROR", "path too long");
        return -1;
    }
    return 0;
}

int emu_mkdirs(const char *path)
{
    char tmp[EMU_PATH_MAX];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp))
        return -1;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return emu_is_dir(tmp) ? 0 : -1;
}

int emu_rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(sb.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char child[EMU_PATH_MAX];
        if (emu_pathf(child, sizeof(child), "%s/%s", path, de->d_name) != 0 ||
            emu_rm_rf(child) != 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(path) != 0)
        rc = -1;
    return rc;
}

int emu_is_dir(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int emu_is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

int emu_read_file(const char *path, size_t max, char **data, size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > max) {
        close(fd);
        return -1;
    }
    size_t size = (size_t)sb.st_size;
    char *buf = malloc(size + 1);
    if (!buf)
        abort();
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return 0;
}

int emu_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int emu_write_file_atomic(const char *path, const void *data, size_t len)
{
    char tmp[EMU_PATH_MAX];
    if (emu_pathf(tmp, sizeof(tmp), "%s.tmp", path) != 0)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    int rc = emu_write_all(fd, data, len);
    if (close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    if (rc != 0)
        unlink(tmp);
    return rc;
}

cJSON *emu_json_load(const char *path)
{
    char *data;
    size_t len;
    if (emu_read_file(path, (size_t)256 << 20, &data, &len) != 0)
        return NULL;
    cJSON *j = cJSON_ParseWithLength(data, len);
    free(data);
    return j;
}

int emu_json_save(const char *path, const cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);
    if (!text)
        return -1;
    int rc = emu_write_file_atomic(path, text, strlen(text));
    cJSON_free(text);
    return rc;
}

int emu_copy_fd(int in_fd, int out_fd)
{
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    if (!buf)
        abort();
    int rc = 0;
    for (;;) {
        ssize_t r = read(in_fd, buf, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = -1;
        if (r <= 0)
            break;
        if (emu_write_all(out_fd, buf, (size_t)r) != 0) {
            rc = -1;
            break;
        }
    }
    free(buf);
    return rc;
}

int emu_move_file(const char *from, const char *to)
{
    if (rename(from, to) == 0)
        return 0;
    if (errno != EXDEV)
        return -1;
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return -1;
    }
    int rc = emu_copy_fd(in, out);
    close(in);
    if (close(out) != 0)
        rc = -1;
    if (rc == 0)
        unlink(from);
    return rc;
}

void emu_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int emu_sha256_file(const char *path, char hex[65])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        abort();
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf)
        abort();
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf, CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = -1;
        if (r <= 0)
            break;
        EVP_DigestUpdate(md, buf, (size_t)r);
    }
    unsigned char dig[32];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(md, dig, &dlen);
    EVP_MD_CTX_free(md);
    free(buf);
    close(fd);
    emu_hex(dig, 32, hex);
    return rc;
}

int emu_is_sha256_hex(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (!ok)
            return 0;
    }
    return n == 64;
}

static void norm_hash(const char *in, char *out, size_t size)
{
    size_t o = 0;
    for (; *in && o + 1 < size; in++) {
        if (*in == ' ' || *in == '\t' || *in == '\n' || *in == '\r')
            continue;
        char c = *in;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        out[o++] = c;
    }
    out[o] = '\0';
}

int emu_hashes_equal(const char *a, const char *b)
{
    char na[160], nb[160];
    norm_hash(a, na, sizeof(na));
    norm_hash(b, nb, sizeof(nb));
    return strcmp(na, nb) == 0;
}

void emu_ts_name(char *buf, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, size, "%Y-%m-%d-%H-%M-%S", &tm);
}

int emu_birth_time(const char *path, char *buf, size_t size)
{
    struct statx sx;
    if (statx(AT_FDCWD, path, 0, STATX_BTIME, &sx) != 0 || !(sx.stx_mask & STATX_BTIME))
        return 0;
    time_t t = (time_t)sx.stx_btime.tv_sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    return 1;
}

double emu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void emu_sleep_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void emu_uuid4(char *buf)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        abort();
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char hex[33];
    emu_hex(b, 16, hex);
    snprintf(buf, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

uint64_t emu_random_u63(void)
{
    uint64_t v = 0;
    if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
        abort();
    v &= UINT64_C(0x7fffffffffffffff);
    return v ? v : 1;
}

int emu_u64_parse(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!s || !*s)
        return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

void emu_u64_str(uint64_t v, char *buf, size_t size)
{
    snprintf(buf, size, "%llu", (unsigned long long)v);
}

cJSON *emu_json_u64(uint64_t v)
{
    char buf[24];
    emu_u64_str(v, buf, sizeof(buf));
    cJSON *j = cJSON_CreateRaw(buf);
    if (!j)
        abort();
    return j;
}

void emu_json_add_u64(cJSON *obj, const char *key, uint64_t v)
{
    cJSON_AddItemToObject(obj, key, emu_json_u64(v));
}

void emu_format_f32(float v, char *buf, size_t size)
{
    for (int prec = 1; prec <= 9; prec++) {
        snprintf(buf, size, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            return;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int emu_url_decode(char *s, int plus)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '%') {
            int hi = hexval(p[1]);
            int lo = hi < 0 ? -1 : hexval(p[2]);
            if (lo < 0)
                return -1;
            *o++ = (char)(hi * 16 + lo);
            p += 2;
        } else if (plus && *p == '+') {
            *o++ = ' ';
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return 0;
}

int emu_buf_append(struct emu_buf *b, const void *p, size_t n)
{
    if (n > b->limit || b->len > b->limit - n)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            abort();
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

void emu_buf_free(struct emu_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
