/* SPDX-License-Identifier: MIT */
/*
 * The Redis connection (redis_int.h): one hiredis context behind a mutex,
 * replaced by a new one after any I/O error or timeout (hiredis cannot go on
 * with a context that failed). The up/down flag is atomic so that the event
 * loops read it without waiting behind a command or a connect attempt.
 */
#include "services/redis_int.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/internal.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define IDLE_PING_MS   1000
#define WHY_MAX        256

struct wsr__redis {
    wsr__redis_url_t url; /* owned copy, wiped at free */
    wsr__redis_options_t opt;
    pthread_mutex_t lock; /* guards ctx, next_try_ms, backoff_ms, last_used_ms */
    redisContext *ctx;    /* owned, or NULL while down */
    int64_t next_try_ms;
    unsigned backoff_ms;
    int64_t last_used_ms;
    atomic_bool up;
    pthread_mutex_t why_lock; /* guards why */
    char why[WHY_MAX];
    pthread_t thread;
    pthread_cond_t wake; /* under lock */
    bool stopping;
    bool thread_started;
};

static struct timeval tv_ms(unsigned ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (long)(ms % 1000) * 1000};

    return tv;
}

/* Records the state; returns true when it changed. Called under lock. */
static bool set_state(wsr__redis_t *r, bool up, const char *why)
{
    bool was = atomic_exchange(&r->up, up);

    pthread_mutex_lock(&r->why_lock);
    snprintf(r->why, sizeof(r->why), "%s", up ? "" : why);
    pthread_mutex_unlock(&r->why_lock);
    return was != up;
}

/* Tells the owner of a change, outside the lock. */
static void notify(wsr__redis_t *r, bool changed)
{
    char why[WHY_MAX];

    if (!changed || r->opt.on_state == NULL)
        return;
    wsr__redis_why(r, why, sizeof(why));
    r->opt.on_state(r->opt.ctx, atomic_load(&r->up), why);
}

/* Drops a failed context and schedules the next attempt. Under lock. */
static bool drop(wsr__redis_t *r, const char *why)
{
    if (r->ctx != NULL)
        redisFree(r->ctx);
    r->ctx = NULL;
    r->next_try_ms = wsr__mono_ms() + r->backoff_ms;
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
    return set_state(r, false, why);
}

/* Runs a command on the context of a connection being set up; false (with
 * `why`) when it fails or Redis answers an error. */
static bool setup_command(redisContext *c, int argc, const char **argv, char *why, size_t size,
                          const char *what)
{
    redisReply *rep = redisCommandArgv(c, argc, argv, NULL);
    bool ok = rep != NULL && rep->type != REDIS_REPLY_ERROR;

    if (rep == NULL)
        snprintf(why, size, "%s: %s", what, c->errstr);
    else if (!ok)
        snprintf(why, size, "%s refused: %.100s", what, rep->str);
    freeReplyObject(rep);
    return ok;
}

/* Connects, authenticates and selects the database: a context, or NULL with
 * `why`. Under no lock: a connection attempt that takes its whole timeout
 * (a Redis that accepts and never answers) holds up no command. */
static redisContext *dial(const wsr__redis_t *r, char *why, size_t size)
{
    char db[12];
    const char *auth[3] = {"AUTH", r->url.user, r->url.password};
    const char *select[2] = {"SELECT", db};
    redisContext *c = redisConnectWithTimeout(r->url.host, r->url.port, tv_ms(r->opt.connect_ms));
    bool ok = c != NULL && c->err == 0;

    if (!ok) {
        snprintf(why, size, "cannot connect to %.60s:%d: %.120s", r->url.host, r->url.port,
                 c ? c->errstr : "out of memory");
    } else if (redisSetTimeout(c, tv_ms(r->opt.command_ms)) != REDIS_OK ||
               redisEnableKeepAlive(c) != REDIS_OK) {
        snprintf(why, size, "cannot set up the connection: %s", c->errstr);
        ok = false;
    } else if (r->url.password[0] != '\0') {
        /* AUTH PASSWORD, or AUTH USER PASSWORD (Redis 6 ACLs). */
        int n = r->url.user[0] != '\0' ? 3 : 2;

        if (n == 2)
            auth[1] = r->url.password;
        ok = setup_command(c, n, auth, why, size, "AUTH");
    }
    if (ok && r->url.db != 0) {
        snprintf(db, sizeof(db), "%d", r->url.db);
        ok = setup_command(c, 2, select, why, size, "SELECT");
    }
    if (!ok && c != NULL) {
        redisFree(c);
        c = NULL;
    }
    return c;
}

/* Installs what dial() gave (NULL: it failed with `why`). Under lock;
 * returns true when the state changed. */
static bool install(wsr__redis_t *r, redisContext *c, const char *why)
{
    if (c == NULL)
        return drop(r, why);
    if (r->ctx != NULL)
        redisFree(r->ctx);
    r->ctx = c;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->last_used_ms = wsr__mono_ms();
    return set_state(r, true, "");
}

/* Dials when down and the backoff allows, with the lock released meanwhile.
 * Only the watching thread (and wsr__redis_new) call it: a command never
 * waits for a connection attempt. Under lock; returns whether the state
 * changed. */
static bool reconnect(wsr__redis_t *r)
{
    char why[WHY_MAX] = "";
    redisContext *c;

    if (r->ctx != NULL || wsr__mono_ms() < r->next_try_ms)
        return false;
    pthread_mutex_unlock(&r->lock);
    c = dial(r, why, sizeof(why));
    pthread_mutex_lock(&r->lock);
    if (r->stopping || r->ctx != NULL) {
        if (c != NULL)
            redisFree(c);
        return false;
    }
    return install(r, c, why);
}

int wsr__redis_command(wsr__redis_t *r, int argc, const char **argv, const size_t *argvlen,
                       redisReply **reply)
{
    bool changed = false;
    int rc = WSR_ECONNECT;
    char why[WHY_MAX];

    *reply = NULL;
    pthread_mutex_lock(&r->lock);
    if (r->ctx == NULL) {
        /* Down: answered at once; the watching thread reconnects. */
        pthread_cond_signal(&r->wake);
    } else {
        *reply = redisCommandArgv(r->ctx, argc, argv, argvlen);
        r->last_used_ms = wsr__mono_ms();
        if (*reply != NULL) {
            rc = 0;
        } else if (r->ctx->err == REDIS_ERR_OOM) {
            /* hiredis keeps the error in the context, which answers nothing
             * more: dropped, and dialled again at once (our memory ran out,
             * not Redis). */
            rc = WSR_ENOMEM;
            changed = drop(r, "out of memory reading Redis's reply") || changed;
            r->next_try_ms = wsr__mono_ms();
            pthread_cond_signal(&r->wake);
        } else {
            snprintf(why, sizeof(why), "the connection to %.60s:%d failed: %.120s", r->url.host,
                     r->url.port, r->ctx->errstr);
            changed = drop(r, why) || changed;
        }
    }
    pthread_mutex_unlock(&r->lock);
    notify(r, changed);
    return rc;
}

/* Retries while down, PINGs while idle, until freed. */
static void *watch(void *arg)
{
    wsr__redis_t *r = arg;
    struct timespec until;

    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        bool changed = false;
        int64_t now = wsr__mono_ms();
        redisReply *rep = NULL;

        if (r->ctx == NULL) {
            changed = reconnect(r);
        } else if (now - r->last_used_ms >= IDLE_PING_MS) {
            pthread_mutex_unlock(&r->lock);
            if (wsr__redis_command(r, 1, (const char *[]){"PING"}, NULL, &rep) == 0)
                freeReplyObject(rep);
            pthread_mutex_lock(&r->lock);
        }
        if (changed) {
            pthread_mutex_unlock(&r->lock);
            notify(r, true);
            pthread_mutex_lock(&r->lock);
        }
        if (r->stopping)
            break;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)(r->ctx == NULL ? BACKOFF_MIN_MS : IDLE_PING_MS / 4) * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&r->wake, &r->lock, &until);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

wsr__redis_t *wsr__redis_new(const wsr__redis_url_t *url, const wsr__redis_options_t *opt,
                             wsr_error_t *err)
{
    wsr__redis_t *r = wsr__calloc(1, sizeof(*r));
    bool changed;

    if (r == NULL) {
        wsr__error_set(err, WSR_ENOMEM, "out of memory for the Redis connection");
        return NULL;
    }
    r->url = *url;
    if (opt != NULL)
        r->opt = *opt;
    if (r->opt.connect_ms == 0)
        r->opt.connect_ms = 1000;
    if (r->opt.command_ms == 0)
        r->opt.command_ms = 2000;
    r->backoff_ms = BACKOFF_MIN_MS;
    atomic_init(&r->up, false);
    snprintf(r->why, sizeof(r->why), "not connected yet");
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->why_lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    pthread_mutex_lock(&r->lock);
    changed = reconnect(r);
    pthread_mutex_unlock(&r->lock);
    notify(r, changed);
    if (pthread_create(&r->thread, NULL, watch, r) != 0) {
        wsr__redis_free(r);
        wsr__error_set(err, WSR_ENOMEM, "cannot start the Redis connection's thread");
        return NULL;
    }
    r->thread_started = true;
    return r;
}

void wsr__redis_free(wsr__redis_t *r)
{
    if (r == NULL)
        return;
    if (r->thread_started) {
        pthread_mutex_lock(&r->lock);
        r->stopping = true;
        pthread_cond_signal(&r->wake);
        pthread_mutex_unlock(&r->lock);
        pthread_join(r->thread, NULL);
    }
    if (r->ctx != NULL)
        redisFree(r->ctx);
    OPENSSL_cleanse(&r->url, sizeof(r->url));
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->why_lock);
    pthread_mutex_destroy(&r->lock);
    wsr__free(r);
}

bool wsr__redis_up(wsr__redis_t *r)
{
    return atomic_load(&r->up);
}

void wsr__redis_why(wsr__redis_t *r, char *buf, size_t size)
{
    pthread_mutex_lock(&r->why_lock);
    snprintf(buf, size, "%s", r->why);
    pthread_mutex_unlock(&r->why_lock);
}

bool wsr__redis_error_unavailable(const char *text)
{
    static const char *const unavailable[] = {"LOADING", "BUSY",   "MASTERDOWN", "TRYAGAIN",
                                              "MISCONF", "NOAUTH", "READONLY",   "OOM"};

    for (size_t i = 0; text != NULL && i < WSR__ARRAY_SIZE(unavailable); i++)
        if (strncmp(text, unavailable[i], strlen(unavailable[i])) == 0)
            return true;
    return false;
}
