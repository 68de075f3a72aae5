/* SPDX-License-Identifier: MIT */
/*
 * The subscription registry: which connection ids listen to which topic.
 * Subscribing and unsubscribing take O(1) expected time, dropping a closed
 * connection O(k) for its k subscriptions, whatever the number of topics and
 * connections. Every function may be called from any thread.
 */
#ifndef WSR_SERVICES_TOPICS_INT_H
#define WSR_SERVICES_TOPICS_INT_H

#include "core/internal.h"

typedef struct wsr__topics wsr__topics_t;

/* Sizes and instrumentation, for tests and diagnostics. */
typedef struct wsr__topics_stats {
    size_t topics;        /* topics with at least one subscriber */
    size_t conns;         /* connections with at least one subscription */
    size_t subscriptions; /* (topic, connection) pairs */
    size_t slots;         /* topic buckets plus connection slots: what the tables hold */
    size_t work;          /* entries visited since wsr__topics_new (probes, moves, list nodes) */
} wsr__topics_stats_t;

/*
 * Creates an empty registry in which a connection may hold at most
 * `max_per_conn` subscriptions (0: no bound). Returns it (owned:
 * wsr__topics_free), or NULL when out of memory.
 */
wsr__topics_t *wsr__topics_new(size_t max_per_conn);

/* Frees the registry and every subscription in it. `t` may be NULL. */
void wsr__topics_free(wsr__topics_t *t);

/*
 * Subscribes connection `conn_id` to `topic` (borrowed for the call; the
 * registry keeps a copy). Returns 0, also when it was already subscribed;
 * WSR_EBUSY when the connection already holds max_per_conn subscriptions; or
 * WSR_ENOMEM, in which case the registry is unchanged.
 */
WSR_NODISCARD int wsr__topics_subscribe(wsr__topics_t *t, const char *topic, uint64_t conn_id);

/* The same, remembering `user` (borrowed; may be NULL: anonymous) as the
 * subscriber's name for presence (wsr__topics_users). */
WSR_NODISCARD int wsr__topics_subscribe_as(wsr__topics_t *t, const char *topic, uint64_t conn_id,
                                           const char *user);

/* Unsubscribes `conn_id` from `topic` (borrowed). Returns 0, or WSR_ENOENT
 * when it was not subscribed. A topic left without subscribers is freed. */
WSR_NODISCARD int wsr__topics_unsubscribe(wsr__topics_t *t, const char *topic, uint64_t conn_id);

/* Forgets every subscription of connection `conn_id`, typically when it closes. */
void wsr__topics_drop_conn(wsr__topics_t *t, uint64_t conn_id);

/*
 * Copies the subscribers of `topic` (borrowed) into *ids (owned: wsr__free;
 * NULL when none). Returns how many there are; 0 also when out of memory.
 */
size_t wsr__topics_subscribers(wsr__topics_t *t, const char *topic, uint64_t **ids);

/* How many connections subscribe to `topic` (borrowed). */
size_t wsr__topics_count(wsr__topics_t *t, const char *topic);

/* Sets in the JSON object `members` (borrowed), for each subscriber of
 * `topic`, its id (decimal) to its user name, or null when anonymous.
 * Returns how many it set. */
size_t wsr__topics_members(wsr__topics_t *t, const char *topic, json_t *members);

/* Copies the topics connection `conn_id` subscribes to into *names (owned:
 * each name and the array, wsr__free; NULL when none). Returns how many. */
size_t wsr__topics_conn_topics(wsr__topics_t *t, uint64_t conn_id, char ***names);

/* Sets in the JSON object `into` (borrowed) each topic's name to its number
 * of subscribers on this node, at most `max` topics (in no order). Returns
 * how many topics there are in all, listed or not. */
size_t wsr__topics_list(wsr__topics_t *t, json_t *into, size_t max);

/* How many topics connection `conn_id` subscribes to. */
size_t wsr__topics_conn_count(wsr__topics_t *t, uint64_t conn_id);

/* The bound given to wsr__topics_new (0: none). */
size_t wsr__topics_max_per_conn(const wsr__topics_t *t);

/* Fills *out with the registry's current sizes. */
void wsr__topics_stats(wsr__topics_t *t, wsr__topics_stats_t *out);

#endif /* WSR_SERVICES_TOPICS_INT_H */
