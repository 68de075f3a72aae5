/* SPDX-License-Identifier: MIT */
/*
 * The per-connection protocol object (aiorest-ws's RequestHandlerProtocol):
 * the libwebsockets callback for our subprotocol. It registers each
 * connection with its loop, checks the handshake (Origin, token),
 * reassembles fragmented messages up to the message limit (1009 past it),
 * hands each complete message to serve.c, queues what goes back, and writes
 * the queue only from the WRITEABLE callback, several messages per callback
 * while the pipe is not choked (1008 when a client lets the queue pass its
 * cap). It owns each connection's buffers and queue; it never blocks.
 */
#include "server/conn_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>

#include "core/codec_int.h"
#include "core/deflate_int.h"
#include "server/idle_int.h"
#include "server/forwarded_int.h"
#include "server/limits_int.h"
#include "server/lwsalloc_int.h"
#include "server/origins_int.h"
#include "server/raw_int.h"
#include "server/reply_int.h"
#include "server/serve_int.h"
#include "server/tls_int.h"
#include "services/auth_int.h"
#include "services/pubsub_int.h"

/* The idle policy's ping states (wsr__conn_t.ping_due). */
enum { PING_NONE = 0, PING_DUE = 1, PING_SENT = 2 };

/* Messages up to BATCH_MSG_MAX bytes are written together, up to BATCH_MAX
 * bytes of frames per write (protocol.c write_batch). */
#define BATCH_MSG_MAX 8192
#define BATCH_MAX     (64 * 1024)

/* A reassembly buffer this large is released after its message, not kept. */
#define RX_KEEP_MAX (64 * 1024)

const size_t wsr__conn_size = sizeof(wsr__conn_t);

/* ---- permessage-deflate (RFC 7692), lws's extension ---- */

#define PMD "permessage-deflate"

/* What a connection's compressor may use (see deflate_setup). The deflater
 * lives only while a message is being compressed; these bound it then:
 * (1 << (11 + 2)) + (1 << (4 + 9)) bytes, 16 KiB, instead of zlib's 256 KiB.
 * Its output goes out in frames of at most 1 << 12 bytes. */
#define DEFLATE_WINDOW_BITS "11"
#define DEFLATE_MEM_LEVEL   "4"
#define DEFLATE_TX_BUF_PWR2 "12"

/* lws 4.1.6's struct lws_ext_pm_deflate_rx_ebufs (roles/ws/private-lib-roles-ws.h),
 * what PAYLOAD_RX's `in` points to, and its PMDR_EMPTY_NONFINAL (enum
 * pmd_return, core-net/private-lib-core-net.h): server.c refuses
 * `compression` with any other libwebsockets. */
typedef struct pmd_ebufs {
    struct lws_tokens eb_in;
    struct lws_tokens eb_out;
} pmd_ebufs_t;
#define PMDR_HAS_PENDING    2
#define PMDR_EMPTY_NONFINAL 3
#define PMDR_EMPTY_FINAL    4
/* lws inflates with a 15-bit window, into chunks of 1 KiB (its default
 * rx_buf_size, 2^10), or of the largest power of two up to the protocol's
 * rx_buffer_size when that is smaller. */
#define PMD_INFLATE_WINDOW 15
#define PMD_RX_OUT         1024u
_Static_assert(WSR__RX_CHUNK >= PMD_RX_OUT,
               "lws's inflate chunk is its default, not rx_buffer_size");

/* Takes the input lws would inflate, inflating nothing: the connection is
 * closing, and what it still sends costs nothing (a decompression bomb
 * past max_message, a message refused). */
static int swallow(pmd_ebufs_t *b)
{
    if (b->eb_in.len > 0)
        b->eb_in.token += b->eb_in.len;
    b->eb_in.len = 0;
    b->eb_out = b->eb_in;
    return PMDR_EMPTY_NONFINAL;
}

/* The connection's twin inflater (core/deflate.c), started with lws's own
 * inflater (whose state is NULL until lws starts it, on this call). */
static wsr__inflate_twin_t *twin_ready(wsr__conn_t *c, const z_stream *rx)
{
    wsr__inflate_twin_t *t = c->twin;

    if (t == NULL || t->control_in == NULL)
        return NULL;
    if (!t->live && rx->state == Z_NULL) {
        if (c->loop->inflate_window == NULL)
            c->loop->inflate_window = wsr__inflate_twin_window();
        if (wsr__inflate_twin_start(t, c->loop->inflate_window, PMD_INFLATE_WINDOW) == 0)
            wsr__log(c->loop->factory, WSR_LOG_DEBUG,
                     "conn#%llx: the inflater's twin follows lws's from its first message",
                     (unsigned long long)c->id);
    }
    return t->live ? t : NULL;
}

/*
 * lws's permessage-deflate, with a guard at PAYLOAD_RX: a message whose
 * last input would make lws 4.1.6 abort the process (deflate.c) is refused
 * with 1011 instead, and nothing more is inflated once the connection is
 * closing. `user` is lws's per-connection state, whose first member is the
 * inflater's z_stream (extension-permessage-deflate.h).
 *
 * The guard follows lws's inflater with the connection's twin: every input
 * lws takes (a call with input while lws holds none of its own) goes through
 * the twin first, which predicts the abort as it goes; after each of lws's
 * calls that leaves it no input, the two must have read and written the
 * same, or the twin is ended. Without a twin (a client that keeps no
 * context, or one that went out of step), the prediction runs on a copy of
 * lws's stream at the last input of a message's final frame, as before: and
 * once per input chunk, since lws comes back for each output chunk with the
 * rest of the input inside the stream (predicting again each time made a
 * chunk that inflates to many output chunks quadratic in them). A pong's
 * payload, which lws hands here but does not inflate (it sits in the
 * connection's receive buffer; data frames never do), goes to no twin.
 */
static int pmd_callback(struct lws_context *ctx, const struct lws_extension *ext, struct lws *wsi,
                        enum lws_extension_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    wsr__conn_t *c = reason == LWS_EXT_CB_PAYLOAD_RX ? lws_wsi_user(wsi) : NULL;
    pmd_ebufs_t *b = in;
    z_stream *rx = user;
    uLong in_before, out_before;
    int n;

    if (c == NULL || !c->registered || user == NULL)
        return lws_extension_callback_pm_deflate(ctx, ext, wsi, reason, user, in, len);
    if (lws_get_reserved_bits(wsi) & 0x40)
        c->rx_deflated = 1;
    if (c->rx_deflated && c->close_code != 0)
        return swallow(b);
    if (c->rx_deflated && rx->avail_in == 0) {
        size_t inlen = b->eb_in.len > 0 ? (size_t)b->eb_in.len : 0;
        bool last = lws_remaining_packet_payload(wsi) == 0 && lws_is_final_fragment(wsi);
        bool control = inlen > 0 && c->twin != NULL && c->twin->control_in != NULL &&
                       b->eb_in.token == c->twin->control_in + LWS_PRE;
        wsr__inflate_twin_t *t = control ? NULL : twin_ready(c, rx);
        /* on_receive closes 1009 as soon as lws has given more than
         * max_message, and the rest is swallowed above. */
        bool abort_ = t != NULL
                          ? wsr__inflate_twin_step(t, b->eb_in.token, inlen, last,
                                                   lws_is_first_fragment(wsi) != 0, PMD_RX_OUT,
                                                   c->loop->factory->settings.max_message)
                          : last && wsr__deflate_would_abort(rx, PMD_INFLATE_WINDOW, b->eb_in.token,
                                                             inlen, PMD_RX_OUT);

        if (t != NULL && !t->live)
            wsr__log(c->loop->factory, WSR_LOG_DEBUG,
                     "conn#%llx: the inflater's twin stopped (zlib failed or past max_message)",
                     (unsigned long long)c->id);
        if (abort_) {
            wsr__log(c->loop->factory, WSR_LOG_NOTICE,
                     "conn#%llx: a compressed message libwebsockets 4.1.6 cannot inflate, refused",
                     (unsigned long long)c->id);
            wsr__conn_close_because(c, 1011, "compressed message the server cannot inflate");
            return swallow(b);
        }
    }
    in_before = rx->total_in;
    out_before = rx->total_out;
    n = lws_extension_callback_pm_deflate(ctx, ext, wsi, reason, user, in, len);
    if (c->rx_deflated && n == PMDR_HAS_PENDING && rx->total_in == in_before &&
        rx->total_out == out_before) {
        /* Input left that inflate will not take with a whole chunk of room:
         * the stream ended (a final block) and the message goes on. lws
         * 4.1.6 would come back to it for ever, and nothing more would be
         * inflated on the connection. */
        wsr__conn_close_because(c, 1007, "compressed message goes on after its final block");
        return swallow(b);
    }
    if (n == PMDR_EMPTY_FINAL && rx->avail_in != 0) {
        /* The message ended its stream with a final block (RFC 7692
         * 7.2.3.4 allows it), and the trailer lws put back after it was
         * left unread: lws 4.1.6 would take it for the next message's input
         * and never take that. A fresh stream for the next message, the
         * window kept (the client may refer back to it). */
        if (rx->state != Z_NULL)
            (void)inflateResetKeep(rx);
        rx->next_in = Z_NULL;
        rx->avail_in = 0;
        if (c->twin != NULL)
            wsr__inflate_twin_end(c->twin);
    }
    if (c->twin != NULL && c->twin->live && rx->avail_in == 0 &&
        !wsr__inflate_twin_matches(c->twin, rx)) {
        wsr__log(c->loop->factory, WSR_LOG_DEBUG,
                 "conn#%llx: the inflater's twin is out of step, the guard copies from now on",
                 (unsigned long long)c->id);
        wsr__inflate_twin_end(c->twin);
    }
    return n;
}

const struct lws_extension wsr__conn_extensions[] = {
    {PMD, pmd_callback, PMD "; client_no_context_takeover"},
    {NULL, NULL, NULL},
};

/* True when the client's offer of permessage-deflate (the first, which lws
 * takes) includes client_no_context_takeover: the client compresses every
 * message on its own, so the server needs no inflater between messages. */
static bool offer_has_client_no_context(struct lws *wsi)
{
    char offer[256];
    char *p, *end;

    if (lws_hdr_copy(wsi, offer, sizeof(offer), WSI_TOKEN_EXTENSIONS) <= 0)
        return false;
    p = strstr(offer, PMD);
    if (p == NULL)
        return false;
    end = strchr(p, ',');
    if (end != NULL)
        *end = '\0';
    return strstr(p, "client_no_context_takeover") != NULL;
}

/*
 * Bounds what a compressed connection keeps (lws 4.1.6's
 * extension-permessage-deflate.c reads its options the way a client would,
 * hence the names): "client_no_context_takeover" makes lws end its deflater
 * after each message we send (an RFC 7692 server may always do that), so
 * an idle connection holds no compressor; "server_no_context_takeover" makes
 * it end its inflater after each message received, which is right only when
 * the client promised not to keep its own context, and is set to exactly
 * that (lws would otherwise take a client's server_no_context_takeover for
 * it and lose the client's context). The window and memory level bound the
 * deflater while it lives; lws inflates with a 15-bit window, which any
 * client may use.
 */
static void deflate_setup(wsr__conn_t *c)
{
    struct lws *wsi = c->wsi;
    /* lws allocated it right before this ESTABLISHED: taken by every
     * connection, so that none is left for the next. */
    unsigned char *rx_ubuf = wsr__lws_take_rx_ubuf();
    bool no_context;

    if (!c->loop->factory->settings.compression ||
        lws_set_extension_option(wsi, PMD, "client_no_context_takeover", NULL) != 0)
        return;
    c->deflate = 1;
    no_context = offer_has_client_no_context(wsi);
    (void)lws_set_extension_option(wsi, PMD, "server_no_context_takeover", no_context ? "1" : "0");
    /* lws keeps its inflater between messages: the guard follows it with a
     * twin (pmd_callback), when it knows where pongs arrive. */
    if (!no_context && rx_ubuf != NULL) {
        c->twin = wsr__calloc(1, sizeof(*c->twin));
        if (c->twin != NULL)
            c->twin->control_in = rx_ubuf;
    }
    (void)lws_set_extension_option(wsi, PMD, "client_max_window_bits", DEFLATE_WINDOW_BITS);
    (void)lws_set_extension_option(wsi, PMD, "mem_level", DEFLATE_MEM_LEVEL);
    (void)lws_set_extension_option(wsi, PMD, "tx_buf_size", DEFLATE_TX_BUF_PWR2);
}

/* True when `m` goes out compressed: permessage-deflate is on and the
 * message is not under compression_min_bytes. The others go in our own
 * frames, which lws's extension never sees. */
static bool deflated(const wsr__conn_t *c, const wsr__msg_t *m)
{
    return c->deflate && m->len >= c->loop->factory->settings.compression_min_bytes;
}

static const char *close_text(int code)
{
    switch (code) {
    case 1001:
        return "server shutting down";
    case 1008:
        return "outbound queue limit exceeded: the client is not reading";
    case 1009:
        return "message exceeds the size limit";
    case 1011:
        return "internal server error";
    default:
        return "";
    }
}

/* How long a close may wait for a choked pipe before the socket is dropped. */
#define CLOSE_GRACE_SECS 5

/* Frees what waits to be written: nothing of it may follow a close frame. */
static void drop_queue(wsr__conn_t *c)
{
    wsr__msg_t *m, *next;

    for (m = c->out_head; m != NULL; m = next) {
        next = m->next;
        wsr__msg_free(m);
    }
    c->out_head = c->out_tail = NULL;
    /* A compressed message lws still reads stays, and stays counted. */
    c->out_bytes = c->tx_held != NULL ? c->tx_held->len : 0;
}

/*
 * Closes `c` with `code`. Whatever was queued is dropped; the close frame goes
 * out from the next WRITEABLE callback, so a client that was slow to read still
 * learns why (1008 reaches a client that resumes reading). A client that never
 * reads again is dropped after CLOSE_GRACE_SECS. Returning -1 from a callback
 * instead would drop the close frame whenever the pipe is choked.
 */
static void close_because(wsr__conn_t *c, int code, const char *text, bool keep_queue)
{
    if (c->close_code != 0)
        return;
    /* A server-side close the client caused (1008 policy, 1009 too big) is
     * worth an operator's look; the rest (1001 going away...) is routine. */
    wsr__log(c->loop->factory, code == 1008 || code == 1009 ? WSR_LOG_NOTICE : WSR_LOG_INFO,
             "conn#%llx from %s closed %d: %s", (unsigned long long)c->id, c->peer, code, text);
    if (c->raw) {
        wsr__raw_close(c, code, text);
        return;
    }
    c->close_code = (uint16_t)code;
    c->close_flush = keep_queue && c->out_head != NULL;
    wsr__stats_close(c->loop->stats, code);
    if (!c->close_flush)
        drop_queue(c);
    lws_close_reason(c->wsi, (enum lws_close_status)code, (unsigned char *)text, strlen(text));
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_GRACE_SECS);
    /* Input keeps being read (and ignored) until the close handshake ends:
     * closing a socket with unread input makes the kernel send an RST, and
     * an RST makes the client's kernel discard what the client had not read
     * yet, close frame included. */
    lws_callback_on_writable(c->wsi);
}

void wsr__conn_close_because(wsr__conn_t *c, int code, const char *text)
{
    close_because(c, code, text, false);
}

void wsr__conn_close_after_queue(wsr__conn_t *c, int code, const char *text)
{
    close_because(c, code, text, true);
}

void wsr__conn_close(wsr__conn_t *c, int code)
{
    wsr__conn_close_because(c, code, close_text(code));
}

/* ---- sending ---- */

void wsr__conn_send(wsr__conn_t *c, wsr__msg_t *m)
{
    size_t cap = c->loop->factory->settings.max_outbound;

    if (m != NULL && c->raw)
        m = wsr__raw_transcode(c, m);
    if (m == NULL) {
        wsr__conn_close(c, 1011);
        return;
    }
    m->next = NULL;
    if (c->close_code != 0) {
        wsr__msg_free(m);
        return;
    }
    if (c->out_bytes + m->len > cap) {
        wsr__msg_free(m);
        wsr__conn_close(c, 1008);
        return;
    }
    c->out_bytes += m->len;
    if (c->out_tail != NULL) {
        /* A queue that holds something has its WRITEABLE callback asked
         * for already (every path that leaves one asks again), and lws
         * 4.1.6's lws_callback_on_writable costs about 180 instructions. */
        c->out_tail->next = m;
        c->out_tail = m;
        return;
    }
    c->out_head = c->out_tail = m;
    lws_callback_on_writable(c->wsi);
}

void wsr__conn_check_drain(wsr__conn_t *c)
{
    if (c->drain_code != 0 && c->replies == NULL && c->out_head == NULL)
        lws_callback_on_writable(c->wsi);
}

/* Takes the head of the queue off, counting it as sent. Returns it (owned). */
static wsr__msg_t *take_sent(wsr__conn_t *c)
{
    wsr__msg_t *m = c->out_head;

    c->out_head = m->next;
    if (c->out_head == NULL)
        c->out_tail = NULL;
    c->out_bytes -= m->len;
    wsr__count(&c->loop->stats->messages_out, 1);
    wsr__count(&c->loop->stats->bytes_out, m->len);
    c->bytes_out += m->len;
    return m;
}

void wsr__conn_pop_sent(wsr__conn_t *c)
{
    wsr__msg_free(take_sent(c));
}

/* One message, framed by lws, straight from its buffer. */
static int write_one(wsr__conn_t *c)
{
    wsr__msg_t *m = c->out_head;

    if (lws_write(c->wsi, wsr__msg_payload(m), m->len,
                  m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < 0)
        return -1;
    wsr__conn_pop_sent(c);
    return 0;
}

/*
 * Several small messages in one write: we frame them ourselves (a server's
 * frames are unmasked: a FIN+opcode byte, the length, the payload) and hand
 * lws the bytes as LWS_WRITE_RAW. With requests pipelined, this turns a send()
 * per reply into a send() per batch, which is most of the server's cost.
 */
size_t wsr__conn_frame_batch(wsr__conn_t *c, wsr__buf_t *b)
{
    size_t total = 0, count = 0, framed;
    unsigned char *h;

    /* Measure the batch first and make room for all of it, before anything
     * leaves the queue: a message popped into a buffer that then failed to
     * grow would be lost, yet counted as sent. */
    for (const wsr__msg_t *m = c->out_head;
         m != NULL && m->len <= BATCH_MSG_MAX && !deflated(c, m) && total + m->len + 4 <= BATCH_MAX;
         m = m->next) {
        total += m->len + (m->len < 126 ? 2 : 4);
        count++;
    }
    wsr__buf_reset(b);
    /* On a compressed connection even one message is framed here: lws
     * would compress it. */
    if (count < (c->deflate ? 1u : 2u) || wsr__buf_reserve(b, total) != 0)
        return 0;
    for (framed = count; count > 0; count--) {
        wsr__msg_t *m = c->out_head;

        h = b->data + b->len;
        h[0] = (unsigned char)(0x80 | (m->binary ? 0x2 : 0x1));
        if (m->len < 126) {
            h[1] = (unsigned char)m->len;
            b->len += 2;
        } else {
            h[1] = 126;
            h[2] = (unsigned char)(m->len >> 8);
            h[3] = (unsigned char)m->len;
            b->len += 4;
        }
        memcpy(b->data + b->len, wsr__msg_payload(m), m->len);
        b->len += m->len;
        wsr__conn_pop_sent(c);
    }
    return framed;
}

/* Frees the compressed message lws was reading (write_deflated). */
static void release_held(wsr__conn_t *c)
{
    if (c->tx_held != NULL)
        c->out_bytes -= c->tx_held->len;
    wsr__msg_free(c->tx_held);
    c->tx_held = NULL;
}

/* One compressed message. lws's deflater keeps reading the message while it
 * writes the rest of it from its own POLLOUT (extension.c: tx_draining_ext),
 * calling us back only when done: the message is held until then. */
static int write_deflated(wsr__conn_t *c)
{
    wsr__msg_t *m = c->out_head;

    if (lws_write(c->wsi, wsr__msg_payload(m), m->len,
                  m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < 0)
        return -1;
    c->tx_held = take_sent(c);
    /* Still this connection's memory until lws is done with it: counted
     * in the outbound budget (max_outbound) meanwhile. */
    c->out_bytes += c->tx_held->len;
    lws_callback_on_writable(c->wsi);
    return 0;
}

static int write_batch(wsr__conn_t *c)
{
    wsr__buf_t *b = &c->loop->wbuf;

    /* Not framed here (one message, or no memory for the batch): on a
     * compressed connection lws compresses what it is given and reads it
     * again from its own POLLOUT, so the message is held as a compressed
     * one is (write_one freed it under lws's deflater). */
    if (wsr__conn_frame_batch(c, b) == 0)
        return c->deflate ? write_deflated(c) : write_one(c);
    return lws_write(c->wsi, wsr__buf_payload(b), wsr__buf_payload_len(b), LWS_WRITE_RAW) < 0 ? -1
                                                                                              : 0;
}

static int on_writeable(wsr__conn_t *c)
{
    /* A close lws started itself (a protocol error: RSV bits, a reserved
     * opcode...) leaves its payload in the close buffer, and lws 4.1.6 goes
     * on calling this callback while it awaits the client's answer: a reply
     * queued before the bad frame went out after the close frame (RFC 6455
     * 5.5.1; conformance 3.3, seen under TSan). Nothing more is written. */
    if (c->close_code == 0 && lws_get_close_length(c->wsi) != 0) {
        drop_queue(c);
        return 0;
    }
    if (c->ping_due == PING_DUE && c->close_code == 0) {
        /* A payload of one byte: lws 4.1.6 does not pass an empty pong up
         * to the protocol callback, so an empty ping could never be seen
         * answered. */
        unsigned char ping[LWS_PRE + 1] = {0};

        ping[LWS_PRE] = 'p';
        if (lws_write(c->wsi, ping + LWS_PRE, 1, LWS_WRITE_PING) < 0)
            return -1;
        c->ping_due = PING_SENT;
        if (lws_send_pipe_choked(c->wsi)) {
            lws_callback_on_writable(c->wsi);
            return 0;
        }
    }

    /* A callback comes only once lws has written all of the last
     * compressed message. */
    release_held(c);
    while (c->out_head != NULL && (c->close_code == 0 || c->close_flush)) {
        int n;

        if (deflated(c, c->out_head)) {
            /* One per callback: nothing may go out amid its fragments. */
            if (write_deflated(c) < 0)
                return -1;
            return 0;
        }
        n = (c->deflate || c->out_head->next != NULL) && c->out_head->len <= BATCH_MSG_MAX
                ? write_batch(c)
                : write_one(c);
        if (n < 0)
            return -1;
        /* write_batch's fallback held a message for lws's deflater: nothing
         * more in this callback, as for a compressed one above. */
        if (c->tx_held != NULL)
            return 0;
        /* More per callback, but never into a choked pipe. lws 4.1.6 asks
         * the kernel (a poll()) each time: only when more is queued. */
        if (c->out_head != NULL && lws_send_pipe_choked(c->wsi))
            break;
    }
    if (c->close_flush && c->out_head != NULL) {
        /* The replies before the close, first (the pipe choked). */
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    c->close_flush = 0;
    if (c->close_code != 0) {
        /* -1 once starts lws's close handshake (our frame, then the
         * client's); a second -1 while it awaits the reply would cut it. */
        if (c->close_started)
            return 0;
        c->close_started = 1;
        return -1;
    }
    if (c->out_head != NULL) {
        lws_callback_on_writable(c->wsi);
        return 0;
    }
    if (c->drain_code != 0 && c->replies == NULL) {
        wsr__conn_close(c, c->drain_code);
        c->close_started = 1;
        return -1;
    }
    return 0;
}

/* ---- receiving ---- */

/* A whole message: to the pipeline, or straight back in the echo mode. */
static void deliver(wsr__conn_t *c, const unsigned char *data, size_t len, bool binary)
{
    if (c->echo)
        wsr__conn_send(c, wsr__msg_copy(data, len, binary));
    else
        wsr__serve_message(c, data, len, binary);
}

static int on_receive(wsr__conn_t *c, const unsigned char *in, size_t len)
{
    size_t max = c->loop->factory->settings.max_message;
    bool final = lws_is_final_fragment(c->wsi) != 0;

    if (c->close_code != 0)
        return 0; /* closing: the rest of the input is ignored */
    c->last_rx_ms = wsr__mono_ms();
    c->ping_due = PING_NONE;
    wsr__count(&c->loop->stats->bytes_in, len);
    c->bytes_in += len;
    if (!c->in_message && final) {
        /* The whole message in one piece: serve it straight from lws's buffer. */
        c->rx_deflated = 0;
        if (len > max)
            wsr__conn_close(c, 1009);
        else
            deliver(c, in, len, lws_frame_is_binary(c->wsi) != 0);
        return 0;
    }
    if (!c->in_message) {
        c->in_message = 1;
        c->rx_binary = (uint8_t)(lws_frame_is_binary(c->wsi) != 0);
        wsr__buf_reset(&c->rx);
    }
    if (len > max - wsr__buf_payload_len(&c->rx)) {
        wsr__conn_close(c, 1009);
        return 0;
    }
    if (wsr__buf_append(&c->rx, in, len) != 0) {
        wsr__conn_close(c, 1011);
        return 0;
    }
    if (final) {
        c->in_message = 0;
        c->rx_deflated = 0;
        deliver(c, c->rx.data, wsr__buf_payload_len(&c->rx), c->rx_binary);
        if (c->rx.cap > RX_KEEP_MAX)
            wsr__buf_dispose(&c->rx);
        else
            wsr__buf_reset(&c->rx);
    }
    return 0;
}

/* ---- connection lifecycle ---- */

static void format_peer(struct lws *wsi, char *out, size_t size)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ip[INET6_ADDRSTRLEN] = "?";
    int fd = lws_get_socket_fd(wsi);

    out[0] = '\0';
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        snprintf(out, size, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(out, size, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
    }
}

int wsr__conn_open(wsr__loop_t *loop, wsr__conn_t *c, struct lws *wsi)
{
    wsr_factory_t *f = loop->factory;
    char via[WSR__PEER_MAX] = "";

    memset(c, 0, sizeof(*c));
    c->wsi = wsi;
    c->loop = loop;
    c->connected_ms = wsr__wall_ms();
    /* A jsonrpc2.0 connection gets its pushes as JSON-RPC notifications. */
    c->jsonrpc = lws_get_protocol(wsi) != NULL && lws_get_protocol(wsi)->name != NULL &&
                 strcmp(lws_get_protocol(wsi)->name, WSR_SUBPROTOCOL_JSONRPC) == 0;
    c->echo = lws_get_protocol(wsi) != NULL && lws_get_protocol(wsi)->name != NULL &&
              strcmp(lws_get_protocol(wsi)->name, WSR__ECHO_PROTOCOL) == 0;
    deflate_setup(c);
    wsr__buf_init(&c->rx, 0, f->settings.max_message);
    format_peer(wsi, c->peer, sizeof(c->peer));
    c->last_rx_ms = wsr__mono_ms();
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* the handshake's deadline is met */
    if (lws_get_ssl(wsi) != NULL)
        c->cert_subject = wsr__tls_peer_subject(wsi);
    if (wsr__loop_register(loop, c, &c->id) != 0) {
        /* Never registered: conn_gone will not see it. */
        wsr__free(c->cert_subject);
        c->cert_subject = NULL;
        wsr__free(c->twin);
        c->twin = NULL;
        return -1;
    }
    c->registered = 1;
    if (loop->pending_wsi == wsi) {
        c->session = loop->pending_session; /* the handshake's token */
        if (loop->pending_client.len != 0) {
            /* Behind a trusted proxy, the peer is the client it forwarded
             * (an address without a port), for handlers and logs alike. */
            memcpy(via, c->peer, sizeof(via));
            wsr__addr_format(&loop->pending_client, c->peer, sizeof(c->peer));
        }
        loop->pending_session = NULL;
        loop->pending_wsi = NULL;
        memset(&loop->pending_client, 0, sizeof(loop->pending_client));
    }
    wsr__count(&loop->stats->opened, 1);
    atomic_fetch_add_explicit(&f->open_connections, 1, memory_order_relaxed);
    wsr__log(f, WSR_LOG_INFO, "conn#%llx open from %s%s%s%s", (unsigned long long)c->id, c->peer,
             via[0] != '\0' ? " via " : "", via, c->deflate ? " (permessage-deflate)" : "");
    if (loop->draining) {
        c->drain_code = 1001;
        wsr__conn_check_drain(c);
    }
    return 0;
}

void wsr__conn_gone(wsr__loop_t *loop, wsr__conn_t *c)
{
    wsr_factory_t *f = loop->factory;
    wsr__msg_t *m, *next;

    if (!c->registered)
        return;
    c->registered = 0;
    wsr__reply_conn_closed(loop, c);
    wsr__serve_conn_closed(c);
    wsr__serve_drop_conn(loop, c->id);
    for (m = c->out_head; m != NULL; m = next) {
        next = m->next;
        wsr__msg_free(m);
    }
    c->out_head = c->out_tail = NULL;
    release_held(c);
    wsr__buf_dispose(&c->rx);
    wsr__buf_dispose(&c->words);
    wsr__session_unref(c->session);
    c->session = NULL;
    wsr__free(c->cert_subject);
    c->cert_subject = NULL;
    wsr__free(c->route_rates);
    if (c->twin != NULL)
        wsr__inflate_twin_end(c->twin);
    wsr__free(c->twin);
    c->twin = NULL;
    c->route_rates = NULL;
    wsr__loop_unregister(loop, c->id);
    wsr__count(&loop->stats->closed, 1);
    if ((!c->raw || c->framing != 0) && c->framing < WSR__TRANSPORTS)
        wsr__count(&loop->stats->transport_closed[c->framing], 1);
    atomic_fetch_sub_explicit(&f->open_connections, 1, memory_order_relaxed);
    wsr__log(f, WSR_LOG_INFO, "conn#%llx closed", (unsigned long long)c->id);
    wsr__loop_conn_gone(loop);
}

/* ---- the inbox and the drain ---- */

/* ---- pushes and sessions, handed over by the loop ---- */

void wsr__conn_push(wsr__conn_t *c, wsr__msg_t *m)
{
    wsr__buf_t b;

    if (m->json_push && (c->push_format != WSR_FORMAT_JSON || c->jsonrpc)) {
        /* The connection speaks base64, or JSON-RPC: re-encode the JSON push
         * for it. */
        wsr__buf_init(&b, WSR__MSG_HEAD, 0);
        if (wsr__codec_encode_push_as(&b, wsr__msg_payload(m), m->len, (wsr_format_t)c->push_format,
                                      c->jsonrpc ? WSR__ENVELOPE_JSONRPC : WSR__ENVELOPE_V1,
                                      &c->loop->scratch) != 0) {
            wsr__buf_dispose(&b);
            wsr__msg_free(m);
            wsr__conn_close(c, 1011);
            return;
        }
        wsr__msg_free(m);
        m = wsr__msg_take(&b, c->push_format == WSR_FORMAT_BASE64_BINARY);
        wsr__buf_dispose(&b);
    }
    wsr__conn_send(c, m);
}

static const char *jti_of(const wsr__session_t *s)
{
    const char *jti = wsr__session_jti(s);

    return jti != NULL ? jti : "";
}

void wsr__conn_set_session(wsr__conn_t *c, wsr__session_t *s, bool detach)
{
    if (!detach) {
        wsr__session_unref(c->session);
        c->session = s;
        return;
    }
    /* Logout: this connection stays, anonymous, if it still holds the token
     * that was logged out (it may have logged in again meanwhile). */
    if (c->session != NULL && s != NULL && strcmp(jti_of(c->session), jti_of(s)) == 0) {
        wsr__session_unref(c->session);
        c->session = NULL;
    }
    wsr__session_unref(s);
}

/* ---- the handshake ---- */

/* Finds the handshake's token: `?token=` (a whole URI argument) or an
 * `Authorization: Bearer` header. Returns it in a heap buffer (owned: the
 * caller frees, after wiping it), NULL when there is none. Buffers are sized
 * to the header, so a long token is never mistaken for no token. */
static char *find_token(struct lws *wsi, const char **token)
{
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
    char *buf = n > 0 ? wsr__malloc((size_t)n + 1) : NULL;

    *token = NULL;
    for (int i = 0;
         buf != NULL && lws_hdr_copy_fragment(wsi, buf, n + 1, WSI_TOKEN_HTTP_URI_ARGS, i) >= 0;
         i++)
        if (strncmp(buf, "token=", 6) == 0) {
            *token = buf + 6;
            return buf;
        }
    wsr__free(buf);
    n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    buf = n > 7 ? wsr__malloc((size_t)n + 1) : NULL;
    if (buf != NULL && lws_hdr_copy(wsi, buf, n + 1, WSI_TOKEN_HTTP_AUTHORIZATION) > 7 &&
        wsr__strncasecmp_ascii(buf, "Bearer ", 7) == 0) {
        *token = buf + 7;
        return buf;
    }
    wsr__free(buf);
    return NULL;
}

/* A token at the handshake authenticates the connection; a bad one refuses
 * it with 401. The session waits in the loop until ESTABLISHED, which lws
 * calls for this wsi right after this filter when the handshake goes on. */
static int handshake_token(wsr__loop_t *loop, struct lws *wsi)
{
    char detail[256];
    const char *token;
    char *buf = find_token(wsi, &token);
    wsr__session_t *s = NULL;
    int rc = 0;

    if (token == NULL)
        return 0;
    if (wsr__auth_verify(loop->factory->auth, token, strlen(token), &s, detail, sizeof(detail)) !=
        0) {
        char peer[WSR__PEER_MAX], shown[sizeof(detail)];

        lws_get_peer_simple(wsi, peer, sizeof(peer));
        /* The detail may quote the token's own text: printable in the log. */
        wsr__copy_printable(shown, sizeof(shown), detail);
        wsr__log(loop->factory, WSR_LOG_NOTICE, "handshake from %s refused 401: %s", peer, shown);
        wsr__count(&loop->stats->refused, 1);
        (void)lws_return_http_status(wsi, HTTP_STATUS_UNAUTHORIZED, detail);
        rc = -1;
    } else {
        loop->pending_session = s;
        loop->pending_wsi = wsi;
    }
    OPENSSL_cleanse(buf, strlen(buf));
    wsr__free(buf);
    return rc;
}

/* True when the handshake's Origin is on the allow-list (or there is no
 * list, or no Origin: not a browser). A long Origin never matches. */
static bool origin_ok(wsr__loop_t *loop, struct lws *wsi)
{
    char *const *allowed = wsr__loop_policy(loop)->origins; /* one read: SIGHUP swaps it */
    char origin[512] = "", shown[201];
    int n;

    if (allowed == NULL)
        return true;
    n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (n == 0)
        return true;
    if (n < (int)sizeof(origin) &&
        lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) > 0 &&
        wsr__origin_allowed(allowed, origin))
        return true;
    /* The client's text, printable: a newline in it cannot forge a log line. */
    wsr__copy_printable(shown, sizeof(shown), n < (int)sizeof(origin) ? origin : "(too long)");
    wsr__log(loop->factory, WSR_LOG_INFO, "handshake refused: Origin %s is not allowed", shown);
    return false;
}

/* A WebSocket handshake, before the upgrade: refused while draining, with
 * 403 when its Origin is not on the allow-list, 429 when the client behind
 * a trusted proxy holds its share of connections, 401 for a bad token. */
static int filter_handshake(wsr__loop_t *loop, struct lws *wsi)
{
    if (loop == NULL)
        return 0;
    /* A session left by a handshake that never reached ESTABLISHED must not
     * pass to this one: the pending pair lives for one handshake only. */
    wsr__session_unref(loop->pending_session);
    loop->pending_session = NULL;
    loop->pending_wsi = NULL;
    memset(&loop->pending_client, 0, sizeof(loop->pending_client));
    if (loop->draining) {
        wsr__count(&loop->stats->refused, 1);
        return -1;
    }
    /* The Origin first: a refused handshake never holds a session. */
    if (!origin_ok(loop, wsi)) {
        wsr__count(&loop->stats->refused, 1);
        (void)lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "this Origin is not allowed");
        return -1;
    }
    /* Behind a trusted proxy, the client's own connection limit (429). */
    if (!wsr__forwarded_admit(loop, wsi))
        return -1;
    loop->pending_wsi = wsi;
    return loop->factory->auth ? handshake_token(loop, wsi) : 0;
}

static wsr__loop_t *loop_of(struct lws *wsi)
{
    return wsi ? lws_context_user(lws_get_context(wsi)) : NULL;
}

int wsr__conn_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    wsr__loop_t *loop = loop_of(wsi);
    wsr__conn_t *c = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return wsr__http_framing_refused(wsi) ? -1 : filter_handshake(loop, wsi);
    case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
        return wsr__http_framing_refused(wsi) ? -1 : 0;
    case LWS_CALLBACK_RECEIVE_PONG:
        c->last_rx_ms = wsr__mono_ms();
        c->ping_due = PING_NONE;
        return 0;
    case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
        wsr__tls_on_ssl_ctx(loop, user);
        return 0;
    case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
        return wsr__tls_verify_client((int)len);
    case LWS_CALLBACK_ESTABLISHED:
        if (wsr__conn_open(loop, c, wsi) != 0)
            return -1;
        wsr__count(&loop->stats->transport_opened[WSR_TRANSPORT_WEBSOCKET], 1);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(c);
    case LWS_CALLBACK_CLOSED:
        wsr__conn_gone(loop, c);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* Every connection, HTTP or WebSocket, ends here (protocols[0]). */
        if (loop != NULL)
            wsr__limits_release(loop->limits, lws_get_opaque_user_data(wsi));
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (loop != NULL)
            wsr__loop_drain_inbox(loop);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
