/* SPDX-License-Identifier: MIT */
/*
 * The server: turns a configuration into a factory, one libwebsockets context
 * per event loop (all listening on the same port with SO_REUSEPORT when there
 * are several), and the worker pool; runs the loops and drains them on stop.
 * It owns the loops and the factory. Only wsr_server_stop may be called from
 * another thread.
 */
#include "wsrouter/server.h"

#include <limits.h>
#include <netdb.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "services/auth_int.h"
#include "core/json_int.h"
#include "core/builtins_int.h"
#include "server/http_int.h"
#include "server/handshake_int.h"
#include "server/listener_int.h"
#include "services/pubsub_int.h"
#include "server/tls_int.h"
#include "core/router_int.h"
#include "server/loop_int.h"
#include "server/workers_int.h"

#define MAX_DEFAULT_LOOPS 64

struct wsr_server {
    struct lws_protocols protocols[4]; /* wsrouter.v1, the /_/ endpoints, listeners, end */
    wsr__http_mounts_t mounts;
    char *www_path;         /* owned: the absolute path of www, or NULL */
    wsr_factory_t *factory; /* owned */
    wsr__loop_t *loops;     /* owned array */
    unsigned nloops;
    int port;     /* ws://, or -1 */
    int tls_port; /* wss://, or -1 */
    char bind_addr[INET6_ADDRSTRLEN];
    bool started;
    bool ran;
};

void wsr_server_config_init(wsr_server_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->host = "127.0.0.1";
    cfg->port = 8080;
    cfg->log_level = WSR_LOG_NOTICE;
    cfg->max_message = 1024 * 1024;
    cfg->max_outbound = 8 * 1024 * 1024;
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
}

static int check_config(const wsr_server_config_t *cfg, wsr_error_t *err)
{
    if (cfg->port < 0 || cfg->port > 65535)
        return wsr__error_set(err, WSR_EINVAL, "port %d is not between 0 and 65535", cfg->port);
    if (cfg->max_message < 16)
        return wsr__error_set(err, WSR_EINVAL, "max_message must be at least 16 bytes");
    if (cfg->max_outbound < 1024)
        return wsr__error_set(err, WSR_EINVAL, "max_outbound must be at least 1024 bytes");
    if (cfg->max_depth < 1 || cfg->max_depth > WSR__JSON_MAX_DEPTH)
        return wsr__error_set(err, WSR_EINVAL, "max_depth must be from 1 to %u",
                              WSR__JSON_MAX_DEPTH);
    if (cfg->io_threads > WSR__MAX_LOOPS)
        return wsr__error_set(err, WSR_EINVAL, "io_threads must be at most %d", WSR__MAX_LOOPS);
    if (cfg->threads < 1 || cfg->queue_size < 1)
        return wsr__error_set(err, WSR_EINVAL, "threads and queue_size must be at least 1");
    if (cfg->request_timeout_ms < 1)
        return wsr__error_set(err, WSR_EINVAL, "request_timeout_ms must be at least 1");
    return 0;
}

wsr_server_t *wsr_server_new(const wsr_server_config_t *cfg, wsr_error_t *err)
{
    wsr_server_t *srv;

    if (check_config(cfg, err) != 0)
        return NULL;
    srv = wsr__calloc(1, sizeof(*srv));
    if (srv == NULL) {
        wsr__error_set(err, WSR_ENOMEM, "out of memory creating the server");
        return NULL;
    }
    srv->port = -1;
    srv->tls_port = -1;
    srv->factory = wsr__factory_new(cfg, err);
    if (srv->factory == NULL) {
        wsr__free(srv);
        return NULL;
    }
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

/* Resolves the configured host to a numeric address: lws binds to an
 * interface name or a literal address, not a host name. */
static int resolve_host(wsr_server_t *srv, wsr_error_t *err)
{
    const char *host = srv->factory->settings.host;
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
        inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr, srv->bind_addr,
                  sizeof(srv->bind_addr));
    else
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, srv->bind_addr,
                  sizeof(srv->bind_addr));
    freeaddrinfo(res);
    return 0;
}

/* The protocols list and the HTTP mounts every vhost shares. */
static int setup_http(wsr_server_t *srv, wsr_error_t *err)
{
    const char *www = srv->factory->settings.www;
    struct stat st;
    char *real;

    memset(srv->protocols, 0, sizeof(srv->protocols));
    srv->protocols[0].name = WSR_SUBPROTOCOL;
    srv->protocols[0].callback = wsr__protocol_callback;
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
static struct lws_vhost *create_vhost(wsr_server_t *srv, wsr__loop_t *loop, bool tls)
{
    const wsr__settings_t *s = &srv->factory->settings;
    struct lws_context_creation_info info;

    memset(&info, 0, sizeof(info));
    info.vhost_name = tls ? "wss" : "ws";
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = srv->protocols;
    info.mounts = wsr__http_mounts(&srv->mounts);
    info.user = loop;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    info.timeout_secs = (s->handshake_timeout_ms + 999) / 1000;
    info.timeout_secs_ah_idle = info.timeout_secs;
    info.keepalive_timeout = 5;
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
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS | LWS_SERVER_OPTION_VALIDATE_UTF8;
    /* OpenSSL's global init and cleanup belong to one context only: with it
     * on several, lws 4.1.6 leaves OpenSSL's global state behind at exit
     * (LeakSanitizer). The TLS vhosts still carry the option themselves. */
    if (s->tls_cert != NULL && loop->index == 0)
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    loop->ctx = lws_create_context(&info);
    if (loop->ctx == NULL)
        return wsr__error_set(err, WSR_EIO, "cannot create the event loop's context");
    loop->inbox->ctx = loop->ctx;
    for (unsigned k = 0; k < WSR__LISTENERS; k++) {
        wsr__listener_t *l = &loop->listeners[k];

        if (l->fd < 0)
            continue;
        l->vhost = create_vhost(srv, loop, k == WSR__LISTENER_WSS);
        if (l->vhost == NULL)
            return wsr__error_set(err, k == WSR__LISTENER_WSS ? WSR_ETLS : WSR_EIO,
                                  "cannot create the %s vhost%s", k ? "wss" : "ws",
                                  k ? " (check the certificate and key)" : "");
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
    f->loops = wsr__calloc(srv->nloops, sizeof(*f->loops));
    f->stats = wsr__calloc(srv->nloops, sizeof(*f->stats));
    if (srv->loops == NULL || f->loops == NULL || f->stats == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory creating the event loops");
    f->nloops = srv->nloops;
    for (i = 0; i < srv->nloops; i++)
        for (unsigned k = 0; k < WSR__LISTENERS; k++)
            srv->loops[i].listeners[k].fd = -1;
    if (!s->tls_only)
        rc = open_listeners(srv, WSR__LISTENER_WS, s->port, &srv->port, err);
    if (rc == 0 && s->tls_cert != NULL)
        rc = open_listeners(srv, WSR__LISTENER_WSS, s->tls_port, &srv->tls_port, err);
    for (i = 0; rc == 0 && i < srv->nloops; i++) {
        wsr__loop_t *loop = &srv->loops[i];

        loop->factory = f;
        loop->index = i;
        wsr__buf_init(&loop->scratch, 0, 0);
        wsr__buf_init(&loop->wbuf, LWS_PRE, 0);
        atomic_init(&loop->stop_requested, false);
        atomic_init(&loop->tid_set, false);
        f->stats[i] = wsr__stats_new(nroutes);
        loop->inbox = wsr__inbox_new();
        if (f->stats[i] == NULL || loop->inbox == NULL)
            return wsr__error_set(err, WSR_ENOMEM, "out of memory creating the event loops");
        loop->stats = f->stats[i];
        rc = create_context(srv, loop, err);
        f->loops[i] = loop;
    }
    return rc;
}

/* The store, and with it the token authority and the /auth routes. */
static int open_store(wsr_factory_t *f, wsr_error_t *err)
{
    const wsr__settings_t *s = &f->settings;

    if (s->store == NULL)
        return 0;
    f->store = wsr_store_open(s->store, s->store_full_sync, err);
    if (f->store == NULL)
        return err ? err->code : WSR_EIO;
    f->auth = wsr__auth_new(f, f->store, s->jwt_secret, s->token_ttl_s, err);
    if (f->auth == NULL)
        return err ? err->code : WSR_EIO;
    return wsr__auth_add_routes(f->router, err);
}

int wsr_server_start(wsr_server_t *srv, wsr_error_t *err)
{
    wsr_factory_t *f = srv->factory;
    int rc;

    if (srv->started)
        return wsr__error_set(err, WSR_ESTATE, "the server is already started");
    srv->started = true;
    if (f->settings.builtins) {
        rc = wsr__builtins_add(f->router, f, err);
        if (rc != 0)
            return rc;
    }
    if (f->settings.pubsub) {
        rc = wsr__pubsub_add_routes(f->router, err);
        if (rc != 0)
            return rc;
    }
    rc = open_store(f, err);
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
    f->workers = wsr__workers_new(f, f->settings.threads, f->settings.queue_size);
    if (f->workers == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "cannot start %u worker threads",
                              f->settings.threads);
    f->started_ns = wsr__now_ns();
    wsr__log(f, WSR_LOG_NOTICE,
             "listening on %s, ws port %d, wss port %d, %u event loop(s), %u worker(s)",
             srv->bind_addr, srv->port, srv->tls_port, srv->nloops, f->settings.threads);
    return 0;
}

/* Ends a loop on its own thread: late messages are dropped, pending replies
 * cancelled, and the context (with any connection left) destroyed. */
static void loop_finish(wsr__loop_t *loop)
{
    pthread_mutex_lock(&loop->inbox->lock);
    loop->inbox->closed = true;
    loop->inbox->ctx = NULL;
    pthread_mutex_unlock(&loop->inbox->lock);
    wsr__loop_drain_inbox(loop);
    wsr__reply_cancel_all(loop);
    wsr__session_unref(loop->pending_session);
    loop->pending_session = NULL;
    lws_context_destroy(loop->ctx);
    loop->ctx = NULL;
}

/* Services a loop until its drain is over. */
static void loop_service(wsr__loop_t *loop)
{
    loop->tid = pthread_self();
    atomic_store_explicit(&loop->tid_set, true, memory_order_release);
    if (atomic_load_explicit(&loop->stop_requested, memory_order_acquire))
        wsr__loop_begin_drain(loop);
    while (!loop->finished)
        if (lws_service(loop->ctx, 0) < 0)
            break;
}

static void *loop_main(void *arg)
{
    wsr__loop_t *loop = arg;

    loop_service(loop);
    loop_finish(loop);
    atomic_store_explicit(&loop->tid_set, false, memory_order_release);
    return NULL;
}

int wsr_server_run(wsr_server_t *srv)
{
    bool timed_out = false;
    unsigned i;

    if (!srv->started || srv->ran || srv->loops == NULL)
        return WSR_ESTATE;
    srv->ran = true;
    for (i = 1; i < srv->nloops; i++)
        srv->loops[i].thread_started =
            wsr__thread_start(&srv->loops[i].thread, loop_main, &srv->loops[i]) == 0;
    loop_service(&srv->loops[0]);
    for (i = 1; i < srv->nloops; i++) {
        if (srv->loops[i].thread_started)
            pthread_join(srv->loops[i].thread, NULL);
        else
            loop_main(&srv->loops[i]);
    }
    /* Loop 0's context owns OpenSSL's global state: it goes last. */
    loop_finish(&srv->loops[0]);
    atomic_store_explicit(&srv->loops[0].tid_set, false, memory_order_release);
    for (i = 0; i < srv->nloops; i++)
        timed_out = timed_out || srv->loops[i].drain_timed_out;
    return timed_out ? WSR_ETIMEDOUT : 0;
}

void wsr_server_stop(wsr_server_t *srv)
{
    for (unsigned i = 0; i < srv->nloops; i++) {
        wsr__inbox_t *in = srv->loops[i].inbox;

        atomic_store_explicit(&srv->loops[i].stop_requested, true, memory_order_release);
        if (in == NULL)
            continue;
        pthread_mutex_lock(&in->lock);
        if (!in->closed && in->ctx != NULL)
            lws_cancel_service(in->ctx);
        pthread_mutex_unlock(&in->lock);
    }
}

void wsr_server_free(wsr_server_t *srv)
{
    if (srv == NULL)
        return;
    /* Workers first: their late answers find closed inboxes and are dropped. */
    wsr__workers_free(srv->factory->workers);
    srv->factory->workers = NULL;
    /* In reverse, so loop 0 (which owns OpenSSL's global state) goes last. */
    for (unsigned i = srv->loops != NULL ? srv->nloops : 0; i-- > 0;) {
        wsr__loop_t *loop = &srv->loops[i];

        if (loop->ctx != NULL)
            loop_finish(loop);
        for (unsigned k = 0; k < WSR__LISTENERS; k++)
            if (loop->listeners[k].fd >= 0)
                close(loop->listeners[k].fd); /* never adopted */
        wsr__inbox_unref(loop->inbox);
        wsr__free(loop->slots);
        wsr__buf_dispose(&loop->scratch);
        wsr__buf_dispose(&loop->wbuf);
    }
    wsr__free(srv->loops);
    wsr__free(srv->www_path);
    wsr__factory_free(srv->factory);
    wsr__free(srv);
}
