/* SPDX-License-Identifier: Apache-2.0 */
/* emu_main.c -- qdrant-emu: command line, startup and shutdown order.
 *
 * Startup: parse flags -> lay out DATA/ -> peer id -> libcurl global init
 * (before any thread) -> block SIGINT/SIGTERM (threads inherit the mask) ->
 * load collections -> optional startup restores (--snapshot,
 * --storage-snapshot, like `qdrant --snapshot`) -> HTTP daemon -> print
 * "listening on HOST:PORT".  Shutdown on SIGINT/SIGTERM: stop the daemon
 * (joins connection threads), wait for background jobs, free the store. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_http.h"
#include "emu_recover.h"
#include "emu_store.h"
#include "emu_tar.h"
#include "emu_util.h"

#define MAX_SNAPSHOT_ARGS 64

struct startup {
    const char *snapshots[MAX_SNAPSHOT_ARGS]; /* "FILE:NAME" */
    int nsnapshots;
    const char *storage_snapshot;
    int force;
};

static void usage(FILE *out)
{
    fprintf(out, "usage: qdrant-emu --data-dir DIR [--port N] [--host ADDR] [--api-key K]\n"
                 "                  [--read-only-api-key K] [--version X.Y.Z] [--cluster]\n"
                 "                  [--disable-url-recovery] [--snapshot FILE:NAME]...\n"
                 "                  [--storage-snapshot FILE] [--force-snapshot]\n"
                 "A faithful single-node Qdrant emulator for tests and demos; see\n"
                 "tests/emulators/qdrant/README.md.  --port 0 picks a free port; the bound\n"
                 "address is printed as 'listening on HOST:PORT'.\n");
}

static int parse_version(const char *v)
{
    struct emu_config *cfg = emu_cfg();
    if (sscanf(v, "%d.%d.%d", &cfg->ver_major, &cfg->ver_minor, &cfg->ver_patch) < 2)
        return -1;
    snprintf(cfg->version, sizeof(cfg->version), "%d.%d.%d", cfg->ver_major, cfg->ver_minor,
             cfg->ver_patch);
    return 0;
}

static int parse_args(int argc, char **argv, struct startup *su)
{
    struct emu_config *cfg = emu_cfg();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--cluster") == 0) {
            cfg->cluster_enabled = 1;
            takes = 0;
        } else if (strcmp(a, "--disable-url-recovery") == 0) {
            cfg->url_recovery_enabled = 0;
            takes = 0;
        } else if (strcmp(a, "--force-snapshot") == 0 || strcmp(a, "-f") == 0) {
            su->force = 1;
            takes = 0;
        } else if (!v) {
            fprintf(stderr, "qdrant-emu: %s needs a value\n", a);
            return -1;
        } else if (strcmp(a, "--port") == 0) {
            char *end;
            unsigned long p = strtoul(v, &end, 10);
            if (*end || p > 65535)
                return -1;
            cfg->port = (unsigned)p;
        } else if (strcmp(a, "--host") == 0) {
            cfg->host = v;
        } else if (strcmp(a, "--data-dir") == 0) {
            cfg->data_dir = v;
        } else if (strcmp(a, "--api-key") == 0) {
            cfg->api_key = *v ? v : NULL; /* empty key = unset, as in Qdrant */
        } else if (strcmp(a, "--read-only-api-key") == 0) {
            cfg->ro_key = *v ? v : NULL;
        } else if (strcmp(a, "--version") == 0) {
            if (parse_version(v) != 0) {
                fprintf(stderr, "qdrant-emu: bad --version %s\n", v);
                return -1;
            }
        } else if (strcmp(a, "--snapshot") == 0 || strcmp(a, "--collection-snapshot") == 0) {
            if (su->nsnapshots >= MAX_SNAPSHOT_ARGS || !strrchr(v, ':'))
                return -1;
            su->snapshots[su->nsnapshots++] = v;
        } else if (strcmp(a, "--storage-snapshot") == 0) {
            su->storage_snapshot = v;
        } else {
            fprintf(stderr, "qdrant-emu: unknown option %s\n", a);
            return -1;
        }
        i += takes;
    }
    if (!cfg->data_dir) {
        fprintf(stderr, "qdrant-emu: --data-dir is required\n");
        return -1;
    }
    return 0;
}

static int setup_dirs(void)
{
    struct emu_config *cfg = emu_cfg();
    char abs[EMU_PATH_MAX];
    if (emu_mkdirs(cfg->data_dir) != 0 || !realpath(cfg->data_dir, abs))
        return -1;
    if (emu_pathf(cfg->storage_dir, sizeof(cfg->storage_dir), "%s/storage/collections", abs) != 0 ||
        emu_pathf(cfg->snapshots_dir, sizeof(cfg->snapshots_dir), "%s/snapshots", abs) != 0 ||
        emu_pathf(cfg->tmp_dir, sizeof(cfg->tmp_dir), "%s/snapshots/tmp", abs) != 0)
        return -1;
    if (emu_mkdirs(cfg->storage_dir) != 0 || emu_mkdirs(cfg->snapshots_dir) != 0)
        return -1;
    emu_rm_rf(cfg->tmp_dir); /* leftovers of an interrupted run */
    if (emu_mkdirs(cfg->tmp_dir) != 0)
        return -1;
    /* A stable peer id, like Qdrant's raft state; kept below 2^53 so JSON
     * clients read it exactly. */
    char path[EMU_PATH_MAX];
    if (emu_pathf(path, sizeof(path), "%s/emu_state.json", abs) != 0)
        return -1;
    cJSON *state = emu_json_load(path);
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(state, "peer_id");
    if (cJSON_IsNumber(pid) && pid->valuedouble >= 1) {
        cfg->peer_id = (uint64_t)pid->valuedouble;
    } else {
        cfg->peer_id = emu_random_u63() & ((UINT64_C(1) << 52) - 1);
        if (!cfg->peer_id)
            cfg->peer_id = 1;
        cJSON_Delete(state);
        state = cJSON_CreateObject();
        cJSON_AddNumberToObject(state, "peer_id", (double)cfg->peer_id);
        if (emu_json_save(path, state) != 0) {
            cJSON_Delete(state);
            return -1;
        }
    }
    cJSON_Delete(state);
    return 0;
}

/* --snapshot FILE:NAME (Qdrant panics on an existing collection unless -f). */
static int restore_one(const char *file, const char *name, int force)
{
    struct emu_status st;
    if (emu_store_exists(name)) {
        if (!force) {
            fprintf(stderr,
                    "qdrant-emu: Collection %s already exists. Use --force-snapshot to "
                    "overwrite it.\n",
                    name);
            return -1;
        }
        emu_store_delete(name);
    }
    if (emu_recover_collection_file(name, file, &st) != 0) {
        fprintf(stderr, "qdrant-emu: can't restore %s from %s: %s\n", name, file, st.msg);
        return -1;
    }
    return 0;
}

static int startup_restores(const struct startup *su)
{
    for (int i = 0; i < su->nsnapshots; i++) {
        char file[EMU_PATH_MAX];
        const char *colon = strrchr(su->snapshots[i], ':');
        snprintf(file, sizeof(file), "%.*s", (int)(colon - su->snapshots[i]), su->snapshots[i]);
        if (restore_one(file, colon + 1, su->force) != 0)
            return -1;
    }
    if (!su->storage_snapshot)
        return 0;
    char work[EMU_PATH_MAX], cfgp[EMU_PATH_MAX];
    struct emu_status st;
    if (emu_pathf(work, sizeof(work), "%s/full-restore", emu_cfg()->tmp_dir) != 0 ||
        emu_mkdirs(work) != 0 || emu_tar_extract(su->storage_snapshot, work, &st) != 0 ||
        emu_pathf(cfgp, sizeof(cfgp), "%s/config.json", work) != 0) {
        fprintf(stderr, "qdrant-emu: can't unpack %s\n", su->storage_snapshot);
        return -1;
    }
    cJSON *cfg = emu_json_load(cfgp);
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(cfg, "collections_mapping");
    int rc = cJSON_IsObject(map) ? 0 : -1;
    const cJSON *e;
    cJSON_ArrayForEach(e, map)
    {
        char file[EMU_PATH_MAX];
        if (rc == 0 && (!cJSON_IsString(e) ||
                        emu_pathf(file, sizeof(file), "%s/%s", work, e->valuestring) != 0 ||
                        restore_one(file, e->string, su->force) != 0))
            rc = -1;
    }
    cJSON_Delete(cfg);
    emu_rm_rf(work);
    return rc;
}

int main(int argc, char **argv)
{
    struct emu_config *cfg = emu_cfg();
    cfg->host = "127.0.0.1";
    cfg->port = 6333;
    cfg->url_recovery_enabled = 1;
    cfg->json_limit = (size_t)32 << 20; /* Qdrant max_request_size_mb default */
    parse_version("1.19.0");
    struct startup su = {0};
    if (parse_args(argc, argv, &su) != 0) {
        usage(stderr);
        return 2;
    }
    if (setup_dirs() != 0) {
        emu_log("ERROR", "can't prepare data directory %s", cfg->data_dir);
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (emu_store_init() != 0 || startup_restores(&su) != 0) {
        emu_store_shutdown();
        curl_global_cleanup();
        return 1;
    }
    unsigned port = 0;
    if (emu_http_start(&port) != 0) {
        emu_store_shutdown();
        curl_global_cleanup();
        return 1;
    }
    printf("listening on %s:%u\n", cfg->host, port);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    emu_log("INFO", "signal %d: shutting down", sig);
    emu_http_stop();
    emu_store_shutdown();
    curl_global_cleanup();
    return 0;
}
