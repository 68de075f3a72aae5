/* SPDX-License-Identifier: MIT */
/*
 * Internals of the C client (include/wsrouter/client.h), shared by the files
 * of src/client/: the client object, the table of calls in flight, the
 * outbound queue, and the entry points each file offers the others. Which
 * fields are guarded by the client's lock and which belong to the service
 * thread alone is written next to each field. Nothing here is API.
 */
#ifndef WSR_SRC_CLIENT_CLIENT_INT_H
#define WSR_SRC_CLIENT_CLIENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <libwebsockets.h>

#include "core/internal.h"
#include "wsrouter/client.h"

/* Buckets of the id hash of calls in flight (a power of two). */
#define WSR__CALL_BUCKETS 256
/* Longest wire id: "wsr-" 8 hex digits "-" 20 digits. */
#define WSR__CLIENT_ID_LEN 40
/* Longest sentence kept for a failure. */
#define WSR__CLIENT_TEXT 256
/* The longest timeout accepted (a day), so deadline arithmetic cannot overflow. */
#define WSR__CLIENT_MAX_TIMEOUT_MS 86400000
/* How long a waiting thread waits past a deadline the service thread enforces. */
#define WSR__CLIENT_SAFETY_MS 5000
/* The event_name of input (wsr_client_send_input): the server echoes it in
 * the 404 and 429 it answers input with, which tells them from the call's reply. */
#define WSR__CLIENT_INPUT_EVENT "wsr-input"

/* A parsed ws:// or wss:// URL. Every string is owned. */
typedef struct wsr__url {
    bool tls;
    int port;
    char *host;        /* owned: host name or address, IPv6 without brackets */
    char *host_header; /* owned: the Host header, "host[:port]" */
    char *path;        /* owned: path and query, starting with '/' */
} wsr__url_t;

struct wsr__ccall;

/* One encoded frame waiting for the connection, with LWS_PRE headroom. */
typedef struct wsr__cmsg {
    struct wsr__cmsg *prev, *next; /* the outbound queue */
    struct wsr__ccall *call;       /* borrowed: the call it carries, or NULL */
    bool binary;                   /* a binary frame rather than text */
    wsr__buf_t buf;                /* owned: the frame's payload after LWS_PRE */
} wsr__cmsg_t;

/* A call in flight: queued or sent, waiting for its reply or its deadline. */
typedef struct wsr__ccall {
    struct wsr__ccall *prev, *next;     /* the in-flight list, oldest first */
    struct wsr__ccall *hnext;           /* the id hash chain (ordinary calls only) */
    uint64_t id;                        /* the call's number: its handle, and its wire id's tail */
    bool raw;                           /* a raw send: in no hash, its reply is matched in order */
    uint64_t deadline_ns;               /* wsr__now_ns() past which it fails */
    int timeout_ms;                     /* for the error sentence */
    wsr_client_reply_fn cb;             /* called once, on the service thread */
    void *user;                         /* passed to cb */
    wsr__cmsg_t *msg;                   /* borrowed: its frame while still queued, else NULL */
    wsr_client_progress_fn on_progress; /* its progress messages, or NULL */
    void *progress_user;                /* passed to on_progress */
    bool cancelling;                    /* guarded by lock: the server was asked to cancel it */
    bool got_input;                     /* guarded by lock: input was sent to it */
    char label[72];                     /* "GET /path" or "cmd add", for sentences */
    char *sub_topic;                    /* owned: the topic a wsr_client_subscribe names, or NULL */
    struct wsr_client *sub_client;      /* with sub_topic: the client that remembers it */
} wsr__ccall_t;

/* A topic subscribed with wsr_client_subscribe, remembered across reconnections. */
typedef struct wsr__ctopic {
    struct wsr__ctopic *next;
    char *name;     /* owned */
    bool confirmed; /* a subscribe reply said 2xx */
    bool known;     /* offset and epoch hold a position */
    int64_t offset; /* the last publication's, or the subscribe reply's */
    char *epoch;    /* owned, with known */
} wsr__ctopic_t;

/* A list of calls detached from the client, to be completed without the lock. */
typedef struct wsr__call_list {
    wsr__ccall_t *head, *tail;
} wsr__call_list_t;

struct wsr_client {
    /* Immutable after wsr_client_new. */
    wsr_client_config_t cfg; /* strings point at the owned copies below */
    wsr__url_t url;
    char *url_text;          /* owned */
    char *subprotocol;       /* owned, or NULL */
    char *token;             /* owned, or NULL; guarded by lock (wsr_client_set_token) */
    char *ca_file;           /* owned, or NULL */
    char *cert_file;         /* owned, or NULL */
    char *key_file;          /* owned, or NULL */
    char id_prefix[16];      /* "wsr-<8 random hex digits>-": the wire ids of this client */
    struct lws_context *ctx; /* destroyed only once the service thread has ended */
    struct lws_protocols protocols[2];
    pthread_t thread;

    /* Guarded by lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond; /* state changes, attempt ends, sync completions */
    wsr_client_state_t state;
    bool stop;              /* wsr_client_free asked the service thread to finish */
    bool self_free;         /* ...from a callback: the service thread releases the client */
    bool connect_requested; /* wsr_client_connect asked for an attempt */
    uint64_t attempt_gen;   /* bumped when a connection attempt ends */
    int attempt_rc;         /* how the last attempt ended: 0 or WSR_E* */
    char attempt_text[WSR__CLIENT_TEXT];
    uint64_t next_id;
    wsr__call_list_t calls;                   /* in flight, oldest first */
    wsr__ccall_t *buckets[WSR__CALL_BUCKETS]; /* the ordinary calls by id */
    size_t ncalls;
    wsr__call_list_t cancelled;       /* cancelled, callbacks not yet run */
    wsr__cmsg_t *out_head, *out_tail; /* frames not yet written */
    uint64_t wake_deadline_ns;        /* earliest deadline added since the last wake */
    bool token_dirty;                 /* the token changed: the service thread reschedules */
    int64_t token_set_s;              /* when the token was set (seconds since the epoch) */
    char protocol[64];                /* the subprotocol the server chose, or "" */
    bool compressed;                  /* the open connection negotiated permessage-deflate */
    wsr__ctopic_t *topics;            /* owned: wsr_client_subscribe's topics */

    /* Service thread only. */
    struct lws *wsi;  /* the connection, or NULL */
    bool conn_active; /* an attempt or a connection exists */
    bool conn_open;   /* it reached ESTABLISHED */
    bool closing;     /* a close was asked for; it goes out from WRITEABLE */
    int close_code;   /* the code it sends */
    bool stopping;    /* the stop sequence began */
    bool loop_exit;   /* the service loop ends after this pass */
    bool retrying;    /* a dropped connection is being re-established */
    int attempts;     /* failed reconnection attempts in a row */
    int fail_rc;      /* a reason recorded before lws reports the end */
    char fail_text[WSR__CLIENT_TEXT];
    int peer_close; /* the close code the server sent, or 0 */
    char peer_reason[124];
    char hs_protocol[64]; /* the subprotocol in the server's handshake answer */
    uint64_t tick_at_ns;  /* when sul_tick is due; 0 when not scheduled */
    uint64_t rng;         /* xorshift state for the jitter */
    bool in_message;      /* reassembling a fragmented message */
    bool rx_binary;
    bool deflate;                       /* this connection negotiated permessage-deflate */
    bool rx_deflated;                   /* the message coming in is compressed */
    wsr__cmsg_t *tx_held;               /* owned: the frame lws's deflater still reads, or NULL */
    wsr__buf_t rx;                      /* owned: the message being reassembled */
    lws_sorted_usec_list_t sul_tick;    /* call deadlines */
    lws_sorted_usec_list_t sul_connect; /* the connection attempt's deadline */
    lws_sorted_usec_list_t sul_retry;   /* the next reconnection attempt */
    lws_sorted_usec_list_t sul_stop;    /* the close handshake's deadline */
    lws_sorted_usec_list_t sul_token;   /* the token's renewal */
    bool token_busy;                    /* a renewal call is in flight */
};

/* ---- client.c ---- */

/* Formats a line and hands it to the log sink (stderr at WARN and above when none). */
void wsr__client_log(wsr_client_t *c, int level, const char *fmt, ...) WSR_PRINTF(3, 4);
/* Like wsr__client_log, but whatever cfg.log_level says (the insecure-mode warning). */
void wsr__client_log_always(wsr_client_t *c, int level, const char *fmt, ...) WSR_PRINTF(3, 4);
/* Releases the client; the service thread must have ended (or be the caller, at its end). */
void wsr__client_destroy(wsr_client_t *c);

/* True on the client's service thread (inside a callback). */
bool wsr__client_on_service_thread(wsr_client_t *c);
/* Waits on c->cond, lock held, until woken or `deadline_ns`; false once it passed. */
bool wsr__client_wait(wsr_client_t *c, uint64_t deadline_ns);

/* ---- calls.c (callers hold c->lock unless a comment says otherwise) ---- */

/* Adds `call` (and its queued frame `msg`, may be NULL) to the table and the queue. */
void wsr__calls_add(wsr_client_t *c, wsr__ccall_t *call, wsr__cmsg_t *msg);
/* Removes and returns the ordinary call with `id` (never a raw send), or NULL. */
wsr__ccall_t *wsr__calls_take_id(wsr_client_t *c, uint64_t id);
/* Removes and returns the call numbered `id`, raw sends included, or NULL. */
wsr__ccall_t *wsr__calls_take_any(wsr_client_t *c, uint64_t id);
/* Returns the call numbered `id`, raw sends included, left in the table, or NULL. */
wsr__ccall_t *wsr__calls_find(wsr_client_t *c, uint64_t id);
/* Appends a frame that belongs to no call (input) to the outbound queue. */
void wsr__out_push(wsr_client_t *c, wsr__cmsg_t *m);
/* Removes and returns the oldest raw send, or NULL. */
wsr__ccall_t *wsr__calls_take_raw(wsr_client_t *c);
/* Appends `call`, in no table, to `list`. */
void wsr__call_list_push(wsr__call_list_t *list, wsr__ccall_t *call);
/* Moves every call to `out` and drops every queued frame. */
void wsr__calls_take_all(wsr_client_t *c, wsr__call_list_t *out);
/* Moves the calls whose deadline is past `now` to `out`; returns the next deadline or 0. */
uint64_t wsr__calls_take_expired(wsr_client_t *c, uint64_t now, wsr__call_list_t *out);
/* Pops the oldest queued frame, or NULL; its call no longer points at it. */
wsr__cmsg_t *wsr__out_pop(wsr_client_t *c);
/* Frees a frame that is in no queue. NULL is ignored. No lock needed. */
void wsr__cmsg_free(wsr__cmsg_t *m);
/*
 * Completes and frees `call` without the lock held: calls its callback with
 * the reply `message` (takes it; NULL for a failure with `rc` and `text`).
 */
void wsr__call_complete(wsr__ccall_t *call, int rc, json_t *message, const char *text);
/* Fails every call of `list` with `rc` and `text`, without the lock held. */
void wsr__calls_fail_list(wsr__call_list_t *list, int rc, const char *text);

/* ---- wire.c (pure) ---- */

/* Parses `text` into `u` (zeroed first). Returns 0, WSR_EINVAL with `err`, or WSR_ENOMEM. */
WSR_NODISCARD int wsr__url_parse(wsr__url_t *u, const char *text, wsr_error_t *err);
void wsr__url_dispose(wsr__url_t *u);
/* Writes the wire id of call `id` ("wsr-<hex>-<id>") into `out`. */
void wsr__client_wire_id(const wsr_client_t *c, uint64_t id, char out[WSR__CLIENT_ID_LEN]);
/* Parses a wire id of this client. Returns true with `*id`, false for anything else. */
bool wsr__client_parse_id(const wsr_client_t *c, const char *text, uint64_t *id);
/*
 * Encodes `req` with `id` as one frame in the client's encoding into `*out`
 * (owned by the caller). Returns 0, WSR_EINVAL (with `err`), WSR_EOVERFLOW
 * past max_message, or WSR_ENOMEM.
 */
WSR_NODISCARD int wsr__client_encode(const wsr_client_t *c, const wsr_client_request_t *req,
                                     uint64_t id, wsr__cmsg_t **out, wsr_error_t *err);
/*
 * Encodes the object `o` (borrowed) as one frame in the client's encoding
 * into `*out`, owned by the caller, for `what` ("the request", "the input")
 * in the error sentence. Returns 0, WSR_EOVERFLOW past max_message, or another
 * code, with `err`.
 */
WSR_NODISCARD int wsr__client_encode_object(const wsr_client_t *c, const json_t *o,
                                            const char *what, wsr__cmsg_t **out, wsr_error_t *err);
/*
 * Decodes one received message (JSON text, base64 text, or base64 in a binary
 * frame) into an owned JSON object, or NULL with a sentence in `why`.
 */
json_t *wsr__client_decode(const unsigned char *p, size_t n, bool binary, char *why,
                           size_t why_len);
/* Fills `reply` from `message` (takes one reference). */
void wsr__reply_fill(wsr_client_reply_t *reply, json_t *message);

/* ---- service.c ---- */

/* Creates c->ctx for c->cfg. Returns 0 or a code with `err`. Caller's thread. */
WSR_NODISCARD int wsr__client_service_init(wsr_client_t *c, wsr_error_t *err);
/* The service thread's body: services c->ctx until the stop sequence ends. */
void *wsr__client_service_main(void *arg);
/*
 * Ends the connection or the attempt (once): fails every call in flight with
 * a sentence built from `rc` and `text` (or the reason recorded in fail_rc),
 * moves to the next state and schedules a reconnection when one is due.
 */
void wsr__client_conn_ended(wsr_client_t *c, int rc, const char *text);

/* ---- submit.c ---- */

/*
 * Queues a call the client makes for itself (/auth/session, /auth/refresh),
 * on the service thread, while the connection is opening or open: before
 * the state is OPEN it goes out ahead of every call of the program. Returns
 * 0 (cb will run once) or a code.
 */
WSR_NODISCARD int wsr__client_submit_own(wsr_client_t *c, const wsr_client_request_t *req,
                                         wsr_client_reply_fn cb, void *user);

/*
 * Makes the call `req` (borrowed) naming `topic` (borrowed), which the reply
 * hook of topics.c sees: synchronously into `reply` when `cb` is NULL, else
 * asynchronously like wsr_client_request_async. Returns like those.
 */
WSR_NODISCARD int wsr__client_request_topic(wsr_client_t *c, const wsr_client_request_t *req,
                                            const char *topic, wsr_client_reply_t *reply,
                                            wsr_client_reply_fn cb, void *user, uint64_t *call_id,
                                            wsr_error_t *err);

/* ---- topics.c ---- */

/* A publication (no status) arrived: moves its topic's position. Service thread. */
void wsr__client_topics_published(wsr_client_t *c, json_t *msg);
/* At CLIENT_ESTABLISHED, after the token's own calls: subscribes again with `since`. */
void wsr__client_topics_opened(wsr_client_t *c);
/* A subscribe call with sub_topic ends (before its callback): keeps or forgets the topic. */
void wsr__client_topics_replied(wsr__ccall_t *call, int rc, json_t *message);
/* Frees the table; at the client's end. */
void wsr__client_topics_free(wsr_client_t *c);

/* ---- stream.c (service thread) ---- */

/*
 * A message without a status: when it is progress of a call in flight, hands
 * it to the call's on_progress and returns true (`msg` stays the caller's).
 */
bool wsr__client_progress(wsr_client_t *c, json_t *msg);
/* True when `call` (lock held) is answered by `msg` for its input, not for itself. */
bool wsr__client_input_answer(const wsr__ccall_t *call, json_t *msg);

/* ---- token.c ---- */

/* Copies the token into *out (owned: wsr__free; NULL when there is none).
 * Returns 0 or WSR_ENOMEM. Any thread. */
WSR_NODISCARD int wsr__client_token_dup(const wsr_client_t *c, char **out);
/* Reads a JWT's iat and exp claims without verifying it (0 when absent). Pure. */
void wsr__client_token_times(const char *token, int64_t *iat, int64_t *exp);
/* At CLIENT_ESTABLISHED, before the state is OPEN: token_cb, /auth/session. */
void wsr__client_token_opened(wsr_client_t *c);
/* From a wake: reschedules the renewal when the token changed. */
void wsr__client_token_wake(wsr_client_t *c);
/* The stop sequence: no renewal any more. */
void wsr__client_token_stop(wsr_client_t *c);

/* ---- io.c (service thread) ---- */

/* Forgets a partly reassembled message. */
void wsr__client_rx_reset(wsr_client_t *c);
/* LWS_CALLBACK_CLIENT_RECEIVE: reassembles and delivers. Returns 0, or -1 to drop. */
int wsr__client_on_receive(wsr_client_t *c, struct lws *wsi, const void *in, size_t len);
/* LWS_CALLBACK_CLIENT_WRITEABLE: one frame, or the close. Returns 0, or -1 to drop. */
int wsr__client_on_writeable(wsr_client_t *c, struct lws *wsi);
/*
 * Closes the connection with `code` from WRITEABLE, reading nothing more:
 * the connection's end reports `rc` and `text` (fail_rc, fail_text). For a
 * fault found while receiving. Returns 0.
 */
int wsr__client_close_because(wsr_client_t *c, struct lws *wsi, int rc, int code, const char *text);
/* Frees the frame lws's deflater was reading; at the connection's end. */
void wsr__client_tx_release(wsr_client_t *c);

#endif /* WSR_SRC_CLIENT_CLIENT_INT_H */
