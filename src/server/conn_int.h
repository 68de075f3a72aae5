/* SPDX-License-Identifier: MIT */
/*
 * WebSocket connections: the libwebsockets protocol callback of wsrouter.v1
 * and the per-connection state lws allocates for it. A connection owns its
 * reassembly buffer and its outbound queue; only its loop's thread touches it.
 */
#ifndef WSR_SERVER_CONN_INT_H
#define WSR_SERVER_CONN_INT_H

#include <libwebsockets.h>

#include "core/request_int.h"
#include "server/loop_int.h"

/* A connection: lws's per-session allocation for our protocol. */
typedef struct wsr__conn {
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
} wsr__conn_t;

/* The per-connection receive chunk lws allocates (server.c). */
#define WSR__RX_CHUNK 256
/* The most lws sends in one write (server.c). */
#define WSR__TX_CHUNK (64 * 1024)

/* The lws callback of the wsrouter.v1 protocol, and its per-session size. */
int wsr__conn_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);
extern const size_t wsr__conn_size;

/* Queues `m` (taken) for `c`; closes with 1008 past the outbound cap, and
 * 1011 when `m` is NULL (it could not be built). Loop thread. */
void wsr__conn_send(wsr__conn_t *c, wsr__msg_t *m);
/* Sends a push (taken) to `c`, re-encoded for the connection's format when
 * it is JSON and the connection speaks base64. Loop thread. */
void wsr__conn_push(wsr__conn_t *c, wsr__msg_t *m);
/* Closes `c` with `code` and the protocol's sentence for it. Loop thread. */
void wsr__conn_close(wsr__conn_t *c, int code);
/* Closes `c` with `code` and `why`. Loop thread. */
void wsr__conn_close_because(wsr__conn_t *c, int code, const char *why);
/* A connection that has nothing in flight may close now when draining. */
void wsr__conn_check_drain(wsr__conn_t *c);
/*
 * Frames the small messages at the head of c's queue (two at least, up to
 * 64 KiB of frames) into `b` (its payload replaced), taking them off the
 * queue and counting them as sent. Returns how many, or 0 when there were
 * fewer than two or `b` could not grow: then nothing left the queue.
 * Loop thread.
 */
size_t wsr__conn_frame_batch(wsr__conn_t *c, wsr__buf_t *b);
/* Makes `s` (taken) the connection's session; with `detach`, drops the
 * session instead when it holds the same token as `s`. Loop thread. */
void wsr__conn_set_session(wsr__conn_t *c, wsr__session_t *s, bool detach);

#endif /* WSR_SERVER_CONN_INT_H */
