/* SPDX-License-Identifier: MIT */
/*
 * wsr-load: the load generator of wsrouter's benchmark (GitHub issue 8). One
 * thread, one epoll loop and a hand-written RFC 6455 client (the upgrade
 * handshake, masked unfragmented text frames out, any frames in; OpenSSL for
 * wss://) keep N connections busy with P requests in flight each, first for a
 * warm-up and then for a measured interval. It checks every reply: its id must
 * be one in flight on that connection, its status 200, its data x + y for
 * `add` or the very payload sent for `echo`; each failure is counted, never
 * retried. It records every latency, and samples the server's CPU time and RSS
 * from /proc/<pid> at both edges of the measured interval. --idle only opens N
 * connections and holds them, to measure memory per connection. It owns its
 * sockets and nothing else; it talks to loopback addresses only.
 */
#include "wsr-load.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_EVENTS    256
#define IDLE_CHECK_NS (20 * NS_PER_S)

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

uint64_t wsr_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* --- phases ------------------------------------------------------------------------- */

static void start_phase(wsr_load_t *L, wsr_phase_t phase, uint64_t now, double secs)
{
    L->phase = phase;
    L->phase_end = now + (uint64_t)(secs * (double)NS_PER_S);
}

/* Puts load on every open connection: P requests each, or one in PH_CHECK. */
static void load_all(wsr_load_t *L)
{
    wsr_conn_t *conns = L->conns;

    for (unsigned i = 0; i < L->opt.connections; i++) {
        wsr_conn_t *c = &conns[i];

        if (c->st != CS_OPEN)
            continue;
        if (L->phase == PH_CHECK && wsr_conn_send_request(L, c) != 0)
            wsr_conn_close(L, c, &L->err.closed, "out of memory");
        wsr_conn_fill(L, c);
        if (c->st == CS_OPEN)
            wsr_conn_flush(L, c);
    }
}

/* The server, then the machine, as close together as we can. */
static void sample(wsr_load_t *L, wsr_proc_t *s, wsr_host_t *h)
{
    if (L->opt.pid > 0)
        wsr_proc_sample(L->opt.pid, s);
    wsr_host_sample(h);
}

static void advance(wsr_load_t *L, uint64_t now)
{
    switch (L->phase) {
    case PH_CONNECT:
        if (L->nconnecting > 0 || L->next_conn < L->opt.connections)
            break;
        L->opened = L->nopen;
        if (L->nopen == 0)
            L->phase = PH_DONE;
        else if (L->opt.idle)
            start_phase(L, PH_HOLD, now, L->opt.hold);
        else {
            start_phase(L, PH_WARMUP, now, L->opt.warmup);
            load_all(L);
        }
        break;
    case PH_WARMUP:
        if (now < L->phase_end)
            break;
        sample(L, &L->before, &L->host_before);
        L->t_start = wsr_now_ns();
        start_phase(L, PH_MEASURE, L->t_start, L->opt.duration);
        break;
    case PH_MEASURE:
        if (now < L->phase_end)
            break;
        L->t_end = wsr_now_ns();
        sample(L, &L->after, &L->host_after);
        start_phase(L, PH_DRAIN, now, L->opt.drain);
        break;
    case PH_HOLD:
        if (now < L->phase_end)
            break;
        sample(L, &L->after, &L->host_after);
        start_phase(L, PH_CHECK, now, (double)IDLE_CHECK_NS / (double)NS_PER_S);
        load_all(L);
        break;
    case PH_DRAIN:
    case PH_CHECK:
        if (L->inflight > 0 && now < L->phase_end)
            break;
        L->err.lost += L->inflight; /* never answered */
        L->phase = PH_DONE;
        break;
    case PH_DONE:
        break;
    }
}

/* The event loop, until the last phase ends. -1: interrupted or timed out. */
static int run(wsr_load_t *L)
{
    struct epoll_event ev[MAX_EVENTS];
    uint64_t deadline = wsr_now_ns() + (uint64_t)(L->opt.timeout * (double)NS_PER_S);
    wsr_conn_t *conns = L->conns;

    if (L->opt.idle)
        sample(L, &L->before, &L->host_before);
    wsr_open_more(L);
    for (;;) {
        uint64_t now = wsr_now_ns();
        int n, wait_ms = 10;

        if (L->phase == PH_CONNECT)
            wsr_open_more(L); /* failed connects free their place in the window */
        advance(L, now);
        if (L->phase == PH_DONE)
            return 0;
        if (interrupted || now > deadline) {
            fprintf(stderr,
                    "wsr-load: %s in phase %d (%u open, %u connecting, %" PRIu64 " in flight)\n",
                    interrupted ? "interrupted" : "timed out", (int)L->phase, L->nopen,
                    L->nconnecting, L->inflight);
            L->err.lost += L->inflight;
            return -1;
        }
        if (L->phase != PH_CONNECT && L->phase_end > now && L->phase_end - now < 10000000)
            wait_ms = (int)((L->phase_end - now) / 1000000) + 1;
        n = epoll_wait(L->ep, ev, MAX_EVENTS, wait_ms);
        if (n < 0 && errno != EINTR) {
            perror("wsr-load: epoll_wait");
            return -1;
        }
        for (int i = 0; i < n; i++)
            wsr_conn_event(L, &conns[ev[i].data.u32], ev[i].events);
    }
}

/* --- setup ------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: wsr-load [options] ws://127.0.0.1:PORT/ | wss://localhost:PORT/ |\n"
          "                          tcp://127.0.0.1:PORT/ (wsrouterd's raw port: NDJSON lines)\n"
          "  -c, --connections N      connections (default 1)\n"
          "  -p, --pipeline N         requests in flight per connection (default 1)\n"
          "  -d, --duration SEC       measured interval (default 5)\n"
          "  -w, --warmup SEC         warm-up before it (default 1)\n"
          "  -m, --mode add|echo      what the replies must hold (default add)\n"
          "  -t, --template TEXT      request; %x the operand, %i the id (once), %s the\n"
          "                           payload, %% a percent sign. add: data must be x + Y;\n"
          "                           echo: data must be the payload\n"
          "  -y, --y Y                add's second operand (default 2)\n"
          "  -s, --payload BYTES      payload size for %s (default 65536)\n"
          "  -i, --idle               open N connections, hold them, sample RSS; then\n"
          "                           one request on each to check they are alive\n"
          "      --hold SEC           idle: how long to hold once all are open (default 1)\n"
          "      --drain SEC          how long to wait for the last replies (default 5)\n"
          "      --pid PID            the server: CPU and RSS from /proc/PID\n"
          "      --ca FILE            CA to verify wss:// with (required for wss)\n"
          "      --connect-window N   handshakes in progress at once (default 200)\n"
          "      --timeout SEC        give up after (default: the phases + 60)\n"
          "      --json               print the result as one JSON object\n"
          "  -v, --verbose            say why connections fail\n"
          "Exit: 0 done, 3 done with errors, 2 interrupted or timed out, 1 bad usage.\n",
          f);
}

static int parse_url(wsr_opts_t *o)
{
    const char *u = o->url, *hp, *colon, *slash;
    char *end;
    unsigned long port;
    size_t hlen;

    o->tls = strncmp(u, "wss://", 6) == 0;
    o->raw = strncmp(u, "tcp://", 6) == 0;
    if (!o->tls && !o->raw && strncmp(u, "ws://", 5) != 0)
        return -1;
    hp = u + (o->tls || o->raw ? 6 : 5);
    slash = strchr(hp, '/');
    if (slash == NULL)
        slash = hp + strlen(hp);
    colon = memchr(hp, ':', (size_t)(slash - hp));
    if (colon == NULL)
        return -1;
    hlen = (size_t)(colon - hp);
    port = strtoul(colon + 1, &end, 10);
    if (hlen == 0 || end != slash || port == 0 || port > 65535)
        return -1;
    o->host = strndup(hp, hlen);
    o->path = strdup(*slash ? slash : "/");
    o->port = (uint16_t)port;
    return o->host && o->path ? 0 : -1;
}

static int number(const char *s, double min, double max, double *out)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end != '\0' || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

static int parse_option(wsr_opts_t *o, int ch, const char *arg)
{
    double v = 0;
    int rc = 0;

    switch (ch) {
    case 'c':
        rc = number(arg, 1, 1000000, &v), o->connections = (unsigned)v;
        break;
    case 'p':
        rc = number(arg, 1, 4096, &v), o->pipeline = (unsigned)v;
        break;
    case 'd':
        rc = number(arg, 0.01, 3600, &o->duration);
        break;
    case 'w':
        rc = number(arg, 0, 3600, &o->warmup);
        break;
    case 'm':
        rc = strcmp(arg, "add") == 0 ? 0 : strcmp(arg, "echo") == 0 ? 0 : -1;
        o->mode = strcmp(arg, "echo") == 0 ? WSR_MODE_ECHO : WSR_MODE_ADD;
        break;
    case 't':
        o->template = arg;
        break;
    case 'y':
        rc = number(arg, -1e15, 1e15, &v), o->y = (int64_t)v;
        break;
    case 's':
        rc = number(arg, 0, 64 * 1024 * 1024, &v), o->payload = (size_t)v;
        break;
    case 'i':
        o->idle = true;
        break;
    case 'H':
        rc = number(arg, 0, 3600, &o->hold);
        break;
    case 'D':
        rc = number(arg, 0, 3600, &o->drain);
        break;
    case 'P':
        rc = number(arg, 1, 4194304, &v), o->pid = (pid_t)v;
        break;
    case 'C':
        o->ca = arg;
        break;
    case 'W':
        rc = number(arg, 1, 100000, &v), o->connect_window = (unsigned)v;
        break;
    case 'T':
        rc = number(arg, 1, 86400, &o->timeout);
        break;
    case 'j':
        o->json = true;
        break;
    case 'v':
        o->verbose = true;
        break;
    default:
        rc = -1;
    }
    return rc;
}

static int parse_args(wsr_opts_t *o, int argc, char **argv)
{
    static const struct option longs[] = {
        {"connections", 1, NULL, 'c'},
        {"pipeline", 1, NULL, 'p'},
        {"duration", 1, NULL, 'd'},
        {"warmup", 1, NULL, 'w'},
        {"mode", 1, NULL, 'm'},
        {"template", 1, NULL, 't'},
        {"y", 1, NULL, 'y'},
        {"payload", 1, NULL, 's'},
        {"idle", 0, NULL, 'i'},
        {"hold", 1, NULL, 'H'},
        {"drain", 1, NULL, 'D'},
        {"pid", 1, NULL, 'P'},
        {"ca", 1, NULL, 'C'},
        {"connect-window", 1, NULL, 'W'},
        {"timeout", 1, NULL, 'T'},
        {"json", 0, NULL, 'j'},
        {"verbose", 0, NULL, 'v'},
        {"help", 0, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    *o = (wsr_opts_t){.connections = 1,
                      .pipeline = 1,
                      .duration = 5,
                      .warmup = 1,
                      .hold = 1,
                      .drain = 5,
                      .y = 2,
                      .payload = 65536,
                      .connect_window = 200};
    while ((ch = getopt_long(argc, argv, "c:p:d:w:m:t:y:s:iv", longs, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            exit(0);
        }
        if (parse_option(o, ch, optarg) != 0) {
            fprintf(stderr, "wsr-load: bad value for -%c\n", ch);
            return -1;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return -1;
    }
    o->url = argv[optind];
    if (o->timeout == 0)
        o->timeout = o->warmup + o->duration + o->hold + o->drain + 60;
    return 0;
}

/* Only loopback: this tool must never load somebody else's server. */
static int resolve(wsr_load_t *L)
{
    const char *h = strcmp(L->opt.host, "localhost") == 0 ? "127.0.0.1" : L->opt.host;

    if (inet_pton(AF_INET, h, &L->addr) != 1 || (ntohl(L->addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "wsr-load: %s is not a loopback IPv4 address\n", L->opt.host);
        return -1;
    }
    return 0;
}

static int setup_tls(wsr_load_t *L)
{
    if (!L->opt.tls)
        return 0;
    if (L->opt.ca == NULL) {
        fprintf(stderr, "wsr-load: wss:// needs --ca FILE\n");
        return -1;
    }
    L->tls = SSL_CTX_new(TLS_client_method());
    if (L->tls == NULL || SSL_CTX_set_min_proto_version(L->tls, TLS1_2_VERSION) != 1 ||
        SSL_CTX_load_verify_locations(L->tls, L->opt.ca, NULL) != 1) {
        fprintf(stderr, "wsr-load: cannot load the CA %s\n", L->opt.ca);
        ERR_print_errors_fp(stderr);
        return -1;
    }
    SSL_CTX_set_verify(L->tls, SSL_VERIFY_PEER, NULL);
    return 0;
}

/* Enough descriptors for every connection: the soft limit up to the hard one. */
static int raise_nofile(unsigned need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)need + 32) {
        fprintf(stderr, "wsr-load: %u connections need %u descriptors; the limit is %lu\n", need,
                need + 32, (unsigned long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

static int setup(wsr_load_t *L)
{
    static const char *const def[] = {
        "{\"cmd\":\"add\",\"args\":{\"x\":%x,\"y\":2},\"id\":%i}",
        "{\"method\":\"POST\",\"url\":\"/echo\",\"data\":\"%s\",\"id\":%i}",
    };
    struct sigaction sa = {.sa_handler = on_signal};
    wsr_conn_t *conns;

    if (parse_url(&L->opt) != 0) {
        fprintf(stderr,
                "wsr-load: bad URL %s (ws://HOST:PORT/, wss://HOST:PORT/ or tcp://HOST:PORT/)\n",
                L->opt.url);
        return -1;
    }
    if (L->opt.template == NULL)
        L->opt.template = def[L->opt.mode == WSR_MODE_ECHO];
    if (wsr_tpl_compile(&L->tpl, L->opt.template) != 0) {
        fprintf(stderr, "wsr-load: bad template (one %%i; %%x %%s %%%% only)\n");
        return -1;
    }
    if (L->opt.raw && strchr(L->opt.template, '\n') != NULL) {
        fprintf(stderr, "wsr-load: on tcp:// a request is one line: no newline in the template\n");
        return -1;
    }
    if (resolve(L) != 0 || setup_tls(L) != 0 || raise_nofile(L->opt.connections) != 0)
        return -1;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (getrandom(&L->rng, sizeof(L->rng), 0) != (ssize_t)sizeof(L->rng) || L->rng == 0)
        L->rng = wsr_now_ns() | 1;
    L->next_id = 1;
    L->payload_len = L->tpl.ns ? L->opt.payload : 0;
    L->payload = malloc(L->payload_len + 1);
    L->conns = conns = calloc(L->opt.connections, sizeof(wsr_conn_t));
    L->ep = epoll_create1(EPOLL_CLOEXEC);
    if (L->payload == NULL || conns == NULL || L->ep < 0)
        return -1;
    for (size_t i = 0; i < L->payload_len; i++)
        L->payload[i] = (char)('a' + i % 26); /* nothing a JSON string must escape */
    for (unsigned i = 0; i < L->opt.connections; i++) {
        conns[i].fd = -1;
        conns[i].st = CS_DEAD;
        conns[i].fl = calloc(L->opt.pipeline, sizeof(wsr_inflight_t));
        if (conns[i].fl == NULL)
            return -1;
    }
    return 0;
}

static void teardown(wsr_load_t *L)
{
    wsr_conn_t *conns = L->conns;

    for (unsigned i = 0; conns != NULL && i < L->opt.connections; i++) {
        wsr_conn_close(L, &conns[i], NULL, NULL);
        free(conns[i].fl);
    }
    free(conns);
    if (L->ep >= 0)
        close(L->ep);
    SSL_CTX_free(L->tls);
    free(L->payload);
    free(L->lat);
    free((char *)L->opt.host);
    free((char *)L->opt.path);
}

int main(int argc, char **argv)
{
    wsr_load_t L = {.ep = -1};
    int rc = 1;

    if (parse_args(&L.opt, argc, argv) != 0)
        return 1;
    if (setup(&L) != 0) {
        if (errno == ENOMEM)
            fprintf(stderr, "wsr-load: out of memory\n");
        goto out;
    }
    L.phase = PH_CONNECT;
    rc = run(&L) != 0 ? 2 : 0;
    if (L.opened == 0 && rc == 0) {
        fprintf(stderr, "wsr-load: no connection could be opened to %s\n", L.opt.url);
        rc = 2;
    }
    if (L.lat_dropped > 0)
        fprintf(stderr, "wsr-load: %" PRIu64 " latencies past the cap were not recorded\n",
                L.lat_dropped);
    wsr_report(&L);
    if (rc == 0 && wsr_errors_total(&L.err) > 0)
        rc = 3;
out:
    teardown(&L);
    return rc;
}
