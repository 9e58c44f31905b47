/* SPDX-License-Identifier: Apache-2.0 */
/* emu_tar.c -- tar writer and extractor (see emu_tar.h).  Written from the
 * POSIX ustar description; no code taken from other projects. */
#include "emu_tar.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "emu_util.h"

#define BLOCK 512

void emu_tar_init(struct emu_tar *t, int fd, int hash)
{
    memset(t, 0, sizeof(*t));
    t->fd = fd;
    t->mtime = time(NULL);
    if (hash) {
        t->md = EVP_MD_CTX_new();
        if (!t->md || EVP_DigestInit_ex(t->md, EVP_sha256(), NULL) != 1)
            abort();
    }
}

void emu_tar_init_nested(struct emu_tar *t, struct emu_tar *parent)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    t->parent = parent;
    t->mtime = parent->mtime;
}

void emu_tar_cleanup(struct emu_tar *t)
{
    if (t->md)
        EVP_MD_CTX_free(t->md);
    t->md = NULL;
}

static void raw_write(struct emu_tar *t, const void *data, size_t len)
{
    if (t->err)
        return;
    if (t->parent) {
        raw_write(t->parent, data, len);
        t->err = t->parent->err;
    } else {
        const char *p = data;
        size_t left = len;
        while (left > 0) {
            if (t->idle_ms > 0) {
                /* A reader that stopped draining (route 15's consumer) must
                 * not hold the collection forever. */
                struct pollfd pfd = {.fd = t->fd, .events = POLLOUT};
                int pr = poll(&pfd, 1, (int)t->idle_ms);
                if (pr < 0 && errno == EINTR)
                    continue;
                if (pr <= 0) {
                    t->err = -1;
                    return;
                }
            }
            ssize_t w = write(t->fd, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                t->err = -1;
                return;
            }
            p += w;
            left -= (size_t)w;
        }
    }
    if (t->md)
        EVP_DigestUpdate(t->md, data, len);
    t->pos += len;
}

static void put_octal(char *field, size_t width, uint64_t v)
{
    /* width includes the terminating NUL. */
    snprintf(field, width, "%0*llo", (int)(width - 1), (unsigned long long)v);
}

static void put_size(char *field, uint64_t size)
{
    if (size < (UINT64_C(1) << 33)) {
        put_octal(field, 12, size);
        return;
    }
    /* GNU base-256: high bit set, big-endian binary in the remaining bytes. */
    memset(field, 0, 12);
    for (int i = 11; i >= 4; i--) {
        field[i] = (char)(size & 0xff);
        size >>= 8;
    }
    field[0] = (char)0x80;
}

static void write_header(struct emu_tar *t, const char *name, char type, uint64_t size,
                         unsigned mode)
{
    unsigned char h[BLOCK];
    memset(h, 0, sizeof(h));
    char *hc = (char *)h;
    size_t n = strlen(name);
    if (n <= 100) {
        memcpy(hc, name, n);
    } else {
        /* Try prefix/name split at a '/' first; else a GNU long-name record. */
        const char *split = NULL;
        for (const char *p = name + n - 1; p > name; p--) {
            if (*p == '/' && (size_t)(p - name) <= 155 && strlen(p + 1) <= 100 && p[1]) {
                split = p;
                break;
            }
        }
        if (split) {
            memcpy(hc + 345, name, (size_t)(split - name));
            memcpy(hc, split + 1, strlen(split + 1));
        } else {
            write_header(t, "././@LongLink", 'L', n + 1, 0644);
            raw_write(t, name, n + 1);
            char pad[BLOCK] = {0};
            size_t rem = (n + 1) % BLOCK;
            if (rem)
                raw_write(t, pad, BLOCK - rem);
            memcpy(hc, name, 100);
        }
    }
    put_octal(hc + 100, 8, mode);
    put_octal(hc + 108, 8, 0);
    put_octal(hc + 116, 8, 0);
    put_size(hc + 124, size);
    put_octal(hc + 136, 12, (uint64_t)t->mtime);
    memset(hc + 148, ' ', 8);
    hc[156] = type;
    memcpy(hc + 257, "ustar", 6);
    memcpy(hc + 263, "00", 2);
    unsigned sum = 0;
    for (int i = 0; i < BLOCK; i++)
        sum += h[i];
    snprintf(hc + 148, 8, "%06o", sum);
    hc[155] = ' ';
    raw_write(t, h, sizeof(h));
}

uint64_t emu_tar_entry_span(const char *name, uint64_t size)
{
    uint64_t span = BLOCK + (size + BLOCK - 1) / BLOCK * BLOCK;
    size_t n = strlen(name);
    if (n > 100) {
        int splittable = 0;
        for (const char *p = name + n - 1; p > name; p--) {
            if (*p == '/' && (size_t)(p - name) <= 155 && strlen(p + 1) <= 100 && p[1]) {
                splittable = 1;
                break;
            }
        }
        if (!splittable)
            span += BLOCK + (n + 1 + BLOCK - 1) / BLOCK * BLOCK;
    }
    return span;
}

uint64_t emu_tar_trailer_span(void)
{
    return 2 * BLOCK;
}

int emu_tar_add_dir(struct emu_tar *t, const char *name)
{
    char dname[EMU_PATH_MAX];
    size_t n = strlen(name);
    if (n + 2 > sizeof(dname))
        return t->err = -1;
    memcpy(dname, name, n + 1);
    if (n == 0 || dname[n - 1] != '/') {
        dname[n] = '/';
        dname[n + 1] = '\0';
    }
    write_header(t, dname, '5', 0, 0755);
    return t->err;
}

int emu_tar_begin_entry(struct emu_tar *t, const char *name, uint64_t size)
{
    write_header(t, name, '0', size, 0644);
    return t->err;
}

int emu_tar_end_entry(struct emu_tar *t, uint64_t size)
{
    char pad[BLOCK] = {0};
    size_t rem = (size_t)(size % BLOCK);
    if (rem)
        raw_write(t, pad, BLOCK - rem);
    return t->err;
}

int emu_tar_add_mem(struct emu_tar *t, const char *name, const void *data, size_t len)
{
    emu_tar_begin_entry(t, name, len);
    raw_write(t, data, len);
    return emu_tar_end_entry(t, len);
}

int emu_tar_add_file(struct emu_tar *t, const char *name, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        return t->err = -1;
    }
    uint64_t size = (uint64_t)sb.st_size;
    emu_tar_begin_entry(t, name, size);
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    if (!buf)
        abort();
    uint64_t left = size;
    while (left > 0 && !t->err) {
        size_t want = left < CHUNK ? (size_t)left : CHUNK;
        ssize_t r = read(fd, buf, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            t->err = -1; /* file shrank under us */
            break;
        }
        raw_write(t, buf, (size_t)r);
        left -= (uint64_t)r;
    }
    free(buf);
    close(fd);
    return emu_tar_end_entry(t, size);
}

int emu_tar_finish(struct emu_tar *t)
{
    char zero[2 * BLOCK] = {0};
    raw_write(t, zero, sizeof(zero));
    return t->err;
}

void emu_tar_digest(struct emu_tar *t, char hex[65])
{
    unsigned char dig[32];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(t->md, dig, &dlen);
    emu_hex(dig, 32, hex);
}

/* ---- extraction ---- */

static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return got == 0 ? 0 : -1;
        got += (size_t)r;
    }
    return 1;
}

static int parse_number(const char *f, size_t width, uint64_t *out)
{
    const unsigned char *u = (const unsigned char *)f;
    if (u[0] & 0x80) {
        uint64_t v = 0;
        for (size_t i = 1; i < width; i++)
            v = (v << 8) | u[i];
        *out = v;
        return 0;
    }
    uint64_t v = 0;
    size_t i = 0;
    while (i < width && (f[i] == ' ' || f[i] == '\0'))
        i++;
    for (; i < width && f[i] >= '0' && f[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(f[i] - '0');
    *out = v;
    return 0;
}

/* Strips "./" prefixes and rejects absolute paths and "..". */
static int clean_name(char *name)
{
    while (name[0] == '.' && name[1] == '/')
        memmove(name, name + 2, strlen(name + 2) + 1);
    if (name[0] == '/' || strcmp(name, ".") == 0)
        return name[0] == '/' ? -1 : 1;
    if (name[0] == '\0')
        return 1; /* "./" itself: nothing to do */
    const char *p = name;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return -1;
        p += n;
        if (*p == '/')
            p++;
    }
    size_t n = strlen(name);
    while (n > 0 && name[n - 1] == '/')
        name[--n] = '\0';
    return 0;
}

static int skip_bytes(int fd, uint64_t n)
{
    if (lseek(fd, (off_t)n, SEEK_CUR) >= 0)
        return 0;
    char buf[BLOCK];
    while (n > 0) {
        size_t want = n < BLOCK ? (size_t)n : BLOCK;
        if (read_full(fd, buf, want) != 1)
            return -1;
        n -= want;
    }
    return 0;
}

static int extract_body(int fd, const char *path, uint64_t size)
{
    char parent[EMU_PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
        if (emu_mkdirs(parent) != 0)
            return -1;
    }
    int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (out < 0)
        return -1;
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    if (!buf)
        abort();
    uint64_t left = size;
    int rc = 0;
    while (left > 0) {
        size_t want = left < CHUNK ? (size_t)left : CHUNK;
        if (read_full(fd, buf, want) != 1) {
            rc = -1;
            break;
        }
        const char *p = buf;
        size_t wl = want;
        while (wl > 0) {
            ssize_t w = write(out, p, wl);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = -1;
                break;
            }
            p += w;
            wl -= (size_t)w;
        }
        if (rc)
            break;
        left -= want;
    }
    free(buf);
    if (close(out) != 0)
        rc = -1;
    if (rc == 0 && size % BLOCK)
        rc = skip_bytes(fd, BLOCK - size % BLOCK);
    return rc;
}

/* Reads a pax header body and picks out "path=". */
static int read_pax_path(int fd, uint64_t size, char *out, size_t outsz)
{
    if (size > (1 << 20))
        return -1;
    uint64_t padded = (size + BLOCK - 1) / BLOCK * BLOCK;
    char *buf = malloc((size_t)padded + 1);
    if (!buf)
        abort();
    if (read_full(fd, buf, (size_t)padded) != 1) {
        free(buf);
        return -1;
    }
    buf[size] = '\0';
    out[0] = '\0';
    char *p = buf;
    while (p < buf + size) {
        char *sp = strchr(p, ' ');
        if (!sp)
            break;
        long len = strtol(p, NULL, 10);
        if (len <= 0 || p + len > buf + size)
            break;
        char *kv = sp + 1;
        if (strncmp(kv, "path=", 5) == 0) {
            size_t vlen = (size_t)(p + len - 1 - (kv + 5));
            if (vlen < outsz) {
                memcpy(out, kv + 5, vlen);
                out[vlen] = '\0';
            }
        }
        p += len;
    }
    free(buf);
    return 0;
}

int emu_tar_extract(const char *tar_path, const char *dest, struct emu_status *st)
{
    int fd = open(tar_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return emu_fail(st, 500, "Service internal error: can't open snapshot file");
    unsigned char h[BLOCK];
    char longname[EMU_PATH_MAX] = "";
    int rc = 0;
    for (;;) {
        int r = read_full(fd, h, BLOCK);
        if (r == 0)
            break; /* clean EOF (an empty file is an empty archive) */
        if (r < 0) {
            rc = emu_fail(st, 400,
                          "Wrong input: Failed to unpack snapshot: unexpected end of archive");
            break;
        }
        int zero = 1;
        for (int i = 0; i < BLOCK && zero; i++)
            zero = h[i] == 0;
        if (zero)
            break;
        const char *hc = (const char *)h;
        unsigned sum = 0, stored;
        for (int i = 0; i < BLOCK; i++)
            sum += (i >= 148 && i < 156) ? ' ' : h[i];
        uint64_t v;
        parse_number(hc + 148, 8, &v);
        stored = (unsigned)v;
        if (sum != stored) {
            rc = emu_fail(
                st, 400,
                "Wrong input: Failed to unpack snapshot: archive header checksum mismatch");
            break;
        }
        uint64_t size;
        parse_number(hc + 124, 12, &size);
        char type = hc[156];
        char name[EMU_PATH_MAX];
        if (longname[0]) {
            snprintf(name, sizeof(name), "%s", longname);
            longname[0] = '\0';
        } else if (memcmp(hc + 257, "ustar", 5) == 0 && hc[345]) {
            snprintf(name, sizeof(name), "%.155s/%.100s", hc + 345, hc);
        } else {
            snprintf(name, sizeof(name), "%.100s", hc);
        }
        if (type == 'L' || type == 'x') {
            if (type == 'L') {
                if (size >= sizeof(longname) ||
                    read_full(fd, longname, (size_t)((size + BLOCK - 1) / BLOCK * BLOCK)) != 1) {
                    rc = emu_fail(st, 400, "Wrong input: Failed to unpack snapshot: bad long name");
                    break;
                }
                longname[size] = '\0';
            } else if (read_pax_path(fd, size, longname, sizeof(longname)) != 0) {
                rc = emu_fail(st, 400, "Wrong input: Failed to unpack snapshot: bad pax header");
                break;
            }
            continue;
        }
        if (type == 'g') {
            if (skip_bytes(fd, (size + BLOCK - 1) / BLOCK * BLOCK) != 0)
                break;
            continue;
        }
        int cn = clean_name(name);
        if (cn < 0) {
            rc = emu_fail(st, 400, "Wrong input: Failed to unpack snapshot: unsafe path %s", name);
            break;
        }
        char out[EMU_PATH_MAX];
        if (emu_pathf(out, sizeof(out), "%s/%s", dest, name) != 0) {
            rc = emu_fail(st, 400, "Wrong input: Failed to unpack snapshot: path too long");
            break;
        }
        if (type == '5') {
            if (cn == 0 && emu_mkdirs(out) != 0) {
                rc = emu_fail(st, 500, "Service internal error: can't create directory");
                break;
            }
            continue;
        }
        if (type != '0' && type != '\0' && type != '7') {
            rc = emu_fail(
                st, 400,
                "Wrong input: Failed to unpack snapshot: unsupported entry type '%c' for %s", type,
                name);
            break;
        }
        if (cn != 0 || extract_body(fd, out, size) != 0) {
            rc = emu_fail(st, 400, "Wrong input: Failed to unpack snapshot: can't unpack %s", name);
            break;
        }
    }
    close(fd);
    return rc;
}
