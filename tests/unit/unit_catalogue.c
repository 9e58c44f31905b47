/* SPDX-License-Identifier: Apache-2.0
 *
 * unit_catalogue.c -- the unit tests' catalogues (unit_catalogue.h), on
 * the integration harness's catalogue_env.c.
 */
#include "unit_catalogue.h"
#include "catalogue_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool is_url(const char *target)
{
    return strstr(target, "://") != NULL;
}

bool unit_catalogue_new(const char *name, char *target, size_t len)
{
    if (catalogue_env_postgres())
        return catalogue_env_create(target, len);
    snprintf(target, len, "/tmp/qbackup-unit-%s-XXXXXX", name);
    int fd = mkstemp(target);
    if (fd < 0)
        return false;
    close(fd);
    unlink(target);
    return true;
}

void unit_catalogue_drop(const char *target)
{
    if (is_url(target)) {
        catalogue_env_drop(target);
        return;
    }
    char p[600];
    unlink(target);
    snprintf(p, sizeof p, "%s-wal", target);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", target);
    unlink(p);
}

bool unit_sql(const char *target, const char *sql)
{
    return is_url(target) ? catalogue_env_exec(target, NULL, sql)
                          : catalogue_env_exec(NULL, target, sql);
}

long long unit_sql_int(const char *target, const char *sql)
{
    return is_url(target) ? catalogue_env_int(target, NULL, sql)
                          : catalogue_env_int(NULL, target, sql);
}
