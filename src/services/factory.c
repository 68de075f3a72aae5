/* SPDX-License-Identifier: MIT */
/*
 * The factory (aiorest-ws's RequestHandlerFactory): one per server, holding
 * what outlives a connection: the router, the settings, the statistics and
 * the event loops that register live connections. It routes pushes to the
 * loop that owns a connection. It owns the router, the settings and the
 * statistics blocks; the server owns the loops.
 */
#include "services/factory_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/codec_int.h"
#include "core/json_int.h"
#include "server/loop_int.h"
#include <openssl/crypto.h>

#include "services/auth_int.h"
#include "server/handshake_int.h"
#include "server/limits_int.h"
#include "services/pubsub_int.h"

wsr__msg_t *wsr__msg_take(wsr__buf_t *b, bool binary)
{
    wsr__msg_t *m;

    /* An empty payload still needs the header's memory. */
    if (b->data == NULL && wsr__buf_reserve(b, 1) != 0)
        return NULL;
    m = (wsr__msg_t *)b->data;
    memset(m, 0, sizeof(*m));
    m->len = wsr__buf_payload_len(b);
    m->binary = (uint8_t)binary;
    b->data = NULL;
    b->cap = 0;
    b->len = b->head;
    return m;
}

wsr__msg_t *wsr__msg_new_note(int kind, uint64_t conn_id, uint16_t code)
{
    wsr__msg_t *m = wsr__calloc(1, WSR__MSG_HEAD);

    if (m == NULL)
        return NULL;
    m->kind = (uint8_t)kind;
    m->conn_id = conn_id;
    m->code = code;
    return m;
}

void wsr__msg_free(wsr__msg_t *m)
{
    if (m == NULL)
        return;
    wsr__session_unref(m->session);
    wsr__reply_unref(m->reply);
    wsr__free(m);
}

int wsr__response_encode(wsr__buf_t *out, const wsr_response_t *res, const json_t *id,
                         const json_t *event_name, bool head, wsr_format_t fmt, wsr__buf_t *scratch)
{
    wsr__reply_view_t v;

    v.status = res->status;
    v.data = head ? NULL : res->data;
    v.detail = res->detail;
    v.errors = res->errors;
    v.allow = res->allow;
    v.id = id;
    v.event_name = event_name;
    return wsr__codec_encode_reply(out, &v, fmt, scratch);
}

/* Copies an optional string; returns nonzero when memory ran out. */
static int copy_opt(char **out, const char *in)
{
    *out = in ? wsr__strdup(in) : NULL;
    return in != NULL && *out == NULL;
}

static int copy_settings(wsr__settings_t *s, const wsr_server_config_t *cfg)
{
    memset(s, 0, sizeof(*s));
    s->host = wsr__strdup(cfg->host ? cfg->host : "127.0.0.1");
    if (s->host == NULL || copy_opt(&s->www, cfg->www) || copy_opt(&s->tls_cert, cfg->tls_cert) ||
        copy_opt(&s->tls_key, cfg->tls_key) || copy_opt(&s->tls_client_ca, cfg->tls_client_ca) ||
        copy_opt(&s->store, cfg->store) || copy_opt(&s->jwt_secret, cfg->jwt_secret))
        return WSR_ENOMEM;
    s->port = cfg->port;
    s->max_message = cfg->max_message;
    s->max_outbound = cfg->max_outbound;
    s->max_depth = cfg->max_depth;
    s->builtins = cfg->builtins;
    s->pubsub = cfg->pubsub;
    s->max_subscriptions = cfg->max_subscriptions;
    s->io_threads = cfg->io_threads;
    s->threads = cfg->threads;
    s->queue_size = cfg->queue_size;
    s->request_timeout_ms = cfg->request_timeout_ms;
    s->shutdown_timeout_ms = cfg->shutdown_timeout_ms;
    s->max_connections = cfg->max_connections;
    s->max_connections_per_ip = cfg->max_connections_per_ip;
    s->tls_port = cfg->tls_port;
    s->tls_only = cfg->tls_only;
    s->tls_client_auth = cfg->tls_client_auth;
    s->handshake_timeout_ms = cfg->handshake_timeout_ms;
    s->max_header_bytes = cfg->max_header_bytes;
    s->idle_ping_ms = cfg->idle_ping_ms;
    s->idle_close_ms = cfg->idle_close_ms;
    s->store_full_sync = cfg->store_sync == WSR_STORE_SYNC_FULL;
    s->token_ttl_s = cfg->token_ttl_s;
    return 0;
}

wsr_factory_t *wsr__factory_new(const wsr_server_config_t *cfg, wsr_error_t *err)
{
    wsr_factory_t *f = wsr__calloc(1, sizeof(*f));

    if (f == NULL)
        goto fail;
    f->router = wsr_router_new();
    if (f->router == NULL || copy_settings(&f->settings, cfg) != 0)
        goto fail;
    if (wsr__origins_parse(cfg->origins, &f->settings.origins, err) != 0) {
        wsr__factory_free(f);
        return NULL;
    }
    f->pubsub = wsr__pubsub_new(f->settings.max_subscriptions);
    f->limits = wsr__limits_new(f->settings.max_connections, f->settings.max_connections_per_ip);
    if (f->pubsub == NULL || f->limits == NULL)
        goto fail;
    atomic_init(&f->open_connections, 0);
    f->log = cfg->log;
    f->log_user = cfg->log_user;
    f->log_level = cfg->log_level;
    f->started_ns = wsr__now_ns();
    return f;
fail:
    wsr__factory_free(f);
    wsr__error_set(err, WSR_ENOMEM, "out of memory creating the server");
    return NULL;
}

void wsr__factory_free(wsr_factory_t *f)
{
    if (f == NULL)
        return;
    for (unsigned i = 0; f->stats != NULL && i < f->nloops; i++)
        wsr__stats_free(f->stats[i]);
    wsr__free(f->stats);
    wsr__free(f->loops);
    wsr_router_free(f->router);
    wsr__auth_free(f->auth);
    wsr_store_close(f->store);
    wsr__pubsub_free(f->pubsub);
    wsr__limits_free(f->limits);
    wsr__free(f->settings.host);
    wsr__free(f->settings.www);
    wsr__free(f->settings.tls_cert);
    wsr__free(f->settings.tls_key);
    wsr__free(f->settings.tls_client_ca);
    wsr__origins_free(f->settings.origins);
    wsr__free(f->settings.store);
    if (f->settings.jwt_secret != NULL)
        OPENSSL_cleanse(f->settings.jwt_secret, strlen(f->settings.jwt_secret));
    wsr__free(f->settings.jwt_secret);
    wsr__free(f);
}

int wsr__factory_post(wsr_factory_t *f, wsr__msg_t *m)
{
    unsigned li = WSR__ID_LOOP(m->conn_id);
    wsr__loop_t *loop;

    if (f->loops == NULL || li >= f->nloops || f->loops[li] == NULL) {
        wsr__msg_free(m);
        return WSR_ENOENT;
    }
    loop = f->loops[li];
    /* On the connection's own loop (a handler pushing to its caller, or
     * publishing to a neighbour) deliver at once: the push then precedes
     * the reply the handler is about to give, and skips a lock and a wake. */
    if (m->reply == NULL && wsr__on_loop_thread(loop))
        return wsr__loop_deliver_now(loop, m);
    return wsr__inbox_post(loop->inbox, m) ? WSR_ENOENT : 0;
}

int wsr_push(wsr_factory_t *f, uint64_t connection_id, const char *event_name, json_t *data)
{
    wsr__buf_t b, scratch;
    wsr__msg_t *m;
    int rc;

    if (f == NULL || event_name == NULL)
        return WSR_EINVAL;
    if (WSR__ID_LOOP(connection_id) >= f->nloops || WSR__ID_GEN(connection_id) == 0)
        return WSR_ENOENT;
    wsr__buf_init(&b, WSR__MSG_HEAD, 0);
    wsr__buf_init(&scratch, 0, 0);
    rc = wsr__codec_encode_push(&b, event_name, NULL, data, WSR_FORMAT_JSON, &scratch);
    m = rc == 0 ? wsr__msg_take(&b, false) : NULL;
    wsr__buf_dispose(&b);
    wsr__buf_dispose(&scratch);
    if (m == NULL)
        return rc ? rc : WSR_ENOMEM;
    m->conn_id = connection_id;
    m->json_push = 1;
    return wsr__factory_post(f, m);
}

wsr_store_t *wsr_factory_store(wsr_factory_t *f)
{
    return f ? f->store : NULL;
}

unsigned wsr_factory_connection_count(const wsr_factory_t *f)
{
    return atomic_load_explicit(&((wsr_factory_t *)f)->open_connections, memory_order_relaxed);
}

void wsr_factory_log(const wsr_factory_t *f, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (f == NULL || f->log == NULL || level > f->log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    f->log(f->log_user, level, line);
}
