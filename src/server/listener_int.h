/* SPDX-License-Identifier: MIT */
/*
 * The listening sockets wsrouter owns (one per event loop, in one
 * SO_REUSEPORT group) and the accept path into libwebsockets.
 */
#ifndef WSR_SRC_LISTENER_INT_H
#define WSR_SRC_LISTENER_INT_H

#include "server/loop_int.h"

#define WSR__LISTEN_PROTOCOL "wsrouter-listen"

/* Opens `count` listening sockets on numeric `addr`:`port` (0: the kernel
 * picks, reported in *bound_port). Refuses a port anyone else holds. On
 * failure nothing stays open. Returns 0 or WSR_EINVAL/WSR_EIO with `err`. */
int wsr__listen_open(const char *addr, int port, unsigned count, int *fds, int *bound_port,
                     wsr_error_t *err);
/* Closes descriptors that were never adopted (fds[i] >= 0). */
void wsr__listen_close(int *fds, unsigned count);
/* Loop thread: starts watching listener k's descriptor (taken by lws). */
int wsr__listen_adopt(wsr__loop_t *loop, unsigned k);
/* Loop thread: stops accepting (the drain). */
void wsr__listen_stop(wsr__loop_t *loop);

/* The lws callback of the listening descriptors. */
int wsr__listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len);

#endif /* WSR_SRC_LISTENER_INT_H */
