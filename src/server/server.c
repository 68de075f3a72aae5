/* SPDX-License-Identifier: MIT */
/*
 * The server: turns a configuration into a factory, one libwebsockets context
 * per event loop (all listening on the same port with SO_REUSEPORT when there
 * are several), and the worker pool; runs the loops and drains them on stop.
 * It owns the loops, the pool, the connection limits and the factory, and
 * it is the factory's transport: services reach connections through it.
 * Only wsr_server_stop, wsr_server_reload_certs and wsr_server_reload_keys
 * may be called from another thread.
 */
#include "wsrouter/server.h"

#include <limits.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/crypto.h>

#include "core/json_int.h"
#include "core/router_int.h"
#include "server/admin_int.h"
#include "server/conn_int.h"
#include "server/idle_int.h"
#include "server/limits_int.h"
#include "server/ratelimit_int.h"
#include "server/listener_int.h"
#include "server/origins_int.h"
#include "server/proxies_int.h"
#include "server/stream_int.h"
#include "server/raw_int.h"
#include "server/server_int.h"
#include "server/tls_int.h"
#include "server/workers_int.h"
#include "services/auth_int.h"
#include "services/engine_int.h"
#include "services/pubsub_int.h"
#include "services/redisurl_int.h"
#include "services/throttle_int.h"

#define MAX_DEFAULT_LOOPS 64

void wsr_server_config_init_size(wsr_server_config_t *cfg, size_t size)
{
    memset(cfg, 0, WSR__MIN(size, sizeof(*cfg)));
    if (size < sizeof(*cfg)) {
        /* An older program's smaller struct: fill in what it has. */
        wsr_server_config_t full;

        wsr_server_config_init_size(&full, sizeof(full));
        memcpy(cfg, &full, size);
        cfg->size = size;
        return;
    }
    cfg->size = sizeof(*cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->log_level = WSR_LOG_NOTICE;
    cfg->max_message = 1024 * 1024;
    cfg->max_outbound = 8 * 1024 * 1024;
    cfg->rate_limit_connection = 5000;
    cfg->max_depth = 64;
    cfg->builtins = true;
    cfg->io_threads = 0; /* one event loop per core */
    cfg->threads = 4;
    cfg->queue_size = 1024;
    cfg->request_timeout_ms = 30000;
    cfg->shutdown_timeout_ms = 10000;
    cfg->pubsub = true;
    cfg->max_subscriptions = 1000;
    cfg->max_connections = 50000;
    cfg->tls_port = 8443;
    cfg->handshake_timeout_ms = 10000;
    cfg->max_header_bytes = 8192;
    cfg->idle_ping_ms = 30000;
    cfg->idle_close_ms = 60000;
    cfg->token_ttl_s = 3600;
    cfg->jwt_leeway_s = 30;
    cfg->max_call_input = 64;
    cfg->jwt_roles_claim = "roles";
    cfg->raw_port = -1;
    cfg->raw_tls_port = -1;
    cfg->history_ttl_s = 300;
    cfg->access_log = true;
    cfg->compression_min_bytes = 1024;
    cfg->ops_port = -1;
}

/* Names the configuration key an error is about (wsr_config_where places it). */
static void name_key(wsr_error_t *err, const char *key)
{
    if (err != NULL)
        snprintf(err->key, sizeof(err->key), "%s", key);
}

/* Parses the allow-list and the proxies of `cfg` into a new policy (owned),
 * or NULL with `err`. */
static wsr__policy_t *policy_new(const wsr_server_config_t *cfg, wsr_error_t *err)
{
    wsr__policy_t *p = wsr__calloc(1, sizeof(*p));

    if (p == NULL) {
        wsr__error_set(err, WSR_ENOMEM, "out of memory");
        return NULL;
    }
    if (wsr__origins_parse(cfg->origins, &p->origins, err) != 0) {
        name_key(err, "origins");
        wsr__free(p);
        return NULL;
    }
    if (wsr__proxies_parse(cfg->trusted_proxies, &p->proxies, err) != 0) {
        name_key(err, "trusted_proxies");
        wsr__origins_free(p->origins);
        wsr__free(p);
        return NULL;
    }
    return p;
}

/* Frees a policy and every one it replaced. */
static void policy_free(wsr__policy_t *p)
{
    while (p != NULL) {
        wsr__policy_t *older = p->older;

        wsr__origins_free(p->origins);
        wsr__proxies_free(p->proxies);
        wsr__free(p);
        p = older;
    }
}

/* The rate limits' check of check_config, on its own: SIGHUP runs it too. */
static int check_rates(const wsr_server_config_t *cfg, wsr_error_t *err)
{
    /* Written so that NaN fails too. */
    if (!(cfg->rate_limit_connection >= 0 && cfg->rate_limit_connection <= 1e9) ||
        !(cfg->rate_limit_address >= 0 && cfg->rate_limit_address <= 1e9) ||
        !(cfg->rate_limit_user >= 0 && cfg->rate_limit_user <= 1e9))
        return wsr__error_set(err, WSR_EINVAL,
                              "rate_limit_connection, rate_limit_address and rate_limit_user "
                              "must be from 0 (none) to 1e9 requests a second");
    return 0;
}

static int check_config(const wsr_server_config_t *cfg, wsr_error_t *err)
{
    if (cfg->port < 0 || cfg->port > 65535)
        return wsr__error_set(err, WSR_EINVAL, "port %d is not between 0 and 65535", cfg->port);
    if (cfg->max_message < 16)
        return wsr__error_set(err, WSR_EINVAL, "max_message must be at least 16 bytes");
    if (cfg->max_outbound < 1024)
        return wsr__error_set(err, WSR_EINVAL, "max_outbound must be at least 1024 bytes");
    if (check_rates(cfg, err) != 0)
        return WSR_EINVAL;
    if (cfg->max_depth < 1 || cfg->max_depth > WSR__JSON_MAX_DEPTH)
        return wsr__error_set(err, WSR_EINVAL, "max_depth must be from 1 to %u",
                              WSR__JSON_MAX_DEPTH);
    if (cfg->io_threads > WSR__MAX_LOOPS)
        return wsr__error_set(err, WSR_EINVAL, "io_threads must be at most %d", WSR__MAX_LOOPS);
    if (cfg->threads < 1 || cfg->queue_size < 1)
        return wsr__error_set(err, WSR_EINVAL, "threads and queue_size must be at least 1");
    if (cfg->request_timeout_ms < 1)
        return wsr__error_set(err, WSR_EINVAL, "request_timeout_ms must be at least 1");
    /* conn.c's guard around lws's inflater knows 4.1's layout only. */
    if (cfg->compression && (LWS_LIBRARY_VERSION_MAJOR != 4 || LWS_LIBRARY_VERSION_MINOR != 1))
        return wsr__error_set(err, WSR_EINVAL,
                              "compression needs libwebsockets 4.1 (this build has %s)",
                              LWS_LIBRARY_VERSION);
    if (cfg->compression_min_bytes > WSR__DEFLATE_MIN_MAX)
        return wsr__error_set(err, WSR_EINVAL, "compression_min_bytes must be at most %d",
                              WSR__DEFLATE_MIN_MAX);
    if (cfg->ops_port < -1 || cfg->ops_port > 65535)
        return wsr__error_set(err, WSR_EINVAL, "ops_port %d is not between -1 (none) and 65535",
                              cfg->ops_port);
    if (cfg->ops_host != NULL && cfg->ops_port < 0)
        return wsr__error_set(err, WSR_EINVAL,
                              "ops_host needs ops_port: the port of the ops listener");
    if (cfg->history_ttl_s < 1)
        return wsr__error_set(err, WSR_EINVAL, "history_ttl_s must be at least 1");
    if (cfg->engine != NULL && strcmp(cfg->engine, "memory") != 0) {
        wsr__redis_url_t url;

        if (wsr__redis_url_parse(cfg->engine, cfg->engine_password, &url, err) != 0)
            return WSR_EINVAL;
        OPENSSL_cleanse(&url, sizeof(url));
    }
    return 0;
}

/* ---- the factory's transport (factory_int.h): any thread ---- */

static wsr__loop_t *loop_for(wsr_server_t *srv, uint64_t id)
{
    unsigned li = WSR__ID_LOOP(id);

    if (!atomic_load_explicit(&srv->loops_ready, memory_order_acquire) || srv->loops == NULL ||
        li >= srv->nloops || WSR__ID_GEN(id) == 0 ||
        WSR__CONN_NODE(id) != atomic_load(&srv->node_id))
        return NULL;
    return &srv->loops[li];
}

static bool transport_valid(void *ctx, uint64_t id)
{
    return loop_for(ctx, id) != NULL;
}

/* Set while the thread serves an event loop (serve_loop). */
static _Thread_local bool on_loop_thread;

static bool transport_on_loop(void)
{
    return on_loop_thread;
}

static int transport_offload(void *ctx, void (*run)(void *), void (*cancel)(void *), void *arg)
{
    wsr_server_t *srv = ctx;

    /* Set before the loops start, cleared after they stopped. */
    if (srv->engine_pool == NULL)
        return WSR_ENOENT;
    return wsr__workers_submit(srv->engine_pool, run, cancel, arg);
}

/* A push of `n` bytes of JSON for connection `id`, re-encoded there in its
 * format; NULL when memory ran out. */
static wsr__msg_t *push_msg(uint64_t id, const void *json, size_t n)
{
    wsr__msg_t *m = wsr__msg_copy(json, n, false);

    if (m != NULL) {
        m->conn_id = id;
        m->json_push = 1;
    }
    return m;
}

static int transport_push(void *ctx, uint64_t id, const void *json, size_t n)
{
    wsr__loop_t *loop = loop_for(ctx, id);
    wsr__msg_t *m;

    if (loop == NULL)
        return WSR_ENOENT;
    m = push_msg(id, json, n);
    if (m == NULL)
        return WSR_ENOMEM;
    return wsr__loop_post(loop, m);
}

/* The lists push_many builds, one per loop (a loop's id has 8 bits). */
typedef struct fan {
    wsr__msg_t *head, *tail;
    size_t n;
} fan_t;

static size_t transport_push_many(void *ctx, const uint64_t *ids, size_t n, const void *json,
                                  size_t len, bool *nomem)
{
    wsr_server_t *srv = ctx;
    fan_t fans[256] = {{0}};
    size_t queued = 0;

    for (size_t i = 0; i < n; i++) {
        wsr__loop_t *loop = loop_for(srv, ids[i]);
        wsr__msg_t *m;
        fan_t *fan;

        if (loop == NULL)
            continue;
        m = push_msg(ids[i], json, len);
        if (m == NULL) {
            *nomem = true;
            continue;
        }
        fan = &fans[loop - srv->loops];
        if (fan->tail != NULL)
            fan->tail->next = m;
        else
            fan->head = m;
        fan->tail = m;
        fan->n++;
    }
    for (unsigned li = 0; li < srv->nloops && li < 256; li++)
        if (fans[li].head != NULL &&
            wsr__loop_post_list(&srv->loops[li], fans[li].head, fans[li].tail) == 0)
            queued += fans[li].n;
    return queued;
}

static void transport_session(void *ctx, uint64_t id, wsr__session_t *s, bool detach)
{
    wsr__loop_t *loop = loop_for(ctx, id);
    wsr__msg_t *m = loop ? wsr__msg_new_note(WSR__MSG_SESSION, id, detach ? 1 : 0) : NULL;

    if (m == NULL) {
        wsr__session_unref(s);
        return;
    }
    m->session = s;
    (void)wsr__loop_post(loop, m);
}

json_t *wsr__server_snapshot(wsr_server_t *srv)
{
    wsr_factory_t *f = srv->factory;
    json_t *snap =
        wsr__stats_snapshot(f->stats, f->nstats, f->router, wsr_factory_connection_count(f),
                            wsr__now_ns() - f->started_ns);
    json_t *tables = snap != NULL ? json_object() : NULL;

    if (snap != NULL) {
        wsr__engine_t *e = wsr__pubsub_engine(f->pubsub);

        (void)e->ops->describe(e, snap);
    }

    if (snap != NULL && srv->workers != NULL && wsr__workers_describe(srv->workers, snap) != 0) {
        json_decref(snap);
        snap = NULL;
    }
    /* The capped tables keyed by what clients choose: how full, and how
     * often a key found no room and shared the overflow entry. */
    if (snap != NULL &&
        (tables == NULL || (srv->rate != NULL && wsr__ratelimit_describe(srv->rate, tables) != 0) ||
         (f->throttle != NULL && wsr__throttle_describe(f->throttle, tables) != 0) ||
         json_object_set(snap, "tables", tables) != 0)) {
        json_decref(snap);
        snap = NULL;
    }
    json_decref(tables);
    return snap;
}

static json_t *stats_snapshot(void *ctx)
{
    return wsr__server_snapshot(ctx);
}

wsr_server_t *wsr_server_new(const wsr_server_config_t *given, wsr_error_t *err)
{
    wsr_server_config_t full, *cfg = &full;
    wsr_server_t *srv;
    wsr_factory_t *f;

    /* A program built against an older, shorter struct gets the defaults
     * of the fields it does not know. */
    if (given->size < offsetof(wsr_server_config_t, host) + sizeof(given->host) ||
        given->size > sizeof(full)) {
        wsr__error_set(err, WSR_EINVAL,
                       "the configuration was not initialised with wsr_server_config_init");
        return NULL;
    }
    wsr_server_config_init(&full);
    memcpy(&full, given, given->size);
    full.size = sizeof(full);
    if (check_config(cfg, err) != 0)
        return NULL;
    lws_set_allocator(wsr_server_lws_realloc);
    srv = wsr__calloc(1, sizeof(*srv));
    if (srv == NULL) {
        wsr__error_set(err, WSR_ENOMEM, "out of memory creating the server");
        return NULL;
    }
    atomic_init(&srv->node_id, 0);
    atomic_init(&srv->loops_ready, false);
    atomic_init(&srv->policy, NULL);
    if (pthread_mutex_init(&srv->reconfigure_lock, NULL) != 0) {
        wsr__free(srv);
        wsr__error_set(err, WSR_ENOMEM, "out of memory creating the server");
        return NULL;
    }
    srv->port = -1;
    srv->tls_port = -1;
    srv->raw_port = -1;
    srv->raw_tls_port = -1;
    srv->ops_port = -1;
    srv->factory = f = wsr__factory_new(cfg, err);
    if (f != NULL)
        atomic_store(&srv->policy, policy_new(cfg, err));
    if (f == NULL || atomic_load(&srv->policy) == NULL) {
        wsr_server_free(srv);
        return NULL;
    }
    srv->limits = wsr__limits_new(f->settings.max_connections, f->settings.max_connections_per_ip);
    srv->rate = wsr__ratelimit_new(cfg);
    if (srv->limits == NULL || srv->rate == NULL) {
        wsr_server_free(srv);
        wsr__error_set(err, WSR_ENOMEM, "out of memory creating the server");
        return NULL;
    }
    srv->stats.snapshot = stats_snapshot;
    srv->stats.admin_only = cfg->ops_token != NULL;
    srv->stats.ctx = srv;
    f->transport.push = transport_push;
    f->transport.push_many = transport_push_many;
    f->transport.session = transport_session;
    f->transport.valid = transport_valid;
    f->transport.on_loop = transport_on_loop;
    f->transport.offload = transport_offload;
    f->transport.ctx = srv;
    return srv;
}

wsr_router_t *wsr_server_router(wsr_server_t *srv)
{
    return srv->factory->router;
}

wsr_factory_t *wsr_server_factory(wsr_server_t *srv)
{
    return srv->factory;
}

int wsr_server_port(const wsr_server_t *srv)
{
    return srv->port;
}

int wsr_server_tls_port(const wsr_server_t *srv)
{
    return srv->tls_port;
}

int wsr_server_raw_port(const wsr_server_t *srv)
{
    return srv->raw_port;
}

int wsr_server_raw_tls_port(const wsr_server_t *srv)
{
    return srv->raw_tls_port;
}

int wsr_server_ops_port(const wsr_server_t *srv)
{
    return srv->ops_port;
}

void wsr_server_set_logging(wsr_server_t *srv, int log_level, bool access_log)
{
    atomic_store_explicit(&srv->factory->log_level, log_level, memory_order_relaxed);
    atomic_store_explicit(&srv->factory->access_log, access_log, memory_order_relaxed);
}

void wsr_server_reload_certs(wsr_server_t *srv)
{
    for (unsigned i = 0; i < srv->nloops; i++) {
        wsr__msg_t *m = wsr__msg_new_note(WSR__MSG_RELOAD, 0, 0);

        if (m != NULL && srv->loops[i].inbox != NULL)
            (void)wsr__inbox_post(srv->loops[i].inbox, m);
        else
            wsr__msg_free(m);
    }
}

int wsr_server_reload_keys(wsr_server_t *srv)
{
    wsr_factory_t *f = srv->factory;
    char notes[1024] = "";
    wsr_error_t err;
    size_t count = 0;
    int rc;

    memset(&err, 0, sizeof(err));
    rc = wsr__auth_reload_keys(f->auth, &count, notes, sizeof(notes), &err);
    if (rc != 0) {
        wsr__log(f, WSR_LOG_ERR, "identity-provider keys not reloaded, the %zu in force kept: %s",
                 count, err.text);
        return rc;
    }
    if (notes[0] != '\0')
        wsr__log(f, WSR_LOG_WARN, "identity-provider keys: %s", notes);
    if (count > 0)
        wsr__log(f, WSR_LOG_NOTICE, "identity-provider keys reloaded: %zu in force", count);
    return 0;
}

int wsr_server_reconfigure(wsr_server_t *srv, const wsr_server_config_t *given, wsr_error_t *err)
{
    wsr_server_config_t cfg;
    wsr__policy_t *p;
    int rc;

    if (given->size < offsetof(wsr_server_config_t, host) + sizeof(given->host) ||
        given->size > sizeof(cfg))
        return wsr__error_set(err, WSR_EINVAL,
                              "the configuration was not initialised with wsr_server_config_init");
    wsr_server_config_init(&cfg);
    memcpy(&cfg, given, given->size);
    /* Everything is checked, and everything that can fail is made, before
     * anything changes: the new values all, or none. */
    if (check_rates(&cfg, err) != 0)
        return WSR_EINVAL;
    p = policy_new(&cfg, err);
    if (p == NULL)
        return err != NULL ? err->code : WSR_EINVAL;
    pthread_mutex_lock(&srv->reconfigure_lock);
    rc = wsr__ratelimit_set(srv->rate, &cfg);
    if (rc != 0) {
        pthread_mutex_unlock(&srv->reconfigure_lock);
        policy_free(p);
        return wsr__error_set(err, rc, "out of memory");
    }
    wsr__limits_set(srv->limits, cfg.max_connections, cfg.max_connections_per_ip);
    p->older = atomic_load_explicit(&srv->policy, memory_order_relaxed);
    atomic_store_explicit(&srv->policy, p, memory_order_release);
    pthread_mutex_unlock(&srv->reconfigure_lock);
    return 0;
}

/* Resolves `host` to a numeric address into `out`: lws binds to an
 * interface name or a literal address, not a host name. */
static int resolve_one(const char *host, char *out, size_t size, wsr_error_t *err)
{
    struct addrinfo hints, *res = NULL;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || res == NULL)
        return wsr__error_set(err, WSR_EINVAL, "cannot resolve host %s: %s", host,
                              gai_strerror(rc));
    if (res->ai_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, out, (socklen_t)size);
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, out,
                  (socklen_t)size);
    freeaddrinfo(res);
    return 0;
}

/* The numeric addresses of `host` and, when there is one, of the ops listener. */
static int resolve_host(wsr_server_t *srv, wsr_error_t *err)
{
    const wsr__settings_t *s = &srv->factory->settings;
    int rc = resolve_one(s->host, srv->bind_addr, sizeof(srv->bind_addr), err);

    if (rc == 0 && s->ops_host != NULL)
        rc = resolve_one(s->ops_host, srv->ops_addr, sizeof(srv->ops_addr), err);
    return rc;
}

/* The protocols list and the HTTP mounts every vhost shares. */
static int setup_http(wsr_server_t *srv, wsr_error_t *err)
{
    const char *www = srv->factory->settings.www;
    struct stat st;
    char *real;

    memset(srv->protocols, 0, sizeof(srv->protocols));
    srv->protocols[0].name = WSR_SUBPROTOCOL;
    srv->protocols[0].callback = wsr__conn_callback;
    srv->protocols[0].per_session_data_size = wsr__conn_size;
    /* lws gives every WebSocket a receive buffer of this size (0 means the
     * 4 KiB service buffer): most of an idle connection's memory. Messages
     * arrive in chunks of at most this many bytes and are reassembled. */
    srv->protocols[0].rx_buffer_size = WSR__RX_CHUNK;
    /* Without this lws also cuts every send() to rx_buffer_size: a 64 KiB
     * reply would take 240 system calls. */
    srv->protocols[0].tx_packet_size = WSR__TX_CHUNK;
    srv->protocols[1].name = WSR__HTTP_PROTOCOL;
    srv->protocols[1].callback = wsr__http_callback;
    srv->protocols[1].per_session_data_size = wsr__http_session_size;
    srv->protocols[2].name = WSR__LISTEN_PROTOCOL;
    srv->protocols[2].callback = wsr__listen_callback;
    /* JSON-RPC 2.0 clients that ask for it by name: the same connections
     * (lws picks the entry by Sec-WebSocket-Protocol), their pushes as
     * JSON-RPC notifications (conn.c). */
    srv->protocols[3] = srv->protocols[0];
    srv->protocols[3].name = WSR_SUBPROTOCOL_JSONRPC;
    /* Raw TCP connections: the same per-connection state, no WebSocket. */
    srv->protocols[4].name = WSR__RAW_PROTOCOL;
    srv->protocols[4].callback = wsr__raw_callback;
    srv->protocols[4].per_session_data_size = wsr__conn_size;
    srv->protocols[4].rx_buffer_size = WSR__RAW_RX_CHUNK;
    srv->protocols[4].tx_packet_size = WSR__TX_CHUNK;
    /* The raw echo mode of the conformance suite (tests/conformance): the
     * same connections, whole messages echoed instead of routed. */
    if (srv->factory->settings.echo_mode) {
        srv->protocols[5] = srv->protocols[0];
        srv->protocols[5].name = WSR__ECHO_PROTOCOL;
    }
    memset(srv->ops_protocols, 0, sizeof(srv->ops_protocols));
    srv->ops_protocols[0] = srv->protocols[1];
    srv->ops_protocols[1] = srv->protocols[2];
    if (www != NULL) {
        real = realpath(www, NULL);
        if (real == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
            free(real);
            return wsr__error_set(err, WSR_EINVAL, "www %s is not a directory", www);
        }
        srv->www_path = wsr__strdup(real);
        free(real);
        if (srv->www_path == NULL)
            return wsr__error_set(err, WSR_ENOMEM, "out of memory");
    }
    wsr__http_mounts_init(&srv->mounts, srv->www_path);
    return 0;
}

/* One vhost of a loop's context: plain, or TLS. Neither listens itself:
 * listener.c accepts on the loop's sockets and adopts into them. */
static const char *const vhost_names[WSR__LISTENERS] = {"ws", "wss", "raw", "raws", "ops"};

static struct lws_vhost *create_vhost(wsr_server_t *srv, wsr__loop_t *loop, unsigned k)
{
    const wsr__settings_t *s = &srv->factory->settings;
    struct lws_context_creation_info info;
    bool tls = k == WSR__LISTENER_WSS || k == WSR__LISTENER_RAWS;

    memset(&info, 0, sizeof(info));
    info.vhost_name = vhost_names[k];
    /* lws moves an HTTP request to the first vhost of the same listen_port
     * its Host header does not name: the ops vhost has a port value of its
     * own (it listens no more than the others), so it keeps its requests
     * and the others never get its protocols. */
    info.port = k == WSR__LISTENER_OPS ? CONTEXT_PORT_NO_LISTEN : CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = k == WSR__LISTENER_OPS ? srv->ops_protocols : srv->protocols;
    info.mounts = k == WSR__LISTENER_OPS ? &srv->mounts.ops : wsr__http_mounts(&srv->mounts);
    info.user = loop;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.timeout_secs = (s->handshake_timeout_ms + 999) / 1000;
    info.timeout_secs_ah_idle = info.timeout_secs;
    info.keepalive_timeout = 5;
    if (s->compression)
        info.extensions = wsr__conn_extensions;
    if (tls)
        wsr__tls_vhost_info(&info, s);
    return lws_create_vhost(loop->ctx, &info);
}

static int create_context(wsr_server_t *srv, wsr__loop_t *loop, wsr_error_t *err)
{
    const wsr__settings_t *s = &srv->factory->settings;
    struct lws_context_creation_info info;

    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.user = loop;
    info.gid = -1;
    info.uid = -1;
    info.server_string = "wsrouter";
    info.max_http_header_data2 = s->max_header_bytes;
    info.pt_serv_buf_size = WSR__SERV_BUF;
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
    /* OpenSSL's global init and cleanup belong to one context only: with it
     * on several, lws 4.1.6 leaves OpenSSL's global state behind at exit
     * (LeakSanitizer). The TLS vhosts still carry the option themselves. */
    if (s->tls_cert != NULL && loop->index == 0)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    loop->ctx = lws_create_context(&info);
    if (loop->ctx == NULL)
        return wsr__error_set(err, WSR_EIO, "cannot create the event loop's context");
    wsr__inbox_set_ctx(loop->inbox, loop->ctx);
    wsr__http_guard_files(loop->ctx);
    for (unsigned k = 0; k < WSR__LISTENERS; k++) {
        wsr__listener_t *l = &loop->listeners[k];

        if (l->fd < 0)
            continue;
        bool tls = k == WSR__LISTENER_WSS || k == WSR__LISTENER_RAWS;

        l->vhost = create_vhost(srv, loop, k);
        if (l->vhost == NULL)
            return wsr__error_set(err, tls ? WSR_ETLS : WSR_EIO, "cannot create the %s vhost%s",
                                  vhost_names[k], tls ? " (check the certificate and key)" : "");
        if (wsr__listen_adopt(loop, k) != 0)
            return wsr__error_set(err, WSR_EIO, "cannot watch the listening socket");
    }
    wsr__idle_start(loop);
    return 0;
}

/* Opens listener `k` of every loop on `port`; *bound gets the real port. */
static int open_listeners(wsr_server_t *srv, unsigned k, int port, int *bound, wsr_error_t *err)
{
    int *fds = wsr__calloc(srv->nloops, sizeof(*fds));
    int rc;

    if (fds == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory creating the event loops");
    rc = wsr__listen_open(srv->bind_addr, port, srv->nloops, fds, bound, err);
    for (unsigned i = 0; rc == 0 && i < srv->nloops; i++)
        srv->loops[i].listeners[k].fd = fds[i];
    wsr__free(fds);
    return rc;
}

static int create_loops(wsr_server_t *srv, wsr_error_t *err)
{
    wsr_factory_t *f = srv->factory;
    const wsr__settings_t *s = &f->settings;
    size_t nroutes = wsr_router_count(f->router);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned i;
    int rc = 0;

    srv->nloops = s->io_threads;
    if (srv->nloops == 0)
        srv->nloops = cores > 0 ? (unsigned)WSR__MIN(cores, MAX_DEFAULT_LOOPS) : 1;
    srv->loops = wsr__calloc(srv->nloops, sizeof(*srv->loops));
    f->stats = wsr__calloc(srv->nloops, sizeof(*f->stats));
    if (srv->loops == NULL || f->stats == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory creating the event loops");
    f->nstats = srv->nloops;
    for (i = 0; i < srv->nloops; i++) {
        wsr__loop_t *loop = &srv->loops[i];

        f->stats[i] = wsr__stats_new(nroutes);
        if (f->stats[i] == NULL || wsr__loop_init(loop, srv, i, f->stats[i]) != 0)
            return wsr__error_set(err, WSR_ENOMEM, "out of memory creating the event loops");
        loop->factory = f;
        loop->limits = srv->limits;
        loop->rate = srv->rate;
        loop->policy = &srv->policy;
    }
    if (!s->tls_only)
        rc = open_listeners(srv, WSR__LISTENER_WS, s->port, &srv->port, err);
    if (rc == 0 && s->tls_cert != NULL)
        rc = open_listeners(srv, WSR__LISTENER_WSS, s->tls_port, &srv->tls_port, err);
    if (rc == 0 && s->raw_port >= 0)
        rc = open_listeners(srv, WSR__LISTENER_RAW, s->raw_port, &srv->raw_port, err);
    if (rc == 0 && s->raw_tls_port >= 0 && s->tls_cert == NULL)
        rc = wsr__error_set(err, WSR_EINVAL, "raw_tls_port needs tls_cert and tls_key");
    if (rc == 0 && s->raw_tls_port >= 0)
        rc = open_listeners(srv, WSR__LISTENER_RAWS, s->raw_tls_port, &srv->raw_tls_port, err);
    /* The ops listener: one socket, on loop 0 (health checks and scrapes). */
    if (rc == 0 && s->ops_host != NULL)
        rc = wsr__listen_open(srv->ops_addr, s->ops_port, 1,
                              &srv->loops[0].listeners[WSR__LISTENER_OPS].fd, &srv->ops_port, err);
    for (i = 0; rc == 0 && i < srv->nloops; i++)
        rc = create_context(srv, &srv->loops[i], err);
    return rc;
}

/* The start-up line: the listeners there are (none shown as port -1). */
static void log_listening(const wsr_server_t *srv)
{
    static const char *const names[] = {"ws", "wss", "tcp", "tcp+tls", "ops"};
    const int ports[] = {srv->port, srv->tls_port, srv->raw_port, srv->raw_tls_port, srv->ops_port};
    char list[160] = "";
    size_t n = 0;

    for (size_t i = 0; i < WSR__ARRAY_SIZE(names); i++)
        if (ports[i] >= 0 && n < sizeof(list))
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s port %d", n ? ", " : "",
                                  names[i], ports[i]);
    wsr__log(srv->factory, WSR_LOG_NOTICE, "listening on %s, %s, %u event loop(s), %u worker(s)",
             srv->bind_addr, list, srv->nloops, srv->factory->settings.threads);
}

int wsr_server_start(wsr_server_t *srv, wsr_error_t *err)
{
    wsr_factory_t *f = srv->factory;
    int rc;

    if (srv->started)
        return wsr__error_set(err, WSR_ESTATE, "the server is already started");
    srv->started = true;
    if (f->settings.builtins) {
        rc = wsr__builtins_add(f->router, &srv->stats, err);
        if (rc == 0)
            rc = wsr__stream_add_routes(f->router, srv, err);
        if (rc == 0)
            rc = wsr__admin_add_routes(f->router, srv, err);
        if (rc != 0)
            return rc;
    }
    if (f->settings.pubsub) {
        rc = wsr__pubsub_add_routes(f->router, err);
        if (rc != 0)
            return rc;
    }
    rc = wsr__factory_open_store(f, err);
    if (rc == 0) {
        /* The node id is known once Redis gave it: set before the engine's
         * thread starts, read by loop_for on any thread. */
        rc = wsr__pubsub_open_engine(f, err);
        atomic_store(&srv->node_id, f->node_id);
    }
    if (rc != 0)
        return rc;
    wsr__router_freeze(f->router);
    rc = setup_http(srv, err);
    if (rc == 0)
        rc = wsr__tls_check_files(&f->settings, err);
    if (rc == 0)
        rc = resolve_host(srv, err);
    if (rc == 0)
        rc = create_loops(srv, err);
    if (rc != 0)
        return rc;
    srv->workers = wsr__workers_new(f->settings.threads, f->settings.queue_size);
    srv->lane = wsr__workers_new(WSR__MAX(f->settings.threads / 2, 1u), f->settings.queue_size);
    if (srv->workers == NULL || srv->lane == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "cannot start %u worker threads",
                              f->settings.threads);
    /* One thread, so that a connection's subscribe, publish and close reach
     * Redis in the order they came (node_id: the Redis engine is on). */
    if (f->node_id != 0) {
        srv->engine_pool = wsr__workers_new(1, f->settings.queue_size);
        if (srv->engine_pool == NULL)
            return wsr__error_set(err, WSR_ENOMEM, "cannot start the engine's worker thread");
    }
    for (unsigned i = 0; i < srv->nloops; i++) {
        srv->loops[i].workers = srv->workers;
        srv->loops[i].lane = srv->lane;
        srv->loops[i].engine_pool = srv->engine_pool;
    }
    atomic_store_explicit(&srv->loops_ready, true, memory_order_release);
    f->started_ns = wsr__now_ns();
    log_listening(srv);
    return 0;
}

/* Serves `loop` on the calling thread, which is an event loop meanwhile
 * (transport_on_loop). */
static void serve_loop(wsr__loop_t *loop)
{
    on_loop_thread = true;
    wsr__loop_service(loop);
    on_loop_thread = false;
}

static void *loop_main(void *arg)
{
    wsr__loop_t *loop = arg;

    serve_loop(loop);
    wsr__loop_finish(loop);
    return NULL;
}

int wsr_server_run(wsr_server_t *srv)
{
    bool timed_out = false, stuck, lane_stuck, engine_stuck;
    unsigned deadline;
    unsigned i;

    if (!srv->started || srv->ran || srv->loops == NULL)
        return WSR_ESTATE;
    srv->ran = true;
    for (i = 1; i < srv->nloops; i++)
        srv->loops[i].thread_started =
            wsr__thread_start(&srv->loops[i].thread, loop_main, &srv->loops[i]) == 0;
    serve_loop(&srv->loops[0]);
    for (i = 1; i < srv->nloops; i++) {
        if (srv->loops[i].thread_started)
            pthread_join(srv->loops[i].thread, NULL);
        else
            loop_main(&srv->loops[i]);
    }
    /* Loop 0's context owns OpenSSL's global state: it goes last. */
    wsr__loop_finish(&srv->loops[0]);
    /* Handlers still running on workers get the drain's deadline once more,
     * then the process may exit whatever they do. */
    deadline = WSR__MAX(srv->factory->settings.shutdown_timeout_ms, 1u);
    stuck = wsr__workers_free(srv->workers, deadline) == WSR_ETIMEDOUT;
    lane_stuck = wsr__workers_free(srv->lane, deadline) == WSR_ETIMEDOUT;
    engine_stuck = wsr__workers_free(srv->engine_pool, deadline) == WSR_ETIMEDOUT;
    if (engine_stuck)
        wsr__workers_abandon(srv->engine_pool);
    else
        srv->engine_pool = NULL;
    if (stuck)
        wsr__workers_abandon(srv->workers);
    else
        srv->workers = NULL;
    if (lane_stuck)
        wsr__workers_abandon(srv->lane);
    else
        srv->lane = NULL;
    if (stuck || lane_stuck || engine_stuck) {
        wsr__log(srv->factory, WSR_LOG_ERR,
                 "a handler is still running past the shutdown deadline; leaving it");
        srv->workers_stuck = true;
        return WSR_ETIMEDOUT;
    }
    for (i = 0; i < srv->nloops; i++)
        timed_out = timed_out || srv->loops[i].drain_timed_out;
    return timed_out ? WSR_ETIMEDOUT : 0;
}

/* The signal thread of wsr_server_run_until_signal. */
typedef struct signal_wait {
    wsr_server_t *srv;
    sigset_t set;
} signal_wait_t;

static void *wait_for_signal(void *arg)
{
    signal_wait_t *sw = arg;
    int sig = 0;

    /* SIGUSR2 is how run_until_signal ends this thread when the server
     * stopped for another reason; it is in the set only for that. */
    while (sigwait(&sw->set, &sig) != 0)
        ;
    if (sig != SIGUSR2) {
        wsr__log(sw->srv->factory, WSR_LOG_NOTICE, "%s: draining",
                 sig == SIGINT ? "SIGINT" : "SIGTERM");
        wsr_server_stop(sw->srv);
    }
    return NULL;
}

int wsr_server_run_until_signal(wsr_server_t *srv)
{
    signal_wait_t sw;
    sigset_t old;
    pthread_t t;
    int rc;

    sw.srv = srv;
    sigemptyset(&sw.set);
    sigaddset(&sw.set, SIGINT);
    sigaddset(&sw.set, SIGTERM);
    sigaddset(&sw.set, SIGUSR2);
    /* Blocked before any loop or worker thread exists, so every thread of
     * the server inherits the mask and the signal thread alone takes them. */
    if (pthread_sigmask(SIG_BLOCK, &sw.set, &old) != 0)
        return WSR_EIO;
    if (wsr__thread_start(&t, wait_for_signal, &sw) != 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return WSR_EIO;
    }
    rc = wsr_server_run(srv);
    pthread_kill(t, SIGUSR2); /* harmless when it already returned */
    pthread_join(t, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void wsr_server_stop(wsr_server_t *srv)
{
    for (unsigned i = 0; i < srv->nloops; i++) {
        atomic_store_explicit(&srv->loops[i].stop_requested, true, memory_order_release);
        if (srv->loops[i].inbox != NULL)
            wsr__inbox_wake(srv->loops[i].inbox);
    }
}

void wsr_server_free(wsr_server_t *srv)
{
    wsr__engine_t *engine = NULL;

    if (srv == NULL)
        return;
    /* The engine's thread delivers into the loops (through srv): it stops
     * first, before anything it reads changes, also when a stuck handler
     * keeps the factory below. */
    if (srv->factory != NULL && srv->factory->pubsub != NULL)
        engine = wsr__pubsub_engine(srv->factory->pubsub);
    if (engine != NULL)
        engine->ops->stop(engine);
    /* Then the workers: their late answers find closed inboxes and are dropped.
     * A pool left with a stuck handler keeps it and everything it may touch
     * (the factory); the process is about to exit. */
    if (srv->workers_stuck) {
        srv->factory = NULL;
    } else {
        (void)wsr__workers_free(srv->workers, 0);
        (void)wsr__workers_free(srv->lane, 0);
        (void)wsr__workers_free(srv->engine_pool, 0);
        srv->workers = NULL;
        srv->lane = NULL;
        srv->engine_pool = NULL;
    }
    /* In reverse, so loop 0 (which owns OpenSSL's global state) goes last. */
    for (unsigned i = srv->loops != NULL ? srv->nloops : 0; i-- > 0;) {
        wsr__loop_t *loop = &srv->loops[i];

        if (loop->ctx != NULL)
            wsr__loop_finish(loop);
        for (unsigned k = 0; k < WSR__LISTENERS; k++)
            if (loop->listeners[k].fd >= 0)
                close(loop->listeners[k].fd); /* never adopted */
        wsr__loop_dispose(loop);
    }
    wsr__free(srv->loops);
    wsr__free(srv->www_path);
    policy_free(atomic_load(&srv->policy));
    pthread_mutex_destroy(&srv->reconfigure_lock);
    wsr__limits_free(srv->limits);
    wsr__ratelimit_free(srv->rate);
    wsr__factory_free(srv->factory);
    wsr__free(srv);
}
