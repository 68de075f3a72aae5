/* SPDX-License-Identifier: MIT */
/*
 * The client's token (include/wsrouter/client.h, "Tokens that expire"): the
 * copy every request is encoded with, replaced by wsr_client_set_token from
 * any thread under the client's lock; and, with token_cb or refresh, its
 * renewal on the service thread: a timer at refresh_percent of the token's
 * lifetime, token_cb or POST /auth/refresh, and POST /auth/session at every
 * open before the program's calls. It reads the token's claims without
 * verifying them (the server does that) only to know when to renew. It owns
 * nothing but the token string; it never logs a token.
 */
#include "client/client_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/base64_int.h"

/* The longest wait before trying a failed renewal again. */
#define RETRY_MAX_S 30

static void on_token_due(lws_sorted_usec_list_t *sul);

static bool keeps_token(const wsr_client_t *c)
{
    return c->cfg.token_cb != NULL || c->cfg.refresh;
}

static int64_t wall_s(void)
{
    return (int64_t)time(NULL);
}

int wsr__client_token_dup(const wsr_client_t *c, char **out)
{
    wsr_client_t *mc = (wsr_client_t *)(uintptr_t)c; /* the lock is not the client's state */
    int rc = 0;

    pthread_mutex_lock(&mc->lock);
    *out = mc->token ? wsr__strdup(mc->token) : NULL;
    if (mc->token != NULL && *out == NULL)
        rc = WSR_ENOMEM;
    pthread_mutex_unlock(&mc->lock);
    return rc;
}

/* Swaps in a copy of `token` (NULL: none). Returns 0 or WSR_ENOMEM. */
static int replace_token(wsr_client_t *c, const char *token)
{
    char *copy = token ? wsr__strdup(token) : NULL, *old;

    if (token != NULL && copy == NULL)
        return WSR_ENOMEM;
    pthread_mutex_lock(&c->lock);
    old = c->token;
    c->token = copy;
    c->token_set_s = wall_s();
    c->token_dirty = true;
    pthread_mutex_unlock(&c->lock);
    wsr__free(old);
    return 0;
}

int wsr_client_set_token(wsr_client_t *c, const char *token)
{
    int rc;

    if (c == NULL)
        return WSR_EINVAL;
    rc = replace_token(c, token);
    /* The service thread reschedules the renewal (timers are its own). */
    if (rc == 0)
        lws_cancel_service(c->ctx);
    return rc;
}

void wsr__client_token_times(const char *token, int64_t *iat, int64_t *exp)
{
    const char *d1 = token ? strchr(token, '.') : NULL;
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    json_t *claims = NULL;
    wsr__buf_t b;

    *iat = *exp = 0;
    if (d2 == NULL)
        return;
    wsr__buf_init(&b, 0, 65536);
    if (wsr__b64url_decode(&b, d1 + 1, (size_t)(d2 - d1 - 1)) == 0 && b.len > 0)
        claims = json_loadb((const char *)b.data, b.len, 0, NULL);
    wsr__buf_dispose(&b);
    /* Clamped, so that a claim such as 1e300 converts without overflow. */
    if (json_is_number(json_object_get(claims, "exp")))
        *exp = (int64_t)WSR__MIN(WSR__MAX(json_number_value(json_object_get(claims, "exp")), 0.0),
                                 253402300799.0);
    if (json_is_number(json_object_get(claims, "iat")))
        *iat = (int64_t)WSR__MIN(WSR__MAX(json_number_value(json_object_get(claims, "iat")), 0.0),
                                 253402300799.0);
    json_decref(claims);
}

/* Schedules the renewal in `delay_s` seconds, or when it is due (delay_s < 0). */
static void schedule(wsr_client_t *c, int64_t delay_s)
{
    int64_t iat, exp, set_s, from, due;
    char *token = NULL;

    lws_sul_cancel(&c->sul_token);
    if (!keeps_token(c) || c->stopping)
        return;
    if (delay_s < 0) {
        if (wsr__client_token_dup(c, &token) != 0)
            delay_s = 1; /* no memory now: look again in a second */
        pthread_mutex_lock(&c->lock);
        set_s = c->token_set_s;
        pthread_mutex_unlock(&c->lock);
        wsr__client_token_times(token, &iat, &exp);
        wsr__free(token);
        if (delay_s < 0 && exp == 0)
            return; /* nothing tells when it expires */
        from = iat > 0 && iat < exp ? iat : WSR__MIN(set_s, exp);
        due = from + (exp - from) * c->cfg.refresh_percent / 100;
        if (delay_s < 0)
            delay_s = WSR__MAX(due - wall_s(), 0);
    }
    lws_sul_schedule(c->ctx, 0, &c->sul_token, on_token_due,
                     (lws_usec_t)WSR__MIN(delay_s, 86400) * LWS_US_PER_SEC + 1);
}

/* After a failed renewal: again in half the time left, 1 to 30 seconds. */
static void retry_later(wsr_client_t *c)
{
    int64_t iat, exp, left;
    char *token = NULL;

    if (wsr__client_token_dup(c, &token) != 0) {
        schedule(c, 1);
        return;
    }
    wsr__client_token_times(token, &iat, &exp);
    wsr__free(token);
    left = exp - wall_s();
    if (left > 0)
        schedule(c, WSR__MIN(WSR__MAX(left / 2, 1), RETRY_MAX_S));
}

/* Asks token_cb for a token and keeps it. Returns true when it gave one. */
static bool ask_callback(wsr_client_t *c)
{
    const char *token = c->cfg.token_cb(c->cfg.token_user);

    if (token == NULL || token[0] == '\0')
        return false;
    if (replace_token(c, token) != 0) {
        wsr__client_log(c, WSR_LOG_WARN, "out of memory keeping the new token");
        return false;
    }
    return true;
}

/* The reply to /auth/session or /auth/refresh. */
static void on_own_reply(void *user, int rc, wsr_client_reply_t *reply, const char *error)
{
    wsr_client_t *c = user;
    const char *token = reply ? json_string_value(json_object_get(reply->data, "token")) : NULL;
    bool refreshed = reply && json_object_get(reply->data, "expires_at") != NULL && token;

    c->token_busy = false;
    if (rc != 0 || reply->status < 200 || reply->status >= 300) {
        wsr__client_log(c, WSR_LOG_WARN, "the token was not renewed: %s",
                        rc != 0         ? (error ? error : wsr_strerror(rc))
                        : reply->detail ? reply->detail
                                        : "the server refused it");
        if (rc != WSR_ECLOSED)
            retry_later(c);
        return;
    }
    if (refreshed && replace_token(c, token) != 0) {
        wsr__client_log(c, WSR_LOG_WARN, "out of memory keeping the new token");
        retry_later(c);
        return;
    }
    wsr__client_log(c, WSR_LOG_INFO, "token %s", refreshed ? "refreshed" : "accepted");
    pthread_mutex_lock(&c->lock);
    c->token_dirty = false;
    pthread_mutex_unlock(&c->lock);
    schedule(c, -1);
}

/* Sends POST `url`, with data {token} for /auth/session. */
static int send_own(wsr_client_t *c, const char *url, bool with_token)
{
    wsr_client_request_t req;
    json_t *data = NULL;
    char *token = NULL;
    int rc;

    wsr_client_request_init(&req);
    req.method = "POST";
    req.url = url;
    if (with_token) {
        rc = wsr__client_token_dup(c, &token);
        if (rc != 0 || token == NULL)
            return rc != 0 ? rc : WSR_ENOENT;
        data = json_pack("{s:s}", "token", token);
        req.data = data;
        req.token = token;
    }
    rc = with_token && data == NULL ? WSR_ENOMEM : wsr__client_submit_own(c, &req, on_own_reply, c);
    json_decref(data);
    wsr__free(token);
    c->token_busy = rc == 0;
    return rc;
}

static void on_token_due(lws_sorted_usec_list_t *sul)
{
    wsr_client_t *c = lws_container_of(sul, wsr_client_t, sul_token);
    int rc = 0;

    if (c->stopping || c->token_busy)
        return;
    if (c->cfg.token_cb != NULL && !ask_callback(c)) {
        wsr__client_log(c, WSR_LOG_WARN, "the token callback gave no token");
        retry_later(c);
        return;
    }
    /* Offline: the next open authenticates with the token kept meanwhile;
     * /auth/refresh needs the connection. */
    if (!c->conn_open)
        return;
    rc = send_own(c, c->cfg.token_cb != NULL ? "/auth/session" : "/auth/refresh",
                  c->cfg.token_cb != NULL);
    if (rc != 0) {
        wsr__client_log(c, WSR_LOG_WARN, "the token could not be renewed: %s", wsr_strerror(rc));
        retry_later(c);
    }
}

void wsr__client_token_opened(wsr_client_t *c)
{
    int rc;

    if (!keeps_token(c))
        return;
    if (c->cfg.token_cb != NULL)
        (void)ask_callback(c);
    c->token_busy = false;
    rc = send_own(c, "/auth/session", true);
    if (rc != 0 && rc != WSR_ENOENT)
        wsr__client_log(c, WSR_LOG_WARN, "the connection could not be authenticated: %s",
                        wsr_strerror(rc));
    if (rc != 0)
        schedule(c, -1);
}

void wsr__client_token_wake(wsr_client_t *c)
{
    bool dirty;

    pthread_mutex_lock(&c->lock);
    dirty = c->token_dirty;
    c->token_dirty = false;
    pthread_mutex_unlock(&c->lock);
    if (dirty && !c->token_busy)
        schedule(c, -1);
}

void wsr__client_token_stop(wsr_client_t *c)
{
    lws_sul_cancel(&c->sul_token);
}
