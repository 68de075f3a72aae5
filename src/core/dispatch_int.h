/* SPDX-License-Identifier: MIT */
/*
 * Dispatch: the steps between a decoded request and its handler that every
 * transport shares. Routing with parameter validation (404, 405, 422) and
 * the route's access rules (401, 403) first; then the caller runs the
 * handler where the route says: on its own thread, or on a worker for a
 * blocking route. Dispatch decides; it never runs anything on another thread
 * itself, and it knows nothing of tokens (the auth service checks those
 * before) or of workers (the server's executor runs what it is given).
 */
#ifndef WSR_CORE_DISPATCH_INT_H
#define WSR_CORE_DISPATCH_INT_H

#include "core/request_int.h"

/* What wsr__dispatch_route decided. */
enum {
    WSR__DISPATCH_ANSWERED = 0, /* `res` holds the answer already */
    WSR__DISPATCH_RUN = 1,      /* run the handler on this thread */
    WSR__DISPATCH_BLOCKING = 2, /* a blocking route: run the handler on a worker */
};

/*
 * Routes `req` and checks the route's access rules against req->session.
 * Returns one of WSR__DISPATCH_*. Never fails: running out of memory
 * answers 500 in `res`.
 */
int wsr__dispatch_route(const wsr_router_t *router, wsr_request_t *req, wsr_response_t *res);

/*
 * Runs the route's handler on this thread. A handler that fails without
 * deferring leaves a 500 in `res`. Returns the handler's error (negative)
 * for the caller to log, or 0.
 */
int wsr__dispatch_run(wsr_request_t *req, wsr_response_t *res);

#endif /* WSR_CORE_DISPATCH_INT_H */
