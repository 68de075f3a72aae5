/* SPDX-License-Identifier: MIT */
/*
 * The factory's insides: the state every connection shares and that
 * outlives any one of them (router, settings, statistics, store, token
 * authority, subscriptions). The factory knows nothing of sockets or event
 * loops: it reaches connections only through the transport the server
 * installs (wsr__transport_t), addressing them by id.
 */
#ifndef WSR_SERVICES_FACTORY_INT_H
#define WSR_SERVICES_FACTORY_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/request_int.h"
#include "core/session_int.h"
#include "core/stats_int.h"

struct wsr__pubsub;
struct wsr_store;
struct wsr__auth;

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
    int raw_port;     /* -1: none */
    int raw_tls_port; /* -1: none */
    bool tls_only;
    char *tls_client_ca; /* owned, or NULL */
    int tls_client_auth;
    char *origins; /* owned: the allow-list as configured, or NULL (the server parses it) */
    unsigned handshake_timeout_ms;
    unsigned max_header_bytes;
    unsigned idle_ping_ms;
    unsigned idle_close_ms;
    char *store; /* owned, or NULL: no store, no authentication */
    bool store_full_sync;
    char *jwt_secret; /* owned, or NULL */
    unsigned token_ttl_s;
    char *trusted_proxies; /* owned, or NULL (the server parses it) */
    char *jwt_keys;        /* owned, or NULL */
    char *jwt_jwks;        /* owned, or NULL */
    char *jwt_issuer;      /* owned, or NULL */
    char *jwt_audience;    /* owned, or NULL */
    unsigned jwt_leeway_s;
    char *jwt_roles_claim; /* owned */
    unsigned max_call_input;
    unsigned history_size;
    unsigned history_ttl_s;
    char *engine;          /* owned, or NULL: the in-process engine ("memory") */
    char *engine_password; /* owned, or NULL */
    char *ops_token;       /* owned, or NULL: the ops endpoints are open */
    bool compression;
    unsigned compression_min_bytes;
    bool echo_mode;
    char *ops_host; /* owned: the ops listener's address, or NULL: none */
    int ops_port;   /* -1: the ops endpoints on every port */
} wsr__settings_t;

/*
 * How services reach connections: the server fills this in before it
 * starts, services call it from any thread. Connections are addressed by id,
 * never by pointer (STYLE R5); a connection that is gone is not an error the
 * caller can do anything about, so it is only counted.
 */
typedef struct wsr__transport {
    /* Sends the JSON push `json` (n bytes, copied) to connection `id`, in
     * the connection's own format. Returns 0, WSR_ENOENT (no such
     * connection) or WSR_ENOMEM. */
    int (*push)(void *ctx, uint64_t id, const void *json, size_t n);
    /* push of the same JSON to the n connections ids[] (a publication's
     * subscribers), one post per event loop. Returns how many it queued
     * for; *nomem is set when memory ran out for some. */
    size_t (*push_many)(void *ctx, const uint64_t *ids, size_t n, const void *json, size_t len,
                        bool *nomem);
    /* Makes `s` (taken; may be NULL) the session of connection `id`; with
     * `detach`, drops the connection's session instead if it is `s`. */
    void (*session)(void *ctx, uint64_t id, wsr__session_t *s, bool detach);
    /* True when `id` could name a connection of this server at all. */
    bool (*valid)(void *ctx, uint64_t id);
    /* True when the calling thread is one of the server's event loops (a
     * handler running there must not wait on the network). */
    bool (*on_loop)(void);
    /* Queues run(arg) on the engine's queue (one thread, in the order
     * queued; the one the pubsub routes run on); cancel(arg) instead when
     * the server stops first. Returns 0, WSR_EBUSY (the queue is full),
     * WSR_ENOENT (no engine queue: the memory engine) or WSR_ENOMEM;
     * neither function is called then. */
    int (*offload)(void *ctx, void (*run)(void *), void (*cancel)(void *), void *arg);
    void *ctx; /* borrowed: the server */
} wsr__transport_t;

struct wsr_factory {
    wsr_router_t *router; /* owned */
    wsr__settings_t settings;
    wsr__stats_t **stats;           /* owned: one block per event loop */
    unsigned nstats;                /* blocks in `stats` */
    struct wsr__pubsub *pubsub;     /* owned */
    struct wsr_store *store;        /* owned, or NULL */
    struct wsr__auth *auth;         /* owned, or NULL (no store) */
    struct wsr__throttle *throttle; /* owned with `auth`: the login throttle and lane */
    wsr__transport_t transport;     /* the server's; all NULL before it starts */
    unsigned node_id; /* this node's id in a cluster (engine_int.h), 0 on the memory engine */
    atomic_uint open_connections;
    uint64_t started_ns;
    wsr_log_fn log;
    void *log_user;
    atomic_int log_level;   /* changed live by wsr_server_set_logging */
    atomic_bool access_log; /* likewise */
};

/* Logs when `level` is enabled; arguments are not evaluated otherwise (L1). */
#define wsr__log(f, level, ...)                                                                    \
    do {                                                                                           \
        const wsr_factory_t *wsr__lf = (f);                                                        \
        if (wsr__lf != NULL && wsr__lf->log != NULL &&                                             \
            (level) <= atomic_load_explicit(&wsr__lf->log_level, memory_order_relaxed))            \
            wsr_factory_log(wsr__lf, (level), __VA_ARGS__);                                        \
    } while (0)

/*
 * True when the engine (publication, presence, the store of many nodes) can
 * serve: /_/ready answers 503 when it cannot. The in-process engine always
 * can; an engine with a connection of its own (Redis) says here when that
 * is down, and sets `why` (borrowed, static) to a sentence. Any thread.
 */
bool wsr__factory_engine_ready(wsr_factory_t *f, const char **why);
/* Adds "engine" ({kind, state, ...}) and, for a store on Redis, "store"
 * ({kind, state}) to `into` (borrowed) for /_/health; nothing for the
 * in-process engine. Any thread. */
void wsr__factory_describe_engine(wsr_factory_t *f, json_t *into);

/* Creates the factory (settings copied from cfg). NULL on failure. */
wsr_factory_t *wsr__factory_new(const wsr_server_config_t *cfg, wsr_error_t *err);
void wsr__factory_free(wsr_factory_t *f);

/* Opens the store when one is configured, and with it the token authority
 * and the /auth routes. Returns 0 or an error with `err`. */
WSR_NODISCARD int wsr__factory_open_store(wsr_factory_t *f, wsr_error_t *err);

#endif /* WSR_SERVICES_FACTORY_INT_H */
