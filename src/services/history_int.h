/* SPDX-License-Identifier: MIT */
/*
 * Publication history (PROTOCOL.md section 5.2): each topic's position (an
 * offset counting its publications and an epoch naming the history they
 * belong to) and its last publications, kept for a while so that a client
 * back from a drop gets what it missed. This is an interface with one
 * implementation here, in process memory (wsr__history_memory_new); a cluster
 * engine (Redis Streams, issue 14) provides the same two operations.
 *
 * The hand-over from history to live delivery is the engine's job: both
 * operations run their callback under the topic's lock, so a publication is
 * either kept and delivered before a subscription attaches (and then replayed
 * to it), or delivered to it live afterwards, never both nor neither. The
 * history never learns what a subscriber or a publication's bytes are.
 */
#ifndef WSR_SERVICES_HISTORY_INT_H
#define WSR_SERVICES_HISTORY_INT_H

#include "core/internal.h"

#define WSR__EPOCH_MAX 64 /* bytes of an epoch, the NUL excluded */

/* Where a topic stands: its last offset (0: nothing published yet) in `epoch`. */
typedef struct wsr__position {
    uint64_t offset;
    char epoch[WSR__EPOCH_MAX + 1];
} wsr__position_t;

/*
 * Delivers the publication at `pos` (borrowed for the call) to the topic's
 * current subscribers and writes into `keep` (borrowed) the bytes the
 * history keeps for later replay. Runs under the topic's lock. Returns 0 or
 * an error, in which case nothing is kept and the offset is not used.
 */
typedef int (*wsr__history_deliver_fn)(const wsr__position_t *pos, wsr__buf_t *keep, void *user);

/* Attaches the new subscriber, under the topic's lock. Returns 0 or an error,
 * which the subscribe operation returns without replaying anything. */
typedef int (*wsr__history_attach_fn)(void *user);

/* Sends one kept publication (`bytes`, n, borrowed for the call) to the new
 * subscriber, under the topic's lock, oldest first. */
typedef void (*wsr__history_replay_fn)(const void *bytes, size_t n, void *user);

typedef struct wsr__history wsr__history_t;

typedef struct wsr__history_ops {
    /* Gives the next offset of `topic` (borrowed) to deliver(), then keeps
     * what it wrote. Returns 0, deliver's error, or WSR_ENOMEM. */
    int (*publish)(wsr__history_t *h, const char *topic, wsr__history_deliver_fn deliver,
                   void *user);
    /*
     * Calls attach(), then, when `since` (borrowed) is not NULL and the
     * history still holds every publication after it, replay() for each of
     * them. Fills *now with the topic's position and *recovered with whether
     * the replay covered the gap (false with `since` NULL). Returns 0,
     * attach's error, or WSR_ENOMEM.
     */
    int (*subscribe)(wsr__history_t *h, const char *topic, const wsr__position_t *since,
                     wsr__history_attach_fn attach, wsr__history_replay_fn replay, void *user,
                     wsr__position_t *now, bool *recovered);
    void (*free)(wsr__history_t *h);
} wsr__history_ops_t;

/* Every engine's handle begins with this. */
struct wsr__history {
    const wsr__history_ops_t *ops;
};

/* Tells whether `topic` still has subscribers: a topic in use keeps its
 * position even with nothing left to replay. Called under the topic's lock. */
typedef bool (*wsr__history_in_use_fn)(void *user, const char *topic);

/* Nanoseconds on a monotonic clock (tests give their own). */
typedef uint64_t (*wsr__history_clock_fn)(void *user);

typedef struct wsr__history_memory_config {
    size_t size;    /* publications kept per topic (0: none, positions only) */
    unsigned ttl_s; /* how long a publication is kept, and an idle topic's position */
    wsr__history_in_use_fn in_use; /* may be NULL: no topic is in use */
    wsr__history_clock_fn clock;   /* may be NULL: wsr__now_ns */
    void *user;                    /* borrowed: given to in_use and clock */
} wsr__history_memory_config_t;

/*
 * Creates the in-process history. A topic's position and epoch live as long
 * as it holds publications, has subscribers, or was used within ttl_s; after
 * that it is forgotten, and its next publication starts a new epoch at
 * offset 1. Returns it (owned: wsr__history_free) or NULL when out of memory.
 */
wsr__history_t *wsr__history_memory_new(const wsr__history_memory_config_t *cfg);

/* Sizes, for tests and diagnostics: topics known, publications kept. */
void wsr__history_memory_stats(wsr__history_t *h, size_t *topics, size_t *kept);

static inline int wsr__history_publish(wsr__history_t *h, const char *topic,
                                       wsr__history_deliver_fn deliver, void *user)
{
    return h->ops->publish(h, topic, deliver, user);
}

static inline int wsr__history_subscribe(wsr__history_t *h, const char *topic,
                                         const wsr__position_t *since,
                                         wsr__history_attach_fn attach,
                                         wsr__history_replay_fn replay, void *user,
                                         wsr__position_t *now, bool *recovered)
{
    return h->ops->subscribe(h, topic, since, attach, replay, user, now, recovered);
}

/* Frees the history; `h` may be NULL. */
static inline void wsr__history_free(wsr__history_t *h)
{
    if (h != NULL)
        h->ops->free(h);
}

#endif /* WSR_SERVICES_HISTORY_INT_H */
