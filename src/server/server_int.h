/* SPDX-License-Identifier: MIT */
/*
 * The server's insides, shared by the transport files: what the server owns
 * besides the factory (the event loops, the worker pool, the connection
 * limits, the parsed Origin allow-list and trusted proxies, the HTTP mounts).
 */
#ifndef WSR_SERVER_SERVER_INT_H
#define WSR_SERVER_SERVER_INT_H

#include <arpa/inet.h>
#include <stdatomic.h>
#include <libwebsockets.h>

#include "core/builtins_int.h"
#include "server/http_int.h"
#include "server/loop_int.h"

struct wsr_server {
    struct lws_protocols protocols[7]; /* wsrouter.v1, /_/, listeners, jsonrpc2.0, raw,
                                          wsrouter.echo or end, end */
    /* The ops listener's vhost: HTTP and the listening socket only, so no
     * WebSocket upgrade and no www there. */
    struct lws_protocols ops_protocols[3];
    wsr__http_mounts_t mounts;
    char *www_path;         /* owned: the absolute path of www, or NULL */
    wsr_factory_t *factory; /* owned */
    wsr__loop_t *loops;     /* owned array */
    unsigned nloops;
    struct wsr__workers *workers; /* owned, or NULL before start */
    struct wsr__workers *lane;    /* owned: WSR_ROUTE_LANE's pool, or NULL before start */
    /* owned: one thread running the Redis engine's requests in the order
     * they came (pubsub routes, dropped connections), or NULL */
    struct wsr__workers *engine_pool;
    struct wsr__limits *limits;  /* owned */
    struct wsr__ratelimit *rate; /* owned: the request rate limits */
    /* owned: the Origin allow-list and trusted proxies in force, and those
     * they replaced (wsr_server_reconfigure publishes a new one) */
    _Atomic(wsr__policy_t *) policy;
    pthread_mutex_t reconfigure_lock; /* one wsr_server_reconfigure at a time */
    wsr__stats_source_t stats;        /* what the `stats` route reads */
    int port;                         /* ws://, or -1 */
    int tls_port;                     /* wss://, or -1 */
    int raw_port;                     /* raw TCP, or -1 */
    int raw_tls_port;                 /* raw TCP over TLS, or -1 */
    int ops_port;                     /* the ops endpoints' own listener, or -1 */
    char bind_addr[INET6_ADDRSTRLEN];
    char ops_addr[INET6_ADDRSTRLEN]; /* the ops listener's numeric address */
    bool started;
    bool ran;
    bool workers_stuck; /* run left a handler running: the pool and factory stay */
    /* the factory's node_id once the engine is open: read by loop_for on the
     * engine's thread, which may already run when it is stored */
    _Atomic unsigned node_id;
    /* Set (release) once the loops are made: the engine's thread, started
     * before them, reads `loops` only after seeing it (loop_for). */
    atomic_bool loops_ready;
};

/* A snapshot of every counter (the `stats` route, /_/stats, /_/metrics).
 * Returns a new object, or NULL when memory ran out. Any thread. */
json_t *wsr__server_snapshot(wsr_server_t *srv);

#endif /* WSR_SERVER_SERVER_INT_H */
