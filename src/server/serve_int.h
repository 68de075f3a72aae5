/* SPDX-License-Identifier: MIT */
/*
 * Serving one message of a connection: decode it, authenticate and dispatch
 * the request (each request of a JSON-RPC batch), run the handler here or on
 * a worker, encode the answer in the request's own format and envelope and
 * queue it. A barrier route that answers later holds the connection's later
 * messages until its answer is delivered (PROTOCOL.md section 6). The same
 * steps serve every transport of the server.
 */
#ifndef WSR_SERVER_SERVE_INT_H
#define WSR_SERVER_SERVE_INT_H

#include "server/conn_int.h"

/* Serves the complete message `p` (n bytes; borrowed for the call) of
 * connection `c`, or keeps a copy of it while a barrier holds `c` (closing
 * it 1008 past the bound). Loop thread. */
void wsr__serve_message(wsr__conn_t *c, const unsigned char *p, size_t n, bool binary);

/* A barrier's answer was delivered (or timed out): the rest of a batch that
 * waited for it, then the held messages, are served in order, until another
 * barrier holds. Loop thread. */
void wsr__serve_resume(wsr__conn_t *c);

/* The connection is closing: drops its held messages and its batches.
 * Loop thread, after its replies were cancelled (wsr__reply_conn_closed). */
void wsr__serve_conn_closed(wsr__conn_t *c);

/* Drops closed connection `id`'s subscriptions and presence (on the Redis
 * engine's queue when there is one, else at once). Loop thread. */
void wsr__serve_drop_conn(wsr__loop_t *loop, uint64_t id);

#endif /* WSR_SERVER_SERVE_INT_H */
