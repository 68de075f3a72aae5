/* SPDX-License-Identifier: MIT */
/*
 * The factory (aiorest-ws's RequestHandlerFactory): one per server, holding
 * what outlives a connection: the router, the settings, the statistics, the
 * store with the token authority, and the subscriptions. It owns all of
 * them. It never touches a socket: pushes leave through the transport the
 * server installs (factory_int.h).
 */
#include "services/factory_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/codec_int.h"
#include "core/json_int.h"
#include "services/auth_int.h"
#include "services/pubsub_int.h"

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
        copy_opt(&s->store, cfg->store) || copy_opt(&s->origins, cfg->origins) ||
        copy_opt(&s->trusted_proxies, cfg->trusted_proxies) ||
        copy_opt(&s->jwt_keys, cfg->jwt_keys) || copy_opt(&s->jwt_jwks, cfg->jwt_jwks) ||
        copy_opt(&s->jwt_issuer, cfg->jwt_issuer) ||
        copy_opt(&s->jwt_audience, cfg->jwt_audience) ||
        copy_opt(&s->jwt_roles_claim, cfg->jwt_roles_claim ? cfg->jwt_roles_claim : "roles") ||
        copy_opt(&s->jwt_secret, cfg->jwt_secret))
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
    s->jwt_leeway_s = cfg->jwt_leeway_s;
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
    f->pubsub = wsr__pubsub_new(f->settings.max_subscriptions);
    if (f->pubsub == NULL)
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
    for (unsigned i = 0; f->stats != NULL && i < f->nstats; i++)
        wsr__stats_free(f->stats[i]);
    wsr__free(f->stats);
    wsr_router_free(f->router);
    wsr__auth_free(f->auth);
    wsr_store_close(f->store);
    wsr__pubsub_free(f->pubsub);
    wsr__free(f->settings.host);
    wsr__free(f->settings.www);
    wsr__free(f->settings.tls_cert);
    wsr__free(f->settings.tls_key);
    wsr__free(f->settings.tls_client_ca);
    wsr__free(f->settings.origins);
    wsr__free(f->settings.trusted_proxies);
    wsr__free(f->settings.jwt_keys);
    wsr__free(f->settings.jwt_jwks);
    wsr__free(f->settings.jwt_issuer);
    wsr__free(f->settings.jwt_audience);
    wsr__free(f->settings.jwt_roles_claim);
    wsr__free(f->settings.store);
    if (f->settings.jwt_secret != NULL)
        OPENSSL_cleanse(f->settings.jwt_secret, strlen(f->settings.jwt_secret));
    wsr__free(f->settings.jwt_secret);
    wsr__free(f);
}

int wsr__factory_open_store(wsr_factory_t *f, wsr_error_t *err)
{
    const wsr__settings_t *s = &f->settings;

    if (s->store == NULL)
        return 0;
    f->store = wsr_store_open(s->store, s->store_full_sync, err);
    if (f->store == NULL)
        return err ? err->code : WSR_EIO;
    f->auth = wsr__auth_new(f->store, s->jwt_secret, s->token_ttl_s, err);
    if (f->auth == NULL)
        return err ? err->code : WSR_EIO;
    return wsr__auth_routes_add(f->router, err);
}

int wsr_push(wsr_factory_t *f, wsr_conn_id_t connection_id, const char *event_name, json_t *data)
{
    wsr__buf_t b, scratch;
    int rc;

    if (f == NULL || event_name == NULL)
        return WSR_EINVAL;
    if (f->transport.push == NULL || !f->transport.valid(f->transport.ctx, connection_id))
        return WSR_ENOENT;
    wsr__buf_init(&b, 0, 0);
    wsr__buf_init(&scratch, 0, 0);
    rc = wsr__codec_encode_push(&b, event_name, NULL, data, WSR_FORMAT_JSON, &scratch);
    if (rc == 0)
        rc = f->transport.push(f->transport.ctx, connection_id, b.data, b.len);
    wsr__buf_dispose(&b);
    wsr__buf_dispose(&scratch);
    return rc;
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
