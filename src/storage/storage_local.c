/* SPDX-License-Identifier: Apache-2.0
 *
 * storage_local.c -- the local-folder backend of storage.h (file:///dir),
 * the embedded default.  Owns the on-disk layout: key "a/b/c" is the file
 * <root>/a/b/c, its checksum the sidecar <root>/a/b/c.sha256 (sha256sum
 * format, so `cd <root>/a/b && sha256sum -c c.sha256` checks it by hand).
 *
 * DESIGN
 *   A write goes to ".qb-tmp.<name>.<random>" in the object's own folder
 *   (so the final rename never crosses a file system), is fsynced, and is
 *   renamed into place after its sidecar; the folder is fsynced after each
 *   rename.  The sidecar goes first so that, after a crash at any point, a
 *   data file under its final name always has its checksum beside it; the
 *   worst left behind is a temp file or an orphan sidecar, neither of which
 *   is ever listed.  Delete removes data before sidecar for the same reason.
 *   All paths are resolved relative to an fd on the root, one validated
 *   segment at a time with O_NOFOLLOW, so neither a key nor a symlink
 *   planted inside the root can reach outside it.
 *
 * Caveats
 *   Replacing an existing key is two renames: a crash between them pairs
 *   the old data with the new sidecar, which storage_verify() reports.
 *   Empty folders left by deletes are not removed (a concurrent writer may
 *   be about to use them).  A crashed writer's temp file stays until
 *   someone removes ".qb-tmp.*" files.
 */
#include "storage/storage_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/types.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (1u << 20) /* large enough that syscalls are not the cost */

struct local {
    struct storage base;
    char *root; /* "/abs/dir" without a trailing slash; "/" for the root */
    int rootfd; /* O_DIRECTORY on root, for the *at() calls */
};

struct local_writer {
    struct storage_writer base;
    struct local *lo;
    char *path;    /* final absolute path, for messages and the location */
    int dirfd;     /* the object's folder */
    char *name;    /* final name in dirfd */
    char *tmp;     /* temp data name in dirfd; NULL once renamed */
    char *sidetmp; /* temp sidecar name in dirfd, while it exists */
    int fd;        /* temp data file; -1 once closed */
    EVP_MD_CTX *sha;
    uint64_t size;
};

static const struct storage_ops local_ops;

static char *abs_path(const struct local *lo, const char *key)
{
    return xasprintf("%s/%s", strcmp(lo->root, "/") == 0 ? "" : lo->root, key);
}

static enum qb_err fail_errno(int e, const char *what, const char *path, char *err, size_t errlen)
{
    enum qb_err rc = e == ENOENT ? QB_ERR_NOT_FOUND : QB_ERR_IO;
    return qb_failf(rc, err, errlen, "storage: %s %s: %s", what, path, strerror(e));
}

/* Opens the folder holding key (everything before its last '/') relative to
 * the root, creating missing folders when create is set (fsyncing each
 * parent, so a new folder survives a crash).  Splits off *name (borrowed
 * from key).  QB_ERR_NOT_FOUND if a folder is missing. */
static enum qb_err open_parent(struct local *lo, const char *key, bool create, int *out,
                               const char **name, char *err, size_t errlen)
{
    const char *slash = strrchr(key, '/');
    *name = slash ? slash + 1 : key;
    *out = -1;
    int fd = openat(lo->rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(errno, "cannot open folder", lo->root, err, errlen);
    const char *seg = key;
    while (slash && seg <= slash) {
        const char *end = strchr(seg, '/');
        char *comp = xstrndup(seg, (size_t)(end - seg));
        int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0 && errno == ENOENT && create) {
            if (mkdirat(fd, comp, 0755) == 0)
                (void)fsync(fd); /* best effort: the entry itself is what matters */
            nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        int e = errno;
        free(comp);
        close(fd);
        if (nfd < 0) {
            char *p = abs_path(lo, key);
            /* Reading: a file where a folder should be means "no such key". */
            enum qb_err rc =
                e == ENOENT || (e == ENOTDIR && !create) ? QB_ERR_NOT_FOUND : QB_ERR_IO;
            qb_failf(rc, err, errlen, "storage: cannot open the folder of %s: %s%s", p, strerror(e),
                     e == ELOOP || e == ENOTDIR ? " (symlinks are not followed)" : "");
            free(p);
            return rc;
        }
        fd = nfd;
        seg = end + 1;
    }
    *out = fd;
    return QB_OK;
}

static enum qb_err write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return QB_ERR_IO;
        p += n;
        len -= (size_t)n;
    }
    return QB_OK;
}

/* A temp name nobody else picks: 48 random bits, retried on collision. */
static int create_temp(int dirfd, const char *name, char **out)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned char r[6] = {0};
        if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
            uint64_t t = (uint64_t)qb_mono_us() ^ ((uint64_t)getpid() << 20);
            memcpy(r, &t, sizeof r);
        }
        char *tmp = xasprintf("%s%s.%02x%02x%02x%02x%02x%02x", STORAGE_TMP_PREFIX, name, r[0], r[1],
                              r[2], r[3], r[4], r[5]);
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) {
            *out = tmp;
            return fd;
        }
        free(tmp);
        if (errno != EEXIST)
            return -1;
    }
    errno = EEXIST;
    return -1;
}

/* ------------------------------------------------------------------ open */

/* Closes fd unless it is -1 (never opened): lets one out: label close
 * whatever a function got as far as opening. */
static void close_fd(int fd)
{
    if (fd >= 0)
        close(fd);
}

static void local_close(struct storage *st)
{
    struct local *lo = (struct local *)st;
    close_fd(lo->rootfd);
    free(lo->root);
    free(lo->base.url);
    free(lo);
}

enum qb_err storage_local_open(const char *root, bool create, struct storage **out, char *err,
                               size_t errlen)
{
    if (create) {
        enum qb_err rc = qb_mkdirs(root, 0755, err, errlen);
        if (rc)
            return rc;
    }
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            return qb_failf(QB_ERR_NOT_FOUND, err, errlen, "storage: folder %s does not exist",
                            root);
        return qb_failf(e == ENOTDIR ? QB_ERR_INVALID : QB_ERR_IO, err, errlen,
                        "storage: cannot open folder %s: %s", root, strerror(e));
    }
    struct local *lo = xcalloc(1, sizeof *lo);
    lo->base.ops = &local_ops;
    lo->base.kind = STORAGE_LOCAL;
    lo->base.url = xasprintf("file://%s", root);
    lo->root = xstrdup(root);
    lo->rootfd = fd;
    *out = &lo->base;
    return QB_OK;
}

static enum qb_err local_check(struct storage *st, char *err, size_t errlen)
{
    struct local *lo = (struct local *)st;
    struct stat sb;
    if (fstat(lo->rootfd, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return qb_failf(QB_ERR_IO, err, errlen, "storage: %s is no longer a folder", lo->root);
    if (faccessat(lo->rootfd, ".", W_OK, AT_EACCESS) != 0)
        return fail_errno(errno, "cannot write to folder", lo->root, err, errlen);
    return QB_OK;
}

/* --------------------------------------------------------------- writing */

static void writer_free(struct local_writer *w)
{
    close_fd(w->fd);
    if (w->tmp)
        (void)unlinkat(w->dirfd, w->tmp, 0);
    if (w->sidetmp)
        (void)unlinkat(w->dirfd, w->sidetmp, 0);
    close_fd(w->dirfd);
    EVP_MD_CTX_free(w->sha);
    free(w->tmp);
    free(w->sidetmp);
    free(w->name);
    free(w->path);
    free(w);
}

static enum qb_err local_write_begin(struct storage *st, const char *key, uint64_t size_hint,
                                     struct storage_writer **out, char *err, size_t errlen)
{
    struct local *lo = (struct local *)st;
    struct local_writer *w = xcalloc(1, sizeof *w);
    const char *name;
    w->lo = lo;
    w->fd = -1;
    w->path = abs_path(lo, key);
    enum qb_err rc = open_parent(lo, key, true, &w->dirfd, &name, err, errlen);
    if (rc)
        goto out;
    w->name = xstrdup(name);
    w->fd = create_temp(w->dirfd, w->name, &w->tmp);
    if (w->fd < 0) {
        rc = fail_errno(errno, "cannot create a temp file for", w->path, err, errlen);
        goto out;
    }
    /* Reserving the space up front turns "disk full" into an early, clean
     * failure instead of one at the end of a long transfer.  fallocate(2),
     * not posix_fallocate(): where the file system cannot reserve, glibc's
     * fallback would write the whole size once more. */
    if (size_hint && fallocate(w->fd, 0, 0, (off_t)size_hint) != 0 && errno == ENOSPC) {
        rc = qb_failf(QB_ERR_IO, err, errlen, "storage: no space for %llu bytes at %s",
                      (unsigned long long)size_hint, w->path);
        goto out;
    }
    w->sha = EVP_MD_CTX_new();
    if (!w->sha || !EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL))
        rc = qb_failf(QB_ERR_INTERNAL, err, errlen, "storage: cannot start SHA-256");
out:
    if (rc) {
        writer_free(w);
        return rc;
    }
    *out = &w->base;
    return QB_OK;
}

static enum qb_err local_write(struct storage_writer *base, const void *data, size_t len, char *err,
                               size_t errlen)
{
    struct local_writer *w = (struct local_writer *)base;
    if (write_all(w->fd, data, len))
        return fail_errno(errno, "cannot write", w->path, err, errlen);
    EVP_DigestUpdate(w->sha, data, len);
    w->size += len;
    return QB_OK;
}

/* Writes "<hex>  <name>\n" to a fsynced temp sidecar (w->sidetmp). */
static enum qb_err write_sidecar_temp(struct local_writer *w, const char *hex, char *err,
                                      size_t errlen)
{
    char *sname = xasprintf("%s%s", w->name, STORAGE_SIDECAR_SUFFIX);
    char *text = xasprintf("%s  %s\n", hex, w->name);
    enum qb_err rc = QB_OK;
    int fd = create_temp(w->dirfd, sname, &w->sidetmp);
    if (fd < 0 || write_all(fd, text, strlen(text)) || fsync(fd) != 0)
        rc = fail_errno(errno, "cannot write the checksum of", w->path, err, errlen);
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = fail_errno(errno, "cannot write the checksum of", w->path, err, errlen);
    free(text);
    free(sname);
    return rc;
}

static enum qb_err local_write_finish(struct storage_writer *base, struct storage_write_result *res,
                                      char *err, size_t errlen)
{
    struct local_writer *w = (struct local_writer *)base;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[65];
    char *sname = xasprintf("%s%s", w->name, STORAGE_SIDECAR_SUFFIX);
    enum qb_err rc = QB_OK;
    EVP_DigestFinal_ex(w->sha, md, &mdlen);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    /* A hint larger than what arrived would leave preallocated zeros. */
    if (ftruncate(w->fd, (off_t)w->size) != 0 || fsync(w->fd) != 0) {
        rc = fail_errno(errno, "cannot flush", w->path, err, errlen);
        goto out;
    }
    int fd = w->fd;
    w->fd = -1;
    if (close(fd) != 0) { /* NFS may report write errors only here */
        rc = fail_errno(errno, "cannot close", w->path, err, errlen);
        goto out;
    }
    rc = write_sidecar_temp(w, hex, err, errlen);
    if (rc)
        goto out;
    if (renameat(w->dirfd, w->sidetmp, w->dirfd, sname) != 0 || fsync(w->dirfd) != 0) {
        rc = fail_errno(errno, "cannot install the checksum of", w->path, err, errlen);
        goto out;
    }
    QB_FREE(w->sidetmp);
    if (renameat(w->dirfd, w->tmp, w->dirfd, w->name) != 0) {
        rc = fail_errno(errno, "cannot rename into place", w->path, err, errlen);
        (void)unlinkat(w->dirfd, sname, 0); /* no sidecar without its data */
        goto out;
    }
    QB_FREE(w->tmp);
    if (fsync(w->dirfd) != 0) {
        rc = fail_errno(errno, "cannot flush the folder of", w->path, err, errlen);
        goto out;
    }
    if (res) {
        res->size = w->size;
        memcpy(res->sha256, hex, sizeof res->sha256);
        res->location = xstrdup(w->path);
    }
out:
    free(sname);
    writer_free(w);
    return rc;
}

static void local_write_abort(struct storage_writer *base)
{
    writer_free((struct local_writer *)base);
}

/* --------------------------------------------------------------- reading */

/* Opens key's data file for reading; *dirfd stays open for the sidecar. */
static enum qb_err open_object(struct local *lo, const char *key, int *dirfd, int *fd,
                               const char **name, struct stat *sb, char *err, size_t errlen)
{
    *fd = -1;
    enum qb_err rc = open_parent(lo, key, false, dirfd, name, err, errlen);
    if (rc == QB_ERR_NOT_FOUND)
        return qb_failf(rc, err, errlen, "storage: no object %s", key);
    if (rc)
        return rc;
    *fd = openat(*dirfd, *name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0) {
        int e = errno;
        char *p = abs_path(lo, key);
        rc = e == ENOENT ? qb_failf(QB_ERR_NOT_FOUND, err, errlen, "storage: no object %s", key)
                         : fail_errno(e, "cannot open", p, err, errlen);
        free(p);
        return rc;
    }
    if (fstat(*fd, sb) != 0 || !S_ISREG(sb->st_mode))
        return qb_failf(QB_ERR_NOT_FOUND, err, errlen, "storage: %s is not an object", key);
    return QB_OK;
}

static enum qb_err local_read(struct storage *st, const char *key, uint64_t offset, uint64_t length,
                              storage_read_fn fn, void *ud, char *err, size_t errlen)
{
    struct local *lo = (struct local *)st;
    int dirfd = -1, fd = -1;
    const char *name;
    struct stat sb;
    char *chunk = NULL;
    enum qb_err rc = open_object(lo, key, &dirfd, &fd, &name, &sb, err, errlen);
    if (rc)
        goto out;
    uint64_t size = (uint64_t)sb.st_size;
    if (offset > size) {
        rc = qb_failf(QB_ERR_INVALID, err, errlen,
                      "storage: range starts at %llu, past the end of %s (%llu bytes)",
                      (unsigned long long)offset, key, (unsigned long long)size);
        goto out;
    }
    uint64_t end = length && length < size - offset ? offset + length : size;
    (void)posix_fadvise(fd, (off_t)offset, (off_t)(end - offset), POSIX_FADV_SEQUENTIAL);
    chunk = xmalloc(READ_CHUNK);
    for (uint64_t pos = offset; pos < end && !rc;) {
        size_t want = end - pos < READ_CHUNK ? (size_t)(end - pos) : READ_CHUNK;
        ssize_t n = pread(fd, chunk, want, (off_t)pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) { /* 0: the file shrank under us */
            char *p = abs_path(lo, key);
            rc = n < 0 ? fail_errno(errno, "cannot read", p, err, errlen)
                       : qb_failf(QB_ERR_IO, err, errlen, "storage: %s shrank while read", p);
            free(p);
            break;
        }
        rc = fn(ud, chunk, (size_t)n, err, errlen);
        pos += (uint64_t)n;
    }
out:
    free(chunk);
    close_fd(fd);
    close_fd(dirfd);
    return rc;
}

static enum qb_err local_head(struct storage *st, const char *key, struct storage_object_info *out,
                              char *err, size_t errlen)
{
    struct local *lo = (struct local *)st;
    int dirfd = -1, fd = -1, sfd = -1;
    const char *name;
    struct stat sb;
    char text[STORAGE_SIDECAR_MAX];
    char *sname = NULL;
    enum qb_err rc = open_object(lo, key, &dirfd, &fd, &name, &sb, err, errlen);
    if (rc)
        goto out;
    out->size = (uint64_t)sb.st_size;
    out->mtime = (int64_t)sb.st_mtime;
    sname = xasprintf("%s%s", name, STORAGE_SIDECAR_SUFFIX);
    sfd = openat(dirfd, sname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (sfd < 0) {
        if (errno != ENOENT)
            rc = fail_errno(errno, "cannot open the checksum of", key, err, errlen);
        goto out; /* no sidecar: no recorded checksum */
    }
    ssize_t n;
    do
        n = read(sfd, text, sizeof text);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        rc = fail_errno(errno, "cannot read the checksum of", key, err, errlen);
    else
        rc = storage_sidecar_parse(text, (size_t)n, sname, out->sha256, err, errlen);
out:
    free(sname);
    close_fd(sfd);
    close_fd(fd);
    close_fd(dirfd);
    return rc;
}

/* --------------------------------------------------------------- listing */

struct found {
    char *key;
    uint64_t size;
    int64_t mtime;
};

struct walk {
    const char *prefix;
    struct found *v;
    size_t n, cap;
};

/* Adds the objects under the folder dirfd (whose key path is rel, "" or
 * ending in '/') that match w->prefix.  Takes ownership of dirfd. */
static enum qb_err walk_dir(struct walk *w, int dirfd, const char *rel, char *err, size_t errlen)
{
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return qb_failf(QB_ERR_IO, err, errlen, "storage: cannot list %s: %s", rel,
                        strerror(errno));
    }
    size_t plen = strlen(w->prefix);
    enum qb_err rc = QB_OK;
    struct dirent *de;
    while (!rc && (errno = 0, de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0 ||
            strncmp(nm, STORAGE_TMP_PREFIX, strlen(STORAGE_TMP_PREFIX)) == 0)
            continue;
        char *key = xasprintf("%s%s", rel, nm);
        size_t klen = strlen(key);
        struct stat sb;
        if (klen >= STORAGE_KEY_MAX || fstatat(dirfd, nm, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            free(key);
            continue; /* vanished since readdir, or too deep to be a key */
        }
        size_t cmp = klen < plen ? klen : plen;
        if (S_ISDIR(sb.st_mode) && strncmp(key, w->prefix, cmp) == 0) {
            /* Descend only where the prefix can still match below. */
            int sub = openat(dirfd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            char *subrel = xasprintf("%s/", key);
            if (sub >= 0)
                rc = walk_dir(w, sub, subrel, err, errlen);
            free(subrel);
        } else if (S_ISREG(sb.st_mode) && klen >= plen && strncmp(key, w->prefix, plen) == 0 &&
                   storage_key_check(key, NULL, 0) == QB_OK) {
            if (w->n == w->cap) {
                w->cap = w->cap ? 2 * w->cap : 64;
                w->v = xrealloc(w->v, w->cap * sizeof *w->v);
            }
            w->v[w->n++] = (struct found){key, (uint64_t)sb.st_size, (int64_t)sb.st_mtime};
            key = NULL;
        }
        free(key);
    }
    if (!rc && errno)
        rc = qb_failf(QB_ERR_IO, err, errlen, "storage: cannot list %s: %s", rel, strerror(errno));
    closedir(d);
    return rc;
}

static int found_cmp(const void *a, const void *b)
{
    return strcmp(((const struct found *)a)->key, ((const struct found *)b)->key);
}

static enum qb_err local_list(struct storage *st, const char *prefix, storage_list_fn fn, void *ud,
                              char *err, size_t errlen)
{
    struct local *lo = (struct local *)st;
    struct walk w = {.prefix = prefix};
    const char *slash = strrchr(prefix, '/');
    char *rel = xstrndup(prefix, slash ? (size_t)(slash - prefix + 1) : 0);
    int dirfd = -1;
    const char *name;
    /* Start at the deepest folder the prefix names in full; "x" stands in
     * for the partial last segment, which open_parent() does not open. */
    char *probe = xasprintf("%sx", rel);
    enum qb_err rc = open_parent(lo, probe, false, &dirfd, &name, err, errlen);
    free(probe);
    if (rc == QB_ERR_NOT_FOUND) {
        rc = QB_OK; /* nothing can match */
        goto out;
    }
    if (rc)
        goto out;
    rc = walk_dir(&w, dirfd, rel, err, errlen);
    /* Sorted like S3 (byte order of the key), which a per-folder walk is
     * not: "a-b" sorts before "a/x" but folder "a" is read first. */
    if (!rc && w.n)
        qsort(w.v, w.n, sizeof *w.v, found_cmp);
    for (size_t i = 0; !rc && i < w.n; i++) {
        struct storage_list_entry e = {w.v[i].key, w.v[i].size, w.v[i].mtime};
        rc = fn(ud, &e);
    }
out:
    for (size_t i = 0; i < w.n; i++)
        free(w.v[i].key);
    free(w.v);
    free(rel);
    return rc;
}

/* -------------------------------------------------------------- deleting */

static enum qb_err delete_one(struct local *lo, const char *key, char *err, size_t errlen)
{
    int dirfd = -1;
    const char *name;
    enum qb_err rc = open_parent(lo, key, false, &dirfd, &name, err, errlen);
    if (rc == QB_ERR_NOT_FOUND)
        return QB_OK; /* S3 semantics: deleting what is not there succeeds */
    if (rc)
        return rc;
    char *sname = xasprintf("%s%s", name, STORAGE_SIDECAR_SUFFIX);
    char *p = abs_path(lo, key);
    /* Data first: an orphan sidecar is harmless, data without one is not. */
    if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
        rc = fail_errno(errno, "cannot delete", p, err, errlen);
    else if (unlinkat(dirfd, sname, 0) != 0 && errno != ENOENT)
        rc = fail_errno(errno, "cannot delete the checksum of", p, err, errlen);
    else if (fsync(dirfd) != 0)
        rc = fail_errno(errno, "cannot flush the folder of", p, err, errlen);
    free(p);
    free(sname);
    close(dirfd);
    return rc;
}

static enum qb_err local_delete_many(struct storage *st, const char *const *keys, size_t n,
                                     char *err, size_t errlen)
{
    struct local *lo = (struct local *)st;
    enum qb_err rc = QB_OK;
    for (size_t i = 0; i < n && !rc; i++)
        rc = delete_one(lo, keys[i], err, errlen);
    return rc;
}

static const struct storage_ops local_ops = {
    .close = local_close,
    .check = local_check,
    .write_begin = local_write_begin,
    .write = local_write,
    .write_finish = local_write_finish,
    .write_abort = local_write_abort,
    .read = local_read,
    .head = local_head,
    .list = local_list,
    .delete_many = local_delete_many,
};
