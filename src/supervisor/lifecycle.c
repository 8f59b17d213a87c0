/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The runtime contract in order (DESIGN §2). The supervisor drives every backend only
 * through this file, and it refuses calls out of order: nothing runs in the boundary
 * before boundary_ready succeeded. */
#include <string.h>

#include "error.h"
#include "supervisor.h"

static const char *const state_names[_LIFECYCLE_STATE_MAX] = {
        [LIFECYCLE_NONE] = "none",         [LIFECYCLE_BOUNDARY] = "boundary",
        [LIFECYCLE_READY] = "ready",       [LIFECYCLE_RUNNING] = "running",
        [LIFECYCLE_DESTROYED] = "destroyed",
};

const char *lifecycle_state_to_string(enum lifecycle_state s) {
        return s < _LIFECYCLE_STATE_MAX ? state_names[s] : NULL;
}

int lifecycle_init(struct lifecycle *lc, const struct caisson_backend_v1 *be,
                   struct caisson_error *err) {
        memset(lc, 0, sizeof *lc);
        if (!be || be->abi_version != CAISSON_BACKEND_ABI_VERSION ||
            be->size < sizeof(struct caisson_backend_v1) || !be->ensure_boundary || !be->bind ||
            !be->boundary_ready || !be->start_agent || !be->teardown || !be->next_event ||
            !be->kill)
                return cs_fail(err, CAISSON_LAYER_BACKEND, CAISSON_REASON_BACKEND_ABI, 0,
                               "backend table is incomplete or of another ABI");
        lc->backend = be;
        return 0;
}

int lifecycle_ensure(struct lifecycle *lc, const struct caisson_intent *intent,
                     struct caisson_error *err) {
        int r;

        if (lc->state != LIFECYCLE_NONE)
                return cs_fail(err, CAISSON_LAYER_SUPERVISOR, CAISSON_REASON_LIFECYCLE_ORDER, 0,
                               "ensure_boundary in state %s", lifecycle_state_to_string(lc->state));
        r = lc->backend->ensure_boundary(intent, &lc->boundary, err);
        if (r < 0)
                return r;
        lc->state = LIFECYCLE_BOUNDARY;
        return lc->backend->bind(lc->boundary, &lc->att, err);
}

int lifecycle_ready(struct lifecycle *lc, struct caisson_error *err) {
        int r;

        if (lc->state != LIFECYCLE_BOUNDARY)
                return cs_fail(err, CAISSON_LAYER_SUPERVISOR, CAISSON_REASON_LIFECYCLE_ORDER, 0,
                               "boundary_ready in state %s", lifecycle_state_to_string(lc->state));
        r = lc->backend->boundary_ready(lc->boundary, err);
        if (r < 0)
                return r;
        lc->state = LIFECYCLE_READY;
        /* Again: what needs the finished view (the native backend's devpts) is known only
         * now; ensure_boundary may return while the view is still being built. */
        return lc->backend->bind(lc->boundary, &lc->att, err);
}

int lifecycle_start(struct lifecycle *lc, const struct caisson_spawn *spec, pid_t *ret_pid,
                    struct caisson_error *err) {
        int r;

        if (lc->state != LIFECYCLE_READY)
                return cs_fail(err, CAISSON_LAYER_SUPERVISOR, CAISSON_REASON_LIFECYCLE_ORDER, 0,
                               "start_agent in state %s", lifecycle_state_to_string(lc->state));
        r = lc->backend->start_agent(lc->boundary, spec, ret_pid, err);
        if (r < 0)
                return r;
        lc->state = LIFECYCLE_RUNNING;
        return 0;
}

void lifecycle_teardown(struct lifecycle *lc) {
        if (lc->backend && lc->boundary)
                lc->backend->teardown(lc->boundary);
        lc->boundary = NULL;
        lc->state = LIFECYCLE_DESTROYED;
}
