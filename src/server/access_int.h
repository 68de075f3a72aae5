/* SPDX-License-Identifier: MIT */
/*
 * The access log: one line per answered request, at WSR_LOG_INFO, when the
 * server's `access_log` is on (the default). A line names the connection,
 * the client address, the user ("-" when anonymous), the request (method and
 * URL, or command), the status, the microseconds from arrival to answer, the
 * bytes in and out, and the transport:
 *
 *   access conn#1a 127.0.0.1 alice "GET /math/add" 200 312us in=48 out=41 websocket
 *
 * Never a token, a password or a payload: only what the request asked for.
 */
#ifndef WSR_SERVER_ACCESS_INT_H
#define WSR_SERVER_ACCESS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "core/request_int.h"

struct wsr__loop;
struct wsr__conn;

#define WSR__ACCESS_WHAT 112

/* What the line says of the request, kept while its answer is pending. */
typedef struct wsr__access {
    char what[WSR__ACCESS_WHAT]; /* "GET /math/add", "cmd add", "cmdid 7" or "-" */
    char addr[WSR__PEER_MAX];    /* the client's address, without the port */
    char user[72];               /* who sent it ("" when anonymous), made printable */
    uint64_t conn_id;
    size_t bytes_in;
    uint8_t transport; /* a wsr_transport_t */
} wsr__access_t;

/* Fills `a` from `req` (borrowed) when its factory's access log is on
 * (access_log, level info); leaves it empty otherwise, and an empty one is
 * never logged: a request that came while the log was off is not logged
 * when the log is turned on before its answer. */
void wsr__access_init(wsr__access_t *a, const wsr_request_t *req);

/* Logs the line of a request answered with `status` after `ns`, sending
 * `bytes_out` bytes, when the access log is on and `a` was filled. `c` (borrowed), its
 * connection, tells the user the answer left logged in (a login's), else
 * the request's own is shown (a logout's); NULL when it is gone. Loop
 * thread. */
void wsr__access_log(struct wsr__loop *loop, const struct wsr__conn *c, const wsr__access_t *a,
                     int status, uint64_t ns, size_t bytes_out);

#endif /* WSR_SERVER_ACCESS_INT_H */
