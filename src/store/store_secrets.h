/* SPDX-License-Identifier: Apache-2.0
 *
 * store_secrets.h -- secrets at rest: Qdrant API keys (instances) and S3
 * credentials (destinations) are stored sealed (util/seal.h), never in
 * clear.  This module holds the key ring for the store, seals and opens
 * the secret columns for store_instances.c and store_destinations.c, and
 * at start-up brings every stored secret under the current key.
 *
 * DESIGN
 * store_secrets_init runs once, before any thread uses the store.  In one
 * transaction it reads every secret: a value in clear (written by a
 * qbackupd from before sealing) is sealed, a value sealed with an older
 * key of the ring (rotation) is re-sealed with the current one, and a
 * value no key of the ring opens stops the start.  When it rewrote
 * anything it then runs VACUUM and truncates the WAL, so the old text
 * does not linger in free pages or log frames of the database files.
 *
 * destinations.secret carries a CHECK (json_valid) from migration 0001, so
 * its sealed form is stored as a JSON string ("qbs1:..."); instances keep
 * the bare sealed text.
 */
#ifndef QB_STORE_SECRETS_H
#define QB_STORE_SECRETS_H

#include "common.h"
#include "store/store.h"
#include "util/seal.h"

struct store_secrets_report {
    int sealed;  /* values found sealed with the current key */
    int plain;   /* values found in clear and sealed now */
    int rotated; /* values found under an older key and re-sealed now */
};

/* Counts stored values in sealed form (whatever key sealed them): decides
 * whether a missing key file may be created (none) or is an error. */
enum qb_err store_secrets_count_sealed(struct store *s, int *n, char *err,
                                       size_t errlen) QB_MUSTCHECK;

/* Gives the store kr (borrowed until store_close) and seals, re-seals and
 * checks every stored secret as described above.  rep may be NULL.
 * QB_ERR_NOT_FOUND / QB_ERR_INVALID naming the row when a value cannot be
 * opened with kr (wrong key file, or altered); nothing is changed then.
 * Call from one thread before serving. */
enum qb_err store_secrets_init(struct store *s, const struct seal_keyring *kr,
                               struct store_secrets_report *rep, char *err,
                               size_t errlen) QB_MUSTCHECK;

#endif /* QB_STORE_SECRETS_H */
