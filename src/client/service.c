/* SPDX-License-Identifier: MIT */
/*
 * The client's service thread: its lws context, the loop that services it,
 * and the connection's lifecycle: connection attempts with their deadline,
 * the end of a connection (every call in flight fails with a sentence that
 * says why), reconnection with exponential backoff and jitter, call deadlines,
 * and the stop sequence of wsr_client_free. Everything here runs on the
 * service thread, which alone touches the lws connection; other threads reach
 * it through flags under the lock and lws_cancel_service(). It never calls
 * back into user code or into lws while holding the lock. Reading and writing
 * frames is in io.c.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/deflate_int.h"

#define PROTOCOL_NAME "wsrouter-client"
#define RX_CHUNK      65536
/* How long the stop sequence waits for the server to answer a close. */
#define STOP_GRACE_US (1000 * LWS_US_PER_MS)

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len);

/* ---- permessage-deflate (RFC 7692), lws's extension ---- */

#define PMD "permessage-deflate"

/* lws 4.1.6's struct lws_ext_pm_deflate_rx_ebufs (roles/ws/private-lib-roles-ws.h),
 * what PAYLOAD_RX's `in` points to, and two values of its enum pmd_return
 * (core-net/private-lib-core-net.h): wsr_client_new refuses
 * `compress` with any other libwebsockets. */
typedef struct pmd_rx_bufs {
    struct lws_tokens in;
    struct lws_tokens out;
} pmd_rx_bufs_t;
#define PMD_EMPTY_NONFINAL       3
#define PMD_NOTHING_WE_SHOULD_DO 5
/* lws inflates into chunks of 1 << 10 bytes (its default rx_buf_size, which
 * only a protocol rx_buffer_size under it would lower), with the window the
 * server's answer names (15 unless it says server_max_window_bits). */
#define PMD_RX_OUT         1024u
#define PMD_INFLATE_WINDOW 15
_Static_assert(RX_CHUNK >= PMD_RX_OUT, "lws's inflate chunk is capped by rx_buffer_size");
/* While it compresses a request (between messages it keeps nothing, since
 * client_no_context_takeover): (1 << (11 + 2)) + (1 << (4 + 9)) bytes, 16 KiB. */
#define PMD_WINDOW_BITS "11"
#define PMD_MEM_LEVEL   "4"

/* Takes the input lws would inflate, inflating nothing: the connection is closing. */
static int pmd_swallow(pmd_rx_bufs_t *b)
{
    if (b->in.len > 0)
        b->in.token += b->in.len;
    b->in.len = 0;
    b->out = b->in;
    return PMD_EMPTY_NONFINAL;
}

/* Hands the input on as it is, used up: lws 4.1.6's client parser loops
 * until it is (below). */
static void pmd_pass(pmd_rx_bufs_t *b)
{
    b->out = b->in;
    b->in.token += b->in.len;
    b->in.len = 0;
}

/* The connection is closed 1011 for a message lws 4.1.6 would abort on. */
static void pmd_refuse(wsr_client_t *c, struct lws *wsi)
{
    char text[WSR__CLIENT_TEXT];

    snprintf(text, sizeof(text),
             "the connection to %s was closed: the server sent a compressed message that "
             "libwebsockets 4.1.6 cannot inflate (it would abort the process)",
             c->url_text);
    wsr__client_log(c, WSR_LOG_WARN, "%s", text);
    (void)wsr__client_close_because(c, wsi, WSR_EPROTO, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION,
                                    text);
}

/*
 * lws's permessage-deflate, with the server's guard (src/server/conn.c):
 * at the last input of a compressed message's final frame, a message that
 * would make lws 4.1.6 abort the process (src/core/deflate.c) closes the
 * connection instead, and nothing more is inflated once it is closing.
 * `user` is lws's per-connection state, whose first member is the
 * inflater's z_stream (extension-permessage-deflate.h).
 *
 * And a fix: for a frame it does not inflate (an uncompressed message, which
 * wsrouterd sends under compression_min_bytes, or a pong), lws's extension
 * answers PMDR_NOTHING_WE_SHOULD_DO without touching the buffers, and lws
 * 4.1.6's client parser (client-parser-ws.c) then hands the same input to
 * the protocol callback again and again, for ever (the same reply delivered
 * in a loop, at full CPU): it counts the input used only when the extension
 * moved it. Such input is passed on here, used up.
 */
static int pmd_callback(struct lws_context *ctx, const struct lws_extension *ext, struct lws *wsi,
                        enum lws_extension_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    wsr_client_t *c = reason == LWS_EXT_CB_PAYLOAD_RX ? lws_context_user(ctx) : NULL;
    pmd_rx_bufs_t *b = in;
    int n;

    if (c != NULL && user != NULL && c->conn_open && c->wsi == wsi) {
        if (lws_get_reserved_bits(wsi) & 0x40)
            c->rx_deflated = true;
        if (c->rx_deflated && c->closing)
            return pmd_swallow(b);
        /* Once per input chunk, as on the server: lws comes back for each
         * output chunk with the rest of the input inside the stream. */
        if (c->rx_deflated && lws_remaining_packet_payload(wsi) == 0 &&
            lws_is_final_fragment(wsi) && ((z_stream *)user)->avail_in == 0 &&
            wsr__deflate_would_abort(user, PMD_INFLATE_WINDOW, b->in.token,
                                     b->in.len > 0 ? (size_t)b->in.len : 0, PMD_RX_OUT)) {
            pmd_refuse(c, wsi);
            return pmd_swallow(b);
        }
    }
    n = lws_extension_callback_pm_deflate(ctx, ext, wsi, reason, user, in, len);
    if (reason == LWS_EXT_CB_PAYLOAD_RX && n == PMD_NOTHING_WE_SHOULD_DO && b->in.len > 0)
        pmd_pass(b);
    return n;
}

/* Offered only with cfg.compress. Neither side keeps its compression state
 * between messages: an idle connection holds no compressor and no inflater
 * (wsrouterd ends its own compressor after each message anyway). */
static const struct lws_extension client_extensions[] = {
    {PMD, pmd_callback, PMD "; client_no_context_takeover; server_no_context_takeover"},
    {NULL, NULL, NULL},
};

/* At CLIENT_ESTABLISHED: true when permessage-deflate is on for `wsi`, whose
 * compressor is then bounded (lws names the client's own window
 * client_max_window_bits). */
static bool pmd_setup(struct lws *wsi)
{
    if (lws_set_extension_option(wsi, PMD, "mem_level", PMD_MEM_LEVEL) != 0)
        return false;
    (void)lws_set_extension_option(wsi, PMD, "client_max_window_bits", PMD_WINDOW_BITS);
    return true;
}

/* The libwebsockets lines that a client's log_level lets through. Its errors
 * repeat what the client reports itself (a refused certificate, a failed
 * connection: in err.text and the state handler), so they stay quiet up to
 * NOTICE; from INFO on, its errors, warnings and notices (one per context,
 * vhost and connection); from DEBUG on, everything. */
static int lws_log_mask(int level)
{
    int mask = 0;

    if (level >= WSR_LOG_INFO)
        mask |= LLL_ERR | LLL_WARN | LLL_NOTICE;
    if (level >= WSR_LOG_DEBUG)
        mask |= LLL_INFO | LLL_DEBUG;
    return mask;
}

int wsr__client_service_init(wsr_client_t *c, wsr_error_t *err)
{
    struct lws_context_creation_info info;
    unsigned secs = (unsigned)(c->cfg.connect_timeout_ms / 1000) + 2;

    memset(&info, 0, sizeof(info));
    memset(c->protocols, 0, sizeof(c->protocols));
    c->protocols[0].name = PROTOCOL_NAME;
    c->protocols[0].callback = callback;
    c->protocols[0].rx_buffer_size = RX_CHUNK;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = c->protocols;
    info.user = c;
    info.gid = -1;
    info.uid = -1;
    /* lws's own deadlines stay behind ours, which are exact to the millisecond. */
    info.timeout_secs = secs < 5 ? 5 : secs;
    info.connect_timeout_secs = secs;
    info.extensions = c->cfg.compress ? client_extensions : NULL;
    if (c->url.tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.client_ssl_ca_filepath = c->ca_file;
        info.client_ssl_cert_filepath = c->cert_file;
        info.client_ssl_private_key_filepath = c->key_file;
    }
    /* cfg.log_level governs lws's own lines too, so that a program never calls
     * lws itself. lws 4.1 keeps one level per process: the client created last
     * sets it. NULL keeps the emitter the program chose (stderr by default). */
    lws_set_log_level(lws_log_mask(c->cfg.log_level), NULL);
    c->ctx = lws_create_context(&info);
    if (c->ctx == NULL)
        return wsr__error_set(err, c->url.tls ? WSR_ETLS : WSR_ENOMEM,
                              "cannot create the client's lws context%s",
                              c->url.tls ? " (check the client certificate and key)" : "");
    return 0;
}

static void notify_state(wsr_client_t *c, wsr_client_state_t state, int code, const char *text)
{
    wsr__client_log(c, WSR_LOG_INFO, "%s: %s", wsr_client_state_name(state), text);
    if (c->cfg.on_state != NULL)
        c->cfg.on_state(c->cfg.user, state, code, text);
}

/* Sets the state under the lock and wakes every waiter. */
static void set_state(wsr_client_t *c, wsr_client_state_t state)
{
    pthread_mutex_lock(&c->lock);
    c->state = state;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* ---- call deadlines ---- */

static void on_tick(lws_sorted_usec_list_t *sul);

/* Makes sul_tick fire by `deadline` (monotonic ns). */
static void schedule_tick(wsr_client_t *c, uint64_t deadline)
{
    uint64_t now = wsr__now_ns();

    if (c->stopping || (c->tick_at_ns != 0 && c->tick_at_ns <= deadline))
        return;
    c->tick_at_ns = deadline;
    lws_sul_schedule(c->ctx, 0, &c->sul_tick, on_tick,
                     deadline > now ? (lws_usec_t)((deadline - now) / 1000u) + 1 : 1);
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
    wsr_client_t *c = lws_container_of(sul, wsr_client_t, sul_tick);
    wsr__call_list_t expired = {NULL, NULL};
    wsr__ccall_t *call;
    uint64_t next;
    char text[WSR__CLIENT_TEXT];

    c->tick_at_ns = 0;
    pthread_mutex_lock(&c->lock);
    next = wsr__calls_take_expired(c, wsr__now_ns(), &expired);
    pthread_mutex_unlock(&c->lock);
    while ((call = expired.head) != NULL) {
        expired.head = call->next;
        snprintf(text, sizeof(text), "no reply to %s within %d ms (call #%llu)", call->label,
                 call->timeout_ms, (unsigned long long)call->id);
        wsr__call_complete(call, WSR_ETIMEDOUT, NULL, text);
    }
    if (next != 0)
        schedule_tick(c, next);
}

/* ---- connecting ---- */

static void on_connect_deadline(lws_sorted_usec_list_t *sul);
static void on_retry(lws_sorted_usec_list_t *sul);

/* True when the URL's host is an IPv6 address (the URL had it in brackets). */
static bool is_ipv6_literal(const wsr_client_t *c)
{
    return strchr(c->url.host, ':') != NULL;
}

static void start_attempt(wsr_client_t *c)
{
    struct lws_client_connect_info i;
    char text[WSR__CLIENT_TEXT];

    memset(&i, 0, sizeof(i));
    i.context = c->ctx;
    i.address = c->url.host;
    i.port = c->url.port;
    i.path = c->url.path;
    i.host = c->url.host_header;
    i.protocol = c->subprotocol;
    i.local_protocol_name = PROTOCOL_NAME;
    i.pwsi = &c->wsi;
    if (c->url.tls) {
        i.ssl_connection = LCCSCF_USE_SSL;
        if (c->cfg.insecure)
            i.ssl_connection |= LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK |
                                LCCSCF_ALLOW_INSECURE | LCCSCF_ALLOW_EXPIRED;
        /* lws 4.1 cuts the name to check at the first ':' ("[::1]:443" becomes "["),
         * so it could never match: on_cert_verify checks IPv6 addresses instead. */
        if (is_ipv6_literal(c))
            i.ssl_connection |= LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK;
    }
    c->conn_active = true;
    c->conn_open = false;
    c->closing = false;
    c->fail_rc = 0;
    c->peer_close = 0;
    c->hs_protocol[0] = '\0';
    set_state(c, WSR_CLIENT_CONNECTING);
    snprintf(text, sizeof(text), "connecting to %s", c->url_text);
    notify_state(c, WSR_CLIENT_CONNECTING, 0, text);
    lws_sul_schedule(c->ctx, 0, &c->sul_connect, on_connect_deadline,
                     (lws_usec_t)c->cfg.connect_timeout_ms * LWS_US_PER_MS);
    if (lws_client_connect_via_info(&i) == NULL && c->conn_active)
        wsr__client_conn_ended(c, WSR_ECONNECT,
                               "the connection could not be started (address not resolved, or "
                               "out of resources)");
}

static void on_connect_deadline(lws_sorted_usec_list_t *sul)
{
    wsr_client_t *c = lws_container_of(sul, wsr_client_t, sul_connect);

    if (!c->conn_active || c->conn_open)
        return;
    c->fail_rc = WSR_ETIMEDOUT;
    snprintf(c->fail_text, sizeof(c->fail_text), "timed out after %d ms connecting to %s",
             c->cfg.connect_timeout_ms, c->url_text);
    if (c->wsi != NULL)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_AWAITING_CONNECT_RESPONSE, LWS_TO_KILL_SYNC);
    /* lws reports the close it just made; if it did not, end the attempt here. */
    if (c->conn_active)
        wsr__client_conn_ended(c, WSR_ETIMEDOUT, c->fail_text);
}

/* The delay before reconnection attempt number c->attempts: exponential, half jitter. */
static uint64_t backoff_ms(wsr_client_t *c)
{
    uint64_t base = (uint64_t)c->cfg.reconnect_min_ms, max = (uint64_t)c->cfg.reconnect_max_ms;
    int n;

    for (n = 0; n < c->attempts && base < max; n++)
        base *= 2;
    if (base > max)
        base = max;
    c->rng ^= c->rng << 13;
    c->rng ^= c->rng >> 7;
    c->rng ^= c->rng << 17;
    return base / 2 + c->rng % (base / 2 + 1);
}

static void on_retry(lws_sorted_usec_list_t *sul)
{
    wsr_client_t *c = lws_container_of(sul, wsr_client_t, sul_retry);

    if (!c->stopping && !c->conn_active)
        start_attempt(c);
}

/* ---- the end of a connection or of an attempt ---- */

/* Says why the connection ended, for the state handler and the failed calls. */
static void describe_end(wsr_client_t *c, bool was_open, int rc, const char *text, char *out,
                         size_t n)
{
    if (c->stopping)
        snprintf(out, n, "the client was closed");
    else if (c->fail_rc != 0)
        snprintf(out, n, "%s", c->fail_text);
    else if (!was_open && rc == WSR_ETLS)
        snprintf(out, n,
                 "cannot connect to %s: the TLS handshake failed (a server certificate that is "
                 "not trusted or not for this host name?): %s",
                 c->url_text, text ? text : "failed");
    else if (!was_open)
        snprintf(out, n, "cannot connect to %s: %s", c->url_text, text ? text : "failed");
    else if (c->peer_close != 0)
        snprintf(out, n, "the server closed the connection to %s (%d%s%s)", c->url_text,
                 c->peer_close, c->peer_reason[0] ? ": " : "", c->peer_reason);
    else
        snprintf(out, n, "the connection to %s was lost%s%s", c->url_text, text ? ": " : "",
                 text ? text : "");
}

/* Chooses the state after an end, counting failed reconnection attempts. */
static wsr_client_state_t state_after_end(wsr_client_t *c, bool was_open, char *why, size_t n)
{
    size_t len;

    if (c->stopping)
        return WSR_CLIENT_CLOSED;
    if (was_open && c->cfg.reconnect) {
        c->retrying = true;
        c->attempts = 0;
        return WSR_CLIENT_RECONNECTING;
    }
    if (was_open || !c->retrying)
        return WSR_CLIENT_IDLE;
    c->attempts++;
    if (c->cfg.reconnect_max_attempts == 0 || c->attempts < c->cfg.reconnect_max_attempts)
        return WSR_CLIENT_RECONNECTING;
    c->retrying = false;
    len = strlen(why);
    snprintf(why + len, n - len, "; gave up after %d attempts", c->attempts);
    return WSR_CLIENT_IDLE;
}

void wsr__client_conn_ended(wsr_client_t *c, int rc, const char *text)
{
    wsr__call_list_t calls = {NULL, NULL};
    char why[WSR__CLIENT_TEXT];
    bool was_open = c->conn_open;
    wsr_client_state_t state;

    if (!c->conn_active)
        return;
    c->conn_active = c->conn_open = c->closing = c->deflate = false;
    c->wsi = NULL;
    wsr__client_rx_reset(c);
    wsr__client_tx_release(c);
    lws_sul_cancel(&c->sul_connect);
    describe_end(c, was_open, rc, text, why, sizeof(why));
    if (c->fail_rc != 0)
        rc = c->fail_rc;
    else if (rc == 0 || was_open)
        rc = was_open ? WSR_ECLOSED : WSR_ECONNECT;
    state = state_after_end(c, was_open, why, sizeof(why));
    pthread_mutex_lock(&c->lock);
    wsr__calls_take_all(c, &calls);
    c->state = state;
    c->compressed = false;
    if (!was_open) {
        c->attempt_gen++;
        c->attempt_rc = rc;
        snprintf(c->attempt_text, sizeof(c->attempt_text), "%s", why);
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    c->fail_rc = 0;
    c->peer_close = 0;
    c->peer_reason[0] = '\0';
    wsr__calls_fail_list(&calls, WSR_ECLOSED, why);
    notify_state(c, state, rc, why);
    if (c->stopping) {
        c->loop_exit = true;
        lws_cancel_service(c->ctx);
    } else if (state == WSR_CLIENT_RECONNECTING) {
        lws_sul_schedule(c->ctx, 0, &c->sul_retry, on_retry,
                         (lws_usec_t)backoff_ms(c) * LWS_US_PER_MS);
    }
}

/*
 * The server's handshake answer was read: keep the subprotocol it chose. The
 * headers are gone by CLIENT_ESTABLISHED in lws 4.1, so it is read here.
 */
static void on_pre_establish(wsr_client_t *c, struct lws *wsi)
{
    if (lws_hdr_copy(wsi, c->hs_protocol, sizeof(c->hs_protocol), WSI_TOKEN_PROTOCOL) < 0)
        c->hs_protocol[0] = '\0';
}

static void on_established(wsr_client_t *c, struct lws *wsi)
{
    char text[WSR__CLIENT_TEXT];
    const char *protocol = c->hs_protocol;
    bool more;

    c->wsi = wsi;
    c->conn_open = true;
    c->deflate = c->cfg.compress && pmd_setup(wsi);
    if (c->cfg.compress) /* before the state is OPEN: the line comes before any call */
        wsr__client_log(c, WSR_LOG_INFO, "permessage-deflate %s",
                        c->deflate ? "negotiated" : "not accepted by the server");
    c->retrying = false;
    c->attempts = 0;
    lws_sul_cancel(&c->sul_connect);
    /* Before the state is OPEN: /auth/session goes out ahead of every call. */
    wsr__client_token_opened(c);
    /* After it: a topic may need the session; before the program's calls. */
    wsr__client_topics_opened(c);
    if (c->cfg.insecure)
        /* At every connection, whatever the log level, before anyone can use it. */
        wsr__client_log_always(c, WSR_LOG_WARN,
                               "WARNING: TLS certificate and host name checks are OFF for %s "
                               "(insecure mode): anyone on the path can read and change this "
                               "connection. Use it for development only.",
                               c->url_text);
    pthread_mutex_lock(&c->lock);
    c->state = WSR_CLIENT_OPEN;
    c->attempt_gen++;
    c->attempt_rc = 0;
    c->attempt_text[0] = '\0';
    snprintf(c->protocol, sizeof(c->protocol), "%s", protocol);
    c->compressed = c->deflate;
    more = c->out_head != NULL;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    snprintf(text, sizeof(text), "connected to %s", c->url_text);
    if (protocol[0] != '\0')
        wsr__client_log(c, WSR_LOG_INFO, "subprotocol %s", protocol);
    notify_state(c, WSR_CLIENT_OPEN, 0, text);
    if (more)
        lws_callback_on_writable(wsi);
}

/* Certificate trouble is a TLS error; everything else a connection error. */
static int classify(const char *text)
{
    static const char *const tls_words[] = {"cert", "ssl", "tls", "x509"};

    for (size_t i = 0; i < WSR__ARRAY_SIZE(tls_words); i++)
        for (const char *p = text; *p != '\0'; p++)
            if (wsr__strncasecmp_ascii(p, tls_words[i], strlen(tls_words[i])) == 0)
                return WSR_ETLS;
    return WSR_ECONNECT;
}

static void on_connection_error(wsr_client_t *c, const void *in, size_t len)
{
    char text[160];
    size_t n;

    /* lws's sentence may count its NUL in `len` and end with a newline. */
    snprintf(text, sizeof(text), "%.*s", in ? (int)WSR__MIN(len, sizeof(text) - 1) : 0,
             in ? (const char *)in : "");
    n = strlen(text);
    while (n > 0 && wsr__is_blank((unsigned char)text[n - 1]))
        text[--n] = '\0';
    if (text[0] == '\0')
        snprintf(text, sizeof(text), "connection failed");
    wsr__client_conn_ended(c, classify(text), text);
}

/*
 * OpenSSL refused the server's certificate: keep its reason, which is better
 * than the generic one lws reports when the handshake then fails.
 */
static void on_cert_refused(wsr_client_t *c, X509_STORE_CTX *x509_ctx)
{
    int err = X509_STORE_CTX_get_error(x509_ctx);

    if (err == X509_V_OK || c->fail_rc != 0)
        return;
    c->fail_rc = WSR_ETLS;
    snprintf(c->fail_text, sizeof(c->fail_text),
             "cannot connect to %s: the server's certificate was refused: %s", c->url_text,
             X509_verify_cert_error_string(err));
}

/*
 * LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION, once per certificate
 * of the chain. Returns 0 to accept it, 1 to refuse it. lws 4.1 refuses a
 * certificate OpenSSL found wrong unless the error is cleared here.
 */
static int on_cert_verify(wsr_client_t *c, X509_STORE_CTX *x509_ctx, bool preverify_ok)
{
    X509 *cert;

    if (c->cfg.insecure) {
        /* "Accept any certificate": whatever OpenSSL found, lws's flags or not. */
        X509_STORE_CTX_set_error(x509_ctx, X509_V_OK);
        return 0;
    }
    if (!preverify_ok) {
        on_cert_refused(c, x509_ctx);
        return 1;
    }
    if (!is_ipv6_literal(c) || X509_STORE_CTX_get_error_depth(x509_ctx) != 0)
        return 0;
    /* The chain is trusted; the server's own certificate must name the address. */
    cert = X509_STORE_CTX_get_current_cert(x509_ctx);
    if (cert != NULL && X509_check_ip_asc(cert, c->url.host, 0) == 1)
        return 0;
    X509_STORE_CTX_set_error(x509_ctx, X509_V_ERR_IP_ADDRESS_MISMATCH);
    if (c->fail_rc == 0) {
        c->fail_rc = WSR_ETLS;
        snprintf(c->fail_text, sizeof(c->fail_text),
                 "cannot connect to %s: the server's certificate was refused: it does not name "
                 "the address %s (IP address mismatch)",
                 c->url_text, c->url.host);
    }
    return 1;
}

static void on_peer_close(wsr_client_t *c, const unsigned char *in, size_t len)
{
    if (in == NULL || len < 2)
        return;
    c->peer_close = in[0] << 8 | in[1];
    snprintf(c->peer_reason, sizeof(c->peer_reason), "%.*s",
             (int)WSR__MIN(len - 2, sizeof(c->peer_reason) - 1), (const char *)in + 2);
}

/* ---- waking up and stopping ---- */

static void on_stop_deadline(lws_sorted_usec_list_t *sul)
{
    wsr_client_t *c = lws_container_of(sul, wsr_client_t, sul_stop);

    c->loop_exit = true;
    lws_cancel_service(c->ctx);
}

static void begin_stop(wsr_client_t *c)
{
    c->stopping = true;
    lws_sul_cancel(&c->sul_retry);
    lws_sul_cancel(&c->sul_tick);
    wsr__client_token_stop(c);
    if (c->conn_open && c->wsi != NULL) {
        /* A normal close: the close frame goes out from WRITEABLE. */
        c->closing = true;
        c->close_code = LWS_CLOSE_STATUS_NORMAL;
        lws_callback_on_writable(c->wsi);
        lws_sul_schedule(c->ctx, 0, &c->sul_stop, on_stop_deadline, STOP_GRACE_US);
        return;
    }
    if (c->conn_active && c->wsi != NULL)
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
    if (c->conn_active)
        wsr__client_conn_ended(c, WSR_ECLOSED, NULL);
    c->loop_exit = true;
}

/* Runs the callbacks of the calls wsr_client_cancel took out of the table. */
static void complete_cancelled(wsr_client_t *c)
{
    wsr__call_list_t list;
    wsr__ccall_t *call;
    char text[WSR__CLIENT_TEXT];

    pthread_mutex_lock(&c->lock);
    list = c->cancelled;
    c->cancelled.head = c->cancelled.tail = NULL;
    pthread_mutex_unlock(&c->lock);
    while ((call = list.head) != NULL) {
        list.head = call->next;
        snprintf(text, sizeof(text), "%s (call #%llu) was canceled", call->label,
                 (unsigned long long)call->id);
        wsr__call_complete(call, WSR_ECANCELED, NULL, text);
    }
}

/* Work handed over by other threads: a stop, a connect, new calls, cancellations. */
static void on_wake(wsr_client_t *c)
{
    bool stop, connect, more;
    uint64_t wake;

    complete_cancelled(c);
    if (c->stopping)
        return;
    pthread_mutex_lock(&c->lock);
    stop = c->stop;
    connect = c->connect_requested;
    c->connect_requested = false;
    wake = c->wake_deadline_ns;
    c->wake_deadline_ns = 0;
    more = c->out_head != NULL;
    pthread_mutex_unlock(&c->lock);
    if (stop) {
        begin_stop(c);
        return;
    }
    if (wake != 0)
        schedule_tick(c, wake);
    wsr__client_token_wake(c);
    if (more && c->conn_open)
        lws_callback_on_writable(c->wsi);
    if (connect && !c->conn_active) {
        lws_sul_cancel(&c->sul_retry);
        start_attempt(c);
    }
}

/* True when `wsi` is the connection the client knows (or the attempt's, before lws named it). */
static bool ours(wsr_client_t *c, struct lws *wsi)
{
    return c->conn_active && (c->wsi == NULL || c->wsi == wsi);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    wsr_client_t *c = lws_context_user(lws_get_context(wsi));

    if (c == NULL)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        on_wake(c);
        break;
    case LWS_CALLBACK_CLIENT_FILTER_PRE_ESTABLISH:
        if (ours(c, wsi))
            on_pre_establish(c, wsi);
        break;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (ours(c, wsi))
            on_established(c, wsi);
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (ours(c, wsi))
            on_connection_error(c, in, len);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return ours(c, wsi) ? wsr__client_on_receive(c, wsi, in, len) : 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return ours(c, wsi) ? wsr__client_on_writeable(c, wsi) : 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (ours(c, wsi))
            on_peer_close(c, in, len);
        break;
    case LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION:
        /* `user` is the X509_STORE_CTX, `len` OpenSSL's preverify_ok. */
        if (user != NULL && ours(c, wsi))
            return on_cert_verify(c, user, len != 0);
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        if (ours(c, wsi))
            wsr__client_conn_ended(c, 0, NULL);
        break;
    default:
        break;
    }
    return 0;
}

/* Fails whatever is left and destroys the context, on the service thread. */
static void finish(wsr_client_t *c)
{
    wsr__call_list_t calls = {NULL, NULL};
    bool notify;

    lws_sul_cancel(&c->sul_tick);
    lws_sul_cancel(&c->sul_connect);
    lws_sul_cancel(&c->sul_retry);
    lws_sul_cancel(&c->sul_stop);
    wsr__client_token_stop(c);
    /* From here on lws's callbacks about the connection are ignored. */
    c->conn_active = c->conn_open = false;
    c->wsi = NULL;
    pthread_mutex_lock(&c->lock);
    wsr__calls_take_all(c, &calls);
    notify = c->state != WSR_CLIENT_CLOSED;
    c->state = WSR_CLIENT_CLOSED;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    complete_cancelled(c);
    wsr__calls_fail_list(&calls, WSR_ECLOSED, "the client was closed");
    if (notify)
        notify_state(c, WSR_CLIENT_CLOSED, WSR_ECLOSED, "the client was closed");
    /* The context stays: other threads may still wake it until wsr_client_free
     * has joined this thread; it is destroyed after that (wsr__client_destroy). */
}

void *wsr__client_service_main(void *arg)
{
    wsr_client_t *c = arg;
    bool self_free;

    while (!c->loop_exit)
        if (lws_service(c->ctx, 0) < 0)
            break;
    finish(c);
    pthread_mutex_lock(&c->lock);
    self_free = c->self_free;
    pthread_mutex_unlock(&c->lock);
    if (self_free) {
        /* wsr_client_free was called from a callback: nobody will join this thread. */
        pthread_detach(pthread_self());
        wsr__client_destroy(c);
    }
    return NULL;
}
