/* SPDX-License-Identifier: Apache-2.0 */
/* emu_reqlog.c -- bounded request log (see emu_reqlog.h). */
#include "emu_reqlog.h"

#include <pthread.h>
#include <stdlib.h>

/* Lock-documented singleton: every field is guarded by mu. */
static struct {
    pthread_mutex_t mu;
    cJSON *ring[EMU_REQLOG_MAX];
    uint64_t seq[EMU_REQLOG_MAX];
    size_t start, count; /* oldest slot, number of entries */
    uint64_t next_seq;
    uint64_t dropped; /* entries pushed out of the ring */
} g_log = {.mu = PTHREAD_MUTEX_INITIALIZER, .next_seq = 1};

uint64_t emu_reqlog_add(cJSON *entry)
{
    pthread_mutex_lock(&g_log.mu);
    uint64_t seq = g_log.next_seq++;
    cJSON_AddNumberToObject(entry, "seq", (double)seq);
    if (g_log.count == EMU_REQLOG_MAX) {
        cJSON_Delete(g_log.ring[g_log.start]);
        g_log.start = (g_log.start + 1) % EMU_REQLOG_MAX;
        g_log.count--;
        g_log.dropped++;
    }
    size_t slot = (g_log.start + g_log.count) % EMU_REQLOG_MAX;
    g_log.ring[slot] = entry;
    g_log.seq[slot] = seq;
    g_log.count++;
    pthread_mutex_unlock(&g_log.mu);
    return seq;
}

void emu_reqlog_set(uint64_t seq, const char *field, cJSON *value)
{
    pthread_mutex_lock(&g_log.mu);
    for (size_t i = 0; i < g_log.count; i++) {
        size_t slot = (g_log.start + g_log.count - 1 - i) % EMU_REQLOG_MAX;
        if (g_log.seq[slot] != seq)
            continue;
        cJSON_DeleteItemFromObjectCaseSensitive(g_log.ring[slot], field);
        cJSON_AddItemToObject(g_log.ring[slot], field, value);
        value = NULL;
        break;
    }
    pthread_mutex_unlock(&g_log.mu);
    cJSON_Delete(value); /* entry already pushed out or cleared */
}

cJSON *emu_reqlog_dump(void)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(doc, "requests");
    pthread_mutex_lock(&g_log.mu);
    for (size_t i = 0; i < g_log.count; i++)
        cJSON_AddItemToArray(arr,
                             cJSON_Duplicate(g_log.ring[(g_log.start + i) % EMU_REQLOG_MAX], 1));
    cJSON_AddNumberToObject(doc, "dropped", (double)g_log.dropped);
    pthread_mutex_unlock(&g_log.mu);
    return doc;
}

void emu_reqlog_clear(void)
{
    pthread_mutex_lock(&g_log.mu);
    for (size_t i = 0; i < g_log.count; i++)
        cJSON_Delete(g_log.ring[(g_log.start + i) % EMU_REQLOG_MAX]);
    g_log.start = g_log.count = 0;
    g_log.dropped = 0;
    pthread_mutex_unlock(&g_log.mu);
}
