/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/auth.c: the token authority on a real store in a fresh
 * temporary directory. Issuing and verifying, the secret (configured, or
 * generated once and kept), revocation of a token and of a removed user's
 * tokens (picked up from the store by the authority's thread), sessions that
 * are logging out, and the revocation set's size over time; the roles claim
 * (an array now, the old comma-joined text still read), refreshed tokens of
 * one login and their revocation together; and identity-provider tokens
 * (RS256, ES256) with keys made here: what they need (iss, aud, times with
 * leeway, sub), each refusal with its sentence, their sessions that nobody
 * revokes, and the atomic reload of their keys.
 */
#include "testutil.h"

#include <ftw.h>
#include <limits.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "wsrouter/auth.h"
#include "wsrouter/store.h"

#include "core/request_int.h"
#include "core/session_int.h"
#include "services/auth_int.h"
#include "services/jwt_int.h"
#include "services/store_int.h"

#include <openssl/evp.h>

#define SECRET "0123456789abcdef0123456789abcdef"

typedef struct fixture {
    char dir[PATH_MAX];
    char path[PATH_MAX + 32];
    wsr_store_t *store;
    wsr__auth_t *auth;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    wsr_error_t err;

    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof(f->dir), "%s/wsr-auth-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof(f->path), "%s/wsrouter.db", f->dir);
    f->store = wsr_store_open(f->path, false, &err);
    f->auth = f->store ? wsr__auth_new(f->store, SECRET, 3600, &err) : NULL;
    if (f->auth == NULL) {
        print_error("setup: %s\n", err.text);
        wsr_store_close(f->store);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    wsr__auth_free(f->auth);
    wsr_store_close(f->store);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Signs `claims` (JSON text) with `key` here, independently of jwt.c. */
static char *mint(const char *key, const char *claims)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    unsigned char mac[32];
    unsigned int len = 0;
    wsr__buf_t b;
    char *out;

    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__b64url_encode(&b, (const unsigned char *)header, sizeof(header) - 1), 0);
    assert_int_equal(wsr__buf_putc(&b, '.'), 0);
    assert_int_equal(wsr__b64url_encode(&b, (const unsigned char *)claims, strlen(claims)), 0);
    assert_non_null(HMAC(EVP_sha256(), key, (int)strlen(key), b.data, b.len, mac, &len));
    assert_int_equal(wsr__buf_putc(&b, '.'), 0);
    assert_int_equal(wsr__b64url_encode(&b, mac, sizeof(mac)), 0);
    assert_int_equal(wsr__buf_putc(&b, '\0'), 0);
    out = strdup((const char *)b.data);
    wsr__buf_dispose(&b);
    return out;
}

static int verify(wsr__auth_t *a, const char *token, wsr__session_t **s, char *detail)
{
    detail[0] = '\0';
    return wsr__auth_verify(a, token, strlen(token), s, detail, 256);
}

static void test_auth__issue_then_verify(void **state)
{
    fixture_t *f = *state;
    wsr__session_t *issued, *back;
    char *token, detail[256];
    int64_t now = wsr__epoch_s();
    json_t *roles;

    assert_int_equal(wsr__auth_issue(f->auth, "alice", "admin,ops", &token, &issued), 0);
    assert_string_equal(wsr__session_user(issued), "alice");
    assert_true(wsr__session_exp(issued) >= now + 3600 && wsr__session_exp(issued) <= now + 3601);
    assert_int_equal(verify(f->auth, token, &back, detail), 0);
    assert_string_equal(wsr__session_user(back), "alice");
    assert_string_equal(wsr__session_jti(back), wsr__session_jti(issued));
    assert_int_equal(wsr__session_exp(back), wsr__session_exp(issued));
    assert_int_equal(wsr__session_iat(back), wsr__session_iat(issued));
    assert_true(wsr__session_has_role(back, "ops"));
    assert_true(wsr__session_has_role(back, "admin"));
    assert_false(wsr__session_has_role(back, "adm"));
    roles = wsr__session_roles_json(back);
    assert_int_equal(json_array_size(roles), 2);
    json_decref(roles);
    assert_null(wsr__auth_session_ended(f->auth, back, now));
    assert_string_equal(wsr__auth_session_ended(f->auth, back, wsr__session_exp(back)),
                        "token expired");
    wsr__session_unref(back);
    wsr__session_unref(issued);
    wsr__free(token);
}

static void test_auth__claims_it_needs(void **state)
{
    fixture_t *f = *state;
    wsr__session_t *s = (wsr__session_t *)1;
    char detail[256], claims[256], *t;
    long long now = (long long)wsr__epoch_s();

    snprintf(claims, sizeof(claims), "{\"sub\":\"u\",\"iat\":%lld,\"exp\":%lld}", now, now + 60);
    t = mint(SECRET, claims);
    assert_int_equal(verify(f->auth, t, &s, detail), WSR_EAUTH);
    assert_string_equal(detail, "token lacks a subject, an id or an issue time");
    assert_null(s);
    free(t);
    snprintf(claims, sizeof(claims), "{\"sub\":\"u\",\"jti\":\"j\",\"iat\":%lld.5,\"exp\":%lld}",
             now, now + 60);
    t = mint(SECRET, claims);
    assert_int_equal(verify(f->auth, t, &s, detail), WSR_EAUTH);
    assert_string_equal(detail, "token lacks a subject, an id or an issue time");
    free(t);
    snprintf(claims, sizeof(claims), "{\"sub\":\"u\",\"jti\":\"j\",\"iat\":%lld,\"exp\":%lld}", now,
             now - 1);
    t = mint(SECRET, claims);
    assert_int_equal(verify(f->auth, t, &s, detail), WSR_EAUTH);
    assert_int_equal(strncmp(detail, "token expired at ", 17), 0);
    free(t);
    /* exp far away is a valid token whose session ends in 9999, not a
     * conversion out of range. */
    snprintf(claims, sizeof(claims), "{\"sub\":\"u\",\"jti\":\"j\",\"iat\":%lld,\"exp\":1e300}",
             now);
    t = mint(SECRET, claims);
    assert_int_equal(verify(f->auth, t, &s, detail), 0);
    assert_int_equal(wsr__session_exp(s), 253402300799);
    wsr__session_unref(s);
    free(t);
    t = mint("another secret, 32 bytes or more", claims);
    assert_int_equal(verify(f->auth, t, &s, detail), WSR_EAUTH);
    assert_string_equal(detail, "token signature does not match");
    free(t);
}

static void test_auth__secret_is_configured_or_kept_in_the_store(void **state)
{
    fixture_t *f = *state;
    wsr__auth_t *gen1, *gen2, *other;
    wsr__session_t *s;
    char *token, detail[256];
    wsr_error_t err;

    /* Too short a configured secret is refused with its sentence. */
    memset(&err, 0, sizeof(err));
    assert_null(wsr__auth_new(f->store, "0123456789abcdef0123456789abcde", 60, &err));
    assert_int_equal(err.code, WSR_EINVAL);
    assert_string_equal(err.text, "jwt_secret must be 32 to 256 bytes");
    /* Without one, a secret is made once and kept: both authorities agree. */
    gen1 = wsr__auth_new(f->store, NULL, 60, &err);
    assert_non_null(gen1);
    gen2 = wsr__auth_new(f->store, NULL, 60, &err);
    assert_non_null(gen2);
    assert_int_equal(wsr__auth_issue(gen1, "bob", "", &token, &s), 0);
    wsr__session_unref(s);
    assert_int_equal(verify(gen2, token, &s, detail), 0);
    wsr__session_unref(s);
    /* ...and differ from the configured one. */
    assert_int_equal(verify(f->auth, token, &s, detail), WSR_EAUTH);
    assert_string_equal(detail, "token signature does not match");
    wsr__free(token);
    other = wsr__auth_new(f->store, SECRET, 60, &err);
    assert_non_null(other);
    wsr__auth_free(other);
    wsr__auth_free(gen1);
    wsr__auth_free(gen2);
}

static void test_auth__revoked_token_is_refused(void **state)
{
    fixture_t *f = *state;
    wsr__session_t *issued, *back;
    char *token, detail[256];

    assert_int_equal(wsr__auth_issue(f->auth, "alice", "", &token, &issued), 0);
    assert_int_equal(verify(f->auth, token, &back, detail), 0);
    assert_int_equal(wsr__auth_revoke(f->auth, issued), 0);
    assert_string_equal(wsr__auth_session_ended(f->auth, back, wsr__epoch_s()), "token revoked");
    wsr__session_unref(back);
    assert_int_equal(verify(f->auth, token, &back, detail), WSR_EAUTH);
    assert_string_equal(detail, "token was revoked");
    assert_null(back);
    /* Written through to the store, so another process learns of it. */
    {
        const char *jti[1] = {wsr__session_jti(issued)};
        json_t *rows;

        assert_int_equal(
            wsr__store_query(f->store, "SELECT exp FROM wsr_revoked WHERE jti = ?1", jti, 1, &rows),
            0);
        assert_int_equal(json_array_size(rows), 1);
        /* Until the login's last token can have expired: this one's exp
         * at least (a second may have passed since it was issued). */
        assert_true(json_integer_value(json_array_get(json_array_get(rows, 0), 0)) >=
                    wsr__session_exp(issued));
        assert_true(json_integer_value(json_array_get(json_array_get(rows, 0), 0)) <=
                    wsr__session_exp(issued) + 2);
        json_decref(rows);
    }
    wsr__session_unref(issued);
    wsr__free(token);
}

static void test_auth__a_session_logging_out_is_not_ended_by_its_revocation(void **state)
{
    fixture_t *f = *state;
    wsr__session_t *conn, *elsewhere;
    char *token, detail[256];

    assert_int_equal(wsr__auth_issue(f->auth, "alice", "", &token, &conn), 0);
    assert_int_equal(verify(f->auth, token, &elsewhere, detail), 0);
    assert_false(wsr__session_logging_out(conn));
    wsr__session_mark_logout(conn);
    assert_true(wsr__session_logging_out(conn));
    assert_int_equal(wsr__auth_revoke(f->auth, conn), 0);
    /* The connection logging out stays; others using the token end. */
    assert_null(wsr__auth_session_ended(f->auth, conn, wsr__epoch_s()));
    assert_string_equal(wsr__auth_session_ended(f->auth, elsewhere, wsr__epoch_s()),
                        "token revoked");
    assert_false(wsr__session_logging_out(elsewhere));
    assert_false(wsr__session_logging_out(NULL));
    wsr__session_unref(elsewhere);
    wsr__session_unref(conn);
    wsr__free(token);
}

/* A logout sent with the login's token as a member (aiorest-ws's client
 * does so): the request's session is a new object, not the connection's.
 * Marking it must spare the connection's own object as well, or the loop's
 * check closed the connection 1008 while the store write ran (its reply
 * lost on raw TCP: the NDJSON logout of tests/data/aiorest timed out). */
static void test_auth__a_logout_by_the_requests_token_spares_its_connection(void **state)
{
    fixture_t *f = *state;
    wsr__session_t *conn, *other;
    wsr_request_t req;
    wsr_response_t res;
    wsr__session_t *third;
    char *token, *token2, *token3;

    assert_int_equal(wsr__auth_issue(f->auth, "alice", "", &token, &conn), 0);
    assert_int_equal(wsr__auth_issue(f->auth, "bob", "", &token2, &other), 0);
    assert_int_equal(wsr__auth_issue(f->auth, "carol", "", &token3, &third), 0);
    wsr__request_init(&req);
    wsr__response_init(&res);
    req.session = wsr__session_ref(conn);
    req.token = token;
    assert_int_equal(wsr__auth_request(f->auth, &req, &res), 0);
    assert_non_null(req.session);
    assert_ptr_not_equal(req.session, conn);
    wsr__session_mark_logout(req.session);
    assert_int_equal(wsr__auth_revoke(f->auth, req.session), 0);
    assert_true(wsr__session_logging_out(conn));
    assert_null(wsr__auth_session_ended(f->auth, conn, wsr__epoch_s()));
    req.token = NULL;
    wsr__request_dispose(&req);
    wsr__response_dispose(&res);

    /* Another login's token on a connection marks nothing of it. */
    wsr__request_init(&req);
    wsr__response_init(&res);
    req.session = wsr__session_ref(other);
    req.token = token3;
    assert_int_equal(wsr__auth_request(f->auth, &req, &res), 0);
    assert_string_equal(wsr__session_user(req.session), "carol");
    wsr__session_mark_logout(req.session);
    req.token = NULL;
    wsr__request_dispose(&req);
    wsr__response_dispose(&res);
    assert_false(wsr__session_logging_out(other));

    /* A copy for a connection carries no twin: marking it marks only it. */
    {
        wsr__session_t *copy = wsr__session_dup(other);

        assert_non_null(copy);
        assert_string_equal(wsr__session_user(copy), "bob");
        assert_string_equal(wsr__session_roles(copy), wsr__session_roles(other));
        assert_string_equal(wsr__session_jti(copy), wsr__session_jti(other));
        assert_int_equal(wsr__session_exp(copy), wsr__session_exp(other));
        wsr__session_mark_logout(copy);
        assert_false(wsr__session_logging_out(other));
        wsr__session_unref(copy);
    }
    wsr__session_unref(other);
    wsr__session_unref(conn);
    wsr__session_unref(third);
    wsr__free(token);
    wsr__free(token2);
    wsr__free(token3);
}

/* Waits up to `s` seconds for `cond`, polling every 20 ms. */
#define WAIT_FOR(cond, s)                                                                          \
    do {                                                                                           \
        double until_ = mono_s() + (s);                                                            \
        while (!(cond) && mono_s() < until_)                                                       \
            usleep(20000);                                                                         \
    } while (0)

static void test_auth__removed_user_tokens_end_within_seconds(void **state)
{
    fixture_t *f = *state;
    wsr__session_t *alice, *bob, *back;
    char *ta, *tb, detail[256];
    int64_t exp;

    /* Straight into the table: the removal does not look at the hash. */
    {
        const char *texts[3] = {"alice", "", "$pbkdf2-sha256$x"};
        int64_t created = 1700000000;

        assert_int_equal(wsr__store_exec(f->store,
                                         "INSERT INTO wsr_users(name, roles, hash, created) "
                                         "VALUES(?1, ?2, ?3, ?4)",
                                         texts, 3, &created, 1),
                         0);
    }
    assert_int_equal(wsr__auth_issue(f->auth, "alice", "", &ta, &alice), 0);
    assert_int_equal(wsr__auth_issue(f->auth, "bob", "", &tb, &bob), 0);
    /* As `wsrouterd user remove` does it, from another handle. */
    {
        wsr_error_t err;
        wsr_store_t *cli = wsr_store_open(f->path, true, &err);

        assert_non_null(cli);
        assert_int_equal(wsr_user_remove(cli, "alice"), 0);
        wsr_store_close(cli);
    }
    WAIT_FOR(wsr__auth_session_ended(f->auth, alice, wsr__epoch_s()) != NULL, 3.0);
    assert_string_equal(wsr__auth_session_ended(f->auth, alice, wsr__epoch_s()), "token revoked");
    assert_int_equal(verify(f->auth, ta, &back, detail), WSR_EAUTH);
    assert_string_equal(detail, "token was revoked");
    assert_null(wsr__auth_session_ended(f->auth, bob, wsr__epoch_s()));
    assert_int_equal(verify(f->auth, tb, &back, detail), 0);
    wsr__session_unref(back);
    /* A token issued after the removal (a new alice) is not revoked. */
    exp = wsr__epoch_s() + 60;
    {
        char claims[160], *t;
        wsr__session_t *later;

        snprintf(claims, sizeof(claims),
                 "{\"sub\":\"alice\",\"jti\":\"new\",\"iat\":%lld,\"exp\":%lld}",
                 (long long)wsr__epoch_s() + 1, (long long)exp);
        t = mint(SECRET, claims);
        assert_int_equal(verify(f->auth, t, &later, detail), 0);
        assert_null(wsr__auth_session_ended(f->auth, later, wsr__epoch_s()));
        wsr__session_unref(later);
        free(t);
    }
    wsr__session_unref(alice);
    wsr__session_unref(bob);
    wsr__free(ta);
    wsr__free(tb);
}

/* Verifies a token minted for `user` with `iat` (seconds) and, unless -1,
 * `iat_ms`; returns verify's result. */
static int verify_issued(fixture_t *f, const char *user, int64_t iat, int64_t iat_ms)
{
    char claims[256], detail[256], ms[48] = "";
    wsr__session_t *s = NULL;
    char *t;
    int rc;

    if (iat_ms >= 0)
        snprintf(ms, sizeof(ms), ",\"iat_ms\":%lld", (long long)iat_ms);
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"%s\",\"jti\":\"j%lld\",\"iat\":%lld%s,\"exp\":%lld}", user,
             (long long)iat_ms, (long long)iat, ms, (long long)wsr__epoch_s() + 60);
    t = mint(SECRET, claims);
    rc = verify(f->auth, t, &s, detail);
    if (rc == 0)
        assert_null(wsr__auth_session_ended(f->auth, s, wsr__epoch_s()));
    wsr__session_unref(s);
    free(t);
    return rc;
}

/* A user removed at R (milliseconds) and added again: a token issued in the
 * same second after R works, one issued before it does not; a token
 * without iat_ms counts from its second's start. A marker written in
 * seconds (an older store) still revokes its whole second. */
static void test_auth__a_removal_counts_to_the_millisecond(void **state)
{
    fixture_t *f = *state;
    int64_t r = wsr__epoch_s() - 100, r_ms = r * 1000 + 500, exp = wsr__epoch_s() + 3600;

    assert_int_equal(wsr__store_revoke(f->store, "user:carol", exp, r_ms), 0);
    assert_int_equal(wsr__store_revoke(f->store, "user:dave", exp, r), 0);
    WAIT_FOR(verify_issued(f, "dave", r, -1) != 0, 3.0);
    assert_int_equal(verify_issued(f, "carol", r, r_ms + 1), 0);
    assert_int_equal(verify_issued(f, "carol", r, r_ms), WSR_EAUTH);
    assert_int_equal(verify_issued(f, "carol", r, r_ms - 1), WSR_EAUTH);
    assert_int_equal(verify_issued(f, "carol", r, -1), WSR_EAUTH);
    assert_int_equal(verify_issued(f, "carol", r + 1, -1), 0);
    /* An iat_ms that does not agree with iat is not believed. */
    assert_int_equal(verify_issued(f, "carol", r, (r + 5) * 1000), WSR_EAUTH);
    assert_int_equal(verify_issued(f, "dave", r, r * 1000 + 999), WSR_EAUTH);
    assert_int_equal(verify_issued(f, "dave", r + 1, (r + 1) * 1000), 0);
}

static void test_auth__expired_revocations_are_forgotten(void **state)
{
    fixture_t *f = *state;
    int64_t now = wsr__epoch_s();
    wsr__session_t *old = wsr__session_new("u", "", "expired-jti", now - 5);
    wsr__session_t *live = wsr__session_new("u", "", "live-jti", now + 3600);

    assert_int_equal(wsr__auth_revoked_count(f->auth), 0);
    assert_int_equal(wsr__auth_revoke(f->auth, old), 0);
    assert_int_equal(wsr__auth_revoke(f->auth, live), 0);
    assert_int_equal(wsr__auth_revoked_count(f->auth), 2);
    /* The authority's thread reads the store once a second: the expired
     * one (it would be refused as expired anyway) is not kept in memory. */
    WAIT_FOR(wsr__auth_revoked_count(f->auth) == 1, 3.5);
    assert_int_equal(wsr__auth_revoked_count(f->auth), 1);
    assert_string_equal(wsr__auth_session_ended(f->auth, live, now), "token revoked");
    wsr__session_unref(old);
    wsr__session_unref(live);
}

/* The payload of `token`, decoded (new reference). */
static json_t *payload_of(const char *token)
{
    const char *d1 = strchr(token, '.'), *d2 = strchr(d1 + 1, '.');
    wsr__buf_t b;
    json_t *p;

    wsr__buf_init(&b, 0, 0);
    assert_int_equal(wsr__b64url_decode(&b, d1 + 1, (size_t)(d2 - d1 - 1)), 0);
    p = json_loadb((const char *)b.data, b.len, 0, NULL);
    wsr__buf_dispose(&b);
    assert_non_null(p);
    return p;
}

static void test_auth__roles_claim_is_an_array_and_old_text_is_still_read(void **state)
{
    fixture_t *f = *state;
    wsr__session_t *issued, *back;
    char *token, detail[256], claims[256], *t;
    json_t *p;
    long long now = (long long)wsr__epoch_s();

    assert_int_equal(wsr__auth_issue(f->auth, "alice", "admin,ops", &token, &issued), 0);
    p = payload_of(token);
    assert_true(json_is_array(json_object_get(p, "roles")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(p, "roles"), 1)), "ops");
    /* The login's id (sid) is its own, and not the token's jti. */
    assert_string_equal(json_string_value(json_object_get(p, "sid")), wsr__session_jti(issued));
    assert_string_not_equal(json_string_value(json_object_get(p, "jti")),
                            json_string_value(json_object_get(p, "sid")));
    json_decref(p);
    wsr__session_unref(issued);
    wsr__free(token);
    /* Tokens of before: roles a comma-joined string, no sid. */
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"u\",\"jti\":\"j1\",\"iat\":%lld,\"exp\":%lld,\"roles\":\"admin,ops\"}",
             now, now + 60);
    t = mint(SECRET, claims);
    assert_int_equal(verify(f->auth, t, &back, detail), 0);
    assert_true(wsr__session_has_role(back, "admin"));
    assert_true(wsr__session_has_role(back, "ops"));
    assert_string_equal(wsr__session_jti(back), "j1");
    wsr__session_unref(back);
    free(t);
    /* An array with names that cannot be roles: those are left out. */
    snprintf(claims, sizeof(claims),
             "{\"sub\":\"u\",\"jti\":\"j2\",\"iat\":%lld,\"exp\":%lld,"
             "\"roles\":[\"a\",\"b,c\",\"\",7,\"d e\",\"f\"]}",
             now, now + 60);
    t = mint(SECRET, claims);
    assert_int_equal(verify(f->auth, t, &back, detail), 0);
    assert_string_equal(wsr__session_roles(back), ",a,f,");
    wsr__session_unref(back);
    free(t);
}

static void test_auth__refresh_keeps_the_login_and_its_logout_ends_every_token(void **state)
{
    fixture_t *f = *state;
    wsr__session_t *first, *second, *back;
    char *t1, *t2, detail[256];
    json_t *p1, *p2;

    assert_int_equal(wsr__auth_issue(f->auth, "alice", "admin", &t1, &first), 0);
    assert_int_equal(wsr__auth_reissue(f->auth, first, "admin,ops", &t2, &second), 0);
    assert_string_not_equal(t1, t2);
    assert_string_equal(wsr__session_jti(first), wsr__session_jti(second));
    assert_true(wsr__session_has_role(second, "ops"));
    p1 = payload_of(t1);
    p2 = payload_of(t2);
    assert_string_equal(json_string_value(json_object_get(p1, "sid")),
                        json_string_value(json_object_get(p2, "sid")));
    assert_string_not_equal(json_string_value(json_object_get(p1, "jti")),
                            json_string_value(json_object_get(p2, "jti")));
    assert_true(json_integer_value(json_object_get(p2, "exp")) >=
                json_integer_value(json_object_get(p1, "exp")));
    json_decref(p1);
    json_decref(p2);
    /* Refreshing does not revoke the token refreshed: both work. */
    assert_int_equal(verify(f->auth, t1, &back, detail), 0);
    wsr__session_unref(back);
    assert_int_equal(verify(f->auth, t2, &back, detail), 0);
    assert_true(wsr__session_has_role(back, "ops"));
    wsr__session_unref(back);
    /* A logout with the new one ends the old one too. */
    assert_int_equal(wsr__auth_revoke(f->auth, second), 0);
    assert_int_equal(verify(f->auth, t1, &back, detail), WSR_EAUTH);
    assert_string_equal(detail, "token was revoked");
    assert_int_equal(verify(f->auth, t2, &back, detail), WSR_EAUTH);
    assert_string_equal(wsr__auth_session_ended(f->auth, first, wsr__epoch_s()), "token revoked");
    wsr__session_unref(first);
    wsr__session_unref(second);
    wsr__free(t1);
    wsr__free(t2);
}

/* ---- identity-provider tokens ---- */

typedef struct idp {
    char *dir, jwks[PATH_MAX + 16], pem[PATH_MAX + 16];
    EVP_PKEY *rs, *es, *other;
    wsr__auth_t *auth;
} idp_t;

/* Writes a JWKS of `es` as kid "es" and, when `more` is not NULL, `more`'s
 * public key as kid "new". */
static void write_jwks(idp_t *i, EVP_PKEY *more)
{
    char *a = tu_key_jwk(i->es, "es", ",\"use\":\"sig\"");
    char *b = more ? tu_key_jwk(more, "new", NULL) : NULL, text[8192];

    snprintf(text, sizeof(text), "{\"keys\":[%s%s%s]}", a, b ? "," : "", b ? b : "");
    tu_write_file(i->jwks, text);
    free(a);
    free(b);
}

/* An authority that also accepts RS256 from rs.pem and ES256 from a JWKS. */
static void idp_open(fixture_t *f, idp_t *i, const char *roles_claim)
{
    wsr__idp_config_t cfg = {NULL, NULL, "https://idp.example", "wsrouter", 30, roles_claim};
    char *pem;
    wsr_error_t err;
    char notes[256];

    memset(i, 0, sizeof(*i));
    i->dir = tu_tempdir("wsr-idp");
    i->rs = tu_key_new("rsa:2048");
    i->es = tu_key_new("ec:P-256");
    i->other = tu_key_new("rsa:2048");
    snprintf(i->pem, sizeof(i->pem), "%s/rs.pem", i->dir);
    snprintf(i->jwks, sizeof(i->jwks), "%s/idp.jwks", i->dir);
    pem = tu_key_pem(i->rs, false);
    tu_write_file(i->pem, pem);
    free(pem);
    write_jwks(i, NULL);
    cfg.keys = i->pem;
    cfg.jwks = i->jwks;
    i->auth = wsr__auth_new(f->store, SECRET, 3600, &err);
    assert_non_null(i->auth);
    if (wsr__auth_set_idp(i->auth, &cfg, notes, sizeof(notes), &err) != 0)
        fail_msg("set_idp: %s", err.text);
    assert_int_equal(wsr__auth_key_count(i->auth), 2);
}

static void idp_close(idp_t *i)
{
    wsr__auth_free(i->auth);
    EVP_PKEY_free(i->rs);
    EVP_PKEY_free(i->es);
    EVP_PKEY_free(i->other);
    tu_rmtree(i->dir);
    free(i->dir);
}

/* Claims of an identity provider's token: iss, aud, sub, iat, exp (now +
 * 60), with the members of `extra` (",\"k\":v..." or NULL) replacing them. */
static char *idp_claims(const char *extra)
{
    json_t *c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", "https://idp.example", "aud",
                          "wsrouter", "sub", "u-42", "iat", (json_int_t)wsr__epoch_s(), "exp",
                          (json_int_t)wsr__epoch_s() + 60);
    char text[1024];
    char *out;

    assert_non_null(c);
    if (extra != NULL) {
        json_t *more;

        snprintf(text, sizeof(text), "{%s}", extra + 1);
        more = json_loads(text, 0, NULL);
        assert_non_null(more);
        assert_int_equal(json_object_update(c, more), 0);
        json_decref(more);
    }
    text[json_dumpb(c, text, sizeof(text) - 1, JSON_COMPACT)] = '\0';
    json_decref(c);
    out = strdup(text);
    assert_non_null(out);
    return out;
}

/* Expects `token` refused with exactly `sentence`. */
static void expect_refused(wsr__auth_t *a, const char *token, const char *sentence)
{
    wsr__session_t *s = (wsr__session_t *)1;
    char detail[256];
    int rc = verify(a, token, &s, detail);

    if (rc != WSR_EAUTH || strcmp(detail, sentence) != 0)
        fail_msg("token %.80s: rc %d \"%s\", wanted \"%s\"", token, rc, detail, sentence);
    assert_null(s);
}

static void test_auth__idp_tokens_authenticate_with_their_roles(void **state)
{
    fixture_t *f = *state;
    wsr__session_t *s;
    char detail[256], *c, *t, *own;
    idp_t i;
    json_t *p;

    idp_open(f, &i, NULL);
    c = idp_claims(",\"roles\":[\"admin\",\"ops\"]");
    t = tu_jws(i.rs, "{\"alg\":\"RS256\",\"kid\":\"rs\",\"typ\":\"JWT\"}", c);
    if (verify(i.auth, t, &s, detail) != 0)
        fail_msg("%s", detail);
    assert_string_equal(wsr__session_user(s), "u-42");
    assert_true(wsr__session_has_role(s, "admin") && wsr__session_has_role(s, "ops"));
    assert_true(wsr__session_external(s));
    p = payload_of(t);
    /* Its session ends when it stops being accepted: exp plus the leeway. */
    assert_int_equal(wsr__session_exp(s), json_integer_value(json_object_get(p, "exp")) + 30);
    json_decref(p);
    wsr__session_unref(s);
    free(t);
    free(c);
    /* ES256 from the JWKS; aud as an array; roles as a blank-separated string. */
    c = idp_claims(",\"aud\":[\"other\",\"wsrouter\"],\"roles\":\"admin  ops\"");
    t = tu_jws(i.es, "{\"alg\":\"ES256\",\"kid\":\"es\"}", c);
    if (verify(i.auth, t, &s, detail) != 0)
        fail_msg("%s", detail);
    assert_string_equal(wsr__session_roles(s), ",admin,ops,");
    wsr__session_unref(s);
    free(t);
    free(c);
    /* Our own tokens keep working beside them. */
    assert_int_equal(wsr__auth_issue(i.auth, "alice", "", &own, &s), 0);
    wsr__session_unref(s);
    assert_int_equal(verify(i.auth, own, &s, detail), 0);
    assert_false(wsr__session_external(s));
    wsr__session_unref(s);
    wsr__free(own);
    idp_close(&i);
    /* A nested roles claim, as Keycloak has it. */
    idp_open(f, &i, "realm_access.roles");
    c = idp_claims(",\"realm_access\":{\"roles\":[\"ops\"]},\"roles\":[\"admin\"]");
    t = tu_jws(i.rs, "{\"alg\":\"RS256\",\"kid\":\"rs\"}", c);
    assert_int_equal(verify(i.auth, t, &s, detail), 0);
    assert_string_equal(wsr__session_roles(s), ",ops,");
    wsr__session_unref(s);
    free(t);
    free(c);
    idp_close(&i);
}

static void test_auth__idp_refusals_say_why(void **state)
{
    fixture_t *f = *state;
    long long now = (long long)wsr__epoch_s();
    char *c = NULL, *t, *pem, extra[160];
    idp_t i;

    idp_open(f, &i, NULL);
#define REFUSED(key, header, claims_extra, sentence)                                               \
    do {                                                                                           \
        c = idp_claims(claims_extra);                                                              \
        t = tu_jws((key), (header), c);                                                            \
        expect_refused(i.auth, t, (sentence));                                                     \
        free(t);                                                                                   \
        free(c);                                                                                   \
    } while (0)
    /* Signed by another key than the one its kid names. */
    REFUSED(i.other, "{\"alg\":\"RS256\",\"kid\":\"rs\"}", NULL, "token signature does not match");
    REFUSED(i.rs, "{\"alg\":\"RS256\",\"kid\":\"nope\"}", NULL,
            "token key id (kid) names no key of this server");
    /* Without a kid there are two keys to choose from. */
    REFUSED(i.rs, "{\"alg\":\"RS256\"}", NULL,
            "token names no key id (kid), and this server has several keys");
    REFUSED(i.es, "{\"alg\":\"ES256\",\"kid\":\"rs\"}", NULL,
            "token algorithm ES256 does not match key rs, which is RS256");
    REFUSED(i.rs, "{\"alg\":\"RS256\",\"kid\":\"rs\"}", ",\"iss\":\"https://evil.example\"",
            "token issuer (iss) is not https://idp.example");
    REFUSED(i.rs, "{\"alg\":\"RS256\",\"kid\":\"rs\"}", ",\"aud\":\"another\"",
            "token audience (aud) does not include wsrouter");
    REFUSED(i.rs, "{\"alg\":\"RS256\",\"kid\":\"rs\"}", ",\"aud\":[\"a\",\"b\"]",
            "token audience (aud) does not include wsrouter");
    REFUSED(i.rs, "{\"alg\":\"RS256\",\"kid\":\"rs\"}", ",\"sub\":\"\"",
            "token has no subject (sub)");
    /* Expired beyond the leeway; not yet valid beyond it. */
    {
        static const struct {
            long long exp_delta, nbf_delta;
            const char *prefix; /* NULL: accepted */
        } times[] = {
            {-31, 0, "token expired at "},
            {-20, 0, NULL}, /* expired, but within the leeway */
            {60, 120, "token is not valid before "},
            {60, 20, NULL}, /* not yet valid, but within the leeway */
        };

        for (size_t k = 0; k < sizeof(times) / sizeof(times[0]); k++) {
            wsr__session_t *s = NULL;
            char detail[256];
            int rc;

            snprintf(extra, sizeof(extra), ",\"exp\":%lld,\"nbf\":%lld", now + times[k].exp_delta,
                     now + times[k].nbf_delta);
            c = idp_claims(extra);
            t = tu_jws(i.es, "{\"alg\":\"ES256\",\"kid\":\"es\"}", c);
            rc = verify(i.auth, t, &s, detail);
            if (times[k].prefix == NULL && rc != 0)
                fail_msg("times %zu refused: %s", k, detail);
            if (times[k].prefix != NULL &&
                (rc != WSR_EAUTH || strncmp(detail, times[k].prefix, strlen(times[k].prefix))))
                fail_msg("times %zu: rc %d \"%s\"", k, rc, detail);
            wsr__session_unref(s);
            free(t);
            free(c);
        }
    }
    /* iss and aud missing. */
    t = tu_jws(i.rs, "{\"alg\":\"RS256\",\"kid\":\"rs\"}",
               "{\"sub\":\"u\",\"aud\":\"wsrouter\",\"exp\":4102444800}");
    expect_refused(i.auth, t, "token has no issuer (iss); https://idp.example is required");
    free(t);
    t = tu_jws(i.rs, "{\"alg\":\"RS256\",\"kid\":\"rs\"}",
               "{\"sub\":\"u\",\"iss\":\"https://idp.example\",\"exp\":4102444800}");
    expect_refused(i.auth, t, "token has no audience (aud); wsrouter is required");
    free(t);
    /* Expired: exp 2023, far beyond the leeway. */
    t = tu_jws(i.rs, "{\"alg\":\"RS256\",\"kid\":\"rs\"}",
               "{\"sub\":\"u\",\"iss\":\"https://idp.example\",\"aud\":\"wsrouter\","
               "\"exp\":1700000000}");
    expect_refused(i.auth, t, "token expired at 2023-11-14T22:13:20Z");
    free(t);
    /* The classic swap: HS256 keyed with the RSA public key's PEM, with the
     * key's kid and without any. */
    pem = tu_key_pem(i.rs, false);
    c = idp_claims(NULL);
    t = tu_jws_hs256(pem, strlen(pem), "{\"alg\":\"HS256\",\"kid\":\"rs\"}", c);
    expect_refused(i.auth, t, "token algorithm HS256 does not match key rs, which is RS256");
    free(t);
    t = tu_jws_hs256(pem, strlen(pem), "{\"alg\":\"HS256\"}", c);
    expect_refused(i.auth, t, "token signature does not match");
    free(t);
    /* alg none, with a kid or without. */
    t = tu_jws_hs256("", 0, "{\"alg\":\"none\",\"kid\":\"rs\"}", c);
    *strrchr(t, '.') = '\0';
    strcat(t, ".");
    expect_refused(i.auth, t, "token algorithm none is not accepted (only HS256, RS256 and ES256)");
    free(t);
    /* A tampered payload under a good signature. */
    t = tu_jws(i.rs, "{\"alg\":\"RS256\",\"kid\":\"rs\"}", c);
    {
        char *d1 = strchr(t, '.');

        d1[2] = d1[2] == 'A' ? 'B' : 'A';
    }
    expect_refused(i.auth, t, "token signature does not match");
    free(t);
    free(c);
    free(pem);
#undef REFUSED
    idp_close(&i);
}

static void test_auth__idp_sessions_are_not_revoked_nor_refreshed(void **state)
{
    fixture_t *f = *state;
    wsr__session_t *s, *ns;
    char detail[256], *c = idp_claims(NULL), *t, *nt;
    idp_t i;

    idp_open(f, &i, NULL);
    t = tu_jws(i.es, "{\"alg\":\"ES256\",\"kid\":\"es\"}", c);
    assert_int_equal(verify(i.auth, t, &s, detail), 0);
    assert_int_equal(wsr__auth_revoke(i.auth, s), WSR_EINVAL);
    assert_int_equal(wsr__auth_reissue(i.auth, s, "", &nt, &ns), WSR_EINVAL);
    assert_null(nt);
    assert_null(ns);
    /* It ends at exp plus the leeway, and by nothing else. */
    assert_null(wsr__auth_session_ended(i.auth, s, wsr__session_exp(s) - 1));
    assert_string_equal(wsr__auth_session_ended(i.auth, s, wsr__session_exp(s)), "token expired");
    /* Two verifications of one token are the same token (logout on one
     * connection compares them). */
    assert_int_equal(verify(i.auth, t, &ns, detail), 0);
    assert_string_equal(wsr__session_jti(s), wsr__session_jti(ns));
    assert_int_equal(strncmp(wsr__session_jti(s), "idp:", 4), 0);
    wsr__session_unref(ns);
    wsr__session_unref(s);
    free(t);
    free(c);
    idp_close(&i);
}

static void test_auth__reload_swaps_the_keys_or_keeps_them(void **state)
{
    fixture_t *f = *state;
    EVP_PKEY *fresh = tu_key_new("ec:P-256");
    wsr__session_t *s;
    char detail[256], notes[512], *c = idp_claims(NULL), *t_new, *t_es;
    wsr_error_t err;
    size_t count;
    idp_t i;

    idp_open(f, &i, NULL);
    t_new = tu_jws(fresh, "{\"alg\":\"ES256\",\"kid\":\"new\"}", c);
    t_es = tu_jws(i.es, "{\"alg\":\"ES256\",\"kid\":\"es\"}", c);
    expect_refused(i.auth, t_new, "token key id (kid) names no key of this server");
    write_jwks(&i, fresh);
    assert_int_equal(wsr__auth_reload_keys(i.auth, &count, notes, sizeof(notes), &err), 0);
    assert_int_equal(count, 3);
    assert_int_equal(verify(i.auth, t_new, &s, detail), 0);
    wsr__session_unref(s);
    /* A file that does not load keeps the keys in force. */
    tu_write_file(i.jwks, "{\"keys\":[{\"kty\":\"EC\"");
    memset(&err, 0, sizeof(err));
    assert_int_equal(wsr__auth_reload_keys(i.auth, &count, notes, sizeof(notes), &err), WSR_EINVAL);
    assert_int_equal(count, 3);
    assert_int_equal(strncmp(err.text, "jwt_jwks ", 9), 0);
    assert_non_null(strstr(err.text, " is not JSON: "));
    assert_int_equal(verify(i.auth, t_new, &s, detail), 0);
    wsr__session_unref(s);
    assert_int_equal(verify(i.auth, t_es, &s, detail), 0);
    wsr__session_unref(s);
    /* A key removed from the file is gone after the next reload. */
    write_jwks(&i, NULL);
    assert_int_equal(wsr__auth_reload_keys(i.auth, &count, notes, sizeof(notes), &err), 0);
    assert_int_equal(count, 2);
    expect_refused(i.auth, t_new, "token key id (kid) names no key of this server");
    EVP_PKEY_free(fresh);
    free(t_new);
    free(t_es);
    free(c);
    idp_close(&i);
}

static void test_auth__idp_settings_are_checked(void **state)
{
    fixture_t *f = *state;
    wsr__idp_config_t cfg = {NULL, NULL, "https://idp.example", NULL, 30, NULL};
    wsr__auth_t *a = wsr__auth_new(f->store, SECRET, 60, NULL);
    wsr_error_t err;
    size_t count = 9;

    assert_non_null(a);
    memset(&err, 0, sizeof(err));
    assert_int_equal(wsr__auth_set_idp(a, &cfg, NULL, 0, &err), WSR_EINVAL);
    assert_string_equal(err.text, "jwt_issuer and jwt_audience need jwt_keys or jwt_jwks");
    /* Without keys, a reload has nothing to do. */
    assert_int_equal(wsr__auth_reload_keys(a, &count, NULL, 0, &err), 0);
    assert_int_equal(count, 0);
    cfg.issuer = NULL;
    cfg.keys = "/nonexistent/idp.pem";
    assert_int_equal(wsr__auth_set_idp(a, &cfg, NULL, 0, &err), WSR_EIO);
    assert_string_equal(err.text,
                        "jwt_keys: cannot read /nonexistent/idp.pem: No such file or directory");
    wsr__auth_free(a);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_auth__issue_then_verify),
        T(test_auth__claims_it_needs),
        T(test_auth__secret_is_configured_or_kept_in_the_store),
        T(test_auth__revoked_token_is_refused),
        T(test_auth__a_session_logging_out_is_not_ended_by_its_revocation),
        T(test_auth__a_logout_by_the_requests_token_spares_its_connection),
        T(test_auth__removed_user_tokens_end_within_seconds),
        T(test_auth__a_removal_counts_to_the_millisecond),
        T(test_auth__expired_revocations_are_forgotten),
        T(test_auth__roles_claim_is_an_array_and_old_text_is_still_read),
        T(test_auth__refresh_keeps_the_login_and_its_logout_ends_every_token),
        T(test_auth__idp_tokens_authenticate_with_their_roles),
        T(test_auth__idp_refusals_say_why),
        T(test_auth__idp_sessions_are_not_revoked_nor_refreshed),
        T(test_auth__reload_swaps_the_keys_or_keeps_them),
        T(test_auth__idp_settings_are_checked),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
