/* SPDX-License-Identifier: Apache-2.0 */
/* emu_faults.c -- fault rules (see emu_faults.h). */
#include "emu_faults.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_FAIL, K_DROP, K_DELAY, K_THROTTLE, K_TRUNCATE, K_STALL, K_CHECKSUM };
static const char *const kind_names[] = {"fail",     "drop",  "delay",         "throttle",
                                         "truncate", "stall", "wrong_checksum"};

struct rule {
    enum kind kind;
    char method[16];  /* "" = any */
    char prefix[512]; /* "" = any path */
    long count;       /* remaining; 0 = unlimited */
    unsigned status;
    char message[512];
    int plain;
    int clean; /* truncate: end chunked bodies cleanly */
    long delay_ms;
    uint64_t bytes_per_sec;
    uint64_t after_bytes;
    long stall_ms;
    uint64_t id;
    struct rule *next;
};

/* Lock-documented singleton: list and next_id guarded by mu. */
static struct {
    pthread_mutex_t mu;
    struct rule *head, *tail;
    uint64_t next_id;
} g_faults = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 1};

static int matches(const struct rule *r, const char *method, const char *path)
{
    if (r->method[0] && strcmp(r->method, method) != 0)
        return 0;
    return strncmp(path, r->prefix, strlen(r->prefix)) == 0;
}

/* Caller holds mu.  Decrements a rule's count and unlinks it at zero. */
static void consume(struct rule **pp)
{
    struct rule *r = *pp;
    if (r->count == 0 || --r->count > 0)
        return;
    *pp = r->next;
    if (g_faults.tail == r) {
        g_faults.tail = NULL;
        for (struct rule *t = g_faults.head; t; t = t->next)
            g_faults.tail = t;
    }
    free(r);
}

int emu_faults_take_request(const char *method, const char *path, struct emu_fault_req *out)
{
    memset(out, 0, sizeof(*out));
    int hit = 0;
    pthread_mutex_lock(&g_faults.mu);
    struct rule **pp = &g_faults.head;
    while (*pp) {
        struct rule *r = *pp;
        int k = r->kind;
        if ((k != K_FAIL && k != K_DROP && k != K_DELAY) || !matches(r, method, path) ||
            (k != K_DELAY && (out->fail || out->drop))) {
            pp = &r->next;
            continue;
        }
        hit = 1;
        if (k == K_DELAY) {
            out->delay_ms += r->delay_ms;
        } else if (k == K_DROP) {
            out->drop = 1;
        } else {
            out->fail = 1;
            out->status = r->status;
            out->plain = r->plain;
            snprintf(out->message, sizeof(out->message), "%s", r->message);
        }
        struct rule *before = *pp;
        consume(pp);
        if (*pp == before)
            pp = &before->next;
    }
    pthread_mutex_unlock(&g_faults.mu);
    return hit;
}

int emu_faults_take_download(const char *method, const char *path, struct emu_fault_dl *out)
{
    memset(out, 0, sizeof(*out));
    int hit = 0;
    pthread_mutex_lock(&g_faults.mu);
    struct rule **pp = &g_faults.head;
    while (*pp) {
        struct rule *r = *pp;
        if ((r->kind != K_THROTTLE && r->kind != K_TRUNCATE && r->kind != K_STALL) ||
            !matches(r, method, path)) {
            pp = &r->next;
            continue;
        }
        hit = 1;
        if (r->kind == K_THROTTLE) {
            out->bytes_per_sec = r->bytes_per_sec;
        } else if (r->kind == K_TRUNCATE) {
            out->truncate = 1;
            out->truncate_clean = r->clean;
            out->truncate_after = r->after_bytes;
        } else {
            out->stall_ms = r->stall_ms;
            out->stall_after = r->after_bytes;
        }
        struct rule *before = *pp;
        consume(pp);
        if (*pp == before)
            pp = &before->next;
    }
    pthread_mutex_unlock(&g_faults.mu);
    return hit;
}

int emu_faults_take_checksum(void)
{
    int hit = 0;
    pthread_mutex_lock(&g_faults.mu);
    for (struct rule **pp = &g_faults.head; *pp; pp = &(*pp)->next) {
        if ((*pp)->kind == K_CHECKSUM) {
            hit = 1;
            consume(pp);
            break;
        }
    }
    pthread_mutex_unlock(&g_faults.mu);
    return hit;
}

static double num(const cJSON *rule, const char *key, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rule, key);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static const char *str(const cJSON *rule, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rule, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int emu_faults_add(const cJSON *rule, struct emu_status *st)
{
    const char *kind = str(rule, "kind");
    if (!kind)
        return emu_fail(st, 400, "fault needs \"kind\"");
    int k = -1;
    for (int i = 0; i < (int)(sizeof(kind_names) / sizeof(kind_names[0])); i++)
        if (strcmp(kind, kind_names[i]) == 0)
            k = i;
    if (k < 0)
        return emu_fail(st, 400, "unknown fault kind %s", kind);
    struct rule *r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    r->kind = (enum kind)k;
    const char *m = str(rule, "method"), *p = str(rule, "path_prefix"), *msg = str(rule, "message");
    snprintf(r->method, sizeof(r->method), "%s", m ? m : "");
    snprintf(r->prefix, sizeof(r->prefix), "%s", p ? p : "");
    r->count = (long)num(rule, "count", 1);
    r->status = (unsigned)num(rule, "status", 503);
    snprintf(r->message, sizeof(r->message), "%s",
             msg ? msg : "Service internal error: injected fault");
    r->plain = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rule, "plain"));
    r->clean = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rule, "clean"));
    r->delay_ms = (long)num(rule, "delay_ms", 1000);
    r->bytes_per_sec = (uint64_t)num(rule, "bytes_per_sec", 1024 * 1024);
    r->after_bytes = (uint64_t)num(rule, "after_bytes", 0);
    r->stall_ms = (long)num(rule, "stall_ms", 1000);
    if (r->count < 0 || r->status < 100 || r->status > 599 ||
        (k == K_THROTTLE && !r->bytes_per_sec)) {
        free(r);
        return emu_fail(st, 400, "bad fault parameters");
    }
    pthread_mutex_lock(&g_faults.mu);
    r->id = g_faults.next_id++;
    if (g_faults.tail)
        g_faults.tail->next = r;
    else
        g_faults.head = r;
    g_faults.tail = r;
    pthread_mutex_unlock(&g_faults.mu);
    return 0;
}

cJSON *emu_faults_list(void)
{
    cJSON *arr = cJSON_CreateArray();
    pthread_mutex_lock(&g_faults.mu);
    for (struct rule *r = g_faults.head; r; r = r->next) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)r->id);
        cJSON_AddStringToObject(o, "kind", kind_names[r->kind]);
        cJSON_AddStringToObject(o, "method", r->method);
        cJSON_AddStringToObject(o, "path_prefix", r->prefix);
        cJSON_AddNumberToObject(o, "count", (double)r->count);
        switch (r->kind) {
        case K_FAIL:
            cJSON_AddNumberToObject(o, "status", r->status);
            cJSON_AddStringToObject(o, "message", r->message);
            break;
        case K_DELAY:
            cJSON_AddNumberToObject(o, "delay_ms", (double)r->delay_ms);
            break;
        case K_THROTTLE:
            cJSON_AddNumberToObject(o, "bytes_per_sec", (double)r->bytes_per_sec);
            break;
        case K_TRUNCATE:
            cJSON_AddNumberToObject(o, "after_bytes", (double)r->after_bytes);
            cJSON_AddBoolToObject(o, "clean", r->clean);
            break;
        case K_STALL:
            cJSON_AddNumberToObject(o, "after_bytes", (double)r->after_bytes);
            cJSON_AddNumberToObject(o, "stall_ms", (double)r->stall_ms);
            break;
        default:
            break;
        }
        cJSON_AddItemToArray(arr, o);
    }
    pthread_mutex_unlock(&g_faults.mu);
    return arr;
}

void emu_faults_clear(void)
{
    pthread_mutex_lock(&g_faults.mu);
    struct rule *r = g_faults.head;
    g_faults.head = g_faults.tail = NULL;
    pthread_mutex_unlock(&g_faults.mu);
    while (r) {
        struct rule *next = r->next;
        free(r);
        r = next;
    }
}
