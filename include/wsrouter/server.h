/* SPDX-License-Identifier: MIT */
/*
 * The server: its configuration, and the lifecycle of the event loops that
 * carry WebSocket connections to the factory and its router.
 *
 *   wsr_server_config_t cfg;
 *   wsr_server_config_init(&cfg);          every default written
 *   cfg.port = 8080;
 *   wsr_server_t *srv = wsr_server_new(&cfg, &err);
 *   wsr_routes_math(wsr_server_router(srv), &err);   add route tables
 *   wsr_server_start(srv, &err);           binds; the router is now frozen
 *   wsr_server_run_until_signal(srv);      serves until SIGINT or SIGTERM, then drains
 *   wsr_server_free(srv);
 *
 * Settings from a file and flags go through a wsr_config_t, which owns the
 * strings it reads (wsr_config_load_file, wsr_config_set).
 */
#ifndef WSR_WSROUTER_SERVER_H
#define WSR_WSROUTER_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"
#include "error.h"
#include "log.h"
#include "router.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsr_server wsr_server_t;

/* How the store commits: FULL waits for the disk on every write (durable
 * across power loss); NORMAL survives a crash of the process but not of the
 * machine. */
enum { WSR_STORE_SYNC_FULL = 0, WSR_STORE_SYNC_NORMAL };

/* Client certificate policy of the wss:// listener. */
enum {
    WSR_TLS_CLIENT_OFF = 0,  /* not asked for */
    WSR_TLS_CLIENT_OPTIONAL, /* asked for; verified when given */
    WSR_TLS_CLIENT_REQUIRED, /* the handshake fails without a valid one */
};

/*
 * Server settings: plain data the application fills. Initialise with
 * wsr_server_config_init (which also records the struct's size, so that a
 * program built against this header keeps working with a library that added
 * fields at the end), then change fields. Strings are borrowed until
 * wsr_server_new returns (it copies them).
 */
typedef struct wsr_server_config {
    size_t size;                     /* sizeof the struct as compiled; set by _init */
    const char *host;                /* address to bind, "127.0.0.1" */
    int port;                        /* 8080; 0 lets the kernel pick (wsr_server_port) */
    int log_level;                   /* WSR_LOG_NOTICE */
    wsr_log_fn log;                  /* NULL: no logging */
    void *log_user;                  /* passed to `log` */
    size_t max_message;              /* largest request message, bytes (1 MiB); 1009 past it */
    size_t max_outbound;             /* outbound queue cap per connection (8 MiB); 1008 past it */
    unsigned max_depth;              /* JSON nesting limit (64; 1 to 2048) */
    bool builtins;                   /* serve /_/commands, help, stats, ping (true) */
    unsigned io_threads;             /* event loops; 0 = one per core */
    unsigned threads;                /* worker threads for blocking routes (4) */
    unsigned queue_size;             /* worker job queue bound (1024); 503 past it */
    unsigned request_timeout_ms;     /* deferred/blocking answer deadline (30000); 408 past it */
    unsigned shutdown_timeout_ms;    /* graceful drain deadline (10000) */
    const char *www;                 /* directory served over HTTP, or NULL for none */
    bool pubsub;                     /* serve /_/subscribe, /_/unsubscribe, /_/publish (true) */
    unsigned max_subscriptions;      /* topics per connection (1000); 429 past it */
    unsigned max_connections;        /* TCP connections in all (50000); refused past it; 0: none */
    unsigned max_connections_per_ip; /* from one client address (0: no limit) */
    const char *tls_cert;            /* PEM certificate chain: serve wss:// (NULL: none) */
    const char *tls_key;             /* its private key */
    int tls_port;                    /* port of wss:// (8443; 0 lets the kernel pick) */
    bool tls_only;                   /* no plain ws:// listener */
    const char *tls_client_ca;       /* CA that signs client certificates, or NULL */
    int tls_client_auth;             /* WSR_TLS_CLIENT_* (off) */
    const char *origins;             /* allowed Origins, comma-separated; NULL: no check */
    unsigned handshake_timeout_ms;   /* a handshake must finish within (10000) */
    unsigned max_header_bytes;       /* HTTP header bytes a request may carry (8192) */
    unsigned idle_ping_ms;           /* ping a connection silent this long (30000; 0: never) */
    unsigned idle_close_ms;          /* close 1001 a connection silent this long (60000) */
    const char *store;               /* SQLite file of the store and users (NULL: none) */
    int store_sync;                  /* WSR_STORE_SYNC_FULL (default) or _NORMAL */
    const char *jwt_secret;          /* token secret, 32+ bytes (NULL: kept in the store) */
    unsigned token_ttl_s;            /* token lifetime (3600) */
    /* New fields go here, at the end (the struct's size tells their presence). */
    const char
        *trusted_proxies;     /* proxy addresses/CIDRs whose X-Forwarded-For counts (NULL: none) */
    const char *jwt_keys;     /* identity provider public keys: PEM files, comma-separated */
    const char *jwt_jwks;     /* identity provider keys as a JWKS file (reloaded on SIGHUP) */
    const char *jwt_issuer;   /* required `iss` of identity-provider tokens */
    const char *jwt_audience; /* required `aud` of identity-provider tokens */
    unsigned jwt_leeway_s;    /* clock leeway for exp/nbf/iat of such tokens (30) */
    const char *jwt_roles_claim; /* the claim that holds roles ("roles") */
    unsigned max_call_input;     /* input messages queued per running call (64); 429 past it */
    int raw_port;     /* raw TCP listener (PROTOCOL.md section 8): -1 off (default), 0 any */
    int raw_tls_port; /* raw TCP over TLS with tls_cert: -1 off (default), 0 any */
    /* Request rate limits, requests per second (0: none); 429 past them, 1008
     * past twice the burst. */
    double rate_limit_connection; /* per connection (5000) */
    double rate_limit_address;    /* per client address (0: none) */
    double rate_limit_user;       /* per authenticated user (0: none) */
    unsigned rate_burst;          /* bucket size (0: one second of each rate) */
    /* Publication history (PROTOCOL.md section 5.2). */
    unsigned history_size;  /* publications kept per topic for resume (0, the default: none) */
    unsigned history_ttl_s; /* how long they are kept (300) */
    /* The cluster engine (PROTOCOL.md section 11): NULL or "memory", the
     * in-process one (one node), or "redis://[user:password@]HOST[:PORT][/DB]". */
    const char *engine;
    const char *engine_password; /* Redis AUTH password, when not in the URL (NULL: none) */
    /* Operations (README "Operating wsrouter"). */
    bool access_log;       /* one line per request at WSR_LOG_INFO (true) */
    int log_format;        /* WSR_LOG_FORMAT_TEXT (default) or _JSON: for the program's sink */
    bool log_lws;          /* libwebsockets' own notices, at WSR_LOG_DEBUG (false) */
    const char *ops_token; /* bearer token /_/metrics, /_/stats and /_/ready need (NULL: none) */
    /* permessage-deflate (RFC 7692), negotiated with clients that offer it. */
    bool compression;               /* offer it (false) */
    unsigned compression_min_bytes; /* replies shorter than this go uncompressed (1024) */
    bool echo_mode; /* accept the wsrouter.echo subprotocol: whole messages echoed (false) */
    /* A listener of its own for the ops endpoints (/_/health, /_/ready,
     * /_/stats, /_/metrics): plain HTTP on ops_host (NULL: `host`) and
     * ops_port; the other ports then answer them 404. */
    const char *ops_host; /* address of the ops listener (NULL: host); needs ops_port */
    int ops_port;         /* -1 (default): the ops endpoints on every port; 0: any free port */
} wsr_server_config_t;

/* Writes every default into `cfg` (borrowed) and records its size. Never
 * fails. A macro, so that the size is the one the caller compiled with. */
#define wsr_server_config_init(cfg) wsr_server_config_init_size((cfg), sizeof(*(cfg)))
WSR_API void wsr_server_config_init_size(wsr_server_config_t *cfg, size_t size);

/* A configuration read from files and flags: the settings, every string
 * they hold, and the program's own keys. Opaque. */
typedef struct wsr_config wsr_config_t;

/* Creates a configuration holding every default. Returns it (owned:
 * wsr_config_free) or NULL. */
WSR_API wsr_config_t *wsr_config_new(void);

/* Frees the configuration and the strings it read. NULL ignored. Settings
 * passed to wsr_server_new were copied: the server keeps working. */
WSR_API void wsr_config_free(wsr_config_t *config);

/* The settings (borrowed from `config`, valid until wsr_config_free). The
 * caller may change fields; strings it sets stay its own. */
WSR_API wsr_server_config_t *wsr_config_settings(wsr_config_t *config);

/*
 * Accepts `key` (borrowed; copied) in files and flags as a string the
 * program reads itself with wsr_config_get (wsrouterd's "modules").
 * Returns 0, WSR_EINVAL (empty, 32 bytes or more, or already a key) or
 * WSR_EOVERFLOW (more than 16 such keys).
 */
WSR_API WSR_NODISCARD int wsr_config_add_key(wsr_config_t *config, const char *key);

/* The value of a program key (borrowed from `config`), or NULL when unset. */
WSR_API const char *wsr_config_get(const wsr_config_t *config, const char *key);

/*
 * Loads a JSON configuration file (keys not in the file keep their values).
 * The whole file is validated before anything is changed: unknown keys,
 * wrong types and values out of range are refused, and `err` names the
 * file, line, column and key. Returns 0, WSR_EIO, WSR_EPARSE, WSR_EINVAL or
 * WSR_ENOMEM.
 */
WSR_API WSR_NODISCARD int wsr_config_load_file(wsr_config_t *config, const char *path,
                                               wsr_error_t *err);

/*
 * Where the value in force of `key` was read: writes "FILE:LINE:COLUMN" into
 * `buf` (`size` bytes, cut to fit), so that a program can place an error the
 * server finds later (a jwt_secret too short, an unknown module: err->key
 * names the key) as the loader places its own. Returns 0, or WSR_ENOENT
 * when the value is a default or came from a flag (or there is no such key).
 */
WSR_API int wsr_config_where(const wsr_config_t *config, const char *key, char *buf, size_t size);

/*
 * Lists the keys whose values differ between `a` and `b` (both borrowed; the
 * program keys are those of `a`), comma-separated in table order
 * ("port, origins"), into `out` (`size` bytes, cut to fit). Returns how many
 * differ. wsrouterd's SIGHUP compares the file read again with the one in
 * force, and names what needs a restart.
 */
WSR_API size_t wsr_config_diff(const wsr_config_t *a, const wsr_config_t *b, char *out,
                               size_t size);

/*
 * Sets one option by its configuration key from text (a command-line flag):
 * "port", "8080". Validated like the file. Returns 0, WSR_ENOENT (no such
 * key), WSR_EINVAL or WSR_ENOMEM; `err` says why.
 */
WSR_API WSR_NODISCARD int wsr_config_set(wsr_config_t *config, const char *key, const char *value,
                                         wsr_error_t *err);

/*
 * Creates a server from `cfg` (borrowed; copied), which must have been
 * initialised with wsr_server_config_init. Binds nothing yet.
 * Returns the server (owned: wsr_server_free) or NULL with `err` filled.
 */
WSR_API wsr_server_t *wsr_server_new(const wsr_server_config_t *cfg, wsr_error_t *err);

/* Returns the server's router (borrowed), to add route tables before start. */
WSR_API wsr_router_t *wsr_server_router(wsr_server_t *srv);

/* Returns the server's factory (borrowed from the server). */
WSR_API wsr_factory_t *wsr_server_factory(wsr_server_t *srv);

/*
 * Adds the built-in routes (if enabled), freezes the router, creates the event
 * loops and binds the listening sockets. Returns 0, or WSR_EIO (cannot bind,
 * `err` says which address), WSR_EAMBIGUOUS/WSR_EEXIST (the built-ins clash
 * with a table), WSR_ENOMEM. Call once, from the thread that will run it.
 */
WSR_API WSR_NODISCARD int wsr_server_start(wsr_server_t *srv, wsr_error_t *err);

/* Returns the TCP port the server listens on (after start), or -1. */
WSR_API int wsr_server_port(const wsr_server_t *srv);

/*
 * Serves until wsr_server_stop: loop 0 on the calling thread, the others on
 * threads of their own. Then drains: no new connections, requests in flight
 * answered (up to shutdown_timeout_ms), every connection closed with 1001.
 * Returns 0 after a clean drain, WSR_ETIMEDOUT when the deadline cut it short.
 */
WSR_API int wsr_server_run(wsr_server_t *srv);

/*
 * Asks the server to stop. Thread-safe and async: returns at once; run()
 * returns when the drain is over. Calling it more than once is harmless.
 * Not async-signal-safe: call it from a thread that waits for signals.
 */
WSR_API void wsr_server_stop(wsr_server_t *srv);

/*
 * Runs the server until the process gets SIGINT or SIGTERM, then drains it
 * (wsr_server_run's drain). The two signals are blocked in the calling
 * thread (threads it starts later inherit that) and waited for with
 * sigwait on a thread of the library's, so no handler is installed; the
 * previous mask is restored before it returns. Call instead of
 * wsr_server_run, from the thread that started the server, before any other
 * thread of the program is started if those threads must not receive the
 * two signals. Returns like wsr_server_run, or WSR_EIO when the signal
 * thread cannot start.
 */
WSR_API int wsr_server_run_until_signal(wsr_server_t *srv);

/* Returns the port of the wss:// listener (after start), or -1 when none. */
WSR_API int wsr_server_tls_port(const wsr_server_t *srv);

/* Returns the port of the raw TCP listener (after start), or -1 when none. */
WSR_API int wsr_server_raw_port(const wsr_server_t *srv);

/* Returns the port of the raw TCP over TLS listener (after start), or -1. */
WSR_API int wsr_server_raw_tls_port(const wsr_server_t *srv);

/* Returns the port of the ops listener (ops_port; after start), or -1. */
WSR_API int wsr_server_ops_port(const wsr_server_t *srv);

/*
 * Changes the log level (WSR_LOG_*) and the access log's switch of a
 * running server: every thread sees them from its next line on.
 * Thread-safe (wsrouterd calls it on SIGHUP).
 */
WSR_API void wsr_server_set_logging(wsr_server_t *srv, int log_level, bool access_log);

/*
 * Reloads the TLS certificate and key from their files, without dropping a
 * connection: new handshakes use the new pair. A pair that does not load or
 * does not match is refused and the old one kept (logged). Thread-safe and
 * async, like wsr_server_stop (wsrouterd calls it on SIGHUP).
 */
WSR_API void wsr_server_reload_certs(wsr_server_t *srv);

/*
 * Reads the identity provider's keys again (jwt_keys, jwt_jwks) and swaps
 * them in at once: tokens verified meanwhile use the old set or the new one,
 * never a mix, and connections already authenticated keep their sessions. A
 * file that does not load is refused and the keys in force are kept; the
 * log says why (and which keys of a JWKS were skipped). Thread-safe; it reads
 * the files on the calling thread, so call it from a thread that may block
 * (wsrouterd calls it on SIGHUP from its signal thread), after
 * wsr_server_start. `srv` is borrowed. Returns 0 (also when no keys are
 * configured), or the error of the load (WSR_EIO, WSR_EINVAL, WSR_ENOMEM).
 */
WSR_API int wsr_server_reload_keys(wsr_server_t *srv);

/*
 * Changes on a running server what may change without a restart: the
 * Origin allow-list (origins), the trusted proxies (trusted_proxies), the
 * connection limits (max_connections, max_connections_per_ip) and the
 * request rate limits (rate_limit_connection, rate_limit_address,
 * rate_limit_user, rate_burst), read from `cfg` (borrowed; initialised with
 * wsr_server_config_init; its other fields are ignored). Everything is
 * validated first: on an error nothing changed, and `err` says why (its
 * key names the setting). Connections already open keep working (one past
 * a lower limit stays); new handshakes and requests get the new values.
 * Thread-safe (wsrouterd calls it on SIGHUP); `srv` is borrowed. Returns 0,
 * WSR_EINVAL or WSR_ENOMEM.
 */
WSR_API WSR_NODISCARD int wsr_server_reconfigure(wsr_server_t *srv, const wsr_server_config_t *cfg,
                                                 wsr_error_t *err);

/*
 * The allocator for libwebsockets: lws_set_allocator(wsr_server_lws_realloc).
 * wsr_server_new sets it; a program that also uses libwebsockets itself may
 * set it earlier, before lws allocates anything. It allocates through
 * wsr_malloc's hooks (wsr_set_allocator), and gives each WebSocket's
 * receive buffer only the 145 bytes that libwebsockets 4.1's server side
 * writes there (control frames; data is read in place), not the 16 KiB it
 * asks for.
 */
WSR_API void *wsr_server_lws_realloc(void *ptr, size_t size, const char *reason);

/* Frees the server (after run returned, or if it never started). NULL ignored. */
WSR_API void wsr_server_free(wsr_server_t *srv);

#ifdef __cplusplus
}
#endif

#endif /* WSR_WSROUTER_SERVER_H */
