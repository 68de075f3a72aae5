/* SPDX-License-Identifier: MIT */
/*
 * Streaming calls (PROTOCOL.md section 5.1): progress messages a handler
 * sends before its reply, bounded per call by a window of bytes not yet
 * written, and the `cancel` built-in. A progress message travels like a
 * deferred reply's answer, through the loop's inbox, so that it precedes
 * the answer; the loop drops it once the call is over on its side
 * (cancelled, timed out, its connection gone), so nothing of a cancelled
 * call is sent after its 499.
 */
#ifndef WSR_SERVER_STREAM_INT_H
#define WSR_SERVER_STREAM_INT_H

#include "server/inbox_int.h"

struct wsr__conn;
struct wsr__loop;
struct wsr_server;

/* Loop thread: a progress message (taken) arrived through the inbox; it is
 * queued on its connection while its call still runs, else dropped. */
void wsr__stream_arrived(struct wsr__loop *loop, wsr__msg_t *m);

/* A progress message of `r` (n bytes) left the server or was dropped: its
 * bytes no longer count against the call's window. Any thread. */
void wsr__stream_credit(struct wsr_reply *r, size_t n);

/* Loop thread: queues a copy of `input` (borrowed) for the running call
 * `id` (borrowed) of `c`, or, `id` NULL, for its sole call that reads
 * input (a tcpy connection's). Returns 0, WSR_ENOENT (no such call
 * running), WSR_EBUSY (`max` inputs wait already) or WSR_ENOMEM. */
int wsr__stream_input(struct wsr__conn *c, const json_t *id, const json_t *input, unsigned max);

/* Loop thread: `c` is held by its sole call, which reads input: what
 * arrives meanwhile is that call's input, not requests waiting their turn. */
bool wsr__stream_listening(const struct wsr__conn *c);

/* Adds the `cancel` built-in (POST /_/cancel) of `srv` (borrowed: it must
 * outlive the router's use) to `router`. Returns like wsr_router_add. */
WSR_NODISCARD int wsr__stream_add_routes(wsr_router_t *router, struct wsr_server *srv,
                                         wsr_error_t *err);

#endif /* WSR_SERVER_STREAM_INT_H */
