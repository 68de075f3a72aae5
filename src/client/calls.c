/* SPDX-License-Identifier: MIT */
/*
 * The client's calls in flight and its outbound queue: a list of calls in the
 * order they were made, a hash of the ordinary ones by id (raw sends are in
 * no hash: their replies are matched in order, never by id), and a doubly linked
 * queue of encoded frames not yet written, each pointing at its call so that
 * a call that ends before it was sent takes its frame with it. Every function
 * but the completion helpers runs under the client's lock; the completion
 * helpers run without it, because they call back into user code. This file
 * owns the call and frame objects; it never touches lws.
 */
#include "client/client_int.h"

#include <string.h>

static size_t bucket_of(uint64_t id)
{
    return (size_t)(id * 0x9E3779B97F4A7C15ull >> 56) & (WSR__CALL_BUCKETS - 1);
}

static void list_push(wsr__call_list_t *l, wsr__ccall_t *call)
{
    call->next = NULL;
    call->prev = l->tail;
    if (l->tail != NULL)
        l->tail->next = call;
    else
        l->head = call;
    l->tail = call;
}

static void list_unlink(wsr__call_list_t *l, wsr__ccall_t *call)
{
    if (call->prev != NULL)
        call->prev->next = call->next;
    else
        l->head = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
    else
        l->tail = call->prev;
    call->prev = call->next = NULL;
}

static void out_unlink(wsr_client_t *c, wsr__cmsg_t *m)
{
    if (m->prev != NULL)
        m->prev->next = m->next;
    else
        c->out_head = m->next;
    if (m->next != NULL)
        m->next->prev = m->prev;
    else
        c->out_tail = m->prev;
    m->prev = m->next = NULL;
}

void wsr__call_list_push(wsr__call_list_t *list, wsr__ccall_t *call)
{
    list_push(list, call);
}

void wsr__out_push(wsr_client_t *c, wsr__cmsg_t *m)
{
    m->next = NULL;
    m->prev = c->out_tail;
    if (c->out_tail != NULL)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
}

void wsr__calls_add(wsr_client_t *c, wsr__ccall_t *call, wsr__cmsg_t *msg)
{
    size_t b = bucket_of(call->id);

    list_push(&c->calls, call);
    call->hnext = NULL;
    if (!call->raw) {
        call->hnext = c->buckets[b];
        c->buckets[b] = call;
    }
    c->ncalls++;
    call->msg = msg;
    if (msg != NULL) {
        msg->call = call;
        wsr__out_push(c, msg);
    }
}

/* Unlinks `call` from the list, the hash and the queue (its frame is freed). */
static void calls_remove(wsr_client_t *c, wsr__ccall_t *call)
{
    wsr__ccall_t **pp = &c->buckets[bucket_of(call->id)];

    while (!call->raw && *pp != NULL && *pp != call)
        pp = &(*pp)->hnext;
    if (!call->raw && *pp == call)
        *pp = call->hnext;
    call->hnext = NULL;
    list_unlink(&c->calls, call);
    c->ncalls--;
    if (call->msg != NULL) {
        out_unlink(c, call->msg);
        wsr__cmsg_free(call->msg);
        call->msg = NULL;
    }
}

/* The ordinary call numbered `id`, or NULL. */
static wsr__ccall_t *find_id(wsr_client_t *c, uint64_t id)
{
    wsr__ccall_t *call;

    for (call = c->buckets[bucket_of(id)]; call != NULL; call = call->hnext)
        if (call->id == id)
            break;
    return call;
}

wsr__ccall_t *wsr__calls_take_id(wsr_client_t *c, uint64_t id)
{
    wsr__ccall_t *call = find_id(c, id);

    if (call != NULL)
        calls_remove(c, call);
    return call;
}

wsr__ccall_t *wsr__calls_find(wsr_client_t *c, uint64_t id)
{
    wsr__ccall_t *call = find_id(c, id);

    /* Raw sends are in no hash: look for one in the list. */
    for (wsr__ccall_t *p = c->calls.head; call == NULL && p != NULL; p = p->next)
        if (p->raw && p->id == id)
            call = p;
    return call;
}

wsr__ccall_t *wsr__calls_take_any(wsr_client_t *c, uint64_t id)
{
    wsr__ccall_t *call = wsr__calls_find(c, id);

    if (call != NULL)
        calls_remove(c, call);
    return call;
}

wsr__ccall_t *wsr__calls_take_raw(wsr_client_t *c)
{
    wsr__ccall_t *call;

    for (call = c->calls.head; call != NULL; call = call->next)
        if (call->raw && call->msg == NULL)
            break;
    if (call != NULL)
        calls_remove(c, call);
    return call;
}

void wsr__calls_take_all(wsr_client_t *c, wsr__call_list_t *out)
{
    wsr__ccall_t *call;

    while ((call = c->calls.head) != NULL) {
        calls_remove(c, call);
        list_push(out, call);
    }
    /* Frames without a call: input for calls that end here with the connection. */
    while (c->out_head != NULL) {
        wsr__cmsg_t *m = c->out_head;

        out_unlink(c, m);
        wsr__cmsg_free(m);
    }
}

uint64_t wsr__calls_take_expired(wsr_client_t *c, uint64_t now, wsr__call_list_t *out)
{
    wsr__ccall_t *call, *next;
    uint64_t earliest = 0;

    for (call = c->calls.head; call != NULL; call = next) {
        next = call->next;
        if (call->deadline_ns <= now) {
            calls_remove(c, call);
            list_push(out, call);
        } else if (earliest == 0 || call->deadline_ns < earliest) {
            earliest = call->deadline_ns;
        }
    }
    return earliest;
}

wsr__cmsg_t *wsr__out_pop(wsr_client_t *c)
{
    wsr__cmsg_t *m = c->out_head;

    if (m == NULL)
        return NULL;
    out_unlink(c, m);
    if (m->call != NULL)
        m->call->msg = NULL;
    m->call = NULL;
    return m;
}

void wsr__cmsg_free(wsr__cmsg_t *m)
{
    if (m == NULL)
        return;
    wsr__buf_dispose(&m->buf);
    wsr__free(m);
}

void wsr__call_complete(wsr__ccall_t *call, int rc, json_t *message, const char *text)
{
    wsr_client_reply_t reply;

    if (call->sub_topic != NULL)
        wsr__client_topics_replied(call, rc, message);
    if (message != NULL) {
        wsr__reply_fill(&reply, message);
        call->cb(call->user, 0, &reply, NULL);
        wsr_client_reply_dispose(&reply);
    } else {
        call->cb(call->user, rc, NULL, text);
    }
    wsr__free(call->sub_topic);
    wsr__free(call);
}

void wsr__calls_fail_list(wsr__call_list_t *list, int rc, const char *text)
{
    wsr__ccall_t *call;

    while ((call = list->head) != NULL) {
        list_unlink(list, call);
        wsr__call_complete(call, rc, NULL, text);
    }
}
