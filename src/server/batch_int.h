/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC 2.0 batches (PROTOCOL.md section 10) on a connection. A batch's
 * elements are dispatched one by one like messages of their own (serve.c);
 * the answers of those that answer at once go straight into the batch, and
 * those that answer later (a worker, a deferred reply, the 408 timer) come
 * back on the loop through their reply handles, which point at the batch.
 * When every element is dispatched and every answer is in, the batch goes
 * out as one array (or nothing, when all were notifications). A batch is
 * owned by its connection, which frees it when it closes. Loop thread only:
 * no locks.
 */
#ifndef WSR_SERVER_BATCH_INT_H
#define WSR_SERVER_BATCH_INT_H

#include "core/codec_int.h"
#include "server/conn_int.h"
#include "server/reply_int.h"

typedef struct wsr__batch {
    struct wsr__batch *prev, *next; /* the connection's list */
    json_t *elems;                  /* owned: the array; elements move out as dispatched */
    size_t next_elem;               /* the next element to dispatch */
    size_t outstanding;             /* deferred answers not in yet */
    size_t answers;                 /* answers written to `out` */
    wsr__buf_t out;                 /* "[" and the answers so far (WSR__MSG_HEAD headroom) */
    bool too_big; /* the answers passed max_outbound: one error answers the batch */
} wsr__batch_t;

/* Starts a batch of `elems` (taken: released on failure too) on `c`. Returns
 * it (owned by `c`) or NULL when memory ran out. */
wsr__batch_t *wsr__batch_new(wsr__conn_t *c, json_t *elems);

/* The next element to dispatch (owned: the caller's reference; the batch
 * keeps none), or NULL when every element was dispatched. */
json_t *wsr__batch_next(wsr__batch_t *b);

/* True when every element was dispatched. */
bool wsr__batch_dispatched(const wsr__batch_t *b);

/* Appends the answer `res` to the request `to` describes. An answer that
 * makes the array pass max_outbound is not added: the batch is then
 * answered by one JSON-RPC error instead (PROTOCOL.md section 10: id null,
 * -32603, data.status 500), and the connection stays. Returns 0 or
 * WSR_ENOMEM. */
WSR_NODISCARD int wsr__batch_add_answer(wsr__batch_t *b, const wsr_response_t *res,
                                        const wsr__reply_to_t *to, wsr__buf_t *scratch);

/* The deferred reply `r` will bring an element's answer: the batch waits. */
void wsr__batch_expect(wsr__batch_t *b, wsr_reply_t *r);

/* A deferred answer came in: `m` (taken; NULL or empty when it could not be
 * built) goes into the batch, which may then be complete. */
void wsr__batch_deliver(wsr__conn_t *c, wsr__batch_t *b, wsr__msg_t *m);

/* Sends and frees `b` when it is complete; nothing otherwise. */
void wsr__batch_settle(wsr__conn_t *c, wsr__batch_t *b);

/* The connection is closing: frees its batches. */
void wsr__batch_free_all(wsr__conn_t *c);

#endif /* WSR_SERVER_BATCH_INT_H */
