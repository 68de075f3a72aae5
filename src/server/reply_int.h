/* SPDX-License-Identifier: MIT */
/*
 * Deferred replies (the handle of include/wsrouter/response.h). A handle has
 * two references: the completer's (a handler, a worker, a timer, any thread)
 * and its loop's. Exactly one party wins the PENDING -> DONE exchange: the
 * completer (its answer travels through the loop's inbox, and the message
 * carries the loop's reference), the loop's timeout (408), the connection's
 * close or the loop's shutdown (nothing is sent). The completer touches
 * nothing but the handle and the inbox, which outlives the loop.
 */
#ifndef WSR_SERVER_REPLY_INT_H
#define WSR_SERVER_REPLY_INT_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/request_int.h"
#include "core/stats_int.h"
#include "server/access_int.h"
#include "server/inbox_int.h"

struct wsr__loop;
struct wsr__conn;

struct wsr_reply {
    atomic_int state;      /* WSR__REPLY_PENDING or WSR__REPLY_DONE */
    atomic_int refs;       /* the completer's, the loop's, and a running worker's */
    atomic_bool completed; /* the completer has completed it (once is all that counts) */
    wsr__inbox_t *inbox;   /* owned ref */
    uint64_t conn_id;
    json_t *id;         /* owned: a copy of the request's */
    json_t *event_name; /* owned: a copy of the request's */
    wsr__msg_t *spare;  /* owned: what the completer posts when it cannot build a message
                         * (out of memory), so the loop's reference always comes back */
    wsr_format_t format;
    uint8_t envelope;  /* the request's WSR__ENVELOPE_* */
    bool notification; /* a JSON-RPC notification: the answer is not sent */
    bool head;
    /* On a tcpy connection, which has no ids and runs its calls one at a
     * time, the call is the connection's only running one: its progress
     * needs no id, and, when its route reads input (WSR_ROUTE_INPUT), a
     * frame arriving meanwhile is its input. */
    bool sole;
    bool takes_input;
    int status; /* set by the completer before posting */
    size_t route_index;
    uint64_t start_ns;
    wsr__access_t access; /* what its access-log line says of the request */
    /* Streaming (PROTOCOL.md section 5.1): progress bytes posted and not yet
     * written to the socket, and the most a call may have so (its window). */
    atomic_size_t inflight;
    size_t window;
    atomic_bool client_cancelled; /* the client cancelled it (499) */
    /* Set by the loop before it claims the reply to answer 408 or 499:
     * an engine job that finds it set does not run (serve.c). */
    atomic_bool told_ended;
    wsr__stats_t *stats; /* borrowed: the loop's, read by completers */
    /* Call input (section 5.1), from the loop to the handler's thread. */
    pthread_mutex_t in_lock;
    pthread_cond_t in_cond;
    json_t *inputs; /* owned, under in_lock: a JSON array, oldest first, or NULL */
    /* Loop thread only: */
    struct wsr__loop *loop; /* borrowed */
    lws_sorted_usec_list_t sul;
    struct wsr_reply *loop_prev, *loop_next;
    struct wsr_reply *conn_prev, *conn_next;
    lws_sorted_usec_list_t timer_sul; /* wsr_reply_after's timer */
    wsr_reply_timer_fn timer_fn;      /* armed: holds a reference until it ran */
    void *timer_user;
    bool on_loop; /* on the loop's pending list, which holds the loop's reference */
    bool on_conn; /* on its connection's list */
    /* borrowed: the batch its answer goes into, or NULL; cleared when the
     * connection, which owns the batch, closes */
    struct wsr__batch *batch;
    bool barrier; /* a barrier's: the connection's held requests wait for it */
};

enum { WSR__REPLY_PENDING = 0, WSR__REPLY_DONE = 1 };

/* Creates a pending reply for `req` on connection `c`, armed with the route's
 * timeout. Loop thread. Returns it (the completer's reference) or NULL. */
wsr_reply_t *wsr__reply_new(struct wsr__loop *loop, struct wsr__conn *c, const wsr_request_t *req);
/* Another reference (a worker holds one while its handler runs). */
wsr_reply_t *wsr__reply_ref(wsr_reply_t *r);
void wsr__reply_unref(wsr_reply_t *r);
/* Loop thread: handles a completion that arrived through the inbox (taken). */
void wsr__reply_delivered(struct wsr__loop *loop, wsr__msg_t *m);
/* Loop thread: the connection is closing; its pending replies are cancelled. */
void wsr__reply_conn_closed(struct wsr__loop *loop, struct wsr__conn *c);
/* Loop thread: cancels every pending reply (the loop is stopping). */
void wsr__reply_cancel_all(struct wsr__loop *loop);
/* Completes `reply` with what `res` holds (its contents are taken). Any
 * thread. Returns 0 or WSR_EDONE like wsr_reply_complete_take. */
int wsr__reply_complete_response(wsr_reply_t *reply, wsr_response_t *res);

/* True when the loop ended the reply and told its client so: 408 (timed
 * out) or 499 (cancelled by the client). Any thread. */
bool wsr__reply_told_ended(const wsr_reply_t *reply);
/* Loop thread: cancels the running call `id` (borrowed) of connection `c`
 * at the client's request: it is answered 499 now and its handler sees
 * wsr_reply_was_cancelled. Returns 0, or WSR_ENOENT when no call of `c`
 * with that id is running. */
int wsr__reply_cancel(struct wsr__loop *loop, struct wsr__conn *c, const json_t *id);

#endif /* WSR_SERVER_REPLY_INT_H */
