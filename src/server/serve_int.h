/* SPDX-License-Identifier: MIT */
/*
 * Serving one message of a connection: decode it, authenticate and dispatch
 * the request, run the handler here or on a worker, encode the answer in
 * the request's own format and queue it. The same steps serve every
 * transport of the server.
 */
#ifndef WSR_SERVER_SERVE_INT_H
#define WSR_SERVER_SERVE_INT_H

#include "server/conn_int.h"

/* Serves the complete message `p` (n bytes; borrowed for the call) of
 * connection `c`. Loop thread. */
void wsr__serve_message(wsr__conn_t *c, const unsigned char *p, size_t n, bool binary);

#endif /* WSR_SERVER_SERVE_INT_H */
