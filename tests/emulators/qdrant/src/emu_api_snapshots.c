/* SPDX-License-Identifier: Apache-2.0 */
/* emu_api_snapshots.c -- snapshot handlers.  With wait=false the operation
 * runs on a background thread and the client gets 202 whatever happens
 * (Qdrant's time_or_accept); failures are only logged, as in Qdrant. */
#include "emu_api_snapshots.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "emu_fileserve.h"
#include "emu_reply.h"
#include "emu_snapshot.h"

enum op { OP_CREATE, OP_DELETE };

struct snap_job {
    enum op op;
    enum emu_snap_kind kind;
    char *coll;
    unsigned shard;
    char *name;
};

static int run_op(const struct snap_job *j, cJSON **desc, struct emu_status *st)
{
    *desc = NULL;
    if (j->op == OP_DELETE)
        return emu_snap_delete(j->kind, j->coll, j->shard, j->name, st);
    switch (j->kind) {
    case EMU_SNAP_COLLECTION:
        return emu_snap_create_collection(j->coll, desc, st);
    case EMU_SNAP_SHARD:
        return emu_snap_create_shard(j->coll, j->shard, desc, st);
    default:
        return emu_snap_create_full(desc, st);
    }
}

static void job_free(struct snap_job *j)
{
    free(j->coll);
    free(j->name);
    free(j);
}

static void job_main(void *arg)
{
    struct snap_job *j = arg;
    cJSON *desc;
    struct emu_status st;
    if (run_op(j, &desc, &st) != 0)
        emu_log("WARN", "background snapshot operation failed: %s", st.msg);
    cJSON_Delete(desc);
    job_free(j);
}

static char *dup_or_null(const char *s)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        abort();
    return d;
}

static void run(struct emu_req *r, enum op op, enum emu_snap_kind kind, const char *coll,
                unsigned shard, const char *name)
{
    struct snap_job *j = calloc(1, sizeof(*j));
    if (!j)
        abort();
    j->op = op;
    j->kind = kind;
    j->coll = dup_or_null(coll);
    j->shard = shard;
    j->name = dup_or_null(name);
    if (!emu_req_wait(r)) {
        emu_http_spawn(job_main, j);
        emu_reply_accepted(r);
        return;
    }
    cJSON *desc;
    struct emu_status st;
    if (run_op(j, &desc, &st) != 0)
        emu_reply_st(r, &st);
    else
        emu_reply_ok(r, op == OP_DELETE ? cJSON_CreateTrue() : desc);
    job_free(j);
}

int emu_api_shard_param(struct emu_req *r, int idx, unsigned *shard)
{
    const char *s = r->params[idx];
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || v > 0xffffffffUL || s[0] == '-' || s[0] == '+') {
        char msg[256];
        snprintf(msg, sizeof(msg), "can not parse \"%.64s\" to a u32", s);
        emu_reply_text(r, 404, msg, "text/plain; charset=utf-8");
        return -1;
    }
    *shard = (unsigned)v;
    return 0;
}

static void reply_list(struct emu_req *r, enum emu_snap_kind kind, const char *coll, unsigned shard)
{
    struct emu_status st;
    cJSON *list = emu_snap_list(kind, coll, shard, &st);
    if (!list)
        emu_reply_st(r, &st);
    else
        emu_reply_ok(r, list);
}

/* Download errors are actix's default ResponseError: text/plain. */
static void download(struct emu_req *r, enum emu_snap_kind kind, const char *coll, unsigned shard,
                     const char *name)
{
    char path[EMU_PATH_MAX];
    struct emu_status st;
    if (emu_snap_path(kind, coll, shard, name, path, sizeof(path), &st) != 0) {
        emu_reply_text(r, st.http, st.msg, "text/plain; charset=utf-8");
        return;
    }
    emu_serve_file(r, path, name);
}

void emu_api_snap_list(struct emu_req *r)
{
    reply_list(r, EMU_SNAP_COLLECTION, r->params[0], 0);
}

void emu_api_snap_create(struct emu_req *r)
{
    run(r, OP_CREATE, EMU_SNAP_COLLECTION, r->params[0], 0, NULL);
}

void emu_api_snap_download(struct emu_req *r)
{
    download(r, EMU_SNAP_COLLECTION, r->params[0], 0, r->params[1]);
}

void emu_api_snap_delete(struct emu_req *r)
{
    run(r, OP_DELETE, EMU_SNAP_COLLECTION, r->params[0], 0, r->params[1]);
}

void emu_api_full_list(struct emu_req *r)
{
    reply_list(r, EMU_SNAP_FULL, NULL, 0);
}

void emu_api_full_create(struct emu_req *r)
{
    run(r, OP_CREATE, EMU_SNAP_FULL, NULL, 0, NULL);
}

void emu_api_full_download(struct emu_req *r)
{
    download(r, EMU_SNAP_FULL, NULL, 0, r->params[0]);
}

void emu_api_full_delete(struct emu_req *r)
{
    run(r, OP_DELETE, EMU_SNAP_FULL, NULL, 0, r->params[0]);
}

void emu_api_shard_list(struct emu_req *r)
{
    unsigned shard;
    if (emu_api_shard_param(r, 1, &shard) == 0)
        reply_list(r, EMU_SNAP_SHARD, r->params[0], shard);
}

void emu_api_shard_create(struct emu_req *r)
{
    unsigned shard;
    if (emu_api_shard_param(r, 1, &shard) == 0)
        run(r, OP_CREATE, EMU_SNAP_SHARD, r->params[0], shard, NULL);
}

void emu_api_shard_download(struct emu_req *r)
{
    unsigned shard;
    if (emu_api_shard_param(r, 1, &shard) == 0)
        download(r, EMU_SNAP_SHARD, r->params[0], shard, r->params[2]);
}

void emu_api_shard_delete(struct emu_req *r)
{
    unsigned shard;
    if (emu_api_shard_param(r, 1, &shard) == 0)
        run(r, OP_DELETE, EMU_SNAP_SHARD, r->params[0], shard, r->params[2]);
}

void emu_api_shard_stream(struct emu_req *r)
{
    unsigned shard;
    if (emu_api_shard_param(r, 1, &shard) != 0)
        return;
    char name[EMU_PATH_MAX];
    struct emu_status st;
    int fd = emu_snap_stream_shard(r->params[0], shard, name, sizeof(name), &st);
    if (fd < 0) {
        emu_reply_text(r, st.http, st.msg, "text/plain; charset=utf-8");
        return;
    }
    emu_serve_stream(r, fd, name);
}
