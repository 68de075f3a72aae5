/* SPDX-License-Identifier: MIT */
/*
 * The token authority: it signs and verifies wsrouter's JWTs with the
 * server's secret, and remembers revoked tokens. Verification never touches
 * the disk (it runs on event loops): revocations live in memory, written
 * through to the store by the process that revokes, and picked up from the
 * store once a second by a thread of its own, so revocations made by another
 * process (wsrouterd user remove) take effect within seconds. It also
 * verifies an identity provider's RS256 and ES256 tokens with the public
 * keys it is given (keys.c), which a reload swaps atomically; those tokens
 * are not its own, so it never revokes nor refreshes them. It owns the
 * secret, the revocation set and the key set; it never logs a token or a
 * password.
 */
#include "services/auth_int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "services/jwt_int.h"
#include "services/keys_int.h"
#include "services/store_int.h"

#define SECRET_MIN 32
#define SECRET_LEN 32
#define POLL_MS    1000
#define SECRET_KEY "wsr:jwt_secret"

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
    /* Identity-provider tokens: set before the authority is shared. */
    char *idp_keys;        /* owned: jwt_keys, or NULL */
    char *idp_jwks;        /* owned: jwt_jwks, or NULL */
    char *idp_issuer;      /* owned: required iss, or NULL */
    char *idp_audience;    /* owned: required aud, or NULL */
    char *idp_roles_claim; /* owned: the claim of the roles, or NULL before set_idp */
    unsigned idp_leeway_s;
    pthread_mutex_t keys_lock; /* guards `keys`, the pointer only */
    wsr__keys_t *keys;         /* owned (one reference): the keys in force, or NULL */
};

int64_t wsr__epoch_s(void)
{
    return (int64_t)time(NULL);
}

/*
 * First start: 32 random bytes, kept so tokens survive restarts. Kept only
 * if no other node of the cluster kept one first: then every node uses that
 * one, and a token of one works on all. Puts the secret kept in *v (a new
 * reference) and resets `b` (scratch). Returns 0 or an error.
 */
static int make_secret(wsr__auth_t *a, wsr__buf_t *b, json_t **v)
{
    unsigned char fresh[SECRET_LEN];
    int rc = WSR_EIO;

    *v = NULL;
    if (RAND_bytes(fresh, sizeof(fresh)) == 1 && wsr__b64url_encode(b, fresh, sizeof(fresh)) == 0 &&
        wsr__buf_putc(b, '\0') == 0 && (*v = json_string((const char *)b->data)) != NULL)
        rc = wsr__store_put_new(a->store, SECRET_KEY, *v);
    OPENSSL_cleanse(fresh, sizeof(fresh));
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->cap);
    wsr__buf_reset(b);
    if (rc == WSR_EEXIST) {
        json_decref(*v);
        rc = wsr_store_get(a->store, SECRET_KEY, v);
    }
    if (rc != 0) {
        json_decref(*v);
        *v = NULL;
    }
    return rc;
}

/* The secret from the configuration, or the store's (made the first time). */
static int load_secret(wsr__auth_t *a, const char *configured, wsr_error_t *err)
{
    json_t *v;
    wsr__buf_t b;
    int rc;

    if (configured != NULL) {
        a->secret_len = strlen(configured);
        if (a->secret_len < SECRET_MIN || a->secret_len > sizeof(a->secret)) {
            if (err != NULL)
                snprintf(err->key, sizeof(err->key), "jwt_secret");
            return wsr__error_set(err, WSR_EINVAL, "jwt_secret must be %d to %zu bytes", SECRET_MIN,
                                  sizeof(a->secret));
        }
        memcpy(a->secret, configured, a->secret_len);
        return 0;
    }
    rc = wsr_store_get(a->store, SECRET_KEY, &v);
    if (rc != 0 && rc != WSR_ENOENT)
        return wsr__error_set(err, rc, "cannot read the token secret from the store: %s",
                              wsr_strerror(rc));
    wsr__buf_init(&b, 0, sizeof(a->secret));
    if (rc == WSR_ENOENT && make_secret(a, &b, &v) != 0) {
        wsr__buf_dispose(&b);
        return wsr__error_set(err, WSR_EIO, "cannot make and keep a token secret");
    }
    rc = json_is_string(v) ? wsr__b64url_decode(&b, json_string_value(v), json_string_length(v))
                           : WSR_EPARSE;
    if (rc == 0 && b.len >= SECRET_MIN) {
        memcpy(a->secret, b.data, b.len);
        a->secret_len = b.len;
    } else {
        rc = wsr__error_set(err, WSR_EIO, "the store's token secret is unreadable");
    }
    if (b.data != NULL)
        OPENSSL_cleanse(b.data, b.cap);
    wsr__buf_dispose(&b);
    json_decref(v);
    return rc;
}

/* Reads the revocations still in force from the store into a new set, or
 * NULL when the store cannot be read. */
static json_t *read_revoked(wsr__auth_t *a)
{
    json_t *set;

    /* A token's id maps to its expiry; a removed user's ("user:NAME") to the
     * removal time, which later tokens pass. */
    return wsr__store_revoked(a->store, wsr__epoch_s(), &set) == 0 ? set : NULL;
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
            /* Best effort: what stays is dropped at the next prune. */
            if (wsr__store_prune(a->store, wsr__epoch_s()) != 0)
                prune--;
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
    pthread_mutex_init(&a->keys_lock, NULL);
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
    wsr__keys_unref(a->keys);
    wsr__free(a->idp_keys);
    wsr__free(a->idp_jwks);
    wsr__free(a->idp_issuer);
    wsr__free(a->idp_audience);
    wsr__free(a->idp_roles_claim);
    pthread_mutex_destroy(&a->keys_lock);
    pthread_cond_destroy(&a->wake);
    pthread_mutex_destroy(&a->lock);
    wsr__free(a);
}

/* A removed user's marker holds the removal time in epoch milliseconds;
 * markers written before (epoch seconds, below this) stand for the last
 * millisecond of their second. */
#define SECONDS_MARKER_MAX 100000000000LL

/* True when `jti`, or every token of `user` issued at or before its
 * removal, is revoked. `iat_ms`: the token's issue time in milliseconds (its
 * iat_ms claim; a token without one, its iat second's first millisecond). A
 * user removed and added again in the same second keeps the tokens issued
 * after the removal: with seconds, they were taken for revoked. */
static bool is_revoked(wsr__auth_t *a, const char *jti, const char *user, int64_t iat_ms)
{
    char key[160];
    json_t *removed;
    int64_t removed_ms = 0;
    bool revoked;

    snprintf(key, sizeof(key), "user:%s", user);
    pthread_mutex_lock(&a->lock);
    removed = json_object_get(a->revoked, key);
    if (removed != NULL) {
        removed_ms = json_integer_value(removed);
        if (removed_ms < SECONDS_MARKER_MAX)
            removed_ms = removed_ms * 1000 + 999;
    }
    revoked = (jti != NULL && json_object_get(a->revoked, jti) != NULL) ||
              (removed != NULL && iat_ms <= removed_ms);
    pthread_mutex_unlock(&a->lock);
    return revoked;
}

/* A token's issue time in milliseconds: its iat_ms claim when it has one
 * that agrees with its iat, else the first millisecond of iat. */
static int64_t issued_ms(json_t *claims)
{
    json_int_t iat = json_integer_value(json_object_get(claims, "iat"));
    json_t *ms = json_object_get(claims, "iat_ms");

    if (json_is_integer(ms) && json_integer_value(ms) / 1000 == iat)
        return json_integer_value(ms);
    return iat > INT64_MAX / 1000 || iat < 0 ? INT64_MAX : (int64_t)iat * 1000;
}

/* ---- roles ---- */

/* Appends one role (n bytes) to the comma-joined list, unless it is empty or
 * holds a comma, a blank or U+0000: such a name could not be told apart from
 * two roles, and leaving it out can only take rights away. */
static int add_role(wsr__buf_t *b, const char *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (r[i] == ',' || r[i] == ' ' || r[i] == '\t' || r[i] == '\0')
            return 0;
    if (n == 0)
        return 0;
    if (b->len > 0 && wsr__buf_putc(b, ',') != 0)
        return WSR_ENOMEM;
    return wsr__buf_append(b, r, n) != 0 ? WSR_ENOMEM : 0;
}

/*
 * The roles a claim grants, comma-joined (owned: wsr__free), or NULL when
 * memory ran out. The claim is an array of strings, or one string of names
 * separated by commas or blanks (our tokens before roles were an array, and
 * OAuth's space-separated `scope`); anything else grants no role.
 */
static char *roles_text(const json_t *claim)
{
    wsr__buf_t b;
    const json_t *v;
    size_t i;
    int rc = 0;

    wsr__buf_init(&b, 0, 0);
    json_array_foreach(claim, i, v)
    {
        if (rc == 0 && json_is_string(v))
            rc = add_role(&b, json_string_value(v), json_string_length(v));
    }
    if (json_is_string(claim)) {
        const char *p = json_string_value(claim), *end = p + json_string_length(claim);

        while (rc == 0 && p < end) {
            size_t n = strcspn(p, ", \t");

            if (p + n > end)
                n = (size_t)(end - p); /* a U+0000 inside: the rest is one word */
            rc = add_role(&b, p, n);
            p += n + 1;
        }
    }
    if (rc == 0)
        rc = wsr__buf_putc(&b, '\0');
    if (rc != 0) {
        wsr__buf_dispose(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* The claim named `name`: a member of the payload, or else, when the name
 * has dots, a path into nested objects ("realm_access.roles"). */
static const json_t *find_claim(const json_t *payload, const char *name)
{
    const json_t *v = json_object_get(payload, name);
    char part[128];

    while (v == NULL && payload != NULL && *name != '\0' && strchr(name, '.') != NULL) {
        size_t n = strcspn(name, ".");

        if (n >= sizeof(part))
            return NULL;
        memcpy(part, name, n);
        part[n] = '\0';
        payload = json_object_get(payload, part);
        name += n + (name[n] == '.');
        v = strchr(name, '.') == NULL ? json_object_get(payload, name) : NULL;
    }
    return v;
}

/* ---- our own tokens ---- */

static int verify_own(wsr__auth_t *a, const char *token, size_t n, wsr__session_t **session,
                      char *detail, size_t size)
{
    json_t *p = NULL;
    const char *sub, *jti, *sid;
    char *roles = NULL;
    int rc;

    rc = wsr__jwt_verify(token, n, a->secret, a->secret_len, &p, detail, size);
    if (rc == 0)
        rc = wsr__jwt_check_time(p, wsr__epoch_s(), detail, size);
    if (rc != 0)
        goto out;
    sub = json_string_value(json_object_get(p, "sub"));
    jti = json_string_value(json_object_get(p, "jti"));
    /* The login a token belongs to: refreshed tokens share their login's
     * sid, so one logout revokes them all; older tokens have only a jti. */
    sid = json_string_value(json_object_get(p, "sid"));
    if (sid == NULL)
        sid = jti;
    if (sub == NULL || jti == NULL || !json_is_integer(json_object_get(p, "iat"))) {
        snprintf(detail, size, "token lacks a subject, an id or an issue time");
        rc = WSR_EAUTH;
    } else if (is_revoked(a, sid, sub, issued_ms(p))) {
        snprintf(detail, size, "token was revoked");
        rc = WSR_EAUTH;
    } else if ((roles = roles_text(json_object_get(p, "roles"))) == NULL) {
        rc = WSR_ENOMEM;
    } else {
        /* wsr__jwt_time: a cast of an exp such as 1e300 would be undefined. */
        *session = wsr__session_new(sub, roles, sid, wsr__jwt_time(json_object_get(p, "exp")));
        wsr__session_set_iat(*session, issued_ms(p));
        rc = *session ? 0 : WSR_ENOMEM;
    }
out:
    wsr__free(roles);
    json_decref(p);
    return rc;
}

/* ---- identity-provider tokens ---- */

/* The audience claim, a string or an array of strings, must hold `want`. */
static bool has_audience(const json_t *aud, const char *want)
{
    const json_t *v;
    size_t i;

    if (json_is_string(aud))
        return strcmp(json_string_value(aud), want) == 0;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
            return true;
    }
    return false;
}

/* The issuer and the audience, when they are required. */
static int check_idp_claims(const wsr__auth_t *a, const json_t *p, char *detail, size_t size)
{
    const char *iss = json_string_value(json_object_get(p, "iss"));
    const json_t *aud = json_object_get(p, "aud");
    const char *sub = json_string_value(json_object_get(p, "sub"));

    if (a->idp_issuer != NULL && iss == NULL)
        snprintf(detail, size, "token has no issuer (iss); %.100s is required", a->idp_issuer);
    else if (a->idp_issuer != NULL && strcmp(iss, a->idp_issuer) != 0)
        snprintf(detail, size, "token issuer (iss) is not %.100s", a->idp_issuer);
    else if (a->idp_audience != NULL && aud == NULL)
        snprintf(detail, size, "token has no audience (aud); %.100s is required", a->idp_audience);
    else if (a->idp_audience != NULL && !has_audience(aud, a->idp_audience))
        snprintf(detail, size, "token audience (aud) does not include %.100s", a->idp_audience);
    else if (sub == NULL || sub[0] == '\0')
        snprintf(detail, size, "token has no subject (sub)");
    else
        return 0;
    return WSR_EAUTH;
}

/* The id of an identity provider's token, for logout on this connection: a
 * digest, since such tokens need not have a jti. "idp:" + 22 characters. */
static int external_id(const char *token, size_t n, char out[32])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    wsr__buf_t b;
    int rc;

    if (EVP_Digest(token, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
        return WSR_ENOMEM;
    wsr__buf_init(&b, 0, 0);
    rc = wsr__b64url_encode(&b, md, 16);
    if (rc == 0)
        snprintf(out, 32, "idp:%.*s", (int)b.len, (const char *)b.data);
    wsr__buf_dispose(&b);
    return rc;
}

static int verify_external(wsr__auth_t *a, const wsr__key_t *key, const char *token, size_t n,
                           wsr__session_t **session, char *detail, size_t size)
{
    json_t *p = NULL;
    char *roles = NULL, id[32];
    int64_t exp;
    int rc;

    rc = wsr__jwt_verify_key(token, n, key->alg, key->pkey, key->kid, &p, detail, size);
    if (rc == 0)
        rc = wsr__jwt_check_times(p, wsr__epoch_s(), a->idp_leeway_s, true, detail, size);
    if (rc == 0)
        rc = check_idp_claims(a, p, detail, size);
    if (rc == 0)
        rc = external_id(token, n, id);
    if (rc == 0 && (roles = roles_text(find_claim(p, a->idp_roles_claim))) == NULL)
        rc = WSR_ENOMEM;
    if (rc == 0) {
        /* The session ends when the token stops being accepted: at exp plus
         * the leeway, or a token let in by the leeway closed at once. */
        exp = wsr__jwt_time(json_object_get(p, "exp"));
        exp = exp > 253402300799 - (int64_t)a->idp_leeway_s ? 253402300799
                                                            : exp + (int64_t)a->idp_leeway_s;
        *session = wsr__session_new(json_string_value(json_object_get(p, "sub")), roles, id, exp);
        wsr__session_set_iat(*session, wsr__jwt_time(json_object_get(p, "iat")) * 1000);
        wsr__session_set_external(*session);
        rc = *session ? 0 : WSR_ENOMEM;
    }
    wsr__free(roles);
    json_decref(p);
    return rc;
}

/* The keys in force (one reference), or NULL when there are none. */
static wsr__keys_t *current_keys(wsr__auth_t *a)
{
    wsr__keys_t *k;

    pthread_mutex_lock(&a->keys_lock);
    k = wsr__keys_ref(a->keys);
    pthread_mutex_unlock(&a->keys_lock);
    return k;
}

/*
 * The key a token names: its kid; without one, our own secret for HS256, or
 * the only key there is. Sets *key (NULL: our secret) and returns 0, or
 * WSR_EAUTH with a sentence.
 */
static int pick_key(const wsr__keys_t *keys, const wsr__jwt_header_t *h, const wsr__key_t **key,
                    char *detail, size_t size)
{
    *key = NULL;
    if (h->has_kid) {
        *key = wsr__keys_find(keys, h->kid);
        if (*key == NULL) {
            snprintf(detail, size, "token key id (kid) names no key of this server");
            return WSR_EAUTH;
        }
        return 0;
    }
    if (h->alg == WSR__JWT_HS256)
        return 0;
    if (wsr__keys_count(keys) == 1) {
        *key = wsr__keys_get(keys, 0);
        return 0;
    }
    snprintf(detail, size, "token names no key id (kid), and this server has several keys");
    return WSR_EAUTH;
}

int wsr__auth_verify(wsr__auth_t *a, const char *token, size_t n, wsr__session_t **session,
                     char *detail, size_t size)
{
    wsr__keys_t *keys;
    const wsr__key_t *key = NULL;
    wsr__jwt_header_t h;
    int rc;

    *session = NULL;
    keys = current_keys(a);
    if (keys == NULL)
        return verify_own(a, token, n, session, detail, size);
    rc = wsr__jwt_read_header(token, n, WSR__JWT_ALL, &h, detail, size);
    if (rc == 0)
        rc = pick_key(keys, &h, &key, detail, size);
    if (rc == 0 && key == NULL)
        rc = verify_own(a, token, n, session, detail, size);
    else if (rc == 0)
        rc = verify_external(a, key, token, n, session, detail, size);
    wsr__keys_unref(keys);
    return rc;
}

/* ---- keys ---- */

/* Copies an optional string into *out. Returns nonzero when memory ran out. */
static int copy_text(char **out, const char *in)
{
    *out = in ? wsr__strdup(in) : NULL;
    return in != NULL && *out == NULL;
}

int wsr__auth_set_idp(wsr__auth_t *a, const wsr__idp_config_t *cfg, char *notes, size_t notes_size,
                      wsr_error_t *err)
{
    if (cfg->keys == NULL && cfg->jwks == NULL) {
        if (cfg->issuer != NULL || cfg->audience != NULL)
            return wsr__error_set(err, WSR_EINVAL,
                                  "jwt_issuer and jwt_audience need jwt_keys or jwt_jwks");
        return 0;
    }
    if (copy_text(&a->idp_keys, cfg->keys) || copy_text(&a->idp_jwks, cfg->jwks) ||
        copy_text(&a->idp_issuer, cfg->issuer) || copy_text(&a->idp_audience, cfg->audience) ||
        copy_text(&a->idp_roles_claim, cfg->roles_claim ? cfg->roles_claim : "roles"))
        return wsr__error_set(err, WSR_ENOMEM, "out of memory");
    a->idp_leeway_s = cfg->leeway_s;
    a->keys = wsr__keys_load(a->idp_keys, a->idp_jwks, notes, notes_size, err);
    return a->keys != NULL ? 0 : (err ? err->code : WSR_EINVAL);
}

int wsr__auth_reload_keys(wsr__auth_t *a, size_t *count, char *notes, size_t notes_size,
                          wsr_error_t *err)
{
    wsr__keys_t *fresh, *old;

    *count = 0;
    if (a == NULL || (a->idp_keys == NULL && a->idp_jwks == NULL))
        return 0;
    /* Read without any lock: verification goes on with the old keys, and
     * a file that does not load leaves them in force. */
    fresh = wsr__keys_load(a->idp_keys, a->idp_jwks, notes, notes_size, err);
    if (fresh == NULL) {
        old = current_keys(a);
        *count = wsr__keys_count(old);
        wsr__keys_unref(old);
        return err ? err->code : WSR_EINVAL;
    }
    *count = wsr__keys_count(fresh);
    pthread_mutex_lock(&a->keys_lock);
    old = a->keys;
    a->keys = fresh;
    pthread_mutex_unlock(&a->keys_lock);
    wsr__keys_unref(old); /* verifications still using it hold their own reference */
    return 0;
}

size_t wsr__auth_key_count(wsr__auth_t *a)
{
    wsr__keys_t *k = a ? current_keys(a) : NULL;
    size_t n = wsr__keys_count(k);

    wsr__keys_unref(k);
    return n;
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
    /* An identity provider's token is revoked by nobody here. */
    if (wsr__session_external(s))
        return NULL;
    if (is_revoked(a, wsr__session_jti(s), wsr__session_user(s), wsr__session_iat(s)))
        return "token revoked";
    return NULL;
}

/* Issues a token of login `sid` (NULL: a new login, whose sid is made). */
static int issue(wsr__auth_t *a, const char *user, const char *roles, const char *sid, char **token,
                 wsr__session_t **session)
{
    unsigned char raw[32];
    wsr__buf_t ids;
    int64_t now_ms = wsr__wall_ms(), now = now_ms / 1000;
    json_t *claims = NULL;
    size_t jti_len;
    int rc = WSR_ENOMEM;

    *token = NULL;
    *session = NULL;
    /* Two random ids: the token's jti, and the login's sid unless kept. */
    wsr__buf_init(&ids, 0, 0);
    if (RAND_bytes(raw, sizeof(raw)) != 1 || wsr__b64url_encode(&ids, raw, 16) ||
        wsr__buf_putc(&ids, '\0'))
        goto out;
    jti_len = ids.len;
    if (sid == NULL && (wsr__b64url_encode(&ids, raw + 16, 16) || wsr__buf_putc(&ids, '\0')))
        goto out;
    if (sid == NULL)
        sid = (const char *)ids.data + jti_len;
    *session = wsr__session_new(user, roles, sid, now + a->ttl_s);
    if (*session == NULL)
        goto out;
    wsr__session_set_iat(*session, now_ms);
    /* roles is an array of strings (it was the comma-joined text); iat_ms
     * tells a token issued after its user's removal in the same second from
     * one issued before (is_revoked). */
    claims =
        json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:o}", "sub", user, "iat", (json_int_t)now,
                  "iat_ms", (json_int_t)now_ms, "exp", (json_int_t)(now + a->ttl_s), "jti",
                  (const char *)ids.data, "sid", sid, "roles", wsr__session_roles_json(*session));
    rc = claims ? wsr__jwt_sign(a->secret, a->secret_len, claims, token) : WSR_ENOMEM;
out:
    if (rc != 0) {
        wsr__session_unref(*session);
        *session = NULL;
    }
    json_decref(claims);
    wsr__buf_dispose(&ids);
    return rc;
}

int wsr__auth_issue(wsr__auth_t *a, const char *user, const char *roles, char **token,
                    wsr__session_t **session)
{
    return issue(a, user, roles, NULL, token, session);
}

int wsr__auth_reissue(wsr__auth_t *a, const wsr__session_t *s, const char *roles, char **token,
                      wsr__session_t **session)
{
    if (wsr__session_external(s) || wsr__session_jti(s) == NULL) {
        *token = NULL;
        *session = NULL;
        return WSR_EINVAL;
    }
    return issue(a, wsr__session_user(s), roles, wsr__session_jti(s), token, session);
}

int wsr__auth_revoke(wsr__auth_t *a, const wsr__session_t *s)
{
    const char *jti = wsr__session_jti(s);
    int64_t now = wsr__epoch_s(), exp = wsr__session_exp(s), chain = now + (int64_t)a->ttl_s;
    int rc;

    if (jti == NULL || wsr__session_external(s))
        return WSR_EINVAL;
    /* The login's other tokens (refreshed after this one) were all issued
     * by now, so they expire by now + ttl: the revocation lasts that long.
     * (An expired token cannot log out, so one has no chain to cover.) */
    if (exp > now && chain > exp)
        exp = chain;
    pthread_mutex_lock(&a->lock);
    rc = json_object_set_new(a->revoked, jti, json_integer(exp)) ? WSR_ENOMEM : 0;
    pthread_mutex_unlock(&a->lock);
    if (rc == 0)
        rc = wsr__store_revoke(a->store, jti, exp, 0);
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
    /* The request's token of the connection's own login: a logout marks the
     * connection's session object too (wsr__session_set_twin). */
    if (req->session != NULL && wsr__session_jti(s) != NULL &&
        wsr__session_jti(req->session) != NULL &&
        strcmp(wsr__session_jti(s), wsr__session_jti(req->session)) == 0)
        wsr__session_set_twin(s, req->session);
    wsr__session_unref(req->session);
    req->session = s;
    return 0;
}
