/* SPDX-License-Identifier: MIT */
/*
 * The client connection's frames, on the service thread: reassembling
 * fragmented messages up to max_message, decoding each one and handing it to
 * the call it answers (by its id, or in order for raw sends; progress to its
 * call's on_progress, in stream.c) or to the message handler, and writing
 * queued frames, one lws_write per WRITEABLE callback, which is also where a
 * normal close is sent. It owns the reassembly buffer's contents; it never
 * blocks and never holds the lock while calling user code.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>

/* A reassembly buffer this large is released after its message, not kept. */
#define RX_KEEP_MAX (256 * 1024)

void wsr__client_rx_reset(wsr_client_t *c)
{
    c->in_message = false;
    c->rx_deflated = false;
    if (c->rx.cap > RX_KEEP_MAX)
        wsr__buf_dispose(&c->rx);
    else
        wsr__buf_reset(&c->rx);
}

/*
 * Finds the call `msg` answers and removes it from the table, or NULL. An id
 * of this client's form names an ordinary call (or none: a late reply, for
 * the message handler). Any other reply (no id, a number, another string)
 * answers the oldest raw send already written, whatever bytes it carried.
 */
static wsr__ccall_t *match(wsr_client_t *c, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    wsr__ccall_t *call;
    uint64_t n = 0;
    bool ours;

    if (!json_is_integer(json_object_get(msg, "status")))
        return NULL; /* a push, a publication, progress */
    ours = wsr__client_parse_id(c, json_string_value(id), &n);
    pthread_mutex_lock(&c->lock);
    if (!ours) {
        call = wsr__calls_take_raw(c);
    } else {
        call = wsr__calls_find(c, n);
        /* A 404 or 429 for its input carries its id but does not end it. */
        if (call != NULL && !call->raw && !wsr__client_input_answer(call, msg))
            call = wsr__calls_take_id(c, n);
        else
            call = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    return call;
}

/* Decodes one whole message and delivers it. */
static void deliver(wsr_client_t *c, const unsigned char *p, size_t n, bool binary)
{
    char why[WSR__CLIENT_TEXT];
    json_t *msg = wsr__client_decode(p, n, binary, why, sizeof(why));
    wsr__ccall_t *call;

    if (msg == NULL) {
        wsr__client_log(c, WSR_LOG_WARN, "%s; ignored", why);
        return;
    }
    if (wsr__client_progress(c, msg)) {
        json_decref(msg);
        return;
    }
    call = match(c, msg);
    if (call != NULL) {
        /* The reply goes whole to the call: no reference stays here, so no two
         * threads ever share one (jansson's refcounts are not safe for that). */
        wsr__call_complete(call, 0, msg, NULL);
        return;
    }
    wsr__client_topics_published(c, msg);
    if (c->cfg.on_message != NULL)
        c->cfg.on_message(c->cfg.user, msg); /* takes it */
    else
        json_decref(msg);
}

/*
 * Closes the connection because a message passed max_message: nothing more is
 * read, and the close (1009) goes out from WRITEABLE. Returning -1 from the
 * RECEIVE callback instead makes lws 4.1 close the connection twice (a double
 * free) when more input is buffered behind the frame.
 */
int wsr__client_close_because(wsr_client_t *c, struct lws *wsi, int rc, int code, const char *text)
{
    bool deflated = c->rx_deflated;

    c->fail_rc = rc;
    snprintf(c->fail_text, sizeof(c->fail_text), "%s", text);
    c->closing = true;
    c->close_code = code;
    wsr__client_rx_reset(c);
    /* lws marks only a message's first frame compressed: the rest of one
     * cut short here must still be swallowed, never inflated by lws (its
     * inflater may abort the process: service.c, pmd_callback). */
    c->rx_deflated = deflated;
    lws_rx_flow_control(wsi, 0);
    lws_callback_on_writable(wsi);
    return 0;
}

static int too_large(wsr_client_t *c, struct lws *wsi)
{
    char text[WSR__CLIENT_TEXT];

    snprintf(text, sizeof(text),
             "the connection to %s was closed: a message from the server was larger than "
             "max_message (%zu bytes)",
             c->url_text, c->cfg.max_message);
    return wsr__client_close_because(c, wsi, WSR_EOVERFLOW, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                                     text);
}

int wsr__client_on_receive(wsr_client_t *c, struct lws *wsi, const void *in, size_t len)
{
    bool final = lws_is_final_fragment(wsi) != 0;

    if (c->closing)
        return 0;
    if (final)
        c->rx_deflated = false; /* the next message says again whether it is compressed */
    if (!c->in_message && final) {
        /* The whole message in one piece: decode it straight from lws's buffer. */
        if (len > c->cfg.max_message)
            return too_large(c, wsi);
        deliver(c, in, len, lws_frame_is_binary(wsi) != 0);
        return 0;
    }
    if (!c->in_message) {
        c->in_message = true;
        c->rx_binary = lws_frame_is_binary(wsi) != 0;
        wsr__buf_reset(&c->rx);
    }
    if (wsr__buf_append(&c->rx, in, len) != 0)
        return too_large(c, wsi);
    if (final) {
        deliver(c, c->rx.data, c->rx.len, c->rx_binary);
        wsr__client_rx_reset(c);
    }
    return 0;
}

/* The reason sent with the client's close frame. */
static const char *close_text(int code)
{
    switch (code) {
    case LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE:
        return "message too large";
    case LWS_CLOSE_STATUS_UNEXPECTED_CONDITION:
        return "compressed message the client cannot inflate";
    default:
        return "client closing";
    }
}

int wsr__client_on_writeable(wsr_client_t *c, struct lws *wsi)
{
    wsr__cmsg_t *m;
    size_t len;
    bool more;
    int n;

    /* A callback comes only once lws has written all of the last compressed frame. */
    wsr__client_tx_release(c);
    if (c->closing) {
        const char *why = close_text(c->close_code);

        lws_close_reason(wsi, (enum lws_close_status)c->close_code, (unsigned char *)why,
                         strlen(why));
        return -1;
    }
    pthread_mutex_lock(&c->lock);
    m = wsr__out_pop(c);
    more = c->out_head != NULL;
    pthread_mutex_unlock(&c->lock);
    if (m == NULL)
        return 0;
    len = wsr__buf_payload_len(&m->buf);
    n = lws_write(wsi, wsr__buf_payload(&m->buf), len,
                  m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT);
    if (c->deflate) {
        /* lws's deflater goes on reading the frame while it writes the rest
         * of it from its own POLLOUT (tx_draining_ext), and calls back only
         * when done: the frame is held until then. */
        c->tx_held = m;
        more = true;
    } else {
        wsr__cmsg_free(m);
    }
    if (n < 0 || (!c->deflate && (size_t)n < len)) {
        c->fail_rc = WSR_EIO;
        snprintf(c->fail_text, sizeof(c->fail_text), "writing to %s failed", c->url_text);
        return -1;
    }
    if (more)
        lws_callback_on_writable(wsi);
    return 0;
}

void wsr__client_tx_release(wsr_client_t *c)
{
    wsr__cmsg_free(c->tx_held);
    c->tx_held = NULL;
}
