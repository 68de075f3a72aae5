/* SPDX-License-Identifier: MIT */
/*
 * The factory (aiorest-ws's RequestHandlerFactory): one per server, holding
 * what outlives a connection: the router, the settings, the statistics, the
 * store with the token authority, and the subscriptions. It owns all of
 * them. It never touches a socket: pushes leave through the transport the
 * server installs (factory_int.h).
 */
#include "services/engine_int.h"
#include "services/throttle_int.h"
#include "services/factory_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "core/codec_int.h"
#include "core/json_int.h"
#include "services/auth_int.h"
#include "services/store_int.h"
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
        copy_opt(&s->jwt_secret, cfg->jwt_secret) ||
        copy_opt(&s->engine,
                 cfg->engine != NULL && strcmp(cfg->engine, "memory") != 0 ? cfg->engine : NULL) ||
        copy_opt(&s->engine_password, cfg->engine_password) ||
        copy_opt(&s->ops_token, cfg->ops_token) ||
        copy_opt(&s->ops_host,
                 cfg->ops_port >= 0 ? (cfg->ops_host ? cfg->ops_host : s->host) : NULL))
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
    s->raw_port = cfg->raw_port;
    s->raw_tls_port = cfg->raw_tls_port;
    s->tls_only = cfg->tls_only;
    s->tls_client_auth = cfg->tls_client_auth;
    s->handshake_timeout_ms = cfg->handshake_timeout_ms;
    s->max_header_bytes = cfg->max_header_bytes;
    s->idle_ping_ms = cfg->idle_ping_ms;
    s->idle_close_ms = cfg->idle_close_ms;
    s->store_full_sync = cfg->store_sync == WSR_STORE_SYNC_FULL;
    s->token_ttl_s = cfg->token_ttl_s;
    s->jwt_leeway_s = cfg->jwt_leeway_s;
    s->max_call_input = cfg->max_call_input;
    s->history_size = cfg->history_size;
    s->history_ttl_s = cfg->history_ttl_s;
    s->compression = cfg->compression;
    s->compression_min_bytes = cfg->compression_min_bytes;
    s->echo_mode = cfg->echo_mode;
    s->ops_port = cfg->ops_port;
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
    if (wsr__pubsub_new(f) == NULL)
        goto fail;
    atomic_init(&f->open_connections, 0);
    f->log = cfg->log;
    f->log_user = cfg->log_user;
    atomic_init(&f->log_level, cfg->log_level);
    atomic_init(&f->access_log, cfg->access_log);
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
    wsr__throttle_free(f->throttle);
    wsr_store_close(f->store);
    wsr__pubsub_free(f->pubsub);
    wsr__free(f->settings.host);
    wsr__free(f->settings.www);
    wsr__free(f->settings.tls_cert);
    wsr__free(f->settings.tls_key);
    wsr__free(f->settings.tls_client_ca);
    wsr__free(f->settings.origins);
    wsr__free(f->settings.ops_host);
    wsr__free(f->settings.trusted_proxies);
    wsr__free(f->settings.jwt_keys);
    wsr__free(f->settings.jwt_jwks);
    wsr__free(f->settings.jwt_issuer);
    wsr__free(f->settings.jwt_audience);
    wsr__free(f->settings.jwt_roles_claim);
    wsr__free(f->settings.engine);
    if (f->settings.engine_password != NULL)
        OPENSSL_cleanse(f->settings.engine_password, strlen(f->settings.engine_password));
    wsr__free(f->settings.engine_password);
    wsr__free(f->settings.store);
    if (f->settings.jwt_secret != NULL)
        OPENSSL_cleanse(f->settings.jwt_secret, strlen(f->settings.jwt_secret));
    wsr__free(f->settings.jwt_secret);
    if (f->settings.ops_token != NULL)
        OPENSSL_cleanse(f->settings.ops_token, strlen(f->settings.ops_token));
    wsr__free(f->settings.ops_token);
    wsr__free(f);
}

/* Logs the shared store's engine going down or coming back, once a change. */
static void engine_state(void *ctx, bool up, const char *why)
{
    wsr_factory_t *f = ctx;

    if (up)
        wsr__log(f, WSR_LOG_NOTICE, "cluster engine: the store on Redis is reachable");
    else
        wsr__log(f, WSR_LOG_WARN,
                 "cluster engine: the store on Redis is unavailable (%s); retrying", why);
}

/* The store on the engine (Redis) the settings name: shared by the nodes. */
static wsr_store_t *open_shared_store(wsr_factory_t *f, wsr_error_t *err)
{
    wsr__redis_url_t url;
    wsr_store_t *st = NULL;

    if (wsr__redis_url_parse(f->settings.engine, f->settings.engine_password, &url, err) == 0)
        st = wsr__store_redis_open(&url, engine_state, f, err);
    OPENSSL_cleanse(&url, sizeof(url));
    return st;
}

int wsr__factory_open_store(wsr_factory_t *f, wsr_error_t *err)
{
    const wsr__settings_t *s = &f->settings;
    wsr__idp_config_t idp = {
        .keys = s->jwt_keys,
        .jwks = s->jwt_jwks,
        .issuer = s->jwt_issuer,
        .audience = s->jwt_audience,
        .leeway_s = s->jwt_leeway_s,
        .roles_claim = s->jwt_roles_claim,
    };
    char notes[1024] = "";
    int rc;

    if (s->store == NULL && s->engine == NULL) {
        /* Tokens are checked by the token authority, which lives in the store. */
        if (s->jwt_keys || s->jwt_jwks || s->jwt_issuer || s->jwt_audience)
            return wsr__error_set(err, WSR_EINVAL,
                                  "jwt_keys, jwt_jwks, jwt_issuer and jwt_audience need a store");
        return 0;
    }
    f->store = s->engine != NULL ? open_shared_store(f, err)
                                 : wsr_store_open(s->store, s->store_full_sync, err);
    if (f->store == NULL)
        return err ? err->code : WSR_EIO;
    f->auth = wsr__auth_new(f->store, s->jwt_secret, s->token_ttl_s, err);
    if (f->auth == NULL)
        return err ? err->code : WSR_EIO;
    f->throttle = wsr__throttle_new();
    if (f->throttle == NULL)
        return wsr__error_set(err, WSR_ENOMEM, "out of memory creating the login throttle");
    rc = wsr__auth_set_idp(f->auth, &idp, notes, sizeof(notes), err);
    if (rc != 0)
        return rc;
    if (notes[0] != '\0')
        wsr__log(f, WSR_LOG_WARN, "identity-provider keys: %s", notes);
    if (wsr__auth_key_count(f->auth) > 0)
        wsr__log(f, WSR_LOG_NOTICE, "identity-provider keys: %zu in force",
                 wsr__auth_key_count(f->auth));
    return wsr__auth_routes_add(f->router, err);
}

int wsr_push(wsr_factory_t *f, wsr_conn_id_t connection_id, const char *event_name, json_t *data)
{
    wsr__buf_t b, scratch;
    int rc;

    if (f == NULL || event_name == NULL)
        return WSR_EINVAL;
    if (f->transport.push == NULL)
        return WSR_ENOENT;
    wsr__buf_init(&b, 0, 0);
    wsr__buf_init(&scratch, 0, 0);
    rc = wsr__codec_encode_push(&b, event_name, NULL, data, WSR_FORMAT_JSON, &scratch);
    if (rc == 0) {
        wsr__engine_t *e = wsr__pubsub_engine(f->pubsub); /* whatever node holds it */

        rc = e->ops->push(e, connection_id, b.data, b.len);
    }
    wsr__buf_dispose(&b);
    wsr__buf_dispose(&scratch);
    return rc;
}

wsr_store_t *wsr_factory_store(wsr_factory_t *f)
{
    return f ? f->store : NULL;
}

void wsr__factory_describe_engine(wsr_factory_t *f, json_t *into)
{
    wsr__engine_t *e;

    if (f->settings.engine == NULL)
        return; /* the in-process engine: nothing to tell */
    e = wsr__pubsub_engine(f->pubsub);
    (void)e->ops->describe(e, into);
    if (f->store != NULL)
        (void)json_object_set_new(into, "store",
                                  json_pack("{s:s,s:s}", "kind", "redis", "state",
                                            wsr__store_available(f->store) ? "up" : "down"));
}

bool wsr__factory_engine_ready(wsr_factory_t *f, const char **why)
{
    json_t *state;
    bool up;

    *why = NULL;
    /* The in-process engine lives in this process: it is up while it is. */
    if (f->settings.engine == NULL)
        return true;
    if (f->store != NULL && !wsr__store_available(f->store)) {
        *why = "the shared store's Redis cannot be reached";
        return false;
    }
    state = json_object();
    up = state != NULL &&
         wsr__pubsub_engine(f->pubsub)->ops->describe(wsr__pubsub_engine(f->pubsub), state);
    json_decref(state);
    if (!up)
        *why = "the cluster engine's Redis cannot be reached";
    return up;
}

unsigned wsr_factory_connection_count(const wsr_factory_t *f)
{
    return atomic_load_explicit(&((wsr_factory_t *)f)->open_connections, memory_order_relaxed);
}

void wsr_factory_log(const wsr_factory_t *f, int level, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (f == NULL || f->log == NULL ||
        level > atomic_load_explicit(&f->log_level, memory_order_relaxed))
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    f->log(f->log_user, level, line);
}
