/* SPDX-License-Identifier: MIT */
/*
 * The admin requests (admin.c): live connections, topics, and disconnecting
 * a connection by id, for the admin view of the demo page. Connections are
 * read and closed only on their own loop's thread: a request posts a note to
 * each loop it needs and answers once the last one has handled it.
 */
#ifndef WSR_SERVER_ADMIN_INT_H
#define WSR_SERVER_ADMIN_INT_H

#include "server/loop_int.h"

/* Adds admin_connections, admin_topics and admin_disconnect (each needs the
 * admin role) to `router`; `srv` (borrowed) must outlive it. Returns like
 * wsr_router_add. */
WSR_NODISCARD int wsr__admin_add_routes(wsr_router_t *router, wsr_server_t *srv, wsr_error_t *err);

/* Loop thread: handles a WSR__MSG_ADMIN note (taken). */
void wsr__admin_arrived(wsr__loop_t *loop, wsr__msg_t *m);

#endif /* WSR_SERVER_ADMIN_INT_H */
