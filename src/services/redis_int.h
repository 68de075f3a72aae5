/* SPDX-License-Identifier: MIT */
/*
 * One connection to Redis (hiredis, synchronous) shared by threads: every
 * command holds the connection's mutex for its round trip. It connects from a
 * parsed engine URL (redisurl_int.h) with AUTH and SELECT, bounds the connect
 * and every command by timeouts, and when Redis cannot be reached it is
 * "down": commands fail at once with WSR_ECONNECT until the next attempt,
 * which comes after a backoff doubling from 100 ms to 5 s. A thread of its
 * own retries while down and PINGs while idle, so the state that
 * wsr__redis_up reads (for /_/health, the metrics and 503s) follows Redis
 * within about a second without any request. It never logs a password.
 */
#ifndef WSR_SERVICES_REDIS_INT_H
#define WSR_SERVICES_REDIS_INT_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "services/redisurl_int.h"
#include "wsrouter/error.h"

typedef struct wsr__redis wsr__redis_t;

/* Told of every change of state (up or down, with why when down), from
 * whichever thread saw it, without the connection's lock held. */
typedef void (*wsr__redis_state_fn)(void *ctx, bool up, const char *why);

typedef struct wsr__redis_options {
    unsigned connect_ms;          /* 0: 1000 */
    unsigned command_ms;          /* 0: 2000 */
    wsr__redis_state_fn on_state; /* or NULL */
    void *ctx;
} wsr__redis_options_t;

/* Makes the connection to `url` (copied) and tries it once. Redis being down
 * is not an error: the connection starts down and keeps trying. Returns the
 * connection (owned: wsr__redis_free) or NULL with `err` (out of memory, no
 * thread). */
wsr__redis_t *wsr__redis_new(const wsr__redis_url_t *url, const wsr__redis_options_t *opt,
                             wsr_error_t *err);

/* Stops the retry thread and closes the connection. NULL is ignored. */
void wsr__redis_free(wsr__redis_t *r);

/* True while the last exchange with Redis worked. Any thread. */
bool wsr__redis_up(wsr__redis_t *r);

/* Why the connection is down ("" when up) into `buf`. Any thread. */
void wsr__redis_why(wsr__redis_t *r, char *buf, size_t size);

/*
 * Sends one command (argv[i] of argvlen[i] bytes, borrowed) and waits for its
 * reply. Returns 0 with *reply (owned: freeReplyObject), which may be a Redis
 * error reply; WSR_ECONNECT with *reply NULL when Redis cannot be reached or
 * did not answer in time (the command may or may not have run), or
 * WSR_ENOMEM. Thread-safe.
 */
WSR_NODISCARD int wsr__redis_command(wsr__redis_t *r, int argc, const char **argv,
                                     const size_t *argvlen, redisReply **reply);

/* True when the text of a Redis error reply says Redis cannot serve now
 * (LOADING, BUSY, MASTERDOWN, TRYAGAIN, MISCONF, NOAUTH, READONLY, OOM):
 * answered 503 "the cluster engine is unavailable", not 500. */
bool wsr__redis_error_unavailable(const char *text);

#endif /* WSR_SERVICES_REDIS_INT_H */
