/* SPDX-License-Identifier: Apache-2.0 */
/* emu_main.c -- qdrant-emu: command line, startup and shutdown order.
 *
 * Startup: parse flags -> lay out DATA/ -> peer id -> libcurl global init
 * (before any thread) -> block SIGINT/SIGTERM (threads inherit the mask) ->
 * bind the port -> register in the cluster state (META/cluster.json) ->
 * load collections and reconcile them with the state -> optional startup
 * restores (--snapshot, --storage-snapshot, like `qdrant --snapshot`) ->
 * HTTP daemon and the sync thread -> print "listening on HOST:PORT".
 * Shutdown on SIGINT/SIGTERM: stop the daemon (joins connection threads),
 * wait for background jobs, stop the sync thread, free the store. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "emu_api_collections.h"
#include "emu_http.h"
#include "emu_meta.h"
#include "emu_ops.h"
#include "emu_recover.h"
#include "emu_store.h"
#include "emu_sync.h"
#include "emu_tar.h"
#include "emu_topo.h"
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
                 "                  [--cluster-dir DIR] [--p2p-port N] [--peer-id N]\n"
                 "                  [--heal-ms N] [--disable-url-recovery]\n"
                 "                  [--snapshot FILE:NAME]... [--storage-snapshot FILE]\n"
                 "                  [--force-snapshot]\n"
                 "A faithful Qdrant emulator for tests and demos, one process per peer;\n"
                 "see tests/emulators/qdrant/README.md.  --port 0 picks a free port; the\n"
                 "bound address is printed as 'listening on HOST:PORT'.\n");
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
        } else if (strcmp(a, "--cluster-dir") == 0) {
            cfg->cluster_dir = v;
            cfg->cluster_enabled = 1;
        } else if (strcmp(a, "--p2p-port") == 0) {
            char *end;
            unsigned long p = strtoul(v, &end, 10);
            if (*end || p > 65535)
                return -1;
            cfg->p2p_port = (unsigned)p;
        } else if (strcmp(a, "--peer-id") == 0) {
            if (emu_u64_parse(v, &cfg->peer_id) != 0 || cfg->peer_id == 0) {
                fprintf(stderr, "qdrant-emu: --peer-id wants a decimal u64 above 0\n");
                return -1;
            }
            cfg->peer_id_given = 1;
        } else if (strcmp(a, "--heal-ms") == 0) {
            char *end;
            long ms = strtol(v, &end, 10);
            if (*end || ms < 0)
                return -1;
            cfg->heal_ms = ms;
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

/* A stable peer id, like Qdrant's raft state: --peer-id, else the one kept
 * in DATA/emu_state.json, else a new random one.  In cluster mode new ids
 * lie in [2^60, 2^63), above 2^53, so a client that reads ids as doubles is
 * caught; a single node keeps them below 2^53 as before. */
static int peer_id(const char *abs)
{
    struct emu_config *cfg = emu_cfg();
    char path[EMU_PATH_MAX];
    if (emu_pathf(path, sizeof(path), "%s/emu_state.json", abs) != 0)
        return -1;
    cJSON *state = emu_json_load(path);
    const cJSON *pid = cJSON_GetObjectItemCaseSensitive(state, "peer_id");
    uint64_t stored = 0;
    if (cJSON_IsString(pid) && emu_u64_parse(pid->valuestring, &stored) != 0)
        stored = 0;
    else if (cJSON_IsNumber(pid) && pid->valuedouble >= 1)
        stored = (uint64_t)pid->valuedouble;
    cJSON_Delete(state);
    if (!cfg->peer_id_given) {
        cfg->peer_id = stored;
        if (!cfg->peer_id && cfg->cluster_enabled)
            cfg->peer_id = (UINT64_C(1) << 60) +
                           emu_random_u63() % ((UINT64_C(1) << 63) - (UINT64_C(1) << 60));
        else if (!cfg->peer_id)
            cfg->peer_id = (emu_random_u63() & ((UINT64_C(1) << 52) - 1)) | 1;
    }
    if (cfg->peer_id == stored)
        return 0;
    char id[24];
    emu_u64_str(cfg->peer_id, id, sizeof(id));
    state = cJSON_CreateObject();
    cJSON_AddStringToObject(state, "peer_id", id);
    int rc = emu_json_save(path, state);
    cJSON_Delete(state);
    return rc;
}

/* How this peer appears to the others: GET /cluster's uri shows the p2p
 * port (nothing listens there), peers call the REST url.  --p2p-port 0
 * shows the REST port instead, as a stand-in without a p2p port might. */
static void set_addresses(void)
{
    struct emu_config *cfg = emu_cfg();
    const char *h = strcmp(cfg->host, "localhost") == 0 ? "127.0.0.1" : cfg->host;
    int v6 = strchr(h, ':') != NULL;
    snprintf(cfg->p2p_uri, sizeof(cfg->p2p_uri), "http://%s%s%s:%u/", v6 ? "[" : "", h,
             v6 ? "]" : "", cfg->p2p_port ? cfg->p2p_port : cfg->port);
    snprintf(cfg->rest_url, sizeof(cfg->rest_url), "http://%s%s%s:%u", v6 ? "[" : "", h,
             v6 ? "]" : "", cfg->port);
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
    if (emu_pathf(cfg->meta_dir, sizeof(cfg->meta_dir), "%s", abs) != 0)
        return -1;
    if (cfg->cluster_dir) {
        char cabs[EMU_PATH_MAX];
        if (emu_mkdirs(cfg->cluster_dir) != 0 || !realpath(cfg->cluster_dir, cabs) ||
            emu_pathf(cfg->meta_dir, sizeof(cfg->meta_dir), "%s", cabs) != 0)
            return -1;
    }
    return peer_id(abs);
}

/* --snapshot FILE:NAME (Qdrant panics on an existing collection unless -f). */
static int restore_one(const char *file, const char *name, int force)
{
    struct emu_status st;
    cJSON *state = emu_meta_get();
    int exists = emu_topo_coll(state, name) != NULL;
    cJSON_Delete(state);
    if (exists) {
        if (!force) {
            fprintf(stderr,
                    "qdrant-emu: Collection %s already exists. Use --force-snapshot to "
                    "overwrite it.\n",
                    name);
            return -1;
        }
        emu_ops_delete(name);
    }
    if (emu_recover_collection_file(name, file, EMU_PRIO_SNAPSHOT, 1, &st) != 0) {
        fprintf(stderr, "qdrant-emu: can't restore %s from %s: %s\n", name, file, st.msg);
        return -1;
    }
    return 0;
}

/* The full snapshot's aliases (src/snapshots.rs: an existing alias makes
 * startup panic unless --force-snapshot). */
static int restore_aliases(const cJSON *aliases, int force)
{
    cJSON *state = emu_meta_get();
    cJSON *actions = cJSON_CreateArray();
    int rc = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, aliases)
    {
        if (!cJSON_IsString(a))
            continue;
        if (!force && cJSON_GetObjectItemCaseSensitive(
                          cJSON_GetObjectItemCaseSensitive(state, "aliases"), a->string)) {
            fprintf(stderr,
                    "qdrant-emu: Alias %s already exists. Use --force-snapshot to "
                    "overwrite it.\n",
                    a->string);
            rc = -1;
        }
        cJSON *op = cJSON_CreateObject();
        cJSON *ca = cJSON_AddObjectToObject(op, "create_alias");
        cJSON_AddStringToObject(ca, "collection_name", a->valuestring);
        cJSON_AddStringToObject(ca, "alias_name", a->string);
        cJSON_AddItemToArray(actions, op);
    }
    struct emu_status st;
    if (rc == 0 && emu_ops_aliases(actions, &st) != 0) {
        fprintf(stderr, "qdrant-emu: can't restore aliases: %s\n", st.msg);
        rc = -1;
    }
    cJSON_Delete(actions);
    cJSON_Delete(state);
    return rc;
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
    if (rc == 0)
        rc = restore_aliases(cJSON_GetObjectItemCaseSensitive(cfg, "collections_aliases"),
                             su->force);
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
    cfg->p2p_port = 6335;
    cfg->heal_ms = 300;
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
    if (emu_http_bind() != 0) {
        curl_global_cleanup();
        return 1;
    }
    set_addresses();
    if (emu_meta_init() != 0 || emu_meta_register() != 0 || emu_store_init() != 0 ||
        emu_sync_init() != 0 || startup_restores(&su) != 0) {
        emu_http_stop();
        emu_store_shutdown();
        curl_global_cleanup();
        return 1;
    }
    emu_http_set_prepare(emu_api_prepare);
    if (emu_http_start() != 0 || emu_sync_start() != 0) {
        emu_http_stop();
        emu_store_shutdown();
        curl_global_cleanup();
        return 1;
    }
    unsigned port = cfg->port;
    printf("listening on %s:%u\n", cfg->host, port);
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    emu_log("INFO", "signal %d: shutting down", sig);
    emu_http_stop();
    emu_sync_stop();
    emu_store_shutdown();
    curl_global_cleanup();
    return 0;
}
