/* SPDX-License-Identifier: Apache-2.0
 *
 * storage_janitor.c -- incomplete-write cleanup per backend.
 */
#include "storage/storage_janitor.h"
#include "storage/storage_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The folder backend writes ".qb-tmp.<name>.<random>" beside the final
 * name (storage_local.c); remove every such file for key's name. */
static enum qb_err discard_local(struct storage *st, const char *key, char *err, size_t errlen)
{
    const char *root = st->url + strlen("file://");
    char *path = xasprintf("%s/%s", root, key);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    const char *name = slash + 1;
    char *prefix = xasprintf("%s%s.", STORAGE_TMP_PREFIX, name);
    char *side_prefix = xasprintf("%s%s%s.", STORAGE_TMP_PREFIX, name, STORAGE_SIDECAR_SUFFIX);
    enum qb_err rc = QB_OK;
    DIR *d = opendir(path);
    if (!d) {
        if (errno != ENOENT)
            rc = qb_failf(QB_ERR_IO, err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 &&
            strncmp(e->d_name, side_prefix, strlen(side_prefix)) != 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) != 0 && errno != ENOENT) {
            rc = qb_failf(QB_ERR_IO, err, errlen, "removing %s/%s: %s", path, e->d_name,
                          strerror(errno));
            break;
        }
    }
    closedir(d);
out:
    free(side_prefix);
    free(prefix);
    free(path);
    return rc;
}

enum qb_err storage_discard_incomplete(struct storage *st, const char *key, char *err,
                                       size_t errlen)
{
    enum qb_err rc = storage_key_check(key, err, errlen);
    if (rc)
        return rc;
    if (st->kind == STORAGE_LOCAL)
        return discard_local(st, key, err, errlen);
    return storage_s3_discard_uploads(st, key, err, errlen);
}
