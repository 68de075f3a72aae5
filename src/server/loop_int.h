/* SPDX-License-Identifier: MIT */
/*
 * Event loops. A loop is one libwebsockets context serviced by one thread; it
 * alone touches its connections, which it registers by slot and generation
 * so that other threads can address them by id (STYLE R5) through its inbox.
 * A loop owns its context, its registry and its inbox reference; the server
 * owns the loops.
 */
#ifndef WSR_SERVER_LOOP_INT_H
#define WSR_SERVER_LOOP_INT_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/stats_int.h"
#include "server/addr_int.h"
#include "server/inbox_int.h"
#include "services/factory_int.h"

struct wsr__conn;
struct wsr__limits;
struct wsr__proxies;
struct wsr__workers;

/* Connection ids, from the top bit: generation's high 11 bits | node (9
 * bits, 0 on the memory engine; engine_int.h) | generation's low 12 bits |
 * loop (8 bits) | slot (24 bits). Unique across a cluster, since each node
 * has its own id, and below 2^53 (exact in JavaScript) until a slot has
 * been reused 4096 times. */
#define WSR__ID_LOOP(id) ((unsigned)(((id) >> 24) & 0xffu))
#define WSR__ID_SLOT(id) ((uint32_t)((id)&0xffffffu))
#define WSR__ID_GEN(id)  ((uint32_t)((((id) >> 32) & 0xfffu) | (((id) >> 53) << 12)))
#define WSR__ID_GEN_MASK 0x7fffffu
#define WSR__ID_MAKE(node, gen, loop, slot)                                                        \
    ((uint64_t)((gen) >> 12) << 53 | (uint64_t)(node) << 44 | (uint64_t)((gen)&0xfffu) << 32 |     \
     (uint64_t)(loop) << 24 | (uint64_t)(slot))
#define WSR__MAX_LOOPS 256

/* The size of each loop's service buffer (pt_serv_buf_size, server.c): the
 * most lws reads from a socket at a time, raw (less LWS_PRE) or WebSocket
 * (rx_buffer_size, conn_int.h). One per loop, not per connection. */
#define WSR__SERV_BUF (16 * 1024)

/* A listening socket of a loop and the vhost it feeds. */
#define WSR__LISTENERS     5
#define WSR__LISTENER_WS   0
#define WSR__LISTENER_WSS  1
#define WSR__LISTENER_RAW  2 /* raw TCP (PROTOCOL.md section 8) */
#define WSR__LISTENER_RAWS 3 /* raw TCP over TLS */
#define WSR__LISTENER_OPS  4 /* the ops endpoints alone (ops_port), loop 0 only */
typedef struct wsr__listener {
    int fd;                  /* owned until adopted by lws, then lws's; -1 when none */
    struct lws *wsi;         /* borrowed: lws; NULL once closed */
    struct lws_vhost *vhost; /* borrowed: the loop's context */
} wsr__listener_t;

/*
 * What SIGHUP may change about handshakes and accepts: the Origin
 * allow-list and the trusted proxies, parsed. Immutable once published; the
 * server publishes a new one atomically (wsr_server_reconfigure), and keeps
 * the ones it replaced until it is freed, since a loop may still be reading
 * one (a few hundred bytes a reload).
 */
typedef struct wsr__policy {
    char **origins;               /* owned: the normalised allow-list, or NULL: no check */
    struct wsr__proxies *proxies; /* owned: trusted_proxies, or NULL: none */
    struct wsr__policy *older;    /* owned: the one this replaced, or NULL */
} wsr__policy_t;

typedef struct wsr__slot {
    struct wsr__conn *conn; /* borrowed: lws owns it; NULL when free */
    uint32_t gen;
    uint32_t next_free;
} wsr__slot_t;

typedef struct wsr__loop {
    wsr_server_t *server;   /* borrowed */
    wsr_factory_t *factory; /* borrowed: the server's */
    unsigned index;
    struct lws_context *ctx;                   /* owned */
    wsr__listener_t listeners[WSR__LISTENERS]; /* ws://, wss://, raw, raw TLS, ops */
    void *tls_ctx;                   /* borrowed: lws; the wss:// vhost's SSL_CTX, or NULL */
    void *raw_tls_ctx;               /* borrowed: lws; the raw TLS vhost's SSL_CTX, or NULL */
    struct lws *pending_wsi;         /* the handshake that just passed the filter */
    wsr__session_t *pending_session; /* owned ref: its session, until ESTABLISHED */
    wsr__addr_t pending_client;      /* the client its trusted proxy forwarded (len 0: none) */
    lws_sorted_usec_list_t idle_sul;
    lws_sorted_usec_list_t accept_sul;
    pthread_t thread;
    bool thread_started;
    wsr__inbox_t *inbox;          /* owned ref */
    wsr__msg_t *drain_rest;       /* the rest of the inbox list being handled, loop thread only */
    wsr__stats_t *stats;          /* borrowed: factory */
    struct wsr__limits *limits;   /* borrowed: the server's */
    struct wsr__ratelimit *rate;  /* borrowed: the server's request rate limits */
    struct wsr__workers *workers; /* borrowed: the server's, or NULL before start */
    struct wsr__workers *lane;    /* borrowed: the server's lane, or NULL before start */
    /* borrowed: the Redis engine's queue (serve.c), or NULL (memory engine) */
    struct wsr__workers *engine_pool;
    _Atomic(wsr__policy_t *) *policy; /* borrowed: the server's; read with wsr__loop_policy */
    wsr__slot_t *slots;               /* owned: connection registry, loop thread only */
    uint32_t nslots;                  /* slots ever used */
    uint32_t slots_cap;               /* slots allocated */
    uint32_t free_head;               /* first free slot + 1, 0 when none */
    unsigned nconns;
    struct wsr_reply *pending; /* deferred replies in flight, loop thread only */
    wsr__buf_t scratch;        /* base64 work buffer, loop thread only */
    wsr__buf_t wbuf;           /* batched frames on their way out (LWS_PRE headroom) */
    /* owned: the window the loop's inflater twins share (conn.c), or NULL */
    unsigned char *inflate_window;
    lws_sorted_usec_list_t drain_sul;
    atomic_bool stop_requested; /* set by wsr_server_stop from any thread */
    pthread_t tid;              /* the thread servicing the loop, once tid_set */
    atomic_bool tid_set;
    bool draining;
    bool drain_timed_out;
    bool finished;
} wsr__loop_t;

/* The policy in force (never NULL once the loops exist). Any thread. */
static inline const wsr__policy_t *wsr__loop_policy(const wsr__loop_t *loop)
{
    return atomic_load_explicit(loop->policy, memory_order_acquire);
}

/* Prepares `loop` (zeroed by the caller) for `server`. Returns 0 or WSR_ENOMEM. */
int wsr__loop_init(wsr__loop_t *loop, wsr_server_t *server, unsigned index, wsr__stats_t *stats);
/* Releases what the loop still holds (after wsr__loop_finish, or when it never ran). */
void wsr__loop_dispose(wsr__loop_t *loop);

/* Registers `c` and gives it its id. Loop thread. Returns 0, WSR_EOVERFLOW or WSR_ENOMEM. */
int wsr__loop_register(wsr__loop_t *loop, struct wsr__conn *c, uint64_t *id);
/* Forgets connection `id`. Loop thread. */
void wsr__loop_unregister(wsr__loop_t *loop, uint64_t id);
/* Finds a live connection of this loop by id; NULL when gone. Loop thread. */
struct wsr__conn *wsr__loop_conn(wsr__loop_t *loop, uint64_t id);

/* True when the calling thread is the one servicing `loop`. Any thread. */
bool wsr__loop_is_current(wsr__loop_t *loop);
/* Delivers `m` (taken): at once on the loop's own thread for anything but a
 * deferred reply (so a handler's push precedes its reply), else through the
 * inbox. Any thread. Returns 0, or WSR_ENOENT (the loop is gone). */
int wsr__loop_post(wsr__loop_t *loop, wsr__msg_t *m);
/* wsr__loop_post for the pushes head..tail (taken, linked by next; no
 * deferred reply among them) at once: one lock and one wake for all. */
int wsr__loop_post_list(wsr__loop_t *loop, wsr__msg_t *head, wsr__msg_t *tail);
/* Loop thread: handles everything in the inbox. */
void wsr__loop_drain_inbox(wsr__loop_t *loop);
/* Loop thread: starts the graceful drain. */
void wsr__loop_begin_drain(wsr__loop_t *loop);
/* Loop thread: a connection closed; ends the drain when it was the last. */
void wsr__loop_conn_gone(wsr__loop_t *loop);

/* Services the loop on the calling thread until its drain is over. */
void wsr__loop_service(wsr__loop_t *loop);
/* Ends the loop on its own thread: late messages are dropped, pending
 * replies cancelled, and the context (with any connection left) destroyed. */
void wsr__loop_finish(wsr__loop_t *loop);

#endif /* WSR_SERVER_LOOP_INT_H */
