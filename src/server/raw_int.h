/* SPDX-License-Identifier: MIT */
/*
 * Raw TCP connections (PROTOCOL.md section 8): the lws raw-socket protocol
 * of the raw listeners. A raw connection is a wsr__conn_t like a WebSocket
 * one (same registry, limits, idle policy, drain, replies and pushes); what
 * differs is here: its framing, told from its first byte, cuts the byte
 * stream into messages for serve.c, and every message queued for it is
 * re-encoded in that framing. Loop thread only.
 */
#ifndef WSR_SERVER_RAW_INT_H
#define WSR_SERVER_RAW_INT_H

#include <libwebsockets.h>

#include "server/inbox_int.h"
#include "server/loop_int.h"

struct wsr__conn;

/* The lws protocol name raw connections are adopted into. */
#define WSR__RAW_PROTOCOL "wsrouter-raw"
/* What lws reads from a raw socket at a time, at most (the service buffer
 * less the LWS_PRE lws keeps in front). */
#define WSR__RAW_RX_CHUNK WSR__SERV_BUF

/* The lws callback of raw connections. */
int wsr__raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

/* Re-encodes `m` (taken: a v1 or JSON-RPC JSON message) in c's framing.
 * Returns the message to queue (owned), or NULL when it could not be built. */
wsr__msg_t *wsr__raw_transcode(struct wsr__conn *c, wsr__msg_t *m);

/* A request that held `c` (a barrier, or any request answered later on a
 * framing without ids) was answered: serves what waits in its receive
 * buffer and reads again. Loop thread. */
void wsr__raw_resume(struct wsr__conn *c);

/* Closes `c` after one last error in its framing saying `why` (`code` is
 * the WebSocket close code the same event has, for the statistics). */
void wsr__raw_close(struct wsr__conn *c, int code, const char *why);

#endif /* WSR_SERVER_RAW_INT_H */
