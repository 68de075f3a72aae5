/* SPDX-License-Identifier: MIT */
/* The built-in routes (PROTOCOL.md section 7). */
#ifndef WSR_CORE_BUILTINS_INT_H
#define WSR_CORE_BUILTINS_INT_H

#include <jansson.h>

#include "core/internal.h"

/* Where `stats` gets its figures: a function returning a new snapshot
 * object (or NULL when memory ran out), called on any thread. */
typedef struct wsr__stats_source {
    json_t *(*snapshot)(void *ctx);
    void *ctx;
    /* With an ops token set (the HTTP /_/stats then needs it), `stats` as a
     * request needs the admin role: the same figures, no way around it. */
    bool admin_only;
} wsr__stats_source_t;

/* Adds commands, help, stats and ping to `router`. `stats` (borrowed: it
 * must outlive the router; may be NULL, then `stats` answers 503) feeds
 * `stats`. Returns like wsr_router_add. */
WSR_NODISCARD int wsr__builtins_add(wsr_router_t *router, const wsr__stats_source_t *stats,
                                    wsr_error_t *err);

#endif /* WSR_CORE_BUILTINS_INT_H */
