/* SPDX-License-Identifier: MIT */
/*
 * How a handler answers. A handler fills the response it is given: a result
 * (`data`, status 200 unless set to 201 or 202) or an error (a status and one
 * sentence naming what was wrong; 422 with an error per parameter). The server
 * encodes it in the request's format (docs/protocol.md section 4).
 *
 * Every setter that fails (out of memory, a bad status) turns the response
 * into a 500 with a generic detail, so its result may be ignored: a handler
 * can simply `return wsr_response_...(res, ...)`.
 *
 * A handler that cannot answer before it returns defers: it takes a reply
 * handle and completes it later, from any thread or timer. A handle is
 * completed exactly once; completing it after the request timed out or its
 * connection closed is harmless (the result is dropped).
 */
#ifndef WSR_WSROUTER_RESPONSE_H
#define WSR_WSROUTER_RESPONSE_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsr_response wsr_response_t;
typedef struct wsr_reply wsr_reply_t;

/*
 * Sets the result. Takes `data`; a previous result or error is released.
 * `data` NULL is read as a failed json_*() constructor, so the answer becomes
 * 500 and WSR_ENOMEM is returned: pass json_null() for an explicit null.
 * Returns 0 otherwise. Call from the handler's thread only.
 */
WSR_API int wsr_response_set_data_take(wsr_response_t *res, json_t *data);

/* Convenience setters: a string (copied), an integer, a real, a boolean. */
WSR_API int wsr_response_set_string(wsr_response_t *res, const char *s);
WSR_API int wsr_response_set_int(wsr_response_t *res, int64_t v);
WSR_API int wsr_response_set_real(wsr_response_t *res, double v);
WSR_API int wsr_response_set_bool(wsr_response_t *res, bool v);

/*
 * Sets a success status: 200 (default), 201 or 202. Returns 0, or WSR_EINVAL
 * for any other value (use wsr_response_error for errors).
 */
WSR_API int wsr_response_set_status(wsr_response_t *res, int status);

/*
 * Answers with an error: `status` 400-599 and a detail sentence formatted from
 * `fmt` (truncated at 512 bytes). Replaces any result. Returns 0, WSR_EINVAL
 * for a status outside 400-599, or WSR_ENOMEM.
 */
WSR_API int wsr_response_error(wsr_response_t *res, int status, const char *fmt, ...)
    WSR_PRINTF(3, 4);

/*
 * Adds a per-parameter error and makes the answer 422 ("errors" maps parameter
 * names to messages). `param` is borrowed (copied). Returns 0 or WSR_ENOMEM.
 */
WSR_API int wsr_response_param_error(wsr_response_t *res, const char *param, const char *fmt, ...)
    WSR_PRINTF(3, 4);

/* Returns the status the response currently holds (200 when untouched). */
WSR_API int wsr_response_status(const wsr_response_t *res);

/*
 * Defers the answer. Returns the reply handle (owned by the caller until it
 * passes it to one of the wsr_reply_* completion calls, which take it), or NULL
 * when deferring is impossible here (wsr_router_call without a server, or out
 * of memory); then answer through `res` instead. After deferring, whatever the
 * handler puts in `res` is ignored. Call from the handler, before it returns.
 */
WSR_API wsr_reply_t *wsr_response_defer(wsr_response_t *res);

/*
 * Completes a deferred reply with a result. Takes `reply` and `data` (NULL is
 * a failed constructor: the client gets 500). `status` is 200, 201 or 202.
 * Callable from any thread.
 * Returns 0 when the reply was queued, WSR_EDONE when the request had already
 * been answered (timeout, shutdown) or its connection closed: the result is
 * dropped and nothing leaks. WSR_EINVAL for a bad status (the client gets 500).
 */
WSR_API int wsr_reply_complete_take(wsr_reply_t *reply, int status, json_t *data);

/*
 * Completes a deferred reply with an error, like wsr_response_error. Takes
 * `reply`. Callable from any thread. Same returns as wsr_reply_complete_take.
 */
WSR_API int wsr_reply_error(wsr_reply_t *reply, int status, const char *fmt, ...) WSR_PRINTF(3, 4);

/* A timer's callback (wsr_reply_after): `reply` is the handle the timer
 * was armed on (the caller's to complete), `user` what it was given. */
typedef void (*wsr_reply_timer_fn)(wsr_reply_t *reply, void *user);

/*
 * Calls fn(reply, user) on the event loop of the connection, after `ms`
 * milliseconds, without a thread: a handler that answers later from a timer
 * defers, arms one, and completes the reply in `fn`. If the request ends
 * first (its timeout, its connection closing, the server stopping), `fn`
 * runs at once instead, with wsr_reply_cancelled(reply) true, so it can
 * release what `user` holds; completing it then is harmless. `reply` stays
 * valid until `fn` has run. One timer per handle. Call from the handler that
 * deferred, on its event loop (not on a worker thread). Returns 0,
 * WSR_EINVAL (no handle or no function), WSR_ESTATE (not on the reply's
 * event loop, a timer armed already, or the reply already over).
 */
WSR_API WSR_NODISCARD int wsr_reply_after(wsr_reply_t *reply, unsigned ms, wsr_reply_timer_fn fn,
                                          void *user);

/*
 * Returns true when the reply can no longer be delivered (timed out,
 * connection closed, server stopping, or already completed): a long job may
 * stop early. Borrowed `reply`. Callable from any thread.
 */
WSR_API bool wsr_reply_cancelled(const wsr_reply_t *reply);

/*
 * Streaming (docs/protocol.md section 5.1). A handler that answers in
 * several parts defers (a WSR_ROUTE_BLOCKING handler too: its handle is the
 * worker's), sends progress with wsr_reply_progress_take, then completes:
 *
 *   wsr_reply_t *r = wsr_response_defer(res);
 *   for (i = 1; i <= n && !wsr_reply_cancelled(r); i++)
 *       if (wsr_reply_progress_take(r, json_integer(i)) != 0)
 *           break;                         the call is over: stop
 *   wsr_reply_complete_take(r, 200, json_integer(n));
 */

/*
 * Sends `progress` (taken; NULL is a failed constructor) to the client as
 * {"id":X,"progress":...} before the reply, in the order sent. Each call
 * has a window of bytes sent and not yet written to the client (a quarter
 * of max_outbound): on a worker or any thread but the event loop's, the
 * call waits while the window is full, so a slow reader slows the handler
 * down; on the event loop it returns WSR_EBUSY instead (try again from a
 * timer). A request without an id gets no progress: it is dropped (and
 * counted in stats) and 0 returned. Borrowed `reply`, which must not have
 * been completed yet. Returns 0, WSR_EDONE when the call is over (cancelled,
 * timed out, its connection closed, or completed): stop working, WSR_EBUSY,
 * WSR_ENOMEM or WSR_EINVAL (no reply).
 */
WSR_API int wsr_reply_progress_take(wsr_reply_t *reply, json_t *progress);

/*
 * Returns true when the client cancelled the call (the `cancel` built-in; it
 * was answered 499), false for a call that ended otherwise or still runs.
 * wsr_reply_cancelled is also true then. A deferred handler that armed a
 * timer with wsr_reply_after is called at once on a cancel, so that callback
 * is its cancel callback. Borrowed `reply`. Callable from any thread.
 */
WSR_API bool wsr_reply_was_cancelled(const wsr_reply_t *reply);

/*
 * Receives the call's next input message, {"id":X,"input":...} sent by the
 * client while the call runs (tcpy's recv()), in the order sent. Waits up
 * to `timeout_ms` for one on a worker or any other thread; on the event
 * loop it never waits (poll it from a wsr_reply_after timer). At most
 * max_call_input messages wait per call; the client gets 429 past that.
 * Borrowed `reply`; `*input` is owned by the caller (json_decref) on 0,
 * NULL otherwise. Returns 0, WSR_ETIMEDOUT (none came), WSR_EDONE (the call
 * is over: cancelled, timed out or its connection closed) or WSR_EINVAL.
 */
WSR_API WSR_NODISCARD int wsr_reply_input_take(wsr_reply_t *reply, unsigned timeout_ms,
                                               json_t **input);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_RESPONSE_H */
