/* SPDX-License-Identifier: MIT */
/* Subscriptions and publications (PROTOCOL.md section 5). */
#ifndef WSR_SRC_PUBSUB_INT_H
#define WSR_SRC_PUBSUB_INT_H

#include "services/factory_int.h"
#include "services/history_int.h"

#define WSR__TOPIC_MAX 200

typedef struct wsr__pubsub wsr__pubsub_t;
struct wsr__topics;
struct wsr__engine;

/* Creates f->pubsub, an empty registry on the in-process engine, from f's
 * settings (max_subscriptions, history_size, history_ttl_s). Returns it, or
 * NULL when out of memory. */
wsr__pubsub_t *wsr__pubsub_new(wsr_factory_t *f);
/* Switches to the engine the settings name (engine: Redis), before the
 * server accepts connections. Returns 0 or an error with `err`. */
WSR_NODISCARD int wsr__pubsub_open_engine(wsr_factory_t *f, wsr_error_t *err);
void wsr__pubsub_free(wsr__pubsub_t *ps);
/* This node's subscription registry, and the engine (borrowed). */
struct wsr__topics *wsr__pubsub_topics(wsr__pubsub_t *ps);
struct wsr__engine *wsr__pubsub_engine(wsr__pubsub_t *ps);

/*
 * Subscribes connection `conn_id` to `topic` (borrowed) and, with `since`
 * (borrowed; NULL: none), first pushes it the publications it missed after
 * `since` when the history still holds them all; *recovered says whether it
 * did, *now where the topic stands. Any thread. Returns 0 (also when already
 * subscribed), WSR_EBUSY past the per-connection bound, WSR_ECONNECT when
 * the cluster engine is unreachable, or WSR_ENOMEM. `user` (borrowed; NULL:
 * anonymous) names the subscriber for presence.
 */
int wsr__pubsub_subscribe(wsr_factory_t *f, const char *topic, uint64_t conn_id, const char *user,
                          const wsr__position_t *since, wsr__position_t *now, bool *recovered);
/* Any thread. Returns 0 or WSR_ENOENT when it was not subscribed. */
int wsr__pubsub_unsubscribe(wsr__pubsub_t *ps, const char *topic, uint64_t conn_id);
/* Forgets every subscription of a closed connection. Any thread. */
void wsr__pubsub_drop_conn(wsr__pubsub_t *ps, uint64_t conn_id);

/* Sends {event_name, topic, offset, epoch, data} to every subscriber. `data` borrowed.
 * *delivered counts the connections it was queued for. Any thread. */
int wsr__pubsub_publish(wsr_factory_t *f, const char *topic, const char *event_name, json_t *data,
                        size_t *delivered);

/* The /_/subscribe, /_/unsubscribe, /_/publish and /_/presence routes. */
/* The flag of the routes above (not public): with the Redis engine they make
 * Redis round trips, so they run on the server's engine queue (one thread, in
 * order) instead of on an event loop, which a slow Redis would hold up. */
#define WSR__ROUTE_ENGINE (1u << 30)

WSR_NODISCARD int wsr__pubsub_add_routes(wsr_router_t *router, wsr_error_t *err);

#endif /* WSR_SRC_PUBSUB_INT_H */
