/* SPDX-License-Identifier: MIT */
/* Subscriptions and publications (PROTOCOL.md section 5). */
#ifndef WSR_SRC_PUBSUB_INT_H
#define WSR_SRC_PUBSUB_INT_H

#include "services/factory_int.h"

#define WSR__TOPIC_MAX 200

typedef struct wsr__pubsub wsr__pubsub_t;

/* Creates an empty registry; `max_per_conn` bounds a connection's topics (0: none). */
wsr__pubsub_t *wsr__pubsub_new(size_t max_per_conn);
void wsr__pubsub_free(wsr__pubsub_t *ps);

/* Any thread. Returns 0 (also when already subscribed), WSR_EBUSY past the
 * per-connection bound, or WSR_ENOMEM. */
int wsr__pubsub_subscribe(wsr__pubsub_t *ps, const char *topic, uint64_t conn_id);
/* Any thread. Returns 0 or WSR_ENOENT when it was not subscribed. */
int wsr__pubsub_unsubscribe(wsr__pubsub_t *ps, const char *topic, uint64_t conn_id);
/* Forgets every subscription of a closed connection. Any thread. */
void wsr__pubsub_drop_conn(wsr__pubsub_t *ps, uint64_t conn_id);

/* Sends {event_name, topic, data} to every subscriber. `data` borrowed.
 * *delivered counts the connections it was queued for. Any thread. */
int wsr__pubsub_publish(wsr_factory_t *f, const char *topic, const char *event_name, json_t *data,
                        size_t *delivered);

/* The /_/subscribe, /_/unsubscribe and /_/publish routes. */
WSR_NODISCARD int wsr__pubsub_add_routes(wsr_router_t *router, wsr_error_t *err);

#endif /* WSR_SRC_PUBSUB_INT_H */
