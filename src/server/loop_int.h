/* SPDX-License-Identifier: MIT */
/*
 * Event loops, connections and deferred replies. A loop is one libwebsockets
 * context serviced by one thread; it alone touches its connections. Other
 * threads reach a connection through the loop's inbox (a locked list plus
 * lws_cancel_service, the one lws call that is safe from another thread),
 * addressing it by id: slot and generation, never a pointer (STYLE R5).
 */
#ifndef WSR_SRC_LOOP_INT_H
#define WSR_SRC_LOOP_INT_H

#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>

#include "services/auth_int.h"
#include "services/factory_int.h"

/* The shared end of a loop's inbox. Reference-counted so that a deferred
 * reply completed after its loop is gone still finds a (closed) inbox. */
typedef struct wsr__inbox {
    pthread_mutex_t lock;
    wsr__msg_t *head, *tail; /* owned */
    struct lws_context *ctx; /* borrowed; NULL once the loop stopped */
    bool closed;
    atomic_int refs;
} wsr__inbox_t;

wsr__inbox_t *wsr__inbox_new(void);
void wsr__inbox_unref(wsr__inbox_t *in);
/* Appends `m` (taken) and wakes the loop. Returns 0 or WSR_ECLOSED (freed). */
int wsr__inbox_post(wsr__inbox_t *in, wsr__msg_t *m);

typedef struct wsr__conn wsr__conn_t;
typedef struct wsr__loop wsr__loop_t;

/* A connection: lws's per-session allocation for our protocol. */
struct wsr__conn {
    struct lws *wsi;   /* borrowed: lws */
    wsr__loop_t *loop; /* borrowed */
    uint64_t id;
    int64_t connected_ms;
    wsr__buf_t rx;        /* reassembly of a fragmented message; allocated lazily */
    wsr__msg_t *out_head; /* owned: the outbound queue */
    wsr__msg_t *out_tail;
    size_t out_bytes;
    struct wsr_reply *replies; /* deferred replies in flight (loop-side links) */
    wsr__session_t *session;   /* owned ref: authenticated user, or NULL */
    char *cert_subject;        /* owned: verified client certificate subject, or NULL */
    uint16_t close_code;       /* close as soon as possible with this code */
    uint16_t drain_code;       /* close with this code once the queue and replies are done */
    uint8_t in_message;        /* a fragmented message is being reassembled */
    uint8_t rx_binary;
    uint8_t push_format; /* format of the last request, used for pushes */
    uint8_t registered;
    uint8_t close_started; /* the close handshake is under way */
    uint8_t ping_due;      /* the idle policy's ping: none, due, sent */
    int64_t last_rx_ms;    /* monotonic ms of the last frame or pong received */
    char peer[WSR__PEER_MAX];
};

/* A listening socket of a loop and the vhost it feeds. */
#define WSR__LISTENERS    2
#define WSR__LISTENER_WS  0
#define WSR__LISTENER_WSS 1
typedef struct wsr__listener {
    int fd;                  /* owned until adopted by lws, then lws's; -1 when none */
    struct lws *wsi;         /* borrowed: lws; NULL once closed */
    struct lws_vhost *vhost; /* borrowed: the loop's context */
} wsr__listener_t;

typedef struct wsr__slot {
    wsr__conn_t *conn; /* borrowed: lws owns it; NULL when free */
    uint32_t gen;
    uint32_t next_free;
} wsr__slot_t;

struct wsr__loop {
    wsr_factory_t *factory; /* borrowed */
    unsigned index;
    struct lws_context *ctx;                   /* owned */
    wsr__listener_t listeners[WSR__LISTENERS]; /* plain ws://, then wss:// */
    void *tls_ctx;                   /* borrowed: lws; the wss:// vhost's SSL_CTX, or NULL */
    void *admitted;                  /* limits token of the connection being adopted */
    struct lws *pending_wsi;         /* the handshake whose token was just verified */
    wsr__session_t *pending_session; /* owned ref: its session, until ESTABLISHED */
    lws_sorted_usec_list_t idle_sul;
    lws_sorted_usec_list_t accept_sul;
    pthread_t thread;
    bool thread_started;
    wsr__inbox_t *inbox; /* owned ref */
    wsr__stats_t *stats; /* borrowed: factory */
    wsr__slot_t *slots;  /* owned: connection registry, loop thread only */
    uint32_t nslots;     /* slots ever used */
    uint32_t slots_cap;  /* slots allocated */
    uint32_t free_head;  /* first free slot + 1, 0 when none */
    unsigned nconns;
    struct wsr_reply *pending; /* deferred replies in flight, loop thread only */
    wsr__buf_t scratch;        /* base64 work buffer, loop thread only */
    wsr__buf_t wbuf;           /* batched frames on their way out (LWS_PRE headroom) */
    lws_sorted_usec_list_t drain_sul;
    atomic_bool stop_requested; /* set by wsr_server_stop from any thread */
    pthread_t tid;              /* the thread servicing the loop, once tid_set */
    atomic_bool tid_set;
    bool draining;
    bool drain_timed_out;
    bool finished;
};

/* Deferred reply handle (response.h). */
struct wsr_reply {
    atomic_int state;    /* WSR__REPLY_PENDING or WSR__REPLY_DONE */
    atomic_int refs;     /* the completer's and the loop's */
    wsr__inbox_t *inbox; /* owned ref */
    uint64_t conn_id;
    json_t *id;         /* owned ref */
    json_t *event_name; /* owned ref */
    wsr_format_t format;
    bool head;
    int status; /* set by the completer before posting */
    size_t route_index;
    uint64_t start_ns;
    /* Loop thread only: */
    wsr__loop_t *loop; /* borrowed */
    lws_sorted_usec_list_t sul;
    struct wsr_reply *loop_prev, *loop_next;
    struct wsr_reply *conn_prev, *conn_next;
    bool on_conn;
};

enum { WSR__REPLY_PENDING = 0, WSR__REPLY_DONE = 1 };

/* reply.c */

/* Creates a pending reply for `req` on connection `c`, armed with the route's
 * timeout. Loop thread. Returns it (the completer's reference) or NULL. */
wsr_reply_t *wsr__reply_new(wsr__loop_t *loop, wsr__conn_t *c, const wsr_request_t *req);
/* Loop thread: handles a completion that arrived through the inbox. */
void wsr__reply_delivered(wsr__loop_t *loop, wsr__msg_t *m);
/* Loop thread: the connection is closing; its pending replies are cancelled. */
void wsr__reply_conn_closed(wsr__loop_t *loop, wsr__conn_t *c);
/* Loop thread: cancels every pending reply (the loop is stopping). */
void wsr__reply_cancel_all(wsr__loop_t *loop);
void wsr__reply_unref(wsr_reply_t *r);
/* Completes `reply` (taken) with what `res` holds (its contents are taken).
 * Any thread. Returns 0 or WSR_EDONE like wsr_reply_complete_take. */
int wsr__reply_complete_response(wsr_reply_t *reply, wsr_response_t *res);

/* The per-connection receive chunk lws allocates (server.c). */
#define WSR__RX_CHUNK 256
/* The most lws sends in one write (server.c). */
#define WSR__TX_CHUNK (64 * 1024)

/* protocol.c */

/* The lws callback of the wsrouter.v1 protocol, and its per-session size. */
int wsr__protocol_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                           size_t len);
extern const size_t wsr__conn_size;
/* Finds a live connection of this loop by id; NULL when gone. Loop thread. */
wsr__conn_t *wsr__loop_conn(wsr__loop_t *loop, uint64_t id);
/* Queues `m` (taken) for `c`; closes with 1008 past the outbound cap. Loop thread. */
void wsr__conn_send(wsr__conn_t *c, wsr__msg_t *m);
/* Loop thread: a connection that has nothing in flight may close now when draining. */
void wsr__conn_check_drain(wsr__conn_t *c);
/* True when the calling thread is the one servicing `loop`. Any thread. */
bool wsr__on_loop_thread(wsr__loop_t *loop);
/* Loop thread: delivers a push (taken) at once, as the inbox would.
 * Returns 0, or WSR_ENOENT when the connection is gone. */
int wsr__loop_deliver_push(wsr__loop_t *loop, wsr__msg_t *m);
/* Loop thread: a push or a note (not a deferred reply), handled at once. */
int wsr__loop_deliver_now(wsr__loop_t *loop, wsr__msg_t *m);
/* Loop thread: handles everything in the inbox. */
void wsr__loop_drain_inbox(wsr__loop_t *loop);
/* Loop thread: starts the graceful drain. */
void wsr__loop_begin_drain(wsr__loop_t *loop);

#endif /* WSR_SRC_LOOP_INT_H */
