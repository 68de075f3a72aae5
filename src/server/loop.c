/* SPDX-License-Identifier: MIT */
/*
 * Event loops (see loop_int.h): the registry of a loop's connections, its
 * inbox and the notes other threads send it, the graceful drain, and the
 * service loop itself. Only the loop's thread touches the registry and the
 * connections; other threads only post to the inbox.
 */
#include "server/loop_int.h"

#include <string.h>

#include "server/admin_int.h"
#include "server/conn_int.h"
#include "server/listener_int.h"
#include "server/reply_int.h"
#include "server/stream_int.h"
#include "server/tls_int.h"

int wsr__loop_init(wsr__loop_t *loop, wsr_server_t *server, unsigned index, wsr__stats_t *stats)
{
    loop->server = server;
    loop->index = index;
    loop->stats = stats;
    for (unsigned k = 0; k < WSR__LISTENERS; k++)
        loop->listeners[k].fd = -1;
    wsr__buf_init(&loop->scratch, 0, 0);
    wsr__buf_init(&loop->wbuf, LWS_PRE, 0);
    atomic_init(&loop->stop_requested, false);
    atomic_init(&loop->tid_set, false);
    loop->inbox = wsr__inbox_new();
    return loop->inbox != NULL ? 0 : WSR_ENOMEM;
}

void wsr__loop_dispose(wsr__loop_t *loop)
{
    wsr__inbox_unref(loop->inbox);
    loop->inbox = NULL;
    wsr__free(loop->slots);
    loop->slots = NULL;
    wsr__buf_dispose(&loop->scratch);
    wsr__buf_dispose(&loop->wbuf);
    wsr__free(loop->inflate_window);
    loop->inflate_window = NULL;
}

/* ---- the registry: slot + generation ids, loop thread only ---- */

int wsr__loop_register(wsr__loop_t *loop, wsr__conn_t *c, uint64_t *id)
{
    uint32_t slot;

    if (loop->free_head != 0) {
        slot = loop->free_head - 1;
        loop->free_head = loop->slots[slot].next_free;
    } else {
        if (loop->nslots == loop->slots_cap) {
            uint32_t cap = loop->slots_cap ? loop->slots_cap * 2 : 64;
            wsr__slot_t *s;

            if (cap > (1u << 24))
                return WSR_EOVERFLOW;
            s = wsr__realloc(loop->slots, cap * sizeof(*s));
            if (s == NULL)
                return WSR_ENOMEM;
            memset(s + loop->slots_cap, 0, (cap - loop->slots_cap) * sizeof(*s));
            loop->slots = s;
            loop->slots_cap = cap;
        }
        slot = loop->nslots++;
    }
    loop->slots[slot].gen = (loop->slots[slot].gen + 1) & WSR__ID_GEN_MASK;
    if (loop->slots[slot].gen == 0)
        loop->slots[slot].gen = 1;
    loop->slots[slot].conn = c;
    *id = WSR__ID_MAKE(loop->factory->node_id, loop->slots[slot].gen, loop->index, slot);
    loop->nconns++;
    return 0;
}

void wsr__loop_unregister(wsr__loop_t *loop, uint64_t id)
{
    uint32_t slot = WSR__ID_SLOT(id);

    loop->slots[slot].conn = NULL;
    loop->slots[slot].next_free = loop->free_head;
    loop->free_head = slot + 1;
    loop->nconns--;
}

wsr__conn_t *wsr__loop_conn(wsr__loop_t *loop, uint64_t id)
{
    uint32_t slot = WSR__ID_SLOT(id);

    if (WSR__ID_LOOP(id) != loop->index || slot >= loop->nslots)
        return NULL;
    if (loop->slots[slot].conn == NULL || loop->slots[slot].gen != WSR__ID_GEN(id))
        return NULL;
    return loop->slots[slot].conn;
}

/* ---- messages ---- */

static void deliver_push(wsr__loop_t *loop, wsr__msg_t *m)
{
    wsr__conn_t *c = wsr__loop_conn(loop, m->conn_id);

    if (c == NULL) {
        wsr__count(&loop->stats->pushes_dropped, 1);
        wsr__msg_free(m);
        return;
    }
    wsr__count(&loop->stats->pushes, 1);
    wsr__conn_push(c, m);
}

static void handle_note(wsr__loop_t *loop, wsr__msg_t *m)
{
    wsr__conn_t *c = m->conn_id != 0 ? wsr__loop_conn(loop, m->conn_id) : NULL;

    switch (m->kind) {
    case WSR__MSG_STOP:
        wsr__loop_begin_drain(loop);
        break;
    case WSR__MSG_RELOAD:
        wsr__tls_reload(loop);
        break;
    case WSR__MSG_SESSION:
        if (c != NULL) {
            wsr__conn_set_session(c, m->session, m->code != 0);
            m->session = NULL; /* the note's reference moved */
        }
        break;
    case WSR__MSG_CLOSE:
        if (c != NULL)
            wsr__conn_close(c, m->code);
        break;
    default:
        break;
    }
    wsr__msg_free(m);
}

/* One message taken from the inbox (or handed over on the loop's thread). */
static void handle(wsr__loop_t *loop, wsr__msg_t *m)
{
    m->next = NULL;
    if (m->kind == WSR__MSG_PROGRESS)
        wsr__stream_arrived(loop, m);
    else if (m->kind == WSR__MSG_ADMIN)
        wsr__admin_arrived(loop, m);
    else if (m->kind != WSR__MSG_DATA)
        handle_note(loop, m);
    else if (m->reply != NULL)
        wsr__reply_delivered(loop, m);
    else
        deliver_push(loop, m);
}

bool wsr__loop_is_current(wsr__loop_t *loop)
{
    return atomic_load_explicit(&loop->tid_set, memory_order_acquire) &&
           pthread_equal(loop->tid, pthread_self());
}

int wsr__loop_post(wsr__loop_t *loop, wsr__msg_t *m)
{
    /* On the connection's own loop (a handler pushing to its caller, or
     * publishing to a neighbour) deliver at once: the push then precedes
     * the reply the handler is about to give, and skips a lock and a wake.
     * Not while messages posted earlier wait, in the inbox or in the rest of
     * a drain: the push queues behind them, so that what reaches a
     * connection keeps the order it was posted in (a topic's offsets). */
    if (m->reply == NULL && wsr__loop_is_current(loop) && loop->drain_rest == NULL &&
        wsr__inbox_empty(loop->inbox)) {
        handle(loop, m);
        return 0;
    }
    return wsr__inbox_post(loop->inbox, m) ? WSR_ENOENT : 0;
}

int wsr__loop_post_list(wsr__loop_t *loop, wsr__msg_t *head, wsr__msg_t *tail)
{
    if (wsr__loop_is_current(loop) && loop->drain_rest == NULL && wsr__inbox_empty(loop->inbox)) {
        for (wsr__msg_t *next; head != NULL; head = next) {
            next = head->next;
            handle(loop, head);
        }
        return 0;
    }
    return wsr__inbox_post_list(loop->inbox, head, tail) ? WSR_ENOENT : 0;
}

void wsr__loop_drain_inbox(wsr__loop_t *loop)
{
    wsr__msg_t *m, *next;

    for (m = wsr__inbox_take(loop->inbox); m != NULL; m = next) {
        next = m->next;
        loop->drain_rest = next;
        handle(loop, m);
    }
    loop->drain_rest = NULL;
    if (atomic_load_explicit(&loop->stop_requested, memory_order_acquire))
        wsr__loop_begin_drain(loop);
}

/* ---- the drain ---- */

static void finish_soon(wsr__loop_t *loop)
{
    loop->finished = true;
    lws_cancel_service(loop->ctx);
}

static void on_drain_deadline(lws_sorted_usec_list_t *sul)
{
    wsr__loop_t *loop = lws_container_of(sul, wsr__loop_t, drain_sul);

    if (!loop->drain_timed_out) {
        /* Whatever is still in flight is dropped; everyone is closed now. */
        loop->drain_timed_out = true;
        wsr__reply_cancel_all(loop);
        for (uint32_t i = 0; i < loop->nslots; i++)
            if (loop->slots[i].conn != NULL)
                wsr__conn_close(loop->slots[i].conn, 1001);
        /* A last grace second for the closes themselves. */
        lws_sul_schedule(loop->ctx, 0, &loop->drain_sul, on_drain_deadline, LWS_US_PER_SEC);
        return;
    }
    finish_soon(loop);
}

void wsr__loop_begin_drain(wsr__loop_t *loop)
{
    if (loop->draining)
        return;
    loop->draining = true;
    wsr__listen_stop(loop);
    for (uint32_t i = 0; i < loop->nslots; i++) {
        wsr__conn_t *c = loop->slots[i].conn;

        if (c != NULL) {
            c->drain_code = 1001;
            wsr__conn_check_drain(c);
        }
    }
    lws_sul_schedule(loop->ctx, 0, &loop->drain_sul, on_drain_deadline,
                     (lws_usec_t)loop->factory->settings.shutdown_timeout_ms * LWS_US_PER_MS);
    if (loop->nconns == 0)
        finish_soon(loop);
}

void wsr__loop_conn_gone(wsr__loop_t *loop)
{
    if (loop->draining && loop->nconns == 0)
        finish_soon(loop);
}

/* ---- running ---- */

void wsr__loop_service(wsr__loop_t *loop)
{
    loop->tid = pthread_self();
    atomic_store_explicit(&loop->tid_set, true, memory_order_release);
    if (atomic_load_explicit(&loop->stop_requested, memory_order_acquire))
        wsr__loop_begin_drain(loop);
    while (!loop->finished)
        if (lws_service(loop->ctx, 0) < 0)
            break;
}

void wsr__loop_finish(wsr__loop_t *loop)
{
    /* Cancel before the inbox closes: a closed inbox frees a completer's
     * message, and with it the loop's reference, on the completer's thread,
     * so no reply may be left on the pending list by then. Replies whose
     * completer won stay alive through their messages, delivered below. */
    wsr__reply_cancel_all(loop);
    wsr__inbox_close(loop->inbox);
    wsr__loop_drain_inbox(loop);
    wsr__session_unref(loop->pending_session);
    loop->pending_session = NULL;
    lws_context_destroy(loop->ctx);
    loop->ctx = NULL;
    atomic_store_explicit(&loop->tid_set, false, memory_order_release);
}
