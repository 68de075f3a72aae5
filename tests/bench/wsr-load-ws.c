/* SPDX-License-Identifier: MIT */
/*
 * wsr-load's WebSocket client: non-blocking connects (a window of them at a
 * time), TLS through OpenSSL with the peer verified against --ca, the RFC 6455
 * upgrade with its accept key checked, masked unfragmented text frames out,
 * and any frames in (fragments reassembled up to MAX_MESSAGE, pings answered,
 * binary, masked or malformed frames refused). It hands each reply to the
 * checks and tops each connection up to P requests in flight; it never
 * blocks, never retries, and owns nothing but its connections' buffers.
 * On tcp:// (wsrouterd's raw TCP port) there is no handshake and no framing:
 * each request is one NDJSON line, and each line read is one reply.
 */
#include "wsr-load.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define READ_CHUNK     (64 * 1024)
#define READS_PER_WAKE 4
#define MAX_MESSAGE    (64u * 1024 * 1024) /* cap of one incoming message */
#define UPGRADE_MAX    8192
#define IO_AGAIN       (-1)
#define IO_ERR         (-2)
#define WS_GUID        "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static uint32_t rnd32(wsr_load_t *L)
{
    uint64_t x = L->rng;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    L->rng = x;
    return (uint32_t)(x >> 32);
}

/* --- buffers --------------------------------------------------------------- */

int wsr_buf_reserve(wsr_buf_t *b, size_t extra)
{
    size_t need, cap;
    char *p;

    if (b->off > 0 && (b->off == b->len || b->len + extra > b->cap)) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (extra > SIZE_MAX / 2 - b->len)
        return -1;
    need = b->len + extra;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 4096;
    while (cap < need)
        cap *= 2;
    p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void buf_free(wsr_buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

/* --- connections ------------------------------------------------------------ */

static void conn_events(wsr_load_t *L, wsr_conn_t *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0u)};

    if (c->epollout == out)
        return;
    ev.data.u32 = (uint32_t)(c - L->conns);
    if (epoll_ctl(L->ep, EPOLL_CTL_MOD, c->fd, &ev) == 0)
        c->epollout = out;
}

/* Closes a connection. `err` is the counter to blame, or NULL when the close
 * is ours. Requests still in flight on it are lost. */
void wsr_conn_close(wsr_load_t *L, wsr_conn_t *c, uint64_t *err, const char *why)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    if (c->st == CS_DEAD)
        return;
    if (err != NULL) {
        (*err)++;
        L->err.lost += c->nfl;
        if (L->opt.verbose)
            fprintf(stderr, "wsr-load: connection %ld: %s\n", (long)(c - L->conns), why);
    }
    if (c->st == CS_OPEN)
        L->nopen--;
    else
        L->nconnecting--;
    L->inflight -= c->nfl;
    c->nfl = 0;
    /* A reset, not a FIN: no TIME_WAIT piles up over the benchmark's many runs. */
    (void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    SSL_free(c->ssl);
    c->ssl = NULL;
    close(c->fd);
    c->fd = -1;
    c->st = CS_DEAD;
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->msg);
}

static long io_read(wsr_conn_t *c, char *p, size_t n)
{
    size_t got = 0;
    ssize_t r;

    if (c->ssl == NULL) {
        r = recv(c->fd, p, n, 0);
        if (r < 0)
            return errno == EAGAIN || errno == EINTR ? IO_AGAIN : IO_ERR;
        return (long)r;
    }
    ERR_clear_error();
    if (SSL_read_ex(c->ssl, p, n, &got) == 1)
        return (long)got;
    switch (SSL_get_error(c->ssl, 0)) {
    case SSL_ERROR_WANT_READ:
        return IO_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        c->tls_wants = true;
        return IO_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        return IO_ERR;
    }
}

static long io_write(wsr_conn_t *c, const char *p, size_t n)
{
    size_t put = 0;
    ssize_t r;

    if (c->ssl == NULL) {
        r = send(c->fd, p, n, MSG_NOSIGNAL);
        if (r < 0)
            return errno == EAGAIN || errno == EINTR ? IO_AGAIN : IO_ERR;
        return (long)r;
    }
    ERR_clear_error();
    if (SSL_write_ex(c->ssl, p, n, &put) == 1)
        return (long)put;
    switch (SSL_get_error(c->ssl, 0)) {
    case SSL_ERROR_WANT_READ:
        return IO_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        c->tls_wants = true;
        return IO_AGAIN;
    default:
        return IO_ERR;
    }
}

/* Writes what the output buffer holds; asks for EPOLLOUT when the socket is full. */
void wsr_conn_flush(wsr_load_t *L, wsr_conn_t *c)
{
    wsr_buf_t *b = &c->out;
    long n;

    c->tls_wants = false;
    while (c->st != CS_DEAD && b->off < b->len) {
        n = io_write(c, b->p + b->off, b->len - b->off);
        if (n == IO_AGAIN)
            break;
        if (n <= 0) {
            wsr_conn_close(L, c, &L->err.closed, "write failed");
            return;
        }
        b->off += (size_t)n;
    }
    if (b->off == b->len)
        b->off = b->len = 0;
    if (c->st != CS_DEAD)
        conn_events(L, c, b->off < b->len || c->tls_wants);
}

static int send_upgrade(wsr_load_t *L, wsr_conn_t *c)
{
    unsigned char key[16], digest[EVP_MAX_MD_SIZE];
    char key64[32], both[64], req[512];
    unsigned dlen = 0;
    int n;

    for (unsigned i = 0; i < sizeof(key); i++)
        key[i] = (unsigned char)rnd32(L);
    EVP_EncodeBlock((unsigned char *)key64, key, (int)sizeof(key));
    n = snprintf(both, sizeof(both), "%s%s", key64, WS_GUID);
    if (n < 0 || EVP_Digest(both, (size_t)n, digest, &dlen, EVP_sha1(), NULL) != 1)
        return -1;
    EVP_EncodeBlock((unsigned char *)c->accept, digest, (int)dlen);
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 L->opt.path, L->opt.host, L->opt.port, key64);
    if (n < 0 || (size_t)n >= sizeof(req) || wsr_buf_reserve(&c->out, (size_t)n) != 0)
        return -1;
    memcpy(c->out.p + c->out.len, req, (size_t)n);
    c->out.len += (size_t)n;
    c->st = CS_UPGRADE;
    wsr_conn_flush(L, c);
    return 0;
}

static void tls_step(wsr_load_t *L, wsr_conn_t *c)
{
    int rc;

    ERR_clear_error();
    rc = SSL_connect(c->ssl);
    if (rc == 1) {
        if (send_upgrade(L, c) != 0)
            wsr_conn_close(L, c, &L->err.connect, "cannot send the upgrade");
        return;
    }
    switch (SSL_get_error(c->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        conn_events(L, c, false);
        break;
    case SSL_ERROR_WANT_WRITE:
        conn_events(L, c, true);
        break;
    default:
        if (L->opt.verbose)
            ERR_print_errors_fp(stderr);
        wsr_conn_close(L, c, &L->err.connect, "TLS handshake failed");
    }
}

static int tls_begin(wsr_load_t *L, wsr_conn_t *c)
{
    struct in_addr a;

    c->ssl = SSL_new(L->tls);
    if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
        return -1;
    SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (inet_pton(AF_INET, L->opt.host, &a) == 1) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), L->opt.host) != 1)
            return -1;
    } else if (SSL_set1_host(c->ssl, L->opt.host) != 1 ||
               SSL_set_tlsext_host_name(c->ssl, L->opt.host) != 1) {
        return -1;
    }
    c->st = CS_TLS;
    tls_step(L, c);
    return 0;
}

/* A connection is ready for requests. */
static void conn_opened(wsr_load_t *L, wsr_conn_t *c)
{
    c->st = CS_OPEN;
    L->nconnecting--;
    L->nopen++;
    wsr_open_more(L);
}

/* The socket of a connection in progress became writable: connected, or not. */
static void on_connected(wsr_load_t *L, wsr_conn_t *c)
{
    int soerr = 0, rc;
    socklen_t len = sizeof(soerr);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
        wsr_conn_close(L, c, &L->err.connect, soerr ? strerror(soerr) : "getsockopt failed");
        return;
    }
    if (L->opt.raw) { /* no handshake: open at once */
        conn_opened(L, c);
        conn_events(L, c, false);
        return;
    }
    rc = L->tls ? tls_begin(L, c) : send_upgrade(L, c);
    if (rc != 0)
        wsr_conn_close(L, c, &L->err.connect, "cannot start the handshake");
}

static int conn_open(wsr_load_t *L, wsr_conn_t *c)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(L->opt.port)};
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT};
    int one = 1;

    sa.sin_addr = L->addr;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->st = CS_CONNECTING;
    c->epollout = true;
    L->nconnecting++;
    ev.data.u32 = (uint32_t)(c - L->conns);
    if ((connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) ||
        epoll_ctl(L->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        wsr_conn_close(L, c, &L->err.connect, strerror(errno));
        return -1;
    }
    return 0;
}

/* Keeps `connect_window` handshakes in progress until every connection was tried. */
void wsr_open_more(wsr_load_t *L)
{
    wsr_conn_t *conns = L->conns;

    while (L->next_conn < L->opt.connections && L->nconnecting < L->opt.connect_window)
        (void)conn_open(L, &conns[L->next_conn++]);
}

/* --- requests and replies ----------------------------------------------------- */

static size_t u64_to_text(char *dst, uint64_t v)
{
    char tmp[24];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        dst[i] = tmp[n - 1 - i];
    return n;
}

/* XORs a frame's payload with its masking key, eight bytes at a time. */
static void mask_payload(unsigned char *p, size_t n, const unsigned char key[4])
{
    uint64_t k8, w;
    size_t i = 0;

    memcpy(&k8, key, 4);
    memcpy((unsigned char *)&k8 + 4, key, 4);
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        w ^= k8;
        memcpy(p + i, &w, 8);
    }
    for (; i < n; i++)
        p[i] ^= key[i & 3];
}

/* Appends the header of one unfragmented masked frame of n bytes and returns
 * where its payload goes; the caller writes it there and calls frame_end(). */
static unsigned char *frame_begin(wsr_load_t *L, wsr_conn_t *c, unsigned opcode, size_t n)
{
    unsigned char *dst;
    uint32_t key = rnd32(L);
    size_t h = 2;

    if (wsr_buf_reserve(&c->out, 14 + n) != 0)
        return NULL;
    dst = (unsigned char *)c->out.p + c->out.len;
    dst[0] = (unsigned char)(0x80u | opcode);
    if (n < 126) {
        dst[1] = (unsigned char)(0x80u | n);
    } else if (n <= 0xffff) {
        dst[1] = 0x80u | 126u;
        dst[2] = (unsigned char)(n >> 8);
        dst[3] = (unsigned char)n;
        h = 4;
    } else {
        dst[1] = 0x80u | 127u;
        for (int i = 0; i < 8; i++)
            dst[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
        h = 10;
    }
    memcpy(dst + h, &key, 4);
    return dst + h + 4;
}

static void frame_end(wsr_conn_t *c, unsigned char *payload, size_t n)
{
    mask_payload(payload, n, payload - 4);
    c->out.len = (size_t)((char *)payload + n - c->out.p);
}

/* Queues one request, built from the template straight into the output buffer. */
int wsr_conn_send_request(wsr_load_t *L, wsr_conn_t *c)
{
    const wsr_tpl_t *t = &L->tpl;
    uint64_t id = L->next_id++;
    int64_t x = (int64_t)((id * 2654435761u) % 1000000007u);
    char xs[24], is[24];
    size_t xn = u64_to_text(xs, (uint64_t)x), in = u64_to_text(is, id);
    size_t n = t->fixed + t->nx * xn + t->ni * in + t->ns * L->payload_len;
    unsigned char *payload, *p;

    if (L->opt.raw) /* one NDJSON line: the text and '\n' */
        payload =
            wsr_buf_reserve(&c->out, n + 1) == 0 ? (unsigned char *)c->out.p + c->out.len : NULL;
    else
        payload = frame_begin(L, c, 0x1, n);
    if (payload == NULL)
        return -1;
    p = payload;
    for (unsigned s = 0; s < t->nsegs; s++) {
        const wsr_seg_t *g = &t->segs[s];

        const char *src = g->text;
        size_t len = g->len;

        if (g->hole == 'x')
            src = xs, len = xn;
        else if (g->hole == 'i')
            src = is, len = in;
        else if (g->hole == 's')
            src = L->payload, len = L->payload_len;
        memcpy(p, src, len);
        p += len;
    }
    if (L->opt.raw) {
        *p = '\n';
        c->out.len += n + 1;
    } else {
        frame_end(c, payload, n);
    }
    c->fl[c->nfl++] = (wsr_inflight_t){.id = id, .x = x, .t0 = wsr_now_ns()};
    L->inflight++;
    L->sent++;
    return 0;
}

static bool sending(const wsr_load_t *L)
{
    return L->phase == PH_WARMUP || L->phase == PH_MEASURE;
}

/* Tops a connection up to P requests in flight while the load runs. */
void wsr_conn_fill(wsr_load_t *L, wsr_conn_t *c)
{
    while (sending(L) && c->st == CS_OPEN && c->nfl < L->opt.pipeline) {
        if (wsr_conn_send_request(L, c) != 0) {
            wsr_conn_close(L, c, &L->err.closed, "out of memory");
            return;
        }
    }
}

/* Checks one reply against the requests in flight on its connection. */
static void on_message(wsr_load_t *L, wsr_conn_t *c, const char *p, size_t n, uint64_t t)
{
    wsr_reply_t r;
    unsigned k;

    if (wsr_reply_parse(p, n, &r) != 0 || !r.has_id) {
        L->err.bad_json++;
        return;
    }
    for (k = 0; k < c->nfl && c->fl[k].id != r.id; k++)
        ;
    if (k == c->nfl) {
        L->err.bad_id++;
        return;
    }
    if (!r.has_status || r.status != 200)
        L->err.bad_status++;
    else if (!wsr_reply_data_ok(L, &r, c->fl[k].x))
        L->err.bad_result++;
    else if (L->phase == PH_MEASURE) {
        L->window_done++;
        c->done++;
        if (t > c->fl[k].t0 && wsr_lat_record(L, t - c->fl[k].t0) != 0)
            L->lat_dropped++;
    } else if (L->phase == PH_CHECK) {
        L->checked++;
    }
    L->answered++;
    /* Replies usually come in order: k is 0 and the shift is short. */
    memmove(&c->fl[k], &c->fl[k + 1], (c->nfl - k - 1) * sizeof(*c->fl));
    c->nfl--;
    L->inflight--;
}

static int control_frame(wsr_load_t *L, wsr_conn_t *c, unsigned op, const char *p, size_t n)
{
    unsigned char *dst;

    if (op == 0x8) { /* counted once, as a close; on_frames stops here */
        wsr_conn_close(L, c, &L->err.closed, "the server closed the connection");
        return 0;
    }
    if (op == 0x9) { /* ping: answer pong with the same payload */
        dst = frame_begin(L, c, 0xA, n);
        if (dst == NULL)
            return -1;
        memcpy(dst, p, n);
        frame_end(c, dst, n);
    }
    return 0;
}

/* One complete frame: control, text, or a piece of a fragmented text message. */
static int on_frame(wsr_load_t *L, wsr_conn_t *c, unsigned b0, const char *p, size_t n, uint64_t t)
{
    unsigned op = b0 & 0x0f;
    bool fin = (b0 & 0x80) != 0;

    if (op >= 0x8)
        return fin && n <= 125 ? control_frame(L, c, op, p, n) : -1;
    if ((op == 0x1 && c->in_message) || (op == 0x0 && !c->in_message) || op > 0x1)
        return -1; /* binary, or a broken fragment sequence */
    if (fin && op == 0x1) {
        on_message(L, c, p, n, t);
        return 0;
    }
    if (c->msg.len + n > MAX_MESSAGE || wsr_buf_reserve(&c->msg, n) != 0)
        return -1;
    memcpy(c->msg.p + c->msg.len, p, n);
    c->msg.len += n;
    c->in_message = !fin;
    if (fin) {
        on_message(L, c, c->msg.p, c->msg.len, t);
        c->msg.len = 0;
    }
    return 0;
}

/* Frame header at p (n bytes available): *hlen and *plen, 0 when incomplete, -1 when bad. */
static int frame_header(const unsigned char *p, size_t n, size_t *hlen, uint64_t *plen)
{
    uint64_t len;
    size_t h = 2;

    if (n < 2)
        return 0;
    if ((p[0] & 0x70) != 0 || (p[1] & 0x80) != 0)
        return -1; /* no extension was negotiated, and servers never mask */
    len = p[1] & 0x7f;
    if (len == 126)
        h = 4;
    else if (len == 127)
        h = 10;
    if (n < h)
        return 0;
    if (h == 4) {
        len = (uint64_t)p[2] << 8 | p[3];
    } else if (h == 10) {
        len = 0;
        for (size_t i = 2; i < 10; i++)
            len = len << 8 | p[i];
    }
    if (len > MAX_MESSAGE)
        return -1;
    *hlen = h;
    *plen = len;
    return 1;
}

/* Consumes every complete frame in the input buffer. */
static void on_frames(wsr_load_t *L, wsr_conn_t *c, uint64_t t)
{
    wsr_buf_t *b = &c->in;
    size_t h;
    uint64_t len;
    int rc;

    while (c->st == CS_OPEN) {
        const unsigned char *p = (const unsigned char *)b->p + b->off;

        rc = frame_header(p, b->len - b->off, &h, &len);
        if (rc == 0 || (rc > 0 && b->len - b->off < h + len))
            break;
        if (rc < 0 || on_frame(L, c, p[0], (const char *)p + h, (size_t)len, t) != 0) {
            L->err.bad_frame++;
            wsr_conn_close(L, c, &L->err.closed, "bad frame");
            return;
        }
        b->off += h + (size_t)len;
    }
    if (c->st == CS_OPEN && b->off == b->len)
        b->off = b->len = 0;
}

/* tcp://: consumes every complete line in the input buffer; each is a reply
 * (a '\r' before the '\n' is dropped). A line over MAX_MESSAGE is a bad frame. */
static void on_lines(wsr_load_t *L, wsr_conn_t *c, uint64_t t)
{
    wsr_buf_t *b = &c->in;

    while (c->st == CS_OPEN && b->off < b->len) {
        const char *p = b->p + b->off;
        const char *nl = memchr(p, '\n', b->len - b->off);
        size_t n;

        if (nl == NULL) {
            if (b->len - b->off > MAX_MESSAGE) {
                L->err.bad_frame++;
                wsr_conn_close(L, c, &L->err.closed, "a line over the message cap");
            }
            return;
        }
        n = (size_t)(nl - p);
        b->off += n + 1;
        if (n > 0 && p[n - 1] == '\r')
            n--;
        if (n > MAX_MESSAGE) {
            L->err.bad_frame++;
            wsr_conn_close(L, c, &L->err.closed, "a line over the message cap");
            return;
        }
        on_message(L, c, p, n, t);
    }
    if (c->st == CS_OPEN && b->off == b->len)
        b->off = b->len = 0;
}

/* Reads the 101 response: the upgrade succeeded when its accept key is right. */
static void on_upgrade(wsr_load_t *L, wsr_conn_t *c, uint64_t t)
{
    wsr_buf_t *b = &c->in;
    char *end = NULL, *h;

    for (size_t i = 3; i < b->len && end == NULL; i++)
        if (memcmp(b->p + i - 3, "\r\n\r\n", 4) == 0)
            end = b->p + i + 1;
    if (end == NULL) {
        if (b->len > UPGRADE_MAX)
            wsr_conn_close(L, c, &L->err.connect, "upgrade response too long");
        return;
    }
    end[-1] = '\0';
    h = strstr(b->p, "\r\n");
    if (strncmp(b->p, "HTTP/1.1 101", 12) != 0 || h == NULL) {
        wsr_conn_close(L, c, &L->err.connect, "the upgrade was refused");
        return;
    }
    for (; h != NULL && strncasecmp(h + 2, "sec-websocket-accept:", 21) != 0;
         h = strstr(h + 2, "\r\n"))
        ;
    if (h != NULL) {
        h += 2 + 21;
        h += strspn(h, " \t");
    }
    if (h == NULL || strncmp(h, c->accept, 28) != 0 || (h[28] != '\r' && h[28] != '\0')) {
        wsr_conn_close(L, c, &L->err.connect, "wrong Sec-WebSocket-Accept");
        return;
    }
    b->off = (size_t)(end - b->p);
    conn_opened(L, c);
    on_frames(L, c, t); /* a server may speak first */
}

static void on_readable(wsr_load_t *L, wsr_conn_t *c)
{
    /* A few reads per wake-up keep one busy connection from starving the
     * others; what TLS has already decrypted must be read now, though, as
     * epoll cannot see it. */
    for (int i = 0; (i < READS_PER_WAKE || (c->ssl != NULL && SSL_pending(c->ssl) > 0)) &&
                    (c->st == CS_UPGRADE || c->st == CS_OPEN);
         i++) {
        long n;

        if (wsr_buf_reserve(&c->in, READ_CHUNK) != 0) {
            wsr_conn_close(L, c, &L->err.closed, "out of memory");
            return;
        }
        n = io_read(c, c->in.p + c->in.len, c->in.cap - c->in.len);
        if (n == IO_AGAIN)
            break;
        if (n <= 0) {
            wsr_conn_close(L, c, c->st == CS_OPEN ? &L->err.closed : &L->err.connect,
                           n == 0 ? "the server closed the connection" : "read failed");
            return;
        }
        c->in.len += (size_t)n;
        if (c->st == CS_UPGRADE)
            on_upgrade(L, c, wsr_now_ns());
        else if (L->opt.raw)
            on_lines(L, c, wsr_now_ns());
        else
            on_frames(L, c, wsr_now_ns());
    }
    wsr_conn_fill(L, c);
}

void wsr_conn_event(wsr_load_t *L, wsr_conn_t *c, uint32_t events)
{
    if (c->st == CS_CONNECTING) {
        if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
            on_connected(L, c);
        return;
    }
    if (c->st == CS_TLS) {
        tls_step(L, c);
        return;
    }
    if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(L, c);
    if (c->st == CS_UPGRADE || c->st == CS_OPEN)
        wsr_conn_flush(L, c);
}
