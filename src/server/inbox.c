/* SPDX-License-Identifier: MIT */
/*
 * Messages and inboxes (see inbox_int.h). The inbox owns the messages posted
 * to it until its loop takes them; it never looks inside one.
 */
#include "server/inbox_int.h"

#include <libwebsockets.h>
#include <string.h>

#include "server/reply_int.h"
#include "server/stream_int.h"

_Static_assert(sizeof(wsr__msg_t) + LWS_PRE <= WSR__MSG_HEAD, "message header too small");

wsr__msg_t *wsr__msg_take(wsr__buf_t *b, bool binary)
{
    wsr__msg_t *m;

    /* An empty payload still needs the header's memory. */
    if (b->data == NULL && wsr__buf_reserve(b, 1) != 0)
        return NULL;
    m = (wsr__msg_t *)b->data;
    memset(m, 0, sizeof(*m));
    m->len = wsr__buf_payload_len(b);
    m->binary = (uint8_t)binary;
    b->data = NULL;
    b->cap = 0;
    b->len = b->head;
    return m;
}

wsr__msg_t *wsr__msg_copy(const void *p, size_t n, bool binary)
{
    wsr__buf_t b;
    wsr__msg_t *m = NULL;

    wsr__buf_init(&b, WSR__MSG_HEAD, 0);
    if (wsr__buf_append(&b, p, n) == 0)
        m = wsr__msg_take(&b, binary);
    wsr__buf_dispose(&b);
    return m;
}

wsr__msg_t *wsr__msg_new_note(int kind, uint64_t conn_id, uint16_t code)
{
    wsr__msg_t *m = wsr__calloc(1, WSR__MSG_HEAD);

    if (m == NULL)
        return NULL;
    m->kind = (uint8_t)kind;
    m->conn_id = conn_id;
    m->code = code;
    return m;
}

void wsr__msg_free(wsr__msg_t *m)
{
    if (m == NULL)
        return;
    wsr__session_unref(m->session);
    /* Written or dropped, a progress message leaves its call's window. */
    if (m->kind == WSR__MSG_PROGRESS && m->reply != NULL)
        wsr__stream_credit(m->reply, m->len);
    wsr__reply_unref(m->reply);
    wsr__free(m);
}

wsr__inbox_t *wsr__inbox_new(void)
{
    wsr__inbox_t *in = wsr__calloc(1, sizeof(*in));

    if (in == NULL)
        return NULL;
    if (pthread_mutex_init(&in->lock, NULL) != 0) {
        wsr__free(in);
        return NULL;
    }
    atomic_init(&in->refs, 1);
    return in;
}

wsr__inbox_t *wsr__inbox_ref(wsr__inbox_t *in)
{
    atomic_fetch_add_explicit(&in->refs, 1, memory_order_relaxed);
    return in;
}

void wsr__inbox_unref(wsr__inbox_t *in)
{
    wsr__msg_t *m, *next;

    if (in == NULL || atomic_fetch_sub_explicit(&in->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (m = in->head; m != NULL; m = next) {
        next = m->next;
        wsr__msg_free(m);
    }
    pthread_mutex_destroy(&in->lock);
    wsr__free(in);
}

/* Wakes the loop, if it has a context. Under the inbox's lock. */
static void wake_locked(wsr__inbox_t *in)
{
    if (in->ctx != NULL) {
        lws_cancel_service(in->ctx);
        in->wakes++;
    }
}

void wsr__inbox_set_ctx(wsr__inbox_t *in, struct lws_context *ctx)
{
    pthread_mutex_lock(&in->lock);
    in->ctx = ctx;
    /* Messages posted while there was no context woke nothing, and the
     * posts after them will not either: this wake is theirs. */
    if (in->head != NULL && !in->closed)
        wake_locked(in);
    pthread_mutex_unlock(&in->lock);
}

int wsr__inbox_post(wsr__inbox_t *in, wsr__msg_t *m)
{
    m->next = NULL;
    return wsr__inbox_post_list(in, m, m);
}

int wsr__inbox_post_list(wsr__inbox_t *in, wsr__msg_t *head, wsr__msg_t *tail)
{
    int rc = 0;

    tail->next = NULL;
    pthread_mutex_lock(&in->lock);
    if (in->closed) {
        rc = WSR_ECLOSED;
    } else {
        /* Only the first message of a burst wakes the loop: the loop takes
         * the whole list at once, so one wake finds every message posted
         * before it takes them, and the next post after that finds the list
         * empty again and wakes it anew. */
        bool was_empty = in->head == NULL;

        if (in->tail != NULL)
            in->tail->next = head;
        else
            in->head = head;
        in->tail = tail;
        /* Under the lock, so the context cannot be destroyed meanwhile. */
        if (was_empty)
            wake_locked(in);
    }
    pthread_mutex_unlock(&in->lock);
    if (rc != 0) {
        for (wsr__msg_t *next; head != NULL; head = next) {
            next = head->next;
            wsr__msg_free(head);
        }
    }
    return rc;
}

void wsr__inbox_wake(wsr__inbox_t *in)
{
    pthread_mutex_lock(&in->lock);
    if (!in->closed)
        wake_locked(in);
    pthread_mutex_unlock(&in->lock);
}

bool wsr__inbox_empty(wsr__inbox_t *in)
{
    bool empty;

    pthread_mutex_lock(&in->lock);
    empty = in->head == NULL;
    pthread_mutex_unlock(&in->lock);
    return empty;
}

wsr__msg_t *wsr__inbox_take(wsr__inbox_t *in)
{
    wsr__msg_t *m;

    pthread_mutex_lock(&in->lock);
    m = in->head;
    in->head = in->tail = NULL;
    pthread_mutex_unlock(&in->lock);
    return m;
}

void wsr__inbox_close(wsr__inbox_t *in)
{
    pthread_mutex_lock(&in->lock);
    in->closed = true;
    in->ctx = NULL;
    pthread_mutex_unlock(&in->lock);
}
