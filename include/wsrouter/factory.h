/* SPDX-License-Identifier: MIT */
/*
 * The factory: one per server, shared by every connection. It owns what
 * outlives a connection: the router, the settings, the statistics, the store
 * and the subscriptions. Handlers reach it with wsr_request_factory(); these
 * are the calls they may make on it.
 */
#ifndef WSR_WSROUTER_FACTORY_H
#define WSR_WSROUTER_FACTORY_H

#include <stdint.h>

#include <jansson.h>

#include "common.h"
#include "log.h"
#include "request.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Sends a push (docs/protocol.md section 5: `{"event_name":..,"data":..}`, no
 * status) to connection `connection_id`, in JSON text. `event_name` and `data`
 * are borrowed (serialised before the call returns; `data` NULL sends null).
 * Thread-safe: callable from handlers, workers, timers, any thread.
 * Returns 0 when queued for the connection's event loop; WSR_ENOENT when the
 * connection is not (or no longer) open; WSR_ENOMEM. A push that would pass the
 * connection's outbound cap closes it with 1008, like a reply would. On a
 * cluster (the `engine` setting), a connection of another node is reached
 * through Redis: 0 then means its node took the push (the connection itself
 * may have closed meanwhile), and WSR_ECONNECT that Redis is unreachable.
 * Called on an event loop (a handler without WSR_ROUTE_BLOCKING, a timer),
 * such a push never waits on Redis: it is queued on the engine's queue, in
 * order, and 0 means queued (WSR_EBUSY: that queue is full); if Redis then
 * refuses it or does not answer in time, the log says so.
 */
WSR_API int wsr_push(wsr_factory_t *factory, wsr_conn_id_t connection_id, const char *event_name,
                     json_t *data);

/*
 * Publishes `data` (borrowed; serialised before the call returns) on `topic`:
 * every connection subscribed to it (POST /_/subscribe) receives
 * `{"event_name":"publish","topic":..,"offset":N,"epoch":..,"data":..}`, where
 * offset counts the topic's publications (PROTOCOL.md section 5.2); the topic
 * keeps the last history_size of them for resuming clients. Thread-safe. On a
 * cluster every node's subscribers receive it (PROTOCOL.md section 11).
 * Returns 0 (also when nobody listens), WSR_EINVAL, WSR_ECONNECT (the
 * cluster's Redis is unreachable: nothing was published) or WSR_ENOMEM.
 * Called on an event loop of a cluster node (a handler without
 * WSR_ROUTE_BLOCKING, a timer), it never waits on Redis: the publication
 * is queued on the engine's queue, in order with the node's other pubsub
 * work, and 0 means queued (WSR_ECONNECT when Redis is known to be down at
 * the call, WSR_EBUSY when that queue is full); if Redis then refuses it or
 * does not answer in time (it may still carry it out), the log says so. Elsewhere (a worker, a
 * thread of yours) it waits.
 */
WSR_API int wsr_publish(wsr_factory_t *factory, const char *topic, json_t *data);

/* Returns the number of WebSocket connections open now. Thread-safe. */
WSR_API unsigned wsr_factory_connection_count(const wsr_factory_t *factory);

/*
 * Logs one line through the server's sink, if `level` is enabled.
 * Thread-safe. Never log tokens, passwords or payloads above WSR_LOG_DEBUG.
 */
WSR_API void wsr_factory_log(const wsr_factory_t *factory, int level, const char *fmt, ...)
    WSR_PRINTF(3, 4);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_FACTORY_H */
