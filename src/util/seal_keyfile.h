/* SPDX-License-Identifier: Apache-2.0
 *
 * seal_keyfile.h -- the secrets key file: one or more base64 AES-256 keys,
 * one per line, the first sealing and all opening (see seal.h).  Blank
 * lines and lines starting with '#' are ignored, so a rotation can leave a
 * note next to the old key.
 */
#ifndef QB_SEAL_KEYFILE_H
#define QB_SEAL_KEYFILE_H

#include "common.h"
#include "util/seal.h"

/* Adds every key of the file at path to kr, in file order.
 * QB_ERR_NOT_FOUND when the file does not exist; QB_ERR_INVALID (naming
 * the path and line, never the text) for a line that is not a key or a
 * file without any key; QB_ERR_IO when it cannot be read. */
enum qb_err seal_keyfile_read(const char *path, struct seal_keyring *kr, char *err,
                              size_t errlen) QB_MUSTCHECK;

/* Creates path with mode 0600 holding one new random key (and a comment
 * saying what it is), syncs it to disk, and adds the key to kr.  Never
 * replaces a file: QB_ERR_CONFLICT when path exists. */
enum qb_err seal_keyfile_create(const char *path, struct seal_keyring *kr, char *err,
                                size_t errlen) QB_MUSTCHECK;

#endif /* QB_SEAL_KEYFILE_H */
