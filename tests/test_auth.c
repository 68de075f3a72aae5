/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/auth.c: the token authority on a real store in a fresh
 * temporary directory. Issuing and verifying, the secret (configured, or
 * generated once and kept), revocation of a token and of a removed user's
 * tokens (picked up from the store by the authority's thread), sessions that
 * are logging out, and the revocation set's size over time.
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

#include "services/auth_int.h"
#include "services/jwt_int.h"
#include "services/store_int.h"

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
        assert_int_equal(json_integer_value(json_array_get(json_array_get(rows, 0), 0)),
                         wsr__session_exp(issued));
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

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_auth__issue_then_verify),
        T(test_auth__claims_it_needs),
        T(test_auth__secret_is_configured_or_kept_in_the_store),
        T(test_auth__revoked_token_is_refused),
        T(test_auth__a_session_logging_out_is_not_ended_by_its_revocation),
        T(test_auth__removed_user_tokens_end_within_seconds),
        T(test_auth__expired_revocations_are_forgotten),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
