/* SPDX-License-Identifier: MIT */
/*
 * Raw TCP connections (see raw_int.h): the lws raw-socket callback. Bytes
 * read are cut into messages by the connection's framing (core's pure
 * parsers in rawframe.c) and served by serve.c exactly as WebSocket
 * messages are; what goes back is re-encoded in the framing when queued
 * and written from the WRITEABLE callback, many messages per write. An
 * incomplete frame waits in the connection's receive buffer, bounded by
 * max_message; malformed framing gets one error in the framing, then the
 * connection closes. Nothing here decides what a request means.
 */
#include "server/raw_int.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/json_int.h"
#include "core/rawframe_int.h"
#include "server/conn_int.h"
#include "server/limits_int.h"
#include "server/serve_int.h"
#include "server/stream_int.h"
#include "server/tls_int.h"

/* Bytes of messages written together at most. */
#define WRITE_MAX (64 * 1024)
/* How long a closing connection may take to read its last error. */
#define CLOSE_GRACE_SECS 5
/* RESP's own bytes around a command of max_message bytes of words. */
#define FRAMING_SLACK 64

/* The reply status a close reason reads as in NDJSON. */
static int close_status(int code)
{
    switch (code) {
    case 1001:
        return 503;
    case 1011:
        return 500;
    default:
        return 400;
    }
}

/* The connection's last message: one error in its framing. */
static wsr__msg_t *last_words(const wsr__conn_t *c, int code, const char *why)
{
    wsr__buf_t b;
    json_t *v = NULL;
    wsr__msg_t *m = NULL;
    int rc;

    wsr__buf_init(&b, WSR__MSG_HEAD, 0);
    if (c->framing == WSR__FRAMING_RESP || c->framing == WSR__FRAMING_TEXT) {
        v = json_pack("{s:i, s:s}", "status", close_status(code), "detail", why);
        rc = v != NULL ? wsr__raw_encode(&b, v, (wsr__framing_t)c->framing) : WSR_ENOMEM;
    } else if (c->framing == WSR__FRAMING_TCPY) {
        v = json_pack("{s:i, s:s}", "status", close_status(code), "detail", why);
        rc = v != NULL ? wsr__tcpy_encode(&b, v) : WSR_ENOMEM;
    } else {
        v = json_pack("{s:i, s:s, s:n}", "status", close_status(code), "detail", why, "event_name");
        rc = v != NULL ? wsr__json_dump(&b, v) : WSR_ENOMEM;
        if (rc == 0)
            rc = wsr__buf_putc(&b, '\n');
    }
    if (rc == 0)
        m = wsr__msg_take(&b, false);
    json_decref(v);
    wsr__buf_dispose(&b);
    return m;
}

void wsr__raw_close(wsr__conn_t *c, int code, const char *why)
{
    wsr__msg_t *m, *next;

    if (c->close_code != 0)
        return;
    c->close_code = (uint16_t)code;
    wsr__stats_close(c->loop->stats, code);
    for (m = c->out_head; m != NULL; m = next) {
        next = m->next;
        wsr__msg_free(m);
    }
    c->out_head = c->out_tail = NULL;
    c->out_bytes = 0;
    /* A client that stopped reading gets no last word: it would not read it. */
    m = code != 1008 ? last_words(c, code, why) : NULL;
    if (m != NULL) {
        m->next = NULL;
        c->out_head = c->out_tail = m;
        c->out_bytes = m->len;
    }
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_GRACE_SECS);
    lws_callback_on_writable(c->wsi);
}

/* NDJSON: `m` itself, grown by its '\n' in place (realloc seldom moves so
 * small a block), when it holds no reference a copy would have to drop;
 * else NULL and *m is left alone. What it returns is what the copy below
 * makes: a plain DATA message of the payload and '\n'. */
static wsr__msg_t *ndjson_in_place(wsr__msg_t *m)
{
    size_t len = m->len;
    wsr__msg_t *g;

    if (m->session != NULL || m->reply != NULL || len > SIZE_MAX - WSR__MSG_HEAD - 1)
        return NULL;
    g = wsr__realloc(m, WSR__MSG_HEAD + len + 1);
    if (g == NULL)
        return NULL;
    memset(g, 0, sizeof(*g));
    wsr__msg_payload(g)[len] = '\n';
    g->len = len + 1;
    return g;
}

/*
 * The JSON value of a queued message, to re-encode. The messages are the
 * server's own JSON, so src/jsonparse.c (about a tenth of json_loadb's
 * instructions) reads them; where it could read a text differently from
 * json_loadb, which read them before (a `\u0000` escape, that jansson
 * refuses; anything it refuses itself, a duplicate key say), json_loadb
 * decides, as it did.
 */
static bool has_nul_escape(const unsigned char *p, size_t n)
{
    const unsigned char *q = p, *end = p + n;

    while ((q = memchr(q, '\\', (size_t)(end - q))) != NULL) {
        if (end - q >= 6 && memcmp(q, "\\u0000", 6) == 0)
            return true;
        q += q + 1 < end ? 2 : 1; /* an escape is two bytes at least */
        if (q >= end)
            break;
    }
    return false;
}

static json_t *message_value(const unsigned char *p, size_t n)
{
    wsr__json_error_t err;
    json_t *v = NULL;

    if (!has_nul_escape(p, n))
        v = wsr__json_parse(p, n, WSR__JSON_MAX_DEPTH, &err);
    return v != NULL ? v : json_loadb((const char *)p, n, JSON_DECODE_ANY, NULL);
}

wsr__msg_t *wsr__raw_transcode(wsr__conn_t *c, wsr__msg_t *m)
{
    wsr__buf_t b;
    json_t *v;
    wsr__msg_t *g;
    int rc;

    if (c->framing == WSR__FRAMING_NDJSON && (g = ndjson_in_place(m)) != NULL)
        return g; /* the usual reply: no copy */
    wsr__buf_init(&b, WSR__MSG_HEAD, 0);
    if (c->framing == WSR__FRAMING_RESP || c->framing == WSR__FRAMING_TEXT ||
        c->framing == WSR__FRAMING_TCPY) {
        v = message_value(wsr__msg_payload(m), m->len);
        if (v == NULL)
            rc = WSR_EINVAL;
        else if (c->framing == WSR__FRAMING_TCPY)
            rc = wsr__tcpy_encode(&b, v);
        else
            rc = wsr__raw_encode(&b, v, (wsr__framing_t)c->framing);
        json_decref(v);
    } else {
        /* NDJSON: the JSON as it is, one line. */
        rc = wsr__buf_append(&b, wsr__msg_payload(m), m->len);
        if (rc == 0)
            rc = wsr__buf_putc(&b, '\n');
    }
    wsr__msg_free(m);
    m = rc == 0 ? wsr__msg_take(&b, false) : NULL;
    wsr__buf_dispose(&b);
    return m;
}

/* ---- writing ---- */

/* Writes messages from the head of the queue: small ones together. */
static int write_some(wsr__conn_t *c)
{
    wsr__buf_t *b = &c->loop->wbuf;
    wsr__msg_t *m = c->out_head;

    if (m->next == NULL || m->len >= WRITE_MAX) {
        if (lws_write(c->wsi, wsr__msg_payload(m), m->len, LWS_WRITE_RAW) < 0)
            return -1;
        wsr__conn_pop_sent(c);
        return 0;
    }
    wsr__buf_reset(b);
    while ((m = c->out_head) != NULL && wsr__buf_payload_len(b) + m->len <= WRITE_MAX) {
        if (wsr__buf_append(b, wsr__msg_payload(m), m->len) != 0)
            break;
        wsr__conn_pop_sent(c);
    }
    if (wsr__buf_payload_len(b) == 0)
        return -1;
    return lws_write(c->wsi, wsr__buf_payload(b), wsr__buf_payload_len(b), LWS_WRITE_RAW) < 0 ? -1
                                                                                              : 0;
}

static int on_writeable(wsr__conn_t *c)
{
    c->ping_due = 0; /* raw TCP has no ping: silence alone counts */
    while (c->out_head != NULL) {
        if (write_some(c) != 0)
            return -1;
        /* lws 4.1.6's choked check is a poll(): only when more is queued. */
        if (c->out_head != NULL && lws_send_pipe_choked(c->wsi))
            break;
    }
    if (c->out_head != NULL) {
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->close_code != 0)
        return -1;
    if (c->drain_code != 0 && c->replies == NULL) {
        wsr__stats_close(c->loop->stats, c->drain_code);
        return -1;
    }
    return 0;
}

/* ---- reading ---- */

/* The close code of a parser's error. */
static int fail_code(int rc)
{
    return rc == WSR_EOVERFLOW ? 1009 : rc == WSR_ENOMEM ? 1011 : 1007;
}

static void fail(wsr__conn_t *c, int rc, const char *detail)
{
    char why[WSR__RAW_DETAIL + 64];
    size_t max = c->loop->factory->settings.max_message;

    if (rc == WSR_EOVERFLOW)
        snprintf(why, sizeof(why), "the message exceeds the size limit (%zu bytes)", max);
    else if (rc == WSR_ENOMEM)
        snprintf(why, sizeof(why), "internal server error");
    else
        snprintf(why, sizeof(why), "malformed message: %s", detail);
    wsr__raw_close(c, fail_code(rc), why);
}

/*
 * Finds the next message at `p` (n bytes): *msg and *msg_len are what
 * serve.c is handed (NULL: nothing to serve, skip it), *used what it took.
 * Returns WSR__FRAME_OK, WSR__FRAME_MORE, or an error with `detail`.
 */
static int next_message(wsr__conn_t *c, const unsigned char *p, size_t n, const unsigned char **msg,
                        size_t *msg_len, size_t *used, char *detail)
{
    size_t max = c->loop->factory->settings.max_message, len, nwords = 0;
    int rc;

    *msg = NULL;
    switch (c->framing) {
    case WSR__FRAMING_NDJSON:
        rc = wsr__line_next(p, n, max, &len, used);
        if (rc == WSR__FRAME_OK && len > 0) {
            *msg = p;
            *msg_len = len;
        }
        return rc;
    case WSR__FRAMING_RESP:
        rc = wsr__resp_next(p, n, max, &c->words, &nwords, used, detail);
        break;
    case WSR__FRAMING_TEXT:
        rc = wsr__line_next(p, n, max, &len, used);
        if (rc != WSR__FRAME_OK)
            return rc;
        /* retopy's header line: empty, or a line that starts with '#'. */
        if (c->lines++ == 0 && len > 0 && p[0] == '#')
            return rc;
        rc = wsr__text_words(p, len, &c->words, &nwords, detail);
        if (rc == 0)
            rc = WSR__FRAME_OK;
        break;
    default:
        rc = wsr__tcpy_next(p, n, max, c->loop->factory->settings.max_depth, &c->words, used,
                            detail);
        if (rc == WSR__FRAME_OK) {
            *msg = wsr__buf_payload(&c->words);
            *msg_len = wsr__buf_payload_len(&c->words);
        }
        return rc;
    }
    if (rc == WSR__FRAME_OK && nwords > 0) {
        /* One empty word (`""`) may leave the buffer unallocated: no NULL + 0. */
        *msg = c->words.data != NULL ? wsr__buf_payload(&c->words) : (const unsigned char *)"";
        *msg_len = wsr__buf_payload_len(&c->words);
    }
    return rc;
}

/* tcpy: a frame `msg` (its map as JSON text) that arrived while the
 * connection's call reads input is that call's input (tcpy's recv(),
 * PROTOCOL.md 5.1). Past max_call_input waiting, it gets one error frame
 * (429) and the call goes on. */
static void frame_input(wsr__conn_t *c, const unsigned char *msg, size_t len)
{
    unsigned max = c->loop->factory->settings.max_call_input;
    json_t *v = json_loadb((const char *)msg, len, 0, NULL);
    int rc = v != NULL ? wsr__stream_input(c, NULL, v, max) : WSR_ENOMEM;
    char why[160];
    wsr__buf_t b;

    json_decref(v);
    if (rc == 0)
        return;
    v = NULL;
    if (rc == WSR_EBUSY) {
        snprintf(why, sizeof(why),
                 "the running call has %u input messages waiting (max_call_input); "
                 "this frame was dropped",
                 max);
        v = json_pack("{s:i, s:s, s:n}", "status", 429, "detail", why, "event_name");
    }
    wsr__buf_init(&b, WSR__MSG_HEAD, 0);
    if (v != NULL && wsr__json_dump(&b, v) == 0)
        wsr__conn_send(c, wsr__msg_take(&b, false)); /* in tcpy's framing when queued */
    else
        wsr__raw_close(c, 1011, "internal server error");
    json_decref(v);
    wsr__buf_dispose(&b);
}

/* Whether `c` reads on: not while a request holds it, unless that is a
 * call that listens (what arrives is then its input). */
static bool reading(const wsr__conn_t *c)
{
    return c->close_code == 0 && (!c->held || wsr__stream_listening(c));
}

/* Serves the whole messages in `p` (n bytes) until one holds the
 * connection; returns the bytes used. While a request holds it, the rest
 * waits in the receive buffer and the socket is not read (lws stops polling
 * it): the kernel's buffers, then the client, wait, instead of copies of
 * messages piling up behind it. A call that listens is fed its input. */
static size_t feed(wsr__conn_t *c, const unsigned char *p, size_t n)
{
    char detail[WSR__RAW_DETAIL];
    const unsigned char *msg;
    size_t at = 0, used = 0, len = 0;
    int rc;

    while (at < n && reading(c)) {
        rc = next_message(c, p + at, n - at, &msg, &len, &used, detail);
        if (rc == WSR__FRAME_MORE)
            break;
        if (rc != WSR__FRAME_OK) {
            fail(c, rc, detail);
            return n;
        }
        at += used;
        if (msg != NULL && c->held)
            frame_input(c, msg, len);
        else if (msg != NULL)
            wsr__serve_message(c, msg, len, false);
    }
    if (c->close_code == 0 && !reading(c))
        lws_rx_flow_control(c->wsi, 0);
    return at;
}

/* Serves what the receive buffer holds; keeps what is not whole yet. */
static void feed_buffered(wsr__conn_t *c)
{
    wsr__buf_t *rx = &c->rx;
    size_t used, left;

    if (wsr__buf_payload_len(rx) == 0)
        return; /* nothing buffered (and maybe no allocation yet) */
    used = feed(c, wsr__buf_payload(rx), wsr__buf_payload_len(rx));
    left = wsr__buf_payload_len(rx) - used;
    if (left > 0 && used > 0)
        memmove(wsr__buf_payload(rx), wsr__buf_payload(rx) + used, left);
    rx->len = rx->head + left;
}

void wsr__raw_resume(wsr__conn_t *c)
{
    if (c->close_code != 0)
        return;
    feed_buffered(c);
    if (reading(c))
        lws_rx_flow_control(c->wsi, 1);
}

static int on_rx(wsr__conn_t *c, const unsigned char *in, size_t len)
{
    wsr__buf_t *rx = &c->rx;
    size_t used;

    if (c->close_code != 0 || len == 0)
        return 0; /* closing: the rest of the input is ignored */
    c->last_rx_ms = wsr__mono_ms();
    c->ping_due = 0;
    wsr__count(&c->loop->stats->bytes_in, len);
    c->bytes_in += len;
    if (c->framing == 0) {
        c->framing = (uint8_t)wsr__framing_detect(in[0]);
        wsr__count(&c->loop->stats->transport_opened[c->framing], 1);
        /* The first byte meets the handshake's deadline (listener.c set it
         * at accept; TLS, if any, is done): from here on the idle policy
         * decides, as on an established WebSocket. */
        lws_set_timeout(c->wsi, NO_PENDING_TIMEOUT, 0);
    }
    if (wsr__buf_payload_len(rx) == 0 && reading(c)) {
        /* Whole messages are served straight from lws's buffer. */
        used = feed(c, in, len);
        if (used < len && c->close_code == 0 && wsr__buf_append(rx, in + used, len - used) != 0)
            fail(c, WSR_EOVERFLOW, "");
        return 0;
    }
    if (wsr__buf_append(rx, in, len) != 0) {
        fail(c, WSR_EOVERFLOW, "");
        return 0;
    }
    /* Read while held (what lws had read before it stopped): it waits. */
    if (reading(c))
        feed_buffered(c);
    return 0;
}

static int on_adopt(wsr__loop_t *loop, wsr__conn_t *c, struct lws *wsi)
{
    size_t max = loop->factory->settings.max_message;

    if (wsr__conn_open(loop, c, wsi) != 0)
        return -1;
    c->raw = 1;
    /* A message and its framing, the rest of the read that ended it, and
     * one read that lws had made before it stopped reading, at most. */
    wsr__buf_init(&c->rx, 0, max + FRAMING_SLACK + 2 * WSR__RAW_RX_CHUNK);
    wsr__buf_init(&c->words, 0, max + FRAMING_SLACK);
    return 0;
}

int wsr__raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
    wsr__loop_t *loop = wsi ? lws_context_user(lws_get_context(wsi)) : NULL;
    wsr__conn_t *c = user;

    if (loop == NULL)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_RAW_ADOPT:
        return on_adopt(loop, c, wsi);
    case LWS_CALLBACK_RAW_RX:
        return on_rx(c, in, len);
    case LWS_CALLBACK_RAW_WRITEABLE:
        return on_writeable(c);
    case LWS_CALLBACK_RAW_CLOSE:
        wsr__conn_gone(loop, c);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        wsr__limits_release(loop->limits, lws_get_opaque_user_data(wsi));
        return 0;
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        return wsr__tls_verify_client((int)len);
    default:
        break;
    }
    return 0;
}
