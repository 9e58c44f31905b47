/* SPDX-License-Identifier: Apache-2.0
 *
 * recovery.h -- settling what a killed qbackupd left behind, at start,
 * before any worker runs: every run still marked `running` is failed with
 * "interrupted by restart", the Qdrant snapshot it had created is deleted,
 * and its stored object (finished but never catalogued) or half-done
 * upload is removed.  An object that did reach the catalogue is never
 * touched: the catalogue row is the proof that a backup is good.
 */
#ifndef QB_RECOVERY_H
#define QB_RECOVERY_H

#include "store/store.h"

/* Runs the recovery; failures are logged, never fatal (a stuck Qdrant must
 * not keep qbackupd from starting). */
void recovery_run(struct store *store);

#endif /* QB_RECOVERY_H */
