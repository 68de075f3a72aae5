/* SPDX-License-Identifier: MIT */
/*
 * The engine (PROTOCOL.md sections 5, 5.2 and 11): what carries
 * publications, their history and pushes between connections. The
 * in-process engine (engine_memory.c) serves one node; the Redis engine
 * (engine_redis.c) makes every node sharing a Redis one server. Both fan a
 * publication out to this node's subscribers through the factory's
 * subscription registry (pubsub->topics) and its transport; the routes
 * (pubsub.c) only ever call these operations, whichever engine runs.
 * Every operation may be called from any thread.
 */
#ifndef WSR_SERVICES_ENGINE_INT_H
#define WSR_SERVICES_ENGINE_INT_H

#include "services/factory_int.h"
#include "services/history_int.h"

typedef struct wsr__engine wsr__engine_t;

/* What an engine does when it cannot reach its backend: the routes answer
 * 503 with this sentence (PROTOCOL.md section 11). */
#define WSR__ENGINE_DOWN "the cluster engine is unavailable"

typedef struct wsr__engine_ops {
    /* Sends {event_name, topic, offset, epoch, data} (data borrowed) to every
     * subscriber; *delivered counts them. Returns 0, WSR_ECONNECT (engine
     * unreachable: nothing was published) or WSR_ENOMEM. */
    int (*publish)(wsr__engine_t *e, const char *topic, const char *event_name, json_t *data,
                   size_t *delivered);
    /* Subscribes `conn_id` (as `user`, NULL: anonymous) to `topic`, first
     * replaying what came after `since` (NULL: none) when the history holds
     * it all (pubsub_int.h). Returns 0, WSR_EBUSY, WSR_ECONNECT or WSR_ENOMEM. */
    int (*subscribe)(wsr__engine_t *e, const char *topic, uint64_t conn_id, const char *user,
                     const wsr__position_t *since, wsr__position_t *now, bool *recovered);
    /* Returns 0 or WSR_ENOENT when it was not subscribed. */
    int (*unsubscribe)(wsr__engine_t *e, const char *topic, uint64_t conn_id);
    void (*drop_conn)(wsr__engine_t *e, uint64_t conn_id);
    /* Sends the JSON push (n bytes, copied) to connection `conn_id`, on
     * whatever node holds it. Returns 0, WSR_ENOENT, WSR_ECONNECT or WSR_ENOMEM. */
    int (*push)(wsr__engine_t *e, uint64_t conn_id, const void *json, size_t n);
    /* Fills *out (owned) with {topic, count, users} across the cluster.
     * Returns 0, WSR_ECONNECT or WSR_ENOMEM. */
    int (*presence)(wsr__engine_t *e, const char *topic, json_t **out);
    /* Adds the engine's state to the JSON object `into` (borrowed) as
     * "engine": {"kind", "state", ...}; returns whether it is reachable. */
    bool (*describe)(wsr__engine_t *e, json_t *into);
    /* Stops delivering (the server is about to dispose of its loops) and
     * withdraws this node's presence; the other operations stay callable
     * and answer as when the engine is down. */
    void (*stop)(wsr__engine_t *e);
    void (*free)(wsr__engine_t *e);
} wsr__engine_ops_t;

/* Every engine's handle begins with this. */
struct wsr__engine {
    const wsr__engine_ops_t *ops;
    wsr_factory_t *f; /* borrowed: the factory that owns the engine */
};

/* The in-process engine: history_size publications per topic kept for
 * history_ttl_s (PROTOCOL.md section 5.2). NULL when out of memory. */
wsr__engine_t *wsr__engine_memory_new(wsr_factory_t *f);

/*
 * The Redis engine at f->settings.engine: connects, takes a node id (INCR
 * wsr:nodes) into f->node_id and starts its thread, which keeps the
 * connection (reconnecting with backoff), receives publications and pushes,
 * and refreshes this node's presence. Returns it or NULL with `err`.
 */
wsr__engine_t *wsr__engine_redis_new(wsr_factory_t *f, wsr_error_t *err);

static inline void wsr__engine_free(wsr__engine_t *e)
{
    if (e != NULL)
        e->ops->free(e);
}

/* Encodes the publication into `keep` (borrowed) and queues a copy to each
 * of this node's subscribers of `topic`; *sent counts them, and *push_rc
 * becomes WSR_ENOMEM (when still 0) if a copy ran out of memory. Returns 0
 * or the encoding's error (then nothing was queued). */
int wsr__engine_fan_out(wsr_factory_t *f, const char *topic, const char *event_name,
                        uint64_t offset, const char *epoch, const json_t *data, wsr__buf_t *keep,
                        size_t *sent, int *push_rc);

/* Builds the presence answer {topic, count, users} from `members` (borrowed:
 * an object whose values are user names, "" or null for anonymous ones).
 * Returns 0 or WSR_ENOMEM. */
int wsr__engine_presence_reply(const char *topic, json_t *members, json_t **out);

/* A publication as the Redis engine carries it (on wsr:pub and in each
 * topic's stream): "OFFSET EPOCH TOPICLEN\nTOPIC EVENT\nDATA", DATA the
 * JSON text of the data (empty: none). */
typedef struct wsr__wire_pub {
    uint64_t offset;
    char epoch[WSR__EPOCH_MAX + 1];
    const char *topic; /* into the message: topic_len bytes */
    size_t topic_len;
    char event[64];
    const char *data; /* into the message, to its end */
    size_t data_len;
} wsr__wire_pub_t;

/* Parses the n bytes at `m` (borrowed; *p points into them). Returns 0 or
 * WSR_EPARSE. */
int wsr__engine_parse_publication(const char *m, size_t n, wsr__wire_pub_t *p);

/* The node of a connection id (9 bits; 0 on a single node; server/loop_int.h). */
#define WSR__CONN_NODE(id) ((unsigned)(((id) >> 44) & 0x1ffu))
#define WSR__NODE_MAX      511u

#endif /* WSR_SERVICES_ENGINE_INT_H */
