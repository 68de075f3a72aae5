/* SPDX-License-Identifier: MIT */
/*
 * WebSocket connections: the libwebsockets protocol callback of wsrouter.v1
 * (and of jsonrpc2.0, the same connections) and the per-connection state lws
 * allocates for it. A connection owns its
 * reassembly buffer and its outbound queue; only its loop's thread touches it.
 */
#ifndef WSR_SERVER_CONN_INT_H
#define WSR_SERVER_CONN_INT_H

#include <libwebsockets.h>

#include "core/request_int.h"
#include "server/loop_int.h"
#include "server/ratelimit_int.h"

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
    uint8_t close_flush;   /* close_code waits for what is queued to go out first */
    uint8_t ping_due;      /* the idle policy's ping: none, due, sent */
    int64_t last_rx_ms;    /* monotonic ms of the last frame or pong received */
    char peer[WSR__PEER_MAX];
    /* The pipeline's own (serve.c, batch.c): */
    uint8_t jsonrpc;             /* asked for the jsonrpc2.0 subprotocol */
    uint8_t held;                /* a barrier is pending: messages wait in `held_head` */
    uint32_t held_count;         /* messages waiting */
    size_t held_bytes;           /* their bytes */
    struct wsr__held *held_head; /* owned: messages received while held, in order */
    struct wsr__held *held_tail; /* borrowed: the last of them */
    struct wsr__batch *batches;  /* owned: JSON-RPC batches not answered yet */
    struct wsr__batch *paused;   /* borrowed: `batches`' one waiting for its barrier */
    /* Raw TCP (raw.c): */
    uint8_t framing;    /* wsr__framing_t once the first byte came; 0 on WebSocket */
    uint8_t raw;        /* a raw TCP connection */
    wsr__buf_t words;   /* the command being decoded (RESP, text lines) */
    uint32_t lines;     /* lines read on a text-lines connection */
    wsr__bucket_t rate; /* the connection's request rate bucket (ratelimit.c) */
    /* owned: the buckets of the routes with a rate of their own, by their
     * rate_slot (allocated at the first such request; ratelimit.c) */
    wsr__bucket_t *route_rates;
    /* permessage-deflate and the echo mode: */
    uint8_t deflate;     /* permessage-deflate was negotiated */
    uint8_t echo;        /* a wsrouter.echo connection: messages come back as they are */
    uint8_t rx_deflated; /* the message coming in is compressed */
    wsr__msg_t *tx_held; /* owned: the compressed message lws may still be reading */
    /* owned: the guard's twin of lws's inflater (pmd_callback), or NULL */
    struct wsr__inflate_twin *twin;
    /* The connection's own traffic, for the admin view (admin.c): message
     * bytes as the stats count them, received and sent. */
    uint64_t bytes_in;
    uint64_t bytes_out;
} wsr__conn_t;

/* The protocol's rx_buffer_size (server.c): lws reads a WebSocket this
 * many bytes at a time and hands messages over in chunks of at most this.
 * The per-connection buffer lws sizes from it is allocated far smaller
 * (lwsalloc.c). */
#define WSR__RX_CHUNK WSR__SERV_BUF
/* The most lws sends in one write (server.c). */
#define WSR__TX_CHUNK (64 * 1024)

/* The subprotocol of the echo mode (echo_mode), and the largest
 * compression_min_bytes (a message under it goes out in our own frame, as
 * batches do). */
#define WSR__ECHO_PROTOCOL   "wsrouter.echo"
#define WSR__DEFLATE_MIN_MAX 8192

/* The extensions a vhost offers when `compression` is on. */
extern const struct lws_extension wsr__conn_extensions[];

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
/* Closes `c` with `code` and `why`, dropping what is queued. Loop thread. */
void wsr__conn_close_because(wsr__conn_t *c, int code, const char *why);
/* The same, but the replies already queued go out before the close frame
 * (nothing more is read or queued): a close for what the client did, not
 * for a queue that cannot drain. Loop thread. */
void wsr__conn_close_after_queue(wsr__conn_t *c, int code, const char *why);
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
/* Registers the connection lws just opened (WebSocket or raw) with its
 * loop. Returns 0, or -1 to drop it. Loop thread. */
int wsr__conn_open(wsr__loop_t *loop, wsr__conn_t *c, struct lws *wsi);
/* Forgets a connection that closed: its replies, subscriptions, buffers. */
void wsr__conn_gone(wsr__loop_t *loop, wsr__conn_t *c);
/* Takes the head of the queue off, counting it as sent. Loop thread. */
void wsr__conn_pop_sent(wsr__conn_t *c);
/* Makes `s` (taken) the connection's session; with `detach`, drops the
 * session instead when it holds the same token as `s`. Loop thread. */
void wsr__conn_set_session(wsr__conn_t *c, wsr__session_t *s, bool detach);

#endif /* WSR_SERVER_CONN_INT_H */
