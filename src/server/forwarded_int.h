/* SPDX-License-Identifier: MIT */
/*
 * The client behind a trusted reverse proxy, at the WebSocket handshake
 * (see forwarded.c).
 */
#ifndef WSR_SERVER_FORWARDED_INT_H
#define WSR_SERVER_FORWARDED_INT_H

#include <libwebsockets.h>

#include "server/loop_int.h"

/*
 * Loop thread, from the WebSocket handshake filter. For a connection from a
 * trusted proxy (none other is touched): reads the client it forwards
 * (X-Forwarded-For, Forwarded; the proxy itself when they name none or
 * cannot be read), counts the connection against the client's address, and
 * leaves the client in loop->pending_client for ESTABLISHED. Returns false
 * when the client is over its limit: the handshake has been answered 429
 * (503 when memory ran out) and must be refused.
 */
bool wsr__forwarded_admit(wsr__loop_t *loop, struct lws *wsi);

/* Answers the request `wsi` with `status` `reason`, a JSON body
 * {"status", "detail"} and Connection: close (the caller then closes). */
void wsr__http_refuse(struct lws *wsi, unsigned status, const char *reason, const char *detail);

/* True, after answering 400, when the request's framing headers are
 * ambiguous: Content-Length twice, or Transfer-Encoding with
 * Content-Length (request smuggling, RFC 9112 section 6.3). The caller
 * then closes the connection. */
bool wsr__http_framing_refused(struct lws *wsi);

#endif /* WSR_SERVER_FORWARDED_INT_H */
