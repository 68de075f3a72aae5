/* SPDX-License-Identifier: MIT */
/*
 * Connection limits, enforced when a connection is accepted: at most
 * `max_connections` in total and `max_connections_per_ip` from one client
 * address. Counted for every TCP connection (HTTP and WebSocket), released
 * when libwebsockets destroys the connection.
 */
#ifndef WSR_SRC_LIMITS_INT_H
#define WSR_SRC_LIMITS_INT_H

#include <sys/socket.h>

#include "server/loop_int.h"

typedef struct wsr__limits wsr__limits_t;

/* Creates the table; 0 means no limit. */
wsr__limits_t *wsr__limits_new(unsigned max_total, unsigned max_per_ip);
void wsr__limits_free(wsr__limits_t *l);

/* Loop thread, at accept: counts the connection from `peer`, or refuses it.
 * On success loop->admitted holds the token to attach to the new wsi. */
bool wsr__limits_admit(wsr__loop_t *loop, const struct sockaddr_storage *peer);
/* Undoes an admit whose adoption failed. */
void wsr__limits_release_addr(wsr__loop_t *loop, const struct sockaddr_storage *peer);
/* Releases the count behind a token (from the wsi's opaque user data). */
void wsr__limits_release(wsr__limits_t *l, void *token);
/* Connections counted now. */
unsigned wsr__limits_total(const wsr__limits_t *l);

#endif /* WSR_SRC_LIMITS_INT_H */
