/* SPDX-License-Identifier: MIT */
/*
 * wsr-load's shared state: the options, the request template, the counters and
 * the load generator itself, split between wsr-load.c (the event loop, the
 * connections and the WebSocket client) and wsr-load-check.c (templates, reply
 * checks, /proc sampling and the report). Nothing here is used outside
 * tests/bench.
 */
#ifndef WSR_TESTS_BENCH_WSR_LOAD_H
#define WSR_TESTS_BENCH_WSR_LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <openssl/ssl.h>

#define NS_PER_S          1000000000ull
#define MAX_SEGS          32
#define WSR_MAX_LATENCIES (64u * 1024 * 1024) /* cap of recorded samples */

/* A byte buffer: data is p[off, len); cap bytes are allocated. */
typedef struct wsr_buf {
    char *p; /* owned */
    size_t off, len, cap;
} wsr_buf_t;

/* One piece of a template: literal text, or a hole ('x', 'i' or 's'). */
typedef struct wsr_seg {
    char hole;        /* 0: literal */
    const char *text; /* borrowed: from the template string */
    size_t len;
} wsr_seg_t;

typedef struct wsr_tpl {
    wsr_seg_t segs[MAX_SEGS];
    unsigned nsegs;
    size_t fixed;      /* bytes of literal text */
    size_t nx, ni, ns; /* how many %x, %i and %s holes */
} wsr_tpl_t;

typedef enum wsr_mode { WSR_MODE_ADD, WSR_MODE_ECHO } wsr_mode_t;

/* connect all; warm up; measure; wait for the last replies. --idle: connect
 * all; hold; one check request on each. */
typedef enum wsr_phase {
    PH_CONNECT,
    PH_WARMUP,
    PH_MEASURE,
    PH_DRAIN,
    PH_HOLD,
    PH_CHECK,
    PH_DONE
} wsr_phase_t;

typedef struct wsr_opts {
    const char *url;  /* borrowed: argv */
    const char *host; /* owned */
    const char *path; /* owned */
    uint16_t port;
    bool tls, idle, json, verbose;
    bool raw; /* tcp://: wsrouterd's raw TCP port, NDJSON lines instead of frames */
    unsigned connections, pipeline, connect_window;
    double duration, warmup, hold, drain, timeout;
    const char *template; /* borrowed: argv or a literal */
    const char *ca;       /* borrowed: argv */
    wsr_mode_t mode;
    int64_t y;
    size_t payload;
    pid_t pid;
} wsr_opts_t;

/* Every way a request or a connection can fail. */
typedef struct wsr_errors {
    uint64_t connect;    /* TCP, TLS or upgrade failed */
    uint64_t closed;     /* an open connection closed or failed under us */
    uint64_t bad_frame;  /* a malformed, masked, binary or oversized frame */
    uint64_t bad_json;   /* a reply that is not a JSON object with a numeric id */
    uint64_t bad_id;     /* an id that is not in flight on that connection */
    uint64_t bad_status; /* status other than 200 */
    uint64_t bad_result; /* wrong data: not x + y, or not the payload echoed */
    uint64_t lost;       /* requests never answered */
} wsr_errors_t;

/* A sample of the server process from /proc. */
typedef struct wsr_proc {
    bool ok;
    double cpu_s; /* utime + stime */
    double sys_s; /* stime: the kernel's share */
    long rss_kib; /* VmRSS */
} wsr_proc_t;

typedef enum wsr_cstate { CS_CONNECTING, CS_TLS, CS_UPGRADE, CS_OPEN, CS_DEAD } wsr_cstate_t;

/* One request in flight: what it asked, and when. */
typedef struct wsr_inflight {
    uint64_t id;
    int64_t x;
    uint64_t t0;
} wsr_inflight_t;

typedef struct wsr_conn {
    int fd;
    SSL *ssl; /* owned; NULL on ws:// */
    wsr_cstate_t st;
    bool epollout;   /* EPOLLOUT is registered */
    bool tls_wants;  /* the last TLS call wants the socket writable */
    bool in_message; /* a fragmented message is being reassembled in msg */
    wsr_buf_t in, out, msg;
    wsr_inflight_t *fl; /* owned: P slots, oldest first */
    unsigned nfl;
    uint64_t done;   /* replies right and measured on this connection */
    char accept[32]; /* the Sec-WebSocket-Accept we expect */
} wsr_conn_t;

/* The whole machine from /proc/stat (steal included), and this process. */
typedef struct wsr_host {
    bool ok;
    double busy_s; /* non-idle time of every CPU */
    double self_s; /* our own user + system time */
} wsr_host_t;

typedef struct wsr_load {
    wsr_opts_t opt;
    wsr_tpl_t tpl;
    char *payload; /* owned: the %s text */
    size_t payload_len;
    struct in_addr addr;
    SSL_CTX *tls; /* owned; NULL on ws:// */
    int ep;
    wsr_conn_t *conns; /* owned: one per connection */
    unsigned next_conn, nconnecting, nopen;
    unsigned opened; /* connections open when the load began */
    uint64_t next_id, inflight, sent, answered, checked;
    uint64_t rng;
    wsr_phase_t phase;
    uint64_t phase_end; /* when the phase ends, in wsr_now_ns() time */
    wsr_errors_t err;
    uint32_t *lat; /* owned: measured latencies in ns, saturated */
    size_t nlat, caplat;
    uint64_t lat_max, lat_sum, lat_dropped;
    uint64_t t_start, t_end, window_done;
    wsr_proc_t before, after;
    wsr_host_t host_before, host_after;
} wsr_load_t;

/* A decoded reply, with pointers into the frame. */
typedef struct wsr_reply {
    bool has_id, has_status, has_data;
    uint64_t id;
    int64_t status;
    char data_type;   /* 'n' number, 's' string, 'o' anything else */
    const char *data; /* borrowed: the frame; inside the quotes for a string */
    size_t data_len;
} wsr_reply_t;

/* wsr-load.c */
uint64_t wsr_now_ns(void);

/* wsr-load-ws.c: the WebSocket client */
int wsr_buf_reserve(wsr_buf_t *b, size_t extra);
void wsr_open_more(wsr_load_t *L);
void wsr_conn_close(wsr_load_t *L, wsr_conn_t *c, uint64_t *err, const char *why);
void wsr_conn_event(wsr_load_t *L, wsr_conn_t *c, uint32_t events);
int wsr_conn_send_request(wsr_load_t *L, wsr_conn_t *c);
void wsr_conn_fill(wsr_load_t *L, wsr_conn_t *c);
void wsr_conn_flush(wsr_load_t *L, wsr_conn_t *c);

/* wsr-load-check.c: templates, replies, /proc, the report */

int wsr_tpl_compile(wsr_tpl_t *t, const char *text);
int wsr_reply_parse(const char *p, size_t n, wsr_reply_t *r);
bool wsr_reply_data_ok(const wsr_load_t *L, const wsr_reply_t *r, int64_t x);
void wsr_proc_sample(pid_t pid, wsr_proc_t *s);
void wsr_host_sample(wsr_host_t *h);
int wsr_lat_record(wsr_load_t *L, uint64_t ns);
void wsr_report(wsr_load_t *L);
uint64_t wsr_errors_total(const wsr_errors_t *e);

#endif
