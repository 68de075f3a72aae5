/* SPDX-License-Identifier: MIT */
/*
 * A subscriber process of the cluster scenario in C (tests/bench/cluster.mjs
 * starts a few with --subscribers c, the same ones for wsrouterd and
 * Socket.IO): what cluster-subs.mjs does, at a fraction of its CPU, so that
 * on a small machine the subscribers do not take the CPU the servers are
 * measured on. It opens COUNT WebSocket connections to each URL, one after
 * the other, and subscribes each (wsrouterd: POST /_/subscribe, answered
 * 200; Socket.IO: the Engine.IO v4 / Socket.IO v5 frames, "subscribe" with
 * an ack), then writes {"ready":N} on stdout. From then on, in one epoll
 * loop, every delivery is a count on its connection and a latency: now
 * (CLOCK_REALTIME, ms) minus the publisher's timestamp ("t" in the data).
 * Pings are answered (WebSocket pings with pongs, Engine.IO "2" with "3").
 * A line "count" on stdin answers {"delivered":N}; "report" writes the
 * latencies (float64, ms) to LATFILE and answers {delivered, latencies,
 * extra, bad, min, max, last}; it exits when its stdin closes (or on
 * SIGTERM), so that its parent still reads its CPU time after the report.
 * Any failure: {"error":"..."}, exit 1.
 *
 *   cluster-subs KIND COUNT PUBS LATFILE URL...     (KIND: wsrouter | socketio)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF       16384 /* the largest frame a subscriber takes */
#define OPEN_MS    15000
#define MAX_EVENTS 256

typedef struct conn {
    int fd;
    uint32_t got;
    size_t len;         /* bytes in buf */
    unsigned char *buf; /* RBUF bytes */
} conn_t;

static bool socketio;
static conn_t *conns;
static size_t nconns;
static double *lat;
static size_t nlat, maxlat;
static uint64_t delivered, extra, bad;
static double last;

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *p = msg; *p != '\0'; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            *p = ' ';
    printf("{\"error\":\"%s\"}\n", msg);
    fflush(stdout);
    exit(1);
}

/* Writes all of p[0, n) to the blocking or non-blocking socket fd. */
static void write_all(int fd, const void *p, size_t n)
{
    const char *s = p;

    while (n > 0) {
        ssize_t w = write(fd, s, n);

        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};

            (void)poll(&pfd, 1, 1000);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            fail("write: %s", strerror(errno));
        s += w;
        n -= (size_t)w;
    }
}

/* Sends a masked client frame (opcode op) with payload p[0, n). */
static void send_frame(int fd, int op, const void *p, size_t n)
{
    unsigned char f[16 + 4096];
    size_t h = 2;
    const unsigned char *s = p;

    if (n > 4096)
        fail("a frame of %zu bytes to send", n);
    f[0] = (unsigned char)(0x80 | op);
    if (n < 126) {
        f[1] = (unsigned char)(0x80 | n);
    } else {
        f[1] = 0x80 | 126;
        f[2] = (unsigned char)(n >> 8);
        f[3] = (unsigned char)n;
        h = 4;
    }
    memset(f + h, 0, 4); /* a zero mask: the payload goes as it is */
    h += 4;
    memcpy(f + h, s, n);
    write_all(fd, f, h + n);
}

/* Connects to ws://HOST:PORT/PATH and upgrades (blocking). Returns the socket. */
static int ws_open(const char *url)
{
    char host[64], path[256], req[512], resp[4096];
    unsigned port;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int fd, one = 1, n;
    size_t got = 0;

    if (sscanf(url, "ws://%63[^:]:%u%255s", host, &port, path) < 2)
        fail("%s: not a ws://HOST:PORT/ URL", url);
    if (strchr(url + 5, '/') == NULL)
        snprintf(path, sizeof(path), "/");
    if (socketio)
        snprintf(path + strlen(path), sizeof(path) - strlen(path),
                 "socket.io/?EIO=4&transport=websocket");
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        fail("%s: the host must be an IPv4 address", url);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        fail("%s: connect: %s", url, strerror(errno));
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    n = snprintf(req, sizeof(req),
                 "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                 path, host, port);
    write_all(fd, req, (size_t)n);
    /* Byte by byte up to the blank line: nothing of the first frame is read. */
    while (got < sizeof(resp) - 1) {
        ssize_t r = read(fd, resp + got, 1);

        if (r <= 0)
            fail("%s: closed during the upgrade", url);
        got++;
        if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    resp[got] = '\0';
    if (strncmp(resp, "HTTP/1.1 101", 12) != 0)
        fail("%s: upgrade answered %.40s", url, resp);
    return fd;
}

/* Reads one whole text message (blocking, answering pings) into out. */
static size_t read_message(int fd, char *out, size_t cap)
{
    for (;;) {
        unsigned char h[14];
        size_t n, need;
        int op;

        if (read(fd, h, 2) != 2)
            fail("closed while subscribing");
        op = h[0] & 0x0f;
        n = h[1] & 0x7f;
        need = n == 126 ? 2 : n == 127 ? 8 : 0;
        if (need && read(fd, h + 2, need) != (ssize_t)need)
            fail("closed while subscribing");
        if (n == 126)
            n = (size_t)h[2] << 8 | h[3];
        else if (n == 127)
            fail("a 64-bit frame while subscribing");
        if (n >= cap)
            fail("a message of %zu bytes while subscribing", n);
        for (size_t got = 0; got < n;) {
            ssize_t r = read(fd, out + got, n - got);

            if (r <= 0)
                fail("closed while subscribing");
            got += (size_t)r;
        }
        out[n] = '\0';
        if (op == 0x9) {
            send_frame(fd, 0xA, out, n);
            continue;
        }
        if (op == 0x8)
            fail("closed %u while subscribing",
                 n >= 2 ? (unsigned)(out[0] & 0xff) << 8 | (out[1] & 0xff) : 0);
        if (op == 0x1)
            return n;
    }
}

static void subscribe(int fd)
{
    char m[8192];
    static const char sub[] =
        "{\"method\":\"POST\",\"url\":\"/_/subscribe\",\"args\":{\"topic\":\"bench\"},\"id\":1}";

    if (!socketio) {
        send_frame(fd, 0x1, sub, sizeof(sub) - 1);
        for (;;) {
            read_message(fd, m, sizeof(m));
            if (strstr(m, "\"event_name\":\"publish\"") != NULL)
                continue; /* a publication before the answer: none in this scenario */
            if (strstr(m, "\"status\":200") == NULL)
                fail("subscribe answered %.200s", m);
            return;
        }
    }
    /* Engine.IO "0{open}", Socket.IO "40" connect, "40{sid}", the event with ack id 1. */
    for (;;) {
        read_message(fd, m, sizeof(m));
        if (strcmp(m, "2") == 0) {
            send_frame(fd, 0x1, "3", 1);
        } else if (strncmp(m, "431", 3) == 0) {
            if (strstr(m, "\"ok\":true") == NULL)
                fail("subscribe answered %.200s", m);
            return;
        } else if (strncmp(m, "40", 2) == 0) {
            static const char ev[] = "421[\"subscribe\",\"bench\"]";

            send_frame(fd, 0x1, ev, sizeof(ev) - 1);
        } else if (strncmp(m, "44", 2) == 0) {
            fail("connect refused: %.200s", m);
        } else if (m[0] == '0') {
            send_frame(fd, 0x1, "40", 2);
        }
    }
}

/* One text message of connection c after the subscription. */
static void on_text(conn_t *c, const char *p, size_t n)
{
    const char *t;
    char num[64];
    size_t k = 0;
    double sent;

    if (socketio) {
        if (n == 1 && p[0] == '2') {
            send_frame(c->fd, 0x1, "3", 1);
            return;
        }
        if (n < 2 || p[0] != '4' || p[1] != '2')
            return;
    }
    t = memmem(p, n, "\"t\":", 4);
    if (t == NULL) {
        bad++;
        return;
    }
    t += 4;
    while (t < p + n && k < sizeof(num) - 1 && strchr("0123456789.eE+-", *t) != NULL)
        num[k++] = *t++;
    num[k] = '\0';
    sent = strtod(num, NULL);
    if (k == 0) {
        bad++;
        return;
    }
    last = now_ms();
    delivered++;
    c->got++;
    if (nlat < maxlat)
        lat[nlat++] = last - sent;
    else
        extra++;
}

/* Takes the whole frames at the front of c->buf. */
static void on_readable(conn_t *c)
{
    for (;;) {
        ssize_t r = read(c->fd, c->buf + c->len, RBUF - c->len);
        size_t off = 0;

        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0)
            fail("a subscriber's connection closed (%s)", r == 0 ? "EOF" : strerror(errno));
        c->len += (size_t)r;
        for (;;) {
            unsigned char *h = c->buf + off;
            size_t avail = c->len - off, hl = 2, n;
            int op;

            if (avail < 2)
                break;
            n = h[1] & 0x7f;
            if (n == 126)
                hl = 4;
            else if (n == 127)
                hl = 10;
            if (avail < hl)
                break;
            if (n == 126)
                n = (size_t)h[2] << 8 | h[3];
            else if (n == 127)
                fail("a frame of 64 KiB or more");
            if (hl + n > RBUF)
                fail("a frame of %zu bytes", n);
            if (avail < hl + n)
                break;
            op = h[0] & 0x0f;
            if ((h[0] & 0x80) == 0 || op == 0)
                fail("a fragmented message (not expected of either server here)");
            if (op == 0x1)
                on_text(c, (const char *)h + hl, n);
            else if (op == 0x9)
                send_frame(c->fd, 0xA, h + hl, n);
            else if (op == 0x8)
                fail("a subscriber's connection was closed by the server");
            off += hl + n;
        }
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
}

static void report(const char *latfile)
{
    FILE *f = fopen(latfile, "wb");
    uint32_t min = UINT32_MAX, max = 0;

    if (f == NULL || fwrite(lat, sizeof(double), nlat, f) != nlat || fclose(f) != 0)
        fail("cannot write %s", latfile);
    for (size_t i = 0; i < nconns; i++) {
        min = conns[i].got < min ? conns[i].got : min;
        max = conns[i].got > max ? conns[i].got : max;
    }
    printf("{\"delivered\":%llu,\"latencies\":%zu,\"extra\":%llu,\"bad\":%llu,\"min\":%u,"
           "\"max\":%u,\"last\":%.3f}\n",
           (unsigned long long)delivered, nlat, (unsigned long long)extra, (unsigned long long)bad,
           nconns ? min : 0, max, last);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    long count, pubs;
    int ep;
    struct epoll_event ev, evs[MAX_EVENTS];
    char line[64];
    size_t linelen = 0;

    if (argc < 6 || (strcmp(argv[1], "wsrouter") != 0 && strcmp(argv[1], "socketio") != 0) ||
        (count = strtol(argv[2], NULL, 10)) <= 0 || (pubs = strtol(argv[3], NULL, 10)) <= 0) {
        fprintf(stderr, "usage: cluster-subs wsrouter|socketio COUNT PUBS LATFILE URL...\n");
        return 2;
    }
    socketio = strcmp(argv[1], "socketio") == 0;
    nconns = (size_t)count * (size_t)(argc - 5);
    maxlat = nconns * (size_t)pubs;
    conns = calloc(nconns, sizeof(*conns));
    lat = malloc(maxlat * sizeof(double));
    ep = epoll_create1(0);
    if (conns == NULL || lat == NULL || ep < 0)
        fail("out of memory");
    {
        double deadline = now_ms() + OPEN_MS;
        size_t i = 0;

        for (int u = 5; u < argc; u++) {
            for (long k = 0; k < count; k++, i++) {
                conns[i].fd = ws_open(argv[u]);
                subscribe(conns[i].fd);
                if (now_ms() > deadline)
                    fail("%s: not all subscribed within 15 s", argv[u]);
            }
        }
    }
    for (size_t i = 0; i < nconns; i++) {
        conns[i].buf = malloc(RBUF);
        if (conns[i].buf == NULL || fcntl(conns[i].fd, F_SETFL, O_NONBLOCK) != 0)
            fail("out of memory");
        ev.events = EPOLLIN;
        ev.data.ptr = &conns[i];
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev) != 0)
            fail("epoll_ctl: %s", strerror(errno));
    }
    ev.events = EPOLLIN;
    ev.data.ptr = NULL; /* stdin: the parent's commands */
    if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) != 0)
        fail("epoll_ctl on stdin: %s", strerror(errno));
    printf("{\"ready\":%zu}\n", nconns);
    fflush(stdout);
    for (;;) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, -1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            fail("epoll_wait: %s", strerror(errno));
        for (int k = 0; k < n; k++) {
            conn_t *c = evs[k].data.ptr;
            ssize_t r;

            if (c != NULL) {
                on_readable(c);
                continue;
            }
            r = read(0, line + linelen, sizeof(line) - 1 - linelen);
            if (r <= 0)
                exit(0); /* the parent is gone */
            linelen += (size_t)r;
            line[linelen] = '\0';
            for (char *nl; (nl = strchr(line, '\n')) != NULL;) {
                *nl = '\0';
                if (strcmp(line, "count") == 0) {
                    printf("{\"delivered\":%llu}\n", (unsigned long long)delivered);
                    fflush(stdout);
                } else if (strcmp(line, "report") == 0) {
                    report(argv[4]);
                }
                linelen -= (size_t)(nl + 1 - line);
                memmove(line, nl + 1, linelen + 1);
            }
            if (linelen >= sizeof(line) - 1)
                linelen = 0; /* a line too long: not a command */
        }
    }
}
