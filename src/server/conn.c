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
#include "server/idle_int.h"
#include "server/limits_int.h"
#include "server/origins_int.h"
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
void wsr__conn_close_because(wsr__conn_t *c, int code, const char *text)
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

void wsr__conn_close(wsr__conn_t *c, int code)
{
    wsr__conn_close_because(c, code, close_text(code));
}

/* ---- sending ---- */

void wsr__conn_send(wsr__conn_t *c, wsr__msg_t *m)
{
    size_t cap = c->loop->factory->settings.max_outbound;

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
size_t wsr__conn_frame_batch(wsr__conn_t *c, wsr__buf_t *b)
{
    size_t total = 0, count = 0, framed;
    unsigned char *h;

    /* Measure the batch first and make room for all of it, before anything
     * leaves the queue: a message popped into a buffer that then failed to
     * grow would be lost, yet counted as sent. */
    for (const wsr__msg_t *m = c->out_head;
         m != NULL && m->len <= BATCH_MSG_MAX && total + m->len + 4 <= BATCH_MAX; m = m->next) {
        total += m->len + (m->len < 126 ? 2 : 4);
        count++;
    }
    wsr__buf_reset(b);
    if (count < 2 || wsr__buf_reserve(b, total) != 0)
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
        pop_sent(c);
    }
    return framed;
}

static int write_batch(wsr__conn_t *c)
{
    wsr__buf_t *b = &c->loop->wbuf;

    if (wsr__conn_frame_batch(c, b) == 0)
        return write_one(c);
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
        wsr__conn_close(c, c->drain_code);
        c->close_started = 1;
        return -1;
    }
    return 0;
}

/* ---- receiving ---- */

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
            wsr__conn_close(c, 1009);
        else
            wsr__serve_message(c, in, len, lws_frame_is_binary(c->wsi) != 0);
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
        wsr__serve_message(c, c->rx.data, wsr__buf_payload_len(&c->rx), c->rx_binary);
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
    if (wsr__loop_register(loop, c, &c->id) != 0)
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
    wsr__loop_unregister(loop, c->id);
    wsr__count(&loop->stats->closed, 1);
    atomic_fetch_sub_explicit(&f->open_connections, 1, memory_order_relaxed);
    wsr__log(f, WSR_LOG_INFO, "conn#%llx closed", (unsigned long long)c->id);
    wsr__loop_conn_gone(loop);
}

/* ---- the inbox and the drain ---- */

/* ---- pushes and sessions, handed over by the loop ---- */

void wsr__conn_push(wsr__conn_t *c, wsr__msg_t *m)
{
    wsr__buf_t b;

    if (m->json_push && c->push_format != WSR_FORMAT_JSON) {
        /* The connection speaks base64: re-encode the JSON push for it. */
        wsr__buf_init(&b, WSR__MSG_HEAD, 0);
        if (wsr__codec_encode_raw(&b, wsr__msg_payload(m), m->len, (wsr_format_t)c->push_format) !=
            0) {
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
    char origin[512] = "";
    int n;

    if (loop->origins == NULL)
        return true;
    n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (n == 0)
        return true;
    if (n < (int)sizeof(origin) &&
        lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) > 0 &&
        wsr__origin_allowed(loop->origins, origin))
        return true;
    wsr__log(loop->factory, WSR_LOG_INFO, "handshake refused: Origin %.200s is not allowed",
             n < (int)sizeof(origin) ? origin : "(too long)");
    return false;
}

/* A WebSocket handshake, before the upgrade: refused while draining, with
 * 403 when its Origin is not on the allow-list, 401 for a bad token. */
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

int wsr__conn_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
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
