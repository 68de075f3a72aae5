/* SPDX-License-Identifier: MIT */
/*
 * Deferred replies (see reply_int.h). The loop's reference is held while the
 * handle is on the loop's pending list, unless the completer won: then the
 * message it posted carries that reference, and whoever frees the message
 * (the loop delivering it, or a closed inbox refusing it) releases it. So a
 * path that takes the handle off the list releases the loop's reference only
 * when the loop itself won the PENDING -> DONE exchange.
 */
#include "server/reply_int.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/codec_int.h"
#include "core/rawframe_int.h"
#include "core/router_int.h"
#include "server/batch_int.h"
#include "server/bounded_int.h"
#include "server/conn_int.h"
#include "server/loop_int.h"
#include "server/serve_int.h"

static void on_timeout(lws_sorted_usec_list_t *sul);
static void fire_timer(wsr_reply_t *r);

wsr_reply_t *wsr__reply_ref(wsr_reply_t *r)
{
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

void wsr__reply_unref(wsr_reply_t *r)
{
    if (r == NULL || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    json_decref(r->id);
    json_decref(r->event_name);
    json_decref(r->inputs);
    pthread_mutex_destroy(&r->in_lock);
    pthread_cond_destroy(&r->in_cond);
    wsr__msg_free(r->spare);
    wsr__inbox_unref(r->inbox);
    wsr__free(r);
}

static void link_loop(wsr__loop_t *loop, wsr_reply_t *r)
{
    r->on_loop = true;
    r->loop_prev = NULL;
    r->loop_next = loop->pending;
    if (loop->pending != NULL)
        loop->pending->loop_prev = r;
    loop->pending = r;
}

/* Takes `r` off the loop's list; harmless when it is off already. */
static void unlink_loop(wsr__loop_t *loop, wsr_reply_t *r)
{
    if (!r->on_loop)
        return;
    r->on_loop = false;
    if (r->loop_prev != NULL)
        r->loop_prev->loop_next = r->loop_next;
    else
        loop->pending = r->loop_next;
    if (r->loop_next != NULL)
        r->loop_next->loop_prev = r->loop_prev;
    r->loop_prev = r->loop_next = NULL;
    lws_sul_cancel(&r->sul);
    /* The request is over on the loop's side (answered, timed out, its
     * connection gone, the loop stopping): a timer still armed runs now. */
    if (r->timer_fn != NULL)
        fire_timer(r);
}

static void unlink_conn(wsr__conn_t *c, wsr_reply_t *r)
{
    if (!r->on_conn)
        return;
    if (r->conn_prev != NULL)
        r->conn_prev->conn_next = r->conn_next;
    else
        c->replies = r->conn_next;
    if (r->conn_next != NULL)
        r->conn_next->conn_prev = r->conn_prev;
    r->conn_prev = r->conn_next = NULL;
    r->on_conn = false;
}

static bool claim(wsr_reply_t *r)
{
    int expected = WSR__REPLY_PENDING;

    return atomic_compare_exchange_strong_explicit(&r->state, &expected, WSR__REPLY_DONE,
                                                   memory_order_acq_rel, memory_order_acquire);
}

wsr_reply_t *wsr__reply_new(wsr__loop_t *loop, wsr__conn_t *c, const wsr_request_t *req)
{
    wsr_reply_t *r = wsr__calloc(1, sizeof(*r));
    unsigned timeout_ms;

    if (r == NULL)
        return NULL;
    /* Copies, not references: the reply is released on whichever thread
     * finishes with it last, the request on another, and jansson's reference
     * counts are only safe when one thread drops all references to a value
     * (its last decref has no acquire). A deferred reply is not the common
     * path: the two small allocations are cheap beside the hand-off. */
    r->id = json_deep_copy(req->id);
    r->event_name = json_deep_copy(req->event_name);
    r->spare = wsr__msg_new_note(WSR__MSG_DATA, c->id, 0);
    if ((req->id != NULL && r->id == NULL) || (req->event_name != NULL && r->event_name == NULL) ||
        r->spare == NULL || pthread_mutex_init(&r->in_lock, NULL) != 0)
        goto fail_copies;
    if (pthread_cond_init(&r->in_cond, NULL) != 0)
        goto fail_lock;
    atomic_init(&r->state, WSR__REPLY_PENDING);
    atomic_init(&r->refs, 2);
    atomic_init(&r->completed, false);
    atomic_init(&r->inflight, 0);
    atomic_init(&r->client_cancelled, false);
    atomic_init(&r->told_ended, false);
    /* A quarter of the outbound cap: a few streams at once stay under it. */
    r->window = loop->factory->settings.max_outbound / 4;
    r->stats = loop->stats;
    r->inbox = wsr__inbox_ref(loop->inbox);
    r->conn_id = c->id;
    r->format = req->format;
    r->envelope = req->envelope;
    r->notification = req->notification;
    r->head = req->method == WSR_HEAD;
    r->sole = c->framing == WSR__FRAMING_TCPY;
    r->takes_input = req->route != NULL && (req->route->def->flags & WSR_ROUTE_INPUT) != 0;
    r->route_index = req->route ? req->route->index : SIZE_MAX;
    r->start_ns = req->start_ns;
    wsr__access_init(&r->access, req);
    r->loop = loop;
    link_loop(loop, r);
    r->conn_next = c->replies;
    if (c->replies != NULL)
        c->replies->conn_prev = r;
    c->replies = r;
    r->on_conn = true;
    timeout_ms = req->route && req->route->def->timeout_ms
                     ? req->route->def->timeout_ms
                     : loop->factory->settings.request_timeout_ms;
    lws_sul_schedule(loop->ctx, 0, &r->sul, on_timeout, (lws_usec_t)timeout_ms * LWS_US_PER_MS);
    return r;
fail_lock:
    pthread_mutex_destroy(&r->in_lock);
fail_copies:
    json_decref(r->id);
    json_decref(r->event_name);
    wsr__msg_free(r->spare);
    wsr__free(r);
    return NULL;
}

/* What the encoder needs to answer the request of `r`. */
static wsr__reply_to_t reply_to(const wsr_reply_t *r, bool head)
{
    wsr__reply_to_t to = {r->id, r->event_name, r->format, r->envelope, head, false};

    return to;
}

/*
 * Loop thread: hands `m` (taken; NULL or empty when there is nothing to
 * send), the answer of `r`, to where it goes: its batch, or its connection
 * (a notification's goes nowhere). Then, for a barrier, the requests that
 * waited behind it go on (they may queue answers of their own).
 */
static void hand_over(wsr__loop_t *loop, wsr__conn_t *c, wsr_reply_t *r, wsr__msg_t *m)
{
    struct wsr__batch *b = r->batch;

    r->batch = NULL;
    if (c != NULL && b != NULL) {
        wsr__batch_deliver(c, b, m);
    } else if (c != NULL && m != NULL && m->len > 0 && !r->notification) {
        wsr__conn_send(c, m);
    } else {
        if (!r->notification)
            wsr__count(&loop->stats->replies_dropped, 1);
        wsr__msg_free(m);
    }
    if (c != NULL && r->barrier)
        wsr__serve_resume(c);
}

/* Loop thread: ends `r`, which the loop has claimed, with the error
 * `status` and `detail` (408 on timeout, 499 on a cancel), sent at once. */
static void end_on_loop(wsr__loop_t *loop, wsr_reply_t *r, int status, const char *detail)
{
    wsr__conn_t *c = wsr__loop_conn(loop, r->conn_id);
    wsr__msg_t *m = NULL;
    wsr_response_t res;
    wsr__reply_to_t to = reply_to(r, false);
    wsr__buf_t b;

    uint64_t ns = wsr__now_ns() - r->start_ns;

    wsr__stats_request(loop->stats, status, r->route_index, ns);
    if (c != NULL) {
        wsr__response_init(&res);
        wsr__buf_init(&b, WSR__MSG_HEAD, 0);
        if (!r->notification && wsr__response_error_str(&res, status, detail) == 0 &&
            wsr__codec_encode_answer(&b, &res, &to, &loop->scratch) == 0)
            m = wsr__msg_take(&b, r->format == WSR_FORMAT_BASE64_BINARY);
        wsr__buf_dispose(&b);
        wsr__response_dispose(&res);
        unlink_conn(c, r);
    }
    wsr__access_log(loop, c, &r->access, status, ns, m != NULL ? m->len : 0);
    unlink_loop(loop, r);
    hand_over(loop, c, r, m);
    if (c != NULL)
        wsr__conn_check_drain(c);
    wsr__reply_unref(r);
}

/* The loop's timer: the handler did not answer in time. */
static void on_timeout(lws_sorted_usec_list_t *sul)
{
    wsr_reply_t *r = lws_container_of(sul, wsr_reply_t, sul);

    /* Before the claim: a job that sees the claim sees this too. Losing
     * the race leaves it set on a reply already answered: nothing reads it
     * then. */
    atomic_store_explicit(&r->told_ended, true, memory_order_release);
    /* Lost the race: the answer is already on its way through the inbox. */
    if (!claim(r))
        return;
    end_on_loop(r->loop, r, 408, "the handler did not answer in time");
}

int wsr__reply_cancel(wsr__loop_t *loop, wsr__conn_t *c, const json_t *id)
{
    wsr_reply_t *r;

    for (r = c->replies; r != NULL; r = r->conn_next)
        if (r->id != NULL && json_equal(r->id, id))
            break;
    if (r != NULL)
        atomic_store_explicit(&r->told_ended, true, memory_order_release); /* as on_timeout */
    /* Not running, or its answer is already on its way through the inbox. */
    if (r == NULL || !claim(r))
        return WSR_ENOENT;
    atomic_store_explicit(&r->client_cancelled, true, memory_order_release);
    end_on_loop(loop, r, 499, "the call was cancelled by the client");
    return 0;
}

void wsr__reply_delivered(wsr__loop_t *loop, wsr__msg_t *m)
{
    wsr_reply_t *r = m->reply;
    wsr__conn_t *c = wsr__loop_conn(loop, m->conn_id);

    uint64_t ns = wsr__now_ns() - r->start_ns;

    m->reply = NULL;
    wsr__stats_request(loop->stats, r->status, r->route_index, ns);
    wsr__access_log(loop, c, &r->access, r->status, ns, m->len);
    if (c != NULL)
        unlink_conn(c, r);
    unlink_loop(loop, r);
    hand_over(loop, c, r, m);
    if (c != NULL)
        wsr__conn_check_drain(c);
    wsr__reply_unref(r);
}

void wsr__reply_conn_closed(wsr__loop_t *loop, wsr__conn_t *c)
{
    wsr_reply_t *r, *next;

    for (r = c->replies; r != NULL; r = next) {
        next = r->conn_next;
        r->conn_prev = r->conn_next = NULL;
        r->on_conn = false;
        r->batch = NULL; /* the connection frees its batches next */
        if (claim(r)) {
            /* Nothing will be sent; the completer's answer will be dropped. */
            wsr__count(&loop->stats->replies_dropped, 1);
            unlink_loop(loop, r);
            wsr__reply_unref(r);
        }
    }
    c->replies = NULL;
}

void wsr__reply_cancel_all(wsr__loop_t *loop)
{
    wsr_reply_t *r;

    while ((r = loop->pending) != NULL) {
        /* A completer that won has posted (or is posting) a message that
         * carries the loop's reference: it is released with that message. */
        bool won = claim(r);

        if (r->on_conn) {
            wsr__conn_t *c = wsr__loop_conn(loop, r->conn_id);

            if (c != NULL)
                unlink_conn(c, r);
        }
        r->batch = NULL;
        unlink_loop(loop, r);
        if (won)
            wsr__reply_unref(r);
    }
}

/* ---- wsr_reply_after: timers on the reply's loop ---- */

/* Runs the armed timer's function once, then drops its reference. */
static void fire_timer(wsr_reply_t *r)
{
    wsr_reply_timer_fn fn = r->timer_fn;

    r->timer_fn = NULL;
    lws_sul_cancel(&r->timer_sul);
    fn(r, r->timer_user);
    wsr__reply_unref(r);
}

static void on_timer(lws_sorted_usec_list_t *sul)
{
    fire_timer(lws_container_of(sul, wsr_reply_t, timer_sul));
}

int wsr_reply_after(wsr_reply_t *reply, unsigned ms, wsr_reply_timer_fn fn, void *user)
{
    if (reply == NULL || fn == NULL)
        return WSR_EINVAL;
    /* The loop's fields are its thread's alone; a handle no longer on the
     * loop's list would never see its timer cancelled. */
    if (!wsr__loop_is_current(reply->loop) || reply->timer_fn != NULL || !reply->on_loop ||
        wsr_reply_cancelled(reply))
        return WSR_ESTATE;
    reply->timer_fn = fn;
    reply->timer_user = user;
    (void)wsr__reply_ref(reply);
    lws_sul_schedule(reply->loop->ctx, 0, &reply->timer_sul, on_timer,
                     (lws_usec_t)ms * LWS_US_PER_MS);
    return 0;
}

/* ---- the completer's side: any thread ---- */

static int complete(wsr_reply_t *r, wsr_response_t *res)
{
    wsr__reply_to_t to;
    wsr__buf_t b, scratch;
    wsr__msg_t *m = NULL;
    int rc;

    if (r == NULL) {
        wsr__response_dispose(res);
        return WSR_EINVAL;
    }
    /* Only the first completion counts, and only it releases the
     * completer's reference: a second one (a handler that completes twice,
     * or defers twice and completes each handle) is refused, harmlessly. */
    if (atomic_exchange_explicit(&r->completed, true, memory_order_acq_rel)) {
        wsr__response_dispose(res);
        return WSR_EDONE;
    }
    if (!claim(r)) {
        wsr__response_dispose(res);
        wsr__reply_unref(r);
        return WSR_EDONE;
    }
    r->status = res->status;
    wsr__buf_init(&b, WSR__MSG_HEAD, 0);
    wsr__buf_init(&scratch, 0, 0);
    to = reply_to(r, r->head);
    /* A notification's answer is not sent: only the spare goes back. */
    rc = r->notification
             ? 0
             : wsr__encode_bounded(&b, res, &to, &scratch, r->loop->factory->settings.max_outbound);
    if (rc != 0) {
        /* Say something rather than nothing: a bare 500. */
        wsr__buf_reset(&b);
        wsr__response_fail(res);
        r->status = 500;
        to.head = false;
        rc = wsr__codec_encode_answer(&b, res, &to, &scratch);
    }
    if (rc == 0 && !r->notification)
        m = wsr__msg_take(&b, r->format == WSR_FORMAT_BASE64_BINARY);
    if (m == NULL) {
        /* Out of memory (or a notification): the spare, empty, still
         * brings the loop's reference back (a reply left DONE on the
         * loop's list would never be released). */
        m = r->spare;
        r->spare = NULL;
    }
    wsr__buf_dispose(&b);
    wsr__buf_dispose(&scratch);
    wsr__response_dispose(res);
    if (m != NULL) {
        m->conn_id = r->conn_id;
        m->reply = r; /* carries the loop's reference back to the loop */
        (void)wsr__inbox_post(r->inbox, m);
    }
    wsr__reply_unref(r);
    return 0;
}

int wsr_reply_complete_take(wsr_reply_t *reply, int status, json_t *data)
{
    wsr_response_t res;
    int bad = 0, rc;

    wsr__response_init(&res);
    if (wsr_response_set_data_take(&res, data) == 0 && wsr_response_set_status(&res, status) != 0) {
        wsr__response_fail(&res);
        bad = WSR_EINVAL; /* queued all the same, as a 500 (response.h) */
    }
    rc = complete(reply, &res);
    return rc == 0 ? bad : rc;
}

int wsr_reply_error(wsr_reply_t *reply, int status, const char *fmt, ...)
{
    char detail[WSR__DETAIL_MAX];
    wsr_response_t res;
    va_list ap;
    int bad, rc;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    wsr__response_init(&res);
    bad = wsr__response_error_str(&res, status, detail);
    if (bad != 0)
        wsr__response_fail(&res);
    rc = complete(reply, &res);
    return rc == 0 && bad == WSR_EINVAL ? WSR_EINVAL : rc; /* a bad status: queued as a 500 */
}

int wsr__reply_complete_response(wsr_reply_t *reply, wsr_response_t *res)
{
    return complete(reply, res);
}

bool wsr_reply_cancelled(const wsr_reply_t *reply)
{
    return reply == NULL || atomic_load_explicit(&((wsr_reply_t *)reply)->state,
                                                 memory_order_acquire) == WSR__REPLY_DONE;
}

bool wsr__reply_told_ended(const wsr_reply_t *reply)
{
    return atomic_load_explicit(&((wsr_reply_t *)reply)->told_ended, memory_order_acquire);
}

bool wsr_reply_was_cancelled(const wsr_reply_t *reply)
{
    return reply != NULL &&
           atomic_load_explicit(&((wsr_reply_t *)reply)->client_cancelled, memory_order_acquire);
}
