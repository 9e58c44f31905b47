/* SPDX-License-Identifier: Apache-2.0
 *
 * tar_check.c -- whole-archive check of a streamed tar (see tar_check.h).
 *
 * DESIGN
 * Bytes are gathered into one 512-byte block at a time.  Each block is, by
 * the state we are in, a header, an extension header of a GNU sparse
 * entry, a data block to skip, the first or second end-of-archive zero
 * block, or trailing padding (zeros only).  A stream may end only in the
 * padding state, i.e. after both zero blocks.
 */
#include "util/tar_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAR_BLOCK 512

enum tar_state {
    TAR_HEADER,  /* expecting a header (or the first zero block) */
    TAR_SPARSE,  /* expecting a GNU sparse extension header */
    TAR_DATA,    /* skipping an entry's data blocks */
    TAR_END2,    /* one zero block seen: the second must follow */
    TAR_TRAILER, /* archive ended: only zero padding may follow */
};

struct tar_check {
    enum tar_state state;
    unsigned char block[TAR_BLOCK];
    size_t fill;        /* bytes in block */
    uint64_t offset;    /* stream offset of block[0] */
    uint64_t data_left; /* TAR_DATA: data bytes still to come (unpadded) */
    uint64_t data_size; /* the current entry's size, for messages */
    uint64_t entries;
    char name[101]; /* the current entry's name, for messages */
};

void tar_check_free(struct tar_check *t)
{
    free(t);
}

struct tar_check *tar_check_new(void)
{
    return xcalloc(1, sizeof(struct tar_check));
}

uint64_t tar_check_entries(const struct tar_check *t)
{
    return t->entries;
}

static bool all_zero(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* Parses a numeric header field: octal text (NUL/space terminated), or
 * GNU base-256 when the first byte has its high bit set. */
static bool parse_number(const unsigned char *f, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (f[0] & 0x80) {
        if (f[0] != 0x80)
            return false; /* negative or too large for us */
        for (size_t i = 1; i < n; i++) {
            if (v >> 56)
                return false;
            v = (v << 8) | f[i];
        }
        *out = v;
        return true;
    }
    size_t i = 0;
    while (i < n && f[i] == ' ')
        i++;
    bool any = false;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v >> 60)
            return false;
        v = v * 8 + (uint64_t)(f[i] - '0');
        any = true;
    }
    for (; i < n; i++)
        if (f[i] != ' ' && f[i] != 0)
            return false;
    *out = v;
    return any;
}

static bool checksum_ok(const unsigned char *h)
{
    uint64_t want = 0;
    if (!parse_number(h + 148, 8, &want))
        return false;
    uint64_t sum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++)
        sum += (i >= 148 && i < 156) ? ' ' : h[i];
    return sum == want;
}

static enum qb_err bad(struct tar_check *t, char *err, size_t errlen, const char *why)
{
    return qb_failf(QB_ERR_REMOTE, err, errlen,
                    "the snapshot stream is not a valid tar archive: %s at byte %llu", why,
                    (unsigned long long)t->offset);
}

static uint64_t padded(uint64_t n)
{
    return (n + TAR_BLOCK - 1) / TAR_BLOCK * TAR_BLOCK;
}

static enum qb_err header(struct tar_check *t, char *err, size_t errlen)
{
    const unsigned char *h = t->block;
    if (all_zero(h, TAR_BLOCK)) {
        t->state = TAR_END2;
        return QB_OK;
    }
    if (!checksum_ok(h))
        return bad(t, err, errlen, "a header with a wrong checksum");
    uint64_t size = 0;
    if (!parse_number(h + 124, 12, &size))
        return bad(t, err, errlen, "a header with an unreadable size");
    memcpy(t->name, h, 100);
    t->name[100] = 0;
    char type = (char)h[156];
    if (type == '1' || type == '2' || type == '3' || type == '4' || type == '5' || type == '6')
        size = 0; /* links, devices, directories and FIFOs carry no data */
    if (type != 'x' && type != 'g' && type != 'L' && type != 'K')
        t->entries++;
    t->data_size = size;
    t->data_left = size;
    if (type == 'S' && h[482]) {
        t->state = TAR_SPARSE;
        return QB_OK;
    }
    t->state = size ? TAR_DATA : TAR_HEADER;
    return QB_OK;
}

/* One complete block. */
static enum qb_err block(struct tar_check *t, char *err, size_t errlen)
{
    switch (t->state) {
    case TAR_HEADER:
        return header(t, err, errlen);
    case TAR_SPARSE:
        if (!t->block[504])
            t->state = t->data_left ? TAR_DATA : TAR_HEADER;
        return QB_OK;
    case TAR_DATA:
        t->data_left = t->data_left > TAR_BLOCK ? t->data_left - TAR_BLOCK : 0;
        if (!t->data_left)
            t->state = TAR_HEADER;
        return QB_OK;
    case TAR_END2:
        if (!all_zero(t->block, TAR_BLOCK))
            return bad(t, err, errlen, "data after a single end-of-archive block");
        t->state = TAR_TRAILER;
        return QB_OK;
    case TAR_TRAILER:
        if (!all_zero(t->block, TAR_BLOCK))
            return bad(t, err, errlen, "data after the end of the archive");
        return QB_OK;
    }
    return QB_OK;
}

enum qb_err tar_check_feed(struct tar_check *t, const void *data, size_t len, char *err,
                           size_t errlen)
{
    const unsigned char *p = data;
    while (len) {
        /* Data blocks are skipped without copying when whole. */
        if (t->state == TAR_DATA && t->fill == 0 && len >= TAR_BLOCK) {
            uint64_t whole = padded(t->data_left);
            uint64_t take = len / TAR_BLOCK * TAR_BLOCK;
            if (take > whole)
                take = whole;
            t->data_left = t->data_left > take ? t->data_left - take : 0;
            t->offset += take;
            p += take;
            len -= (size_t)take;
            if (!t->data_left)
                t->state = TAR_HEADER;
            continue;
        }
        size_t n = TAR_BLOCK - t->fill;
        if (n > len)
            n = len;
        memcpy(t->block + t->fill, p, n);
        t->fill += n;
        p += n;
        len -= n;
        if (t->fill < TAR_BLOCK)
            break;
        enum qb_err rc = block(t, err, errlen);
        if (rc)
            return rc;
        t->offset += TAR_BLOCK;
        t->fill = 0;
    }
    return QB_OK;
}

enum qb_err tar_check_finish(struct tar_check *t, char *err, size_t errlen)
{
    uint64_t total = t->offset + t->fill;
    if (t->state == TAR_TRAILER && all_zero(t->block, t->fill))
        return QB_OK;
    if (t->state == TAR_DATA || t->state == TAR_SPARSE)
        return qb_failf(QB_ERR_REMOTE, err, errlen,
                        "the snapshot stream was cut after %llu bytes, inside entry \"%s\" (%llu "
                        "of its %llu bytes missing): the archive is truncated",
                        (unsigned long long)total, t->name,
                        (unsigned long long)(t->data_left > t->fill ? t->data_left - t->fill : 0),
                        (unsigned long long)t->data_size);
    return qb_failf(QB_ERR_REMOTE, err, errlen,
                    "the snapshot stream ended after %llu bytes without the tar end-of-archive "
                    "marker: the archive is truncated",
                    (unsigned long long)total);
}
