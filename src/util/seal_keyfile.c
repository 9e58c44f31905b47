/* SPDX-License-Identifier: Apache-2.0
 *
 * seal_keyfile.c -- reading and creating the secrets key file.
 */
#include "util/seal_keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

/* A key line is 44 characters; anything much longer is not a key file. */
#define KEYFILE_LINE_MAX 256

enum qb_err seal_keyfile_read(const char *path, struct seal_keyring *kr, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return qb_failf(QB_ERR_NOT_FOUND, err, errlen, "secrets key file %s does not exist",
                            path);
        return qb_failf(QB_ERR_IO, err, errlen, "secrets key file %s: %s", path, strerror(errno));
    }
    char line[KEYFILE_LINE_MAX];
    char source[600];
    enum qb_err rc = QB_OK;
    int lineno = 0, keys = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
            continue;
        snprintf(source, sizeof source, "secrets key file %s line %d", path, lineno);
        rc = seal_keyring_add_base64(kr, p, source, err, errlen);
        keys++;
    }
    if (!rc && ferror(f))
        rc = qb_failf(QB_ERR_IO, err, errlen, "secrets key file %s: read error", path);
    if (!rc && keys == 0)
        rc = qb_failf(QB_ERR_INVALID, err, errlen, "secrets key file %s holds no key", path);
    OPENSSL_cleanse(line, sizeof line);
    fclose(f);
    return rc;
}

/* fsync of the directory holding path, so the new name survives a crash
 * as well as the bytes. */
static void sync_parent(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    int fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

enum qb_err seal_keyfile_create(const char *path, struct seal_keyring *kr, char *err, size_t errlen)
{
    unsigned char key[SEAL_KEY_LEN];
    enum qb_err rc = seal_key_generate(key, err, errlen);
    if (rc)
        return rc;
    char *b64 = seal_key_to_base64(key);
    char *text = xasprintf("# qbackupd secrets key: seals the API keys and S3 credentials in the\n"
                           "# catalogue. Back it up with the catalogue; without it they cannot be\n"
                           "# read. First key seals, later ones only open (rotation).\n"
                           "%s\n",
                           b64);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = qb_failf(errno == EEXIST ? QB_ERR_CONFLICT : QB_ERR_IO, err, errlen,
                      "secrets key file %s: cannot create: %s", path, strerror(errno));
        goto out;
    }
    size_t len = strlen(text);
    bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok) {
        rc = qb_failf(QB_ERR_IO, err, errlen, "secrets key file %s: cannot write: %s", path,
                      strerror(errno));
        unlink(path); /* a half-written key file would be worse than none */
        goto out;
    }
    sync_parent(path);
    seal_keyring_add(kr, key);
out:
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(b64, strlen(b64));
    OPENSSL_cleanse(text, strlen(text));
    free(b64);
    free(text);
    return rc;
}
