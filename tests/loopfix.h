/* SPDX-License-Identifier: MIT */
/*
 * A real event loop for the transport's unit tests (test_loop.c,
 * test_reply.c): a factory with a router, a wsr__loop_t with a
 * libwebsockets context that listens nowhere (as server.c creates a loop's),
 * the wsrouter.v1 protocol callback (whose wake drains the inbox), and one
 * registered connection whose wsi is real: one end of a socketpair adopted
 * as a raw descriptor, so queueing a frame (lws_callback_on_writable) is the
 * real call. Only a WebSocket close (lws_close_reason) needs a WebSocket wsi.
 */
#ifndef WSR_TESTS_LOOPFIX_H
#define WSR_TESTS_LOOPFIX_H

#include <libwebsockets.h>

#include "wsrouter/wsrouter.h"
#include "core/internal.h"
#include "server/conn_int.h"
#include "server/loop_int.h"
#include "services/factory_int.h"

typedef struct tu_loop {
    wsr_factory_t *f;
    wsr__stats_t *stats;
    wsr__loop_t loop;
    struct lws_protocols protocols[3];
    struct lws_vhost *vhost;
    int peer; /* the far end of the connection's socket, or -1 */
    wsr__conn_t conn;
} tu_loop_t;

/*
 * Makes the factory from `cfg` with `routes` (their user data `routes_user`),
 * the loop, its context and the registered connection, then services what lws
 * queued at creation, so that every later wake is a case's own. Returns 0, or
 * -1 (tu_loop_close still frees what was made).
 */
int tu_loop_open(tu_loop_t *t, const wsr_server_config_t *cfg, const wsr_route_t *routes,
                 void *routes_user);
/* Finishes the loop (cancelling what is pending, closing the wsi) and frees
 * all that tu_loop_open made. */
void tu_loop_close(tu_loop_t *t);
/* Frees connection `c`'s outbound queue. */
void tu_loop_free_queue(wsr__conn_t *c);

#endif /* WSR_TESTS_LOOPFIX_H */
