/* SPDX-License-Identifier: MIT */
/*
 * Request rate limits (PROTOCOL.md section 9): token buckets per connection,
 * per client address and per authenticated user, each refilled at its
 * configured rate (rate_limit_connection, rate_limit_address,
 * rate_limit_user; requests per second, 0: none) up to its burst (rate_burst
 * requests, or one second's worth when 0). A request takes one token from
 * every bucket that applies; when one is empty the request is refused (429
 * with the milliseconds until a token is back), and the refusal is a debt:
 * the bucket goes below zero. A client whose refusals reach its budget again
 * (the bucket at minus the burst: twice what it may send) is to be closed
 * 1008. The address and user tables are shared by every loop (a mutex).
 *
 * Each table keeps at most WSR__RATELIMIT_TABLE_MAX buckets. Past that (a
 * flood of distinct addresses, each with a bucket not yet full again), a
 * new address or user gets no bucket of its own and nothing is evicted:
 * every untracked one shares the table's overflow bucket, so that together
 * they get one budget (refused 429, never closed for that bucket's debt,
 * which is not theirs alone), and a bucket in debt stays in debt.
 */
#ifndef WSR_SERVER_RATELIMIT_INT_H
#define WSR_SERVER_RATELIMIT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/internal.h"
#include "wsrouter/server.h"

struct wsr__conn;

/* The buckets kept apart in each of the address and user tables. */
#define WSR__RATELIMIT_TABLE_MAX 65536

/* One token bucket; all zero is a full one, never used yet. */
typedef struct wsr__bucket {
    double tokens;
    int64_t last_ns; /* when it was last refilled (0: never) */
} wsr__bucket_t;

typedef struct wsr__ratelimit wsr__ratelimit_t;

/* The verdict on one request. */
typedef enum wsr__rate {
    WSR__RATE_OK = 0,
    WSR__RATE_REFUSED, /* answer 429 */
    WSR__RATE_CLOSE,   /* past twice the budget: close 1008 */
} wsr__rate_t;

/* What refused a request: which limit, and when to try again. */
typedef struct wsr__rate_refusal {
    const char *limit; /* "connection", "client address" or "user" */
    double rate;       /* that limit's requests per second */
    unsigned retry_after_ms;
    /* Set on every call, refused or not: 0, or when the address or user
     * had no bucket of its own (the shared one), the requests so far that
     * had none in that table, this one included. */
    uint64_t untracked;
} wsr__rate_refusal_t;

/* Reads the limits of `cfg`. Returns the limiter (owned: free with
 * wsr__ratelimit_free), or NULL when memory ran out. */
wsr__ratelimit_t *wsr__ratelimit_new(const wsr_server_config_t *cfg);
void wsr__ratelimit_free(wsr__ratelimit_t *rl);
/* Takes the rates and the burst of `cfg` from the next request on (the
 * buckets keep their tokens, capped at the new burst). Returns 0 or
 * WSR_ENOMEM (nothing changed). Any thread. */
WSR_NODISCARD int wsr__ratelimit_set(wsr__ratelimit_t *rl, const wsr_server_config_t *cfg);

/* True when a rate by client address is set: without one,
 * wsr__ratelimit_take needs no address. Any thread. */
bool wsr__ratelimit_by_address(wsr__ratelimit_t *rl);
/* Takes one token for a request at `now_ns` (monotonic) from `conn` (the
 * connection's bucket, the caller's), from the bucket of client address
 * `addr` and from that of `user` (either NULL: none). On a refusal fills
 * `why`. Any thread (one connection's bucket on one thread only). */
wsr__rate_t wsr__ratelimit_take(wsr__ratelimit_t *rl, wsr__bucket_t *conn, const char *addr,
                                const char *user, int64_t now_ns, wsr__rate_refusal_t *why);

/* Adds to `tables` "rate_limit_address" and "rate_limit_user": each table's
 * wsr__strtable_describe (its overflow: the requests of addresses or users
 * it had no room for). Returns 0 or WSR_ENOMEM. Any thread. */
int wsr__ratelimit_describe(wsr__ratelimit_t *rl, json_t *tables);

/* The buckets the address and user tables hold (the shared ones not
 * counted). Not locked: only while no other thread uses `rl` (tests). */
size_t wsr__ratelimit_count(const wsr__ratelimit_t *rl);

/* Takes one token at `now_ns` from `b`, the bucket of a route's own limit
 * of `rate` requests a second (burst: one second's worth, at least one) on
 * one connection. On a refusal fills `why` (its limit "connection"). */
wsr__rate_t wsr__ratelimit_take_route(double rate, wsr__bucket_t *b, int64_t now_ns,
                                      wsr__rate_refusal_t *why);

/* Takes a token of the limit of `req`'s route (routed), when it has one of
 * its own, on connection `c`. Returns as wsr__rate_refused does, the 429's
 * detail naming the route. Loop thread. */
bool wsr__route_rate_refused(struct wsr__conn *c, const wsr_request_t *req, wsr_response_t *res);

/* Takes a token for `req` (authenticated, not routed yet) of connection
 * `c`. Returns false when it may go on; true when `res` holds the 429 (and,
 * past twice a budget, `c` is closing 1008), counted in the stats. Loop
 * thread. */
bool wsr__rate_refused(struct wsr__conn *c, const wsr_request_t *req, wsr_response_t *res);

#endif /* WSR_SERVER_RATELIMIT_INT_H */
