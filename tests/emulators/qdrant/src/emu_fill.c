/* SPDX-License-Identifier: Apache-2.0 */
/* emu_fill.c -- fill content for POST /debug/fill (see emu_fill.h).
 *
 * DESIGN
 * "embeddings" imitates what dominates a real segment: vector storage
 * (float32, little-endian, as Qdrant's mmap storage keeps them) and the
 * payload storage (JSON documents).  Vectors are drawn from a normal
 * distribution around a fixed per-dimension offset (real embedding models
 * share a common direction) and scaled to unit length, as Qdrant stores
 * them for Cosine distance; their low mantissa bits are noise, their sign
 * and exponent bytes are not, which is what a compressor finds in real
 * ones.  Payloads are documents with an id, a title and a text from a
 * Zipf-weighted vocabulary, a category, tags, a date, counters.  Points go
 * in blocks of EMBED_BLOCK: the block's vectors, then its payload lines,
 * so a compressor's window sees both kinds the way a tar of several
 * segment files would.  The output stops at exactly mb MiB, mid-point. */
#include "emu_fill.h"
#include "emu_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILL_BUF    (1u << 20)
#define EMBED_BLOCK 64

/* Buffered writer of exactly `left` more bytes. */
struct fill_out {
    int fd;
    unsigned char *buf;
    size_t used;
    uint64_t left;
    int rc;
};

static int out_flush(struct fill_out *o)
{
    if (o->rc == 0 && o->used > 0)
        o->rc = emu_write_all(o->fd, o->buf, o->used);
    o->used = 0;
    return o->rc;
}

static void out_put(struct fill_out *o, const void *data, size_t n)
{
    const unsigned char *p = data;
    while (n > 0 && o->left > 0 && o->rc == 0) {
        size_t take = FILL_BUF - o->used;
        if (take > n)
            take = n;
        if (take > o->left)
            take = (size_t)o->left;
        memcpy(o->buf + o->used, p, take);
        o->used += take;
        o->left -= take;
        p += take;
        n -= take;
        if (o->used == FILL_BUF)
            out_flush(o);
    }
}

static uint64_t next(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Uniform in (0, 1). */
static double uniform(uint64_t *x)
{
    return ((double)(next(x) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller). */
static double normal(uint64_t *x)
{
    double u = uniform(x), v = uniform(x);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static const char *const vocab[] = {
    "the",      "of",          "and",        "to",          "in",         "a",        "is",
    "for",      "on",          "with",       "as",          "by",         "that",     "from",
    "this",     "are",         "be",         "at",          "or",         "an",       "it",
    "data",     "vector",      "search",     "model",       "index",      "query",    "user",
    "system",   "time",        "results",    "performance", "learning",   "network",  "image",
    "text",     "document",    "language",   "memory",      "server",     "cluster",  "storage",
    "backup",   "point",       "collection", "embedding",   "similarity", "distance", "neural",
    "training", "dataset",     "retrieval",  "semantic",    "product",    "customer", "order",
    "price",    "review",      "quality",    "support",     "release",    "version",  "update",
    "feature",  "security",    "policy",     "report",      "market",     "energy",   "health",
    "city",     "travel",      "music",      "movie",       "recipe",     "science",  "history",
    "finance",  "weather",     "sports",     "game",        "design",     "research", "analysis",
    "method",   "approach",    "problem",    "solution",    "example",    "process",  "service",
    "platform", "application", "interface",  "framework",   "library",    "function", "value",
    "number",   "table",       "record",     "field",       "event",      "stream",   "request",
    "response", "error",       "latency",    "throughput",  "scale",      "replica",  "shard",
    "snapshot", "restore",     "archive",    "compression", "encryption", "key",      "token",
    "session",  "account",     "profile",    "message",     "comment",
};

static const char *const categories[] = {"news",   "science", "technology", "sports",
                                         "health", "finance", "travel",     "food",
                                         "music",  "film",    "education",  "politics"};

/* A vocabulary word, frequent ones far more often (roughly Zipf). */
static const char *word(uint64_t *x)
{
    double u = uniform(x);
    size_t n = sizeof vocab / sizeof vocab[0];
    size_t i = (size_t)((double)n * u * u * u);
    return vocab[i < n ? i : n - 1];
}

/* Appends `count` words to s (capacity cap), separated by spaces. */
static size_t words(char *s, size_t len, size_t cap, uint64_t *x, unsigned count)
{
    for (unsigned i = 0; i < count && len + 32 < cap; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%s", i ? " " : "", word(x));
    return len;
}

/* One payload as a JSON line into s (capacity cap); returns its length. */
static size_t payload(char *s, size_t cap, uint64_t id, uint64_t *x)
{
    size_t n = (size_t)snprintf(s, cap, "{\"doc_id\":%llu,\"title\":\"", (unsigned long long)id);
    n = words(s, n, cap, x, 3 + (unsigned)(next(x) % 5));
    n += (size_t)snprintf(s + n, cap - n, "\",\"text\":\"");
    n = words(s, n, cap - 512, x, 15 + (unsigned)(next(x) % 46));
    n += (size_t)snprintf(s + n, cap - n, "\",\"category\":\"%s\",\"tags\":[\"%s\",\"%s\"],",
                          categories[next(x) % 12], word(x), word(x));
    uint64_t r = next(x);
    n += (size_t)snprintf(s + n, cap - n,
                          "\"lang\":\"%s\",\"published_at\":\"2025-%02u-%02uT%02u:%02u:%02uZ\","
                          "\"views\":%u,\"rating\":%.1f,\"in_stock\":%s,\"url\":\"https://"
                          "example.com/docs/%llu\"}\n",
                          r % 10 < 7 ? "en" : (r % 10 < 9 ? "de" : "fr"), (unsigned)(1 + r % 12),
                          (unsigned)(1 + (r >> 8) % 28), (unsigned)((r >> 16) % 24),
                          (unsigned)((r >> 24) % 60), (unsigned)((r >> 32) % 60),
                          (unsigned)((r >> 40) % 100000), 1.0 + (double)((r >> 20) % 41) / 10.0,
                          (r >> 60) & 1 ? "true" : "false", (unsigned long long)id);
    return n < cap ? n : cap - 1;
}

static void fill_embeddings(struct fill_out *o, uint64_t x, unsigned dim)
{
    float *bias = malloc(dim * sizeof *bias);
    float *vecs = malloc((size_t)EMBED_BLOCK * dim * sizeof *vecs);
    char *line = malloc(4096);
    if (!bias || !vecs || !line)
        abort();
    for (unsigned d = 0; d < dim; d++)
        bias[d] = (float)(0.35 * normal(&x));
    for (uint64_t id = 0; o->left > 0 && o->rc == 0; id += EMBED_BLOCK) {
        for (unsigned p = 0; p < EMBED_BLOCK; p++) {
            float *v = vecs + (size_t)p * dim;
            double sum = 0;
            for (unsigned d = 0; d < dim; d++) {
                v[d] = bias[d] + (float)normal(&x);
                sum += (double)v[d] * v[d];
            }
            float inv = (float)(1.0 / sqrt(sum > 0 ? sum : 1));
            for (unsigned d = 0; d < dim; d++)
                v[d] *= inv;
        }
        out_put(o, vecs, (size_t)EMBED_BLOCK * dim * sizeof *vecs);
        for (unsigned p = 0; p < EMBED_BLOCK; p++)
            out_put(o, line, payload(line, 4096, id + p, &x));
    }
    free(bias);
    free(vecs);
    free(line);
}

static void fill_random(struct fill_out *o, uint64_t x)
{
    uint64_t block[512];
    while (o->left > 0 && o->rc == 0) {
        for (size_t i = 0; i < sizeof block / sizeof block[0]; i++)
            block[i] = next(&x);
        out_put(o, block, sizeof block);
    }
}

int emu_fill_write(int fd, const char *seed, uint64_t mb, enum emu_fill_content content,
                   unsigned dim)
{
    /* FNV-style hash of the seed: each collection gets its own bytes. */
    uint64_t x = UINT64_C(0x9E3779B97F4A7C15);
    for (const char *p = seed; *p; p++)
        x = (x ^ (unsigned char)*p) * UINT64_C(0x100000001B3);
    struct fill_out o = {fd, malloc(FILL_BUF), 0, mb << 20, 0};
    if (!o.buf)
        abort();
    if (content == EMU_FILL_EMBEDDINGS)
        fill_embeddings(&o, x, dim);
    else
        fill_random(&o, x);
    if (o.rc == 0)
        out_flush(&o);
    free(o.buf);
    return o.rc;
}
