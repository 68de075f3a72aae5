/* SPDX-License-Identifier: MIT */
/*
 * The client's lifecycle (include/wsrouter/client.h): the configuration and
 * its defaults, creation (copies of every string, the URL, the lws context,
 * the service thread), connecting and waiting for the connection, the state,
 * and the stop that ends it all. It owns the client object. It never touches
 * the connection itself: that belongs to the service thread (service.c), which
 * it asks for work through flags under the lock and lws_cancel_service().
 */
#include "wsrouter/client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "client/client_int.h"

#define DEFAULT_URL         "ws://127.0.0.1:8080/"
#define DEFAULT_MAX_MESSAGE (64u * 1024 * 1024)

void wsr_client_config_init(wsr_client_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->url = DEFAULT_URL;
    cfg->encoding = WSR_CLIENT_JSON;
    cfg->connect_timeout_ms = 5000;
    cfg->call_timeout_ms = 30000;
    cfg->max_message = DEFAULT_MAX_MESSAGE;
    cfg->reconnect_min_ms = 100;
    cfg->reconnect_max_ms = 10000;
    cfg->log_level = WSR_LOG_WARN;
    cfg->refresh_percent = 80;
}

void wsr_client_request_init(wsr_client_request_t *req)
{
    memset(req, 0, sizeof(*req));
}

const char *wsr_client_state_name(wsr_client_state_t state)
{
    switch (state) {
    case WSR_CLIENT_IDLE:
        return "idle";
    case WSR_CLIENT_CONNECTING:
        return "connecting";
    case WSR_CLIENT_OPEN:
        return "open";
    case WSR_CLIENT_RECONNECTING:
        return "reconnecting";
    case WSR_CLIENT_CLOSED:
        return "closed";
    default:
        return "?";
    }
}

/* Hands `line` to the sink, or to stderr at WARN and above when there is none. */
static void emit(wsr_client_t *c, int level, const char *line)
{
    if (c->cfg.log != NULL)
        c->cfg.log(c->cfg.log_user, level, line);
    else if (level <= WSR_LOG_WARN)
        /* No sink: warnings must still be seen (an insecure connection above all). */
        fprintf(stderr, "wsrouter client: %s\n", line);
}

void wsr__client_log(wsr_client_t *c, int level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (level > c->cfg.log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    emit(c, level, line);
}

void wsr__client_log_always(wsr_client_t *c, int level, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    emit(c, level, line);
}

/* Checks the settings that do not depend on the URL. */
static int check_config(const wsr_client_config_t *cfg, wsr_error_t *err)
{
    if ((unsigned)cfg->encoding > WSR_CLIENT_BASE64_BINARY)
        return wsr__error_set(err, WSR_EINVAL, "unknown encoding %d", (int)cfg->encoding);
    if (cfg->connect_timeout_ms <= 0 || cfg->call_timeout_ms <= 0 ||
        cfg->connect_timeout_ms > WSR__CLIENT_MAX_TIMEOUT_MS ||
        cfg->call_timeout_ms > WSR__CLIENT_MAX_TIMEOUT_MS)
        return wsr__error_set(err, WSR_EINVAL, "timeouts must be from 1 ms to a day");
    if (cfg->max_message < 1024)
        return wsr__error_set(err, WSR_EINVAL, "max_message must be at least 1024 bytes");
    if (cfg->reconnect_min_ms <= 0 || cfg->reconnect_max_ms < cfg->reconnect_min_ms ||
        cfg->reconnect_max_ms > WSR__CLIENT_MAX_TIMEOUT_MS || cfg->reconnect_max_attempts < 0)
        return wsr__error_set(err, WSR_EINVAL,
                              "reconnect delays must be positive with min <= max, attempts >= 0");
    if (cfg->key_file != NULL && cfg->cert_file == NULL)
        return wsr__error_set(err, WSR_EINVAL, "a client key needs its certificate (cert_file)");
    if (cfg->refresh_percent < 1 || cfg->refresh_percent > 99)
        return wsr__error_set(err, WSR_EINVAL, "refresh_percent must be from 1 to 99");
    /* The guard around lws's inflater (service.c) knows 4.1's layout only. */
    if (cfg->compress && (LWS_LIBRARY_VERSION_MAJOR != 4 || LWS_LIBRARY_VERSION_MINOR != 1))
        return wsr__error_set(err, WSR_EINVAL,
                              "compress needs libwebsockets 4.1 (this build has %s)",
                              LWS_LIBRARY_VERSION);
    return 0;
}

/* Refuses TLS files that cannot be read now: lws 4.1 would only log it. */
static int check_file(const char *what, const char *path, wsr_error_t *err)
{
    if (path == NULL || access(path, R_OK) == 0)
        return 0;
    return wsr__error_set(err, WSR_EIO, "cannot read the %s %.160s: %s", what, path,
                          strerror(errno));
}

static int check_tls(const wsr_client_t *c, wsr_error_t *err)
{
    bool any = c->ca_file || c->cert_file || c->key_file || c->cfg.insecure;
    int rc;

    if (any && !c->url.tls)
        return wsr__error_set(err, WSR_EINVAL, "TLS options need a wss:// URL");
    rc = check_file("CA file", c->ca_file, err);
    if (rc == 0)
        rc = check_file("client certificate", c->cert_file, err);
    if (rc == 0)
        rc = check_file("client key", c->key_file, err);
    return rc;
}

/* Copies `s` (NULL stays NULL) into `*dst`. Returns 0 or WSR_ENOMEM. */
static int dup_opt(char **dst, const char *s)
{
    *dst = NULL;
    if (s == NULL)
        return 0;
    *dst = wsr__strdup(s);
    return *dst ? 0 : WSR_ENOMEM;
}

static int copy_strings(wsr_client_t *c, const wsr_client_config_t *cfg)
{
    if (dup_opt(&c->url_text, cfg->url) || dup_opt(&c->subprotocol, cfg->subprotocol) ||
        dup_opt(&c->token, cfg->token) || dup_opt(&c->ca_file, cfg->ca_file) ||
        dup_opt(&c->cert_file, cfg->cert_file) || dup_opt(&c->key_file, cfg->key_file))
        return WSR_ENOMEM;
    c->cfg.url = c->url_text;
    c->cfg.subprotocol = c->subprotocol;
    c->cfg.token = NULL; /* c->token, which wsr_client_set_token may replace */
    c->token_set_s = (int64_t)time(NULL);
    c->cfg.ca_file = c->ca_file;
    c->cfg.cert_file = c->cert_file;
    c->cfg.key_file = c->key_file;
    return 0;
}

/*
 * Releases what client_new built. The service thread must have ended, or be
 * the caller at its very end (a client freed from one of its callbacks).
 */
void wsr__client_destroy(wsr_client_t *c)
{
    if (c->ctx != NULL)
        lws_context_destroy(c->ctx);
    wsr__client_tx_release(c);
    wsr__buf_dispose(&c->rx);
    wsr__client_topics_free(c);
    wsr__url_dispose(&c->url);
    wsr__free(c->url_text);
    wsr__free(c->subprotocol);
    wsr__free(c->token);
    wsr__free(c->ca_file);
    wsr__free(c->cert_file);
    wsr__free(c->key_file);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->lock);
    wsr__free(c);
}

/* 64 random bits from the kernel, or from the clock and an address when it has none. */
static uint64_t random_seed(const wsr_client_t *c)
{
    uint64_t seed = 0;

    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed) || seed == 0)
        seed = wsr__now_ns() ^ (uint64_t)(uintptr_t)c ^ 0x2545F4914F6CDD1Dull;
    return seed;
}

static int init_sync(wsr_client_t *c, wsr_error_t *err)
{
    pthread_condattr_t attr;
    int rc;

    if (pthread_mutex_init(&c->lock, NULL) != 0)
        return wsr__error_set(err, WSR_ENOMEM, "cannot create the client's lock");
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    rc = pthread_cond_init(&c->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_destroy(&c->lock);
        return wsr__error_set(err, WSR_ENOMEM, "cannot create the client's condition");
    }
    return 0;
}

wsr_client_t *wsr_client_new(const wsr_client_config_t *cfg, wsr_error_t *err)
{
    wsr_client_t *c;
    int rc;

    if (cfg == NULL || check_config(cfg, err) != 0) {
        if (cfg == NULL)
            wsr__error_set(err, WSR_EINVAL, "no configuration given");
        return NULL;
    }
    c = wsr__calloc(1, sizeof(*c));
    if (c == NULL || init_sync(c, err) != 0) {
        if (c == NULL)
            wsr__error_set(err, WSR_ENOMEM, "out of memory creating the client");
        wsr__free(c);
        return NULL;
    }
    c->cfg = *cfg;
    c->next_id = 1;
    c->rng = random_seed(c);
    /* Ordinary calls carry ids of this form; raw bytes are unlikely to reuse one. */
    snprintf(c->id_prefix, sizeof(c->id_prefix), "wsr-%08x-", (unsigned)(c->rng >> 32));
    wsr__buf_init(&c->rx, 0, cfg->max_message);
    rc = copy_strings(c, cfg);
    if (rc != 0)
        wsr__error_set(err, rc, "out of memory creating the client");
    if (rc == 0)
        rc = wsr__url_parse(&c->url, cfg->url, err);
    if (rc == 0)
        rc = check_tls(c, err);
    if (rc == 0)
        rc = wsr__client_service_init(c, err);
    if (rc == 0 && pthread_create(&c->thread, NULL, wsr__client_service_main, c) != 0)
        rc = wsr__error_set(err, WSR_ENOMEM, "cannot start the client's service thread");
    if (rc != 0) {
        wsr__client_destroy(c);
        return NULL;
    }
    return c;
}

/* True on the client's service thread, where blocking calls would deadlock. */
bool wsr__client_on_service_thread(wsr_client_t *c)
{
    return pthread_equal(pthread_self(), c->thread) != 0;
}

/* Waits on c->cond until `deadline_ns`; returns false once it has passed. Lock held. */
bool wsr__client_wait(wsr_client_t *c, uint64_t deadline_ns)
{
    struct timespec ts;

    if (wsr__now_ns() >= deadline_ns)
        return false;
    ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
    ts.tv_nsec = (long)(deadline_ns % 1000000000u);
    return pthread_cond_timedwait(&c->cond, &c->lock, &ts) != ETIMEDOUT ||
           wsr__now_ns() < deadline_ns;
}

int wsr_client_connect(wsr_client_t *c, wsr_error_t *err)
{
    uint64_t gen, deadline;
    int rc = 0;

    if (wsr__client_on_service_thread(c))
        return wsr__error_set(err, WSR_ESTATE, "wsr_client_connect called from a client callback");
    deadline =
        wsr__now_ns() + ((uint64_t)c->cfg.connect_timeout_ms + WSR__CLIENT_SAFETY_MS) * 1000000u;
    pthread_mutex_lock(&c->lock);
    if (c->stop || c->state == WSR_CLIENT_CLOSED) {
        pthread_mutex_unlock(&c->lock);
        return wsr__error_set(err, WSR_ESTATE, "the client is closing");
    }
    gen = c->attempt_gen;
    if (c->state != WSR_CLIENT_OPEN) {
        c->connect_requested = true;
        lws_cancel_service(c->ctx);
    }
    while (c->state != WSR_CLIENT_OPEN && c->attempt_gen == gen && !c->stop)
        if (!wsr__client_wait(c, deadline))
            break;
    if (c->state == WSR_CLIENT_OPEN || (c->attempt_gen != gen && c->attempt_rc == 0)) {
        rc = 0;
    } else if (c->attempt_gen != gen) {
        rc = wsr__error_set(err, c->attempt_rc, "%s", c->attempt_text);
    } else {
        rc = wsr__error_set(err, WSR_ETIMEDOUT, "timed out connecting to %.200s", c->url_text);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int wsr_client_wait_connected(wsr_client_t *c, int timeout_ms)
{
    uint64_t deadline = wsr__now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    int rc = 0;

    if (wsr__client_on_service_thread(c))
        return WSR_ESTATE;
    pthread_mutex_lock(&c->lock);
    while (c->state != WSR_CLIENT_OPEN) {
        if (c->state == WSR_CLIENT_IDLE || c->state == WSR_CLIENT_CLOSED || c->stop) {
            rc = WSR_ESTATE;
            break;
        }
        if (!wsr__client_wait(c, deadline)) {
            rc = c->state == WSR_CLIENT_OPEN ? 0 : WSR_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

wsr_client_state_t wsr_client_state(wsr_client_t *c)
{
    wsr_client_state_t s;

    pthread_mutex_lock(&c->lock);
    s = c->state;
    pthread_mutex_unlock(&c->lock);
    return s;
}

size_t wsr_client_pending(wsr_client_t *c)
{
    size_t n;

    pthread_mutex_lock(&c->lock);
    n = c->ncalls;
    pthread_mutex_unlock(&c->lock);
    return n;
}

void wsr_client_free(wsr_client_t *c)
{
    bool self;

    if (c == NULL)
        return;
    self = wsr__client_on_service_thread(c);
    pthread_mutex_lock(&c->lock);
    if (self && c->stop) {
        /* Already being freed (by this thread before, or by another one now). */
        pthread_mutex_unlock(&c->lock);
        return;
    }
    c->stop = true;
    c->self_free = self;
    /* Under the lock, like every wake: the context lives until the join below. */
    lws_cancel_service(c->ctx);
    pthread_mutex_unlock(&c->lock);
    if (self)
        return; /* from a callback: the service thread releases the client at its end */
    pthread_join(c->thread, NULL);
    wsr__client_destroy(c);
}

void wsr_client_reply_dispose(wsr_client_reply_t *reply)
{
    if (reply == NULL)
        return;
    json_decref(reply->message);
    memset(reply, 0, sizeof(*reply));
}
