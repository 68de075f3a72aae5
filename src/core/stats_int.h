/* SPDX-License-Identifier: MIT */
/*
 * Statistics. Each event loop writes its own block with relaxed atomic adds
 * (one writer per counter in practice, so no contention); `stats` and the
 * metrics endpoint merge the blocks when read. Everything observable is
 * counted here: requests by status, per-route counts and latency, bytes,
 * connections, closes by code, drops.
 */
#ifndef WSR_SRC_STATS_INT_H
#define WSR_SRC_STATS_INT_H

#include <jansson.h>
#include <stdatomic.h>

#include "core/internal.h"

/* Latency buckets: bucket b counts latencies under 2^b microseconds (and
 * not under 2^(b-1)); the last one everything from 2^22 us (about 4 s). */
#define WSR__LAT_BUCKETS 24

typedef atomic_uint_fast64_t wsr__counter_t;

enum wsr__stat_status {
    WSR__ST_200,
    WSR__ST_201,
    WSR__ST_202,
    WSR__ST_400,
    WSR__ST_401,
    WSR__ST_403,
    WSR__ST_404,
    WSR__ST_405,
    WSR__ST_408,
    WSR__ST_422,
    WSR__ST_429,
    WSR__ST_499,
    WSR__ST_500,
    WSR__ST_503,
    WSR__ST_OTHER,
    WSR__ST_COUNT
};

typedef struct wsr__route_stats {
    wsr__counter_t count;
    wsr__counter_t errors; /* status >= 400 */
    wsr__counter_t total_us;
    wsr__counter_t max_us;
    wsr__counter_t hist[WSR__LAT_BUCKETS];
    wsr__counter_t by_status[WSR__ST_COUNT];
    wsr__counter_t rate_limited; /* 429s of the route's own rate limit */
} wsr__route_stats_t;

enum wsr__stat_close {
    WSR__CL_1000,
    WSR__CL_1001,
    WSR__CL_1002,
    WSR__CL_1006,
    WSR__CL_1007,
    WSR__CL_1008,
    WSR__CL_1009,
    WSR__CL_OTHER,
    WSR__CL_COUNT
};

/* The transports (wsr_transport_t) and their names in stats and logs. */
#define WSR__TRANSPORTS 5
/* "websocket", "ndjson", "resp", "tcpy", "text"; "?" past them. */
const char *wsr__stats_transport_name(unsigned transport);

typedef struct wsr__stats {
    wsr__counter_t requests;
    wsr__counter_t by_status[WSR__ST_COUNT];
    wsr__counter_t bytes_in, bytes_out;
    wsr__counter_t messages_in, messages_out;
    wsr__counter_t pushes, pushes_dropped;  /* dropped: the connection was gone */
    wsr__counter_t replies_dropped;         /* late or orphaned deferred replies */
    wsr__counter_t opened, closed, refused; /* refused: limits, origin, draining */
    wsr__counter_t closes[WSR__CL_COUNT];   /* closes we initiated, by code */
    wsr__counter_t timeouts;                /* 408s */
    wsr__counter_t overloaded;              /* 503s from a full worker queue */
    wsr__counter_t rate_limited;            /* 429s of the request rate limits */
    wsr__counter_t rate_closed;             /* 1008 closes past twice a rate limit */
    wsr__counter_t http_requests;           /* plain HTTP (static files, health) */
    wsr__counter_t progress_dropped;        /* progress of calls without an id */
    /* Connections by transport (a wsr_transport_t): a raw TCP one counts
     * once its first byte told its framing. Open = opened - closed. */
    wsr__counter_t transport_opened[WSR__TRANSPORTS];
    wsr__counter_t transport_closed[WSR__TRANSPORTS];
    size_t nroutes;
    wsr__route_stats_t routes[]; /* one per route, registration order */
} wsr__stats_t;

/* Allocates a zeroed block for `nroutes` routes. */
wsr__stats_t *wsr__stats_new(size_t nroutes);
void wsr__stats_free(wsr__stats_t *s);

static inline void wsr__count(wsr__counter_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* Records one answered request: its status and, when routed, the route's count
 * and latency. `route_index` is SIZE_MAX when no route was found. */
void wsr__stats_request(wsr__stats_t *s, int status, size_t route_index, uint64_t elapsed_ns);

/* Records a close the server initiated with `code`. */
void wsr__stats_close(wsr__stats_t *s, int code);

/* Merges `n` blocks into a JSON object (new reference, or NULL). Route names
 * come from `router`; `open` is the current connection gauge. Each route
 * has its count, errors, latency figures, `by_status` and `latency_us`:
 * {"sum": total microseconds, "buckets": [the WSR__LAT_BUCKETS counts]}.
 * rate_limited.by_route has, for every route with a rate of its own, the
 * requests its limit refused (counted in rate_limited.refused too). */
json_t *wsr__stats_snapshot(wsr__stats_t *const *blocks, size_t n, const wsr_router_t *router,
                            unsigned open, uint64_t uptime_ns);

#endif /* WSR_SRC_STATS_INT_H */
