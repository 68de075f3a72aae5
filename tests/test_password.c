/* SPDX-License-Identifier: MIT */
/*
 * Tests for src/password.c: the hash/check round trip at the real iteration
 * count (few runs: each takes about 0.3 s), a known answer computed elsewhere
 * (Python's hashlib.pbkdf2_hmac, 1000 iterations, so it is cheap), and every
 * way a stored hash can be malformed, which must be refused before any
 * hashing is done.
 */
#include "testutil.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "services/password_int.h"

/* hashlib.pbkdf2_hmac('sha256', b'correct horse', b'0123456789abcdef', 1000),
 * in this program's format. */
#define KAT_SALT "MDEyMzQ1Njc4OWFiY2RlZg"
#define KAT_HASH "cBg8D2DungRB9k76szThf5ehfyBz991ay6PT8Srwk4M"
static const char kat[] = "$pbkdf2-sha256$1000$" KAT_SALT "$" KAT_HASH;

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_password__known_answer_from_another_implementation(void **state)
{
    (void)state;
    assert_int_equal(wsr__password_check("correct horse", kat), 0);
    assert_int_equal(wsr__password_check("correct horsE", kat), WSR_EAUTH);
    assert_int_equal(wsr__password_check("correct horse ", kat), WSR_EAUTH);
    assert_int_equal(wsr__password_check("", kat), WSR_EAUTH);
}

static void test_password__hash_check_round_trip_and_wrong_password(void **state)
{
    char *a = NULL, *b = NULL;
    char salt_a[64], salt_b[64];
    double t0;

    (void)state;
    assert_int_equal(wsr__password_hash("s3cret pa\xc3\x9f", WSR__PASSWORD_ITERATIONS, &a), 0);
    assert_non_null(a);
    /* "$pbkdf2-sha256$600000$" + 22 characters of salt + "$" + 43 of hash. */
    assert_int_equal(strncmp(a, "$pbkdf2-sha256$600000$", 22), 0);
    assert_int_equal(strlen(a), 22 + 22 + 1 + 43);
    assert_int_equal(a[22 + 22], '$');
    assert_null(strpbrk(a + 22, "=+/ "));
    t0 = now_s();
    assert_int_equal(wsr__password_check("s3cret pa\xc3\x9f", a), 0);
    /* The real iteration count is slow on purpose (a sanity bound only). */
    assert_true(now_s() - t0 > 0.02);
    assert_int_equal(wsr__password_check("s3cret pa\xc3\x9e", a), WSR_EAUTH);
    /* The same password again: a new salt, so another hash. */
    assert_int_equal(wsr__password_hash("s3cret pa\xc3\x9f", WSR__PASSWORD_ITERATIONS, &b), 0);
    assert_string_not_equal(a, b);
    snprintf(salt_a, sizeof(salt_a), "%.22s", a + 22);
    snprintf(salt_b, sizeof(salt_b), "%.22s", b + 22);
    assert_string_not_equal(salt_a, salt_b);
    wsr__free(a);
    wsr__free(b);
}

static void test_password__under_minimum_iterations_are_refused(void **state)
{
    char *out = (char *)1;

    (void)state;
    assert_int_equal(wsr__password_hash("password", WSR__PASSWORD_MIN_ITERATIONS - 1, &out),
                     WSR_EINVAL);
    assert_null(out);
    out = (char *)1;
    assert_int_equal(wsr__password_hash("password", 1000, &out), WSR_EINVAL);
    assert_null(out);
    out = (char *)1;
    assert_int_equal(wsr__password_hash("password", 0, &out), WSR_EINVAL);
    assert_null(out);
    out = (char *)1;
    assert_int_equal(wsr__password_hash("password", 100000001ul, &out), WSR_EINVAL);
    assert_null(out);
    /* A stored hash under the floor of 1000 iterations is not accepted either. */
    assert_int_equal(
        wsr__password_check("correct horse", "$pbkdf2-sha256$999$" KAT_SALT "$" KAT_HASH),
        WSR_EINVAL);
    assert_int_equal(
        wsr__password_check("correct horse", "$pbkdf2-sha256$1$" KAT_SALT "$" KAT_HASH),
        WSR_EINVAL);
}

/* Each is refused as WSR_EINVAL, fast: no hashing happens for them. */
static void expect_malformed(const char *stored)
{
    double t0 = now_s();
    int rc = wsr__password_check("correct horse", stored);

    if (rc != WSR_EINVAL)
        fail_msg("\"%s\": rc %d, wanted WSR_EINVAL", stored, rc);
    /* 1000 iterations take well under a millisecond; 4 billion, hours. */
    assert_true(now_s() - t0 < 0.5);
}

static void test_password__bad_prefix_is_refused(void **state)
{
    (void)state;
    expect_malformed("");
    expect_malformed("$");
    expect_malformed("pbkdf2-sha256$1000$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2-sha512$1000$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$PBKDF2-SHA256$1000$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2_sha256$1000$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$2b$12$" KAT_SALT KAT_HASH);
    expect_malformed("correct horse"); /* a password stored in clear */
}

static void test_password__bad_iterations_are_refused(void **state)
{
    (void)state;
    expect_malformed("$pbkdf2-sha256$$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2-sha256$abc$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2-sha256$1000x$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2-sha256$1e3$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2-sha256$" KAT_SALT "$" KAT_HASH);
    /* One number, one spelling: no sign, blank or leading zero. */
    expect_malformed("$pbkdf2-sha256$ 1000$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2-sha256$+1000$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2-sha256$01000$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2-sha256$-1$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2-sha256$-4294966296$" KAT_SALT "$" KAT_HASH);
    /* Past what hashing allows: would not fit PBKDF2's int, and 2^32 + 1000
     * would wrap to 1000 iterations and match the 1000-iteration hash. */
    expect_malformed("$pbkdf2-sha256$100000001$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2-sha256$4294968296$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2-sha256$18446744073709552616$" KAT_SALT "$" KAT_HASH);
    expect_malformed("$pbkdf2-sha256$99999999999999999999999$" KAT_SALT "$" KAT_HASH);
}

static void test_password__bad_salt_is_refused(void **state)
{
    (void)state;
    expect_malformed("$pbkdf2-sha256$1000$$" KAT_HASH);                       /* empty */
    expect_malformed("$pbkdf2-sha256$1000$" KAT_SALT "==$" KAT_HASH);         /* padding */
    expect_malformed("$pbkdf2-sha256$1000$MDEyMzQ1Njc4O+FiY2RlZg$" KAT_HASH); /* '+' */
    expect_malformed("$pbkdf2-sha256$1000$MDEyMzQ1Njc4OWFiY2RlZh$" KAT_HASH); /* spare bits */
    expect_malformed("$pbkdf2-sha256$1000$MDEyMzQ1Njc4OWFiY2Rl$" KAT_HASH);   /* 15 bytes */
    expect_malformed("$pbkdf2-sha256$1000$MDEy$" KAT_HASH);                   /* 3 bytes */
    expect_malformed("$pbkdf2-sha256$1000$" KAT_SALT);                        /* no hash */
}

static void test_password__bad_hash_length_is_refused(void **state)
{
    (void)state;
    expect_malformed("$pbkdf2-sha256$1000$" KAT_SALT "$");
    /* 31 bytes (42 characters) and 33 bytes (44). */
    expect_malformed("$pbkdf2-sha256$1000$" KAT_SALT "$cBg8D2DungRB9k76szThf5ehfyBz991ay6PT8Srwk4");
    expect_malformed("$pbkdf2-sha256$1000$" KAT_SALT "$" KAT_HASH "A");
    expect_malformed("$pbkdf2-sha256$1000$" KAT_SALT "$" KAT_HASH "=");
    expect_malformed("$pbkdf2-sha256$1000$" KAT_SALT "$" KAT_HASH "\n");
    expect_malformed("$pbkdf2-sha256$1000$" KAT_SALT "$" KAT_HASH "$");
    expect_malformed("$pbkdf2-sha256$1000$" KAT_SALT "$" KAT_HASH "$x");
}

static void test_password__check_allocation_failures_return_enomem(void **state)
{
    long live = tu_live_blocks(), n;

    (void)state;
    for (n = 0;; n++) {
        int rc;

        tu_fail_at(n, false);
        rc = wsr__password_check("correct horse", kat);
        tu_fail_at(-1, false);
        assert_int_equal(tu_live_blocks(), live);
        if (rc == 0)
            break;
        /* Not WSR_EINVAL: the stored hash is fine, memory is not. */
        assert_int_equal(rc, WSR_ENOMEM);
    }
    assert_true(n >= 2);
}

/* An unknown user's login checks the dummy: it must cost what a real hash
 * does (the same algorithm and iterations, checked in full, not refused as
 * malformed at once), so that no fast path tells names apart. This replaces
 * a timing comparison in js_auth, which a loaded machine made flaky. */
static void test_password__the_dummy_costs_what_a_real_hash_does(void **state)
{
    size_t prefix = strlen("$pbkdf2-sha256$" WSR__PASSWORD_ITERATIONS_TEXT "$");
    char *real = NULL;

    (void)state;
    assert_int_equal(strtoul(WSR__PASSWORD_ITERATIONS_TEXT, NULL, 10), WSR__PASSWORD_ITERATIONS);
    assert_int_equal(wsr__password_hash("not-the-password", WSR__PASSWORD_ITERATIONS, &real), 0);
    assert_memory_equal(real, wsr__password_dummy, prefix);
    assert_int_equal(strlen(real), strlen(wsr__password_dummy));
    assert_int_equal(wsr__password_check("not-the-password", wsr__password_dummy), WSR_EAUTH);
    wsr__free(real);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password__known_answer_from_another_implementation),
        cmocka_unit_test(test_password__hash_check_round_trip_and_wrong_password),
        cmocka_unit_test(test_password__under_minimum_iterations_are_refused),
        cmocka_unit_test(test_password__bad_prefix_is_refused),
        cmocka_unit_test(test_password__bad_iterations_are_refused),
        cmocka_unit_test(test_password__bad_salt_is_refused),
        cmocka_unit_test(test_password__bad_hash_length_is_refused),
        cmocka_unit_test(test_password__check_allocation_failures_return_enomem),
        cmocka_unit_test(test_password__the_dummy_costs_what_a_real_hash_does),
    };

    tu_install_allocator();
    return cmocka_run_group_tests_name("password", tests, NULL, NULL);
}
