/* SPDX-License-Identifier: MIT */
/*
 * JSON-RPC batches (see batch_int.h): the answers of a batch's elements,
 * collected in arrival order into one array. Answers that make the array
 * pass max_outbound, which no client could be sent, make it one JSON-RPC
 * error instead, as a single reply that big is (bounded.c; issue 15 item
 * 6): the connection stays, and its elements still all run. Memory running
 * out closes it with 1011.
 */
#include "server/batch_int.h"

#include <string.h>

static void unlink_free(wsr__conn_t *c, wsr__batch_t *b)
{
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        c->batches = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    if (c->paused == b)
        c->paused = NULL;
    json_decref(b->elems);
    wsr__buf_dispose(&b->out);
    wsr__free(b);
}

wsr__batch_t *wsr__batch_new(wsr__conn_t *c, json_t *elems)
{
    wsr__batch_t *b = wsr__calloc(1, sizeof(*b));

    if (b == NULL) {
        json_decref(elems);
        return NULL;
    }
    b->elems = elems;
    wsr__buf_init(&b->out, WSR__MSG_HEAD, WSR__MSG_HEAD + c->loop->factory->settings.max_outbound);
    b->next = c->batches;
    if (c->batches != NULL)
        c->batches->prev = b;
    c->batches = b;
    return b;
}

json_t *wsr__batch_next(wsr__batch_t *b)
{
    json_t *e;

    if (wsr__batch_dispatched(b))
        return NULL;
    /* Moved out, not shared: the element may travel to a worker, and
     * jansson's reference counts are safe only when one thread drops
     * every reference to a value (reply.c). */
    e = json_incref(json_array_get(b->elems, b->next_elem));
    if (json_array_set_new(b->elems, b->next_elem, json_null()) != 0) {
        json_decref(e);
        return NULL;
    }
    b->next_elem++;
    return e;
}

bool wsr__batch_dispatched(const wsr__batch_t *b)
{
    return b->next_elem >= json_array_size(b->elems);
}

/* Opens the array or adds the comma before an answer. */
static int separate(wsr__batch_t *b)
{
    return wsr__buf_putc(&b->out, b->answers == 0 ? '[' : ',');
}

/* What adding an answer returned: past the limit, the batch gets its error
 * and the answers are dropped (an error elsewhere is returned). */
static int added(wsr__batch_t *b, size_t mark, int rc)
{
    if (rc == 0) {
        b->answers++;
        return 0;
    }
    b->out.len = mark;
    if (rc != WSR_EOVERFLOW)
        return rc;
    b->too_big = true;
    b->out.len = b->out.head;
    return 0;
}

int wsr__batch_add_answer(wsr__batch_t *b, const wsr_response_t *res, const wsr__reply_to_t *to,
                          wsr__buf_t *scratch)
{
    size_t mark = b->out.len;
    int rc;

    if (b->too_big)
        return 0;
    rc = separate(b);
    if (rc == 0)
        rc = wsr__codec_encode_answer(&b->out, res, to, scratch);
    return added(b, mark, rc);
}

void wsr__batch_expect(wsr__batch_t *b, wsr_reply_t *r)
{
    r->batch = b;
    b->outstanding++;
}

void wsr__batch_deliver(wsr__conn_t *c, wsr__batch_t *b, wsr__msg_t *m)
{
    size_t mark = b->out.len;
    int rc = 0;

    b->outstanding--;
    if (m != NULL && m->len > 0) {
        if (!b->too_big) {
            rc = separate(b);
            if (rc == 0)
                rc = wsr__buf_append(&b->out, wsr__msg_payload(m), m->len);
            rc = added(b, mark, rc);
        }
        if (rc != 0)
            wsr__conn_close(c, 1011);
    } else {
        wsr__count(&c->loop->stats->replies_dropped, 1);
    }
    wsr__msg_free(m);
    wsr__batch_settle(c, b);
}

/* The batch's one answer when its answers passed max_outbound, into b->out
 * (emptied): a JSON-RPC error with a null id, as for a batch that is not
 * one (PROTOCOL.md section 10). */
static int too_big_error(wsr__conn_t *c, wsr__batch_t *b)
{
    size_t max = c->loop->factory->settings.max_outbound;
    size_t n = json_array_size(b->elems);
    wsr__reply_to_t to = {.id = json_null(), .envelope = WSR__ENVELOPE_JSONRPC};
    wsr_response_t res;
    int rc;

    b->out.len = b->out.head;
    wsr__response_init(&res);
    rc = wsr_response_error(&res, 500,
                            "the replies to the batch's %zu requests are more than max_outbound "
                            "(%zu bytes) lets the server queue for one connection; send fewer "
                            "at a time",
                            n, max);
    if (rc == 0)
        rc = wsr__codec_encode_answer(&b->out, &res, &to, &c->loop->scratch);
    wsr__response_dispose(&res);
    return rc;
}

void wsr__batch_settle(wsr__conn_t *c, wsr__batch_t *b)
{
    int rc;

    if (!wsr__batch_dispatched(b) || b->outstanding > 0)
        return;
    /* Nothing at all for a batch of notifications. */
    if ((b->answers > 0 || b->too_big) && c->close_code == 0) {
        rc = b->too_big ? 0 : wsr__buf_putc(&b->out, ']');
        if (rc == WSR_EOVERFLOW)
            rc = added(b, b->out.len, rc); /* the closing bracket was one byte too many */
        if (rc == 0 && b->too_big)
            rc = too_big_error(c, b);
        if (rc == 0)
            wsr__conn_send(c, wsr__msg_take(&b->out, false));
        else
            wsr__conn_close(c, 1011);
    }
    unlink_free(c, b);
}

void wsr__batch_free_all(wsr__conn_t *c)
{
    while (c->batches != NULL)
        unlink_free(c, c->batches);
}
