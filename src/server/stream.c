/* SPDX-License-Identifier: MIT */
/*
 * Streaming calls (see stream_int.h): wsr_reply_progress_take on the
 * handler's side, the loop's side of a progress message, and the `cancel`
 * built-in. A call's window is the bytes of its progress messages posted
 * and not yet written (or dropped); a completer on a worker thread waits
 * while a message would overflow it, so a client that reads slowly slows
 * the handler down instead of growing the server's memory. On the loop
 * thread nothing may wait: there the caller is told WSR_EBUSY.
 */
#include "server/stream_int.h"

#include <time.h>

#include "core/codec_int.h"
#include "server/conn_int.h"
#include "server/reply_int.h"
#include "server/server_int.h"

/* How long a completer sleeps between two looks at a full window. */
#define WINDOW_POLL_NS 1000000L

/* Waits until `n` more bytes fit in the window of `r` (a message larger
 * than the window goes alone). Returns 0, WSR_EDONE when the call ended
 * meanwhile, or WSR_EBUSY on the loop thread, which must not wait. */
static int wait_window(wsr_reply_t *r, size_t n)
{
    struct timespec pause = {0, WINDOW_POLL_NS};

    for (;;) {
        size_t used = atomic_load_explicit(&r->inflight, memory_order_acquire);

        if (used == 0 || used + n <= r->window)
            return 0;
        if (wsr_reply_cancelled(r))
            return WSR_EDONE;
        if (wsr__loop_is_current(r->loop))
            return WSR_EBUSY;
        nanosleep(&pause, NULL);
    }
}

/* Encodes `progress` (borrowed) for the call of `r` into `b`. */
static int encode(wsr_reply_t *r, const json_t *progress, wsr__buf_t *b)
{
    /* A sole call's has no id to carry (its framing shows none). */
    wsr__reply_to_t to = {
        r->id != NULL ? r->id : json_null(), r->event_name, r->format, r->envelope, false, false};
    wsr__buf_t scratch;
    int rc;

    wsr__buf_init(&scratch, 0, 0);
    rc = wsr__codec_encode_progress(b, &to, progress, &scratch);
    wsr__buf_dispose(&scratch);
    return rc;
}

int wsr_reply_progress_take(wsr_reply_t *reply, json_t *progress)
{
    wsr__msg_t *m = NULL;
    wsr__buf_t b;
    int rc;

    if (reply == NULL || progress == NULL) {
        json_decref(progress);
        return reply == NULL ? WSR_EINVAL : WSR_ENOMEM;
    }
    if (atomic_load_explicit(&reply->completed, memory_order_acquire) ||
        wsr_reply_cancelled(reply)) {
        json_decref(progress);
        return WSR_EDONE;
    }
    if ((reply->id == NULL && !reply->sole) || reply->notification) {
        /* Nobody could tell whose progress it is (PROTOCOL.md 5.1). */
        wsr__count(&reply->stats->progress_dropped, 1);
        json_decref(progress);
        return 0;
    }
    wsr__buf_init(&b, WSR__MSG_HEAD, 0);
    rc = encode(reply, progress, &b);
    json_decref(progress);
    if (rc == 0)
        rc = wait_window(reply, wsr__buf_payload_len(&b));
    if (rc == 0 && (m = wsr__msg_take(&b, reply->format == WSR_FORMAT_BASE64_BINARY)) == NULL)
        rc = WSR_ENOMEM;
    wsr__buf_dispose(&b);
    if (m == NULL)
        return rc;
    m->kind = WSR__MSG_PROGRESS;
    m->conn_id = reply->conn_id;
    m->reply = wsr__reply_ref(reply);
    /* Counted before it is posted: the loop may write and free it at once. */
    atomic_fetch_add_explicit(&reply->inflight, m->len, memory_order_acq_rel);
    (void)wsr__inbox_post(reply->inbox, m); /* refused: freed, its bytes credited */
    return 0;
}

void wsr__stream_credit(wsr_reply_t *r, size_t n)
{
    atomic_fetch_sub_explicit(&r->inflight, n, memory_order_acq_rel);
}

void wsr__stream_arrived(wsr__loop_t *loop, wsr__msg_t *m)
{
    wsr_reply_t *r = m->reply;
    wsr__conn_t *c = wsr__loop_conn(loop, m->conn_id);

    /* Off its connection's list, the call is over on the loop's side
     * (answered, cancelled, timed out): nothing of it goes out after its
     * answer. A batch element's progress has no place in the batch's one
     * array of replies. */
    if (c == NULL || !r->on_conn || r->batch != NULL) {
        wsr__msg_free(m);
        return;
    }
    wsr__conn_send(c, m);
}

/* ---- the `cancel` built-in ---- */

static int cancel_handler(wsr_request_t *req, wsr_response_t *res, void *user)
{
    wsr_server_t *srv = user;
    json_t *id = wsr_request_arg(req, "id");
    wsr_conn_id_t cid = wsr_request_connection_id(req);
    unsigned li = WSR__ID_LOOP(cid);
    wsr__conn_t *c = NULL;
    bool cancelled;

    if (!json_is_string(id) && !json_is_number(id))
        return wsr_response_param_error(res, "id", "must be the string or number id of a call");
    /* The handler runs on the loop of the connection that asked (a route
     * that is not blocking); a router called without a server has none. */
    if (cid != 0 && li < srv->nloops && wsr__loop_is_current(&srv->loops[li]))
        c = wsr__loop_conn(&srv->loops[li], cid);
    cancelled = c != NULL && wsr__reply_cancel(&srv->loops[li], c, id) == 0;
    return wsr_response_set_data_take(res, json_pack("{s:b}", "cancelled", cancelled));
}

static const wsr_route_t stream_routes[] = {
    {
        .name = "cancel",
        .methods = WSR_POST,
        .url = "/_/cancel",
        .handler = cancel_handler,
        .params = WSR_PARAMS({.name = "id",
                              .type = WSR_TYPE_ANY,
                              .required = true,
                              .doc = "the id of the running call of this connection to cancel"}),
        .doc = "Cancels a running call of this connection; it is answered 499",
    },
    WSR_ROUTES_END,
};

int wsr__stream_add_routes(wsr_router_t *router, wsr_server_t *srv, wsr_error_t *err)
{
    return wsr_router_add(router, stream_routes, srv, err);
}

/* ---- call input ---- */

int wsr__stream_input(wsr__conn_t *c, const json_t *id, const json_t *input, unsigned max)
{
    wsr_reply_t *r;
    json_t *copy;
    int rc = 0;

    for (r = c->replies; r != NULL; r = r->conn_next)
        if (id != NULL ? r->id != NULL && json_equal(r->id, id) : r->sole && r->takes_input)
            break;
    if (r == NULL)
        return WSR_ENOENT;
    /* A copy of its own: the handler's thread will drop its last reference. */
    copy = json_deep_copy(input);
    if (copy == NULL)
        return WSR_ENOMEM;
    pthread_mutex_lock(&r->in_lock);
    if (r->inputs == NULL)
        r->inputs = json_array();
    if (r->inputs == NULL)
        rc = WSR_ENOMEM;
    else if (json_array_size(r->inputs) >= max)
        rc = WSR_EBUSY;
    else if (json_array_append_new(r->inputs, copy) != 0) /* it frees `copy` */
        rc = WSR_ENOMEM;
    else
        pthread_cond_signal(&r->in_cond);
    /* The copy's count is touched under the lock only: once appended (or
     * freed by the append), the handler's thread takes it from there. */
    if (rc == WSR_EBUSY || r->inputs == NULL)
        json_decref(copy);
    pthread_mutex_unlock(&r->in_lock);
    return rc;
}

bool wsr__stream_listening(const wsr__conn_t *c)
{
    const wsr_reply_t *r;

    if (!c->held)
        return false;
    for (r = c->replies; r != NULL; r = r->conn_next)
        if (r->sole && r->takes_input)
            return true;
    return false;
}

/* How long a reader sleeps at most before it looks at its call again. */
#define INPUT_POLL_MS 50

/* The absolute CLOCK_REALTIME time `ms` from now. */
static struct timespec after_ms(int64_t ms)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += (time_t)(ms / 1000);
    t.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

int wsr_reply_input_take(wsr_reply_t *reply, unsigned timeout_ms, json_t **input)
{
    int64_t left;
    int rc = WSR_ETIMEDOUT;

    if (reply == NULL || input == NULL)
        return WSR_EINVAL;
    *input = NULL;
    /* The loop must not wait. */
    left = wsr__loop_is_current(reply->loop) ? 0 : (int64_t)timeout_ms;
    pthread_mutex_lock(&reply->in_lock);
    for (;;) {
        struct timespec until;
        int64_t slice;

        if (wsr_reply_cancelled(reply)) {
            rc = WSR_EDONE;
            break;
        }
        if (json_array_size(reply->inputs) > 0) {
            *input = json_incref(json_array_get(reply->inputs, 0));
            (void)json_array_remove(reply->inputs, 0);
            rc = 0;
            break;
        }
        if (left <= 0)
            break;
        /* Woken by input; a cancel is seen at the next slice. */
        slice = left < INPUT_POLL_MS ? left : INPUT_POLL_MS;
        until = after_ms(slice);
        (void)pthread_cond_timedwait(&reply->in_cond, &reply->in_lock, &until);
        left -= slice;
    }
    pthread_mutex_unlock(&reply->in_lock);
    return rc;
}
