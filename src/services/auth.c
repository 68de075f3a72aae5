/* SPDX-License-Identifier: MIT */
/*
 * The token authority: it signs and verifies wsrouter's JWTs with the
 * server's secret, and remembers revoked tokens. Verification never touches
 * the disk (it runs on event loops): revocations live in memory, written
 * through to the store by the process that revokes, and picked up from the
 * store once a second by a thread of its own, so revocations made by another
 * process (wsrouterd user remove) take effect within seconds. It owns the
 * secret and the revocation set; it never logs a token or a password.
 */
#include "services/auth_int.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "services/jwt_int.h"
#include "services/store_int.h"

#define SECRET_MIN 32
#define SECRET_LEN 32
#define POLL_MS    1000

struct wsr__auth {
    wsr_store_t *store; /* borrowed: the factory's */
    unsigned char secret[256];
    size_t secret_len;
    unsigned ttl_s;
    pthread_mutex_t lock;
    json_t *revoked; /* owned: jti or "user:NAME" -> expiry or removal time */
    pthread_t poller;
    pthread_cond_t wake;
    bool stopping;
    bool poller_started;
};

int64_t wsr__epoch_s(void)
{
    return (int64_t)time(NULL);
}

/* The secret from the configuration, or the store's (made the first time). */
static int load_secret(wsr__auth_t *a, const char *configured, wsr_error_t *err)
{
    json_t *v;
    wsr__buf_t b;
    unsigned char fresh[SECRET_LEN];
    int rc;

    if (configured != NULL) {
        a->secret_len = strlen(configured);
        if (a->secret_len < SECRET_MIN || a->secret_len > sizeof(a->secret))
            return wsr__error_set(err, WSR_EINVAL, "jwt_secret must be %d to %zu bytes", SECRET_MIN,
                                  sizeof(a->secret));
        memcpy(a->secret, configured, a->secret_len);
        return 0;
    }
    rc = wsr_store_get(a->store, "wsr:jwt_secret", &v);
    if (rc != 0 && rc != WSR_ENOENT)
        return wsr__error_set(err, rc, "cannot read the token secret from the store: %s",
                              wsr_strerror(rc));
    wsr__buf_init(&b, 0, sizeof(a->secret));
    if (rc == WSR_ENOENT) {
        /* First start: 32 random bytes, kept so tokens survive restarts. */
        if (RAND_bytes(fresh, sizeof(fresh)) != 1 || wsr__b64url_encode(&b, fresh, sizeof(fresh)) ||
            wsr__buf_putc(&b, '\0') || (v = json_string((const char *)b.data)) == NULL ||
            wsr_store_put(a->store, "wsr:jwt_secret", v) != 0) {
            wsr__buf_dispose(&b);
            json_decref(v);
            return wsr__error_set(err, WSR_EIO, "cannot make and keep a token secret");
        }
        wsr__buf_reset(&b);
    }
    rc = json_is_string(v) ? wsr__b64url_decode(&b, json_string_value(v), json_string_length(v))
                           : WSR_EPARSE;
    if (rc == 0 && b.len >= SECRET_MIN) {
        memcpy(a->secret, b.data, b.len);
        a->secret_len = b.len;
    } else {
        rc = wsr__error_set(err, WSR_EIO, "the store's token secret is unreadable");
    }
    OPENSSL_cleanse(fresh, sizeof(fresh));
    if (b.data != NULL)
        OPENSSL_cleanse(b.data, b.cap);
    wsr__buf_dispose(&b);
    json_decref(v);
    return rc;
}

/* Reads the revocations still in force from the store into a new set. */
static json_t *read_revoked(wsr__auth_t *a)
{
    char now[24];
    const char *args[1] = {now};
    json_t *rows, *set, *row;
    size_t i;

    snprintf(now, sizeof(now), "%lld", (long long)wsr__epoch_s());
    /* A token's row maps its id to its expiry; a removed user's row
     * ("user:NAME") maps to the removal time, which later tokens pass. */
    if (wsr__store_query(a->store,
                         "SELECT jti, CASE WHEN since > 0 THEN since ELSE exp END "
                         "FROM wsr_revoked WHERE exp > CAST(?1 AS INTEGER)",
                         args, 1, &rows) != 0)
        return NULL;
    set = json_object();
    json_array_foreach(rows, i, row)
    {
        /* All of them or none: a revocation dropped when memory ran out let
         * a revoked token through until the next poll. */
        if (set != NULL && json_object_set(set, json_string_value(json_array_get(row, 0)),
                                           json_array_get(row, 1)) != 0) {
            json_decref(set);
            set = NULL;
        }
    }
    json_decref(rows);
    return set;
}

/*
 * Adds to `fresh` (read from the store) the tokens this process revoked that
 * it may not hold yet (revoked while it was read), as long as they have not
 * expired. Merging the whole old set instead kept every revocation ever made
 * in memory, however long expired. Removed users' markers come from the
 * store only, so `fresh` has those in force. Called under the lock.
 */
static int keep_recent(wsr__auth_t *a, json_t *fresh)
{
    int64_t now = wsr__epoch_s();
    const char *key;
    json_t *v;

    json_object_foreach(a->revoked, key, v)
    {
        if (strncmp(key, "user:", 5) != 0 && json_integer_value(v) > now &&
            json_object_get(fresh, key) == NULL && json_object_set(fresh, key, v) != 0)
            return WSR_ENOMEM;
    }
    return 0;
}

size_t wsr__auth_revoked_count(wsr__auth_t *a)
{
    size_t n;

    pthread_mutex_lock(&a->lock);
    n = json_object_size(a->revoked);
    pthread_mutex_unlock(&a->lock);
    return n;
}

static void *poll_revocations(void *arg)
{
    wsr__auth_t *a = arg;
    struct timespec until;
    unsigned prune = 0;

    pthread_mutex_lock(&a->lock);
    while (!a->stopping) {
        json_t *fresh;

        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += POLL_MS / 1000;
        pthread_cond_timedwait(&a->wake, &a->lock, &until);
        if (a->stopping)
            break;
        pthread_mutex_unlock(&a->lock);
        fresh = read_revoked(a);
        if (++prune % 600 == 0) {
            int64_t now = wsr__epoch_s();

            (void)wsr__store_exec(a->store, "DELETE FROM wsr_revoked WHERE exp <= ?1", NULL, 0,
                                  &now, 1);
        }
        pthread_mutex_lock(&a->lock);
        if (fresh != NULL && keep_recent(a, fresh) == 0) {
            json_decref(a->revoked);
            a->revoked = fresh;
        } else {
            json_decref(fresh); /* try again at the next poll */
        }
    }
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

wsr__auth_t *wsr__auth_new(wsr_store_t *store, const char *secret, unsigned ttl_s, wsr_error_t *err)
{
    wsr__auth_t *a = wsr__calloc(1, sizeof(*a));

    if (a == NULL) {
        wsr__error_set(err, WSR_ENOMEM, "out of memory");
        return NULL;
    }
    a->store = store;
    a->ttl_s = ttl_s;
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->wake, NULL);
    if (load_secret(a, secret, err) != 0)
        goto fail;
    a->revoked = read_revoked(a);
    if (a->revoked == NULL) {
        wsr__error_set(err, WSR_EIO, "cannot read the revoked tokens");
        goto fail;
    }
    if (pthread_create(&a->poller, NULL, poll_revocations, a) != 0) {
        wsr__error_set(err, WSR_ENOMEM, "cannot start the revocation thread");
        goto fail;
    }
    a->poller_started = true;
    return a;
fail:
    wsr__auth_free(a);
    return NULL;
}

void wsr__auth_free(wsr__auth_t *a)
{
    if (a == NULL)
        return;
    if (a->poller_started) {
        pthread_mutex_lock(&a->lock);
        a->stopping = true;
        pthread_cond_signal(&a->wake);
        pthread_mutex_unlock(&a->lock);
        pthread_join(a->poller, NULL);
    }
    json_decref(a->revoked);
    OPENSSL_cleanse(a->secret, sizeof(a->secret));
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->lock);
    wsr__free(a);
}

/* True when `jti`, or every token of `user` issued at or before `iat`, is revoked. */
static bool is_revoked(wsr__auth_t *a, const char *jti, const char *user, int64_t iat)
{
    char key[160];
    json_t *removed;
    bool revoked;

    snprintf(key, sizeof(key), "user:%s", user);
    pthread_mutex_lock(&a->lock);
    removed = json_object_get(a->revoked, key);
    revoked = (jti != NULL && json_object_get(a->revoked, jti) != NULL) ||
              (removed != NULL && iat <= json_integer_value(removed));
    pthread_mutex_unlock(&a->lock);
    return revoked;
}

int wsr__auth_verify(wsr__auth_t *a, const char *token, size_t n, wsr__session_t **session,
                     char *detail, size_t size)
{
    json_t *p = NULL;
    const char *sub, *jti, *roles;
    int rc;

    *session = NULL;
    rc = wsr__jwt_verify(token, n, a->secret, a->secret_len, &p, detail, size);
    if (rc == 0)
        rc = wsr__jwt_check_time(p, wsr__epoch_s(), detail, size);
    if (rc != 0)
        goto out;
    sub = json_string_value(json_object_get(p, "sub"));
    jti = json_string_value(json_object_get(p, "jti"));
    roles = json_string_value(json_object_get(p, "roles"));
    if (sub == NULL || jti == NULL || !json_is_integer(json_object_get(p, "iat"))) {
        snprintf(detail, size, "token lacks a subject, an id or an issue time");
        rc = WSR_EAUTH;
    } else if (is_revoked(a, jti, sub, json_integer_value(json_object_get(p, "iat")))) {
        snprintf(detail, size, "token was revoked");
        rc = WSR_EAUTH;
    } else {
        /* wsr__jwt_time: a cast of an exp such as 1e300 would be undefined. */
        *session = wsr__session_new(sub, roles ? roles : "", jti,
                                    wsr__jwt_time(json_object_get(p, "exp")));
        wsr__session_set_iat(*session, json_integer_value(json_object_get(p, "iat")));
        rc = *session ? 0 : WSR_ENOMEM;
    }
out:
    json_decref(p);
    return rc;
}

const char *wsr__auth_session_ended(wsr__auth_t *a, const wsr__session_t *s, int64_t now)
{
    /* A session logging out is about to leave its connection, which stays
     * open: its revocation must not close that connection meanwhile (the
     * revocation is in force before the loop hears of the logout). */
    if (s == NULL || a == NULL || wsr__session_logging_out(s))
        return NULL;
    if (wsr__session_exp(s) != 0 && now >= wsr__session_exp(s))
        return "token expired";
    if (is_revoked(a, wsr__session_jti(s), wsr__session_user(s), wsr__session_iat(s)))
        return "token revoked";
    return NULL;
}

int wsr__auth_issue(wsr__auth_t *a, const char *user, const char *roles, char **token,
                    wsr__session_t **session)
{
    unsigned char raw[16];
    wsr__buf_t jti;
    int64_t now = wsr__epoch_s();
    json_t *claims;
    int rc;

    *token = NULL;
    *session = NULL;
    wsr__buf_init(&jti, 0, 0);
    if (RAND_bytes(raw, sizeof(raw)) != 1 || wsr__b64url_encode(&jti, raw, sizeof(raw)) ||
        wsr__buf_putc(&jti, '\0')) {
        wsr__buf_dispose(&jti);
        return WSR_ENOMEM;
    }
    claims = json_pack("{s:s, s:I, s:I, s:s, s:s}", "sub", user, "iat", (json_int_t)now, "exp",
                       (json_int_t)(now + a->ttl_s), "jti", (const char *)jti.data, "roles", roles);
    rc = claims ? wsr__jwt_sign(a->secret, a->secret_len, claims, token) : WSR_ENOMEM;
    if (rc == 0) {
        *session = wsr__session_new(user, roles, (const char *)jti.data, now + a->ttl_s);
        wsr__session_set_iat(*session, now);
        if (*session == NULL) {
            wsr__free(*token);
            *token = NULL;
            rc = WSR_ENOMEM;
        }
    }
    json_decref(claims);
    wsr__buf_dispose(&jti);
    return rc;
}

int wsr__auth_revoke(wsr__auth_t *a, const wsr__session_t *s)
{
    const char *jti = wsr__session_jti(s);
    int64_t exp = wsr__session_exp(s);
    const char *texts[1] = {jti};
    int rc;

    if (jti == NULL)
        return WSR_EINVAL;
    pthread_mutex_lock(&a->lock);
    rc = json_object_set_new(a->revoked, jti, json_integer(exp)) ? WSR_ENOMEM : 0;
    pthread_mutex_unlock(&a->lock);
    if (rc == 0)
        rc =
            wsr__store_exec(a->store, "INSERT OR REPLACE INTO wsr_revoked(jti, exp) VALUES(?1, ?2)",
                            texts, 1, &exp, 1);
    return rc;
}

int wsr__auth_request(wsr__auth_t *a, wsr_request_t *req, wsr_response_t *res)
{
    char detail[256];
    wsr__session_t *s;
    int rc;

    /* Without a token authority a token authenticates nothing (documented). */
    if (a == NULL)
        return 0;
    if (req->token == NULL) {
        /* The connection's session is checked on every request: the loop
         * closes connections whose token expired or was revoked only once a
         * second, and until then a revoked token went on working on them
         * (logout elsewhere, user removed). Meanwhile they are anonymous. */
        if (req->session != NULL &&
            (wsr__session_logging_out(req->session) ||
             wsr__auth_session_ended(a, req->session, wsr__epoch_s()) != NULL)) {
            wsr__session_unref(req->session);
            req->session = NULL;
        }
        return 0;
    }
    rc = wsr__auth_verify(a, req->token, strlen(req->token), &s, detail, sizeof(detail));
    if (rc == WSR_ENOMEM)
        return rc;
    if (rc != 0) {
        (void)wsr_response_error(res, 401, "the request's token is not valid: %s", detail);
        return 1;
    }
    wsr__session_unref(req->session);
    req->session = s;
    return 0;
}
