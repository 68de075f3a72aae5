/* SPDX-License-Identifier: MIT */
/*
 * The per-connection protocol object (aiorest-ws's RequestHandlerProtocol):
 * the libwebsockets callback for our subprotocol. It registers each connection
 * with its loop, reassembles fragmented messages up to the message limit
 * (1009 past it), hands each complete message to the codec and the dispatcher,
 * queues the encoded reply, and writes the queue only from the WRITEABLE
 * callback, several messages per callback while the pipe is not choked (1008
 * when a client lets the queue pass its cap). It also drains the loop's inbox.
 * It owns each connection's buffers and queue; it never blocks.
 */
#include "server/loop_int.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core/codec_int.h"
#include <openssl/crypto.h>

#include "server/handshake_int.h"
#include "server/limits_int.h"
#include "server/listener_int.h"
#include "services/pubsub_int.h"
#include "server/tls_int.h"
#include "core/router_int.h"

_Static_assert(sizeof(wsr__msg_t) + LWS_PRE <= WSR__MSG_HEAD, "message header too small");

static void handle_note(wsr__loop_t *loop, wsr__msg_t *m);

/* The idle policy's ping states (wsr__conn_t.ping_due). */
enum { PING_NONE = 0, PING_DUE = 1, PING_SENT = 2 };

/* Messages up to BATCH_MSG_MAX bytes are written together, up to BATCH_MAX
 * bytes of frames per write (protocol.c write_batch). */
#define BATCH_MSG_MAX 8192
#define BATCH_MAX     (64 * 1024)

/* A reassembly buffer this large is released after its message, not kept. */
#define RX_KEEP_MAX (64 * 1024)

struct serve_ctx {
    wsr__loop_t *loop;
    wsr__conn_t *conn;
    wsr_request_t *req;
};

const size_t wsr__conn_size = sizeof(wsr__conn_t);

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

/*
 * Closes `c` with `code`. Whatever was queued is dropped; the close frame goes
 * out from the next WRITEABLE callback, so a client that was slow to read still
 * learns why (1008 reaches a client that resumes reading). A client that never
 * reads again is dropped after CLOSE_GRACE_SECS. Returning -1 from a callback
 * instead would drop the close frame whenever the pipe is choked.
 */
static void conn_close_because(wsr__conn_t *c, int code, const char *text)
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
    lws_close_reason(c->wsi, (enum lws_close_status)code, (unsigned char *)text, strlen(text));
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_GRACE_SECS);
    /* Input keeps being read (and ignored) until the close handshake ends:
     * closing a socket with unread input makes the kernel send an RST, and
     * an RST makes the client's kernel discard what the client had not read
     * yet, close frame included. */
    lws_callback_on_writable(c->wsi);
}

static void conn_close(wsr__conn_t *c, int code)
{
    conn_close_because(c, code, close_text(code));
}

void wsr__conn_close_idle(wsr__conn_t *c)
{
    conn_close_because(c, 1001, "idle: no traffic and no pong");
}

void wsr__conn_close_auth(wsr__conn_t *c, const char *why)
{
    conn_close_because(c, 1008, why);
}

/* ---- the registry: slot + generation ids, loop thread only ---- */

static int registry_add(wsr__loop_t *loop, wsr__conn_t *c)
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
    if (++loop->slots[slot].gen == 0)
        loop->slots[slot].gen = 1;
    loop->slots[slot].conn = c;
    c->id = (uint64_t)loop->slots[slot].gen << 32 | (uint64_t)loop->index << 24 | slot;
    loop->nconns++;
    return 0;
}

static void registry_remove(wsr__loop_t *loop, wsr__conn_t *c)
{
    uint32_t slot = WSR__ID_SLOT(c->id);

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

/* ---- sending ---- */

void wsr__conn_send(wsr__conn_t *c, wsr__msg_t *m)
{
    size_t cap = c->loop->factory->settings.max_outbound;

    if (m == NULL) {
        conn_close(c, 1011);
        return;
    }
    m->next = NULL;
    if (c->close_code != 0) {
        wsr__msg_free(m);
        return;
    }
    if (c->out_bytes + m->len > cap) {
        wsr__msg_free(m);
        conn_close(c, 1008);
        return;
    }
    if (c->out_tail != NULL)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    c->out_bytes += m->len;
    lws_callback_on_writable(c->wsi);
}

void wsr__conn_check_drain(wsr__conn_t *c)
{
    if (c->drain_code != 0 && c->replies == NULL && c->out_head == NULL)
        lws_callback_on_writable(c->wsi);
}

/* Takes the head of the queue off, counting it as sent. */
static void pop_sent(wsr__conn_t *c)
{
    wsr__msg_t *m = c->out_head;

    c->out_head = m->next;
    if (c->out_head == NULL)
        c->out_tail = NULL;
    c->out_bytes -= m->len;
    wsr__count(&c->loop->stats->messages_out, 1);
    wsr__count(&c->loop->stats->bytes_out, m->len);
    wsr__msg_free(m);
}

/* One message, framed by lws, straight from its buffer. */
static int write_one(wsr__conn_t *c)
{
    wsr__msg_t *m = c->out_head;

    if (lws_write(c->wsi, wsr__msg_payload(m), m->len,
                  m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT) < 0)
        return -1;
    pop_sent(c);
    return 0;
}

/*
 * Several small messages in one write: we frame them ourselves (a server's
 * frames are unmasked: a FIN+opcode byte, the length, the payload) and hand
 * lws the bytes as LWS_WRITE_RAW. With requests pipelined, this turns a send()
 * per reply into a send() per batch, which is most of the server's cost.
 */
static int write_batch(wsr__conn_t *c)
{
    wsr__buf_t *b = &c->loop->wbuf;
    unsigned char *h;

    wsr__buf_reset(b);
    while (c->out_head != NULL && c->out_head->len <= BATCH_MSG_MAX &&
           wsr__buf_payload_len(b) + c->out_head->len + 4 <= BATCH_MAX) {
        wsr__msg_t *m = c->out_head;

        if (wsr__buf_reserve(b, m->len + 4) != 0)
            return write_one(c);
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
        pop_sent(c);
    }
    return lws_write(c->wsi, wsr__buf_payload(b), wsr__buf_payload_len(b), LWS_WRITE_RAW) < 0 ? -1
                                                                                              : 0;
}

static int on_writeable(wsr__conn_t *c)
{
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

    while (c->out_head != NULL && c->close_code == 0) {
        int n = c->out_head->next != NULL && c->out_head->len <= BATCH_MSG_MAX ? write_batch(c)
                                                                               : write_one(c);

        if (n < 0)
            return -1;
        /* More per callback, but never into a choked pipe. */
        if (lws_send_pipe_choked(c->wsi))
            break;
    }
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
        conn_close(c, c->drain_code);
        c->close_started = 1;
        return -1;
    }
    return 0;
}

/* ---- receiving ---- */

static wsr_reply_t *loop_defer(void *arg, wsr_response_t *res)
{
    struct serve_ctx *ctx = arg;

    (void)res;
    return wsr__reply_new(ctx->loop, ctx->conn, ctx->req);
}

static void serve(wsr__conn_t *c, const unsigned char *p, size_t n, bool binary)
{
    wsr__loop_t *loop = c->loop;
    wsr_factory_t *f = loop->factory;
    char detail[WSR__DETAIL_MAX];
    struct serve_ctx ctx;
    wsr_request_t req;
    wsr_response_t res;
    wsr__buf_t out;
    int rc;

    wsr__count(&loop->stats->messages_in, 1);
    wsr__request_init(&req);
    wsr__response_init(&res);
    req.start_ns = wsr__now_ns();
    req.conn_id = c->id;
    req.factory = f;
    memcpy(req.peer, c->peer, sizeof(req.peer));
    req.session = wsr__session_ref(c->session);
    if (c->cert_subject != NULL)
        req.cert_subject = wsr__strdup(c->cert_subject);
    rc = wsr__codec_decode(&req, p, n, binary, f->settings.max_depth, detail);
    c->push_format = (uint8_t)req.format;
    if (rc == WSR_EPARSE) {
        (void)wsr__response_error_str(&res, 400, detail);
    } else if (rc != 0) {
        wsr__response_fail(&res);
    } else if (loop->draining) {
        (void)wsr__response_error_str(&res, 503, "the server is shutting down");
    } else {
        ctx.loop = loop;
        ctx.conn = c;
        ctx.req = &req;
        res.defer = loop_defer;
        res.defer_ctx = &ctx;
        if (wsr__dispatch(f, f->router, &req, &res) == 1)
            goto out; /* a reply handle answers later */
    }
    wsr__stats_request(loop->stats, res.status, req.route ? req.route->index : SIZE_MAX,
                       wsr__now_ns() - req.start_ns);
    wsr__buf_init(&out, WSR__MSG_HEAD, 0);
    if (wsr__response_encode(&out, &res, req.id, req.event_name, req.method == WSR_HEAD, req.format,
                             &loop->scratch) == 0)
        wsr__conn_send(c, wsr__msg_take(&out, req.format == WSR_FORMAT_BASE64_BINARY));
    else
        conn_close(c, 1011);
    wsr__buf_dispose(&out);
out:
    wsr__response_dispose(&res);
    wsr__request_dispose(&req);
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
    if (!c->in_message && final) {
        /* The whole message in one piece: serve it straight from lws's buffer. */
        if (len > max)
            conn_close(c, 1009);
        else
            serve(c, in, len, lws_frame_is_binary(c->wsi) != 0);
        return 0;
    }
    if (!c->in_message) {
        c->in_message = 1;
        c->rx_binary = (uint8_t)(lws_frame_is_binary(c->wsi) != 0);
        wsr__buf_reset(&c->rx);
    }
    if (len > max - wsr__buf_payload_len(&c->rx)) {
        conn_close(c, 1009);
        return 0;
    }
    if (wsr__buf_append(&c->rx, in, len) != 0) {
        conn_close(c, 1011);
        return 0;
    }
    if (final) {
        c->in_message = 0;
        serve(c, c->rx.data, wsr__buf_payload_len(&c->rx), c->rx_binary);
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

static int on_established(wsr__loop_t *loop, wsr__conn_t *c, struct lws *wsi)
{
    wsr_factory_t *f = loop->factory;

    memset(c, 0, sizeof(*c));
    c->wsi = wsi;
    c->loop = loop;
    c->connected_ms = wsr__wall_ms();
    wsr__buf_init(&c->rx, 0, f->settings.max_message);
    format_peer(wsi, c->peer, sizeof(c->peer));
    c->last_rx_ms = wsr__mono_ms();
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0); /* the handshake's deadline is met */
    if (lws_get_ssl(wsi) != NULL)
        c->cert_subject = wsr__tls_peer_subject(wsi);
    if (registry_add(loop, c) != 0)
        return -1;
    c->registered = 1;
    if (loop->pending_wsi == wsi) {
        c->session = loop->pending_session; /* the handshake's token */
        loop->pending_session = NULL;
        loop->pending_wsi = NULL;
    }
    wsr__count(&loop->stats->opened, 1);
    atomic_fetch_add_explicit(&f->open_connections, 1, memory_order_relaxed);
    wsr__log(f, WSR_LOG_INFO, "conn#%llx open from %s", (unsigned long long)c->id, c->peer);
    if (loop->draining) {
        c->drain_code = 1001;
        wsr__conn_check_drain(c);
    }
    return 0;
}

static void on_closed(wsr__loop_t *loop, wsr__conn_t *c)
{
    wsr_factory_t *f = loop->factory;
    wsr__msg_t *m, *next;

    if (!c->registered)
        return;
    c->registered = 0;
    wsr__reply_conn_closed(loop, c);
    wsr__pubsub_drop_conn(f->pubsub, c->id);
    for (m = c->out_head; m != NULL; m = next) {
        next = m->next;
        wsr__msg_free(m);
    }
    c->out_head = c->out_tail = NULL;
    wsr__buf_dispose(&c->rx);
    wsr__session_unref(c->session);
    c->session = NULL;
    wsr__free(c->cert_subject);
    c->cert_subject = NULL;
    registry_remove(loop, c);
    wsr__count(&loop->stats->closed, 1);
    atomic_fetch_sub_explicit(&f->open_connections, 1, memory_order_relaxed);
    wsr__log(f, WSR_LOG_INFO, "conn#%llx closed", (unsigned long long)c->id);
    if (loop->draining && loop->nconns == 0) {
        loop->finished = true;
        lws_cancel_service(loop->ctx);
    }
}

/* ---- the inbox and the drain ---- */

int wsr__loop_deliver_push(wsr__loop_t *loop, wsr__msg_t *m)
{
    wsr__conn_t *c = wsr__loop_conn(loop, m->conn_id);
    wsr__buf_t b;

    if (c == NULL) {
        wsr__count(&loop->stats->pushes_dropped, 1);
        wsr__msg_free(m);
        return WSR_ENOENT;
    }
    if (m->json_push && c->push_format != WSR_FORMAT_JSON) {
        /* The connection speaks base64: re-encode the JSON push for it. */
        wsr__buf_init(&b, WSR__MSG_HEAD, 0);
        if (wsr__codec_encode_raw(&b, wsr__msg_payload(m), m->len, (wsr_format_t)c->push_format) !=
            0) {
            wsr__buf_dispose(&b);
            wsr__msg_free(m);
            conn_close(c, 1011);
            return 0;
        }
        wsr__msg_free(m);
        m = wsr__msg_take(&b, c->push_format == WSR_FORMAT_BASE64_BINARY);
    }
    wsr__count(&loop->stats->pushes, 1);
    wsr__conn_send(c, m);
    return 0;
}

int wsr__loop_deliver_now(wsr__loop_t *loop, wsr__msg_t *m)
{
    if (m->kind == WSR__MSG_DATA)
        return wsr__loop_deliver_push(loop, m);
    handle_note(loop, m);
    return 0;
}

bool wsr__on_loop_thread(wsr__loop_t *loop)
{
    return atomic_load_explicit(&loop->tid_set, memory_order_acquire) &&
           pthread_equal(loop->tid, pthread_self());
}

static void handle_note(wsr__loop_t *loop, wsr__msg_t *m)
{
    wsr__conn_t *c;

    switch (m->kind) {
    case WSR__MSG_STOP:
        wsr__loop_begin_drain(loop);
        break;
    case WSR__MSG_RELOAD:
        wsr__tls_reload(loop);
        break;
    case WSR__MSG_SESSION:
        c = wsr__loop_conn(loop, m->conn_id);
        if (c != NULL && m->code == 0) {
            wsr__session_unref(c->session);
            c->session = m->session; /* the note's reference moves to the connection */
            m->session = NULL;
        } else if (c != NULL && c->session != NULL && m->session != NULL &&
                   strcmp(wsr__session_jti(c->session) ? wsr__session_jti(c->session) : "",
                          wsr__session_jti(m->session) ? wsr__session_jti(m->session) : "") == 0) {
            wsr__session_unref(c->session); /* logout: this connection stays, anonymous */
            c->session = NULL;
        }
        break;
    case WSR__MSG_CLOSE:
        c = wsr__loop_conn(loop, m->conn_id);
        if (c != NULL)
            conn_close(c, m->code);
        break;
    default:
        break;
    }
    wsr__msg_free(m);
}

void wsr__loop_drain_inbox(wsr__loop_t *loop)
{
    wsr__msg_t *m, *next;

    pthread_mutex_lock(&loop->inbox->lock);
    m = loop->inbox->head;
    loop->inbox->head = loop->inbox->tail = NULL;
    pthread_mutex_unlock(&loop->inbox->lock);
    for (; m != NULL; m = next) {
        next = m->next;
        m->next = NULL;
        if (m->kind != WSR__MSG_DATA)
            handle_note(loop, m);
        else if (m->reply != NULL)
            wsr__reply_delivered(loop, m);
        else
            (void)wsr__loop_deliver_push(loop, m);
    }
    if (atomic_load_explicit(&loop->stop_requested, memory_order_acquire))
        wsr__loop_begin_drain(loop);
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
                conn_close(loop->slots[i].conn, 1001);
        /* A last grace second for the closes themselves. */
        lws_sul_schedule(loop->ctx, 0, &loop->drain_sul, on_drain_deadline, LWS_US_PER_SEC);
        return;
    }
    loop->finished = true;
    lws_cancel_service(loop->ctx);
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
    if (loop->nconns == 0) {
        loop->finished = true;
        lws_cancel_service(loop->ctx);
    }
}

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

/* A WebSocket handshake, before the upgrade: refused while draining, and
 * with 403 when its Origin is not on the allow-list. */
/* True when the handshake's Origin is on the allow-list (or there is no
 * list, or no Origin: not a browser). A long Origin never matches. */
static bool origin_ok(wsr__loop_t *loop, struct lws *wsi)
{
    char origin[512] = "";
    int n;

    if (loop->factory->settings.origins == NULL)
        return true;
    n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (n == 0)
        return true;
    if (n < (int)sizeof(origin) &&
        lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) > 0 &&
        wsr__origin_allowed(loop->factory->settings.origins, origin))
        return true;
    wsr__log(loop->factory, WSR_LOG_INFO, "handshake refused: Origin %.200s is not allowed",
             n < (int)sizeof(origin) ? origin : "(too long)");
    return false;
}

static int filter_handshake(wsr__loop_t *loop, struct lws *wsi)
{
    if (loop == NULL)
        return 0;
    /* A session left by a handshake that never reached ESTABLISHED must not
     * pass to this one: the pending pair lives for one handshake only. */
    wsr__session_unref(loop->pending_session);
    loop->pending_session = NULL;
    loop->pending_wsi = NULL;
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
    return loop->factory->auth ? handshake_token(loop, wsi) : 0;
}

static wsr__loop_t *loop_of(struct lws *wsi)
{
    return wsi ? lws_context_user(lws_get_context(wsi)) : NULL;
}

int wsr__protocol_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len)
{
    wsr__loop_t *loop = loop_of(wsi);
    wsr__conn_t *c = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return filter_handshake(loop, wsi);
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
        return on_established(loop, c, wsi);
    case LWS_CALLBACK_RECEIVE:
        return on_receive(c, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(c);
    case LWS_CALLBACK_CLOSED:
        on_closed(loop, c);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        /* Every connection, HTTP or WebSocket, ends here (protocols[0]). */
        if (loop != NULL)
            wsr__limits_release(loop->factory->limits, lws_get_opaque_user_data(wsi));
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
