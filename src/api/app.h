/* SPDX-License-Identifier: Apache-2.0
 *
 * app.h -- the application context every handler reaches through
 * http_req_app(): the long-lived services, all created by main.c before
 * the server starts and destroyed after it stops.  Handlers borrow them.
 */
#ifndef QB_APP_H
#define QB_APP_H

#include "config.h"
#include "engine/engine.h"
#include "engine/prober.h"
#include "engine/tasks.h"
#include "http/auth.h"
#include "metrics.h"
#include "notify/webhooks.h"
#include "store/store.h"

#include <stdatomic.h>

struct app {
    const struct config *cfg;
    struct store *store;
    struct auth *auth;
    struct metrics *metrics;
    struct prober *prober;
    struct engine *engine;       /* backup/restore workers */
    struct tasks *tasks;         /* slow request-initiated work (verify, delete, check) */
    struct webhooks *webhooks;   /* outgoing webhook deliveries (notify/webhooks.h) */
    struct scheduler *scheduler; /* fires schedules; leads the fleet or not (sched/sched.h) */
    struct heartbeat *heartbeat; /* this node's beat in the catalogue (fleet/heartbeat.h) */
    atomic_bool shutting_down;   /* /readyz answers 503 once set */
    /* How Qdrant reaches us; published once the port is bound, NULL
     * before.  Atomic: request threads read it while main writes it. */
    _Atomic(char *) public_url;
};

#endif /* QB_APP_H */
