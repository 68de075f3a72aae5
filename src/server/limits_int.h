/* SPDX-License-Identifier: MIT */
/*
 * Connection limits: at most `max_connections` in total and
 * `max_connections_per_ip` from one client address. Counted for every TCP
 * connection (HTTP and WebSocket) when it is accepted, and released when
 * libwebsockets destroys it. A connection from a trusted proxy is counted in
 * the total only, until its WebSocket handshake names the client it
 * forwards: then it counts against that client's address (see limits.c).
 */
#ifndef WSR_SRC_LIMITS_INT_H
#define WSR_SRC_LIMITS_INT_H

#include "server/addr_int.h"

typedef struct wsr__limits wsr__limits_t;

/* Why an admission failed. */
typedef enum wsr__admit {
    WSR__ADMIT_OK = 0,
    WSR__ADMIT_TOTAL,       /* max_connections reached */
    WSR__ADMIT_PER_ADDRESS, /* max_connections_per_ip reached for this address */
    WSR__ADMIT_NOMEM
} wsr__admit_t;

/* Creates the table (owned: wsr__limits_free); 0 means no limit. NULL when
 * memory ran out. */
wsr__limits_t *wsr__limits_new(unsigned max_total, unsigned max_per_ip);
void wsr__limits_free(wsr__limits_t *l);
/* Changes the two limits (0: none) for the connections admitted from now
 * on; those open past a lower limit stay. Any thread. */
void wsr__limits_set(wsr__limits_t *l, unsigned max_total, unsigned max_per_ip);

/*
 * Counts a new connection from `addr`, or refuses it. A NULL `addr` counts it
 * in the total only: a trusted proxy's connection, whose client is not known
 * yet (wsr__limits_admit_client). On success *token is what the connection
 * carries until wsr__limits_release; on failure it is NULL and nothing was
 * counted. Any thread.
 */
wsr__admit_t wsr__limits_admit(wsr__limits_t *l, const wsr__addr_t *addr, void **token);
/*
 * For a connection admitted without an address: counts it against `client`
 * as well, and replaces *token. On failure *token is unchanged (the
 * connection still counts in the total until it is released). A token that
 * names an address already is left as it is. Any thread.
 */
wsr__admit_t wsr__limits_admit_client(wsr__limits_t *l, void **token, const wsr__addr_t *client);
/* Releases what a token counts (NULL: nothing). Any thread. */
void wsr__limits_release(wsr__limits_t *l, void *token);
/* True when `token` is a connection counted in the total only. */
bool wsr__limits_is_pending(const wsr__limits_t *l, const void *token);
/* Connections counted now, in all and against `addr`. Any thread. */
unsigned wsr__limits_total(const wsr__limits_t *l);
unsigned wsr__limits_count(const wsr__limits_t *l, const wsr__addr_t *addr);

#endif /* WSR_SRC_LIMITS_INT_H */
