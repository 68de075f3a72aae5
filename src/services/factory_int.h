/* SPDX-License-Identifier: MIT */
/*
 * The factory's insides: the state every connection shares (router,
 * settings, statistics, event loops as the registry of live connections,
 * worker pool), and the messages that travel between threads and loops.
 * Only event-loop code touches a connection; everything else addresses it by
 * id through a loop's inbox.
 */
#ifndef WSR_SRC_FACTORY_INT_H
#define WSR_SRC_FACTORY_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/request_int.h"
#include "core/stats_int.h"

struct wsr__loop;
struct wsr__workers;
struct wsr__pubsub;
struct wsr__limits;
struct wsr__session;
struct wsr_store;
struct wsr__auth;
struct wsr__store;

/* Settings copied from wsr_server_config_t; immutable once the server runs. */
typedef struct wsr__settings {
    char *host; /* owned */
    int port;
    size_t max_message;
    size_t max_outbound;
    unsigned max_depth;
    bool builtins;
    bool pubsub;
    unsigned max_subscriptions;
    unsigned io_threads;
    unsigned threads;
    unsigned queue_size;
    unsigned request_timeout_ms;
    unsigned shutdown_timeout_ms;
    unsigned max_connections;
    unsigned max_connections_per_ip;
    char *www;      /* owned, or NULL */
    char *tls_cert; /* owned, or NULL: no wss:// */
    char *tls_key;  /* owned */
    int tls_port;
    bool tls_only;
    char *tls_client_ca; /* owned, or NULL */
    int tls_client_auth;
    char **origins; /* owned: normalised allow-list, NULL-terminated; NULL: no check */
    unsigned handshake_timeout_ms;
    unsigned max_header_bytes;
    unsigned idle_ping_ms;
    unsigned idle_close_ms;
    char *store; /* owned, or NULL: no store, no authentication */
    bool store_full_sync;
    char *jwt_secret; /* owned, or NULL */
    unsigned token_ttl_s;
} wsr__settings_t;

struct wsr_factory {
    wsr_router_t *router; /* owned */
    wsr__settings_t settings;
    struct wsr__loop **loops; /* owned array of borrowed loops (the server owns them) */
    unsigned nloops;
    wsr__stats_t **stats;         /* owned: one block per loop */
    struct wsr__workers *workers; /* owned, or NULL before start */
    struct wsr__pubsub *pubsub;   /* owned */
    struct wsr__limits *limits;   /* owned */
    struct wsr_store *store;      /* owned, or NULL */
    struct wsr__auth *auth;       /* owned, or NULL (no store) */
    atomic_uint open_connections;
    uint64_t started_ns;
    wsr_log_fn log;
    void *log_user;
    int log_level;
};

/* Logs when `level` is enabled; arguments are not evaluated otherwise (L1). */
#define wsr__log(f, level, ...)                                                                    \
    do {                                                                                           \
        const wsr_factory_t *wsr__lf = (f);                                                        \
        if (wsr__lf != NULL && wsr__lf->log != NULL && (level) <= wsr__lf->log_level)              \
            wsr_factory_log(wsr__lf, (level), __VA_ARGS__);                                        \
    } while (0)

/*
 * A message on its way to a client, or a note for a loop. One allocation:
 * this header, LWS_PRE bytes of headroom, then the payload. Encoders write into
 * a wsr__buf_t initialised with WSR__MSG_HEAD headroom, and wsr__msg_take turns
 * it into a message without copying.
 */
typedef struct wsr__msg {
    struct wsr__msg *next;
    uint64_t conn_id;             /* inbox: the destination connection */
    struct wsr_reply *reply;      /* inbox: the deferred reply this completes, or NULL */
    size_t len;                   /* payload bytes */
    uint8_t kind;                 /* WSR__MSG_* */
    uint8_t binary;               /* send as a binary frame */
    uint8_t json_push;            /* payload is JSON; re-encode in the connection's format */
    uint16_t code;                /* WSR__MSG_CLOSE: the close code; _SESSION: 1 to detach */
    struct wsr__session *session; /* WSR__MSG_SESSION: owned ref */
} wsr__msg_t;

enum {
    WSR__MSG_DATA = 0, /* a reply or push for conn_id */
    WSR__MSG_CLOSE,    /* close conn_id with `code` */
    WSR__MSG_STOP,     /* the loop starts draining */
    WSR__MSG_RELOAD,   /* the loop reloads its TLS certificate */
    WSR__MSG_SESSION,  /* conn_id is authenticated as `session` (or detached from it) */
};

#define WSR__MSG_HEAD 64 /* >= sizeof(wsr__msg_t) + LWS_PRE, checked in protocol.c */

static inline unsigned char *wsr__msg_payload(wsr__msg_t *m)
{
    return (unsigned char *)m + WSR__MSG_HEAD;
}

/* Turns the buffer (initialised with WSR__MSG_HEAD headroom) into a message;
 * the buffer is left empty. Returns NULL when the buffer holds no memory. */
wsr__msg_t *wsr__msg_take(wsr__buf_t *b, bool binary);
/* Allocates a message with no payload (CLOSE, STOP). */
wsr__msg_t *wsr__msg_new_note(int kind, uint64_t conn_id, uint16_t code);
void wsr__msg_free(wsr__msg_t *m);

/* Encodes `res` as the reply to a request whose id/event_name/format are
 * given, appending to `out` (which should have WSR__MSG_HEAD headroom).
 * `head` drops the data (a HEAD request). */
WSR_NODISCARD int wsr__response_encode(wsr__buf_t *out, const wsr_response_t *res, const json_t *id,
                                       const json_t *event_name, bool head, wsr_format_t fmt,
                                       wsr__buf_t *scratch);

/* Connection ids: generation (32 bits) | loop (8 bits) | slot (24 bits). */
#define WSR__ID_LOOP(id) ((unsigned)(((id) >> 24) & 0xffu))
#define WSR__ID_SLOT(id) ((uint32_t)((id)&0xffffffu))
#define WSR__ID_GEN(id)  ((uint32_t)((id) >> 32))
#define WSR__MAX_LOOPS   256

/* Posts `m` (taken) to the loop that owns m->conn_id. Any thread.
 * Returns 0, WSR_ENOENT (no such loop or it is gone). */
int wsr__factory_post(wsr_factory_t *f, wsr__msg_t *m);

/*
 * Dispatch: routes `req`, checks authentication, then runs the handler on
 * this thread or hands the request to a worker. `f` may be NULL
 * (wsr_router_call). Returns 0 when `res` holds the answer, 1 when the answer
 * was deferred (a reply handle will deliver it). Never fails: errors become a
 * 500 in `res`.
 */
int wsr__dispatch(wsr_factory_t *f, const wsr_router_t *router, wsr_request_t *req,
                  wsr_response_t *res);

/* Runs the route's handler on this thread, turning a failure into a 500. */
void wsr__run_handler(wsr_factory_t *f, wsr_request_t *req, wsr_response_t *res);

/* Creates the factory (settings copied from cfg). NULL on failure. */
wsr_factory_t *wsr__factory_new(const wsr_server_config_t *cfg, wsr_error_t *err);
void wsr__factory_free(wsr_factory_t *f);

#endif /* WSR_SRC_FACTORY_INT_H */
